"""Summaries made before they can be stored, kept on disk meanwhile.

The parse workers summarise each file as they read it, but a summary is stored only once the run
knows its document is no copy, after the near-duplicate and story passes over everything. Held in
the flow's memory until then, a backlog's summaries grew it by about 1 KB a document (the
100,000-document run's peak fell from 1,595 to 1,491 MB when they moved out); spooled to a
temporary file a batch at a time, they cost only their ids.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path

from newsflow.tasks.pipeline.batches import Summaries


class SummarySpool:
    """Batches of summaries appended one at a time and read back in order, once."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._files: list[Path] = []
        self.ids: set[int] = set()  # every document a spooled batch has a status for

    def append(self, summaries: Summaries) -> None:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="newsflow-summaries-")
        path = Path(self._folder.name) / f"{len(self._files)}.pickle"
        # Our own data, written and read by this process only: pickle is safe here.
        path.write_bytes(pickle.dumps(summaries, protocol=pickle.HIGHEST_PROTOCOL))
        self._files.append(path)
        self.ids.update(summaries.statuses)

    def __iter__(self) -> Iterator[Summaries]:
        for path in self._files:
            batch = pickle.loads(path.read_bytes())
            path.unlink()
            yield batch
        self._files.clear()

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        self._files.clear()
