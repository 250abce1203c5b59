#include "tools/load/request_template.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "crm/auth/v1/user_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::load {
namespace {

using ::testing::HasSubstr;

const google::protobuf::Descriptor* GetUser() {
  return crm::auth::v1::GetUserRequest::descriptor();
}

NumberSpec Range(int64_t lo, int64_t hi) {
  NumberSpec spec;
  spec.kind = NumberSpec::Kind::kRange;
  spec.lo = lo;
  spec.hi = hi;
  return spec;
}

NumberSpec Counter(int64_t start) {
  NumberSpec spec;
  spec.lo = start;
  return spec;
}

int64_t IdOf(const std::string& bytes) {
  crm::auth::v1::GetUserRequest request;
  EXPECT_TRUE(request.ParseFromString(bytes));
  return request.id();
}

TEST(NumberSpecTest, Parses) {
  absl::StatusOr<NumberSpec> spec = ParseNumberSpec("counter");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kind, NumberSpec::Kind::kCounter);
  EXPECT_EQ(spec->lo, 1);
  spec = ParseNumberSpec("counter:100");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->lo, 100);
  spec = ParseNumberSpec("range:-3:4");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kind, NumberSpec::Kind::kRange);
  EXPECT_EQ(spec->lo, -3);
  EXPECT_EQ(spec->hi, 4);
  EXPECT_EQ(spec->range_size(), 8u);
}

TEST(NumberSpecTest, Rejects) {
  for (const char* bad : {"", "count", "counter:x", "range:1", "range:5:4", "range:a:b",
                          "range:1:2:3", "counter:1:2"}) {
    EXPECT_FALSE(ParseNumberSpec(bad).ok()) << bad;
  }
}

TEST(DrawNumberTest, CounterCountsFromStart) {
  std::mt19937_64 rng(1);
  const NumberSpec spec = Counter(7);
  EXPECT_EQ(DrawNumber(spec, 0, rng), 7);
  EXPECT_EQ(DrawNumber(spec, 1, rng), 8);
  EXPECT_EQ(DrawNumber(spec, 1000, rng), 1007);
}

TEST(DrawNumberTest, RangeIsInclusiveAndStaysInside) {
  std::mt19937_64 rng(1);
  const NumberSpec spec = Range(3, 5);
  std::set<int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    seen.insert(DrawNumber(spec, i, rng));
  }
  EXPECT_EQ(seen, (std::set<int64_t>{3, 4, 5}));
  const NumberSpec one = Range(9, 9);
  EXPECT_EQ(DrawNumber(one, 0, rng), 9);
}

TEST(FillTest, ReplacesEveryPlaceholder) {
  EXPECT_EQ(Fill(R"({"a":"{n}","b":"x{n}y"})", 42), R"({"a":"42","b":"x42y"})");
  EXPECT_EQ(Fill("none", 1), "none");
  EXPECT_TRUE(HasPlaceholder("{n}"));
  EXPECT_FALSE(HasPlaceholder("{m}"));
}

TEST(RequestSetTest, RangePreserialisesEveryValue) {
  auto set = RequestSet::Create(GetUser(), {{"--data #1", R"({"id": "{n}"})"}}, Range(10, 13));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_TRUE((*set)->preserialised());
  ASSERT_EQ((*set)->all_bytes().size(), 4u);
  std::mt19937_64 rng(1);
  std::set<int64_t> ids;
  for (uint64_t seq = 0; seq < 500; ++seq) {
    const RequestSet::Pick pick = (*set)->Draw(seq, rng);
    const int64_t id = IdOf((*set)->all_bytes()[(*set)->Index(pick)]);
    EXPECT_EQ(id, pick.n);
    ids.insert(id);
  }
  EXPECT_EQ(ids, (std::set<int64_t>{10, 11, 12, 13}));
}

TEST(RequestSetTest, SeveralTextsAreCycled) {
  auto set = RequestSet::Create(GetUser(), {{"a", R"({"id": "{n}"})"}, {"b", R"({"id": 1000})"}},
                                Range(1, 2));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_TRUE((*set)->preserialised());
  std::mt19937_64 rng(1);
  for (uint64_t seq = 0; seq < 20; ++seq) {
    const RequestSet::Pick pick = (*set)->Draw(seq, rng);
    EXPECT_EQ(pick.text, seq % 2);
    const int64_t id = IdOf((*set)->all_bytes()[(*set)->Index(pick)]);
    EXPECT_EQ(id, seq % 2 == 0 ? pick.n : 1000);
  }
}

