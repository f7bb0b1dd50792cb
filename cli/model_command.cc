#include "cli/model_command.h"

#include <cstdio>
#include <iostream>

#include "base/url.h"
#include "cli/daemon_connection.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

struct ModelOptions {
  DaemonOptions daemon;
  std::string name;
  std::string until;
  bool from_events = false;
};

double Num(const json& object, const char* key) {
  const json v = object.is_object() ? object.value(key, json()) : json();
  return v.is_number() ? v.get<double>() : 0;
}

void PrintModel(const json& m) {
  std::printf("model %s, version %lld, fitted %s, calibration until %s (%s), read from the %s\n",
              m.value("model", "").c_str(), static_cast<long long>(m.value("version", 0)),
              m.value("fitted_at", "").c_str(), m.value("until", "").c_str(),
              m.value("unit", "week").c_str(),
              m.value("read_from", "events") == "events" ? "events" : "purchase books");
  const double without_amount = Num(m, "without_amount"), unreadable = Num(m, "unreadable");
  const double dropped = Num(m, "dropped_customers");
  if (without_amount > 0 || unreadable > 0 || dropped > 0) {
    std::printf(
        "purchase events without an amount (counted as 0): %.0f; skipped, of profiles "
        "erased during the fit: %.0f; customers erased or merged away during the fit, left "
        "out: %.0f\n",
        without_amount, unreadable, dropped);
  }
  const json b = m.value("bgnbd", json::object());
  std::printf("%-14s %10s %10s %10s %10s %16s %10s\n", "", "r", "alpha", "a", "b", "log-likelihood",
              "customers");
  std::printf("%-14s %10.4f %10.4f %10.4f %10.4f %16.2f %10lld\n", "BG/NBD", Num(b, "r"),
              Num(b, "alpha"), Num(b, "a"), Num(b, "b"), Num(b, "log_likelihood"),
              static_cast<long long>(m.value("customers", 0)));
  const json g = m.value("gamma_gamma", json());
  if (!g.is_object()) {
    std::printf("Gamma-Gamma    not fitted (no repeat buyer with a purchase value)\n");
    return;
  }
  std::printf("%-14s %10s %10s %10s %10s %16s %10s\n", "", "p", "q", "gamma", "", "", "buyers");
  std::printf("%-14s %10.4f %10.4f %10.4f %10s %16s %10lld\n", "Gamma-Gamma", Num(g, "p"),
              Num(g, "q"), Num(g, "gamma"), "", "",
              static_cast<long long>(g.value("customers", 0)));
}

int Fit(const ModelOptions& o) {
  json request = json::object();
  if (!o.until.empty()) {
    request["until"] = o.until;
  }
  if (o.from_events) {
    request["from_events"] = true;
  }
  const std::string body = request.empty() ? "" : request.dump();
  return CallAndPrint(o.daemon, "model fit", "POST", "/v1/models/" + PercentEncode(o.name) + "/fit",
                      body, PrintModel);
}

int Show(const ModelOptions& o) {
  return CallAndPrint(o.daemon, "model show", "GET", "/v1/models/" + PercentEncode(o.name), "",
                      PrintModel);
}

}  // namespace

void AddModelCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ModelOptions>();
  CLI::App* model = app.add_subcommand(
      "model",
      "The [[model]]s of the rules (BG/NBD purchases and Gamma-Gamma spend): fit one over the "
      "stored purchase events, or show its parameters in force. Through the running daemon.");
  model->require_subcommand(1);

  CLI::App* fit = model->add_subcommand(
      "fit",
      "Fit a model over every customer's purchases up to --until (default: now), store its "
      "parameters as its next version, and print them. Audited as model.fit. The purchases are "
      "read from each customer's purchase book when the books are known to hold every stored "
      "purchase and none lies after --until (fast: one read a customer), else from the events; "
      "the first fit from the events checks the books against them.\n"
      "  portraitctl model fit clv --until 1997-09-30T23:59:59Z\n"
      "  portraitctl model fit clv --json");
  fit->add_option("name", o->name, "the [[model]]'s name")->required();
  fit->add_option("--until", o->until, "the calibration period's end, an RFC 3339 time");
  fit->add_flag("--from-events", o->from_events,
                "read the stored events even where the purchase books would do");
  AddDaemonOptions(fit, o->daemon);
  fit->callback([o, &exit_code] { exit_code = Fit(*o); });

  CLI::App* show = model->add_subcommand(
      "show",
      "Print a model's parameters in force: version, fit time, calibration end, BG/NBD r, "
      "alpha, a, b with the log-likelihood and sample size, Gamma-Gamma p, q, gamma.\n"
      "  portraitctl model show clv");
  show->add_option("name", o->name, "the [[model]]'s name")->required();
  AddDaemonOptions(show, o->daemon);
  show->callback([o, &exit_code] { exit_code = Show(*o); });
}

}  // namespace portrait::cli
