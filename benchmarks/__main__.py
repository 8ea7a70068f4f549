"""`python -m benchmarks [--scale N] [--stages ...]`: every stage at 10^3, 10^4, 10^5 stations (and up
to N when given, e.g. 4250000), each beside its naive baseline in the same run; results are merged
into benchmarks/results.json and BENCHMARKS.md (table, machine, versions, log-log plot) is rewritten
from it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from analysis import progress
from benchmarks import fixtures
from benchmarks.document import write_document

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
DEFAULT_SCALES = (1_000, 10_000, 100_000)
NATIONAL = 4_250_000
#: stage -> variants; the report and the city map do not depend on the national scale (scale 0); the
#: report command runs on a city folder of N stations (scale 0: the bundled city).
STAGES = {
    "clean": ("package", "baseline"),
    "clean_opencellid": ("package", "baseline"),
    "assign": ("package", "baseline"),
    "coverage": ("package", "baseline"),
    "forecast": ("package", "baseline"),
    "map": ("package", "baseline"),
    "clean_partitioned": ("package",),
    "report": ("package", "baseline"),
    "cmd_clean": ("package", "baseline"),
    "cmd_coverage": ("package", "baseline"),
    "cmd_taskforce": ("package", "baseline"),
    "cmd_taskforce_no_charts": ("package", "baseline"),
    "cmd_report": ("package", "baseline"),
}
CITY_ONLY = {"report"}
#: the in-memory OpenCelliD clean is run up to this scale; beyond it the partitioned one
OPENCELLID_IN_MEMORY_MAX = 1_000_000
PARTITIONED_MIN = 100_000
TIMEOUT_S = 3600


def ladder(top: int | None) -> list[int]:
    if top is None:
        return list(DEFAULT_SCALES)
    scales = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s < top]
    return scales + [top]


def measure(stage: str, variant: str, n: int, work: Path) -> dict:
    """Run one measurement in a fresh interpreter; peak RSS of its whole process tree sampled every 20 ms."""
    cmd = [sys.executable, "-m", "benchmarks.stages", stage, variant, str(n), str(work)]
    load = round(os.getloadavg()[0], 1)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE.parent, text=True)
    peak = [0]
    done = threading.Event()

    def sample():
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            try:
                total = root.memory_info().rss
                for child in root.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                break
            peak[0] = max(peak[0], total)
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        done.set()
        return {"skipped": f"timed out after {TIMEOUT_S} s"}
    done.set()
    thread.join()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {
            "error": (stderr or stdout).strip().splitlines()[-1][:300]
            if (stderr or stdout).strip()
            else f"exit {proc.returncode}"
        }
    out = json.loads(lines[-1][len("RESULT ") :])
    out["process_seconds"] = round(time.perf_counter() - t0, 2)
    out["load_before"], out["load_after"] = load, round(os.getloadavg()[0], 1)
    out["peak_mb"] = round(max(peak[0] / 2**20, out.get("self_peak_mb", 0)), 1)
    return out


def _plan(stages: list[str], scales: list[int]) -> list[tuple[str, str, int]]:
    """Every (stage, variant, scale) to measure, in order."""
    plan = []
    for stage in stages:
        for n in [0] if stage in CITY_ONLY else scales:
            if stage == "clean_opencellid" and n > OPENCELLID_IN_MEMORY_MAX:
                continue
            if stage == "clean_partitioned" and n < PARTITIONED_MIN:
                continue
            todo = [0, n] if stage == "map" and n == scales[0] else [n]  # the city map once, then the national ones
            plan += [(stage, variant, m) for m in todo for variant in STAGES[stage]]
    return plan


def median_run(runs: list[dict]) -> dict:
    """One measurement from its repeats: the run of median wall seconds, with the median CPU seconds
    and every run's wall and CPU seconds beside it (a single run is returned as it is)."""
    ok = [r for r in runs if "seconds" in r and "error" not in r]
    if len(runs) == 1 or not ok:
        return runs[-1]
    out = dict(sorted(ok, key=lambda r: r["seconds"])[(len(ok) - 1) // 2])
    out["repeats"] = len(ok)
    out["seconds_all"] = [r["seconds"] for r in ok]
    cpu = sorted(r["command_cpu_seconds"] for r in ok if "command_cpu_seconds" in r)
    if cpu:
        out["command_cpu_seconds"] = cpu[(len(cpu) - 1) // 2]
        out["command_cpu_seconds_all"] = [r.get("command_cpu_seconds") for r in ok]
    out["load_before"] = round(sum(r.get("load_before", 0) for r in ok) / len(ok), 1)
    return out


def machine() -> dict:
    import platform
    from importlib.metadata import version

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pkgs = [
        "pandas",
        "numpy",
        "geopandas",
        "shapely",
        "pyarrow",
        "scipy",
        "statsmodels",
        "folium",
        "dask",
        "distributed",
        "cnmaps",
    ]
    versions = {}
    for p in pkgs:
        try:
            versions[p] = version(p)
        except Exception:
            versions[p] = "not installed"
    try:
        chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        chromium = "not installed"
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "versions": versions,
        "chromium": chromium,
    }


def _read_results(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"runs": {}, "machine": {}}


def _write_results(path: Path, results: dict) -> None:
    """Write the results file whole, by rename: a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def merge_results(results: dict, other: dict) -> dict:
    """Add another run's rows (replacing the same stage, variant and scale), its run log and, when it
    has one, its machine description."""
    results.setdefault("runs", {}).update(other.get("runs", {}))
    log = results.setdefault("run_log", [])
    log += [r for r in other.get("run_log", []) if r not in log]
    if other.get("machine"):
        results["machine"] = other["machine"]
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--scale",
        type=int,
        default=None,
        metavar="N",
        help=f"largest number of stations (default: {', '.join(map(str, DEFAULT_SCALES))}; national: {NATIONAL})",
    )
    ap.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES))
    ap.add_argument(
        "--only-scales",
        nargs="+",
        type=int,
        default=None,
        metavar="N",
        help="run exactly these scales instead of the ladder up to --scale",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the whole plan N times (package and baseline alternating); keep the median wall "
        "and CPU seconds of each measurement (on a shared machine one run says little)",
    )
    ap.add_argument("--work", type=Path, default=HERE / "out", help="where data and outputs go (gitignored)")
    ap.add_argument("--document-only", action="store_true", help="rewrite BENCHMARKS.md from results.json")
    ap.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="where the rows go (default benchmarks/results.json); a second run alongside another writes "
        "its own file, merged afterwards with --merge",
    )
    ap.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=(),
        metavar="FILE",
        help="add the rows and run log of these results files (written with --results) to --results, then "
        "rewrite BENCHMARKS.md",
    )
    args = ap.parse_args(argv)

    results = _read_results(args.results)
    for other in args.merge:
        merge_results(results, _read_results(other))
        _write_results(args.results, results)
    if not args.document_only and not args.merge:
        work = args.work.resolve()
        (work / "data").mkdir(parents=True, exist_ok=True)
        t_all = time.perf_counter()
        print("preparing China's counties ...", flush=True)
        fixtures.china_city(work / "china")
        scales = args.only_scales or ladder(args.scale)
        command = (
            "python -m benchmarks"
            + (f" --scale {args.scale}" if args.scale else "")
            + (f" --stages {' '.join(args.stages)}" if args.stages != list(STAGES) else "")
            + (f" --only-scales {' '.join(map(str, args.only_scales))}" if args.only_scales else "")
            + (f" --repeat {args.repeat}" if args.repeat > 1 else "")
        )
        plan = _plan(args.stages, scales)
        repeats: dict[str, list[dict]] = {}
        with progress.task("benchmarks", len(plan) * max(args.repeat, 1), "measurement") as bar:
            for _ in range(max(args.repeat, 1)):
                for stage, variant, m in plan:
                    t0 = time.perf_counter()
                    r = measure(stage, variant, m, work)
                    r.update(
                        stage=stage,
                        variant=variant,
                        scale=m,
                        command=command,
                        date=dt.datetime.now().isoformat(timespec="seconds"),
                    )
                    key = f"{stage}|{variant}|{m}"
                    repeats.setdefault(key, []).append(r)
                    results["runs"][key] = median_run(repeats[key])
                    shown = {k: v for k, v in r.items() if k not in ("command", "date", "stage", "variant", "scale")}
                    print(f"{stage:18s} {variant:8s} {m:>9,d}  {time.perf_counter() - t0:7.1f}s  {shown}", flush=True)
                    _write_results(args.results, results)
                    bar.advance(note=f"{stage} {variant} {m:,}")
        results["machine"] = machine()
        results.setdefault("run_log", []).append(
            {
                "command": command,
                "seconds": round(time.perf_counter() - t_all, 1),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            }
        )
        _write_results(args.results, results)
        print(f"all done in {results['run_log'][-1]['seconds']:.0f} s")
    if not (args.merge or args.document_only) and args.results.resolve() != RESULTS.resolve():
        # a run into a side file holds only its own rows: BENCHMARKS.md is written from the whole record, at --merge
        print(f"rows in {args.results}; BENCHMARKS.md unchanged (add them: python -m benchmarks --merge FILE)")
        return 0
    write_document(results, HERE.parent / "BENCHMARKS.md", HERE / "scaling.png")
    print(f"wrote {HERE.parent / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
