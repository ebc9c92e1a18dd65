// obs-websocket vendor "streamenhance": requests GetStatus and ListDevices.
#pragma once

namespace se {

inline constexpr const char *kVendorName = "streamenhance";

// Registers the vendor and its requests the first time it is called in this OBS process (obs-websocket
// 5.1 has no way to unregister). Call after obs-websocket loaded: from the script's load.
void register_vendor_once();
bool vendor_registered();

}  // namespace se
