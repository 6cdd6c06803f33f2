"""Language identification (py3langid: offline, deterministic, 97 languages).

A long text names its own language: the body decides. A headline or a teaser does not: on
eight words the full identifier calls English headlines Nigerian Pidgin, Latin or Welsh (406 of
6,367 real headlines). Short text is therefore identified with what else is known, in this order:

1. the declared language (the feed list's `language`, the channel's `<language>`, `xml:lang`, a
   JSON Feed's or a JSON record's `language`): a short text never overrides it;
2. identification restricted to the languages we summarise, on the text as written and
   case-folded (Title Case English reads as German nouns to the n-grams), kept only above a
   confidence floor;
3. below the floor, the language of the outlet's other items (`usual_language`, applied by the
   callers, which know the outlet); else unknown (None), never a confident wrong guess.
"""

from __future__ import annotations

import copy
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# Fewer letters than this and identification is a guess: store no language rather than a wrong one.
MIN_LETTERS = 20
# The identifier's cost grows with the text; the first ~100 words name the language as surely as
# the whole article: no difference over 999 texts (the BBC corpus, the seeds, the German and
# English translations and benchmark documents) at 600 characters.
SAMPLE_CHARS = 600
# Below this many characters a text is short: a headline, or a headline and a sentence or two.
# The full identifier names all 200 BBC articles right from their first 150 characters of prose,
# but headlines are not prose, and teasers are mostly headline.
SHORT_CHARS = 200
# The restricted identifier's probability a short text needs. On the 6,367 UCI headlines: 0.5
# keeps 6,147 as English and 8 wrong; 0.7 keeps 5,883 and 2 wrong (the rest left to the outlet's
# language or unknown); a few short German, French, Spanish, Italian, Dutch and Portuguese
# headlines pass at either.
CONFIDENCE_FLOOR = 0.7
# The full identifier's probability that names a short text's language outside the restricted set.
SURE = 0.95
# An outlet's usual language: most of its confidently identified items, and at least this share.
USUAL_SHARE = 0.75


@dataclass(frozen=True)
class Identified:
    """A text's language, and whether the text itself said so confidently (not a hint)."""

    code: str | None
    confident: bool = False


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    # Loading the model takes ~0.3 s; do it once per process, and only when first needed.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def _restricted():  # type: ignore[no-untyped-def]
    """A second identifier over the languages we summarise; it shares the loaded model."""
    from newsflow.tasks.common.languages import PUNKT_LANGUAGES

    full = _identifier()
    # set_languages changes the instance it is called on: a shallow copy keeps the full one whole
    # (the restricted tables are new arrays sliced from the shared model).
    restricted = copy.copy(full)
    restricted.set_languages(sorted(set(PUNKT_LANGUAGES) & set(full.nb_classes)))
    return restricted


def plausible_languages() -> list[str]:
    """The languages short text is identified among (those we have a sentence splitter for)."""
    return list(dict.fromkeys(_restricted().nb_classes))


def identify(text: str, *, hint: str | None = None) -> Identified:
    """The text's language: the body decides when it is long; a short text takes the declared
    `hint`, else a confident restricted identification, else None."""
    sample = text[:SAMPLE_CHARS]
    if len(sample.strip()) >= SHORT_CHARS:
        if not _has_letters(sample, MIN_LETTERS):
            return Identified(hint)
        code, probability = _identifier().classify(sample)
        return Identified(str(code), probability >= CONFIDENCE_FLOOR)
    if hint:
        return Identified(hint)
    if not _has_letters(sample, 1):
        return Identified(None)
    if not _mostly_latin(sample):
        # Other scripts are told apart by their letters, which the full identifier knows well
        # (Japanese, Arabic, Hindi, …); restricting it would force them into a European language.
        code, probability = _identifier().classify(sample)
        return Identified(str(code), True) if probability >= CONFIDENCE_FLOOR else Identified(None)
    restricted = _restricted()
    code, probability = max(
        restricted.classify(sample), restricted.classify(sample.casefold()), key=lambda r: r[1]
    )
    if probability >= CONFIDENCE_FLOOR:
        return Identified(str(code), True)
    # A language we do not summarise (Latvian, Indonesian, …) still gets its name when the full
    # identifier is sure of it; on English headlines it never is (0.4 at most on the UCI set).
    code, probability = _identifier().classify(sample)
    return Identified(str(code), True) if probability >= SURE else Identified(None)


def detect_language(text: str, *, hint: str | None = None) -> str | None:
    """The ISO 639-1 code of the text's language, or None when the text cannot tell (see
    `identify`)."""
    return identify(text, hint=hint).code


def usual_language(codes: Iterable[str | None] | Counter[str]) -> str | None:
    """The language of most of an outlet's confidently identified items (their codes, or a count
    by code): at least USUAL_SHARE of them; None when it has none or several."""
    counts = codes if isinstance(codes, Counter) else Counter(code for code in codes if code)
    if not counts:
        return None
    code, count = counts.most_common(1)[0]
    return code if count >= USUAL_SHARE * sum(counts.values()) else None


def _mostly_latin(text: str) -> bool:
    """At least half the letters are Latin script (the summarised languages but Greek/Russian)."""
    latin = other = 0
    for ch in text:
        if ch.isalpha():
            if ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
                latin += 1
            else:
                other += 1
    return latin >= other


def _has_letters(text: str, count: int) -> bool:
    """At least `count` letters in the text (stops counting there: a news text gets there fast)."""
    for ch in text:
        if ch.isalpha():
            count -= 1
            if count == 0:
                return True
    return count <= 0
