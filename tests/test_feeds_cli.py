"""`newsflow feeds …` on real files: the list edited in place with its comments, OPML in the shapes
real feed readers export, hostile OPML refused, export → import round trip, and the health that a
real fetch from a loopback server leaves."""

from __future__ import annotations

import email.utils
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
import typer
from typer.testing import CliRunner

from newsflow.db import open_db
from newsflow.flows.cli import app
from newsflow.tasks.feeds.feed_list import FeedSpec, load_feed_list
from newsflow.tasks.store import run_log
from tests.conftest import ROOT, SEEDS
from tests.http_server import Reply, ScriptedServer

README = (ROOT / "README.md").read_text(encoding="utf-8")
FEEDS_DOC = ROOT / "docs" / "feeds.md"
runner = CliRunner()


def feeds(*args: str | Path) -> tuple[int, str]:
    """Run `newsflow feeds ARGS`; its exit code and output (stdout and stderr), on one line each."""
    result = runner.invoke(app, ["feeds", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def listed(tmp_path: Path) -> Path:
    """A copy of the seeds' feed list, with a comment right above one feed and one inside one."""
    path = tmp_path / "feeds.toml"
    text = (SEEDS / "feeds.toml").read_text(encoding="utf-8")
    text = text.replace(
        '[[feeds]]\nname = "NPR News"', '# Public radio, US view.\n[[feeds]]\nname = "NPR News"'
    )
    text = text.replace('tags = ["business"]\n', 'tags = ["business"]  # markets too\n')
    assert "# Public radio" in text and "# markets too" in text
    path.write_text(text, encoding="utf-8")
    return path


def block(text: str, name: str) -> str:
    """The `[[feeds]]` table named `name` in `text`, up to and with the blank line after it."""
    start = text.index(f'[[feeds]]\nname = "{name}"')
    end = text.find("\n\n", start)
    return text[start : end + 2 if end >= 0 else len(text)]


# --- add and remove -------------------------------------------------------------------------------


def test_add_and_remove_keep_every_other_comment_and_line_of_a_seeds_like_list(listed: Path):
    before = listed.read_text(encoding="utf-8")
    code, out = feeds(
        "add", "https://example.org/feed.xml", "--name", 'Example "Daily"', "--language", "de-AT",
        "--tag", "world", "--tag", "economy", "--feeds-file", listed,
    )  # fmt: skip
    assert code == 0, out
    added = listed.read_text(encoding="utf-8")
    assert added == before + (
        '\n[[feeds]]\nname = "Example \\"Daily\\""\nurl = "https://example.org/feed.xml"\n'
        'language = "de"\ntags = ["world", "economy"]\n'
    )
    new = load_feed_list(listed)[-1]
    assert new == FeedSpec(
        url="https://example.org/feed.xml",
        name='Example "Daily"',
        language="de",
        tags=("world", "economy"),
    )

    code, out = feeds("remove", "npr news", "--feeds-file", listed)  # by name, any case
    assert code == 0 and "Removed NPR News" in out
    removed = listed.read_text(encoding="utf-8")
    # The feed goes with the comment right above it; everything else stays byte for byte.
    npr = "# Public radio, US view.\n" + block(added, "NPR News")
    assert removed == added.replace(npr, "")
    code, out = feeds("remove", "https://FEEDS.bbci.co.uk/news/business/rss.xml?utm_source=x",
                      "--feeds-file", listed)  # fmt: skip
    assert code == 0, out  # by URL, compared after normalisation
    final = listed.read_text(encoding="utf-8")
    assert final == removed.replace(block(removed, "BBC News – Business"), "")
    assert final.startswith(before[: before.index("[[feeds]]")])  # the header comment, intact
    assert [spec.name for spec in load_feed_list(listed)] == [
        "BBC News – World",
        "The Guardian – World",
        "tagesschau.de",
        "DER SPIEGEL – Schlagzeilen",
        "Deutsche Welle – Top Stories",
        'Example "Daily"',
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "ftp://example.org/feed"], "'url' must be an http(s) URL, got 'ftp://example.org/feed'"),
        (["add", "https://"], "'url' must be an http(s) URL with a host"),
        (["add", "https://x.example/rss", "--language", "English"], "'language' must be a code"),
        (["add", "HTTPS://feeds.npr.org/1001/rss.xml#top"],
         "is already in the list as https://feeds.npr.org/1001/rss.xml"),
        (["remove", "Nobody"], "no feed with the URL or name 'Nobody'"),
    ],
)  # fmt: skip
def test_bad_add_or_remove_is_a_one_line_error_and_leaves_the_list_alone(
    listed: Path, args: list[str], message: str
):
    before = listed.read_bytes()
    code, out = feeds(*args, "--feeds-file", listed)
    assert code == 2 and message in out, out
    assert out.count("\n") == 1 and "Traceback" not in out
    assert listed.read_bytes() == before


