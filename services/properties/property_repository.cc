#include "services/properties/property_repository.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <type_traits>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/db/row_fields.h"
#include "common/db/sql_array.h"
#include "common/db/versioned_rows.h"
#include "common/db/where_clause.h"
#include "common/idempotency/request_results.h"
#include "common/outbox/details_json.h"
#include "common/outbox/outbox.h"
#include "common/timestamp/timestamp.h"
#include "services/properties/property_fields.h"

namespace crm::properties {
namespace {

using json = nlohmann::json;

std::string DateColumn(absl::string_view column) {
  return absl::StrCat("coalesce(to_char(", column, ", 'YYYY-MM-DD'), '') AS ", column);
}

const std::string& Columns() {
  static const std::string* const columns = new std::string(absl::StrCat(
      "id, mls_id, address, (price * 100)::int8 AS price_cents, status, "
      "coalesce(agent_id, 0) AS agent_id, street, unit, city, state_or_province, postal_code, "
      "country, coalesce(property_type, '') AS property_type, bedrooms, bathrooms_full, "
      "bathrooms_half, bathrooms_total_integer, living_area_sqft, lot_size_sqft, year_built, "
      "description, ",
      DateColumn("list_date"),
      ", coalesce(listing_key, '') AS listing_key, "
      "coalesce(originating_system_name, '') AS originating_system_name, latitude, longitude, "
      "coalesce(mls_status, '') AS mls_status, ",
      timestamp::MicrosColumn("modification_timestamp"), ", ",
      timestamp::MicrosColumn("status_change_timestamp"), ", ",
      timestamp::MicrosColumn("price_change_timestamp"), ", ", DateColumn("on_market_date"),
      ", coalesce((close_price * 100)::int8, 0) AS close_price_cents, ", DateColumn("close_date"),
      ", version, ", timestamp::MicrosColumn("created_at"), ", ",
      timestamp::MicrosColumn("updated_at")));
  return *columns;
}

// The stored columns a listing's write sets, each with its value made from
// its parameter `{}` (WriteParams' order): '' stands for NULL where a column
// is optional, and "now" (PostgreSQL's input for the transaction's time) for
// a change timestamp the service stamps. One table for the single-row
// statements ($1..$32) and the import's (unnest of 32 text arrays).
constexpr std::pair<const char*, const char*> kWrites[] = {
    {"mls_id", "{}"},
    {"address", "{}"},
    {"price", "{}::numeric / 100"},
    {"status", "{}"},
    {"agent_id", "nullif({}::int8, 0)"},
    {"street", "{}"},
    {"unit", "{}"},
    {"city", "{}"},
    {"state_or_province", "{}"},
    {"postal_code", "{}"},
    {"country", "{}"},
    {"property_type", "nullif({}, '')"},
    {"bedrooms", "{}::int4"},
    {"bathrooms_full", "{}::int4"},
    {"bathrooms_half", "{}::int4"},
    {"bathrooms_total_integer", "{}::int4"},
    {"living_area_sqft", "{}::int4"},
    {"lot_size_sqft", "{}::int8"},
    {"year_built", "{}::int4"},
    {"description", "{}"},
    {"list_date", "nullif({}, '')::date"},
    {"listing_key", "nullif({}, '')"},
    {"originating_system_name", "nullif({}, '')"},
    {"latitude", "nullif({}, '')::float8"},
    {"longitude", "nullif({}, '')::float8"},
    {"mls_status", "nullif({}, '')"},
    {"modification_timestamp", "nullif({}, '')::timestamptz"},
    {"status_change_timestamp", "nullif({}, '')::timestamptz"},
    {"price_change_timestamp", "nullif({}, '')::timestamptz"},
    {"on_market_date", "nullif({}, '')::date"},
    {"close_price", "nullif({}::int8, 0)::numeric / 100"},
    {"close_date", "nullif({}, '')::date"},
};
constexpr int kWriteCount = sizeof(kWrites) / sizeof(kWrites[0]);

std::string WriteColumns() {
  std::vector<std::string> names;
  for (const auto& [column, value] : kWrites) {
    names.emplace_back(column);
  }
  return absl::StrJoin(names, ", ");
}

// The values, parameter i (0-based) written as `param(i)`.
template <typename Param>
std::string WriteValues(Param param) {
  std::vector<std::string> values;
  for (int i = 0; i < kWriteCount; ++i) {
    values.push_back(absl::StrReplaceAll(kWrites[i].second, {{"{}", param(i)}}));
  }
  return absl::StrJoin(values, ", ");
}

std::string SingleRowValues() {
  return WriteValues([](int i) { return absl::StrCat("$", i + 1); });
}

// v.c1 .. v.c32 of `unnest($1::text[], ..., $32::text[]) AS v(c1, ..., c32)`.
std::string UnnestValues() {
  return WriteValues([](int i) { return absl::StrCat("v.c", i + 1); });
}
std::string UnnestSource(absl::string_view extra_column = "") {
  std::vector<std::string> arrays, names;
  for (int i = 0; i < kWriteCount; ++i) {
    arrays.push_back(absl::StrCat("$", i + 1, "::text[]"));
    names.push_back(absl::StrCat("c", i + 1));
  }
  if (!extra_column.empty()) {
    arrays.push_back(absl::StrCat("$", kWriteCount + 1, "::text[]"));
    names.emplace_back(extra_column);
  }
  return absl::StrCat("unnest(", absl::StrJoin(arrays, ", "), ") AS v(", absl::StrJoin(names, ", "),
                      ")");
}

std::string TimeParam(const std::optional<absl::Time>& t) {
  return t.has_value() ? timestamp::SqlText(*t) : "";
}

std::string DoubleParam(const std::optional<double>& d) {
  // %.17g: the shortest form that reads back as the same double.
  return d.has_value() ? absl::StrFormat("%.17g", *d) : "";
}

// `stamp_status`/`stamp_price`: the write changes the status/price, so its
// change timestamp becomes the transaction's time.
std::vector<std::string> WriteParams(const PropertyRecord& l, bool stamp_status = false,
                                     bool stamp_price = false) {
  return {l.mls_id,
          OneLineAddress(l.address),
          absl::StrCat(l.price_cents),
          l.status,
          absl::StrCat(l.agent_id),
          l.address.street,
          l.address.unit,
          l.address.city,
          l.address.state_or_province,
          l.address.postal_code,
          l.address.country,
          l.property_type,
          absl::StrCat(l.bedrooms),
          absl::StrCat(l.bathrooms_full),
          absl::StrCat(l.bathrooms_half),
          absl::StrCat(l.bathrooms_total_integer),
          absl::StrCat(l.living_area_sqft),
          absl::StrCat(l.lot_size_sqft),
          absl::StrCat(l.year_built),
          l.description,
          l.list_date,
          l.listing_key,
          l.originating_system_name,
          DoubleParam(l.latitude),
          DoubleParam(l.longitude),
          l.mls_status,
          TimeParam(l.modification_timestamp),
          stamp_status ? "now" : TimeParam(l.status_change_timestamp),
          stamp_price ? "now" : TimeParam(l.price_change_timestamp),
          l.on_market_date,
          absl::StrCat(l.close_price_cents),
          l.close_date};
}

int32_t Int32(const db::RowFields& f, const char* column) {
  return static_cast<int32_t>(f.Int64(column));
}

PropertyRecord Parse(const db::RowFields& f) {
  PropertyRecord l;
  l.id = f.Int64("id");
  l.mls_id = f.Str("mls_id");
  l.price_cents = f.Int64("price_cents");
  l.status = f.Str("status");
  l.agent_id = f.Int64("agent_id");
  l.address = {.street = f.Str("street"),
               .unit = f.Str("unit"),
               .city = f.Str("city"),
               .state_or_province = f.Str("state_or_province"),
               .postal_code = f.Str("postal_code"),
               .country = f.Str("country")};
  l.property_type = f.Str("property_type");
  l.bedrooms = Int32(f, "bedrooms");
  l.bathrooms_full = Int32(f, "bathrooms_full");
  l.bathrooms_half = Int32(f, "bathrooms_half");
  l.bathrooms_total_integer = Int32(f, "bathrooms_total_integer");
  l.living_area_sqft = Int32(f, "living_area_sqft");
  l.lot_size_sqft = f.Int64("lot_size_sqft");
  l.year_built = Int32(f, "year_built");
  l.description = f.Str("description");
  l.list_date = f.Str("list_date");
  l.listing_key = f.Str("listing_key");
  l.originating_system_name = f.Str("originating_system_name");
  l.latitude = f.OptionalDouble("latitude");
  l.longitude = f.OptionalDouble("longitude");
  l.mls_status = f.Str("mls_status");
  l.modification_timestamp = timestamp::FromMicros(f.OptionalInt64("modification_timestamp"));
  l.status_change_timestamp = timestamp::FromMicros(f.OptionalInt64("status_change_timestamp"));
  l.price_change_timestamp = timestamp::FromMicros(f.OptionalInt64("price_change_timestamp"));
  l.on_market_date = f.Str("on_market_date");
  l.close_price_cents = f.Int64("close_price_cents");
  l.close_date = f.Str("close_date");
  l.version = f.Int64("version");
  l.created_at = timestamp::FromMicros(f.Int64("created_at"));
  l.updated_at = timestamp::FromMicros(f.Int64("updated_at"));
  return l;
}

std::vector<PropertyRecord> ParseAll(const pqxx::result& result) {
  return db::ParseRows(result, Parse);
}

std::optional<PropertyRecord> First(const pqxx::result& result) {
  if (result.empty()) {
    return std::nullopt;
  }
  return Parse(db::RowFields(result[0]));
}

// Every field a person or a feed sets, for the activity log's summaries and
// old/new values (times as RFC 3339 text, absent when unknown).
json Fields(const PropertyRecord& l) {
  json j = {{"mls_id", l.mls_id},
            {"address", OneLineAddress(l.address)},
            {"city", l.address.city},
            {"postal_code", l.address.postal_code},
            {"price_cents", l.price_cents},
            {"status", l.status},
            {"property_type", l.property_type},
            {"bedrooms", l.bedrooms},
            {"bathrooms_full", l.bathrooms_full},
            {"bathrooms_half", l.bathrooms_half},
            {"bathrooms_total_integer", l.bathrooms_total_integer},
            {"living_area_sqft", l.living_area_sqft},
            {"lot_size_sqft", l.lot_size_sqft},
            {"year_built", l.year_built},
            {"description", l.description},
            {"agent_id", l.agent_id},
            {"list_date", l.list_date},
            {"listing_key", l.listing_key},
            {"originating_system_name", l.originating_system_name},
            {"mls_status", l.mls_status},
            {"on_market_date", l.on_market_date},
            {"close_price_cents", l.close_price_cents},
            {"close_date", l.close_date}};
  j["latitude"] = l.latitude.has_value() ? json(*l.latitude) : json(nullptr);
  j["longitude"] = l.longitude.has_value() ? json(*l.longitude) : json(nullptr);
  j["unit"] = l.address.unit;
  j["street"] = l.address.street;
  j["state_or_province"] = l.address.state_or_province;
  j["country"] = l.address.country;
  j["modification_timestamp"] =
      l.modification_timestamp.has_value()
          ? json(absl::FormatTime(absl::RFC3339_full, *l.modification_timestamp,
                                  absl::UTCTimeZone()))
          : json(nullptr);
  return j;
}

// What notifications and the activity log show of a listing.
json Summary(const PropertyRecord& l) {
  return {{"mls_id", l.mls_id},
          {"address", OneLineAddress(l.address)},
          {"price_cents", l.price_cents},
          {"status", l.status},
          {"agent_id", l.agent_id}};
}

constexpr absl::string_view kService = "properties";
constexpr outbox::EntityActivities kActivities(kService, "property");

outbox::Activity Event(int64_t actor_id, const char* action, int64_t id, const json& details) {
  return {.actor_user_id = actor_id,
          .action = action,
          .entity_type = "property",
          .entity_id = id,
          .details_json = outbox::DetailsJson(details)};
}

// The events of a change from `before` to `after` (nothing when they hold
// the same facts): property.updated with each field's old and new value,
// and property.status_changed / price_changed when those changed.
void AppendChangeEvents(const PropertyRecord& before, const PropertyRecord& after, int64_t actor_id,
                        std::vector<outbox::Activity>& events) {
  const json old_fields = Fields(before);
  const json new_fields = Fields(after);
  json diff = json::object();
  for (const auto& [key, value] : new_fields.items()) {
    if (old_fields[key] != value) {
      diff[key] = {{"old", old_fields[key]}, {"new", value}};
    }
  }
  if (!diff.empty()) {
    events.push_back(
        Event(actor_id, "property.updated", after.id,
              {{"changes", diff}, {"mls_id", after.mls_id}, {"agent_id", after.agent_id}}));
  }
  if (after.status != before.status) {
    events.push_back(Event(actor_id, "property.status_changed", after.id,
                           {{"old", before.status},
                            {"new", after.status},
                            {"mls_id", after.mls_id},
                            {"address", OneLineAddress(after.address)},
                            {"agent_id", after.agent_id}}));
  }
  if (after.price_cents != before.price_cents) {
    events.push_back(Event(actor_id, "property.price_changed", after.id,
                           {{"old_cents", before.price_cents},
                            {"new_cents", after.price_cents},
                            {"mls_id", after.mls_id},
                            {"address", OneLineAddress(after.address)},
                            {"agent_id", after.agent_id}}));
  }
}

absl::Status NotFound() { return absl::NotFoundError("listing not found"); }

// A write refused by one of the listing's unique keys, named.
absl::Status Duplicate(const pqxx::unique_violation& e) {
  if (absl::StrContains(e.what(), "idx_properties_listing_key")) {
    return absl::AlreadyExistsError(
        "a listing with this originating_system_name and listing_key exists");
  }
  return absl::AlreadyExistsError("a listing with this mls_id exists (deleted ones included)");
}

absl::StatusOr<PropertyRecord> WriteOrDuplicate(pqxx::dbtransaction& tx, const char* statement,
                                                std::vector<std::string> params) {
  try {
    // A savepoint, so a refused write leaves the transaction usable.
    pqxx::subtransaction attempt(tx, "write");
    PropertyRecord written = Parse(db::RowFields(
        attempt.exec_prepared1(statement, pqxx::prepare::make_dynamic_params(params))));
    attempt.commit();
    return written;
  } catch (const pqxx::unique_violation& e) {
    return Duplicate(e);
  }
}

absl::Status VersionMismatch() {
  return absl::AbortedError(
      "listing was changed by someone else (version mismatch); reload and retry");
}

// Changes lock the listing, check access, then its version; replays read it.
constexpr db::VersionedRows<PropertyRecord> kListings{.get = "properties_get",
                                                      .get_for_update = "properties_get_for_update",
                                                      .parse = Parse,
                                                      .not_found = NotFound,
                                                      .stale = VersionMismatch};

}  // namespace

namespace {
std::vector<int64_t> Keys(Order order, int64_t id, int64_t price_cents, int64_t updated_micros) {
  switch (order) {
    case Order::kPriceAscending:
    case Order::kPriceDescending:
      return {price_cents, id};
    case Order::kRecentlyChanged:
      return {updated_micros, id};
    case Order::kNewest:
      break;
  }
  return {id};
}
}  // namespace

std::vector<int64_t> OrderKeys(const PropertyRecord& l, Order order) {
  return Keys(order, l.id, l.price_cents, timestamp::ToMicros(l.updated_at));
}

std::vector<int64_t> OrderKeys(const db::RowFields& row, Order order) {
  return Keys(order, row.Int64("id"), row.Int64("price_cents"), row.Int64("updated_at"));
}

std::vector<db::PreparedStatement> PropertyRepository::Statements() {
  const std::string& columns = Columns();
  return {
      {"properties_get",
       absl::StrCat("SELECT ", columns, " FROM properties WHERE id = $1 AND deleted_at IS NULL")},
      {"properties_get_by_mls_id", absl::StrCat("SELECT ", columns,
                                                " FROM properties WHERE mls_id = $1 AND "
                                                "deleted_at IS NULL")},
      {"properties_get_for_update",
       absl::StrCat("SELECT ", columns,
                    " FROM properties WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")},
      {"properties_insert", absl::StrCat("INSERT INTO properties (", WriteColumns(), ") VALUES (",
                                         SingleRowValues(), ") RETURNING ", columns)},
      {"properties_update",
       absl::StrCat("UPDATE properties SET (", WriteColumns(), ") = (", SingleRowValues(),
                    "), version = version + 1, updated_at = now() WHERE id = $33 RETURNING ",
                    columns)},
      // Imports: every match of a batch locked in id order (two imports
      // wait for each other, never deadlock on matches), deleted listings
      // included (an import restores them).
      {"properties_import_match",
       absl::StrCat("SELECT ", columns,
                    ", deleted_at IS NOT NULL AS deleted FROM properties "
                    "WHERE id IN (SELECT id FROM properties WHERE mls_id = ANY($1::text[]) "
                    "UNION SELECT p.id FROM properties p JOIN unnest($2::text[], $3::text[]) "
                    "AS k(system, key) ON p.originating_system_name = k.system AND "
                    "p.listing_key = k.key) ORDER BY id FOR UPDATE")},
      // Only the new ids: the created events take the rest from the rows
      // written, so 500 whole listings need not travel back and be parsed.
      {"properties_import_insert",
       absl::StrCat("INSERT INTO properties (", WriteColumns(), ") SELECT ", UnnestValues(),
                    " FROM ", UnnestSource(), " RETURNING id, mls_id")},
      {"properties_import_update",
       absl::StrCat("UPDATE properties SET (", WriteColumns(), ") = (", UnnestValues(),
                    "), version = version + 1, updated_at = now(), deleted_at = NULL FROM ",
                    UnnestSource("target_id"), " WHERE id = v.target_id::int8 RETURNING ",
                    columns)},
      {"properties_delete",
       absl::StrCat("UPDATE properties SET deleted_at = now(), version = version + 1, "
                    "updated_at = now() WHERE id = $1 RETURNING ",
                    timestamp::MicrosColumn("deleted_at"))},
      {"properties_deleted_at", absl::StrCat("SELECT ", timestamp::MicrosColumn("deleted_at"),
                                             " FROM properties WHERE id = $1")},
  };
}

absl::StatusOr<PropertyRecord> PropertyRepository::Create(const PropertyRecord& listing,
                                                          int64_t actor_id,
                                                          const std::string& request_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<PropertyRecord> {
    if (auto done = idempotency::Begin(tx, actor_id, "CreateProperty", request_id)) {
      return kListings.Read(tx, done->resource_id);
    }
    // A new listing's status and price are as new as the listing.
    absl::StatusOr<PropertyRecord> created =
        WriteOrDuplicate(tx, "properties_insert",
                         WriteParams(listing, !listing.status_change_timestamp.has_value(),
                                     !listing.price_change_timestamp.has_value()));
    if (!created.ok()) {
      return created.status();
    }
    if (absl::Status s =
            kActivities.Record(tx, actor_id, "property.created", created->id, Summary(*created));
        !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, actor_id, "CreateProperty", request_id, {.resource_id = created->id});
    return created;
  });
}

