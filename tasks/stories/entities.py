"""Signals that survive translation: names, numbers, dates, and gazetteer countries/organisations.

An English report and its German translation share few words but the same people ("Ung Rachana"),
the same figures ("£300m" / "300 Mio. £"), the same dates ("25 December 2025" / "25. Dezember
2025") and the same countries once the gazetteer maps "Cambodia" and "Kambodscha" to one id.
Each signal is a string key with a kind prefix: `name:`, `num:`, `year:`, `date:`, `md:`,
`country:`, `org:`.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache

from newsflow.tasks.common import gazetteer
from newsflow.tasks.common.dates import MONTHS
from newsflow.tasks.common.gazetteer import fold
from newsflow.tasks.common.sentences import split_sentences

_CAPITALISED = re.compile(r"(?<![\w’'])([A-ZÀ-ÖØ-Þ][\w’'\-]*\w|[A-ZÀ-ÖØ-Þ])", re.UNICODE)
# A figure with its separators ("1,300.5", "1.300,5", "800 000"); the language decides which
# separator is the decimal point. Units may follow ("£300m", "12cm"); letters may not precede.
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,’'\u00a0\u202f]\d+)*(?!\d)")
_MONTH_NAME = r"([A-Za-zäÄ]{3,9})\.?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})\.?\s+{_MONTH_NAME}(?:,?\s+(\d{{4}}))?")
_MONTH_DAY = re.compile(rf"\b{_MONTH_NAME}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# The letters _MONTH_NAME reads, and where a date may start: at a figure, or at the word before.
_MONTH_LETTERS = frozenset(string.ascii_letters + "äÄ")
_FIGURE = re.compile(r"\d+")
# Figures and dates all hold a digit: a text without one (most sentences) skips their patterns.
_DIGIT = re.compile(r"\d")

WEEKDAYS = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonnabend", "sonntag",
}  # fmt: skip

# How much one shared signal of each kind says about "same event" (a shared exact date says a lot,
# a shared country little: every report on the topic names it).
KIND_WEIGHTS = {
    "date": 3.0,
    "md": 2.0,
    "name": 1.0,
    "num": 1.0,
    "org": 0.5,
    "year": 0.3,
    "country": 0.3,
}


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """English and German stop words, folded: sentence-initial capitals, not names."""
    from sumy.utils import get_stop_words

    words: set[str] = set()
    for name in ("english", "german"):
        words |= {fold(word) for word in get_stop_words(name)}
    return frozenset(words | set(MONTHS) | WEEKDAYS | {"mr", "mrs", "ms", "dr", "herr", "frau"})


def names(
    text: str,
    language: str | None = None,
    *,
    sentence: bool = False,
    sentences: Sequence[str] | None = None,
) -> Counter[str]:
    """Capitalised words inside sentences, folded: people, places, companies (and German nouns).

    `sentence=True` says the text is a single sentence (it is not split again); `sentences` are
    the text's sentences when the caller has split it already (`split_sentences`)."""
    if sentences is None:
        sentences = [text] if sentence else split_sentences(text, language or "en")
    found: Counter[str] = Counter()
    for piece in sentences:
        first = True
        for match in _CAPITALISED.finditer(piece):
            # A sentence's first word is capitalised whatever it is. Only the first match can
            # be it: any later one has that match's word before it.
            if first:
                first = False
                if piece[: match.start()].strip() in _OPENERS:
                    continue
            found.update(_name_parts(match.group(1)))
    return found


_OPENERS = frozenset({"", "„", '"', "“", "‘"})  # what may precede a sentence's first word


@lru_cache(maxsize=100_000)
def _name_parts(word: str) -> tuple[str, ...]:
    """The folded name parts a capitalised word counts as (none for a stop word or a gazetteer
    name), remembered: news repeats its names."""
    if word.endswith(("’s", "'s")):
        word = word[:-2]  # the possessive
    folded = gazetteer.fold_word(word)
    stop = _stop_words()
    if len(folded) < 3 or folded in stop or gazetteer.is_known(word):
        return ()
    return tuple(
        part
        for part in folded.split("-")
        if len(part) >= 3 and part not in stop and not gazetteer.is_known(part)
    )


