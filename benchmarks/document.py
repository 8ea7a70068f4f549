"""BENCHMARKS.md from benchmarks/results.json: the table, the goals, the machine and a log-log plot."""

from __future__ import annotations

from pathlib import Path

LABELS = {
    "clean": ("cleaning, operator CSV", "clean_stations", "pandas.read_csv (the floor)"),
    "clean_opencellid": ("cleaning, OpenCelliD CSV", "clean_stations", "pandas.read_csv (the floor)"),
    "clean_partitioned": (
        "cleaning OpenCelliD in partitions (Dask, 2 workers)",
        "analysis.clean.partitioned.clean_partitioned",
        "-",
    ),
    "assign": ("district assignment (China's counties)", "geo.assign_district", "geopandas.sjoin within"),
    "coverage": ("coverage area (50 m grid)", "coverage.covered_area_km2", "geopandas buffer + union_all per UTM zone"),
    "forecast": (
        "forecast of every county's series",
        "forecast.forecast_stations",
        "one damped-ETS backtest + fit per series",
    ),
    "map": ("coverage map", "maps.coverage_map + map_html", "folium, one clustered marker per station"),
    "report": ("whole city report (Karamay)", "python -m analysis report", "papermill + nbconvert per notebook"),
    "cmd_clean": (
        "command: clean, operator CSV",
        "python -m analysis clean",
        "python -c 'pandas.read_csv(file)' (the floor)",
    ),
    "cmd_coverage": (
        "command: coverage (Karamay's extent, 400 m, no map)",
        "python -m analysis coverage --no-map",
        "python -m benchmarks.naive_coverage (buffer + union_all + per-district area)",
    ),
    "cmd_taskforce": (
        "command: taskforce (national stations)",
        "python -m analysis taskforce",
        "python -m benchmarks.naive_taskforce (pandas stage crosstab)",
    ),
    "cmd_taskforce_no_charts": (
        "command: taskforce --no-charts (national stations)",
        "python -m analysis taskforce --no-charts",
        "python -m benchmarks.naive_taskforce (pandas stage crosstab)",
    ),
    "cmd_report": (
        "command: report (5 notebooks; a city of N stations, Karamay at scale 0)",
        "python -m analysis report",
        "python -m benchmarks.naive_report (papermill + nbconvert per notebook)",
    ),
}
#: Stages whose baseline is a floor (a bare read), not a competitor: the ratio is package / floor.
FLOOR_STAGES = ("clean", "clean_opencellid", "cmd_clean")


def _fmt_s(r: dict | None) -> str:
    if r is None:
        return "-"
    if "skipped" in r:
        return "not run"
    if "error" in r:
        return "error"
    s = r["seconds"]
    return f"{s:.3f}" if s < 1 else f"{s:.2f}" if s < 100 else f"{s:,.0f}"


def _mb(r: dict | None) -> str:
    if not r or "peak_mb" not in r or "skipped" in r or "error" in r:
        return "-"
    # a command row's peak is the command's own process, not the harness that launched it
    return f"{r.get('command_peak_mb', r['peak_mb']):,.0f}"


def _pages_mb(r: dict) -> tuple[float, float] | None:
    """Total and largest MB of a report's HTML pages (not the stage files under processed/)."""
    pages = r.get("pages_mb", r.get("html_mb"))  # html_mb: a map row's one page, or the first report rows'
    if not isinstance(pages, dict):
        return None
    sizes = [mb for name, mb in pages.items() if not name.startswith("processed/")]
    return (sum(sizes), max(sizes)) if sizes else None


