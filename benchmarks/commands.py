"""Command-level measurements: what a user waits for. Each runs `python -m analysis VERB ...` as a
child process and times it from launch to exit (interpreter start, imports, reading, work, writing),
beside the naive way run the same way (a child `python` of a short pandas/geopandas script).

Inputs are prepared before the clock starts and cached under the work folder. CPU seconds and the
peak resident memory are the child's own (`resource.getrusage(RUSAGE_CHILDREN)`). The package and
the benchmark scripts are byte-compiled before the clock starts, as `pip install` does: a user's
command does not compile the package's source on every run (about 0.15 CPU s), even where the
environment sets PYTHONDONTWRITEBYTECODE.
"""

from __future__ import annotations

import compileall
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import fixtures

AS_OF = "2025-01-01"
#: The coverage command's inputs, as issue 17 measured them: stations spread evenly over Karamay's
#: districts' extent, one fixed radius.
COVERAGE_CITY = "karamay"
COVERAGE_RADIUS_M = 400.0
#: The naive vector union is not run above this many stations (minutes and gigabytes).
COVERAGE_BASELINE_MAX = 1_000_000
ROOT = Path(__file__).resolve().parent.parent


def compile_sources() -> None:
    """Byte-compile the package and the benchmark scripts (only what changed), as an install does."""
    for folder in (ROOT / "src", ROOT / "benchmarks"):
        compileall.compile_dir(folder, quiet=1)


def run_child(argv: list[str]) -> dict:
    """Run one command; its wall seconds, CPU seconds, peak MB and exit status."""
    compile_sources()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(FIVEG_PROGRESS="off", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")) if p)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {
        "seconds": round(seconds, 3),
        "command_cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
        "command_peak_mb": round(after.ru_maxrss / 1024, 1),
        "exit": proc.returncode,
        "stdout": proc.stdout.strip().splitlines()[-1][:300] if proc.stdout.strip() else "",
    }
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        return {"error": tail[:300], **out}
    return out


def karamay_extent_stations(folder: Path, n: int, seed: int = 17) -> Path:
    """n stations uniform over the bounding box of Karamay's districts (bands n78/n41/n28, on air
    2020-2021), as a cleaned-station Parquet; written once."""
    from analysis import geo
    from analysis.config import load_city

    path = Path(folder) / f"karamay_extent_{n}.parquet"
    if path.is_file():
        return path
    x0, y0, x1, y1 = geo.read_districts(load_city(COVERAGE_CITY)).total_bounds
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "station_id": [f"S{i:07d}" for i in range(n)],
            "name": [f"站{i}" for i in range(n)],
            "operator": rng.choice(["CMCC", "CTCC", "CUCC"], n),
            "lon": rng.uniform(x0, x1, n),
            "lat": rng.uniform(y0, y1, n),
            "band": rng.choice(["n78", "n41", "n28"], n),
            "on_air_date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return path


def cmd_clean(variant: str, n: int, work: Path) -> dict:
    """`python -m analysis clean` of the national operator CSV against a bare read_csv of it."""
    data, city = work / "data", fixtures.china_city(work / "china")
    path = fixtures.station_file(data, n)
    if variant == "baseline":
        return run_child(["-c", "import sys, pandas; pandas.read_csv(sys.argv[1])", str(path)])
    out = work / "cmd" / f"clean_{n}"
    shutil.rmtree(out, ignore_errors=True)
    r = run_child(
        [
            "-m",
            "analysis",
            "clean",
            "--input",
            str(path),
            "--city",
            str(city / "city.toml"),
            "--as-of",
            AS_OF,
            "--out",
            str(out),
        ]
    )
    return {**r, "file_mb": round(path.stat().st_size / 1e6, 1)}


