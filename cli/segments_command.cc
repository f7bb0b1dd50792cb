#include "cli/segments_command.h"

#include <cstdio>
#include <iostream>

#include "base/url.h"
#include "cli/daemon_connection.h"

namespace portrait::cli {
namespace {

struct SegmentsOptions {
  DaemonOptions daemon;
  std::string name;
  std::string after;  // the opaque cursor of the page before ("" for the first)
  int limit = 100;
};

void PrintSegments(const nlohmann::json& answer) {
  const nlohmann::json segments = answer.value("segments", nlohmann::json::array());
  std::printf("%-32s %s\n", "SEGMENT", "MEMBERS");
  bool bounded = false;
  for (const auto& s : segments) {
    const bool complete = s.value("complete", true);
    bounded = bounded || !complete;
    std::printf("%-32s %lld%s\n", s.value("name", "").c_str(),
                static_cast<long long>(s.value("members", int64_t{0})), complete ? "" : "+");
  }
  if (bounded) {
    std::cerr << "N+: at least N; only the first index rows were counted (page the members for "
                 "the rest)\n";
  }
  if (segments.empty()) {
    std::cerr << "no segment this purpose may use\n";
  }
}

void PrintMembers(const nlohmann::json& answer) {
  const nlohmann::json members = answer.value("members", nlohmann::json::array());
  for (const auto& m : members) {
    std::printf("%s\n", m.is_string() ? m.get<std::string>().c_str() : "");
  }
  if (const nlohmann::json next = answer.value("next_after", nlohmann::json()); next.is_string()) {
    std::cerr << "more members: run again with --after " << next.get<std::string>() << "\n";
  } else if (members.empty()) {
    std::cerr << "no members\n";
  }
}

int Members(const SegmentsOptions& o) {
  std::string target =
      "/v1/segments/" + PercentEncode(o.name) + "/members?limit=" + std::to_string(o.limit);
  if (!o.after.empty()) {
    target += "&after=" + PercentEncode(o.after);
  }
  return CallAndPrint(o.daemon, "segments members", "GET", target, "", PrintMembers);
}

}  // namespace

void AddSegmentsCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SegmentsOptions>();
  CLI::App* segments = app.add_subcommand(
      "segments",
      "The [[segment]]s of the rules in force and their members, as the purpose (--purpose) may "
      "see them. Through the running daemon; needs the segments.read permission.");
  segments->require_subcommand(1);

  CLI::App* list =
      segments->add_subcommand("list",
                               "List the segments the purpose may use, with their member counts.\n"
                               "  portraitctl segments list --purpose marketing");
  AddDaemonOptions(list, o->daemon);
  list->callback([o, &exit_code] {
    exit_code = CallAndPrint(o->daemon, "segments list", "GET", "/v1/segments", "", PrintSegments);
  });

  CLI::App* members = segments->add_subcommand(
      "members",
      "List a segment's members by external id, one a line, in the order they were created. "
      "A page ends with the cursor of the next one (opaque; valid until the daemon restarts).\n"
      "  portraitctl segments members vip --purpose marketing --limit 500\n"
      "  portraitctl segments members vip --after CURSOR --json   the next page, as JSON");
  members->add_option("name", o->name, "the segment's name")->required();
  members->add_option("--after", o->after,
                      "page on: the cursor the page before printed (its next_after)");
  members->add_option("--limit", o->limit, "at most this many (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  AddDaemonOptions(members, o->daemon);
  members->callback([o, &exit_code] { exit_code = Members(*o); });
}

}  // namespace portrait::cli
