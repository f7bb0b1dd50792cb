// What the PostgreSQL store adds to the Store contract (store_contract_test.cc runs that on it):
// its logins and roles, its schema's versions and partitions, its errors, and the layout a
// sharding PostgreSQL needs. On the test binary's own server (tests/support/postgres_server.h).
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/clock.h"
#include "store/postgres/partition.h"
#include "store/postgres/pg.h"
#include "store/profile_ids.h"
#include "tests/support/postgres_server.h"

namespace portrait::store {
namespace {

using testing::PostgresServer;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Shared();
    ASSERT_NE(server_, nullptr);
    dbs_ = server_->Fresh();
  }
  PostgresOptions Options(bool create) const {
    PostgresOptions o;
    o.url = dbs_.url;
    o.keystore_url = dbs_.keystore_url;
    o.password = &server_->password();
    o.keystore_password = &server_->keystore_password();
    o.create = create;
    o.readers = 1;
    return o;
  }
  // A connection to the main database's fresh schema as its owner, for looking under the store.
  pg::Connection Main() const {
    return pg::Connection::Open(dbs_.url, &server_->password()).value();
  }
  static Status Write(Store& store, ProfileId id, std::string ext_key) {
    Batch b;
    ProfileWrite w;
    w.is_new = true;
    w.row.id = id;
    w.row.ext_key = std::move(ext_key);
    w.row.external_id = "sealed";
    b.profiles.push_back(w);
    auto r = store.Commit(b);
    return r ? Status::Ok() : r.error();
  }

  PostgresServer* server_ = nullptr;
  PostgresServer::Databases dbs_;
};

TEST_F(PostgresStoreTest, AWrongPasswordIsPermissionDenied) {
  crypto::SecretBytes wrong = crypto::SecretBytes::CopyOf("not-the-password").value();
  PostgresOptions o = Options(true);
  o.password = &wrong;
  auto store = OpenPostgresStore(o);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), Status::Code::kPermissionDenied) << store.error().ToString();
  EXPECT_EQ(store.error().ToString().find("not-the-password"), std::string::npos);
}

// The keystore is another database with its own role: neither role may connect to the other's.
TEST_F(PostgresStoreTest, EachRoleReachesOnlyItsOwnDatabase) {
  PostgresOptions o = Options(true);
  o.keystore_password = &server_->password();
  o.keystore_url = dbs_.keystore_url;
  o.keystore_url.replace(o.keystore_url.find("portrait_keys@"), 14, "portrait@");
  auto store = OpenPostgresStore(o);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), Status::Code::kPermissionDenied) << store.error().ToString();
  std::string main_as_keys = dbs_.url;
  main_as_keys.replace(main_as_keys.find("portrait@"), 9, "portrait_keys@");
  auto conn = pg::Connection::Open(main_as_keys, &server_->keystore_password());
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().code(), Status::Code::kPermissionDenied) << conn.error().ToString();
}

TEST_F(PostgresStoreTest, AnEmptyDatabaseIsNotFoundAndAMadeOneIsNotMadeAgain) {
  auto none = OpenPostgresStore(Options(false));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Status::Code::kNotFound) << none.error().ToString();
  {
    auto made = OpenPostgresStore(Options(true));
    ASSERT_TRUE(made) << made.error().ToString();
    ASSERT_TRUE(Write(**made, 7, "k7").ok());
  }
  auto again = OpenPostgresStore(Options(true));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Status::Code::kConflict);
  auto reopened = OpenPostgresStore(Options(false));
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_TRUE((*reopened)->GetProfile(7).value());
}

TEST_F(PostgresStoreTest, ASchemaNewerThanTheBuildIsRefused) {
  ASSERT_TRUE(OpenPostgresStore(Options(true)));
  pg::Connection main = Main();
  ASSERT_TRUE(main.Exec("UPDATE portrait_schema SET version = 999;").ok());
  auto store = OpenPostgresStore(Options(false));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), Status::Code::kCorruption);
  EXPECT_NE(store.error().ToString().find("upgrade portrait"), std::string::npos);
}