absl::StatusOr<PropertyRecord> PropertyRepository::Get(int64_t id) {
  return db::ReadFor(*pool_, [&](pqxx::nontransaction& tx) { return kListings.Read(tx, id); });
}

absl::StatusOr<PropertyRecord> PropertyRepository::GetByMlsId(const std::string& mls_id) {
  return db::ReadFor(*pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<PropertyRecord> {
    std::optional<PropertyRecord> listing =
        First(tx.exec_prepared("properties_get_by_mls_id", mls_id));
    if (!listing.has_value()) {
      return NotFound();
    }
    return *std::move(listing);
  });
}

void PropertyRepository::GetAsync(int64_t id, Done<db::Rows> done) {
  reader_->Read("properties_get", {absl::StrCat(id)}, std::move(done));
}

void PropertyRepository::GetByMlsIdAsync(const std::string& mls_id, Done<db::Rows> done) {
  reader_->Read("properties_get_by_mls_id", {mls_id}, std::move(done));
}

absl::StatusOr<std::vector<PropertyRecord>> PropertyRepository::List(const ListQuery& query) {
  const ListStatement list = ListSql(query);
  return db::ReadFor(
      *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<PropertyRecord>> {
        return ParseAll(tx.exec_params(list.sql, pqxx::prepare::make_dynamic_params(list.params)));
      });
}

