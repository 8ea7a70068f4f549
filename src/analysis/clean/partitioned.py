"""Cleaning past one machine's memory: an OpenCelliD export (the world file is about 50 million cell
rows) split into partitions on disk and cleaned partition by partition by the same code as
`clean.clean_stations`, on a Dask cluster (local processes, or many machines through
`dask.distributed`).

What a partition can see: all NR cells of one gNB (mcc, net, NCI >> (36 - bits)) go to the same
partition (by a hash of that key), so grouping cells into sites, the site's median position, its
district and its first-seen date are exactly those of an in-memory clean. Rows that are not usable NR
cells (other radios, unreadable ids) are quarantined row by row and are spread round-robin. OpenCelliD
rows are never merged across gNBs, so no cross-partition duplicate is missed. Operator reports are
not partitioned: their near-duplicates (same operator within 50 m) need every nearby row together;
a national operator file (4.25 million rows) is cleaned in memory by `clean_stations`.

What it reads: an OpenCelliD export in every layout the in-memory reader reads one (its header found the
same way, `sources.find_text_header`): OpenCelliD's own cell_towers.csv without a header, a header under
title or blank lines, the API's column order and names (lat,lon,mcc,mnc,lac,cellid,...), fields split
by commas, semicolons, tabs or bars; plain CSV, or a .gz or .zip streamed. A file whose header is not
found, or is an operator report's, is refused in one line naming it.

What comes out: the in-memory clean's four files byte for byte, whatever the number of partitions. The
file is read in blocks as the in-memory reader reads it whole. The main process never holds the whole
station table: each partition writes its stations sorted by id, and they are merged in station-id order
a batch at a time (STATION_MERGE_ROWS of all partitions together) into stations.parquet, a row group
(`stations.STATION_ROW_GROUP`, 2^20 stations, as the in-memory writer cuts them) at a time, each row
group's source-ledger rows written after it; the quarantines are merged in row order a batch at a time;
the summary is the in-memory one, from the partitions' counts.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gzip
import io
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis.clean import parse
from analysis.clean import stations as station_table
from analysis.clean.ledger import LEDGER_COLUMNS, STATION_COUNTS, build_source_ledger, compose_summary
from analysis.clean.sources import (
    HEADER_SEARCH_ROWS,
    MAX_LINES_PER_CELL,
    OPENCELLID_COLUMNS,
    TABLE_SUFFIXES,
    RawTable,
    detect_format,
    find_text_header,
    read_record_at,
)
from analysis.clean.stations import (
    MNC_OPERATOR,
    clean_tables,
    parse_gnb_id_bits,
    valid_cell_ids,
    write_station_row_groups,
    write_stations,
)
from analysis.config import City, resolve_city
from analysis.errors import BadInputError, UsageError
from analysis.files import project_relative, sha256_of, write_atomic, write_csv, write_json

#: Cell rows per partition: what one worker holds at a time (see BENCHMARKS.md for its peak memory).
ROWS_PER_PARTITION = 500_000
#: Dask's local schedulers (any other scheduler is a `tcp://` address of a dask.distributed cluster).
LOCAL_SCHEDULERS = ("processes", "threads", "synchronous")
#: Characters of the file's text parsed at a time while splitting it (a block ends at a line end): about
#: 200,000 rows of an export, ~0.1 GB as a frame of text.
BLOCK_CHARS = 16 << 20
#: Bytes read at a time by the first pass over the file (its encoding checked, its lines counted).
SURVEY_BYTES = 16 << 20
#: Quarantine rows held at a time while the partitions' quarantines are merged, over all partitions.
MERGE_ROWS = 1 << 17
#: Stations read at a time from the partitions while they are merged in station-id order, over all partitions
#: (besides the row group of stations.parquet being filled: `stations.STATION_ROW_GROUP`).
STATION_MERGE_ROWS = 1 << 17
#: Rows per row group of a partition's stations and quarantine files: the merges read every partition at once,
#: and a Parquet reader holds the row group it reads (its column chunks, pre-buffered): ~30 MB a partition of
#: 200,000 stations in one row group, ~0.6 GB for 20 partitions; ~1 MB in row groups of this size.
PART_ROW_GROUP = 1 << 13
#: The columns of a partition file: the export's texts, the row's number in the file, what the reader said.
PARTITION_SCHEMA = pa.schema(
    [(c, pa.string()) for c in OPENCELLID_COLUMNS]
    + [("source_row", pa.int64()), ("read_note", pa.string()), ("read_problem", pa.string())]
)


@dataclass
class _Export:
    """One OpenCelliD export as the splitter reads it: the file given, the name its rows carry (a zip's
    member as archive.zip/member, as the in-memory reader names it), how to open its bytes (a .gz or
    .zip streamed), and what the first pass found: encoding, codec, lines, notes for the summary."""

    path: Path
    source: Path
    open_bytes: Callable[[], contextlib.AbstractContextManager[BinaryIO]]
    encoding: str = "utf-8"
    codec: str = "utf-8"
    lines: int = 0
    size_bytes: int = 0
    notes: tuple[str, ...] = ()


def _refuse_workbook(path: Path) -> UsageError:
    return UsageError(
        f"{path}: a workbook (XLSX/XLS): partitioned cleaning reads CSV exports (plain, .gz or .zip); "
        "clean it without --partitioned (it is read in memory), or save its sheet as CSV first"
    )


@contextlib.contextmanager
def _zip_member(path: Path, name: str) -> Iterator[BinaryIO]:
    with zipfile.ZipFile(path) as archive, archive.open(name) as fh:
        yield fh


def _open_zip(path: Path) -> _Export:
    """The one CSV export inside a zip archive (streamed from it); a workbook, or an archive of several
    tables, is refused in one line."""
    with zipfile.ZipFile(path) as archive:
        infos = sorted(archive.infolist(), key=lambda i: i.filename)
    names = [i.filename for i in infos]
    if any(n.startswith("xl/") for n in names) or "[Content_Types].xml" in names:
        raise _refuse_workbook(path)
    files = [
        n
        for n, i in zip(names, infos, strict=True)
        if not i.is_dir() and not Path(n).name.startswith(("~$", ".", "__MACOSX")) and "__MACOSX/" not in n
    ]
    tables = [n for n in files if Path(n).suffix.lower() in TABLE_SUFFIXES]
    texts = [n for n in tables if Path(n).suffix.lower() in (".csv", ".txt", ".tsv")]
    if len(tables) != 1 or len(texts) != 1:
        what = f"{len(tables)} table files" if tables else "no CSV file"
        raise UsageError(
            f"{path}: a zip archive with {what} ({', '.join(tables[:5]) or 'none'}): --partitioned cleans one "
            "CSV export; unzip it and give the export, or clean the archive without --partitioned"
        )
    # (what the in-memory reader says of the archive's other files, in the same words)
    notes = tuple(f"in the archive, skipped {n} (not a table file)" for n in files if n not in tables)
    return _Export(path, path / texts[0], lambda: _zip_member(path, texts[0]), notes=notes)


def _open_export(path: Path) -> _Export:
    """How to read the export's bytes: plain, gzip (cell_towers.csv.gz, as OpenCelliD serves it) or zip,
    found from its first bytes as the in-memory reader finds it; a workbook refused in one line."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    fmt = detect_format(head)
    if fmt == "gzip":
        return _Export(path, path, lambda: gzip.open(path, "rb"))
    if fmt == "xlsx" and zipfile.is_zipfile(path):
        return _open_zip(path)
    if fmt in ("xlsx", "xls"):
        raise _refuse_workbook(path)
    return _Export(path, path, lambda: open(path, "rb"))


