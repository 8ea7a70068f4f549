"""One station counted once when its senders' codes differ: a tower company's 站址编码 and an operator's
own code or gNB ID name one mast in two namespaces (module rule in `analysis.clean.dedupe`), and an
OpenCelliD gNB with an operator record's gNB ID is that station even hundreds of metres off. Tiny inline
inputs on a one-district city."""

from __future__ import annotations

import pandas as pd
import pytest
from pyproj import Geod

from analysis.clean.dedupe import (
    SENDER_GNB_ID,
    SENDER_OPERATOR,
    SENDER_TOWER,
    sender_of_table,
)
from analysis.clean.stations import clean_stations

GEOD = Geod(ellps="WGS84")
LON, LAT = 113.59, 37.86
TOWER_HEADER = "站址编码,站址名称,需求运营商,经度,纬度,当前阶段,开通日期"
GNB_HEADER = "gNB ID,基站名称,运营商,经度,纬度,频段,开通日期"


def _offset(metres: float, bearing: float = 90.0, lon: float = LON, lat: float = LAT) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, bearing, metres)
    return float(lon2), float(lat2)


@pytest.fixture
def city(one_district_city):
    return one_district_city


def _write(folder, name: str, header: str, rows: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _clean(folder, city):
    result = clean_stations([folder], city, as_of="2021-10-15")
    s = result.summary
    assert s["rows_in"] == s["rows_kept"] + s["rows_merged"] + s["rows_quarantined"]
    return result


def _merged(result, reason: str) -> pd.DataFrame:
    q = result.quarantine
    return q[(q["fate"] == "merged") & (q["reason"] == reason)]


def test_a_tower_row_and_the_operators_row_of_one_mast_are_one_station_whatever_their_codes(tmp_path, city):
    """The probe's case: three CMCC stations sent by CMCC (gNB IDs) and by the tower company (站址编码),
    0 m apart, same dates: three stations, not six, each under the operator's code, the tower's stage
    dates kept, the merge said with both codes."""
    places = [(113.5901, 37.8601), (113.5801, 37.8551), (113.6001, 37.8701)]
    dates = ["2021-03-05", "2021-04-10", "2021-05-20"]
    folder = tmp_path / "in"
    _write(
        folder,
        "中国移动_5G基站清单.csv",
        GNB_HEADER,
        [f"70010{k + 1},站{k},中国移动,{x},{y},n41,{d}" for k, ((x, y), d) in enumerate(zip(places, dates))],
    )
    _write(
        folder,
        "铁塔_站址台账.csv",
        TOWER_HEADER + ",立项日期",
        [
            f"1403020000100{k + 1},塔{k},移动,{x},{y},已开通,{d},2020-06-01"
            for k, ((x, y), d) in enumerate(zip(places, dates))
        ],
    )
    result = _clean(folder, city)
    st = result.stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-700101", "CMCC-700102", "CMCC-700103"]
    assert int(st["is_on_air"].sum()) == 3
    assert st.loc["CMCC-700101", "site_code"] == "700101"  # the operator's record heads, its values first
    assert st.loc["CMCC-700101", "name"] == "站0"
    assert st.loc["CMCC-700101", "planned_date"] == pd.Timestamp("2020-06-01")  # only the tower row says it
    assert st.loc["CMCC-700101", "n_sources"] == 2
    merged = _merged(result, "same_station_other_sender")
    assert len(merged) == 3 and set(merged["merged_into"]) == set(st.index)
    detail = merged.set_index("merged_into").loc["CMCC-700101", "detail"]
    assert "14030200001001" in detail and "700101" in detail and "0 m apart" in detail
    assert "one station of the tower-company 站址编码 14030200001001" in st.loc["CMCC-700101", "notes"]


def test_the_merge_reaches_50_m_of_gps_error_and_no_farther(tmp_path, city):
    """Across senders the place decides as for rows without a code: 45 m is one mast, 56 m two."""
    near, far = _offset(45.0), _offset(56.0, lon=LON + 0.05)
    folder = tmp_path / "in"
    _write(
        folder,
        "移动.csv",
        GNB_HEADER,
        [f"1,甲,移动,{LON},{LAT},n41,2021-03-05", f"2,乙,移动,{LON + 0.05},{LAT},n41,2021-03-05"],
    )
    _write(
        folder,
        "铁塔.csv",
        TOWER_HEADER,
        [
            f"T1,甲塔,移动,{near[0]:.7f},{near[1]:.7f},已开通,2021-03-05",
            f"T2,乙塔,移动,{far[0]:.7f},{far[1]:.7f},已开通,2021-03-05",
        ],
    )
    result = _clean(folder, city)
    assert sorted(result.stations["station_id"]) == ["CMCC-1", "CMCC-2", "CMCC-T2"]
    assert _merged(result, "same_station_other_sender")["merged_into"].tolist() == ["CMCC-1"]


def test_several_gnbs_of_one_sender_on_one_mast_stay_several(tmp_path, city):
    """CMCC lists two gNBs at one mast (0 m apart, different IDs), the tower company one CMCC tenancy:
    two stations, the tower row joining the gNB whose on-air date it gives; a second tower tenancy there
    whose every candidate is taken stays a station of its own, and says why."""
    folder = tmp_path / "in"
    _write(
        folder,
        "移动.csv",
        GNB_HEADER,
        [f"700201,甲一,移动,{LON},{LAT},n41,2021-03-05", f"700202,甲二,移动,{LON},{LAT},n79,2021-06-01"],
    )
    _write(folder, "铁塔.csv", TOWER_HEADER, [f"T1,甲塔,移动,{LON},{LAT},已开通,2021-06-01"])
    result = _clean(folder, city)
    assert sorted(result.stations["station_id"]) == ["CMCC-700201", "CMCC-700202"]
    assert _merged(result, "same_station_other_sender")["merged_into"].tolist() == ["CMCC-700202"]

    # the tower company lists three CMCC tenancies at that mast: two pair with the gNBs, one stays
    _write(
        folder,
        "铁塔.csv",
        TOWER_HEADER,
        [f"T{k},甲塔{k},移动,{LON},{LAT},已开通,2021-06-01" for k in (1, 2, 3)],
    )
    result = _clean(folder, city)
    st = result.stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-700201", "CMCC-700202", "CMCC-T3"]
    assert "another record of this sender: kept as a station of its own" in st.loc["CMCC-T3", "notes"]


def test_two_operator_files_of_one_sender_never_merge_different_codes(tmp_path, city):
    """An operator's December list and its March additions are one namespace: two codes 0 m apart are
    two stations (as before), the same code one."""
    folder = tmp_path / "in"
    header = "站号,站名,运营商,经度,纬度,开通日期"
    _write(folder, "移动_12月.csv", header, [f"A1,甲,移动,{LON},{LAT},2021-03-05"])
    _write(
        folder, "移动_3月.csv", header, [f"A2,甲二,移动,{LON},{LAT},2021-03-05", f"A1,甲,移动,{LON},{LAT},2021-03-05"]
    )
    result = _clean(folder, city)
    assert sorted(result.stations["station_id"]) == ["CMCC-A1", "CMCC-A2"]
    assert _merged(result, "same_station_other_sender").empty


def test_a_tower_row_shared_by_two_operators_matches_one_row_of_each(tmp_path, city):
    """移动、联通 on one tower row is a tenancy of each; each joins its operator's own record of the mast,
    and another operator's record there is never taken."""
    folder = tmp_path / "in"
    header = "站号,站名,运营商,经度,纬度,开通日期"
    _write(
        folder,
        "运营商.csv",
        header,
        [
            f"M1,移甲,移动,{LON},{LAT},2021-03-05",
            f"U1,联甲,联通,{LON},{LAT},2021-03-05",
            f"C1,电甲,电信,{LON},{LAT},2021-03-05",
        ],
    )
    _write(folder, "铁塔.csv", TOWER_HEADER, [f"T1,甲塔,移动、联通,{LON},{LAT},已开通,2021-03-05"])
    result = _clean(folder, city)
    assert sorted(result.stations["station_id"]) == ["CMCC-M1", "CTCC-C1", "CUCC-U1"]
    merged = _merged(result, "same_station_other_sender")
    assert sorted(merged["merged_into"]) == ["CMCC-M1", "CUCC-U1"]
    assert result.summary["rows_in"] == 5  # the shared row counts once per tenant


def test_matching_codes_merge_as_before_and_other_operators_stay_apart(tmp_path, city):
    """A tower row with the operator's own code is the same-code merge it always was (no cross-sender
    detail); a tower row of another operator at the mast is that operator's station."""
    folder = tmp_path / "in"
    _write(folder, "移动.csv", "站址编码,站名,运营商,经度,纬度,开通日期", [f"S1,甲,移动,{LON},{LAT},2021-03-05"])
    _write(
        folder,
        "铁塔.csv",
        TOWER_HEADER,
        [f"S1,甲塔,移动,{LON},{LAT},已开通,2021-03-05", f"S9,甲塔,电信,{LON},{LAT},已开通,2021-03-05"],
    )
    result = _clean(folder, city)
    assert sorted(result.stations["station_id"]) == ["CMCC-S1", "CTCC-S9"]
    assert result.summary["merged_by_reason"] == {"same_site_code": 1}


def _ocid(folder, sites: list[tuple[int, float, float]]) -> None:
    """OpenCelliD rows: three NR cells of each (gNB ID, lon, lat), CMCC (MNC 0), 24-bit gNB IDs."""
    lines = ["radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"]
    for gnb, x, y in sites:
        for cell in (1, 2, 3):
            lines.append(f"NR,460,0,1,{(gnb << 12) + cell},,{x:.7f},{y:.7f},1000,4,1,1610000000,1630000000,0")
    (folder / "460.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_opencellid_gnb_with_the_stations_gnb_id_is_that_station_hundreds_of_metres_off(tmp_path, city):
    """The probe's case: cells of gNB 700101 placed 660 m from the operator's point join station 700101
    (flagged as far apart in source_matches), while a gNB of another ID 660 m from a station stays a
    station only OpenCelliD shows, and one with the ID 8 km away is refused, and said so."""
    folder = tmp_path / "in"
    second = (LON + 0.05, LAT)
    far_away = (LON - 0.1, LAT + 0.05)
    _write(
        folder,
        "中国移动_5G基站清单.csv",
        GNB_HEADER,
        [
            f"700101,甲,中国移动,{LON},{LAT},n41,2021-03-05",
            f"700102,乙,中国移动,{second[0]},{second[1]},n41,2021-03-05",
            f"700103,丙,中国移动,{far_away[0]},{far_away[1]},n41,2021-03-05",
        ],
    )
    off = _offset(660.0)
    beside_second = _offset(660.0, lon=second[0], lat=second[1])
    eight_km = _offset(8000.0, bearing=180.0, lon=far_away[0], lat=far_away[1])
    _ocid(folder, [(700101, *off), (700999, *beside_second), (700103, *eight_km)])
    result = _clean(folder, city)
    st = result.stations.set_index("station_id")
    assert st.loc["CMCC-700101", "opencellid_cells"] == 3
    assert st.loc["CMCC-700101", "opencellid_distance_m"] == pytest.approx(660.0, abs=1.0)
    assert "is this station by its gNB ID, 660 m" in st.loc["CMCC-700101", "notes"]
    assert st.loc["CMCC-700102", "opencellid_cells"] == 0  # another gNB ID beyond 500 m: not this station
    assert st.loc["CMCC-700103", "opencellid_cells"] == 0
    assert "not taken as this station" in st.loc["CMCC-700103", "notes"]
    assert sorted(st.index[~st["in_operator_reports"]]) == ["CMCC-G460-0-700103", "CMCC-G460-0-700999"]
    flags = result.source_matches.set_index("station_id")["flag"]
    assert flags["CMCC-700101"] == "sources_disagree_gt_200m"


@pytest.mark.parametrize(
    ("context", "columns", "sender"),
    [
        ("铁塔_站址台账", {"站址编码": "site_code", "需求运营商": "operator"}, SENDER_TOWER),
        ("China_Tower_sites", {"site_id": "site_code", "operator": "operator"}, SENDER_TOWER),
        ("阳泉 站址跟踪表", {"站址编码": "site_code", "需求运营商": "operator"}, SENDER_TOWER),
        ("站址 克拉玛依市5G基站建设推进专班 跟踪表", {"站址编码": "site_code", "运营商": "operator"}, SENDER_TOWER),
        ("sites", {"铁塔站址编码": "site_code", "运营商": "operator"}, SENDER_TOWER),
        ("中国移动_5G基站清单", {"站址编码": "site_code", "需求方": "operator"}, SENDER_TOWER),
        ("中国移动_5G基站清单", {"gNB ID": "site_code", "运营商": "operator"}, SENDER_GNB_ID),
        ("cmcc_cells", {"GNODEB_ID": "site_code"}, SENDER_GNB_ID),
        ("移动_NR小区工参", {"CGI": "site_code", "小区名称": "cell_label"}, SENDER_GNB_ID),  # (the gNB ID inside)
        ("联通小区", {"所属gNB ID": "site_code"}, SENDER_GNB_ID),
        ("中国移动_5G基站开通清单", {"站址编码": "site_code", "运营商": "operator"}, SENDER_OPERATOR),
        ("电信5G站点台账", {"站号": "site_code"}, SENDER_OPERATOR),
        ("Unicom_macro_tower_list", {"site_id": "site_code", "carrier": "operator"}, SENDER_OPERATOR),
        # an operator's own report to the task force, or its list of sites on towers: the operator's codes
        ("5G专班周报_移动", {"站址编码": "site_code", "运营商": "operator"}, SENDER_OPERATOR),
        ("移动_铁塔共享站址清单", {"站址编码": "site_code", "运营商": "operator"}, SENDER_OPERATOR),
        ("5G专班周报_移动", {"站址编码": "site_code", "需求运营商": "operator"}, SENDER_TOWER),
    ],
)
def test_sender_of_a_table_from_its_names_and_headers(context, columns, sender):
    assert sender_of_table(context, columns) == sender


def test_records_of_no_known_operator_are_not_paired_across_senders(tmp_path, city):
    """An operator "unknown" is none: a tower row and an operator-file row that name none stay two stations."""
    folder = tmp_path / "in"
    _write(folder, "stations.csv", "站号,站名,经度,纬度,开通日期", [f"A1,甲,{LON},{LAT},2021-03-05"])
    _write(folder, "铁塔.csv", TOWER_HEADER, [f"T1,甲塔,其他,{LON},{LAT},已开通,2021-03-05"])
    result = _clean(folder, city)
    assert sorted(result.stations["station_id"]) == ["unknown-A1", "unknown-T1"]


def test_an_operators_gnb_list_and_its_site_list_are_two_namespaces_of_one_sender(tmp_path, city):
    """CMCC's engineering parameters (gNB IDs) and its site list (站址编码) name one mast in two ways: one
    station under the gNB ID, which OpenCelliD's cells carry."""
    folder = tmp_path / "in"
    _write(folder, "中国移动_工参.csv", GNB_HEADER, [f"700301,甲,中国移动,{LON},{LAT},n41,2021-03-05"])
    _write(
        folder,
        "中国移动_站址清单.csv",
        "站址编码,站名,运营商,经度,纬度,开通日期",
        [f"14030300001,甲站,移动,{LON},{LAT},2021-03-05"],
    )
    result = _clean(folder, city)
    assert result.stations["station_id"].tolist() == ["CMCC-700301"]
    detail = _merged(result, "same_station_other_sender")["detail"].iloc[0]
    assert "site code 14030300001 and gNB ID 700301, 0 m apart, the same on-air date" in detail


def test_a_code_conflict_names_the_station_its_code_joined_across_senders(tmp_path, city):
    """The tower company gives 站址编码 T1 twice, 300 m apart: the second is a conflict, and its detail
    names the station the first joined (the operator's), not a record that is no station any more."""
    folder = tmp_path / "in"
    _write(folder, "移动.csv", GNB_HEADER, [f"700401,甲,移动,{LON},{LAT},n41,2021-03-05"])
    elsewhere = _offset(300.0)
    _write(
        folder,
        "铁塔.csv",
        TOWER_HEADER,
        [
            f"T1,甲塔,移动,{LON},{LAT},已开通,2021-03-05",
            f"T1,甲塔,移动,{elsewhere[0]:.7f},{elsewhere[1]:.7f},已开通,2021-03-05",
        ],
    )
    result = _clean(folder, city)
    assert result.stations["station_id"].tolist() == ["CMCC-700401"]
    q = result.quarantine.set_index("reason")
    assert q.loc["site_code_conflict", "detail"].endswith("m from the kept record of this code CMCC-700401")
    assert q.loc["same_station_other_sender", "merged_into"] == "CMCC-700401"


def test_on_air_dates_half_a_year_apart_are_two_stations_whatever_the_distance(tmp_path, city):
    """The operator's 2020 macro and the tower company's 2021 pole-mounted cell 40 m away, both CMCC: two
    stations (one station's dates in two senders' reports differ by days or weeks); dates a month apart at
    the same spot are still one station. The refusal is said on the station left apart."""
    near = _offset(40.0)
    far = _offset(2000.0, 0.0)
    far_near = _offset(30.0, 0.0, *far)
    folder = tmp_path / "in"
    _write(
        folder,
        "中国移动_5G基站清单.csv",
        GNB_HEADER,
        [f"700101,站0,中国移动,{LON},{LAT},n41,2020-06-01", f"700102,站1,中国移动,{far[0]},{far[1]},n41,2021-03-01"],
    )
    _write(
        folder,
        "铁塔_站址台账.csv",
        TOWER_HEADER,
        [
            f"T9,塔9,移动,{near[0]},{near[1]},已开通,2021-09-01",
            f"T8,塔8,移动,{far_near[0]},{far_near[1]},已开通,2021-04-02",
        ],
    )
    result = _clean(folder, city)
    st = result.stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-700101", "CMCC-700102", "CMCC-T9"]
    assert "went on air on 2020-06-01, this on 2021-09-01" in st.loc["CMCC-T9", "notes"]
    s = result.summary
    assert s["rows_in"] == s["rows_kept"] + s["rows_merged"] + s["rows_quarantined"]


def test_a_stations_gnb_id_under_two_network_codes_says_both(tmp_path, city):
    """China Mobile's gNB 700101 seen under MNC 00 and 02 in OpenCelliD, 660 m and 6 km off: one is the
    station, the other refused, and the station's notes say both (the second note replaced the first)."""
    folder = tmp_path / "in"
    _write(folder, "中国移动_5G基站清单.csv", GNB_HEADER, [f"700101,甲,中国移动,{LON},{LAT},n41,2021-03-05"])
    lines = ["radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"]
    for net, (x, y) in ((0, _offset(660.0)), (2, _offset(6000.0, bearing=0.0))):
        for cell in (1, 2, 3):
            lines.append(f"NR,460,{net},1,{(700101 << 12) + cell},,{x:.7f},{y:.7f},1000,4,1,1610000000,1630000000,0")
    (folder / "460.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    notes = _clean(folder, city).stations.set_index("station_id").loc["CMCC-700101", "notes"]
    assert "is this station by its gNB ID, 660 m" in notes and "not taken as this station" in notes


def test_a_site_in_the_pipeline_by_a_station_on_air_stays_a_site_of_its_own(tmp_path, city):
    """A tower company's site still in planning (已立项, no on-air date) 20 m from the operator's station on
    air since 2020: a new site by an old mast, not the station (merged, the pipeline lost it and the station
    got a planned date after its on-air date: negative stage times)."""
    near = _offset(20.0)
    folder = tmp_path / "in"
    _write(folder, "中国移动_5G基站清单.csv", GNB_HEADER, [f"700101,甲,中国移动,{LON},{LAT},n41,2020-06-01"])
    _write(folder, "铁塔_站址台账.csv", TOWER_HEADER, [f"T1,塔1,移动,{near[0]},{near[1]},已立项,"])
    result = _clean(folder, city)
    st = result.stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-700101", "CMCC-T1"]
    assert not st.loc["CMCC-T1", "is_on_air"] and st.loc["CMCC-700101", "is_on_air"]
    assert "this is still in the pipeline" in st.loc["CMCC-T1", "notes"]


def test_gnb_ids_in_hex_or_after_the_network_code_are_read_as_the_decimal_id(tmp_path, city):
    """0x… and bare hex (letters), MCC-MNC-ID and MCC+MNC+ID as one number name the decimal gNB ID: the
    OpenCelliD cells 800 m off join their station by it, and one gNB in two forms is one station."""
    folder = tmp_path / "in"
    spots = [_offset(3000.0 * k, bearing=45.0 * k) for k in range(5)]
    codes = ["0x1A2B3", "1A2B4", "460-00-107189", "46000107190", "107187"]  # 0x1A2B3 = 107187
    _write(
        folder,
        "中国移动_gNB.csv",
        GNB_HEADER,
        [f"{c},站{i},中国移动,{x:.7f},{y:.7f},n41,2021-03-05" for i, (c, (x, y)) in enumerate(zip(codes, spots))],
    )
    far = [_offset(800.0, lon=x, lat=y) for x, y in spots[:4]]
    _ocid(folder, [(107187 + k, *xy) for k, xy in enumerate(far)])
    result = _clean(folder, city)
    st = result.stations.set_index("station_id")
    assert "CMCC-107187" in st.index and "CMCC-0X1A2B3" not in st.index
    assert st.loc["CMCC-107188", "site_code"] == "107188"
    assert "gNB ID 1A2B4 read as 107188 (hexadecimal)" in st.loc["CMCC-107188", "notes"]
    assert "MCC-MNC 460-00 before the ID" in st.loc["CMCC-107189", "notes"]
    assert "MCC 460 and MNC 00 before the ID" in st.loc["CMCC-107190", "notes"]
    assert st["in_operator_reports"].all()  # no cell 800 m off left as a station of its own
    assert st["opencellid_cells"].tolist() == [3, 3, 3, 3]
    assert len(st) == 4  # 107187 sent twice (0x1A2B3 and 107187, one place): one station


@pytest.mark.parametrize(
    "code, expected",
    [
        ("0XFF", "255"),
        ("C3504", "800004"),
        ("460_01_12", "12"),
        ("46011800003", "800003"),
        ("800003", None),
        ("4294967295", None),
        ("SITE_A", None),
        ("0XFFFFFFFFF", None),
    ],
)
def test_read_gnb_ids_forms(code, expected):
    from analysis.clean.parse import read_gnb_ids

    ids, _ = read_gnb_ids(pd.Series([code], dtype="string"))
    assert (None if pd.isna(ids[0]) else ids[0]) == expected


def _ddd_mmss(value: float) -> str:
    degrees = int(value)
    minutes = (value - degrees) * 60
    return f"{degrees}.{int(minutes):02d}{round((minutes - int(minutes)) * 60):02d}"


def test_a_file_mostly_outside_the_city_says_so_and_whether_ddd_mmss_would_fit(tmp_path, city):
    """度.分秒 written as decimals (113.3524 for 113°35'24"): most rows fall outside; the file's notes say how
    many and that read as ddd.mmss they would lie inside, and nothing is converted silently."""
    folder = tmp_path / "in"
    spots = [_offset(1500.0 * k, bearing=30.0 * k) for k in range(6)]
    rows = [f"A{k},站{k},中国移动,{_ddd_mmss(x)},{_ddd_mmss(y)},n41,2021-03-05" for k, (x, y) in enumerate(spots)]
    header = GNB_HEADER.replace("gNB ID", "站址编码")
    _write(folder, "cm.csv", header, [*rows, f"B1,乙,中国移动,{LON},{LAT},n41,2021-03-05"])
    result = _clean(folder, city)
    [info] = result.summary["files"]
    assert info["notes"][-1].startswith("6 of 7 rows outside the city — check the coordinates' format (度.分秒?)")
    assert "read as 度.分秒 (ddd.mmss), 6 of them would lie inside it: not converted" in info["notes"][-1]
    assert result.summary["quarantined_by_reason"] == {"outside_city": 6}
    _write(tmp_path / "fine", "cm.csv", GNB_HEADER, [f"1,甲,中国移动,{LON},{LAT},n41,2021-03-05"])
    assert "notes" not in _clean(tmp_path / "fine", city).summary["files"][0]
