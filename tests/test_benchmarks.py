"""The benchmark entry point still runs (smallest scale, fast stages only): it is not a timing test."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.config import PROJ_ROOT


@pytest.mark.slow
def test_benchmark_entry_point_runs_at_the_smallest_scale(tmp_path):
    pytest.importorskip("psutil")
    # the district polygons are a synthetic tiling here: cnmaps takes ~15 s to export every county
    import benchmarks.fixtures as fixtures
    from benchmarks import stages

    work = tmp_path
    city = work / "china"
    city.mkdir()
    tiles = fixtures.tile_polygons(5.0)
    orig = fixtures.county_polygons
    fixtures.county_polygons = lambda: (tiles, "test tiling")
    try:
        fixtures.china_city(city)
    finally:
        fixtures.county_polygons = orig
    for stage in ("clean", "assign", "coverage", "cmd_coverage"):
        for variant in ("package", "baseline"):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.stages", stage, variant, "200", str(work)],
                capture_output=True,
                text=True,
                cwd=PROJ_ROOT,
                timeout=120,
            )
            assert out.returncode == 0, out.stderr[-500:]
            result = json.loads(out.stdout.splitlines()[-1].removeprefix("RESULT "))
            assert result["seconds"] >= 0
    assert stages.AS_OF


def test_command_rows_time_a_child_process_and_report_its_failure():
    from benchmarks.commands import run_child

    ok = run_child(["-c", "print('done')"])
    assert ok["exit"] == 0 and ok["stdout"] == "done" and ok["seconds"] > 0 and "error" not in ok
    bad = run_child(["-c", "import sys; sys.exit('no such file: x.csv')"])
    assert bad["exit"] == 1 and bad["error"] == "no such file: x.csv"


def test_document_shows_command_rows_beside_their_baseline(tmp_path):
    from benchmarks.document import write_document

    def row(stage, variant, seconds, **extra):
        return {"stage": stage, "variant": variant, "scale": 1000, "seconds": seconds, "peak_mb": 900.0, **extra}

    runs = {
        "cmd_clean|package|1000": row("cmd_clean", "package", 3.0, command_peak_mb=250.0, command_cpu_seconds=2.0),
        "cmd_clean|baseline|1000": row("cmd_clean", "baseline", 0.75, command_peak_mb=170.0, command_cpu_seconds=0.4),
        "cmd_coverage|package|1000": row("cmd_coverage", "package", 2.0, area_km2=100.0, command_cpu_seconds=1.5),
        "cmd_coverage|baseline|1000": row("cmd_coverage", "baseline", 20.0, area_km2=100.2, command_cpu_seconds=19.0),
        "cmd_report|package|1000": row("cmd_report", "package", 40.0, pages_mb={"a.html": 2.5, "b.html": 0.7}),
        "cmd_report|baseline|1000": row(
            "cmd_report", "baseline", 80.0, html_mb={"a.html": 7.0, "b.html": 2.5, "processed/m.html": 9.0}
        ),
    }
    out = tmp_path / "BENCHMARKS.md"
    write_document({"runs": runs, "machine": {}}, out, tmp_path / "plot.png")
    text = out.read_text(encoding="utf-8")
    clean = next(line for line in text.splitlines() if line.startswith("| command: clean"))
    assert "| 3.00 | 250 | 0.750 | 170 | 4× the floor |" in clean  # the command's own peak, not the harness's
    assert "CPU 2.0 s vs 0.4 s |" in clean  # a floor's CPU beside the package's, no speed-up ratio
    coverage = next(line for line in text.splitlines() if line.startswith("| command: coverage"))
    assert "| 10.00× |" in coverage and "CPU 1.5 s vs 19.0 s (12.7×)" in coverage and "(-0.20 %)" in coverage
    report = next(line for line in text.splitlines() if line.startswith("| command: report"))
    assert "| 1,000 |" in report and "pages 3.2 MB, largest 2.50 MB (baseline 9.5 MB, largest 7.00 MB)" in report


def test_repeated_measurements_keep_the_median_run_and_cpu():
    from benchmarks.__main__ import median_run

    runs = [
        {"seconds": s, "command_cpu_seconds": c, "load_before": 4.0} for s, c in ((5.0, 1.1), (3.0, 1.4), (4.0, 1.2))
    ]
    m = median_run(runs)
    assert m["seconds"] == 4.0 and m["command_cpu_seconds"] == 1.2 and m["repeats"] == 3
    assert m["seconds_all"] == [5.0, 3.0, 4.0] and m["command_cpu_seconds_all"] == [1.1, 1.4, 1.2]
    assert median_run(runs[:1]) is runs[0]
    assert median_run([{"error": "x"}, {"error": "y"}]) == {"error": "y"}


def test_command_rows_run_the_package_byte_compiled(monkeypatch):
    """A user's installed package is byte-compiled: the command rows do not pay for compiling the
    source on every run, even where the environment says not to write bytecode."""
    from benchmarks.commands import run_child

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    ok = run_child(["-c", "import sys, analysis.errors as e; print(sys.dont_write_bytecode, e.__cached__)"])
    flag, cached = ok["stdout"].split()
    assert flag == "False" and cached.endswith(".pyc")
    from pathlib import Path

    assert Path(cached).is_file()


def test_city_folder_is_a_city_whose_files_clean_to_its_n_stations(tmp_path):
    """The report rows' input: a city folder (city.toml, boundaries, key sites, operator files and the
    tower company's sheet) of n stations that the package reads as any city, written once."""
    from analysis.clean.stations import clean_stations
    from analysis.config import load_city
    from benchmarks.cityfolder import city_folder

    folder = city_folder(tmp_path, 300)
    city = load_city(folder)
    assert city.key == "karamay_300" and [t.on_air for t in city.targets] == [135, 306, 450]
    r = clean_stations([city.stations_dir], city, as_of=city.records_received)
    s = r.summary
    assert s["rows_in"] == s["rows_kept"] + s["rows_merged"] + s["rows_quarantined"]
    assert s["stations_on_air"] == 300 and s["stations"] == 300 + 20  # 20 planned sites in the pipeline
    assert r.stations["district"].notna().all() and s["notes"]["gcj02_converted_rows"] > 0
    assert {f["encoding"] for f in s["files"]} >= {"utf-8-sig", "gbk", "utf-8"}
    mark = (folder / ".complete").stat().st_mtime_ns
    assert city_folder(tmp_path, 300) == folder and (folder / ".complete").stat().st_mtime_ns == mark


