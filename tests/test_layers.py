"""The house's import rules: flows → tasks → db, and inside tasks/ each stage imports only the
stages below it (the order of the pipeline), never a later one."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Below to above: a stage may import itself and what is left of it.
STAGES = ["common", "store", "ingest", "feeds", "dedup", "stories", "summarise", "search",
          "report", "pipeline"]  # fmt: skip
MAX_LINES = 500  # a longer module holds more than one concept: split it by concept


def imports(path: Path) -> list[str]:
    """Every module a file imports, with each `from x import y` also as `x.y`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_every_stage_is_a_package_that_says_what_it_owns() -> None:
    packages = {p.name for p in (ROOT / "tasks").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(STAGES)
    assert not [p.name for p in (ROOT / "tasks").glob("*.py") if p.name != "__init__.py"]
    for stage in STAGES:
        assert ast.get_docstring(ast.parse((ROOT / "tasks" / stage / "__init__.py").read_text()))


def test_stages_import_only_the_stages_below_them() -> None:
    wrong = []
    for path in modules("tasks"):
        stage = path.relative_to(ROOT / "tasks").parts[0]
        if stage not in STAGES:
            continue
        for name in imports(path):
            parts = name.split(".")
            other = parts[2] if parts[:2] == ["newsflow", "tasks"] and len(parts) > 2 else None
            if other in STAGES and STAGES.index(other) > STAGES.index(stage):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_tasks_never_import_prefect_or_flows_and_db_imports_neither() -> None:
    wrong = []
    for folder, refused in (("tasks", ("prefect", "newsflow.flows")),
                            ("db", ("prefect", "newsflow.flows", "newsflow.tasks"))):  # fmt: skip
        for path in modules(folder):
            for name in imports(path):
                if any(name == r or name.startswith(r + ".") for r in refused):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_nothing_imports_the_old_top_level_names() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in ("flows", "tasks", "db", "tests", "benchmarks")
        for path in modules(folder)
        for name in imports(path)
        if name.split(".")[0] in ("flows", "tasks", "db")
    ]
    assert wrong == []


def test_no_module_is_over_the_size_of_one_concept() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for folder in ("flows", "tasks")
        for path in modules(folder)
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
