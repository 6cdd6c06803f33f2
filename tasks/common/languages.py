"""The languages newsflow summarises: ISO 639-1 codes and the name of each one's Punkt model.

Every stage asks this one registry: sentence splitting, stemming, stop words, language
identification restricted to what can be summarised, and the search index's tags.
"""

from __future__ import annotations

# ISO 639-1 code → the Punkt model's name (also the Snowball stemmer's and NLTK stop-word list's).
PUNKT_LANGUAGES = {
    "cs": "czech", "da": "danish", "nl": "dutch", "en": "english", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "it": "italian",
    "no": "norwegian", "nb": "norwegian", "pl": "polish", "pt": "portuguese", "ru": "russian",
    "sl": "slovene", "es": "spanish", "sv": "swedish", "tr": "turkish",
}  # fmt: skip
