"""Country names in every summarised language, from the CLDR data that Babel ships.

Loading CLDR through Babel costs a quarter of a second per process, paid by every run and every
`newsflow search`; so the names are extracted once into `tasks/common/cldr_countries.json`, and a
test checks that the file is what the installed Babel gives. After upgrading Babel, regenerate it:

    python -m newsflow.tasks.common.cldr
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from newsflow.tasks.common.languages import PUNKT_LANGUAGES

DATA = Path(__file__).resolve().parent / "cldr_countries.json"
# CLDR territory codes that are no country or place (numeric codes, regions, are skipped too), and
# the organisations CLDR lists among territories (the gazetteer's own table names those).
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})
# The word for "and" that replaces CLDR's "&" ("Bosnia & Herzegovina"), where news writes it out.
CONJUNCTIONS = {"en": "and", "de": "und", "fr": "et", "es": "y", "it": "e", "nl": "en"}


def extract(language: str) -> dict[str, list[str]]:
    """Country code → its names in the language, from Babel: 'Myanmar (Burma)' gives both;
    names with a qualifier ("Congo - Kinshasa", "Hong Kong SAR China") are left to the gazetteer's
    hand-kept short forms."""
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return {}
    conjunction = CONJUNCTIONS.get(language)
    found: dict[str, list[str]] = {}
    for code, name in sorted(locale.territories.items()):
        if not code.isalpha() or code in NOT_COUNTRIES:
            continue
        if " - " in name or " SAR " in f"{name} ":
            continue
        names = [name]
        if " (" in name and name.endswith(")"):
            names = [part.strip() for part in name[:-1].split(" (", 1)]
        if conjunction:
            names += [n.replace(" & ", f" {conjunction} ") for n in names if " & " in n]
        found[code] = names
    return found


def extract_all() -> dict[str, object]:
    """The file's content: the names of every summarised language CLDR has, and their source."""
    import babel

    languages = sorted({code for code in PUNKT_LANGUAGES})
    return {
        "source": f"CLDR {babel.core.get_cldr_version()} via Babel {babel.__version__}",
        "languages": {code: names for code in languages if (names := extract(code))},
    }


@lru_cache(maxsize=1)
def _stored() -> dict[str, dict[str, list[str]]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    languages: dict[str, dict[str, list[str]]] = data["languages"]
    return languages


def country_names(language: str) -> dict[str, list[str]]:
    """Country code → its CLDR names in the language (empty for a language CLDR lacks)."""
    return _stored().get(language, {})


def languages() -> list[str]:
    """The languages the file has names in."""
    return list(_stored())


def main() -> None:
    """Write the data file from the installed Babel."""
    data = extract_all()
    languages: dict[str, dict[str, list[str]]] = data["languages"]  # type: ignore[assignment]
    # One line per language and country: a Babel upgrade shows as a readable diff.
    lines = [f'{{"source": {json.dumps(data["source"])}, "languages": {{']
    for i, (language, names) in enumerate(languages.items()):
        lines.append(f" {json.dumps(language)}: {{")
        entries = [f"  {json.dumps(code)}: {json.dumps(found, ensure_ascii=False)}"
                   for code, found in names.items()]  # fmt: skip
        lines.append(",\n".join(entries))
        lines.append(" }" + ("," if i < len(languages) - 1 else ""))
    lines.append("}}")
    DATA.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
