"""The digest as Markdown (terminal, Prefect artifact) and JSON; untrusted text is escaped."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from urllib.parse import quote

from tasks.report import Digest, Source, safe_link


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


def _md_source(source: Source) -> str:
    where = md_link(source.outlet, source.link) if source.link else md(source.outlet)
    extra = f" (also {', '.join(md(c) for c in source.copies)})" if source.copies else ""
    location = "" if source.link else f" — {md_code(source.location)}"
    return f"{where}{location}{extra}"


def to_markdown(digest: Digest) -> str:
    """The digest as Markdown: entries with cited sentences, then counts, duplicates, rejects."""
    lines = [f"# {md(digest.title)}", ""]
    counts = digest.counts
    summary_bits = [f"{counts.get('entries', len(digest.entries))} entries"]
    if digest.previous_digest_at is not None:
        summary_bits.append(f"{digest.new_entries} new since {digest.previous_digest_at}")
    summary_bits += [f"{len(digest.duplicates)} duplicates", f"{len(digest.rejects)} rejected"]
    lines += [" · ".join(summary_bits), ""]
    lines += [f"> {md(note)}\n" for note in digest.notes]
    if not digest.entries:
        lines += ["Nothing new.", ""]
    for entry in digest.entries:
        mark = f"**{entry.mark.upper()}** " if entry.mark else ""
        meta = " · ".join(
            x
            for x in (
                f"story of {len(entry.sources)} reports" if len(entry.sources) > 1 else None,
                ", ".join(entry.languages) or None,
                (entry.published_at or "")[:10] or None,
            )
            if x
        )
        lines += [f"## {mark}{md(entry.title)}", ""]
        if meta:
            lines += [f"_{md(meta)}_", ""]
        # Name the outlet per sentence when several outlets stand behind the entry.
        cite = len({source.outlet for source in entry.sources}) > 1
        for sentence in entry.sentences:
            behind = f" — _{md(sentence.outlet)}_" if cite else ""
            lines.append(f"- {md(sentence.text)}{behind}")
        if not entry.sentences:
            lines.append(
                f"- _(no summary: {md((entry.status or 'not summarised').replace('_', ' '))})_"
            )
        lines += ["", "Sources: " + "; ".join(_md_source(s) for s in entry.sources), ""]
    if digest.more:
        lines += [f"… and {digest.more} more documents.", ""]
    if digest.by_language or digest.by_source:
        lines += ["## Counts", "", "| language | documents |", "|---|---|"]
        lines += [f"| {md(k)} | {v} |" for k, v in digest.by_language.items()]
        lines += ["", "| source | documents |", "|---|---|"]
        lines += [f"| {md(k)} | {v} |" for k, v in digest.by_source.items()]
        lines.append("")
    if digest.duplicates:
        lines += ["## Duplicates", ""]
        for dup in digest.duplicates:
            score = f" {dup.score:.2f}" if dup.score is not None else ""
            of = md(dup.canonical_title or f"document {dup.canonical_id}")
            lines.append(
                f"- {md(dup.title)} (_{md(dup.outlet)}_) is a copy of {of}"
                f" — {md(dup.method)}{score}"
            )
        lines.append("")
    if digest.rejects:
        lines += ["## Rejected", ""]
        for reject in digest.rejects:
            detail = f": {md(reject.detail)}" if reject.detail else ""
            lines.append(f"- {md_code(reject.location)} — {md(reject.reason)}{detail}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
