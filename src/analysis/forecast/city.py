"""The forecast of a city's clean stations: the city's forecast with its pipeline, one district split
of each target, and the districts' forecasts reconciled top-down to the city's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import BadInputError
from analysis.forecast.batched import fit_ar1_batch
from analysis.forecast.models import (
    COMBINE_SEP,
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
    run_on_one_blas_thread,
)
from analysis.forecast.pipeline import _add_pipeline, has_pipeline_columns
from analysis.forecast.plots import is_empty_district, plot_districts, plot_fan
from analysis.forecast.series import (
    _month_end,
    _summarize,
    count_on_air,
    count_on_air_by_district,
    monthly_on_air,
    monthly_on_air_by_district,
)
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

    @property
    def empty_districts(self) -> list[str]:
        """The districts with no station on air on the report date and none forecast, in the city's order."""
        return [d for d, f in self.districts.items() if is_empty_district(f)]


@run_on_one_blas_thread
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
    on_step: Callable[[str], None] | None = None,
) -> CityForecast:
    """From clean stations and a report date: the city's forecast and its districts'.

    Only stations on air by `as_of` count. `city` (a key, a folder, or a config.City; default
    none) gives the targets, the district order and their target shares; `district` forecasts
    one district alone (its targets are its share of the city's). Districts use the city's
    chosen model refitted on their own series (too short to choose alone), then are reconciled
    top-down: at each month the district means are scaled by one factor so that they add up to
    the city's mean, and the district paths by the same factor. A district's share of a target
    is `target_share` from city.toml, else its share of the stations on air on `as_of`.
    `on_step(note)` is called after the city's fit and after the districts' (a progress step each).
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
    by_d, on_air_now = monthly_on_air_by_district(stations, city_series.index, as_of, names)
    if names is not None:
        other = set(stations["district"].dropna().unique()) - set(names)  # (not 10^6 strings one by one)
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
    if on_step is not None:
        on_step(f"city: {city_fc.model} chosen by backtest")
    city_fc.name_zh = (cfg.name_zh if cfg is not None else "") if district is None else district
    city_fc.source_zh = f"截至 {as_of.date()} 已开通的站址（清洗后的运营商及铁塔公司记录）"
    districts: dict[str, Forecast] = {}
    table = pd.DataFrame()
    if district is None:
        notes += _records_short_of_reported(stations, cfg, as_of)
        districts, table = forecast_districts(by_d, on_air_now, city_fc, targets, split, n_paths, seed)
        # (a district with no station yet but sites in the pipeline is forecast to grow: not one of them)
        empty = [d for d, f in districts.items() if is_empty_district(f)]
        notes += describe_empty_districts(empty, len(districts), as_of)
    if on_step is not None:
        on_step(f"{len(districts):,} districts forecast" if district is None else f"district {district} only")
    series = pd.concat([city_series.rename("city"), by_d], axis=1)
    return CityForecast(
        city=city_fc, districts=districts, series=series, district_table=table, notes=city_fc.notes + notes
    )


#: Districts with no station named in the forecast's one note about them up to this many; beyond it the
#: note counts them and the stage lists them in EMPTY_DISTRICTS_FILE (a national run: 8,427 counties, a
#: line each on the terminal).
MAX_NAMED_EMPTY_DISTRICTS = 5
EMPTY_DISTRICTS_FILE = "empty_districts.csv"


def describe_empty_districts(empty: list[str], n_districts: int, as_of: pd.Timestamp) -> list[str]:
    """The one note about the districts with no station on air by `as_of` (forecast as zero): the district
    by name when alone (as it was always written), a few by name, many counted (the list in a file)."""
    day = pd.Timestamp(as_of).date()
    if not empty:
        return []
    if len(empty) == 1:
        return [f"{empty[0]}: no station on air by {day}; forecast as zero"]
    if len(empty) <= MAX_NAMED_EMPTY_DISTRICTS:
        return [f"{len(empty)} districts have no station on air by {day}; forecast as zero: {', '.join(empty)}"]
    return [
        f"{len(empty):,} of {n_districts:,} districts have no station on air by {day}; forecast as zero "
        f"(listed in {EMPTY_DISTRICTS_FILE})"
    ]


#: Records holding less than this share of a count the city reported on the same date: said (an OpenCelliD
#: extract or one operator's list judged against the whole city's published count said "off track, P 0 %").
RECORDS_SHORT_SHARE = 0.8


def _records_short_of_reported(stations: pd.DataFrame, cfg, as_of) -> list[str]:
    """A note for each count the city reported (city.toml kind "reported", by `as_of`) that the records
    fall well short of: the verdicts judge the records, and the reader must know they hold part of the city."""
    notes = []
    for t in cfg.targets if cfg is not None else ():
        if t.kind != "reported" or pd.Timestamp(t.date) > as_of or t.on_air <= 0:
            continue
        held = count_on_air(stations, t.date)
        if held < RECORDS_SHORT_SHARE * t.on_air:
            notes.append(
                f"the records hold {held:,} stations on air on {t.date} where the city reported {t.on_air:,} "
                f"({held / t.on_air:.0%}): the forecast and its verdicts judge the records, not the city's count"
            )
    return notes


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


#: The districts' simulated paths are kept on their forecasts while all of them together stay under
#: this size; beyond it (a national run: thousands of counties) each district's paths are simulated,
#: summarised and dropped, and simulated again from the same seed for the reconciled summary.
MAX_KEPT_DISTRICT_PATHS_MB = 256.0
#: Paths per district when statsmodels simulates the refitted model path by path (a state-space model
#: with exog or a time-varying one; the others are drawn in numpy, all paths at once): statsmodels draws
#: its repetitions one by one in Python, about 0.13 ms each, which made 2,000 paths for each of ~900
#: counties cost minutes. 500 paths put a district's P(target) within about +-0.02 (one standard error)
#: of the 2,000-path value.
STATSMODELS_DISTRICT_PATHS = 500


@dataclass
class _DistrictFit:
    """One district between the two passes: its model and seed, or the constant it stays at."""

    series: pd.Series
    count_now: int
    seed: int
    model: str = "none"
    fit: object = None
    n_paths: int = 0
    paths: np.ndarray | None = None  # monotone paths over the kept months, when kept
    steps: int = 0  # months simulated, when not all the city's (a district too small to fit: those read)


@run_on_one_blas_thread
def forecast_districts(
    by_d: pd.DataFrame, on_air_now: pd.Series, city_fc: Forecast, targets, split, n_paths: int, seed: int
) -> tuple[dict[str, Forecast], pd.DataFrame]:
    """Every district's forecast, reconciled top-down to the city's, and the district table.

    A district with no station, or no addition ever, stays at its count: no model, no fit, one
    row instead of `n_paths` identical paths. The others use the city's chosen model refitted on
    their own series (drift when too short), each from its own seed (`seed + 1 + position`),
    with STATSMODELS_DISTRICT_PATHS paths when statsmodels simulates the refit path by path; a district
    with fewer than MIN_ADDITION_MONTHS months of additions gets drift without a fit of the city's model,
    with STATSMODELS_DISTRICT_PATHS paths too (`too_few_additions`).
    Only the months the table and the targets read are simulated into paths, and those paths
    are dropped after the district's summary when all districts' would exceed
    MAX_KEPT_DISTRICT_PATHS_MB (their forecasts then hold an empty (0, months) paths array).
    """
    targets = _normalize_targets(targets)
    horizon = len(city_fc.table)
    at = [int(city_fc.path_index.get_indexer([_month_end(t.date)])[0]) for t in targets]
    months = max([horizon, *(k + 1 for k in at)])
    steps = city_fc.paths.shape[1]
    plans = [_DistrictFit(by_d[d], int(on_air_now.get(d, 0)), seed + 1 + i) for i, d in enumerate(by_d.columns)]
    active = [_has_additions(p.series) for p in plans]
    keep = sum(active) * n_paths * months * 8 / 2**20 <= MAX_KEPT_DISTRICT_PATHS_MB
    total, means = 0, []
    fitted = _fit_at_once(city_fc.model, [p.series for p, growing in zip(plans, active) if growing])
    for p, growing in zip(plans, active):  # pass 1: fits and means, summed in district order (as before)
        if growing:
            paths = _fit_district(p, city_fc.model, steps, months, n_paths, fitted.get(p.series.name))
            p.paths = paths if keep else None
            means.append(paths.mean(axis=0))
        else:
            means.append(np.full(months, float(p.series.iloc[-1])))
        total = total + means[-1]
    city_mean = city_fc.paths[:, :months].mean(axis=0)
    pipeline = getattr(city_fc, "pipeline_by_district", None)
    if pipeline is not None and len(pipeline.columns):
        factors = _pipeline_factors(plans, means, city_mean, pipeline, list(by_d.columns), months)
    else:
        # top-down by forecast proportions: district means add up to the city mean at every month
        factor = np.where(total > 0, city_mean / np.where(total > 0, total, 1), 1.0)
        factors = [factor] * len(plans)
    # districts at one constant level share their summary, and every district the empty frames
    # (read-only views of a forecast: thousands of empty counties need no frame of their own)
    districts, values, reads = {}, {}, (horizon, at, targets, split, {}, pd.DataFrame())
    for d, p, factor in zip(by_d.columns, plans, factors):  # pass 2: reconciled paths, summaries, values
        districts[d], values[d] = _reconcile_district(p, d, city_fc, factor, reads, keep, n_paths)
    return districts, _district_table(city_fc, districts, targets, split, values)


def _pipeline_factors(plans, means, city_mean, pipeline: pd.DataFrame, names: list, months: int) -> list:
    """Each district's reconciliation factor by month when the city's sites in the pipeline are known by
    district: the city's expected additions go first to each district's own pipeline sites, as they are
    expected to reach air (all of them when the city adds more than its pipeline holds; a share of each
    when it adds less), and what the city adds beyond its pipeline is split by the districts' own forecasts.
    One factor for all scaled a district's slow history and ignored its pipeline: a district of 17 stations
    with 25 sites in the pipeline was forecast 32 (80 % 25-40) where 54 came."""
    base = np.array([float(p.count_now) for p in plans])
    mean = np.vstack(means)  # (districts, months)
    own = np.maximum(mean - base[:, None], 0.0)
    pipe = pipeline.reindex(columns=names, fill_value=0.0).to_numpy(float)[:months].T  # (districts, months)
    add = np.maximum(city_mean - base.sum(), 0.0)
    pipe_total = pipe.sum(axis=0)
    from_pipe = pipe * np.minimum(1.0, add / np.where(pipe_total > 0, pipe_total, 1.0))
    rest = np.maximum(add - from_pipe.sum(axis=0), 0.0)
    own_total = own.sum(axis=0)
    share = np.divide(own, own_total, out=np.full_like(own, 1.0 / max(len(plans), 1)), where=own_total > 0)
    wanted = base[:, None] + from_pipe + share * rest
    return list(np.divide(wanted, mean, out=np.ones_like(mean), where=mean > 0))


def _has_additions(series: pd.Series) -> bool:
    v = series.to_numpy(float)
    return bool(v[-1] != 0 and np.any(np.diff(v) != 0))


def _fit_at_once(city_model: str, series: list[pd.Series]) -> dict:
    """{district: {candidate: its fit}} for the candidates of the city's model that are fitted to every
    district's series at once (`batched.fit_ar1_batch`: the arima candidate); the others, and the
    districts a batch leaves out, are fitted one by one."""
    parts = city_model.split(COMBINE_SEP)
    if "arima" not in parts or not series or len(series[0]) < MIN_TRAIN:
        return {}
    return {d: {"arima": fit} for d, fit in fit_ar1_batch({s.name: s for s in series}).items()}


def _fit_district(
    p: _DistrictFit, city_model: str, steps: int, months: int, n_paths: int, fitted: dict | None = None
) -> np.ndarray:
    """Fit the district (the city's model, drift when too short or when the model fails on it) and
    return its monotone paths over the first `months` months; `fitted`: its candidates fitted already
    ({name: fit}, `_fit_at_once`)."""
    model = city_model if city_model in ("naive", "drift") or len(p.series) >= MIN_TRAIN else "drift"
    paths_wanted = n_paths
    if model not in ("naive", "drift") and too_few_additions(p.series):
        # the backtest's fallback, no fit, fewer paths; no random numbers to share with a full simulation:
        # the months read only
        model, p.steps, steps = "drift", months, months
        paths_wanted = min(n_paths, STATSMODELS_DISTRICT_PATHS)
    try:
        fit = _fit_candidate(model, p.series, fitted=fitted)
        adds = fit.simulate(steps, min(paths_wanted, _district_paths(fit, n_paths)), np.random.default_rng(p.seed))
        if not np.all(np.isfinite(adds)):
            raise ValueError("non-finite simulated paths")
    except Exception:  # the city's model need not fit a county's short or flat series: drift does
        model = "drift"
        fit = _fit_candidate(model, p.series)
        adds = fit.simulate(steps, n_paths, np.random.default_rng(p.seed))
    p.model, p.fit, p.n_paths = model, fit, len(adds)
    # all `steps` months are drawn so each path's random numbers are those of the full simulation
    return _monotone_paths(adds[:, :months], float(p.series.iloc[-1]), float(p.count_now))


#: A district whose series holds fewer months with an addition than this is too small to fit a model
#: to: it gets the backtest's fallback, drift (the mean monthly addition so far), without a fit, and
#: STATSMODELS_DISTRICT_PATHS paths (its P(target) within about +-0.02 of 2,000 paths'), simulated over the
#: months read only. The backtest fits no model on fewer months than MIN_TRAIN; a county of 1-5 stations
#: (2,993 of a country's 2,994 in probe23's F2) has at most 5 such months, and the statsmodels refits of
#: `ucm+season_ucm` on it cost about 0.2 CPU s, its 2,000 paths (drawn twice: pass 1 and 2) 0.02 s more.
MIN_ADDITION_MONTHS = MIN_TRAIN


def too_few_additions(series: pd.Series) -> bool:
    """Whether a district's cumulative series has too few months with an addition for a model fit
    (`MIN_ADDITION_MONTHS`)."""
    return int(np.count_nonzero(np.diff(series.to_numpy(float)))) < MIN_ADDITION_MONTHS


def _district_paths(fit, n_paths: int) -> int:
    """How many paths a district's refit simulates: fewer when statsmodels draws them one by one."""
    return min(n_paths, STATSMODELS_DISTRICT_PATHS) if getattr(fit, "draws_path_by_path", False) else n_paths


def _simulate_district(p: _DistrictFit, steps: int, months: int, n_paths: int) -> np.ndarray:
    if p.fit is None:
        return np.full((1, months), float(p.series.iloc[-1]))
    if p.paths is not None:
        return p.paths
    adds = p.fit.simulate(p.steps or steps, p.n_paths, np.random.default_rng(p.seed))
    return _monotone_paths(adds[:, :months], float(p.series.iloc[-1]), float(p.count_now))


def _reconcile_district(p, name, city_fc, factor, reads, keep, n_paths):
    """The district's reconciled forecast and, per target, (mean, lo80, hi80, P(reach its split)):
    numbers only, so that no view of the paths outlives them when they are not kept."""
    horizon, at, targets, split, constants, empty = reads
    constant = p.fit is None
    level = float(p.series.iloc[-1])
    key = (level, np.asarray(factor).tobytes())  # (a constant district with sites in the pipeline grows)
    if constant and key in constants:  # thousands of empty counties: one summary per level
        paths, reconciled_mean, table, empty_now = constants[key]
    else:
        raw = _simulate_district(p, city_fc.paths.shape[1], len(factor), n_paths)
        p.paths = None  # (its raw paths are read once: kept to the end, 321 counties held 250 MB twice)
        reconciled_mean = raw.mean(axis=0) * factor
        paths = raw * factor
        np.maximum.accumulate(paths, axis=1, out=paths)
        table = _summarize(paths[:, :horizon], city_fc.path_index[:horizon])
        table["mean"] = reconciled_mean[:horizon]
        # `is_empty_district`, known here once per level rather than read from each county's table
        empty_now = level == 0 and not (table["mean"].to_numpy(float) > 0).any()
        if constant:
            constants[key] = (paths, reconciled_mean, table, empty_now)
    values = []
    for t, k in zip(targets, at):
        v = paths[:, k] if k >= 0 else np.full(1, level)
        mean = float(reconciled_mean[k]) if k >= 0 else level
        prob = float((v >= split[(t.date, name)][0] - 1e-9).mean())
        if len(v) == 1:  # a constant: its quantiles are its value (np.quantile's overhead x thousands)
            values.append((mean, float(v[0]), float(v[0]), prob))
        else:
            values.append((mean, float(np.quantile(v, 0.10)), float(np.quantile(v, 0.90)), prob))
    fc = Forecast(
        history=p.series,
        model=p.model,
        params={} if constant else p.fit.params,
        table=table,
        backtest=empty,
        targets=empty,
        notes=["no additions yet"] if constant else [],
        paths=paths if constant or keep else np.empty((0, paths.shape[1])),
        path_index=city_fc.path_index,
        as_of=city_fc.as_of,
        count_as_of=p.count_now if constant else float(p.count_now),
        name=name,
    )
    fc.reconciled_mean = reconciled_mean
    fc.empty = bool(empty_now)
    return fc, values


def _district_table(city_fc, districts, targets, split, values) -> pd.DataFrame:
    rows = []
    for j, t in enumerate(targets):
        need_months = _months_between(city_fc.as_of, t.date)
        for d, f in districts.items():
            target_d, share, basis = split[(t.date, d)]
            mean, lo, hi, prob = values[d][j]
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
                    "lo80": lo,
                    "hi80": hi,
                    "prob_reach": prob,
                    "pace_needed_per_month": max((target_d - f.count_as_of) / need_months, 0.0)
                    if need_months > 0
                    else np.nan,
                    "pace_last_3m": _pace(f.history, 3),
                    "pace_last_6m": _pace(f.history, 6),
                    "model": f.model,
                }
            )
    return pd.DataFrame(rows)