TEST(RequestSetTest, NoPlaceholderIsPreserialisedEvenWithACounter) {
  auto set = RequestSet::Create(GetUser(), {{"a", R"({"id": 5})"}}, {});
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_TRUE((*set)->preserialised());
  std::mt19937_64 rng(1);
  EXPECT_EQ(IdOf((*set)->all_bytes()[(*set)->Index((*set)->Draw(77, rng))]), 5);
}

TEST(RequestSetTest, CounterBuildsPerCall) {
  auto set = RequestSet::Create(GetUser(), {{"a", R"({"id": "{n}"})"}}, Counter(100));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_FALSE((*set)->preserialised());
  std::mt19937_64 rng(1);
  for (uint64_t seq : {0, 1, 5}) {
    absl::StatusOr<std::string> bytes = (*set)->Serialise((*set)->Draw(seq, rng));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(IdOf(*bytes), 100 + static_cast<int64_t>(seq));
  }
}

TEST(RequestSetTest, PreserialisationThreshold) {
  const std::vector<RequestText> one = {{"a", R"({"id": "{n}"})"}};
  auto at = RequestSet::Create(GetUser(), one, Range(1, 65536));
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_TRUE((*at)->preserialised());
  EXPECT_EQ((*at)->all_bytes().size(), 65536u);
  auto over = RequestSet::Create(GetUser(), one, Range(1, 65537));
  ASSERT_TRUE(over.ok()) << over.status();
  EXPECT_FALSE((*over)->preserialised());
  // The limit counts requests, not values: two texts of 40000 values each.
  auto two = RequestSet::Create(GetUser(), {one[0], one[0]}, Range(1, 40000));
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_FALSE((*two)->preserialised());
  // A small explicit limit.
  auto small = RequestSet::Create(GetUser(), one, Range(1, 5), 4);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_FALSE((*small)->preserialised());
  // A range over all of int64 does not overflow into "small".
  auto huge = RequestSet::Create(GetUser(), one, Range(INT64_MIN, INT64_MAX));
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_FALSE((*huge)->preserialised());
}

TEST(RequestSetTest, MalformedJsonNamesTheRequestAndTheError) {
  auto set = RequestSet::Create(GetUser(),
                                {{"--data #1", R"({"id": 1})"}, {"--data #2", R"({"id": )"}}, {});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(), HasSubstr("--data #2"));
  EXPECT_THAT(set.status().message(), HasSubstr("crm.auth.v1.GetUserRequest"));
  EXPECT_THAT(set.status().message(), HasSubstr(R"({"id": )"));
}

TEST(RequestSetTest, UnknownFieldAndBadValueAreErrors) {
  auto unknown = RequestSet::Create(GetUser(), {{"x", R"({"nope": 1})"}}, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("nope"));
  // {n} is filled before parsing: the message says which value failed.
  auto bad = RequestSet::Create(GetUser(), {{"x", R"({"id": "a{n}"})"}}, Range(3, 4));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("{n}=3"));
}

TEST(RequestSetTest, NeedsARequest) { EXPECT_FALSE(RequestSet::Create(GetUser(), {}, {}).ok()); }

TEST(ReadRequestFileTest, OneRequestPerLine) {
  const std::string path =
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/crm-load-test-", getpid());
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("{\"id\": 1}\n\n  {\"id\": 2}  \n{\"id\": \n", f);
  fclose(f);
  absl::StatusOr<std::vector<RequestText>> texts = ReadRequestFile(path);
  ASSERT_TRUE(texts.ok()) << texts.status();
  ASSERT_EQ(texts->size(), 3u);
  EXPECT_EQ((*texts)[1].json, R"({"id": 2})");
  auto set = RequestSet::Create(GetUser(), *texts, {});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr(path + " line 4"));
  std::filesystem::remove(path);
  EXPECT_FALSE(ReadRequestFile(path).ok());
}

}  // namespace
}  // namespace crm::load
