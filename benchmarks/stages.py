"""One benchmark measurement per process: `python -m benchmarks.stages STAGE VARIANT SCALE WORK`.

Each measurement runs in a fresh interpreter so that its peak memory is its own. The process loads
its inputs (untimed), times the work, and prints one JSON line with the seconds and what it found;
the parent (`benchmarks.__main__`) samples the process tree's memory while it runs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import fixtures
from benchmarks.chromium import CHROMIUM_OFFLINE

AS_OF = "2025-01-01"
#: Coverage radius per band at national scale: the link budget's urban (UMa) outdoor radius.
COVERAGE_AREA_TYPE = "urban"
#: Naive baselines that grow too slowly are run up to these scales only (or on a sample).
COVERAGE_BASELINE_MAX = 100_000
MAP_BASELINE_MAX = 100_000
FORECAST_BASELINE_SAMPLE = 40
CHROMIUM_FLAGS = [*CHROMIUM_OFFLINE, "--hide-scrollbars", "--window-size=1280,900"]


def _paths(work: Path, n: int) -> dict[str, Path]:
    return {"data": work / "data", "city": work / "china", "stations": work / "stations" / f"stations_{n}.parquet"}


def _clean_stations_file(work: Path, n: int) -> Path:
    """Cleaned national stations of scale n (cleaned once, untimed, when a later stage needs them)."""
    p = _paths(work, n)
    if not p["stations"].is_file():
        from analysis.clean.stations import clean_stations, write_stations

        r = clean_stations(fixtures.station_file(p["data"], n), fixtures.china_city(p["city"]), as_of=AS_OF)
        write_stations(r.stations, p["stations"])
    return p["stations"]


_CPU = {"seconds": 0.0}


def _timed(fn):
    """Wall seconds of fn (what the table shows); its CPU seconds go to the result as well: on a
    shared machine they vary far less than the wall clock."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    _CPU["seconds"] += time.process_time() - c0
    return time.perf_counter() - t0, out


# --- cleaning -------------------------------------------------------------------------------------
def clean(variant: str, n: int, work: Path, fmt: str = "operator") -> dict:
    p = _paths(work, n)
    path = fixtures.station_file(p["data"], n, fmt)
    info = {"rows": None, "file_mb": round(path.stat().st_size / 1e6, 1)}
    if variant == "baseline":  # the floor: a bare read of the same file
        secs, df = _timed(lambda: pd.read_csv(path))
        info["rows"] = len(df)
        return {"seconds": secs, **info}
    from analysis.clean.stations import clean_stations, write_stations
    from analysis.config import load_city

    city = load_city(fixtures.china_city(p["city"]))
    secs, r = _timed(lambda: clean_stations(path, city, as_of=AS_OF))
    s = r.summary
    info.update(rows=s["rows_in"], stations=s["stations"], merged=s["rows_merged"], quarantined=s["rows_quarantined"])
    if fmt == "operator" and not p["stations"].is_file():
        p["stations"].parent.mkdir(parents=True, exist_ok=True)
        write_stations(r.stations, p["stations"])
    return {"seconds": secs, **info}


def clean_opencellid(variant: str, n: int, work: Path) -> dict:
    return clean(variant, n, work, fmt="opencellid")


def clean_partitioned(variant: str, n: int, work: Path) -> dict:
    """The OpenCelliD file cleaned in partitions on a local Dask cluster (2 workers)."""
    from analysis.clean.partitioned import clean_partitioned as run

    p = _paths(work, n)
    path = fixtures.station_file(p["data"], n, "opencellid")
    out = work / "partitioned" / str(n)
    shutil.rmtree(out, ignore_errors=True)
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit="6GiB", processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        secs, summary = _timed(lambda: run(path, fixtures.china_city(p["city"]), out, as_of=AS_OF, client=client))
    return {
        "seconds": secs,
        "rows": summary["rows_in"],
        "stations": summary["stations"],
        "partitions": summary["partitions"],
        "file_mb": round(path.stat().st_size / 1e6, 1),
    }


