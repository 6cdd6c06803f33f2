"""Process-wide Prefect settings newsflow applies, and what a user's own settings override."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
from newsflow.flows.settings import apply_defaults, foreground_run
apply_defaults()
from prefect.settings import get_current_settings
with foreground_run():
    inside = get_current_settings().flows.heartbeat_frequency
print(inside, get_current_settings().flows.heartbeat_frequency)
"""


def probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if "HEARTBEAT" not in k}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_a_foreground_run_sends_no_heartbeats_and_the_setting_comes_back_after():
    # Prefect's default (180 s) outside; none inside, so the flow never waits for the thread.
    assert probe() == "None 180"


def test_a_heartbeat_frequency_the_user_set_is_kept():
    assert probe(PREFECT_FLOWS_HEARTBEAT_FREQUENCY="60") == "60 60"
    assert probe(PREFECT_RUNNER_HEARTBEAT_FREQUENCY="90") == "90 90"  # the legacy name
