"""Value parsers for raw station fields: dates, coordinates, operators, bands, statuses, blockers.

Each takes a Series of text as people typed it and returns parsed values, leaving NA where the
text cannot be read, so the caller can tell "missing" from "unreadable" and quarantine with a reason.
Vectorised, with the rare slow cases (DMS, odd labels) handled on the unique values only.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.schemas import BANDS

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
#: Excel serials of 2000-01-01 … 2099-12-31; smaller or larger numbers are not dates here.
EXCEL_SERIAL_RANGE = (36526, 73050)
#: Years a datetime64[ns] holds whole (1677-09-21 … 2262-04-11).
TIMESTAMP_YEARS = (1678, 2261)


#: Characters that print as nothing (zero-width spaces and joiners, word joiner, BOM, soft hyphen):
#: pasted from web systems into codes and names, they make equal texts differ.
_INVISIBLE = r"[\u200b-\u200d\u2060\ufeff\u00ad]"
_INVISIBLE_RE2 = "[\\x{200b}-\\x{200d}\\x{2060}\\x{feff}\\x{ad}]"  # (the same, as pyarrow's RE2 writes it)
#: ="…": how exports keep Excel from reading a code as a number; the value is what is inside.
_EXCEL_FORMULA_TEXT = r'^="(.*)"$'


#: Texts whose every character Arrow's NFKC (utf8proc) maps as Python's does: Latin, Greek and Cyrillic, general
#: punctuation, letterlike and number forms, enclosed numbers (①), CJK symbols (（）、。), enclosed and compatibility
#: CJK (㎡), CJK ideographs and their compatibility forms, full-width forms. The two libraries' Unicode versions
#: differ (Python 3.11: 14.0) only for characters assigned since, none in these blocks (every code point compared).
_NFKC_ARROW_SAME = (
    "^[\\x00-\\x{52f}\\x{2000}-\\x{206f}\\x{2100}-\\x{218f}\\x{2460}-\\x{24ff}\\x{3000}-\\x{303f}\\x{3200}-\\x{33ff}"
    "\\x{4e00}-\\x{9fff}\\x{f900}-\\x{faff}\\x{fe30}-\\x{fe4f}\\x{ff00}-\\x{ffef}]*$"
)


def text_bytes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (len + 1, int64) and the UTF-8 bytes of an Arrow string array, as numpy views (a string
    array's offsets cast to 64 bits first)."""
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array) + 1, offset=array.offset * 8)
    data = array.buffers()[2]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)


def _in_ranges(data: np.ndarray, ranges: str) -> np.ndarray:
    """True for the bytes of `ranges` ("0-9A-Z", "E": each a byte or a range of bytes), by comparisons (a
    look-up in a table of 256 is ~1.5 ns a byte, the comparisons a tenth of that)."""
    inside = np.zeros(len(data), dtype=bool)
    for lo, hi in re.findall(r"(.)(?:-(.))?", ranges, flags=re.S):
        inside |= (data - np.uint8(ord(lo))) <= np.uint8(ord(hi or lo) - ord(lo))  # (wraps below lo)
    return inside


#: The bytes `rows_holding` looks at in one go: its temporaries (a flag a byte, differences) reused, not
#: fresh pages the size of a column's bytes each (a national column of names is ~80 MB).
_BYTES_AT_ONCE = 1 << 20