def _extra(stage: str, pkg: dict | None, base: dict | None) -> str:
    parts = []
    for r, who in ((pkg, ""), (base, "baseline ")):
        if not r:
            continue
        if "skipped" in r:
            parts.append(f"{who}{r['skipped']}")
        elif "error" in r:
            parts.append(f"{who}error: {r['error'][:120]}")
    if pkg and "area_km2" in pkg and base and "area_km2" in base:
        parts.append(
            f"area {pkg['area_km2']:,.0f} vs {base['area_km2']:,.0f} km² "
            f"({100 * (pkg['area_km2'] / base['area_km2'] - 1):+.2f} %)"
        )
    elif pkg and "area_km2" in pkg:
        parts.append(f"area {pkg['area_km2']:,.0f} km²")
    if pkg and isinstance(pkg.get("html_mb"), (int, float)):
        parts.append(f"HTML {pkg['html_mb']} MB, Chromium render {pkg.get('render_seconds')} s")
    if base and isinstance(base.get("html_mb"), (int, float)):
        parts.append(f"baseline HTML {base['html_mb']} MB, render {base.get('render_seconds')} s")
    if pkg and stage.startswith("clean") and "rows" in pkg and pkg.get("rows"):
        parts.append(f"{pkg['rows']:,} rows → {pkg.get('stations', 0):,} stations")
    if pkg and "partitions" in pkg:
        parts.append(f"{pkg['partitions']} partition{'s' if pkg['partitions'] != 1 else ''} of ≤ 500,000 rows")
        if isinstance(pkg.get("self_peak_mb"), (int, float)):  # (the rest of the peak is the two workers')
            parts.append(f"main process peak {pkg['self_peak_mb']:,.0f} MB")
    if pkg and stage == "forecast" and "series" in pkg:
        parts.append(f"{pkg['series']:,} series, model {pkg.get('model')}")
    if base and base.get("note"):
        parts.append(f"baseline extrapolated: {base['note']}")
    if pkg and "command_cpu_seconds" in pkg:
        cpu, text = pkg["command_cpu_seconds"], f"CPU {pkg['command_cpu_seconds']} s"
        if base and "command_cpu_seconds" in base:
            text += f" vs {base['command_cpu_seconds']} s"
            if stage not in FLOOR_STAGES and cpu > 0:  # a floor's ratio is read the other way
                text += f" ({base['command_cpu_seconds'] / cpu:.1f}×)"
        parts.append(text)
    if pkg and _pages_mb(pkg):  # what a reader opens: the report's pages
        text = "pages {:.1f} MB, largest {:.2f} MB".format(*_pages_mb(pkg))
        if base and _pages_mb(base):
            text += " (baseline {:.1f} MB, largest {:.2f} MB)".format(*_pages_mb(base))
        parts.append(text)
    if pkg and pkg.get("gaps") is not None:
        parts.append(f"{pkg['gaps']} gaps")
    if pkg and pkg.get("repeats"):  # median_run keeps the lower middle: of two runs, the faster
        who = "the faster of 2 runs" if pkg["repeats"] == 2 else f"medians of {pkg['repeats']} runs"
        parts.append(f"{who}, alternating")
    if pkg and pkg.get("load_before") is not None:
        parts.append(f"load {pkg['load_before']}" + (" (mean)" if pkg.get("repeats") else ""))
    return "; ".join(parts)


def write_document(results: dict, path: Path, plot_path: Path) -> None:
    runs = results.get("runs", {})
    rows = []
    for stage, (label, _pkg_name, _base_name) in LABELS.items():
        scales = sorted({r["scale"] for r in runs.values() if r["stage"] == stage})
        for n in scales:
            pkg, base = runs.get(f"{stage}|package|{n}"), runs.get(f"{stage}|baseline|{n}")
            ratio = "-"
            if pkg and base and "seconds" in pkg and "seconds" in base and pkg["seconds"] > 0:
                speedup = base["seconds"] / pkg["seconds"]
                ratio = (
                    f"{pkg['seconds'] / base['seconds']:.0f}× the floor"
                    if stage in FLOOR_STAGES
                    else f"{speedup:.2f}×"
                    if speedup >= 0.1
                    else f"1/{1 / speedup:,.0f} (slower)"
                )
            rows.append(
                f"| {label} | {'Karamay' if n == 0 else f'{n:,}'} | {_fmt_s(pkg)} | {_mb(pkg)} | "
                f"{_fmt_s(base)} | {_mb(base)} | {ratio} | {_extra(stage, pkg, base)} |"
            )
    _plot(runs, plot_path)
    m = results.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    template = (Path(__file__).parent / "BENCHMARKS.template.md").read_text(encoding="utf-8")
    text = template.format(
        table="\n".join(rows),
        cpu=m.get("cpu", "?"),
        cores=m.get("cores", "?"),
        memory=m.get("memory_gb", "?"),
        python=m.get("python", "?"),
        os=m.get("os", "?"),
        versions=versions,
        chromium=m.get("chromium", "?"),
        runs_log="\n".join(
            f"- `{r['command']}`: {r['seconds']:,.0f} s ({r['date']})" for r in results.get("run_log", [])
        ),
        plot=plot_path.relative_to(path.parent).as_posix(),
        goals=(Path(__file__).parent / "GOALS.md").read_text(encoding="utf-8").strip()
        if (Path(__file__).parent / "GOALS.md").is_file()
        else "(not assessed yet)",
    )
    path.write_text(text, encoding="utf-8")


def _plot(runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, stage in enumerate(s for s in LABELS if s != "report"):
        for variant, style in (("package", "-o"), ("baseline", "--x")):
            pts = sorted(
                (r["scale"], r["seconds"])
                for r in runs.values()
                if r["stage"] == stage and r["variant"] == variant and r["scale"] > 0 and "seconds" in r
            )
            if pts:
                ax.plot(
                    *zip(*pts),
                    style,
                    color=colours[i % len(colours)],
                    label=f"{LABELS[stage][0]} ({'package' if variant == 'package' else 'baseline'})",
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stations")
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("Time against stations: package (solid) and naive baseline (dashed)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
