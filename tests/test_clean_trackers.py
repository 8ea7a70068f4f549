"""Task-force tracking sheets as tower companies send them: two-row group headers over merged cells, their
blocker, responsibility, progress and planned-date headers, the words they write for stages and blockers,
and dates written as periods. Tiny inline workbooks (openpyxl) on a one-district city."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import Workbook

from analysis.clean import parse
from analysis.clean.sources import map_header, read_station_file
from analysis.clean.stations import clean_stations, read_stations, write_stations

LON, LAT = 113.59, 37.86
UPPER = ["序号", "站址信息", None, None, None, "需求方", "建设进度", None, None, "协调情况", None, "备注"]
LOWER = [None, "站址名称", "规划站址编码", "经度", "纬度", None, "建设状态", "计划开通时间", "实际开通时间"]
LOWER += ["进场受阻原因", "协调责任单位", None]


@pytest.fixture
def city(one_district_city):
    return one_district_city


def _tracker(path, rows: list[list], title: str = "5G站址跟踪表  截至2021年10月15日") -> None:
    """A tracker sheet as the tower company writes it: a title merged across, group labels merged across
    their columns, 序号 / 需求方 / 备注 merged down both header rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = "城区"
    ws.append([title] + [None] * 11)
    ws.merge_cells("A1:L1")
    ws.append(UPPER)
    ws.append(LOWER)
    for cells in ("B2:E2", "G2:I2", "J2:K2", "A2:A3", "F2:F3", "L2:L3"):
        ws.merge_cells(cells)
    for row in rows:
        ws.append(row)
    wb.save(path)


def _row(i, code, operator, status, blocker, plan=None, actual=None, dx=0.0, responsible="城区工信局"):
    return [i, f"站{code}", code, LON + dx, LAT, operator, status, plan, actual, blocker, responsible, None]


def test_a_two_row_group_header_reads_every_column_and_names_those_not_read(tmp_path):
    """需求方 merged down two rows under no group label is the operator (it was dropped, not even listed as not
    read); each sub-column under 建设进度 / 协调情况 is read; 序号 and 备注 are listed as not read."""
    path = tmp_path / "铁塔_跟踪表.xlsx"
    _tracker(path, [_row(1, "T1", "移动", "储备", "无"), _row(2, "T2", "联通", "选址中", "租金谈不拢", dx=0.01)])
    (table,) = read_station_file(path)
    fields = set(table.frame.columns)
    assert {"operator", "status", "planned_on_air_date", "on_air_date", "blocker", "responsible"} <= fields
    assert table.frame["operator"].tolist() == ["移动", "联通"]
    assert table.columns_not_read == ["序号", "备注"]
    assert table.header_row == 2 and table.frame["source_row"].tolist() == [1, 2]
    assert "需求方" not in table.title  # (the group row is the header's, not the title's)


def test_a_two_row_header_without_merges_reads_the_upper_cell_over_a_blank_one(tmp_path):
    """A CSV of the same layout (no merges to see): an upper cell over a blank lower one that names a field
    (需求方) is that column's header; a title line above a one-row header is not taken as a group row."""
    path = tmp_path / "跟踪表.csv"
    upper = ",".join(c or "" for c in UPPER)
    lower = ",".join(c or "" for c in LOWER)
    path.write_text(f"{upper}\n{lower}\n1,甲,T1,{LON},{LAT},电信,设备安装,,,无,责任单位A,\n", encoding="utf-8")
    (table,) = read_station_file(path)
    assert table.frame["operator"].tolist() == ["电信"]
    titled = tmp_path / "titled.csv"
    titled.write_text(f"填报单位：铁塔,填报日期：2021-10-15\n站址编码,经度,纬度,运营商\nT1,{LON},{LAT},移动\n")
    (table,) = read_station_file(titled)
    assert table.header_row == 2 and table.columns_not_read == [] and "填报单位" in table.title


