"""The feeds step end to end against real loopback servers: fetch, parse, full text, store, health.

Most tests call `newsflow.flows.feeds.run_feeds` (the plain function behind the Prefect task); the
flow and CLI tests at the end go through Prefect with the session harness.
"""

from __future__ import annotations

import gzip
import html
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from newsflow.db import open_db
from newsflow.flows.feeds import FeedRunSettings, run_feeds
from newsflow.tasks.feeds import feed_store, parsing
from newsflow.tasks.feeds.fetch import FetchSettings
from newsflow.tasks.store import run_log
from tests.http_server import Reply, ScriptedServer, article_page, conditional, redirect

FAST = FetchSettings(
    connect_timeout=1.0,
    read_timeout=0.5,
    deadline=2.0,
    max_attempts=3,
    backoff_base=0.01,
    backoff_max=0.05,
    retry_after_cap=2.0,
    max_bytes=200_000,
    allow_private=True,
)
SETTINGS = FeedRunSettings(
    fetch=FAST, article_fetch=replace(FAST, max_attempts=1), workers=4, host_interval=0.0
)
NO_FULL_TEXT = replace(SETTINGS, full_text=False)
LONG = (
    "The ministers met in Phnom Penh on Monday to discuss trade and the tariffs that both "
    "countries have raised over the past two years. They agreed to meet again next spring. "
)
LAST_MODIFIED = "Mon, 27 May 2024 10:00:00 GMT"
# Distinct article texts, so near-duplicate detection keeps the stories apart.
STORIES = [
    "Heavy rain flooded the river valley overnight, and rescue teams evacuated three villages "
    "before dawn. Farmers fear the harvest is lost. The weather service expects more storms.",
    "The central bank left interest rates unchanged on Thursday, citing stubborn inflation in "
    "services. Markets had priced in a cut, and the currency rose sharply after the decision.",
    "A new library opened in the old railway station, with a café, a music room and space for "
    "forty thousand books. Volunteers spent two years restoring the building's iron roof.",
]

# Names other than localhost do not resolve: a test can never reach the internet.
pytestmark = pytest.mark.usefixtures("no_internet")


def rss(items: list[str], *, title: str = "Loopback News", encoding: str = "utf-8") -> bytes:
    head = f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
    body = f"{head}<title>{title}</title><link>/</link>{''.join(items)}</channel></rss>"
    return body.encode(encoding)


def entry(
    title: str,
    *,
    guid: str,
    link: str | None = None,
    text: str = LONG * 10,
    date: str = "Mon, 27 May 2024 10:00:00 GMT",
) -> str:
    link_xml = f"<link>{html.escape(link)}</link>" if link else ""
    return (
        f'<item><title>{html.escape(title)}</title><guid isPermaLink="false">{guid}</guid>'
        f"{link_xml}<description>{html.escape(text)}</description><pubDate>{date}</pubDate></item>"
    )


def run(
    db_path: Path,
    *,
    adhoc: list[str] = (),
    feeds_file: Path | None = None,
    settings: FeedRunSettings = SETTINGS,
) -> dict[str, int]:
    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={}, trigger="test")
    db.close()
    return run_feeds(
        str(db_path),
        feeds_file=str(feeds_file) if feeds_file else None,
        adhoc=list(adhoc),
        run_id=run_id,
        settings=settings,
    )


def rows(db_path: Path, sql: str, *params: object) -> list[dict[str, object]]:
    db = open_db(db_path)
    try:
        cursor = db.execute(sql, list(params))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        db.close()


def teaser_feed(server: ScriptedServer, count: int = 3, *, prefix: str = "/news") -> bytes:
    """A feed of teasers whose article pages are served too."""
    items = []
    for n in range(count):
        paragraphs = [f"Story {n} opens here. " + STORIES[n % 3], LONG, f"Story {n} ends here."]
        server.route(
            f"{prefix}/{n}",
            Reply(
                200,
                body=article_page(f"Story {n}", paragraphs),
                headers={"Content-Type": "text/html; charset=utf-8"},
            ),
        )
        link = server.url(f"{prefix}/{n}") + "?utm_source=rss&utm_medium=feed"
        items.append(
            entry(f"Story {n}", guid=f"s{n}", link=link, text=f"Story {n} in brief: teaser.")
        )
    return rss(items)


