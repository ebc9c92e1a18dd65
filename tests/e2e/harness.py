"""Headless OBS 29 for end-to-end tests (recipe: ../shared/docs/OBS_NOTES.md section 4).

* A private network namespace (root: ``unshare --net``) whose only interface is ``lo``: obs-websocket
  5.1 listens on all interfaces, so the server must be reachable only there. Xvfb's abstract socket
  is per namespace too. The test process enters the namespace only to create sockets (``setns`` on
  the calling thread), so the rest of the session keeps its own network.
* Xvfb + Mesa llvmpipe (``LIBGL_ALWAYS_SOFTWARE=1``), preview disabled (30 fps instead of 21).
* A throwaway ``HOME`` seeded per run with global.ini, a profile and a scene collection; the script
  is added with ``streamenhance obs install --config-dir`` (the command users run).
* Driven only over obs-websocket (``streamenhance.obs.websocket.ObsClient``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamenhance.obs.websocket import ConnectionOptions, ObsClient, ObsConnectionError

REPO = Path(__file__).resolve().parents[2]
PORT = 4455  # private namespace: no clash with anything else on the machine (one port per config)
LAST_VERSION_29_0_2 = (29 << 24) | (0 << 16) | 2
CLONE_NEWNET = 0x40000000
REQUIRE_ENV = "STREAMENHANCE_REQUIRE_OBS"

GLOBAL_INI = """[General]
Pre19Defaults=false
Pre21Defaults=false
Pre23Defaults=false
Pre24.1Defaults=false
FirstRun=true
LastVersion={last_version}
MaxLogs=10
EnableAutoUpdates=false

[Basic]
Profile=Headless
ProfileDir=Headless
SceneCollection=Headless
SceneCollectionFile=Headless
ConfigOnNewProfile=false

[BasicWindow]
SysTrayEnabled=false
SysTrayWhenStarted=false
SaveProjectors=false
PreviewEnabled=false
WarnBeforeStartingStream=false
WarnBeforeStoppingStream=false
WarnBeforeStoppingRecord=false

[OBSWebSocket]
FirstLoad=false
ServerEnabled=true
ServerPort={port}
AlertsEnabled=false
AuthRequired=true
ServerPassword={password}
"""

PROFILE_INI = """[General]
Name=Headless

[Video]
BaseCX={width}
BaseCY={height}
OutputCX={width}
OutputCY={height}
FPSType=0
FPSCommon=30
ScaleType=bicubic
ColorFormat=NV12
ColorSpace=709
ColorRange=Partial

[Audio]
SampleRate=48000
ChannelSetup=Stereo

