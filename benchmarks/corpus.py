"""Benchmark corpus: N distinct news documents recombined from real sentences, optionally with
labelled near-duplicates.

Sources are the shared BBC News Summary articles (English, five topics) and the project's seed
articles (English and German). Each generated document takes a real headline and 15–30 real
sentences from three or more articles of one topic and language, in runs of consecutive
sentences, so it reads like news and is distinct from every other document. Generation is
deterministic for a given seed.

    python -m benchmarks.corpus OUT_DIR --n 5000 [--extra 50] [--near-duplicates 0.02]

writes OUT_DIR/docs/<language>/<topic>/<number>.txt, OUT_DIR/extra/… (held back, for incremental
runs) and OUT_DIR/manifest.json (what each file is made of, and which ones are near-duplicates).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from newsflow.tasks.common.sentences import split_paragraphs
from newsflow.tasks.common.textio import decode_bytes
from newsflow.tasks.ingest.clean import clean_article
from newsflow.tasks.ingest.language import detect_language

ROOT = Path(__file__).resolve().parent.parent
BBC_DIR = ROOT.parent / "shared" / "corpus" / "bbc-news-summary" / "article"
SEEDS_DIR = ROOT / "seeds"

MIN_SENTENCES = 15
MAX_SENTENCES = 30
MANIFEST = "manifest.json"


class CorpusError(RuntimeError):
    """The corpus cannot be generated from the sources at hand."""


@dataclass(frozen=True)
class Source:
    """A real article, split into paragraphs of sentences."""

    name: str  # e.g. 'bbc/tech/027' or 'seeds/000_4c18ba39d7aebdfb'
    language: str
    topic: str
    title: str
    paragraphs: tuple[tuple[str, ...], ...]

    @property
    def sentence_count(self) -> int:
        return sum(len(p) for p in self.paragraphs)


@dataclass
class Document:
    """A generated document and what it was made from."""

    relpath: str
    language: str
    topic: str
    title: str
    paragraphs: list[list[str]]
    sources: list[str]
    near_duplicate_of: str | None = None
    edits: list[str] | None = None

    def text(self) -> str:
        body = "\n\n".join(" ".join(p) for p in self.paragraphs)
        return f"{self.title}\n\n{body}\n"

    def body_hash(self) -> str:
        folded = " ".join(" ".join(" ".join(p) for p in self.paragraphs).casefold().split())
        return hashlib.sha256(folded.encode("utf-8")).hexdigest()

    def manifest_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "path": self.relpath,
            "language": self.language,
            "topic": self.topic,
            "sentences": sum(len(p) for p in self.paragraphs),
            "sources": self.sources,
        }
        if self.near_duplicate_of:
            entry |= {"near_duplicate_of": self.near_duplicate_of, "edits": self.edits or []}
        return entry


def load_sources(
    bbc_dir: Path | None = BBC_DIR, seeds_dir: Path | None = SEEDS_DIR
) -> list[Source]:
    """Real articles from the BBC corpus (title on line 1) and the seeds, cleaned and split."""
    sources: list[Source] = []
    if bbc_dir and bbc_dir.is_dir():
        for path in sorted(bbc_dir.glob("*/*.txt")):
            text = decode_bytes(path.read_bytes())
            title, _, rest = text.strip().partition("\n")
            article = clean_article(rest, title=title.strip())
            topic = path.parent.name
            sources.append(
                _source(f"bbc/{topic}/{path.stem}", "en", topic, article.title, article.body)
            )
    if seeds_dir and seeds_dir.is_dir():
        for path in sorted(seeds_dir.glob("*.txt")):
            article = clean_article(decode_bytes(path.read_bytes()))
            language = detect_language(article.body) or "en"
            sources.append(
                _source(f"seeds/{path.stem}", language, "world", article.title, article.body)
            )
    return [s for s in sources if s.sentence_count]


def _source(name: str, language: str, topic: str, title: str | None, body: str) -> Source:
    paragraphs = tuple(tuple(p) for p in split_paragraphs(body, language) if p)
    return Source(name, language, topic, title or name, paragraphs)


def generate(
    out_dir: Path,
    n: int = 5000,
    *,
    extra: int = 0,
    near_duplicates: float = 0.0,
    german_share: float = 0.02,
    seed: int = 7,
    sources: list[Source] | None = None,
    seeds_only: bool = False,
) -> dict[str, object]:
    """Write n documents to out_dir/docs and `extra` more to out_dir/extra; return the manifest.

    `near_duplicates` is the share of the n documents that are lightly edited copies of other
    generated documents (labelled in the manifest). German documents can only draw on the one
    German seed article, so they resemble each other far more than the English ones do.

    Without the shared BBC corpus beside the checkout (`../shared/corpus`) this refuses, unless
    `seeds_only`: five seed articles recombined make documents that are nearly all one story, and
    a benchmark of them measures something else (a 3,198-document duplicate group, once).
    """
    if sources is None and not seeds_only and not BBC_DIR.is_dir():
        raise CorpusError(
            f"the BBC corpus is not at {BBC_DIR}: clone the project beside shared/"
            " (benchmarks generate their documents from it)"
        )
    sources = sources if sources is not None else load_sources()
    pools = _pools(sources)
    if "en" not in pools:
        raise CorpusError("no English source articles found (BBC corpus or seeds)")
    duplicates = round(n * near_duplicates)
    base_count = n - duplicates
    seen: set[str] = set()
    base = [_document(i, pools, german_share, seed, seen) for i in range(base_count + extra)]
    held_back = base[base_count:]
    documents = base[:base_count]
    picker = random.Random(f"{seed}:near-duplicates")
    for number in range(duplicates):
        original = documents[picker.randrange(base_count)]
        documents.append(_near_duplicate(original, base_count + extra + number, picker, seen))

    if out_dir.exists():
        shutil.rmtree(out_dir)
    for folder, group in (("docs", documents), ("extra", held_back)):
        for document in group:
            path = out_dir / folder / document.relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(document.text(), encoding="utf-8")
    manifest: dict[str, object] = {
        "generator": "benchmarks.corpus",
        "parameters": {"n": n, "extra": extra, "near_duplicates": near_duplicates,
                       "german_share": german_share, "seed": seed},
        "sources": len(sources),
        "documents": [d.manifest_entry() for d in documents],
        "extra": [d.manifest_entry() for d in held_back],
    }  # fmt: skip
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def _pools(sources: list[Source]) -> dict[str, dict[str, list[Source]]]:
    pools: dict[str, dict[str, list[Source]]] = {}
    for source in sources:
        pools.setdefault(source.language, {}).setdefault(source.topic, []).append(source)
    return pools


def _document(
    index: int,
    pools: dict[str, dict[str, list[Source]]],
    german_share: float,
    seed: int,
    seen: set[str],
) -> Document:
    # One random stream per document: the first n documents do not depend on `extra`.
    rng = random.Random(f"{seed}:{index}")
    language = "de" if "de" in pools and rng.random() < german_share else "en"
    topics = pools[language]
    names = sorted(topics)
    weights = [sum(s.sentence_count for s in topics[t]) for t in names]
    for _attempt in range(50):
        topic = rng.choices(names, weights)[0]
        articles = topics[topic]
        available = sum(s.sentence_count for s in articles)
        if available < MIN_SENTENCES:
            raise CorpusError(f"topic {language}/{topic} has only {available} sentences")
        target = rng.randint(MIN_SENTENCES, min(MAX_SENTENCES, available))
        lead = rng.choice(articles)
        sentences, used = _draw(rng, lead, articles, target)
        paragraphs = _paragraphs(rng, sentences)
        document = Document(f"{language}/{topic}/{index:05d}.txt", language, topic, lead.title,
                            paragraphs, used)  # fmt: skip
        digest = document.body_hash()
        if digest not in seen:
            seen.add(digest)
            return document
    raise CorpusError(f"could not make document {index} distinct from the others")


def _draw(
    rng: random.Random, lead: Source, articles: list[Source], target: int
) -> tuple[list[str], list[str]]:
    """`target` distinct sentences: the lead's opening, then runs of 1–4 from a few articles."""
    chosen: list[str] = []
    taken: set[str] = set()
    used: list[str] = []

    def take(source: Source, paragraph: tuple[str, ...], start: int, length: int) -> None:
        for sentence in paragraph[start : start + length]:
            if len(chosen) < target and sentence not in taken:
                chosen.append(sentence)
                taken.add(sentence)
                if source.name not in used:
                    used.append(source.name)

    # A few articles of the topic, enough for the target with room to spare, so the document
    # stays on a handful of stories rather than a sentence from everywhere.
    others = [a for a in articles if a is not lead]
    rng.shuffle(others)
    picked = [lead]
    while others and (len(picked) < 3 or sum(a.sentence_count for a in picked) < target + 5):
        picked.append(others.pop())
    take(lead, lead.paragraphs[0], 0, rng.randint(1, 2))
    stalls = 0
    while len(chosen) < target:
        before = len(chosen)
        source = rng.choice(picked)
        paragraph = rng.choice(source.paragraphs)
        take(source, paragraph, rng.randrange(len(paragraph)), rng.randint(1, 4))
        stalls = stalls + 1 if len(chosen) == before else 0
        if stalls > 1000:  # the pool is smaller than the target: stop short
            break
    return chosen, used


