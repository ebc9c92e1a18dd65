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


# --------------------------------------------------------------------------- SR on compressed input


def test_downscaled_degradation_pairs_decoded_lr_with_clean_hr(rng) -> None:
    from streamenhance.training.degrade import degrade_downscaled

    clean = pan_zoom_sequence(textured(rng, 320, 320), 64, 3, np.random.default_rng(1))
    sequence = degrade_downscaled(clean, 2, "strong", np.random.default_rng(2))
    assert [f.shape for f in sequence.degraded] == [(32, 32, 3)] * 3
    assert all(a is b for a, b in zip(sequence.clean, clean, strict=True))
    assert sequence.bits_per_pixel > 0
    with pytest.raises(ValueError, match="divisible by 4"):
        degrade_downscaled([f[:62] for f in clean], 2, "strong", rng)


def test_sr_pairs_are_compressed_lr_of_clean_hr(rng) -> None:
    from streamenhance import native
    from streamenhance.metrics import psnr
    from streamenhance.training.samplers import synthesize_sr_pairs

    pairs = synthesize_sr_pairs([textured(rng, 200, 240)], [], "strong", 2, rng, scale=2, hr_size=64, frames=3)
    assert pairs.decoded.shape == (6, 32, 32, 3) and pairs.hr.shape == (6, 64, 64, 3)
    for decoded, hr in zip(pairs.decoded, pairs.hr, strict=True):  # decoded LR ~ bicubic LR of the HR, with losses
        bicubic = native.resize(np.ascontiguousarray(hr), (32, 32))
        assert 12.0 < psnr(decoded, bicubic) < 60.0


def test_sampler_from_given_pairs_keeps_them_aligned(rng) -> None:
    lr = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    hr = np.repeat(np.repeat(lr, 2, 0), 2, 1)
    sampler = SRPatchSampler.from_pairs([(lr, hr)], 2)
    lows, highs = sampler.sample(4, 8, np.random.default_rng(0))
    assert lows.shape == (4, 3, 8, 8) and highs.shape == (4, 3, 16, 16)
    torch.testing.assert_close(torch.nn.functional.interpolate(lows, scale_factor=2, mode="nearest"), highs)
    with pytest.raises(ValueError, match="is not x2"):
        SRPatchSampler.from_pairs([(lr, hr[:-2])], 2)


def test_frozen_identity_ar_restores_frames_unchanged(rng) -> None:
    from streamenhance.models.archs.ar_net import ARNet
    from streamenhance.training.samplers import restore_frames

    model = ARNet(channels=4, num_blocks=1).eval()  # tail starts at zero: the identity
    frames = rng.integers(0, 256, (5, 30, 34, 3), dtype=np.uint8)  # not multiples of 4: padded like the engine
    np.testing.assert_array_equal(restore_frames(model, frames, batch=2), frames)


def _sr_strong_request(tmp_path: Path):
    from streamenhance.training import TrainRequest

    return TrainRequest(kind="sr", tier="tiny", mode="strong", scale=2, steps=2, batch=2, patch=16, lr=1e-3,
                        data=None, out=tmp_path / "sr_tiny_x2_strong.safetensors", run_dir=tmp_path / "run",
                        sequences=3, threads=1)


@pytest.mark.data
def test_sr_strong_recipe_trains_on_the_engines_ar_and_records_it(tmp_path: Path, weights_env) -> None:
    """The AR file the engine would run before SR tiny in mode strong is the one used and recorded."""
    from tests.conftest import write_model

    from streamenhance.training import run
    from streamenhance.training.recipes import file_sha256

    weights = tmp_path / "weights"
    ar_path = write_model(weights, "ar", "tiny", "strong")
    write_model(weights, "ar", "small", "strong")  # another tier: not the engine's choice for SR tiny
    write_model(weights, "ar", "tiny", "mild")
    weights_env(weights)
    spec, _ = run(_sr_strong_request(tmp_path))
    training = spec.training
    assert (spec.kind, spec.mode, spec.name) == ("sr", "strong", "sr_tiny_x2_strong")
    assert training["ar_weights"] == "ar_tiny_strong.safetensors"
    assert training["ar_sha256"] == file_sha256(ar_path)
    assert "restored by ar_tiny_strong.safetensors" in training["data"] and "T91" in training["data"]
    assert {"val_psnr_y", "val_gain_over_bicubic"} <= set(training["validation"])


@pytest.mark.data
def test_sr_strong_needs_installed_ar_strong_weights(tmp_path: Path, weights_env) -> None:
    from tests.conftest import write_model

    from streamenhance.errors import WeightsError
    from streamenhance.training import run

    write_model(tmp_path / "weights", "ar", "tiny", "mild")
    weights_env(tmp_path / "weights")
    with pytest.raises(WeightsError, match="mode 'strong'"):
        run(_sr_strong_request(tmp_path))


def test_train_sr_cli_accepts_the_mode() -> None:
    from streamenhance.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "sr", "--tier", "tiny"]).mode == "mild"
    assert parser.parse_args(["train", "sr", "--tier", "tiny", "--mode", "strong"]).mode == "strong"
