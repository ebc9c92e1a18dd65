// One-slot, lock-free hand-off of the newest frame between exactly one producer and one consumer.
//
// A triple buffer: the producer fills back(), publish() swaps it with the middle slot; the consumer's
// take() swaps the middle slot with front() when a new one was published. Neither side ever waits,
// older frames are overwritten (never queued), and each side owns its slot until its next swap.
// Plain data only: no libobs, no Python.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace se {

// A BGRA image with tightly packed rows. `data` is shared so a NumPy view handed to Python keeps the
// memory alive even if the buffer is reallocated afterwards.
struct Frame {
  std::shared_ptr<uint8_t[]> data;
  size_t capacity = 0;
  uint32_t width = 0;
  uint32_t height = 0;
  int64_t captured_ns = 0;  // steady_clock time when the frame was rendered
  bool valid = false;       // false: "no picture" (for results: pass the input through)
  bool opaque = false;      // every alpha byte is 255 (set by whoever fills the frame)

  size_t stride() const { return size_t(width) * 4; }
  size_t bytes() const { return stride() * height; }

  // Sizes the buffer for width x height BGRA; reallocates only when it grows.
  void reshape(uint32_t w, uint32_t h) {
    const size_t need = size_t(w) * h * 4;
    if (need > capacity || !data) {
      data = std::shared_ptr<uint8_t[]>(new uint8_t[need]);
      capacity = need;
    }
    width = w;
    height = h;
  }

  // Copies rows of `src_stride` bytes (libobs stage surfaces and NumPy arrays may pad rows).
  void copy_from(const uint8_t *src, size_t src_stride) {
    const size_t row = stride();
    for (uint32_t y = 0; y < height; ++y) std::memcpy(data.get() + y * row, src + y * src_stride, row);
  }

  // True when every pixel's alpha (byte 3 of BGRA) is 255.
  bool all_opaque() const {
    const uint8_t *p = data.get();
    uint8_t all = 0xFF;
    for (size_t i = 3, n = bytes(); i < n; i += 4) all &= p[i];
    return all == 0xFF;
  }
};

template <typename T>
class Mailbox {
 public:
  // Producer side.
  T &back() { return slots_[back_]; }

  // Publishes back(); returns true when the previous publication was never taken (a dropped item).
  bool publish() {
    const uint8_t previous = middle_.exchange(uint8_t(back_ | kFresh), std::memory_order_acq_rel);
    back_ = previous & kIndex;
    return (previous & kFresh) != 0;
  }

  // Consumer side: true when a new item was taken into front().
  bool take() {
    if ((middle_.load(std::memory_order_acquire) & kFresh) == 0) return false;
    const uint8_t previous = middle_.exchange(front_, std::memory_order_acq_rel);
    front_ = previous & kIndex;
    return true;
  }
  T &front() { return slots_[front_]; }

  bool has_new() const { return (middle_.load(std::memory_order_acquire) & kFresh) != 0; }

 private:
  static constexpr uint8_t kIndex = 0x3;
  static constexpr uint8_t kFresh = 0x4;
  std::array<T, 3> slots_{};
  uint8_t back_ = 0;   // producer-owned slot index
  uint8_t front_ = 1;  // consumer-owned slot index
  std::atomic<uint8_t> middle_{2};
};

}  // namespace se
