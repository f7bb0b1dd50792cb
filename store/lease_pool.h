// LeasePool<T>: a fixed set of things (a backend's reading connections) lent to one caller at
// a time. Acquire waits for a free one; the Lease gives it back when it goes. Thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "base/mutex.h"

namespace portrait::store {

template <typename T>
class LeasePool {
 public:
  class Lease {
   public:
    Lease(LeasePool& pool, T* item) : pool_(pool), item_(item) {}
    ~Lease() { pool_.Release(item_); }
    Lease(const Lease&) = delete;
    T* operator->() const { return item_; }

   private:
    LeasePool& pool_;
    T* item_;
  };

  void Add(std::unique_ptr<T> item) {
    MutexLock lock(mu_);
    free_.push_back(item.get());
    all_.push_back(std::move(item));
  }

  Lease Acquire() {
    MutexLock lock(mu_);
    while (free_.empty()) {
      freed_.Wait(mu_);
    }
    T* item = free_.back();
    free_.pop_back();
    return Lease(*this, item);
  }

 private:
  void Release(T* item) {
    {
      MutexLock lock(mu_);
      free_.push_back(item);
    }
    freed_.Signal();
  }

  Mutex mu_;
  CondVar freed_;
  std::vector<std::unique_ptr<T>> all_ GUARDED_BY(mu_);
  std::vector<T*> free_ GUARDED_BY(mu_);
};

}  // namespace portrait::store