def _survey(export: _Export) -> None:
    """The first pass over the export's bytes (decompressed as they stream): its encoding as the in-memory
    reader decides it (the whole file UTF-8, else GBK, else GB18030) and its lines, for the partitions."""
    try:
        with export.open_bytes() as fh:
            head = fh.read(8192)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInputError(f"cannot be read as an archive ({exc})", export.path) from None
    fmt = detect_format(head)
    if fmt in ("xlsx", "xls"):
        raise _refuse_workbook(export.source)
    if fmt == "binary":
        raise BadInputError("binary data, not a CSV or XLSX table", export.source)
    if fmt == "utf16":
        bom = head[:2] in (b"\xff\xfe", b"\xfe\xff")
        little = head[1::2].count(0) >= head[0::2].count(0)
        candidates = [("utf-16" if bom else "utf-16-le" if little else "utf-16-be", "utf-16")]
        tried = "UTF-16 (it starts like UTF-16)"
    elif head.startswith(b"\xef\xbb\xbf"):
        candidates, tried = [("utf-8-sig", "utf-8-sig")], "UTF-8 (it starts with a UTF-8 BOM)"
    else:  # (GBK read by the GB18030 codec, its superset: the same text, as the in-memory reader reads it)
        candidates, tried = [("utf-8", "utf-8"), ("gbk", "gbk"), ("gb18030", "gb18030")], "UTF-8, GBK or GB18030"
    bad = None
    for codec, name in candidates:
        bad = _first_bad_line(export, codec)
        if bad is None:
            export.codec, export.encoding = ("gb18030" if codec == "gbk" else codec), name
            return
    raise BadInputError(f"line {bad}: bytes that are not {tried} text (mixed or unknown encoding)", export.source)


def _first_bad_line(export: _Export, codec: str) -> int | None:
    """The line of the first bytes that are not `codec` text, None when all are (then the export's lines
    are counted); a file of nothing but white space is empty, as the in-memory reader says."""
    decoder = codecs.getincrementaldecoder(codec)()
    lines, size, filled = 0, 0, False
    try:
        with export.open_bytes() as fh:
            while step := fh.read(SURVEY_BYTES):
                try:
                    decoder.decode(step)
                except UnicodeDecodeError as exc:
                    return lines + step[: max(exc.start, 0)].count(b"\n") + 1
                lines += step.count(b"\n")
                size += len(step)
                filled = filled or not step.isspace()
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return lines + 1
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # a damaged .gz or zip
        raise BadInputError(f"a damaged compressed file ({exc})", export.path) from None
    if not filled:
        raise BadInputError("the file is empty", export.source)
    export.lines, export.size_bytes = lines + 1, size
    return None


def _iter_text_blocks(export: _Export, block_chars: int) -> Iterator[str]:
    """The export's text in blocks of about `block_chars` characters, each ending at a line end (the last
    as the file ends), line ends as written (CRLF kept: the parsers read them as the in-memory reader's do)."""
    with export.open_bytes() as raw:
        text = io.TextIOWrapper(raw, encoding=export.codec, newline="")
        carry = ""
        while piece := text.read(block_chars):
            piece = carry + piece
            cut = piece.rfind("\n") + 1
            if not cut:  # (CR alone ends the lines; a CR last in the piece may be the first half of a CRLF)
                cut = piece.rfind("\r", 0, len(piece) - 1) + 1
            carry = piece[cut:]
            if cut:
                yield piece[:cut]
        if carry:
            yield carry


