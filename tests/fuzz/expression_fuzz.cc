// libFuzzer harness for the rule expression parser and evaluator (clang only):
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DPORTRAIT_FUZZ=ON
//   cmake --build build-fuzz --target expression_fuzz && build-fuzz/bin/expression_fuzz
//   -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/loader.h"
#include "rules/evaluator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrait;
  static const config::Config config = [] {
    auto c = config::ParseConfig(
        "[daemon]\ndata_dir = \"var\"\n[keys]\nfile = \"k\"\n"
        "[[field]]\nname = \"city\"\ntype = \"string\"\n"
        "[[field]]\nname = \"birthday\"\ntype = \"date\"\n",
        "/fuzz/portrait.toml");
    return c ? *c : config::Config{};
  }();
  static const rules::Schema schema{
      &config, {{"orders", rules::Type::kNumber}, {"last", rules::Type::kTime}}, true};
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto expr = rules::ParseExpression(text, schema);
  if (expr) {
    static const nlohmann::json fields = {{"city", "x"}, {"birthday", "2000-02-29"}};
    static const nlohmann::json metrics = {{"orders", 2}, {"last", 0}};
    static const std::vector<std::string> tags = {"a/b"};
    static const nlohmann::json event_data = {{"k", 1}};
    rules::EventFacts event{"t", 0, &event_data};
    rules::Facts facts{&fields, &metrics, &tags, "new", "UTC", &event, 1'700'000'000'000'000};
    (void)rules::Evaluate(*expr, facts);
    (void)rules::Explain(*expr, text, facts);
  }
  return 0;
}
