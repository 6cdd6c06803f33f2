"""The language-aware search index: each document's words stemmed in its own language.

`documents_search` (FTS5, made by migration m021) holds, per document, its title and body as
Snowball stems of the document's language, each stem tagged with that language
('enmeet', 'dekambodscha'), and the gazetteer ids of the countries and organisations it names
('countrykh', 'orgun'). A query is stemmed in every language and OR-ed
(`tasks/search/search_query.py`);
the tags keep the German stem of an English query word from matching English documents, while a
name spelt alike in both languages ('Kishida') still matches in each. The store keeps the rows in
step with `documents` in the same transaction as the text they index.

Summaries are not indexed again: they are sentences of the body, so they add no word to find,
and putting each into its row when it is stored would re-index the whole row (an FTS5 update),
which doubled the cost of storing summaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlite_utils import Database

from newsflow.tasks.common import gazetteer, shingles
from newsflow.tasks.common.languages import PUNKT_LANGUAGES
from newsflow.tasks.store.transaction import write_transaction

# The tag of documents with no language or one without a Snowball stemmer: folded words as written.
PLAIN_TAG = "xx"
TABLE = "documents_search"
# The kinds of gazetteer id (`tasks/common/gazetteer.py`), as story signals carry them.
NAME_KINDS = ("country:", "org:")


@lru_cache(maxsize=1)
def _stemmed_languages() -> dict[str, str]:
    """Language code → tag, for every summarised language with a Snowball stemmer ('nb' and 'no'
    share Norwegian's stemmer, and so one tag)."""
    from newsflow.tasks.common.nltk_light import import_nltk

    import_nltk()
    from nltk.stem.snowball import SnowballStemmer

    tags: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for code, name in PUNKT_LANGUAGES.items():
        if name in SnowballStemmer.languages:
            tags[code] = by_name.setdefault(name, code)
    return tags


def tag_of(language: str | None) -> str:
    """The two-letter tag a document's stems carry: its language's, or PLAIN_TAG."""
    return _stemmed_languages().get(language or "", PLAIN_TAG)


def tags() -> list[str]:
    """Every tag a document can carry, PLAIN_TAG last."""
    return [*dict.fromkeys(_stemmed_languages().values()), PLAIN_TAG]


def language_of_tag(tag: str) -> str | None:
    """The language a tag stems in (None for PLAIN_TAG)."""
    return None if tag == PLAIN_TAG else tag


def stems(text: str | None, language: str | None) -> str:
    """The text as tagged stems of its language, space-separated."""
    if not text:
        return ""
    tag = tag_of(language)
    return " ".join([tag + word for word in shingles.tokens(text, language_of_tag(tag))])


def name_token(ident: str) -> str:
    """A gazetteer id as one index token: 'country:KH' → 'countrykh'."""
    return ident.replace(":", "").lower()


def names(title: str | None, body: str, language: str | None = None) -> str:
    """The gazetteer ids named in the title and body, as index tokens (once each, sorted)."""
    found = gazetteer.find(f"{title or ''}\n{body}", language)
    return " ".join(sorted(name_token(ident) for ident in found))


def entry(
    title: str | None,
    body: str,
    language: str | None,
    *,
    body_tokens: list[str] | None = None,
    signals: Iterable[str] | None = None,
) -> tuple[str, str, str]:
    """The title, body and names of a document's index row. A parse worker passes the body's
    `shingles.tokens` and the story signals it computed anyway, and the writer only joins them."""
    tag = tag_of(language)
    if body_tokens is None:
        body_stems = stems(body, language)
    else:
        body_stems = " ".join([tag + word for word in body_tokens])
    if signals is None:
        named = names(title, body, language)
    else:
        named = " ".join(sorted(name_token(s) for s in signals if s.startswith(NAME_KINDS)))
    return stems(title, language), body_stems, named


def row(
    document_id: int, title: str | None, body: str, language: str | None
) -> tuple[int, str, str, str]:
    """The index row of a document: (rowid, title, body, names)."""
    return (document_id, *entry(title, body, language))


def write(db: Database, rows: Iterable[tuple[int, str, str, str]]) -> None:
    """Replace the index rows of these documents."""
    rows = list(rows)
    db.conn.executemany(f"DELETE FROM {TABLE} WHERE rowid = ?", [(r[0],) for r in rows])
    db.conn.executemany(
        f"INSERT INTO {TABLE} (rowid, title, body, names) VALUES (?, ?, ?, ?)", rows
    )


_DOCUMENTS = "SELECT d.id, d.title, d.body, d.language FROM documents d"


def refresh(db: Database, ids: Iterable[int]) -> None:
    """Index these documents again from what is stored (title, body, language)."""
    ids = list(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = db.execute(
            _DOCUMENTS + f" WHERE d.id IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall()
        write(db, [row(*values) for values in found])


def rebuild(db: Database) -> int:
    """Index every document again (after a migration, or a change of stemming or gazetteer)."""
    db.execute(f"DELETE FROM {TABLE}")
    count = 0
    cursor = db.execute(_DOCUMENTS + " ORDER BY d.id")
    while batch := cursor.fetchmany(500):
        write(db, [row(*values) for values in batch])
        count += len(batch)
    return count


def backfill(db: Database) -> int:
    """Index the documents stored before the index existed, when a migration queued them (see
    m021 in `db/migrations.py`); the documents indexed, 0 when nothing was queued."""
    if not db.table("backfills").exists():
        return 0
    # A read first: a command that only reads must not wait for the write lock.
    if not db.execute("SELECT 1 FROM backfills WHERE name = ?", [TABLE]).fetchone():
        return 0
    with write_transaction(db):
        queued = db.execute("DELETE FROM backfills WHERE name = ? RETURNING name", [TABLE])
        if not queued.fetchall():
            return 0
        return rebuild(db)
