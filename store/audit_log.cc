#include "store/audit_log.h"

#include <iterator>
#include <nlohmann/json.hpp>

#include "store/audit_chain.h"

namespace portrait::store {

using crypto::ToHex;
using nlohmann::json;

AuditLog::AuditLog(Store& store, const crypto::AuditSigner& signer, crypto::KeyView mac_key,
                   const Clock& clock, AuditCadence cadence)
    : store_(store), signer_(signer), mac_key_(mac_key), clock_(clock), cadence_(cadence) {}

Result<CommitResult> AuditLog::Commit(const Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(CommitResult result, store_.Commit(batch));
  // The batch is durable now: a checkpoint that fails must not make the caller undo it (an
  // import destroys new profiles' keys on a failed commit). The checkpoint stays due; the next
  // commit and the daemon's periodic Checkpoint() (which logs the failure) sign it.
  (void)AfterCommit(result);
  return result;
}

Status AuditLog::Append(std::vector<AuditEntry> entries) {
  Batch batch;
  batch.audit = std::move(entries);
  PORTRAIT_RETURN_IF_ERROR(Commit(batch));
  return Status::Ok();
}

Status AuditLog::LoadLocked() {
  if (last_checkpoint_ >= 0) {
    return Status::Ok();
  }
  PORTRAIT_ASSIGN_OR_RETURN(auto checkpoints, store_.GetCheckpoints());
  last_checkpoint_ = checkpoints.empty() ? 0 : checkpoints.back().seq;
  // The interval runs from the last checkpoint signed here, or from now.
  last_checkpoint_us_ = clock_.NowUs();
  return Status::Ok();
}

Status AuditLog::SignLocked(int64_t seq, const std::string& hash) {
  AuditCheckpoint c{seq, hash, "", clock_.NowUs(), last_checkpoint_};
  c.signature = signer_.Sign(CheckpointMessage(c));
  PORTRAIT_RETURN_IF_ERROR(store_.PutCheckpoint(c));
  last_checkpoint_ = seq;
  last_checkpoint_us_ = c.time_us;
  return Status::Ok();
}

Status AuditLog::AfterCommit(const CommitResult& result) {
  if (result.audit_seq == 0) {
    return Status::Ok();
  }
  MutexLock lock(mu_);
  PORTRAIT_RETURN_IF_ERROR(LoadLocked());
  if (result.audit_seq <= last_checkpoint_) {
    return Status::Ok();  // a later commit's checkpoint already covers it
  }
  const int64_t now_us = clock_.NowUs();
  const bool by_count = result.audit_seq - last_checkpoint_ >= cadence_.every;
  const bool by_time = now_us - last_checkpoint_us_ >= cadence_.interval.count();
  if (!by_count && !by_time) {
    return Status::Ok();
  }
  // Sign the head, not this commit's last record: a checkpoint always follows the one before.
  PORTRAIT_ASSIGN_OR_RETURN(auto head, store_.AuditHead());
  return SignLocked(head.first, head.second);
}

Status AuditLog::Checkpoint() {
  MutexLock lock(mu_);
  PORTRAIT_RETURN_IF_ERROR(LoadLocked());
  PORTRAIT_ASSIGN_OR_RETURN(auto head, store_.AuditHead());
  if (head.first == 0 || head.first <= last_checkpoint_) {
    return Status::Ok();
  }
  return SignLocked(head.first, head.second);
}

// Every node's chain in turn (one on a store of one node); the first broken one is named.
Result<AuditVerification> AuditLog::Verify() {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<std::string> chains, store_.AuditChains());
  AuditVerification all;
  for (const std::string& node : chains) {
    PORTRAIT_ASSIGN_OR_RETURN(AuditVerification one, VerifyChain(node));
    all.records += one.records;
    all.checkpoints += one.checkpoints;
    if (all.ok && !one.ok) {
      all.ok = false;
      all.first_bad_seq = one.first_bad_seq;
      all.problem = node.empty() ? one.problem : "node " + node + ": " + one.problem;
    }
  }
  return all;
}

Result<AuditVerification> AuditLog::VerifyChain(const std::string& node, VerifiedChain* kept) {
  AuditVerifier verifier(signer_.public_key(), mac_key_);
  verifier.ExpectFinalKey(signer_.public_key());
  // First pass: where the signing key changed (key.rotate records), so that each checkpoint
  // is checked with its own key.
  for (int64_t after = 0;;) {
    PORTRAIT_ASSIGN_OR_RETURN(auto page, store_.ReadAuditOf(node, after, 10000));
    if (page.empty()) {
      break;
    }
    for (const auto& r : page) {
      verifier.NoteRotation(r);
    }
    after = page.back().seq;
  }
  PORTRAIT_ASSIGN_OR_RETURN(auto checkpoints, store_.GetCheckpointsOf(node));
  for (const auto& c : checkpoints) {
    verifier.AddCheckpoint(c);
  }
  if (kept != nullptr) {
    kept->checkpoints = std::move(checkpoints);
  }
  int64_t after = 0;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(auto page, store_.ReadAuditOf(node, after, 10000));
    if (page.empty()) {
      return verifier.Finish();
    }
    for (const auto& r : page) {
      verifier.AddRecord(r);
    }
    after = page.back().seq;
    if (kept != nullptr) {
      kept->records.insert(kept->records.end(), std::make_move_iterator(page.begin()),
                           std::make_move_iterator(page.end()));
    }
  }
}

