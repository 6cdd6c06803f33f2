"""Headline-only documents: a headline with no usable body is kept, searchable, in stories and the
digest with its link and outlet, and never summarised; no headline and no text stays a reject."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.db import open_db
from newsflow.flows.cli import app
from newsflow.flows.feeds import FeedRunSettings, run_feeds
from newsflow.tasks.feeds.fetch import FetchSettings
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.report.digest_entries import digest_entries
from newsflow.tasks.search.engine import search
from newsflow.tasks.store import run_log, writer
from newsflow.tasks.store.models import Item, Reject
from newsflow.tasks.summarise import summarize
from tests.http_server import Reply, ScriptedServer

FAST = FetchSettings(
    connect_timeout=1.0,
    read_timeout=0.5,
    deadline=2.0,
    max_attempts=1,
    backoff_base=0.01,
    backoff_max=0.05,
    max_bytes=200_000,
    allow_private=True,
)
SETTINGS = FeedRunSettings(fetch=FAST, article_fetch=FAST, workers=2, host_interval=0.0)
WIDE = {"COLUMNS": "300"}  # so rich does not wrap the lines we look for
ARTICLE = (
    "The harbour authority reopened the northern port on Tuesday after a week of repairs to the "
    "storm-damaged quay. Ferries to the islands resume their summer timetable on Friday, and "
    "the fishing fleet returned to its moorings by the evening."
)
OTHER_ARTICLE = (
    "The county council approved next year's school budget on Monday after a long debate. Ten "
    "new teachers will be hired, and the library in the old market hall stays open on Sundays."
)

# Names other than localhost do not resolve: a test can never reach the internet.
pytestmark = pytest.mark.usefixtures("no_internet")


def rss(items: list[tuple[str, str, str | None]], *, language: str | None = None) -> bytes:
    """An RSS 2.0 feed of (title, link, description or None) items."""
    lang = f"<language>{language}</language>" if language else ""
    parts = []
    for number, (title, link, text) in enumerate(items):
        description = f"<description>{html.escape(text)}</description>" if text else ""
        parts.append(
            f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link>"
            f'<guid isPermaLink="false">item-{number}</guid>{description}'
            "<pubDate>Mon, 27 May 2024 10:00:00 GMT</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Loopback Headlines</title><link>/</link>{lang}{''.join(parts)}</channel></rss>"
    ).encode()


def run(db_path: Path, url: str, *, settings: FeedRunSettings = SETTINGS) -> dict[str, int]:
    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={}, trigger="test")
    db.close()
    return run_feeds(str(db_path), feeds_file=None, adhoc=[url], run_id=run_id, settings=settings)


def documents(db_path: Path) -> dict[str, dict[str, object]]:
    db = open_db(db_path)
    cursor = db.execute(
        "SELECT title, body, url, language, headline_only, summary_status FROM documents"
    )
    names = [c[0] for c in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


# --- files ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_a_record_with_only_a_title_is_a_document_not_summarised_and_in_the_digest(
    tmp_path: Path, db_path: Path
) -> None:
    from newsflow.flows.daily import daily

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    records = [
        {
            "title": "Northern port reopens after storm repairs",
            "url": "https://harbour.example/port-reopens",
            "source": "Harbour Gazette",
        },
        # Another event: the headline stays a story of its own in the digest.
        {"title": "Port reopens", "text": OTHER_ARTICLE, "url": "https://coast.example/port"},
    ]
    (seeds / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records), "utf-8")
    daily(seeds_dir=str(seeds), db_path=str(db_path), trigger="test")

    found = documents(db_path)
    headline = found["Northern port reopens after storm repairs"]
    assert headline["body"] == "Northern port reopens after storm repairs"
    assert headline["headline_only"] == 1 and headline["summary_status"] == "headline_only"
    assert headline["language"] == "en"
    assert found["Port reopens"]["headline_only"] == 0
    assert found["Port reopens"]["summary_status"] == "ok"
    db = open_db(db_path)
    summarised = {row[0] for row in db.execute("SELECT d.title FROM summaries s JOIN documents d"
                                               " ON d.id = s.document_id")}  # fmt: skip
    assert summarised == {"Port reopens"}
    assert db.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0

    # Searchable, and in the digest with its link and outlet, with no summary lines.
    hits = [hit for result in search(db, "storm repairs") for hit in result.documents]
    assert any(hit.title == headline_title(found) for hit in hits)
    entry = next(e for e in digest_entries(db) if e["title"] == headline_title(found))
    assert entry["summary"] == []
    assert [s["location"] for s in entry["sources"]] == ["https://harbour.example/port-reopens"]
    assert "Harbour Gazette" in json.dumps(entry)
    shown = CliRunner().invoke(app, ["digest", "--db", str(db_path)], env=WIDE)
    assert shown.exit_code == 0, shown.output
    block = shown.output.split(headline_title(found), 1)[1].split("\n\n", 1)[0]
    assert "https://harbour.example/port-reopens" in block and "Harbour Gazette" in block
    assert "•" not in block  # no summary bullet, empty or otherwise


def test_a_headline_joins_the_story_of_the_article_it_announces(db_path: Path) -> None:
    from newsflow.tasks.dedup import neardup
    from newsflow.tasks.stories import linking

    items = [
        loader.finish_item(Item(key="h", title="Northern port reopens after storm repairs",
                                body="Northern port reopens after storm repairs",
                                headline_only=True, source="Harbour Gazette")),
        loader.finish_item(Item(key="a", title="Port reopens after repairs", body=ARTICLE,
                                source="Coast News")),
    ]  # fmt: skip
    db = open_db(db_path)
    writer.save_items(db, items, run_id="test")
    linking.assign_stories(db, run_id="test", dirty=neardup.deduplicate(db).touched_stories)
    story = {row[0] for row in db.execute("SELECT story_id FROM documents").fetchall()}
    assert len(story) == 1  # one event: the headline and the article in one entry


def headline_title(found: dict[str, dict[str, object]]) -> str:
    return next(str(t) for t, d in found.items() if d["headline_only"])


def test_the_mark_survives_dedup_resetting_the_status_and_is_never_summarised(
    tmp_path: Path, db_path: Path
) -> None:
    (tmp_path / "items.json").write_text(
        json.dumps([{"title": "Ferry timetable changes for the summer"}]), "utf-8"
    )
    entries, _ = scan.scan_folder(tmp_path)
    items, _ = loader.load_file(entries[0])
    db = open_db(db_path)
    writer.save_items(db, items, run_id="test")
    pending = dict(method="fusion", length="3", settings_version=summarize.SETTINGS_VERSION)
    assert writer.ids_to_summarise(db, **pending) == []
    # Near-duplicate detection releases a copy by clearing its status: it comes back pending...
    db.execute("UPDATE documents SET summary_status = NULL")
    ids = writer.ids_to_summarise(db, **pending)
    assert len(ids) == 1
    # ...and summarising gives it its status again, and no summary.
    rows, statuses = summarize.summarise_documents(
        writer.documents_for_summary(db, ids), method="fusion", length=3
    )
    assert rows == [] and statuses == {ids[0]: "headline_only"}


def test_no_headline_and_too_little_text_stays_a_reject(tmp_path: Path) -> None:
    records = [
        {"title": "", "text": ""},
        {"text": "Too short."},
        {"title": "—", "text": "Tiny."},  # punctuation is no headline
        {"title": "Short title, short text", "text": "One line."},
    ]
    (tmp_path / "items.json").write_text(json.dumps(records), "utf-8")
    (tmp_path / "tiny.txt").write_text("Too short.", "utf-8")
    (tmp_path / "headline.txt").write_text("Bridge closed for repairs\nFor a week.\n", "utf-8")
    items: list[Item] = []
    rejects: list[Reject] = []
    for entry in scan.scan_folder(tmp_path)[0]:
        found, refused = loader.load_file(entry)
        items += found
        rejects += refused
    assert sorted((r.location, r.reason) for r in rejects) == [
        ("items.json#0", "no_text"),
        ("items.json#1", "no_text"),
        ("items.json#2", "no_text"),
        ("tiny.txt", "no_text"),
    ]
    bodies = {item.path: (item.body, item.headline_only) for item in items}
    # The headline, then the short text as a second paragraph.
    assert bodies["items.json#3"] == ("Short title, short text\n\nOne line.", True)
    assert bodies["headline.txt"] == ("Bridge closed for repairs\n\nFor a week.", True)


# --- feeds ----------------------------------------------------------------------------------------


def test_a_feed_of_headlines_becomes_documents(server: ScriptedServer, db_path: Path) -> None:
    headlines = [
        "Storm forces airport to cancel hundreds of flights",
        "City council approves new budget after long debate",
        "Samsung Galaxy S5 review",  # names alone: the feed's other items say it is English
    ]
    server.route("/feed", Reply(200, rss([(h, server.url(f"/{n}"), None)
                                          for n, h in enumerate(headlines)])))  # fmt: skip
    counts = run(db_path, server.url("/feed"), settings=replace(SETTINGS, full_text=False))
    assert counts["documents_new"] == 3 and "feed_rejects" not in counts
    found = documents(db_path)
    for headline in headlines:
        assert found[headline]["body"] == headline and found[headline]["headline_only"] == 1
        assert found[headline]["summary_status"] == "headline_only"
        assert found[headline]["language"] == "en"
        assert str(found[headline]["url"]).startswith(server.url("/"))


def test_a_feed_declaring_german_gives_its_short_items_german(
    server: ScriptedServer, db_path: Path
) -> None:
    items = [
        ("Sturm legt Bahnverkehr in Norddeutschland lahm", "Züge fallen aus."),
        ("Bayern 2:1 Dortmund", None),  # no word of German in it: the declared language decides
    ]
    server.route(
        "/feed",
        Reply(
            200, rss([(t, server.url(f"/{n}"), d) for n, (t, d) in enumerate(items)], language="de")
        ),
    )
    run(db_path, server.url("/feed"), settings=replace(SETTINGS, full_text=False))
    found = documents(db_path)
    assert found[items[0][0]]["body"] == f"{items[0][0]}\n\nZüge fallen aus."
    assert {d["language"] for d in found.values()} == {"de"}


def test_a_teaser_whose_page_is_missing_is_a_headline_only_document(
    server: ScriptedServer, db_path: Path
) -> None:
    server.route("/feed", Reply(200, rss([("Bridge closed for repairs", server.url("/gone"),
                                           "Traffic diverted.")])))  # fmt: skip
    server.route("/gone", Reply(404, body="not here"))
    counts = run(db_path, server.url("/feed"))
    assert counts["documents_new"] == 1 and counts["full_text_failed"] == 1
    found = documents(db_path)["Bridge closed for repairs"]
    assert found["body"] == "Bridge closed for repairs\n\nTraffic diverted."
    assert found["headline_only"] == 1 and found["summary_status"] == "headline_only"
    db = open_db(db_path)
    state = db.execute("SELECT full_text, full_text_error FROM feed_entries").fetchone()
    assert state[0] == "failed" and "HTTP 404" in state[1]


def test_a_feed_item_with_no_headline_and_no_text_is_a_reject(
    server: ScriptedServer, db_path: Path
) -> None:
    server.route("/feed", Reply(200, rss([("", server.url("/gone"), "Short."),
                                          ("A headline", server.url("/ok"), None)])))  # fmt: skip
    counts = run(db_path, server.url("/feed"), settings=replace(SETTINGS, full_text=False))
    assert counts["documents_new"] == 1 and counts["feed_rejects"] == 1
    db = open_db(db_path)
    assert db.execute("SELECT kind, reason FROM rejects").fetchall() == [("feed_item", "no_text")]


# --- story summaries ------------------------------------------------------------------------------


def test_a_story_summary_quotes_reports_with_text_and_whole_headlines_otherwise() -> None:
    from newsflow.tasks.stories.story_summary import summarise

    headlines = [
        {"id": 1, "body": "Retailer agrees to buy rival Jos. A. Bank for $1.8 billion",
         "language": "en", "title": None, "headline_only": 1},
        {"id": 2, "body": "Suit maker ends long takeover battle with a deal",
         "language": "en", "title": None, "headline_only": 1},
    ]  # fmt: skip
    lines = summarise(headlines)
    assert {line.text for line in lines} <= {str(h["body"]) for h in headlines}
    assert any(line.text.endswith("$1.8 billion") for line in lines)  # not cut at "Jos."

    article = {"id": 3, "body": ARTICLE, "language": "en", "title": "Port reopens"}
    lines = summarise([*headlines, article])
    assert lines and {line.document_id for line in lines} == {3}