[Output]
Mode=Simple
"""


def missing_requirements() -> list[str]:
    """What this machine lacks to run OBS end to end (empty when everything is there)."""
    missing = []
    for tool in ("obs", "Xvfb", "unshare", "ip"):
        if shutil.which(tool) is None:
            missing.append(f"`{tool}` not on PATH (run .ci/setup_obs.sh)")
    if os.geteuid() != 0:
        missing.append("root is needed for a private network namespace (unshare --net)")
    if not list((REPO / "python" / "streamenhance").glob("_obs_bridge*.so")):
        missing.append("streamenhance._obs_bridge is not built (apt-get install libobs-dev; pip install -e .)")
    return missing


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class NetNamespace:
    """A network namespace with only ``lo`` up, kept alive by a sleeping holder process."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self.holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep infinity"],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.holder.stdout.readline().strip() if self.holder.stdout else ""
        if line != "up":
            self.close()
            raise RuntimeError("could not create a network namespace with `unshare --net` (root needed)")
        self.path = f"/proc/{self.holder.pid}/ns/net"
        self._fd = os.open(self.path, os.O_RDONLY)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block with this thread in the namespace (sockets/processes created there stay there)."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            if self._fd is None or _libc().setns(self._fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the test network namespace failed")
            try:
                yield
            finally:
                if _libc().setns(own, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the original network namespace failed")
        finally:
            os.close(own)

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` prefixed to run inside the namespace (for CLI subprocesses)."""
        return ["nsenter", f"--net={self.path}", *argv]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.holder.kill()
        self.holder.wait(timeout=10)
        if self.holder.stdout is not None:
            self.holder.stdout.close()


@dataclass
class ObsConfig:
    """A seeded OBS configuration in a throwaway HOME (reused across restarts)."""

    home: Path
    port: int = PORT
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8), repr=False)
    canvas: tuple[int, int] = (1280, 720)

    @property
    def config_dir(self) -> Path:
        return self.home / ".config" / "obs-studio"

    @property
    def log_dir(self) -> Path:
        return self.config_dir / "logs"

    def seed(self) -> None:
        """(Re)write global.ini and the profile; write the collection only the first time.

        OBS rewrites global.ini on exit; the collection is kept so a restart restores its sources.
        """
        (self.config_dir / "basic" / "profiles" / "Headless").mkdir(parents=True, exist_ok=True)
        (self.config_dir / "basic" / "scenes").mkdir(parents=True, exist_ok=True)
        (self.config_dir / "global.ini").write_text(
            GLOBAL_INI.format(last_version=LAST_VERSION_29_0_2, port=self.port, password=self.password)
        )
        width, height = self.canvas
        (self.config_dir / "basic" / "profiles" / "Headless" / "basic.ini").write_text(
            PROFILE_INI.format(width=width, height=height)
        )
        collection = self.config_dir / "basic" / "scenes" / "Headless.json"
        if not collection.exists():
            scene = {"id": "scene", "versioned_id": "scene", "name": "Scene", "enabled": True,
                     "settings": {"custom_size": False, "id_counter": 0, "items": []}}
            collection.write_text(json.dumps({
                "name": "Headless", "current_scene": "Scene", "current_program_scene": "Scene",
                "scene_order": [{"name": "Scene"}], "sources": [scene], "groups": [], "transitions": [],
                "current_transition": "Fade", "transition_duration": 300, "modules": {"scripts-tool": []},
            }, indent=4))

    def install_script(self) -> subprocess.CompletedProcess[str]:
        """``streamenhance obs install --config-dir`` (the user-facing command) into this config."""
        return run_cli(["install", "--config-dir", str(self.config_dir)], check=True)


def run_cli(args: list[str], env: dict[str, str] | None = None, check: bool = False,
            netns: NetNamespace | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m streamenhance.cli.main obs ARGS`` (inside ``netns`` when given)."""
    argv = [sys.executable, "-m", "streamenhance.cli.main", "obs", *args]
    if netns is not None:
        argv = netns.command(argv)
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "python") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    full_env.update(env or {})
    return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=120, check=check)


def _wait_for_display(display: str, timeout: float = 10.0) -> None:
    """Until the X server accepts connections on its (per-namespace) abstract socket."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(f"\0/tmp/.X11-unix/X{display}")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"X display :{display} not accepting connections") from None
        time.sleep(0.05)


@dataclass(frozen=True)
class RenderWindow:
    """OBS's own render counters (``GetStats``) over one timed window."""

    seconds: float
    rendered: int  # frames OBS's render loop produced
    lagged: int  # frames it skipped because rendering ran late
    average_render_ms: float
    active_fps: float

    @property
    def lag_share(self) -> float:
        return self.lagged / max(1, self.rendered)

    def as_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds, "rendered": self.rendered, "lagged": self.lagged,
                "average_render_ms": round(self.average_render_ms, 2), "active_fps": round(self.active_fps, 2)}


LAG_TOLERANCE = 0.05  # share of frames the filter may add to OBS's own lag


def keeps_render_rate(with_filter: RenderWindow, without: list[RenderWindow]) -> bool:
    """The filter adds at most ``LAG_TOLERANCE`` of lagged frames to OBS's lag without it.

    Shared CI hosts and software GL lag now and then on their own; the reference windows of the same
    run (filter disabled) separate that from the filter's share.
    """
    reference = max(w.lag_share for w in without) if without else 0.0
    return with_filter.lag_share <= reference + LAG_TOLERANCE


class ObsProcess:
    """Xvfb + OBS running with ``config`` inside ``netns``; ``client`` is connected once started."""

    def __init__(self, config: ObsConfig, netns: NetNamespace, extra_env: dict[str, str] | None = None) -> None:
        self.config = config
        self.netns = netns
        self.extra_env = extra_env or {}
        self.xvfb: subprocess.Popen[bytes] | None = None
        self.obs: subprocess.Popen[bytes] | None = None
        self.client: ObsClient | None = None
        self.started_at = 0.0
        self.log_before: set[Path] = set()
        self.obs_out: Any = None
        self._display_fd: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60.0) -> ObsProcess:
        """Start Xvfb and OBS and connect; on failure everything started is stopped again."""
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> ObsProcess:
        self.config.seed()
        runtime = self.config.home / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.log_before = set(self.config.log_dir.glob("*.txt")) if self.config.log_dir.is_dir() else set()
        # Xvfb writes its display number to -displayfd when ready (and again on resets, hence
        # -noreset and a read end kept open until it stops).
        self._display_fd, write_fd = os.pipe()
        with self.netns.entered():
            self.xvfb = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp",
                 "-noreset"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            os.close(write_fd)
            display = os.read(self._display_fd, 16).decode().strip()
            if not display:
                raise RuntimeError("Xvfb did not start")
            _wait_for_display(display)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(self.config.home),
                "DISPLAY": f":{display}",
                "XDG_RUNTIME_DIR": str(runtime),
                "LIBGL_ALWAYS_SOFTWARE": "1",
                "QT_QPA_PLATFORM": "xcb",
                "LANG": "C.UTF-8",
                **self.extra_env,
            }
            self.obs_out = open(self.config.home / "obs-stdout.txt", "ab")
            self.started_at = time.monotonic()
            # Through sh only to allow core dumps (written to HOME) for post-mortems of crashes.
            self.obs = subprocess.Popen(
                ["sh", "-c", 'ulimit -c unlimited 2>/dev/null; exec "$@"', "obs", "obs", "--multi",
                 "--disable-missing-files-check", "--collection", "Headless", "--profile", "Headless",
                 "--scene", "Scene"],
                env=env, cwd=str(self.config.home), stdout=self.obs_out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.display = display
        self.client = self._connect(timeout)
        return self

    def _connect(self, timeout: float) -> ObsClient:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.obs is not None and self.obs.poll() is not None:
                raise RuntimeError(f"OBS exited with {self.obs.returncode} during startup; {self.diagnostics()}")
            try:
                return self.connect()
            except ObsConnectionError as exc:
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"OBS websocket not reachable after {timeout:g} s ({last}); {self.diagnostics()}")

    def wait_warm(self, timeout: float = 90.0) -> None:
        """Until the script's background import of the engine (torch) is over, so timings are stable."""
        self.wait_for(lambda: self.log_lines("engine modules loaded") or self.log_lines("engine modules failed"),
                      timeout, what="the engine modules to load in OBS")

    def connect(self, password: str | None = None) -> ObsClient:
        """A new client inside the namespace (``password`` overrides the configured one)."""
        secret = self.config.password if password is None else password
        options = ConnectionOptions("127.0.0.1", self.config.port, secret, 30.0)
        with self.netns.entered():
            return ObsClient(options)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (OBS saves its collection and unloads scripts), SIGKILL after ``timeout``."""
        if self.client is not None:
            self.client.close()
            self.client = None
        code = None
        if self.obs is not None and self.obs.poll() is None:
            self.obs.send_signal(signal.SIGINT)
            try:
                code = self.obs.wait(timeout)
            except subprocess.TimeoutExpired:
                self.obs.kill()
                code = self.obs.wait(10)
        elif self.obs is not None:
            code = self.obs.returncode
        if self.xvfb is not None and self.xvfb.poll() is None:
            self.xvfb.terminate()
            try:
                self.xvfb.wait(10)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()
        if self.obs_out is not None:
            self.obs_out.close()
            self.obs_out = None
        if self._display_fd is not None:
            os.close(self._display_fd)
            self._display_fd = None
        return code

    @property
    def alive(self) -> bool:
        return self.obs is not None and self.obs.poll() is None

    # ------------------------------------------------------------------ logs

    def log_file(self) -> Path | None:
        """This run's OBS log (the newest file created after start)."""
        if not self.config.log_dir.is_dir():
            return None
        new = [p for p in self.config.log_dir.glob("*.txt") if p not in self.log_before]
        return max(new, key=lambda p: p.stat().st_mtime) if new else None

    def log_text(self) -> str:
        path = self.log_file()
        return path.read_text(errors="replace") if path else ""

    def diagnostics(self) -> str:
        """The end of OBS's log and console output, and where a core dump is (for assertion messages)."""
        console = self.config.home / "obs-stdout.txt"
        cores = sorted(str(p) for p in self.config.home.glob("core*"))
        return (f"log tail:\n{self.log_text()[-2500:]}\nconsole tail:\n"
                f"{console.read_text(errors='replace')[-1500:] if console.exists() else ''}\ncores: {cores}")

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log_text().splitlines() if needle in line]

    # ------------------------------------------------------------------ helpers over the websocket

    def call(self, request: str, **fields: object) -> dict:
        assert self.client is not None, "OBS not started"
        return self.client.call(request, **fields)

    def status(self, **query: str) -> dict:
        assert self.client is not None, "OBS not started"
        return self.client.vendor("GetStatus", dict(query) or None)

    def filter_status(self, source: str, name: str) -> dict:
        filters = self.status(source=source, filter=name)["filters"]
        assert len(filters) == 1, f"expected one filter {name!r} on {source!r}, got {filters}"
        return filters[0]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25,
                 what: str = "condition", last: object = None) -> Any:
        """Poll ``predicate()`` until it returns a truthy value; return it (``last``: shown on timeout)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if not self.alive:
                raise AssertionError(f"OBS died ({self.obs.returncode}) while waiting for {what}; {self.diagnostics()}")
            time.sleep(interval)
        shown = last if last is not None else value
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last: {shown!r}")

    def wait_processed(self, source: str, name: str, frames: int, timeout: float = 120.0) -> dict:
        """Poll GetStatus until ``frames`` more frames were enhanced; fail early if the engine failed."""
        start = self.filter_status(source, name)["frames_processed"]

        def done() -> dict | None:
            status = self.filter_status(source, name)
            if status.get("state") == "failed":
                raise AssertionError(f"engine failed in OBS: {status.get('last_error')}")
            return status if status["frames_processed"] >= start + frames else None

        return self.wait_for(done, timeout, what=f"{frames} enhanced frames of {name!r} on {source!r}")

    def render_window(self, seconds: float) -> RenderWindow:
        """OBS's rendered and lagged frames over the next ``seconds``."""
        before = self.call("GetStats")
        time.sleep(seconds)
        after = self.call("GetStats")
        return RenderWindow(seconds, after["renderTotalFrames"] - before["renderTotalFrames"],
                            after["renderSkippedFrames"] - before["renderSkippedFrames"],
                            float(after.get("averageFrameRenderTime", 0.0)), float(after.get("activeFps", 0.0)))

    def filter_window(self, source: str, name: str, seconds: float) -> RenderWindow:
        """``render_window`` with the filter disabled: OBS's own lag on this host right now."""
        self.call("SetSourceFilterEnabled", sourceName=source, filterName=name, filterEnabled=False)
        try:
            time.sleep(0.5)  # the scene settles without the filter
            return self.render_window(seconds)
        finally:
            self.call("SetSourceFilterEnabled", sourceName=source, filterName=name, filterEnabled=True)

    def screenshot(self, source: str, path: Path) -> Path:
        assert self.client is not None, "OBS not started"
        return self.client.screenshot(source, path)

    def add_image_scene(self, scene: str, source: str, image: Path) -> None:
        """A scene with one image source at (0, 0), made the program scene (so it renders every frame)."""
        self.call("CreateScene", sceneName=scene)
        self.call("CreateInput", sceneName=scene, inputName=source, inputKind="image_source",
                  inputSettings={"file": str(image)}, sceneItemEnabled=True)
        self.call("SetCurrentProgramScene", sceneName=scene)

    def source_size(self, scene: str, source: str) -> tuple[int, int]:
        """Size of ``source`` as the scene sees it (after its filters)."""
        item = self.call("GetSceneItemId", sceneName=scene, sourceName=source)["sceneItemId"]
        transform = self.call("GetSceneItemTransform", sceneName=scene, sceneItemId=item)["sceneItemTransform"]
        return int(transform["sourceWidth"]), int(transform["sourceHeight"])
