"""Fixtures of the evaluation tests: the peers folder, synthetic clips and a tiny fake data root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamenhance.evaluation.peers import default_peers_root
from streamenhance.io import write_image
from streamenhance.training.images import default_data_root


@pytest.fixture(scope="session")
def peers_root() -> Path:
    root = default_peers_root(default_data_root())
    if root is None:
        pytest.skip("peers folder (../shared/peers or $STREAMENHANCE_PEERS) not present")
    return root


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A deterministic BGR picture with edges and texture (gradients, stripes, a little noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 128 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0) + 40 * ((x // 8 + y // 8) % 2)
    channels = [base + 10 * c + rng.normal(0, 4, (h, w)) for c in range(3)]
    return np.clip(np.stack(channels, axis=2), 0, 255).round().astype(np.uint8)


def moving_frames(frames: int, h: int, w: int, step: int = 2) -> list[np.ndarray]:
    """A pan across a larger textured picture: frame t is shifted by t * step pixels."""
    canvas = textured(h, w + step * frames)
    return [np.ascontiguousarray(canvas[:, t * step : t * step + w]) for t in range(frames)]


def make_fake_data_root(root: Path) -> Path:
    """eval/ with two tiny Set5 images, a 3-frame 'calendar' and two gray 'Classic5' images."""
    write_image(root / "eval/Set5/HR/a.png", textured(48, 64, 1))
    write_image(root / "eval/Set5/HR/b.png", textured(40, 40, 2))
    for t, frame in enumerate(moving_frames(3, 48, 64)):
        write_image(root / f"eval/Vid4_calendar/frame_{t + 1:03d}.png", frame)
    for name, seed in (("g1", 3), ("g2", 4)):
        write_image(root / f"eval/Classic5/{name}.bmp", textured(32, 40, seed)[:, :, 1])
    return root


@pytest.fixture
def fake_data_root(tmp_path: Path) -> Path:
    return make_fake_data_root(tmp_path / "data")
