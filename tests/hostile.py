"""Reliability test kit: generated inputs (hostile folder, edited corpus), real runs, snapshots."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsflow.tasks.ingest.scan import MAX_DEPTH

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
BBC_ARTICLES = ROOT.parent / "shared" / "corpus" / "bbc-news-summary" / "article"

ITEM = "item"  # the expected outcome of an input that must become a document

# Plain English prose with Latin-1 / cp1252 characters, long enough to pass every text gate.
ARTICLE = (
    "Café owners in Nîmes raise prices as costs climb\n\n"
    "Café owners across the south of France said on Tuesday that they would raise the price of a "
    "coffee by up to twenty cents, blaming the cost of energy, milk and rent. The naïve hope that "
    "prices would fall back after the winter has faded, one owner said.\n\n"
    "A survey of three hundred cafés found that most had already raised prices once this year. "
    "Customers in Nîmes, Arles and Avignon told reporters that they would keep coming anyway, "
    "because the café is where the town meets.\n"
)
CP1252_ARTICLE = (
    "Euro notes “to be redesigned” by 2028\n\n"
    "The European Central Bank said on Friday that new euro banknotes – the first redesign since "
    "2013 – would be issued by 2028, and that a €20 note would be the first to change. "
    "“Citizens will choose the theme,” a spokesperson said.\n\n"
    "The bank’s governing council will pick the final designs next year after a public "
    "consultation, which drew more than a million replies from across the euro area.\n"
)
UTF16_ARTICLE = (
    "Rail strike halts trains across the north of England\n\n"
    "Train drivers walked out on Monday in a dispute over pay and working conditions, halting most "
    "services across the north of England and leaving commuters to find other ways to work.\n\n"
    "The union said further strikes would follow next month unless the operators made a better "
    "offer; the operators said the offer on the table was fair and affordable.\n"
)
SCRIPT_HTML = """<!DOCTYPE html>
<html><head>
<title>&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; Harbour &amp; port reopen [/bold]
</title>
<script>alert("head script"); document.cookie = "stolen";</script>
<style>body { display: none }</style>
</head><body>
<script>document.write("<p>Injected paragraph that a script would write.</p>")</script>
<article>
<p>The harbour reopened to shipping on Wednesday after a week of storms had closed it, the port
authority said, and the first ferries left on time in calm weather.</p>
<script type="text/javascript">var hidden = "<p>Script text never in the body.</p>";</script>
<p>Fishermen said they had lost a week of catches and asked the council for help with the cost of
repairs to the breakwater, which was damaged in the worst of the storms.</p>
<noscript>Enable scripts to read the comments below this article.</noscript>
</article>
<iframe src="javascript:alert(1)"></iframe>
</body></html>
"""
JSONL_GOOD = [
    '{"title": "Wind farm approved", "text": "A large offshore wind farm was approved on Monday '
    'after three years of planning, the energy ministry said in a statement."}',
    '{"title": "Library hours cut", "body": "The city library will close on Sundays from next '
    'month because of budget cuts, the council said on Thursday evening."}',
    '{"title": "Bridge repairs", "content": "Repairs to the old stone bridge will take six months '
    'and the road will be closed to lorries until the work is finished."}',
]


@dataclass
class HostileFolder:
    """A hostile seeds folder and what must become of each input in it."""

    seeds: Path
    outside: Path  # files the folder links to but must never be read
    expected: dict[str, str] = field(default_factory=dict)  # location → ITEM or reject reason
    big_bytes: int = 0

    @property
    def items(self) -> set[str]:
        return {location for location, outcome in self.expected.items() if outcome == ITEM}

    @property
    def rejects(self) -> dict[str, str]:
        return {loc: outcome for loc, outcome in self.expected.items() if outcome != ITEM}


def make_hostile_folder(base: Path, *, big_bytes: int = 60 * 1024 * 1024) -> HostileFolder:
    """Write the good seed articles beside every kind of hostile file we defend against."""
    seeds = base / "hostile-seeds"
    outside = base / "outside"
    seeds.mkdir(parents=True)
    outside.mkdir(parents=True)
    folder = HostileFolder(seeds, outside, big_bytes=big_bytes)
    expect = folder.expected

    def put(relpath: str, data: bytes, outcome: str) -> Path:
        path = seeds / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expect[relpath] = outcome
        return path

    # Good articles: the project's own seeds.
    for path in sorted(SEEDS.glob("*.txt")):
        put(path.name, path.read_bytes(), ITEM)

    # Encodings: legacy and UTF-16 text is text, not garbage.
    put("latin1.txt", ARTICLE.encode("latin-1"), ITEM)
    put("cp1252.txt", CP1252_ARTICLE.encode("cp1252"), ITEM)
    put("utf8-bom.txt", codecs.BOM_UTF8 + ARTICLE.encode("utf-8"), ITEM)
    put("utf16-bom.txt", UTF16_ARTICLE.encode("utf-16"), ITEM)
    put("utf16le-nobom.txt", UTF16_ARTICLE.replace("Rail", "Bus").encode("utf-16-le"), ITEM)
    put("crlf-mac.txt", CP1252_ARTICLE.replace("2028", "2030").replace("\n", "\r").encode(), ITEM)

    # Refused, each with its reason.
    put("empty.txt", b"", "empty")
    put("blank.txt", b" \n\t\n\r\n" * 50, "no_text")
    put("tiny.txt", b"Too short.", "no_text")
    rng = random.Random(8)
    put("image.txt", b"\x89PNG\r\n\x1a\n" + rng.randbytes(4096), "binary")
    put("random.md", rng.randbytes(20_000), "binary")
    nul_laden = ARTICLE.replace("Café", "Bar").encode().replace(b" ", b" \x00")
    put("nul-laden.txt", nul_laden, "binary")
    put("controls.txt", bytes(range(1, 32)) * 300, "binary")
    put("archive.zip", b"PK\x03\x04" + rng.randbytes(100), "unsupported_type")
    put("no-suffix", ARTICLE.encode(), "unsupported_type")
    big = seeds / "big.txt"
    with big.open("wb") as handle:  # real text, so reading it would cost real memory
        block = (ARTICLE.encode() + b"\n") * 1000
        written = 0
        while written < big_bytes:
            written += handle.write(block[: big_bytes - written])
    expect["big.txt"] = "too_large"
    # Under the file cap, but a body far longer than any article: summarising it would take hours.
    one_line = ("The committee met again and talked at length about the budget. " * 30_000).encode()
    put("one-long-line.txt", one_line, "too_long")

    # Names.
    put("name with spaces.txt", ARTICLE.replace("Nîmes", "Nice").encode(), ITEM)
    put("ünïcödé 新闻 📰.txt", ARTICLE.replace("Nîmes", "Lyon").encode(), ITEM)
    put("new\nline.txt", ARTICLE.replace("Nîmes", "Metz").encode(), ITEM)
    put("tab\tand;semicolon'quote\".txt", ARTICLE.replace("Nîmes", "Nancy").encode(), ITEM)
    put("-leading-dash.txt", ARTICLE.replace("Nîmes", "Pau").encode(), ITEM)
    put("x" * 251 + ".txt", ARTICLE.replace("Nîmes", "Albi").encode(), ITEM)  # 255 bytes: the limit
    bad_name = os.fsdecode(b"bad-\xff\xfe-name.txt")  # not UTF-8: Linux allows any bytes
    (seeds / bad_name).write_bytes(ARTICLE.encode())
    expect[os.fsencode(bad_name).decode("utf-8", "backslashreplace")] = "bad_name"
    put("[/bold] rich [red]markup.txt", ARTICLE.replace("Nîmes", "Tours").encode(), ITEM)

    # A directory that looks like a file, and deep nesting.
    put("folder.txt/inside.txt", ARTICLE.replace("Nîmes", "Dijon").encode(), ITEM)
    put("/".join(["deep"] * 20) + "/article.txt", ARTICLE.replace("Nîmes", "Brest").encode(), ITEM)
    too_deep = "/".join(["d"] * 200)  # 200 levels: deeper than os.walk's recursion could go
    (seeds / too_deep).mkdir(parents=True)
    (seeds / too_deep / "lost.txt").write_bytes(ARTICLE.encode())
    expect["/".join(["d"] * (MAX_DEPTH + 1))] = "too_deep"  # the first folder past the cap

    # Symlinks: leaving the folder, dangling, looping; inside links are read once as their own file.
    secret = outside / "secret.txt"
    secret.write_bytes(ARTICLE.replace("Café", "Exfiltrated").encode())
    (outside / "dir").mkdir()
    (outside / "dir" / "leak.txt").write_bytes(ARTICLE.replace("Café", "Leakedfile").encode())
    links = {
        "link-outside.txt": (secret, "symlink_outside"),
        "link-passwd.txt": (Path("/etc/passwd"), "symlink_outside"),
        "link-dev-zero.txt": (Path("/dev/zero"), "symlink_outside"),
        "link-outside-dir": (outside / "dir", "symlink_outside"),
        "link-relative-escape.txt": (Path("../outside/secret.txt"), "symlink_outside"),
        "dangling.txt": (Path("does-not-exist.txt"), "broken_symlink"),
        "loop-a.txt": (Path("loop-b.txt"), "symlink_loop"),
        "loop-b.txt": (Path("loop-a.txt"), "symlink_loop"),
        "self-loop.txt": (Path("self-loop.txt"), "symlink_loop"),
        "dir-loop": (Path("."), "symlink_directory"),
        "dir-self-loop": (Path("dir-self-loop"), "symlink_loop"),
        "link-inside.txt": (Path("latin1.txt"), ITEM),
    }
    for name, (target, outcome) in links.items():
        (seeds / name).symlink_to(target)
        expect[name] = outcome

    # Not regular files.
    os.mkfifo(seeds / "fifo.txt")  # opening it for reading would block forever
    expect["fifo.txt"] = "not_a_file"

    # HTML with scripts, and entity-encoded markup in the title.
    put("scripted.html", SCRIPT_HTML.encode(), ITEM)
    put("div-bomb.html", b"<html><body>" + b"<div>" * 100_000 + b"text" + b"</div>" * 100_000,
        "no_text")  # fmt: skip

    # JSON: broken lines are refused one by one; the good records are kept.
    lines = [JSONL_GOOD[0], '{"title": "broken", "text": "no closing', JSONL_GOOD[1], "[1, 2, 3]",
             "not json at all", JSONL_GOOD[2], '{"title": "no body"}',
             '{"title": " ", "text": "  "}']  # fmt: skip
    (seeds / "records.jsonl").write_bytes("\n".join(lines).encode())
    # A headline with no body is a headline-only document; no headline and no body is no text.
    for number, outcome in enumerate([ITEM, "bad_json", ITEM, "bad_record", "bad_json", ITEM,
                                      ITEM, "no_text"]):  # fmt: skip
        expect[f"records.jsonl#{number}"] = outcome
    put("deep-nesting.json", b"[" * 100_000 + b"]" * 100_000, "bad_json")
    put("truncated.json", b'{"items": [{"title": "cut off", "text": "The sto', "bad_json")
    return folder


def make_edited_corpus(target: Path, count: int = 300) -> list[Path]:
    """`count` distinct articles from the BBC corpus; repeats get an added closing paragraph."""
    sources = sorted(BBC_ARTICLES.rglob("*.txt"))
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for number in range(count):
        source = sources[number % len(sources)]
        data = source.read_bytes()
        if number >= len(sources):
            data += (
                f"\n\nCorrespondents said in update {number} that the story was still developing"
                f" and that more details were expected later in the day.\n"
            ).encode()
        path = target / f"{number:04d}-{source.parent.name}-{source.stem}.txt"
        path.write_bytes(data)
        written.append(path)
    return written


@dataclass(frozen=True)
class Snapshot:
    """What a database holds, independent of ids, times and run ids: equal after equal work."""

    documents: frozenset[tuple[object, ...]]
    summaries: frozenset[tuple[object, ...]]
    rejects: frozenset[tuple[object, ...]]
    stories: frozenset[tuple[frozenset[object], object]]  # (document keys, story summary)
    document_rows: int
    story_rows: int
    distinct_keys: int
    summary_rows: int
    distinct_summaries: int
    fts_rows: int
    versions: int
    integrity: str


def snapshot(db_path: Path) -> Snapshot:
    """Read the canonical state of a database file (read-only)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return Snapshot(
            documents=frozenset(conn.execute(
                "SELECT d.key, d.content_hash, d.title, d.language, d.summary_status, d.version,"
                " c.key FROM documents d LEFT JOIN documents c ON c.id = d.duplicate_of"
            ).fetchall()),
            summaries=frozenset(conn.execute(
                "SELECT d.key, s.method, s.length, s.settings_version, s.content_hash, s.text"
                " FROM summaries s JOIN documents d ON d.id = s.document_id"
            ).fetchall()),
            rejects=frozenset(conn.execute("SELECT location, reason FROM rejects").fetchall()),
            stories=_stories(conn),
            document_rows=one("SELECT count(*) FROM documents"),
            story_rows=one("SELECT count(*) FROM stories"),
            distinct_keys=one("SELECT count(DISTINCT key) FROM documents"),
            summary_rows=one("SELECT count(*) FROM summaries"),
            distinct_summaries=one(
                "SELECT count(*) FROM (SELECT DISTINCT document_id, method, length FROM summaries)"
            ),
            fts_rows=one("SELECT count(*) FROM documents_fts"),
            versions=one("SELECT count(*) FROM document_versions"),
            integrity=one("PRAGMA integrity_check"),
        )  # fmt: skip
    finally:
        conn.close()


