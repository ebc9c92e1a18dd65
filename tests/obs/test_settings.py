"""The settings table drives the OBS properties, the websocket checks, the CLI flags and the docs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from streamenhance.config import MODES, TIERS, scale_ratio
from streamenhance.errors import ConfigError
from streamenhance.obs import settings as table
from streamenhance.obs.settings import SETTINGS, SETTINGS_BY_KEY, FilterSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "OBS.md"


# ---------------------------------------------------------------------- smoke


def test_keys_are_the_public_api() -> None:
    assert [s.key for s in SETTINGS] == ["scale", "mode", "tier", "device", "bitrate_kbps", "compare"]
    assert table.defaults() == {"scale": 2.0, "mode": "auto", "tier": "auto", "device": "auto", "bitrate_kbps": 0,
                                "compare": False}
    assert FilterSettings().as_dict() == table.defaults()


def test_choices_agree_with_config() -> None:
    assert {c.value for c in SETTINGS_BY_KEY["mode"].choices} == set(MODES)
    assert [c.value for c in SETTINGS_BY_KEY["tier"].choices] == ["auto", *TIERS]
    assert [c.value for c in SETTINGS_BY_KEY["scale"].choices] == [1.0, 1.33, 1.5, 2.0]
    for choice in SETTINGS_BY_KEY["scale"].choices:
        scale_ratio(choice.value)


# ---------------------------------------------------------------------- feature: one table, four uses


def test_bridge_table_is_the_table() -> None:
    """What the native bridge builds OBS properties and defaults from."""
    rows = table.bridge_table()
    assert [r["key"] for r in rows] == [s.key for s in SETTINGS]
    for row, setting in zip(rows, SETTINGS):
        assert row["type"] == setting.type and row["default"] == setting.default
        assert row["doc"] == setting.doc and row["label"] == setting.label
        assert [v for v, _ in row["choices"]] == [c.value for c in setting.choices]
        assert set(row) == {"key", "type", "default", "label", "doc", "choices", "editable", "minimum", "maximum",
                            "step"}
    assert next(r for r in rows if r["key"] == "device")["editable"] is True
    assert next(r for r in rows if r["key"] == "bitrate_kbps")["maximum"] == table.BITRATE_MAX_KBPS


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.key)
def test_every_choice_and_default_passes_its_own_check(setting: table.Setting) -> None:
    assert setting.check(setting.default) == setting.default
    for choice in setting.choices:
        assert setting.check(choice.value) == choice.value


def test_cli_flags_come_from_the_table() -> None:
    parser = argparse.ArgumentParser()
    table.add_cli_arguments(parser)
    flags = {a.option_strings[0] for a in parser._actions if a.option_strings and a.dest.startswith("setting_")}
    assert flags == {"--scale", "--mode", "--tier", "--device", "--bitrate-kbps", "--compare"}
    args = parser.parse_args(["--scale", "1.33", "--mode", "strong", "--device", "cuda:1", "--bitrate-kbps", "2500",
                              "--compare", "yes"])
    assert table.cli_values(args) == {"scale": 1.33, "mode": "strong", "device": "cuda:1", "bitrate_kbps": 2500,
                                      "compare": True}
    assert table.cli_values(parser.parse_args([])) == {}
    assert "{auto,off,mild,strong}" in parser.format_help()


def test_docs_embed_the_generated_table() -> None:
    assert table.markdown_table() in DOCS.read_text(), "regenerate the table in docs/OBS.md from settings.py"


# ---------------------------------------------------------------------- exception: checks name key, expected, got


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("scale", 3, "scale: expected one of 1, 1.33, 1.5, 2, got 3"),
        ("scale", "2", "scale: expected a number, got '2'"),
        ("scale", True, "scale: expected a number, got True"),
        ("mode", "max", "mode: expected one of auto, off, mild, strong, got 'max'"),
        ("tier", "huge", "tier: expected one of auto, tiny, small, medium, large, got 'huge'"),
        ("device", "gpu", "device: expected one of auto, cpu or cuda:N, got 'gpu'"),
        ("bitrate_kbps", -1, "bitrate_kbps: expected an integer in 0..1000000, got -1"),
        ("bitrate_kbps", 2.5, "bitrate_kbps: expected an integer, got 2.5"),
        ("compare", 1, "compare: expected true or false, got 1"),
    ],
)
def test_bad_values_are_rejected_with_a_clear_message(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        table.check_values({key: value})


def test_unknown_key_is_rejected_for_the_cli() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'scal'"):
        table.check_values({"scal": 2})


def test_cli_text_parsing_errors() -> None:
    with pytest.raises(ConfigError, match="scale: expected a number, got 'two'"):
        SETTINGS_BY_KEY["scale"].parse_text("two")
    with pytest.raises(ConfigError, match="compare: expected true or false, got 'maybe'"):
        SETTINGS_BY_KEY["compare"].parse_text("maybe")
    assert SETTINGS_BY_KEY["bitrate_kbps"].parse_text("3000") == 3000
    assert SETTINGS_BY_KEY["scale"].parse_text("1.5") == 1.5


# ---------------------------------------------------------------------- feature: websocket input (merge)


def test_merge_keeps_the_previous_value_for_bad_input_and_reports_it() -> None:
    current = FilterSettings(scale=1.5, mode="mild")
    merged, errors = table.merge(current, {"scale": 3, "mode": "strong", "old_key": 1})
    assert merged.scale == 1.5 and merged.mode == "strong"
    assert [str(e) for e in errors] == ["scale: expected one of 1, 1.33, 1.5, 2, got 3"]


def test_merge_fills_absent_keys_with_defaults() -> None:
    """OBS sends only user-set values; absent keys are the defaults (the user reset them)."""
    merged, errors = table.merge(FilterSettings(scale=1.5, compare=True), {"tier": "small"})
    assert errors == []
    assert merged == FilterSettings(tier="small")


def test_merge_accepts_ints_for_floats_and_near_values() -> None:
    merged, errors = table.merge(FilterSettings(), {"scale": 1, "bitrate_kbps": 3000.0})
    assert errors == [] and merged.scale == 1.0 and merged.bitrate_kbps == 3000
    assert table.merge(FilterSettings(), {"scale": 1.3301})[0].scale == 1.33  # same tolerance as config


def test_engine_key_ignores_display_only_settings() -> None:
    assert FilterSettings(compare=True).engine_key() == FilterSettings().engine_key()
    assert FilterSettings(tier="small").engine_key() != FilterSettings().engine_key()
