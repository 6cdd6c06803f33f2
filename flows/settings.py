"""Process-wide defaults applied before Prefect is imported: offline, quiet, no telemetry."""

from __future__ import annotations

import os

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
