#include "daemon/pass_marks.h"

#include <algorithm>

#include "daemon/kept_marks.h"

namespace portrait::daemon {

Result<bool> PassMark::Done(store::Store& store, std::string_view target) const {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> mark, store.GetMeta(key_));
  return mark && *mark == target;
}

Status PassMark::BeginBaseWide(store::Store& store, store::Batch& batch) const {
  if (store.PartitionCount() == 0) {
    return Status::Ok();  // no partition marks to outdate: KEY alone, as before
  }
  PORTRAIT_ASSIGN_OR_RETURN(int64_t epoch, MetaCount(store, EpochKey()));
  batch.meta[EpochKey()] = std::to_string(epoch + 1);
  return Status::Ok();
}

void PassMark::MarkBaseWide(store::Batch& batch, std::string_view target) const {
  batch.meta[key_] = std::string(target);
}

Result<std::string> PassMark::PartitionTarget(store::Store& store, std::string_view target) const {
  PORTRAIT_ASSIGN_OR_RETURN(int64_t epoch, MetaCount(store, EpochKey()));
  return std::string(target) + "#" + std::to_string(epoch);
}

Result<std::vector<store::HeldPartition>> PassMark::Pending(
    store::Store& store, std::string_view whole, std::string_view target,
    const std::vector<store::HeldPartition>& held) const {
  std::vector<store::HeldPartition> pending;
  PORTRAIT_ASSIGN_OR_RETURN(bool passed, Done(store, whole));
  if (passed) {
    return pending;
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::string wanted, PartitionTarget(store, target));
  for (const store::HeldPartition& p : held) {
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> mark, store.GetMeta(PartitionKey(p.part)));
    if (!mark || *mark != wanted) {
      pending.push_back(p);
    }
  }
  return pending;
}

Result<bool> PassMark::BeginPartitions(store::Store& store, std::string_view whole,
                                       store::Batch& batch) const {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> mark, store.GetMeta(key_));
  if (!mark || mark->empty() || *mark == whole) {
    return false;
  }
  batch.meta[key_] = "";
  return true;
}

Status PassMark::MarkPartition(store::Store& store, store::Batch& batch, int part,
                               std::string_view target) const {
  PORTRAIT_ASSIGN_OR_RETURN(std::string wanted, PartitionTarget(store, target));
  batch.meta[PartitionKey(part)] = std::move(wanted);
  return Status::Ok();
}

std::string PassMark::PartitionKey(int part) const { return key_ + "/" + std::to_string(part); }

std::string PassMark::EpochKey() const { return key_ + "/epoch"; }

bool StillHeld(const std::optional<std::vector<store::HeldPartition>>& held,
               const store::HeldPartition& p) {
  return held && std::find(held->begin(), held->end(), p) != held->end();
}

}  // namespace portrait::daemon