def test_a_second_run_writes_its_own_file_and_is_merged_into_the_results(tmp_path):
    from benchmarks.__main__ import main

    mine, other = tmp_path / "results.json", tmp_path / "other.json"
    row = {"stage": "cmd_report", "variant": "package", "seconds": 1.0, "peak_mb": 1.0}
    mine.write_text(json.dumps({"runs": {"cmd_report|package|1000": {**row, "scale": 1000}}, "machine": {}}))
    other.write_text(
        json.dumps(
            {
                "runs": {"cmd_report|package|100000": {**row, "scale": 100000, "seconds": 9.0}},
                "run_log": [{"command": "python -m benchmarks --only-scales 100000", "seconds": 9.0, "date": "d"}],
                "machine": {"cpu": "x"},
            }
        )
    )
    import benchmarks.__main__ as runner

    doc = tmp_path / "doc"
    doc.mkdir()
    orig = runner.write_document
    runner.write_document = lambda results, path, plot: (doc / "written").write_text(json.dumps(results))
    try:
        assert main(["--results", str(mine), "--merge", str(other)]) == 0
    finally:
        runner.write_document = orig
    merged = json.loads(mine.read_text())
    assert set(merged["runs"]) == {"cmd_report|package|1000", "cmd_report|package|100000"}
    assert merged["run_log"][0]["seconds"] == 9.0 and merged["machine"] == {"cpu": "x"}
    assert json.loads((doc / "written").read_text()) == merged


def test_a_run_into_a_side_file_leaves_benchmarks_md_to_the_merge(tmp_path, monkeypatch, capsys):
    import benchmarks.__main__ as runner

    written = []
    monkeypatch.setattr(runner.fixtures, "china_city", lambda folder: None)
    monkeypatch.setattr(runner, "measure", lambda stage, variant, m, work: {"seconds": 1.0, "peak_mb": 1.0})
    monkeypatch.setattr(runner, "machine", lambda: {"cpu": "x"})
    monkeypatch.setattr(runner, "write_document", lambda results, path, plot: written.append(path))
    side = tmp_path / "side.json"
    argv = ["--stages", "cmd_report", "--only-scales", "1000", "--results", str(side), "--work", str(tmp_path)]
    assert runner.main(argv) == 0
    assert set(json.loads(side.read_text())["runs"]) == {"cmd_report|package|1000", "cmd_report|baseline|1000"}
    assert written == [] and "BENCHMARKS.md unchanged" in capsys.readouterr().out
    assert runner.main(["--results", str(side), "--merge", str(side)]) == 0 and len(written) == 1


def test_document_says_the_partitioned_clean_main_process_peak(tmp_path):
    """The partitioned row's peak is every process's; its note says the main process's own (the merge of the
    stations is bounded there, the workers hold the partitions)."""
    from benchmarks.document import write_document

    run = {"stage": "clean_partitioned", "variant": "package", "scale": 1000, "seconds": 5.0, "peak_mb": 1500.0}
    run |= {"rows": 2200, "stations": 865, "partitions": 2, "self_peak_mb": 640.4}
    out = tmp_path / "BENCHMARKS.md"
    write_document({"runs": {"clean_partitioned|package|1000": run}, "machine": {}}, out, tmp_path / "plot.png")
    row = next(line for line in out.read_text(encoding="utf-8").splitlines() if "in partitions" in line)
    assert "2 partitions of ≤ 500,000 rows; main process peak 640 MB" in row


def test_naive_report_passes_absolute_paths_to_papermill(tmp_path, monkeypatch):
    # papermill runs in the project's folder and the notebooks in theirs: a relative OUT (or city folder) given from
    # elsewhere was a papermill traceback
    from benchmarks import naive_report

    calls = []
    monkeypatch.setattr(naive_report.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    (tmp_path / "mycity").mkdir()
    monkeypatch.chdir(tmp_path)
    assert naive_report.main(["mycity", "2021-12-31", "rel/out"]) == 0
    papermill = [c for c in calls if "papermill" in c]
    assert papermill
    for cmd in papermill:
        out, processed = cmd[cmd.index("-m") + 3], cmd[cmd.index("processed") + 1]
        assert out == str(tmp_path / "rel" / "out" / Path(out).name)
        assert processed == str(tmp_path / "rel" / "out" / "processed")
        assert cmd[cmd.index("city") + 1] == str(tmp_path / "mycity")
