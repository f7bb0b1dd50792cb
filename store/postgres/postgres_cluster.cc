// The PostgreSQL store among several nodes (docs/DECISIONS.md 162-167): which profiles this node
// serves, which partitions a batch writes, and the fence that keeps a commit to partitions this
// node still holds.
#include <algorithm>
#include <set>

#include "store/postgres/postgres_store_impl.h"

namespace portrait::store {

using pg::Params;
using pg::Rows;

Status ServeOnlyHeldPartitions(Store& store, std::shared_ptr<LeaseKeeper> leases) {
  auto* postgres = dynamic_cast<PostgresStore*>(&store);
  if (postgres == nullptr) {
    return Status::InvalidArgument("only a PostgreSQL store is shared by several nodes");
  }
  postgres->ServeOnly(std::move(leases));
  return Status::Ok();
}

bool PostgresStore::Serves(ProfileId id) const {
  return !leases_ || leases_->Holds(static_cast<int>(PartOf(id)));
}

bool PostgresStore::ServesKey(std::string_view ext_key) const {
  return !leases_ || leases_->Holds(static_cast<int>(PartOf(ext_key)));
}

Result<int64_t> CountMisplacedExternalIds(Store& store) {
  auto* postgres = dynamic_cast<PostgresStore*>(&store);
  if (postgres == nullptr) {
    return Error(Status::InvalidArgument("only a PostgreSQL store has partitions"));
  }
  return postgres->CountMisplacedKeys();
}

// Counted by the server (a profile's row carries its id's partition): nothing but the count
// crosses the connection, whatever the number of customers.
Result<int64_t> PostgresStore::CountMisplacedKeys() {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(Rows r,
                            reader->main.Run("SELECT count(*) FROM ext_keys k JOIN profiles p "
                                             "ON p.id = k.profile_id WHERE k.part <> p.part;"));
  return r.Int(0, 0);
}

std::optional<std::vector<HeldPartition>> PostgresStore::HeldPartitions() const {
  if (!leases_) {
    return std::nullopt;
  }
  std::vector<HeldPartition> held;
  for (auto [part, tenure] : leases_->HeldTenures()) {
    held.push_back(HeldPartition{part, tenure});
  }
  return held;
}

std::pair<bool, std::vector<int64_t>> PostgresStore::ServedParts() const {
  if (!leases_) {
    return {false, {}};
  }
  std::vector<int64_t> parts;
  for (int p = 0; p < partitions_; ++p) {
    if (leases_->Holds(p)) {
      parts.push_back(p);
    }
  }
  return {true, std::move(parts)};
}

Status PostgresStore::Fence(const Batch& batch) {
  if (!leases_) {
    return Status::Ok();
  }
  std::set<int64_t> parts;
  auto add = [&](ProfileId id) { parts.insert(PartOf(id)); };
  for (const ProfileWrite& w : batch.profiles) {
    add(w.row.id);
  }
  for (const EventRow& e : batch.events) {
    add(e.profile_id);
  }
  for (ProfileId id : batch.erasures) {
    add(id);
  }
  for (const ConsentRow& c : batch.consents) {
    add(c.profile_id);
  }
  for (const TimerRow& t : batch.timers) {
    add(t.profile_id);
  }
  for (const auto& [id, trigger] : batch.cleared_timers) {
    add(id);
  }
  for (const AnchorChange& a : batch.anchors) {  // the anchors' backfill (DECISIONS 177)
    add(a.profile_id);
  }
  for (const TaskRow& t : batch.tasks) {
    add(t.profile_id);
  }
  parts.insert(batch.fenced_parts.begin(), batch.fenced_parts.end());
  if (!batch.task_updates.empty()) {
    std::vector<int64_t> ids;
    for (const TaskUpdate& u : batch.task_updates) {
      ids.push_back(u.id);
    }
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows r,
        main_.Run("SELECT DISTINCT part FROM tasks WHERE id = ANY($1);", Params().Ints(ids)));
    for (int i = 0; i < r.size(); ++i) {
      parts.insert(r.Int(i, 0));
    }
  }
  if (parts.empty()) {
    return Status::Ok();
  }
  std::vector<int64_t> wanted(parts.begin(), parts.end());
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows held,
      main_.Run("SELECT part FROM leases WHERE part = ANY($1) AND node = $2 AND expires_us > "
                "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint FOR SHARE;",
                Params().Ints(wanted).Text(node_)));
  if (held.size() != static_cast<int>(wanted.size())) {
    return Status::Unavailable("the batch writes a partition this node no longer holds");
  }
  return Status::Ok();
}

}  // namespace portrait::store