def rows_holding(array: pa.Array, at: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """True where a text holds a byte at which `at(bytes)` (positions into a block of the column's bytes, e.g.
    of the bytes outside a class; the block ends a byte further on, which `at` may look at) points; False where
    missing. A pass of numpy over the bytes: RE2's anchored test of each text costs ~0.05 µs a row more (a
    national column of 4.25 M codes: ~0.2 s against ~0.04 s)."""
    if isinstance(array, pa.ChunkedArray):
        return np.concatenate([rows_holding(c, at) for c in array.chunks] or [np.zeros(0, dtype=bool)])
    offsets, data = text_bytes(array)
    out = np.zeros(len(array), dtype=bool)
    start, stop = (int(offsets[0]), int(offsets[-1])) if len(array) else (0, 0)
    for lo in range(start, stop, _BYTES_AT_ONCE):
        hits = at(data[lo : min(lo + _BYTES_AT_ONCE + 1, stop)]) + lo  # (the byte after: seen again, no harm)
        out[np.searchsorted(offsets, hits, side="right") - 1] = True
    if array.null_count:
        out &= array.is_valid().to_numpy(zero_copy_only=False)
    return out


def count_byte(array: pa.Array, byte: int) -> int:
    """How many times `byte` occurs in the texts of a string array (in blocks, as `rows_holding`)."""
    offsets, data = text_bytes(array)
    start, stop = (int(offsets[0]), int(offsets[-1])) if len(array) else (0, 0)
    return sum(
        int(np.count_nonzero(data[lo : min(lo + _BYTES_AT_ONCE, stop)] == byte))
        for lo in range(start, stop, _BYTES_AT_ONCE)
    )


def bytes_outside(ranges: str) -> Callable[[np.ndarray], np.ndarray]:
    """For `rows_holding`: the positions of the bytes outside `ranges` (as `_in_ranges` reads them)."""
    return lambda data: np.flatnonzero(~_in_ranges(data, ranges))


def bytes_in(ranges: str) -> Callable[[np.ndarray], np.ndarray]:
    """For `rows_holding`: the positions of the bytes of `ranges` (ASCII: a byte of a UTF-8 text below 0x80
    is that character, never part of another)."""
    return lambda data: np.flatnonzero(_in_ranges(data, ranges))


def _nfkc_unstable_bytes(data: np.ndarray) -> np.ndarray:
    """The positions of the bytes that start a character NFKC may change: texts of only ASCII and CJK Unified
    Ideographs (U+4E00…U+9FFF) are left as they are (neither has a decomposition, and no composition starts
    from them) and hold no invisible character. Those are the lead bytes of a two- or four-byte character, or
    of a three-byte one before U+4E00 (E0…E3, E4 before B8) or after U+9FFF (EA…EF)."""
    lead = np.flatnonzero((data >= 0xC0) & ((data - np.uint8(0xE4)) > 5))  # (a lead byte but E4…E9)
    e4 = np.flatnonzero(data == 0xE4)  # (U+4000…U+4FFF: U+4E00 is E4 B8 80)
    return np.concatenate([lead, e4[data[np.minimum(e4 + 1, len(data) - 1)] < 0xB8]])


def normalize_text(values: pd.Series) -> pd.Series:
    """NFKC (full-width digits and punctuation to ASCII), invisible characters removed, ="…" unwrapped,
    trimmed; blanks become NA."""
    s = values.astype("string")
    # NFKC and the invisible characters only for the texts they can change (most codes and names are ASCII
    # or plain hanzi), in Arrow's kernels where they give Python's answer; per value in Python they cost
    # seconds per million rows (a sender's names in full-width brackets, 站点1（乡镇）: 5 s of 10^6)
    other = rows_holding(pa.array(s.array), _nfkc_unstable_bytes)
    if other.any():
        s = s.copy()
        texts = s[other]
        arrow = pa.array(texts.array)
        same = pc.fill_null(pc.match_substring_regex(arrow, _NFKC_ARROW_SAME), True).to_numpy(zero_copy_only=False)
        folded = pc.replace_substring_regex(pc.utf8_normalize(arrow, form="NFKC"), _INVISIBLE_RE2, "")
        folded = pd.Series(folded, index=texts.index, dtype=s.dtype)
        if not same.all():  # (a character Python's Unicode knows otherwise, or does not know)
            rest = texts[~same]
            folded[~same] = rest.str.normalize("NFKC").str.replace(_INVISIBLE, "", regex=True)
        s[other] = folded
    # (trimmed, and ="…" looked for, only when a text's first or last byte may be of a space or an =: a national
    # column of names is neither, and each pass made ~0.1 GB of fresh pages of a new column)
    first, last = _end_bytes(pa.array(s.array))
    if _in_ranges(first, _MAY_START_A_SPACE).any() or _in_ranges(last, _MAY_END_A_SPACE).any():
        s, first = s.str.strip(), None
    if first is None or (first == ord("=")).any():
        wrapped = s.str.startswith('="').fillna(False)
        if wrapped.any():
            s = s.where(~wrapped, s.str.replace(_EXCEL_FORMULA_TEXT, r"\1", regex=True).str.strip())
    return s.mask(s == "")


#: The bytes a space of Python's `str.strip` or Arrow's `utf8_trim_whitespace` may begin or end with in UTF-8:
#: ASCII's (\t-\r, \x1c-\x1f, space) and the lead and last bytes of U+0085, U+00A0 (C2), U+1680, U+180E (E1),
#: U+2000-U+200A, U+2028, U+2029, U+202F, U+205F (E2) and U+3000 (E3); more than these, never fewer.
_MAY_START_A_SPACE = "\t-\r\x1c- \xc2\xe1-\xe3"
_MAY_END_A_SPACE = "\t-\r\x1c- \x80-\x8f\x9f\xa0\xa8\xa9\xaf"


def _end_bytes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The first and last byte of each text of a string array (of its texts with any: none of an empty or
    missing one), a block of rows at a time."""
    firsts, lasts = [], []
    for block in _row_blocks(array):
        offsets, data = text_bytes(block)
        starts, ends = offsets[:-1], offsets[1:]
        filled = ends > starts
        firsts.append(data[starts[filled]])
        lasts.append(data[ends[filled] - 1])
    empty = np.zeros(0, dtype=np.uint8)
    return np.concatenate(firsts or [empty]), np.concatenate(lasts or [empty])


#: Every character Python's regex `\s` matches in a str (pyarrow's RE2 `\s` is ASCII only and
#: misses \v): a row without one of these cannot match a pattern of `\s`.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
_RE2_WHITESPACE = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "]"


def _arrow_mask(values: pd.Series, fn) -> np.ndarray:
    """A pyarrow.compute test of each text as a numpy bool array (False where missing)."""
    return pc.fill_null(fn(pa.array(values.array)), False).to_numpy(zero_copy_only=False)


def has_whitespace(values: pd.Series) -> np.ndarray:
    """True where a text holds a character Python's `\\s` matches."""
    return _arrow_mask(values, lambda a: pc.match_substring_regex(a, _RE2_WHITESPACE))


def ends_with(values: pd.Series, suffix: str) -> np.ndarray:
    """True where a text ends with `suffix` (literal)."""
    return _arrow_mask(values, lambda a: pc.ends_with(a, suffix))


def arrow_text(values: pd.Series) -> pa.Array:
    """A column of Arrow strings as one Arrow array, without a copy when it is one chunk (pyarrow hands a
    single chunk over as it is; `ChunkedArray.combine_chunks` copies even one: a national file's column)."""
    array = pa.array(values.array)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


#: Arrow large strings to pandas' "str" (Arrow-backed, NaN where missing): a `types_mapper` of `to_pandas`.
AS_STR = {pa.large_string(): pd.StringDtype("pyarrow", np.nan)}.get


def values_at(values: pd.Series, at: np.ndarray, index: pd.Index) -> pd.Series:
    """`values` at positions `at` (-1: NaN, as a map finding no key gives) on `index`: what
    `keys.map(values)` gives where `at` holds the keys' positions in `values.index`."""
    found = at >= 0
    taken = values.to_numpy()[np.where(found, at, 0)] if len(values) else np.full(len(at), np.nan)
    out = pd.Series(taken, index=index)
    return out if found.all() else out.where(found)


def to_numbers(values: pd.Series) -> pd.Series:
    """`pd.to_numeric(values, errors="coerce")`, read by pyarrow's casts where they read the column whole:
    int64 when every text is a whole number (none missing), float64 when every text is a number; any
    other column (a text that is no number, a whole number beyond int64 that pandas keeps as uint64, whole
    numbers beside missing ones) is left to pandas. pandas converts every text to a Python object first:
    ~0.5 s per column of a national OpenCelliD export."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow") or not len(values):
        return pd.to_numeric(values, errors="coerce")
    text = arrow_text(values)
    if pc.all(pc.match_substring_regex(text, r"^[+-]?[0-9]+$")).as_py():  # (nulls skipped)
        if text.null_count:
            return pd.to_numeric(values, errors="coerce")
        try:
            return pd.Series(pc.cast(text, pa.int64()).to_numpy(), index=values.index, name=values.name)
        except pa.ArrowInvalid:  # (beyond int64)
            return pd.to_numeric(values, errors="coerce")
    try:
        numbers = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        return pd.to_numeric(values, errors="coerce")
    out = numbers.to_numpy(zero_copy_only=False).copy()
    out[np.isnan(out)] = np.nan  # (pandas' NaN for "-nan" too: no sign)
    return pd.Series(out, index=values.index, name=values.name, copy=False)


def texts_by_code(texts: tuple[str, ...], code: np.ndarray, index: pd.Index) -> pd.Series:
    """texts[code] per row as Arrow strings (pandas "str"), taken by pyarrow from the few texts: a Python
    string per row converted to Arrow was ~0.1 s a million rows."""
    taken = pa.array(texts, pa.large_string()).take(pa.array(np.asarray(code, dtype=np.int64)))
    return pd.Series(taken.to_pandas(types_mapper=AS_STR).array, index=index)


def factorize_text(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 where missing) and the distinct texts (Python strings) of a column of text.
    Arrow strings are encoded by pyarrow: a column of Python strings made first costs ~0.1 s per
    million rows, and a national column holds a handful of labels."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        encoded = pc.dictionary_encode(arrow_text(values))
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.intp)
        return codes, np.array(encoded.dictionary.to_pylist(), dtype=object)
    return pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)


def by_code(values: np.ndarray, missing, codes: np.ndarray) -> np.ndarray:
    """values[code] per row, `missing` where the code is -1 (`factorize_text`'s missing value): one take from
    the values with `missing` put after them, which code -1 takes. (A mask of the rows found, their codes
    and values gathered, then put into an array of `missing`, was four arrays of 34 MB of fresh pages at 4.25 M
    rows, where this is one.)"""
    return np.append(values, np.array([missing], dtype=values.dtype))[codes]


def replace_where(values: pd.Series, rows: np.ndarray, pattern: str, repl: str) -> pd.Series:
    """`values.str.replace(pattern, repl, regex=True)`, run on the `rows` only: the rows a cheap test
    says the pattern can match (Python's regex per value costs ~0.7 s per million rows)."""
    if not rows.any():
        return values
    out = values.copy()
    out[rows] = values[rows].str.replace(pattern, repl, regex=True)
    return out


# --- dates -------------------------------------------------------------------------------------

_YMD = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    # a time of day may follow, ISO style with a zone (2021-03-05T14:22:01+08:00, …Z): the date is
    # taken as written, the local date of whoever wrote it
    r"(?:[ T]+\d{1,2}[:：]\d{2}(?:[:：]\d{2}(?:\.\d+)?)?(?:\s*(?:[zZ]|[+-]\d{2}:?\d{2}))?)?$"
)
_COMPACT = re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")


def parse_dates(values: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """Dates typed every way (see `read_dates`). Returns datetime64[ns] with NaT where missing,
    unreadable or of an undecided day/month order."""
    return read_dates(values, groups).dates


@dataclass
class DateReading:
    """What `read_dates` made of a column of dates, row by row."""

    dates: pd.Series  # datetime64[ns]; NaT where missing, unreadable or ambiguous
    month_only: np.ndarray  # the text gives a month, no day: the date is the month's first day
    with_note: np.ndarray  # a note followed the date in the cell (2021-03-05（补录）): set aside
    ambiguous: np.ndarray  # 05/03/2021, 20/2/26 where the other dates of its group do not settle the order: NaT
    why_ambiguous: np.ndarray  # (object) where ambiguous, why its group does not settle it; None elsewhere


def read_dates(values: pd.Series, groups: pd.Series | None = None) -> DateReading:
    """Dates typed every way: 2020-05-12, 2020/5/12, 2020.5.12, 2020年5月12日, 20200512, Excel serials
    (43963), ISO timestamps (the fast path, RE2 over Arrow), and on the texts those leave unread:
    months (2021年3月, 2021-3, 2021/03), two-digit years first (21/3/5), day- or month-first
    (17/03/2021, 3/17/2021), English month names (Mar 5, 2021; 5-Mar-21), and a date followed by a
    note (2021-03-05（补录）, 2021/3/5 已开通, a note on a second line). A note that makes the date a plan
    or a guess (预计, 计划, 前, 左右 …) leaves it unread.

    05/03/2021 (or 20/2/26: 2020-02-26 or 20 Feb 2026) is read in the order the decided dates of its
    group (`groups`: one key per row, e.g. the file; the whole column when None) are written in; with
    no such evidence, or evidence of both its orders, it stays NaT and `ambiguous`."""
    # a national file has millions of rows but a few thousand distinct dates: parse those once
    codes, uniques = factorize_text(values)
    texts = pd.Series(uniques, dtype=object)
    parsed = _parse_date_texts(texts).to_numpy()
    other = _read_other_date_texts(texts, pd.Series(parsed))
    n = len(codes)
    month_only = np.zeros(n, dtype=bool)
    with_note = np.zeros(n, dtype=bool)
    ambiguous = np.zeros(n, dtype=bool)
    why = np.full(n, None, dtype=object)
    if other is not None:
        parsed = np.where(np.isnat(parsed), other["date"].to_numpy(), parsed)
    # (each row's values taken by its code, one take each: no mask of the rows found, no copies of their codes)
    out = by_code(np.asarray(parsed, dtype="datetime64[ns]"), np.datetime64("NaT", "ns"), codes)
    if other is not None:
        month_only = by_code(other["month_only"].to_numpy(dtype=bool), False, codes)
        with_note = by_code(other["with_note"].to_numpy(dtype=bool), False, codes)
        undecided = other["order"].str.startswith("?").to_numpy(dtype=bool)
        if by_code(undecided, False, codes).any():
            # (`_decide_order` reads the codes only where the order is undecided: a date found there)
            order = by_code(other["order"].to_numpy(dtype=object), "", codes)
            out, ambiguous, why = _decide_order(out, order, other, codes, groups)
        with_note &= ~np.isnat(out)  # (a note after a date that stays unread is no note of a date read)
    dates = pd.Series(out, index=values.index, dtype="datetime64[ns]", copy=False)
    return DateReading(dates, month_only, with_note, ambiguous, why)


def _decide_order(
    out: np.ndarray, order: np.ndarray, other: pd.DataFrame, at: np.ndarray, groups: pd.Series | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dates of an undecided order (05/03/2021, 20/2/26) read in the one order, of those they allow,
    that the group's decided dates are written in (17/03/2021 day-first, 3/17/2021 month-first, 21/3/5
    year-first); the rest stay NaT and ambiguous, with why."""
    keys = np.zeros(len(order), dtype=np.int64) if groups is None else pd.factorize(groups, use_na_sentinel=False)[0]
    text = order.astype(str)
    ambiguous = np.char.startswith(text, "?")
    out = out.copy()
    n_fits = np.zeros(len(order), dtype=np.int64)
    chosen = np.full(len(order), np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    for letter in _ORDERS:
        # the groups with a date decided in this order; the undecided dates this order allows there
        seen = np.zeros(int(keys.max()) + 1, dtype=bool)
        seen[keys[text == letter]] = True
        fits = ambiguous & (np.char.find(text, letter) > 0) & seen[keys]
        n_fits += fits
        chosen[fits] = other[letter].to_numpy(dtype="datetime64[ns]")[at[fits]]
    decided = ambiguous & (n_fits == 1)
    out[decided] = chosen[decided]
    why = np.full(len(order), None, dtype=object)
    why[ambiguous & (n_fits == 0)] = "no other date of its file settles the order"
    why[ambiguous & (n_fits > 1)] = "its file writes its other dates in more than one of the orders it allows"
    return out, ambiguous & ~decided, why


def _as_re2(pattern: re.Pattern) -> str:
    """A date pattern for pyarrow's RE2 that matches a text exactly when Python's does, with the same
    groups, on texts whose digits are ASCII: `\\d` written [0-9] (Python's takes any Unicode digit)
    and `\\s` Python's whitespace (RE2's is ASCII without \\v). Normalised texts are trimmed, so
    Python's `$` before a final line break does not arise."""
    return pattern.pattern.replace("\\d", "[0-9]").replace("\\s", _RE2_WHITESPACE)


_DATE_PATTERNS = ((_YMD, _as_re2(_YMD)), (_COMPACT, _as_re2(_COMPACT)))
_SERIAL_RE2 = _as_re2(_SERIAL)


def _date_parts(text: pd.Series, arr: pa.Array, non_ascii: np.ndarray) -> pd.DataFrame:
    """Year, month and day of each text (`arr`: the same texts in Arrow; `non_ascii`: where one holds a
    character outside ASCII) by the first date pattern it matches (NaN where none). RE2 over Arrow for
    all of them (a file with a time to the second on each row has as many distinct dates as rows:
    Python's regex took ~3 µs a text per pattern); Python's regex only for the texts RE2 finds no date
    in that hold a character outside ASCII (a non-ASCII digit is a digit to Python's `\\d`)."""
    parts = pd.DataFrame(np.nan, index=text.index, columns=["y", "m", "d"], dtype="float64")
    found = np.zeros(len(text), dtype=bool)
    for _, re2 in _DATE_PATTERNS:
        matched = pc.extract_regex(arr, re2)
        hit = matched.is_valid().to_numpy(zero_copy_only=False) & ~found
        if hit.any():
            taken = pa.array(hit)  # (a text that does not match holds "" in the struct's fields)
            for field in ("y", "m", "d"):
                values = pc.cast(pc.filter(matched.field(field), taken), pa.float64())
                parts.loc[hit, field] = values.to_numpy(zero_copy_only=False)
            found |= hit
    rest = ~found & non_ascii
    if rest.any():
        other = pd.DataFrame(np.nan, index=text.index[rest], columns=["y", "m", "d"], dtype="float64")
        for pattern, _ in _DATE_PATTERNS:
            other = other.fillna(text[rest].str.extract(pattern).astype("float64")[["y", "m", "d"]])
        parts.loc[rest] = other.to_numpy()
    return parts


def _is_serial_text(text: pd.Series, arr: pa.Array, non_ascii: np.ndarray) -> np.ndarray:
    """True where a text is an Excel serial (`_SERIAL`): RE2, and Python's regex for non-ASCII texts."""
    out = pc.fill_null(pc.match_substring_regex(arr, _SERIAL_RE2), False).to_numpy(zero_copy_only=False)
    if non_ascii.any():
        out = out.copy()
        out[non_ascii] = text[non_ascii].str.fullmatch(_SERIAL).fillna(False).to_numpy(dtype=bool)
    return out


def _parse_date_texts(values: pd.Series) -> pd.Series:
    text = normalize_text(values)
    arr = pa.array(text.array)
    non_ascii = ~pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False)
    parts = _date_parts(text, arr, non_ascii)
    # a year a nanosecond timestamp cannot hold (9999-12-31, a common "no date" placeholder) is unreadable
    # as a date, not an error: it was an OutOfBoundsDatetime traceback that stopped the whole clean
    valid = parts["m"].between(1, 12) & parts["d"].between(1, 31) & parts["y"].between(*TIMESTAMP_YEARS)
    parts = parts.where(valid)
    out = pd.to_datetime(pd.DataFrame({"year": parts["y"], "month": parts["m"], "day": parts["d"]}), errors="coerce")
    serial_text = text.where(_is_serial_text(text, arr, non_ascii))
    serial = pd.to_numeric(serial_text, errors="coerce")
    serial = serial.where(serial.between(*EXCEL_SERIAL_RANGE))
    from_serial = EXCEL_EPOCH + pd.to_timedelta(np.floor(serial), unit="D")
    out = out.fillna(from_serial)
    return out.astype("datetime64[ns]")


#: A date at the start of a text, as the fast path does not read it; each pattern's groups name its
#: parts (y: year, m: month, mon: month name, d: day; a/b/c: three numbers in an order the text does
#: not say). The first pattern that matches with an acceptable rest decides.
_TIME = (
    r"(?:[ T]+\d{1,2}[:：]\d{2}(?:[:：]\d{2}(?:\.\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?"
    r"(?:\s*(?:[zZ]|[+-]\d{2}:?\d{2}))?)?"
)
_MONTH_NAME = r"(?P<mon>[A-Za-z]{3,9})\.?"
_OTHER_DATES = tuple(
    re.compile(p)
    for p in (
        rf"^(?P<y>\d{{4}})\s*[-/.年]\s*(?P<m>\d{{1,2}})\s*[-/.月]\s*(?P<d>\d{{1,2}})(?:\s*[日号])?{_TIME}",
        r"^(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})(?!\d)",
        rf"^(?P<a>\d{{1,2}})\s*(?P<s>[-/.])\s*(?P<b>\d{{1,2}})\s*(?P=s)\s*(?P<c>\d{{4}}|\d{{1,2}})(?!\d){_TIME}",
        rf"^{_MONTH_NAME}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(?P<y>\d{{4}})(?!\d)",
        rf"^(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s-]*{_MONTH_NAME}[\s,-]*(?P<y>\d{{4}}|\d{{2}})(?!\d)",
        rf"^(?P<y>\d{{4}})[\s-]*{_MONTH_NAME}[\s-]*(?P<d>\d{{1,2}})(?!\d)",
        r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*(?:月份?)?(?!\d)",
        rf"^{_MONTH_NAME}[\s,-]*(?P<y>\d{{4}})(?!\d)",
    )
)
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for name in names
}
#: Words after a date that make it a plan, a guess or a day that did not happen: 预计, 计划, 拟, 待, 未,
#: 约/左右 (about), 前/后/以前 (before, after), 底/初/中旬 (end, start, middle of …), 延期/推迟/暂缓 (postponed),
#: 取消/撤销/作废 (cancelled), 目标/要求/应/争取 (a target), expected, planned, TBC, due, a question mark.
_NOT_THE_DATE = re.compile(
    r"预计|计划|拟|待|未|约|左右|前|后|底|初|旬|延期|推迟|延后|暂缓|暂停|取消|撤销|作废|目标|要求|应|争取|"
    r"expect|plan|estimat|tbd|tbc|tba|approx|before|after|postpone|delay|cancel|target|schedul|due|[?？]",
    re.IGNORECASE,
)
#: Two-digit years read as 20yy: a 5G on-air or stage date lies in 2019 … 2039.
_YY_WINDOW = (19, 39)


#: The orders of a date of three numbers without a four-digit year first: F year/month/day (21/3/5, as
#: Chinese short dates are written), D day/month/year (17/03/2021), M month/day/year (3/17/2021).
_ORDERS = ("F", "D", "M")


def _read_other_date_texts(texts: pd.Series, parsed: pd.Series) -> pd.DataFrame | None:
    """For the distinct texts the fast path left unread: the `date` (NaT where unread or undecided);
    `order`, the order a decided date of three numbers was read in ('F', 'D', 'M'; '' for other dates
    or where the orders agree), or for an undecided one '?' and the orders it allows ('?DM'), whose
    dates are in columns F, D and M; `month_only`; `with_note`. None where every text was read (a
    national file: no Python per text)."""
    todo = texts.notna().to_numpy() & parsed.isna().to_numpy()
    if not todo.any():
        return None
    n = len(texts)
    out = {c: np.full(n, np.datetime64("NaT", "ns"), dtype="datetime64[ns]") for c in ("date", *_ORDERS)}
    out |= {"order": np.full(n, "", dtype=object), "month_only": np.zeros(n, bool), "with_note": np.zeros(n, bool)}
    at = np.flatnonzero(todo)
    text = normalize_text(texts[todo])
    # a whole column of 17/03/2021 10:30:15 (an export's every timestamp distinct) in Arrow, the other
    # spellings (rare) in Python: ~10 µs a text
    read, values = _read_three_numbers_in_arrow(text)
    for column, v in values.items():
        out[column][at[read]] = v
    rest = np.ones(len(at), dtype=bool)
    rest[read] = False
    found = [(i, _read_one_date(t)) for i, t in zip(at[rest], text[rest], strict=True) if isinstance(t, str)]
    if found:
        where = np.array([i for i, _ in found], dtype=np.int64)
        columns = ("date", "order", "month_only", "with_note", *_ORDERS)
        for j, column in enumerate(columns):
            v = [r[j] for _, r in found]
            is_date = column == "date" or column in _ORDERS
            out[column][where] = pd.to_datetime(pd.Series(v, dtype=object)).to_numpy("datetime64[ns]") if is_date else v
    return pd.DataFrame(out)


_THREE_NUMBERS_RE2 = (
    (
        r"^(?P<a>[0-9]{1,2})\s*(?P<s1>[-/.])\s*(?P<b>[0-9]{1,2})\s*(?P<s2>[-/.])\s*(?P<c>[0-9]{4}|[0-9]{1,2})"
        + _TIME
        + "$"
    )
    .replace("\\d", "[0-9]")
    .replace("\\s", _RE2_WHITESPACE)
)


def _read_three_numbers_in_arrow(text: pd.Series) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """`_read_three_numbers` of the ASCII texts that are a date of three numbers and nothing else (a
    time may follow), in Arrow and numpy, the same values as Python's: their positions in `text`, and
    their date, order and dates in each order."""
    arr = pa.array(text.array)
    ascii_ = pc.fill_null(pc.string_is_ascii(arr), False)
    matched = pc.extract_regex(pc.if_else(ascii_, arr, pa.scalar(None, arr.type)), _THREE_NUMBERS_RE2)
    hit = matched.is_valid().to_numpy(zero_copy_only=False)
    if hit.any():  # (one separator both times: 17/03/2021, not 17/03.2021)
        same = pc.fill_null(pc.equal(matched.field("s1"), matched.field("s2")), False)
        hit &= same.to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(hit)
    if not len(rows):
        return rows, {}
    take = pa.array(hit)
    part = {k: pc.filter(matched.field(k), take) for k in ("a", "b", "c")}
    a, b, c = (pc.cast(part[k], pa.int64()).to_numpy() for k in ("a", "b", "c"))
    len_a, len_c = (pc.utf8_length(part[k]).to_numpy() for k in ("a", "c"))
    lo, hi = _YY_WINDOW
    first = np.where((len_a == 2) & (len_c <= 2) & (a >= lo) & (a <= hi), 2000 + a, -1)
    last = np.where(len_c == 4, c, np.where((len_c == 2) & (c >= lo) & (c <= hi), 2000 + c, -1))
    dates = {"F": _dates_of(first, b, c), "D": _dates_of(last, b, a), "M": _dates_of(last, a, b)}
    valid = {k: ~np.isnat(v) for k, v in dates.items()}
    n_valid = sum(v.astype(np.int64) for v in valid.values())
    date = np.where(valid["F"], dates["F"], np.where(valid["D"], dates["D"], dates["M"]))
    agree = np.all([~valid[k] | (dates[k] == date) for k in _ORDERS], axis=0)
    letters = np.char.add(np.where(valid["F"], "F", ""), np.where(valid["D"], "D", ""))
    letters = np.char.add(letters, np.where(valid["M"], "M", ""))
    decided = agree & (n_valid >= 1)
    undecided = (n_valid >= 1) & ~decided
    order = np.where(decided & (n_valid == 1), letters, np.where(undecided, np.char.add("?", letters), ""))
    nat = np.datetime64("NaT", "ns")
    values = {"date": np.where(decided, date, nat), "order": order.astype(object)}
    for k in _ORDERS:
        values[k] = np.where(undecided, dates[k], nat)
    return rows, values


def _dates_of(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The dates (NaT where there is no such day or the year is -1) as datetime64[ns]."""
    ok = (year >= TIMESTAMP_YEARS[0]) & (year <= TIMESTAMP_YEARS[1]) & (month >= 1) & (month <= 12) & (day >= 1)
    frame = pd.DataFrame(
        {"year": np.where(ok, year, 2000), "month": np.where(ok, month, 1), "day": np.where(ok, day, 1)}
    )
    out = pd.to_datetime(frame, errors="coerce").to_numpy(dtype="datetime64[ns]")
    return np.where(ok, out, np.datetime64("NaT", "ns"))


def _read_one_date(text: str) -> tuple:
    """(date, order, month only, with note, and the dates in orders F, D, M) of one normalised text."""
    nat = None  # (datetime.date objects, a few times faster to make than Timestamps)
    for pattern in _OTHER_DATES:
        m = pattern.match(text)
        if not m:
            continue
        rest = text[m.end() :].strip()
        if re.search(r"\d", rest) or _NOT_THE_DATE.search(rest):
            continue  # a range (2021-03-05~08), a time not read, or a plan: not this pattern's date
        with_note = rest != ""
        parts = m.groupdict()
        if parts.get("mon") is not None:
            month = _MONTHS.get(parts["mon"].lower())
            if month is None:
                break
            parts["m"] = str(month)
        if parts.get("a") is not None:
            return _read_three_numbers(parts["a"], parts["b"], parts["c"], with_note)
        if len(parts["y"]) == 2 and not _YY_WINDOW[0] <= int(parts["y"]) <= _YY_WINDOW[1]:
            continue  # (5-Mar-98 is no day of a 5G buildout)
        year = int(parts["y"]) + (2000 if len(parts["y"]) == 2 else 0)
        month_only = parts.get("d") is None
        if month_only and re.fullmatch(r"\d{4}\s*\.\s*1", text[: m.end()].strip()):
            continue  # 2021.1: a spreadsheet's number 2021.10 shows so too (October or January: not read)
        date = _date_or_none(year, int(parts["m"]), 1 if month_only else int(parts["d"]))
        return date, "", month_only and date is not nat, with_note, nat, nat, nat
    return nat, "", False, False, nat, nat, nat


def _read_three_numbers(a: str, b: str, c: str, with_note: bool) -> tuple:
    """a/b/c in each order it allows: year first only with two digits each side (21/3/5), a two-digit
    year only within `_YY_WINDOW`. One date of them all: read (its order the evidence for the others of
    its group when only one order allowed it); several: undecided."""
    nat = None  # (datetime.date objects, a few times faster to make than Timestamps)

    def year_of(text: str) -> int | None:
        if len(text) == 4:
            return int(text)
        return 2000 + int(text) if len(text) == 2 and _YY_WINDOW[0] <= int(text) <= _YY_WINDOW[1] else None

    first, last = (year_of(a) if len(a) == 2 and len(c) <= 2 else None), year_of(c)
    dates = {
        "F": _date_or_none(first, int(b), int(c)) if first else nat,
        "D": _date_or_none(last, int(b), int(a)) if last else nat,
        "M": _date_or_none(last, int(a), int(b)) if last else nat,
    }
    allowed = {letter: date for letter, date in dates.items() if date is not nat}
    if len(set(allowed.values())) == 1:
        date = next(iter(allowed.values()))
        return date, (next(iter(allowed)) if len(allowed) == 1 else ""), False, with_note, nat, nat, nat
    if not allowed:
        return nat, "", False, with_note, nat, nat, nat
    return nat, "?" + "".join(allowed), False, with_note, dates["F"], dates["D"], dates["M"]


def _date_or_none(year: int, month: int, day: int) -> dt.date | None:
    """The date, or None where there is no such day (2021-02-30) or a nanosecond timestamp cannot hold it."""
    if not TIMESTAMP_YEARS[0] <= year <= TIMESTAMP_YEARS[1]:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


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
        # 60 is what a writer rounding 59.9996" (or 59.9999') writes: the next minute (degree), unambiguous;
        # beyond it, or 60' with seconds after it, no reading
        if minutes > 60 or seconds > 60 or (minutes == 60 and seconds > 0):
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
    # a plain decimal as written (nearly every coordinate of a national file) is its own normal form:
    # parsed as it is, and only the other texts are normalised (each row is parsed on its own)
    out = _parse_plain_decimals(values)
    rest = np.isnan(out)
    if rest.any():
        out[rest] = _parse_other_coordinates(values[rest]).to_numpy(dtype="float64")
    return pd.Series(out, index=values.index, copy=False)


def _parse_other_coordinates(values: pd.Series) -> pd.Series:
    """`parse_coordinates` of texts that need normalising first."""
    text = normalize_text(values)
    out = pd.Series(_parse_plain_decimals(text), index=text.index, copy=False)
    rest = text.notna().to_numpy() & np.isnan(out.to_numpy())
    if rest.any():
        out[rest] = pd.to_numeric(text[rest], errors="coerce").astype("float64")
    todo = text.notna() & out.isna()
    if todo.any():
        # a decimal comma (84,875123), as European-locale Excel writes in ";"-separated files
        comma = text.where(todo).str.fullmatch(r"-?\d{1,3},\d+").fillna(False)
        if comma.any():
            out[comma] = pd.to_numeric(text[comma].str.replace(",", ".", regex=False), errors="coerce")
            todo = todo & ~comma
    if todo.any():
        uniques = text[todo].unique()
        parsed = {u: _parse_one_coordinate(u) for u in uniques}
        out[todo] = text[todo].map(parsed).astype("float64")
    return out


#: A plain decimal of at most 15 significant digits: its digits fit a double's 53-bit mantissa exactly,
#: so any correctly rounded parser (pyarrow's, pandas') gives the same double; longer texts go to pandas.
_PLAIN_DECIMAL = r"^-?[0-9]{1,3}(\.[0-9]{1,12})?$"


def _parse_plain_decimals(text: pd.Series) -> np.ndarray:
    """The plain decimals (84.875123) of a column parsed by pyarrow, NaN elsewhere: pandas' parser takes
    ~0.25 s per million coordinates, pyarrow's a fifth of that. (A block of rows at a time, into one array:
    Arrow's and numpy's temporaries of a block reused, where those of a national column were ~0.3 GB of fresh
    pages, ~75 k faults.)"""
    out = np.empty(len(text), dtype=np.float64)  # (NaN where null, as Arrow gives it; writable: the caller fills in)
    at = 0
    for block in _row_blocks(pa.array(text.astype("str").array)):
        plain = _plain_decimal_rows(block)
        parsed = pc.cast(block if plain.all() else pc.if_else(plain, block, pa.scalar(None, block.type)), pa.float64())
        out[at : at + len(block)] = parsed.to_numpy(zero_copy_only=False)
        at += len(block)
    return out


#: The rows of a column `_row_blocks` gives at a time.
_ROWS_AT_ONCE = 1 << 18


def _row_blocks(array: pa.Array | pa.ChunkedArray) -> Iterator[pa.Array]:
    """An Arrow column as slices of at most `_ROWS_AT_ONCE` rows (of each chunk), without a copy."""
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        for lo in range(0, len(chunk), _ROWS_AT_ONCE):
            yield chunk.slice(lo, _ROWS_AT_ONCE)


def _plain_decimal_rows(array: pa.Array) -> np.ndarray:
    """True where a text is a plain decimal (`_PLAIN_DECIMAL`), False where missing. A text of digits and dots
    only is told by its length, its dots and the first one's place (three Arrow kernels and numpy: ~0.06 s a
    national file's 4.25 M coordinates, the regex ~0.25 s); the regex reads the texts of any other byte (a
    sign, a space, a letter)."""
    if isinstance(array, pa.ChunkedArray):
        return np.concatenate([_plain_decimal_rows(c) for c in array.chunks] or [np.zeros(0, dtype=bool)])
    other = rows_holding(array, bytes_outside("0-9."))
    # (in Arrow's kernels: its memory pool's pages reused, its flags a bit each; in numpy ~0.5 GB of fresh pages
    # for a national file's two columns)
    length = pc.binary_length(array)
    dot = pc.find_substring(array, ".")  # (the first; -1 where none)
    # a second dot somewhere only when the column holds more dots than texts with one (counted per text then)
    if count_byte(array, ord(".")) > (pc.sum(pc.greater_equal(dot, 0)).as_py() or 0):
        dot = pc.if_else(pc.greater(pc.count_substring(array, "."), 1), 0, dot)  # (no digit before it: not plain)
    # digits before the dot (all of them where there is none): 1 to 3; after it: 1 to 12
    has_dot = pc.greater_equal(dot, 0)
    whole = pc.if_else(has_dot, dot, length)
    after = pc.subtract(pc.subtract(length, dot), 1)
    short = pc.and_(pc.greater_equal(whole, 1), pc.less_equal(whole, 3))
    places = pc.or_(pc.invert(has_dot), pc.and_(pc.greater_equal(after, 1), pc.less_equal(after, 12)))
    plain = pc.fill_null(pc.and_(short, places), False).to_numpy(zero_copy_only=False) & ~other
    if other.any():
        plain[other] = pc.fill_null(pc.match_substring_regex(array.filter(other), _PLAIN_DECIMAL), False).to_numpy(
            zero_copy_only=False
        )
    return plain


_LABELLED_LON = re.compile(r"(?:经度|东经|lon(?:gitude)?|lng)\s*[:=]?\s*([^\s,;，；、]+)", re.I)
_LABELLED_LAT = re.compile(r"(?:纬度|北纬|lat(?:itude)?)\s*[:=]?\s*([^\s,;，；、]+)", re.I)


def _split_one_lonlat(text: str) -> tuple[str | None, str | None]:
    lon, lat = _LABELLED_LON.search(text), _LABELLED_LAT.search(text)
    if lon and lat:  # 经度:84.87 纬度:45.60, in either order
        return lon[1], lat[1]
    inner = re.sub(r"^[(\[{]\s*|\s*[)\]}]$", "", text)  # (84.87, 45.60)
    parts = re.split(r"\s*[,;/、]\s*|\s+", inner, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], None)


def split_lonlat(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A combined '经纬度' field split into lon and lat text: '84.87,45.60', '84.87 45.60', '(84.87, 45.60)',
    '84.87、45.60', '经度:84.87 纬度:45.60' (labels in either order)."""
    codes, uniques = pd.factorize(normalize_text(values), use_na_sentinel=True)
    pairs = [_split_one_lonlat(u) for u in uniques]
    lon_u = np.array([p[0] for p in pairs] + [None], dtype=object)
    lat_u = np.array([p[1] for p in pairs] + [None], dtype=object)
    lon = pd.Series(lon_u[codes], index=values.index, dtype=object, copy=False)
    lat = pd.Series(lat_u[codes], index=values.index, dtype=object, copy=False)
    return lon.where(lon.notna(), pd.NA), lat.where(lat.notna(), pd.NA)


