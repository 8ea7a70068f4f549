"""Tests of the levers (analysis.forecast.pipeline.rank_levers) and the draws they rest on
(analysis.taskforce.sample_days_both_ways): freed and as-is days from common random numbers, the
same distribution as the site-by-site draws, arrivals counted in one pass, seeded per blocker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import taskforce as T
from analysis.forecast import pipeline as L
from analysis.schemas import STAGES

AS_OF = pd.Timestamp("2021-04-06")


def _site(sid, start, steps, reached="on_air", dates=True, blocker=None):
    """A site planned on `start` that spent `steps[stage]` days in each stage up to `reached`."""
    row = {"station_id": sid, "site_code": sid, "name": sid, "operator": "CMCC", "district": "西区"}
    row.update(status=reached, blocker=blocker)
    t = pd.Timestamp(start)
    for stage in STAGES:
        row[f"{stage}_date"] = t if dates and STAGES.index(stage) <= STAGES.index(reached) else pd.NaT
        t = t + pd.Timedelta(days=steps.get(stage, 0))
    return row


def _frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for stage in STAGES:
        df[f"{stage}_date"] = pd.to_datetime(df[f"{stage}_date"])
    df["is_on_air"] = df["on_air_date"].notna()
    return df


def _pipeline(rng, n_done=40, waiting_per_stage=4) -> pd.DataFrame:
    """Sites on air with varied stage durations, and sites waiting in every stage since varied dates
    (some longer than any completed spell), plus one without stage dates."""
    stages = list(T.PIPELINE_STAGES)
    done = [
        _site(f"D{i:02d}", f"2020-{1 + i % 12:02d}-0{1 + i % 9}", dict(zip(stages, rng.integers(5, 60, 5).tolist())))
        for i in range(n_done)
    ]
    waiting = [
        _site(f"W{i:02d}", AS_OF - pd.Timedelta(days=int(rng.integers(1, 200))), {}, reached=stages[i % 5])
        for i in range(waiting_per_stage * 5)
    ]
    return _frame(done + waiting + [_site("U", "2021-01-01", {}, reached="site_access", dates=False)])


def test_both_ways_draws_as_is_from_the_same_distribution_as_the_site_by_site_draws():
    """The vectorised rest-of-stage draw (each site's own Kaplan-Meier tail, censored waits, sites
    without dates) has the distribution of `sample_days_to_air`'s exact `rng.choice` draws."""
    st = _pipeline(np.random.default_rng(3))
    n = 6000
    # (records extracted on the date: the site without dates is in the pipeline on it)
    sites, want = T.sample_days_to_air(st, AS_OF, n, np.random.default_rng(1), AS_OF)
    durations = T.measure_pipeline_durations(st, AS_OF, AS_OF)
    assert durations.sites["station_id"].tolist() == sites["station_id"].tolist()
    as_is, freed = T.sample_days_both_ways(durations, np.arange(len(sites)), n, np.random.default_rng(2))
    assert as_is.shape == freed.shape == (len(sites), n)
    for j, sid in enumerate(sites["station_id"]):
        a, b = np.sort(as_is[j]), np.sort(want[:, j])
        at = np.union1d(a, b)  # two-sample Kolmogorov-Smirnov distance; 0.04 is far in the tail at 6,000 draws
        assert np.abs(a.searchsorted(at, "right") - b.searchsorted(at, "right")).max() / n < 0.04, sid
    spent = durations.spent_days  # waits past every completed spell (at most 59 days), and one unknown
    assert np.isfinite(want).all() and (spent > 59).sum() >= 3 and np.isnan(spent).sum() == 1


def test_freed_and_as_is_share_their_random_numbers():
    """Sites in construction whose every completed construction took longer than their days spent
    plus a month: freed (done within the month) they reach air no later on every path, since their
    later stage is the same draw both ways; the gain is never negative, and is all of them by June."""
    steps = [
        {"planned": 5, "site_selection": 5, "site_access": 5, "construction": c, "power_hookup": p}
        for c, p in zip(range(60, 100, 4), range(5, 50, 4))
    ]
    done = [_site(f"D{i}", "2020-03-01", s) for i, s in enumerate(steps)]
    wait = [
        _site(
            f"W{i}",
            AS_OF - pd.Timedelta(days=15 + 20 + i),
            {"planned": 5, "site_selection": 5, "site_access": 5},
            reached="construction",
        )
        for i in range(8)
    ]
    durations = T.measure_pipeline_durations(_frame(done + wait), AS_OF)
    rows = np.arange(len(durations.sites))
    as_is, freed = T.sample_days_both_ways(durations, rows, 500, np.random.default_rng(0))
    assert (freed <= durations.month_left + 50).all() and (as_is - freed > 0).all()
    clock = L.season_clock(AS_OF, pd.date_range("2021-04-30", periods=9, freq="ME"))
    gain = L.sample_freed_gain(durations, rows, clock, 500, 7)
    assert gain.shape == (500, 9) and (gain >= 0).all()
    # freed in April, the last stage takes at most 45 days: all on air by June 30
    assert (L.count_arrivals(freed, clock)[:, 2] == 8).all() and (gain[:, 2] < 8).any()
    assert np.array_equal(gain, L.sample_freed_gain(durations, rows, clock, 500, 7))


