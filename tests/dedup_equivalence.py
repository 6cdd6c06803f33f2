"""Same decisions? Compare what two near-duplicate passes left in two databases.

A speed change to the dedup pass must not change one decision. Copy a database twice, run
`newsflow.tasks.dedup.neardup.deduplicate(db, recompute=True)` on each with the old and the new
code (`recompute` below, from each checkout's own venv), then compare:

    python -m tests.dedup_equivalence recompute COPY.db      # prints seconds and the tally
    python -m tests.dedup_equivalence compare OLD.db NEW.db   # exit 1 and the first differences
    python -m tests.dedup_equivalence compare --no-times A.db B.db  # two builds of one corpus

Compared: every document's `duplicate_of`, `summary_status`, `outlets`, `event_at` and
`story_id`; every `dedup_decisions` row in insertion order without its id, run and time (so a
row written twice, or in another order, is a difference); the `rejects` rows dedup writes.
Two databases built apart (`python -m benchmarks.dedup --keep DIR`, or `benchmarks.scale`,
twice) were stored at other times, and the reasons and story scores quote them (which of two
texts is earlier, a story's time decay): `--no-times` compares the documents without
`event_at` and each dedup decision's pair, method, score and outcome, without its reason.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import time
from collections.abc import Iterator

_DOCUMENTS = (
    "SELECT id, duplicate_of, summary_status, outlets, event_at, story_id FROM documents"
    " ORDER BY id"
)
_DECISIONS = (
    "SELECT document_id, canonical_id, method, score, threshold, decision, reason"
    " FROM dedup_decisions ORDER BY id"
)
_REJECTS = (
    "SELECT location, kind, reason, detail FROM rejects WHERE reason = 'boilerplate_only'"
    " ORDER BY location"
)


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?")


def _rows(path: str, sql: str, *, times: bool = True) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = [tuple(row) for row in conn.execute(sql)]
    conn.close()
    if times:
        return rows
    if sql == _DOCUMENTS:
        return [(*row[:4], row[5]) for row in rows]
    if sql == _DECISIONS:  # the pair, method, score and outcome; not why, nor story scores
        return [row[:6] for row in rows if row[2] != "story"]
    return [tuple(_TIME.sub("TIME", v) if isinstance(v, str) else v for v in row) for row in rows]


def differences(old: str, new: str, *, times: bool = True, limit: int = 10) -> Iterator[str]:
    """What differs between the two databases' dedup outcomes (nothing when they agree)."""
    shown = 0
    for name, sql in (("documents", _DOCUMENTS), ("decisions", _DECISIONS), ("rejects", _REJECTS)):
        a, b = _rows(old, sql, times=times), _rows(new, sql, times=times)
        if len(a) != len(b):
            yield f"{name}: {len(a)} rows vs {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                yield f"{name} row {index}: {x!r} vs {y!r}"
                shown += 1
                if shown >= limit:
                    return


def recompute(path: str) -> dict[str, object]:
    """Decide every document of the database again; the time and the tally."""
    from newsflow.db import open_db
    from newsflow.tasks.dedup import neardup

    db = open_db(path)
    wall, cpu = time.perf_counter(), time.process_time()
    result = neardup.deduplicate(db, recompute=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tally = {k: v for k, v in vars(result).items() if k != "touched_stories"}
    tally["touched_stories"] = len(result.touched_stories)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), **tally}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("recompute").add_argument("db")
    compare = commands.add_parser("compare")
    compare.add_argument("--no-times", action="store_true", help="two builds of one corpus")
    compare.add_argument("old")
    compare.add_argument("new")
    args = parser.parse_args(argv)
    if args.command == "recompute":
        print(json.dumps(recompute(args.db)))
        return 0
    found = list(differences(args.old, args.new, times=not args.no_times))
    for line in found:
        print(line)
    counts = {
        n: len(_rows(args.old, s))
        for n, s in (("documents", _DOCUMENTS), ("decisions", _DECISIONS))
    }
    print("identical" if not found else "DIFFERENT", counts)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
