"""The UCI News Aggregator headlines as title-only JSON lines: the shape of a feed whose article
pages cannot be fetched, for measuring headline-only documents, their language and their stories.

The CSV (`../shared/corpus/uci-news-aggregator/uci-news-aggregator.csv`: ID, TITLE, URL,
PUBLISHER, CATEGORY, STORY, HOSTNAME, TIMESTAMP in milliseconds) becomes one record a row with
`title`, `url`, `source` (the publisher) and `published_at` (ISO 8601 UTC; left out when the row
has no timestamp), and no body. The Google News story label stays in the CSV: evaluations read it
from there by URL or by row order, so nothing of the answer reaches the run.

    python -m benchmarks.uci OUT_DIR [--csv PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT.parent / "shared" / "corpus" / "uci-news-aggregator" / "uci-news-aggregator.csv"
FILE_NAME = "uci-headlines.jsonl"


def record(row: dict[str | None, str | None]) -> dict[str, str]:
    """One CSV row as a title-only record (no body, no story label)."""
    # A short row (the one with no timestamp) reads its missing columns as None.
    field = {name: (value or "").strip() for name, value in row.items() if name}
    out = {"title": field.get("TITLE", ""), "url": field.get("URL", "")}
    if field.get("PUBLISHER"):
        out["source"] = field["PUBLISHER"]
    stamp = field.get("TIMESTAMP", "")
    if stamp.isdigit():
        moment = datetime.fromtimestamp(int(stamp) / 1000, tz=UTC)
        out["published_at"] = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return out


def write_jsonl(csv_path: Path | str, out_path: Path | str) -> int:
    """Write the CSV's rows as title-only JSON lines to `out_path`; the number of records."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with (
        open(csv_path, encoding="utf-8", newline="") as source,
        open(out_path, "w", encoding="utf-8") as target,
    ):
        for row in csv.DictReader(source):
            target.write(json.dumps(record(row), ensure_ascii=False) + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    """Write OUT_DIR/uci-headlines.jsonl from the CSV."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.uci", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="folder to write uci-headlines.jsonl into")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="the UCI CSV file")
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        parser.error(f"{args.csv} does not exist")
    count = write_jsonl(args.csv, args.out_dir / FILE_NAME)
    print(f"{count} records -> {args.out_dir / FILE_NAME}")


if __name__ == "__main__":
    main()
