"""A small bilingual (English/German) gazetteer: country and organisation names to shared ids.

An English report and its German translation rarely share words, but they name the same countries
and organisations: "Cambodia", "Cambodian", "Kambodscha" and "kambodschanischen" all become
`KH`. The table is deliberately small (countries, demonyms, major international bodies); names of
people and places that are spelt the same in both languages are matched as they are.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

# id: (English names and demonyms, German names and adjective stems). German adjectives inflect
# ("kambodschanische", "-en", "-er", "-es", "-em"), English demonyms take a plural "s"; both are
# generated below rather than listed.
COUNTRIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AF": (("Afghanistan", "Afghan"), ("Afghanistan", "afghanisch")),
    "AL": (("Albania", "Albanian"), ("Albanien", "albanisch")),
    "DZ": (("Algeria", "Algerian"), ("Algerien", "algerisch")),
    "AR": (("Argentina", "Argentine", "Argentinian"), ("Argentinien", "argentinisch")),
    "AM": (("Armenia", "Armenian"), ("Armenien", "armenisch")),
    "AU": (("Australia", "Australian"), ("Australien", "australisch")),
    "AT": (("Austria", "Austrian"), ("Österreich", "österreichisch")),
    "AZ": (("Azerbaijan", "Azerbaijani"), ("Aserbaidschan", "aserbaidschanisch")),
    "BD": (("Bangladesh", "Bangladeshi"), ("Bangladesch", "bangladeschisch")),
    "BY": (("Belarus", "Belarusian"), ("Belarus", "Weißrussland", "belarussisch")),
    "BE": (("Belgium", "Belgian"), ("Belgien", "belgisch")),
    "BO": (("Bolivia", "Bolivian"), ("Bolivien", "bolivianisch")),
    "BA": (("Bosnia", "Bosnian"), ("Bosnien", "bosnisch")),
    "BR": (("Brazil", "Brazilian"), ("Brasilien", "brasilianisch")),
    "BN": (("Brunei",), ("Brunei",)),
    "BG": (("Bulgaria", "Bulgarian"), ("Bulgarien", "bulgarisch")),
    "KH": (("Cambodia", "Cambodian", "Kampuchea"), ("Kambodscha", "kambodschanisch")),
    "CA": (("Canada", "Canadian"), ("Kanada", "kanadisch")),
    "CL": (("Chile", "Chilean"), ("Chile", "chilenisch")),
    "CN": (("China", "Chinese", "PRC"), ("China", "Volksrepublik China", "chinesisch")),
    "CO": (("Colombia", "Colombian"), ("Kolumbien", "kolumbianisch")),
    "HR": (("Croatia", "Croatian"), ("Kroatien", "kroatisch")),
    "CU": (("Cuba", "Cuban"), ("Kuba", "kubanisch")),
    "CY": (("Cyprus", "Cypriot"), ("Zypern", "zypriotisch")),
    "CZ": (("Czech Republic", "Czechia", "Czech"), ("Tschechien", "tschechisch")),
    "DK": (("Denmark", "Danish", "Dane"), ("Dänemark", "dänisch")),
    "EG": (("Egypt", "Egyptian"), ("Ägypten", "ägyptisch")),
    "EE": (("Estonia", "Estonian"), ("Estland", "estnisch")),
    "ET": (("Ethiopia", "Ethiopian"), ("Äthiopien", "äthiopisch")),
    "FI": (("Finland", "Finnish", "Finn"), ("Finnland", "finnisch")),
    "FR": (("France", "French"), ("Frankreich", "französisch")),
    "GE": (("Georgia", "Georgian"), ("Georgien", "georgisch")),
    "DE": (("Germany", "German"), ("Deutschland", "deutsch", "Bundesrepublik")),
    "GH": (("Ghana", "Ghanaian"), ("Ghana", "ghanaisch")),
    "GR": (("Greece", "Greek"), ("Griechenland", "griechisch")),
    "HU": (("Hungary", "Hungarian"), ("Ungarn", "ungarisch")),
    "IS": (("Iceland", "Icelandic"), ("Island", "isländisch")),
    "IN": (("India", "Indian"), ("Indien", "indisch")),
    "ID": (("Indonesia", "Indonesian"), ("Indonesien", "indonesisch")),
    "IR": (("Iran", "Iranian"), ("Iran", "iranisch")),
    "IQ": (("Iraq", "Iraqi"), ("Irak", "irakisch")),
    "IE": (("Ireland", "Irish"), ("Irland", "irisch")),
    "IL": (("Israel", "Israeli"), ("Israel", "israelisch")),
    "IT": (("Italy", "Italian"), ("Italien", "italienisch")),
    "JP": (("Japan", "Japanese"), ("Japan", "japanisch")),
    "JO": (("Jordan", "Jordanian"), ("Jordanien", "jordanisch")),
    "KZ": (("Kazakhstan", "Kazakh"), ("Kasachstan", "kasachisch")),
    "KE": (("Kenya", "Kenyan"), ("Kenia", "kenianisch")),
    "KP": (("North Korea", "North Korean"), ("Nordkorea", "nordkoreanisch")),
    "KR": (("South Korea", "South Korean"), ("Südkorea", "südkoreanisch")),
    "KW": (("Kuwait", "Kuwaiti"), ("Kuwait", "kuwaitisch")),
    "LA": (("Laos", "Lao", "Laotian"), ("Laos", "laotisch")),
    "LV": (("Latvia", "Latvian"), ("Lettland", "lettisch")),
    "LB": (("Lebanon", "Lebanese"), ("Libanon", "libanesisch")),
    "LY": (("Libya", "Libyan"), ("Libyen", "libysch")),
    "LT": (("Lithuania", "Lithuanian"), ("Litauen", "litauisch")),
    "LU": (("Luxembourg",), ("Luxemburg", "luxemburgisch")),
    "MY": (("Malaysia", "Malaysian"), ("Malaysia", "malaysisch")),
    "MX": (("Mexico", "Mexican"), ("Mexiko", "mexikanisch")),
    "MD": (("Moldova", "Moldovan"), ("Moldau", "Moldawien", "moldauisch")),
    "MN": (("Mongolia", "Mongolian"), ("Mongolei", "mongolisch")),
    "MA": (("Morocco", "Moroccan"), ("Marokko", "marokkanisch")),
    "MM": (("Myanmar", "Burma", "Burmese"), ("Myanmar", "Birma", "birmanisch")),
    "NP": (("Nepal", "Nepalese", "Nepali"), ("Nepal", "nepalesisch")),
    "NL": (("Netherlands", "Holland", "Dutch"), ("Niederlande", "Holland", "niederländisch")),
    "NZ": (("New Zealand",), ("Neuseeland", "neuseeländisch")),
    "NG": (("Nigeria", "Nigerian"), ("Nigeria", "nigerianisch")),
    "NO": (("Norway", "Norwegian"), ("Norwegen", "norwegisch")),
    "PK": (("Pakistan", "Pakistani"), ("Pakistan", "pakistanisch")),
    "PS": (("Palestine", "Palestinian", "Gaza", "West Bank"),
           ("Palästina", "palästinensisch", "Gaza", "Westjordanland")),
    "PE": (("Peru", "Peruvian"), ("Peru", "peruanisch")),
    "PH": (("Philippines", "Filipino", "Philippine"), ("Philippinen", "philippinisch")),
    "PL": (("Poland", "Polish"), ("Polen", "polnisch")),
    "PT": (("Portugal", "Portuguese"), ("Portugal", "portugiesisch")),
    "QA": (("Qatar", "Qatari"), ("Katar", "katarisch")),
    "RO": (("Romania", "Romanian"), ("Rumänien", "rumänisch")),
    "RU": (("Russia", "Russian"), ("Russland", "russisch")),
    "SA": (("Saudi Arabia", "Saudi"), ("Saudi-Arabien", "saudisch", "saudi-arabisch")),
    "RS": (("Serbia", "Serbian"), ("Serbien", "serbisch")),
    "SG": (("Singapore", "Singaporean"), ("Singapur", "singapurisch")),
    "SK": (("Slovakia", "Slovak"), ("Slowakei", "slowakisch")),
    "SI": (("Slovenia", "Slovenian"), ("Slowenien", "slowenisch")),
    "ZA": (("South Africa", "South African"), ("Südafrika", "südafrikanisch")),
    "ES": (("Spain", "Spanish"), ("Spanien", "spanisch")),
    "LK": (("Sri Lanka", "Sri Lankan"), ("Sri Lanka", "srilankisch")),
    "SD": (("Sudan", "Sudanese"), ("Sudan", "sudanesisch")),
    "SE": (("Sweden", "Swedish", "Swede"), ("Schweden", "schwedisch")),
    "CH": (("Switzerland", "Swiss"), ("Schweiz", "schweizerisch")),
    "SY": (("Syria", "Syrian"), ("Syrien", "syrisch")),
    "TW": (("Taiwan", "Taiwanese"), ("Taiwan", "taiwanisch")),
    "TH": (("Thailand", "Thai"), ("Thailand", "thailändisch")),
    "TR": (("Turkey", "Türkiye", "Turkish"), ("Türkei", "türkisch")),
    "UA": (("Ukraine", "Ukrainian"), ("Ukraine", "ukrainisch")),
    "AE": (("United Arab Emirates", "UAE", "Emirati"), ("Vereinigte Arabische Emirate", "VAE")),
    "GB": (("United Kingdom", "Britain", "Great Britain", "British", "UK", "England", "English",
            "Scotland", "Scottish", "Wales", "Welsh"),
           ("Vereinigtes Königreich", "Großbritannien", "britisch", "England", "englisch",
            "Schottland", "schottisch", "Wales", "walisisch")),
    "US": (("United States", "United States of America", "America", "American", "US", "U.S.",
            "USA"),
           ("Vereinigte Staaten", "Vereinigten Staaten", "Amerika", "amerikanisch", "USA",
            "US")),
    "VE": (("Venezuela", "Venezuelan"), ("Venezuela", "venezolanisch")),
    "VN": (("Vietnam", "Viet Nam", "Vietnamese"), ("Vietnam", "vietnamesisch")),
    "YE": (("Yemen", "Yemeni"), ("Jemen", "jemenitisch")),
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


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[tuple[str, ...], tuple[str, bool]], dict[str, str]]:
    """Folded phrase → (id, needs a capital); exact-case acronym → id ('us', 'who' never match)."""
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

    for code, (english, german) in COUNTRIES.items():
        ident = f"country:{code}"
        for name in english:
            # Demonyms take a plural ("Cambodians"); the tokenizer splits genitives ("Japan's").
            add(name, ident, plural=True)
        for name in german:
            add(name, ident, german_adjective=name[:1].islower())
            if name[:1].isupper() and not _is_acronym(name):
                add(name + "s", ident)  # German genitive: "Japans", "Kambodschas"
    for code, names in ORGANISATIONS.items():
        for name in names:
            add(name, f"org:{code}")
    return phrases, acronyms


@lru_cache(maxsize=1)
def _first_words() -> frozenset[str]:
    """The folded first word of every phrase: most words of a text start none, and are skipped."""
    return frozenset(key[0] for key in _tables()[0])


@lru_cache(maxsize=100_000)
def fold_word(token: str) -> str:
    """`fold` of a single word, remembered: news repeats its words."""
    return fold(token)


def find(text: str) -> Counter[str]:
    """Ids of the countries and organisations named in `text`, with how often each is named."""
    phrases, acronyms = _tables()
    starts = _first_words()
    raw = tokens(text)
    folded = [fold_word(token) for token in raw]
    found: Counter[str] = Counter()
    free = 0  # the first token not taken by a match yet
    # Only an upper-case token (an acronym) or the first word of a phrase can start a match.
    for i in [i for i, word in enumerate(folded) if word in starts or raw[i].isupper()]:
        if i < free:
            continue
        match = acronyms.get(raw[i].replace(".", "")) if raw[i].isupper() else None
        length = 1
        if match is None and folded[i] in starts:
            for size in range(min(MAX_PHRASE, len(raw) - i), 0, -1):
                entry = phrases.get(tuple(folded[i : i + size]))
                if entry and (not entry[1] or raw[i][:1].isupper()):
                    match, length = entry[0], size
                    break
        if match:
            found[match] += 1
            free = i + length
    return found


def is_known(token: str) -> bool:
    """True when a single word is a gazetteer name (so it is not counted again as a name)."""
    phrases, acronyms = _tables()
    return token.replace(".", "") in acronyms or (fold_word(token),) in phrases


def lookup(words: Sequence[str]) -> tuple[str, int] | None:
    """The id of the longest name that `words` (query words, as typed) start with, and how many
    words it takes. Case is not required, since queries are typed in lower case, except for
    acronyms: 'US' is the United States, 'us' is not."""
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
    return None
