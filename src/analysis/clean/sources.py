"""Readers for raw station records as operators and tower companies send them.

Finds the format from the bytes (XLSX, XLS, CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030 / UTF-16,
any of them inside .gz or .zip, OpenCelliD exports in any column order), the header under any title
rows (up to four rows of names, group labels merged over the columns, and a row of units), and maps
Chinese or English headers onto one vocabulary. Values stay text here: `clean` parses them, so a
rejected row keeps what it said; a line the reader can only read in part says so.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import mmap
import re
import unicodedata
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analysis.clean.parse import AS_STR, arrow_text, crs_of_label
from analysis.errors import BadInputError

#: Canonical field -> header synonyms seen in operator, tower-company and export files.
#: Matching ignores case, spaces, brackets and units, so "经度(°)" and "Longitude" both match.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "site_code": (
        "站址编码",
        "站址编号",
        "站号",
        "基站编号",
        "基站编码",
        "站点编码",
        "站点编号",
        "铁塔站址编码",
        "物理站址编码",
        "site_id",
        "siteid",
        "site_code",
        "sitecode",
        "station_id",
        "code",
        "gnb_id",
        "gnbid",
        # NMS exports (Huawei U2020, ZTE, Ericsson): the gNodeB's id is the site's
        "gnodeb_id",
        "gnodebid",
        "gnodeb标识",
        "gnb标识",
        "基站id",
        "基站标识",
        "nodeb_id",
        "ne_id",
        "node_id",
        "nodeid",
        "网元id",
        "网元标识",
    ),
    "name": (
        "基站名称",
        "站名",
        "站址名称",
        "站点名称",
        "物理站址名称",
        "基站名",
        "名称",
        "name",
        "site_name",
        "sitename",
        "station_name",
        "gnodeb_name",
        "gnodebname",
        "gnb_name",
        "gnbname",
        "nodeb_name",
        "ne_name",
        "nename",
        "node_name",
        "nodename",
        "网元名称",
        # a cell-level export names the station each cell belongs to
        "所属基站名称",
        "所属基站",
        "所属站点名称",
        "所属站点",
        "所属站址名称",
    ),
    "operator": (
        "运营商",
        "需求运营商",
        "需求方",
        "所属运营商",
        "运营商名称",
        "归属运营商",
        "租户",
        "租户名称",
        "tenant",
        "tenants",
        "operator",
        "carrier",
        "mno",
        "operator_name",
    ),
    # (a planned or actual qualifier in brackets or as a suffix counts as a prefix: 经度(实际) is 实际经度,
    # Longitude (Planned) is planned longitude; see `_header_keys`)
    "lon": ("经度", "东经", "实际经度", "lon", "lng", "long", "longitude", "x", "actual_lon", "actual_longitude"),
    "lat": ("纬度", "北纬", "实际纬度", "lat", "latitude", "y", "actual_lat", "actual_latitude"),
    # where the site is to be built; read only where the actual position is not given
    "planned_lon": ("规划经度", "planned_lon", "planned_longitude", "planned_lng"),
    "planned_lat": ("规划纬度", "planned_lat", "planned_latitude"),
    "lonlat": ("经纬度", "坐标", "lonlat", "coordinates", "coordinate"),
    "district": (
        "区县",
        "所属区县",
        "行政区",
        "所属区域",
        "区域",
        "县区",
        "区县名称",
        "所属县区",
        "district",
        "county",
        "area_name",
        "district_name",
        "county_name",
    ),
    "on_air_date": (
        "开通时间",
        "开通日期",
        "入网时间",
        "入网日期",
        "开站时间",
        "开站日期",
        "启用日期",
        "启用时间",
        "投产日期",
        "投产时间",
        "上线日期",
        "上线时间",
        "on_air_date",
        "onair_date",
        "on_air",
        "date_on_air",
        "activation_date",
        "实际开通时间",
        "实际开通日期",
        "开通入网时间",
        "入网开通时间",
        "商用时间",
        "商用日期",
        "on_air_time",
        "onair_time",
        "commissioning_date",
        "commissioning_time",
        "commission_date",
        "commissioned_date",
        "integration_date",
        "integration_time",
        "activation_time",
        "in_service_date",
        "service_date",
        "go_live_date",
        "golive_date",
        "launch_date",
        "date_of_commissioning",
        "commissioning",
    ),
    "band": ("频段", "工作频段", "频率", "nr频段", "band", "frequency", "freq_band", "nr_band", "frequency_band"),
    "status": (
        "状态",
        "站点状态",
        "建设状态",
        "当前状态",
        "当前阶段",
        "阶段",
        "运行状态",
        "开通状态",
        "基站状态",
        # a tower company's or task force's tracker: where the site has got to
        "当前进度",
        "进度",
        "建设进度",
        "工程进度",
        "进展情况",
        "当前进展",
        "status",
        "stage",
        "state",
        "site_status",
        "operational_state",
        "operational_status",
    ),
    "crs": ("坐标系", "坐标系统", "crs", "datum", "coordinate_system"),
    "blocker": (
        "卡点问题",
        "卡点",
        "卡点原因",
        "问题类型",
        "存在问题",
        "主要问题",
        # a tracker's words for what holds a site back, and for what the task force is asked to sort out
        "进场受阻原因",
        "受阻原因",
        "阻碍原因",
        "存在问题及需协调事项",
        "存在问题及协调事项",
        "需协调事项",
        "需协调解决的问题",
        "协调事项",
        "问题描述",
        "困难问题",
        "存在困难",
        "困难及问题",
        "问题及困难",
        "blocker",
        "issue",
        "problem",
    ),
    # who is to clear the blocker (a bureau, the power company, the tower company's branch)
    "responsible": (
        "协调责任单位",
        "责任单位",
        "责任部门",
        "牵头单位",
        "牵头部门",
        "协调单位",
        "责任主体",
        "责任人",
        "协调责任人",
        "responsible",
        "responsible_party",
        "responsible_unit",
    ),
    # the day a site is to go on air (a day, or a month or quarter: `parse.read_planned_dates`)
    "planned_on_air_date": (
        "计划开通时间",
        "计划开通日期",
        "预计开通时间",
        "预计开通日期",
        "计划完成时间",
        "计划完成日期",
        "预计完成时间",
        "要求开通时间",
        "planned_on_air_date",
        "expected_on_air_date",
    ),
    "planned_date": ("立项日期", "立项时间", "规划日期", "planned_date"),
    "site_selection_date": ("选址完成日期", "选址完成时间", "选址日期", "选址时间", "site_selection_date"),
    "site_access_date": ("进场日期", "进场时间", "获取日期", "获取时间", "site_access_date"),
    "construction_date": ("开工日期", "开工时间", "建设日期", "construction_date"),
    # (construction finished is the day the site reaches the stage after it: power hook-up)
    "power_hookup_date": (
        "电源接入日期",
        "引电日期",
        "引电时间",
        "电源接入时间",
        "完工日期",
        "完工时间",
        "土建完工时间",
        "power_hookup_date",
    ),
    # the city a row is of, in a province-wide file (地市: 太原, 阳泉 …)
    "city": ("地市", "所属地市", "地市名称", "城市", "所属城市", "城市名称", "本地网", "city", "city_name"),
    # the day a station was taken off air (a 退网 list's date)
    "off_air_date": (
        "退网日期",
        "退网时间",
        "拆除日期",
        "拆除时间",
        "退服日期",
        "退服时间",
        "下线日期",
        "关停日期",
        "off_air_date",
        "offair_date",
        "decommission_date",
        "decommissioned_date",
        "decommissioning_date",
        "date_decommissioned",
    ),
}
FIELDS = tuple(HEADER_SYNONYMS)

OPENCELLID_COLUMNS = (
    "radio",
    "mcc",
    "net",
    "area",
    "cell",
    "unit",
    "lon",
    "lat",
    "range",
    "samples",
    "changeable",
    "created",
    "updated",
    "averageSignal",
)

#: OpenCelliD column names as its API and other tools write them (any order) -> the export's names.
_OPENCELLID_ALIASES = {
    **{c.lower(): c for c in OPENCELLID_COLUMNS},
    "mnc": "net",
    "lac": "area",
    "tac": "area",
    "cellid": "cell",
    "ci": "cell",
    "nci": "cell",
    "averagesignalstrength": "averageSignal",
    "averagesignal": "averageSignal",
    "lng": "lon",
    "long": "lon",
}
_OPENCELLID_REQUIRED = {"radio", "mcc", "net", "cell", "lon", "lat"}

#: How many leading rows may hold titles, notes or blanks above the header.
HEADER_SEARCH_ROWS = 30


def _header_key(text: str) -> str:
    return _header_keys(text)[0]


_BRACKETED = r"[(\[（【](.*?)[)\]）】]"
#: Words that say a column holds the planned (design) value or the actual (measured, as-built) one,
#: in brackets, before or after the name: 经度(规划), 设计经度, 经度_实际, Longitude (Planned).
_PLANNED_WORDS = ("规划", "设计", "计划", "planned", "proposed", "designed", "design", "plan")
_ACTUAL_WORDS = ("实际", "实测", "竣工", "actual", "measured", "asbuilt")
_QUALIFIER_PREFIX = {word: "规划" for word in _PLANNED_WORDS} | {word: "实际" for word in _ACTUAL_WORDS}


def _squeeze(text: str) -> str:
    return re.sub(r"[\s_\-./:：*]+", "", text)


def _header_keys(text: str) -> list[str]:
    """The keys to look a header up by, best first: case, spaces and bracketed units and notes
    ignored, except that a planned or actual qualifier (in brackets, before or after the name) is
    written first as 规划 or 实际. A header qualified actual may also be read as the bare name
    (状态(实际) is the status); one qualified planned never is (开通日期(计划) is no on-air date)."""
    text = unicodedata.normalize("NFKC", str(text)).strip().lower()
    notes = [_squeeze(part) for part in re.findall(_BRACKETED, text)]
    base = _squeeze(re.sub(_BRACKETED, "", text))
    prefix = next((_QUALIFIER_PREFIX[w] for note in notes for w in _QUALIFIER_PREFIX if w in note), None)
    if prefix is None:
        for word in sorted(_QUALIFIER_PREFIX, key=len, reverse=True):
            if len(base) > len(word) and (base.startswith(word) or base.endswith(word)):
                prefix = _QUALIFIER_PREFIX[word]
                base = base[len(word) :] if base.startswith(word) else base[: -len(word)]
                break
    if prefix is None:
        return [base]
    return [prefix + base, base] if prefix == "实际" else [prefix + base]


_SYNONYM_INDEX = {_header_key(s): canon for canon, syns in HEADER_SYNONYMS.items() for s in syns}


def _qualified_below(top: list, below: list) -> list:
    """The cells of a second header row, each under a merged cell that says planned or actual (规划坐标
    over 经度 | 纬度, 实际坐标 over the next two) prefixed with it: 规划经度, 实际经度. A label's reach ends at
    the next label, or where a name under it comes again (规划坐标 over 经度 | 纬度, then 经度 | 纬度 with
    nothing above: the second pair is not planned; a merge across columns is not kept in the cells)."""
    out, qualifier, seen = list(below), None, set()
    for j, cell in enumerate(below):
        above = top[j] if j < len(top) else None
        if above is not None and str(above).strip():
            key = _header_keys(above)[0]
            qualifier, seen = (key[:2] if key[:2] in ("规划", "实际") else None), set()
        if qualifier and cell is not None and str(cell).strip():
            name = str(cell).strip()
            if name in seen:
                qualifier = None
                continue
            seen.add(name)
            out[j] = qualifier + name
    return out


#: Fields a planned qualifier does not change: a planned site's code, name, operator, district or band are
#: its code, name … (站址名称(规划) is the name; 经度(规划) is not the position, 开通日期(计划) no on-air date).
_SAME_WHEN_PLANNED = frozenset({"site_code", "name", "operator", "district", "band"})


def _canonical(cell) -> str | None:
    """The canonical field a header cell names, None when none."""
    keys = _header_keys(cell)
    found = next((_SYNONYM_INDEX[k] for k in keys if k in _SYNONYM_INDEX), None)
    if found is None and keys[0].startswith("规划"):
        bare = _SYNONYM_INDEX.get(keys[0][2:])
        found = bare if bare in _SAME_WHEN_PLANNED else None
    return found


#: Words of a coordinate header that name its coordinate system (高德经度, 经度(GCJ02), lon_gcj, GPS纬度,
#: 百度经度): taken out before the header is looked up; the system is read from them (`parse.crs_of_label`).
_CRS_IN_HEADER = re.compile(
    r"gcj[-_ ]?0?2|gcj|火星|高德|amap|gaode|腾讯|tencent|国测局|百度|baidu|bd[-_ ]?0?9|wgs[-_ ]?84|wgs|gps", re.I
)
#: Whose position a coordinate header may name before the axis (基站经度, 站点纬度, site longitude).
_POSITION_OWNERS = ("物理站址", "铁塔", "基站", "站点", "站址", "小区", "天线", "site", "station", "cell", "gnb", "bts")
#: The hemisphere a coordinate header may add after the axis (经度E, 纬度N).
_AXIS_WITH_HEMISPHERE = {"经度e": "经度", "纬度n": "纬度", "东经e": "东经", "北纬n": "北纬"}
#: X坐标 / Y坐标 are read as longitude / latitude only when the values under them are degrees (in a survey's
#: export they are metres of a projected system).
_XY_HEADERS = {"x坐标": "lon", "坐标x": "lon", "y坐标": "lat", "坐标y": "lat"}
#: Which of two positions a table gives is read: the one its header says is WGS-84, then one that names no
#: system (the run's --input-crs), then GCJ-02, then BD-09.
_CRS_RANK = {"wgs84": 0, None: 1, "gcj02": 2, "bd09": 3}
_CRS_NAMES = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}


def _coordinate_header(cell) -> tuple[str, str | None, bool] | None:
    """(lon or lat, the coordinate system the header names or None, whether the values must be seen to be
    degrees first) for a coordinate header in any of the forms senders write; None for any other header."""
    text = unicodedata.normalize("NFKC", str(cell)).strip().lower()
    key = _header_keys(_CRS_IN_HEADER.sub(" ", text))[0]
    owner = next((w for w in _POSITION_OWNERS if key.startswith(w) and len(key) > len(w)), "")
    key = _AXIS_WITH_HEMISPHERE.get(key[len(owner) :], key[len(owner) :])
    if key in _XY_HEADERS:
        return _XY_HEADERS[key], crs_of_label(text), True
    field_ = _SYNONYM_INDEX.get(key)
    return (field_, crs_of_label(text), False) if field_ in ("lon", "lat") else None


_DEGREES = re.compile(r"^(?P<num>-?\d{1,3}(?:\.\d+)?)(?:$|\s*[°度])")


def _holds_degrees(below: list[list] | None, j: int, axis: str) -> bool:
    """Whether most values of column j in the rows `below` a header are degrees of the axis."""
    values = [str(r[j]).strip() for r in below or () if j < len(r) and r[j] is not None and str(r[j]).strip()]
    limit = 180.0 if axis == "lon" else 90.0
    degrees = sum(bool(_DEGREES.match(v)) and abs(float(_DEGREES.match(v)["num"])) <= limit for v in values)
    return bool(values) and degrees * 2 > len(values)


def map_header(cells: list, below: list[list] | None = None) -> dict[int, str]:
    """Column index -> canonical field, for the cells of one candidate header row (the first of two
    columns naming one field is read; the other is listed as not read). Of two positions (经度(GCJ02) and
    经度(WGS84)) the one `_CRS_RANK` puts first; X坐标/Y坐标 only when the rows `below` hold degrees."""
    mapping: dict[int, str] = {}
    axes: dict[str, list[tuple[int, bool, int]]] = {}  # lon / lat -> (rank of its system, not a synonym, column)
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        canon = _canonical(cell)
        coordinate = _coordinate_header(cell) if canon in (None, "lon", "lat") else None
        if coordinate is None and canon in ("lon", "lat"):
            coordinate = (canon, None, False)
        if coordinate and (not coordinate[2] or _holds_degrees(below, i, coordinate[0])):
            # (of two in one system, a header that is a synonym itself before one read past its owner: 经度
            # before 小区经度)
            axes.setdefault(coordinate[0], []).append((_CRS_RANK[coordinate[1]], canon is None, i))
        elif canon and canon not in ("lon", "lat") and canon not in mapping.values():
            mapping[i] = canon
    for axis, found in axes.items():
        mapping[min(found)[2]] = axis
    return dict(sorted(mapping.items()))


def _is_header(mapping: dict[int, str]) -> bool:
    found = set(mapping.values())
    has_coords = {"lon", "lat"} <= found or "lonlat" in found
    return has_coords or len(found) >= 3


@dataclass
class RawTable:
    """The records of one sheet (or one CSV), as text under canonical column names.

    `frame` has one row per data row below the header, with `source_row` counting from 1;
    `kind` is "operator" or "opencellid".
    """

    path: Path
    frame: pd.DataFrame
    kind: str
    encoding: str | None
    sheet: str | None
    header_row: int  # 1-based line/row of the header in the file or sheet
    columns: dict[str, str] = field(default_factory=dict)  # original header -> canonical field
    title: str = ""  # text of the rows above the header: often names the operator
    trailing_blank_rows: int = 0  # empty rows after the last record: formatting, not records
    notes: list[str] = field(default_factory=list)  # what the reader did that a reader of the outputs should know
    columns_not_read: list[str] = field(default_factory=list)  # header texts of the columns left unread

    @property
    def context(self) -> str:
        """File name, sheet name and title rows: where a single-operator report says whose it is."""
        return " ".join(x for x in (self.path.stem, self.sheet or "", self.title) if x)

    @property
    def label(self) -> str:
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


def detect_format(head: bytes) -> str:
    """'xlsx' (or another zip), 'xls', 'gzip', 'utf16', 'text', 'empty' or 'binary' from a file's first
    bytes, never from its extension."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # (the second: a zip archive with nothing in it)
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if not head:
        return "empty"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(head):
        return "utf16"  # Excel's "Unicode text": UTF-16, tab-separated
    if b"\x00" in head[:4096]:
        return "binary"
    return "text"


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when BOM-less bytes with NULs read as UTF-16 text (printable
    characters, tabs and line ends only), else None."""
    sample = head[:4096]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
        if printable >= 0.98 * len(text) and ("\n" in text or "\t" in text or "," in text):
            return encoding
    return None


def _looks_like_utf16(head: bytes) -> bool:
    return _utf16_without_bom(head) is not None


def decode_text(data: bytes, path: Path) -> tuple[str, str]:
    """Decode a text file: UTF-8 (with or without BOM) when it is valid UTF-8, else GB18030.

    GB18030 is a superset of GBK and GB2312, so a GBK file decodes the same; a file that is
    neither is an error naming the first bad byte's line.
    """
    data = bytes(data)  # (a mapped file's: `_file_data`)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(data[:4096]):
        bom = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        encoding = "utf-16" if bom else _utf16_without_bom(data[:512])
        try:
            return data.decode(encoding).lstrip("\ufeff"), "utf-16"
        except UnicodeDecodeError as exc:
            _raise_decode(data, exc, path, "UTF-16 (it starts like UTF-16)")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            _raise_decode(data, exc, path, "UTF-8 (it starts with a UTF-8 BOM)")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        _raise_decode(data, exc, path, "UTF-8, GBK or GB18030")
    # GBK text is what Chinese Excel writes by default; call it GBK when it is.
    try:
        data.decode("gbk")
        return text, "gbk"
    except UnicodeDecodeError:
        return text, "gb18030"


#: Bytes decoded at a time when a file is only checked to be text of an encoding (see `decode_head`).
_DECODE_STEP = 16 << 20
#: Bytes of a file's start decoded for its header search (more only when its first lines are longer).
_HEAD_BYTES = 1 << 20


def decode_head(data: bytes, path: Path, utf8_checked_beside: bool = False) -> tuple[str, str]:
    """`decode_text`, without the whole text in memory when the file is UTF-8, GBK or GB18030: the whole
    file is checked in steps (the same encoding found, the same error for bytes of none), and of its text
    only a start that holds its first HEADER_SEARCH_ROWS lines whole is returned (a national file's text
    as one Python string is ~2 bytes a character, and only the header search reads it).
    `utf8_checked_beside`: the file taken for UTF-8 without the check of its whole, which the caller
    makes beside (`read_text_table`); its start is still decoded, and fails where it is not UTF-8."""
    if _starts_as_utf16(data):
        return decode_text(data, path)
    start = _utf8_bom_bytes(data)
    if utf8_checked_beside or start or _is_utf8(data):
        if start and not utf8_checked_beside and not _is_utf8(data, start):
            return decode_text(data, path)  # (its error, as it says it)
        encoding, codec = ("utf-8-sig" if start else "utf-8"), "utf-8"
    elif _is_text_of(data, "gb18030"):
        encoding, codec = ("gbk" if _is_text_of(data, "gbk") else "gb18030"), "gb18030"
    else:
        return decode_text(data, path)  # (its error, as it says it)
    whole = len(data) - start <= _HEAD_BYTES
    head = codecs.getincrementaldecoder(codec)().decode(memoryview(data)[start : start + _HEAD_BYTES], final=whole)
    if whole or len(head.splitlines()) > HEADER_SEARCH_ROWS:  # (the first lines whole, as `_head_lines` reads them)
        return head, encoding
    return decode_text(data, path)


def _starts_as_utf16(data: bytes) -> bool:
    """Whether a file is read as UTF-16 (a BOM of it, or its first bytes look like it)."""
    return data[:2] in (b"\xff\xfe", b"\xfe\xff") or _looks_like_utf16(data[:4096])  # (slices: a mapped file's too)


def _utf8_bom_bytes(data: bytes) -> int:
    """3 where a file starts with UTF-8's BOM, else 0."""
    return 3 if data[:3] == b"\xef\xbb\xbf" else 0


