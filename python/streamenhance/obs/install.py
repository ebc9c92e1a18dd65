"""``streamenhance obs install``: make OBS autoload the streamenhance script from this environment.

OBS keeps its scripts per scene collection (``basic/scenes/<collection>.json``, key
``modules.scripts-tool``) and rewrites those files when it exits, so installing while OBS runs would
be undone: it is refused. The script is copied to ``<config>/streamenhance/streamenhance_obs.py`` with
an ``env.json`` beside it naming this Python environment, and added to every scene collection.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamenhance.errors import ConfigError, StreamEnhanceError

SCRIPT_NAME = "streamenhance_obs.py"
ENV_FILE = "env.json"
SCRIPTS_MODULE = "scripts-tool"


class ObsRunningError(StreamEnhanceError, RuntimeError):
    """OBS is running with the configuration that would be changed."""


def default_config_dir() -> Path:
    """OBS's configuration directory: ``$XDG_CONFIG_HOME/obs-studio`` or ``~/.config/obs-studio``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "obs-studio"


def packaged_script() -> Path:
    """The OBS script shipped with the project (``plugin/streamenhance_obs.py`` of the source tree).

    Raises:
        ConfigError: not found (a non-editable install without the source tree: pass ``--script``).
    """
    import streamenhance

    root = Path(streamenhance.__file__).resolve().parents[2]
    for candidate in (root / "plugin" / SCRIPT_NAME, Path(__file__).resolve().parent / "plugin" / SCRIPT_NAME):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"OBS script {SCRIPT_NAME} not found next to the package (looked in {root / 'plugin'}); pass --script"
    )


def environment_description() -> dict[str, Any]:
    """What the OBS script needs to import this package: site-packages dirs and, when the package is
    not importable from them (run from a source tree), its parent directory."""
    import streamenhance

    site_packages = [p for p in site.getsitepackages() if os.path.isdir(p)]
    package_parent = str(Path(streamenhance.__file__).resolve().parents[1])
    paths = [] if any(Path(package_parent) == Path(p).resolve() for p in site_packages) else [package_parent]
    return {
        "python": sys.executable,
        "python_version": "%d.%d" % sys.version_info[:2],
        "prefix": sys.prefix,
        "site_packages": site_packages,
        "paths": paths,
    }


def _config_dir_of(pid: int) -> Path | None:
    """The OBS config dir a running process uses, from its environment; None if unreadable."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", "/"), ".config")
    return Path(base) / "obs-studio"


def running_obs(config_dir: Path) -> list[int]:
    """PIDs of OBS processes that use ``config_dir`` (or whose config dir cannot be read)."""
    target = config_dir.resolve()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if comm != "obs":
            continue
        used = _config_dir_of(int(proc.name))
        if used is None or used.resolve() == target:
            pids.append(int(proc.name))
    return pids


@dataclass(frozen=True)
class InstallResult:
    script: Path
    env_file: Path
    collections: list[Path]


def install(config_dir: Path | None = None, script: Path | None = None) -> InstallResult:
    """Copy the script and env.json into OBS's config and add the script to every scene collection.

    Idempotent: re-running replaces the copy and keeps one entry per collection.

    Raises:
        ConfigError: the config dir or a scene collection is missing or unreadable.
        ObsRunningError: OBS runs with this config (it would overwrite the collections on exit).
    """
    config_dir = Path(config_dir).expanduser() if config_dir else default_config_dir()
    scenes_dir = config_dir / "basic" / "scenes"
    collections = sorted(scenes_dir.glob("*.json")) if scenes_dir.is_dir() else []
    if not collections:
        raise ConfigError(
            f"no OBS scene collection in {scenes_dir}: start OBS once so it creates its configuration, "
            "or pass --config-dir"
        )
    pids = running_obs(config_dir)
    if pids:
        raise ObsRunningError(
            f"OBS is running (pid {', '.join(map(str, pids))}) with {config_dir}: quit it first, it rewrites "
            "its scene collections on exit"
        )
    source = Path(script).expanduser() if script else packaged_script()
    if not source.is_file():
        raise ConfigError(f"--script: expected an existing file, got {source}")

    target_dir = config_dir / "streamenhance"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / SCRIPT_NAME
    shutil.copyfile(source, target)
    env_file = target_dir / ENV_FILE
    _write_json(env_file, environment_description())
    for collection in collections:
        _add_script(collection, target)
    return InstallResult(target, env_file, collections)


def _add_script(collection: Path, script: Path) -> None:
    try:
        data = json.loads(collection.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"scene collection {collection}: cannot read it as JSON ({exc})") from None
    modules = data.setdefault("modules", {})
    scripts = modules.get(SCRIPTS_MODULE)
    if not isinstance(scripts, list):
        scripts = []
    # One entry for this script: drop other copies of it (older installs, other paths).
    ours = [isinstance(s, dict) and Path(str(s.get("path", ""))).name == SCRIPT_NAME for s in scripts]
    kept = [s for s, mine in zip(scripts, ours) if isinstance(s, dict) and not mine]
    previous = next((s for s, mine in zip(scripts, ours) if mine), {})
    kept.append({"path": str(script), "settings": previous.get("settings", {})})
    modules[SCRIPTS_MODULE] = kept
    _write_json(collection, data)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
    os.replace(tmp, path)