def cmd_coverage(variant: str, n: int, work: Path) -> dict:
    """`python -m analysis coverage --no-map` (covered area, districts, key sites, gaps, candidates)
    against buffer + union_all + per-district intersection (the area only)."""
    from analysis.config import RAW_DIR

    stations = karamay_extent_stations(work / "data", n)
    if variant == "baseline":
        if n > COVERAGE_BASELINE_MAX:
            return {"skipped": f"naive vector union not run above {COVERAGE_BASELINE_MAX:,} stations"}
        r = run_child(
            [
                "-m",
                "benchmarks.naive_coverage",
                str(stations),
                str(RAW_DIR / COVERAGE_CITY / "districts.geojson"),
                str(COVERAGE_RADIUS_M),
            ]
        )
        if "error" not in r:  # its last line: total,<km2>
            r["area_km2"] = round(float(r["stdout"].rsplit(",", 1)[1]), 1)
        return r
    out = work / "cmd" / f"coverage_{n}"
    shutil.rmtree(out, ignore_errors=True)
    r = run_child(
        [
            "-m",
            "analysis",
            "coverage",
            "--stations",
            str(stations),
            "--city",
            COVERAGE_CITY,
            "--radius-m",
            f"{COVERAGE_RADIUS_M:g}",
            "--no-map",
            "--out",
            str(out),
        ]
    )
    if "error" not in r:
        table = pd.read_csv(out / "coverage_by_district.csv")
        r["area_km2"] = round(float(table["covered_km2"].iloc[:-1].sum()), 1)
        r["gaps"] = len(json.loads((out / "gaps.geojson").read_text(encoding="utf-8"))["features"])
    return r


def cmd_taskforce(variant: str, n: int, work: Path, charts: bool = True) -> dict:
    """`python -m analysis taskforce` on the cleaned national stations against a pandas crosstab of
    stages. The synthetic national stations are all on air (no pipeline): these rows measure what
    the command costs at that many stations and districts, not the pipeline logic."""
    from benchmarks.stages import _clean_stations_file

    stations = _clean_stations_file(work, n)
    if variant == "baseline":
        naive_out = work / "cmd" / f"taskforce_naive_{n}.csv"
        naive_out.parent.mkdir(parents=True, exist_ok=True)
        return run_child(["-m", "benchmarks.naive_taskforce", str(stations), AS_OF, str(naive_out)])
    out = work / "cmd" / f"taskforce_{n}{'' if charts else '_no_charts'}"
    shutil.rmtree(out, ignore_errors=True)
    city = fixtures.china_city(work / "china")
    argv = ["-m", "analysis", "taskforce", "--stations", str(stations), "--city", str(city / "city.toml")]
    return run_child([*argv, "--as-of", AS_OF, "--out", str(out), *([] if charts else ["--no-charts"])])


def cmd_taskforce_no_charts(variant: str, n: int, work: Path) -> dict:
    """`python -m analysis taskforce --no-charts` (the tables only, as the naive way makes) against the
    same pandas crosstab."""
    return cmd_taskforce(variant, n, work, charts=False)


#: The bundled report's city and date (scale 0): the article's day.
REPORT_CITY, REPORT_AS_OF = "karamay", "2021-03-22"


def report_pages_mb(folder: Path) -> dict:
    """The size of each HTML page of a report folder (MB), the largest and the sum (the stages' files
    under processed/ are not pages)."""
    pages = [p for p in sorted(Path(folder).rglob("*.html")) if "processed" not in p.relative_to(folder).parts]
    sizes = {p.relative_to(folder).as_posix(): round(p.stat().st_size / 1e6, 2) for p in pages}
    if not sizes:
        return {}
    return {"pages_mb": sizes, "pages_max_mb": max(sizes.values()), "pages_total_mb": round(sum(sizes.values()), 2)}


def cmd_report(variant: str, n: int, work: Path) -> dict:
    """`python -m analysis report` against papermill + nbconvert per notebook (`benchmarks.naive_report`),
    both with a fresh processed folder (no cache from an earlier run): the bundled city at scale 0, else
    a city folder of n stations on Karamay's boundaries (`benchmarks.cityfolder`), as of its files' date."""
    from benchmarks import cityfolder

    out = work / "cmd" / f"report_{variant}_{n}"
    shutil.rmtree(out, ignore_errors=True)
    city, as_of = REPORT_CITY, REPORT_AS_OF
    if n:
        city, as_of = str(cityfolder.city_folder(work / "cities", n)), cityfolder.EXTRACT.isoformat()
    if variant == "baseline":
        r = run_child(["-m", "benchmarks.naive_report", city, as_of, str(out)])
    else:
        argv = ["-m", "analysis", "report", "--city", city, "--as-of", as_of, "--out", str(out)]
        r = run_child([*argv, "--processed", str(out / "processed")])
    return {**r, **report_pages_mb(out)}


STAGES = {
    "cmd_clean": cmd_clean,
    "cmd_coverage": cmd_coverage,
    "cmd_taskforce": cmd_taskforce,
    "cmd_taskforce_no_charts": cmd_taskforce_no_charts,
    "cmd_report": cmd_report,
}