void PropertyRepository::ListAsync(const ListQuery& query, Done<db::Rows> done) {
  ListStatement list = ListSql(query);
  // The text depends only on which filters and order the query has, so the
  // reader prepares each shape once per connection.
  reader_->ReadSql(
      std::move(list.sql),
      std::vector<std::optional<std::string>>(std::make_move_iterator(list.params.begin()),
                                              std::make_move_iterator(list.params.end())),
      std::move(done));
}

PropertyRepository::ListStatement PropertyRepository::ListSql(const ListQuery& query) const {
  db::WhereClause where;
  where.AddSql("deleted_at IS NULL");
  if (!query.statuses.empty()) {
    where.Add("status = ANY(", db::ArrayLiteral(query.statuses), "::text[])");
  }
  if (query.min_price_cents.has_value()) {
    where.Add("price >= ", absl::StrCat(*query.min_price_cents), "::numeric / 100");
  }
  if (query.max_price_cents.has_value()) {
    where.Add("price <= ", absl::StrCat(*query.max_price_cents), "::numeric / 100");
  }
  if (query.agent_id != 0) {
    where.Add("agent_id = ", absl::StrCat(query.agent_id), "::int8");
  }
  if (!query.city.empty()) {
    where.Add("lower(city) = lower(", query.city, "::text)");
  }
  if (!query.postal_code.empty()) {
    where.Add("postal_code = ", query.postal_code, "::text");
  }
  if (!query.property_type.empty()) {
    where.Add("property_type = ", query.property_type, "::text");
  }
  if (query.min_bedrooms > 0) {
    where.Add("bedrooms >= ", absl::StrCat(query.min_bedrooms), "::int4");
  }
  if (query.box.has_value()) {
    // The GiST index on point(longitude, latitude) covers listings with
    // coordinates only.
    where.AddSql("latitude IS NOT NULL");
    where.Add({"point(longitude, latitude) <@ box(point(", "::float8, ", "::float8), point(",
               "::float8, ", "::float8))"},
              {DoubleParam(query.box->min_longitude), DoubleParam(query.box->min_latitude),
               DoubleParam(query.box->max_longitude), DoubleParam(query.box->max_latitude)});
  }
  // Ordered by the table's columns, which the indexes hold (the select
  // list's `updated_at` is microseconds, which no index has, so the table's
  // is named); over a free-text query's matches, by the select list's.
  std::string order, matches_order;
  const std::vector<int64_t>* after = query.after.has_value() ? &*query.after : nullptr;
  switch (query.order) {
    case Order::kNewest:
      order = matches_order = "id DESC";
      if (after != nullptr) {
        where.Add("id < ", absl::StrCat(after->back()), "::int8");
      }
      break;
    case Order::kPriceAscending:
    case Order::kPriceDescending: {
      const bool ascending = query.order == Order::kPriceAscending;
      order = ascending ? "price ASC, id ASC" : "price DESC, id DESC";
      matches_order = ascending ? "price_cents ASC, id ASC" : "price_cents DESC, id DESC";
      if (after != nullptr) {
        where.Add(
            {ascending ? "(price, id) > (" : "(price, id) < (", "::numeric / 100, ", "::int8)"},
            {absl::StrCat(after->front()), absl::StrCat(after->back())});
      }
      break;
    }
    case Order::kRecentlyChanged:
      order = "properties.updated_at DESC, id DESC";
      matches_order = "updated_at DESC, id DESC";
      if (after != nullptr) {
        where.Add({"(updated_at, id) < (", "::timestamptz, ", "::int8)"},
                  {timestamp::SqlText(timestamp::FromMicros(after->front())),
                   absl::StrCat(after->back())});
      }
      break;
  }
  std::vector<std::string> params = where.params();
  // A listing's words are computed from its row where a few rows are looked
  // at (the walk below), and read from `property_words` (its GIN index,
  // kept by the table's triggers) where every match is wanted.
  std::string words, indexed_words;
  if (!query.text.empty()) {
    params.push_back(query.text);
    const std::string text_query = absl::StrCat("to_tsquery('simple', $", params.size(), "::text)");
    words = absl::StrCat("to_tsvector('simple', search_text) @@ ", text_query);
    indexed_words = absl::StrCat("id IN (SELECT property_id FROM property_words WHERE words @@ ",
                                 text_query, ")");
  }
  // The limit is a parameter too: one text per shape, whatever the page size.
  params.push_back(absl::StrCat(std::max(1, query.limit)));
  const std::string limit = absl::StrCat("$", params.size(), "::int4");
  if (query.text.empty()) {
    return {absl::StrCat("SELECT ", Columns(), " FROM properties", where.sql(), " ORDER BY ", order,
                         " LIMIT ", limit),
            std::move(params)};
  }
  // Every match through the words' index, then the page of them: the
  // planner cannot tell how rare a prefix is, and only this has a bounded
  // worst case (walking the order's index for a rare word, one MLS id, read
  // all 100k listings: 1.3 s). It costs what the matches cost, though: a
  // word in most listings ("home") ~90 ms at 100k.
  const std::string matches =
      absl::StrCat("SELECT ", Columns(), " FROM properties", where.sql(), " AND ", indexed_words);
  // A word with a digit (an MLS id, a house number, a ZIP code) is rare by
  // nature: straight to the index, which finds it in well under a
  // millisecond, not after a walk that would find nothing.
  if (free_text_walk_ <= 0 || absl::c_any_of(query.text, absl::ascii_isdigit)) {
    return {absl::StrCat("WITH matches AS MATERIALIZED (", matches,
                         ") SELECT * FROM matches ORDER BY ", matches_order, " LIMIT ", limit),
            std::move(params)};
  }
  // So first the next `free_text_walk_` listings in the page's order (the
  // same index scan as without words; each costs its to_tsvector, ~12 µs)
  // are looked through: when a page's worth of them match, those are the
  // page — the first matches in order. Only when they do not (a rarer
  // word) is the index asked, and the walk's rows dropped; each branch runs
  // only if its one-time condition holds.
  return {absl::StrCat("WITH walk AS MATERIALIZED (SELECT ", Columns(),
                       " FROM (SELECT * FROM properties", where.sql(), " ORDER BY ", order,
                       " LIMIT ", free_text_walk_, ") properties WHERE ", words, " ORDER BY ",
                       order, " LIMIT ", limit, "), matches AS MATERIALIZED (", matches,
                       ") SELECT * FROM walk WHERE (SELECT count(*) FROM walk) >= ", limit,
                       " UNION ALL SELECT * FROM matches WHERE (SELECT count(*) FROM walk) < ",
                       limit, " ORDER BY ", matches_order, " LIMIT ", limit),
          std::move(params)};
}

