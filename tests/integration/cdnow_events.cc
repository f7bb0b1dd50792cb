#include "tests/integration/cdnow_events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace portrait::testing {

std::string WriteCdnowEvents(const std::string& path) {
  std::ifstream in(kCdnowSample);
  std::ofstream out(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string master, sample, date;
    int cds = 0;
    double dollars = 0;
    fields >> master >> sample >> date >> cds >> dollars;
    if (fields.fail() || date.size() != 8) {
      ADD_FAILURE() << "CDNOW line " << n + 1;
      continue;
    }
    nlohmann::json e = {{"specversion", "1.0"},
                        {"id", "cdnow-" + std::to_string(++n)},
                        {"source", "cdnow"},
                        {"type", "order.placed"},
                        {"subject", "cdnow-" + std::to_string(std::stoi(sample))},
                        {"time", date.substr(0, 4) + "-" + date.substr(4, 2) + "-" +
                                     date.substr(6, 2) + "T12:00:00Z"},
                        {"data", {{"amount", dollars}, {"items", cds}, {"category", "music"}}}};
    out << e.dump() << "\n";
  }
  EXPECT_EQ(n, 6919);
  return path;
}

std::map<int, std::vector<analytics::Purchase>> CdnowLogs() {
  std::map<int, std::vector<analytics::Purchase>> logs;
  std::ifstream in(kCdnowSample);
  std::string master, date;
  int sample = 0, cds = 0;
  double dollars = 0;
  while (in >> master >> sample >> date >> cds >> dollars) {
    using namespace std::chrono;
    const int ymd = std::stoi(date);
    const auto day = sys_days{year{ymd / 10000} / (ymd / 100 % 100) / (ymd % 100)};
    logs[sample].push_back({duration_cast<microseconds>(day.time_since_epoch()).count(), dollars});
  }
  return logs;
}

}  // namespace portrait::testing
