"""Progress of the run in this process, for whoever shows it (the CLI's bar); silent otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

Listener = Callable[[str, int, int], None]  # (stage, done, total)
_listeners: list[Listener] = []


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call `listener` with every progress report made while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def report(stage: str, done: int, total: int) -> None:
    """Say that `done` of `total` units of `stage` are finished."""
    for listener in list(_listeners):
        listener(stage, done, total)
