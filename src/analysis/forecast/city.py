"""The forecast of a city's clean stations: the city's forecast with its pipeline, one district split
of each target, and the districts' forecasts reconciled top-down to the city's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import BadInputError
from analysis.forecast.models import (
    DEFAULT_PATHS,
    DEFAULT_SEED,
    MAX_ORIGINS,
    MIN_TRAIN,
    Forecast,
    _fit_candidate,
    _monotone_paths,
    _month_steps,
    _months_between,
    _normalize_targets,
    _pace,
    fit_forecast,
)
from analysis.forecast.pipeline import _add_pipeline, has_pipeline_columns
from analysis.forecast.plots import plot_districts, plot_fan
from analysis.forecast.series import _month_end, _summarize, count_on_air, count_on_air_by_district, monthly_on_air
from analysis.season import read_declared_season

# --------------------------------------------------------------------------------------------
# City and districts
# --------------------------------------------------------------------------------------------


@dataclass
class CityForecast:
    """The city's forecast, its districts' reconciled forecasts, and the monthly series behind them."""

    city: Forecast
    districts: dict[str, Forecast]
    series: pd.DataFrame  # month ends x (city + one column per district)
    district_table: pd.DataFrame  # per district and target: share, count, forecast, probability
    notes: list[str]

    @property
    def table(self) -> pd.DataFrame:
        return self.city.table

    @property
    def backtest(self) -> pd.DataFrame:
        return self.city.backtest

    @property
    def targets(self) -> pd.DataFrame:
        return self.city.targets

    def plot(self, lang: str = "en", ax=None, title: str | None = None):
        return plot_fan(self.city, lang=lang, ax=ax, title=title)

    def plot_districts(self, lang: str = "en"):
        return plot_districts(self, lang=lang)


def forecast_stations(
    stations: pd.DataFrame,
    as_of,
    city=None,
    horizon: int | None = None,
    district: str | None = None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    model: str | None = None,
    max_origins: int = MAX_ORIGINS,
    pipeline: bool = True,
) -> CityForecast:
    """From clean stations and a report date: the city's forecast and its districts'.

    Only stations on air by `as_of` count. `city` (a key, a folder, or a config.City; default
    none) gives the targets, the district order and their target shares; `district` forecasts
    one district alone (its targets are its share of the city's). Districts use the city's
    chosen model refitted on their own series (too short to choose alone), then are reconciled
    top-down: at each month the district means are scaled by one factor so that they add up to
    the city's mean, and the district paths by the same factor. A district's share of a target
    is `target_share` from city.toml, else its share of the stations on air on `as_of`.
    """
    from analysis.config import resolve_city

    as_of = pd.Timestamp(as_of).normalize()
    cfg = None if city is None else resolve_city(city)
    targets = list(cfg.goals()) if cfg is not None else []
    names = list(cfg.district_names) if cfg is not None else None
    start = pd.Timestamp(cfg.buildout_start) if cfg is not None else None
    if start is not None:
        first = pd.to_datetime(stations["on_air_date"]).min()
        if pd.notna(first) and first < start:
            start = first
    notes: list[str] = []
    all_stations = stations
    stations = stations if district is None else stations.loc[stations["district"] == district]
    if district is not None and stations.empty:
        raise BadInputError(f"no station in district {district!r}")
    city_series = monthly_on_air(stations, as_of, start=start)
    by_d = monthly_on_air(stations, as_of, by_district=True, start=start, districts=names)
    if names is not None:
        other = set(stations["district"].dropna()) - set(names)
        if other:
            notes.append(f"stations in districts not in city.toml counted in the city only: {sorted(other)}")
    count_now = count_on_air(stations, as_of)
    last_goal = max([_month_end(t.date) for t in targets], default=city_series.index[-1])
    horizon = horizon or max(12, _month_steps(city_series.index[-1], last_goal))
    split = split_targets(
        stations if district is None else all_stations, as_of, cfg, targets, names or list(by_d.columns)
    )
    if district is not None:
        targets = [
            (
                t.date,
                split[(pd.Timestamp(t.date), district)][0],
                f"{district}: {split[(pd.Timestamp(t.date), district)][1]:.0%} of {t.on_air}",
            )
            for t in targets
        ]
        notes.append(
            f"{district}: targets are the district's split of the city's "
            f"({split[(pd.Timestamp(targets[0][0]), district)][2] if targets else 'no target'})"
        )
    name = (cfg.name_en if cfg is not None else "city") if district is None else district
    season_prior = read_declared_season(cfg.raw, cfg.folder / "city.toml") if cfg is not None else None
    city_fc = fit_forecast(
        city_series,
        horizon=horizon,
        targets=targets,
        as_of=as_of,
        count_as_of=count_now,
        n_paths=n_paths,
        seed=seed,
        model=model,
        max_origins=max_origins,
        name=name,
        source=f"clean stations on air by {as_of.date()}",
        season_prior=season_prior,
    )
    if pipeline and district is None and has_pipeline_columns(stations):
        _add_pipeline(city_fc, stations, as_of, n_paths, seed, horizon, _normalize_targets(targets))
    city_fc.name_zh = (cfg.name_zh if cfg is not None else "") if district is None else district
    city_fc.source_zh = f"截至 {as_of.date()} 已开通的站址（清洗后的运营商及铁塔公司记录）"
    districts: dict[str, Forecast] = {}
    if district is None:
        on_air_now = count_on_air_by_district(stations, as_of)
        for i, d in enumerate(by_d.columns):
            s = by_d[d]
            if s.iloc[-1] == 0:
                notes.append(f"{d}: no station on air by {as_of.date()}; forecast as zero")
            districts[d] = _district_forecast(s, city_fc, int(on_air_now.get(d, 0)), n_paths, seed + 1 + i, d)
        _reconcile(city_fc, districts)
    table = _district_table(city_fc, districts, targets, split) if districts else pd.DataFrame()
    series = pd.concat([city_series.rename("city"), by_d], axis=1)
    return CityForecast(
        city=city_fc, districts=districts, series=series, district_table=table, notes=city_fc.notes + notes
    )


def split_targets(stations: pd.DataFrame, as_of, cfg, targets, names) -> dict:
    """The district split of each target: {(target date, district): (district target, share, basis)}.

    With the task force's columns (stage dates) and a city, the one split of `taskforce.district_targets`
    (the same numbers as district_targets.csv); otherwise `target_share` from city.toml, else the
    share of stations on air on `as_of`, of the whole target.
    """
    out = {}
    if cfg is not None and has_pipeline_columns(stations):
        from analysis.taskforce import district_targets

        for r in district_targets(stations, as_of, cfg).itertuples():
            out[(pd.Timestamp(r.target_date), r.district)] = (int(r.district_target), float(r.share), r.share_basis)
    given = {d.name_zh: d.target_share for d in cfg.districts} if cfg is not None else {}
    by_district = count_on_air_by_district(stations, as_of) if len(stations) else pd.Series(dtype=int)
    counts = {n: int(by_district.get(n, 0)) for n in names}
    total = sum(counts.values())
    if given and all(given.get(n) is not None for n in names):
        tot = sum(given[n] for n in names)
        shares, basis = {n: given[n] / tot for n in names}, "city.toml target_share"
    else:
        shares = {n: (counts[n] / total if total else 1 / len(names)) for n in names}
        basis = f"no target_share in city.toml: share of stations on air on {pd.Timestamp(as_of).date()}"
    for t in _normalize_targets(targets):
        for n in names:
            out.setdefault((t.date, n), (int(round(t.on_air * shares[n])), shares[n], basis))
    return out


def _district_forecast(series, city_fc, count_now, n_paths, seed, name) -> Forecast:
    if series.iloc[-1] == 0 or series.diff().dropna().abs().sum() == 0:
        steps = city_fc.paths.shape[1]
        paths = np.full((n_paths, steps), float(series.iloc[-1]))
        return Forecast(
            history=series,
            model="none",
            params={},
            table=_summarize(paths, city_fc.path_index),
            backtest=pd.DataFrame(),
            notes=["no additions yet"],
            paths=paths,
            path_index=city_fc.path_index,
            as_of=city_fc.as_of,
            count_as_of=count_now,
            name=name,
        )
    model = city_fc.model if city_fc.model in ("naive", "drift") or len(series) >= MIN_TRAIN else "drift"
    try:
        fit = _fit_candidate(model, series)
        adds = fit.simulate(city_fc.paths.shape[1], n_paths, np.random.default_rng(seed))
        if not np.all(np.isfinite(adds)):
            raise ValueError
    except Exception:
        model = "drift"
        fit = _fit_candidate(model, series)
        adds = fit.simulate(city_fc.paths.shape[1], n_paths, np.random.default_rng(seed))
    paths = _monotone_paths(adds, float(series.iloc[-1]), float(count_now))
    return Forecast(
        history=series,
        model=model,
        params=fit.params,
        table=pd.DataFrame(),
        backtest=pd.DataFrame(),
        notes=[],
        paths=paths,
        path_index=city_fc.path_index,
        as_of=city_fc.as_of,
        count_as_of=float(count_now),
        name=name,
    )


def _reconcile(city_fc: Forecast, districts: dict[str, Forecast]) -> None:
    """Top-down by forecast proportions: district means add up to the city mean at every month."""
    total = sum(f.paths.mean(axis=0) for f in districts.values())
    city_mean = city_fc.paths.mean(axis=0)
    factor = np.where(total > 0, city_mean / np.where(total > 0, total, 1), 1.0)
    horizon = len(city_fc.table)
    for f in districts.values():
        f.reconciled_mean = f.paths.mean(axis=0) * factor
        f.paths = np.maximum.accumulate(f.paths * factor, axis=1)
        t = _summarize(f.paths[:, :horizon], city_fc.path_index[:horizon])
        t["mean"] = f.reconciled_mean[:horizon]
        f.table = t


def _district_table(city_fc, districts, targets, split) -> pd.DataFrame:
    rows = []
    for t in _normalize_targets(targets):
        me = _month_end(t.date)
        k = city_fc.path_index.get_indexer([me])[0]
        for d, f in districts.items():
            target_d, share, basis = split[(t.date, d)]
            v = f.paths[:, k] if k >= 0 else np.full(f.paths.shape[0], float(f.history.iloc[-1]))
            mean = float(f.reconciled_mean[k]) if k >= 0 else float(v.mean())
            need_months = _months_between(city_fc.as_of, t.date)
            rows.append(
                {
                    "district": d,
                    "target_date": t.date,
                    "city_target": t.on_air,
                    "share_pct": 100 * share,
                    "share_source": basis,
                    "district_target": target_d,
                    "on_air_as_of": f.count_as_of,
                    "mean": mean,
                    "lo80": float(np.quantile(v, 0.10)),
                    "hi80": float(np.quantile(v, 0.90)),
                    "prob_reach": float((v >= target_d - 1e-9).mean()),
                    "pace_needed_per_month": max((target_d - f.count_as_of) / need_months, 0.0)
                    if need_months > 0
                    else np.nan,
                    "pace_last_3m": _pace(f.history, 3),
                    "pace_last_6m": _pace(f.history, 6),
                    "model": f.model,
                }
            )
    return pd.DataFrame(rows)
