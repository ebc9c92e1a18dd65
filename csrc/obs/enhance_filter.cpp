// The streamenhance video filter: OBS callbacks (prefixed enhance_filter_) and the GPU side of the frame
// path. Per frame on the graphics thread:
//   1. if the worker published a newer result, upload it into a reusable dynamic texture;
//   2. render the filter's target into a BGRA texrender when it is captured or drawn this frame;
//   3. map the stage surface filled on the previous frame (no GPU stall), copy it into the input
//      mailbox and wake the worker; stage this frame into the other surface when the worker will
//      want it (capture_wanted: read-backs are expensive, frames the worker would drop are not read);
//   4. draw the result at the size get_width/get_height report, or, while no result of that size
//      exists, the input stretched to it.
// The graphics thread never takes the GIL and never waits for the worker.
#include "enhance_filter.h"

#include <chrono>
#include <memory>
#include <new>
#include <system_error>
#include <thread>

#include "logic.h"
#include "settings_table.h"

namespace se {

bool target_base_size(EnhanceFilter *f, uint32_t &width, uint32_t &height) {
  obs_source_t *target = obs_filter_get_target(f->context);
  if (!target) return false;
  width = obs_source_get_base_width(target);
  height = obs_source_get_base_height(target);
  return width > 0 && height > 0;
}

bool in_graphics_context() { return obs_in_task_thread(OBS_TASK_GRAPHICS) || gs_get_context() != nullptr; }

Plan current_plan(EnhanceFilter *f, uint32_t base_w, uint32_t base_h) {
  auto same_base = [&](const Plan &p) { return p.base_w == base_w && p.base_h == base_h && p.out_w && p.out_h; };
  auto fresh = [&] {
    return f->plan_gen.load(std::memory_order_acquire) == f->settings_gen.load(std::memory_order_acquire);
  };
  if (Plan::fits(base_w) && Plan::fits(base_h)) f->last_base.store((base_w << 16) | base_h, std::memory_order_release);
  Plan plan = Plan::unpack(f->plan.load(std::memory_order_acquire));
  if (same_base(plan) && fresh()) return plan;
  const Plan passthrough{base_w, base_h, base_w, base_h};
  if (!f->has_logic.load(std::memory_order_acquire) || !Plan::fits(base_w) || !Plan::fits(base_h))
    return same_base(plan) ? plan : passthrough;

  const uint32_t request = (base_w << 16) | base_h;
  if (f->plan_request.exchange(request, std::memory_order_acq_rel) != request) f->notify_control();
  // Off the graphics thread (UI, websocket) wait briefly for the control thread, so a client that
  // queries the size right after adding the filter gets the scaled one. The wait is bounded, so a
  // GIL held elsewhere can only delay the answer, never deadlock; the graphics thread never waits.
  const bool may_wait = !in_graphics_context();
  for (int i = 0; i < 25 && may_wait; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    plan = Plan::unpack(f->plan.load(std::memory_order_acquire));
    if (same_base(plan) && fresh()) return plan;
  }
  return same_base(plan) ? plan : passthrough;  // a layout of older settings beats none
}

// ---------------------------------------------------------------------------------- drawing

// Draws columns [src_x, src_x + src_w) of `tex` (full height) into the rectangle starting at dst_x
// of size dst_w x dst_h, with the sRGB handling libobs uses for filter textures. An `opaque` texture
// is drawn without blending (and, at 1:1, without sRGB conversion): under software GL, blending a
// 1280x720 picture every frame costs about half a core more.
static void draw_region(gs_texture_t *tex, uint32_t src_x, uint32_t src_w, float dst_x, float dst_w, float dst_h,
                        bool opaque = false) {
  const uint32_t src_h = gs_texture_get_height(tex);
  if (!src_w || !src_h) return;
  gs_effect_t *effect = obs_get_base_effect(OBS_EFFECT_DEFAULT);
  gs_eparam_t *image = gs_effect_get_param_by_name(effect, "image");
  // An opaque picture drawn 1:1 without blending is a copy: decoding sRGB to linear and encoding it
  // back would change nothing but cost every pixel twice.
  const bool copy = opaque && dst_w == float(src_w) && dst_h == float(src_h);
  const bool linear_srgb = gs_get_linear_srgb() && !copy;
  const bool previous = gs_framebuffer_srgb_enabled();
  gs_enable_framebuffer_srgb(linear_srgb);
  if (linear_srgb)
    gs_effect_set_texture_srgb(image, tex);
  else
    gs_effect_set_texture(image, tex);

  gs_blend_state_push();
  if (opaque)
    gs_enable_blending(false);
  else
    gs_blend_function(GS_BLEND_ONE, GS_BLEND_INVSRCALPHA);  // textures hold premultiplied alpha
  gs_matrix_push();
  gs_matrix_translate3f(dst_x, 0.0f, 0.0f);
  gs_matrix_scale3f(dst_w / float(src_w), dst_h / float(src_h), 1.0f);
  while (gs_effect_loop(effect, "Draw")) gs_draw_sprite_subregion(tex, 0, src_x, 0, src_w, src_h);
  gs_matrix_pop();
  gs_blend_state_pop();
  gs_enable_framebuffer_srgb(previous);
}

// A vertical bar at x of the given width, full height (the compare split line).
static void draw_divider(float x, float width, float height) {
  gs_effect_t *solid = obs_get_base_effect(OBS_EFFECT_SOLID);
  struct vec4 color;
  vec4_set(&color, 1.0f, 1.0f, 1.0f, 1.0f);
  gs_effect_set_vec4(gs_effect_get_param_by_name(solid, "color"), &color);
  gs_matrix_push();
  gs_matrix_translate3f(x, 0.0f, 0.0f);
  while (gs_effect_loop(solid, "Solid")) gs_draw_sprite(nullptr, 0, uint32_t(width), uint32_t(height));
  gs_matrix_pop();
}

// Pass-through without logic: the input, stretched to the reported size when that differs.
static void draw_passthrough(EnhanceFilter *f, const Plan &plan) {
  if (plan.out_w == plan.base_w && plan.out_h == plan.base_h) {
    obs_source_skip_video_filter(f->context);
    return;
  }
  // No direct rendering: it would ignore the output size.
  if (!obs_source_process_filter_begin(f->context, GS_RGBA, OBS_NO_DIRECT_RENDERING)) return;
  gs_blend_state_push();
  gs_blend_function(GS_BLEND_ONE, GS_BLEND_INVSRCALPHA);
  obs_source_process_filter_end(f->context, obs_get_base_effect(OBS_EFFECT_DEFAULT), plan.out_w, plan.out_h);
  gs_blend_state_pop();
}

// Renders the target into f->texrender at its base size; false when nothing could be rendered.
// Mirrors obs_source_process_filter_begin: a plain (not custom-draw, not async) parent expects to be
// drawn inside the default effect, which obs_source_default_render sets up.
static bool capture_target(EnhanceFilter *f, obs_source_t *target, obs_source_t *parent, uint32_t width,
                           uint32_t height) {
  if (!f->texrender) f->texrender = gs_texrender_create(GS_BGRA, GS_ZS_NONE);
  if (!f->texrender) return false;
  gs_texrender_reset(f->texrender);
  if (!gs_texrender_begin(f->texrender, width, height)) return false;
  struct vec4 clear_color;
  vec4_zero(&clear_color);
  gs_clear(GS_CLEAR_COLOR, &clear_color, 0.0f, 0);
  gs_ortho(0.0f, float(width), 0.0f, float(height), -100.0f, 100.0f);
  gs_blend_state_push();
  gs_blend_function(GS_BLEND_ONE, GS_BLEND_ZERO);
  const uint32_t flags = obs_source_get_output_flags(target);
  if (target == parent && !(flags & OBS_SOURCE_CUSTOM_DRAW) && !(flags & OBS_SOURCE_ASYNC))
    obs_source_default_render(target);
  else
    obs_source_video_render(target);
  gs_blend_state_pop();
  gs_texrender_end(f->texrender);
  return true;
}

// Whether this frame should be captured for a worker whose logic wants frames: always while it is
// idle (a GPU engine keeps up with every frame), else only within a few frame intervals of when its
// current frame should be done, so it takes a fresh frame next without OBS reading back frames it
// would drop.
static bool capture_wanted(EnhanceFilter *f) {
  const int64_t since = f->busy_since_ns.load(std::memory_order_acquire);
  if (since == 0) return true;
  const int64_t lead = 3 * int64_t(obs_get_frame_interval_ns());
  return steady_now_ns() - since >= f->frame_cost_ns.load(std::memory_order_relaxed) - lead;
}

// Hands the frame staged on the previous call to the worker, then stages this one if `stage` (two
// surfaces: mapping a surface filled a frame ago does not wait for the GPU).
static void read_back(EnhanceFilter *f, uint32_t width, uint32_t height, bool stage) {
  const int cur = f->stage_index, prev = cur ^ 1;
  if (f->staged[prev]) {
    uint8_t *data = nullptr;
    uint32_t linesize = 0;
    if (gs_stagesurface_map(f->stage[prev], &data, &linesize)) {
      Frame &frame = f->input.back();
      frame.reshape(f->stage_w[prev], f->stage_h[prev]);
      frame.copy_from(data, linesize);
      frame.captured_ns = f->staged_ns[prev];
      frame.valid = true;
      gs_stagesurface_unmap(f->stage[prev]);
      if (f->input.publish()) f->frames_dropped.fetch_add(1, std::memory_order_relaxed);
      f->frames_captured.fetch_add(1, std::memory_order_relaxed);
      f->notify_worker();
    }
    f->staged[prev] = false;
  }
  if (!stage) return;

  if (!f->stage[cur] || f->stage_w[cur] != width || f->stage_h[cur] != height) {
    gs_stagesurface_destroy(f->stage[cur]);
    f->stage[cur] = gs_stagesurface_create(width, height, GS_BGRA);
    f->stage_w[cur] = width;
    f->stage_h[cur] = height;
  }
  gs_texture_t *tex = gs_texrender_get_texture(f->texrender);
  if (f->stage[cur] && tex) {
    gs_stage_texture(f->stage[cur], tex);
    f->staged[cur] = true;
    f->staged_ns[cur] = steady_now_ns();
  }
  f->stage_index = prev;
}

// Uploads the newest result, if any, into the reusable dynamic texture.
static void upload_result(EnhanceFilter *f) {
  if (!f->output.take()) return;
  const Frame &result = f->output.front();
  if (!result.valid) {
    f->result_valid = false;  // the logic passes this input through
    return;
  }
  if (!f->result_tex || f->result_w != result.width || f->result_h != result.height) {
    gs_texture_destroy(f->result_tex);
    f->result_tex = gs_texture_create(result.width, result.height, GS_BGRA, 1, nullptr, GS_DYNAMIC);
    f->result_w = result.width;
    f->result_h = result.height;
  }
  if (!f->result_tex) {
    f->result_valid = false;
    return;
  }
  gs_texture_set_image(f->result_tex, result.data.get(), uint32_t(result.stride()), false);
  f->result_valid = true;
  f->result_opaque = result.opaque;
  f->frames_uploaded.fetch_add(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------- callbacks

static const char *enhance_filter_get_name(void *) { return "streamenhance (AI upscale + artifact removal)"; }

static void *enhance_filter_create(obs_data_t *settings, obs_source_t *source) {
  const char *name = obs_source_get_name(source);
  std::shared_ptr<EnhanceFilter> f;
  try {
    f = std::make_shared<EnhanceFilter>(source, name ? name : "");
    threads_start(f.get());
  } catch (const std::exception &e) {  // bad_alloc, or no thread to be had
    blog(LOG_ERROR, "%sfilter '%s': cannot be created: %s", kLogPrefix, name ? name : "", e.what());
    return nullptr;  // f (if any) has no thread running: freed here
  }
  EnhanceFilter *data = f.get();
  registry_add(std::move(f));
  // Without logic (script not loaded) the filter still exists and passes frames through.
  logic_attach(data, settings);
  return data;
}

// Stops the worker, drops the Python logic and frees the GPU objects; the C++ state itself goes
// with the last owner (a websocket request may still be reading its counters).
static void enhance_filter_free(std::shared_ptr<EnhanceFilter> f) {
  threads_stop(f.get());
  logic_release(f.get());
  obs_enter_graphics();
  gs_texrender_destroy(f->texrender);
  gs_stagesurface_destroy(f->stage[0]);
  gs_stagesurface_destroy(f->stage[1]);
  gs_texture_destroy(f->result_tex);
  f->texrender = nullptr;
  f->stage[0] = f->stage[1] = nullptr;
  f->result_tex = nullptr;
  obs_leave_graphics();
}

static void enhance_filter_destroy(void *data) {
  // Out of the registry first: from here on no other thread reads this source.
  std::shared_ptr<EnhanceFilter> f = registry_take(static_cast<EnhanceFilter *>(data));
  if (!f) return;
  threads_signal_stop(f.get());
  if (!in_graphics_context()) {
    enhance_filter_free(std::move(f));
    return;
  }
  // Released during rendering: joining the threads or taking the GIL here could wait on a thread that
  // waits for graphics. Free it from a thread of its own; the instance's threads never touch OBS
  // objects, so the source may go away meanwhile.
  try {
    std::thread(enhance_filter_free, f).detach();
  } catch (const std::system_error &) {
    enhance_filter_free(std::move(f));  // no thread to be had: free inline
  }
}

// OBS 29 defers updates of video sources to the graphics thread: hand the settings to the control thread.
static void enhance_filter_update(void *data, obs_data_t *settings) {
  logic_post_settings(static_cast<EnhanceFilter *>(data), settings);
}

static void enhance_filter_get_defaults(void *, obs_data_t *settings) { settings_table().apply_defaults(settings); }

static obs_properties_t *enhance_filter_get_properties(void *, void *) { return settings_table().make_properties(); }

static uint32_t enhance_filter_get_width(void *data) {
  auto *f = static_cast<EnhanceFilter *>(data);
  uint32_t bw = 0, bh = 0;
  return target_base_size(f, bw, bh) ? current_plan(f, bw, bh).out_w : 0;
}

static uint32_t enhance_filter_get_height(void *data) {
  auto *f = static_cast<EnhanceFilter *>(data);
  uint32_t bw = 0, bh = 0;
  return target_base_size(f, bw, bh) ? current_plan(f, bw, bh).out_h : 0;
}

static void enhance_filter_video_render(void *data, gs_effect_t *) {
  auto *f = static_cast<EnhanceFilter *>(data);
  obs_source_t *target = obs_filter_get_target(f->context);
  obs_source_t *parent = obs_filter_get_parent(f->context);
  uint32_t bw = 0, bh = 0;
  if (!target || !parent || !target_base_size(f, bw, bh)) {
    obs_source_skip_video_filter(f->context);
    return;
  }
  f->frames_rendered.fetch_add(1, std::memory_order_relaxed);
  const Plan plan = current_plan(f, bw, bh);

  if (!f->has_logic.load(std::memory_order_acquire)) {
    if (!f->logged_missing_logic) {
      blog(LOG_WARNING, "%sfilter '%s': no filter logic loaded (script not loaded or unloaded), passing frames through",
           kLogPrefix, obs_source_get_name(f->context));
      f->logged_missing_logic = true;
    }
    f->result_valid = false;
    draw_passthrough(f, plan);
    return;
  }
  f->logged_missing_logic = false;
  if (!f->wants_frames.load(std::memory_order_acquire)) {  // identity settings or a failed engine
    f->result_valid = false;
    read_back(f, bw, bh, false);  // hands over a frame staged before, if any
    draw_passthrough(f, plan);
    return;
  }

  upload_result(f);
  const bool have_result = f->result_valid && f->result_w == plan.out_w && f->result_h == plan.out_h;
  const bool compare = f->compare.load(std::memory_order_relaxed);
  const bool stage = capture_wanted(f);
  // The input is drawn only while no result exists and in compare mode; rendered otherwise only to
  // be captured.
  const bool need_input = stage || !have_result || compare;
  if (need_input && !capture_target(f, target, parent, bw, bh)) {
    draw_passthrough(f, plan);
    return;
  }
  read_back(f, bw, bh, stage);

  gs_texture_t *input = need_input ? gs_texrender_get_texture(f->texrender) : nullptr;
  const float ow = float(plan.out_w), oh = float(plan.out_h);
  if (!have_result) {
    if (input) draw_region(input, 0, bw, 0.0f, ow, oh);  // stretched input until a result exists
    return;
  }
  if (compare && input) {
    // Before | after: left half of the stretched input, right half of the enhanced picture.
    const uint32_t split_out = plan.out_w / 2;
    const uint32_t split_in = uint32_t((uint64_t(split_out) * bw + plan.out_w / 2) / plan.out_w);
    draw_region(input, 0, split_in, 0.0f, float(split_out), oh);
    draw_region(f->result_tex, split_out, plan.out_w - split_out, float(split_out), float(plan.out_w - split_out), oh,
                f->result_opaque);
    const float bar = plan.out_w >= 640 ? 2.0f : 1.0f;
    draw_divider(float(split_out) - bar / 2.0f, bar, oh);
    return;
  }
  draw_region(f->result_tex, 0, plan.out_w, 0.0f, ow, oh, f->result_opaque);
}

// ---------------------------------------------------------------------------------- registration

// The id is permanent (saved scene collections refer to it): change behaviour with .version.
struct obs_source_info enhance_filter_info = [] {
  struct obs_source_info info = {};
  info.id = kFilterId;
  info.type = OBS_SOURCE_TYPE_FILTER;
  info.output_flags = OBS_SOURCE_VIDEO | OBS_SOURCE_SRGB;
  info.get_name = enhance_filter_get_name;
  info.create = enhance_filter_create;
  info.destroy = enhance_filter_destroy;
  info.get_width = enhance_filter_get_width;
  info.get_height = enhance_filter_get_height;
  info.update = enhance_filter_update;
  info.video_render = enhance_filter_video_render;
  info.get_defaults2 = enhance_filter_get_defaults;
  info.get_properties2 = enhance_filter_get_properties;
  return info;
}();

}  // namespace se
