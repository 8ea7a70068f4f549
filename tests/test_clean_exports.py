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
    rows = [
        ("A1", "关一", "已关闭"),
        ("A2", "停二", "已停用"),
        ("A3", "关三", "关停"),
        ("A4", "退四", "退服"),
        ("A5", "未五", "未开通"),
        ("A6", "开六", "已开通"),
    ]
    lines = ["站址编码,基站名称,运营商,经度,纬度,开通时间,状态"]
    lines += [f"{c},{n},移动,{P[i][0]},{P[i][1]},2020-06-01,{s}" for i, (c, n, s) in enumerate(rows)]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ledger_holds(clean(tmp_path / "s.csv"), 6)
    st = by_name(r)
    assert st.loc[["关一", "停二", "关三", "退四"], "status"].eq("decommissioned").all()
    assert not st.loc[["关一", "停二", "关三", "退四", "未五"], "is_on_air"].any()
    assert st.loc["未五", "status"] == "planned" and "not counted on air" in st.loc["未五", "notes"]
    assert st.loc["开六", "is_on_air"]
    assert r.summary["stations_on_air"] == 1


@pytest.mark.parametrize(
    "file_name, operator",
    [
        ("China_Telecom_5G_mobile_sites.csv", "CTCC"),
        ("电信_移动式应急基站.csv", "CTCC"),
        ("中国联合网络通信有限公司_站点.csv", "CUCC"),
    ],
)
def test_operator_from_the_file_name_despite_other_words(tmp_path, file_name, operator):
    (tmp_path / file_name).write_text(
        f"基站名称,经度,纬度,开通时间\n站一,{P[0][0]},{P[0][1]},2020-06-01\n", encoding="utf-8"
    )
    assert clean(tmp_path / file_name).stations["operator"].tolist() == [operator]


def test_legal_operator_names_and_codes_in_the_operator_column(tmp_path):
    names = ["中国联合网络通信有限公司", "中国广播电视网络有限公司", "CM", "CU", "CT"]
    lines = ["基站名称,运营商,经度,纬度,开通时间"]
    lines += [f"站{i},{op},{P[i][0]},{P[i][1]},2020-06-01" for i, op in enumerate(names)]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = by_name(clean(tmp_path / "s.csv"))
    assert st.loc[[f"站{i}" for i in range(5)], "operator"].tolist() == ["CUCC", "CBN", "CMCC", "CUCC", "CTCC"]


def test_coordinate_system_labels_as_people_write_them(tmp_path):
    labels = [
        "GCJ02(高德)",
        "百度坐标系(BD09)",
        "WGS84(GPS)",
        "腾讯地图",
        "2000国家大地坐标系",
        "国家2000",
        "北京54",
        "西安80",
    ]
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
    lines = [
        "基站名称,运营商,经度,纬度,开通时间",
        f"站一,移动,{P[0][0]},{P[0][1]},2021-03-05T14:22:01+08:00",
        f"站二,移动,{P[1][0]},{P[1][1]},2021-03-05T06:22:01Z",
    ]
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


def test_an_unclosed_quote_swallows_no_row(tmp_path):
    lines = ["站址编码,基站名称,运营商,经度,纬度,开通时间"]
    lines += [f"C{i},站{i},移动,{P[i][0]},{P[i][1]},2020-06-0{i + 1}" for i in range(8)]
    lines[4] = f'C3,"7号井宏站,移动,{P[3][0]},{P[3][1]},2020-06-04'  # the quote is never closed
    lines[6] = f'C5,"站5",移动,{P[5][0]},{P[5][1]},2020-06-06'  # a later quote pandas would pair it with
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ledger_holds(clean(tmp_path / "s.csv"), 8)
    st = r.stations.set_index("site_code")
    assert len(st) == 8 and sorted(st["source_row"]) == list(range(1, 9))
    assert st.loc["C3", "name"] == "7号井宏站" and "unclosed quote" in st.loc["C3", "notes"]
    for i in (4, 5, 6, 7):  # each keeps its own point and date, and its own row number
        assert (st.loc[f"C{i}", "lon"], st.loc[f"C{i}", "source_row"]) == (pytest.approx(P[i][0]), i + 1)
        assert st.loc[f"C{i}", "on_air_date"] == pd.Timestamp(f"2020-06-0{i + 1}")
    assert any("quotes left open" in n and "1 lines read on their own" in n for n in r.summary["files"][0]["notes"])


