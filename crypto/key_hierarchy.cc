#include "crypto/key_hierarchy.h"

#include <sodium.h>

#include "crypto/field_cipher.h"

namespace portrait::crypto {
namespace {

constexpr char kContext[crypto_kdf_CONTEXTBYTES + 1] = "portrait";

// Subkey ids: never reuse or renumber one, or existing data becomes unreadable.
enum SubkeyId : uint64_t {
  kPortraitDb = 1,
  kKeystoreDb = 2,
  kKeyEncryption = 3,
  kBlindIndex = 4,
  kAuditSeed = 5,
  kTokenHash = 6,
  kAuditMac = 7,
};

// The notice key is a subkey of the key-encryption key (its own KDF context, so it cannot
// collide with the master key's subkeys).
constexpr char kNoticeContext[crypto_kdf_CONTEXTBYTES + 1] = "pnotices";
constexpr uint64_t kNoticeSubkey = 1;
constexpr uint32_t kNoticeGeneration = 1;

// The key-encryption key's generation, recorded in every wrapped key's envelope.
constexpr uint32_t kKekGeneration = 1;

Result<SecretBytes> Derive(const SecretBytes& master, SubkeyId id, size_t size) {
  PORTRAIT_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Allocate(size));
  if (crypto_kdf_derive_from_key(key.data(), size, id, kContext, master.data()) != 0) {
    return Error(Status::Internal("key derivation failed"));
  }
  return key;
}

std::string WrapAd(int64_t profile_id) {
  return FieldCipher::AssociatedData(profile_id, "$data_key");
}

std::string CarriedAd(std::string_view name) {
  return FieldCipher::AssociatedData(0, "$carried/" + std::string(name));
}

}  // namespace

Result<KeyHierarchy> KeyHierarchy::Create(const SecretBytes& master, const CarriedKeys& carried) {
  if (master.size() != crypto_kdf_KEYBYTES) {
    return Error(Status::InvalidArgument("master key must be 32 bytes"));
  }
  KeyHierarchy h;
  PORTRAIT_ASSIGN_OR_RETURN(h.portrait_db_, Derive(master, kPortraitDb, 32));
  PORTRAIT_ASSIGN_OR_RETURN(h.keystore_db_, Derive(master, kKeystoreDb, 32));
  PORTRAIT_ASSIGN_OR_RETURN(h.kek_, Derive(master, kKeyEncryption, 32));
  PORTRAIT_ASSIGN_OR_RETURN(h.blind_index_, Derive(master, kBlindIndex, 32));
  PORTRAIT_ASSIGN_OR_RETURN(h.audit_seed_, Derive(master, kAuditSeed, crypto_sign_SEEDBYTES));
  PORTRAIT_ASSIGN_OR_RETURN(h.token_, Derive(master, kTokenHash, 32));
  PORTRAIT_ASSIGN_OR_RETURN(h.audit_mac_, Derive(master, kAuditMac, 32));
  PORTRAIT_ASSIGN_OR_RETURN(h.notice_, SecretBytes::Allocate(32));
  if (crypto_kdf_derive_from_key(h.notice_.data(), 32, kNoticeSubkey, kNoticeContext,
                                 h.kek_.data()) != 0) {
    return Error(Status::Internal("key derivation failed"));
  }
  for (const auto& [name, envelope] : carried) {
    SecretBytes* slot = name == kCarriedBlindIndex  ? &h.blind_index_
                        : name == kCarriedTokenHash ? &h.token_
                                                    : nullptr;
    if (!slot) {
      return Error(Status::InvalidArgument("keystore.db carries an unknown key '" + name + "'"));
    }
    Result<std::string> opened = FieldCipher::Open(h.kek_, CarriedAd(name), envelope);
    if (!opened) {
      return Error(Status::Corruption("the carried " + name +
                                      " key in keystore.db can't be unwrapped with this master "
                                      "key: altered, or another key's"));
    }
    PORTRAIT_ASSIGN_OR_RETURN(*slot, SecretBytes::CopyOf(*opened));
    sodium_memzero(opened->data(), opened->size());
  }
  return h;
}

Result<CarriedKeys> KeyHierarchy::WrapCarriedFrom(const KeyHierarchy& previous) const {
  CarriedKeys out;
  for (const auto& [name, key] : {std::pair{kCarriedBlindIndex, &previous.blind_index_},
                                  std::pair{kCarriedTokenHash, &previous.token_}}) {
    PORTRAIT_ASSIGN_OR_RETURN(
        out[std::string(name)],
        FieldCipher::Seal(kek_, kKekGeneration, CarriedAd(name), key->view()));
  }
  return out;
}

Result<std::string> KeyHierarchy::SealNotice(int64_t profile_id, std::string_view plaintext) const {
  return FieldCipher::Seal(notice_, kNoticeGeneration,
                           FieldCipher::AssociatedData(profile_id, "$erasure_notice"), plaintext);
}

Result<std::string> KeyHierarchy::OpenNotice(int64_t profile_id, std::string_view envelope) const {
  return FieldCipher::Open(notice_, FieldCipher::AssociatedData(profile_id, "$erasure_notice"),
                           envelope);
}

Result<SecretBytes> KeyHierarchy::NewDataKey() { return SecretBytes::Random(kDataKeySize); }

Result<std::string> KeyHierarchy::WrapDataKey(int64_t profile_id, KeyView data_key) const {
  return FieldCipher::Seal(
      kek_, kKekGeneration, WrapAd(profile_id),
      std::string_view(reinterpret_cast<const char*>(data_key.data), data_key.size));
}

Result<SecretBytes> KeyHierarchy::UnwrapDataKey(int64_t profile_id,
                                                std::string_view wrapped) const {
  PORTRAIT_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Allocate(kDataKeySize));
  PORTRAIT_RETURN_IF_ERROR(UnwrapDataKeyInto(profile_id, wrapped, key.data()));
  return key;
}

Status KeyHierarchy::UnwrapDataKeyInto(int64_t profile_id, std::string_view wrapped,
                                       uint8_t* out) const {
  return FieldCipher::OpenInto(kek_, WrapAd(profile_id), wrapped, out, kDataKeySize);
}

}  // namespace portrait::crypto
