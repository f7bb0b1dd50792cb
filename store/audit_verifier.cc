// AuditVerifier and the offline check of an export (audit_log.h).
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "store/audit_chain.h"
#include "store/audit_log.h"

namespace portrait::store {

using crypto::FromHex;
using nlohmann::json;

namespace {

std::string Seq(int64_t seq) { return std::to_string(seq); }

}  // namespace

void AuditVerifier::Fail(int64_t seq, std::string problem) {
  if (result_.ok) {
    result_.ok = false;
    result_.first_bad_seq = seq;
    result_.problem = std::move(problem);
  }
}

std::optional<AuditVerifier::Rotation> AuditVerifier::ParseRotation(const AuditRecord& r) {
  if (r.entry.action != kKeyRotateAction) {
    return std::nullopt;
  }
  const json detail = json::parse(r.entry.detail, nullptr, false);
  auto key = [&](const char* name) -> std::string {
    if (!detail.is_object() || !detail.contains(name) || !detail[name].is_string()) {
      return "";
    }
    return FromHex(detail[name].get<std::string>()).value_or("");
  };
  Rotation rotation{r.seq, key("old_public_key"), key("new_public_key")};
  if (rotation.old_key.size() != crypto_sign_PUBLICKEYBYTES ||
      rotation.new_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return std::nullopt;
  }
  return rotation;
}

void AuditVerifier::NoteRotation(const AuditRecord& r) {
  if (auto rotation = ParseRotation(r);
      rotation && (rotations_.empty() || rotations_.back().seq < r.seq)) {
    rotations_.push_back(std::move(*rotation));
  }
}

const std::string& AuditVerifier::KeyAt(int64_t seq) const {
  for (const Rotation& rotation : rotations_) {
    if (seq <= rotation.seq) {
      return rotation.old_key;
    }
  }
  return FinalKey();
}

const std::string& AuditVerifier::FinalKey() const {
  return rotations_.empty() ? trusted_key_ : rotations_.back().new_key;
}

void AuditVerifier::AddCheckpoint(const AuditCheckpoint& c) {
  ++result_.checkpoints;
  if (!crypto::AuditSigner::Verify(KeyAt(c.seq), CheckpointMessage(c), c.signature)) {
    Fail(c.seq, "checkpoint at record " + Seq(c.seq) +
                    " has an invalid signature (forged, altered, or another key)");
  } else if (c.prev_seq >= 0 && c.prev_seq != last_checkpoint_added_) {
    Fail(std::min(c.prev_seq, c.seq), "checkpoint at record " + Seq(c.seq) +
                                          " follows a signed checkpoint at record " +
                                          Seq(c.prev_seq) + " that is missing or out of place");
  }
  last_checkpoint_added_ = c.seq;
  signed_[c.seq] = c.hash;
}

// A key.rotate record met in the chain: it must be the next rotation noted, name the key the
// one before it rotated to, and be vouched for by a checkpoint of its old key.
void AuditVerifier::CheckRotation(const AuditRecord& r) {
  const std::optional<Rotation> rotation = ParseRotation(r);
  if (!rotation) {
    Fail(r.seq, "record " + Seq(r.seq) + " (a key rotation) does not name both signing keys");
  } else if (rotations_met_ >= rotations_.size() || rotations_[rotations_met_].seq != r.seq ||
             rotations_[rotations_met_].new_key != rotation->new_key ||
             rotations_[rotations_met_].old_key != rotation->old_key) {
    Fail(r.seq, "record " + Seq(r.seq) + " (a key rotation) was read differently twice");
  } else if (rotations_met_ > 0 && rotations_[rotations_met_ - 1].new_key != rotation->old_key) {
    Fail(r.seq, "record " + Seq(r.seq) +
                    " rotates from a signing key that is not the one the last rotation named");
  } else if (!signed_.contains(r.seq)) {
    Fail(r.seq, "record " + Seq(r.seq) +
                    " (a key rotation) has no checkpoint of the old key vouching for it");
  }
  ++rotations_met_;
}

bool AuditVerifier::CheckMac(const AuditRecord& r) {
  if (mac_key_.size == 0) {
    return true;  // offline: the signed checkpoints and head vouch for the chain
  }
  if (r.mac.empty()) {
    // Written before the MAC existed: trusted as far as a signed checkpoint covers it.
    if (signed_.empty() || signed_.rbegin()->first < r.seq) {
      Fail(r.seq, "record " + Seq(r.seq) + " has no MAC and no signed checkpoint covers it");
      return false;
    }
    return true;
  }
  const std::string expected = RecordMac(mac_key_, r.seq, r.hash);
  if (r.mac.size() != expected.size() ||
      sodium_memcmp(r.mac.data(), expected.data(), expected.size()) != 0) {
    Fail(r.seq, "record " + Seq(r.seq) +
                    " has a wrong MAC: it was altered, or the chain was rebuilt without the "
                    "master key");
    return false;
  }
  return true;
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
    Fail(expected,
         r.seq > expected
             ? "record " + Seq(expected) + " is missing (next is " + Seq(r.seq) + ")"
             : "record " + Seq(r.seq) + " is out of order (expected " + Seq(expected) + ")");
    return;
  }
  std::string hash = ChainHash(prev_hash_, r.seq, r.entry);
  if (hash != r.hash) {
    Fail(r.seq, "record " + Seq(r.seq) +
                    " was altered or moved (its hash does not follow from the chain)");
    return;
  }
  if (!CheckMac(r)) {
    return;
  }
  if (auto it = signed_.find(r.seq); it != signed_.end()) {
    if (it->second != hash) {
      Fail(last_checkpoint_passed_ + 1, "the chain at record " + Seq(r.seq) +
                                            " differs from its signed checkpoint: a record after " +
                                            Seq(last_checkpoint_passed_) +
                                            " was altered and the chain rebuilt");
      return;
    }
    last_checkpoint_passed_ = r.seq;
  }
  prev_hash_ = std::move(hash);
  last_seq_ = r.seq;
  ++result_.records;
  if (r.entry.action == kKeyRotateAction) {
    CheckRotation(r);
  }
}

