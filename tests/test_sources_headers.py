"""Headers of several rows as task forces receive them: a title, then up to four rows of names (group labels
merged over sub-groups over the columns), a row of units under (or among) them; tiny inline workbooks."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from analysis.clean.sources import read_station_file
from analysis.clean.stations import clean_stations

LON, LAT = 113.59, 37.86
TITLE = "5G站址跟踪表  截至2021年10月15日"
#: group → sub-group → column: 序号 / 需求方 / 投资 merged down all three rows, 站址信息 / 进度 across their columns,
#: 基本信息 / 位置 / 计划 across theirs, 建设状态 down two rows.
GROUP = ["序号", "站址信息", None, None, None, None, "需求方", "进度", None, None, "投资"]
SUB = [None, "基本信息", None, "位置", None, None, None, "建设状态", "计划", None, None]
NAMES = [None, "站址名称", "站址编码", "经度", "纬度", "区县", None, None, "计划开通时间", "实际开通时间", None]
UNITS = [None, None, None, "(度)", "(度)", None, None, None, None, None, "（万元）"]
MERGES = ["A{0}:A{2}", "B{0}:F{0}", "G{0}:G{2}", "H{0}:J{0}", "K{0}:K{2}", "B{1}:C{1}", "D{1}:F{1}", "H{1}:H{2}"]
MERGES += ["I{1}:J{1}"]
RECORDS = [
    [1, "站1", "T1", LON, LAT, "城区", "移动", "已开通", "2021-05", "2021-05-20", 30],
    [2, "站2", "T2", 113.6, LAT, "城区", "联通", "选址中", "2021年Q4", None, 20],
]
READ = {
    "站址信息 / 基本信息 / 站址名称": "name",
    "站址编码": "site_code",
    "位置 / 经度": "lon",
    "纬度": "lat",
    "区县": "district",
    "需求方": "operator",
    "进度 / 建设状态": "status",
    "计划 / 计划开通时间": "planned_on_air_date",
    "实际开通时间": "on_air_date",
}


def _book(path, header: list[list], merges: list[str], title: str | None = TITLE) -> None:
    """A sheet of a title merged across (when given), the header rows with their merges, then RECORDS."""
    wb = Workbook()
    ws = wb.active
    ws.title = "城区"
    if title:
        ws.append([title] + [None] * (len(header[0]) - 1))
        ws.merge_cells(f"A1:{chr(64 + len(header[0]))}1")
    for cells in header:
        ws.append(cells)
    for cells in merges:
        ws.merge_cells(cells)
    for cells in RECORDS:
        ws.append(cells)
    wb.save(path)


def _merges(first: int, units_between: bool = False) -> list[str]:
    """MERGES for the three header rows starting at sheet row `first`; a units row between the sub-groups and
    the names lengthens the cells merged down by one."""
    last = first + 2 + units_between
    return [m.format(first, first + 1, last) for m in MERGES]


def _assert_read(table, header_row: int, not_read: list[str]) -> None:
    assert table.columns == READ
    assert table.columns_not_read == not_read
    assert table.header_row == header_row and table.frame["source_row"].tolist() == [1, 2]
    assert table.frame["operator"].tolist() == ["移动", "联通"]  # (需求方 merged down all three rows)
    assert table.frame["lon"].tolist() == [str(LON), "113.6"]
    assert table.title == TITLE  # (no group label is taken for the title's)


def test_a_title_and_a_three_row_header_of_merged_cells_read_every_column(tmp_path, one_district_city):
    path = tmp_path / "铁塔_跟踪表.xlsx"
    _book(path, [GROUP, SUB, NAMES], _merges(2))
    (table,) = read_station_file(path)
    _assert_read(table, 2, ["序号", "投资"])
    result = clean_stations([path], one_district_city, as_of="2021-10-15")
    summary = result.summary
    assert summary["rows_in"] == 2 and summary["rows_kept"] == 2 and summary["rows_quarantined"] == 0
    assert sorted(result.stations["operator"]) == ["CMCC", "CUCC"]


def test_a_national_workbooks_merged_cells_are_read_as_a_small_ones(tmp_path, monkeypatch):
    """A workbook too large to load whole (here: any size, by the threshold) still has its merged cells read:
    需求方 merged down the records of one tenant is the operator of each of them (streamed by openpyxl, the
    merges were unknown and the records after the first had no operator)."""
    from analysis.clean import sources

    monkeypatch.setattr(sources, "XLSX_FULL_LOAD_BYTES", 0)
    wb = Workbook()
    ws = wb.active
    ws.append(["站址编码", "需求方", "经度", "纬度"])
    for k in range(3):
        ws.append([f"T{k}", "移动" if k == 0 else None, LON + k / 100, LAT])
    ws.merge_cells("B2:B4")
    wb.save(tmp_path / "全国_跟踪表.xlsx")
    (table,) = read_station_file(tmp_path / "全国_跟踪表.xlsx")
    assert table.frame["operator"].tolist() == ["移动"] * 3
    assert any("merged over several rows read in each row" in n for n in table.notes)


def test_a_workbook_calamine_cannot_read_is_read_by_openpyxl(tmp_path, monkeypatch):
    """calamine reads workbooks; one it refuses is read by openpyxl, with the same tables."""
    from python_calamine import CalamineError

    from analysis.clean import sources

    path = tmp_path / "铁塔_跟踪表.xlsx"
    _book(path, [GROUP, SUB, NAMES], _merges(2))
    (by_calamine,) = read_station_file(path)

    def refuse(data):
        raise CalamineError("unsupported")

    monkeypatch.setattr(sources, "_calamine_sheets", refuse)
    (by_openpyxl,) = read_station_file(path)
    assert by_openpyxl.frame.equals(by_calamine.frame) and by_openpyxl.notes == by_calamine.notes
    _assert_read(by_openpyxl, 2, ["序号", "投资"])


def test_a_chart_sheet_beside_the_records_is_passed_over(tmp_path):
    """A workbook with a chart sheet (a bar chart of the counts): its worksheet's records read, the chart none."""
    from openpyxl.chart import BarChart, Reference

    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(["站址编码", "经度", "纬度", "数量"])
    for k in range(3):
        ws.append([f"T{k}", LON + k / 100, LAT, k])
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=4))
    wb.create_chartsheet("图表").add_chart(chart)
    wb.save(tmp_path / "chart.xlsx")
    (table,) = read_station_file(tmp_path / "chart.xlsx")
    assert table.sheet == "数据" and table.frame["site_code"].tolist() == ["T0", "T1", "T2"]


