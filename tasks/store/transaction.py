"""The write transaction every writer uses: the lock taken up front, nested blocks as savepoints."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlite_utils import Database


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """BEGIN IMMEDIATE … COMMIT: take the write lock up front, so busy_timeout applies and a
    second writer waits instead of failing on a lock upgrade. sqlite-utils calls inside nest as
    savepoints, and so does a write_transaction inside another: a batch's writes commit together."""
    conn = db.conn
    if conn.in_transaction:
        name = f"nested_{uuid.uuid4().hex}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
