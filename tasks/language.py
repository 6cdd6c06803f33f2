"""Language identification on the body text (py3langid: offline, deterministic, 97 languages)."""

from __future__ import annotations

from functools import lru_cache

# Fewer letters than this and identification is a guess: store no language rather than a wrong one.
MIN_LETTERS = 20
# The identifier's cost grows with the text; the first ~100 words name the language as surely as
# the whole article: no difference over 999 texts (the BBC corpus, the seeds, the German and
# English translations and benchmark documents) at 600 characters.
SAMPLE_CHARS = 600


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    # Loading the model takes ~0.3 s; do it once per process, and only when first needed.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language, or None when there is too little text to tell."""
    sample = text[:SAMPLE_CHARS]
    if not _has_letters(sample, MIN_LETTERS):
        return None
    code, _probability = _identifier().classify(sample)
    return str(code)


def _has_letters(text: str, count: int) -> bool:
    """At least `count` letters in the text (stops counting there: a news text gets there fast)."""
    for ch in text:
        if ch.isalpha():
            count -= 1
            if count == 0:
                return True
    return count <= 0
