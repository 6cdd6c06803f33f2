"""The digest report: Markdown, HTML and JSON from SQLite; escaping; windows; new marks; CLI."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from newsflow.db import open_db
from newsflow.flows.artifacts import FEED_COLUMNS, feed_table
from newsflow.flows.cli import app
from newsflow.tasks.ingest.loader import content_hash
from newsflow.tasks.report import digests, model
from newsflow.tasks.report.report_html import to_html
from newsflow.tasks.report.report_text import md, to_json, to_markdown
from newsflow.tasks.store import run_log, writer
from newsflow.tasks.store.models import Item, Reject

HOSTILE = "<script>alert(1)</script>"
BODY = (
    "The council approved the new budget on Monday after a long debate. "
    "Spending on schools rises by a tenth while road repairs are postponed. "
    "The opposition said the plan leaves the harbour project without money."
)


def item(key: str, *, body: str = BODY, **fields: object) -> Item:
    found = Item(key=key, body=body, language="en", content_hash=content_hash(body))
    for name, value in fields.items():
        setattr(found, name, value)
    return found


def summarise(db: Database, document_id: int, text: str, run_id: str, method: str = "luhn") -> None:
    digest = db.execute("SELECT content_hash FROM documents WHERE id = ?", [document_id]).fetchone()
    row = writer.SummaryRow(document_id, method, "2", "1", digest[0], text, [0, 1])
    writer.save_summaries(db, [row], statuses={document_id: "ok"}, run_id=run_id)


def stamp_documents(db: Database, when: str, *, document_id: int | None = None) -> None:
    """Pretend documents were added (and last changed) at `when`."""
    where, params = ("WHERE id = ?", [document_id]) if document_id else ("", [])
    db.execute(
        f"UPDATE documents SET created_at = ?, updated_at = ? {where}", [when, when, *params]
    )


@pytest.fixture
def stocked(db_path: Path) -> tuple[Database, str]:
    """Two documents (one with a hostile title and link), an exact copy, a reject, summaries."""
    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={"method": "luhn", "sentences": "2"}, trigger="test")
    writer.save_items(
        db,
        [
            item("https://evil.example/a", title=HOSTILE, url="javascript:alert(1)",
                 source='"><img src=x onerror=alert(1)>'),
            item("file:b.txt", path="b.txt", title="Harbour plan", source="Daily Bugle",
                 body="Harbour plan stalls again. " + BODY),
            item("https://copy.example/c", url="https://copy.example/c", source="Copy Times"),
        ],
        run_id=run_id,
    )  # fmt: skip
    writer.save_rejects(db, [Reject("bad.bin", "binary", detail="NUL bytes")], run_id=run_id)
    summarise(db, 1, "The council approved the new budget.\nSpending on schools rises.", run_id)
    summarise(db, 2, "Harbour plan stalls again.", run_id)
    run_log.finish_run(db, run_id, status="completed", counts={"documents_new": 3})
    return db, run_id


def test_markdown_digest_has_summaries_sources_and_counts(stocked: tuple[Database, str]) -> None:
    db, _ = stocked
    text = to_markdown(digests.daily_digest(db))
    assert "- The council approved the new budget." in text
    assert "Sources: Daily Bugle — `b.txt`" in text
    assert "(also Copy Times)" in text  # the exact copy names its outlet under the original
    assert "| en | 2 |" in text
    assert "## Duplicates" in text and "content\\_hash" in text
    assert "`bad.bin` — binary: NUL bytes" in text


def test_markdown_escapes_hostile_titles(stocked: tuple[Database, str]) -> None:
    text = to_markdown(digests.daily_digest(stocked[0]))
    assert HOSTILE not in text
    assert not re.search(r"(?<!\\)[<>]", text)  # every angle bracket is escaped
    assert "\\<script\\>alert(1)\\</script\\>" in text
    assert "](javascript:" not in text  # shown as inert code, never as a link
    assert md("[click](javascript:x)") == "\\[click\\](javascript:x)"


class Tags(HTMLParser):
    """Every start tag and attribute the browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_escapes_hostile_titles_sources_and_links(stocked: tuple[Database, str]) -> None:
    page = to_html(digests.daily_digest(stocked[0]))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parser = Tags()
    parser.feed(page)
    names = [tag for tag, _ in parser.tags]
    assert "script" not in names and "img" not in names
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    hrefs = [attrs.get("href") or "" for tag, attrs in parser.tags if tag == "a"]
    assert all(href.startswith(("https://", "http://")) for href in hrefs)
    # Defence in depth: even a missed escape could not run a script or load anything.
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv")]
    assert "default-src 'none'" in (csp[0]["content"] or "")


