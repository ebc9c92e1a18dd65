"""Enhancer: exact outputs with known weights, the fused path vs the torch reference, shapes, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from streamenhance import Enhancer, native
from streamenhance.config import output_size
from streamenhance.errors import ConfigError, FrameFormatError, FrameTypeError, WeightsError
from streamenhance.models import load_model
from streamenhance.native import reference


def frame(rng: np.random.Generator, height: int = 37, width: int = 53, channels: int = 3) -> np.ndarray:
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


# ------------------------------------------------------------------ exact results with known weights


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (37, 53), (64, 48)])
def test_identity_sr_equals_matlab_bicubic(identity_weights: Path, weights_env, rng, size) -> None:
    weights_env(identity_weights)
    image = frame(rng, *size)
    out = Enhancer(scale=2, mode="off", tier="tiny", device="cpu").enhance(image)
    expected = reference.planar_to_bgr(reference.resize(reference.bgr_to_planar(image), (2 * size[0], 2 * size[1])))
    np.testing.assert_array_equal(out, expected)


def test_weights_dir_may_be_a_string(identity_weights: Path, rng) -> None:
    frame = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    enhancer = Enhancer(scale=2, mode="off", tier="tiny", device="cpu", weights_dir=str(identity_weights))
    assert enhancer.enhance(frame).shape == (16, 20, 3)


@pytest.mark.parametrize("mode", ["mild", "strong"])
def test_identity_ar_at_scale_one_returns_the_input(identity_weights: Path, weights_env, rng, mode) -> None:
    weights_env(identity_weights)
    image = frame(rng, 31, 45)  # not a multiple of 4: exercises the internal padding
    out = Enhancer(scale=1, mode=mode, device="cpu").enhance(image)
    np.testing.assert_array_equal(out, image)


def test_scale_one_mode_off_is_lossless(identity_weights: Path, weights_env, rng) -> None:
    weights_env(identity_weights)
    image = frame(rng)
    np.testing.assert_array_equal(Enhancer(scale=1, mode="off", device="cpu").enhance(image), image)


def test_fused_path_matches_torch_reference(random_weights: Path, weights_env, rng) -> None:
    """Pack -> AR -> SR residual -> native base + pack equals the model's own torch forward (+-1 level)."""
    weights_env(random_weights)
    image = frame(rng, 40, 56)
    out = Enhancer(scale=2, mode="strong", tier="tiny", device="cpu").enhance(image)
    _, ar = load_model(random_weights / "ar_tiny_strong.safetensors")
    _, sr = load_model(random_weights / "sr_tiny_x2_mild.safetensors")
    with torch.no_grad():
        x = torch.from_numpy(reference.bgr_to_planar(image))
        expected = sr(ar(x).clamp(0, 1)).numpy()
    expected = reference.planar_to_bgr(expected)
    diff = np.abs(out.astype(int) - expected.astype(int))
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.01


# ------------------------------------------------------------------ sizes, scales, channels, strides


@pytest.mark.parametrize("scale", [1.0, 1.33, 1.5, 2.0, 4.0])
@pytest.mark.parametrize("size", [(1, 1), (7, 5), (36, 64)])
def test_output_sizes(identity_weights: Path, weights_env, rng, scale, size) -> None:
    weights_env(identity_weights)
    out = Enhancer(scale=scale, mode="strong", tier="tiny", device="cpu").enhance(frame(rng, *size))
    width, height = output_size(size[1], size[0], scale)
    assert out.shape == (height, width, 3) and out.dtype == np.uint8


def test_x4_uses_the_x4_net_when_installed(identity_weights: Path, weights_env, rng) -> None:
    weights_env(identity_weights)
    enhancer = Enhancer(scale=4, mode="off", tier="tiny", device="cpu")
    enhancer.enhance(frame(rng))
    assert enhancer.describe()["models"] == ["sr_tiny_x4_mild"]


