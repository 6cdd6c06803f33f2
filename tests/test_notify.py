"""A message when a topic has new stories: a real Prefect custom-webhook block, saved through the
test harness's Prefect API, posting to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.db import open_db
from tests.http_server import Reply, ScriptedServer
from tests.test_topics import ENERGY, OTHER, QUERY, topic, write_records, write_topics

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()


def save_webhook(url: str) -> str:
    """Save a custom-webhook block that posts the subject and body as JSON; its reference."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    name = f"newsroom-{uuid.uuid4().hex[:8]}"
    CustomWebhookNotificationBlock(
        name="newsroom",
        url=url,
        json_data={"subject": "{{subject}}", "text": "{{body}}"},
        timeout=5,
    ).save(name, overwrite=True)
    return f"custom-webhook/{name}"


def run(folder: Path, db_path: Path, topics_file: Path) -> dict:
    from newsflow.flows.daily import daily

    return daily(
        seeds_dir=str(folder), db_path=str(db_path), trigger="test", topics_file=str(topics_file)
    )


def notifications(db_path: Path) -> list[dict]:
    cursor = open_db(db_path).execute("SELECT * FROM notifications ORDER BY id")
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_one_message_for_a_run_with_new_stories_and_none_for_the_next(
    tmp_path: Path, db_path: Path
):
    folder = tmp_path / "news"
    write_records(folder, ENERGY + OTHER)
    with ScriptedServer() as server:
        server.route("/hook", Reply(200, body=b"ok"))
        block = save_webhook(server.url("/hook"))
        topics_file = write_topics(
            tmp_path / "topics.toml",
            topic("Norway and Poland", QUERY, f"notify = {json.dumps(block)}"),
            topic("Quiet", "Antarctica", f"notify = {json.dumps(block)}"),  # matches nothing
        )
        first = run(folder, db_path, topics_file)
        posts = server.requests_to("/hook")
        assert len(posts) == 1 and posts[0].method == "POST"
        sent = json.loads(posts[0].body)
        stories = first["counts"]["topic_new_stories"]
        noun = "story" if stories == 1 else "stories"
        assert sent["subject"] == f"newsflow: {stories} new {noun} for Norway and Poland"
        for record in ENERGY:
            assert record["url"] in sent["text"] and record["source"] in sent["text"]
        assert OTHER[0]["url"] not in sent["text"]
        assert sent["text"].count("• ") == stories

        run(folder, db_path, topics_file)
        assert len(server.requests_to("/hook")) == 1  # nothing new: no message
    assert [
        (n["topic"], n["status"], n["stories"], n["run_id"]) for n in notifications(db_path)
    ] == [("Norway and Poland", "sent", stories, first["run_id"])]


def test_a_failing_receiver_is_recorded_and_the_run_still_completes(tmp_path: Path, db_path: Path):
    folder = tmp_path / "news"
    write_records(folder, ENERGY)
    with ScriptedServer() as server:
        server.route("/hook", Reply(503, body=b"down for maintenance"))
        block = save_webhook(server.url("/hook"))
        topics_file = write_topics(
            tmp_path / "topics.toml", topic("Energy", QUERY, f"notify = {json.dumps(block)}")
        )
        result = run(folder, db_path, topics_file)
        assert server.hits("/hook") == 1
    (row,) = notifications(db_path)
    assert row["status"] == "failed" and "503" in row["error"] and row["block"] == block
    assert row["stories"] == result["counts"]["topic_new_stories"] >= 1
    status = open_db(db_path).execute("SELECT status FROM runs").fetchone()[0]
    assert status == "completed"


def test_a_missing_block_fails_the_run_at_its_start_in_one_line(tmp_path: Path, db_path: Path):
    from newsflow.flows.cli import app
    from newsflow.flows.daily import daily
    from newsflow.tasks.report.topics import TopicError

    folder = tmp_path / "news"
    write_records(folder, ENERGY)
    topics_file = write_topics(
        tmp_path / "topics.toml",
        topic("Energy", QUERY, 'notify = "custom-webhook/no-such-hook"'),
    )
    result = runner.invoke(
        app,
        ["run", "--seeds", str(folder), "--db", str(db_path), "--topics-file", str(topics_file)],
    )
    assert result.exit_code == 2
    message = " ".join(result.output.split())  # rich wraps the line at the terminal's width
    assert message.startswith("error: topic 'Energy': no Prefect notification block")
    assert "'custom-webhook/no-such-hook'" in message and "prefect block create" in message
    assert "Traceback" not in result.output
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM documents").fetchone() == (0,)

    # A run started elsewhere (a deployment from the UI) fails at its start, recorded.
    with pytest.raises(TopicError, match="no-such-hook"):
        daily(seeds_dir=str(folder), db_path=str(db_path), topics_file=str(topics_file))
    assert db.execute("SELECT count(*) FROM documents").fetchone() == (0,)
    status, error = db.execute("SELECT status, error FROM runs").fetchone()
    assert status == "failed" and "custom-webhook/no-such-hook" in error