# --- district assignment --------------------------------------------------------------------------
def assign(variant: str, n: int, work: Path) -> dict:
    import geopandas as gpd

    from analysis import geo
    from analysis.config import load_city

    p = _paths(work, n)
    raw = pd.read_csv(fixtures.station_file(p["data"], n), usecols=["经度", "纬度"])
    lon = pd.to_numeric(raw["经度"], errors="coerce").to_numpy()
    lat = pd.to_numeric(raw["纬度"], errors="coerce").to_numpy()
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    districts = geo.read_districts(load_city(fixtures.china_city(p["city"])))
    if variant == "baseline":

        def naive():
            pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
            return gpd.sjoin(pts, districts[["name_zh", "geometry"]], how="left", predicate="within")

        secs, j = _timed(naive)
        j = j[~j.index.duplicated()]  # a point on a shared border joins twice
        return {"seconds": secs, "points": int(ok.sum()), "assigned": int(j["name_zh"].notna().sum())}
    secs, names = _timed(lambda: geo.assign_district(lon, lat, districts))
    return {
        "seconds": secs,
        "points": int(ok.sum()),
        "assigned": int(pd.notna(names).sum()),
        "districts": len(districts),
    }


# --- coverage -------------------------------------------------------------------------------------
def _coverage_inputs(work: Path, n: int):
    from analysis.coverage import footprint_radius_m

    st = pd.read_parquet(_clean_stations_file(work, n), columns=["lon", "lat", "band"])
    radius = st["band"].map({b: footprint_radius_m(b, COVERAGE_AREA_TYPE) for b in st["band"].unique()})
    return st["lon"].to_numpy(), st["lat"].to_numpy(), radius.to_numpy(dtype=float)


