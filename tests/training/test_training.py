"""Training pieces: degradation synthesis, samplers, the resumable loop, auto-mode fitting, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from streamenhance.cli.main import main
from streamenhance.models import load_model
from streamenhance.models.archs.sr_net import SRNet
from streamenhance.training.auto_mode import fit_logistic, fit_threshold
from streamenhance.training.degrade import clip_sequence, degrade, pan_zoom_sequence
from streamenhance.training.loop import LoopConfig, train
from streamenhance.training.samplers import SRPatchSampler, synthesize_ar_pairs


def textured(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    base = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(base, 8, 0), 8, 1)[:height, :width])


@pytest.mark.parametrize("shape", [(160, 170), (161, 400), (600, 180)])
def test_pan_zoom_views_stay_inside_any_image(shape: tuple[int, int]) -> None:
    """Zoomed pans never ask for a window outside the image, however small it is (regression)."""
    image = textured(np.random.default_rng(0), *shape)
    for seed in range(60):
        views = pan_zoom_sequence(image, 128, 6, np.random.default_rng(seed))
        assert len(views) == 6
        assert all(v.shape == (128, 128, 3) and v.dtype == np.uint8 for v in views)


def test_clip_window_is_consecutive_real_frames(rng) -> None:
    clip = [np.full((64, 80, 3), i, np.uint8) for i in range(10)]
    views = clip_sequence(clip, 32, 4, rng)
    values = [int(v[0, 0, 0]) for v in views]
    assert values == list(range(values[0], values[0] + 4))
    assert views[0].shape == (32, 32, 3)


def test_strong_degradation_spends_fewer_bits_and_loses_more(rng) -> None:
    image = textured(rng, 320, 320)
    clean = pan_zoom_sequence(image, 96, 4, np.random.default_rng(1))
    mild = degrade(clean, "mild", np.random.default_rng(2), jpeg_probability=0.0)
    strong = degrade(clean, "strong", np.random.default_rng(2), jpeg_probability=0.0)
    assert mild.codec.startswith("h264:crf=") and strong.codec.startswith("h264:crf=")
    assert 0 < strong.bits_per_pixel < mild.bits_per_pixel
    error = {name: np.mean([np.abs(d.astype(int) - c).mean() for d, c in zip(seq.degraded, clean, strict=True)])
             for name, seq in (("mild", mild), ("strong", strong))}
    assert error["strong"] > error["mild"] > 0


def test_ar_pairs_record_bits_per_pixel(rng) -> None:
    stills = [textured(rng, 200, 240)]
    pairs = synthesize_ar_pairs(stills, [], "strong", 2, rng, size=64, frames=3)
    assert pairs.degraded.shape == pairs.clean.shape == (6, 64, 64, 3)
    assert pairs.bits_per_pixel.shape == (6,) and (pairs.bits_per_pixel > 0).all()


def test_sr_patches_are_aligned_bicubic_pairs(rng) -> None:
    from streamenhance import native

    image = textured(rng, 100, 90)
    sampler = SRPatchSampler([image], 2)
    lr, hr = sampler.sample(4, 12, np.random.default_rng(3))
    assert lr.shape == (4, 3, 12, 12) and hr.shape == (4, 3, 24, 24)
    # Downscaling each HR patch again gives its LR patch away from the patch border.
    for i in range(4):
        hr_bgr = (hr[i].permute(1, 2, 0).numpy()[:, :, ::-1] * 255 + 0.5).astype(np.uint8)
        again = native.resize(np.ascontiguousarray(hr_bgr), (12, 12)).astype(int)
        lr_bgr = (lr[i].permute(1, 2, 0).numpy()[:, :, ::-1] * 255 + 0.5).astype(np.uint8).astype(int)
        assert np.abs(again[3:-3, 3:-3] - lr_bgr[3:-3, 3:-3]).max() <= 1


def test_fit_threshold_and_logistic_separate_classes() -> None:
    bpp = np.array([0.01, 0.02, 0.03, 0.2, 0.3, 0.4])
    strong = np.array([True, True, True, False, False, False])
    threshold, accuracy = fit_threshold(bpp, strong)
    assert 0.03 < threshold < 0.2 and accuracy == 1.0
    x = np.array([[1.0, v, 0.0] for v in (3.0, 2.5, 2.8, 1.0, 1.1, 0.9)])
    w = fit_logistic(x, strong.astype(np.float64))
    assert (((x @ w) > 0) == strong).all()


class _Interrupt(Exception):
    pass


def _tiny_problem(stop_at: int | None):
    torch.manual_seed(0)
    model = SRNet(scale=2, num_feat=4, num_rrdb=1, num_rdb=1, num_dense=2, growth=2)

    def sample(batch: int, patch: int, rng: np.random.Generator):
        if stop_at is not None and sample.calls == stop_at:
            raise _Interrupt
        sample.calls += 1
        lr = torch.from_numpy(rng.random((batch, 3, patch, patch), dtype=np.float32))
        return lr, torch.nn.functional.interpolate(lr, scale_factor=2, mode="nearest")

    sample.calls = 0

    def loss(m, batch):
        return torch.nn.functional.l1_loss(m(batch[0]), batch[1])

    return model, sample, loss


def test_resumed_training_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    config = LoopConfig(steps=6, batch=2, patch=8, checkpoint_every=1, validate_every=3)
    reference, sample, loss = _tiny_problem(None)
    result = train(reference, sample, loss, lambda m: {"v": 0.0}, config, tmp_path / "a.safetensors", "ref")
    assert [r["step"] for r in result.history] == [3.0, 6.0]

    interrupted, sample, loss = _tiny_problem(stop_at=4)
    with pytest.raises(_Interrupt):
        train(interrupted, sample, loss, lambda m: {"v": 0.0}, config, tmp_path / "b.safetensors", "cut")
    resumed, sample, loss = _tiny_problem(None)  # fresh process: new model, state from the checkpoint
    train(resumed, sample, loss, lambda m: {"v": 0.0}, config, tmp_path / "b.safetensors", "resume")
    assert sample.calls == 2  # only steps 5 and 6 ran again
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)


@pytest.mark.data
def test_train_cli_writes_loadable_weights_with_metadata(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sr.safetensors"
    code = main(["train", "sr", "--tier", "tiny", "--steps", "3", "--batch", "2", "--patch", "16",
                 "--out", str(out), "--run-dir", str(tmp_path / "run")])
    assert code == 0
    spec, model = load_model(out)
    assert (spec.kind, spec.tier, spec.scale) == ("sr", "tiny", 2)
    assert spec.training["steps"] == 3 and "MATLAB-bicubic" in spec.training["data"]
    assert "val_psnr_y" in spec.training["validation"]
    assert "wrote" in capsys.readouterr().out
