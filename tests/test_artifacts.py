"""Each flow run publishes a keyed Markdown digest and a feed-health table to the Prefect API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newsflow.db import open_db
from newsflow.flows.artifacts import DIGEST_KEY, FEED_COLUMNS, FEED_HEALTH_KEY


def run_artifacts(flow_run_id: str) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
    )

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {artifact.key: artifact for artifact in found}


def test_a_run_publishes_its_digest_and_feed_health(
    prefect_harness: None, seeds_copy: Path, db_path: Path
) -> None:
    from newsflow.flows.daily import daily

    (seeds_copy / "empty.txt").write_bytes(b"")  # a reject the digest must explain
    result = daily(seeds_dir=str(seeds_copy), db_path=str(db_path), method="luhn", trigger="test")
    db = open_db(db_path)
    flow_run_id = db.execute(
        "SELECT flow_run_id FROM runs WHERE id = ?", [result["run_id"]]
    ).fetchone()[0]
    assert flow_run_id
    artifacts = run_artifacts(flow_run_id)
    assert set(artifacts) == {DIGEST_KEY, FEED_HEALTH_KEY}
    for key in artifacts:
        assert key == key.lower() and key.replace("-", "").isalnum()
    digest = artifacts[DIGEST_KEY]
    assert digest.type == "markdown"
    text = str(digest.data)
    assert text.startswith(f"# Run {result['run_id'][:8]}")
    assert text.count("**NEW**") == 5
    assert "## Rejected" in text and "`empty.txt` — empty" in text
    assert "test run, completed; luhn with 3 sentences" in text
    health = artifacts[FEED_HEALTH_KEY]
    assert health.type == "table"
    assert all(column in str(health.data) for column in FEED_COLUMNS)


def test_a_run_with_nothing_new_says_so(
    prefect_harness: None, seeds_copy: Path, db_path: Path
) -> None:
    from newsflow.flows.daily import daily

    daily(seeds_dir=str(seeds_copy), db_path=str(db_path), trigger="test")
    again = daily(seeds_dir=str(seeds_copy), db_path=str(db_path), trigger="test")
    flow_run_id = (
        open_db(db_path)
        .execute("SELECT flow_run_id FROM runs WHERE id = ?", [again["run_id"]])
        .fetchone()[0]
    )
    text = str(run_artifacts(flow_run_id)[DIGEST_KEY].data)
    assert "0 entries" in text and "Nothing new." in text


def test_feed_health_table_has_a_row_per_feed(
    prefect_harness: None, tmp_path: Path, db_path: Path
) -> None:
    import html

    from newsflow.flows.daily import daily
    from tests.http_server import Reply, ScriptedServer

    texts = [
        "The Hamburg harbour authority opened a second container terminal on Tuesday, "
        "doubling the port's capacity to 12 million boxes. Maersk had waited three years for "
        "the expansion. Dock workers said the new cranes would cut waiting times by half.",
        "A late frost damaged apple blossoms across South Tyrol this week, Coldiretti said. "
        "Growers expect a harvest 30 percent smaller and higher prices in the autumn. Some "
        "orchards near Bolzano lit fires between the rows overnight to keep the buds alive.",
    ]
    items = "".join(
        f'<item><title>Story {n}</title><guid isPermaLink="false">s{n}</guid>'
        f"<description>{html.escape(text)}</description></item>"
        for n, text in enumerate(texts)
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Port News</title>{items}'
    with ScriptedServer() as server:
        server.route("/port.xml", Reply(200, body=feed + "</channel></rss>"))
        server.route("/gone.xml", Reply(404))
        result = daily(
            seeds_dir=str(tmp_path / "no-seeds"),
            feeds=[server.url("/port.xml"), server.url("/gone.xml")],
            db_path=str(db_path),
            trigger="test",
        )
    flow_run_id = (
        open_db(db_path)
        .execute("SELECT flow_run_id FROM runs WHERE id = ?", [result["run_id"]])
        .fetchone()[0]
    )
    data = run_artifacts(flow_run_id)[FEED_HEALTH_KEY].data
    columns = json.loads(data) if isinstance(data, str) else data
    fields = zip(
        columns["status"], columns["items"], columns["new"], columns["errors"], strict=True
    )
    by_url = dict(zip(columns["url"], fields, strict=True))
    assert by_url[server.url("/port.xml")] == (200, 2, 2, 0)
    assert by_url[server.url("/gone.xml")][0] == 404 and by_url[server.url("/gone.xml")][3] == 1
