"""Policy invariants: capacity as predicted, hysteresis, device failure, arrival/departure, registry."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from streamenhance.config import TIERS
from streamenhance.errors import ConfigError
from streamenhance.scheduler.costs import TableCost
from streamenhance.scheduler.planner import PlanOptions
from streamenhance.scheduler.policies.learned import LearnedPolicy
from streamenhance.scheduler.policy import Policy, make_policy, policy_names, register_policy
from streamenhance.scheduler.quality import quality_table
from streamenhance.scheduler.simulator import TrueCost
from streamenhance.scheduler.streams import Assignment, StreamInfo, StreamRequest
from streamenhance.scheduler.variants import LADDER

MIX = [(640, 360, 30.0, "off"), (854, 480, 30.0, "auto"), (1280, 720, 30.0, "off"), (1920, 1080, 60.0, "auto"),
       (640, 360, 60.0, "auto"), (1280, 720, 60.0, "off")]


def streams(n: int, seed: int = 0) -> list[StreamInfo]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        w, h, fps, mode = rng.choice(MIX)
        out.append(StreamInfo(f"s{i}", StreamRequest(w, h, fps, 2.0, mode)))
    return out


def apply(infos: list[StreamInfo], chosen: dict[str, Assignment], now: float = 0.0) -> int:
    changes = 0
    for info in infos:
        new = chosen[info.id]
        if info.assignment is not None and (info.assignment.tier, info.assignment.device) != (new.tier, new.device):
            changes += 1
            info.since = now
        info.assignment = new
    return changes


@pytest.fixture
def learned(trained, clock) -> LearnedPolicy:
    return LearnedPolicy(predictor=trained[0].clone(clock=clock), clock=clock, quality=quality_table())


def make(name: str, rig, clock, trained) -> Policy:
    kwargs: dict[str, object] = {"clock": clock, "rng": random.Random(0), "quality": quality_table()}
    if name == "learned":
        kwargs["predictor"] = trained[0].clone(clock=clock)
    elif name == "oracle":
        kwargs["true_costs"] = TrueCost(rig)
    elif name in ("offline_table", "round_robin", "least_loaded"):
        kwargs["table"] = TableCost(rig.profiles())
    return make_policy(name, **kwargs)


def test_registry_names_and_errors() -> None:
    assert set(policy_names()) == {"learned", "static_smallest", "static_largest", "greedy_flops", "round_robin",
                                   "least_loaded", "offline_table", "oracle"}
    with pytest.raises(ConfigError, match="expected one of"):
        make_policy("fastest")
    with pytest.raises(ConfigError, match="true_costs"):
        make_policy("oracle")
    with pytest.raises(ValueError, match="already registered"):

        @register_policy
        class Dup(Policy):  # noqa: F811
            name = "learned"

            def choose(self, streams, devices, predictor):  # type: ignore[no-untyped-def]
                return {}


@pytest.mark.parametrize("name", ["learned", "static_smallest", "static_largest", "greedy_flops", "round_robin",
                                  "least_loaded", "offline_table", "oracle"])
def test_every_policy_assigns_every_stream_and_replaces_after_failure(name, rig, clock, trained) -> None:
    policy = make(name, rig, clock, trained)
    assert policy.__doc__ and len(policy.__doc__) > 80  # algorithm and caveats are documented
    devices = rig.infos()
    infos = streams(24)
    apply(infos, policy.choose(infos, devices, None))
    assert {i.id for i in infos} == {i.id for i in infos if i.assignment is not None}
    assert all(i.assignment.tier in LADDER and i.assignment.device in {d.id for d in devices} for i in infos)
    failed = devices[-1].id
    alive = [d for d in devices if d.id != failed]
    policy.on_devices_changed(alive)
    apply(infos, policy.choose(infos, alive, None))
    assert all(i.assignment.device != failed for i in infos)


def test_learned_never_over_capacity_as_predicted(learned, rig) -> None:
    devices = rig.infos()
    for n in (8, 32, 64):
        infos = streams(n, seed=n)
        chosen = learned.choose(infos, devices, None)
        apply(infos, chosen)
        opts = learned.options
        util: dict[str, float] = {}
        for info in infos:
            plan = learned.planned(info.id)
            assert plan is not None and plan.tier == chosen[info.id].tier
            if not plan.over_capacity:
                assert plan.p95_ms <= info.deadline_ms * opts.margin + 1e-9
            else:
                assert plan.tier in ("bicubic", "tiny") and "over capacity" in chosen[info.id].reason
        # Independent check with the estimator itself at the final loads.
        cost = learned._cost
        assert cost is not None
        by_dev: dict[str, list[StreamInfo]] = {}
        for info in infos:
            by_dev.setdefault(info.assignment.device, []).append(info)
        dev = {d.id: d for d in devices}
        from streamenhance.scheduler.variants import macs_per_second

        for device_id, members in by_dev.items():
            own = np.array([macs_per_second(i.request, i.assignment.tier) for i in members])
            p50, p95 = cost.exact([i.request for i in members], [i.assignment.tier for i in members],
                                  [dev[device_id]] * len(members), np.full(len(members), len(members) - 1),
                                  own.sum() - own)
            for info, value in zip(members, p95 * learned.predictor.bias(device_id), strict=True):
                if not learned.planned(info.id).over_capacity:
                    assert value <= info.deadline_ms * opts.margin * 1.0001
            rows, owner = cost.exact_rows([i.request for i in members], [i.assignment.tier for i in members],
                                          [dev[device_id]] * len(members), np.zeros(len(members)),
                                          np.zeros(len(members)))
            fps = np.array([i.request.fps for i in members])[owner]
            util[device_id] = float(cost.predictor.predict_features(rows).utilisation(fps).sum())
        full = [d for d in util if not any(learned.planned(i.id).over_capacity for i in by_dev[d])]
        assert all(util[d] * learned.predictor.bias(d) <= opts.util_keep + 1e-6 for d in full)


def test_learned_places_arrivals_without_a_full_plan(learned, rig) -> None:
    """An arrival next to placed streams takes the fast path: the others keep their assignments, the
    newcomer meets its budget at the new load by the predictor's exact costs, and the full plan is left
    to the maintenance pass (``wants_rebalance``), which then clears it; departures alone change
    nobody's assignment."""
    devices = [d for d in rig.infos() if d.id.startswith("gpu-l")]
    infos = streams(6, seed=2)
    apply(infos, learned.choose(infos, devices, None))
    assert learned.wants_rebalance() is None
    before = {i.id: i.assignment for i in infos}
    infos.append(StreamInfo("new", StreamRequest(640, 360, 30.0)))
    chosen = learned.choose(infos, devices, None)
    assert all(chosen[k] is v for k, v in before.items())
    assert "placed on arrival" in chosen["new"].reason and learned.wants_rebalance()
    apply(infos, chosen)
    plan = learned.planned("new")
    assert plan is not None and plan.device == chosen["new"].device
    assert plan.p95_ms <= infos[-1].deadline_ms * learned.options.margin
    members = [i for i in infos if i.assignment.device == plan.device]
    for info in members:  # its neighbours were re-checked at the new load
        assert learned.planned(info.id).p95_ms <= info.deadline_ms * learned.options.margin * 1.0001
    apply(infos, learned.choose(infos, devices, None))  # the maintenance pass: full plan
    assert learned.wants_rebalance() is None
    gone = infos.pop(0)
    learned.on_stream_closed(gone.id)
    kept = {i.id: i.assignment for i in infos}
    chosen = learned.choose(infos, devices, None)
    assert chosen == kept and learned.wants_rebalance()


