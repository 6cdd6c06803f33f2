"""The signature index: signatures stored per document, their LSH buckets in SQLite, and the
candidates of a document found through indexed look-ups only (same URL, same body, a shared body
or lede bucket), for many documents at once."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from sqlite_utils import Database

from newsflow.tasks.common import shingles
from newsflow.tasks.dedup import containment
from newsflow.tasks.dedup.documents import DedupResult, Doc, Facts, microseconds
from newsflow.tasks.dedup.signatures import (
    LEDE_BAND_BASE,
    NUM_PERM,
    SIGNATURE_SETTINGS,
    band_rows_of,
    bucket_keys_many,
    estimate,
    from_blob,
    is_empty,
    lede_from_blob,
    lede_rows_of,
    lede_signature,
    paragraph_hashes,
    signature_of,
    to_blob,
)

EXACT_LIMIT = 200


def insert_bands(db: Database, band_rows: list[tuple[int, int, int]]) -> None:
    """Index (band, bucket, document) rows, in key order: B-tree inserts in order touch far fewer
    pages."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO lsh_bands (band, bucket, document_id) VALUES (?, ?, ?)",
        sorted(band_rows),
    )


# Bucket look-ups of a pass are made for many documents' keys at once, this many keys a statement
# (three bound values each, well under SQLite's default limit of 32,766).
KEYS_PER_STATEMENT = 5000

# A bucket is read for its newest members only, this many. Most buckets hold one document; a
# crowded one is text that many documents share (an agency's standard paragraph, a template, one
# story retold from the same few sources), and reading all of it for every document that has it
# makes a pass grow with the square of the database. A real copy shares many buckets with its
# original, and a group forms through any of its members, so the newest are enough.
BUCKET_LIMIT = 50


def _bucket_sql(count: int, *, lede: bool = False) -> str:
    """The newest `BUCKET_LIMIT` members of `count` (band, bucket, owner) keys but their owner
    (the one document of the look-up that has the key, else 0): most buckets hold their owner
    alone, and return nothing."""
    # CROSS JOIN fixes the join order: SQLite walks our keys and searches the primary key
    # (band, bucket, document) for each, instead of scanning the bands table; the members come
    # from the same index read backwards, and stop at the limit.
    values = ",".join(["(?, ?, ?)"] * count)
    newest = (
        "b.document_id IN (SELECT n.document_id FROM lsh_bands n"
        " WHERE n.band = k.column1 AND n.bucket = k.column2 AND n.document_id != k.column3"
        f" ORDER BY n.document_id DESC LIMIT {BUCKET_LIMIT})"
    )
    if not lede:
        return (
            f"SELECT b.band, b.bucket, b.document_id, NULL FROM (VALUES {values}) AS k"
            f" CROSS JOIN lsh_bands b ON b.band = k.column1 AND b.bucket = k.column2 AND {newest}"
        )
    return (
        f"SELECT b.band, b.bucket, b.document_id, d.word_count FROM (VALUES {values}) AS k"
        f" CROSS JOIN lsh_bands b ON b.band = k.column1 AND b.bucket = k.column2 AND {newest}"
        " CROSS JOIN documents d ON d.id = b.document_id"
    )


def candidate_query_plan(
    db: Database, keys: Sequence[tuple[int, int]], *, lede: bool = False
) -> list[str]:
    """SQLite's plan for the candidate look-up (tests check it searches the index, never scans)."""
    sql = "EXPLAIN QUERY PLAN " + _bucket_sql(len(keys), lede=lede)
    return [str(row[-1]) for row in db.execute(sql, [v for key in keys for v in (*key, 0)])]


