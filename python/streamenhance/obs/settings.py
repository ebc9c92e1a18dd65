"""The one table of OBS filter settings: it drives the OBS properties, the websocket input checks,
the ``streamenhance obs`` CLI flags and the docs.

The keys are the public control API: obs-websocket's ``SetSourceFilterSettings`` lands in the
filter's ``update`` callback with exactly these keys. Never rename one; add a key instead.
Defaults live only in this table (the native bridge receives it when it registers the filter and
uses it for ``get_defaults`` and ``get_properties``).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from streamenhance.config import MODES, TIERS, scale_ratio
from streamenhance.errors import ConfigError

SettingType = Literal["float", "int", "bool", "string"]

# Scales offered in OBS. 4x is left out on purpose: it is an offline option of the engine, far from
# real time on the machines OBS runs on.
FILTER_SCALES: tuple[float, ...] = (1.0, 1.33, 1.5, 2.0)
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda:\d+)$")
BITRATE_MAX_KBPS = 1_000_000


@dataclass(frozen=True)
class Choice:
    """One allowed value of a setting and the label OBS shows for it."""

    value: Any
    label: str


@dataclass(frozen=True)
class Setting:
    """One filter setting.

    Attributes:
        key: snake_case key used in OBS's settings JSON, obs-websocket and the CLI (``--key``).
        type: ``float``, ``int``, ``bool`` or ``string``.
        default: value used when the key is absent.
        label: short label in the OBS properties dialog.
        doc: one-sentence description (tooltip in OBS, CLI help, docs).
        choices: allowed values; empty = any value in ``minimum``..``maximum`` (numbers) or any
            value matching ``pattern`` (strings).
        editable: for strings with choices: the OBS combo box also accepts typed values that match
            ``pattern`` (used for ``cuda:N``).
        minimum / maximum / step: range of an ``int`` setting.
        pattern: regular expression a string value must match when it is not one of ``choices``.
        pattern_doc: how ``pattern`` reads in an error message.
        engine: changing the setting rebuilds the Enhancer (False for display-only settings).
    """

    key: str
    type: SettingType
    default: Any
    label: str
    doc: str
    choices: tuple[Choice, ...] = ()
    editable: bool = False
    minimum: int | None = None
    maximum: int | None = None
    step: int = 1
    pattern: str | None = None
    pattern_doc: str = ""
    engine: bool = True
    metavar: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ validation

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised to this setting's type, or raise ``ConfigError``.

        Raises:
            ConfigError: wrong type, not an allowed choice, or out of range. The message names the
                key and says what was expected and what arrived.
        """
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            raise ConfigError(f"{self.key}: expected true or false, got {value!r}")
        if self.type in ("float", "int"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{self.key}: expected a number, got {value!r}")
            if self.type == "float":
                return self._check_float(float(value))
            if float(value) != int(value):
                raise ConfigError(f"{self.key}: expected an integer, got {value!r}")
            number = int(value)
            if (self.minimum is not None and number < self.minimum) or (
                self.maximum is not None and number > self.maximum
            ):
                raise ConfigError(f"{self.key}: expected an integer in {self.minimum}..{self.maximum}, got {number}")
            return number
        if not isinstance(value, str):
            raise ConfigError(f"{self.key}: expected a string, got {value!r}")
        allowed = [c.value for c in self.choices]
        if value in allowed:
            return value
        if self.pattern is not None and re.fullmatch(self.pattern, value):
            return value
        expected = ", ".join(allowed) + (f" or {self.pattern_doc}" if self.pattern_doc else "")
        raise ConfigError(f"{self.key}: expected one of {expected}, got {value!r}")

    def _check_float(self, value: float) -> float:
        for choice in self.choices:
            if math.isclose(value, choice.value, abs_tol=1e-3):
                return float(choice.value)
        expected = ", ".join(f"{c.value:g}" for c in self.choices)
        raise ConfigError(f"{self.key}: expected one of {expected}, got {value:g}")

    def parse_text(self, text: str) -> Any:
        """Parse a CLI string into a checked value (``true/false/1/0/yes/no`` for booleans)."""
        if self.type == "bool":
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{self.key}: expected true or false, got {text!r}")
        if self.type in ("float", "int"):
            try:
                number = float(text)
            except ValueError:
                raise ConfigError(f"{self.key}: expected a number, got {text!r}") from None
            return self.check(number if self.type == "float" else (int(number) if number.is_integer() else number))
        return self.check(text)

    def describe_values(self) -> str:
        """Allowed values in words (CLI help and the docs table)."""
        if self.type == "bool":
            return "true, false"
        if self.type == "int":
            return f"integer {self.minimum}..{self.maximum}"
        values = [f"{c.value:g}" if self.type == "float" else str(c.value) for c in self.choices]
        if self.pattern_doc:
            values.append(self.pattern_doc)
        return ", ".join(values)

    def to_bridge(self) -> dict[str, Any]:
        """Plain-data form handed to the native bridge (it keeps no second copy of the table)."""
        return {
            "key": self.key,
            "type": self.type,
            "default": self.default,
            "label": self.label,
            "doc": self.doc,
            "choices": [(c.value, c.label) for c in self.choices],
            "editable": self.editable,
            "minimum": self.minimum if self.minimum is not None else 0,
            "maximum": self.maximum if self.maximum is not None else 0,
            "step": self.step,
        }


SETTINGS: tuple[Setting, ...] = (
    Setting(
        key="scale",
        type="float",
        default=2.0,
        label="Scale",
        doc="Output size / input size; 1 removes artifacts only.",
        choices=tuple(Choice(s, f"{s:g}x" + (" (4/3)" if s == 1.33 else "")) for s in FILTER_SCALES),
    ),
    Setting(
        key="mode",
        type="string",
        default="auto",
        label="Artifact removal",
        doc="Compression-artifact removal strength; auto picks it from bitrate_kbps or the picture.",
        choices=tuple(Choice(m, m) for m in ("auto", "off", "mild", "strong")),
    ),
    Setting(
        key="tier",
        type="string",
        default="auto",
        label="Model tier",
        doc="Super-resolution model size; auto takes the largest that keeps up on the device.",
        choices=(Choice("auto", "auto"), *(Choice(t, t) for t in TIERS)),
    ),
    Setting(
        key="device",
        type="string",
        default="auto",
        label="Device",
        doc="Where the models run: auto (a usable GPU, else the CPU), cpu or cuda:N.",
        choices=(Choice("auto", "auto"), Choice("cpu", "cpu")),
        editable=True,
        pattern=r"cuda:\d+",
        pattern_doc="cuda:N",
    ),
    Setting(
        key="bitrate_kbps",
        type="int",
        default=0,
        label="Input bitrate (kbps)",
        doc="Bitrate of the incoming stream for mode auto; 0 = unknown (estimated from the picture).",
        minimum=0,
        maximum=BITRATE_MAX_KBPS,
        step=100,
        metavar="KBPS",
    ),
    Setting(
        key="compare",
        type="bool",
        default=False,
        label="Compare (split screen)",
        doc="Show the input stretched on the left half and the enhanced picture on the right half.",
        engine=False,
    ),
)

SETTINGS_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
assert len(SETTINGS_BY_KEY) == len(SETTINGS), "duplicate setting key"  # internal invariant of the table

# The table and config.py must agree: every offered scale and tier is one the engine accepts.
for _scale in FILTER_SCALES:
    scale_ratio(_scale)
assert set(MODES) == {c.value for c in SETTINGS_BY_KEY["mode"].choices}, "mode choices out of sync with config.MODES"


@dataclass(frozen=True)
class FilterSettings:
    """Checked values of every setting (what the controller works with)."""

    scale: float = 2.0
    mode: str = "auto"
    tier: str = "auto"
    device: str = "auto"
    bitrate_kbps: int = 0
    compare: bool = False

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments of ``Enhancer`` for these settings."""
        return {
            "scale": self.scale,
            "mode": self.mode,
            "tier": self.tier,
            "device": self.device,
            "bitrate_kbps": self.bitrate_kbps,
        }

    def engine_key(self) -> tuple[Any, ...]:
        """Values whose change needs a new Enhancer."""
        return tuple(getattr(self, s.key) for s in SETTINGS if s.engine)

    def as_dict(self) -> dict[str, Any]:
        return {s.key: getattr(self, s.key) for s in SETTINGS}


assert set(FilterSettings.__dataclass_fields__) == set(SETTINGS_BY_KEY), "FilterSettings out of sync with SETTINGS"
assert FilterSettings().as_dict() == {s.key: s.default for s in SETTINGS}, "FilterSettings defaults out of sync"


def defaults() -> dict[str, Any]:
    """Every key with its default value."""
    return {s.key: s.default for s in SETTINGS}


def check_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a partial settings mapping (all-or-nothing); unknown keys are rejected.

    Used where a caller can be told about a mistake: the CLI before it sends a request.

    Raises:
        ConfigError: the first unknown key or invalid value.
    """
    checked: dict[str, Any] = {}
    for key, value in values.items():
        setting = SETTINGS_BY_KEY.get(key)
        if setting is None:
            raise ConfigError(f"unknown setting {key!r}: expected one of {', '.join(SETTINGS_BY_KEY)}")
        checked[key] = setting.check(value)
    return checked


def merge(current: FilterSettings, values: Mapping[str, Any]) -> tuple[FilterSettings, list[ConfigError]]:
    """Apply ``values`` (OBS's settings JSON) on top of the defaults, keeping ``current`` for bad keys.

    OBS hands ``update`` the full user settings object (absent keys = defaults), and cannot be told
    that a value is wrong, so each bad value keeps the previous good one and is reported.
    Unknown keys are ignored (OBS may keep keys of older versions).

    Returns:
        The new settings and one ``ConfigError`` per rejected value.
    """
    result = current.as_dict()
    errors: list[ConfigError] = []
    for setting in SETTINGS:
        raw = values.get(setting.key, setting.default)
        try:
            result[setting.key] = setting.check(raw)
        except ConfigError as exc:
            errors.append(exc)
    return FilterSettings(**result), errors


def bridge_table() -> list[dict[str, Any]]:
    """The table in the plain-data form the native bridge takes."""
    return [s.to_bridge() for s in SETTINGS]


# ---------------------------------------------------------------------- CLI


def cli_flag(setting: Setting) -> str:
    return "--" + setting.key.replace("_", "-")


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """One optional ``--key VALUE`` flag per setting (absent = leave unchanged / use the default)."""
    group = parser.add_argument_group("filter settings")
    for setting in SETTINGS:
        group.add_argument(
            cli_flag(setting),
            dest=f"setting_{setting.key}",
            default=None,
            metavar=_metavar(setting),
            help=f"{setting.doc} Values: {setting.describe_values()} (default {_format_value(setting.default)}).",
        )


def _metavar(setting: Setting) -> str:
    if setting.metavar:
        return setting.metavar
    if setting.type == "bool":
        return "{true,false}"
    values = [_format_value(c.value) for c in setting.choices]
    if setting.pattern_doc:
        values.append(setting.pattern_doc)
    return "{" + ",".join(values) + "}"


def cli_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, parsed and checked.

    Raises:
        ConfigError: a value is invalid (names the flag's key and the allowed values).
    """
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        text = getattr(args, f"setting_{setting.key}", None)
        if text is not None:
            values[setting.key] = setting.parse_text(text)
    return values


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ---------------------------------------------------------------------- docs


def markdown_table(rows: Iterable[Setting] = SETTINGS) -> str:
    """The settings as a Markdown table (docs/OBS.md embeds it; a test keeps it in sync)."""
    lines = ["| key | type | default | values | description |", "|---|---|---|---|---|"]
    for s in rows:
        lines.append(f"| `{s.key}` | {s.type} | `{_format_value(s.default)}` | {s.describe_values()} | {s.doc} |")
    return "\n".join(lines)
