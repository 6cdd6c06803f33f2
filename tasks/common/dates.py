"""Dates as news text writes them (English and German), to ISO 8601 UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan", "januar", "jänner", "jan."),
            ("february", "feb", "februar", "feber"),
            ("march", "mar", "märz", "maerz", "mär"),
            ("april", "apr"),
            ("may", "mai"),
            ("june", "jun", "juni"),
            ("july", "jul", "juli"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct", "oktober", "okt"),
            ("november", "nov"),
            ("december", "dec", "dezember", "dez"),
        ],
        start=1,
    )
    for name in names
}

_MONTH = r"([A-Za-zäÄ]{3,9})\.?"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})\.?\s+{_MONTH}\s+(\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}),?\s+(\d{{4}})\b")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def find_date(text: str) -> str | None:
    """The first plausible calendar date in `text`, as an ISO 8601 UTC timestamp."""
    candidates: list[tuple[int, datetime]] = []
    for match in _ISO.finditer(text):
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        stamp = _make(year, month, day, hour, minute, second)
        if stamp:
            candidates.append((match.start(), stamp))
    for match in _DAY_MONTH_YEAR.finditer(text):
        month_number = MONTHS.get(match.group(2).lower())
        if month_number:
            stamp = _make(int(match.group(3)), month_number, int(match.group(1)))
            if stamp:
                candidates.append((match.start(), stamp))
    for match in _MONTH_DAY_YEAR.finditer(text):
        month_number = MONTHS.get(match.group(1).lower())
        if month_number:
            stamp = _make(int(match.group(3)), month_number, int(match.group(2)))
            if stamp:
                candidates.append((match.start(), stamp))
    if not candidates:
        return None
    return min(candidates)[1].isoformat().replace("+00:00", "Z")


def _make(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime | None:
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return stamp if 1900 <= year <= 2200 else None
