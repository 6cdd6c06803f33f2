"""Dates as feeds write them: RFC 822 and ISO 8601, English and German month names, twelve-hour
clocks, named zones; the entry's date chosen among those it gives."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from newsflow.tasks.common.dates import MONTHS, find_date

log = logging.getLogger(__name__)


MAX_DATE_CHARS = 200


FUTURE_TOLERANCE = timedelta(days=1)  # time zones and clock skew, not "next week"


_WEEKDAY_PREFIX = re.compile(r"^\s*[^\W\d_]{2,12}\.?,\s*")


_WORD = re.compile(r"[^\W\d_]+\.?")


_DAY_DOT = re.compile(r"^(\d{1,2})\.\s")  # German ordinal day: "3. Mai 2023"


_TWELVE_HOUR = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])\b")


_ZONES = {
    "CET": "+0100",
    "MEZ": "+0100",
    "CEST": "+0200",
    "MESZ": "+0200",
    "BST": "+0100",
    "EET": "+0200",
    "EEST": "+0300",
    "WET": "+0000",
    "WEST": "+0100",
    "UTC": "+0000",
}


_ENGLISH_MONTHS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]


_EXTRA_MONTHS = {
    "mrz": 3,
    "janv": 1,
    "févr": 2,
    "fevr": 2,
    "mars": 3,
    "avr": 4,
    "juin": 6,
    "juil": 7,
    "août": 8,
    "aout": 8,
    "déc": 12,
    "janvier": 1,
    "février": 2,
    "avril": 4,
    "juillet": 7,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
}


def parse_date(raw: str) -> datetime | None:
    """An aware UTC datetime from a feed date: RFC 822, RFC 3339, localised names (`Mo, 25 Jun
    2018`, `Di, 26 Mär 2019 08:00 MESZ`, `27. Dezember 2025`); None when it cannot be read."""
    import email.utils

    text = " ".join(raw.split())
    if not text:
        return None
    text = _TWELVE_HOUR.sub(_to_24_hours, text)
    iso = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", text) else text
    try:
        return _to_utc(datetime.fromisoformat(iso))
    except ValueError:
        pass
    english = _WORD.sub(_english_word, _DAY_DOT.sub(r"\1 ", _WEEKDAY_PREFIX.sub("", text)))
    try:
        return _to_utc(email.utils.parsedate_to_datetime(english))
    except (TypeError, ValueError, IndexError):
        pass
    found = find_date(text)
    return datetime.fromisoformat(found) if found else None


def _to_24_hours(match: re.Match[str]) -> str:
    hour = int(match.group(1)) % 12 + (12 if match.group(4).lower() == "pm" else 0)
    return f"{hour:02d}:{match.group(2)}:{match.group(3) or '00'}"


def _english_word(match: re.Match[str]) -> str:
    word = match.group(0)
    bare = word.rstrip(".")
    if bare.upper() in _ZONES:
        return _ZONES[bare.upper()]
    number = MONTHS.get(bare.lower()) or _EXTRA_MONTHS.get(bare.lower())
    return _ENGLISH_MONTHS[number - 1] if number else word


def _to_utc(stamp: datetime) -> datetime:
    # A date with no zone is taken as UTC: the least surprising guess for a feed.
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def pick_date(
    candidates: Sequence[tuple[object, object]], *, now: datetime
) -> tuple[str | None, str | None, str | None]:
    """(published_at, published_raw, problem) from the first readable candidate date."""
    first_raw: str | None = None
    for raw, parsed in candidates:
        if not isinstance(raw, str) or not raw.strip():
            continue
        raw = raw.strip()[:MAX_DATE_CHARS]
        first_raw = first_raw or raw
        stamp = parse_date(raw)
        if stamp is None and isinstance(parsed, time.struct_time):
            stamp = datetime(*parsed[:6], tzinfo=UTC)  # feedparser's reading, already UTC
        if stamp is None:
            continue
        if stamp > now + FUTURE_TOLERANCE:
            log.info("rejected the future date %r", raw)
            return None, raw, "future"
        return stamp.isoformat(timespec="seconds").replace("+00:00", "Z"), raw, None
    return None, first_raw, "unparsed" if first_raw else None
