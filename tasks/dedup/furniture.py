"""A group's full texts: each member's words without the furniture, the short paragraphs that
documents outside the group carry too (an outlet's sign-up line, a cookie notice, a credit line).

A group's canonical is its longest full text, and a group is weighed again on every link, so this
is asked for the same members many times in a pass. The paragraphs do not change during a pass
(they are stored as it begins), so each member's paragraphs and each paragraph's number of
carriers are read once, and "carried outside the group" is the carriers less the members that
carry it. A group that grew from one weighed before in the pass is weighed from that one: only
the paragraphs of its new members change the counts, and only members that carry a paragraph
whose verdict flipped are summed again (a group of thousands is not re-read for each copy).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlite_utils import Database

from newsflow.tasks.dedup.documents import Doc

# A short paragraph carried by this many documents outside a group is furniture, not text.
FURNITURE_DOCUMENTS = 2


@dataclass
class _Weighed:
    """A group as last weighed: its members, how many of them carry each paragraph, and each
    member's full words."""

    members: set[int]
    inside: Counter[str] = field(default_factory=Counter)
    carried_by: dict[str, list[int]] = field(default_factory=dict)  # paragraph → members
    full: dict[int, int] = field(default_factory=dict)


class Furniture:
    """One pass's view of the short paragraphs (`paragraphs`), read as groups need them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.paragraphs: dict[int, list[tuple[str, int]]] = {}  # document → (hash, words)
        self.carriers: dict[str, int] = {}  # hash → documents that carry it
        self.words: dict[int, int] = {}  # document → its words, furniture included
        self._weighed: dict[int, _Weighed] = {}  # member → the last weighing it was in

    def full_words(self, docs: dict[int, Doc], group: Iterable[int]) -> dict[int, int]:
        """Each document's words without the paragraphs that at least `FURNITURE_DOCUMENTS`
        documents outside `group` carry."""
        members = set(group) | set(docs)
        self._read(members)
        self.words.update((doc_id, doc.word_count) for doc_id, doc in docs.items())
        state = self._grown_from(members)
        self._add(state, members - state.members)
        self._weighed.update(dict.fromkeys(members, state))
        return {doc_id: state.full[doc_id] for doc_id in docs}

    def full_of(self, document_id: int, default: int | None = None) -> int | None:
        """A document's full words as its group was last weighed in this pass, else `default`."""
        state = self._weighed.get(document_id)
        return state.full.get(document_id, default) if state is not None else default

    def _grown_from(self, members: set[int]) -> _Weighed:
        """The largest group weighed before whose members are all in this one (taken over: its
        members are this group's now), else an empty one."""
        seen = {id(w): w for m in members if (w := self._weighed.get(m)) is not None}
        within = [w for w in seen.values() if w.members <= members]
        return max(within, key=lambda w: len(w.members), default=None) or _Weighed(set())

    def _add(self, state: _Weighed, new: set[int]) -> None:
        """Count the new members' paragraphs in; sum again whoever a flipped verdict touches."""
        flipped: set[str] = set()
        for member in new:
            for h, _ in self.paragraphs[member]:
                before = self._is_furniture(h, state)
                state.inside[h] += 1
                state.carried_by.setdefault(h, []).append(member)
                if self._is_furniture(h, state) != before:
                    flipped ^= {h}  # flipped twice is not flipped
        state.members |= new
        touched = {m for h in flipped for m in state.carried_by[h]} | new
        for member in touched:
            furniture = sum(w for h, w in self.paragraphs[member] if self._is_furniture(h, state))
            state.full[member] = max(0, self.words.get(member, 0) - furniture)

    def _is_furniture(self, h: str, state: _Weighed) -> bool:
        return self.carriers[h] - state.inside[h] >= FURNITURE_DOCUMENTS

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
