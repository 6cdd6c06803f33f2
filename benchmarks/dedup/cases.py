"""Labelled dedup and story cases built from real articles, written as files the ingest reads.

Every original (a BBC News Summary article or a seed) is a *family*. Its edited copies are the
near-duplicates a feed reader meets: boilerplate added, sentences dropped, sentences reordered,
words changed, truncated to 80 %, cut to its first 30–50 % at a sentence end (as a wire desk
cuts a story), headline changed, a wire copy (new headline, an outlet's furniture, a few words
changed), and all of these at once ("combined"). Those must be flagged as
duplicates of the original. A heavy rewrite and a translation (`translations/`, written for this
benchmark) are the same event but not the same text: they must land in the original's story
without being called duplicates. Distinct originals, many on the same topic, must stay apart.
Short disclaimers under different real headlines must be flagged as boilerplate, not merged.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from newsflow.tasks.common.sentences import split_sentences
from newsflow.tasks.ingest.clean import ATTRIBUTION, clean_article, is_headline

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "bbc-news-summary" / "article"
SEEDS = ROOT / "seeds"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

# Edits that keep the text: the copy is a near-duplicate of its original.
DUPLICATE_EDITS = (
    "boilerplate", "dropped", "reordered", "words", "truncated", "cut", "headline", "wire",
    "combined",
)  # fmt: skip
# A cut copy keeps this share of the words (drawn per copy), ending at the end of a sentence.
CUT_SHARE = (0.3, 0.5)
# Same event, different text: same story, not a duplicate.
STORY_EDITS = ("rewrite", "translation")

# Furniture outlets add around an article; some lines the cleaner knows, some it cannot.
FURNITURE_TOP = (
    "Advertisement",
    "Listen to this article",
    "Updated 2 hours ago",
    "By our correspondent",
)
FURNITURE_BOTTOM = (
    "Sign up for our morning briefing and get the day's top stories in your inbox.",
    "Reporting by the newsroom; editing by the night desk.",
    "This story has been updated with additional details since it was first published.",
    "Copyright 2005 The Daily Wire Service. All rights reserved.",
    "Related Topics",
    "Share this article on Facebook",
    "Our journalism is independent and free to read thanks to readers who support us.",
)
DISCLAIMERS = (
    "This article is available to subscribers only. Log in with your account or start a free"
    " trial to continue reading our award-winning journalism today.",
    "The content you requested could not be displayed in your region because of licensing"
    " restrictions. We apologise for any inconvenience this may cause.",
)


@dataclass
class Case:
    """One file of the benchmark and what it is."""

    relpath: str
    family: str  # the original it comes from (a boilerplate notice is its own family)
    variant: str  # original | one of DUPLICATE_EDITS | one of STORY_EDITS | notice
    text: str

    @property
    def kind(self) -> str:
        if self.variant == "original":
            return "original"
        if self.variant in DUPLICATE_EDITS:
            return "duplicate"
        if self.variant in STORY_EDITS:
            return "story"
        return "boilerplate"


@dataclass
class Article:
    """An original: headline and paragraphs."""

    family: str
    title: str | None
    paragraphs: list[str]
    language: str
    raw: str | None = None  # the file as published, when it holds more than title and paragraphs
    footer: str | None = None  # an attribution line with the date ("Quelle: …, 27. Dezember 2025")

    def render(
        self, title: str | None = None, paragraphs: list[str] | None = None, *, footer: bool = True
    ) -> str:
        head = title if title is not None else self.title
        parts = list(paragraphs if paragraphs is not None else self.paragraphs)
        if footer and self.footer:
            parts.append(self.footer)  # a republished copy keeps the date it was dated with
        body = "\n\n".join(parts)
        return f"{head}\n\n{body}\n" if head else f"{body}\n"


def load_originals(*, per_topic: int | None = None) -> list[Article]:
    """The BBC articles (all, or the first `per_topic` of each topic) and the five seeds."""
    articles: list[Article] = []
    if CORPUS.is_dir():
        for topic in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
            for path in sorted(topic.glob("*.txt"))[:per_topic]:
                text = path.read_bytes().decode("utf-8", errors="replace")
                lines = [line.strip() for line in text.splitlines()]
                title, rest = lines[0], [line for line in lines[1:] if line]
                articles.append(Article(f"bbc-{topic.name}-{path.stem}", title, rest, "en"))
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        # The original is the file as it is (ticker, repeated headline, attribution); the edits
        # start from its clean headline and paragraphs, as a republishing outlet would.
        article = clean_article(text)
        language = "de" if re.search(r"\b(und|der|die|das)\b", text[:2000]) else "en"
        paragraphs = [p for p in article.body.split("\n\n") if p.strip()]
        footer = next((line for line in article.dropped if ATTRIBUTION.match(line)), None)
        articles.append(
            Article(f"seed-{path.stem}", article.title, paragraphs, language, text, footer)
        )
    return articles


def _sentences(article: Article) -> list[list[str]]:
    return [split_sentences(p, article.language) or [p] for p in article.paragraphs]


def _headline_from_lede(article: Article, rng: random.Random) -> str:
    lede = _sentences(article)[0][0]
    words = re.sub(r"[\"“”'‘’.,:;!?]", "", lede).split()
    size = min(len(words), rng.randint(6, 9))
    return " ".join(words[:size])


def _change_words(text: str, share: float, vocabulary: list[str], rng: random.Random) -> str:
    tokens = text.split(" ")
    positions = [i for i, token in enumerate(tokens) if token.isalpha() and len(token) > 2]
    for i in rng.sample(positions, k=max(1, int(len(positions) * share))):
        tokens[i] = rng.choice(vocabulary)
    return " ".join(tokens)


def _cut(article: Article, share: float) -> list[str]:
    """The first paragraphs, sentence by sentence, up to `share` of the words (one at least)."""
    budget = share * sum(len(p.split()) for p in article.paragraphs)
    kept: list[str] = []
    words = 0
    for group in _sentences(article):
        taken = []
        for sentence in group:
            if words + len(sentence.split()) > budget and (kept or taken):
                break
            taken.append(sentence)
            words += len(sentence.split())
        if taken:
            kept.append(" ".join(taken))
        if len(taken) < len(group):
            break
    return kept


def edit(article: Article, variant: str, vocabulary: list[str], rng: random.Random) -> str:
    """The text of one edited copy of an original."""
    paragraphs = list(article.paragraphs)
    if variant == "boilerplate":
        top = rng.sample(FURNITURE_TOP, 2)
        bottom = rng.sample(FURNITURE_BOTTOM, 3)
        return article.render(paragraphs=top + paragraphs + bottom)
    if variant == "dropped":
        sentences = _sentences(article)
        flat = [(p, s) for p, group in enumerate(sentences) for s in range(len(group))]
        drop = set(rng.sample(flat[1:], k=max(1, len(flat) // 5)))  # the lede stays
        kept = [
            " ".join(s for j, s in enumerate(group) if (i, j) not in drop)
            for i, group in enumerate(sentences)
        ]
        return article.render(paragraphs=[p for p in kept if p])
    if variant == "reordered":
        groups = _sentences(article)
        for group in groups:
            rng.shuffle(group)
        rng.shuffle(groups)
        return article.render(paragraphs=[" ".join(group) for group in groups])
    if variant == "words":
        return article.render(
            paragraphs=[_change_words(p, 0.05, vocabulary, rng) for p in paragraphs]
        )
    if variant == "truncated":
        body = "\n\n".join(paragraphs)
        cut = body.rfind(" ", 0, int(len(body) * 0.8))
        return article.render(paragraphs=[body[:cut].rstrip() + " […]"], footer=False)
    if variant == "cut":
        # Its own generator, seeded by the family: the other edits draw what they drew before.
        share = random.Random(f"cut:{article.family}").uniform(*CUT_SHARE)
        return article.render(paragraphs=_cut(article, share))
    if variant == "headline":
        return article.render(title=_headline_from_lede(article, rng))
    if variant == "wire":
        changed = [_change_words(p, 0.02, vocabulary, rng) for p in paragraphs]
        return article.render(
            title=_headline_from_lede(article, rng),
            paragraphs=[rng.choice(FURNITURE_TOP), *changed, *rng.sample(FURNITURE_BOTTOM, 2)],
        )
    if variant == "combined":
        # Every edit at once, as a desk that republishes and trims a wire story would.
        groups = _sentences(article)
        flat = [(p, s) for p, group in enumerate(groups) for s in range(len(group))]
        drop = set(rng.sample(flat[1:], k=max(1, len(flat) // 5)))
        kept = [
            " ".join(s for j, s in enumerate(group) if (i, j) not in drop)
            for i, group in enumerate(groups)
        ]
        kept = [_change_words(p, 0.03, vocabulary, rng) for p in kept if p]
        kept = kept[:1] + rng.sample(kept[1:], k=len(kept) - 1)
        return article.render(
            title=_headline_from_lede(article, rng),
            paragraphs=[rng.choice(FURNITURE_TOP), *kept, *rng.sample(FURNITURE_BOTTOM, 2)],
        )
    if variant == "rewrite":
        sentences = [s for group in _sentences(article) for s in group]
        keep = sorted(rng.sample(range(1, len(sentences)), k=max(1, (len(sentences) - 1) // 2)))
        chosen = [sentences[0]] + [sentences[i] for i in keep]
        rng.shuffle(chosen)
        text = _change_words(" ".join(chosen), 0.10, vocabulary, rng)
        return article.render(title=_headline_from_lede(article, rng), paragraphs=[text])
    raise ValueError(f"unknown edit {variant!r}")


def build_cases(*, per_topic: int | None = None, seed: int = 20240601) -> list[Case]:
    """Originals, their edited copies, translations and boilerplate notices, deterministically."""
    rng = random.Random(seed)
    originals = load_originals(per_topic=per_topic)
    vocabulary: dict[str, list[str]] = {}
    for article in originals:
        words = [w for p in article.paragraphs for w in p.split() if w.isalpha() and len(w) > 3]
        vocabulary.setdefault(article.language, []).extend(words)
    cases: list[Case] = []
    for article in originals:
        folder = article.family
        original = article.raw or article.render()
        cases.append(Case(f"{folder}/original.txt", article.family, "original", original))
        words = vocabulary[article.language]
        for variant in (*DUPLICATE_EDITS, "rewrite"):
            text = edit(article, variant, words, rng)
            cases.append(Case(f"{folder}/{variant}.txt", article.family, variant, text))
        for path in sorted(TRANSLATIONS.glob(f"{article.family}.*.txt")):
            language = path.suffixes[-2].lstrip(".")
            cases.append(
                Case(f"{folder}/translation-{language}.txt", article.family, "translation",
                     path.read_text(encoding="utf-8"))
            )  # fmt: skip
    # The same short notice under several real headlines: boilerplate, not one story.
    # (Headlines the cleaner recognises as such, as a feed's titles would be.)
    titled = [a.title for a in originals if a.title and is_headline(a.title)]
    headlines = titled[:: max(1, len(titled) // 6)][:6]
    for number, headline in enumerate(headlines):
        notice = DISCLAIMERS[number % len(DISCLAIMERS)]
        cases.append(
            Case(f"boilerplate/{number:02d}.txt", f"notice-{number:02d}", "notice",
                 f"{headline}\n\n{notice}\n")
        )  # fmt: skip
    return cases


def write_cases(cases: list[Case], folder: Path) -> None:
    """Write every case under `folder` (the seeds folder the ingest will read)."""
    for case in cases:
        path = folder / case.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(case.text, encoding="utf-8")