def test_an_unclosed_quote_that_breaks_the_columns_is_quarantined_not_lost(tmp_path):
    lines = [
        "站址编码,基站名称,运营商,经度,纬度,开通时间",
        f"C0,站0,移动,{P[0][0]},{P[0][1]},2020-06-01",
        f'C1,"1号站,北区",移动,{P[1][0]},{P[1][1]},2020-06-02',  # closed: a comma inside a name is fine
        f'C2,"2号站,北区,移动,{P[2][0]},{P[2][1]},2020-06-03',  # open: 7 fields, one too many
        f"C3,站3,移动,{P[3][0]},{P[3][1]},2020-06-04",
    ]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ledger_holds(clean(tmp_path / "s.csv"), 4)
    assert sorted(r.stations["site_code"]) == ["C0", "C1", "C3"]
    [q] = r.quarantine.itertuples()
    assert (q.source_row, q.reason) == (3, "unreadable_line") and "unclosed quote" in q.detail


def test_a_cell_written_over_two_lines_is_one_record(tmp_path):
    text = (
        "站址编码,基站名称,运营商,经度,纬度,开通时间\n"
        f'C0,"站0\n(备注)",移动,{P[0][0]},{P[0][1]},2020-06-01\n'
        f"C1,站1,移动,{P[1][0]},{P[1][1]},2020-06-02\n"
    )
    (tmp_path / "s.csv").write_text(text, encoding="utf-8")
    st = ledger_holds(clean(tmp_path / "s.csv"), 2).stations.set_index("site_code")
    assert st.loc["C0", "name"] == "站0\n(备注)" and st.loc["C1", "source_row"] == 2


def test_xlsx_cells_merged_down_the_data_are_read_in_every_row(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["站址编码", "基站名称", "运营商", "经度", "纬度", "开通时间"])
    for i in range(4):
        first = i == 0  # the operator and the date are written once, in cells merged down the block
        ws.append([f"C{i}", f"站{i}", "中国联通" if first else None, P[i][0], P[i][1], "2020-06-01" if first else None])
    ws.merge_cells("C2:C5")
    ws.merge_cells("F2:F5")
    wb.save(tmp_path / "merged.xlsx")
    r = ledger_holds(clean(tmp_path / "merged.xlsx"), 4)
    assert (r.stations["operator"] == "CUCC").all() and r.stations["is_on_air"].all()
    assert any("merged" in n for n in r.summary["files"][0]["notes"])


def test_utf16_unicode_text_from_excel(tmp_path):
    text = "基站名称\t运营商\t经度\t纬度\t开通时间\r\n" + "".join(
        f"站{i}\t移动\t{P[i][0]}\t{P[i][1]}\t2020/6/1\r\n" for i in range(3)
    )
    (tmp_path / "unicode.txt").write_bytes(text.encode("utf-16"))  # with a BOM, as Excel writes it
    other = "基站名称\t运营商\t经度\t纬度\t开通时间\r\n" + "".join(
        f"点{i}\t移动\t{P[i + 5][0]}\t{P[i + 5][1]}\t2020/6/1\r\n" for i in range(3)
    )
    (tmp_path / "nobom.txt").write_bytes(other.encode("utf-16-le"))
    r = ledger_holds(clean(tmp_path), 6)
    assert len(r.stations) == 6 and {f["encoding"] for f in r.summary["files"]} == {"utf-16"}


