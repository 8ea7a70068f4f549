"""Value parsers: every way people type dates, coordinates, operators, bands, statuses, blockers."""

import numpy as np
import pandas as pd
import pytest

from analysis.clean import parse


@pytest.mark.parametrize(
    "text",
    [
        "2020-05-12",
        "2020/5/12",
        "2020年5月12日",
        "20200512",
        "2020.5.12",
        "2020-05-12 10:30:00",
        "43963",
        "43963.0",
        "２０２０－０５－１２",
        " 2020/05/12 ",
        "2020 年 5 月 12 日",
    ],
)
def test_dates_every_way_people_type_them(text):
    assert parse.parse_dates(pd.Series([text])).iloc[0] == pd.Timestamp("2020-05-12")


@pytest.mark.parametrize(
    "text", ["12/05/2020", "2020-13-01", "2020-02-30", "待定", "5月12日", "123", "99999", "9999-12-31", "1000-01-01"]
)
def test_ambiguous_or_impossible_dates_stay_unparsed(text):
    assert pd.isna(parse.parse_dates(pd.Series([text])).iloc[0])


def _dates_by_python_regex(values: pd.Series) -> pd.Series:
    """The date parse written with Python's regex only (what RE2 now does for most texts)."""
    import numpy as np

    text = parse.normalize_text(values)
    parts = pd.DataFrame(index=text.index, columns=["y", "m", "d"], dtype="float64")
    for pattern in (parse._YMD, parse._COMPACT):
        parts = parts.fillna(text.str.extract(pattern).astype("float64")[["y", "m", "d"]])
    parts = parts.where(parts["m"].between(1, 12) & parts["d"].between(1, 31) & parts["y"].between(1678, 2261))
    out = pd.to_datetime(pd.DataFrame({"year": parts["y"], "month": parts["m"], "day": parts["d"]}), errors="coerce")
    serial = pd.to_numeric(text.where(text.str.fullmatch(parse._SERIAL).fillna(False)), errors="coerce")
    serial = serial.where(serial.between(*parse.EXCEL_SERIAL_RANGE))
    out = out.fillna(parse.EXCEL_EPOCH + pd.to_timedelta(np.floor(serial), unit="D"))
    return out.astype("datetime64[ns]")


def test_dates_read_by_re2_as_by_python_regex():
    """RE2 reads every text as Python's regex did, with odd whitespace, times, zones, full-width and
    non-ASCII digits (Arabic-Indic, Devanagari: digits to Python's \\d), serials and junk."""
    import numpy as np

    rng = np.random.default_rng(7)
    digits = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９"]
    pieces = [
        "-",
        "/",
        ".",
        "年",
        "月",
        "日",
        " ",
        "\u3000",
        "\x0b",
        "\x1c",
        "\xa0",
        "T",
        ":",
        "：",
        "Z",
        "+08:00",
        "\n",
        "x",
        "待定",
        "=",
    ]

    def number(width):
        ds = digits[0] if rng.random() < 0.85 else digits[rng.integers(len(digits))]
        return "".join(ds[rng.integers(10)] for _ in range(width))

    def written(value, pad=1):
        ds = digits[0] if rng.random() < 0.85 else digits[rng.integers(len(digits))]
        return "".join(ds[int(c)] for c in str(value).zfill(pad))

    def space():
        return "" if rng.random() < 0.6 else pieces[rng.choice([6, 7, 8, 9, 10])]

    texts = []
    for _ in range(4000):
        if rng.random() < 0.7:  # date-like: year, month, day in any digits, separators, a time, a zone
            sep = pieces[rng.integers(0, 5)]
            year = int(rng.integers(1990, 2040)) if rng.random() < 0.9 else int(rng.integers(0, 10000))
            month = written(int(rng.integers(0, 14)), int(rng.integers(1, 3)))
            day = written(int(rng.integers(0, 33)), int(rng.integers(1, 3)))
            text = (
                written(year, 4)
                + space()
                + sep
                + space()
                + month
                + space()
                + pieces[rng.integers(0, 5)]
                + space()
                + day
            )
            if rng.random() < 0.3:
                text += "日" if rng.random() < 0.5 else ""
            if rng.random() < 0.4:
                text += rng.choice([" ", "T", "  "]) + number(2) + rng.choice([":", "："]) + number(2)
                text += (":" + number(2)) if rng.random() < 0.5 else ""
                text += rng.choice(["", "Z", "+08:00", " +0800", "x"])
        elif rng.random() < 0.5:
            compact = written(int(rng.integers(19900101, 20391232)))
            serial = written(int(rng.integers(30000, 80000))) + (("." + number(2)) if rng.random() < 0.3 else "")
            text = compact if rng.random() < 0.5 else serial
        else:
            text = "".join(
                number(int(rng.integers(1, 6))) if rng.random() < 0.55 else pieces[rng.integers(len(pieces))]
                for _ in range(rng.integers(1, 9))
            )
        texts.append(text)
    texts += [
        "2021-02-07 13:45:12",
        "2021-02-07T13:45:12+08:00",
        "20210207",
        "43963.5",
        "2021年2月7日 13：45",
        "٢٠٢١-٠٢-٠٧",
        "2021-٠٢-07",
        "२०२१/२/७",
        "2021 - 2 - 7",
        "2021\x1c-2-7",
        None,
        "",
    ]
    values = pd.Series(texts, dtype=object)
    expected = _dates_by_python_regex(values)
    assert expected.notna().sum() > 1000  # the texts hold dates of every kind, not only junk
    pd.testing.assert_series_equal(parse._parse_date_texts(values), expected)


def test_missing_dates_are_nat_not_errors():
    out = parse.parse_dates(pd.Series([None, "", "  "], dtype=object))
    assert out.isna().all()
    assert str(out.dtype) == "datetime64[ns]"