@dataclass
class _Head:
    """Where an export's records begin and how they are read, as the in-memory reader finds it
    (`sources.find_text_header`): lines before the records (title lines, blank lines, the header), the
    delimiter, the records' width, column -> OpenCelliD column, the header's names, its row (0: none),
    and the title rows' text."""

    skip: int
    delimiter: str
    width: int
    mapping: dict[int, str]
    names: dict[str, str]
    header_row: int
    title: str

    @property
    def columns(self) -> list[str]:
        """The OpenCelliD columns the file has, in its order (as the in-memory reader's frame has them)."""
        return [self.mapping[j] for j in sorted(self.mapping)]


def _read_head(export: _Export) -> _Head:
    """The export's header as the in-memory reader finds it among its first lines: under title or blank
    lines, in any column order OpenCelliD's API or other tools write, or none (OpenCelliD's own
    cell_towers.csv); an operator report is refused, a file with no header recognised said in one line."""
    first = next(_iter_text_blocks(export, 1 << 16), "")
    lines = first.lstrip("\ufeff").splitlines()[:HEADER_SEARCH_ROWS]
    header, delimiter, width, title = find_text_header(lines, export.source)
    if header.kind != "opencellid":
        raise UsageError(
            f"{export.source}: partitioned cleaning reads OpenCelliD exports only "
            f"(columns {','.join(OPENCELLID_COLUMNS)}); clean operator and tower-company reports "
            "without --partitioned (`clean_stations`; in memory a national operator file of 4.25 M rows stays"
            " under 4 GB: BENCHMARKS.md)"
        )
    return _Head(header.last + 1, delimiter, width, dict(header.mapping), dict(header.names), header.first + 1, title)


def _partition_of(chunk: pd.DataFrame, row0: int, n_parts: int, gnb_bits: dict[str, int]) -> np.ndarray:
    """The partition of each row: by a hash of its gNB for usable NR cells, else round-robin."""
    radio = parse.normalize_text(chunk["radio"]).str.upper()
    mcc = parse.to_numbers(chunk["mcc"])
    net = parse.to_numbers(chunk["net"])
    nci = parse.to_numbers(chunk["cell"])
    # (a usable cell as `clean_tables` reads it: an NCI below 2^36, MCC and MNC whole; 1e20 cast to int64 overflowed)
    ok = ((radio == "NR").fillna(False) & valid_cell_ids(mcc, net, nci)).to_numpy()
    operator = pd.Series(np.where(mcc == 460, net.map(MNC_OPERATOR), None), index=chunk.index).fillna("unknown")
    # (looked up once per operator, not once per row)
    bits = operator.map({op: gnb_bits.get(op, gnb_bits["*"]) for op in operator.unique()}).to_numpy(dtype=np.int64)

    def code(values: pd.Series, other: int) -> np.ndarray:  # (a row not usable: `other`, never cast)
        return np.where(ok, values.to_numpy(dtype=np.float64, na_value=other), other).astype(np.int64)

    gnb = np.right_shift(code(nci, 0), 36 - bits)
    key = pd.DataFrame({"mcc": code(mcc, -1), "net": code(net, -1), "gnb": gnb})
    hashed = pd.util.hash_pandas_object(key, index=False).to_numpy()
    part = (hashed % np.uint64(n_parts)).astype(np.int64)
    rr = (np.arange(row0, row0 + len(chunk)) % n_parts).astype(np.int64)
    return np.where(ok, part, rr)


def _with_every_column(frame: pd.DataFrame, head: _Head) -> pd.DataFrame:
    """The block's columns named as OpenCelliD's, those the file lacks added empty (a partition file has all)."""
    frame.columns = [*head.columns, *frame.columns[len(head.mapping) :]]
    for c in OPENCELLID_COLUMNS:
        if c not in frame.columns:
            frame[c] = None
    return frame


