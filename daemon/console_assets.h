// The web console (console/ at the top of the repository): static HTML, CSS and JavaScript, and
// Debian's Chart.js, compiled into portraitd at build time (daemon/embed_file.cmake), so the
// daemon serves them at /console/ on its own listener and reads no file at run time. The assets
// carry no customer data and need no token: every view is filled in the browser from the API
// answers the signed-in token gets (docs/DECISIONS.md 150). Every answer carries the console's
// security headers (a strict Content-Security-Policy, no framing, no sniffing, no referrer).
// Pure; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "daemon/http_server.h"

namespace portrait::daemon {

struct ConsoleAsset {
  std::string_view name;  // "index.html", "chart.min.js": the path under /console/
  std::string_view content_type;
  std::string_view (*bytes)();
};

// Every asset the console is made of, index.html first.
std::span<const ConsoleAsset> ConsoleAssets();

// The answer to a GET of `target` (the request's raw target, query included), which starts with
// "/console": "/console" is redirected (308) to "/console/", "/console/" answers index.html,
// "/console/NAME" the asset NAME; anything else is 404. Another method than GET is 405. Every
// answer, errors included, carries the console's security headers.
HttpResponse ConsoleAnswer(http::verb method, std::string_view target);

// True when `target` (raw, query included) is the console's: "/console" or under "/console/".
bool IsConsoleTarget(std::string_view target);

// The Content-Security-Policy of every console answer.
inline constexpr std::string_view kConsoleContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

}  // namespace portrait::daemon