@pytest.mark.parametrize(
    "text, value",
    [
        ("84.87", 84.87),
        ("８４．８７", 84.87),
        ("E84.87", 84.87),
        ("84.87E", 84.87),
        ("东经84.87", 84.87),
        ("84°52'58.9\"", 84 + 52 / 60 + 58.9 / 3600),
        ("84度52分58.9秒", 84 + 52 / 60 + 58.9 / 3600),
        ("84 52 58.9", 84 + 52 / 60 + 58.9 / 3600),
        ("45°35′12″N", 45 + 35 / 60 + 12 / 3600),
        ("84°52'", 84 + 52 / 60),
        ("-33.5", -33.5),
        ("33.5S", -33.5),
        ("W70.1", -70.1),
        # 60 seconds (or minutes), a writer's rounding of 59.9996": the next minute (degree)
        ("32°53′60.000″N", 32 + 54 / 60),
        ("112°16′60″E", 112 + 17 / 60),
        ("112°60′E", 113.0),
        ("112°60′0″E", 113.0),
    ],
)
def test_coordinates_decimal_dms_fullwidth(text, value):
    assert parse.parse_coordinates(pd.Series([text])).iloc[0] == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize(
    "text", ["待定", "abc", "84°75'00\"", "84.87.1", "N/A", "84°52'60.01\"", "84°60.5'", "84°60'30\"", "84°52'61\""]
)
def test_unreadable_coordinates_are_nan(text):
    assert pd.isna(parse.parse_coordinates(pd.Series([text])).iloc[0])


def test_combined_lonlat_split():
    lon, lat = parse.split_lonlat(pd.Series(["84.87,45.60", "84.87 45.6", "８４．８７，４５．６", None], dtype=object))
    assert list(parse.parse_coordinates(lon).iloc[:3]) == [84.87, 84.87, 84.87]
    assert list(parse.parse_coordinates(lat).iloc[:3]) == [45.6, 45.6, 45.6]
    assert pd.isna(lon.iloc[3])


@pytest.mark.parametrize(
    "text, code",
    [
        ("中国移动", "CMCC"),
        ("移动", "CMCC"),
        ("CMCC", "CMCC"),
        ("China Mobile", "CMCC"),
        ("中国电信", "CTCC"),
        ("电信", "CTCC"),
        ("China Telecom", "CTCC"),
        ("中国联通", "CUCC"),
        ("联通", "CUCC"),
        ("china unicom", "CUCC"),
        ("中国广电", "CBN"),
        ("广电", "CBN"),
        ("CBN", "CBN"),
        ("China Broadnet", "CBN"),
        ("China Broadcasting Network", "CBN"),
        ("铁塔", "unknown"),
        ("电信联通共享", "unknown"),
        (None, "unknown"),
    ],
)
def test_operators(text, code):
    assert parse.parse_operators(pd.Series([text], dtype=object)).iloc[0] == code


@pytest.mark.parametrize(
    "text, band",
    [
        ("2.6GHz", "n41"),
        ("2.6G", "n41"),
        ("2600M", "n41"),
        ("2515-2675MHz", "n41"),
        ("n41", "n41"),
        ("N41", "n41"),
        ("3.5GHz", "n78"),
        ("3500M", "n78"),
        ("3.3G", "n78"),
        ("n78", "n78"),
        ("4.9GHz", "n79"),
        ("4.9G", "n79"),
        ("700M", "n28"),
        ("700MHz", "n28"),
        ("n28", "n28"),
        ("2.1G", "n1"),
        ("1.8GHz", "n3"),
        ("LTE", "unknown"),
        (None, "unknown"),
        ("900M", "unknown"),
    ],
)
def test_bands(text, band):
    assert parse.parse_bands(pd.Series([text], dtype=object)).iloc[0] == band


@pytest.mark.parametrize(
    "text, status",
    [
        ("已开通", "on_air"),
        ("开通", "on_air"),
        ("在网", "on_air"),
        ("on air", "on_air"),
        ("未开通", "planned"),
        ("在建", "construction"),
        ("建设中", "construction"),
        ("规划", "planned"),
        ("立项", "planned"),
        ("选址", "site_selection"),
        ("选址中", "site_selection"),
        ("进场", "site_access"),
        ("待进场", "site_access"),
        ("电源接入", "power_hookup"),
        ("待引电", "power_hookup"),
        ("退网", "decommissioned"),
        ("???", "unknown"),
        (None, "unknown"),
    ],
)
def test_statuses(text, status):
    assert parse.parse_statuses(pd.Series([text], dtype=object)).iloc[0] == status


@pytest.mark.parametrize(
    "text, blocker",
    [
        ("选址难", "site_selection"),
        ("物业阻挠进场", "site_access"),
        ("进场难", "site_access"),
        ("施工受阻", "construction"),
        ("电源接入", "power_hookup"),
        ("外电引入困难", "power_hookup"),
        ("高转供电价", "power_price"),
        ("转供电电价高", "power_price"),
        ("资金未到位", "other"),
    ],
)
def test_blockers(text, blocker):
    assert parse.parse_blockers(pd.Series([text])).iloc[0] == blocker


@pytest.mark.parametrize("text", ["无", "none", None])
def test_no_blocker(text):
    assert pd.isna(parse.parse_blockers(pd.Series([text], dtype=object)).iloc[0])


