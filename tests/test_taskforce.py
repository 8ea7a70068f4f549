"""Tests of analysis.taskforce: stages as of a date, funnel, supervision list, stage durations,
the bottom-up forecast and district targets, on hand-made pipelines of known durations and on the
bundled Karamay sample; the CLI verb and the charts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analysis import taskforce as P
from analysis.cli import main
from analysis.config import load_city
from analysis.errors import BadInputError, ConfigError, UsageError
from analysis.schemas import STAGES

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
STEPS = {"planned": 30, "site_selection": 40, "site_access": 20, "construction": 25, "power_hookup": 10}

CITY_TOML = """
[city]
name_zh = "测试市"
name_en = "Testville"
buildout_start = 2019-12-01
[[targets]]
date = 2020-12-31
on_air = 2
kind = "reported"
[[targets]]
date = 2021-12-31
on_air = 12
[[districts]]
name_zh = "西区"
name_en = "West"
[[districts]]
name_zh = "东区"
name_en = "East"
"""


def _site(
    sid,
    district="西区",
    start="2021-01-01",
    reached="on_air",
    steps=STEPS,
    status=None,
    blocker=None,
    operator="CMCC",
    dates=True,
):
    """A site planned on `start` that moved through the stages with `steps` days each up to `reached`."""
    row = {
        "station_id": sid,
        "site_code": sid,
        "name": f"站{sid}",
        "operator": operator,
        "district": district,
        "status": status or reached,
        "blocker": blocker,
    }
    t = pd.Timestamp(start)
    for stage in STAGES:
        row[f"{stage}_date"] = t if dates and STAGES.index(stage) <= STAGES.index(reached) else pd.NaT
        if stage in steps:
            t = t + pd.Timedelta(days=steps[stage])
    return row


def _frame(rows):
    df = pd.DataFrame(rows)
    for stage in STAGES:
        df[f"{stage}_date"] = pd.to_datetime(df[f"{stage}_date"])
    df["is_on_air"] = df["on_air_date"].notna()
    return df


@pytest.fixture
def city(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text(CITY_TOML, encoding="utf-8")
    return load_city(path)


# --- stages as of a date --------------------------------------------------------------------


def test_stage_as_of_follows_the_stage_dates():
    st = _frame([_site("A", start="2021-01-01")])  # planned 01-01, selection 01-31, access 03-12, ... on air 05-06
    assert P.derive_stages(st, "2020-12-31").empty  # not planned yet: not in the pipeline
    stage = {
        d: P.derive_stages(st, d)["stage"].iloc[0]
        for d in [
            "2021-01-01",
            "2021-01-30",
            "2021-01-31",
            "2021-03-12",
            "2021-04-01",
            "2021-04-26",
            "2021-05-06",
            "2022-01-01",
        ]
    }
    assert stage == {
        "2021-01-01": "planned",
        "2021-01-30": "planned",
        "2021-01-31": "site_selection",
        "2021-03-12": "site_access",
        "2021-04-01": "construction",
        "2021-04-26": "power_hookup",
        "2021-05-06": "on_air",
        "2022-01-01": "on_air",
    }
    row = P.derive_stages(st, "2021-02-10").iloc[0]
    assert row["stage_date"] == pd.Timestamp("2021-01-31") and row["days_in_stage"] == 10


def test_blocker_shown_only_while_the_site_is_still_in_that_stage():
    st = _frame([_site("A", start="2021-01-01", reached="site_access", blocker="power_price")])
    still = P.derive_stages(st, "2021-06-01", extract_date="2022-01-10").iloc[0]
    assert still["stage"] == "site_access" and still["blocker"] == "power_price"
    assert "2022-01-10" in still["blocker_note"]
    before = P.derive_stages(st, "2021-02-01", extract_date="2022-01-10").iloc[0]
    assert before["stage"] == "site_selection" and pd.isna(before["blocker"])
    assert "not known" in before["blocker_note"]


def test_site_without_stage_dates_is_counted_from_the_extract_on_and_never_overdue():
    st = _frame(
        [_site("A", start="2021-01-01"), _site("U", reached="construction", dates=False, blocker="site_access")]
    )
    at_extract = P.derive_stages(st, "2022-01-10", extract_date="2022-01-10").set_index("station_id")
    assert at_extract.loc["U", "stage"] == "construction" and not at_extract.loc["U", "has_stage_dates"]
    assert pd.isna(at_extract.loc["U", "days_in_stage"]) and at_extract.loc["U", "blocker"] == "site_access"
    assert "from a month before that date on" in at_extract.loc["U", "blocker_note"]
    # the month's report the records feed (dated up to a month before them) counts it; a "0 in the pipeline"
    # there denied a tracker that lists it
    month_end = P.derive_stages(st, "2021-12-31", extract_date="2022-01-10").set_index("station_id")
    assert month_end.loc["U", "stage"] == "construction"
    # earlier nothing shows it existed: not in the pipeline "all year"
    earlier = P.derive_stages(st, "2021-11-30", extract_date="2022-01-10")
    assert "U" not in set(earlier["station_id"])
    funnel = P.build_funnel(st, "2022-01-10", extract_date="2022-01-10", previous="2021-11-30")
    row = funnel[(funnel["district"] == P.CITY_TOTAL) & (funnel["stage"] == "construction")].iloc[0]
    assert row["sites"] == 1 and row["undated_sites"] == 1 and "without stage dates" in row["note"]
    # not counted on the previous date, and not in the change: when it entered is not known (it counted "+1"
    # in its first month, and again in every month a later extract came in)
    assert row["sites_previous"] == 0 and row["undated_sites_previous"] == 0 and row["change"] == 0
    within = P.build_funnel(st, "2022-01-10", extract_date="2022-01-10", previous="2021-12-31")
    row = within[(within["district"] == P.CITY_TOTAL) & (within["stage"] == "construction")].iloc[0]
    assert row["sites_previous"] == 1 and row["undated_sites_previous"] == 1 and row["change"] == 0
    # a report too early to count it says the records list it
    early = P.track_taskforce(
        st, load_city(ROOT / "data" / "raw" / "karamay" / "city.toml"), "2021-11-30", "2022-01-10"
    )
    assert early.undated_not_counted == 1 and any("not counted on 2021-11-30" in x for x in early.notes)
    assert P.track_taskforce(st, early.city, "2021-12-31", "2022-01-10").undated_not_counted == 0
    # time in stage unknown: not overdue, listed apart
    assert P.list_stuck_sites(st, "2022-01-10", extract_date="2022-01-10").empty
    und = P.list_undated_sites(st, "2022-01-10", extract_date="2022-01-10")
    assert list(und["station_id"]) == ["U"] and "no stage dates" in und["reason"].iloc[0]
    assert pd.isna(und["days_over"].iloc[0])


def test_undated_sites_are_ordered_by_time_past_their_planned_on_air_date_then_stage():
    rows = [
        _site("P1", reached="planned", dates=False),
        _site("S1", reached="site_selection", dates=False),
        _site("L1", reached="planned", dates=False),
        _site("L2", reached="planned", dates=False),
    ]
    st = _frame(rows)
    st["planned_on_air_date"] = pd.to_datetime([None, None, "2021-09-30", "2021-06-30"])
    und = P.list_undated_sites(st, "2021-10-15", extract_date="2021-10-15")
    assert list(und["station_id"]) == ["L2", "L1", "S1", "P1"]  # longest past first, then the later stage
    assert list(und["days_past_planned_on_air"].iloc[:2]) == [107, 15]
    # the same order from the sites.csv the stage writes (dates as text)
    sites = P.derive_stages(st, "2021-10-15", extract_date="2021-10-15").astype(str)
    assert list(P.order_undated_sites(sites, "2021-10-15")["station_id"]) == ["L2", "L1", "S1", "P1"]


def test_decommissioned_left_out_and_bad_input_is_typed():
    st = _frame([_site("A"), _site("D", reached="site_access", status="decommissioned")])
    assert list(P.derive_stages(st, "2022-01-01")["station_id"]) == ["A"]
    with pytest.raises(BadInputError, match="missing columns"):
        P.derive_stages(st.drop(columns=["status"]), "2022-01-01")
    with pytest.raises(UsageError, match="not a date"):
        P.derive_stages(st, "2021-13-01")


def test_stages_come_in_station_order_whatever_the_row_order_and_leave_the_input_as_it_was():
    rows = [_site(sid, start=f"2021-0{1 + i % 5}-01", reached=STAGES[i % 6]) for i, sid in enumerate("QAZBYC")]
    rows += [_site(None, reached="site_access"), _site("M", reached="construction", dates=False, blocker="power_price")]
    rows += [_site("K", reached="site_access", status="decommissioned")]
    st = _frame(rows)
    st["planned_date"] = st["planned_date"].dt.strftime("%Y-%m-%d")  # text dates: parsed by the check
    shuffled = st.sample(frac=1, random_state=3)
    stages_on = P.StagesOn(shuffled, extract_date="2022-01-10")
    for day in ("2021-01-15", "2021-03-01", "2022-01-10"):
        expected = P.derive_stages(st, day, extract_date="2022-01-10")
        ids = expected["station_id"].tolist()
        assert ids == sorted(i for i in ids if isinstance(i, str)) + [i for i in ids if not isinstance(i, str)]
        pd.testing.assert_frame_equal(P.derive_stages(shuffled, day, extract_date="2022-01-10"), expected)
        # the columns counted, derived alone (a date only counted), then from the whole table at hand
        counted = P.StagesOn(shuffled, extract_date="2022-01-10").counted(day)
        pd.testing.assert_frame_equal(counted, expected[["district", "stage", "has_stage_dates", "status_at_extract"]])
        pd.testing.assert_frame_equal(stages_on(day), expected)
        pd.testing.assert_frame_equal(stages_on.counted(day), counted)
    assert "K" not in set(expected["station_id"]) and not pd.api.types.is_datetime64_any_dtype(shuffled["planned_date"])
    # one station_id twice: its rows stay in the order they came in (a stable sort, as before)
    twice = _frame([_site("B", reached="planned"), _site("A"), _site("B", reached="construction")])
    assert list(P.derive_stages(twice, "2022-01-10")["stage"]) == ["on_air", "planned", "construction"]


# --- funnel ---------------------------------------------------------------------------------


def test_funnel_counts_stages_by_district_and_the_change_in_a_month():
    st = _frame([_site("A", "西区", "2021-01-01"), _site("B", "东区", "2021-02-15"), _site("C", "东区", "2021-03-20")])
    f = P.build_funnel(st, "2021-03-31", districts=["西区", "东区"])
    assert f["previous_as_of"].iloc[0] == pd.Timestamp("2021-02-28")  # a month end's previous is a month end
    get = f.set_index(["district", "stage"])
    # A: access since 03-12; B: selection since 03-17; C: planned since 03-20
    assert get.loc[("西区", "site_access"), "sites"] == 1 and get.loc[("东区", "site_selection"), "sites"] == 1
    assert get.loc[(P.CITY_TOTAL, P.PIPELINE_TOTAL), "sites"] == 3
    assert get.loc[(P.CITY_TOTAL, P.PIPELINE_TOTAL), "sites_previous"] == 2  # C not planned yet on 02-28
    assert get.loc[(P.CITY_TOTAL, "planned"), "change"] == 0  # B planned -> selected, C new in planned
    later = P.build_funnel(st, "2021-06-30").set_index(["district", "stage"])
    assert later.loc[(P.CITY_TOTAL, "on_air"), "sites"] == 2  # A on air 05-06, B 06-20: they leave the pipeline
    assert later.loc[(P.CITY_TOTAL, "on_air"), "change"] == 1  # A was on air by 05-31 already
    assert later.loc[(P.CITY_TOTAL, P.PIPELINE_TOTAL), "sites"] == 1


def test_charts_name_the_files_the_pipeline_sites_came_from_not_a_tracking_sheet_never_sent(city, tmp_path):
    rows = [_site("A1", reached="construction"), _site("A2", reached="site_access"), _site("B1", reached="planned")]
    rows += [_site("C1"), _site("C2")]  # on air: their file is not the pipeline's source
    st = _frame(rows)
    st["source_file"] = [
        "data/raw/x/stations/联通规划站点.csv",
        "data/raw/x/stations/联通规划站点.csv",
        "data/raw/y/移动储备站.xlsx",
        "data/raw/x/stations/铁塔_跟踪表.xlsx",
        "data/raw/x/stations/铁塔_跟踪表.xlsx",
    ]
    r = P.track_taskforce(st, city, "2021-12-31", extract_date="2022-01-10")
    assert r.tracking == ["联通规划站点.csv", "移动储备站.xlsx"]  # most sites first
    assert P.describe_tracking_files(r.tracking, "zh") == "联通规划站点.csv、移动储备站.xlsx（清洗后）"
    assert P.describe_tracking_files(r.tracking, "en") == "联通规划站点.csv, 移动储备站.xlsx (cleaned)"
    five = [f"f{i}.csv" for i in range(5)]
    assert P.describe_tracking_files(five, "en") == "f0.csv, f1.csv, f2.csv and 2 more files (cleaned)"
    assert P.describe_tracking_files(five, "zh") == "f0.csv、f1.csv、f2.csv 等 5 个文件（清洗后）"
    assert P.describe_tracking_files([], "zh") == ""
    written = P.write_taskforce(r, tmp_path, charts=False)
    notes = json.loads((tmp_path / "taskforce_notes.json").read_text(encoding="utf-8"))
    assert tmp_path / "taskforce_notes.json" in written and notes["tracking_files"] == r.tracking
    # a table without its files (an older or hand-made one) is still tracked; the charts say "cleaned records"
    assert P.track_taskforce(st.drop(columns="source_file"), city, "2021-12-31").tracking == []


def _many_districts(n_sites, n_districts, seed=0):
    """n_sites at random stages (a tenth without stage dates) in n_districts districts, built by columns."""
    rng = np.random.default_rng(seed)
    reached = rng.integers(0, len(STAGES), n_sites)
    start = pd.Timestamp("2020-10-01") + pd.to_timedelta(rng.integers(0, 200, n_sites), unit="D")
    undated = rng.random(n_sites) < 0.1
    df = pd.DataFrame(
        {
            "station_id": [f"S{i}" for i in range(n_sites)],
            "operator": "CMCC",
            "district": [f"D{d:04d}" for d in rng.integers(0, n_districts, n_sites)],
            "status": np.array(STAGES)[reached],
            "blocker": None,
        }
    )
    for k, stage in enumerate(STAGES):
        days = pd.to_timedelta(30 * k, unit="D")
        df[f"{stage}_date"] = (start + days).where((reached >= k) & ~undated)
    df["is_on_air"] = df["on_air_date"].notna()
    return df


def test_funnel_of_thousands_of_districts_equals_a_plain_crosstab():
    st = _many_districts(5_000, 2_000)
    f = P.build_funnel(st, "2021-03-31")
    for when, col in (("2021-03-31", "sites"), ("2021-02-28", "sites_previous")):
        sites = P.derive_stages(st, when)
        expected = pd.crosstab(sites["district"], sites["stage"])
        got = f[f["district"] != P.CITY_TOTAL].pivot(index="district", columns="stage", values=col)
        assert got[expected.columns].loc[expected.index].equals(expected.rename_axis(columns="stage"))
        assert (got.drop(columns=expected.columns).to_numpy()[:, :-1] == 0).all()  # stages nobody is in
        pipeline = expected.drop(columns="on_air").sum(axis=1)
        assert got.loc[expected.index, P.PIPELINE_TOTAL].equals(pipeline.rename(P.PIPELINE_TOTAL))
        city = f[f["district"] == P.CITY_TOTAL].set_index("stage")[col]
        assert city[expected.columns].equals(expected.sum().rename(col).rename_axis("stage"))
    now = P.derive_stages(st, "2021-03-31")
    undated = now[~now["has_stage_dates"]]
    expected = pd.crosstab(undated["district"], undated["stage"])
    got = f[f["district"] != P.CITY_TOTAL].pivot(index="district", columns="stage", values="undated_sites")
    assert got[expected.columns].loc[expected.index].equals(expected.rename_axis(columns="stage"))
    assert got.drop(index=expected.index).to_numpy().sum() == 0


# --- supervision list -----------------------------------------------------------------------


def test_supervision_list_holds_sites_past_the_threshold_oldest_first():
    st = _frame(
        [
            _site("A", start="2021-01-01", reached="site_selection", blocker="site_selection"),  # selection since 01-31
            _site("B", start="2021-03-01", reached="site_selection"),  # since 03-31
            _site("C", start="2021-01-15", reached="construction", blocker="power_price"),  # construction since 04-15
            _site("D", start="2021-05-01", reached="planned"),  # planned since 05-01
        ]
    )
    sup = P.list_stuck_sites(st, "2021-05-20", stuck_days={"site_selection": 60, "construction": 45, "planned": 45})
    assert list(sup["station_id"]) == ["A"] and sup["days_in_stage"].iloc[0] == 109
    assert sup["days_over"].iloc[0] == 49 and sup["blocker"].iloc[0] == "site_selection"
    sup = P.list_stuck_sites(st, "2021-05-31", stuck_days={"site_selection": 60, "construction": 45, "planned": 45})
    assert list(sup["station_id"]) == ["A", "B", "C"]  # B 61 days > 60, C 46 > 45
    sup = P.list_stuck_sites(st, "2021-07-01", stuck_days={"site_selection": 60, "construction": 45, "planned": 45})
    assert list(sup["station_id"]) == ["A", "B", "C", "D"]  # longest in stage first
    assert list(sup["rank"]) == [1, 2, 3, 4]
    assert sup["days_in_stage"].is_monotonic_decreasing
    assert set(sup.columns) >= {"district", "operator", "blocker", "days_in_stage", "threshold_days", "stage"}


def test_thresholds_come_from_city_toml_with_defaults(tmp_path, city):
    assert P.stuck_days_of(city) == P.DEFAULT_STUCK_DAYS
    path = tmp_path / "other.toml"
    path.write_text(CITY_TOML + "\n[taskforce.stuck_days]\nconstruction = 10\n", encoding="utf-8")
    assert P.stuck_days_of(load_city(path))["construction"] == 10
    path.write_text(CITY_TOML + "\n[taskforce.stuck_days]\nbuilding = 10\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown stage 'building'"):
        P.stuck_days_of(load_city(path))
    karamay = P.stuck_days_of("karamay")
    assert set(karamay) == set(P.DEFAULT_STUCK_DAYS)


# --- durations and the bottom-up forecast ---------------------------------------------------


def test_known_durations_are_recovered():
    rng = np.random.default_rng(1)
    rows = []
    truth = {s: [] for s in STEPS}
    for i in range(41):
        steps = {s: int(rng.integers(5, 80)) for s in STEPS}
        for s, d in steps.items():
            truth[s].append(d)
        rows.append(
            _site(
                f"S{i:02d}",
                start=pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 200))),
                steps=steps,
            )
        )
    dur = P.measure_stage_durations(_frame(rows), "2022-01-01").set_index("stage")
    for s, days in truth.items():
        assert dur.loc[s, "median_days"] == pytest.approx(np.median(days))
        assert dur.loc[s, "p25_days"] == pytest.approx(np.percentile(days, 25), abs=0.05)
        assert dur.loc[s, "n_completed"] == 41 and dur.loc[s, "n_in_stage"] == 0
        assert dur.loc[s, "km_median_days"] == pytest.approx(np.sort(days)[20])  # no censoring: the middle one
    assert dur.loc["planned_to_on_air", "median_days"] == pytest.approx(np.median(np.sum(list(truth.values()), axis=0)))


def test_durations_count_only_what_was_observed_by_the_date():
    rows = [_site(f"S{i}", start="2021-01-01") for i in range(5)]  # selection after 30 days
    rows += [_site(f"L{i}", start="2021-01-01", steps={**STEPS, "planned": 90}) for i in range(5)]  # after 90
    dur = P.measure_stage_durations(_frame(rows), "2021-02-15").set_index("stage")
    assert dur.loc["planned", "n_completed"] == 5 and dur.loc["planned", "median_days"] == 30
    assert dur.loc["planned", "n_in_stage"] == 5  # the slow ones are still waiting (45 days so far)
    assert dur.loc["planned", "km_median_days"] == 30  # half done at 30 days; the rest wait >= 45
    assert dur.loc["site_selection", "n_completed"] == 0 and np.isnan(dur.loc["site_selection", "median_days"])


def test_expected_on_air_adds_the_rest_of_the_stage_and_the_later_medians():
    done = [_site(f"D{i}", start="2020-06-01") for i in range(9)]  # the stage times: 30/40/20/25/10
    st = _frame(
        done
        + [
            _site("C", start="2021-01-01", reached="construction"),  # construction since 04-01
            _site("P", start="2021-05-20", reached="planned"),  # planned since 05-20
            _site("O", start="2021-01-01", reached="site_selection"),  # selection since 01-31: overdue
            _site("U", reached="power_hookup", dates=False),  # no dates
        ]
    )
    exp = P.forecast_on_air_months(st, "2021-04-06", extract_date="2021-06-01").set_index("station_id")
    # C: 5 days into a 25-day stage, then 10 days of power hook-up
    assert exp.loc["C", "remaining_days"] == 30 and exp.loc["C", "expected_on_air_date"] == pd.Timestamp("2021-05-06")
    assert exp.loc["C", "expected_on_air_month"] == "2021-05"
    assert exp.loc["O", "remaining_days"] == 40 + 20 + 25 + 10 and "overdue" in exp.loc["O", "forecast_basis"]
    assert "U" not in exp.index  # no dates: not known to be in the pipeline before the extract it came in on
    at_extract = P.forecast_on_air_months(st, "2021-06-01", extract_date="2021-06-01").set_index("station_id")
    assert at_extract.loc["U", "remaining_days"] == 10 and "no stage dates" in at_extract.loc["U", "forecast_basis"]
    assert "P" not in exp.index  # planned after the report date
    bu = P.forecast_bottom_up(st, "2021-04-06", horizon=3, extract_date="2021-06-01").set_index("month_end")
    assert bu.loc["2021-04-30", "on_air_expected"] == 9
    assert bu.loc["2021-05-31", "on_air_expected"] == 9 + 1  # C by 05-06
    assert bu.loc["2021-07-31", "on_air_expected"] == 9 + 2  # O by 07-11
    assert bu["pipeline_left"].iloc[-1] == 0
    with pytest.raises(UsageError):
        P.forecast_bottom_up(st, "2021-04-06", horizon=0)


@pytest.mark.parametrize("n_done", [7, 8])  # an odd and an even number of longer spells
def test_the_rest_of_a_stage_is_the_median_of_the_longer_completed_spells(n_done):
    rng = np.random.default_rng(n_done)
    lengths = rng.integers(5, 80, n_done).tolist()
    done = [_site(f"D{i}", start="2020-03-01", steps={**STEPS, "site_selection": d}) for i, d in enumerate(lengths)]
    st = _frame(done + [_site("W", start="2021-03-01", reached="site_selection")])
    exp = P.forecast_on_air_months(st, "2021-04-06").set_index("station_id")
    spent = exp.loc["W", "days_in_stage"]
    longer = np.array([d for d in lengths if d > spent], float)
    later = sum(STEPS[s] for s in P.PIPELINE_STAGES[2:])
    want = float(np.median(longer)) - spent + later if len(longer) else float(np.median(lengths)) + later
    assert exp.loc["W", "remaining_days"] == round(want, 1)


def test_no_completed_spell_gives_no_forecast_but_keeps_the_site():
    st = _frame([_site("A", start="2021-01-01", reached="site_access")])
    exp = P.forecast_on_air_months(st, "2021-04-01")
    assert len(exp) == 1 and pd.isna(exp["expected_on_air_date"].iloc[0])
    assert "no completed spell" in exp["forecast_basis"].iloc[0]


def test_days_to_air_are_drawn_from_the_observed_stage_durations():
    done = [_site(f"D{i}", start="2020-06-01") for i in range(9)]  # every stage as in STEPS
    st = _frame(
        done
        + [
            _site("C", start="2021-01-01", reached="construction"),  # construction since 04-01
            _site("O", start="2021-01-01", reached="site_selection"),
        ]
    )  # selection since 01-31
    sites, days = P.sample_days_to_air(st, "2021-04-06", 50, np.random.default_rng(0))
    col = dict(zip(sites["station_id"], range(len(sites))))
    assert set(col) == {"C", "O"}
    assert np.all(days[:, col["C"]] == 20 + 10)  # the rest of a 25-day stage, then power hook-up
    # O waited 65 days, longer than any completed 40-day selection: as long again, then the stages
    assert np.all(days[:, col["O"]] == 65 + 40 + 20 + 25 + 10)
    _, freed = P.sample_days_to_air(st, "2021-04-06", 50, np.random.default_rng(0), freed={"O"})
    assert np.all(freed[:, col["O"]] <= 24 + 20 + 25 + 10)  # selection done within April
    assert np.all(freed[:, col["C"]] == days[:, col["C"]])


def test_days_to_air_of_a_site_without_a_stage_date_or_a_completed_stage():
    """A pipeline site whose current stage has no date (an empty 立项日期 beside 已立项) spent an unknown time
    in it, and a stage no site has completed yet gives no date at all: both on the construction season's
    clock, where both were tracebacks (NaT in the season's calendar; no uniform drawn for a stage)."""
    season = np.ones(12)
    season[[0, 1]] = 0.2
    done = [_site(f"D{i}", start="2020-06-01", reached="site_access") for i in range(4)]
    undated = _site("U", start="2021-01-01", reached="planned", dates=False, status="planned")
    st = _frame(done + [undated, _site("S", start="2021-01-01", reached="site_selection")])
    sites, days = P.sample_days_to_air(st, "2021-04-06", 20, np.random.default_rng(0), season=season)
    col = dict(zip(sites["station_id"], range(len(sites))))
    assert {"U", "S"} <= set(col)
    # construction was never completed by anyone: no basis for a date, for either site
    assert np.isinf(days[:, col["U"]]).all() and np.isinf(days[:, col["S"]]).all()
    from analysis.season import working_days

    start = pd.Series(pd.to_datetime(["2021-01-01", None]))
    assert np.isnan(working_days(start, "2021-03-11", season)[1])
    assert working_days(start, "2021-03-11", season)[0] == pytest.approx(59 * 0.2 + 10)
    assert np.isnan(working_days(pd.Series(pd.to_datetime([None])), "2021-03-11", season)).all()


def test_km_support_counts_as_the_time_by_time_loop():
    """Kaplan-Meier masses from counts made at once equal those of one pass over the spells per time."""

    def by_loop(durations, observed):
        times = np.unique(durations[observed])
        surv, masses = 1.0, []
        for t in times:
            drop = surv * ((durations == t) & observed).sum() / (durations >= t).sum()
            masses.append(drop)
            surv -= drop
        return np.r_[times, np.inf], np.r_[masses, max(surv, 0.0)]

    rng = np.random.default_rng(1)
    for trial in range(60):
        n = int(rng.integers(1, 300))
        d = rng.integers(0, 60, n).astype(float) if trial % 2 else np.round(rng.gamma(2, 20, n), 3)
        observed = rng.random(n) < rng.random()
        if observed.any():
            assert all(np.array_equal(a, b) for a, b in zip(P._km_support(d, observed), by_loop(d, observed)))


def _days_to_air_one_by_one(support, rng, sites, spent, n_paths, freed, month_left):
    """The site-by-site loop `sample_days_to_air` replaced: `rng.choice` per stage and site."""

    def draw_stage(times, mass, spent):
        if not np.isfinite(times[0]):
            return np.full(n_paths, np.inf)
        finite = np.isfinite(times)
        fresh = rng.choice(times[finite], size=n_paths, p=mass[finite] / mass[finite].sum())
        waited = float(spent) if spent is not None else float(times[finite].max())
        p = mass if spent is None else np.where(times > spent, mass, 0.0)
        if p.sum() <= 0:
            return waited + fresh
        draw = rng.choice(times, size=n_paths, p=p / p.sum())
        return np.where(np.isfinite(draw), draw - (spent or 0.0), waited + fresh)

    days = np.zeros((n_paths, len(sites)))
    for j, (sid, stage, s) in enumerate(zip(sites["station_id"], sites["stage"], spent)):
        if sid in freed:
            total = rng.uniform(0, month_left, n_paths)
        else:
            total = draw_stage(*support[stage], None if np.isnan(s) else float(s))
        for later in P.PIPELINE_STAGES[P.PIPELINE_STAGES.index(stage) + 1 :]:
            total = total + draw_stage(*support[later], None)
        days[:, j] = total
    return days


@pytest.mark.parametrize("bins", [1 << 14, 4])  # searched, and looked up in a table of 4 bins
def test_days_to_air_are_the_draws_of_a_site_by_site_loop(monkeypatch, bins):
    """Grouped draws give the very numbers of one `rng.choice` per site and stage from the same seed
    (censored tails, sites waiting longer than any finished, freed sites, blocks of sites)."""
    monkeypatch.setattr(P, "_TABLE_BINS", bins)
    monkeypatch.setattr(P, "_TABLE_MIN_UNIFORMS", 8 * bins)  # bins=4: nearly every group looked up
    rng = np.random.default_rng(4)
    steps = [dict(zip(STEPS, rng.integers(3, 60, len(STEPS)).tolist())) for _ in range(40)]
    done = [_site(f"D{i}", start=f"2020-{1 + i % 12:02d}-0{1 + i % 9}", steps=s) for i, s in enumerate(steps)]
    reached = list(P.PIPELINE_STAGES) * 6
    waiting = [_site(f"W{i}", start=f"2021-0{1 + i % 3}-1{i % 10}", reached=r) for i, r in enumerate(reached)]
    st = _frame(done + waiting + [_site("U", reached="site_access", dates=False)])
    monkeypatch.setattr(P, "_SITES_PER_BLOCK", 7)
    freed = {"W3", "W11", "U"}
    # (the extract on the date: the undated U is in the pipeline on it)
    sites, days = P.sample_days_to_air(st, "2021-04-06", 30, np.random.default_rng(9), "2021-04-06", freed)
    spells = P._spells(P._check(st), pd.Timestamp("2021-04-06"), None)
    support = {
        s: P._km_support(sp["days"].to_numpy(float), sp["completed"].to_numpy(bool))
        for s, sp in ((s, spells[spells["stage"] == s]) for s in P.PIPELINE_STAGES)
    }
    spent = (pd.Timestamp("2021-04-06") - sites["stage_date"]).dt.days.where(sites["days_in_stage"].notna())
    want = _days_to_air_one_by_one(support, np.random.default_rng(9), sites, spent.to_numpy(float), 30, freed, 24)
    assert {w["station_id"] for w in waiting} | freed <= set(sites["station_id"]) and len(sites) > 7
    assert np.array_equal(days, want)


def test_working_days_follow_the_construction_season():
    from analysis.season import working_days

    factors = np.ones(12)
    factors[[0, 1]] = 0.0  # no work in January and February
    start = pd.Series(pd.to_datetime(["2021-01-01", "2021-06-01"]))
    assert list(working_days(start, "2021-03-11")) == [69, -82]
    assert list(working_days(start, "2021-03-11", factors)) == [10, -82]
    assert list(working_days(start, pd.Series(pd.to_datetime(["2021-03-11", "2021-06-11"])), factors)) == [10, 10]
    assert list(working_days(start, pd.Series(pd.to_datetime(["2021-03-11", "2021-06-11"])))) == [69, 10]


def test_one_split_of_every_target_adds_up_and_matches_the_year_table(city):
    rows = [_site("W0", "西区", "2020-01-01"), _site("E0", "东区", "2020-01-01")]
    rows += [_site(f"W{i}", "西区", "2020-12-01") for i in range(1, 4)] + [_site("E1", "东区", "2020-12-01")]
    st = _frame(rows)
    split = P.district_targets(st, "2021-03-01", city)
    assert list(split["target_date"].dt.year.unique()) == [2021]
    assert split["district_target"].sum() == 12 and split["target_add"].sum() == 10
    year = P.split_district_targets(st, "2021-03-01", city).set_index("district")
    for r in split.itertuples():
        assert r.district_target == year.loc[r.district, "target_on_air"]
    assert P.district_targets(st, "2022-01-05", city).empty  # no target left


# --- district targets -----------------------------------------------------------------------


def test_district_targets_split_by_the_planned_sites_when_the_city_gives_no_share(city):
    rows = [_site("W0", "西区", "2020-01-01"), _site("E0", "东区", "2020-01-01")]  # on air 2020
    rows += [_site(f"W{i}", "西区", "2020-12-01") for i in range(1, 4)]  # 3 planned in 2020
    rows += [_site("E1", "东区", "2020-12-01")]  # 1 planned in 2020
    st = _frame(rows)
    t = P.split_district_targets(st, "2021-03-01", city).set_index("district")
    assert t.loc[P.CITY_TOTAL, "baseline_on_air"] == 2 and t.loc[P.CITY_TOTAL, "target_add"] == 10
    assert t.loc["西区", "target_share"] == 0.75 and t.loc["东区", "target_share"] == 0.25
    assert (t.loc["西区", "target_add"], t.loc["东区", "target_add"]) == (
        8,
        2,
    )  # 7.5/2.5: whole stations, sum 10, a tie to the larger
    assert "split by the 4 sites in the pipeline on 2020-12-31" in t.loc["西区", "share_basis"]
    # 4 sites are too few to split a city's targets by: the basis says so, and reads in Chinese
    assert "(only 4 sites: a rough split; set target_share in city.toml)" in t.loc["西区", "share_basis"]
    from analysis.report.chrome import translate_note

    assert "分解较粗" in translate_note(t.loc["西区", "share_basis"], "zh")
    t = P.split_district_targets(st, "2021-12-31", city).set_index("district")
    assert t.loc["西区", "achieved_add"] == 3 and t.loc[P.CITY_TOTAL, "achieved_add"] == 4
    assert t.loc[P.CITY_TOTAL, "achieved_pct"] == 40.0


def test_district_targets_use_the_city_shares(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text(
        CITY_TOML.replace('name_en = "West"', 'name_en = "West"\ntarget_share = 0.4').replace(
            'name_en = "East"', 'name_en = "East"\ntarget_share = 0.6'
        ),
        encoding="utf-8",
    )
    st = _frame(
        [_site("W0", "西区", "2020-01-01"), _site("E0", "东区", "2020-01-01"), _site("X", "西区", "2021-02-01")]
    )
    t = P.split_district_targets(st, "2021-03-01", load_city(path)).set_index("district")
    assert (t.loc["西区", "target_add"], t.loc["东区", "target_add"]) == (4, 6)
    # X: 28 days planned on 03-01; the 2020 sites' stage times put it on air in June
    assert t.loc["西区", "in_pipeline"] == 1 and t.loc["西区", "expected_add"] == 1
    assert t.loc["西区", "share_basis"] == "city.toml target_share"


# --- the bundled sample ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The bundled Karamay records, cleaned as the README says (2 s)."""
    out = tmp_path_factory.mktemp("karamay")
    assert (
        main(
            [
                "clean",
                "--input",
                str(ROOT / "data/raw/karamay/stations"),
                "--city",
                "karamay",
                "--out",
                str(out),
                "--as-of",
                "2022-01-10",
            ]
        )
        == 0
    )
    from analysis.clean.stations import read_stations

    return out / "stations.parquet", read_stations(out / "stations.parquet")


REPORT_DATES = ["2021-03-22"] + [str(d.date()) for d in pd.date_range("2021-01-31", "2021-12-31", freq="ME")]


def test_sample_tables_agree_with_the_station_counts(sample):
    from analysis.forecast import monthly_on_air

    _, st = sample
    city = load_city("karamay")
    monthly = monthly_on_air(st, "2021-12-31")
    prev_funnel = None
    for d in REPORT_DATES:
        r = P.track_taskforce(st, city, d, extract_date="2022-01-10")
        f = r.funnel.set_index(["district", "stage"])
        on_air = int((st["on_air_date"] <= pd.Timestamp(d)).sum())
        existing = int(
            (
                (st[[f"{s}_date" for s in STAGES]] <= pd.Timestamp(d)).any(axis=1)
                | st[[f"{s}_date" for s in STAGES]].isna().all(axis=1)
            ).sum()
        )
        assert f.loc[(P.CITY_TOTAL, "on_air"), "sites"] == on_air
        if pd.Timestamp(d).is_month_end:
            assert on_air == monthly.loc[pd.Timestamp(d)]
        # a site that goes on air leaves the pipeline: pipeline + on air = every site existing on d
        assert f.loc[(P.CITY_TOTAL, P.PIPELINE_TOTAL), "sites"] + on_air == existing
        city_rows = r.funnel[r.funnel["district"] == P.CITY_TOTAL].set_index("stage")["sites"]
        district_sum = r.funnel[r.funnel["district"] != P.CITY_TOTAL].groupby("stage")["sites"].sum()
        assert (city_rows == district_sum.reindex(city_rows.index)).all()
        assert (r.funnel["change"] == r.funnel["sites"] - r.funnel["sites_previous"]).all()
        if prev_funnel is not None and pd.Timestamp(d).is_month_end and d != "2021-01-31":
            assert (r.funnel["sites_previous"].to_numpy() == prev_funnel["sites"].to_numpy()).all()
        if pd.Timestamp(d).is_month_end:
            prev_funnel = r.funnel
        # the supervision list: sites in the pipeline only, each past its threshold
        sup = r.supervision
        assert (sup["days_in_stage"] > sup["threshold_days"]).all()
        assert set(sup["station_id"]) <= set(r.sites.loc[r.sites["stage"] != "on_air", "station_id"])
        # the expected months: one per site in the pipeline, all after the report date
        assert len(r.expected) == f.loc[(P.CITY_TOTAL, P.PIPELINE_TOTAL), "sites"]
        assert (r.expected["expected_on_air_date"].dropna() >= pd.Timestamp(d)).all()
        # district targets: 230 to add from the 216 of 2020-12-31, in whole stations
        t = r.districts.set_index("district")
        assert t.loc[P.CITY_TOTAL, "baseline_on_air"] == 216 and t.loc[P.CITY_TOTAL, "target_add"] == 230
        assert t.drop(P.CITY_TOTAL)["target_add"].sum() == 230
        assert t.loc[P.CITY_TOTAL, "achieved_add"] == on_air - 216
        assert t.loc[P.CITY_TOTAL, "in_pipeline"] == f.loc[(P.CITY_TOTAL, P.PIPELINE_TOTAL), "sites"]
    # on the extract date every one of the 70 planned sites is in its reported stage
    r = P.track_taskforce(st, city, "2022-01-10", extract_date="2022-01-10")
    counts = r.funnel[r.funnel["district"] == P.CITY_TOTAL].set_index("stage")["sites"]
    assert counts[P.PIPELINE_TOTAL] == 70 and counts["on_air"] == 448
    reported = st[st["status"] != "on_air"]["status"].value_counts()
    assert all(counts[s] == n for s, n in reported.items())


def test_cli_writes_the_tables_the_same_twice(sample, tmp_path, capsys):
    parquet, _ = sample
    outs = []
    for i in range(2):
        out = tmp_path / f"o{i}"
        assert (
            main(
                [
                    "taskforce",
                    "--stations",
                    str(parquet),
                    "--city",
                    "karamay",
                    "--as-of",
                    "2021-12-31",
                    "--out",
                    str(out),
                    "--no-charts",
                ]
            )
            == 0
        )
        outs.append(out)
    assert "on the supervision list" in capsys.readouterr().out
    for name in ("funnel.csv", "supervision_list.csv", "district_targets.csv"):
        data = (outs[0] / name).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and data == (outs[1] / name).read_bytes()
    notes = json.loads((outs[0] / "taskforce_notes.json").read_text(encoding="utf-8"))
    assert notes["extract"] == "2022-01-10"  # from clean_summary.json beside the parquet
    # the charts' source: the file the pipeline sites came from, not the parquet's name
    assert notes["tracking_files"] == ["铁塔_5G站址建设跟踪表.xlsx"] and notes["source"] == ""
    sup = pd.read_csv(outs[0] / "supervision_list.csv", encoding="utf-8-sig")
    assert list(sup["rank"]) == list(range(1, len(sup) + 1)) and len(sup) > 0


def test_cli_failures_are_one_line(tmp_path, capsys):
    bad = tmp_path / "x.parquet"
    bad.write_text("not parquet", encoding="utf-8")
    assert (
        main(
            [
                "taskforce",
                "--stations",
                str(bad),
                "--city",
                "karamay",
                "--as-of",
                "2021-03-22",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 1
    )
    assert main(
        [
            "taskforce",
            "--stations",
            str(bad),
            "--city",
            "nowhere",
            "--as-of",
            "2021-03-22",
            "--out",
            str(tmp_path / "o"),
        ]
    ) in (1, 2)
    err = capsys.readouterr().err
    assert all(line.startswith("error: ") for line in err.strip().splitlines())


def test_charts_have_title_units_source_and_date(sample):
    import matplotlib.pyplot as plt

    _, st = sample
    r = P.track_taskforce(st, "karamay", "2021-12-31", extract_date="2022-01-10", source="sample")
    for plot in (P.plot_funnel, P.plot_blockers, P.plot_days_stuck):
        for lang in ("zh", "en"):
            fig = plot(r, lang=lang)
            texts = " ".join(t.get_text() for t in fig.texts)
            ax = fig.axes[0]
            assert "2021-12-31" in ax.get_title() and "sample" in texts and "2022-01-10" in texts
            assert ax.get_xlabel() or ax.get_ylabel()
            plt.close(fig)
    with pytest.raises(UsageError):
        P.plot_funnel(r, lang="fr")


def test_district_charts_draw_the_busiest_districts_and_one_bar_for_the_rest(city):
    import matplotlib.pyplot as plt

    st = _many_districts(600, 40, seed=3)
    r = P.track_taskforce(st, city, "2021-03-31")
    pipeline = r.funnel[(r.funnel["stage"] == P.PIPELINE_TOTAL) & (r.funnel["district"] != P.CITY_TOTAL)]
    busiest = pipeline.sort_values("sites", ascending=False, kind="stable")["district"].iloc[0]
    for plot in (P.plot_funnel, P.plot_blockers):
        fig = plot(r, lang="en")
        ax = fig.axes[0]
        labels = [
            t.get_text() for t in (ax.get_legend().get_texts() if plot is P.plot_funnel else ax.get_yticklabels())
        ]
        n_rest = len(pipeline) - P.MAX_CHART_DISTRICTS + 1  # the 40 and the city's own two
        assert busiest in labels and f"{n_rest} other districts" in labels
        assert len([lab for lab in labels if lab.startswith("D")]) == P.MAX_CHART_DISTRICTS - 1
        drawn = sum(p.get_height() if plot is P.plot_funnel else p.get_width() for p in ax.patches)
        assert drawn == pipeline["sites"].sum()  # nothing lost in the "other" bar
        plt.close(fig)


def test_the_fallback_split_says_when_it_is_rough_or_equal(city):
    """No site in the pipeline at the year's start: the split by the sites added since says it is rough
    when they are few, and with none at all the equal split says so (it said 'split by the sites')."""
    old = [_site("W0", "西区", "2019-06-01"), _site("E0", "东区", "2019-06-01")]  # on air before 2020-12-31
    new = [_site("W1", "西区", "2021-01-15"), _site("E1", "东区", "2021-01-15")]
    share, basis = P.district_target_shares(_frame(old + new), "2021-12-31", city)
    assert "split by the sites on air since then" in basis and "(only 2 sites: a rough split" in basis
    assert share.to_dict() == {"西区": 0.5, "东区": 0.5}
    share, basis = P.district_target_shares(_frame(old), "2021-12-31", city)
    assert basis.endswith("nor any since: split equally (set target_share in city.toml)")


def test_a_district_whose_sites_are_undated_is_not_given_a_task_of_zero(city):
    rows = [_site("W0", "西区", "2020-01-01"), _site("E0", "东区", "2020-01-01")]  # on air in 2020
    rows += [_site(f"E{i}", "东区", "2021-02-01") for i in range(1, 4)]  # 东区 adds 3 in 2021
    rows += [_site("W1", "西区", "2020-12-01", reached="site_selection")]  # dated: in the pipeline on 2020-12-31
    rows += [_site(f"U{i}", "东区", reached="planned", dates=False) for i in range(2)]  # from the October sheet
    st = _frame(rows)
    t = P.split_district_targets(st, "2021-10-15", city, extract_date="2021-10-15").set_index("district")
    # split by the dated site alone, 东区 got 0 of the year's task though it added 3 and has 2 planned
    assert t.loc["东区", "target_share"] > 0 and t.loc["东区", "target_add"] > 0
    basis = t.loc["东区", "share_basis"]
    assert "2 sites in the pipeline have no stage dates" in basis and "sites on air since then" in basis
    from analysis.report.chrome import translate_note

    assert "无阶段日期" in translate_note(basis, "zh") and "no stage dates" in translate_note(basis, "en")
    # every site dated: the baseline pipeline split as before
    dated = _frame(rows[:-2])
    assert "in the pipeline on 2020-12-31" in P.split_district_targets(dated, "2021-10-15", city)["share_basis"][0]


def test_the_supervision_list_shows_what_the_sheet_said_when_the_stations_carry_it():
    rows = [_site("A", start="2021-01-01", reached="site_selection", blocker="site_access", operator="unknown")]
    rows += [_site(f"D{i}", start="2020-06-01") for i in range(3)]
    bare = _frame(rows)
    sheet = bare.assign(
        blocker_detail=["物业不同意进场", None, None, None],
        responsible=["城区住建局", None, None, None],
        planned_on_air_date=pd.to_datetime(["2021-04-30", None, None, None]),
    )
    sup = P.list_stuck_sites(sheet, "2021-05-20", extract_date="2021-05-20")
    row = sup.iloc[0]
    assert (row["blocker_detail"], row["responsible"]) == ("物业不同意进场", "城区住建局")
    assert row["planned_on_air_date"] == pd.Timestamp("2021-04-30") and row["days_past_planned_on_air"] == 20
    # a table without those columns works as before, the columns empty
    plain = P.list_stuck_sites(bare, "2021-05-20", extract_date="2021-05-20").iloc[0]
    assert pd.isna(plain["blocker_detail"]) and pd.isna(plain["planned_on_air_date"])
    from types import SimpleNamespace

    from analysis.report.pages.taskforce import supervision_table

    for lang, words in (
        ("zh", ("物业不同意进场", "城区住建局", "2021-04-30（已过 20 天）", "未注明")),
        ("en", ("物业不同意进场", "城区住建局", "2021-04-30 (20 days ago)", "not stated")),
    ):
        ctx = SimpleNamespace(
            taskforce=lambda: SimpleNamespace(supervision=sup),
            lang=lang,
            city=load_city(ROOT / "data" / "raw" / "karamay" / "city.toml"),
        )
        cells = " ".join(supervision_table(ctx).astype(str).iloc[0])
        assert all(w in cells for w in words), cells
        plain_ctx = SimpleNamespace(
            taskforce=lambda: SimpleNamespace(
                supervision=P.list_stuck_sites(bare, "2021-05-20", extract_date="2021-05-20")
            ),
            lang=lang,
            city=ctx.city,
        )
        assert len(supervision_table(plain_ctx).columns) == 8  # no empty columns for what no sheet said


def test_the_page_says_how_many_statuses_were_not_understood_and_why_the_forecast_counts_fewer(tmp_path):
    from types import SimpleNamespace

    from analysis.report.pages.taskforce import pipeline_caveats

    sites = pd.DataFrame(
        {
            "station_id": ["A", "P", "U1", "U2"],
            "district": "东区",
            "operator": "CMCC",
            "stage": ["on_air", "planned", "unknown", "unknown"],
            "blocker": None,
            "has_stage_dates": [True, True, False, False],
        }
    )
    (tmp_path / "quarantine.csv").write_text(
        "source_file,source_row,fate,reason,site_code,name,status\n"
        "a.xlsx,3,quarantined,missing_coordinates,T11,盂县011规划站,选址\n"
        "b.xlsx,3,quarantined,missing_coordinates,T11,盂县011规划站,选址\n"  # the next week's sheet: one site
        "a.xlsx,4,quarantined,cancelled,T07,城区007规划站,选址\n"  # cancelled by the sheet: no loss
        "a.xlsx,5,quarantined,outside_city,X1,某站,已开通\n"  # on air: not a pipeline site
        "a.xlsx,6,quarantined,outside_city,Y1,邻市站,在建\n"  # outside the city: said apart, not a loss
        "a.xlsx,7,quarantined,other_city,Z1,晋中站,规划\n",  # another city's (its city column): no loss
        encoding="utf-8",
    )
    tf = SimpleNamespace(
        sites=sites,
        undated=P.order_undated_sites(sites, "2021-10-15"),  # (as the stage writes it: undated_sites.csv)
        extract=pd.Timestamp("2021-10-15"),
        previous=pd.Timestamp("2021-09-15"),
    )
    summary = {"notes": {"status_words_not_understood": {"储备": 3, "设备安装": 6}}}
    ctx = SimpleNamespace(taskforce=lambda: tf, lang="zh", clean_summary=summary, cache={"folder": str(tmp_path)})
    said = "".join(pipeline_caveats(ctx))
    assert "在途站址中 2 个无阶段日期" in said and "2021-10-15" in said and "上述变化只计有阶段日期的站址" in said
    assert "2 个在途站址的状态未能识别（表中写作：储备、设备安装）" in said and "阶段已知的 1 个" in said
    assert "另有 1 个尚未开通的站址在数据清洗中被隔离" in said and "缺少坐标 1 个" in said
    assert "另有 1 个尚未开通的站址位于市域外" in said and "他市" not in said.split("位于市域外")[0]
    ctx.lang = "en"
    assert "not understood (the sheets say: Chu Bei (储备), She Bei An Zhuang (设备安装))" in "".join(
        pipeline_caveats(ctx)
    )
    # nothing to say: no sentence
    tf.sites = sites.assign(stage="planned", has_stage_dates=True)
    tf.undated = P.order_undated_sites(tf.sites, "2021-10-15")
    ctx.cache = {}
    assert pipeline_caveats(ctx) == []


def test_a_planned_on_air_date_says_whether_it_has_passed():
    from analysis.report.pages.taskforce import _planned_label

    assert _planned_label(pd.Timestamp("2021-06-30"), 107, "zh") == "2021-06-30（已过 107 天）"
    assert _planned_label(pd.Timestamp("2021-12-31"), -77, "zh") == "2021-12-31（未到）"
    assert _planned_label(pd.Timestamp("2021-10-15"), 0, "en") == "2021-10-15 (not yet)"
    assert _planned_label(pd.NaT, pd.NA, "en") == "–"


@pytest.mark.parametrize("sheet_columns", [False, True])
def test_the_stage_writes_what_the_page_lists_apart_with_or_without_the_sheet_columns(city, tmp_path, sheet_columns):
    """The stage writes the sites of unknown time in stage once (undated_sites.csv, catalogued and stamped) with
    what their sheet said when the stations have it; the page reads that list instead of deriving it again from
    sites.csv on every call (a station table without the sheet's columns still works)."""
    from analysis.catalog import STAGE_FILES, read_stamp
    from analysis.report.outputs import read_taskforce, stamp_is_current
    from analysis.report.pages.taskforce import undated_sites

    st = _frame(
        [
            _site("A", "西区", "2020-06-01"),
            _site("U", "东区", reached="site_selection", dates=False),
            _site("V", "西区", reached="construction", dates=False, blocker="power_price"),
        ]
    )
    if sheet_columns:
        st = st.assign(blocker_detail=[None, "村民阻工", None], responsible=[None, "东区政府", None])
        st["planned_on_air_date"] = pd.to_datetime([None, "2021-09-30", None])
    as_of = pd.Timestamp("2021-10-15")
    P.taskforce_to_folder(st, city, as_of, tmp_path, extract_date="2021-10-15", fig_lang=None)
    stamp = read_stamp(tmp_path)
    assert "undated_sites.csv" in STAGE_FILES["taskforce"] and "undated_sites.csv" in stamp["files"]
    # a stage folder written before the stage wrote the list is stale: the report runs the stage again
    older = {**stamp, "inputs_sha256": "k", "files": [f for f in stamp["files"] if f != "undated_sites.csv"]}
    assert stamp_is_current({**older, "files": stamp["files"]}, "k", None, None)
    assert not stamp_is_current(older, "k", None, None)
    tf = read_taskforce(tmp_path)
    listed = undated_sites(SimpleNamespace(taskforce=lambda: tf))
    assert list(listed.columns) == P.SUPERVISION_COLUMNS
    # past its planned date first; without plans the later stage first
    assert list(listed["station_id"]) == (["U", "V"] if sheet_columns else ["V", "U"])
    assert list(listed["station_id"]) == list(P.list_undated_sites(st, as_of, "2021-10-15")["station_id"])
    assert listed.set_index("station_id").loc["V", "blocker"] == "power_price"
    if sheet_columns:
        assert listed["blocker_detail"].iloc[0] == "村民阻工" and listed["days_past_planned_on_air"].iloc[0] == 15
    assert tf.supervision.empty  # never "overdue" unknown


def test_the_list_of_undated_sites_is_written_with_its_header_when_there_is_none(city, tmp_path):
    from analysis.report.outputs import read_taskforce

    st = _frame([_site("A", "西区", "2020-06-01"), _site("B", "东区", "2021-06-01", reached="construction")])
    P.taskforce_to_folder(st, city, pd.Timestamp("2021-10-15"), tmp_path, extract_date="2021-10-15", fig_lang=None)
    header = (tmp_path / "undated_sites.csv").read_text(encoding="utf-8-sig").splitlines()
    assert header == [",".join(P.SUPERVISION_COLUMNS)]
    tf = read_taskforce(tmp_path)
    assert tf.undated.empty and list(tf.undated.columns) == P.SUPERVISION_COLUMNS


def test_a_blocker_not_known_on_the_date_is_a_flag_the_stage_writes_not_words_of_its_note(city, tmp_path):
    """`blocker_keys` read 'not known' from the English words of the note: new words would have turned those
    sites into 'no blocker reported' on the charts, the pages and the levers. The stage writes the flag, sites.csv
    carries it, every reader counts by it; a table without it (an older stage's) is a typed error, not a guess."""
    from analysis.report.outputs import read_taskforce

    st = _frame(
        [
            _site("L", start="2021-01-01", reached="site_access", blocker="power_price"),  # left selection since
            _site("S", start="2021-01-01", reached="site_selection", blocker="other"),  # still where it was
            _site("N", start="2021-01-01", reached="site_selection"),  # still there, no blocker reported
        ]
    )
    sites = P.derive_stages(st, "2021-02-15", extract_date="2021-10-15").set_index("station_id")
    assert sites[P.BLOCKER_NOT_KNOWN].to_dict() == {"L": True, "N": False, "S": False}
    want = {"L": "not_known", "N": "none", "S": "other"}
    assert P.blocker_keys(sites).to_dict() == want
    assert P.blocker_keys(sites.assign(blocker_note="改写的说明")).to_dict() == want  # the note's words are free
    # as the stage writes it and the pages read it back (the flag as text)
    P.taskforce_to_folder(st, city, pd.Timestamp("2021-02-15"), tmp_path, extract_date="2021-10-15", fig_lang=None)
    back = read_taskforce(tmp_path).sites.set_index("station_id")
    assert P.blocker_keys(back).to_dict() == want
    assert P.rank_blockers_by_record(back.reset_index(), "2021-02-15").set_index("blocker")["sites"].to_dict() == {
        "not_known": 1,
        "none": 1,
        "other": 1,
    }
    with pytest.raises(BadInputError, match="is_blocker_not_known.*run the taskforce stage again"):
        P.blocker_keys(back.drop(columns=P.BLOCKER_NOT_KNOWN))


def test_a_report_too_early_to_count_undated_sites_says_the_records_list_them():
    """'No site in the pipeline: the records hold no site planned' was said of a tracker listing 14 undated sites."""
    from types import SimpleNamespace

    from analysis.report.pages.taskforce import blocker_sentence

    tf = SimpleNamespace(
        sites=pd.DataFrame({"stage": ["on_air"], "blocker": [None], "is_blocker_not_known": [False]}),
        extract=pd.Timestamp("2021-10-15"),
        undated_not_counted=14,
    )
    ctx = SimpleNamespace(taskforce=lambda: tf, lang="zh", as_of=pd.Timestamp("2021-08-31"))
    said = blocker_sentence(ctx)
    assert "14 个无阶段日期" in said and "2021-09-15" in said and "没有尚未开通" not in said
    tf.undated_not_counted = 0
    assert "没有尚未开通的规划或在建站址" in blocker_sentence(ctx)


def test_stations_on_air_per_district_are_counted_on_the_district_column_alone(monkeypatch):
    """`_on_air_by_district` counts as `stations[on_air].groupby("district").size()` did, without taking
    the rows of every column (a national table's text columns: about a second of a county forecast)."""
    from analysis.schemas import on_air_at

    st = pd.DataFrame(
        {
            "district": ["西区", "东区", "西区", None, "北区", "西区"],
            "on_air_date": pd.to_datetime(["2020-01-05", "2020-02-01", "2021-05-01", "2020-01-01", None, "2020-03-01"]),
            "off_air_date": pd.to_datetime([None, None, None, None, None, "2020-06-01"]),
            "name": ["a", "b", "c", "d", "e", "f"],
        }
    )
    order = ["东区", "西区", "南区"]
    on = on_air_at(st, pd.Timestamp("2020-12-31"))
    expected = st[on].groupby("district").size().reindex(order, fill_value=0)

    def refuse(*args, **kwargs):
        raise AssertionError("took the rows of the whole table")

    monkeypatch.setattr(pd.DataFrame, "_getitem_bool_array", refuse)
    got = P._on_air_by_district(st, pd.Timestamp("2020-12-31"), order)
    pd.testing.assert_series_equal(got, expected)
    assert list(got) == [1, 1, 0]
