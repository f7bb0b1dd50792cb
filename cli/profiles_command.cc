#include "cli/profiles_command.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "base/url.h"
#include "cli/daemon_connection.h"

namespace portrait::cli {
namespace {

struct ProfilesOptions {
  DaemonOptions daemon;
  std::string id;
  std::string reason;
};

int Hold(const ProfilesOptions& o, bool place) {
  const std::string body = place ? nlohmann::json{{"reason", o.reason}}.dump() : "";
  return CallAndPrint(o.daemon, place ? "profiles hold" : "profiles unhold",
                      place ? "PUT" : "DELETE", "/v1/profiles/" + PercentEncode(o.id) + "/hold",
                      body, [&](const nlohmann::json& answer) {
                        std::cout << "profile " << answer.value("internal_id", int64_t{0})
                                  << (place ? ": legal hold placed\n" : ": legal hold lifted\n");
                      });
}

}  // namespace

void AddProfilesCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ProfilesOptions>();
  CLI::App* profiles =
      app.add_subcommand("profiles", "Profiles' legal holds, through the running daemon");
  profiles->require_subcommand(1);

  CLI::App* hold = profiles->add_subcommand(
      "hold",
      "Place a legal hold on a profile: erasure and retention purges are refused until it is "
      "lifted. Needs the erase permission; audited with the reason.\n"
      "  portraitctl profiles hold C1042 --reason \"case 2026-17\"");
  hold->add_option("id", o->id, "the profile's external id")->required();
  hold->add_option("--reason", o->reason, "why (at most 200 bytes; no personal data)")->required();
  AddDaemonOptions(hold, o->daemon);
  hold->callback([o, &exit_code] { exit_code = Hold(*o, true); });

  CLI::App* unhold = profiles->add_subcommand(
      "unhold", "Lift a profile's legal hold. Needs the erase permission; audited.");
  unhold->add_option("id", o->id, "the profile's external id")->required();
  AddDaemonOptions(unhold, o->daemon);
  unhold->callback([o, &exit_code] { exit_code = Hold(*o, false); });
}

}  // namespace portrait::cli
