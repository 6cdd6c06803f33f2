"""Online story clustering on real-shaped short news: several outlets' wording, two languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from newsflow.db import open_db
from newsflow.tasks.dedup import neardup
from newsflow.tasks.ingest import loader
from newsflow.tasks.store import writer
from newsflow.tasks.store.models import Item
from newsflow.tasks.stories import clusters, linking, story_state

# (outlet, published, headline, teaser): the shape of feed items whose pages cannot be fetched.
# Written for these tests; the people and places are invented.
DEATH = [
    ("Wire Service", "2026-03-03T09:10:00Z", "Civil rights pioneer Marion Keller dies at 84",
     "Keller, who led the Alton bus boycott in 1965, died at her home on Tuesday."),
    ("Public Radio", "2026-03-03T11:40:00Z", "US civil rights leader Marion Keller dies aged 84",
     "The activist led the Alton boycott and later served two terms in Congress."),
    ("City Daily", "2026-03-03T15:05:00Z", "Marion Keller, voice of the Alton boycott, has died",
     "Tributes were paid to Keller, who died aged 84."),
]  # fmt: skip
TALKS = [
    ("Wire Service", "2026-03-03T08:00:00Z", "Iran and UN nuclear watchdog resume talks in Vienna",
     "Inspectors and Iranian officials met for a first round since the summer."),
    ("Evening Post", "2026-03-03T13:30:00Z",
     "Nuclear talks between Iran and the IAEA resume in Vienna",
     "The watchdog's chief said the round would focus on access for inspectors."),
    ("Global News", "2026-03-03T17:45:00Z", "Iran, IAEA hold new round of nuclear talks in Vienna",
     "Diplomats described the first day of talks as constructive."),
]  # fmt: skip
# One subject, two events in one city, days apart and with other details: two stories.
ATTACKS = [
    ("Wire Service", "2026-03-01T07:00:00Z", "Bomb blast kills 12 at crowded market in Kandahar",
     "The explosion tore through stalls in the old city on Sunday morning."),
    ("Wire Service", "2026-03-05T18:00:00Z",
     "Suicide attack on police station in Kandahar kills five",
     "A car packed with explosives was driven into the station's gate on Thursday."),
]  # fmt: skip
# The users' own beat: one border clash over two days, six outlets, each in its own words.
BORDER = [
    ("Phnom Penh Post", "2025-12-07T06:10:00Z", "Fighting erupts on Cambodian-Thai border",
     "Cambodian and Thai troops exchanged fire near the disputed temple area early on Sunday."),
    ("Bangkok Daily", "2025-12-07T08:30:00Z", "Thai and Cambodian soldiers clash at border",
     "Thailand's army said its soldiers came under fire from Cambodian positions."),
    ("Asia Wire", "2025-12-07T11:00:00Z",
     "Thailand, Cambodia trade fire in border clash; two soldiers hurt",
     "Two Thai soldiers were wounded as fighting broke out along the border on Sunday."),
    ("Khmer Daily", "2025-12-07T15:45:00Z", "Cambodia accuses Thailand of attacking its troops",
     "The Cambodian defence ministry said Thai forces opened fire first near the border temple."),
    ("World Service", "2025-12-08T07:20:00Z",
     "Border fighting between Thailand and Cambodia continues for second day",
     "Artillery fire was reported along the Thai-Cambodian border on Monday as villagers fled."),
    ("Regional Times", "2025-12-08T12:00:00Z",
     "Thousands flee as Thai-Cambodian border clashes enter second day",
     "Villagers on both sides of the border left their homes as the fighting continued."),
]  # fmt: skip
# Full articles: two outlets' own reports of one factory fire, and a fire elsewhere three days on.
FIRE = (
    "Fire destroys textile factory in Dunmore, 14 workers hurt",
    "Northern Courier",
    "2026-05-12T08:00:00Z",
    (
        "A fire swept through the Halvorsen textile factory in Dunmore early on Tuesday, injuring"
        " 14 workers and forcing the evacuation of nearby homes. The blaze started in a storage "
        "hall shortly after 3 am, the regional fire service said, and more than 60 firefighters "
        "fought it for six hours. Three of the injured were taken to hospital in serious "
        "condition. The factory employs about 400 people and makes uniforms for the army. Police "
        "said the cause was not yet known but did not suspect arson. The mayor of Dunmore, Ellen "
        "Brandt, said the town would help the families of the injured and that production would "
        "be moved to a second plant in Keswick while the site was inspected."
    ),
)
FIRE_OTHER_OUTLET = (
    "Dunmore factory blaze leaves 14 injured",
    "Daily Ledger",
    "2026-05-12T11:30:00Z",
    (
        "Fourteen people were injured when fire tore through a textile plant in Dunmore on "
        "Tuesday morning. Firefighters were called to the Halvorsen works at about 3 am and "
        "needed six hours to bring the flames under control, a spokesman for the fire service "
        "said. Residents of two streets next to the site were told to leave their homes because "
        "of the smoke. Three workers remain in hospital with serious burns. Mayor Ellen Brandt "
        "visited the site and promised support for the staff; the company said its 400 employees "
        "would keep their jobs and that work would continue at its Keswick plant. Investigators "
        "are still looking for the cause."
    ),
)
OTHER_FIRE = (
    "Warehouse fire in Keswick forces evacuation",
    "Northern Courier",
    "2026-05-15T09:00:00Z",
    (
        "Firefighters battled a large fire at a logistics warehouse on the edge of Keswick on "
        "Friday. Nobody was hurt, but about 200 residents were evacuated for several hours as "
        "thick smoke drifted over the town. The warehouse stores furniture for a national "
        "retailer, which said stock worth several million euros had been destroyed. The fire "
        "service sent 35 firefighters and two aerial ladders. It is the second serious fire in "
        "the region this week, after the blaze at a Dunmore textile factory on Tuesday, but "
        "police said there was no link between the two. An investigation into the cause has "
        "begun."
    ),
)
GERMAN = [
    ("Tages Kurier", "2026-03-03T12:00:00Z",
     "Iran und IAEA nehmen Atomgespräche in Wien wieder auf",
     "Inspektoren und iranische Vertreter trafen sich zur ersten Runde seit dem Sommer."),
]  # fmt: skip


def _items(rows: list[tuple[str, str, str, str]], tag: str, language: str) -> list[Item]:
    return [
        loader.finish_item(
            Item(key=f"{tag}-{n}", title=title, body=f"{title}\n\n{teaser}", source=outlet,
                 published_at=published, language=language)
        )
        for n, (outlet, published, title, teaser) in enumerate(rows)
    ]  # fmt: skip


def _decide(db: Database) -> None:
    result = neardup.deduplicate(db, run_id="test")
    linking.assign_stories(db, run_id="test", dirty=result.touched_stories)


def _stories(db: Database, prefix: str) -> set[int]:
    return {
        row[0]
        for row in db.execute(
            "SELECT coalesce(c.story_id, d.story_id) FROM documents d"
            " LEFT JOIN documents c ON c.id = d.duplicate_of WHERE d.key LIKE ?",
            [f"{prefix}-%"],
        ).fetchall()
    }


def test_outlets_wording_one_event_differently_share_one_story(db_path: Path) -> None:
    db = open_db(db_path)
    items = _items(DEATH, "death", "en") + _items(TALKS, "talks", "en")
    items += _items(ATTACKS, "attack", "en")
    writer.save_items(db, items, run_id="test")
    _decide(db)

    assert len(_stories(db, "death")) == 1
    assert len(_stories(db, "talks")) == 1
    assert _stories(db, "death") != _stories(db, "talks")
    # Two attacks in one city, four days apart, with different details, are two events.
    assert len(_stories(db, "attack")) == 2
    assert not _stories(db, "attack") & (_stories(db, "death") | _stories(db, "talks"))


def test_a_border_clash_reported_by_six_outlets_over_two_days_is_one_story(
    db_path: Path,
) -> None:
    db = open_db(db_path)
    writer.save_items(db, _items(BORDER, "border", "en") + _items(TALKS, "talks", "en"), run_id="t")
    _decide(db)
    assert len(_stories(db, "border")) == 1
    assert _stories(db, "border") != _stories(db, "talks")


def test_every_story_decision_is_explained(db_path: Path) -> None:
    db = open_db(db_path)
    writer.save_items(db, _items(DEATH, "death", "en"), run_id="test")
    _decide(db)
    rows = db.execute(
        "SELECT decision, score, threshold, reason FROM dedup_decisions WHERE method = 'story'"
        " ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == ["distinct", "same_story", "same_story"]
    assert rows[0][3].startswith("opens story #")
    for _, score, threshold, reason in rows[1:]:
        assert score >= threshold
        assert "headline" in reason and "joins at ≥" in reason and "shared:" in reason


def test_a_short_german_report_joins_the_english_story_through_shared_names(
    db_path: Path,
) -> None:
    db = open_db(db_path)
    writer.save_items(db, _items(TALKS, "talks", "en") + _items(GERMAN, "de", "de"), run_id="t")
    _decide(db)
    # Too few names, figures or dates in a headline and a teaser to link across languages:
    # a German teaser stays apart rather than joining on the shared word "Iran" alone.
    assert len(_stories(db, "talks")) == 1
    reason = db.execute(
        "SELECT reason FROM dedup_decisions WHERE document_id ="
        " (SELECT id FROM documents WHERE key = 'de-0') AND method = 'story'"
    ).fetchone()[0]
    assert "other language" in reason or "no story" in reason


def test_candidates_come_from_the_index_not_from_every_story() -> None:
    clusterer = clusters.Clusterer(window_days=7)
    day = clusters.DAY
    terms = [{f"en:topic{n}": 1.0, f"en^topic{n}": 1.0, "en:common": 1.0} for n in range(300)]
    clusterer.count((n, t, ()) for n, t in enumerate(terms))
    for n, found in enumerate(terms):
        clusterer.add(clusterer.profile(n, "en", n * 60.0, found, ()), story_id=n)
    probe = clusterer.profile(999, "en", day, {"en:topic7": 1.0, "en^topic7": 1.0}, ())
    # Only the story that shares the report's rarer words is a candidate.
    assert [s.id for s in clusterer.candidates(probe)] == [7]
    # A report sharing nothing looks nothing up, whatever the number of stories.
    lonely = clusterer.profile(1000, "en", day, {"en:else": 1.0}, ())
    assert clusterer.candidates(lonely) == []


def test_stories_out_of_the_window_are_forgotten_and_never_candidates() -> None:
    clusterer = clusters.Clusterer(window_days=7)
    found = {"en:keller": 2.0, "en^keller": 1.0, "en^die": 1.0}
    clusterer.count([(1, found, ()), (2, found, ())])
    clusterer.add(clusterer.profile(1, "en", 0.0, found, ()), story_id=1)
    later = clusterer.profile(2, "en", 30 * clusters.DAY, found, ())
    assert clusterer.candidates(later) == []
    clusterer.forget_before(later.when)
    assert clusterer.stories == {}


def _partition(db: Database) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for key, story_id in db.execute("SELECT key, story_id FROM documents").fetchall():
        groups.setdefault(story_id, set()).add(key)
    return {frozenset(members) for members in groups.values()}


@pytest.mark.parametrize("held", [story_state.MAX_HELD, 1])
def test_batches_decided_one_after_another_give_the_stories_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    """A run decides after every ingest batch, and a day's run after yesterday's, each pass
    reading the stories it looks up from the database (or keeping them from the run's last pass):
    the stories must be those of one pass over everything. (Not always to the last decision:
    stored stories keep the term weights of when their reports joined.)"""
    monkeypatch.setattr(story_state, "MAX_HELD", held)  # 1: read back from the tables each pass
    batches = [
        _items(DEATH[:2], "death", "en") + _items(ATTACKS[:1], "attack", "en"),
        _items(TALKS, "talks", "en") + _items(DEATH[2:], "death2", "en"),
        _items(BORDER, "border", "en") + _items(ATTACKS[1:], "attack2", "en"),
    ]
    one_by_one, afresh = open_db(tmp_path / "batches.db"), open_db(tmp_path / "afresh.db")
    for batch in batches:
        writer.save_items(one_by_one, batch, run_id="t")
        _decide(one_by_one)  # the pass keeps its clusterer for the next
        writer.save_items(afresh, batch, run_id="t")
        linking.release_kept()  # each pass reads what it looks up from the database
        _decide(afresh)
    assert _partition(one_by_one) == _partition(afresh)
    at_once = open_db(tmp_path / "once.db")
    writer.save_items(at_once, [item for batch in batches for item in batch], run_id="t")
    _decide(at_once)
    assert _partition(one_by_one) == _partition(at_once)
    assert frozenset({"death-0", "death-1", "death2-0"}) in _partition(one_by_one)


def test_state_built_for_a_database_from_before_it_decides_as_the_kept_state(
    tmp_path: Path,
) -> None:
    """A database whose stories were made before the stored state gets it built once, on its
    next pass; its next reports join the stories they join with a state kept all along."""
    kept, built = open_db(tmp_path / "kept.db"), open_db(tmp_path / "built.db")
    for db in (kept, built):
        writer.save_items(
            db, _items(DEATH[:2], "death", "en") + _items(TALKS[:2], "t", "en"), run_id="t"
        )
        _decide(db)
    for table in ("story_state", "story_postings", "story_df", "story_days", "story_counted"):
        built.conn.execute(f"DELETE FROM {table}")
    built.conn.execute("DELETE FROM dedup_settings WHERE name = 'story_state'")
    built.conn.commit()
    for db in (kept, built):
        writer.save_items(
            db, _items(DEATH[2:], "death2", "en") + _items(TALKS[2:], "u", "en"), run_id="t"
        )
        _decide(db)
    assert _partition(kept) == _partition(built)
    assert built.execute("SELECT count(*) FROM story_state").fetchone()[0] == 2
    assert frozenset({"death-0", "death-1", "death2-0"}) in _partition(built)


def test_a_report_joins_the_story_another_writer_made(db_path: Path) -> None:
    db = open_db(db_path)
    writer.save_items(db, _items(DEATH[:2], "death", "en"), run_id="t")
    _decide(db)
    other = open_db(db_path)  # another process's connection
    writer.save_items(other, _items(DEATH[2:], "death2", "en"), run_id="u")
    _decide(other)
    assert len(_stories(db, "death")) == 1


def test_a_kept_clusterer_is_not_used_once_another_writer_saved_stories(db_path: Path) -> None:
    db = open_db(db_path)
    writer.save_items(db, _items(TALKS[:1], "talks", "en"), run_id="t")
    _decide(db)
    name = linking._database_file(db)
    kept = linking._kept.pop(name)  # another process has no clusterer of this one's
    other = open_db(db_path)
    writer.save_items(other, _items(DEATH[:2], "death", "en"), run_id="u")
    _decide(other)
    linking._kept[name] = kept
    writer.save_items(db, _items(DEATH[2:], "death2", "en"), run_id="t")
    _decide(db)
    assert linking._kept[name] is not kept
    assert len(_stories(db, "death")) == 1


def test_a_pass_reads_story_state_through_indexes_only(db_path: Path) -> None:
    """The stored stories, index entries and frequencies are read by key, never scanned: an
    increment costs what its reports look up, whatever the database holds."""
    db = open_db(db_path)
    writer.save_items(
        db, _items(DEATH[:2], "death", "en") + _items(TALKS, "talks", "en"), run_id="t"
    )
    _decide(db)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    writer.save_items(db, _items(DEATH[2:], "death2", "en"), run_id="t")
    _decide(db)
    db.conn.set_trace_callback(None)
    tables = ("story_state", "story_postings", "story_df", "story_days", "story_counted")
    read = [
        s for s in statements if s.lstrip().startswith("SELECT") and any(t in s for t in tables)
    ]
    assert read
    for statement in read:
        plan = " ".join(str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {statement}"))
        for table in tables:
            assert f"SCAN {table}" not in plan, (statement, plan)


def _articles(dated: bool) -> list[Item]:
    return [
        loader.finish_item(
            Item(key=key, title=title, body=body, source=outlet,
                 published_at=published if dated else None)
        )
        for key, (title, outlet, published, body) in zip(
            ("fire-a", "fireother-a", "other-a"), (FIRE, FIRE_OTHER_OUTLET, OTHER_FIRE), strict=True
        )
    ]  # fmt: skip


def test_two_outlets_own_articles_of_one_dated_event_share_a_story(db_path: Path) -> None:
    db = open_db(db_path)
    writer.save_items(db, _articles(dated=True), run_id="t")
    _decide(db)
    assert _stories(db, "fire") == _stories(db, "fireother")
    assert _stories(db, "other") != _stories(db, "fire")  # another fire, three days later


def test_undated_articles_need_the_text_and_details_of_a_rewrite(db_path: Path) -> None:
    """Without dates a saga's next article and another outlet's report look alike: an undated
    long report joins only when it keeps most of the story's text and details."""
    db = open_db(db_path)
    writer.save_items(db, _articles(dated=False), run_id="t")
    _decide(db)
    assert len(_stories(db, "fire") | _stories(db, "fireother") | _stories(db, "other")) == 3
