"""Commands that decide again over stored documents and measure the outcome: `dedup`,
`summarize` and `eval`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from newsflow.db import DEFAULT_DB_PATH, check_db, open_existing_db
from newsflow.flows.cli_app import (
    EXIT_FAILED,
    DbOption,
    MethodOption,
    SentencesOption,
    check_length,
    check_method,
    console,
    fail,
)
from newsflow.tasks.summarise import summarize as summarizer


def dedup(
    db: DbOption = DEFAULT_DB_PATH,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.05,
            max=1.0,
            help="Near-duplicate at or above this MinHash Jaccard estimate (kept for"
            " later runs) [default: the stored one, else 0.5].",
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            min=1,
            help="Days around a document's date to compare it with"
            " (kept for later runs) [default: the stored one, else 30].",
        ),
    ] = None,
    restory: Annotated[
        bool,
        typer.Option(
            "--stories",
            help="Decide every story again from the stored features too (new story ids).",
        ),
    ] = False,
) -> None:
    """Decide near-duplicates again from stored signatures (no file read, no feed fetched)."""
    from newsflow.tasks.dedup import neardup, settings, signatures
    from newsflow.tasks.store import run_log
    from newsflow.tasks.stories import linking, story_summary

    database = open_existing_db(db, write=True)
    run_id = run_log.start_run(
        database,
        parameters={"command": "dedup", "threshold": threshold, "window_days": window,
                    "stories": restory},
    )  # fmt: skip
    try:
        result = neardup.deduplicate(
            database, run_id=run_id, threshold=threshold, window_days=window, recompute=True
        )
        if restory:
            linking.forget_stories(database)
        grouped = linking.assign_stories(database, run_id=run_id, dirty=result.touched_stories)
        summaries = story_summary.update_summaries(database, grouped.touched)
    except Exception as error:
        run_log.finish_run(database, run_id, status="failed", error=str(error))
        raise fail(f"dedup failed: {error}", EXIT_FAILED) from None
    counts = result.counts() | grouped.counts() | {"story_summaries": summaries}
    run_log.finish_run(database, run_id, status="completed", counts=counts)
    bands, rows = signatures.lsh_params(result.threshold)
    totals = dict(database.execute(
        "SELECT coalesce(summary_status, ''), count(*) FROM documents"
        " WHERE duplicate_of IS NOT NULL OR summary_status = 'boilerplate' GROUP BY 1"
    ).fetchall())  # fmt: skip
    console.print(
        f"Threshold {result.threshold:g} (MinHash {signatures.NUM_PERM} permutations, LSH {bands}"
        f" bands × {rows} rows), window {settings.load_settings(database).window_days} days:"
        f" {result.checked} documents decided from stored signatures"
        f" ({result.signatures} recomputed from text)."
    )
    console.print(
        f"Duplicates now {totals.get('duplicate', 0)} ({result.duplicates} new,"
        f" {result.released} released); boilerplate-only {totals.get('boilerplate', 0)};"
        f" stories: {grouped.created} new, {grouped.joined} joined, {summaries} summarised."
    )
    console.print(f"Decisions: dedup_decisions rows with run_id {run_id}", highlight=False)


def summarize(
    path: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    language: Annotated[
        str, typer.Option("--language", "-l", help="ISO 639-1 code, or auto.")
    ] = "auto",
    method: MethodOption = summarizer.DEFAULT_METHOD,
    sentences: SentencesOption = str(summarizer.DEFAULT_SENTENCES),
    db: DbOption = DEFAULT_DB_PATH,  # accepted for uniformity; summarising one text stores nothing
) -> None:
    """Summarise one text; prints the chosen sentences, one per line, in document order."""
    from newsflow.tasks.common.textio import decode_bytes
    from newsflow.tasks.ingest.clean import clean_article
    from newsflow.tasks.ingest.language import detect_language

    check_db(db, must_exist=False)
    check_method(method)
    length = summarizer.parse_length(check_length(sentences))
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise fail(f"cannot read {path}: {error.strerror}") from None
    article = clean_article(decode_bytes(data))
    code = detect_language(article.body) if language == "auto" else language
    if not code or not summarizer.is_supported(code):
        raise fail(f"cannot summarise language {code or 'unknown'!r}")
    summary = summarizer.summarize_text(article.body, language=code, method=method, length=length)
    for sentence in summary.sentences:
        typer.echo(sentence)


def evaluate(
    dataset: Annotated[
        Path, typer.Option("--dataset", help="Folder with article/<topic>/ and summary/<topic>/.")
    ],
    sentences: Annotated[
        int, typer.Option("--sentences", "-n", min=1, help="Summary length in sentences.")
    ] = 3,
    split: Annotated[
        str, typer.Option("--split", help="all, or the tune or test half (alternate files).")
    ] = "all",
    methods: Annotated[
        list[str] | None,
        typer.Option("--method", "-m", help="Only these methods (repeatable); 'lead' too."),
    ] = None,
    language: Annotated[
        str, typer.Option("--language", "-l", help="ISO 639-1 code of the dataset.")
    ] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
    db: DbOption = DEFAULT_DB_PATH,  # accepted for uniformity; evaluation stores nothing
) -> None:
    """Score every summariser and the lead baseline against reference summaries (ROUGE F1)."""
    from newsflow.tasks.summarise import evaluate as evaluation

    check_db(db, must_exist=False)
    known = (*summarizer.METHODS, evaluation.LEAD)
    for method in methods or []:
        if method not in known:
            raise fail(f"--method: unknown method {method!r}; choose from {', '.join(known)}")
    if split not in evaluation.SPLITS:
        raise fail(f"--split: choose one of {', '.join(evaluation.SPLITS)}")
    if not summarizer.is_supported(language):
        raise fail(f"--language: cannot summarise language {language!r}")
    try:
        pairs = evaluation.load_pairs(dataset, split=split, language=language)
    except evaluation.DatasetError as error:
        raise fail(f"--dataset: {error}") from None
    with console.status(f"Summarising {len(pairs)} articles with every method…"):
        rows = evaluation.evaluate(
            pairs, methods=methods or None, sentences=sentences, language=language
        )
    rows.sort(key=lambda row: row.rouge1, reverse=True)
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    title = f"{dataset} · split {split} · {sentences} sentences · F1"
    table = Table("method", "ROUGE-1", "ROUGE-2", "ROUGE-Lsum", "sent. P", "sent. R", "docs",
                  title=escape(title))  # fmt: skip
    for row in rows:
        name = f"{row.method} (default)" if row.default else row.method
        scores = (row.rouge1, row.rouge2, row.rougeLsum)
        table.add_row(name, *(f"{value:.4f}" for value in scores), f"{row.sentence_precision:.3f}",
                      f"{row.sentence_recall:.3f}", str(row.docs))  # fmt: skip
    console.print(table)