# --- gNB IDs -----------------------------------------------------------------------------------

#: A gNB ID is 22 to 32 bits (3GPP TS 38.413): a larger number is not one, whatever it is written as.
GNB_ID_MAX = 2**32 - 1
_GNB_HEX = re.compile(r"^0X(?P<hex>[0-9A-F]+)$")
#: Hex without 0x: only hex digits, at least one a letter (a number of decimal digits only stays decimal).
_GNB_BARE_HEX = re.compile(r"^[0-9A-F]*[A-F][0-9A-F]*$")
#: The network's code before the ID: MCC-MNC-ID (460-00-800002, 460_0_800002).
_GNB_PLMN_PARTS = re.compile(r"^(?P<mcc>[2-7]\d{2})[-_.:/](?P<mnc>\d{2,3})[-_.:/](?P<id>\d+)$")
#: MCC and a two-digit MNC written before the ID as one number (46000800003): told by being too large
#: for a gNB ID.
_GNB_PLMN_JOINED = re.compile(r"^(?P<mcc>[2-7]\d{2})(?P<mnc>\d{2})(?P<id>\d+)$")


def _read_gnb_id(text: str) -> tuple[str, str] | None:
    """The decimal gNB ID a gNB ID column's code says and how it was read; None for a plain decimal
    (as it is) or a text that is no gNB ID in any of these forms (kept as the code it is)."""
    if text.isdigit():
        joined = _GNB_PLMN_JOINED.match(text) if int(text) > GNB_ID_MAX else None
        if joined and int(joined["id"]) <= GNB_ID_MAX:
            return str(int(joined["id"])), f"MCC {joined['mcc']} and MNC {joined['mnc']} before the ID"
        return None
    found = _GNB_HEX.match(text)
    if found or _GNB_BARE_HEX.match(text):
        value = int(found["hex"] if found else text, 16)
        return (str(value), "hexadecimal") if value <= GNB_ID_MAX else None
    parts = _GNB_PLMN_PARTS.match(text)
    if parts and int(parts["id"]) <= GNB_ID_MAX:
        return str(int(parts["id"])), f"MCC-MNC {parts['mcc']}-{parts['mnc']} before the ID"
    return None