@pytest.mark.parametrize(
    "header, field",
    [
        *(
            (h, "blocker")
            for h in ("进场受阻原因", "受阻原因", "存在问题及需协调事项", "协调事项", "问题描述", "困难问题")
        ),
        *((h, "responsible") for h in ("协调责任单位", "责任单位", "责任部门", "责任人")),
        *((h, "status") for h in ("当前进度", "进度", "建设进度")),
        *((h, "planned_on_air_date") for h in ("计划开通时间", "预计开通时间", "计划完成时间", "开通日期(计划)")),
        ("实际开通时间", "on_air_date"),
        ("选址完成时间", "site_selection_date"),
        ("完工时间", "power_hookup_date"),
        ("引电时间", "power_hookup_date"),
    ],
)
def test_tracker_headers(header, field):
    assert map_header(["站址编码", "经度", "纬度", header]) == {0: "site_code", 1: "lon", 2: "lat", 3: field}


@pytest.mark.parametrize(
    "word, stage",
    [
        ("储备", "planned"),
        ("选址中", "site_selection"),
        ("已获取", "site_access"),
        ("已签约", "site_access"),
        ("土建完工", "construction"),
        ("设备安装", "construction"),
        ("设备已安装", "power_hookup"),
        ("设备安装完成", "power_hookup"),
        ("已交付", "construction"),
        ("已通电", "power_hookup"),
        ("已开通", "on_air"),
    ],
)
def test_a_tower_companys_status_words(word, stage):
    assert parse.parse_statuses(pd.Series([word])).tolist() == [stage]


def test_blocker_words_classified_and_their_own_words_kept_where_they_say_more():
    words = pd.Series(
        ["租金谈不拢", "居民投诉辐射", "业主要求拆除", "选址难", "电源接入", "审批慢", "无", "村民索要赔偿"]
    )
    kinds = ["site_access"] * 3 + ["site_selection", "power_hookup", "other", None, "site_access"]
    assert parse.parse_blockers(words).where(lambda b: b.notna(), None).tolist() == kinds
    detail = parse.blocker_details(words)
    kept = ["租金谈不拢", "居民投诉辐射", "业主要求拆除", None, None, "审批慢", None, "村民索要赔偿"]
    assert detail.where(detail.notna(), None).tolist() == kept


@pytest.mark.parametrize(
    "text, happened, planned",
    [
        ("6月底", "2021-06-30", "2021-06-30"),
        ("2021年Q3", "2021-09-30", "2021-09-30"),
        ("2021年第三季度", "2021-09-30", "2021-09-30"),
        ("2021年3", "2021-03-01", "2021-03-31"),
        ("2021年底", "2021-12-31", "2021-12-31"),
        ("9月15日", "2021-09-15", "2021-09-15"),
        ("11月底", "2020-11-30", "2021-11-30"),  # (a date that has happened is not after the extract's)
        ("2021年11月", "2021-11-01", "2021-11-30"),
        ("第三周", None, None),
    ],
)
def test_dates_written_as_periods_or_without_a_year(text, happened, planned):
    for latest, month_end, want in ((True, False, happened), (False, True, planned)):
        dates, _, how = parse.read_period_dates(pd.Series([text]), "2021-10-15", latest, month_end)
        got = None if pd.isna(dates.iloc[0]) else dates.iloc[0].strftime("%Y-%m-%d")
        assert got == want and pd.isna(how.iloc[0]) == (want is None)


@pytest.mark.parametrize(
    "text, months, how",
    [
        ("2021年Q3", 3, "the quarter's last day"),
        ("2021年第三季度", 3, "the quarter's last day"),
        ("6月底", 1, "the month's last day, the year 2021 (not written)"),
        ("2021年5月", 1, "the month's first day"),
        ("9月15日", 0, "the day, the year 2021 (not written)"),
        ("2021年底", 6, "the last day of the year or its half"),
        ("2021年上半年", 6, "the last day of the year or its half"),
        ("第三周", -1, None),
    ],
)
def test_a_period_s_precision_is_data_and_its_words_are_made_from_it(text, months, how):
    """How precise a period's date is comes back as months (`Precision`), not words to be read back; the note's
    words are the precision's own (`describe_period`), with the year when it was not written."""
    read = parse.read_period_dates(pd.Series([text]), "2021-10-15", latest_not_after=True, plan_month_end=False)
    assert read.months.iloc[0] == months and (read.how.iloc[0] == how if how else pd.isna(read.how.iloc[0]))
    if months >= 0:
        last_day = "first" not in how
        assert how.startswith(parse.describe_period(parse.Precision(months), last_day))


