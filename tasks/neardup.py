"""Near-duplicates: MinHash signatures and LSH bands kept in SQLite, every decision logged.

How a run works (`deduplicate`):

1. New and changed documents wait in `dedup_queue` (filled by triggers on `documents`, so every
   writer — files, feeds, records — is covered without calling us).
2. Each queued document gets a MinHash signature of its normalised, language-aware word shingles
   (`tasks/shingles.py`), stored in `signatures`, and its LSH band buckets in `lsh_bands`.
3. Its candidates come from indexed look-ups only — the same band bucket, the same URL, the same
   content hash — restricted to the window (default 30 days around its date). Old documents are
   never re-read or re-hashed; nothing scans the table.
4. A candidate whose estimated Jaccard similarity reaches the threshold joins the document's group.
   The group's canonical is the longest full text (short lines many unrelated documents carry —
   an outlet's furniture — do not count; lengths within 10 % are equal), then the earliest (stated
   date, else file time, else when stored); every other member points at it
   (`duplicate_of`, `summary_status = 'duplicate'`), and the canonical lists the outlets that
   carried it (`documents.outlets`).
5. Two short bodies that match under different headlines which they do not talk about are the same
   boilerplate (a paywall notice, a disclaimer), not the same article: both are flagged
   (`summary_status = 'boilerplate'`, a `rejects` row) and neither is a duplicate.

Every outcome is a `dedup_decisions` row: the pair, the method (content_hash | url | minhash), the
score, the threshold in force, the decision (duplicate | kept | distinct | boilerplate) and why.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from sqlite_utils import Database

from tasks import containment, shingles
from tasks.gazetteer import fold
from tasks.store import now, write_transaction

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
DEFAULT_WINDOW_DAYS = 30
NUM_PERM = 256
SEED = 1
# The LSH bands are chosen so that a pair exactly at the threshold becomes a candidate with at least
# this probability; pairs above it almost surely do. The estimate then decides.
CANDIDATE_RECALL = 0.98
# Bodies this short can be boilerplate shared under different headlines (see is_boilerplate_pair).
BOILERPLATE_MAX_WORDS = 80
BATCH = 500
# Full texts within this share of the longest count as equally long (then the earliest wins);
# a teaser or a copy truncated to 80 % is shorter than that.
LENGTH_TOLERANCE = 0.1
EXACT_LIMIT = 200

# Paragraphs this short are indexed: outlets' furniture ("Sign up for our newsletter") is short.
FURNITURE_MAX_WORDS = 40
# A short paragraph carried by this many documents outside a group is furniture, not text.
FURNITURE_DOCUMENTS = 2

# Lede buckets share `lsh_bands` with the body's, under band numbers from here on: one look-up
# finds both kinds of candidate, and a threshold change (which re-bands the body) leaves them be.
LEDE_BAND_BASE = 1000
_LEDE_VALUES = containment.LEDE_BANDS * containment.LEDE_ROWS

SIGNATURE_SETTINGS = (
    f"minhash-affine32-{NUM_PERM}-seed{SEED}/{shingles.SETTINGS}-crc3/p1"
    f"/lede{containment.LEDE_TOKENS}-{containment.LEDE_BANDS}x{containment.LEDE_ROWS}"
)


class DedupError(ValueError):
    """A threshold or window that cannot be used."""


# --- settings -------------------------------------------------------------------------------------


def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows): the most selective banding that still finds a pair at the threshold."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= CANDIDATE_RECALL:
            best = (bands, rows)
        else:
            break
    return best


@dataclass(frozen=True)
class Settings:
    """The threshold and window in force, and the LSH banding that follows from the threshold."""

    threshold: float = DEFAULT_THRESHOLD
    window_days: int = DEFAULT_WINDOW_DAYS

    def __post_init__(self) -> None:
        if not 0.05 <= self.threshold <= 1.0:
            raise DedupError(f"threshold must be between 0.05 and 1.0, got {self.threshold}")
        if self.window_days < 1:
            raise DedupError(f"window must be at least one day, got {self.window_days}")

    @property
    def banding(self) -> tuple[int, int]:
        return lsh_params(self.threshold)


def load_settings(db: Database) -> Settings:
    """The stored settings (`newsflow dedup --threshold` changes them), or the defaults."""
    stored = dict(db.execute("SELECT name, value FROM dedup_settings").fetchall())
    return Settings(
        threshold=float(stored.get("threshold", DEFAULT_THRESHOLD)),
        window_days=int(stored.get("window_days", DEFAULT_WINDOW_DAYS)),
    )


def _stored_banding(db: Database) -> str | None:
    return _stored_setting(db, "banding")


def _stored_setting(db: Database, name: str) -> str | None:
    row = db.execute("SELECT value FROM dedup_settings WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def _save_settings(db: Database, values: dict[str, str]) -> None:
    stamp = now()
    db.conn.executemany(
        "INSERT INTO dedup_settings (name, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        [(name, value, stamp) for name, value in values.items()],
    )


# --- signatures and bands ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _minhash() -> Any:
    # datasketch's package imports its LSH variants and with them SciPy's integrators (~0.4 s):
    # loaded when a signature is first computed, not by every process that only compares them.
    from datasketch import MinHash

    return MinHash


@lru_cache(maxsize=1)
def _permutations() -> Any:
    return _minhash()(num_perm=NUM_PERM, seed=SEED).permutations


def signature(text: str, language: str | None) -> np.ndarray:
    """The MinHash signature (uint32 array) of the text's shingles; all-max for an empty text."""
    return signature_of(shingles.tokens(text, language))


def signature_of(words: list[str]) -> np.ndarray:
    """The MinHash signature of tokenised text's shingles."""
    # The shingles come hashed already (`shingle_hashes`): datasketch takes them as they are and
    # mixes them (its affine32 scheme applies the Murmur3 finaliser before the permutations).
    minhash = _minhash()(
        num_perm=NUM_PERM, seed=SEED, permutations=_permutations(), scheme="affine32", hashfunc=int
    )
    minhash.update_batch(shingles.shingle_hashes(words).tolist())
    return minhash.hashvalues.astype(np.uint32)


