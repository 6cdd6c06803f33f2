"""Every command, given a --db it cannot use, exits 2 with one line naming the file, and leaves
the file as it was; read-only commands never create a database."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.db import connection, open_db
from newsflow.flows.cli import app

runner = CliRunner()

# Arguments that would make each command work on a good database (or fail for another reason
# that does not name the database file), so only the database can explain an exit 2 naming it.
COMMANDS: dict[str, list[str]] = {
    "run": ["run", "--seeds", "{seeds}"],
    "digest": ["digest"],
    "search": ["search", "Japan"],
    "summarize": ["summarize", "-", "--language", "en"],
    "eval": ["eval", "--dataset", "{tmp}/no-dataset"],
    "report": ["report"],
    "report --no-record": ["report", "--no-record"],
    "serve": ["serve"],
    "runs": ["runs"],
    "dedup": ["dedup"],
    "feeds list": ["feeds", "list", "--feeds-file", "{seeds}/feeds.toml"],
    "feeds export": ["feeds", "export", "--feeds-file", "{seeds}/feeds.toml"],
}
READ_ONLY = ["digest", "search", "report", "report --no-record", "runs", "dedup"]
TEXT = "The council approved the budget on Monday. Schools get more money. Roads wait a year."


def newsflow_db(path: Path) -> Path:
    """A real, migrated newsflow database, closed again (so its WAL is folded in)."""
    open_db(path).conn.close()
    return path


def not_a_database(path: Path) -> Path:
    path.write_bytes(b"name,title\n1,not SQLite at all but long enough to be taken for a file\n")
    return path


def a_folder(path: Path) -> Path:
    path.mkdir()
    (path / "inside.txt").write_text("a folder named like a database")
    return path


def damaged(path: Path) -> Path:
    """A SQLite header with garbage behind it, as a truncated copy or a bad disk leaves."""
    path.write_bytes(connection.SQLITE_HEADER + b"\xff" * 2000)
    return path


def another_programs(path: Path) -> Path:
    connection_ = sqlite3.connect(path)
    connection_.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    connection_.commit()
    connection_.close()
    return path


def newer_migration(path: Path) -> Path:
    db = open_db(newsflow_db(path))
    db.conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES ('newsflow', 'm999_from_the_future', '2099-01-01')"
    )
    db.conn.close()
    return path


def newer_user_version(path: Path) -> Path:
    db = open_db(newsflow_db(path))
    db.conn.execute("PRAGMA user_version = 7")
    db.conn.close()
    return path


def unreadable(path: Path) -> Path:
    newsflow_db(path).chmod(0)
    try:
        path.open("rb").close()
    except PermissionError:
        return path
    path.chmod(0o644)
    pytest.skip("this user (root) reads files whatever their permissions")


# kind -> (how to make it, a word the one line must contain)
BAD: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not a database": (not_a_database, "not a SQLite database"),
    "folder": (a_folder, "folder"),
    "damaged": (damaged, "SQLite"),
    "another program's": (another_programs, "another program"),
    "newer migration": (newer_migration, "m999_from_the_future"),
    "newer user_version": (newer_user_version, "user_version 7"),
    "unreadable": (unreadable, "cannot read"),
    "locked": (newsflow_db, "locked"),  # locked by the `exclusive_lock` fixture below
}


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 0.2 s for a lock, not a minute: the behaviour is the same, the test is fast."""
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 200)


def hold_exclusive_lock(path: Path) -> sqlite3.Connection:
    """Another connection holding the file in exclusive locking mode mid-write: nobody else can
    read or write it until it lets go (WAL alone lets readers through; see the next test)."""
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode = EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("INSERT INTO digests (generated_at, format, items) VALUES ('now', 'md', 0)")
    return locker


def snapshot(path: Path) -> object:
    """What the file (or folder) is: bytes and mtime, or a folder's listing and mtime."""
    if path.is_dir():
        return sorted(p.name for p in path.iterdir()), path.stat().st_mtime_ns
    if not path.exists():
        return None
    mode = path.stat().st_mode
    path.chmod(0o600)  # root reads anyway; the unreadable case is only reached as another user
    try:
        return path.read_bytes(), path.stat().st_mtime_ns, mode
    finally:
        path.chmod(mode)


def invoke(command: str, db: Path, tmp_path: Path, seeds: Path) -> tuple[int, str]:
    arguments = [a.format(seeds=seeds, tmp=tmp_path) for a in COMMANDS[command]]
    result = runner.invoke(app, [*arguments, "--db", str(db)], input=TEXT)
    return result.exit_code, result.output


