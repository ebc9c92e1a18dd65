"""The published super-resolution protocol ("bicubic BI") on Set5 / Set14 / BSD100.

HR = modcrop(HR, s); LR = MATLAB imresize(HR, 1/s) (the native kernel, bit-exact with MATLAB);
PSNR/SSIM on Y with ``s`` pixels shaved; gray images on their raw values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from streamenhance import native
from streamenhance.errors import ConfigError
from streamenhance.io import read_image
from streamenhance.metrics import detail_ratio, psnr, ssim

SET_FOLDERS = {"Set5": "eval/Set5/HR", "Set14": "eval/Set14/HR", "BSD100": "eval/BSD100"}

# A method maps an LR image (BGR (h, w, 3) or gray (h, w) uint8) to an image of the HR size.
Method = Callable[[np.ndarray, tuple[int, int]], np.ndarray]


@dataclass(frozen=True)
class NamedMethod:
    """A Method with what the report shows about it.

    Attributes:
        name: display name.
        kind: ``baseline`` (bicubic, decoded input), ``ours`` or ``peer``.
        method: the Method.
        params: parameter count where known.
        note: how to read its numbers.
        reference: published or documented PSNR by set (or by ``q10``... for JPEG), for comparison.
    """

    name: str
    kind: str
    method: Method
    params: int | None = None
    note: str = ""
    reference: dict[str, float] = field(default_factory=dict)


@dataclass
class SetResult:
    set_name: str
    scale: int
    method: str
    psnr_y: float
    ssim_y: float
    per_image: dict[str, float] = field(default_factory=dict)
    detail_y: float = 0.0  # mean fine-detail energy ratio to the HR image (metrics.detail_ratio)


def set_images(data_root: Path, set_name: str) -> list[tuple[str, np.ndarray]]:
    """(name, image) pairs of an evaluation set; gray images stay 2-D."""
    if set_name not in SET_FOLDERS:
        raise ConfigError(f"set: expected one of {', '.join(SET_FOLDERS)}, got {set_name!r}")
    folder = data_root / SET_FOLDERS[set_name]
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".bmp"))
    if not paths:
        raise ConfigError(f"no images for {set_name} under {folder}")
    return [(p.stem, read_image(p, keep_gray=True)) for p in paths]


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Top-left crop with both sides divisible by ``scale``."""
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h - h % scale, : w - w % scale])


