"""Contained copies: a cut wire story or a teaser is a duplicate of the full text, which stays
canonical; shared paragraphs, quoted statements and a few words never make a copy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsflow.db import open_db
from newsflow.tasks.common import shingles
from newsflow.tasks.common.sentences import split_sentences
from newsflow.tasks.dedup import containment, neardup, signature_index, signatures
from tests.test_neardup import _article, _item, _row, _save


def _cut(body: str, share: float) -> str:
    """The first paragraphs up to `share` of the words, ending at a sentence (a wire cut)."""
    budget = share * len(body.split())
    kept, words = [], 0
    for paragraph in body.split("\n\n"):
        taken = []
        for sentence in split_sentences(paragraph, "en"):
            if words + len(sentence.split()) > budget and (kept or taken):
                break
            taken.append(sentence)
            words += len(sentence.split())
        if taken:
            kept.append(" ".join(taken))
        if words + 1 > budget:
            break
    return "\n\n".join(kept)


def _decision(db: Database, key: str) -> tuple[str, float, float, str, int]:
    return db.execute(
        "SELECT x.method, x.score, x.threshold, x.reason, x.canonical_id FROM dedup_decisions x"
        " JOIN documents d ON d.id = x.document_id WHERE d.key = ? AND x.decision = 'duplicate'"
        " ORDER BY x.id DESC LIMIT 1",
        [key],
    ).fetchone()


def _root(db: Database, key: str) -> object:
    row = _row(db, key)
    return row["duplicate_of"] or row["id"]


@pytest.mark.parametrize("first", ["full", "cut"])
def test_a_cut_wire_story_is_a_duplicate_of_the_full_one_whichever_arrives_first(
    db_path: Path, corpus: Path, first: str
) -> None:
    title, body = _article(corpus, "politics/037.txt")
    cut = _cut(body, 0.4)
    # The Jaccard rule alone keeps both: this is the case containment is for.
    assert shingles.jaccard(shingles.shingles(cut, "en"), shingles.shingles(body, "en")) < 0.45
    db = open_db(db_path)
    texts = {"full": body, "cut": cut}
    order = [first, "cut" if first == "full" else "full"]
    for run, key in enumerate(order):  # two runs: the second is decided against the first
        _save(db, _item(key, texts[key], title=title))
        neardup.deduplicate(db, run_id=f"run-{run}")

    full, copy = _row(db, "full"), _row(db, "cut")
    assert full["duplicate_of"] is None and full["summary_status"] != "duplicate"
    assert copy["duplicate_of"] == full["id"] and copy["summary_status"] == "duplicate"
    method, score, threshold, reason, canonical = _decision(db, "cut")
    assert (method, threshold, canonical) == ("containment", 0.85, full["id"])
    assert score >= 0.85
    assert re.match(rf"contained: (0\.\d\d|1\.00) of its shingles in #{full['id']} ", reason)
    assert f"{score:.2f}" in reason and "longer full text" in reason


def test_a_teaser_of_the_full_article_is_its_duplicate(db_path: Path, corpus: Path) -> None:
    title, body = _article(corpus, "business/021.txt")
    sentences = [s for p in body.split("\n\n") for s in split_sentences(p, "en")]
    teaser = " ".join(sentences[:3]) + "\n\nRead the full story on our website."
    db = open_db(db_path)
    _save(db, _item("teaser", teaser, title=title, url="https://teasers.example/a"))
    _save(db, _item("article", body, title=title, url="https://paper.example/a"))
    neardup.deduplicate(db, run_id="test")
    assert _row(db, "article")["duplicate_of"] is None
    assert _row(db, "teaser")["duplicate_of"] == _row(db, "article")["id"]
    assert _decision(db, "teaser")[0] == "containment"


def test_articles_sharing_a_long_boilerplate_paragraph_are_not_merged(
    db_path: Path, corpus: Path
) -> None:
    boilerplate = (
        "About the company: founded more than a century ago, the group employs thousands of"
        " people in offices across Europe, Asia and the Americas, and publishes newspapers,"
        " magazines and websites read by millions every day. Its shares are listed on several"
        " exchanges, and its annual report is available from the investor relations department"
        " on request."
    )
    short_title, short_body = _article(corpus, "tech/025.txt")
    short = boilerplate + "\n\n" + _cut(short_body, 0.35)  # worst case: both open with it
    long_title, long_body = _article(corpus, "business/021.txt")
    db = open_db(db_path)
    _save(
        db,
        _item("short", short, title=short_title),
        _item("long", boilerplate + "\n\n" + long_body, title=long_title),
    )
    neardup.deduplicate(db, run_id="test")
    assert _root(db, "short") != _root(db, "long")


def test_a_report_built_on_a_quoted_statement_is_not_a_copy_of_another_quoting_it(
    db_path: Path, corpus: Path
) -> None:
    statement = (
        '"We have reviewed every option available to us and concluded that the plant will close'
        " at the end of the year. We know this is painful news for our workers and for the town,"
        " and we will offer every employee a place at another site or a fair settlement. The"
        ' decision was not taken lightly," the company said in a statement released on Monday'
        " afternoon to staff and to the press."
    )
    _, body = _article(corpus, "business/021.txt")
    paragraphs = body.split("\n\n")
    db = open_db(db_path)
    _save(
        db,
        _item("brief", "Workers at the factory learned on Monday that their jobs are at risk."
              "\n\n" + statement, title="Factory to close"),
        _item("feature", "\n\n".join([*paragraphs[:2], statement, *paragraphs[2:]]),
              title="A town without its factory"),
    )  # fmt: skip
    neardup.deduplicate(db, run_id="test")
    assert _root(db, "brief") != _root(db, "feature")


def test_a_text_held_by_two_different_articles_never_merges_them(
    db_path: Path, corpus: Path
) -> None:
    _, opening = _article(corpus, "politics/037.txt")
    lede = _cut(opening, 0.3)
    db = open_db(db_path)
    _save(
        db,
        _item("one", lede + "\n\n" + _article(corpus, "tech/025.txt")[1]),
        _item("two", lede + "\n\n" + _article(corpus, "sport/023.txt")[1]),
    )
    neardup.deduplicate(db, run_id="run-1")
    _save(db, _item("lede", lede))
    neardup.deduplicate(db, run_id="run-2")
    assert _root(db, "one") != _root(db, "two")
    assert _root(db, "lede") in {_root(db, "one"), _root(db, "two")}


@pytest.mark.parametrize("words", [5, 12, 22])
def test_a_headline_or_a_few_words_is_never_contained(
    db_path: Path, corpus: Path, words: int
) -> None:
    title, body = _article(corpus, "politics/037.txt")
    few = " ".join(body.split()[:words])
    db = open_db(db_path)
    _save(db, _item("full", body, title=title), _item("few", few, title=title))
    neardup.deduplicate(db, run_id="test")
    assert _row(db, "few")["duplicate_of"] is None
    assert _row(db, "full")["duplicate_of"] is None


def test_containment_guards_count_distinct_shingles_and_the_opening() -> None:
    words = [f"w{i}" for i in range(200)]
    longer = containment.shingled(words)
    cut = containment.containment(containment.shingled(words[:60]), longer)
    assert (cut.share, cut.shingles, cut.opening, cut.holds) == (1.0, 58, 1.0, True)
    few = containment.containment(containment.shingled(words[:20]), longer)
    assert few.share == 1.0 and not few.holds and "only 18 shingles" in few.why_not()
    middle = containment.containment(containment.shingled(words[120:180]), longer)
    assert middle.share == 1.0 and middle.opening == 0.0 and not middle.holds


def test_the_lede_look_up_searches_the_band_index_and_never_scans(db_path: Path) -> None:
    db = open_db(db_path)
    lede = signatures.lede_signature([f"w{i}" for i in range(60)])
    assert lede is not None
    keys = [(b, k) for b, k, _ in signatures.lede_rows_of(lede, 1)]
    assert all(band >= signatures.LEDE_BAND_BASE for band, _ in keys)
    plan = " | ".join(signature_index.candidate_query_plan(db, keys, lede=True))
    assert "SEARCH b USING PRIMARY KEY (band=? AND bucket=?" in plan
    assert "SEARCH n USING PRIMARY KEY (band=? AND bucket=?)" in plan  # its newest members
    assert "SEARCH d USING INTEGER PRIMARY KEY" in plan
    assert "SCAN b" not in plan and "SCAN d" not in plan and "SCAN documents" not in plan
