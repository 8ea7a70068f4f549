"""The catalogue of bad inputs, through the command line a user runs.

Each case says what a user should see: one line on stderr naming the file (and the row where
known) and exit status 1, or a quarantine row with its reason; never a traceback, never a row lost.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from analysis.clean import stations as clean_module
from analysis.cli import main
from analysis.config import RAW_DIR

AS_OF = "2022-01-10"
GOOD_ROW = "650203000001,准噶尔路宏站,中国移动,84.8800,45.5800,2.6GHz,2020-05-12,已开通\n"
HEADER = "站址编码,基站名称,运营商,经度,纬度,频段,开通时间,状态\n"


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.out, captured.err.strip().splitlines()


def clean_cli(capsys, inputs, out, city="karamay"):
    return run(capsys, "clean", "--input", *inputs, "--city", city, "--out", out, "--as-of", AS_OF)


def _xlsx_merged_header(path):
    wb = Workbook()
    notes = wb.active
    notes.title = "说明"
    notes.append(["本表为测试"])
    for title in ("2020年", "2021年"):
        ws = wb.create_sheet(title)
        ws.append(["站址编码", "基站名称", "坐标", None, "开通时间"])
        ws.append([None, None, "经度", "纬度", None])
        ws.merge_cells("C1:D1")
        ws.append([f"65020300{title[:4]}", "站", 84.88 if title == "2020年" else 84.90, 45.58, f"{title[:4]}-05-12"])
    wb.save(path)


# name, file content (bytes, or a function writing the file), the words the one-line error must hold
FILE_ERRORS = [
    ("empty.csv", b"", "empty"),
    ("header_only.csv", HEADER.encode(), "no records"),
    ("junk.bin", bytes(range(256)) * 8, "binary"),
    ("mixed.csv", HEADER.encode() + GOOD_ROW.encode("utf-8") + "独山子站".encode("gbk") + b",84.9,45.6\n", "encoding"),
    ("nocoords.csv", "站址编码,基站名称,开通时间\n1,a,2020-01-01\n".encode(), "longitude"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, ".xls"),
    ("fake.xlsx", b"PK\x03\x04" + b"not a zip" * 10, "XLSX"),
]


@pytest.mark.parametrize("name, content, words", FILE_ERRORS, ids=[c[0] for c in FILE_ERRORS])
def test_unusable_file_is_one_line_status_1_and_the_others_still_clean(tmp_path, capsys, name, content, words):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.csv").write_text(HEADER + GOOD_ROW, encoding="utf-8")
    (raw / name).write_bytes(content)
    status, out, err = clean_cli(capsys, [raw / "good.csv", raw / name], tmp_path / "out")
    assert status == 1
    assert len(err) == 1 and name in err[0] and words in err[0]
    summary = json.loads((tmp_path / "out" / "clean_summary.json").read_text())
    assert summary["rows_kept"] == 1
    assert summary["failed_files"] and name in summary["failed_files"][0]


def test_excel_with_merged_header_cells_and_several_sheets(tmp_path, capsys):
    _xlsx_merged_header(tmp_path / "merged.xlsx")
    status, out, err = clean_cli(capsys, [tmp_path / "merged.xlsx"], tmp_path / "out")
    assert status == 0 and err == []
    stations = pd.read_parquet(tmp_path / "out" / "stations.parquet")
    assert sorted(stations["source_sheet"]) == ["2020年", "2021年"]


ROW_CASES = [
    ("missing identity", ",,中国移动,84.88,45.58,2.6GHz,2020-05-12,已开通", "no_identity"),
    ("NaN coordinates", "1,a,移动,nan,nan,2.6GHz,2020-05-12,已开通", "unparseable_coordinates"),
    ("infinite coordinates", "1,a,移动,inf,-inf,2.6GHz,2020-05-12,已开通", "unparseable_coordinates"),
    ("enormous value", "1,a,移动,1e308,45.58,2.6GHz,2020-05-12,已开通", "unparseable_coordinates"),
    ("zero", "1,a,移动,0,0,2.6GHz,2020-05-12,已开通", "zero_coordinates"),
    ("far away", "1,a,移动,121.47,31.23,2.6GHz,2020-05-12,已开通", "outside_city"),
    ("date in the future", "1,a,移动,84.88,45.58,2.6GHz,2099-01-01,已开通", "future_on_air_date"),
    ("impossible date", "1,a,移动,84.88,45.58,2.6GHz,2020-02-30,已开通", "unparseable_on_air_date"),
    ("a huge text", "1," + "长" * 100_000 + ",移动,84.88,45.58,2.6GHz,2099-01-01,已开通", "future_on_air_date"),
]


@pytest.mark.parametrize("case, line, reason", ROW_CASES, ids=[c[0] for c in ROW_CASES])
def test_bad_row_is_quarantined_with_its_reason_and_file_and_row(tmp_path, capsys, case, line, reason):
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + GOOD_ROW + line + "\n", encoding="utf-8")
    status, out, err = clean_cli(capsys, [path], tmp_path / "out")
    assert status == 0
    q = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str, encoding="utf-8-sig")
    assert q[["source_row", "reason"]].values.tolist() == [["2", reason]]
    assert q["source_file"].iloc[0].endswith("rows.csv")


def test_100k_rows_with_a_few_bad_ones(tmp_path, capsys):
    n = 100_000
    rng = np.random.default_rng(7)
    lon = 84.86 + rng.random(n) * 0.06  # downtown Karamay, inside 克拉玛依区
    lat = 45.56 + rng.random(n) * 0.04
    frame = pd.DataFrame(
        {
            "站址编码": [f"S{i:07d}" for i in range(n)],
            "基站名称": [f"站{i}" for i in range(n)],
            "运营商": "中国移动",
            "经度": lon.round(6).astype(str),
            "纬度": lat.round(6).astype(str),
            "频段": "2.6GHz",
            "开通时间": "2021-05-12",
            "状态": "已开通",
        }
    )
    bad = {17: ("经度", "待定"), 50_000: ("开通时间", "2099-01-01"), 99_998: ("纬度", "")}
    for i, (col, value) in bad.items():
        frame.loc[i, col] = value
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    status, out, err = clean_cli(capsys, [path], tmp_path / "out")
    assert status == 0
    summary = json.loads((tmp_path / "out" / "clean_summary.json").read_text())
    assert summary["rows_in"] == n
    assert summary["rows_quarantined"] == 3
    assert summary["rows_kept"] + summary["rows_merged"] == n - 3
    q = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str, encoding="utf-8-sig")
    quarantined = q[q["fate"] == "quarantined"]
    assert sorted(quarantined["source_row"].astype(int)) == [i + 1 for i in sorted(bad)]


def _city_copy(tmp_path):
    city = tmp_path / "city"
    shutil.copytree(RAW_DIR / "karamay", city, ignore=shutil.ignore_patterns("stations"))
    return city


def test_districts_file_that_is_not_polygons(tmp_path, capsys):
    city = _city_copy(tmp_path)
    points = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name_zh": n},
                "geometry": {"type": "Point", "coordinates": [84.9, 45.6]},
            }
            for n in ("克拉玛依区", "独山子区", "白碱滩区", "乌尔禾区")
        ],
    }
    (city / "districts.geojson").write_text(json.dumps(points, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "s.csv").write_text(HEADER + GOOD_ROW, encoding="utf-8")
    status, out, err = clean_cli(capsys, [tmp_path / "s.csv"], tmp_path / "out", city=city)
    assert status == 1 and len(err) == 1
    assert "districts.geojson" in err[0] and "olygon" in err[0]


def test_city_config_without_a_target(tmp_path, capsys):
    city = _city_copy(tmp_path)
    toml = (city / "city.toml").read_text(encoding="utf-8")
    (city / "city.toml").write_text(
        toml.replace('kind = "reported"', 'kind = "reported"', 1)
        .replace("on_air = 446", "")
        .replace("on_air = 648", ""),
        encoding="utf-8",
    )
    (tmp_path / "s.csv").write_text(HEADER + GOOD_ROW, encoding="utf-8")
    status, out, err = clean_cli(capsys, [tmp_path / "s.csv"], tmp_path / "out", city=city)
    assert status == 1 and len(err) == 1
    assert "city.toml" in err[0] and "on_air" in err[0]


@pytest.mark.parametrize(
    "content, words",
    [
        ("date,value\n2021-01-31,10\n2021-02-28,12\n2021-02-28,13\n2021-03-31,15\n", "twice"),
        ("date,value\n2021-01-31,10\n2021-02-28,12\n2021-03-31,5\n2021-04-30,15\n", "fall"),
        ("date,value\n2019-01-31,10\n2021-02-28,12\n2021-03-31,15\n2021-04-30,17\n", "gap"),
        ("date,value\n2021-01-31,10\nnot a date,12\n", "date"),
        ("day,count\n2021-01-31,10\n", "column"),
    ],
)
def test_bad_series_file_for_the_forecast(tmp_path, capsys, content, words):
    path = tmp_path / "series.csv"
    path.write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "forecast", "--series", path, "--horizon", "6", "--out", tmp_path / "fc")
    assert status == 1 and len(err) == 1
    assert "series.csv" in err[0] and words in err[0].lower()


def test_an_interrupted_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    (tmp_path / "s.csv").write_text(HEADER + GOOD_ROW, encoding="utf-8")
    out = tmp_path / "out"
    clean_module.clean_to_folder([tmp_path / "s.csv"], "karamay", out, as_of=AS_OF)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def crash(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    # (the station table is written by pyarrow, the CSV tables by ledger.write_table_csv: its write interrupted)
    monkeypatch.setattr(clean_module.pq, "write_table", lambda table, where, *a, **k: crash(table, where))
    with pytest.raises(KeyboardInterrupt):
        clean_module.clean_to_folder([tmp_path / "s.csv"], "karamay", out, as_of=AS_OF)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # no temporary file left behind, no file half-written
