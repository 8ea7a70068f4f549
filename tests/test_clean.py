"""Cleaning: every raw row kept, merged or quarantined with a reason; one row per station."""

import csv
import datetime as dt
import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from analysis import geo
from analysis.clean.sources import OPENCELLID_COLUMNS
from analysis.clean.stations import clean_stations, clean_to_folder, parse_gnb_id_bits
from analysis.errors import BadInputError, UsageError
from analysis.schemas import on_air_at

AS_OF = "2022-01-10"
# Points in Karamay's districts (WGS-84), far enough apart to be distinct stations.
P = [(84.8800 + 0.01 * i, 45.5800 + 0.004 * (i % 3)) for i in range(12)]
HEADER = ["站址编码", "基站名称", "运营商", "经度", "纬度", "频段", "开通时间", "状态"]


def write_csv(path, rows, header=HEADER, encoding="utf-8"):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def row(i, code=None, op="中国移动", date="2020-05-12", status="已开通", band="2.6GHz", lon=None, lat=None, name=None):
    x, y = P[i]
    return [
        code if code is not None else f"65020300{i:04d}",
        f"测试站{i}" if name is None else name,
        op,
        f"{x if lon is None else lon}",
        f"{y if lat is None else lat}",
        band,
        date,
        status,
    ]


def clean(tmp_path, *paths, **kw):
    return clean_stations(list(paths) or [tmp_path], "karamay", as_of=kw.pop("as_of", AS_OF), **kw)


def fates(result):
    q = result.quarantine
    return {(r.source_row, r.fate, r.reason) for r in q.itertuples()}


def assert_invariant(result):
    s = result.summary
    assert s["rows_in"] == s["rows_kept"] + s["rows_merged"] + s["rows_quarantined"]
    assert s["rows_kept"] == len(result.stations)
    assert s["rows_merged"] + s["rows_quarantined"] == len(result.quarantine)


def test_one_station_per_row_with_the_contract_columns(tmp_path):
    write_csv(tmp_path / "a.csv", [row(0), row(1, op="电信", band="3.5G", date="2020/6/1")])
    r = clean(tmp_path)
    assert_invariant(r)
    st_ = r.stations
    for col in [
        "station_id",
        "name",
        "operator",
        "band",
        "lon",
        "lat",
        "district",
        "on_air_date",
        "status",
        "source_file",
        "source_row",
        "geometry",
    ]:
        assert col in st_.columns
    assert st_.crs.to_epsg() == 4326
    assert list(st_["operator"]) == ["CMCC", "CTCC"]
    assert list(st_["band"]) == ["n41", "n78"]
    assert list(st_["district"]) == ["克拉玛依区", "克拉玛依区"]
    assert list(st_["source_row"]) == [1, 2]
    assert st_["is_on_air"].all()


def test_district_comes_from_the_polygons_not_the_text(tmp_path):
    header = HEADER + ["区县"]
    write_csv(tmp_path / "a.csv", [row(0) + ["独山子区"]], header=header)
    assert clean(tmp_path).stations.loc[0, "district"] == "克拉玛依区"


def test_quarantine_reasons(tmp_path):
    rows = [
        row(0),  # 1 kept
        row(1, lon="", lat=""),  # 2 missing coordinates
        row(2, lon="0", lat="0"),  # 3 zero
        row(3, lon="待定", lat="45.6"),  # 4 unparseable
        row(4, lon="87.60", lat="43.80"),  # 5 Urumqi: outside the city
        row(5, date="2031-05-12"),  # 6 future
        row(6, date="2010-05-12"),  # 7 before 2019
        row(7, date="someday"),  # 8 unreadable date
        row(8, code="", name=""),  # 9 no identity
        [""] * len(HEADER),  # 10 blank
        row(9, date=""),  # 11 on air without a date
        [""] * len(HEADER),  # trailing empty rows are not records
    ]
    write_csv(tmp_path / "a.csv", rows)
    r = clean(tmp_path)
    assert_invariant(r)
    got = {(row_, reason) for row_, fate, reason in fates(r)}
    assert got == {
        (2, "missing_coordinates"),
        (3, "zero_coordinates"),
        (4, "unparseable_coordinates"),
        (5, "outside_city"),
        (6, "future_on_air_date"),
        (7, "on_air_date_before_2019"),
        (8, "unparseable_on_air_date"),
        (9, "no_identity"),
        (10, "blank_row"),
        (11, "on_air_without_date"),
    }
    q = r.quarantine.set_index("source_row")
    assert q.loc[4, "lon"] == "待定"  # the original value is kept beside the reason
    assert "2031-05-12" in q.loc[6, "detail"]


def test_future_is_relative_to_the_report_date(tmp_path):
    write_csv(tmp_path / "a.csv", [row(0, date="2021-06-01")])
    assert clean(tmp_path, as_of="2021-12-31").summary["rows_kept"] == 1
    assert clean(tmp_path, as_of="2021-03-22").summary["quarantined_by_reason"] == {"future_on_air_date": 1}


def test_duplicates_exact_same_code_co_located_and_shared_towers(tmp_path):
    near = P[1][0] + 0.0003  # about 23 m east
    rows = [
        row(0),
        row(0),  # 1, 2: exact repeat
        row(1),
        row(1, lon=near, name="测试站1(复测)"),  # 3, 4: same code within 50 m
        row(2),
        row(2, lon=P[2][0] + 0.06),  # 5, 6: same code 4.7 km away: conflict
        row(3),
        row(3, code="", lon=P[3][0] + 0.0002),  # 7, 8: no code, co-located, same operator
        row(4, op="电信"),
        row(4, op="联通"),  # 9, 10: one tower, two operators: two stations
        row(5, code=""),
        row(5, code="", op="联通"),  # 11, 12: no code, different operators
    ]
    write_csv(tmp_path / "a.csv", rows)
    r = clean(tmp_path)
    assert_invariant(r)
    assert fates(r) == {
        (2, "merged", "exact_duplicate"),
        (4, "merged", "same_site_code"),
        (6, "quarantined", "site_code_conflict"),
        (8, "merged", "co_located"),
    }
    assert len(r.stations) == 8
    merged = r.quarantine.set_index("source_row")
    kept_id = r.stations.loc[r.stations["source_row"] == 3, "station_id"].item()
    assert merged.loc[4, "merged_into"] == kept_id
    assert "a.csv:3" in r.stations.set_index("station_id").loc[kept_id, "sources"]
    assert "a.csv:4" in r.stations.set_index("station_id").loc[kept_id, "sources"]
    shared = r.stations[r.stations["site_code"] == "650203000004"]
    assert sorted(shared["operator"]) == ["CTCC", "CUCC"]


def test_merge_fills_fields_one_record_lacks(tmp_path):
    write_csv(tmp_path / "ops.csv", [row(0, band="")])
    write_csv(
        tmp_path / "tower.csv",
        [
            [
                "650203000000",
                "测试站0",
                "移动",
                f"{P[0][0]}",
                f"{P[0][1]}",
                "已开通",
                "2020-01-05",
                "2020-03-01",
                "2020-05-12",
            ]
        ],
        header=["站址编码", "站址名称", "需求运营商", "经度", "纬度", "当前阶段", "立项日期", "开工日期", "开通日期"],
    )
    r = clean(tmp_path)
    [s] = r.stations.itertuples()
    assert s.planned_date == pd.Timestamp("2020-01-05") and s.construction_date == pd.Timestamp("2020-03-01")
    assert s.on_air_date == pd.Timestamp("2020-05-12")
    assert s.n_sources == 2


def test_operator_from_file_name_or_title(tmp_path):
    write_csv(
        tmp_path / "中国电信_台账.csv", [r[:2] + r[3:] for r in [row(0)]], header=[h for h in HEADER if h != "运营商"]
    )
    assert clean(tmp_path).stations.loc[0, "operator"] == "CTCC"


def test_gcj02_rows_converted_once(tmp_path):
    gx, gy = geo.wgs84_to_gcj02(*P[0])
    write_csv(
        tmp_path / "a.csv",
        [row(0, lon=f"{gx:.7f}", lat=f"{gy:.7f}") + ["GCJ-02"], row(1) + ["WGS84"]],
        header=HEADER + ["坐标系"],
    )
    st_ = clean(tmp_path).stations.set_index("source_row")
    assert st_.loc[1, "lon"] == pytest.approx(P[0][0], abs=2e-6) and st_.loc[1, "lat"] == pytest.approx(
        P[0][1], abs=2e-6
    )
    assert "GCJ-02" in st_.loc[1, "notes"]
    assert st_.loc[2, "lon"] == pytest.approx(P[1][0], abs=1e-9)


