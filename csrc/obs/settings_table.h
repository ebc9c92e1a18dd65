// The filter's settings table as plain data, received from Python (streamenhance.obs.settings) when
// the filter registers. It drives get_defaults and get_properties; there is no second copy of the
// keys, defaults or ranges in C++.
#pragma once

#include <obs.h>

#include <mutex>
#include <string>
#include <vector>

namespace se {

enum class SettingType { Float, Int, Bool, String };

struct SettingChoice {
  double number = 0.0;  // value for Float settings
  std::string text;     // value for String settings
  std::string label;
};

struct SettingDef {
  std::string key;
  SettingType type = SettingType::String;
  std::string label;
  std::string doc;
  double default_number = 0.0;
  bool default_bool = false;
  std::string default_text;
  std::vector<SettingChoice> choices;
  bool editable = false;
  long long minimum = 0;
  long long maximum = 0;
  long long step = 1;
};

// Process-wide table, replaced on each registration (the script may be reloaded with a newer one).
class SettingsTable {
 public:
  void replace(std::vector<SettingDef> defs);
  void apply_defaults(obs_data_t *settings) const;
  obs_properties_t *make_properties() const;
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::vector<SettingDef> defs_;
};

SettingsTable &settings_table();

}  // namespace se