class SignatureIndex:
    """One pass's view of the signature index: the signatures it read or made, their bucket keys,
    and the candidates of a document through indexed look-ups."""

    def __init__(self, db: Database, bands: int, rows: int, *, stamp: str) -> None:
        self.db = db
        self.bands = bands
        self.rows = rows
        self.stamp = stamp
        self.signatures: dict[int, np.ndarray] = {}
        self.ledes: dict[int, np.ndarray | None] = {}
        self.words: dict[int, list[str]] = {}  # bodies tokenised in this pass
        self.shingled: dict[int, containment.Shingled] = {}  # bodies compared for containment
        self.buckets: dict[int, list[tuple[int, int]]] = {}  # band keys computed in this pass
        self.facts: dict[int, Facts] = {}  # documents scored against in this pass

    def store(self, pending: list[int], docs: dict[int, Doc], result: DedupResult) -> None:
        """Signatures and buckets of a pass's documents: kept when their text and settings are
        unchanged, else taken from the parse workers or computed, and written a statement per
        kind; documents with new text leave their story (it is decided again)."""
        stored = {
            row[0]: (row[1], row[2], row[3], row[4])
            for row in self.db.execute(
                f"SELECT document_id, content_hash, settings, minhash, lede FROM signatures"
                f" WHERE document_id IN ({','.join('?' * len(pending))})",
                pending,
            ).fetchall()
        }
        # Signatures the parse workers computed (tasks/pipeline/features.py): used once, dropped.
        ready = {
            row[0]: (row[1], row[2], row[3], row[4], row[5])
            for row in self.db.execute(
                f"SELECT document_id, content_hash, settings, minhash, paragraphs, lede"
                f" FROM signature_inputs WHERE document_id IN ({','.join('?' * len(pending))})",
                pending,
            ).fetchall()
        }
        if ready:
            self.db.conn.execute(
                f"DELETE FROM signature_inputs WHERE document_id IN ({','.join('?' * len(ready))})",
                list(ready),
            )
        # The pass's writes are collected and made a statement per kind, not per document.
        moved: list[tuple[str, int]] = []  # (event_at, document)
        signature_rows: list[tuple[int, str, bytes, bytes | None, str, str]] = []
        stale_bands: list[tuple[int, int, int]] = []
        paragraph_rows: list[tuple[str, int, int]] = []
        band_rows: list[tuple[int, int, int]] = []
        reopened: list[int] = []  # documents whose story is decided again
        for document_id in pending:
            doc = docs[document_id]
            # Windows are measured on the publication date, else on when we first stored it.
            if doc.event_at != doc.natural_at:
                moved.append((doc.natural_at, document_id))
                doc.event_at = doc.natural_at
            current = stored.get(document_id)
            if current and current[0] == doc.content_hash and current[1] == SIGNATURE_SETTINGS:
                self.signatures[document_id] = from_blob(current[2])
                self.ledes[document_id] = lede_from_blob(current[3])
                continue
            given = ready.get(document_id)
            if given and given[0] == doc.content_hash and given[1] == SIGNATURE_SETTINGS:
                values, lede = from_blob(given[2]), lede_from_blob(given[4])
                paragraphs = [(digest, words) for digest, words in json.loads(given[3])]
            else:
                body = self.db.execute(
                    "SELECT body FROM documents WHERE id = ?", [document_id]
                ).fetchone()[0]
                words = shingles.tokens(body, doc.language)
                values, lede = signature_of(words), lede_signature(words)
                self.words[document_id] = words  # a containment check may need them
                paragraphs = paragraph_hashes(body)
            self.signatures[document_id] = values
            self.ledes[document_id] = lede
            result.signatures += 1
            signature_rows.append(
                (document_id, doc.content_hash, to_blob(values),
                 None if lede is None else to_blob(lede), self.stamp, SIGNATURE_SETTINGS)
            )  # fmt: skip
            if current:  # its buckets (a banding change rebuilds them all) go
                stale_bands.extend(
                    band_rows_of(from_blob(current[2]), document_id, self.bands, self.rows)
                )
                stale_bands.extend(lede_rows_of(lede_from_blob(current[3]), document_id))
            paragraph_rows.extend((digest, document_id, words) for digest, words in paragraphs)
            keys = band_rows_of(values, document_id, self.bands, self.rows) + lede_rows_of(
                lede, document_id
            )
            if keys:
                self.buckets[document_id] = [(b, k) for b, k, _ in keys]
                band_rows.extend(keys)
            # New text is a new report: its story is decided again (duplicates inherit one).
            if doc.story_id is not None:
                result.touched_stories.add(doc.story_id)
                reopened.append(document_id)
                doc.story_id = None
        execute_many = self.db.conn.executemany
        execute_many("UPDATE documents SET event_at = ? WHERE id = ?", moved)
        execute_many(
            "INSERT INTO signatures (document_id, content_hash, minhash, lede, created_at,"
            " settings) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
            " content_hash = excluded.content_hash, minhash = excluded.minhash,"
            " lede = excluded.lede, created_at = excluded.created_at, settings = excluded.settings",
            signature_rows,
        )
        # A replaced signature's buckets are found by its keys (the table's primary key).
        execute_many(
            "DELETE FROM lsh_bands WHERE band = ? AND bucket = ? AND document_id = ?", stale_bands
        )
        execute_many(
            "DELETE FROM paragraphs WHERE document_id = ?", [(row[0],) for row in signature_rows]
        )
        execute_many(
            "INSERT OR IGNORE INTO paragraphs (hash, document_id, words) VALUES (?, ?, ?)",
            paragraph_rows,
        )
        execute_many("UPDATE documents SET story_id = NULL WHERE id = ?", [(i,) for i in reopened])
        insert_bands(self.db, band_rows)  # once for the pass

    def candidates_of(self, docs: Sequence[Doc]) -> dict[int, dict[int, str]]:
        """Each document's candidates (id → how it was found) from indexed look-ups only: the
        same URL, the same body, then a shared body bucket, then a shared lede bucket of a much
        shorter or longer text, each bucket's members by id (the order decisions meet them).
        A bucket several of the documents share is read once for all of them."""
        keys = self._keys_of(docs)
        owners: dict[tuple[int, int], int] = {}  # key → its one document here, else 0
        for document_id, own in keys.items():
            for key in own:
                owners[key] = 0 if owners.get(key, document_id) != document_id else document_id
        members = self._members(owners)
        ratio = containment.LEDE_LENGTH_RATIO
        result: dict[int, dict[int, str]] = {}
        for doc in docs:
            found = result[doc.id] = self._exact(doc)
            for key in keys[doc.id]:
                if key[0] < LEDE_BAND_BASE:
                    for other, _ in members.get(key, ()):
                        if other != doc.id:
                            found.setdefault(other, "minhash")
            # Texts of about the same length that share an opening are found by the body's
            # buckets if one contains the other (their Jaccard is then high): the lede's
            # look-up only brings the much shorter and the much longer ones.
            low, high = doc.word_count * ratio, doc.word_count / ratio
            for key in keys[doc.id]:
                if key[0] >= LEDE_BAND_BASE:
                    for other, words in members.get(key, ()):
                        if (
                            other != doc.id
                            and words is not None
                            and (words <= low or words >= high)
                        ):
                            found.setdefault(other, "minhash")
        return result

    def candidates(self, doc: Doc) -> dict[int, str]:
        """One document's candidates (`candidates_of`)."""
        return self.candidates_of([doc])[doc.id]

    def _exact(self, doc: Doc) -> dict[int, str]:
        found: dict[int, str] = {}
        # Exact identities are few per document; the limit guards against a body shared by
        # thousands (a paywall notice), whose group still forms transitively.
        if doc.url:
            for (other,) in self.db.execute(
                "SELECT id FROM documents WHERE url = ? AND id != ? LIMIT ?",
                [doc.url, doc.id, EXACT_LIMIT],
            ).fetchall():
                found[other] = "url"
        for (other,) in self.db.execute(
            "SELECT id FROM documents WHERE content_hash = ? AND id != ? LIMIT ?",
            [doc.content_hash, doc.id, EXACT_LIMIT],
        ).fetchall():
            found.setdefault(other, "content_hash")
        return found

    def _keys_of(self, docs: Sequence[Doc]) -> dict[int, list[tuple[int, int]]]:
        """Each document's body keys, then its lede keys: none for a text without a signature
        or an empty one. Keys this pass did not compute are computed for all at once."""
        keys: dict[int, list[tuple[int, int]]] = {}
        body: list[int] = []  # documents whose keys are computed here
        for doc in docs:
            values = self.signature_of(doc.id)
            keys[doc.id] = []
            if values is None or is_empty(values):
                continue
            if self.buckets.get(doc.id):
                keys[doc.id] = self.buckets[doc.id]
            else:
                body.append(doc.id)
        if body:
            used = self.bands * self.rows  # the values `bucket_keys` reads
            matrix = np.stack([self.signatures[i][:used] for i in body])
            for document_id, own in zip(
                body, bucket_keys_many(matrix, self.bands, self.rows), strict=True
            ):
                keys[document_id] = own
            width = containment.LEDE_BANDS * containment.LEDE_ROWS
            ledes = {
                i: values
                for i in body
                if (values := self.ledes.get(i)) is not None and len(values) == width
            }  # as `lede_rows_of`: a lede of another length has no buckets
            if ledes:
                matrix = np.stack(list(ledes.values()))
                found = bucket_keys_many(matrix, containment.LEDE_BANDS, containment.LEDE_ROWS)
                for document_id, own in zip(ledes, found, strict=True):
                    keys[document_id] += [(LEDE_BAND_BASE + band, key) for band, key in own]
        return keys

    def _members(
        self, keys: dict[tuple[int, int], int]
    ) -> dict[tuple[int, int], list[tuple[int, int | None]]]:
        """(document, word count for a lede bucket) of each bucket but its owner, by id."""
        members: dict[tuple[int, int], list[tuple[int, int | None]]] = {}
        for lede in (False, True):
            # In key order, the index's own: neighbouring keys share its pages (half the time).
            wanted = sorted(key for key in keys if (key[0] >= LEDE_BAND_BASE) == lede)
            for start in range(0, len(wanted), KEYS_PER_STATEMENT):
                chunk = wanted[start : start + KEYS_PER_STATEMENT]
                for band, bucket, other, words in self.db.execute(
                    _bucket_sql(len(chunk), lede=lede),
                    [v for key in chunk for v in (*key, keys[key])],
                ).fetchall():
                    members.setdefault((band, bucket), []).append((other, words))
        # A bucket is read in index order; sorted anyway, since decisions meet candidates so.
        for found in members.values():
            if len(found) > 1:
                found.sort()
        return members

    def facts_of(self, ids: set[int]) -> dict[int, Facts]:
        """What scoring needs of these documents, with their signatures, in one statement."""
        wanted = [i for i in ids if i not in self.facts]
        if wanted:
            for row in self.db.execute(
                "SELECT d.id, d.url, d.content_hash, d.word_count, d.published_at, d.created_at,"
                " s.minhash, s.lede, s.settings FROM documents d"
                " LEFT JOIN signatures s ON s.document_id = d.id"
                " WHERE d.id IN (SELECT value FROM json_each(?))",
                [json.dumps(wanted)],
            ).fetchall():
                document_id, url, content_hash, words, published, created = row[:6]
                self.facts[document_id] = Facts(
                    url, content_hash, words or 0,
                    microseconds(published) if published else None, microseconds(created),
                )  # fmt: skip
                if document_id not in self.signatures and row[8] == SIGNATURE_SETTINGS:
                    self.signatures[document_id] = from_blob(row[6])
                    self.ledes[document_id] = lede_from_blob(row[7])
        return {i: self.facts[i] for i in ids if i in self.facts}

    def signature_of(self, document_id: int) -> np.ndarray | None:
        if document_id not in self.signatures:
            row = self.db.execute(
                "SELECT minhash, settings, lede FROM signatures WHERE document_id = ?",
                [document_id],
            ).fetchone()
            if row is None or row[1] != SIGNATURE_SETTINGS:
                return None
            self.signatures[document_id] = from_blob(row[0])
            self.ledes[document_id] = lede_from_blob(row[2])
        return self.signatures[document_id]

    def contained(
        self, doc: Doc, other: Doc, jaccard: float
    ) -> tuple[containment.Containment, bool] | None:
        """The containment of the shorter of two texts in the other, and whether that is `doc`;
        None when their signatures and lengths already rule it out (no body is read then)."""
        if not containment.could_contain(
            jaccard, doc.word_count, other.word_count, num_perm=NUM_PERM
        ):
            return None
        # A cut or a teaser opens as its full text does: their ledes' MinHashes agree.
        a, b = self.ledes.get(doc.id), self.ledes.get(other.id)
        if a is None or b is None or estimate(a, b) < containment.LEDE_MIN_SIMILARITY:
            return None
        mine, theirs = self.shingled_of(doc), self.shingled_of(other)
        if mine.size <= theirs.size:
            return containment.containment(mine, theirs), True
        return containment.containment(theirs, mine), False

    def shingled_of(self, doc: Doc) -> containment.Shingled:
        if doc.id not in self.shingled:
            words = self.words.get(doc.id) or shingles.tokens(self.body(doc.id), doc.language)
            self.shingled[doc.id] = containment.shingled(words)
        return self.shingled[doc.id]

    def score(self, doc: Doc, other: Doc, how: str) -> tuple[str, float | None]:
        if doc.url and doc.url == other.url:
            return "url", 1.0
        if doc.content_hash == other.content_hash:
            return "content_hash", 1.0
        a, b = self.signature_of(doc.id), self.signature_of(other.id)
        if a is None or b is None or is_empty(a) or is_empty(b):
            return how, None
        return "minhash", estimate(a, b)

    def body(self, document_id: int) -> str:
        return str(
            self.db.execute("SELECT body FROM documents WHERE id = ?", [document_id]).fetchone()[0]
        )
