"""The docs are tested: every command and option is documented, every table too, links resolve."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import typer

from newsflow.db import open_db
from newsflow.flows.cli import app

ROOT = Path(__file__).resolve().parent.parent
README_PATH = ROOT / "README.md"
README = README_PATH.read_text(encoding="utf-8")
PAGES = [README_PATH, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
ROOT_COMMAND: Any = typer.main.get_command(app)


def _leaves(group: Any, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """Every runnable command under a group, a group's subcommands included (feeds, server)."""
    found = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):  # a command group: its subcommands are the commands
            found += _leaves(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


COMMANDS = dict(_leaves(ROOT_COMMAND, ()))
NAMES = [" ".join(words) for words in COMMANDS]


def _row(name: str) -> str:
    """The README's command-table line for `newsflow NAME` (the first cell names it)."""
    pattern = re.compile(rf"^\| `newsflow {re.escape(name)}(?: [^`]*)?` \|", re.MULTILINE)
    match = pattern.search(README)
    return README[match.start() : README.index("\n", match.start())] if match else ""


def _linked_texts(row: str) -> list[str]:
    """What a README line links to: the section of each `page.md#anchor`, or the whole page."""
    texts = []
    for target in re.findall(r"\]\(([^)\s]+\.md(?:#[^)\s]*)?)\)", row):
        path, _, fragment = target.partition("#")
        page = (ROOT / path).resolve()
        if page.is_file():
            text = page.read_text(encoding="utf-8")
            texts.append(section(text, fragment) if fragment else text)
    return texts


def section(text: str, fragment: str) -> str:
    """The part of a page under the heading whose anchor is fragment, up to the next heading."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"#{1,6} ", line) and anchor(line.lstrip("#")) == fragment:
            rest = lines[i + 1 :]
            end = next((j for j, x in enumerate(rest) if re.match(r"#{1,6} ", x)), len(rest))
            return "\n".join(rest[:end])
    return ""


def test_the_contract_commands_exist():
    expected = {"run", "digest", "search", "summarize", "eval", "report", "serve", "runs", "dedup"}
    assert expected <= set(NAMES)
    assert {"feeds list", "feeds add", "server stop"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_help_takes_db_and_has_a_readme_line(name: str):
    command = COMMANDS[tuple(name.split())]
    assert command.help, f"{name} has no help text"
    assert any("--db" in parameter.opts for parameter in command.params), f"{name} lacks --db"
    assert _row(name), f"README's command table has no line for `newsflow {name}`"


@pytest.mark.parametrize("name", NAMES)
def test_every_option_is_in_its_readme_line_or_the_docs_it_links(name: str):
    # Not anywhere in the README: `--name` of `feeds add` would pass for `serve --name`.
    row = _row(name)
    texts = [row, *_linked_texts(row)]
    for parameter in COMMANDS[tuple(name.split())].params:
        spellings = [o for o in (*parameter.opts, *parameter.secondary_opts) if o.startswith("--")]
        if not spellings or getattr(parameter, "hidden", False):
            continue
        assert any(s in text for s in spellings for text in texts), (
            f"`newsflow {name} {spellings[0]}` is neither on its README line nor on the pages "
            "(or #sections) that line links"
        )


def test_quick_start_shows_the_two_commands_first():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick_start and "make test" in quick_start


def test_the_readme_fits_on_a_few_screens():
    assert len(README.splitlines()) <= 250


def test_every_table_is_documented_in_the_schema_page(tmp_path: Path):
    schema = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    db = open_db(tmp_path / "docs.db")
    shadow = ("_", "documents_fts_", "documents_search_")  # FTS5's own tables
    tables = [t for t in db.table_names() if not t.startswith(shadow)]
    for table in tables + db.view_names():
        assert f"`{table}`" in schema, f"docs/schema.md does not document table or view {table}"


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(
        c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN"
    )  # letters, digits, spaces, hyphens and underscores survive
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a Markdown page (fenced code skipped, repeats numbered)."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            slug = anchor(line.lstrip("#"))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_the_anchor_rule_matches_github():
    assert anchor(" Why 2 × is not reached") == "why-2--is-not-reached"
    assert anchor(" `newsflow feeds import FILE.opml`") == "newsflow-feeds-import-fileopml"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path):
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # links in code are not links
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: link to {target} finds no file"
        if fragment and linked.suffix == ".md":
            assert fragment in anchors(linked), f"{page.name}: {target} has no such heading"