// The partition count is fixed when the schema is made: an open with another keeps it, and
// every row's partition is the hash of its profile id (or digest) under it.
TEST_F(PostgresStoreTest, RowsCarryThePartitionCountFixedAtCreate) {
  PostgresOptions o = Options(true);
  o.partitions = 16;
  ASSERT_TRUE(OpenPostgresStore(o));
  o.create = false;
  o.partitions = 256;
  auto store = OpenPostgresStore(o);
  ASSERT_TRUE(store) << store.error().ToString();
  for (ProfileId id = 1; id <= 20; ++id) {
    ASSERT_TRUE(Write(**store, id, "key-" + std::to_string(id)).ok());
  }
  Batch timers;
  timers.timers = {{3, "weekly", 100}};
  ASSERT_TRUE((*store)->Commit(timers));
  pg::Connection main = Main();
  auto rows = main.Run(
      "SELECT p.id, p.part, k.part, k.ext_key FROM profiles p JOIN ext_keys k "
      "ON k.profile_id = p.id ORDER BY p.id;");
  ASSERT_TRUE(rows) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 20);
  std::set<int64_t> parts;
  for (int i = 0; i < rows->size(); ++i) {
    EXPECT_EQ(rows->Int(i, 1), pg::PartitionOfId(rows->Int(i, 0), 16));
    EXPECT_EQ(rows->Int(i, 2), pg::PartitionOfDigest(rows->Text(i, 3), 16));
    parts.insert(rows->Int(i, 1));
  }
  EXPECT_GT(parts.size(), 8u);  // 20 ids over 16 partitions: spread, not bunched
  auto timer = main.Run("SELECT part FROM timers;");
  ASSERT_TRUE(timer && timer->size() == 1);
  EXPECT_EQ(timer->Int(0, 0), pg::PartitionOfId(3, 16));
}

