"""docs/performance.md's figures are generated from benchmarks/latest.json and agree with it."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import figures


def test_the_performance_page_agrees_with_latest_json():
    page = figures.PAGE.read_text(encoding="utf-8")
    latest = json.loads(figures.LATEST.read_text(encoding="utf-8"))
    assert figures.render(page, latest) == page, (
        "docs/performance.md disagrees with latest.json: run python -m benchmarks.figures"
    )
    for label, entry in latest.items():
        assert f"| `{label}` | {entry['code']} |" in page


def test_latest_json_holds_one_run_per_label():
    latest = json.loads(figures.LATEST.read_text(encoding="utf-8"))
    assert latest and all(entry["label"] == label for label, entry in latest.items())


def test_saving_a_run_replaces_the_earlier_run_of_its_label(tmp_path: Path):
    path = tmp_path / "latest.json"
    figures.save_latest(path, {"label": "a", "code": "old"})
    figures.save_latest(path, {"label": "b", "code": "other"})
    figures.save_latest(path, {"label": "a", "code": "new"})
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "a": {"label": "a", "code": "new"},
        "b": {"label": "b", "code": "other"},
    }


def test_a_changed_figure_changes_the_page_and_check_reports_it(tmp_path: Path):
    latest = json.loads(figures.LATEST.read_text(encoding="utf-8"))
    label = next(label for label in sorted(latest) if "cold" in latest[label])
    latest[label]["cold"]["seconds"] = 12345.6
    latest_path, page_path = tmp_path / "latest.json", tmp_path / "page.md"
    latest_path.write_text(json.dumps(latest), encoding="utf-8")
    page_path.write_text(figures.PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    arguments = ["--latest", str(latest_path), "--page", str(page_path)]
    assert figures.main([*arguments, "--check"]) == 1
    assert figures.update_page(latest_path, page_path)
    assert "12345.6 s" in page_path.read_text(encoding="utf-8")
    assert figures.main([*arguments, "--check"]) == 0


def test_cluster_and_scale_runs_have_tables_of_their_own():
    cluster = {
        "label": "cluster-9", "kind": "cluster", "code": "abc", "corpus": {"n": 9},
        "machine": {"load_average": [1.0]}, "writer_share_of_pool_wall": 0.25,
        "batch_cpu_over_writer_cpu": 1.5,
        "runs": {name: {"seconds": 2.5, "identical_to_in_process": True}
                 for name in ("in-process", "local-pool", "dask-localcluster")},
    }  # fmt: skip
    scale = {
        "label": "scale-9", "kind": "scale", "code": "abc", "n": 9, "seconds": 10.0,
        "ms_per_document": 1.111, "per_document_over_smallest": 1.0, "peak_rss_mb": 900.0,
    }  # fmt: skip
    table = figures.table({"cluster-9": cluster, "scale-9": scale})
    assert "| `cluster-9` | abc | 9 | 2.5 s | 2.5 s | 2.5 s | yes | 25% | 1.50 | 1.0 |" in table
    assert "| `scale-9` | abc | 9 | 10 s | 1.11 | 1.00 | 900 MB | – | 0.0 |" in table


def test_a_page_without_the_markers_is_an_error():
    try:
        figures.render("no table here", {})
    except ValueError as error:
        assert "figures:start" in str(error)
    else:
        raise AssertionError("render accepted a page without markers")