def lede_signature(words: list[str]) -> np.ndarray | None:
    """The MinHash of the text's opening words (the positions its lede buckets use), or None for
    a text too short to be contained in another (it needs no lede buckets)."""
    if len(words) < containment.MIN_SHINGLES + shingles.SHINGLE_SIZE - 1:
        return None
    # Only the positions the lede bands use are computed: the same values as the first ones of
    # signature_of(opening), at a quarter of the cost.
    minhash = _minhash()(
        num_perm=_LEDE_VALUES,
        seed=SEED,
        permutations=_permutations()[:, :_LEDE_VALUES],
        scheme="affine32",
        hashfunc=int,
    )
    minhash.update_batch(shingles.shingle_hashes(words[: containment.LEDE_TOKENS]).tolist())
    return minhash.hashvalues.astype(np.uint32)


def to_blob(values: np.ndarray) -> bytes:
    """A signature as stored: little-endian uint32."""
    return values.astype("<u4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """A stored signature back as a uint32 array."""
    return np.frombuffer(blob, dtype="<u4")


def estimate(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal positions."""
    return float(np.count_nonzero(a == b)) / len(a)


# One odd 64-bit multiplier per row position of a band (fixed: stored buckets depend on them).
_ROW_MULTIPLIERS = np.random.default_rng(20251225).integers(
    0, 2**63, size=NUM_PERM, dtype=np.uint64
) * np.uint64(2) + np.uint64(1)


def bucket_keys(values: np.ndarray, bands: int, rows: int) -> list[tuple[int, int]]:
    """(band, bucket) pairs of a signature: each band's rows hashed to a signed 64-bit integer.

    Σ rowᵢ·mᵢ modulo 2⁶⁴ with random odd mᵢ: equal rows always share a bucket, different ones
    almost never (a collision would only add a candidate, which the estimate then rejects)."""
    matrix = values[: bands * rows].astype(np.uint64).reshape(bands, rows)
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        mixed = (matrix * _ROW_MULTIPLIERS[:rows]).sum(axis=1, dtype=np.uint64)
    return list(enumerate(mixed.view(np.int64).tolist()))


def paragraph_hashes(body: str) -> list[tuple[str, int]]:
    """(hash, words) of each short paragraph, folded so case and spacing do not matter."""
    found = []
    for paragraph in body.split("\n\n"):
        words = paragraph.split()
        if 0 < len(words) <= FURNITURE_MAX_WORDS:
            folded = " ".join(fold(paragraph).split())
            found.append((hashlib.blake2b(folded.encode(), digest_size=8).hexdigest(), len(words)))
    return found


_EMPTY = int(np.iinfo(np.uint32).max)


def _is_empty(values: np.ndarray) -> bool:
    # An empty text's signature is all-max; any other has a smaller value almost everywhere, so
    # the first position nearly always answers without a pass over the array.
    return int(values[0]) == _EMPTY and int(values.min()) == _EMPTY


# --- documents as the decisions see them ---------------------------------------------------------

_DOC_COLUMNS = (
    "d.id, d.title, d.url, d.content_hash, d.language, d.source, d.path, d.duplicate_of, "
    "d.summary_status, d.word_count, d.story_id, d.event_at, d.published_at, d.created_at, "
    "coalesce(d.published_at, d.created_at) AS natural_at, d.file_mtime_ns, "
    "f.name AS feed_name"
)


@dataclass
class Doc:
    """The columns of a document that dedup decisions use (never the body unless needed)."""

    id: int
    title: str | None
    url: str | None
    content_hash: str
    language: str | None
    source: str | None
    path: str | None
    duplicate_of: int | None
    summary_status: str | None
    word_count: int
    story_id: int | None
    event_at: str | None  # as stored
    natural_at: str  # what event_at should be: the publication date, else when we stored it
    published_at: str | None
    created_at: str
    feed_name: str | None
    file_mtime_ns: int | None = None

    @property
    def first_seen(self) -> str:
        """When this text first existed, as far as we know: its stated date, else the file's
        modification time, else when we stored it (a copy made from a file is newer than it)."""
        if self.published_at:
            return self.published_at
        if self.file_mtime_ns:
            stamp = datetime.fromtimestamp(self.file_mtime_ns / 1e9, tz=UTC)
            return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")
        return self.created_at

    @property
    def when(self) -> datetime:
        return parse_time(self.natural_at)

    def apart(self, other: Doc) -> timedelta:
        """Time between two documents: publication dates, or when both were stored if either
        has no date (an undated copy stored with its dated original is not a year away)."""
        if self.published_at and other.published_at:
            return abs(parse_time(self.published_at) - parse_time(other.published_at))
        return abs(parse_time(self.created_at) - parse_time(other.created_at))

    @property
    def outlet(self) -> str | None:
        return outlet_name(self.source, self.feed_name, self.url)


def parse_time(value: str | None) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when no offset is given)."""
    if not value:
        return datetime.min.replace(tzinfo=UTC)
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def outlet_name(source: str | None, feed_name: str | None, url: str | None) -> str | None:
    """Who published a document: its stated source, else its feed, else its web site."""
    if source and source.strip():
        return source.strip()
    if feed_name and feed_name.strip():
        return feed_name.strip()
    host = urlsplit(url).hostname if url else None
    return host.removeprefix("www.") if host else None


def _load(db: Database, ids: Iterable[int]) -> dict[int, Doc]:
    ids = list(dict.fromkeys(ids))
    found: dict[int, Doc] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        cursor = db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id"
            f" WHERE d.id IN ({marks})",
            chunk,
        )
        names = [column[0] for column in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))  # the columns are Doc's fields
            row["word_count"] = row["word_count"] or 0
            found[row["id"]] = Doc(**row)
    return found


# --- the run -------------------------------------------------------------------------------------


@dataclass
class DedupResult:
    """What a dedup pass did."""

    checked: int = 0  # documents decided in this pass
    signatures: int = 0  # signatures computed from a body (new or changed text)
    duplicates: int = 0  # documents that became duplicates
    released: int = 0  # documents that stopped being duplicates
    boilerplate: int = 0  # documents flagged as boilerplate-only
    candidates: int = 0  # candidate pairs scored
    rebanded: int = 0  # signatures re-banded after a threshold change
    threshold: float = DEFAULT_THRESHOLD
    touched_stories: set[int] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        """The counts a run records."""
        return {"near_duplicates": self.duplicates, "boilerplate_only": self.boilerplate}


def deduplicate(
    db: Database,
    *,
    run_id: str | None = None,
    threshold: float | None = None,
    window_days: int | None = None,
    recompute: bool = False,
    batch: int = BATCH,
) -> DedupResult:
    """Decide the queued documents (or, with `recompute`, all of them) against the stored window."""
    stored = load_settings(db)
    settings = Settings(
        threshold=stored.threshold if threshold is None else float(threshold),
        window_days=stored.window_days if window_days is None else int(window_days),
    )
    result = DedupResult(threshold=settings.threshold)
    bands, rows = settings.banding
    banding = f"{NUM_PERM}:{bands}x{rows}"
    with write_transaction(db):
        _save_settings(
            db,
            {"threshold": repr(settings.threshold), "window_days": str(settings.window_days)},
        )
        if _stored_banding(db) != banding:
            result.rebanded = _reband(db, bands, rows)
            _save_settings(db, {"banding": banding})
        # Signatures made with other shingle or MinHash settings are recomputed from the body:
        # looked for when the settings changed, not by reading every signature on every run.
        if _stored_setting(db, "signatures") != SIGNATURE_SETTINGS:
            db.conn.execute(
                "INSERT OR IGNORE INTO dedup_queue (document_id, queued_at)"
                " SELECT document_id, ? FROM signatures WHERE settings IS NOT ?",
                [now(), SIGNATURE_SETTINGS],
            )
            _save_settings(db, {"signatures": SIGNATURE_SETTINGS})
        if recompute:
            _queue_everything(db, result)
    while True:
        # Take the batch off the queue under the write lock: a concurrent run that decided these
        # documents while this one waited has dequeued them, so none is decided (or logged) twice.
        with write_transaction(db):
            pending = [
                row[0]
                for row in db.execute(
                    "SELECT q.document_id FROM dedup_queue q JOIN documents d"
                    " ON d.id = q.document_id"
                    " ORDER BY coalesce(d.event_at, d.published_at, d.created_at), d.id LIMIT ?",
                    [batch],
                ).fetchall()
            ]
            if pending:
                _Pass(db, settings, bands, rows, run_id, result, recompute=recompute).run(pending)
        if not pending:
            break
    log.info(
        "dedup: %d checked, %d signatures, %d duplicates, %d released, %d boilerplate",
        result.checked, result.signatures, result.duplicates, result.released, result.boilerplate,
    )  # fmt: skip
    return result


def _reband(db: Database, bands: int, rows: int) -> int:
    """Rebuild every LSH bucket from the stored signatures (after a threshold change)."""
    db.conn.execute("DELETE FROM lsh_bands WHERE band < ?", [LEDE_BAND_BASE])
    band_rows: list[tuple[int, int, int]] = []
    count = 0
    for document_id, blob in db.execute("SELECT document_id, minhash FROM signatures").fetchall():
        found = band_rows_of(from_blob(blob), document_id, bands, rows)
        band_rows.extend(found)
        count += bool(found)
        if len(band_rows) >= 100_000:  # bounded memory, however many signatures are stored
            _insert_bands(db, band_rows)
            band_rows.clear()
    _insert_bands(db, band_rows)
    return count


def band_rows_of(
    values: np.ndarray, document_id: int, bands: int, rows: int
) -> list[tuple[int, int, int]]:
    """The (band, bucket, document) rows a signature has in `lsh_bands`: none for an empty text or
    one signed with another permutation count. A replaced signature's rows are deleted by these
    keys, so this is the one place that says which signatures have buckets."""
    if len(values) != NUM_PERM or _is_empty(values):
        return []
    return [(b, k, document_id) for b, k in bucket_keys(values, bands, rows)]


def lede_rows_of(values: np.ndarray | None, document_id: int) -> list[tuple[int, int, int]]:
    """The (band, bucket, document) rows of a lede signature in `lsh_bands`."""
    if values is None or len(values) != _LEDE_VALUES:
        return []
    keys = bucket_keys(values, containment.LEDE_BANDS, containment.LEDE_ROWS)
    return [(LEDE_BAND_BASE + band, bucket, document_id) for band, bucket in keys]


def _lede_from_blob(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else from_blob(blob)


def _insert_bands(db: Database, band_rows: list[tuple[int, int, int]]) -> None:
    """Index (band, bucket, document) rows, in key order: B-tree inserts in order touch far fewer
    pages."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO lsh_bands (band, bucket, document_id) VALUES (?, ?, ?)",
        sorted(band_rows),
    )