@pytest.mark.parametrize(
    "text, crs",
    [
        ("GCJ-02", "gcj02"),
        ("gcj02", "gcj02"),
        ("高德", "gcj02"),
        ("火星坐标", "gcj02"),
        ("WGS84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("GPS", "wgs84"),
        ("CGCS2000", "wgs84"),
        ("BD-09", "bd09"),
        ("百度", "bd09"),
        ("Beijing54", "unknown"),
    ],
)
def test_crs_labels(text, crs):
    assert parse.parse_crs(pd.Series([text])).iloc[0] == crs


@pytest.mark.parametrize(
    "text, status",
    [
        ("待开通", "power_hookup"),  # (waiting for the last step: the last stage, not a plan)
        ("尚未开通", "planned"),
        ("暂未开通", "planned"),
        ("拟开通", "planned"),
        ("not active", "planned"),
        ("开通中", "power_hookup"),
        ("已退网", "decommissioned"),
        ("拆除", "decommissioned"),
        # negated on-air words: 在网 and active are on-air words, the negation must win
        ("不在网", "planned"),
        ("未在网", "planned"),
        ("非在用", "planned"),
        ("Inactive", "planned"),
        ("offline", "planned"),
        ("在网", "on_air"),
        ("in service", "on_air"),
        ("在网运行", "on_air"),
    ],
)
def test_not_yet_on_air_and_off_air_are_not_on_air(text, status):
    assert parse.parse_statuses(pd.Series([text])).iloc[0] == status


@pytest.mark.parametrize("text", ["5G", "5G NR", "5g"])
def test_the_technology_is_not_a_band(text):
    assert parse.parse_bands(pd.Series([text])).iloc[0] == "unknown"


@pytest.mark.parametrize(
    "text",
    ["暂无", "无问题", "无卡点", "正常推进", "已解决", "没有", "无，正常推进", "进场问题已解决", "无电源问题", "无 "],
)
def test_no_blocker_wordings(text):
    assert pd.isna(parse.parse_blockers(pd.Series([text])).iloc[0])


@pytest.mark.parametrize(
    "text, blocker",
    [
        # a blocker said with a negation is still a blocker: 无法 "cannot", 无 / 没有 "there is no …"
        ("无法进场", "site_access"),
        ("无电源", "power_hookup"),
        ("没有市电", "power_hookup"),
        ("无法施工", "construction"),
        ("无站址", "site_selection"),
        ("无法进场问题", "site_access"),
        ("供电不正常", "power_hookup"),
        ("暂无进展", "other"),
        ("未解决", "other"),
    ],
)
def test_blockers_said_with_a_negation(text, blocker):
    assert parse.parse_blockers(pd.Series([text])).iloc[0] == blocker


@pytest.mark.parametrize(
    "text, crs",
    [
        ("EPSG:4326", "wgs84"),
        ("GCJ-02坐标", "gcj02"),
        ("高德坐标系", "gcj02"),
        ("WGS-84坐标系", "wgs84"),
        ("百度坐标", "bd09"),
    ],
)
def test_crs_labels_with_suffixes_and_punctuation(text, crs):
    assert parse.parse_crs(pd.Series([text])).iloc[0] == crs


# --- issue 14: what real exports write ---------------------------------------------------------


@pytest.mark.parametrize("text", ["已关闭", "已停用", "关停", "退服", "已退服"])
def test_shut_down_stations_are_decommissioned(text):
    assert parse.parse_statuses(pd.Series([text])).iloc[0] == "decommissioned"


def test_not_on_air_said_in_so_many_words():
    said = parse.says_not_on_air(pd.Series(["未开通", "待开通", "尚未入网", "已开通", "在建", None], dtype=object))
    assert said.tolist() == [True, True, True, False, False, False]


@pytest.mark.parametrize(
    "text, code",
    [
        ("中国联合网络通信有限公司", "CUCC"),
        ("中国联合网络通信有限公司克拉玛依市分公司", "CUCC"),
        ("中国广播电视网络有限公司", "CBN"),
        ("中国移动通信集团新疆有限公司", "CMCC"),
        ("中国电信股份有限公司", "CTCC"),
        ("CM", "CMCC"),
        ("CU", "CUCC"),
        ("CT", "CTCC"),
        ("cm", "CMCC"),
    ],
)
def test_legal_names_and_two_letter_codes(text, code):
    assert parse.parse_operators(pd.Series([text])).iloc[0] == code


@pytest.mark.parametrize(
    "context, code",
    [
        ("China_Telecom_5G_mobile_sites", "CTCC"),
        ("电信_移动式应急基站", "CTCC"),
        ("中国移动_5G基站开通清单", "CMCC"),
        ("联通5G基站清单", "CUCC"),
        ("China Mobile 5G sites", "CMCC"),
        ("5G_sites_mobile", "unknown"),
        ("铁塔_5G站址建设跟踪表", "unknown"),
        ("电信联通共建共享站点", "unknown"),
    ],
)
def test_operator_of_a_file_name_or_title(context, code):
    assert parse.operator_of_context(context) == code


@pytest.mark.parametrize(
    "text, tenants",
    [
        ("移动、联通", "CMCC,CUCC"),
        ("移动,电信,联通", "CMCC,CTCC,CUCC"),
        ("移动+广电", "CMCC,CBN"),
        ("移动", None),
        ("电信联通共享", "CTCC,CUCC"),
        ("移动/电信共享", "CMCC,CTCC"),
        ("电信联通共建共享站点", "CTCC,CUCC"),
        ("三家共享", "CMCC,CTCC,CUCC"),
        ("三家运营商", "CMCC,CTCC,CUCC"),
        ("四家共享", "CMCC,CTCC,CUCC,CBN"),
        ("移动联通", "CMCC,CUCC"),
        ("移动共享", None),
        ("联通(共享电信)", "CUCC,CTCC"),
        ("中国移动(CMCC)", None),
        ("共享", None),
        ("中国移动通信集团", None),
        ("移动、铁塔", None),
        ("移动、移动", None),
    ],
)
def test_tenants_listed_in_one_cell(text, tenants):
    assert parse.parse_tenants(pd.Series([text])).iloc[0] == tenants
    # (told of the distinct texts without the lists: True exactly where there are some)
    assert parse.names_tenants(pd.Series([text, None, text])).tolist() == [
        tenants is not None,
        False,
        tenants is not None,
    ]


@pytest.mark.parametrize(
    "text, crs",
    [
        ("GCJ02(高德)", "gcj02"),
        ("百度坐标系(BD09)", "bd09"),
        ("WGS84(GPS)", "wgs84"),
        ("高德地图", "gcj02"),
        ("腾讯地图", "gcj02"),
        ("百度地图", "bd09"),
        ("2000国家大地坐标系", "wgs84"),
        ("国家2000", "wgs84"),
        ("CGCS2000坐标系", "wgs84"),
        ("北京54", "unknown"),
        ("西安80", "unknown"),
        ("西安1980坐标系", "unknown"),
        ("WGS84/GCJ02", "unknown"),
    ],
)
def test_crs_labels_as_people_write_them(text, crs):
    assert parse.parse_crs(pd.Series([text])).iloc[0] == crs


@pytest.mark.parametrize(
    "text",
    [
        "2021-03-05T14:22:01+08:00",
        "2021-03-05T14:22:01Z",
        "2021-03-05T14:22:01.250+0800",
        "2021-03-05T14:22Z",
        "2021-03-05 14:22:01 +08:00",
    ],
)
def test_iso_timestamps(text):
    assert parse.parse_dates(pd.Series([text])).iloc[0] == pd.Timestamp("2021-03-05")


@pytest.mark.parametrize("text", ["电力引入", "电力引入困难", "电力引入协调中"])
def test_power_hookup_in_progress_reports_words(text):
    assert parse.parse_blockers(pd.Series([text])).iloc[0] == "power_hookup"


@pytest.mark.parametrize(
    "text, band",
    [("5G NR 3.5GHz", "n78"), ("5G(2.6G)", "n41"), ("5G NR n78", "n78"), ("5G 700M", "n28"), ("5G NR", "unknown")],
)
def test_bands_after_the_technology(text, band):
    assert parse.parse_bands(pd.Series([text])).iloc[0] == band


def test_invisible_characters_and_excel_text_formulas_are_not_part_of_values():
    out = parse.normalize_text(
        pd.Series(["6502\u200b0300\u200d0001", '="650203000001"', "\ufeff站一", '="  "'], dtype=object)
    )
    assert out.iloc[:3].tolist() == ["650203000001", "650203000001", "站一"]
    assert pd.isna(out.iloc[3])


@pytest.mark.parametrize("dtype", [object, "str"])
def test_normalized_texts_are_nfkc_of_every_value_on_python_and_arrow_strings(dtype):
    """Only plain ASCII and hanzi skip Python's NFKC: every other text gets it, whatever it is next to."""
    import unicodedata

    texts = [
        "S001 ",
        "准噶尔路宏站",
        "８４．８７",
        "e\u0301",
        "Ⅻ号站",
        "站\u3000A",
        "ｶﾞ",
        "\u2f00",
        "丽\ufa10",
        None,
        "",
    ]
    out = parse.normalize_text(pd.Series(texts, dtype=dtype))
    expected = [unicodedata.normalize("NFKC", t).strip() or None if t is not None else None for t in texts]
    assert [None if pd.isna(v) else v for v in out] == expected


def test_arrows_nfkc_is_used_only_where_it_gives_pythons_answer():
    """Every code point the fast path hands to Arrow's NFKC (utf8proc) folds as Python's unicodedata folds it, alone
    and after a base letter: an upgrade of either library that changes one fails here, not in a station's name."""
    import re
    import unicodedata

    import pyarrow as pa
    import pyarrow.compute as pc

    ranges = re.findall(r"\\x\{?([0-9a-f]+)\}?-\\x\{([0-9a-f]+)\}", parse._NFKC_ARROW_SAME)
    points = [c for lo, hi in ranges for c in range(int(lo, 16), int(hi, 16) + 1) if not 0xD800 <= c < 0xE000]
    assert len(points) > 20_000 and 0xFF08 in points and 0x209D not in points  # (（ in, a newer subscript out)
    texts = [chr(c) for c in points] + ["e" + chr(c) for c in points]
    folded = pc.utf8_normalize(pa.array(texts), form="NFKC").to_pylist()
    assert [t for t, f in zip(texts, folded) if unicodedata.normalize("NFKC", t) != f] == []


def test_a_national_column_of_full_width_names_is_folded_as_python_folds_it():
    """Names in full-width brackets (站点1（乡镇）) and digits, beside texts Arrow's NFKC is not trusted with (a
    character outside its blocks, a newer subscript): each value as Python's NFKC, invisible characters out."""
    import unicodedata

    texts = [f"站点{k}（乡镇）" for k in range(500)]
    texts += ["８４．８７", "Ⅻ\u200b号", "\u0558站", "x\u209d", "𠀀（）", "  ", None]
    out = parse.normalize_text(pd.Series(texts, dtype="str"))
    fold = lambda t: unicodedata.normalize("NFKC", t).replace("\u200b", "").strip() or None  # noqa: E731
    expected = [fold(t) if t is not None else None for t in texts]
    assert [None if pd.isna(v) else v for v in out] == expected


def test_decimal_commas_in_coordinates():
    out = parse.parse_coordinates(pd.Series(["84,875123", "-45,5", "84.5", "1,234,5"], dtype=object))
    assert out.iloc[0] == pytest.approx(84.875123)
    assert out.iloc[1] == pytest.approx(-45.5)
    assert out.iloc[2] == 84.5
    assert pd.isna(out.iloc[3])


@pytest.mark.parametrize(
    "text",
    [
        "(84.87, 45.6)",
        "（84.87，45.6）",
        "84.87、45.6",
        "经度:84.87 纬度:45.6",
        "纬度：45.6，经度：84.87",
        "lon=84.87 lat=45.6",
        "[84.87 45.6]",
    ],
)
def test_lonlat_in_one_cell_every_way(text):
    lon, lat = parse.split_lonlat(pd.Series([text], dtype=object))
    assert parse.parse_coordinates(lon).iloc[0] == 84.87
    assert parse.parse_coordinates(lat).iloc[0] == 45.6


def test_python_whitespace_is_every_character_re_s_matches():
    """The Arrow pre-test of `\\s` patterns lists every character Python's `\\s` matches: a row it
    misses would keep a space in its site code."""
    import re
    import sys

    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c)))
    assert parse.PY_WHITESPACE == every
    text = pd.Series(["S 1", "S\u30001", "S\x0b1", "S1", None], dtype="str")
    assert parse.has_whitespace(text).tolist() == [True, True, True, False, False]
    replaced = parse.replace_where(text, parse.has_whitespace(text), r"\s+", "_")
    assert replaced.tolist()[:4] == ["S_1", "S_1", "S_1", "S1"] and pd.isna(replaced[4])


