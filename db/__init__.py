"""The newsflow database: `open_db()` and the schema's migrations."""

from __future__ import annotations

from newsflow.db.connection import DEFAULT_DB_PATH, check_db, open_db, open_existing_db
from newsflow.db.problems import DatabaseProblem

__all__ = ["DEFAULT_DB_PATH", "DatabaseProblem", "check_db", "open_db", "open_existing_db"]