def test_a_folder_with_nothing_readable_is_an_error_and_keeps_earlier_outputs(tmp_path):
    good, out = tmp_path / "good", tmp_path / "out"
    good.mkdir()
    (good / "s.csv").write_text(
        f"基站名称,运营商,经度,纬度,开通时间\n站一,移动,{P[0][0]},{P[0][1]},2020-06-01\n", encoding="utf-8"
    )
    clean_to_folder([good], "karamay", out, as_of=AS_OF)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("Stations of March, see the attachment.\n", encoding="utf-8")
    (empty / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a table")
    with pytest.raises(BadInputError, match="no station records to clean"):
        clean_to_folder([empty], "karamay", out, as_of=AS_OF)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "s.csv").write_text("基站名称,运营商,经度,纬度\n站一,移动,0,0\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="no station kept from 1 rows"):
        clean_to_folder([bad], "karamay", out, as_of=AS_OF)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_command_line_says_so_with_exit_status_1(tmp_path, capsys):
    from analysis.cli import main

    (tmp_path / "in").mkdir()
    status = main(["clean", "--input", str(tmp_path / "in"), "--city", "karamay", "--out", str(tmp_path / "out")])
    assert status == 1 and "no station records to clean" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_readme_beside_the_data_is_skipped_with_a_note(tmp_path):
    (tmp_path / "README.txt").write_text("说明：本文件夹为3月站点，坐标为WGS84。\n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 not read")
    (tmp_path / "s.csv").write_text(
        f"基站名称,运营商,经度,纬度,开通时间\n站一,移动,{P[0][0]},{P[0][1]},2020-06-01\n", encoding="utf-8"
    )
    r = clean(tmp_path)
    assert r.failed_files == [] and len(r.stations) == 1
    skipped = {f["file"].rsplit("/", 1)[-1]: f["skipped"] for f in r.summary["files"] if "skipped" in f}
    assert set(skipped) == {"README.txt", "notes.pdf"} and "no table" in skipped["README.txt"]


def _xls_bytes(hidden_sheet=True):
    import io

    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("站点")
    for j, h in enumerate(["站址编码", "基站名称", "运营商", "经度", "纬度", "开通时间"]):
        ws.write(0, j, h)
    for i in range(3):
        for j, v in enumerate([f"X{i}", f"站{i}", None, P[i][0], P[i][1], "2020-06-01"]):
            if v is not None:
                ws.write(i + 1, j, v)
    ws.write_merge(1, 3, 2, 2, "电信")
    if hidden_sheet:
        hidden = wb.add_sheet("旧数据")
        for j, h in enumerate(["基站名称", "经度", "纬度"]):
            hidden.write(0, j, h)
        hidden.write(1, 0, "旧站")
        hidden.write(1, 1, P[5][0])
        hidden.write(1, 2, P[5][1])
        hidden.visibility = 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_real_xls_workbook_is_read_and_its_hidden_sheet_skipped_with_a_note(tmp_path):
    (tmp_path / "old.xls").write_bytes(_xls_bytes())
    r = ledger_holds(clean(tmp_path / "old.xls"), 3)
    assert sorted(r.stations["station_id"]) == ["CTCC-X0", "CTCC-X1", "CTCC-X2"]
    assert any("'旧数据' is hidden" in n for n in r.summary["files"][0]["notes"])


def test_csv_gz_and_zip_inputs(tmp_path):
    text = "".join(f"站{i},移动,{P[i][0]},{P[i][1]},2020-06-01\n" for i in range(2))
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(("基站名称,运营商,经度,纬度,开通时间\n" + text).encode("gbk")))
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as z:
        z.writestr(
            "电信/站点.csv",
            "基站名称,运营商,经度,纬度,开通时间\n"
            + "".join(f"点{i},电信,{P[i + 6][0]},{P[i + 6][1]},2020-06-01\n" for i in range(2)),
        )
        z.writestr("电信/old.xls", _xls_bytes(hidden_sheet=False))
        z.writestr("说明.docx", b"PK not read")
    r = ledger_holds(clean(tmp_path), 7)
    assert r.failed_files == []
    files = {f["file"].split("stations")[-1].rsplit("/", 2)[-2:][-1] for f in r.summary["files"]}
    assert {"a.csv.gz", "站点.csv", "old.xls"} <= files
    assert sorted(r.stations["operator"]) == ["CMCC", "CMCC", "CTCC", "CTCC", "CTCC", "CTCC", "CTCC"]


@pytest.mark.parametrize(
    "content, what",
    [
        ("<html><body><table><tr><td>经度</td></tr></table></body></html>", "HTML page"),
        (
            '<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
            '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "SpreadsheetML",
        ),
    ],
)
def test_html_and_spreadsheetml_saved_as_xls_say_what_they_are(tmp_path, content, what):
    (tmp_path / "export.xls").write_text(content, encoding="utf-8")
    (tmp_path / "s.csv").write_text(
        f"基站名称,运营商,经度,纬度,开通时间\n站一,移动,{P[0][0]},{P[0][1]},2020-06-01\n", encoding="utf-8"
    )
    r = clean(tmp_path)
    [failure] = r.failed_files
    assert "export.xls" in failure and what in failure


