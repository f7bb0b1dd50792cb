// KeySlab: guarded memory for many 32-byte data keys — one sodium_malloc'd (locked, fenced,
// wiped) region cut into slots. sodium_malloc per key costs ~55 µs on this project's machine
// (guard pages, mlock and the TLB shootdowns of mprotect), more than everything else an event
// needs; a slot costs a mutex. Thread-safe. A slot is wiped when its SlabKey is released.
#pragma once

#include <cstdint>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::crypto {

class KeySlab;

// One slot of a KeySlab, holding one key. Move-only; returns (wiped) to the slab on destruction.
class SlabKey {
 public:
  SlabKey() = default;
  ~SlabKey();
  SlabKey(SlabKey&& other) noexcept;
  SlabKey& operator=(SlabKey&& other) noexcept;
  SlabKey(const SlabKey&) = delete;
  SlabKey& operator=(const SlabKey&) = delete;

  uint8_t* data() { return data_; }
  operator KeyView() const { return KeyView{data_, data_ ? kSize : 0}; }  // NOLINT: a view

  static constexpr size_t kSize = 32;

 private:
  friend class KeySlab;
  SlabKey(KeySlab* slab, uint8_t* data) : slab_(slab), data_(data) {}
  void Release();

  KeySlab* slab_ = nullptr;
  uint8_t* data_ = nullptr;
};

class KeySlab {
 public:
  // A slab of `slots` keys; the region is allocated at once (a failure shows in Acquire).
  explicit KeySlab(size_t slots);
  ~KeySlab();  // every SlabKey must have been released
  KeySlab(const KeySlab&) = delete;

  // A free, zeroed slot; Unavailable when every slot is in use.
  Result<SlabKey> Acquire();

 private:
  friend class SlabKey;
  void Release(uint8_t* data);

  Mutex mu_;
  uint8_t* region_ = nullptr;
  std::vector<uint32_t> free_ GUARDED_BY(mu_);  // free slot indexes
};

}  // namespace portrait::crypto
