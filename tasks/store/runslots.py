"""The run-date guard: one scheduled slot (deployment + scheduled time) is worked on once."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime

from sqlite_utils import Database

from newsflow.tasks.store.run_log import process_alive
from newsflow.tasks.store.transaction import write_transaction

log = logging.getLogger(__name__)


def slot_key(deployment: str, scheduled_at: datetime) -> str:
    """'<flow>/<deployment>@<scheduled UTC time>': the same for every run of one slot."""
    stamp = scheduled_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{deployment}@{stamp}"


def _alive(pid: int | None, host: str | None, started_at: str | None) -> bool:
    """False only when the owner was on this host and its process is gone (a crashed run)."""
    return host != socket.gethostname() or process_alive(pid, started_at)


def claim_slot(db: Database, run_id: str, slot: str) -> str | None:
    """Record `slot` on run `run_id`; return the id of the run that owns it already, if any.

    A slot is owned by a run that completed it, or by one still running (unless that run's
    process has died on this host). Failed runs do not own their slot, so a retry can redo it.
    """
    with write_transaction(db):
        rows = db.execute(
            "SELECT id, status, pid, host, started_at FROM runs WHERE slot = ? AND id != ?"
            " AND status IN ('completed', 'running') ORDER BY started_at, rowid",
            [slot, run_id],
        ).fetchall()
        for other_id, status, pid, host, started_at in rows:
            if status == "completed" or _alive(pid, host, started_at):
                db.conn.execute("UPDATE runs SET slot = ? WHERE id = ?", [slot, run_id])
                log.info("slot %s is already owned by run %s (%s)", slot, other_id, status)
                return str(other_id)
        db.conn.execute("UPDATE runs SET slot = ? WHERE id = ?", [slot, run_id])
    return None