def test_html_is_one_self_contained_phone_page_with_a_chart(stocked: tuple[Database, str]) -> None:
    page = to_html(digests.daily_digest(stocked[0]))
    parser = Tags()
    parser.feed(page)
    names = [tag for tag, _ in parser.tags]
    assert names.count("svg") == 1 and names.count("rect") >= 2  # items per source
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in (
        parser.tags
    )
    assert not any(t == "link" or (t in {"img", "script"} and "src" in a) for t, a in parser.tags)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_json_digest_round_trips(stocked: tuple[Database, str]) -> None:
    data = json.loads(to_json(digests.daily_digest(stocked[0])))
    assert data["counts"]["documents"] == 2 and data["counts"]["duplicates"] == 1
    assert data["by_language"] == {"en": 2}
    assert set(data["by_source"]) == {"Daily Bugle", '"><img src=x onerror=alert(1)>'}
    harbour = next(e for e in data["entries"] if e["title"] == "Harbour plan")
    assert harbour["sentences"] == [
        {"text": "Harbour plan stalls again.", "outlet": "Daily Bugle", "document_id": 2}
    ]
    assert harbour["mark"] == "new"


def test_story_sentences_name_the_outlet_behind_each(stocked: tuple[Database, str]) -> None:
    db, _ = stocked
    stamp = writer.now()
    db.table("stories").insert(
        {"id": 7, "title": "Budget and harbour", "document_count": 2, "created_at": stamp,
         "updated_at": stamp, "summary": "Harbour plan stalls again.\nSpending on schools rises.",
         "summary_sources": json.dumps([2, 1])}
    )  # fmt: skip
    db.execute("UPDATE documents SET story_id = 7 WHERE id IN (1, 2)")
    digest = digests.daily_digest(db)
    [story] = [e for e in digest.entries if e.kind == "story"]
    assert [(s.text, s.outlet) for s in story.sentences] == [
        ("Harbour plan stalls again.", "Daily Bugle"),
        ("Spending on schools rises.", '"><img src=x onerror=alert(1)>'),
    ]
    assert "- Harbour plan stalls again. — _Daily Bugle_" in to_markdown(digest)
    assert "<cite>— Daily Bugle</cite>" in to_html(digest)


def test_new_marks_only_what_came_after_the_last_digest(stocked: tuple[Database, str]) -> None:
    db, run_id = stocked
    first = digests.daily_digest(db)
    assert first.previous_digest_at is None and all(e.mark == "new" for e in first.entries)
    digests.record_digest(db, first, output_format="md")
    # Everything so far predates the digest; one document arrives and one changes after it.
    stamp_documents(db, "2026-01-01T08:00:00Z")
    db.execute("UPDATE digests SET generated_at = '2026-01-01T09:00:00Z'")
    fresh = item("file:new.txt", path="new.txt", title="Fresh", body="A new one. " * 9)
    writer.save_items(db, [fresh], run_id=run_id)
    db.execute("UPDATE documents SET updated_at = '2026-01-01T10:00:00Z' WHERE id = 2")
    digest = digests.daily_digest(db, since="2026-01-01")
    marks = {e.title: e.mark for e in digest.entries}
    assert marks == {"Fresh": "new", "Harbour plan": "updated", HOSTILE: None}
    assert digest.previous_digest_at == "2026-01-01T09:00:00Z"
    assert "1 new since" not in to_markdown(digest) and "2 new since" in to_markdown(digest)


def test_date_picks_one_utc_day(stocked: tuple[Database, str]) -> None:
    db, _ = stocked
    stamp_documents(db, "2026-02-03T23:59:00Z")
    stamp_documents(db, "2026-02-04T00:00:00Z", document_id=2)
    assert [e.title for e in digests.daily_digest(db, on="2026-02-04").entries] == ["Harbour plan"]
    assert len(digests.daily_digest(db, on="2026-02-03").entries) == 1
    assert digests.daily_digest(db).title == "News digest — 2026-02-04"  # the latest day
    assert digests.daily_digest(db, on="2026-02-05").entries == []


@pytest.mark.parametrize(
    ("on", "since"), [("yesterday", None), (None, "last week"), ("2026-01-01", "2026-01-01")]
)
def test_bad_windows_are_refused(db_path: Path, on: str | None, since: str | None) -> None:
    with pytest.raises(model.BadWindow):
        digests.daily_digest(open_db(db_path), on=on, since=since)


def test_run_digest_lists_what_the_run_did(stocked: tuple[Database, str]) -> None:
    db, run_id = stocked
    digest = digests.run_digest(db, run_id)
    assert digest.title.startswith(f"Run {run_id[:8]}")
    assert {e.mark for e in digest.entries} == {"new"}
    assert [d.outlet for d in digest.duplicates] == ["Copy Times"]
    assert [(r.location, r.reason) for r in digest.rejects] == [("bad.bin", "binary")]
    assert digest.notes and "luhn with 2 sentences" in digest.notes[0]
    limited = digests.run_digest(db, run_id, limit=1)
    assert len(limited.entries) == 1 and limited.more == 1
    assert "… and 1 more documents." in to_markdown(limited)


