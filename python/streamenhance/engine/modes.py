"""Mode "auto": choose mild or strong artifact removal from a bitrate hint or from the frame itself.

With a bitrate hint the rule is bits per pixel (kbps, fps, resolution). Without one, a no-reference
estimate looks at the luma: blocking (gradient energy on the 8-pixel coding grid relative to
elsewhere) and blur (share of high-frequency energy). Both rules were fitted on stream-like clips
synthesized from the training data (``streamenhance train calibrate-auto``) to lose the fewest dB against
the better of the two modes, never on evaluation data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from streamenhance.metrics import no_reference_features

# Fitted by `streamenhance train calibrate-auto` (seed 0; see docs/MODELS.md) on stream-like 256x256 clips from
# the training stills and clip: 60 frames = one GOP (a keyframe every 60 frames, OBS's 2 s at 30 fps), libx264 at
# CRF 18-44 (640 clips). Both rules minimise the mean dB of Y-PSNR lost against the oracle (the better of the
# engine's own mild and strong AR at x1), not the error rate: a wrong strong at a low CRF costs up to ~3.5 dB, a
# wrong mild at a high CRF tenths.
# Bits per pixel of the real bitstream (video packets, no container), strong below: 0.091 dB lost on the training
# clips (always mild 0.132), accuracy 0.798. Bits per pixel also fall with frame size at equal quality.
STRONG_BELOW_BPP = 0.0226
# Logistic rule on (1, blockiness, log high-frequency share). Fitted on every decoded frame (an estimate lands
# wherever the 30-frame cadence falls: mostly P/B-frames, I-frames at their 1-in-60 share), scored as the engine
# applies it: each clip's share of strong estimates through the hysteresis below; signs held to what compression
# does (blocking for strong, detail against). 0.088 dB lost on the training clips (always mild 0.132, the previous
# constants 0.099), accuracy 0.753. Only p(strong) >= 0.5 decides; the scale is a cost-weighted logistic's.
# Per-frame JPEG (not fitted on) fares worse than with the previous constants: 0.218 dB lost against 0.159.
NR_COEFFICIENTS = (-16.9232, 15.7244, -4.8602)
# The bias of a stream's first estimate (same weights). It lands on the stream's I-frame, which is coded alone and
# shows more blocking than the P/B-frames the steady rule mostly sees, and no hysteresis corrects it for 3 estimates.
# Fitted on each training clip's first frame, on dB lost when that estimate alone decides: 0.038 dB lost, accuracy
# 0.905 (with the steady bias: 0.170 dB, 0.786).
NR_FIRST_BIAS = -18.8086
REESTIMATE_EVERY = 30  # frames between no-reference estimates
HYSTERESIS_VOTES = 3  # consecutive estimates needed to switch


@dataclass(frozen=True)
class AutoModeRule:
    """The constants auto mode decides with: the bitrate threshold and the no-reference rule."""

    strong_below_bpp: float
    nr_coefficients: tuple[float, float, float]  # (bias, blockiness, log high-frequency share): steady estimates
    nr_first_bias: float  # the bias of a stream's first estimate (same weights)


def fitted_rule() -> AutoModeRule:
    """The fitted constants above, read when called."""
    return AutoModeRule(STRONG_BELOW_BPP, NR_COEFFICIENTS, NR_FIRST_BIAS)


def bits_per_pixel(bitrate_kbps: float, fps: float, width: int, height: int) -> float:
    return bitrate_kbps * 1000.0 / (max(fps, 1e-6) * width * height)


def strong_probability(
    features: tuple[float, float], coefficients: tuple[float, float, float] | None = None
) -> float:
    """p(strong) of the logistic no-reference rule (``coefficients``: default the fitted ``NR_COEFFICIENTS``)."""
    bias, w_block, w_hf = coefficients or NR_COEFFICIENTS
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
    rule: AutoModeRule | None = None  # None: the fitted constants; evaluation scores other ones on the same path
    _votes: list[str] = field(default_factory=list)

    def decide(self, frame: np.ndarray, bitrate_kbps: float, fps: float) -> ModeDecision:
        height, width = frame.shape[:2]
        if bitrate_kbps > 0:
            bpp = bits_per_pixel(bitrate_kbps, fps, width, height)
            threshold = self._rule().strong_below_bpp
            wanted = "strong" if bpp < threshold else "mild"
            self.decision = self._available(wanted, f"bitrate {bpp:.3f} bits/pixel (strong below {threshold})")
            return self.decision
        if self.decision is None or self.frames % REESTIMATE_EVERY == 0:
            self._estimate(frame)
        self.frames += 1
        assert self.decision is not None
        return self.decision

    def _rule(self) -> AutoModeRule:
        return self.rule or fitted_rule()

    def _coefficients(self) -> tuple[float, float, float]:
        """The no-reference rule's coefficients; a stream's first estimate has a bias of its own."""
        rule = self._rule()
        return (rule.nr_first_bias, *rule.nr_coefficients[1:]) if self.decision is None else rule.nr_coefficients

    def _estimate(self, frame: np.ndarray) -> None:
        features = no_reference_features(frame)
        p_strong = strong_probability(features, self._coefficients())
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