def _queue_everything(db: Database, result: DedupResult) -> None:
    """For a full recompute: every document is decided again, starting from no groups."""
    stamp = now()
    db.conn.execute(
        "INSERT OR IGNORE INTO dedup_queue (document_id, queued_at) SELECT id, ? FROM documents",
        [stamp],
    )
    # Remember who was a duplicate of whom, so only real changes count and are logged as such.
    db.conn.execute("DROP TABLE IF EXISTS temp.dedup_before")
    db.conn.execute(
        "CREATE TEMP TABLE dedup_before AS SELECT id, duplicate_of, summary_status FROM documents"
        " WHERE duplicate_of IS NOT NULL OR summary_status = 'boilerplate'"
    )
    db.conn.execute(
        "UPDATE documents SET duplicate_of = NULL,"
        " summary_status = CASE WHEN summary_status IN ('duplicate', 'boilerplate') THEN NULL"
        " ELSE summary_status END"
        " WHERE duplicate_of IS NOT NULL OR summary_status = 'boilerplate'"
    )


class _Pass:
    """One batch of queued documents, decided inside one write transaction."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        bands: int,
        rows: int,
        run_id: str | None,
        result: DedupResult,
        *,
        recompute: bool,
    ) -> None:
        self.db = db
        self.settings = settings
        self.bands = bands
        self.rows = rows
        self.run_id = run_id
        self.result = result
        self.recompute = recompute
        self.window = timedelta(days=settings.window_days)
        self.signatures: dict[int, np.ndarray] = {}
        self.ledes: dict[int, np.ndarray | None] = {}
        self.words: dict[int, list[str]] = {}  # bodies tokenised in this pass
        self.shingled: dict[int, containment.Shingled] = {}  # bodies compared for containment
        self.contained_in: dict[int, tuple[int, containment.Containment]] = {}
        self.buckets: dict[int, list[tuple[int, int]]] = {}  # band keys computed in this pass
        self.before: dict[int, tuple[int | None, str | None]] = {}
        self.reasons: dict[int, tuple[str, float | None, str]] = {}
        self.touched_groups: set[int] = set()
        self.distinct_from: dict[int, int] = {}  # document → its closest candidate below threshold
        self.boilerplate_partner: dict[int, int] = {}
        self.full_words: dict[int, int] = {}
        self.stamp = now()

    # -- the batch --

    def run(self, pending: list[int]) -> None:
        docs = _load(self.db, pending)
        pending = [i for i in pending if i in docs]
        self._remember(docs.values())
        self._ensure_signatures(pending, docs)
        queue = self._detach(pending, docs)
        decided: set[int] = set()
        for document_id in queue:
            if document_id in decided:
                continue
            decided.add(document_id)
            self._decide(document_id)
        self._finish_groups()
        self._finish_singletons(decided)
        self._log_outcomes(decided)
        marks = ",".join("?" * len(decided))
        self.db.conn.execute(
            f"DELETE FROM dedup_queue WHERE document_id IN ({marks})", list(decided)
        )
        self.result.checked += len(decided)

    def _remember(self, docs: Iterable[Doc]) -> None:
        """The state before this pass, to log changes (a recompute saved it before resetting)."""
        for doc in docs:
            if doc.id in self.before:
                continue
            state: tuple[int | None, str | None] = (doc.duplicate_of, doc.summary_status)
            if self.recompute:
                row = self.db.execute(
                    "SELECT duplicate_of, summary_status FROM temp.dedup_before WHERE id = ?",
                    [doc.id],
                ).fetchone()
                state = (row[0], row[1]) if row else (None, None)
            self.before[doc.id] = state

    def _ensure_signatures(self, pending: list[int], docs: dict[int, Doc]) -> None:
        stored = {
            row[0]: (row[1], row[2], row[3], row[4])
            for row in self.db.execute(
                f"SELECT document_id, content_hash, settings, minhash, lede FROM signatures"
                f" WHERE document_id IN ({','.join('?' * len(pending))})",
                pending,
            ).fetchall()
        }
        # Signatures the parse workers computed (tasks/features.py), used once then dropped.
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
                self.ledes[document_id] = _lede_from_blob(current[3])
                continue
            given = ready.get(document_id)
            if given and given[0] == doc.content_hash and given[1] == SIGNATURE_SETTINGS:
                values, lede = from_blob(given[2]), _lede_from_blob(given[4])
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
            self.result.signatures += 1
            signature_rows.append(
                (document_id, doc.content_hash, to_blob(values),
                 None if lede is None else to_blob(lede), self.stamp, SIGNATURE_SETTINGS)
            )  # fmt: skip
            if current:  # its buckets (a banding change rebuilds them all) go
                stale_bands.extend(
                    band_rows_of(from_blob(current[2]), document_id, self.bands, self.rows)
                )
                stale_bands.extend(lede_rows_of(_lede_from_blob(current[3]), document_id))
            paragraph_rows.extend((digest, document_id, words) for digest, words in paragraphs)
            keys = band_rows_of(values, document_id, self.bands, self.rows) + lede_rows_of(
                lede, document_id
            )
            if keys:
                self.buckets[document_id] = [(b, k) for b, k, _ in keys]
                band_rows.extend(keys)
            # New text is a new report: its story is decided again (duplicates inherit one).
            if doc.story_id is not None:
                self.result.touched_stories.add(doc.story_id)
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
        _insert_bands(self.db, band_rows)  # once for the pass

    def _detach(self, pending: list[int], docs: dict[int, Doc]) -> list[int]:
        """Take the pending documents out of their groups; their copies are decided again too."""
        queue = list(pending)
        seen = set(queue)
        index = 0
        while index < len(queue):
            document_id = queue[index]
            index += 1
            members = [
                row[0]
                for row in self.db.execute(
                    "SELECT id FROM documents WHERE duplicate_of = ? ORDER BY id", [document_id]
                ).fetchall()
            ]
            new = [member for member in members if member not in seen]
            self._remember(_load(self.db, new).values())
            for member in new:
                seen.add(member)
                queue.append(member)
            self.db.conn.execute(
                "UPDATE documents SET duplicate_of = NULL,"
                " summary_status = CASE WHEN summary_status IN ('duplicate', 'boilerplate')"
                " THEN NULL ELSE summary_status END"
                " WHERE (id = ? OR duplicate_of = ?)"
                # Only rows that change: an UPDATE rewrites every row it matches.
                " AND (duplicate_of IS NOT NULL OR summary_status IN ('duplicate', 'boilerplate'))",
                [document_id, document_id],
            )
        return queue

    def _prefetch_signatures(self, document_ids: list[int]) -> None:
        """Load the candidates' signatures in one statement rather than one each."""
        wanted = [i for i in document_ids if i not in self.signatures]
        if not wanted:
            return
        for document_id, blob, lede in self.db.execute(
            "SELECT document_id, minhash, lede FROM signatures"
            " WHERE document_id IN (SELECT value FROM json_each(?)) AND settings = ?",
            [json.dumps(wanted), SIGNATURE_SETTINGS],
        ).fetchall():
            self.signatures[document_id] = from_blob(blob)
            self.ledes[document_id] = _lede_from_blob(lede)

    def _signature_of(self, document_id: int) -> np.ndarray | None:
        if document_id not in self.signatures:
            row = self.db.execute(
                "SELECT minhash, settings, lede FROM signatures WHERE document_id = ?",
                [document_id],
            ).fetchone()
            if row is None or row[1] != SIGNATURE_SETTINGS:
                return None
            self.signatures[document_id] = from_blob(row[0])
            self.ledes[document_id] = _lede_from_blob(row[2])
        return self.signatures[document_id]

    # -- one document --

    def _candidates(self, doc: Doc) -> dict[int, str]:
        """Candidate id → how it was found, from indexed look-ups only."""
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
        values = self._signature_of(doc.id)
        if values is not None and not _is_empty(values):
            keys = self.buckets.get(doc.id) or [
                *bucket_keys(values, self.bands, self.rows),
                *((b, k) for b, k, _ in lede_rows_of(self.ledes.get(doc.id), doc.id)),
            ]
            body = [key for key in keys if key[0] < LEDE_BAND_BASE]
            for (other,) in self.db.execute(
                _bucket_sql(len(body)), [value for key in body for value in key] + [doc.id]
            ).fetchall():
                found.setdefault(other, "minhash")
            lede = [key for key in keys if key[0] >= LEDE_BAND_BASE]
            if lede:
                # Texts of about the same length that share an opening are found by the body's
                # buckets if one contains the other (their Jaccard is then high): the lede's
                # look-up only brings the much shorter and the much longer ones.
                ratio = containment.LEDE_LENGTH_RATIO
                for (other,) in self.db.execute(
                    _lede_bucket_sql(len(lede)),
                    [value for key in lede for value in key]
                    + [doc.id, doc.word_count * ratio, doc.word_count / ratio],
                ).fetchall():
                    found.setdefault(other, "minhash")
        return found

    def _decide(self, document_id: int) -> None:
        doc = _load(self.db, [document_id]).get(document_id)
        if doc is None:
            return
        found = self._candidates(doc)
        others = _load(self.db, found)
        self._prefetch_signatures(list(others))
        matches: list[tuple[Doc, str, float]] = []
        below: list[tuple[Doc, float]] = []  # minhash candidates under the threshold
        best_below: tuple[float, int] | None = None
        boilerplate_with: list[Doc] = []
        for other_id, how in found.items():
            other = others.get(other_id)
            if other is None:
                continue
            method, score = self._score(doc, other, how)
            # The window bounds near-duplicates; the same URL or body is the same at any date.
            if score is None or (method == "minhash" and doc.apart(other) > self.window):
                continue
            self.result.candidates += 1
            if score < self.settings.threshold:
                if method == "minhash" and other.summary_status != "boilerplate":
                    below.append((other, score))
                if best_below is None or score > best_below[0]:
                    best_below = (score, other.id)
                continue
            if self._is_boilerplate_pair(doc, other):
                boilerplate_with.append(other)
                continue
            if other.summary_status == "boilerplate":
                continue
            matches.append((other, method, score))
        if boilerplate_with:
            for other in [doc, *boilerplate_with]:
                partner = boilerplate_with[0] if other.id == doc.id else doc
                self._flag_boilerplate(other, partner)
            return
        links = [other.id for other, _, _ in matches]
        links += self._contained_links(doc, matches, self._contained_among(doc, matches, below))
        if not links:
            if best_below is not None:
                score, other_id = best_below
                self.reasons.setdefault(
                    doc.id,
                    ("distinct", score, f"closest candidate #{other_id} scored {score:.2f} <"
                     f" {self.settings.threshold:.2f}; both kept"),
                )  # fmt: skip
                self.distinct_from[doc.id] = other_id
            return
        self._regroup(self._group_of(doc.id, *links))

    def _contained_among(
        self, doc: Doc, matches: list[tuple[Doc, str, float]], below: list[tuple[Doc, float]]
    ) -> list[tuple[Doc, containment.Containment, bool]]:
        """The candidates under the Jaccard threshold that contain `doc` or that it contains.
        A candidate already in a group `doc` joins needs no count (a wire story's hundred
        copies are one group: a cut of it is compared with one), and a shorter text takes the
        first container it is found in, trying the most similar first."""
        home = {doc.duplicate_of or doc.id} | {o.duplicate_of or o.id for o, _, _ in matches}
        found: list[tuple[Doc, containment.Containment, bool]] = []
        container = False
        for other, score in sorted(below, key=lambda pair: (-pair[1], pair[0].id)):
            root = other.duplicate_of or other.id
            if root in home or (container and doc.word_count <= other.word_count):
                continue
            held = self._containment(doc, other, score)
            if held is None or not held[0].holds or self._is_boilerplate_pair(doc, other):
                continue
            found.append((other, *held))
            home.add(root)
            container = container or held[1]
        return found

    def _containment(
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
        mine, theirs = self._shingled_of(doc), self._shingled_of(other)
        if mine.size <= theirs.size:
            return containment.containment(mine, theirs), True
        return containment.containment(theirs, mine), False

    def _shingled_of(self, doc: Doc) -> containment.Shingled:
        if doc.id not in self.shingled:
            words = self.words.get(doc.id) or shingles.tokens(self._body(doc.id), doc.language)
            self.shingled[doc.id] = containment.shingled(words)
        return self.shingled[doc.id]

    def _contained_links(
        self,
        doc: Doc,
        matches: list[tuple[Doc, str, float]],
        contained: list[tuple[Doc, containment.Containment, bool]],
    ) -> list[int]:
        """The contained pairs that join `doc`'s group. Containment is not transitive as Jaccard
        nearly is: a short text held by two different articles (a statement both quote in
        full) must not merge them. So a shorter text joins one longer text's group only: the
        best container while it has no group yet, and no other later."""
        home = {doc.duplicate_of or doc.id} | {o.duplicate_of or o.id for o, _, _ in matches}
        links = []
        for other, held, doc_is_shorter in contained:
            # `doc` is the longer: a shorter text that is nobody's copy yet (or already ours) joins.
            if not doc_is_shorter and (other.duplicate_of is None or other.duplicate_of in home):
                links.append(other.id)
                self.contained_in[other.id] = (doc.id, held)
        containers = [(other, held) for other, held, shorter in contained if shorter]
        if containers:
            other, held = containers[0]  # the most similar (`_contained_among`)
            if home - {doc.id} <= {other.duplicate_of or other.id}:
                links.append(other.id)
                self.contained_in[doc.id] = (other.id, held)
        return links

    def _score(self, doc: Doc, other: Doc, how: str) -> tuple[str, float | None]:
        if doc.url and doc.url == other.url:
            return "url", 1.0
        if doc.content_hash == other.content_hash:
            return "content_hash", 1.0
        a, b = self._signature_of(doc.id), self._signature_of(other.id)
        if a is None or b is None or _is_empty(a) or _is_empty(b):
            return how, None
        return "minhash", estimate(a, b)

    def _group_of(self, *document_ids: int) -> set[int]:
        """The documents' groups, merged: their canonicals and every copy of those. Two
        statements however many documents (a wire story's hundred outlets are one group)."""
        ids = json.dumps(document_ids)
        roots = [
            row[0]
            for row in self.db.execute(
                "SELECT coalesce(duplicate_of, id) FROM documents"
                " WHERE id IN (SELECT value FROM json_each(?))",
                [ids],
            ).fetchall()
        ]
        members = self.db.execute(
            "SELECT id FROM documents WHERE duplicate_of IN (SELECT value FROM json_each(?))",
            [json.dumps(roots)],
        ).fetchall()
        return set(roots).union(row[0] for row in members)

    def _regroup(self, group: set[int]) -> None:
        docs = _load(self.db, group)
        # Members decided in an earlier run (an old canonical that a longer text now holds) are
        # remembered too, so their change is logged.
        self._remember(docs.values())
        full = self._full_words(docs, group)
        self.full_words.update(full)
        # Longest full text, then earliest; lengths within LENGTH_TOLERANCE count as equal, so
        # a line or two of edits or furniture never outranks the text that came first.
        longest = max(full.values())
        eligible = [d for d in docs.values() if full[d.id] >= (1 - LENGTH_TOLERANCE) * longest]
        canonical = min(eligible, key=lambda d: (d.first_seen, d.id))
        for doc in docs.values():
            if doc.id == canonical.id:
                if doc.duplicate_of is not None or doc.summary_status == "duplicate":
                    self.db.conn.execute(
                        "UPDATE documents SET duplicate_of = NULL, summary_status = NULL,"
                        " outlets = NULL WHERE id = ?",
                        [doc.id],
                    )
                continue
            if doc.duplicate_of != canonical.id or doc.summary_status != "duplicate":
                self.db.conn.execute(
                    "UPDATE documents SET duplicate_of = ?, summary_status = 'duplicate',"
                    " outlets = NULL WHERE id = ?",
                    [canonical.id, doc.id],
                )
        self.touched_groups.add(canonical.id)

    def _full_words(self, docs: dict[int, Doc], group: set[int]) -> dict[int, int]:
        """Words of each body without the furniture: short paragraphs that documents outside
        the group carry too (an outlet's sign-up line, a cookie notice, a credit line). One
        statement for the group, not one per member: regrouping is per decided member."""
        furniture = dict(
            self.db.execute(
                """
                SELECT p.document_id, sum(p.words) FROM paragraphs p
                WHERE p.document_id IN (SELECT value FROM json_each(:docs)) AND (
                    SELECT count(*) FROM paragraphs o
                    WHERE o.hash = p.hash
                    AND o.document_id NOT IN (SELECT value FROM json_each(:group))
                ) >= :least
                GROUP BY p.document_id
                """,
                {
                    "docs": json.dumps(list(docs)),
                    "group": json.dumps(sorted(group)),
                    "least": FURNITURE_DOCUMENTS,
                },
            ).fetchall()  # fmt: skip
        )
        return {
            doc_id: max(0, doc.word_count - int(furniture.get(doc_id, 0)))
            for doc_id, doc in docs.items()
        }

    def _is_boilerplate_pair(self, a: Doc, b: Doc) -> bool:
        """Short, matching bodies under different headlines that they do not talk about."""
        if a.word_count > BOILERPLATE_MAX_WORDS or b.word_count > BOILERPLATE_MAX_WORDS:
            return False
        if not a.title or not b.title or _title_similarity(a.title, b.title) >= 0.5:
            return False
        return all(
            _title_coverage(doc.title or "", self._body(doc.id), doc.language) < 0.5
            for doc in (a, b)
        )

    def _body(self, document_id: int) -> str:
        return str(
            self.db.execute("SELECT body FROM documents WHERE id = ?", [document_id]).fetchone()[0]
        )

    def _flag_boilerplate(self, doc: Doc, partner: Doc) -> None:
        self.db.conn.execute(
            "UPDATE documents SET duplicate_of = NULL, summary_status = 'boilerplate',"
            " outlets = NULL, story_id = NULL WHERE id = ?",
            [doc.id],
        )
        if doc.story_id is not None:
            self.result.touched_stories.add(doc.story_id)
        # Its former copies (same headline too) are decided again without it as their canonical.
        self.db.conn.execute(
            "UPDATE documents SET duplicate_of = NULL, summary_status = NULL"
            " WHERE duplicate_of = ?",
            [doc.id],
        )
        self.reasons[doc.id] = (
            "boilerplate",
            None,
            f"the same short body ({doc.word_count} words) appears under a different headline"
            f" in #{partner.id} and does not mention its own headline: boilerplate, not an article",
        )
        self.distinct_from.pop(doc.id, None)
        self.boilerplate_partner[doc.id] = partner.id
        location = doc.path or doc.url or f"document:{doc.id}"
        self.db.conn.execute(
            """
            INSERT INTO rejects (location, kind, reason, detail, run_id, first_seen_at,
                                 last_seen_at)
            VALUES (?, ?, 'boilerplate_only', ?, ?, ?, ?)
            ON CONFLICT (location) DO UPDATE SET
                reason = excluded.reason, detail = excluded.detail, run_id = excluded.run_id,
                last_seen_at = excluded.last_seen_at, times_seen = times_seen + 1
            """,
            [location, "feed_item" if doc.url and not doc.path else "file",
             f"document {doc.id}: same body as document {partner.id} under another headline",
             self.run_id, self.stamp, self.stamp],
        )  # fmt: skip

    # -- after the batch --

    def _finish_groups(self) -> None:
        """Outlets on each canonical; one story per group; stories that lost members noted."""
        for root in self.touched_groups:
            row = self.db.execute(
                "SELECT duplicate_of FROM documents WHERE id = ?", [root]
            ).fetchone()
            if row is None or row[0] is not None:
                continue  # merged into another group later in the batch
            group = _load(self.db, self._group_of(root))
            ordered = sorted(group.values(), key=lambda d: (d.id != root, d.natural_at, d.id))
            outlets = list(dict.fromkeys(d.outlet for d in ordered if d.outlet))
            stories = [d.story_id for d in ordered if d.story_id is not None]
            story = stories[0] if stories else None
            self.result.touched_stories.update(stories)
            # The group's date is its earliest stated publication (a copy without a date must
            # not move the story out of its window), else when it was first stored.
            dated = self.db.execute(
                f"SELECT min(published_at), min(created_at) FROM documents"
                f" WHERE id IN ({','.join('?' * len(group))})",
                list(group),
            ).fetchone()
            self.db.conn.execute(
                "UPDATE documents SET outlets = ?, event_at = ? WHERE id = ?",
                [json.dumps(outlets), dated[0] or dated[1], root],
            )
            members = [d.id for d in ordered]
            marks = ",".join("?" * len(members))
            self.db.conn.execute(
                f"UPDATE documents SET story_id = ? WHERE id IN ({marks})", [story, *members]
            )

    def _finish_singletons(self, decided: set[int]) -> None:
        """A canonical without copies lists its own outlet and keeps its own date."""
        for doc in _load(self.db, decided - self.touched_groups).values():
            if doc.duplicate_of is not None or doc.summary_status == "boilerplate":
                continue
            if self.db.execute(
                "SELECT 1 FROM documents WHERE duplicate_of = ? LIMIT 1", [doc.id]
            ).fetchone():
                continue
            outlets = [doc.outlet] if doc.outlet else []
            self.db.conn.execute(
                "UPDATE documents SET outlets = ?, event_at = ? WHERE id = ?",
                [json.dumps(outlets), doc.natural_at, doc.id],
            )

    def _log_outcomes(self, decided: set[int]) -> None:
        """One decision row per decided document, and one per document whose canonical changed."""
        threshold = self.settings.threshold
        affected = set(decided)
        for root in self.touched_groups:
            affected |= self._group_of(root)
        docs = _load(self.db, affected)
        for doc in sorted(docs.values(), key=lambda d: d.id):
            old_dup, old_status = self.before.get(doc.id, (doc.duplicate_of, doc.summary_status))
            changed = (old_dup, old_status == "boilerplate") != (
                doc.duplicate_of,
                doc.summary_status == "boilerplate",
            )
            if doc.id not in decided and not changed:
                continue
            if doc.summary_status == "boilerplate":
                _, score, reason = self.reasons.get(doc.id, ("boilerplate", None, "boilerplate"))
                partner = self.boilerplate_partner.get(doc.id)
                self._insert(doc.id, partner, "minhash", score, "boilerplate", reason)
                if old_status != "boilerplate":
                    self.result.boilerplate += 1
            elif doc.duplicate_of is not None:
                canonical = (
                    docs.get(doc.duplicate_of)
                    or _load(self.db, [doc.duplicate_of])[doc.duplicate_of]
                )
                method, score = self._score(doc, canonical, "minhash")
                reason = _why_kept(
                    canonical, doc, self.full_words.get(canonical.id), self.full_words.get(doc.id)
                )
                held = (
                    self._contained_by(doc, canonical, score)
                    if method == "minhash" and score is not None and score < threshold
                    else None
                )
                if held is not None:
                    via, it = held
                    method, score = "containment", it.share
                    copy = "" if via == canonical.id else f", a copy of #{canonical.id}"
                    reason = (
                        f"contained: {it.share:.2f} of its shingles in #{via}{copy}"
                        f" (≥ {containment.CONTAINMENT_THRESHOLD:.2f}, {it.shingles} shingles);"
                        f" {reason}"
                    )
                elif method == "minhash" and score is not None:
                    if score >= threshold:
                        reason = f"Jaccard {score:.2f} ≥ {threshold:.2f}; {reason}"
                    else:
                        reason = (
                            f"Jaccard {score:.2f} with the canonical, joined through a copy that"
                            f" reaches {threshold:.2f}; {reason}"
                        )
                elif method == "url":
                    reason = f"same URL; {reason}"
                else:
                    reason = f"identical normalised body; {reason}"
                if not self._same_as_last(doc.id, doc.duplicate_of, method, "duplicate"):
                    self._insert(doc.id, doc.duplicate_of, method, score, "duplicate", reason)
                if old_dup is None:
                    self.result.duplicates += 1
            else:
                if old_dup is not None:
                    self.result.released += 1
                members = self.db.execute(
                    "SELECT count(*) FROM documents WHERE duplicate_of = ?", [doc.id]
                ).fetchone()[0]
                if members:
                    self._insert(
                        doc.id, doc.id, "minhash", None, "kept",
                        f"canonical of {members} cop{'y' if members == 1 else 'ies'}: longest full"
                        f" text ({self.full_words.get(doc.id, doc.word_count)} words without"
                        " furniture), then earliest",
                    )  # fmt: skip
                elif doc.id in self.distinct_from:
                    _, score, reason = self.reasons[doc.id]
                    self._insert(
                        doc.id, self.distinct_from[doc.id], "minhash", score, "distinct", reason
                    )
                else:
                    self._insert(
                        doc.id, None, "minhash", None, "distinct",
                        f"no candidate in the {self.settings.window_days}-day window shares an LSH"
                        " bucket, URL or content hash",
                    )  # fmt: skip

    def _same_as_last(
        self, document_id: int, canonical_id: int, method: str, decision: str
    ) -> bool:
        """True when the latest row already says this (the store logs exact copies at save time)."""
        row = self.db.execute(
            "SELECT canonical_id, method, decision, threshold FROM dedup_decisions"
            " WHERE document_id = ? AND method != 'story' ORDER BY id DESC LIMIT 1",
            [document_id],
        ).fetchone()
        expected = (canonical_id, method, decision, self._threshold_for(method))
        return row is not None and tuple(row) == expected

    def _contained_by(
        self, doc: Doc, canonical: Doc, jaccard: float
    ) -> tuple[int, containment.Containment] | None:
        """(container, containment) when a copy joined its group as a contained text: in the
        canonical itself if it holds it, else in the copy it was found contained in."""
        held = self._containment(doc, canonical, jaccard)
        if held is not None and held[1] and held[0].holds:
            return canonical.id, held[0]
        return self.contained_in.get(doc.id)

    def _threshold_for(self, method: str) -> float:
        # Exact methods have no tunable threshold: identity is 1.0, as the store records it.
        if method == "containment":
            return containment.CONTAINMENT_THRESHOLD
        return self.settings.threshold if method == "minhash" else 1.0

    def _insert(
        self,
        document_id: int,
        canonical_id: int | None,
        method: str,
        score: float | None,
        decision: str,
        reason: str,
    ) -> None:
        self.db.conn.execute(
            "INSERT INTO dedup_decisions (document_id, canonical_id, method, score, threshold,"
            " decision, reason, run_id, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [document_id, canonical_id, method, None if score is None else round(score, 4),
             self._threshold_for(method), decision, reason, self.run_id, self.stamp],
        )  # fmt: skip


