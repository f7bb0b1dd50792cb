#include "crypto/secret.h"

#include <sodium.h>

#include <cstring>
#include <utility>

namespace portrait::crypto {

Status InitSodium() {
  if (sodium_init() < 0) {
    return Status::Internal("libsodium failed to initialise");
  }
  return Status::Ok();
}

uint64_t RandomU64() {
  (void)InitSodium();
  uint64_t v = 0;
  randombytes_buf(&v, sizeof v);
  return v;
}

SecretBytes::~SecretBytes() {
  if (data_) {
    sodium_free(data_);  // wipes, unlocks and unmaps
  }
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_) {
      sodium_free(data_);
    }
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Result<SecretBytes> SecretBytes::Allocate(size_t size) {
  PORTRAIT_RETURN_IF_ERROR(InitSodium());
  SecretBytes s;
  s.data_ = static_cast<uint8_t*>(sodium_malloc(size == 0 ? 1 : size));
  if (!s.data_) {
    return Error(Status::Internal("could not allocate guarded memory for key material"));
  }
  sodium_memzero(s.data_, size == 0 ? 1 : size);
  s.size_ = size;
  return s;
}

Result<SecretBytes> SecretBytes::Random(size_t size) {
  PORTRAIT_ASSIGN_OR_RETURN(SecretBytes s, Allocate(size));
  randombytes_buf(s.data(), size);
  return s;
}

Result<SecretBytes> SecretBytes::CopyOf(std::string_view bytes) {
  PORTRAIT_ASSIGN_OR_RETURN(SecretBytes s, Allocate(bytes.size()));
  std::memcpy(s.data(), bytes.data(), bytes.size());
  return s;
}

}  // namespace portrait::crypto
