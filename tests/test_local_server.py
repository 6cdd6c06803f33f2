"""The local Prefect server: `newsflow run` starts one, reuses it, replaces a stale one, and
`newsflow server stop` stops it. Real servers on 127.0.0.1, each test with its own PREFECT_HOME."""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsflow.flows import local_server
from tests.hostile import ROOT

NEWSFLOW = str(Path(sys.executable).parent / "newsflow")


def environment(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no Prefect API configured, the local server not opted out."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_API") and k != local_server.OPT_OUT
    }
    return env | {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | extra


def newsflow(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `newsflow` command as a user would, in its own process."""
    return subprocess.run(
        [NEWSFLOW, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_seeds(seeds: Path, db: Path, env: dict[str, str]) -> tuple[float, str]:
    """`newsflow run` on the seeds: its wall time and its standard error."""
    started = time.monotonic()
    result = newsflow("run", "--seeds", str(seeds), "--db", str(db), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started, result.stderr


def record(home: Path) -> dict[str, object]:
    return json.loads((home / local_server.RECORD_NAME).read_text(encoding="utf-8"))


def servers_in(home: Path) -> list[int]:
    """Pids of the Prefect servers started for this home (they run in it: cwd is the home)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cwd == str(home.resolve()) and b"prefect" in words and b"server" in words:
            pids.append(int(entry.name))
    return pids


def healthy(url: str) -> bool:
    return local_server.healthy(url)


def flow_run_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT flow_run_id FROM runs ORDER BY started_at").fetchall()
    return [row[0] for row in rows]


def known_to(url: str, flow_run_id: str) -> bool:
    """Whether the Prefect API at `url` holds this flow run."""
    return httpx.get(f"{url}/flow_runs/{flow_run_id}", timeout=10).status_code == 200


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh PREFECT_HOME; whatever server was started in it is stopped at the end."""
    path = tmp_path / "prefect-home"
    path.mkdir()
    yield path
    local_server.stop(home=path)
    for pid in servers_in(path):  # a server whose record was lost: still not left behind
        os.killpg(pid, signal.SIGKILL)


@pytest.mark.slow
def test_first_run_starts_and_records_a_server_the_second_reuses(
    home: Path, seeds_copy: Path, db_path: Path
) -> None:
    env = environment(home)
    first, _ = run_seeds(seeds_copy, db_path, env)
    started = record(home)
    assert servers_in(home) == [started["pid"]]
    assert healthy(str(started["url"]))

    second, _ = run_seeds(seeds_copy, db_path, env)
    assert record(home) == started  # same pid, same port: reused, not restarted
    assert servers_in(home) == [started["pid"]]
    # The first run waited for the server to start; the second did not.
    assert second < first, (first, second)
    # Both flow runs went to that server, where its UI shows them.
    ids = flow_run_ids(db_path)
    assert len(ids) == 2 and all(known_to(str(started["url"]), i) for i in ids)

    runs = newsflow("runs", "--db", str(db_path), env=env)
    assert f"local server {started['url']} (pid {started['pid']}" in runs.stdout
    assert "newsflow server stop" in runs.stdout


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Something else on the recorded port, answering the health check as a server would."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_a_stale_record_is_replaced_by_a_new_server(
    home: Path, seeds_copy: Path, db_path: Path
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid whose process has exited
    impostor = http.server.HTTPServer(("127.0.0.1", 0), _Impostor)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    port = impostor.server_address[1]
    stale = {
        "pid": gone.pid, "port": port, "url": f"http://127.0.0.1:{port}/api",
        "started_at": "2026-01-01T00:00:00+00:00", "prefect_version": "3.8.8",
        "log": str(home / local_server.LOG_NAME),
    }  # fmt: skip
    (home / local_server.RECORD_NAME).write_text(json.dumps(stale))
    try:
        run_seeds(seeds_copy, db_path, environment(home))
    finally:
        impostor.shutdown()
        impostor.server_close()
    fresh = record(home)
    assert fresh["pid"] != gone.pid and fresh["port"] != port
    assert servers_in(home) == [fresh["pid"]]
    assert known_to(str(fresh["url"]), flow_run_ids(db_path)[0])


@pytest.mark.slow
def test_server_stop_stops_it_and_forgets_it(home: Path) -> None:
    env = environment(home)
    started = newsflow("server", "start", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    server = record(home)
    assert f"Local Prefect server: {server['url']} (pid {server['pid']}" in started.stdout

    status = newsflow("server", "status", env=env)
    assert f"local server {server['url']}" in status.stdout

    stopped = newsflow("server", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert f"Stopped the local Prefect server {server['url']}" in stopped.stdout
    assert servers_in(home) == []
    assert not healthy(str(server["url"]))
    assert not (home / local_server.RECORD_NAME).exists()
    again = newsflow("server", "stop", env=env)
    assert again.returncode == 0 and "No local Prefect server running." in again.stdout
    status = newsflow("server", "status", env=env)
    assert "no local server running; the next `newsflow run` starts one" in status.stdout


@pytest.mark.slow
def test_a_user_set_api_url_is_used_as_is(
    tmp_path: Path, home: Path, seeds_copy: Path, db_path: Path
) -> None:
    """The user's own server (here: one started in another home) gets the run; nothing starts."""
    theirs = tmp_path / "their-home"
    try:
        user_server = local_server.ensure(home=theirs)
        env = environment(home, PREFECT_API_URL=user_server.url)
        _, stderr = run_seeds(seeds_copy, db_path, env)
        assert "warning" not in stderr
        assert not (home / local_server.RECORD_NAME).exists()
        assert servers_in(home) == []
        assert known_to(user_server.url, flow_run_ids(db_path)[0])
        runs = newsflow("runs", "--db", str(db_path), env=env)
        assert f"Prefect API: {user_server.url} (PREFECT_API_URL)" in runs.stdout
    finally:
        local_server.stop(home=theirs)


@pytest.mark.slow
def test_concurrent_first_runs_start_one_server(
    home: Path, seeds_copy: Path, tmp_path: Path
) -> None:
    env = environment(home)
    dbs = [tmp_path / f"run{n}.db" for n in range(3)]
    runs = [
        subprocess.Popen(
            [NEWSFLOW, "run", "--seeds", str(seeds_copy), "--db", str(db)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for db in dbs
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert not any("warning" in err for _, err in outputs), outputs
    server = record(home)
    assert servers_in(home) == [server["pid"]]
    assert all(known_to(str(server["url"]), flow_run_ids(db)[0]) for db in dbs)


@pytest.mark.slow
def test_a_server_that_does_not_come_up_in_time_falls_back_to_a_temporary_one(
    home: Path, seeds_copy: Path, db_path: Path
) -> None:
    """One warning line, the run completes (on Prefect's temporary server), nothing is left."""
    env = environment(home, **{local_server.TIMEOUT: "1"})
    _, stderr = run_seeds(seeds_copy, db_path, env)
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, stderr
    assert "local Prefect server unavailable" in warnings[0]
    assert "using a temporary one" in warnings[0]
    assert servers_in(home) == []
    assert not (home / local_server.RECORD_NAME).exists()
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("SELECT status FROM runs").fetchall() == [("completed",)]


def test_a_record_naming_a_live_pid_of_another_program_is_not_a_running_server(
    home: Path,
) -> None:
    """After a reboot the recorded pid may belong to anything: here, this test's own process."""
    impostor = local_server.ServerRecord(
        pid=os.getpid(), port=4200, url="http://127.0.0.1:4200/api",
        started_at="2026-01-01T00:00:00+00:00", prefect_version="3.8.8", log="",
    )  # fmt: skip
    assert not local_server.is_running(impostor)


def test_a_record_that_does_not_parse_counts_as_none(home: Path) -> None:
    (home / local_server.RECORD_NAME).write_text('{"pid": 12')
    assert local_server.read_record(home) is None
    good = {
        "pid": 12, "port": 4200, "url": "http://127.0.0.1:4200/api",
        "started_at": "2026-01-01T00:00:00+00:00", "prefect_version": "3.8.8", "log": "",
    }  # fmt: skip
    (home / local_server.RECORD_NAME).write_text(json.dumps(good))
    assert local_server.read_record(home) == local_server.ServerRecord(**good)
    for wrong in ({"pid": "12"}, {"port": True}, {"started_at": "yesterday"}):
        (home / local_server.RECORD_NAME).write_text(json.dumps(good | wrong))
        assert local_server.read_record(home) is None, wrong
    assert local_server.stop(home=home) is None


def test_opted_out_runs_use_a_temporary_server_and_start_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    monkeypatch.setenv(local_server.OPT_OUT, "0")
    with temporary_settings(updates={PREFECT_HOME: str(home)}, restore_defaults={PREFECT_API_URL}):
        with local_server.for_run() as target:
            assert target.kind == "temporary" and target.url is None and target.warning is None
        assert "temporary server per run (NEWSFLOW_LOCAL_SERVER=0)" in local_server.status().line
    assert list(home.iterdir()) == []
