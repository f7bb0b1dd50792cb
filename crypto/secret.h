// SecretBytes: key material in libsodium's guarded memory (sodium_malloc: locked into RAM,
// fenced by guard pages, wiped by sodium_free). Move-only. Not synchronised: share a const
// SecretBytes between threads only after it is filled (reads are then safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace portrait::crypto {

// Initialises libsodium; safe to call many times from any thread.
Status InitSodium();

// 64 uniformly random bits from the system's CSPRNG.
uint64_t RandomU64();

// A read-only view of key bytes that live in guarded memory (a SecretBytes, a KeySlab slot).
struct KeyView {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class SecretBytes {
 public:
  SecretBytes() = default;
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // `size` zero bytes in guarded memory; Internal if the allocation fails.
  static Result<SecretBytes> Allocate(size_t size);
  // `size` random bytes.
  static Result<SecretBytes> Random(size_t size);
  // A guarded copy of `bytes` (the caller wipes its own copy).
  static Result<SecretBytes> CopyOf(std::string_view bytes);

  // A guarded copy of this key.
  Result<SecretBytes> Clone() const { return CopyOf(view()); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  operator KeyView() const { return KeyView{data_, size_}; }  // NOLINT: a view, not a copy

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace portrait::crypto
