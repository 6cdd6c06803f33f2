"""Fuzzing file ingestion: random and mutated files never raise; every input is accounted for."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from newsflow.db import open_db
from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.store import transaction, writer
from newsflow.tasks.store.models import Item, Reject
from tests.hostile import BBC_ARTICLES, SEEDS

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    database=None,  # no .hypothesis folder in the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SUFFIXES = [".txt", ".md", ".html", ".htm", ".json", ".jsonl"]
REASONS = {
    "empty", "binary", "too_large", "too_long", "no_text", "bad_json", "bad_record",
    "unsupported_type", "not_a_file", "unreadable", "bad_name", "symlink_outside",
    "symlink_loop", "broken_symlink", "symlink_directory", "too_deep",
}  # fmt: skip


def _real_files() -> list[Path]:
    files = sorted(SEEDS.glob("*.txt"))
    if BBC_ARTICLES.is_dir():
        files += sorted(BBC_ARTICLES.rglob("*.txt"))[::10]
    return files


REAL_FILES = _real_files()


@pytest.fixture(scope="module")
def workspace() -> Iterator[tuple[Path, Database]]:
    """One folder and one real SQLite file for all examples (hypothesis reruns the test body)."""
    base = Path(tempfile.mkdtemp(prefix="fuzz-ingest-"))
    db = open_db(base / "fuzz.db")
    yield base, db
    db.conn.close()
    shutil.rmtree(base)


def ingest_one(base: Path, db: Database, name: str, data: bytes) -> tuple[list[Item], list[Reject]]:
    """Write one file into a fresh folder, scan, load and store it as a run would."""
    folder = Path(tempfile.mkdtemp(dir=base))
    (folder / name).write_bytes(data)
    entries, rejects = scan.scan_folder(folder)
    items: list[Item] = []
    for entry in entries:
        found, refused = loader.load_file(entry)
        items += found
        rejects += refused
    with transaction.write_transaction(db):  # storing must not fail either (encodings, sizes)
        writer.save_items(db, items, run_id="fuzz")
        writer.save_rejects(db, rejects, run_id="fuzz")
    shutil.rmtree(folder)
    return items, rejects


def check_accounted(name: str, items: list[Item], rejects: list[Reject]) -> None:
    """The file became items or rejects with a known reason, and items are clean, bounded text."""
    assert items or rejects, f"{name!r} vanished: neither item nor reject"
    for reject in rejects:
        assert reject.reason in REASONS, reject  # never internal_error: that would be a bug
        assert reject.location.split("#")[0] == name
    for item in items:
        assert (item.path or "").split("#")[0] == name
        assert len(item.body) <= loader.MAX_BODY_CHARS
        # Too little text is kept only under a headline, which the body then starts with.
        if item.headline_only:
            assert item.title and item.body.startswith(item.title)
        else:
            assert len(item.body) >= loader.MIN_BODY_CHARS
        assert item.content_hash == loader.content_hash(item.body)
        assert not any(ord(ch) < 32 and ch != "\n" for ch in item.body)
        assert "\x00" not in (item.title or "")


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_become_items_or_rejects(
    workspace: tuple[Path, Database], data: bytes, suffix: str
) -> None:
    name = "random" + suffix
    items, rejects = ingest_one(*workspace, name, data)
    check_accounted(name, items, rejects)


@st.composite
def mutated_real_file(draw: st.DrawFn) -> bytes:
    """A real article with byte flips, insertions, deletions, truncation or a re-encoding."""
    data = bytearray(draw(st.sampled_from(REAL_FILES)).read_bytes())
    for _ in range(draw(st.integers(0, 8))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "encode"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 256))]
        elif operation == "truncate":
            del data[position:]
        else:
            text = bytes(data).decode("utf-8", "replace")
            encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]))
            data = bytearray(text.encode(encoding, "replace"))
    return bytes(data)


@FUZZ
@given(data=mutated_real_file(), suffix=st.sampled_from(SUFFIXES))
def test_mutated_real_files_become_items_or_rejects(
    workspace: tuple[Path, Database], data: bytes, suffix: str
) -> None:
    name = "mutated" + suffix
    items, rejects = ingest_one(*workspace, name, data)
    check_accounted(name, items, rejects)


REAL_TEXTS = st.sampled_from([path.read_text("utf-8", "replace") for path in REAL_FILES[:20]])
# Any code point, lone surrogates included: JSON escapes ("\\ud800") can carry them.
ANY_TEXT = st.lists(st.text() | st.sampled_from(["\ud800", "\udfff", "\udc80"]), max_size=4).map(
    "".join
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "title": ANY_TEXT | JSON_VALUES,
        "text": st.builds(
            lambda body, junk: body[:200] + junk + body[200:600], REAL_TEXTS, ANY_TEXT
        )
        | JSON_VALUES,
        "content": REAL_TEXTS,
        "url": st.sampled_from(["https://example.org/a", "javascript:alert(1)", "", "http://x"])
        | JSON_VALUES,
        "published": st.text(max_size=30) | JSON_VALUES,
        "source": JSON_VALUES,
        "language": JSON_VALUES,
    },
)


@FUZZ
@given(records=st.lists(RECORDS | JSON_VALUES, min_size=1, max_size=6), lines=st.booleans())
def test_every_json_record_is_accounted_for_once(
    workspace: tuple[Path, Database], records: list[object], lines: bool
) -> None:
    name = "records.jsonl" if lines else "records.json"
    if lines:
        data = "\n".join(json.dumps(record) for record in records).encode()
    else:
        data = json.dumps(records).encode()
    items, rejects = ingest_one(*workspace, name, data)
    check_accounted(name, items, rejects)
    if not lines or len(records) > 1:  # one JSON Lines record may also read as a whole document
        # One outcome per record: the same record is never both kept and refused, nor lost.
        outcomes = [item.path for item in items] + [reject.location for reject in rejects]
        assert sorted(outcomes) == sorted(f"{name}#{n}" for n in range(len(records)))


NAMES = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]), min_size=1
).filter(lambda name: name not in {".", ".."} and len(name.encode()) <= 250)


@FUZZ
@given(names=st.lists(NAMES, min_size=1, max_size=5, unique=True))
def test_any_file_name_is_scanned_and_accounted_for(
    workspace: tuple[Path, Database], names: list[str]
) -> None:
    base, db = workspace
    folder = Path(tempfile.mkdtemp(dir=base))
    body = (SEEDS / "000_4c18ba39d7aebdfb.txt").read_bytes()
    for name in names:
        (folder / name).write_bytes(body)
    entries, rejects = scan.scan_folder(folder)
    visible = {n for n in names if not n.startswith(".") and n not in scan.IGNORED_NAMES}
    seen = [entry.relpath for entry in entries] + [reject.location for reject in rejects]
    assert sorted(seen) == sorted(visible)
    with transaction.write_transaction(db):
        writer.save_rejects(db, rejects, run_id="fuzz")
    shutil.rmtree(folder)