absl::StatusOr<PropertyRecord> PropertyRepository::Update(int64_t id, int64_t expected_version,
                                                          int64_t actor_id,
                                                          const std::string& request_id,
                                                          Allow allow, Change change) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<PropertyRecord> {
    if (auto done = idempotency::Begin(tx, actor_id, "UpdateProperty", request_id)) {
      return kListings.Read(tx, done->resource_id);
    }
    absl::StatusOr<PropertyRecord> current = kListings.Lock(tx, id, expected_version, allow);
    if (!current.ok()) {
      return current.status();
    }
    PropertyRecord next = *current;
    if (absl::Status s = change(next); !s.ok()) {
      return s;
    }
    if (SameListing(*current, next)) {
      idempotency::Remember(tx, actor_id, "UpdateProperty", request_id, {.resource_id = id});
      return *current;  // nothing to change: nothing written, no activity
    }
    const bool status_changed = next.status != current->status;
    const bool price_changed = next.price_cents != current->price_cents;
    std::vector<std::string> params = WriteParams(next, status_changed, price_changed);
    params.push_back(absl::StrCat(id));
    absl::StatusOr<PropertyRecord> updated =
        WriteOrDuplicate(tx, "properties_update", std::move(params));
    if (!updated.ok()) {
      return updated.status();
    }
    std::vector<outbox::Activity> events;
    AppendChangeEvents(*current, *updated, actor_id, events);
    if (absl::Status s = outbox::RecordAll(tx, kService, events); !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, actor_id, "UpdateProperty", request_id, {.resource_id = id});
    return updated;
  });
}

