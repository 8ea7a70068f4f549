"""Readers for raw station records as operators and tower companies send them.

Finds the format from the bytes (XLSX, CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030, OpenCelliD
export), the header row under any title rows, and maps Chinese or English headers onto one
vocabulary. Values stay text here: `clean` parses them, so a rejected row keeps what it said.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.errors import BadInputError

#: Canonical field -> header synonyms seen in operator, tower-company and export files.
#: Matching ignores case, spaces, brackets and units, so "经度(°)" and "Longitude" both match.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "site_code": ("站址编码", "站址编号", "站号", "基站编号", "基站编码", "站点编码", "站点编号", "铁塔站址编码",
                  "site_id", "siteid", "site_code", "sitecode", "station_id", "code", "gnb_id", "gnbid"),
    "name": ("基站名称", "站名", "站址名称", "站点名称", "基站名", "名称", "name", "site_name", "sitename",
             "station_name"),
    "operator": ("运营商", "需求运营商", "需求方", "所属运营商", "运营商名称", "operator", "carrier", "mno"),
    "lon": ("经度", "东经", "lon", "lng", "long", "longitude", "x"),
    "lat": ("纬度", "北纬", "lat", "latitude", "y"),
    "lonlat": ("经纬度", "坐标", "lonlat", "coordinates", "coordinate"),
    "district": ("区县", "所属区县", "行政区", "所属区域", "区域", "县区", "district", "county", "area_name"),
    "on_air_date": ("开通时间", "开通日期", "入网时间", "入网日期", "开站时间", "on_air_date", "onair_date",
                    "on_air", "date_on_air", "activation_date"),
    "band": ("频段", "工作频段", "频率", "band", "frequency", "freq_band", "nr_band"),
    "status": ("状态", "站点状态", "建设状态", "当前状态", "当前阶段", "阶段", "status", "stage", "state"),
    "crs": ("坐标系", "坐标系统", "crs", "datum", "coordinate_system"),
    "blocker": ("卡点问题", "卡点", "问题类型", "存在问题", "主要问题", "blocker", "issue", "problem"),
    "planned_date": ("立项日期", "立项时间", "规划日期", "planned_date"),
    "site_selection_date": ("选址完成日期", "选址日期", "选址时间", "site_selection_date"),
    "site_access_date": ("进场日期", "进场时间", "site_access_date"),
    "construction_date": ("开工日期", "开工时间", "建设日期", "construction_date"),
    "power_hookup_date": ("电源接入日期", "引电日期", "电源接入时间", "power_hookup_date"),
}
FIELDS = tuple(HEADER_SYNONYMS)

OPENCELLID_COLUMNS = ("radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
                      "changeable", "created", "updated", "averageSignal")

#: How many leading rows may hold titles, notes or blanks above the header.
HEADER_SEARCH_ROWS = 30


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).strip().lower()
    text = re.sub(r"[(\[（【].*?[)\]）】]", "", text)  # units and notes in brackets
    return re.sub(r"[\s_\-./:：*]+", "", text)


_SYNONYM_INDEX = {_header_key(s): canon for canon, syns in HEADER_SYNONYMS.items() for s in syns}


def map_header(cells: list) -> dict[int, str]:
    """Column index -> canonical field, for the cells of one candidate header row."""
    mapping: dict[int, str] = {}
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        canon = _SYNONYM_INDEX.get(_header_key(cell))
        if canon and canon not in mapping.values():
            mapping[i] = canon
    return mapping


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

    @property
    def context(self) -> str:
        """File name, sheet name and title rows: where a single-operator report says whose it is."""
        return " ".join(x for x in (self.path.stem, self.sheet or "", self.title) if x)

    @property
    def label(self) -> str:
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


def detect_format(head: bytes) -> str:
    """'xlsx', 'xls', 'text' or 'binary' from a file's first bytes, never from its extension."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if not head:
        return "empty"
    if b"\x00" in head[:4096]:
        return "binary"
    return "text"