def test_remove_by_a_name_two_feeds_share_asks_for_the_url(tmp_path: Path):
    path = tmp_path / "feeds.toml"
    path.write_text(
        '[[feeds]]\nname = "Same"\nurl = "https://a.example/rss"\n\n'
        '[[feeds]]\nname = "Same"\nurl = "https://b.example/rss"\n',
        encoding="utf-8",
    )
    code, out = feeds("remove", "Same", "--feeds-file", path)
    assert code == 2 and "names 2 feeds" in out and "give the URL" in out
    assert feeds("remove", "https://b.example/rss", "--feeds-file", path)[0] == 0
    assert path.read_text(encoding="utf-8") == (
        '[[feeds]]\nname = "Same"\nurl = "https://a.example/rss"\n\n'
    )


def test_add_creates_a_missing_list_and_edits_a_plain_url_list(tmp_path: Path):
    fresh = tmp_path / "new" / "feeds.toml"
    assert feeds("add", "https://a.example/rss", "--disabled", "--feeds-file", fresh)[0] == 0
    assert load_feed_list(fresh) == [FeedSpec(url="https://a.example/rss", enabled=False)]
    assert fresh.read_text(encoding="utf-8").startswith("# The feed list")

    plain = tmp_path / "feeds.txt"
    plain.write_text("# mine\nhttps://a.example/rss\nhttps://b.example/rss", encoding="utf-8")
    assert feeds("add", "https://c.example/rss", "--feeds-file", plain)[0] == 0
    assert feeds("remove", "https://a.example/rss", "--feeds-file", plain)[0] == 0
    assert plain.read_text(encoding="utf-8") == (
        "# mine\nhttps://b.example/rss\nhttps://c.example/rss\n"
    )
    code, out = feeds("add", "https://d.example/rss", "--tag", "x", "--feeds-file", plain)
    assert code == 2 and "use a .toml feed list" in out


# --- import ---------------------------------------------------------------------------------------

# The shapes of real exports: Feedly (text and title, folders), Inoreader (title-only folders,
# htmlUrl), Miniflux and FreshRSS (lower- or upper-case attribute names, `category`), NewsBlur
# (folders nested two deep, a feed in two folders).
EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions &amp; more</title></head>
  <body>
    <outline text="World" title="World">
      <outline type="rss" text="Le Monde" title="Le Monde"
               xmlUrl="https://www.lemonde.fr/rss/une.xml" htmlUrl="https://www.lemonde.fr"/>
      <outline title="Asia">
        <outline type="rss" title="Khmer Times" xmlurl="https://www.khmertimeskh.com/feed/"/>
        <outline text="Japan Times" XMLURL="https://www.japantimes.co.jp/feed/"/>
      </outline>
    </outline>
    <outline text="Business">
      <outline type="rss" text="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"/>
      <outline type="rss" text="NPR again"
               xmlUrl="https://FEEDS.npr.org/1001/rss.xml?utm_source=feedly"/>
      <outline type="rss" text="https://example.net/atom" xmlUrl="https://example.net/atom"
               category="/Tech/Science,Weekly"/>
    </outline>
    <outline type="rss" text="No address" htmlUrl="https://no-feed.example/"/>
    <outline type="rss" text="Local file" xmlUrl="file:///etc/passwd"/>
    <outline type="rss" text="Bad language" xmlUrl="https://lang.example/rss" language="klingon"/>
    <outline text="Empty folder"/>
  </body>