namespace {

std::string KeyOf(const PropertyRecord& l) {
  return l.listing_key.empty() ? ""
                               : absl::StrCat(l.originating_system_name, "\x1f", l.listing_key);
}

// Rows' parameters as the import statements take them: one text array per
// written column (and the target ids, for updates).
std::vector<std::string> ArrayParams(const std::vector<std::vector<std::string>>& rows,
                                     const std::vector<int64_t>* target_ids = nullptr) {
  std::vector<std::string> params;
  for (int column = 0; column < kWriteCount; ++column) {
    std::vector<std::string> values;
    values.reserve(rows.size());
    for (const std::vector<std::string>& row : rows) {
      values.push_back(row[column]);
    }
    params.push_back(db::ArrayLiteral(values));
  }
  if (target_ids != nullptr) {
    std::vector<std::string> ids;
    for (int64_t id : *target_ids) {
      ids.push_back(absl::StrCat(id));
    }
    params.push_back(db::ArrayLiteral(ids));
  }
  return params;
}

}  // namespace

absl::StatusOr<ImportOutcome> PropertyRepository::Import(const std::vector<ImportRow>& rows,
                                                         int64_t actor_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<ImportOutcome> {
    ImportOutcome outcome;
    std::vector<std::string> mls_ids, systems, keys;
    for (const ImportRow& row : rows) {
      mls_ids.push_back(row.listing.mls_id);
      if (!row.listing.listing_key.empty()) {
        systems.push_back(row.listing.originating_system_name);
        keys.push_back(row.listing.listing_key);
      }
    }
    struct Stored {
      PropertyRecord listing;
      bool deleted = false;
    };
    absl::flat_hash_map<int64_t, Stored> stored;
    absl::flat_hash_map<std::string, int64_t> by_key, by_mls;
    const pqxx::result matches =
        tx.exec_prepared("properties_import_match", db::ArrayLiteral(mls_ids),
                         db::ArrayLiteral(systems), db::ArrayLiteral(keys));
    const db::ResultColumns columns(matches);
    for (const pqxx::row& row : matches) {
      const db::RowFields f(row, &columns);
      Stored s{.listing = Parse(f), .deleted = f.Bool("deleted")};
      if (!s.listing.listing_key.empty()) {
        by_key[KeyOf(s.listing)] = s.listing.id;
      }
      by_mls[s.listing.mls_id] = s.listing.id;
      stored.emplace(s.listing.id, std::move(s));
    }
    absl::flat_hash_set<int64_t> touched;
    absl::flat_hash_set<std::string> new_keys;
    // The rows to create, by mls_id: each once a call, and what their
    // created events say.
    absl::flat_hash_map<std::string, const PropertyRecord*> inserted;
    std::vector<std::vector<std::string>> insert_params, update_params;
    std::vector<int64_t> update_ids;
    std::vector<const PropertyRecord*> before;  // per update, the stored listing
    absl::flat_hash_set<int64_t> restored;
    for (const ImportRow& row : rows) {
      const PropertyRecord& in = row.listing;
      const std::string key = KeyOf(in);
      std::optional<int64_t> target;
      if (auto it = by_key.find(key); !key.empty() && it != by_key.end()) {
        target = it->second;
        if (auto mls = by_mls.find(in.mls_id); mls != by_mls.end() && mls->second != *target) {
          outcome.failed.push_back({.index = row.index,
                                    .mls_id = in.mls_id,
                                    .field = "mls_id",
                                    .message = "belongs to another listing than its listing_key"});
          ++outcome.consumed;
          continue;
        }
      } else if (auto mls = by_mls.find(in.mls_id); mls != by_mls.end()) {
        const PropertyRecord& match = stored.at(mls->second).listing;
        if (!key.empty() && !match.listing_key.empty() && KeyOf(match) != key) {
          outcome.failed.push_back(
              {.index = row.index,
               .mls_id = in.mls_id,
               .field = "mls_id",
               .message = "belongs to a listing with another originating_system_name and "
                          "listing_key"});
          ++outcome.consumed;
          continue;
        }
        target = mls->second;
      }
      if (target.has_value()
              ? touched.contains(*target)
              : inserted.contains(in.mls_id) || (!key.empty() && new_keys.contains(key))) {
        break;  // the next call sees this row's listing as it is after the earlier row
      }
      ++outcome.consumed;
      if (!target.has_value()) {
        if (!key.empty()) {
          new_keys.insert(key);
        }
        insert_params.push_back(WriteParams(in, !in.status_change_timestamp.has_value(),
                                            !in.price_change_timestamp.has_value()));
        inserted.emplace(in.mls_id, &in);
        continue;
      }
      touched.insert(*target);
      const Stored& current = stored.at(*target);
      PropertyRecord next = in;
      next.id = *target;
      if (next.agent_id == 0) {
        next.agent_id = current.listing.agent_id;
      }
      const bool status_changed = next.status != current.listing.status;
      const bool price_changed = next.price_cents != current.listing.price_cents;
      if (!next.status_change_timestamp.has_value() && !status_changed) {
        next.status_change_timestamp = current.listing.status_change_timestamp;
      }
      if (!next.price_change_timestamp.has_value() && !price_changed) {
        next.price_change_timestamp = current.listing.price_change_timestamp;
      }
      if (!current.deleted && SameListing(current.listing, next)) {
        ++outcome.unchanged;
        continue;
      }
      update_params.push_back(WriteParams(next, status_changed && !in.status_change_timestamp,
                                          price_changed && !in.price_change_timestamp));
      update_ids.push_back(*target);
      before.push_back(&current.listing);
      if (current.deleted) {
        restored.insert(*target);
      }
    }
    std::vector<outbox::Activity> events;
    if (!insert_params.empty()) {
      const pqxx::result created =
          tx.exec_prepared("properties_import_insert",
                           pqxx::prepare::make_dynamic_params(ArrayParams(insert_params)));
      for (const pqxx::row& row : created) {
        // Every created row's mls_id is one of `inserted`'s.
        events.push_back(Event(actor_id, "property.created", row[0].as<int64_t>(),
                               Summary(*inserted.at(row[1].as<std::string>()))));
      }
      outcome.created = static_cast<int64_t>(created.size());
    }
    if (!update_params.empty()) {
      const pqxx::result changed = tx.exec_prepared(
          "properties_import_update",
          pqxx::prepare::make_dynamic_params(ArrayParams(update_params, &update_ids)));
      absl::flat_hash_map<int64_t, const PropertyRecord*> before_by_id;
      for (size_t i = 0; i < update_ids.size(); ++i) {
        before_by_id[update_ids[i]] = before[i];
      }
      for (const PropertyRecord& listing : ParseAll(changed)) {
        if (restored.contains(listing.id)) {
          events.push_back(Event(actor_id, "property.restored", listing.id, Summary(listing)));
        }
        AppendChangeEvents(*before_by_id.at(listing.id), listing, actor_id, events);
      }
      outcome.updated = static_cast<int64_t>(changed.size());
    }
    if (absl::Status s = outbox::RecordAll(tx, kService, events); !s.ok()) {
      return s;
    }
    return outcome;
  });
}

