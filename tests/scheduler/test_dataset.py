"""Offline training data: back-to-back neighbours, per-device row weights, and what weights do."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from streamenhance.errors import ConfigError
from streamenhance.scheduler.dataset import (DEVICE_BALANCE, device_weights, holdout_split, profile_dataset,
                                             train_on_profiles, vocabulary_of)
from streamenhance.scheduler.features import RATIO, SATURATING_RATIO
from streamenhance.scheduler.predictor import Dataset, PerfPredictor, point_dataset


def test_device_weights_balance_devices() -> None:
    devices = ["big"] * 300 + ["small"] * 30
    w = device_weights(devices)
    assert w.mean() == pytest.approx(1.0)
    per_row = w[-1] / w[0]
    assert per_row == pytest.approx(10 ** DEVICE_BALANCE, rel=1e-5)  # (300 / 30) ** power
    equal = device_weights(devices, power=1.0)
    assert equal[:300].sum() == pytest.approx(equal[300:].sum())  # every device counts the same
    np.testing.assert_allclose(device_weights(devices, power=0.0), 1.0)
    assert device_weights([]).shape == (0,)


def test_profile_rows_are_weighted_per_device(rig) -> None:
    profiles = rig.profiles()
    data, cells = profile_dataset(profiles, vocabulary_of(profiles))
    devices = np.array([c.device for c in cells])
    totals = {d: float(data.weight[devices == d].sum()) for d in set(devices)}
    counts = {d: int((devices == d).sum()) for d in set(devices)}
    measured = next(p.device.id for p in profiles if p.device.measured)
    derived = max(counts, key=counts.get)
    assert counts[derived] > counts[measured]
    # Weighted, the measured device's share of the loss grows towards its fair share.
    assert totals[measured] / totals[derived] > counts[measured] / counts[derived]


def test_back_to_back_neighbours_do_not_encode_the_target(profile) -> None:
    """A co-located row measured back to back has the same features whatever its latency (the old
    encoding, the others' achieved rate 1e3 / p50, put the row's own target into its inputs)."""
    row = next(r for r in profile.rows if r.colocated > 1 and r.others_fps == 0)
    slow = replace(profile, rows=[row, replace(row, p50_ms=row.p50_ms * 3, p95_ms=row.p95_ms * 3)])
    data, _cells = profile_dataset([slow], vocabulary_of([slow]))
    np.testing.assert_array_equal(data.x[0], data.x[1])
    assert data.x[0, RATIO] == pytest.approx(SATURATING_RATIO)


def test_weights_decide_between_conflicting_rows(rig) -> None:
    """L1 with weights fits the weighted median: two rows with the same features and different
    latencies are pulled towards the heavier one."""
    profiles = rig.profiles()
    vocab = vocabulary_of(profiles)
    data, _ = profile_dataset(profiles, vocab)
    x = np.repeat(data.x[:1], 2, axis=0)
    base = float(np.exp(data.targets[0, 0]))
    pair = point_dataset(x, np.array([base, 2 * base]), np.array([base, 2 * base]))
    fits = []
    for weight in ([3.0, 1.0], [1.0, 3.0]):
        predictor = PerfPredictor(vocab, (16,), seed=0)
        predictor.fit(pair.weighted(np.array(weight)), steps=300)
        fits.append(float(predictor.predict_features(x[:1]).p50_ms[0]))
    assert fits[0] == pytest.approx(base, rel=0.05) and fits[1] == pytest.approx(2 * base, rel=0.05)


def test_dataset_weights_are_checked_and_carried() -> None:
    data = point_dataset(np.zeros((3, 2), dtype=np.float32), np.ones(3), np.ones(3))
    np.testing.assert_array_equal(data.weight, 1.0)
    weighted = data.weighted(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(weighted.subset(np.array([2, 0])).weight, [3.0, 1.0])
    np.testing.assert_array_equal(Dataset.concat([weighted, data]).weight, [1, 2, 3, 1, 1, 1])
    with pytest.raises(ConfigError, match="weights"):
        data.weighted(np.array([1.0, -1.0, 1.0]))


def test_heldout_cells_are_held_out_whole(rig) -> None:
    """Every row of a held-out cell is a test row (derived devices have several rows per cell, one
    per frame rate of the others), and training sees none of them."""
    profiles = rig.profiles()
    _data, cells = profile_dataset(profiles, vocabulary_of(profiles))
    train, test = holdout_split(cells, 0.25, seed=0)
    predictor, report = train_on_profiles(profiles, steps=20, holdout=0.25, seed=0)
    assert len(predictor.offline) == len(train) and report["test"]["rows"] == len(test)
    assert {cells[i] for i in train}.isdisjoint({cells[i] for i in test})
