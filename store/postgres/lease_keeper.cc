#include "store/postgres/lease_keeper.h"

#include <algorithm>

#include "store/postgres/partition.h"
#include "store/postgres/pg.h"

namespace portrait::store {
namespace {

using pg::Params;
using pg::Rows;

std::vector<int> Parts(const Rows& r) {
  std::vector<int> parts;
  parts.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    parts.push_back(static_cast<int>(r.Int(i, 0)));
  }
  return parts;
}

}  // namespace

Result<std::unique_ptr<LeaseKeeper>> LeaseKeeper::Open(const LeaseOptions& options) {
  if (options.node.empty() || options.lease.count() <= 0) {
    return Error(Status::InvalidArgument("a lease keeper needs a node name and a lease"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(pg::Connection db, pg::Connection::Open(options.url, options.password));
  PORTRAIT_ASSIGN_OR_RETURN(Rows r, db.Run("SELECT to_regclass('leases') IS NOT NULL, "
                                           "(SELECT partitions FROM portrait_schema LIMIT 1) "
                                           "WHERE to_regclass('portrait_schema') IS NOT NULL;"));
  if (r.empty() || !r.Bool(0, 0)) {
    return Error(Status::NotFound("the database holds no portrait schema with leases"));
  }
  const int partitions = static_cast<int>(r.Int(0, 1));
  return std::unique_ptr<LeaseKeeper>(
      new LeaseKeeper(std::make_unique<pg::Connection>(std::move(db)), options, partitions));
}

LeaseKeeper::LeaseKeeper(std::unique_ptr<pg::Connection> db, LeaseOptions options, int partitions)
    : db_(std::move(db)),
      options_(std::move(options)),
      partitions_(partitions),
      held_(static_cast<size_t>(partitions), false),
      drained_(static_cast<size_t>(partitions), false),
      tenure_(static_cast<size_t>(partitions), 0) {}

LeaseKeeper::~LeaseKeeper() = default;

Result<std::vector<int>> LeaseKeeper::Round() {
  // Taken before any statement: the table's expiry, set later by the server, is never earlier.
  const auto start = std::chrono::steady_clock::now();
  MutexLock lock(db_mu_);
  PORTRAIT_RETURN_IF_ERROR(db_->Exec("BEGIN;"));
  Result<std::vector<int>> held = RoundIn();
  Status committed = held ? db_->Exec("COMMIT;") : Status::Ok();
  if (!held || !committed.ok()) {
    (void)db_->Exec("ROLLBACK;");
    return held ? Error(committed) : held;
  }
  MutexLock state(mu_);
  // Held without a gap only if the last round held it and its deadline had not passed when
  // this one began: else a peer may have held it in between, and this is a new tenure.
  const bool gap = start >= deadline_;
  std::vector<bool> before(held_.size(), false);
  before.swap(held_);
  for (int part : *held) {
    const auto p = static_cast<size_t>(part);
    held_[p] = true;
    if (!before[p] || gap) {
      tenure_[p] = ++tenures_;
    }
  }
  deadline_ = start + options_.lease;
  known_.clear();  // the round may have moved partitions
  return held;
}

// Renew, count the live nodes, take up to the share or give back above it (DECISIONS 164).
Result<std::vector<int>> LeaseKeeper::RoundIn() {
  PORTRAIT_ASSIGN_OR_RETURN(int64_t now, ServerNowUs());
  const int64_t lease_us = options_.lease.count() * 1000;
  PORTRAIT_RETURN_IF_ERROR(db_->Do(
      "INSERT INTO cluster_nodes (node, address, seen_us) VALUES ($1, $2, $3) "
      "ON CONFLICT (node) DO UPDATE SET address = excluded.address, seen_us = excluded.seen_us;",
      Params().Text(options_.node).Text(options_.address).Int(now)));
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows renewed,
      db_->Run("UPDATE leases SET expires_us = $1, address = $2 "
               "WHERE node = $3 AND expires_us > $4 RETURNING part;",
               Params().Int(now + lease_us).Text(options_.address).Text(options_.node).Int(now)));
  std::vector<int> held = Parts(renewed);
  PORTRAIT_ASSIGN_OR_RETURN(Rows live,
                            db_->Run("SELECT count(*) FROM cluster_nodes WHERE seen_us > $1;",
                                     Params().Int(now - lease_us)));
  const int nodes = static_cast<int>(std::max<int64_t>(1, live.Int(0, 0)));
  const int share = (partitions_ + nodes - 1) / nodes;
  const int have = static_cast<int>(held.size());
  if (have < share) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<int> taken, Take(now, share - have));
    held.insert(held.end(), taken.begin(), taken.end());
  } else if (have > share) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<int> given, GiveBack(have - share));
    std::erase_if(held,
                  [&](int p) { return std::find(given.begin(), given.end(), p) != given.end(); });
  }
  std::sort(held.begin(), held.end());
  return held;
}

