"""Run-date guard and trigger detection: a double-scheduled slot runs once; triggers recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from uuid import uuid4

import pytest

from newsflow.db import open_db
from newsflow.flows import runinfo
from newsflow.tasks.store import run_log
from newsflow.tasks.store.runslots import claim_slot, slot_key

SLOT = "newsflow-daily/daily@2026-03-01T05:00:00Z"


def run_row(db_path: Path) -> str:
    return run_log.start_run(open_db(db_path), parameters={}, trigger="schedule")


def test_slot_key_is_the_scheduled_time_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    scheduled = datetime(2026, 3, 1, 6, 0, tzinfo=berlin)
    assert slot_key("newsflow-daily/daily", scheduled) == SLOT


def test_a_completed_slot_is_not_run_again(db_path: Path) -> None:
    db = open_db(db_path)
    first = run_row(db_path)
    assert claim_slot(db, first, SLOT) is None
    run_log.finish_run(db, first, status="completed")
    second = run_row(db_path)
    assert claim_slot(db, second, SLOT) == first
    # Another slot of the same deployment is free.
    assert claim_slot(db, run_row(db_path), SLOT.replace("03-01", "03-02")) is None


def test_a_running_owner_keeps_its_slot_until_its_process_dies(db_path: Path) -> None:
    db = open_db(db_path)
    first = run_row(db_path)  # pid = this test process: alive
    assert claim_slot(db, first, SLOT) is None
    second = run_row(db_path)
    assert claim_slot(db, second, SLOT) == first
    run_log.finish_run(db, second, status="skipped")  # what the flow does when it loses the slot
    # The owner crashed: its pid no longer exists on this host, so the slot can be redone.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    db.execute("UPDATE runs SET pid = ? WHERE id = ?", [int(gone), first])
    third = run_row(db_path)
    assert claim_slot(db, third, SLOT) is None


def test_a_failed_run_releases_its_slot(db_path: Path) -> None:
    db = open_db(db_path)
    first = run_row(db_path)
    claim_slot(db, first, SLOT)
    run_log.finish_run(db, first, status="failed", error="boom")
    assert claim_slot(db, run_row(db_path), SLOT) is None


def fake_context(monkeypatch: pytest.MonkeyPatch, *, deployment_id: object, auto: bool) -> str:
    """A flow-run context as the runner gives it (a 06:00 cron cannot fire inside a test)."""
    run_id = uuid4()
    run = SimpleNamespace(
        id=run_id,
        deployment_id=deployment_id,
        auto_scheduled=auto,
        expected_start_time=datetime(2026, 3, 1, 5, 0, tzinfo=UTC),
        start_time=None,
    )
    context = SimpleNamespace(flow_run=run, flow=SimpleNamespace(name="newsflow-daily"))
    monkeypatch.setattr(runinfo.FlowRunContext, "get", classmethod(lambda cls: context))
    monkeypatch.setattr(runinfo, "deployment", SimpleNamespace(name="daily"))
    return str(run_id)


def test_scheduled_runs_carry_their_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = fake_context(monkeypatch, deployment_id=uuid4(), auto=True)
    assert runinfo.current_run("cli") == runinfo.RunInfo(run_id, "schedule", SLOT)


def test_runs_started_by_hand_from_a_deployment_are_ui_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = fake_context(monkeypatch, deployment_id=uuid4(), auto=False)
    assert runinfo.current_run("cli") == runinfo.RunInfo(run_id, "ui", None)


def test_runs_outside_a_deployment_keep_the_callers_label(monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = fake_context(monkeypatch, deployment_id=None, auto=False)
    assert runinfo.current_run("cli") == runinfo.RunInfo(run_id, "cli", None)
    monkeypatch.setattr(runinfo.FlowRunContext, "get", classmethod(lambda cls: None))
    assert runinfo.current_run("test") == runinfo.RunInfo(None, "test", None)


def test_the_flow_skips_a_slot_that_already_completed(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, seeds_copy: Path, db_path: Path
) -> None:
    from newsflow.flows import daily as daily_module

    scheduled = runinfo.RunInfo(None, "schedule", SLOT)
    monkeypatch.setattr(daily_module, "current_run", lambda default: scheduled)
    first = daily_module.daily(seeds_dir=str(seeds_copy), db_path=str(db_path))
    second = daily_module.daily(seeds_dir=str(seeds_copy), db_path=str(db_path))
    assert first.get("status") != "skipped" and first["counts"]["documents_new"] == 5
    assert second["status"] == "skipped" and second["counts"] == {}
    db = open_db(db_path)
    rows = db.execute(
        "SELECT id, status, slot, error FROM runs ORDER BY started_at, rowid"
    ).fetchall()
    assert [(status, slot) for _, status, slot, _ in rows] == [
        ("completed", SLOT),
        ("skipped", SLOT),
    ]
    assert first["run_id"] in rows[1][3]
    skipped = db.execute("SELECT counts FROM runs WHERE status = 'skipped'").fetchone()[0]
    assert json.loads(skipped) == {}
    assert db.execute("SELECT count(*) FROM documents").fetchone()[0] == 5