# --- incremental and conditional ------------------------------------------------------------------


def test_second_run_is_conditional_gets_304_parses_nothing_and_adds_nothing(
    server, db_path, monkeypatch
):
    body = teaser_feed(server)
    server.route("/feed", conditional(body, etag='"v1"', last_modified=LAST_MODIFIED))
    first = run(db_path, adhoc=[server.url("/feed")])
    assert first["feeds_fetched"] == 1 and first["documents_new"] == 3
    assert first["article_pages"] == 3 and first["full_text_ok"] == 3

    docs = rows(db_path, "SELECT key, url, title, body, feed_id FROM documents ORDER BY id")
    assert [d["title"] for d in docs] == ["Story 0", "Story 1", "Story 2"]
    assert docs[0]["url"] == server.url("/news/0")  # tracking parameters stripped
    assert (
        docs[0]["body"].startswith("Story 0 opens here.") and "Home | World" not in docs[0]["body"]
    )
    assert docs[0]["body"].endswith("Story 0 ends here.")

    parses = []
    monkeypatch.setattr(parsing, "parse_feed", lambda *a, **k: parses.append(1))
    second = run(db_path, adhoc=[server.url("/feed")])
    assert second == {"feeds_not_modified": 1}
    assert parses == []  # a 304 costs no parsing
    sent = server.requests_to("/feed")[-1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == LAST_MODIFIED
    fetches = rows(db_path, "SELECT * FROM fetches WHERE kind = 'feed' ORDER BY id")
    assert [f["status"] for f in fetches] == [200, 304]
    assert fetches[1]["etag_sent"] == '"v1"' and fetches[1]["etag_received"] == '"v1"'
    assert fetches[1]["modified_sent"] == LAST_MODIFIED and fetches[1]["items"] == 0
    assert server.hits("/news/0") == 1  # no article page fetched again
    assert len(rows(db_path, "SELECT id FROM documents")) == 3


def test_a_server_without_validators_costs_no_article_refetch(server, db_path):
    server.route("/feed", Reply(200, body=teaser_feed(server)))  # always 200, no ETag
    run(db_path, adhoc=[server.url("/feed")])
    second = run(db_path, adhoc=[server.url("/feed")])
    assert second["feeds_fetched"] == 1 and second["feed_entries_unchanged"] == 3
    assert "documents_new" not in second and "article_pages" not in second
    assert server.hits("/news/1") == 1


def test_edited_entries_become_new_versions_of_the_same_document(server, db_path):
    def feed(title0: str, text1: str) -> Reply:
        return Reply(
            200,
            body=rss(
                [
                    entry(title0, guid="a"),
                    entry("Second", guid="b", text=text1),
                    entry("Third", guid="c"),
                ]
            ),
        )

    server.route("/feed", feed("Original headline", LONG * 10))
    run(db_path, adhoc=[server.url("/feed")], settings=NO_FULL_TEXT)
    server.route("/feed", feed("Corrected headline", LONG * 10 + "A correction was added."))
    counts = run(db_path, adhoc=[server.url("/feed")], settings=NO_FULL_TEXT)
    assert counts["documents_updated"] == 2 and counts["feed_entries_unchanged"] == 1
    assert "documents_new" not in counts
    docs = rows(db_path, "SELECT title, body, version FROM documents ORDER BY id")
    assert [(d["title"], d["version"]) for d in docs] == [
        ("Corrected headline", 2),
        ("Second", 2),
        ("Third", 1),
    ]
    assert docs[1]["body"].endswith("A correction was added.")
    versions = rows(db_path, "SELECT title, version FROM document_versions ORDER BY id")
    assert versions == [
        {"title": "Original headline", "version": 1},
        {"title": "Second", "version": 1},
    ]


# --- failures: isolated, bounded, recorded --------------------------------------------------------


def test_every_failure_is_a_fetch_row_and_the_good_feeds_still_arrive(server, db_path):
    good = [entry(f"Good {n}", guid=f"g{n}") for n in range(2)]
    server.route("/ok", Reply(200, body=rss(good)))
    server.route("/always-500", Reply(500))
    server.route("/flaky", Reply(503), Reply(503), Reply(200, body=rss([entry("Flaky", guid="f")])))
    server.route(
        "/busy",
        Reply(429, headers={"Retry-After": "1"}),
        Reply(200, body=rss([entry("Busy", guid="b")])),
    )
    server.route("/slow", Reply(200, body=rss(good), delay=30))
    server.route(
        "/page",
        Reply(
            200,
            body="<html><body><p>Hello</p></body></html>",
            headers={"Content-Type": "text/html"},
        ),
    )
    server.route("/huge", Reply(200, body=rss([entry("Huge", guid="h", text=LONG * 2000)])))
    server.route(
        "/broken",
        Reply(
            200,
            body=rss([entry("Kept", guid="k")]).replace(
                b"</channel>", b"<item><title>Bad & worse</title></item></channel>"
            ),
        ),
    )
    server.route(
        "/latin1",
        Reply(
            200,
            body=rss([entry("Zölle für Bürger", guid="l")], encoding="iso-8859-1"),
            headers={"Content-Type": "application/rss+xml; charset=iso-8859-1"},
        ),
    )
    server.route(
        "/cyrillic", Reply(200, body=rss([entry("Новости дня", guid="c")], encoding="windows-1251"))
    )
    server.route("/gzip", Reply(200, body=rss([entry("Compressed", guid="z")]), encoding="gzip"))
    server.route("/a", redirect(301, "/b"))
    server.route("/b", redirect(302, "/c"))
    server.route("/c", redirect(308, "/ok-moved"))
    server.route("/ok-moved", Reply(200, body=rss([entry("Moved", guid="m")])))
    server.route("/steal", redirect(302, "http://169.254.169.254/latest/meta-data/"))
    paths = [
        "/ok",
        "/always-500",
        "/flaky",
        "/busy",
        "/slow",
        "/page",
        "/huge",
        "/broken",
        "/latin1",
        "/cyrillic",
        "/gzip",
        "/a",
        "/steal",
        "/missing",
    ]

    started = time.monotonic()
    counts = run(db_path, adhoc=[server.url(p) for p in paths], settings=NO_FULL_TEXT)
    elapsed = time.monotonic() - started

    assert elapsed < 20  # the slow one is cut off by its timeout; nothing holds the run
    assert counts["feeds_failed"] == 6 and counts["feeds_fetched"] == 8
    fetches = {
        r["url"].removeprefix(server.url("")): r
        for r in rows(db_path, "SELECT * FROM fetches WHERE kind = 'feed'")
    }
    assert set(fetches) == set(paths)
    assert (fetches["/always-500"]["status"], fetches["/always-500"]["attempts"]) == (500, 3)
    assert fetches["/always-500"]["error"] == "HTTP 500" and server.hits("/always-500") == 3
    assert (fetches["/flaky"]["status"], fetches["/flaky"]["attempts"]) == (200, 3)
    assert fetches["/flaky"]["error"] is None
    assert fetches["/busy"]["attempts"] == 2 and fetches["/busy"]["error"] is None
    assert fetches["/missing"]["status"] == 404 and fetches["/missing"]["attempts"] == 1
    assert "Timeout" in fetches["/slow"]["error"]
    assert fetches["/page"]["error"].startswith("not a feed (text/html)")
    assert "cap" in fetches["/huge"]["error"]
    assert fetches["/broken"]["error"] is None and fetches["/broken"]["parse_error"]
    assert fetches["/a"]["final_url"] == server.url("/ok-moved") and fetches["/a"]["redirects"] == 3
    assert "cloud metadata" in fetches["/steal"]["error"]
    assert all(f["elapsed_ms"] is not None for f in fetches.values())

    titles = {r["title"] for r in rows(db_path, "SELECT title FROM documents")}
    assert {
        "Good 0",
        "Good 1",
        "Flaky",
        "Busy",
        "Kept",
        "Zölle für Bürger",
        "Новости дня",
        "Compressed",
        "Moved",
    } <= titles
    health = {
        r["url"].removeprefix(server.url("")): r
        for r in rows(db_path, "SELECT * FROM v_feed_health")
    }
    assert health["/always-500"]["error_count"] == 1 and health["/ok"]["error_count"] == 0


def test_a_failing_feed_is_backed_off_across_runs_until_it_recovers(server, db_path, tmp_path):
    server.route("/down", Reply(500))
    listed = tmp_path / "feeds.toml"
    listed.write_text(
        f'[[feeds]]\nname = "Down"\nurl = "{server.url("/down")}"\n', encoding="utf-8"
    )

    first = run(db_path, feeds_file=listed)
    assert first["feeds_failed"] == 1 and server.hits("/down") == 3
    feed = rows(db_path, "SELECT * FROM feeds")[0]
    assert (
        feed["error_count"] == 1 and feed["next_fetch_after"] and feed["last_error"] == "HTTP 500"
    )

    second = run(db_path, feeds_file=listed)
    assert second == {"feeds_backed_off": 1} and server.hits("/down") == 3  # not hammered

    # Asked for by name, a backed-off feed is fetched; a success clears the error state.
    server.route("/down", Reply(200, body=rss([entry("Back", guid="x")])))
    third = run(db_path, adhoc=[server.url("/down")], settings=NO_FULL_TEXT)
    assert third["feeds_fetched"] == 1 and third["documents_new"] == 1
    feed = rows(db_path, "SELECT * FROM feeds")[0]
    assert (feed["error_count"], feed["next_fetch_after"], feed["last_error"]) == (0, None, None)


def test_backoff_grows_with_consecutive_failures_and_honours_retry_after():
    from datetime import UTC, datetime, timedelta

    now = datetime(2024, 1, 1, tzinfo=UTC)

    def delay(errors: int, retry_after: float | None = None) -> timedelta:
        until = feed_store.backoff_until(errors, now=now, retry_after=retry_after)
        return datetime.fromisoformat(until) - now

    assert [delay(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (15, 30, 60)]
    assert delay(20) == feed_store.BACKOFF_MAX
    assert delay(1, retry_after=7200) == timedelta(hours=2)


# --- full text ------------------------------------------------------------------------------------


def test_when_the_article_page_fails_the_feed_text_is_kept_and_the_reason_recorded(server, db_path):
    teaser = "A teaser long enough to stand as the text of the document for now."
    server.route(
        "/feed",
        Reply(
            200,
            body=rss(
                [
                    entry("Gone", guid="g", link=server.url("/gone"), text=teaser),
                    entry("Empty", guid="e", link=server.url("/empty"), text=teaser + " Again."),
                    entry(
                        "Outside",
                        guid="o",
                        link="https://news.invalid/story",
                        text=teaser + " Third.",
                    ),
                    entry("Tiny", guid="t", link=server.url("/gone"), text="Too short."),
                    entry("", guid="u", link=server.url("/gone"), text="No headline."),
                ]
            ),
        ),
    )
    server.route(
        "/empty",
        Reply(
            200,
            body="<html><body><nav>Home</nav></body></html>",
            headers={"Content-Type": "text/html"},
        ),
    )

    counts = run(db_path, adhoc=[server.url("/feed")])
    assert counts["documents_new"] == 4 and counts["full_text_failed"] == 5
    assert counts["feed_rejects"] == 1
    docs = {d["title"]: d["body"] for d in rows(db_path, "SELECT title, body FROM documents")}
    assert docs["Gone"] == teaser and docs["Outside"] == teaser + " Third."
    # A headline with too little text is a headline-only document; without a headline, a reject.
    assert docs["Tiny"] == "Tiny\n\nToo short."
    state = {r["guid"]: r for r in rows(db_path, "SELECT * FROM feed_entries")}
    assert state["g"]["full_text"] == "failed" and "HTTP 404" in state["g"]["full_text_error"]
    assert state["e"]["full_text"] == "failed" and "page" in state["e"]["full_text_error"]
    assert "cannot resolve" in state["o"]["full_text_error"]  # and nothing left the machine
    reject = rows(db_path, "SELECT * FROM rejects")[0]
    assert reject["kind"] == "feed_item" and reject["reason"] == "no_text"
    assert "HTTP 404" in reject["detail"]
    articles = rows(db_path, "SELECT status, error FROM fetches WHERE kind = 'article'")
    assert sorted(str(a["status"]) for a in articles) == ["200", "404", "404", "404", "None"]

    # Failed pages are tried again on later runs, a bounded number of times.
    for _ in range(3):
        run(db_path, adhoc=[server.url("/feed")])
    assert server.hits("/empty") == feed_store.FULL_TEXT_ATTEMPTS
    assert rows(db_path, "SELECT full_text_attempts FROM feed_entries WHERE guid = 'e'") == [
        {"full_text_attempts": feed_store.FULL_TEXT_ATTEMPTS}
    ]


def test_the_pages_canonical_url_is_recorded(server, db_path):
    paragraphs = [LONG * 2, LONG * 3]
    server.route(
        "/story",
        Reply(
            200,
            body=article_page(
                "Canon", paragraphs, canonical=server.url("/canonical-story?utm_source=x")
            ),
            headers={"Content-Type": "text/html"},
        ),
    )
    server.route(
        "/feed",
        Reply(
            200,
            body=rss(
                [
                    entry(
                        "Canon",
                        guid="c",
                        link=server.url("/story?fbclid=abc"),
                        text="Short teaser text here.",
                    )
                ]
            ),
        ),
    )
    run(db_path, adhoc=[server.url("/feed")])
    doc = rows(db_path, "SELECT url, body FROM documents")[0]
    assert doc["url"] == server.url("/canonical-story") and doc["body"].startswith("The ministers")


def test_the_same_article_in_two_feeds_is_one_document(server, db_path):
    shared = entry("Shared story", guid="https://news.example/shared", text=LONG * 10)
    server.route("/one", Reply(200, body=rss([shared, entry("Only one", guid="o1")])))
    server.route("/two", Reply(200, body=rss([shared])))
    counts = run(db_path, adhoc=[server.url("/one"), server.url("/two")], settings=NO_FULL_TEXT)
    assert counts["feeds_fetched"] == 2 and counts["documents_new"] == 2
    assert (
        len(rows(db_path, "SELECT id FROM documents WHERE key = 'https://news.example/shared'"))
        == 1
    )


def test_one_feeds_internal_error_never_fails_the_run(server, db_path, monkeypatch):
    server.route("/ok", Reply(200, body=rss([entry("Fine", guid="f")])))
    server.route("/bad", Reply(200, body=rss([entry("Boom", guid="b")])))
    real = parsing.parse_feed

    def exploding(body: bytes, **kwargs: object) -> parsing.ParsedFeed:
        if b"Boom" in body:
            raise RuntimeError("parser bug")
        return real(body, **kwargs)

    monkeypatch.setattr(parsing, "parse_feed", exploding)
    counts = run(db_path, adhoc=[server.url("/ok"), server.url("/bad")], settings=NO_FULL_TEXT)
    assert counts["feeds_fetched"] == 1 and counts["feeds_failed"] == 1
    errors = [r["error"] for r in rows(db_path, "SELECT error FROM fetches") if r["error"]]
    assert errors == ["internal error: RuntimeError: parser bug"]


# --- the daily flow and the CLI (Prefect) ---------------------------------------------------------


@pytest.fixture
def fast_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flow builds its own settings from the environment: make them test-sized."""
    for name, value in {
        "READ_TIMEOUT": "1",
        "DEADLINE": "3",
        "BACKOFF_BASE": "0.01",
        "CONNECT_TIMEOUT": "1",
    }.items():
        monkeypatch.setenv(f"NEWSFLOW_FETCH_{name}", value)
    monkeypatch.setenv("NEWSFLOW_FEEDS_HOST_INTERVAL", "0")


@pytest.mark.slow
def test_daily_flow_ingests_listed_and_adhoc_feeds_then_summarises_them(
    prefect_harness, server, seeds_copy, db_path, fast_env
):
    from newsflow.flows.daily import daily

    server.route("/listed", conditional(teaser_feed(server, 2, prefix="/l"), etag='"l1"'))
    server.route("/adhoc", conditional(rss([entry("Adhoc story", guid="a")]), etag='"a1"'))
    server.route("/disabled", Reply(200, body=rss([entry("Never", guid="n")])))
    (seeds_copy / "feeds.toml").write_text(
        f'[[feeds]]\nname = "Listed"\nurl = "{server.url("/listed")}"\n\n'
        f'[[feeds]]\nurl = "{server.url("/disabled")}"\nenabled = false\n',
        encoding="utf-8",
    )
    result = daily(
        seeds_dir=str(seeds_copy),
        feeds=[server.url("/adhoc")],
        db_path=str(db_path),
        trigger="test",
    )
    counts = result["counts"]
    assert counts["feeds_fetched"] == 2 and counts["full_text_ok"] == 2
    assert server.hits("/disabled") == 0
    feed_docs = rows(
        db_path,
        "SELECT d.id, d.source, d.summary_status FROM documents d "
        "WHERE d.feed_id IS NOT NULL ORDER BY d.id",
    )
    assert len(feed_docs) == 3 and {d["source"] for d in feed_docs} == {"Listed", "Loopback News"}
    summarised = rows(
        db_path,
        "SELECT count(*) AS n FROM summaries s JOIN documents d "
        "ON d.id = s.document_id WHERE d.feed_id IS NOT NULL",
    )
    assert summarised[0]["n"] == 3

    again = daily(
        seeds_dir=str(seeds_copy),
        feeds=[server.url("/adhoc")],
        db_path=str(db_path),
        trigger="test",
    )["counts"]
    assert again["feeds_not_modified"] == 2 and not again.get("documents_new")
    run_row = rows(db_path, "SELECT parameters, counts FROM runs ORDER BY started_at DESC LIMIT 1")
    assert json.loads(run_row[0]["counts"])["feeds_not_modified"] == 2


@pytest.mark.slow
def test_cli_run_with_feed_and_feeds_file(
    prefect_harness, server, seeds_copy, db_path, fast_env, tmp_path
):
    from typer.testing import CliRunner

    from newsflow.flows.cli import app

    server.route("/feed", Reply(200, body=rss([entry("From the CLI", guid="cli")])))
    server.route("/listed", Reply(200, body=rss([entry("From the list", guid="l")])))
    listed = tmp_path / "mine.txt"
    listed.write_text(f"# one URL a line\n{server.url('/listed')}\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "run",
            "--seeds",
            str(seeds_copy),
            "--db",
            str(db_path),
            "--feed",
            server.url("/feed"),
            "--feeds-file",
            str(listed),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "feeds fetched 2" in " ".join(result.output.split())
    titles = {r["title"] for r in rows(db_path, "SELECT title FROM documents")}
    assert {"From the CLI", "From the list"} <= titles


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--feed", "ftp://example.org/feed"], "--feed: 'ftp://example.org/feed' is not an http"),
        (
            ["--feeds-file", "/nonexistent/feeds.toml"],
            "--feeds-file: /nonexistent/feeds.toml is not a file",
        ),
    ],
)
def test_cli_refuses_bad_feed_arguments_before_running(seeds_copy, db_path, args, message):
    from typer.testing import CliRunner

    from newsflow.flows.cli import app

    result = CliRunner().invoke(
        app, ["run", "--seeds", str(seeds_copy), "--db", str(db_path), *args]
    )
    assert result.exit_code == 2 and message in " ".join(result.output.split())


def test_cli_refuses_an_invalid_feed_list(seeds_copy, db_path, tmp_path):
    from typer.testing import CliRunner

    from newsflow.flows.cli import app

    bad = tmp_path / "feeds.toml"
    bad.write_text(
        '[[feeds]]\nurl = "https://x.example/"\nenabled = "sometimes"\n', encoding="utf-8"
    )
    result = CliRunner().invoke(
        app, ["run", "--seeds", str(seeds_copy), "--db", str(db_path), "--feeds-file", str(bad)]
    )
    assert result.exit_code == 2 and "'enabled' must be true or false" in result.output


# --- a new user's first day: a few dozen real feeds on loopback -----------------------------------

BBC = "bbc-news-summary/article"


def _bbc_feeds(server: ScriptedServer, corpus: Path) -> dict[str, list[tuple[str, str]]]:
    """25 outlets built from the 200 BBC articles: 8 teasers each, in RSS, Atom and JSON Feed,
    plain, gzipped and in legacy encodings, every article page served with boilerplate."""
    articles = sorted((corpus / BBC).glob("*/*.txt"))
    expected: dict[str, list[tuple[str, str]]] = {}
    for number in range(25):
        chunk = articles[number * 8 : number * 8 + 8]
        stories = []
        for path in chunk:
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            lines = [line for line in lines if line]
            title, paragraphs = lines[0], lines[1:]
            slug = f"/bbc/{path.parent.name}/{path.stem}"
            server.route(
                slug,
                Reply(
                    200,
                    body=article_page(title, paragraphs),
                    headers={"Content-Type": "text/html; charset=utf-8"},
                ),
            )
            stories.append((title, paragraphs, server.url(slug) + "?at_medium=RSS&utm_source=x"))
        path = f"/outlet/{number}"
        kind = number % 5
        if kind == 3:  # JSON Feed
            body = json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": f"Outlet {number}",
                    "items": [
                        {
                            "id": url,
                            "url": url,
                            "title": t,
                            "summary": p[0],
                            "date_published": f"2005-03-0{i + 1}T10:00:00Z",
                        }
                        for i, (t, p, url) in enumerate(stories)
                    ],
                }
            ).encode()
            content_type = "application/feed+json"
        elif kind == 4:  # Atom
            entries = "".join(
                f"<entry><id>tag:outlet{number},2005:{i}</id><title>{html.escape(t)}</title>"
                f'<link rel="alternate" href="{html.escape(url)}"/>'
                f"<updated>2005-03-0{i + 1}T10:00:00Z</updated>"
                f"<summary>{html.escape(p[0])}</summary></entry>"
                for i, (t, p, url) in enumerate(stories)
            )
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>Outlet {number}</title>{entries}</feed>"
            ).encode()
            content_type = "application/atom+xml"
        else:  # RSS 2.0: utf-8, cp1252 or gzip
            encoding = "windows-1252" if kind == 1 else "utf-8"
            items = [
                entry(
                    t,
                    guid=f"o{number}-{i}",
                    link=url,
                    text=p[0],
                    date=f"Mon, 0{i + 1} Mar 2005 10:00:00 GMT",
                )
                for i, (t, p, url) in enumerate(stories)
            ]
            body = rss(items, title=f"Outlet {number}", encoding=encoding)
            if kind == 2:
                body = gzip.compress(body)  # a gzip file served as is, no Content-Encoding
            content_type = "application/rss+xml"
        headers = {"Content-Type": content_type}
        validators = (
            {"etag": f'"outlet-{number}"'} if number % 2 else {"last_modified": LAST_MODIFIED}
        )
        handler = conditional(body, content_type=content_type, **validators)
        server.route(
            path, handler if kind != 0 or number % 3 else Reply(200, body=body, headers=headers)
        )
        expected[path] = [(t, " ".join(p)) for t, p, _ in stories]
    return expected


@pytest.mark.slow
def test_new_user_check_a_few_dozen_feeds_on_loopback(server, db_path, corpus, tmp_path):
    expected = _bbc_feeds(server, corpus)
    # The real-world fixtures too, each served as a feed of its own (their links point to the
    # internet, which tests cannot reach: those entries keep the feed's text).
    fixtures = [
        p
        for p in sorted((corpus / "feeds").glob("*/*"))
        if not (
            p.parent.name == "fastfeedparser"
            and p.suffix == ".json"
            and p.name != "json_feed_sample.json"
        )
    ]
    for path in fixtures:
        server.route(
            f"/fixture/{path.parent.name}/{path.name}",
            conditional(path.read_bytes(), etag=f'"{path.name}"', content_type="application/xml"),
        )
    urls = [server.url(p) for p in expected] + [
        server.url(f"/fixture/{p.parent.name}/{p.name}") for p in fixtures
    ]
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("\n".join(urls) + "\n", encoding="utf-8")

    started = time.monotonic()
    first = run(db_path, feeds_file=feed_list)
    first_seconds = time.monotonic() - started

    # Every BBC article became a document with its own title and its full text (not the teaser).
    docs = rows(
        db_path,
        "SELECT d.title, d.body, d.url, f.url AS feed FROM documents d "
        "JOIN feeds f ON f.id = d.feed_id",
    )
    by_feed: dict[str, dict[str, str]] = {}
    for doc in docs:
        by_feed.setdefault(doc["feed"].removeprefix(server.url("")), {})[doc["title"]] = doc["body"]
    bbc_total = sum(len(v) for v in expected.values())
    bbc_found = full = 0
    for path, stories in expected.items():
        for title, text in stories:
            body = by_feed.get(path, {}).get(title)
            if body is None:
                continue
            bbc_found += 1
            words = set(body.split())
            full += len(words & set(text.split())) / len(set(text.split())) > 0.9
            assert "All rights reserved" not in body and "Home | World" not in body
    assert bbc_found >= 0.98 * bbc_total and full >= 0.95 * bbc_total

    # The fixtures: nearly every entry with text became a document, with a clean title.
    fixture_docs = [d for d in docs if d["feed"].startswith(server.url("/fixture/"))]
    clean = [d for d in fixture_docs if not _suspicious(d["title"] or "")]
    assert len(clean) >= 0.97 * len(fixture_docs)

    started = time.monotonic()
    second = run(db_path, feeds_file=feed_list)
    second_seconds = time.monotonic() - started
    report = {
        "feeds": len(urls),
        "first_run": first,
        "first_seconds": round(first_seconds, 1),
        "second_run": second,
        "second_seconds": round(second_seconds, 1),
        "bbc_articles": bbc_total,
        "bbc_documents": bbc_found,
        "bbc_full_text": full,
        "fixture_documents": len(fixture_docs),
        "fixture_clean_titles": len(clean),
    }
    print("\nnew-user check:", json.dumps(report, indent=1))
    assert "documents_new" not in second and "article_pages" not in second
    plain_200 = sum(1 for n in range(0, 25, 5) if n % 3 == 0)  # outlets that never send validators
    not_feeds = 2  # notafeed.html and an empty document: failed once, now backed off
    assert first["feeds_failed"] == not_feeds and second["feeds_backed_off"] == not_feeds
    assert second["feeds_not_modified"] == len(urls) - plain_200 - not_feeds
    assert second["feeds_fetched"] == plain_200 and second["feed_entries_unchanged"] == 16


def _suspicious(title: str) -> bool:
    import re

    return bool(re.search(r"<[a-zA-Z/][^>]*>|&(?:amp|lt|gt|quot|#\d+);|Ã[\u0080-\u00bf]|â€", title))
