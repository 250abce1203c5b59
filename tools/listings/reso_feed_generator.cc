#include "tools/listings/reso_feed_generator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace crm::listings {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------
// Randomness. Our own generator rather than <random> or absl::random, whose
// distributions may change between library versions: the same seed must give
// the same feed on every machine, forever.

// splitmix64's finalizer: a bijection on 64 bits, so distinct inputs give
// distinct outputs (ListingKey relies on it).
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t state) : state_(state) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix(state_);
  }
  // lo..hi, both included.
  int64_t Uniform(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>((static_cast<unsigned __int128>(Next()) * span) >> 64);
  }
  // [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Percent(int p) { return Uniform(0, 99) < p; }

  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Uniform(0, N - 1)];
  }
  // Items carry a `weight`.
  template <typename T, size_t N>
  const T& Weighted(const T (&items)[N]) {
    int total = 0;
    for (const T& item : items) {
      total += item.weight;
    }
    int64_t roll = Uniform(0, total - 1);
    for (const T& item : items) {
      if (roll < item.weight) {
        return item;
      }
      roll -= item.weight;
    }
    return items[N - 1];
  }

 private:
  uint64_t state_;
};

constexpr uint64_t kSeedSalt = 0x5245534f46454544ULL;      // "RESOFEED"
constexpr uint64_t kKeySalt = 0x4c495354494e474bULL;       // "LISTINGK"
constexpr uint64_t kBadSalt = 0x42524f4b454e5245ULL;       // "BROKENRE"
constexpr uint64_t kRevisionSalt = 0x5245564953494f4eULL;  // "REVISION"

uint64_t SeedBase(uint64_t seed) { return Mix(seed ^ kSeedSalt); }

// ---------------------------------------------------------------------------
// The market.

struct City {
  const char* name;
  const char* state;
  int zip_lo;
  int zip_hi;
  int latitude_micro;  // the centre, in millionths of a degree
  int longitude_micro;
  int dollars_per_sqft;  // a typical house's
};

constexpr City kCities[] = {
    {"Springfield", "IL", 62701, 62712, 39781721, -89650148, 115},
    {"Austin", "TX", 78701, 78759, 30267153, -97743061, 300},
    {"Denver", "CO", 80202, 80239, 39739236, -104990251, 330},
    {"Portland", "OR", 97201, 97236, 45515232, -122678385, 320},
    {"Columbus", "OH", 43201, 43235, 39961176, -82998794, 190},
    {"Raleigh", "NC", 27601, 27617, 35779590, -78638179, 240},
    {"Nashville", "TN", 37201, 37221, 36162664, -86781602, 290},
    {"Phoenix", "AZ", 85003, 85054, 33448377, -112074037, 280},
    {"Sacramento", "CA", 95811, 95838, 38581572, -121494400, 310},
    {"Boise", "ID", 83702, 83716, 43615019, -116202314, 290},
    {"Madison", "WI", 53703, 53719, 43073052, -89401230, 230},
    {"Tampa", "FL", 33602, 33629, 27950575, -82457178, 270},
    {"Charlotte", "NC", 28202, 28277, 35227087, -80843127, 230},
    {"Minneapolis", "MN", 55401, 55419, 44977753, -93265011, 220},
    {"Kansas City", "MO", 64105, 64158, 39099727, -94578567, 170},
    {"Salt Lake City", "UT", 84101, 84124, 40760779, -111891047, 330},
    {"Richmond", "VA", 23219, 23236, 37540725, -77436048, 230},
    {"Albuquerque", "NM", 87102, 87123, 35084386, -106650422, 210},
    {"Pittsburgh", "PA", 15201, 15235, 40440625, -79995886, 150},
    {"Seattle", "WA", 98101, 98199, 47606209, -122332071, 550},
    {"Atlanta", "GA", 30303, 30350, 33748995, -84387982, 250},
    {"Boston", "MA", 2108, 2136, 42360082, -71058880, 700},
};

constexpr const char* kStreetNames[] = {
    "Maple",  "Oak",       "Cedar",    "Pine",      "Elm",      "Washington", "Lake",
    "Hill",   "Park",      "Main",     "Sunset",    "Ridge",    "Willow",     "Highland",
    "Meadow", "Jefferson", "Lincoln",  "Franklin",  "Chestnut", "Walnut",     "Spruce",
    "Birch",  "Aspen",     "Magnolia", "Dogwood",   "River",    "Forest",     "Prairie",
    "Valley", "Canyon",    "Juniper",  "Hawthorne", "Sycamore", "Mill",       "Church",
};
constexpr const char* kStreetSuffixes[] = {"St",  "Ave",  "Dr", "Ln",  "Rd",  "Ct",
                                           "Way", "Blvd", "Pl", "Cir", "Ter", "Trl"};
constexpr const char* kDirections[] = {"N", "S", "E", "W"};

