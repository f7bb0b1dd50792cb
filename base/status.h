// Status: the outcome of an operation that can fail, without exceptions.
//
// A Status is either OK or carries one code from a small fixed set and a message for people.
// Messages name fields, files and internal ids — never a personal value. Status is a plain value
// type: copy it freely between threads.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace portrait {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kInvalidArgument,
    kMalformed,  // a request's bytes are not well-formed (not UTF-8, not JSON)
    kConflict,
    kPermissionDenied,
    kUnavailable,
    kCorruption,
    kIOError,
    kInternal,
  };

  Status() = default;
  // Lets `return Error(status);` (see result.h) serve functions that return a plain Status.
  Status(tl::unexpected<Status> error) : Status(std::move(error.value())) {}  // NOLINT
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status Malformed(std::string msg) { return Status(Code::kMalformed, std::move(msg)); }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  static Status PermissionDenied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "NotFound: profile 42 does not exist", or "OK".
  std::string ToString() const;

  // A copy whose message is prefixed with `context` and ": ".
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

}  // namespace portrait