void AuditVerifier::AddUnreadable(int line) {
  Fail(last_seq_ + 1, "record " + Seq(last_seq_ + 1) + " (line " + std::to_string(line) +
                          ") is unreadable: altered or truncated");
}

void AuditVerifier::ExpectHead(int64_t seq, std::string hash) {
  head_.emplace(seq, std::move(hash));
}

AuditVerification AuditVerifier::Finish() {
  if (result_.ok && rotations_met_ != rotations_.size()) {
    Fail(last_seq_ + 1, "a key rotation record after " + Seq(last_seq_) + " was never reached");
  }
  if (result_.ok && final_key_ && *final_key_ != FinalKey()) {
    Fail(head_ ? head_->first : last_seq_,
         rotations_.empty() ? "the export's header names another public key"
                            : "the log ends on another signing key than its last rotation names");
  }
  const bool trusted =
      rotations_.empty() ||
      std::any_of(rotations_.begin(), rotations_.end(), [&](const Rotation& rotation) {
        return rotation.old_key == trusted_key_ || rotation.new_key == trusted_key_;
      });
  if (result_.ok && !trusted) {
    Fail(0, "the given public key is none of the signing keys this log's rotations name");
  }
  if (result_.ok && !signed_.empty() && signed_.rbegin()->first > last_seq_) {
    Fail(last_seq_ + 1, "records after " + Seq(last_seq_) +
                            " are missing: a signed checkpoint covers up to " +
                            Seq(signed_.rbegin()->first));
  }
  if (result_.ok && head_ && head_->first > last_seq_) {
    Fail(last_seq_ + 1, "records after " + Seq(last_seq_) +
                            " are missing: the export's signed head is record " +
                            Seq(head_->first));
  } else if (result_.ok && head_ &&
             (head_->first < last_seq_ || (last_seq_ > 0 && head_->second != prev_hash_))) {
    Fail(std::min(head_->first + 1, last_seq_),
         "the chain does not end at the export's signed head (record " + Seq(head_->first) + ")");
  }
  return result_;
}

namespace {

// One chain's lines in an export; a line that can't be read takes the place of a record.
struct ChainLines {
  std::vector<AuditCheckpoint> checkpoints;
  std::vector<std::pair<int, std::optional<AuditRecord>>> records;
};

// An export's lines by chain: the node each line names ("" in a v2 export, which names none).
struct ExportLines {
  std::optional<json> header;
  std::map<std::string, ChainLines> chains;
};

// A hex member; only the lower-case spelling the exporter writes counts, so that no byte of an
// export can change without failing the check.
std::string HexField(const json& j, const char* key) {
  const std::string hex = j.at(key).get<std::string>();
  if (std::any_of(hex.begin(), hex.end(), [](char c) { return c >= 'A' && c <= 'F'; })) {
    return "";
  }
  return FromHex(hex).value_or("");
}

// A whole number member, as the exporter writes it: a fraction, a number past 64 bits or any
// other type is refused (json::type_error), never rounded or wrapped into another value.
int64_t IntegerField(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() &&
       v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    throw json::type_error::create(302, std::string(key) + " is not a whole number", &v);
  }
  return v.get<int64_t>();
}

