"""Shared fixtures: data location, CUDA/data skips, and small weight sets built in a temp folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from streamenhance import advice
from streamenhance.models import build_model, describe, save_model
from streamenhance.models.tiers import hyperparameters
from streamenhance.training.images import default_data_root


@pytest.fixture(autouse=True, scope="session")
def no_process_scheduler() -> Iterator[None]:
    """Enhancers in tests use the local tier rule: the process-wide scheduler (a background thread,
    a device micro-benchmark) is tested on its own (tests/scheduler, tests/engine/test_advisor.py).
    Session-wide, so enhancers built by session fixtures follow it too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(advice, "_default", [None])
        yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from streamenhance.engine.devices import cuda_usable

    has_cuda = cuda_usable()
    has_data = default_data_root() is not None
    for item in items:
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="no usable CUDA device"))
        if "data" in item.keywords and not has_data:
            item.add_marker(pytest.mark.skip(reason="../shared/data (or $STREAMENHANCE_DATA) not present"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = default_data_root()
    if root is None:
        pytest.skip("../shared/data (or $STREAMENHANCE_DATA) not present")
    return root


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def write_model(folder: Path, kind: str, tier: str, mode: str, scale: int = 2, zero_residual: bool = False) -> Path:
    """Save a freshly initialised ladder model (optionally with a zero residual: identity / pure bicubic)."""
    torch.manual_seed(0)
    arch, hp = hyperparameters(kind, tier, scale)
    model = build_model(arch, hp)
    if zero_residual:
        last = model.conv_up if kind == "sr" else model.tail
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
    spec = describe(model, arch, tier, mode, hp)
    path = folder / f"{spec.name}.safetensors"
    save_model(path, model, spec)
    return path


@pytest.fixture
def identity_weights(tmp_path: Path) -> Path:
    """Weights whose outputs are exactly known: AR = identity, SR = MATLAB bicubic."""
    for mode in ("mild", "strong"):
        write_model(tmp_path, "ar", "tiny", mode, zero_residual=True)
    write_model(tmp_path, "sr", "tiny", "mild", scale=2, zero_residual=True)
    write_model(tmp_path, "sr", "tiny", "mild", scale=4, zero_residual=True)
    return tmp_path


@pytest.fixture
def random_weights(tmp_path: Path) -> Path:
    """Untrained weights (non-zero residuals), for checking the fused path against the torch reference."""
    write_model(tmp_path, "ar", "tiny", "strong")
    write_model(tmp_path, "sr", "tiny", "mild", scale=2)
    return tmp_path


@pytest.fixture
def weights_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Point the engine at a weight folder for one test."""

    def use(folder: Path) -> None:
        monkeypatch.setenv("STREAMENHANCE_WEIGHTS_DIR", str(folder))

    return use
