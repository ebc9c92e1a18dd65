"""Fixtures for the real-OBS end-to-end tests (marker ``obs``).

Without ``STREAMENHANCE_REQUIRE_OBS=1`` the tests skip with the reason when OBS, Xvfb, root or the
bridge are missing; with it (CI) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.harness import REQUIRE_ENV, NetNamespace, ObsConfig, ObsProcess, missing_requirements


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def unavailable(reason: str) -> None:
    """Skip, or fail when the environment says these tests must run."""
    if required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set: the OBS end-to-end tests must run)", pytrace=False)
    pytest.skip(reason)


def engine_problem(weights_dir: Path | None = None, **options: object) -> str | None:
    """Why the engine cannot enhance a frame here (None when it can)."""
    try:
        from streamenhance import Enhancer

        enhancer = Enhancer(scale=2.0, device="cpu", weights_dir=weights_dir, **options)
        enhancer.enhance(np.zeros((64, 64, 3), np.uint8))
    except Exception as exc:  # any reason is reported to the tester
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def obs_ready() -> None:
    missing = missing_requirements()
    if missing:
        unavailable("cannot run OBS end to end: " + "; ".join(missing))


@pytest.fixture(scope="session")
def netns(obs_ready: None) -> Iterator[NetNamespace]:
    ns = NetNamespace()
    yield ns
    ns.close()


@pytest.fixture(scope="session")
def obs_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Throwaway HOMEs of the OBS runs (pytest keeps the last runs' folders: logs for post-mortems)."""
    return tmp_path_factory.mktemp("obs")


def _weights_env() -> dict[str, str]:
    value = os.environ.get("STREAMENHANCE_WEIGHTS_DIR")
    return {"STREAMENHANCE_WEIGHTS_DIR": value} if value else {}


@pytest.fixture(scope="session")
def obs(netns: NetNamespace, obs_home: Path) -> Iterator[ObsProcess]:
    """One OBS for the session: the shipped weights, the script installed with the CLI."""
    config = ObsConfig(obs_home / "main")
    config.seed()
    config.install_script()
    process = ObsProcess(config, netns, extra_env=_weights_env()).start()
    yield process
    code = process.stop()
    assert code == 0, f"OBS exited with {code}; log tail:\n{process.log_text()[-3000:]}"
