"""The digest as one self-contained HTML page: escaped, phone-friendly, with an inline SVG chart.

Rendered from tasks/report/templates/ (digest.html.j2 in page.html.j2) by `report_templates`:
every string from the database is escaped by the environment, whatever the template (feed titles
and bodies are untrusted); links are only ever http(s); a Content-Security-Policy forbids scripts
and remote loads outright, so a missed escape still could not run code.
"""

from __future__ import annotations

from pathlib import Path

from newsflow.tasks.report.model import Digest
from newsflow.tasks.report.report_templates import CSP, render

__all__ = ["CSP", "to_html"]


def to_html(digest: Digest, *, template: Path | None = None) -> str:
    """The whole page as one string: no scripts, no external resources."""
    return render(digest, output_format="html", template=template)
