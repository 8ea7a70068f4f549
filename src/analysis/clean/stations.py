"""Cleaning: raw station records in, one row per physical station out, nothing lost.

Every raw row ends kept, merged into another row (an exact or near duplicate, a cell of the same
gNB, the same station seen by another source) or quarantined with a reason, and
`clean_summary.json` shows rows_in == rows_kept + rows_merged + rows_quarantined.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import json
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals

from analysis import geo
from analysis.clean import parse
from analysis.clean.dedupe import (
    DUPLICATE_RADIUS_M,
    MATCH_RADIUS_M,
    SENDER_GNB_ID,
    SENDER_OPERATOR,
    SENDER_TOWER,
    dedupe_keys,
    dedupe_rows,
    import_scipy,
    match_sites,
    merge_across_senders,
    record_keys,
    rows_of_later_senders,
    rows_that_may_merge,
    sender_of_table,
)
from analysis.clean.ledger import (
    DISAGREE_RADIUS_M,
    MERGE_REASONS,  # noqa: F401  (re-exported: the reasons users look up here)
    QUARANTINE_REASONS,  # noqa: F401
    build_quarantine,
    build_source_ledger,
    cell_site_positions,
    fate_cell_rows,
    fate_operator_rows,
    select_unkept_rows,
    summarize,
    write_table_csv,
)
from analysis.clean.sources import (
    CELL_LABEL,
    FIELDS,
    HEADER_SYNONYMS,
    OPENCELLID_COLUMNS,
    NotATableError,
    RawTable,
    list_input_files,
    list_skipped_files,
    read_station_file,
)
from analysis.config import OPERATORS, City, parse_date, resolve_city
from analysis.errors import BadInputError, UsageError
from analysis.files import (
    project_relative,
    read_parquet_columns,
    sha256_of,
    write_aside,
    write_atomic,
    write_json,
)
from analysis.progress import Progress, task
from analysis.schemas import (
    STAGE_DATE_COLUMNS,
    STAGES,
    STATION_COLUMNS,
    STATION_DTYPES,
    TRACKER_COLUMNS,
    on_air_at,
    stations_schema,
)

#: What the reader said of a line it could read only in part: a note (the row is used) or a problem
#: (the row is quarantined as unreadable_line). Not columns of the source, so not in quarantine.csv.
READ_COLUMNS = ("read_note", "read_problem")
#: China's 5G licences were issued on 2019-06-06; an NR on-air date before 2019 is a typo.
EARLIEST_ON_AIR = pd.Timestamp("2019-01-01")
#: A stage date (planned … power hookup) before this is a placeholder (1900-01-01, 1970-01-01), not a day of a
#: 5G buildout: China's 5G planning began in 2018; a few years' margin for sites planned long before.
EARLIEST_STAGE_DATE = pd.Timestamp("2015-01-01")
DEFAULT_GNB_ID_BITS = 24


@dataclass
class CleanResult:
    """What `clean_stations` returns: the three outputs, the source ledger and the files that failed.

    `table` is the station table without point objects; `stations` the same as a GeoDataFrame, its
    points made on first use (a national table's shapely points are ~0.2 KB a station, and writing
    the table needs none of them: see `write_stations`)."""

    table: pd.DataFrame
    quarantine: pd.DataFrame
    summary: dict
    source_matches: pd.DataFrame

    @functools.cached_property
    def stations(self) -> gpd.GeoDataFrame:
        """The stations as WGS-84 points (GeoDataFrame), built from `table` once."""
        return _with_points(self.table)

    @property
    def failed_files(self) -> list[str]:
        """One line per file that could not be read at all (also in the summary)."""
        return self.summary["failed_files"]


# --- helpers -----------------------------------------------------------------------------------

#: The steps of the cleaning after the files are read, each a step of its progress: rows parsed, duplicates
#: merged, stations built, the summary (a national file's stages are ~15 s: a bar that moved only per file read
#: sat still through them).
CLEAN_STAGE_STEPS = 4


def _advance(progress: Progress | None, note: str) -> None:
    """One step of the cleaning's progress, when there is a task to advance (the partitions have none)."""
    if progress is not None:
        progress.advance(note=note)


def parse_gnb_id_bits(spec: str | int | dict | None) -> dict[str, int]:
    """'24' or 'CMCC=24,CTCC=22' (or a dict) to {operator: bits}, with key '*' the default."""
    if spec is None:
        return {"*": DEFAULT_GNB_ID_BITS}
    if isinstance(spec, dict):
        out = {"*": DEFAULT_GNB_ID_BITS, **spec}
    elif isinstance(spec, int):
        out = {"*": spec}
    else:
        out = {"*": DEFAULT_GNB_ID_BITS}
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            key, _, value = part.rpartition("=")
            key = key.strip().upper() or "*"
            if key not in OPERATORS and key != "*":
                raise UsageError(f"--gnb-id-bits: unknown operator {key!r} (use one of {', '.join(OPERATORS[:4])})")
            try:
                out[key] = int(value)
            except ValueError:
                raise UsageError(f"--gnb-id-bits: {value!r} is not a number of bits") from None
    for key, bits in out.items():
        if not 22 <= bits <= 32:
            raise UsageError(f"--gnb-id-bits: {key}={bits} is outside 3GPP's 22–32 bits")
    return out


def _join_in_order(keys: pd.Series, values: pd.Series, sep: str = "; ") -> pd.Series:
    """Per key, its values joined in their order; one Python join per key with several values only
    (most stations have one record, and a per-group lambda costs seconds per 100,000 groups)."""
    k = pd.Series(keys.to_numpy())
    # Arrow strings stay Arrow strings (a national file's source labels as Python strings cost ~0.1 KB each)
    dtype = values.dtype if isinstance(values.dtype, pd.StringDtype) else object
    v = pd.Series(values.array if dtype is not object else values.to_numpy(dtype=object), dtype=dtype)
    multi = k.duplicated(keep=False).to_numpy()
    single = pd.Series(v[~multi].array, index=k[~multi].to_numpy(), dtype=dtype)
    if not multi.any():
        return single
    return pd.concat([single, _join_groups(k[multi].to_numpy(), v[multi], sep, dtype)])


def _join_groups(keys: np.ndarray, values: pd.Series, sep: str, dtype) -> pd.Series:
    """`values.groupby(keys, sort=False).agg(sep.join)` (keys in order of first sight, values in their
    order, missing keys dropped), joined by pyarrow as lists (`binary_join`): a Python join per group
    took ~0.8 s for the ~0.4 M stations of several records of a national file."""
    codes, uniques = pd.factorize(keys)
    kept = codes >= 0
    codes, values = codes[kept], values[kept]
    order = np.argsort(codes, kind="stable")
    offsets = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(uniques)))].astype(np.int64)
    if isinstance(dtype, pd.StringDtype):
        text = pa.chunked_array(pa.array(values.array)).combine_chunks().cast(pa.large_string())
    else:
        text = pa.array(values.to_numpy(dtype=object), pa.large_string())
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), text.take(pa.array(order)))
    joined = pc.binary_join(lists, pa.scalar(sep, pa.large_string()))
    if isinstance(dtype, pd.StringDtype):
        out = joined.to_pandas(types_mapper={pa.large_string(): dtype}.get).array
    else:
        out = joined.to_numpy(zero_copy_only=False)
    return pd.Series(out, index=pd.Index(uniques), dtype=dtype, copy=False)


def _join_unique_sorted(keys: pd.Series, values: pd.Series, sep: str = "; ") -> pd.Series:
    """Per key, its distinct non-missing values sorted and joined, a part (between `sep`s) said by two values
    said once (two weeks' records of a site both noting how its plan was read); None where it has none."""
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy(dtype=object)}).dropna(subset=["v"])
    frame = frame.drop_duplicates().sort_values("v", kind="stable")
    parts = frame.assign(v=frame["v"].str.split(sep)).explode("v").drop_duplicates()
    out = _join_in_order(parts["k"], parts["v"], sep)
    return out.reindex(pd.unique(keys.to_numpy()))


def _text(raw: pd.DataFrame, column: str, rows=None) -> pd.Series:
    """A raw column (of the `rows` mask or labels only, when given) as Python strings, None where
    empty: what the parsers and the notes read; the frame itself keeps Arrow strings."""
    values = raw[column] if rows is None else raw.loc[rows, column]
    out = values.to_numpy(dtype=object, na_value=None)
    return pd.Series(out, index=values.index, name=column, dtype=object, copy=False)


def _fresh(values: np.ndarray, index: pd.Index) -> pd.Series:
    """A column of an array made for it (no other holder) without a copy: pandas copies an array set
    as a column or given to a Series (a national file's columns, ~35 MB each, and a reference count
    per object)."""
    return pd.Series(values, index=index, copy=False)


def _taken(values: pd.Series, at: np.ndarray, index: pd.Index) -> pd.Series:
    """`values` at positions `at`, on `index`, in a column of their own: Arrow strings taken by pyarrow
    (through numpy they became a Python string per row, made Arrow again: ~0.5 s a national column),
    numbers and Python objects taken by numpy (objects read as pandas reads them into a Series)."""
    if isinstance(values.dtype, np.dtype):
        return _fresh(values.to_numpy()[at], index)
    return pd.Series(values.take(at).array, index=index, copy=False)


def _objects(values: np.ndarray, index: pd.Index) -> pd.Series:
    """`_fresh` of an array of Python objects, kept of object dtype without pandas looking through it."""
    return pd.Series(values, index=index, dtype=object, copy=False)


def _as_written(values: pd.Series) -> pd.Series:
    """A column of text as Python strings, None where empty (as `_text` gives them); a column of Python
    objects as it is."""
    if values.dtype == object:
        return values
    out = values.to_numpy(dtype=object, na_value=None)
    return pd.Series(out, index=values.index, name=values.name, dtype=object, copy=False)


def _source_label(file: pd.Series, sheet: pd.Series, row: pd.Series) -> pd.Series:
    """file[sheet]:row (file:row without a sheet) per row, as Arrow strings joined by pyarrow (pandas'
    string concatenation of a national file's rows takes seconds and a copy per step).

    Rows of a few files and sheets are joined per (file, sheet) to its prefix written once: the file's
    name repeated per row (and a cast of it) was ~0.5 GB of a national file at the peak of the build."""
    rows = pc.cast(pa.array(row.to_numpy(dtype="int64")), pa.large_string())
    file_codes, files = _dictionary_codes(file)
    sheet_codes, sheets = _dictionary_codes(sheet)
    key = file_codes * max(len(sheets), 1) + sheet_codes
    if len(key) and key.min() == key.max():  # rows of one file and sheet (a national file): nothing sorted
        groups, first, order, bounds = key[:1], np.zeros(1, dtype=np.int64), None, [0, len(key)]
    else:
        groups, first = np.unique(key, return_index=True)
        if len(groups) > _MAX_LABEL_PREFIXES:
            return _source_label_per_row(file, sheet, rows)
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], groups).tolist() + [len(key)]
    parts = []
    for g, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        name, tab = files[file_codes[first[g]]], sheets[sheet_codes[first[g]]]
        part = rows if len(groups) == 1 else rows.take(pa.array(order[lo:hi]))
        if name is None:  # (a row without a file has no label, as a per-row join gives)
            parts.append(pa.nulls(hi - lo, pa.large_string()))
            continue
        prefix = f"{name}[{tab}]:" if tab is not None else f"{name}:"
        # (the prefix put in before each row's number: ~10x less CPU than a join of it to every row)
        parts.append(pc.binary_replace_slice(part, 0, 0, prefix))
    if len(parts) == 1:
        label = parts[0]
    elif parts:  # each row back in its place
        label = pa.chunked_array(parts, pa.large_string()).combine_chunks().take(pa.array(np.argsort(order)))
    else:
        label = rows.slice(0, 0)
    return pd.Series(label.to_pandas(types_mapper=_AS_STRING.get).array, index=file.index)


#: More distinct (file, sheet) pairs than this: the labels are joined row by row.
_MAX_LABEL_PREFIXES = 256


