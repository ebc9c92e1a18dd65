"""Measured engine costs per (model, input resolution, co-located streams) on one device, as JSON data.

``measure_profile`` runs the real ``Enhancer`` on random frames: for every kind (SR at scale 2: mode
off; AR: scale 1, mode strong), tier, resolution and co-located count k, k threads each run their own
Enhancer back to back, and the latencies of the frames that finished while all k were running give
p50/p95. Costs do not depend on weight values, so tiers without shipped weights run a freshly built
ladder model (``models.build_model(*models.tiers.hyperparameters(...))``); every row says which. The
``bicubic`` rung (no network) is measured as an SR row only: it runs no AR whatever the mode.

Measuring while other jobs load the machine gives wrong numbers: the file records the training
processes seen and the load average, and ``conditions.valid`` is False when either was present.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamenhance.config import BICUBIC
from streamenhance.errors import ConfigError
from streamenhance.scheduler.collector import process_cpu_s, rss_mb
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.variants import LADDER

PROFILE_FORMAT = "streamenhance-profile/1"
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
RESOLUTIONS: dict[str, tuple[int, int]] = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720),
                                           "1080p": (1920, 1080)}
COLOCATED = (1, 2, 4)
KINDS = ("sr", "ar")
REGENERATE = ("nice .venv/bin/streamenhance profile --wait-idle 180 --json "
              "python/streamenhance/scheduler/profiles/cpu_measured.json")
LADDER_NOTE = ("ladder model built from models.tiers.hyperparameters "
               "(no shipped weights; cost does not depend on weights)")


@dataclass(frozen=True)
class ProfileRow:
    """One measured cell.

    Attributes:
        kind: ``sr`` or ``ar``; scale: network scale (2, or 1 for AR).
        width, height: input frame size; colocated: streams running at once (this one included).
        p50_ms, p95_ms, mean_ms: per-frame engine latency of the frames measured (``frames`` of them).
        cpu_util: process CPU time / (wall time x cores) while the cell ran.
        rss_mb: resident memory after the cell; weights: ``shipped:<file>`` or the ladder note.
        others_fps: the frame rate of the other ``colocated - 1`` streams; 0 = back to back (how
            ``streamenhance profile`` measures them).
    """

    kind: str
    tier: str
    scale: int
    mode: str
    width: int
    height: int
    colocated: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    frames: int
    cpu_util: float
    rss_mb: float
    params: int
    macs_per_pixel: float
    weights: str = ""
    others_fps: float = 0.0

    @property
    def out_pixels(self) -> int:
        return self.width * self.height * self.scale * self.scale

    @property
    def macs_per_frame(self) -> float:
        return self.macs_per_pixel * self.out_pixels


@dataclass
class Profile:
    """A device's measured (or derived) cost table plus how it was obtained."""

    device: DeviceInfo
    rows: list[ProfileRow]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": PROFILE_FORMAT, "meta": self.meta, "device": self.device.as_dict(),
                "rows": [asdict(r) for r in self.rows]}

    def save(self, path: Path) -> None:
        """Write the profile as indented JSON (atomic: temp file + rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        tmp.replace(path)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        if data.get("format") != PROFILE_FORMAT:
            raise ConfigError(f"profile format: expected {PROFILE_FORMAT!r}, got {data.get('format')!r}")
        rows = [ProfileRow(**{k: r[k] for k in ProfileRow.__dataclass_fields__ if k in r}) for r in data["rows"]]
        return cls(DeviceInfo.from_dict(data["device"]), rows, data.get("meta", {}))

    @property
    def stamp(self) -> str:
        """Which version of the profile this is: its creation time, plus the last update's if any (what a
        predictor trained on it records, so weights trained before an update are not taken for current)."""
        updates = self.meta.get("updates", [])
        created = str(self.meta.get("created", ""))
        return f"{created}+{len(updates)}@{updates[-1].get('created')}" if updates else created

    def updated(self, other: Profile) -> Profile:
        """This profile with ``other``'s rows added (a row of the same cell is replaced) and recorded in
        ``meta.updates``; both must describe the same device."""
        if other.device.device_class != self.device.device_class:
            raise ConfigError(f"profile update: measured on {other.device.device_class!r}, "
                              f"the profile is of {self.device.device_class!r}")
        cells = {_cell(r) for r in other.rows}
        rows = [r for r in self.rows if _cell(r) not in cells] + list(other.rows)
        update = {k: other.meta.get(k) for k in ("command", "created", "seconds", "host", "grid", "conditions")}
        update["device"] = other.device.as_dict()  # the same class of machine can differ in speed: kept
        meta = {**self.meta, "updates": [*self.meta.get("updates", []), update]}
        return Profile(self.device, rows, meta)

    @classmethod
    def load(cls, path: Path) -> Profile:
        """Read a profile file.

        Raises:
            ConfigError: unreadable or not a streamenhance profile.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"profile {path}: unreadable ({exc})") from exc
        return cls.from_json(data)