void ReadLine(const std::string& line, int line_no, ExportLines& out) {
  json j = json::parse(line, nullptr, false);
  // The chain a line belongs to: the node it names ("" when it names none; a node that is not
  // text makes the line unreadable).
  std::string node;
  bool readable = j.is_object();
  if (readable) {
    if (auto it = j.find("node"); it != j.end()) {
      readable = it->is_string();
      node = readable ? it->get<std::string>() : "";
    }
  }
  ChainLines& chain = out.chains[node];
  try {
    const std::string kind = readable ? j.at("kind").get<std::string>() : "";
    if (kind == "header" && line_no == 1) {
      out.header = std::move(j);
    } else if (kind == "record") {
      chain.records.emplace_back(
          line_no,
          AuditRecord{IntegerField(j, "seq"),
                      AuditEntry{IntegerField(j, "time_us"), j.at("actor"), j.at("action"),
                                 IntegerField(j, "profile"), j.at("purpose"), j.at("detail")},
                      HexField(j, "hash"), ""});
    } else if (kind == "checkpoint") {
      chain.checkpoints.push_back(AuditCheckpoint{
          IntegerField(j, "seq"), HexField(j, "hash"), HexField(j, "signature"),
          IntegerField(j, "time_us"), j.contains("prev_seq") ? IntegerField(j, "prev_seq") : -1});
    } else {
      chain.records.emplace_back(line_no, std::nullopt);
    }
  } catch (const json::exception&) {
    chain.records.emplace_back(line_no, std::nullopt);
  }
}

// A node name from the file, as a problem names it: as it is when plain, JSON-quoted when it
// holds anything a terminal could take for a control sequence (the file is the attacker's).
std::string NodeName(const std::string& node) {
  const bool plain = !node.empty() && std::all_of(node.begin(), node.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\\';
  });
  return plain ? node : json(node).dump(-1, ' ', true, json::error_handler_t::replace);
}

// Checks one chain's lines against its signed head, the header having named `header_key`.
AuditVerification VerifyChainLines(ChainLines& lines, std::string_view public_key,
                                   const std::string& header_key, const ChainHead& head,
                                   const std::optional<std::string>& header_problem) {
  AuditVerifier verifier{std::string(public_key)};
  for (const auto& [where, record] : lines.records) {
    if (record) {
      verifier.NoteRotation(*record);
    }
  }
  // The header is signed by the key in force at the export; after rotations that may not be
  // the key given, which then must be one the chain's rotation records name.
  verifier.ExpectFinalKey(header_key);
  if (!verifier.names_rotations() && header_key != public_key) {
    verifier.Fail(head.seq, "the export's header names another public key");
  } else if (header_problem) {
    verifier.Fail(head.seq, *header_problem);
  }
  verifier.ExpectHead(head.seq, head.hash);
  std::sort(lines.checkpoints.begin(), lines.checkpoints.end(),
            [](const auto& a, const auto& b) { return a.seq < b.seq; });
  for (const auto& c : lines.checkpoints) {
    verifier.AddCheckpoint(c);
  }
  for (const auto& [where, record] : lines.records) {
    if (record) {
      verifier.AddRecord(*record);
    } else {
      verifier.AddUnreadable(where);
    }
  }
  return verifier.Finish();
}

// A v2 export: one chain, the header signing its head.
AuditVerification VerifyOneChain(ExportLines& lines, std::string_view public_key) {
  const json& header = *lines.header;
  try {
    const ChainHead head{"", IntegerField(header, "head_seq"), HexField(header, "head_hash")};
    const int64_t time_us = IntegerField(header, "time_us");
    const std::string header_key = HexField(header, "public_key");
    std::optional<std::string> problem;
    if (!crypto::AuditSigner::Verify(header_key, ExportHeaderMessage(head.seq, head.hash, time_us),
                                     HexField(header, "signature"))) {
      problem = "the export's header (line 1, head record " + Seq(head.seq) +
                ") has an invalid signature: altered";
    }
    return VerifyChainLines(lines.chains[""], public_key, header_key, head, problem);
  } catch (const json::exception&) {
    return AuditVerification{false, 0, 0, 0, "the export's header (line 1) is incomplete: altered"};
  }
}

