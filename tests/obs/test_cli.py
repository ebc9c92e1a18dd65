"""``streamenhance obs``: argument handling, requests sent, errors, and the password never shown."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import obswebsocket
import pytest
from obswebsocket import exceptions as obs_exceptions
from PIL import Image

from streamenhance.cli.main import main
from streamenhance.errors import ConfigError
from streamenhance.obs import install as installer
from streamenhance.obs.websocket import ConnectionOptions

PASSWORD = "s3cret-Pa55word"
REPO = Path(__file__).resolve().parents[2]

Responder = Callable[[str, dict[str, Any]], dict[str, Any]]


def ok(data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"requestStatus": {"result": True, "code": 100}, "responseData": data or {}}


def fail(code: int, comment: str) -> dict[str, Any]:
    return {"requestStatus": {"result": False, "code": code, "comment": comment}}


class FakeObsws:
    """Stands in for obswebsocket.obsws: answers requests from ``responder``, records them."""

    responder: Responder = staticmethod(lambda name, data: ok())
    connect_error: Exception | None = None
    instances: list[FakeObsws] = []

    def __init__(self, host: str, port: int, password: str, legacy: bool = False, timeout: float = 60) -> None:
        self.host, self.port, self.password = host, port, password
        self.id = 1
        self.answers: dict[str, Any] = {}
        self.ws: Any = None
        self.server_version: str | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        FakeObsws.instances.append(self)

    def connect(self) -> None:
        self.ws = object()
        if self.connect_error is not None:
            self.server_version = "5.1.0"  # Hello received, Identify rejected
            raise self.connect_error
        self.server_version = "5.1.0"

    def disconnect(self) -> None:
        pass

    def call(self, request: Any) -> Any:
        message_id = str(self.id)
        self.id += 1
        self.requests.append((request.name, request.data()))
        self.answers[message_id] = self.responder(request.name, request.data())
        answer = self.answers.pop(message_id)
        request.input(answer.get("responseData", {}), answer["requestStatus"]["result"])
        return request


@pytest.fixture
def fake_obs(monkeypatch: pytest.MonkeyPatch) -> type[FakeObsws]:
    monkeypatch.setattr(obswebsocket, "obsws", FakeObsws)
    monkeypatch.setattr(FakeObsws, "instances", [])
    monkeypatch.setattr(FakeObsws, "connect_error", None)
    monkeypatch.setenv("OBS_WEBSOCKET_PASSWORD", PASSWORD)
    return FakeObsws


def respond(fake: type[FakeObsws], monkeypatch: pytest.MonkeyPatch, table: dict[str, dict[str, Any]]) -> None:
    monkeypatch.setattr(fake, "responder", staticmethod(lambda name, data: table.get(name, ok())))


def sent(fake: type[FakeObsws]) -> list[tuple[str, dict[str, Any]]]:
    return [r for instance in fake.instances for r in instance.requests]


def assert_no_password(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text


# ---------------------------------------------------------------------- argument handling


def test_add_filter_sends_the_checked_settings(fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    respond(fake_obs, monkeypatch, {"GetSourceFilter": ok({"filterSettings": {"scale": 1.5, "mode": "strong"}})})
    assert main(["obs", "add-filter", "--source", "Camera", "--scale", "1.5", "--mode", "strong"]) == 0
    requests = sent(fake_obs)
    assert requests[0] == ("GetSourceFilterDefaultSettings", {"filterKind": "streamenhance_filter"})
    assert requests[1] == ("CreateSourceFilter", {"sourceName": "Camera", "filterName": "streamenhance",
                                                  "filterKind": "streamenhance_filter",
                                                  "filterSettings": {"scale": 1.5, "mode": "strong"}})
    assert fake_obs.instances[0].password == PASSWORD and fake_obs.instances[0].port == 4455
    out = capsys.readouterr().out
    assert "added filter 'streamenhance' to 'Camera'" in out and "scale=1.5" in out


def test_set_overlays_settings(fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch) -> None:
    info = {"filterKind": "streamenhance_filter", "filterSettings": {}}
    respond(fake_obs, monkeypatch, {"GetSourceFilter": ok(info)})
    assert main(["obs", "set", "--source", "Camera", "--name", "SR", "--compare", "on", "--bitrate-kbps", "4000"]) == 0
    assert ("SetSourceFilterSettings", {"sourceName": "Camera", "filterName": "SR", "overlay": True,
                                        "filterSettings": {"compare": True, "bitrate_kbps": 4000}}) in sent(fake_obs)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["obs", "set", "--source", "S"], "expected at least one setting flag"),
        (["obs", "add-filter", "--source", "S", "--scale", "3"], "scale: expected one of 1, 1.33, 1.5, 2, got 3"),
        (["obs", "set", "--source", "S", "--device", "gpu0"], "device: expected one of auto, cpu or cuda:N"),
        (["obs", "status", "--port", "99999"], "port: expected an integer in 1..65535, got 99999"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(fake_obs: type[FakeObsws], capsys: pytest.CaptureFixture[str],
                                            argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not sent(fake_obs)  # checked before anything is sent


def test_missing_source_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["obs", "add-filter"])
    assert exit_info.value.code == 2 and "--source" in capsys.readouterr().err


def test_request_failure_keeps_code_and_comment(fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    respond(fake_obs, monkeypatch, {"CreateSourceFilter": fail(601, "A filter already exists by that name.")})
    assert main(["obs", "add-filter", "--source", "Camera"]) == 2
    assert ("CreateSourceFilter failed (obs-websocket status 601): A filter already exists by that name."
            in capsys.readouterr().err)


def test_add_filter_without_the_script_says_so(fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    respond(fake_obs, monkeypatch, {"GetSourceFilterDefaultSettings": fail(605, "The specified filter kind ...")})
    assert main(["obs", "add-filter", "--source", "Camera"]) == 2
    assert "is the streamenhance script loaded" in capsys.readouterr().err


def test_status_calls_the_vendor_without_an_empty_request_object(
        fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    entry = {"filter": "Enhance", "source": "Camera", "state": "running", "input_width": 640, "input_height": 360,
             "output_width": 1280, "output_height": 720, "fps_in": 30.0, "fps_out": 7.5, "latency_ms_p50": 180.0,
             "latency_ms_p95": 220.0, "frames_processed": 75, "frames_dropped": 225, "mode": "strong",
             "mode_setting": "auto", "tier": "small", "device": "cpu", "last_error": ""}
    answer = {"vendorName": "streamenhance", "requestType": "GetStatus",
              "responseData": {"filters": [entry], "count": 1, "logic_loaded": True}}
    respond(fake_obs, monkeypatch, {"CallVendorRequest": ok(answer)})
    assert main(["obs", "status"]) == 0
    assert sent(fake_obs) == [("CallVendorRequest", {"vendorName": "streamenhance", "requestType": "GetStatus"})]
    out = capsys.readouterr().out
    assert "'Enhance' on 'Camera': running, 640x360 -> 1280x720" in out
    assert "fps in 30 out 7.5, latency p50 180 ms p95 220 ms" in out
    assert main(["obs", "status", "--source", "Camera", "--json"]) == 0
    assert sent(fake_obs)[-1][1]["requestData"] == {"source": "Camera"}
    assert json.loads(capsys.readouterr().out)["count"] == 1


def test_screenshot_writes_the_png(fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch,
                                   tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 4), (10, 20, 30)).save(buffer, "PNG")
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    respond(fake_obs, monkeypatch, {"GetSourceScreenshot": ok({"imageData": data})})
    assert main(["obs", "screenshot", "--scene", "Main", "-o", str(tmp_path / "shot.png")]) == 0
    assert sent(fake_obs) == [("GetSourceScreenshot", {"sourceName": "Main", "imageFormat": "png"})]
    with Image.open(tmp_path / "shot.png") as image:
        assert image.size == (8, 4)


def test_remove(fake_obs: type[FakeObsws]) -> None:
    assert main(["obs", "remove", "--source", "Camera", "--name", "SR"]) == 0
    assert sent(fake_obs) == [("RemoveSourceFilter", {"sourceName": "Camera", "filterName": "SR"})]


# ---------------------------------------------------------------------- connection errors and the password


def test_wrong_password_is_one_clear_line_without_the_password(
        fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(fake_obs, "connect_error",
                        obs_exceptions.ConnectionFailure("Empty response to Identify, password may be inconnect."))
    with caplog.at_level(logging.DEBUG):
        assert main(["-v", "obs", "status", "--host", "studio", "--port", "4460"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == ("streamenhance obs: error: authentication failed: the OBS websocket at "
                                    "studio:4460 rejected the password (check --password or $OBS_WEBSOCKET_PASSWORD)")
    assert_no_password(captured.out, captured.err, caplog.text)


def test_missing_password_says_one_is_needed(fake_obs: type[FakeObsws], monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OBS_WEBSOCKET_PASSWORD")
    monkeypatch.setattr(fake_obs, "connect_error",
                        obs_exceptions.ConnectionFailure("Empty response to Identify, password may be inconnect."))
    assert main(["obs", "status"]) == 2
    assert "needs a password (pass --password or set $OBS_WEBSOCKET_PASSWORD)" in capsys.readouterr().err


def test_nothing_listening_is_a_connection_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The real obs-websocket-py against a closed port; the password given on the command line."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends
    with caplog.at_level(logging.DEBUG):
        code = main(["-v", "obs", "status", "--host", "127.0.0.1", "--port", str(port), "--password", PASSWORD])
    assert code == 2
    captured = capsys.readouterr()
    assert f"cannot connect to the OBS websocket at 127.0.0.1:{port}" in captured.err
    assert_no_password(captured.out, captured.err, caplog.text)


def test_connection_options_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBS_WEBSOCKET_HOST", "studio.local")
    monkeypatch.setenv("OBS_WEBSOCKET_PORT", "4460")
    monkeypatch.setenv("OBS_WEBSOCKET_PASSWORD", PASSWORD)
    options = ConnectionOptions.from_env()
    assert (options.host, options.port, options.password) == ("studio.local", 4460, PASSWORD)
    assert PASSWORD not in repr(options)
    assert ConnectionOptions.from_env("other", 1234, "").address == "other:1234"
    monkeypatch.setenv("OBS_WEBSOCKET_PORT", "websocket")
    with pytest.raises(ConfigError, match="port: expected an integer in 1..65535, got 'websocket'"):
        ConnectionOptions.from_env()


# ---------------------------------------------------------------------- install


def seed_config(root: Path, collections: dict[str, dict[str, Any]]) -> Path:
    scenes = root / "basic" / "scenes"
    scenes.mkdir(parents=True)
    for name, data in collections.items():
        (scenes / f"{name}.json").write_text(json.dumps(data))
    return root


def test_install_adds_the_script_to_every_collection_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = {"path": "/scripts/clock.py", "settings": {"x": 1}}
    config = seed_config(tmp_path / "obs-studio", {
        "Main": {"name": "Main", "modules": {"scripts-tool": [other]}},
        "Show": {"name": "Show"},
    })
    for _ in range(2):  # idempotent
        assert main(["obs", "install", "--config-dir", str(config)]) == 0
    script = config / "streamenhance" / "streamenhance_obs.py"
    assert script.read_text() == (REPO / "plugin" / "streamenhance_obs.py").read_text()
    main_scripts = json.loads((config / "basic" / "scenes" / "Main.json").read_text())["modules"]["scripts-tool"]
    assert main_scripts == [other, {"path": str(script), "settings": {}}]
    show_scripts = json.loads((config / "basic" / "scenes" / "Show.json").read_text())["modules"]["scripts-tool"]
    assert show_scripts == [{"path": str(script), "settings": {}}]
    env = json.loads((config / "streamenhance" / "env.json").read_text())
    assert env["python_version"] == "%d.%d" % os.sys.version_info[:2]
    import streamenhance

    package_parent = str(Path(streamenhance.__file__).resolve().parents[1])
    in_site_packages = any(Path(p, "streamenhance").is_dir() for p in env["site_packages"])
    assert in_site_packages or env["paths"] == [package_parent]
    assert "autoloads in scene collection Main" in capsys.readouterr().out


def test_install_keeps_the_settings_of_a_previous_entry(tmp_path: Path) -> None:
    old = {"path": "/old/place/streamenhance_obs.py", "settings": {"environment": "/venvs/se"}}
    config = seed_config(tmp_path / "obs-studio", {"Main": {"modules": {"scripts-tool": [old]}}})
    installer.install(config)
    (entry,) = json.loads((config / "basic" / "scenes" / "Main.json").read_text())["modules"]["scripts-tool"]
    assert entry["settings"] == {"environment": "/venvs/se"} and entry["path"].startswith(str(config))


def test_install_needs_a_scene_collection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["obs", "install", "--config-dir", str(tmp_path)]) == 2
    assert "no OBS scene collection" in capsys.readouterr().err


def test_install_refuses_while_obs_runs_with_that_config(tmp_path: Path) -> None:
    """A process named `obs` whose HOME points at the config (a copy of `sleep` named obs)."""
    home = tmp_path / "home"
    config = seed_config(home / ".config" / "obs-studio", {"Main": {}})
    fake_obs = tmp_path / "obs"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake_obs)
    process = subprocess.Popen([str(fake_obs), "30"], env={"HOME": str(home), "PATH": os.environ["PATH"]})
    try:
        deadline = time.monotonic() + 5
        while process.pid not in installer.running_obs(config) and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(installer.ObsRunningError, match=f"OBS is running \\(pid {process.pid}\\)"):
            installer.install(config)
        assert installer.running_obs(tmp_path / "elsewhere" / "obs-studio") == []  # other configs are fine
    finally:
        process.kill()
        process.wait()
