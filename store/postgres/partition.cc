#include "store/postgres/partition.h"

namespace portrait::store::pg {
namespace {

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int Reduce(uint64_t h, int partitions) {
  return partitions <= 1 ? 0 : static_cast<int>(h % static_cast<uint64_t>(partitions));
}

}  // namespace

int PartitionOfId(int64_t id, int partitions) {
  return Reduce(Mix(static_cast<uint64_t>(id)), partitions);
}

int PartitionOfDigest(std::string_view digest, int partitions) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : digest) {
    h = (h ^ c) * 0x100000001b3ULL;
  }
  return Reduce(Mix(h), partitions);
}

}  // namespace portrait::store::pg
