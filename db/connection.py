"""Open the SQLite database with the settings every writer and reader relies on."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlite_utils

from db.migrations import migrations

DEFAULT_DB_PATH = Path("db/newsflow.db")

# Long enough that a second run waits for the first one's batch commit instead of failing
# with "database is locked"; each batch transaction is short.
BUSY_TIMEOUT_MS = 60_000


def open_db(path: str | Path = DEFAULT_DB_PATH, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` in WAL mode, its schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db = sqlite_utils.Database(conn)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _use_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if migrate:
        apply_migrations(db)
    return db


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for other processes doing the same. On a new file each switch reads
    the header and then needs the file to itself; of two processes that have both read, SQLite
    refuses one at once ("database is locked") rather than let them wait on each other, so the
    busy timeout never applies: retry until it would have run out."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def apply_migrations(db: sqlite_utils.Database) -> None:
    """Apply pending migrations under a write lock, so two processes never race on a new file."""
    if not migrations.pending(db):
        return
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-check inside the lock: another process may have migrated while we waited.
        pending = migrations.pending(db)
        migrations.ensure_migrations_table(db)
        for migration in pending:
            migration.fn(db)
            migrations._record_applied(db, migration.name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