def _why_kept(canonical: Doc, doc: Doc, kept_words: int | None, words: int | None) -> str:
    kept_words = canonical.word_count if kept_words is None else kept_words
    words = doc.word_count if words is None else words
    furniture = doc.word_count - words
    note = f"; {furniture} words of furniture not counted" if furniture else ""
    if words < (1 - LENGTH_TOLERANCE) * kept_words:
        return f"kept #{canonical.id}: longer full text ({kept_words} vs {words} words{note})"
    if canonical.first_seen < doc.first_seen:
        return (
            f"kept #{canonical.id}: as long ({kept_words} vs {words} words{note}), earlier"
            f" ({canonical.first_seen[:16]} vs {doc.first_seen[:16]})"
        )
    return f"kept #{canonical.id}: as long and as early, stored first"


_TITLE_WORD_MIN = 4


def _content_words(text: str, language: str | None) -> set[str]:
    return {
        word for word in shingles.tokens(text, language) if len(word) >= _TITLE_WORD_MIN - 1
        and not word.isdigit()
    } - _stop_words(language)  # fmt: skip


@lru_cache(maxsize=16)
def _stop_words(language: str | None) -> frozenset[str]:
    from sumy.utils import get_stop_words

    from tasks.sentences import PUNKT_LANGUAGES

    words: set[str] = set()
    for name in {PUNKT_LANGUAGES.get(language or "", "english"), "english"}:
        try:
            words |= {fold(w) for w in get_stop_words(name)}
        except LookupError:
            continue
    return frozenset(shingles.tokens(" ".join(sorted(words)), language)) | frozenset(words)