def test_codes_with_excel_text_formulas_and_zero_width_spaces_are_one_code(tmp_path):
    lines = [
        "站址编码,基站名称,运营商,经度,纬度,开通时间",
        f'="650203000001",站一,移动,{P[0][0]},{P[0][1]},2020-06-01',
        f"650203\u200b000001,站一,移动,{P[0][0] + 0.0001},{P[0][1]},2020-06-01",
    ]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ledger_holds(clean(tmp_path / "s.csv"), 2)
    assert r.stations["station_id"].tolist() == ["CMCC-650203000001"]
    assert r.summary["merged_by_reason"] == {"same_site_code": 1}


def test_semicolon_file_with_decimal_commas(tmp_path):
    lines = [
        "基站名称;运营商;经度;纬度;开通时间",
        f"站一;移动;{str(P[0][0]).replace('.', ',')};{str(P[0][1]).replace('.', ',')};2020-06-01",
    ]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = ledger_holds(clean(tmp_path / "s.csv"), 1).stations
    assert (st["lon"].iloc[0], st["lat"].iloc[0]) == (pytest.approx(P[0][0]), pytest.approx(P[0][1]))


@pytest.mark.parametrize("cell", ["({x}, {y})", "{x}、{y}", "经度:{x} 纬度:{y}"])
def test_both_coordinates_in_one_cell(tmp_path, cell):
    text = "基站名称,运营商,经纬度,开通时间\n" + f'站一,移动,"{cell.format(x=P[0][0], y=P[0][1])}",2020-06-01\n'
    (tmp_path / "s.csv").write_text(text, encoding="utf-8")
    st = ledger_holds(clean(tmp_path / "s.csv"), 1).stations
    assert (st["lon"].iloc[0], st["lat"].iloc[0]) == (pytest.approx(P[0][0]), pytest.approx(P[0][1]))


def test_actual_position_preferred_and_planned_kept_for_planned_sites(tmp_path):
    lines = [
        "基站名称,运营商,规划经度,规划纬度,实际经度,实际纬度,状态,开通时间",
        f"站一,移动,{P[0][0]},{P[0][1]},{P[1][0]},{P[1][1]},已开通,2020-06-01",
        f"站二,移动,{P[2][0]},{P[2][1]},,,规划,",
    ]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = by_name(ledger_holds(clean(tmp_path / "s.csv"), 2))
    assert st.loc["站一", "lon"] == pytest.approx(P[1][0])
    assert st.loc["站二", "lon"] == pytest.approx(P[2][0]) and "planned" in st.loc["站二", "notes"]
    assert st.loc["站二", "status"] == "planned"


