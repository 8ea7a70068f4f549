"""What real senders' exports write that the cleaning must read: date spellings, export headers,
planned/actual columns, shared-tower phrases, cell-level rows (issue 13, second pass)."""

import csv
import io

import pandas as pd

from analysis.clean.stations import clean_stations

AS_OF = "2022-01-10"
# Points in Karamay's districts (WGS-84), far enough apart to be distinct stations.
HEADER = ["站号", "站名", "运营商", "经度", "纬度", "开通日期", "状态"]
P = [(84.8800 + 0.01 * i, 45.5800 + 0.004 * (i % 3)) for i in range(40)]


def write_csv(path, header, rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def clean(*paths, as_of=AS_OF):
    return clean_stations(list(paths), "karamay", as_of=as_of)


def by_code(result):
    st = result.stations
    return st.set_index(st["station_id"].str.split("-", n=1).str[1])


def test_on_air_dates_in_common_spellings_keep_their_stations(tmp_path):
    dates = ["2021年3月", "21/3/5", "17/03/2021", "05/03/2021", "2021-3", "2021/03", "Mar 5, 2021", "5-Mar-21"]
    rows = [[f"C{i}", f"站{i}", "联通", P[i][0], P[i][1], d, "在网"] for i, d in enumerate(dates)]
    result = clean(write_csv(tmp_path / "联通.csv", HEADER, rows))
    st = by_code(result)
    assert len(st) == len(dates)  # 05/03/2021 read day-first, as 17/03/2021 in the same file
    assert st.loc["C3", "on_air_date"] == pd.Timestamp("2021-03-05")
    assert st.loc["C1", "on_air_date"] == pd.Timestamp("2021-03-05")
    for code in ("C0", "C4", "C5"):
        assert st.loc[code, "on_air_date"] == pd.Timestamp("2021-03-01")
        assert "on-air date given to the month" in st.loc[code, "notes"]
    assert pd.isna(st.loc["C2", "notes"])


def test_an_ambiguous_day_month_is_quarantined_saying_so(tmp_path):
    rows = [["C0", "站0", "联通", *P[0], "05/03/2021", "在网"], ["C1", "站1", "联通", *P[1], "2021-03-05", "在网"]]
    result = clean(write_csv(tmp_path / "联通.csv", HEADER, rows))
    q = result.quarantine.set_index("source_row")
    assert q.loc[1, "reason"] == "unparseable_on_air_date"
    assert "ambiguous day/month" in q.loc[1, "detail"]
    assert len(result.stations) == 1


def test_a_note_after_a_date_is_set_aside_and_a_plan_is_not_a_date(tmp_path):
    dates = ["2021-03-05（补录）", "2021/3/5 已开通", "2021-03-05\n(补录)", "2021-06-30 预计"]
    rows = [[f"A{i}", f"站{i}", "移动", P[i][0], P[i][1], d, "在网"] for i, d in enumerate(dates)]
    result = clean(write_csv(tmp_path / "移动.csv", HEADER, rows))
    st = by_code(result)
    assert sorted(st.index) == ["A0", "A1", "A2"]
    assert (st["on_air_date"] == pd.Timestamp("2021-03-05")).all()
    assert "the note after the date set aside" in st.loc["A2", "notes"] and "\n" not in st.loc["A2", "notes"]
    assert result.quarantine.set_index("source_row").loc[4, "reason"] == "unparseable_on_air_date"


def test_a_stage_date_given_to_the_month_is_read_and_said(tmp_path):
    header = ["站址编码", "站址名称", "需求运营商", "经度", "纬度", "当前阶段", "进场日期"]
    rows = [["T1", "站1", "移动", *P[0], "在建", "2021年6月"], ["T2", "站2", "移动", *P[1], "在建", "2021/6/3"]]
    st = by_code(clean(write_csv(tmp_path / "铁塔.csv", header, rows)))
    assert st.loc["T1", "site_access_date"] == pd.Timestamp("2021-06-01")
    assert "site_access_date given to the month" in st.loc["T1", "notes"]
