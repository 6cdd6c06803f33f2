"""Article text from HTML pages with trafilatura, as the feed threads call it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from newsflow.tasks.ingest.extract import extract_html
from tests.http_server import article_page

ROOT = Path(__file__).resolve().parent.parent


def test_the_main_text_without_navigation_or_footer():
    paragraphs = [
        "The harbour authority said on Monday it would cut 2,000 jobs over three years.",
        "Unions called the plan reckless and said they would ballot members on a strike.",
        "The authority said falling container traffic left it no choice but to shrink.",
    ]
    found = extract_html(
        article_page("Port to cut 2,000 jobs", paragraphs), url="http://127.0.0.1/p"
    )
    assert found is not None
    assert found.title == "Port to cut 2,000 jobs"
    assert "Unions called the plan reckless" in found.body
    assert "Home" not in found.body and "All rights reserved" not in found.body


def test_threads_extracting_at_once_in_a_fresh_interpreter_all_succeed(corpus, tmp_path):
    # These two BBC pages send htmldate to dateparser, which it imports lazily. Feed threads
    # reaching that first import together made CPython 3.11 report a deadlock in dateparser's
    # circular modules (CI: 2 of 350 pages failed). Without the fix this script failed in 6 of
    # 8 tries. A fresh interpreter each time, as the race is in the first import only.
    for number in ("027", "034"):
        lines = (corpus / f"bbc-news-summary/article/business/{number}.txt").read_text("utf-8")
        title, *paragraphs = [line.strip() for line in lines.splitlines() if line.strip()]
        (tmp_path / f"{number}.html").write_text(article_page(title, paragraphs), encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import pathlib, sys, threading
        sys.setswitchinterval(1e-6)
        import trafilatura  # loaded, as after a run's first page; dateparser is not yet
        from newsflow.tasks.ingest.extract import extract_html
        pages = [p.read_text("utf-8") for p in sorted(pathlib.Path({str(tmp_path)!r}).glob("*"))]
        barrier, errors = threading.Barrier(8), []
        def work(page):
            barrier.wait()
            try:
                extract_html(page, url="http://127.0.0.1/article")
            except Exception as error:
                errors.append(repr(error))
        threads = [threading.Thread(target=work, args=(page,)) for page in pages * 4]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(errors)
        """
    )
    for _ in range(4):
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "[]"


def test_a_wire_story_carried_by_many_outlets_is_extracted_every_time():
    # trafilatura's `deduplicate` remembered paragraphs across pages for the whole process, so
    # from the fourth copy on the text vanished: data lost before newsflow's dedup could see it.
    paragraphs = [
        f"Paragraph {n}: the ministers agreed to widen their cooperation on trade and training."
        for n in range(6)
    ]
    bodies = [
        extract_html(
            article_page("Ministers agree wider ties", paragraphs), url=f"http://127.0.0.1/{n}"
        )
        for n in range(6)
    ]
    assert all(found is not None and "Paragraph 5" in found.body for found in bodies)