def coverage(variant: str, n: int, work: Path) -> dict:
    import geopandas as gpd

    from analysis.coverage import covered_area_km2

    lon, lat, r = _coverage_inputs(work, n)
    if variant == "baseline":
        if n > COVERAGE_BASELINE_MAX:
            return {"skipped": f"naive vector union not run above {COVERAGE_BASELINE_MAX:,} stations"}

        def naive():  # what a user writes: buffer in each UTM zone, union, area
            zone = ((lon + 180) // 6).astype(int) + 1
            total = 0.0
            for z in np.unique(zone):
                sel = zone == z
                pts = gpd.GeoSeries(gpd.points_from_xy(lon[sel], lat[sel]), crs=4326).to_crs(32600 + int(z))
                total += pts.buffer(r[sel]).union_all().area / 1e6
            return total

        secs, area = _timed(naive)
        return {"seconds": secs, "area_km2": round(area, 1), "stations": len(lon)}
    secs, area = _timed(lambda: covered_area_km2(lon, lat, r))
    return {"seconds": secs, "area_km2": round(area, 1), "stations": len(lon), "cell_m": 50}


# --- forecasting ----------------------------------------------------------------------------------
def _naive_forecast_one(series: pd.Series, horizon: int = 12) -> np.ndarray:
    """What an analyst writes for one series: rolling-origin backtest of damped ETS against the
    naive forecast, keep the better, refit, forecast."""
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = series.to_numpy(dtype=float) + 1.0
    errs = {"ets": [], "naive": []}
    for origin in range(max(12, len(y) - 12), len(y) - 3, 3):
        train, test = y[:origin], y[origin : origin + 3]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(train, trend="add", damped_trend=True).fit()
        errs["ets"].append(np.abs(fit.forecast(len(test)) - test).mean())
        errs["naive"].append(np.abs(train[-1] - test).mean())
    if np.mean(errs["ets"] or [np.inf]) < np.mean(errs["naive"] or [np.inf]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ExponentialSmoothing(y, trend="add", damped_trend=True).fit().forecast(horizon) - 1.0
    return np.full(horizon, y[-1] - 1.0)


def forecast(variant: str, n: int, work: Path) -> dict:
    from analysis.config import load_city
    from analysis.forecast import monthly_on_air

    p = _paths(work, n)
    city = load_city(fixtures.china_city(p["city"]))
    stations = pd.read_parquet(_clean_stations_file(work, n))
    if variant == "baseline":
        from threadpoolctl import threadpool_limits

        from analysis.forecast.series import monthly_on_air_by_district

        # untimed: every county's series from one pass (the same frame as monthly_on_air(by_district=True),
        # tested; its scan per county took 6 minutes at 4.25 M stations)
        index = monthly_on_air(stations, AS_OF, start=pd.Timestamp(city.buildout_start)).index
        by_d, _ = monthly_on_air_by_district(stations, index, AS_OF, list(city.district_names))

        active = [d for d in by_d.columns if by_d[d].iloc[-1] > 0]
        sample = active[:: max(1, len(active) // FORECAST_BASELINE_SAMPLE)][:FORECAST_BASELINE_SAMPLE]
        # one BLAS thread, as the package fits: a second OpenBLAS thread spinning between tiny calls made
        # these ETS fits 5-6x slower on a busy machine (so the comparison measures the method, not that)
        from analysis.forecast.models import limit_blas_of_statsmodels_too

        limit_blas_of_statsmodels_too()
        with threadpool_limits(limits=1, user_api="blas"):
            secs, _ = _timed(lambda: [_naive_forecast_one(by_d[d]) for d in sample])
        per = secs / max(len(sample), 1)
        return {
            "seconds": per * len(active),
            "measured_seconds": secs,
            "series": len(active),
            "sampled_series": len(sample),
            "note": f"{len(sample)} series timed, scaled to {len(active)}",
        }
    from analysis.forecast import forecast_stations

    secs, cf = _timed(lambda: forecast_stations(stations, AS_OF, city=city))
    return {"seconds": secs, "series": 1 + len(cf.districts), "model": cf.city.model}


# --- the city report ------------------------------------------------------------------------------
def report(variant: str, n: int, work: Path) -> dict:
    from analysis.config import NOTEBOOKS_DIR, PROJ_ROOT

    py = sys.executable
    out = work / "report" / variant
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    has_verb = subprocess.run([py, "-m", "analysis", "report", "--help"], capture_output=True).returncode == 0
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))
    if not has_verb or not notebooks:
        return {"skipped": "not yet: `python -m analysis report` or the notebooks do not exist"}
    as_of = "2021-03-22"
    if variant == "baseline":  # the 2021 way: papermill then nbconvert, once per notebook

        def naive():
            for nb in notebooks:
                executed = out / nb.name
                subprocess.run(
                    [
                        py,
                        "-m",
                        "papermill",
                        str(nb),
                        str(executed),
                        "-p",
                        "city",
                        "karamay",
                        "-p",
                        "as_of",
                        as_of,
                        "-p",
                        "processed",
                        str(out / "processed"),
                        "--cwd",
                        str(NOTEBOOKS_DIR),
                        "-k",
                        "python3",
                    ],
                    check=True,
                    capture_output=True,
                    cwd=PROJ_ROOT,
                )
                subprocess.run(
                    [py, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)],
                    check=True,
                    capture_output=True,
                    cwd=PROJ_ROOT,
                )

        try:
            secs, _ = _timed(naive)
        except subprocess.CalledProcessError as exc:
            return {"skipped": f"papermill/nbconvert failed: {exc.stderr.decode(errors='replace')[-300:]}"}
        return {"seconds": secs, "notebooks": len(notebooks)}
    cmd = [py, "-m", "analysis", "report", "--city", "karamay", "--as-of", as_of, "--out", str(out)]
    secs, proc = _timed(lambda: subprocess.run(cmd, capture_output=True, cwd=PROJ_ROOT))
    if proc.returncode != 0:
        return {"skipped": f"report failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}"}
    return {"seconds": secs, "notebooks": len(notebooks)}


# --- the map --------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def render_seconds(html: Path) -> float | None:
    """Seconds headless Chromium takes to load the page and screenshot it, minus the same for an
    empty page (the browser's own start-up), network off."""
    exe = _chromium()
    if exe is None:
        return None

    def run(page: Path) -> float:
        with tempfile.TemporaryDirectory() as profile:
            t0 = time.perf_counter()
            subprocess.run(
                [
                    exe,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    f"--screenshot={profile}/shot.png",
                    page.resolve().as_uri(),
                ],
                capture_output=True,
                timeout=600,
            )
            return time.perf_counter() - t0

    empty = html.parent / "empty.html"
    empty.write_text("<!doctype html><title>empty</title>", encoding="utf-8")
    return max(run(html) - min(run(empty), run(empty)), 0.0)


def _map_result(n: int, work: Path):
    """A CoverageResult: the bundled Karamay data for n == 0, else the national stations of scale n
    on China's counties (1 km grid: a 50 m grid of the whole country does not fit in memory)."""
    from analysis.config import load_city
    from analysis.coverage import CoverageSettings, assess_coverage

    if n == 0:
        from analysis.clean.stations import clean_stations
        from analysis.config import RAW_DIR

        city = load_city("karamay")
        st = clean_stations([RAW_DIR / "karamay" / "stations"], city, as_of="2022-01-10").stations
        return assess_coverage(pd.DataFrame(st.drop(columns="geometry")), city, as_of="2021-12-31")
    import geopandas as gpd

    from analysis import geo

    city = load_city(fixtures.china_city(_paths(work, n)["city"]))
    st = pd.read_parquet(_clean_stations_file(work, n))
    # no built-up areas or key sites nationally: every station is rural, no gaps or candidates
    urban = gpd.GeoDataFrame({"name_zh": [], "name_en": [], "district": []}, geometry=[], crs=4326)
    sites = gpd.GeoDataFrame({c: [] for c in geo.SITE_COLUMNS}, geometry=[], crs=4326)
    return assess_coverage(
        st, city, as_of=AS_OF, settings=CoverageSettings(cell_m=1000.0), urban_areas=urban, sites=sites
    )


def map_(variant: str, n: int, work: Path) -> dict:
    out = work / "maps"
    out.mkdir(parents=True, exist_ok=True)
    html = out / f"map_{variant}_{n}.html"
    if variant == "baseline":
        if n > MAP_BASELINE_MAX:
            return {"skipped": f"naive one-marker-per-station map not built above {MAP_BASELINE_MAX:,} stations"}
        import folium
        from folium.plugins import MarkerCluster

        result = _map_result(n, work)

        def naive():  # every station a clustered marker, districts as GeoJSON
            st = result.stations[result.stations["is_on_air_at_as_of"]]
            m = folium.Map(location=[float(st["lat"].mean()), float(st["lon"].mean())], zoom_start=5 if n else 9)
            folium.GeoJson(result.districts[["name_zh", "geometry"]].to_json()).add_to(m)
            cluster = MarkerCluster().add_to(m)
            for lon, lat, sid in zip(st["lon"], st["lat"], st["station_id"]):
                folium.Marker([lat, lon], popup=str(sid)).add_to(cluster)
            m.save(str(html))

        secs, _ = _timed(naive)
    else:
        from analysis.maps import coverage_map, map_html

        result = _map_result(n, work)
        secs, text = _timed(lambda: map_html(coverage_map(result)))
        html.write_text(text, encoding="utf-8")
    render = render_seconds(html)
    return {
        "seconds": secs,
        "html_mb": round(html.stat().st_size / 1e6, 2),
        "render_seconds": None if render is None else round(render, 2),
        "stations": int(len(result.stations)),
    }


from benchmarks import commands  # noqa: E402  (the command-level rows)

STAGES = {
    **commands.STAGES,
    "clean": clean,
    "clean_opencellid": clean_opencellid,
    "clean_partitioned": clean_partitioned,
    "assign": assign,
    "coverage": coverage,
    "forecast": forecast,
    "map": map_,
    "report": report,
}


def main(argv: list[str]) -> int:
    stage, variant, n, work = argv[0], argv[1], int(argv[2]), Path(argv[3])
    os.environ.setdefault("MPLBACKEND", "Agg")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = STAGES[stage](variant, n, work)
    out["cpu_seconds"] = round(_CPU["seconds"], 3)
    out["self_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["start_mb"] = round(rss0 / 1024, 1)
    print("RESULT " + json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