def decode_text(data: bytes, path: Path) -> tuple[str, str]:
    """Decode a text file: UTF-8 (with or without BOM) when it is valid UTF-8, else GB18030.

    GB18030 is a superset of GBK and GB2312, so a GBK file decodes the same; a file that is
    neither is an error naming the first bad byte's line.
    """
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


def _raise_decode(data: bytes, exc: UnicodeDecodeError, path: Path, tried: str):
    line = data[: exc.start].count(b"\n") + 1
    raise BadInputError(f"line {line}: bytes that are not {tried} text (mixed or unknown encoding)", path)


def _sniff_delimiter(lines: list[str]) -> str:
    sample = "\n".join(lines[:HEADER_SEARCH_ROWS])
    counts = {d: sample.count(d) for d in (",", "\t", ";", "|")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


@dataclass
class _Header:
    """Where the header is: rows first..last (two rows when a merged cell spans sub-headers, as in
    坐标 over 经度 | 纬度); first is -1 for a header-less OpenCelliD export."""

    first: int
    last: int
    mapping: dict[int, str]
    kind: str
    names: dict[str, str]  # original header text -> canonical field


def _names(rows: list[list], header: range, mapping: dict[int, str]) -> dict[str, str]:
    names = {}
    for j, canon in sorted(mapping.items()):
        text = " / ".join(str(rows[i][j]).strip() for i in header if j < len(rows[i]) and rows[i][j] is not None)
        names[text or f"column {j + 1}"] = canon
    return names


def _find_header(rows: list[list], path: Path, sheet: str | None) -> _Header:
    """The header among the first rows, its mapping to canonical fields, and the table kind."""
    ocid = {j: c for j, c in enumerate(OPENCELLID_COLUMNS)}
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = [_header_key(c) if c is not None else "" for c in cells]
        if keys[: len(OPENCELLID_COLUMNS)] == [_header_key(c) for c in OPENCELLID_COLUMNS]:
            return _Header(i, i, ocid, "opencellid", {c: c for c in OPENCELLID_COLUMNS})
        mapping = map_header(cells)
        if _is_header(mapping):
            last = i
            below = map_header(rows[i + 1]) if i + 1 < len(rows) else {}
            if len(below) >= 2:  # a second header row under merged cells
                last = i + 1
                mapping = {**mapping, **below}
                if {"lon", "lat"} <= set(mapping.values()):
                    mapping = {j: c for j, c in mapping.items() if c != "lonlat"}
                seen: set[str] = set()
                mapping = {j: c for j, c in sorted(mapping.items()) if not (c in seen or seen.add(c))}
            return _Header(i, last, mapping, "operator", _names(rows, range(i, last + 1), mapping))
    # OpenCelliD's full export ships without a header: recognise its first data row instead.
    for i, cells in enumerate(rows[:3]):
        if len(cells) == len(OPENCELLID_COLUMNS) and str(cells[0]).strip().upper() in {"GSM", "UMTS", "LTE", "NR", "CDMA"}:
            return _Header(i - 1, i - 1, ocid, "opencellid", {c: c for c in OPENCELLID_COLUMNS})
    where = f"sheet {sheet!r}: " if sheet else ""
    raise BadInputError(
        f"{where}no header row with recognisable columns in the first {HEADER_SEARCH_ROWS} rows "
        "(need longitude and latitude, e.g. 经度/纬度 or lon/lat)",
        path,
    )


def _title_text(rows: list[list], header_idx: int) -> str:
    return " ".join(str(c).strip() for r in rows[:max(header_idx, 0)] for c in r if c is not None and str(c).strip())


def _frame_from_rows(rows: list[list], header_idx: int, mapping: dict[int, str]) -> tuple[pd.DataFrame, int]:
    body = rows[header_idx + 1:]
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


def read_text_table(path: Path, data: bytes) -> list[RawTable]:
    text, encoding = decode_text(data, path)
    lines = _head_lines(text, HEADER_SEARCH_ROWS)
    del text  # the parser reads the bytes (already checked to decode): one copy of the file less
    delimiter = _sniff_delimiter(lines)
    head_rows = list(csv.reader(lines, delimiter=delimiter))
    header = _find_header(head_rows, path, None)
    mapping = header.mapping
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
            usecols=sorted(mapping),
            # as wide as the widest of the first rows: otherwise pandas takes the width of the first
            # record, and a blank or note line right under the header loses every column
            names=range(max(len(r) for r in head_rows) if head_rows else len(mapping)),
            quoting=csv.QUOTE_MINIMAL,
        )
    except pd.errors.EmptyDataError:
        raise BadInputError(f"a header (row {header.first + 1}) but no records below it", path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise BadInputError(f"cannot be read as a table: {str(exc).splitlines()[0]}", path) from None
    frame.columns = [mapping[j] for j in sorted(mapping)]
    trailing = 0
    while len(frame) and (frame.iloc[-1].fillna("").str.strip() == "").all():
        frame = frame.iloc[:-1]
        trailing += 1
    frame = frame.replace("", None).astype(object)
    frame["source_row"] = range(1, len(frame) + 1)
    return [RawTable(path, frame, header.kind, encoding, None, header.first + 1, header.names,
                     _title_text(head_rows, header.first), trailing)]


def read_xlsx(path: Path, data: bytes) -> list[RawTable]:
    """Every sheet that holds records; sheets of notes or pivot tables are skipped."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # from the bytes: openpyxl would otherwise refuse a workbook by its file extension
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        raise BadInputError(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})", path) from None
    tables: list[RawTable] = []
    problems: list[str] = []
    try:
        for sheet in book.worksheets:
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            if not any(any(c is not None and str(c).strip() for c in r) for r in rows):
                continue
            try:
                header = _find_header(rows, path, sheet.title)
            except BadInputError as exc:
                problems.append(exc.problem)
                continue
            frame, trailing = _frame_from_rows(rows, header.last, header.mapping)
            if frame.empty:
                problems.append(f"sheet {sheet.title!r}: a header but no records below it")
                continue
            tables.append(RawTable(path, frame, header.kind, None, sheet.title, header.first + 1, header.names,
                                   _title_text(rows, header.first), trailing))
    finally:
        book.close()
    if not tables:
        detail = "; ".join(problems) if problems else "every sheet is empty"
        raise BadInputError(f"no sheet holds station records ({detail})", path)
    return tables


def read_station_file(path: str | Path) -> list[RawTable]:
    """Read one raw file into its tables (one per sheet that holds records).

    Raises BadInputError naming the file for an empty, unreadable or unrecognisable file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot be read ({exc.strerror or exc})", path) from None
    fmt = detect_format(data[:8192])
    if fmt == "empty" or not data.strip():
        raise BadInputError("the file is empty", path)
    if fmt == "xls":
        raise BadInputError("old binary Excel (.xls) is not read: save it as .xlsx or CSV", path)
    if fmt == "binary":
        raise BadInputError("binary data, not a CSV or XLSX table", path)
    tables = read_xlsx(path, data) if fmt == "xlsx" else read_text_table(path, data)
    for t in tables:
        if t.frame.empty:
            where = f"sheet {t.sheet!r}: " if t.sheet else ""
            raise BadInputError(f"{where}a header (row {t.header_row}) but no records below it", path)
        if t.kind == "operator" and not ({"lon", "lat"} <= set(t.frame.columns) or "lonlat" in t.frame.columns):
            raise BadInputError(
                f"{'sheet ' + repr(t.sheet) + ': ' if t.sheet else ''}no longitude/latitude columns "
                f"(found {', '.join(t.columns) or 'none'})",
                path,
            )
    return tables


RAW_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}


def list_input_files(inputs: list[str | Path]) -> list[Path]:
    """Files named, plus the table files inside folders named (recursively), sorted, each once."""
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files.extend(q for q in sorted(p.rglob("*")) if q.is_file() and q.suffix.lower() in RAW_SUFFIXES
                         and not q.name.startswith(("~$", ".")))
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
