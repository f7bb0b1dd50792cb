// HttpServer: HTTP/1.1 over Boost.Beast on an io_context the caller runs (on as many threads as
// it likes). Keep-alive; a request must arrive whole within `read_timeout` of its first read,
// however its bytes trickle in (a slow or idle client can't hold a connection forever); bodies
// over `body_limit` get 413, the rest drained within another `read_timeout`; connections over
// `max_connections` get 503 and are closed. Each request goes to the handler, which answers by
// calling its Reply exactly once, from any thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"

namespace portrait::daemon {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using Reply = std::function<void(HttpResponse)>;
using HttpHandler =
    std::function<void(HttpRequest&& request, const std::string& remote_address, Reply reply)>;

struct HttpLimits {
  size_t body_limit = 1 << 20;
  std::chrono::seconds read_timeout{15};
  int max_connections = 1024;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpLimits limits, HttpHandler handler);
  ~HttpServer();

  // Binds and listens on "host:port" (port 0 = any free port). Returns the bound address.
  Result<std::string> Listen(const std::string& address);
  // Stops accepting; open connections finish their request in flight and close.
  void StopAccepting();

  int open_connections() const { return open_->load(); }

 private:
  void Accept();

  boost::asio::io_context& io_;
  HttpLimits limits_;
  HttpHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<std::atomic<int>> open_ = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
};

// A problem+json (RFC 9457) response.
HttpResponse Problem(http::status status, std::string_view detail, unsigned version = 11,
                     bool keep_alive = true);
// The same with members beyond the standard ones (`extra`, an object).
HttpResponse ProblemWith(http::status status, std::string_view detail, const nlohmann::json& extra);

}  // namespace portrait::daemon