@pytest.mark.parametrize("dtype", [object, "str"])
def test_factorize_text_codes_and_uniques(dtype):
    codes, uniques = parse.factorize_text(pd.Series(["移动", None, "联通", "移动"], dtype=dtype))
    assert [None if c < 0 else uniques[c] for c in codes] == ["移动", None, "联通", "移动"]


@pytest.mark.parametrize("dtype", [object, "str"])
def test_plain_decimals_parsed_as_written_equal_the_normalised_parse(dtype):
    """A plain decimal is parsed without normalising (it is its own normal form); every text gives what
    normalising it first gives."""
    import numpy as np
    import pandas as pd

    from analysis.clean.parse import _parse_other_coordinates, parse_coordinates

    texts = ["84.875123", "-45.6", " 84.87 ", "８４．８７", "E84.87", "84°52'58.9\"", '="84.5"', "84,875", "", None,
             "0", "1234.5", "84.1234567890123", "84.87\u200b", "abc"]  # fmt: skip
    values = pd.Series(texts, dtype=dtype, index=range(10, 10 + len(texts)))
    fast, normalised = parse_coordinates(values), _parse_other_coordinates(values)
    assert fast.index.equals(values.index)
    np.testing.assert_array_equal(fast.to_numpy(), normalised.to_numpy())
    assert fast.iloc[0] == 84.875123 and fast.iloc[3] == 84.87 and np.isnan(fast.iloc[9])


