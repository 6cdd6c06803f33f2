"""Summaries spooled to disk until the run can store them: same batches back, nothing left."""

from __future__ import annotations

from pathlib import Path

from newsflow.tasks.pipeline.batches import Summaries
from newsflow.tasks.pipeline.spool import SummarySpool
from newsflow.tasks.store.writer import SummaryRow


def _batch(*ids: int) -> Summaries:
    rows = [SummaryRow(i, "fusion", "3", "v1", f"hash{i}", f"Sentence of {i}.", [0]) for i in ids]
    return Summaries(rows, {i: "ok" for i in ids})


def test_batches_come_back_in_order_and_the_folder_goes() -> None:
    spool = SummarySpool()
    first, second = _batch(1, 2), _batch(3)
    spool.append(first)
    spool.append(second)
    assert spool.ids == {1, 2, 3}
    folder = Path(spool._folder.name) if spool._folder else None
    assert folder is not None and len(list(folder.iterdir())) == 2  # on disk, not in memory
    assert list(spool) == [first, second]
    assert list(folder.iterdir()) == []  # each file is gone once read
    spool.close()
    assert not folder.exists()


def test_an_empty_spool_makes_no_folder() -> None:
    spool = SummarySpool()
    assert list(spool) == [] and spool.ids == set()
    spool.close()
