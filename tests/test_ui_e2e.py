"""End to end, as a user: `prefect server start`, `newsflow serve`, and the real UI in Chromium.

Starts a Prefect server on a free loopback port with its own PREFECT_HOME, serves the daily
deployment on a copy of the seeds and a fresh database, then drives the UI: open the deployment,
Run → Quick run, wait for Completed; Run → Custom run with method luhn and 2 sentences. Each run
must add a `runs` row with its flow-run id and a keyed Markdown artifact. Screenshots are kept in
test-output/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from newsflow.flows.artifacts import DIGEST_KEY, FEED_HEALTH_KEY
from newsflow.tasks.summarise.summarize import DEFAULT_METHOD, DEFAULT_SENTENCES

pytestmark = [pytest.mark.slow, pytest.mark.ui]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BIN = Path(sys.executable).parent
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
RUN_TIMEOUT = 180  # seconds for one flow run, subprocess start included, on a busy 2-core box
UI_TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, proc: Any = None) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with {proc.returncode}")
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def started(args: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> Iterator[Any]:
    """Run a process in its own session; on exit stop it and everything it started."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def api_post(api: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{api}{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def deployment_runs(api: str, deployment_id: str) -> list[dict[str, Any]]:
    return api_post(
        api,
        "/flow_runs/filter",
        {"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_DESC"},
    )


def is_run_creation(request: Any) -> bool:
    return bool(request.method == "POST" and request.url.endswith("/create_flow_run"))


def run_created_by(page: Any, submit: Callable[[], None], *, what: str) -> str:
    """Do the UI action that creates a flow run; return the id the server gave the UI.

    Waits for the UI's own POST rather than polling for new runs: a click that the UI never turned
    into a request (a menu re-rendered under load) is clicked once more, and so is one the server
    answered 503 (Prefect's "Service Unavailable" when its own database was busy: seen once in a
    full suite, not on a rerun; a user clicks again too). Any other refusal fails with the
    server's answer instead of a bare timeout.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in (1, 2):
        try:
            with page.expect_request(is_run_creation, timeout=30_000) as sent:
                submit()
        except PlaywrightTimeout:
            page.screenshot(path=OUTPUT / f"ui-{what}-no-request-{attempt}.png", full_page=True)
            page.keyboard.press("Escape")  # close a menu left open before trying again
            continue
        response = sent.value.response()
        assert response is not None, f"{what}: the UI's request failed: {sent.value.failure}"
        if response.status == 503 and attempt == 1:
            page.screenshot(path=OUTPUT / f"ui-{what}-busy.png", full_page=True)
            page.keyboard.press("Escape")
            time.sleep(2)
            continue
        assert response.ok, f"{what}: the server answered {response.status}: {response.text()}"
        return str(response.json()["id"])
    pytest.fail(f"{what}: the UI sent no request to create a flow run after two attempts")


def assert_manual_run(api: str, deployment_id: str, flow_run_id: str) -> None:
    run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
    assert run["deployment_id"] == deployment_id and not run["auto_scheduled"], run


def finished_state(api: str, flow_run_id: str) -> str:
    def state() -> str | None:
        run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
        kind = (run.get("state") or {}).get("type")
        return kind if kind in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None

    return str(wait_for(state, timeout=RUN_TIMEOUT, what=f"flow run {flow_run_id} to finish"))


def runs_row(db_path: Path, flow_run_id: str) -> dict[str, Any]:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM runs WHERE flow_run_id = ?", [flow_run_id]).fetchone()
    conn.close()
    assert row is not None, f"no runs row records flow run {flow_run_id}"
    return dict(row)


def artifacts(api: str, flow_run_id: str) -> dict[str, dict[str, Any]]:
    found = api_post(
        api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
    )
    return {a["key"]: a for a in found if a.get("key")}


def check_run(api: str, db_path: Path, flow_run_id: str, *, method: str, sentences: str) -> str:
    """The run's row and its keyed artifacts; returns the digest Markdown."""
    row = runs_row(db_path, flow_run_id)
    assert row["status"] == "completed", row
    assert row["trigger"] == "ui"
    parameters = json.loads(row["parameters"])
    assert (parameters["method"], parameters["sentences"]) == (method, sentences)
    keyed = artifacts(api, flow_run_id)
    assert keyed[DIGEST_KEY]["type"] == "markdown"
    assert FEED_HEALTH_KEY in keyed and keyed[FEED_HEALTH_KEY]["type"] == "table"
    digest = str(keyed[DIGEST_KEY]["data"])
    assert f"# Run {row['id'][:8]}" in digest
    return digest


