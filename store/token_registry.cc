#include "store/token_registry.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace portrait::store {
namespace {

constexpr std::string_view kPrefix = "ptk_";
constexpr std::string_view kHashDomain = "api-token";

Status CheckName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 &&
            std::all_of(name.begin(), name.end(), [](unsigned char c) {
              return std::isalnum(c) || c == '.' || c == '_' || c == '-';
            });
  return ok ? Status::Ok()
            : Status::InvalidArgument("token name must be 1-64 of A-Z a-z 0-9 . _ -");
}

}  // namespace

Result<std::string> TokenRegistry::Create(std::string_view name, std::string_view role,
                                          std::string_view actor) {
  PORTRAIT_RETURN_IF_ERROR(CheckName(name));
  unsigned char secret[32];
  randombytes_buf(secret, sizeof secret);
  char encoded[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(encoded, sizeof encoded, secret, sizeof secret,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(secret, sizeof secret);
  std::string token = std::string(kPrefix) + encoded;
  sodium_memzero(encoded, sizeof encoded);

  const int64_t now = clock_.NowUs();
  Batch batch;
  batch.new_tokens.push_back(TokenRow{0, std::string(name), std::string(role),
                                      hasher_.Digest(kHashDomain, token), now, 0, 0});
  batch.audit.push_back(AuditEntry{now, std::string(actor), "token.create", 0, "",
                                   nlohmann::json{{"token", name}, {"role", role}}.dump()});
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return token;
}

Result<std::vector<TokenRow>> TokenRegistry::List() {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<TokenRow> rows, store_.ListTokens());
  for (TokenRow& row : rows) {
    row.digest.clear();
  }
  return rows;
}

Status TokenRegistry::Revoke(std::string_view name, std::string_view actor) {
  const int64_t now = clock_.NowUs();
  Batch batch;
  batch.revoked_tokens.emplace_back(name);
  batch.revoked_at_us = now;
  batch.audit.push_back(AuditEntry{now, std::string(actor), "token.revoke", 0, "",
                                   nlohmann::json{{"token", name}}.dump()});
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

Result<TokenRow> TokenRegistry::Authenticate(std::string_view token) {
  const std::string digest = hasher_.Digest(kHashDomain, token);
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<TokenRow> row, store_.FindToken(digest));
  bool match = row && row->digest.size() == digest.size() &&
               sodium_memcmp(row->digest.data(), digest.data(), digest.size()) == 0;
  if (!match || row->revoked_us != 0) {
    return Error(Status::PermissionDenied("invalid or revoked API token"));
  }
  PORTRAIT_RETURN_IF_ERROR(store_.TouchToken(row->id, clock_.NowUs()));
  return *row;
}

Result<std::string> CreateToken(DataDir& data, std::string_view name, std::string_view role,
                                std::string_view actor, const Clock& clock) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::AuditSigner signer,
                            crypto::AuditSigner::Create(data.keys.audit_seed()));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::BlindIndex hasher,
                            crypto::BlindIndex::Create(data.keys.token_key(), 32));
  AuditLog audit(*data.store, signer, data.keys.audit_mac_key(), clock);
  TokenRegistry registry(*data.store, audit, hasher, clock);
  return registry.Create(name, role, actor);
}

}  // namespace portrait::store
