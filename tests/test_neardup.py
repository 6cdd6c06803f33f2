"""Near-duplicates: edited copies found, distinct articles kept, every decision explained."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsflow.db import open_db
from newsflow.tasks.common import shingles
from newsflow.tasks.dedup import neardup, settings, signature_index, signatures
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.store import writer
from newsflow.tasks.store.models import Item

BBC = "bbc-news-summary/article"


def _article(corpus: Path, name: str) -> tuple[str, str]:
    title, body = (corpus / BBC / name).read_text(encoding="utf-8").split("\n", 1)
    return title.strip(), "\n\n".join(p.strip() for p in body.split("\n") if p.strip())


def _item(key: str, body: str, **fields: object) -> Item:
    return loader.finish_item(Item(key=key, body=body, **fields))  # type: ignore[arg-type]


def _save(db: Database, *items: Item) -> None:
    writer.save_items(db, list(items), run_id="test")


def _row(db: Database, key: str) -> dict[str, object]:
    cursor = db.execute("SELECT * FROM documents WHERE key = ?", [key])
    names = [c[0] for c in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _edits(body: str, rng: random.Random) -> dict[str, str]:
    """A reader's everyday near-duplicates of one article."""
    sentences = body.replace("\n\n", " ").split(". ")
    words = body.split(" ")
    for i in rng.sample(range(len(words)), k=len(words) // 20):
        words[i] = rng.choice(["market", "report", "company", "season", "minister"])
    dropped = [s for i, s in enumerate(sentences) if i == 0 or i % 5]
    shuffled = sentences[1:]
    rng.shuffle(shuffled)
    return {
        "boilerplate": body + "\n\nSign up for our newsletter.\n\nReporting by the news desk.",
        "dropped": ". ".join(dropped),
        "reordered": ". ".join([sentences[0], *shuffled]),
        "words": " ".join(words),
        "truncated": body[: body.rfind(" ", 0, int(len(body) * 0.8))] + " […]",
    }


def test_edited_copies_of_real_articles_are_duplicates_of_their_originals(
    corpus: Path, db_path: Path
) -> None:
    db = open_db(db_path)
    rng = random.Random(7)
    names = ["business/021.txt", "politics/037.txt", "tech/025.txt", "sport/023.txt",
             "sport/048.txt"]  # fmt: skip
    for name in names:
        title, body = _article(corpus, name)
        _save(db, _item(name, body, title=title))
        copies = _edits(body, rng)
        copies["headline"] = body
        _save(db, *(_item(f"{name}#{edit}", text, title="Another headline" if edit == "headline"
                          else title) for edit, text in copies.items()))  # fmt: skip
    result = neardup.deduplicate(db, run_id="test")

    for name in names:
        original = _row(db, name)
        # The longest text is canonical, so a copy with boilerplate added may hold that role.
        root = original["duplicate_of"] or original["id"]
        copies = db.execute(
            "SELECT key, coalesce(duplicate_of, id) FROM documents WHERE key LIKE ?", [f"{name}#%"]
        ).fetchall()
        assert {k: r for k, r in copies} == {k: root for k, _ in copies}, name
    # Same saga, different reports (sport 023 and 048): never merged with each other.
    assert (_row(db, "sport/023.txt")["duplicate_of"] or _row(db, "sport/023.txt")["id"]) != (
        _row(db, "sport/048.txt")["duplicate_of"] or _row(db, "sport/048.txt")["id"]
    )
    assert result.checked == 35


def test_distinct_articles_on_one_topic_stay_canonical(corpus: Path, db_path: Path) -> None:
    db = open_db(db_path)
    names = [f"sport/0{n}.txt" for n in (23, 33, 48, 50, 51, 54)]  # six reports on one saga
    _save(db, *(_item(name, _article(corpus, name)[1], title=_article(corpus, name)[0])
                for name in names))  # fmt: skip
    neardup.deduplicate(db, run_id="test")
    assert (
        db.execute("SELECT count(*) FROM documents WHERE duplicate_of IS NULL").fetchone()[0] == 6
    )


def test_canonical_is_the_longest_text_then_the_earliest(db_path: Path, corpus: Path) -> None:
    _, body = _article(corpus, "business/021.txt")
    short = body[: int(len(body) * 0.85)]
    db = open_db(db_path)
    _save(
        db,
        _item("late-long", body, published_at="2005-02-03T00:00:00Z"),
        _item("early-short", short, published_at="2005-02-01T00:00:00Z"),
        _item("early-long", body + " ", published_at="2005-02-02T00:00:00Z"),
    )
    neardup.deduplicate(db, run_id="test")
    # 'early-long' has the same normalised body as 'late-long': the earlier of the two wins.
    canonical = _row(db, "early-long")
    assert canonical["duplicate_of"] is None
    assert _row(db, "late-long")["duplicate_of"] == canonical["id"]
    assert _row(db, "early-short")["duplicate_of"] == canonical["id"]
    reason = db.execute(
        "SELECT reason FROM dedup_decisions WHERE document_id = ? AND decision = 'duplicate'"
        " ORDER BY id DESC",
        [_row(db, "early-short")["id"]],
    ).fetchone()[0]
    assert "longer full text" in reason


def test_every_decision_is_logged_with_pair_method_score_threshold_and_why(
    db_path: Path, corpus: Path
) -> None:
    _, body = _article(corpus, "tech/025.txt")
    db = open_db(db_path)
    _save(
        db,
        _item("a", body, url="https://a.example/psp"),
        _item("b", body),  # exact copy
        _item("c", body.replace("Sony", "Sonny").replace("console", "device")),  # edited
        _item("d", body + "\n\nMore.", url="https://a.example/psp"),  # same URL, another key
        _item("e", _article(corpus, "tech/045.txt")[1]),  # another PSP story
    )
    neardup.deduplicate(db, run_id="run-1")
    cursor = db.execute(
        "SELECT d.key, x.method, x.score, x.threshold, x.decision, x.reason, x.canonical_id"
        " FROM dedup_decisions x JOIN documents d ON d.id = x.document_id ORDER BY x.id"
    )
    rows = cursor.fetchall()
    latest = {key: (method, score, threshold, decision, reason, canonical)
              for key, method, score, threshold, decision, reason, canonical in rows}  # fmt: skip
    canonical_id = _row(db, "a")["id"]  # as long as the others (within 10 %), stored first
    assert latest["a"][3] == "kept"
    assert latest["b"][:4] == ("content_hash", 1.0, 1.0, "duplicate")
    assert latest["b"][5] == canonical_id
    method, score, threshold, decision, reason, kept = latest["c"]
    assert (method, decision, kept, threshold) == ("minhash", "duplicate", canonical_id, 0.5)
    assert 0.5 <= score < 1 and "Jaccard" in reason and "kept #1: as long" in reason
    assert latest["d"][0] == "url" and latest["d"][3] == "duplicate"
    assert latest["e"][3] == "distinct"
    assert json.loads(str(_row(db, "a")["outlets"])) == ["a.example"]


def test_boilerplate_under_different_headlines_is_flagged_not_a_duplicate(db_path: Path) -> None:
    notice = (
        "This article is available to subscribers only. Log in with your account or start a"
        " free trial to continue reading our award-winning journalism today."
    )
    db = open_db(db_path)
    _save(
        db,
        _item("x", notice, title="Floods close roads across the north", url="https://p.example/1"),
        _item("y", notice, title="Central bank holds rates at 4%", url="https://p.example/2"),
        _item("z", notice, title="Central bank holds rates at 4%", url="https://q.example/9"),
    )
    result = neardup.deduplicate(db, run_id="test")
    rows = {key: _row(db, key) for key in "xyz"}
    assert {r["summary_status"] for r in rows.values()} == {"boilerplate"}
    assert {r["duplicate_of"] for r in rows.values()} == {None}
    assert result.boilerplate == 3
    rejects = db.execute("SELECT location, reason FROM rejects ORDER BY location").fetchall()
    assert [r[1] for r in rejects] == ["boilerplate_only"] * 3
    pending = (
        writer.ids_to_summarise(db, method="lexrank", length="3", settings_version="1")
        if hasattr(writer, "ids_to_summarise")
        else [  # fmt: skip
            d["id"]
            for d in writer.documents_to_summarise(
                db, method="lexrank", length="3", settings_version="1"
            )
        ]
    )
    assert pending == []


def test_a_short_wire_brief_under_two_headlines_is_still_a_duplicate(db_path: Path) -> None:
    brief = (
        "Cambodia and Japan agreed on Monday to deepen defence ties and to hold talks on demining"
        " in Phnom Penh next year, officials said."
    )
    db = open_db(db_path)
    _save(
        db,
        _item("one", brief, title="Cambodia and Japan deepen defence ties"),
        _item("two", brief, title="Japan, Cambodia agree on demining talks"),
    )
    neardup.deduplicate(db, run_id="test")
    assert _row(db, "two")["duplicate_of"] == _row(db, "one")["id"]


def test_each_run_decides_only_new_and_changed_documents(db_path: Path, corpus: Path) -> None:
    db = open_db(db_path)
    _save(db, *(_item(f"d{i}", _article(corpus, f"politics/0{i}.txt")[1]) for i in range(21, 31)))
    first = neardup.deduplicate(db, run_id="1")
    again = neardup.deduplicate(db, run_id="2")
    assert (first.checked, first.signatures) == (10, 10)
    assert (again.checked, again.signatures) == (0, 0)

    _, body = _article(corpus, "politics/021.txt")
    _save(db, _item("copy", body + "\n\nShare this article on Facebook"))
    third = neardup.deduplicate(db, run_id="3")
    assert (third.checked, third.signatures) == (1, 1)
    # A line longer, which does not count: the article stored first stays canonical.
    assert _row(db, "copy")["duplicate_of"] == _row(db, "d21")["id"]


def test_a_changed_document_is_decided_again_and_its_copies_released(
    db_path: Path, corpus: Path
) -> None:
    _, body = _article(corpus, "business/021.txt")
    db = open_db(db_path)
    _save(db, _item("orig", body), _item("copy", body[: int(len(body) * 0.9)]))
    neardup.deduplicate(db, run_id="1")
    assert _row(db, "copy")["duplicate_of"] == _row(db, "orig")["id"]

    _save(db, _item("orig", _article(corpus, "entertainment/021.txt")[1]))  # a new version
    result = neardup.deduplicate(db, run_id="2")
    assert result.signatures == 1
    # The old text's buckets are gone: only the new signature's are indexed.
    orig = _row(db, "orig")["id"]
    (blob,) = db.execute("SELECT minhash FROM signatures WHERE document_id = ?", [orig]).fetchone()
    keys = signatures.bucket_keys(
        signatures.from_blob(blob), *signatures.lsh_params(settings.DEFAULT_THRESHOLD)
    )
    (lede,) = db.execute("SELECT lede FROM signatures WHERE document_id = ?", [orig]).fetchone()
    keys += [(b, k) for b, k, _ in signatures.lede_rows_of(signatures.from_blob(lede), orig)]
    stored = db.execute("SELECT band, bucket FROM lsh_bands WHERE document_id = ?", [orig])
    assert sorted(stored.fetchall()) == sorted(keys)
    assert _row(db, "copy")["duplicate_of"] is None
    assert _row(db, "copy")["summary_status"] is None  # to be summarised now
    # The store released the copy when the text changed; dedup decided it again and logged it.
    assert result.checked == 2
    latest = db.execute(
        "SELECT decision FROM dedup_decisions WHERE document_id = ? ORDER BY id DESC",
        [_row(db, "copy")["id"]],
    ).fetchone()
    assert latest == ("distinct",)


def test_near_duplicates_are_looked_for_only_within_the_window(db_path: Path, corpus: Path) -> None:
    _, body = _article(corpus, "tech/025.txt")
    _, other = _article(corpus, "tech/026.txt")
    db = open_db(db_path)
    _save(
        db,
        _item("jan", body, published_at="2005-01-01T00:00:00Z"),
        _item("apr", body + " Extra line.", published_at="2005-04-01T00:00:00Z"),
        _item("feb", other, published_at="2005-02-01T00:00:00Z"),
        _item("jul-exact", other, published_at="2005-07-01T00:00:00Z"),
    )
    neardup.deduplicate(db, run_id="test")
    assert _row(db, "apr")["duplicate_of"] is None  # 90 days apart: outside 30 days
    assert _row(db, "jul-exact")["duplicate_of"] == _row(db, "feb")["id"]  # identical: any date


def test_candidate_look_up_searches_the_band_index_and_never_scans(db_path: Path) -> None:
    db = open_db(db_path)
    values = signatures.signature("some words to hash for a signature", "en")
    keys = signatures.bucket_keys(values, *signatures.lsh_params(0.5))
    plan = " | ".join(signature_index.candidate_query_plan(db, keys))
    assert "SEARCH b USING PRIMARY KEY (band=? AND bucket=?" in plan
    assert "SEARCH n USING PRIMARY KEY (band=? AND bucket=?)" in plan  # its newest members
    assert "SCAN b" not in plan and "SCAN lsh_bands" not in plan


def test_a_story_carried_by_more_outlets_than_a_bucket_reads_is_still_one_group(
    db_path: Path, corpus: Path
) -> None:
    """A crowded bucket is read for its newest members only; copies still find their group."""
    title, body = _article(corpus, "politics/037.txt")
    rng = random.Random(11)
    outlets = signature_index.BUCKET_LIMIT + 30
    db = open_db(db_path)
    _save(db, _item("wire", body, title=title))
    for n in range(outlets):  # each outlet's own light edit of the same wire story
        words = body.split(" ")
        for i in rng.sample(range(len(words)), k=len(words) // 100):
            words[i] = rng.choice(["reportedly", "officials", "on Monday", "the government"])
        _save(db, _item(f"outlet-{n}", " ".join(words), title=title))
    neardup.deduplicate(db, run_id="1")
    roots = {r for (r,) in db.execute("SELECT coalesce(duplicate_of, id) FROM documents")}
    assert len(roots) == 1
    crowded = db.execute(
        "SELECT band, bucket FROM lsh_bands GROUP BY band, bucket HAVING count(*) > ?",
        [signature_index.BUCKET_LIMIT],
    ).fetchall()
    assert crowded  # the look-ups below met buckets over the limit

    _save(db, _item("late-copy", body + "\n\nReporting by the news desk.", title=title))
    neardup.deduplicate(db, run_id="2")
    assert len({r for (r,) in db.execute("SELECT coalesce(duplicate_of, id) FROM documents")}) == 1
    # A crowded bucket's look-up returns its newest members, up to the limit, never all of it.
    index = signature_index.SignatureIndex(db, *signatures.lsh_params(0.5), stamp="test")
    for band, bucket in crowded:
        everyone = [i for (i,) in db.execute(
            "SELECT document_id FROM lsh_bands WHERE band = ? AND bucket = ?"
            " ORDER BY document_id DESC", [band, bucket])]  # fmt: skip
        found = index._members({(band, bucket): 0})[band, bucket]
        assert [i for i, _ in found] == sorted(everyone[: signature_index.BUCKET_LIMIT])


def test_recompute_at_another_threshold_uses_stored_signatures_only(
    db_path: Path, corpus: Path
) -> None:
    _, body = _article(corpus, "sport/030.txt")
    sentences = body.split(". ")
    db = open_db(db_path)
    # Its last two thirds: a cut from the start would be a contained copy at any Jaccard threshold.
    _save(db, _item("full", body), _item("half", ". ".join(sentences[len(sentences) // 3 :])))
    neardup.deduplicate(db, run_id="1")
    assert _row(db, "half")["duplicate_of"] == _row(db, "full")["id"]

    strict = neardup.deduplicate(db, run_id="2", threshold=0.9, recompute=True)
    assert strict.signatures == 0 and strict.rebanded == 2
    assert _row(db, "half")["duplicate_of"] is None
    assert settings.load_settings(db).threshold == 0.9
    latest = db.execute(
        "SELECT threshold, decision FROM dedup_decisions WHERE document_id = ? ORDER BY id DESC",
        [_row(db, "half")["id"]],
    ).fetchone()
    assert latest == (0.9, "distinct")


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.9])
def test_lsh_banding_finds_pairs_at_the_threshold(threshold: float) -> None:
    bands, rows = signatures.lsh_params(threshold)
    assert bands * rows <= signatures.NUM_PERM
    assert 1 - (1 - threshold**rows) ** bands >= signatures.CANDIDATE_RECALL


def test_shingles_fold_case_diacritics_numbers_and_inflection() -> None:
    a = shingles.shingles("Die Außenminister trafen sich am 1.300. Tag", "de")
    b = shingles.shingles("die aussenministern trafen sich am 1300. tag", "de")
    assert shingles.jaccard(a, b) == 1.0


def test_hashed_shingles_are_the_shingles_one_hash_each() -> None:
    words = shingles.tokens("the minister met the minister of the interior in Phnom Penh", "en")
    hashes = shingles.shingle_hashes(words)
    assert len(hashes) == len(words) - shingles.SHINGLE_SIZE + 1
    # As many distinct hashes as distinct shingle strings: repeats agree, others differ.
    assert len(set(hashes.tolist())) == len(shingles.shingles_of(words))
    assert shingles.shingle_hashes(["a", "b", "c"]) != shingles.shingle_hashes(["c", "b", "a"])
    assert shingles.shingle_hashes(["a", "b"]) != shingles.shingle_hashes(["a", "b", "a"])
    assert len(shingles.shingle_hashes(["a"])) == 1 and len(shingles.shingle_hashes([])) == 0


def test_signature_estimates_track_exact_jaccard(corpus: Path) -> None:
    """The MinHash estimate stays within sampling error of the exact shingle Jaccard."""
    _, body = _article(corpus, "business/021.txt")
    rng = random.Random(3)
    exact = shingles.shingles(body, "en")
    for name, edited in _edits(body, rng).items():
        truth = shingles.jaccard(exact, shingles.shingles(edited, "en"))
        estimate = signatures.estimate(
            signatures.signature(body, "en"), signatures.signature(edited, "en")
        )
        # 256 permutations: the standard error is at most 1/(2·16) ≈ 0.03; allow four of them.
        assert abs(estimate - truth) <= 0.125, (name, truth, estimate)


def test_bad_threshold_is_refused(db_path: Path) -> None:
    with pytest.raises(settings.DedupError, match="threshold"):
        neardup.deduplicate(open_db(db_path), threshold=1.5)


def test_a_lightly_edited_canonical_keeps_its_copies(db_path: Path, corpus: Path) -> None:
    _, body = _article(corpus, "business/021.txt")
    db = open_db(db_path)
    _save(db, _item("orig", body), _item("copy", body[: int(len(body) * 0.9)]))
    neardup.deduplicate(db, run_id="1")
    # A corrected figure in the original: the store releases the copy, dedup takes it back.
    _save(db, _item("orig", body.replace("£300m", "£310m")))
    assert _row(db, "copy")["duplicate_of"] is None
    neardup.deduplicate(db, run_id="2")
    assert _row(db, "copy")["duplicate_of"] == _row(db, "orig")["id"]
    assert _row(db, "copy")["summary_status"] == "duplicate"


def test_an_outlets_furniture_does_not_make_a_copy_the_longest(db_path: Path, corpus: Path) -> None:
    furniture = "\n\nSign up for the Evening Digest and get the day's top stories by email."
    _, body = _article(corpus, "politics/021.txt")
    db = open_db(db_path)
    _save(
        db,
        _item("original", body, published_at="2005-02-01T09:00:00Z"),
        # The same outlet adds its sign-up line under every article it runs.
        _item("copy", body + furniture, published_at="2005-02-01T11:00:00Z"),
        _item("other-1", _article(corpus, "tech/025.txt")[1] + furniture),
        _item("other-2", _article(corpus, "sport/030.txt")[1] + furniture),
    )
    neardup.deduplicate(db, run_id="test")
    assert _row(db, "original")["duplicate_of"] is None
    assert _row(db, "copy")["duplicate_of"] == _row(db, "original")["id"]
    reason = db.execute(
        "SELECT reason FROM dedup_decisions WHERE document_id = ? ORDER BY id DESC",
        [_row(db, "copy")["id"]],
    ).fetchone()[0]
    assert "as long" in reason and "14 words of furniture not counted" in reason
    assert "earlier (2005-02-01T09:00 vs 2005-02-01T11:00)" in reason


def test_a_file_copied_and_padded_later_is_the_duplicate(tmp_path: Path, corpus: Path) -> None:
    import os

    folder = tmp_path / "files"
    folder.mkdir()
    text = (corpus / BBC / "business/021.txt").read_text(encoding="utf-8")
    (folder / "rank.txt").write_text(text, encoding="utf-8")
    (folder / "a-copy.txt").write_text(text + "\nShared by a reader from our weekend edition.\n")
    (folder / "a-teaser.txt").write_text(text[:1500], encoding="utf-8")
    os.utime(folder / "rank.txt", (1_100_000_000, 1_100_000_000))  # the original is older
    db = open_db(tmp_path / "n.db")
    entries, _ = scan.scan_folder(folder)
    writer.save_items(db, [i for e in entries for i in loader.load_file(e)[0]], run_id="t")
    neardup.deduplicate(db, run_id="t")
    rows = dict(db.execute("SELECT path, duplicate_of FROM documents").fetchall())
    original = db.execute("SELECT id FROM documents WHERE path = 'rank.txt'").fetchone()[0]
    assert rows == {"rank.txt": None, "a-copy.txt": original, "a-teaser.txt": original}
