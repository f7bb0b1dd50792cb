// Writer::SubmitAudit over a real SQLCipher data directory: the records of the reads waiting
// while the writer is busy commit together, in one transaction, and each caller is answered
// with the commit's outcome; a failed commit fails every read of its group; after Stop, a read
// is refused.
#include <gtest/gtest.h>

#include <future>
#include <latch>

#include "daemon/rules_holder.h"
#include "daemon/writer.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

class WriterAudit : public ServiceFixture {
 protected:
  WriterAudit() {
    std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples/rules", dir_ / "rules");
  }

  store::AuditEntry Read(int n) const {
    return store::AuditEntry{
        clock_.NowUs(), "token:t role:admin", "profile.read", n, "service", "{}"};
  }

  int64_t Records() {
    auto head = store_.AuditHead();
    EXPECT_TRUE(head);
    return head ? head->first : -1;
  }

  // Submits `reads` records while an exclusive job holds the writer; the outcome of each.
  std::vector<Status> ReadsWhileBusy(Writer& writer, int reads) {
    std::promise<void> started, release;
    std::thread busy([&] {
      (void)writer.Run([&] {
        started.set_value();
        release.get_future().wait();
        return Status::Ok();
      });
    });
    started.get_future().wait();
    std::vector<Status> outcomes(static_cast<size_t>(reads), Status::Internal("not answered"));
    std::latch answered(reads);
    for (int i = 0; i < reads; ++i) {
      writer.SubmitAudit({Read(i + 1)}, [&, i](Status s) {
        outcomes[static_cast<size_t>(i)] = std::move(s);
        answered.count_down();
      });
    }
    release.set_value();
    answered.wait();
    busy.join();
    return outcomes;
  }

  RulesHolder rules_{LoadRules(in_force_.Get()).value()};
  Ingestor ingestor_{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
  Telemetry metrics_;
};

TEST_F(WriterAudit, TheRecordsOfReadsWaitingCommitTogetherAndEachReadIsAnswered) {
  Writer writer(ingestor_, audit_, metrics_);
  const int64_t before = Records();
  for (const Status& s : ReadsWhileBusy(writer, 25)) {
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(metrics_.audit_commits.value(), 1);  // one transaction for all 25
  EXPECT_EQ(Records(), before + 25);
  auto records = store_.ReadAudit(before, 100).value();
  ASSERT_EQ(records.size(), 25u);
  EXPECT_EQ(records.front().entry.action, "profile.read");
  EXPECT_TRUE(audit_.Verify().value().ok);
}

TEST_F(WriterAudit, AFailedCommitFailsEveryReadOfItsGroupAndStoresNone) {
  Writer writer(ingestor_, audit_, metrics_);
  const int64_t before = Records();
  store_.fail_audit_writes = true;
  for (const Status& s : ReadsWhileBusy(writer, 5)) {
    EXPECT_FALSE(s.ok());
  }
  store_.fail_audit_writes = false;
  EXPECT_EQ(Records(), before);
  for (const Status& s : ReadsWhileBusy(writer, 2)) {
    EXPECT_TRUE(s.ok()) << s.ToString();  // the writer goes on
  }
  EXPECT_EQ(Records(), before + 2);
}

TEST_F(WriterAudit, AReadSubmittedAfterStopIsRefused) {
  Writer writer(ingestor_, audit_, metrics_);
  writer.Stop();
  Status outcome = Status::Ok();
  writer.SubmitAudit({Read(1)}, [&](Status s) { outcome = std::move(s); });
  EXPECT_EQ(outcome.code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace portrait::daemon