def test_a_tracker_cleaned_keeps_operator_blocker_words_responsible_and_planned_date(tmp_path, city):
    """The sheet end to end: each site under its operator (not 'unknown'), its stage from the tracker's words,
    the blocker's own words and who is to clear it, the plan as the last day of its month or quarter, and a
    station said on air 9月15日 / 2021年Q3 on air on the day read (noted), not quarantined."""
    folder = tmp_path / "in"
    folder.mkdir()
    _tracker(
        folder / "铁塔_跟踪表.xlsx",
        [
            _row(1, "T1", "移动", "储备", "无", plan="2021年Q4"),
            _row(2, "T2", "联通", "选址中", "租金谈不拢", plan="2021.12", dx=0.01, responsible="城区住建局"),
            _row(3, "T3", "电信", "已开通", "无", actual="9月15日", dx=0.02),
            _row(4, "T4", "移动", "已开通", "无", actual="2021年Q3", dx=0.03),
        ],
    )
    result = clean_stations([folder], city, as_of="2021-10-15")
    st = result.stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-T1", "CMCC-T4", "CTCC-T3", "CUCC-T2"]
    assert st.loc["CMCC-T1", "status"] == "planned" and st.loc["CUCC-T2", "status"] == "site_selection"
    assert st.loc["CUCC-T2", "blocker"] == "site_access" and st.loc["CUCC-T2", "blocker_detail"] == "租金谈不拢"
    assert st.loc["CUCC-T2", "responsible"] == "城区住建局" and pd.isna(st.loc["CMCC-T1", "blocker_detail"])
    assert st.loc["CMCC-T1", "planned_on_air_date"] == pd.Timestamp("2021-12-31")
    assert st.loc["CUCC-T2", "planned_on_air_date"] == pd.Timestamp("2021-12-31")
    assert st.loc["CTCC-T3", "on_air_date"] == pd.Timestamp("2021-09-15") and st.loc["CTCC-T3", "is_on_air"]
    assert "the year 2021 (not written)" in st.loc["CTCC-T3", "notes"]
    assert st.loc["CMCC-T4", "on_air_date"] == pd.Timestamp("2021-09-30")
    assert result.summary["rows_quarantined"] == 0


def test_a_station_table_written_before_the_tracker_columns_still_reads(tmp_path, city):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "移动.csv").write_text(f"站址编码,经度,纬度,运营商,开通日期\nA1,{LON},{LAT},移动,2021-01-05\n")
    stations = clean_stations([folder], city, as_of="2021-10-15").stations
    old = tmp_path / "old.parquet"
    write_stations(stations.drop(columns=["blocker_detail", "responsible", "planned_on_air_date"]), old)
    back = read_stations(old)
    assert back["responsible"].isna().all() and back["planned_on_air_date"].isna().all()
    assert back["station_id"].tolist() == ["CMCC-A1"]


