"""A station taken off air (退网) counts as on air from its on-air date until its off-air date, in every
stage: the monthly series, the counts on a date, coverage and the task force's district targets (cleaning
keeps both dates; the stages counted the on-air date alone, so a station taken off air stayed on air)."""

from __future__ import annotations

import pandas as pd

from analysis.coverage import stations_on_air
from analysis.forecast.series import count_on_air, count_on_air_by_district, monthly_on_air, monthly_on_air_by_district
from analysis.schemas import on_air_at


def _stations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "station_id": ["A", "B", "C", "D"],
            "district": ["西区", "西区", "东区", "东区"],
            "on_air_date": pd.to_datetime(["2021-01-10", "2021-01-20", "2021-02-05", None]),
            "off_air_date": pd.to_datetime([None, "2021-03-15", None, None]),
            "lon": [84.8, 84.81, 84.9, 84.91],
            "lat": [45.6, 45.61, 45.7, 45.71],
            "band": ["n78"] * 4,
        }
    )


def test_a_station_taken_off_air_counts_until_its_off_air_date_in_every_count():
    st = _stations()
    monthly = monthly_on_air(st, "2021-04-30")
    assert monthly.tolist() == [2.0, 3.0, 2.0, 2.0]  # B on air in January and February, gone by March's end
    by = monthly_on_air(st, "2021-04-30", by_district=True, districts=["西区", "东区"])
    frame, now = monthly_on_air_by_district(st, monthly.index, "2021-04-30", ["西区", "东区"])
    assert frame.equals(by) and by["西区"].tolist() == [2.0, 2.0, 1.0, 1.0] and now.to_dict() == {"西区": 1, "东区": 1}
    assert (frame.sum(axis=1) == monthly).all()
    assert count_on_air(st, "2021-03-14") == 3 and count_on_air(st, "2021-03-15") == 2
    assert count_on_air_by_district(st, "2021-03-15").to_dict() == {"东区": 1, "西区": 1}
    assert on_air_at(st, "2021-02-28").tolist() == [True, True, True, False]
    assert stations_on_air(st, "2021-02-28")["station_id"].tolist() == ["A", "B", "C"]
    assert stations_on_air(st, "2021-04-30")["station_id"].tolist() == ["A", "C"]
    assert stations_on_air(st)["station_id"].tolist() == ["A", "C"]  # today: not B
    # a table cleaned before the column existed counts as before
    assert monthly_on_air(st.drop(columns="off_air_date"), "2021-04-30").tolist() == [2.0, 3.0, 3.0, 3.0]


def _tracked() -> pd.DataFrame:
    """`_stations` as a task-force table: B on air from 2020-07-20, taken off air on 2021-03-15; D planned."""
    from analysis.schemas import STAGES

    st = _stations().assign(on_air_date=pd.to_datetime(["2020-06-10", "2020-07-20", "2021-02-05", None]))
    st = st.assign(
        operator="CMCC", status=["on_air", "decommissioned", "on_air", "planned"], blocker=None, name=st["station_id"]
    )
    for stage in STAGES[:-1]:
        st[f"{stage}_date"] = pd.NaT
    st.loc[3, "planned_date"] = pd.Timestamp("2021-01-05")
    st["is_on_air"] = on_air_at(st, None)
    return st


def test_the_district_split_counts_a_station_taken_off_air_this_year_in_the_year_start(tiny_city):
    """The city's count at the year start holds a station taken off air since (it was on air then): the
    districts' year-start counts must hold it too, or they no longer add up to the city's."""
    from analysis import taskforce
    from analysis.config import load_city

    st = _tracked()
    city = load_city(tiny_city / "city.toml")
    table = taskforce.district_targets(st, "2021-04-30", city, extract_date="2021-04-30")
    base = table.drop_duplicates("district").set_index("district")["baseline_on_air"]
    assert base.get("西区") == 2 and base.sum() == count_on_air(st, "2020-12-31") == 2


def test_every_reason_a_row_can_leave_with_is_worded_on_the_pages_in_both_languages():
    from analysis.clean.ledger import LATER_QUARANTINE_REASONS, MERGE_REASONS, QUARANTINE_REASONS
    from analysis.report.text import TEXT

    codes = [*QUARANTINE_REASONS, *LATER_QUARANTINE_REASONS, *MERGE_REASONS]
    missing = [f"{lang}: {k}.{c}" for lang in ("zh", "en") for c in codes for k in ("reason", "reason_about")]
    missing = [m for m in missing if m.split(": ")[1] not in TEXT[m.split(": ")[0]]]
    assert not missing, missing


def test_the_task_force_counts_a_station_on_air_until_its_off_air_date(tiny_city):
    """The funnel's on-air count and the district targets' 'added' agree with the other pages: a station
    taken off air counts before its off-air date (the funnel left it out of every date: 123 where the
    other pages said 129), and what was added this year is net of the stations taken off air."""
    from analysis import taskforce
    from analysis.config import load_city

    st = _tracked()
    city = load_city(tiny_city / "city.toml")
    for day, on in (("2021-03-14", 3), ("2021-03-31", 2)):
        report = taskforce.track_taskforce(st, city, day, extract_date="2021-04-30")
        f = report.funnel.set_index(["district", "stage"])
        assert f.loc[(taskforce.CITY_TOTAL, "on_air"), "sites"] == on == count_on_air(st, day)
    city_row = report.districts.iloc[-1]
    assert city_row["achieved_add"] == count_on_air(st, "2021-03-31") - count_on_air(st, "2020-12-31") == 0


def test_the_clean_page_says_how_stations_taken_off_air_are_counted():
    from types import SimpleNamespace

    from analysis.report.pages.clean import _off_air_text

    st = _stations()
    st.loc[0, "off_air_date"] = pd.Timestamp("2021-10-15")  # no date reported: set to the extract's
    ctx = SimpleNamespace(lang="zh", extract=pd.Timestamp("2021-10-15"), as_of=pd.Timestamp("2021-09-30"))
    text = _off_air_text(ctx, st)
    assert "2 座基站报告已退网" in text and "其中 1 座在本报告日前已退网" in text and "未报退网日期的 1 座" in text
    en = _off_air_text(SimpleNamespace(**{**vars(ctx), "lang": "en"}), st)
    assert "2 stations taken off air" in en and "The 1 without a reported off-air date" in en
    assert _off_air_text(ctx, st.assign(off_air_date=pd.NaT)) == ""
