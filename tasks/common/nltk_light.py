"""NLTK without SciPy's statistics.

NLTK's package imports `scipy.stats` as it loads (0.5 s of CPU, two thirds of importing NLTK) for
three optional features newsflow never uses: Fisher's exact test among the collocation measures,
a significance figure that `nltk.metrics.scores` prints, and Gale-Church alignment. SciPy is an
optional dependency of NLTK, and each of those imports falls back when SciPy's statistics are not
there. The processes that load NLTK on a run's path (the worker pool's fork server, the writer)
call `import_nltk()` before sumy or a stemmer imports it.
"""

from __future__ import annotations

import importlib
import sys


def import_nltk() -> None:
    """Import NLTK with `scipy.stats` hidden from it (a no-op once NLTK is loaded). The module
    stays importable by anything else: it is hidden only while NLTK loads."""
    if "nltk" in sys.modules:
        return
    hide = "scipy.stats" not in sys.modules
    if hide:
        sys.modules["scipy.stats"] = None  # type: ignore[assignment]  # importing it: ImportError
    try:
        importlib.import_module("nltk")
    finally:
        if hide:
            del sys.modules["scipy.stats"]
