// ProfileVault's erasure by crypto-shredding, the destruction of data keys, and legal holds.
#include "store/erasure_notice.h"
#include "store/profile_vault.h"

namespace portrait::store {

Result<EraseReceipt> ProfileVault::Erase(std::string_view external_id,
                                         std::optional<AuditEntry> audit) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row,
                            store_.GetProfileByKey(ExtKey(external_id)));
  if (!row) {
    return Error(Status::NotFound("no such profile"));
  }
  const ProfileId id = row->id;
  if (row->legal_hold) {
    if (audit) {  // the refusal is audited too
      audit->profile_id = id;
      audit->action += ".refused";
      audit->detail = R"({"reason":"legal_hold"})";
      Batch refused;
      refused.audit.push_back(std::move(*audit));
      PORTRAIT_RETURN_IF_ERROR(Commit(refused));
    }
    return Error(Status::Conflict("profile " + std::to_string(id) +
                                  " is under legal hold; lift the hold before erasing"));
  }
  EraseReceipt receipt;
  receipt.id = id;
  PORTRAIT_ASSIGN_OR_RETURN(auto fields, store_.GetFields(id));
  PORTRAIT_ASSIGN_OR_RETURN(auto events, store_.GetEvents(id));
  receipt.fields = static_cast<int>(fields.size());
  receipt.events = static_cast<int>(events.size());
  receipt.erased_at_us = clock_.NowUs();
  // 1. The audit record commits first: if it can't be written, nothing is erased (fail closed).
  if (audit) {
    audit->profile_id = id;
    Batch audited;
    audited.audit.push_back(std::move(*audit));
    PORTRAIT_RETURN_IF_ERROR(Commit(audited));
  }
  // The sinks received the profile under its own id, which `external_id` (maybe an alias) need
  // not be; once the key is gone (an erasure finished again) the caller's id is all there is.
  const std::string own_id = OwnExternalId(*row).value_or(std::string(external_id));
  // 2. Shred: once the wrapped key is gone, every ciphertext of this profile, in this file or
  // any backup of it, is noise. Also the keys of profiles merged into it whose merge was cut
  // off before it destroyed them: their aliases, which would let the merge finish, go now.
  PORTRAIT_RETURN_IF_ERROR(DestroyMergedKeys(id));
  PORTRAIT_RETURN_IF_ERROR(DestroyKey(id));
  // 3. Tidy. A crash before this leaves rows no key opens; erasing again finishes the job.
  // The same transaction queues a notice for every sink that received the profile's data.
  Batch batch;
  PORTRAIT_RETURN_IF_ERROR(QueueErasureNotices(id, own_id, receipt.erased_at_us, batch));
  batch.erasures.push_back(id);
  PORTRAIT_RETURN_IF_ERROR(Commit(batch));
  return receipt;
}

Status ProfileVault::QueueErasureNotices(ProfileId id, std::string_view external_id, int64_t now_us,
                                         Batch& batch) {
  return AddErasureNotices(store_, keys_, id, external_id, now_us, batch);
}

Status ProfileVault::DestroyKey(ProfileId id) {
  Status destroyed = store_.DestroyDataKey(id);
  if (on_key_destroyed_) {
    on_key_destroyed_(id);
  }
  return destroyed;
}

Status ProfileVault::DestroyMergedKeys(ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<AliasRow> aliases, store_.GetAliases(id));
  for (const AliasRow& alias : aliases) {
    if (alias.merged_id == 0) {
      continue;
    }
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> key, store_.GetDataKey(alias.merged_id));
    if (key) {
      PORTRAIT_RETURN_IF_ERROR(DestroyKey(alias.merged_id));
    }
  }
  return Status::Ok();
}

Result<ProfileId> ProfileVault::SetLegalHold(std::string_view external_id, bool hold,
                                             std::optional<AuditEntry> audit) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row,
                            store_.GetProfileByKey(ExtKey(external_id)));
  if (!row) {
    return Error(Status::NotFound("no such profile"));
  }
  ProfileWrite w;
  w.row = std::move(*row);
  w.row.legal_hold = hold;
  Batch batch;
  if (audit) {
    audit->profile_id = w.row.id;
    batch.audit.push_back(std::move(*audit));
  }
  const ProfileId id = w.row.id;
  batch.profiles.push_back(std::move(w));
  PORTRAIT_RETURN_IF_ERROR(Commit(batch));
  return id;
}

}  // namespace portrait::store
