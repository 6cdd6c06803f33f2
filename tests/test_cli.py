"""The `newsflow` command line, driven in-process against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.flows.cli import app

runner = CliRunner()


@pytest.fixture
def ran(prefect_harness, seeds_copy: Path, db_path: Path) -> Path:
    result = runner.invoke(app, ["run", "--seeds", str(seeds_copy), "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    return db_path


def test_run_prints_a_digest_and_where_the_database_is(
    prefect_harness, seeds_copy: Path, db_path: Path
):
    result = runner.invoke(app, ["run", "--seeds", str(seeds_copy), "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert "documents new 5" in result.output
    assert "Kambodscha und Japan loben Fortschritt" in result.output
    assert str(db_path) in result.output


def test_run_guesses_its_size_from_the_files_the_database_has_not_seen(
    prefect_harness, seeds_copy: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Before importing Prefect, `run` asks for the worker pool's early start with the number of
    files new to the database: all five seeds the first time, none once they are stored."""
    from newsflow.flows import scaleout

    asked: list[int] = []
    monkeypatch.setattr(
        scaleout, "start_early", lambda items, settings=None: asked.append(items) or False
    )
    for _ in range(2):
        result = runner.invoke(app, ["run", "--seeds", str(seeds_copy), "--db", str(db_path)])
        assert result.exit_code == 0, result.output
    assert asked == [5, 0]


def test_run_on_a_file_that_is_not_a_database_fails_with_one_line(
    prefect_harness, seeds_copy: Path, tmp_path: Path
):
    """A broken file is refused before the run starts (exit 2, like every command given a bad
    --db; tests/test_cli_bad_db.py has the rest), not with a traceback from the size guess."""
    broken = tmp_path / "broken.db"
    broken.write_text("not SQLite at all, only text that is long enough to be read " * 4)
    result = runner.invoke(app, ["run", "--seeds", str(seeds_copy), "--db", str(broken)])
    assert result.exit_code == 2
    assert f"{broken}: is not a SQLite database" in result.output


def test_search_finds_the_japan_articles(ran: Path):
    result = runner.invoke(app, ["search", "Japan", "--json", "--db", str(ran)])
    assert result.exit_code == 0, result.output
    # Four seeds are about Cambodia–Japan ties (000 in German, 001, 002, 003); 004 is about the US.
    found = [json.loads(line) for line in result.output.splitlines()]
    titles = " ".join(title or "" for story in found for title in story["titles"])
    assert len([i for story in found for i in story["document_ids"]]) == 4
    assert "Kambodscha und Japan" in titles and "Cambodia, Japan Vow" in titles
    found_ids = []
    for query in ("meetings", "meeting"):  # inflections find the same seeds
        same = runner.invoke(app, ["search", query, "--json", "--db", str(ran)])
        lines = same.output.splitlines()
        found_ids.append(sorted(i for line in lines for i in json.loads(line)["document_ids"]))
    assert found_ids[0] == found_ids[1] and len(found_ids[0]) == 4
    german = runner.invoke(app, ["search", "Cambodia", "--json", "--db", str(ran)])
    assert '"de"' in german.output  # the German seed, which says "Kambodscha"


def test_search_without_match_exits_1_and_bad_query_exits_2(ran: Path):
    assert runner.invoke(app, ["search", "zzzznotthere", "--db", str(ran)]).exit_code == 1
    result = runner.invoke(app, ["search", "Japan AND (", "--db", str(ran)])
    assert result.exit_code == 2
    assert "cannot search" in result.output
    assert "Traceback" not in result.output


def test_digest_and_runs(ran: Path):
    digest = runner.invoke(app, ["digest", "--db", str(ran)])
    assert digest.exit_code == 0 and "Cambodia, Japan Vow" in digest.output
    history = runner.invoke(app, ["runs", "--db", str(ran)], terminal_width=200)
    assert history.exit_code == 0 and "completed" in history.output
    assert "CPU s" in history.output


def test_summarize_reads_stdin_and_prints_sentences_in_order():
    text = (
        "Cambodia and Japan agreed to expand trade. The talks took place in Tokyo. "
        "Officials praised the outcome. Japan will fund a new port. Cambodia thanked Japan."
    )
    result = runner.invoke(
        app, ["summarize", "-", "--language", "en", "--sentences", "100"], input=text
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Cambodia and Japan agreed to expand trade.",
        "The talks took place in Tokyo.",
        "Officials praised the outcome.",
        "Japan will fund a new port.",
        "Cambodia thanked Japan.",
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        ["run", "--method", "nope"],
        ["run", "--sentences", "0"],
        ["run", "--seeds", "/nonexistent/folder"],
        ["summarize", "/nonexistent/file.txt"],
    ],
)
def test_bad_arguments_give_one_line_errors_and_exit_2(arguments: list[str], tmp_path: Path):
    result = runner.invoke(app, [*arguments, "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "error:" in result.output.lower()
    assert "Traceback" not in result.output