// A new profile's id lies in its external id digest's partition (DECISIONS 170), on one node as
// among several, so a store made by one node can later be shared; ids still increase. Profiles
// written at other ids (made before placement) are counted, which a node of several refuses.
TEST_F(PostgresStoreTest, NewProfilesArePlacedInTheirExternalIdsPartition) {
  PostgresOptions o = Options(true);
  o.partitions = 64;
  auto store = OpenPostgresStore(o);
  ASSERT_TRUE(store) << store.error().ToString();
  FakeClock clock{TimePoint(std::chrono::seconds(1'800'000'000))};
  ProfileIdAllocator ids(**store, clock);
  ProfileId last = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string digest = "digest-" + std::to_string(i);
    EXPECT_TRUE((*store)->ServesKey(digest));  // one node: every partition its own
    auto id = ids.Next(digest);
    ASSERT_TRUE(id) << id.error().ToString();
    EXPECT_EQ(pg::PartitionOfId(*id, 64), pg::PartitionOfDigest(digest, 64)) << *id;
    EXPECT_TRUE((*store)->Places(*id, digest));
    EXPECT_GT(*id, last);
    last = *id;
    ASSERT_TRUE(Write(**store, *id, digest).ok());
  }
  EXPECT_EQ(CountMisplacedExternalIds(**store).value(), 0);
  ProfileId unplaced = last + 1;
  while (pg::PartitionOfId(unplaced, 64) == pg::PartitionOfDigest("old", 64)) {
    ++unplaced;
  }
  EXPECT_FALSE((*store)->Places(unplaced, "old"));
  ASSERT_TRUE(Write(**store, unplaced, "old").ok());  // as a build before placement made it
  EXPECT_EQ(CountMisplacedExternalIds(**store).value(), 1);
  // One node aliases across partitions as before; among several it may not (MayAlias).
  EXPECT_TRUE((*store)->MayAlias("any", unplaced));
}

// Stored rows depend on these values: the hashes must never change.
TEST(PostgresPartitions, TheHashesAreFixedAndSpreadEvenly) {
  EXPECT_EQ(pg::PartitionOfId(42, 1), 0);
  EXPECT_EQ(pg::PartitionOfId(1, 256), 229);
  EXPECT_EQ(pg::PartitionOfDigest("digest", 256), 181);
  std::vector<int> counts(256);
  for (int64_t id = 1'700'000'000'000'000; id < 1'700'000'000'000'000 + 256'000; ++id) {
    ++counts[static_cast<size_t>(pg::PartitionOfId(id, 256))];
  }
  for (int n : counts) {
    EXPECT_GT(n, 800);  // 1,000 each on average
    EXPECT_LT(n, 1200);
  }
}

// PostgreSQL's messages can quote a key's value in their DETAIL; the store's errors never do,
// and a text it can't hold (a NUL byte) is refused, never cut short.
TEST_F(PostgresStoreTest, ErrorsQuoteNoValueAndANulByteIsRefused) {
  auto store = OpenPostgresStore(Options(true));
  ASSERT_TRUE(store);
  ASSERT_TRUE(Write(**store, 1, "secret-digest-bytes").ok());
  Status taken = Write(**store, 2, "secret-digest-bytes");
  EXPECT_EQ(taken.code(), Status::Code::kConflict);
  EXPECT_EQ(taken.ToString().find("secret-digest"), std::string::npos) << taken.ToString();
  Status id_taken = Write(**store, 1, "other");
  EXPECT_EQ(id_taken.code(), Status::Code::kConflict);
  EXPECT_EQ(id_taken.ToString().find("(1)"), std::string::npos) << id_taken.ToString();

  Batch nul;
  nul.events.push_back(EventRow{"e1", 1, std::string("order\0placed", 12), 5, "sealed"});
  auto r = (*store)->Commit(nul);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Status::Code::kInvalidArgument) << r.error().ToString();
  EXPECT_TRUE((*store)->GetEvents(1).value().empty());
  EXPECT_FALSE((*store)->StoredEvents({"e1"}).value()[0]);
}

// A group's duplicate check and insert are one statement each over arrays: many keys at once.
TEST_F(PostgresStoreTest, AGroupOfThousandsOfEventsIsCheckedAndStoredAtOnce) {
  auto store = OpenPostgresStore(Options(true));
  ASSERT_TRUE(store);
  ASSERT_TRUE(Write(**store, 1, "k1").ok());
  Batch b;
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i) {
    keys.push_back("event-" + std::to_string(i));
    b.events.push_back(EventRow{keys.back(), 1, "page.viewed", i, "sealed"});
  }
  b.events.push_back(b.events[10]);  // a repeat within the group
  auto r = (*store)->Commit(b);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->events_stored, 5000);
  EXPECT_EQ(r->duplicates, 1);
  std::vector<std::string_view> asked(keys.begin(), keys.end());
  asked.push_back("never-sent");
  auto stored = (*store)->StoredEvents(asked);
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_EQ(std::count(stored->begin(), stored->end(), true), 5000);
  EXPECT_FALSE(stored->back());
}

// Rows PostgreSQL read of a table: by sequential scan, and fetched through an index.
struct TableReads {
  int64_t seq_rows = -1;
  int64_t index_rows = -1;
};