def test_input_crs_applies_to_files_that_do_not_say(tmp_path):
    gx, gy = geo.wgs84_to_gcj02(*P[0])
    write_csv(tmp_path / "a.csv", [row(0, lon=f"{gx:.7f}", lat=f"{gy:.7f}")])
    plain = clean(tmp_path).stations.iloc[0]
    converted = clean(tmp_path, input_crs="gcj02").stations.iloc[0]
    shift = np.hypot((plain.lon - converted.lon) * 78_000, (plain.lat - converted.lat) * 111_000)
    assert 150 < shift < 260
    assert converted.lon == pytest.approx(P[0][0], abs=2e-6)


def test_swap_is_fixed_only_when_the_swapped_point_is_in_the_city(tmp_path):
    write_csv(tmp_path / "a.csv", [row(0, lon=P[0][1], lat=P[0][0]), row(1, lon=43.8, lat=87.6)])
    r = clean(tmp_path)
    [s] = r.stations.itertuples()
    assert (s.lon, s.lat) == pytest.approx(P[0])
    assert "swapped" in s.notes
    assert fates(r) == {(2, "quarantined", "outside_city")}


def test_unknown_crs_label_is_quarantined(tmp_path):
    write_csv(tmp_path / "a.csv", [row(0) + ["Beijing54"]], header=HEADER + ["crs"])
    assert clean(tmp_path).summary["quarantined_by_reason"] == {"unknown_crs": 1}


OCID_HEADER = list(OPENCELLID_COLUMNS)


def cell(radio, net, gnb, local, lon, lat, created, bits=24):
    return [
        radio,
        460,
        net,
        35000,
        (gnb << (36 - bits)) | local,
        "",
        f"{lon:.6f}",
        f"{lat:.6f}",
        500,
        3,
        1,
        int(pd.Timestamp(created).timestamp()),
        1_700_000_000,
        0,
    ]


def test_opencellid_cells_grouped_into_gnb_sites(tmp_path):
    x, y = P[6]
    cells = [
        cell("NR", 0, 900001, 1, x, y, "2021-03-05"),
        cell("NR", 0, 900001, 2, x + 0.0002, y, "2021-02-20"),
        cell("NR", 0, 900001, 3, x, y + 0.0002, "2021-04-01"),
        cell("LTE", 0, 5, 1, x, y, "2019-01-01"),
        cell("NR", 11, 900002, 1, *P[7], "2021-05-01"),
    ]
    write_csv(tmp_path / "ocid.csv", cells, header=OCID_HEADER)
    r = clean(tmp_path)
    assert_invariant(r)
    st_ = r.stations.sort_values("operator")
    assert list(st_["operator"]) == ["CMCC", "CTCC"]
    assert st_.iloc[0]["on_air_date"] == pd.Timestamp("2021-02-20")  # the earliest cell
    assert st_.iloc[0]["opencellid_cells"] == 3 and not st_.iloc[0]["in_operator_reports"]
    assert r.summary["merged_by_reason"] == {"cell_of_same_gnb": 2}
    assert r.summary["quarantined_by_reason"] == {"not_nr": 1}
    assert set(r.source_matches["flag"]) == {"network_only"}


