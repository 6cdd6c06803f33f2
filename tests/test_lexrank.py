"""The vectorised LexRank chooses exactly the sentences sumy's LexRankSummarizer chooses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sumy.nlp.stemmers import Stemmer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.utils import get_stop_words

from newsflow.tasks.common.sentences import split_paragraphs
from newsflow.tasks.common.textio import decode_bytes
from newsflow.tasks.ingest.clean import clean_article
from newsflow.tasks.ingest.language import detect_language
from newsflow.tasks.summarise import lexrank
from newsflow.tasks.summarise.lexrank import VectorLexRank
from newsflow.tasks.summarise.summarize import build_document, language_name, summarize_text

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
LENGTHS = (1, 3, 5, "20%")


def pair(language: str) -> tuple[LexRankSummarizer, VectorLexRank]:
    name = language_name(language)
    reference, vectorised = LexRankSummarizer(Stemmer(name)), VectorLexRank(Stemmer(name))
    reference.stop_words = vectorised.stop_words = get_stop_words(name)
    return reference, vectorised


def choices(summarizer, document, count) -> list[str]:  # type: ignore[no-untyped-def]
    # sumy divides by a zero norm when no two sentences are alike; it still returns a choice.
    with np.errstate(divide="ignore", invalid="ignore"):
        return [str(s) for s in summarizer(document, count)]


def assert_same_choice(body: str, language: str) -> None:
    reference, vectorised = pair(language)
    document = build_document(split_paragraphs(body, language), language)
    for count in LENGTHS:
        assert choices(vectorised, document, count) == choices(reference, document, count), count


def article(path: Path) -> tuple[str, str]:
    body = clean_article(decode_bytes(path.read_bytes())).body
    return body, detect_language(body) or "en"


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.stem)
def test_same_sentences_as_sumy_for_each_seed(path: Path):
    assert_same_choice(*article(path))


def test_same_sentences_as_sumy_for_every_bbc_article(corpus: Path):
    paths = sorted((corpus / "bbc-news-summary" / "article").glob("*/*.txt"))
    assert len(paths) >= 200
    for path in paths:
        assert_same_choice(*article(path))


def test_summarize_text_lexrank_keeps_sumy_indexes(seeds_copy: Path):
    for path in sorted(seeds_copy.glob("*.txt")):
        body, language = article(path)
        reference, _ = pair(language)
        document = build_document(split_paragraphs(body, language), language)
        positions = {id(s): i for i, s in enumerate(document.sentences)}
        expected = sorted(positions[id(s)] for s in reference(document, 3))
        assert (
            summarize_text(body, language=language, method="lexrank", length=3).indexes == expected
        )


def test_repeated_sentences_share_the_last_copys_score_like_sumy():
    body = (
        "The council approved the budget on Monday. Critics said the budget was too small.\n\n"
        "The council approved the budget on Monday. The mayor welcomed the vote.\n\n"
        "Schools will get more money from the budget. The council approved the budget on Monday."
    )
    assert_same_choice(body, "en")


def test_equal_scores_keep_document_order():
    # No two sentences share a word: every sentence scores the same, so the first ones win.
    body = "Alpha bravo charlie. Delta echo foxtrot. Golf hotel india. Juliet kilo lima."
    _, vectorised = pair("en")
    document = build_document(split_paragraphs(body, "en"), "en")
    assert choices(vectorised, document, 2) == ["Alpha bravo charlie.", "Delta echo foxtrot."]
    assert_same_choice(body, "en")


def test_borderline_cosines_use_sumys_formula(monkeypatch: pytest.MonkeyPatch, corpus: Path):
    # Widen the band so that every pair is recomputed the slow way: the choice must not move.
    monkeypatch.setattr(lexrank, "BORDERLINE", 2.0)
    for path in sorted((corpus / "bbc-news-summary" / "article" / "tech").glob("*.txt"))[:10]:
        assert_same_choice(*article(path))


def test_empty_and_stop_word_only_documents():
    reference, vectorised = pair("en")
    assert vectorised(build_document([], "en"), 3) == ()
    document = build_document([["It is what it is.", "And so on."]], "en")
    assert choices(vectorised, document, 1) == choices(reference, document, 1)


WORDS = ["budget", "council", "vote", "the", "and", "Budget", "votes", "voting", "mayor",
         "schools", "money", "it", "Monday", "Haushalt", "Rat"]  # fmt: skip

sentence_words = st.lists(st.sampled_from(WORDS), min_size=0, max_size=8)
documents = st.lists(st.lists(sentence_words, min_size=1, max_size=4), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paragraphs=documents, count=st.integers(min_value=1, max_value=6))
def test_same_sentences_as_sumy_for_generated_documents(paragraphs, count):
    # A tiny vocabulary makes ties, repeats, stop-word-only and empty sentences common.
    text = [[" ".join(words) + "." for words in paragraph] for paragraph in paragraphs]
    reference, vectorised = pair("en")
    document = build_document(text, "en")
    assert choices(vectorised, document, count) == choices(reference, document, count)
