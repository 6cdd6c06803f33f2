"""The daily deployment, built offline: schedule, timezone, slug, parameter form, serve options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from newsflow.flows import deployments
from newsflow.flows.deployments import BadSchedule, build_deployments, default_parameters
from newsflow.tasks.summarise import summarize


def schema_of(deployment: Any) -> dict[str, Any]:
    return deployment._parameter_openapi_schema.model_dump()  # type: ignore[no-any-return]


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")


def test_daily_at_six_in_the_machine_timezone_by_default(berlin: None) -> None:
    [deployment] = build_deployments()
    [schedule] = deployment.schedules
    assert schedule.schedule.cron == "0 6 * * *"
    assert schedule.schedule.timezone == "Europe/Berlin"
    assert schedule.active
    assert deployment.name == "daily"


def test_time_and_timezone_are_configurable() -> None:
    [deployment] = build_deployments(at="07:30", timezone="America/New_York")
    schedule = deployment.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("30 7 * * *", "America/New_York")


def test_a_cron_expression_replaces_the_daily_time() -> None:
    [deployment] = build_deployments(cron="15 5 * * 1-5", timezone="UTC")
    assert deployment.schedules[0].schedule.cron == "15 5 * * 1-5"


def test_every_schedule_has_a_stable_slug() -> None:
    for deployment in build_deployments(timezone="UTC") + build_deployments(
        name="weekdays", cron="0 7 * * 1-5", timezone="UTC"
    ):
        assert all(schedule.slug for schedule in deployment.schedules)
    # The slug names the schedule, not the time: re-serving with another time updates it.
    assert (
        build_deployments(at="06:00", timezone="UTC")[0].schedules[0].slug
        == build_deployments(at="09:45", timezone="UTC")[0].schedules[0].slug
        == "daily-cron"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"at": "25:00"}, "--at"),
        ({"at": "6 am"}, "--at"),
        ({"timezone": "Mars/Olympus_Mons"}, "--timezone"),
        ({"cron": "every morning"}, "--cron"),
    ],
)
def test_bad_times_and_timezones_are_refused(options: dict[str, str], message: str) -> None:
    options = {"timezone": "UTC"} | options
    with pytest.raises(BadSchedule, match=message):
        build_deployments(**options)


def test_local_timezone_falls_back_to_utc_for_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert deployments.local_timezone() == "Europe/Berlin"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert deployments.local_timezone() in {"UTC"} | {name for name in _system_zone() if name}


def _system_zone() -> set[str]:
    link = Path("/etc/localtime")
    names = set()
    if link.is_symlink():
        names.add(str(link.resolve()).split("zoneinfo/", 1)[-1])
    if Path("/etc/timezone").is_file():
        names.add(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    return names


def test_method_is_a_dropdown_of_the_summarisers() -> None:
    method = schema_of(build_deployments(timezone="UTC")[0])["properties"]["method"]
    assert method["enum"] == list(summarize.METHODS)
    assert method["default"] == summarize.DEFAULT_METHOD
    assert method["type"] == "string"


def test_parameter_form_types_and_descriptions() -> None:
    properties = schema_of(build_deployments(timezone="UTC")[0])["properties"]
    assert properties["sentences"]["type"] == "number"
    assert properties["seeds_dir"]["type"] == "string"
    assert properties["db_path"]["type"] == "string"
    feeds = properties["feeds"]
    assert {"type": "array", "items": {"type": "string"}} in feeds["anyOf"]
    for name in ("seeds_dir", "feeds", "method", "sentences", "db_path"):
        assert properties[name].get("description"), f"{name} has no help text in the UI form"


def test_default_parameters_are_absolute_and_pass_the_schema(tmp_path: Path) -> None:
    parameters = default_parameters(
        seeds_dir=tmp_path / "seeds", db_path=tmp_path / "x.db", method="luhn", sentences="2",
        feeds=["https://example.org/feed.xml"],
    )  # fmt: skip
    assert Path(parameters["seeds_dir"]).is_absolute() and Path(parameters["db_path"]).is_absolute()
    assert parameters["sentences"] == 2 and parameters["method"] == "luhn"
    [deployment] = build_deployments(timezone="UTC", parameters=parameters)
    assert deployment.parameters == parameters
    # The server enforces the schema on every run, so the defaults must satisfy it.
    jsonschema.validate(parameters, schema_of(deployment))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(parameters | {"method": "nonsense"}, schema_of(deployment))


def test_default_parameters_refuse_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        default_parameters(method="best")
    with pytest.raises(ValueError):
        default_parameters(sentences="0")


def test_deployment_imports_the_flow_by_module_and_is_tagged() -> None:
    [deployment] = build_deployments(timezone="UTC")
    assert deployment.entrypoint == "newsflow.flows.daily.daily"
    assert set(deployment.tags) == {"newsflow", "daily"}
    assert deployment.description


def test_serving_never_pauses_the_schedule_on_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    # The real `serve` blocks forever against a live API; only its arguments matter here.
    monkeypatch.setattr(prefect, "serve", lambda *args, **kwargs: calls.append((args, kwargs)))
    built = build_deployments(timezone="UTC")
    deployments.serve_deployments(built)
    [(args, kwargs)] = calls
    assert list(args) == built
    assert kwargs == {"pause_on_shutdown": False, "limit": 1}


def test_newsflow_serve_needs_a_prefect_api(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "newsflow"), "serve", "--db", str(tmp_path / "n.db")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "PREFECT_API_URL is not set" in result.stderr
    assert "prefect server start" in result.stderr