@pytest.mark.parametrize(
    "text, value",
    [
        ("21/3/5", "2021-03-05"),
        ("17/03/2021", "2021-03-17"),
        ("3/17/2021", "2021-03-17"),
        ("17.3.21", "2021-03-17"),
        ("05/05/2021", "2021-05-05"),
        ("Mar 5, 2021", "2021-03-05"),
        ("March 5 2021", "2021-03-05"),
        ("5-Mar-21", "2021-03-05"),
        ("05 Mar 2021", "2021-03-05"),
        ("2021-Mar-05", "2021-03-05"),
        ("2021-03-05（补录）", "2021-03-05"),
        ("2021/3/5 已开通", "2021-03-05"),
        ("2021-03-05\n(补录)", "2021-03-05"),
        ("2021年3月5号", "2021-03-05"),
        ("3/17/2021 10:30 AM", "2021-03-17"),
    ],
)
def test_dates_the_fast_patterns_leave_to_the_slow_path(text, value):
    assert parse.parse_dates(pd.Series([text])).iloc[0] == pd.Timestamp(value)


@pytest.mark.parametrize("text", ["2021年3月", "2021年03月", "2021年3月份", "2021-3", "2021/03", "2021.3", "Mar 2021"])
def test_a_month_alone_is_its_first_day_and_said(text):
    reading = parse.read_dates(pd.Series([text, "2021-03-05"]))
    assert reading.dates.tolist() == [pd.Timestamp("2021-03-01"), pd.Timestamp("2021-03-05")]
    assert reading.month_only.tolist() == [True, False]


@pytest.mark.parametrize(
    "text",
    [
        "2021-06-30 预计",
        "2021年3月前",
        "2021-03-05~2021-03-08",
        "待定\n预计2021年底",
        "2021-02-30 补录",
        "Foo 5, 2021",
    ],
)
def test_a_plan_a_range_or_an_impossible_date_stays_unread(text):
    assert pd.isna(parse.parse_dates(pd.Series([text])).iloc[0])


def test_ambiguous_day_month_read_as_its_group_writes_dates():
    values = pd.Series(["05/03/2021", "17/03/2021", "05/03/2021", "3/17/2021", "05/03/2021", "3/17/2021", "2021-01-01"])
    groups = pd.Series(["day", "day", "month", "month", "both", "both", "none"])
    values = pd.concat([values, pd.Series(["17/03/2021"])], ignore_index=True)
    groups = pd.concat([groups, pd.Series(["both"])], ignore_index=True)
    reading = parse.read_dates(values, groups)
    assert reading.dates[0] == pd.Timestamp("2021-03-05")  # day-first file
    assert reading.dates[2] == pd.Timestamp("2021-05-03")  # month-first file
    assert pd.isna(reading.dates[4]) and reading.ambiguous[4]  # a file that writes both: undecided
    assert "more than one of the orders" in reading.why_ambiguous[4] and reading.why_ambiguous[0] is None
    assert not reading.ambiguous[[0, 1, 2, 3, 5, 6, 7]].any()
    # a two-digit year first or last: 20/2/26 is 2020-02-26 in a file of year-first short dates (21/3/5)
    reading = parse.read_dates(pd.Series(["20/2/26", "21/3/5", "20/2/26", "17/3/21"]), pd.Series(list("aabb")))
    assert reading.dates[0] == pd.Timestamp("2020-02-26") and reading.dates[1] == pd.Timestamp("2021-03-05")
    assert reading.dates[2] == pd.Timestamp("2026-02-20") and reading.dates[3] == pd.Timestamp("2021-03-17")
    assert pd.isna(parse.parse_dates(pd.Series(["20/2/26"])).iloc[0])
    assert parse.parse_dates(pd.Series(["21/3/21"])).iloc[0] == pd.Timestamp("2021-03-21")  # either way
    alone = parse.read_dates(pd.Series(["05/03/2021", "2021-01-01"]))
    assert pd.isna(alone.dates[0]) and alone.ambiguous.tolist() == [True, False]
    assert "no other date" in alone.why_ambiguous[0]


def test_dates_of_missing_cells_beside_read_ones_taken_by_code():
    """Each row's date, month and note flags and undecided order are taken by its code (`by_code`): a missing
    cell (code -1) is NaT with no flag, among rows of every kind, in Arrow strings and Python objects."""
    texts = [None, "2021年3月", "05/03/2021", None, "2021-03-05（补录）", "2021-03-05", None]
    for values in (pd.Series(texts, dtype=object), pd.Series(texts, dtype="str")):
        reading = parse.read_dates(values)
        assert reading.dates.isna().tolist() == [True, False, True, True, False, False, True]
        assert reading.dates[1] == pd.Timestamp("2021-03-01") and reading.dates[4] == pd.Timestamp("2021-03-05")
        assert reading.month_only.tolist() == [False, True, False, False, False, False, False]
        assert reading.with_note.tolist() == [False, False, False, False, True, False, False]
        assert reading.ambiguous.tolist() == [False, False, True, False, False, False, False]
        assert [w is None for w in reading.why_ambiguous] == [True, True, False, True, True, True, True]
    assert parse.by_code(np.array([3, 4]), -9, np.array([1, -1, 0, -1])).tolist() == [4, -9, 3, -9]
    assert parse.read_dates(pd.Series([None, None], dtype="str")).dates.isna().all()


def test_the_slow_date_path_reads_what_the_fast_path_reads_alike():
    """Every text the RE2/Arrow path reads, the slow path (for the spellings it leaves) reads to the same
    date: a spelling moved from one path to the other never changes a date."""
    import numpy as np

    rng = np.random.default_rng(11)
    texts = []
    for _ in range(3000):
        y, m, d = int(rng.integers(1990, 2040)), int(rng.integers(0, 14)), int(rng.integers(0, 33))
        sep = str(rng.choice(["-", "/", ".", "年"]))
        text = f"{y}{sep}{m:0{int(rng.integers(1, 3))}d}{'月' if sep == '年' else sep}{d}"
        text += str(rng.choice(["", "日", " 10:30", "T10:30:00+08:00"]))
        texts.append(text if rng.random() < 0.8 else f"{y}{m:02d}{d:02d}")
    fast = parse._parse_date_texts(pd.Series(texts, dtype=object))
    slow = pd.Series([parse._read_one_date(t)[0] for t in texts], dtype="datetime64[ns]")
    assert fast.notna().sum() > 1500
    pd.testing.assert_series_equal(fast, slow, check_names=False)


