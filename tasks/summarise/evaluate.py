"""Summary quality against human references: ROUGE and sentence precision/recall per method."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from rouge_score import rouge_scorer

from newsflow.tasks.common.sentences import split_paragraphs, split_sentences
from newsflow.tasks.common.textio import decode_bytes
from newsflow.tasks.ingest.clean import clean_article
from newsflow.tasks.summarise.summarize import DEFAULT_METHOD, METHODS, Summary, summarize_text

log = logging.getLogger(__name__)

LEAD = "lead"
SPLITS = ("all", "tune", "test")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")

# The BBC references run sentences together ("…stability.Mr Brown…"): a sentence end followed
# directly by a capital, maybe behind a quote, gets its space back. The character before the stop
# must be lower case, a digit or a closer, so initialisms like "U.S." stay whole.
_GLUED = re.compile(r"""(?<=[a-z0-9%)\]'"’”])([.!?])(["'“”‘’]?)(?=[A-Z])""")
_SPACE = re.compile(r"\s+")


class DatasetError(ValueError):
    """The dataset folder is not in the BBC News Summary layout."""


@dataclass(frozen=True)
class Pair:
    """One article and its human reference summary."""

    key: str  # '<topic>/<id>'
    title: str
    body: str
    reference: str  # spaces restored; sentences separated by newlines


@dataclass
class Row:
    """Mean scores of one method over a dataset."""

    method: str
    rouge1: float
    rouge2: float
    rougeLsum: float  # noqa: N815 - the name rouge-score and the JSON output use
    sentence_precision: float  # share of chosen sentences that are in the reference
    sentence_recall: float  # share of reference sentences that were chosen
    docs: int
    default: bool = False

    def as_dict(self) -> dict[str, object]:
        """The row as JSON-ready values, rounded to four places."""
        return {
            key: round(value, 4) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }


def split_for(position: int) -> str:
    """The split of the article at `position` (0-based, by file name) within its topic."""
    return "tune" if position % 2 == 0 else "test"


def fix_reference(text: str) -> str:
    """Restore the space the BBC references drop after a full stop."""
    text = text.strip()

    def space(match: re.Match[str]) -> str:
        stop, quote = match.groups()
        # A quote between two sentences closes the first or opens the second: curly ones say which;
        # a straight one closes when an odd number of them came before it.
        closes = quote in "”’" or (quote == '"' and text.count('"', 0, match.start(2)) % 2 == 1)
        if quote and not closes and quote != "'":
            return f"{stop} {quote}"
        return f"{stop}{quote} "

    return _GLUED.sub(space, text)


def load_pairs(root: Path, *, split: str = "all", language: str = "en") -> list[Pair]:
    """Articles and references under `root` (article/<topic>/<id>.txt, summary/<topic>/<id>.txt)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    articles = root / "article"
    summaries = root / "summary"
    if not articles.is_dir() or not summaries.is_dir():
        raise DatasetError(f"{root} has no article/ and summary/ folders")
    pairs: list[Pair] = []
    for topic in sorted(p for p in articles.iterdir() if p.is_dir()):
        for position, path in enumerate(sorted(topic.glob("*.txt"))):
            if split != "all" and split_for(position) != split:
                continue
            reference_path = summaries / topic.name / path.name
            if not reference_path.is_file():
                log.warning("no reference for %s; skipped", path)
                continue
            text = decode_bytes(path.read_bytes())
            title, _, rest = text.strip().partition("\n")
            body = clean_article(rest, title=title.strip()).body
            reference = fix_reference(decode_bytes(reference_path.read_bytes()))
            pairs.append(
                Pair(
                    key=f"{topic.name}/{path.stem}",
                    title=title.strip(),
                    body=body,
                    reference="\n".join(split_sentences(reference, language)),
                )
            )
    if not pairs:
        raise DatasetError(f"{root} holds no article/summary pairs for split {split!r}")
    return pairs


def lead(body: str, *, language: str, count: int) -> Summary:
    """The first `count` sentences: the baseline every news summariser has to beat."""
    flat = [s for paragraph in split_paragraphs(body, language) for s in paragraph]
    return Summary(flat[:count], list(range(min(count, len(flat)))))


def _squeeze(text: str) -> str:
    return _SPACE.sub("", text)


def reference_labels(sentences: Sequence[str], reference: str) -> list[bool]:
    """Per sentence, whether the (extractive) reference contains it, spacing aside."""
    squeezed = _squeeze(reference)
    return [bool(_squeeze(sentence)) and _squeeze(sentence) in squeezed for sentence in sentences]


def score_pair(
    pair: Pair, methods: Sequence[str], *, sentences: int, language: str = "en"
) -> dict[str, tuple[float, ...]]:
    """Per method: ROUGE-1, ROUGE-2, ROUGE-Lsum F1, sentence precision and recall for one pair."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    reference_sentences = pair.reference.split("\n")
    scores: dict[str, tuple[float, ...]] = {}
    for method in methods:
        if method == LEAD:
            summary = lead(pair.body, language=language, count=sentences)
        else:
            summary = summarize_text(pair.body, language=language, method=method, length=sentences)
        rouge = scorer.score(pair.reference, summary.text)
        hits = sum(reference_labels(summary.sentences, pair.reference))
        precision = hits / len(summary.sentences) if summary.sentences else 0.0
        recall = hits / len(reference_sentences) if reference_sentences else 0.0
        scores[method] = (*(rouge[name].fmeasure for name in ROUGE_TYPES), precision, recall)
    return scores


def _score_star(args: tuple[Pair, Sequence[str], int, str]) -> dict[str, tuple[float, ...]]:
    pair, methods, sentences, language = args
    return score_pair(pair, methods, sentences=sentences, language=language)


def evaluate(
    pairs: Sequence[Pair],
    *,
    methods: Sequence[str] | None = None,
    sentences: int = 3,
    language: str = "en",
    workers: int | None = None,
) -> list[Row]:
    """Mean scores per method (every summariser plus `lead` by default) over `pairs`."""
    methods = list(methods) if methods is not None else [*METHODS, LEAD]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    jobs = [(pair, methods, sentences, language) for pair in pairs]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            chunksize = max(1, len(jobs) // (4 * workers))
            results = list(pool.map(_score_star, jobs, chunksize=chunksize))
    else:
        results = [_score_star(job) for job in jobs]
    rows = []
    for method in methods:
        columns = zip(*(result[method] for result in results), strict=True)
        rouge1, rouge2, rouge_lsum, precision, recall = (sum(c) / len(results) for c in columns)
        rows.append(
            Row(method, rouge1, rouge2, rouge_lsum, precision, recall, docs=len(results),
                default=method == DEFAULT_METHOD)
        )  # fmt: skip
    return rows
