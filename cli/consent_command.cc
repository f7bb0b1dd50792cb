#include "cli/consent_command.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "base/url.h"
#include "cli/daemon_connection.h"
#include "cli/output.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

struct ConsentOptions {
  DaemonOptions daemon;
  std::string id;
  std::string purpose;  // the consent's purpose (the acting one is daemon.purpose)
  std::string channel;
  std::string scope;
  std::string source;
  std::string notice;
  std::string evidence;
  std::string expires;
  std::string time;
};

std::string Text(const json& record, const char* key) {
  const auto found = record.find(key);
  if (found == record.end() || found->is_null()) {
    return "-";
  }
  return found->is_string() ? found->get<std::string>()
                            : found->dump(-1, ' ', false, json::error_handler_t::replace);
}

int Record(const ConsentOptions& o, const std::string& verb, const std::string& status) {
  json body = {{"purpose", o.purpose}, {"status", status}};
  const std::pair<const char*, const std::string*> optional[] = {
      {"channel", &o.channel}, {"scope", &o.scope},       {"source", &o.source},
      {"notice", &o.notice},   {"evidence", &o.evidence}, {"expires", &o.expires},
      {"time", &o.time}};
  for (const auto& [key, value] : optional) {
    if (!value->empty()) {
      body[key] = *value;
    }
  }
  return CallAndPrint(
      o.daemon, "consent " + verb, "POST", "/v1/profiles/" + PercentEncode(o.id) + "/consents",
      body.dump(-1, ' ', false, json::error_handler_t::replace), [&](const json& a) {
        std::cout << "consent record " << Text(a, "record") << " stored (" << Printable(o.purpose)
                  << " " << status << ")\n";
      });
}

void PrintLedger(const json& answer) {
  const json current = answer.value("current", json::array());
  std::vector<std::vector<std::string>> rows{
      {"PURPOSE", "SCOPE", "CHANNEL", "STATUS", "TIME", "EXPIRES", "SOURCE", "RECORD"}};
  for (const json& r : current.is_array() ? current : json::array()) {
    if (r.is_object()) {
      rows.push_back({Text(r, "purpose"), Text(r, "scope"), Text(r, "channel"), Text(r, "status"),
                      Text(r, "time"), Text(r, "expires"), Text(r, "source"), Text(r, "id")});
    }
  }
  if (rows.size() == 1) {
    std::cerr << "no consent record\n";
    return;
  }
  std::cout << Table(rows);
  const json history = answer.value("history", json::array());
  std::cout << (history.is_array() ? history.size() : 0)
            << " records in the ledger (--json shows them all)\n";
}

// grant, withdraw or object: the same options, another status.
void AddRecordVerb(CLI::App* group, const std::string& verb, const std::string& status,
                   const std::string& help, const std::shared_ptr<ConsentOptions>& options,
                   int& exit_code) {
  ConsentOptions& o = *options;
  CLI::App* cmd = group->add_subcommand(verb, help);
  cmd->add_option("id", o.id, "the customer's external id")->required();
  cmd->add_option("consent_purpose", o.purpose,
                  "the purpose the record is for: a [[purpose]], or personalisation")
      ->required();
  cmd->add_option("--channel", o.channel, "any (default), sms, email, phone, wechat, push");
  cmd->add_option("--scope", o.scope, "processing (default), sensitive or transfer");
  cmd->add_option("--source", o.source, "where it was given, e.g. web-form");
  cmd->add_option("--notice", o.notice, "the notice text's version it was given under");
  cmd->add_option("--evidence", o.evidence, "evidence, sealed with the customer's key");
  if (status == "granted") {
    cmd->add_option("--expires", o.expires, "RFC 3339 time after which the grant lapses");
  }
  cmd->add_option("--time", o.time, "RFC 3339 time it was given, not in the future (default now)");
  AddDaemonOptions(cmd, o.daemon);
  cmd->callback(
      [options, verb, status, &exit_code] { exit_code = Record(*options, verb, status); });
}

}  // namespace

void AddConsentCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ConsentOptions>();
  CLI::App* consent = app.add_subcommand(
      "consent",
      "A customer's consent ledger, through the running daemon: append a grant, a "
      "withdrawal or an objection, or show the records in force. Audited.");
  consent->require_subcommand(1);
  AddRecordVerb(consent, "grant", "granted",
                "Record the customer's consent to a purpose (on a channel, for a scope).\n"
                "  portraitctl consent grant C1042 marketing --channel sms --source web-form",
                o, exit_code);
  AddRecordVerb(consent, "withdraw", "withdrawn",
                "Record the withdrawal of a consent: the tasks it stops are suppressed at once.\n"
                "  portraitctl consent withdraw C1042 marketing --channel sms",
                o, exit_code);
  AddRecordVerb(consent, "object", "objected",
                "Record the customer's objection to a purpose (or to personalisation).\n"
                "  portraitctl consent object C1042 personalisation",
                o, exit_code);
  CLI::App* show = consent->add_subcommand(
      "show",
      "Show the consent records in force for a customer (the whole ledger with --json).\n"
      "  portraitctl consent show C1042");
  show->add_option("id", o->id, "the customer's external id")->required();
  AddDaemonOptions(show, o->daemon);
  show->callback([o, &exit_code] {
    exit_code = CallAndPrint(o->daemon, "consent show", "GET",
                             "/v1/profiles/" + PercentEncode(o->id) + "/consents", "", PrintLedger);
  });
}

}  // namespace portrait::cli
