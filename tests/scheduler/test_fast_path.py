"""The fast path of ``learned`` (``Planner.place`` on the ``Roster`` kept between decisions): arrivals
placed next to the others, one device making room by stepping members down (deadlines before quality),
departures changing nobody, and the incremental state matching the stream list."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from streamenhance.config import TIERS
from streamenhance.scheduler.planner import FLOOR, _at_count, _room_tiers, _top_tier, invert
from streamenhance.scheduler.policies.learned import LearnedPolicy
from streamenhance.scheduler.quality import quality_table
from streamenhance.scheduler.streams import Assignment, StreamInfo, StreamRequest
from streamenhance.scheduler.variants import LADDER, macs_per_second

MIX = [(640, 360, 30.0, "off"), (854, 480, 30.0, "auto"), (1280, 720, 30.0, "off"), (1920, 1080, 30.0, "auto"),
       (640, 360, 60.0, "auto"), (1280, 720, 60.0, "off")]


@pytest.fixture
def learned(trained, clock) -> LearnedPolicy:
    return LearnedPolicy(predictor=trained[0].clone(clock=clock), clock=clock, quality=quality_table())


def apply(infos: list[StreamInfo], chosen: dict[str, Assignment]) -> None:
    for info in infos:
        info.assignment = chosen[info.id]


def assert_within_predicted_capacity(policy: LearnedPolicy, infos: list[StreamInfo], device_id: str,
                                     rig_devices: list) -> None:
    """Independent check with the estimator at the device's final load: every stream within its budget,
    the summed busy share within ``util_max``."""
    cost, opts = policy._cost, policy.options
    assert cost is not None and policy.predictor is not None
    device = next(d for d in rig_devices if d.id == device_id)
    members = [i for i in infos if i.assignment.device == device_id]
    n = len(members)
    requests, tiers = [i.request for i in members], [i.assignment.tier for i in members]
    own = np.array([macs_per_second(r, t) for r, t in zip(requests, tiers, strict=True)])
    bias = policy.predictor.bias(device_id)
    _p50, p95 = cost.exact(requests, tiers, [device] * n, np.full(n, n - 1), own.sum() - own)
    budgets = np.array([i.deadline_ms * opts.margin for i in members])
    assert np.all(p95 * bias <= budgets * 1.0001), (device_id, p95 * bias, budgets)
    rows, owner = cost.exact_rows(requests, tiers, [device] * n, np.zeros(n), np.zeros(n))
    fps = np.array([r.fps for r in requests])[owner]
    busy = np.minimum(cost.predictor.predict_features(rows).p50_ms * fps / 1e3, 1.0)
    assert busy.sum() * bias <= opts.util_max + 1e-6


# ---------------------------------------------------------------------- the make-room step itself


def test_room_tiers_steps_down_the_stream_whose_deadline_binds() -> None:
    """Member 0 would miss its budget at the new load; stepping it down wins that back for 0.3 dB.
    Member 1 frees more load per dB (the old rule's pick) but needs two steps (0.4 dB) to do it."""
    a = [[0.3, 0.35, 0.4], [0.1, 0.3, 0.5]]
    m = [[2.0, 1.5, 0.2], [3.0, 3.0, 3.0]]
    q = [[1.0, 1.3, 1.6], [1.0, 1.2, 1.4]]
    u = [[0.0] * 3] * 2
    tiers = _room_tiers(a, m, u, u, q, [2, 2], [0, 0], (0.1, 3.0, 0.0, 0.0), (0.7, 1.0))
    assert tiers == [1, 2]


def test_room_tiers_undoes_steps_a_later_one_made_unneeded() -> None:
    """Member 1 frees load cheaply but cannot fix member 0 (over budget at any load at its tier); once
    member 0 stepped down, member 1 gets its tier back: nobody ends lower than needed."""
    a = [[0.3, 0.35, 0.4], [0.1, 0.3, 0.5]]
    m = [[2.0, 1.5, -0.5], [3.0, 3.0, 3.0]]
    q = [[1.0, 1.3, 1.6], [1.0, 1.01, 1.02]]
    u = [[0.0] * 3] * 2
    assert _room_tiers(a, m, u, u, q, [2, 2], [0, 0], (0.1, 3.0, 0.0, 0.0), (0.7, 1.0)) == [1, 2]


def test_room_tiers_respects_utilisation_and_gives_up_when_nothing_is_left() -> None:
    a = [[0.1, 0.2, 0.3]] * 2
    m = [[5.0, 5.0, 5.0]] * 2
    u = [[0.1, 0.3, 0.5]] * 2
    q = [[1.0, 1.5, 2.0]] * 2
    tiers = _room_tiers(a, m, u, [[0.0] * 3] * 2, q, [2, 2], [0, 0], (0.1, 5.0, 0.1, 0.0), (0.7, 1.0))
    assert tiers is not None and 0.1 + sum(u[j][t] for j, t in enumerate(tiers)) <= 0.7
    assert sum(tiers) == 2  # two steps free 0.4 of utilisation: 1.1 -> 0.7
    assert _room_tiers(a, m, u, [[0.0] * 3] * 2, q, [2, 2], [0, 0], (0.1, 5.0, 0.6, 0.0), (0.7, 1.0)) is None


def test_top_tier_takes_the_highest_tier_that_fits_with_headroom() -> None:
    """Rungs: bicubic (never taken here: it is the full plan's last resort), then three network tiers."""
    a, m_up = [[0.01, 0.1, 0.2, 0.3]], [[2.0, 1.0, 0.8, 0.3]]  # one member: it tolerates 1.1 / 1.0 / 0.6
    zero = [[0.0] * 4]
    new = ([0.01, 0.1, 0.4, 0.9], [1.0] * 4, [0.0] * 4, [0.0] * 4)
    assert FLOOR == 1
    assert _top_tier(a, m_up, zero, zero, [1], new, (0.7, 1.0)) == 3  # 0.1 + 0.9 <= 1.1
    assert _top_tier(a, m_up, zero, zero, [2], new, (0.7, 1.0)) == 2  # 0.2 + 0.9 > 1.0, 0.2 + 0.4 fits
    assert _top_tier(a, m_up, zero, zero, [3], new, (0.7, 1.0)) == 1  # 0.3 + 0.4 > 0.6: the smallest only
    assert _top_tier(a, m_up, [[0.5] * 4], zero, [1], ([0.01, 0.1, 0.4, 0.9], [1.0] * 4, [0.0, 0.1, 0.2, 0.3],
                                                      [0.0] * 4), (0.7, 1.0)) == 2  # utilisation: 0.5 + 0.3 > 0.7


# ---------------------------------------------------------------------- the policy's fast path


def test_arrival_into_a_full_device_makes_room_instead_of_a_full_plan(learned, rig) -> None:
    """A 1080p arrival on a device whose three streams run above the smallest tier: they step down
    (same device, lower tiers only), the newcomer is placed, the device stays within predicted
    capacity, and the full plan is left to the maintenance pass."""
    devices = [d for d in rig.infos() if d.id == "gpu-l-0"]
    infos = [StreamInfo(f"s{i}", StreamRequest(854, 480, 30.0)) for i in range(3)]
    apply(infos, learned.choose(infos, devices, None))
    before = {i.id: i.assignment for i in infos}
    assert any(a.tier != TIERS[0] for a in before.values())
    infos.append(StreamInfo("big", StreamRequest(1920, 1080, 30.0, 2.0, "auto")))
    chosen = learned.choose(infos, devices, None)
    assert "to make room" in chosen["big"].reason and learned.wants_rebalance()
    stepped = [k for k, a in before.items() if chosen[k] is not a]
    assert stepped
    for k in stepped:
        assert chosen[k].device == before[k].device
        assert LADDER.index(chosen[k].tier) < LADDER.index(before[k].tier)
        assert "make room for big" in chosen[k].reason
    apply(infos, chosen)
    assert_within_predicted_capacity(learned, infos, "gpu-l-0", devices)
    for info in infos:  # what the policy says it predicted agrees
        plan = learned.planned(info.id)
        assert plan is not None and plan.tier == info.assignment.tier
        assert plan.p95_ms <= info.deadline_ms * learned.options.margin * 1.0001
    apply(infos, learned.choose(infos, devices, None))  # the maintenance pass
    assert learned.wants_rebalance() is None


def test_fast_path_over_many_arrivals_and_departures(learned, rig, clock) -> None:
    """The bench's trial (one departure, one arrival) repeated: departures change nobody; an arrival
    changes only its device, where others only step down and everyone stays within predicted capacity;
    the roster kept between decisions always equals one rebuilt from the stream list."""
    devices = rig.infos()
    rng = random.Random(3)

    def request() -> StreamRequest:
        w, h, fps, mode = rng.choice(MIX)
        return StreamRequest(w, h, fps, 2.0, mode)

    infos = [StreamInfo(f"s{i}", request()) for i in range(20)]
    apply(infos, learned.choose(infos, devices, None))
    fast = made_room = 0
    for trial in range(40):
        gone = infos.pop(rng.randrange(len(infos)))
        learned.on_stream_closed(gone.id)
        before = {i.id: i.assignment for i in infos}
        assert learned.choose(infos, devices, None) == before  # a departure alone changes nobody
        infos.append(StreamInfo(f"n{trial}", request(), since=clock.now()))
        chosen = learned.choose(infos, devices, None)
        if learned.wants_rebalance():
            fast += 1
            device = chosen[infos[-1].id].device
            for k, a in before.items():
                if chosen[k] is not a:
                    assert chosen[k].device == a.device == device
                    assert LADDER.index(chosen[k].tier) < LADDER.index(a.tier)
                    made_room += 1
            apply(infos, chosen)
            if not learned.planned(infos[-1].id).over_capacity:  # type: ignore[union-attr]
                assert_within_predicted_capacity(learned, infos, device, devices)
            assert_roster_matches(learned, infos, devices)
            if trial % 3 == 0:
                apply(infos, learned.choose(infos, devices, None))  # the maintenance pass, now and then
        else:
            apply(infos, chosen)
        clock.advance(1.0)
    assert fast >= 35 and made_room > 0  # (at 24 streams this rig runs out of utilisation: full plans)


def assert_roster_matches(policy: LearnedPolicy, infos: list[StreamInfo], devices: list) -> None:
    roster, planner = policy._roster, policy._planner
    assert roster is not None and planner is not None
    bank = planner.bank(devices)
    index = {d.id: i for i, d in enumerate(devices)}
    assert len(roster) == len(infos) and int((roster.dev >= 0).sum()) == len(infos)
    for info in infos:
        s = roster.slot[info.id]
        assert roster.ids[s] == info.id and roster.given[info.id] == (info.request, info.assignment)
        assert (int(roster.cfg[s]), int(roster.dev[s]), int(roster.tier[s])) == (
            planner.config_index(bank, info.request), index[info.assignment.device], LADDER.index(info.assignment.tier))


def test_a_stream_gone_without_close_forces_a_full_plan(learned, rig) -> None:
    """The roster would still count its load: the policy notices the stream list no longer matches."""
    devices = rig.infos()
    infos = [StreamInfo(f"s{i}", StreamRequest(640, 360, 30.0)) for i in range(6)]
    apply(infos, learned.choose(infos, devices, None))
    infos.pop(0)  # no on_stream_closed
    infos.append(StreamInfo("new", StreamRequest(640, 360, 30.0)))
    chosen = learned.choose(infos, devices, None)
    assert "placed on arrival" not in chosen["new"].reason and learned.wants_rebalance() is None
    apply(infos, chosen)
    assert_roster_matches(learned, infos, devices)


def test_switch_is_placed_again_on_the_fast_path(learned, rig) -> None:
    devices = rig.infos()
    infos = [StreamInfo(f"s{i}", StreamRequest(640, 360, 30.0)) for i in range(6)]
    apply(infos, learned.choose(infos, devices, None))
    infos[2].request = infos[2].request.with_size(1280, 720)
    chosen = learned.choose(infos, devices, None)
    assert "placed on arrival" in chosen["s2"].reason and learned.wants_rebalance()
    apply(infos, chosen)
    assert_roster_matches(learned, infos, devices)
    assert_within_predicted_capacity(learned, infos, chosen["s2"].device, devices)


# ---------------------------------------------------------------------- tolerances


def test_tolerance_stack_equals_the_inversion_at_each_count_and_bias(learned, rig) -> None:
    """Slices filled in one batch (and kept per device until its bias moves) equal the direct
    inversion of the device's grid at its count and bias."""
    devices = rig.infos()
    planner = learned._ensure(None)
    rng = random.Random(1)
    planner.warm([StreamInfo(f"w{i}", StreamRequest(*rng.choice(MIX)[:3])) for i in range(8)], devices)
    bank = planner.bank(devices)
    for counts, bias in (([0, 1, 3, 7, 40], [1.0, 1.0, 1.3, 0.9, 1.0]), ([2, 2, 0, 5, 1], [1.0, 1.2, 1.3, 1.0, 2.0])):
        keep, up = planner.tolerance_arrays(bank, np.array(counts), np.array(bias))
        for d, (k, b) in enumerate(zip(counts, bias, strict=True)):
            p95 = _at_count(bank.p95[:, :, d : d + 1], np.array([k]))[:, :, 0] * math.exp(round(math.log(b), 2))
            budget = np.broadcast_to(bank.budget[:, None], p95.shape[:2])
            np.testing.assert_allclose(keep[:, :, d], invert(p95, budget))
            np.testing.assert_allclose(up[:, :, d], invert(p95, budget * planner.options.upgrade_headroom))