FIGURES = ROOT / "test-output" / "reliability.json"


def record_figures(name: str, **figures: object) -> None:
    """Keep a test's measurements in test-output/reliability.json (git-ignored) for the docs."""
    FIGURES.parent.mkdir(exist_ok=True)
    try:
        known = json.loads(FIGURES.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known[name] = figures
    FIGURES.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _stories(conn: sqlite3.Connection) -> frozenset[tuple[frozenset[object], object]]:
    """Each story as the set of its documents' keys, with its summary: ids differ between runs."""
    members: dict[object, set[object]] = {}
    for story_id, key in conn.execute(
        "SELECT story_id, key FROM documents WHERE story_id IS NOT NULL"
    ):
        members.setdefault(story_id, set()).add(key)
    summaries = dict(conn.execute("SELECT id, summary FROM stories").fetchall())
    return frozenset((frozenset(keys), summaries.get(story)) for story, keys in members.items())


def remove_tree(path: Path) -> None:
    """Delete a generated folder, including FIFOs, links and read-only entries."""

    def retry(function, target, _error):  # type: ignore[no-untyped-def]
        os.chmod(target, stat.S_IRWXU)
        function(target)

    shutil.rmtree(path, onerror=retry)


# --- real runs in subprocesses ----------------------------------------------------------------

RUN_TIMEOUT = 300  # seconds for one run on a busy 2-core machine (~20 s when idle)


class Run:
    """A real `newsflow run` in its own process group, its output kept in files."""

    def __init__(
        self, seeds: Path, db: Path, log_dir: Path, name: str, env: dict[str, str] | None = None
    ) -> None:
        self.db = db
        self.out = log_dir / f"{name}.out"
        self.err = log_dir / f"{name}.err"
        command = [
            sys.executable,
            "-m",
            "newsflow.flows.cli",
            "run",
            "--seeds",
            str(seeds),
            "--db",
            str(db),
        ]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err,
                                            start_new_session=True)  # fmt: skip
        self.started = time.monotonic()

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        """The exit code; the whole process group is killed if it takes longer than timeout."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Signal the run and everything it started (Prefect's server, worker processes)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=60)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-3000:]


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Read from a database another process may be writing; [] before the table exists."""
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # no such table yet: the schema is being created
        return []


