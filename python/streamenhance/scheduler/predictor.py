"""``PerfPredictor``: a small torch MLP that predicts what a network stage costs on a device.

Inputs are ``features.features`` rows (model, frame, device, co-located load). Outputs per row:

* p50 and p95 latency in ms, log p95 = log p50 + softplus;
* efficiency: share of the device a running frame occupies; utilisation = min(1, p50 x fps) x it;
* memory in MB.

The network has a physical skeleton with three small learned parts (``_build_net``):

* solo p50 = exp(roofline + e) + overhead: the roofline is the compute-bound time of the frame, e a
  log-efficiency correction = model part (model and frame columns) + device part (device columns and
  the model kind), so what one device taught about a network's efficiency carries over to the others;
  the overhead (launches, copies) is learned from the device part;
* co-location: p50 = solo x (1 + gamma x B^eta), B = the others' summed busy fraction, estimated as
  their MACs/s over the device's x (solo / roofline) (exact for neighbours of the same config) and at
  most one per other stream; gamma, eta come from a small net of the static columns and the count of
  others. The stage's own fps is no input at all (its latency does not depend on it).

Offline training uses point targets (measured profile rows, L1 on log-latency, rows weighted per
device: ``Dataset.weight``, see ``dataset.device_weights``). Online samples are
single observed frames: they train log p50 with the 0.5 pinball loss and log p95 with the 0.95 one,
the losses whose minimisers are the median and the 95th percentile. Observations go into a bounded
replay buffer; when the rolling median of log(observed / predicted) of a device drifts past
``drift_threshold``, ``maybe_retrain`` fine-tunes on the offline rows plus the replay buffer. Until
then (and for load the features cannot see, such as another process on the GPU) a per-device bias,
the window median of the same log ratio, corrects the predictions. The correction is asymmetric
(``optimism``, default 0): a device slower than predicted is believed at once, one faster than
predicted not at all (or, with ``optimism`` > 0, partly), because a late frame costs more than a
lower tier (deadlines before quality). In the simulator, downward corrections cost up to 0.24
points of on-time frames and tripled migrations (docs/SCHEDULER.md); re-measure a device
(``streamenhance profile``) to use speed the profile does not know about.

Inference runs in NumPy (no torch dispatch overhead: a batch of a few hundred rows takes tens of
µs); torch is used for training only. Weights are saved as safetensors with JSON metadata; nothing is
ever pickled.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamenhance.errors import ConfigError, WeightsError
from streamenhance.scheduler.clock import Clock, MonotonicClock
from streamenhance.scheduler.features import (BASE_COLUMNS, BINARY_COLUMNS, MODEL_COLUMNS, OTHERS, RATIO, ROOFLINE,
                                               device_columns, static_columns)

PREDICTOR_FORMAT = "streamenhance-predictor/2"  # /2: solo + co-load skeleton; /1 was one plain MLP
TIER = BASE_COLUMNS.index("tier")
NETWORK_TIERS = frozenset(range(4))  # tier indices (``ModelVariant.tier_index``) of tiny .. large
TARGETS = ("log_p50", "log_p95", "efficiency", "log_memory")
MAX_LOG_RATIO = float(np.log(3.0))  # largest correction one observation can ask for
SIDE_HIDDEN = 32  # width of the device and co-load parts (the model part has ``hidden``)
STATIC_OUT = ("efficiency_log", "overhead_log", "p95_spread", "efficiency", "log_memory")
COLOAD_OUT = ("log_gamma", "log_eta", "p95_spread", "efficiency")
OVERHEAD_SHIFT = float(np.log(0.01))  # the overhead starts at 10 µs: negligible until data says otherwise
LOG_ETA_RANGE = (-4.0, 2.0)  # eta in [0.02, 7.4]
TINY = 1e-12
LOG1P_HALF = float(np.log1p(0.5))  # log_others above this: at least one other stream


@dataclass(frozen=True)
class Prediction:
    """Arrays of length N."""

    p50_ms: np.ndarray
    p95_ms: np.ndarray
    efficiency: np.ndarray
    memory_mb: np.ndarray

    def utilisation(self, fps: np.ndarray | float) -> np.ndarray:
        """Share of the device the rows occupy at ``fps`` frames per second."""
        return np.minimum(1.0, self.p50_ms * np.asarray(fps) / 1e3) * self.efficiency


@dataclass
class Dataset:
    """Training rows: features ``x`` (N, C), ``targets`` (N, 4) in ``TARGETS`` order, ``mask`` (N, 4),
    ``observed`` (N,): True for single observed frames (pinball losses), False for point targets, and
    ``weight`` (N,): each row's weight in the loss (default 1)."""

    x: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    observed: np.ndarray
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.weight is None:
            self.weight = np.ones(len(self), dtype=np.float32)
        if self.weight.shape != (len(self),) or not np.all(np.isfinite(self.weight)) or np.any(self.weight < 0):
            raise ConfigError(f"predictor dataset: expected {len(self)} finite weights >= 0")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @staticmethod
    def concat(parts: Sequence[Dataset]) -> Dataset:
        fields = ("x", "targets", "mask", "observed", "weight")
        return Dataset(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

    def subset(self, index: np.ndarray) -> Dataset:
        assert self.weight is not None
        return Dataset(self.x[index], self.targets[index], self.mask[index], self.observed[index], self.weight[index])

    def weighted(self, weight: np.ndarray) -> Dataset:
        """The same rows with ``weight``."""
        return Dataset(self.x, self.targets, self.mask, self.observed, np.asarray(weight, dtype=np.float32))


def point_dataset(x: np.ndarray, p50_ms: np.ndarray, p95_ms: np.ndarray, efficiency: np.ndarray | None = None,
                  memory_mb: np.ndarray | None = None) -> Dataset:
    """Rows with measured p50/p95 (and optionally efficiency and memory)."""
    n = x.shape[0]
    targets = np.zeros((n, 4), dtype=np.float32)
    mask = np.zeros((n, 4), dtype=bool)
    targets[:, 0], targets[:, 1] = np.log(p50_ms), np.log(np.maximum(p95_ms, p50_ms))
    mask[:, :2] = True
    if efficiency is not None:
        targets[:, 2], mask[:, 2] = np.clip(efficiency, 0.01, 1.0), True
    if memory_mb is not None:
        targets[:, 3], mask[:, 3] = np.log(np.maximum(memory_mb, 1e-3)), True
    return Dataset(x.astype(np.float32), targets, mask, np.zeros(n, dtype=bool))


class PerfPredictor:
    """The cost MLP plus its online state.

    Args:
        vocabulary: device classes with a one-hot column (others share the last column).
        hidden: widths of the hidden layers.
        seed: initialisation and training seed.
        clock: for the minimum interval between retrains.
        drift_threshold: |rolling median log(observed/predicted)| of a device that triggers retraining.
        window: observations per device in the rolling window.
        replay_size: observations kept for retraining.
        min_retrain_interval_s: at most one retrain per this many seconds.
        bias_min_samples: observations of a device before its bias (window median) applies.
        optimism: share of a "faster than predicted" window median that is applied (slower: all of it;
            default 0: the profile's latency is a floor).
        train_threads: torch intra-op threads while training (set for the call, process-wide).
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        hidden: Sequence[int] = (64, 64),
        *,
        seed: int = 0,
        clock: Clock | None = None,
        drift_threshold: float = 0.1,
        window: int = 64,
        replay_size: int = 4096,
        min_retrain_interval_s: float = 30.0,
        bias_min_samples: int = 3,
        optimism: float = 0.0,
        train_threads: int = 1,
    ) -> None:
        if not 0.0 <= optimism <= 1.0:
            raise ConfigError(f"predictor optimism: expected 0..1, got {optimism!r}")
        self.optimism = optimism
        self.train_threads = train_threads
        self.vocabulary = tuple(vocabulary)
        self.hidden = tuple(int(h) for h in hidden)
        self.seed = seed
        self.clock = clock or MonotonicClock()
        self.drift_threshold = drift_threshold
        self.window = window
        self.min_retrain_interval_s = min_retrain_interval_s
        self.bias_min_samples = bias_min_samples
        if not self.hidden:
            raise ConfigError("predictor hidden: expected at least one hidden layer")
        self.columns = len(BASE_COLUMNS) + len(self.vocabulary) + 1
        static = static_columns(self.columns)
        self._inputs = {"model": MODEL_COLUMNS, "device": (*device_columns(self.columns), BASE_COLUMNS.index("is_sr")),
                        "coload": (*static, OTHERS)}
        self.mean = np.zeros(self.columns, dtype=np.float32)
        self.std = np.ones(self.columns, dtype=np.float32)
        self._lock = threading.RLock()
        self._net = self._build_net()
        self._numpy: list[tuple[np.ndarray, np.ndarray]] = []  # the model part's middle layers
        self._numpy_fused: tuple[Any, ...] = ()  # see ``_export``
        self._export()
        self.offline: Dataset | None = None
        self._replay: deque[tuple[np.ndarray, float, float, str]] = deque(maxlen=replay_size)
        self._errors: dict[str, deque[float]] = {}
        self._bias: dict[str, float] = {}
        self._last_retrain = -float("inf")
        self.version = 0
        self.retrains = 0
        self.rejected_retrains = 0
        self.forget_tolerance = 0.03  # mean |log error| the offline rows may lose in a retrain
        # Ladder rungs (tier indices) the offline rows covered: a rung never measured (the bicubic rung of an
        # older profile) is not something to extrapolate to; cost sources price it out.
        self.tiers_seen = NETWORK_TIERS
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------------ network

    def _build_net(self) -> Any:
        """The learned parts as a torch ModuleDict: model (model/frame columns), device (device columns
        and the kind), co-load (static columns and the count of others). Last layers start at zero:
        the roofline, a 10 µs overhead and processor sharing (gamma = eta = 1) are the prior."""
        import torch
        from torch import nn

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return nn.ModuleDict({
                "model": _mlp(len(self._inputs["model"]), self.hidden, len(STATIC_OUT)),
                "device": _mlp(len(self._inputs["device"]), (SIDE_HIDDEN,), len(STATIC_OUT)),
                "coload": _mlp(len(self._inputs["coload"]), (SIDE_HIDDEN,), len(COLOAD_OUT)),
            })

    def _export(self) -> None:
        """Copy the torch weights to NumPy for inference, fused into few matmuls: the three parts' first
        layers are one (C, H) matrix over the raw feature row with the standardisation folded in; the
        device and co-load parts (one hidden layer each) and the model part's last layer share one
        output matrix (the model and device parts' static outputs add up there)."""
        import torch

        def linears(name: str) -> list[tuple[np.ndarray, np.ndarray]]:
            return [(m.weight.detach().double().numpy().T, m.bias.detach().double().numpy())
                    for m in self._net[name] if isinstance(m, torch.nn.Linear)]

        model, device, coload = linears("model"), linears("device"), linears("coload")
        firsts = [(self._inputs["model"], model[0]), (self._inputs["device"], device[0]),
                  (self._inputs["coload"], coload[0])]
        first = np.zeros((self.columns, sum(w.shape[1] for _, (w, _b) in firsts)))
        at = 0
        for columns, (w, _b) in firsts:
            first[list(columns), at:at + w.shape[1]] = w
            at += w.shape[1]
        scale = 1.0 / self.std.astype(np.float64)
        first_b = np.concatenate([b for _, (_w, b) in firsts]) - (self.mean.astype(np.float64) * scale) @ first
        n_static, n_model = len(STATIC_OUT), model[0][0].shape[1]
        side = np.zeros((device[1][0].shape[0] + coload[1][0].shape[0], n_static + len(COLOAD_OUT)))
        side[:device[1][0].shape[0], :n_static] = device[1][0]
        side[device[1][0].shape[0]:, n_static:] = coload[1][0]
        last_w = np.zeros((model[-1][0].shape[0], side.shape[1]))
        last_w[:, :n_static] = model[-1][0]
        last_b = np.concatenate([model[-1][1] + device[1][1], coload[1][1]])
        f32 = np.float32
        self._numpy = [(w.astype(f32), b.astype(f32)) for w, b in model[1:-1]]
        self._numpy_fused = ((first * scale[:, None]).astype(f32), first_b.astype(f32), n_model,
                             last_w.astype(f32), side.astype(f32), last_b.astype(f32))

    def _heads(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(static outputs (N, 5), co-load outputs (N, 4)) of raw feature rows ``x``."""
        first_w, first_b, n_model, last_w, side_w, last_b = self._numpy_fused
        h1 = _silu(x.astype(np.float32, copy=False) @ first_w + first_b)
        h = h1[:, :n_model]
        for w, b in self._numpy:
            h = _silu(h @ w + b)
        out = h @ last_w + h1[:, n_model:] @ side_w + last_b
        return out[:, :len(STATIC_OUT)], out[:, len(STATIC_OUT):]

    def _log_outputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(log p50, p95 spread logit, efficiency logit, log memory - 3) of raw feature rows (no bias)."""
        static, coload = self._heads(x)
        roof = x[:, ROOFLINE]
        log_solo = np.logaddexp(roof + static[:, 0], static[:, 1] + np.float32(OVERHEAD_SHIFT))
        log_busy, busy = _log_busy_np(x, log_solo - roof)
        eta = np.exp(np.minimum(np.maximum(coload[:, 1], LOG_ETA_RANGE[0]), LOG_ETA_RANGE[1]))
        log_slowdown = np.logaddexp(np.float32(0.0), coload[:, 0] + eta * log_busy) * busy
        return log_solo + log_slowdown, static[:, 2] + coload[:, 2], static[:, 3] + coload[:, 3], static[:, 4]

    def _log_p50(self, x: np.ndarray) -> np.ndarray:
        return self._log_outputs(x)[0]

    def predict_features(self, x: np.ndarray, device_ids: Sequence[str] | None = None) -> Prediction:
        """Predictions for feature rows ``x`` (N, columns); with ``device_ids``, the per-device bias applies."""
        if x.ndim != 2 or x.shape[1] != self.columns:
            raise ConfigError(f"predictor input: expected (N, {self.columns}) features, got {x.shape}")
        with self._lock:
            log_p50, spread, eff_logit, log_mem = self._log_outputs(x)
            bias = np.array([self._bias.get(d, 0.0) for d in device_ids]) if device_ids is not None else 0.0
        # Clipped: far outside the training data the network may answer anything; e^18 ms is "never".
        log_p50 = np.minimum(np.maximum(log_p50 + bias, -18.0), 18.0)
        log_p95 = np.minimum(log_p50 + np.logaddexp(0.0, spread), 18.0)
        eff = 0.5 + 0.5 * np.tanh(0.5 * (eff_logit + 1.0))  # the sigmoid, without overflow
        return Prediction(np.exp(log_p50), np.exp(log_p95), eff, np.exp(np.minimum(log_mem + 3.0, 18.0)))

    # ------------------------------------------------------------------ training

    def _standardise(self, x: np.ndarray) -> None:
        # A floor on the spread keeps a column that was constant in training (one device kind, say)
        # from exploding at inference; flags and one-hot columns are left as they are.
        self.mean = x.mean(0).astype(np.float32)
        self.std = np.maximum(x.std(0), 0.25).astype(np.float32)
        for i in [*BINARY_COLUMNS, *range(len(BASE_COLUMNS), self.columns)]:
            self.mean[i], self.std[i] = 0.0, 1.0

    def fit(self, data: Dataset, steps: int = 1500, lr: float = 6e-3, reset: bool = True) -> dict[str, float]:
        """Offline training on ``data`` (kept as the offline set mixed into later retrains): full-batch
        Adam with a cosine schedule (on a validation split of the training cells, lr 6e-3 gained about
        2 points of predictions within 10 % over 3e-3; 1e-2 and 2e-2 did no better).

        Returns:
            Final training losses.
        """
        if len(data) == 0:
            raise ConfigError("predictor fit: no training rows")
        with self._lock:
            self.offline = data
            self.tiers_seen = frozenset(int(round(float(v) * 3)) for v in np.unique(data.x[:, TIER]))
            if reset:
                self._standardise(data.x)
                self._net = self._build_net()
            result = self._train(data, steps, lr)
            self._bias.clear()
            self._errors.clear()
            self.version += 1
        return result

    def _train(self, data: Dataset, steps: int, lr: float) -> dict[str, float]:
        import torch

        # A 64-wide MLP gains nothing from intra-op threads, and with other work on the cores
        # (engines, other jobs) OpenMP's spinning threads make it many times slower.
        threads = torch.get_num_threads()
        torch.set_num_threads(self.train_threads)
        try:
            return self._train_steps(data, steps, lr)
        finally:
            torch.set_num_threads(threads)

    def _train_steps(self, data: Dataset, steps: int, lr: float) -> dict[str, float]:
        import torch

        assert data.weight is not None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + self.retrains)
            x = torch.from_numpy(((data.x - self.mean) / self.std).astype(np.float32))
            raw = torch.from_numpy(data.x.astype(np.float32))
            t = torch.from_numpy(data.targets.astype(np.float32))
            m = torch.from_numpy(data.mask.astype(np.float32))
            obs = torch.from_numpy(data.observed.astype(np.float32))
            w = torch.from_numpy(data.weight.astype(np.float32))[:, None]
            norm = (m[:, :2] * w).sum().clamp(min=1e-6)
            opt = torch.optim.Adam(self._net.parameters(), lr=lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1), eta_min=lr * 0.05)
            self._net.train()
            for _ in range(steps):
                log_p50, spread, eff_logit, log_mem = _forward_torch(self._net, self._inputs, x, raw)
                log_p95 = log_p50 + torch.nn.functional.softplus(spread)
                eff = torch.sigmoid(eff_logit + 1.0)
                l50 = torch.where(obs > 0, _pinball(t[:, 0] - log_p50, 0.5) * 2, (t[:, 0] - log_p50).abs())
                l95 = torch.where(obs > 0, _pinball(t[:, 1] - log_p95, 0.95) * 2, (t[:, 1] - log_p95).abs())
                terms = torch.stack([l50, 0.5 * l95, (t[:, 2] - eff) ** 2, 0.2 * (t[:, 3] - log_mem - 3.0).abs()], 1)
                loss = (terms * m * w).sum() / norm
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            with torch.no_grad():
                l50_mean = (l50 * m[:, 0]).sum() / m[:, 0].sum().clamp(min=1)
                losses = {"loss": float(loss.detach()), "l50": float(l50_mean)}
            self._net.eval()
            self._export()
        return losses

    # ------------------------------------------------------------------ online

    def observe(self, x: np.ndarray, observed_ms: float, device_id: str, predicted_p50_ms: float | None = None,
                share: float = 1.0) -> None:
        """Record one observed frame of the stage with features ``x`` (C,) on ``device_id``.

        Args:
            observed_ms: the stage's observed latency.
            predicted_p50_ms: the prediction used when it was planned (skips a forward pass).
            share: weight of the observation when a pipeline's latency was split over its stages.
        """
        if not np.isfinite(observed_ms) or observed_ms <= 0:
            return
        if predicted_p50_ms is None:
            predicted_p50_ms = float(self.predict_features(x[None])[0].p50_ms[0])
        # Clamped: a frame that waited behind an overloaded device says "late", not "this model is 50x
        # slower"; an unclamped ratio would make the device look useless long after it recovered.
        ratio = float(np.clip(np.log(observed_ms / predicted_p50_ms), -MAX_LOG_RATIO, MAX_LOG_RATIO))
        with self._lock:
            self._replay.append((x.astype(np.float32), float(np.log(observed_ms)), share, device_id))
            errors = self._errors.setdefault(device_id, deque(maxlen=self.window))
            errors.append(ratio)
            if len(errors) >= self.bias_min_samples:
                # The median of the window's log(observed / prediction): robust to single slow frames and
                # steady under per-frame noise, yet it follows a step (a noisy neighbour) within a window.
                self._bias[device_id] = self._correction(errors)

    def _correction(self, log_ratios: Sequence[float]) -> float:
        """The applied log correction for a window: its median, scaled by ``optimism`` when negative."""
        median = float(np.median(log_ratios))
        return median if median >= 0.0 else self.optimism * median

    def bias(self, device_id: str) -> float:
        """Multiplicative correction currently applied to ``device_id``'s predictions."""
        with self._lock:
            return float(np.exp(self._bias.get(device_id, 0.0)))

    def drift(self) -> float:
        """Largest |rolling median log(observed / predicted)| over devices with >= 16 observations."""
        with self._lock:
            values = [abs(float(np.median(e))) for e in self._errors.values() if len(e) >= 16]
        return max(values, default=0.0)

    def needs_retrain(self) -> bool:
        with self._lock:
            recent = self.clock.now() - self._last_retrain >= self.min_retrain_interval_s
            return recent and len(self._replay) >= 64 and self.drift() > self.drift_threshold

    def maybe_retrain(self, steps: int = 150) -> bool:
        """Fine-tune on offline rows + replay when the rolling error drifted; True when it retrained."""
        if not self.needs_retrain():
            return False
        self.retrain(steps)
        return True

    def retrain(self, steps: int = 150, lr: float = 1e-3) -> dict[str, float]:
        """Fine-tune on the offline set plus the replay buffer; error windows and biases are then measured
        again against the new weights."""
        with self._lock:
            replay = list(self._replay)
            if not replay:
                return {}
            x = np.stack([r[0] for r in replay])
            targets = np.zeros((len(replay), 4), dtype=np.float32)
            targets[:, 0] = targets[:, 1] = [r[1] for r in replay]  # one frame: a sample of both quantiles
            mask = np.zeros((len(replay), 4), dtype=bool)
            mask[:, :2] = True
            online = Dataset(x, targets, mask, np.ones(len(replay), dtype=bool))
            data = Dataset.concat([self.offline, online]) if self.offline is not None else online
            drift = self.drift()
            self.retrains += 1
            before = {k: v.clone() for k, v in self._net.state_dict().items()}
            offline_before = self._offline_error()
            result = self._train(data, steps, lr)
            offline_after = self._offline_error()
            # Guard against forgetting: frames of a few configurations must not wreck what the profile
            # taught about all the others. A retrain that does is rolled back (the bias still corrects).
            rejected = offline_after > offline_before + self.forget_tolerance
            if rejected:
                self._net.load_state_dict(before)
                self._export()
                self.rejected_retrains += 1
            self._last_retrain = self.clock.now()
            self._rebase_errors(replay)
            self.version += 1
            result = {**result, "offline_l1_before": offline_before, "offline_l1_after": offline_after,
                      "rejected": float(rejected)}
            self.history.append({"time": self._last_retrain, "drift": drift, "replay": float(len(replay)), **result})
        return result

    def _offline_error(self) -> float:
        """Mean |log p50 error| on the offline rows (0 without them)."""
        if self.offline is None or len(self.offline) == 0:
            return 0.0
        x = self.offline.x
        pred = self._log_p50(x)
        mask = self.offline.mask[:, 0]
        return float(np.mean(np.abs(pred - self.offline.targets[:, 0])[mask])) if mask.any() else 0.0

    def _rebase_errors(self, replay: list[tuple[np.ndarray, float, float, str]]) -> None:
        """Error windows and biases against the retrained weights, from each device's latest replayed
        frames: what the features cannot explain (a noisy neighbour) stays corrected after a retrain."""
        self._bias.clear()
        self._errors.clear()
        by_device: dict[str, list[tuple[np.ndarray, float]]] = {}
        for x, log_obs, _share, device in replay:
            by_device.setdefault(device, []).append((x, log_obs))
        for device, rows in by_device.items():
            recent = rows[-self.window:]
            pred = self._log_p50(np.stack([r[0] for r in recent]))
            ratios = [float(v) for v in np.array([r[1] for r in recent]) - pred]
            self._errors[device] = deque(ratios, maxlen=self.window)
            if len(ratios) >= self.bias_min_samples:
                self._bias[device] = self._correction(ratios)

    def state(self) -> dict[str, Any]:
        """Online state for status pages: version, retrains, drift, biases."""
        with self._lock:
            return {"version": self.version, "retrains": self.retrains, "rejected_retrains": self.rejected_retrains,
                    "drift": self.drift(),
                    "replay": len(self._replay), "bias": {k: float(np.exp(v)) for k, v in self._bias.items()}}

    def clone(self, clock: Clock | None = None) -> PerfPredictor:
        """An independent copy (weights, standardisation, offline set; empty online state)."""
        other = PerfPredictor(self.vocabulary, self.hidden, seed=self.seed, clock=clock or self.clock,
                              drift_threshold=self.drift_threshold, window=self.window,
                              replay_size=self._replay.maxlen or 4096,
                              min_retrain_interval_s=self.min_retrain_interval_s,
                              bias_min_samples=self.bias_min_samples, optimism=self.optimism,
                              train_threads=self.train_threads)
        with self._lock:
            other.mean, other.std = self.mean.copy(), self.std.copy()
            other._net.load_state_dict({k: v.clone() for k, v in self._net.state_dict().items()})
            other.offline, other.tiers_seen = self.offline, self.tiers_seen
        other._export()
        return other

    # ------------------------------------------------------------------ persistence

    def save(self, path: Path, training: dict[str, Any] | None = None) -> None:
        """Write weights + standardisation as safetensors with JSON metadata (atomic)."""
        from safetensors.torch import save_file
        import torch

        tensors = {f"net.{k}": v.detach().contiguous() for k, v in self._net.state_dict().items()}
        tensors["mean"], tensors["std"] = torch.from_numpy(self.mean.copy()), torch.from_numpy(self.std.copy())
        metadata = {"format": PREDICTOR_FORMAT, "vocabulary": json.dumps(list(self.vocabulary)),
                    "hidden": json.dumps(list(self.hidden)), "columns": json.dumps(list(BASE_COLUMNS)),
                    "seed": str(self.seed), "training": json.dumps(training or {}, sort_keys=True),
                    "tiers_seen": json.dumps(sorted(self.tiers_seen))}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        save_file(tensors, str(tmp), metadata=metadata)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> PerfPredictor:
        """Read a predictor saved by ``save``.

        Raises:
            WeightsError: missing, corrupt, or written for other feature columns.
        """
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        except FileNotFoundError:
            raise WeightsError(f"predictor weights not found: {path}") from None
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"predictor weights {path} are corrupt: {exc}") from exc
        if metadata.get("format") != PREDICTOR_FORMAT:
            raise WeightsError(f"predictor {path}: format {metadata.get('format')!r}, expected {PREDICTOR_FORMAT!r}")
        if json.loads(metadata["columns"]) != list(BASE_COLUMNS):
            raise WeightsError(f"predictor {path} was trained on other feature columns; retrain it")
        predictor = cls(json.loads(metadata["vocabulary"]), json.loads(metadata["hidden"]),
                        seed=int(metadata.get("seed", "0")), **kwargs)
        predictor.mean, predictor.std = tensors.pop("mean").numpy(), tensors.pop("std").numpy()
        try:
            predictor._net.load_state_dict({k.removeprefix("net."): v for k, v in tensors.items()}, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"predictor {path} does not match its metadata: {exc}") from exc
        predictor._export()
        predictor.training_info = json.loads(metadata.get("training", "{}"))
        predictor.tiers_seen = frozenset(json.loads(metadata.get("tiers_seen", json.dumps(sorted(NETWORK_TIERS)))))
        return predictor

    training_info: dict[str, Any] = {}


