"""A dedup pass's candidates scored at once, a chunk of its documents at a time.

A pass changes no score: signatures, buckets, word counts and dates stay as they were when it
began. So rather than statements and a comparison per candidate as each document is decided, the
candidates of a chunk of documents are looked up together (`SignatureIndex.candidates_of`), their
facts and signatures read in one statement, and their estimates made in one NumPy comparison; the
decisions (`grouping.DedupPass._decide`) then read as documents only the candidates that can
change them: those at the threshold, and those under it that containment's cheap checks leave
possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

import numpy as np

from newsflow.tasks.dedup import containment
from newsflow.tasks.dedup.documents import MICROSECOND, Doc, Facts, load_docs
from newsflow.tasks.dedup.signature_index import SignatureIndex
from newsflow.tasks.dedup.signatures import NUM_PERM, equal_positions, estimate, is_empty

# Documents scored together: enough to share statements, few enough that a chunk's pairs (a
# paywall notice can have thousands of candidates) stay small in memory.
CHUNK = 100


class Scored(NamedTuple):
    """A candidate that counts for a document (`Scorer.score`)."""

    id: int
    method: str  # url | content_hash | minhash
    score: float
    maybe_contained: bool  # a MinHash pair that containment's cheap checks leave possible


class Scorer:
    """The scored candidates of a pass's documents, a chunk at a time as decisions reach them."""

    def __init__(self, index: SignatureIndex, docs: Sequence[Doc], window: timedelta) -> None:
        self.index = index
        self.window = window
        self.waiting = {doc.id: doc for doc in docs}  # in the order they are decided
        self.ready: dict[int, list[Scored]] = {}

    def scored_for(self, document_id: int) -> list[Scored] | None:
        """A document's candidates that count; None for a document that is gone."""
        while document_id not in self.ready and document_id in self.waiting:
            chunk = list(self.waiting.values())[:CHUNK]
            for doc in chunk:
                del self.waiting[doc.id]
            self.ready.update(self.score(chunk))
        if document_id not in self.ready:  # a copy taken out of its group, not in the batch
            alone = load_docs(self.index.db, [document_id])
            if document_id not in alone:
                return None
            return self.score(list(alone.values()))[document_id]
        return self.ready.pop(document_id)

    def score(self, docs: Sequence[Doc]) -> dict[int, list[Scored]]:
        """Each document's candidates that count, in the order they were found: with a score,
        and (MinHash pairs) within the window of each other (see the module's docstring)."""
        found = self.index.candidates_of(docs)
        facts = self.index.facts_of(
            {i for each in found.values() for i in each} | {d.id for d in docs}
        )
        listed: dict[int, list[tuple[int, str, float | None]]] = {}
        estimated: list[tuple[int, int, int]] = []  # (document, candidate, place in its list)
        for doc in docs:
            rows = listed[doc.id] = []
            for other_id, how in found[doc.id].items():
                other = facts.get(other_id)
                if other is None:
                    continue
                # The order of `score`: the same URL, the same body, then the estimate.
                if doc.url and doc.url == other.url:
                    rows.append((other_id, "url", 1.0))
                elif doc.content_hash == other.content_hash:
                    rows.append((other_id, "content_hash", 1.0))
                else:
                    estimated.append((doc.id, other_id, len(rows)))
                    rows.append((other_id, how, None))
        pairs = [(doc_id, other_id) for doc_id, other_id, _ in estimated]
        scores = self._estimates(pairs)
        possible = self._may_contain(pairs, scores, facts)
        held: dict[tuple[int, int], bool] = {}
        for (doc_id, other_id, place), score, maybe in zip(
            estimated, scores, possible, strict=True
        ):
            if score is not None:
                listed[doc_id][place] = (other_id, "minhash", score)
                held[doc_id, other_id] = maybe
        limit = self.window // MICROSECOND
        result: dict[int, list[Scored]] = {}
        for doc in docs:
            mine = facts[doc.id]
            kept = result[doc.id] = []
            for other_id, method, score in listed[doc.id]:
                if score is None:
                    continue
                # The window bounds near-duplicates; the same URL or body is the same at any date.
                if method == "minhash" and mine.apart(facts[other_id]) > limit:
                    continue
                kept.append(Scored(other_id, method, score, held.get((doc.id, other_id), False)))
        return result

    def _estimates(self, pairs: list[tuple[int, int]]) -> list[float | None]:
        """The Jaccard estimate of each (document, candidate) pair, None without two usable
        signatures (as `score`)."""
        usable = {
            i: values
            for i in {i for pair in pairs for i in pair}
            if (values := self.index.signatures.get(i)) is not None and not is_empty(values)
        }
        scores: list[float | None] = []
        for (a, b), equal in zip(pairs, equal_positions(usable, pairs, NUM_PERM), strict=True):
            if equal is not None:
                scores.append(equal / NUM_PERM)  # `estimate`'s arithmetic
            elif a in usable and b in usable:
                scores.append(estimate(usable[a], usable[b]))  # a signature of another length
            else:
                scores.append(None)
        return scores

    def _may_contain(
        self, pairs: list[tuple[int, int]], scores: list[float | None], facts: dict[int, Facts]
    ) -> list[bool]:
        """Whether `contained`'s checks before any body is read (the lengths with the estimate,
        then the ledes) leave a copy possible, for all pairs at once: a pair refused here is
        refused there."""
        scored = [k for k, score in enumerate(scores) if score is not None]
        possible = containment.could_contain_many(
            np.array([scores[k] for k in scored], dtype=np.float64),
            np.array([facts[pairs[k][0]].word_count for k in scored], dtype=np.int64),
            np.array([facts[pairs[k][1]].word_count for k in scored], dtype=np.int64),
            num_perm=NUM_PERM,
        ).tolist()
        wanted = [k for k, ok in zip(scored, possible, strict=True) if ok]
        ledes = {
            i: values
            for i in {i for k in wanted for i in pairs[k]}
            if (values := self.index.ledes.get(i)) is not None
        }
        width = containment.LEDE_BANDS * containment.LEDE_ROWS
        result = [False] * len(pairs)
        chosen = [pairs[k] for k in wanted]
        for k, (a, b), equal in zip(
            wanted, chosen, equal_positions(ledes, chosen, width), strict=True
        ):
            if equal is not None:
                result[k] = equal / width >= containment.LEDE_MIN_SIMILARITY
            else:  # no lede: no copy; a lede of another length: `contained` decides
                result[k] = a in ledes and b in ledes
        return result
