"""The BGR-in/BGR-out pipeline: ``Enhancer``.

frame (BGR(A) uint8; numpy, torch CUDA or cupy)
  -> native pack to RGB planar float (fp16 on CUDA)
  -> artifact removal (mode off/mild/strong/auto), padded to the net's multiple internally
  -> SR residual at input resolution; the native kernel adds it to a MATLAB-bicubic base and packs
     BGR uint8 in one pass (x1.33 / x1.5: x2, then a float downscale before packing)
     (CPU, x2, a network shape the native fused kernel implements (tier tiny): the whole SR step, uint8
     in to uint8 out, is one native call, ``native.fused_sr``, fp32, fed the frame or the AR output packed
     to uint8; CUDA once its kernel has run on a GPU, see ``FUSED_DEVICES``)
     (tier ``bicubic``: no network at all, the native bicubic scaler alone)
  -> BGR(A) uint8 of the same array kind; alpha is resized with bicubic.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from streamenhance import native
from streamenhance.advice import Advisor, TierAdvice, default_advisor
from streamenhance.config import BICUBIC, MODES, TIERS, check_choice, output_size, scale_ratio
from streamenhance.engine.devices import conv_throughput, resolve_device
from streamenhance.engine.frames import ArrayKind, check_frame
from streamenhance.engine.modes import AutoMode, ModeDecision
from streamenhance.engine.selection import (
    SRPlan,
    advised_ar_tier,
    advised_plan,
    ar_modes,
    auto_ar_tier,
    auto_tier,
    choose_ar,
    choose_sr,
)
from streamenhance.errors import ConfigError, WeightsError
from streamenhance.models import CatalogEntry, ModelSpec, catalog, load_model


LOG = logging.getLogger("streamenhance.engine")


class _DefaultAdvisor:
    """Marker of ``Enhancer(advisor=...)``'s default: the process-wide advisor (``advice.default_advisor()``)."""

    def __repr__(self) -> str:
        return "DEFAULT_ADVISOR"


DEFAULT_ADVISOR = _DefaultAdvisor()


class _ModelCache:
    """Loaded models shared by every Enhancer of the process, keyed by (file, device, dtype), and their
    networks packed for the native fused kernel, keyed by file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[Path, str, torch.dtype], tuple[ModelSpec, nn.Module]] = {}
        self._fused: dict[Path, tuple[ModelSpec, Any | None]] = {}

    def get(self, path: Path, device: torch.device, dtype: torch.dtype) -> tuple[ModelSpec, nn.Module]:
        key = (path.resolve(), str(device), dtype)
        with self._lock:
            if key not in self._models:
                spec, model = load_model(path, device)
                self._models[key] = (spec, model.to(dtype=dtype, memory_format=torch.channels_last))
            return self._models[key]

    def loaded_files(self) -> set[Path]:
        """The weight files loaded so far (on any device)."""
        with self._lock:
            return {key[0] for key in self._models}

    def fused(self, path: Path) -> tuple[ModelSpec, Any | None]:
        """The file's spec and its network packed once for ``native.fused_sr`` from the float32 weights (a CUDA
        Enhancer's own copy is float16); None when the kernel does not implement its shape. One look-up per frame."""
        key = path.resolve()
        with self._lock:
            cached = self._fused.get(key)
        if cached is None:
            spec, model = self.get(path, torch.device("cpu"), torch.float32)
            cached = (spec, _pack_fused(model) if spec.scale == 2 else None)
            with self._lock:
                cached = self._fused.setdefault(key, cached)
        return cached


def _pack_fused(model: nn.Module) -> Any | None:
    try:
        return native.fused_sr_net(model.state_dict())
    except WeightsError as exc:  # another shape: the torch path serves it
        LOG.debug("native fused SR kernel not used: %s", exc)
        return None


