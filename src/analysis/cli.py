"""The command line: `python -m analysis COMMAND ...`, one verb per stage, each calling the same
function a notebook calls. Expected mistakes become one line on stderr and an exit status
(1 bad data, 2 bad usage); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import errno
import math
import signal
import sys
import threading
from pathlib import Path

from analysis import __version__
from analysis.errors import AnalysisError, UsageError


def _date_arg(text: str):
    """argparse type of every date flag: exactly YYYY-MM-DD, else usage error (exit 2, one line)."""
    from analysis.config import parse_date

    try:
        return parse_date(text)
    except UsageError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _months_arg(text: str) -> int:
    """argparse type of --horizon: a whole number of months >= 1, else usage error (exit 2, one line)."""
    try:
        months = int(text)
    except ValueError:
        months = 0
    if months < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of months >= 1")
    return months


def _radius_arg(text: str) -> float:
    """argparse type of --radius-m: metres > 0 and at most coverage's MAX_RADIUS_M (a cell's reach), else
    usage error (exit 2, one line): the command line is wrong, not a file."""
    from analysis.coverage import MAX_RADIUS_M

    try:
        radius = float(text)
    except ValueError:
        radius = math.nan
    if not 0 < radius <= MAX_RADIUS_M:  # (NaN and infinity fail too)
        raise argparse.ArgumentTypeError(f"{text!r} is not a radius in metres > 0 and at most {MAX_RADIUS_M:g}")
    return radius


#: glibc's mallopt parameters (malloc.h): the most blocks served by mmap, the free space at the heap's top
#: kept rather than given back to the kernel, and the most arenas (heaps the threads allocate from).
_M_MMAP_MAX, _M_TRIM_THRESHOLD, _M_ARENA_MAX = -4, -1, -8


def keep_freed_memory() -> bool:
    """Let glibc's heap serve every block and keep what is freed, for a process that runs one clean and
    exits (`python -m analysis clean`). A national file's columns (34 MB each at 4.25 M rows) are made and
    freed hundreds of times; by default glibc takes every block above its mmap threshold (32 MB at most)
    fresh from the kernel and hands it back on free, so the kernel faulted in and zeroed ~6 GB of pages:
    about a third of the run's CPU time. Kept, the heap reuses its pages. Measured on a 4.25 M-row operator
    file (2 cores, alternating runs): ~4 s less system CPU, ~2.5 s less wall, peak 2.3 → 2.9 GB (under
    the 4 GB bar). Returns False (and changes nothing) where the C library has no mallopt (macOS); musl
    accepts and ignores it. Not done for in-process callers (a notebook, a test): the setting is the
    process's, for good.

    Two more settings of the same kind (measured the same way, 6 alternating runs each, 2026-11-29):
    - one arena for every thread: a worker thread's blocks otherwise come from an arena of its own, whose
      64 MB heaps glibc unmaps when they empty (~9 GB unmapped and faulted in again over a national
      clean); one arena: ~130 k fewer page faults, peak 3.45 → 3.2 GB, ~0.2 s less wall;
    - no transparent huge pages for numpy's arrays (numpy asks the kernel for them on every array of
      4 MB or more, `NUMPY_MADVISE_HUGEPAGE`): the heap's pages are reused, so huge pages save few faults,
      while the kernel compacts memory to find them on the fault; off: system CPU 5.6-6.9 → 3.5-3.7 s,
      wall 11.7-13.6 → 10.5-10.9 s, also just after the page cache was dropped and memory compacted."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    kept = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    if kept:
        mallopt(_M_ARENA_MAX, 1)
        _no_huge_pages_for_numpy()
    return kept


def _no_huge_pages_for_numpy() -> None:
    """What `NUMPY_MADVISE_HUGEPAGE=0` sets when numpy is imported, set after it was (numpy's own switch;
    a numpy without it is left as it is)."""
    import numpy as np

    setter = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    if setter is not None:
        setter(False)


