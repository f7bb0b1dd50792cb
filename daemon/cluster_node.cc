#include "daemon/cluster_node.h"

#include <pthread.h>

#include <set>

#include "store/postgres/postgres_password.h"
#include "store/postgres/postgres_store.h"

namespace portrait::daemon {

Result<std::unique_ptr<ClusterNode>> OpenClusterNode(const config::Config& config,
                                                     store::Store& store, spdlog::logger& log) {
  const config::StoreConfig& s = config.store;
  PORTRAIT_ASSIGN_OR_RETURN(
      std::optional<crypto::SecretBytes> password,
      store::pg::ReadPassword(s.password_env, s.password_file, "[store] password"));
  store::LeaseOptions options{
      s.url, password ? &*password : nullptr, config.cluster.node, config.cluster.address,
      std::chrono::duration_cast<std::chrono::milliseconds>(config.cluster.lease)};
  PORTRAIT_ASSIGN_OR_RETURN(std::unique_ptr<store::LeaseKeeper> keeper,
                            store::LeaseKeeper::Open(options));
  PORTRAIT_ASSIGN_OR_RETURN(int64_t misplaced, store::CountMisplacedExternalIds(store));
  if (misplaced > 0) {
    return Error(Status::InvalidArgument(
        std::to_string(misplaced) +
        " external ids lie in another partition than their profile (made before new profiles "
        "were placed by their external id, or aliased across partitions by a single node); "
        "several nodes can't serve this store without telling callers which subjects are "
        "stored: run one node without [cluster] (docs/DECISIONS.md 170)"));
  }
  std::shared_ptr<store::LeaseKeeper> leases = std::move(keeper);
  PORTRAIT_RETURN_IF_ERROR(store::ServeOnlyHeldPartitions(store, leases));
  auto node = std::make_unique<ClusterNode>(std::move(leases), log);
  PORTRAIT_RETURN_IF_ERROR(node->Start());
  return node;
}

ClusterNode::ClusterNode(std::shared_ptr<store::LeaseKeeper> leases, spdlog::logger& log)
    : leases_(std::move(leases)), log_(log) {}

ClusterNode::~ClusterNode() { Stop(); }

Status ClusterNode::Start() {
  auto held = leases_->Round();
  if (!held) {
    return held.error().WithContext("the first lease round");
  }
  last_held_ = static_cast<int>(held->size());
  log_.info("node {} holds {} of {} partitions", leases_->node(), held->size(),
            leases_->partitions());
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void ClusterNode::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  wake_.SignalAll();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (Status s = leases_->ReleaseAll(); !s.ok()) {
    log_.warn("could not give back the partitions (they pass on when the leases expire): {}",
              s.message());
  }
}

void ClusterNode::Loop() {
  ::pthread_setname_np(::pthread_self(), "leases");
  const auto period = leases_->lease() / 3;
  while (true) {
    {
      MutexLock lock(mu_);
      const auto until = std::chrono::steady_clock::now() + period;
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        wake_.WaitUntil(mu_, until);
      }
      if (stopping_) {
        return;
      }
    }
    RoundAndLog();
  }
}

void ClusterNode::RoundAndLog() {
  auto held = leases_->Round();
  if (!held) {
    log_.error(
        "lease round failed (this node stops serving its partitions when their leases "
        "end): {}",
        held.error().message());
    return;
  }
  if (static_cast<int>(held->size()) != last_held_) {
    last_held_ = static_cast<int>(held->size());
    log_.info("node {} holds {} of {} partitions", leases_->node(), held->size(),
              leases_->partitions());
  }
}

bool ClusterNode::Serves(store::ProfileId id) const {
  return leases_->Holds(leases_->PartitionOf(id));
}

bool ClusterNode::ServesKey(std::string_view ext_key) const {
  return leases_->Holds(leases_->PartitionOfKey(ext_key));
}

std::optional<store::LeaseHolder> ClusterNode::OwnerOfKey(std::string_view ext_key) {
  return HolderOf(leases_->PartitionOfKey(ext_key));
}

std::optional<store::LeaseHolder> ClusterNode::OwnerOf(store::ProfileId id) {
  return HolderOf(leases_->PartitionOf(id));
}

std::optional<store::LeaseHolder> ClusterNode::HolderOf(int partition) {
  auto holder = leases_->HolderOf(partition);
  return holder ? *holder : std::nullopt;
}

std::optional<std::function<bool(store::ProfileId)>> ClusterNode::TakenSinceLastCall() {
  std::vector<int> taken = leases_->DrainTaken();
  if (taken.empty()) {
    return std::nullopt;
  }
  auto parts = std::make_shared<const std::set<int>>(taken.begin(), taken.end());
  std::shared_ptr<store::LeaseKeeper> leases = leases_;
  return [parts, leases](store::ProfileId id) { return parts->count(leases->PartitionOf(id)) > 0; };
}

}  // namespace portrait::daemon
