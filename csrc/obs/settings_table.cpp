#include "settings_table.h"

#include <utility>

namespace se {

SettingsTable &settings_table() {
  static SettingsTable table;
  return table;
}

void SettingsTable::replace(std::vector<SettingDef> defs) {
  std::lock_guard<std::mutex> lock(mutex_);
  defs_ = std::move(defs);
}

size_t SettingsTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return defs_.size();
}

void SettingsTable::apply_defaults(obs_data_t *settings) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const SettingDef &def : defs_) {
    const char *key = def.key.c_str();
    switch (def.type) {
      case SettingType::Float:
        obs_data_set_default_double(settings, key, def.default_number);
        break;
      case SettingType::Int:
        obs_data_set_default_int(settings, key, static_cast<long long>(def.default_number));
        break;
      case SettingType::Bool:
        obs_data_set_default_bool(settings, key, def.default_bool);
        break;
      case SettingType::String:
        obs_data_set_default_string(settings, key, def.default_text.c_str());
        break;
    }
  }
}

obs_properties_t *SettingsTable::make_properties() const {
  std::lock_guard<std::mutex> lock(mutex_);
  obs_properties_t *props = obs_properties_create();
  for (const SettingDef &def : defs_) {
    const char *key = def.key.c_str();
    const char *label = def.label.c_str();
    obs_property_t *p = nullptr;
    switch (def.type) {
      case SettingType::Float:
        p = obs_properties_add_list(props, key, label, OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_FLOAT);
        for (const SettingChoice &c : def.choices) obs_property_list_add_float(p, c.label.c_str(), c.number);
        break;
      case SettingType::Int:
        p = obs_properties_add_int(props, key, label, static_cast<int>(def.minimum), static_cast<int>(def.maximum),
                                   static_cast<int>(def.step));
        break;
      case SettingType::Bool:
        p = obs_properties_add_bool(props, key, label);
        break;
      case SettingType::String:
        // Editable combos accept typed values too (e.g. "cuda:1"); Python checks them in update.
        p = obs_properties_add_list(props, key, label, def.editable ? OBS_COMBO_TYPE_EDITABLE : OBS_COMBO_TYPE_LIST,
                                    OBS_COMBO_FORMAT_STRING);
        for (const SettingChoice &c : def.choices) obs_property_list_add_string(p, c.label.c_str(), c.text.c_str());
        break;
    }
    if (p && !def.doc.empty()) obs_property_set_long_description(p, def.doc.c_str());
  }
  return props;
}

}  // namespace se
