"""Readers: format from the bytes, encodings, header rows under titles, header synonyms, sheets."""

import datetime as dt

import pandas as pd
import pytest
from openpyxl import Workbook

from analysis.clean.sources import detect_format, list_input_files, map_header, read_station_file
from analysis.errors import BadInputError

CSV_ZH = "站址编码,基站名称,经度,纬度,开通时间\n650203001,准噶尔路宏站,84.88,45.58,2020/5/12\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_are_detected_not_guessed(tmp_path, encoding):
    path = tmp_path / "stations.txt"  # the extension says nothing
    path.write_bytes(CSV_ZH.encode(encoding))
    [table] = read_station_file(path)
    assert table.frame.loc[0, "name"] == "准噶尔路宏站"
    assert table.frame.loc[0, "site_code"] == "650203001"
    assert table.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gbk", "gb18030": "gbk"}[encoding]


def test_gb18030_only_characters(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes("站名,经度,纬度\n𠀀站,84.88,45.58\n".encode("gb18030"))
    [table] = read_station_file(path)
    assert table.frame.loc[0, "name"] == "𠀀站"
    assert table.encoding == "gb18030"


def test_title_rows_above_header_and_row_numbers(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "中国电信5G站点台账\n统计截止：2022年1月10日\n\n" + CSV_ZH + "\n650203002,友谊路宏站,84.89,45.59,2020/6/1\n",
        encoding="utf-8",
    )
    [table] = read_station_file(path)
    assert table.header_row == 4
    assert "中国电信" in table.title
    # the blank line between the two records is a row of its own: row numbers stay true to the file
    assert list(table.frame["source_row"]) == [1, 2, 3]
    assert table.frame.loc[1, ["name", "lon"]].isna().all()
    assert table.frame.loc[2, "name"] == "友谊路宏站"


@pytest.mark.parametrize(
    "header, expected",
    [
        (
            ["站号", "站名", "所属区县", "经度(°)", "纬度(°)", "开通日期"],
            {0: "site_code", 1: "name", 2: "district", 3: "lon", 4: "lat", 5: "on_air_date"},
        ),
        (
            ["Site ID", "Site Name", "Longitude", "Latitude", "On-air date", "Band"],
            {0: "site_code", 1: "name", 2: "lon", 3: "lat", 4: "on_air_date", 5: "band"},
        ),
        (
            ["序号", "站址编码", "需求运营商", "经纬度", "当前阶段", "卡点问题", "电源接入日期"],
            {1: "site_code", 2: "operator", 3: "lonlat", 4: "status", 5: "blocker", 6: "power_hookup_date"},
        ),
    ],
)
def test_header_synonyms(header, expected):
    assert map_header(header) == expected


def test_xlsx_every_record_sheet_title_rows_and_date_cells(tmp_path):
    wb = Workbook()
    notes = wb.active
    notes.title = "说明"
    notes.append(["本表说明，没有记录"])
    for year in (2020, 2021):
        ws = wb.create_sheet(f"{year}年")
        ws.append([f"中国移动{year}年开通清单"])
        ws.append([])
        ws.append(["站址编码", "基站名称", "经度", "纬度", "开通时间"])
        ws.append([650203000001 + year, f"站{year}", 84.88, 45.58, dt.datetime(year, 5, 12)])
        ws.append([None, None, None, None, None])  # trailing formatting rows are not records
    path = tmp_path / "cmcc.xlsx"
    wb.save(path)
    tables = read_station_file(path)
    assert [t.sheet for t in tables] == ["2020年", "2021年"]
    assert [len(t.frame) for t in tables] == [1, 1]
    assert tables[0].frame.loc[0, "on_air_date"] == "2020-05-12"
    assert tables[1].frame.loc[0, "site_code"] == "650203002022"
    assert tables[0].header_row == 3


def test_opencellid_with_and_without_header(tmp_path):
    row = "NR,460,0,35000,2147483649,,84.88,45.58,500,3,1,1600000000,1610000000,0\n"
    with_header = tmp_path / "a.csv"
    header = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
    with_header.write_text(header + row)
    without = tmp_path / "b.csv"
    without.write_text(row + row.replace("NR", "LTE"))
    [a] = read_station_file(with_header)
    [b] = read_station_file(without)
    assert a.kind == b.kind == "opencellid"
    assert len(a.frame) == 1 and len(b.frame) == 2
    assert list(b.frame["source_row"]) == [1, 2]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\x00junk" * 10, "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        ("名称,备注\n站A,无\n".encode(), "no header row"),
        (b"PK\x03\x04 not really a zip", "XLSX"),
        ("站名,经度,纬度\n".encode() + b"\xff\xfe\xfa\xfb" * 3, "encoding"),
    ],
)
def test_unreadable_files_name_the_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as err:
        read_station_file(path)
    message = str(err.value)
    assert "bad.csv" in message and problem in message
    assert "\n" not in message


