#include "cpu/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace se::cpu {
namespace {

// Workers sleep between jobs. A job is published under the mutex with a new generation number; every worker
// takes part once per generation and checks out, and the caller returns only after all have checked out, so
// nothing touches the caller's stack-held job afterwards.
class ThreadPool {
 public:
  explicit ThreadPool(int workers) {
    threads_.reserve(static_cast<size_t>(workers));
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void run(int64_t chunks, int64_t chunk_size, int64_t count, detail::ChunkFn fn, void* context) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = fn;
      context_ = context;
      chunks_ = chunks;
      chunk_size_ = chunk_size;
      count_ = count;
      next_.store(0, std::memory_order_relaxed);
      pending_ = static_cast<int>(threads_.size());
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      drain();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  void drain() {
    for (int64_t chunk = next_.fetch_add(1); chunk < chunks_; chunk = next_.fetch_add(1)) {
      const int64_t begin = chunk * chunk_size_;
      const int64_t end = std::min(count_, begin + chunk_size_);
      try {
        fn_(context_, begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  int pending_ = 0;
  std::exception_ptr error_;
  // The job; written under mutex_ before generation_ changes, read by workers after they saw the change.
  detail::ChunkFn fn_ = nullptr;
  void* context_ = nullptr;
  int64_t chunks_ = 0;
  int64_t chunk_size_ = 0;
  int64_t count_ = 0;
  std::atomic<int64_t> next_{0};
};

int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// The pool, its configured size and the lock that makes one job at a time use it. Allocated once and never
// destroyed: joining threads from static destructors during interpreter shutdown is a classic hang.
struct Runtime {
  std::mutex submit;
  std::unique_ptr<ThreadPool> pool;  // created on first parallel use; workers = threads - 1
  std::atomic<int> threads{default_threads()};
};

std::atomic<Runtime*> g_runtime{nullptr};
std::atomic<bool> g_forked_child{false};

// After fork() only the forking thread exists in the child: the pool's workers are gone and its mutexes may
// be held forever. The child therefore runs every job inline (torch's DataLoader workers fork us).
void mark_forked_child() { g_forked_child.store(true); }

Runtime& runtime() {
  Runtime* current = g_runtime.load(std::memory_order_acquire);
  if (current) return *current;
  static std::once_flag atfork_once;
  std::call_once(atfork_once, [] { pthread_atfork(nullptr, nullptr, mark_forked_child); });
  auto* fresh = new Runtime();
  if (!g_runtime.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) {
    delete fresh;
    return *current;
  }
  return *fresh;
}

}  // namespace

void set_num_threads(int threads) {
  if (threads < 1 || threads > 1024) {
    throw std::invalid_argument("`threads`: expected 1..1024, got " + std::to_string(threads));
  }
  Runtime& rt = runtime();
  if (g_forked_child.load()) {
    rt.threads.store(threads);
    return;
  }
  std::lock_guard<std::mutex> lock(rt.submit);  // waits for a running job, then resizes
  rt.pool.reset();
  rt.threads.store(threads);
}

int get_num_threads() { return runtime().threads.load(); }

namespace detail {

void parallel_for_impl(int64_t count, int64_t grain, ChunkFn fn, void* context) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  Runtime& rt = runtime();
  const int threads = rt.threads.load();
  if (threads <= 1 || count <= grain || g_forked_child.load()) {
    fn(context, 0, count);
    return;
  }
  std::unique_lock<std::mutex> lock(rt.submit, std::try_to_lock);
  if (!lock.owns_lock()) {  // busy with another caller's job (or ours, nested): do this one here
    fn(context, 0, count);
    return;
  }
  if (!rt.pool) rt.pool = std::make_unique<ThreadPool>(threads - 1);
  // A few chunks per thread balance uneven rows without making chunks tiny.
  const int64_t max_chunks = std::min<int64_t>(count / grain, int64_t{4} * threads);
  const int64_t chunk_size = (count + max_chunks - 1) / max_chunks;
  const int64_t chunks = (count + chunk_size - 1) / chunk_size;
  rt.pool->run(chunks, chunk_size, count, fn, context);
}

}  // namespace detail
}  // namespace se::cpu