def _weekly(path, sheets: dict[str, list[tuple]], title: str = "5G站址跟踪表") -> None:
    """A workbook of one-row-header tracker sheets (sheet name -> rows of code, operator, status, blocker)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        ws.append([title])
        ws.append(["站址名称", "规划站址编码", "需求方", "经度", "纬度", "建设状态", "实际开通时间", "卡点问题"])
        for k, (code, operator, status, blocker, on_air) in enumerate(rows):
            ws.append([f"{code}站", code, operator, LON + 0.01 * k, LAT, status, on_air, blocker])
    wb.save(path)


WEEK_OLD = [("U1", "移动", "选址中", "物业不同意进场", None), ("U2", "联通", "在建", "电力引入难", None)]
WEEK_NEW = [("U1", "移动", "在建", "无", None), ("U2", "联通", "已开通", "无", "2021-10-12")]


@pytest.mark.parametrize("names", [("跟踪表_第40周", "跟踪表_第41周"), ("跟踪表_10月8日", "跟踪表_10月15日")])
def test_the_newer_weekly_file_wins_stage_blocker_and_dates_whatever_the_name_order(tmp_path, city, names):
    """Two weekly files of the same sites, dated by their names (a week, a day without its year): the newer
    week's stage and dates stand, its 无 clears the older week's blocker, and the update is noted."""
    folder = tmp_path / "in"
    folder.mkdir()
    _weekly(folder / f"{names[0]}.xlsx", {"跟踪": WEEK_OLD})
    _weekly(folder / f"{names[1]}.xlsx", {"跟踪": WEEK_NEW})
    result = clean_stations([folder], city, as_of="2021-10-15")
    st = result.stations.set_index("station_id")
    assert st.loc["CMCC-U1", "status"] == "construction" and pd.isna(st.loc["CMCC-U1", "blocker"])
    assert "said stage site_selection, blocker site_access" in st.loc["CMCC-U1", "notes"]
    assert st.loc["CUCC-U2", "is_on_air"] and st.loc["CUCC-U2", "on_air_date"] == pd.Timestamp("2021-10-12")
    assert len(result.summary["notes"]["tables_dated"]) == 2


def test_the_newer_monthly_sheet_of_one_workbook_wins(tmp_path, city):
    folder = tmp_path / "in"
    folder.mkdir()
    _weekly(
        folder / "跟踪表_2021.xlsx", {"2021年9月": WEEK_OLD[:1], "2021年10月": [("U1", "移动", "在建", "无", None)]}
    )
    st = clean_stations([folder], city, as_of="2021-10-15").stations.set_index("station_id")
    assert st.loc["CMCC-U1", "status"] == "construction" and pd.isna(st.loc["CMCC-U1", "blocker"])


def test_undated_tables_keep_the_rule_of_old(tmp_path, city):
    """Trackers that name no day: the most complete record first, then file order, as before, and said."""
    folder = tmp_path / "in"
    folder.mkdir()
    _weekly(folder / "跟踪表_甲.xlsx", {"跟踪": WEEK_OLD[:1]})
    _weekly(folder / "跟踪表_乙.xlsx", {"跟踪": WEEK_NEW[:1]})
    result = clean_stations([folder], city, as_of="2021-10-15")
    st = result.stations.set_index("station_id")
    assert st.loc["CMCC-U1", "status"] == "construction"  # (乙 sorts first: file order)
    assert all("no day named" in said for said in result.summary["notes"]["tables_dated"].values())


def _offset(metres: float) -> tuple[float, float]:
    from pyproj import Geod

    lon, lat, _ = Geod(ellps="WGS84").fwd(LON, LAT, 45.0, metres)
    return float(lon), float(lat)


OPERATOR_HEADER = "站址编码,基站名称,运营商,经度,纬度,开通日期,状态"
PLANNED_HEADER = "站址名称,规划站址编码,需求方,规划经度,规划纬度,建设状态,实际开通时间"


@pytest.mark.parametrize("metres, stations", [(80.0, 1), (150.0, 1), (450.0, 2)])
def test_a_tracker_row_at_its_planned_position_joins_the_operators_station_of_the_same_day(
    tmp_path, city, metres, stations
):
    """已开通 at 规划经度/规划纬度 80 m or 150 m from the operator's station on air the same day is that station
    (said, with the planned position); 450 m off it stays a station of its own."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "移动5G.csv").write_text(f"{OPERATOR_HEADER}\n1403001,甲,中国移动,{LON},{LAT},2021-08-18,已开通\n")
    x, y = _offset(metres)
    (folder / "铁塔跟踪表.csv").write_text(f"{PLANNED_HEADER}\n乙,YQ1,移动,{x},{y},已开通,2021-08-18\n")
    st = clean_stations([folder], city, as_of="2021-10-15").stations.set_index("station_id")
    assert len(st) == stations and st["is_on_air"].all()
    if stations == 1:
        notes = st.loc["CMCC-1403001", "notes"]
        assert "(the tower-company 站址编码 YQ1 at its planned position)" in notes
        # (the station's position is the operator's actual one: not said to be the planned one)
        assert "position is the planned one" not in notes