def test_opencellid_cell_ids_that_are_no_nci_are_quarantined_not_made_into_gnbs(tmp_path):
    """An NCI is 36 bits (3GPP TS 38.413): 1e20 (beyond int64) became a kept station with a negative gNB ID,
    an NCI beyond 36 bits a gNB ID larger than its bits allow, a fraction was truncated."""
    x, y = P[6]
    good = cell("NR", 0, 900001, 1, x, y, "2021-03-05")
    largest = cell("NR", 0, (1 << 24) - 1, (1 << 12) - 1, *P[7], "2021-03-05")  # 2^36 - 1: still an NCI
    rows = [good, largest]
    for nci in ("99999999999999999999", str(1 << 36), " 123456780016 ", "1.5", "68719476735.5"):
        rows.append([*good[:4], nci, *good[5:]])
    rows.append([*good[:2], "0.5", *good[3:]])  # (an MNC that is no code)
    write_csv(tmp_path / "ocid.csv", rows, header=OCID_HEADER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (1e20 cast to int64 said `invalid value encountered in cast`)
        r = clean(tmp_path)
    assert_invariant(r)
    assert sorted(r.stations["station_id"]) == ["CMCC-G460-0-16777215", "CMCC-G460-0-900001"]
    assert r.summary["quarantined_by_reason"] == {"invalid_cell_id": 6}
    assert "2^36" in r.summary["reason_meanings"]["invalid_cell_id"]
    q = r.quarantine.set_index("source_row")
    assert q.loc[3, "detail"] == "MCC 460, MNC 0, NCI 99999999999999999999"
    assert q.loc[5, "detail"] == "MCC 460, MNC 0, NCI 123456780016"  # (as read: the spaces around it not said)


def test_opencellid_cell_of_another_country_is_quarantined_not_an_unknown_operator(tmp_path):
    x, y = P[6]
    us = cell("NR", 260, 900001, 1, x, y, "2021-03-05")
    us[1] = 310
    unlisted_mnc = cell("NR", 20, 900002, 1, *P[7], "2021-03-05")  # MCC 460, an MNC not in the E.212 list
    write_csv(tmp_path / "ocid.csv", [us, unlisted_mnc], header=OCID_HEADER)
    r = clean(tmp_path)
    assert_invariant(r)
    assert list(r.stations["station_id"]) == ["unknown-G460-20-900002"]
    assert r.summary["quarantined_by_reason"] == {"other_country_network": 1}
    assert r.quarantine["detail"].iloc[0] == "MCC 310"
    assert "China" in r.summary["reason_meanings"]["other_country_network"]


@pytest.mark.parametrize("lon, lat", [("inf", "45.59"), ("1e309", "-inf"), ("84.9", "nan")])
def test_opencellid_infinite_coordinates_are_unparseable_not_outside_the_city(tmp_path, lon, lat):
    row_ = cell("NR", 0, 900001, 1, *P[6], "2021-03-05")
    row_[6:8] = [lon, lat]
    write_csv(tmp_path / "ocid.csv", [row_, cell("NR", 0, 900002, 1, *P[7], "2021-03-05")], header=OCID_HEADER)
    r = clean(tmp_path)
    assert r.summary["quarantined_by_reason"] == {"unparseable_coordinates": 1}


def test_one_cell_dated_0_or_before_2019_does_not_take_its_gnb_down(tmp_path):
    """A cell's created = 0 (the epoch, a writer's "no date") is not given; a cell dated before 2019 is set
    aside where its gNB's other cells are dated: the site is dated by them, the notes say how many were set aside."""
    x, y = P[6]
    cells = [cell("NR", 0, 900001, i, x, y, "2020-09-13") for i in range(1, 5)]
    epoch = cell("NR", 0, 900001, 5, x, y, "2020-09-13")
    epoch[11] = 0
    cells += [epoch, cell("NR", 0, 900001, 6, x, y, "2010-01-01"), cell("NR", 0, 900001, 7, x, y, "2100-01-01")]
    only_epoch = cell("NR", 0, 900002, 1, *P[7], "2020-01-01")
    only_epoch[11] = 0
    old_only = cell("NR", 0, 900003, 1, *P[8], "2012-01-01")  # no other cell: the site is still before 2019
    write_csv(tmp_path / "ocid.csv", [*cells, only_epoch, old_only], header=OCID_HEADER)
    r = clean(tmp_path)
    assert_invariant(r)
    st_ = r.stations.set_index("station_id")
    assert st_.loc["CMCC-G460-0-900001", "on_air_date"] == pd.Timestamp("2020-09-13")
    assert st_.loc["CMCC-G460-0-900001", "opencellid_cells"] == 7
    assert "set aside (0, or before 2019 beside cells of a later one): 2" in st_.loc["CMCC-G460-0-900001", "notes"]
    assert pd.isna(st_.loc["CMCC-G460-0-900002", "on_air_date"])  # undated, not a 1970 site quarantined
    assert r.summary["quarantined_by_reason"] == {"on_air_date_before_2019": 1}
    assert r.summary["notes"]["opencellid_cell_dates_set_aside"] == 3


def test_gnb_id_length_per_operator(tmp_path):
    x, y = P[6]
    # with 22-bit gNB ids, cells 1 and 2 share a gNB; read with 24 bits they look like two gNBs
    cells = [
        cell("NR", 0, 5000, 1, x, y, "2021-03-05", bits=22),
        cell("NR", 0, 5000, 9000, x, y, "2021-03-06", bits=22),
    ]
    write_csv(tmp_path / "ocid.csv", cells, header=OCID_HEADER)
    assert len(clean(tmp_path).stations) == 2
    assert len(clean(tmp_path, gnb_id_bits="CMCC=22").stations) == 1


def test_operator_report_and_network_are_one_station_with_a_ledger(tmp_path):
    write_csv(tmp_path / "ops.csv", [row(0), row(3), row(9)])
    x0, y0 = P[0]
    x3, _ = P[3]
    cells = [
        cell("NR", 0, 1, 1, x0 + 0.001, y0, "2021-02-01"),  # ~78 m off: agrees
        cell("NR", 0, 2, 1, x3 + 0.0035, P[3][1], "2021-02-01"),  # ~270 m off: same station, flagged
        cell("NR", 1, 3, 1, x0, y0, "2021-02-01"),  # Unicom: not the CMCC station
    ]
    write_csv(tmp_path / "ocid.csv", cells, header=OCID_HEADER)
    r = clean(tmp_path)
    assert_invariant(r)
    assert len(r.stations) == 4
    ledger = r.source_matches.set_index("station_id")
    by_flag = ledger["flag"].value_counts().to_dict()
    assert by_flag == {"both_agree": 1, "sources_disagree_gt_200m": 1, "operator_report_only": 1, "network_only": 1}
    s = r.stations.set_index("station_id").loc["CMCC-650203000000"]
    assert "ops.csv:1" in s["sources"] and "ocid.csv:1" in s["sources"]
    assert s["on_air_date"] == pd.Timestamp("2020-05-12")  # the operator's date, not when phones first heard it
    assert r.summary["merged_by_reason"] == {"same_station_other_source": 2}


def test_xlsx_title_rows_sheets_date_cells_and_serials(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "2021年"
    ws.append(["中国联通克拉玛依分公司5G基站清单"])
    ws.append(HEADER)
    ws.append(row(0, date=None)[:6] + [dt.datetime(2021, 4, 3), "已开通"])
    ws.append(row(1, date=None)[:6] + [44289, "已开通"])  # an Excel serial typed as a number
    ws.append(row(2, lon="84°52'58.9\"", lat="45°35'12\"", date="2021年4月3日"))
    wb.save(tmp_path / "cucc.xlsx")
    r = clean(tmp_path)
    assert list(r.stations["on_air_date"]) == [pd.Timestamp("2021-04-03")] * 3
    assert list(r.stations["source_sheet"]) == ["2021年"] * 3
    assert list(r.stations["operator"]) == ["CMCC"] * 3  # the row says 中国移动; the title is only a fallback


def test_bad_files_fail_alone_with_one_line(tmp_path):
    write_csv(tmp_path / "good.csv", [row(0)])
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "junk.xlsx").write_bytes(b"\x00\x01binary" * 50)
    (tmp_path / "nocoords.csv").write_text("站址编码,基站名称,开通时间\n1,a,2020-01-01\n")
    r = clean(tmp_path)
    assert len(r.stations) == 1
    assert len(r.failed_files) == 3
    for line, name in zip(sorted(r.failed_files), ["empty.csv", "junk.xlsx", "nocoords.csv"]):
        assert name in line and "\n" not in line


def test_cli_exit_status_and_outputs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_csv(raw / "good.csv", [row(0), row(0)])
    (raw / "empty.csv").write_bytes(b"")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "clean",
            "--input",
            str(raw),
            "--city",
            "karamay",
            "--out",
            str(out),
            "--as-of",
            AS_OF,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "empty.csv" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    summary = json.loads((out / "clean_summary.json").read_text())
    assert (summary["rows_in"], summary["rows_kept"], summary["rows_merged"]) == (2, 1, 1)
    for name in ("stations.parquet", "quarantine.csv", "source_matches.csv"):
        assert (out / name).is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "analysis", "clean", "--input", str(raw), "--city", "atlantis", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "unknown city" in bad.stderr and "Traceback" not in bad.stderr


def test_same_inputs_give_byte_identical_outputs(tmp_path):
    write_csv(tmp_path / "a.csv", [row(i) for i in range(8)] + [row(0), row(1, lon="0")])
    a, b = tmp_path / "o1", tmp_path / "o2"
    clean_to_folder([tmp_path / "a.csv"], "karamay", a, as_of=AS_OF)
    clean_to_folder([tmp_path / "a.csv"], "karamay", b, as_of=AS_OF)
    for name in ("stations.parquet", "quarantine.csv", "clean_summary.json", "source_matches.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_the_station_table_is_handed_on_once_final_and_written_early_then_put_in_place(tmp_path, monkeypatch):
    """`clean_stations(stations_built=...)` hands on the station table it returns, before the summary is made;
    `clean_to_folder` writes its Parquet file then (`_point_table` once) under a temporary name, the same bytes
    as a write of the returned table, put in place once the other outputs are written; a run that fails after
    it leaves neither the file nor its temporary behind."""
    from analysis.clean import stations as stations_module

    write_csv(tmp_path / "a.csv", [row(i) for i in range(8)] + [row(0), row(1, lon="0")])
    handed, made = [], []
    summarize = stations_module.summarize
    monkeypatch.setattr(stations_module, "summarize", lambda *a, **k: made.append(len(handed)) or summarize(*a, **k))
    r = clean(tmp_path, stations_built=handed.append)
    assert len(handed) == 1 and handed[0] is r.table and made == [1]
    converted = []
    point_table = stations_module._point_table
    monkeypatch.setattr(stations_module, "_point_table", lambda *a: converted.append(1) or point_table(*a))
    clean_to_folder([tmp_path / "a.csv"], "karamay", tmp_path / "out", as_of=AS_OF)
    assert converted == [1]
    stations_module.write_stations(r.table, tmp_path / "again.parquet")
    assert (tmp_path / "out" / "stations.parquet").read_bytes() == (tmp_path / "again.parquet").read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["stations.parquet", "quarantine.csv", "source_matches.csv", "clean_summary.json"]
    )

    def fail(*args, **kwargs):
        raise OSError("disk full")

    # the table checked against the schema while it is written: a check that fails puts nothing in place either
    for spoil in ("_validate_sorted_stations", "write_table_csv"):
        monkeypatch.setattr(stations_module, spoil, fail)
        with pytest.raises(OSError, match="disk full"):
            clean_to_folder([tmp_path / "a.csv"], "karamay", tmp_path / spoil, as_of=AS_OF)
        assert list((tmp_path / spoil).iterdir()) == []


@pytest.mark.parametrize(
    "spec, expected",
    [
        (None, {"*": 24}),
        ("24", {"*": 24}),
        ("CMCC=24,CTCC=22", {"*": 24, "CMCC": 24, "CTCC": 22}),
    ],
)
def test_gnb_id_bits_spec(spec, expected):
    assert parse_gnb_id_bits(spec) == expected


@pytest.mark.parametrize("spec", ["40", "XX=24", "CMCC=abc"])
def test_gnb_id_bits_bad_spec(spec):
    with pytest.raises(UsageError):
        parse_gnb_id_bits(spec)


junk_text = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        ["0", "84.88", "45.58", "已开通", "2020-05-12", "中国移动", "", "８４．８８", "-1e308", "nan", "inf"]
    ),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    junk=st.lists(st.lists(junk_text, min_size=len(HEADER), max_size=len(HEADER)), min_size=1, max_size=25),
    good=st.lists(st.integers(0, 11), max_size=12),
)
def test_no_row_vanishes_whatever_the_junk(tmp_path_factory, junk, good):
    folder = tmp_path_factory.mktemp("junk")
    rows = [row(i) for i in good] + [["" if v is None else v for v in r] for r in junk]
    write_csv(folder / "junk.csv", rows)
    try:
        r = clean_stations([folder], "karamay", as_of=AS_OF)
    except BadInputError as exc:  # e.g. a NUL byte makes it binary: the only file is refused, and says so
        assert "junk.csv" in str(exc) and "no station records" in str(exc)
        return
    assert_invariant(r)
    [info] = r.summary["files"]
    n_records = len(rows) - info["trailing_empty_rows_ignored"]
    assert all(v in (None, "") for r_ in rows[n_records:] for v in r_)  # only empty rows at the end are not records
    seen = sorted(list(r.stations["source_row"]) + list(r.quarantine["source_row"]))
    assert seen == list(range(1, n_records + 1))  # every row accounted for exactly once
    assert len(r.stations) >= len(set(good))


