"""The notebooks: committed without outputs, thin, run with papermill to the article's numbers, and
run by nbval (`--nbval-lax`: every cell must run without error)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import nbformat
import pytest

from analysis.config import NOTEBOOKS_DIR, PROJ_ROOT
from analysis.report.display import read_records
from analysis.report.runner import NOTEBOOKS

NOTEBOOK_NAMES = [nb for nb, _, _ in NOTEBOOKS]


def _read(name):
    return nbformat.read(str(NOTEBOOKS_DIR / name), as_version=4)


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_without_outputs(name):
    nb = _read(name)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{name} cell {i} has an execution count"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_thin_with_a_parameters_cell(name):
    nb = _read(name)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name} needs exactly one cell tagged 'parameters'"
    names = {t.id for node in ast.parse(tagged[0].source).body if isinstance(node, ast.Assign) for t in node.targets}
    assert {"city", "as_of", "lang", "basemap", "stations", "processed", "out"} <= names
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.Lambda)), (
                f"{name}: no def, class, loop or lambda in a notebook: move it into analysis"
            )
        calls = [n for n in tree.body if isinstance(n, (ast.Expr, ast.Assign))]
        assert len(calls) <= 1 or cell is tagged[0], f"{name}: one call per cell:\n{cell.source}"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every notebook executed once with papermill as of the article's date, into a scratch folder."""
    import papermill as pm

    out = tmp_path_factory.mktemp("executed")
    params = {"city": "karamay", "as_of": "2021-03-22", "processed": str(out / "processed"), "out": str(out)}
    result = {}
    for name in NOTEBOOK_NAMES:
        pm.execute_notebook(
            str(NOTEBOOKS_DIR / name),
            str(out / name),
            parameters=params,
            kernel_name="python3",
            cwd=str(NOTEBOOKS_DIR),
            progress_bar=False,
        )
        result[name] = read_records(out / name)
    result["folder"] = out
    return result


@pytest.mark.slow
def test_clean_reproduces_the_article_count(executed):
    rec = executed["01_clean.ipynb"]
    assert rec["on_air_2020-12-31"] == 216
    assert rec["on_air_as_of"] == executed["05_summary.ipynb"]["on_air_as_of"]
    assert rec["stations"] <= rec["rows_in"]


@pytest.mark.slow
def test_summary_shows_the_articles_situation(executed):
    s = executed["05_summary.ipynb"]
    assert s["as_of"] == "2021-03-22"
    assert s["on_air_2020-12-31"] == 216 and s["reported_2020-12-31"] == 216
    assert s["target_2021-12-31"] == 446 and s["target_2025-12-31"] == 648
    assert s["still_to_build_2021-12-31"] == 446 - s["on_air_as_of"]
    assert 0.0 <= s["prob_reach_2021-12-31"] <= 1.0
    # the forecast page and the summary agree (same model, same seed)
    assert executed["02_forecast.ipynb"]["prob_reach_2021-12-31"] == s["prob_reach_2021-12-31"]
    # every district still to cover on the article's date; the one rated 4A+ spot (5A since 2020-12-29) uncovered
    assert sorted(s["districts_not_fully_covered"]) == sorted(["克拉玛依区", "独山子区", "白碱滩区", "乌尔禾区"])
    assert s["scenic_spots_to_cover"] == ["世界魔鬼城景区"]
    assert s["inputs_sha256"] == executed["01_clean.ipynb"]["inputs_sha256"]


@pytest.mark.slow
def test_coverage_shares_match_the_coverage_stage(executed):
    from analysis.coverage import assess_coverage
    from analysis.report.inputs import clean_cached

    cleaned = clean_cached("karamay", processed=executed["folder"] / "processed")
    assert cleaned["hit"], "the notebooks cleaned once; the second read comes from the cache"
    city = assess_coverage(cleaned["stations"], "karamay", as_of="2021-03-22").by_district.iloc[-1]
    rec = executed["03_coverage.ipynb"]
    assert rec["urban_covered_pct"] == pytest.approx(float(city["urban_covered_pct"]), abs=0.01)
    assert rec["covered_pct"] == pytest.approx(float(city["covered_pct"]), abs=0.01)
    assert rec["target_sites"] == 1 and rec["target_sites_covered"] == 0
    assert executed["05_summary.ipynb"]["urban_covered_pct"] == rec["urban_covered_pct"]
    assert (executed["folder"] / "coverage_map.html").stat().st_size > 100_000


@pytest.mark.slow
def test_taskforce_numbers_agree_with_the_summary(executed):
    tf, s = executed["04_taskforce.ipynb"], executed["05_summary.ipynb"]
    assert tf["pipeline_total"] == s["pipeline_total"] > 0
    assert tf["supervision_list"] == s["supervision_list"]


@pytest.mark.slow
def test_english_summary(tmp_path):
    import papermill as pm

    nb = pm.execute_notebook(
        str(NOTEBOOKS_DIR / "05_summary.ipynb"),
        str(tmp_path / "en.ipynb"),
        parameters={"as_of": "2021-03-22", "lang": "en", "processed": str(tmp_path)},
        kernel_name="python3",
        cwd=str(NOTEBOOKS_DIR),
        progress_bar=False,
    )
    text = "\n".join(
        str(o.get("data", {}).get("text/markdown", "")) + str(o.get("data", {}).get("text/html", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
    )
    assert "Monthly briefing" in text and "On air at the end of 2020" in text
    assert "Karamay District (克拉玛依区)" in text
    assert read_records(nb)["on_air_2020-12-31"] == 216


@pytest.mark.slow
def test_nbval_runs_every_notebook(tmp_path):
    # the notebooks' defaults on the bundled data, with their processed files in a project root of the test's own
    # (run in the checkout's, they left data/processed/ behind: `make test` writes nothing in the project)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw").symlink_to(PROJ_ROOT / "data" / "raw", target_is_directory=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "FIVEG_PROJECT_ROOT": str(tmp_path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(PROJ_ROOT),
            str(NOTEBOOKS_DIR),
        ],
        cwd=PROJ_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert (
        f"{sum(len([c for c in _read(n).cells if c.cell_type == 'code']) for n in NOTEBOOK_NAMES)} passed"
        in proc.stdout
    )
    assert (tmp_path / "data" / "processed").is_dir()  # (the kernels wrote here, not in the checkout)
