"""A group's full texts: each member's words without the furniture, the short paragraphs that
documents outside the group carry too (an outlet's sign-up line, a cookie notice, a credit line).

A group's canonical is its longest full text, and a group is weighed again on every link, so this
is asked for the same members many times in a pass. The paragraphs do not change during a pass
(they are stored as it begins), so each member's paragraphs and each paragraph's number of
carriers are read once, and "carried outside the group" is the carriers less the members that
carry it: one statement per new member or paragraph, not a count over every carrier of every
paragraph of the group on each link (112 of 307 s in a 50,000-document recompute).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from sqlite_utils import Database

from newsflow.tasks.dedup.documents import Doc

# A short paragraph carried by this many documents outside a group is furniture, not text.
FURNITURE_DOCUMENTS = 2


class Furniture:
    """One pass's view of the short paragraphs (`paragraphs`), read as groups need them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.paragraphs: dict[int, list[tuple[str, int]]] = {}  # document → (hash, words)
        self.carriers: dict[str, int] = {}  # hash → documents that carry it

    def full_words(self, docs: dict[int, Doc], group: Iterable[int]) -> dict[int, int]:
        """Each document's words without the paragraphs that at least `FURNITURE_DOCUMENTS`
        documents outside `group` carry."""
        members = set(group) | set(docs)
        self._read(members)
        inside = Counter(h for member in members for h, _ in self.paragraphs[member])
        return {
            doc_id: max(
                0,
                doc.word_count
                - sum(
                    words
                    for h, words in self.paragraphs[doc_id]
                    if self.carriers[h] - inside[h] >= FURNITURE_DOCUMENTS
                ),
            )
            for doc_id, doc in docs.items()
        }

    def _read(self, members: set[int]) -> None:
        wanted = [i for i in members if i not in self.paragraphs]
        if not wanted:
            return
        for document_id in wanted:
            self.paragraphs[document_id] = []
        for document_id, h, words in self.db.execute(
            "SELECT document_id, hash, words FROM paragraphs"
            " WHERE document_id IN (SELECT value FROM json_each(?))",
            [json.dumps(wanted)],
        ).fetchall():
            self.paragraphs[document_id].append((h, words))
        hashes = {h for i in wanted for h, _ in self.paragraphs[i]} - self.carriers.keys()
        if hashes:
            self.carriers.update(
                self.db.execute(
                    "SELECT hash, count(*) FROM paragraphs"
                    " WHERE hash IN (SELECT value FROM json_each(?)) GROUP BY hash",
                    [json.dumps(sorted(hashes))],
                ).fetchall()
            )
