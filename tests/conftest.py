"""Shared fixtures: a real SQLite file, a copy of the seeds, the shared corpus, Prefect."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.flows.settings import apply_defaults
from tests.http_server import ScriptedServer

apply_defaults()

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

# Tests may fetch from the loopback HTTP servers they start themselves, and nothing else.
os.environ.setdefault("NEWSFLOW_ALLOW_PRIVATE_HOSTS", "1")
# No run of the suite leaves a local Prefect server behind (it would outlive the suite, in CI too):
# runs without an API get Prefect's temporary server, unless a test asks for the local one
# (tests/test_local_server.py, with its own PREFECT_HOME).
os.environ.setdefault("NEWSFLOW_LOCAL_SERVER", "0")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1 (tests/http_server.py)."""
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names other than localhost do not resolve: a test can never reach the internet."""
    from newsflow.tasks.feeds import netguard

    def resolve(host: str, port: int) -> list[str]:
        if host == "localhost":
            return ["127.0.0.1"]
        raise OSError(f"{host}: no internet in tests")

    monkeypatch.setattr(netguard, "system_resolver", resolve)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh database file path (created on first open)."""
    return tmp_path / "newsflow.db"


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of the five seed articles."""
    target = tmp_path / "seeds"
    target.mkdir()
    for path in sorted(SEEDS.glob("*.txt")):
        shutil.copy2(path, target / path.name)
    return target


@pytest.fixture
def corpus() -> Path:
    """The shared reference corpus; tests that need it skip cleanly when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for every flow test in the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
