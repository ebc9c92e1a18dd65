"""streamenhance for OBS Studio (Tools > Scripts): adds the video filter "streamenhance".

Thin by design: it finds the project's Python environment, puts it on ``sys.path``, imports
``streamenhance.obs`` and lets it register the filter through the native bridge. Filter logic, models
and settings live in the package; this file only defines ``script_*`` functions.

Environment, first match wins:
  1. the script property "Python environment" (a venv directory);
  2. the environment variable ``STREAMENHANCE_VENV`` (a venv directory);
  3. ``env.json`` beside this script, written by ``streamenhance obs install``;
  4. ``$XDG_CONFIG_HOME/obs-studio/streamenhance/env.json`` (default ``~/.config/obs-studio/...``).
Changing the environment takes effect after a script reload or an OBS restart.
"""

import json
import os
import site
import sys
import traceback

import obspython as obs

_ENVIRONMENT_KEY = "environment"


def script_description():
    return (
        "<b>streamenhance</b>: real-time AI super-resolution and compression-artifact removal.<br>"
        "Adds the video filter <i>streamenhance</i> (right-click a source &gt; Filters).<br>"
        "Python environment: set below, or $STREAMENHANCE_VENV, or run <tt>streamenhance obs install</tt>."
    )


def script_properties():
    props = obs.obs_properties_create()
    obs.obs_properties_add_path(
        props, _ENVIRONMENT_KEY, "Python environment (venv)", obs.OBS_PATH_DIRECTORY, "", os.path.expanduser("~")
    )
    return props


def script_defaults(settings):
    obs.obs_data_set_default_string(settings, _ENVIRONMENT_KEY, "")


def script_load(settings):
    tag = "[streamenhance]"
    version = "python%d.%d" % sys.version_info[:2]
    site_dirs, extra_paths, origin = [], [], None

    # Candidates in priority order; a venv directory maps to its site-packages for OBS's Python.
    venv = obs.obs_data_get_string(settings, _ENVIRONMENT_KEY) or os.environ.get("STREAMENHANCE_VENV", "")
    if venv:
        venv = os.path.abspath(os.path.expanduser(venv))
        site_dirs = [os.path.join(venv, "lib", version, "site-packages")]
        origin = "venv " + venv
    else:
        config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        for env_file in (
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "env.json"),
            os.path.join(config_home, "obs-studio", "streamenhance", "env.json"),
        ):
            if os.path.isfile(env_file):
                with open(env_file, encoding="utf-8") as fh:
                    env = json.load(fh)
                wanted = "%d.%d" % sys.version_info[:2]
                if env.get("python_version", wanted) != wanted:
                    print(f"{tag} {env_file} describes a Python {env['python_version']} environment, but OBS "
                          f"embeds Python {wanted}: install streamenhance into a Python {wanted} environment")
                    return
                site_dirs = [os.path.expanduser(p) for p in env.get("site_packages", [])]
                extra_paths = [os.path.expanduser(p) for p in env.get("paths", [])]
                origin = env_file
                break
    if origin is None:
        print(f"{tag} no Python environment found: set the script's property, $STREAMENHANCE_VENV, "
              "or run `streamenhance obs install`")
        return

    missing = [d for d in site_dirs + extra_paths if not os.path.isdir(d)]
    if missing:
        print(f"{tag} environment from {origin} is incomplete: {', '.join(missing)} does not exist "
              f"(OBS embeds {version})")
        return
    for path in reversed(extra_paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    for directory in site_dirs:
        site.addsitedir(directory)  # processes .pth files, including pip's editable-install finder

    try:
        import streamenhance.obs

        streamenhance.obs.load()
    except Exception:
        print(f"{tag} could not load the filter (environment from {origin}):\n{traceback.format_exc()}")


def script_unload():
    module = sys.modules.get("streamenhance.obs")
    if module is not None:
        module.unload()