def read_gnb_ids(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The codes of a gNB ID column (normalised: upper case, trimmed) as decimal gNB IDs: 0xC3500 and C3504
    (hex), 460-00-800002 and 46000800003 (the network's MCC and MNC before the ID). Returns the IDs read
    and how each was read, both NA where the code is a plain decimal or no gNB ID of these forms."""
    codes_of, uniques = factorize_text(codes)
    read = [None if pd.isna(u) else _read_gnb_id(str(u)) for u in uniques] + [None]
    ids = np.array([r[0] if r else None for r in read], dtype=object)
    how = np.array([r[1] if r else None for r in read], dtype=object)
    return (
        pd.Series(ids[codes_of], index=codes.index, dtype=object),
        pd.Series(how[codes_of], index=codes.index, dtype=object),
    )


# --- labels ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodedText:
    """A column of text factorised once (`code_text`): each row's code (-1 where missing) into the column's
    distinct texts, normalised. The rules that read one column several times (a status's stage, whether it says
    not on air, on hold, built only) read these few texts and take their answers to the rows by the codes: a
    national status column is factorised once, not once a rule (~0.1 s each at 4.25 M rows)."""

    codes: np.ndarray
    texts: pd.Series  # the distinct texts, `normalize_text`ed
    index: pd.Index
    name: object = None

    def take(self, at: np.ndarray) -> CodedText:
        """The rows at positions `at`, coded as they are."""
        return CodedText(self.codes[at], self.texts, self.index[at], self.name)


def code_text(values: pd.Series | CodedText) -> CodedText:
    """A column of text as `CodedText` (as it is when it is one already). The raw values are made distinct
    before normalising: a national column has millions of rows and a handful of labels."""
    if isinstance(values, CodedText):
        return values
    codes, raw_uniques = factorize_text(values)
    return CodedText(codes, normalize_text(pd.Series(raw_uniques, dtype=object)), values.index, values.name)


#: `_map_uniques`' fill when none is given.
_NO_FILL = object()


def _map_uniques(values: pd.Series | CodedText, fn, fill=_NO_FILL) -> pd.Series:
    """fn of each distinct normalised text; None where there is no text, NaN where fn says None (both
    `fill` instead when given, None too: filled in the few distinct values, not by a pass over every row's
    object)."""
    coded, mapped = _mapped_uniques(values, fn, fill)
    return pd.Series(mapped[coded.codes], index=coded.index, name=coded.name, dtype=object, copy=False)


def _map_uniques_as_text(values: pd.Series | CodedText, fn, fill=_NO_FILL) -> pd.Series:
    """`_map_uniques` of a `fn` that gives texts, as Arrow strings (pandas "str", NaN where it gives none or
    there is no text): the rows' texts taken by pyarrow from the few mapped (a national file's column of
    Python objects, ~0.3 s to make Arrow again downstream, never made)."""
    coded, mapped = _mapped_uniques(values, fn, fill)
    table = pa.array(mapped, pa.large_string(), from_pandas=True)
    codes = np.where(coded.codes < 0, len(mapped) - 1, coded.codes)  # (code -1: the last, a missing value)
    text = table.take(pa.array(codes, pa.int64()))
    return pd.Series(text.to_pandas(types_mapper=AS_STR).array, index=coded.index, name=coded.name, copy=False)


def _mapped_uniques(values: pd.Series | CodedText, fn, fill=_NO_FILL) -> tuple[CodedText, np.ndarray]:
    """The coded values and `fn` of each distinct text (`_map_uniques`), one more entry for code -1."""
    coded = code_text(values)
    mapped = np.empty(len(coded.texts) + 1, dtype=object)
    for i, u in enumerate(coded.texts):
        if pd.isna(u):
            mapped[i] = None
        else:
            v = fn(u)
            mapped[i] = np.nan if v is None else v
    mapped[-1] = None  # code -1: a missing value
    if fill is not _NO_FILL:
        mapped[pd.isna(mapped)] = fill
    return coded, mapped


def _flags_of_uniques(values: pd.Series | CodedText, fn) -> pd.Series:
    """True where `fn` says so of a row's distinct normalised text, False where it does not or there is none:
    `_map_uniques` for a yes/no question, the rows' flags taken from a table of bools by their codes (not
    through a column of Python objects: 0.18 s of 4.25 M rows' statuses)."""
    coded = code_text(values)
    table = np.zeros(len(coded.texts) + 1, dtype=bool)  # (the last: code -1, a missing value)
    for i, u in enumerate(coded.texts):
        table[i] = isinstance(u, str) and bool(fn(u))
    return pd.Series(table[coded.codes], index=coded.index, name=coded.name, copy=False)


#: Operator -> what names it: legal and short Chinese names, English names, and (in a cell of its own)
#: two-letter codes. 移动 followed by 式/端/应急… is "mobile" in the ordinary sense (移动式 = portable).
_OPERATOR_PATTERNS = {
    "CMCC": r"中国移动|中移|移动(?!式|端|互联|应急|通信车|车|电源|设备|办公|硬盘|存储)|cmcc|china\s*mobile",
    "CTCC": r"电信|ctcc|telecom",
    "CUCC": r"联通|联合网络通信|cucc|unicom",
    "CBN": r"广电|广播电视|cbn|broadnet|china\s*broadcasting|broadcasting\s*network",
}
#: In a cell of the operator column, also these (in a file name or title they mean something else).
_OPERATOR_CELL_PATTERNS = {
    "CMCC": r"^cm$|^mobile$|^中国移动通信",
    "CTCC": r"^ct$",
    "CUCC": r"^cu$",
    "CBN": r"^broadcast",
}


def _operators_named(text: str, in_cell: bool) -> list[str]:
    t = re.sub(r"[\s_]+", " ", text.lower()).strip()
    hits = [code for code, pattern in _OPERATOR_PATTERNS.items() if re.search(pattern, t)]
    if in_cell:
        hits += [
            code for code, pattern in _OPERATOR_CELL_PATTERNS.items() if code not in hits and re.search(pattern, t)
        ]
    return hits


def _operator(text: str) -> str:
    hits = _operators_named(text, in_cell=True)
    return hits[0] if len(hits) == 1 else "unknown"


def parse_operators(values: pd.Series | CodedText) -> pd.Series:
    """中国移动 / 移动 / CMCC / CM / China Mobile / 中国联合网络通信有限公司 … to CMCC, CTCC, CUCC, CBN;
    anything else (or two operators in one cell) 'unknown'."""
    return _map_uniques_as_text(values, _operator, fill="unknown")


def operator_of_context(text: str) -> str:
    """The one operator a file name, sheet name or title names, else 'unknown'. Stricter than a cell:
    'mobile' alone (China_Telecom_5G_mobile_sites) and 移动式 (portable) name no operator."""
    hits = _operators_named(unicodedata.normalize("NFKC", text), in_cell=False)
    return hits[0] if len(hits) == 1 else "unknown"


#: A tower-company row serving several tenants: 移动、联通 / 移动,电信 / 移动+联通, and the sharing phrases
#: 电信联通共享 / 移动/电信共享 / 三家共享: each tenant's equipment is its own station on the tower.
_TENANT_SEPARATORS = r"\s*(?:、|,|，|;|；|/|\+|＋|&|和|及|与|\(|\))\s*"
#: Words of sharing that name no operator (set aside before the operators are read).
_SHARING = re.compile(r"共建共享|共享|共建|共用|合建|shared|sharing|share|站点|站址|基站|站$", re.IGNORECASE)
#: Operator names that may follow one another with nothing between (电信联通, 移动联通电信).
_RUN_OF_NAMES = r"(?:中国)?(?:移动|电信|联通|广电)"
#: "The three (four) operators": China Mobile, China Telecom and China Unicom, the three that hold the
#: national networks and share towers through China Tower; four with China Broadnet (广电, CBN).
_ALL_OPERATORS = {
    "三家": "CMCC,CTCC,CUCC",
    "三方": "CMCC,CTCC,CUCC",
    "三网": "CMCC,CTCC,CUCC",
    "三大运营商": "CMCC,CTCC,CUCC",
    "三家运营商": "CMCC,CTCC,CUCC",
    "四家运营商": "CMCC,CTCC,CUCC,CBN",
    "四家": "CMCC,CTCC,CUCC,CBN",
    "四方": "CMCC,CTCC,CUCC,CBN",
}


def _tenants(text: str) -> str | None:
    rest = _SHARING.sub("", text).strip()
    if rest in _ALL_OPERATORS:  # (三家共享, 三家, 三家运营商)
        return _ALL_OPERATORS[rest]
    parts = []
    for part in (p for p in re.split(_TENANT_SEPARATORS, rest) if p):
        # 电信联通: operators named one after another
        parts += re.findall(_RUN_OF_NAMES, part) if re.fullmatch(f"(?:{_RUN_OF_NAMES}){{2,}}", part) else [part]
    if len(parts) < 2:
        return None
    codes = [_operator(p) for p in parts]
    if "unknown" in codes or len(set(codes)) != len(codes):
        return None
    return ",".join(codes)


def parse_tenants(values: pd.Series | CodedText) -> pd.Series:
    """'CMCC,CUCC' where a cell names two or more operators (移动、联通, 电信联通共享, 移动/电信共享; 三家共享
    is CMCC,CTCC,CUCC), else None."""
    out = _map_uniques(values, _tenants)
    return out.where(out.notna(), None)


def names_tenants(values: pd.Series | CodedText) -> pd.Series:
    """True where `parse_tenants` gives operators, told of the distinct texts (no column of Python objects
    made, then compared: ~0.35 s of a national file, whose cells each name one operator)."""
    return _flags_of_uniques(values, lambda text: _tenants(text) is not None)


_BAND_BY_MHZ = (
    (690, 810, "n28"),
    (1710, 1880, "n3"),
    (1920, 2170, "n1"),
    (2496, 2690, "n41"),
    (3300, 3800, "n78"),
    (4400, 5000, "n79"),
)


#: China Mobile's D band (D频段, 2575–2635 MHz, TD-LTE band 38/41), on which its 2.6 GHz NR runs: n41.
_D_BAND = re.compile(r"(?<![a-z0-9])d(?:频段|频|波段|band|-band)(?![a-z])|^d$")


def _band(text: str) -> str:
    t = text.lower()
    m = re.search(r"(?<![a-z0-9])n(\d{1,3})(?![0-9])", t)
    if m and f"n{int(m[1])}" in BANDS:
        return f"n{int(m[1])}"
    t = re.sub(r"\s+", "", t)
    if _D_BAND.search(t):
        return "n41"
    # the first frequency in the text: "5G NR 3.5GHz" and "5G(2.6G)" name the technology first
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ghz|g|mhz|m)?", t):
        value = float(m[1])
        unit = m[2]
        if unit is None:
            unit = "g" if "." in m[1] and value < 10 else "m"
        elif unit == "g" and "." not in m[1] and value < 10:
            continue  # "5G", "4G": the technology, not a frequency
        mhz = value * 1000 if unit.startswith("g") else value
        return next((band for lo, hi, band in _BAND_BY_MHZ if lo <= mhz <= hi), "unknown")
    return "unknown"


