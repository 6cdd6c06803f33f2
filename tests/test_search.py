"""Search that understands language: inflections, names across languages, syntax, story groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from newsflow.db import open_db
from newsflow.db.migrations import migrations
from newsflow.flows.cli import app
from newsflow.tasks.common import cldr, gazetteer
from newsflow.tasks.dedup import neardup
from newsflow.tasks.ingest.loader import content_hash
from newsflow.tasks.pipeline import features
from newsflow.tasks.search import engine
from newsflow.tasks.search.search_query import BadQuery, parse
from newsflow.tasks.store import search_index, writer
from newsflow.tasks.store.models import Item
from newsflow.tasks.stories import linking

# Short reports of the shape the ingest stores (title, paragraphs, outlet, date), in English and
# German, written for these tests.
DOCUMENTS = {
    "en-talks": ("en", "Phnom Penh Post", "2025-03-04T09:00:00Z",
                 "Ministers hold flood relief meetings in Phnom Penh",
                 "Foreign ministers of Cambodia and Japan met in Phnom Penh on Tuesday.\n\n"
                 "The talks were about flood relief and closer cooperation between the two "
                 "governments. The prime minister said Japan would send engineers to rebuild "
                 "bridges before the rainy season."),
    "de-talks": ("de", "Tageblatt", "2025-03-04T11:00:00Z",
                 "Kambodscha und Japan vereinbaren engere Zusammenarbeit",
                 "Die Außenminister Kambodschas und Japans trafen sich am Dienstag in Phnom "
                 "Penh.\n\nBeide Regierungen wollen beim Hochwasserschutz enger zusammengehen. Der "
                 "japanische Premierminister kündigte Ingenieure für den Bau neuer Brücken an."),
    "en-syria": ("en", "Wire Service", "2025-03-02T08:00:00Z",
                 "Talks between Washington and Damascus stall",
                 "Officials from the U.S. and Syria ended two days of talks in Geneva without "
                 "an agreement.\n\nThe prime concern, one minister said, remained the border "
                 "crossings in the north."),
    "de-syria": ("de", "Tageblatt", "2025-03-02T10:00:00Z",
                 "Gespräche zwischen Washington und Damaskus ohne Ergebnis",
                 "Vertreter der Vereinigten Staaten und Syriens beendeten ihre Gespräche in Genf "
                 "ohne Einigung.\n\nStrittig blieben die Grenzübergänge im Norden des Landes."),
    "en-bread": ("en", "Northern Courier", "2025-03-01T07:00:00Z",
                 "Village bakery wins regional bread prize",
                 "A small bakery in the north won the regional prize for sourdough bread on "
                 "Saturday.\n\nIts owner has baked in the same oven for thirty years."),
    "de-museum": ("de", "Tageblatt", "2025-03-03T12:00:00Z",
                  "Neues Museum in Kairo eröffnet",
                  "Ägypten hat in Kairo ein neues Museum für die Funde aus dem Tal der Könige "
                  "eröffnet.\n\nDie Regierung erwartet in diesem Jahr mehr Besucher als je zuvor."),
}  # fmt: skip


def _item(key: str) -> Item:
    language, outlet, published, title, body = DOCUMENTS[key]
    return Item(key=f"file:{key}.txt", path=f"{key}.txt", title=title, body=body,
                language=language, source=outlet, published_at=published,
                content_hash=content_hash(body))  # fmt: skip


@pytest.fixture
def db(db_path: Path) -> Database:
    """A real database file with the documents stored and grouped as a run does."""
    database = open_db(db_path)
    writer.save_items(database, [_item(key) for key in DOCUMENTS], run_id="test")
    result = neardup.deduplicate(database, run_id="test")
    linking.assign_stories(database, run_id="test", dirty=result.touched_stories)
    return database


def _ids(db: Database) -> dict[str, int]:
    return {
        path.removesuffix(".txt"): i for i, path in db.execute("SELECT id, path FROM documents")
    }


def _found(db: Database, query: str) -> set[str]:
    by_id = {i: key for key, i in _ids(db).items()}
    return {by_id[i] for i in engine.matching_ids(db, query)}


def test_english_inflections_find_the_same_documents(db: Database) -> None:
    assert _found(db, "meetings") == _found(db, "meeting") == {"en-talks"}
    assert _found(db, "cooperate") == _found(db, "cooperation") == {"en-talks"}
    assert _found(db, "bakeries") == {"en-bread"}  # "bakery" in the text


def test_german_inflections_and_folded_accents(db: Database) -> None:
    assert _found(db, "Zusammenarbeiten") == {"de-talks"}  # the text says "Zusammenarbeit"
    assert _found(db, "gespräch") == {"de-syria"}  # "Gespräche"
    assert _found(db, "bruecken") == set()  # folding drops accents; it does not spell them out
    assert _found(db, "brucken") == _found(db, "Brücke") == {"de-talks"}
    assert _found(db, "MUSEUMS") == {"de-museum"}  # case folded; the genitive "Museums"


def test_names_cross_languages_through_the_gazetteer(db: Database) -> None:
    assert _found(db, "Cambodia") == {"en-talks", "de-talks"}
    assert _found(db, "Kambodscha") == {"en-talks", "de-talks"}
    assert _found(db, "kambodschanisch") == {"en-talks", "de-talks"}
    assert _found(db, "japanisch") == {"en-talks", "de-talks"}
    assert _found(db, "United States") == {"en-syria", "de-syria"}
    assert _found(db, "Vereinigte Staaten") == {"en-syria", "de-syria"}
    assert _found(db, "USA") == _found(db, "U.S.") == {"en-syria", "de-syria"}
    assert _found(db, "Syria") == {"en-syria", "de-syria"}
    assert _found(db, "Egypt") == {"de-museum"}
    assert "en-syria" not in _found(db, "us")  # the pronoun is no country


def test_phrases_match_words_side_by_side_only(db: Database) -> None:
    assert _found(db, '"prime minister"') == {"en-talks"}
    assert _found(db, "prime minister") == {"en-talks", "en-syria"}  # "prime concern … minister"
    assert _found(db, '"Vereinigte Staaten"') == {"en-syria", "de-syria"}


def test_boolean_operators(db: Database) -> None:
    assert _found(db, "Syria OR Egypt") == {"en-syria", "de-syria", "de-museum"}
    assert _found(db, "Japan AND bridges") == {"en-talks"}  # words do not translate; names do
    assert _found(db, "Japan NOT engineers") == {"de-talks"}
    assert _found(db, "(Syria OR Egypt) NOT Geneva") == {"de-syria", "de-museum"}
    # Lower-case "and" is a word the document must hold, not an operator.
    assert _found(db, "relief and cooperation") == {"en-talks"}
    assert _found(db, "bread and prize") == set()


def test_prefix_matches_words_and_stems(db: Database) -> None:
    assert _found(db, "sourd*") == {"en-bread"}
    assert _found(db, "cooperat*") == {"en-talks"}  # Snowball cut "cooperation" to "cooper"
    assert _found(db, "Zusammenarb*") == {"de-talks"}


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "Japan AND", "OR Japan", "NEAR(", "*", ")(", "a OR OR b", "(Japan", "()", ""],
)
def test_a_malformed_query_is_refused_with_a_reason(db: Database, query: str) -> None:
    with pytest.raises(BadQuery, match=r"cannot search for .*: \S"):
        engine.search(db, query)


def test_a_malformed_query_is_one_line_and_exit_2(db_path: Path, db: Database) -> None:
    result = CliRunner().invoke(app, ["search", "Japan AND (", "--db", str(db_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "error: cannot search for" in result.output


def test_operators_bind_as_in_fts5() -> None:
    tree = parse("a b OR c NOT d")
    assert tree.op == "OR"  # type: ignore[union-attr]
    left, right = tree.parts  # type: ignore[union-attr]
    assert left.op == "AND" and right.op == "NOT"  # type: ignore[union-attr]


def test_results_are_grouped_by_story(db: Database) -> None:
    ids = _ids(db)
    shared = db.execute("SELECT story_id FROM documents WHERE id = ?", [ids["en-talks"]]).fetchone()
    db.execute("UPDATE documents SET story_id = ? WHERE id = ?", [shared[0], ids["de-talks"]])
    results = engine.search(db, "Cambodia")
    assert len(results) == 1
    (result,) = results
    assert result.story_id == shared[0]
    assert sorted(hit.id for hit in result.documents) == sorted([ids["en-talks"], ids["de-talks"]])
    assert sorted(result.languages) == ["de", "en"]
    assert sorted(result.outlets) == ["Phnom Penh Post", "Tageblatt"]
    # A word (not a name) finds the English report; its story brings the German one along.
    (flood,) = engine.search(db, "flood relief")
    assert [hit.id for hit in flood.documents] == [ids["en-talks"]]
    assert [hit.id for hit in flood.others] == [ids["de-talks"]]
    assert flood.story_languages == flood.as_json()["story_languages"] == ["en", "de"]
    # Every story appears once, whatever the number of its matching documents.
    many = engine.search(db, "Syria OR Egypt OR Cambodia")
    assert len({r.story_id for r in many}) == len(many)
    assert engine.search(db, "Syria OR Egypt OR Cambodia", limit=2) == many[:2]


def test_title_weighs_more_and_the_newer_wins_a_tie(db_path: Path) -> None:
    database = open_db(db_path)
    body = "The harbour reopened after the storm. Ships returned on {day}."
    items = [
        Item(key=f"file:{day}.txt", path=f"{day}.txt", title="Port news", language="en",
             body=body.format(day=day), content_hash=content_hash(body.format(day=day)),
             published_at=when)
        for day, when in (("Monday", "2025-01-06T08:00:00Z"), ("Friday", "2025-01-10T08:00:00Z"))
    ]  # fmt: skip
    items.append(Item(key="file:title.txt", path="title.txt", title="Harbour reopens",
                      language="en", body="Ships are back. " * 3,
                      content_hash=content_hash("Ships are back. " * 3)))  # fmt: skip
    writer.save_items(database, items, run_id="test")
    order = [r.documents[0].path for r in engine.search(database, "harbour")]
    assert order == ["title.txt", "Friday.txt", "Monday.txt"]


def test_json_prints_one_object_per_story(db_path: Path, db: Database) -> None:
    result = CliRunner().invoke(app, ["search", "Cambodia", "--json", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == len(engine.search(db, "Cambodia"))
    keys = {"story_id", "title", "score", "document_ids", "titles", "locations", "languages"}
    assert all(keys <= set(line) for line in lines)
    assert {loc for line in lines for loc in line["locations"]} == {"en-talks.txt", "de-talks.txt"}
    assert {lang for line in lines for lang in line["languages"]} == {"en", "de"}


WIDE = {"COLUMNS": "200"}


def test_the_cli_lists_stories_and_with_documents_every_document(
    db_path: Path, db: Database
) -> None:
    ids = _ids(db)
    plain = CliRunner().invoke(app, ["search", "Syria", "--db", str(db_path)], env=WIDE)
    assert plain.exit_code == 0, plain.output
    assert "Talks between Washington and Damascus stall" in plain.output
    listed = CliRunner().invoke(
        app, ["search", "Syria", "--documents", "--db", str(db_path)], env=WIDE
    )
    for key in ("en-syria", "de-syria"):
        assert f"    {ids[key]} " in listed.output and f"{key}.txt" in listed.output
    german = CliRunner().invoke(
        app, ["search", "Syria", "-l", "de", "--json", "--db", str(db_path)]
    )
    assert [json.loads(line)["languages"] for line in german.output.splitlines()] == [["de"]]
    missing = CliRunner().invoke(app, ["search", "zzzznotthere", "--db", str(db_path)])
    assert missing.exit_code == 1


def test_matching_ids_looks_only_at_the_ids_given(db: Database) -> None:
    ids = _ids(db)
    some = [ids["en-talks"], ids["en-bread"], ids["de-museum"]]
    assert engine.matching_ids(db, "Cambodia", some) == {ids["en-talks"]}
    assert engine.matching_ids(db, "Cambodia", []) == set()
    assert engine.matching_ids(db, "Cambodia", languages=["de"]) == {ids["de-talks"]}
    assert engine.matching_ids(db, "Cambodia", [ids["de-talks"], 10_000]) == {ids["de-talks"]}


def test_the_index_follows_edits(db: Database) -> None:
    edited = _item("en-bread")
    edited.body = edited.body.replace("sourdough", "rye")
    edited.content_hash = content_hash(edited.body)
    writer.save_items(db, [edited], run_id="test")
    assert _found(db, "sourdough") == set() and _found(db, "rye") == {"en-bread"}
    retitled = _item("de-museum")
    retitled.title = "Pharaonenschätze im neuen Museum"  # the same body: a new headline only
    writer.save_items(db, [retitled], run_id="test")
    assert _found(db, "Pharaonenschatz") == {"de-museum"}
    (title,) = db.execute(
        "SELECT title FROM documents_search WHERE rowid = ?", [_ids(db)["de-museum"]]
    ).fetchone()
    assert title == "depharaonenschatz deim deneu demuseum"


def test_workers_make_the_same_entry_as_the_writer() -> None:
    for key in DOCUMENTS:
        item = _item(key)
        made = features.compute(item).search
        assert made == search_index.entry(item.title, item.body, item.language), key


def _stored_before_the_index(db_path: Path) -> Item:
    """A database of every migration but m021, holding one document (as before the index)."""
    database = Database(db_path)
    migrations.ensure_migrations_table(database)
    for migration in migrations.pending(database):
        if migration.name != "m021_search_stems":
            migration.fn(database)
            migrations._record_applied(database, migration.name)
    item = _item("de-talks")
    database.execute(
        "INSERT INTO documents (key, path, title, body, language, content_hash, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, '2025-01-01', '2025-01-01')",
        [item.key, item.path, item.title, item.body, item.language, item.content_hash],
    )
    database.conn.commit()
    database.conn.close()
    return item


def test_the_migration_indexes_documents_already_stored(db_path: Path) -> None:
    _stored_before_the_index(db_path)
    reopened = open_db(db_path)
    # db/ imports nothing from tasks/: the migration queues the documents, a writer indexes them.
    assert reopened.execute("SELECT count(*) FROM documents_search").fetchone() == (0,)
    assert reopened.execute("SELECT name FROM backfills").fetchall() == [("documents_search",)]
    assert search_index.backfill(reopened) == 1
    assert search_index.backfill(reopened) == 0  # once
    assert _found(reopened, "Cambodia") == {"de-talks"}


def test_search_fills_an_index_a_migration_queued(db_path: Path) -> None:
    """`newsflow search` right after an upgrade finds what was stored before the index."""
    item = _stored_before_the_index(db_path)
    result = CliRunner().invoke(app, ["search", "Kambodscha", "--db", str(db_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[0])["title"] == item.title


def test_the_cldr_file_is_what_babel_gives() -> None:
    stored = json.loads(cldr.DATA.read_text(encoding="utf-8"))
    assert stored == cldr.extract_all(), "run: python -m newsflow.tasks.common.cldr"


def test_every_cldr_country_is_in_the_gazetteer() -> None:
    for language in gazetteer.BASE_LANGUAGES:
        for code, names in gazetteer._cldr_names(language).items():
            for name in names:
                if len(gazetteer.tokens(name)) <= gazetteer.MAX_PHRASE:
                    assert gazetteer.find(name) == {f"country:{code}": 1}, (language, name)
    assert gazetteer.find("Le Cambodge", "fr") == {"country:KH": 1}
    assert gazetteer.find("Le Cambodge") == {}  # French names count in French texts only