def _is_utf8(data: bytes, start: int = 0) -> bool:
    """True when `data[start:]` is UTF-8 as Python's codec reads it (the same bytes refused: surrogates,
    overlong forms, code points past U+10FFFF, cut sequences), checked by pyarrow's validator on the bytes
    as they are: Python's decoder takes ~0.2 s per 100 MB of a national file, and makes its text."""
    offsets = pa.py_buffer(np.array([0, len(data) - start], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data).slice(start)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _is_text_of(data: bytes, codec: str, start: int = 0) -> bool:
    """True when `data[start:]` decodes as `codec`, checked a step at a time (no whole text made)."""
    decoder = codecs.getincrementaldecoder(codec)()
    view = memoryview(data)
    try:
        for lo in range(start, len(data), _DECODE_STEP):
            decoder.decode(view[lo : lo + _DECODE_STEP], final=lo + _DECODE_STEP >= len(data))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _raise_decode(data: bytes, exc: UnicodeDecodeError, path: Path, tried: str):
    line = data[: exc.start].count(b"\n") + 1
    raise BadInputError(f"line {line}: bytes that are not {tried} text (mixed or unknown encoding)", path)


def _sniff_delimiter(lines: list[str]) -> str:
    sample = "\n".join(lines[:HEADER_SEARCH_ROWS])
    counts = {d: sample.count(d) for d in (",", "\t", ";", "|")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


@dataclass
class _Header:
    """Where the header is: rows first..last (the column names under up to three rows of group labels merged
    over them, as in 站址信息 over 坐标 over 经度 | 纬度, and a row of units); first is -1 for a header-less
    OpenCelliD export."""

    first: int
    last: int
    mapping: dict[int, str]
    kind: str
    names: dict[str, str]  # original header text -> canonical field
    unread: list[str] = field(default_factory=list)  # the header's other texts: columns not read
    cgi: bool = False  # the site code is the gNB (or eNB) id inside a CGI column
    crs: str | None = None  # the coordinate system the position's header names (经度(GCJ02), 高德经度)
    crs_note: str | None = None  # where it was read from, for the table's notes
    notes: list[str] = field(default_factory=list)  # what else reading the header did (a row of units read with it)


def _names(rows: list[list], header: range, mapping: dict[int, str]) -> dict[str, str]:
    names = {}
    for j, canon in sorted(mapping.items()):
        names[_header_text(rows, header, j) or f"column {j + 1}"] = canon
    return names


def _filled(cell) -> bool:
    return cell is not None and bool(str(cell).strip())


#: A header has at most this many rows of names: the columns' own and up to three rows of group labels merged
#: over them (站址信息 over 位置 over 坐标 over 经度 | 纬度). A row of units is read with them but is not one.
MAX_HEADER_ROWS = 4
#: Units as a row of units writes them, in brackets, after 单位: or bare ((度), （万元）, 单位：米, dBm), NFKC-folded
#: and lower-cased; a compound (元/度, 万元/年) is units on both sides of its slash.
_UNIT_WORDS = frozenset(
    "度 ° 分 秒 米 m 千米 公里 km 厘米 cm 毫米 mm 平方米 平米 平方公里 m2 km2 亩 元 万元 千元 亿元 万 个 座"
    " 台 套 站 处 户 人 家 条 根 块 面 副 扇区 小区 % 百分比 dbm db dbi mhz ghz hz mbps gbps w kw kva kwh 千瓦"
    " 千瓦时 瓦 v 伏 年 月 日 天 周 小时 h 分钟 min 次 项 yyyy-mm-dd yyyy/mm/dd yyyymmdd 年月日 年-月-日 是/否"
    " y/n".split()
)
_UNIT_CELL = re.compile(
    r"^(?:[(\[【]\s*(?P<bracketed>[^()\[\]【】]{1,12}?)\s*[)\]】]|(?:单位|units?)\s*:\s*(?P<said>.{1,12}))$"
)


def _unit_of(cell) -> tuple[str, bool] | None:
    """(the unit, whether it is marked as one: in brackets or after 单位:) when a cell of a units row holds one (a
    coordinate system, (WGS84), is one too), else None."""
    text = unicodedata.normalize("NFKC", str(cell)).strip().lower()
    m = _UNIT_CELL.match(text)
    word = (m["bracketed"] or m["said"]).strip() if m else text
    if word in _UNIT_WORDS or all(part.strip() in _UNIT_WORDS for part in word.split("/")):
        return word, m is not None
    return (word, m is not None) if crs_of_label(word) and len(word) <= 12 else None


def _is_units_row(cells: list) -> bool:
    """Whether a row holds the columns' units and nothing else: two units at least, or one marked as a unit
    ((万元), 单位：万元), so that a record of one word is never taken for one."""
    units = [_unit_of(c) for c in cells if _filled(c)]
    return bool(units) and all(units) and (len(units) >= 2 or units[0][1])


#: What a reporting template writes under its column names to say how to fill them in (必填 required, 选填 /
#: 可选 optional, 非必填, 必选, 可空 …), NFKC-folded and lower-cased: a row of them is no record.
_TEMPLATE_MARKS = frozenset(
    "必填 选填 非必填 可选 必选 可填 可不填 可空 不可空 非空 必须 必需 需填 选择填写 必填项 选填项 必填字段 选填字段"
    " 条件必填 有则必填 如有必填 required optional mandatory compulsory conditional".split()
)
#: A cell of such a row that says how to write the column (填写说明：…, 格式：YYYY-MM-DD, 例：84.87, 如：中国移动).
_TEMPLATE_HINT = re.compile(
    r"^(?:填写说明|填报说明|说明|格式|填写格式|注|例|如|示例|样例|format|e\.g\.|example)\s*[:：]"
)


def _template_mark(cell) -> bool:
    text = unicodedata.normalize("NFKC", str(cell)).strip().lower()
    marked = text.strip("*()[]【】 ")
    return marked in _TEMPLATE_MARKS or bool(_TEMPLATE_HINT.match(text))


def _is_template_row(cells: list) -> bool:
    """Whether a row holds a template's instructions and nothing else (必填 / 选填 under each column, or 格式：…,
    a unit among them): two such cells at least, so that a record of one word is never taken for one."""
    filled = [c for c in cells if _filled(c)]
    marks = [_template_mark(c) for c in filled]
    return len(filled) >= 2 and any(marks) and all(m or _unit_of(c) for m, c in zip(marks, filled))


def _merges_near(merged: list[tuple], top: int, bottom: int) -> list[tuple]:
    """The merged ranges (1-based rows) touching rows top..bottom (0-based)."""
    return [m for m in merged if m[0] - 1 <= bottom and m[1] - 1 >= top]


#: What a title's cells say and a group label's do not: a day or week (2021-10-15, 第41周), a key and its value
#: (填报单位：…), what the table is (跟踪表, 清单, 台账, 汇总) or who sends it (铁塔公司, 工信局).
_TITLE_WORDS = re.compile(r"[\d:：]|表|清单|台账|汇总|统计|名单|公司|局")


def _is_group_row(rows: list[list], u: int, block: list[int], merged: list[tuple]) -> bool:
    """Whether row u is a row of group labels over the header rows `block` (under it, names last): labels
    (站址信息, 建设进度) merged across the cells below beside cells merged down onto the rows below (序号, 需求方,
    备注), or labels each merged across that say nothing a title says (`_TITLE_WORDS`), or a row that a cell
    merged down from above passes through onto them. Where no merge touches these rows (a CSV, a sheet whose
    sender did not merge), told by an upper cell over cells blank down to the names that names a field. A title
    (one cell) or a line of notes above the header is neither."""
    upper, top = rows[u], rows[block[0]]
    filled = [j for j, cell in enumerate(upper) if _filled(cell)]
    near = _merges_near(merged, u, block[-1])
    if near:
        r = u + 1  # (the upper row's 1-based number)
        over_blank = [j for j in filled if j >= len(top) or not _filled(top[j])]
        down = len(filled) >= 2 and any(r0 == r and r1 > r and c0 - 1 in over_blank for r0, r1, c0, _c1 in near)
        # (a cell merged down a whole header: its rows of names and a row of units)
        through = any(r0 < r <= r1 <= r0 + MAX_HEADER_ROWS and r1 > r for r0, r1, _c0, _c1 in near)
        spans = {c0 - 1 for r0, _r1, c0, c1 in near if r0 == r and c1 > c0}
        plain = not any(_TITLE_WORDS.search(str(upper[j])) for j in filled)
        across = len(filled) >= 2 and set(filled) <= spans and plain
        return down or through or across
    over_blank = [j for j in filled if all(j >= len(rows[b]) or not _filled(rows[b][j]) for b in block)]
    return len(filled) >= 2 and any(_canonical(upper[j]) is not None for j in over_blank)


def _rows_above(rows: list[list], i: int, merged: list[tuple]) -> tuple[int, list[int]]:
    """The first row of the header whose column names are row i (group rows over it, MAX_HEADER_ROWS rows of
    names in all, and a row of units among them), and which rows hold units."""
    first, units = i, []
    while first > 0 and i + 1 - first - len(units) < MAX_HEADER_ROWS:
        k, block = first - 1, [b for b in range(first, i + 1) if b not in units]
        if not units and _is_units_row(rows[k]):  # (before a group row: a cell merged down passes through it)
            first = k
            units.append(k)
        elif _is_group_row(rows, k, block, merged):
            first = k
        elif (  # (without merges, a row of sub-group labels is told by the row over it: 需求方 over blanks)
            k > 0
            and i + 2 - first - len(units) < MAX_HEADER_ROWS
            and not _merges_near(merged, k - 1, i)
            and sum(map(_filled, rows[k])) >= 2
            and _is_group_row(rows, k - 1, [k, *block], merged)
        ):
            first = k - 1
        else:
            break
    return first, units


def _join_group_row(rows: list[list], i: int, u: int) -> list:
    """Row i as one header cell per column: the lower cell (qualified by a 规划 / 实际 group label above it in
    row u), else the upper one merged down onto it, which is then taken out of the upper row (said once)."""
    upper, lower = rows[u], list(rows[i])
    width = max(len(upper), len(lower))
    lower += [None] * (width - len(lower))
    joined = _qualified_below(upper, lower)
    rows[u] = list(upper) + [None] * (width - len(upper))
    for j in range(width):
        if not _filled(lower[j]) and _filled(rows[u][j]):
            joined[j], rows[u][j] = rows[u][j], None
    rows[i] = joined
    return joined


def _merged_onto(merged: list[tuple], first: int, last: int, r: int) -> bool:
    """Whether a cell of header rows first..last is merged down onto row r (all 0-based): r is a header row."""
    return any(first < r0 <= last + 1 and r1 > r for r0, r1, _c0, _c1 in merged)


def _holds_position(cells: list, mapping: dict[int, str]) -> bool:
    """Whether a row gives a value in degrees under a position column: a record, whatever merge reaches it."""
    return any(
        c in ("lon", "lat", "lonlat") and j < len(cells) and bool(_DEGREES.match(str(cells[j]).strip()))
        for j, c in mapping.items()
    )


def _rows_below(
    rows: list[list], first: int, i: int, levels: int, mapping: dict[int, str], merged: list[tuple]
) -> tuple[int, dict[int, str]]:
    """The last row of names of a header found at row i (first..i holding `levels` rows of names): the rows
    under it that name fields under its merged cells (坐标 over 经度 | 纬度) or that its cells are merged down
    onto; and the mapping with theirs."""
    last, cells = i, rows[i]
    while last + 1 < len(rows) and levels < MAX_HEADER_ROWS:
        lower = rows[last + 1]
        if _is_units_row(lower):  # (a cell merged down over it too: read with the header, not as a level)
            break
        below = map_header(_qualified_below(cells, lower))
        if len(below) < 2 and (not _merged_onto(merged, first, last, last + 1) or _holds_position(lower, mapping)):
            break
        last, levels, mapping = last + 1, levels + 1, {**mapping, **below}
        joined = _qualified_below(cells, list(lower) + [None] * (len(cells) - len(lower)))
        cells = [c if _filled(c) else (cells[j] if j < len(cells) else None) for j, c in enumerate(joined)]
    if last > i:
        if {"lon", "lat"} <= set(mapping.values()):
            mapping = {j: c for j, c in mapping.items() if c != "lonlat"}
        seen: set[str] = set()
        mapping = {j: c for j, c in sorted(mapping.items()) if not (c in seen or seen.add(c))}
    return last, mapping


def _read_units(rows: list[list], header: range, units: list[int]) -> tuple[list[str], dict[int, str]]:
    """The note of the rows of units read with the header, each unit beside its column's name, and the units
    by column. The rows are blanked first, so that a unit is no part of a column's name."""
    said = {u: [(j, str(cell).strip()) for j, cell in enumerate(rows[u]) if _filled(cell)] for u in units}
    for u in units:
        rows[u] = [None] * len(rows[u])
    notes = []
    for u, cells in said.items():
        named = [f"{_header_text(rows, header, j).split(' / ')[-1] or f'column {j + 1}'} {unit}" for j, unit in cells]
        notes.append(f"row {u + 1} holds the columns' units, read with the header: {', '.join(named)}")
    return notes, {j: unit for cells in said.values() for j, unit in cells}


def _operator_header(rows: list[list], i: int, merged: list[tuple]) -> _Header:
    """The header whose column names were found at row i: its group rows above, rows of names below, a row
    of units; the mapping of the names joined into one cell per column, its names and notes."""
    first, units = _rows_above(rows, i, merged)
    levels = [r for r in range(first, i + 1) if r not in units]
    for upper, lower in zip(levels, levels[1:]):
        _join_group_row(rows, lower, upper)
    mapping = map_header(rows[i], rows[i + 1 : i + 1 + HEADER_SEARCH_ROWS])
    last, mapping = _rows_below(rows, first, i, len(levels), mapping, merged)
    marks = []  # a template's 必填 / 选填 row, above or below a row of units
    while last + 1 < len(rows):
        if not units and _is_units_row(rows[last + 1]):
            units.append(last + 1)
        elif not marks and _is_template_row(rows[last + 1]):
            marks.append(last + 1)
        else:
            break
        last += 1
    for k in marks:  # (blanked, as the units are: no part of a column's name)
        rows[k] = [None] * len(rows[k])
    header = range(first, last + 1)
    notes, units_of = _read_units(rows, header, units)
    notes += [f"row {k + 1} holds the template's instructions (必填 / 选填), read with the header" for k in marks]
    cgi = _cell_global_id_column(rows, header, mapping)
    if cgi is not None:
        mapping = dict(sorted({**mapping, cgi: "site_code"}.items()))
    cell = _cell_label_column(rows, header, mapping)
    if cell is not None:
        mapping = dict(sorted({**mapping, cell: CELL_LABEL}.items()))
    names = _names(rows, header, mapping)
    crs, crs_note, unread = _position_system(rows, header, mapping, units_of)
    return _Header(first, last, mapping, "operator", names, unread, cgi is not None, crs, crs_note, notes)


def _find_header(rows: list[list], path: Path, sheet: str | None, merged: list[tuple] = ()) -> _Header:
    """The header among the first rows, its mapping to canonical fields, and the table kind (`merged`: the
    sheet's merged ranges, 1-based (first row, last row, first column, last column), where known)."""
    ocid = {j: c for j, c in enumerate(OPENCELLID_COLUMNS)}
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = [_header_key(c) if c is not None else "" for c in cells]
        if keys[: len(OPENCELLID_COLUMNS)] == [_header_key(c) for c in OPENCELLID_COLUMNS]:
            return _Header(i, i, ocid, "opencellid", {c: c for c in OPENCELLID_COLUMNS})
        api = _opencellid_by_name(keys)
        if api:  # OpenCelliD's API (lat,lon,mcc,mnc,lac,cellid,…) and other tools' column orders
            names = {str(cells[j]).strip(): c for j, c in api.items()}
            return _Header(i, i, api, "opencellid", names)
        if _is_header(map_header(cells, rows[i + 1 : i + 1 + HEADER_SEARCH_ROWS])):
            return _operator_header(rows, i, list(merged))
    # OpenCelliD's full export ships without a header: recognise its first data row instead.
    for i, cells in enumerate(rows[:3]):
        radio = str(cells[0]).strip().upper() if cells else ""
        if len(cells) == len(OPENCELLID_COLUMNS) and radio in {"GSM", "UMTS", "LTE", "NR", "CDMA"}:
            return _Header(i - 1, i - 1, ocid, "opencellid", {c: c for c in OPENCELLID_COLUMNS})
    where = f"sheet {sheet!r}: " if sheet else ""
    raise BadInputError(
        f"{where}no header row with recognisable columns in the first {HEADER_SEARCH_ROWS} rows "
        f"(need longitude and latitude, e.g. 经度/纬度 or lon/lat){_headers_not_recognised(rows)}",
        path,
    )


def _headers_not_recognised(rows: list[list]) -> str:
    """The texts of the likeliest header row (the first of the most filled cells) that name no field."""
    head = rows[:HEADER_SEARCH_ROWS]
    filled = [[str(c).strip() for c in r if c is not None and str(c).strip()] for r in head]
    if not filled or not max(map(len, filled)):
        return ""
    row = head[max(range(len(filled)), key=lambda k: (len(filled[k]), -k))]
    unknown = [str(c).strip() for c in row if c is not None and str(c).strip() and _canonical(c) is None]
    return f"; headers not recognised: {', '.join(unknown[:20])}" if unknown else ""


def _position_system(
    rows: list[list], header: range, mapping: dict[int, str], units: dict[int, str] | None = None
) -> tuple[str | None, str | None, list]:
    """The coordinate system the header of the position read names (None when it names none; its row of units,
    (GCJ02) under 经度, names one too), a note of it, and the header's texts of the columns not read, a second
    position's with why it was not read."""
    read = [j for j, c in sorted(mapping.items()) if c in ("lon", "lat")] or [
        j for j, c in mapping.items() if c == "lonlat"
    ]
    units = units or {}
    texts = [_header_text(rows, header, j) + (f" {units[j]}" if j in units else "") for j in read]
    systems = {crs_of_label(t) for t in texts} - {None}
    crs = next(iter(systems)) if len(systems) == 1 else None
    unread = _unread(rows, header, mapping)
    if not texts:
        return crs, None, unread
    said = "/".join(texts)
    note = None
    if len(systems) > 1:  # (经度(GCJ02) beside 纬度(WGS84): no conversion is right for both; said, not guessed)
        named = ", ".join(sorted(_CRS_NAMES[c] for c in systems))
        note = f"position read from {said}: its headers name two systems ({named}): not converted, check the source"
    if crs is not None:
        conversion = "" if crs == "wgs84" else ", converted to WGS-84"
        note = f"position read from {said}: {_CRS_NAMES[crs]} by its header{conversion}"
    system = _CRS_NAMES[crs] if crs else "no system named"
    why = {False: f"a second position; {said} ({system}) is read", True: "not degrees"}
    coordinate = [_coordinate_header(t.split(" / ")[-1]) for t in unread]
    unread = [f"{t} ({why[c[2]]})" if c else t for t, c in zip(unread, coordinate, strict=True)]
    return crs, note, unread


def _without_text_marker(frame: pd.DataFrame, fields: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The cells of `fields` that begin with Excel's text marker (an apostrophe: '14032000004 is the code
    14032000004 kept as text) without it, as Excel shows them; and a note of how many. A column none of
    whose cells begins with one is left as it is (one Arrow test per column of a national file)."""
    marked: dict[str, int] = {}
    for column in fields:
        if column not in frame.columns:
            continue
        text = frame[column]
        as_arrow = text if isinstance(text.dtype, pd.StringDtype) else text.astype("string")
        starts = pc.starts_with(arrow_text(as_arrow), "'") if len(text) else None
        count = int(pc.sum(starts).as_py() or 0) if starts is not None else 0
        if count:
            at = pc.fill_null(starts, False).to_numpy(zero_copy_only=False)
            values = text.astype(object).copy()
            values[at] = text[at].astype(str).str[1:].replace("", None).to_numpy(dtype=object)
            frame[column] = values.astype(text.dtype)
            marked[column] = count
    if not marked:
        return frame, []
    said = ", ".join(f"{n} in {column}" for column, n in marked.items())
    return frame, [f"cells beginning with Excel's text marker ' read without it ({said})"]


def _with_header_crs(frame: pd.DataFrame, header: _Header) -> tuple[pd.DataFrame, list[str]]:
    """The table with the coordinate system its position's header names as every row's crs (a 坐标系 column's
    own value kept where a row gives one), and the note saying so; as it is when the header names none."""
    if header.crs is None:  # (a note all the same when its headers name two systems)
        return frame, [header.crs_note] if header.crs_note else []
    label = pd.Series(_CRS_NAMES[header.crs], index=frame.index, dtype=object)
    crs = frame["crs"].astype(object).where(frame["crs"].notna(), label) if "crs" in frame.columns else label
    return frame.assign(crs=crs.astype("str")), [header.crs_note]


#: Headers of a cell's global identity (MCC-MNC-gNB/eNB-cell): a cell-level export without a site
#: code carries its station's id there.
_CELL_GLOBAL_ID_KEYS = {"cgi", "ecgi", "ncgi", "nrcgi", "小区cgi", "cellglobalid", "cellglobalidentity", "全球小区标识"}


def _header_text(rows: list[list], header: range, j: int) -> str:
    return " / ".join(str(rows[i][j]).strip() for i in header if j < len(rows[i]) and _filled(rows[i][j]))


def _cell_global_id_column(rows: list[list], header: range, mapping: dict[int, str]) -> int | None:
    """The CGI column to read the site code from, where the header names no site code."""
    if "site_code" in mapping.values():
        return None
    width = max(len(rows[i]) for i in header)
    for j in range(width):
        if j not in mapping and any(
            _header_key(t) in _CELL_GLOBAL_ID_KEYS for t in _header_text(rows, header, j).split(" / ")
        ):
            return j
    return None


#: Where the rows are cells, the column that tells the cells of one station apart (their names first,
#: then ids, then sectors and azimuths): rows alike but for it are cells of one station, not a repeat.
CELL_LABEL = "cell_label"
_CELL_LABEL_KEYS = (
    "小区名称",
    "小区名",
    "cellname",
    "nrcellname",
    "小区",
    "cell",
    "nrcell",
    "小区id",
    "小区标识",
    "小区编号",
    "cellid",
    "nrcellid",
    "localcellid",
    "本地小区标识",
    *sorted(_CELL_GLOBAL_ID_KEYS),
    "pci",
    "扇区",
    "扇区号",
    "sector",
    "sectorid",
    "方位角",
    "azimuth",
)


def _cell_label_column(rows: list[list], header: range, mapping: dict[int, str]) -> int | None:
    """The column of a cell-level export that names each row's cell (None in a station-level file)."""
    width = max(len(rows[i]) for i in header)
    keys = {j: _header_key(_header_text(rows, header, j).split(" / ")[-1]) for j in range(width) if j not in mapping}
    found = [(_CELL_LABEL_KEYS.index(k), j) for j, k in keys.items() if k in _CELL_LABEL_KEYS]
    return min(found)[1] if found else None


def _unread(rows: list[list], header: range, mapping: dict[int, str]) -> list[str]:
    """The header's texts of the columns not read (so a reader of the summary sees what was left)."""
    width = max(len(rows[i]) for i in header)
    texts = (_header_text(rows, header, j) for j in range(width) if j not in mapping)
    return [t for t in texts if t]


#: CGI as exports write it: MCC-MNC-gNB-cell (460-00-700101-1), or MCC-MNC-NCI / ECI (one number).
_CGI_FOUR_PARTS = r"^\s*\d{3}\s*[-_.:]\s*\d{1,3}\s*[-_.:]\s*(?P<node>\d+)\s*[-_.:]\s*\d+\s*$"
_CGI_THREE_PARTS = r"^\s*\d{3}\s*[-_.:]\s*\d{1,3}\s*[-_.:]\s*(?P<cell>\d+)\s*$"
#: An LTE cell identity (ECI) is 28 bits, the eNB id its first 20; an NR one (NCI) is 36 bits, the gNB
#: id its first 22 … 32 bits, 24 most often (as OpenCelliD NR cells are grouped by default).
_ECI_BITS, _NCI_BITS, _GNB_ID_BITS = 28, 36, 24


def _site_codes_from_cgi(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The site_code column (read from a CGI column) as the gNB / eNB id the CGI carries; a CGI of
    another shape leaves no code (the row is then told apart by its name)."""
    cgi = frame["site_code"].astype("string")
    node = cgi.str.extract(_CGI_FOUR_PARTS)["node"]
    # (a cell identity of 36 bits at most: exact as a double)
    identity = pd.to_numeric(cgi.str.extract(_CGI_THREE_PARTS)["cell"], errors="coerce").astype("float64")
    known = identity.notna().to_numpy() & (identity < 2.0**_NCI_BITS).to_numpy()
    number = np.where(known, identity.fillna(0).to_numpy(), 0).astype("int64")
    shift = np.where(number >= 1 << _ECI_BITS, _NCI_BITS - _GNB_ID_BITS, _ECI_BITS - 20)
    from_identity = pd.Series((number >> shift).astype(str), index=frame.index).where(known)
    node = node.astype(object).where(node.notna(), from_identity)
    node = node.astype("string").str.lstrip("0").replace("", "0")
    frame = frame.assign(site_code=node.astype("str"))
    note = (
        "site code: the gNB (or eNB) id inside each cell's CGI (MCC-MNC-gNB-cell; a CGI of one cell number "
        f"split as {_GNB_ID_BITS}-bit gNB ids, 20-bit eNB ids)"
    )
    return frame, note


def _opencellid_by_name(keys: list[str]) -> dict[int, str]:
    """Column index -> OpenCelliD column for a header naming at least radio, mcc, mnc, cell, lon, lat."""
    mapping: dict[int, str] = {}
    for j, key in enumerate(keys):
        canon = _OPENCELLID_ALIASES.get(key)
        if canon and canon not in mapping.values():
            mapping[j] = canon
    return mapping if _OPENCELLID_REQUIRED <= set(mapping.values()) else {}


def _title_text(rows: list[list], header_idx: int) -> str:
    return " ".join(str(c).strip() for r in rows[: max(header_idx, 0)] for c in r if c is not None and str(c).strip())


def _frame_from_rows(rows: list[list], header_idx: int, mapping: dict[int, str]) -> tuple[pd.DataFrame, int]:
    body = rows[header_idx + 1 :]
    # Trailing empty rows are formatting, not records (counted in the summary); empty rows
    # between records are kept (and quarantined by `clean` as blank) so row numbers stay true.
    trailing = 0
    while body and all(c is None or str(c).strip() == "" for c in body[-1]):
        body.pop()
        trailing += 1
    columns = {canon: [(_cell_text(r[j]) if j < len(r) else None) for r in body] for j, canon in mapping.items()}
    frame = pd.DataFrame(columns, dtype=object)
    if frame.empty and not columns:
        frame = pd.DataFrame(index=range(len(body)))
    frame["source_row"] = range(1, len(body) + 1)
    return frame, trailing


def _cell_text(value) -> str | None:
    """One cell as text: Excel dates become ISO dates, whole floats lose their '.0'."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    text = str(value)
    return text if text.strip() else None


def _head_lines(text: str, n: int) -> list[str]:
    """The first `n` lines, without splitting a national file of millions of lines."""
    size = 1 << 16
    while True:
        lines = text[:size].splitlines()
        if len(lines) > n or size >= len(text):  # line n + 1 has begun: the first n are whole
            return lines[:n]
        size *= 4


#: A quoted cell may span this many lines (a note typed with Alt+Enter); a quote left open longer is a typo.
MAX_LINES_PER_CELL = 20
#: Text that says what a file is when it is not a table of records (checked on the decoded start).
_MARKUP = (
    (
        re.compile(
            r"^\s*<\?xml[^>]*>\s*(<\?mso[^>]*>\s*)?<workbook[^>]*urn:schemas-microsoft-com:office:spreadsheet",
            re.I | re.S,
        ),
        "an Excel 2003 XML spreadsheet (SpreadsheetML), not an .xls/.xlsx workbook: open it in Excel and save it "
        "as .xlsx or CSV",
    ),
    (
        re.compile(r"^\s*(<!doctype\s+html|<html|<table|<meta|<head)", re.I),
        "an HTML page (a web system's 'Excel' export), not a workbook: open it in Excel and save it as .xlsx or CSV",
    ),
)
#: Extensions of files that hold prose, not records: skipped with a note when no header is found.
PROSE_SUFFIXES = {".txt", ".md", ".text"}


class NotATableError(BadInputError):
    """The file holds no table of records (a README, a note): skipped with a note, not a failure."""


def read_text_table(path: Path, data: bytes) -> list[RawTable]:
    """The table of a text file. A file that may be UTF-8 (not UTF-16) is read as UTF-8 while a thread checks
    that the whole of it is (pyarrow's validator and reader release the GIL: the check, ~0.2 s of a national
    file, was the main thread's alone before the reader, which parses a one-block file on one core); where it
    is not, what was read is set aside, whatever it was or raised, and the file read as before (found GBK or
    GB18030, or failing with the same one line)."""
    if _starts_as_utf16(data):
        return _read_text_table(path, data)
    with ThreadPoolExecutor(1) as pool:
        whole_utf8 = pool.submit(_is_utf8, data, _utf8_bom_bytes(data))
        try:
            tables = _read_text_table(path, data, utf8_checked_beside=True)
        except Exception:
            if whole_utf8.result():
                raise
        else:
            if whole_utf8.result():
                return tables
    return _read_text_table(path, data)


def _read_text_table(path: Path, data: bytes, utf8_checked_beside: bool = False) -> list[RawTable]:
    """`read_text_table`; `utf8_checked_beside`: see `decode_head`."""
    text, encoding = decode_head(data, path, utf8_checked_beside)
    for pattern, what in _MARKUP:
        if pattern.match(text[:4096]):
            raise BadInputError(what, path)
    lines = _head_lines(text, HEADER_SEARCH_ROWS)
    try:
        header, delimiter, width, title = find_text_header(lines, path)
    except BadInputError as exc:
        if path.suffix.lower() in PROSE_SUFFIXES:
            raise NotATableError(f"no table in it ({exc.problem}): skipped", path) from None
        raise
    if encoding == "utf-16":  # the parser reads bytes: give it UTF-8 ones
        data, parse_encoding = text.encode("utf-8"), "utf-8"
    else:
        parse_encoding = encoding
    del text  # the fast parser reads the bytes: one copy of a national file less
    frame = _read_body_fast(path, data, parse_encoding, delimiter, header, width)
    # (pyarrow's frame has its columns as they are kept already: empty cells missing, one chunk each)
    as_kept = frame is not None and frame.attrs.pop(_AS_KEPT, False)
    if frame is None:  # a quote spans lines, or a line is ragged: read line by line, nothing swallowed
        frame = _read_body_by_line(decode_text(data, path)[0], delimiter, header, width)
    frame.columns = [*(header.mapping[j] for j in sorted(header.mapping)), *frame.columns[len(header.mapping) :]]
    fields = [header.mapping[j] for j in sorted(header.mapping)]
    frame, trailing = _drop_trailing_blank(frame, fields)
    # the values stay Arrow strings (a few bytes each, no Python object per cell): a national file
    # as Python strings costs ~1 KB per row
    for c in fields if not as_kept else ():  # one column at a time: only one is ever held twice
        frame[c] = _as_one_chunk(frame[c].replace("", None).astype("str"))
    if "source_row" not in frame.columns:
        frame["source_row"] = range(1, len(frame) + 1)
    frame, crs_notes = _with_header_crs(frame, header)
    notes = header.notes + crs_notes
    # (no apostrophe in the bytes, no cell begins with one: one scan of the file, not one per column; in GBK and
    # GB18030 no byte of another character is one)
    marked = fields if header.kind == "operator" and data.find(b"'") != -1 else []
    frame, marker_notes = _without_text_marker(frame, marked)
    notes += marker_notes
    if header.cgi:
        frame, note = _site_codes_from_cgi(frame)
        frame["site_code"] = _as_one_chunk(frame["site_code"])
        notes.append(note)
    if "read_note" in frame.columns and (frame["read_note"].notna() | frame["read_problem"].notna()).any():
        notes.append(
            f"quotes left open or misplaced: {int(frame['read_note'].notna().sum())} lines read on their "
            f"own, {int(frame['read_problem'].notna().sum())} quarantined as unreadable_line"
        )
    return [
        RawTable(
            path,
            frame,
            header.kind,
            encoding,
            None,
            header.first + 1,
            header.names,
            title,
            trailing,
            notes,
            header.unread,
        )
    ]


def find_text_header(lines: list[str], path: Path) -> tuple[_Header, str, int, str]:
    """The header of a text table as `read_text_table` finds it among its first lines (HEADER_SEARCH_ROWS,
    whole): the header (rows, columns, kind), the delimiter, the width of the records (the most fields of
    these lines) and the text of the title rows above the header. Also for a reader of a file in blocks
    (`analysis.clean.partitioned`). No header found: a BadInputError naming the file."""
    delimiter = _sniff_delimiter(lines)
    head_rows = list(csv.reader(lines, delimiter=delimiter))
    header = _find_header(head_rows, path, None)
    width = max(len(r) for r in head_rows) if head_rows else len(header.mapping)
    return header, delimiter, width, _title_text(head_rows, header.first)


def _as_one_chunk(text: pd.Series) -> pd.Series:
    """Arrow strings in one chunk (a reader leaves one per block read; taking rows across dozens of
    chunks is several times slower, and a later merge of them would copy the column)."""
    array = pa.chunked_array(pa.array(text.array))
    if array.num_chunks <= 1:
        return text
    as_str = {pa.large_string(): text.dtype}.get
    return pd.Series(array.combine_chunks().to_pandas(types_mapper=as_str).array, index=text.index, name=text.name)


def _drop_trailing_blank(frame: pd.DataFrame, fields: list[str]) -> tuple[pd.DataFrame, int]:
    """Empty lines after the last record are formatting, not records: dropped and counted. A line the
    reader could not use is not empty, whatever its cells hold."""
    has_problems = "read_problem" in frame.columns
    end = len(frame)  # looked at from the end, row by row: a national file is not scanned twice
    while end:
        row = frame.iloc[end - 1]
        if not all(v is None or v != v or not str(v).strip() for v in row[fields]):
            break
        if has_problems and row["read_problem"] is not None:
            break
        end -= 1
    return frame.iloc[:end], len(frame) - end


#: Bytes pyarrow's CSV reader parses at a time, at most: a file of up to 2 GB is one block, so each
#: column comes out as one chunk, kept as it is (a column of 16 MB blocks, combined into one chunk, was a
#: copy of a national file's text: ~0.6 GB of fresh pages at 4.25 M rows; the one block peaks lower).
ARROW_BLOCK_BYTES = 2**31 - 1


def _read_body_arrow(data: bytes, encoding: str, delimiter: str, header: _Header, width: int) -> pd.DataFrame | None:
    """The records below the header read by pyarrow in blocks, straight into Arrow strings; only for a
    body whose records are its lines one to one and whose every line has the header's width (then each
    line splits one way only, as pandas' C parser splits it). Quoted cells ("113,417", exports that quote
    every cell) too, when every line quotes as RFC 4180 does with each quoted cell closed on its line
    (`_quotes_close_on_their_line`) and no value read holds a line break; random quoted bodies (hypothesis)
    read so give the C parser's values. None otherwise:
    the C parser, or the reader line by line, reads it. `encoding` UTF-8 says the whole of `data` is UTF-8
    (`decode_head` checked it: a UTF-16 file's text comes here encoded as UTF-8)."""
    start = 0
    for _ in range(header.last + 1):
        start = data.find(b"\n", start) + 1
        if not start:
            return None
    if start >= len(data) or len(delimiter) != 1 or data.find(b"\x00", start) != -1:
        return None
    quoted = data.find(b'"', start) != -1
    if quoted and not _quotes_close_on_their_line(data, start, encoding, delimiter):
        return None
    names = [str(j) for j in range(width)]
    wanted = [str(j) for j in sorted(header.mapping)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(start)),
            read_options=pacsv.ReadOptions(
                column_names=names,
                block_size=min(len(data) - start + 1, ARROW_BLOCK_BYTES),
                encoding="utf8" if encoding.startswith("utf-8") else encoding,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"' if quoted else False,
                double_quote=True,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            # every value as the text it is: NA, NULL and 007 stay as written; an empty cell is missing (as
            # `read_text_table` makes it), said so by the reader instead of a pass and a copy per column
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in names},
                include_columns=wanted,
                null_values=[""],
                strings_can_be_null=True,
                # (UTF-8 is what `read_text_table` checks the whole file to be, beside this read, reading it
                # again where it is not: not checked again per column, ~0.15 s of a national file)
                check_utf8=not encoding.startswith("utf-8"),
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError):  # a ragged or blank line, an odd byte
        return None
    # (pyarrow ends a row at a CR as well as at an LF: where the body has a CR, its rows are counted against the
    # lines; where it has none, a row is a line, and the count, ~0.15 s of a national file, is not made)
    if data.find(b"\r", start) != -1 and table.num_rows != _body_lines(data, header):
        return None
    if quoted and any(pc.any(pc.match_substring_regex(table.column(n), "[\r\n]")).as_py() for n in wanted):
        return None  # (a quote the C parser reads otherwise swallowed a line end)
    columns = {}
    for name in wanted:  # each column made one chunk (see `_as_one_chunk`), one at a time: one held twice
        column = table.column(name)  # (one chunk as it is: `combine_chunks` copies even one)
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        columns[int(name)] = pd.Series(column.to_pandas(types_mapper=AS_STR).array)
        table = table.drop_columns([name])
    frame = pd.DataFrame(columns, copy=False)
    frame.attrs[_AS_KEPT] = True
    return frame


def _quotes_close_on_their_line(data: bytes, start: int, encoding: str, delimiter: str) -> bool:
    """Whether every line from `start` on quotes its cells as RFC 4180 does, each quoted cell closed on its
    line: an even number of quote characters per line, the line's quotes at even places opening a cell (after a
    delimiter or the line's start) or doubling the quote before them, those at odd places closing a cell
    (before a delimiter or the line's end) or doubled by the quote after them. A quote inside an unquoted cell
    (1",), which the C parser reads otherwise, fails it. Counted on the bytes: in UTF-8, GBK and GB18030 no
    byte of another character is a quote, a delimiter or a line end (UTF-16 is read as UTF-8 here)."""
    if not encoding.lower().replace("_", "-").startswith(("utf-8", "gbk", "gb18030", "gb2312", "ascii")):
        return False
    # a block of lines at a time: a national export quoting every cell has ~10^7 quotes, whose positions,
    # places and neighbours as whole-file arrays held ~0.7 GB
    at = start
    while at < len(data):
        end = data.find(b"\n", min(at + QUOTE_CHECK_BYTES, len(data) - 1))
        end = len(data) if end == -1 else end + 1
        if not _lines_quote_as_rfc4180(np.frombuffer(data, dtype=np.uint8, count=end - at, offset=at), delimiter):
            return False
        at = end
    return True


#: Bytes of a body whose quotes `_quotes_close_on_their_line` checks at a time (whole lines).
QUOTE_CHECK_BYTES = 8 << 20


def _lines_quote_as_rfc4180(body: np.ndarray, delimiter: str) -> bool:
    """`_quotes_close_on_their_line` of whole lines (`body`, their bytes)."""
    quotes = np.flatnonzero(body == ord('"'))
    if not len(quotes):
        return True
    line_of = np.searchsorted(np.flatnonzero(body == ord("\n")), quotes)
    counts = np.bincount(line_of)
    if (counts % 2).any():
        return False
    place = np.arange(len(quotes)) - (np.cumsum(counts) - counts)[line_of]  # (0, 1, … within its line)
    newline = ord("\n")
    before = np.where(quotes > 0, body[np.maximum(quotes - 1, 0)], newline)
    after = np.where(quotes < len(body) - 1, body[np.minimum(quotes + 1, len(body) - 1)], newline)
    edge = np.array([ord(delimiter), newline, ord("\r")], dtype=np.uint8)
    quote = ord('"')
    even = place % 2 == 0
    opening = np.isin(before, edge) | (before == quote)
    closing = np.isin(after, edge) | (after == quote)
    return bool(np.all(np.where(even, opening, closing)))


#: A frame's attribute set by `_read_body_arrow`: its text columns are as `read_text_table` keeps them.
_AS_KEPT = "text_as_kept"


def _read_body_fast(
    path: Path, data: bytes, encoding: str, delimiter: str, header: _Header, width: int
) -> pd.DataFrame | None:
    """The records below the header with pyarrow (`_read_body_arrow`) or pandas' C parser; None when
    its records are not the file's physical lines one to one (a quoted cell spans lines, maybe a quote
    never closed) or a line is ragged."""
    if header.mapping:
        frame = _read_body_arrow(data, encoding, delimiter, header, width)
        if frame is not None:
            return frame
    try:
        # Everything as text; the C parser keeps blank lines so row numbers match the file.
        frame = pd.read_csv(
            io.BytesIO(data),
            encoding=encoding,
            sep=delimiter,
            header=None,
            skiprows=header.last + 1,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            usecols=sorted(header.mapping),
            # as wide as the widest of the first rows: otherwise pandas takes the width of the first
            # record, and a blank or note line right under the header loses every column
            names=range(width),
            quoting=csv.QUOTE_MINIMAL,
        )
    except pd.errors.EmptyDataError:
        raise BadInputError(f"a header (row {header.first + 1}) but no records below it", path) from None
    except (pd.errors.ParserError, ValueError):
        return None
    return frame if len(frame) == _body_lines(data, header) else None


def _body_lines(data: bytes | mmap.mmap, header: _Header) -> int:
    """How many lines (ended by LF, the last one maybe not) the file has below its header (a mapped file's
    counted a step at a time: a map has no count of its own)."""
    steps = range(0, len(data), _DECODE_STEP)
    lines = (
        data.count(b"\n") if isinstance(data, bytes) else sum(data[at : at + _DECODE_STEP].count(b"\n") for at in steps)
    )
    return lines + (0 if data[-1:] == b"\n" else 1) - (header.last + 1)


def _read_body_by_line(text: str, delimiter: str, header: _Header, width: int) -> pd.DataFrame:
    """Every physical line below the header accounted for: a record, a line of a quoted cell that spans
    lines, or a line read on its own with the problem said (`read_note` kept, `read_problem` quarantined),
    so the rows after an unclosed quote keep their own values and `source_row`."""
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    body = lines[header.last + 1 :]
    records, rows, notes, problems = [], [], [], []
    i = 0
    while i < len(body):
        fields, used, note, problem = _parse_record(body, i, delimiter, width)
        records.append(fields)
        rows.append(len(records))  # records, as a spreadsheet shows them: a line read alone is one
        notes.append(note)
        problems.append(problem)
        i += used
    cols = sorted(header.mapping)
    frame = pd.DataFrame({j: [(r[j] if j < len(r) else "") for r in records] for j in cols}, dtype=object)
    if frame.empty and not cols:
        frame = pd.DataFrame(index=range(len(records)))
    frame["source_row"] = rows
    frame["read_note"] = notes
    frame["read_problem"] = problems
    return frame


def _parse_record(body: list[str], i: int, delimiter: str, width: int) -> tuple[list[str], int, str | None, str | None]:
    """The record starting at line i: its fields, how many lines it takes, a note and a problem."""
    line = body[i]
    try:
        fields = next(csv.reader([line], delimiter=delimiter, strict=True), [])
        problem = f"{len(fields)} fields where the header has {width}" if len(fields) > width else None
        return fields, 1, None, problem
    except csv.Error as exc:
        unclosed = "unexpected end of data" in str(exc)
    if unclosed:
        # a cell spanning lines closes its quote and then has the header's width; a line between that
        # reads alone as a whole record means the quote was never meant to span it
        for j in range(i + 1, min(i + MAX_LINES_PER_CELL, len(body))):
            try:
                fields = next(csv.reader([x + "\n" for x in body[i : j + 1]], delimiter=delimiter, strict=True))
            except csv.Error:
                if _looks_like_record(body[j], delimiter, width):
                    break
                continue
            if len(fields) == width:
                return fields, j - i + 1, None, None
            break
        fields = [f.strip('"') for f in next(csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE), [])]
        what = "an unclosed quote"
    else:
        fields = next(csv.reader([line], delimiter=delimiter), [])
        what = "misplaced quotes"
    if len(fields) != width:
        return fields, 1, None, f"{what}: {len(fields)} fields where the header has {width}"
    return fields, 1, f"{what} in the source line: read on its own", None


def read_record_at(
    body: list[str], i: int, delimiter: str, width: int
) -> tuple[list[str], int, str | None, str | None]:
    """The record starting at line i of `body` as `_read_body_by_line` reads it: its fields, how many lines it
    takes, a note and a problem. It reads at most MAX_LINES_PER_CELL lines from i: a reader of a file in blocks
    (`analysis.clean.partitioned`) reads each record as the reader of the whole file does."""
    return _parse_record(body, i, delimiter, width)


def _looks_like_record(line: str, delimiter: str, width: int) -> bool:
    """A line that reads alone as a whole record: not the rest of a cell that spans lines."""
    try:
        return width >= 2 and len(next(csv.reader([line], delimiter=delimiter, strict=True), [])) == width
    except csv.Error:
        return False


#: Workbooks up to this size are opened whole by openpyxl (merged cells and hidden sheets are only seen so);
#: larger ones are streamed. openpyxl reads a workbook only when calamine cannot (`read_xlsx`).
XLSX_FULL_LOAD_BYTES = 30 * 1024 * 1024


def read_xlsx(path: Path, data: bytes) -> list[RawTable]:
    """Every visible sheet that holds records; sheets of notes or pivot tables are skipped, hidden
    sheets skipped with a note, and cells merged down the data read in every row they cover.

    Read with calamine (Rust), as an .xls is: ~9× faster than openpyxl on a national workbook (700,000 rows,
    33 MB: 12.7 s against 113 s streamed), and its merged cells and hidden sheets known at any size (openpyxl
    sees them only when it loads a workbook whole, which a national one cannot be). The same tables as
    openpyxl's on every workbook of the tests and the bundled data. A workbook calamine cannot read goes to
    openpyxl, whose complaint names the problem."""
    from python_calamine import CalamineError

    try:
        sheets = _calamine_sheets(data)
    except (CalamineError, ValueError, OSError, KeyError):
        return _read_xlsx_with_openpyxl(path, data)
    return _tables_of_sheets(path, sheets)


def _read_xlsx_with_openpyxl(path: Path, data: bytes) -> list[RawTable]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # from the bytes: openpyxl would otherwise refuse a workbook by its file extension
        book = load_workbook(io.BytesIO(data), read_only=len(data) > XLSX_FULL_LOAD_BYTES, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        raise BadInputError(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})", path) from None
    sheets = []
    try:
        for sheet in book.worksheets:
            merged = [(r.min_row, r.max_row, r.min_col, r.max_col) for r in getattr(sheet, "merged_cells", ())]
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            sheets.append((sheet.title, getattr(sheet, "sheet_state", "visible") != "visible", rows, merged))
    finally:
        book.close()
    return _tables_of_sheets(path, sheets)


def _calamine_sheets(data: bytes) -> list[tuple[str, bool, list[list], list[tuple]]]:
    """A workbook's (name, hidden, rows, merged ranges 1-based (first row, last row, first column, last
    column)) sheets, read by calamine (an XLSX or an .xls alike)."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheets = []
    for meta in book.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:  # a chart or dialog sheet holds no records (openpyxl omits them)
            continue
        sheet = book.get_sheet_by_name(meta.name)
        rows = [[None if c == "" else c for c in r] for r in sheet.to_python(skip_empty_area=False)]
        merged = [(r0 + 1, r1 + 1, c0 + 1, c1 + 1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or [])]
        sheets.append((meta.name, meta.visible != SheetVisibleEnum.Visible, rows, merged))
    return sheets


def read_xls(path: Path, data: bytes) -> list[RawTable]:
    """An old binary Excel workbook (BIFF .xls), read with calamine like an XLSX."""
    from python_calamine import CalamineError

    try:
        sheets = _calamine_sheets(data)
    except (CalamineError, ValueError, OSError) as exc:
        raise BadInputError(f"not a readable .xls workbook ({type(exc).__name__}: {exc})", path) from None
    return _tables_of_sheets(path, sheets)


def _tables_of_sheets(path: Path, sheets: list[tuple[str, bool, list[list], list[tuple]]]) -> list[RawTable]:
    """The record tables of a workbook's (name, hidden, rows, merged ranges) sheets."""
    tables: list[RawTable] = []
    problems: list[str] = []
    notes: list[str] = []
    for title, hidden, rows, merged in sheets:
        if not any(any(c is not None and str(c).strip() for c in r) for r in rows):
            continue
        if hidden:
            notes.append(f"sheet {title!r} is hidden: skipped")
            continue
        try:
            header = _find_header(rows, path, title, merged)
        except BadInputError as exc:
            problems.append(exc.problem)
            continue
        filled = _fill_merged_down(rows, merged, header.last)
        frame, trailing = _frame_from_rows(rows, header.last, header.mapping)
        if frame.empty:
            problems.append(f"sheet {title!r}: a header but no records below it")
            continue
        sheet_notes = [f"sheet {title!r}: {filled} cells merged over several rows read in each row"] if filled else []
        frame, crs_notes = _with_header_crs(frame, header)
        fields = list(header.mapping.values()) if header.kind == "operator" else []
        frame, marker_notes = _without_text_marker(frame, fields)
        sheet_notes += [f"sheet {title!r}: {note}" for note in header.notes + crs_notes + marker_notes]
        if header.cgi:
            frame, note = _site_codes_from_cgi(frame)
            sheet_notes.append(f"sheet {title!r}: {note}")
        tables.append(
            RawTable(
                path,
                frame,
                header.kind,
                None,
                title,
                header.first + 1,
                header.names,
                _title_text(rows, header.first),
                trailing,
                sheet_notes,
                header.unread,
            )
        )
    if not tables:
        detail = "; ".join(problems + notes) if problems or notes else "every sheet is empty"
        raise BadInputError(f"no sheet holds station records ({detail})", path)
    # a visible sheet that holds no records (a summary, 汇总) is said, with why, beside the hidden ones
    skipped = [re.sub(r"^(sheet '.*?'): (.*)$", r"\1 skipped: \2", problem) for problem in problems]
    tables[0].notes[:0] = notes + skipped
    return tables


def _fill_merged_down(rows: list[list], merged: list[tuple], header_last: int) -> int:
    """Cells merged down data rows (an operator or date written once for a block) hold their value in
    every row they cover, in the column it is written in (a merge across columns says nothing of the
    next column); merges touching the header are the header's. Returns how many cells were filled."""
    filled = 0
    for min_row, max_row, min_col, _max_col in merged:
        if min_row - 1 <= header_last or min_row - 1 >= len(rows):
            continue
        c = min_col - 1
        top = rows[min_row - 1]
        value = top[c] if c < len(top) else None
        if value is None:
            continue
        for r in range(min_row, min(max_row, len(rows))):
            row = rows[r]
            if len(row) <= c:
                row.extend([None] * (c + 1 - len(row)))
            if row[c] is None:
                row[c] = value
                filled += 1
    return filled


#: Archive members with these extensions are read; others are skipped with a note.
TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}


