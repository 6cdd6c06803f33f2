"""The digest as one self-contained HTML page: escaped, phone-friendly, with an inline SVG chart.

Every string from the database passes through `esc` (feed titles and bodies are untrusted); links
are only ever http(s); a Content-Security-Policy forbids scripts and remote loads outright, so a
missed escape still could not run code.
"""

from __future__ import annotations

from html import escape

from tasks.report import Digest, Entry, Source, safe_link

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
    " base-uri 'none'; form-action 'none'"
)

STYLE = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fff; --muted: #6b6b70; --line: #e3e3e8;
  --accent: #0b63ce; --new: #0a7d38; --upd: #9a5b00; --bar: #4a86d8; --card: #f7f7f9; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #ececf0; --bg: #141416; --muted: #a0a0a8; --line: #2c2c31; --accent: #6aa9ff;
    --new: #47c97a; --upd: #e0a03a; --bar: #6aa9ff; --card: #1c1c20; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.45rem; line-height: 1.25; margin: .5rem 0 .25rem; }
h2 { font-size: 1.15rem; line-height: 1.3; margin: 0 0 .35rem; }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 .6rem; }
.entry { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: .9rem 1rem; margin: 0 0 1rem; }
.entry ul { margin: .3rem 0 .6rem; padding-left: 1.2rem; }
.entry li { margin: .3rem 0; }
cite { color: var(--muted); font-style: normal; font-size: .85rem; white-space: nowrap; }
.badge { display: inline-block; font-size: .7rem; font-weight: 700; letter-spacing: .04em;
  text-transform: uppercase; padding: .1rem .4rem; border-radius: 4px; margin-right: .35rem;
  vertical-align: .15rem; color: #fff; background: var(--new); }
.badge.updated { background: var(--upd); }
.badge.summarised { background: var(--accent); }
.sources { font-size: .9rem; margin: 0; overflow-wrap: anywhere; }
a { color: var(--accent); }
code { font-size: .85rem; overflow-wrap: anywhere; }
section { margin: 1.6rem 0; }
.chart svg { width: 100%; max-width: 26rem; height: auto; display: block; }
.chart text { fill: var(--fg); font: 12px system-ui, sans-serif; }
.chart rect { fill: var(--bar); }
.tables { display: flex; flex-wrap: wrap; gap: 1rem; }
table { border-collapse: collapse; font-size: .9rem; min-width: 12rem; }
th, td { text-align: left; padding: .25rem .6rem .25rem 0; border-bottom: 1px solid var(--line); }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: .8rem; margin-top: 2rem; }
"""

CHART_ROWS = 12


def esc(value: object) -> str:
    """HTML-escape any value, quotes included, so it is safe in text and attributes."""
    return escape("" if value is None else str(value), quote=True)


def chart(counts: dict[str, int], *, title: str) -> str:
    """A horizontal bar chart as inline SVG: the top sources, the rest folded into 'others'."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > CHART_ROWS:
        rest = sum(v for _, v in items[CHART_ROWS - 1 :])
        items = items[: CHART_ROWS - 1] + [("others", rest)]
    if not items:
        return ""
    width, label_w, row_h = 360, 150, 22
    bar_w = width - label_w - 40
    top = max(v for _, v in items) or 1
    rows = []
    for index, (label, value) in enumerate(items):
        y = index * row_h
        short = label if len(label) <= 20 else label[:19] + "…"
        length = max(2, round(bar_w * value / top))
        rows.append(
            f'<text x="0" y="{y + 15}"><title>{esc(label)}</title>{esc(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length}" height="14" rx="3"/>'
            f'<text x="{label_w + length + 6}" y="{y + 15}">{value}</text>'
        )
    height = len(items) * row_h + 4
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"'
        f' xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'
    )


def _link(source: Source) -> str:
    link = safe_link(source.link)
    name = esc(source.outlet)
    if link:
        return f'<a href="{esc(link)}" rel="noopener noreferrer nofollow">{name}</a>'
    return f"{name} <code>{esc(source.location)}</code>"


