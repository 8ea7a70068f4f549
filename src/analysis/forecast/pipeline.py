"""The planned-site pipeline as a forecast component (sites reach air after the task force's observed
stage durations) and the levers: what freeing each blocker's sites this month is worth."""

from __future__ import annotations

import math
import zlib
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


def count_arrivals(days: np.ndarray, clock: np.ndarray) -> np.ndarray:
    """Sites on air by each step of `clock` (working days, non-decreasing), per path: (n_paths, steps)
    from `days` (sites x paths). One pass: each draw's first step at or after it, counted per path."""
    return _count_steps(clock.searchsorted(days, side="left"), len(clock))  # inf: never


def _count_steps(step: np.ndarray, n_steps: int) -> np.ndarray:
    """(n_paths, n_steps) cumulative counts of the draws (sites x paths) due at each `step` index."""
    n_paths = step.shape[1]
    flat = (step + (n_steps + 1) * np.arange(n_paths)).ravel()
    counts = np.bincount(flat, minlength=(n_steps + 1) * n_paths).reshape(n_paths, n_steps + 1)
    return counts[:, :n_steps].cumsum(axis=1).astype(float)


def sample_pipeline_days(
    stations: pd.DataFrame, as_of, n_paths: int, seed: int, extract_date=None, freed=(), season=None
) -> tuple[pd.DataFrame, np.ndarray]:
    """The pipeline sites on `as_of` and their simulated working days to air ((n_paths, n_sites),
    `taskforce.sample_days_to_air` on the construction season's clock when `season` is given)."""
    from analysis.taskforce import sample_days_to_air

    as_of = pd.Timestamp(as_of).normalize()
    return sample_days_to_air(stations, as_of, n_paths, np.random.default_rng(seed), extract_date, freed, season)