def _cmd_clean(args: argparse.Namespace) -> int:
    if args.owns_process:  # (before the imports: numpy's and pyarrow's threads then take no arena of their own)
        keep_freed_memory()
    from analysis.clean.stations import clean_to_folder

    result = clean_to_folder(
        inputs=args.input,
        city=args.city,
        out=args.out,
        as_of=args.as_of,
        input_crs=args.input_crs,
        gnb_id_bits=args.gnb_id_bits,
    )
    s = result.summary
    print(
        f"cleaned {s['rows_in']} rows from {len({f['file'] for f in s['files'] if 'skipped' not in f})} files: "
        f"{s['rows_kept']} kept, {s['rows_merged']} merged, {s['rows_quarantined']} quarantined -> {args.out}"
    )
    for f in s["files"]:
        for note in ([f"skipped: {f['skipped']}"] if "skipped" in f else []) + f.get("notes", []):
            print(f"note: {f['file']}: {note}")
    for failure in result.failed_files:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if result.failed_files else 0


def _rows_per_partition_arg(text: str) -> int:
    """argparse type of --rows-per-partition: a whole number of rows >= 1000 (fewer makes a partition per
    handful of gNBs), else usage error (exit 2, one line)."""
    try:
        rows = int(text.replace("_", ""))
    except ValueError:
        rows = 0
    if rows < 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of rows >= 1000")
    return rows


def _cmd_clean_partitioned(args: argparse.Namespace) -> int:
    from analysis.clean.partitioned import clean_partitioned

    if len(args.input) != 1:
        raise UsageError("--partitioned cleans one OpenCelliD export: give one file to --input")
    if args.input_crs not in (None, "wgs84"):
        raise UsageError("--input-crs does not apply to --partitioned: OpenCelliD exports are WGS-84")
    s = clean_partitioned(
        args.input[0],
        args.city,
        args.out,
        as_of=args.as_of,
        gnb_id_bits=args.gnb_id_bits,
        scheduler=args.scheduler or "processes",
        rows_per_partition=args.rows_per_partition,
    )
    print(
        f"cleaned {s['rows_in']} rows from 1 file in {s['partitions']} partition{'s' if s['partitions'] != 1 else ''}: "
        f"{s['rows_kept']} kept, "
        f"{s['rows_merged']} merged, {s['rows_quarantined']} quarantined -> {args.out}"
    )
    for f in s["files"]:  # (what the reader did, as the in-memory clean says it)
        for note in f.get("notes", []):
            print(f"note: {f['file']}: {note}")
    return 0


def _cmd_clean_any(args: argparse.Namespace) -> int:
    if args.scheduler and not args.partitioned:
        raise UsageError("--scheduler is for --partitioned")
    if args.rows_per_partition is not None and not args.partitioned:
        raise UsageError("--rows-per-partition is for --partitioned")
    return _cmd_clean_partitioned(args) if args.partitioned else _cmd_clean(args)


def _add_clean(sub) -> None:
    p = sub.add_parser(
        "clean",
        help="clean raw station records into stations.parquet, quarantine.csv, clean_summary.json",
        description="Read operator / tower-company reports (CSV, XLSX, XLS, also inside .gz or .zip; UTF-8, GBK, "
        "GB18030 or UTF-16; Chinese or English headers) and OpenCelliD exports, and write one row per physical "
        "station. A folder with no station records, or a run that keeps no station, is an error and leaves the "
        "outputs of an earlier run as they were.",
    )
    p.add_argument(
        "--input", nargs="+", required=True, type=Path, metavar="PATH", help="files or folders of raw station records"
    )
    p.add_argument("--city", required=True, help="city key (a folder under data/raw/) or a city.toml path")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--as-of",
        default=None,
        type=_date_arg,
        metavar="YYYY-MM-DD",
        help="report date: on-air dates after it are quarantined (default: today)",
    )
    p.add_argument(
        "--input-crs",
        default=None,
        choices=["wgs84", "gcj02", "bd09"],
        help="coordinate system of files that do not say (default: wgs84)",
    )
    p.add_argument(
        "--gnb-id-bits",
        default="24",
        metavar="BITS|OP=BITS,...",
        help="gNB-ID length for grouping OpenCelliD NR cells into sites, e.g. 24 or CMCC=24,CTCC=22",
    )
    p.add_argument(
        "--partitioned",
        action="store_true",
        help="clean one OpenCelliD export too large for memory in partitions, on Dask (same outputs)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="processes|threads|synchronous|tcp://HOST:PORT",
        help="with --partitioned: Dask's local scheduler (default processes) or a dask.distributed address",
    )
    p.add_argument(
        "--rows-per-partition",
        default=None,
        type=_rows_per_partition_arg,
        metavar="N",
        help="with --partitioned: cell rows per partition, what one worker holds (default 500000)",
    )
    p.set_defaults(func=_cmd_clean_any)


