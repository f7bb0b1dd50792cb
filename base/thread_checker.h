// ThreadChecker: in debug builds, checks that the functions calling PORTRAIT_DCHECK_ON_THREAD
// all run on one thread: the first that calls one of them (in portraitd, the writer thread).
// Release builds (NDEBUG) compile the check away. Thread-safe.
#pragma once

#include <atomic>
#include <cassert>
#include <thread>

namespace portrait {

class ThreadChecker {
 public:
  // Whether the calling thread is the one bound; the first caller becomes it.
  bool OnBoundThread() const {
    const std::thread::id self = std::this_thread::get_id();
    std::thread::id bound{};
    return owner_.compare_exchange_strong(bound, self) || bound == self;
  }

 private:
  mutable std::atomic<std::thread::id> owner_{};
};

}  // namespace portrait

#define PORTRAIT_DCHECK_ON_THREAD(checker) assert((checker).OnBoundThread())
