"""Topics and searches for the benchmark, taken from the benchmarked corpus itself.

Queries are built from the corpus's frequent words (not a list typed here), so they match some
documents whatever corpus is benchmarked: pairs joined by AND and by OR, and prefixes. Search
latency is timed over the database the benchmark's runs filled.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

SAMPLE_FILES = 400  # files read to find frequent words
SKIP_COMMON = 80  # the most frequent words are function words in every language: skip them
_WORD = re.compile(r"[^\W\d_]{5,}")


def frequent_words(docs: Path, *, count: int) -> list[str]:
    """Frequent words of five letters or more in a sample of the corpus, commonest first."""
    words: Counter[str] = Counter()
    files = sorted(p for p in docs.rglob("*") if p.is_file())
    files = files[:: max(1, len(files) // SAMPLE_FILES)]  # across languages and subjects
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        words.update(set(_WORD.findall(text)))  # in how many documents, not how often
    return [word for word, _ in words.most_common(SKIP_COMMON + count)][SKIP_COMMON:]


def write_topics(docs: Path, path: Path, *, count: int = 20) -> Path:
    """A topics file of `count` topics over the corpus's words."""
    words = frequent_words(docs, count=2 * count + 2)
    tables = []
    for index in range(count):
        a, b = words[2 * index], words[2 * index + 1]
        query = (f"{a} AND {b}", f"{a} OR {b}", f"{a[:-1]}* AND {b}")[index % 3]
        name = f"bench {index + 1:02d}"
        tables.append(f"[[topics]]\nname = {json.dumps(name)}\nquery = {json.dumps(query)}\n")
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def search_latency(db_path: Path, docs: Path, *, queries: int = 10) -> dict[str, Any]:
    """Milliseconds of two-word searches (frequent word pairs) over the database."""
    from newsflow.db import open_db
    from newsflow.tasks.search.engine import search

    words = frequent_words(docs, count=2 * queries)
    db = open_db(db_path)
    timings, hits = [], []
    for index in range(queries):
        query = f"{words[2 * index]} {words[2 * index + 1]}"
        started = time.perf_counter()
        hits.append(len(search(db, query)))
        timings.append((time.perf_counter() - started) * 1000)
    db.conn.close()
    return {
        "queries": queries,
        "median_ms": round(statistics.median(timings), 2),
        "max_ms": round(max(timings), 2),
        "mean_results": round(sum(hits) / len(hits), 1),
        "example": f"{words[0]} {words[1]}",
    }


def topic_cost(cold: dict[str, Any]) -> dict[str, Any]:
    """What the topic tasks took in the cold run (Prefect's task-run times), and its share."""
    phases = cold.get("phases", {})
    seconds = sum(phases.get(name, {}).get("seconds", 0.0) for name in TOPIC_TASKS)
    return {
        "seconds": round(seconds, 3),
        "by_task": {name: phases[name] for name in TOPIC_TASKS if name in phases},
        "share_of_cold_run": round(seconds / cold["seconds"], 4) if cold.get("seconds") else None,
        "matches": cold.get("counts", {}).get("topic_matches"),
    }


TOPIC_TASKS = ("match-topics", "topic-messages")
