"""schedule-bench: the JSON shape on a tiny run, the decision-latency structure, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamenhance.cli.main import main
from streamenhance.scheduler.bench import POLICIES, WORKLOADS, BenchConfig, check_shape, markdown, run_bench
from tests.scheduler.conftest import synthetic_profile


@pytest.fixture(scope="module")
def profile_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("profile") / "profile.json"
    synthetic_profile().save(path)
    return path


@pytest.fixture(scope="module")
def tiny_result(profile_file: Path) -> dict:
    cfg = BenchConfig(profile=profile_file, duration_s=20.0, rate_per_s=0.5, predictor_steps=40, decision_trials=3,
                      progress=False)
    return run_bench(cfg)


def test_json_shape(tiny_result: dict) -> None:
    assert check_shape(tiny_result) == []
    assert set(tiny_result["workloads"]) == set(WORKLOADS)
    for policies in tiny_result["workloads"].values():
        assert set(policies) == set(POLICIES)
    assert isinstance(tiny_result["predictor"]["split"], str)
    json.dumps(tiny_result, default=float)  # serialisable
    assert "| learned |" in markdown(tiny_result)
    assert tiny_result["rig"][0]["measured"] is True
    assert set(tiny_result["quality"]["sources"].values()) <= {"placeholder"} | {
        v for v in tiny_result["quality"]["sources"].values() if v.startswith("weights:")}


def test_check_shape_catches_problems(tiny_result: dict) -> None:
    broken = json.loads(json.dumps(tiny_result, default=float))
    broken["workloads"]["steady"]["learned"]["on_time"] = 2.0
    del broken["decision_ms_p99_64_streams"]
    problems = check_shape(broken)
    assert any("on_time" in p for p in problems) and any("decision" in p for p in problems)


def test_cli_schedule_bench(tmp_path: Path, profile_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main(["schedule-bench", "--json", str(out), "--profile", str(profile_file), "--duration", "15",
                 "--steps", "30", "--decision-trials", "2", "--no-progress", "--workloads", "steady",
                 "--policies", "learned", "static_smallest", "--save-predictor", str(tmp_path / "p.safetensors")])
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data["workloads"]["steady"]) == {"learned", "static_smallest"}
    assert "| static_smallest |" in capsys.readouterr().out
    assert (tmp_path / "p.safetensors").exists()


def test_cli_lists_match_the_bench() -> None:
    from streamenhance.cli import schedule_cmd

    assert schedule_cmd.POLICIES == POLICIES and schedule_cmd.WORKLOADS == WORKLOADS


def test_cli_rejects_unknown_policy(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["schedule-bench", "--json", str(tmp_path / "x.json"), "--policies", "fastest"])


def test_real_mode_runs_each_policy_through_the_engine(no_leaked_threads) -> None:
    """Live streams (small, short) through the real Enhancer under learned and a static tier, same run."""
    from streamenhance.scheduler.bench import real_table
    from streamenhance.scheduler.realrun import run_real

    result = run_real(2, 1.0, (32, 24), 5.0, synthetic_profile(), steps=20,
                      policies=("learned", "static_smallest"))
    assert set(result["policies"]) == {"learned", "static_smallest"}
    for figures in result["policies"].values():
        assert figures["frames"] > 0 and 0.0 <= figures["on_time"] <= 1.0 and figures["mean_ms"] > 0
        assert set(figures["tiers"]) <= {"bicubic", "tiny", "small", "medium", "large"}
        assert figures["missed"] == round((1.0 - figures["on_time"]) * (figures["frames"] + figures["skipped"]))
        assert figures["mean_dpsnr"] >= 0.0
    assert result["policies"]["static_smallest"]["tiers"].keys() == {"tiny"}
    table = "\n".join(real_table(result))
    assert "| learned |" in table and "| static_smallest |" in table
