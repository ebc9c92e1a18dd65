"""``streamenhance obs ...``: install the OBS script, and drive the filter over obs-websocket.

Connection: ``--host/--port/--password`` or ``OBS_WEBSOCKET_HOST/PORT/PASSWORD`` (prefer the
environment variable for the password: command lines are visible to other users). The password is
never printed or logged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_FILTER_NAME = "streamenhance"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from streamenhance.obs import settings as table

    obs = subparsers.add_parser(
        "obs",
        help="OBS Studio filter: install the script, add/configure/inspect filters over obs-websocket",
        description="Install the streamenhance OBS script and control its filter through obs-websocket (v5).",
    )
    commands = obs.add_subparsers(dest="obs_command", required=True, metavar="OBS_COMMAND")

    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("obs-websocket connection")
    group.add_argument("--host", default=None, help="OBS host (default $OBS_WEBSOCKET_HOST or localhost)")
    group.add_argument("--port", default=None, help="websocket port (default $OBS_WEBSOCKET_PORT or 4455)")
    group.add_argument(
        "--password", default=None, help="websocket password (default $OBS_WEBSOCKET_PASSWORD; prefer the variable)"
    )
    group.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10)")

    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--source", required=True, help="name of the source (or scene) the filter is on")
    target.add_argument("--name", default=DEFAULT_FILTER_NAME, help=f"filter name (default {DEFAULT_FILTER_NAME})")

    p = commands.add_parser(
        "install", help="make OBS autoload the streamenhance script (OBS must not be running)",
        description="Copy the OBS script and a description of this Python environment into OBS's "
        "configuration and add the script to every scene collection.",
    )
    p.add_argument("--config-dir", type=Path, default=None, help="OBS config dir (default ~/.config/obs-studio)")
    p.add_argument("--script", type=Path, default=None, help="OBS script to install (default: the project's)")
    p.set_defaults(func=_install)

    p = commands.add_parser("add-filter", parents=[connection, target], help="add the filter to a source")
    table.add_cli_arguments(p)
    p.set_defaults(func=_add_filter)

    p = commands.add_parser("set", parents=[connection, target], help="change settings of a filter")
    table.add_cli_arguments(p)
    p.set_defaults(func=_set)

    p = commands.add_parser("status", parents=[connection], help="runtime numbers of the filters (vendor GetStatus)")
    p.add_argument("--source", default=None, help="only filters on this source")
    p.add_argument("--name", default=None, help="only filters with this name")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    p.set_defaults(func=_status)

    p = commands.add_parser("devices", parents=[connection], help="devices the filter can run on (vendor ListDevices)")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    p.set_defaults(func=_devices)

    p = commands.add_parser("remove", parents=[connection, target], help="remove a filter from a source")
    p.set_defaults(func=_remove)

    p = commands.add_parser("screenshot", parents=[connection], help="save a PNG of a scene (after filters)")
    p.add_argument("--scene", required=True, help="scene (or source) to capture")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    p.set_defaults(func=_screenshot)


# ---------------------------------------------------------------------- commands


def _install(args: argparse.Namespace) -> int:
    from streamenhance.obs.install import install

    result = install(args.config_dir, args.script)
    print(f"installed {result.script}")
    print(f"environment described in {result.env_file}")
    for collection in result.collections:
        print(f"autoloads in scene collection {collection.stem}")
    print("start OBS: the filter 'streamenhance' appears in every source's Filters > Effect Filters")
    return 0


def _add_filter(args: argparse.Namespace) -> int:
    from streamenhance.obs.settings import cli_values
    from streamenhance.obs.websocket import FILTER_KIND, ObsRequestError

    values = cli_values(args)
    with _client(args) as client:
        try:
            client.call("GetSourceFilterDefaultSettings", filterKind=FILTER_KIND)
        except ObsRequestError:
            raise ObsRequestError(
                "add-filter", None, f"OBS has no filter type {FILTER_KIND!r}: is the streamenhance script loaded "
                "(Tools > Scripts, or `streamenhance obs install`)?"
            ) from None
        client.call(
            "CreateSourceFilter", sourceName=args.source, filterName=args.name, filterKind=FILTER_KIND,
            filterSettings=values,
        )
        settings = client.call("GetSourceFilter", sourceName=args.source, filterName=args.name)["filterSettings"]
    print(f"added filter {args.name!r} to {args.source!r}: {_format_settings(settings)}")
    return 0


def _set(args: argparse.Namespace) -> int:
    from streamenhance.errors import ConfigError
    from streamenhance.obs.settings import cli_values
    from streamenhance.obs.websocket import FILTER_KIND, ObsRequestError

    values = cli_values(args)
    if not values:
        raise ConfigError("set: expected at least one setting flag (e.g. --scale 2), got none")
    with _client(args) as client:
        info = client.call("GetSourceFilter", sourceName=args.source, filterName=args.name)
        if info.get("filterKind") != FILTER_KIND:
            kind = info.get("filterKind")
            what = f"filter {args.name!r} on {args.source!r} is a {kind!r}, not a {FILTER_KIND!r}"
            raise ObsRequestError("set", None, what)
        client.call("SetSourceFilterSettings", sourceName=args.source, filterName=args.name, filterSettings=values,
                    overlay=True)
        settings = client.call("GetSourceFilter", sourceName=args.source, filterName=args.name)["filterSettings"]
    print(f"{args.name!r} on {args.source!r}: {_format_settings(settings)}")
    return 0


def _status(args: argparse.Namespace) -> int:
    query = {k: v for k, v in (("source", args.source), ("filter", args.name)) if v}
    with _client(args) as client:
        answer = client.vendor("GetStatus", query)
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
        return 0
    filters = answer.get("filters", [])
    if not answer.get("logic_loaded", False):
        print("filter logic not loaded in OBS (script unloaded?): filters pass frames through")
    if not filters:
        print("no streamenhance filters" + (f" matching {query}" if query else ""))
    for entry in filters:
        print(format_status(entry))
    return 0


def _devices(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.vendor("ListDevices")
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
        return 0
    if answer.get("error"):
        print(f"error: {answer['error']}")
    for device in answer.get("devices", []):
        print(f"{device.get('name')}: {device.get('description', '')}")
    if "auto" in answer:
        print(f"auto -> {answer['auto']}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.call("RemoveSourceFilter", sourceName=args.source, filterName=args.name)
    print(f"removed filter {args.name!r} from {args.source!r}")
    return 0


def _screenshot(args: argparse.Namespace) -> int:
    with _client(args) as client:
        path = client.screenshot(args.scene, args.output)
    print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------- helpers


def _client(args: argparse.Namespace) -> Any:
    from streamenhance.obs.websocket import ConnectionOptions, ObsClient

    return ObsClient(ConnectionOptions.from_env(args.host, args.port, args.password, args.timeout))


def _format_settings(settings: dict[str, Any]) -> str:
    from streamenhance.obs.settings import SETTINGS

    shown = {s.key: settings.get(s.key, s.default) for s in SETTINGS}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def _number(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def format_status(entry: dict[str, Any]) -> str:
    """One filter's GetStatus entry in two or three lines."""
    head = (
        f"{entry.get('filter', '?')!r} on {entry.get('source', '?')!r}: {entry.get('state', 'no logic')}, "
        f"{entry.get('input_width', 0)}x{entry.get('input_height', 0)} -> "
        f"{entry.get('output_width', 0)}x{entry.get('output_height', 0)}"
    )
    numbers = (
        f"  fps in {_number(entry.get('fps_in'))} out {_number(entry.get('fps_out'))}, latency p50 "
        f"{_number(entry.get('latency_ms_p50'), ' ms')} p95 {_number(entry.get('latency_ms_p95'), ' ms')}, "
        f"processed {entry.get('frames_processed', 0)}, dropped {entry.get('frames_dropped', 0)}, "
        f"mode {entry.get('mode', '-')} ({entry.get('mode_setting', '-')}), tier {entry.get('tier', '-')}, "
        f"device {entry.get('device', '-')}"
    )
    lines = [head, numbers]
    if entry.get("last_error"):
        lines.append(f"  last error: {entry['last_error']}")
    return "\n".join(lines)
