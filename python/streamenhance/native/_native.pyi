"""Type stubs of the compiled ``streamenhance._native`` (csrc/bindings). Use it through ``streamenhance.native``.

Array arguments are numpy arrays (CPU) or objects exposing ``__cuda_array_interface__`` (torch CUDA tensors,
cupy arrays), all of one call on the same device. Every op writes into ``dst``. ``stream`` is a CUDA stream
handle (0: the legacy default stream), ignored for CPU arrays. Wrong dtypes / non-arrays raise TypeError;
other invalid input raises ValueError; a CUDA array without a CUDA build or device raises RuntimeError.
"""

from typing import Any, Literal

__version__: str
MAX_SIDE: int

def build_info() -> dict[str, Any]: ...
def cuda_available() -> bool: ...
def cuda_device_count() -> int: ...
def set_num_threads(threads: int) -> None: ...
def get_num_threads() -> int: ...
def bgr_to_planar(src: Any, dst: Any, stream: int = 0) -> None: ...
def planar_to_bgr(src: Any, dst: Any, base: Any | None = None, stream: int = 0) -> None: ...
def resize(
    src: Any, dst: Any, method: Literal["bicubic", "area"] = "bicubic", antialias: bool = True, stream: int = 0
) -> None: ...
def nv12_to_bgr(
    y: Any, uv: Any, dst: Any, matrix: Literal["bt601", "bt709"] = "bt709", full_range: bool = False, stream: int = 0
) -> None: ...
def i420_to_bgr(
    y: Any,
    u: Any,
    v: Any,
    dst: Any,
    matrix: Literal["bt601", "bt709"] = "bt709",
    full_range: bool = False,
    stream: int = 0,
) -> None: ...
def _resize_taps(
    in_size: int, out_size: int, method: Literal["bicubic", "area"] = "bicubic", antialias: bool = True
) -> tuple[Any, Any]: ...
