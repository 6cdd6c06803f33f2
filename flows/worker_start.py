"""Imported once by the worker pool's fork server (flows/scaleout.py PRELOAD): loads the language
model, stemmers and gazetteer there, so every forked worker starts with them in memory instead of
loading them itself (~0.45 s of CPU a worker). First in PRELOAD, so NLTK loads light (before
sumy imports it) and the modules after it are loaded already."""

from newsflow.tasks.common.nltk_light import import_nltk

import_nltk()

from newsflow.tasks.pipeline.batches import warm_up  # noqa: E402

warm_up()