// A v3 export: every node's chain, the header signing each chain's head.
AuditVerification VerifyChains(ExportLines& lines, std::string_view public_key) {
  const json& header = *lines.header;
  std::vector<ChainHead> heads;
  std::string header_key;
  auto refused = [](const std::string& problem) {
    return AuditVerification{false, 0, 0, 0, "the export's header (line 1) " + problem};
  };
  try {
    std::set<std::string> nodes;
    for (const json& chain : header.at("chains")) {
      heads.push_back(ChainHead{chain.at("node").get<std::string>(),
                                IntegerField(chain, "head_seq"), HexField(chain, "head_hash")});
      if (!nodes.insert(heads.back().node).second) {
        return refused("lists node " + NodeName(heads.back().node) + " twice: altered");
      }
    }
    header_key = HexField(header, "public_key");
    if (!crypto::AuditSigner::Verify(header_key,
                                     ExportChainsMessage(IntegerField(header, "time_us"), heads),
                                     HexField(header, "signature"))) {
      return refused("has an invalid signature: altered");
    }
  } catch (const json::exception&) {
    return refused("is incomplete: altered");
  }
  // An export of a store with several chains lists each: with none to check, a header signed
  // by any key at all would pass.
  if (heads.empty()) {
    return refused("lists no chain: altered");
  }
  AuditVerification all;
  auto fail = [&all](const std::string& node, const AuditVerification& one) {
    if (all.ok && !one.ok) {
      all.ok = false;
      all.first_bad_seq = one.first_bad_seq;
      all.problem = "node " + NodeName(node) + ": " + one.problem;
    }
  };
  for (const ChainHead& head : heads) {
    auto chain = lines.chains.find(head.node);
    ChainLines none;
    AuditVerification one = VerifyChainLines(chain == lines.chains.end() ? none : chain->second,
                                             public_key, header_key, head, std::nullopt);
    all.records += one.records;
    all.checkpoints += one.checkpoints;
    fail(head.node, one);
    if (chain != lines.chains.end()) {
      lines.chains.erase(chain);
    }
  }
  for (const auto& [node, chain] : lines.chains) {
    if (!chain.records.empty() || !chain.checkpoints.empty()) {
      const std::string where = chain.records.empty()
                                    ? ""
                                    : " (line " + std::to_string(chain.records.front().first) + ")";
      if (node.empty() && all.ok) {
        all = AuditVerification{false, all.records, all.checkpoints, 0,
                                "a line names no node" + where + ": unreadable or altered"};
      } else {
        fail(node, AuditVerification{false, 0, 0, 0,
                                     "lines of a chain the signed header does not name" + where +
                                         ": added, or the header altered"});
      }
    }
  }
  return all;
}

}  // namespace

Result<AuditVerification> VerifyAuditExport(std::istream& in, std::string_view public_key) {
  ExportLines lines;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ReadLine(line, ++line_no, lines);
  }
  std::string format;
  if (lines.header) {
    if (auto it = lines.header->find("format"); it != lines.header->end() && it->is_string()) {
      format = it->get<std::string>();
    }
  }
  // v1 exports carry no signed head: accepting them would let anyone turn a v2 export into one
  // (a byte of its header) and rewrite the chain after dropping the checkpoints.
  if (format == "portrait-audit-v1") {
    return Error(Status::InvalidArgument(
        "line 1: a portrait-audit-v1 export has no signed head and can't be verified; export "
        "the log again with `portraitctl audit export`"));
  }
  if (format == "portrait-audit-v3") {
    return VerifyChains(lines, public_key);
  }
  if (format != "portrait-audit-v2") {
    return Error(Status::InvalidArgument(
        "not a portrait audit export (line 1 must be its header; write one with "
        "`portraitctl audit export`)"));
  }
  // A v2 export names no nodes: a line that does is not part of its one chain.
  for (const auto& [node, chain] : lines.chains) {
    if (!node.empty() && (!chain.records.empty() || !chain.checkpoints.empty())) {
      return AuditVerification{false, 0, 0, 0,
                               "a line names node " + NodeName(node) +
                                   ", which a portrait-audit-v2 export never does: altered"};
    }
  }
  return VerifyOneChain(lines, public_key);
}

}  // namespace portrait::store
