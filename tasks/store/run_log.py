"""The run log: a run's row from start to finish, and runs whose process died marked abandoned."""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import datetime

from sqlite_utils import Database

from newsflow.tasks.store.transaction import write_transaction
from newsflow.tasks.store.writer import now


def start_run(
    db: Database,
    *,
    parameters: dict[str, object],
    flow_run_id: str | None = None,
    trigger: str = "cli",
) -> str:
    """Record a run as started and return its id."""
    run_id = uuid.uuid4().hex
    with write_transaction(db):
        db.table("runs").insert(
            {
                "id": run_id,
                "flow_run_id": flow_run_id,
                "started_at": now(),
                "status": "running",
                "trigger": trigger,
                "parameters": json.dumps(parameters, default=str, sort_keys=True),
                "pid": os.getpid(),
                "host": socket.gethostname(),
            }
        )
    return run_id


def abandon_stale_runs(db: Database) -> list[str]:
    """Mark 'running' rows whose process on this host is gone (killed, crashed) as 'abandoned'.

    Rows from other hosts are left alone: their processes cannot be checked from here.
    """
    host = socket.gethostname()
    stamp = now()
    with write_transaction(db):
        rows = db.execute(
            "SELECT id, pid, started_at FROM runs WHERE status = 'running' AND host = ?", [host]
        ).fetchall()
        stale = [(run_id, pid) for run_id, pid, started_at in rows
                 if not process_alive(pid, started_at)]  # fmt: skip
        for run_id, pid in stale:
            db.conn.execute(
                "UPDATE runs SET status = 'abandoned', finished_at = ?, error = ? WHERE id = ?",
                [stamp, f"process {pid} on {host} ended without finishing the run", run_id],
            )
    return [run_id for run_id, _ in stale]


def process_alive(pid: int | None, started_at: str | None = None) -> bool:
    """True unless process `pid` on this host is gone, or the pid now belongs to a process that
    started after `started_at` (ISO 8601 UTC): a reused pid is not the run's process."""
    if not pid:
        return True  # unknown owner: never abandon on a guess
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    if started_at:
        began = _process_start(pid)
        run_started = datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()
        if began is not None and began > run_started + 2:  # 2 s: clock ticks and rounding
            return False
    return True


def _process_start(pid: int) -> float | None:
    """When process `pid` started (Unix time), from /proc on Linux; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
            fields = handle.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith(b"btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def finish_run(
    db: Database,
    run_id: str,
    *,
    status: str,
    counts: dict[str, int] | None = None,
    error: str | None = None,
    cpu: dict[str, object] | None = None,
) -> None:
    """Record how a run ended (and the CPU it took, when measured); called on failure too."""
    with write_transaction(db):
        db.table("runs").update(
            run_id,
            {
                "finished_at": now(),
                "status": status,
                "counts": json.dumps(counts or {}, sort_keys=True),
                "error": error,
                "cpu": None if cpu is None else json.dumps(cpu, sort_keys=True),
            },
        )
