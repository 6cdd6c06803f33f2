"""The run's artifacts in the Prefect UI: a Markdown digest and a feed-health table, keyed."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from newsflow.db import open_db
from newsflow.tasks.report import digests, report_text

# Lowercase keys (letters, digits, dashes): only keyed artifacts appear on the Artifacts page,
# and each run adds a new version under the same key, so the page shows the history.
DIGEST_KEY = "newsflow-digest"
FEED_HEALTH_KEY = "newsflow-feed-health"
# An artifact is read in a browser: beyond this many entries the digest says how many more.
ARTIFACT_ENTRIES = 50
FEED_COLUMNS = ("name", "url", "status", "items", "new", "duplicates", "errors", "error")


def feed_table(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Column-wise table, so the UI shows the columns even when no feed was fetched."""
    return {column: [row.get(column) for row in rows] for column in FEED_COLUMNS}


@task(name="publish-artifacts")
def publish_artifacts(db_path: str, run_id: str) -> dict[str, str]:
    """Publish the run's digest and feed health; returns the artifact ids by key."""
    db = open_db(db_path)
    digest = digests.run_digest(db, run_id, limit=ARTIFACT_ENTRIES)
    health = digests.feed_health(db, run_id)
    digest_id = create_markdown_artifact(
        markdown=report_text.to_markdown(digest),
        key=DIGEST_KEY,
        description=f"newsflow run {run_id}: what was new, duplicate and rejected",
    )
    health_id = create_table_artifact(
        table=feed_table(health),
        key=FEED_HEALTH_KEY,
        description=f"newsflow run {run_id}: feed health ({len(health)} feeds)",
    )
    db.conn.close()
    return {DIGEST_KEY: str(digest_id), FEED_HEALTH_KEY: str(health_id)}