def test_learned_falls_back_to_a_full_plan_when_an_arrival_fits_nowhere(learned, rig) -> None:
    devices = [d for d in rig.infos() if d.id == "cpu-0"]
    infos = streams(1, seed=1)
    apply(infos, learned.choose(infos, devices, None))
    infos.append(StreamInfo("big", StreamRequest(1920, 1080, 60.0, 2.0, "auto")))
    chosen = learned.choose(infos, devices, None)
    assert "placed on arrival" not in chosen["big"].reason and learned.wants_rebalance() is None


def test_hysteresis_prevents_flapping(learned, rig, clock) -> None:
    devices = rig.infos()
    infos = streams(32, seed=5)
    apply(infos, learned.choose(infos, devices, None))
    changes = 0
    for _ in range(20):  # re-plans with nothing changed and the clock moving: stable
        clock.advance(1.0)
        changes += apply(infos, learned.choose(infos, devices, None), clock.now())
    assert changes == 0
    # Noisy observations around the predictions move the bias a little: still no switches.
    rng = np.random.default_rng(0)
    for _ in range(10):
        for info in infos:
            plan = learned.planned(info.id)
            for _ in range(3):
                learned.on_frame_done(info.id, plan.p50_ms * float(np.exp(rng.normal(0, 0.05))))
        clock.advance(1.0)
        changes += apply(infos, learned.choose(infos, devices, None), clock.now())
    assert changes <= 2


