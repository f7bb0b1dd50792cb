// Rotations killed at every step of the protocol (PORTRAIT_KEY_ROTATE_FAULT ends the process
// there, as a crash would) and at random moments (SIGKILL from `timeout -s KILL`): each leaves
// a data directory that opens with exactly one of the two keys — the one `key status` names —
// and loses no field, event, consent or lookup; portraitd finishes the interrupted rotation
// when it starts, and `key rotate` run again finishes it too.
#include <chrono>
#include <random>

#include "store/key_rotation_protocol.h"
#include "tests/integration/key_rotation_fixture.h"

namespace portrait::testing {
namespace {

using nlohmann::json;

class KeyRotationCrash : public KeyRotation {
 protected:
  // After an interrupted rotation from `old_key`: `key status` names the key the store is on,
  // that key (and only it) opens both databases once the rotation is finished by
  // `finish_with_rotate` (`key rotate`) or by starting portraitd, and nothing is lost.
  void CheckAfterCrash(const std::string& old_key, const std::string& where,
                       bool finish_with_rotate) {
    SCOPED_TRACE(where);
    const json status = Status();
    ASSERT_TRUE(status.is_object());
    ++seen_[status["key"].get<std::string>()];
    const std::string claimed = status["audit_public_key"];
    if (status["key"] == "old") {
      EXPECT_EQ(claimed, AuditPublicKeyOf(old_key));
      EXPECT_EQ(status["state"], "uncommitted");
    } else if (status["key"] == "new") {
      EXPECT_NE(claimed, AuditPublicKeyOf(old_key));
      EXPECT_EQ(status["state"], "committed");
    } else {
      EXPECT_EQ(status["state"], "none");
    }
    std::string out;
    if (finish_with_rotate) {
      ASSERT_EQ(Ctl("key rotate --json", &out), 0) << out;
      const json report = json::parse(out);
      // Rolled forward: done. Rolled back or nothing found: a whole new rotation ran.
      EXPECT_EQ(report["rotated"], status["key"] != "new") << out;
    } else {
      ASSERT_TRUE(daemon_.Start());
      EXPECT_EQ(AuditPublicKeyOf(KeyBytes()), claimed) << "status named another key";
      EXPECT_EQ(Snapshot(), before_);
      EXPECT_EQ(daemon_.Admin("GET", "/v1/audit/verify").json()["ok"], true);
      ASSERT_EQ(daemon_.Stop(), 0);
    }
    EXPECT_EQ(Status()["state"], "none");
    const std::string now = KeyBytes();
    EXPECT_TRUE(DatabasesOpenWith(now));
    if (now != old_key) {
      EXPECT_FALSE(DatabasesOpenWith(old_key));
    }
  }

  std::map<std::string, int> seen_;  // how often `key status` named each key
};

TEST_F(KeyRotationCrash, AFaultAtEveryStepLeavesOneKeyAndEveryField) {
  int faults = 0;
  for (std::string_view step : store::RotationSteps()) {
    const std::string old_key = KeyBytes();
    std::string out;
    ASSERT_EQ(Ctl("key rotate", &out, "PORTRAIT_KEY_ROTATE_FAULT=" + std::string(step) + " "), 86)
        << step << ": " << out;
    ++faults;
    // Every other one is finished by `key rotate`, the rest by portraitd's start.
    CheckAfterCrash(old_key, "fault at " + std::string(step), faults % 2 == 0);
    if (faults % 2 == 0) {  // and then checked by the daemon, field by field
      ASSERT_TRUE(daemon_.Start());
      EXPECT_EQ(Snapshot(), before_) << step;
      ASSERT_EQ(daemon_.Stop(), 0);
    }
  }
  EXPECT_GE(faults, 10);
}

TEST_F(KeyRotationCrash, KilledAtRandomMomentsLeavesOneKeyAndEveryField) {
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Ctl("key rotate", &out), 0) << out;  // how long one takes here
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::mt19937 random(std::random_device{}());
  // Most of a run is the process starting and the old chain's verification; the files
  // change in its second half, where most kills are aimed.
  std::uniform_int_distribution<int> delay_ms(static_cast<int>(took.count() / 3),
                                              static_cast<int>(took.count() * 3 / 2));
  int killed = 0;
  for (int trial = 0; trial < 12; ++trial) {
    const std::string old_key = KeyBytes();
    const int delay = delay_ms(random);
    const int rc =
        Ctl("key rotate", &out, "timeout -s KILL " + std::to_string(delay / 1000.0) + " ");
    ASSERT_TRUE(rc == 0 || rc == 137) << "delay " << delay << " ms: " << rc << ": " << out;
    killed += rc == 137;
    CheckAfterCrash(old_key, "killed after " + std::to_string(delay) + " ms", trial % 3 == 0);
  }
  std::printf(
      "[ figures  ] one rotation of %d customers took %lld ms; %d of 12 runs killed, leaving "
      "the store on the old key %d times, on the new %d, nothing under way %d\n",
      kCustomers, static_cast<long long>(took.count()), killed, seen_["old"], seen_["new"],
      seen_["in_force"]);
}

}  // namespace
}  // namespace portrait::testing
