"""Hostile files beside good ones: each is ingested or refused with a reason, within bounds."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.flows.cli import app
from newsflow.tasks.common.textio import decode_bytes
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.store.models import Item, Reject
from tests.hostile import (
    ITEM,
    ROOT,
    HostileFolder,
    make_hostile_folder,
    prefect_env,
    record_figures,
    remove_tree,
    shared_prefect_home,
)

PEAK_RSS_LIMIT = 1024 * 1024 * 1024  # the bound: a run over the hostile folder under 1 GB
RUN_TIME_LIMIT = 240  # seconds; a run over this folder takes ~15 s here
WIDE = {"COLUMNS": "300"}  # so rich does not wrap the lines we look for


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileFolder]:
    """The hostile folder, with a real 60 MB file, made once for this module."""
    base = tmp_path_factory.mktemp("hostile")
    folder = make_hostile_folder(base)
    yield folder
    remove_tree(base)


def load_all(folder: Path) -> tuple[list[Item], list[Reject]]:
    entries, rejects = scan.scan_folder(folder)
    items: list[Item] = []
    for entry in entries:
        found, refused = loader.load_file(entry)
        items += found
        rejects += refused
    return items, rejects


@pytest.fixture(scope="module")
def loaded(hostile: HostileFolder) -> tuple[dict[str, Item], dict[str, Reject]]:
    items, rejects = load_all(hostile.seeds)
    return {item.path or "": item for item in items}, {r.location: r for r in rejects}


def test_every_hostile_input_is_an_item_or_a_reject_with_its_reason(
    hostile: HostileFolder, loaded: tuple[dict[str, Item], dict[str, Reject]]
) -> None:
    items, rejects = loaded
    outcomes = {path: ITEM for path in items} | {loc: r.reason for loc, r in rejects.items()}
    assert outcomes == hostile.expected
    assert all(reject.detail or reject.reason == "empty" for reject in rejects.values())


def test_legacy_encodings_and_utf16_are_text_not_garbage(
    loaded: tuple[dict[str, Item], dict[str, Reject]],
) -> None:
    items, _ = loaded
    assert items["latin1.txt"].title == "Café owners in Nîmes raise prices as costs climb"
    assert "naïve hope" in items["latin1.txt"].body
    assert items["latin1.txt"].body == items["utf8-bom.txt"].body
    assert items["cp1252.txt"].title == "Euro notes “to be redesigned” by 2028"
    assert "a €20 note" in items["cp1252.txt"].body and "bank’s" in items["cp1252.txt"].body
    assert items["utf16-bom.txt"].title.startswith("Rail strike halts trains")
    assert items["utf16le-nobom.txt"].title.startswith("Bus strike halts trains")
    assert items["crlf-mac.txt"].body.count("\n\n") == 1  # bare CR line ends split paragraphs
    for item in items.values():
        assert "\ufffd" not in item.body and "\x00" not in item.body


def test_scripts_stay_out_and_entity_encoded_title_is_plain_text(
    loaded: tuple[dict[str, Item], dict[str, Reject]],
) -> None:
    page = loaded[0]["scripted.html"]
    # Entities decoded once: the title is the text a browser shows, stored as text, never markup
    # to execute (every report escapes it, see test_cli_shows_hostile_titles_literally).
    assert page.title == '<script>alert("title")</script> Harbour & port reopen [/bold]'
    assert page.body.startswith("The harbour reopened to shipping on Wednesday")
    assert "Fishermen said they had lost a week of catches" in page.body
    for leaked in ("alert", "document.", "Injected", "Script text", "display: none", "Enable"):
        assert leaked not in page.body


def test_links_never_bring_in_text_from_outside_the_folder(
    hostile: HostileFolder, loaded: tuple[dict[str, Item], dict[str, Reject]]
) -> None:
    items, rejects = loaded
    for item in items.values():
        for marker in ("Exfiltrated", "Leakedfile", "root:x:0"):
            assert marker not in item.body
    assert rejects["link-outside.txt"].detail == str(hostile.outside.resolve() / "secret.txt")
    # An inside link is read as its own path; it is then an exact duplicate of its target.
    assert items["link-inside.txt"].content_hash == items["latin1.txt"].content_hash


def test_an_oversized_file_is_refused_from_its_size_without_reading_it(
    hostile: HostileFolder,
) -> None:
    big = hostile.seeds / "big.txt"
    entry = scan.FileEntry(big, "big.txt", big.stat().st_size, big.stat().st_mtime_ns)
    assert entry.size == hostile.big_bytes == 60 * 1024 * 1024
    tracemalloc.start()
    try:
        items, rejects = loader.load_file(entry)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert items == [] and rejects[0].reason == "too_large"
    assert peak < 1024 * 1024  # not one copy of the file, let alone several


def test_files_that_change_after_the_scan_are_refused_not_fatal(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("Secret text from outside the folder. " * 5, encoding="utf-8")
    article = (ROOT / "seeds" / "001_8d6a566c8fb300cb.txt").read_bytes()
    for name in ("gone.txt", "grows.txt", "fifo.txt", "target.txt"):
        (seeds / name).write_bytes(article)
    (seeds / "link.txt").symlink_to("target.txt")
    entries = {entry.relpath: entry for entry in scan.scan_folder(seeds)[0]}
    assert set(entries) == {"gone.txt", "grows.txt", "fifo.txt", "target.txt", "link.txt"}

    (seeds / "gone.txt").unlink()
    with (seeds / "grows.txt").open("ab") as handle:
        handle.write(b"x" * 2_000_000)
    (seeds / "fifo.txt").unlink()
    os.mkfifo(seeds / "fifo.txt")  # opening a FIFO for reading would wait for a writer forever
    (seeds / "link.txt").unlink()
    (seeds / "link.txt").symlink_to(outside)

    outcome = {}
    started = time.monotonic()
    for name, entry in entries.items():
        items, rejects = loader.load_file(entry, max_bytes=1_000_000)
        outcome[name] = rejects[0].reason if rejects else ITEM
    assert time.monotonic() - started < 30
    assert outcome == {
        "gone.txt": "unreadable",
        "grows.txt": "too_large",
        "fifo.txt": "not_a_file",
        "link.txt": "symlink_outside",
        "target.txt": ITEM,
    }
    items, rejects = loader.load_path(seeds, seeds / "never-existed.txt")
    assert items == [] and rejects[0].reason == "unreadable"


@pytest.mark.parametrize(("limit", "outcome"), [(10_000, "read whole"), (2_500, "too_large")])
def test_a_file_that_grows_while_it_is_read_is_read_on_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, outcome: str
) -> None:
    """The read asks for the size fstat gave and a byte more; a file that grew meanwhile is read on,
    as far as the limit, and refused past it, as if read to the limit at once."""
    path = tmp_path / "grows.txt"
    path.write_bytes(b"news " * 600)  # 3,000 bytes
    entry = scan.scan_folder(tmp_path)[0][0]
    real_fstat = os.fstat

    def seen_before_it_grew(descriptor: int) -> os.stat_result:  # 2,000 bytes ago
        info = real_fstat(descriptor)
        return os.stat_result((*info[:6], info.st_size - 2_000, *info[7:10]))

    monkeypatch.setattr(os, "fstat", seen_before_it_grew)
    found = loader._read(entry, limit)
    if outcome == "too_large":
        assert isinstance(found, loader.Reject) and found.reason == "too_large"
    else:
        assert not isinstance(found, loader.Reject) and found[0] == b"news " * 600


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Café owners in Nîmes raise prices; the naïve hope has faded, one owner said.", "latin-1"),
        ("¿Quién pagará? El presidente afirmó el miércoles que nadie pagará más.", "latin-1"),
        ("Der Außenminister äußerte sich am Montag zur Lage; die Gespräche über Zölle.", "latin-1"),
        ("“Citizens will choose the theme,” a spokesperson said – and a €20 note first.", "cp1252"),
        (
            "Prezydent powiedział w środę, że rząd przygotuje nową ustawę. Zażółć gęślą jaźń.",
            "cp1250",
        ),
        (
            "Prezident ve středu řekl, že vláda připraví nový zákon o daních. Příští týden.",
            "cp1250",
        ),
        ("Президент заявил в среду, что правительство подготовит новый закон о налогах.", "cp1251"),
        ("Ο πρόεδρος δήλωσε την Τετάρτη ότι η κυβέρνηση θα ετοιμάσει νέο νόμο.", "cp1253"),
        ("Cumhurbaşkanı çarşamba günü hükümetin yeni bir yasa hazırlayacağını söyledi.", "cp1254"),
        ("Rail strike halts trains across the north of England on Monday morning.", "utf-16-le"),
        ("Rail strike halts trains across the north of England on Monday morning.", "utf-16-be"),
    ],
)
def test_legacy_code_pages_decode_to_the_original_text(text: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding)) == text


def test_batches_are_bounded_in_files_and_bytes() -> None:
    entries = [scan.FileEntry(Path(f"/x/{n}"), str(n), size, 0)
               for n, size in enumerate([10, 10, 10, 100, 5, 5, 5, 5])]  # fmt: skip
    batches = scan.plan_batches(entries, max_files=3, max_bytes=25)
    assert [[e.size for e in batch] for batch in batches] == [[10, 10], [10], [100], [5, 5, 5], [5]]


@pytest.fixture(scope="module")
def hostile_run(
    hostile: HostileFolder, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """One real `newsflow run` over the hostile folder, in a subprocess, measured."""
    db_path = tmp_path_factory.mktemp("hostile-db") / "newsflow.db"
    command = [sys.executable, "-m", "newsflow.flows.cli", "run", "--seeds", str(hostile.seeds),
               "--db", str(db_path)]  # fmt: skip
    started = time.monotonic()
    env = prefect_env(shared_prefect_home(tmp_path_factory.getbasetemp()))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # wait4 reaps this child and reports its own peak RSS (and its waited-for children's).
    deadline = started + RUN_TIME_LIMIT
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.2)
    seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    return {"db": db_path, "code": process.returncode, "seconds": seconds,
            "rss": usage.ru_maxrss * 1024, "out": out, "err": err}  # fmt: skip


@pytest.mark.slow
def test_a_run_over_the_hostile_folder_keeps_the_good_and_records_the_bad(
    hostile: HostileFolder, hostile_run: dict[str, object]
) -> None:
    assert hostile_run["code"] == 0, hostile_run["err"]
    assert "Traceback" not in str(hostile_run["err"])
    record_figures("hostile_folder_run", seconds=round(float(hostile_run["seconds"]), 1),
                   peak_rss_mb=round(int(hostile_run["rss"]) / 2**20),
                   inputs=len(hostile.expected), items=len(hostile.items),
                   rejects=len(hostile.rejects))  # fmt: skip
    assert float(hostile_run["seconds"]) < RUN_TIME_LIMIT
    assert int(hostile_run["rss"]) < PEAK_RSS_LIMIT
    conn = sqlite3.connect(hostile_run["db"])  # type: ignore[arg-type]
    try:
        paths = {row[0] for row in conn.execute("SELECT path FROM documents")}
        rejects = dict(conn.execute("SELECT location, reason FROM rejects").fetchall())
        status = conn.execute("SELECT status FROM runs").fetchall()
        summarised = conn.execute(
            "SELECT count(*) FROM documents WHERE duplicate_of IS NULL AND summary_status = 'ok'"
        ).fetchone()[0]
        canonical = conn.execute(
            "SELECT count(*) FROM documents WHERE duplicate_of IS NULL AND NOT headline_only"
        ).fetchone()[0]
        headlines = conn.execute(
            "SELECT path, summary_status FROM documents WHERE headline_only"
        ).fetchall()
    finally:
        conn.close()
    assert paths == hostile.items  # every good input kept, nothing from outside the folder
    assert rejects == hostile.rejects  # every bad input recorded, with its reason
    assert status == [("completed",)]
    assert summarised == canonical
    assert headlines == [("records.jsonl#6", "headline_only")]  # kept, never summarised


@pytest.mark.slow
def test_cli_shows_hostile_titles_literally(hostile_run: dict[str, object]) -> None:
    result = CliRunner().invoke(app, ["digest", "--db", str(hostile_run["db"])], env=WIDE)
    assert result.exit_code == 0, result.output
    assert '<script>alert("title")</script> Harbour & port reopen [/bold]' in result.output
    assert "[/bold] rich [red]markup.txt" in result.output  # a file name is text, not style


@pytest.mark.slow
@pytest.mark.parametrize(
    "query", ['"unbalanced', "Japan AND", "NEAR(", "*", ")(", "a OR OR b", 'title:"x']
)
def test_malformed_search_gets_a_clear_message_not_a_traceback(
    hostile_run: dict[str, object], query: str
) -> None:
    result = CliRunner().invoke(app, ["search", query, "--db", str(hostile_run["db"])], env=WIDE)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "error: cannot search for" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_search_input_is_a_parameter_not_sql(hostile_run: dict[str, object]) -> None:
    db = str(hostile_run["db"])
    before = _count_documents(db)
    for query in ("'; DROP TABLE documents; --", "x' OR '1'='1", "harbour\x00", "') --"):
        result = CliRunner().invoke(app, ["search", query, "--db", db])
        assert result.exit_code in (0, 1, 2), result.output  # found, not found, refused
        assert "Traceback" not in result.output
    assert _count_documents(db) == before
    result = CliRunner().invoke(app, ["search", "[/bold]", "--db", db], env=WIDE)
    assert result.exit_code == 0, result.output  # markup in a title is found and shown as text
    assert "Harbour & port reopen [/bold]" in result.output  # the title as it is written


def _count_documents(db: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    finally:
        conn.close()
