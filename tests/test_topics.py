"""Topics over real runs: English and German reports from several outlets, matched, re-matched
when a query changes, listed by `newsflow topics`, filtered by `digest` and `report --topic`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow.db import open_db
from newsflow.tasks.report.topics import TopicError, load_topics, matching_ids, slugify

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
TODAY = datetime.now(UTC).strftime("%Y-%m-%dT08:00:00Z")

# Two outlets' English reports and one German report of the same talks, worded differently,
# and two reports about something else.
ENERGY = [
    {
        "url": "https://baltic-wire.example/energy/norway-poland-gas",
        "source": "Baltic Wire",
        "title": "Norway and Poland agree to widen gas link",
        "text": "Norway and Poland agreed on Tuesday to raise the capacity of the gas pipeline "
        "that joins the two countries under the Baltic Sea. Officials in Oslo said the deal "
        "would let Polish utilities buy more Norwegian gas each winter.\n\n"
        "The energy ministers of both countries signed the plan in Warsaw after two days of "
        "talks. Work on new compressor stations is due to start next spring.",
    },
    {
        "url": "https://nordic-ledger.example/2026/oslo-warsaw-pipeline",
        "source": "Nordic Ledger",
        "title": "Oslo and Warsaw sign pipeline expansion",
        "text": "The governments of Norway and Poland have signed an agreement to expand the "
        "undersea pipeline that carries Norwegian gas to Polish customers. The energy "
        "ministers met in Warsaw for two days before signing.\n\n"
        "Building the extra compressor stations should begin next spring, officials said, "
        "and the larger flows are expected before the following winter.",
    },
    {
        "url": "https://ostsee-kurier.example/wirtschaft/norwegen-polen-gas",
        "source": "Ostsee-Kurier",
        "title": "Norwegen und Polen bauen Gasleitung aus",
        "language": "de",
        "text": "Norwegen und Polen wollen die Kapazität ihrer gemeinsamen Gasleitung unter der "
        "Ostsee deutlich erhöhen. Die Energieminister beider Länder unterzeichneten die "
        "Vereinbarung am Dienstag in Warschau nach zweitägigen Gesprächen.\n\n"
        "Polnische Versorger sollen damit im Winter mehr norwegisches Gas kaufen können. "
        "Der Bau neuer Verdichterstationen soll im kommenden Frühjahr beginnen.",
    },
]
OTHER = [
    {
        "url": "https://coastal-times.example/fisheries/quota-vote",
        "source": "Coastal Times",
        "title": "Portugal's fishing fleet wins a larger sardine quota",
        "text": "Fishermen in Portugal will be allowed to land more sardines next year after "
        "scientists reported that stocks off the Atlantic coast had recovered.\n\n"
        "The fisheries minister said the new quota would protect jobs in small harbour towns "
        "while keeping the catch within safe limits.",
    },
    {
        "url": "https://alpen-bote.example/verkehr/bahnstreik",
        "source": "Alpen-Bote",
        "title": "Bahnstreik legt Verkehr in Österreich lahm",
        "language": "de",
        "text": "Ein Streik der Lokführer hat am Montag den Zugverkehr in weiten Teilen "
        "Österreichs zum Erliegen gebracht. Pendler mussten auf Busse und Autos ausweichen.\n\n"
        "Die Gewerkschaft fordert höhere Löhne und kürzere Schichten; Gespräche mit der "
        "Bahn sollen am Donnerstag fortgesetzt werden.",
    },
]
QUERY = "(Norway OR Norwegen) AND (Poland OR Polen)"


def write_records(folder: Path, records: list[dict[str, str]], name: str = "items.jsonl") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(record | {"published": TODAY}) for record in records]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_topics(path: Path, *tables: str) -> Path:
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def topic(name: str, query: str, extra: str = "") -> str:
    return f"[[topics]]\nname = {json.dumps(name)}\nquery = {json.dumps(query)}\n{extra}\n"


def matched(db_path: Path, name: str) -> dict[str, str]:
    """Matched documents of a topic: url → run id."""
    return dict(
        open_db(db_path)
        .execute(
            "SELECT d.url, m.run_id FROM topic_matches m JOIN documents d ON d.id = m.document_id"
            " WHERE m.topic = ?",
            [name],
        )
        .fetchall()
    )


# --- the topics file (no Prefect) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[topics]\n", "not valid TOML"),
        ('topics = "x"', "array of tables"),
        ('[[topics]]\nquery = "a"', "needs a 'name'"),
        ('[[topics]]\nname = "Energy"', "topic 'Energy': needs a non-empty 'query'"),
        ('[[topics]]\nname = "Energy"\nquery = "gas"\ncolour = 1', "unknown key(s) colour"),
        ('[[topics]]\nname = "Energy"\nquery = "gas"\nnotify = "hook"', "'<block type>/"),
        ('[[topics]]\nname = "Energy"\nquery = "gas"\nlanguages = ["German"]', "ISO 639-1"),
        ('[[topics]]\nname = "Energy"\nquery = "gas"\nenabled = "yes"', "true or false"),
        (topic("Gas & Oil", "gas") + topic("gas oil", "oil"), "same name or artifact key"),
    ],
)
def test_a_bad_topics_file_is_one_error_naming_the_topic(tmp_path: Path, text: str, message: str):
    path = write_topics(tmp_path / "topics.toml", text)
    with pytest.raises(TopicError) as error:
        load_topics(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_the_seeds_topics_file_has_one_enabled_example():
    topics = load_topics(ROOT / "seeds" / "topics.toml")
    assert [t.enabled for t in topics] == [True]
    assert topics[0].slug == slugify(topics[0].name) and topics[0].slug.islower()
    assert slugify("Kambodscha & Ägypten: Zölle") == "kambodscha-agypten-zolle"


# --- runs ----------------------------------------------------------------------------------------

pytestmark_flow = pytest.mark.usefixtures("prefect_harness")


def run(folder: Path, db_path: Path, topics_file: Path) -> dict:
    from newsflow.flows.daily import daily

    return daily(
        seeds_dir=str(folder), db_path=str(db_path), trigger="test", topics_file=str(topics_file)
    )


@pytestmark_flow
def test_the_seeds_example_matches_the_english_and_german_seeds(seeds_copy: Path, db_path: Path):
    shutil.copy2(ROOT / "seeds" / "topics.toml", seeds_copy / "topics.toml")
    from newsflow.flows.daily import daily

    result = daily(seeds_dir=str(seeds_copy), db_path=str(db_path), trigger="test")
    name = load_topics(seeds_copy / "topics.toml")[0].name
    rows = (
        open_db(db_path)
        .execute(
            "SELECT d.language, d.body FROM topic_matches m"
            " JOIN documents d ON d.id = m.document_id WHERE m.topic = ?",
            [name],
        )
        .fetchall()
    )
    assert sorted(language for language, _ in rows) == ["de", "en", "en", "en"]
    assert all("Japan" in body for _, body in rows)  # the Cambodia–US seed is not about Japan
    assert result["counts"]["topic_matches"] == 4
    assert result["counts"].get("rejects", 0) == 0  # topics.toml is not taken for an article


@pytest.mark.slow  # three runs
@pytestmark_flow
def test_a_run_matches_its_new_reports_in_english_and_german_and_only_those(
    tmp_path: Path, db_path: Path
):
    folder = tmp_path / "news"
    write_records(folder, ENERGY + OTHER)
    topics_file = write_topics(tmp_path / "topics.toml", topic("Norway and Poland", QUERY))
    first = run(folder, db_path, topics_file)
    assert set(matched(db_path, "Norway and Poland")) == {r["url"] for r in ENERGY}
    db = open_db(db_path)
    stories = db.execute(
        "SELECT count(DISTINCT story_id), sum(new_story), count(*) FROM topic_matches"
    ).fetchone()
    # Each story the topic found is flagged new once, whatever its number of reports.
    assert stories[0] == stories[1] and stories[2] == 3
    assert first["counts"]["topic_new_stories"] == stories[0]
    assert db.execute("SELECT count(*) FROM topic_matches WHERE story_id IS NULL").fetchone() == (
        0,
    )

    # Nothing new: nothing matched, nothing dropped.
    second = run(folder, db_path, topics_file)
    assert second["counts"]["topic_matches"] == 0
    assert set(matched(db_path, "Norway and Poland").values()) == {first["run_id"]}

    # A new German report of the same talks joins: matched by the run that brought it, and not
    # a new story for the topic when it joined the story the topic already had.
    later = {
        "url": "https://hafen-zeitung.example/energie/gasleitung-polen",
        "source": "Hafen-Zeitung",
        "title": "Mehr norwegisches Gas für Polen",
        "language": "de",
        "text": "Polen bekommt künftig mehr Gas aus Norwegen: Die Energieminister beider Staaten "
        "haben in Warschau den Ausbau der Leitung unter der Ostsee beschlossen.\n\n"
        "Neue Verdichterstationen sollen ab dem Frühjahr gebaut werden, damit polnische "
        "Versorger im Winter mehr norwegisches Gas beziehen können.",
    }
    write_records(folder, [later], name="later.jsonl")
    third = run(folder, db_path, topics_file)
    found = matched(db_path, "Norway and Poland")
    assert found[later["url"]] == third["run_id"] and len(found) == 4
    story, new_story = db.execute(
        "SELECT d.story_id, m.new_story FROM topic_matches m JOIN documents d"
        " ON d.id = m.document_id WHERE d.url = ?",
        [later["url"]],
    ).fetchone()
    earlier = {row[0] for row in db.execute("SELECT story_id FROM topic_matches WHERE run_id = ?",
                                            [first["run_id"]])}  # fmt: skip
    assert new_story == (0 if story in earlier else 1)


@pytest.mark.slow  # three runs
@pytestmark_flow
def test_a_changed_query_is_matched_again_and_its_stale_matches_dropped(
    tmp_path: Path, db_path: Path
):
    folder = tmp_path / "news"
    write_records(folder, ENERGY + OTHER)
    topics_file = write_topics(tmp_path / "topics.toml", topic("Energy", QUERY))
    run(folder, db_path, topics_file)
    assert len(matched(db_path, "Energy")) == 3

    # Same documents, narrower query (a German word, not a name: names cross languages): the
    # English reports are no longer matched.
    write_topics(topics_file, topic("Energy", "Norwegen AND Gasleitung"))
    narrowed = run(folder, db_path, topics_file)
    assert set(matched(db_path, "Energy")) == {ENERGY[2]["url"]}
    assert narrowed["counts"]["topic_matches_dropped"] == 2

    # Wider again, now also the strike: matched over the window though no document is new.
    write_topics(topics_file, topic("Energy", "Norwegen OR Norway OR Bahnstreik"))
    widened = run(folder, db_path, topics_file)
    assert set(matched(db_path, "Energy")) == {r["url"] for r in ENERGY} | {OTHER[1]["url"]}
    assert widened["counts"].get("documents_new", 0) == 0
    assert widened["counts"]["topic_matches"] == 3

    stored = open_db(db_path).execute("SELECT query FROM topics WHERE name = 'Energy'").fetchone()
    assert stored == ("Norwegen OR Norway OR Bahnstreik",)


@pytestmark_flow
def test_languages_keep_a_topic_to_those_languages(tmp_path: Path, db_path: Path):
    folder = tmp_path / "news"
    write_records(folder, ENERGY + OTHER)
    topics_file = write_topics(
        tmp_path / "topics.toml",
        topic("German energy", QUERY, 'languages = ["de"]'),
        topic("Off", QUERY, "enabled = false"),
    )
    run(folder, db_path, topics_file)
    assert set(matched(db_path, "German energy")) == {ENERGY[2]["url"]}
    assert matched(db_path, "Off") == {}


@pytestmark_flow
def test_a_bad_query_fails_the_run_before_it_ingests(tmp_path: Path, db_path: Path):
    folder = tmp_path / "news"
    write_records(folder, ENERGY)
    topics_file = write_topics(tmp_path / "topics.toml", topic("Broken", "(Norway AND"))
    with pytest.raises(TopicError, match="topic 'Broken'"):
        run(folder, db_path, topics_file)
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM documents").fetchone() == (0,)
    status, error = db.execute("SELECT status, error FROM runs").fetchone()
    assert status == "failed" and "topic 'Broken'" in error


def test_matching_looks_only_at_the_documents_it_is_given(db_path: Path):
    from newsflow.tasks.ingest.loader import content_hash
    from newsflow.tasks.store import run_log, writer
    from newsflow.tasks.store.models import Item

    db = open_db(db_path)
    run_id = run_log.start_run(db, parameters={}, trigger="test")
    items = [
        Item(key=f"file:{i}.txt", path=f"{i}.txt", body=body, title=None, language="en",
             content_hash=content_hash(body))
        for i, body in enumerate(
            ["Norway and Poland sign a gas deal."] * 3 + ["Sardines off Portugal."] * 1
            + [f"Norway and Poland, take {i}." for i in range(600)]
        )
    ]  # fmt: skip
    writer.save_items(db, items, run_id=run_id)
    ids = [row[0] for row in db.execute("SELECT id FROM documents ORDER BY id")]
    # Far-apart ids (several rowid ranges) and a restriction to some of them.
    chosen = [ids[0], ids[3], ids[-1], ids[300]]
    assert matching_ids(db, QUERY, chosen) == {ids[0], ids[-1], ids[300]}
    assert matching_ids(db, QUERY, []) == set()
    assert matching_ids(db, QUERY, chosen, languages=["de"]) == set()


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def energy_db(prefect_harness, tmp_path: Path, db_path: Path) -> tuple[Path, Path]:
    from newsflow.flows.cli import app

    folder = tmp_path / "news"
    write_records(folder, ENERGY + OTHER)
    topics_file = write_topics(
        tmp_path / "topics.toml", topic("Norway and Poland", QUERY), topic("Rail", "Bahnstreik")
    )
    result = runner.invoke(
        app,
        ["run", "--seeds", str(folder), "--db", str(db_path), "--topics-file", str(topics_file)],
    )
    assert result.exit_code == 0, result.output
    return db_path, topics_file


def test_topics_lists_matches_today_in_all_and_the_last_match(energy_db: tuple[Path, Path]):
    from newsflow.flows.cli import app

    db_path, topics_file = energy_db
    result = runner.invoke(
        app, ["topics", "--db", str(db_path), "--topics-file", str(topics_file), "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["Norway and Poland"]["matches"] == 3 and rows["Norway and Poland"]["today"] == 3
    assert rows["Rail"]["matches"] == 1
    stamp = open_db(db_path).execute("SELECT max(matched_at) FROM topic_matches").fetchone()[0]
    assert rows["Rail"]["last_match"] == stamp
    table = runner.invoke(app, ["topics", "--db", str(db_path), "--topics-file", str(topics_file)])
    assert table.exit_code == 0 and "Norway and" in table.output


def test_digest_and_report_keep_to_a_topics_stories(energy_db: tuple[Path, Path]):
    from newsflow.flows.cli import app

    db_path, _ = energy_db
    digest = runner.invoke(app, ["digest", "--db", str(db_path), "--topic", "Rail"])
    assert digest.exit_code == 0, digest.output
    assert "Bahnstreik" in digest.output and "Norwegen" not in digest.output
    assert "sardine" not in digest.output.lower()

    report = runner.invoke(
        app,
        ["report", "--db", str(db_path), "--topic", "Norway and Poland", "--format", "json"],
    )
    assert report.exit_code == 0, report.output
    data = json.loads(report.output)
    urls = {s["location"] for entry in data["entries"] for s in entry["sources"]}
    assert urls == {r["url"] for r in ENERGY}
    assert data["title"].startswith("Topic Norway and Poland")
    for output_format in ("md", "html"):
        rendered = runner.invoke(
            app,
            ["report", "--db", str(db_path), "--topic", "Rail", "--format", output_format],
        )
        assert rendered.exit_code == 0 and "Bahnstreik" in rendered.output

    unknown = runner.invoke(app, ["digest", "--db", str(db_path), "--topic", "Nope"])
    assert unknown.exit_code == 2 and "no topic 'Nope'" in unknown.output
    assert "Traceback" not in unknown.output


def test_the_run_publishes_a_markdown_artifact_per_topic_with_something_new(
    energy_db: tuple[Path, Path],
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    db_path, _ = energy_db
    flow_run_id = open_db(db_path).execute("SELECT flow_run_id FROM runs").fetchone()[0]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    by_key = {artifact.key: str(artifact.data) for artifact in found}
    assert "newsflow-topic-norway-and-poland" in by_key and "newsflow-topic-rail" in by_key
    text = by_key["newsflow-topic-rail"]
    assert text.startswith("# Topic Rail") and "Bahnstreik" in text and "Norwegen" not in text
