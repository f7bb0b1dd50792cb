#include "daemon/console_assets.h"

#include <string>

namespace portrait::daemon {

// Generated from console/ and Debian's libjs-chart.js by daemon/CMakeLists.txt.
std::string_view ConsoleIndexHtml();
std::string_view ConsoleCss();
std::string_view ConsoleDomJs();
std::string_view ConsoleApiJs();
std::string_view ConsoleOverviewJs();
std::string_view ConsoleCustomerJs();
std::string_view ConsoleTasksJs();
std::string_view ConsoleAuditJs();
std::string_view ConsoleAppJs();
std::string_view ConsoleChartJs();

namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kJs = "text/javascript; charset=utf-8";

constexpr ConsoleAsset kAssets[] = {
    {"index.html", kHtml, ConsoleIndexHtml}, {"console.css", "text/css; charset=utf-8", ConsoleCss},
    {"dom.js", kJs, ConsoleDomJs},           {"api.js", kJs, ConsoleApiJs},
    {"overview.js", kJs, ConsoleOverviewJs}, {"customer.js", kJs, ConsoleCustomerJs},
    {"tasks.js", kJs, ConsoleTasksJs},       {"audit.js", kJs, ConsoleAuditJs},
    {"app.js", kJs, ConsoleAppJs},           {"chart.min.js", kJs, ConsoleChartJs},
};

// The path of `target`, without its query or fragment.
std::string_view PathOf(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

void SetSecurityHeaders(HttpResponse& r) {
  r.set("Content-Security-Policy", std::string(kConsoleContentSecurityPolicy));
  r.set("X-Frame-Options", "DENY");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set("Cross-Origin-Opener-Policy", "same-origin");
  r.set("Cross-Origin-Resource-Policy", "same-origin");
  // The assets change with the binary: the browser asks again each time (they are small, and
  // a stale script after an upgrade would speak to a newer API).
  r.set(http::field::cache_control, "no-cache");
}

HttpResponse Answer(http::status status, std::string_view content_type, std::string_view body) {
  HttpResponse r{status, 11};
  r.set(http::field::content_type, std::string(content_type));
  r.body() = std::string(body);
  SetSecurityHeaders(r);
  r.prepare_payload();
  return r;
}

}  // namespace

std::span<const ConsoleAsset> ConsoleAssets() { return kAssets; }

bool IsConsoleTarget(std::string_view target) {
  const std::string_view path = PathOf(target);
  return path == "/console" || path.starts_with("/console/");
}

HttpResponse ConsoleAnswer(http::verb method, std::string_view target) {
  const std::string_view path = PathOf(target);
  if (method != http::verb::get) {
    HttpResponse r = Answer(http::status::method_not_allowed, "text/plain; charset=utf-8",
                            "the console takes GET only\n");
    r.set(http::field::allow, "GET");
    return r;
  }
  if (path == "/console") {
    HttpResponse r = Answer(http::status::permanent_redirect, "text/plain; charset=utf-8",
                            "the console is at /console/\n");
    r.set(http::field::location, "/console/");
    return r;
  }
  std::string_view name = path.substr(std::string_view("/console/").size());
  if (name.empty()) {
    name = "index.html";
  }
  for (const ConsoleAsset& asset : kAssets) {
    if (asset.name == name) {
      return Answer(http::status::ok, asset.content_type, asset.bytes());
    }
  }
  return Answer(http::status::not_found, "text/plain; charset=utf-8", "no such console file\n");
}

}  // namespace portrait::daemon
