"""The newsflow database: `open_db()` and the schema's migrations."""

from __future__ import annotations

from db.connection import DEFAULT_DB_PATH, open_db

__all__ = ["DEFAULT_DB_PATH", "open_db"]
