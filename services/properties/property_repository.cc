#include "services/properties/property_repository.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/db/row_fields.h"
#include "common/db/sql_array.h"
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

// The stored columns a listing's write sets, and the value of each from the
// parameters WriteParams makes ($1..$32): '' stands for NULL where a column
// is optional, and "now" (PostgreSQL's input for the transaction's time) for
// a change timestamp the service stamps.
constexpr const char* kWriteColumns =
    "mls_id, address, price, status, agent_id, street, unit, city, state_or_province, "
    "postal_code, country, property_type, bedrooms, bathrooms_full, bathrooms_half, "
    "bathrooms_total_integer, living_area_sqft, lot_size_sqft, year_built, description, "
    "list_date, listing_key, originating_system_name, latitude, longitude, mls_status, "
    "modification_timestamp, status_change_timestamp, price_change_timestamp, on_market_date, "
    "close_price, close_date";
constexpr const char* kWriteValues =
    "$1, $2, $3::numeric / 100, $4, nullif($5::int8, 0), $6, $7, $8, $9, $10, $11, "
    "nullif($12, ''), $13::int4, $14::int4, $15::int4, $16::int4, $17::int4, $18::int8, "
    "$19::int4, $20, nullif($21, '')::date, nullif($22, ''), nullif($23, ''), "
    "nullif($24, '')::float8, nullif($25, '')::float8, nullif($26, ''), "
    "nullif($27, '')::timestamptz, nullif($28, '')::timestamptz, nullif($29, '')::timestamptz, "
    "nullif($30, '')::date, nullif($31::int8, 0)::numeric / 100, nullif($32, '')::date";

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

std::optional<double> OptionalDouble(const db::RowFields& f, const char* column) {
  double value = 0;
  if (f.IsNull(column) || !absl::SimpleAtod(f.Text(column), &value)) {
    return std::nullopt;
  }
  return value;
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
  l.latitude = OptionalDouble(f, "latitude");
  l.longitude = OptionalDouble(f, "longitude");
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
  const db::ResultColumns columns(result);
  std::vector<PropertyRecord> listings;
  listings.reserve(result.size());
  for (const pqxx::row& row : result) {
    listings.push_back(Parse(db::RowFields(row, &columns)));
  }
  return listings;
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

constexpr outbox::EntityActivities kActivities("properties", "property");

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

absl::StatusOr<PropertyRecord> LockForChange(pqxx::transaction_base& tx, int64_t id,
                                             int64_t expected_version, Allow allow) {
  std::optional<PropertyRecord> listing = First(tx.exec_prepared("properties_get_for_update", id));
  if (!listing.has_value()) {
    return NotFound();
  }
  // Access first: a caller who may not change the listing learns nothing of
  // its version either.
  if (absl::Status allowed = allow(*listing); !allowed.ok()) {
    return allowed;
  }
  if (expected_version != 0 && expected_version != listing->version) {
    return absl::AbortedError(
        "listing was changed by someone else (version mismatch); reload and retry");
  }
  return *std::move(listing);
}

absl::StatusOr<PropertyRecord> Replay(pqxx::transaction_base& tx, int64_t id) {
  std::optional<PropertyRecord> listing = First(tx.exec_prepared("properties_get", id));
  if (!listing.has_value()) {
    return NotFound();
  }
  return *std::move(listing);
}

}  // namespace

