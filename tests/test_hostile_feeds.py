"""Hostile feeds beside a good one, on real loopback servers, through the real feeds step.

Each hostile feed (bombs, endless and trickled bodies, silent servers, redirect traps, entity
attacks, HTML and invalid characters, floods) must end as a `fetches` error or a bozo parse, or
be stored within its bounds, in bounded time; the good feed beside it loses nothing. The whole
list in one `newsflow run` stays under a minute or two and 1 GB. Without the opt-in, a loopback
feed is refused before any request is sent.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from newsflow.db import open_db
from newsflow.flows.feeds import FeedRunSettings, run_feeds
from newsflow.tasks.feeds import entry_text, netguard, parsing
from newsflow.tasks.feeds.fetch import FetchSettings, fetch, make_client
from newsflow.tasks.store import run_log
from tests.hostile import record_figures
from tests.hostile_feeds import (
    GOOD_TITLES,
    HOSTS,
    Case,
    HostileFarm,
    cases,
    install,
    serve,
    trickle_body,
    trickle_headers,
)

ROOT = Path(__file__).resolve().parent.parent
# Production timeouts, but a 2 s deadline: the trickles are bounded by the deadline, never by the
# 20 s read timeout they keep resetting.
FETCH = FetchSettings(
    connect_timeout=2.0,
    read_timeout=20.0,
    deadline=2.0,
    max_attempts=3,
    backoff_base=0.1,
    backoff_max=0.5,
    retry_after_cap=2.0,
)
SETTINGS = FeedRunSettings(
    fetch=FETCH,
    article_fetch=replace(FETCH, max_attempts=2, max_bytes=5 * 1024 * 1024),
    host_interval=0.0,
)
ENV = {
    "NEWSFLOW_FETCH_CONNECT_TIMEOUT": "2",
    "NEWSFLOW_FETCH_DEADLINE": "2",
    "NEWSFLOW_FETCH_BACKOFF_BASE": "0.1",
    "NEWSFLOW_FETCH_BACKOFF_MAX": "0.5",
    "NEWSFLOW_FEEDS_HOST_INTERVAL": "0",
}
CASE_LIMIT = 20.0  # seconds for one hostile feed beside the good one
RUN_LIMIT = 180.0  # seconds for the whole list in one `newsflow run` (Prefect start included)
PEAK_RSS_LIMIT = 1 << 30
GOOD_KEYS = {f"guid:{{good}}#good-{n}" for n in range(len(GOOD_TITLES))}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
CASES = cases()


@pytest.fixture(scope="module")
def farm() -> Iterator[tuple[HostileFarm, dict[str, str]]]:
    with HostileFarm(hosts=HOSTS) as running:
        yield running, install(running, CASES)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Numeric hosts resolve (2852039166 is 169.254.169.254), names do not: no DNS, ever."""

    def resolve(host: str, port: int) -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return [str(info[4][0]) for info in infos]

    monkeypatch.setattr(netguard, "system_resolver", resolve)


def passwd_lines() -> list[str]:
    """Lines of this machine's /etc/passwd: none may ever reach the database."""
    try:
        lines = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    return [line for line in lines[:5] if line.count(":") >= 6] or ["root:x:0:0"]


def database_text(db_path: Path) -> str:
    """Everything stored, as SQL text."""
    conn = sqlite3.connect(db_path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def rows(db_path: Path, sql: str, *params: object) -> list[dict[str, object]]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def run(db_path: Path, urls: list[str], settings: FeedRunSettings = SETTINGS) -> dict[str, int]:
    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={}, trigger="test")
    db.close()
    return run_feeds(str(db_path), feeds_file=None, adhoc=urls, run_id=run_id, settings=settings)


def good_keys(good_url: str) -> set[str]:
    return {key.format(good=good_url) for key in GOOD_KEYS}


def check_case(case: Case, fetch_row: dict[str, object]) -> None:
    """The `fetches` row says what the case must end as."""
    error, parse_error = fetch_row["error"], fetch_row["parse_error"]
    if case.error is None:
        assert error is None, (case.name, error)
    else:
        assert error is not None and case.error in str(error), (case.name, error)
    if case.parse_error is not None:
        assert parse_error is not None and case.parse_error in str(parse_error), case.name
    if case.error is None and case.parse_error is None:  # stored, within its bounds
        assert fetch_row["status"] == 200 and (fetch_row["items"] or 0) >= 1, case.name