@lru_cache(maxsize=100_000)
def _number_value(raw: str, language: str | None) -> str | None:
    """'1,300' → '1300', '21.5' → '21.5' in English; '1.300' → '1300', '21,5' → '21.5' in German."""
    decimal = "," if language == "de" else "."
    parts = re.split(r"([.,’'\u00a0\u202f])", raw)
    digits, separators = parts[::2], parts[1::2]
    fraction = ""
    if separators and separators[-1] == decimal and len(digits[-1]) != 3:
        fraction = "." + digits.pop()
        separators.pop()
    elif separators and separators[-1] == decimal and len(separators) == 1 and decimal == ".":
        fraction = "." + digits.pop()  # English "2.500" is two and a half
        separators.pop()
    if any(len(group) != 3 for group in digits[1:]):
        return None  # not a number we can read with confidence ("1.2.3", a version)
    try:
        value = float("".join(digits) + fraction)
    except ValueError:
        return None
    return f"{value:g}" if value < 1e15 else None


def numbers(text: str, language: str | None = None) -> Counter[str]:
    """Figures (`num:300`, `num:21.5`) and years (`year:2025`); single digits say nothing."""
    found: Counter[str] = Counter()
    if not _DIGIT.search(text):
        return found
    for match in _NUMBER.finditer(text):
        value = _number_value(match.group(0), language)
        if value is None:
            continue
        number = float(value)
        if number.is_integer() and 1900 <= number <= 2100:
            found[f"year:{int(number)}"] += 1
        elif number >= 10 or not number.is_integer():
            found[f"num:{value}"] += 1
    return found


def dates(text: str) -> Counter[str]:
    """Calendar dates in English or German: `date:2025-12-25` when the year is given, `md:12-25`."""
    found: Counter[str] = Counter()
    if not _DIGIT.search(text):
        return found

    def add(day: int, month: int | None, year: str | None) -> None:
        if month is None or not 1 <= day <= 31:
            return
        found[f"md:{month:02d}-{day:02d}"] += 1
        if year:
            found[f"date:{year}-{month:02d}-{day:02d}"] += 1

    # Tried only where a date can start, not at every word: at a figure ("25 December",
    # "2025-12-25"), and at the word before a figure ("December 25"). The same matches as
    # finditer finds, in less time.
    figures = [match.start() for match in _FIGURE.finditer(text)]
    for match in _tried_at(_DAY_MONTH, text, figures):
        add(int(match.group(1)), MONTHS.get(match.group(2).lower()), match.group(3))
    words = (_word_before(text, figure) for figure in figures)
    for match in _tried_at(_MONTH_DAY, text, (start for start in words if start is not None)):
        add(int(match.group(2)), MONTHS.get(match.group(1).lower()), match.group(3))
    for match in _tried_at(_ISO_DATE, text, figures):
        add(int(match.group(3)), int(match.group(2)), match.group(1))
    return found


def _tried_at(
    pattern: re.Pattern[str], text: str, starts: Iterable[int]
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)` for a pattern that can only match at `starts` (ascending)."""
    end = 0
    for start in starts:
        if start >= end and (match := pattern.match(text, start)):
            end = match.end()
            yield match


def _word_before(text: str, figure: int) -> int | None:
    """Where the month name of a "December 25" ending at this figure would start: the letters
    before the whitespace (and a dot) before it; None when no such letters are there."""
    end = figure
    while end > 0 and text[end - 1].isspace():
        end -= 1
    if end == figure:
        return None  # `\s+` needs whitespace
    if end > 0 and text[end - 1] == ".":
        end -= 1
    start = end
    # One letter more than a month name may have: the pattern then refuses the start.
    while start > 0 and end - start < 10 and text[start - 1] in _MONTH_LETTERS:
        start -= 1
    return start if start < end else None


def signals(
    text: str,
    language: str | None = None,
    *,
    sentence: bool = False,
    sentences: Sequence[str] | None = None,
) -> Counter[str]:
    """Every language-independent signal of a text, as `kind:value` keys with counts (`sentence`
    and `sentences` as for `names`)."""
    found: Counter[str] = Counter()
    named = names(text, language, sentence=sentence, sentences=sentences)
    for name, count in named.items():
        found["name:" + name] = count
    found.update(numbers(text, language))
    found.update(dates(text))
    found.update(gazetteer.find(text, language))
    return found


def kind(key: str) -> str:
    """The kind of a signal key: name, num, year, date, md, country or org."""
    return key.split(":", 1)[0]
