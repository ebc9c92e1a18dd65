"""Quality per tier (dB of PSNR gained), from the installed weights or a documented placeholder table.

The SR gain is ``val_gain_over_bicubic`` and the AR gain ``val_gain_over_decoded`` of each weight
file's training record (``spec.training["validation"]``). Tiers without installed weights take the
value of ``profiles/quality_placeholder.json``, which the model-ladder work regenerates; every value
carries its source so outputs can say which figures are real.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from streamenhance.config import TIERS
from streamenhance.errors import ConfigError, WeightsError
from streamenhance.scheduler.streams import StreamRequest
from streamenhance.scheduler.variants import AR_MODES, net_scale

PLACEHOLDER_PATH = Path(__file__).resolve().parent / "profiles" / "quality_placeholder.json"


@dataclass(frozen=True)
class QualityTable:
    """ΔPSNR in dB: ``sr[(scale, tier)]`` over bicubic, ``ar[(mode, tier)]`` over the decoded frame."""

    sr: dict[tuple[int, str], float]
    ar: dict[tuple[str, str], float]
    sources: dict[str, str]

    def sr_gain(self, scale: int, tier: str) -> float:
        return self.sr.get((scale, tier), self.sr.get((2, tier), 0.0))

    def stream_gain(self, request: StreamRequest, tier: str) -> float:
        """ΔPSNR a stream gets at ``tier``: SR gain (+ AR gain when artifact removal runs)."""
        gain = self.sr_gain(net_scale(request.scale), tier) if net_scale(request.scale) > 1 else 0.0
        if request.runs_ar:
            modes = (request.mode,) if request.mode in AR_MODES else AR_MODES  # auto: either may run
            gain += sum(self.ar.get((m, tier), 0.0) for m in modes) / len(modes)
        return gain

    def summary(self) -> dict[str, object]:
        """Plain dict for JSON outputs: the gains and where each came from."""
        return {
            "sr_gain_db": {f"x{s}_{t}": v for (s, t), v in sorted(self.sr.items())},
            "ar_gain_db": {f"{m}_{t}": v for (m, t), v in sorted(self.ar.items())},
            "sources": dict(sorted(self.sources.items())),
        }


def _placeholder(path: Path) -> dict[str, dict[str, float]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"quality placeholder table {path}: unreadable ({exc})") from exc
    return data


_LOCK = threading.Lock()
_CACHE: dict[str, QualityTable] = {}


def quality_table(weights_dir: Path | None = None, placeholder: Path = PLACEHOLDER_PATH) -> QualityTable:
    """Gains per tier: installed weights' validation first, the placeholder table for the rest. Cached."""
    key = f"{weights_dir}|{placeholder}"
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    table = _build(weights_dir, placeholder)
    with _LOCK:
        _CACHE[key] = table
    return table


def _build(weights_dir: Path | None, placeholder: Path) -> QualityTable:
    from streamenhance.models import catalog

    data = _placeholder(placeholder)
    sr: dict[tuple[int, str], float] = {}
    ar: dict[tuple[str, str], float] = {}
    sources: dict[str, str] = {}
    for key, value in data["sr_gain_over_bicubic_db"].items():
        scale, tier = key.split("_", 1)
        sr[(int(scale.lstrip("x")), tier)] = float(value)
        sources[f"sr_{key}"] = "placeholder"
    for key, value in data["ar_gain_over_decoded_db"].items():
        mode, tier = key.split("_", 1)
        ar[(mode, tier)] = float(value)
        sources[f"ar_{key}"] = "placeholder"
    try:
        entries = catalog(weights_dir)
    except WeightsError:
        entries = []
    for entry in entries:
        spec, validation = entry.spec, entry.spec.training.get("validation", {})
        if spec.tier not in TIERS:
            continue
        if spec.kind == "sr" and "val_gain_over_bicubic" in validation:
            sr[(spec.scale, spec.tier)] = float(validation["val_gain_over_bicubic"])
            sources[f"sr_x{spec.scale}_{spec.tier}"] = f"weights:{entry.path.name}"
        elif spec.kind == "ar" and "val_gain_over_decoded" in validation:
            ar[(spec.mode, spec.tier)] = float(validation["val_gain_over_decoded"])
            sources[f"ar_{spec.mode}_{spec.tier}"] = f"weights:{entry.path.name}"
    return QualityTable(sr, ar, sources)