@pytest.fixture
def bad_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The bad database of the parametrised kind, and the word its error must contain."""
    make, word = BAD[request.param]
    path = make(tmp_path / "news.db")
    locker = hold_exclusive_lock(path) if request.param == "locked" else None
    try:
        yield path, word
    finally:
        if locker is not None:
            locker.close()
        if path.exists() and not path.is_dir():
            path.chmod(0o644)


@pytest.mark.parametrize("bad_db", list(BAD), indirect=True)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_database_is_one_line_exit_2_and_left_alone(
    command: str, bad_db: tuple[Path, str], tmp_path: Path, seeds_copy: Path
) -> None:
    path, word = bad_db
    before = snapshot(path)
    code, output = invoke(command, path, tmp_path, seeds_copy)
    lines = output.strip().splitlines()
    assert code == 2, output
    assert len(lines) == 1, output
    assert str(path) in lines[0] and word in lines[0], output
    assert "Traceback" not in output
    assert snapshot(path) == before


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_never_create_a_database(
    command: str, tmp_path: Path, seeds_copy: Path
) -> None:
    missing = tmp_path / "typo.db"
    code, output = invoke(command, missing, tmp_path, seeds_copy)
    assert code == 2, output
    assert output.strip().splitlines() == [
        f"error: {missing}: no database here yet; make one with `newsflow run --db {missing}`"
    ]
    assert not missing.exists()


@pytest.mark.parametrize("command", ["digest", "runs", "report"])
def test_an_empty_file_is_no_database_yet_and_stays_empty(command: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    code, output = invoke(command, empty, tmp_path, tmp_path)
    assert code == 2 and "is empty, no database yet" in output and "newsflow run" in output
    assert empty.read_bytes() == b""


@pytest.mark.parametrize("command", ["summarize", "eval"])
def test_commands_that_store_nothing_create_nothing(
    command: str, tmp_path: Path, seeds_copy: Path
) -> None:
    missing = tmp_path / "missing.db"
    invoke(command, missing, tmp_path, seeds_copy)
    assert not missing.exists()


@pytest.mark.parametrize(
    ("command", "expect"),
    [("run", 2), ("dedup", 2), ("report", 2), ("digest", 0), ("runs", 0), ("search", 1),
     ("report --no-record", 0)],
)  # fmt: skip
def test_a_held_write_lock_stops_writers_and_lets_readers_read(
    command: str, expect: int, tmp_path: Path, seeds_copy: Path
) -> None:
    """In WAL mode a writer's lock does not block readers: commands that only read answer from
    the last commit; commands that write wait out the busy timeout, then say the file is locked."""
    path = newsflow_db(tmp_path / "news.db")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO digests (generated_at, format, items) VALUES ('now', 'md', 0)")
    try:
        before = snapshot(path)
        code, output = invoke(command, path, tmp_path, seeds_copy)
        assert code == expect, output
        if expect == 2:
            assert output.strip().splitlines() == [
                f"error: {path}: locked by another connection for longer than the busy timeout"
                " (0.2 s); try again when it has finished"
            ]
        assert snapshot(path) == before
    finally:
        writer.close()


NEWSFLOW = Path(sys.executable).parent / "newsflow"


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become another user"
)
@pytest.mark.parametrize("command", ["digest", "report", "dedup"])
def test_an_unreadable_file_as_another_user(command: str) -> None:
    """Root reads any file, so the chmod 000 case runs the installed command as `nobody`."""
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)  # nobody may look in the folder, not into the file
        path = newsflow_db(folder / "news.db")
        path.chmod(0)
        before = snapshot(path)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = subprocess.run(
            [*nobody, str(NEWSFLOW), command, "--db", str(path)],
            capture_output=True, text=True, timeout=60, cwd=folder,
            env={**os.environ, "HOME": str(folder)},
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert (result.stdout + result.stderr).strip().splitlines() == [
            f"error: {path}: cannot read it: Permission denied"
        ]
        assert snapshot(path) == before
    finally:
        shutil.rmtree(folder)


def test_a_lock_taken_after_the_check_is_still_one_line(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer may take the lock between the check and the command's first write: the
    command still ends with one line naming the file, not a traceback."""
    path = newsflow_db(tmp_path / "news.db")
    monkeypatch.setattr(connection, "_check_contents", lambda path, *, write: None)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        code, output = invoke("dedup", path, tmp_path, seeds_copy)
    finally:
        writer.close()
    assert code == 2, output
    assert output.strip().splitlines() == [
        f"error: {path}: locked by another connection past the busy timeout (database is locked)"
    ]
