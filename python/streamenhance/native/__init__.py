"""Fused frame kernels (compiled ``streamenhance._native``) with output allocation and error mapping.

Every op takes the same kind of array it returns: numpy arrays run on the CPU; torch CUDA tensors and cupy
arrays run on their GPU, on the library's current stream unless ``stream`` is given; torch CPU tensors run
on the CPU through a zero-copy numpy view. Outputs are allocated on the input's device when ``out`` is
None. Exact semantics (the test oracle) live in :mod:`streamenhance.native.reference`.

The compiled module is optional at import time: when it is missing, :func:`available` is False,
:func:`unavailable_reason` keeps the import error, and every op raises ``NativeUnavailableError``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Literal

import numpy as np

from streamenhance.config import MAX_SIDE as _CONFIG_MAX_SIDE
from streamenhance.errors import ConfigError, FrameFormatError, FrameTypeError, NativeUnavailableError, WeightsError

__all__ = [
    "MAX_SIDE",
    "available",
    "bgr_to_planar",
    "build_info",
    "cuda_available",
    "cuda_device_count",
    "fused_sr",
    "fused_sr_isas",
    "fused_sr_net",
    "fused_sr_shape",
    "get_num_threads",
    "i420_to_bgr",
    "nv12_to_bgr",
    "planar_to_bgr",
    "resize",
    "set_num_threads",
    "unavailable_reason",
]

ResizeMethod = Literal["bicubic", "area"]
YuvMatrix = Literal["bt601", "bt709"]
FusedIsa = Literal["auto", "avx512", "avx2", "generic"]
# numpy.ndarray, torch.Tensor or cupy.ndarray (typed loosely: torch and cupy are optional imports).
Array = Any

_METHODS = ("bicubic", "area")
_MATRICES = ("bt601", "bt709")
_ISAS = ("auto", "avx512", "avx2", "generic")


def _load() -> tuple[ModuleType | None, str | None]:
    try:
        from streamenhance import _native as module
    except ImportError as exc:
        return None, (
            f"streamenhance._native could not be imported ({exc}); build it with `pip install -e .` "
            "(needs CMake and a C++17 compiler)"
        )
    return module, None


_native, _unavailable = _load()

#: Largest accepted side (height or width) of any input or output, in pixels.
MAX_SIDE: int = int(_native.MAX_SIDE) if _native is not None else _CONFIG_MAX_SIDE


def available() -> bool:
    """Whether the compiled module imported."""
    return _native is not None


def unavailable_reason() -> str | None:
    """Why the compiled module is missing (the import error), or None when it is available."""
    return _unavailable


def _module() -> ModuleType:
    if _native is None:
        raise NativeUnavailableError(_unavailable or "streamenhance._native is not available")
    return _native


# --------------------------------------------------------------------------------------------- module info


def build_info() -> dict[str, Any]:
    """What the compiled module was built with.

    Returns:
        ``version``, ``cuda_compiled`` (bool), ``cuda_runtime_version`` (str or None), ``cuda_archs`` (list of
        str), ``compiler``, ``cxx_flags``, ``build_type``, ``num_threads``, ``max_side``.

    Raises:
        NativeUnavailableError: the compiled module is missing.
    """
    return dict(_module().build_info())


def cuda_available() -> bool:
    """True when the CUDA kernels are compiled in and a GPU is usable now (False without the module)."""
    return _native is not None and bool(_native.cuda_available())


def cuda_device_count() -> int:
    """Usable CUDA devices as the native module sees them (0 without CUDA, driver, device or module)."""
    return int(_native.cuda_device_count()) if _native is not None else 0


def set_num_threads(threads: int) -> None:
    """Threads of the CPU kernels, the calling thread included (1..1024; default: all cores).

    Raises:
        ValueError: ``threads`` out of range.
        NativeUnavailableError: the compiled module is missing.
    """
    _module().set_num_threads(threads)


def get_num_threads() -> int:
    """Threads of the CPU kernels.

    Raises:
        NativeUnavailableError: the compiled module is missing.
    """
    return int(_module().get_num_threads())


# glibc's largest mmap threshold on 64-bit (a larger value is refused), and a trim threshold well above one 1080p
# frame's working set.
FREED_MEMORY_MMAP_THRESHOLD = 32 * 1024 * 1024
FREED_MEMORY_TRIM_THRESHOLD = 512 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Keep freed frame-sized blocks in the process heap instead of returning them to the kernel (glibc).

    Every frame allocates the same planes and activations again; with glibc's defaults they come back as fresh pages
    that fault in on first touch. Process-wide and idempotent; the process keeps its peak heap. Returns True when
    applied (False on another C library or without the module).
    """
    if _native is None:
        return False
    return bool(_native.keep_freed_memory(FREED_MEMORY_MMAP_THRESHOLD, FREED_MEMORY_TRIM_THRESHOLD))


