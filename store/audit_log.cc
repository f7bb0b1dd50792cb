#include "store/audit_log.h"

#include <nlohmann/json.hpp>

#include "store/audit_chain.h"

namespace portrait::store {

using crypto::FromHex;
using crypto::ToHex;
using nlohmann::json;

void AuditVerifier::Fail(int64_t seq, std::string problem) {
  if (result_.ok) {
    result_.ok = false;
    result_.first_bad_seq = seq;
    result_.problem = std::move(problem);
  }
}

void AuditVerifier::AddCheckpoint(const AuditCheckpoint& c) {
  ++result_.checkpoints;
  if (!crypto::AuditSigner::Verify(public_key_, CheckpointMessage(c.seq, c.hash), c.signature)) {
    Fail(c.seq, "checkpoint at record " + std::to_string(c.seq) +
                    " has an invalid signature (forged, altered, or another key)");
  }
  signed_[c.seq] = c.hash;
}

void AuditVerifier::AddRecord(const AuditRecord& r) {
  if (!result_.ok) {
    return;
  }
  if (prev_hash_.empty()) {
    prev_hash_ = GenesisHash();
  }
  const int64_t expected = last_seq_ + 1;
  if (r.seq != expected) {
    Fail(expected, r.seq > expected
                       ? "record " + std::to_string(expected) + " is missing (next is " +
                             std::to_string(r.seq) + ")"
                       : "record " + std::to_string(r.seq) + " is out of order (expected " +
                             std::to_string(expected) + ")");
    return;
  }
  std::string hash = ChainHash(prev_hash_, r.seq, r.entry);
  if (hash != r.hash) {
    Fail(r.seq, "record " + std::to_string(r.seq) +
                    " was altered or moved (its hash does not follow from the chain)");
    return;
  }
  if (auto it = signed_.find(r.seq); it != signed_.end()) {
    if (it->second != hash) {
      Fail(last_checkpoint_passed_ + 1, "the chain at record " + std::to_string(r.seq) +
                                            " differs from its signed checkpoint: a record after " +
                                            std::to_string(last_checkpoint_passed_) +
                                            " was altered and the chain rebuilt");
      return;
    }
    last_checkpoint_passed_ = r.seq;
  }
  prev_hash_ = std::move(hash);
  last_seq_ = r.seq;
  ++result_.records;
}

void AuditVerifier::AddUnreadable(int line) {
  Fail(last_seq_ + 1, "record " + std::to_string(last_seq_ + 1) + " (line " + std::to_string(line) +
                          ") is unreadable: altered or truncated");
}

AuditVerification AuditVerifier::Finish() {
  if (result_.ok && !signed_.empty() && signed_.rbegin()->first > last_seq_) {
    Fail(last_seq_ + 1, "records after " + std::to_string(last_seq_) +
                            " are missing: a signed checkpoint covers up to " +
                            std::to_string(signed_.rbegin()->first));
  }
  return result_;
}

AuditLog::AuditLog(Store& store, const crypto::AuditSigner& signer, const Clock& clock,
                   int checkpoint_every)
    : store_(store), signer_(signer), clock_(clock), checkpoint_every_(checkpoint_every) {}

Status AuditLog::Append(std::vector<AuditEntry> entries) {
  Batch batch;
  batch.audit = std::move(entries);
  PORTRAIT_ASSIGN_OR_RETURN(CommitResult result, store_.Commit(batch));
  return AfterCommit(result);
}

Status AuditLog::Sign(int64_t seq, const std::string& hash) {
  AuditCheckpoint c{seq, hash, signer_.Sign(CheckpointMessage(seq, hash)),
                    clock_.Now().time_since_epoch().count()};
  PORTRAIT_RETURN_IF_ERROR(store_.PutCheckpoint(c));
  last_checkpoint_ = seq;
  return Status::Ok();
}

Status AuditLog::AfterCommit(const CommitResult& result) {
  if (result.audit_seq == 0) {
    return Status::Ok();
  }
  std::lock_guard lock(mu_);
  if (last_checkpoint_ < 0) {
    PORTRAIT_ASSIGN_OR_RETURN(auto checkpoints, store_.GetCheckpoints());
    last_checkpoint_ = checkpoints.empty() ? 0 : checkpoints.back().seq;
  }
  if (result.audit_seq - last_checkpoint_ < checkpoint_every_) {
    return Status::Ok();
  }
  return Sign(result.audit_seq, result.audit_hash);
}

Status AuditLog::Checkpoint() {
  std::lock_guard lock(mu_);
  PORTRAIT_ASSIGN_OR_RETURN(auto head, store_.AuditHead());
  if (head.first == 0 || head.first == last_checkpoint_) {
    return Status::Ok();
  }
  return Sign(head.first, head.second);
}

Result<AuditVerification> AuditLog::Verify() {
  AuditVerifier verifier(signer_.public_key());
  PORTRAIT_ASSIGN_OR_RETURN(auto checkpoints, store_.GetCheckpoints());
  for (const auto& c : checkpoints) {
    verifier.AddCheckpoint(c);
  }
  int64_t after = 0;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(auto page, store_.ReadAudit(after, 10000));
    if (page.empty()) {
      return verifier.Finish();
    }
    for (const auto& r : page) {
      verifier.AddRecord(r);
    }
    after = page.back().seq;
  }
}