def parse_bands(values: pd.Series, unknown: str | None = "unknown") -> pd.Series:
    """2.6GHz / 2.6G / 2600M / n41 … to 3GPP NR band names; `unknown` where not said or not NR (None: what
    a record gives, missing, as Arrow strings, told in the few distinct texts; a comparison of each of a
    national file's 4.25 M band objects with 'unknown' was ~0.15 s)."""
    band = lambda t: None if (name := _band(t)) == "unknown" else name  # noqa: E731
    # (None: as Arrow strings, missing where not said: a national file's column not made of Python objects)
    return _map_uniques_as_text(values, band) if unknown is None else _map_uniques(values, band, fill=unknown)


_STATUS_RULES = (
    # a planned site given up (已取消): no site of the pipeline, no station (`clean` quarantines it)
    ("cancelled", ("已取消", "取消", "撤销", "作废", "cancelled", "canceled", "cancel")),
    (
        "decommissioned",
        (
            "退网",
            "退服",
            "拆除",
            "下线",
            "关闭",
            "关停",
            "停用",
            "停运",
            "撤站",
            "decommission",
            "removed",
            "closed",
            "shutdown",
            "disabled",
        ),
    ),
    (
        "on_air",
        (
            "已开通",
            "开通",
            "在网",
            "入网",
            "在用",
            "运行",
            "建成",  # 已建成, 塔已建成 (on air only with its date: `says_built_only`)
            "验收",  # 已验收 / 验收通过: accepted (on air only with its date)
            "交维",  # 已交维: handed over to maintenance, after acceptance: on air
            "onair",
            "on_air",
            "active",
            "live",
            "inservice",
        ),
    ),
    # 通电 / 送电: power on, commissioning still to come (the last stage)
    # (上电 / 加电: the equipment powered, still the last stage until it is on air)
    ("power_hookup", ("电源接入", "引电", "电源", "通电", "送电", "上电", "加电", "power")),
    # a tower company's words: 土建 (civil works: foundation, mast) then 设备安装 (the operator's equipment) are
    # both construction; civil works finished (土建完工) still wait for the equipment
    # (交付: the tower handed to its tenant, whose equipment is still to go up)
    (
        "construction",
        # (设备到货: the equipment delivered, to go up)
        ("在建", "建设", "施工", "开工", "土建", "安装", "塔桅", "交付", "到货", "construction", "building", "install"),
    ),
    # 谈点: negotiating the site with its owner, the step of site access; 已获取 / 已签约: the site obtained
    # (lease signed), construction not begun: a site stays in a stage until the next one's work starts
    ("site_access", ("进场", "入场", "谈点", "谈站", "洽谈", "获取", "签约", "租赁", "access", "acquired")),
    ("site_selection", ("选址", "勘察", "勘查", "查勘", "selection", "siting", "survey")),
    # 储备: a site on the tower company's reserve list, not yet started
    ("planned", ("规划", "立项", "计划", "待建", "储备", "需求", "planned", "plan", "reserve")),
)


