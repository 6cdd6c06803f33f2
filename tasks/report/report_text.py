"""The digest as Markdown (terminal, Prefect artifact) and JSON; untrusted text is escaped.

The Markdown comes from tasks/report/templates/digest.md.j2, with `md` as the escape of every value.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

from newsflow.tasks.report.entries import safe_link
from newsflow.tasks.report.model import Digest


def to_json(digest: Digest) -> str:
    """The digest as JSON (every field, plus each entry's outlets)."""
    data = asdict(digest)
    for entry, raw in zip(digest.entries, data["entries"], strict=True):
        raw["outlets"] = entry.outlets
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# Only what can start markup or raw HTML; parentheses and dots stay readable in a terminal.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|])")


def md(text: object) -> str:
    """Escape Markdown and HTML syntax: feed titles are untrusted and must print as text."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_code(text: str) -> str:
    """A code span: literal text, so no backticks or line breaks inside."""
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


def md_link(label: str, url: str | None) -> str:
    """[label](url) for http(s) URLs (encoded so they cannot break out), else the escaped label."""
    link = safe_link(url)
    if not link:
        return md(label)
    return f"[{md(label)}]({quote(link, safe=':/?#@!$&*+,;=%~-._')})"


def to_markdown(digest: Digest, *, template: Path | None = None) -> str:
    """The digest as Markdown: entries with cited sentences, then counts, duplicates, rejects."""
    # Imported here: the templates' environment uses this module's escaping.
    from newsflow.tasks.report.report_templates import render

    return render(digest, output_format="md", template=template)