def test_count_arrivals_counts_each_draw_at_the_first_step_it_is_due():
    rng = np.random.default_rng(5)
    clock = np.array([0.0, 10.0, 10.0, 25.0, 40.0])  # a winter stop: two steps on the same day
    days = np.where(rng.random((30, 7)) < 0.1, np.inf, rng.integers(0, 50, (30, 7)).astype(float))
    days[0, :] = 10.0  # on a step's day exactly: due at that step
    want = np.stack([(days <= c).sum(axis=0) for c in clock], axis=1)
    assert np.array_equal(L.count_arrivals(days, clock), want)
    assert L.count_arrivals(np.zeros((0, 3)), clock).shape == (3, 5)


@pytest.fixture(scope="module")
def karamay():
    from analysis.clean import clean_stations
    from analysis.config import load_city
    from analysis.forecast import forecast_stations

    city = load_city("karamay")
    st = clean_stations(sorted(Path(city.stations_dir).iterdir()), "karamay", as_of="2022-01-10").stations
    return st, forecast_stations(st, "2021-11-30", city="karamay", n_paths=300)


def test_levers_are_seeded_per_blocker_and_rerun_byte_for_byte(karamay, tmp_path):
    """Each blocker's row comes from its own stream: moving another blocker's sites elsewhere leaves
    it as it was; a rerun writes the same levers.csv."""
    st, cf = karamay
    levers = L.rank_levers(cf, st, "karamay")
    assert len(levers) >= 3 and levers["prob_rise"].is_monotonic_decreasing
    assert (levers["year_end_rise"] >= 0).all()
    moved = st.assign(blocker=st["blocker"].replace({"power_price": "other"}))
    again = L.rank_levers(cf, moved, "karamay").set_index("blocker")
    for blocker, row in levers.set_index("blocker").drop(index=["power_price", "other"], errors="ignore").iterrows():
        assert row.equals(again.loc[blocker]), blocker
    path = L.write_levers(levers, tmp_path)
    assert path.read_bytes() == L.write_levers(L.rank_levers(cf, st, "karamay"), tmp_path / "again").read_bytes()


def test_pipeline_arrivals_counted_by_block_are_those_of_the_whole_array(monkeypatch):
    """The forecast's pipeline component counts its draws a block of sites at a time (bounded memory):
    the same counts as the whole (paths x sites) array of the same seed, committed sites apart."""
    monkeypatch.setattr(T, "_SITES_PER_BLOCK", 4)
    st = _pipeline(np.random.default_rng(8))
    clock = L.season_clock(AS_OF, pd.date_range("2021-04-30", periods=12, freq="ME"))
    sites, every, floor, by_district = L.count_pipeline_arrivals(st, AS_OF, clock, 50, 3)
    same, days = L.sample_pipeline_days(st, AS_OF, 50, 3)
    committed = sites["stage"].isin(L.COMMITTED_STAGES).to_numpy()
    assert sites.equals(same) and len(sites) > 8 and 0 < committed.sum() < len(sites)
    want = np.stack([(days <= c).sum(axis=1) for c in clock], axis=1)
    want_floor = np.stack([(days[:, committed] <= c).sum(axis=1) for c in clock], axis=1)
    assert np.array_equal(every, want) and np.array_equal(floor, want_floor)
    # each district's expected arrivals: the mean over paths of its sites on air by each step
    assert np.allclose(by_district.sum(axis=1).to_numpy(), every.mean(axis=0))


def test_a_supervised_site_that_has_left_its_stage_since_is_a_lever_of_an_unknown_blocker(karamay):
    """Reported on 2022-01-10, a site that was stuck on an earlier report date and has moved on since has no
    known blocker on that date: its lever is 'not_known', as the blocker table and chart call it, never
    'none' (no blocker reported), which would send the bureau after a report the operator never owed."""
    st, _ = karamay
    from analysis.forecast import forecast_stations

    cf = forecast_stations(st, "2021-03-31", city="karamay", n_paths=200)
    stuck = T.list_stuck_sites(st, "2021-03-31", T.stuck_days_of("karamay"), "2022-01-10")
    keys = T.blocker_keys(stuck)
    left = stuck["is_blocker_not_known"].to_numpy(bool)  # (the stage's flag: the note's words are for people)
    assert (stuck.loc[left, "blocker_note"].str.contains("not known")).all()
    assert left.any() and (keys[left] == "not_known").all() and (keys[~left & stuck["blocker"].isna()] == "none").all()
    levers = L.rank_levers(cf, st, "karamay", extract_date="2022-01-10").set_index("blocker")
    assert levers.loc["not_known", "sites_on_list"] == int(left.sum())
    assert "none" not in levers.index or levers.loc["none", "sites_on_list"] == int((keys == "none").sum())


