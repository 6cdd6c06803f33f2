"""The daily flow's deployment: a cron schedule in a timezone, typed parameters, served by a runner.

`build_deployments()` is a plain function so the schedule and parameters are unit-tested offline;
`serve_deployments()` registers them with the API in PREFECT_API_URL and runs them until stopped.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prefect.schedules import Cron

from newsflow.tasks.summarise import summarize

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

DEPLOYMENT_NAME = "daily"
DEFAULT_AT = "06:00"
TAGS = ["newsflow", "daily"]


class BadSchedule(ValueError):
    """A --at time, --cron string or --timezone that cannot make a schedule."""


def local_timezone() -> str:
    """The machine's IANA timezone (TZ, then /etc/localtime), or UTC when it cannot be told."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    link = Path("/etc/localtime")
    if link.is_symlink():
        candidates.append(str(link.resolve()).split("zoneinfo/", 1)[-1])
    for name in candidates:
        if name == "UTC" or "/" in name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


def cron_at(at: str) -> str:
    """'06:00' → '0 6 * * *': every day at that local time."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at.strip())
    if not match:
        raise BadSchedule(f"--at: expected HH:MM (24-hour), got {at!r}")
    return f"{int(match.group(2))} {int(match.group(1))} * * *"


def check_timezone(name: str) -> str:
    """The name itself when it is a known IANA timezone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadSchedule(f"--timezone: unknown timezone {name!r} (try Europe/Berlin)") from None
    return name


def default_parameters(
    *,
    seeds_dir: str | Path = "seeds",
    db_path: str | Path = "db/newsflow.db",
    method: str = summarize.DEFAULT_METHOD,
    sentences: str | float = summarize.DEFAULT_SENTENCES,
    feeds: list[str] | None = None,
) -> dict[str, Any]:
    """Defaults for runs of the deployment; paths made absolute so runs do not depend on a cwd."""
    if method not in summarize.METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(summarize.METHODS)}")
    length = summarize.parse_length(sentences)
    return {
        "seeds_dir": str(Path(seeds_dir).resolve()),
        "db_path": str(Path(db_path).resolve()),
        "method": method,
        "sentences": length,  # a number: the parameter schema says so
        "feeds": list(feeds or []),
    }


def build_deployments(
    *,
    name: str = DEPLOYMENT_NAME,
    at: str = DEFAULT_AT,
    cron: str | None = None,
    timezone: str | None = None,
    parameters: dict[str, Any] | None = None,
    paused: bool = False,
) -> list[RunnerDeployment]:
    """The daily deployment: one cron schedule (with a slug) in `timezone`, typed parameters."""
    from prefect.deployments.runner import EntrypointType

    from newsflow.flows.daily import daily

    zone = check_timezone(timezone or local_timezone())
    try:
        # The slug names the schedule, so re-serving with another time updates it in place.
        schedule = Cron(cron or cron_at(at), timezone=zone, slug=f"{name}-cron", active=not paused)
    except ValueError as error:
        raise BadSchedule(f"--cron: {error}") from None
    deployment = daily.to_deployment(
        name=name,
        schedules=[schedule],
        parameters=parameters or default_parameters(),
        tags=TAGS,
        description=(
            "Ingest the seeds folder and feeds, deduplicate, summarise into SQLite; "
            "publishes the run's digest and feed health as artifacts."
        ),
        # Imported by module path: the package is installed, so runs work from any directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return [deployment]  # type: ignore[list-item]  # sync call: never a coroutine here


def serve_deployments(deployments: list[RunnerDeployment], *, limit: int = 1) -> None:
    """Register the deployments and execute their runs until interrupted."""
    from prefect import serve

    # pause_on_shutdown=False: a restart (deploy, crash, reboot) must not leave the schedule
    # paused (prefect#16363). limit: runs of this process execute one at a time by default.
    serve(*deployments, pause_on_shutdown=False, limit=limit)
