"""Files as operators, the tower company and OpenCelliD really export them (issue 14): each written
by the test, cleaned whole, and checked for what a careful analyst would read in it."""

from __future__ import annotations

import gzip
import zipfile

import pandas as pd
import pytest
from openpyxl import Workbook

from analysis.clean.stations import clean_stations, clean_to_folder
from analysis.errors import BadInputError

AS_OF = "2021-03-22"
# points inside Karamay's districts, 1 km and more apart
P = [(84.8800 + 0.013 * i, 45.5800 + 0.004 * (i % 3)) for i in range(10)]


def clean(*paths, **kw):
    return clean_stations(list(paths), "karamay", as_of=kw.pop("as_of", AS_OF), **kw)


def ledger_holds(result, physical_rows):
    s = result.summary
    assert s["rows_in"] == s["rows_kept"] + s["rows_merged"] + s["rows_quarantined"] == physical_rows
    return result


def by_name(result):
    return result.stations.set_index("name")


def test_shut_down_stations_are_not_on_air_and_not_yet_opened_is_not_on_air(tmp_path):
    rows = [("A1", "关一", "已关闭"), ("A2", "停二", "已停用"), ("A3", "关三", "关停"), ("A4", "退四", "退服"),
            ("A5", "未五", "未开通"), ("A6", "开六", "已开通")]
    lines = ["站址编码,基站名称,运营商,经度,纬度,开通时间,状态"]
    lines += [f"{c},{n},移动,{P[i][0]},{P[i][1]},2020-06-01,{s}" for i, (c, n, s) in enumerate(rows)]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = by_name(ledger_holds(clean(tmp_path / "s.csv"), 6))
    assert st.loc[["关一", "停二", "关三", "退四"], "status"].eq("decommissioned").all()
    assert not st.loc[["关一", "停二", "关三", "退四", "未五"], "is_on_air"].any()
    assert st.loc["未五", "status"] == "planned" and "not counted on air" in st.loc["未五", "notes"]
    assert st.loc["开六", "is_on_air"]
    assert clean(tmp_path / "s.csv").summary["stations_on_air"] == 1


@pytest.mark.parametrize("file_name, operator", [
    ("China_Telecom_5G_mobile_sites.csv", "CTCC"), ("电信_移动式应急基站.csv", "CTCC"),
    ("中国联合网络通信有限公司_站点.csv", "CUCC"),
])
def test_operator_from_the_file_name_despite_other_words(tmp_path, file_name, operator):
    (tmp_path / file_name).write_text(f"基站名称,经度,纬度,开通时间\n站一,{P[0][0]},{P[0][1]},2020-06-01\n",
                                      encoding="utf-8")
    assert clean(tmp_path / file_name).stations["operator"].tolist() == [operator]


def test_legal_operator_names_and_codes_in_the_operator_column(tmp_path):
    names = ["中国联合网络通信有限公司", "中国广播电视网络有限公司", "CM", "CU", "CT"]
    lines = ["基站名称,运营商,经度,纬度,开通时间"]
    lines += [f"站{i},{op},{P[i][0]},{P[i][1]},2020-06-01" for i, op in enumerate(names)]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = by_name(clean(tmp_path / "s.csv"))
    assert st.loc[[f"站{i}" for i in range(5)], "operator"].tolist() == ["CUCC", "CBN", "CMCC", "CUCC", "CTCC"]


def test_coordinate_system_labels_as_people_write_them(tmp_path):
    labels = ["GCJ02(高德)", "百度坐标系(BD09)", "WGS84(GPS)", "腾讯地图", "2000国家大地坐标系", "国家2000",
              "北京54", "西安80"]
    lines = ["基站名称,运营商,经度,纬度,坐标系,开通时间"]
    lines += [f"站{i},移动,{P[i][0]},{P[i][1]},{c},2020-06-01" for i, c in enumerate(labels)]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ledger_holds(clean(tmp_path / "s.csv"), 8)
    assert r.summary["quarantined_by_reason"] == {"unknown_crs": 2}
    assert set(r.quarantine["crs"]) == {"北京54", "西安80"}
    st = by_name(r)
    assert "GCJ-02 converted" in st.loc["站0", "notes"] and "GCJ-02 converted" in st.loc["站3", "notes"]
    assert "BD-09 converted" in st.loc["站1", "notes"]
    assert st.loc["站4", "lon"] == pytest.approx(P[4][0]) and pd.isna(st.loc["站4", "notes"])


def test_iso_timestamps_are_on_air_dates(tmp_path):
    lines = ["基站名称,运营商,经度,纬度,开通时间", f"站一,移动,{P[0][0]},{P[0][1]},2021-03-05T14:22:01+08:00",
             f"站二,移动,{P[1][0]},{P[1][1]},2021-03-05T06:22:01Z"]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = by_name(ledger_holds(clean(tmp_path / "s.csv"), 2))
    assert (st["on_air_date"] == pd.Timestamp("2021-03-05")).all()


def test_power_hookup_blocker_in_progress_words(tmp_path):
    lines = ["基站名称,运营商,经度,纬度,状态,卡点问题", f"站一,移动,{P[0][0]},{P[0][1]},在建,电力引入困难"]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert clean(tmp_path / "s.csv").stations["blocker"].tolist() == ["power_hookup"]


def test_excel_mangled_codes_are_said_so_not_three_conflicts(tmp_path):
    lines = ["站址编码,基站名称,运营商,经度,纬度,开通时间"]
    lines += [f"6.50203E+13,站{i},移动,{P[i][0]},{P[i][1]},2020-06-01" for i in range(3)]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ledger_holds(clean(tmp_path / "s.csv"), 3)
    assert len(r.stations) == 3 and r.summary["rows_quarantined"] == 0
    assert r.stations["site_code"].isna().all()
    assert r.stations["notes"].str.contains("6.50203E+13 is Excel scientific notation", regex=False).all()
