"""The local Prefect server that `newsflow run` starts once and reuses, so no run pays for one.

Without `PREFECT_API_URL`, Prefect starts a temporary server for every flow run and stops it at
the end: several seconds of a run that finds nothing new. Instead, the first `newsflow run`
starts `prefect server start` detached, on a free loopback port, and records it in
`$PREFECT_HOME/newsflow-server.json` (pid, port, URL, Prefect version); later runs check the
record (the process is alive and is that server, `/api/health` answers) and send their flow runs
there. The server keeps running, with its UI, until `newsflow server stop`.

- A `PREFECT_API_URL` the user configured (environment or profile) is used as is; nothing starts.
- `NEWSFLOW_LOCAL_SERVER=0` opts out: every run gets Prefect's temporary server, as before.
- A stale record (process gone, its pid taken by another program, another Prefect version) is
  replaced by a new server on a new port.
- Runs starting at once take `newsflow-server.lock` to check and start: one server is started,
  the others wait for it to answer.
- A server that a run started and that exits, or does not answer within
  `NEWSFLOW_LOCAL_SERVER_TIMEOUT` seconds (default 90), is stopped and forgotten; one that ran
  before and stops answering is left alone (another run may be using it). Either way the run
  falls back to the temporary server, with one warning line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx

log = logging.getLogger(__name__)

OPT_OUT = "NEWSFLOW_LOCAL_SERVER"
TIMEOUT = "NEWSFLOW_LOCAL_SERVER_TIMEOUT"
DEFAULT_TIMEOUT = 90.0  # seconds; a first start took ~12 s on a 2-core machine at load 9
RECORD_NAME = "newsflow-server.json"
LOCK_NAME = "newsflow-server.lock"
LOG_NAME = "newsflow-server.log"
HOST = "127.0.0.1"
STOP_GRACE = 20.0  # seconds between SIGTERM and SIGKILL
ANSWER_GRACE = 10.0  # seconds a server that answered before may take to answer again

# Servers this process started: waited for when stopped, so none is left a zombie.
_children: dict[int, subprocess.Popen[bytes]] = {}


class ServerUnavailable(Exception):
    """The local server could not be started or did not answer; the reason is the message."""


@dataclass(frozen=True)
class ServerRecord:
    """What `$PREFECT_HOME/newsflow-server.json` holds about the server newsflow started."""

    pid: int
    port: int
    url: str
    started_at: str  # ISO 8601, UTC
    prefect_version: str
    log: str

    def age_seconds(self) -> float:
        """Seconds since the server was started."""
        return (datetime.now(UTC) - datetime.fromisoformat(self.started_at)).total_seconds()


@dataclass(frozen=True)
class Target:
    """Where a run's flow run goes, and the one line that says so."""

    kind: Literal["configured", "local", "temporary"]
    url: str | None
    line: str
    warning: str | None = None


def enabled() -> bool:
    """False when NEWSFLOW_LOCAL_SERVER opts out (0, false, no, off)."""
    return os.environ.get(OPT_OUT, "1").strip().lower() not in {"0", "false", "no", "off"}


def prefect_home() -> Path:
    """Prefect's home folder, where the record, lock and log live beside Prefect's database."""
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()).expanduser()


def configured_api_url() -> str | None:
    """The API URL the user configured (environment, profile, or a test harness), if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url or None


def read_record(home: Path) -> ServerRecord | None:
    """The recorded server, or None (no record, or one that does not parse: treated as stale)."""
    try:
        data = json.loads((home / RECORD_NAME).read_text(encoding="utf-8"))
        record = ServerRecord(**data)
        record.age_seconds()  # a start time that does not parse makes the record unusable
    except (OSError, ValueError, TypeError):
        return None
    numbers = (record.pid, record.port)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in numbers):
        return None
    return record


def _write_record(home: Path, record: ServerRecord) -> None:
    path = home / RECORD_NAME
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)  # readers see the old record or the new one, never half of one


def _forget(home: Path, record: ServerRecord) -> None:
    """Remove the record if it still names this server (another may have replaced it)."""
    current = read_record(home)
    if current is not None and current.pid == record.pid and current.port == record.port:
        (home / RECORD_NAME).unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Hold the lock file: one process at a time checks the record and starts a server."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def is_running(record: ServerRecord) -> bool:
    """Whether the recorded process is alive and is that server (not a reused pid, not a
    zombie). Where /proc is missing, a live pid has to do; the health check follows anyway."""
    child = _children.get(record.pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not the server this user started
    cmdline = Path(f"/proc/{record.pid}/cmdline")
    try:
        words = cmdline.read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return False
    return b"server" in words and b"start" in words and str(record.port).encode() in words


def healthy(url: str, *, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at `url` answers its health check."""
    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.text.strip() == "true"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _prefect_version() -> str:
    import prefect

    return str(prefect.__version__)


