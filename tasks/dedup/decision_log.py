"""The decision log: every near-duplicate outcome a dedup_decisions row with the pair, the method,
the score, the threshold in force and why."""

from __future__ import annotations

from sqlite_utils import Database

from newsflow.tasks.dedup import containment
from newsflow.tasks.dedup.documents import Doc

# Full texts within this share of the longest count as equally long (then the earliest wins);
# a teaser or a copy truncated to 80 % is shorter than that.
LENGTH_TOLERANCE = 0.1


def why_kept(canonical: Doc, doc: Doc, kept_words: int | None, words: int | None) -> str:
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


class DecisionLog:
    """Writes a pass's decisions, each with the threshold of its method in force."""

    def __init__(self, db: Database, *, threshold: float, run_id: str | None, stamp: str) -> None:
        self.db = db
        self.threshold = threshold
        self.run_id = run_id
        self.stamp = stamp

    def same_as_last(self, document_id: int, canonical_id: int, method: str, decision: str) -> bool:
        """True when the latest row already says this (the store logs exact copies at save time)."""
        row = self.db.execute(
            "SELECT canonical_id, method, decision, threshold FROM dedup_decisions"
            " WHERE document_id = ? AND method != 'story' ORDER BY id DESC LIMIT 1",
            [document_id],
        ).fetchone()
        expected = (canonical_id, method, decision, self.threshold_for(method))
        return row is not None and tuple(row) == expected

    def threshold_for(self, method: str) -> float:
        # Exact methods have no tunable threshold: identity is 1.0, as the store records it.
        if method == "containment":
            return containment.CONTAINMENT_THRESHOLD
        return self.threshold if method == "minhash" else 1.0

    def insert(
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
             self.threshold_for(method), decision, reason, self.run_id, self.stamp],
        )  # fmt: skip