</opml>
"""


ASIA = ("World", "Asia")  # a folder in a folder: both names


def test_import_reads_real_export_shapes_and_reports_every_skip_and_error_by_line(
    listed: Path, tmp_path: Path
):
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(EXPORT, encoding="utf-8")
    before = load_feed_list(listed)
    comments = [line for line in listed.read_text(encoding="utf-8").splitlines() if "#" in line]

    code, out = feeds("import", opml, "--feeds-file", listed)
    assert code == 0, out
    lines = out.splitlines()
    where = f"{opml}:"
    assert lines == [
        f"{where}14: skipped: https://www.lemonde.fr/rss/une.xml repeats line 6",
        f"{where}15: skipped: https://FEEDS.npr.org/1001/rss.xml?utm_source=feedly is already in"
        " the list as https://feeds.npr.org/1001/rss.xml",
        f"{where}20: error: outline 'No address' has no xmlUrl",
        f"{where}21: error: xmlUrl 'file:///etc/passwd' must be an http(s) URL",
        f"{where}22: error: outline 'Bad language' (https://lang.example/rss): 'language' must be"
        " a code like 'en' or 'de'",
        f"{where}23: skipped: empty folder 'Empty folder'",
        f"Imported {opml} into {listed}: 4 added, 3 skipped, 3 errors",
    ]
    after = load_feed_list(listed)
    assert after[: len(before)] == before
    assert after[len(before) :] == [
        FeedSpec(
            url="https://www.lemonde.fr/rss/une.xml",
            name="Le Monde",
            tags=("World", "Business"),  # in two folders: one feed with both tags
            site="https://www.lemonde.fr",
        ),
        FeedSpec(url="https://www.khmertimeskh.com/feed/", name="Khmer Times", tags=ASIA),
        FeedSpec(url="https://www.japantimes.co.jp/feed/", name="Japan Times", tags=ASIA),
        FeedSpec(url="https://example.net/atom", tags=("Business", "Tech/Science", "Weekly")),
    ]  # fmt: skip
    kept = [line for line in listed.read_text(encoding="utf-8").splitlines() if "#" in line]
    assert kept == comments

    # The same file again adds nothing: every feed is now a duplicate of the list.
    code, out = feeds("import", opml, "--feeds-file", listed)
    assert code == 0 and out.splitlines()[-1].endswith("0 added, 7 skipped, 3 errors")
    assert load_feed_list(listed) == after


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://a.example/rss"/></body></opml>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://a.example/rss"/></body></opml>
"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE opml SYSTEM "http://127.0.0.1:9/opml.dtd">
<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/rss"/></body></opml>
"""
PLAIN_DTD = """<?xml version="1.0"?>
<!DOCTYPE opml>
<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/rss"/></body></opml>
"""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (BILLION_LAUGHS, "declares the entity 'lol'; entity expansion ('billion laughs')"),
        (EXTERNAL_ENTITY, "declares the external entity 'secret' (file:///etc/passwd)"),
        (EXTERNAL_DTD, "refers to the external resource 'http://127.0.0.1:9/opml.dtd'"),
        (PLAIN_DTD, "has a DTD"),
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "dtd"],
)
def test_hostile_opml_is_refused_with_its_reason_and_the_list_is_unchanged(
    listed: Path, tmp_path: Path, text: str, reason: str
):
    opml = tmp_path / "hostile.opml"
    opml.write_text(text, encoding="utf-8")
    before = listed.read_bytes()
    code, out = feeds("import", opml, "--feeds-file", listed)
    assert code == 2 and f"refused: the file {reason}" in out and "nothing imported" in out, out
    assert out.count("\n") == 1
    assert listed.read_bytes() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not XML: line 1"),
        (b"<opml><body><outline text='a'></body></opml>", "not XML: line 1: mismatched tag"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "the root element is <rss>"),
        (b'<opml version="2.0"><head><title>t</title></head></opml>', "no <body> element"),
        (b"", "not XML"),
        (b"<opml><body>" + b"<outline>" * 200 + b"</outline>" * 200 + b"</body></opml>",
         "outlines nested over 64 deep"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_opml_is_a_one_line_error(
    listed: Path, tmp_path: Path, body: bytes, message: str
):
    opml = tmp_path / "not.opml"
    opml.write_bytes(body)
    before = listed.read_bytes()
    code, out = feeds("import", opml, "--feeds-file", listed)
    assert code == 2 and message in out and out.count("\n") == 1, out
    assert listed.read_bytes() == before
    code, out = feeds("import", tmp_path / "absent.opml", "--feeds-file", listed)
    assert code == 2 and "cannot read" in out


# --- export ---------------------------------------------------------------------------------------


def test_export_is_opml_2_and_imports_back_into_an_empty_list_as_the_same_feeds(
    listed: Path, tmp_path: Path
):
    feeds("add", "https://site.example/feed?id=1&x=2", "--tag", "a/b", "--feeds-file", listed)
    listed.write_text(
        listed.read_text(encoding="utf-8").replace(
            'tags = ["us"]\n', 'tags = ["us"]\nsite = "https://www.npr.org/"\n'
        ),
        encoding="utf-8",
    )
    feeds("add", "https://unnamed.example/rss", "--feeds-file", listed)
    original = load_feed_list(listed)
    exported = tmp_path / "out" / "feeds.opml"
    code, out = feeds("export", "--output", exported, "--feeds-file", listed)
    assert code == 0 and f"Wrote {exported} ({len(original)} feeds)" in out

    root = ElementTree.parse(exported).getroot()
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title")
    assert email.utils.parsedate_to_datetime(root.findtext("head/dateCreated") or "")
    outlines = [o for o in root.iter("outline") if o.get("xmlUrl")]
    # Grouped in folders by first tag, so in another order than the list.
    assert sorted(o.get("xmlUrl") or "" for o in outlines) == sorted(s.url for s in original)
    assert all(o.get("type") == "rss" and o.get("text") and o.get("title") for o in outlines)
    npr = next(o for o in outlines if "npr" in (o.get("xmlUrl") or ""))
    assert npr.get("htmlUrl") == "https://www.npr.org/" and npr.get("category") == "us"
    folders = [o.get("text") for o in root.find("body") or [] if not o.get("xmlUrl")]
    assert folders == ["world", "business", "germany", "us", "a/b"]  # first tags, in list order

    empty = tmp_path / "empty" / "feeds.toml"
    code, out = feeds("import", exported, "--feeds-file", empty)
    assert code == 0 and out.splitlines()[-1].endswith(
        f"{len(original)} added, 0 skipped, 0 errors"
    )
    back = load_feed_list(empty)
    assert sorted(back, key=lambda s: s.url) == sorted(original, key=lambda s: s.url)

    code, out = feeds("export", "--feeds-file", listed)  # standard output
    assert code == 0 and out.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">'
    )


