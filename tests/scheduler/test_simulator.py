"""Simulator: determinism with a seed, workload traces, interference fit, derived devices."""

from __future__ import annotations

import math

import pytest

from streamenhance.scheduler.quality import quality_table
from streamenhance.scheduler.simulator import fit_interference, generate_events, run_policy, standard_workloads
from tests.scheduler.conftest import synthetic_profile


def _untimed(summary: dict) -> dict:
    """A run's figures without the decision wall times (the only non-deterministic ones)."""
    return {k: v for k, v in summary.items()
            if not k.startswith("decision_ms") and not (isinstance(v, float) and math.isnan(v))}


def _static(**kwargs):  # type: ignore[no-untyped-def]
    from streamenhance.scheduler.policy import make_policy

    kwargs.pop("true_costs")
    return make_policy("static_smallest", **kwargs)


def test_same_seed_same_result(rig) -> None:
    spec = standard_workloads(duration_s=60.0, rate_per_s=0.5)["drift"]
    q = quality_table()
    a, b, c = (_untimed(run_policy(rig, spec, _static, seed=s, quality=q).summary()) for s in (7, 7, 8))
    assert a == b
    assert a != c


def test_learned_run_is_deterministic(rig, trained) -> None:
    from streamenhance.scheduler.policies.learned import LearnedPolicy

    def learned(*, clock, rng, true_costs):  # type: ignore[no-untyped-def]
        return LearnedPolicy(predictor=trained[0].clone(clock=clock), clock=clock, rng=rng, quality=quality_table())

    spec = standard_workloads(duration_s=40.0, rate_per_s=0.5)["steady"]
    a = run_policy(rig, spec, learned, seed=1, quality=quality_table()).summary()
    b = run_policy(rig, spec, learned, seed=1, quality=quality_table()).summary()
    for key in ("on_time", "mean_dpsnr", "streams_per_device", "migrations_per_hour", "tier_switches_per_hour"):
        assert a[key] == b[key]


def test_workload_traces_have_their_features() -> None:
    specs = standard_workloads(duration_s=1000.0, rate_per_s=0.2)
    steady = generate_events(specs["steady"], 0)
    crowd = generate_events(specs["flash_crowd"], 0)
    drift = generate_events(specs["drift"], 0)
    failure = generate_events(specs["failure"], 0)
    arrivals = lambda events, a, b: sum(1 for e in events if e.kind == "arrive" and a <= e.time < b)  # noqa: E731
    assert arrivals(crowd, 300, 450) > 2.5 * arrivals(steady, 300, 450)
    assert [e.kind for e in drift].count("neighbour") == 2 and any(e.kind == "switch" for e in drift)
    assert [(e.kind, e.device) for e in failure if e.kind == "fail"] == [("fail", "gpu-l-1")]
    assert all(a.time <= b.time for a, b in zip(steady, steady[1:]))
    fps = {e.request.fps for e in steady if e.request}
    sizes = {(e.request.width, e.request.height) for e in steady if e.request}
    assert fps == {30.0, 60.0} and len(sizes) == 4
    rates = [e.request.bitrate_kbps for e in steady if e.request]
    assert 1000 <= min(rates) and max(rates) <= 50000


def test_interference_fit_recovers_the_model() -> None:
    fit = fit_interference(synthetic_profile())
    assert fit.gamma == pytest.approx(0.8, abs=0.02) and fit.eta == pytest.approx(0.9, abs=0.02)
    assert fit.points == 9 * 4 * 2  # (bicubic + 2 kinds x 4 tiers) x 4 sizes x k = 2, 4


def test_rig_marks_measured_and_derived(rig) -> None:
    described = rig.describe()
    assert [d["measured"] for d in described] == [True, False, False, False, False]
    assert all(d["derivation"] for d in described)
    derived = rig.profiles()[-1]
    measured = rig.profiles()[0]
    ratio = measured.rows[0].p50_ms / (derived.rows[0].p50_ms - 0.2)
    assert math.isclose(ratio, 600.0, rel_tol=1e-6)


def test_failure_replaces_streams(rig) -> None:
    spec = standard_workloads(duration_s=120.0, rate_per_s=0.5)["failure"]
    seen: list[set[str]] = []

    def tracking(**kwargs):  # type: ignore[no-untyped-def]
        policy = _static(**kwargs)
        original = policy.choose

        def choose(streams, devices, predictor):  # type: ignore[no-untyped-def]
            out = original(streams, devices, predictor)
            seen.append({a.device for a in out.values()} - {d.id for d in devices})
            return out

        policy.choose = choose  # type: ignore[method-assign]
        return policy

    run_policy(rig, spec, tracking, seed=0, quality=quality_table())
    assert seen and all(not extra for extra in seen)  # never a stream on a missing device