std::vector<int64_t> OrderKeys(const PropertyRecord& l, Order order) {
  switch (order) {
    case Order::kPriceAscending:
    case Order::kPriceDescending:
      return {l.price_cents, l.id};
    case Order::kRecentlyChanged:
      return {timestamp::ToMicros(l.updated_at), l.id};
    case Order::kNewest:
      break;
  }
  return {l.id};
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
      {"properties_insert", absl::StrCat("INSERT INTO properties (", kWriteColumns, ") VALUES (",
                                         kWriteValues, ") RETURNING ", columns)},
      {"properties_update",
       absl::StrCat("UPDATE properties SET (", kWriteColumns, ") = (", kWriteValues,
                    "), version = version + 1, updated_at = now() WHERE id = $33 RETURNING ",
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
      return Replay(tx, done->resource_id);
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
  return db::ReadFor(*pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<PropertyRecord> {
    std::optional<PropertyRecord> listing = First(tx.exec_prepared("properties_get", id));
    if (!listing.has_value()) {
      return NotFound();
    }
    return *std::move(listing);
  });
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

absl::StatusOr<std::vector<PropertyRecord>> PropertyRepository::List(const ListQuery& query) {
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
  if (!query.text.empty()) {
    where.Add("search_text LIKE ", db::ContainsPattern(query.text), "::text");
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
  std::string order;
  const std::vector<int64_t>* after = query.after.has_value() ? &*query.after : nullptr;
  switch (query.order) {
    case Order::kNewest:
      order = "id DESC";
      if (after != nullptr) {
        where.Add("id < ", absl::StrCat(after->back()), "::int8");
      }
      break;
    case Order::kPriceAscending:
    case Order::kPriceDescending: {
      const bool ascending = query.order == Order::kPriceAscending;
      order = ascending ? "price ASC, id ASC" : "price DESC, id DESC";
      if (after != nullptr) {
        where.Add(
            {ascending ? "(price, id) > (" : "(price, id) < (", "::numeric / 100, ", "::int8)"},
            {absl::StrCat(after->front()), absl::StrCat(after->back())});
      }
      break;
    }
    case Order::kRecentlyChanged:
      order = "updated_at DESC, id DESC";
      if (after != nullptr) {
        where.Add({"(updated_at, id) < (", "::timestamptz, ", "::int8)"},
                  {timestamp::SqlText(timestamp::FromMicros(after->front())),
                   absl::StrCat(after->back())});
      }
      break;
  }
  const std::string sql = absl::StrCat("SELECT ", Columns(), " FROM properties", where.sql(),
                                       " ORDER BY ", order, " LIMIT ", std::max(1, query.limit));
  return db::ReadFor(
      *pool_, [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<PropertyRecord>> {
        return ParseAll(tx.exec_params(sql, pqxx::prepare::make_dynamic_params(where.params())));
      });
}

absl::StatusOr<PropertyRecord> PropertyRepository::Update(int64_t id, int64_t expected_version,
                                                          int64_t actor_id,
                                                          const std::string& request_id,
                                                          Allow allow, Change change) {
  return db::TransactFor(*pool_, [&](pqxx::work& tx) -> absl::StatusOr<PropertyRecord> {
    if (auto done = idempotency::Begin(tx, actor_id, "UpdateProperty", request_id)) {
      return Replay(tx, done->resource_id);
    }
    absl::StatusOr<PropertyRecord> current = LockForChange(tx, id, expected_version, allow);
    if (!current.ok()) {
      return current.status();
    }
    PropertyRecord next = *current;
    if (absl::Status s = change(next); !s.ok()) {
      return s;
    }
    const json before = Fields(*current);
    const json after = Fields(next);
    json diff = json::object();
    for (const auto& [key, value] : after.items()) {
      if (before[key] != value) {
        diff[key] = {{"old", before[key]}, {"new", value}};
      }
    }
    if (diff.empty()) {
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
    if (absl::Status s = kActivities.Record(
            tx, actor_id, "property.updated", id,
            {{"changes", diff}, {"mls_id", updated->mls_id}, {"agent_id", updated->agent_id}});
        !s.ok()) {
      return s;
    }
    if (status_changed) {
      if (absl::Status s = kActivities.Record(tx, actor_id, "property.status_changed", id,
                                              {{"old", current->status},
                                               {"new", updated->status},
                                               {"mls_id", updated->mls_id},
                                               {"address", OneLineAddress(updated->address)},
                                               {"agent_id", updated->agent_id}});
          !s.ok()) {
        return s;
      }
    }
    if (price_changed) {
      if (absl::Status s = kActivities.Record(tx, actor_id, "property.price_changed", id,
                                              {{"old_cents", current->price_cents},
                                               {"new_cents", updated->price_cents},
                                               {"mls_id", updated->mls_id},
                                               {"address", OneLineAddress(updated->address)},
                                               {"agent_id", updated->agent_id}});
          !s.ok()) {
        return s;
      }
    }
    idempotency::Remember(tx, actor_id, "UpdateProperty", request_id, {.resource_id = id});
    return updated;
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
    absl::StatusOr<PropertyRecord> current = LockForChange(tx, id, expected_version, allow);
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
