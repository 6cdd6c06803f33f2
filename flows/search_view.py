"""How `newsflow search` shows its results: a line per story, its documents, or JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterator

from rich.markup import escape

from tasks.search import Result


def story_lines(results: list[Result], *, documents: bool = False) -> Iterator[str]:
    """Rich markup lines: one per story (title, outlets, languages, documents), and with
    `documents` one more per matching document (id, title, language, outlet, path or URL)."""
    for result in results:
        story = f"story {result.story_id}" if result.story_id is not None else "no story"
        count = len(result.documents)
        yield (
            f"[bold]{escape(result.title or '(untitled)')}[/bold] [dim]({story})[/dim]"
            f" · {escape(', '.join(result.outlets) or 'unknown outlet')}"
            f" · {', '.join(result.languages) or '?'}"
            f" · {count} document{'s' if count != 1 else ''} · score {result.score:.2f}"
        )
        if not documents:
            continue
        for hit in result.documents:
            where = hit.url or hit.path or ""
            copy = f" [dim](copy of {hit.duplicate_of})[/dim]" if hit.duplicate_of else ""
            yield (
                f"    {hit.id} {escape(hit.title or '(untitled)')} [dim]({hit.language or '?'})"
                f"[/dim] {escape(hit.outlet or '')} {escape(where)}{copy}"
            )


def json_lines(results: list[Result]) -> Iterator[str]:
    """One JSON object per result (story), as `--json` prints them."""
    for result in results:
        yield json.dumps(result.as_json(), ensure_ascii=False)
