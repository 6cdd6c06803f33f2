"""The time window a digest covers: a day, a moment given by the user, or the latest day with
news."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlite_utils import Database

from newsflow.tasks.report.model import BadWindow


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_moment(value: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC unless it says otherwise)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadWindow(f"not an ISO date or time: {value!r} (use YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def day_window(day: date) -> tuple[str, str]:
    """[day 00:00Z, next day 00:00Z) as stored timestamps."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return _stamp(start), _stamp(start + timedelta(days=1))


def latest_day(db: Database) -> date | None:
    """The most recent UTC day on which a document was added or changed."""
    row = db.execute("SELECT max(max(created_at), max(updated_at)) FROM documents").fetchone()
    return parse_moment(row[0]).date() if row and row[0] else None


def resolve_window(
    db: Database, *, on: str | None, since: str | None
) -> tuple[str | None, str | None]:
    """The (start, end) of a report: one day, since a moment, or the latest day with changes."""
    if on and since:
        raise BadWindow("give --date or --since, not both")
    if since:
        return _stamp(parse_moment(since)), None
    if on:
        try:
            return day_window(date.fromisoformat(on))
        except ValueError:
            raise BadWindow(f"not an ISO date: {on!r} (use YYYY-MM-DD)") from None
    day = latest_day(db)
    return day_window(day) if day else (None, None)
