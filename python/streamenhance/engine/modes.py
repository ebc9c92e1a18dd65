"""Mode "auto": choose mild or strong artifact removal from a bitrate hint or from the frame itself.

With a bitrate hint the rule is bits per pixel (kbps, fps, resolution). Without one, a no-reference
estimate looks at the luma: blocking (gradient energy on the 8-pixel coding grid relative to
elsewhere) and blur (share of high-frequency energy). Both thresholds were fitted on synthesized
training clips (``streamenhance train calibrate-auto``), never on evaluation data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from streamenhance.metrics import no_reference_features

# Fitted by `streamenhance train calibrate-auto` (seed 0, 960 synthesized 256x256 training frames; see
# docs/MODELS.md): below this many bits per pixel a stream looks like the "strong" training range
# (CRF >= 31). Training accuracy 0.767: the CRF ranges overlap in bits per pixel across content.
STRONG_BELOW_BPP = 0.2021
# Logistic model on no-reference features (bias, blockiness, log high-frequency share), same fit;
# training accuracy 0.776.
NR_COEFFICIENTS = (-5.8857, 5.5529, -4.1542)
REESTIMATE_EVERY = 30  # frames between no-reference estimates
HYSTERESIS_VOTES = 3  # consecutive estimates needed to switch


def bits_per_pixel(bitrate_kbps: float, fps: float, width: int, height: int) -> float:
    return bitrate_kbps * 1000.0 / (max(fps, 1e-6) * width * height)


def strong_probability(features: tuple[float, float]) -> float:
    bias, w_block, w_hf = NR_COEFFICIENTS
    z = bias + w_block * features[0] + w_hf * math.log(max(features[1], 1e-3))
    return 1.0 / (1.0 + math.exp(-z))


@dataclass
class ModeDecision:
    mode: str
    reason: str


@dataclass
class AutoMode:
    """Per-stream auto-mode state: decides every ``REESTIMATE_EVERY`` frames, switches with hysteresis."""

    available: tuple[str, ...]  # AR modes with weights, e.g. ("mild", "strong")
    decision: ModeDecision | None = None
    frames: int = 0
    _votes: list[str] = field(default_factory=list)

    def decide(self, frame: np.ndarray, bitrate_kbps: float, fps: float) -> ModeDecision:
        height, width = frame.shape[:2]
        if bitrate_kbps > 0:
            bpp = bits_per_pixel(bitrate_kbps, fps, width, height)
            wanted = "strong" if bpp < STRONG_BELOW_BPP else "mild"
            self.decision = self._available(wanted, f"bitrate {bpp:.3f} bits/pixel (strong below {STRONG_BELOW_BPP})")
            return self.decision
        if self.decision is None or self.frames % REESTIMATE_EVERY == 0:
            self._estimate(frame)
        self.frames += 1
        assert self.decision is not None
        return self.decision

    def _estimate(self, frame: np.ndarray) -> None:
        features = no_reference_features(frame)
        p_strong = strong_probability(features)
        wanted = "strong" if p_strong >= 0.5 else "mild"
        reason = f"no-reference: blockiness {features[0]:.2f}, high-frequency {features[1]:.2f}, p(strong) {p_strong:.2f}"
        if self.decision is None:
            self.decision = self._available(wanted, reason)
            return
        self._votes = (self._votes + [wanted])[-HYSTERESIS_VOTES:]
        if len(self._votes) == HYSTERESIS_VOTES and len(set(self._votes)) == 1 and wanted != self.decision.mode:
            self.decision = self._available(wanted, reason)

    def _available(self, wanted: str, reason: str) -> ModeDecision:
        if wanted in self.available:
            return ModeDecision(wanted, reason)
        fallback = self.available[0]
        return ModeDecision(fallback, f"{reason}; wanted {wanted} but only {', '.join(self.available)} installed")
