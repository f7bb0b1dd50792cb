// ClusterNode: this portraitd's part among several nodes sharing one PostgreSQL store
// (docs/DECISIONS.md 162-167, 170). It owns the lease rounds' thread — a round every third of the
// lease (store/postgres/lease_keeper.h), one at start before anything is served — and answers
// what the API and the dispatcher ask: whether this node serves a profile or a subject, who
// holds another node's subject (for a 421), and which partitions it took since it last asked. At a
// stop it gives back every partition, so its peers take them at their next round. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "config/config.h"
#include "store/postgres/lease_keeper.h"
#include "store/store.h"

namespace portrait::daemon {

class ClusterNode;
// Opens the leases of `config`'s [cluster] on its PostgreSQL store, makes `store` serve only the
// partitions held, and starts the node (its first round done).
Result<std::unique_ptr<ClusterNode>> OpenClusterNode(const config::Config& config,
                                                     store::Store& store, spdlog::logger& log);

class ClusterNode {
 public:
  ClusterNode(std::shared_ptr<store::LeaseKeeper> leases, spdlog::logger& log);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;

  // Runs the first round (its error is the caller's: a node that can't reach the leases table
  // doesn't start), then starts the rounds' thread.
  Status Start();
  // Stops the rounds and gives back every partition. Idempotent.
  void Stop();

  bool Serves(store::ProfileId id) const;
  // Whether this node holds the partition of the subject whose external id's digest is
  // `ext_key`: its profile's, stored or not (docs/DECISIONS.md 170).
  bool ServesKey(std::string_view ext_key) const;
  // The node holding that partition and its address; none when it is free (between holders) or
  // cannot be read. Depends on the digest alone, never on whether the subject is stored.
  std::optional<store::LeaseHolder> OwnerOfKey(std::string_view ext_key);
  // The node holding the partition of profile `id` (a task's, say), as OwnerOfKey.
  std::optional<store::LeaseHolder> OwnerOf(store::ProfileId id);
  // Whether `id` is in a partition taken since the last call (see LeaseKeeper::DrainTaken);
  // the predicate holds the partitions of that one call.
  std::optional<std::function<bool(store::ProfileId)>> TakenSinceLastCall();
  const std::string& node() const { return leases_->node(); }

 private:
  void Loop();
  void RoundAndLog();
  std::optional<store::LeaseHolder> HolderOf(int partition);

  std::shared_ptr<store::LeaseKeeper> leases_;
  spdlog::logger& log_;
  Mutex mu_;
  CondVar wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  int last_held_ = -1;  // the rounds' thread only: for logging changes
  std::thread thread_;
};

}  // namespace portrait::daemon
