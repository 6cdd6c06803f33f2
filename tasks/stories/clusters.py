"""Online story clustering: each report joins the most similar story of its window, or opens one.

A report is compared with stories, not with every report (the shape of streaming news clustering,
Miranda et al. 2018). A story keeps

* two centroids, sums of its reports' unit TF-IDF vectors: one of the headline and lede, one of
  the whole text. The headline and lede carry an event most surely, and are all there is of a
  headline-only item or a teaser;
* how many of its reports carry each signal (names, figures, dates, gazetteer countries and
  organisations): evidence that survives paraphrase and translation;
* its time span, so that similarity decays with the days between a report and the story.

A report in a language the story already holds joins when headline, text and signals together
score at least `JOIN_SAME`; in another language, when it shares most of its signal weight with the
story and at least `MIN_SHARED` names, figures or dates (the bilingual gazetteer maps "Cambodia"
and "Kambodscha" to one id, so those count too).

Candidate stories come from an inverted index of the rarer headline terms, text terms and signals
of their reports: the cost per report depends on what it shares, not on the window's size. A
clusterer can hold every story in memory (and drop those that fall out of the window as it moves
on in time), or be given a `loader`: story passes keep the index, the centroids and the document
frequencies in SQLite and load only the stories a report looks up (`tasks/stories/story_state.py`).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from newsflow.tasks.stories import entities

# How a same-language score is made, and where it joins (calibrated with `python -m
# benchmarks.stories` on real headlines and `python -m benchmarks.dedup` on rewritten articles).
W_HEAD = 0.6
W_TEXT = 0.35
W_SIGNALS = 0.20
JOIN_SAME = 0.34
# A long report (an article, not a headline or teaser) must also share the event's text and
# details. Without stated dates nothing tells a saga's next article from another outlet's report
# of the same day: two articles of one subject share a headline's words and names, and only the
# text and figures that rewrites of one report keep tell them apart (the strict gate, calibrated
# on `benchmarks.dedup`, whose articles are undated). With dates on both sides the decay does
# most of that work, and another outlet's own article of the event writes its own text.
LONG_TERMS = 40  # distinct text terms: more than a headline and a teaser of two or three lines
LONG_TEXT_MIN = 0.55
LONG_SIGNALS_MIN = 0.7
DATED_TEXT_MIN = 0.35
DATED_SIGNALS_MIN = 0.5
# Other language: share of the sparer side's signal weight both hold, and specific signals shared.
JOIN_CROSS = 0.45
MIN_SHARED = 3
SIGNALS_FULL = 2  # signals in common for the signal similarity to count in full
SPECIFIC_KINDS = frozenset(("name", "num", "date", "md"))
# Similarity halves for every HALF_LIFE_DAYS between a report and the story's span: on real
# headlines the same words a day apart are as often the next event (the next day's markets, the
# next round of talks) as the same one (`python -m benchmarks.stories`: precision 0.94 -> 0.95
# at the same recall with a half-life of 1 day instead of 3).
HALF_LIFE_DAYS = 1.0
HALF_LIFE_CROSS_DAYS = 3.0  # a translation may follow its original by a day or two
# Index look-ups: the report's headline terms, its LOOKUP_TERMS heaviest text terms and its
# LOOKUP_SIGNALS heaviest signals. A key points to the last MAX_POSTINGS stories that added it,
# so a look-up costs the same however many stories the window holds (a common word: recent ones).
LOOKUP_TERMS = 12
LOOKUP_SIGNALS = 64
MAX_POSTINGS = 64
MAX_CANDIDATES = 12  # stories scored in full per report, the ones sharing the most weight
# A report's vectors keep their heaviest terms only: the rest weigh little and cost a look-up.
VECTOR_TERMS = 60
HEAD_MARK = "^"  # headline-and-lede terms are "en^word"; text terms "en:word"

DAY = 86_400.0


@dataclass
class Profile:
    """A report as the clusterer compares it: unit vectors, weighted signals, a time."""

    id: int
    language: str | None
    when: float  # seconds since the epoch
    head: dict[str, float]
    text: dict[str, float]
    signals: dict[str, float]  # signal → weight (its kind's weight × its rarity)
    lookup: list[tuple[str, float]]  # index keys and how much a match on each says
    terms: int = 0  # distinct text terms before the vector kept its heaviest
    dated: bool = False  # the report states when it was published
    specific: frozenset[str] = frozenset()  # its names, figures and dates
    signal_total: float = 0.0

    @property
    def is_long(self) -> bool:
        return self.terms >= LONG_TERMS


@dataclass
class Story:
    """A story as the clusterer holds it."""

    id: int
    lead: int  # its first report: the decision rows name it as the partner
    members: list[int] = field(default_factory=list)
    head: dict[str, float] = field(default_factory=dict)
    text: dict[str, float] = field(default_factory=dict)
    head_norm2: float = 0.0
    text_norm2: float = 0.0
    signals: Counter[str] = field(default_factory=Counter)
    signal_mass: float = 0.0  # the members' signal weights, summed (as weighed when they joined)
    undated: int = 0  # reports with no stated date
    size: int = 0
    first: float = math.inf
    last: float = -math.inf
    languages: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Score:
    """How a report compares with a story, and whether it joins."""

    story: int
    joins: bool
    score: float
    head: float
    text: float
    signals: float
    shared: tuple[str, ...]
    same_language: bool
    days: float

    @property
    def threshold(self) -> float:
        return JOIN_SAME if self.same_language else JOIN_CROSS

    def explain(self) -> str:
        """A one-line reason a person can check."""
        shared = ", ".join(_telling(self.shared)[:8]) or "none"
        half_life = HALF_LIFE_DAYS if self.same_language else HALF_LIFE_CROSS_DAYS
        apart = f"{self.days:.1f} days from the story (similarity halves every {half_life:g})"
        if self.same_language:
            return (
                f"score {self.score:.2f} (joins at ≥ {JOIN_SAME}) = ({W_HEAD} × headline"
                f" {self.head:.2f} + {W_TEXT} × text {self.text:.2f} + {W_SIGNALS} × signals"
                f" {self.signals:.2f}) × time; {apart}; shared: {shared}"
            )
        return (
            f"other language: signals {self.signals:.2f} × time = {self.score:.2f} (joins at ≥"
            f" {JOIN_CROSS} with ≥ {MIN_SHARED} names, figures or dates in common); {apart};"
            f" shared: {shared}"
        )


class Clusterer:
    """Stories of one pass, their index, and the document frequencies that weigh terms."""

    def __init__(self, *, window_days: float) -> None:
        self.window = window_days * DAY
        self.stories: dict[int, Story] = {}
        # key → story ids, oldest first (a dict as an ordered set)
        self.index: defaultdict[str, dict[int, None]] = defaultdict(dict)
        self.df: Counter[str] = Counter()
        self.n = 0
        self.counted: set[int] = set()  # reports counted in the document frequencies
        self.members: set[int] = set()  # reports in the stories held
        self._dropped = 0
        # Where stories not held come from (ids, the report's time → those of them in its window):
        # a clusterer backed by the database (`tasks/stories/story_state.py`) holds only the
        # stories its reports looked up.
        self.loader: Callable[[list[int], float], Mapping[int, Story]] | None = None

    # --- weighing ------------------------------------------------------------------------------

    def count(self, reports: Iterable[tuple[int, Mapping[str, float], Iterable[str]]]) -> None:
        """Count reports (id, terms, signals) in the document frequencies, once each."""
        for doc_id, terms, signals in reports:
            if doc_id in self.counted:
                continue
            self.counted.add(doc_id)
            self.n += 1
            self.df.update(terms.keys())
            self.df.update(set(signals))

    def _idf(self, key: str) -> float:
        return math.log((1 + self.n) / (1 + self.df[key])) + 1

    def profile(
        self,
        doc_id: int,
        language: str | None,
        when: float,
        terms: Mapping[str, float],
        signals: Iterable[str],
        *,
        dated: bool = False,
    ) -> Profile:
        """The report's vectors and signal weights under the current frequencies."""
        head: dict[str, float] = {}
        text: dict[str, float] = {}
        for key, count in terms.items():
            weight = (1 + math.log(count)) * self._idf(key) if count > 0 else 0.0
            (head if HEAD_MARK in key else text)[key] = weight
        distinct = len(text)
        head, text = _unit(_heaviest(head)), _unit(_heaviest(text))
        weights = {
            key: entities.KIND_WEIGHTS.get(entities.kind(key), 0.5) * self._idf(key)
            for key in set(signals)
        }
        lookup = [(key, weight) for key, weight in head.items()]
        lookup += heapq.nlargest(LOOKUP_TERMS, text.items(), key=_weight)
        lookup += [
            (key, weight / 3)
            for key, weight in heapq.nlargest(LOOKUP_SIGNALS, weights.items(), key=_weight)
        ]
        specific = frozenset(k for k in weights if entities.kind(k) in SPECIFIC_KINDS)
        return Profile(
            doc_id, language, when, head, text, weights, lookup, terms=distinct, dated=dated,
            specific=specific, signal_total=sum(weights.values()),
        )  # fmt: skip

    # --- stories -------------------------------------------------------------------------------

    def add(self, profile: Profile, story_id: int) -> Story:
        """Put a report in a story (opened when new) and index what it brings."""
        story = self.stories.get(story_id)
        if story is None:
            story = self.stories[story_id] = Story(story_id, lead=profile.id)
        story.head_norm2 = _add_into(story.head, profile.head, story.head_norm2)
        story.text_norm2 = _add_into(story.text, profile.text, story.text_norm2)
        story.members.append(profile.id)
        story.undated += not profile.dated
        self.members.add(profile.id)
        story.signals.update(profile.signals.keys())
        story.signal_mass += profile.signal_total
        story.size += 1
        story.first, story.last = min(story.first, profile.when), max(story.last, profile.when)
        if profile.language:
            story.languages[profile.language] += 1
        for key, _ in profile.lookup:
            postings = self.index[key]
            postings.pop(story_id, None)
            postings[story_id] = None  # now the latest
            if len(postings) > MAX_POSTINGS:
                del postings[next(iter(postings))]
        return story

    def drop(self, story_ids: Iterable[int]) -> None:
        """Forget these stories (their reports changed: the caller reads them again)."""
        for story_id in story_ids:
            story = self.stories.pop(story_id, None)
            if story is not None:
                self.members.difference_update(story.members)
                self._dropped += 1

    def forget_before(self, when: float) -> None:
        """Drop the stories whose last report is more than a window before `when`."""
        gone = [s.id for s in self.stories.values() if s.last < when - self.window]
        self.drop(gone)
        if self._dropped > max(1000, len(self.stories)):  # postings of dropped stories: sweep
            for key in list(self.index):
                live = {s: None for s in self.index[key] if s in self.stories}
                if live:
                    self.index[key] = live
                else:
                    del self.index[key]
            self._dropped = 0

    # --- deciding ------------------------------------------------------------------------------

    def candidates(self, profile: Profile) -> list[Story]:
        """The stories in the window that share the most weight with the report (index only)."""
        shared: defaultdict[int, float] = defaultdict(float)
        for key, weight in profile.lookup:
            postings = self.index.get(key)
            if postings:
                for story_id in postings:
                    shared[story_id] += weight
        # The heaviest first; stories out of the window stay indexed until forget_before sweeps
        # them, so a few more are ranked than are kept.
        ranked = heapq.nlargest(3 * MAX_CANDIDATES, shared.items(), key=_shared_order)
        if self.loader is not None:
            missing = [story_id for story_id, _ in ranked if story_id not in self.stories]
            if missing:
                self.stories.update(self.loader(missing, profile.when))
        found = []
        for story_id, _ in ranked:
            story = self.stories.get(story_id)
            if story is not None and _days_apart(profile.when, story) * DAY <= self.window:
                found.append(story)
                if len(found) == MAX_CANDIDATES:
                    break
        return found

    def score(self, profile: Profile, story: Story) -> Score:
        """Compare a report with a story."""
        same = profile.language is not None and story.languages[profile.language] > 0
        head = _cosine(profile.head, story.head, story.head_norm2)
        text = _cosine(profile.text, story.text, story.text_norm2)
        # Signal weight both hold, over the smaller of the two totals: a German report names
        # every capitalised noun, an English one fewer; what counts is how much of the sparer
        # report the other holds (a signal counts by the share of the story's reports with it).
        held = 0.0
        common = []  # signals at least half the story's reports carry
        counts, half = story.signals, story.size / 2
        for key, weight in profile.signals.items():
            count = counts.get(key)  # not counts[key]: a Counter's miss costs a method call
            if count:
                held += weight * count
                if count >= half:
                    common.append(key)
        held /= story.size
        smaller = min(profile.signal_total, story.signal_mass / story.size)
        signals = min(1.0, held / smaller) if smaller > 0 else 0.0
        # One shared signal (a country every report on the subject names) is thin evidence.
        signals *= min(1.0, len(common) / SIGNALS_FULL)
        days = _days_apart(profile.when, story)
        specific = sum(1 for k in common if k in profile.specific)
        if same:
            decay = 0.5 ** (days / HALF_LIFE_DAYS)
            score = (W_HEAD * head + W_TEXT * text + W_SIGNALS * signals) * decay
            joins = score >= JOIN_SAME and (not profile.is_long or _shares_details(
                text, signals, dated=profile.dated and not story.undated
            ))  # fmt: skip
        else:
            score = signals * 0.5 ** (days / HALF_LIFE_CROSS_DAYS)
            joins = score >= JOIN_CROSS and specific >= MIN_SHARED
        return Score(story.id, joins, score, head, text, signals, tuple(common), same, days)

    def best(self, profile: Profile) -> tuple[list[Score], Score | None]:
        """The stories the report joins (best first), and the closest story when it joins none."""
        scored = [self.score(profile, story) for story in self.candidates(profile)]
        joining = sorted((s for s in scored if s.joins), key=lambda s: (-s.score, s.story))
        closest = max(scored, key=lambda s: (s.score, -s.story), default=None)
        return joining, closest


