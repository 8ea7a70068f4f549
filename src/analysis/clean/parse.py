"""Value parsers for raw station fields: dates, coordinates, operators, bands, statuses, blockers.

Each takes a Series of text as people typed it and returns parsed values, leaving NA where the
text cannot be read, so the caller can tell "missing" from "unreadable" and quarantine with a reason.
Vectorised, with the rare slow cases (DMS, odd labels) handled on the unique values only.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.schemas import BANDS

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
#: Excel serials of 2000-01-01 … 2099-12-31; smaller or larger numbers are not dates here.
EXCEL_SERIAL_RANGE = (36526, 73050)


def normalize_text(values: pd.Series) -> pd.Series:
    """NFKC (full-width digits and punctuation to ASCII), trimmed; blanks become NA."""
    s = values.astype("string").str.normalize("NFKC").str.strip()
    return s.mask(s == "")


# --- dates -------------------------------------------------------------------------------------

_YMD = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[ T]+\d{1,2}[:：]\d{2}(?:[:：]\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT = re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates typed every way: 2020-05-12, 2020/5/12, 2020.5.12, 2020年5月12日, 20200512,
    Excel serials (43963) and ISO timestamps; day-first and month-first forms are ambiguous
    and stay unparsed. Returns datetime64[ns] with NaT where missing or unreadable."""
    # a national file has millions of rows but a few thousand distinct dates: parse those once
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    parsed = _parse_date_texts(pd.Series(uniques, dtype=object)).to_numpy()
    out = np.full(len(codes), np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    found = codes >= 0
    out[found] = parsed[codes[found]]
    return pd.Series(out, index=values.index, dtype="datetime64[ns]")


def _parse_date_texts(values: pd.Series) -> pd.Series:
    text = normalize_text(values)
    parts = pd.DataFrame(index=text.index, columns=["y", "m", "d"], dtype="float64")
    for pattern in (_YMD, _COMPACT):
        found = text.str.extract(pattern).astype("float64")
        parts = parts.fillna(found[["y", "m", "d"]])
    valid = (parts["m"].between(1, 12)) & (parts["d"].between(1, 31))
    parts = parts.where(valid)
    out = pd.to_datetime(
        pd.DataFrame({"year": parts["y"], "month": parts["m"], "day": parts["d"]}), errors="coerce"
    )
    serial_text = text.where(text.str.fullmatch(_SERIAL).fillna(False))
    serial = pd.to_numeric(serial_text, errors="coerce")
    serial = serial.where(serial.between(*EXCEL_SERIAL_RANGE))
    from_serial = EXCEL_EPOCH + pd.to_timedelta(np.floor(serial), unit="D")
    out = out.fillna(from_serial)
    return out.astype("datetime64[ns]")


# --- coordinates -------------------------------------------------------------------------------

_DMS = re.compile(
    r"^(?P<h1>[NSEW]|东经|北纬|西经|南纬)?\s*"
    r"(?P<deg>\d+(?:\.\d+)?)\s*(?:°|度|:|\s)\s*"
    r"(?:(?P<min>\d+(?:\.\d+)?)\s*(?:'|′|分|:|\s)?\s*)?"
    r"(?:(?P<sec>\d+(?:\.\d+)?)\s*(?:\"|″|''|′′|秒)?\s*)?"
    r"(?P<h2>[NSEW])?$"
)
_HEMI_DECIMAL = re.compile(r"^(?P<h1>[NSEW]|东经|北纬|西经|南纬)?\s*(?P<num>-?\d+(?:\.\d+)?)\s*°?\s*(?P<h2>[NSEW])?$")


def _parse_one_coordinate(text: str) -> float:
    t = text.upper().strip()
    m = _HEMI_DECIMAL.match(t)
    if m:
        value = float(m["num"])
        hemi = m["h1"] or m["h2"]
    else:
        m = _DMS.match(t)
        if not m:
            return np.nan
        minutes = float(m["min"] or 0)
        seconds = float(m["sec"] or 0)
        if minutes >= 60 or seconds >= 60:
            return np.nan
        value = float(m["deg"]) + minutes / 60 + seconds / 3600
        hemi = m["h1"] or m["h2"]
    if hemi in ("S", "W", "西经", "南纬"):
        value = -value
    return value


def parse_coordinates(values: pd.Series) -> pd.Series:
    """Decimal degrees from decimals, full-width digits (８４．８７), hemisphere letters
    (E84.87, 84.87E, 东经84.87) and degrees-minutes-seconds (84°52'58.9", 84度52分58.9秒).
    NaN where missing or unreadable."""
    text = normalize_text(values)
    out = pd.to_numeric(text, errors="coerce").astype("float64")
    todo = text.notna() & out.isna()
    if todo.any():
        uniques = text[todo].unique()
        parsed = {u: _parse_one_coordinate(u) for u in uniques}
        out[todo] = text[todo].map(parsed).astype("float64")
    return out


def split_lonlat(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A combined '经纬度' field, '84.87,45.60' or '84.87 45.60', split into lon and lat text."""
    text = normalize_text(values)
    parts = text.str.split(r"\s*[,;/]\s*|\s+", n=1, regex=True, expand=True)
    if parts.shape[1] < 2:
        parts[1] = pd.NA
    return parts[0], parts[1]


# --- labels ------------------------------------------------------------------------------------

def _map_uniques(values: pd.Series, fn) -> pd.Series:
    """fn of each distinct normalised text; None where there is no text, NaN where fn says None.
    The raw values are made distinct before normalising: a national column has millions of rows
    and a handful of labels."""
    codes, raw_uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    text = normalize_text(pd.Series(raw_uniques, dtype=object))
    mapped = np.empty(len(text) + 1, dtype=object)
    for i, u in enumerate(text):
        if pd.isna(u):
            mapped[i] = None
        else:
            v = fn(u)
            mapped[i] = np.nan if v is None else v
    mapped[-1] = None  # code -1: a missing value
    return pd.Series(mapped[codes], index=values.index, name=values.name, dtype=object)


def _operator(text: str) -> str:
    t = re.sub(r"\s+", "", text.lower())
    rules = (
        ("CMCC", ("移动", "cmcc", "mobile", "中移")),
        ("CTCC", ("电信", "ctcc", "telecom")),
        ("CUCC", ("联通", "cucc", "unicom")),
        ("CBN", ("广电", "cbn", "broadnet", "broadcast", "中国广电")),
    )
    hits = [code for code, keys in rules if any(k in t for k in keys)]
    return hits[0] if len(hits) == 1 else "unknown"


def parse_operators(values: pd.Series) -> pd.Series:
    """中国移动 / 移动 / CMCC / China Mobile … to CMCC, CTCC, CUCC, CBN; anything else 'unknown'."""
    return _map_uniques(values, _operator).fillna("unknown")


_BAND_BY_MHZ = ((690, 810, "n28"), (1710, 1880, "n3"), (1920, 2170, "n1"), (2496, 2690, "n41"),
                (3300, 3800, "n78"), (4400, 5000, "n79"))


def _band(text: str) -> str:
    t = re.sub(r"\s+", "", text.lower())
    m = re.search(r"\bn(\d{1,3})\b", t) or re.fullmatch(r"n(\d{1,3})", t)
    if m and f"n{int(m[1])}" in BANDS:
        return f"n{int(m[1])}"
    m = re.search(r"(\d+(?:\.\d+)?)(ghz|g|mhz|m)?", t)
    if not m:
        return "unknown"
    value = float(m[1])
    unit = m[2]
    if unit is None:
        unit = "g" if "." in m[1] and value < 10 else "m"
    elif unit == "g" and "." not in m[1] and value < 10:
        return "unknown"  # "5G", "5G NR": the technology, not a frequency
    mhz = value * 1000 if unit.startswith("g") else value
    for lo, hi, band in _BAND_BY_MHZ:
        if lo <= mhz <= hi:
            return band
    return "unknown"


def parse_bands(values: pd.Series) -> pd.Series:
    """2.6GHz / 2.6G / 2600M / n41 … to 3GPP NR band names; 'unknown' where not said or not NR."""
    return _map_uniques(values, _band).fillna("unknown")


_STATUS_RULES = (
    ("decommissioned", ("退网", "拆除", "下线", "decommission", "removed")),
    ("on_air", ("已开通", "开通", "在网", "入网", "在用", "运行", "已建成", "onair", "on_air", "active", "live",
                "inservice")),
    ("power_hookup", ("电源接入", "引电", "电源", "power")),
    ("construction", ("在建", "建设", "施工", "开工", "construction", "building")),
    ("site_access", ("进场", "入场", "access")),
    ("site_selection", ("选址", "selection", "siting")),
    ("planned", ("规划", "立项", "计划", "待建", "planned", "plan")),
)


#: Not yet on air, however it is said (待开通, 尚未开通, not active …): a planned site, not a station.
_NOT_YET_ON_AIR = re.compile(r"(未|待|尚未|暂未|拟|not)(开通|入网|onair|active|live)")


def _status(text: str) -> str:
    t = re.sub(r"[\s\-_]+", "", text.lower())
    if _NOT_YET_ON_AIR.search(t):
        return "planned"
    if "开通中" in t:
        return "power_hookup"
    for status, keys in _STATUS_RULES:
        if any(k in t for k in keys):
            return status
    return "unknown"


def parse_statuses(values: pd.Series) -> pd.Series:
    """已开通 / 在建 / 规划 / 选址 / 进场 / 电源接入 … to the fixed set in `schemas.STATUSES`."""
    return _map_uniques(values, _status).fillna("unknown")


_BLOCKER_RULES = (
    ("power_price", ("电价", "转供电", "高转供", "powerprice", "tariff")),
    ("power_hookup", ("电源", "引电", "供电", "外电", "power")),
    ("site_access", ("进场", "物业", "业主", "阻挠", "入场", "access")),
    ("site_selection", ("选址", "站址", "selection", "siting")),
    ("construction", ("施工", "建设", "工程", "construction")),
)
_NO_BLOCKER = {"none", "no", "-", "/", "n/a", "na", "nil"}
#: 无 / 暂无 / 没有 / 无问题 / 正常推进 / 已解决: nothing holds the site back.
_NO_BLOCKER_TEXT = re.compile(r"^(无|暂无|没有)|正常|已解决")


def _blocker(text: str) -> str | None:
    t = re.sub(r"\s+", "", text.lower())
    if t in _NO_BLOCKER or _NO_BLOCKER_TEXT.search(t):
        return None
    for blocker, keys in _BLOCKER_RULES:
        if any(k in t for k in keys):
            return blocker
    return "other"


def parse_blockers(values: pd.Series) -> pd.Series:
    """选址 / 进场 / 建设 / 电源接入 / 高转供电价 … to `schemas.BLOCKERS`; None where there is none."""
    return _map_uniques(values, _blocker)


def _crs(text: str) -> str:
    t = re.sub(r"[\s\-_:：.()（）]+", "", text.lower())
    t = re.sub(r"(坐标系统|坐标系|坐标)$", "", t)
    if t in ("gcj02", "gcj", "火星坐标", "火星", "高德", "amap", "gaode", "腾讯", "tencent", "国测局"):
        return "gcj02"
    if t in ("wgs84", "wgs", "gps", "epsg4326", "4326", "cgcs2000", "2000"):
        # CGCS2000 and WGS-84 differ by centimetres: the same for station positions
        return "wgs84"
    if t in ("bd09", "bd09ll", "百度", "baidu"):
        return "bd09"
    return "unknown"


def parse_crs(values: pd.Series) -> pd.Series:
    """坐标系 labels to 'wgs84', 'gcj02', 'bd09' or 'unknown'; None where not said."""
    return _map_uniques(values, _crs)
