"""The scheduler's ladder: the bicubic rung below the networks and the stages each rung runs."""

from __future__ import annotations

from streamenhance.config import TIERS
from streamenhance.scheduler.quality import quality_table
from streamenhance.scheduler.streams import StreamRequest
from streamenhance.scheduler.variants import BICUBIC_MACS_PER_PIXEL, LADDER, macs_per_second, pipeline


def test_the_ladder_is_bicubic_then_the_networks_cheapest_first() -> None:
    assert LADDER == ("bicubic", *TIERS)
    request = StreamRequest(1280, 720, 30.0, 2.0, "strong")
    demands = [macs_per_second(request, tier) for tier in LADDER]
    assert demands == sorted(demands) and len(set(demands)) == len(demands)


def test_the_bicubic_rung_is_one_scaler_stage_whatever_the_mode() -> None:
    for mode in ("off", "strong", "auto"):
        (stage,) = pipeline(StreamRequest(640, 360, 30.0, 2.0, mode), "bicubic")
        assert stage.variant.tier == "bicubic" and stage.variant.params == 0 and stage.variant.tier_index == -1
        assert stage.out_pixels == 1280 * 720
        assert stage.macs_per_frame == BICUBIC_MACS_PER_PIXEL * 1280 * 720
    assert [s.variant.kind for s in pipeline(StreamRequest(640, 360, 30.0, 2.0, "strong"), "tiny")] == ["ar", "sr"]
    (x4,) = pipeline(StreamRequest(320, 180, 30.0, 4.0, "off"), "bicubic")
    assert x4.out_pixels == 1280 * 720


def test_the_bicubic_rung_gains_nothing() -> None:
    table = quality_table()
    for mode in ("off", "strong"):
        request = StreamRequest(640, 360, 30.0, 2.0, mode)
        assert table.stream_gain(request, "bicubic") == 0.0 < table.stream_gain(request, "tiny")
