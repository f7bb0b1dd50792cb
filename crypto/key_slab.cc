#include "crypto/key_slab.h"

#include <sodium.h>

#include <utility>

namespace portrait::crypto {

SlabKey::~SlabKey() { Release(); }

SlabKey::SlabKey(SlabKey&& other) noexcept
    : slab_(std::exchange(other.slab_, nullptr)), data_(std::exchange(other.data_, nullptr)) {}

SlabKey& SlabKey::operator=(SlabKey&& other) noexcept {
  if (this != &other) {
    Release();
    slab_ = std::exchange(other.slab_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
  }
  return *this;
}

void SlabKey::Release() {
  if (slab_) {
    slab_->Release(data_);
    slab_ = nullptr;
    data_ = nullptr;
  }
}

KeySlab::KeySlab(size_t slots) {
  if (InitSodium().ok()) {
    region_ = static_cast<uint8_t*>(sodium_malloc(slots * SlabKey::kSize));
  }
  if (region_) {
    sodium_memzero(region_, slots * SlabKey::kSize);
    free_.reserve(slots);
    for (size_t i = slots; i-- > 0;) {
      free_.push_back(static_cast<uint32_t>(i));
    }
  }
}

KeySlab::~KeySlab() {
  if (region_) {
    sodium_free(region_);  // wipes
  }
}

Result<SlabKey> KeySlab::Acquire() {
  MutexLock lock(mu_);
  if (free_.empty()) {
    return Error(Status::Unavailable(region_ ? "every data-key slot is in use; retry"
                                             : "guarded memory for data keys is unavailable"));
  }
  uint32_t slot = free_.back();
  free_.pop_back();
  return SlabKey(this, region_ + size_t{slot} * SlabKey::kSize);
}

void KeySlab::Release(uint8_t* data) {
  sodium_memzero(data, SlabKey::kSize);
  MutexLock lock(mu_);
  free_.push_back(static_cast<uint32_t>((data - region_) / SlabKey::kSize));
}

}  // namespace portrait::crypto
