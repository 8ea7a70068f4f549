"""How every stage writes and names files: atomic writes (a reader never sees half a file), CSV and
JSON for people, content hashes, and names relative to the project so a fresh clone elsewhere
writes the same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import PROJ_ROOT


def project_relative(path: str | Path) -> str:
    """A file's name as stored in outputs: relative to the project when inside it, else absolute."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(PROJ_ROOT.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: str | Path, write) -> None:
    """Call `write(tmp_path)` on a temporary file in the same folder, then rename it to `path`:
    an interrupted run leaves the previous file whole and no temporary file behind."""
    tmp = write_aside(path, write)
    try:
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_aside(path: str | Path, write) -> Path:
    """Call `write(tmp_path)` on a temporary file in `path`'s folder and return it, for the caller to rename
    to `path` (`os.replace`) once the rest of a run's outputs are made, or to remove: a file written while
    others are still being made, put in place with them. A write that fails leaves no temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; outputs are for a file share
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


#: The first characters that make Excel, LibreOffice or Google Sheets read a CSV cell as a formula (OWASP's
#: "CSV injection"): a sender's `=HYPERLINK(...)` would run in the reviewer's spreadsheet.
_FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(text: str) -> str:
    """A text a spreadsheet would run as a formula, with an apostrophe before it (shown, never run); any
    other text, a signed number (-12.5) or a lone dash among them, as it is."""
    if not text.startswith(_FORMULA_FIRST) or text in ("-", "+") or _SIGNED_NUMBER.fullmatch(text):
        return text
    return "'" + text


#: A signed number as the pages write one: thousands separators, decimals, a unit or per cent after it
#: (-3,643, +12.5 %, -20 m): a spreadsheet reads it as a number or as text, never as a formula.
_SIGNED_NUMBER = re.compile(r"[+-](?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?(?:%|m|km|km²|座|个))?")


def defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `defuse_formula` applied to its text cells (a copy only when one needs it)."""
    out = frame
    for i in range(len(frame.columns)):
        values = frame.iloc[:, i]
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        texts = defuse_texts(values)
        if texts is not values:
            out = out.copy() if out is frame else out
            out.iloc[:, i] = texts
    return out


