// Result<T>: a T or the Status that explains why there is none (tl::expected, as ccache does).
//
//   Result<Config> LoadConfig(const std::string& path);
//   PORTRAIT_ASSIGN_OR_RETURN(Config config, LoadConfig(path));
//   PORTRAIT_RETURN_IF_ERROR(store.Commit(batch));
#pragma once

#include <tl/expected.hpp>

#include "base/status.h"

namespace portrait {

template <typename T>
using Result = tl::expected<T, Status>;

// The error half of a Result, for `return Error(Status::NotFound("…"));`.
inline tl::unexpected<Status> Error(Status status) {
  return tl::unexpected<Status>(std::move(status));
}

namespace internal {
inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r ? Status::Ok() : r.error();
}
}  // namespace internal

}  // namespace portrait

#define PORTRAIT_CONCAT_INNER(a, b) a##b
#define PORTRAIT_CONCAT(a, b) PORTRAIT_CONCAT_INNER(a, b)

// Returns the Status (as an error) from the enclosing function if `expr` (a Status or a Result)
// failed. Works in functions returning Status or Result<U>.
#define PORTRAIT_RETURN_IF_ERROR(expr)                                          \
  do {                                                                          \
    ::portrait::Status portrait_status_ = ::portrait::internal::ToStatus(expr); \
    if (!portrait_status_.ok()) {                                               \
      return ::portrait::Error(std::move(portrait_status_));                    \
    }                                                                           \
  } while (0)

// Evaluates `expr` (a Result<T>); on error returns it, else declares/assigns `lhs` from the value.
#define PORTRAIT_ASSIGN_OR_RETURN(lhs, expr) \
  PORTRAIT_ASSIGN_OR_RETURN_IMPL(PORTRAIT_CONCAT(portrait_result_, __LINE__), lhs, expr)
#define PORTRAIT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp) {                                          \
    return ::portrait::Error(std::move(tmp).error());  \
  }                                                    \
  lhs = std::move(tmp).value()