def _paragraphs(rng: random.Random, sentences: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    position = 0
    while position < len(sentences):
        size = rng.randint(1, 4)
        paragraphs.append(sentences[position : position + size])
        position += size
    return paragraphs


def _near_duplicate(original: Document, index: int, rng: random.Random, seen: set[str]) -> Document:
    """A copy with one sentence dropped and one word changed: what a re-published wire story
    looks like."""
    for _attempt in range(50):
        paragraphs = [list(p) for p in original.paragraphs]
        edits: list[str] = []
        flat = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
        i, j = rng.choice(flat)
        edits.append(f"dropped sentence: {paragraphs[i][j][:60]}")
        del paragraphs[i][j]
        paragraphs = [p for p in paragraphs if p]
        flat = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
        i, j = rng.choice(flat)
        words = paragraphs[i][j].split(" ")
        if len(words) > 3:
            k = rng.randrange(1, len(words) - 1)
            edits.append(f"removed word: {words[k]}")
            del words[k]
            paragraphs[i][j] = " ".join(words)
        document = Document(
            f"{original.language}/{original.topic}/{index:05d}.txt", original.language,
            original.topic, original.title, paragraphs, original.sources,
            near_duplicate_of=original.relpath, edits=edits,
        )  # fmt: skip
        digest = document.body_hash()
        if digest not in seen:
            seen.add(digest)
            return document
    raise CorpusError(f"could not make a distinct near-duplicate of {original.relpath}")


def main(argv: list[str] | None = None) -> None:
    """Command line: generate a corpus into a folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=5000, help="documents in docs/ (default 5000)")
    parser.add_argument("--extra", type=int, default=0, help="more documents, held back in extra/")
    parser.add_argument(
        "--near-duplicates",
        type=float,
        default=0.0,
        help="share of the n documents that are labelled near-duplicates",
    )
    parser.add_argument("--german-share", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    manifest = generate(args.out_dir, args.n, extra=args.extra,
                        near_duplicates=args.near_duplicates, german_share=args.german_share,
                        seed=args.seed)  # fmt: skip
    documents = manifest["documents"]
    assert isinstance(documents, list)
    print(f"{len(documents)} documents in {args.out_dir / 'docs'}")  # noqa: T201 (a CLI)


if __name__ == "__main__":
    main()