# --------------------------------------------------------------------------------------------- array plumbing


def _kind(x: Any, name: str) -> str:
    """``numpy`` | ``torch`` (CUDA) | ``torch_cpu`` | ``cupy`` | ``cuda`` (another __cuda_array_interface__)."""
    if isinstance(x, np.ndarray):
        return "numpy"
    package = type(x).__module__.partition(".")[0]
    if package == "torch":
        torch = sys.modules["torch"]
        if isinstance(x, torch.Tensor):
            return "torch" if x.is_cuda else "torch_cpu"
    if package == "cupy":
        return "cupy"
    if hasattr(type(x), "__cuda_array_interface__"):
        return "cuda"
    got = f"{type(x).__module__}.{type(x).__qualname__}"
    raise FrameTypeError(f"`{name}`: expected a numpy.ndarray, torch.Tensor or cupy.ndarray, got {got}")


def _view(x: Any, kind: str) -> Any:
    """What the native module accepts: numpy arrays as they are, torch tensors without autograd."""
    if kind == "torch_cpu":
        return x.detach().numpy()
    if kind == "torch":
        return x.detach()
    return x


def _numpy_dtype(x: Any, kind: str) -> np.dtype[Any] | None:
    if kind in ("torch", "torch_cpu"):
        torch = sys.modules["torch"]
        table = {torch.uint8: np.uint8, torch.float16: np.float16, torch.float32: np.float32}
        found = table.get(x.dtype)
        return np.dtype(found) if found is not None else None
    try:
        return np.dtype(x.dtype)
    except (TypeError, AttributeError):
        return None


def _empty(like: Any, kind: str, shape: tuple[int, ...], dtype: np.dtype[Any], name: str) -> Any:
    """An uninitialised array of ``shape`` on ``like``'s device, of ``like``'s library."""
    if kind == "numpy":
        return np.empty(shape, dtype)
    if kind in ("torch", "torch_cpu"):
        torch = sys.modules["torch"]
        torch_dtype = {np.dtype(np.uint8): torch.uint8, np.dtype(np.float16): torch.float16}.get(dtype, torch.float32)
        return torch.empty(shape, dtype=torch_dtype, device=like.device)
    if kind == "cupy":
        import cupy  # only reached with a cupy input, so cupy is installed

        with like.device:
            return cupy.empty(shape, dtype)
    raise FrameTypeError(
        f"`{name}` is a {type(like).__qualname__}: pass `out=` (only numpy, torch and cupy outputs are allocated)"
    )