def _cmd_boundaries(args: argparse.Namespace) -> int:
    from analysis.geo import export_boundaries

    gdf = export_boundaries(args.city, args.out, tolerance_m=args.tolerance_m)
    print(f"wrote {len(gdf)} district polygons of {args.city} -> {args.out}")
    return 0


def _add_boundaries(sub) -> None:
    p = sub.add_parser(
        "boundaries",
        help="export a Chinese city's district polygons from cnmaps to GeoJSON",
        description="Export the district (区县) polygons of any Chinese city from the optional cnmaps "
        "package (pip install '.[boundaries]'), simplified, in WGS-84.",
    )
    p.add_argument("--city", required=True, help="the city's Chinese name, e.g. 克拉玛依市")
    p.add_argument("--out", required=True, type=Path, help="GeoJSON file to write")
    p.add_argument("--tolerance-m", type=float, default=50.0, help="simplification tolerance in metres (default 50)")
    p.set_defaults(func=_cmd_boundaries)


def _cmd_synth(args: argparse.Namespace) -> int:
    # The generator serves tests, the bundled sample and benchmarks, so it lives beside the package
    # (synth/ in the project folder), not in it.
    try:
        import synth
    except ModuleNotFoundError:
        raise UsageError(
            "the synthetic generator is the project's synth/ folder: run this from the project folder"
        ) from None

    if args.scale:
        paths = synth.write_national(args.out, n_stations=args.scale, seed=args.seed, fmt=args.format)
    else:
        paths = synth.write_city_reports(args.out, city=args.city, seed=args.seed)
    for path in paths:
        print(path)
    return 0


