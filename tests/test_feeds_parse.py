"""Feed parsing: formats, encodings, identity, clean text, dates; and the real fixture corpus."""

from __future__ import annotations

import codecs
import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsflow.tasks.feeds.entry_dates import parse_date
from newsflow.tasks.feeds.entry_text import clean_text, fix_mojibake
from newsflow.tasks.feeds.feed_list import FeedListError, load_feed_list
from newsflow.tasks.feeds.items import decode_page, full_text_from_page
from newsflow.tasks.feeds.parsing import parse_feed, read_with_feedparser
from newsflow.tasks.feeds.urls import canonical_url

URL = "https://news.example/feeds/world.xml"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
BODY = " ".join(["The ministers met in Phnom Penh on Monday to discuss trade."] * 4)


def rss(items: str, *, encoding: str = "utf-8", channel: str = "") -> bytes:
    head = f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
    text = f"{head}<title>World</title><link>/</link>{channel}{items}</channel></rss>"
    return text.encode(encoding)


def item(
    title: str = "Title",
    *,
    guid: str | None = None,
    link: str | None = None,
    description: str = BODY,
    date: str | None = "Mon, 27 May 2024 10:00:00 GMT",
    extra: str = "",
) -> str:
    parts = [f"<title>{title}</title>", f"<description>{description}</description>", extra]
    if guid is not None:  # isPermaLink="false" unless it is a URL: feedparser resolves the others
        permalink = "" if guid.startswith("http") else ' isPermaLink="false"'
        parts.append(f"<guid{permalink}>{guid}</guid>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


# --- identity -------------------------------------------------------------------------------------


def test_identity_is_guid_then_canonical_link_then_a_hash():
    feed = parse_feed(
        rss(
            item("A", guid="https://news.example/a?utm_source=rss#top")
            + item("B", guid="12345", link="/b")
            + item("C", link="/c?id=3&fbclid=xyz")
            + item("D")
        ),
        url=URL,
        now=NOW,
    )
    keys = [(e.identity, e.key) for e in feed.entries]
    assert keys[0] == ("guid", "https://news.example/a")
    assert keys[1] == ("guid", f"guid:{URL}#12345")  # a bare guid is unique within its feed only
    assert keys[2] == ("link", "https://news.example/c?id=3")
    assert keys[3][0] == "hash" and keys[3][1].startswith(f"hash:{URL}#")
    assert feed.entries[1].url == "https://news.example/b"  # relative link resolved


def test_tag_and_urn_guids_are_global_and_the_scope_is_the_feeds_own_url():
    body = rss(item("A", guid="tag:news.example,2024:1") + item("B", guid="7"))
    feed = parse_feed(body, url="https://cdn.example/moved.xml", scope=URL, now=NOW)
    assert [e.key for e in feed.entries] == ["tag:news.example,2024:1", f"guid:{URL}#7"]


def test_a_guid_shared_by_different_entries_falls_back_to_links_and_repeats_are_dropped():
    body = rss(
        item("One", guid="same", link="/1")
        + item("Two", guid="same", link="/2")
        + item("Again", guid="again", link="/x")
        + item("Again", guid="again", link="/x")
    )
    feed = parse_feed(body, url=URL, now=NOW)
    assert [e.key for e in feed.entries] == [
        "https://news.example/1",
        "https://news.example/2",
        f"guid:{URL}#again",
    ]
    assert feed.repeated == 1


def test_the_entry_hash_changes_when_the_feed_edits_an_entry():
    first = parse_feed(rss(item("Old headline", guid="g1")), url=URL, now=NOW).entries[0]
    edited = parse_feed(rss(item("New headline", guid="g1")), url=URL, now=NOW).entries[0]
    same = parse_feed(rss(item("Old headline", guid="g1")), url=URL, now=NOW).entries[0]
    assert first.key == edited.key and first.entry_hash != edited.entry_hash
    assert first.entry_hash == same.entry_hash


# --- text -----------------------------------------------------------------------------------------


def test_titles_and_text_have_entities_cdata_and_html_decoded():
    body = rss(
        item(
            "AT&amp;amp;T &lt;b&gt;wins&lt;/b&gt; &#8211; again",
            guid="1",
            description="&lt;p&gt;First &amp;amp; &lt;em&gt;best&lt;/em&gt;.&lt;/p&gt;"
            "&lt;p&gt;Second.&lt;/p&gt;",
        )
        + item(
            "<![CDATA[Caf\u00e9 <i>society</i> &amp; more]]>",
            guid="2",
            description="<![CDATA[<p>Text with <a href='/x'>a link</a>.</p>]]>",
        )
    )
    first, second = parse_feed(body, url=URL, now=NOW).entries
    assert first.title == "AT&T wins – again"
    assert first.text == "First & best.\n\nSecond."
    assert second.title == "Café society & more"
    assert second.text == "Text with a link."


def test_feed_furniture_lines_are_dropped():
    html = (
        "<p>The real paragraph of news text.</p>"
        "<p>The post Some Headline appeared first on Example News.</p>"
        "<p>Continue reading →</p>"
    )
    assert clean_text(html) == "The real paragraph of news text."


def test_mojibake_is_repaired_and_clean_text_left_alone():
    assert fix_mojibake("FÃ¼r die BÃ¼rger â€“ ein â€žTestâ€œ") == "Für die Bürger – ein „Test“"
    assert fix_mojibake("Für die Bürger") == "Für die Bürger"
    assert fix_mojibake("Ã is a letter") == "Ã is a letter"


@pytest.mark.parametrize(
    ("encoding", "title"),
    [
        ("iso-8859-1", "Zölle für Bürger"),
        ("windows-1251", "Новости дня"),
        ("windows-1252", "“Quoted” — €5"),
        ("utf-16", "Zölle “quoted”"),
    ],
)
def test_legacy_encodings_decode_to_clean_text(encoding, title):
    feed = parse_feed(rss(item(title, guid="1"), encoding=encoding), url=URL, now=NOW)
    assert feed.entries[0].title == title


def test_a_gzipped_body_without_content_encoding_is_read():
    feed = parse_feed(gzip.compress(rss(item("Zipped", guid="1"))), url=URL, now=NOW)
    assert feed.is_feed and feed.entries[0].title == "Zipped"


def test_teasers_are_recognised():
    short = parse_feed(rss(item("T", guid="1", description="A short teaser.")), url=URL, now=NOW)
    cut = parse_feed(rss(item("T", guid="1", description=BODY * 10 + " […]")), url=URL, now=NOW)
    full = parse_feed(rss(item("T", guid="1", description=BODY * 10)), url=URL, now=NOW)
    assert short.entries[0].is_teaser and cut.entries[0].is_teaser
    assert not full.entries[0].is_teaser


def test_content_encoded_wins_over_the_description():
    extra = f"<content:encoded><![CDATA[<p>{BODY * 5}</p>]]></content:encoded>"
    body = rss(item("T", guid="1", description="Teaser.", extra=extra)).replace(
        b'<rss version="2.0">',
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
    )
    entry = parse_feed(body, url=URL, now=NOW).entries[0]
    assert entry.text.startswith("The ministers met") and not entry.is_teaser


# --- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mon, 27 May 2024 10:00:00 GMT", "2024-05-27T10:00:00+00:00"),
        ("2024-05-27T12:00:00+02:00", "2024-05-27T10:00:00+00:00"),
        ("Mo, 25 Jun 2018 10:00:00 +0200", "2018-06-25T08:00:00+00:00"),
        ("Di, 26 Mär 2019 08:00 MESZ", "2019-03-26T06:00:00+00:00"),
        ("Mi, 3. Mai 2023 12:00:00 +0200", "2023-05-03T10:00:00+00:00"),
        ("27. Dezember 2025", "2025-12-27T00:00:00+00:00"),
        ("Sat, Dec 16 2023 02:02:33 PM", "2023-12-16T14:02:33+00:00"),
        ("mer, 16 nov 2022 00:38:15 +0100", "2022-11-15T23:38:15+00:00"),
    ],
)
def test_dates_in_rfc_iso_and_localised_forms(raw, expected):
    assert parse_date(raw).isoformat() == expected


