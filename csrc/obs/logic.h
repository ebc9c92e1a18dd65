// The Python side of the filter, seen from C++: the logic registered by the OBS script
// (streamenhance.obs.bridge), the per-instance objects it creates, the two threads per instance that
// call them (worker: frames; control: settings and layouts), and the registry of live instances. Everything that touches Python lives in logic.cpp.
//
// Rules that keep this free of deadlocks and use-after-free:
//   * the render thread never takes the GIL and never waits on a lock;
//   * nothing takes the GIL while holding the registry mutex;
//   * `EnhanceFilter::logic` and the process-wide logic objects are only touched with the GIL held;
//   * no code takes references to filter sources (a filter that outlives its parent crashes libobs
//     29 on release). OBS objects of an instance are read only in OBS callbacks or under the registry
//     mutex: destroy removes the instance from the registry first, so they are alive there. The
//     instance's threads never touch OBS objects.
#pragma once

#include <obs.h>

#include <memory>
#include <string>
#include <vector>

#include "enhance_filter.h"

namespace se {

// ---- registry of live instances (owns the C++ state; libobs holds a raw pointer to it)
void registry_add(std::shared_ptr<EnhanceFilter> f);
std::shared_ptr<EnhanceFilter> registry_take(EnhanceFilter *f);  // destroy: remove, get ownership

// What other threads may know about an instance: read under the registry mutex.
struct InstanceInfo {
  std::shared_ptr<EnhanceFilter> filter;
  std::string name;          // filter name
  std::string source;        // name of the source it is on ("" when detached)
  bool enabled = false;
  std::string settings_json;  // filled only when asked for
};
std::vector<InstanceInfo> registry_snapshot(bool with_settings);

// ---- process-wide logic
bool python_alive();
bool logic_loaded();  // a script registered the logic and has not unloaded it

// ---- per instance
// create (OBS's creating thread): build the Python object; deferred to the control thread in a
// graphics context, where the GIL must not be taken.
void logic_attach(EnhanceFilter *f, obs_data_t *settings);
// destroy: close and drop the Python object (takes the GIL; never in a graphics context).
void logic_release(EnhanceFilter *f);
// update (any thread, no Python): hand the settings to the control thread, which applies them and
// lays out at once, while the worker may still be running a frame.
void logic_post_settings(EnhanceFilter *f, obs_data_t *settings);
// JSON of the instance's status from Python merged over `native_json`; empty without logic.
std::string logic_status_json(EnhanceFilter *f, const std::string &native_json);
// JSON answer of ListDevices from Python; an error object without logic.
std::string logic_list_devices_json();

// ---- the instance's threads (worker and control)
void threads_start(EnhanceFilter *f);  // throws std::system_error when no thread can be created
void threads_signal_stop(EnhanceFilter *f);
void threads_stop(EnhanceFilter *f);   // joins; releases the GIL meanwhile if the caller holds it

}  // namespace se
