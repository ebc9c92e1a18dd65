// streamenhance._obs_bridge: registers the streamenhance OBS filter for the Python filter logic.
// Importable only inside an OBS process (it links libobs); see streamenhance/obs/bridge.py.
#include <pybind11/pybind11.h>

#include <obs.h>

#include <string>

#include "enhance_filter.h"
#include "vendor.h"

namespace py = pybind11;

namespace se {
void init_logic(py::module_ &m);
}

namespace {

void log_message(int level, const std::string &message) {
  if (level != LOG_ERROR && level != LOG_WARNING && level != LOG_INFO && level != LOG_DEBUG)
    throw std::invalid_argument("log: expected level LOG_ERROR, LOG_WARNING, LOG_INFO or LOG_DEBUG, got " +
                                std::to_string(level));
  blog(level, "%s%s", se::kLogPrefix, message.c_str());
}

}  // namespace

PYBIND11_MODULE(_obs_bridge, m) {
  m.doc() = "Native half of the streamenhance OBS filter (frame path, OBS callbacks, websocket vendor).";
  m.attr("FILTER_ID") = se::kFilterId;
  m.attr("VENDOR_NAME") = se::kVendorName;
  m.attr("LOG_ERROR") = int(LOG_ERROR);
  m.attr("LOG_WARNING") = int(LOG_WARNING);
  m.attr("LOG_INFO") = int(LOG_INFO);
  m.attr("LOG_DEBUG") = int(LOG_DEBUG);
  m.def("log", &log_message, py::arg("level"), py::arg("message"),
        "Write one line to the OBS log, prefixed with [streamenhance].", py::call_guard<py::gil_scoped_release>());
  m.def("vendor_registered", &se::vendor_registered, "True once the obs-websocket vendor is registered.");
  se::init_logic(m);
}
