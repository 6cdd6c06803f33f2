"""Make Prefect 3.8.8's scheduler work with SQLAlchemy 2.1 (the only 2.x on our registry).

The scheduler bulk-inserts scheduled flow runs with a `state` key that names a hybrid property
of the FlowRun model. SQLAlchemy 2.0 ignored that key; 2.1 refuses it unless the hybrid has a
`bulk_dml` hook ("Can't evaluate bulk DML statement"), so no scheduled run is ever created and a
cron schedule never fires. Prefect writes the state rows itself right after the insert, so the
hook only has to drop the key, which restores 2.0's behaviour.

Prefect imports this module in the server process through the `prefect.collections` entry point
declared in pyproject.toml, so a plain `prefect server start` picks it up.
"""

from __future__ import annotations

from typing import Any


def _drop_state(cls: type, mapping: dict[str, Any], value: Any) -> None:
    mapping.pop("state", None)


def patch_flow_run_state() -> bool:
    """Give the FlowRun/TaskRun `state` hybrids a bulk-insert hook when they lack one."""
    try:
        from prefect.server.database import orm_models
    except ImportError:  # a client-only install: no server models to fix
        return False
    patched = False
    for model in (orm_models.FlowRun, orm_models.TaskRun):
        hybrid = model.__dict__.get("state")
        # Only SQLAlchemy >= 2.1 hybrids have the hook; leave 2.0 (and a fixed Prefect) alone.
        if hybrid is not None and getattr(hybrid, "bulk_dml_setter", False) is None:
            hybrid.bulk_dml_setter = _drop_state
            patched = True
    return patched


patch_flow_run_state()