def test_a_four_row_header_reads_as_the_three_row_one(tmp_path):
    """A fourth row of names (基本 / 建设 over the groups) is one more label in the names, nothing else."""
    top = ["序号", "基本", None, None, None, None, None, "建设", None, None, "投资"]
    group = [None, *GROUP[1:6], "需求方", "进度", None, None, None]
    merges = ["A2:A5", "B2:G2", "H2:J2", "K2:K5", "B3:F3", "G3:G5", "H3:J3", "B4:C4", "D4:F4", "H4:H5", "I4:J4"]
    path = tmp_path / "four.xlsx"
    _book(path, [top, group, SUB, NAMES], merges)
    (table,) = read_station_file(path)
    assert table.columns["基本 / 站址信息 / 基本信息 / 站址名称"] == "name"
    assert table.columns["建设 / 进度 / 建设状态"] == "status"
    assert table.columns_not_read == ["序号", "投资"] and table.header_row == 2
    assert table.frame["operator"].tolist() == ["移动", "联通"] and table.frame["source_row"].tolist() == [1, 2]


@pytest.mark.parametrize("where", ["under the names", "under the names, merged over", "over the names"])
def test_a_row_of_units_is_read_with_the_header_not_as_a_level_or_a_record(tmp_path, where):
    """(度) (度) (万元) under the names (序号 / 需求方 merged down over it too, or not), or between the sub-groups and
    the names, is neither a row of names nor a record: the columns keep their names, the records are numbered from
    1, the units are said in the notes."""
    path = tmp_path / "units.xlsx"
    header = [GROUP, SUB, UNITS, NAMES] if where == "over the names" else [GROUP, SUB, NAMES, UNITS]
    _book(path, header, _merges(2, units_between=where != "under the names"))
    (table,) = read_station_file(path)
    _assert_read(table, 2, ["序号", "投资"])
    row = 4 if where == "over the names" else 5
    units = [n for n in table.notes if "units" in n]
    assert units == [
        f"sheet '城区': row {row} holds the columns' units, read with the header: 经度 (度), 纬度 (度)"
        + (", 投资 （万元）" if where == "under the names" else "")
    ]