# --- list and health ------------------------------------------------------------------------------


def test_list_without_a_database_shows_the_list_and_creates_nothing(listed: Path, tmp_path: Path):
    db_path = tmp_path / "none" / "newsflow.db"
    code, out = feeds("list", "--feeds-file", listed, "--db", db_path)
    assert code == 0, out
    assert f"7 feeds in {listed} (0 enabled)." in out
    assert f"No fetches yet: no database at {db_path}." in out
    assert "NPR News  https://feeds.npr.org/1001/rss.xml" in out
    assert "disabled · tags world, germany · language de · never fetched" in out
    assert not db_path.exists() and not db_path.parent.exists()
    code, out = feeds("list", "--json", "--feeds-file", listed, "--db", db_path)
    rows = json.loads(out)
    assert [row["name"] for row in rows][:2] == ["BBC News – World", "BBC News – Business"]
    assert all(row["last_fetched_at"] is None and row["fetches"] == 0 for row in rows)


RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Loopback Daily'
    "</title><link>/</link>"
    + "".join(
        f"<item><title>Story {n}</title><guid>g{n}</guid><description>Story {n}: the ministers"
        " met on Monday to talk about trade, tariffs and the harbour that both sides want to"
        " build before the rainy season begins.</description></item>"
        for n in range(3)
    )
    + "</channel></rss>"
)


