"""A group's full texts weighed as it grows equal the same group weighed from nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

from sqlite_utils import Database

from newsflow.db import open_db
from newsflow.tasks.dedup import neardup
from newsflow.tasks.dedup.documents import Doc, load_docs
from newsflow.tasks.dedup.furniture import Furniture
from newsflow.tasks.ingest import loader
from newsflow.tasks.store import writer
from newsflow.tasks.store.models import Item

BBC = "bbc-news-summary/article"
LINES = [
    "Sign up for the Evening Digest and get the day's top stories by email.",
    "Reporting by the news desk; editing by the weekend team.",
    "Follow us on social media for live updates.",
    "This article was amended to correct a spelling.",
]


def _counted_in_sql(db: Database, docs: dict[int, Doc], group: set[int]) -> dict[int, int]:
    """The definition, counted from scratch: paragraphs two documents outside the group carry."""
    furniture = dict(
        db.execute(
            "SELECT p.document_id, sum(p.words) FROM paragraphs p"
            " WHERE p.document_id IN (SELECT value FROM json_each(:docs)) AND ("
            "   SELECT count(*) FROM paragraphs o WHERE o.hash = p.hash"
            "   AND o.document_id NOT IN (SELECT value FROM json_each(:group))) >= 2"
            " GROUP BY p.document_id",
            {"docs": json.dumps(list(docs)), "group": json.dumps(sorted(group))},
        ).fetchall()
    )
    return {i: max(0, d.word_count - furniture.get(i, 0)) for i, d in docs.items()}


def test_a_growing_group_is_weighed_as_if_from_nothing(db_path: Path, corpus: Path) -> None:
    rng = random.Random(5)
    articles = sorted((corpus / BBC / "business").glob("*.txt"))[:14]
    db = open_db(db_path)
    items = []
    for n, path in enumerate(articles):
        body = path.read_text(encoding="utf-8").split("\n", 1)[1].strip()
        lines = rng.sample(LINES, k=rng.randint(0, len(LINES)))  # each outlet its own furniture
        text = "\n\n".join([body, *lines])
        items.append(loader.finish_item(Item(key=f"doc-{n}", body=text)))
    writer.save_items(db, items, run_id="test")
    neardup.deduplicate(db, run_id="test")  # stores the paragraphs
    ids = [row[0] for row in db.execute("SELECT id FROM documents ORDER BY id")]
    docs = load_docs(db, ids)
    assert db.execute("SELECT count(*) FROM paragraphs").fetchone()[0] > len(ids)

    growing = Furniture(db)
    groups = [set(ids[:k]) for k in range(1, 9)]  # one group gaining a member at a time
    groups += [set(ids[9:12]), set(ids[9:14]), set(ids[:14])]  # another, then both merged
    groups += [set(ids[2:6])]  # a group that lost members: weighed from nothing again
    seen_furniture = False
    for group in groups:
        members = {i: docs[i] for i in group}
        got = growing.full_words(members, group)
        expected = _counted_in_sql(db, members, group)
        assert got == expected, sorted(group)
        seen_furniture |= any(got[i] < docs[i].word_count for i in group)
    assert seen_furniture  # the lines outside each group did count as furniture somewhere
