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


def test_planned_and_actual_positions_in_bracketed_headers(tmp_path):
    header = ["站址编码", "站址名称", "需求运营商", "经度(规划)", "纬度(规划)", "经度(实际)", "纬度(实际)"]
    header += ["当前阶段", "开通日期"]
    rows = [
        ["T1", "站1", "移动", P[5][0], P[5][1], *P[0], "已开通", "2021-03-05"],
        ["T2", "站2", "联通", *P[6], "", "", "已立项", ""],
    ]
    st = by_code(clean(write_csv(tmp_path / "铁塔.csv", header, rows)))
    assert (st.loc["T1", "lon"], st.loc["T1", "lat"]) == P[0]  # the actual position, not the planned one
    assert pd.isna(st.loc["T1", "notes"])
    assert (st.loc["T2", "lon"], st.loc["T2", "lat"]) == P[6]
    assert "planned one" in st.loc["T2", "notes"]


def test_nms_export_headers_are_read(tmp_path):
    header = ["gNodeB ID", "gNodeB Name", "Operator", "Latitude", "Longitude", "NR Band", "Commissioning Date"]
    rows = [[f"80000{i}", f"NR_{i}", "China Unicom", P[i][1], P[i][0], "n78", "2021-03-05"] for i in range(3)]
    result = clean(write_csv(tmp_path / "Unicom_NR_sites_export.csv", header, rows))
    assert sorted(result.stations["station_id"]) == ["CUCC-800000", "CUCC-800001", "CUCC-800002"]
    assert (result.stations["on_air_date"] == pd.Timestamp("2021-03-05")).all()
    assert result.summary["files"][0]["columns_not_read"] == []


def test_cells_of_one_station_are_merged_saying_so(tmp_path):
    header = ["小区名称", "基站名称", "经度", "纬度", "方位角", "频段", "开通日期"]
    rows = [[f"桃北路_{k}", "桃北路", *P[0], str(120 * k), "n41", "2021-03-05"] for k in range(3)]
    rows.append(["桃北路_2", "桃北路", *P[0], "240", "n41", "2021-03-05"])  # the very record again
    result = clean(write_csv(tmp_path / "移动_NR小区工参.csv", header, rows))
    assert len(result.stations) == 1
    q = result.quarantine.set_index("source_row")
    assert q.loc[2, "reason"] == q.loc[3, "reason"] == "cells_of_one_station"
    assert "cell" in q.loc[2, "detail"]
    assert q.loc[4, "reason"] == "exact_duplicate"
    assert result.summary["merged_by_reason"]["cells_of_one_station"] == 2


def test_rows_without_identity_or_date_name_the_columns_not_read(tmp_path):
    header = ["Cell Site", "经度", "纬度", "Go Live", "状态", "运营商"]
    rows = [["X1", *P[0], "2021-03-05", "在网", "移动"]]
    result = clean(write_csv(tmp_path / "a.csv", header, rows))
    q = result.quarantine
    assert q["reason"].tolist() == ["no_identity"]
    assert q["detail"].iloc[0] == "columns not read in its file: Cell Site, Go Live"
    assert result.summary["files"][0]["columns_not_read"] == ["Cell Site", "Go Live"]


def test_columns_not_read_are_named_per_file(tmp_path):
    header = ["站号", "站名", "运营商", "经度", "纬度", "状态"]
    a = write_csv(tmp_path / "a.csv", header + ["Go Live"], [["A1", "站1", "移动", *P[0], "在网", "2021-03-05"]])
    b = write_csv(tmp_path / "b.csv", header, [["B1", "站2", "移动", *P[1], "在网"]])
    c = write_csv(tmp_path / "c.csv", header, [["C1", "站3", "移动", *P[2], "在网"]])
    q = clean(a, b, c).quarantine.set_index("source_file")
    assert (q["reason"] == "on_air_without_date").all()
    assert q["detail"].fillna("").str.contains("columns not read in its file: Go Live").tolist() == [True, False, False]


def test_an_operators_own_shared_station_is_one_station_of_its_own(tmp_path):
    """电信联通共享 in China Telecom's own gNB list: one gNB serving both (co-build co-share) is one
    station, China Telecom's; only a tower company's row is split into its tenants (each tenant its own
    equipment). Split in the operator's file, one gNB became a CTCC and a CUCC station."""
    header = ["gNB ID", "基站名称", "运营商", "经度", "纬度", "开通日期"]
    rows = [[700100 + i, f"站{i}", "电信联通共享", *P[i], "2021-03-05"] for i in range(3)]
    result = clean(write_csv(tmp_path / "电信5G基站.csv", header, rows))
    st = result.stations
    assert len(st) == 3 and set(st["operator"]) == {"CTCC"}
    assert st["notes"].str.contains("shared with others").all()
    tower = [["T1", "塔1", "电信联通共享", *P[10], "2021-03-05", "在网"]]
    result = clean(write_csv(tmp_path / "铁塔_站址.csv", HEADER, tower))
    assert sorted(result.stations["operator"]) == ["CTCC", "CUCC"]