def test_x4_falls_back_to_two_x2_passes(identity_weights: Path, weights_env, rng) -> None:
    (identity_weights / "sr_tiny_x4_mild.safetensors").unlink()
    weights_env(identity_weights)
    enhancer = Enhancer(scale=4, mode="off", tier="tiny", device="cpu")
    out = enhancer.enhance(frame(rng, 9, 11))
    assert out.shape == (36, 44, 3)
    assert enhancer.describe()["models"] == ["sr_tiny_x2_mild", "sr_tiny_x2_mild"]


def test_bgra_keeps_alpha_resized(identity_weights: Path, weights_env, rng) -> None:
    weights_env(identity_weights)
    image = frame(rng, 20, 30, channels=4)
    out = Enhancer(scale=2, mode="off", tier="tiny", device="cpu").enhance(image)
    assert out.shape == (40, 60, 4)
    np.testing.assert_array_equal(out[:, :, 3], reference.resize(np.ascontiguousarray(image[:, :, 3]), (40, 60)))
    bgr = Enhancer(scale=2, mode="off", tier="tiny", device="cpu").enhance(np.ascontiguousarray(image[:, :, :3]))
    np.testing.assert_array_equal(out[:, :, :3], bgr)


def test_row_padded_view_gives_the_same_result(identity_weights: Path, weights_env, rng) -> None:
    weights_env(identity_weights)
    big = frame(rng, 24, 40)
    view = big[:, :33]  # rows padded: strides (120, 3, 1)
    enhancer = Enhancer(scale=2, mode="strong", tier="tiny", device="cpu")
    np.testing.assert_array_equal(enhancer.enhance(view), enhancer.enhance(np.ascontiguousarray(view)))


def test_streams_are_independent(identity_weights: Path, weights_env, rng) -> None:
    weights_env(identity_weights)
    enhancer = Enhancer(scale=2, mode="auto", tier="tiny", device="cpu")
    a, b = enhancer.new_stream(), enhancer.new_stream()
    enhancer.process(frame(rng, 16, 16), a)
    enhancer.process(frame(rng, 16, 16), a)
    enhancer.process(frame(rng, 16, 16), b)
    assert (a.frames, b.frames) == (2, 1)
    assert enhancer.describe(a)["frames"] == 2


# ------------------------------------------------------------------ auto mode and model choice


@pytest.mark.parametrize(("kbps", "expected"), [(150, "strong"), (20000, "mild")])
def test_auto_mode_follows_the_bitrate_hint(identity_weights: Path, weights_env, rng, kbps, expected) -> None:
    weights_env(identity_weights)
    enhancer = Enhancer(scale=2, mode="auto", tier="tiny", device="cpu", bitrate_kbps=kbps, fps=30)
    enhancer.enhance(frame(rng, 360, 640))
    state = enhancer.describe()
    assert state["mode"] == expected
    assert "bits/pixel" in state["mode_reason"]
    assert state["models"] == [f"ar_tiny_{expected}", "sr_tiny_x2_mild"]


def test_auto_mode_without_hint_uses_the_frame(identity_weights: Path, weights_env, rng) -> None:
    weights_env(identity_weights)
    enhancer = Enhancer(scale=2, mode="auto", tier="tiny", device="cpu")
    enhancer.enhance(frame(rng, 64, 64))
    state = enhancer.describe()
    assert state["mode"] in ("mild", "strong")
    assert state["mode_reason"].startswith("no-reference")


def test_auto_tier_reports_its_reason(identity_weights: Path, weights_env, rng) -> None:
    weights_env(identity_weights)
    enhancer = Enhancer(scale=2, mode="off", tier="auto", device="cpu")
    enhancer.enhance(frame(rng))
    state = enhancer.describe()
    assert state["tier"] == "tiny" and state["tier_reason"]


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("bad", "error", "fragment"),
    [
        (np.zeros((8, 8, 3), np.float32), FrameTypeError, "got float32 array of shape (8, 8, 3)"),
        (np.zeros((2, 3), np.uint8), FrameFormatError, "got uint8 array of shape (2, 3)"),
        (np.zeros((4, 4, 5), np.uint8), FrameFormatError, "HxWx3 or HxWx4"),
        (np.zeros((0, 4, 3), np.uint8), FrameFormatError, "empty"),
        (np.zeros((4, 4, 3), np.uint8)[::-1], FrameFormatError, "negative strides"),
        (np.zeros((4, 8, 3), np.uint8)[:, ::2], FrameFormatError, "contiguous"),
        (np.zeros((4, 4, 3), np.uint8).transpose(1, 0, 2), FrameFormatError, "contiguous"),
        ([[1, 2, 3]], FrameTypeError, "got list"),
        (torch.zeros(4, 4, 3, dtype=torch.uint8), FrameTypeError, "CPU torch tensors"),
    ],
)
def test_bad_frames_raise_clear_errors(identity_weights: Path, weights_env, bad, error, fragment) -> None:
    weights_env(identity_weights)
    with pytest.raises(error, match=re.escape(fragment)):
        Enhancer(scale=2, mode="off", tier="tiny", device="cpu").enhance(bad)