def _shares_details(text: float, signals: float, *, dated: bool) -> bool:
    """Whether a long report shares enough of a story's text and details to join it."""
    if dated:
        return text >= DATED_TEXT_MIN and signals >= DATED_SIGNALS_MIN
    return text >= LONG_TEXT_MIN and signals >= LONG_SIGNALS_MIN


def _weight(item: tuple[str, float]) -> float:
    return item[1]


def _shared_order(item: tuple[int, float]) -> tuple[float, int]:
    return item[1], -item[0]  # the most shared weight, then the oldest story


def _heaviest(vector: dict[str, float]) -> dict[str, float]:
    if len(vector) <= VECTOR_TERMS:
        return vector
    return dict(heapq.nlargest(VECTOR_TERMS, vector.items(), key=_weight))


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {k: w / norm for k, w in vector.items()} if norm > 0 else {}


def _add_into(total: dict[str, float], vector: Mapping[str, float], norm2: float) -> float:
    """Add `vector` into `total` in place; the new squared norm of `total`."""
    dot = 0.0
    extra = 0.0
    for key, weight in vector.items():
        before = total.get(key, 0.0)
        dot += before * weight
        extra += weight * weight
        total[key] = before + weight
    return norm2 + 2 * dot + extra


def _cosine(unit: Mapping[str, float], total: Mapping[str, float], norm2: float) -> float:
    if norm2 <= 0 or not unit:
        return 0.0
    return sum(w * total.get(k, 0.0) for k, w in unit.items()) / math.sqrt(norm2)


def _days_apart(when: float, story: Story) -> float:
    if story.first <= when <= story.last:
        return 0.0
    return min(abs(when - story.first), abs(when - story.last)) / DAY


_ORDER = {kind: i for i, kind in enumerate(("date", "md", "name", "num", "org", "country"))}


def _telling(keys: Iterable[str]) -> tuple[str, ...]:
    """Shared signals, the most telling first (for the decision's reason)."""
    return tuple(sorted(keys, key=lambda k: (_ORDER.get(entities.kind(k), 9), k)))
