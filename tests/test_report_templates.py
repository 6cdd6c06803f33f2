"""Digests from templates: the built-in ones render today's bytes; a user's template keeps the
escaping and the Content-Security-Policy whatever it tries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.flows.cli import app
from newsflow.tasks.report import model
from newsflow.tasks.report.report_html import to_html
from newsflow.tasks.report.report_templates import BadTemplate
from newsflow.tasks.report.report_text import to_markdown
from tests.test_report import HOSTILE, Tags, stocked  # noqa: F401  (a fixture)

FIXTURES = Path(__file__).parent / "fixtures" / "report"
runner = CliRunner()


def load_digest(path: Path) -> model.Digest:
    """A Digest back from the JSON `to_json` wrote (tests/fixtures/report/build.py)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = []
    for raw in data.pop("entries"):
        raw.pop("outlets")
        sentences = [model.Sentence(**s) for s in raw.pop("sentences")]
        sources = [model.Source(**s) for s in raw.pop("sources")]
        entries.append(model.Entry(**raw, sentences=sentences, sources=sources))
    duplicates = [model.Duplicate(**d) for d in data.pop("duplicates")]
    rejects = [model.Rejected(**r) for r in data.pop("rejects")]
    return model.Digest(**data, entries=entries, duplicates=duplicates, rejects=rejects)


@pytest.mark.parametrize("name", ["seeds", "seeds_limited", "hostile"])
def test_built_in_templates_render_the_bytes_the_code_made_before(name: str) -> None:
    """The fixtures were rendered by the string-building code the templates replaced."""
    digest = load_digest(FIXTURES / f"{name}.json")
    assert to_markdown(digest) == (FIXTURES / f"{name}.md").read_text(encoding="utf-8")
    assert to_html(digest) == (FIXTURES / f"{name}.html").read_text(encoding="utf-8")


# A user's template doing its worst: escaping off, `safe`, its own head, a script of its own.
HOSTILE_HTML = """<html><head><meta http-equiv="Content-Security-Policy" content="default-src *">
</head><script>fetch('https://example.com')</script>
{% autoescape false %}{% for entry in digest.entries %}<h2>{{ entry.title }}</h2>
<a href="{{ entry.sources[0].link }}">{{ entry.sources[0].outlet }}</a>{% endfor %}
{% endautoescape %}"""


def hostile_digest() -> model.Digest:
    return load_digest(FIXTURES / "hostile.json")


def write(tmp_path: Path, text: str, name: str = "mine.j2") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_html_template_cannot_turn_escaping_off(tmp_path: Path) -> None:
    page = to_html(hostile_digest(), template=write(tmp_path, HOSTILE_HTML))
    assert HOSTILE not in page
    assert "<h2>&lt;script&gt;alert(1)&lt;/script&gt;</h2>" in page
    parser = Tags()
    parser.feed(page)
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    assert "img" not in [tag for tag, _ in parser.tags]


def test_a_user_html_template_keeps_the_projects_csp_first(tmp_path: Path) -> None:
    """The head is the project's: its CSP comes before anything the template writes, and a
    second policy a template adds can only narrow it (browsers enforce every policy)."""
    page = to_html(hostile_digest(), template=write(tmp_path, HOSTILE_HTML))
    parser = Tags()
    parser.feed(page)
    policies = [a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv")]
    assert policies[0] is not None and policies[0].startswith("default-src 'none'")
    assert page.index("Content-Security-Policy") < page.index("<script>")


def test_a_file_named_like_the_page_shell_does_not_replace_it(tmp_path: Path) -> None:
    write(tmp_path, "<title>no policy here</title>", name="page.html.j2")
    page = to_html(hostile_digest(), template=write(tmp_path, "{{ digest.title }}"))
    assert "Content-Security-Policy" in page and "no policy here" not in page


@pytest.mark.parametrize("output_format", ["md", "html"])
def test_the_safe_filter_is_not_there(output_format: str, tmp_path: Path) -> None:
    template = write(tmp_path, "{{ digest.entries[0].title|safe }}")
    with pytest.raises(BadTemplate, match="safe"):
        (to_html if output_format == "html" else to_markdown)(hostile_digest(), template=template)


def test_a_user_markdown_template_escapes_every_value(tmp_path: Path) -> None:
    text = to_markdown(
        hostile_digest(),
        template=write(
            tmp_path,
            "{% autoescape false %}{% for e in digest.entries %}* {{ e.title }} "
            "{{ e.sources[0].outlet|md_link(e.sources[0].link) }}\n{% endfor %}{% endautoescape %}",
        ),
    )
    assert HOSTILE not in text and "\\<script\\>alert(1)\\</script\\>" in text
    assert not re.search(r"(?<!\\)[<>]", text)
    assert "](javascript:" not in text


def test_the_sandbox_refuses_to_reach_python_internals(tmp_path: Path) -> None:
    template = write(tmp_path, "{{ digest.__class__.__init__.__globals__ }}")
    with pytest.raises(BadTemplate):
        to_markdown(hostile_digest(), template=template)


def test_cli_renders_a_user_template_and_refuses_bad_ones(stocked, db_path: Path, tmp_path: Path):  # noqa: F811
    mine = write(tmp_path, "{% for e in digest.entries %}<p>{{ e.title }}</p>{% endfor %}")
    result = runner.invoke(
        app, ["report", "--db", str(db_path), "--format", "html", "--template", str(mine)]
    )
    assert result.exit_code == 0, result.output
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in result.output
    assert "default-src &#x27;none&#x27;" in result.output  # the CSP meta, attribute-escaped
    broken = write(tmp_path, "{% for e in digest.entries %}", name="broken.j2")
    for arguments, message in [
        (["--template", str(broken)], f"{broken}: line 1"),
        (["--template", str(tmp_path / "none.j2")], "is not a file"),
        (["--template", str(mine), "--format", "json"], "--template"),
    ]:
        result = runner.invoke(app, ["report", "--db", str(db_path), *arguments])
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
