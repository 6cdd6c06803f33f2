"""Stories: the same event across outlets and languages together, different events apart."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsflow.db import open_db
from newsflow.tasks.common import gazetteer
from newsflow.tasks.common.dates import MONTHS
from newsflow.tasks.common.sentences import replay, split_sentences
from newsflow.tasks.dedup import neardup
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.report import digest_entries
from newsflow.tasks.store import writer
from newsflow.tasks.store.models import Item
from newsflow.tasks.stories import entities, linking, story_summary

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "benchmarks" / "dedup" / "translations"
SEED_000 = "000_4c18ba39d7aebdfb"  # German: senior officials' talks, Phnom Penh, 25 December 2025
SEED_001 = "001_8d6a566c8fb300cb"  # English: foreign ministers, 17 December 2023


def _ingest(db: Database, folder: Path) -> None:
    entries, _ = scan.scan_folder(folder)
    items = [item for entry in entries for item in loader.load_file(entry)[0]]
    writer.save_items(db, items, run_id="test")


def _decide(db: Database) -> linking.StoryResult:
    result = neardup.deduplicate(db, run_id="test")
    grouped = linking.assign_stories(db, run_id="test", dirty=result.touched_stories)
    story_summary.update_summaries(db, grouped.touched)
    return grouped


def _story_of(db: Database, path: str) -> int:
    return db.execute("SELECT story_id FROM documents WHERE path = ?", [path]).fetchone()[0]


@pytest.mark.slow
def test_five_seeds_stay_five_documents_in_five_stories_through_the_daily_flow(
    prefect_harness: None, seeds_copy: Path, db_path: Path
) -> None:
    from newsflow.flows.daily import daily

    result = daily(seeds_dir=str(seeds_copy), db_path=str(db_path), trigger="test")

    db = open_db(db_path)
    rows = db.execute("SELECT id, duplicate_of, story_id, summary_status FROM documents").fetchall()
    assert len(rows) == 5
    assert all(duplicate_of is None for _, duplicate_of, _, _ in rows)
    assert len({story for _, _, story, _ in rows}) == 5
    assert None not in {story for _, _, story, _ in rows}
    assert db.execute("SELECT count(*) FROM stories").fetchone()[0] == 5
    assert result["counts"]["stories_new"] == 5
    assert result["counts"]["near_duplicates"] == 0
    # Every report got its own summary (a one-report story shows its document's summary).
    assert {status for *_, status in rows} == {"ok"}


def test_english_report_and_its_german_translation_share_a_story(
    seeds_copy: Path, db_path: Path
) -> None:
    shutil.copy(TRANSLATIONS / f"seed-{SEED_001}.de.txt", seeds_copy / "001-de.txt")
    shutil.copy(TRANSLATIONS / f"seed-{SEED_000}.en.txt", seeds_copy / "000-en.txt")
    db = open_db(db_path)
    _ingest(db, seeds_copy)
    _decide(db)

    assert _story_of(db, "001-de.txt") == _story_of(db, f"{SEED_001}.txt")
    assert _story_of(db, "000-en.txt") == _story_of(db, f"{SEED_000}.txt")
    # Same topic (Cambodia–Japan), different events, different languages: still apart.
    assert _story_of(db, f"{SEED_000}.txt") != _story_of(db, f"{SEED_001}.txt")
    assert db.execute("SELECT count(*) FROM stories").fetchone()[0] == 5
    reason = db.execute(
        "SELECT reason FROM dedup_decisions WHERE method = 'story' AND decision = 'same_story'"
        " AND document_id IN (SELECT id FROM documents WHERE path IN ('001-de.txt', ?))",
        [f"{SEED_001}.txt"],
    ).fetchone()[0]
    assert "other language" in reason and "name:kamikawa" in reason
    # The digest lists each story once; a limit gives the same first entries, built alone.
    entries = digest_entries.digest_entries(db)
    assert len(entries) == 5 and sum(len(e["sources"]) for e in entries) == 7
    for limit in range(1, 6):
        assert digest_entries.digest_entries(db, limit=limit)[:limit] == entries[:limit]


@pytest.mark.usefixtures("prefect_harness")
def test_story_summaries_slice_the_sentences_the_parse_found(seeds_copy: Path, db_path: Path):
    """The parse records where each body's sentences are; story summaries slice them rather than
    split every report again, and choose the same lines. A record of another text is not used."""
    from newsflow.flows.daily import daily

    shutil.copy(TRANSLATIONS / f"seed-{SEED_001}.de.txt", seeds_copy / "001-de.txt")
    shutil.copy(TRANSLATIONS / f"seed-{SEED_000}.en.txt", seeds_copy / "000-en.txt")
    daily(seeds_dir=str(seeds_copy), db_path=str(db_path), trigger="test")
    db = open_db(db_path)
    story_ids = [row[0] for row in db.execute("SELECT id FROM stories WHERE document_count > 1")]
    assert len(story_ids) == 2
    db.execute("UPDATE stories SET summary_input = NULL")
    jobs = story_summary.plan(db, story_ids)
    reports = [report for job in jobs for report in job.reports]
    assert {report["language"] for report in reports} == {"en", "de"}
    for report in reports:
        body, language = str(report["body"]), str(report["language"])
        assert replay(body, report["sentences"], language) == split_sentences(body, language)
    split_again = [[report | {"sentences": None} for report in job.reports] for job in jobs]
    sliced_lines = story_summary.summarise_stories([job.reports for job in jobs])
    assert sliced_lines == story_summary.summarise_stories(split_again)
    assert all(len(lines) >= 3 for lines in sliced_lines)

    db.execute("UPDATE story_features SET content_hash = 'another text'")
    stale = story_summary.plan(db, story_ids)
    assert all(report["sentences"] is None for job in stale for report in job.reports)


def _feed(db: Database, name: str) -> int:
    return int(
        db.table("feeds").insert({"url": f"https://{name}.example/rss", "name": name,
                                  "created_at": writer.now()}).last_pk
    )  # fmt: skip


def test_a_wire_story_carried_by_several_feeds_is_one_story_listing_every_outlet(
    corpus: Path, db_path: Path
) -> None:
    text = (corpus / "bbc-news-summary/article/business/021.txt").read_text(encoding="utf-8")
    title, body = text.split("\n", 1)
    db = open_db(db_path)
    items = []
    for number, outlet in enumerate(("wire-herald", "daily-post", "evening-star")):
        feed_id = _feed(db, outlet)
        furniture = f"\n\nFollow {outlet} for more business news." if number else ""
        items.append(
            loader.finish_item(
                Item(key=f"https://{outlet}.example/{number}", url=f"https://{outlet}.example/{number}",
                     title=title.strip(), body=body.strip() + furniture, feed_id=feed_id,
                     published_at=f"2005-02-0{number + 1}T08:00:00Z")
            )
        )  # fmt: skip
    writer.save_items(db, items, run_id="test")
    _decide(db)

    rows = db.execute(
        "SELECT id, duplicate_of, story_id, outlets FROM documents ORDER BY id"
    ).fetchall()
    assert len({story for _, _, story, _ in rows}) == 1
    canonical = [row for row in rows if row[1] is None]
    assert len(canonical) == 1
    assert set(json.loads(canonical[0][3])) == {"wire-herald", "daily-post", "evening-star"}
    story = db.execute("SELECT document_count, sources FROM stories").fetchone()
    assert story[0] == 3
    assert set(json.loads(story[1])) == {"wire-herald", "daily-post", "evening-star"}


def test_different_events_on_one_topic_stay_apart(corpus: Path, db_path: Path) -> None:
    folder = db_path.parent / "sport"
    folder.mkdir()
    # Two Greek sprinters' doping case (a hearing, a ruling) and two other athletics stories.
    for number in ("023", "024", "029", "034"):
        shutil.copy(
            corpus / f"bbc-news-summary/article/sport/{number}.txt", folder / f"{number}.txt"
        )
    db = open_db(db_path)
    _ingest(db, folder)
    _decide(db)
    assert db.execute("SELECT count(DISTINCT story_id) FROM documents").fetchone()[0] == 4


def test_a_story_summary_takes_lines_from_several_reports_and_credits_each(
    corpus: Path, db_path: Path
) -> None:
    text = (corpus / "bbc-news-summary/article/tech/025.txt").read_text(encoding="utf-8")
    title, body = text.split("\n", 1)
    paragraphs = [p for p in body.split("\n") if p.strip()]
    # Another outlet's report of the same launch: its own lede and ending, one shared paragraph.
    other = (
        "Sony will launch its PlayStation Portable handheld console in the US on 24 March for"
        " $250, the company said, with no European release date yet. The console will play games,"
        " movies and music and also offers support for wireless gaming.\n\n"
        + paragraphs[-1]
        + "\n\nAnalysts expect the PSP to sell strongly in the US, where Sony has tens of"
        " millions of PlayStation 2 owners who already know its games and its brand."
    )
    db = open_db(db_path)
    writer.save_items(
        db,
        [
            loader.finish_item(Item(key="https://a.example/psp", url="https://a.example/psp",
                                    title=title, body=body, source="Tech Desk")),
            loader.finish_item(Item(key="https://b.example/psp", url="https://b.example/psp",
                                    title="Sony sets US date for PSP", body=other,
                                    source="Games Weekly")),
        ],
        run_id="test",
    )  # fmt: skip
    _decide(db)

    assert (
        db.execute("SELECT count(*) FROM documents WHERE duplicate_of IS NULL").fetchone()[0] == 2
    )
    row = db.execute("SELECT summary, summary_sources, document_count FROM stories").fetchall()
    assert len(row) == 1
    summary, sources, count = row[0]
    lines = summary.splitlines()
    behind = json.loads(sources)
    assert count == 2 and len(lines) == len(behind) >= 3
    ids = {r[0] for r in db.execute("SELECT id FROM documents").fetchall()}
    assert set(behind) <= ids and len(set(behind)) == 2  # both reports contribute
    # MMR: the two versions of the lede never both appear.
    assert sum("24 March" in line for line in lines) <= 1
    entry = digest_entries.digest_entries(db)[0]
    assert entry["kind"] == "story" and {o for _, _, o in entry["summary"]} <= {
        "Tech Desk",
        "Games Weekly",
    }

    # Planned, then a report changes before the summaries are written (another run, meanwhile):
    # the stale summary is not stored, and the next run summarises the story again.
    story_id, key = db.execute("SELECT id, summary_input FROM stories").fetchone()
    db.execute("UPDATE stories SET summary_input = NULL WHERE id = ?", [story_id])
    jobs = story_summary.plan(db, [story_id])
    assert [job.story_id for job in jobs] == [story_id] and jobs[0].key == key
    lines = story_summary.summarise_stories([job.reports for job in jobs])
    db.execute("UPDATE documents SET content_hash = 'edited' WHERE url = 'https://b.example/psp'")
    assert story_summary.write(db, jobs, [lines]) == 0
    assert db.execute("SELECT summary_input FROM stories").fetchone()[0] is None
    assert [job.story_id for job in story_summary.plan(db, [story_id])] == [story_id]


def test_gazetteer_maps_english_and_german_names_to_one_id() -> None:
    english = gazetteer.find("The Cambodian minister met Japan's envoy and UN officials in the US.")
    german = gazetteer.find("Der kambodschanische Minister traf Japans Gesandten und UN-Vertreter.")
    assert {"country:KH", "country:JP", "org:UN"} <= set(english) & set(german)
    assert "country:US" not in gazetteer.find("Let us polish the report.")


def test_signals_read_figures_and_dates_the_way_each_language_writes_them() -> None:
    english = entities.signals("Profits of £21.5m on 1,300 sales, on 25 December 2025.", "en")
    german = entities.signals(
        "Gewinn von 21,5 Mio. £ bei 1.300 Verkäufen am 25. Dezember 2025.", "de"
    )
    for key in ("num:21.5", "num:1300", "date:2025-12-25", "md:12-25"):
        assert key in english and key in german


def _dates_tried_everywhere(text: str) -> Counter[str]:
    """`entities.dates` as it was: every pattern tried at every position by finditer."""
    found: Counter[str] = Counter()
    for pattern, day, month, year in (
        (entities._DAY_MONTH, 1, 2, 3), (entities._MONTH_DAY, 2, 1, 3),
        (entities._ISO_DATE, 3, 2, 1),
    ):  # fmt: skip
        for match in pattern.finditer(text):
            named = match.group(month)
            number = MONTHS.get(named.lower()) if pattern is not entities._ISO_DATE else int(named)
            if number and 1 <= int(match.group(day)) <= 31:
                found[f"md:{number:02d}-{int(match.group(day)):02d}"] += 1
                if match.group(year):
                    found[f"date:{match.group(year)}-{number:02d}-{int(match.group(day)):02d}"] += 1
    return found


def test_dates_tried_only_at_figures_are_the_dates_tried_everywhere(corpus: Path) -> None:
    """`dates` tries its patterns only at a figure and at the word before one: the same dates as
    trying them at every position, on awkward spacing, glued words, overlaps, and real articles."""
    awkward = [
        "on 5 May 2024 and May 6, 2025", "Sept. 12, 2023 and 12 SEPT 2020", "Mayors 5",
        "1. Jänner 2021 und 3 Mär. 2024", "Monday 25 December 2025", "May 5 2024 June 6",
        "éMay 5", "_May 5", "May\n\n   12", "12 May 12 May 2020 May 3rd", "May 4th, 2020May 5",
        "2024-05-06 and 7 Jun", "Decemberx 5", "5 Septemberx 2024", "ABCDEFGHIJ 5", "Dec.. 5",
        "3May 4", "31 dec 2019 jan 1st 2020", "5 \u00a0Dec. 2020", "\u0663 May 5", "May \u0665",
    ]  # fmt: skip
    articles = sorted((corpus / "bbc-news-summary/article").rglob("*.txt"))
    texts = awkward + [path.read_text(encoding="utf-8", errors="replace") for path in articles]
    assert len(texts) > 200
    assert sum(bool(entities.dates(text)) for text in texts) > 50  # dates were there to find
    for text in texts:
        assert entities.dates(text) == _dates_tried_everywhere(text), text[:80]


def test_reports_outside_the_window_open_their_own_story(db_path: Path, corpus: Path) -> None:
    text = (corpus / "bbc-news-summary/article/business/021.txt").read_text(encoding="utf-8")
    title, body = text.split("\n", 1)
    sentences = body.strip().split(". ")
    db = open_db(db_path)
    writer.save_items(
        db,
        [
            loader.finish_item(Item(key=f"k{n}", title=title, body=". ".join(part),
                                    published_at=stamp))
            for n, (part, stamp) in enumerate(
                [(sentences[::2], "2005-01-01T00:00:00Z"),
                 (sentences[1::2], "2005-03-01T00:00:00Z")]
            )
        ],
        run_id="test",
    )  # fmt: skip
    _decide(db)
    assert db.execute("SELECT count(DISTINCT story_id) FROM documents").fetchone()[0] == 2


def _rss(channel: str, items: list[tuple[str, str, str]]) -> bytes:
    from html import escape

    entries = "".join(
        f'<item><title>{escape(title)}</title><guid isPermaLink="false">{guid}</guid>'
        f"<description>{escape(text)}</description>"
        "<pubDate>Mon, 07 Feb 2005 09:00:00 GMT</pubDate></item>"
        for guid, title, text in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(channel)}</title><link>/</link>{entries}</channel></rss>"
    ).encode()


@pytest.mark.slow
def test_a_wire_story_in_several_real_feeds_shares_one_story_through_the_daily_flow(
    prefect_harness: None, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsflow.flows.daily import daily
    from tests.http_server import Reply, ScriptedServer

    monkeypatch.setenv("NEWSFLOW_FEEDS_FULL_TEXT", "0")  # the feeds carry the whole text
    monkeypatch.setenv("NEWSFLOW_FEEDS_HOST_INTERVAL", "0")
    title, body = (
        (corpus / "bbc-news-summary/article/business/021.txt")
        .read_text(encoding="utf-8")
        .split("\n", 1)
    )
    text = "\n\n".join(p.strip() for p in body.split("\n") if p.strip())
    german = (TRANSLATIONS / "bbc-business-021.de.txt").read_text(encoding="utf-8").split("\n", 1)
    other_title, other = (
        (corpus / "bbc-news-summary/article/business/022.txt")
        .read_text(encoding="utf-8")
        .split("\n", 1)
    )
    seeds = tmp_path / "empty"
    seeds.mkdir()
    db_path = tmp_path / "feeds.db"
    with ScriptedServer() as server:
        server.route("/wire", Reply(200, body=_rss("Wire Herald", [("w1", title, text)])))
        server.route(
            "/post",
            Reply(200, body=_rss("Daily Post", [
                ("p1", "Rank set to split off its film arm", text + "\n\nReporting by Post staff."),
                ("p2", other_title, other),
            ])),
        )  # fmt: skip
        server.route("/kurier", Reply(200, body=_rss("Tages Kurier", [("k1", *german)])))
        result = daily(
            seeds_dir=str(seeds),
            feeds=[server.url("/wire"), server.url("/post"), server.url("/kurier")],
            db_path=str(db_path),
            trigger="test",
        )

    db = open_db(db_path)
    docs = db.execute(
        "SELECT d.title, d.duplicate_of, d.story_id, d.outlets, f.name FROM documents d"
        " JOIN feeds f ON f.id = d.feed_id ORDER BY d.id"
    ).fetchall()
    assert len(docs) == 4 and result["counts"]["near_duplicates"] == 1
    by_title = {row[0]: row for row in docs}
    wire, post, kurier = (
        by_title[title.strip()],
        by_title["Rank set to split off its film arm"],
        (by_title[german[0].strip()]),
    )
    assert (wire[1] is None) != (post[1] is None)  # one is the copy of the other
    assert wire[2] == post[2] == kurier[2]  # wire copies and the translation: one story
    assert by_title[other_title.strip()][2] != wire[2]  # another business story stays apart
    canonical = wire if wire[1] is None else post
    assert set(json.loads(canonical[3])) == {"Wire Herald", "Daily Post"}
    story = db.execute("SELECT sources, languages FROM stories WHERE id = ?", [wire[2]]).fetchone()
    assert set(json.loads(story[0])) == {"Wire Herald", "Daily Post", "Tages Kurier"}
    assert json.loads(story[1]) == ["de", "en"]