absl::StatusOr<std::optional<std::string>> PropertyRepository::ImportAnswer(
    int64_t actor_id, const std::string& request_id) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<std::optional<std::string>> {
    std::optional<idempotency::Result> done =
        idempotency::Begin(tx, actor_id, "ImportProperties", request_id);
    std::string answer;
    if (!done.has_value() || !absl::Base64Unescape(done->outcome, &answer)) {
      return std::nullopt;
    }
    return answer;
  });
}

absl::Status PropertyRepository::FinishImport(int64_t actor_id, const std::string& request_id,
                                              const std::string& details_json,
                                              const std::string& answer) {
  return pool_->Transact([&](pqxx::work& tx) {
    if (idempotency::Begin(tx, actor_id, "ImportProperties", request_id).has_value()) {
      return absl::OkStatus();  // a concurrent retry finished first: one summary
    }
    if (absl::Status s = outbox::Record(tx, kService,
                                        {.actor_user_id = actor_id,
                                         .action = "property.imported",
                                         .entity_type = "property",
                                         .entity_id = 0,
                                         .details_json = details_json});
        !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, actor_id, "ImportProperties", request_id,
                          {.resource_id = 0, .outcome = absl::Base64Escape(answer)});
    return absl::OkStatus();
  });
}

absl::StatusOr<absl::Time> PropertyRepository::Delete(int64_t id, int64_t expected_version,
                                                      int64_t actor_id,
                                                      const std::string& request_id, Allow allow) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<absl::Time> {
    if (auto done = idempotency::Begin(tx, actor_id, "DeleteProperty", request_id)) {
      pqxx::result row = tx.exec_prepared("properties_deleted_at", done->resource_id);
      if (row.empty() || row[0]["deleted_at"].is_null()) {
        return NotFound();
      }
      return timestamp::FromMicros(row[0]["deleted_at"].as<int64_t>());
    }
    absl::StatusOr<PropertyRecord> current = kListings.Lock(tx, id, expected_version, allow);
    if (!current.ok()) {
      return current.status();
    }
    const absl::Time deleted_at = timestamp::FromMicros(
        tx.exec_prepared1("properties_delete", id)["deleted_at"].as<int64_t>());
    if (absl::Status s =
            kActivities.Record(tx, actor_id, "property.deleted", id, Summary(*current));
        !s.ok()) {
      return s;
    }
    idempotency::Remember(tx, actor_id, "DeleteProperty", request_id, {.resource_id = id});
    return deleted_at;
  });
}

}  // namespace crm::properties
