"""Imported once by the worker pool's fork server (flows/scaleout.py PRELOAD): loads the language
model, stemmers and gazetteer there, so every forked worker starts with them in memory instead of
loading them itself (~0.45 s of CPU a worker)."""

from tasks.batches import warm_up

warm_up()