def test_a_three_row_header_without_merges_reads_as_with_them(tmp_path):
    """The same header saved as CSV (no merges to see): 需求方 over blanks down to the names tells the group
    row, and the sub-group row between them is the header's; a one-cell title line is not."""
    path = tmp_path / "跟踪表.csv"
    lines = [[TITLE], GROUP, SUB, NAMES, *RECORDS]
    path.write_text("".join(",".join("" if c is None else str(c) for c in r) + "\n" for r in lines), "utf-8")
    (table,) = read_station_file(path)
    assert table.columns == READ and table.columns_not_read == ["序号", "投资"]
    assert table.header_row == 2 and table.title == TITLE
    assert table.frame["operator"].tolist() == ["移动", "联通"] and table.frame["source_row"].tolist() == [1, 2]


def test_a_title_of_two_cells_is_no_group_row(tmp_path):
    """填报单位 / 填报日期 over the header (two cells, each merged across) stay the title, where a tracker's day
    is read from; the three header rows under them are read."""
    path = tmp_path / "titled.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.append(["填报单位：阳泉铁塔", None, None, None, None, "填报日期：2021-10-15", *[None] * 5])
    ws.merge_cells("A1:E1")
    ws.merge_cells("F1:K1")
    for cells in (GROUP, SUB, NAMES, *RECORDS):
        ws.append(cells)
    for cells in _merges(2):
        ws.merge_cells(cells)
    wb.save(path)
    (table,) = read_station_file(path)
    assert table.title == "填报单位：阳泉铁塔 填报日期：2021-10-15" and table.header_row == 2
    assert table.columns == READ and table.frame["source_row"].tolist() == [1, 2]


def test_units_under_a_one_row_header_and_a_unit_naming_the_coordinate_system(tmp_path):
    """A CSV's row of units is read with its header; (GCJ-02) under 经度 / 纬度 says the position's system."""
    path = tmp_path / "units.csv"
    path.write_text(f"站址编码,经度,纬度,投资\n,(GCJ-02),(GCJ-02),单位：万元\nT1,{LON},{LAT},3\n", "utf-8")
    (table,) = read_station_file(path)
    assert table.frame["source_row"].tolist() == [1] and table.frame["crs"].tolist() == ["GCJ-02"]
    assert table.columns == {"站址编码": "site_code", "经度": "lon", "纬度": "lat"}
    assert table.columns_not_read == ["投资"]
    assert any("GCJ-02 by its header, converted" in n for n in table.notes)


@pytest.mark.parametrize(
    "below",
    [
        ["必填,必填,必填,选填"],  # a template's marks
        ["*必填,（必填）,必填,非必填"],  # marked up
        ["格式：文本,例：113.59,例：37.86,单位：万元"],  # how to write each column
        [",(度),(度),单位：万元", "必填,必填,必填,可选"],  # units, then marks
        ["必填,必填,必填,选填", ",(度),(度),单位：万元"],  # marks, then units
    ],
)
def test_a_templates_instruction_row_is_read_with_the_header_not_as_a_record(tmp_path, below):
    """Reporting templates write 必填 / 选填 (or 格式：… / 例：…) under each column name; senders keep the row.
    It is part of the header, said in the file's notes: no record quarantined for it, none counted."""
    path = tmp_path / "template.csv"
    path.write_text("\n".join(["站址编码,经度,纬度,投资", *below, f"T1,{LON},{LAT},3", ""]), "utf-8")
    (table,) = read_station_file(path)
    assert table.frame["source_row"].tolist() == [1] and table.frame["site_code"].tolist() == ["T1"]
    assert table.columns == {"站址编码": "site_code", "经度": "lon", "纬度": "lat"}
    marks_row = 2 + next(k for k, r in enumerate(below) if "必填" in r or "格式" in r)  # (the header is row 1)
    assert any(f"row {marks_row} holds the template's instructions" in n for n in table.notes)
    assert clean_stations(path, "karamay", as_of="2021-03-22").summary["rows_in"] == 1  # (the record alone)


