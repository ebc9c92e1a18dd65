// Everything that calls into Python: the registered logic, per-instance objects, the worker thread.
#include "logic.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "settings_table.h"
#include "vendor.h"

namespace py = pybind11;

// Exported by libobs but declared only in its internal headers (OBS's Lua bridge uses it the same
// way): hides a registered source type from the UI without unregistering it.
extern "C" void obs_enable_source_type(const char *name, bool enable);

namespace se {
namespace {

// Process-wide logic objects; GIL-protected.
PyObject *g_factory = nullptr;       // callable(settings_json, name, fps) -> instance object
PyObject *g_list_devices = nullptr;  // callable(request_json) -> json string
bool g_type_registered = false;      // GIL-protected too: only changed from register_filter

std::atomic<bool> g_loaded{false};

std::mutex g_registry_mutex;
std::vector<std::shared_ptr<EnhanceFilter>> g_registry;

std::string source_name(obs_source_t *source) {
  const char *name = source ? obs_source_get_name(source) : nullptr;
  return name ? name : "";
}

double obs_fps() {
  obs_video_info ovi{};
  if (!obs_get_video_info(&ovi) || ovi.fps_den == 0) return 30.0;
  return double(ovi.fps_num) / double(ovi.fps_den);
}

// Logs a Python error of one instance the first time its text is seen (GIL held).
void log_logic_error(EnhanceFilter *f, const char *what, const std::string &message) {
  f->logic_errors.fetch_add(1, std::memory_order_relaxed);
  if (!f->logged.insert(message).second) return;
  blog(LOG_ERROR, "%sfilter '%s': filter logic raised in %s, passing frames through: %s", kLogPrefix, f->name.c_str(),
       what, message.c_str());
}

// Asks the logic whether it will use frames (GIL held); when it cannot answer, frames keep flowing.
void query_wants_frames(EnhanceFilter *f, py::handle logic) {
  bool wants = true;
  try {
    wants = logic.attr("wants_frames")().cast<bool>();
  } catch (const py::error_already_set &e) {
    log_logic_error(f, "wants_frames", e.what());
  } catch (const std::exception &e) {
    log_logic_error(f, "wants_frames", e.what());
  }
  f->wants_frames.store(wants, std::memory_order_release);
}

// Stores a Python layout (GIL held). Invalid sizes keep the previous layout and count as errors.
void apply_layout(EnhanceFilter *f, py::handle logic, uint32_t base_w, uint32_t base_h) {
  try {
    py::tuple t = logic.attr("layout")(base_w, base_h);
    if (t.size() != 3) throw std::invalid_argument("layout(): expected (width, height, compare)");
    const long out_w = t[0].cast<long>(), out_h = t[1].cast<long>();
    if (out_w <= 0 || out_h <= 0 || out_w > 0xFFFF || out_h > 0xFFFF)
      throw std::invalid_argument("layout(): expected sides in 1..65535, got " + std::to_string(out_w) + "x" +
                                  std::to_string(out_h));
    f->compare.store(t[2].cast<bool>(), std::memory_order_relaxed);
    f->plan.store(Plan::pack(Plan{base_w, base_h, uint32_t(out_w), uint32_t(out_h)}), std::memory_order_release);
    f->plan_gen.store(f->applied_gen, std::memory_order_release);
  } catch (const py::error_already_set &e) {
    log_logic_error(f, "layout", e.what());
  } catch (const std::exception &e) {
    log_logic_error(f, "layout", e.what());
  }
}

// Runs the Python logic on one captured frame (GIL held). Fills `out` (valid=false: pass through).
void process_frame(EnhanceFilter *f, py::handle logic, const Frame &in, Frame &out) {
  out.valid = false;
  try {
    // Zero-copy, read-only view; the capsule co-owns the buffer so a view kept by Python stays valid.
    auto *owner = new std::shared_ptr<uint8_t[]>(in.data);
    py::capsule base(owner, [](void *p) { delete static_cast<std::shared_ptr<uint8_t[]> *>(p); });
    py::array_t<uint8_t> frame({py::ssize_t(in.height), py::ssize_t(in.width), py::ssize_t(4)},
                               {py::ssize_t(in.stride()), py::ssize_t(4), py::ssize_t(1)}, in.data.get(), base);
    frame.attr("setflags")(py::arg("write") = false);
    py::object result = logic.attr("process")(frame, in.captured_ns, f->frames_rendered.load(),
                                              f->frames_dropped.load());
    if (result.is_none()) return;
    // No silent conversion: anything but a uint8 (H, W, 4) array with contiguous pixels is an error.
    if (!py::isinstance<py::array>(result)) throw std::invalid_argument("process(): expected a numpy array or None");
    py::array arr = result.cast<py::array>();
    if (!arr.dtype().is(py::dtype::of<uint8_t>()) || arr.ndim() != 3 || arr.shape(2) != 4 || arr.strides(2) != 1 ||
        arr.strides(1) != 4 || arr.strides(0) < arr.shape(1) * 4)
      throw std::invalid_argument("process(): expected a uint8 (H, W, 4) BGRA array with contiguous pixels, got " +
                                  std::string(py::str(arr.dtype())) + " ndim " + std::to_string(arr.ndim()));
    if (arr.shape(0) <= 0 || arr.shape(1) <= 0 || arr.shape(0) > 0xFFFF || arr.shape(1) > 0xFFFF)
      throw std::invalid_argument("process(): result size out of range");
    out.reshape(uint32_t(arr.shape(1)), uint32_t(arr.shape(0)));
    out.copy_from(static_cast<const uint8_t *>(arr.data()), size_t(arr.strides(0)));
    out.opaque = out.all_opaque();
    out.captured_ns = in.captured_ns;
    out.valid = true;
  } catch (const py::error_already_set &e) {
    log_logic_error(f, "process", e.what());
  } catch (const std::exception &e) {
    log_logic_error(f, "process", e.what());
  }
}

// Replaces the instance's logic object (GIL held); closes the old one.
void set_logic(EnhanceFilter *f, PyObject *logic) {
  PyObject *old = f->logic;
  f->logic = logic;
  f->has_logic.store(logic != nullptr, std::memory_order_release);
  if (logic) f->logged.clear();
  if (old) {
    try {
      py::handle(old).attr("close")();
    } catch (const py::error_already_set &e) {
      log_logic_error(f, "close", e.what());
    }
    Py_DECREF(old);
  }
}

// Lays out for the last base size render/get_width saw (GIL held); no-op before the first one.
void layout_current(EnhanceFilter *f, py::handle logic) {
  const uint32_t base = f->last_base.load(std::memory_order_acquire);
  if (base) apply_layout(f, logic, base >> 16, base & 0xFFFF);
}

// Builds the instance's logic object from settings JSON (GIL held). No logic loaded: no-op.
// `gen` is the settings generation the JSON reflects.
void attach_locked(EnhanceFilter *f, const std::string &settings_json, uint32_t gen) {
  if (!g_factory) return;
  f->applied_gen = gen;
  try {
    py::object logic = py::handle(g_factory)(settings_json, f->name, obs_fps());
    set_logic(f, logic.release().ptr());
  } catch (const py::error_already_set &e) {
    log_logic_error(f, "create", e.what());
    return;
  }
  layout_current(f, py::handle(f->logic));
  query_wants_frames(f, py::handle(f->logic));
}

std::string settings_json_of(obs_data_t *settings) {
  const char *json = settings ? obs_data_get_json(settings) : nullptr;
  return json ? json : "{}";
}

// Applies settings posted by update (GIL held).
void apply_settings(EnhanceFilter *f, py::handle logic, const std::string &json, uint32_t gen) {
  f->applied_gen = gen;
  try {
    logic.attr("update")(json);
  } catch (const py::error_already_set &e) {
    log_logic_error(f, "update", e.what());
  }
}

// ---- settings table conversion (Python dicts -> plain data), with "what, expected, got" errors
SettingType parse_type(const std::string &key, const std::string &type) {
  if (type == "float") return SettingType::Float;
  if (type == "int") return SettingType::Int;
  if (type == "bool") return SettingType::Bool;
  if (type == "string") return SettingType::String;
  throw std::invalid_argument("settings table: key '" + key + "': expected type float, int, bool or string, got '" +
                              type + "'");
}

std::vector<SettingDef> parse_table(const py::list &table) {
  std::vector<SettingDef> defs;
  for (py::handle item : table) {
    if (!py::isinstance<py::dict>(item)) throw std::invalid_argument("settings table: expected a list of dicts");
    py::dict d = py::reinterpret_borrow<py::dict>(item);
    SettingDef def;
    def.key = d["key"].cast<std::string>();
    def.type = parse_type(def.key, d["type"].cast<std::string>());
    def.label = d["label"].cast<std::string>();
    def.doc = d["doc"].cast<std::string>();
    def.editable = d["editable"].cast<bool>();
    def.minimum = d["minimum"].cast<long long>();
    def.maximum = d["maximum"].cast<long long>();
    def.step = d["step"].cast<long long>();
    py::handle dflt = d["default"];
    switch (def.type) {
      case SettingType::Float:
      case SettingType::Int:
        def.default_number = dflt.cast<double>();
        break;
      case SettingType::Bool:
        def.default_bool = dflt.cast<bool>();
        break;
      case SettingType::String:
        def.default_text = dflt.cast<std::string>();
        break;
    }
    for (py::handle choice : d["choices"].cast<py::list>()) {
      py::tuple pair = choice.cast<py::tuple>();
      SettingChoice c;
      if (def.type == SettingType::String)
        c.text = pair[0].cast<std::string>();
      else
        c.number = pair[0].cast<double>();
      c.label = pair[1].cast<std::string>();
      def.choices.push_back(std::move(c));
    }
    defs.push_back(std::move(def));
  }
  return defs;
}

// ---- the instance's threads

// Runs `step` until the instance stops; `step(tstate)` returns false when it found nothing to do, and
// the thread then sleeps until `wake` moves. A thread state of its own for the thread's whole life;
// `step` holds the GIL (restoring `tstate`) only around its Python calls.
template <class Step>
void serve(EnhanceFilter *f, std::atomic<uint32_t> &wake, Step step) {
  PyGILState_STATE gil_state = PyGILState_Ensure();
  PyThreadState *tstate = PyEval_SaveThread();
  for (;;) {
    // Read the counter before looking for work: work posted (and notified) after this read ends the
    // wait below, work posted before it is found now. No wake-up is lost, none needs a lock.
    const uint32_t seen = wake.load(std::memory_order_acquire);
    if (f->stop.load(std::memory_order_acquire)) break;
    if (!step(tstate)) wake.wait(seen, std::memory_order_acquire);
  }
  if (python_alive()) {
    PyEval_RestoreThread(tstate);
    PyGILState_Release(gil_state);
  }
}

// Worker: the newest captured frame through the logic, result into the output mailbox.
bool worker_step(EnhanceFilter *f, PyThreadState *&tstate) {
  if (!f->input.take()) return false;
  if (!logic_loaded() || !python_alive() || !f->has_logic.load(std::memory_order_acquire)) return true;
  Frame &out = f->output.back();
  bool produced = false;
  const int64_t started = steady_now_ns();
  f->busy_since_ns.store(started, std::memory_order_release);
  PyEval_RestoreThread(tstate);
  if (f->logic) {
    py::handle logic(f->logic);
    logic.inc_ref();  // unregister may swap f->logic while Python runs (it releases the GIL inside)
    process_frame(f, logic, f->input.front(), out);
    query_wants_frames(f, logic);
    logic.dec_ref();
    produced = true;
  }
  tstate = PyEval_SaveThread();
  const int64_t took = steady_now_ns() - started, average = f->frame_cost_ns.load(std::memory_order_relaxed);
  f->frame_cost_ns.store(average ? (3 * average + took) / 4 : took, std::memory_order_relaxed);
  f->busy_since_ns.store(0, std::memory_order_release);
  if (produced) {
    f->output.publish();
    f->results.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

// Control: a deferred attach, posted settings (then the layout for them), or a layout request.
bool control_step(EnhanceFilter *f, PyThreadState *&tstate) {
  const uint32_t gen = f->settings_gen.load(std::memory_order_acquire);  // before taking the settings
  std::unique_ptr<std::string> settings(f->pending_settings.exchange(nullptr, std::memory_order_acq_rel));
  const bool attach = f->attach_pending.exchange(false, std::memory_order_acq_rel);
  const uint32_t request = f->plan_request.exchange(0, std::memory_order_acq_rel);
  if (!settings && !attach && !request) return false;
  if (!logic_loaded() || !python_alive()) return true;
  if (!attach && !f->has_logic.load(std::memory_order_acquire)) return true;
  PyEval_RestoreThread(tstate);
  if (attach && !f->logic) attach_locked(f, settings ? *settings : std::string("{}"), gen);
  if (f->logic) {
    py::handle logic(f->logic);
    logic.inc_ref();
    if (settings && !attach) {
      apply_settings(f, logic, *settings, gen);
      layout_current(f, logic);
    } else if (request) {
      apply_layout(f, logic, request >> 16, request & 0xFFFF);
    }
    query_wants_frames(f, logic);
    logic.dec_ref();
  }
  tstate = PyEval_SaveThread();
  return true;
}

void worker_main(EnhanceFilter *f) { serve(f, f->wake, [f](PyThreadState *&t) { return worker_step(f, t); }); }

void control_main(EnhanceFilter *f) {
  serve(f, f->control_wake, [f](PyThreadState *&t) { return control_step(f, t); });
}

}  // namespace

// ---------------------------------------------------------------------------------- registry

void registry_add(std::shared_ptr<EnhanceFilter> f) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  g_registry.push_back(std::move(f));
}

std::shared_ptr<EnhanceFilter> registry_take(EnhanceFilter *f) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  auto it = std::find_if(g_registry.begin(), g_registry.end(), [f](const auto &p) { return p.get() == f; });
  if (it == g_registry.end()) return nullptr;
  std::shared_ptr<EnhanceFilter> owner = std::move(*it);
  g_registry.erase(it);
  return owner;
}

std::vector<InstanceInfo> registry_snapshot(bool with_settings) {
  std::vector<InstanceInfo> out;
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  for (const auto &f : g_registry) {
    // Alive: destroy removes an instance from the registry before anything is freed, and a filter
    // is destroyed before (or while) its parent is.
    InstanceInfo info{f, source_name(f->context), source_name(obs_filter_get_parent(f->context)),
                      obs_source_enabled(f->context), {}};
    if (with_settings) {
      obs_data_t *settings = obs_source_get_settings(f->context);
      info.settings_json = settings_json_of(settings);
      obs_data_release(settings);
    }
    out.push_back(std::move(info));
  }
  return out;
}

// ---------------------------------------------------------------------------------- logic

bool python_alive() { return Py_IsInitialized() != 0; }

bool logic_loaded() { return g_loaded.load(std::memory_order_acquire); }

void logic_attach(EnhanceFilter *f, obs_data_t *settings) {
  if (!logic_loaded() || !python_alive()) return;
  if (in_graphics_context()) {  // rare (a source created during rendering): let the worker do it
    delete f->pending_settings.exchange(new std::string(settings_json_of(settings)), std::memory_order_acq_rel);
    f->attach_pending.store(true, std::memory_order_release);
    f->notify_control();
    return;
  }
  const uint32_t gen = f->settings_gen.load(std::memory_order_acquire);
  const std::string json = settings_json_of(settings);
  py::gil_scoped_acquire gil;
  attach_locked(f, json, gen);
}

void logic_post_settings(EnhanceFilter *f, obs_data_t *settings) {
  delete f->pending_settings.exchange(new std::string(settings_json_of(settings)), std::memory_order_acq_rel);
  f->settings_gen.fetch_add(1, std::memory_order_acq_rel);
  f->notify_control();
}

void logic_release(EnhanceFilter *f) {
  if (!python_alive()) {
    f->logic = nullptr;  // the interpreter is gone with its objects
    f->has_logic.store(false);
    return;
  }
  py::gil_scoped_acquire gil;
  set_logic(f, nullptr);
}

std::string logic_status_json(EnhanceFilter *f, const std::string &native_json) {
  if (!f->has_logic.load(std::memory_order_acquire) || !python_alive()) return {};
  py::gil_scoped_acquire gil;
  if (!f->logic) return {};
  try {
    return py::handle(f->logic).attr("status_json")(native_json).cast<std::string>();
  } catch (const py::error_already_set &e) {
    log_logic_error(f, "status", e.what());
    return {};
  }
}

std::string logic_list_devices_json() {
  if (!logic_loaded() || !python_alive()) return R"({"devices": [], "error": "filter logic not loaded"})";
  py::gil_scoped_acquire gil;
  if (!g_list_devices) return R"({"devices": [], "error": "filter logic not loaded"})";
  try {
    return py::handle(g_list_devices)("{}").cast<std::string>();
  } catch (const py::error_already_set &e) {
    blog(LOG_ERROR, "%sListDevices failed: %s", kLogPrefix, e.what());
    return R"({"devices": [], "error": "ListDevices failed, see the OBS log"})";
  }
}

// ---------------------------------------------------------------------------------- threads

void threads_start(EnhanceFilter *f) {
  f->worker = std::thread(worker_main, f);
  try {
    f->control = std::thread(control_main, f);
  } catch (const std::system_error &) {
    threads_stop(f);  // a joinable std::thread must not be destroyed
    throw;
  }
}

void threads_signal_stop(EnhanceFilter *f) {
  f->stop.store(true, std::memory_order_release);
  f->notify_worker();
  f->notify_control();
}

void threads_stop(EnhanceFilter *f) {
  threads_signal_stop(f);
  // The threads may be waiting for the GIL: never join while holding it.
  auto join = [f] {
    if (f->worker.joinable()) f->worker.join();
    if (f->control.joinable()) f->control.join();
  };
  if (python_alive() && PyGILState_Check()) {
    py::gil_scoped_release release;
    join();
  } else {
    join();
  }
}

// ---------------------------------------------------------------------------------- bindings

namespace {

void register_filter(const py::list &table, const py::object &factory, const py::object &list_devices) {
  if (!PyCallable_Check(factory.ptr()) || !PyCallable_Check(list_devices.ptr()))
    throw std::invalid_argument("register_filter: expected callables for factory and list_devices");
  settings_table().replace(parse_table(table));

  if (!g_type_registered) {
    // Another copy of this module (a second environment) may have registered the id already.
    if (obs_source_get_display_name(kFilterId) != nullptr)
      throw std::runtime_error(std::string("register_filter: source type '") + kFilterId +
                               "' is already registered by another copy of the bridge in this OBS process");
    obs_register_source(&enhance_filter_info);
    if (obs_source_get_display_name(kFilterId) == nullptr)
      throw std::runtime_error(std::string("register_filter: OBS refused to register '") + kFilterId + "'");
    g_type_registered = true;
  }
  obs_enable_source_type(kFilterId, true);
  register_vendor_once();

  Py_XDECREF(g_factory);
  Py_XDECREF(g_list_devices);
  g_factory = factory.inc_ref().ptr();
  g_list_devices = list_devices.inc_ref().ptr();
  g_loaded.store(true, std::memory_order_release);

  // Filters that outlived a script unload (or reload) get fresh logic from their current settings.
  for (const InstanceInfo &info : registry_snapshot(true)) {
    if (!info.filter->logic) attach_locked(info.filter.get(), info.settings_json, info.filter->settings_gen.load());
  }
  blog(LOG_INFO, "%sfilter '%s' registered (%zu settings)", kLogPrefix, kFilterId, settings_table().size());
}

void unregister_filter() {
  if (!g_loaded.exchange(false)) return;
  obs_enable_source_type(kFilterId, false);
  for (const InstanceInfo &info : registry_snapshot(false)) set_logic(info.filter.get(), nullptr);
  Py_CLEAR(g_factory);
  Py_CLEAR(g_list_devices);
  blog(LOG_INFO, "%sfilter logic unloaded: existing filters pass frames through", kLogPrefix);
}

py::list instances() {
  py::list out;
  for (const InstanceInfo &info : registry_snapshot(false)) {
    EnhanceFilter *f = info.filter.get();
    const Plan p = Plan::unpack(f->plan.load());
    py::dict d;
    d["filter"] = info.name;
    d["source"] = info.source;
    d["has_logic"] = f->has_logic.load();
    d["width"] = p.out_w;
    d["height"] = p.out_h;
    d["frames_rendered"] = f->frames_rendered.load();
    d["frames_captured"] = f->frames_captured.load();
    d["frames_dropped"] = f->frames_dropped.load();
    d["results"] = f->results.load();
    d["frames_uploaded"] = f->frames_uploaded.load();
    out.append(d);
  }
  return out;
}

}  // namespace

void init_logic(py::module_ &m) {
  m.def("register_filter", &register_filter, py::arg("table"), py::arg("factory"), py::arg("list_devices"),
        "Register the filter type (once per process), attach the Python logic, register the websocket vendor.");
  m.def("unregister_filter", &unregister_filter,
        "Detach the Python logic: live filters pass frames through and the type is hidden from the UI.");
  m.def("is_loaded", &logic_loaded, "True between register_filter and unregister_filter.");
  m.def("instances", &instances, "Native counters of every live filter instance.");
}

}  // namespace se
