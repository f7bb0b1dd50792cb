// Latest<T>: the version of a value in force, replaced whole (a reloaded config, a new rule set).
// Readers take a shared_ptr and keep using the version they took for the whole of one operation,
// so a reload never changes anything under a running request or transaction. Thread-safe.
#pragma once

#include <memory>

#include "base/mutex.h"

namespace portrait {

template <class T>
class Latest {
 public:
  explicit Latest(std::shared_ptr<const T> value) : value_(std::move(value)) {}

  std::shared_ptr<const T> Get() const {
    MutexLock lock(mu_);
    return value_;
  }
  void Set(std::shared_ptr<const T> value) {
    MutexLock lock(mu_);
    value_ = std::move(value);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const T> value_ GUARDED_BY(mu_);
};

}  // namespace portrait
