"""The planned-site pipeline as a forecast component (sites reach air after the task force's observed
stage durations) and the levers: what freeing each blocker's sites this month is worth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.forecast.models import DEFAULT_SEED, Forecast, _target_table
from analysis.forecast.series import _month_end, _summarize

# --------------------------------------------------------------------------------------------
# The pipeline as a component
# --------------------------------------------------------------------------------------------


def has_pipeline_columns(stations: pd.DataFrame) -> bool:
    """Whether the station table carries the stage dates and statuses the pipeline component needs."""
    from analysis.taskforce import DATE_COLUMNS

    return all(c in stations.columns for c in ("station_id", "status", "blocker", *DATE_COLUMNS))


def season_clock(as_of, path_index: pd.DatetimeIndex, factors=None) -> np.ndarray:
    """Working days from `as_of` to each month end of `path_index` on the construction season's
    clock: a calendar day of month m counts factors[m] days (mean 1 over a year), so a site due
    in a winter stop waits for spring. Flat without factors (calendar days)."""
    as_of = pd.Timestamp(as_of).normalize()
    if factors is None:
        return np.asarray((path_index - as_of).days, float)
    days = pd.date_range(as_of + pd.Timedelta(days=1), path_index[-1], freq="D")
    work = np.cumsum(np.asarray(factors, float)[days.month.to_numpy() - 1])
    k = np.asarray((path_index - as_of).days, int) - 1
    return np.where(k >= 0, work[np.clip(k, 0, len(work) - 1)], 0.0)


def sample_pipeline_days(
    stations: pd.DataFrame, as_of, n_paths: int, seed: int, extract_date=None, freed=(), season=None
) -> tuple[pd.DataFrame, np.ndarray]:
    """The pipeline sites on `as_of` and their simulated working days to air ((n_paths, n_sites),
    `taskforce.sample_days_to_air` on the construction season's clock when `season` is given)."""
    from analysis.taskforce import sample_days_to_air

    as_of = pd.Timestamp(as_of).normalize()
    return sample_days_to_air(stations, as_of, n_paths, np.random.default_rng(seed), extract_date, freed, season)


def _arrivals_of(days: np.ndarray, use: np.ndarray, clock: np.ndarray) -> np.ndarray:
    """Sites (columns where `use`) on air by each step of `clock` (working days), per path."""
    d = days[:, use]
    return np.stack([(d <= c).sum(axis=1) for c in clock], axis=1).astype(float)


def pipeline_arrivals(
    stations: pd.DataFrame,
    as_of,
    path_index: pd.DatetimeIndex,
    n_paths: int,
    seed: int,
    extract_date=None,
    freed=(),
    season=None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Sites in the pipeline on `as_of` gone on air by each month end of `path_index`, per simulated
    path ((n_paths, steps), cumulative), from the stage durations observed by then
    (`taskforce.sample_days_to_air`), counted on the construction season's clock (`season_clock`,
    `season`: 12 monthly factors), and the pipeline sites themselves."""
    sites, days = sample_pipeline_days(stations, as_of, n_paths, seed, extract_date, freed, season)
    return _arrivals_of(days, np.ones(len(sites), bool), season_clock(as_of, path_index, season)), sites


def plan_to_air_median(stations: pd.DataFrame, as_of) -> float:
    """Median days from planning to air: of the sites on air by `as_of` with both dates, else the
    sum of the stages' Kaplan-Meier medians (NaN when a stage has none)."""
    from analysis.taskforce import measure_stage_durations

    dur = measure_stage_durations(stations, as_of).set_index("stage")
    whole = dur.loc["planned_to_on_air"]
    if whole["n_completed"] >= 3 and pd.notna(whole["median_days"]):
        return float(whole["median_days"])
    stages = dur.drop(index="planned_to_on_air")["km_median_days"]
    return float(stages.sum()) if stages.notna().all() else math.nan


#: Stages from which a site all but surely reaches air: the pipeline's floor under the forecast.
COMMITTED_STAGES = ("construction", "power_hookup")


def combine_with_pipeline(top_paths: np.ndarray, base: float, committed: np.ndarray) -> np.ndarray:
    """Stations on air per path: `base` (on air on the report date) plus, at each month end, the
    larger of the top-down additions and the committed sites' arrivals (sites in construction or
    power hook-up, `COMMITTED_STAGES`). The top-down pace already contains the pipeline's sites,
    so they are not added to it (no double count); they only hold the band's lower edge up.
    Sites in earlier stages are not a floor: in backtests a share of them stalls for months."""
    top_add = np.maximum(top_paths - base, 0.0)
    return np.maximum.accumulate(base + np.maximum(top_add, committed), axis=1)


def _add_pipeline(fc: Forecast, stations, as_of, n_paths, seed, horizon, targets) -> pd.DataFrame:
    """Replace the top-down paths of `fc` by the combined ones; returns the pipeline sites."""
    base = fc.count_as_of if fc.count_as_of is not None else float(fc.history.iloc[-1])
    season = getattr(fc.fit, "season", None)
    factors = season.factors if season is not None else None
    sites, pipe_days = sample_pipeline_days(stations, as_of, n_paths, seed + 7, season=factors)
    clock = season_clock(as_of, fc.path_index, factors)
    pipe = _arrivals_of(pipe_days, np.ones(len(sites), bool), clock)
    committed = sites["stage"].isin(COMMITTED_STAGES).to_numpy()
    fc.plan_to_air_days = plan_to_air_median(stations, as_of)
    fc.top_down_paths = fc.paths
    fc.pipeline_paths = pipe
    fc.paths = combine_with_pipeline(fc.paths, base, _arrivals_of(pipe_days, committed, clock))
    fc.table = _summarize(fc.paths[:, :horizon], fc.path_index[:horizon])
    fc.targets = _target_table(fc, targets)
    fc.notes.append(
        f"{len(sites)} sites in the pipeline on {as_of.date()} reach air by the observed stage "
        "durations (Kaplan-Meier, sites still waiting counted); sites not yet planned come from the "
        "top-down pace, less the share the pipeline already accounts for"
    )
    return sites


# --------------------------------------------------------------------------------------------
# Levers: what freeing each blocker's sites this month is worth
# --------------------------------------------------------------------------------------------

LEVER_COLUMNS = [
    "as_of",
    "blocker",
    "blocker_zh",
    "sites_on_list",
    "target_date",
    "target",
    "prob_reach",
    "prob_reach_if_freed",
    "prob_rise",
    "year_end",
    "expected_year_end",
    "expected_year_end_if_freed",
    "year_end_rise",
]


def rank_levers(cf, stations: pd.DataFrame, city=None, extract_date=None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """For each blocker on the supervision list (`taskforce.list_stuck_sites`, 'none' where no
    blocker is reported): the rise in P(next target) and in the expected count at the year's end
    if the sites it holds finish their current stage this month (then move on at the observed
    stage durations), against the forecast as it stands. Largest rise in P first.

    The gain is the freed sites' extra arrivals (freed minus as they are, both simulated on the
    season's clock), added to every path of the forecast: the top-down pace already holds the
    usual share of blocked sites, so only what freeing them changes is added."""
    from analysis.taskforce import BLOCKER_ZH, list_stuck_sites, stuck_days_of

    fc = cf.city
    if not has_pipeline_columns(stations) or fc.as_of is None:
        return pd.DataFrame(columns=LEVER_COLUMNS)
    as_of = fc.as_of
    stuck = list_stuck_sites(stations, as_of, stuck_days_of(city) if city is not None else None, extract_date)
    goal = fc.targets[fc.targets["target_date"] >= as_of].head(1) if len(fc.targets) else fc.targets
    year_end = pd.Timestamp(as_of.year, 12, 31)
    k_year = fc.path_index.get_indexer([year_end])[0]
    season = getattr(fc.fit, "season", None)
    factors = season.factors if season is not None else None
    clock = season_clock(as_of, fc.path_index, factors)
    n = fc.paths.shape[0]
    rows = []
    sites, base_days = sample_pipeline_days(stations, as_of, n, seed + 11, extract_date, (), factors)
    for blocker, group in stuck.groupby(stuck["blocker"].fillna("none"), sort=True):
        ids = set(group["station_id"])
        _, freed_days = sample_pipeline_days(stations, as_of, n, seed + 11, extract_date, ids, factors)
        mine = sites["station_id"].isin(ids).to_numpy()
        gain = _arrivals_of(freed_days, mine, clock) - _arrivals_of(base_days, mine, clock)
        after = np.maximum.accumulate(fc.paths + gain, axis=1)
        row = {
            "as_of": as_of,
            "blocker": blocker,
            "blocker_zh": BLOCKER_ZH.get(blocker, blocker),
            "sites_on_list": len(ids),
            "year_end": year_end,
            "expected_year_end": float(fc.paths[:, k_year].mean()) if k_year >= 0 else math.nan,
            "expected_year_end_if_freed": float(after[:, k_year].mean()) if k_year >= 0 else math.nan,
        }
        row["year_end_rise"] = row["expected_year_end_if_freed"] - row["expected_year_end"]
        if len(goal):
            t = goal.iloc[0]
            k = fc.path_index.get_indexer([_month_end(t["target_date"])])[0]
            row.update(
                target_date=t["target_date"],
                target=int(t["target"]),
                prob_reach=float((fc.paths[:, k] >= t["target"]).mean()),
                prob_reach_if_freed=float((after[:, k] >= t["target"]).mean()),
            )
            row["prob_rise"] = row["prob_reach_if_freed"] - row["prob_reach"]
        rows.append(row)
    out = pd.DataFrame(rows, columns=LEVER_COLUMNS)
    return out.sort_values(
        ["prob_rise", "year_end_rise", "blocker"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def write_levers(levers: pd.DataFrame, out: str | Path) -> Path:
    """Write levers.csv (one row per blocker, `rank_levers`) into `out`; byte-identical on rerun."""
    from analysis.files import write_csv

    path = Path(out) / "levers.csv"
    frame = levers.copy()
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = frame[col].round(4)
    write_csv(frame, path)
    return path
