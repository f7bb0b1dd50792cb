// A minimal blocking HTTP/1.1 client over Boost.Beast — portraitctl's way to the daemon, also
// used by the integration tests and benchmarks: one keep-alive connection to host:port,
// reconnecting once when the server closed an idle connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace portrait::cli {

struct HttpResult {
  int status = 0;
  std::string content_type;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1")
      : host_(std::move(host)), port_(port) {}
  ~HttpClient();
  // status 0 when the daemon could not be reached or the connection broke mid-request.
  HttpResult Send(const std::string& method, const std::string& target, const std::string& body,
                  const std::map<std::string, std::string>& headers = {});

 private:
  std::string host_;
  int port_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
};

}  // namespace portrait::cli
