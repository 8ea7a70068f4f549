"""Value parsers: every way people type dates, coordinates, operators, bands, statuses, blockers."""

import pandas as pd
import pytest

from analysis.clean import parse


@pytest.mark.parametrize("text", [
    "2020-05-12", "2020/5/12", "2020年5月12日", "20200512", "2020.5.12", "2020-05-12 10:30:00",
    "43963", "43963.0", "２０２０－０５－１２", " 2020/05/12 ", "2020 年 5 月 12 日",
])
def test_dates_every_way_people_type_them(text):
    assert parse.parse_dates(pd.Series([text])).iloc[0] == pd.Timestamp("2020-05-12")


@pytest.mark.parametrize("text", ["12/05/2020", "2020-13-01", "2020-02-30", "待定", "5月12日", "123", "99999"])
def test_ambiguous_or_impossible_dates_stay_unparsed(text):
    assert pd.isna(parse.parse_dates(pd.Series([text])).iloc[0])


def test_missing_dates_are_nat_not_errors():
    out = parse.parse_dates(pd.Series([None, "", "  "], dtype=object))
    assert out.isna().all()
    assert str(out.dtype) == "datetime64[ns]"


@pytest.mark.parametrize("text, value", [
    ("84.87", 84.87), ("８４．８７", 84.87), ("E84.87", 84.87), ("84.87E", 84.87), ("东经84.87", 84.87),
    ("84°52'58.9\"", 84 + 52 / 60 + 58.9 / 3600), ("84度52分58.9秒", 84 + 52 / 60 + 58.9 / 3600),
    ("84 52 58.9", 84 + 52 / 60 + 58.9 / 3600), ("45°35′12″N", 45 + 35 / 60 + 12 / 3600),
    ("84°52'", 84 + 52 / 60), ("-33.5", -33.5), ("33.5S", -33.5), ("W70.1", -70.1),
])
def test_coordinates_decimal_dms_fullwidth(text, value):
    assert parse.parse_coordinates(pd.Series([text])).iloc[0] == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("text", ["待定", "abc", "84°75'00\"", "84.87.1", "N/A"])
def test_unreadable_coordinates_are_nan(text):
    assert pd.isna(parse.parse_coordinates(pd.Series([text])).iloc[0])


def test_combined_lonlat_split():
    lon, lat = parse.split_lonlat(pd.Series(["84.87,45.60", "84.87 45.6", "８４．８７，４５．６", None], dtype=object))
    assert list(parse.parse_coordinates(lon).iloc[:3]) == [84.87, 84.87, 84.87]
    assert list(parse.parse_coordinates(lat).iloc[:3]) == [45.6, 45.6, 45.6]
    assert pd.isna(lon.iloc[3])


@pytest.mark.parametrize("text, code", [
    ("中国移动", "CMCC"), ("移动", "CMCC"), ("CMCC", "CMCC"), ("China Mobile", "CMCC"),
    ("中国电信", "CTCC"), ("电信", "CTCC"), ("China Telecom", "CTCC"),
    ("中国联通", "CUCC"), ("联通", "CUCC"), ("china unicom", "CUCC"),
    ("中国广电", "CBN"), ("广电", "CBN"), ("CBN", "CBN"), ("China Broadnet", "CBN"),
    ("铁塔", "unknown"), ("电信联通共享", "unknown"), (None, "unknown"),
])
def test_operators(text, code):
    assert parse.parse_operators(pd.Series([text], dtype=object)).iloc[0] == code


@pytest.mark.parametrize("text, band", [
    ("2.6GHz", "n41"), ("2.6G", "n41"), ("2600M", "n41"), ("2515-2675MHz", "n41"), ("n41", "n41"), ("N41", "n41"),
    ("3.5GHz", "n78"), ("3500M", "n78"), ("3.3G", "n78"), ("n78", "n78"), ("4.9GHz", "n79"), ("4.9G", "n79"),
    ("700M", "n28"), ("700MHz", "n28"), ("n28", "n28"), ("2.1G", "n1"), ("1.8GHz", "n3"),
    ("LTE", "unknown"), (None, "unknown"), ("900M", "unknown"),
])
def test_bands(text, band):
    assert parse.parse_bands(pd.Series([text], dtype=object)).iloc[0] == band


@pytest.mark.parametrize("text, status", [
    ("已开通", "on_air"), ("开通", "on_air"), ("在网", "on_air"), ("on air", "on_air"), ("未开通", "planned"),
    ("在建", "construction"), ("建设中", "construction"), ("规划", "planned"), ("立项", "planned"),
    ("选址", "site_selection"), ("选址中", "site_selection"), ("进场", "site_access"), ("待进场", "site_access"),
    ("电源接入", "power_hookup"), ("待引电", "power_hookup"), ("退网", "decommissioned"), ("???", "unknown"),
    (None, "unknown"),
])
def test_statuses(text, status):
    assert parse.parse_statuses(pd.Series([text], dtype=object)).iloc[0] == status


@pytest.mark.parametrize("text, blocker", [
    ("选址难", "site_selection"), ("物业阻挠进场", "site_access"), ("进场难", "site_access"),
    ("施工受阻", "construction"), ("电源接入", "power_hookup"), ("外电引入困难", "power_hookup"),
    ("高转供电价", "power_price"), ("转供电电价高", "power_price"), ("资金未到位", "other"),
])
def test_blockers(text, blocker):
    assert parse.parse_blockers(pd.Series([text])).iloc[0] == blocker


@pytest.mark.parametrize("text", ["无", "none", None])
def test_no_blocker(text):
    assert pd.isna(parse.parse_blockers(pd.Series([text], dtype=object)).iloc[0])


@pytest.mark.parametrize("text, crs", [
    ("GCJ-02", "gcj02"), ("gcj02", "gcj02"), ("高德", "gcj02"), ("火星坐标", "gcj02"), ("WGS84", "wgs84"),
    ("WGS-84", "wgs84"), ("GPS", "wgs84"), ("CGCS2000", "wgs84"), ("BD-09", "bd09"), ("百度", "bd09"),
    ("Beijing54", "unknown"),
])
def test_crs_labels(text, crs):
    assert parse.parse_crs(pd.Series([text])).iloc[0] == crs


@pytest.mark.parametrize("text, status", [
    ("待开通", "planned"), ("尚未开通", "planned"), ("暂未开通", "planned"), ("拟开通", "planned"),
    ("not active", "planned"), ("开通中", "power_hookup"), ("已退网", "decommissioned"), ("拆除", "decommissioned"),
])
def test_not_yet_on_air_and_off_air_are_not_on_air(text, status):
    assert parse.parse_statuses(pd.Series([text])).iloc[0] == status


@pytest.mark.parametrize("text", ["5G", "5G NR", "5g"])
def test_the_technology_is_not_a_band(text):
    assert parse.parse_bands(pd.Series([text])).iloc[0] == "unknown"


@pytest.mark.parametrize("text", ["暂无", "无问题", "无卡点", "正常推进", "已解决", "没有"])
def test_no_blocker_wordings(text):
    assert pd.isna(parse.parse_blockers(pd.Series([text])).iloc[0])


@pytest.mark.parametrize("text, crs", [("EPSG:4326", "wgs84"), ("GCJ-02坐标", "gcj02"), ("高德坐标系", "gcj02"),
                                       ("WGS-84坐标系", "wgs84"), ("百度坐标", "bd09")])
def test_crs_labels_with_suffixes_and_punctuation(text, crs):
    assert parse.parse_crs(pd.Series([text])).iloc[0] == crs