Status AuditLog::Export(std::ostream& out) {
  PORTRAIT_ASSIGN_OR_RETURN(auto checkpoints, store_.GetCheckpoints());
  out << json{{"kind", "header"},
              {"format", "portrait-audit-v1"},
              {"public_key", ToHex(signer_.public_key())}}
             .dump()
      << "\n";
  // Checkpoints first: cutting records off the end of the file leaves the signed checkpoints
  // that vouch for them, so the cut is found.
  for (const AuditCheckpoint& c : checkpoints) {
    out << json{{"kind", "checkpoint"},
                {"seq", c.seq},
                {"hash", ToHex(c.hash)},
                {"signature", ToHex(c.signature)},
                {"time_us", c.time_us}}
               .dump()
        << "\n";
  }
  int64_t after = 0;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(auto page, store_.ReadAudit(after, 10000));
    if (page.empty()) {
      break;
    }
    for (const AuditRecord& r : page) {
      const AuditEntry& e = r.entry;
      out << json{{"kind", "record"},     {"seq", r.seq},       {"time_us", e.time_us},
                  {"actor", e.actor},     {"action", e.action}, {"profile", e.profile_id},
                  {"purpose", e.purpose}, {"detail", e.detail}, {"hash", ToHex(r.hash)}}
                 .dump()
          << "\n";
    }
    after = page.back().seq;
  }
  out.flush();
  return out ? Status::Ok() : Status::IOError("could not write the audit export");
}

Result<AuditVerification> VerifyAuditExport(std::istream& in, std::string_view public_key) {
  // Checkpoints are checked first, then the records in file order. A line that can't be read
  // as either takes the place of the record that should have been there.
  std::vector<AuditCheckpoint> checkpoints;
  std::vector<std::pair<int, std::optional<AuditRecord>>> records;
  std::string line;
  int line_no = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++line_no;
    json j = json::parse(line, nullptr, false);
    try {
      const std::string kind = j.at("kind");
      if (kind == "header" && line_no == 1) {
        header = j.at("format") == "portrait-audit-v1";
      } else if (kind == "record") {
        auto hash = FromHex(j.at("hash").get<std::string>());
        records.emplace_back(
            line_no, AuditRecord{j.at("seq"),
                                 AuditEntry{j.at("time_us"), j.at("actor"), j.at("action"),
                                            j.at("profile"), j.at("purpose"), j.at("detail")},
                                 hash.value_or("")});
      } else if (kind == "checkpoint") {
        auto hash = FromHex(j.at("hash").get<std::string>());
        auto sig = FromHex(j.at("signature").get<std::string>());
        checkpoints.push_back(
            AuditCheckpoint{j.at("seq"), hash.value_or(""), sig.value_or(""), j.at("time_us")});
      } else {
        records.emplace_back(line_no, std::nullopt);
      }
    } catch (const json::exception&) {
      records.emplace_back(line_no, std::nullopt);
    }
  }
  if (!header) {
    return Error(Status::InvalidArgument(
        "not a portrait audit export (line 1 must be its header; write one with "
        "`portraitctl audit export`)"));
  }
  AuditVerifier verifier{std::string(public_key)};
  for (const auto& c : checkpoints) {
    verifier.AddCheckpoint(c);
  }
  for (const auto& [where, record] : records) {
    if (record) {
      verifier.AddRecord(*record);
    } else {
      verifier.AddUnreadable(where);
    }
  }
  return verifier.Finish();
}

}  // namespace portrait::store