def test_three_number_dates_read_in_arrow_as_in_python():
    """The Arrow reading of 17/03/2021-like texts (a national export's every timestamp distinct) gives
    each text the date, order and candidate dates the Python reading gives it."""
    import numpy as np

    rng = np.random.default_rng(5)
    texts = []
    for _ in range(3000):
        a, b = int(rng.integers(0, 40)), int(rng.integers(0, 40))
        c = int(rng.integers(0, 40)) if rng.random() < 0.5 else int(rng.integers(1990, 2045))
        pad = rng.random() < 0.5
        sep1 = str(rng.choice(["/", "-", "."]))
        sep2 = sep1 if rng.random() < 0.9 else str(rng.choice(["/", "-", "."]))
        text = f"{a:02d}" if pad else str(a)
        text += sep1 + (f"{b:02d}" if pad else str(b)) + sep2 + str(c)
        text += str(rng.choice(["", " 10:30", " 10:30:15", "T10:30:00+08:00", " 9:05 PM", " x"]))
        texts.append(text)
    texts = pd.Series(texts, dtype=object)
    rows, values = parse._read_three_numbers_in_arrow(parse.normalize_text(texts))
    assert len(rows) > 1500
    for i, row in enumerate(rows):
        date, order, _, _, f, d, m = parse._read_one_date(texts[row])
        expected = [pd.Timestamp(x) if x is not None else pd.NaT for x in (date, f, d, m)]
        got = [pd.Timestamp(values[k][i]) for k in ("date", "F", "D", "M")]
        assert (got, values["order"][i]) == (expected, order), texts[row]
    # the texts it leaves (notes, separators that differ) are the Python reading's
    assert not any(texts[i].endswith(" x") for i in rows)


@pytest.mark.parametrize(
    "text",
    ["2021-06-30 延期", "2021-07-15（取消）", "2021-08-01 target", "2021-09-30?", "2021/9/30 推迟", "2021-09-30 TBC"],
)
def test_a_date_postponed_cancelled_or_a_target_is_no_on_air_date(text):
    """A note that says the day did not happen (postponed, cancelled, a target, a question) leaves the date
    unread: read with a note, a cancelled site counted on air."""
    assert parse.parse_dates(pd.Series([text], dtype="str")).isna().all()


def test_a_month_after_a_dot_is_read_only_when_it_cannot_be_a_number_cut_short():
    """2021.1 is also how a spreadsheet shows the number 2021.10 (October): not read; 2021.10, 2021.3 (no
    month 30) and 2021.3月 are; a two-digit year outside 2019-2039 is no 5G date."""
    got = parse.parse_dates(pd.Series(["2021.1", "2021.10", "2021.3", "5-Mar-98", "5-Mar-21"], dtype="str"))
    assert got.isna().tolist() == [True, False, False, True, False]
    assert got[1] == pd.Timestamp("2021-10-01") and got[4] == pd.Timestamp("2021-03-05")


@pytest.mark.parametrize(
    "text, status, not_on_air",
    [
        ("预计开通", "planned", True),
        ("计划开通", "planned", True),
        ("预计10月底开通", "planned", True),
        ("暂缓开通", "planned", True),
        ("已取消", "cancelled", False),
        ("取消", "cancelled", False),
        ("谈点", "site_access", False),
        ("暂缓", "planned", False),
        ("在建（暂缓）", "construction", False),
        ("已交维", "on_air", False),
        ("已开通(计划扩容)", "on_air", False),
        # not yet on air, in the stage the rest of the words name (已建成未开通 was 'planned')
        ("已建成未开通", "power_hookup", True),
        ("在建未开通", "construction", True),
        ("选址中，未开通", "site_selection", True),
    ],
)
def test_status_words_of_planned_cancelled_and_held_sites(text, status, not_on_air):
    assert parse.parse_statuses(pd.Series([text])).iloc[0] == status
    assert parse.says_not_on_air(pd.Series([text])).iloc[0] == not_on_air


@pytest.mark.parametrize(
    "word, stage",
    [
        ("不具备开通条件", "unknown"),  # (not ready: no stage said, not the last one)
        ("暂不具备开通条件", "unknown"),
        ("未建成", "construction"),
        ("塔未建成", "construction"),
        ("开通失败", "power_hookup"),  # (tried and failed: still the last stage, not on air)
        ("选址未完成", "site_selection"),
        ("进场未完成", "site_access"),
        ("具备开通条件", "power_hookup"),
        ("已建成未开通", "power_hookup"),
    ],
)
def test_a_step_said_not_done_is_not_read_as_done(word, stage):
    """不具备开通条件 read as ready to go on air and 未建成 as built filled the last stage with unbuilt sites."""
    from analysis.clean.parse import parse_statuses, says_built_only

    assert parse_statuses(pd.Series([word])).iloc[0] == stage
    assert not says_built_only(pd.Series([word])).iloc[0]


def test_an_on_air_date_without_its_year_is_read_against_its_tracker_s_day_not_the_report_s():
    """已开通 1月3日 in a tracker of 2021-12-20 read 2021-01-03 as of 2021-12-31 and 2022-01-03 as of 2022-01-10:
    the year-end count changed with the report date."""
    text = pd.Series(["1月3日", "12月25日"])
    near = pd.Series(pd.to_datetime(["2021-12-20", "2021-12-20"]))
    for as_of in ("2021-12-31", "2022-01-10"):
        dates, _, _ = parse.read_period_dates(text, as_of, latest_not_after=True, plan_month_end=False, near=near)
        assert dates.dt.strftime("%Y-%m-%d").tolist() == ["2021-01-03", "2020-12-25"]
    # a plan is still read nearest its tracker's day (next January)
    plans, _, _ = parse.read_period_dates(text, "2021-12-31", latest_not_after=False, plan_month_end=True, near=near)
    assert plans.dt.strftime("%Y-%m-%d").tolist() == ["2022-01-03", "2021-12-25"]


@pytest.mark.parametrize(
    "word, blocker", [("电费高", "power_price"), ("没问题", None), ("无协调需求", None), ("没电", "power_hookup")]
)
def test_more_ways_a_tracker_writes_its_blocker_or_none(word, blocker):
    got = parse.parse_blockers(pd.Series([word])).iloc[0]
    assert (pd.isna(got) and blocker is None) or got == blocker


