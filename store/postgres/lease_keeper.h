// Partition leases of several portraitd nodes sharing one PostgreSQL store (docs/DECISIONS.md
// 162-165). The `leases` table holds each partition's holder and expiry, timed by the server's
// clock; a node's LeaseKeeper runs rounds (every third of a lease, from a thread the daemon
// owns): renew what it holds, take free or expired partitions up to a fair share of the live
// nodes, give back the ones above it. `Holds` answers from memory, and only until the local
// deadline of the last round that renewed — which ends before the table's expiry, so a node
// whose rounds fail stops serving before a peer may take over. Thread-safe: rounds, releases and
// holder look-ups share one connection under a mutex; `Holds` takes only a light one.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::store {

namespace pg {
class Connection;
}

struct LeaseOptions {
  std::string url;                                // the main database (libpq URI)
  const crypto::SecretBytes* password = nullptr;  // borrowed during Open; may be null
  std::string node;                               // this node's unique name
  std::string address;                            // where peers send its partitions' requests
  std::chrono::milliseconds lease{10'000};
};

// A partition's holder as the table says.
struct LeaseHolder {
  std::string node;
  std::string address;
};

class LeaseKeeper {
 public:
  // Connects to the main database, whose schema must exist (NotFound otherwise).
  static Result<std::unique_ptr<LeaseKeeper>> Open(const LeaseOptions& options);
  ~LeaseKeeper();

  // One round in one transaction; returns the partitions held after it, ascending. On an error
  // nothing is renewed: the held set stays until the last round's deadline passes.
  Result<std::vector<int>> Round();
  // Gives back every partition this node holds and leaves the live nodes (a clean stop): the
  // peers take them at their next round. The keeper holds nothing after it.
  Status ReleaseAll();
  // Whether this node holds `part` now: taken or renewed by a round whose deadline (its start
  // plus the lease, on the steady clock) has not passed.
  bool Holds(int part) const;
  // The number of partitions held now (0 once the deadline passed).
  int HeldCount() const;
  // The partitions held now, ascending, each with its tenure: a number a round gives a
  // partition it holds when the round before did not hold it, or when that round's deadline
  // had passed before this round began (the node may have lost it meanwhile); kept while rounds
  // renew it without a gap. Empty once the deadline passed (docs/DECISIONS.md 173).
  std::vector<std::pair<int, uint64_t>> HeldTenures() const;
  // The partitions held since the last call that the call before did not see held: those a
  // round took, and after this keeper's first round every one it holds (a restarted node may
  // renew the leases of its previous life). For picking up what their last holder left
  // unfinished.
  std::vector<int> DrainTaken();
  // The partition of profile `id`, and of a digest (store/postgres/partition.h).
  int PartitionOf(int64_t id) const;
  int PartitionOfKey(std::string_view digest) const;
  // The unexpired holder of `part` by the table, or none (free, or expired). An answer read
  // less than a quarter lease ago, and since this node's last round, is given again without a
  // read: each 421 asks it, and a holder named late is no worse than one that moved just after
  // (the node named answers 421 naming the next, or 503 between holders).
  Result<std::optional<LeaseHolder>> HolderOf(int part);

  int partitions() const { return partitions_; }
  const std::string& node() const { return options_.node; }
  std::chrono::milliseconds lease() const { return options_.lease; }

 private:
  LeaseKeeper(std::unique_ptr<pg::Connection> db, LeaseOptions options, int partitions);
  Result<std::vector<int>> RoundIn() REQUIRES(db_mu_);
  Result<int64_t> ServerNowUs() REQUIRES(db_mu_);
  Result<std::vector<int>> Take(int64_t now_us, int count) REQUIRES(db_mu_);
  Result<std::vector<int>> GiveBack(int count) REQUIRES(db_mu_);

  Mutex db_mu_;  // the connection; held for a whole round
  const std::unique_ptr<pg::Connection> db_ PT_GUARDED_BY(db_mu_);
  const LeaseOptions options_;
  const int partitions_;
  mutable Mutex mu_;
  std::vector<bool> held_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point deadline_ GUARDED_BY(mu_);
  std::vector<bool> drained_ GUARDED_BY(mu_);     // held when DrainTaken last looked
  std::vector<uint64_t> tenure_ GUARDED_BY(mu_);  // of each partition held (HeldTenures)
  uint64_t tenures_ GUARDED_BY(mu_) = 0;          // the last tenure given
  struct KnownHolder {
    std::chrono::steady_clock::time_point read;
    std::optional<LeaseHolder> holder;
  };
  std::map<int, KnownHolder> known_ GUARDED_BY(mu_);  // HolderOf's answers since the last round
};

}  // namespace portrait::store