#: Not on air, however it is said (待开通, 尚未开通, 未在网, 不在网, not active, inactive, offline …): a site, not a
#: station on air. (在网, active and their like are also words of the on-air rule: the negation is tested first.)
_ON_AIR_WORDS = r"(开通|入网|在网|在用|运行|上线|onair|active|live|inservice)"
_NOT_YET_ON_AIR = re.compile(
    rf"(未|待|尚未|暂未|拟|不|非|not|暂缓|缓){_ON_AIR_WORDS}|inactive|offline|离线"
    # a plan of going on air, however far the words lie apart (预计开通, 计划开通, 预计10月底开通)
    rf"|(预计|计划|预期|预定|expected|scheduled|planned)[^,，;；。]{{0,12}}?{_ON_AIR_WORDS}"
)
#: On hold (暂缓): the site stays in the stage the rest of the status names (in the pipeline when it names
#: none), held back by a blocker.
_ON_HOLD = re.compile(r"暂缓|缓建|挂起|搁置|onhold")


#: Built, not yet on air (已建成未开通): the site waits for power or commissioning, the last stage.
_BUILT = ("建成", "完工", "built", "completed")
#: Waiting for the last step (待开通, 待入网), ready for it (具备开通条件, 申请开通), or for acceptance and
#: testing (待验收, 调测): built, not on air, the last stage (power hook-up) — not a plan.
_LAST_STEP = re.compile(
    rf"^(?:等待|等|准备|即将|待)+{_ON_AIR_WORDS}中?$"
    rf"|具备{_ON_AIR_WORDS}|{_ON_AIR_WORDS}(?:条件|申请|准备)|申请{_ON_AIR_WORDS}"
)
_AWAITING_CHECKS = re.compile(r"(?:待|未|尚未|暂未)验收|验收中|调测|调试")
#: ... unless it is on air already (已开通待验收: on air, its acceptance to come)
_ON_AIR_DONE = re.compile(r"已(?:开通|入网|上线|交维)|在网|在用|运行")
#: Built or accepted and nothing else said (已建成, 塔已建成, 已验收): on air only when its on-air date is given
#: (a built site without one is not known to be on air).
_BUILT_ONLY = re.compile(r"建成|验收|built|accepted")
_SAYS_ON_AIR = re.compile(rf"{_ON_AIR_WORDS}|交维")


#: Equipment installed (设备已安装, 设备安装完成, 已完工): built, waiting for power or commissioning, the last stage.
_INSTALLED = re.compile(r"已安装|安装完成|安装完毕|安装完工|^已?完工$|^已?竣工$|installed")


#: A step said not to be done (不具备开通条件, 未建成, 塔未建成, 开通失败): the site is not at that step. Read as the
#: positive word, 未建成 counted as built and 不具备开通条件 as ready to go on air filled the last stage.
_NEGATED_STEP = re.compile(r"(?:暂|尚|还)?(?:不|未|没|没有)(?:具备|建成|完成|完工|竣工|满足)|失败")


def _status(text: str) -> str:
    t = re.sub(r"[\s\-_]+", "", text.lower())
    negated = _NEGATED_STEP.search(t)
    if negated:
        # the stage the other words name (选址未完成: site selection), else: a failed attempt to go on air is
        # still the last stage, an unfinished build is construction, "not ready" names no stage
        rest = t[: negated.start()] + t[negated.end() :]
        stage = _status(rest) if rest.strip("()（）,，;；、") else "unknown"
        if stage in ("planned", "site_selection", "site_access", "construction") and not _SAYS_ON_AIR.search(rest):
            return stage
        if "失败" in negated.group():
            return "power_hookup"
        return "construction" if re.search("建成|完工|竣工", negated.group()) else "unknown"
    if _LAST_STEP.search(t) or (_AWAITING_CHECKS.search(t) and not _ON_AIR_DONE.search(t)):
        return "power_hookup"
    not_yet = _NOT_YET_ON_AIR.search(t)
    if not_yet:  # the stage the rest of the words name (在建未开通: construction; 已建成未开通: power hook-up)
        rest = t[: not_yet.start()] + t[not_yet.end() :]
        if any(k in rest for k in _BUILT):
            return "power_hookup"
        stage = _status(rest) if rest.strip("()（）,，;；、") else "planned"
        stage = (
            stage
            if stage in ("planned", "site_selection", "site_access", "construction", "power_hookup")
            else "planned"
        )
        # (waiting for it, 待开通（暂缓）, is the last stage, held; not yet, 未开通, names no stage)
        return "power_hookup" if stage == "planned" and not_yet.group().startswith(("待", "等")) else stage
    if _ON_HOLD.search(t):
        rest = _ON_HOLD.sub("", t)
        return _status(rest) if rest.strip("()（）,，;；、") else "planned"
    if "开通中" in t or _INSTALLED.search(t):
        return "power_hookup"
    for status, keys in _STATUS_RULES:
        if any(k in t for k in keys):
            return status
    return "unknown"


def _built_only(text: str) -> bool:
    t = re.sub(r"[\s\-_]+", "", text.lower())
    return _status(t) == "on_air" and bool(_BUILT_ONLY.search(t)) and not _SAYS_ON_AIR.search(t)


def says_built_only(values: pd.Series | CodedText) -> pd.Series:
    """True where the status says the site is built or accepted and no more (已建成, 塔已建成, 已验收): on air only
    with an on-air date beside it."""
    return _flags_of_uniques(values, _built_only)


def parse_statuses(values: pd.Series | CodedText) -> pd.Series:
    """已开通 / 在建 / 规划 / 选址 / 进场 / 电源接入 / 已关闭 … to the fixed set in `schemas.STATUSES`."""
    return _map_uniques_as_text(values, _status, fill="unknown")  # (Arrow strings: no column of Python objects)