def _read_block_fast(block: str, head: _Head) -> pd.DataFrame | None:
    """A block's records as the in-memory reader's fast path reads a file (pandas' C parser, the file's
    OpenCelliD columns of `head.width` fields, extra fields of a ragged line left out); None when its
    records are not its lines one to one (a quote spans lines, or is left open) or the parser refuses it."""
    n_lines = block.count("\n") + (0 if block.endswith("\n") else 1)
    if not block or n_lines <= 0:
        return _with_every_column(pd.DataFrame({c: pd.Series([], dtype=object) for c in head.columns}), head)
    if not block.strip("\r\n"):  # blank lines only (the parser sees no columns in them)
        return _with_every_column(pd.DataFrame({c: [None] * n_lines for c in head.columns}), head)
    try:
        frame = pd.read_csv(
            io.StringIO(block),
            sep=head.delimiter,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            usecols=sorted(head.mapping),
            names=range(max(head.width, max(head.mapping) + 1)),
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    if len(frame) != n_lines:
        return None
    return _with_every_column(frame, head)


def _read_block_by_line(lines: list[str], head: _Head, final: bool) -> tuple[pd.DataFrame, list[str]]:
    """The records of `lines` as the in-memory reader reads a file line by line (a quoted cell spanning
    lines is one record; a line it cannot split is kept with its problem, quarantined as unreadable_line),
    and the lines left for the next block: a record is read only with the lines it may span in hand."""
    records, notes, problems = [], [], []
    i = 0
    while i < len(lines) and (final or len(lines) - i >= MAX_LINES_PER_CELL):
        fields, used, note, problem = read_record_at(lines, i, head.delimiter, head.width)
        records.append(fields)
        notes.append(note)
        problems.append(problem)
        i += used
    frame = pd.DataFrame(
        {c: [(r[j] if j < len(r) else "") for r in records] for j, c in head.mapping.items()}, dtype=object
    )
    frame = _with_every_column(frame[head.columns] if len(head.mapping) else frame, head)
    frame["read_note"], frame["read_problem"] = notes, problems
    return frame, lines[i:]


def _skip_lines(block: str, n: int) -> str | None:
    """`block` after its first `n` lines (ended by LF or CRLF); None when it holds fewer."""
    at = 0
    for _ in range(n):
        at = block.find("\n", at) + 1
        if not at:
            return None
    return block[at:]


def _is_blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows the in-memory reader counts as blank: every field empty, missing or white space only, and no
    problem said of the line."""
    blank = frame["read_problem"].isna().to_numpy().copy()
    for c in OPENCELLID_COLUMNS:
        values = frame[c].to_numpy(dtype=object, na_value=None)
        blank &= np.array([v is None or v != v or not str(v).strip() for v in values], dtype=bool)
    return blank


def _end_of_records(frame: pd.DataFrame, tail: int = 1024) -> int:
    """1 + the position of the last row that is not blank (0 when all are): only the last rows looked at,
    unless they are all blank."""
    lo = max(0, len(frame) - tail)
    filled = np.flatnonzero(~_is_blank(frame.iloc[lo:]))
    if len(filled):
        return lo + int(filled[-1]) + 1
    filled = np.flatnonzero(~_is_blank(frame.iloc[:lo]))
    return int(filled[-1]) + 1 if len(filled) else 0


class _PartitionWriter:
    """Rows into the partition files, numbered as the in-memory reader numbers them (records from 1); blank
    rows after the last record held back until a record follows (at the end: the file's formatting, counted)."""

    def __init__(self, folder: Path, n_parts: int, gnb_bits: dict[str, int]):
        self.n_parts, self.gnb_bits = n_parts, gnb_bits
        self.writers = [
            pq.ParquetWriter(folder / f"part-{i:05d}.parquet", PARTITION_SCHEMA, compression="zstd")
            for i in range(n_parts)
        ]
        self.rows = self.read_notes = self.read_problems = 0
        self.pending: pd.DataFrame | None = None

    def add(self, frame: pd.DataFrame) -> None:
        for c in ("read_note", "read_problem"):
            if c not in frame.columns:
                frame[c] = None
        if self.pending is not None and len(self.pending):
            frame = pd.concat([self.pending, frame], ignore_index=True)
        last = _end_of_records(frame)
        self.pending = frame.iloc[last:]
        if last:
            self._write(frame.iloc[:last].reset_index(drop=True))

    def _write(self, frame: pd.DataFrame) -> None:
        # straight into Arrow, an empty text missing (as the in-memory reader keeps it): a Python object per
        # cell, made and converted back, was most of the split's time
        columns = {}
        for c in OPENCELLID_COLUMNS:
            text = pa.array(frame[c].array, type=pa.string(), from_pandas=True)
            columns[c] = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        columns["source_row"] = pa.array(np.arange(self.rows + 1, self.rows + len(frame) + 1, dtype=np.int64))
        for c in ("read_note", "read_problem"):
            columns[c] = pa.array(frame[c].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        table = pa.table(columns, schema=PARTITION_SCHEMA)
        self.read_notes += table["read_note"].length() - table["read_note"].null_count
        self.read_problems += table["read_problem"].length() - table["read_problem"].null_count
        part = _partition_of(frame, self.rows, self.n_parts, self.gnb_bits)
        for i in np.unique(part):
            self.writers[i].write_table(table.filter(pa.array(part == i)))
        self.rows += len(frame)

    def close(self) -> int:
        """Close the files; the blank rows after the last record."""
        for w in self.writers:
            w.close()
        return 0 if self.pending is None else len(self.pending)


def _split_blocks(
    export: _Export, folder: Path, n_parts: int, gnb_bits: dict, head: _Head, block_chars: int, by_line: bool
) -> dict | None:
    """One pass of the splitter: blocks parsed fast (None as soon as one is not, see `_read_block_fast`) or
    line by line (`by_line`, when the in-memory reader reads the file so)."""
    from analysis.progress import track

    for old in folder.glob("part-*.parquet"):
        old.unlink()
    writer = _PartitionWriter(folder, n_parts, gnb_bits)
    total = max(1, -(-export.size_bytes // block_chars))  # (a character a byte: exact for an ASCII export)
    carry: list[str] = []
    skip = head.skip  # (the lines above the records: title lines, blank lines, the header)
    try:
        blocks = _iter_text_blocks(export, block_chars)
        for k, block in enumerate(track(blocks, "split into partitions", total=total, unit="chunk")):
            if k == 0:
                block = block.lstrip("\ufeff")
            if not by_line:
                # (the lines above the records in the first block: else read line by line, as a file is whose
                # lines end in CR alone)
                block = _skip_lines(block, skip) if skip else block
                frame = _read_block_fast(block, head) if block is not None else None
                if frame is None:
                    return None
                skip = 0
            else:
                lines = carry + re.split(r"\r\n|\r|\n", block)
                if lines and lines[-1] == "":
                    lines.pop()
                dropped, skip = min(skip, len(lines)), skip - min(skip, len(lines))
                frame, carry = _read_block_by_line(lines[dropped:], head, final=False)
            writer.add(frame)
        if by_line:
            writer.add(_read_block_by_line(carry, head, final=True)[0])
    finally:
        trailing = writer.close()
    return {"rows": writer.rows, "trailing": trailing, "notes": writer.read_notes, "problems": writer.read_problems}


def split_opencellid(
    path: str | Path,
    folder: str | Path,
    rows_per_partition: int = ROWS_PER_PARTITION,
    gnb_id_bits: str | int | dict | None = None,
    block_chars: int | None = None,
) -> dict:
    """Split one OpenCelliD export (CSV, plain or in a .gz or .zip, streamed) into Parquet partitions in
    `folder` (text columns as in the file, plus `source_row`, the row's number in the whole file, and what
    the reader said of it), reading `block_chars` characters at a time (default BLOCK_CHARS); each row read
    as the in-memory reader reads it (a ragged line, a quoted cell spanning lines, blank lines, CRLF). Returns what
    `clean_partition` and the summary need to know of the file."""
    path, folder = Path(path), Path(folder)
    export = _open_export(path)
    _survey(export)
    head = _read_head(export)
    folder.mkdir(parents=True, exist_ok=True)
    n_parts = max(1, -(-export.lines // rows_per_partition))
    gnb_bits = parse_gnb_id_bits(gnb_id_bits)
    block_chars = block_chars or BLOCK_CHARS
    split = _split_blocks(export, folder, n_parts, gnb_bits, head, block_chars, by_line=False)
    if split is None:  # (the in-memory reader too reads the whole file line by line then)
        split = _split_blocks(export, folder, n_parts, gnb_bits, head, block_chars, by_line=True)
    header_row = head.header_row
    if not split["rows"]:
        raise BadInputError(f"a header (row {header_row}) but no records below it", export.source)
    notes = list(export.notes)
    if split["notes"] or split["problems"]:
        notes.insert(
            0,
            f"quotes left open or misplaced: {split['notes']} lines read on their own, "
            f"{split['problems']} quarantined as unreadable_line",
        )
    return {
        "file": path,
        "source": export.source,
        "encoding": export.encoding,
        "header_row": header_row,
        "columns": head.columns,
        "names": head.names,
        "title": head.title,
        "partitions": n_parts,
        "rows": split["rows"],
        "trailing_empty_rows_ignored": split["trailing"],
        "notes": notes,
        "folder": folder,
    }


def clean_partition(
    part: str | Path,
    source: str | Path,
    city: str | City | Path,
    out: str | Path,
    as_of: str | None = None,
    gnb_id_bits: str | int | dict | None = None,
    encoding: str = "utf-8",
    header_row: int = 1,
    columns: list[str] | None = None,
    names: dict[str, str] | None = None,
    title: str = "",
) -> dict:
    """Clean one partition with `clean.clean_tables` (the rows keep their file and row number) and
    write its stations and quarantine (Parquet, each sorted as the in-memory clean sorts them: by
    station id, by source row); return its summary. `columns`: the OpenCelliD columns the file has, in
    its order (default all, in the export's order); `names`: its header's names of them; `title`: the
    text of the title lines above its header (as the in-memory reader gives them)."""
    part, out = Path(part), Path(out)
    frame = pd.read_parquet(part)
    frame = frame.astype(object).where(frame.notna(), None)
    frame["source_row"] = frame["source_row"].astype("int64")
    columns = list(columns or OPENCELLID_COLUMNS)
    frame = frame[[*columns, *(c for c in frame.columns if c not in OPENCELLID_COLUMNS)]]
    names = names if names is not None else {c: c for c in OPENCELLID_COLUMNS}
    table = RawTable(Path(source), frame, "opencellid", encoding, None, header_row, names, title, 0)
    city = resolve_city(city)
    result = clean_tables([table], city, as_of=as_of, gnb_id_bits=gnb_id_bits, file_info=[])
    stem = part.stem
    # (in small row groups: the main process reads every partition's at once, see PART_ROW_GROUP)
    result.table.to_parquet(out / f"{stem}.stations.parquet", index=False, row_group_size=PART_ROW_GROUP)
    result.quarantine.to_parquet(out / f"{stem}.quarantine.parquet", index=False, row_group_size=PART_ROW_GROUP)
    return result.summary


def _add_counts(total: dict, part: dict) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + value


def _check_scheduler(scheduler: str) -> None:
    if not (scheduler in LOCAL_SCHEDULERS or str(scheduler).startswith(("tcp://", "tls://", "inproc://"))):
        raise UsageError(
            f"scheduler must be one of {', '.join(LOCAL_SCHEDULERS)} or a tcp:// address, got {scheduler!r}"
        )


@contextlib.contextmanager
def _connected(client, scheduler: str) -> Iterator:
    """`client`, or a `dask.distributed.Client` of the scheduler at a `tcp://` address, connected before the
    file is split (an address that cannot be reached is said in one line without a pass over the file);
    None for a local scheduler."""
    if client is not None or not scheduler.startswith(("tcp://", "tls://", "inproc://")):
        yield client
        return
    from distributed import Client

    try:
        connected = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with connected:
        yield connected


def _compute(tasks: list, client, scheduler: str) -> list[dict]:
    """Run the partition tasks, one progress step per partition cleaned: on `client` (a
    `dask.distributed.Client`), or on a local Dask scheduler by name."""
    import dask  # only here and in the workers: the in-memory clean never needs it

    from analysis.progress import task

    with task("clean (partitioned)", len(tasks), "partition") as progress:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(tasks)
            for _ in as_completed(futures):
                progress.advance()
            return client.gather(futures)
        from dask.callbacks import Callback

        # only the partition cleans count as steps, not the graph's other keys
        names = {t.key for t in tasks}
        with Callback(posttask=lambda key, *_: progress.advance() if key in names else None):
            return list(dask.compute(*tasks, scheduler=scheduler))


def _gather_stations(paths: list[Path]) -> pd.DataFrame:
    """The partitions' stations as one table in station-id order (code points, as the in-memory clean
    sorts them), all in memory: only for a table whose points are not all finite (written by geopandas, as
    the in-memory clean writes it); `_merged_stations` otherwise."""
    frames = [pd.read_parquet(p) for p in paths]
    stations = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    del frames
    order = pc.array_sort_indices(pa.array(stations["station_id"].astype("str").array)).to_numpy()
    columns = {}
    for column in list(stations.columns):  # (one column at a time: only one is ever held twice)
        columns[column] = stations[column].take(order).reset_index(drop=True)
        stations = stations.drop(columns=column)
    return pd.DataFrame(columns, copy=False)


def _next_table(batches: Iterator) -> pa.Table | None:
    """The next non-empty batch of one partition's stations, None at its end."""
    for batch in batches:
        if batch.num_rows:
            return pa.Table.from_batches([batch])
    return None


def _merged_stations(paths: list[Path], batch_rows: int) -> Iterator[pa.Table]:
    """The partitions' stations (each file in station-id order) merged in station-id order (code points, as
    the in-memory clean sorts them; a tie in partition order), a piece at a time: `batch_rows` of each
    partition held at most, and rows given up to the smallest last id any unfinished partition holds."""
    batches = [pq.ParquetFile(p, pre_buffer=False).iter_batches(batch_size=batch_rows) for p in paths]
    held = [_next_table(b) for b in batches]
    while any(h is not None for h in held):
        bound = min(h["station_id"][-1].as_py() for h in held if h is not None)
        taken = []
        for i, h in enumerate(held):
            if h is None:
                continue
            upto = pc.sum(pc.less_equal(h["station_id"], bound)).as_py() or 0  # (a prefix: the ids are sorted)
            taken.append(h.slice(0, upto))
            held[i] = h.slice(upto) if upto < h.num_rows else _next_table(batches[i])
        piece = pa.concat_tables(taken)
        yield piece.take(pc.sort_indices(piece, sort_keys=[("station_id", "ascending")]))


def _row_groups(pieces: Iterator[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The pieces cut into tables of exactly `rows` rows (the last one the rest), each column one chunk (as
    the in-memory table's are: the writer then splits its pages at the same rows), made a column at a time
    (the pieces' column let go as it is copied: a row group is held once, not twice)."""
    buffer: list[pa.Table] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        del piece
        held += buffer[-1].num_rows
        while held >= rows:
            table = pa.concat_tables(buffer)
            taken = [table.slice(0, rows)]
            buffer = [table.slice(rows).combine_chunks()]
            del table
            held -= rows
            yield _one_chunk(taken)
    if held:
        taken = [pa.concat_tables(buffer)]
        del buffer
        yield _one_chunk(taken)


def _one_chunk(taken: list[pa.Table]) -> pa.Table:
    """The table in `taken` (taken from the list: no other reference kept) with each column in one chunk,
    copied a column at a time, each dropped from the table once copied."""
    table = taken.pop()
    names, columns = table.column_names, []
    for name in names:
        columns.append(table.column(name).combine_chunks())
        table = table.drop_columns([name])
    return pa.table(columns, names=names)


def _as_frame(table: pa.Table) -> pd.DataFrame:
    """Stations as `pd.read_parquet` reads them (text columns pandas' Arrow strings)."""
    return table.to_pandas(types_mapper=parse.AS_STR)


def _station_bounds(paths: list[Path]) -> tuple[float, float, float, float] | None:
    """(lon min, lon max, lat min, lat max) of the partitions' stations, read a batch at a time; None when a
    point is not finite or the table has attributes (then it is written by geopandas, as in memory)."""
    lo = [np.inf, -np.inf, np.inf, -np.inf]
    for p in paths:
        file = pq.ParquetFile(p)
        if b"PANDAS_ATTRS" in (file.schema_arrow.metadata or {}):
            return None
        for batch in file.iter_batches(batch_size=1 << 18, columns=["lon", "lat"]):
            lon, lat = (batch.column(c).to_numpy(zero_copy_only=False).astype(float) for c in ("lon", "lat"))
            if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
                return None
            lo = [min(lo[0], lon.min()), max(lo[1], lon.max()), min(lo[2], lat.min()), max(lo[3], lat.max())]
    return tuple(lo)


def _write_stations(paths: list[Path], out: Path, scratch: Path) -> None:
    """stations.parquet and source_matches.csv from the partitions' stations, the in-memory clean's bytes: the
    partitions merged in station-id order (`_merged_stations`) and written a row group at a time, each row
    group's source-ledger rows after it, so that the main process holds one row group of stations (as
    Arrow and as a frame), not the whole table. `scratch`: a folder for each row group's ledger rows."""
    paths = [p for p in paths if pq.ParquetFile(p).metadata.num_rows]  # (nor an empty partition's dtypes)
    bounds = _station_bounds(paths)
    if bounds is None:
        stations = _gather_stations(paths)
        write_csv(build_source_ledger(stations), out / "source_matches.csv")
        write_stations(stations, out / "stations.parquet")
        return
    pieces = _merged_stations(paths, max(256, STATION_MERGE_ROWS // max(len(paths), 1)))
    tables = _row_groups(pieces, station_table.STATION_ROW_GROUP)

    def write_ledger(tmp: Path) -> None:
        piece = scratch / "source-ledger-rows.csv"
        with open(tmp, "wb") as fh:

            def ledger_after(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
                for k, table in enumerate(tables):
                    frame = _as_frame(table.select(LEDGER_COLUMNS))
                    yield table
                    del table
                    # (formatted by `files.write_csv` as the whole ledger is; the header once, after a BOM)
                    write_csv(build_source_ledger(frame), piece, bom=k == 0)
                    del frame  # (its texts are the row group's: not held while the next one is made)
                    with open(piece, "rb") as rows:
                        if k:
                            rows.readline()
                        shutil.copyfileobj(rows, fh)

            write_station_row_groups(ledger_after(tables), bounds, out / "stations.parquet")

    write_atomic(out / "source_matches.csv", write_ledger)


def _next_batch(batches: Iterator, columns: list[str]) -> pd.DataFrame | None:
    """The next non-empty batch of one partition's quarantine with the gathered columns, None at its end."""
    for batch in batches:
        if batch.num_rows:
            return batch.to_pandas().reindex(columns=columns)
    return None


def _merge_quarantines(paths: list[Path], target: Path, scratch: Path) -> None:
    """The partitions' quarantines (each in source-row order) merged into one CSV in source-row order, as
    the in-memory clean writes it (`files.write_csv`'s bytes: pandas' CSV after a BOM), a few batches of
    each in memory at a time: rows are written up to the smallest last row any unfinished partition holds.
    `scratch`: a folder for each batch's formatted rows (the run's own, removed with it)."""
    files = [pq.ParquetFile(p, pre_buffer=False) for p in paths]
    # (the partitions' columns agree; one without a column shown only where filled lacks it)
    columns = max((f.schema_arrow.names for f in files), key=len)
    batch_rows = max(256, MERGE_ROWS // max(len(files), 1))
    batches = [f.iter_batches(batch_size=batch_rows) for f in files]
    held = [_next_batch(b, columns) for b in batches]

    def write(tmp: Path) -> None:
        piece = scratch / "quarantine-rows.csv"
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(columns)
        with open(tmp, "ab") as fh:
            while any(h is not None for h in held):
                bound = min(int(h["source_row"].iloc[-1]) for h in held if h is not None)
                taken = []
                for i, h in enumerate(held):
                    if h is None:
                        continue
                    upto = int(np.searchsorted(h["source_row"].to_numpy(), bound, side="right"))
                    taken.append(h.iloc[:upto])
                    held[i] = h.iloc[upto:] if upto < len(h) else _next_batch(batches[i], columns)
                chunk = pd.concat(taken, ignore_index=True).sort_values("source_row", kind="stable")
                # (formatted by `files.write_csv`, as the in-memory quarantine is: pyarrow, not pandas' ~4 s a
                # million rows; its header line left out)
                write_csv(chunk, piece, bom=False)
                with open(piece, "rb") as rows:
                    rows.readline()
                    shutil.copyfileobj(rows, fh)

    write_atomic(target, write)


def _sum_counts(summaries: list[dict], key: str) -> dict[str, int]:
    total: dict = {}
    for s in summaries:
        _add_counts(total, s[key])
    return dict(sorted(total.items()))


def _sum_notes(summaries: list[dict]) -> dict:
    """The partitions' notes as one run's: counts added, counts by word added, in the first one's order."""
    notes: dict = {}
    for s in summaries:
        for key, value in s["notes"].items():
            if isinstance(value, dict):
                _add_counts(notes.setdefault(key, {}), value)
            elif isinstance(value, int) and not isinstance(value, bool):
                notes[key] = notes.get(key, 0) + value
            else:
                notes.setdefault(key, value)
    return notes


def _sum_station_counts(summaries: list[dict]) -> dict:
    """The partitions' counts of their stations (`ledger.station_counts`) as the whole table's."""
    return {
        "stations": int(sum(s["stations"] for s in summaries)),
        "stations_on_air": int(sum(s["stations_on_air"] for s in summaries)),
        **{k: _sum_counts(summaries, k) for k in STATION_COUNTS[2:]},
    }


def _summarize(summaries: list[dict], stations: dict, split: dict, context: dict) -> dict:
    """The summary the in-memory clean writes (`ledger.compose_summary`, as `ledger.summarize` makes it), from
    the partitions' counts, their stations' counts among them (`_sum_station_counts`)."""
    rows = {k: int(sum(s[k] for s in summaries)) for k in ("rows_in", "rows_kept", "rows_merged", "rows_quarantined")}
    summary = compose_summary(
        rows,
        _sum_counts(summaries, "quarantined_by_reason"),
        _sum_counts(summaries, "merged_by_reason"),
        stations,
        {
            **context,
            "notes": _sum_notes(summaries),
            "parameters": summaries[0]["parameters"],
            "files": [context["file"]],
            "failed_files": [],
        },
    )
    if summary["rows_in"] != split["rows"]:
        raise BadInputError(
            f"rows lost between partitions: {split['rows']} read, {summary['rows_in']} cleaned", split["file"]
        )
    return summary


def _file_info(split: dict) -> dict:
    """The export's entry in the summary's files, as the in-memory reader writes it."""
    info = {
        "file": project_relative(split["source"]),
        "sheet": None,
        "kind": "opencellid",
        "encoding": split["encoding"],
        "header_row": split["header_row"],
        "rows": split["rows"],
        "columns": split["names"],
        "columns_not_read": [],
        "trailing_empty_rows_ignored": split["trailing_empty_rows_ignored"],
        "sha256": sha256_of(split["file"]),
    }
    if split["notes"]:
        info["notes"] = list(split["notes"])
    return info


def clean_partitioned(
    path: str | Path,
    city: str | City | Path,
    out: str | Path,
    as_of=None,
    gnb_id_bits: str | int | dict | None = None,
    rows_per_partition: int | None = None,
    client=None,
    scheduler: str = "processes",
    keep_partitions: bool = False,
) -> dict:
    """Clean an OpenCelliD export of any size (CSV, plain or .gz or .zip) into `out`: stations.parquet,
    quarantine.csv, source_matches.csv and clean_summary.json, the same bytes as `clean.clean_to_folder`
    writes, in bounded memory. Returns the summary written, plus the number of `partitions`.

    The file is split on disk (`out/_partitions`) into partitions of about `rows_per_partition` rows (one
    pass, a block at a time), then each partition is cleaned as a Dask task: on `client` (a
    `dask.distributed.Client`, local or connected to a cluster whose workers see `path` and `out`)
    or, without one, on `scheduler`: a local one ("processes", "threads" or "synchronous") or the
    `tcp://host:port` address of a dask.distributed scheduler. Peak memory: the splitter's block, per
    worker one partition's clean, and at the end one row group of stations.parquet (up to 2^20 stations,
    ~0.6 GB as Arrow) with a batch of each partition's stations: neither the cells nor the stations of the
    whole file are ever held together. `out/_partitions` is removed at the end, also when the run fails or
    is interrupted (SIGTERM: see `cli`); outputs of an earlier run are replaced only by a run that succeeds.
    """
    path, out = Path(path), Path(out)
    if path.is_dir():
        raise BadInputError("is a folder: --partitioned cleans one OpenCelliD export file; give the file", path)
    if not path.is_file():
        raise BadInputError("no such file", path)
    if client is None:
        _check_scheduler(scheduler)
    city_ref = resolve_city(city)
    as_of_text = (pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(dt.date.today())).strftime("%Y-%m-%d")
    work, made_out = out / "_partitions", not out.exists()
    try:
        shutil.rmtree(work, ignore_errors=True)
        with _connected(client, scheduler) as client:
            split = split_opencellid(path, work / "in", rows_per_partition or ROWS_PER_PARTITION, gnb_id_bits)
            summary = _clean_parts(split, work, out, city_ref, as_of_text, gnb_id_bits, client, scheduler)
    finally:
        if not keep_partitions:
            shutil.rmtree(work, ignore_errors=True)
            if made_out and out.is_dir() and not any(out.iterdir()):
                out.rmdir()  # (a run that failed leaves no empty folder it made)
    return {**summary, "partitions": split["partitions"]}


def _clean_parts(
    split: dict, work: Path, out: Path, city: City, as_of_text: str, gnb_id_bits, client, scheduler: str
) -> dict:
    """Clean the partitions of `split` as Dask tasks, gather their outputs into `out`, write the summary."""
    import dask

    (work / "out").mkdir(parents=True, exist_ok=True)
    parts = sorted((work / "in").glob("part-*.parquet"))
    city_arg = city.folder  # a path pickles small and loads on any worker that sees it
    tasks = [
        dask.delayed(clean_partition)(
            p,
            split["source"],
            city_arg,
            work / "out",
            as_of_text,
            gnb_id_bits,
            split["encoding"],
            split["header_row"],
            split["columns"],
            split["names"],
            split["title"],
        )
        for p in parts
    ]
    summaries = _compute(tasks, client, scheduler)
    counts = _sum_station_counts(summaries)
    if not counts["stations"]:
        # (as the in-memory clean: outputs of an earlier run stay; an empty table would read as "no stations")
        reasons = ", ".join(f"{k} {v}" for k, v in _sum_counts(summaries, "quarantined_by_reason").items())
        summary_rows = sum(s["rows_in"] for s in summaries)
        raise BadInputError(f"no station kept from {summary_rows} rows ({reasons or 'none'}); nothing written to {out}")
    context = {"city": city.key, "as_of": as_of_text, "file": _file_info(split)}
    summary = _summarize(summaries, counts, split, context)
    _write_stations([work / "out" / f"{p.stem}.stations.parquet" for p in parts], out, work / "out")
    _merge_quarantines(
        [work / "out" / f"{p.stem}.quarantine.parquet" for p in parts], out / "quarantine.csv", work / "out"
    )
    write_json(summary, out / "clean_summary.json")
    return summary