def _pinball(diff: Any, tau: float) -> Any:
    """Quantile loss of residuals ``target - prediction``."""
    import torch

    return torch.maximum(tau * diff, (tau - 1.0) * diff)


def _mlp(inputs: int, hidden: Sequence[int], outputs: int) -> Any:
    """Linear/SiLU stack whose last layer starts at zero (the skeleton's prior)."""
    from torch import nn

    layers: list[nn.Module] = []
    width = inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.SiLU()]
        width = h
    last = nn.Linear(width, outputs)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


def _silu(h: np.ndarray) -> np.ndarray:
    """SiLU of a fresh pre-activation, in place: x * sigmoid(x), the sigmoid in its tanh form (cannot
    overflow); one temporary instead of four (large batches were bound by allocating them)."""
    gate = np.multiply(h, 0.5)
    np.tanh(gate, out=gate)
    gate *= 0.5
    gate += 0.5
    h *= gate
    return h


def _log_busy_np(x: np.ndarray, log_solo_over_roof: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log of the others' busy fraction (MACs/s share x solo / roofline, at most one per other stream)
    and where it is positive (no others or no load: no slowdown)."""
    ratio, log_others = x[:, RATIO], x[:, OTHERS]
    busy = (ratio > 0) & (log_others > LOG1P_HALF)
    tiny = np.float32(TINY)
    count = np.maximum(np.expm1(log_others), tiny)
    return np.minimum(np.log(np.maximum(ratio, tiny)) + log_solo_over_roof, np.log(count)), busy


def _forward_torch(net: Any, inputs: dict[str, tuple[int, ...]], x: Any, raw: Any) -> tuple[Any, Any, Any, Any]:
    """Training forward pass (the same maths as ``PerfPredictor._log_outputs``): standardised rows ``x``,
    raw rows ``raw``; returns (log p50, p95 spread logit, efficiency logit, log memory - 3)."""
    import torch

    static = net["model"](x[:, list(inputs["model"])]) + net["device"](x[:, list(inputs["device"])])
    coload = net["coload"](x[:, list(inputs["coload"])])
    roof = raw[:, ROOFLINE]
    log_solo = torch.logaddexp(roof + static[:, 0], static[:, 1] + OVERHEAD_SHIFT)
    ratio, count = raw[:, RATIO], torch.expm1(raw[:, OTHERS])
    busy = (ratio > 0) & (raw[:, OTHERS] > LOG1P_HALF)
    log_busy = torch.minimum(torch.log(ratio.clamp(min=TINY)) + log_solo - roof, torch.log(count.clamp(min=TINY)))
    eta = torch.exp(coload[:, 1].clamp(*LOG_ETA_RANGE))
    slowdown = torch.nn.functional.softplus(coload[:, 0] + eta * log_busy)
    log_p50 = log_solo + torch.where(busy, slowdown, torch.zeros_like(slowdown))
    return log_p50, static[:, 2] + coload[:, 2], static[:, 3] + coload[:, 3], static[:, 4]