def test_dates_are_stored_in_utc_with_the_original_and_future_ones_are_rejected():
    body = rss(
        item("Past", guid="1", date="Mo, 25 Jun 2018 10:00:00 +0200")
        + item("Future", guid="2", date="Mon, 01 Jan 2035 10:00:00 GMT")
        + item("Garbled", guid="3", date="sometime soon")
    )
    past, future, garbled = parse_feed(body, url=URL, now=NOW).entries
    assert (past.published_at, past.published_raw) == (
        "2018-06-25T08:00:00Z",
        "Mo, 25 Jun 2018 10:00:00 +0200",
    )
    assert future.published_at is None and future.date_problem == "future"
    assert future.published_raw == "Mon, 01 Jan 2035 10:00:00 GMT"
    assert garbled.published_at is None and garbled.date_problem == "unparsed"


# --- formats --------------------------------------------------------------------------------------


def test_atom_with_relative_links_and_xhtml_content():
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de"><title>Atom</title>
      <entry><id>urn:uuid:1</id><title type="html">Zölle &amp;lt;neu&amp;gt;</title>
        <link rel="alternate" href="artikel/1?utm_medium=feed"/>
        <updated>2024-05-27T10:00:00Z</updated>
        <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>{BODY}</p></div></content>
      </entry></feed>""".encode()
    feed = parse_feed(atom, url=URL, now=NOW)
    entry = feed.entries[0]
    assert feed.format == "atom10" and entry.key == "urn:uuid:1"
    assert entry.url == "https://news.example/feeds/artikel/1"
    assert entry.title == "Zölle <neu>" and entry.text == BODY and entry.language == "de"


def test_rdf_rss_1_0():
    rdf = f"""<?xml version="1.0"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
             xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="{URL}"><title>RDF</title><link>https://news.example/</link></channel>
      <item rdf:about="https://news.example/r1"><title>RDF item</title>
        <link>https://news.example/r1</link><description>{BODY}</description>
        <dc:date>2024-05-27T10:00:00+00:00</dc:date></item>
    </rdf:RDF>""".encode()
    feed = parse_feed(rdf, url=URL, now=NOW)
    assert feed.format == "rss10" and feed.entries[0].key == "https://news.example/r1"
    assert feed.entries[0].published_at == "2024-05-27T10:00:00Z"


@pytest.mark.parametrize("version", ["1", "1.1"])
def test_json_feed(version):
    data = {
        "version": f"https://jsonfeed.org/version/{version}",
        "title": "JSON &amp; more",  # plain text by the spec, but escaped titles are common
        "home_page_url": "https://news.example/",
        "items": [
            {
                "id": 1,
                "url": "/j1?utm_campaign=x",
                "title": "One",
                "content_text": BODY,
                "date_published": "2024-05-27T10:00:00+02:00",
            },
            {"id": "2", "title": "Two", "content_html": f"<p>{BODY}</p>", "language": "de"},
            "not an object",
        ],
    }
    feed = parse_feed(
        json.dumps(data).encode(),
        url=URL,
        headers={"Content-Type": "application/feed+json"},
        now=NOW,
    )
    one, two = feed.entries
    assert feed.is_feed and feed.format == "json" + version.replace(".", "")
    assert feed.title == "JSON & more" and feed.bozo
    assert one.key == f"guid:{URL}#1" and one.url == "https://news.example/j1"
    assert one.text == BODY and one.published_at == "2024-05-27T08:00:00Z"
    assert two.text == BODY and two.language == "de"


def test_json_that_is_not_a_feed():
    feed = parse_feed(b'{"hello": "world"}', url=URL, now=NOW)
    assert not feed.is_feed and "jsonfeed.org" in feed.problem


def test_an_html_page_is_not_a_feed():
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    feed = parse_feed(page, url=URL, headers={"Content-Type": "text/html"}, now=NOW)
    assert not feed.is_feed and feed.problem.startswith("not a feed (text/html)")


def test_malformed_xml_is_bozo_but_still_yields_entries():
    body = rss(item("Good", guid="1") + item("Bad & broken", guid="2"))
    feed = parse_feed(body, url=URL, now=NOW)
    assert feed.is_feed and feed.bozo and feed.bozo_error
    assert [e.title for e in feed.entries] == ["Good", "Bad & broken"]


# --- the feed list --------------------------------------------------------------------------------


def test_feed_list_toml(tmp_path: Path):
    path = tmp_path / "feeds.toml"
    path.write_text(
        '[[feeds]]\nname = "A"\nurl = "https://a.example/rss"\nlanguage = "de-DE"\n'
        'tags = ["x"]\n\n[[feeds]]\nurl = "https://b.example/atom"\nenabled = false\n'
        '\n[[feeds]]\nurl = "https://a.example/rss"\n',
        encoding="utf-8",
    )
    first, second = load_feed_list(path)
    assert (first.name, first.language, first.tags, first.enabled) == ("A", "de", ("x",), True)
    assert second.enabled is False and second.name is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[feeds]]\nurl = "ftp://x/"\n', "feed #1: 'url' must be an http"),
        ('[[feeds]]\nurl = "https://x/"\nenabled = "yes"\n', "'enabled' must be true or false"),
        ('[[feeds]]\nurl = "https://x/"\nlanguage = "English"\n', "'language' must be a code"),
        ('[[feeds]]\nurl = "https://x/"\ncolour = "red"\n', "unknown key(s) colour"),
        ("[[feeds]\n", "not valid TOML"),
    ],
)
def test_feed_list_errors_name_the_file_and_entry(tmp_path: Path, text, message):
    path = tmp_path / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FeedListError, match=re.escape(message)):
        load_feed_list(path)


def test_feed_list_as_plain_url_lines(tmp_path: Path):
    path = tmp_path / "feeds.txt"
    path.write_text(
        "# my feeds\nhttps://a.example/rss\n\nhttps://b.example/atom\n", encoding="utf-8"
    )
    assert [s.url for s in load_feed_list(path)] == [
        "https://a.example/rss",
        "https://b.example/atom",
    ]
    assert load_feed_list(tmp_path / "absent.toml") == []


# --- full text ------------------------------------------------------------------------------------


def test_full_text_from_an_article_page_replaces_a_teaser():
    entry = parse_feed(
        rss(item("Trade talks", guid="1", description="Teaser.")), url=URL, now=NOW
    ).entries[0]
    paragraphs = "".join(f"<p>{BODY} Paragraph {n}.</p>" for n in range(5))
    page = (
        '<html><head><meta charset="windows-1252"><link rel="canonical" '
        'href="https://news.example/trade?utm_source=x"></head><body><nav>Home | World</nav>'
        f"<article><h1>Trade talks</h1>{paragraphs}<p>Zölle – “quoted”.</p></article>"
        "<footer>All rights reserved.</footer></body></html>"
    ).encode("cp1252")
    found = full_text_from_page(entry, page, url="https://news.example/trade", headers={})
    assert found.text and found.text.startswith("The ministers met") and found.problem is None
    assert "Zölle – “quoted”." in found.text and "Home | World" not in found.text
    assert found.url == "https://news.example/trade"


def test_full_text_failure_says_why():
    entry = parse_feed(rss(item("T", guid="1")), url=URL, now=NOW).entries[0]
    assert (
        full_text_from_page(
            entry, b"%PDF", url=URL, headers={"content-type": "application/pdf"}
        ).problem
        == "the page is application/pdf, not HTML"
    )
    assert (
        full_text_from_page(entry, b"<html><body></body></html>", url=URL, headers={}).text is None
    )


def test_decode_page_prefers_http_then_meta_charset():
    page = '<meta charset="iso-8859-1"><p>Grüße</p>'.encode("latin-1")
    assert "Grüße" in decode_page(page, {})
    assert "Grüße" in decode_page(
        "<p>Grüße</p>".encode("cp1252"), {"content-type": "text/html; charset=windows-1252"}
    )


# --- the shared corpus ----------------------------------------------------------------------------

# feedparser's own oracle expressions assume older chardet guesses; these are the known differences.
ORACLE_DEVIATIONS = {
    "encoding__bozo_linenoise.xml": "bozo",  # chardet 7 guesses iso8859-15, the oracle cp1252
    "illformed__chardet__shiftjis.xml": "bozo and encoding.lower() in ('shift_jis', 'cp932')",
    "illformed__chardet__windows1255.xml": "bozo and encoding.lower() == 'windows-1255'",
}
SUSPICIOUS = re.compile(r"<[a-zA-Z/][^>]*>|&(?:amp|lt|gt|quot|#\d+);|Ã[\u0080-\u00bf]|â€")


def _corpus_files(corpus: Path, pattern: str) -> list[Path]:
    files = sorted(corpus.glob(pattern))
    assert files, f"no fixtures match {pattern}"
    return files


def _decode_for_comment(data: bytes) -> str:
    for codec in ("utf-8", "utf-16", "utf-32", "utf-16-be", "utf-32-be", "latin-1"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if "Expect" in text:
            return text
    return data.decode("latin-1")


def test_feedparser_fixtures_meet_their_oracle(corpus: Path):
    checked = 0
    for path in _corpus_files(corpus, "feeds/feedparser/*.xml"):
        data = path.read_bytes()
        comment = _decode_for_comment(data)
        expect = ORACLE_DEVIATIONS.get(path.name) or re.search(r"Expect:\s*(.+)", comment).group(1)
        headers = {"content-type": "application/xml"}
        for header in re.findall(r"Header:\s*(.+)", comment):
            name, value = header.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        parsed = read_with_feedparser(data, url=f"http://127.0.0.1/{path.name}", headers=headers)
        assert eval(expect, {}, dict(parsed)), f"{path.name}: {expect}"  # the upstream oracle
        ours = parse_feed(data, url=f"http://127.0.0.1/{path.name}", headers=headers, now=NOW)
        assert len({e.key for e in ours.entries}) == len(ours.entries)
        checked += 1
    assert checked >= 38


def test_feedparser_json_fixture(corpus: Path):
    feed = parse_feed(
        (corpus / "feeds/feedparser/json__example.json").read_bytes(), url=URL, now=NOW
    )
    assert not feed.bozo and feed.title == "My Example Feed" and len(feed.entries) == 2


@pytest.mark.parametrize(
    ("feed_file", "expected_file"),
    [
        ("davidbau.xml", "davidbau.json"),
        ("stackoverflow.xml", "stackoverflow.json"),
        ("utf16_encoded.xml", "utf16_encoded.json"),
        ("malformed_rss_namespaced.xml", "malformed_rss_namespaced.json"),
        ("json_feed_sample.json", "json_feed_sample.expected.json"),
    ],
)
def test_fastfeedparser_fixtures_match_their_expected_output(
    corpus: Path, feed_file, expected_file
):
    folder = corpus / "feeds/fastfeedparser"
    expected = json.loads((folder / expected_file).read_text(encoding="utf-8"))
    feed = parse_feed(
        (folder / feed_file).read_bytes(), url=f"http://127.0.0.1/{feed_file}", now=NOW
    )
    assert len(feed.entries) == len(expected["entries"])
    for ours, theirs in zip(feed.entries, expected["entries"], strict=True):
        assert ours.title == theirs["title"]
        assert ours.url == canonical_url(theirs["link"])
        published = datetime.fromisoformat(theirs["published"]).astimezone(UTC)
        assert ours.published_at == published.isoformat().replace("+00:00", "Z")
        assert not SUSPICIOUS.search(ours.title or "") and not SUSPICIOUS.search(ours.text)


def test_every_real_fixture_parses_to_clean_entries(corpus: Path):
    files = [
        p
        for p in _corpus_files(corpus, "feeds/*/*")
        if not p.name.endswith(".json")
        or p.parent.name != "fastfeedparser"
        or p.name == "json_feed_sample.json"
    ]
    entries = feeds_ok = 0
    for path in files:
        feed = parse_feed(path.read_bytes(), url=f"http://127.0.0.1/{path.name}", now=NOW)
        if path.name == "notafeed.html" or path.name == "illformed__rss_empty_document.xml":
            assert not feed.is_feed, path.name
            continue
        assert feed.is_feed, f"{path.name}: {feed.problem}"
        feeds_ok += 1
        for entry in feed.entries:
            entries += 1
            # Titles are plain text; the one fixture whose title *is* angle brackets is allowed.
            if entry.title and path.name != "title-with-angle-brackets.xml":
                assert not SUSPICIOUS.search(entry.title), (path.name, entry.title)
            if path.name != "encoding__bozo_linenoise.xml":  # "unguessable characters" by design
                assert not re.search(r"Ã[\u0080-\u00bf]|â€", entry.text), (path.name, entry.text)
            assert entry.key and entry.entry_hash
    assert feeds_ok >= 75 and entries >= 250


def test_windows_1251_and_its_gzipped_twin_give_the_same_entries(corpus: Path):
    folder = corpus / "feeds/node-feedparser"
    plain = parse_feed((folder / "iconv.xml").read_bytes(), url=URL, now=NOW)
    zipped = parse_feed((folder / "compressed.xml").read_bytes(), url=URL, now=NOW)
    assert len(plain.entries) == 10
    assert [e.title for e in plain.entries] == [e.title for e in zipped.entries]
    assert plain.entries[0].title == "В Бузулуке главные стройплощадки – детсад и Ледовый дворец"


def test_iso_8859_1_german_feeds(corpus: Path):
    for name in ("rss_1.0_iso8859.xml", "xml_iso8859.xml"):
        feed = parse_feed((corpus / "feeds/feed-rs" / name).read_bytes(), url=URL, now=NOW)
        assert (
            feed.entries[0].title == "Digitalministerium: Neue Glasfaserförderung mit Schnellkasse"
        )
        assert "Förderung für den Ausbau" in feed.entries[0].text


def test_utf16_with_bom_is_read(corpus: Path):
    data = (corpus / "feeds/feedparser/encoding__utf-16le-bom.xml").read_bytes()
    assert data.startswith(codecs.BOM_UTF16_LE)
    assert parse_feed(data, url=URL, now=NOW).is_feed