def test_template_instructions_in_a_workbook_under_a_title(tmp_path):
    """The same in an XLSX under a merged title: the instruction row read with the header, the records after."""
    wb = Workbook()
    ws = wb.active
    marks = ["必填", "必填", "必填", "选填"]
    for cells in ([TITLE], ["站址编码", "经度", "纬度", "状态"], marks, ["T1", LON, LAT, "已开通"]):
        ws.append(cells)
    ws.merge_cells("A1:D1")
    wb.save(tmp_path / "template.xlsx")
    (table,) = read_station_file(tmp_path / "template.xlsx")
    assert table.frame["site_code"].tolist() == ["T1"] and table.header_row == 2
    assert any("row 3 holds the template's instructions" in n for n in table.notes)


@pytest.mark.parametrize(
    "row, header_word",
    [
        # one mark alone, or marks beside a code or coordinates: a record (quarantined or kept), never header
        ("必填,,", "template"),
        ("T9,必填,选填", "template"),
        ("必填,84.87,45.59", "template"),
        # one bare word (站), a bracketed word that is no unit ((空)), or a unit beside a code: a record, not units
        ("站,,", "units"),
        ("(空),,", "units"),
        ("T9,(度),", "units"),
    ],
)
def test_a_record_that_only_looks_like_template_marks_or_units_stays_a_record(tmp_path, row, header_word):
    """A row under the header that a template's marks or a row of units would read as: a record all the same."""
    path = tmp_path / "s.csv"
    path.write_text(f"站址编码,经度,纬度\n{row}\nT1,{LON},{LAT}\n", "utf-8")
    (table,) = read_station_file(path)
    assert table.frame["source_row"].tolist() == [1, 2] and not any(header_word in n for n in table.notes)


def test_a_header_cell_merged_down_into_the_records_takes_no_record_for_a_header_row(tmp_path):
    """备注 merged from the header down the records beside it: the rows it reaches give positions, so they are
    records, not more rows of the header."""
    wb = Workbook()
    ws = wb.active
    for cells in (["站名", "经度", "纬度", "备注"], ["A", LON, LAT, "同一铁塔"], ["B", 113.6, LAT, None]):
        ws.append(cells)
    ws.merge_cells("D1:D3")
    wb.save(tmp_path / "side.xlsx")
    (table,) = read_station_file(tmp_path / "side.xlsx")
    assert table.header_row == 1 and table.frame["name"].tolist() == ["A", "B"]
    assert table.frame["source_row"].tolist() == [1, 2]


def _sheet(path, rows: list[list], merges: list[str]) -> None:
    wb = Workbook()
    ws = wb.active
    for cells in rows:
        ws.append(cells)
    for cells in merges:
        ws.merge_cells(cells)
    wb.save(path)


def test_group_labels_merged_across_only_qualify_their_columns_and_a_title_of_two_cells_stays_the_title(tmp_path):
    """站址信息 / 规划 / 实际 merged across their columns with no cell merged down beside them are group labels (the
    planned 经度 | 纬度 are not read as the position); a title of two merged cells (its sender, what the table is)
    is not."""
    title = ["中国铁塔阳泉分公司", None, None, "站址建设跟踪表", None, None]
    groups = ["站址信息", None, "规划", None, "实际", None]
    names = ["站址编码", "运营商", "经度", "纬度", "经度", "纬度"]
    record = ["T1", "移动", 113.6, 37.87, LON, LAT]
    _sheet(tmp_path / "t.xlsx", [title, groups, names, record], ["A1:C1", "D1:F1", "A2:B2", "C2:D2", "E2:F2"])
    (table,) = read_station_file(tmp_path / "t.xlsx")
    assert table.title == "中国铁塔阳泉分公司 站址建设跟踪表" and table.header_row == 2
    row = table.frame.iloc[0]
    assert (row["lon"], row["lat"], row["planned_lon"], row["planned_lat"]) == (str(LON), str(LAT), "113.6", "37.87")