def test_side_over_the_limit(identity_weights: Path, weights_env) -> None:
    weights_env(identity_weights)
    huge = np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), (1, 20000, 3), (0, 0, 1))
    with pytest.raises(FrameFormatError, match="<= 16384"):
        Enhancer(scale=2, mode="off", tier="tiny", device="cpu").enhance(huge)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"scale": 3.0}, "scale: expected one of 1, 1.33, 1.5, 2, 4"),
        ({"mode": "max"}, "mode: expected one of off, mild, strong, auto"),
        ({"tier": "huge"}, "tier: expected one of auto, bicubic, tiny"),
        ({"device": "gpu"}, "device: expected auto, cpu or cuda:N"),
        ({"bitrate_kbps": -1}, "bitrate_kbps"),
        ({"fps": 0}, "fps"),
    ],
)
def test_bad_options(identity_weights: Path, weights_env, kwargs, fragment) -> None:
    weights_env(identity_weights)
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        Enhancer(**{"device": "cpu", **kwargs})


def test_cuda_requested_without_gpu() -> None:
    if native.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="CUDA is not usable"):
        Enhancer(device="cuda:0")


def test_missing_tier_lists_installed(identity_weights: Path, weights_env) -> None:
    weights_env(identity_weights)
    with pytest.raises(WeightsError, match="installed tiers: tiny"):
        Enhancer(scale=2, tier="large", device="cpu")


def test_missing_weights_folder(tmp_path: Path, weights_env) -> None:
    weights_env(tmp_path / "nothing-here")
    with pytest.raises(WeightsError, match="no super-resolution weights"):
        Enhancer(scale=2, device="cpu")


def test_corrupt_weight_file(identity_weights: Path, weights_env) -> None:
    path = identity_weights / "sr_tiny_x2_mild.safetensors"
    path.write_bytes(path.read_bytes()[:200])
    weights_env(identity_weights)
    with pytest.raises(WeightsError, match="corrupt"):
        Enhancer(scale=2, tier="tiny", device="cpu")


# ------------------------------------------------------------------ the bicubic rung (no network)


@pytest.mark.parametrize("scale", [2, 1.5, 4])
def test_bicubic_tier_is_the_native_scaler_alone(random_weights: Path, weights_env, rng, scale) -> None:
    """Tier ``bicubic`` runs no network, even with artifact removal asked for: MATLAB bicubic of the input."""
    weights_env(random_weights)
    image = frame(rng, 30, 44)
    enhancer = Enhancer(scale=scale, mode="strong", tier="bicubic", device="cpu")
    out = enhancer.enhance(image)
    out_w, out_h = output_size(44, 30, scale)
    expected = reference.planar_to_bgr(reference.resize(reference.bgr_to_planar(image), (out_h, out_w)))
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
    info = enhancer.describe()
    assert info["tier"] == "bicubic" and info["models"] == [] and info["mode"] == "off"
    assert "no network" in info["mode_reason"]


def test_bicubic_tier_needs_no_weights(tmp_path: Path, weights_env, rng) -> None:
    weights_env(tmp_path)  # an empty weights folder
    out = Enhancer(scale=2, mode="off", tier="bicubic", device="cpu").enhance(frame(rng, 8, 8))
    assert out.shape == (16, 16, 3)
