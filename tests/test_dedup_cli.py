"""`newsflow dedup` re-decides from stored signatures; `newsflow digest` shows stories."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from newsflow.db import open_db
from newsflow.flows.cli import app
from newsflow.tasks.dedup import neardup
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.store import writer
from newsflow.tasks.stories import linking, story_summary

ROOT = Path(__file__).resolve().parent.parent
TRANSLATION = ROOT / "benchmarks/dedup/translations/seed-001_8d6a566c8fb300cb.de.txt"
SEED = "001_8d6a566c8fb300cb.txt"
runner = CliRunner()


def _build(seeds_copy: Path, db_path: Path) -> None:
    """Seeds, a shortened copy of seed 001 with a new headline, and its German translation."""
    text = (seeds_copy / SEED).read_text(encoding="utf-8")
    paragraphs = text.split("\n")
    # Its last 60 %: a cut from the start would be a contained copy at any Jaccard threshold.
    shortened = "\n".join(paragraphs[int(len(paragraphs) * 0.4) :])
    (seeds_copy / "copy.txt").write_text(f"Cambodia and Japan to deepen ties\n\n{shortened}\n")
    shutil.copy(TRANSLATION, seeds_copy / "translation.txt")
    db = open_db(db_path)
    entries, _ = scan.scan_folder(seeds_copy)
    writer.save_items(db, [i for e in entries for i in loader.load_file(e)[0]], run_id="test")
    result = neardup.deduplicate(db, run_id="test")
    grouped = linking.assign_stories(db, run_id="test", dirty=result.touched_stories)
    story_summary.update_summaries(db, grouped.touched)
    db.conn.close()


def _duplicate_of(db_path: Path, path: str) -> int | None:
    db = open_db(db_path)
    try:
        return db.execute("SELECT duplicate_of FROM documents WHERE path = ?", [path]).fetchone()[0]
    finally:
        db.conn.close()


def test_dedup_recomputes_decisions_at_a_new_threshold_without_reading_files(
    seeds_copy: Path, db_path: Path
) -> None:
    _build(seeds_copy, db_path)
    assert _duplicate_of(db_path, "copy.txt") is not None
    shutil.rmtree(seeds_copy)  # nothing is read again: the files may be gone

    strict = runner.invoke(app, ["dedup", "--threshold", "0.95", "--db", str(db_path)])
    assert strict.exit_code == 0, strict.output
    assert "Threshold 0.95" in strict.output and "0 recomputed from text" in strict.output
    assert _duplicate_of(db_path, "copy.txt") is None

    db = open_db(db_path)
    copy_id = db.execute("SELECT id FROM documents WHERE path = 'copy.txt'").fetchone()[0]
    latest = db.execute(
        "SELECT decision, threshold, score FROM dedup_decisions WHERE document_id = ?"
        " AND method != 'story' ORDER BY id DESC",
        [copy_id],
    ).fetchone()
    assert latest[:2] == ("distinct", 0.95)
    run = db.execute("SELECT status, parameters FROM runs ORDER BY started_at DESC").fetchone()
    assert run[0] == "completed" and '"command": "dedup"' in run[1]
    db.conn.close()

    again = runner.invoke(app, ["dedup", "--threshold", "0.5", "--db", str(db_path)])
    assert again.exit_code == 0, again.output
    assert _duplicate_of(db_path, "copy.txt") is not None
    # The threshold is kept: a plain `dedup` (and the next daily run) uses it.
    assert "Threshold 0.5 " in runner.invoke(app, ["dedup", "--db", str(db_path)]).output


def test_dedup_refuses_a_threshold_out_of_range_and_a_missing_database(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["dedup", "--threshold", "1.5", "--db", str(tmp_path / "x.db")])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["dedup", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no database" in missing.output


def test_digest_shows_one_entry_per_story_with_its_sources(seeds_copy: Path, db_path: Path) -> None:
    _build(seeds_copy, db_path)
    result = runner.invoke(app, ["digest", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    # Five stories: the English seed, its copy and its German translation are one entry.
    assert out.count("story ·") == 5
    assert "story · 2 reports · de, en" in out
    assert "translation.txt" in out and SEED in out
    assert "Outlets:" in out
    # Lines of a two-report story credit their document.
    assert "— " in out and "#" in out


def test_dedup_stories_redecides_every_story_from_stored_features(
    seeds_copy: Path, db_path: Path
) -> None:
    _build(seeds_copy, db_path)

    def partition() -> set[frozenset[str]]:
        db = open_db(db_path)
        try:
            rows = db.execute("SELECT path, story_id FROM documents").fetchall()
        finally:
            db.conn.close()
        groups: dict[int, set[str]] = {}
        for path, story_id in rows:
            groups.setdefault(story_id, set()).add(path)
        return {frozenset(members) for members in groups.values()}

    before = partition()
    shutil.rmtree(seeds_copy)  # decided again from what is stored, not from the files
    result = runner.invoke(app, ["dedup", "--stories", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert partition() == before  # the same decisions from the same features
    db = open_db(db_path)
    run_id = db.execute("SELECT id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
    decided = db.execute(
        "SELECT count(*) FROM dedup_decisions WHERE method = 'story' AND run_id = ?", [run_id]
    ).fetchone()[0]
    canonical = db.execute("SELECT count(*) FROM documents WHERE duplicate_of IS NULL").fetchone()
    assert decided == canonical[0]  # every canonical report decided again, with its reason
    assert db.execute("SELECT count(*) FROM stories").fetchone()[0] == len(before)
