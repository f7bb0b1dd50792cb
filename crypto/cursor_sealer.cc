#include "crypto/cursor_sealer.h"

#include <sodium.h>

#include <array>

namespace portrait::crypto {
namespace {

constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kSealed = kNonce + sizeof(uint64_t) + kTag;
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
static_assert(sodium_base64_ENCODED_LEN(kSealed, kVariant) - 1 == CursorSealer::kCursorChars);

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Result<CursorSealer> CursorSealer::Create() {
  PORTRAIT_ASSIGN_OR_RETURN(SecretBytes key,
                            SecretBytes::Random(crypto_aead_xchacha20poly1305_ietf_KEYBYTES));
  return CursorSealer(std::move(key));
}

std::string CursorSealer::Seal(std::string_view context, uint64_t position) const {
  std::array<unsigned char, kSealed> sealed{};
  randombytes_buf(sealed.data(), kNonce);
  std::array<unsigned char, sizeof(uint64_t)> plain{};
  for (size_t i = 0; i < plain.size(); ++i) {
    plain[i] = static_cast<unsigned char>(position >> (8 * i));
  }
  crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data() + kNonce, nullptr, plain.data(),
                                             plain.size(), Bytes(context), context.size(), nullptr,
                                             sealed.data(), key_.data());
  std::string text(kCursorChars + 1, '\0');
  sodium_bin2base64(text.data(), text.size(), sealed.data(), sealed.size(), kVariant);
  text.resize(kCursorChars);
  return text;
}

Result<uint64_t> CursorSealer::Open(std::string_view context, std::string_view cursor) const {
  const Status refused = Status::InvalidArgument("not a cursor of these pages");
  if (cursor.size() != kCursorChars) {
    return Error(refused);
  }
  std::array<unsigned char, kSealed> sealed{};
  size_t length = 0;
  if (sodium_base642bin(sealed.data(), sealed.size(), cursor.data(), cursor.size(), nullptr,
                        &length, nullptr, kVariant) != 0 ||
      length != kSealed) {
    return Error(refused);
  }
  std::array<unsigned char, sizeof(uint64_t)> plain{};
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), nullptr, nullptr, sealed.data() + kNonce, kSealed - kNonce, Bytes(context),
          context.size(), sealed.data(), key_.data()) != 0) {
    return Error(refused);
  }
  uint64_t position = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    position |= static_cast<uint64_t>(plain[i]) << (8 * i);
  }
  return position;
}

}  // namespace portrait::crypto