def test_a_tower_row_serving_two_operators_is_two_stations(tmp_path):
    lines = [
        "站址编码,站址名称,需求运营商,经度,纬度,开通时间",
        f"T1,塔一,移动、联通,{P[0][0]},{P[0][1]},2020-06-01",
        f"T2,塔二,电信联通共享,{P[1][0]},{P[1][1]},2020-06-01",
        f"T3,塔三,移动,{P[2][0]},{P[2][1]},2020-06-01",
    ]
    (tmp_path / "铁塔.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = clean(tmp_path / "铁塔.csv")
    st = r.stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-T1", "CMCC-T3", "CTCC-T2", "CUCC-T1", "CUCC-T2"]
    assert st.loc["CMCC-T1", "source_row"] == st.loc["CUCC-T1", "source_row"] == 1
    assert "tenants (移动、联通)" in st.loc["CUCC-T1", "notes"]
    assert "tenants (电信联通共享)" in st.loc["CTCC-T2", "notes"]
    assert r.summary["notes"]["tenant_records_from_shared_rows"] == 4
    assert r.summary["rows_in"] == r.summary["rows_kept"] == 5  # records: the shared row counts once per tenant


def test_the_operator_column_coded_once_and_the_positions_parsed_beside_the_split(monkeypatch, tmp_path):
    """`_split_tenants` codes the operator column to find the shared rows; where it splits none, the parse of the
    operators reads that coding (not the column coded again, ~0.15 s of a national file); where it splits some,
    the rows' operators as split are read. The positions are parsed in a thread from the stacking on, beside
    the split: where it adds rows, they are parsed again for the rows as split."""
    from analysis.clean import parse, stations

    given, located = [], []
    parse_operators, parse_positions = parse.parse_operators, stations._parse_positions
    monkeypatch.setattr(parse, "parse_operators", lambda v: given.append(type(v).__name__) or parse_operators(v))
    monkeypatch.setattr(
        stations, "_parse_positions", lambda raw, *a: located.append(len(raw)) or parse_positions(raw, *a)
    )
    lines = ["站址编码,站址名称,需求运营商,经度,纬度,开通时间", f"T1,塔一,移动,{P[0][0]},{P[0][1]},2020-06-01"]
    (tmp_path / "a" / "铁塔.csv").parent.mkdir()
    (tmp_path / "a" / "铁塔.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert sorted(clean(tmp_path / "a" / "铁塔.csv").stations["station_id"]) == ["CMCC-T1"]
    assert given == ["CodedText"] and located == [1]
    (tmp_path / "b" / "铁塔.csv").parent.mkdir()
    shared = lines[1].replace("T1,塔一,移动", "T2,塔二,移动、联通").replace(str(P[0][0]), str(P[1][0]))
    (tmp_path / "b" / "铁塔.csv").write_text("\n".join([*lines, shared]), encoding="utf-8")
    given.clear(), located.clear()
    st = clean(tmp_path / "b" / "铁塔.csv").stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-T1", "CMCC-T2", "CUCC-T2"]
    assert st.loc["CUCC-T2", "lon"] == pytest.approx(P[1][0]) and st.loc["CMCC-T1", "lon"] == pytest.approx(P[0][0])
    assert given == ["Series"] and located == [2, 3]


def test_opencellid_api_column_order(tmp_path):
    (tmp_path / "ops.csv").write_text(
        f"站址编码,基站名称,运营商,经度,纬度,开通时间\nA1,甲站,移动,{P[0][0]},{P[0][1]},2020-05-01\n", encoding="utf-8"
    )
    nci = (4321 << 12) + 1
    api = (
        "lat,lon,mcc,mnc,lac,cellid,averageSignalStrength,range,samples,changeable,radio,rnc,cid,psc,tac,pci\n"
        f"{P[0][1] + 0.001},{P[0][0]},460,0,1,{nci},-90,500,3,1,NR,,,,1,20\n"
        f"{P[4][1]},{P[4][0]},460,1,1,{nci},-90,500,3,1,NR,,,,1,20\n"
        f"{P[5][1]},{P[5][0]},460,0,1,123,-90,500,3,1,LTE,,,,1,20\n"
    )
    (tmp_path / "cells_api.csv").write_text(api, encoding="utf-8")
    r = ledger_holds(clean(tmp_path), 4)
    st = r.stations.set_index("station_id")
    assert st.loc["CMCC-A1", "opencellid_cells"] == 1
    [net_only] = st.index[~st["in_operator_reports"]]
    assert st.loc[net_only, "operator"] == "CUCC" and st.loc[net_only, "status"] == "unknown"
    assert r.summary["quarantined_by_reason"] == {"not_nr": 1}


def test_a_hidden_xlsx_sheet_is_skipped_with_a_note(tmp_path):
    wb = Workbook()
    shown = wb.active
    shown.title = "在用"
    shown.append(["基站名称", "运营商", "经度", "纬度", "开通时间"])
    shown.append(["站一", "移动", P[0][0], P[0][1], "2020-06-01"])
    hidden = wb.create_sheet("草稿")
    hidden.append(["基站名称", "运营商", "经度", "纬度", "开通时间"])
    hidden.append(["草稿站", "移动", P[3][0], P[3][1], "2020-06-01"])
    hidden.sheet_state = "hidden"
    wb.save(tmp_path / "book.xlsx")
    r = ledger_holds(clean(tmp_path / "book.xlsx"), 1)
    assert r.stations["name"].tolist() == ["站一"]
    assert r.summary["files"][0]["notes"] == ["sheet '草稿' is hidden: skipped"]


def test_a_cell_merged_across_columns_fills_no_other_column(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["基站名称", "运营商", "经度", "纬度", "开通时间"])
    ws.append(["移动公司大楼站", None, P[0][0], P[0][1], "2020-06-01"])  # its name would read as CMCC
    ws.merge_cells("A2:B2")
    wb.save(tmp_path / "wide.xlsx")
    st = ledger_holds(clean(tmp_path / "wide.xlsx"), 1).stations
    assert st["operator"].tolist() == ["unknown"]
