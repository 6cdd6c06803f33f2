"""Summaries: every method over sumy's document model, the fused default, lengths and statuses."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sumy.nlp.stemmers import Stemmer
from sumy.summarizers.reduction import ReductionSummarizer
from sumy.utils import get_stop_words

from newsflow.tasks.common.sentences import split_paragraphs, split_sentences
from newsflow.tasks.common.textio import decode_bytes
from newsflow.tasks.ingest.clean import clean_article
from newsflow.tasks.summarise import fusion
from newsflow.tasks.summarise.summarize import (
    DEFAULT_METHOD,
    DEFAULT_SENTENCES,
    METHODS,
    UnsupportedLanguage,
    build_document,
    is_supported,
    length_key,
    parse_length,
    summarise_documents,
    summarize_text,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SUMY = ("lexrank", "lsa", "luhn", "textrank", "kl", "sumbasic", "reduction")

BODY = (
    "The central bank raised interest rates by half a point on Thursday, its biggest rise in a "
    "decade. The bank said inflation had risen faster than expected in the spring.\n\n"
    "Economists had expected a smaller rise. Mortgage rates are likely to follow the bank's "
    "lead within weeks, lenders said. The bank's governor said further rises in interest rates "
    "could not be ruled out if inflation stayed high.\n\n"
    "Shares fell after the announcement. The currency rose against the dollar. The next "
    "decision on interest rates is due in six weeks."
)


def test_methods_are_the_sumy_seven_plus_the_fused_default():
    assert set(METHODS) == {*SUMY, "fusion"}
    assert DEFAULT_METHOD == "fusion"
    assert DEFAULT_SENTENCES == 3


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_sentences_in_document_order_with_their_indexes(method: str):
    flat = split_sentences(BODY, "en")
    summary = summarize_text(BODY, language="en", method=method, length=3)
    assert len(summary.sentences) == 3
    assert summary.indexes == sorted(summary.indexes)
    assert summary.sentences == [flat[i] for i in summary.indexes]
    assert summary.text == "\n".join(summary.sentences)


def test_fusion_prefers_long_central_sentences_and_is_deterministic():
    first = summarize_text(BODY, language="en", method="fusion", length=3)
    assert first == summarize_text(BODY, language="en", method="fusion", length=3)
    # Rates, mortgages and the governor's warning; not "Shares fell after the announcement."
    assert first.indexes == [0, 3, 4]


def test_fusion_returns_every_sentence_when_asked_for_more_than_there_are():
    flat = split_sentences(BODY, "en")
    summary = summarize_text(BODY, language="en", method="fusion", length=100)
    assert summary.sentences == flat
    assert summary.indexes == list(range(len(flat)))


def test_fusion_takes_a_ratio_of_the_document():
    assert len(summarize_text(BODY, language="en", method="fusion", length=0.5).sentences) == 4


def test_fusion_never_picks_a_repeated_lede_twice():
    lede = split_sentences(BODY, "en")[0]
    body = f"{BODY}\n\n{lede}"
    summary = summarize_text(body, language="en", method="fusion", length=4)
    assert summary.sentences.count(lede) == 1
    assert len(summary.sentences) == 4


def test_fusion_summarises_german():
    body = (
        "Die Zentralbank hat am Donnerstag den Leitzins um einen halben Prozentpunkt erhöht. "
        "Die Inflation sei schneller gestiegen als erwartet, teilte die Zentralbank mit. "
        "Ökonomen hatten mit einer kleineren Erhöhung gerechnet. Die Aktienkurse fielen. "
        "Weitere Erhöhungen des Leitzinses seien möglich, wenn die Inflation hoch bleibe."
    )
    summary = summarize_text(body, language="de", method="fusion", length=2)
    assert len(summary.sentences) == 2
    assert "Die Aktienkurse fielen." not in summary.sentences


def test_reduction_feature_is_sumys_reduction_rating():
    paragraphs = split_paragraphs(BODY, "en")
    document = build_document(paragraphs, "en")
    sumy = ReductionSummarizer(Stemmer("english"))
    sumy.stop_words = get_stop_words("english")
    expected = sumy.rate_sentences(document)
    stop = frozenset(w.lower() for w in get_stop_words("english"))
    stems = [
        [Stemmer("english")(w.lower()) for w in s.words if w.lower() not in stop]
        for s in document.sentences
    ]
    got = fusion.reduction_weights(stems)
    assert np.allclose(got, [expected[s] for s in document.sentences])


def test_cosine_and_pagerank_are_well_formed():
    rows = [["rates", "rise"], ["rates", "fall"], ["weather", "sunny"], []]
    cosine = fusion.cosine_matrix(rows)
    assert np.allclose(cosine, cosine.T)
    assert np.allclose(np.diag(cosine), 0)
    assert cosine[0, 1] == pytest.approx(0.5)
    assert cosine[0, 2] == 0 and cosine[3].sum() == 0
    ranks = fusion.pagerank(cosine)
    assert ranks[0] == pytest.approx(ranks[1]) and ranks[0] > ranks[2]


def test_choose_prefers_expected_reference_words_and_skips_near_duplicates():
    lengths = np.array([10.0, 30.0, 30.0, 5.0])
    probability = np.array([0.9, 0.5, 0.5, 0.99])
    assert fusion.choose(lengths, probability, 2) == [1, 2]
    twins = {frozenset((1, 2))}
    similar = lambda i, j: 0.95 if frozenset((i, j)) in twins else 0.0  # noqa: E731
    assert fusion.choose(lengths, probability, 2, similarity=similar) == [0, 1]
    assert fusion.cosine(Counter("aab"), Counter("ab")) == pytest.approx(3 / (5**0.5 * 2**0.5))


def test_seed_summaries_leave_out_headline_and_caption():
    text = decode_bytes((SEEDS / "002_45a4c2a74e15c048.txt").read_bytes())
    article = clean_article(text)
    assert article.title and article.captions
    summary = summarize_text(article.body, language="en", method=DEFAULT_METHOD, length=3)
    assert len(summary.sentences) == 3
    for sentence in summary.sentences:
        assert article.title not in sentence
        assert not any(caption in sentence for caption in article.captions)


def test_unsupported_language_is_refused():
    assert is_supported("en") and is_supported("de")
    assert not is_supported("ja") and not is_supported(None) and not is_supported("")
    with pytest.raises(UnsupportedLanguage):
        summarize_text(BODY, language="ja")
    with pytest.raises(ValueError, match="unknown method"):
        summarize_text(BODY, language="en", method="nope")


def test_lengths_parse_and_key():
    assert parse_length("3") == 3 and parse_length(3.0) == 3 and parse_length("0.2") == 0.2
    assert length_key(3) == "3" and length_key(0.2) == "0.2"
    for bad in ("0", "-1", "2.5"):
        with pytest.raises(ValueError):
            parse_length(bad)


def test_summarise_documents_reports_a_status_per_document():
    documents = [
        {"id": 1, "body": BODY, "language": "en", "content_hash": "a"},
        {"id": 2, "body": BODY, "language": "ja", "content_hash": "b"},
        {"id": 3, "body": "", "language": "en", "content_hash": "c"},
    ]
    results, statuses = summarise_documents(documents, method=DEFAULT_METHOD, length=2)
    assert statuses == {1: "ok", 2: "unsupported_language", 3: "too_short"}
    assert [(document_id, digest) for document_id, digest, _ in results] == [(1, "a")]
    assert len(results[0][2].sentences) == 2
