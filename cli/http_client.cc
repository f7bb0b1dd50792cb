#include "cli/http_client.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace portrait::cli {

namespace beast = boost::beast;
namespace http = beast::http;

HttpClient::~HttpClient() = default;

HttpResult HttpClient::Send(const std::string& method, const std::string& target,
                            const std::string& body,
                            const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!stream_) {
      auto address = boost::asio::ip::make_address(host_, ec);
      if (ec) {
        return HttpResult{};
      }
      stream_ = std::make_unique<beast::tcp_stream>(io_);
      stream_->connect(boost::asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port_)), ec);
      if (ec) {
        stream_.reset();
        return HttpResult{};
      }
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) {
      req.set(k, v);
    }
    req.body() = body;
    req.prepare_payload();
    stream_->expires_after(std::chrono::seconds(60));
    http::write(*stream_, req, ec);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    if (!ec) {
      http::read(*stream_, buffer, parser, ec);
    }
    if (ec) {
      stream_.reset();
      if (attempt == 0 &&
          (ec == http::error::end_of_stream || ec == boost::asio::error::connection_reset ||
           ec == boost::asio::error::broken_pipe)) {
        continue;  // the server closed an idle keep-alive connection: reconnect once
      }
      return HttpResult{};
    }
    auto res = parser.release();
    HttpResult out{static_cast<int>(res.result_int()), std::string(res[http::field::content_type]),
                   res.body()};
    if (!res.keep_alive()) {
      stream_.reset();
    }
    return out;
  }
  return HttpResult{};
}

}  // namespace portrait::cli
