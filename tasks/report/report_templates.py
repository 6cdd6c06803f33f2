"""Digests rendered from Jinja2 templates: the built-in ones in tasks/report/templates/, or a
user's.

Escaping does not rest on the template. Templates run in Jinja's immutable sandbox, and the
environment's `finalize` escapes every value a `{{ … }}` prints (HTML for html, Markdown for md)
unless the project's own code built it as markup (the page, macros' output, `md_code`,
`md_link`); the `safe` filter is gone. So neither `{% autoescape false %}` nor `|safe` lets an
untrusted title through as markup, in a built-in template or a user's.

An HTML template renders the page's body only: the head, with the Content-Security-Policy, is
the project's `page.html.j2`, rendered apart from the user's folder so a file of the same name
there cannot replace it.
"""

from __future__ import annotations

import functools
from html import escape
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from newsflow.tasks.report.entries import safe_link
from newsflow.tasks.report.model import Digest, Entry
from newsflow.tasks.report.report_text import md, md_code, md_link

TEMPLATES = Path(__file__).parent / "templates"
BUILT_IN = {"md": "digest.md.j2", "html": "digest.html.j2"}
PAGE = "page.html.j2"

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
    " base-uri 'none'; form-action 'none'"
)
CHART_ROWS = 12


class BadTemplate(ValueError):
    """A user template that does not parse or fails while rendering."""


class MarkdownText(str):
    """Markdown the project's filters built from escaped parts: printed as it is."""


def html_value(value: object) -> Markup:
    """Every printed value: HTML-escaped, quotes included, unless it is already markup."""
    if isinstance(value, Markup):
        return value
    return Markup(escape("" if value is None else str(value), quote=True))


def md_value(value: object) -> str:
    """Every printed value: Markdown-escaped, unless a project filter built it."""
    if isinstance(value, MarkdownText):
        return value
    return md("" if value is None else value)


def entry_meta(entry: Entry) -> list[str]:
    """An entry's byline parts: how many reports, its languages, its day."""
    meta = [f"story of {len(entry.sources)} reports"] if len(entry.sources) > 1 else []
    meta += [", ".join(entry.languages)] if entry.languages else []
    meta += [(entry.published_at or "")[:10]] if entry.published_at else []
    return meta


def cites(entry: Entry) -> bool:
    """Whether sentences name their outlet: only when several outlets stand behind the entry."""
    return len({source.outlet for source in entry.sources}) > 1


def chart_rows(counts: dict[str, int]) -> dict[str, Any]:
    """Geometry of a horizontal bar chart of the top sources, the rest folded into 'others'."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > CHART_ROWS:
        rest = sum(v for _, v in items[CHART_ROWS - 1 :])
        items = items[: CHART_ROWS - 1] + [("others", rest)]
    width, label_width, row_height = 360, 150, 22
    bar_width = width - label_width - 40
    top = max((v for _, v in items), default=0) or 1
    rows = [
        {
            "label": label,
            "short": label if len(label) <= 20 else label[:19] + "…",
            "value": value,
            "y": index * row_height,
            "length": max(2, round(bar_width * value / top)),
        }
        for index, (label, value) in enumerate(items)
    ]
    return {
        "rows": rows,
        "width": width,
        "height": len(items) * row_height + 4,
        "label_width": label_width,
    }


def _environment(output_format: str, folder: Path) -> ImmutableSandboxedEnvironment:
    """A sandbox whose escaping no template can switch off, with the digest helpers."""
    html = output_format == "html"
    environment = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=html,
        finalize=html_value if html else md_value,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name is an error, not a silent blank
    )
    del environment.filters["safe"]
    environment.globals.update(entry_meta=entry_meta, cites=cites, safe_link=safe_link)
    if html:
        environment.globals["chart_rows"] = chart_rows
    else:
        environment.filters["md_code"] = lambda text: MarkdownText(md_code(str(text)))
        environment.filters["md_link"] = lambda label, url: MarkdownText(md_link(str(label), url))
    return environment


@functools.cache
def _built_in(output_format: str) -> ImmutableSandboxedEnvironment:
    return _environment(output_format, TEMPLATES)


def render(digest: Digest, *, output_format: str, template: Path | None = None) -> str:
    """The digest as Markdown or an HTML page, from the built-in template or from `template`."""
    try:
        if template is None:
            body = (
                _built_in(output_format).get_template(BUILT_IN[output_format]).render(digest=digest)
            )
        else:
            environment = _environment(output_format, template.resolve().parent)
            body = environment.get_template(template.name).render(digest=digest)
    except jinja2.TemplateSyntaxError as error:
        raise BadTemplate(f"{template}: line {error.lineno}: {error.message}") from None
    except jinja2.TemplateError as error:
        raise BadTemplate(f"{template}: {error}") from None
    if output_format == "md":
        return body.rstrip() + "\n"
    page = _built_in("html").get_template(PAGE)
    return page.render(digest=digest, csp=CSP, style=_style(), body=Markup(body)) + "\n"


@functools.cache
def _style() -> Markup:
    """The page's style sheet: the project's own text, inlined (the CSP allows no remote one)."""
    return Markup((TEMPLATES / "page.css").read_text(encoding="utf-8"))