def test_a_status_column_coded_once_reads_as_the_column_itself():
    """`code_text` factorises a column once; each status rule reads the codes as it would read the column, and
    a subset (`take`) as that subset of rows."""
    values = pd.Series(
        ["已开通", " 待开通 ", None, "暂缓建设", "在建", "已开通", "塔已建成", "嗯？"], index=range(10, 18)
    )
    coded = parse.code_text(values)
    assert parse.code_text(coded) is coded
    pd.testing.assert_series_equal(parse.parse_statuses(coded), parse.parse_statuses(values))
    pd.testing.assert_series_equal(parse.says_not_on_air(coded), parse.says_not_on_air(values))
    for got, want in zip(parse.status_flags(coded), parse.status_flags(values), strict=True):
        assert got.tolist() == want.tolist()
    at = np.array([6, 1, 2])
    pd.testing.assert_series_equal(parse.says_built_only(coded.take(at)), parse.says_built_only(values.iloc[at]))


def test_a_clean_factorises_the_status_column_once(tmp_path, monkeypatch, one_district_city):
    """The stage, not-yet-on-air, on-hold and built-only rules share one factorisation of the status column (each
    of its own was ~0.1 s of a national clean)."""
    from analysis.clean.stations import clean_stations

    seen = []
    factorize = parse.factorize_text
    monkeypatch.setattr(parse, "factorize_text", lambda values: seen.append(values.name) or factorize(values))
    path = tmp_path / "s.csv"
    rows = ["T1,113.59,37.86,已开通,2021-03-01", "T2,113.6,37.86,待开通,2021-09-01", "T3,113.58,37.86,塔已建成,"]
    path.write_text("站址编码,经度,纬度,状态,开通时间\n" + "\n".join(rows) + "\n", "utf-8")
    result = clean_stations([path], one_district_city, as_of="2021-10-15")
    assert result.summary["rows_in"] == 3 and seen.count("status") == 1


# --- numbers and look-ups on Arrow strings (pyarrow's kernels in place of pandas' per-object loops) ---

_NUMBER_TEXTS = [
    "1",
    "-3",
    "+4",
    "007",
    "0",
    "-0",
    "-0.0",
    "1.5",
    ".5",
    "5.",
    "1e5",
    "1E5",
    "1e+5",
    "1.e5",
    "00.5",
    "0x10",
    "0X1F",
    "0b1",
    "0o7",
    "0x1p3",
    "1e",
    "e5",
    ".",
    "-",
    "+",
    "--1",
    "1.2.3",
    "1,5",
    "1_000",
    "1.5f",
    "inf",
    "-inf",
    "+inf",
    "Inf",
    "INF",
    "infinity",
    "-Infinity",
    "nan",
    "NaN",
    "-nan",
    "+nan",
    "snan",
    "1e400",
    "-1e400",
    "1e-400",
    "4.9e-324",
    "1.7976931348623157e308",
    " 5",
    "5 ",
    "\t5",
    "١٢",
    "１２",
    "",
    "12345678901234567890",
    "9223372036854775807",
    "-9223372036854775808",
    "-9223372036854775809",
]


@pytest.mark.parametrize("text", _NUMBER_TEXTS)
@pytest.mark.parametrize("beside", [["1"], ["1.5"], ["2", "3"], [None, "1.5"], [None, "2"]])
def test_to_numbers_reads_as_pandas_to_numeric(text, beside):
    """Same dtype, values and NaN's sign as pd.to_numeric(errors="coerce"), whatever the column holds:
    hex that pyarrow's integer cast takes, whole numbers beyond int64 (uint64), "-nan", missing values."""
    values = pd.Series([text, *beside], dtype="str", name="cell")
    want, got = pd.to_numeric(values, errors="coerce"), parse.to_numbers(values)
    assert got.dtype == want.dtype and got.name == "cell"
    assert np.array_equal(got.to_numpy(), want.to_numpy(), equal_nan=True)
    assert (np.signbit(got.to_numpy(dtype=float)) == np.signbit(want.to_numpy(dtype=float))).all()


def test_to_numbers_of_python_strings_is_pandas():
    values = pd.Series(["1", "x", None], dtype=object)
    pd.testing.assert_series_equal(parse.to_numbers(values), pd.to_numeric(values, errors="coerce"))


@pytest.mark.parametrize("dtype", ["str", object])
def test_values_at_positions_is_a_map(dtype):
    """The values taken at each key's position among their labels (-1 none or missing): what
    `keys.map(values)` gives, NaN where a key is not found."""
    keys = pd.Series(
        ["460-0-7", "460-1-2", None, "460-0-7", "461-0-9", "460-0-70"], dtype=dtype, index=[5, 3, 9, 1, 0, 2]
    )
    values = pd.Series([10, 20, 30], index=pd.Index(["460-0-7", "460-0-70", "460-1-2"], dtype=dtype))
    at = np.array([0, 2, -1, 0, -1, 1])
    pd.testing.assert_series_equal(parse.values_at(values, at, keys.index), keys.map(values), check_names=False)
    every = keys.iloc[[0, 1, 3, 5]]  # (every key found: the values' own dtype, as a map keeps it)
    pd.testing.assert_series_equal(
        parse.values_at(values, at[[0, 1, 3, 5]], every.index), every.map(values), check_names=False
    )
    assert parse.values_at(values.iloc[:0], np.full(3, -1), pd.RangeIndex(3)).isna().all()


def test_texts_told_by_their_bytes_as_the_regexes_tell_them():
    """`rows_holding` finds the texts of a byte class as RE2 does, on a sliced array with missing values and on
    chunks; the texts NFKC may change (`_nfkc_unstable_bytes`) are those of a character outside ASCII and
    U+4E00…U+9FFF, every code point of the first three planes tried alone and between others."""
    import re

    import pyarrow as pa

    texts = ["S1", "s1", "", None, "A_B", "É1", "Ａ", "6.5E+13", "站", "9Z"] * 3
    array = pa.array(texts, pa.large_string()).slice(3, 20)
    chunked = pa.chunked_array([array.slice(0, 7), array.slice(7)])
    expected = [t is not None and re.fullmatch("[0-9A-Z]*", t) is None for t in texts[3:23]]
    for a in (array, chunked):
        assert parse.rows_holding(a, parse.bytes_outside("0-9A-Z")).tolist() == expected
        assert parse.rows_holding(a, parse.bytes_in("E")).tolist() == [t is not None and "E" in t for t in texts[3:23]]
    points = [chr(c) for c in range(0x30000) if not 0xD800 <= c < 0xE000]
    cases = points + ["a" + p + "站" for p in points] + [None, ""]
    got = parse.rows_holding(pa.array(cases, pa.large_string()), parse._nfkc_unstable_bytes)
    stable = re.compile("[\x00-\x7f\u4e00-\u9fff]*")
    assert got.tolist() == [t is not None and stable.fullmatch(t) is None for t in cases]


