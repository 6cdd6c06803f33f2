"""Local files become items or rejects: encodings, formats, and every file accounted for."""

from __future__ import annotations

import codecs
import json
import time
from pathlib import Path

import pytest

from newsflow.tasks.ingest.loader import content_hash, load_file
from newsflow.tasks.ingest.scan import count_article_files, scan_folder

BODY = (
    "The ministers met in Phnom Penh on Monday to discuss trade. They agreed to meet again "
    "next year. Both sides praised the progress made so far."
)


def load_all(root: Path):
    entries, rejects = scan_folder(root)
    items = []
    for entry in entries:
        found, refused = load_file(entry)
        items += found
        rejects += refused
    return items, rejects


def test_utf8_with_and_without_bom_and_utf16_decode_to_the_same_text(tmp_path: Path):
    text = "Zölle und Märkte\n\n" + BODY + " Der Außenminister äußerte sich."
    (tmp_path / "a.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "b.txt").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    (tmp_path / "c.txt").write_bytes(text.encode("utf-16"))  # with BOM
    items, rejects = load_all(tmp_path)
    assert rejects == []
    assert len({item.content_hash for item in items}) == 1
    assert all(item.title == "Zölle und Märkte" for item in items)


def test_latin1_text_is_text_not_garbage(tmp_path: Path):
    text = (
        "Der Außenminister äußerte sich zur Lage in Kambodscha. "
        "Die Gespräche über Zölle dauerten an."
    )
    (tmp_path / "latin1.txt").write_bytes(text.encode("latin-1"))
    (tmp_path / "cp1252.txt").write_bytes(("“Quoted” — " + BODY + " Cost: €5.").encode("cp1252"))
    items, rejects = load_all(tmp_path)
    assert rejects == []
    bodies = {item.path: item.body for item in items}
    assert bodies["latin1.txt"] == text
    assert bodies["cp1252.txt"].startswith("“Quoted” — ") and "€5" in bodies["cp1252.txt"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("nul.txt", b"abc\x00def" * 100, "binary"),
        ("short.txt", b"Hi.", "no_text"),
        ("only-boilerplate.txt", b"Comments are closed.\nRelated News\nAdvertisement\n", "no_text"),
        ("image.png", b"\x89PNG\r\n", "unsupported_type"),
    ],
)
def test_bad_files_become_rejects_with_a_reason(
    tmp_path: Path, name: str, data: bytes, reason: str
):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    items, rejects = load_all(tmp_path)
    assert [item.path for item in items] == ["good.txt"]
    assert [(r.location, r.reason) for r in rejects] == [(name, reason)]


def test_too_large_is_refused_from_its_size(tmp_path: Path):
    (tmp_path / "big.txt").write_bytes(b"word " * 300_000)
    entries, _ = scan_folder(tmp_path)
    items, rejects = load_file(entries[0], max_bytes=1_000_000)
    assert items == [] and rejects[0].reason == "too_large"


def test_symlink_leaving_the_folder_is_not_followed(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text(BODY, encoding="utf-8")
    root = tmp_path / "seeds"
    root.mkdir()
    (root / "link.txt").symlink_to(outside)
    (root / "linkdir").symlink_to(tmp_path)
    items, rejects = load_all(root)
    assert items == []
    assert {(r.location, r.reason) for r in rejects} == {
        ("link.txt", "symlink_outside"),
        ("linkdir", "symlink_outside"),
    }


def test_json_and_jsonl_records_become_items(tmp_path: Path):
    records = [
        {
            "title": "First story",
            "url": "https://example.org/a?utm_source=x",
            "text": BODY,
            "published": "2025-12-27",
            "source": "Example Times",
        },
        {"title": "Second story", "content": "<p>" + BODY.replace("Monday", "Tuesday") + "</p>"},
        {"title": "No text"},
    ]
    (tmp_path / "items.json").write_text(json.dumps(records), encoding="utf-8")
    (tmp_path / "items.jsonl").write_text(
        json.dumps(records[0] | {"url": "https://example.org/b"}) + "\n{broken\n", encoding="utf-8"
    )
    items, rejects = load_all(tmp_path)
    by_key = {item.key: item for item in items}
    assert by_key["https://example.org/a?utm_source=x"].source == "Example Times"
    assert by_key["https://example.org/a?utm_source=x"].published_at == "2025-12-27T00:00:00Z"
    assert by_key["file:items.json#1"].body.startswith("The ministers met in Phnom Penh on Tuesday")
    assert "https://example.org/b" in by_key
    # A record with only a headline is a headline-only document, its body the headline.
    assert by_key["file:items.json#2"].headline_only
    assert by_key["file:items.json#2"].body == "No text"
    assert sorted((r.location, r.reason) for r in rejects) == [("items.jsonl#1", "bad_json")]


def test_html_main_text_is_extracted(tmp_path: Path):
    paragraphs = "".join(
        f"<p>{BODY} Paragraph {i} adds detail about the talks.</p>" for i in range(4)
    )
    page = (
        "<html><head><title>Talks &amp; trade</title><script>var x = 1;</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>Talks &amp; trade</h1>{paragraphs}</article>"
        "<footer>Copyright 2025 Example</footer></body></html>"
    )
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    items, rejects = load_all(tmp_path)
    assert rejects == []
    (item,) = items
    assert item.title == "Talks & trade"
    assert "var x" not in item.body and "Home" not in item.body
    assert "Paragraph 3 adds detail" in item.body


def test_content_hash_ignores_case_and_spacing():
    assert content_hash("A  b\nC") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b d")


@pytest.mark.parametrize("pattern", ["a < b ", "<script x", "<p>x"])
def test_hostile_markup_in_a_json_record_is_cleaned_in_linear_time(tmp_path: Path, pattern: str):
    record = {"title": "Markup", "text": "<p>" + BODY + "</p>" + pattern * 40_000}
    (tmp_path / "hostile.json").write_text(json.dumps(record), encoding="utf-8")
    started = time.perf_counter()
    items, rejects = load_all(tmp_path)
    assert time.perf_counter() - started < 10  # quadratic cleaning took minutes here
    assert len(items) + len(rejects) == 1
    assert all("<script" not in item.body for item in items)


def test_the_quick_count_finds_what_the_scan_would_consider(tmp_path: Path):
    """The guess `newsflow run` makes before the scan (to start its workers early) counts the
    article files by name: hidden and ignored names and other suffixes are left out, sub-folders
    are counted, and the count stops where the caller stops caring."""
    for name in ("a.txt", "b.HTML", "c.json", "notes.pdf", ".hidden.txt", "README.md"):
        (tmp_path / name).write_text(BODY)
    (tmp_path / "more" / "deeper").mkdir(parents=True)
    (tmp_path / "more" / "d.md").write_text(BODY)
    (tmp_path / "more" / "deeper" / "e.txt").write_text(BODY)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "f.txt").write_text(BODY)
    entries, rejects = scan_folder(tmp_path)
    assert count_article_files(tmp_path, stop_at=100) == len(entries) == 5
    assert [r.reason for r in rejects] == ["unsupported_type"]
    assert count_article_files(tmp_path, stop_at=3) == 3
    assert count_article_files(tmp_path / "missing", stop_at=100) == 0
