"""How `newsflow search` shows its results: a line per story, its documents, or JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterator

from rich.markup import escape

from newsflow.tasks.search.engine import Hit, Result


def story_lines(results: list[Result], *, documents: bool = False) -> Iterator[str]:
    """Rich markup lines: one per story (title, outlets, the story's languages, documents), and
    with `documents` one more per document (id, title, language, outlet, path or URL): those that
    match, then the story's others."""
    for result in results:
        story = f"story {result.story_id}" if result.story_id is not None else "no story"
        count = len(result.documents)
        more = f" (+{len(result.others)} more in the story)" if result.others else ""
        yield (
            f"[bold]{escape(result.title or '(untitled)')}[/bold] [dim]({story})[/dim]"
            f" · {escape(', '.join(result.outlets) or 'unknown outlet')}"
            f" · {', '.join(result.story_languages) or '?'}"
            f" · {count} document{'s' if count != 1 else ''}{more} · score {result.score:.2f}"
        )
        if not documents:
            continue
        for hit in result.documents:
            yield "    " + _document(hit)
        for hit in result.others:
            yield "    " + _document(hit) + " [dim](same story, no match)[/dim]"


def _document(hit: Hit) -> str:
    where = hit.url or hit.path or ""
    copy = f" [dim](copy of {hit.duplicate_of})[/dim]" if hit.duplicate_of else ""
    return (
        f"{hit.id} {escape(hit.title or '(untitled)')} [dim]({hit.language or '?'})[/dim]"
        f" {escape(hit.outlet or '')} {escape(where)}{copy}"
    )


def json_lines(results: list[Result]) -> Iterator[str]:
    """One JSON object per result (story), as `--json` prints them."""
    for result in results:
        yield json.dumps(result.as_json(), ensure_ascii=False)