def count_pipeline_arrivals(
    stations: pd.DataFrame, as_of, clock: np.ndarray, n_paths: int, seed: int, extract_date=None, season=None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The pipeline sites on `as_of`, and per simulated path the sites on air by each step of `clock`
    ((n_paths, steps)): all of them, and those in `COMMITTED_STAGES`. The days of `sample_pipeline_days`
    (same seed, same numbers), counted a block of sites at a time (`taskforce.sample_days_to_air_by_block`)
    so that memory stays bounded at any number of sites."""
    from analysis.taskforce import sample_days_to_air_by_block

    as_of = pd.Timestamp(as_of).normalize()
    rng = np.random.default_rng(seed)
    sites, blocks = sample_days_to_air_by_block(stations, as_of, n_paths, rng, extract_date, (), season)
    committed = sites["stage"].isin(COMMITTED_STAGES).to_numpy()
    every, floor = np.zeros((n_paths, len(clock))), np.zeros((n_paths, len(clock)))
    codes, districts = pd.factorize(sites["district"])  # (-1: a site in no district)
    by_district = np.zeros((len(districts), len(clock)))
    for rows, days in blocks:
        step = clock.searchsorted(days, side="left")
        every += _count_steps(step, len(clock))
        floor += _count_steps(step[committed[rows]], len(clock))
        mine = codes[rows]
        if (mine >= 0).any():  # each site's chance of being on air by each step, summed by district
            np.add.at(by_district, mine[mine >= 0], _arrival_shares(step[mine >= 0], len(clock)))
    return sites, every, floor, pd.DataFrame(by_district.T, columns=pd.Index(districts, dtype=object))


def _arrival_shares(step: np.ndarray, n_steps: int) -> np.ndarray:
    """(sites, n_steps): the share of each site's paths (`step`: sites x paths, the step each arrives at)
    on air by each step."""
    n_sites, n_paths = step.shape
    flat = (np.minimum(step, n_steps) + (n_steps + 1) * np.arange(n_sites)[:, None]).ravel()
    counts = np.bincount(flat, minlength=(n_steps + 1) * n_sites).reshape(n_sites, n_steps + 1)
    return counts[:, :n_steps].cumsum(axis=1) / n_paths


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
    clock = season_clock(as_of, fc.path_index, factors)
    sites, pipe, floor, by_district = count_pipeline_arrivals(stations, as_of, clock, n_paths, seed + 7, season=factors)
    fc.plan_to_air_days = plan_to_air_median(stations, as_of)
    fc.top_down_paths = fc.paths
    fc.pipeline_paths = pipe
    fc.pipeline_sites = len(sites)
    fc.pipeline_by_district = by_district
    fc.paths = combine_with_pipeline(fc.paths, base, floor)
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


#: Sites of one blocker simulated at a time in `rank_levers`: at 2,000 paths a block's arrays take
#: about 100 MB however many sites the blocker holds.
LEVER_SITES_PER_BLOCK = 1024


def sample_freed_gain(durations, rows: np.ndarray, clock: np.ndarray, n_paths: int, seed) -> np.ndarray:
    """Extra sites on air by each step of `clock`, per path ((n_paths, steps)), if the pipeline sites
    `rows` of `durations` (`taskforce.PipelineDurations`) were freed this month: their arrivals freed
    minus as they are, drawn with common random numbers (`taskforce.sample_days_both_ways`), a block
    of sites at a time from one seeded stream (`seed`: an int or a sequence of ints)."""
    from analysis.taskforce import sample_days_both_ways

    rng = np.random.default_rng(seed)
    gain = np.zeros((n_paths, len(clock)))
    for lo in range(0, len(rows), LEVER_SITES_PER_BLOCK):
        as_is, freed = sample_days_both_ways(durations, rows[lo : lo + LEVER_SITES_PER_BLOCK], n_paths, rng)
        gain += count_arrivals(freed, clock) - count_arrivals(as_is, clock)
    return gain


def rank_levers(cf, stations: pd.DataFrame, city=None, extract_date=None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """For each blocker on the supervision list (`taskforce.list_stuck_sites`, 'none' where no
    blocker is reported): the rise in P(next target) and in the expected count at the year's end
    if the sites it holds finish their current stage this month (then move on at the observed
    stage durations), against the forecast as it stands. Largest rise in P first.

    The gain is the freed sites' extra arrivals (freed minus as they are, both simulated on the
    season's clock from the same random numbers, `sample_freed_gain`), added to every path of the
    forecast: the top-down pace already holds the usual share of blocked sites, so only what freeing
    them changes is added. Only the blocker's own sites are simulated, each blocker from its own
    seeded stream (the same numbers whatever the other blockers hold)."""
    from analysis.taskforce import (
        StagesOn,
        blocker_keys,
        list_stuck_sites,
        measure_pipeline_durations,
        stuck_days_of,
    )

    fc = cf.city
    if not has_pipeline_columns(stations) or fc.as_of is None:
        return pd.DataFrame(columns=LEVER_COLUMNS)
    as_of = fc.as_of
    stages_on = StagesOn(stations, extract_date)
    thresholds = stuck_days_of(city) if city is not None else None
    stuck = list_stuck_sites(stations, as_of, thresholds, extract_date, stages_on=stages_on)
    season = getattr(fc.fit, "season", None)
    factors = season.factors if season is not None else None
    durations = measure_pipeline_durations(stations, as_of, extract_date, factors, stages_on=stages_on)
    clock = season_clock(as_of, fc.path_index, factors)
    # (a site that has left its stage since the date has a blocker not known, not none: `blocker_keys`)
    blockers = blocker_keys(stuck)
    rows = []
    for blocker in sorted(blockers.unique()):
        ids = stuck.loc[blockers == blocker, "station_id"]
        mine = np.flatnonzero(durations.sites["station_id"].isin(ids).to_numpy())
        stream = (seed + 11, zlib.crc32(str(blocker).encode("utf-8")))
        gain = sample_freed_gain(durations, mine, clock, fc.paths.shape[0], stream)
        rows.append(_lever_row(fc, blocker, ids.nunique(), np.maximum.accumulate(fc.paths + gain, axis=1)))
    out = pd.DataFrame(rows, columns=LEVER_COLUMNS)
    return out.sort_values(
        ["prob_rise", "year_end_rise", "blocker"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def _lever_row(fc: Forecast, blocker: str, n_sites: int, after: np.ndarray) -> dict:
    """One row of the levers table: the forecast's paths as they stand against `after` (freed)."""
    from analysis.taskforce import BLOCKER_ZH

    as_of = fc.as_of
    goal = fc.targets[fc.targets["target_date"] >= as_of].head(1) if len(fc.targets) else fc.targets
    year_end = pd.Timestamp(as_of.year, 12, 31)
    k_year = fc.path_index.get_indexer([year_end])[0]
    row = {
        "as_of": as_of,
        "blocker": blocker,
        "blocker_zh": BLOCKER_ZH.get(blocker, blocker),
        "sites_on_list": n_sites,
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
    return row


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