def _dictionary_codes(values: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes of a text column (missing values one code of their own) and its distinct values
    (None for the missing), encoded by pyarrow (a category column by its categories)."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # (its names not written out per row)
        codes = values.cat.codes.to_numpy().astype(np.int64)
        codes[codes < 0] = len(values.cat.categories)
        return codes, [*map(str, values.cat.categories), None]
    array = pa.chunked_array(pa.array(pd.Series(values).astype("string").array)).combine_chunks()
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def _source_label_per_row(file: pd.Series, sheet: pd.Series, rows: pa.Array) -> pd.Series:
    """`_source_label` joined row by row (rows of many files and sheets)."""

    def as_large(values: pd.Series) -> pa.ChunkedArray:
        return pc.cast(pa.chunked_array(pa.array(values.astype("string").array)), pa.large_string())

    def text(value: str) -> pa.Scalar:
        return pa.scalar(value, pa.large_string())

    sheet_part = pc.fill_null(pc.binary_join_element_wise(text("["), as_large(sheet), text("]"), text("")), "")
    label = pc.binary_join_element_wise(as_large(file), sheet_part, text(":"), rows, text(""))
    return pd.Series(label.to_pandas(types_mapper=_AS_STRING.get).array, index=file.index)


#: Arrow large strings to pandas' "string" (Arrow-backed, NA where missing), the labels' dtype
_AS_STRING = {pa.large_string(): pd.StringDtype("pyarrow")}


def _normalize_code(values: pd.Series) -> pd.Series:
    """Site codes in one form: NFKC, trimmed, upper case, inner spaces as _, Excel's ".0" dropped; NA
    where blank. A code of capital letters and digits only (nearly every code of a national file) is
    that form already: only the others go through the eight passes of the normalising. (Told by a byte
    outside 0-9A-Z, not by a regex: 0.2 -> 0.04 s a national file's 4.25 M codes.)"""
    text = values.astype("string")
    array = pa.array(text.array)
    filled = pc.fill_null(pc.greater(pc.binary_length(array), 0), False).to_numpy(zero_copy_only=False)
    plain = filled & ~parse.rows_holding(array, parse.bytes_outside("0-9A-Z"))
    if plain.all():
        return text
    if not plain.any():
        return _normalize_other_codes(values)
    text = text.copy()
    text[~plain] = _normalize_other_codes(values[~plain])
    return text


def _normalize_other_codes(values: pd.Series) -> pd.Series:
    """`_normalize_code` of codes that may need each step."""
    text = parse.normalize_text(values).str.upper()
    # Python's regex (pyarrow's \s and \d are ASCII only) only where a cheap Arrow test says it can match
    text = parse.replace_where(text, parse.has_whitespace(text), r"\s+", "_")
    # Excel turns long numeric codes into floats: "6502030001.0" is code 6502030001
    return parse.replace_where(text, parse.ends_with(text, ".0"), r"^(\d+)\.0$", r"\1")


#: 6.50203E+13: a long numeric code Excel showed in scientific notation and saved so; its last digits
#: are gone, so it no longer tells sites apart (it would make every site of a block one "conflict").
_MANGLED_CODE = r"^\d(?:\.\d+)?E\+?\d+$"


# --- reading -----------------------------------------------------------------------------------


def _read_all(files: list[Path], progress=None) -> tuple[list[RawTable], list[dict], list[str]]:
    tables, file_info, failed = [], [], []
    # (a file's checksum made while it is parsed: hashlib releases the GIL)
    with ThreadPoolExecutor(1) as hashing:
        for path in files:
            try:
                hashed = hashing.submit(sha256_of, path)  # once per file, not per sheet
                file_tables = read_station_file(path)
                digest = hashed.result()
            except NotATableError as exc:  # a README beside the data: said, not a failure
                file_info.append({"file": project_relative(path), "skipped": exc.problem})
                continue
            except BadInputError as exc:
                failed.append(exc.one_line())
                file_info.append({"file": project_relative(path), "error": exc.problem})
                continue
            finally:
                if progress is not None:
                    progress.advance(note=f"read {path.name}")
            for t in file_tables:
                tables.append(t)
                info = {
                    "file": project_relative(t.path),
                    "sheet": t.sheet,
                    "kind": t.kind,
                    "encoding": t.encoding,
                    "header_row": t.header_row,
                    "rows": int(len(t.frame)),
                    "columns": t.columns,
                    "columns_not_read": list(t.columns_not_read),
                    "trailing_empty_rows_ignored": t.trailing_blank_rows,
                    "sha256": digest,
                }
                if t.notes:
                    info["notes"] = list(t.notes)
                file_info.append(info)
    return tables, file_info, failed


def _stack(tables: list[RawTable], kind: str, columns: tuple[str, ...], release: bool = False) -> pd.DataFrame:
    """The tables of one kind as one frame of Arrow strings, with each row's file, sheet and row (an operator
    report's rows not yet split by tenant: `_split_tenants`); `release`: each table's frame is emptied once
    taken (the run's own tables: no second copy)."""
    frames = []
    for t in tables:
        if t.kind != kind:
            continue
        frames.append(_stack_columns(t, columns, kind))
        if release:
            t.frame = _emptied(t.frame)
    if not frames:
        extra = ["file_operator"] if kind == "operator" else []
        return pd.DataFrame(columns=["source_file", "source_sheet", *columns, "source_row", *READ_COLUMNS, *extra])
    if kind == "operator":  # each row's file a category of the files' names, sorted as astype("category") sorts
        files = union_categoricals([f["source_file"].array for f in frames], sort_categories=True)
        frames = [f.drop(columns="source_file") for f in frames]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    del frames
    if kind == "operator":
        out.insert(0, "source_file", files)
    # one Arrow chunk per column, one column at a time (only one column is ever held twice)
    for c in [*columns, *(["source_file"] if kind != "operator" else []), "source_sheet"]:
        column = out[c]
        text = _as_text(column)
        if text is not column:  # (setting a column to itself would copy it)
            out[c] = text
    return out


def _stack_operator_rows(
    tables: list[RawTable], release: bool, districts, default_crs: str
) -> tuple[pd.DataFrame, parse.CodedText | None, Future | None]:
    """The operator reports' rows stacked (`_stack`) and split by tenant (`_split_tenants`: also its operator
    column coded, where unsplit), each row's file a category; and their positions under way in a thread
    (`_positions_beside`), None where the split made rows of its own (those are parsed again, these left to
    end)."""
    raw = _stack(tables, "operator", FIELDS, release)
    # the positions parsed from here, beside the split (its operator column coded, ~0.15 s of a national file,
    # was the main thread's alone); used where the split makes no rows (it only adds some)
    n_stacked, positions = len(raw), _positions_beside(raw, districts, default_crs)
    raw, operator = _split_tenants(raw, _senders_of_rows(raw, tables) == SENDER_TOWER)
    # each row's file as a category (a national file names a handful: a byte a row, not ~60 bytes of its
    # name again, held through parsing, de-duplication and the build)
    raw["source_file"] = raw["source_file"].astype("category")
    return raw, operator, (positions if len(raw) == n_stacked else None)


def _emptied(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame of no rows with `frame`'s columns and dtypes, holding none of its data: a slice of no rows
    of Arrow strings keeps the whole column's buffers (the raw text of a national file, ~0.7 GB at 4.25 M
    rows, held through the run by the tables a run had read)."""
    return pd.DataFrame(
        {c: pd.array([], dtype=frame.dtypes.iloc[i]) for i, c in enumerate(frame.columns)}, index=frame.index[:0]
    )


def _stack_columns(t: RawTable, columns: tuple[str, ...], kind: str) -> pd.DataFrame:
    """One table's columns in the stacked order, built once: the values as Arrow strings (see `_text`
    for the Python strings a parser is given), a column the file lacks as Arrow nulls without buffers
    (NaNs would take 8 bytes per row), the file's name once per row in Arrow; an operator report's file
    a category (its name once, a byte a row: written out per row, then hashed back into a category, it
    was ~40 bytes a row and a hash of every row of a national file)."""
    f, n = t.frame, len(t.frame)
    # one array of nulls for every column the file lacks (a national file lacks a dozen: ~8 bytes a row each)
    lacking = _repeat_text(None, n)
    name = project_relative(t.path)
    file = (
        pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), pd.Index([name], dtype="str"))
        if kind == "operator"
        else _repeat_text(name, n)
    )
    out = {"source_file": file, "source_sheet": _repeat_text(t.sheet, n)}
    for c in columns:
        out[c] = _as_text(f[c]) if c in f.columns else lacking
    out["source_row"] = f["source_row"].to_numpy(dtype="int64")
    if CELL_LABEL in f.columns:  # (a cell-level export: what tells its rows apart, see `_name_cells_of_one_station`)
        out[CELL_LABEL] = _as_text(f[CELL_LABEL])
    for c in READ_COLUMNS:
        # each lacking column its own array of None: a frame built with copy=False does not protect an
        # ndarray two columns share, so a write into one would show in the other; a Series said to be of
        # objects (a frame infers the type of an ndarray or array of objects: ~0.2 s for a national file's
        # 4.25 M Nones), whose index, RangeIndex(n), is the frame's, as the arrays' would be
        out[c] = (
            f[c].to_numpy(dtype=object, na_value=None)
            if c in f.columns
            else pd.Series(np.full(n, None, dtype=object), dtype=object, copy=False)
        )
    if kind == "operator":
        # a report of one operator often names it only in its file name or title (Arrow strings of the one
        # name: an object per row, turned into Arrow strings by the frame, was ~0.1 s a million rows)
        out["file_operator"] = _repeat_text(parse.operator_of_context(t.context), n)
    as_is = {c for c in READ_COLUMNS if c not in f.columns}
    return pd.DataFrame(
        {k: (v.array if isinstance(v, pd.Series) and k not in as_is else v) for k, v in out.items()}, copy=False
    )


def _repeat_text(value: str | None, n: int) -> pd.Series:
    """`value` n times as Arrow strings (NaN for None)."""
    array = pa.nulls(n, pa.large_string()) if value is None else pa.repeat(pa.scalar(value, pa.large_string()), n)
    return _as_text(pd.Series(array.to_pandas(types_mapper=parse.AS_STR).array))


def _as_text(values: pd.Series) -> pd.Series:
    """A column as Arrow strings (pandas "str"), NaN where empty, in one chunk: the reader leaves a
    chunk per block read, and taking rows across dozens of chunks is several times slower."""
    if values.dtype == "str":  # (one chunk of Arrow strings already: as it is, without a pass over its rows)
        arrow = pa.array(values.array)
        if arrow.type == pa.large_string() and (isinstance(arrow, pa.Array) or arrow.num_chunks == 1):
            return values
    if values.notna().any():
        array = pa.chunked_array(pa.array(values.astype("str").array))
        if array.num_chunks == 1 and values.dtype == "str":
            return values
        array = array.combine_chunks()
    elif values.dtype == "str" and pa.array(values.array).type == pa.large_string():
        return values  # (nulls already: a new array of them would be one more buffer per column)
    else:
        array = pa.nulls(len(values), pa.large_string())
    return pd.Series(array.to_pandas(types_mapper=parse.AS_STR).array, index=values.index, name=values.name)


def _split_tenants(raw: pd.DataFrame, tower: np.ndarray) -> tuple[pd.DataFrame, parse.CodedText | None]:
    """A tower-company row (`tower`: per row) serving several operators (运营商 移动、联通, 三家共享) is one
    record per tenant: each operator's equipment is its own station on the shared tower. Both keep the
    row's file and number. An operator's own record naming others (电信联通共享 in China Telecom's gNB list)
    is one station, its own: the file's operator when it is among those named, else as written (a gNB
    belongs to one operator; split, one gNB became two stations). Also the operator column coded where the
    rows are as they were (None where not), which `_parse_identity` reads again (~0.15 s of a national file)."""
    coded = parse.code_text(raw["operator"])
    multi = parse.names_tenants(coded).to_numpy()
    if not multi.any():  # (a national file: no cell names two operators, no column of their lists made)
        return raw, coded
    tenants = parse.parse_tenants(coded)
    own = multi & ~tower
    if own.any():
        lists = [t.split(",") for t in tenants[own]]
        files = raw["file_operator"].to_numpy(dtype=object)[own]
        mine = np.array([f in t for f, t in zip(files, lists, strict=True)], dtype=bool)
        if mine.any():
            rows = np.flatnonzero(own)[mine]
            raw = raw.copy()
            raw["read_note"] = raw["read_note"].astype(object)
            said = raw["operator"].to_numpy(dtype=object)[rows]
            prior = raw["read_note"].to_numpy(dtype=object)[rows]
            raw.loc[raw.index[rows], "read_note"] = [
                (f"{p}; " if isinstance(p, str) and p else "")
                + f"a station shared with others ({w}): its operator's own"
                for p, w in zip(prior, said, strict=True)
            ]
            raw.loc[raw.index[rows], "operator"] = files[mine]
            coded = None
    multi = multi & tower
    if not multi.any():
        return raw, coded
    lists = [t.split(",") for t in tenants[multi]]
    counts = np.ones(len(raw), dtype=np.int64)
    counts[multi] = [len(t) for t in lists]
    # each row repeated once per tenant, in file order: one take of the columns (a concat and a sort
    # of a national file copy them twice)
    out = raw.take(np.repeat(np.arange(len(raw)), counts)).reset_index(drop=True)
    is_tenant = np.repeat(multi, counts)
    # the note names the row's operator cell as written (移动、联通), on each of its tenants
    notes = [
        (f"{prior}; " if prior else "") + f"one of the tenants ({said}) of a shared tower row"
        for prior, said in zip(out.loc[is_tenant, "read_note"], out.loc[is_tenant, "operator"], strict=True)
    ]
    out.loc[is_tenant, "operator"] = [op for t in lists for op in t]
    out.loc[is_tenant, "read_note"] = notes
    return out, None


# --- the operator-report rows ------------------------------------------------------------------


def _append_note(
    notes: pd.Series, mask: pd.Series, text: str, values: pd.Series | None = None, tail: str = ""
) -> pd.Series:
    """notes + text (+ the row's value + tail) where mask holds, building strings for those rows only."""
    mask = mask.fillna(False).astype(bool).to_numpy()
    if not mask.any():
        return notes
    notes = notes.copy()
    add = text if values is None else text + values[mask].astype(str) + tail
    notes[mask] = notes[mask] + add
    return notes


def _first_reason(checks: list[tuple[str, pd.Series]], index) -> pd.Series:
    """The name of the first check each row fails (None where it fails none), on integer codes: a new
    column of a national file's rows per check cost seconds."""
    masks = [mask.fillna(False).astype(bool) for _, mask in checks]
    if not all(m.index.equals(index) for m in masks):  # (aligned on their labels, as Series are)
        reason = pd.Series(None, index=index, dtype=object)
        for (name, _), mask in zip(checks, masks, strict=True):
            reason = reason.mask(reason.isna() & mask, name)
        return reason
    code = np.zeros(len(index), dtype=np.int16)  # 0: none yet; i: the i-th check
    for i, mask in enumerate(masks, start=1):
        code[(code == 0) & mask.to_numpy()] = i
    names = np.array([None, *(name for name, _ in checks)], dtype=object)
    return pd.Series(names[code], index=index, dtype=object, copy=False)


#: The raw columns `_parse_positions` reads.
POSITION_FIELDS = ("lon", "lat", "lonlat", "planned_lon", "planned_lat", "crs")


def _parse_positions(raw: pd.DataFrame, districts, default_crs: str) -> pd.DataFrame:
    """Per row: WGS-84 lon/lat, district (also trying lat/lon swapped), the coordinate texts and the
    masks of what is wrong with them (missing_xy, bad_xy, zero_xy, unknown_crs, outside). `raw`: the rows'
    POSITION_FIELDS (`_parse_operator_rows` runs this in a thread beside the labels and dates)."""
    pos = pd.DataFrame(index=raw.index)
    # the texts stay Arrow strings (as Python strings a national file's coordinates cost ~0.1 KB each)
    lon_text, lat_text = raw["lon"], raw["lat"]
    # the planned position only where no actual one is given (规划经度 beside 实际经度)
    planned = lon_text.isna() & lat_text.isna() & raw["lonlat"].isna() & raw["planned_lon"].notna()
    if planned.any():
        lon_text = lon_text.where(~planned, raw["planned_lon"])
        lat_text = lat_text.where(~planned, raw["planned_lat"])
    pos["planned"] = planned
    if raw["lonlat"].notna().any():
        # (as Python strings: the split's missing halves are kept as it gives them, and said so in details)
        lon_text, lat_text = _as_written(lon_text), _as_written(lat_text)
        split_lon, split_lat = parse.split_lonlat(_text(raw, "lonlat"))
        use = lon_text.isna() & lat_text.isna() & raw["lonlat"].notna()
        lon_text = lon_text.where(~use, split_lon.astype(object))
        lat_text = lat_text.where(~use, split_lat.astype(object))
    pos["lon_text"], pos["lat_text"] = lon_text, lat_text
    # (the two columns at once: pyarrow's kernels release the GIL; ~0.25 s each of a national file)
    with ThreadPoolExecutor(1) as pool:
        lat_parsed = pool.submit(parse.parse_coordinates, lat_text)
        lon, lat = parse.parse_coordinates(lon_text), lat_parsed.result()
    missing_xy = lon_text.isna() | lat_text.isna()
    # (the numbers compared as they are, NaN failing every comparison: no column of absolute values, 34 MB of
    # fresh pages each of a national file's, in the thread the district look-up waits for)
    lon_v, lat_v = lon.to_numpy(float), lat.to_numpy(float)
    in_range = (lon_v >= -180) & (lon_v <= 180) & (lat_v >= -180) & (lat_v <= 180)
    bad_xy = ~missing_xy & ~in_range
    zero_xy = ~missing_xy & ~bad_xy & ((lon_v == 0) | (lat_v == 0))
    if _is_all_missing(raw["crs"]):  # every row in the default system (a national file names none)
        unknown_crs = pd.Series(False, index=raw.index)
        is_gcj, is_bd = np.full(len(raw), default_crs == "gcj02"), np.full(len(raw), default_crs == "bd09")
    else:
        crs = parse.parse_crs(raw["crs"]).fillna(default_crs)
        unknown_crs = crs == "unknown"
        is_gcj, is_bd = (crs == "gcj02").to_numpy(), (crs == "bd09").to_numpy()
    usable_xy = ~(missing_xy | bad_xy | zero_xy | unknown_crs)
    # (arrays of their own, never written: the converted and the chosen coordinates may be these)
    x = np.where(usable_xy.to_numpy(), lon_v, 0.0)
    y = np.where(usable_xy.to_numpy(), lat_v, 0.0)

    wlon, wlat = geo.to_wgs84(x, y, is_gcj, is_bd)
    # each row's district by its position among the districts (len: none), named once the swaps are known
    district_at = geo.district_positions(wlon, wlat, districts)
    swap_lon, swap_lat = geo.to_wgs84(y, x, is_gcj, is_bd)
    # only rows outside every district can be swapped ones: look the others up once, not twice
    no_district = district_at == len(districts)
    maybe = np.flatnonzero(usable_xy.to_numpy() & no_district)
    swapped_at = geo.district_positions(swap_lon[maybe], swap_lat[maybe], districts)
    maybe, swapped_at = maybe[swapped_at < len(districts)], swapped_at[swapped_at < len(districts)]
    swapped = pd.Series(np.zeros(len(raw), dtype=bool), index=raw.index)
    swapped.iloc[maybe] = True
    if len(maybe):  # (else the converted coordinates, or x and y: arrays of their own, as they are)
        wlon, wlat = np.where(swapped, swap_lon, wlon), np.where(swapped, swap_lat, wlat)
        district_at[maybe] = swapped_at
    pos["lon"], pos["lat"] = _fresh(wlon, raw.index), _fresh(wlat, raw.index)
    pos["district"] = _district_names(districts, district_at, raw.index)
    pos["missing_xy"], pos["bad_xy"], pos["zero_xy"] = missing_xy, bad_xy, zero_xy
    pos["unknown_crs"], pos["usable_xy"], pos["swapped"] = unknown_crs, usable_xy, swapped
    pos["is_gcj"], pos["is_bd"] = _fresh(is_gcj, raw.index), _fresh(is_bd, raw.index)
    # (a row swapped has its district; the others keep theirs)
    pos["outside"] = usable_xy & pd.Series(no_district & ~swapped.to_numpy(), index=raw.index)
    return pos


def _positions_beside(raw: pd.DataFrame, districts, default_crs: str) -> Future:
    """`_parse_positions` of the rows of `raw` under way in a thread of its own (the thread given a frame of the
    position columns alone, copied on write: what is done to `raw` meanwhile does not reach it), which ends with
    it; its result (or what it raised) is the future's."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(_parse_positions, raw[list(POSITION_FIELDS)], districts, default_crs)
    finally:
        pool.shutdown(wait=False)


def _parse_labels(
    raw: pd.DataFrame, rec: pd.DataFrame, operator: parse.CodedText | None = None
) -> tuple[pd.Series, pd.Series, parse.CodedText]:
    """Site code, name, operator, band, reported status and blocker into `rec` (`operator`: the operator column
    coded, when it is); returns the masks of blank rows and rows without identity, and the status column coded
    (read again by later rules)."""
    # the band, status and blocker parsed after the codes, names and operators, on this thread: beside the
    # positions' thread, whose district look-up waits for its coordinates and which the parse then waits for,
    # a third thread of them (~0.35 CPU s of a national file) took a third of the two cores from it
    blank, no_identity = _parse_identity(raw, rec, operator)
    band, reported_status, blocker, status = _parse_kinds(raw)
    rec["band"] = band  # (missing where unknown: so that another record of the station can say)
    rec["reported_status"] = reported_status
    rec["blocker"] = blocker
    return blank, no_identity, status


def _parse_kinds(raw: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series, parse.CodedText]:
    """The band and blocker of each row (Arrow strings, missing where it names none), its reported status, and
    the status column coded once for every rule that reads it."""
    status = parse.code_text(raw["status"])
    band, blocker = parse.parse_bands(raw["band"], None), parse.parse_blockers(raw["blocker"], None)
    return band, parse.parse_statuses(status), blocker, status


def _parse_identity(
    raw: pd.DataFrame, rec: pd.DataFrame, operator: parse.CodedText | None = None
) -> tuple[pd.Series, pd.Series]:
    """Site code, name and operator into `rec` (`operator`: the operator column coded, when it is); returns the
    masks of blank rows and rows without identity."""
    # codes and names stay Arrow strings: as Python strings they cost ~0.15 KB per row of a national file
    code = _normalize_code(raw["site_code"])
    mangled = pd.Series(False, index=code.index)
    maybe = parse.rows_holding(pa.array(code.array), parse.bytes_in("E"))  # (the regex only where it can match)
    if maybe.any():
        mangled[maybe] = code[maybe].str.fullmatch(_MANGLED_CODE).fillna(False).astype(bool).to_numpy()
    # (None but where a code is mangled: a national file's codes as Python objects only to be masked cost ~0.3 s)
    mangled_code = np.full(len(code), None, dtype=object)
    if mangled.any():
        mangled_code[mangled.to_numpy()] = code[mangled].to_numpy(dtype=object, na_value=None)
    # (of object dtype as it is where none is mangled: pandas reads a column of objects through to infer its
    # dtype, ~0.15 s of a national file's Nones; where some are, the texts as pandas infers them)
    rec["mangled_code"] = _fresh(mangled_code, raw.index) if mangled.any() else _objects(mangled_code, raw.index)
    rec["site_code"] = (code.where(~mangled) if mangled.any() else code).astype("str")
    rec["name"] = parse.normalize_text(raw["name"]).astype("str")
    no_identity = rec["site_code"].isna() & rec["name"].isna()
    # blank: every cell empty or only spaces (looked at only where there is no identity: cheap)
    blank = pd.Series(False, index=raw.index)
    if no_identity.any():
        cells = raw.loc[no_identity, list(FIELDS)].astype("string")
        blank[no_identity] = cells.apply(lambda c: c.isna() | (c.str.strip() == "")).all(axis=1)
    rec["operator"] = parse.parse_operators(raw["operator"] if operator is None else operator)
    # (the file's operator compared only where the row names none: a national file's rows all do, told by
    # the Arrow null count, without comparing every row's operator object)
    if _is_all_present(raw["operator"]):
        return blank, no_identity
    from_file = ((rec["operator"] == "unknown") & raw["operator"].isna()).to_numpy(copy=True)
    if from_file.any():
        from_file[from_file] = raw["file_operator"].to_numpy()[from_file] != "unknown"
    rec.loc[from_file, "operator"] = raw.loc[from_file, "file_operator"]
    return blank, no_identity


def _parse_stage_dates(
    raw: pd.DataFrame,
    rec: pd.DataFrame,
    notes: pd.Series,
    as_of: pd.Timestamp,
    status: parse.CodedText,
    row_days: np.ndarray | None = None,
) -> dict:
    """The stage dates into `rec` (unreadable ones other than on-air noted) and the masks of the on-air
    date checks (a station's status is found from its records' dates and statuses when it is built; `status`:
    the status column coded); returns the checks and the notes (not finished: `_finish_notes`)."""
    no_dates = None  # (one column of NaT for every stage a file lacks; copy on write keeps them apart)
    ambiguous_on_air = np.full(len(raw), None, dtype=object)  # (why an on-air date's order is undecided)
    for stage, column in STAGE_DATE_COLUMNS.items():
        text = raw[column]
        if _is_all_missing(text):  # a stage the file lacks (a national file lacks five): no date, no note
            if no_dates is None:
                no_dates = pd.Series(np.full(len(text), np.datetime64("NaT", "ns")), index=raw.index, copy=False)
            rec[column] = no_dates
            continue
        # (a day/month order is read the way the same file writes its other dates)
        reading = parse.read_dates(text, raw["source_file"])
        parsed = reading.dates
        notes = _note_date_readings(notes, reading, text, column)
        if stage == "on_air":
            ambiguous_on_air = reading.why_ambiguous
            if reading.month_only.any():  # (how precise the date is: a row without its operator is joined by it)
                rec["on_air_months"] = np.where(
                    reading.month_only & parsed.notna().to_numpy(), parse.Precision.MONTH, parse.Precision.DAY
                ).astype(np.int8)
        else:
            unreadable = text.notna() & parsed.isna()
            said = text.where(~reading.ambiguous, text + " (ambiguous day/month)") if reading.ambiguous.any() else text
            notes = _append_note(notes, unreadable, f"{column} unreadable: ", said, "; ")
            placeholder = parsed < EARLIEST_STAGE_DATE
            if placeholder.any():
                notes = _append_note(notes, placeholder, f"{column} ", text, " is no day of this buildout: set aside; ")
                parsed = parsed.mask(placeholder)
        rec[column] = parsed
    notes = _read_on_air_periods(raw, rec, notes, as_of, row_days)
    notes = _hold_built_without_date(raw, rec, notes, status)
    notes = _set_aside_stage_dates_out_of_order(rec, notes)
    # 未开通 / 待开通 beside a date: the date is the plan, not the day it went on air
    not_yet = parse.says_not_on_air(status) & rec["on_air_date"].notna()
    if not_yet.any():
        planned = rec.loc[not_yet, "on_air_date"]
        # (a plan whose day has passed by the report's date: a slipped plan, still no station on air)
        passed = np.where(planned <= as_of, " (passed)", "")
        said = _text(raw, "status", not_yet).astype(str) + " beside on-air date " + planned.dt.strftime("%Y-%m-%d")
        said = (said + ": the planned on-air date" + passed).reindex(raw.index)
        notes = _append_note(notes, not_yet, "status ", said, ", not counted on air; ")
        _keep_as_plan(rec, not_yet)
    # a site of the pipeline (在建, 规划 …) beside an on-air date: the day it is to go on air, whether that day
    # is still ahead or has passed (a slipped plan): the status, as of the extract, says it is not on air (a
    # passed one was counted on air when the records were cleaned after it)
    # (the statuses as parsed: `_hold_built_without_date` changes only undated rows', not looked at here)
    planned_later = rec["on_air_date"].notna() & parse.statuses_in(status, STAGES[:-1])
    if planned_later.any():
        day = rec.loc[planned_later, "on_air_date"]
        said = (day.dt.strftime("%Y-%m-%d") + np.where(day <= as_of, " (passed)", "")).reindex(raw.index)
        notes = _append_note(notes, planned_later, "planned on-air date ", said, " (a site in the pipeline); ")
        _keep_as_plan(rec, planned_later)
        not_yet = not_yet | planned_later
    on_air = rec["on_air_date"]
    bad_date = raw["on_air_date"].notna() & on_air.isna() & ~not_yet
    # (why a date unread is undecided, None elsewhere: set where unread, not masked in a Series pandas infers)
    undecided = np.full(len(raw), None, dtype=object)
    undecided[bad_date.to_numpy()] = ambiguous_on_air[bad_date.to_numpy()]
    checks = {
        "bad_date": bad_date,
        "future": on_air > as_of,
        "too_early": on_air < EARLIEST_ON_AIR,
        "no_date": _says_on_air_without_date(rec["reported_status"], on_air) & ~bad_date,
        "ambiguous": _objects(undecided, raw.index),
    }
    dated_but_not_on_air = on_air.notna() & ~parse.statuses_in(status, ("on_air", "unknown", "decommissioned"))
    notes = _append_note(
        notes, dated_but_not_on_air, "reported status ", rec["reported_status"], " but has an on-air date; "
    )
    rec["off_air_date"], notes = _parse_off_air_dates(raw, notes, as_of)
    return checks, notes


def _keep_as_plan(rec: pd.DataFrame, rows: pd.Series) -> None:
    """The on-air dates of `rows` (a site not on air) taken out: each is the site's planned on-air date where
    its row gives none in a column of its own."""
    if "planned_on_air_date" not in rec:
        rec["planned_on_air_date"] = pd.Series(np.full(len(rec), np.datetime64("NaT", "ns")), index=rec.index)
    given = rec.loc[rows, "planned_on_air_date"]
    rec.loc[rows, "planned_on_air_date"] = given.fillna(rec.loc[rows, "on_air_date"])
    rec.loc[rows, "on_air_date"] = pd.NaT


def _parse_off_air_dates(raw: pd.DataFrame, notes: pd.Series, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """The off-air dates (退网日期, 拆除日期) rows report, NaT where none is; one unreadable, or after the
    report's date (not off air yet on it), set aside with a note."""
    text = raw["off_air_date"]
    if _is_all_missing(text):  # (every file but a 退网 list's)
        return pd.Series(np.full(len(text), np.datetime64("NaT", "ns")), index=raw.index, copy=False), notes
    dates = parse.read_dates(text, raw["source_file"]).dates
    said = _text(raw, "off_air_date")
    notes = _append_note(notes, text.notna() & dates.isna(), "off-air date unreadable: ", said, "; ")
    later = dates > as_of
    notes = _append_note(notes, later, "off-air date ", said, " is after the report's date: not off air on it; ")
    return dates.mask(later), notes


def _note_date_readings(notes: pd.Series, reading, text: pd.Series, column: str) -> pd.Series:
    """Notes of the dates read from a month alone or from before a note in the cell."""
    name = "on-air date" if column == "on_air_date" else column
    # a month is read as its first day: a station the sender says is on air in March is on air in a
    # report of any day of March (its last day would quarantine it as future in that report), and the
    # monthly counts put it in the month either way
    notes = _append_note(notes, pd.Series(reading.month_only, index=text.index), f"{name} given to the month; ")
    if reading.with_note.any():
        noted = pd.Series(reading.with_note, index=text.index)
        said = text[noted].astype(str).str.replace(r"\s+", " ", regex=True).reindex(text.index)
        notes = _append_note(notes, noted, f"{name} read from ", said, " (the note after the date set aside); ")
    return notes


def _says_on_air_without_date(reported: pd.Series, on_air: pd.Series) -> pd.Series:
    """True where a row's status says on air and it has no on-air date: the statuses compared only where the
    date is missing (a comparison of each of a national file's status objects was ~0.15 s)."""
    undated = on_air.isna().to_numpy()
    out = np.zeros(len(reported), dtype=bool)
    if undated.any():
        out[undated] = (reported.iloc[np.flatnonzero(undated)] == "on_air").to_numpy()
    return _fresh(out, reported.index)


def _set_aside_stage_dates_out_of_order(rec: pd.DataFrame, notes: pd.Series) -> pd.Series:
    """A site's stage dates must not go back in time (立项 ≤ 选址 ≤ 进场 ≤ 开工 ≤ 电源接入 ≤ 开通): where they do, the
    fewest dates that put them in order are set aside (NaT) with a note, never the on-air date (when two
    choices set aside as many, the earlier stages' dates go). A spell from such dates was a negative
    duration in the task force's tables and a stage 'since' a typo."""
    present = [STAGE_DATE_COLUMNS[s] for s in STAGES if rec[STAGE_DATE_COLUMNS[s]].notna().any()]
    if len(present) < 2:  # (a national report: the on-air date alone, nothing to compare)
        return notes
    values = np.column_stack([rec[c].to_numpy(dtype="datetime64[ns]").astype("int64") for c in present])
    known = values != np.iinfo(np.int64).min  # (NaT is the smallest int64: a running maximum passes over it)
    earlier = np.maximum.accumulate(values, axis=1)[:, :-1]
    backwards = (known[:, 1:] & (values[:, 1:] < earlier)).any(axis=1)
    if not backwards.any():
        return notes
    rows = np.flatnonzero(backwards)
    on_air = present.index("on_air_date") if "on_air_date" in present else None
    keep = _most_dates_in_order(values[rows], known[rows], on_air)
    for j, column in enumerate(present):
        dropped = known[rows, j] & ~keep[:, j]
        if not dropped.any():
            continue
        mask = pd.Series(False, index=rec.index)
        mask.iloc[rows[dropped]] = True
        said = rec.loc[mask, column].dt.strftime("%Y-%m-%d").reindex(rec.index)  # (only the dates set aside)
        notes = _append_note(notes, mask, f"{column} ", said, " out of order with the other stage dates: set aside; ")
        rec.loc[mask, column] = pd.NaT
    return notes


def _most_dates_in_order(values: np.ndarray, known: np.ndarray, on_air: int | None) -> np.ndarray:
    """Per row, which known dates to keep: the largest set in non-decreasing stage order that keeps the
    on-air date (column `on_air`) when there is one; among as large sets, the one keeping later stages.
    Rows are few (only those out of order) and stages at most six: every subset of the known dates is
    tried, largest first, for all rows at once."""
    n, k = values.shape
    chosen = np.zeros((n, k), dtype=bool)
    done = np.zeros(n, dtype=bool)
    for m in sorted(range(1, 1 << k), key=lambda m: (-bin(m).count("1"), -m)):  # bit j: column j (later: higher)
        cols = [j for j in range(k) if m >> j & 1]
        fits = ~done & known[:, cols].all(axis=1) & (np.diff(values[:, cols], axis=1) >= 0).all(axis=1)
        if on_air is not None and on_air not in cols:
            fits &= ~known[:, on_air]
        chosen[np.ix_(fits, cols)] = True
        done |= fits
        if done.all():
            break
    return chosen


def _is_all_missing(values: pd.Series) -> bool:
    """True when a column holds no value at all: Arrow strings by their null count (no pass over a
    national file's rows), other columns by looking."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values.array).null_count == len(values)
    return bool(values.isna().all())


def _is_all_present(values: pd.Series) -> bool:
    """True when a column of Arrow strings misses no value, by its null count (False for other columns)."""
    is_arrow = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
    return is_arrow and pa.array(values.array).null_count == 0


#: The note of a record whose position is its planned one (规划经度/规划纬度), taken off when it joins a station whose
#: position is the operator's actual one (the station's position is not the planned one).
PLANNED_POSITION_NOTE = "position is the planned one (no actual position given); "


def _finish_notes(notes: pd.Series) -> pd.Series:
    """The notes without their trailing separator, None where a row has none (most rows of a national
    file: the strings are touched only where there is a note)."""
    said = (notes != "").to_numpy()
    out = np.full(len(notes), None, dtype=object)
    if said.any():
        out[said] = notes[said].str.rstrip("; ").to_numpy(dtype=object)
    return pd.Series(out, index=notes.index, dtype=object, copy=False)


def _notes_then(notes: pd.Series | None, first: np.ndarray, later: pd.Series, finished: pd.Series) -> pd.Series:
    """The notes of each row (`_finish_notes`): its `notes` where `first` holds, then its `later` ones, whose
    own are `finished` already (made beside the district look-up); joined and finished again only for the
    rows `first` marks (a national file's rows have none)."""
    if not first.any():
        return finished
    out = finished.copy()
    out[first] = _finish_notes(notes[first] + later[first]).to_numpy(dtype=object)
    return out


def _count_notes(notes: pd.Series, text: str) -> int:
    """How many rows' notes contain `text` (looked for only in the rows that have a note)."""
    said = notes.dropna()
    return int(said.str.contains(text, regex=False).sum()) if len(said) else 0


def _parse_operator_rows(
    raw: pd.DataFrame,
    districts,
    as_of: pd.Timestamp,
    default_crs: str,
    city_names: tuple[str, ...] = (),
    row_days: np.ndarray | None = None,
    operator: parse.CodedText | None = None,
    positions: Future | None = None,
) -> pd.DataFrame:
    """Typed values, the district and the first quarantine reason (None when usable) per row (`city_names`:
    the city's names, which a province-wide file's 地市 column is read against; `row_days`: each row's tracker
    day, days since 1970, -1 for none, which a plan written without its year is read against; `operator`: the
    operator column coded, when `_split_tenants` gives it; `positions`: `_parse_positions` of these rows, when
    it is under way, from `_positions_beside`)."""
    # the labels, the trackers' columns and the stage dates parsed while the positions are, coordinates to
    # districts, in a thread (nothing of either needs the other; pyarrow's, numpy's and shapely's kernels
    # release the GIL): of a national file ~1.0-1.3 CPU s in the main thread (the bands and statuses with the
    # codes and names: `_parse_labels`) beside ~1.7 in the positions', whose ~0.5 s of wall before the look-up
    # (coordinates parsed, their masks) was the main thread's with the other core idle; then put after the
    # positions, their notes after the position's
    located = positions or _positions_beside(raw, districts, default_crs)
    labels = pd.DataFrame(index=raw.index)
    blank, no_identity, status = _parse_labels(raw, labels, operator)
    n_labels = len(labels.columns)
    later = none_said = pd.Series("", index=raw.index, dtype=object)
    later = _append_note(
        later,
        labels["mangled_code"].notna(),
        "site code ",
        labels["mangled_code"],
        " is Excel scientific notation (digits lost): not used; ",
    )
    later = _note_status_words(raw, labels, later, status)
    later = _parse_tracker_columns(raw, labels, later, as_of, row_days)
    dates, later = _parse_stage_dates(raw, labels, later, as_of, status, row_days)
    # (`_append_note` hands back the notes it is given where it adds none: a file without any note, as a
    # national one, not compared row by row)
    finished = _finish_notes(later) if later is not none_said else _objects(np.full(len(raw), None), raw.index)
    pos = located.result()
    rec = pos[["lon", "lat", "district"]]  # (copied on write, as pandas does: pos is read, never written, after)
    for column in labels.columns:
        rec[column] = labels[column]
    rec.attrs.update(labels.attrs)

    if pos["planned"].any():  # (a planned position may be off: `dedupe.PLANNED_POSITION_RADIUS_M`)
        rec.insert(3 + n_labels, "planned_position", pos["planned"].to_numpy(dtype=bool))  # (after the labels)
    # the notes of the reading and the position first (made only where a row has one: a national file's have none)
    converted = pos["usable_xy"] & (pos["is_gcj"] | pos["is_bd"])
    first = (raw["read_note"].notna() | pos["planned"] | pos["swapped"] | converted).to_numpy()
    notes = pd.Series("", index=raw.index, dtype=object) if first.any() else None
    if notes is not None:
        notes = _append_note(notes, raw["read_note"].notna(), "", raw["read_note"], "; ")
        notes = _append_note(notes, pos["planned"], PLANNED_POSITION_NOTE)
        notes = _append_note(notes, pos["swapped"], "latitude and longitude swapped in the source; ")
        notes = _append_note(notes, pos["usable_xy"] & pos["is_gcj"], "GCJ-02 converted to WGS-84; ")
        notes = _append_note(notes, pos["usable_xy"] & pos["is_bd"], "BD-09 converted to WGS-84; ")
    rec["notes"] = _notes_then(notes, first, later, finished)

    no_xy = pos["missing_xy"] | pos["bad_xy"]
    other_city = _of_other_cities(raw, city_names)
    checks = [
        ("unreadable_line", raw["read_problem"].notna()),
        ("blank_row", blank),
        ("not_a_record", _lines_not_records(raw, no_xy)),
        ("no_identity", no_identity),
        ("other_city", other_city & no_xy),
        ("cancelled", _fresh(parse.statuses_in(status, ("cancelled",)), raw.index)),  # (never changed since parsed)
        ("missing_coordinates", pos["missing_xy"]),
        ("unparseable_coordinates", pos["bad_xy"]),
        ("zero_coordinates", pos["zero_xy"]),
        ("unknown_crs", pos["unknown_crs"] & ~pos["missing_xy"]),
        ("outside_city", pos["outside"]),
        ("unparseable_on_air_date", dates["bad_date"]),
        ("future_on_air_date", dates["future"]),
        ("on_air_date_before_2019", dates["too_early"]),
        ("on_air_without_date", dates["no_date"]),
    ]
    rec["reason"] = _first_reason(checks, raw.index)
    rec["detail"] = _quarantine_details(raw, rec, pos, as_of)
    ambiguous = dates["ambiguous"].notna()
    if ambiguous.any():  # (each row's reason compared only then)
        ambiguous &= rec["reason"] == "unparseable_on_air_date"
    if ambiguous.any():
        why = dates["ambiguous"][ambiguous].astype(str)
        rec.loc[ambiguous, "detail"] = rec.loc[ambiguous, "detail"] + ": ambiguous day/month, " + why
    rec["n_fields"] = _count_fields(raw)
    rec.attrs["outside_warnings"] = _outside_warnings(raw, pos, districts, other_city.to_numpy())
    return rec


def _parse_tracker_columns(
    raw: pd.DataFrame, rec: pd.DataFrame, notes: pd.Series, as_of: pd.Timestamp, row_days: np.ndarray | None
) -> pd.Series:
    """What a task force's tracker adds, into `rec`: the blocker's own words where they say more than its
    category, who is to clear it (责任单位), and the planned on-air date (计划开通时间: a month or a quarter as its
    last day, a month or day without its year in the year that puts it nearest the table's day, or the
    extract's where the table names none; how a form other than a day was read is noted). Columns of nulls,
    shared, for a file without them (an operator's national file)."""
    for column, text in (("blocker_detail", raw["blocker"]), ("responsible", raw["responsible"])):
        if _is_all_missing(text):  # (no column at all: the station table's is made empty when it is typed)
            continue
        said = parse.blocker_details(text) if column == "blocker_detail" else parse.normalize_text(text)
        rec[column] = said.astype(object).where(said.notna(), None)
    text = raw["planned_on_air_date"]
    if _is_all_missing(text):
        return notes
    reading = parse.read_dates(text, raw["source_file"])
    planned = reading.dates.copy()
    month = pd.Series(reading.month_only, index=raw.index) & planned.notna()
    # a plan for a month is kept if the site is on air by the month's end
    planned[month] = planned[month] + pd.offsets.MonthEnd(0)
    said = _text(raw, "planned_on_air_date")
    notes = _append_note(notes, month, "planned on-air date ", said, " read as the month's last day; ")
    unread = text.notna() & planned.isna() & ~pd.Series(reading.ambiguous, index=raw.index)
    if unread.any():
        near = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
        if row_days is not None:  # (a table that names no day: the extract's)
            near = pd.Series(pd.to_datetime(np.where(row_days >= 0, row_days, np.nan), unit="D"), index=raw.index)
        period, _, how = parse.read_period_dates(
            text[unread], as_of, latest_not_after=False, plan_month_end=True, near=near[unread]
        )
        planned[period.index] = period
        read_as = (said[unread] + " read as " + period.dt.strftime("%Y-%m-%d") + " (" + how + ")").reindex(raw.index)
        notes = _append_note(notes, pd.Series(period.notna()).reindex(raw.index), "planned on-air date ", read_as, "; ")
        notes = _append_note(notes, unread & planned.isna(), "planned on-air date unreadable: ", said, "; ")
    rec["planned_on_air_date"] = planned
    return notes


def _hold_built_without_date(
    raw: pd.DataFrame, rec: pd.DataFrame, notes: pd.Series, status: parse.CodedText
) -> pd.Series:
    """A site whose status says built or accepted and no more (已建成, 塔已建成, 已验收) without an on-air date is not
    known to be on air: kept in the pipeline at its last stage (power hook-up), noted, not quarantined as on
    air without a date. (Only the undated rows said on air are looked at: a national file has few.)"""
    at = np.flatnonzero(rec["on_air_date"].isna().to_numpy())
    # (the statuses compared only where the date is missing, as `_says_on_air_without_date`)
    at = at[(rec["reported_status"].take(at) == "on_air").to_numpy()]
    if not len(at) or _is_all_missing(raw["status"]):
        return notes
    built = parse.says_built_only(status.take(at)).to_numpy()
    if not built.any():
        return notes
    held = _fresh(np.zeros(len(rec), dtype=bool), rec.index)
    held.iloc[at[built]] = True
    rec.loc[held, "reported_status"] = "power_hookup"
    said = _text(raw, "status", held).reindex(raw.index)
    why = " without an on-air date: not known to be on air, kept at power hook-up; "
    return _append_note(notes, held, "status ", said, why)


def _read_on_air_periods(
    raw: pd.DataFrame, rec: pd.DataFrame, notes: pd.Series, as_of: pd.Timestamp, row_days: np.ndarray | None = None
) -> pd.Series:
    """The on-air dates a tracker writes as a period or without its year (6月底, 2021年Q3, 9月15日) into `rec`
    where no other reading found one: a quarter or a month's end as its last day, a date without its year
    the latest such date not after its tracker's day (`row_days`, days since 1970; the extract's where a table
    names none); how each was read is noted."""
    text = raw["on_air_date"]
    unread = (text.notna() & rec["on_air_date"].isna()).to_numpy()
    if not unread.any():
        return notes
    near = None
    if row_days is not None:
        near = pd.Series(pd.to_datetime(np.where(row_days >= 0, row_days, np.nan), unit="D"), index=raw.index)[unread]
    read = parse.read_period_dates(text[unread], as_of, latest_not_after=True, plan_month_end=False, near=near)
    found = read.dates.notna()
    if not found.any():
        return notes
    period, months, how = read.dates[found], read.months[found], read.how[found]
    rec.loc[period.index, "on_air_date"] = period
    # (a month, a quarter, a year's half or end: how precise the date is, as `_parse_stage_dates`)
    if (months > parse.Precision.DAY).any():
        if "on_air_months" not in rec:
            rec["on_air_months"] = np.zeros(len(rec), dtype=np.int8)
        rec.loc[months.index, "on_air_months"] = months.to_numpy(dtype=np.int8)
    said = text[period.index].astype(str) + " read as " + period.dt.strftime("%Y-%m-%d") + " (" + how + ")"
    return _append_note(notes, said.reindex(raw.index).notna(), "on-air date ", said.reindex(raw.index), "; ")


def _lines_not_records(raw: pd.DataFrame, no_xy: pd.Series) -> pd.Series:
    """True for the rows without coordinates whose code or name cell begins like a line under a table that is
    no record (合计, 备注：…, 制表人：…): looked at only where no coordinates are given."""
    out = np.zeros(len(raw), dtype=bool)
    at = np.flatnonzero(no_xy.to_numpy())
    if len(at):  # (by position: a mask over a national file's rows, taken twice, cost ~0.1 s)
        for column in ("site_code", "name"):
            text = raw[column].iloc[at]
            out[at] |= parse.says_not_a_record(text.astype(object).where(text.notna(), None)).to_numpy()
    return _fresh(out, raw.index)


def _of_other_cities(raw: pd.DataFrame, city_names: tuple[str, ...]) -> pd.Series:
    """True for the rows a province-wide file's 地市 column says are of another city."""
    if not city_names or _is_all_missing(raw["city"]):
        return pd.Series(False, index=raw.index)
    return parse.names_other_place(raw["city"], city_names)


def _district_names(districts, at: np.ndarray, index: pd.Index) -> pd.Series:
    """The names (`name_zh`) of the districts at positions `at` (len(districts): none, NaN) as Arrow strings,
    taken by pyarrow from the few names (through Python objects, ~0.4 s of a national file's rows)."""
    names = pa.array([*districts["name_zh"].astype(object), None], pa.large_string())
    return pd.Series(names.take(pa.array(at)).to_pandas(types_mapper=parse.AS_STR).array, index=index, copy=False)


def _outside_warnings(raw: pd.DataFrame, pos: pd.DataFrame, districts, other_city: np.ndarray) -> dict[tuple, str]:
    """Per (file, sheet) of which more than half the rows with coordinates lie outside the city, a line saying
    so, and whether its coordinates read as 度.分秒 (113.3517 = 113°35'17") would fall inside: a format the
    reader cannot tell from decimal degrees by itself, so said, not converted. (Rows a 地市 column says are of
    another city are not counted: a province-wide file is mostly outside the city by design.)"""
    outside = pos["outside"].to_numpy() & ~other_city
    if not outside.any():
        return {}
    usable = pos["usable_xy"].to_numpy() & ~other_city
    rows = pd.DataFrame(
        {"file": raw["source_file"], "sheet": raw["source_sheet"], "usable": usable, "outside": outside}
    )
    counts = rows.groupby(["file", "sheet"], dropna=False, observed=True, sort=True)[["usable", "outside"]].sum()
    warnings = {}
    for (file, sheet), (usable, n_out) in counts.iterrows():
        if n_out * 2 <= usable:
            continue
        said = f"{n_out} of {usable} rows outside the city — check the coordinates' format (度.分秒?)"
        at = (rows["file"] == file).to_numpy() & outside
        at &= rows["sheet"].isna().to_numpy() if pd.isna(sheet) else (rows["sheet"] == sheet).to_numpy()
        lon = _as_ddd_mmss(parse.parse_coordinates(pos["lon_text"][at]).to_numpy(float))
        lat = _as_ddd_mmss(parse.parse_coordinates(pos["lat_text"][at]).to_numpy(float))
        ok = ~(np.isnan(lon) | np.isnan(lat))
        inside = int(pd.notna(geo.assign_district(lon[ok], lat[ok], districts)).sum()) if ok.any() else 0
        if inside * 2 > n_out:
            said += f"; read as 度.分秒 (ddd.mmss), {inside} of them would lie inside it: not converted"
        warnings[(file, None if pd.isna(sheet) else sheet)] = said
    return warnings


def _as_ddd_mmss(values: np.ndarray) -> np.ndarray:
    """Decimal degrees of numbers written as ddd.mmss (度.分秒); NaN where minutes or seconds exceed 59."""
    degrees = np.trunc(values)
    rest = np.round((np.abs(values - degrees)) * 10_000, 6)  # mmss.ss
    minutes, seconds = np.floor(rest / 100), rest % 100
    valid = (minutes < 60) & (seconds < 60)
    return np.where(valid, degrees + np.sign(values) * (minutes / 60 + seconds / 3600), np.nan)


def _note_status_words(raw: pd.DataFrame, rec: pd.DataFrame, notes: pd.Series, status: parse.CodedText) -> pd.Series:
    """Notes of the status words not understood (each named; their counts in `rec.attrs`, for the summary)
    and of the sites on hold (暂缓: kept in their stage, their blocker "other" where the row names none)."""
    rec.attrs["status_words_not_understood"] = {}
    if _is_all_missing(raw["status"]):
        return notes
    unknown, held = parse.status_flags(status)
    if unknown.any():
        words = parse.normalize_text(raw["status"][unknown]).astype(object)
        words = words[words.notna() & (words.astype(str).str.strip() != "")]
        if len(words):
            said = words.reindex(raw.index)
            notes = _append_note(notes, said.notna(), "status ", said, " not understood: stage unknown; ")
            rec.attrs["status_words_not_understood"] = {
                str(w): int(c) for w, c in sorted(words.value_counts().items(), key=lambda x: str(x[0]))
            }
    if held.any():
        held = pd.Series(held, index=raw.index)
        said = _text(raw, "status", held).reindex(raw.index)
        notes = _append_note(notes, held, "on hold (status ", said, "): a blocker holds it; ")
        rec.loc[held & rec["blocker"].isna(), "blocker"] = "other"
    return notes


def _count_fields(raw: pd.DataFrame) -> pd.Series:
    """How many of the fields each row fills, summed column by column over the fields the file has
    (a frame of a national file's twenty columns of booleans, summed across, was ~0.3 s)."""
    count = np.zeros(len(raw), dtype=np.int64)
    for column in FIELDS:
        if _is_all_present(raw[column]):  # (told by the Arrow null count: most of a national file's columns)
            count += 1
        elif not _is_all_missing(raw[column]):
            count += raw[column].notna().to_numpy()
    return _fresh(count, raw.index)


def _quarantine_details(raw: pd.DataFrame, rec: pd.DataFrame, pos: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """The detail text of each reason, built only for the rows quarantined for it."""
    lon_text, lat_text = pos["lon_text"], pos["lat_text"]
    on_air = rec["on_air_date"]

    def lon_lat(m: np.ndarray) -> pd.Series:  # (the texts of the rows quarantined only)
        return "lon=" + _as_written(lon_text[m]).astype(str) + " lat=" + _as_written(lat_text[m]).astype(str)

    details = {
        "unreadable_line": lambda m: raw["read_problem"][m].astype(str),
        "missing_coordinates": lon_lat,
        "unparseable_coordinates": lon_lat,
        "unknown_crs": lambda m: "crs=" + _text(raw, "crs", m).astype(str),
        "cancelled": lambda m: "status=" + _text(raw, "status", m).astype(str),
        "other_city": lambda m: "city=" + _text(raw, "city", m).astype(str),
        "outside_city": lambda m: (
            "WGS-84 " + rec["lon"][m].round(5).astype(str) + ", " + rec["lat"][m].round(5).astype(str)
        ),
        "unparseable_on_air_date": lambda m: "on_air_date=" + _text(raw, "on_air_date", m).astype(str),
        "future_on_air_date": lambda m: (
            "on_air_date " + on_air[m].dt.strftime("%Y-%m-%d") + " > " + as_of.strftime("%Y-%m-%d")
        ),
        "on_air_date_before_2019": lambda m: "on_air_date " + on_air[m].dt.strftime("%Y-%m-%d"),
    }
    planned = rec["planned_on_air_date"] if "planned_on_air_date" in rec else None
    if planned is not None and planned.notna().any():
        # (a tracker's 已开通 row with only its plan: the plan said, so the analyst sees which date is missing)
        details["on_air_without_date"] = lambda m: (
            "status=" + _text(raw, "status", m).astype(str)
            + ("; planned on-air date " + planned[m].dt.strftime("%Y-%m-%d") + " (a plan, not its on-air date)")
            .fillna("")
        )  # fmt: skip
    detail = np.full(len(rec), None, dtype=object)
    # the reasons compared only where a row has one (a few per cent of a national file: a comparison of
    # every row's Python object per reason cost ~0.07 s a million rows each)
    reason = rec["reason"].to_numpy(dtype=object)
    said = np.flatnonzero(pd.notna(reason))
    for name_, make in details.items():
        rows = said[reason[said] == name_]
        if len(rows):
            m = np.zeros(len(rec), dtype=bool)
            m[rows] = True
            detail[m] = make(m).to_numpy(dtype=object)
    return pd.Series(detail, index=rec.index, dtype=object, copy=False)


# --- OpenCelliD --------------------------------------------------------------------------------

#: Mobile network codes of MCC 460 (China), from the ITU-T E.212 list.
MNC_OPERATOR = {
    0: "CMCC",
    2: "CMCC",
    4: "CMCC",
    7: "CMCC",
    8: "CMCC",
    1: "CUCC",
    6: "CUCC",
    9: "CUCC",
    3: "CTCC",
    5: "CTCC",
    11: "CTCC",
    15: "CBN",
}


#: The country codes (MCC, ITU-T E.212) of China: 460, and 461, assigned to China and held in reserve.
CHINA_MCC = (460, 461)

#: One more than the largest NR Cell Identity: an NCI is 36 bits (3GPP TS 38.413, NR CGI), the gNB ID its
#: leading 22 to 32 of them.
NCI_LIMIT = 1 << 36


def valid_cell_ids(mcc: pd.Series, net: pd.Series, nci: pd.Series) -> pd.Series:
    """Per OpenCelliD row (its MCC, MNC and NCI read as numbers, NaN where not): True where all three can be
    what they claim, an NCI a whole number below 2^36, MCC and MNC whole numbers of up to three digits; a
    gNB ID is then `nci >> (36 - bits)`, below 2^bits. (The splitter of a partitioned clean routes by it too.)"""

    def whole(values: pd.Series, limit: float) -> np.ndarray:
        v = values.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return (v >= 0) & (v < limit) & (v == np.floor(v))

    return pd.Series(whole(nci, NCI_LIMIT) & whole(mcc, 1000) & whole(net, 1000), index=nci.index)


def _repeated_lines(cells: pd.DataFrame, ok: np.ndarray, cell_id: np.ndarray) -> np.ndarray:
    """Per cell row, the position of the first row whose line it repeats word for word (every field of the
    export; its file and row aside), -1 for none. Only usable rows (`ok`) are looked at, and only those whose
    cell (`cell_id`: MCC, MNC and NCI as one number) another usable row has are compared field by field."""
    out = np.full(len(cells), -1, dtype=np.intp)
    rows = np.flatnonzero(ok)
    candidates = rows[pd.Series(cell_id[rows]).duplicated(keep=False).to_numpy()]
    if not candidates.size:
        return out
    fields = [c for c in OPENCELLID_COLUMNS if c in cells.columns]
    line = cells.iloc[candidates][fields].groupby(fields, dropna=False, sort=False).ngroup().to_numpy()
    first = np.full(int(line.max()) + 1, len(cells), dtype=np.intp)
    np.minimum.at(first, line, candidates)
    repeat = first[line] != candidates
    out[candidates[repeat]] = first[line[repeat]]
    return out


def _gnb_keys(mcc: pd.Series, net: pd.Series, gnb: pd.Series, ok: np.ndarray) -> pd.Series:
    """ "MCC-MNC-gNB" per usable cell (whole numbers, `ok`), NaN for the others: joined by pyarrow (pandas'
    nullable integers made texts and joined were ~1.5 s of a national export)."""
    whole = [
        pa.array(np.where(ok, v.to_numpy(dtype=np.float64), 0.0), mask=~ok).cast(pa.int64()) for v in (mcc, net, gnb)
    ]
    parts = [pc.cast(v, pa.large_string()) for v in whole]
    joined = pc.binary_join_element_wise(*parts, pa.scalar("-", pa.large_string()))
    return pd.Series(joined.to_pandas(types_mapper=parse.AS_STR).array, index=mcc.index, copy=False)


def _opencellid_sites(cells: pd.DataFrame, districts, as_of: pd.Timestamp, gnb_bits: dict[str, int]) -> pd.DataFrame:
    """Per cell row: reason (quarantine) or its gNB site; per site: position, operator, first seen."""
    rec = pd.DataFrame(index=cells.index)
    radio = parse.normalize_text(cells["radio"]).str.upper()
    mcc = parse.to_numbers(cells["mcc"])
    net = parse.to_numbers(cells["net"])
    nci = parse.to_numbers(cells["cell"])
    lon = parse.to_numbers(cells["lon"])
    lat = parse.to_numbers(cells["lat"])
    created_num = parse.to_numbers(cells["created"])
    created = pd.to_datetime(created_num, unit="s", errors="coerce").dt.normalize()
    created = created.fillna(parse.parse_dates(pd.Series(cells["created"], dtype=object)))
    # an epoch 0 (1970-01-01) is a writer's "no date", not a date: as not given
    created = created.mask(created_num == 0)
    operator = pd.Series(np.where(mcc == 460, net.map(MNC_OPERATOR), None), index=cells.index).fillna("unknown")

    not_nr = radio != "NR"
    bad_id = ~not_nr & (nci.isna() | net.isna() | mcc.isna() | (nci < 0))
    # a number, but no NCI (beyond 36 bits, beyond int64, a fraction) or no MCC / MNC: its gNB ID would be made up
    invalid_id = ~not_nr & ~bad_id & ~valid_cell_ids(mcc, net, nci)
    other_country = ~mcc.isin(CHINA_MCC)
    missing_xy = cells["lon"].isna() | cells["lat"].isna()
    # (inf, -inf and 1e309, which overflows to inf, are numbers to pandas but no position)
    bad_xy = ~missing_xy & ~(np.isfinite(lon) & np.isfinite(lat))
    zero_xy = ~missing_xy & ~bad_xy & ((lon == 0) | (lat == 0))
    rec["reason"] = _first_reason(
        [
            ("unreadable_line", cells["read_problem"].notna()),
            ("not_nr", not_nr),
            ("unparseable_cell_id", bad_id),
            ("invalid_cell_id", invalid_id),
            ("other_country_network", other_country),
            ("missing_coordinates", missing_xy),
            ("unparseable_coordinates", bad_xy),
            ("zero_coordinates", zero_xy),
        ],
        cells.index,
    )
    rec["detail"] = None
    rec.loc[rec["reason"] == "not_nr", "detail"] = "radio=" + radio.astype(str)
    unreadable = rec["reason"] == "unreadable_line"
    rec.loc[unreadable, "detail"] = cells.loc[unreadable, "read_problem"]
    invalid_id = rec["reason"] == "invalid_cell_id"
    if invalid_id.any():
        said = cells.loc[invalid_id, ["mcc", "net", "cell"]].astype(object).astype(str).apply(lambda c: c.str.strip())
        rec.loc[invalid_id, "detail"] = "MCC " + said["mcc"] + ", MNC " + said["net"] + ", NCI " + said["cell"]
    foreign = rec["reason"] == "other_country_network"
    rec.loc[foreign, "detail"] = "MCC " + mcc[foreign].astype("Int64").astype(str)
    ok = rec["reason"].isna()
    # (looked up once per operator, not once per row)
    bits = operator.map({op: gnb_bits.get(op, gnb_bits["*"]) for op in operator.unique()}).astype("int64")
    # (the NCI of a row quarantined is not cast: 1e20 overflows int64)
    nci_ok = np.where(ok.to_numpy(), nci.to_numpy(dtype=np.float64, na_value=0), 0).astype("int64")
    gnb = pd.Series(np.right_shift(nci_ok, (36 - bits).to_numpy()), index=cells.index).where(ok)
    rec["operator"] = operator
    rec["gnb_key"] = _gnb_keys(mcc, net, gnb, ok.to_numpy())
    rec["lon"], rec["lat"], rec["created"] = lon, lat, created
    # a line repeated word for word is one cell, not two: merged into its first (`fate_cell_rows`), neither
    # counted among its site's cells nor moving its median
    cell_id = (np.where(ok, mcc * 1000 + net, 0).astype("int64") << 36) | nci_ok
    repeat_of = _repeated_lines(cells, ok.to_numpy(), cell_id)
    repeats = np.flatnonzero(repeat_of >= 0)
    rec["repeat_of"] = None  # (the first line's file:row, where a line repeats it)
    if repeats.size:
        firsts = repeat_of[repeats]
        said = _source_label(*(cells[c].iloc[firsts] for c in ("source_file", "source_sheet", "source_row")))
        rec.iloc[repeats, rec.columns.get_loc("repeat_of")] = said.to_numpy(dtype=object)
    ok = ok & (repeat_of < 0)

    live = rec[ok]
    # each live cell's site once, numbered in the order of the keys (the sites' order): the groupings below by
    # that number, not each hashing a national export's key texts again
    site_of, keys = pd.factorize(live["gnb_key"], sort=True)
    # a cell's own first-seen date before 2019 is set aside where other cells of its gNB have a plausible one
    # (one hostile cell took its whole site down); a site dated by no plausible cell is still judged by its
    # earliest date below (a date after the extract never is the earliest beside a plausible one)
    plausible = live["created"].between(EARLIEST_ON_AIR, as_of)
    set_aside = (live["created"] < EARLIEST_ON_AIR) & plausible.groupby(site_of).transform("any")
    # (and the cells whose date, 0, was read as not given)
    set_aside |= (created_num == 0)[ok]
    if set_aside.any():
        live = live.assign(created=live["created"].where(~set_aside))
    sites = live.groupby(site_of, sort=True).agg(
        operator=("operator", "first"),
        lon=("lon", "median"),
        lat=("lat", "median"),
        on_air_date=("created", "min"),
        cells=("lon", "size"),
    )
    sites.index = pd.Index(keys, name="gnb_key")
    if set_aside.any():
        sites["dates_set_aside"] = set_aside.groupby(site_of, sort=True).sum().to_numpy()
    # the site's first raw row (a per-group lambda here costs seconds per 100,000 sites)
    sites.insert(4, "anchor", live.index.to_series().groupby(site_of, sort=True).min().to_numpy())
    sites["district"] = geo.assign_district(sites["lon"].to_numpy(), sites["lat"].to_numpy(), districts)
    sites["reason"] = _first_reason(
        [
            ("outside_city", sites["district"].isna()),
            ("future_on_air_date", sites["on_air_date"] > as_of),
            ("on_air_date_before_2019", sites["on_air_date"] < EARLIEST_ON_AIR),
        ],
        sites.index,
    )
    # each cell's site by its number (its position here, kept by any selection of the sites as "site_number"):
    # the fates and stations find a cell's site among theirs by it, not by hashing the key texts again
    sites["site_number"] = np.arange(len(sites))
    at = np.full(len(rec), -1, dtype=np.intp)
    at[ok.to_numpy()] = site_of
    at[repeats] = at[repeat_of[repeats]]  # (a repeated line of its first line's site)
    rec["site"] = at
    rec["site_reason"] = parse.values_at(sites["reason"], at, rec.index)
    return rec, sites


# --- putting it together -----------------------------------------------------------------------


def _to_timestamp(as_of) -> pd.Timestamp:
    """The report date (today when not given) as a Timestamp; a one-line UsageError when not a date."""
    return pd.Timestamp(dt.date.today() if as_of is None else parse_date(as_of))


@contextlib.contextmanager
def _arrow_buffers_from_jemalloc():
    """Arrow's buffers taken from jemalloc while a run cleans and writes (the pool before restored after).
    A national file's columns come and go; with pyarrow's default pool, mimalloc, a third of a 4.25 M-row
    clean's CPU time was the kernel faulting in and zeroing fresh pages. With jemalloc, measured at 4.25 M
    rows: ~4 CPU s (2-3 of them system) less and a ~0.25 GB lower peak. A pyarrow without it: as before.
    The pool is the process's: runs overlapping in threads share one swap, undone by the last to finish."""
    with _POOL_SWAP["lock"]:
        if _POOL_SWAP["runs"] == 0:
            _POOL_SWAP["before"] = pa.default_memory_pool()
            try:
                pa.set_memory_pool(pa.jemalloc_memory_pool())
            except NotImplementedError:  # (a pyarrow built without jemalloc)
                _POOL_SWAP["before"] = None
        _POOL_SWAP["runs"] += 1
    try:
        yield
    finally:
        with _POOL_SWAP["lock"]:
            _POOL_SWAP["runs"] -= 1
            if _POOL_SWAP["runs"] == 0 and _POOL_SWAP["before"] is not None:
                pa.set_memory_pool(_POOL_SWAP["before"])
                _POOL_SWAP["before"] = None


#: The memory-pool swap shared by overlapping cleaning runs (see `_arrow_buffers_from_jemalloc`).
_POOL_SWAP: dict = {"lock": threading.Lock(), "runs": 0, "before": None}


def clean_stations(
    inputs: list[str | Path] | str | Path,
    city: str | City | None = None,
    as_of: str | dt.date | None = None,
    input_crs: str | None = None,
    gnb_id_bits: str | int | dict | None = None,
    progress: Progress | None = None,
    stations_built: Callable[[pd.DataFrame], None] | None = None,
) -> CleanResult:
    """Clean raw station files (or folders of them) for one city.

    Returns the stations (GeoDataFrame, WGS-84), the quarantine (every raw row not kept, with
    its reason; merged rows with the station they joined), the summary dict and the source
    ledger. Files that cannot be read at all are listed in `failed_files` (one line each) and
    the others are still cleaned.

    Progress: a step per file read and one per stage of the cleaning (`CLEAN_STAGE_STEPS`: the bar of a
    national file moves while its stages run), on `progress` when the caller has a task of its own
    (`clean_to_folder`, whose writing follows), else on a task of this call. `stations_built`: called with
    the station table as soon as it is final, before it is checked against the schema and the source ledger
    and the summary are made (the table is not changed after it; a check that fails raises from this call:
    `clean_to_folder` writes the table meanwhile under a temporary name, put in place only once all is done).
    """
    as_of_ts = _to_timestamp(as_of)
    default_crs = _default_crs(input_crs)
    gnb_bits = parse_gnb_id_bits(gnb_id_bits)

    inputs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    missing = [Path(p) for p in inputs if not Path(p).exists()]
    files = list_input_files([p for p in inputs if Path(p).exists()])
    with (
        _arrow_buffers_from_jemalloc(),
        contextlib.nullcontext(progress) if progress is not None else task("clean") as progress,
        ThreadPoolExecutor(2) as background,
    ):
        # the city and its districts (city.toml and the polygons: Python's TOML and JSON parsers, ~0.5 s for the
        # 8,733 districts of the country), and the schema (pandera's import, ~0.5 s), made while pyarrow's
        # reader, which releases the GIL, reads (a city that cannot be read fails the run with the same one line
        # as before, once the files are read)
        city_read = background.submit(_city_and_districts, city)
        background.submit(_stations_schema_but_unique_ids)
        background.submit(import_scipy)  # (the de-duplication's, ~0.4 s)
        progress.add_total(len(files) + CLEAN_STAGE_STEPS)
        tables, file_info, failed = _read_all(files, progress)  # a step per file read, then the stages
        city, districts = city_read.result()
        failed = [f"{p}: no such file or folder" for p in missing] + failed
        file_info = (
            [{"file": str(p), "error": "no such file or folder"} for p in missing]
            + file_info
            + [{"file": project_relative(p), "skipped": why} for p, why in list_skipped_files(inputs)]
        )
        if not tables:
            raise _nothing_readable(inputs, file_info)
        result = _clean_tables(
            tables, file_info, failed, city, districts, as_of_ts, default_crs, gnb_bits, True, progress, stations_built
        )
        s = result.summary
        progress.advance(
            note=f"{s['rows_kept']:,} stations, {s['rows_merged']:,} rows merged, {s['rows_quarantined']:,} quarantined"
        )
    return result


def _city_and_districts(city: str | City | None) -> tuple[City, gpd.GeoDataFrame]:
    """The city (`resolve_city`) and its district polygons (`geo.read_districts`)."""
    city = resolve_city(city)
    return city, geo.read_districts(city)


def _nothing_readable(inputs: list, file_info: list[dict]) -> BadInputError:
    """The error of a run that found no table of records: what it found instead, file by file."""
    found = [f"{i['file']}: {i.get('error') or i.get('skipped')}" for i in file_info]
    where = ", ".join(str(p) for p in inputs)
    return BadInputError(
        f"no station records to clean in {where}"
        + (
            f" ({'; '.join(found[:5])}{' …' if len(found) > 5 else ''})"
            if found
            else " (no CSV, XLSX, XLS, .gz or .zip file in it)"
        )
    )


def clean_tables(
    tables: list[RawTable],
    city: str | City | None = None,
    as_of: str | dt.date | None = None,
    input_crs: str | None = None,
    gnb_id_bits: str | int | dict | None = None,
    file_info: list[dict] | None = None,
) -> CleanResult:
    """`clean_stations` on tables already read (`sources.read_station_file`, or a partition of a
    file that keeps each row's `source_row` in the whole file, as `analysis.clean.partitioned` makes)."""
    city = resolve_city(city)
    info = (
        file_info
        if file_info is not None
        else [
            {"file": project_relative(t.path), "sheet": t.sheet, "kind": t.kind, "rows": int(len(t.frame))}
            for t in tables
        ]
    )
    return _clean_tables(
        tables,
        info,
        [],
        city,
        geo.read_districts(city),
        _to_timestamp(as_of),
        _default_crs(input_crs),
        parse_gnb_id_bits(gnb_id_bits),
    )


def _default_crs(input_crs: str | None) -> str:
    default_crs = (input_crs or "wgs84").lower().replace("-", "")
    if default_crs not in ("wgs84", "gcj02", "bd09"):
        raise UsageError(f"--input-crs: {input_crs!r} is not wgs84, gcj02 or bd09")
    return default_crs


def _clean_tables(
    tables: list[RawTable],
    file_info: list[dict],
    failed: list[str],
    city: City,
    districts,
    as_of_ts: pd.Timestamp,
    default_crs: str,
    gnb_bits: dict[str, int],
    release_read: bool = False,
    progress: Progress | None = None,
    stations_built: Callable[[pd.DataFrame], None] | None = None,
) -> CleanResult:
    """The body of `clean_stations` once the files are read: also what each partition of
    `analysis.clean.partitioned.clean_partitioned` runs, on tables that keep their source file and row.
    `release_read`: the tables are this run's own, their frames emptied once stacked (a second copy
    of a national file's text otherwise lives to the end). `progress`: advanced after parsing, de-duplication and
    the build (`CLEAN_STAGE_STEPS` less the summary's step, which the caller takes). `stations_built`: see
    `clean_stations`."""
    raw, operator, positions = _stack_operator_rows(tables, release_read, districts, default_crs)
    cells = _stack(tables, "opencellid", OPENCELLID_COLUMNS, release_read)

    tracker_days, tracker_said, row_days = _tracker_days(tables, raw, as_of_ts)
    names = (city.name_zh, city.name_en)
    rec = _parse_operator_rows(raw, districts, as_of_ts, default_crs, names, row_days, operator, positions)
    del operator, positions
    status_words = rec.attrs.pop("status_words_not_understood", {})
    _say_files_outside(file_info, rec.attrs.pop("outside_warnings", {}))
    sender = _senders_of_rows(raw, tables)
    tables_dated = _date_tables(rec, row_days, tracker_days, tracker_said, file_info)
    _read_gnb_id_forms(rec, sender)
    _name_unread_columns(rec, raw, tables)
    cell_label = raw.pop(CELL_LABEL).astype("string") if CELL_LABEL in raw.columns else None
    # of the raw text only the rows that may end in the quarantine are kept from here on (of a national
    # file a few per cent: its text held through de-duplication and the build was ~1 GB at 4.25 M rows)
    _advance(progress, f"{len(rec):,} operator rows parsed")
    # every row's station id made and sorted while the duplicates are found (`_ids_in_order`)
    with ThreadPoolExecutor(1) as naming:
        named = naming.submit(_ids_in_order, rec[list(_ID_COLUMNS)])
        row_labels = naming.submit(_row_labels, raw[["source_file", "source_sheet", "source_row"]])
        rows, position_key, code_key = _rows_that_may_leave(rec, sender, named)
        leaving, raw = raw.take(rows), raw[["source_file", "source_sheet", "source_row"]]
        record_key = record_keys(leaving, rows, position_key)
        dd, conflict_anchor, heads = _dedupe_operator_rows(rec, record_key, code_key, sender)
        if cell_label is not None:
            _name_cells_of_one_station(dd, cell_label)
        del rows, position_key, code_key, record_key
        _advance(progress, "duplicates merged")
        cell_rec, sites = _opencellid_sites(cells, districts, as_of_ts, gnb_bits)
        n_set_aside = int(sites["dates_set_aside"].sum()) if "dates_set_aside" in sites.columns else 0
        good_sites = sites[sites["reason"].isna()]
        site_station, site_dist, site_notes = match_sites(good_sites, rec, heads, sender)
        _add_notes(rec, site_notes)
        del sender
        heads, head_ids, in_id_order = _named_heads(rec, heads, named.result())
        del named  # (every row's ids: freed once the heads' are taken)
    network_only = good_sites[site_station.isna()]
    network_only = network_only.assign(
        station_id=(network_only["operator"] + "-G" + network_only.index.to_series()).astype(object)
    )
    good_at = cell_site_positions(cell_rec, good_sites)  # (each cell row's site among the good ones, -1 none)

    # the fates of the rows and the quarantine found in a thread while the stations are built (most of either in
    # pyarrow's and numpy's kernels, which release the GIL: ~0.45 s of a national file's main thread alone before)
    with ThreadPoolExecutor(1) as fating:
        fated = fating.submit(
            _fates_and_quarantine,
            (rec[["reason", "detail"]], dd, conflict_anchor, head_ids, leaving),
            (cells, cell_rec, good_sites, good_at, site_station, site_dist, network_only),
        )
        if len(cells):  # (with OpenCelliD's cells, first: their fates' details freed before the build, ~0.3 GB at 10⁶)
            fated.result()
        del leaving
        # of the parsed rows only what the stations are built from (the fates hold reasons and details)
        rec = rec.drop(columns=["mangled_code", "reason", "detail", "n_fields"])
        counted = _counted_notes(rec["notes"], status_words, tables_dated, n_set_aside)
        # the stations in the order of their ids from the start: the finished table is then sorted already, not
        # taken again whole (of a national file, ~1.5 GB held twice); the ids sorted unless in order (`_named_heads`)
        by_id = slice(None) if in_id_order else _station_id_order(head_ids)
        # (the build takes rec's columns out as it uses them: a national file's parsed values held whole
        # beside the stations built from them were the peak, ~1 GB at 4.25 M rows)
        heads, head_ids = heads[by_id], head_ids.iloc[by_id]
        members = _station_members(rec, dd, heads)
        # the values of the heads alone, then the sources' labels, made by pyarrow (which releases the GIL) while
        # the other values are taken: on two cores ~0.7 s of a national file's main thread, ~0.3 GB more at the peak
        with ThreadPoolExecutor(1) as labelling:
            head_values = labelling.submit(_head_values, rec[list(_HEAD_COLUMNS)], raw, members.head_at, heads)
            labelled = labelling.submit(_labels_of_members, raw, members, not len(cells), row_labels)
            st, station_of = _operator_stations(raw, rec, heads, head_ids, as_of_ts, members, head_values)
            del head_values, rec, dd
            own_labels, member_sources, joined = labelled.result()
        del members, row_labels
        # the raw rows and the heads are done with: freed before the stations are completed, typed and checked
        del raw, heads, head_ids, by_id
        quarantine, op_fate, cell_fate = fated.result()
    _attach_opencellid(
        st, own_labels, member_sources, station_of, cells, cell_fate, good_at, site_station, site_dist, joined
    )
    del member_sources, own_labels, joined
    if len(network_only):
        st = pd.concat([st, _network_only_stations(network_only, cells, cell_rec)])

    # the cells are done with: freed before the stations are typed and copied
    del cells, cell_rec

    stations = _finish_stations(st, as_of_ts)
    del st
    if stations_built is not None:
        stations_built(stations)
    _validate_sorted_stations(stations)  # (while it is written: ~0.3 s of a national table off the writing's tail)
    _advance(progress, f"{len(stations):,} stations built")
    ledger = build_source_ledger(stations)
    fates = pd.concat([op_fate["fate"], cell_fate["fate"]], ignore_index=True)
    reasons = pd.concat([op_fate["reason"], cell_fate["reason"]], ignore_index=True)
    context = {"city": city.key, "as_of": as_of_ts.strftime("%Y-%m-%d"), "files": file_info, "failed_files": failed}
    context["parameters"] = _parameters(default_crs, gnb_bits)
    counted["lat_lon_swapped"] = _count_notes(stations["notes"], "swapped")
    context["notes"] = counted
    summary = summarize(stations, fates, reasons, context)
    return CleanResult(stations, quarantine, summary, ledger)


def _fates_and_quarantine(operator: tuple, opencellid: tuple) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The quarantine, and of the fates of the operator records and of the cells only what the summary counts
    (fate, reason: the details and targets, ~0.1 GB of a national file, freed with the quarantine built):
    `operator`, the parsed rows' reasons and details, the de-duplication, its conflicts, the heads' ids (in
    the heads' order) and the rows that may leave; `opencellid`, what `fate_cell_rows` and
    `build_quarantine` take of the cells."""
    reasons, dd, conflict_anchor, head_ids, leaving = operator
    cells, cell_rec, good_sites, good_at, site_station, site_dist, network_only = opencellid
    op_fate = fate_operator_rows(reasons, dd, conflict_anchor, head_ids)
    cell_fate = fate_cell_rows(cell_rec, good_sites, good_at, site_station, site_dist, head_ids, network_only)
    # of the raw text only the quarantine's rows and where each row came from are needed
    quarantine = build_quarantine(select_unkept_rows(leaving, op_fate), op_fate, cells, cell_fate)
    return quarantine, op_fate[["fate", "reason"]], cell_fate[["fate", "reason"]]


def _counted_notes(notes: pd.Series, status_words: dict, tables_dated: dict, n_set_aside: int) -> dict:
    """The summary's notes counted of the parsed rows' notes, and the others said only where they apply."""
    return {
        "tenant_records_from_shared_rows": _count_notes(notes, "of a shared tower row"),
        "lat_lon_swapped": None,  # (the stations' count, once they are built: its place in the summary's order)
        "gcj02_converted_rows": _count_notes(notes, "GCJ-02"),
        "bd09_converted_rows": _count_notes(notes, "BD-09"),
        # (only where a word was not understood: the summary of other inputs stays as it was)
        **({"status_words_not_understood": status_words} if status_words else {}),
        # (only where tables of several days were read: which day each is of, and where that was read)
        **({"tables_dated": tables_dated} if tables_dated else {}),
        # (only where a cell's date was set aside, 0 or implausible beside its site's other cells)
        **({"opencellid_cell_dates_set_aside": n_set_aside} if n_set_aside else {}),
    }


def _say_undated_trackers(file_info: list[dict], days: dict) -> None:
    """Of several trackers, each that names no day (in its file name, sheet name or title) says in its file's notes
    how its records were ranked against the others' (the summary's notes say it for every tracker)."""
    dated = len({d for d in days.values() if d >= 0}) >= 2
    said = (
        "a tracker naming no day (file name, sheet name or title): its records ranked after the dated trackers'"
        if dated
        else "a tracker naming no day (file name, sheet name or title): the trackers' records ranked by"
        " completeness, then file order (which week is newer is not known)"
    )
    for info in file_info:
        if days.get((info.get("file"), info.get("sheet"))) == -1:
            info["notes"] = [*info.get("notes", []), said]


def _say_files_outside(file_info: list[dict], warnings: dict[tuple, str]) -> None:
    """Each warning of a file mostly outside the city (`_outside_warnings`) into its file's notes (which the
    command prints)."""
    for info in file_info:
        said = warnings.get((info.get("file"), info.get("sheet")))
        if said:
            info["notes"] = [*info.get("notes", []), said]


def _parameters(default_crs: str, gnb_bits: dict[str, int]) -> dict:
    """The summary's record of the settings a run used."""
    return {
        "input_crs": default_crs,
        "gnb_id_bits": gnb_bits,
        "duplicate_radius_m": DUPLICATE_RADIUS_M,
        "match_radius_m": MATCH_RADIUS_M,
        "disagree_radius_m": DISAGREE_RADIUS_M,
    }


def _rows_that_may_leave(
    rec: pd.DataFrame, sender: np.ndarray, named: Future | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions of the parsed rows that may end in the quarantine (quarantined already, or rows
    de-duplication may merge, into a record of their own sender or of another), and the position and code
    keys it found them by (`dedupe.dedupe_keys`; of the codes only those of several rows, `rows_that_may_merge`).
    `named`: every row's station ids in order being made (`_ids_in_order`), of which the code key is read
    where the ids tell operator and code apart (`_code_key_of_ids`)."""
    of_ids = None
    if named is not None and _ids_tell_codes_apart(rec["operator"], rec["site_code"]):
        coded = rec["site_code"].notna().to_numpy()

        def of_ids() -> np.ndarray:
            return _code_key_of_ids(coded, *named.result())

    position_key, code_key = dedupe_keys(rec, of_ids)
    may_merge, code_key = rows_that_may_merge(position_key, code_key)
    may_merge |= rows_of_later_senders(sender)
    rows = np.flatnonzero(rec["reason"].notna().to_numpy() | may_merge)
    return rows, position_key, code_key


def _senders_of_rows(raw: pd.DataFrame, tables: list[RawTable]) -> np.ndarray:
    """Per operator-report row, the namespace of its site code: `dedupe.sender_of_table` of its table (found
    by its file and sheet); one array of the one namespace when every table has it (a national file)."""
    by_table = {
        (project_relative(t.path), t.sheet): sender_of_table(t.context, t.columns)
        for t in tables
        if t.kind == "operator"
    }
    kinds = sorted(set(by_table.values()))
    if len(kinds) <= 1:
        return np.full(len(raw), kinds[0] if kinds else SENDER_OPERATOR, dtype=np.int8)
    return _per_table_of_rows(raw, by_table, SENDER_OPERATOR, np.int8)


def _per_table_of_rows(raw: pd.DataFrame, by_table: dict, default, dtype) -> np.ndarray:
    """Each row's value of `by_table` (keyed by (file, sheet); `default` for a table it lacks), looked up once
    per distinct file and sheet pair (a national file's rows are millions, its tables a handful)."""
    files = pd.Categorical(raw["source_file"])
    sheets, sheet_names = pd.factorize(raw["source_sheet"].astype(object), use_na_sentinel=True)  # (-1: a CSV)
    width, names = len(sheet_names) + 1, [None, *sheet_names]
    pairs, at = np.unique(files.codes.astype(np.int64) * width + (sheets + 1), return_inverse=True)
    of_pair = [by_table.get((files.categories[p // width], names[p % width]), default) for p in pairs]
    return np.asarray(of_pair, dtype=dtype)[at]


#: The values of a station only its newest dated record gives (an older week's are not filled in where the newer
#: week's are blank: a blocker the newer sheet marks 无 is over, a plan it leaves out no longer stands).
LATEST_ONLY_COLUMNS = ("blocker", "blocker_detail", "responsible", "planned_on_air_date", "on_air_date")


def _tracker_days(tables: list[RawTable], raw: pd.DataFrame, as_of: pd.Timestamp) -> tuple[dict, dict, np.ndarray]:
    """Per tracker (a table of the tower company or the task force: `dedupe.sender_of_table`), the day its sheet
    name, file name or title names (days since 1970, -1 for none), keyed by (file, sheet); by its label the day
    and where it was read (an undated one said so); and each row's (-1 for a row of no tracker; None without
    trackers): what a plan written without its year is read against, and which week's record of a site wins."""
    days, said = {}, {}
    for t in tables:
        # (a tracker's: an operator's reports list stations on air, each its own list, not a week's update)
        if t.kind != "operator" or sender_of_table(t.context, t.columns) != SENDER_TOWER:
            continue
        texts = {"sheet name": t.sheet or "", "file name": t.path.stem, "title": t.title}
        found = parse.date_of_table(texts, as_of)
        key = (project_relative(t.path), t.sheet)
        days[key] = -1 if found is None else (found[0] - dt.date(1970, 1, 1)).days
        said[t.label] = (
            "no day named: ranked by completeness, then file order"
            if found is None
            else (f"{found[0].isoformat()} ({found[1]})")
        )
    # (each row's: -1 for a row of no dated tracker)
    return days, said, (_per_table_of_rows(raw, days, -1, np.int64) if days else None)


def _date_tables(rec: pd.DataFrame, row_days: np.ndarray | None, days: dict, said: dict, file_info: list[dict]) -> dict:
    """Where the trackers read (`_tracker_days`) are of more than one day (two weekly files, a workbook of
    monthly sheets), each row's table day into `rec["table_day"]` (days since 1970, -1 for a table that names
    none): the newer record of a site then heads it (`dedupe.dedupe_rows`) and gives its stage, blocker and
    dates. Returns, per tracker, its day and where it was read (an undated one said so; its records ranked as
    before: the most complete first, then file order), nothing else changing when fewer than two days are
    named; {} for a single tracker. Of several, each that names no day says so in its file's notes too."""
    if len(said) < 2:  # (one tracker: nothing to say)
        return {}
    _say_undated_trackers(file_info, days)
    if len({d for d in days.values() if d >= 0}) < 2:
        # (several trackers not told apart by their days: the rule of old, said)
        return {label: f"{text} (the trackers name fewer than two days)" for label, text in sorted(said.items())}
    rec["table_day"] = row_days
    return dict(sorted(said.items()))


def _note_updates(rec: pd.DataFrame, dd: pd.DataFrame) -> None:
    """A record of a station that a newer dated record of it supersedes says so in the station's notes, with
    what it said (its stage and blocker): a weekly update is seen, not only its result."""
    if "table_day" not in rec:
        return
    day = pd.Series(rec["table_day"].to_numpy()[rec.index.get_indexer(dd.index)], index=dd.index)
    newest = day.groupby(dd["anchor"].to_numpy()).transform("max")
    older = (day >= 0) & (day < newest)
    if not older.any():
        return
    # (only where the newest record says otherwise: a week that repeats the last one is no update)
    at = rec.index.get_indexer(dd.index)
    said = pd.DataFrame(
        {
            "anchor": dd["anchor"].to_numpy(),
            "stage": rec["reported_status"].to_numpy(dtype=object)[at],
            "blocker": pd.Series(rec["blocker"].to_numpy(dtype=object)[at]).fillna("none").to_numpy(),
        },
        index=dd.index,
    )
    latest = said[(day == newest).to_numpy()].drop_duplicates("anchor").set_index("anchor")
    then_said = latest.reindex(said["anchor"]).set_axis(said.index)
    changed = (said["stage"] != then_said["stage"]) | (said["blocker"] != then_said["blocker"])
    older &= changed
    if not older.any():
        return
    rows = older[older].index
    when = pd.to_datetime(day[rows], unit="D").dt.strftime("%Y-%m-%d")
    then = pd.to_datetime(newest[rows], unit="D").dt.strftime("%Y-%m-%d")
    blocker = rec.loc[rows, "blocker"].astype(object).where(rec.loc[rows, "blocker"].notna(), "none")
    status = rec.loc[rows, "reported_status"].astype(object)
    said = zip(then, when, status, blocker, strict=True)
    text = [f"updated on {t}: the record of {w} said stage {s}, blocker {b}" for t, w, s, b in said]
    _add_notes(rec, pd.Series(text, index=rows, dtype=object))


def _read_gnb_id_forms(rec: pd.DataFrame, sender: np.ndarray) -> None:
    """The codes of gNB ID columns written in hex or after the network's MCC and MNC (0xC3500, C3504,
    460-00-800002, 46000800003) as the decimal gNB ID OpenCelliD's cells carry (in place, said in the notes):
    one gNB in two forms is then one station, and its cells join it by their ID."""
    at = np.flatnonzero(sender == SENDER_GNB_ID)
    if not len(at):
        return
    codes = rec["site_code"].iloc[at]
    ids, how = parse.read_gnb_ids(codes)
    read = how.notna().to_numpy()
    if not read.any():
        return
    rows = codes.index[read]
    rec.loc[rows, "site_code"] = ids[read].to_numpy(dtype=object)
    said = "gNB ID " + codes[read].astype(object) + " read as " + ids[read] + " (" + how[read] + ")"
    _add_notes(rec, said)


def _add_notes(rec: pd.DataFrame, notes: pd.Series) -> None:
    """`notes` (by row label) after each row's notes in `rec`."""
    if not len(notes):
        return
    prior = rec.loc[notes.index, "notes"]
    rec.loc[notes.index, "notes"] = (prior + "; " + notes).fillna(notes).to_numpy(dtype=object)


def _unsay_planned_position_of_joined(rec: pd.DataFrame, dd: pd.DataFrame) -> None:
    """A record at its planned position that joined another sender's station at an actual position: the note
    "position is the planned one" taken off its notes (the station's notes gather its records', and its position
    is the actual one; the merge's own note says which record was at its planned position)."""
    if "planned_position" not in rec:
        return
    joined = dd.index[(dd["merge_reason"] == "same_station_other_sender").to_numpy()]
    if not len(joined):
        return
    planned = rec["planned_position"]
    rows = joined[
        planned.loc[joined].to_numpy(dtype=bool) & ~planned.loc[dd.loc[joined, "anchor"]].to_numpy(dtype=bool)
    ]
    if len(rows):
        said = rec.loc[rows, "notes"].astype(object)
        for text in (PLANNED_POSITION_NOTE, PLANNED_POSITION_NOTE.rstrip("; ")):  # (amid the notes, or last)
            said = said.str.replace(text, "", regex=False)
        said = said.str.strip("; ")
        rec.loc[rows, "notes"] = said.where(said != "", None).to_numpy(dtype=object)


def _dedupe_operator_rows(
    rec: pd.DataFrame, record_key: np.ndarray, code_key: np.ndarray, sender: np.ndarray
) -> tuple[pd.DataFrame, pd.Series, pd.Index]:
    """De-duplicate the usable rows (keys: `dedupe.dedupe_keys`); a row whose code sits > 50 m from its
    code's kept record is quarantined in `rec` as a conflict; then the kept records of different senders
    (`sender`) that are one station (`dedupe.merge_across_senders`, its details and notes put in `rec`; and
    the notes of records a newer week's supersedes, `_note_updates`).
    Returns the merges, each conflict's anchor and the kept rows."""
    dd = dedupe_rows(rec, record_key, code_key)
    conflict = dd["conflict"].notna()
    conflict_anchor = dd.loc[conflict, "anchor"]
    rec.loc[dd.index[conflict], "reason"] = "site_code_conflict"
    rec.loc[dd.index[conflict], "detail"] = dd.loc[conflict, "conflict"]
    dd = dd[~conflict]
    heads = dd.index[dd["anchor"].to_numpy() == dd.index.to_numpy()]
    dd, heads, detail, notes = merge_across_senders(rec, dd, heads, sender)
    _unsay_planned_position_of_joined(rec, dd)
    if len(detail):
        rec.loc[detail.index, "detail"] = detail.to_numpy(dtype=object)
        # a conflict with a record now merged into another sender's names the station it joined
        conflict_anchor = conflict_anchor.map(dd["anchor"]).fillna(conflict_anchor).astype(conflict_anchor.dtype)
    _add_notes(rec, notes)
    _note_updates(rec, dd)
    return dd, conflict_anchor, heads


def _name_cells_of_one_station(dd: pd.DataFrame, cell_label: pd.Series) -> None:
    """Rows of a cell-level export alike in every field read but their cell (桃北路_1, 桃北路_2) are
    cells of one station, not one record repeated: their merge says so."""
    exact = np.flatnonzero((dd["merge_reason"] == "exact_duplicate").to_numpy())
    if not len(exact):
        return
    rows = dd.index[exact]
    anchors = dd["anchor"].iloc[exact]
    # a row is one record repeated when its anchor or an earlier row of that anchor has its cell too
    pairs = pd.DataFrame(
        {
            "anchor": np.concatenate([anchors.unique(), anchors.to_numpy()]),
            "cell": np.concatenate(
                [
                    cell_label.reindex(anchors.unique()).to_numpy(dtype=object, na_value=None),
                    cell_label.reindex(rows).to_numpy(dtype=object, na_value=None),
                ]
            ),
        }
    )
    cells = ~pairs.duplicated().to_numpy()[-len(rows) :] & pairs["cell"].notna().to_numpy()[-len(rows) :]
    dd.loc[rows[cells], "merge_reason"] = "cells_of_one_station"


def _name_unread_columns(rec: pd.DataFrame, raw: pd.DataFrame, tables: list[RawTable]) -> None:
    """The detail of a row without identity or without an on-air date names its file's columns not read:
    often the very column (gNodeB ID, Commissioning Date) under a header the reader does not know."""
    unread = {
        project_relative(t.path): t.columns_not_read for t in tables if t.kind == "operator" and t.columns_not_read
    }
    if not unread:
        return
    said = rec["reason"].isin(["no_identity", "on_air_without_date"]).to_numpy()
    if not said.any():
        return
    rows = np.flatnonzero(said)
    texts = {f: "columns not read in its file: " + ", ".join(cols) for f, cols in unread.items()}
    # (the file of only the rows said, as a category: its few names mapped, not a string per row)
    files = raw["source_file"].iloc[rows].astype("category")
    text = np.array([texts.get(f, "") for f in files.cat.categories] + [""], dtype=object)[files.cat.codes.to_numpy()]
    prior = rec["detail"].iloc[rows].to_numpy(dtype=object)
    has_prior = pd.notna(prior)
    joined = np.where(has_prior, np.char.add(np.char.add(prior.astype(str), "; "), text.astype(str)), text)
    detail = rec["detail"].to_numpy(dtype=object).copy()
    detail[rows] = np.where(text != "", joined, prior)
    rec["detail"] = pd.Series(detail, index=rec.index, dtype=object)


def _station_ids(rec: pd.DataFrame, heads: pd.Index) -> pd.Series:
    """operator-code, or operator-@lon,lat (5 decimals) for a station without a code."""
    return _station_ids_at(rec, rec.index.get_indexer(heads), heads)


def _station_ids_at(
    rec: pd.DataFrame, at: np.ndarray | None, heads: pd.Index, operators: tuple | None = None
) -> pd.Series:
    """The station ids (`_station_ids`) of the rows at positions `at` of `rec` (None: every row, none
    taken), labelled `heads`; `operators`: `parse.factorize_text` of rec's operators, where made already."""
    # operator-code joined by pyarrow, the operator's part made once per operator (a Python string per
    # station before, joined again with its code: seconds a national file); the operators encoded as they
    # are held (Arrow strings by pyarrow: no Python string per station)
    codes, names = operators if operators is not None else parse.factorize_text(rec["operator"])
    codes = codes if at is None else codes[at]
    prefix = pa.array([f"{name}-" for name in names], pa.large_string()).take(pa.array(codes, mask=codes < 0))
    code = parse.arrow_text(rec["site_code"].astype("str"))
    code = code if at is None else code.take(pa.array(at))
    joined = pc.binary_join_element_wise(prefix, code.cast(pa.large_string()), pa.scalar("", pa.large_string()))
    code_id = pd.Series(joined.to_pandas(types_mapper=parse.AS_STR).array, index=heads)
    no_code = code_id.isna().to_numpy()
    if not no_code.any():
        return code_id
    # a position id only where there is no code (a Python format call per row)
    lon, lat = (rec[c].to_numpy() if at is None else rec[c].to_numpy()[at] for c in ("lon", "lat"))
    lon, lat = lon[no_code], lat[no_code]
    operator = pd.Series(np.array([*names, np.nan], dtype=object)[codes[no_code]], index=heads[no_code], dtype=object)
    pos_id = (
        operator
        + "-@"
        + pd.Series(lon, index=heads[no_code]).map("{:.5f}".format)
        + ","
        + pd.Series(lat, index=heads[no_code]).map("{:.5f}".format)
    )
    return code_id.fillna(pos_id).astype("str")  # Arrow: ~75 bytes a station less than Python strings


def _ids_tell_codes_apart(operator: pd.Series, site_code: pd.Series) -> bool:
    """True when the station ids of the rows with a site code (`_station_ids`: operator, "-", code) are equal
    exactly where their operator and code are: every such row has an operator, and no operator's name holds a
    "-" (then an id's first "-" ends its operator)."""
    if (operator.isna().to_numpy() & site_code.notna().to_numpy()).any():
        return False
    # (pyarrow's scan of the names, not their codes: a national file's 4.29 M operators encoded took ~0.09 s)
    text = pa.chunked_array([pa.array(operator.astype("str").array)])
    return not pc.any(pc.match_substring(text, "-")).as_py()


def _code_key_of_ids(coded: np.ndarray, order: np.ndarray, ids: pa.ChunkedArray) -> np.ndarray:
    """`dedupe._code_key` (an integer per row that the rows of its operator and site code share, -1 without
    a code) read from every row's station id in order (`_ids_in_order`: `ids` sorted by `order`), where the
    ids tell operators and codes apart (`_ids_tell_codes_apart`): equal neighbours among the rows with a code
    share a key. The ids are sorted anyway; the codes grouped again by sorting were ~1.1 CPU s of a national
    file, on the main thread's path (it waited for them), this ~0.1 s. `coded`: per row, True with a code."""
    in_order = coded[order]
    rows = order[in_order]
    key = np.full(len(coded), -1, dtype=np.int64)
    if len(rows):
        texts = ids.filter(pa.array(in_order))
        new = np.ones(len(rows), dtype=bool)
        new[1:] = ~pc.equal(texts[1:], texts[:-1]).to_numpy(zero_copy_only=False)
        key[rows] = np.cumsum(new) - 1
    return key


#: The columns of `rec` a station id is made of (`_station_ids`).
_ID_COLUMNS = ("operator", "site_code", "lon", "lat")


def _ids_in_order(rec: pd.DataFrame) -> tuple[np.ndarray, pa.ChunkedArray]:
    """The station ids (`_station_ids`) of every row of `rec` as if each headed a station, in their stable
    code-point order (`_station_id_order`), and that order: made in a thread while the duplicates are found
    (pyarrow's joins, sort and take release the GIL), of `rec[_ID_COLUMNS]` taken before (copy on write: a
    later change of `rec` is not seen). A national file's heads are ~99 % of its rows: their ids in order
    are then these, filtered (`_head_ids_in_order`), where the main thread made its heads' ids (~0.4 s),
    waited for their sort (~0.2 s of ~0.6 s) and took them in that order (~0.1 s)."""
    operators = parse.factorize_text(rec["operator"])
    ids = _station_ids_at(rec, None, rec.index, operators)
    array = pa.chunked_array(pa.array(ids.array))
    found = _order_if_sorted_by_operator(*operators, array)
    if found is not None:
        return found
    order = _station_id_order(ids)
    return order, array.take(pa.array(order))


def _order_if_sorted_by_operator(
    codes: np.ndarray, names: np.ndarray, ids: pa.ChunkedArray
) -> tuple[np.ndarray, pa.ChunkedArray] | None:
    """What `_station_id_order` gives for `ids` (each its row's operator, a "-" and more: `_station_ids`; the
    operators as `parse.factorize_text` codes them: `codes`, `names`), and the ids in that order, found without
    sorting the texts where each operator's rows are in id order already (an export sorted by site code): the
    rows grouped by operator, stably, in the code-point order of the operators' "name-", then checked to be in
    order (each id against the one before it), and none equal across two operators (there the stable sort keeps
    the rows' order, not the operators'). None where they are not so, or an id or an operator is missing: the
    texts are then sorted (pyarrow's merge sort of a national file's 4.29 M ids took ~0.55 CPU s of the thread
    it runs in; this ~0.1 s)."""
    if len(ids) < 2 or ids.null_count or (codes < 0).any():
        return None
    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=lambda i: f"{names[i]}-")] = np.arange(len(names))
    grouped = rank[codes] if len(names) > np.iinfo(np.int16).max else rank[codes].astype(np.int16)
    order = np.argsort(grouped, kind="stable")  # (numpy's radix sort of 16-bit keys)
    taken = ids.take(pa.array(order))
    if pc.any(pc.less(taken[1:], taken[:-1])).as_py():
        return None
    starts = np.flatnonzero(np.diff(grouped[order])) + 1  # (where one operator's rows end and the next's begin)
    if len(starts) and pc.any(pc.equal(taken.take(pa.array(starts)), taken.take(pa.array(starts - 1)))).as_py():
        return None
    return order, taken


def _named_heads(rec: pd.DataFrame, heads: pd.Index, of_rows: tuple) -> tuple[pd.Index, pd.Series, bool]:
    """The heads and their station ids, and whether they are in the ids' order already: taken so from every
    row's (`of_rows`: `_ids_in_order`) where `_head_ids_in_order` can, else made by `_station_ids` in the
    heads' order (their sort then found as before)."""
    in_order = _head_ids_in_order(rec, heads, *of_rows)
    if in_order is None:
        return heads, _station_ids(rec, heads), False
    return in_order.index, in_order, True


def _head_ids_in_order(rec: pd.DataFrame, heads: pd.Index, order: np.ndarray, ids: pa.ChunkedArray) -> pd.Series | None:
    """The heads' station ids in the order of `_station_id_order` (indexed by the heads in that order), taken
    from every row's ids in order (`ids`, sorted by `order`: `_ids_in_order`): what `_station_ids(rec, heads)`
    sorted by `_station_id_order` gives when no two heads' ids are equal and none is missing (the rows' sort
    restricted to the heads is then the heads' one sort, whatever the heads' order: priority, not rows').
    None otherwise: then the ids are made and sorted as before (equal ids, as the same code in two senders'
    namespaces, keep the heads' order)."""
    head_at = rec.index.get_indexer(heads)
    if (head_at < 0).any() or len(ids) != len(rec):
        return None
    is_head = np.zeros(len(rec), dtype=bool)
    is_head[head_at] = True
    keep = is_head[order]
    if int(keep.sum()) != len(heads):  # (a head twice)
        return None
    head_ids = ids.filter(pa.array(keep))
    if head_ids.null_count or (len(head_ids) > 1 and pc.any(pc.equal(head_ids[1:], head_ids[:-1])).as_py()):
        return None
    return pd.Series(head_ids.to_pandas(types_mapper=parse.AS_STR).array, index=rec.index[order[keep]])


#: The values of a station taken from its first record that gives each (see LATEST_ONLY_COLUMNS).
_VALUE_COLUMNS = (
    "site_code",
    "name",
    "band",
    "blocker",
    *STAGE_DATE_COLUMNS.values(),
    "off_air_date",
    *TRACKER_COLUMNS,
)


class _Members(NamedTuple):
    """Where the operator stations' records are, by position: each station's head row (`head_at`, in
    station order), each member record's row (`member_at`, dd's order), its anchor's label (`member_head`)
    and its station (`member_station`, -1 none), and the station of every row (`station_at`, -1 none; one
    more entry, -1, for a label not found)."""

    head_at: np.ndarray
    member_at: np.ndarray
    member_head: np.ndarray
    member_station: np.ndarray
    station_at: np.ndarray


def _station_members(rec: pd.DataFrame, dd: pd.DataFrame, heads: pd.Index) -> _Members:
    """The positions `_operator_stations` and `_member_sources` work from (see `_Members`)."""
    # rows by position (raw shares rec's index): label look-ups of a national file's rows cost seconds
    head_at, member_at = rec.index.get_indexer(heads), rec.index.get_indexer(dd.index)
    member_head = dd["anchor"].to_numpy()
    # each record's station by position, looked up by row position: a national file's heads are never hashed
    station_at = np.full(len(rec) + 1, -1, dtype=np.int64)  # (the last: rows not found, -1 from get_indexer)
    station_at[head_at] = np.arange(len(heads))
    member_station = station_at[rec.index.get_indexer(member_head)]
    return _Members(head_at, member_at, member_head, member_station, station_at)


def _operator_stations(
    raw: pd.DataFrame,
    rec: pd.DataFrame,
    heads: pd.Index,
    head_ids: pd.Series,
    as_of: pd.Timestamp,
    members: _Members,
    head_values: Future,
) -> tuple[pd.DataFrame, Callable[[np.ndarray], np.ndarray]]:
    """One row per kept operator record, its values completed from the records merged into it (`members`:
    see `_station_members`), and the station position (-1 none) of head row labels. Takes the columns it
    uses out of `rec` (its index stays). `head_values`: `_head_values` of the heads, under way in a thread."""
    head_at, member_at, member_head, member_station, station_at = members
    # most stations have one record (the head itself): its values as they are; only the members of
    # stations of several records are grouped (dd is in priority order: the head first in its group)
    several = _is_repeated(member_head)
    group_at, group_head = member_at[several], member_head[several]
    history = _off_air_history(rec, member_at, member_station, len(heads))
    newer = _superseded(rec, group_at, member_station[several])
    latest_only = LATEST_ONLY_COLUMNS if newer is not None else ()
    columns, firsts, no_dates = {}, {}, None
    for c in (c for c in _VALUE_COLUMNS if c in rec):  # one at a time, out of rec (a tracker's may be absent)
        values = rec.pop(c)
        if values.dtype.kind == "M" and values.isna().all():
            # a stage the file lacks (five of six in a national file): one column of NaT for all of them
            # (copy on write keeps them apart), and nothing of a group to fill in
            no_dates = values.take(head_at).set_axis(heads) if no_dates is None else no_dates
            columns[c] = no_dates
            continue
        columns[c] = values.take(head_at).set_axis(heads)
        if several.any():  # (an older week's value of a latest-only column is not filled in)
            grouped = values.take(group_at).where(~newer) if c in latest_only else values.take(group_at)
            firsts[c] = grouped.groupby(member_station[several], sort=False).first()
    st = pd.DataFrame(columns, copy=False)
    del columns, values
    if several.any():
        _fill_from_groups(st, pd.DataFrame(firsts, copy=False))
    del firsts
    said_all, notes_all = rec.pop("reported_status"), rec.pop("notes")
    reported = said_all.take(head_at).set_axis(heads)
    note_text = notes_all.take(head_at).set_axis(heads)
    if several.any():
        # the first status other than "unknown" in priority order; the notes of all, distinct, sorted
        said = said_all.take(group_at).set_axis(group_head)
        said = said[said.to_numpy() != "unknown"]
        first_said = said.groupby(level=0, sort=False).first()
        several_heads = pd.unique(group_head)
        at = station_at[rec.index.get_indexer(several_heads)]
        if (at < 0).any():  # (as a label look-up of a head without a station would)
            raise KeyError(f"{several_heads[at < 0][:3].tolist()} not in the stations")
        reported.iloc[at] = first_said.reindex(several_heads).fillna("unknown").to_numpy()
        notes = _join_unique_sorted(pd.Series(group_head), notes_all.take(group_at)).reindex(several_heads)
        note_text.iloc[at] = notes.to_numpy(dtype=object)
    del said_all, notes_all
    st.insert(0, "station_id", head_ids)
    st["band"] = st["band"].fillna("unknown")
    taken = head_values.result()
    for column in _HEAD_COLUMNS:
        rec.pop(column)
        st[column] = taken[column]
    # (pandas' mask of the reported statuses, Arrow strings since parsing: pyarrow's if-else, no Python string a row)
    st["status"] = reported.mask(st["on_air_date"].notna().to_numpy(), "on_air")
    # a record that says on air without a date was quarantined; the rest of the group may still say so
    said_without_date = (st["status"] == "on_air") & st["on_air_date"].isna()
    if said_without_date.any():  # (a setting of no row still copies the column)
        st.loc[said_without_date, "status"] = "unknown"
    st["notes"] = note_text
    _mark_off_air(st, history, as_of)
    for column in ("source_file", "source_sheet", "source_row"):
        st[column] = taken[column]
    del taken
    index = rec.index  # (not rec itself: the caller frees it)
    return st, lambda labels: station_at[index.get_indexer(labels)]


#: The columns of the parsed rows a station takes from its head row as they are (`_head_values`).
_HEAD_COLUMNS = ("operator", "lon", "lat", "district")


def _head_values(rec: pd.DataFrame, raw: pd.DataFrame, head_at: np.ndarray, heads: pd.Index) -> dict[str, pd.Series]:
    """The stations' values taken from their head rows alone (`head_at`, labelled `heads`): `_HEAD_COLUMNS` of
    `rec`, and the file, sheet and row of `raw` (the file as a category: a national file names a handful of
    files, a byte a row; typed as text when the table is finished). Taken in the labelling thread while the
    other values are built (~0.25 s of a national file's main thread). `rec` and `raw`: frames of those
    columns alone, taken before (the build takes rec's columns out as it goes)."""
    values = {column: _taken(rec[column], head_at, heads) for column in _HEAD_COLUMNS}
    values["source_file"] = pd.Series(pd.Categorical(raw["source_file"]).take(head_at), index=heads)
    values["source_sheet"] = raw["source_sheet"].take(head_at).set_axis(heads)
    values["source_row"] = _fresh(raw["source_row"].to_numpy()[head_at].astype("int64"), heads)
    return values


def _superseded(rec: pd.DataFrame, group_at: np.ndarray, group_station: np.ndarray) -> np.ndarray | None:
    """Per member of a station of several records (`group_at`: row positions), True where a newer dated record
    of its station exists (`_date_tables`); None when the tables are not dated."""
    if "table_day" not in rec:
        return None
    day = rec["table_day"].to_numpy()[group_at]
    newest = pd.Series(day).groupby(group_station).transform("max").to_numpy()
    return (day >= 0) & (day < newest)


def _member_sources(
    raw: pd.DataFrame,
    member_at: np.ndarray,
    member_station: np.ndarray,
    head_at: np.ndarray,
    row_labels: pa.Array,
) -> tuple[pd.Series, pd.DataFrame]:
    """Each station's own label (of its head row, `head_at`, in station order), and the source (its
    station's position `at`, label, file) of every member record (`member_at`: its row position), its
    label only where its station has several records (else its station's own): taken from every row's label
    (`row_labels`: `_row_labels`), not a label per member taken again into station order (~0.3 GB each)."""
    files = pd.Categorical(raw["source_file"])
    rows = np.flatnonzero(_is_several(member_station, len(head_at)))
    own, several = (_labels_taken(row_labels, where) for where in (head_at, member_at[rows]))
    # each member's label taken from those few by pyarrow, missing elsewhere (a column of missing labels set
    # row by row copied a national file's column of them, and made a Python string per label set)
    which = np.full(len(member_at), -1, dtype=np.int64)
    which[rows] = np.arange(len(rows))
    taken = pa.array(several.array).take(pa.array(which, mask=which < 0))
    label = pd.Series(taken.to_pandas(types_mapper=_AS_STRING.get).array, copy=False)
    # (Arrow strings kept: a national file's labels as Python strings cost ~0.1 KB each)
    return own, pd.DataFrame({"at": member_station, "label": label.array, "file": files.take(member_at)})


def _fill_from_groups(st: pd.DataFrame, grouped: pd.DataFrame) -> None:
    """The values of the stations of several records (`grouped`, by station position, -1 none) into `st`,
    column by column."""
    at = grouped.index.to_numpy()
    grouped = grouped[at >= 0]  # (a chain's anchor that is not a head has no station row)
    at = at[at >= 0]
    for column in grouped.columns:
        put = grouped[column].to_numpy()
        if _holds_already(st[column].iloc[at], put):  # (no copy of a national file's column to change none)
            continue
        values = st[column].copy()
        values.iloc[at] = put
        st[column] = values


def _holds_already(values: pd.Series, put: np.ndarray) -> bool:
    """True when `values` equal `put` row by row (missing where it is missing): setting them changes nothing."""
    return pd.Series(put, dtype=values.dtype).equals(values.reset_index(drop=True))


def _off_air_history(
    rec: pd.DataFrame, member_at: np.ndarray, member_station: np.ndarray, n: int
) -> pd.DataFrame | None:
    """Per station (by position) with a record taken off air (退网, 拆除, or an off-air date reported): the
    latest off-air date reported (NaT none), the earliest on-air date of its records, and the latest
    on-air date of its records on air after it went off (re-opened: 开通 again, later than the 已拆除 record's
    own dates; NaT none). None when no record is taken off air (a national file: one comparison)."""
    decommissioned = (rec["reported_status"] == "decommissioned").to_numpy()[member_at]
    off_date = rec["off_air_date"].to_numpy()[member_at]
    off = decommissioned | ~np.isnat(off_date)
    off &= member_station >= 0
    if not off.any():
        return None
    on_date = rec["on_air_date"].to_numpy()[member_at]
    stations = np.unique(member_station[off])
    mine = np.isin(member_station, stations)
    frame = pd.DataFrame(
        {"station": member_station[mine], "off": off[mine], "on_air": on_date[mine], "off_air": off_date[mine]}
    )
    # the day the record taken off air speaks of: its off-air date, else its own on-air date
    frame["off_said"] = frame["off_air"].where(frame["off_air"].notna(), frame["on_air"]).where(frame["off"])
    by = frame.groupby("station", sort=True)
    out = pd.DataFrame(
        {
            "off_air_date": by["off_air"].max(),
            "first_on_air": by["on_air"].min(),
            "off_said": by["off_said"].max(),
            "latest_live": frame["on_air"].where(~frame["off"]).groupby(frame["station"]).max(),
        }
    )
    out["reopened_on"] = out["latest_live"].where(out["latest_live"] > out["off_said"])
    return out[["off_air_date", "first_on_air", "reopened_on"]]


def _mark_off_air(st: pd.DataFrame, history: pd.DataFrame | None, as_of: pd.Timestamp) -> None:
    """Stations a record takes off air (退网, 拆除; `_off_air_history`): status decommissioned, on air from
    their on-air date until their off-air date (reported, else the report's date, said so); one on air
    again after it (a later 开通 record) is on air from its first on-air date, the history in its notes."""
    if history is None:
        return
    at = history.index.to_numpy()
    reopened = history["reopened_on"].notna().to_numpy()
    day = functools.partial(pd.Series.dt.strftime, date_format="%Y-%m-%d")
    gone, back = at[~reopened], at[reopened]
    if len(back):
        h = history[reopened]
        said = (
            "taken off air"
            + (" on " + day(h["off_air_date"].dt)).fillna("")
            + " and on air again from "
            + day(h["reopened_on"].dt)
            + " (first on air "
            + day(h["first_on_air"].dt).fillna("date not reported")
            + ")"
        )
        _prefix_notes(st, back, said.to_numpy(dtype=object))
        st.iloc[back, st.columns.get_loc("on_air_date")] = h["first_on_air"].to_numpy()
        st.iloc[back, st.columns.get_loc("off_air_date")] = pd.NaT
    if len(gone):
        h = history[~reopened]
        reported = h["off_air_date"].notna()
        off_date = h["off_air_date"].where(reported, as_of)
        said = (
            "reported decommissioned"
            + ("; on air from " + day(st["on_air_date"].iloc[gone].dt)).fillna("").to_numpy(dtype=object)
            + np.where(
                reported,
                "; off air from " + day(off_date.dt).to_numpy(dtype=object),
                f"; decommissioned by {as_of:%Y-%m-%d}, date not reported",
            )
        )
        _prefix_notes(st, gone, said)
        st.iloc[gone, st.columns.get_loc("status")] = "decommissioned"
        st.iloc[gone, st.columns.get_loc("off_air_date")] = off_date.to_numpy()


def _prefix_notes(st: pd.DataFrame, at: np.ndarray, said: np.ndarray) -> None:
    """`said` before the notes of the stations at positions `at`."""
    prior = st["notes"].iloc[at].to_numpy(dtype=object)
    st.iloc[at, st.columns.get_loc("notes")] = [
        s if p is None or p != p or p == "" else f"{s}; {p}" for s, p in zip(said, prior, strict=True)
    ]


def _attach_opencellid(
    st: pd.DataFrame,
    own_labels: pd.Series,
    member_sources: pd.DataFrame,
    station_of: Callable[[np.ndarray], np.ndarray],
    cells: pd.DataFrame,
    cell_fate: pd.DataFrame,
    good_at: np.ndarray,
    site_station: pd.Series,
    site_dist: pd.Series,
    joined: tuple[pd.Series, np.ndarray] | None = None,
) -> None:
    """Sources, source count and OpenCelliD cells and distance of the operator stations (in place).
    `station_of`: the station position (-1 none) of head row labels; every station found by position,
    not by label (a hash table of a national file's heads and reindexes against it). `good_at`: each cell
    row's site among the good sites (`site_station`'s order), -1 none. `joined`: the operator records'
    sources joined and counted already (`_labels_of_members`), used where no cell joins a station."""
    n = len(st)
    matched_head = parse.values_at(site_station, good_at, cell_fate.index)
    joins = (cell_fate["reason"] == "same_station_other_source").to_numpy()
    # (a cell's line repeated word for word is among the station's sources, not among its cells)
    to_station = joins | ((cell_fate["reason"] == "exact_duplicate").to_numpy() & matched_head.notna().to_numpy())
    cell_labels = _source_label(cells["source_file"], cells["source_sheet"], cells["source_row"])
    cell_at = _positions_of(station_of, matched_head[to_station])
    src_cells = pd.DataFrame(
        {"at": cell_at, "label": cell_labels[to_station].array, "file": cells["source_file"][to_station].array}
    )
    joined_at = cell_at[joins[to_station]]
    if len(src_cells) or joined is None:
        # (no copy of a national file's member labels when no cell joins a station)
        src = pd.concat([member_sources, src_cells]) if len(src_cells) else member_sources
        joined = _sources_joined(own_labels, src)
    st["sources"] = joined[0].set_axis(st.index)
    st["n_sources"] = _fresh(joined[1], st.index)
    st["in_operator_reports"] = True
    st["opencellid_cells"] = _fresh(np.bincount(joined_at[joined_at >= 0], minlength=n).astype("int64"), st.index)
    matched = site_station.notna().to_numpy()
    distance = np.full(n, np.nan)
    if matched.any():
        site_at = _positions_of(station_of, site_station[matched])
        farthest = site_dist[matched].groupby(site_at).max()
        farthest = farthest[farthest.index.to_numpy() >= 0]
        distance[farthest.index.to_numpy()] = farthest.to_numpy()
    st["opencellid_distance_m"] = distance


def _sources_joined(own_labels: pd.Series, sources: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """Per station (`own_labels`: its own label, in station order), the labels of its `sources` (each
    source's station `at`, `label`, `file`) joined (`_join_labels_by_head`) and how many files they come
    from (`_count_files`)."""
    at = sources["at"].to_numpy()
    counts = _count_files(at, sources["file"], len(own_labels)).to_numpy()
    return _join_labels_by_head(own_labels, at, sources["label"]), counts


def _row_labels(raw: pd.DataFrame) -> pa.Array:
    """`_source_label` of every row of `raw` (its file, sheet and row), as one Arrow array: made in the naming
    thread once the ids are in order, where a core was idle while the duplicates are merged (~0.25 CPU s of a
    national file, before made in the labelling thread during the build); the heads' and members' labels are
    then taken from it (`_member_sources`)."""
    return pa.array(_source_label(raw["source_file"], raw["source_sheet"], raw["source_row"]).array)


def _labels_taken(labels: pa.Array, at: np.ndarray) -> pd.Series:
    """The labels at positions `at` (`_row_labels`), as `_source_label` of those rows gives them."""
    taken = labels.take(pa.array(np.asarray(at, dtype=np.int64)))
    return pd.Series(taken.to_pandas(types_mapper=_AS_STRING.get).array)


def _labels_of_members(raw: pd.DataFrame, members: _Members, joined: bool, row_labels: Future) -> tuple:
    """`_member_sources` of the operator stations (`row_labels`: `_row_labels` under way), and with `joined`
    (no OpenCelliD cell can join a station) their sources joined and counted too (`_sources_joined`): made in
    the labelling thread beside the station values (~0.3 s of a national file off the main thread)."""
    own, member_sources = _member_sources(
        raw, members.member_at, members.member_station, members.head_at, row_labels.result()
    )
    return own, member_sources, _sources_joined(own, member_sources) if joined else None


def _positions_of(station_of: Callable[[np.ndarray], np.ndarray], heads: pd.Series) -> np.ndarray:
    """The station positions (-1 none) of head row labels that may be missing."""
    out = np.full(len(heads), -1, dtype=np.int64)
    found = heads.notna().to_numpy()
    if found.any():
        out[found] = station_of(heads[found].to_numpy().astype(np.int64))
    return out


def _join_labels_by_head(own: pd.Series, at: np.ndarray, labels: pd.Series, sep: str = "; ") -> pd.Series:
    """Per station (`own`: its own label, in station order), the labels of its sources (`at`: each
    source's station by position, -1 none) joined in their order: a station of one source keeps its own;
    only stations of several are joined (a source's missing label is its station's own). Arrow strings
    (pandas "str"), the joined ones put in by `_replace_texts`: a copy of a national file's labels and a
    second one to set the joined rows cost ~0.5 GB of fresh pages."""
    text = parse.arrow_text(own)
    several = _is_several(at, len(own))
    if several.any():
        rows = np.flatnonzero(several)
        label = labels.iloc[rows].to_numpy(dtype=object, na_value=None)
        missing = np.flatnonzero(pd.isna(label))
        label[missing] = own.iloc[at[rows[missing]]].to_numpy(dtype=object, na_value=None)
        joined = _join_in_order(pd.Series(at[rows]), pd.Series(label, dtype=object), sep).sort_index()
        put_in = pa.array(joined.to_numpy(dtype=object), text.type, from_pandas=True)
        text = _replace_texts(text, joined.index.to_numpy(), put_in)
    return pd.Series(text.to_pandas(types_mapper=parse.AS_STR).array, index=own.index, name=own.name, copy=False)


def _replace_texts(text: pa.Array, rows: np.ndarray, put: pa.Array) -> pa.Array:
    """`text` with its rows `rows` (increasing) replaced by `put`, in that order. Texts without missing
    values (a national table's source labels): its two buffers made once in numpy, each unchanged run of
    rows copied whole (pyarrow's `replace_with_mask` grew its buffers as it went: ~0.6 GB of fresh pages
    for a national table's ~0.25 GB of labels); `replace_with_mask` otherwise."""
    if text.null_count or put.null_count or not pa.types.is_large_string(text.type) or text.type != put.type:
        mask = np.zeros(len(text), dtype=bool)
        mask[rows] = True
        return pc.replace_with_mask(text, pa.array(mask), put)
    offsets, data = parse.text_bytes(text)
    put_offsets, put_data = parse.text_bytes(put)
    lengths = np.diff(offsets)
    lengths[rows] = np.diff(put_offsets)
    out_offsets = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
    # the unchanged runs between the rows replaced, and the rows replaced (a few per cent of the rows)
    for lo, hi in zip(np.r_[0, rows + 1].tolist(), np.r_[rows, len(text)].tolist(), strict=True):
        out[out_offsets[lo] : out_offsets[hi]] = data[offsets[lo] : offsets[hi]]
    for j, row in enumerate(rows.tolist()):
        out[out_offsets[row] : out_offsets[row + 1]] = put_data[put_offsets[j] : put_offsets[j + 1]]
    return pa.Array.from_buffers(pa.large_string(), len(text), [None, pa.py_buffer(out_offsets), pa.py_buffer(out)])


def _is_repeated(labels: np.ndarray) -> np.ndarray:
    """`duplicated(keep=False)` of row labels: counted by bincount when they are small non-negative
    integers (a national file's anchors: no hash table of 4.25 M labels), hashed otherwise."""
    if len(labels) and labels.dtype.kind in "iu" and labels.min() >= 0 and labels.max() < 4 * len(labels):
        return np.bincount(labels)[labels] > 1
    return pd.Series(labels).duplicated(keep=False).to_numpy()


def _is_several(at: np.ndarray, n: int) -> np.ndarray:
    """True where a row's position (0…n-1; -1 none) is another row's too: counted, not hashed."""
    found = at >= 0
    per = np.bincount(at[found], minlength=n)
    return found & (per[np.where(found, at, 0)] > 1)


def _count_files(at: np.ndarray, files: pd.Series, n: int) -> pd.Series:
    """Per head 0…n-1, how many distinct files its sources (`at`: each source's head by position, -1
    none) come from: 1 for a head of one source, without hashing; the others counted on integer codes
    (a national file's file names are not hashed per row, nor its heads looked up again); NaN for none."""
    found = at >= 0
    per = np.bincount(at[found], minlength=n)
    counts = np.minimum(per, 1).astype("int64")
    several = found & (per[np.where(found, at, 0)] > 1)
    if several.any():
        rows = np.flatnonzero(several)
        codes = pd.factorize(files.iloc[rows], use_na_sentinel=False)[0].astype(np.int64)
        width = int(codes.max()) + 1
        pairs = np.unique(at[rows].astype(np.int64) * width + codes)
        of_several = np.bincount(pairs // width, minlength=n)
        counts = np.where(per > 1, of_several, counts)
    out = pd.Series(counts, dtype="int64", copy=False)
    return out.where(per > 0) if (per == 0).any() else out


def _network_only_stations(network_only: pd.DataFrame, cells: pd.DataFrame, cell_rec: pd.DataFrame) -> pd.DataFrame:
    """Stations only OpenCelliD shows (`network_only`: the sites with their station ids): one per gNB site, at
    the median of its cells; in the order of their ids (the table of an export without operator stations is
    then in order already: not taken again whole)."""
    order = _station_id_order(network_only["station_id"])
    if not (order == np.arange(len(order))).all():
        network_only = network_only.iloc[order]
    # (cells and cell_rec: one row each per cell row, in the same order)
    site_at = cell_site_positions(cell_rec, network_only)
    rows = np.flatnonzero((site_at >= 0) & cell_rec["reason"].isna().to_numpy())
    lab = _source_label(*(cells[c].iloc[rows] for c in ("source_file", "source_sheet", "source_row")))
    # each site's cells' labels in row order (a Python join per site took ~11 s of a million sites), by the
    # site's position (every site has a cell)
    sources = _join_in_order(pd.Series(site_at[rows]), lab).reindex(np.arange(len(network_only)))
    anchor_at = cells.index.get_indexer(network_only["anchor"])
    dated = network_only["on_air_date"].notna().to_numpy()
    net = pd.DataFrame(
        {
            "station_id": network_only["station_id"],
            "site_code": None,
            "name": "gNB " + network_only.index.to_series() + " (OpenCelliD)",
            "operator": network_only["operator"],
            "band": "unknown",
            "blocker": None,
            **{c: pd.NaT for c in STAGE_DATE_COLUMNS.values()},
            "lon": network_only["lon"],
            "lat": network_only["lat"],
            "district": network_only["district"],
            # an export without first-seen dates (OpenCelliD's API) cannot say since when it is on air
            "status": parse.texts_by_code(("unknown", "on_air"), dated, network_only.index),
            "notes": parse.texts_by_code(
                (
                    "seen only in OpenCelliD, without a first-seen date: position is the median of its cells",
                    "seen only in OpenCelliD: position is the median of its cells",
                ),
                dated,
                network_only.index,
            ),
            "source_file": cells["source_file"].to_numpy()[anchor_at],
            "source_sheet": cells["source_sheet"].to_numpy()[anchor_at],
            "source_row": cells["source_row"].to_numpy()[anchor_at].astype("int64"),
            "sources": sources.array,
            "n_sources": 1,
            "in_operator_reports": False,
            "opencellid_cells": network_only["cells"].astype("int64"),
            "opencellid_distance_m": np.nan,
        }
    )
    net["on_air_date"] = network_only["on_air_date"]
    if "dates_set_aside" in network_only.columns:
        n = network_only["dates_set_aside"].fillna(0).astype("int64")
        net["notes"] = net["notes"].where(
            n == 0,
            net["notes"]
            + "; cells whose first-seen date was set aside (0, or before 2019 beside cells of a later one): "
            + n.astype(str),
        )
    return net.set_index("cell:" + network_only.index.astype("str"))


def _finish_stations(st: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Typed columns in a fixed order, sorted by station id (no points: `_with_points` makes them where they
    are used); checked against the schema by the caller (`_validate_sorted_stations`)."""
    # (the caller hands its frame over: no copy of a national table)
    for column in STAGE_DATE_COLUMNS.values():
        if st[column].dtype != "datetime64[ns]":  # (to_datetime copies a column typed already)
            st[column] = pd.to_datetime(st[column])
    st["is_on_air"] = on_air_at(st, as_of)
    st["blocker"] = st["blocker"].where(st["status"] != "on_air", None)
    if "blocker_detail" in st and st["blocker_detail"].notna().any():  # (words of a blocker gone go with it)
        st["blocker_detail"] = st["blocker_detail"].where(st["blocker"].notna(), None)
    st["name"] = st["name"].fillna(st["site_code"])
    st["lon"] = st["lon"].astype(float).round(7)
    st["lat"] = st["lat"].astype(float).round(7)
    for column, dtype in STATION_DTYPES.items():  # column by column in place: no second table
        if column not in st.columns and dtype == "str":  # (Arrow nulls: NaNs typed as text took 0.13 s a million)
            st[column] = _repeat_text(None, len(st)).set_axis(st.index)
            continue
        values = st[column] if column in st.columns else pd.Series(np.nan, index=st.index)
        st[column] = _category_as_text(values) if dtype == "str" else values.astype(dtype)
    # the columns in their order without a copy (`st[columns]` copies the whole table: ~1 GB of a national one)
    return _sort_by_station_id(pd.DataFrame({c: st[c] for c in STATION_DTYPES}, copy=False))


def _category_as_text(values: pd.Series) -> pd.Series:
    """`values.astype("str")`; a category of texts (a national table's file, one name per row) decoded by
    pyarrow from its codes (pandas makes a Python reference per row first: ~0.5 s a million rows)."""
    if values.dtype == object:
        return _objects_as_text(values)
    is_text = isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(values.cat.categories)
    if not is_text or not len(values):
        return values.astype("str")
    categories = pa.array(values.cat.categories.astype("str").array).cast(pa.large_string())
    codes = values.cat.codes.to_numpy()
    if codes.min() == codes.max() >= 0:  # (one text in every row, a national file's name: repeated, ~0.14 -> 0.04 s)
        text = pa.repeat(categories[int(codes[0])], len(codes))
    else:
        text = categories.take(pa.array(codes, mask=codes < 0))
    return pd.Series(text.to_pandas(types_mapper=parse.AS_STR).array, index=values.index, name=values.name)


def _objects_as_text(values: pd.Series) -> pd.Series:
    """`values.astype("str")` of a column of Python objects; one of texts and missing values (a national
    table's bands, blockers and notes) made Arrow by pyarrow in one pass (pandas' astype took ~0.75 s a
    column of 4.25 M stations, this ~0.35 s)."""
    objects = values.to_numpy()
    if pd.api.types.infer_dtype(objects, skipna=True) not in ("string", "empty"):
        return values.astype("str")
    text = pa.array(objects, pa.large_string(), from_pandas=True)
    return pd.Series(text.to_pandas(types_mapper=parse.AS_STR).array, index=values.index, name=values.name, copy=False)


def _with_points(st: pd.DataFrame) -> gpd.GeoDataFrame:
    """The station table as a GeoDataFrame of WGS-84 points from its lon/lat."""
    # from the columns, not the frame: GeoDataFrame(frame, geometry=...) consolidates the frame's columns
    # into blocks, a copy of every number and date column while the points are held (~0.7 GB at 4.25 M)
    points = gpd.GeoSeries(gpd.points_from_xy(st["lon"], st["lat"]), index=st.index, crs="EPSG:4326")
    return gpd.GeoDataFrame({**{c: st[c] for c in st.columns}, "geometry": points}, copy=False)


def _validate_sorted_stations(st: pd.DataFrame) -> None:
    """The schema's checks of a table sorted by station id; its ids unique when no two neighbours are
    equal (pandera's own check hashes every id again: ~1 s per million stations)."""
    import pandera.errors

    ids = pa.chunked_array(pa.array(st["station_id"].array))
    if len(ids) > 1 and pc.any(pc.equal(ids[1:], ids[:-1])).as_py():
        raise pandera.errors.SchemaError(stations_schema(), st, "column 'station_id' not unique")
    # a million rows at a time: every check is of a row alone, and pandera merges the frame's columns
    # into blocks (a copy of the numbers and dates of a national table: ~0.8 GB at 4.25 M stations);
    # in place: the schema coerces and adds nothing, and what it returns is not kept, so its copy of each
    # million rows (merged into blocks: 0.6-1.1 of 0.9-1.4 s at 4.25 M stations) bought nothing
    # a text column of pandas' strings holds texts and missing values only: pandera's check of the type
    # looks at every value, and makes a table of the failures of none (~0.35 s of 4.25 M stations)
    typed = all(isinstance(st[c].dtype, pd.StringDtype) for c in _TEXT_COLUMNS)
    schema = _stations_schema_but_unique_ids(text_typed=typed)
    for lo in range(0, max(len(st), 1), _VALIDATE_ROWS):
        schema.validate(st.iloc[lo : lo + _VALIDATE_ROWS], lazy=False, inplace=True)


#: Rows of the station table checked against the schema at a time.
_VALIDATE_ROWS = 1 << 20
#: The station table's columns of text.
_TEXT_COLUMNS = tuple(c for c, dtype in STATION_DTYPES.items() if dtype == "str")


@functools.cache
def _stations_schema_but_unique_ids(text_typed: bool = False):
    """The stations' schema without its check of unique ids (done on the sorted ids); with `text_typed` (every
    text column of pandas' strings) without the checks of the text columns' type either (their other checks
    kept: missing values, the words allowed)."""
    changes = {"station_id": {"unique": False}}
    if text_typed:
        changes = {c: {**changes.get(c, {}), "dtype": None} for c in _TEXT_COLUMNS}
    return stations_schema().update_columns(changes)


def _station_id_order(ids: pd.Series) -> np.ndarray:
    """Positions of `ids` in a stable sort by code point (as Python compares strings), found by pyarrow
    on the Arrow strings (pandas made a Python string per id, ~0.4 KB a station at its peak)."""
    return pc.array_sort_indices(pa.chunked_array(pa.array(ids.astype("str").array))).to_numpy(zero_copy_only=False)


def _sort_by_station_id(st: pd.DataFrame) -> pd.DataFrame:
    """The rows in station-id order (`_station_id_order`), index 0…; the columns taken one at a time
    (a frame taken whole is held twice), and not at all when the rows are in order already (seen by
    comparing neighbours, without sorting: the operator stations are built in id order)."""
    ids = pa.chunked_array(pa.array(st["station_id"].astype("str").array))
    if len(ids) < 2 or (not ids.null_count and not pc.any(pc.less(ids[1:], ids[:-1])).as_py()):
        return st.reset_index(drop=True)
    order = _station_id_order(st["station_id"])
    if (order == np.arange(len(order))).all():
        return st.reset_index(drop=True)
    columns = {}
    for column in list(st.columns):
        columns[column] = st[column].take(order).reset_index(drop=True)
        st = st.drop(columns=column)
    return pd.DataFrame(columns, copy=False)


def write_stations(stations: pd.DataFrame, path: Path) -> None:
    """A station table as GeoParquet (`station_parquet_options`): a GeoDataFrame as geopandas writes it; a
    plain table with lon/lat (`CleanResult.table`) with its points written from lon/lat, the same bytes as
    geopandas writes for the points of lon/lat, without a shapely point per station."""
    if isinstance(stations, gpd.GeoDataFrame) or not _points_writable(stations):
        frame = stations if isinstance(stations, gpd.GeoDataFrame) else _with_points(stations)
        write_atomic(
            path,
            lambda tmp: frame.to_parquet(
                tmp,
                index=False,
                write_covering_bbox=False,
                **station_parquet_options({c: frame[c].dtype.kind for c in frame.columns}),
            ),
        )
        return
    write_atomic(path, _stations_writer(stations))


def _stations_writer(stations: pd.DataFrame) -> Callable[[Path], None]:
    """The writer of a plain station table whose points are written from lon/lat (`_points_writable`). A table
    of several row groups is given to pyarrow's Parquet writer a row group at a time, each made Arrow (its
    points too: `_point_table`) in a thread ahead of the writer, which then starts on the first while the
    others are made (pyarrow's writer is single-threaded and the last to finish of a national clean: its
    ~1.7 s no longer waits for the whole table's ~0.2-0.35 s of conversion); the bytes of the whole written
    at once (row groups of exactly STATION_ROW_GROUP stations, the schema and "geo" bounds of the whole)."""
    n = len(stations)
    if n <= STATION_ROW_GROUP:
        return lambda tmp: _write_table(_point_table(stations), tmp)

    def write(tmp: Path) -> None:
        lon, lat = stations["lon"].to_numpy(float), stations["lat"].to_numpy(float)
        bounds = (lon.min(), lon.max(), lat.min(), lat.max())
        del lon, lat
        with ThreadPoolExecutor(1) as converting:
            pieces = deque(
                converting.submit(_point_table, stations.iloc[start : start + STATION_ROW_GROUP], bounds)
                for start in range(0, n, STATION_ROW_GROUP)
            )
            try:
                _write_row_groups((pieces.popleft().result() for _ in range(len(pieces))), tmp)
            finally:
                for job in pieces:  # (a failed write: the conversions not yet begun not begun)
                    job.cancel()

    return write


#: Stations per row group of stations.parquet (pyarrow's default): a writer of the table in pieces
#: (`write_station_row_groups`) gives the same bytes only with pieces of exactly this many rows.
STATION_ROW_GROUP = 1 << 20


def write_station_row_groups(row_groups: Iterable[pa.Table], bounds: tuple[float, ...], path: Path) -> None:
    """A station table given a row group at a time as Arrow (the columns as pyarrow converts the station
    frame, e.g. read back from a Parquet file `to_parquet` wrote; each column one chunk), written as
    `write_stations` writes the whole frame from lon/lat, byte for byte: each table of exactly
    STATION_ROW_GROUP stations but the last, in the table's order, every point finite; `bounds` (lon min,
    lon max, lat min, lat max) of the whole table (the file's "geo" metadata says them). Only one row
    group is held at a time, and no frame of it: the points' WKB is the one column added."""

    def with_points() -> Iterator[pa.Table]:
        schema = None
        for table in row_groups:
            if schema is None:  # the whole table's schema and metadata, from its first row (dtypes fixed)
                schema = _point_table(table.slice(0, 1).to_pandas(types_mapper=parse.AS_STR), bounds).schema
            lon, lat = (table.column(c).to_numpy().astype(float) for c in ("lon", "lat"))
            points = pa.Table.from_arrays([*table.columns, _wkb_points(lon, lat)], schema=schema)
            del table, lon, lat
            yield points
            del points  # (not held while the next row group is made)

    def write(tmp: Path) -> None:
        if not _write_row_groups(with_points(), tmp):
            raise ValueError("no row group given: an empty station table is written by write_stations")

    write_atomic(path, write)


def _write_table(table: pa.Table, tmp: Path) -> None:
    """A table of at most STATION_ROW_GROUP stations as one Parquet file (`station_parquet_options`)."""
    pq.write_table(table, tmp, row_group_size=STATION_ROW_GROUP, **station_parquet_options(_kinds(table.schema)))


def _write_row_groups(tables: Iterator[pa.Table], tmp: Path) -> int:
    """Each table one row group of a Parquet file (as `write_stations`: `station_parquet_options`) whose schema
    is the first's, each written before the next is asked for and not held while it is made; the number written
    (0: no file)."""
    writer, n = None, 0
    try:
        while (table := next(tables, None)) is not None:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, **station_parquet_options(_kinds(table.schema)))
            writer.write_table(table, row_group_size=STATION_ROW_GROUP)
            del table
            n += 1
    finally:
        if writer is not None:
            writer.close()
    return n


#: Columns of stations.parquet whose values are each station's own (ids, names, positions, rows): written
#: without a dictionary, which pyarrow's writer would build for each and drop at its 1 MB limit.
_OWN_VALUE_COLUMNS = ("station_id", "site_code", "name", "lon", "lat", "source_row", "sources", "geometry")
#: Columns whose smallest and largest values say nothing to a reader choosing row groups (free text, WKB):
#: written without statistics. The others keep theirs (ids, operators, districts, dates, positions).
_NO_STATISTICS = ("name", "sources", "geometry")


def station_parquet_options(kinds: dict[str, str]) -> dict:
    """pyarrow's options for writing a station table whose columns are `kinds` (name: numpy's kind of the
    column, "f" float, "i" integer, ...): a dictionary for the columns of repeated values (operator, band,
    district, status, dates, file); the stations' own values plain, their numbers in the encodings made for
    them (byte-stream split of the coordinates, deltas of the source rows: smaller and faster to write);
    statistics but for free text and WKB; snappy, Parquet's and pandas' default codec.

    pyarrow's writer is single-threaded, and the last to finish of a national clean. Of the national table
    (4.25 M stations, measured 2026-11-29, CPU s of the writer alone): zstd with pyarrow's other defaults
    2.55-2.74 s, 201 MB; these encodings with zstd 2.19-2.22 s, 188 MB; with snappy 1.64 s, 240 MB. zstd
    compresses the stations' own texts and WKB ~2 × better, at ~0.5 s more; the file is read as fast
    (`pd.read_parquet` of all columns 2.0-2.1 s either way)."""
    own = [c for c in kinds if c in _OWN_VALUE_COLUMNS]
    encoding = {c: "BYTE_STREAM_SPLIT" if kinds[c] == "f" else "DELTA_BINARY_PACKED" for c in own if kinds[c] in "fi"}
    return {
        "compression": "snappy",
        "use_dictionary": [c for c in kinds if c not in own],
        "write_statistics": [c for c in kinds if c not in _NO_STATISTICS],
        "column_encoding": encoding,
    }


def _kinds(schema: pa.Schema) -> dict[str, str]:
    """numpy's kind of each column of an Arrow schema, as `station_parquet_options` takes them."""
    return {
        f.name: "f" if pa.types.is_floating(f.type) else "i" if pa.types.is_integer(f.type) else "O" for f in schema
    }


def _points_writable(st: pd.DataFrame) -> bool:
    """True when the points can be written from lon/lat as bytes: every coordinate finite (shapely
    writes a point of NaN its own way), a little-endian machine (WKB of its byte order), no column
    named geometry already, no frame attributes (geopandas writes them as metadata)."""
    if "geometry" in st.columns or st.attrs or sys.byteorder != "little" or not len(st):
        return False
    return bool(np.isfinite(st["lon"].to_numpy(float)).all() and np.isfinite(st["lat"].to_numpy(float)).all())


#: A 2-D point as ISO WKB: byte order (1, little-endian), geometry type (1, Point), x, y: 21 bytes.
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
#: Points per Arrow chunk of WKB (32-bit offsets: 21 bytes a point stays far below 2 GB a chunk).
_WKB_CHUNK = 1 << 24


def _wkb_points(lon: np.ndarray, lat: np.ndarray) -> pa.ChunkedArray:
    """ISO WKB of the points (lon, lat), as `shapely.to_wkb(points_from_xy(lon, lat), flavor="iso")`
    writes them, made in numpy: one buffer, no Python object per point."""
    parts = []
    for lo in range(0, len(lon), _WKB_CHUNK):
        x, y = lon[lo : lo + _WKB_CHUNK], lat[lo : lo + _WKB_CHUNK]
        rec = np.empty(len(x), dtype=_WKB_POINT)
        rec["order"], rec["type"], rec["x"], rec["y"] = 1, 1, x, y
        offsets = np.arange(len(x) + 1, dtype=np.int32) * np.int32(_WKB_POINT.itemsize)
        parts.append(pa.Array.from_buffers(pa.binary(), len(x), [None, pa.py_buffer(offsets), pa.py_buffer(rec)]))
    return pa.chunked_array(parts, pa.binary())


def _point_table(st: pd.DataFrame, bounds: tuple[float, ...] | None = None) -> pa.Table:
    """The Arrow table geopandas' `to_parquet(index=False)` writes for `_with_points(st)`: the columns
    as pyarrow converts them, the points as WKB from lon/lat, geopandas' own field and "geo" metadata
    (made by geopandas from the two corner points: the bounding box is all it takes from the points).
    `bounds`: (lon min, lon max, lat min, lat max) of a whole table of which `st` is a part."""
    from geopandas.io.arrow import _create_metadata, _encode_metadata

    lon, lat = st["lon"].to_numpy(float), st["lat"].to_numpy(float)
    lon_min, lon_max, lat_min, lat_max = bounds or (lon.min(), lon.max(), lat.min(), lat.max())
    # the columns with an empty geometry column, as geopandas converts them before it puts the WKB in
    # (copy=False: a frame made from a dict otherwise merges its numbers and dates into blocks, a copy)
    columns = pd.DataFrame({**{c: st[c] for c in st.columns}, "geometry": None}, copy=False)
    table = pa.Table.from_pandas(columns, preserve_index=False)
    del columns
    corners = gpd.GeoDataFrame(geometry=gpd.points_from_xy([lon_min, lon_max], [lat_min, lat_max]), crs="EPSG:4326")
    crs = corners.geometry.crs
    field = pa.field(
        "geometry",
        pa.binary(),
        nullable=True,
        metadata={
            "ARROW:extension:name": "geoarrow.wkb",
            "ARROW:extension:metadata": json.dumps({"crs": crs.to_json_dict()}),
        },
    )
    table = table.set_column(table.schema.get_field_index("geometry"), field, _wkb_points(lon, lat))
    metadata = table.schema.metadata
    metadata.update({b"geo": _encode_metadata(_create_metadata(corners))})
    return table.replace_schema_metadata(metadata)


def read_stations(
    path: str | Path,
    required: tuple[str, ...] | None = None,
    columns: tuple[str, ...] | None = None,
    geometry: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a station table: a cleaned `stations.parquet`, or any Parquet file with the `required`
    columns (default: every column of the clean schema), as WGS-84 points. `columns`: read only
    those of these the file has (the required ones must be among them); `geometry=False`: a plain
    DataFrame without a point per station (0.1 s per 10^5 stations a stage using lon/lat does not
    need). Anything else is a one-line BadInputError naming the file."""
    path = Path(path)
    # (a table cleaned before stations had an off-air date reads as one where none was taken off air)
    fill_off_air = required is None and columns is None
    # (and before the tracker's columns: none of them said)
    later = ("off_air_date", *TRACKER_COLUMNS)
    required = tuple(c for c in STATION_COLUMNS if c not in later) if required is None else required
    frame = read_parquet_columns(path, required, columns, "station table", "run `python -m analysis clean` first")
    frame = frame.drop(columns="geometry", errors="ignore")
    if fill_off_air and "off_air_date" not in frame.columns:
        frame.insert(frame.columns.get_loc("on_air_date") + 1, "off_air_date", pd.Series(pd.NaT, index=frame.index))
    for column in TRACKER_COLUMNS if fill_off_air else ():
        if column not in frame.columns:
            dtype = STATION_DTYPES[column]
            frame[column] = pd.Series(pd.NaT if dtype.startswith("datetime") else None, index=frame.index, dtype=dtype)
    if not {"lon", "lat"} <= set(frame.columns):
        raise BadInputError("not a station table: no lon/lat columns", path)
    if not geometry:
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


def clean_to_folder(
    inputs: list[str | Path] | str | Path,
    city: str | City,
    out: str | Path,
    as_of: str | dt.date | None = None,
    input_crs: str | None = None,
    gnb_id_bits: str | int | dict | None = None,
) -> CleanResult:
    """`clean_stations`, then write stations.parquet, quarantine.csv, source_matches.csv and
    clean_summary.json into `out` (each written whole or not at all)."""
    with _arrow_buffers_from_jemalloc(), task("clean") as progress:  # (the writes too: see there)
        progress.add_total(1, draw=False)  # (the writing; the bar drawn once the cleaning has counted its steps)
        return _clean_and_write(inputs, city, out, as_of, input_crs, gnb_id_bits, progress)


def _hint_no_on_air_column(summary: dict) -> str:
    """When rows lacked an on-air date because no operator file has a column read as one (a header the
    package does not know, 启用日期 say), the headers it reads as the on-air date: what to rename."""
    operator_files = [f for f in summary["files"] if f.get("kind") == "operator"]
    if not summary["quarantined_by_reason"].get("on_air_without_date") or not operator_files:
        return ""
    if any("on_air_date" in f.get("columns", {}).values() for f in operator_files):
        return ""
    known = "、".join(HEADER_SYNONYMS["on_air_date"][:6])
    return f" — no column was read as the on-air date: name it one of {known} (or on_air_date)"


def _hint_unread_columns(summary: dict) -> str:
    """When rows lacked identity or an on-air date, the columns each file has that were not read."""
    said = summary["quarantined_by_reason"]
    if not (said.get("no_identity") or said.get("on_air_without_date")):
        return ""
    unread = [
        f"{Path(f['file']).name}: {', '.join(f['columns_not_read'])}"
        for f in summary["files"]
        if f.get("columns_not_read")
    ]
    return f" — columns not read ({'; '.join(unread)})" if unread else ""


def _clean_and_write(inputs, city, out, as_of, input_crs, gnb_id_bits, progress) -> CleanResult:
    out = Path(out)
    # the station table written as soon as it is built, beside a temporary name, while the source ledger and
    # the summary are made and the CSVs written (pyarrow's conversion and its single-threaded Parquet writer
    # release the GIL: the longest write, ~1.7 s of a national table, no longer after the others); put in
    # place with them once the run has all its outputs, removed if it fails
    with ThreadPoolExecutor(1) as writing:
        written = []

        def write_early(stations: pd.DataFrame) -> None:
            if _points_writable(stations):
                written.append(writing.submit(write_aside, out / "stations.parquet", _stations_writer(stations)))

        try:
            result = clean_stations(
                inputs,
                city,
                as_of=as_of,
                input_crs=input_crs,
                gnb_id_bits=gnb_id_bits,
                progress=progress,
                stations_built=write_early,
            )
            if result.table.empty:
                # outputs of an earlier run stay: an empty table would read as "no stations" downstream
                reasons = ", ".join(f"{k} {v}" for k, v in result.summary["quarantined_by_reason"].items())
                raise BadInputError(
                    f"no station kept from {result.summary['rows_in']} rows ({reasons or 'none'}); nothing written"
                    f" to {out}" + _hint_no_on_air_column(result.summary) + _hint_unread_columns(result.summary)
                )
            # the source ledger, then the quarantine, written beside the station table (pyarrow's kernels: two cores)
            with ThreadPoolExecutor(1) as pool:
                ledger_written = pool.submit(write_table_csv, result.source_matches, out / "source_matches.csv")
                # (pandas' bytes: see `write_table_csv`)
                quarantine_written = pool.submit(write_table_csv, result.quarantine, out / "quarantine.csv")
                if not written:  # (a table whose points are not written from lon/lat: as geopandas writes them)
                    write_stations(result.table, out / "stations.parquet")
                ledger_written.result()
                quarantine_written.result()
            if written:
                os.replace(written.pop().result(), out / "stations.parquet")
        finally:
            for job in written:  # (a run that failed: its station table not put in place)
                if job.exception() is None and job.result().exists():
                    job.result().unlink()
    write_json(result.summary, out / "clean_summary.json")
    progress.advance(note=f"written to {out}")
    return result