def test_a_planned_position_on_another_day_stays_a_station_of_its_own(tmp_path, city):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "移动5G.csv").write_text(f"{OPERATOR_HEADER}\n1403001,甲,中国移动,{LON},{LAT},2021-08-18,已开通\n")
    x, y = _offset(80.0)
    (folder / "铁塔跟踪表.csv").write_text(f"{PLANNED_HEADER}\n乙,YQ1,移动,{x},{y},已开通,2021-09-18\n")
    assert len(clean_stations([folder], city, as_of="2021-10-15").stations) == 2


@pytest.mark.parametrize("status, metres, stations", [("设备安装", 3.0, 1), ("设备安装", 40.0, 2), ("选址中", 3.0, 2)])
def test_a_tracker_site_in_its_last_stages_at_the_operators_mast_is_that_station(
    tmp_path, city, status, metres, stations
):
    """The tracker still lists the site 设备安装 while its operator reports it on air from the same mast (3 m):
    one station on air, the lag noted; 40 m off, or a site still in selection, is a new site by the mast."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "移动5G.csv").write_text(f"{OPERATOR_HEADER}\n1403001,甲,中国移动,{LON},{LAT},2021-08-12,已开通\n")
    x, y = _offset(metres)
    header = PLANNED_HEADER.replace("规划经度,规划纬度", "经度,纬度")
    (folder / "铁塔跟踪表.csv").write_text(f"{header}\n乙,YQ1,移动,{x},{y},{status},\n")
    st = clean_stations([folder], city, as_of="2021-10-15").stations.set_index("station_id")
    assert len(st) == stations and st.loc["CMCC-1403001", "is_on_air"]
    if stations == 1:
        assert "a report lagging" in st.loc["CMCC-1403001", "notes"]


@pytest.mark.parametrize(
    "operators, on_air, joined",
    [
        (["移动"], "2021-08-12", True),
        (["移动", "联通"], "2021-08-12", True),  # (a shared tower: one of its tenants, not a station more)
        (["移动"], "2021-09-01", False),
        (["移动"], "2021-08-13", True),  # (the tracker's day one off the operator's)
        (["移动"], "2021年8月", True),  # (a month: the same month)
        (["移动"], "2021年9月", False),
    ],
)
def test_a_tracker_row_without_its_operator_joins_the_station_on_air_then_at_its_mast(
    tmp_path, city, operators, on_air, joined
):
    """A tracker row that names no operator, 5 m from the one operator's station on air the same day (or a day
    off, or in the same month where it gives a month), is that station (its operator CMCC); at a shared tower it
    joins the nearest tenant, noted; another month leaves it apart (operator unknown)."""
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [f"140300{k},甲{k},{op},{LON},{LAT},2021-08-12,已开通" for k, op in enumerate(operators)]
    (folder / "运营商5G.csv").write_text("\n".join([OPERATOR_HEADER, *lines]) + "\n")
    x, y = _offset(5.0)
    header = "站址名称,铁塔站址编码,经度,纬度,建设状态,实际开通时间"
    (folder / "铁塔跟踪表.csv").write_text(f"{header}\n乙,YQ1,{x},{y},已开通,{on_air}\n")
    st = clean_stations([folder], city, as_of="2021-10-15").stations
    assert (len(st) == len(operators)) == joined
    assert ("unknown" in set(st["operator"])) != joined
    if joined and len(operators) > 1:
        assert st["notes"].str.contains("its operator not given: at a shared tower", na=False).sum() == 1


def test_a_tracker_row_without_its_operator_a_day_off_farther_than_the_mast_stays_apart(tmp_path, city):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "运营商5G.csv").write_text(f"{OPERATOR_HEADER}\n1403001,甲,移动,{LON},{LAT},2021-08-12,已开通\n")
    x, y = _offset(40.0)
    header = "站址名称,铁塔站址编码,经度,纬度,建设状态,实际开通时间"
    (folder / "铁塔跟踪表.csv").write_text(f"{header}\n乙,YQ1,{x},{y},已开通,2021-08-13\n")
    assert len(clean_stations([folder], city, as_of="2021-10-15").stations) == 2


def test_a_note_two_weeks_records_share_is_said_once(tmp_path, city):
    folder = tmp_path / "in"
    folder.mkdir()
    header = "站址名称,规划站址编码,需求方,经度,纬度,建设状态,计划开通时间,卡点问题"
    for week, status in (("第40周", "选址中"), ("第41周", "在建")):
        (folder / f"铁塔跟踪表_{week}.csv").write_text(f"{header}\n甲,U1,移动,{LON},{LAT},{status},2021年Q4,无\n")
    notes = clean_stations([folder], city, as_of="2021-10-15").stations.set_index("station_id").loc["CMCC-U1", "notes"]
    assert notes.count("planned on-air date 2021年Q4 read as 2021-12-31") == 1 and "updated on" in notes


@pytest.mark.parametrize(
    "text, near, planned",
    [
        ("1月15日", "2021-12-20", "2022-01-15"),
        ("2月底", "2021-12-20", "2022-02-28"),
        ("12月31日", "2022-01-05", "2021-12-31"),
        ("12月底", "2022-01-05", "2021-12-31"),
        ("11月", "2021-10-15", "2021-11-30"),
        ("5月", "2021-10-15", "2021-05-31"),
        ("3月", "2021-10-15", "2022-03-31"),
    ],
)
def test_a_plan_without_its_year_takes_the_year_nearest_the_tables_day(text, near, planned):
    """Across New Year a plan of 1月15日 in a table of 2021-12-20 is next January, not a year overdue; 12月31日 in
    one of 2022-01-05 is the December just gone, not a year off."""
    dates, _, how = parse.read_period_dates(
        pd.Series([text]), "2022-03-01", False, True, near=pd.Series([pd.Timestamp(near)])
    )
    assert dates.iloc[0] == pd.Timestamp(planned) and f"the year {planned[:4]}" in how.iloc[0]


def test_a_trackers_title_day_is_what_a_plan_without_its_year_is_read_against(tmp_path, city):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [_row(1, "T1", "移动", "在建", "电力引入难", plan="1月15日")]
    _tracker(folder / "铁塔_跟踪表.xlsx", rows, title="5G站址跟踪表（截至2021年12月20日）")
    st = clean_stations([folder], city, as_of="2021-12-25").stations.set_index("station_id")
    assert st.loc["CMCC-T1", "planned_on_air_date"] == pd.Timestamp("2022-01-15")


@pytest.mark.parametrize(
    "word", ["—", "——", "-", "/", "无阻碍", "无需协调", "目前无", "否", "0", "空", "无问题", "正常", "N/A", "不涉及"]
)
def test_no_blocker_written_other_ways_is_no_blocker(word):
    assert parse.parse_blockers(pd.Series([word])).isna().all()


@pytest.mark.parametrize("word", ["无法进场", "无电源", "没有市电", "无法协调", "否决选址", "空调外机挡住天线"])
def test_a_blocker_that_begins_like_no_blocker_is_still_a_blocker(word):
    assert parse.parse_blockers(pd.Series([word])).notna().all()


@pytest.mark.parametrize(
    "word, stage",
    [
        ("待开通", "power_hookup"),
        ("已上电", "power_hookup"),
        ("设备到货", "construction"),
        ("待验收", "power_hookup"),
        ("具备开通条件", "power_hookup"),
        ("已开通待验收", "on_air"),
        ("已竣工", "power_hookup"),
        ("未开通", "planned"),
        ("准备开通", "power_hookup"),
        ("等待开通", "power_hookup"),
        ("待开通（暂缓）", "power_hookup"),
        ("在建待开通", "construction"),
    ],
)
def test_status_words_of_the_last_stages(word, stage):
    assert parse.parse_statuses(pd.Series([word])).tolist() == [stage]


def test_a_date_beside_a_word_of_waiting_for_air_is_its_plan():
    words = pd.Series(["准备开通", "即将开通", "具备开通条件", "申请开通", "待开通", "已开通", "已开通待验收"])
    assert parse.says_not_on_air(words).tolist() == [True] * 5 + [False] * 2


@pytest.mark.parametrize("word", ["已建成", "塔已建成", "已验收"])
def test_a_site_built_or_accepted_is_on_air_only_with_its_date(tmp_path, city, word):
    """Without an on-air date a built site stays in the pipeline at power hook-up (noted), not quarantined as
    on air without a date; with one it is on air."""
    folder = tmp_path / "in"
    folder.mkdir()
    header = "站址名称,规划站址编码,需求方,经度,纬度,建设状态,实际开通时间"
    x, y = _offset(500.0)
    lines = [f"甲,YQ1,移动,{LON},{LAT},{word},", f"乙,YQ2,移动,{x},{y},{word},2021-09-01"]
    (folder / "铁塔跟踪表.csv").write_text("\n".join([header, *lines]) + "\n")
    result = clean_stations([folder], city, as_of="2021-10-15")
    st = result.stations.set_index("station_id")
    assert result.summary["rows_quarantined"] == 0
    assert st.loc["CMCC-YQ1", "status"] == "power_hookup" and not st.loc["CMCC-YQ1", "is_on_air"]
    assert "not known to be on air" in st.loc["CMCC-YQ1", "notes"]
    assert st.loc["CMCC-YQ2", "status"] == "on_air" and st.loc["CMCC-YQ2", "is_on_air"]


def _at(lon: float, lat: float, north: float, east: float) -> tuple[float, float]:
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    lon, lat, _ = geod.fwd(lon, lat, 0.0, north)
    lon, lat, _ = geod.fwd(lon, lat, 90.0, east)
    return float(lon), float(lat)


def test_a_planned_position_joins_only_the_station_that_is_its_nearest_and_it_the_station_s(tmp_path, city):
    """CMCC's A and B on air the same day 200 m apart: a tracker record planned 120 m from A (233 m from B) and A
    are each other's nearest: one station; another 251 m from B (320 m from A) is not B's nearest record (the first
    is, 233 m): kept apart, noted ambiguous, not joined to a station another record is nearer."""
    folder = tmp_path / "in"
    folder.mkdir()
    b = _at(LON, LAT, 0, 200)
    lines = [f"1403001,A,中国移动,{LON},{LAT},2021-09-10,已开通", f"1403002,B,中国移动,{b[0]},{b[1]},2021-09-10,已开通"]
    (folder / "移动5G.csv").write_text("\n".join([OPERATOR_HEADER, *lines]) + "\n")
    p, q = _at(LON, LAT, 120, 0), _at(*b, -250, 0)
    rows = [f"乙,YQ2,移动,{p[0]},{p[1]},已开通,2021-09-10", f"丙,YQ3,移动,{q[0]},{q[1]},已开通,2021-09-10"]
    (folder / "铁塔跟踪表.csv").write_text("\n".join([PLANNED_HEADER, *rows]) + "\n")
    st = clean_stations([folder], city, as_of="2021-10-15").stations.set_index("station_id")
    assert sorted(st.index) == ["CMCC-1403001", "CMCC-1403002", "CMCC-YQ3"]
    assert st.loc["CMCC-1403001", "n_sources"] == 2 and st.loc["CMCC-1403002", "n_sources"] == 1
    assert "(ambiguous)" in st.loc["CMCC-YQ3", "notes"]


def test_an_operator_s_batch_opened_the_same_day_joins_its_planned_records_one_each(tmp_path, city):
    """Twelve stations opened the same day 250 m apart, each tracker record 60-140 m off its own: refusing every
    record that had two stations in reach counted 24 on air; each record and its station are each other's nearest."""
    folder = tmp_path / "in"
    folder.mkdir()
    stations, records = [], []
    for k in range(12):
        s = _at(LON, LAT, 250 * k, 0)
        r = _at(*s, 0, 60 + 80 * (k % 2))
        stations.append(f"14030{k:02d},G{k},中国移动,{s[0]},{s[1]},2021-09-10,已开通")
        records.append(f"站{k},YQ{k:02d},移动,{r[0]},{r[1]},已开通,2021-09-10")
    (folder / "移动5G.csv").write_text("\n".join([OPERATOR_HEADER, *stations]) + "\n")
    (folder / "铁塔跟踪表.csv").write_text("\n".join([PLANNED_HEADER, *records]) + "\n")
    st = clean_stations([folder], city, as_of="2021-10-15").stations
    assert len(st) == 12 and (st["n_sources"] == 2).all()


