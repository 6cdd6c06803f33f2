"""Near-duplicate settings: the Jaccard threshold and window a database was deduplicated with,
stored so that a change re-bands and decides again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from newsflow.tasks.dedup.signatures import lsh_params
from newsflow.tasks.store.writer import now

DEFAULT_THRESHOLD = 0.5


DEFAULT_WINDOW_DAYS = 30


class DedupError(ValueError):
    """A threshold or window that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """The threshold and window in force, and the LSH banding that follows from the threshold."""

    threshold: float = DEFAULT_THRESHOLD
    window_days: int = DEFAULT_WINDOW_DAYS

    def __post_init__(self) -> None:
        if not 0.05 <= self.threshold <= 1.0:
            raise DedupError(f"threshold must be between 0.05 and 1.0, got {self.threshold}")
        if self.window_days < 1:
            raise DedupError(f"window must be at least one day, got {self.window_days}")

    @property
    def banding(self) -> tuple[int, int]:
        return lsh_params(self.threshold)


def load_settings(db: Database) -> Settings:
    """The stored settings (`newsflow dedup --threshold` changes them), or the defaults."""
    stored = dict(db.execute("SELECT name, value FROM dedup_settings").fetchall())
    return Settings(
        threshold=float(stored.get("threshold", DEFAULT_THRESHOLD)),
        window_days=int(stored.get("window_days", DEFAULT_WINDOW_DAYS)),
    )


def stored_banding(db: Database) -> str | None:
    return stored_setting(db, "banding")


def stored_setting(db: Database, name: str) -> str | None:
    row = db.execute("SELECT value FROM dedup_settings WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def save_settings(db: Database, values: dict[str, str]) -> None:
    stamp = now()
    db.conn.executemany(
        "INSERT INTO dedup_settings (name, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        [(name, value, stamp) for name, value in values.items()],
    )