def _entry(entry: Entry) -> str:
    badge = f'<span class="badge {esc(entry.mark)}">{esc(entry.mark)}</span>' if entry.mark else ""
    meta = [f"story of {len(entry.sources)} reports"] if len(entry.sources) > 1 else []
    meta += [", ".join(entry.languages)] if entry.languages else []
    meta += [(entry.published_at or "")[:10]] if entry.published_at else []
    cite = len({source.outlet for source in entry.sources}) > 1
    items = "".join(
        f"<li>{esc(s.text)}" + (f" <cite>— {esc(s.outlet)}</cite>" if cite else "") + "</li>"
        for s in entry.sentences
    )
    body = (
        f"<ul>{items}</ul>"
        if items
        else f'<p class="empty">No summary ({esc((entry.status or "none").replace("_", " "))}).</p>'
    )
    sources = "; ".join(
        _link(s) + (f" (also {esc(', '.join(s.copies))})" if s.copies else "")
        for s in entry.sources
    )
    classes = f"entry {esc(entry.mark)}" if entry.mark else "entry"
    return (
        f'<article class="{classes}"><h2>{badge}{esc(entry.title)}</h2>'
        f'<p class="meta">{esc(" · ".join(meta))}</p>{body}'
        f'<p class="sources">Sources: {sources}</p></article>'
    )


def _table(title: str, counts: dict[str, int]) -> str:
    rows = "".join(f'<tr><td>{esc(k)}</td><td class="n">{v}</td></tr>' for k, v in counts.items())
    return f"<table><thead><tr><th>{esc(title)}</th><th>items</th></tr></thead>{rows}</table>"


def to_html(digest: Digest) -> str:
    """The whole page as one string: no scripts, no external resources."""
    bits = [f"{len(digest.entries)} entries"]
    if digest.previous_digest_at:
        bits.append(f"{digest.new_entries} new since {digest.previous_digest_at[:16]}")
    bits += [f"{len(digest.duplicates)} duplicates", f"{len(digest.rejects)} rejected"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(digest.title)}</title><style>{STYLE}</style></head>",
        "<body><main>",
        f'<header><h1>{esc(digest.title)}</h1><p class="meta">{esc(" · ".join(bits))}</p></header>',
    ]
    parts += [f'<p class="meta">{esc(note)}</p>' for note in digest.notes]
    if digest.by_source:
        parts.append(
            '<section class="chart"><h2>Items per source</h2>'
            f"{chart(digest.by_source, title='Items per source')}</section>"
        )
    if digest.entries:
        parts += [_entry(entry) for entry in digest.entries]
    else:
        parts.append('<p class="empty">Nothing new.</p>')
    if digest.more:
        parts.append(f'<p class="meta">… and {digest.more} more documents.</p>')
    if digest.by_language or digest.by_source:
        parts.append(
            '<section><h2>Counts</h2><div class="tables">'
            f"{_table('language', digest.by_language)}{_table('source', digest.by_source)}"
            "</div></section>"
        )
    if digest.duplicates:
        items = "".join(
            f"<li>{esc(d.title)} <cite>— {esc(d.outlet)}</cite> is a copy of"
            f" {esc(d.canonical_title or f'document {d.canonical_id}')}"
            f" ({esc(d.method)}{f' {d.score:.2f}' if d.score is not None else ''})</li>"
            for d in digest.duplicates
        )
        parts.append(f"<section><h2>Duplicates</h2><ul>{items}</ul></section>")
    if digest.rejects:
        items = "".join(
            f"<li><code>{esc(r.location)}</code> — {esc(r.reason)}"
            f"{': ' + esc(r.detail) if r.detail else ''}</li>"
            for r in digest.rejects
        )
        parts.append(f"<section><h2>Rejected</h2><ul>{items}</ul></section>")
    parts.append(f"<footer>Generated {esc(digest.generated_at)} by newsflow.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
