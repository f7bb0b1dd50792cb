// InTwoHalves: work over [0, n) split in two, the second half on a thread of its own when one
// can be started (else both halves here, one after the other). `work(from, to)` must not throw:
// an exception on the second thread would end the process.
#pragma once

#include <cstddef>
#include <system_error>
#include <thread>

namespace portrait {

template <typename Work>
void InTwoHalves(size_t n, Work&& work) {
  const size_t half = n / 2;
  try {
    std::jthread second([&] { work(half, n); });
    work(0, half);
    return;
  } catch (const std::system_error&) {  // no thread to be had: both halves here
  }
  work(0, n);
}

}  // namespace portrait
