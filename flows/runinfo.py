"""Who started this flow run (the schedule, a person in the UI, `newsflow run`) and its slot."""

from __future__ import annotations

from dataclasses import dataclass

from prefect.context import FlowRunContext
from prefect.runtime import deployment

from newsflow.tasks.store.runslots import slot_key


@dataclass(frozen=True)
class RunInfo:
    """The Prefect side of a run, as recorded in `runs`."""

    flow_run_id: str | None
    trigger: str  # schedule | ui | the caller's own label (cli, test, …)
    slot: str | None  # set for scheduled runs only: '<flow>/<deployment>@<scheduled time>'


def current_run(default_trigger: str) -> RunInfo:
    """Read the flow-run context; runs outside a deployment keep the caller's trigger label."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return RunInfo(None, default_trigger, None)
    run = context.flow_run
    if run.deployment_id is None:
        return RunInfo(str(run.id), default_trigger, None)
    if not run.auto_scheduled:
        # Quick run, Custom run, `prefect deployment run` or the API: someone asked for it.
        return RunInfo(str(run.id), "ui", None)
    flow_name = context.flow.name if context.flow else "newsflow-daily"
    name = f"{flow_name}/{deployment.name or run.deployment_id}"
    scheduled = run.expected_start_time or run.start_time
    return RunInfo(str(run.id), "schedule", slot_key(name, scheduled) if scheduled else None)