def test_upgrade_waits_for_cooldown(trained, rig, clock) -> None:
    options = PlanOptions(cooldown_s=30.0)
    policy = LearnedPolicy(predictor=trained[0].clone(clock=clock), clock=clock, quality=quality_table(),
                           options=options)
    device = [d for d in rig.infos() if d.id == "gpu-l-0"]
    crowd = [StreamInfo(f"c{i}", StreamRequest(854, 480, 30.0)) for i in range(24)]
    apply(crowd, policy.choose(crowd, device, None))
    low = [i for i in crowd if i.assignment.tier != TIERS[-1]]
    assert low, "the crowd should not all fit at the largest tier"
    survivors = low[:2]
    before = {i.id: i.assignment.tier for i in survivors}
    clock.advance(5.0)
    apply(survivors, policy.choose(survivors, device, None), clock.now())  # departures: no upgrade yet
    assert {i.id: i.assignment.tier for i in survivors} == before
    clock.advance(30.0)
    apply(survivors, policy.choose(survivors, device, None), clock.now())
    assert any(LADDER.index(i.assignment.tier) > LADDER.index(before[i.id]) for i in survivors)


def test_arrival_and_departure_replan(learned, rig, clock) -> None:
    devices = rig.infos()
    infos = streams(10, seed=2)
    apply(infos, learned.choose(infos, devices, None))
    newcomer = StreamInfo("new", StreamRequest(1280, 720, 30.0))
    infos.append(newcomer)
    chosen = learned.choose(infos, devices, None)
    assert "new" in chosen and chosen["new"].reason.startswith("learned:")
    infos.pop(0)
    learned.on_stream_closed("s0")
    assert "s0" not in learned.choose(infos, devices, None)


def test_deadline_misses_request_a_replan(learned, rig) -> None:
    infos = streams(4, seed=1)
    apply(infos, learned.choose(infos, rig.infos(), None))
    assert learned.wants_replan() is None
    learned.on_frame_done(infos[0].id, infos[0].deadline_ms * 2)
    assert "deadline misses" in (learned.wants_replan() or "")
    learned.choose(infos, rig.infos(), None)
    assert learned.wants_replan() is None


def test_device_loss_replans_and_learned_asks(learned, rig) -> None:
    infos = streams(6, seed=4)
    apply(infos, learned.choose(infos, rig.infos(), None))
    learned.on_devices_changed(rig.infos()[:2])
    assert learned.wants_replan() == "devices changed"


def test_static_and_greedy_baselines(rig, clock, trained) -> None:
    devices = rig.infos()
    infos = streams(10)
    small = make("static_smallest", rig, clock, trained).choose(infos, devices, None)
    large = make("static_largest", rig, clock, trained).choose(infos, devices, None)
    assert {a.tier for a in small.values()} == {"tiny"} and {a.tier for a in large.values()} == {"large"}
    counts = {d.id: sum(a.device == d.id for a in small.values()) for d in devices}
    assert max(counts.values()) - min(counts.values()) <= 1  # fewest-streams placement
    rr = make("round_robin", rig, clock, trained).choose(infos, devices, None)
    assert [rr[i.id].device for i in infos[: len(devices)]] == [d.id for d in devices]
    greedy = make("greedy_flops", rig, clock, trained).choose(infos, devices, None)
    assert any(a.tier != "tiny" for a in greedy.values())


def test_device_preference_is_honoured_when_it_fits(learned, rig) -> None:
    info = StreamInfo("p", replace(StreamRequest(640, 360, 30.0), device_preference="gpu-s"))
    assert learned.choose([info], rig.infos(), None)["p"].device == "gpu-s"


def test_learned_needs_a_predictor(clock) -> None:
    with pytest.raises(ConfigError, match="PerfPredictor"):
        LearnedPolicy(clock=clock).choose(streams(1), [], None)


def test_learned_retrains_only_when_asked(trained, rig, clock) -> None:
    """Retraining is opt-in (it made plans optimistic in the simulator); the bias still corrects."""
    calls: list[int] = []

    def counting(policy: LearnedPolicy) -> LearnedPolicy:
        assert policy.predictor is not None
        policy.predictor.maybe_retrain = lambda steps=150: calls.append(steps) or True  # type: ignore[method-assign]
        return policy

    quiet = counting(LearnedPolicy(predictor=trained[0].clone(clock=clock), clock=clock, quality=quality_table()))
    quiet.maintain()
    assert calls == [] and quiet.wants_replan() is None
    eager = counting(LearnedPolicy(predictor=trained[0].clone(clock=clock), clock=clock, quality=quality_table(),
                                   retrain=True))
    eager.maintain()
    assert calls == [150] and eager.wants_replan() == "predictor retrained"
