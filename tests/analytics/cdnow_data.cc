#include "tests/analytics/cdnow_data.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace portrait::analytics::testing {

int64_t DateUs(int yyyymmdd) {
  using namespace std::chrono;
  const year_month_day date{year{yyyymmdd / 10000},
                            month{static_cast<unsigned>(yyyymmdd / 100 % 100)},
                            day{static_cast<unsigned>(yyyymmdd % 100)}};
  return duration_cast<microseconds>(sys_days{date}.time_since_epoch()).count();
}

std::map<int64_t, std::vector<Purchase>> ReadCdnow(const std::string& path, CdnowFile kind) {
  std::map<int64_t, std::vector<Purchase>> customers;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \r") == std::string::npos) continue;
    if (kind == CdnowFile::kMaster && line.find("customer_id") != std::string::npos) continue;
    std::istringstream fields(line);
    int64_t master_id = 0, id = 0;
    int date = 0, cds = 0;
    double dollars = 0;
    if (kind == CdnowFile::kSample) {
      fields >> master_id >> id >> date >> cds >> dollars;
    } else {
      fields >> id >> date >> cds >> dollars;
    }
    EXPECT_FALSE(fields.fail()) << path << ":" << line_number;
    if (fields.fail()) break;
    customers[id].push_back({DateUs(date), dollars});
  }
  return customers;
}

}  // namespace portrait::analytics::testing