def test_plain_decimals_told_without_the_regex_are_those_it_matches():
    """`_plain_decimal_rows` (lengths and the dot's place where a text holds only digits and dots) gives what
    `_PLAIN_DECIMAL` matches: every text of up to 17 characters of digits and dots of a few shapes, signs, spaces."""
    import itertools
    import re

    import pyarrow as pa

    texts = ["".join(p) for k in range(6) for p in itertools.product("1.", repeat=k)]
    texts += ["1" * k + "." + "2" * m for k in range(5) for m in range(14)]
    texts += ["-84.5", "84.5-", " 84.5", "84.5 ", "８４.５", "84,5", "1.2.3", None, "84.875123", "1e5"]
    array = pa.array(texts, pa.large_string())
    expected = [t is not None and re.fullmatch(parse._PLAIN_DECIMAL.strip("^$"), t) is not None for t in texts]
    assert parse._plain_decimal_rows(array).tolist() == expected
    assert parse._plain_decimal_rows(pa.chunked_array([array.slice(0, 40), array.slice(40)])).tolist() == expected


def test_statuses_bands_and_blockers_told_of_the_distinct_texts_as_row_by_row():
    """`statuses_in` is `parse_statuses(...).isin(names)` (a row without a status: unknown); `parse_bands(..., None)`
    and `parse_blockers(..., None)` give Arrow strings, missing (not 'unknown') where a row names none."""
    from analysis.schemas import STAGES

    statuses = pd.Series(["已开通", "在建", None, "已取消", "乱码", "规划", "已开通", "退网"], dtype="str")
    parsed = parse.parse_statuses(statuses)
    for names in [("on_air",), ("on_air", "unknown", "decommissioned"), STAGES[:-1], ("cancelled",)]:
        assert parse.statuses_in(parse.code_text(statuses), names).tolist() == parsed.isin(names).tolist()
    bands = pd.Series(["3.5GHz", "4G", None, "n41", "5G"], dtype="str")
    full = parse.parse_bands(bands)

    def texts(values):
        return [None if pd.isna(v) else v for v in values]

    said = parse.parse_bands(bands, None)
    assert said.dtype == "str" and texts(said) == ["n78", None, None, "n41", None]
    assert full.where(full != "unknown", None).tolist() == texts(said)
    blockers = pd.Series(["选址", "无", None, "电源接入"], dtype="str")
    said = parse.parse_blockers(blockers, None)
    assert said.dtype == "str" and texts(said) == [
        parse.parse_blockers(blockers).iloc[0],
        None,
        None,
        "power_hookup",
    ]


def test_operators_come_as_arrow_strings_as_the_objects_would_type():
    """`parse_operators` gives Arrow strings (pandas "str"): what the Python objects of `_map_uniques` would be
    typed as, row by row (missing and unreadable cells "unknown"); `_map_uniques_as_text` leaves missing what
    `fn` says nothing of, and keeps the index and name."""
    cells = pd.Series(["中国移动", None, "联通", "  电信 ", "", "移动、联通", "xyz", np.nan, "中国移动"], name="op")
    cells.index = range(10, 19)
    got = parse.parse_operators(cells)
    expected = parse._map_uniques(cells, parse._operator, fill="unknown").astype("str")
    pd.testing.assert_series_equal(got, expected)
    assert got.dtype == "str" and got.tolist()[:3] == ["CMCC", "unknown", "CUCC"]
    texts = parse._map_uniques_as_text(cells, lambda t: "yes" if "移动" in t else None)
    pd.testing.assert_series_equal(
        texts, parse._map_uniques(cells, lambda t: "yes" if "移动" in t else None).astype("str")
    )
    assert texts.isna().sum() == 6 and texts.name == "op"
    statuses = pd.Series(["已开通", None, "在建", "乱码", "退网"])
    said = parse.parse_statuses(statuses)
    assert said.dtype == "str" and said.tolist() == ["on_air", "unknown", "construction", "unknown", "decommissioned"]


def test_every_space_a_text_may_be_trimmed_of_is_seen_by_its_first_or_last_byte():
    """`normalize_text` trims only when a first or last byte may be of a space: every character Python's
    `str.strip` or Arrow's `utf8_trim_whitespace` takes off (any plane) begins with a byte of `_MAY_START_A_SPACE`
    and ends with one of `_MAY_END_A_SPACE`; and a column trimmed or not reads as the trimmed one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chars = [chr(c) for c in range(0x30000) if not 0xD800 <= c < 0xE000]
    padded = pa.array([c + "x" + c for c in chars])
    trimmed = pc.utf8_trim_whitespace(padded).to_pylist()
    spaces = [c for c, t in zip(chars, trimmed, strict=True) if t != c + "x" + c or c.isspace()]
    assert len(spaces) > 20 and "\u3000" in spaces and "\x1c" in spaces
    for c in spaces:
        b = c.encode()
        assert parse._in_ranges(np.frombuffer(b[:1], np.uint8), parse._MAY_START_A_SPACE).all(), hex(ord(c))
        assert parse._in_ranges(np.frombuffer(b[-1:], np.uint8), parse._MAY_END_A_SPACE).all(), hex(ord(c))
    texts = ["站点1", " 站点2", "站点3\u3000", '="0012"', "", None, "\u00a0", "站"] * 40
    out = parse.normalize_text(pd.Series(texts, dtype="str"))
    expected = [
        (t.strip().removeprefix('="').removesuffix('"').strip() or None) if t is not None else None for t in texts
    ]
    assert [None if pd.isna(v) else v for v in out] == expected
    plain = parse.normalize_text(pd.Series(["站点1", "S2", None] * 3, dtype="str"))
    assert [None if pd.isna(v) else v for v in plain] == ["站点1", "S2", None] * 3
