"""Near-duplicate and story benchmark: `python -m benchmarks.dedup` (see __main__.py)."""
