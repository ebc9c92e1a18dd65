"""PerfPredictor: offline training, held-out accuracy, safetensors round trip, online updates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamenhance.errors import ConfigError, WeightsError
from streamenhance.scheduler.clock import FakeClock
from streamenhance.scheduler.costs import stage_rows
from streamenhance.scheduler.dataset import holdout_split, profile_dataset, train_on_profiles, vocabulary_of
from streamenhance.scheduler.features import features
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.streams import StreamRequest
from streamenhance.scheduler.variants import LADDER


def _rows(predictor: PerfPredictor, rig, device_index: int = 3) -> np.ndarray:
    device = rig.infos()[device_index]
    return features(stage_rows(StreamRequest(1280, 720, 30.0), "small", device), predictor.vocabulary)


def test_fit_learns_the_profile(trained, rig) -> None:
    _predictor, report = trained
    assert report["train"]["within_10pct"] > 0.8
    assert report["rows"] == sum(len(p.rows) for p in rig.profiles())  # 96 measured rows + derived ones


def test_derived_profiles_teach_light_neighbours(rig, trained) -> None:
    """Derived devices also have rows with the neighbours at their frame rate, so three light 30 fps
    neighbours on a large accelerator cost about what the stream costs alone (a predictor that only
    saw back-to-back neighbours guessed 16x)."""
    from streamenhance.scheduler.costs import N_GRID, PredictorCost

    profiles = rig.profiles()
    assert all(any(r.others_fps > 0 for r in p.rows) for p in profiles if not p.device.measured)
    assert not any(r.others_fps > 0 for p in profiles if p.device.measured for r in p.rows)
    device = next(d for d in rig.infos() if d.id == "gpu-l-0")
    grid = PredictorCost(trained[0]).grid(StreamRequest(640, 360, 30.0), [device])
    three, tiny = int(np.searchsorted(N_GRID, 3)), LADDER.index("tiny")
    assert grid.p95[tiny, 0, three, 1] <= 1.5 * grid.p95[tiny, 0, 0, 0]


def test_holdout_split_keeps_every_group_in_test(rig) -> None:
    profiles = rig.profiles()
    _data, cells = profile_dataset(profiles, vocabulary_of(profiles))
    train, test = holdout_split(cells, 0.25, seed=3)
    assert set(train).isdisjoint(test) and len(train) + len(test) == len(cells)
    groups = {(cells[i].device, cells[i].colocated) for i in test}
    assert groups == {(c.device, c.colocated) for c in cells}  # co-located cells are held out too


def test_heldout_accuracy_reported(rig) -> None:
    _predictor, report = train_on_profiles(rig.profiles(), steps=150, holdout=0.25)
    test = report["test"]
    assert 0.0 <= test["within_10pct"] <= 1.0 and test["mape"] >= 0.0
    assert "test_colocated" in report and "held-out" in report["split"]


def test_save_load_round_trip(trained, rig, tmp_path: Path) -> None:
    predictor, _ = trained
    path = tmp_path / "predictor.safetensors"
    predictor.save(path, training={"note": "test"})
    loaded = PerfPredictor.load(path)
    x = _rows(predictor, rig)
    np.testing.assert_allclose(loaded.predict_features(x).p50_ms, predictor.predict_features(x).p50_ms, rtol=1e-5)
    assert loaded.training_info == {"note": "test"} and loaded.vocabulary == predictor.vocabulary


def test_load_rejects_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        PerfPredictor.load(tmp_path / "none.safetensors")
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "something-else"})
    with pytest.raises(WeightsError, match="format"):
        PerfPredictor.load(tmp_path / "other.safetensors")


def test_predict_rejects_wrong_width(trained) -> None:
    predictor, _ = trained
    with pytest.raises(ConfigError):
        predictor.predict_features(np.zeros((2, 3), dtype=np.float32))


def test_outputs_are_sane(trained, rig) -> None:
    predictor, _ = trained
    pred = predictor.predict_features(_rows(predictor, rig))
    assert np.all(pred.p95_ms >= pred.p50_ms) and np.all(pred.p50_ms > 0)
    assert np.all((pred.efficiency > 0) & (pred.efficiency <= 1)) and np.all(pred.memory_mb > 0)


def test_online_bias_and_retrain_on_drift(trained, rig) -> None:
    clock = FakeClock(0.0)
    predictor = trained[0].clone(clock=clock)
    predictor.min_retrain_interval_s = 10.0
    predictor.forget_tolerance = float("inf")  # this test is about the weights moving; the guard has its own
    x = _rows(predictor, rig)
    base = predictor.predict_features(x).p50_ms
    assert not predictor.needs_retrain()
    for _ in range(80):  # the device got 1.6x slower than predicted
        for row, p in zip(x, base, strict=True):
            predictor.observe(row, 1.6 * p, "gpu-l-0", float(p))
    assert predictor.bias("gpu-l-0") == pytest.approx(1.6, rel=0.02)
    assert predictor.bias("gpu-s") == 1.0
    biased = predictor.predict_features(x, ["gpu-l-0"] * len(x)).p50_ms
    np.testing.assert_allclose(biased, 1.6 * base, rtol=0.02)
    assert predictor.drift() > predictor.drift_threshold
    version = predictor.version
    clock.advance(20.0)
    assert predictor.maybe_retrain(steps=60)
    assert predictor.version == version + 1 and predictor.retrains == 1
    after = predictor.predict_features(x).p50_ms
    assert np.all(after > base)  # the weights moved toward what was observed
    assert predictor.bias("gpu-l-0") < 1.6  # ... and the bias, measured again, keeps only the rest
    corrected = predictor.predict_features(x, ["gpu-l-0"] * len(x)).p50_ms
    np.testing.assert_allclose(corrected, 1.6 * base, rtol=0.1)
    assert not predictor.maybe_retrain()  # not again before min_retrain_interval_s


def test_faster_than_predicted_is_believed_only_by_optimism(trained, rig) -> None:
    """Deadlines before quality: a slower device is corrected in full, a faster one by ``optimism``."""
    predictor = trained[0].clone(clock=FakeClock(0.0))
    assert predictor.optimism == 0.0  # default: the profile's latency is a floor
    predictor.optimism = 0.5
    x = _rows(predictor, rig)
    base = predictor.predict_features(x).p50_ms
    for _ in range(5):
        for row, p in zip(x, base, strict=True):
            predictor.observe(row, 0.64 * p, "gpu-l-0", float(p))  # 0.64x = exp(2 x log 0.8)
            predictor.observe(row, 1.5 * p, "gpu-s", float(p))
    assert predictor.bias("gpu-l-0") == pytest.approx(0.8, rel=0.02)
    assert predictor.bias("gpu-s") == pytest.approx(1.5, rel=0.02)
    assert predictor.clone().optimism == 0.5
    strict = trained[0].clone(clock=FakeClock(0.0))
    for _ in range(5):
        for row, p in zip(x, base, strict=True):
            strict.observe(row, 0.64 * p, "gpu-l-0", float(p))
    assert strict.bias("gpu-l-0") == 1.0
    with pytest.raises(ConfigError, match="optimism"):
        type(predictor)(predictor.vocabulary, optimism=1.5)


def test_retrain_that_forgets_the_profile_is_rolled_back(trained, rig) -> None:
    clock = FakeClock(0.0)
    predictor = trained[0].clone(clock=clock)
    predictor.forget_tolerance = 0.0
    x = _rows(predictor, rig)
    base = predictor.predict_features(x).p50_ms
    for _ in range(80):  # frames that contradict the profile for these rows by 5x
        for row, p in zip(x, base, strict=True):
            predictor.observe(row, 5.0 * p, "gpu-l-0", float(p))
    clock.advance(60.0)
    result = predictor.retrain(steps=60)
    assert result["rejected"] == 1.0 and predictor.rejected_retrains == 1
    assert result["offline_l1_after"] > result["offline_l1_before"]
    np.testing.assert_array_equal(predictor.predict_features(x).p50_ms, base)  # the old weights are back
    biased = predictor.predict_features(x, ["gpu-l-0"] * len(x)).p50_ms
    np.testing.assert_allclose(biased, 5.0 * base, rtol=0.05)  # the bias still corrects this device


def test_clone_is_independent(trained, rig) -> None:
    predictor = trained[0]
    copy = predictor.clone()
    x = _rows(predictor, rig)
    copy.observe(x[0], 1e3, "cpu-0", 1.0)
    assert predictor.state()["replay"] == 0 and copy.state()["replay"] == 1


# ---------------------------------------------------------------------- structure of CostNet


def _with_coload(x: np.ndarray, others: float, ratio: float) -> np.ndarray:
    from streamenhance.scheduler.features import set_coload

    out = x.copy()
    set_coload(out, np.full(len(out), others), np.full(len(out), ratio), 1.0)
    return out


def test_numpy_inference_matches_the_torch_forward(trained) -> None:
    """The fused NumPy path (standardisation folded into one first layer) computes what was trained."""
    import torch

    from streamenhance.scheduler.predictor import _forward_torch

    predictor = trained[0]
    x = predictor.offline.x
    standardised = torch.from_numpy((x - predictor.mean) / predictor.std)
    with torch.no_grad():
        expected = _forward_torch(predictor._net, predictor._inputs, standardised, torch.from_numpy(x))
    for got, want in zip(predictor._log_outputs(x), expected, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4)


def test_own_fps_and_empty_coload_do_not_change_latency(trained, rig) -> None:
    """A stage's latency does not depend on its own frame rate, and load without others (or others
    without load) slows nothing."""
    from streamenhance.scheduler.features import FPS

    predictor = trained[0]
    x = _rows(predictor, rig)
    base = predictor.predict_features(x).p50_ms
    fast = x.copy()
    fast[:, FPS] = 2.0
    np.testing.assert_allclose(predictor.predict_features(fast).p50_ms, base, rtol=1e-6)
    np.testing.assert_allclose(predictor.predict_features(_with_coload(x, 0, 4.0)).p50_ms, base, rtol=1e-6)
    np.testing.assert_allclose(predictor.predict_features(_with_coload(x, 3, 0.0)).p50_ms, base, rtol=1e-6)


def test_latency_rises_with_coload_and_saturates_at_the_count(trained, rig) -> None:
    """p50/p95 never fall as the others' load grows (the planner inverts the grid over it), and once
    every other stream is fully busy more demand changes nothing (back-to-back neighbours)."""
    from streamenhance.scheduler.features import SATURATING_RATIO

    predictor = trained[0]
    x = _rows(predictor, rig)
    ratios = [0.0, 0.02, 0.1, 0.5, 1.0, 4.0, 8.0, SATURATING_RATIO]
    p50 = np.stack([predictor.predict_features(_with_coload(x, 3, r)).p50_ms for r in ratios])
    p95 = np.stack([predictor.predict_features(_with_coload(x, 3, r)).p95_ms for r in ratios])
    assert np.all(np.diff(p50, axis=0) >= -1e-6 * p50[1:]) and np.all(np.diff(p95, axis=0) >= -1e-6 * p95[1:])
    assert np.all(p50[-1] > p50[0])
    beyond = predictor.predict_features(_with_coload(x, 3, 1e4)).p50_ms
    np.testing.assert_allclose(beyond, p50[-1], rtol=1e-6)


def test_predictions_stay_finite_on_extreme_rows(trained, rig) -> None:
    predictor = trained[0]
    x = _rows(predictor, rig)
    for others, ratio in ((0, 0.0), (32, 8.0), (1000, 1e9), (1, 1e-12)):
        pred = predictor.predict_features(_with_coload(x, others, ratio))
        for values in (pred.p50_ms, pred.p95_ms, pred.efficiency, pred.memory_mb):
            assert np.all(np.isfinite(values)) and np.all(values > 0)


def test_load_rejects_weights_of_the_plain_mlp(trained, tmp_path: Path) -> None:
    """Format /1 files (one plain MLP) are refused rather than loaded into the wrong network."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = tmp_path / "p.safetensors"
    trained[0].save(path)
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    save_file(tensors, str(path), metadata={**metadata, "format": "streamenhance-predictor/1"})
    with pytest.raises(WeightsError, match="format"):
        PerfPredictor.load(path)


def test_hidden_layers_required() -> None:
    with pytest.raises(ConfigError, match="hidden"):
        PerfPredictor(["cpu-test"], ())
