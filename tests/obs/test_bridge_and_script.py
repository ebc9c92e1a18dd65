"""The Python glue the native bridge calls, and the OBS script's bootstrap (with a fake ``obspython``)."""

from __future__ import annotations

import ast
import json
import logging
import os
import shutil
import sys
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import streamenhance.obs
from streamenhance import native
from streamenhance.errors import NativeUnavailableError
from streamenhance.obs import bridge
from streamenhance.obs.settings import bridge_table

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "plugin" / "streamenhance_obs.py"


class FakeBridge(types.SimpleNamespace):
    """Records what streamenhance.obs.bridge hands to the native module."""

    LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG = 100, 200, 300, 400

    def __init__(self) -> None:
        super().__init__(lines=[], registered=[], unregistered=0)

    def log(self, level: int, message: str) -> None:
        self.lines.append((level, message))

    def register_filter(self, table: list[dict[str, Any]], factory: Any, list_devices: Any) -> None:
        self.registered.append((table, factory, list_devices))

    def unregister_filter(self) -> None:
        self.unregistered += 1


@pytest.fixture
def fake_bridge(monkeypatch: pytest.MonkeyPatch) -> FakeBridge:
    fake = FakeBridge()
    monkeypatch.setattr(bridge, "import_bridge", lambda: fake)
    monkeypatch.setattr(bridge, "_state", {"bridge": None, "handler": None, "warm_up": None})
    logger = logging.getLogger(bridge.PACKAGE_LOGGER)
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    threads = torch.get_num_threads(), native.get_num_threads()  # the warm-up changes them process-wide
    yield fake
    logger.handlers[:] = handlers
    logger.propagate, logger.level = propagate, level
    torch.set_num_threads(threads[0])
    native.set_num_threads(threads[1])


# ---------------------------------------------------------------------- load / unload


def test_load_registers_the_table_and_unload_detaches(fake_bridge: FakeBridge) -> None:
    bridge.load()
    ((table, factory, list_devices),) = fake_bridge.registered
    assert table == bridge_table() and factory is bridge._BridgeInstance and callable(list_devices)
    bridge.unload()
    bridge.unload()  # idempotent
    assert fake_bridge.unregistered == 1
    warm_up = bridge._state["warm_up"]
    assert isinstance(warm_up, threading.Thread) and not warm_up.is_alive()  # joined by unload
    assert any(bridge.WARM_UP_DONE in message for _, message in fake_bridge.lines)


