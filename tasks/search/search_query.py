"""A search query, read as the user wrote it and rewritten for the stemmed index.

The syntax is FTS5's simple part: words (all must match), `"a phrase"`, `prefix*`, `AND`, `OR`,
`NOT` (upper case; binary, as in FTS5: `a NOT b`) and parentheses. Each word becomes the OR of its
Snowball stems in every language the index holds, each tagged with its language
(`tasks/store/search_index.py`), so 'meetings' and 'meeting' are one term in English documents and
'zusammenarbeiten' matches 'Zusammenarbeit' in German ones. A word or run of words that the
gazetteer knows ('Cambodia', 'United States', 'U.S.', 'Kambodscha') also matches its id, which
the index holds for every document that names it in any language.

Anything else is refused with a reason (`BadQuery`): an unbalanced quote or parenthesis, an
operator with nothing on one side, a lone `*`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from newsflow.tasks.common import cldr, gazetteer, shingles
from newsflow.tasks.store.search_index import language_of_tag, name_token, tag_of, tags

# Operators FTS5 knows that we do not offer; they are refused rather than searched for as words.
OPERATORS = ("AND", "OR", "NOT")
# A prefix matches stems that begin with it, and also the stem of a word it begins: Snowball takes
# up to this many letters more off a word than the user typed ('cooperat*' finds 'cooper').
PREFIX_SLACK = 3
MIN_PREFIX_STEM = 4

_LEX = re.compile(
    r"""(?P<space>\s+)
      | (?P<phrase>"[^"]*")(?P<phrase_star>\*)?
      | (?P<open>\() | (?P<close>\))
      | (?P<word>\w[\w.'’\-]*)(?P<word_star>\*)?
      | (?P<star>\*) | (?P<quote>") | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


class BadQuery(ValueError):
    """A search query that cannot be read; the message says why."""


@dataclass
class Terms:
    """Words that must appear together: one word, a quoted phrase, or a run the gazetteer knows."""

    text: str
    prefix: bool = False
    phrase: bool = False
    name: str | None = None  # gazetteer id


@dataclass
class Node:
    """An operator over its operands: AND, OR, or NOT (left NOT right)."""

    op: str
    parts: list[Node | Terms] = field(default_factory=list)


@dataclass(frozen=True)
class _Token:
    kind: str  # word | phrase | open | close | op
    text: str
    prefix: bool = False


def _lex(query: str) -> list[_Token]:
    found: list[_Token] = []
    for match in _LEX.finditer(query):
        kind = match.lastgroup
        if kind in ("word_star", "phrase_star"):  # the optional group matched last
            kind = kind.removesuffix("_star")
        if kind == "quote":
            raise BadQuery('a quote (") is not closed')
        if kind == "star":
            raise BadQuery("'*' must end a word, as in 'minist*'")
        if kind == "phrase":
            text = match.group("phrase")[1:-1]
            found.append(_Token("phrase", text, bool(match.group("phrase_star"))))
        elif kind == "word":
            word = match.group("word")
            kind = "op" if word in OPERATORS and not match.group("word_star") else "word"
            found.append(_Token(kind, word, bool(match.group("word_star"))))
        elif kind in ("open", "close"):
            found.append(_Token(kind, match.group(0)))
        # space and other characters (punctuation, ':', '+') separate words
    return found


class _Parser:
    """Recursive descent, FTS5's precedence: NOT binds tighter than AND, AND than OR."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node | Terms:
        if not self.tokens:
            raise BadQuery("the query has no words")
        tree = self.any_of()
        extra = self.peek()
        if extra is not None:
            raise BadQuery(f"unexpected {extra.text!r}")
        return tree

    def any_of(self) -> Node | Terms:
        parts = [self.all_of()]
        while (token := self.peek()) and token.kind == "op" and token.text == "OR":
            self.take()
            parts.append(self.all_of())
        return parts[0] if len(parts) == 1 else Node("OR", parts)

    def all_of(self) -> Node | Terms:
        # Runs of bare words written side by side are looked up in the gazetteer together
        # ('United States'); an explicit AND ends a run.
        runs: list[list[Node | Terms]] = [[self.negated()]]
        while (token := self.peek()) and token.kind != "close":
            if token.kind == "op" and token.text == "OR":
                break
            if token.kind == "op" and token.text == "AND":
                self.take()
                runs.append([])
            runs[-1].append(self.negated())
        parts = [part for run in runs for part in _names_in(run)]
        return parts[0] if len(parts) == 1 else Node("AND", parts)

    def negated(self) -> Node | Terms:
        left = self.operand()
        while (token := self.peek()) and token.kind == "op" and token.text == "NOT":
            self.take()
            left = Node("NOT", [left, self.operand()])
        return left

    def operand(self) -> Node | Terms:
        token = self.peek()
        if token is None:
            before = self.tokens[self.at - 1].text if self.at else ""
            raise BadQuery(f"{before!r} needs a term after it" if before else "nothing to search")
        if token.kind == "op":
            raise BadQuery(f"{token.text!r} needs a term before it")
        if token.kind == "close":
            raise BadQuery("')' has no '(' before it")
        self.take()
        if token.kind == "open":
            if (inner := self.peek()) and inner.kind == "close":
                raise BadQuery("'()' holds nothing")
            tree = self.any_of()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise BadQuery("a '(' is not closed")
            self.take()
            return tree
        if token.kind == "phrase":
            if not shingles.tokens(token.text):
                raise BadQuery('a quoted phrase ("") holds no words')
            found = gazetteer.lookup(token.text.split(), cldr.languages())
            whole = found and found[1] == len(token.text.split())
            return Terms(token.text, token.prefix, True, found[0] if whole and found else None)
        found = None if token.prefix else gazetteer.lookup([token.text], cldr.languages())
        return Terms(token.text, token.prefix, name=found[0] if found and found[1] == 1 else None)


def _names_in(run: list[Node | Terms]) -> list[Node | Terms]:
    """The run with each longest gazetteer name among its bare words made one Terms."""
    out: list[Node | Terms] = []
    i = 0
    while i < len(run):
        words: list[str] = []
        for part in run[i : i + gazetteer.MAX_PHRASE]:
            if not isinstance(part, Terms) or part.phrase or part.prefix:
                break
            words.append(part.text)
        found = gazetteer.lookup(words, cldr.languages()) if words else None
        if found is None:
            out.append(run[i])
            i += 1
            continue
        ident, size = found
        out.append(Terms(" ".join(words[:size]), phrase=size > 1, name=ident))
        i += size
    return out


def parse(query: str) -> Node | Terms:
    """The query as a tree of operators over terms; BadQuery says what is wrong with it."""
    return _Parser(_lex(query)).parse()


def to_fts(query: str, *, languages: Sequence[str] | None = None) -> str:
    """The FTS5 expression that finds `query` in `documents_search`, stemmed in each of
    `languages` (every language the index holds when None)."""
    wanted = list(dict.fromkeys(tag_of(code) for code in languages)) if languages else tags()
    return _compile(parse(query), wanted)


def _compile(tree: Node | Terms, wanted: list[str]) -> str:
    if isinstance(tree, Terms):
        return "(" + " OR ".join(_alternatives(tree, wanted)) + ")"
    # Every operand in parentheses: the tree, not FTS5's precedence, decides what binds.
    compiled = [_compile(part, wanted) for part in tree.parts]
    wrapped = [
        f"({code})" if isinstance(part, Node) else code
        for part, code in zip(tree.parts, compiled, strict=True)
    ]
    return f" {tree.op} ".join(wrapped)


def _alternatives(terms: Terms, wanted: list[str]) -> list[str]:
    """The FTS5 phrases any of which matches `terms`: its stems per language tag, and its id."""
    found: dict[str, None] = {}
    for tag in wanted:
        language = language_of_tag(tag)
        stemmed = shingles.tokens(terms.text, language)
        if not stemmed:
            continue
        if not terms.prefix:
            found[_phrase(tag, stemmed)] = None
            continue
        # The last word is a prefix: of stems, or of the words Snowball shortens further.
        head, last = stemmed[:-1], shingles.tokens(terms.text, None)[-1]
        for start in {last, stemmed[-1]}:
            found[_phrase(tag, [*head, start]) + "*"] = None
        for size in range(max(MIN_PREFIX_STEM, len(last) - PREFIX_SLACK), len(last)):
            found[_phrase(tag, [*head, last[:size]])] = None
    if terms.name:
        found[f'names : "{name_token(terms.name)}"'] = None
    return list(found)


def _phrase(tag: str, words: list[str]) -> str:
    return '"' + " ".join(tag + word for word in words) + '"'