#: What begins a line under a table that is no record: totals (合计, 总计, 小计), notes (备注, 说明, 注：), who made
#: it and when (制表人, 填表人, 审核人, 日期：).
_NOT_A_RECORD = re.compile(
    r"^(合计|总计|小计|共计|累计|备注|说明|注[:：]|制表|填表|填报人|审核|负责人|联系人|统计人|日期[:：]|"
    r"total|subtotal|grandtotal|notes?[:：]|remarks?[:：]|preparedby)",
    re.I,
)


def says_not_a_record(values: pd.Series) -> pd.Series:
    """True where a cell begins with the words of a line that is no record (合计, 备注：…, 制表人：张三)."""
    return _flags_of_uniques(values, lambda text: _NOT_A_RECORD.match(re.sub(r"\s+", "", text)))


_PLACE_SUFFIX = re.compile(r"(市|地区|盟|自治州|分公司|公司|city|prefecture)+$")


def _place_key(text: str) -> str:
    return _PLACE_SUFFIX.sub("", re.sub(r"[\s\-_]+", "", unicodedata.normalize("NFKC", text).lower()))


def names_other_place(values: pd.Series, names: tuple[str, ...]) -> pd.Series:
    """True where a place's name (a province-wide file's 地市 column: 太原, 晋中市) is none of `names` (the city's
    Chinese and English names; 市, 分公司 … ignored: 阳泉 is 阳泉市); False where none is given."""
    keys = [k for k in (_place_key(n) for n in names if n) if k]

    def other(text: str) -> bool:
        t = _place_key(text)
        return bool(t) and bool(keys) and not any(k in t or t in k for k in keys)

    return _flags_of_uniques(values, other)


def status_flags(values: pd.Series | CodedText) -> tuple[np.ndarray, np.ndarray]:
    """Per status text: whether it says something no rule understands (not blank, stage unknown), and whether
    it says the site is on hold; found on the distinct texts (a national column holds a handful), the rows'
    flags taken by their codes (no Python object per row)."""
    coded = code_text(values)
    codes, text = coded.codes, coded.texts
    unknown, held = np.zeros(len(text) + 1, dtype=bool), np.zeros(len(text) + 1, dtype=bool)  # (last: missing)
    for i, t in enumerate(text):
        if isinstance(t, str) and t.strip():
            unknown[i] = _status(t) == "unknown"
            held[i] = bool(_ON_HOLD.search(re.sub(r"[\s\-_]+", "", t.lower())))
    return unknown[codes], held[codes]


def statuses_in(values: pd.Series | CodedText, names: tuple[str, ...]) -> np.ndarray:
    """`parse_statuses(values).isin(names)`, told of the distinct texts and taken to the rows by their codes (a
    look-up of each of a national file's 4.25 M status objects was ~0.1 s a set of names)."""
    coded = code_text(values)
    said = [(_status(t) if isinstance(t, str) else None) or "unknown" for t in coded.texts]
    return np.isin(np.array([*said, "unknown"], dtype=object), list(names))[coded.codes]  # (last: no text)


def says_not_on_air(values: pd.Series | CodedText) -> pd.Series:
    """True where the status says in so many words that the site is not on air (未开通, 待开通,
    尚未入网 …): a date beside it is a plan, not the day it went on air."""

    def not_on_air(text: str) -> bool:
        t = re.sub(r"[\s\-_]+", "", text.lower())
        return bool(_NOT_YET_ON_AIR.search(t) or _LAST_STEP.search(t))  # (准备开通, 具备开通条件: not yet either)

    return _flags_of_uniques(values, not_on_air)


_BLOCKER_RULES = (
    ("power_price", ("电价", "电费", "转供电", "高转供", "powerprice", "tariff")),
    ("power_hookup", ("电源", "引电", "供电", "外电", "电力", "市电", "停电", "无电", "没电", "没有电", "power")),
    # the owner or the neighbours keep the builders out: the lease (租金谈不拢), residents' complaints
    # (居民投诉辐射, 扰民), an owner who wants the mast gone (业主要求拆除)
    (
        "site_access",
        (
            "进场",
            "物业",
            "业主",
            "阻挠",
            "入场",
            "租金",
            "租赁",
            "房东",
            "村民",
            "居民",
            "投诉",
            "辐射",
            "扰民",
            "阻工",
            "赔偿",
            "补偿",
            "access",
            "lease",
            "complain",
            "resident",
        ),
    ),
    ("site_selection", ("选址", "站址", "selection", "siting")),
    ("construction", ("施工", "建设", "工程", "construction")),
)
_NO_BLOCKER = {"none", "no", "n/a", "na", "nil", "null", "否", "0", "0.0", "空"}
#: A cell of dashes, slashes or dots alone (-, —, ——, /, …) is a blank filled in, not a blocker.
_NO_BLOCKER_MARKS = re.compile(r"^[\-－—–―‐−/／\\.。·…_~～]+$")
_NOTHING = (
    r"(?:目前|当前|现|暂时?|尚|均)?(?:无需|无须|不需要?|无|没有?|不涉及|不存在|未发现|未见)(?:任何)?"
    r"(?:需要?协调的?(?:事项|问题|需求)?|协调(?:事项|问题|需求)?|问题|卡点|障碍|阻碍|异常|困难|事项)?"
)
#: The whole text says nothing holds the site back: 无 / 暂无 / 没有 / 无问题 / 无卡点 / 无阻碍 / 无需协调 / 目前无 (a
#: text that only begins with 无 or 没有 names a blocker: 无法进场, 无电源, 没有市电; 正常推进 and its like are
#: `_BLOCKER_GONE`'s).
_NO_BLOCKER_TEXT = re.compile(rf"^(?:{_NOTHING})(?:[,，;；、。.!！]+(?:{_NOTHING}))*[,，;；、。.!！]*$")
#: ... or that it is over or fine: 已解决 / 已协调 / 正常 (not 不正常, 非正常)
_BLOCKER_GONE = re.compile(r"已解决|已协调|(?<![不非])正常")
#: ... or that there is no problem of a kind: 无电源问题, 暂无进场问题 (not 无法进场问题)
_NO_PROBLEM_OF_A_KIND = re.compile(r"^(?:无|暂无|没有)(?!法)[^,，;；、]*问题$")


def _blocker(text: str) -> str | None:
    t = re.sub(r"\s+", "", text.lower())
    patterns = (_NO_BLOCKER_MARKS, _NO_BLOCKER_TEXT, _BLOCKER_GONE, _NO_PROBLEM_OF_A_KIND)
    if t in _NO_BLOCKER or any(p.search(t) for p in patterns):
        return None
    for blocker, keys in _BLOCKER_RULES:
        if any(k in t for k in keys):
            return blocker
    return "other"


def parse_blockers(values: pd.Series, none=np.nan) -> pd.Series:
    """选址 / 进场 / 建设 / 电源接入 / 高转供电价 … to `schemas.BLOCKERS`; None where there is no text, `none` where
    a text names no blocker (None: as where there is no text, filled in the few distinct texts)."""
    if none is None:  # (as Arrow strings, missing where none is named: no column of Python objects)
        return _map_uniques_as_text(values, _blocker)
    return _map_uniques(values, _blocker) if none is np.nan else _map_uniques(values, _blocker, fill=none)


#: Coordinate system -> words that name it, as people label the column's values: GCJ02(高德),
#: 百度坐标系(BD09), WGS84(GPS), 腾讯地图, 2000国家大地坐标系, 国家2000 … CGCS2000 is WGS-84 to well
#: under a metre here. Beijing-54 and Xi'an-80 are other datums on other ellipsoids: never guessed.
_CRS_WORDS = {
    "gcj02": ("gcj", "火星", "高德", "amap", "gaode", "autonavi", "腾讯", "tencent", "qq地图", "国测局", "soso"),
    "bd09": ("bd09", "bd-09", "百度", "baidu"),
    "wgs84": ("wgs", "gps", "4326", "cgcs", "2000国家", "国家2000", "国家大地2000", "北斗"),
    "other": (
        "北京54",
        "北京1954",
        "beijing54",
        "beijing1954",
        "西安80",
        "西安1980",
        "xian80",
        "xian1980",
        "1954",
        "1980",
        "54坐标",
        "80坐标",
        "utm",
        "高斯",
        "gauss",
    ),
}


def _crs(text: str) -> str:
    t = re.sub(r"[\s\-_:：.()（）\[\]【】]+", "", text.lower())
    if t == "2000" or re.fullmatch(r"(cgcs)?2000(坐标系?)?", t):
        return "wgs84"
    found = {crs for crs, words in _CRS_WORDS.items() if any(w.replace("-", "") in t for w in words)}
    return found.pop() if len(found) == 1 and "other" not in found else "unknown"


def crs_of_label(text: str) -> str | None:
    """'wgs84', 'gcj02' or 'bd09' where a label (a column's header: 经度(GCJ02), 高德经度, GPS纬度) names that
    system, else None."""
    found = _crs(unicodedata.normalize("NFKC", str(text)))
    return found if found in ("wgs84", "gcj02", "bd09") else None


def parse_crs(values: pd.Series) -> pd.Series:
    """坐标系 labels to 'wgs84', 'gcj02', 'bd09' or 'unknown'; None where not said."""
    return _map_uniques(values, _crs)


#: Dates a tracker writes as a period or without its year: a quarter (2021年Q3, 2021Q3, 2021年第三季度), the end
#: of a month (6月底, 2021年6月底, 10月末, 11月下旬), a month (2021.12, 2021年11月, 12月), a day without its year
#: (9月15日, 9月15号).
_CN_QUARTER = {"1": 1, "2": 2, "3": 3, "4": 4, "一": 1, "二": 2, "三": 3, "四": 4}
_PERIOD_QUARTER = re.compile(r"^(?P<y>(?:19|20)\d{2})年?(?:q|第)?(?P<q>[1-4一二三四])(?:季度|季)?$")
_PERIOD_MONTH = re.compile(r"^(?:(?P<y>(?:19|20)\d{2})[年.\-/])?(?P<m>\d{1,2})月?(?P<end>底|末|下旬)?$")
_PERIOD_DAY = re.compile(r"^(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?$")
_PERIOD_YEAR_END = re.compile(r"^(?P<y>(?:19|20)\d{2})年?(?:底|末|年底|年末|上半年|下半年)$")


class Precision(IntEnum):
    """How precise a date read from a period is, in months (a record's `on_air_months`, the dedupe's): a day is
    the day, a month's date within that month, a quarter's within three months, a year's end or half's within six."""

    DAY = 0
    MONTH = 1
    QUARTER = 3
    YEAR_OR_HALF = 6


def describe_period(precision: Precision, last_day: bool) -> str:
    """The words a note gives for the day a period of this precision was read as (its first or last day)."""
    if precision == Precision.YEAR_OR_HALF:
        return "the last day of the year or its half"
    if precision == Precision.QUARTER:
        return "the quarter's last day"
    if precision == Precision.MONTH:
        return "the month's last day" if last_day else "the month's first day"
    return "the day"