Result<int64_t> LeaseKeeper::ServerNowUs() {
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, db_->Run("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;"));
  return r.Int(0, 0);
}

// Free or expired partitions, lowest first; SKIP LOCKED: two nodes taking at once take
// different ones.
Result<std::vector<int>> LeaseKeeper::Take(int64_t now_us, int count) {
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, db_->Run("UPDATE leases SET node = $1, address = $2, expires_us = $3 "
                       "WHERE part IN (SELECT part FROM leases WHERE expires_us <= $4 "
                       "ORDER BY part LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING part;",
                       Params()
                           .Text(options_.node)
                           .Text(options_.address)
                           .Int(now_us + options_.lease.count() * 1000)
                           .Int(now_us)
                           .Int(count)));
  return Parts(r);
}

// This node's highest partitions, free at once. They leave `Holds` before the table lets them
// go, so no write of this node starts on one a peer may take.
Result<std::vector<int>> LeaseKeeper::GiveBack(int count) {
  PORTRAIT_ASSIGN_OR_RETURN(Rows mine,
                            db_->Run("SELECT part FROM leases WHERE node = $1 ORDER BY part DESC "
                                     "LIMIT $2 FOR UPDATE;",
                                     Params().Text(options_.node).Int(count)));
  std::vector<int> given = Parts(mine);
  {
    MutexLock state(mu_);
    for (int part : given) {
      held_[static_cast<size_t>(part)] = false;
    }
  }
  std::vector<int64_t> ids(given.begin(), given.end());
  PORTRAIT_RETURN_IF_ERROR(
      db_->Do("UPDATE leases SET node = '', address = '', expires_us = 0 WHERE part = ANY($1);",
              Params().Ints(ids)));
  return given;
}

Status LeaseKeeper::ReleaseAll() {
  {
    MutexLock state(mu_);
    std::fill(held_.begin(), held_.end(), false);
  }
  MutexLock lock(db_mu_);
  PORTRAIT_RETURN_IF_ERROR(
      db_->Do("UPDATE leases SET node = '', address = '', expires_us = 0 WHERE node = $1;",
              Params().Text(options_.node)));
  return db_->Do("DELETE FROM cluster_nodes WHERE node = $1;", Params().Text(options_.node));
}

std::vector<int> LeaseKeeper::DrainTaken() {
  MutexLock state(mu_);
  const bool live = std::chrono::steady_clock::now() < deadline_;
  std::vector<int> taken;
  for (size_t p = 0; p < held_.size(); ++p) {
    const bool holds = live && held_[p];
    if (holds && !drained_[p]) {
      taken.push_back(static_cast<int>(p));
    }
    drained_[p] = holds;
  }
  return taken;
}

int LeaseKeeper::PartitionOf(int64_t id) const { return pg::PartitionOfId(id, partitions_); }

int LeaseKeeper::PartitionOfKey(std::string_view digest) const {
  return pg::PartitionOfDigest(digest, partitions_);
}

bool LeaseKeeper::Holds(int part) const {
  if (part < 0 || part >= partitions_) {
    return false;
  }
  MutexLock state(mu_);
  return held_[static_cast<size_t>(part)] && std::chrono::steady_clock::now() < deadline_;
}

std::vector<std::pair<int, uint64_t>> LeaseKeeper::HeldTenures() const {
  MutexLock state(mu_);
  std::vector<std::pair<int, uint64_t>> out;
  if (std::chrono::steady_clock::now() >= deadline_) {
    return out;
  }
  for (size_t p = 0; p < held_.size(); ++p) {
    if (held_[p]) {
      out.emplace_back(static_cast<int>(p), tenure_[p]);
    }
  }
  return out;
}

int LeaseKeeper::HeldCount() const {
  MutexLock state(mu_);
  if (std::chrono::steady_clock::now() >= deadline_) {
    return 0;
  }
  return static_cast<int>(std::count(held_.begin(), held_.end(), true));
}

Result<std::optional<LeaseHolder>> LeaseKeeper::HolderOf(int part) {
  const auto asked = std::chrono::steady_clock::now();
  {
    MutexLock state(mu_);
    auto known = known_.find(part);
    if (known != known_.end() && asked - known->second.read < options_.lease / 4) {
      return known->second.holder;
    }
  }
  MutexLock lock(db_mu_);
  PORTRAIT_ASSIGN_OR_RETURN(int64_t now, ServerNowUs());
  PORTRAIT_ASSIGN_OR_RETURN(Rows r, db_->Run("SELECT node, address FROM leases "
                                             "WHERE part = $1 AND node <> '' AND expires_us > $2;",
                                             Params().Int(part).Int(now)));
  std::optional<LeaseHolder> holder;
  if (!r.empty()) {
    holder = LeaseHolder{r.Text(0, 0), r.Text(0, 1)};
  }
  MutexLock state(mu_);
  known_[part] = KnownHolder{asked, holder};
  return holder;
}

}  // namespace portrait::store