def read_station_file(path: str | Path) -> list[RawTable]:
    """Read one raw file into its tables (one per sheet that holds records); a .gz is read inside, a
    .zip member by member.

    Raises BadInputError naming the file for an empty, unreadable or unrecognisable file, and its
    subclass NotATableError for a file of prose (a README) that a folder may hold beside the data.
    """
    path = Path(path)
    try:
        data = _file_data(path)
    except (OSError, ValueError) as exc:  # (ValueError: mmap's, of a file emptied after it was looked at)
        raise BadInputError(f"cannot be read ({getattr(exc, 'strerror', None) or exc})", path) from None
    return _read_bytes(path, data)


def _file_data(path: Path) -> bytes | mmap.mmap:
    """A file's bytes: a text file's mapped into memory, read-only, not read into it; a workbook's or an archive's
    read. pyarrow's CSV reader and the checks of `read_text_table` read the mapped pages where they lie (the
    kernel's cache of the file): a national file (403 MB) read into Python's bytes was a copy of it, ~0.25 s
    and 100,000 fresh pages, before anything read it. (A file cut short by another program while it is read
    would stop the run: as a file written while it is read, a run reads files that are there.)"""
    with open(path, "rb") as fh:
        head = fh.read(8192)
        if detect_format(head) == "text":
            try:
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # a pipe, a file system that maps no files: read as before
                pass
        return head + fh.read()