def _period_date(
    text: str, as_of: dt.date, latest_not_after: bool, plan_month_end: bool, nearest: bool = False
) -> tuple[dt.date, Precision, str] | None:
    """(date, its precision, the words of how it was read) for one period text, None when it is none of
    `_PERIOD_*`'s forms."""
    t = re.sub(r"\s+", "", text.lower())
    year = None
    if m := _PERIOD_YEAR_END.match(t):  # (the end of a year or of its half)
        month = 6 if t.endswith("上半年") else 12
        date = dt.date(int(m["y"]), month, 30 if month == 6 else 31)
        return date, Precision.YEAR_OR_HALF, describe_period(Precision.YEAR_OR_HALF, True)
    # (2021.3 and 2021年3 are months, never quarters)
    if (m := _PERIOD_QUARTER.match(t)) and ("q" in t or "第" in t or "季" in t):
        year, month, precision, last = int(m["y"]), 3 * _CN_QUARTER[m["q"]], Precision.QUARTER, True
        day = calendar.monthrange(year, month)[1]
    elif (m := _PERIOD_MONTH.match(t)) and 1 <= int(m["m"]) <= 12 and (m["y"] or "月" in t):
        month, year, precision = int(m["m"]), int(m["y"]) if m["y"] else None, Precision.MONTH
        last = bool(m["end"]) or plan_month_end
        day = None if last else 1
    elif m := _PERIOD_DAY.match(t):
        month, day, precision, last = int(m["m"]), int(m["d"]), Precision.DAY, False
    else:
        return None
    how = describe_period(precision, last)
    written = year is not None
    if not written and nearest:
        return _nearest_period_date(as_of, month, day, precision, how)
    year = as_of.year if year is None else year
    date = _date_or_none(year, month, calendar.monthrange(year, month)[1] if day is None else day)
    if date is None or written:
        return None if date is None else (date, precision, how)
    # a year left out is the extract's year; a date that has happened (on air on 9月15日 in a January
    # extract) the latest such date not after the extract's
    if latest_not_after and date > as_of:
        year -= 1
        date = _date_or_none(year, month, calendar.monthrange(year, month)[1] if day is None else day)
    return None if date is None else (date, precision, f"{how}, the year {year} (not written)")


def _nearest_period_date(
    near: dt.date, month: int, day: int | None, precision: Precision, how: str
) -> tuple[dt.date, Precision, str] | None:
    """(date, precision, how) of a month or day without its year in the year that puts it nearest `near` (the
    previous, the same or the next year: within six months either side; a tie goes to the later, as a plan looks
    ahead)."""
    found = []
    for year in (near.year - 1, near.year, near.year + 1):
        date = _date_or_none(year, month, calendar.monthrange(year, month)[1] if day is None else day)
        if date is not None:
            found.append((abs((date - near).days), -year, date))
    if not found:
        return None
    date = min(found)[2]
    return date, precision, f"{how}, the year {date.year} (not written: the nearest {near.isoformat()})"


class PeriodDates(NamedTuple):
    """Dates read from periods: the dates (NaT where none), each one's precision in months (`Precision`; -1
    where none was read) and the words of how each was read, for a note (None where none was)."""

    dates: pd.Series
    months: pd.Series
    how: pd.Series


def read_period_dates(
    values: pd.Series, as_of, latest_not_after: bool, plan_month_end: bool, near: pd.Series | None = None
) -> PeriodDates:
    """Dates of the forms `read_dates` leaves unread that trackers write (`_PERIOD_*`): a quarter as its last
    day, a month's end as its last day, a month as its first day (its last when `plan_month_end`: a plan for a
    month is kept to its end), a day or month without its year in the year of `as_of`, or (`latest_not_after`:
    a date that has happened) the latest such date not after `as_of`, or (`near`: each row's day, as the table's
    date) a plan in the year that puts it nearest that day, a date that has happened the latest such date not
    after that day (nor after `as_of`: read against the report date, 已开通 1月3日 in a tracker of 2021-12-20
    moved a year with it). Returns the dates, their precision and how each was read (`PeriodDates`)."""
    if near is None:
        return _read_period_dates_near(values, pd.Timestamp(as_of).date(), latest_not_after, plan_month_end, False)
    # (a handful of tables' days: each read on its own)
    out = _no_period_dates(values.index)
    days = pd.to_datetime(near).fillna(pd.Timestamp(as_of))
    if latest_not_after:
        days = days.clip(upper=pd.Timestamp(as_of))
    for day, rows in values.groupby(days.to_numpy()).groups.items():
        read = _read_period_dates_near(
            values[rows], pd.Timestamp(day).date(), latest_not_after, plan_month_end, not latest_not_after
        )
        for whole, part in zip(out, read, strict=True):
            whole[rows] = part
    return out


def _no_period_dates(index: pd.Index) -> PeriodDates:
    return PeriodDates(
        pd.Series(pd.NaT, index=index, dtype="datetime64[ns]"),
        pd.Series(-1, index=index, dtype=np.int8),
        pd.Series(None, index=index, dtype=object),
    )


def _read_period_dates_near(
    values: pd.Series, as_of: dt.date, latest_not_after: bool, plan_month_end: bool, nearest: bool = True
) -> PeriodDates:
    read = _map_uniques(values, lambda text: _period_date(text, as_of, latest_not_after, plan_month_end, nearest))
    found = read.map(lambda r: isinstance(r, tuple))
    out = _no_period_dates(values.index)
    if found.any():
        out.dates[found] = pd.to_datetime([r[0] for r in read[found]])
        out.months[found] = np.array([r[1] for r in read[found]], dtype=np.int8)
        out.how[found] = [r[2] for r in read[found]]
    return out


#: What a blocker text may add to a category's own word and still say no more than the category (选址难,
#: 电源问题, 进场受阻).
_BLOCKER_FILLER = re.compile(r"(问题|困难|难|受阻|卡点|阻碍|原因|方面|^待|[,，;；、。.!！()（）])")
#: The article's names of the blockers (选址、进场、建设、电源接入、高转供电价), beside each rule's own words.
_BLOCKER_NAMES = {"power_hookup": ("电源接入", "引电"), "power_price": ("高转供电价", "转供电价", "转供电电价")}


def _blocker_detail(text: str) -> str | None:
    kind = _blocker(text)
    if kind is None:
        return None
    bare = _BLOCKER_FILLER.sub("", re.sub(r"\s+", "", text.lower()))
    words = next((keys for name, keys in _BLOCKER_RULES if name == kind), ()) + _BLOCKER_NAMES.get(kind, ())
    says_only_its_kind = bare in words or bare == kind or bare in ("其他", "其它", "other", "others")
    return None if says_only_its_kind else text.strip()


def blocker_details(values: pd.Series) -> pd.Series:
    """The blocker as written where it says more than its category (租金谈不拢, 居民投诉辐射 — the task force
    shows the words); None where it names none, or only its category (选址, 电源问题, 进场受阻)."""
    return _map_uniques(values, _blocker_detail)


#: The day a table is of, as a tracker's file name, sheet name or title says it: a day (2021-10-15, 2021年10月15日,
#: 20211015), a day without its year (10月15日), a week (第41周, week 41), a month (2021年10月, 2021-10).
_TABLE_DAY = re.compile(  # (one separator throughout: 2021年3-4月 is a span of months, not 4 March)
    r"(?<!\d)(?P<y>20\d{2})\s*(?:年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})(?!\d)\s*[日号]?"
    r"|(?P<s>[\-/._])(?P<m2>\d{1,2})(?P=s)(?P<d2>\d{1,2})(?!\d))"
)
_TABLE_COMPACT_DAY = re.compile(r"(?<!\d)(?P<y>20\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)")
_TABLE_MONTH_DAY = re.compile(r"(?<!\d)(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")
_TABLE_WEEK = re.compile(r"第\s*(?P<w>\d{1,2})\s*周|(?<![a-z])(?:week|wk)\s*(?P<w2>\d{1,2})(?!\d)", re.IGNORECASE)
_TABLE_MONTH = re.compile(r"(?<!\d)(?P<y>20\d{2})\s*(?:年\s*(?P<m>\d{1,2})\s*月|[\-/._](?P<m2>\d{1,2})(?![\d\-/._]))")
_TABLE_YEAR = re.compile(r"(?<!\d)(?P<y>20\d{2})\s*年")


def _day_of(text: str, as_of: dt.date) -> tuple[int, dt.date, str] | None:
    """How precise (0: a day … 3: a month), the day one text (a file name, sheet name or title) dates its table
    to, and the words read."""
    year = _TABLE_YEAR.search(text)
    for pattern in (_TABLE_DAY, _TABLE_COMPACT_DAY):
        for m in pattern.finditer(text):
            month, day = (m["m"], m["d"]) if m["m"] else (m["m2"], m["d2"])
            if found := _date_or_none(int(m["y"]), int(month), int(day)):
                return 0, found, m.group(0)
    if m := _TABLE_MONTH_DAY.search(text):
        y = int(year["y"]) if year else as_of.year
        day = _date_or_none(y, int(m["m"]), int(m["d"]))
        if day is not None and year is None and day > as_of:  # (a year left out: the latest such day)
            day = _date_or_none(y - 1, int(m["m"]), int(m["d"]))
        return (1, day, m.group(0)) if day else None
    if m := _TABLE_WEEK.search(text):
        week, y = int(m["w"] or m["w2"]), int(year["y"]) if year else as_of.year
        try:  # (its Monday: a week's report is of the week it ends in, at the latest)
            day = dt.date.fromisocalendar(y, week, 1)
        except ValueError:
            return None
        if year is None and day > as_of:
            day = dt.date.fromisocalendar(y - 1, min(week, 52), 1)
        return 2, day, m.group(0)
    if m := _TABLE_MONTH.search(text):
        y, month = int(m["y"]), int(m["m"] or m["m2"])
        if 1 <= month <= 12:
            return 3, dt.date(y, month, 1), m.group(0)
    return None


def date_of_table(texts: dict[str, str], as_of) -> tuple[dt.date, str] | None:
    """The day a table is of, from the most precise of `texts` (where -> text: its sheet name, its file name,
    its title; the first of them among equals) that names one, and what was read where ("'第41周' in the file
    name"); None when none does. A week is its Monday, a month its first day; a day or week without its year
    the latest one not after `as_of`."""
    as_of = pd.Timestamp(as_of).date()
    found = []
    for k, (where, text) in enumerate(texts.items()):
        day = _day_of(unicodedata.normalize("NFKC", str(text)), as_of) if text else None
        if day:
            found.append((day[0], k, day[1], f"{day[2]!r} in the {where}"))
    return min(found)[2:] if found else None