enum class Stage {
  kActive,
  kUnderContract,
  kComingSoon,
  kPending,
  kClosed,
  kCanceled,
  kExpired,
  kWithdrawn,
  kHold,
};

struct Status {
  Stage stage;
  const char* standard;  // RESO StandardStatus display value
  const char* mls;       // the MLS's own code (MlsStatus)
  int weight;
};

constexpr Status kStatuses[] = {
    {Stage::kActive, "Active", "A", 600},
    {Stage::kUnderContract, "Active Under Contract", "U", 60},
    {Stage::kComingSoon, "Coming Soon", "CS", 40},
    {Stage::kPending, "Pending", "P", 90},
    {Stage::kClosed, "Closed", "S", 120},
    {Stage::kCanceled, "Canceled", "X", 20},
    {Stage::kExpired, "Expired", "E", 30},
    {Stage::kWithdrawn, "Withdrawn", "W", 25},
    {Stage::kHold, "Hold", "H", 15},
};

// What real feeds send that the Data Dictionary has no StandardStatus for.
constexpr const char* kNonStandardStatuses[] = {"Sold", "Active Kick Out", "Contingent",
                                                "Temporarily Off Market"};

enum class Kind { kResidential, kLease, kLand, kIncome, kCommercial, kFarm, kManufactured };

struct Type {
  Kind kind;
  const char* reso;
  int weight;
};

constexpr Type kTypes[] = {
    {Kind::kResidential, "Residential", 780},
    {Kind::kLease, "Residential Lease", 90},
    {Kind::kLand, "Land", 50},
    {Kind::kIncome, "Residential Income", 40},
    {Kind::kCommercial, "Commercial Sale", 25},
    {Kind::kFarm, "Farm", 8},
    {Kind::kManufactured, "Manufactured In Park", 7},
};

enum class Home { kHouse, kCondo, kTownhouse };

struct HomeStyle {
  Home home;
  const char* subtype;  // RESO PropertySubType
  const char* noun;     // in the remarks
  int weight;
};

constexpr HomeStyle kHomeStyles[] = {
    {Home::kHouse, "Single Family Residence", "home", 70},
    {Home::kCondo, "Condominium", "condo", 18},
    {Home::kTownhouse, "Townhouse", "townhome", 12},
};

struct Share {
  int value;
  int weight;
};
constexpr Share kHouseBedrooms[] = {{2, 10}, {3, 40}, {4, 35}, {5, 12}, {6, 3}};
constexpr Share kCondoBedrooms[] = {{0, 5}, {1, 30}, {2, 45}, {3, 20}};

constexpr const char* kAppliances[] = {"Dishwasher", "Disposal",     "Dryer", "Microwave",
                                       "Range",      "Refrigerator", "Washer"};

constexpr const char* kAdjectives[] = {"charming",     "spacious",  "beautifully updated",
                                       "sun-drenched", "well-kept", "stylish",
                                       "classic",      "modern"};
constexpr const char* kFeatures[] = {
    "an updated kitchen with quartz counters",
    "hardwood floors throughout",
    "a fenced backyard",
    "a two-car garage",
    "vaulted ceilings",
    "a finished basement",
    "a new roof and windows",
    "a spacious primary suite",
    "a covered patio",
    "stainless steel appliances",
    "a gas fireplace",
    "walk-in closets",
};
constexpr const char* kClosers[] = {
    "Close to schools, parks and shopping.",
    "Steps from the neighborhood caf\xc3\xa9.",  // UTF-8, as real remarks have
    "Schedule your private showing today!",
    "Seller is offering a one-year home warranty.",
    "Don't miss this one!",
    "Priced to sell; bring your \"best and final\" offer.",
};
constexpr const char* kTerrains[] = {"level", "wooded", "gently rolling", "corner", "cleared"};
constexpr const char* kCommercialSubtypes[] = {"Retail", "Office", "Industrial", "Mixed Use"};
constexpr const char* kIncomeSubtypes[] = {"Duplex", "Triplex", "Quadruplex"};

// ---------------------------------------------------------------------------
// Dates, without the clock: days since 1970-01-01 (Howard Hinnant's
// algorithms), counted back from a fixed "as of" day.

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

const int64_t kAsOfDay = DaysFromCivil(2026, 9, 30);
constexpr int64_t kDay = 86400;