def test_worker_threads_leave_a_core_to_obs_and_run_in_the_background(fake_bridge: FakeBridge, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread count is applied on the thread that calls process (torch keeps it per thread)."""
    bridge.load()
    bridge.unload()
    expected = bridge.inference_threads()
    assert expected == max(1, (os.cpu_count() or 1) - 1)
    assert any(f"CPU inference uses {expected} thread(s)" in message for _, message in fake_bridge.lines)
    instance = bridge._BridgeInstance(json.dumps({"scale": 1.0, "mode": "off"}), "E", 30.0)
    monkeypatch.setattr(instance.controller, "process", lambda *args: None)
    seen: list[int] = []

    niceness: list[int] = []

    def worker() -> None:
        instance.process(np.zeros((4, 4, 4), np.uint8), 0, 0, 0)
        seen.extend([torch.get_num_threads(), native.get_num_threads()])
        if sys.platform.startswith("linux"):
            niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [expected, expected]
    if sys.platform.startswith("linux"):  # the worker runs in the background; the caller keeps its priority
        assert niceness == [bridge.BACKGROUND_NICE]
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    instance.close()


def test_package_log_records_go_to_the_obs_log_once(fake_bridge: FakeBridge) -> None:
    bridge.load()
    bridge.load()  # a script reload does not add a second handler
    logging.getLogger("streamenhance.obs").error("filter 'E': engine unavailable")
    logging.getLogger("streamenhance.engine").info("model loaded")
    bridge.unload()
    lines = [line for line in fake_bridge.lines if bridge.WARM_UP_DONE not in line[1]]
    assert lines == [(FakeBridge.LOG_ERROR, "filter 'E': engine unavailable"), (FakeBridge.LOG_INFO, "model loaded")]


def test_missing_bridge_keeps_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "streamenhance._obs_bridge", None)
    with pytest.raises(NativeUnavailableError, match="streamenhance._obs_bridge is not available .*libobs-dev"):
        bridge.import_bridge()


# ---------------------------------------------------------------------- the per-instance adapter


def test_bridge_instance_speaks_json() -> None:
    instance = bridge._BridgeInstance(json.dumps({"scale": 1.5, "compare": True}), "Enhance", 60.0)
    assert instance.layout(641, 361) == (962, 542, True)
    instance.update(json.dumps({"scale": 3}))  # invalid: kept, reported
    status = json.loads(instance.status_json(json.dumps({"filter": "Enhance", "frames_rendered": 10})))
    assert status["filter"] == "Enhance" and status["settings"]["scale"] == 1.5 and "scale" in status["last_error"]
    assert instance.controller.fps == 60.0
    instance.update("")  # OBS with no user settings: all defaults
    assert instance.layout(100, 50) == (200, 100, False)
    instance.close()
    assert json.loads(instance.status_json("{}"))["state"] == "closed"


def test_list_devices_answers_json() -> None:
    answer = json.loads(bridge._list_devices_json("{}"))
    assert answer["devices"][0]["name"] == "cpu" and answer["auto"] in ("cpu", "cuda:0")


# ---------------------------------------------------------------------- the OBS script


def fake_obspython(settings: dict[str, str]) -> types.ModuleType:
    module = types.ModuleType("obspython")
    module.OBS_PATH_DIRECTORY = 2
    module.obs_data_get_string = lambda data, key: data.get(key, "")
    module.obs_data_set_default_string = lambda data, key, value: data.setdefault(key, value)
    module.obs_properties_create = lambda: []
    module.obs_properties_add_path = lambda props, *args: props.append(args)
    return module


@pytest.fixture
def script_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The script copied into a fake OBS config dir, a fake obspython, and a recording load()."""
    calls: dict[str, Any] = {"load": 0, "unload": 0}
    monkeypatch.setitem(sys.modules, "obspython", fake_obspython({}))
    monkeypatch.setattr(streamenhance.obs, "load", lambda: calls.__setitem__("load", calls["load"] + 1))
    monkeypatch.setattr(streamenhance.obs, "unload", lambda: calls.__setitem__("unload", calls["unload"] + 1))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("STREAMENHANCE_VENV", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "obs-studio" / "streamenhance"
    folder.mkdir(parents=True)
    shutil.copy(SCRIPT, folder / SCRIPT.name)
    calls["folder"] = folder
    return calls


def load_script(folder: Path) -> types.ModuleType:
    namespace = types.ModuleType("streamenhance_obs_under_test")
    namespace.__file__ = str(folder / SCRIPT.name)
    exec(compile((folder / SCRIPT.name).read_text(), namespace.__file__, "exec"), namespace.__dict__)
    return namespace


def test_script_defines_only_script_functions() -> None:
    tree = ast.parse(SCRIPT.read_text())
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert functions and all(name.startswith("script_") for name in functions)
    assert not [node for node in tree.body if isinstance(node, ast.ClassDef)]
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "torch" not in imported and "numpy" not in imported  # heavy imports happen off the UI thread


def test_script_finds_env_json_and_processes_pth_files(script_env: dict[str, Any], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    site_packages = tmp_path / "venv" / "lib" / "site-packages"
    extra = tmp_path / "from-pth"
    site_packages.mkdir(parents=True)
    extra.mkdir()
    (site_packages / "editable.pth").write_text(str(extra) + "\n")
    env = {"python_version": "%d.%d" % sys.version_info[:2], "site_packages": [str(site_packages)],
           "paths": [str(tmp_path / "src")]}
    (tmp_path / "src").mkdir()
    (script_env["folder"] / "env.json").write_text(json.dumps(env))
    script = load_script(script_env["folder"])
    script.script_load({})
    assert script_env["load"] == 1
    assert str(extra) in sys.path and str(site_packages) in sys.path and sys.path[0] == str(tmp_path / "src")
    script.script_unload()
    assert script_env["unload"] == 1
    assert capsys.readouterr().out == ""


def test_script_property_wins_and_missing_venv_is_reported(script_env: dict[str, Any], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script(script_env["folder"])
    script.script_load({"environment": str(tmp_path / "no-such-venv")})
    assert script_env["load"] == 0
    out = capsys.readouterr().out
    assert "[streamenhance] environment from venv" in out and "does not exist" in out


def test_script_rejects_an_environment_of_another_python(script_env: dict[str, Any],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (script_env["folder"] / "env.json").write_text(json.dumps({"python_version": "2.7", "site_packages": []}))
    load_script(script_env["folder"]).script_load({})
    assert script_env["load"] == 0 and "describes a Python 2.7 environment" in capsys.readouterr().out


def test_script_without_environment_says_how_to_set_one(script_env: dict[str, Any],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    load_script(script_env["folder"]).script_load({})
    assert script_env["load"] == 0 and "streamenhance obs install" in capsys.readouterr().out


def test_script_properties_offer_the_environment_path(script_env: dict[str, Any]) -> None:
    script = load_script(script_env["folder"])
    props = script.script_properties()
    assert props[0][0] == "environment"
    defaults: dict[str, str] = {}
    script.script_defaults(defaults)
    assert defaults == {"environment": ""}
    assert "streamenhance" in script.script_description()
