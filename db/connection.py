"""Open the SQLite database with the settings every writer and reader relies on."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from newsflow.db.migrations import migrations
from newsflow.db.problems import (
    DatabaseLocked,
    NewerSchema,
    NoDatabase,
    NotADatabase,
    NotAFile,
    Unreadable,
)

DEFAULT_DB_PATH = Path("db/newsflow.db")

# Long enough that a second run waits for the first one's batch commit instead of failing
# with "database is locked"; each batch transaction is short.
BUSY_TIMEOUT_MS = 60_000

SQLITE_HEADER = b"SQLite format 3\x00"
# newsflow records its schema as named migrations and leaves user_version at 0: a higher one
# was set by a newer newsflow (or another program), whose schema this code cannot vouch for.
USER_VERSION = 0


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


def check_db(path: str | Path, *, must_exist: bool, write: bool = False) -> None:
    """Raise the `DatabaseProblem` that keeps `path` from being used, only reading the file.

    With `must_exist` a missing or empty file is a problem (read-only commands never create
    one); with `write` the write lock must be free within the busy timeout."""
    path = Path(path)
    if path.is_dir():
        raise NotAFile(path, "is a folder, not a database file")
    if not path.exists():
        if path.parent.exists() and not path.parent.is_dir():
            raise NotAFile(path, f"{path.parent} is a file, not a folder")
        if must_exist:
            raise NoDatabase(
                path, f"no database here yet; make one with `newsflow run --db {path}`"
            )
        return
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as error:
        raise Unreadable(path, f"cannot read it: {error.strerror}") from None
    if write and not os.access(path, os.W_OK):
        raise Unreadable(path, "cannot write it: permission denied")
    if not header:  # SQLite takes an empty file for an empty database
        if must_exist:
            raise NoDatabase(
                path, f"is empty, no database yet; make one with `newsflow run --db {path}`"
            )
        return
    if header != SQLITE_HEADER:
        raise NotADatabase(path, "is not a SQLite database")
    _check_contents(path, write=write)


def _check_contents(path: Path, *, write: bool) -> None:
    """Read the schema's record (waiting out locks as open_db would) and, to write, try the lock."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
        applied: list[str] = []
        if migrations.migrations_table in tables:
            applied = [
                row[0]
                for row in conn.execute(
                    f"SELECT name FROM [{migrations.migrations_table}] WHERE migration_set = ?",
                    [migrations.name],
                )
            ]
        if write:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise DatabaseLocked(
                path,
                "locked by another connection for longer than the busy timeout"
                f" ({BUSY_TIMEOUT_MS / 1000:g} s); try again when it has finished",
            ) from None
        if "readonly" in str(error):
            raise Unreadable(path, f"cannot write it: {error}") from None
        raise NotADatabase(path, f"cannot be read as SQLite: {error}") from None
    except sqlite3.DatabaseError as error:
        raise NotADatabase(path, f"is not a usable SQLite database: {error}") from None
    finally:
        conn.close()
    # sqlite-utils keeps the registered migrations private; their names are all this needs.
    known = {migration.name for migration in migrations._migrations}
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise NewerSchema(
            path,
            f"written by a newer newsflow (migration {unknown[0]!r} is unknown to this version);"
            " upgrade newsflow to use it",
        )
    if user_version > USER_VERSION:
        raise NewerSchema(
            path,
            f"written by a newer schema (user_version {user_version}, this newsflow knows"
            f" {USER_VERSION}); upgrade newsflow to use it",
        )
    if tables and not applied:
        raise NotADatabase(path, "is a SQLite database of another program (no newsflow schema)")


def open_existing_db(path: str | Path, *, write: bool = False) -> sqlite_utils.Database:
    """Open a database that must already exist and be usable, else raise a `DatabaseProblem`."""
    check_db(path, must_exist=True, write=write)
    try:
        return open_db(path)
    except sqlite3.OperationalError as error:
        # Checked free a moment ago; another writer may have taken the lock since.
        if "locked" not in str(error):
            raise
        raise DatabaseLocked(
            path, f"locked by another connection for longer than the busy timeout: {error}"
        ) from None