PROGRESS_TABLES = ("documents", "signatures", "stories", "summaries")


def progress(db: Path) -> dict[str, int]:
    """Committed rows per table: where a run has got to, seen from outside."""
    counts = {}
    for table in PROGRESS_TABLES:
        rows = query(db, f"SELECT count(*) FROM {table}")
        counts[table] = int(rows[0][0]) if rows else 0  # type: ignore[call-overload]
    return counts


def wait_for_status(run: Run, status: str, timeout: float = RUN_TIMEOUT) -> float:
    """Poll until a `runs` row has `status`; the monotonic time it was first seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(run.db, f"SELECT 1 FROM runs WHERE status = '{status}'"):
            return time.monotonic()
        if run.process.poll() is not None:
            raise AssertionError(
                f"run ended ({run.process.returncode}) before '{status}'\n{run.stderr()}"
            )
        time.sleep(0.02)
    raise AssertionError(f"no '{status}' run within {timeout} s")


def shared_prefect_home(base_temp: Path) -> Path:
    """One Prefect home per test session (under pytest's base temp), not the user's ~/.prefect:
    its database is created by the first run and reused by the rest."""
    home = base_temp / "newsflow-prefect-home"
    home.mkdir(exist_ok=True)
    return home


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """The environment for runs with their own Prefect home (not the user's ~/.prefect)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1"}  # fmt: skip
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@contextlib.contextmanager
def prefect_server(home: Path, log: Path) -> Iterator[dict[str, str]]:
    """One `prefect server start` on a free loopback port; yields the env runs should use."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api"
    command = [str(Path(sys.executable).parent / "prefect"), "server", "start",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=home.parent, env=prefect_env(home), stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api}/health", timeout=5).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield prefect_env(home, api)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
