// The built binaries, run for real: portraitctl init, then portraitd until SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/support/test_support.h"

namespace portrait {
namespace {

namespace fs = std::filesystem;
using testing::BinDir;
using testing::RunCommand;

class Binaries : public ::testing::Test {
 protected:
  void SetUp() override {
    config_path_ = dir_ / "portrait.toml";
    testing::WriteFile(config_path_, testing::TestConfigText());
  }
  std::string Ctl(const std::string& args) { return BinDir() + "/portraitctl " + args + " 2>&1"; }

  // Starts portraitd with output to `log`; returns its pid.
  pid_t StartDaemon(const std::string& log) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::string bin = BinDir() + "/portraitd";
      ::execl(bin.c_str(), bin.c_str(), "--config", config_path_.c_str(), "--listen", "127.0.0.1:0",
              nullptr);
      ::_exit(127);
    }
    return pid;
  }

  // Waits up to `seconds` for `text` to appear in `log`.
  static bool WaitForLog(const std::string& log, const std::string& text, int seconds = 20) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (testing::ReadFile(log).find(text) != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  static int WaitExit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  testing::TempDir dir_;
  std::string config_path_;
};

TEST_F(Binaries, InitCreatesAnOwnerOnlyDataDirectoryOnce) {
  std::string out;
  ASSERT_EQ(RunCommand(Ctl("init --config " + config_path_), &out), 0) << out;
  EXPECT_NE(out.find("created data directory"), std::string::npos) << out;
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "var/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "var").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(fs::exists(dir_ / "var/portrait.db"));
  EXPECT_TRUE(fs::exists(dir_ / "var/keystore.db"));

  std::string key = testing::ReadFile(dir_ / "var/master.key");
  out.clear();
  EXPECT_EQ(RunCommand(Ctl("init --config " + config_path_), &out), 1);
  EXPECT_NE(out.find("refusing to overwrite"), std::string::npos) << out;
  EXPECT_EQ(testing::ReadFile(dir_ / "var/master.key"), key);
}

TEST_F(Binaries, InitJsonAndUsageErrors) {
  std::string out;
  ASSERT_EQ(RunCommand(Ctl("init --json --config " + config_path_), &out), 0) << out;
  EXPECT_NE(out.find("\"data_dir\":\"" + (dir_ / "var") + "\""), std::string::npos) << out;
  EXPECT_EQ(RunCommand(Ctl(""), &out), 2);
  EXPECT_EQ(RunCommand(Ctl("frobnicate"), &out), 2);
  out.clear();
  EXPECT_EQ(RunCommand(Ctl("--help"), &out), 0);
  EXPECT_NE(out.find("init"), std::string::npos);
}

TEST_F(Binaries, DaemonServesUntilSigtermAndExitsCleanly) {
  ASSERT_EQ(RunCommand(Ctl("init --config " + config_path_)), 0);
  const std::string log = dir_ / "portraitd.log";
  pid_t pid = StartDaemon(log);
  ASSERT_TRUE(WaitForLog(log, "listening on http://127.0.0.1:")) << testing::ReadFile(log);
  EXPECT_NE(testing::ReadFile(log).find("0 profiles"), std::string::npos);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_NE(testing::ReadFile(log).find("portraitd stopped"), std::string::npos);
}

TEST_F(Binaries, DaemonRefusesALooseKeyFile) {
  ASSERT_EQ(RunCommand(Ctl("init --config " + config_path_)), 0);
  ::chmod((dir_ / "var/master.key").c_str(), 0644);
  const std::string log = dir_ / "portraitd.log";
  EXPECT_EQ(WaitExit(StartDaemon(log)), 1);
  EXPECT_NE(testing::ReadFile(log).find("chmod 600"), std::string::npos) << testing::ReadFile(log);
}

TEST_F(Binaries, DaemonRefusesAMissingDataDirectory) {
  const std::string log = dir_ / "portraitd.log";
  EXPECT_EQ(WaitExit(StartDaemon(log)), 1);
  EXPECT_NE(testing::ReadFile(log).find("portraitctl init"), std::string::npos)
      << testing::ReadFile(log);
  EXPECT_FALSE(fs::exists(dir_ / "var"));
}

}  // namespace
}  // namespace portrait