def _read_bytes(path: Path, data: bytes | mmap.mmap) -> list[RawTable]:
    fmt = detect_format(data[:8192])
    if fmt == "empty" or not data or _is_blank(data):
        raise BadInputError("the file is empty", path)
    if fmt == "gzip":
        return _read_bytes(path, _gunzip(path, data))
    if fmt == "xlsx" and _is_plain_zip(data):
        return _read_zip(path, data)
    if fmt == "binary":
        raise BadInputError("binary data, not a CSV or XLSX table", path)
    readers = {"xlsx": read_xlsx, "xls": read_xls}
    tables = readers.get(fmt, read_text_table)(path, data)
    for t in tables:
        if t.frame.empty:
            where = f"sheet {t.sheet!r}: " if t.sheet else ""
            raise BadInputError(f"{where}a header (row {t.header_row}) but no records below it", path)
        positioned = _has(t, "lon", "lat") or _has(t, "lonlat") or _has(t, "planned_lon", "planned_lat")
        if t.kind == "operator" and not positioned:
            raise BadInputError(
                f"{'sheet ' + repr(t.sheet) + ': ' if t.sheet else ''}no longitude/latitude columns "
                f"(found {', '.join(t.columns) or 'none'})",
                path,
            )
    return tables


def _is_blank(data: bytes | mmap.mmap) -> bool:
    """Whether the bytes are whitespace only (looked at from the start: a national file's first bytes say it is
    not; data.strip() would copy it)."""
    return data[:8192].isspace() and bytes(data).isspace()