def bicubic_method(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
    """MATLAB-bicubic upscale of ``lr`` to ``hr_hw`` (the protocol's baseline)."""
    return native.resize(lr, hr_hw)


def as_gray(image: np.ndarray) -> np.ndarray:
    """A 3-channel output of a gray input, back to gray (float mean of the channels, no rounding)."""
    return image.astype(np.float64).mean(axis=2) if image.ndim == 3 else image


def engine_method(enhance: Callable[[np.ndarray], np.ndarray]) -> Method:
    """Wrap a BGR->BGR enhancer; gray inputs are replicated to BGR and the output averaged back."""

    def method(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
        if lr.ndim == 2:
            return as_gray(enhance(np.ascontiguousarray(np.repeat(lr[:, :, None], 3, axis=2))))
        return enhance(lr)

    return method


def evaluate(
    method: Method, method_name: str, images: list[tuple[str, np.ndarray]], set_name: str, scale: int
) -> SetResult:
    """Mean PSNR/SSIM (Y, shave ``scale``) of ``method`` on ``images`` under the protocol (LR made here)."""
    return evaluate_timed(method, method_name, images, set_name, scale, warmup=False)[0]


class Stopwatch:
    """Wall-clock and process CPU time of a ``with`` block, in ms (``wall_ms``, ``cpu_ms``).

    CPU time sums every thread of this process (torch, OpenCV, native kernels), so it is the cost of a call
    and, unlike wall time, hardly changes when other processes load the machine.
    """

    wall_ms: float = 0.0
    cpu_ms: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_ms = (time.perf_counter() - self._wall) * 1e3
        self.cpu_ms = (time.process_time() - self._cpu) * 1e3


@dataclass
class Timing:
    """Time of a method's calls on a set (the LR -> output call only, not the metrics), in milliseconds.

    Attributes:
        ms_median / cpu_ms_median: median wall / process-CPU time over the images.
        ms_per_image / cpu_ms_per_image: per image.
        input_hw: the input (LR) size of each image.
        warmup: whether one untimed call preceded the timed ones (first calls pay for allocation and tuning).
    """

    ms_median: float
    cpu_ms_median: float
    ms_per_image: dict[str, float]
    cpu_ms_per_image: dict[str, float]
    input_hw: dict[str, tuple[int, int]]
    warmup: bool

    @classmethod
    def from_watches(
        cls, watches: dict[str, Stopwatch], input_hw: dict[str, tuple[int, int]], warmup: bool
    ) -> Timing:
        """Medians and per-item times of finished stopwatches."""
        wall = {k: w.wall_ms for k, w in watches.items()}
        cpu = {k: w.cpu_ms for k, w in watches.items()}
        medians = float(np.median(list(wall.values()))), float(np.median(list(cpu.values())))
        return cls(*medians, wall, cpu, input_hw, warmup)

    @property
    def input_summary(self) -> str:
        """The input sizes (W x H) ordered by pixel count, e.g. ``5 inputs, 128x128 to 256x256, median 114x172``."""
        sizes = sorted(self.input_hw.values(), key=lambda hw: hw[0] * hw[1])
        if not sizes:
            return "no inputs"
        fmt = [f"{w}x{h}" for h, w in (sizes[0], sizes[len(sizes) // 2], sizes[-1])]
        return f"{len(sizes)} inputs, {fmt[0]} to {fmt[2]}, median {fmt[1]}"


def evaluate_timed(
    method: Method,
    method_name: str,
    images: list[tuple[str, np.ndarray]],
    set_name: str,
    scale: int,
    *,
    warmup: bool = True,
    progress: bool = False,
) -> tuple[SetResult, Timing]:
    """``evaluate`` (same numbers) that also times each call of ``method``.

    Args:
        warmup: run the method once, untimed, on the first image before measuring.
        progress: show a per-image progress bar.
    """
    psnrs: dict[str, float] = {}
    ssims, details = [], []
    watches: dict[str, Stopwatch] = {}
    sizes: dict[str, tuple[int, int]] = {}
    items = tqdm(images, desc=f"{method_name} {set_name} x{scale}", unit="img", leave=False) if progress else images
    for index, (name, image) in enumerate(items):
        hr = modcrop(image, scale)
        lr = native.resize(hr, (hr.shape[0] // scale, hr.shape[1] // scale))
        if warmup and index == 0:
            method(lr, hr.shape[:2])
        with Stopwatch() as watches[name]:
            sr = method(lr, hr.shape[:2])
        sizes[name] = lr.shape[:2]
        if sr.shape[:2] != hr.shape[:2]:
            raise ValueError(f"{method_name} returned {sr.shape[:2]} for {name}, expected {hr.shape[:2]}")
        psnrs[name] = round(psnr(sr, hr, border=scale), 4)
        ssims.append(ssim(sr, hr, border=scale))
        details.append(detail_ratio(sr, hr, border=scale))
    result = SetResult(
        set_name, scale, method_name, float(np.mean(list(psnrs.values()))), float(np.mean(ssims)), psnrs,
        float(np.mean(details)),
    )
    return result, Timing.from_watches(watches, sizes, warmup)


def time_method(method: Method, image: np.ndarray, out_hw: tuple[int, int], repeats: int = 3) -> tuple[float, float]:
    """(wall, CPU) median ms of ``method(image, out_hw)`` over ``repeats`` calls after one untimed warm-up call.

    Raises:
        ConfigError: ``repeats`` < 1.
    """
    if repeats < 1:
        raise ConfigError(f"repeats: expected >= 1, got {repeats!r}")
    method(image, out_hw)
    watches = []
    for _ in range(repeats):
        with Stopwatch() as watch:
            method(image, out_hw)
        watches.append(watch)
    return float(np.median([w.wall_ms for w in watches])), float(np.median([w.cpu_ms for w in watches]))
