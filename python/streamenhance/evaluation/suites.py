"""The evaluation suites (``sr``, ``video``, ``jpeg``, ``auto``) and the methods they compare: baselines, ours, peers.

Every suite returns plain JSON-ready dicts (``report`` renders them). Methods that cannot run (weights not
installed, a peer file or package missing) are collected in ``MethodPool.unavailable`` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from streamenhance import native
from streamenhance.engine import Enhancer
from streamenhance.engine.selection import sr_candidates
from streamenhance.errors import ConfigError, WeightsError
from streamenhance.evaluation import auto_mode, jpeg, video
from streamenhance.evaluation.peers import REFERENCES, Unavailable, ar_peers, default_peers_root, sr_peers
from streamenhance.evaluation.protocol import (
    NamedMethod,
    bicubic_method,
    engine_method,
    evaluate_timed,
    set_images,
    time_method,
)
from streamenhance.models import catalog, weights_dir

SR_PROTOCOL = "HR = modcrop(HR, s); LR = MATLAB imresize bicubic (antialiased); PSNR/SSIM on Y, shave s"
VIDEO_PROTOCOL = (
    "clean HR -> MATLAB bicubic x1/2 -> libx264 yuv420p CRF c (preset veryfast) -> decode -> method; "
    "Y-PSNR/SSIM vs clean HR, shave 2. x1: full-res encode, no shave. Temporal: clean LR, "
    "excess = tMAD(output) - tMAD(HR), tMAD = mean |Y_t - Y_t-1|, shave s"
)
JPEG_PROTOCOL = "Classic5 gray, Pillow/libjpeg quality q, full image, raw gray values, no shave"


@dataclass(frozen=True)
class SuiteOptions:
    """What to measure.

    Attributes:
        data_root: folder holding ``eval/``.
        sets / scales: SR sets and scales.
        sr_mode: artifact-removal mode of ours before SR on the clean sets (``off`` by default).
        modes: modes of ours in the video and JPEG suites (``off`` = SR only; x1/JPEG use mild/strong).
        tiers: our SR tiers (default: every installed tier).
        device: device of ours (peers always run on the CPU).
        weights_dir: our weights (default: ``$STREAMENHANCE_WEIGHTS_DIR`` or the packaged ones).
        peers / peers_root: whether to load peers, and from where (default: beside the data).
        clips / crfs: video clips and H.264 CRFs; temporal_scales: scales of the temporal test on calendar.
        qualities: JPEG qualities.
        limit: at most this many images per set / frames per clip (quick runs).
        auto_frames: auto suite: frames per clip (default: the calibration's, one GOP).
        speed_hw: (h, w) of the fixed-size speed test input, None to skip; speed_repeats: timed calls.
    """

    data_root: Path
    sets: tuple[str, ...] = ("Set5", "Set14", "BSD100")
    scales: tuple[int, ...] = (2, 4)
    sr_mode: str = "off"
    modes: tuple[str, ...] = ("off", "mild", "strong")
    tiers: tuple[str, ...] | None = None
    device: str = "cpu"
    weights_dir: Path | None = None
    peers: bool = True
    peers_root: Path | None = None
    clips: tuple[str, ...] = ("calendar", "pan_ppt3")
    crfs: tuple[int, ...] = video.CRFS
    temporal_scales: tuple[int, ...] = (2, 4)
    qualities: tuple[int, ...] = jpeg.QUALITIES
    limit: int | None = None
    auto_frames: int | None = None
    speed_hw: tuple[int, int] | None = (360, 640)
    speed_repeats: int = 3


class MethodPool:
    """Builds each method once (models load once) and records the ones that cannot run."""

    def __init__(self, options: SuiteOptions) -> None:
        self.options = options
        self.unavailable: dict[str, str] = {}
        self._entries = catalog(options.weights_dir)
        self._peers_root = options.peers_root or default_peers_root(options.data_root)
        self._sr_peers: dict[int, list[NamedMethod]] = {}
        self._built: dict[tuple[int, str, str], NamedMethod] = {}
        self._ar_peers: list[NamedMethod] | None = None

    def _note(self, missing: Sequence[Unavailable]) -> None:
        for item in missing:
            self.unavailable.setdefault(item.name, item.reason)

    def sr(self, scale: int, modes: Sequence[str]) -> list[NamedMethod]:
        """Bicubic, ours (each installed tier x each mode) and the SR peers of ``scale``."""
        reference = REFERENCES.get(("bicubic", scale), {})
        methods = [NamedMethod("bicubic (MATLAB)", "baseline", bicubic_method, 0, reference=reference)]
        for mode in modes:
            methods += self.ours_sr(scale, mode)
        return methods + self.peers_sr(scale)

    def peers_sr(self, scale: int) -> list[NamedMethod]:
        if not self.options.peers:
            return []
        if scale not in self._sr_peers:
            peers, missing = sr_peers(self._peers_root, scale)
            self._note(missing)
            self._sr_peers[scale] = [p.named() for p in peers]
        return self._sr_peers[scale]

    def peers_ar(self) -> list[NamedMethod]:
        if not self.options.peers:
            return []
        if self._ar_peers is None:
            peers, missing = ar_peers(self._peers_root)
            self._note(missing)
            self._ar_peers = [p.named() for p in peers]
        return self._ar_peers

    def _weights_label(self) -> str:
        return str(self.options.weights_dir or weights_dir())

    def ours_sr(self, scale: int, mode: str) -> list[NamedMethod]:
        """Our engine at ``scale`` for every requested (or installed) tier, after AR ``mode``."""
        hint = mode if mode in ("mild", "strong") else "mild"
        plans = sr_candidates(self._entries, scale, hint)
        if not plans:
            installed = ", ".join(e.spec.name for e in self._entries) or "none"
            reason = f"no SR weights usable at x{scale} in {self._weights_label()} (installed: {installed})"
            self.unavailable.setdefault(f"streamenhance x{scale}", reason)
            return []
        tiers = self.options.tiers or tuple(p.entry.spec.tier for p in plans)
        passes = {p.entry.spec.tier: p.passes for p in plans}
        methods = []
        for tier in tiers:
            name = f"streamenhance {tier}" + ("" if mode == "off" else f" + AR {mode}")
            note = "x2 net applied twice" if passes.get(tier) == 2 else ""
            built = self._ours((scale, tier, mode), name, note)
            methods += [built] if built else []
        return methods

    def ours_ar(self, modes: Sequence[str]) -> list[NamedMethod]:
        """Our engine at x1 (artifact removal only, AR tier ``AR_TIER``) for each of ``modes`` other than ``off``."""
        methods = []
        for mode in (m for m in modes if m != "off"):
            built = self._ours((1, auto_mode.AR_TIER, mode), f"streamenhance AR {mode}", "")
            methods += [built] if built else []
        return methods

    def _ours(self, key: tuple[int, str, str], name: str, note: str) -> NamedMethod | None:
        if key in self._built:
            return self._built[key]
        scale, tier, mode = key
        try:
            enhancer = Enhancer(
                scale=float(scale),
                mode=mode,
                tier=tier,
                device=self.options.device,
                weights_dir=self.options.weights_dir,
            )
        except (WeightsError, ConfigError) as exc:
            self.unavailable.setdefault(f"{name} x{scale}", f"{exc} (weights: {self._weights_label()})")
            return None
        built = NamedMethod(name, "ours", engine_method(enhancer.enhance), self._params(enhancer), note)
        self._built[key] = built
        return built

    def _params(self, enhancer: Enhancer) -> int | None:
        """Parameters of the models one call uses (each counted once), read from their specs."""
        enhancer.enhance(np.zeros((32, 32, 3), np.uint8))
        used = dict.fromkeys(enhancer.describe()["models"])
        enhancer.close()
        by_name = {entry.spec.name: entry.spec.params for entry in self._entries}
        return sum(by_name.get(name, 0) for name in used) or None


def _limit(items: list[Any], limit: int | None) -> list[Any]:
    return items[:limit] if limit else items


# ------------------------------------------------------------------------------------------------- sr


def run_sr(options: SuiteOptions, pool: MethodPool) -> dict[str, Any]:
    """Set5/Set14/BSD100 under the published protocol at each scale, plus a fixed-size speed test."""
    records: list[dict[str, Any]] = []
    speed: list[dict[str, Any]] = []
    images = {name: _limit(set_images(options.data_root, name), options.limit) for name in options.sets}
    for scale in options.scales:
        methods = pool.sr(scale, (options.sr_mode,))
        for set_name, set_items in images.items():
            for entry in tqdm(methods, desc=f"sr {set_name} x{scale}", unit="method"):
                result, timing = evaluate_timed(entry.method, entry.name, set_items, set_name, scale, progress=True)
                records.append(
                    {
                        "method": entry.name,
                        "kind": entry.kind,
                        "scale": scale,
                        "set": set_name,
                        "psnr_y": result.psnr_y,
                        "ssim_y": result.ssim_y,
                        "detail_y": result.detail_y,
                        "per_image": {k: float(v) for k, v in result.per_image.items()},
                        "ms_median": timing.ms_median,
                        "cpu_ms_median": timing.cpu_ms_median,
                        "ms_per_image": timing.ms_per_image,
                        "cpu_ms_per_image": timing.cpu_ms_per_image,
                        "input": timing.input_summary,
                        "input_hw": {k: list(v) for k, v in timing.input_hw.items()},
                        "params": entry.params,
                        "reference": entry.reference.get(set_name),
                        "note": entry.note,
                    }
                )
        if options.speed_hw:
            speed += _speed(
                methods, scale, _speed_frame(next(iter(images.values())), options.speed_hw), options.speed_repeats
            )
    return {"protocol": SR_PROTOCOL, "records": records, "speed": speed}


def _speed_frame(images: list[tuple[str, np.ndarray]], hw: tuple[int, int]) -> np.ndarray:
    """A real picture at the speed-test size (the first image of the first set, MATLAB-resized)."""
    image = images[0][1]
    if image.ndim == 2:
        image = np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return native.resize(image, hw)


def _speed(methods: Sequence[NamedMethod], scale: int, frame: np.ndarray, repeats: int) -> list[dict[str, Any]]:
    out_hw = (frame.shape[0] * scale, frame.shape[1] * scale)
    rows = []
    for entry in tqdm(methods, desc=f"speed x{scale} {frame.shape[1]}x{frame.shape[0]}", unit="method"):
        wall, cpu = time_method(entry.method, frame, out_hw, repeats)
        rows.append(
            {
                "method": entry.name,
                "kind": entry.kind,
                "scale": scale,
                "input_hw": list(frame.shape[:2]),
                "ms": wall,
                "cpu_ms": cpu,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------- video


def _video_row(record: video.VideoRecord) -> dict[str, Any]:
    row = asdict(record)
    row.update(row.pop("score"))
    row["input_hw"] = list(record.input_hw)
    return row


def run_video(options: SuiteOptions, pool: MethodPool) -> dict[str, Any]:
    """Compressed x2 SR and x1 artifact removal on each clip; temporal stability on calendar."""
    clips = video.load_clips(options.data_root, options.clips, options.limit)
    sr_methods = pool.sr(2, options.modes)
    ar_methods = [NamedMethod("decoded H.264", "baseline", video.identity_method, 0), *pool.ours_ar(options.modes)]
    compressed: list[video.VideoRecord] = []
    restored: list[video.VideoRecord] = []
    for clip in clips:
        compressed += video.compressed_sr(clip, sr_methods, options.crfs, scale=2)
        restored += video.artifact_removal(clip, ar_methods, options.crfs)
    calendar = next((c for c in clips if c.name == "Vid4_calendar"), None)
    if calendar is None and options.temporal_scales:
        calendar = video.load_calendar(options.data_root, options.limit)
    temporal: list[video.VideoRecord] = []
    for scale in options.temporal_scales:
        temporal += video.temporal_stability(calendar, pool.sr(scale, ("off",)), scale)
    return {
        "protocol": VIDEO_PROTOCOL,
        "clips": {c.name: {"frames": len(c.frames), "hw": list(c.hw), "fps": c.fps} for c in clips},
        "compressed_sr": [_video_row(r) for r in compressed],
        "artifact_removal": [_video_row(r) for r in restored],
        "temporal": _with_bar([_video_row(r) for r in temporal]),
    }


def _with_bar(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark each row whose tMAD excess is no larger than bicubic's on the same clip and scale (the bar)."""
    bicubic = {(r["clip"], r["scale"]): r["tmad_excess"] for r in rows if r["kind"] == "baseline"}
    for row in rows:
        limit = bicubic.get((row["clip"], row["scale"]))
        row["within_bicubic_flicker"] = None if limit is None else bool(row["tmad_excess"] <= limit + 1e-9)
    return rows


# ----------------------------------------------------------------------------------------------- jpeg


def run_jpeg(options: SuiteOptions, pool: MethodPool) -> dict[str, Any]:
    """Classic5 JPEG at each quality: decoded, ours (x1, each AR mode), DnCNN-3."""
    images = _limit(jpeg.classic5_images(options.data_root), options.limit)
    baseline = NamedMethod("JPEG (decoded)", "baseline", jpeg.decoded_method, 0, reference=REFERENCES[("JPEG", 1)])
    methods = [baseline, *pool.ours_ar(options.modes), *pool.peers_ar()]
    by_name = {m.name: m for m in methods}
    rows = []
    for record in jpeg.evaluate_jpeg(methods, images, options.qualities):
        row = asdict(record)
        row["input_hw"] = list(record.input_hw)
        row["reference"] = by_name[record.method].reference.get(f"q{record.quality}")
        row["note"] = by_name[record.method].note
        rows.append(row)
    return {"protocol": JPEG_PROTOCOL, "images": [name for name, _ in images], "records": rows}


# ----------------------------------------------------------------------------------------------- auto


def run_auto(options: SuiteOptions, pool: MethodPool) -> dict[str, Any]:
    """Auto mode's mild/strong choice against the oracle on held-out training stills (``limit``: stills)."""
    config = auto_mode.AutoSuiteConfig(
        stills_limit=options.limit,
        tier=options.tiers[0] if options.tiers else auto_mode.AR_TIER,
        device=options.device,
        weights_dir=options.weights_dir,
        frames=options.auto_frames or auto_mode.STREAM_FRAMES,
    )
    return auto_mode.run_auto_validation(options.data_root, config, pool.unavailable)


SUITES = {"sr": run_sr, "video": run_video, "jpeg": run_jpeg, "auto": run_auto}


def run_suites(names: Sequence[str], options: SuiteOptions) -> dict[str, Any]:
    """Run the named suites; returns ``{suite: result, ..., "unavailable": [{name, reason}]}``."""
    for name in names:
        if name not in SUITES:
            raise ConfigError(f"suite: expected one of {', '.join(SUITES)}, got {name!r}")
    pool = MethodPool(options)
    results: dict[str, Any] = {name: SUITES[name](options, pool) for name in names}
    results["unavailable"] = [{"name": k, "reason": v} for k, v in pool.unavailable.items()]
    return results