def _add_synth(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="write synthetic operator reports (city sample or national scale)",
        description="Write the seeded synthetic station reports that ship in data/raw/<city>/stations, "
        "or national-scale files for benchmarks.",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--city", default="karamay", help="city key of the sample (default karamay, the city it imitates)")
    p.add_argument("--seed", type=int, default=20210322, help="random seed (default 20210322)")
    p.add_argument(
        "--scale",
        type=int,
        default=None,
        metavar="N",
        help="write national-scale data with N stations instead of the city sample",
    )
    p.add_argument(
        "--format",
        choices=["operator", "opencellid"],
        default="operator",
        help="national-scale format (default operator)",
    )
    p.set_defaults(func=_cmd_synth)


def _note_records_end_before(stations, city, as_of) -> None:
    """Say so when the report date's month lies after the records' last month (records_received in
    city.toml, else the latest date in them): the months between look like months with nothing added."""
    import pandas as pd

    from analysis.taskforce import extract_date_of

    received = getattr(city, "records_received", None)
    extract = pd.Timestamp(received) if received is not None else extract_date_of(stations)
    if extract is not None and as_of.to_period("M") > extract.to_period("M"):
        print(
            f"  note: the records end on {extract.date()}: the months after it up to {as_of.date()} count as months "
            "with no station added (give an --as-of on or before it)",
            file=sys.stderr,
        )


def _cmd_forecast(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from analysis.config import load_city, parse_target_arg
    from analysis.forecast import forecast_series_file, write_forecast

    if (args.series is None) == (args.stations is None):
        raise UsageError("give either --series FILE or --stations PARQUET --as-of DATE")
    if args.owns_process and args.stations is not None:
        # (a national forecast makes and frees thousands of path arrays above the mmap threshold: kept in
        # the heap, ~0.4-1.1 of its ~1.5-2.6 s of system CPU at 10^6 stations and 321 counties)
        keep_freed_memory()
    if args.target and args.stations is not None:
        raise UsageError("--target is for --series; with --stations the targets come from --city")
    targets = []
    for text in args.target or ():
        targets.append(parse_target_arg(text))  # (a day or a period, a count with decimals if in 万)
    if args.series is not None:
        if args.city:
            targets += [(t.date, t.on_air, t.label_en) for t in load_city(args.city).goals()]
        fc = forecast_series_file(
            args.series,
            horizon=args.horizon,
            targets=targets,
            seed=args.seed,
            n_paths=args.paths,
            source=args.source or str(args.series),
            unit=args.unit,
        )
        paths = write_forecast(
            fc, args.out, horizon=args.horizon, lang=args.lang, figure=not args.no_charts, extra=None
        )
        name, model, targets, notes = fc.name, fc.model, fc.targets, fc.notes
    else:
        if args.as_of is None:
            raise UsageError("--stations needs --as-of YYYY-MM-DD")
        from analysis.config import resolve_city
        from analysis.files import read_station_columns
        from analysis.forecast import forecast_stage
        from analysis.report.outputs import read_forecast
        from analysis.taskforce import OPTIONAL_STATION_COLUMNS, STATION_COLUMNS

        # only the columns the forecast and its task-force tables read, never the points: a national table's
        # names, sources and points held 10^6 strings each (about 2 s of system CPU, 0.5 GB, at 10^6 stations)
        stations = read_station_columns(args.stations, STATION_COLUMNS, OPTIONAL_STATION_COLUMNS)
        city = resolve_city(args.city)
        _note_records_end_before(stations, city, pd.Timestamp(args.as_of))
        paths = forecast_stage(
            stations,
            city,
            pd.Timestamp(args.as_of),
            args.out,
            fig_lang=None if args.no_charts else args.lang,
            horizon=args.horizon,
            district=args.district,
            n_paths=args.paths,
            seed=args.seed,
        )
        written = read_forecast(args.out)
        model, targets, notes = written.model, written.targets, written.notes
        name = json.loads((args.out / "model.json").read_text(encoding="utf-8")).get("name", "")
    print(f"{name}: model {model}, {args.horizon} months -> {', '.join(str(p) for p in paths)}")
    for _, r in targets.iterrows():
        print(_describe_target_line(r))
    for note in notes:
        print(f"  note: {note}")
    return 0


def _describe_target_line(r) -> str:
    """One console line per target. A target whose date has passed, or whose count is already on air, has
    an outcome, not a chance or a pace: its pace is NaN (null once read back from model.json)."""
    status = r.get("status", "")
    target = float(r["target"])  # (a count in 万 keeps its decimals: 366.5, not 366)
    shown = f"{target:,.0f}" if target.is_integer() else f"{target:,}"
    head = f"  target {f'{target:.0f}' if target.is_integer() else target} by {r['target_date'].date()}"
    months_left = r.get("months_left")
    # without months_left (a table from elsewhere), only a missed target is known to be past its date
    date_passed = float(months_left) <= 0 if _is_finite(months_left) else status == "missed"
    if date_passed:
        # past its date, `mean` is the count at the target's month end: the outcome is judged on it, as the
        # report's target table does, even if the count was reached later
        got = float(r.get("expected_on_air", r["mean"]))  # (a series: the count on the date, between published)
        outcome = "reached" if got >= target else "missed"
        count = f"{got:,.0f}" if got.is_integer() else f"{got:,.1f}"
        return f"{head}: {outcome} (target date passed: {count} on air against {shown})"
    if status in ("reached", "missed"):
        return f"{head}: {status} (already {float(r['count_as_of']):,.0f} on air against {shown})"
    pace = (
        f"pace needed {float(r['pace_needed_per_month']):.1f}/month"
        if _is_finite(r.get("pace_needed_per_month"))
        else "pace needed n/a"
    )
    early = " too early to judge (no backtest yet, uncalibrated):" if status == "too_early" else ""
    return (
        f"{head}:{early} P(reach) = {_format_or_na(r.get('prob_reach'), '.0%')}, "
        f"mean {r['mean']:.1f} (80%: {r['lo80']:.1f}-{r['hi80']:.1f}), "
        f"{pace} vs {_format_or_na(r.get('pace_last_3m'), '.1f')} (3 m), "
        f"{_format_or_na(r.get('pace_last_6m'), '.1f')} (6 m)"
    )


def _is_finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):  # None (a NaN written to model.json) or pd.NA
        return False


def _format_or_na(x, spec: str) -> str:
    # a pace over a history shorter than its window is NaN: say so rather than print 'nan'
    return format(float(x), spec) if _is_finite(x) else "n/a"


def _add_forecast(sub) -> None:
    p = sub.add_parser(
        "forecast",
        help="forecast a cumulative count of stations: forecast.csv, model.json, forecast.png",
        description="Forecast a published cumulative series (CSV date,value; month ends, quarter ends or "
        "irregular dates) or the clean stations on air by a date; the model is chosen by rolling-origin "
        "backtest against naive and drift.",
    )
    p.add_argument("--series", type=Path, default=None, metavar="FILE", help="CSV with columns date,value")
    p.add_argument("--stations", type=Path, default=None, metavar="PARQUET", help="clean stations.parquet")
    p.add_argument("--as-of", default=None, type=_date_arg, metavar="YYYY-MM-DD", help="report date (with --stations)")
    p.add_argument("--district", default=None, help="forecast one district (Chinese name) instead of the city")
    p.add_argument(
        "--city",
        default=None,
        help="city key or city.toml whose targets to test (default: $FIVEG_CITY or the only city in "
        "data/raw/ with --stations, none with --series)",
    )
    p.add_argument(
        "--target",
        action="append",
        metavar="WHEN=COUNT",
        help="a target to test (repeatable): WHEN a day, 2025-12, 2025, 2025年 or 十四五末; COUNT may have decimals",
    )
    p.add_argument("--horizon", type=_months_arg, default=12, metavar="N", help="months to forecast (default 12)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="figure labels (default en)")
    p.add_argument("--no-charts", action="store_true", help="skip forecast.png and districts.png")
    p.add_argument("--paths", type=int, default=2000, help="simulated paths (default 2000)")
    p.add_argument("--seed", type=int, default=20210322, help="random seed (default 20210322)")
    p.add_argument("--source", default=None, help="source line for the figure (default: the file name)")
    p.add_argument("--unit", default="stations", help="unit of the series' values, for the figure (e.g. 10k)")
    p.set_defaults(func=_cmd_forecast)


def spots_covered_words(result) -> str:
    """The 4A+ scenic spots covered, of those the city counts, and apart from them those nearer the coverage edge
    than their position is known ("0/2 4A+ spots covered, 2 uncertain": both read covered on the grid, yet "0/2"
    alone said neither was)."""
    city = result.by_district.iloc[-1]
    words = f"{int(city['n_target_sites_covered']):,}/{int(city['n_target_sites']):,} 4A+ spots covered"
    s = result.sites
    if len(s) and {"is_target", "verdict", "district"} <= set(s.columns):
        counted = s["district"].isin(set(result.by_district["district"].iloc[:-1]))
        uncertain = int((s["is_target"].astype(bool) & (s["verdict"] == "uncertain") & counted).sum())
        if uncertain:
            words += f", {uncertain:,} uncertain"
    return words


def _coverage_date_words(result, as_of) -> str:
    """'as of DATE' when the run gives a date; else the stations' own latest on-air date, which is what a run of
    every dated station is as of (it said 'as of latest')."""
    if as_of:
        return f"as of {as_of}"
    import pandas as pd

    st = result.stations
    latest = pd.NaT
    if len(st):
        on_air = st["is_on_air_at_as_of"].astype(bool).to_numpy()
        latest = pd.to_datetime(st["on_air_date"][on_air], errors="coerce").max()
    if pd.isna(latest):
        return "of every dated station (none on air)"
    return f"of every dated station (the latest on air {latest:%Y-%m-%d})"


def _cmd_coverage(args: argparse.Namespace) -> int:
    import pandas as pd

    from analysis.coverage import coverage_to_folder

    # the stage's result comes back in memory: no second read of the files it has just written
    result, _ = coverage_to_folder(
        args.stations,
        args.city,
        args.out,
        as_of=pd.Timestamp(args.as_of) if args.as_of else None,
        with_map=not args.no_map,
        mode=args.mode,
        radius_m=args.radius_m,
    )
    city = result.by_district.iloc[-1]
    print(
        f"coverage {_coverage_date_words(result, args.as_of)}: "
        f"{int(city['n_stations_on_air']):,} stations on air, built-up area {city['urban_covered_pct']:.1f} % covered, "
        f"{spots_covered_words(result)}, {len(result.gaps):,} gaps, {len(result.candidates):,} candidates -> {args.out}"
    )
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _add_coverage(sub) -> None:
    p = sub.add_parser(
        "coverage",
        help="coverage by district and key site, gaps, candidate sites and the coverage map",
        description="Footprints from a TR 38.901 link budget (or a fixed radius), covered area on a metric "
        "grid, and coverage_by_district.csv, site_coverage.csv, gaps.geojson, candidates.csv, coverage_map.html.",
    )
    p.add_argument("--stations", required=True, type=Path, metavar="PARQUET", help="cleaned stations.parquet")
    p.add_argument("--city", required=True, help="city key (a folder under data/raw/) or a city.toml path")
    p.add_argument(
        "--as-of",
        default=None,
        type=_date_arg,
        metavar="YYYY-MM-DD",
        help="count stations on air on this date (default: every station with an on-air date)",
    )
    p.add_argument(
        "--radius-m",
        type=_radius_arg,
        default=None,
        metavar="R",
        help="fixed outdoor footprint radius in metres (> 0, at most 50000) for every station, not the link budget",
    )
    p.add_argument(
        "--mode",
        choices=["grid", "vector"],
        default="grid",
        help="grid (50 m cells, any scale) or vector (exact union, small inputs); default grid",
    )
    p.add_argument("--no-map", action="store_true", help="skip coverage_map.html")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.set_defaults(func=_cmd_coverage)


def _cmd_taskforce(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from analysis.config import resolve_city
    from analysis.errors import BadInputError
    from analysis.files import read_station_columns
    from analysis.taskforce import OPTIONAL_STATION_COLUMNS, STATION_COLUMNS, taskforce_to_folder

    extract = args.extract_date
    summary = args.stations.parent / "clean_summary.json"
    if extract is None and summary.is_file():  # the date cleaning was run "as of": the extract's date
        try:
            extract = json.loads(summary.read_text(encoding="utf-8")).get("as_of")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            raise BadInputError("not a clean summary (JSON with as_of): give --extract-date", summary) from None
    # only the columns the task force uses, no points and no cleaning imports: 0.5-1 s at 10^5 stations
    stations = read_station_columns(args.stations, STATION_COLUMNS, OPTIONAL_STATION_COLUMNS)
    # the stage's tables come back in memory: no second read of the files it has just written
    report, _ = taskforce_to_folder(
        stations,
        resolve_city(args.city),
        pd.Timestamp(args.as_of),
        args.out,
        extract_date=extract,
        fig_lang=None if args.no_charts else args.lang,
        horizon=args.horizon,
        source=args.source or "",  # (none given: the files the sites in the pipeline came from)
    )
    city = report.districts.iloc[-1]
    funnel = report.funnel[report.funnel["district"] == report.funnel["district"].iloc[-1]].set_index("stage")
    due = city["target_date"].date() if pd.notna(city["target_date"]) else "-"
    print(
        f"task force as of {report.as_of.date()}: {int(funnel.loc['pipeline_total', 'sites'])} sites in the pipeline "
        f"({int(funnel.loc['pipeline_total', 'change']):+d} since {report.previous.date()}), "
        f"{int(funnel.loc['on_air', 'sites'])} on air, {len(report.supervision)} on the supervision list; "
        f"target {city['target_add']} to add by {due}: "
        f"{city['achieved_add']} achieved, {city['expected_add']} expected -> {args.out}"
    )
    for note in report.notes:
        print(f"  note: {note}")
    return 0


def _add_taskforce(sub) -> None:
    p = sub.add_parser(
        "taskforce",
        help="the task force's tracker: funnel.csv, supervision_list.csv, district_targets.csv and charts",
        description="Stage of every planned site as of a date (from its stage dates), the funnel by stage and "
        "district with the change in a month, the supervision list of sites stuck past the thresholds of "
        "[taskforce] stuck_days in city.toml, stage durations, expected on-air months, and each district's "
        "share of the year's target.",
    )
    p.add_argument("--stations", required=True, type=Path, metavar="PARQUET", help="cleaned stations.parquet")
    p.add_argument("--city", required=True, help="city key (a folder under data/raw/) or a city.toml path")
    p.add_argument("--as-of", required=True, type=_date_arg, metavar="YYYY-MM-DD", help="report date")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--extract-date",
        default=None,
        type=_date_arg,
        metavar="YYYY-MM-DD",
        help="date of the records (default: as_of of clean_summary.json beside PARQUET, else the latest stage date)",
    )
    p.add_argument(
        "--horizon", type=_months_arg, default=12, metavar="N", help="months of the bottom-up forecast (default 12)"
    )
    p.add_argument("--lang", choices=["en", "zh"], default="zh", help="chart labels (default zh)")
    p.add_argument("--no-charts", action="store_true", help="skip funnel.png, blockers.png, days_stuck.png")
    p.add_argument(
        "--source", default=None, help="source line for the charts (default: the files the pipeline sites came from)"
    )
    p.set_defaults(func=_cmd_taskforce)


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report.runner import run_report

    built = run_report(
        args.city,
        as_of=args.as_of,
        out=args.out,
        months=args.months,
        lang=args.lang,
        basemap=args.basemap,
        extract_date=args.extract_date,
        stations=args.stations,
        processed=args.processed,
        kernel=args.kernel,
        timeout=args.timeout,
    )
    for folder in built:
        print(folder / "index.html")
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="run the notebooks with papermill into reports/<city>/<as_of>/ and render them to HTML",
        description="Check the parameters, clean the inputs (reused when their content has not changed), "
        "execute notebooks/01..05 with papermill, render each to HTML without code, and write index.html "
        "with the headline numbers. A failing notebook exits 1 naming the notebook and cell; its executed "
        "copy is kept in <as_of>.failed/ and the last good report is left as it was.",
    )
    p.add_argument("--city", required=True, help="city key (a folder under data/raw/)")
    p.add_argument(
        "--as-of",
        default=None,
        type=_date_arg,
        metavar="YYYY-MM-DD",
        help="report date (default: the last date in the data, the records' extract date)",
    )
    p.add_argument(
        "--months",
        default=None,
        metavar="YYYY-MM:YYYY-MM|N",
        help="backfill one report per month, each as of its month end, and index them; or N: the N monthly "
        "reports ending on --as-of (default the extract date)",
    )
    p.add_argument("--out", type=Path, default=Path("reports"), help="reports folder (default reports/)")
    p.add_argument(
        "--lang", choices=["zh", "en"], default=None, help="language of the pages (default zh for a Chinese city)"
    )
    p.add_argument(
        "--basemap",
        choices=["osm", "amap", "none"],
        default=None,
        help="basemap of the coverage map (default: city.toml [basemap] default)",
    )
    p.add_argument(
        "--extract-date",
        default=None,
        type=_date_arg,
        metavar="YYYY-MM-DD",
        help="date the station records were extracted; they are cleaned as of it "
        "(default: the latest on-air or stage date in them)",
    )
    p.add_argument(
        "--stations",
        type=Path,
        default=None,
        metavar="PATH",
        help="raw station files or folder (default: the city's stations/ folder)",
    )
    p.add_argument(
        "--processed",
        type=Path,
        default=None,
        metavar="DIR",
        help="where cleaned data are cached (default data/processed)",
    )
    p.add_argument("--kernel", default="python3", help="Jupyter kernel to run the notebooks (default python3)")
    p.add_argument(
        "--timeout", type=int, default=600, metavar="S", help="longest a cell may run, seconds (default 600)"
    )
    p.set_defaults(func=_cmd_report)


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are a UsageError: one line and exit status 2, like every other
    mistake (argparse alone prints the usage block first and exits by itself)."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m analysis",
        description="5G Buildout Monitor: clean station records, forecast the buildout, map coverage, "
        "track planned sites, publish the monthly report.",
        epilog="Exit status: 0 ok, 1 bad data (the message names file, row and problem), 2 bad usage.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress on stderr (default: a bar on a terminal, one line per step otherwise; "
        "or set FIVEG_PROGRESS=bar|lines|off)",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add in (_add_boundaries, _add_synth, _add_clean, _add_forecast, _add_coverage, _add_taskforce, _add_report):
        add(sub)
    return parser


def main(argv: list[str] | None = None, owns_process: bool = False) -> int:
    """The command line. `owns_process`: the process runs this one command and exits (`python -m
    analysis`), so process-wide settings are the command's to make (`keep_freed_memory`)."""
    try:
        args = build_parser().parse_args(argv)
        args.owns_process = owns_process
        from analysis import progress

        with progress.forced("off" if args.quiet else None), _terminate_as_interrupt():
            return int(args.func(args) or 0)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # a disk full, a read-only or forbidden folder or file: the machine's problem, said in one line (the
        # writes are atomic, so nothing half-written is left looking finished); any other OSError is a bug
        if exc.errno not in _REFUSED_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        # (a writer in a library may not say which file: then what the user can do)
        hint = "" if exc.filename else " (while writing the outputs: free space or give another output folder)"
        print(f"error: {where}{exc.strerror or exc}{hint}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (what `timeout`, cron and systemd send) handled as Ctrl-C while a command runs: the runs' own
    clean-up then removes their half-built folders (a report stopped so left a hidden building folder for
    good). Only in the main thread, where Python can take a signal; the handler before is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


#: The operating system's refusals to read or write that a user fixes outside the package.
_REFUSED_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG})
