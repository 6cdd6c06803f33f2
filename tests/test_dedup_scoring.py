"""A dedup pass scores its documents' candidates at once: the same candidates, in the same order,
with the same scores, as scoring each document's pairs one by one."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from newsflow.db import open_db
from newsflow.tasks.common import shingles
from newsflow.tasks.dedup import containment, neardup, scoring, signature_index, signatures
from newsflow.tasks.dedup.documents import Doc, load_docs
from newsflow.tasks.ingest import loader
from newsflow.tasks.store import writer
from newsflow.tasks.store.models import Item

WINDOW = timedelta(days=30)


def _article(corpus: Path, name: str) -> str:
    text = (corpus / "bbc-news-summary/article" / name).read_text(encoding="utf-8")
    return "\n\n".join(p.strip() for p in text.split("\n")[1:] if p.strip())


def _stored(db: Database, corpus: Path) -> dict[int, Doc]:
    """Originals with copies, cuts and teasers, a shared URL, the same body twice, dated and
    undated texts some of them outside the window: every way a candidate is found or dropped."""
    rng = random.Random(3)
    items = []
    names = ["business/021.txt", "politics/037.txt", "tech/025.txt", "sport/023.txt",
             "sport/048.txt", "sport/050.txt"]  # fmt: skip
    for n, name in enumerate(names):
        body = _article(corpus, name)
        words = body.split(" ")
        dated = {"published_at": f"2005-0{1 + n % 3}-0{1 + n}T00:00:00Z"} if n % 2 else {}
        items += [
            Item(key=name, body=body, title=name, **dated),  # type: ignore[arg-type]
            Item(key=f"{name}#cut", body=" ".join(words[: len(words) // 3]), title=name),
            Item(key=f"{name}#teaser", body=" ".join(words[:45]) + " Read more.", title=name),
            Item(key=f"{name}#same", body=body + " ", title="Another headline"),
            Item(key=f"{name}#later", body=body + " Updated.", published_at="2006-06-01T00:00:00Z"),
        ]
        rng.shuffle(words)
        items.append(Item(key=f"{name}#shuffled", body=" ".join(words), title=name))
    items.append(Item(key="a", body=_article(corpus, names[0]), url="https://example.org/1"))
    items.append(Item(key="b", body=_article(corpus, names[1]), url="https://example.org/1"))
    writer.save_items(db, [loader.finish_item(item) for item in items], run_id="test")
    neardup.deduplicate(db, run_id="test")  # signatures and buckets stored
    return load_docs(db, [row[0] for row in db.execute("SELECT id FROM documents")])


def _index(db: Database) -> signature_index.SignatureIndex:
    return signature_index.SignatureIndex(db, *signatures.lsh_params(0.5), stamp="test")


def _one_by_one(db: Database, index: signature_index.SignatureIndex, doc: Doc) -> list[int]:
    """The candidates as the look-up found them one document and one statement at a time."""
    found = [r[0] for r in db.execute(
        "SELECT id FROM documents WHERE content_hash = ? AND id != ? LIMIT 200",
        [doc.content_hash, doc.id])]  # fmt: skip
    if doc.url:
        found = [r[0] for r in db.execute(
            "SELECT id FROM documents WHERE url = ? AND id != ? LIMIT 200", [doc.url, doc.id]
        )] + found  # fmt: skip
    values = index.signature_of(doc.id)
    assert values is not None
    keys = signatures.bucket_keys(values, *signatures.lsh_params(0.5))
    ledes = [(b, k) for b, k, _ in signatures.lede_rows_of(index.ledes.get(doc.id), doc.id)]
    ratio = containment.LEDE_LENGTH_RATIO
    lede = (  # the lede's look-up: only much shorter or much longer texts
        " CROSS JOIN documents d ON d.id = b.document_id WHERE b.document_id != ?"
        " AND (d.word_count <= ? OR d.word_count >= ?)"
    )
    for chosen, where, extra in (
        (keys, " WHERE b.document_id != ?", []),
        (ledes, lede, [doc.word_count * ratio, doc.word_count / ratio]),
    ):
        if chosen:
            values = ",".join(["(?, ?)"] * len(chosen))
            found += [r[0] for r in db.execute(
                f"SELECT DISTINCT b.document_id FROM (VALUES {values}) AS k"
                f" CROSS JOIN lsh_bands b ON b.band = k.column1 AND b.bucket = k.column2{where}",
                [v for key in chosen for v in key] + [doc.id, *extra],
            )]  # fmt: skip
    return list(dict.fromkeys(found))


def test_a_batch_finds_each_documents_candidates_in_the_order_one_look_up_did(
    db_path: Path, corpus: Path
) -> None:
    db = open_db(db_path)
    docs = _stored(db, corpus)
    index = _index(db)
    together = index.candidates_of(list(docs.values()))
    assert sum(len(found) for found in together.values()) > 100
    for doc in docs.values():
        assert list(together[doc.id]) == _one_by_one(db, index, doc), doc.id
        assert _index(db).candidates(doc) == together[doc.id]


def test_a_batch_scores_each_pair_as_scoring_it_alone_does(db_path: Path, corpus: Path) -> None:
    db = open_db(db_path)
    docs = _stored(db, corpus)
    together = scoring.Scorer(_index(db), [], WINDOW).score(list(docs.values()))
    counted = {"url": 0, "content_hash": 0, "minhash": 0, "outside": 0, "maybe": 0}
    for doc in docs.values():
        index = _index(db)
        assert scoring.Scorer(index, [], WINDOW).score([doc]) == {doc.id: together[doc.id]}
        expected = []
        for other_id, how in index.candidates(doc).items():
            other = docs[other_id]
            method, score = index.score(doc, other, how)
            if score is None or (method == "minhash" and doc.apart(other) > WINDOW):
                counted["outside"] += score is not None
                continue
            counted[method] += 1
            # A pair whose containment would be counted is never left out.
            held = method == "minhash" and index.contained(doc, other, score) is not None
            counted["maybe"] += held
            expected.append((other_id, method, score, held))
        scored = together[doc.id]
        assert [(c.id, c.method, c.score) for c in scored] == [e[:3] for e in expected]
        assert all(c.maybe_contained for c, e in zip(scored, expected, strict=True) if e[3])
    assert all(counted.values()), counted


def test_containments_cheap_check_for_many_pairs_refuses_only_what_it_refuses() -> None:
    rng = np.random.default_rng(5)
    jaccard = rng.integers(0, 257, size=20_000) / signatures.NUM_PERM
    words = rng.integers(-1, 2_000, size=20_000)
    other = np.where(
        rng.random(20_000) < 0.5, words * rng.random(20_000), rng.integers(0, 90, 20_000)
    )
    other = other.astype(np.int64)
    many = containment.could_contain_many(jaccard, words, other, num_perm=signatures.NUM_PERM)
    pairs = zip(jaccard.tolist(), words.tolist(), other.tolist(), strict=True)
    one = [containment.could_contain(j, w, o, num_perm=signatures.NUM_PERM) for j, w, o in pairs]
    assert 1_000 < sum(one) < 19_000
    assert (
        many.tolist() == one
    )  # the same arithmetic: the hair below the bound changes nothing here


def test_bucket_keys_of_many_signatures_are_each_ones_keys() -> None:
    texts = [" ".join(f"w{(i * 7 + j) % 50}" for j in range(60 + i)) for i in range(20)]
    matrix = np.stack([signatures.signature(t, "en") for t in texts])
    for bands, rows in (signatures.lsh_params(0.5), (10, 4), (32, 8)):
        assert signatures.bucket_keys_many(matrix, bands, rows) == [
            signatures.bucket_keys(values, bands, rows) for values in matrix
        ]
    assert shingles.SHINGLE_SIZE == 3  # could_contain_many's sizes assume what could_contain does