namespace {

json CheckpointLine(const AuditCheckpoint& c) {
  return json{{"kind", "checkpoint"},  {"seq", c.seq},
              {"hash", ToHex(c.hash)}, {"signature", ToHex(c.signature)},
              {"time_us", c.time_us},  {"prev_seq", c.prev_seq}};
}

json RecordLine(const AuditRecord& r) {
  const AuditEntry& e = r.entry;
  return json{{"kind", "record"},     {"seq", r.seq},       {"time_us", e.time_us},
              {"actor", e.actor},     {"action", e.action}, {"profile", e.profile_id},
              {"purpose", e.purpose}, {"detail", e.detail}, {"hash", ToHex(r.hash)}};
}

}  // namespace

Status AuditLog::Export(std::ostream& out) {
  // The head is signed first; the export stops there, whatever commits meanwhile.
  PORTRAIT_RETURN_IF_ERROR(Checkpoint());
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<std::string> chains, store_.AuditChains());
  if (chains.size() > 1) {
    return ExportChains(chains, out);
  }
  PORTRAIT_ASSIGN_OR_RETURN(auto checkpoints, store_.GetCheckpoints());
  const int64_t head_seq = checkpoints.empty() ? 0 : checkpoints.back().seq;
  const std::string head_hash = checkpoints.empty() ? GenesisHash() : checkpoints.back().hash;
  const int64_t now_us = clock_.NowUs();
  out << json{{"kind", "header"},
              {"format", "portrait-audit-v2"},
              {"public_key", ToHex(signer_.public_key())},
              {"head_seq", head_seq},
              {"head_hash", ToHex(head_hash)},
              {"time_us", now_us},
              {"signature", ToHex(signer_.Sign(ExportHeaderMessage(head_seq, head_hash, now_us)))}}
             .dump()
      << "\n";
  // Checkpoints first: cutting records off the end of the file leaves the signed checkpoints
  // that vouch for them, so the cut is found.
  for (const AuditCheckpoint& c : checkpoints) {
    out << CheckpointLine(c).dump() << "\n";
  }
  for (int64_t after = 0; after < head_seq;) {
    PORTRAIT_ASSIGN_OR_RETURN(auto page, store_.ReadAudit(after, 10000));
    if (page.empty()) {
      break;
    }
    for (const AuditRecord& r : page) {
      if (r.seq > head_seq) {
        break;
      }
      out << RecordLine(r).dump() << "\n";
    }
    after = page.back().seq;
  }
  out.flush();
  return out ? Status::Ok() : Status::IOError("could not write the audit export");
}

Status AuditLog::ExportChains(const std::vector<std::string>& chains, std::ostream& out) {
  // Each chain as far as it went when read (other nodes keep appending to theirs), checked
  // first with the MACs as Verify checks it: the header vouches for what it signs, and another
  // node's records after its last checkpoint are vouched for by nothing else. The header,
  // written first, signs every chain's head, so a chain cut short or left out is found.
  std::vector<ChainHead> heads;
  std::vector<VerifiedChain> read(chains.size());
  for (size_t i = 0; i < chains.size(); ++i) {
    PORTRAIT_ASSIGN_OR_RETURN(AuditVerification v, VerifyChain(chains[i], &read[i]));
    if (!v.ok) {
      return Status::Corruption("node " + chains[i] + "'s audit chain does not verify: " +
                                v.problem + "; nothing exported (GET /v1/audit/verify names it)");
    }
    const std::vector<AuditRecord>& records = read[i].records;
    heads.push_back(records.empty()
                        ? ChainHead{chains[i], 0, GenesisHash()}
                        : ChainHead{chains[i], records.back().seq, records.back().hash});
  }
  const int64_t now_us = clock_.NowUs();
  json listed = json::array();
  for (const ChainHead& h : heads) {
    listed.push_back({{"node", h.node}, {"head_seq", h.seq}, {"head_hash", ToHex(h.hash)}});
  }
  out << json{{"kind", "header"},
              {"format", "portrait-audit-v3"},
              {"public_key", ToHex(signer_.public_key())},
              {"chains", std::move(listed)},
              {"time_us", now_us},
              {"signature", ToHex(signer_.Sign(ExportChainsMessage(now_us, heads)))}}
             .dump()
      << "\n";
  for (size_t i = 0; i < chains.size(); ++i) {
    for (const AuditCheckpoint& c : read[i].checkpoints) {
      json line = CheckpointLine(c);
      line["node"] = chains[i];
      out << line.dump() << "\n";
    }
    for (const AuditRecord& r : read[i].records) {
      json line = RecordLine(r);
      line["node"] = chains[i];
      out << line.dump() << "\n";
    }
  }
  out.flush();
  return out ? Status::Ok() : Status::IOError("could not write the audit export");
}

}  // namespace portrait::store