def test_decommissioned_stations_are_not_on_air(tmp_path):
    write_csv(
        tmp_path / "a.csv", [row(0), row(1, status="已退网"), row(2, status="拆除"), row(3, status="待开通", date="")]
    )
    st_ = clean(tmp_path).stations.set_index("source_row")
    assert st_["status"].to_dict() == {1: "on_air", 2: "decommissioned", 3: "decommissioned", 4: "power_hookup"}
    assert st_["is_on_air"].to_dict() == {1: True, 2: False, 3: False, 4: False}
    assert "on air from 2020-05-12" in st_.loc[2, "notes"]
    # the day it went on air is kept; it is off air from the report's date, which the notes say is no report
    assert st_.loc[2, "on_air_date"] == pd.Timestamp("2020-05-12")
    assert st_.loc[2, "off_air_date"] == pd.Timestamp(AS_OF)
    assert f"decommissioned by {AS_OF}, date not reported" in st_.loc[2, "notes"]
    assert st_["off_air_date"].isna().tolist() == [True, False, False, True]


def test_a_reported_off_air_date_is_kept_and_counts_stop_at_it(tmp_path):
    header = [*HEADER, "退网日期"]
    write_csv(tmp_path / "a.csv", [[*row(0), ""], [*row(1, status="已退网"), "2021-05-20"]], header=header)
    st_ = clean(tmp_path).stations.set_index("source_row")
    assert st_.loc[2, "off_air_date"] == pd.Timestamp("2021-05-20")
    assert st_.loc[2, "status"] == "decommissioned" and not st_.loc[2, "is_on_air"]
    assert on_air_at(st_, "2021-05-19").tolist() == [True, True]
    assert on_air_at(st_, "2021-05-20").tolist() == [True, False]


def test_a_station_listed_again_after_its_decommission_is_on_air_with_its_history(tmp_path):
    """已拆除 with its old on-air date and, later in the same list or in another file, 开通 on a later day."""
    write_csv(tmp_path / "a.csv", [row(0, date="2021-06-15", status="开通"), row(0, status="已拆除"), row(1)])
    write_csv(tmp_path / "b.csv", [row(1, status="退网")])
    st_ = clean(tmp_path).stations.set_index("site_code")
    back = st_.loc["650203000000"]
    assert back["status"] == "on_air" and back["is_on_air"] and pd.isna(back["off_air_date"])
    assert back["on_air_date"] == pd.Timestamp("2020-05-12")
    assert "on air again from 2021-06-15 (first on air 2020-05-12)" in back["notes"]
    gone = st_.loc["650203000001"]  # (a 退网 list with the same on-air date: no re-opening)
    assert gone["status"] == "decommissioned" and gone["off_air_date"] == pd.Timestamp(AS_OF)


def test_pipeline_words_planned_dates_cancelled_and_unknown_statuses(tmp_path):
    """预计开通 and a pipeline stage dated after the report are sites with a planned on-air date; 已取消 is
    quarantined as cancelled; 暂缓 keeps its stage with a blocker; a word not understood is named."""
    write_csv(
        tmp_path / "a.csv",
        [
            row(0, status="预计开通", date="2021-06-30"),
            row(1, status="在建", date="2022-03-01"),
            row(2, status="已取消", date=""),
            row(3, status="在建暂缓", date=""),
            row(4, status="搬迁中", date=""),
            row(5, status="谈点", date=""),
            row(6, status="在建", date="2021-02-01"),  # a plan whose day has passed: slipped, still in construction
        ],
    )
    r = clean(tmp_path)
    st_ = r.stations.set_index("source_row")
    assert st_["status"].to_dict() == {
        1: "planned",
        2: "construction",
        4: "construction",
        5: "unknown",
        6: "site_access",
        7: "construction",
    }
    assert "planned on-air date 2021-02-01 (passed)" in st_.loc[7, "notes"]
    assert not st_["is_on_air"].any()
    assert "planned on-air date 2022-03-01" in st_.loc[2, "notes"]
    assert "the planned on-air date (passed), not counted on air" in st_.loc[1, "notes"]
    assert st_.loc[4, "blocker"] == "other" and "on hold" in st_.loc[4, "notes"]
    assert "status 搬迁中 not understood" in st_.loc[5, "notes"]
    assert r.summary["notes"]["status_words_not_understood"] == {"搬迁中": 1}
    assert fates(r) == {(3, "quarantined", "cancelled")}
    assert "cancelled" in r.summary["reason_meanings"]


def test_lines_under_the_table_are_no_records_and_other_cities_rows_are_said(tmp_path):
    """合计 / 备注 / 制表人 lines: not_a_record; a province-wide file's rows of another city without coordinates:
    other_city (this city's own such row stays missing_coordinates)."""
    header = ["地市", *HEADER]
    write_csv(
        tmp_path / "a.csv",
        [
            ["克拉玛依", *row(0)],
            ["乌鲁木齐市", *row(1, lon="", lat="")],
            ["克拉玛依市分公司", *row(2, lon="", lat="")],
            ["", "合计", "3个", "", "", "", "", "", ""],
            ["", "备注：坐标为WGS84", "", "", "", "", "", "", ""],
            ["", "制表人：张三", "", "", "", "", "", "", ""],
        ],
        header=header,
    )
    r = clean(tmp_path)
    assert fates(r) == {
        (2, "quarantined", "other_city"),
        (3, "quarantined", "missing_coordinates"),
        (4, "quarantined", "not_a_record"),
        (5, "quarantined", "not_a_record"),
        (6, "quarantined", "not_a_record"),
    }
    assert r.quarantine.set_index("source_row").loc[2, "detail"] == "city=乌鲁木齐市"


def test_china_mobiles_d_band_is_n41(tmp_path):
    write_csv(tmp_path / "a.csv", [row(0, band="D频段"), row(1, band="D")])
    assert clean(tmp_path).stations["band"].tolist() == ["n41", "n41"]


def test_two_coded_stations_are_never_merged_through_a_row_without_code(tmp_path):
    x, y = P[0]
    step = 0.0005  # ~39 m: A - C - B, with A and B 78 m apart
    write_csv(
        tmp_path / "a.csv", [row(0, code="A"), row(0, code="B", lon=x + 2 * step), row(0, code="", lon=x + step * 0.9)]
    )
    r = clean(tmp_path)
    assert sorted(r.stations["site_code"]) == ["A", "B"]
    q = r.quarantine.set_index("source_row")
    assert q.loc[3, "merged_into"] == "CMCC-A"  # the nearer of the two


def test_a_repeat_of_a_conflicting_row_is_a_conflict_too(tmp_path):
    far = row(2, lon=P[2][0] + 0.06)
    write_csv(tmp_path / "a.csv", [row(2), far, far])
    r = clean(tmp_path)
    assert fates(r) == {(2, "quarantined", "site_code_conflict"), (3, "quarantined", "site_code_conflict")}


def test_a_row_of_spaces_is_blank(tmp_path):
    write_csv(tmp_path / "a.csv", [row(0), [" "] * len(HEADER), row(1)])
    assert fates(clean(tmp_path)) == {(2, "quarantined", "blank_row")}


