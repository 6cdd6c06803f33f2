"""Features computed once in the parse workers are exactly what dedup and stories would compute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsflow.db import open_db
from newsflow.flows.daily import daily
from newsflow.tasks.common import shingles
from newsflow.tasks.common.sentences import replay, split_sentences
from newsflow.tasks.dedup import signatures
from newsflow.tasks.pipeline import batches
from newsflow.tasks.stories import entities, report_terms
from tests.hostile import BBC_ARTICLES, SEEDS

FOLDERS = {"seeds": SEEDS, "bbc": BBC_ARTICLES}


@pytest.mark.parametrize("name", FOLDERS)
def test_parse_workers_compute_what_the_dedup_and_story_passes_would(name: str) -> None:
    folder = FOLDERS[name].resolve()
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (the shared corpus sits beside the checkout)")
    files = sorted(folder.rglob("*.txt"))[:: 1 if name == "seeds" else 8]
    parsed = batches.parse_files(str(folder), [str(path) for path in files])
    assert len(parsed.items) == len(files) and not parsed.rejects
    if name == "seeds":
        assert any(item.language == "de" for item in parsed.items)  # German too
    for item in parsed.items:
        found = parsed.features[item.key]
        text = f"{item.title or ''}\n{item.body}"
        assert found.content_hash == item.content_hash
        words = report_terms.terms(item.title, item.body, item.language)
        head = report_terms.head_terms(
            shingles.tokens(item.title or "", item.language),
            shingles.tokens(item.body, item.language),
            item.language,
        )
        assert found.terms == dict(words + head), item.key
        assert found.signals == sorted(entities.signals(text, item.language)), item.key
        expected = signatures.to_blob(signatures.signature(item.body, item.language))
        assert found.minhash == expected, item.key
        assert found.paragraphs == signatures.paragraph_hashes(item.body), item.key
        # Where the sentences are, for story summaries to slice rather than split again.
        language = item.language or "en"
        assert replay(item.body, found.sentences, language) == split_sentences(item.body, language)


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_indexes_the_workers_signatures_and_recomputes_them_for_changed_text(
    seeds_copy: Path, db_path: Path
) -> None:
    original = sorted(seeds_copy.glob("*.txt"))[1]
    lines = original.read_text(encoding="utf-8").splitlines()
    # A near-duplicate: the same article with its last paragraph dropped.
    (seeds_copy / "copy.txt").write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")

    daily(seeds_dir=str(seeds_copy), db_path=str(db_path), trigger="test")
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM signature_inputs").fetchone()[0] == 0  # all used
    signed = db.execute(
        "SELECT count(*) FROM signatures s JOIN documents d ON d.id = s.document_id"
        " AND d.content_hash = s.content_hash"
    ).fetchone()[0]
    assert signed == db.execute("SELECT count(*) FROM documents").fetchone()[0] == 6
    copies = db.execute("SELECT path FROM documents WHERE duplicate_of IS NOT NULL").fetchall()
    assert [Path(row[0]).name for row in copies] == ["copy.txt"]
    features = db.execute("SELECT count(*) FROM story_features").fetchone()[0]
    assert features == 6

    # An edited file: its new text gets a new signature and new story features.
    edited = original.read_text(encoding="utf-8") + "\nA closing line about zeppelins.\n"
    original.write_text(edited, encoding="utf-8")
    daily(seeds_dir=str(seeds_copy), db_path=str(db_path), trigger="test")
    row = db.execute(
        "SELECT d.content_hash, s.content_hash, f.content_hash, f.terms FROM documents d"
        " JOIN signatures s ON s.document_id = d.id JOIN story_features f ON f.document_id = d.id"
        " WHERE d.path LIKE ?",
        [f"%{original.name}"],
    ).fetchone()
    assert row[0] == row[1] == row[2]
    assert "en:zeppelin" in json.loads(row[3])
    assert db.execute("SELECT count(*) FROM signature_inputs").fetchone()[0] == 0