// For the plans the store's prepared statements keep, read from pg_stat_user_tables.
class PlanTest : public PostgresStoreTest {
 protected:
  // The store's connections to the main database carry `name`, so they can be waited for.
  PostgresOptions Tagged(const std::string& name) const {
    PostgresOptions o = Options(true);
    o.url += "&application_name=" + name;
    return o;
  }
  // What the backends named `name` read of `table` in this test's schema, once their store is
  // closed: a backend hands in its counts before it leaves pg_stat_activity, so this waits for
  // them to leave first.
  TableReads ReadsOf(const std::string& name, const std::string& table) const {
    pg::Connection main = Main();
    int64_t left = -1;
    for (int i = 0; i < 200 && left != 0; ++i) {
      if (i > 0) {
        ::usleep(50'000);
      }
      auto r = main.Run("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1;",
                        pg::Params().Text(name));
      left = r ? r->Int(0, 0) : -1;
    }
    EXPECT_EQ(left, 0) << "the store's backends did not leave";
    const std::string schema = dbs_.url.substr(dbs_.url.find("search_path%3D") + 14);
    auto r = main.Run(
        "SELECT seq_tup_read, coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables "
        "WHERE schemaname = $1 AND relname = $2;",
        pg::Params().Text(schema).Text(table));
    if (!r || r->empty()) {
      ADD_FAILURE() << "no statistics for " << table;
      return {};
    }
    return {r->Int(0, 0), r->Int(0, 1)};
  }
};

// The duplicate check probes event_keys' primary key under the plan its prepared statement
// keeps: a plan made while the table was empty (tens of keys a call, as batched ingestion sends)
// reads none of the keys stored since by a scan (docs/DECISIONS.md 171).
TEST_F(PlanTest, TheDuplicateCheckProbesTheKeysIndexAfterTheTableGrew) {
  const std::string name = "dupcheck-" + std::to_string(::getpid());
  constexpr int kStored = 10000;
  {
    auto store = OpenPostgresStore(Tagged(name));
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE(Write(**store, 1, "k1").ok());
    std::vector<std::string> unsent;
    for (int i = 0; i < 50; ++i) {
      unsent.push_back("unsent-" + std::to_string(i));
    }
    const std::vector<std::string_view> asked(unsent.begin(), unsent.end());
    for (int i = 0; i < 10; ++i) {  // past the custom plans PostgreSQL tries first
      ASSERT_TRUE((*store)->StoredEvents(asked));
    }
    Batch b;
    for (int i = 0; i < kStored; ++i) {
      b.events.push_back(EventRow{"event-" + std::to_string(i), 1, "page.viewed", i, "sealed"});
    }
    ASSERT_TRUE((*store)->Commit(b));
    // Stored keys of several partitions, one asked twice, between keys never sent.
    EXPECT_EQ((*store)
                  ->StoredEvents({"event-17", "unsent-3", "event-9999", "event-17", "event-4242",
                                  "never", "event-0"})
                  .value(),
              (std::vector<bool>{true, false, true, true, true, false, true}));
  }
  const TableReads reads = ReadsOf(name, "event_keys");
  EXPECT_GE(reads.seq_rows, 0);
  EXPECT_LT(reads.seq_rows, kStored) << "the duplicate check scanned event_keys";
}

// The dispatcher's due tasks are read from the index ranges of the waiting states only: a plan
// made while the table was empty reads none of the settled tasks due earlier (docs/DECISIONS.md
// 171).
TEST_F(PlanTest, DueTasksReadNoSettledTaskAfterTheTableGrew) {
  const std::string name = "duetasks-" + std::to_string(::getpid());
  constexpr int kSettled = 2000;
  {
    auto store = OpenPostgresStore(Tagged(name));
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE(Write(**store, 1, "k1").ok());
    for (int i = 0; i < 10; ++i) {  // past the custom plans PostgreSQL tries first
      ASSERT_TRUE((*store)->DueTasks("crm", kSettled, 16));
    }
    auto task = [](std::string dedupe, std::string state, int64_t due) {
      TaskRow t;
      t.dedupe = std::move(dedupe);
      t.profile_id = 1;
      t.trigger = "cart";
      t.purpose = "marketing";
      t.channel = "sms";
      t.sink = "crm";
      t.state = std::move(state);
      t.due_us = t.created_us = t.updated_us = due;
      t.payload = "sealed";
      return t;
    };
    Batch b;
    for (int i = 0; i < kSettled; ++i) {
      b.tasks.push_back(task("settled-" + std::to_string(i), i % 2 ? "delivered" : "dead", i));
    }
    b.tasks.push_back(task("later", "pending", kSettled + 1));
    b.tasks.push_back(task("retry", "retrying", kSettled / 2));
    b.tasks.push_back(task("first", "pending", kSettled / 4));
    ASSERT_TRUE((*store)->Commit(b));
    auto due = (*store)->DueTasks("crm", kSettled, 16);
    ASSERT_TRUE(due) << due.error().ToString();
    ASSERT_EQ(due->size(), 2u);
    EXPECT_EQ((*due)[0].dedupe, "first");
    EXPECT_EQ((*due)[1].dedupe, "retry");
  }
  const TableReads reads = ReadsOf(name, "tasks");
  EXPECT_GE(reads.seq_rows, 0);
  EXPECT_LT(reads.seq_rows + reads.index_rows, kSettled / 2) << "due tasks read settled ones";
}

// Every table leads with the profile id, a partition or (the audit chain) the node, so a
// PostgreSQL that shards by the leading column can distribute it; the rest are small tables of
// configuration-sized data a sharded PostgreSQL keeps whole on every node (reference tables).
TEST_F(PostgresStoreTest, EveryTableLeadsWithAProfileIdOrAPartition) {
  ASSERT_TRUE(OpenPostgresStore(Options(true)));
  const std::set<std::string> reference = {"meta", "tokens", "models", "portrait_schema",
                                           "carried_keys"};
  const std::set<std::string> leading = {"profile_id", "part", "node"};
  for (const auto& [url, password] : {std::pair{dbs_.url, &server_->password()},
                                      {dbs_.keystore_url, &server_->keystore_password()}}) {
    pg::Connection db = pg::Connection::Open(url, password).value();
    auto rows = db.Run(
        "SELECT c.relname::text, a.attname::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
        "WHERE c.relkind = 'r' AND n.nspname = current_schema() ORDER BY 1;");
    ASSERT_TRUE(rows) << rows.error().ToString();
    EXPECT_GT(rows->size(), 2);
    for (int i = 0; i < rows->size(); ++i) {
      const std::string table = rows->Text(i, 0);
      const std::string first = rows->Text(i, 1);
      if (reference.count(table) != 0) {
        continue;
      }
      const bool ok = leading.count(first) != 0 || (table == "profiles" && first == "id");
      EXPECT_TRUE(ok) << table << " leads with " << first;
    }
  }
}

// A server restart or failover drops every connection: the store opens each again before its
// next statement (the statement that found it dropped fails, as it must).
TEST_F(PostgresStoreTest, ConnectionsTheServerDroppedAreOpenedAgain) {
  // Named, so that only this store's connections are dropped (others' tests share the server).
  const std::string name = "dropped-" + std::to_string(::getpid());
  PostgresOptions o = Options(true);
  o.url += "&application_name=" + name;
  o.keystore_url += "&application_name=" + name;
  auto store = OpenPostgresStore(o);
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE(Write(**store, 1, "k1").ok());
  pg::Connection admin =
      pg::Connection::Open(server_->AdminUrl("postgres"), &server_->superuser_password()).value();
  auto killed = admin.Run(
      "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = '" +
      name + "') t;");
  ASSERT_TRUE(killed) << killed.error().ToString();
  EXPECT_GE(killed->Int(0, 0), 4);  // the writer and reader of each database
  Status written = Status::Unavailable("not tried");
  for (int attempt = 0; attempt < 3 && !written.ok(); ++attempt) {
    written = Write(**store, 2, "k2");
    EXPECT_TRUE(written.ok() || written.code() == Status::Code::kUnavailable) << written.ToString();
  }
  ASSERT_TRUE(written.ok()) << written.ToString();
  Result<std::optional<ProfileRow>> read = Error(Status::Unavailable("not tried"));
  for (int attempt = 0; attempt < 3 && !read; ++attempt) {
    read = (*store)->GetProfile(1);
  }
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_TRUE(read->has_value());
  EXPECT_TRUE((*store)->GetProfile(2).value());
  Status put = (*store)->PutDataKey(2, "wrapped");
  put = put.ok() ? put : (*store)->PutDataKey(2, "wrapped");
  ASSERT_TRUE(put.ok()) << put.ToString();
  auto key = (*store)->GetDataKey(2);
  key = key ? key : (*store)->GetDataKey(2);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(*key, "wrapped");
}

}  // namespace
}  // namespace portrait::store