#include <fstream>

#include "config/loader.h"
#include "store/audit_log.h"
#include "store/data_dir.h"

namespace portrait {
namespace {

TEST_F(Binaries, AuditPubkeyAndOfflineVerifyOfAnExport) {
  ASSERT_EQ(RunCommand(Ctl("init --config " + config_path_)), 0);
  const std::string export_path = dir_ / "audit.jsonl";
  {
    auto config = config::LoadConfig(config_path_).value();
    auto data = store::OpenDataDir(config).value();
    auto signer = crypto::AuditSigner::Create(data.keys.audit_seed()).value();
    FakeClock clock(TimePoint(std::chrono::seconds(1'700'000'000)));
    store::AuditLog log(*data.store, signer, data.keys.audit_mac_key(), clock, {5});
    for (int i = 0; i < 12; ++i) {
      ASSERT_TRUE(log.Append({store::AuditEntry{i, "system", "test.event", 0, "", "{}"}}).ok());
    }
    std::ofstream out(export_path);
    ASSERT_TRUE(log.Export(out).ok());
  }
  std::string pubkey;
  ASSERT_EQ(RunCommand(BinDir() + "/portraitctl audit pubkey --config " + config_path_, &pubkey),
            0);
  pubkey.erase(pubkey.find_last_not_of('\n') + 1);
  ASSERT_EQ(pubkey.size(), 64u) << pubkey;

  std::string out;
  EXPECT_EQ(RunCommand(Ctl("audit verify --file " + export_path + " --pubkey " + pubkey), &out), 0)
      << out;
  // 13: the first token's creation by init, then the 12 appended here.
  EXPECT_NE(out.find("ok: 13 records"), std::string::npos) << out;

  std::string text = testing::ReadFile(export_path);
  text.replace(text.find("\"seq\":7,\"time_us\":5"), 20, "\"seq\":7,\"time_us\":9");
  testing::WriteFile(export_path, text);
  out.clear();
  EXPECT_EQ(
      RunCommand(Ctl("audit verify --json --file " + export_path + " --pubkey " + pubkey), &out),
      1);
  EXPECT_NE(out.find("\"first_bad_seq\":7"), std::string::npos) << out;
  EXPECT_EQ(RunCommand(Ctl("audit verify --file " + export_path + " --pubkey nothex")), 2);
}

}  // namespace
}  // namespace portrait

namespace portrait {
namespace {

TEST(RulesCheck, ReportsOkForTheExamplesAndFileLineColForABrokenRule) {
  testing::TempDir dir;
  std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples", dir.path(),
                        std::filesystem::copy_options::recursive);
  const std::string config = dir / "portrait.toml";
  std::string out;
  ASSERT_EQ(RunCommand(BinDir() + "/portraitctl rules check --config " + config + " 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("ok: 3 rule files"), std::string::npos) << out;
  testing::WriteFile(dir / "rules/broken.toml",
                     "[[trigger]]\nid = \"x\"\npurpose = \"marketing\"\non.event = \"a\"\n"
                     "when = \"fields.email != ''\"\ntask = \"t\"\nchannel = \"sms\"\n"
                     "sink = \"crm\"\nmessage = \"hi\"\n");
  out.clear();
  EXPECT_EQ(RunCommand(BinDir() + "/portraitctl rules check --config " + config + " 2>&1", &out),
            1);
  EXPECT_NE(out.find("broken.toml:5:9: trigger 'x' key 'when': field 'email' is only visible "
                     "masked to purpose 'marketing'"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace portrait
