"""Summarising works offline: no NLTK data files, and no sockets beyond loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"localhost", "127.0.0.1", "::1", None}


class NetworkBlocked(OSError):
    """A test tried to reach beyond the loopback interface."""


def _allowed(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # a unix socket path
        return True
    host = str(address[0])
    return host in LOOPBACK or host.startswith("127.")


def block_network(setattr_: Callable[[object, str, object], None]) -> None:
    """Refuse connections and name lookups for anything but loopback and unix sockets."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if not _allowed(address):
            raise NetworkBlocked(f"offline test: connection to {address!r} refused")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _allowed(address):
            raise NetworkBlocked(f"offline test: connection to {address!r} refused")
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK and not str(host).startswith("127."):
            raise NetworkBlocked(f"offline test: name lookup of {host!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    setattr_(socket.socket, "connect", connect)
    setattr_(socket.socket, "connect_ex", connect_ex)
    setattr_(socket, "getaddrinfo", getaddrinfo)


def hide_nltk_resources(empty: Path, setattr_: Callable[[object, str, object], None]) -> None:
    """Point NLTK at an empty folder and forget every default search path."""
    import nltk

    os.environ["NLTK_DATA"] = str(empty)
    setattr_(nltk.data, "path", [str(empty)])


def assert_offline() -> None:
    """The blocks are in force: NLTK cannot load its tokenizer, the network cannot be reached."""
    import nltk

    with pytest.raises(LookupError):
        nltk.sent_tokenize("NLTK needs its punkt data for this. It is not there.")
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("example.com", 443)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "no-nltk"))
    block_network(monkeypatch.setattr)
    hide_nltk_resources(tmp_path / "no-nltk", monkeypatch.setattr)
    assert_offline()


def test_loopback_stays_reachable(offline: None):
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname(), timeout=5) as client,
    ):
        peer, _ = server.accept()
        with peer:
            client.sendall(b"ok")
            assert peer.recv(2) == b"ok"


def test_every_method_summarises_english_and_german_offline(offline: None):
    from newsflow.tasks.summarise.summarize import METHODS, summarize_text

    english = (
        "The central bank raised interest rates on Thursday. Inflation rose faster than expected. "
        "Mr. Smith of the U.S. Treasury said markets were calm. Shares fell. The dollar rose."
    )
    german = (
        "Die Zentralbank hat am 7. Dezember den Leitzins erhöht. Die Inflation stieg z. B. bei "
        "Energie um ca. 5 Prozent. „Wir handeln“, sagte Dr. Weber. Die Kurse fielen. Der Euro "
        "stieg."
    )
    for method in METHODS:
        assert len(summarize_text(english, language="en", method=method, length=2).sentences) == 2
        assert len(summarize_text(german, language="de", method=method, length=2).sentences) == 2


def run_pipeline(seeds: Path, db_path: Path) -> dict[str, Any]:
    """Ingest the seed files and summarise them with the default method, without Prefect."""
    from newsflow.db import open_db
    from newsflow.tasks.ingest import loader, scan
    from newsflow.tasks.store import run_log, writer
    from newsflow.tasks.summarise import summarize

    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={"offline": True})
    entries, rejects = scan.scan_folder(seeds)
    items = [item for entry in entries for item in loader.load_file(entry)[0]]
    writer.save_items(db, items, run_id=run_id)
    method, length = summarize.DEFAULT_METHOD, str(summarize.DEFAULT_SENTENCES)
    pending = writer.documents_to_summarise(
        db, method=method, length=length, settings_version=summarize.SETTINGS_VERSION
    )
    results, statuses = summarize.summarise_documents(pending, method=method, length=3)
    rows = [
        writer.SummaryRow(document_id, method, length, summarize.SETTINGS_VERSION, digest,
                         summary.text, summary.indexes)
        for document_id, digest, summary in results
    ]  # fmt: skip
    writer.save_summaries(db, rows, statuses=statuses, run_id=run_id)
    run_log.finish_run(db, run_id, status="completed", counts={"summaries": len(rows)})
    stored = db.execute(
        "SELECT d.language, s.text FROM summaries s JOIN documents d ON d.id = s.document_id"
    ).fetchall()
    db.close()
    return {
        "files": len(entries),
        "rejects": len(rejects),
        "statuses": sorted(statuses.values()),
        "summaries": [
            {"language": language, "lines": text.count("\n") + 1} for language, text in stored
        ],
    }


def main(seeds: str, db_path: str, empty: str) -> None:
    """Entry point of the fresh interpreter: block first, import the project after."""
    block_network(setattr)
    hide_nltk_resources(Path(empty), setattr)
    assert_offline()
    print(json.dumps(run_pipeline(Path(seeds), Path(db_path))))


def test_ingest_and_summarise_the_seeds_in_a_fresh_offline_interpreter(
    seeds_copy: Path, db_path: Path, tmp_path: Path
):
    empty = tmp_path / "no-nltk"
    empty.mkdir()
    code = "import sys; from tests.test_offline import main; main(*sys.argv[1:])"
    environment = {**os.environ, "NLTK_DATA": str(empty), "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-c", code, str(seeds_copy), str(db_path), str(empty)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["files"] == 5 and result["rejects"] == 0
    assert result["statuses"] == ["ok"] * 5
    assert {s["language"] for s in result["summaries"]} == {"de", "en"}
    assert all(s["lines"] == 3 for s in result["summaries"])
