// State of one streamenhance filter instance, shared by OBS's graphics thread (render), the instance's
// two threads (the worker, the only thread that runs frames through the Python filter logic, in the
// background; the control thread, which applies settings and layouts meanwhile), and the threads OBS
// calls update/get_width/get_height and the websocket vendor requests from.
#pragma once

#include <obs.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "frame_mailbox.h"

struct _object;  // PyObject, without pulling Python.h into every file
using PyObjectPtr = _object *;

namespace se {

// steady_clock (CLOCK_MONOTONIC on Linux, the clock of Python's time.monotonic_ns()) in nanoseconds.
inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline constexpr const char *kFilterId = "streamenhance_filter";
inline constexpr const char *kLogPrefix = "[streamenhance] ";

// Output layout computed by Python (config.output_size) for one input size. Sides fit 16 bits: OBS
// limits inputs to 16384 and outputs are at most twice that.
struct Plan {
  uint32_t base_w = 0, base_h = 0, out_w = 0, out_h = 0;

  static uint64_t pack(const Plan &p) {
    return (uint64_t(p.base_w) << 48) | (uint64_t(p.base_h) << 32) | (uint64_t(p.out_w) << 16) | uint64_t(p.out_h);
  }
  static Plan unpack(uint64_t v) {
    return Plan{uint32_t(v >> 48) & 0xFFFF, uint32_t(v >> 32) & 0xFFFF, uint32_t(v >> 16) & 0xFFFF,
                uint32_t(v) & 0xFFFF};
  }
  static bool fits(uint32_t side) { return side > 0 && side <= 0xFFFF; }
};

struct EnhanceFilter {
  EnhanceFilter(obs_source_t *source, std::string filter_name) : context(source), name(std::move(filter_name)) {}
  ~EnhanceFilter() { delete pending_settings.exchange(nullptr); }
  EnhanceFilter(const EnhanceFilter &) = delete;
  EnhanceFilter &operator=(const EnhanceFilter &) = delete;

  obs_source_t *const context;  // used only in OBS callbacks and under the registry mutex
  const std::string name;       // for log lines (the worker must not read OBS objects)

  // ---- graphics thread only
  gs_texrender_t *texrender = nullptr;
  gs_stagesurf_t *stage[2] = {nullptr, nullptr};
  uint32_t stage_w[2] = {0, 0}, stage_h[2] = {0, 0};
  bool staged[2] = {false, false};
  int64_t staged_ns[2] = {0, 0};
  int stage_index = 0;
  gs_texture_t *result_tex = nullptr;
  uint32_t result_w = 0, result_h = 0;
  bool result_valid = false;
  bool result_opaque = false;  // every alpha of the uploaded result is 255: drawn without blending
  bool logged_missing_logic = false;

  // ---- hand-offs (lock-free, newest wins)
  Mailbox<Frame> input;   // render -> worker: captured BGRA frames
  Mailbox<Frame> output;  // worker -> render: results (valid=false: pass the input through)

  // ---- shared, atomics only
  std::atomic<uint64_t> plan{0};          // Plan::pack of the last Python layout
  std::atomic<uint32_t> plan_gen{0};      // settings generation that layout was computed with
  std::atomic<uint32_t> settings_gen{0};  // bumped by every update callback
  std::atomic<uint32_t> plan_request{0};  // (base_w << 16 | base_h) the worker should lay out; 0 = none
  std::atomic<uint32_t> last_base{0};     // (base_w << 16 | base_h) last seen by render/get_width
  // Newest settings JSON from update (OBS 29 runs update on the graphics thread: no GIL there, so
  // the control thread applies it). Exchanged whole: no lock.
  std::atomic<std::string *> pending_settings{nullptr};
  std::atomic<bool> attach_pending{false};  // create ran in a graphics context: the control thread attaches
  std::atomic<bool> compare{false};
  std::atomic<bool> has_logic{false};     // mirrors `logic != nullptr` for threads without the GIL
  std::atomic<uint32_t> wake{0};          // bumped (and notified) whenever the worker has a frame
  std::atomic<uint32_t> control_wake{0};  // bumped (and notified) whenever the control thread has work
  std::atomic<bool> stop{false};
  // Reading a frame back costs the graphics thread a pipeline flush (10-16 ms a frame under llvmpipe),
  // so frames are captured only when the logic will use them: never while it would pass them through
  // until the settings change, and while the worker is busy only shortly before it should be done.
  std::atomic<bool> wants_frames{true};
  std::atomic<int64_t> busy_since_ns{0};  // steady_clock start of the frame the worker runs; 0 = idle
  std::atomic<int64_t> frame_cost_ns{0};  // moving average of the worker's time per frame
  // A frame can take seconds on a CPU; settings and layouts must not wait for it, so they have a
  // thread of their own (the Python logic is thread-safe).
  std::thread worker;
  std::thread control;

  std::atomic<uint64_t> frames_rendered{0};  // video_render calls
  std::atomic<uint64_t> frames_captured{0};  // frames read back and handed to the worker
  std::atomic<uint64_t> frames_dropped{0};   // captured frames replaced before the worker took them
  std::atomic<uint64_t> results{0};          // results published by the worker (incl. pass-through)
  std::atomic<uint64_t> frames_uploaded{0};  // results uploaded into the output texture
  std::atomic<uint64_t> logic_errors{0};     // exceptions raised by the Python logic

  // ---- GIL-protected: read or written only while holding the GIL
  PyObjectPtr logic = nullptr;      // the Python per-instance object (streamenhance.obs.bridge)
  std::set<std::string> logged;     // distinct logic errors already written to the log
  uint32_t applied_gen = 0;         // settings generation the logic has seen

  void notify_worker() {
    wake.fetch_add(1, std::memory_order_release);
    wake.notify_one();
  }
  void notify_control() {
    control_wake.fetch_add(1, std::memory_order_release);
    control_wake.notify_one();
  }
};

// True on OBS's graphics thread or wherever the graphics context is held: never take the GIL there
// (a Python thread may hold the GIL while waiting for graphics, e.g. another script's tick).
bool in_graphics_context();

// Base size of what the filter draws on (the next filter or the source); false when unknown.
bool target_base_size(EnhanceFilter *f, uint32_t &width, uint32_t &height);

// The layout for this base size if Python computed one, else pass-through at the base size (and the
// control thread is asked for a layout; off the graphics thread, it gets up to 25 ms to answer).
// Never calls Python; safe on any thread.
Plan current_plan(EnhanceFilter *f, uint32_t base_w, uint32_t base_h);

extern struct obs_source_info enhance_filter_info;

}  // namespace se
