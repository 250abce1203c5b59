#include "common/db/versioned_rows.h"

#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "common/testing/pg_fixture.h"
#include "gtest/gtest.h"

namespace crm::db {
namespace {

struct Item {
  int64_t id = 0;
  std::string owner;
  int64_t version = 0;
};

Item ParseItem(const RowFields& f) {
  return Item{.id = f.Int64("id"), .owner = f.Str("owner"), .version = f.Int64("version")};
}

absl::Status ItemNotFound() { return absl::NotFoundError("item not found"); }
absl::Status ItemStale() { return absl::AbortedError("item changed; reload and retry"); }

constexpr VersionedRows<Item> kItems{.get = "item_get",
                                     .get_for_update = "item_lock",
                                     .parse = ParseItem,
                                     .not_found = ItemNotFound,
                                     .stale = ItemStale};

class VersionedRowsTest : public crm::testing::PgTest {
 protected:
  void SetUp() override {
    crm::testing::PgTest::SetUp();
    conn_ = std::make_unique<pqxx::connection>(dsn_);
    pqxx::nontransaction setup(*conn_);
    setup.exec(
        "CREATE TABLE items (id int8 PRIMARY KEY, owner text NOT NULL, version int8 NOT NULL); "
        "INSERT INTO items VALUES (1, 'ann', 3)");
    conn_->prepare("item_get", "SELECT id, owner, version FROM items WHERE id = $1");
    conn_->prepare("item_lock", "SELECT id, owner, version FROM items WHERE id = $1 FOR UPDATE");
  }

  static absl::Status OnlyAnn(const Item& item) {
    return item.owner == "ann" ? absl::OkStatus() : ItemNotFound();
  }
  static absl::Status NoOne(const Item&) { return absl::NotFoundError("item not found"); }

  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(VersionedRowsTest, LocksTheRowAtTheVersionTheCallerRead) {
  pqxx::work tx(*conn_);
  absl::StatusOr<Item> item = kItems.Lock(tx, 1, 3, OnlyAnn);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->owner, "ann");
  EXPECT_EQ(item->version, 3);
  // 0: whatever version is stored.
  EXPECT_TRUE(kItems.Lock(tx, 1, 0, OnlyAnn).ok());
}

TEST_F(VersionedRowsTest, AStaleVersionIsAborted) {
  pqxx::work tx(*conn_);
  EXPECT_EQ(kItems.Lock(tx, 1, 2, OnlyAnn).status(), ItemStale());
}

TEST_F(VersionedRowsTest, AccessIsCheckedBeforeTheVersion) {
  pqxx::work tx(*conn_);
  // One who may not see the row hears the same as for a row that is not
  // there, even with a stale version: nothing about the row.
  EXPECT_EQ(kItems.Lock(tx, 1, 2, NoOne).status(), ItemNotFound());
  EXPECT_EQ(kItems.Lock(tx, 99, 3, OnlyAnn).status(), ItemNotFound());
}

TEST_F(VersionedRowsTest, ReadsForAReplay) {
  pqxx::work tx(*conn_);
  absl::StatusOr<Item> item = kItems.Read(tx, 1);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->id, 1);
  EXPECT_EQ(kItems.Read(tx, 2).status(), ItemNotFound());
}

}  // namespace
}  // namespace crm::db
