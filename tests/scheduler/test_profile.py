"""Profiles: JSON round trip, interpolation, and one real (tiny) measurement through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamenhance.cli.main import main
from streamenhance.errors import ConfigError
from streamenhance.scheduler.costs import ProfileTable, TableCost
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.profile import LADDER_NOTE, Profile, default_profile
from streamenhance.scheduler.streams import StreamRequest
from tests.scheduler.conftest import synthetic_profile


def test_round_trip(tmp_path: Path) -> None:
    profile = synthetic_profile()
    profile.save(tmp_path / "p.json")
    loaded = Profile.load(tmp_path / "p.json")
    assert loaded.rows == profile.rows and loaded.device == profile.device
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ConfigError, match="format"):
        Profile.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="unreadable"):
        Profile.load(tmp_path / "missing.json")


def test_interpolation_is_exact_on_measured_sizes_and_monotone() -> None:
    profile = synthetic_profile()
    table = ProfileTable(profile)
    row = next(r for r in profile.rows if r.kind == "sr" and r.tier == "small" and r.width == 854 and r.colocated == 1)
    assert table.solo("sr", "small", 854 * 480)[0] == pytest.approx(row.p50_ms)
    values = [table.solo("sr", "small", px)[0] for px in (320 * 180, 640 * 360, 1000 * 600, 2560 * 1440)]
    assert values == sorted(values)
    cost = TableCost([profile])
    p50, p95, util, mem = cost.solo(StreamRequest(1280, 720, 30.0, mode="auto"), "tiny", profile.device)
    assert p95 >= p50 > 0 and 0 < util <= 1 and mem > 0


def test_shipped_profile_is_documented() -> None:
    profile = default_profile()
    meta = profile.meta
    assert "regenerate" in meta and "streamenhance profile" in meta["regenerate"]
    assert any("H100" in note for note in meta["notes"])  # the GPU table still needs a GPU run
    assert {r.kind for r in profile.rows} == {"sr", "ar"}
    assert all(r.weights for r in profile.rows)


def test_profile_cli_measures_the_real_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "profile.json"
    code = main(["profile", "--json", str(out), "--kinds", "sr", "--tiers", "tiny", "--resolutions", "360p",
                 "--colocated", "1", "2", "--min-frames", "1", "--min-seconds", "0", "--max-seconds", "1",
                 "--no-progress", "--smoke"])
    assert code == 0
    profile = Profile.load(out)
    cells = [(r.kind, r.tier, r.width, r.colocated) for r in profile.rows]
    assert cells == [("sr", "tiny", 640, 1), ("sr", "tiny", 640, 2)]
    assert all(r.p50_ms > 0 and r.frames >= 1 for r in profile.rows)
    assert profile.meta["conditions"]["smoke"] is True and profile.meta["conditions"]["valid"] is False
    installed = profile.rows[0].weights
    assert installed == LADDER_NOTE or installed.startswith("shipped:")
    assert "NOT valid" in capsys.readouterr().out


def test_profile_cli_measures_the_bicubic_rung_and_updates_a_profile(tmp_path: Path) -> None:
    """``--tiers bicubic`` measures the native scaler as SR rows only (it runs no AR), and ``--update``
    adds them to an existing profile, replacing a cell measured again and recording the update."""
    out = tmp_path / "profile.json"
    args = ["--resolutions", "360p", "--colocated", "1", "--min-frames", "1", "--min-seconds", "0",
            "--max-seconds", "1", "--no-progress", "--smoke"]
    assert main(["profile", "--json", str(out), "--kinds", "sr", "--tiers", "tiny", *args]) == 0
    first = Profile.load(out)
    assert main(["profile", "--json", str(out), "--kinds", "sr", "ar", "--tiers", "bicubic", "tiny", "--update",
                 *args]) == 0
    profile = Profile.load(out)
    cells = sorted((r.kind, r.tier, r.width, r.colocated) for r in profile.rows)
    assert cells == [("ar", "tiny", 640, 1), ("sr", "bicubic", 640, 1), ("sr", "tiny", 640, 1)]
    bicubic = next(r for r in profile.rows if r.tier == "bicubic")
    assert bicubic.params == 0 and bicubic.macs_per_pixel > 0 and "no network" in bicubic.weights
    assert bicubic.p50_ms > 0
    assert profile.meta["created"] == first.meta["created"]  # the profile's own record stays
    (update,) = profile.meta["updates"]
    assert update["grid"]["tiers"] == ["bicubic", "tiny"] and update["device"]["kind"] == "cpu"
    # A predictor trained on the first version records first.stamp: the service must not take it as current.
    assert first.stamp == first.meta["created"] and profile.stamp != first.stamp


def test_a_profile_of_another_device_class_is_not_merged() -> None:
    profile = synthetic_profile()
    other = synthetic_profile()
    other.device = DeviceInfo(**{**other.device.as_dict(), "device_class": "cpu-other"})
    with pytest.raises(ConfigError, match="cpu-other"):
        profile.updated(other)
