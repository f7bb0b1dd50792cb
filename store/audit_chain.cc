#include "store/audit_chain.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "crypto/audit_signer.h"

namespace portrait::store {

std::string CanonicalAuditRecord(int64_t seq, const AuditEntry& e) {
  nlohmann::json j = {{"action", e.action},      {"actor", e.actor},     {"detail", e.detail},
                      {"profile", e.profile_id}, {"purpose", e.purpose}, {"seq", seq},
                      {"time_us", e.time_us}};
  return j.dump();  // nlohmann orders object keys; dump() adds no spaces
}

std::string ChainHash(std::string_view previous_hash, int64_t seq, const AuditEntry& entry) {
  const std::string canonical = CanonicalAuditRecord(seq, entry);
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kAuditHashSize);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(previous_hash.data()),
                            previous_hash.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(canonical.data()),
                            canonical.size());
  std::string out(kAuditHashSize, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

std::string GenesisHash() { return std::string(kAuditHashSize, '\0'); }

std::string RecordMac(crypto::KeyView key, int64_t seq, std::string_view hash) {
  const std::string message = "portrait-audit-mac-v1\n" + std::to_string(seq) + "\n";
  crypto_generichash_state state;
  crypto_generichash_init(&state, key.data, key.size, kAuditHashSize);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                            message.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(hash.data()),
                            hash.size());
  std::string out(kAuditHashSize, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

std::string CheckpointMessage(const AuditCheckpoint& c) {
  if (c.prev_seq < 0) {
    return "portrait-audit-checkpoint-v1\n" + std::to_string(c.seq) + "\n" + crypto::ToHex(c.hash);
  }
  return "portrait-audit-checkpoint-v2\n" + std::to_string(c.seq) + "\n" + crypto::ToHex(c.hash) +
         "\n" + std::to_string(c.prev_seq) + "\n" + std::to_string(c.time_us);
}

std::string ExportHeaderMessage(int64_t head_seq, std::string_view head_hash, int64_t time_us) {
  return "portrait-audit-export-v2\n" + std::to_string(head_seq) + "\n" + crypto::ToHex(head_hash) +
         "\n" + std::to_string(time_us);
}

std::string ExportChainsMessage(int64_t time_us, const std::vector<ChainHead>& heads) {
  std::string m = "portrait-audit-export-v3\n" + std::to_string(time_us) + "\n";
  for (const ChainHead& h : heads) {
    m += nlohmann::json(h.node).dump() + "\n" + std::to_string(h.seq) + "\n" +
         crypto::ToHex(h.hash) + "\n";
  }
  return m;
}

std::string PurgeDetail(std::string_view detail, int64_t purged) {
  nlohmann::json j = nlohmann::json::parse(detail, nullptr, false);
  if (!j.is_object()) {
    j = nlohmann::json::object();
  }
  j["purged"] = purged;
  return j.dump();
}

}  // namespace portrait::store