def defuse_texts(values: pd.Series) -> pd.Series:
    """`values` with `defuse_formula` applied to its texts: `values` itself when none would run as a formula.
    Only the cells that begin as one are passed to Python, found vectorised where the texts are Arrow strings
    (a national quarantine's every cell through Python cost seconds)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        at = _begin_as_formula(values)
    else:
        try:
            # (non-texts of an object column, and missing values, give NaN: never a formula)
            at = values.str[:1].isin(_FORMULA_FIRST).to_numpy(dtype=bool, na_value=False)
        except AttributeError:  # (an object column of no texts: numbers, dates)
            return values
    if not at.any():
        return values
    found = values[at]
    # (in the column's dtype: pandas infers "str" for what `map` returns of an object column)
    defused = found.map(lambda v: defuse_formula(v) if isinstance(v, str) else v).astype(values.dtype)
    if defused.equals(found):
        return values
    texts = values.copy()
    texts[at] = defused
    return texts


#: The first characters of a formula as the first byte of a text's UTF-8 (all of them ASCII: one byte each).
_FORMULA_FIRST_BYTES = np.frombuffer("".join(_FORMULA_FIRST).encode("ascii"), dtype=np.uint8)


def _begin_as_formula(values: pd.Series) -> np.ndarray:
    """Per text of Arrow strings (pandas "str"): True where it begins with one of `_FORMULA_FIRST`, read from
    the first byte of each text in Arrow's buffers (slicing each text's first character cost ~30 ns a cell)."""
    import pyarrow as pa

    array = pa.chunked_array(pa.array(values.array)).combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    text = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    filled = ends[1:] > ends[:-1]
    first = np.zeros(len(array), dtype=np.uint8)
    first[filled] = text[ends[:-1][filled]]
    at = np.isin(first, _FORMULA_FIRST_BYTES)
    if array.null_count:  # (a missing value's slot may hold bytes: never a formula)
        at &= np.asarray(array.is_valid(), dtype=bool)
    return at


def copy_defused_csv(source: str | Path, target: str | Path) -> None:
    """A CSV copied for people (beside a report page): its bytes as they are unless a cell would run as a
    formula in a spreadsheet, then every cell through `defuse_formula` (a file that is not UTF-8 CSV: copied)."""
    import csv
    import io
    import shutil

    raw = Path(source).read_bytes()
    rows, encoding = [], None
    # UTF-8, else GB18030 (a superset of GBK, as Chinese Excel saves a CSV): a formula is dangerous in either
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            rows = list(csv.reader(io.StringIO(raw.decode(encoding), newline="")))
            break
        except (UnicodeDecodeError, csv.Error):
            rows, encoding = [], None
    if not any(defuse_formula(cell) != cell for row in rows for cell in row):
        shutil.copyfile(source, target)
        return
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([[defuse_formula(c) for c in row] for row in rows])
    bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
    out = (bom + buffer.getvalue()).encode("utf-8" if encoding == "utf-8-sig" else encoding)
    write_atomic(target, lambda tmp: Path(tmp).write_bytes(out))


#: Unicode's explicit direction embeddings, overrides and isolates (LRE … RLO, LRI … PDI), as characters or as
#: the JSON escapes a page's embedded data writes them in.
_DIRECTION_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]|\\u(?:202[a-eA-E]|206[6-9])")


def drop_direction_controls(html: str) -> str:
    """A page for people without the invisible direction controls a sender may have put in a name (U+202E
    turned the rest of a sentence, or a map popup, backwards); the data keep them."""
    return _DIRECTION_CONTROLS.sub("", html)


def write_csv(frame: pd.DataFrame, path: str | Path, *, bom: bool = True, defuse: bool = False) -> None:
    """CSV for people, written atomically: the bytes of pandas' `to_csv(index=False, date_format="%Y-%m-%d",
    lineterminator="\n")` in UTF-8, after a BOM with `bom` (Excel then shows Chinese right; without it for
    tables read by other programs), missing values blank, fields quoted only where the csv module quotes
    them. A table of text, bool, integer, float and date columns is formatted by pyarrow, a block of rows at
    a time (pandas formats a national table one Python cell at a time: ~4 s a million rows); any other
    table (one column, nullable or categorical dtypes, mixed objects, names that are not text) by pandas.
    `defuse`: text cells a spreadsheet would run as formulas written with an apostrophe first (tables beside
    the report's pages, which reviewers open in Excel; stage outputs stay as the data say, but for
    quarantine.csv, whose raw values `clean.ledger` defuses where it builds the quarantine)."""
    if defuse:
        frame = defuse_formulas(frame)
    if not _is_for_arrow(frame):
        encoding = "utf-8-sig" if bom else "utf-8"
        write_atomic(
            path,
            lambda tmp: frame.to_csv(tmp, index=False, encoding=encoding, date_format="%Y-%m-%d", lineterminator="\n"),
        )
        return

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write((b"\xef\xbb\xbf" if bom else b"") + _format_csv_line(list(frame.columns)).encode("utf-8"))
            for lo in range(0, len(frame), _CSV_ROWS):
                _write_csv_rows(frame.iloc[lo : lo + _CSV_ROWS], fh)

    write_atomic(path, write)


def flags_of(values: pd.Series) -> pd.Series:
    """A flag column as a stage's CSV reads back (bools, or their text True/False, 1/0) as bools: one reading
    for every page and stage that takes flags from a table written by `write_csv`."""
    return values.astype(str).str.lower().isin(["true", "1"])


#: Rows formatted and joined at a time by `write_csv`: bounds the copies it makes (a quarter of a million rows
#: were as fast as a million, in CPU time, on the national source ledger and sites, with ~50 MB less at the peak).
_CSV_ROWS = 1 << 18


def _format_csv_line(cells: list[str]) -> str:
    """One line as the csv module writes it in pandas' dialect (minimal quoting, quotes doubled, LF)."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(cells)
    return buffer.getvalue()


def _find_csv_specials() -> bytes:
    """The characters that make the csv module (as pandas drives it) quote a field, asked of the module
    itself: Python versions differ on CR (3.11 leaves it bare, later ones quote it)."""
    quoted_cr = _format_csv_line(["a\rb", "c"]).startswith('"')
    return b',"\n' + (b"\r" if quoted_cr else b"")


def _is_for_arrow(frame: pd.DataFrame) -> bool:
    """True for a table `_write_csv_rows` formats as pandas does: two or more columns (a line of one empty
    field is quoted), each named by a text and of a kind `_format_csv_cells` formats; not a wide table of
    few rows (a country's funnel, a row per stage and a column per district: pyarrow's fixed price per
    column, 7 x 8,734 cells 0.6 CPU s against pandas' 0.02)."""
    names = frame.columns
    if len(names) < 2 or not all(isinstance(c, str) for c in names) or len(names) > max(len(frame), 64):
        return False
    return all(_is_column_for_arrow(frame.iloc[:, i]) for i in range(len(names)))


def _is_column_for_arrow(values: pd.Series) -> bool:
    """True for numpy bool, integer, float32/64 or datetime64 columns, text columns, and objects that are
    texts, Python integers or all missing."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biufM":
        return values.dtype.kind != "f" or values.dtype.itemsize in (4, 8)  # (float16 and long double: pandas)
    if isinstance(values.dtype, pd.StringDtype):
        return True
    # (objects: texts; all missing, written blank; integers, written as str() writes them, as the
    # quarantine's row numbers are)
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty", "integer")


def _write_csv_rows(part: pd.DataFrame, fh) -> None:
    """The lines of `part`, each ending in LF, as UTF-8 bytes into the file `fh`: its cells formatted
    (`_format_csv_cells`), then put in lines by pyarrow's CSV writer, straight into the file, where no cell
    holds a quote, comma or line break (it writes cells as they are and refuses such a cell: a national
    source ledger's 4.25 M lines ~0.45 CPU s, where joining the cells element-wise took ~1.05 s), else
    joined element-wise (the quoted cells as they are) and written from the Arrow string array."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    formatted = [_format_csv_cells(part.iloc[:, i]) for i in range(len(part.columns))]
    cells = [cell for cell, _ in formatted]
    if not any(held for _, held in formatted):
        table = pa.Table.from_arrays(cells, names=[str(i) for i in range(len(cells))])
        pa_csv.write_csv(table, fh, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
        return
    empty, newline, comma = (pa.scalar(t, pa.large_string()) for t in ("", "\n", ","))
    # each line ends in "\n": put after the last cell (not a second copy of every line)
    cells[-1] = pc.binary_join_element_wise(cells[-1], empty, newline)
    lines = pc.binary_join_element_wise(*cells, comma)
    del cells
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    if len(lines):
        fh.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


def _held_bytes(text, characters: bytes) -> bytes:
    """Those of `characters` (single bytes) that a text of `text` (Arrow large strings) holds, read from the
    array's data buffer by `bytes.find` (no text per cell)."""
    _, offsets_buffer, data_buffer = text.buffers()
    if not len(text) or data_buffer is None:
        return b""
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    data = memoryview(data_buffer)[offsets[0] : offsets[-1]].tobytes()
    return bytes(c for c in characters if data.find(bytes([c])) >= 0)


#: What a cell must not hold for pyarrow's CSV writer to put it in a line as it is (`_write_csv_rows`).
_NOT_FOR_ARROW_WRITER = b'",\n\r'


def _format_csv_cells(values: pd.Series):
    """One column's cells as pandas' `to_csv(date_format="%Y-%m-%d")` writes them (Arrow large strings,
    "" where missing): numbers and dates each distinct value formatted as pandas formats it (numpy's str
    of a float, strftime of a date), texts quoted where the csv module quotes them; and whether a cell holds
    a quote, comma or line break (`_NOT_FOR_ARROW_WRITER`: numbers, dates and flags never do; a text column's
    bytes looked through once, for its quoting and for this)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else "O"
    if kind == "b":
        return pc.if_else(pa.array(values.to_numpy()), "True", "False").cast(pa.large_string()), False
    if kind in "iu":
        return pa.array(values.to_numpy()).cast(pa.large_string()), False
    if kind == "f":
        # (-0.0 is not 0.0 here, so the bits are what is distinct; a float32 printed as a float32)
        numbers = values.to_numpy()
        codes, uniques = pd.factorize(numbers.view(f"i{numbers.itemsize}"))
        texts = np.asarray(uniques).view(numbers.dtype).astype(str).astype(object)
        codes = np.where(np.isnan(numbers), -1, codes)
    elif kind == "M":
        codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=True)
        texts = pd.DatetimeIndex(uniques).strftime("%Y-%m-%d").to_numpy(dtype=object)
    if kind in "fM":
        return pa.array([*texts, ""], pa.large_string()).take(pa.array(np.where(codes < 0, len(texts), codes))), False
    if values.dtype == object and values.isna().all():
        # (a column no row of this table fills, as the operator reports' fields beside OpenCelliD's cells in a
        # quarantine: blank, without a text made of every missing value first)
        return pa.repeat(pa.scalar("", pa.large_string()), len(values)), False
    text = pa.chunked_array(pa.array(values.astype("str").array)).combine_chunks().cast(pa.large_string())
    text = text.fill_null("")
    held = _held_bytes(text, _NOT_FOR_ARROW_WRITER)
    return _quote_text(text, held), bool(held)


def _quote_text(text, held: bytes):
    """Arrow texts quoted as the csv module quotes a field: in quotes, its quotes doubled, when it holds
    a comma, a quote or a line break. The regex runs only when the column's bytes hold one (`held`: those of
    `_NOT_FOR_ARROW_WRITER` they hold; a national table's ids, operators, districts and flags hold none: a
    regex per cell is ~0.1 s a million rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    specials = _CSV_SPECIALS
    if not any(c in held for c in specials):  # (no rows, only empty texts, or none to quote)
        return text
    pattern = "[" + specials.decode().replace("\n", "\\n").replace("\r", "\\r") + "]"
    quote, empty = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote, empty)
    return pc.if_else(pc.match_substring_regex(text, pattern), quoted, text)


_CSV_SPECIALS = _find_csv_specials()


def read_parquet_columns(
    path: str | Path,
    required: tuple[str, ...],
    columns: tuple[str, ...] | None = (),
    what: str = "Parquet table",
    hint: str = "",
    categories: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The `required` columns of a Parquet table and those of `columns` it has, and nothing else (a
    stage reads what it uses, without the reader of its producer: the station reader in `clean`
    imports all of cleaning); `columns=None`: every column. A missing file or column, or a file that
    is not Parquet, is a one-line BadInputError naming the file and saying what it should have been
    (`what`; `hint`: how a missing one is made). Columns of `categories` are read as categories (a file
    name repeated on every row of a national table: its codes, not 4 M copies of its text)."""
    import pyarrow.parquet as pq

    from analysis.errors import BadInputError

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no such file ({hint or f'expected a {what}'})", path)
    try:  # the file's columns first: a missing one is named, and only the wanted ones are read
        present = set(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises many types for a file that is not Parquet
        raise BadInputError(f"not a Parquet {what} ({_first_line(exc)})", path) from None
    missing = [c for c in required if c not in present]
    if missing:
        raise BadInputError(f"not a {what}: missing columns {', '.join(missing)}", path)
    wanted = None if columns is None else [c for c in dict.fromkeys([*required, *columns]) if c in present]
    try:
        as_categories = [c for c in categories if c in present and (wanted is None or c in wanted)]
        return pd.read_parquet(path, columns=wanted, read_dictionary=as_categories or None)
    except Exception as exc:
        raise BadInputError(f"unreadable Parquet {what} ({_first_line(exc)})", path) from None


def read_station_columns(
    path: str | Path, required: tuple[str, ...], columns: tuple[str, ...] | None = ()
) -> pd.DataFrame:
    """`read_parquet_columns` of a cleaned station table (stations.parquet): the errors call it a
    station table and say how one is made; its source files read as categories."""
    hint = "run `python -m analysis clean` first"
    return read_parquet_columns(path, required, columns, "station table", hint, categories=("source_file",))


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


def write_json(data: dict, path: str | Path) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
