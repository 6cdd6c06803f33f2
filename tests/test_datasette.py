"""The database opens in Datasette with db/metadata.json: views, facets and canned queries work."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from newsflow.db import open_db
from newsflow.tasks.ingest.loader import content_hash
from newsflow.tasks.store import run_log, writer
from newsflow.tasks.store.models import Item

METADATA = Path(__file__).resolve().parent.parent / "db" / "metadata.json"
BODY = "The council approved the budget. Schools get more money. Roads wait another year."


def get_all(db_path: Path, *paths: str) -> list[Any]:
    """GET each path from an in-process Datasette over the database and metadata.json."""
    pytest.importorskip(
        "datasette", reason="Datasette is an optional extra: pip install '.[datasette]'"
    )
    from datasette.app import Datasette

    async def fetch() -> list[Any]:
        ds = Datasette([str(db_path)], metadata=json.loads(METADATA.read_text(encoding="utf-8")))
        await ds.invoke_startup()
        results = []
        for path in paths:
            response = await ds.client.get(path)
            assert response.status_code == 200, (path, response.text[:500])
            results.append(response.json())
        return results

    return asyncio.run(fetch())


def test_views_and_canned_queries_answer(db_path: Path) -> None:
    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={"method": "luhn"}, trigger="cli")
    item = Item(key="file:a.txt", path="a.txt", body=BODY, title="Budget", language="en",
                source="Daily Bugle", content_hash=content_hash(BODY))  # fmt: skip
    writer.save_items(db, [item], run_id=run_id)
    run_log.finish_run(db, run_id, status="completed", counts={"documents_new": 1})
    day = db.execute("SELECT day FROM v_daily_digest").fetchone()[0]
    db.conn.close()

    digest, runs, query, search, per_source = get_all(
        db_path,
        "/newsflow/v_daily_digest.json?_shape=array",
        "/newsflow/v_runs.json?_shape=array",
        f"/newsflow/digest_for_day.json?_shape=array&day={day}",
        "/newsflow/search.json?_shape=array&q=council",
        "/newsflow/items_per_source.json?_shape=array&since=2000-01-01",
    )
    assert [row["title"] for row in digest] == ["Budget"]
    assert runs[0]["documents_new"] == 1 and runs[0]["trigger"] == "cli"
    assert query[0]["source"] == "Daily Bugle"
    assert search[0]["title"] == "Budget" and "[council]" in search[0]["snippet"]
    assert per_source == [{"source": "Daily Bugle", "documents": 1, "copies": 0}]


def test_metadata_names_only_tables_and_views_that_exist(db_path: Path) -> None:
    db = open_db(db_path)
    names = set(db.table_names()) | set(db.view_names())
    metadata = json.loads(METADATA.read_text(encoding="utf-8"))
    described = set(metadata["databases"]["newsflow"]["tables"])
    assert described <= names, described - names
    # Every canned query at least compiles against the schema.
    for name, query in metadata["databases"]["newsflow"]["queries"].items():
        sql = query["sql"].replace(":day", "'2026-01-01'").replace(":since", "'2026-01-01'")
        assert isinstance(db.execute(sql.replace(":q", "'x'")).fetchall(), list), name


def test_topic_matches_browse_by_topic_facet(db_path: Path) -> None:
    from newsflow.tasks.report.topics import Topic, match_run

    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={"method": "luhn"}, trigger="cli")
    other = "Harbour fees rise. Ferries cost more. Fishermen protest at the quay."
    items = [
        Item(key=f"file:{name}.txt", path=f"{name}.txt", body=body, title=name, language="en",
             source="Daily Bugle", content_hash=content_hash(body))
        for name, body in (("Budget", BODY), ("Harbour", other))
    ]  # fmt: skip
    writer.save_items(db, items, run_id=run_id)
    topics = [Topic("Council", "council OR budget"), Topic("Harbour", "ferries")]
    match_run(db, topics, run_id=run_id)
    db.conn.close()

    (page,) = get_all(db_path, "/newsflow/v_topic_digest.json")
    facet = page["facet_results"]
    facet = facet.get("results", facet)  # Datasette 1.0 nests the facets one level deeper
    counts = {value["value"]: value["count"] for value in facet["topic"]["results"]}
    assert counts == {"Council": 1, "Harbour": 1}