def test_quick_and_custom_runs_from_the_prefect_ui(
    tmp_path: Path, seeds_copy: Path, db_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    from playwright.sync_api import expect, sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",  # the runner picks UI runs up within 2 s
    }
    server_args = [
        str(BIN / "prefect"),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    serve_args = [str(BIN / "newsflow"), "serve", "--db", str(db_path), "--seeds", str(seeds_copy),
                  "--timezone", "Europe/Berlin", "--at", "06:00"]  # fmt: skip

    with started(server_args, env=env, log=OUTPUT / "prefect-server.log", cwd=tmp_path) as server:
        wait_for(
            lambda: httpx.get(f"{api}/health", timeout=5).status_code == 200,
            timeout=150,
            what="prefect server start",
            proc=server,
        )
        serve_env = env | {"PREFECT_API_URL": api}
        with started(
            serve_args, env=serve_env, log=OUTPUT / "newsflow-serve.log", cwd=tmp_path
        ) as serving:
            deployment = wait_for(
                lambda: (
                    (
                        r := httpx.get(f"{api}/deployments/name/newsflow-daily/daily", timeout=5)
                    ).status_code
                    == 200
                    and r.json()
                ),
                timeout=120,
                what="newsflow serve to register the deployment",
                proc=serving,
            )
            schedule = deployment["schedules"][0]
            assert schedule["schedule"]["cron"] == "0 6 * * *"
            assert schedule["schedule"]["timezone"] == "Europe/Berlin"
            assert schedule["slug"] == "daily-cron" and schedule["active"]
            assert deployment["paused"] is False
            method_schema = deployment["parameter_openapi_schema"]["properties"]["method"]
            assert "luhn" in method_schema["enum"]
            # The server's scheduler really plans the daily runs (06:00 in Berlin).
            planned = wait_for(
                lambda: [r for r in deployment_runs(api, deployment["id"]) if r["auto_scheduled"]],
                timeout=90,
                what="the scheduler to plan the daily runs",
            )
            berlin = ZoneInfo("Europe/Berlin")
            for run in planned:
                start = datetime.fromisoformat(run["expected_start_time"]).astimezone(berlin)
                assert (start.hour, start.minute) == (6, 0), run["expected_start_time"]

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.set_default_timeout(UI_TIMEOUT_MS)
                try:
                    # The deployment, with its daily schedule, as a new user finds it.
                    page.goto(f"http://127.0.0.1:{port}/deployments")
                    expect(page.get_by_text("At 06:00 AM every day")).to_be_visible()
                    page.get_by_role("link", name="daily", exact=True).click()
                    page.wait_for_url("**/deployments/deployment/**")
                    expect(page.get_by_text("daily-cron")).to_be_visible()  # the schedule's slug
                    page.screenshot(path=OUTPUT / "ui-deployment.png")

                    # Run → Quick run.
                    def quick_run() -> None:
                        page.get_by_role("button", name="Run", exact=True).click()
                        page.get_by_role("button", name="Quick run", exact=True).click()

                    quick = run_created_by(page, quick_run, what="quick-run")
                    assert_manual_run(api, deployment["id"], quick)
                    page.goto(f"http://127.0.0.1:{port}/runs/flow-run/{quick}")
                    expect(page.get_by_text("Completed").first).to_be_visible(
                        timeout=RUN_TIMEOUT * 1000
                    )
                    assert finished_state(api, quick) == "COMPLETED"
                    page.screenshot(path=OUTPUT / "ui-quick-run.png")
                    digest = check_run(
                        api, db_path, quick, method=DEFAULT_METHOD, sentences=str(DEFAULT_SENTENCES)
                    )
                    assert digest.count("**NEW**") == 5

                    # Run → Custom run: method luhn from the dropdown, 2 sentences.
                    page.goto(f"http://127.0.0.1:{port}/deployments/deployment/{deployment['id']}")
                    page.get_by_role("button", name="Run", exact=True).click()
                    page.get_by_role("button", name="Custom run", exact=True).click()
                    page.wait_for_url("**/run**")
                    dropdown = page.get_by_role("button", name=DEFAULT_METHOD, exact=True)
                    dropdown.focus()
                    dropdown.press("ArrowDown")  # opens the option list
                    page.get_by_role("option", name="luhn", exact=True).click()
                    page.get_by_role("spinbutton").fill("2")
                    page.screenshot(path=OUTPUT / "ui-custom-run-form.png", full_page=True)
                    submit = page.get_by_role("button", name="Submit", exact=True)
                    custom = run_created_by(page, submit.click, what="custom-run")
                    assert_manual_run(api, deployment["id"], custom)
                    page.goto(f"http://127.0.0.1:{port}/runs/flow-run/{custom}")
                    expect(page.get_by_text("Completed").first).to_be_visible(
                        timeout=RUN_TIMEOUT * 1000
                    )
                    assert finished_state(api, custom) == "COMPLETED"
                    digest = check_run(api, db_path, custom, method="luhn", sentences="2")
                    assert digest.count("**SUMMARISED**") == 5

                    # The digest on the Artifacts page, rendered.
                    page.goto(f"http://127.0.0.1:{port}/artifacts/key/{DIGEST_KEY}")
                    page.locator("a[href*='/artifacts/artifact/']").first.click()  # the newest
                    title = f"Run {runs_row(db_path, custom)['id'][:8]}"
                    expect(page.get_by_role("heading", name=title)).to_be_visible()
                    page.screenshot(path=OUTPUT / "ui-artifact.png", full_page=True)
                finally:
                    browser.close()

    assert "bulk DML" not in (OUTPUT / "prefect-server.log").read_text(errors="replace")
    with sqlite3.connect(db_path) as conn:
        luhn = conn.execute(
            "SELECT text FROM summaries WHERE method = 'luhn' AND length = '2'"
        ).fetchall()
        runs = conn.execute("SELECT count(*) FROM runs WHERE trigger = 'ui'").fetchone()[0]
    conn.close()
    assert runs == 2
    assert len(luhn) == 5 and all(len(text.splitlines()) <= 2 for (text,) in luhn)
