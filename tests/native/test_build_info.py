"""build_info() describes the compiled module; CUDA queries answer without crashing on any machine."""

from __future__ import annotations

import importlib.metadata
import platform
import re
from types import ModuleType

import pytest
import torch

from streamenhance import native
from streamenhance.config import MAX_SIDE


def test_build_info_reports_what_was_compiled(ext: ModuleType) -> None:
    info = native.build_info()
    assert info["version"] == ext.__version__ == importlib.metadata.version("streamenhance")
    assert isinstance(info["cuda_compiled"], bool)
    if info["cuda_compiled"]:
        assert re.fullmatch(r"\d+\.\d+", info["cuda_runtime_version"])
        archs = info["cuda_archs"]
        assert archs and all(re.fullmatch(r"\d+[a-z]?(-real|-virtual)?", arch) for arch in archs)
    else:
        assert info["cuda_runtime_version"] is None
        assert info["cuda_archs"] == []
    assert info["compiler"]
    flags = info["cxx_flags"]
    assert "-ffp-contract=off" in flags and "-march=native" not in flags
    assert info["build_type"] in ("Release", "Debug", "RelWithDebInfo", "MinSizeRel")
    assert info["num_threads"] == native.get_num_threads() >= 1
    assert info["max_side"] == native.MAX_SIDE == MAX_SIDE


def test_cuda_queries_never_crash() -> None:
    available = native.cuda_available()
    count = native.cuda_device_count()
    assert isinstance(available, bool) and isinstance(count, int) and count >= 0
    assert available == (native.build_info()["cuda_compiled"] and count > 0)
    if not torch.cuda.is_available():  # this CI machine: no driver, no GPU
        assert available is False and count == 0


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc thresholds are a glibc setting")
def test_freed_frame_buffers_stay_in_the_heap_on_glibc() -> None:
    assert native.keep_freed_memory() is True
    assert native.keep_freed_memory() is True  # idempotent


def test_an_enhancer_keeps_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamenhance import Enhancer

    calls: list[bool] = []
    monkeypatch.setattr(native, "keep_freed_memory", lambda: calls.append(True) or True)
    Enhancer(scale=2, mode="off", tier="bicubic", device="cpu", advisor=None)
    assert calls == [True]
