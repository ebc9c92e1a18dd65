// A small persistent thread pool for the CPU kernels. Not OpenMP: torch ships its own libgomp into the same
// process, and OBS embeds us too; two OpenMP runtimes (or fork after OpenMP) is a known source of hangs.
//
// parallel_for splits [0, count) into chunks run by the pool's workers and the calling thread. Calls that
// arrive while the pool is busy (another Python thread, a nested call) run on the calling thread instead of
// waiting, so concurrent streams never deadlock. A process forked from us runs everything inline.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace se::cpu {

// Threads used by parallel_for, the calling thread included (default: std::thread::hardware_concurrency()).
void set_num_threads(int threads);
int get_num_threads();

namespace detail {
using ChunkFn = void (*)(void* context, int64_t begin, int64_t end);
void parallel_for_impl(int64_t count, int64_t grain, ChunkFn fn, void* context);
}  // namespace detail

// Calls fn(begin, end) over disjoint ranges covering [0, count); ranges hold at least `grain` items unless
// count is smaller. Exceptions thrown by fn are rethrown in the caller (the first one wins).
template <class Fn>
void parallel_for(int64_t count, int64_t grain, Fn&& fn) {
  using F = std::remove_reference_t<Fn>;
  auto trampoline = [](void* context, int64_t begin, int64_t end) { (*static_cast<F*>(context))(begin, end); };
  detail::parallel_for_impl(count, grain, trampoline, const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
}

// Rows per chunk so that a chunk handles at least ~32K elements: below that, waking threads costs more than
// it saves.
inline int64_t grain_for(int64_t elements_per_row) {
  constexpr int64_t kMinElementsPerChunk = 32 * 1024;
  if (elements_per_row >= kMinElementsPerChunk) return 1;
  return kMinElementsPerChunk / (elements_per_row > 0 ? elements_per_row : 1);
}

}  // namespace se::cpu