def shipped_profiles() -> list[Profile]:
    """Every profile file under ``scheduler/profiles`` (measured first, by name)."""
    paths = sorted(PROFILES_DIR.glob("*.json"))
    profiles = []
    for path in paths:
        data = json.loads(path.read_text())
        if data.get("format") == PROFILE_FORMAT:
            profiles.append(Profile.from_json(data))
    return profiles


def default_profile() -> Profile:
    """The measured CPU profile shipped with the package.

    Raises:
        ConfigError: no measured profile is installed.
    """
    path = PROFILES_DIR / "cpu_measured.json"
    if not path.exists():
        raise ConfigError(f"no measured profile at {path}: run `{REGENERATE}`")
    return Profile.load(path)


# ---------------------------------------------------------------------- measuring conditions


def training_processes() -> list[str]:
    """Command lines of running ``streamenhance train`` processes (other jobs that skew timings)."""
    try:
        out = subprocess.run(["pgrep", "-af", "streamenhance train"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    own = {str(os.getpid()), str(os.getppid())}
    lines = [line for line in out.stdout.splitlines() if line.split(" ", 1)[0] not in own]
    return [line for line in lines if "pgrep" not in line]


def conditions() -> dict[str, Any]:
    """What else ran on the machine: training processes and the 1-minute load average."""
    return {"train_processes": training_processes(), "load_avg_1m": os.getloadavg()[0]}


def _cell(row: ProfileRow) -> tuple[str, str, int, int, int, float]:
    return (row.kind, row.tier, row.width, row.height, row.colocated, row.others_fps)


# ---------------------------------------------------------------------- weights for measuring


def prepare_weights(folder: Path, kinds: Sequence[str], tiers: Sequence[str]) -> dict[tuple[str, str], str]:
    """Put one weight file per (kind, tier) into ``folder``: shipped when installed, else a ladder model."""
    from streamenhance.models import build_model, catalog, describe, save_model
    from streamenhance.models.tiers import hyperparameters

    installed = {(e.spec.kind, e.spec.tier, e.spec.scale): e for e in catalog()}
    sources: dict[tuple[str, str], str] = {}
    for kind in kinds:
        for tier in (t for t in tiers if t != BICUBIC):
            scale = 2 if kind == "sr" else 1
            entry = installed.get((kind, tier, scale))
            mode = "mild" if kind == "sr" else "strong"
            if entry is not None:
                target = folder / f"{entry.spec.kind}_{tier}{'_x2' if kind == 'sr' else ''}_{mode}.safetensors"
                target.write_bytes(entry.path.read_bytes())
                sources[(kind, tier)] = f"shipped:{entry.path.name}"
                continue
            arch, hp = hyperparameters("sr", tier, 2) if kind == "sr" else hyperparameters("ar", tier)
            model = build_model(arch, hp)
            spec = describe(model, arch, tier, mode, hp)
            save_model(folder / f"{spec.name}.safetensors", model, spec)
            sources[(kind, tier)] = LADDER_NOTE
    return sources


# ---------------------------------------------------------------------- one cell


@dataclass
class CellLimits:
    """How long one cell runs: until ``min_frames`` per stream and ``min_seconds``, or ``max_seconds``."""

    min_frames: int = 5
    min_seconds: float = 2.0
    max_seconds: float = 30.0
    warmup: int = 1  # frames run by the first engine only (per-shape kernel setup is process-wide)


def _run_cell(make_engine: Callable[[], Any], frame: np.ndarray, streams: int, limits: CellLimits) -> dict[str, Any]:
    """k = ``streams`` threads, each with its own engine, run back to back; returns the latencies."""
    engines = [make_engine() for _ in range(streams)]
    for _ in range(limits.warmup):
        engines[0].enhance(frame)
    start_barrier = threading.Barrier(streams + 1)
    stop = threading.Event()
    records: list[list[tuple[float, float]]] = [[] for _ in range(streams)]
    exits: list[float] = [0.0] * streams

    def worker(i: int) -> None:
        start_barrier.wait()
        while not stop.is_set():
            t0 = time.perf_counter()
            engines[i].enhance(frame)
            records[i].append((t0, time.perf_counter()))
        exits[i] = time.perf_counter()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(streams)]
    for thread in threads:
        thread.start()
    cpu0 = process_cpu_s()
    start_barrier.wait()
    began = time.perf_counter()
    while True:
        time.sleep(0.02)
        elapsed = time.perf_counter() - began
        done = min(len(r) for r in records)
        enough = done >= limits.min_frames and elapsed >= limits.min_seconds
        if enough or (elapsed >= limits.max_seconds and done >= 1):
            break
    stop.set()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu = process_cpu_s() - cpu0
    # Only frames that ended while every stream was still running saw the full co-location.
    first_exit = min(exits)
    latencies = [(end - t0) * 1e3 for rec in records for t0, end in rec if end <= first_exit]
    if not latencies:
        latencies = [(end - t0) * 1e3 for rec in records for t0, end in rec]
    for engine in engines:
        engine.close()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {"latencies": latencies, "cpu_util": cpu / max(wall * cores, 1e-9)}


# ---------------------------------------------------------------------- the whole table


def measure_profile(
    *,
    kinds: Sequence[str] = KINDS,
    tiers: Sequence[str] = LADDER,
    resolutions: Sequence[str] = tuple(RESOLUTIONS),
    colocated: Sequence[int] = COLOCATED,
    limits: CellLimits | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
    command: str = "",
    smoke: bool = False,
) -> Profile:
    """Measure every (kind, tier, resolution, co-located count) cell with the real engine.

    Args:
        kinds: ``sr`` (scale 2, mode off) and/or ``ar`` (scale 1, mode strong).
        tiers, resolutions, colocated: the grid (resolution names of ``RESOLUTIONS``).
        limits: frames / seconds per cell.
        device: ``cpu`` or ``cuda:N`` (the CUDA path is the same code; the H100 table needs a GPU run).
        command: the command line recorded in the metadata.
        smoke: mark the profile as a smoke run (small grid or loaded machine): not for the scheduler.

    Returns:
        The profile; ``meta.conditions`` records what else was running before and after.
    """
    import torch
    from tqdm import tqdm

    from streamenhance.engine import Enhancer
    from streamenhance.scheduler.devices import local_cpu, local_cuda

    for name in resolutions:
        if name not in RESOLUTIONS:
            raise ConfigError(f"resolution: expected one of {', '.join(RESOLUTIONS)}, got {name!r}")
    for kind in kinds:
        if kind not in KINDS:
            raise ConfigError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    limits = limits or CellLimits()
    before = conditions()
    descriptor = local_cpu() if device == "cpu" else local_cuda(int(device.split(":")[1]) if ":" in device else 0)
    rng = np.random.default_rng(seed)
    cells = [(k, t, r, c) for k in kinds for t in tiers for r in resolutions for c in colocated
             if not (t == BICUBIC and k == "ar")]
    rows: list[ProfileRow] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="streamenhance-profile-") as tmp:
        folder = Path(tmp)
        sources = prepare_weights(folder, kinds, tiers)
        from streamenhance.models import catalog
        from streamenhance.scheduler.variants import variant

        specs: dict[tuple[str, str], Any] = {(e.spec.kind, e.spec.tier): e.spec for e in catalog(folder)}
        specs[("sr", BICUBIC)] = variant("sr", BICUBIC, 2)
        sources[("sr", BICUBIC)] = "native bicubic scaler (no network)"
        bar = tqdm(cells, desc="profile", unit="cell", disable=not progress, dynamic_ncols=True)
        for kind, tier, res, k in bar:
            width, height = RESOLUTIONS[res]
            bar.set_postfix_str(f"{kind} {tier} {res} x{k}")
            frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            options = ({"scale": 2.0, "mode": "off"} if kind == "sr" else {"scale": 1.0, "mode": "strong"})

            def make(options: dict[str, Any] = options, tier: str = tier) -> Any:
                return Enhancer(**options, tier=tier, device=device, weights_dir=folder)

            result = _run_cell(make, frame, k, limits)
            lat = np.asarray(result["latencies"])
            spec = specs[(kind, tier)]
            rows.append(ProfileRow(
                kind=kind, tier=tier, scale=spec.scale, mode="mild" if tier == BICUBIC else spec.mode, width=width, height=height, colocated=k,
                p50_ms=float(np.percentile(lat, 50)), p95_ms=float(np.percentile(lat, 95)),
                mean_ms=float(lat.mean()), frames=int(lat.size), cpu_util=float(result["cpu_util"]),
                rss_mb=rss_mb(), params=spec.params, macs_per_pixel=spec.macs_per_pixel,
                weights=sources[(kind, tier)],
            ))
    after = conditions()
    loaded = bool(before["train_processes"] or after["train_processes"])
    meta = {
        "command": command or "streamenhance profile",
        "regenerate": REGENERATE,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "host": {"cpu": descriptor.device_class, "cores": descriptor.compute_units, "python": platform.python_version(),
                 "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
        "grid": {"kinds": list(kinds), "tiers": list(tiers), "resolutions": list(resolutions),
                 "colocated": list(colocated), "limits": asdict(limits)},
        "conditions": {"before": before, "after": after, "valid": not loaded and not smoke,
                       "smoke": smoke or loaded},
        "weights": {f"{k}_{t}": s for (k, t), s in sources.items()},
        "notes": [
            "SR rows: Enhancer(scale=2, mode='off'); AR rows: Enhancer(scale=1, mode='strong'); random BGR frames.",
            "k co-located streams = k threads in one process, each with its own Enhancer, running back to back.",
            "The H100 (CUDA) table still needs a GPU run: "
            "streamenhance profile --device cuda:0 --json python/streamenhance/scheduler/profiles/h100_measured.json",
        ],
    }
    return Profile(descriptor, rows, meta)


def format_command(argv: Sequence[str]) -> str:
    return "streamenhance " + " ".join(shlex.quote(a) for a in argv)