def _stream(x: Any, kind: str, stream: Any) -> int:
    """The CUDA stream handle to run on: explicit, else the current stream of ``x``'s library, else 0."""
    if stream is not None:
        for attribute in ("cuda_stream", "ptr"):  # torch.cuda.Stream, cupy.cuda.Stream
            if hasattr(stream, attribute):
                return int(getattr(stream, attribute))
        return int(stream)
    if kind == "torch":
        return int(sys.modules["torch"].cuda.current_stream(x.device).cuda_stream)
    if kind == "cupy":
        import cupy

        with x.device:
            return int(cupy.cuda.get_current_stream().ptr)
    return 0


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run a native op; its TypeError / ValueError become FrameTypeError / FrameFormatError."""
    try:
        function(*args, **kwargs)
    except TypeError as exc:
        raise FrameTypeError(str(exc)) from None
    except ValueError as exc:
        raise FrameFormatError(str(exc)) from None


def _check_sides(shape: tuple[int, ...], name: str) -> None:
    """Reject oversized inputs before allocating an output for them (a broadcast view can be huge)."""
    if any(side > MAX_SIDE for side in shape):
        raise FrameFormatError(f"`{name}`: every side must be at most {MAX_SIDE} (MAX_SIDE), got shape {tuple(shape)}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")


def _channels(channels: int) -> None:
    if channels not in (3, 4):
        raise ConfigError(f"channels: expected 3 or 4, got {channels!r}")


def _output(out: Any, like: Any, kind: str, name: str, shape: tuple[int, ...] | None, dtype: np.dtype[Any]) -> Any:
    """``out`` itself, or a new array like the input. ``shape`` is None for a malformed input: a 1-element
    placeholder is passed instead, so that the native checks report the input's problem, not the output's."""
    if out is not None:
        return out
    return _empty(like, kind, shape if shape is not None else (1, 1), dtype, name)


def _unwrap_out(out: Any, name: str = "out") -> Any:
    return _view(out, _kind(out, name))


# --------------------------------------------------------------------------------------------- ops


def bgr_to_planar(frame: Array, *, dtype: Any = np.float32, out: Array | None = None, stream: Any = None) -> Array:
    """BGR(A) uint8 frame -> RGB planar float in [0, 1].

    Args:
        frame: uint8 (H, W, 3) BGR or (H, W, 4) BGRA; pixels contiguous, rows may be padded (any row stride).
        dtype: ``np.float32`` or ``np.float16`` (ignored when ``out`` is given).
        out: (1, 3, H, W) float32/float16 C-contiguous array on the frame's device, or None to allocate.
        stream: CUDA stream (handle or torch/cupy stream object); default: the library's current stream.

    Returns:
        (1, 3, H, W) RGB planes, ``float32(v) / 255`` (float16: rounded to nearest even), of the frame's kind.

    Raises:
        FrameTypeError: not an array, or a dtype other than uint8 (output: float32/float16).
        FrameFormatError: shape, channels, size limits (MAX_SIDE), strides, read-only or overlapping output.
        NativeUnavailableError: the compiled module is missing.
    """
    native = _module()
    kind = _kind(frame, "frame")
    target = np.dtype(dtype)
    if target not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise FrameTypeError(f"dtype: expected float32 or float16, got {target}")
    shape = tuple(frame.shape)
    _check_sides(shape, "frame")
    planar_shape = (1, 3, shape[0], shape[1]) if len(shape) == 3 else None
    result = _output(out, frame, kind, "frame", planar_shape, target)
    _call(native.bgr_to_planar, _view(frame, kind), _unwrap_out(result), _stream(frame, kind, stream))
    return result


def planar_to_bgr(
    planar: Array, *, base: Array | None = None, channels: int = 3, out: Array | None = None, stream: Any = None
) -> Array:
    """RGB planar float (+ optional base) -> BGR(A) uint8 frame.

    Args:
        planar: float32/float16 (1, 3, H, W), C-contiguous, nominal range [0, 1].
        base: optional array of the same dtype and shape, added first (SR residual + bicubic base).
        channels: 3 (BGR) or 4 (BGRA, alpha 255); ignored when ``out`` is given.
        out: uint8 (H, W, 3|4) with contiguous pixels (any row stride), or None to allocate.
        stream: CUDA stream; default: the library's current stream.

    Returns:
        ``floor(clamp((planar + base) * 255 + 0.5, 0, 255))`` computed in float32; NaN -> 0, +inf -> 255.

    Raises:
        FrameTypeError: not an array, or a dtype other than float32/float16 (output: uint8), or mixed dtypes.
        FrameFormatError: shapes, strides, read-only or overlapping output.
        ConfigError: ``channels`` not 3 or 4.
        NativeUnavailableError: the compiled module is missing.
    """
    native = _module()
    _channels(channels)
    kind = _kind(planar, "planar")
    shape = tuple(planar.shape)
    _check_sides(shape, "planar")
    frame_shape = (shape[2], shape[3], channels) if len(shape) == 4 else None
    result = _output(out, planar, kind, "planar", frame_shape, np.dtype(np.uint8))
    base_view = None if base is None else _view(base, _kind(base, "base"))
    _call(native.planar_to_bgr, _view(planar, kind), _unwrap_out(result), base_view, _stream(planar, kind, stream))
    return result


def resize(
    image: Array,
    size_hw: tuple[int, int],
    *,
    method: ResizeMethod = "bicubic",
    antialias: bool = True,
    out: Array | None = None,
    stream: Any = None,
) -> Array:
    """MATLAB ``imresize`` of a uint8 image or of float planes to ``size_hw``.

    Args:
        image: uint8 (H, W) or (H, W, C) with C in 1..4 (contiguous pixels, any row stride; rounded after
            each pass like MATLAB), or float32/float16 (N, C, H, W) C-contiguous planes (summed in double,
            rounded once). Both are bit-exact with reference.resize.
        size_hw: output (height, width), each in 1..MAX_SIDE; up, down and non-integer ratios.
        method: ``"bicubic"`` (Keys a=-0.5) or ``"area"`` (box overlap).
        antialias: widen the bicubic kernel when shrinking (MATLAB's default).
        out: destination of the output shape and the input's dtype, or None to allocate.
        stream: CUDA stream; default: the library's current stream.

    Returns:
        The resized array, same dtype and kind as ``image``.

    Raises:
        FrameTypeError: not an array, or an unsupported / mismatched dtype.
        FrameFormatError: shapes, size limits, strides, read-only or overlapping output, bad ``size_hw``.
        ConfigError: unknown ``method``.
        NativeUnavailableError: the compiled module is missing.
    """
    native = _module()
    _choice("method", method, _METHODS)
    kind = _kind(image, "image")
    if (
        not isinstance(size_hw, (tuple, list))
        or len(size_hw) != 2
        or not all(isinstance(side, (int, np.integer)) and 1 <= side <= MAX_SIDE for side in size_hw)
    ):
        raise FrameFormatError(f"size_hw: expected (height, width) with sides in 1..{MAX_SIDE}, got {size_hw!r}")
    height, width = int(size_hw[0]), int(size_hw[1])
    shape = tuple(image.shape)
    _check_sides(shape, "image")
    dtype = _numpy_dtype(image, kind)
    out_shape: tuple[int, ...] | None = None
    if dtype == np.dtype(np.uint8) and len(shape) in (2, 3):
        out_shape = (height, width, *shape[2:])
    elif dtype in (np.dtype(np.float32), np.dtype(np.float16)) and len(shape) == 4:
        out_shape = (shape[0], shape[1], height, width)
    result = _output(out, image, kind, "image", out_shape, dtype if dtype is not None else np.dtype(np.uint8))
    _call(native.resize, _view(image, kind), _unwrap_out(result), method, bool(antialias), _stream(image, kind, stream))
    return result


def nv12_to_bgr(
    y: Array,
    uv: Array,
    *,
    matrix: YuvMatrix = "bt709",
    full_range: bool = False,
    channels: int = 3,
    out: Array | None = None,
    stream: Any = None,
) -> Array:
    """NV12 -> BGR(A) uint8 (14-bit fixed point, nearest chroma, as reference.nv12_to_bgr).

    Args:
        y: uint8 (H, W) luma, any row stride.
        uv: uint8 (ceil(H/2), ceil(W/2), 2) interleaved U, V; any row stride.
        matrix: ``"bt601"`` or ``"bt709"``.
        full_range: full (0..255) instead of video range (Y 16..235, C 16..240).
        channels: 3 (BGR) or 4 (BGRA, alpha 255); ignored when ``out`` is given.
        out: uint8 (H, W, 3|4), or None to allocate.
        stream: CUDA stream; default: the library's current stream.

    Returns:
        (H, W, channels) uint8 BGR(A) of the input's kind.

    Raises:
        FrameTypeError: not arrays, or not uint8.
        FrameFormatError: plane shapes, strides, read-only or overlapping output.
        ConfigError: unknown ``matrix`` or ``channels``.
        NativeUnavailableError: the compiled module is missing.
    """
    native = _module()
    _choice("matrix", matrix, _MATRICES)
    _channels(channels)
    kind = _kind(y, "y")
    shape = tuple(y.shape)
    _check_sides(shape, "y")
    result = _output(out, y, kind, "y", (*shape, channels) if len(shape) == 2 else None, np.dtype(np.uint8))
    _call(
        native.nv12_to_bgr,
        _view(y, kind),
        _view(uv, _kind(uv, "uv")),
        _unwrap_out(result),
        matrix,
        bool(full_range),
        _stream(y, kind, stream),
    )
    return result


def i420_to_bgr(
    y: Array,
    u: Array,
    v: Array,
    *,
    matrix: YuvMatrix = "bt709",
    full_range: bool = False,
    channels: int = 3,
    out: Array | None = None,
    stream: Any = None,
) -> Array:
    """I420 (yuv420p) -> BGR(A) uint8 (14-bit fixed point, nearest chroma, as reference.i420_to_bgr).

    Args:
        y: uint8 (H, W) luma, any row stride.
        u: uint8 (ceil(H/2), ceil(W/2)), any row stride.
        v: uint8 (ceil(H/2), ceil(W/2)), any row stride.
        matrix: ``"bt601"`` or ``"bt709"``.
        full_range: full (0..255) instead of video range.
        channels: 3 (BGR) or 4 (BGRA, alpha 255); ignored when ``out`` is given.
        out: uint8 (H, W, 3|4), or None to allocate.
        stream: CUDA stream; default: the library's current stream.

    Returns:
        (H, W, channels) uint8 BGR(A) of the input's kind.

    Raises:
        FrameTypeError: not arrays, or not uint8.
        FrameFormatError: plane shapes, strides, read-only or overlapping output.
        ConfigError: unknown ``matrix`` or ``channels``.
        NativeUnavailableError: the compiled module is missing.
    """
    native = _module()
    _choice("matrix", matrix, _MATRICES)
    _channels(channels)
    kind = _kind(y, "y")
    shape = tuple(y.shape)
    _check_sides(shape, "y")
    result = _output(out, y, kind, "y", (*shape, channels) if len(shape) == 2 else None, np.dtype(np.uint8))
    _call(
        native.i420_to_bgr,
        _view(y, kind),
        _view(u, _kind(u, "u")),
        _view(v, _kind(v, "v")),
        _unwrap_out(result),
        matrix,
        bool(full_range),
        _stream(y, kind, stream),
    )
    return result


# --------------------------------------------------------------------------------------------- fused SR network


def fused_sr_isas() -> list[str]:
    """The instruction sets :func:`fused_sr` can use on this CPU and build, fastest first (``avx512``,
    ``avx2``, ``generic``; ``isa="auto"`` picks the first); [] without the module."""
    return [str(name) for name in _native.fused_sr_isas()] if _native is not None else []


def fused_sr_shape() -> dict[str, int]:
    """``SRNet`` constructor arguments of the one network shape :func:`fused_sr` runs (tier tiny at x2).

    Raises:
        NativeUnavailableError: the compiled module is missing.
    """
    return {str(name): int(value) for name, value in _module().FusedSRNet.shape.items()}


def fused_sr_net(state_dict: Mapping[str, Any], *, isa: FusedIsa = "auto") -> Any:
    """Pack super-resolution weights once for :func:`fused_sr`.

    Args:
        state_dict: parameter name -> float32 array (numpy, or torch CPU tensors) of an ``SRNet`` of the
            shape :func:`fused_sr_shape` (tier ``tiny`` at x2), the only one the fused kernel implements.
        isa: the CPU path: ``"auto"`` (the first of :func:`fused_sr_isas`), ``"avx512"``, ``"avx2"`` or
            ``"generic"`` (portable C++). CUDA frames ignore it.

    Returns:
        An opaque packed network (``_native.FusedSRNet``; its ``isa`` says which path it runs).

    Raises:
        WeightsError: a missing or extra parameter, a shape other than the supported one, a non-float32 array.
        ConfigError: unknown ``isa``, or one this CPU or build does not support.
        NativeUnavailableError: the compiled module is missing.
    """
    native = _module()
    _choice("isa", isa, _ISAS)
    supported = fused_sr_isas()
    if isa != "auto" and isa not in supported:
        raise ConfigError(f"isa: {isa!r} is not supported by this CPU or build (supported: {', '.join(supported)})")
    arrays = {str(name): _host_array(value) for name, value in state_dict.items()}
    try:
        return native.FusedSRNet(arrays, isa)
    except (TypeError, ValueError) as exc:
        raise WeightsError(str(exc)) from None


def _host_array(value: Any) -> Any:
    """torch CPU tensors as zero-copy numpy views; anything else as it is (the native layer names the problem)."""
    if type(value).__module__.partition(".")[0] == "torch":
        torch = sys.modules["torch"]
        if isinstance(value, torch.Tensor) and value.device.type == "cpu":
            return value.detach().numpy()
    return value


def fused_sr(frame: Array, net: Any, *, out: Array | None = None, stream: Any = None) -> Array:
    """x2 super-resolution of a BGR(A) uint8 frame through a packed network, in one native pass.

    Computes what ``bgr_to_planar`` -> ``SRNet.residual`` -> ``planar_to_bgr(base=resize x2)`` compute, in fp32
    with another summation order (within one uint8 level of the PyTorch reference; the bicubic base is exact).
    numpy arrays (and torch CPU tensors) run on the CPU, on ``net.isa``'s path; torch CUDA tensors and cupy
    arrays run on their GPU (the same network, fp32, one kernel; bit-identical to the ``avx2`` / ``avx512`` CPU
    paths).

    Args:
        frame: uint8 (H, W, 3) BGR or (H, W, 4) BGRA; pixels contiguous, rows may be padded.
        net: a network from :func:`fused_sr_net` (one packed network serves the CPU and every GPU).
        out: uint8 (2H, 2W, 3|4) destination on the frame's device (any row stride; alpha written as 255), or
            None to allocate one with the frame's channel count.
        stream: CUDA stream (handle or torch/cupy stream object); default: the library's current stream.

    Returns:
        (2H, 2W, C) uint8 BGR(A), of the frame's kind.

    Raises:
        FrameTypeError: not an array, or not uint8.
        FrameFormatError: shape, channels, size limits, strides, read-only or overlapping output, arrays on
            different devices.
        RuntimeError: a CUDA array where _native has no CUDA or no GPU is usable, or a CUDA error.
        NativeUnavailableError: the compiled module is missing.
    """
    native = _module()
    kind = _kind(frame, "frame")
    shape = tuple(frame.shape)
    _check_sides(shape, "frame")
    out_shape = (2 * shape[0], 2 * shape[1], shape[2]) if len(shape) == 3 else None
    if out_shape is not None and max(out_shape[:2]) > MAX_SIDE:
        raise FrameFormatError(f"`frame`: x2 output sides must be at most {MAX_SIDE} (MAX_SIDE), got shape {shape}")
    result = _output(out, frame, kind, "frame", out_shape, np.dtype(np.uint8))
    _call(native.fused_sr, _view(frame, kind), net, _unwrap_out(result), _stream(frame, kind, stream))
    return result
