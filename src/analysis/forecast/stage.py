"""The forecast stage entry: forecast the cleaned stations and write the stage's files once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.files import write_csv
from analysis.forecast.city import EMPTY_DISTRICTS_FILE, MAX_NAMED_EMPTY_DISTRICTS, forecast_stations
from analysis.forecast.models import DEFAULT_PATHS, DEFAULT_SEED, json_records
from analysis.forecast.output import save_fan_chart, write_forecast
from analysis.forecast.pipeline import rank_levers, write_levers
from analysis.forecast.plots import plot_districts

# --------------------------------------------------------------------------------------------
# Stage entry
# --------------------------------------------------------------------------------------------


def forecast_stage(
    stations: pd.DataFrame,
    city,
    as_of: pd.Timestamp,
    out: str | Path,
    fig_lang: str | None = "en",
    stamp: dict | None = None,
    horizon: int | None = None,
    district: str | None = None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    extract_date=None,
) -> list[Path]:
    """The forecast stage, as the command line, the notebooks and the report run it: forecast the
    cleaned `stations` of a resolved `city` as of a parsed `as_of`, and write forecast.csv, model.json
    (targets with their expected count and verdict, backtest, notes, district table), levers.csv (what
    freeing each blocker's sites is worth, `rank_levers`, with the records' `extract_date` as the task
    force counts it), empty_districts.csv when more districts have no station than the note names, and,
    with `fig_lang`, forecast.png and districts.png into `out`, each file atomically and a stage.json
    (with `stamp`) last. One progress step each for the stations read, the city's fit and backtest, the
    districts, the levers, the charts and the files. Returns the files written."""
    from analysis.catalog import publish_stage, stamp_date
    from analysis.progress import task

    with task("forecast", 6) as progress:
        progress.advance(note=f"{len(stations):,} stations read")
        cf = forecast_stations(
            stations,
            as_of,
            city=city,
            horizon=horizon,
            district=district,
            n_paths=n_paths,
            seed=seed,
            on_step=lambda note: progress.advance(note=note),
        )
        extra = {"notes": list(cf.notes)}
        # the district split is the forecast's alone (forecast_stations); the levers are ranked on its paths
        levers = rank_levers(cf, stations, city, extract_date=extract_date, seed=seed)
        progress.advance(note=f"levers ranked ({len(levers):,} blocker{'' if len(levers) == 1 else 's'})")
        if len(cf.district_table):
            extra["districts"] = json_records(cf.district_table)

        def write(tmp: Path) -> None:
            write_forecast(cf.city, tmp, horizon=horizon, lang=fig_lang or "en", figure=False, extra=extra)
            write_levers(levers, tmp)
            empty = cf.empty_districts
            if len(empty) > MAX_NAMED_EMPTY_DISTRICTS:  # the note counts them: the list is here
                write_csv(pd.DataFrame({"district": empty}), tmp / EMPTY_DISTRICTS_FILE)
            if fig_lang is not None:
                save_charts(cf, city, tmp, fig_lang)
            progress.advance(note="charts drawn" if fig_lang is not None else "no charts")

        written = publish_stage(
            "forecast",
            out,
            write,
            {**(stamp or {}), "as_of": stamp_date(as_of), "fig_lang": fig_lang, "model": cf.city.model},
        )
        progress.advance(note=f"{len(written) - 1} files written to {out}")
    return written


def save_charts(cf, city, out: Path, lang: str) -> list[Path]:
    """forecast.png (the city's fan chart) and, with districts, districts.png into `out`."""
    import matplotlib.pyplot as plt

    paths = [save_fan_chart(cf.city, out, lang)]
    if cf.districts:
        fig = plot_districts(cf, lang=lang, labels=district_titles(city, lang), kind=getattr(city, "kind", "city"))
        fig.savefig(out / "districts.png", dpi=120, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        paths.append(out / "districts.png")
    return paths


def district_titles(city, lang: str) -> dict[str, str]:
    """Each district's title in a figure of `lang`: English pages name it in English with the Chinese
    in brackets ("Karamay District (克拉玛依区)"), as their tables do; Chinese pages by its Chinese name."""
    if city is None or lang == "zh":
        return {}
    from analysis.config import resolve_city

    return {d.name_zh: f"{d.name_en} ({d.name_zh})" for d in resolve_city(city).districts if d.name_en}
