"""One dedup pass: each queued document against its candidates, groups formed and their canonical
chosen (the longest full text, then the earliest), boilerplate told apart, every outcome logged."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from sqlite_utils import Database

from newsflow.tasks.dedup import containment
from newsflow.tasks.dedup.boilerplate import is_boilerplate_pair
from newsflow.tasks.dedup.decision_log import LENGTH_TOLERANCE, DecisionLog, why_kept
from newsflow.tasks.dedup.documents import DedupResult, Doc, load_docs
from newsflow.tasks.dedup.furniture import Furniture
from newsflow.tasks.dedup.scoring import Scorer
from newsflow.tasks.dedup.settings import Settings
from newsflow.tasks.dedup.signature_index import SignatureIndex
from newsflow.tasks.store.writer import now


class DedupPass:
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
        self.contained_in: dict[int, tuple[int, containment.Containment]] = {}
        self.before: dict[int, tuple[int | None, str | None]] = {}
        self.reasons: dict[int, tuple[str, float | None, str]] = {}
        self.touched_groups: set[int] = set()
        self.distinct_from: dict[int, int] = {}  # document → its closest candidate below threshold
        self.boilerplate_partner: dict[int, int] = {}
        self.furniture = Furniture(db)
        self.members: dict[int, Doc] = {}  # group members read by `_regroup`: their texts
        self.known: dict[int, tuple[int | None, str | None]] = {}  # (duplicate_of, status)
        self.stamp = now()
        self.index = SignatureIndex(db, bands, rows, stamp=self.stamp)
        self.decisions = DecisionLog(
            db, threshold=settings.threshold, run_id=run_id, stamp=self.stamp
        )

    # -- the batch --

    def run(self, pending: list[int]) -> None:
        docs = load_docs(self.db, pending)
        pending = [i for i in pending if i in docs]
        self._remember(docs.values())
        self.index.store(pending, docs, self.result)
        # Scored a chunk at a time, not each as it is decided: the pass changes no score.
        self.scorer = Scorer(self.index, [docs[i] for i in pending], self.window)
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
        self._remember_states({doc.id: (doc.duplicate_of, doc.summary_status) for doc in docs})

    def _remember_states(self, states: dict[int, tuple[int | None, str | None]]) -> None:
        for document_id, state in states.items():
            if document_id in self.before:
                continue
            if self.recompute:
                row = self.db.execute(
                    "SELECT duplicate_of, summary_status FROM temp.dedup_before WHERE id = ?",
                    [document_id],
                ).fetchone()
                state = (row[0], row[1]) if row else (None, None)
            self.before[document_id] = state

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
            self._remember(load_docs(self.db, new).values())
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

    # -- one document --

    def _decide(self, document_id: int) -> None:
        scored = self.scorer.scored_for(document_id)
        if scored is None:
            return
        threshold = self.settings.threshold
        # Of the candidates, only those that can change the outcome are read as documents: at
        # the threshold, or under it where containment's cheap checks leave a copy possible.
        wanted = [c.id for c in scored if c.score >= threshold or c.maybe_contained]
        others = load_docs(self.db, [document_id, *wanted])
        doc = others[document_id]
        self.result.candidates += len(scored)
        matches: list[tuple[Doc, str, float]] = []
        below: list[tuple[Doc, float]] = []  # minhash candidates under the threshold
        best_below: tuple[float, int] | None = None
        boilerplate_with: list[Doc] = []
        for candidate in scored:
            method, score = candidate.method, candidate.score
            if score < threshold:
                if method == "minhash" and candidate.maybe_contained:
                    other = others[candidate.id]
                    if other.summary_status != "boilerplate":
                        below.append((other, score))
                if best_below is None or score > best_below[0]:
                    best_below = (score, candidate.id)
                continue
            other = others[candidate.id]
            if is_boilerplate_pair(self.index.body, doc, other):
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
            held = self.index.contained(doc, other, score)
            if (
                held is None
                or not held[0].holds
                or is_boilerplate_pair(self.index.body, doc, other)
            ):
                continue
            found.append((other, *held))
            home.add(root)
            container = container or held[1]
        return found

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
        # A big group is weighed again on every link: each member's canonical and status are
        # read once a pass and then kept as this pass writes them (`known`), the rest of a
        # member once a pass (`members`).
        unknown = [i for i in group if i not in self.known]
        if unknown:
            for row in self.db.execute(
                "SELECT id, duplicate_of, summary_status FROM documents"
                " WHERE id IN (SELECT value FROM json_each(?))",
                [json.dumps(sorted(unknown))],
            ).fetchall():
                self.known[row[0]] = (row[1], row[2])
        states = {i: self.known[i] for i in group if i in self.known}
        self.members.update(load_docs(self.db, states.keys() - self.members.keys()))
        docs = {i: self.members[i] for i in states}
        # Members decided in an earlier run (an old canonical that a longer text now holds) are
        # remembered too, so their change is logged.
        self._remember_states(states)
        full = self.furniture.full_words(docs, group)
        # Longest full text, then earliest; lengths within LENGTH_TOLERANCE count as equal, so
        # a line or two of edits or furniture never outranks the text that came first.
        longest = max(full.values())
        eligible = [d for d in docs.values() if full[d.id] >= (1 - LENGTH_TOLERANCE) * longest]
        canonical = min(eligible, key=lambda d: (d.first_seen, d.id))
        for doc_id, (duplicate_of, status) in states.items():
            if doc_id == canonical.id:
                if duplicate_of is not None or status == "duplicate":
                    self.db.conn.execute(
                        "UPDATE documents SET duplicate_of = NULL, summary_status = NULL,"
                        " outlets = NULL WHERE id = ?",
                        [doc_id],
                    )
                    self.known[doc_id] = (None, None)
                continue
            if duplicate_of != canonical.id or status != "duplicate":
                self.db.conn.execute(
                    "UPDATE documents SET duplicate_of = ?, summary_status = 'duplicate',"
                    " outlets = NULL WHERE id = ?",
                    [canonical.id, doc_id],
                )
                self.known[doc_id] = (canonical.id, "duplicate")
        self.touched_groups.add(canonical.id)

    def _flag_boilerplate(self, doc: Doc, partner: Doc) -> None:
        self.known.clear()  # it releases copies: their states are read again
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
            group = load_docs(self.db, self._group_of(root))
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
        for doc in load_docs(self.db, decided - self.touched_groups).values():
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
        docs = load_docs(self.db, affected)
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
                self.decisions.insert(doc.id, partner, "minhash", score, "boilerplate", reason)
                if old_status != "boilerplate":
                    self.result.boilerplate += 1
            elif doc.duplicate_of is not None:
                canonical = (
                    docs.get(doc.duplicate_of)
                    or load_docs(self.db, [doc.duplicate_of])[doc.duplicate_of]
                )
                method, score = self.index.score(doc, canonical, "minhash")
                reason = why_kept(
                    canonical,
                    doc,
                    self.furniture.full_of(canonical.id),
                    self.furniture.full_of(doc.id),
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
                if not self.decisions.same_as_last(doc.id, doc.duplicate_of, method, "duplicate"):
                    self.decisions.insert(
                        doc.id, doc.duplicate_of, method, score, "duplicate", reason
                    )
                if old_dup is None:
                    self.result.duplicates += 1
            else:
                if old_dup is not None:
                    self.result.released += 1
                members = self.db.execute(
                    "SELECT count(*) FROM documents WHERE duplicate_of = ?", [doc.id]
                ).fetchone()[0]
                if members:
                    self.decisions.insert(
                        doc.id, doc.id, "minhash", None, "kept",
                        f"canonical of {members} cop{'y' if members == 1 else 'ies'}: longest full"
                        f" text ({self.furniture.full_of(doc.id, doc.word_count)} words without"
                        " furniture), then earliest",
                    )  # fmt: skip
                elif doc.id in self.distinct_from:
                    _, score, reason = self.reasons[doc.id]
                    self.decisions.insert(
                        doc.id, self.distinct_from[doc.id], "minhash", score, "distinct", reason
                    )
                else:
                    self.decisions.insert(
                        doc.id, None, "minhash", None, "distinct",
                        f"no candidate in the {self.settings.window_days}-day window shares an LSH"
                        " bucket, URL or content hash",
                    )  # fmt: skip

    def _contained_by(
        self, doc: Doc, canonical: Doc, jaccard: float
    ) -> tuple[int, containment.Containment] | None:
        """(container, containment) when a copy joined its group as a contained text: in the
        canonical itself if it holds it, else in the copy it was found contained in."""
        held = self.index.contained(doc, canonical, jaccard)
        if held is not None and held[1] and held[0].holds:
            return canonical.id, held[0]
        return self.contained_in.get(doc.id)
