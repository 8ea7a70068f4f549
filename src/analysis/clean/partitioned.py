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
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.clean import parse
from analysis.clean.sources import OPENCELLID_COLUMNS, RawTable, decode_text
from analysis.clean.stations import MNC_OPERATOR, clean_tables, parse_gnb_id_bits
from analysis.config import City, resolve_city
from analysis.errors import BadInputError, UsageError
from analysis.files import project_relative, sha256_of, write_json

#: Cell rows per partition: what one worker holds at a time (see BENCHMARKS.md for its peak memory).
ROWS_PER_PARTITION = 500_000
#: Dask's local schedulers (any other scheduler is a `tcp://` address of a dask.distributed cluster).
LOCAL_SCHEDULERS = ("processes", "threads", "synchronous")
#: Rows read from the file at a time while splitting it.
CHUNK_ROWS = 500_000


def _header(path: Path) -> tuple[bool, str]:
    """Whether the file's first line is the OpenCelliD header (else it has none), and its encoding."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    text, encoding = decode_text(head.split(b"\n", 1)[0], path)
    cells = next(csv.reader([text]))
    if [c.strip().lower() for c in cells] == [c.lower() for c in OPENCELLID_COLUMNS]:
        return True, encoding
    first = [c.strip().upper() for c in cells]
    if len(first) == len(OPENCELLID_COLUMNS) and first[0] in ("GSM", "UMTS", "LTE", "NR", "CDMA"):
        return False, encoding
    raise UsageError(
        f"{path}: partitioned cleaning reads OpenCelliD exports only "
        f"(columns {','.join(OPENCELLID_COLUMNS)}); clean operator and tower-company reports "
        "without --partitioned (`clean_stations`; in memory a national operator file of 4.25 M rows takes ~2.3 GB)"
    )


def _partition_of(chunk: pd.DataFrame, row0: int, n_parts: int, gnb_bits: dict[str, int]) -> np.ndarray:
    """The partition of each row: by a hash of its gNB for usable NR cells, else round-robin."""
    radio = parse.normalize_text(pd.Series(chunk["radio"], dtype=object)).str.upper()
    mcc = pd.to_numeric(chunk["mcc"], errors="coerce")
    net = pd.to_numeric(chunk["net"], errors="coerce")
    nci = pd.to_numeric(chunk["cell"], errors="coerce")
    ok = ((radio == "NR").fillna(False) & mcc.notna() & net.notna() & nci.notna() & (nci >= 0)).to_numpy()
    operator = pd.Series(np.where(mcc == 460, net.map(MNC_OPERATOR), None), index=chunk.index).fillna("unknown")
    bits = operator.map(lambda op: gnb_bits.get(op, gnb_bits["*"])).to_numpy(dtype=np.int64)
    gnb = np.right_shift(nci.fillna(0).to_numpy(dtype=np.float64).astype(np.int64), 36 - bits)
    key = pd.DataFrame({"mcc": mcc.fillna(-1).to_numpy(np.int64), "net": net.fillna(-1).to_numpy(np.int64), "gnb": gnb})
    hashed = pd.util.hash_pandas_object(key, index=False).to_numpy()
    part = (hashed % np.uint64(n_parts)).astype(np.int64)
    rr = (np.arange(row0, row0 + len(chunk)) % n_parts).astype(np.int64)
    return np.where(ok, part, rr)


def split_opencellid(
    path: str | Path,
    folder: str | Path,
    rows_per_partition: int = ROWS_PER_PARTITION,
    gnb_id_bits: str | int | dict | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Split one OpenCelliD export into Parquet partitions in `folder` (text columns as in the file,
    plus `source_row`, the row's number in the whole file), reading `chunk_rows` at a time.
    Returns what `clean_partition` needs to know about the file."""
    path, folder = Path(path), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    has_header, encoding = _header(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        sample = fh.read(1 << 20)
    est_rows = max(1, int(size / max(len(sample) / max(sample.count(b"\n"), 1), 1)))
    n_parts = max(1, -(-est_rows // rows_per_partition))
    gnb_bits = parse_gnb_id_bits(gnb_id_bits)
    schema = pa.schema([(c, pa.string()) for c in OPENCELLID_COLUMNS] + [("source_row", pa.int64())])
    writers = [pq.ParquetWriter(folder / f"part-{i:05d}.parquet", schema, compression="zstd") for i in range(n_parts)]
    reader = pd.read_csv(
        path,
        header=0 if has_header else None,
        names=None if has_header else list(OPENCELLID_COLUMNS),
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        chunksize=chunk_rows,
        encoding=encoding,
        quoting=csv.QUOTE_MINIMAL,
    )
    row0 = 0
    pending = None  # blank rows at a chunk's end: records' gaps, or the file's trailing formatting

    def write(frame: pd.DataFrame) -> None:
        nonlocal row0
        frame = frame.reindex(columns=list(OPENCELLID_COLUMNS)).replace("", None)
        frame["source_row"] = np.arange(row0 + 1, row0 + len(frame) + 1, dtype=np.int64)
        part = _partition_of(frame, row0, n_parts, gnb_bits)
        for i in np.unique(part):
            table = pa.Table.from_pandas(frame[part == i], schema=schema, preserve_index=False)
            writers[i].write_table(table)
        row0 += len(frame)

    from analysis.progress import track

    try:
        for chunk in track(reader, "split into partitions", total=-(-est_rows // chunk_rows), unit="chunk"):
            chunk.columns = [str(c).strip() for c in chunk.columns]
            if pending is not None:
                chunk = pd.concat([pending, chunk], ignore_index=True)
            blank = (chunk.fillna("") == "").all(axis=1).to_numpy()
            last = int(np.flatnonzero(~blank)[-1]) + 1 if (~blank).any() else 0
            pending = chunk.iloc[last:]
            if last:
                write(chunk.iloc[:last])
    finally:
        for w in writers:
            w.close()
    return {
        "file": path,
        "encoding": encoding,
        "header_row": 1 if has_header else 0,
        "partitions": n_parts,
        "rows": row0,
        "trailing_empty_rows_ignored": 0 if pending is None else len(pending),
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
) -> dict:
    """Clean one partition with `clean.clean_tables` (the rows keep their file and row number) and
    write its stations (Parquet), quarantine (CSV without header) and source matches; return its
    summary."""
    part, out = Path(part), Path(out)
    frame = pd.read_parquet(part)
    frame = frame.astype(object).where(frame.notna(), None)
    frame["source_row"] = frame["source_row"].astype("int64")
    table = RawTable(
        Path(source), frame, "opencellid", encoding, None, header_row, {c: c for c in OPENCELLID_COLUMNS}, "", 0
    )
    city = resolve_city(city)
    result = clean_tables([table], city, as_of=as_of, gnb_id_bits=gnb_id_bits, file_info=[])
    stem = part.stem
    result.stations.to_parquet(out / f"{stem}.stations.parquet", index=False, write_covering_bbox=False)
    result.quarantine.to_csv(
        out / f"{stem}.quarantine.csv",
        index=False,
        header=False,
        encoding="utf-8",
        date_format="%Y-%m-%d",
        lineterminator="\n",
    )
    result.source_matches.to_parquet(out / f"{stem}.matches.parquet", index=False)
    return {**result.summary, "quarantine_columns": list(result.quarantine.columns)}


def _add_counts(total: dict, part: dict) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + value


def _check_scheduler(scheduler: str) -> None:
    if not (scheduler in LOCAL_SCHEDULERS or str(scheduler).startswith(("tcp://", "tls://", "inproc://"))):
        raise UsageError(
            f"scheduler must be one of {', '.join(LOCAL_SCHEDULERS)} or a tcp:// address, got {scheduler!r}"
        )


def _compute(tasks: list, client, scheduler: str) -> list[dict]:
    """Run the partition tasks, one progress step per partition cleaned: on `client`, on a
    `dask.distributed` scheduler at a `tcp://` address, or on a local Dask scheduler by name."""
    import dask  # only here and in the workers: the in-memory clean never needs it

    from analysis.progress import task

    if client is None and scheduler.startswith(("tcp://", "tls://", "inproc://")):
        from distributed import Client

        try:
            with Client(scheduler, timeout="10s") as connected:
                return _compute(tasks, connected, "distributed")
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
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


def _gather_outputs(parts: list[Path], done: Path, out: Path, columns: list[str]) -> None:
    """Put the partitions' stations, quarantine and source ledger together, one partition in memory
    at a time."""
    stations_path = out / "stations.parquet"
    writer = None
    for p in parts:
        t = pq.read_table(done / f"{p.stem}.stations.parquet")
        if writer is None:
            writer = pq.ParquetWriter(stations_path, t.schema, compression="zstd")
        writer.write_table(t.cast(writer.schema))
    if writer is not None:
        writer.close()
    with open(out / "quarantine.csv", "w", encoding="utf-8-sig", newline="") as fh:
        fh.write(",".join(columns) + "\n")
        for p in parts:
            with open(done / f"{p.stem}.quarantine.csv", encoding="utf-8") as part_fh:
                shutil.copyfileobj(part_fh, fh)
    # the source ledger a partition at a time too (each sorted by station_id, as the stations)
    with open(out / "source_matches.csv", "w", encoding="utf-8-sig", newline="") as fh:
        for i, p in enumerate(parts):
            pd.read_parquet(done / f"{p.stem}.matches.parquet").to_csv(
                fh, index=False, header=i == 0, date_format="%Y-%m-%d", lineterminator="\n"
            )


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
    """Clean an OpenCelliD export of any size into `out` (stations.parquet, quarantine.csv,
    source_matches.csv, clean_summary.json, as `clean.clean_to_folder`), in bounded memory.

    The file is split on disk into partitions of about `rows_per_partition` rows (one pass, a chunk
    at a time), then each partition is cleaned as a Dask task: on `client` (a
    `dask.distributed.Client`, local or connected to a cluster whose workers see `path` and `out`)
    or, without one, on `scheduler`: a local one ("processes", "threads" or "synchronous") or the
    `tcp://host:port` address of a dask.distributed scheduler. Peak memory is the splitter's chunk plus, per
    worker, one partition's clean. The stations are sorted by station_id within each partition
    (not across), as is source_matches.csv; the quarantine is in partition order, sorted by source
    row within each.
    """
    import dask

    path, out = Path(path), Path(out)
    if path.is_dir():
        raise BadInputError("is a folder: --partitioned cleans one OpenCelliD export file; give the file", path)
    if not path.is_file():
        raise BadInputError("no such file", path)
    if client is None:
        _check_scheduler(scheduler)
    city_ref = resolve_city(city)
    as_of_text = (pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(dt.date.today())).strftime("%Y-%m-%d")
    work = out / "_partitions"
    shutil.rmtree(work, ignore_errors=True)
    split = split_opencellid(path, work / "in", rows_per_partition or ROWS_PER_PARTITION, gnb_id_bits)
    (work / "out").mkdir(parents=True, exist_ok=True)
    parts = sorted((work / "in").glob("part-*.parquet"))
    city_arg = city_ref.folder  # a path pickles small and loads on any worker that sees it
    tasks = [
        dask.delayed(clean_partition)(
            p, split["file"], city_arg, work / "out", as_of_text, gnb_id_bits, split["encoding"], split["header_row"]
        )
        for p in parts
    ]
    summaries = _compute(tasks, client, scheduler)

    _gather_outputs(parts, work / "out", out, summaries[0]["quarantine_columns"] if summaries else [])

    summary = {"city": city_ref.key, "as_of": as_of_text, "partitions": len(parts)}
    counts = ("rows_in", "rows_kept", "rows_merged", "rows_quarantined", "stations", "stations_on_air")
    for key in counts:
        summary[key] = int(sum(s[key] for s in summaries))
    for key in (
        "stations_by_operator",
        "stations_by_district",
        "stations_by_status",
        "quarantined_by_reason",
        "merged_by_reason",
    ):
        total: dict = {}
        for s in summaries:
            _add_counts(total, s[key])
        summary[key] = dict(sorted(total.items()))
    summary["trailing_empty_rows_ignored"] = split["trailing_empty_rows_ignored"]
    summary["files"] = [
        {
            "file": project_relative(path),
            "kind": "opencellid",
            "encoding": split["encoding"],
            "header_row": split["header_row"],
            "rows": split["rows"],
            "sha256": sha256_of(path),
            "trailing_empty_rows_ignored": split["trailing_empty_rows_ignored"],
        }
    ]
    summary["parameters"] = summaries[0]["parameters"] if summaries else {}
    summary["reason_meanings"] = {k: v for part in summaries for k, v in part["reason_meanings"].items()}
    summary["note"] = (
        "cleaned in partitions by gNB (analysis.clean.partitioned): exact for OpenCelliD exports; "
        "stations sorted within each partition, quarantine in partition order"
    )
    if (
        not summary["rows_in"]
        == split["rows"]
        == (summary["rows_kept"] + summary["rows_merged"] + summary["rows_quarantined"])
    ):
        raise BadInputError(
            f"rows lost between partitions: {split['rows']} read, {summary['rows_in']} cleaned "
            f"({summary['rows_kept']} kept + {summary['rows_merged']} merged + "
            f"{summary['rows_quarantined']} quarantined)",
            path,
        )
    write_json(summary, out / "clean_summary.json")
    if not keep_partitions:
        shutil.rmtree(work, ignore_errors=True)
    return summary
