// SendGate: lets an erasure or a consent withdrawal wait for the attempts already past their
// last check. A sink worker holds a Pass for a profile from the check right before an attempt
// (task still `sending`, consent still holding) to the attempt's end; after committing an
// erasure or a withdrawal, the API calls Drain(profile) before answering. An attempt that checks
// after the commit sees it and is not made; one that checked before it has ended when Drain
// returns. So nothing leaves for the profile once the answer (e.g. the erasure receipt) is
// returned. Drain waits at most a sink's timeout. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>

#include "base/mutex.h"

namespace portrait::daemon {

class SendGate {
 public:
  // Marks an attempt for `profile` under way until destroyed.
  class Pass {
   public:
    Pass(SendGate& gate, int64_t profile);
    ~Pass();
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    SendGate& gate_;
    const int64_t profile_;
    uint64_t ticket_ = 0;
  };

  // Returns once every attempt for `profile` under way when it was called has ended (those
  // that start later check the store first and see what was committed before).
  void Drain(int64_t profile);

 private:
  // Whether an attempt for `profile` with a ticket before `ticket` is under way.
  bool UnderWayBefore(int64_t profile, uint64_t ticket) REQUIRES(mu_);

  Mutex mu_;
  CondVar ended_;
  uint64_t next_ticket_ GUARDED_BY(mu_) = 0;
  // profile -> tickets; no entry when none
  std::map<int64_t, std::set<uint64_t>> under_way_ GUARDED_BY(mu_);
};

}  // namespace portrait::daemon