def test_feed_health_per_run_and_overall(stocked: tuple[Database, str]) -> None:
    db, run_id = stocked
    stamp = writer.now()
    db.table("feeds").insert_all(
        [{"id": 1, "url": "https://a.example/feed", "name": "A", "created_at": stamp},
         {"id": 2, "url": "https://b.example/feed", "name": "B", "created_at": stamp},
         {"id": 3, "url": "http://10.0.0.1/feed", "name": "C", "created_at": stamp}]
    )  # fmt: skip
    db.table("fetches").insert_all(
        [{"run_id": run_id, "feed_id": 1, "url": "https://a.example/feed", "status": 200,
          "items": 10, "new_items": 4, "fetched_at": stamp},
         {"run_id": run_id, "feed_id": 2, "url": "https://b.example/feed", "status": 503,
          "items": 0, "new_items": 0, "error": "HTTP 503", "fetched_at": stamp},
         # A fetch that failed before any response has no URL of its own, only its feed.
         {"run_id": run_id, "feed_id": 3, "url": "", "error": "refused: private address",
          "fetched_at": stamp}]
    )  # fmt: skip
    rows = {r["name"]: r for r in digests.feed_health(db, run_id)}
    assert (rows["A"]["status"], rows["A"]["items"], rows["A"]["new"], rows["A"]["errors"]) == (
        200, 10, 4, 0,
    )  # fmt: skip
    assert (rows["B"]["status"], rows["B"]["errors"], rows["B"]["error"]) == (503, 1, "HTTP 503")
    assert (rows["C"]["url"], rows["C"]["status"], rows["C"]["errors"]) == (
        "http://10.0.0.1/feed", None, 1,
    )  # fmt: skip
    overall = {r["name"]: r for r in digests.feed_health(db)}
    assert overall["B"]["status"] == 503
    table = feed_table(list(rows.values()))
    assert tuple(table) == FEED_COLUMNS and table["name"] == ["A", "B", "C"]
    assert feed_table([]) == {column: [] for column in FEED_COLUMNS}


def test_views_answer_the_documented_queries(stocked: tuple[Database, str]) -> None:
    db, _ = stocked
    day = db.execute("SELECT day, count(*) FROM v_daily_digest GROUP BY day").fetchall()
    assert len(day) == 1 and day[0][1] == 2
    latest = db.execute(
        "SELECT summary_method, summary, copies FROM v_daily_digest WHERE title = 'Harbour plan'"
    ).fetchone()
    assert latest == ("luhn", "Harbour plan stalls again.", 0)
    assert db.execute("SELECT status, method, documents_new FROM v_runs").fetchone() == (
        "completed", "luhn", 3,
    )  # fmt: skip
    assert db.execute("SELECT count(*) FROM v_story_summaries").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM v_feed_health").fetchone()[0] == 0


runner = CliRunner()


def test_cli_prints_markdown_and_writes_html_and_json(
    stocked: tuple[Database, str], db_path: Path, tmp_path: Path
) -> None:
    shown = runner.invoke(app, ["report", "--db", str(db_path), "--no-record"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("# News digest — ") and "Harbour plan" in shown.output
    page = tmp_path / "out" / "digest.html"
    written = runner.invoke(app, ["report", "--db", str(db_path), "-f", "html", "-o", str(page)])
    assert written.exit_code == 0, written.output
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    as_json = runner.invoke(app, ["report", "--db", str(db_path), "--format", "json"])
    assert json.loads(as_json.output)["previous_digest_at"] is not None  # the html run recorded
    assert open_db(db_path).execute("SELECT format FROM digests").fetchall() == [
        ("html",),
        ("json",),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf"], "--format"),
        (["--date", "monday"], "not an ISO date"),
        (["--method", "best"], "--method"),
    ],
)
def test_cli_refuses_bad_options(
    stocked: tuple[Database, str], db_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["report", "--db", str(db_path), *args])
    assert result.exit_code == 2 and message in result.output


def test_cli_says_when_there_is_no_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "newsflow run" in result.output
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.slow
@pytest.mark.ui
def test_html_report_fits_a_phone_screen(stocked: tuple[Database, str], tmp_path: Path) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    from tests.test_ui_e2e import CHROMIUM_ARGS, OUTPUT

    page_file = tmp_path / "digest.html"
    page_file.write_text(to_html(digests.daily_digest(stocked[0])), encoding="utf-8")
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(page_file.as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no side-scroll
            assert page.locator("article.entry").count() == 2
            assert page.locator("h2", has_text=HOSTILE).is_visible()  # shown as text, never run
            page.screenshot(path=OUTPUT / "report-phone.png", full_page=True)
        finally:
            browser.close()
    assert dialogs == []
