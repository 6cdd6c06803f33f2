"""Process-wide defaults applied before Prefect is imported: offline, quiet, no telemetry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # A flow run without a configured API starts a temporary local server; give it time on a busy
    # 2-core machine rather than failing the run.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def apply_defaults() -> None:
    """Set each default unless the user set it already."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)


@contextmanager
def foreground_run() -> Iterator[None]:
    """Prefect settings for the flow run `newsflow run` starts in the foreground: no heartbeats.

    Flow run heartbeats feed Prefect's zombie detection, for deployment runs that nobody watches
    (`newsflow serve` keeps them). The heartbeat thread sleeps in whole seconds, and Prefect joins
    it when the flow ends: every foreground run waited up to a second more for nothing (about a
    fifth of a run over unchanged input). A heartbeat frequency the user configured is kept.
    """
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
