// sqlite::Checkpointer on real SQLCipher files: the write connection no longer checkpoints by
// itself; past the mark, the background thread copies the WAL into the database file; Truncate
// empties the WAL; every committed row stays readable throughout.
#include "store/sqlcipher/checkpointer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/support/test_support.h"

namespace portrait::store::sqlite {
namespace {

namespace fs = std::filesystem;

class CheckpointerTest : public ::testing::Test {
 protected:
  // Commits `transactions` transactions of `rows` rows of 1 KiB each.
  void Insert(Db& db, int transactions, int rows = 20) {
    for (int t = 0; t < transactions; ++t) {
      ASSERT_TRUE(db.Exec("BEGIN;").ok());
      for (int i = 0; i < rows; ++i) {
        Stmt ins(db, "INSERT INTO t (v) VALUES (?);");
        ins.BindBlob(1, std::string(1024, static_cast<char>('a' + i)));
        ASSERT_TRUE(ins.Run().ok());
      }
      ASSERT_TRUE(db.Exec("COMMIT;").ok());
    }
  }

  int64_t Rows(Db& db) {
    Stmt count(db, "SELECT count(*) FROM t;");
    EXPECT_TRUE(count.Step().value());
    return count.Int(0);
  }

  testing::TempDir dir_;
  const std::string path_ = dir_ / "c.db";
  crypto::SecretBytes key_ = crypto::SecretBytes::Random(32).value();
};

TEST_F(CheckpointerTest, TheWalIsCopiedBesideTheWriterAndTruncatedOnDemand) {
  Db writer = Db::Open(path_, key_, /*create=*/true, 4).value();
  ASSERT_TRUE(writer.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);").ok());
  const auto size_before = fs::file_size(path_);
  Checkpointer checkpointer(writer, Db::Open(path_, key_, false, 4).value(), /*wal_pages=*/64);

  Insert(writer, 2);  // about 12 pages: under the mark
  EXPECT_EQ(checkpointer.checkpoints(), 0);
  Insert(writer, 40);  // well past it
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (checkpointer.checkpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition
  }
  ASSERT_GE(checkpointer.checkpoints(), 1);
  EXPECT_GT(fs::file_size(path_), size_before);  // pages copied into the database file
  EXPECT_EQ(Rows(writer), 42 * 20);

  ASSERT_TRUE(checkpointer.Truncate().ok());
  EXPECT_EQ(fs::file_size(path_ + "-wal"), 0u);
  Db reader = Db::Open(path_, key_, false, 4).value();
  EXPECT_EQ(Rows(reader), 42 * 20);
}

TEST_F(CheckpointerTest, WithoutOneTheWalGrowsPastTheMarkUncopied) {
  // The write connection's own checkpoint (8,192 pages for every Db) is off while a
  // Checkpointer watches it: the pages reach the database file only through the Checkpointer's
  // thread (or Truncate).
  Db writer = Db::Open(path_, key_, /*create=*/true, 4).value();
  ASSERT_TRUE(writer.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);").ok());
  Checkpointer checkpointer(writer, Db::Open(path_, key_, false, 4).value(),
                            /*wal_pages=*/1'000'000);
  const auto size_before = fs::file_size(path_);
  Insert(writer, 80, 500);  // 40 MiB of rows: past the 8,192 pages of the Db's own mark
  EXPECT_EQ(checkpointer.checkpoints(), 0);
  EXPECT_EQ(fs::file_size(path_), size_before);
  EXPECT_GT(fs::file_size(path_ + "-wal"), 8'192u * 4096);
}

}  // namespace
}  // namespace portrait::store::sqlite
