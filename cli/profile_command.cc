#include "cli/profile_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/url.h"
#include "cli/daemon_connection.h"
#include "cli/output.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

struct ProfileOptions {
  DaemonOptions daemon;
  std::string id;
  std::string reason;
  std::vector<std::string> fields;       // NAME=VALUE, the value a string
  std::vector<std::string> json_fields;  // NAME=JSON
  std::vector<std::string> tags;
  std::vector<std::string> untags;
  std::string timezone;
  std::string query;  // FIELD=VALUE
  std::string out;
  bool yes = false;
};

std::string Target(const std::string& id, const std::string& rest = "") {
  return "/v1/profiles/" + PercentEncode(id) + rest;
}

// A JSON value as a cell: strings as they are, anything else as compact JSON.
std::string Cell(const json& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Joined(const json& list) {
  std::string out;
  for (const json& item : list.is_array() ? list : json::array()) {
    out += (out.empty() ? "" : ", ") + Cell(item);
  }
  return out.empty() ? "-" : out;
}

void PrintNamed(const char* heading, const json& values, const json& masked = json::array()) {
  if (!values.is_object() || values.empty()) {
    return;
  }
  std::vector<std::vector<std::string>> rows{{heading, "VALUE", ""}};
  for (const auto& [name, value] : values.items()) {
    const bool is_masked =
        masked.is_array() && std::find(masked.begin(), masked.end(), json(name)) != masked.end();
    rows.push_back({name, Cell(value), is_masked ? "(masked)" : ""});
  }
  std::cout << Table(rows);
}

void PrintProfile(const json& p) {
  std::cout << "profile " << Printable(Cell(p.value("id", json("")))) << " (internal id "
            << Cell(p.value("internal_id", json(0))) << ")\n";
  PrintNamed("FIELD", p.value("fields", json::object()), p.value("masked", json::array()));
  std::cout << Table({{"withheld:", Joined(p.value("withheld", json::array()))},
                      {"tags:", Joined(p.value("tags", json::array()))},
                      {"lifecycle:", Cell(p.value("lifecycle", json("-")))},
                      {"timezone:", Cell(p.value("timezone", json("-")))},
                      {"basis:", Cell(p.value("basis", json("-")))}});
  PrintNamed("METRIC", p.value("metrics", json::object()));
  PrintNamed("SCORE", p.value("scores", json::object()));
  PrintNamed("PREDICTION", p.value("predictions", json::object()));
}

// Splits "NAME=VALUE" at the first '='; nullopt without one or with an empty name.
std::optional<std::pair<std::string, std::string>> NameValue(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return std::nullopt;
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

int Usage(const std::string& verb, const std::string& message) {
  std::cerr << "portraitctl " << verb << ": " << message << "\n";
  return 2;
}

int Put(const ProfileOptions& o) {
  json fields = json::object();
  for (const std::string& f : o.fields) {
    auto nv = NameValue(f);
    if (!nv) {
      return Usage("profile put", "--field expects NAME=VALUE");
    }
    fields[nv->first] = nv->second;
  }
  for (const std::string& f : o.json_fields) {
    auto nv = NameValue(f);
    json value = nv ? json::parse(nv->second, nullptr, false) : json();
    if (!nv || value.is_discarded()) {
      return Usage("profile put",
                   "--field-json expects NAME=JSON (e.g. age=42, vip=true, "
                   "phone=null to delete)");
    }
    fields[nv->first] = std::move(value);
  }
  json body = json::object();
  if (!fields.empty()) body["fields"] = fields;
  if (!o.tags.empty()) body["tags"]["add"] = o.tags;
  if (!o.untags.empty()) body["tags"]["remove"] = o.untags;
  if (!o.timezone.empty()) body["timezone"] = o.timezone;
  if (body.empty()) {
    return Usage("profile put",
                 "nothing to write: give --field, --field-json, --tag, --untag "
                 "or --timezone");
  }
  return CallAndPrint(o.daemon, "profile put", "PUT", Target(o.id),
                      body.dump(-1, ' ', false, json::error_handler_t::replace), [](const json& a) {
                        std::cout << "profile " << Cell(a.value("internal_id", json(0)))
                                  << (a.value("created", false) ? " created\n" : " updated\n");
                      });
}

int Find(const ProfileOptions& o) {
  auto nv = NameValue(o.query);
  if (!nv) {
    return Usage("profile find", "expected FIELD=VALUE, e.g. email=fang@example.cn");
  }
  return CallAndPrint(o.daemon, "profile find", "GET",
                      "/v1/profiles?" + PercentEncode(nv->first) + "=" + PercentEncode(nv->second),
                      "", [](const json& a) {
                        const json ids = a.value("ids", json::array());
                        for (const json& id : ids) {
                          std::cout << Printable(Cell(id)) << "\n";
                        }
                        if (ids.empty()) {
                          std::cerr << "no profile found\n";
                        }
                      });
}

int Erase(const ProfileOptions& o) {
  if (!o.yes) {
    return Usage("profile erase",
                 "erasure destroys the profile's key and cannot be undone; add --yes");
  }
  return CallAndPrint(o.daemon, "profile erase", "DELETE", Target(o.id), "", [](const json& a) {
    std::cout << "profile " << Cell(a.value("internal_id", json(0))) << " erased at "
              << Cell(a.value("erased_at", json(""))) << ": "
              << Cell(a.value("fields_deleted", json(0))) << " fields and "
              << Cell(a.value("events_deleted", json(0))) << " events deleted, data key "
              << Cell(a.value("data_key", json("")))
              << "; kept: " << Cell(a.value("kept", json("-"))) << "\n";
  });
}

// Writes `content` to a new file at `path`, mode 0600; refuses an existing path (a link too).
Status WriteNewFile(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Internal("--out: cannot create the file: " + std::string(std::strerror(errno)) +
                            (errno == EEXIST ? " (an export never overwrites one)" : ""));
  }
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  const bool ok = written == content.size() && ::fsync(fd) == 0;
  if (::close(fd) != 0 || !ok) {
    ::unlink(path.c_str());
    return Status::Internal("--out: could not write the file; nothing kept");
  }
  return Status::Ok();
}

int Export(const ProfileOptions& o) {
  struct stat st;
  if (::lstat(o.out.c_str(), &st) == 0) {
    return Fail("profile export", Status::Conflict("--out: the file exists; an export never "
                                                   "overwrites one"));
  }
  auto conn = DaemonConnection::Open(o.daemon);
  if (!conn) {
    return Fail("profile export", conn.error());
  }
  auto answer = conn->Call("GET", Target(o.id, "/export"));
  if (!answer) {
    return Fail("profile export", answer.error());
  }
  const std::string text = answer->dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  if (Status s = WriteNewFile(o.out, text); !s.ok()) {
    return Fail("profile export", s);
  }
  const json consents = answer->value("consents", json::object());
  const json summary = {
      {"file", o.out},
      {"bytes", text.size()},
      {"internal_id", answer->value("internal_id", json(0))},
      {"events", answer->value("events", json::array()).size()},
      {"tasks", answer->value("tasks", json::array()).size()},
      {"consent_records",
       consents.is_object() ? consents.value("history", json::array()).size() : 0}};
  if (o.daemon.json) {
    std::cout << summary.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    std::cout << "profile " << Cell(summary["internal_id"]) << " exported to " << Printable(o.out)
              << " (mode 0600, " << text.size() << " bytes): " << summary["events"] << " events, "
              << summary["tasks"] << " tasks, " << summary["consent_records"]
              << " consent records\n";
  }
  return 0;
}

int Hold(const ProfileOptions& o, bool place) {
  const std::string body = place ? json{{"reason", o.reason}}.dump() : "";
  return CallAndPrint(o.daemon, place ? "profile hold" : "profile unhold", place ? "PUT" : "DELETE",
                      Target(o.id, "/hold"), body, [&](const json& answer) {
                        std::cout << "profile " << Cell(answer.value("internal_id", json(0)))
                                  << (place ? ": legal hold placed\n" : ": legal hold lifted\n");
                      });
}

CLI::App* Verb(CLI::App* group, const std::string& name, const std::string& help, ProfileOptions& o,
               bool takes_id = true) {
  CLI::App* verb = group->add_subcommand(name, help);
  if (takes_id) {
    verb->add_option("id", o.id, "the profile's external id")->required();
  }
  AddDaemonOptions(verb, o.daemon);
  return verb;
}

// get, find, export.
void AddReadVerbs(CLI::App* profile, const std::shared_ptr<ProfileOptions>& o, int& exit_code) {
  Verb(profile, "get",
       "Show a profile as the token's role may see it for the purpose: fields in clear or "
       "masked, tags, stage, metrics (times as RFC 3339), scores.\n"
       "  portraitctl profile get C1042 --purpose care",
       *o)
      ->callback([o, &exit_code] {
        exit_code = CallAndPrint(o->daemon, "profile get", "GET", Target(o->id), "", PrintProfile);
      });

  CLI::App* find = Verb(profile, "find",
                        "Find profiles by a blind-indexed field the role reads in clear; prints "
                        "their external ids.\n"
                        "  portraitctl profile find email=fang@example.cn",
                        *o, false);
  find->add_option("query", o->query, "FIELD=VALUE")->required();
  find->callback([o, &exit_code] { exit_code = Find(*o); });

  CLI::App* exp = Verb(profile, "export",
                       "Write the data-subject export (everything the role may see of the "
                       "customer) to a new file, mode 0600; never overwrites one.\n"
                       "  portraitctl profile export C1042 --out c1042.json",
                       *o);
  exp->add_option("--out", o->out, "the file to create")->required();
  exp->callback([o, &exit_code] { exit_code = Export(*o); });
}

// put, erase, hold, unhold.
void AddWriteVerbs(CLI::App* profile, const std::shared_ptr<ProfileOptions>& o, int& exit_code) {
  CLI::App* put = Verb(profile, "put",
                       "Create a profile or update it (fields not named are kept). Values are "
                       "checked and normalised by the field's type.\n"
                       "  portraitctl profile put C1042 --field name=王芳 --field "
                       "email=fang@example.cn --tag vip",
                       *o);
  put->add_option("--field", o->fields, "NAME=VALUE, the value as text (repeatable)");
  put->add_option("--field-json", o->json_fields,
                  "NAME=JSON, for numbers, booleans, null (deletes the field) (repeatable)");
  put->add_option("--tag", o->tags, "add this tag (repeatable)");
  put->add_option("--untag", o->untags, "remove this tag (repeatable)");
  put->add_option("--timezone", o->timezone, "the customer's IANA time zone");
  put->callback([o, &exit_code] { exit_code = Put(*o); });

  CLI::App* erase = Verb(profile, "erase",
                         "Erase a profile by crypto-shredding: its data key destroyed, fields "
                         "and events deleted, sinks told. Cannot be undone.\n"
                         "  portraitctl profile erase C1042 --yes",
                         *o);
  erase->add_flag("--yes", o->yes, "confirm the erasure");
  erase->callback([o, &exit_code] { exit_code = Erase(*o); });

  CLI::App* hold = Verb(profile, "hold",
                        "Place a legal hold on a profile: erasure and retention purges are "
                        "refused until it is lifted. Needs the erase permission; audited with "
                        "the reason.\n"
                        "  portraitctl profile hold C1042 --reason \"case 2026-17\"",
                        *o);
  hold->add_option("--reason", o->reason, "why (at most 200 bytes; no personal data)")->required();
  hold->callback([o, &exit_code] { exit_code = Hold(*o, true); });

  Verb(profile, "unhold",
       "Lift a profile's legal hold. Needs the erase permission; audited.\n"
       "  portraitctl profile unhold C1042",
       *o)
      ->callback([o, &exit_code] { exit_code = Hold(*o, false); });
}

}  // namespace

void AddProfileCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ProfileOptions>();
  CLI::App* profile = app.add_subcommand(
      "profile",
      "One customer's profile, through the running daemon: read, write, look up, "
      "erase, export, legal hold. Each call is audited.");
  profile->alias("profiles");
  profile->require_subcommand(1);
  AddReadVerbs(profile, o, exit_code);
  AddWriteVerbs(profile, o, exit_code);
}

}  // namespace portrait::cli