def test_header_without_coordinates_is_an_error(tmp_path):
    path = tmp_path / "nocoords.csv"
    path.write_text("站址编码,基站名称,开通时间,状态\n1,a,2020-01-01,已开通\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="no longitude/latitude"):
        read_station_file(path)


def test_detect_format_ignores_extension():
    assert detect_format(b"PK\x03\x04rest") == "xlsx"
    assert detect_format("经度,纬度".encode("gbk")) == "text"


def test_folders_are_walked_sorted_and_files_taken_once(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.csv", "a.xlsx", "sub/c.csv", "notes.md", "~$a.xlsx"):
        (tmp_path / name).write_text("x")
    files = list_input_files([tmp_path, tmp_path / "b.csv"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.xlsx", "b.csv", "sub/c.csv"]


def test_merged_header_cells_over_two_rows(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["基站名称", "坐标", None, "开通时间"])
    ws.append([None, "经度", "纬度", None])
    ws.merge_cells("B1:C1")
    ws.merge_cells("A1:A2")
    ws.merge_cells("D1:D2")
    ws.append(["站A", 84.88, 45.58, "2020-05-12"])
    path = tmp_path / "merged.xlsx"
    wb.save(path)
    [t] = read_station_file(path)
    assert t.frame.loc[0, ["name", "lon", "lat", "on_air_date"]].tolist() == ["站A", "84.88", "45.58", "2020-05-12"]
    assert list(t.frame["source_row"]) == [1]
    assert t.columns == {"基站名称": "name", "坐标 / 经度": "lon", "纬度": "lat", "开通时间": "on_air_date"}


def test_header_only_file_is_an_error_but_an_empty_sheet_is_skipped(tmp_path):
    path = tmp_path / "header_only.csv"
    path.write_text("站名,经度,纬度\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="no records below it"):
        read_station_file(path)
    wb = Workbook()
    wb.active.append(["站名", "经度", "纬度"])
    full = wb.create_sheet("数据")
    full.append(["站名", "经度", "纬度"])
    full.append(["站A", 84.88, 45.58])
    wb.save(tmp_path / "two.xlsx")
    [t] = read_station_file(tmp_path / "two.xlsx")
    assert t.sheet == "数据"


def test_detect_format_of_the_formats_senders_use():
    assert detect_format("经度\t纬度\r\n".encode("utf-16")) == "utf16"
    assert detect_format("基站名称\t经度\t纬度\r\n站一\t84.88\t45.58\r\n".encode("utf-16-le")) == "utf16"
    assert detect_format(b"\x1f\x8b\x08\x00rest") == "gzip"
    assert detect_format(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") == "xls"
    assert detect_format(bytes(range(256))) == "binary"


def test_a_readme_is_not_a_table_but_a_csv_without_header_is_an_error(tmp_path):
    from analysis.clean.sources import NotATableError

    (tmp_path / "README.txt").write_text("这些文件是三月份的站点。\n请勿修改。\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(NotATableError, match="no table in it"):
        read_station_file(tmp_path / "README.txt")
    with pytest.raises(BadInputError) as info:
        read_station_file(tmp_path / "bad.csv")
    assert not isinstance(info.value, NotATableError)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("body_quoted", [False, True])
def test_values_read_as_written_by_either_csv_parser(tmp_path, encoding, newline, body_quoted):
    """A body without quotes is read by pyarrow, one with quotes by pandas' C parser: the same text either
    way ("NA", "NULL" and 007 as written, spaces kept, an empty cell missing)."""
    rows = ["克拉玛依 5G 站点表", "站址编码,基站名称,经度,纬度,状态", "007,NA, 84.88 ,45.58,NULL", "008,,84.9,45.6,"]
    if body_quoted:
        rows[3] = '008,,84.9,45.6,"已开通"'
    path = tmp_path / "stations.csv"
    path.write_bytes(newline.join(rows).encode(encoding) + newline.encode())
    [table] = read_station_file(path)
    f = table.frame
    assert f["site_code"].tolist() == ["007", "008"]
    assert f.loc[0, ["name", "lon", "status"]].tolist() == ["NA", " 84.88 ", "NULL"]
    assert pd.isna(f.loc[1, "name"])
    assert f.loc[1, "status"] == "已开通" if body_quoted else pd.isna(f.loc[1, "status"])
    assert list(f["source_row"]) == [1, 2] and table.header_row == 2


def test_a_blank_or_short_line_in_a_quote_free_body_keeps_its_row_number(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text("站址编码,基站名称,经度,纬度\nS1,甲,84.88,45.58\n\nS2,乙\nS3,丙,84.9,45.6\n", encoding="utf-8")
    [table] = read_station_file(path)
    assert table.frame["site_code"].tolist()[0] == "S1" and table.frame["site_code"].tolist()[2:] == ["S2", "S3"]
    assert list(table.frame["source_row"]) == [1, 2, 3, 4]
    assert pd.isna(table.frame.loc[2, "lon"])  # S2's missing longitude


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_head_decoded_as_the_whole_text_would_be(monkeypatch, tmp_path, encoding):
    """`decode_head` checks the whole file a step at a time but decodes only its start: the same encoding
    and the same first lines as `decode_text` of the whole, also when the first lines outrun the start;
    a file of no encoding fails with the same one line."""
    import analysis.clean.sources as sources

    monkeypatch.setattr(sources, "_DECODE_STEP", 7)  # (steps and starts that cut characters in two)
    lines = ["站址编码,基站名称,经度,纬度"] + [
        f"S{i},克拉玛依站{i}{'𠀀' if encoding == 'gb18030' else ''},84.9,45.6" for i in range(60)
    ]
    data = ("\n".join(lines) + "\n").encode(encoding)
    for head_bytes in (64, 10_000):
        monkeypatch.setattr(sources, "_HEAD_BYTES", head_bytes)
        head, found = sources.decode_head(data, tmp_path / "a.csv")
        whole, expected = sources.decode_text(data, tmp_path / "a.csv")
        assert found == expected and whole.startswith(head)
        assert sources._head_lines(head, sources.HEADER_SEARCH_ROWS) == sources._head_lines(
            whole, sources.HEADER_SEARCH_ROWS
        )
    bad = data + b"\xff\xfe\x81"
    if encoding not in ("utf-16",):
        with pytest.raises(BadInputError) as got:
            sources.decode_head(bad, tmp_path / "a.csv")
        with pytest.raises(BadInputError) as want:
            sources.decode_text(bad, tmp_path / "a.csv")
        assert str(got.value) == str(want.value)


def test_utf8_check_refuses_what_pythons_codec_refuses():
    """`_is_utf8` (pyarrow's validator) says UTF-8 exactly for the bytes Python's codec decodes: cut
    sequences, surrogates, overlong forms and code points past U+10FFFF refused, also after a BOM."""
    from analysis.clean.sources import _is_utf8

    cases = [b"", b"abc", "站址编码,经度".encode(), b"\x00", "😀".encode(), b"\xed\x9f\xbf", b"\xee\x80\x80"]
    cases += [b"\xe4\xb8", b"abc\xff", b"\xed\xa0\x80", b"\xc0\x80", b"\xe0\x80\x80", b"\xf4\x90\x80\x80", b"\xc2"]
    cases += ["站".encode("gbk"), "克拉玛依".encode("gb18030")]
    for data in cases:
        try:
            data.decode("utf-8")
            expected = True
        except UnicodeDecodeError:
            expected = False
        assert _is_utf8(data) is expected, data
        assert _is_utf8(b"\xef\xbb\xbf" + data, 3) is expected, data


def test_whole_file_checked_as_utf8_in_a_thread_beside_the_read(monkeypatch, tmp_path):
    """`read_text_table` checks that the whole file is UTF-8 in a thread while it is read as UTF-8 (not on the
    main thread before the reader): the same table as before."""
    import threading

    import analysis.clean.sources as sources

    checked_in = []
    is_utf8 = sources._is_utf8

    def spy(data, start=0):
        checked_in.append(threading.current_thread() is threading.main_thread())
        return is_utf8(data, start)

    monkeypatch.setattr(sources, "_is_utf8", spy)
    for encoding in ("utf-8", "utf-8-sig"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(CSV_ZH.encode(encoding))
        checked_in.clear()
        [table] = read_station_file(path)
        assert checked_in == [False]  # (once, beside the read)
        assert table.encoding == encoding and table.frame.loc[0, "name"] == "准噶尔路宏站"


@pytest.mark.parametrize("later", ["gbk", "none"])
def test_file_utf8_only_at_its_start_read_as_before(monkeypatch, tmp_path, later):
    """A file whose start is UTF-8 (ASCII) and whose later bytes are not: what was read as UTF-8 beside the
    check is set aside, and the file is read as GBK, or fails with the same one line, as `decode_text` says."""
    import analysis.clean.sources as sources

    monkeypatch.setattr(sources, "_HEAD_BYTES", 64)  # (the first lines outrun the start: the start decoded alone)
    head = "site_code,name,lon,lat\n" + "".join(f"S{i},a{i},84.9,45.6\n" for i in range(40))
    tail = "S99,准噶尔路宏站,84.9,45.6\n".encode("gbk") if later == "gbk" else b"S99,\xff\xfe\x81,84.9,45.6\n"
    path = tmp_path / "s.csv"
    path.write_bytes(head.encode() + tail)
    if later == "gbk":
        [table] = read_station_file(path)
        assert table.encoding == "gbk" and table.frame["name"].iloc[-1] == "准噶尔路宏站"
        assert len(table.frame) == 41
    else:
        with pytest.raises(BadInputError) as got:
            read_station_file(path)
        with pytest.raises(BadInputError) as want:
            sources.decode_text(path.read_bytes(), path)
        assert str(got.value) == str(want.value) and "line 42" in str(got.value)


def test_empty_cells_of_a_plain_csv_are_missing_and_other_texts_kept(tmp_path):
    """pyarrow's reader (a body without quotes) gives an empty cell as missing and keeps NA, NULL and
    007 as written, each column one Arrow chunk, as the other readers' frames are made."""
    path = tmp_path / "s.csv"
    path.write_text("站址编码,基站名称,经度,纬度\n007,NA,84.88,45.58\nNULL,,84.9,\n", encoding="utf-8")
    [table] = read_station_file(path)
    assert table.frame["site_code"].tolist() == ["007", "NULL"]
    assert table.frame["name"].tolist()[0] == "NA" and pd.isna(table.frame["name"].iloc[1])
    assert pd.isna(table.frame["lat"].iloc[1]) and table.frame["lat"].dtype == "str"
    assert not table.frame.attrs


@pytest.mark.parametrize(
    "header, expected",
    [
        (  # a tower company's tracker: planned and actual positions qualified in brackets
            ["站址编码", "经度(规划)", "纬度(规划)", "经度(实际)", "纬度(实际)", "开通日期"],
            {0: "site_code", 1: "planned_lon", 2: "planned_lat", 3: "lon", 4: "lat", 5: "on_air_date"},
        ),
        (
            ["Site ID", "Longitude (Planned)", "Latitude_planned", "Actual Longitude", "实测纬度", "设计经度"],
            {0: "site_code", 1: "planned_lon", 2: "planned_lat", 3: "lon", 4: "lat"},
        ),
        (  # Huawei U2020 / ZTE / Ericsson style exports
            ["gNodeB ID", "gNodeB Name", "Operator", "Latitude", "Longitude", "NR Band", "Commissioning Date", "State"],
            {0: "site_code", 1: "name", 2: "operator", 3: "lat", 4: "lon", 5: "band", 6: "on_air_date", 7: "status"},
        ),
        (
            ["gNB ID", "NE Name", "经度", "纬度", "Integration Date", "Operational State"],
            {0: "site_code", 1: "name", 2: "lon", 3: "lat", 4: "on_air_date", 5: "status"},
        ),
        (  # a planned site's code, name, operator and district are its own; its position is the planned one
            [
                "站址编码(规划)",
                "站址名称(规划)",
                "运营商(规划)",
                "区县(规划)",
                "经度(规划)",
                "纬度(规划)",
                "开通日期(计划)",
            ],
            {
                0: "site_code",
                1: "name",
                2: "operator",
                3: "district",
                4: "planned_lon",
                5: "planned_lat",
                6: "planned_on_air_date",
            },
        ),
        (  # a planned on-air date is no on-air date (it is the planned one); an actual one is, as is a status
            ["站号", "经度", "纬度", "开通日期(计划)", "开通日期(实际)", "状态(实际)"],
            {0: "site_code", 1: "lon", 2: "lat", 3: "planned_on_air_date", 4: "on_air_date", 5: "status"},
        ),
        (  # a cell-level export: the station's name, each cell's name read as the cell label
            ["小区名称", "所属基站名称", "经度", "纬度", "方位角", "开通日期"],
            {1: "name", 2: "lon", 3: "lat", 5: "on_air_date"},
        ),
    ],
)
def test_export_headers_and_planned_actual_qualifiers(header, expected):
    assert map_header(header) == expected


def test_no_header_names_two_fields():
    from analysis.clean.sources import HEADER_SYNONYMS, _header_key

    fields_of: dict[str, set] = {}
    for canon, synonyms in HEADER_SYNONYMS.items():
        for s in synonyms:
            fields_of.setdefault(_header_key(s), set()).add(canon)
    assert {k: v for k, v in fields_of.items() if len(v) > 1} == {}


def test_cell_level_export_reads_the_gnb_id_inside_cgi_and_lists_columns_not_read(tmp_path):
    path = tmp_path / "移动_NR小区工参.csv"
    path.write_text(
        "小区名称,CGI,基站名称,经度,纬度,方位角,备注\n"
        "桃北路_1,460-00-700101-1,桃北路,84.89,45.58,0,\n"
        "桃北路_2,460-00-0700101-2,桃北路,84.89,45.58,120,\n"
        "南大街_1,460-00-2867613697,南大街,84.90,45.58,0,\n"
        "南大街_2,460-11-179339265,南大街,84.90,45.58,0,\n"
        "坏,not-a-cgi,坏站,84.91,45.58,0,\n",
        encoding="utf-8",
    )
    (table,) = read_station_file(path)
    assert table.frame["site_code"].tolist()[:4] == ["700101", "700101", "700101", "700544"]
    assert pd.isna(table.frame["site_code"].iloc[4])
    assert table.columns["CGI"] == "site_code" and table.columns["小区名称"] == "cell_label"
    assert table.columns_not_read == ["方位角", "备注"]
    assert any("CGI" in note for note in table.notes)


@pytest.mark.parametrize(
    "text",
    [
        # 规划坐标 and 实际坐标 each over its 经度 | 纬度
        "站址编码,规划坐标,,实际坐标,,开通日期\n,经度,纬度,经度,纬度,\nT1,84.90,45.60,84.89,45.58,2021-03-05\n",
        # 规划坐标 over one pair, nothing over the next: the label reached every column after it (the actual
        # pair was read as planned again and left unread)
        "站址编码,运营商,规划坐标,,,,开通日期\n,,经度,纬度,经度,纬度,\nT1,移动,84.90,45.60,84.89,45.58,2021-03-05\n",
    ],
)
def test_two_row_header_planned_and_actual_positions(tmp_path, text):
    path = tmp_path / "铁塔.csv"
    path.write_text(text, encoding="utf-8")
    (table,) = read_station_file(path)
    row = table.frame.iloc[0]
    assert (row["lon"], row["lat"], row["planned_lon"], row["planned_lat"]) == ("84.89", "45.58", "84.90", "45.60")


def test_a_file_read_in_several_blocks_reads_as_in_one(tmp_path, monkeypatch):
    """A file up to 2 GB is one block of pyarrow's reader (each column one chunk, kept as it is); a larger
    one is read in blocks and each column combined into one chunk: the same frame either way."""
    import pyarrow as pa

    from analysis.clean import sources

    lines = ["站址编码,基站名称,运营商,经度,纬度,开通时间"]
    for i in range(3000):
        date = "" if i % 7 else f"2021-03-0{i % 9 + 1}"
        lines.append(f"S{i:06d},站{i},移动,{84 + i / 1e4:.6f},{45 + i / 1e4:.6f},{date}")
    path = tmp_path / "ops.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole = read_station_file(path)[0].frame
    monkeypatch.setattr(sources, "ARROW_BLOCK_BYTES", 4096)  # (~80 blocks of this file)
    blocks = read_station_file(path)[0].frame
    pd.testing.assert_frame_equal(whole, blocks)
    for frame in (whole, blocks):
        assert all(pa.array(frame[c].array).__class__ is not pa.ChunkedArray for c in ("site_code", "name"))
    assert whole["on_air_date"].isna().sum() == sum(1 for i in range(3000) if i % 7)


@pytest.mark.parametrize(
    "lon, lat, crs",
    [
        ("经度(GCJ02)", "纬度(GCJ02)", "GCJ-02"),
        ("经度（高德）", "纬度（高德）", "GCJ-02"),
        ("高德经度", "高德纬度", "GCJ-02"),
        ("lon_gcj", "lat_gcj", "GCJ-02"),
        ("百度经度", "百度纬度", "BD-09"),
        ("Longitude (BD09)", "Latitude (BD09)", "BD-09"),
        ("站点经度(WGS84)", "站点纬度(WGS84)", "WGS-84"),
        ("GPS经度", "GPS纬度", "WGS-84"),
        ("基站经度", "基站纬度", None),
        ("经度E", "纬度N", None),
        ("X坐标", "Y坐标", None),
    ],
)
def test_coordinate_headers_and_the_system_they_name(tmp_path, lon, lat, crs):
    path = tmp_path / "s.csv"
    path.write_text(f"站址编码,站名,{lon},{lat}\nA1,甲,113.47,37.83\n", encoding="utf-8")
    [table] = read_station_file(path)
    assert table.frame.loc[0, "lon"] == "113.47" and table.frame.loc[0, "lat"] == "37.83"
    if crs is None:
        assert "crs" not in table.frame.columns
    else:
        assert table.frame.loc[0, "crs"] == crs
        assert any(f"{crs} by its header" in note for note in table.notes)


def test_a_position_whose_two_headers_name_two_systems_is_said_not_converted(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("站址编码,站名,经度(GCJ02),纬度(WGS84)\nA1,甲,113.47,37.83\n", encoding="utf-8")
    [table] = read_station_file(path)
    assert table.frame.loc[0, "lon"] == "113.47" and "crs" not in table.frame.columns
    assert any("name two systems (GCJ-02, WGS-84): not converted" in note for note in table.notes)


def test_of_two_positions_the_wgs84_one_is_read_and_the_other_said_not_read(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("站址编码,高德经度,高德纬度,GPS经度,GPS纬度\nA1,113.476,37.831,113.47,37.83\n", encoding="utf-8")
    [table] = read_station_file(path)
    assert table.frame.loc[0, "lon"] == "113.47" and table.frame.loc[0, "crs"] == "WGS-84"
    assert table.columns_not_read[0].startswith("高德经度 (a second position; GPS经度/GPS纬度 (WGS-84) is read")


def test_xy_headers_of_metres_are_no_position_and_the_error_lists_the_headers_not_recognised(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("编号,X坐标,Y坐标,备注\nA1,3850123.5,512345.2,\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="headers not recognised: 编号, X坐标, Y坐标, 备注"):
        read_station_file(path)


def test_excels_text_marker_is_read_as_excel_shows_it(tmp_path):
    """'14032000004 is the code 14032000004 (Excel's text marker), on any text field; an inner ' stays."""
    path = tmp_path / "s.csv"
    path.write_text(
        "站址编码,站名,经度,纬度,开通日期\n'14032000004,'甲站,113.47,37.83,'2020-01-19\n14032000005,O'Neil,113.4,37.8,\n",
        encoding="utf-8",
    )
    [table] = read_station_file(path)
    assert table.frame["site_code"].tolist() == ["14032000004", "14032000005"]
    assert table.frame["name"].tolist() == ["甲站", "O'Neil"]
    assert table.frame.loc[0, "on_air_date"] == "2020-01-19"
    assert any("1 in site_code, 1 in name, 1 in on_air_date" in note for note in table.notes)


def test_a_visible_sheet_without_records_is_said_skipped_with_why(tmp_path):
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    summary.append(["已开通", "在建", "合计"])
    summary.append([154, 14, 168])
    records = wb.create_sheet("清单")
    records.append(["站址编码", "经度", "纬度"])
    records.append(["A1", 113.47, 37.83])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    [table] = read_station_file(path)
    assert table.sheet == "清单"
    assert table.notes[0].startswith("sheet '汇总' skipped: no header row")
    assert "headers not recognised: 已开通, 在建, 合计" in table.notes[0]


def test_a_plain_coordinate_header_is_read_before_one_of_a_cell():
    assert map_header(["小区经度", "小区纬度", "经度", "纬度"]) == {2: "lon", 3: "lat"}


def _read_by_the_c_parser(path, monkeypatch):
    """The file's tables as pandas' C parser reads its body (pyarrow's reader declined)."""
    from analysis.clean import sources

    with monkeypatch.context() as m:
        m.setattr(sources, "_read_body_arrow", lambda *args: None)
        return read_station_file(path)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_an_export_that_quotes_every_cell_reads_as_the_c_parser_reads_it(tmp_path, monkeypatch, encoding):
    """Exports that quote every cell, or only those with a comma ("84,875"): read by pyarrow's reader (no cell
    spans lines), with the C parser's values, notes and row numbers."""
    rows = ['"站址编码","基站名称","经度","纬度","备注"']
    rows += [f'"S{k:03d}","站{k}（城区）","84,8{k % 10}","45.5","a ""quoted"" note, with a comma"' for k in range(50)]
    rows.insert(20, '"","",,,""')  # (a row of empty cells among the records: a record)
    rows += ["S999,plain,84.9,45.6,"]
    path = tmp_path / "quoted.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode(encoding))
    from analysis.clean import sources

    arrow, read = [], sources._read_body_arrow
    monkeypatch.setattr(sources, "_read_body_arrow", lambda *a: arrow.append(read(*a)) or arrow[-1])
    monkeypatch.setattr(sources, "QUOTE_CHECK_BYTES", 100)  # (the quotes checked a few lines at a time)
    (fast,) = read_station_file(path)
    assert arrow and arrow[0] is not None  # (read by pyarrow's reader)
    (slow,) = _read_by_the_c_parser(path, monkeypatch)
    assert fast.frame.equals(slow.frame) and fast.notes == slow.notes and len(fast.frame) == 52
    assert fast.frame["lon"].iloc[0] == "84,80" and fast.frame["site_code"].iloc[-1] == "S999"


def test_a_quoted_cell_that_spans_lines_is_left_to_the_readers_that_see_it(tmp_path):
    """A quoted note over two lines: one record, the rows after it numbered as before (not read by pyarrow's
    reader, whose records are lines)."""
    path = tmp_path / "span.csv"
    path.write_text('站址编码,经度,纬度,备注\nS1,84.1,45.1,"two\nlines"\nS2,84.2,45.2,"x"\nS3,84.3,45.3,\n', "utf-8")
    (table,) = read_station_file(path)
    assert table.frame["site_code"].tolist() == ["S1", "S2", "S3"]
    assert table.frame["source_row"].tolist() == [1, 2, 3]


def test_random_quoted_bodies_read_as_the_c_parser_reads_them(tmp_path, monkeypatch):
    """Bodies of quoted and unquoted cells, doubled quotes, commas inside quotes, stray quotes and blanks: whatever
    pyarrow's reader accepts, it reads as pandas' C parser does (else the C parser or the line reader reads it)."""
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    plain = st.text(alphabet='ab1站 ,"', max_size=4)
    quoted = st.text(alphabet='ab,站 "', max_size=4).map(lambda t: '"' + t.replace('"', '""') + '"')
    cell = st.one_of(plain, quoted)
    line = st.lists(cell, min_size=4, max_size=4).map(",".join)

    @settings(
        max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.lists(line, min_size=1, max_size=6))
    @example([",,,", ',,1","'])  # (a quote inside an unquoted cell, then one left open: even per line, not RFC 4180)
    @example(['"a""b","",x,"c,d"', '"""",1,2,3'])
    def check(lines):
        path = tmp_path / "r.csv"
        path.write_text("站址编码,经度,纬度,备注\n" + "\n".join(lines) + "\n", "utf-8")
        try:
            (fast,) = read_station_file(path)
        except BadInputError:
            return
        (slow,) = _read_by_the_c_parser(path, monkeypatch)
        assert fast.frame.equals(slow.frame) and fast.notes == slow.notes

    check()


def test_a_text_file_is_read_mapped_and_a_workbook_into_memory(tmp_path):
    """A CSV's bytes are the file mapped (pyarrow reads the pages where they lie: no copy of a national file);
    an XLSX's are read. Blank and empty files are refused alike either way, with the same one line."""
    import mmap

    import analysis.clean.sources as sources

    csv_path = tmp_path / "s.csv"
    csv_path.write_text(CSV_ZH, encoding="utf-8")
    assert isinstance(sources._file_data(csv_path), mmap.mmap)
    wb = Workbook()
    wb.active.append(["站址编码", "经度", "纬度"])
    wb.save(tmp_path / "s.xlsx")
    assert isinstance(sources._file_data(tmp_path / "s.xlsx"), bytes)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "blank.csv").write_bytes(b" \r\n" * 5_000)  # (more than the 8 KB a format is told from)
    for name in ("empty.csv", "blank.csv"):
        with pytest.raises(BadInputError, match="the file is empty"):
            read_station_file(tmp_path / name)


def test_a_text_file_that_cannot_be_mapped_is_read(monkeypatch, tmp_path):
    """A pipe, or a file system that maps no files: the file read into memory, as before, and read alike."""
    import analysis.clean.sources as sources

    def no_map(*args, **kwargs):
        raise OSError(19, "No such device")

    path = tmp_path / "s.csv"
    path.write_text(CSV_ZH, encoding="utf-8")
    [mapped] = read_station_file(path)
    monkeypatch.setattr(sources.mmap, "mmap", no_map)
    assert sources._file_data(path) == path.read_bytes()
    [read] = read_station_file(path)
    pd.testing.assert_frame_equal(read.frame, mapped.frame)


def test_a_line_cut_by_a_carriage_return_alone_is_read_line_by_line(tmp_path):
    """pyarrow ends a row at a CR as at an LF: a body with a CR has its rows counted against its lines (one
    without has none to count), and an old-Mac line end in it is read as the reader line by line reads it."""
    import analysis.clean.sources as sources

    path = tmp_path / "cr.csv"
    path.write_bytes("站址编码,经度,纬度\nS1,84.1,45.1\rS2,84.2,45.2\nS3,84.3,45.3\n".encode())
    [table] = read_station_file(path)
    assert table.frame["site_code"].tolist() == ["S1", "S2", "S3"]
    assert list(table.frame["source_row"]) == [1, 2, 3] and "read_note" in table.frame.columns
    data = path.read_bytes()
    header, delimiter, width, _ = sources.find_text_header(data.decode().split("\n")[:1], path)
    assert sources._read_body_arrow(data, "utf-8", delimiter, header, width) is None
    lf = data.replace(b"\r", b"\n")
    assert sources._read_body_arrow(lf, "utf-8", delimiter, header, width)[0].tolist() == ["S1", "S2", "S3"]