void AppendDigits(int64_t value, int width, std::string* out) {
  char digits[20];
  for (int k = width - 1; k >= 0; --k) {
    digits[k] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(digits, width);
}

// "2026-09-30".
std::string DateText(int64_t day) {
  int64_t y = 0, m = 0, d = 0;
  CivilFromDays(day, &y, &m, &d);
  std::string out;
  AppendDigits(y, 4, &out);
  out.push_back('-');
  AppendDigits(m, 2, &out);
  out.push_back('-');
  AppendDigits(d, 2, &out);
  return out;
}

// RFC 3339 UTC, "2026-09-30T14:03:00Z".
std::string TimestampText(int64_t seconds) {
  const int64_t day = seconds / kDay;
  const int64_t second_of_day = seconds % kDay;
  std::string out = DateText(day);
  out.push_back('T');
  AppendDigits(second_of_day / 3600, 2, &out);
  out.push_back(':');
  AppendDigits(second_of_day / 60 % 60, 2, &out);
  out.push_back(':');
  AppendDigits(second_of_day % 60, 2, &out);
  out.push_back('Z');
  return out;
}

// A time in office hours on `day`, to the minute.
int64_t DuringDay(int64_t day, Rng& r) { return day * kDay + r.Uniform(8 * 60, 19 * 60) * 60; }

// ---------------------------------------------------------------------------
// Numbers as text, with their fixed number of places (never through a
// double, which would print 525000 or 525000.1).

// 52500000 → "525000.00".
std::string Hundredths(int64_t value) {
  std::string out = value < 0 ? "-" : "";
  const uint64_t magnitude =
      value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  absl::StrAppend(&out, magnitude / 100, ".");
  AppendDigits(static_cast<int64_t>(magnitude % 100), 2, &out);
  return out;
}

// 39781721 → "39.781721".
std::string Millionths(int64_t value) {
  std::string out = value < 0 ? "-" : "";
  const int64_t magnitude = value < 0 ? -value : value;
  absl::StrAppend(&out, magnitude / 1000000, ".");
  AppendDigits(magnitude % 1000000, 6, &out);
  return out;
}

// Rounds whole dollars the way list prices are: to the thousand, often just
// under it (524900).
int64_t ListDollars(int64_t dollars, int64_t step, Rng& r) {
  int64_t rounded = std::max<int64_t>(step, (dollars + step / 2) / step * step);
  if (step >= 1000 && r.Percent(45)) {
    rounded -= step / 10;
  }
  return rounded;
}

std::string Capitalized(absl::string_view s) {
  std::string out(s);
  if (!out.empty()) {
    out[0] = absl::ascii_toupper(out[0]);
  }
  return out;
}

// "2.5" for 2 full and 1 half baths.
std::string BathsText(int full, int half) {
  const int tenths = full * 10 + half * 5;
  return tenths % 10 == 0 ? absl::StrCat(tenths / 10) : absl::StrCat(tenths / 10, ".5");
}

// ---------------------------------------------------------------------------
// JSON text.

void AppendQuoted(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// Writes a record as JSON text; decimals go out unquoted, as written.
class TextSink {
 public:
  explicit TextSink(std::string* out) : out_(out) { out_->push_back('{'); }
  void Finish() { out_->push_back('}'); }

  void String(const char* key, absl::string_view value) {
    Key(key);
    AppendQuoted(value, out_);
  }
  void Integer(const char* key, int64_t value) {
    Key(key);
    absl::StrAppend(out_, value);
  }
  void Decimal(const char* key, absl::string_view text) {
    Key(key);
    out_->append(text.data(), text.size());
  }
  void Strings(const char* key, const absl::string_view* values, size_t n) {
    Key(key);
    out_->push_back('[');
    for (size_t k = 0; k < n; ++k) {
      if (k > 0) {
        out_->push_back(',');
      }
      AppendQuoted(values[k], out_);
    }
    out_->push_back(']');
  }

 private:
  void Key(const char* key) {
    if (!first_) {
      out_->push_back(',');
    }
    first_ = false;
    out_->push_back('"');
    out_->append(key);
    out_->append("\":");
  }

  std::string* const out_;
  bool first_ = true;
};

// Builds a record as FeedReader would hand it: decimals as json strings.
class JsonSink {
 public:
  void String(const char* key, absl::string_view value) { record_[key] = std::string(value); }
  void Integer(const char* key, int64_t value) { record_[key] = value; }
  void Decimal(const char* key, absl::string_view text) { record_[key] = std::string(text); }
  void Strings(const char* key, const absl::string_view* values, size_t n) {
    json array = json::array();
    for (size_t k = 0; k < n; ++k) {
      array.push_back(std::string(values[k]));
    }
    record_[key] = std::move(array);
  }
  json Take() { return std::move(record_); }

 private:
  json record_ = json::object();
};

// ---------------------------------------------------------------------------
// One record.

// Physical facts; -1 or 0 where a field is absent.
struct Facts {
  const char* subtype = nullptr;
  const char* noun = "home";
  Home home = Home::kHouse;
  int bedrooms = -1;
  int baths_full = -1;
  int baths_half = -1;
  int baths_total = -1;
  int living_area = 0;
  int64_t lot_hundredths = 0;    // of a square foot
  int64_t acres_hundredths = 0;  // for land and farms
  int year_built = 0;
  int units = 0;
  std::string unit_number;
};

Facts MakeFacts(Kind kind, Rng& r) {
  Facts f;
  const auto house = [&](Home home) {
    if (home == Home::kCondo) {
      f.bedrooms = r.Weighted(kCondoBedrooms).value;
    } else {
      f.bedrooms = r.Weighted(kHouseBedrooms).value;
      if (home == Home::kTownhouse) {
        f.bedrooms = std::clamp(f.bedrooms, 2, 4);
      }
    }
    f.baths_full = std::max(1, f.bedrooms / 2 + static_cast<int>(r.Uniform(0, 1)));
    if (home == Home::kHouse) {
      f.baths_half = r.Percent(55) ? 1 : (r.Percent(80) ? 0 : 2);
    } else {
      f.baths_half = static_cast<int>(r.Uniform(0, 1));
    }
    // One draw per statement from here on: the order of evaluation inside an
    // expression is unspecified, and the feed must not depend on it.
    f.living_area =
        static_cast<int>((home == Home::kCondo ? 480 + f.bedrooms * 330 : 550 + f.bedrooms * 390) +
                         r.Uniform(-150, 600));
    // Newer houses are more common than old ones.
    const int64_t year1 = r.Uniform(1900, 2025);
    const int64_t year2 = r.Uniform(1900, 2025);
    f.year_built = static_cast<int>(std::max(year1, year2));
    if (home == Home::kHouse) {
      f.lot_hundredths = r.Uniform(300, 2200) * 1000;
    } else if (home == Home::kTownhouse) {
      f.lot_hundredths = r.Uniform(12, 35) * 10000;
    }
    if (home == Home::kCondo) {
      if (r.Percent(50)) {
        f.unit_number = absl::StrCat(r.Uniform(1, 12));
        f.unit_number.push_back(static_cast<char>('A' + r.Uniform(0, 5)));
      } else {
        const int64_t floor = r.Uniform(1, 15);
        f.unit_number = absl::StrCat(floor * 100 + r.Uniform(1, 20));
      }
    } else if (home == Home::kTownhouse && r.Percent(30)) {
      f.unit_number = absl::StrCat(r.Uniform(1, 40));
    }
  };
  switch (kind) {
    case Kind::kResidential:
    case Kind::kLease: {
      const HomeStyle& style = r.Weighted(kHomeStyles);
      f.home = style.home;
      f.subtype = style.subtype;
      f.noun = style.noun;
      house(style.home);
      break;
    }
    case Kind::kLand:
      f.acres_hundredths = r.Percent(80) ? r.Uniform(15, 200) : r.Uniform(200, 4000);
      f.lot_hundredths = f.acres_hundredths * 43560;
      f.subtype = "Unimproved Land";
      f.noun = "lot";
      break;
    case Kind::kIncome: {
      f.units = static_cast<int>(r.Uniform(2, 4));
      f.subtype = kIncomeSubtypes[f.units - 2];
      f.noun = "building";
      const int per_unit = static_cast<int>(r.Uniform(1, 3));  // bedrooms
      f.bedrooms = f.units * per_unit;
      f.baths_full = f.units * static_cast<int>(r.Uniform(1, 2));
      f.baths_half = 0;
      f.living_area = f.units * (450 + per_unit * 300 + static_cast<int>(r.Uniform(0, 250)));
      f.lot_hundredths = r.Uniform(40, 150) * 10000;
      f.year_built = static_cast<int>(r.Uniform(1900, 2015));
      break;
    }
    case Kind::kCommercial:
      f.subtype = r.Pick(kCommercialSubtypes);
      f.noun = "building";
      f.baths_total = static_cast<int>(r.Uniform(1, 6));
      f.living_area = static_cast<int>(r.Uniform(15, 250)) * 100;
      f.lot_hundredths = r.Uniform(50, 800) * 10000;
      f.year_built = static_cast<int>(r.Uniform(1920, 2024));
      break;
    case Kind::kFarm:
      f.subtype = "Farm";
      f.noun = "farm";
      f.acres_hundredths = r.Uniform(10, 320) * 100;
      f.lot_hundredths = f.acres_hundredths * 43560;
      f.bedrooms = static_cast<int>(r.Uniform(2, 5));
      f.baths_full = static_cast<int>(r.Uniform(1, 3));
      f.baths_half = static_cast<int>(r.Uniform(0, 1));
      f.living_area = static_cast<int>(r.Uniform(1300, 3400));
      f.year_built = static_cast<int>(r.Uniform(1880, 2020));
      break;
    case Kind::kManufactured:
      f.subtype = "Manufactured Home";
      f.noun = "manufactured home";
      f.bedrooms = static_cast<int>(r.Uniform(1, 3));
      f.baths_full = static_cast<int>(r.Uniform(1, 2));
      f.baths_half = 0;
      f.living_area = static_cast<int>(r.Uniform(700, 1600));
      f.year_built = static_cast<int>(r.Uniform(1975, 2025));
      f.unit_number = absl::StrCat(r.Uniform(1, 250));
      break;
  }
  if (f.baths_full >= 0) {
    f.baths_total = f.baths_full + f.baths_half;
  }
  return f;
}

// The list price in whole dollars (monthly rent for a lease).
int64_t ListPriceDollars(Kind kind, const Facts& f, const City& city, Rng& r) {
  const int64_t per_sqft = city.dollars_per_sqft;
  switch (kind) {
    case Kind::kResidential: {
      const int64_t percent = r.Uniform(75, 135) - (f.home == Home::kCondo ? 10 : 0);
      return ListDollars(f.living_area * per_sqft * percent / 100, 1000, r);
    }
    case Kind::kLease:
      return ListDollars(
          std::max<int64_t>(650, f.living_area * per_sqft * r.Uniform(45, 70) / 10000), 25, r);
    case Kind::kLand:
      return ListDollars(15000 + f.acres_hundredths * per_sqft * r.Uniform(150, 450) / 100, 1000,
                         r);
    case Kind::kIncome:
      return ListDollars(f.living_area * per_sqft * r.Uniform(60, 100) / 100, 1000, r);
    case Kind::kCommercial:
      return ListDollars(f.living_area * per_sqft * r.Uniform(50, 120) / 100, 5000, r);
    case Kind::kFarm:
      return ListDollars(
          f.acres_hundredths / 100 * r.Uniform(4000, 15000) + f.living_area * per_sqft * 7 / 10,
          5000, r);
    case Kind::kManufactured:
      return ListDollars(r.Uniform(25, 140) * 1000 * per_sqft / 250, 1000, r);
  }
  return 100000;
}

std::string Remarks(Kind kind, const Facts& f, const City& city, Stage stage,
                    const std::string& on_market_date, Rng& r) {
  const std::string adjective = r.Pick(kAdjectives);
  std::string bedrooms =
      f.bedrooms == 0 ? std::string("studio") : absl::StrCat(f.bedrooms, "-bedroom");
  const char* feature1 = r.Pick(kFeatures);
  const char* feature2 = r.Pick(kFeatures);
  std::string out;
  switch (kind) {
    case Kind::kResidential: {
      int64_t opener = r.Uniform(0, 3);
      if (opener == 2 && f.bedrooms == 0) {
        opener = 0;  // no "0 bed" studios
      }
      switch (opener) {
        case 0:
          out = absl::StrCat("Welcome home to this ", adjective, " ", bedrooms, " ", f.noun, " in ",
                             city.name, ".");
          break;
        case 1:
          out = absl::StrCat(Capitalized(adjective), " ", f.noun, " with ", feature1,
                             " on a quiet street.");
          break;
        case 2:
          out = absl::StrCat("Move-in ready ", f.bedrooms, " bed, ",
                             BathsText(f.baths_full, f.baths_half), " bath ", f.noun,
                             " close to everything ", city.name, " has to offer.");
          break;
        default:
          out =
              absl::StrCat("Light-filled ", f.noun, " with an open floor plan and ", feature1, ".");
      }
      absl::StrAppend(&out, " Features include ", feature2, ".");
      if (f.year_built >= 2023) {
        absl::StrAppend(&out, " New construction, built in ", f.year_built, ".");
      }
      break;
    }
    case Kind::kLease:
      out =
          absl::StrCat("Available now: ", adjective, " ", bedrooms, " ", f.noun, " for lease in ",
                       city.name, " with ", feature1, ".",
                       r.Percent(50) ? " Pets considered; no smoking." : " Tenant pays utilities.");
      break;
    case Kind::kLand: {
      const char* terrain = r.Pick(kTerrains);
      const char* utilities = r.Percent(50) ? " Utilities at the street." : " Survey available.";
      out = absl::StrCat(Hundredths(f.acres_hundredths), "-acre ", terrain,
                         " lot ready for your dream home.", utilities,
                         r.Percent(20) ? " Sold \"as is\"." : "");
      break;
    }
    case Kind::kIncome:
      out = absl::StrCat(f.units, "-unit investment property near downtown ", city.name,
                         r.Percent(60) ? ", fully leased." : ", one unit vacant.",
                         " Separate meters for each unit.");
      break;
    case Kind::kCommercial:
      out = absl::StrCat(f.subtype, " building of ", f.living_area, " sq ft with ",
                         r.Percent(50) ? "ample on-site parking." : "high street visibility.",
                         " Zoned for a variety of uses.");
      break;
    case Kind::kFarm:
      out = absl::StrCat(f.acres_hundredths / 100, "-acre farm with a ", bedrooms,
                         " farmhouse, a barn and fenced pasture outside ", city.name, ".");
      break;
    case Kind::kManufactured:
      out = absl::StrCat(Capitalized(adjective), " ", bedrooms,
                         " manufactured home in a well-kept community.",
                         " Lot rent includes water and trash.");
      break;
  }
  if (stage == Stage::kComingSoon) {
    absl::StrAppend(&out, " Showings begin ", on_market_date, ".");
  } else if (kind == Kind::kResidential && r.Percent(60)) {
    absl::StrAppend(&out, " ", r.Pick(kClosers));
  }
  return out;
}

std::string ListingIdOf(const FeedOptions& options, int64_t i) {
  std::string number = absl::StrCat(options.first + i);
  if (number.size() < 7) {
    number.insert(0, 7 - number.size(), '0');
  }
  return absl::StrCat(options.listing_id_prefix, number);
}

// 32 hex digits. The first 16 are a bijection of i for the seed, so keys
// never repeat within a feed.
std::string ListingKeyOf(const FeedOptions& options, int64_t i) {
  static constexpr char kHex[] = "0123456789abcdef";
  const uint64_t high = Mix(SeedBase(options.seed) ^ kKeySalt ^ static_cast<uint64_t>(i));
  const uint64_t low = Mix(high ^ kKeySalt);
  std::string key(32, '0');
  for (int k = 0; k < 16; ++k) {
    key[k] = kHex[(high >> (60 - 4 * k)) & 0xf];
    key[16 + k] = kHex[(low >> (60 - 4 * k)) & 0xf];
  }
  return key;
}

enum class Defect { kNone, kNegativePrice, kUnknownStatus, kNoListingId };

template <typename Sink>
void Emit(const FeedOptions& options, int64_t i, Sink& sink) {
  const uint64_t record_seed = Mix(SeedBase(options.seed) + static_cast<uint64_t>(i));
  Rng r(record_seed);
  // Its own stream, so bad_fraction changes which records are broken and
  // nothing else.
  Rng bad(Mix(record_seed ^ kBadSalt));
  Defect defect = Defect::kNone;
  if (options.bad_fraction > 0 && bad.Unit() < options.bad_fraction) {
    defect = static_cast<Defect>(bad.Uniform(1, 3));
  }

  const City& city = r.Pick(kCities);
  const Type& type = r.Weighted(kTypes);
  const Status& status = r.Weighted(kStatuses);
  const Facts facts = MakeFacts(type.kind, r);
  const bool lease = type.kind == Kind::kLease;

  // The listing's life, counted back from the as-of day.
  int64_t on_market = 0;
  int64_t last = 0;  // the day of the current status
  switch (status.stage) {
    case Stage::kComingSoon:
      last = kAsOfDay - r.Uniform(0, 14);
      on_market = last + r.Uniform(7, 21);
      break;
    case Stage::kActive:
      on_market = kAsOfDay - r.Uniform(0, 150);
      last = on_market;
      break;
    case Stage::kUnderContract:
    case Stage::kPending:
      last = kAsOfDay - r.Uniform(0, 60);
      on_market = last - r.Uniform(3, 90);
      break;
    case Stage::kClosed:
      last = kAsOfDay - r.Uniform(0, 540);
      on_market = last - r.Uniform(20, 45);  // pending
      on_market -= r.Uniform(3, 90);
      break;
    case Stage::kExpired:
      last = kAsOfDay - r.Uniform(0, 400);
      on_market = last - r.Uniform(90, 180);
      break;
    case Stage::kCanceled:
    case Stage::kWithdrawn:
    case Stage::kHold:
      last = kAsOfDay - r.Uniform(0, 300);
      on_market = last - r.Uniform(7, 150);
      break;
  }
  const int64_t contract = status.stage == Stage::kComingSoon ? last : on_market - r.Uniform(0, 3);
  const int64_t status_change = DuringDay(last, r);

  const int64_t list_dollars = ListPriceDollars(type.kind, facts, city, r);
  int64_t list_cents = list_dollars * 100;
  if (!lease && r.Percent(2)) {
    list_cents -= 1;  // 349999.99: some do
  }
  // A price cut some weeks after going on the market.
  int64_t price_change = 0;
  int64_t original_cents = 0;
  const int64_t window_end = status.stage == Stage::kActive ? kAsOfDay : last - 1;
  if (status.stage != Stage::kComingSoon && window_end - on_market >= 14 && r.Percent(30)) {
    price_change = DuringDay(r.Uniform(on_market + 7, window_end), r);
    const int64_t step = lease ? 25 : 1000;
    original_cents = std::max(list_dollars + step,
                              ListDollars(list_dollars * r.Uniform(103, 110) / 100, step, r)) *
                     100;
  }
  int64_t close_cents = 0;
  if (status.stage == Stage::kClosed) {
    close_cents =
        lease ? list_cents : ListDollars(list_dollars * r.Uniform(94, 104) / 100, 500, r) * 100;
  }
  int64_t modification =
      std::min((kAsOfDay + 1) * kDay - 60,
               std::max(status_change, price_change) + r.Uniform(0, 2 * 24 * 60) * 60);
  if (options.revision > 0) {
    // Its own stream, like bad_fraction's: revision 0 stays what it was.
    Rng revised(Mix(record_seed ^ kRevisionSalt ^ static_cast<uint64_t>(options.revision)));
    if (revised.Unit() < options.changed_fraction) {
      list_cents = list_cents * revised.Uniform(95, 99) / 100 / 100 * 100;
      price_change = (kAsOfDay + options.revision) * kDay + revised.Uniform(9 * 3600, 17 * 3600);
      modification = price_change + 60;
    }
  }

  std::string mls_status = status.mls;
  if (status.stage == Stage::kActive && r.Percent(4)) {
    mls_status = "BOM";  // back on market
  } else if (status.stage == Stage::kUnderContract && r.Percent(50)) {
    mls_status = "C";  // contingent
  } else if (status.stage == Stage::kClosed && lease) {
    mls_status = "L";  // leased
  }

  // The address.
  const int64_t street_number =
      facts.home == Home::kCondo ? r.Uniform(1, 40) * 50 : r.Uniform(100, 9899);
  const char* direction = r.Percent(12) ? r.Pick(kDirections) : nullptr;
  const char* street_name = r.Pick(kStreetNames);
  const char* suffix = r.Pick(kStreetSuffixes);
  const int64_t zip = r.Uniform(city.zip_lo, city.zip_hi);
  std::string postal_code;
  AppendDigits(zip, 5, &postal_code);
  std::string street = absl::StrCat(street_number, " ");
  if (direction != nullptr) {
    absl::StrAppend(&street, direction, " ");
  }
  absl::StrAppend(&street, street_name, " ", suffix);
  const bool rural = type.kind == Kind::kLand || type.kind == Kind::kFarm;
  const int64_t spread = rural ? 4 : 1;
  const int64_t latitude = city.latitude_micro + r.Uniform(-70000, 70000) * spread;
  const int64_t longitude = city.longitude_micro + r.Uniform(-90000, 90000) * spread;

  absl::string_view appliances[std::size(kAppliances)];
  size_t appliance_count = 0;
  const bool has_appliances = type.kind == Kind::kResidential || lease ||
                              type.kind == Kind::kManufactured || type.kind == Kind::kIncome;
  if (has_appliances) {
    for (const char* appliance : kAppliances) {
      if (r.Percent(55)) {
        appliances[appliance_count++] = appliance;
      }
    }
  }
  const std::string on_market_date = DateText(on_market);
  const std::string remarks = Remarks(type.kind, facts, city, status.stage, on_market_date, r);

  const bool has_key = !options.originating_system.empty();
  if (has_key) {
    sink.String("ListingKey", ListingKeyOf(options, i));
  }
  if (defect != Defect::kNoListingId) {
    sink.String("ListingId", ListingIdOf(options, i));
  }
  if (has_key) {
    sink.String("OriginatingSystemName", options.originating_system);
  }
  sink.String("StandardStatus",
              defect == Defect::kUnknownStatus ? bad.Pick(kNonStandardStatuses) : status.standard);
  sink.String("MlsStatus", mls_status);
  sink.String("PropertyType", type.reso);
  if (facts.subtype != nullptr) {
    sink.String("PropertySubType", facts.subtype);
  }
  sink.Decimal("ListPrice",
               Hundredths(defect == Defect::kNegativePrice ? -list_cents : list_cents));
  if (original_cents > 0) {
    sink.Decimal("OriginalListPrice", Hundredths(original_cents));
  }
  if (close_cents > 0) {
    sink.Decimal("ClosePrice", Hundredths(close_cents));
    sink.String("CloseDate", DateText(last));
  }
  sink.String("UnparsedAddress",
              absl::StrCat(street, ", ", city.name, ", ", city.state, " ", postal_code));
  sink.String("StreetNumber", absl::StrCat(street_number));
  if (direction != nullptr) {
    sink.String("StreetDirPrefix", direction);
  }
  sink.String("StreetName", street_name);
  sink.String("StreetSuffix", suffix);
  if (!facts.unit_number.empty()) {
    sink.String("UnitNumber", facts.unit_number);
  }
  sink.String("City", city.name);
  sink.String("StateOrProvince", city.state);
  sink.String("PostalCode", postal_code);
  sink.String("Country", "US");
  sink.Decimal("Latitude", Millionths(latitude));
  sink.Decimal("Longitude", Millionths(longitude));
  if (facts.bedrooms >= 0) {
    sink.Integer("BedroomsTotal", facts.bedrooms);
  }
  if (facts.baths_full >= 0) {
    sink.Integer("BathroomsFull", facts.baths_full);
    sink.Integer("BathroomsHalf", facts.baths_half);
  }
  if (facts.baths_total >= 0) {
    sink.Integer("BathroomsTotalInteger", facts.baths_total);
  }
  if (facts.living_area > 0) {
    sink.Integer("LivingArea", facts.living_area);
  }
  if (facts.lot_hundredths > 0) {
    sink.Decimal("LotSizeSquareFeet", Hundredths(facts.lot_hundredths));
  }
  if (facts.acres_hundredths > 0) {
    sink.Decimal("LotSizeAcres", Hundredths(facts.acres_hundredths));
  }
  if (facts.year_built > 0) {
    sink.Integer("YearBuilt", facts.year_built);
  }
  if (has_appliances) {
    sink.Strings("Appliances", appliances, appliance_count);
  }
  sink.String("PublicRemarks", remarks);
  sink.String("ListingContractDate", DateText(contract));
  sink.String("OnMarketDate", on_market_date);
  if (!options.agent_emails.empty()) {
    sink.String("ListAgentEmail",
                options.agent_emails[static_cast<size_t>(i) % options.agent_emails.size()]);
  }
  sink.String("StatusChangeTimestamp", TimestampText(status_change));
  if (price_change > 0) {
    sink.String("PriceChangeTimestamp", TimestampText(price_change));
  }
  sink.String("ModificationTimestamp", TimestampText(modification));
}

bool PrintableAscii(absl::string_view s, bool space_allowed) {
  for (char c : s) {
    if (c < (space_allowed ? 0x20 : 0x21) || c > 0x7e) {
      return false;
    }
  }
  return true;
}

constexpr absl::string_view kContext = "https://api.crm-demo.example/reso/odata/$metadata#Property";

}  // namespace

absl::Status CheckFeedOptions(const FeedOptions& options) {
  if (options.count < 0) {
    return absl::InvalidArgumentError("count: must not be negative");
  }
  if (options.first < 0 || options.first > std::numeric_limits<int64_t>::max() - options.count) {
    return absl::InvalidArgumentError("first: must be 0 or more, and first + count fit in 64 bits");
  }
  if (!PrintableAscii(options.listing_id_prefix, /*space_allowed=*/false)) {
    return absl::InvalidArgumentError(
        "listing_id_prefix: must be printable ASCII without spaces (a ListingId is a token)");
  }
  const int64_t last = options.count == 0 ? options.first : options.first + options.count - 1;
  const size_t digits = std::max<size_t>(7, absl::StrCat(last).size());
  if (options.listing_id_prefix.size() + digits > 50) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listing_id_prefix: ListingIds would pass 50 characters (", digits, " digits follow it)"));
  }
  if (options.originating_system.size() > 255 ||
      !PrintableAscii(options.originating_system, /*space_allowed=*/true) ||
      absl::StripAsciiWhitespace(options.originating_system) != options.originating_system) {
    return absl::InvalidArgumentError(
        "originating_system: must be at most 255 printable ASCII characters, not starting or "
        "ending with a space");
  }
  for (const std::string& email : options.agent_emails) {
    const size_t at = email.find('@');
    if (email.size() > 254 || !PrintableAscii(email, /*space_allowed=*/false) ||
        at == std::string::npos || at == 0 || at + 1 == email.size() ||
        email.find('@', at + 1) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent_emails: \"", email, "\" is not an email address"));
    }
  }
  if (!(options.bad_fraction >= 0 && options.bad_fraction <= 1)) {
    return absl::InvalidArgumentError("bad_fraction: must be between 0 and 1");
  }
  if (options.revision < 0) {
    return absl::InvalidArgumentError("revision: must not be negative");
  }
  if (!(options.changed_fraction >= 0 && options.changed_fraction <= 1)) {
    return absl::InvalidArgumentError("changed_fraction: must be between 0 and 1");
  }
  return absl::OkStatus();
}

json GenerateRecord(const FeedOptions& options, int64_t i) {
  JsonSink sink;
  Emit(options, i, sink);
  return sink.Take();
}

void AppendRecordJson(const FeedOptions& options, int64_t i, std::string* out) {
  TextSink sink(out);
  Emit(options, i, sink);
  sink.Finish();
}

void WriteFeed(const FeedOptions& options, std::ostream& out) {
  constexpr size_t kFlushBytes = 1 << 16;
  std::string buffer;
  buffer.reserve(kFlushBytes + 4096);
  if (!options.ndjson) {
    buffer.append("{\"@odata.context\":");
    AppendQuoted(kContext, &buffer);
    absl::StrAppend(&buffer, ",\"@odata.count\":", options.count, ",\"value\":[\n");
  }
  for (int64_t i = 0; i < options.count; ++i) {
    AppendRecordJson(options, i, &buffer);
    buffer.append(options.ndjson || i + 1 == options.count ? "\n" : ",\n");
    if (buffer.size() >= kFlushBytes) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  }
  if (!options.ndjson) {
    buffer.append("]}\n");
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  out.flush();
}

}  // namespace crm::listings