def test_a_blank_or_note_line_under_the_header_loses_nothing(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(",".join(HEADER) + "\n\n以下为新增站点\n" + ",".join(row(0)) + "\n", encoding="utf-8")
    r = clean(tmp_path)
    assert len(r.stations) == 1 and r.stations.loc[0, "source_row"] == 3
    assert {reason for _, _, reason in fates(r)} == {"blank_row", "missing_coordinates"}


@pytest.mark.parametrize("as_of", ["2021-03-22junk", "2021-02-30", "yesterday"])
def test_report_date_must_be_a_date(tmp_path, as_of):
    write_csv(tmp_path / "a.csv", [row(0)])
    with pytest.raises(UsageError, match="not a date"):
        clean(tmp_path, as_of=as_of)


def test_station_rows_sorted_by_id_in_code_point_order_stably():
    """The station table's order: station id by code point (as Python sorts str), ties in their order."""
    import pandas as pd

    from analysis.clean.stations import _sort_by_station_id

    ids = ["CMCC-b", "CMCC-B", "CMCC-站", "CMCC-a", "CMCC-B", "CMCC-1"]
    st = pd.DataFrame({"station_id": pd.array(ids, dtype="str"), "n": range(6)}, index=[10, 11, 12, 13, 14, 15])
    out = _sort_by_station_id(st)
    assert out["station_id"].tolist() == sorted(ids)
    assert out["n"].tolist() == [5, 1, 4, 3, 0, 2] and out.index.tolist() == list(range(6))


def test_source_labels_and_file_counts():
    import pandas as pd

    from analysis.clean.stations import _count_files, _source_label

    label = _source_label(
        pd.Series(["a.csv", "b.xlsx"], dtype="str"), pd.Series([None, "移动"], dtype="str"), pd.Series([7, 12])
    )
    assert label.tolist() == ["a.csv:7", "b.xlsx[移动]:12"]
    # sources of heads 0 (one), 1 (two files), 2 (one file twice), 3 (none); -1: a source of no head
    at = np.array([0, 1, 1, 2, 2, -1])
    counts = _count_files(at, pd.Series(["a", "a", "b", "c", "c", "d"], dtype="str"), 4)
    assert counts.tolist()[:3] == [1, 2, 1] and np.isnan(counts.iloc[3])
    assert _count_files(at, pd.Series(list("aabcc") + [None], dtype="str"), 3).tolist() == [1, 2, 1]


def test_finished_stations_with_a_repeated_id_fail_the_schema():
    """The ids are checked unique on the sorted table (neighbours), as the schema's own check would."""
    import pandas as pd
    import pandera.errors

    from analysis.clean.stations import _validate_sorted_stations
    from analysis.schemas import STATION_DTYPES

    row = {c: None for c in STATION_DTYPES} | {
        "station_id": "CMCC-S1", "name": "甲", "operator": "CMCC", "band": "n41", "lon": 84.9, "lat": 45.6,
        "district": "克拉玛依区", "status": "planned", "is_on_air": False, "source_file": "a.csv", "source_row": 2,
        "sources": "a.csv:2", "n_sources": 1, "in_operator_reports": True, "opencellid_cells": 0,
    }  # fmt: skip
    st = pd.DataFrame([row, row | {"station_id": "CMCC-S2", "source_row": 3}]).astype(STATION_DTYPES)
    _validate_sorted_stations(st)
    with pytest.raises(pandera.errors.SchemaError, match="station_id"):
        _validate_sorted_stations(pd.concat([st.iloc[:1], st.iloc[:1]], ignore_index=True))


def test_finished_stations_checked_in_slices_as_a_whole(monkeypatch):
    """The schema is checked a slice of rows at a time: a bad value in any slice fails, an empty table passes."""
    import pandas as pd
    import pandera.errors

    import analysis.clean.stations as stations
    from analysis.schemas import STATION_DTYPES

    row = {c: None for c in STATION_DTYPES} | {
        "station_id": "CMCC-S1", "name": "甲", "operator": "CMCC", "band": "n41", "lon": 84.9, "lat": 45.6,
        "district": "克拉玛依区", "status": "planned", "is_on_air": False, "source_file": "a.csv", "source_row": 2,
        "sources": "a.csv:2", "n_sources": 1, "in_operator_reports": True, "opencellid_cells": 0,
    }  # fmt: skip
    rows = [row | {"station_id": f"CMCC-S{i}", "source_row": i + 2} for i in range(5)]
    monkeypatch.setattr(stations, "_VALIDATE_ROWS", 2)
    st = pd.DataFrame(rows).astype(STATION_DTYPES)
    before = st.copy()
    stations._validate_sorted_stations(st)
    pd.testing.assert_frame_equal(st, before)  # (checked in place: nothing of it changed)
    stations._validate_sorted_stations(st.iloc[:0])
    for bad in ({"operator": "XX"}, {"lat": 95.0}, {"is_on_air": True}):
        with pytest.raises(pandera.errors.SchemaError):
            stations._validate_sorted_stations(pd.DataFrame(rows[:4] + [rows[4] | bad]).astype(STATION_DTYPES))
    with pytest.raises(pandera.errors.SchemaError, match="source_row"):  # a type is checked, not coerced
        stations._validate_sorted_stations(st.astype({"source_row": "float64"}))


def test_labels_joined_per_station_as_the_general_join_does():
    """A station's source labels in their order: by position for a station of one source, joined for
    one of several; a station without a source has none, a key that heads none is left out."""
    import pandas as pd

    from analysis.clean.stations import _join_in_order, _join_labels_by_head

    heads = pd.Index([5, 3, 9, 7])
    keys = pd.Series([3, 5, 3, 9, 11, 3])
    labels = pd.Series(["a:1", "b:2", "a:3", "c:4", "z:9", "a:5"], dtype="string")
    own = pd.Series(["b:2", "a:1", "c:4", "d:7"], index=heads, dtype="string")
    at = heads.get_indexer(keys.to_numpy())
    out = _join_labels_by_head(own, at, labels)
    assert out.tolist() == ["b:2", "a:1; a:3; a:5", "c:4", "d:7"]
    assert out.iloc[:3].tolist() == _join_in_order(keys, labels).reindex(heads).iloc[:3].tolist()
    # a source without its label (a member of a station of one record) takes its station's own
    assert _join_labels_by_head(own, at, labels.mask(keys.index == 0)).tolist() == out.tolist()


def test_source_ledger_flags_each_station_and_sorts_only_an_unsorted_table():
    from analysis.clean.ledger import build_source_ledger

    stations = pd.DataFrame(
        {
            "station_id": pd.Series(["CMCC-b", "CMCC-a", "CUCC-c", "CTCC-d"], dtype="str"),
            "operator": pd.Series(["CMCC", "CMCC", "CUCC", "CTCC"], dtype="str"),
            "district": pd.Series(["x", "y", None, "z"], dtype="str"),
            "status": pd.Series(["on_air"] * 4, dtype="str"),
            "on_air_date": pd.to_datetime(["2021-01-01"] * 4),
            "in_operator_reports": [True, True, True, False],
            "opencellid_cells": [2, 1, 0, 3],
            "opencellid_distance_m": [250.04, 10.0, np.nan, np.nan],
        }
    )
    ledger = build_source_ledger(stations)
    assert ledger["station_id"].tolist() == ["CMCC-a", "CMCC-b", "CTCC-d", "CUCC-c"]
    assert dict(zip(ledger["station_id"], ledger["flag"], strict=True)) == {
        "CMCC-a": "both_agree",
        "CMCC-b": "sources_disagree_gt_200m",
        "CTCC-d": "network_only",
        "CUCC-c": "operator_report_only",
    }
    assert ledger["opencellid_distance_m"].iloc[1] == 250.0
    assert str(ledger["flag"].dtype) == "str"
    # an already sorted table comes back in its order, its columns not altered
    again = build_source_ledger(stations.sort_values("station_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(again, ledger)
    assert stations["opencellid_distance_m"].iloc[0] == 250.04


def test_source_labels_per_file_and_sheet_equal_labels_joined_row_by_row():
    from analysis.clean import stations as S

    file = pd.Series(["b.xlsx", "a.csv", "b.xlsx", None, "a.csv", "b.xlsx"], dtype="str")
    sheet = pd.Series(["S2", None, "S1", None, None, ""], dtype="str")
    row = pd.Series([7, 2, 3, 4, 5, 6])
    want = ["b.xlsx[S2]:7", "a.csv:2", "b.xlsx[S1]:3", None, "a.csv:5", "b.xlsx[]:6"]
    rows = pa.array(row.to_numpy()).cast(pa.large_string())
    for files in (file, file.astype("category")):
        got = S._source_label(files, sheet, row)
        assert got.tolist() == [w if w is not None else pd.NA for w in want]
        assert got.dtype == S._source_label_per_row(file, sheet, rows).dtype
    assert S._source_label_per_row(file, sheet, rows).fillna("-").tolist() == [w or "-" for w in want]


def test_member_sources_taken_from_every_rows_labels_as_made_for_them():
    """`_member_sources` given every row's labels (`_row_labels`, made while the duplicates are merged) gives
    what it makes from the heads' and members' own rows: files and sheets mixed, a row without a file."""
    from analysis.clean import stations as S

    raw = pd.DataFrame(
        {
            "source_file": pd.Series(["b.xlsx", "a.csv", "b.xlsx", None, "a.csv", "b.xlsx"], dtype="str"),
            "source_sheet": pd.Series(["S2", None, "S1", None, None, ""], dtype="str"),
            "source_row": [7, 2, 3, 4, 5, 6],
        }
    ).set_axis([10, 11, 12, 13, 14, 15])
    head_at = np.array([4, 0, 3, 2])
    member_at = np.array([4, 1, 0, 5, 3, 2])
    member_station = np.array([0, 0, 1, 1, 2, 3])  # (stations 0 and 1 of two records each)
    own_taken, sources_taken = S._member_sources(raw, member_at, member_station, head_at, S._row_labels(raw))

    def made_for(at):  # (the labels made for those rows themselves)
        files = pd.Categorical(raw["source_file"])
        return S._source_label(pd.Series(files.take(at)), raw["source_sheet"].take(at), raw["source_row"].take(at))

    own = made_for(head_at)
    pd.testing.assert_series_equal(own_taken, own)
    several = member_station < 2  # (the members of the stations of two records: labelled, the others not)
    pd.testing.assert_series_equal(
        sources_taken["label"][several].reset_index(drop=True), made_for(member_at[several]), check_names=False
    )
    assert sources_taken["label"][~several].isna().all()
    assert own.fillna("-").tolist() == ["a.csv:5", "b.xlsx[S2]:7", "-", "b.xlsx[S1]:3"]
    assert sources_taken["label"].fillna("-").tolist() == ["a.csv:5", "a.csv:2", "b.xlsx[S2]:7", "b.xlsx[]:6", "-", "-"]


def test_station_table_written_from_lon_lat_as_geopandas_writes_its_points(tmp_path):
    """`write_stations` of the plain table (points as WKB from lon/lat, no shapely point) writes the same
    bytes as geopandas' GeoParquet of the GeoDataFrame; a table it cannot write so goes through geopandas."""
    import pyarrow.parquet as pq

    from analysis.clean.stations import _with_points, write_stations

    write_csv(tmp_path / "s.csv", [row(i) for i in range(4)] + [row(3), row(5, code="", lon=" ")])
    result = clean(tmp_path)
    table = result.table
    assert "geometry" not in table.columns and len(table) == 4
    write_stations(table, tmp_path / "fast.parquet")
    write_stations(result.stations, tmp_path / "geopandas.parquet")
    assert (tmp_path / "fast.parquet").read_bytes() == (tmp_path / "geopandas.parquet").read_bytes()
    # a point of NaN (not a cleaned station, but a table a user may pass): geopandas writes it
    odd = table.copy()
    odd.loc[1, "lon"] = np.nan
    write_stations(odd, tmp_path / "odd.parquet")
    write_stations(_with_points(odd), tmp_path / "odd_geopandas.parquet")
    assert (tmp_path / "odd.parquet").read_bytes() == (tmp_path / "odd_geopandas.parquet").read_bytes()
    assert pq.read_table(tmp_path / "fast.parquet").num_rows == 4


def test_station_table_columns_written_in_the_encodings_of_their_values(tmp_path):
    """stations.parquet: a dictionary for the columns of repeated values, the stations' own values plain (their
    coordinates byte-stream split, their source rows as deltas), no statistics for free text and WKB but for
    the columns a reader picks row groups by, every column snappy; read back, the same table."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    from analysis.clean.stations import write_stations

    write_csv(tmp_path / "s.csv", [row(i) for i in range(6)])
    result = clean(tmp_path)
    write_stations(result.table, tmp_path / "s.parquet")
    columns = pq.ParquetFile(tmp_path / "s.parquet").metadata.row_group(0)
    chunk = {columns.column(i).path_in_schema: columns.column(i) for i in range(columns.num_columns)}
    for own in ("station_id", "site_code", "name", "sources", "geometry"):
        assert set(chunk[own].encodings) == {"PLAIN", "RLE"}, own
    assert "BYTE_STREAM_SPLIT" in chunk["lon"].encodings and "BYTE_STREAM_SPLIT" in chunk["lat"].encodings
    assert "DELTA_BINARY_PACKED" in chunk["source_row"].encodings
    for repeated in ("operator", "band", "district", "status", "on_air_date", "source_file"):
        assert "RLE_DICTIONARY" in chunk[repeated].encodings, repeated
    for free in ("name", "sources", "geometry"):
        assert not chunk[free].is_stats_set, free
    for chosen_by in ("station_id", "operator", "district", "on_air_date", "lon", "lat"):
        assert chunk[chosen_by].statistics.has_min_max, chosen_by
    assert {c.compression for c in chunk.values()} == {"SNAPPY"}
    back = gpd.read_parquet(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(back.drop(columns="geometry"), result.table.reset_index(drop=True))
    assert back.geometry.x.tolist() == result.table["lon"].tolist()


def test_station_table_of_several_row_groups_written_a_row_group_at_a_time_as_whole(tmp_path, monkeypatch):
    """A table of several row groups is made Arrow a row group at a time ahead of pyarrow's writer
    (`_stations_writer`): the bytes of the whole table converted and written at once (row groups of 4 here,
    the last one short; the "geo" bounds of the whole)."""
    import pyarrow.parquet as pq

    from analysis.clean import stations

    write_csv(tmp_path / "s.csv", [row(i) for i in range(11)])
    result = clean(tmp_path)
    table = result.table
    monkeypatch.setattr(stations, "STATION_ROW_GROUP", 4)
    stations.write_stations(table, tmp_path / "pieces.parquet")
    whole = stations._point_table(table)
    options = stations.station_parquet_options(stations._kinds(whole.schema))
    pq.write_table(whole, tmp_path / "whole.parquet", row_group_size=4, **options)
    assert (tmp_path / "pieces.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "pieces.parquet").metadata.num_row_groups == 3
    # a conversion that fails leaves no file (the writer closed, the temporary name removed by write_atomic)
    monkeypatch.setattr(stations, "_point_table", lambda *a, **k: (_ for _ in ()).throw(ValueError("broken")))
    with pytest.raises(ValueError, match="broken"):
        stations.write_stations(table, tmp_path / "failed.parquet")
    assert not list(tmp_path.glob("failed*")) and not list(tmp_path.glob(".failed*"))


def test_a_category_of_texts_decoded_as_pandas_types_it():
    """The finished table's file column (a category while the stations are built) typed as pandas types it."""
    from analysis.clean.stations import _category_as_text

    for values in (
        pd.Series(pd.Categorical(["a.csv", None, "b站.csv", "a.csv"]), index=[5, 6, 7, 8]),
        pd.Series(pd.Categorical([None, None], categories=["x"])),
        pd.Series(pd.Categorical(["一个.csv"] * 3, categories=["b.csv", "一个.csv"]), index=[2, 0, 1]),  # (one text)
        pd.Series(pd.Categorical([3, 1, None])),
        pd.Series(["plain", None], dtype=object),
    ):
        out, expected = _category_as_text(values), values.astype("str")
        assert out.dtype == expected.dtype and out.equals(expected) and (out.index == expected.index).all()


def test_stations_put_in_id_order_by_code_point_and_left_alone_when_in_order():
    """`_sort_by_station_id`: a table whose ids are in order already (neighbours compared) keeps its rows;
    others are sorted stably by code point (as Python compares strings), missing ids last."""
    from analysis.clean.stations import _sort_by_station_id

    ordered = pd.DataFrame({"station_id": pd.Series(["A-1", "A-1", "B-10", "B-9", "a"], dtype="str"), "n": range(5)})
    assert _sort_by_station_id(ordered.copy())["n"].tolist() == [0, 1, 2, 3, 4]
    shuffled = pd.DataFrame({"station_id": pd.Series(["b", "A", "B", "A", "é"], dtype="str"), "n": range(5)})
    out = _sort_by_station_id(shuffled)
    assert out["station_id"].tolist() == ["A", "A", "B", "b", "é"] and out["n"].tolist() == [1, 3, 2, 0, 4]
    with_missing = pd.DataFrame({"station_id": pd.Series([None, "A", "B"], dtype="str"), "n": range(3)})
    assert _sort_by_station_id(with_missing)["n"].tolist() == [1, 2, 0]


@pytest.mark.parametrize("dtype", [object, pd.StringDtype("pyarrow"), "str"])
def test_groups_joined_by_pyarrow_as_a_python_join_per_group(dtype):
    """`_join_groups` (lists joined by pyarrow) gives what a groupby of the keys in order of first sight
    joining each group's values in their order gives: the same keys, texts and dtype; missing keys dropped."""
    from analysis.clean.stations import _join_groups

    rng = np.random.default_rng(3)
    values = pd.Series([f"f{i % 7}.csv:{i}" for i in range(300)], dtype=dtype)
    keys = rng.integers(0, 40, 300).astype(float)
    for k in (keys.astype(np.int64), np.where(np.arange(300) < 5, np.nan, keys)):
        expected = values.groupby(k, sort=False).agg("; ".join).astype(values.dtype)
        got = _join_groups(k, values, "; ", values.dtype)
        assert got.index.equals(expected.index) and got.tolist() == expected.tolist() and got.dtype == expected.dtype


@pytest.mark.parametrize("dtype", ["str", object])
def test_plain_site_codes_skip_the_normalising_and_others_get_every_step(dtype):
    """`_normalize_code` keeps codes of capital letters and digits as they are (their normal form) and
    gives the others every step (NFKC, trim, upper case, spaces as _, Excel's .0, ="…", blank as NA):
    the same codes, index and dtype as the steps run on every code."""
    from analysis.clean import parse
    from analysis.clean.stations import _normalize_code, _normalize_other_codes

    cases = [["S1", "AB12", "650203"], ["S1", None, " s 2 ", "６５０", "1.0", "", '="0012"', "ab"], [None], ["x.0"], []]
    for codes in cases:
        values = pd.Series(codes, dtype=dtype, index=np.arange(len(codes)) * 3)
        got, expected = _normalize_code(values), _normalize_other_codes(values)
        assert got.dtype == expected.dtype and got.index.equals(expected.index)
        assert got.fillna("<NA>").tolist() == expected.fillna("<NA>").tolist()
    assert _normalize_code(pd.Series([" s 2 ", "６５０", "1.0"], dtype=dtype)).tolist() == ["S_2", "650", "1"]
    assert parse.normalize_text(pd.Series(["", " "], dtype=dtype)).isna().all()


def test_repeated_labels_counted_as_duplicated_finds_them():
    """`_is_repeated` (bincount of small labels) marks what `duplicated(keep=False)` marks, for small
    labels, far-apart ones and none."""
    from analysis.clean.stations import _is_repeated

    rng = np.random.default_rng(5)
    for labels in (rng.integers(0, 30, 100), rng.integers(0, 30, 100) * 10**12, np.zeros(0, dtype=np.int64)):
        assert _is_repeated(labels).tolist() == pd.Series(labels).duplicated(keep=False).tolist()


def test_arrow_pool_is_jemalloc_during_a_clean_and_restored_after(tmp_path, monkeypatch):
    from analysis.clean import stations as stations_module

    write_csv(tmp_path / "ops.csv", [row(i) for i in range(3)])
    seen = []
    read_all = stations_module._read_all
    monkeypatch.setattr(
        stations_module, "_read_all", lambda *a: (seen.append(pa.default_memory_pool().backend_name), read_all(*a))[1]
    )
    before = pa.default_memory_pool().backend_name
    clean_to_folder([tmp_path / "ops.csv"], "karamay", tmp_path / "out", as_of=AS_OF)
    assert pa.default_memory_pool().backend_name == before
    assert seen == ["jemalloc" if "jemalloc" in pa.supported_memory_backends() else before]


def test_overlapping_cleans_restore_the_pool_once_the_last_ends():
    """Two runs overlapping in threads share one pool swap: the first to end must not put the old
    pool back under the other (nor the other restore jemalloc as 'the pool before' and leave it)."""
    from analysis.clean.stations import _arrow_buffers_from_jemalloc

    before = pa.default_memory_pool().backend_name
    during = "jemalloc" if "jemalloc" in pa.supported_memory_backends() else before
    first, second = _arrow_buffers_from_jemalloc(), _arrow_buffers_from_jemalloc()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == during
    second.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == before


def test_lacking_reader_columns_are_separate_arrays(tmp_path):
    """A file read whole lacks both reader columns; a write into one must not show in the other
    (a shared ndarray behind a frame built with copy=False is not copied on write)."""
    from analysis.clean import stations as stations_module
    from analysis.clean.stations import READ_COLUMNS, _stack_columns

    write_csv(tmp_path / "ops.csv", [row(i) for i in range(3)])
    tables, _, _ = stations_module._read_all([tmp_path / "ops.csv"], None)
    table = tables[0]
    assert not set(READ_COLUMNS) & set(table.frame.columns)  # the case this test is about
    out = _stack_columns(table, (), "operator")
    out.loc[0, READ_COLUMNS[0]] = "written"
    assert out[READ_COLUMNS[1]].isna().all()


def test_placeholder_far_future_dates_are_quarantined_not_a_crash(tmp_path):
    """9999-12-31 (a usual "no date yet" placeholder) and other years a nanosecond timestamp cannot
    hold are unreadable dates: the row is quarantined with its reason, the others are cleaned (it was
    an OutOfBoundsDatetime traceback that stopped the whole clean)."""
    write_csv(tmp_path / "ops.csv", [row(0), row(1, date="9999-12-31"), row(2, date="1000/1/1")])
    result = clean(tmp_path, tmp_path / "ops.csv")
    assert len(result.stations) == 1
    assert {(f, r) for _, f, r in fates(result)} == {("quarantined", "unparseable_on_air_date")}
    assert sorted(result.quarantine["detail"]) == ["on_air_date=1000/1/1", "on_air_date=9999-12-31"]


def test_stage_dates_out_of_order_or_placeholders_are_set_aside_with_a_note(tmp_path):
    """A site's stage dates going back in time lose the fewest dates that put them in order (never the
    on-air date), a placeholder like 1900-01-01 is no stage date; each said in the notes. Dates in order
    are kept as they are."""
    header = [
        "站址编码",
        "站址名称",
        "需求运营商",
        "经度",
        "纬度",
        "当前阶段",
        "立项日期",
        "进场日期",
        "开工日期",
        "开通日期",
    ]
    rows = [
        # 开工 a typo two years early: it alone goes
        ["S1", "站1", "移动", *map(str, P[0]), "在建", "2021-02-15", "2021-06-07", "2019-01-01", ""],
        # on air before 开工: the on-air date stays, 开工 goes
        ["S2", "站2", "移动", *map(str, P[1]), "已开通", "2021-01-05", "2021-02-01", "2021-06-01", "2021-05-12"],
        # a placeholder planning date
        ["S3", "站3", "移动", *map(str, P[2]), "在建", "1900-01-01", "2021-03-01", "2021-04-01", ""],
        # in order: untouched
        ["S4", "站4", "移动", *map(str, P[3]), "已开通", "2021-01-05", "2021-02-01", "2021-03-01", "2021-05-12"],
    ]
    write_csv(tmp_path / "铁塔_跟踪.csv", rows, header=header)
    st = clean(tmp_path).stations.set_index("site_code")
    assert pd.isna(st.loc["S1", "construction_date"]) and st.loc["S1", "site_access_date"] == pd.Timestamp("2021-06-07")
    assert "construction_date 2019-01-01 out of order" in st.loc["S1", "notes"]
    assert st.loc["S2", "on_air_date"] == pd.Timestamp("2021-05-12") and pd.isna(st.loc["S2", "construction_date"])
    assert pd.isna(st.loc["S3", "planned_date"]) and "planned_date 1900-01-01" in st.loc["S3", "notes"]
    assert st.loc["S4", "construction_date"] == pd.Timestamp("2021-03-01") and pd.isna(st.loc["S4", "notes"])


def test_an_unknown_on_air_header_is_named_in_the_error(tmp_path):
    """启用日期 is read as the on-air date; a header the package does not know leaves every row without
    one, and the one-line error says which headers it reads as the on-air date."""
    header = ["站址编码", "基站名称", "运营商", "经度", "纬度", "频段", "启用日期", "状态"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_csv(tmp_path / "a" / "ops.csv", [row(0)], header=header)
    assert len(clean(tmp_path, tmp_path / "a" / "ops.csv").stations) == 1
    header[6] = "启动日期"
    write_csv(tmp_path / "b" / "ops.csv", [row(0)], header=header)
    with pytest.raises(BadInputError) as err:
        clean_to_folder([tmp_path / "b" / "ops.csv"], "karamay", tmp_path / "out", as_of=AS_OF)
    message = str(err.value)
    assert "on_air_without_date 1" in message and "no column was read as the on-air date" in message
    assert "开通时间" in message and "\n" not in message


def test_a_released_table_holds_none_of_its_text():
    """A table's frame emptied once stacked keeps its columns and dtypes but none of the buffers: a slice
    of no rows of Arrow strings held the whole column (a national file's raw text, through the run)."""
    from analysis.clean.stations import _emptied

    frame = pd.DataFrame(
        {"name": pd.Series(["甲站"] * 1000, dtype="str"), "source_row": np.arange(1000), "file": ["a.csv"] * 1000}
    ).astype({"file": "category"})
    out = _emptied(frame)
    assert len(out) == 0 and list(out.columns) == list(frame.columns)
    assert out.dtypes.tolist() == frame.dtypes.tolist()
    held = sum(chunk.get_total_buffer_size() for chunk in pa.chunked_array(pa.array(out["name"].array)).chunks)
    assert held < 100  # (the slice `frame.iloc[:0]` holds ~11 KB here)


def test_object_columns_typed_as_text_as_pandas_types_them():
    """A column of mostly missing texts is made text from the texts present only; every column of objects
    comes out as `astype("str")` makes it (dense, mixed, all missing, empty)."""
    from analysis.clean.stations import _objects_as_text

    sparse = pd.Series([None, "甲; 乙", None, np.nan, None, "x"], index=[4, 5, 6, 7, 8, 9], dtype=object, name="notes")
    columns = [
        sparse,
        pd.Series(["n41", "n78", None], dtype=object),
        pd.Series(["n41", "n78", None, "n41"] * 60, dtype=object, index=range(5, 245)),
        pd.Series(["n41", 3.5, "n41"] * 80, dtype=object),
        pd.Series([None, 7, None, None], dtype=object),
        pd.Series([None, None], dtype=object),
        pd.Series([], dtype=object),
        # every kind of missing value, empty and control characters, numpy's and bytes' texts
        pd.Series([None, np.nan, pd.NA, pd.NaT, "", "中文", "x\x00y", np.str_("n78"), b"ab"], dtype=object),
    ]
    for values in columns:
        pd.testing.assert_series_equal(_objects_as_text(values), values.astype("str"))
    out = _objects_as_text(sparse)
    assert out.isna().tolist() == [True, False, True, True, True, False] and out[5] == "甲; 乙" and out[9] == "x"


def test_a_column_taken_for_the_stations_keeps_its_dtype():
    """`_taken` keeps a column's dtype (Arrow strings, numbers) or reads Python objects as pandas does."""
    from analysis.clean.stations import _taken

    at, index = np.array([3, 0, 0]), pd.Index([7, 8, 9])
    for values in (pd.Series(["x", None, "z", "w"], dtype="str"), pd.Series([1.5, 2.0, np.nan, 4.0])):
        pd.testing.assert_series_equal(
            _taken(values, at, index), pd.Series(values.to_numpy()[at], index=index, dtype=values.dtype)
        )
    objects = pd.Series(["x", None, "z", "w"], dtype=object)
    pd.testing.assert_series_equal(_taken(objects, at, index), pd.Series(["w", "x", "x"], index=index))


def test_texts_replaced_in_their_rows_as_pyarrow_replaces_them():
    """`_replace_texts` (buffers made in numpy) gives what `pc.replace_with_mask` gives: rows at either end,
    next to each other, a slice of a larger array, empty texts; missing values take pyarrow's own way."""
    import pyarrow.compute as pc

    from analysis.clean.stations import _replace_texts

    base = pa.array([f"f.csv:{i}" if i % 5 else "" for i in range(40)], pa.large_string())
    cases = [
        (base, [0, 1, 2, 17, 39]),
        (base.slice(3, 30), [0, 5, 6, 29]),
        (base, []),
        (pa.array(["a", None, "c", "d"], pa.large_string()), [1, 3]),
    ]
    for text, rows in cases:
        rows = np.array(rows, dtype=np.int64)
        put = pa.array([f"x{j}; 移动:{j}" if j % 2 else "" for j in range(len(rows))], pa.large_string())
        mask = np.zeros(len(text), dtype=bool)
        mask[rows] = True
        want = pc.replace_with_mask(text, pa.array(mask), put)
        got = _replace_texts(text, rows, put)
        assert got.equals(want), (got, want)


def test_a_dms_cell_whose_seconds_round_to_60_is_read_as_the_next_minute(tmp_path):
    """112°16′14.736″E / 32°53′60.000″N is what a writer rounding 59.9996″ writes: the position is
    unambiguous (the next minute), not unparseable coordinates; 61″ is still refused."""
    write_csv(
        tmp_path / "a.csv",
        [row(0, lon="84°52′60.000″E", lat="45°34′48″N"), row(3, lon="84°52′61″E", lat="45°34′48″N")],
    )
    r = clean(tmp_path)
    assert_invariant(r)
    assert r.stations["lon"].iloc[0] == pytest.approx(84 + 53 / 60)
    assert r.summary["quarantined_by_reason"] == {"unparseable_coordinates": 1}


def test_quarantine_csv_defuses_what_a_spreadsheet_would_run(tmp_path):
    """A reviewer opens quarantine.csv in Excel (the report links it): a sender's formula in any field
    (an OpenCelliD radio, an operator's site name) is written with an apostrophe first; numbers stay."""
    hostile = cell("NR", 0, 900001, 1, *P[6], "2021-03-05")
    hostile[0] = "=cmd|' /C calc'!A0"
    negative = cell("NR", 0, 900001, 2, *P[6], "2021-03-05")
    negative[4], negative[6] = "-5", "-inf"
    write_csv(tmp_path / "ocid.csv", [hostile, negative], header=OCID_HEADER)
    write_csv(tmp_path / "ops.csv", [row(0), row(1, name='=HYPERLINK("http://evil","x")', lon="")])
    clean_to_folder(tmp_path, "karamay", tmp_path / "out", as_of=AS_OF)
    q = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert set(q["radio"]) >= {"'=cmd|' /C calc'!A0"}
    assert q.loc[q["cell"] == "-5", "lon"].tolist() == ["'-inf"]  # (-inf is a formula to Excel; -5 a number)
    assert '\'=HYPERLINK("http://evil","x")' in set(q["name"])


def test_the_station_table_checked_as_the_whole_schema_checks_it(tmp_path):
    """`_validate_sorted_stations` leaves pandera's look at every text for the texts' type only where each text
    column is of pandas' strings: a word not allowed, a missing name, a repeated id and a number among the names
    of a column of objects are still refused."""
    import pandera.errors

    from analysis.clean.stations import _validate_sorted_stations

    stations = clean(tmp_path, write_csv(tmp_path / "s.csv", [row(0), row(1), row(2)])).table
    _validate_sorted_stations(stations)
    spoilt = [
        stations.assign(operator=stations["operator"].where(stations.index != 1, "XX")),
        stations.assign(name=stations["name"].where(stations.index != 1, np.nan)),
        stations.assign(station_id=[stations["station_id"].iloc[0]] * len(stations)),
        stations.assign(name=pd.Series(["a", 7, "c"], dtype=object, index=stations.index)),
    ]
    for table in spoilt:
        with pytest.raises(pandera.errors.SchemaError):
            _validate_sorted_stations(table)


def test_the_read_columns_a_fast_read_lacks_are_objects_of_their_own(tmp_path):
    """A table pyarrow read has no read_note / read_problem: stacked, each is its own column of None as objects
    (the frame not left to infer their type, ~0.2 s at 4.25 M rows), on the frame's RangeIndex; a note written
    into one row of one shows nowhere else."""
    from analysis.clean.sources import FIELDS, read_station_file
    from analysis.clean.stations import _stack

    path = tmp_path / "s.csv"
    path.write_text("站址编码,经度,纬度\nS1,84.88,45.58\nS2,84.89,45.59\n", encoding="utf-8")
    tables = read_station_file(path)
    assert "read_note" not in tables[0].frame.columns
    raw = _stack(tables, "operator", FIELDS)
    assert [raw[c].dtype for c in ("read_note", "read_problem")] == [np.dtype(object)] * 2
    assert isinstance(raw.index, pd.RangeIndex) and raw["read_note"].tolist() == [None, None]
    raw.loc[1, "read_note"] = "said"
    assert raw["read_note"].tolist() == [None, "said"] and raw["read_problem"].tolist() == [None, None]


def test_a_city_that_cannot_be_read_fails_the_clean_with_its_own_line(tmp_path):
    """The city and its districts are read while the files are (`clean_stations`): a city.toml that cannot be read
    fails the run with its own one line, whether the files are readable or there are none."""
    from analysis.config import resolve_city
    from analysis.errors import ConfigError

    bad = tmp_path / "city" / "city.toml"
    bad.parent.mkdir()
    bad.write_text('[city]\nname_zh = "克拉玛依"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as want:
        resolve_city(bad)
    data = tmp_path / "data"
    data.mkdir()
    for inputs in ([write_csv(data / "s.csv", [row(0)])], [tmp_path / "nothing.csv"]):
        with pytest.raises(ConfigError) as got:
            clean_stations(inputs, bad, as_of=AS_OF)
        assert got.value.one_line() == want.value.one_line()


def test_scipy_is_imported_while_the_files_are_read_not_with_the_package():
    """Importing the cleaning does not import scipy (~0.4 s, a third of its imports): `clean_stations` imports it in a
    thread while pyarrow reads the files, and the de-duplication where it first uses it."""
    said = subprocess.run(
        [sys.executable, "-c", "import sys, analysis.clean.stations; print('scipy' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert said.stdout.strip() == "False"


def test_notes_then_later_notes_joined_only_where_a_row_has_the_first():
    """`_notes_then` is `_finish_notes` of each row's notes followed by its later ones (the position's notes, then
    the labels' and dates' made and finished beside the district look-up)."""
    from analysis.clean.stations import _finish_notes, _notes_then

    notes = pd.Series(["", "swapped; ", "", "GCJ; "], dtype=object, index=[5, 6, 7, 8])
    later = pd.Series(["", "", "on-air date given to the month; ", "x; "], dtype=object, index=notes.index)
    first, finished = (notes != "").to_numpy(), _finish_notes(later)
    expected = _finish_notes(notes + later)
    assert (
        _notes_then(notes, first, later, finished).tolist()
        == expected.tolist()
        == [None, "swapped", "on-air date given to the month", "GCJ; x"]
    )
    assert _notes_then(None, np.zeros(4, dtype=bool), later, finished) is finished