def check_stored_text_is_clean(db_path: Path) -> None:
    """No entity bomb, no leaked file, no control characters, no huge titles or keys."""
    dump = database_text(db_path)
    for line in passwd_lines():
        assert line not in dump
    assert "lollollol" not in dump and "A" * 1000 not in dump
    for doc in rows(db_path, "SELECT key, title, body FROM documents"):
        assert not CONTROL.search(doc["body"]) and not CONTROL.search(doc["title"] or "")
        assert len(doc["title"] or "") <= entry_text.MAX_TITLE_CHARS
        assert len(doc["key"]) <= parsing.MAX_ID_CHARS + 200


def param(case: Case) -> object:
    slug = re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-")
    return pytest.param(case, id=slug, marks=[pytest.mark.slow] if case.slow else [])


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_a_hostile_feed_is_recorded_and_the_good_feed_beside_it_is_kept(
    case: Case, farm: tuple[HostileFarm, dict[str, str]], db_path: Path
) -> None:
    server, urls = farm
    started = time.monotonic()
    counts = run(db_path, [urls["good"], urls[case.name]])
    seconds = time.monotonic() - started

    assert seconds < CASE_LIMIT, (case.name, seconds)
    stored = {r["key"] for r in rows(db_path, "SELECT key FROM documents")}
    assert good_keys(urls["good"]) <= stored  # nothing lost beside it
    fetched = {r["url"]: r for r in rows(db_path, "SELECT * FROM fetches WHERE kind = 'feed'")}
    assert fetched[urls["good"]]["error"] is None
    check_case(case, fetched[urls[case.name]])
    check_stored_text_is_clean(db_path)
    assert counts["feeds_fetched"] + counts.get("feeds_failed", 0) == 2

    row = fetched[urls[case.name]]
    if case.error in ("Timeout", "deadline"):
        # Every attempt ends within the deadline (and a little scheduling slack).
        assert row["attempts"] == FETCH.max_attempts
        assert row["elapsed_ms"] < FETCH.max_attempts * (FETCH.deadline + 1.0) * 1000
    if "cut" in case.notes:
        assert row["entries_cut"] == case.notes["cut"] and counts["feed_entries_cut"] == 99_000
        assert row["items"] == parsing.MAX_ENTRIES
    if "too_long" in case.notes:
        reasons = {r["location"]: r["reason"] for r in rows(db_path, "SELECT * FROM rejects")}
        assert reasons == {f"guid:{urls[case.name]}#{case.notes['too_long']}": "too_long"}


def test_big_bodies_stop_at_the_cap_on_the_wire(farm: tuple[HostileFarm, dict[str, str]]) -> None:
    server, urls = farm
    with make_client(FETCH) as client:
        for name, path in [
            ("gzip bomb (Content-Encoding: gzip)", "/bomb"),
            ("500 MB body, no length", "/endless"),
            ("500 MB Content-Length", "/declared"),
        ]:
            before = server.sent(path)
            result = fetch(client, urls[name], settings=FETCH)
            assert result.error_kind == "too_large" and result.body == b"", name
            # The client hung up: the server got rid of a few MB (socket buffers), not 500 MB.
            time.sleep(0.2)
            assert server.sent(path) - before < 40 * 1024 * 1024, name


@pytest.mark.parametrize("route", [trickle_headers(0.5), trickle_body(0.5)], ids=["head", "body"])
def test_a_trickle_is_cut_at_the_deadline_not_after_the_read_timeout(
    route: object, farm: tuple[HostileFarm, dict[str, str]]
) -> None:
    server, _ = farm
    path = f"/trickle-{id(route)}"
    server.route(path, route)  # type: ignore[arg-type]
    settings = replace(FETCH, deadline=1.5, max_attempts=1)
    started = time.monotonic()
    with make_client(settings) as client:
        result = fetch(client, server.url(path, host=HOSTS - 1), settings=settings)
    seconds = time.monotonic() - started
    assert result.error_kind == "timeout" and "deadline of 1.5 s" in str(result.error)
    assert seconds < settings.deadline + 0.75  # the 20 s read timeout never came into it


