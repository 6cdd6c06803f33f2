"""A gazetteer: country and organisation names in English, German and more, to shared ids.

An English report and its German translation rarely share words, but they name the same countries
and organisations: "Cambodia", "Cambodian", "Kambodscha" and "kambodschanischen" all become
`country:KH`. Every country's name comes from CLDR (`tasks/common/cldr.py`: English and German for
every text, each other summarised language's for texts in it); kept by hand is only what CLDR
lacks: demonyms and adjectives, short forms ("U.S.", "UK"), and the international organisations.
Names of people and places that are spelt the same in every language are matched as they are. Story
grouping (`tasks/stories/entities.py`) and search (`tasks/store/search_index.py`,
`tasks/search/search_query.py`) use it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from newsflow.tasks.common import cldr

# What CLDR lacks, by country code: (English demonyms, adjectives and short forms; German adjective
# stems and other names). The countries' own names come from CLDR (`_cldr_names`). German
# adjectives inflect ("kambodschanische", "-en", "-er", "-es", "-em"), English demonyms take a
# plural "s"; both are generated below rather than listed.
COUNTRY_EXTRAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AF": (("Afghan",), ("afghanisch",)),
    "AL": (("Albanian",), ("albanisch",)),
    "DZ": (("Algerian",), ("algerisch",)),
    "AR": (("Argentine", "Argentinian"), ("argentinisch",)),
    "AM": (("Armenian",), ("armenisch",)),
    "AU": (("Australian",), ("australisch",)),
    "AT": (("Austrian",), ("österreichisch",)),
    "AZ": (("Azerbaijani",), ("aserbaidschanisch",)),
    "BD": (("Bangladeshi",), ("bangladeschisch",)),
    "BY": (("Belarusian",), ("Weißrussland", "belarussisch")),
    "BE": (("Belgian",), ("belgisch",)),
    "BO": (("Bolivian",), ("bolivianisch",)),
    "BA": (("Bosnia", "Bosnian"), ("Bosnien", "bosnisch")),
    "BR": (("Brazilian",), ("brasilianisch",)),
    "BN": ((), ("Brunei",)),
    "BG": (("Bulgarian",), ("bulgarisch",)),
    "KH": (("Cambodian", "Kampuchea"), ("kambodschanisch",)),
    "CA": (("Canadian",), ("kanadisch",)),
    "CL": (("Chilean",), ("chilenisch",)),
    "CN": (("Chinese", "PRC"), ("Volksrepublik China", "chinesisch")),
    "CO": (("Colombian",), ("kolumbianisch",)),
    "HR": (("Croatian",), ("kroatisch",)),
    "CU": (("Cuban",), ("kubanisch",)),
    "CY": (("Cypriot",), ("zypriotisch",)),
    "CZ": (("Czech Republic", "Czech"), ("tschechisch",)),
    "DK": (("Danish", "Dane"), ("dänisch",)),
    "EG": (("Egyptian",), ("ägyptisch",)),
    "EE": (("Estonian",), ("estnisch",)),
    "ET": (("Ethiopian",), ("äthiopisch",)),
    "FI": (("Finnish", "Finn"), ("finnisch",)),
    "FR": (("French",), ("französisch",)),
    "GE": (("Georgian",), ("georgisch",)),
    "DE": (("German",), ("deutsch", "Bundesrepublik")),
    "GH": (("Ghanaian",), ("ghanaisch",)),
    "GR": (("Greek",), ("griechisch",)),
    "HU": (("Hungarian",), ("ungarisch",)),
    "IS": (("Icelandic",), ("isländisch",)),
    "IN": (("Indian",), ("indisch",)),
    "ID": (("Indonesian",), ("indonesisch",)),
    "IR": (("Iranian",), ("iranisch",)),
    "IQ": (("Iraqi",), ("irakisch",)),
    "IE": (("Irish",), ("irisch",)),
    "IL": (("Israeli",), ("israelisch",)),
    "IT": (("Italian",), ("italienisch",)),
    "JP": (("Japanese",), ("japanisch",)),
    "JO": (("Jordanian",), ("jordanisch",)),
    "KZ": (("Kazakh",), ("kasachisch",)),
    "KE": (("Kenyan",), ("kenianisch",)),
    "KP": (("North Korean",), ("nordkoreanisch",)),
    "KR": (("South Korean",), ("südkoreanisch",)),
    "KW": (("Kuwaiti",), ("kuwaitisch",)),
    "LA": (("Lao", "Laotian"), ("laotisch",)),
    "LV": (("Latvian",), ("lettisch",)),
    "LB": (("Lebanese",), ("libanesisch",)),
    "LY": (("Libyan",), ("libysch",)),
    "LT": (("Lithuanian",), ("litauisch",)),
    "LU": ((), ("luxemburgisch",)),
    "MY": (("Malaysian",), ("malaysisch",)),
    "MX": (("Mexican",), ("mexikanisch",)),
    "MD": (("Moldovan",), ("Moldau", "Moldawien", "moldauisch")),
    "MN": (("Mongolian",), ("mongolisch",)),
    "MA": (("Moroccan",), ("marokkanisch",)),
    "MM": (("Burmese",), ("Birma", "birmanisch")),
    "NP": (("Nepalese", "Nepali"), ("nepalesisch",)),
    "NL": (("Holland", "Dutch"), ("Holland", "niederländisch")),
    "NZ": ((), ("neuseeländisch",)),
    "NG": (("Nigerian",), ("nigerianisch",)),
    "NO": (("Norwegian",), ("norwegisch",)),
    "PK": (("Pakistani",), ("pakistanisch",)),
    "PS": (("Palestine", "Palestinian", "Gaza", "West Bank"),
           ("Palästina", "palästinensisch", "Gaza", "Westjordanland")),
    "PE": (("Peruvian",), ("peruanisch",)),
    "PH": (("Filipino", "Philippine"), ("philippinisch",)),
    "PL": (("Polish",), ("polnisch",)),
    "PT": (("Portuguese",), ("portugiesisch",)),
    "QA": (("Qatari",), ("katarisch",)),
    "RO": (("Romanian",), ("rumänisch",)),
    "RU": (("Russian",), ("russisch",)),
    "SA": (("Saudi",), ("saudisch", "saudi-arabisch")),
    "RS": (("Serbian",), ("serbisch",)),
    "SG": (("Singaporean",), ("singapurisch",)),
    "SK": (("Slovak",), ("slowakisch",)),
    "SI": (("Slovenian",), ("slowenisch",)),
    "ZA": (("South African",), ("südafrikanisch",)),
    "ES": (("Spanish",), ("spanisch",)),
    "LK": (("Sri Lankan",), ("srilankisch",)),
    "SD": (("Sudanese",), ("sudanesisch",)),
    "SE": (("Swedish", "Swede"), ("schwedisch",)),
    "CH": (("Swiss",), ("schweizerisch",)),
    "SY": (("Syrian",), ("syrisch",)),
    "TW": (("Taiwanese",), ("taiwanisch",)),
    "TH": (("Thai",), ("thailändisch",)),
    "TR": (("Turkey", "Turkish"), ("türkisch",)),
    "UA": (("Ukrainian",), ("ukrainisch",)),
    "AE": (("UAE", "Emirati"), ("VAE",)),
    "GB": (("Britain", "Great Britain", "British", "UK", "England", "English", "Scotland",
            "Scottish", "Wales", "Welsh"),
           ("Großbritannien", "britisch", "England", "englisch", "Schottland", "schottisch",
            "Wales", "walisisch")),
    "US": (("United States of America", "America", "American", "US", "U.S.", "USA"),
           ("Vereinigten Staaten", "Amerika", "amerikanisch", "USA", "US")),
    "VE": (("Venezuelan",), ("venezolanisch",)),
    "VN": (("Viet Nam", "Vietnamese"), ("vietnamesisch",)),
    "YE": (("Yemeni",), ("jemenitisch",)),
    "HK": (("Hong Kong",), ("Hongkong",)),
    "MO": (("Macau", "Macao"), ("Macau", "Macao")),
    "CD": (("DR Congo", "Democratic Republic of the Congo", "Congolese"),
           ("Demokratische Republik Kongo", "kongolesisch")),
    "CG": (("Republic of the Congo",), ("Republik Kongo",)),
}  # fmt: skip

ORGANISATIONS: dict[str, tuple[str, ...]] = {
    "UN": ("United Nations", "UN", "U.N.", "Vereinte Nationen", "Vereinten Nationen", "UNO"),
    "UNSC": ("Security Council", "Sicherheitsrat", "UN-Sicherheitsrat"),
    "EU": ("European Union", "EU", "Europäische Union", "Europäischen Union"),
    "EC": ("European Commission", "EU Commission", "Europäische Kommission",
           "Europäischen Kommission", "EU-Kommission"),
    "EP": ("European Parliament", "Europäisches Parlament", "Europäischen Parlament",
           "Europaparlament", "EU-Parlament"),
    "ECB": ("European Central Bank", "ECB", "Europäische Zentralbank", "Europäischen Zentralbank",
            "EZB"),
    "FED": ("Federal Reserve", "US Federal Reserve", "US-Notenbank"),
    "BOE": ("Bank of England",),
    "IMF": ("International Monetary Fund", "IMF", "Internationaler Währungsfonds",
            "Internationalen Währungsfonds", "IWF"),
    "WB": ("World Bank", "Weltbank"),
    "WTO": ("World Trade Organization", "World Trade Organisation", "WTO",
            "Welthandelsorganisation"),
    "WHO": ("World Health Organization", "World Health Organisation", "WHO",
            "Weltgesundheitsorganisation"),
    "NATO": ("NATO", "Nato", "North Atlantic Treaty Organization"),
    "ASEAN": ("ASEAN", "Association of Southeast Asian Nations",
              "Verband Südostasiatischer Nationen"),
    "OPEC": ("OPEC", "Opec"),
    "G7": ("G7", "G-7"),
    "G20": ("G20", "G-20"),
    "OECD": ("OECD",),
    "IOC": ("International Olympic Committee", "IOC", "Internationales Olympisches Komitee",
            "Internationale Olympische Komitee", "IOK"),
    "FIFA": ("FIFA", "Fifa"),
    "UEFA": ("UEFA", "Uefa"),
    "IAAF": ("IAAF", "World Athletics", "Leichtathletik-Weltverband"),
    "WADA": ("World Anti-Doping Agency", "Wada", "WADA", "Welt-Anti-Doping-Agentur"),
    "ICRC": ("Red Cross", "Rotes Kreuz", "Roten Kreuz", "Rote Kreuz"),
    "AI": ("Amnesty International", "Amnesty"),
    "INTERPOL": ("Interpol",),
    "ICC": ("International Criminal Court", "Internationaler Strafgerichtshof",
            "Internationalen Strafgerichtshof"),
    "MOFA": ("Ministry of Foreign Affairs", "Foreign Ministry", "Foreign Office",
             "Außenministerium", "Außenministeriums", "Auswärtiges Amt", "Auswärtigen Amt",
             "Ministerium für auswärtige Angelegenheiten",
             "Ministeriums für auswärtige Angelegenheiten"),
    "UNTAC": ("UNTAC",),
    "AU": ("African Union", "Afrikanische Union", "Afrikanischen Union"),
    "ARABLEAGUE": ("Arab League", "Arabische Liga", "Arabischen Liga"),
    "OSCE": ("OSCE", "Organization for Security and Co-operation in Europe", "OSZE"),
    "COE": ("Council of Europe", "Europarat", "Europarats"),
    "IAEA": ("IAEA", "International Atomic Energy Agency", "IAEO",
             "Internationale Atomenergiebehörde", "Internationalen Atomenergiebehörde"),
    "UNESCO": ("UNESCO", "Unesco"),
    "UNICEF": ("UNICEF", "Unicef"),
    "UNHCR": ("UNHCR", "UN refugee agency", "UN-Flüchtlingshilfswerk"),
    "UNHRC": ("Human Rights Council", "UN-Menschenrechtsrat", "Menschenrechtsrat"),
    "WFP": ("World Food Programme", "WFP", "Welternährungsprogramm"),
    "ILO": ("International Labour Organization", "ILO", "Internationale Arbeitsorganisation"),
    "FAO": ("Food and Agriculture Organization", "FAO"),
    "OAS": ("Organization of American States", "OAS", "Organisation Amerikanischer Staaten"),
    "MERCOSUR": ("Mercosur",),
    "APEC": ("APEC", "Asia-Pacific Economic Cooperation"),
    "BRICS": ("BRICS", "Brics"),
    "SCO": ("SCO", "Shanghai Cooperation Organisation", "Shanghai Cooperation Organization",
            "Shanghaier Organisation für Zusammenarbeit"),
    "GCC": ("Gulf Cooperation Council", "Golf-Kooperationsrat", "Golfkooperationsrat"),
    "ICJ": ("International Court of Justice", "Internationaler Gerichtshof",
            "Internationalen Gerichtshof", "IGH"),
    "ADB": ("Asian Development Bank", "Asiatische Entwicklungsbank",
            "Asiatischen Entwicklungsbank"),
    "ECOWAS": ("ECOWAS", "Economic Community of West African States", "Ecowas"),
    "MSF": ("Doctors Without Borders", "Médecins Sans Frontières", "Ärzte ohne Grenzen"),
    "HRW": ("Human Rights Watch",),
}  # fmt: skip

_GERMAN_ADJECTIVE_ENDINGS = ("", "e", "en", "er", "es", "em")
_TOKEN = re.compile(r"[\w.]+", re.UNICODE)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
MAX_PHRASE = 5


def fold(text: str) -> str:
    """Case-folded text without diacritics, so 'Österreich' and 'Osterreich' match."""
    if text.isascii():  # most English text: nothing to decompose
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Drop the combining marks with one C-level translate rather than a test per character.
    marks = {
        ord(ch): None for ch in set(_NON_ASCII.findall(decomposed)) if unicodedata.combining(ch)
    }
    return decomposed.translate(marks) if marks else decomposed


def tokens(text: str) -> list[str]:
    """Word tokens with hyphens split off and dots kept inside ('U.S.'), as the tables see them."""
    return [token.strip(".") for token in _TOKEN.findall(text) if token.strip(".")]


def _is_acronym(name: str) -> bool:
    letters = [ch for ch in name if ch.isalpha()]
    return len(letters) <= 5 and all(ch.isupper() for ch in letters)


# German names whose genitive is an English word ("Islands" is not Iceland's).
_NO_GENITIVE = frozenset({"Island"})
# CLDR English names that are, more often than not, something else in news text.
_AMBIGUOUS = frozenset({"Jersey", "Réunion"})
# The languages whose names hold for every text; a name in another summarised language counts only
# in a text of that language (French "Maurice" is Mauritius, in English a first name).
BASE_LANGUAGES = ("en", "de")


def _cldr_names(language: str) -> dict[str, list[str]]:
    """Country code → its CLDR names in the language (`tasks/common/cldr.py`), the ambiguous left
    out."""
    return {
        code: [name for name in names if name not in _AMBIGUOUS]
        for code, names in cldr.country_names(language).items()
    }


@lru_cache(maxsize=32)
def _tables(
    language: str | None = None,
) -> tuple[dict[tuple[str, ...], tuple[str, bool]], dict[str, str]]:
    """Folded phrase → (id, needs a capital); exact-case acronym → id ('us', 'who' never match).
    English and German names always; a text's own language's country names too."""
    phrases: dict[tuple[str, ...], tuple[str, bool]] = {}
    acronyms: dict[str, str] = {}

    def add(name: str, ident: str, *, german_adjective: bool = False, plural: bool = False) -> None:
        if _is_acronym(name):
            acronyms[name.replace(".", "")] = ident
            return
        forms = {name}
        if german_adjective:
            forms = {name + ending for ending in _GERMAN_ADJECTIVE_ENDINGS}
        elif plural:
            forms |= {name + "s"}
        for form in forms:
            # Names must be capitalised in the text ("Polish", not "polish"); German adjectives
            # are written in lower case inside a sentence.
            key = tuple(fold(token) for token in tokens(form))
            phrases.setdefault(key, (ident, not german_adjective))

    english, german = _cldr_names("en"), _cldr_names("de")
    for code in dict.fromkeys([*COUNTRY_EXTRAS, *english]):
        ident = f"country:{code}"
        english_extra, german_extra = COUNTRY_EXTRAS.get(code, ((), ()))
        for name in [*english.get(code, []), *english_extra]:
            # Demonyms take a plural ("Cambodians"); the tokenizer splits genitives ("Japan's").
            add(name, ident, plural=True)
        for name in [*german.get(code, []), *german_extra]:
            add(name, ident, german_adjective=name[:1].islower())
            if name[:1].isupper() and not _is_acronym(name) and name not in _NO_GENITIVE:
                add(name + "s", ident)  # German genitive: "Japans", "Kambodschas"
    for code, names in ORGANISATIONS.items():
        for name in names:
            add(name, f"org:{code}")
    if language and language not in BASE_LANGUAGES:
        for code, own in _cldr_names(language).items():
            for name in own:
                add(name, f"country:{code}")
    return phrases, acronyms


@lru_cache(maxsize=32)
def _first_words(language: str | None = None) -> frozenset[str]:
    """The folded first word of every phrase: most words of a text start none, and are skipped."""
    return frozenset(key[0] for key in _tables(language)[0])


@lru_cache(maxsize=100_000)
def fold_word(token: str) -> str:
    """`fold` of a single word, remembered: news repeats its words."""
    return fold(token)


def find(text: str, language: str | None = None) -> Counter[str]:
    """Ids of the countries and organisations named in `text` (in `language`, when known), with
    how often each is named."""
    language = language if language not in BASE_LANGUAGES else None  # one table serves both
    phrases, acronyms = _tables(language)
    starts = _first_words(language)
    raw = tokens(text)
    folded = [fold_word(token) for token in raw]
    found: Counter[str] = Counter()
    free = 0  # the first token not taken by a match yet
    # Only an upper-case token (an acronym) or the first word of a phrase can start a match.
    for i in [i for i, word in enumerate(folded) if word in starts or raw[i].isupper()]:
        if i < free:
            continue
        match, length = None, 1
        if folded[i] in starts:
            for size in range(min(MAX_PHRASE, len(raw) - i), 0, -1):
                entry = phrases.get(tuple(folded[i : i + size]))
                if entry and (not entry[1] or raw[i][:1].isupper()):
                    match, length = entry[0], size
                    break
        # An acronym, unless it starts a longer name ("U.S. Virgin Islands", "EU-Kommission").
        if length == 1 and raw[i].isupper():
            match = acronyms.get(raw[i].replace(".", "")) or match
        if match:
            found[match] += 1
            free = i + length
    return found


def is_known(token: str) -> bool:
    """True when a single word is a gazetteer name (so it is not counted again as a name)."""
    phrases, acronyms = _tables()
    return token.replace(".", "") in acronyms or (fold_word(token),) in phrases


def lookup(words: Sequence[str], languages: Sequence[str] = ()) -> tuple[str, int] | None:
    """The id of the longest name that `words` (query words, as typed) start with, and how many
    words it takes. Case is not required, since queries are typed in lower case, except for
    acronyms ('US' is the United States, 'us' is not) and for the country names of `languages`
    beyond English and German, which are tried only as written with a capital."""
    phrases, acronyms = _tables()
    for size in range(min(MAX_PHRASE, len(words)), 0, -1):
        if size == 1 and words[0].replace(".", "").isupper():
            ident = acronyms.get(words[0].replace(".", ""))
            if ident:
                return ident, 1
        key = tuple(fold_word(token) for token in tokens(" ".join(words[:size])))
        entry = phrases.get(key)
        if entry:
            return entry[0], size
    if not words or not words[0][:1].isupper():
        return None
    for language in languages:
        if language in BASE_LANGUAGES:
            continue
        names = _own_names(language)
        for size in range(min(MAX_PHRASE, len(words)), 0, -1):
            ident = names.get(tuple(fold_word(t) for t in tokens(" ".join(words[:size]))))
            if ident:
                return ident, size
    return None


@lru_cache(maxsize=32)
def _own_names(language: str) -> dict[tuple[str, ...], str]:
    """Folded country names of one language (CLDR) → id."""
    return {
        tuple(fold(token) for token in tokens(name)): f"country:{code}"
        for code, names in _cldr_names(language).items()
        for name in names
    }