def test_list_shows_each_feeds_health_after_a_real_fetch_from_loopback(tmp_path: Path, db_path):
    from newsflow.flows.feeds import FeedRunSettings, run_feeds
    from newsflow.tasks.feeds.fetch import FetchSettings

    fast = FetchSettings(connect_timeout=1.0, read_timeout=0.5, deadline=2.0, max_attempts=1,
                         backoff_base=0.01, backoff_max=0.05, allow_private=True)  # fmt: skip
    settings = FeedRunSettings(fetch=fast, article_fetch=fast, host_interval=0.0, full_text=False)
    with ScriptedServer() as server:
        server.route("/good", Reply(200, body=RSS, headers={"Content-Type": "application/rss+xml"}))
        server.route("/down", Reply(503, body="busy"))
        listed = tmp_path / "feeds.toml"
        for path, name in [("/good", "Good"), ("/down", None), ("/later", "Not yet")]:
            args = ["--name", name] if name else []
            code, out = feeds("add", server.url(path), *args, "--tag", "t", "--feeds-file", listed)
            assert code == 0, out
        later = f'url = "{server.url("/later")}"\n'
        text = listed.read_text(encoding="utf-8")
        listed.write_text(text.replace(later, later + "enabled = false\n"), encoding="utf-8")
        database = open_db(db_path)
        run_id = run_log.start_run(database, parameters={}, trigger="test")
        database.close()
        counts = run_feeds(str(db_path), feeds_file=str(listed), adhoc=[server.url("/adhoc")],
                           run_id=run_id, settings=settings)  # fmt: skip
    assert counts["feeds_fetched"] == 1 and counts["feeds_failed"] == 2, counts

    code, out = feeds("list", "--json", "--feeds-file", listed, "--db", db_path)
    assert code == 0, out
    good, down, later = json.loads(out)
    assert (good["name"], good["title"], good["last_status"], good["last_items"]) == (
        "Good", "Loopback Daily", 200, 3,
    )  # fmt: skip
    assert good["error_count"] == 0 and good["backed_off_until"] is None and good["fetches"] == 1
    assert down["last_status"] == 503 and down["error_count"] == 1 and down["last_error"]
    assert down["backed_off_until"] > down["last_fetched_at"]
    assert later["enabled"] is False and later["fetches"] == 0 and later["last_status"] is None

    code, out = feeds("list", "--feeds-file", listed, "--db", db_path)
    assert code == 0, out
    assert "3 feeds in" in out and "(2 enabled)" in out
    assert f"Good  {server.url('/good')}" in out
    assert "HTTP 200 · 3 items · 0 errors in a row" in out
    assert "HTTP 503 · 1 errors in a row · backed off until 20" in out
    assert "disabled · tags t · never fetched" in out
    assert "1 more feeds in" in out and "are not in this list" in out  # the ad hoc --feed


# --- docs -----------------------------------------------------------------------------------------

FEEDS_COMMANDS = ["list", "add", "remove", "import", "export"]


@pytest.mark.parametrize("name", FEEDS_COMMANDS)
def test_every_feeds_command_has_help_takes_db_and_feeds_file_and_is_documented(name: str):
    group = typer.main.get_command(app).commands["feeds"]  # type: ignore[attr-defined]
    command = group.commands[name]
    assert command.help, f"feeds {name} has no help text"
    options = {opt for parameter in command.params for opt in parameter.opts}
    assert {"--db", "--feeds-file"} <= options
    assert f"newsflow feeds {name}" in README
    assert f"newsflow feeds {name}" in FEEDS_DOC.read_text(encoding="utf-8")