MODEL_CACHE = _ModelCache()
# Devices on which the engine runs the native fused kernel by default. The CUDA kernel compiles and, its tile code
# run on the host, matches the CPU kernel byte for byte, but it has not run on a GPU yet (docs/SPEED.md): CUDA
# Enhancers keep the torch path until scripts/device_check_fused_cuda.sh has passed on one.
FUSED_DEVICES: tuple[str, ...] = ("cpu",)


@dataclass
class StreamState:
    """What one stream carries between frames; one Enhancer can serve several streams."""

    auto_mode: AutoMode | None
    frames: int = 0
    input_hw: tuple[int, int] | None = None  # the size the advisor was last told
    sr_plan: SRPlan | None = None
    ar_tier: str | None = None  # x1 with tier auto: the AR net's tier (``bicubic``: none runs)
    # (input size, mode, advice version) the plan above was made for: any change re-plans.
    plan_key: tuple[tuple[int, int], str, int] | None = None
    tier_reason: str = ""
    mode: ModeDecision | None = None
    models: list[str] = field(default_factory=list)
    # What ran the SR network on the last frame: "native fused (avx2)", "native fused (cuda)", "torch" or "".
    sr_kernel: str = ""
    advice: TierAdvice | None = None  # the stream as registered with the tier advisor (tier "auto")
    # Closes ``advice`` once: on ``release`` or when the state is dropped without it.
    advice_closer: weakref.finalize | None = None

    def register(self, advice: TierAdvice) -> None:
        self.advice = advice
        self.advice_closer = weakref.finalize(self, _close_quietly, advice)

    def release(self) -> None:
        """Unregister from the tier advisor (idempotent)."""
        closer, self.advice, self.advice_closer = self.advice_closer, None, None
        if closer is not None:
            closer()


def _close_quietly(advice: TierAdvice) -> None:
    try:
        advice.close()
    except Exception as exc:  # a failing advisor must never break the engine's shutdown
        LOG.warning("tier advisor: close failed (%s: %s)", type(exc).__name__, exc)


