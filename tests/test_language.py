"""The language of short text: declared hints, a restricted identifier with a floor, the outlet's
usual language, and never a confident wrong guess; long text decides for itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsflow.tasks.ingest import loader, scan
from newsflow.tasks.ingest.language import (
    detect_language,
    identify,
    plausible_languages,
    usual_language,
)

# Headlines written for these tests (short, no sentence punctuation, the hard case).
ENGLISH = [
    "Storm forces airport to cancel hundreds of flights",
    "City council approves new budget after long debate",
    "Scientists warn of record heat this summer",
    "Police arrest two men after bank robbery",
    "Hospital workers vote to strike over pay",
]
GERMAN = [
    "Sturm legt Bahnverkehr in Norddeutschland lahm",
    "Gewerkschaft droht mit Warnstreiks im Nahverkehr",
    "Regierung einigt sich auf Haushalt für das kommende Jahr",
    "Mieten in Großstädten steigen erneut",
    "Polizei sucht Zeugen nach Überfall auf Juwelier",
]
# Names alone say nothing of a language: the identifier is unsure of them.
NAMES_ONLY = ["Samsung Galaxy S5 review", "Kanye West Bio", "Bayern 2:1 Dortmund"]
LONG_GERMAN = (
    "Die Regierung hat sich nach langen Verhandlungen auf einen Haushalt für das kommende Jahr "
    "geeinigt. Die Ausgaben für Bildung und Verkehr steigen, bei der Verwaltung wird gespart. "
    "Die Opposition kritisierte den Entwurf als unausgewogen und kündigte Widerstand an."
)


@pytest.mark.parametrize("headline", ENGLISH)
def test_short_english_headlines_come_out_english_without_a_hint(headline: str) -> None:
    found = identify(headline)
    assert found.code == "en" and found.confident


@pytest.mark.parametrize("headline", GERMAN)
def test_short_german_headlines_come_out_german_with_or_without_a_hint(headline: str) -> None:
    assert detect_language(headline) == "de"
    assert detect_language(headline, hint="de") == "de"


@pytest.mark.parametrize("headline", ENGLISH[:2])
def test_a_hint_names_a_short_text_and_is_not_mistaken_for_its_own_finding(headline: str) -> None:
    found = identify(headline, hint="en")
    assert found.code == "en" and not found.confident  # the hint said so, not the text


def test_a_wrong_hint_is_overridden_only_by_a_confident_long_text() -> None:
    # A headline is too little to argue with what the feed declares...
    assert detect_language(GERMAN[0], hint="en") == "en"
    # ...a paragraph of German is not.
    assert len(LONG_GERMAN) > 200
    found = identify(LONG_GERMAN, hint="en")
    assert found.code == "de" and found.confident


@pytest.mark.parametrize("headline", NAMES_ONLY)
def test_a_low_confidence_short_text_without_a_hint_is_unknown(headline: str) -> None:
    assert identify(headline) == identify(headline, hint=None)
    assert detect_language(headline) is None
    assert detect_language(headline, hint="en") == "en"  # below the floor, the hint


def test_other_scripts_are_not_forced_into_a_european_language() -> None:
    assert "ja" not in plausible_languages()
    assert detect_language("日本とカンボジアが協力を強化") == "ja"
    # Unsure of a short Russian line: unknown, not another Cyrillic language.
    assert detect_language("Землетрясение в Турции") in ("ru", None)


def test_empty_or_letterless_text_is_the_hint_or_unknown() -> None:
    assert detect_language("") is None
    assert detect_language("2024 — 3:1", hint="de") == "de"


def test_usual_language_needs_a_clear_majority() -> None:
    assert usual_language(["en", "en", "en", "de"]) == "en"
    assert usual_language(["en", "de"]) is None
    assert usual_language([None, None]) is None
    assert usual_language([]) is None


def test_records_the_text_cannot_name_take_their_outlets_language(tmp_path: Path) -> None:
    records = [{"title": t, "source": "Morning Wire"} for t in ENGLISH[:4]]
    records += [{"title": t, "source": "Abendblatt"} for t in GERMAN[:3]]
    records += [
        {"title": NAMES_ONLY[0], "source": "Morning Wire"},
        {"title": NAMES_ONLY[2], "source": "Abendblatt"},
        {"title": NAMES_ONLY[1], "source": "Somebody New", "language": "fr"},  # declared
    ]
    (tmp_path / "headlines.jsonl").write_text(
        "\n".join(json.dumps(r) for r in records), encoding="utf-8"
    )
    entries, _ = scan.scan_folder(tmp_path)
    items, rejects = loader.load_file(entries[0])
    assert rejects == []
    language = {item.title: item.language for item in items}
    assert language[NAMES_ONLY[0]] == "en"
    assert language[NAMES_ONLY[2]] == "de"
    assert language[NAMES_ONLY[1]] == "fr"
    assert all(language[t] == "en" for t in ENGLISH[:4])
    assert all(language[t] == "de" for t in GERMAN[:3])


def test_a_lone_record_the_text_cannot_name_takes_the_files_usual_language(
    tmp_path: Path,
) -> None:
    records = [{"title": t, "source": f"Outlet {n}"} for n, t in enumerate(ENGLISH)]
    records.append({"title": NAMES_ONLY[1], "source": "A Blog Nobody Knows"})
    (tmp_path / "headlines.json").write_text(json.dumps(records), encoding="utf-8")
    entries, _ = scan.scan_folder(tmp_path)
    items, _ = loader.load_file(entries[0])
    assert {item.title: item.language for item in items}[NAMES_ONLY[1]] == "en"


def test_the_german_seed_is_german() -> None:
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    entries, _ = scan.scan_folder(seeds)
    languages = [item.language for entry in entries for item in loader.load_file(entry)[0]]
    assert sorted(languages) == ["de", "en", "en", "en", "en"]
