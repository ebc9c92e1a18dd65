"""Fixtures for the real-OBS end-to-end tests (marker ``obs``).

Without ``STREAMENHANCE_REQUIRE_OBS=1`` the tests skip with the reason when OBS, Xvfb, root or the
bridge are missing; with it (CI) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
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


@pytest.fixture(scope="session")
def identity_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights whose output is exactly known (artifact removal = identity, SR = MATLAB bicubic)."""
    from tests.conftest import write_model

    folder = tmp_path_factory.mktemp("identity_weights")
    for mode in ("mild", "strong"):
        write_model(folder, "ar", "tiny", mode, zero_residual=True)
    write_model(folder, "sr", "tiny", "mild", scale=2, zero_residual=True)
    return folder


@dataclass(frozen=True)
class SessionEngine:
    """Which weights the session's OBS runs with, and why."""

    env: dict[str, str]
    trained: bool       # the shipped (or $STREAMENHANCE_WEIGHTS_DIR) weights work
    problem: str | None  # why no engine works at all (None: one does)
    note: str


@pytest.fixture(scope="session")
def session_engine(identity_weights: Path) -> SessionEngine:
    """The shipped weights when they work, else the identity weights (the frame path still runs)."""
    configured = os.environ.get("STREAMENHANCE_WEIGHTS_DIR")
    trained_problem = engine_problem(Path(configured) if configured else None)
    if trained_problem is None:
        return SessionEngine({"STREAMENHANCE_WEIGHTS_DIR": configured} if configured else {}, True, None, "trained")
    identity_problem = engine_problem(identity_weights)
    return SessionEngine({"STREAMENHANCE_WEIGHTS_DIR": str(identity_weights)}, False, identity_problem,
                         f"identity weights (trained ones unusable: {trained_problem})")


@pytest.fixture(scope="module")
def obs(netns: NetNamespace, obs_home: Path, session_engine: SessionEngine) -> Iterator[ObsProcess]:
    """One OBS for the module, the script installed with the CLI (`streamenhance obs install`).

    Stopped before the next module starts its own OBS: two OBS processes on two cores would measure
    each other's load."""
    config = ObsConfig(obs_home / "main")
    config.seed()
    config.install_script()
    process = ObsProcess(config, netns, extra_env=session_engine.env).start()
    process.wait_warm()
    yield process
    code = process.stop()
    assert code == 0, f"OBS exited with {code}; {process.diagnostics()}"
