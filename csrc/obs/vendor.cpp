// The obs-websocket vendor API is a thin layer over proc handlers (obs-websocket lib/obs-websocket-api.h,
// a C++-only header not shipped in libobs-dev): fetch obs-websocket's own proc handler from the global
// one, then call "vendor_register" and "vendor_request_register" on it. Callbacks run on obs-websocket's
// IO thread.
#include "vendor.h"

#include <obs.h>

#include <string>

#include "enhance_filter.h"
#include "logic.h"

namespace se {
namespace {

// Layout obs-websocket copies out of the "callback" pointer in vendor_request_register.
struct VendorRequestCallback {
  void (*callback)(obs_data_t *request, obs_data_t *response, void *priv);
  void *priv;
};

bool g_registered = false;  // changed only from register_vendor_once, which runs with the GIL held

// Counters the bridge itself knows, as JSON (Python merges its numbers over them).
obs_data_t *native_status(const InstanceInfo &info) {
  EnhanceFilter *f = info.filter.get();
  obs_data_t *d = obs_data_create();
  const Plan plan = Plan::unpack(f->plan.load(std::memory_order_acquire));
  obs_data_set_string(d, "filter", info.name.c_str());
  obs_data_set_string(d, "source", info.source.c_str());
  obs_data_set_bool(d, "enabled", info.enabled);
  obs_data_set_bool(d, "logic_loaded", f->has_logic.load());
  obs_data_set_int(d, "input_width", plan.base_w);
  obs_data_set_int(d, "input_height", plan.base_h);
  obs_data_set_int(d, "output_width", plan.out_w);
  obs_data_set_int(d, "output_height", plan.out_h);
  obs_data_set_int(d, "frames_rendered", (long long)f->frames_rendered.load());
  obs_data_set_int(d, "frames_captured", (long long)f->frames_captured.load());
  obs_data_set_int(d, "frames_dropped", (long long)f->frames_dropped.load());
  obs_data_set_int(d, "frames_uploaded", (long long)f->frames_uploaded.load());
  obs_data_set_int(d, "logic_errors", (long long)f->logic_errors.load());
  return d;
}

// requestData (optional): {"filter": name} and/or {"source": name} to narrow the answer.
void get_status(obs_data_t *request, obs_data_t *response, void *) {
  const std::string want_filter = request ? obs_data_get_string(request, "filter") : "";
  const std::string want_source = request ? obs_data_get_string(request, "source") : "";
  obs_data_array_t *filters = obs_data_array_create();
  for (const InstanceInfo &info : registry_snapshot(false)) {
    if ((!want_filter.empty() && info.name != want_filter) || (!want_source.empty() && info.source != want_source))
      continue;
    obs_data_t *native = native_status(info);
    const std::string merged = logic_status_json(info.filter.get(), obs_data_get_json(native));
    obs_data_t *entry = merged.empty() ? nullptr : obs_data_create_from_json(merged.c_str());
    obs_data_array_push_back(filters, entry ? entry : native);
    if (entry) obs_data_release(entry);
    obs_data_release(native);
  }
  obs_data_set_array(response, "filters", filters);
  obs_data_set_int(response, "count", (long long)obs_data_array_count(filters));
  obs_data_set_bool(response, "logic_loaded", logic_loaded());
  obs_data_array_release(filters);
}

void list_devices(obs_data_t *, obs_data_t *response, void *) {
  const std::string json = logic_list_devices_json();
  if (obs_data_t *answer = obs_data_create_from_json(json.c_str())) {
    obs_data_apply(response, answer);
    obs_data_release(answer);
  }
}

proc_handler_t *websocket_proc_handler() {
  proc_handler_t *global = obs_get_proc_handler();
  if (!global) return nullptr;
  calldata_t cd = {};
  proc_handler_t *ph = nullptr;
  if (proc_handler_call(global, "obs_websocket_api_get_ph", &cd))
    ph = static_cast<proc_handler_t *>(calldata_ptr(&cd, "ph"));
  calldata_free(&cd);
  return ph;
}

bool register_request(proc_handler_t *ph, void *vendor, const char *type,
                      decltype(VendorRequestCallback::callback) cb) {
  VendorRequestCallback callback{cb, nullptr};  // copied by obs-websocket
  calldata_t cd = {};
  calldata_set_string(&cd, "type", type);
  calldata_set_ptr(&cd, "callback", &callback);
  calldata_set_ptr(&cd, "vendor", vendor);
  proc_handler_call(ph, "vendor_request_register", &cd);
  const bool ok = calldata_bool(&cd, "success");
  calldata_free(&cd);
  return ok;
}

}  // namespace

bool vendor_registered() { return g_registered; }

void register_vendor_once() {
  if (g_registered) return;
  proc_handler_t *ph = websocket_proc_handler();
  if (!ph) {
    blog(LOG_WARNING, "%sobs-websocket not found: vendor requests GetStatus/ListDevices unavailable", kLogPrefix);
    return;
  }
  calldata_t cd = {};
  calldata_set_string(&cd, "name", kVendorName);
  proc_handler_call(ph, "vendor_register", &cd);
  void *vendor = calldata_ptr(&cd, "vendor");
  calldata_free(&cd);
  if (!vendor) {
    blog(LOG_WARNING, "%sobs-websocket refused vendor '%s' (already registered?)", kLogPrefix, kVendorName);
    return;
  }
  const bool ok = register_request(ph, vendor, "GetStatus", get_status) &&
                  register_request(ph, vendor, "ListDevices", list_devices);
  g_registered = true;  // even when a request failed: the vendor name is taken for this process
  blog(ok ? LOG_INFO : LOG_WARNING, "%swebsocket vendor '%s' %s", kLogPrefix, kVendorName,
       ok ? "registered (GetStatus, ListDevices)" : "registered, but a request failed to register");
}

}  // namespace se
