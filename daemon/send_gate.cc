#include "daemon/send_gate.h"

namespace portrait::daemon {

SendGate::Pass::Pass(SendGate& gate, int64_t profile) : gate_(gate), profile_(profile) {
  MutexLock lock(gate_.mu_);
  ticket_ = gate_.next_ticket_++;
  gate_.under_way_[profile_].insert(ticket_);
}

SendGate::Pass::~Pass() {
  {
    MutexLock lock(gate_.mu_);
    auto it = gate_.under_way_.find(profile_);
    it->second.erase(ticket_);
    if (it->second.empty()) {
      gate_.under_way_.erase(it);
    }
  }
  gate_.ended_.SignalAll();
}

void SendGate::Drain(int64_t profile) {
  MutexLock lock(mu_);
  const uint64_t before = next_ticket_;
  while (UnderWayBefore(profile, before)) {
    ended_.Wait(mu_);
  }
}

bool SendGate::UnderWayBefore(int64_t profile, uint64_t ticket) {
  auto it = under_way_.find(profile);
  return it != under_way_.end() && *it->second.begin() < ticket;
}

}  // namespace portrait::daemon
