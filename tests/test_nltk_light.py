"""NLTK loads without SciPy's statistics, and everything newsflow uses from it still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_nltk_loads_without_scipy_stats_which_stays_importable():
    """In a fresh interpreter: the light import keeps scipy.stats out, sumy's stemmer and LexRank
    work on top of it, and scipy.stats can still be imported by whoever wants it afterwards."""
    script = (
        "import sys\n"
        "from newsflow.tasks.common.nltk_light import import_nltk\n"
        "import_nltk()\n"
        "loaded = 'nltk' in sys.modules and 'scipy.stats' not in sys.modules\n"
        "from sumy.nlp.stemmers import Stemmer\n"
        "from newsflow.tasks.summarise.summarize import summarize_text\n"
        "text = ('Cambodia and Japan signed a trade pact. The ministers met in Phnom Penh. '"
        " 'Japan will fund a new port. Trade between the two countries grew last year.')\n"
        "summary = summarize_text(text, language='en', method='lexrank', length=2)\n"
        "import_nltk()  # a second call does nothing\n"
        "still_out = 'scipy.stats' not in sys.modules\n"
        "import scipy.stats\n"
        "print(loaded, Stemmer('english')('relations'), len(summary.text.splitlines()),"
        " still_out, scipy.stats.norm.cdf(0.0))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parent.parent, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["True", "relat", "2", "True", "0.5"]
