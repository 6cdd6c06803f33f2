"""The Prefect server's scheduler can insert scheduled runs under SQLAlchemy 2.1 (our shim)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flows import prefect_compat


@pytest.fixture
def flow_runs() -> Iterator[Session]:
    """The real FlowRun table of Prefect's server schema, in memory."""
    from prefect.server.database import orm_models

    engine = sa.create_engine("sqlite://")
    orm_models.Base.metadata.create_all(engine, tables=[orm_models.FlowRun.__table__])
    with Session(engine) as session:
        yield session
    engine.dispose()


def insert_scheduled_run(session: Session) -> None:
    """What Prefect's scheduler does: a bulk insert whose rows carry a `state` key."""
    from prefect.server.database import orm_models

    row = {
        "id": uuid.uuid4(),
        "flow_id": uuid.uuid4(),
        "name": "scheduled",
        "state": {"type": "SCHEDULED"},
        "state_type": "SCHEDULED",
        "auto_scheduled": True,
    }
    session.execute(sa.insert(orm_models.FlowRun), [row])


def test_scheduled_runs_insert_with_the_shim(
    flow_runs: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.server.database import orm_models

    hybrid = orm_models.FlowRun.__dict__["state"]
    monkeypatch.setattr(hybrid, "bulk_dml_setter", None)  # as Prefect 3.8.8 ships it
    with pytest.raises(sa.exc.InvalidRequestError, match="bulk DML"):
        insert_scheduled_run(flow_runs)
    flow_runs.rollback()
    assert prefect_compat.patch_flow_run_state() is True
    insert_scheduled_run(flow_runs)
    count = flow_runs.execute(sa.select(sa.func.count()).select_from(orm_models.FlowRun))
    assert count.scalar() == 1


def test_the_shim_is_registered_for_the_prefect_server() -> None:
    names = {ep.value for ep in entry_points(group="prefect.collections")}
    assert "flows.prefect_compat" in names, "reinstall the package: pip install -e ."