def test_loopback_is_refused_without_the_opt_in_and_nothing_is_sent(
    farm: tuple[HostileFarm, dict[str, str]], db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = farm
    server.route("/private", serve(b"<rss version='2.0'><channel><title>P</title></channel></rss>"))
    monkeypatch.delenv(netguard.ALLOW_PRIVATE_ENV, raising=False)
    url = server.url("/private", host=3)
    counts = run(
        db_path, [url], settings=replace(SETTINGS, fetch=replace(FETCH, allow_private=None))
    )
    assert counts == {"feeds_failed": 1}
    (row,) = rows(db_path, "SELECT * FROM fetches")
    assert "loopback or private (set NEWSFLOW_ALLOW_PRIVATE_HOSTS=1 to allow)" in row["error"]
    assert row["attempts"] == 1 and row["status"] is None
    assert server.hits("/private") == 0  # refused before a connection was made


# --- the whole list, as a new user runs it -------------------------------------------------------


@pytest.mark.slow
def test_the_whole_list_in_one_newsflow_run_keeps_the_good_feed_in_bounded_time_and_memory(
    farm: tuple[HostileFarm, dict[str, str]], tmp_path: Path
) -> None:
    server, urls = farm
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text("\n".join(urls.values()) + "\n", encoding="utf-8")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    db_path = tmp_path / "newsflow.db"

    result = measured_run(db_path, feeds_file, seeds)

    assert result["code"] == 0, result["err"][-3000:]
    assert "Traceback" not in result["err"]
    assert result["seconds"] < RUN_LIMIT
    assert result["rss"] < PEAK_RSS_LIMIT
    runs = rows(db_path, "SELECT status, counts FROM runs")
    assert [r["status"] for r in runs] == ["completed"]
    fetched = {r["url"]: r for r in rows(db_path, "SELECT * FROM fetches WHERE kind = 'feed'")}
    assert set(fetched) == set(urls.values())  # every feed has its row
    for case in CASES:
        check_case(case, fetched[urls[case.name]])
    good = {r["key"]: r for r in rows(db_path, "SELECT * FROM documents")}
    lost = good_keys(urls["good"]) - set(good)
    assert not lost
    assert all(good[key]["summary_status"] == "ok" for key in good_keys(urls["good"]))
    check_stored_text_is_clean(db_path)
    failed = sum(1 for r in fetched.values() if r["error"])
    bozo = sum(1 for r in fetched.values() if not r["error"] and r["parse_error"])
    record_figures(
        "hostile_feeds_run",
        hostile_feeds=len(CASES),
        failed_with_error=failed,
        bozo_parses=bozo,
        stored_within_bounds=len(CASES) - failed - bozo,
        good_items=len(GOOD_KEYS),
        good_items_lost=len(lost),
        seconds=round(result["seconds"], 1),
        peak_rss_mb=round(result["rss"] / 2**20),
        slowest_fetch_ms=max(int(r["elapsed_ms"] or 0) for r in fetched.values()),
    )


def measured_run(db_path: Path, feeds_file: Path, seeds: Path) -> dict[str, object]:
    """`newsflow run` in a subprocess; peak RSS from wait4, which also reaps it."""
    command = [sys.executable, "-m", "newsflow.flows.cli", "run", "--seeds", str(seeds), "--db",
               str(db_path), "--feeds-file", str(feeds_file)]  # fmt: skip
    env = os.environ | ENV | {netguard.ALLOW_PRIVATE_ENV: "1"}
    started = time.monotonic()
    with (
        open(db_path.with_suffix(".out"), "w+b") as out,
        open(db_path.with_suffix(".err"), "w+b") as err,
    ):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > RUN_LIMIT * 2:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.2)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return {"code": process.returncode, "seconds": seconds, "rss": usage.ru_maxrss * 1024,
                "out": out.read().decode(errors="replace"),
                "err": err.read().decode(errors="replace")}  # fmt: skip