class Enhancer:
    """Artifact removal + super-resolution of BGR(A) uint8 frames.

    Args:
        scale: output/input size ratio: 1 (artifact removal only), 1.33 (4/3), 1.5, 2 or 4.
        mode: artifact removal strength: ``off``, ``mild``, ``strong`` or ``auto`` (from
            ``bitrate_kbps`` when given, else a no-reference estimate of the frames).
        tier: model size (``tiny`` .. ``large``) of the SR net and of the AR net before it (x1: the AR net
            alone), or ``auto``: the tier ``advisor`` assigns the stream, else the largest that fits the
            frame interval on this device by measured throughput.
            ``bicubic`` runs no network (no artifact removal either): the native bicubic scaler alone,
            the rung the scheduler falls back to when no network meets a stream's deadline.
        device: ``auto``, ``cpu`` or ``cuda:N``.
        bitrate_kbps: bitrate of the incoming stream (0 = unknown), for mode ``auto``.
        fps: frame rate of the stream, for mode ``auto`` and tier ``auto``.
        weights_dir: directory of weight files (default: packaged weights or
            ``$STREAMENHANCE_WEIGHTS_DIR``).
        advisor: with tier ``auto``, who assigns each stream's tier: by default the process-wide
            scheduler (``streamenhance.scheduler``), which sees every stream of the process; ``None``
            for the local throughput rule alone.
        fused_kernels: run the SR network with the native fused kernel where it applies (a device of
            ``FUSED_DEVICES``: the CPU for now; x2, a network shape it implements: tier ``tiny``; after
            artifact removal it reads the AR output packed to uint8); False always runs it in PyTorch.

    Raises:
        ConfigError: an option is outside its allowed values or the device is not usable.
        WeightsError: the weights the options need are missing or corrupt.
    """

    def __init__(
        self,
        scale: float = 2.0,
        mode: str = "auto",
        tier: str = "auto",
        device: str = "auto",
        *,
        bitrate_kbps: float = 0,
        fps: float = 30.0,
        weights_dir: str | Path | None = None,
        advisor: Advisor | None | _DefaultAdvisor = DEFAULT_ADVISOR,
        fused_kernels: bool = True,
    ) -> None:
        self.ratio: Fraction = scale_ratio(scale)
        self.scale = float(scale)
        self.mode_setting = check_choice("mode", mode, MODES)
        self.tier_setting = check_choice("tier", tier, ("auto", BICUBIC, *TIERS))
        if bitrate_kbps < 0 or not np.isfinite(bitrate_kbps):
            raise ConfigError(f"bitrate_kbps: expected a number >= 0, got {bitrate_kbps!r}")
        if fps <= 0 or not np.isfinite(fps):
            raise ConfigError(f"fps: expected a number > 0, got {fps!r}")
        self.bitrate_kbps = float(bitrate_kbps)
        self.fps = float(fps)
        self.device = resolve_device(device)
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self.fused_kernels = bool(fused_kernels)
        native.keep_freed_memory()  # per-frame buffers are reused instead of faulted in again (docs/SPEED.md)
        self._entries = catalog(weights_dir)
        self._ar_modes = ar_modes(self._entries)
        self.net_scale = 1 if self.ratio == 1 else 4 if self.ratio == 4 else 2
        # Fail now, not on the first frame, when the requested weights are not installed.
        if self.net_scale > 1:
            choose_sr(self._entries, self.tier_setting, self.net_scale, self._sr_mode_hint())
        if self.mode_setting in ("mild", "strong") and self.tier_setting != BICUBIC:
            ar = choose_ar(self._entries, self.mode_setting, self.tier_setting)  # raises when the mode has no weights
            if self.tier_setting != "auto":  # with "auto" the tier is known only on the first frame
                self._load(ar)
        self._advisor = default_advisor() if advisor is DEFAULT_ADVISOR else advisor
        if self._advisor is not None and not callable(self._advisor):
            raise ConfigError(f"advisor: expected a callable or None, got {advisor!r}")
        self._state = self.new_stream()

    # ------------------------------------------------------------------ public API

    def new_stream(self) -> StreamState:
        """Fresh per-stream state for ``process``."""
        auto = AutoMode(self._ar_modes) if self.mode_setting == "auto" and self._ar_modes else None
        return StreamState(auto_mode=auto)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the output for a ``width`` x ``height`` input."""
        return output_size(width, height, self.scale)

    def enhance(self, frame: Any) -> Any:
        """Enhance one frame of this Enhancer's own stream (see ``process``)."""
        return self.process(frame, self._state)

    def process(self, frame: Any, state: StreamState) -> Any:
        """Enhance one BGR(A) uint8 frame; returns the same array kind (numpy, torch CUDA, cupy).

        Raises:
            FrameTypeError / FrameFormatError: the frame is not an HxWx3|4 uint8 array with
                contiguous pixels within the size limits.
        """
        kind, height, width, channels = check_frame(frame)
        out_w, out_h = self.output_size(width, height)
        start = time.perf_counter()
        with torch.inference_mode():
            image = self._to_device(frame, kind)
            state.mode = self._resolve_mode(image, kind, state)
            plan = self._sr_plan(state, (height, width), (out_h, out_w)) if self.net_scale > 1 else None
            if plan is None and self.tier_setting == "auto":
                self._ar_plan(state, (height, width))
            if (plan.entry is None) if plan is not None else BICUBIC in (self.tier_setting, state.ar_tier):
                state.mode = ModeDecision("off", f"tier {BICUBIC}: no network runs")
            out = self._enhance_image(image, state, plan, (out_h, out_w), channels)
            if channels == 4:
                self._copy_alpha(image, out, (out_h, out_w))
        state.frames += 1
        result = self._to_kind(out, kind, frame)
        if state.advice is not None:
            self._report(state, (time.perf_counter() - start) * 1e3)
        return result

    def describe(self, state: StreamState | None = None) -> dict[str, Any]:
        """Settings and the choices made for ``state`` (default: this Enhancer's own stream)."""
        state = state or self._state
        mode = state.mode
        return {
            "scale": self.scale,
            "mode_setting": self.mode_setting,
            "mode": mode.mode if mode else self.mode_setting,
            "mode_reason": mode.reason if mode else "",
            "tier_setting": self.tier_setting,
            "tier": self._tier_in_use(state),
            "tier_reason": state.tier_reason,
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "models": list(state.models),
            "sr_kernel": state.sr_kernel,
            "frames": state.frames,
        }

    def close(self) -> None:
        """Release per-stream state (and its scheduler registration); loaded models stay cached."""
        self._state.release()
        self._state = self.new_stream()

    # ------------------------------------------------------------------ choices

    def _sr_mode_hint(self) -> str:
        return self.mode_setting if self.mode_setting in ("mild", "strong") else "mild"

    def _resolve_mode(self, image: Any, kind: ArrayKind, state: StreamState) -> ModeDecision:
        if self.mode_setting != "auto":
            return ModeDecision(self.mode_setting, "set by the user")
        if state.auto_mode is None:
            return ModeDecision("off", "auto: no artifact-removal weights installed")
        host = image if kind is ArrayKind.NUMPY else _central_crop_to_host(image)
        return state.auto_mode.decide(host, self.bitrate_kbps, self.fps)

    def _tier_in_use(self, state: StreamState) -> str:
        if self.net_scale > 1:
            return state.sr_plan.tier if state.sr_plan else "auto"  # "auto": no frame yet
        if self.mode_setting == "off":
            return "none"  # x1 without artifact removal runs no network
        return state.ar_tier or self.tier_setting

    def _replan(self, state: StreamState, input_hw: tuple[int, int], mode: str) -> tuple[TierAdvice | None, bool]:
        """The stream's advice, and whether the plan made for this size, mode and advice version is out of date."""
        advice = self._advice(state, input_hw)
        key = (input_hw, mode, advice.version if advice is not None else -1)
        stale, state.plan_key = state.plan_key != key, key
        return advice, stale

    def _sr_plan(self, state: StreamState, input_hw: tuple[int, int], output_hw: tuple[int, int]) -> SRPlan:
        mode = state.mode.mode if state.mode and state.mode.mode != "off" else "mild"
        advice, stale = self._replan(state, input_hw, mode)
        if not stale and state.sr_plan is not None:
            return state.sr_plan
        plans = choose_sr(self._entries, self.tier_setting, self.net_scale, mode)
        if advice is not None:
            state.sr_plan, state.tier_reason = advised_plan(plans, advice.assignment)
        elif self.tier_setting == "auto" and len(plans) > 1:
            pixels = output_hw[0] * output_hw[1]
            state.sr_plan, state.tier_reason = auto_tier(plans, pixels, self.fps, conv_throughput(self.device))
        else:
            state.sr_plan, state.tier_reason = plans[0], ("set by the user" if self.tier_setting != "auto" else "only tier installed")
        return state.sr_plan

    def _ar_plan(self, state: StreamState, input_hw: tuple[int, int]) -> None:
        """x1 with tier auto: the stream registers with the advisor like any other (the scheduler costs AR-only
        streams) and its AR net runs at the assigned tier; without an advisor the local throughput rule decides."""
        if self.mode_setting == "off":
            return  # no network can run: nothing to register or choose
        mode = state.mode.mode if state.mode else "off"
        advice, stale = self._replan(state, input_hw, mode)
        if mode == "off" or (not stale and state.ar_tier is not None):
            return
        if advice is not None:
            state.ar_tier, state.tier_reason = advised_ar_tier(self._entries, mode, advice.assignment)
        else:
            pixels = input_hw[0] * input_hw[1]
            state.ar_tier, state.tier_reason = auto_ar_tier(self._entries, mode, pixels, self.fps,
                                                            conv_throughput(self.device))

    def _advice(self, state: StreamState, input_hw: tuple[int, int]) -> TierAdvice | None:
        """The stream's registration with the tier advisor: made on its first frame, told of size changes.

        An advisor that fails is logged and left out (the local rule decides): enhancement never
        depends on the scheduler working.
        """
        if self.tier_setting != "auto" or self._advisor is None:
            return None
        height, width = input_hw
        try:
            if state.advice is None:
                state.register(self._advisor(width, height, self.fps, self.scale, self.mode_setting,
                                             self.bitrate_kbps, str(self.device)))
            elif state.input_hw != input_hw:
                state.advice.update(width, height)
            state.input_hw = input_hw
        except Exception as exc:
            LOG.warning("tier advisor failed (%s: %s); tier auto uses the local rule", type(exc).__name__, exc)
            self._advisor = None
            state.release()
        return state.advice

    def _report(self, state: StreamState, elapsed_ms: float) -> None:
        try:
            state.advice.report(elapsed_ms)  # type: ignore[union-attr]
        except Exception as exc:
            LOG.warning("tier advisor: report failed (%s: %s)", type(exc).__name__, exc)
            state.release()

    # ------------------------------------------------------------------ stages

    def _load(self, entry: CatalogEntry) -> tuple[ModelSpec, nn.Module]:
        return MODEL_CACHE.get(entry.path, self.device, self.dtype)

    def _enhance_image(
        self, image: Any, state: StreamState, plan: SRPlan | None, out_hw: tuple[int, int], channels: int
    ) -> Any:
        """AR + SR + packing of one frame on this Enhancer's device; records the models that ran in ``state``."""
        fused = self._fused_net(plan)
        ar_mode = state.mode.mode if state.mode is not None else "off"
        models: list[str] = []
        if fused is not None:
            state.sr_kernel = f"native fused ({'cuda' if self.device.type == 'cuda' else fused[1].isa})"
        if fused is not None and ar_mode == "off":
            state.models = [fused[0]]
            return native.fused_sr(image, fused[1])
        planar = native.bgr_to_planar(self._native_view(image), dtype=_numpy_dtype(self.dtype))
        x = self._from_native(planar)
        if ar_mode != "off":
            x = self._artifact_removal(x, ar_mode, self._ar_tier(plan, state), models)
        if fused is not None:
            # The AR output is packed to uint8 (what the kernel reads) and upscaled by the fused kernel: the rounding
            # moves output pixels by 0.3 levels on average (-0.002 dB on the demo clip); the kernel halves SR's time.
            state.models = [*models, fused[0]]
            return native.fused_sr(native.planar_to_bgr(self._native_view(x.contiguous()), channels=channels), fused[1])
        out = self._upscale_and_pack(x, plan, out_hw, channels, models)
        state.models = models
        state.sr_kernel = "torch" if plan is not None and plan.entry is not None else ""
        return out

    def _fused_net(self, plan: SRPlan | None) -> tuple[str, Any] | None:
        """(model name, packed network) when the native fused kernel can run the SR step: a device of
        ``FUSED_DEVICES``, one x2 pass straight to the output size, a network shape the kernel implements."""
        if (not self.fused_kernels or self.device.type not in FUSED_DEVICES or self.ratio != 2
                or plan is None or plan.entry is None or plan.passes != 1):
            return None
        spec, packed = MODEL_CACHE.fused(plan.entry.path)
        return (spec.name, packed) if packed is not None else None

    def _ar_tier(self, plan: SRPlan | None, state: StreamState) -> str:
        """AR runs at the SR net's tier (what the scheduler costs for tier auto); at x1 the set tier, or for
        "auto" the tier ``_ar_plan`` chose."""
        if plan is not None and plan.entry is not None:
            return plan.tier
        if self.tier_setting != "auto":
            return self.tier_setting
        assert state.ar_tier is not None, "_ar_plan runs before artifact removal at x1"
        return state.ar_tier

    def _artifact_removal(self, x: torch.Tensor, mode: str, tier: str, models: list[str]) -> torch.Tensor:
        spec, model = self._load(choose_ar(self._entries, mode, tier))
        height, width = x.shape[-2:]
        pad_h = spec.size.padded(height) - height
        pad_w = spec.size.padded(width) - width
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        y = model(padded.contiguous(memory_format=torch.channels_last))
        models.append(spec.name)
        return y[..., :height, :width].clamp_(0.0, 1.0)

    def _upscale_and_pack(
        self, x: torch.Tensor, plan: SRPlan | None, out_hw: tuple[int, int], channels: int, models: list[str]
    ) -> Any:
        """SR (if any) + native post-processing; returns a native-kind uint8 array of ``out_hw``."""
        if plan is None:
            return native.planar_to_bgr(self._native_view(x.contiguous()), channels=channels)
        if plan.entry is None:
            scaled = native.resize(self._native_view(x.contiguous()), out_hw)
            return native.planar_to_bgr(scaled, channels=channels)
        spec, model = self._load(plan.entry)
        models += [spec.name] * plan.passes
        for _ in range(plan.passes - 1):
            x = (self._base(x, spec.scale) + self._residual(model, x)).clamp_(0.0, 1.0)
        residual = self._residual(model, x)
        base = self._base(x, spec.scale)
        if tuple(residual.shape[-2:]) == out_hw:
            return native.planar_to_bgr(self._native_view(residual), base=self._native_view(base), channels=channels)
        full = (residual + base).contiguous()  # x1.33 / x1.5: downscale the x2 result before packing
        scaled = native.resize(self._native_view(full), out_hw)
        return native.planar_to_bgr(scaled, channels=channels)

    def _residual(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return model.residual(x.contiguous(memory_format=torch.channels_last)).contiguous()

    def _base(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        height, width = x.shape[-2:]
        return self._from_native(native.resize(self._native_view(x.contiguous()), (height * scale, width * scale)))

    def _copy_alpha(self, image: Any, out: Any, out_hw: tuple[int, int]) -> None:
        alpha = image[:, :, 3]
        alpha = alpha.contiguous() if torch.is_tensor(alpha) else np.ascontiguousarray(alpha)
        out[:, :, 3] = native.resize(alpha, out_hw)

    # ------------------------------------------------------------------ array plumbing

    def _to_device(self, frame: Any, kind: ArrayKind) -> Any:
        """numpy stays numpy on CPU; everything else becomes a torch tensor on ``self.device``."""
        if self.device.type == "cpu":
            if kind is not ArrayKind.NUMPY:
                raise ConfigError(f"a {kind.value} CUDA frame needs a CUDA device, this Enhancer runs on cpu")
            return frame
        tensor = torch.as_tensor(frame, device=self.device) if kind is not ArrayKind.TORCH else frame
        if tensor.device != self.device:
            tensor = tensor.to(self.device)
        return tensor

    @staticmethod
    def _native_view(x: Any) -> Any:
        """torch CPU tensors as zero-copy numpy views; CUDA tensors and numpy arrays as they are."""
        return x.numpy() if torch.is_tensor(x) and x.device.type == "cpu" else x

    @staticmethod
    def _from_native(array: Any) -> torch.Tensor:
        return torch.from_numpy(array) if isinstance(array, np.ndarray) else torch.as_tensor(array)

    def _to_kind(self, out: Any, kind: ArrayKind, original: Any) -> Any:
        if kind is ArrayKind.NUMPY:
            return out if isinstance(out, np.ndarray) else out.cpu().numpy()
        if kind is ArrayKind.CUPY:
            import cupy  # only reachable with a cupy input

            return cupy.asarray(out)
        return out


def _numpy_dtype(dtype: torch.dtype) -> type:
    return np.float16 if dtype == torch.float16 else np.float32


def _central_crop_to_host(image: torch.Tensor, side: int = 512) -> np.ndarray:
    """A central crop of a device frame on the host, for the no-reference mode estimate."""
    height, width = image.shape[:2]
    y, x = max(0, (height - side) // 2) & ~7, max(0, (width - side) // 2) & ~7
    return image[y : y + side, x : x + side].cpu().numpy()