def test_a_planned_position_join_says_its_real_distance_in_the_quarantine(tmp_path, city):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "移动5G.csv").write_text(f"{OPERATOR_HEADER}\n1403001,甲,中国移动,{LON},{LAT},2021-08-18,已开通\n")
    x, y = _at(LON, LAT, 121, 0)
    (folder / "铁塔跟踪表.csv").write_text(f"{PLANNED_HEADER}\n乙,YQ1,移动,{x},{y},已开通,2021-08-18\n")
    result = clean_stations([folder], city, as_of="2021-10-15")
    [detail] = result.quarantine["detail"].tolist()
    assert "121 m apart" in detail and "within 50 m" not in detail and "up to 300 m" in detail


@pytest.mark.parametrize("dated", [(), ("跟踪表_10月8日", "跟踪表_10月15日")])
def test_an_undated_tracker_says_how_it_was_ranked_in_its_files_notes(tmp_path, city, dated):
    """The summary's notes say it for every tracker; the file's own notes (printed, listed on the clean page)
    too, for the file that names no day: ranked by completeness, or after the dated trackers."""
    folder = tmp_path / "in"
    folder.mkdir()
    _weekly(folder / "跟踪表.xlsx", {"跟踪": WEEK_OLD[:1]})
    _weekly(folder / ("跟踪表(1).xlsx" if not dated else f"{dated[0]}.xlsx"), {"跟踪": WEEK_NEW[:1]})
    if dated:
        _weekly(folder / f"{dated[1]}.xlsx", {"跟踪": WEEK_NEW[:1]})
    files = {
        f["file"].rsplit("/", 1)[-1]: f.get("notes", [])
        for f in clean_stations([folder], city, as_of="2021-10-15").summary["files"]
    }
    said = " ".join(files["跟踪表.xlsx"])
    assert "naming no day" in said and ("after the dated trackers'" in said) == bool(dated)
    assert all(not any("naming no day" in n for n in notes) for name, notes in files.items() if name.startswith(dated))


def test_a_row_said_on_air_with_only_its_plan_names_the_plan_in_its_quarantine_detail(tmp_path, city):
    """已开通 with no actual date but a 计划开通时间: quarantined as on air without a date, the detail said nothing."""
    folder = tmp_path / "in"
    folder.mkdir()
    header = "站址编码,基站名称,运营商,经度,纬度,建设状态,实际开通时间,计划开通时间"
    rows = [f"T1,甲,移动,{LON},{LAT},已开通,,2021-09-30", f"T2,乙,移动,{LON + 0.01},{LAT},已开通,2021-08-01,2021-07-31"]
    (folder / "跟踪表.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    q = clean_stations([folder], city, as_of="2021-10-15").quarantine
    [detail] = q.loc[q["reason"] == "on_air_without_date", "detail"].tolist()
    assert detail == "status=已开通; planned on-air date 2021-09-30 (a plan, not its on-air date)"
