"""The installed package: one top-level name, `newsflow`, holding flows, tasks and db."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_folder_with_an_init_is_a_listed_package() -> None:
    """A new stage folder that pyproject.toml does not list would be left out of the wheel."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "newsflow." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("flows", "tasks", "db")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == listed


def test_the_wheel_installs_newsflow_and_nothing_else(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources it builds.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("flows", "tasks", "db"):
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.db*")
        )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(wheels), str(source)],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("newsflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"newsflow"}
    # Package data comes along: the report templates and the CLDR names.
    assert "newsflow/tasks/report/templates/digest.html.j2" in names
    assert "newsflow/tasks/common/cldr_countries.json" in names
    assert "newsflow/db/metadata.json" in names

    # Installed on its own (its dependencies from this environment), away from the checkout:
    # `newsflow` imports and runs, the old top-level names do not exist.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
         "-q", "--target", str(target), str(wheel)],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    probe = (
        "import importlib.util, sys\n"
        "sys.path = [p for p in sys.path if '__editable__' not in p]\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in type(f).__module__]\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "import newsflow.flows.cli, newsflow.tasks.report.digests, newsflow.db\n"
        "print(newsflow.flows.cli.__file__)\n"
        "print([n for n in ('tasks', 'flows', 'db') if importlib.util.find_spec(n)])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, cwd=tmp_path, env=env,
        capture_output=True, text=True,
    ).stdout.split("\n")  # fmt: skip
    assert out[0].startswith(str(target))
    assert out[1] == "[]"
