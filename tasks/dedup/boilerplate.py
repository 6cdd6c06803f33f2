"""Boilerplate: two short bodies that match under different headlines they do not talk about are
the same notice (a paywall, a disclaimer), not the same article."""

from __future__ import annotations

from collections.abc import Callable

from newsflow.tasks.common import shingles
from newsflow.tasks.dedup.documents import Doc

# Bodies this short can be boilerplate shared under different headlines (see is_boilerplate_pair).
BOILERPLATE_MAX_WORDS = 80


_TITLE_WORD_MIN = 4


def _content_words(text: str, language: str | None) -> set[str]:
    return {
        word for word in shingles.tokens(text, language) if len(word) >= _TITLE_WORD_MIN - 1
        and not word.isdigit()
    } - shingles.stop_words(language)  # fmt: skip


def _title_similarity(a: str, b: str) -> float:
    return shingles.jaccard(set(shingles.tokens(a)), set(shingles.tokens(b)))


def _title_coverage(title: str, body: str, language: str | None) -> float:
    """Share of the headline's content words that the body mentions."""
    wanted = _content_words(title, language)
    if not wanted:
        return 1.0  # nothing to tell: do not call it boilerplate
    return len(wanted & _content_words(body, language)) / len(wanted)


def is_boilerplate_pair(body: Callable[[int], str], a: Doc, b: Doc) -> bool:
    """Short, matching bodies under different headlines that they do not talk about."""
    if a.word_count > BOILERPLATE_MAX_WORDS or b.word_count > BOILERPLATE_MAX_WORDS:
        return False
    if not a.title or not b.title or _title_similarity(a.title, b.title) >= 0.5:
        return False
    return all(_title_coverage(doc.title or "", body(doc.id), doc.language) < 0.5 for doc in (a, b))