def _spawn(home: Path) -> ServerRecord:
    """Start `prefect server start` detached from this process and record it."""
    port = _free_port()
    log_path = home / LOG_NAME
    # The server's own settings come from this environment, minus an empty or stale API URL.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST,
               "--port", str(port)]  # fmt: skip
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=home,  # not the caller's folder: the server may outlive it
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C on the run, or the terminal closing, does not reach it.
            start_new_session=True,
        )
    _children[process.pid] = process
    record = ServerRecord(
        pid=process.pid,
        port=port,
        url=f"http://{HOST}:{port}/api",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        prefect_version=_prefect_version(),
        log=str(log_path),
    )
    _write_record(home, record)
    log.info("started a local Prefect server at %s (pid %s)", record.url, record.pid)
    return record


def _terminate(record: ServerRecord) -> None:
    """SIGTERM the server (its process group: uvicorn and anything it forked), then SIGKILL."""
    if not is_running(record):
        _children.pop(record.pid, None)
        return  # gone already: its pid may belong to another program by now
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while is_running(record) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_running(record):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record.pid, signal.SIGKILL)
    child = _children.pop(record.pid, None)
    if child is not None:
        child.wait()


def start_timeout() -> float:
    """Seconds to wait for a server to answer (NEWSFLOW_LOCAL_SERVER_TIMEOUT, default 90)."""
    raw = os.environ.get(TIMEOUT, "").strip()
    try:
        return max(1.0, float(raw)) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def ensure(*, home: Path | None = None, timeout: float | None = None) -> ServerRecord:
    """The running local server, started now if there is none; ServerUnavailable if it cannot be
    started or does not answer in time. A server this call started and that does not come up is
    stopped and forgotten; one that ran before and stops answering is left alone (another run may
    be using it, slowly): the caller falls back, and `newsflow server stop` clears it."""
    home = home or prefect_home()
    timeout = start_timeout() if timeout is None else timeout
    started_here = False
    with _locked(home):
        record = read_record(home)
        if record is not None and not is_running(record):
            record = None  # a stale record: its process is gone, or its pid is another program
        if record is not None and record.prefect_version != _prefect_version():
            log.info("replacing the local Prefect server of version %s", record.prefect_version)
            _terminate(record)
            record = None
        if record is None:
            try:
                record = _spawn(home)
            except OSError as error:
                raise ServerUnavailable(f"cannot start prefect server: {error}") from None
            started_here = True
    # Waited for outside the lock: runs started at once all wait for the same server. A server
    # still starting gets what is left of its start-up time; one that ran already, a few tries.
    left = timeout - max(0.0, record.age_seconds())
    deadline = time.monotonic() + (left if left > 0 else ANSWER_GRACE)
    while not healthy(record.url, timeout=5.0):
        if not is_running(record):
            with _locked(home):
                _forget(home, record)
            raise ServerUnavailable(f"the Prefect server exited; see {record.log}")
        if time.monotonic() > deadline:
            if started_here:
                with _locked(home):
                    _terminate(record)
                    _forget(home, record)
                raise ServerUnavailable(f"the Prefect server did not answer within {timeout:.0f} s")
            raise ServerUnavailable(
                f"the Prefect server at {record.url} does not answer;"
                " `newsflow server stop` stops it, the next run starts a new one"
            )
        time.sleep(0.2)
    return record


def stop(*, home: Path | None = None) -> ServerRecord | None:
    """Stop the recorded local server and remove its record; the record, if it was running."""
    home = home or prefect_home()
    with _locked(home):
        record = read_record(home)
        if record is None:
            return None
        running = is_running(record)
        if running:
            _terminate(record)
        _forget(home, record)
    return record if running else None


def status() -> Target:
    """Where the next `newsflow run` sends its flow run, without starting anything."""
    configured = configured_api_url()
    if configured:
        return Target("configured", configured, f"Prefect API: {configured} (PREFECT_API_URL)")
    if not enabled():
        return Target("temporary", None, f"Prefect API: a temporary server per run ({OPT_OUT}=0)")
    record = read_record(prefect_home())
    if record is not None and is_running(record):
        if not healthy(record.url):
            return Target(
                "temporary",
                None,
                f"Prefect API: the local server {record.url} (pid {record.pid}) does not answer;"
                " `newsflow server stop` stops it, the next run starts a new one",
            )
        return Target(
            "local",
            record.url,
            f"Prefect API: local server {record.url} (pid {record.pid}, since"
            f" {record.started_at}; UI {record.url.removesuffix('/api')};"
            " stop it with `newsflow server stop`)",
        )
    return Target(
        "temporary",
        None,
        "Prefect API: no local server running; the next `newsflow run` starts one",
    )


@contextlib.contextmanager
def for_run() -> Iterator[Target]:
    """For a flow run (the block): the configured API, else the local server (started if need
    be) as PREFECT_API_URL, else Prefect's temporary server with a warning, never a failure."""
    configured = configured_api_url()
    if configured:
        yield Target("configured", configured, f"Prefect API: {configured} (PREFECT_API_URL)")
        return
    if not enabled():
        yield Target("temporary", None, f"Prefect API: a temporary server ({OPT_OUT}=0)")
        return
    try:
        record = ensure()
    except Exception as error:  # noqa: BLE001 (whatever went wrong, the run goes on)
        warning = f"local Prefect server unavailable ({error}); using a temporary one"
        yield Target("temporary", None, "Prefect API: a temporary server", warning)
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: record.url}):
        yield Target("local", record.url, f"Prefect API: local server {record.url}")
