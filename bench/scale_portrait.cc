#include "bench/scale_portrait.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "analytics/simulation.h"
#include "base/time_format.h"
#include "bench/scale_fixture.h"

namespace portrait::bench {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

// A BG/NBD model over the simulated `purchase` events.
constexpr const char* kModelRules = R"(
[[model]]
name = "clv"
kind = "bgnbd"
purchases = "purchase"
amount = "amount"
unit = "week"
discount = 0.1
)";

// An RFM score over the example rules' order metrics and a tag reading it and one reading the
// model's predictions, so that a refresh and a fit both change what the re-evaluation decides.
constexpr const char* kValueRules = R"(
[[score]]
name = "rfm"
kind = "rfm"
recency = "last_order"
frequency = "orders"
monetary = "spent"

[[tag]]
path = "rfm/important_value"
when = "scores.rfm.group == 'important_value'"

[[tag]]
path = "clv/slipping"
when = "predict.clv.p_alive < 0.3"
)";

// Customer i's simulated purchases as `purchase` events (ids "p<i>-<k>") in the weeks before
// `now_s`: the first T weeks ago, the x repeats evenly up to t_x after it. Returns how many.
int64_t AppendPurchases(int64_t i, const analytics::SimulatedCustomer& c, int64_t now_s,
                        nlohmann::json& out) {
  constexpr double kWeek = 7 * 86400;
  const analytics::BgNbdCustomer& p = c.purchases;
  const int64_t first = now_s - 60 - static_cast<int64_t>(p.T * kWeek);
  for (int64_t k = 0; k <= p.x; ++k) {
    const double after = p.x == 0 ? 0 : p.t_x * kWeek * static_cast<double>(k) / p.x;
    const double amount = k == 0 ? c.first_value : c.mean_repeat_value;
    out.push_back({{"id", "p" + std::to_string(i) + "-" + std::to_string(k)},
                   {"subject", CustomerId(i)},
                   {"time", FormatRfc3339((first + static_cast<int64_t>(after)) * 1'000'000)},
                   {"type", "purchase"},
                   {"data", {{"amount", std::round(amount * 100) / 100}}}});
  }
  return p.x + 1;
}

constexpr const char* kPass = "profiles re-evaluated";
constexpr double kPassTimeout = 3600;

double MsSince(Steady::time_point since) {
  return std::chrono::duration<double, std::milli>(Steady::now() - since).count();
}

[[noreturn]] void Fail(const std::string& what, const cli::HttpResult& r) {
  std::cerr << what << ": answer " << r.status << ": " << r.body.substr(0, 400) << "\n";
  std::exit(1);
}

// The "(N ms)" at the end of a log line, or -1.
double DaemonMs(const std::string& line) {
  const size_t open = line.rfind('(');
  return open == std::string::npos ? -1 : std::atof(line.c_str() + open + 1);
}

// Sends `method target body` and waits for the re-evaluation it causes; returns the request's
// wall milliseconds and the pass's own figure. `answer` receives the request's answer.
std::pair<double, double> RequestAndPass(ChildDaemon& daemon, const std::string& token,
                                         const std::string& target, const std::string& body,
                                         cli::HttpResult& answer) {
  const int before = GrepLog(daemon.log_path(), kPass).first;
  cli::HttpClient client(daemon.port());
  const auto t0 = Steady::now();
  answer = client.Send("POST", target, body, Headers(token));
  const double request_ms = MsSince(t0);
  if (answer.status != 200) {
    Fail(target, answer);
  }
  return {request_ms, DaemonMs(AwaitLogLine(daemon.log_path(), kPass, before, kPassTimeout))};
}

// The count before " index rows changed" in a pass's log line, or -1.
int64_t IndexRowsChanged(const std::string& line) {
  const size_t end = line.find(" index rows changed");
  const size_t start = line.rfind(' ', end == std::string::npos ? 0 : end - 1);
  return end == std::string::npos || start == std::string::npos
             ? -1
             : std::atoll(line.c_str() + start + 1);
}

}  // namespace

void WriteModelRules(const fs::path& dir) {
  std::ofstream(dir / "rules/model.toml") << kModelRules;
}

PortraitFigures MeasurePortrait(const fs::path& dir, ChildDaemon& daemon, const std::string& token,
                                int64_t customers) {
  PortraitFigures f;
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const auto simulated = analytics::Simulate({0.243, 4.414, 0.793, 2.426}, {6.25, 3.74, 15.44},
                                             {customers, 27, 39, 20261201});
  std::atomic<int64_t> sent{0};
  const double purchases_s = ParallelFor(
      daemon.port(), 2, customers, 200, [&](cli::HttpClient& client, int64_t b, int64_t e) {
        nlohmann::json events = nlohmann::json::array();
        for (int64_t i = b; i < e; ++i) {
          sent += AppendPurchases(i, simulated[static_cast<size_t>(i)], now_s, events);
        }
        auto r = client.Send("POST", "/v1/events", events.dump(), Headers(token));
        if (r.status != 202) {
          Fail("purchases", r);
        }
      });
  f.purchases = sent;
  std::printf("%lld purchases in %.1f s\n", static_cast<long long>(f.purchases), purchases_s);
  std::ofstream(dir / "rules/value.toml") << kValueRules;
  std::ofstream(dir / "rules/segments.toml") << SegmentRules(2);
  const int before = GrepLog(daemon.log_path(), kPass).first;
  const double cpu0 = daemon.CpuSeconds();
  const auto t0 = Steady::now();
  cli::HttpClient client(daemon.port());
  auto r = client.Send("POST", "/v1/admin/reload", "", Headers(token));
  if (r.status != 200) {
    Fail("reload", r);
  }
  const std::string pass = AwaitLogLine(daemon.log_path(), kPass, before, kPassTimeout);
  f.pass_ms = DaemonMs(pass);
  f.pass_wall_ms = MsSince(t0);
  f.pass_cpu_s = daemon.CpuSeconds() - cpu0;
  f.index_rows = IndexRowsChanged(pass);
  std::printf("re-evaluated after adding the segments: %.0f ms\n", f.pass_ms);
  cli::HttpResult answer;
  std::tie(f.refresh_ms, f.refresh_pass_ms) =
      RequestAndPass(daemon, token, "/v1/scores/rfm/refresh", "", answer);
  std::printf("rfm refreshed: %.0f ms, then re-evaluated: %.0f ms\n", f.refresh_ms,
              f.refresh_pass_ms);
  std::tie(f.fit_ms, f.fit_pass_ms) =
      RequestAndPass(daemon, token, "/v1/models/clv/fit", "{}", answer);
  f.fit_customers = answer.json().value("customers", int64_t{0});
  f.fit_read_from = answer.json().value("read_from", "");
  std::printf("clv fitted: %.0f ms, then re-evaluated: %.0f ms\n", f.fit_ms, f.fit_pass_ms);
  return f;
}

}  // namespace portrait::bench