def _title_similarity(a: str, b: str) -> float:
    return shingles.jaccard(set(shingles.tokens(a)), set(shingles.tokens(b)))


def _title_coverage(title: str, body: str, language: str | None) -> float:
    """Share of the headline's content words that the body mentions."""
    wanted = _content_words(title, language)
    if not wanted:
        return 1.0  # nothing to tell: do not call it boilerplate
    return len(wanted & _content_words(body, language)) / len(wanted)


def _bucket_sql(count: int) -> str:
    # CROSS JOIN fixes the join order: SQLite walks our few keys and searches the primary key
    # (band, bucket) for each, instead of scanning the bands table.
    return (
        f"SELECT DISTINCT b.document_id FROM (VALUES {','.join(['(?, ?)'] * count)}) AS k"
        " CROSS JOIN lsh_bands b ON b.band = k.column1 AND b.bucket = k.column2"
        " WHERE b.document_id != ?"
    )


def _lede_bucket_sql(count: int) -> str:
    return (
        f"SELECT DISTINCT b.document_id FROM (VALUES {','.join(['(?, ?)'] * count)}) AS k"
        " CROSS JOIN lsh_bands b ON b.band = k.column1 AND b.bucket = k.column2"
        " CROSS JOIN documents d ON d.id = b.document_id"
        " WHERE b.document_id != ? AND (d.word_count <= ? OR d.word_count >= ?)"
    )


def candidate_query_plan(
    db: Database, keys: Sequence[tuple[int, int]], *, lede: bool = False
) -> list[str]:
    """SQLite's plan for the candidate look-up (tests check it searches the index, never scans)."""
    sql = "EXPLAIN QUERY PLAN " + (_lede_bucket_sql if lede else _bucket_sql)(len(keys))
    values = [v for key in keys for v in key] + ([0, 0, 0] if lede else [0])
    return [str(row[-1]) for row in db.execute(sql, values)]


__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW_DAYS",
    "DedupError",
    "DedupResult",
    "Settings",
    "deduplicate",
    "estimate",
    "load_settings",
    "lsh_params",
    "signature",
]