def _stage_rows(stages_and_blockers, planned=None):
    """Derived sites (as sites.csv holds them) in the pipeline: (stage, blocker) each, no stage dates."""
    sites = pd.DataFrame(
        {
            "station_id": [f"S{i}" for i in range(len(stages_and_blockers))],
            "stage": [s for s, _ in stages_and_blockers],
            "blocker": [b for _, b in stages_and_blockers],
            "is_blocker_not_known": False,
            "has_stage_dates": False,
        }
    )
    if planned is not None:
        sites["planned_on_air_date"] = pd.to_datetime(planned)
    return sites


def test_blockers_are_ranked_by_the_record_when_durations_are_unknown():
    sites = _stage_rows(
        [("planned", "other"), ("construction", "power_hookup"), ("site_selection", "other"), ("unknown", None)],
        planned=["2021-10-01", None, "2021-06-30", "2021-09-30"],
    )
    ranked = T.rank_blockers_by_record(sites, "2021-10-15")
    assert list(ranked["blocker"]) == ["other", "none", "power_hookup"]
    other = ranked.iloc[0]
    assert (other["sites"], other["sites_past_planned_on_air"], other["max_days_past_planned_on_air"]) == (2, 2, 107)
    assert other["furthest_stage"] == "site_selection" and ranked.iloc[1]["sites_stage_unknown"] == 1
    # without planned dates: the furthest stage first
    ranked = T.rank_blockers_by_record(sites.drop(columns="planned_on_air_date"), "2021-10-15")
    assert list(ranked["blocker"]) == ["power_hookup", "other", "none"]


def test_the_lever_page_says_the_effect_cannot_be_estimated_without_a_dated_stage_history():
    """Trackers with a status but no stage dates: every site 'no forecast', every gain 0; the page said
    "freeing blockers changes nothing" (31 % -> 31 % on every row)."""
    from types import SimpleNamespace

    from analysis.report.pages.taskforce import levers_not_estimable

    sites = _stage_rows([("planned", "other"), ("site_selection", "site_access")])
    durations = pd.DataFrame({"stage": [*T.PIPELINE_STAGES, "planned_to_on_air"], "n_completed": 0})
    flat = pd.DataFrame({"blocker": ["other"], "prob_rise": [0.0], "year_end_rise": [0.0]})
    tf = SimpleNamespace(sites=sites, durations=durations, as_of=pd.Timestamp("2021-10-15"))
    ctx = SimpleNamespace(taskforce=lambda: tf, lang="zh")
    assert levers_not_estimable(ctx, flat) == list(T.PIPELINE_STAGES)
    assert levers_not_estimable(ctx, flat.iloc[:0]) == list(T.PIPELINE_STAGES)  # nothing overdue either
    # a measured history: the levers as estimated, flat or not
    durations["n_completed"] = 5
    assert levers_not_estimable(ctx, flat) is None
    # one stage never completed and no gain anywhere: the sites that pass through it cannot be dated
    durations.loc[durations["stage"] == "power_hookup", "n_completed"] = 0
    assert levers_not_estimable(ctx, flat) == ["power_hookup"]
    rising = flat.assign(prob_rise=[0.05])
    assert levers_not_estimable(ctx, rising) is None


def test_the_lever_page_ranks_by_planned_dates_only_when_a_site_in_the_pipeline_has_one(monkeypatch):
    """Sites on air carry their plan too (a tracker keeps its built rows): the page said the table ranks sites
    past their planned on-air date above columns of 0 and – when no site in the pipeline had a plan."""
    from types import SimpleNamespace

    from analysis.report.pages import taskforce as page

    said, shown = [], []
    monkeypatch.setattr(page, "show_step", lambda heading, sentence: said.append(sentence))
    monkeypatch.setattr(page, "show_frame", lambda ctx, name, df, **kw: shown.append(df) or df)
    monkeypatch.setattr(page, "record", lambda *a: None)
    sites = _stage_rows([("planned", "other"), ("site_selection", "site_access"), ("on_air", None)])
    sites["planned_on_air_date"] = pd.to_datetime([None, None, "2021-06-30"])
    tf = SimpleNamespace(sites=sites, as_of=pd.Timestamp("2021-10-15"))
    ctx = SimpleNamespace(taskforce=lambda: tf, lang="en", source="")
    page.show_levers_by_record(ctx, list(T.PIPELINE_STAGES))
    assert "give no planned on-air date" in said[-1] and len(shown[-1].columns) == 4  # no columns of 0 and –
    sites.loc[0, "planned_on_air_date"] = pd.Timestamp("2021-09-30")
    page.show_levers_by_record(ctx, list(T.PIPELINE_STAGES))
    assert "sites past their planned on-air date" in said[-1] and "Past planned on-air date" in shown[-1].columns
