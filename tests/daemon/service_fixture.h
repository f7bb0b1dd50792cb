// A complete privacy core over a real SQLCipher data directory made from the shipped example
// config: vault, audit log, consent and profile services, a FakeClock, and a logger whose output
// the test can read. The store is wrapped in a FaultyStore for fault injection.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <sstream>

#include "base/time_format.h"
#include "config/loader.h"
#include "daemon/consent_service.h"
#include "daemon/profile_service.h"
#include "tests/support/faulty_store.h"
#include "tests/support/test_support.h"

namespace portrait::daemon {

class ServiceFixture : public ::testing::Test {
 protected:
  static config::Config ExampleConfig(const testing::TempDir& dir) {
    std::filesystem::copy_file(std::string(PORTRAIT_SOURCE_DIR) + "/examples/portrait.toml",
                               dir / "portrait.toml");
    auto config = config::LoadConfig(dir / "portrait.toml");
    EXPECT_TRUE(config) << config.error().ToString();
    return *config;
  }
  Caller As(std::string_view role, std::string_view purpose) {
    auto caller = MakeCaller(in_force_.Get(), std::string(role) + "-token", role, purpose);
    EXPECT_TRUE(caller) << caller.error().ToString();
    return *caller;
  }
  int64_t Now() const { return clock_.NowUs(); }
  std::string At(int64_t us) const { return FormatRfc3339(us); }

  testing::TempDir dir_;
  config::Config config_ = ExampleConfig(dir_);
  config::ConfigHolder in_force_{std::make_shared<const config::Config>(config_)};
  store::DataDir data_ = store::InitDataDir(config_).value();
  testing::FaultyStore store_{*data_.store};
  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  crypto::AuditSigner signer_ = crypto::AuditSigner::Create(data_.keys.audit_seed()).value();
  store::AuditLog audit_{store_, signer_, data_.keys.audit_mac_key(), clock_, {100}};
  store::ProfileVault vault_{in_force_, store_, data_.keys, data_.blind, clock_, &audit_};
  std::ostringstream log_text_;
  spdlog::logger log_{"test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_text_)};
  ConsentService consents_{store_, vault_, audit_, clock_, log_};
  ProfileService profiles_{vault_, consents_, audit_, clock_, log_};
};

}  // namespace portrait::daemon