def _has(table: RawTable, *columns: str) -> bool:
    return set(columns) <= set(table.frame.columns)


def _gunzip(path: Path, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadInputError(f"a damaged .gz file ({exc})", path) from None


def _is_plain_zip(data: bytes) -> bool:
    """A zip archive of files, not an XLSX (itself a zip holding xl/workbook.xml)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False  # not a zip after all: the XLSX reader says what is wrong with it
    return not any(n.startswith("xl/") for n in names) and "[Content_Types].xml" not in names


def _read_zip(path: Path, data: bytes) -> list[RawTable]:
    """Every table file in a zip archive, each named archive.zip/member in the outputs."""
    tables: list[RawTable] = []
    skipped: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir() or Path(name).name.startswith(("~$", ".", "__MACOSX")) or "__MACOSX/" in name:
                continue
            member = path / name
            if Path(name).suffix.lower() not in TABLE_SUFFIXES:
                skipped.append(f"{name} (not a table file)")
                continue
            try:
                tables.extend(_read_bytes(member, archive.read(info)))
            except NotATableError as exc:
                skipped.append(f"{name} ({exc.problem})")
    if not tables:
        raise BadInputError(f"a zip archive without station tables ({'; '.join(skipped) or 'empty'})", path)
    tables[0].notes.extend(f"in the archive, skipped {s}" for s in skipped)
    return tables


RAW_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".gz", ".zip"}


def list_input_files(inputs: list[str | Path]) -> list[Path]:
    """Files named, plus the table files inside folders named (recursively), sorted, each once."""
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files.extend(
                q
                for q in sorted(p.rglob("*"))
                if q.is_file() and q.suffix.lower() in RAW_SUFFIXES and not q.name.startswith(("~$", "."))
            )
        elif p.exists():
            files.append(p)
        else:
            raise BadInputError("no such file or folder", p)
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def list_skipped_files(inputs: list[str | Path]) -> list[tuple[Path, str]]:
    """Files inside the folders named that are not read (a PDF, a Word note, a picture), each with
    why: said in the summary, so that nothing in a folder is passed over in silence."""
    skipped = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            skipped.extend(
                (q, f"not a table file ({q.suffix or 'no extension'})")
                for q in sorted(p.rglob("*"))
                if q.is_file() and q.suffix.lower() not in RAW_SUFFIXES and not q.name.startswith(("~$", "."))
            )
    return skipped
