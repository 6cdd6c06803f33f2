"""The daily flow end to end over real files into a real SQLite file."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from newsflow.db import open_db
from newsflow.flows.daily import daily

pytestmark = pytest.mark.usefixtures("prefect_harness")


def run(seeds: Path, db_path: Path, **options) -> dict:
    return daily(seeds_dir=str(seeds), db_path=str(db_path), trigger="test", **options)


def rows(db_path: Path, sql: str) -> list[tuple]:
    return open_db(db_path).execute(sql).fetchall()


def test_seeds_become_five_summarised_documents(seeds_copy: Path, db_path: Path):
    run(seeds_copy, db_path)
    documents = rows(db_path, "SELECT id, path, language, duplicate_of, title, body FROM documents")
    assert len(documents) == 5
    assert sorted(d[2] for d in documents) == ["de", "en", "en", "en", "en"]
    assert all(d[3] is None for d in documents)
    german = next(d for d in documents if d[2] == "de")
    assert german[4] == "Kambodscha und Japan loben Fortschritt der bilateralen Zusammenarbeit"
    assert german[4] not in german[5]

    summaries = rows(
        db_path,
        "SELECT d.title, d.captions, s.text, s.sentence_indexes"
        " FROM summaries s JOIN documents d ON d.id = s.document_id",
    )
    assert len(summaries) == 5
    for title, captions, text, indexes in summaries:
        lines = text.splitlines()
        assert 1 <= len(lines) <= 3
        assert json.loads(indexes) == sorted(json.loads(indexes))
        for bad in (
            "Comments are closed",
            "Related News",
            "Link zum Artikel",
            "SOURCE:",
            "Quelle:",
        ):
            assert bad not in text
        if title:
            assert title not in lines
        if captions:
            assert captions not in text


def test_second_run_adds_nothing_but_a_run_row(seeds_copy: Path, db_path: Path):
    first = run(seeds_copy, db_path)
    before = rows(db_path, "SELECT id, content_hash, updated_at FROM documents ORDER BY id")
    summaries_before = rows(db_path, "SELECT id, created_at FROM summaries ORDER BY id")
    second = run(seeds_copy, db_path)
    assert rows(db_path, "SELECT id, content_hash, updated_at FROM documents ORDER BY id") == before
    assert rows(db_path, "SELECT id, created_at FROM summaries ORDER BY id") == summaries_before
    statuses = rows(db_path, "SELECT status, flow_run_id FROM runs ORDER BY started_at")
    assert [s[0] for s in statuses] == ["completed", "completed"]
    assert all(s[1] for s in statuses)
    assert first["counts"]["documents_new"] == 5
    assert second["counts"].get("documents_new", 0) == 0
    assert second["counts"]["files_unchanged"] == 5
    assert second["counts"].get("summaries", 0) == 0


def test_a_run_records_the_cpu_it_took_by_stage(seeds_copy: Path, db_path: Path):
    """`runs.cpu`: the flow's own process, the batches by function wherever they ran, and the
    file parse by stage; a run with nothing new parses nothing and summarises nothing."""
    run(seeds_copy, db_path)
    run(seeds_copy, db_path)
    first, second = (
        json.loads(row[0]) for row in rows(db_path, "SELECT cpu FROM runs ORDER BY rowid")
    )
    assert first["flow"] > 0
    # Five stories of one report each: no story summary batch.
    assert set(first["workers"]) == {"parse_files"}
    assert set(first["parse"]) == {"read", "split", "features", "summaries"}
    # The stages are laps inside the parse batches, so they add up to at most their total.
    assert 0 < sum(first["parse"].values()) <= first["workers"]["parse_files"] + 0.005
    assert second["flow"] > 0
    assert second["workers"] == {} and second["parse"] == {}


def test_changed_file_is_updated_in_place_as_a_new_version(seeds_copy: Path, db_path: Path):
    run(seeds_copy, db_path)
    path = next(seeds_copy.glob("004_*.txt"))
    path.write_text(path.read_text(encoding="utf-8").replace("May 13", "May 14"), encoding="utf-8")
    result = run(seeds_copy, db_path)
    assert result["counts"]["documents_updated"] == 1
    assert rows(db_path, "SELECT count(*) FROM documents") == [(5,)]
    (version,) = rows(db_path, "SELECT version FROM documents WHERE path LIKE '004_%'")
    assert version == (2,)
    assert rows(db_path, "SELECT count(*) FROM document_versions") == [(1,)]
    (summary,) = rows(
        db_path,
        "SELECT s.content_hash = d.content_hash FROM summaries s"
        " JOIN documents d ON d.id = s.document_id WHERE d.path LIKE '004_%'",
    )
    assert summary == (1,)


def test_exact_duplicates_point_at_the_canonical_row_and_are_not_summarised(
    seeds_copy: Path, db_path: Path
):
    original = next(seeds_copy.glob("001_*.txt"))
    (seeds_copy / "copies").mkdir()
    shutil.copy(original, seeds_copy / "copies" / "same.txt")
    # Same text with different line endings and spacing is still an exact duplicate.
    (seeds_copy / "copies" / "crlf.txt").write_bytes(
        original.read_bytes().replace(b"\n", b"\r\n  ")
    )
    run(seeds_copy, db_path)
    canonical = rows(db_path, f"SELECT id FROM documents WHERE path = '{original.name}'")[0][0]
    copies = rows(
        db_path, "SELECT duplicate_of, summary_status FROM documents WHERE path LIKE 'copies/%'"
    )
    assert copies == [(canonical, "duplicate"), (canonical, "duplicate")]
    assert rows(db_path, "SELECT count(*) FROM summaries") == [(5,)]
    assert rows(db_path, "SELECT count(*) FROM dedup_decisions WHERE method = 'content_hash'") == [
        (2,)
    ]


def test_other_languages_are_stored_and_flagged(seeds_copy: Path, db_path: Path):
    (seeds_copy / "ja.txt").write_text(
        "日本とカンボジアは二国間関係の強化で合意した。両国の外相はプノンペンで会談し、経済協力について話し合った。"
        "会談では地域の安全保障についても意見が交わされた。",
        encoding="utf-8",
    )
    run(seeds_copy, db_path)
    assert rows(
        db_path, "SELECT language, summary_status FROM documents WHERE path = 'ja.txt'"
    ) == [("ja", "unsupported_language")]


def test_a_few_hundred_real_files_are_all_accounted_for(
    corpus: Path, tmp_path: Path, db_path: Path
):
    """BBC articles plus the German and English seeds, with exact copies and some bad files."""
    root = tmp_path / "news"
    articles = sorted((corpus / "bbc-news-summary" / "article").glob("*/*.txt"))
    for path in articles:
        target = root / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    for path in seeds.glob("*.txt"):
        shutil.copy(path, root / path.name)
    rng = random.Random(7)
    duplicates = rng.sample(articles, 20) + list(seeds.glob("000_*.txt"))
    (root / "dupes").mkdir()
    for number, path in enumerate(duplicates):
        shutil.copy(path, root / "dupes" / f"copy{number}.txt")
    (root / "bad").mkdir()
    (root / "bad" / "empty.txt").write_bytes(b"")
    (root / "bad" / "binary.txt").write_bytes(bytes(range(256)) * 4)
    files = [p for p in root.rglob("*") if p.is_file()]

    run(root, db_path)
    documents = rows(db_path, "SELECT path, duplicate_of FROM documents")
    rejects = rows(db_path, "SELECT location, reason FROM rejects")
    accounted = {d[0] for d in documents} | {r[0] for r in rejects}
    assert accounted == {p.relative_to(root).as_posix() for p in files}
    assert sorted(r[1] for r in rejects) == ["binary", "empty"]
    groups: dict[str, list[tuple]] = {}
    for row in rows(db_path, "SELECT id, content_hash, duplicate_of FROM documents"):
        groups.setdefault(row[1], []).append(row)
    copied = [group for group in groups.values() if len(group) > 1]
    assert len(copied) == 21 and all(len(group) == 2 for group in copied)
    for group in copied:
        (canonical,) = [row for row in group if row[2] is None]
        assert all(row[2] == canonical[0] for row in group if row is not canonical)
    languages = dict(rows(db_path, "SELECT language, count(*) FROM documents GROUP BY language"))
    assert languages["de"] == 2 and languages["en"] == len(files) - 2 - 2


def test_unchanged_json_lines_file_is_not_read_again(seeds_copy: Path, db_path: Path):
    record = {
        "title": "A record",
        "url": "https://example.org/r",
        "text": "Cambodia and Japan agreed to expand trade and investment. "
        "The talks took place in Tokyo on Monday.",
    }
    (seeds_copy / "items.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    run(seeds_copy, db_path)
    second = run(seeds_copy, db_path)
    assert second["counts"]["files_unchanged"] == 6
    assert second["counts"].get("documents_unchanged", 0) == 0


def test_reports_without_names_or_numbers_still_group_into_stories(tmp_path: Path, db_path: Path):
    """No signal at all (no names, figures or dates) must not break story grouping."""
    root = tmp_path / "plain"
    root.mkdir()
    for number, word in enumerate(("quiet", "calm", "still")):
        (root / f"{number}.txt").write_text(
            f"it was a {word} day with nothing much to say about anything at all here.\n\n"
            "the quick brown fox jumps over the lazy dog again and again today.",
            encoding="utf-8",
        )
    result = run(root, db_path)
    assert result["counts"]["documents_new"] == 3
    assert rows(db_path, "SELECT count(*) FROM documents WHERE story_id IS NULL") == [(0,)]


def test_edited_headline_alone_is_a_new_version_and_keeps_the_summary(
    seeds_copy: Path, db_path: Path
):
    run(seeds_copy, db_path)
    path = next(seeds_copy.glob("002_*.txt"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("talk about cooperation", "discuss cooperation", 1), "utf-8")
    summaries = rows(db_path, "SELECT id, created_at FROM summaries ORDER BY id")
    result = run(seeds_copy, db_path)
    assert result["counts"]["documents_updated"] == 1
    ((title, version),) = rows(
        db_path, "SELECT title, version FROM documents WHERE path LIKE '002_%'"
    )
    assert title.startswith("Prime Minister and Kishida discuss cooperation") and version == 2
    assert rows(db_path, "SELECT title FROM document_versions") == [
        ("Prime Minister and Kishida talk about cooperation in Japan and conflict in Ukraine",)
    ]
    assert rows(db_path, "SELECT id, created_at FROM summaries ORDER BY id") == summaries


def test_the_run_reports_its_progress(seeds_copy: Path, db_path: Path):
    from newsflow.flows import progress

    events: list[tuple[str, int, int]] = []
    with progress.listening(lambda *event: events.append(event)):
        run(seeds_copy, db_path)
    assert ("files", 0, 5) in events and events.count(("files", 5, 5)) == 1
    assert ("summaries", 5, 5) in events
