"""Partitioned cleaning of OpenCelliD exports gives what the in-memory clean gives."""

import filecmp
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synth
from analysis.clean.partitioned import clean_partitioned, split_opencellid
from analysis.clean.stations import clean_to_folder
from analysis.config import load_city
from analysis.errors import UsageError

AS_OF = "2025-01-01"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """1,500 stations' NR cells around Karamay (its four districts) plus LTE rows, and a trailing blank line."""
    folder = tmp_path_factory.mktemp("ocid")
    [path] = synth.write_national(folder, 1500, fmt="opencellid")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(1)
    df["lon"] = (84.9 + rng.normal(0, 0.05, len(df))).round(6).astype(str)
    df["lat"] = (45.58 + rng.normal(0, 0.05, len(df))).round(6).astype(str)
    df.loc[df.index[::97], "cell"] = "not-a-number"
    df.to_csv(path, index=False, lineterminator="\n")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n")
    return path


def _same_bytes(a, b) -> list[str]:
    """The files of folder `a` that folder `b` does not hold byte for byte (and any file only one holds)."""
    names = sorted(p.name for p in a.iterdir()) + sorted(p.name for p in b.iterdir())
    return sorted(
        {n for n in names if not ((a / n).is_file() and (b / n).is_file() and filecmp.cmp(a / n, b / n, False))}
    )


def test_partitions_write_the_in_memory_clean_byte_for_byte(export, tmp_path, monkeypatch):
    """Above one partition the stations are in station-id order, the quarantine in row order, the source
    ledger as the stations, and the summary the in-memory one (package version, notes, columns, failed files)."""
    from analysis.clean import partitioned

    monkeypatch.setattr(partitioned, "MERGE_ROWS", 1)  # the quarantines merged a few hundred rows at a time
    city = load_city("karamay")
    clean_to_folder(export, city, tmp_path / "mem", as_of=AS_OF)
    s = clean_partitioned(export, city, tmp_path / "part", as_of=AS_OF, rows_per_partition=700, scheduler="synchronous")
    assert s["partitions"] >= 4
    assert sorted(p.name for p in (tmp_path / "part").iterdir()) == [
        "clean_summary.json",
        "quarantine.csv",
        "source_matches.csv",
        "stations.parquet",
    ]
    assert _same_bytes(tmp_path / "mem", tmp_path / "part") == []
    summary = json.loads((tmp_path / "part" / "clean_summary.json").read_text(encoding="utf-8"))
    assert {"package_version", "notes", "failed_files"} <= set(summary) and "partitions" not in summary
    assert summary["rows_in"] == summary["rows_kept"] + summary["rows_merged"] + summary["rows_quarantined"]


def _hostile_cells(header: str, line: str) -> list[str]:
    """Copies of an NR cell's `line` (of the export's `header`), each made hostile one way."""
    names = header.split(",")

    def edited(**values) -> str:
        fields = dict(zip(names, line.split(",")))
        return ",".join(str(values.get(k, v)) for k, v in fields.items())

    nci = int(dict(zip(names, line.split(",")))["cell"])
    return [
        edited(cell="99999999999999999999"),
        edited(cell=(1 << 36) + 5),
        edited(mcc=310),
        edited(lon="inf"),
        edited(cell=nci + 1, created=0),
        edited(cell=nci + 2, created=1262304000),
        edited(radio="=cmd|' /C calc'!A0"),
    ]


def _messy(export, tmp_path, name: str, edit) -> Path:
    """The export with lines edited by `edit(lines) -> lines`, written as `name`."""
    lines = export.read_text(encoding="utf-8").splitlines()
    path = tmp_path / name
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize(
    "name, edit",
    [
        # a row of 15 fields, one of 13, a blank line amid the records: kept as the in-memory reader keeps them
        ("ragged.csv", lambda ls: ls[:300] + [ls[300] + ",EXTRA", ls[301].rsplit(",", 1)[0], ""] + ls[302:]),
        # a quoted cell spanning lines, CRLF line ends, and a quote left open: read line by line, in blocks
        (
            "quoted.csv",
            lambda ls: [
                x + "\r"
                for x in ls[:200] + [ls[200].replace(",,", ',"a\nnote",', 1), ls[201].replace(",", ',"', 1)] + ls[202:]
            ],
        ),
        # hostile cells: an NCI beyond int64 and one beyond 36 bits, another country's MCC, an infinite
        # longitude, a gNB's cells dated 0 (the epoch) and 2010 beside its dated ones, a formula as the radio
        ("hostile.csv", lambda ls: ls[:400] + _hostile_cells(ls[0], ls[400]) + ls[400:]),
        # lines repeated word for word far from their first (another partition's rows between), one twice
        ("repeated.csv", lambda ls: ls[:-1] + ls[10:20] + ls[700:703] + [ls[10]]),
    ],
)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # (an NCI beyond int64 was cast, with numpy's warning)
def test_messy_lines_are_read_as_the_in_memory_clean_reads_them(export, tmp_path, monkeypatch, name, edit):
    from analysis.clean import partitioned

    path = _messy(export, tmp_path, name, edit)
    monkeypatch.setattr(partitioned, "BLOCK_CHARS", 20_000)  # records read across block boundaries
    clean_to_folder(path, "karamay", tmp_path / "mem", as_of=AS_OF)
    s = clean_partitioned(path, "karamay", tmp_path / "part", as_of=AS_OF, rows_per_partition=900, scheduler="threads")
    assert s["partitions"] >= 3
    assert _same_bytes(tmp_path / "mem", tmp_path / "part") == []


def test_gzip_and_zip_exports_are_streamed(export, tmp_path, monkeypatch):
    """cell_towers.csv.gz (as OpenCelliD serves it) and a zip of the CSV: read as they stream, never
    decompressed whole, with the outputs of the in-memory clean of the same archive."""
    import gzip
    import zipfile

    gz, zp = tmp_path / "cell_towers.csv.gz", tmp_path / "cell_towers.zip"
    gz.write_bytes(gzip.compress(export.read_bytes()))
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(export, "cell_towers.csv")
        archive.writestr("LICENSE", "CC-BY-SA 4.0")
    for archive in (gz, zp):
        clean_to_folder(archive, "karamay", tmp_path / f"mem_{archive.suffix}", as_of=AS_OF)
    monkeypatch.setattr(gzip, "decompress", lambda *a, **k: pytest.fail("decompressed whole"))
    for archive in (gz, zp):
        out = tmp_path / f"part_{archive.suffix}"
        s = clean_partitioned(archive, "karamay", out, as_of=AS_OF, rows_per_partition=1500, scheduler="synchronous")
        assert s["partitions"] >= 2
        assert _same_bytes(tmp_path / f"mem_{archive.suffix}", out) == []


def test_a_workbook_is_refused_in_one_line_saying_what_to_do(tmp_path, capsys):
    from openpyxl import Workbook

    from analysis import cli

    book = Workbook()
    book.active.append(["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat"])
    book.save(tmp_path / "cells.xlsx")
    argv = ["clean", "--input", str(tmp_path / "cells.xlsx"), "--city", "karamay", "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--partitioned"]) == 2
    err = capsys.readouterr().err
    assert "partitioned cleaning reads CSV" in err and "without --partitioned" in err
    assert "UTF-8, GBK" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def _earlier_outputs(out) -> dict:
    out.mkdir()
    (out / "stations.parquet").write_bytes(b"earlier run")
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_a_failed_run_leaves_no_partitions_and_the_earlier_outputs(tmp_path):
    [operator] = synth.write_national(tmp_path, 10, fmt="operator")
    out = tmp_path / "out"
    before = _earlier_outputs(out)
    with pytest.raises(UsageError):
        clean_partitioned(operator, "karamay", out, as_of=AS_OF)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_interrupted_run_leaves_no_partitions(export, tmp_path, monkeypatch):
    """SIGTERM reaches a run as KeyboardInterrupt (see `cli`): the partitions, a copy of the data, go."""
    from analysis.clean import partitioned

    def interrupted(*_):
        assert (tmp_path / "out" / "_partitions" / "in").is_dir()  # (the split was there)
        raise KeyboardInterrupt

    monkeypatch.setattr(partitioned, "_compute", interrupted)
    before = _earlier_outputs(tmp_path / "out")
    with pytest.raises(KeyboardInterrupt):
        clean_partitioned(export, "karamay", tmp_path / "out", as_of=AS_OF, scheduler="synchronous")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_split_keeps_every_cell_of_a_gnb_together(export, tmp_path):
    split = split_opencellid(export, tmp_path, rows_per_partition=500)
    parts = [pd.read_parquet(p).assign(part=i) for i, p in enumerate(sorted(tmp_path.glob("part-*.parquet")))]
    df = pd.concat(parts)
    assert split["rows"] == len(df) == df["source_row"].max() and df["source_row"].is_unique
    assert split["trailing_empty_rows_ignored"] == 1
    nr = df[(df["radio"] == "NR") & df["cell"].str.isdigit()]
    key = (
        nr["net"]
        + "-"
        + pd.Series(np.right_shift(nr["cell"].astype("int64").to_numpy(), 12), index=nr.index).astype(str)
    )
    assert (nr.groupby(key)["part"].nunique() == 1).all()


def test_operator_reports_are_refused(tmp_path):
    [path] = synth.write_national(tmp_path, 10, fmt="operator")
    with pytest.raises(UsageError, match="OpenCelliD exports only.*without --partitioned"):
        clean_partitioned(path, "karamay", tmp_path / "out", as_of=AS_OF)


def test_cli_partitioned_writes_what_the_in_memory_clean_writes(export, tmp_path, monkeypatch, capsys):
    from analysis import cli
    from analysis.clean import partitioned

    monkeypatch.setattr(partitioned, "ROWS_PER_PARTITION", 700)  # several partitions from a small file
    monkeypatch.setenv("FIVEG_PROGRESS", "lines")
    base = ["clean", "--input", str(export), "--city", "karamay", "--as-of", AS_OF]
    assert cli.main(base + ["--out", str(tmp_path / "mem")]) == 0
    assert cli.main(base + ["--out", str(tmp_path / "part"), "--partitioned", "--scheduler", "synchronous"]) == 0
    captured = capsys.readouterr()
    assert "partitions:" in captured.out and "clean (partitioned): 1/" in captured.err  # one line per partition
    assert "split into partitions: 1/1 chunks" in captured.err
    partitions = int(captured.out.split(" partitions:")[0].rsplit(" ", 1)[1])
    assert partitions > 3
    assert _same_bytes(tmp_path / "mem", tmp_path / "part") == []
    monkeypatch.setattr(partitioned, "ROWS_PER_PARTITION", 10**6)  # one partition: said so ("1 partitions")
    assert cli.main(base + ["--out", str(tmp_path / "one"), "--partitioned", "--scheduler", "synchronous"]) == 0
    assert " in 1 partition: " in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--scheduler", "threads"], "--scheduler is for --partitioned"),
        (["--partitioned", "--scheduler", "gpu"], "scheduler must be one of"),
        (["--partitioned", "--input-crs", "gcj02"], "OpenCelliD exports are WGS-84"),
        (["--rows-per-partition", "5000"], "--rows-per-partition is for --partitioned"),
        (["--partitioned", "--rows-per-partition", "10"], "not a number of rows >= 1000"),
    ],
)
def test_cli_partitioned_usage_mistakes_are_one_line(export, tmp_path, capsys, extra, message):
    from analysis import cli

    argv = ["clean", "--input", str(export), "--city", "karamay", "--out", str(tmp_path / "o"), *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_partitioned_takes_one_file(export, tmp_path, capsys):
    from analysis import cli

    argv = [
        "clean",
        "--input",
        str(export),
        str(export),
        "--city",
        "karamay",
        "--out",
        str(tmp_path / "o"),
        "--partitioned",
    ]
    assert cli.main(argv) == 2
    assert "one file" in capsys.readouterr().err


def test_cli_partitioned_missing_file_is_bad_input(tmp_path, capsys):
    from analysis import cli

    argv = [
        "clean",
        "--input",
        str(tmp_path / "none.csv"),
        "--city",
        "karamay",
        "--out",
        str(tmp_path / "o"),
        "--partitioned",
    ]
    assert cli.main(argv) == 1
    assert "no such file" in capsys.readouterr().err


def test_cli_partitioned_folder_is_named_a_folder(tmp_path, capsys):
    """A folder given to --partitioned (which takes one export file) is named as a folder, not as
    a missing file: the user sees what to change."""
    from analysis import cli

    folder = tmp_path / "exports"
    folder.mkdir()
    argv = ["clean", "--input", str(folder), "--city", "karamay", "--out", str(tmp_path / "o"), "--partitioned"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "is a folder" in err and "no such file" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_unreachable_scheduler_is_said_before_the_file_is_split(export, tmp_path, monkeypatch):
    import distributed

    from analysis.clean import partitioned

    def refused(address, timeout=None):
        raise OSError(f"Timed out trying to connect to {address} after {timeout}")

    monkeypatch.setattr(distributed, "Client", refused)
    monkeypatch.setattr(partitioned, "split_opencellid", lambda *a, **k: pytest.fail("split before connecting"))
    with pytest.raises(UsageError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        clean_partitioned(export, "karamay", tmp_path / "out", as_of=AS_OF, scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "out").exists()


def test_blank_rows_are_found_at_the_end_however_many():
    from analysis.clean.partitioned import _end_of_records
    from analysis.clean.sources import OPENCELLID_COLUMNS

    n, filled = 3000, 1000  # (more blank rows than the tail looked at first)
    frame = pd.DataFrame({c: [None] * n for c in OPENCELLID_COLUMNS} | {"read_problem": [None] * n})
    frame.loc[: filled - 1, "radio"] = "NR"
    frame.loc[filled : filled + 5, "lon"] = "  "  # white space only: blank, as the in-memory reader says
    assert _end_of_records(frame) == filled
    frame.loc[n - 1, "read_problem"] = "15 fields where the header has 14"  # a line with a problem is a record
    assert _end_of_records(frame) == n
    assert _end_of_records(frame.iloc[filled : n - 1]) == 0


def test_cli_partitioned_says_the_readers_notes(export, tmp_path, capsys):
    import zipfile

    from analysis import cli

    archive = tmp_path / "cell_towers.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(export, "cell_towers.csv")
        zf.writestr("LICENSE", "CC-BY-SA 4.0")
    argv = ["clean", "--input", str(archive), "--city", "karamay", "--as-of", AS_OF, "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--partitioned", "--scheduler", "synchronous"]) == 0
    said = capsys.readouterr().out
    assert "cell_towers.zip/cell_towers.csv: in the archive, skipped LICENSE (not a table file)" in said


def test_lines_ended_by_cr_alone_are_read_in_blocks(export, tmp_path, monkeypatch):
    """An export with old Mac line ends (CR alone) is read in blocks too, as the whole file is read in memory."""
    from analysis.clean import partitioned

    path = tmp_path / "cr.csv"
    path.write_bytes(export.read_bytes().replace(b"\n", b"\r"))
    monkeypatch.setattr(partitioned, "BLOCK_CHARS", 50_000)
    blocks = list(partitioned._iter_text_blocks(partitioned._open_export(path), 50_000))
    assert len(blocks) > 3 and "".join(blocks) == path.read_bytes().decode("utf-8")
    clean_to_folder(path, "karamay", tmp_path / "mem", as_of=AS_OF)
    clean_partitioned(path, "karamay", tmp_path / "part", as_of=AS_OF, rows_per_partition=1000, scheduler="threads")
    assert _same_bytes(tmp_path / "mem", tmp_path / "part") == []


def _reordered(lines: list[str], order: list[int], names: list[str], sep: str = ",") -> list[str]:
    """The export's lines with its columns in `order`, under the header `names`, fields split by `sep`."""
    rows = [line.split(",") for line in lines[1:]]
    return [sep.join(names)] + [sep.join(r[j] if j < len(r) else "" for j in order) for r in rows]


# OpenCelliD's API order (lat,lon,mcc,mnc,lac,cellid,...), the other columns left out, as other tools write it
_API = [7, 6, 1, 2, 3, 4, 0, 8, 9]
_API_NAMES = ["lat", "lon", "mcc", "mnc", "lac", "cellid", "radio", "range", "samples"]


@pytest.mark.parametrize(
    "name, edit",
    [
        # title lines and a blank line above the header, as a person saving an export writes them
        ("titled.csv", lambda ls: ["OpenCelliD export for Karamay", "downloaded 2025-01-01", ""] + ls),
        # OpenCelliD's own cell_towers.csv: no header at all
        ("cell_towers.csv", lambda ls: ls[1:]),
        # no header, one line of something else first (the in-memory reader takes it for the header)
        ("noted.csv", lambda ls: ["cell towers of MCC 460"] + ls[1:]),
        # the API's column order and names, a subset of the columns
        ("api.csv", lambda ls: _reordered(ls, _API, _API_NAMES)),
        # fields split by semicolons, under a title
        ("semicolons.csv", lambda ls: ["OpenCelliD export"] + _reordered(ls, list(range(14)), ls[0].split(","), ";")),
        # no header, fields split by tabs
        ("tabs.tsv", lambda ls: [line.replace(",", "\t") for line in ls[1:]]),
        # a title, and a quoted cell spanning lines below (read line by line, in blocks)
        (
            "titled_quoted.csv",
            lambda ls: ["OpenCelliD export", ""] + ls[:200] + [ls[200].replace(",,", ',"a\nb",', 1)] + ls[201:],
        ),
    ],
)
def test_headers_under_titles_or_none_are_read_as_in_memory(export, tmp_path, monkeypatch, name, edit):
    """Every layout the in-memory reader reads of an OpenCelliD export: the same four files from the partitions."""
    from analysis.clean import partitioned

    path = _messy(export, tmp_path, name, edit)
    monkeypatch.setattr(partitioned, "BLOCK_CHARS", 30_000)
    clean_to_folder(path, "karamay", tmp_path / "mem", as_of=AS_OF)
    s = clean_partitioned(path, "karamay", tmp_path / "part", as_of=AS_OF, rows_per_partition=1000, scheduler="threads")
    assert s["partitions"] >= 2 and s["rows_kept"] > 1000
    assert _same_bytes(tmp_path / "mem", tmp_path / "part") == []


def test_an_export_without_a_header_it_can_find_is_said_in_one_line(tmp_path, capsys):
    from analysis import cli

    path = tmp_path / "towers.csv"
    path.write_text("some notes\n" + "a,b,c\n" * 50, encoding="utf-8")
    argv = ["clean", "--input", str(path), "--city", "karamay", "--out", str(tmp_path / "o"), "--partitioned"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "towers.csv" in err and "no header row with recognisable columns" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_the_stations_are_merged_a_batch_at_a_time_into_row_groups(export, tmp_path, monkeypatch):
    """The main process never holds every station: the partitions' stations are read a few hundred at a time
    and written a row group at a time (here of 256 stations: the in-memory writer's row groups too), with the
    in-memory clean's bytes."""
    import pyarrow.parquet as pq

    from analysis.clean import partitioned, stations

    monkeypatch.setattr(stations, "STATION_ROW_GROUP", 256)
    monkeypatch.setattr(partitioned, "STATION_MERGE_ROWS", 1)  # (256 stations of each partition at a time)
    monkeypatch.setattr(partitioned, "_gather_stations", lambda *a: pytest.fail("every station gathered"))
    pieces, groups = [], []
    merged, written = partitioned._merged_stations, partitioned.write_station_row_groups

    def merged_spy(paths, batch_rows):
        assert batch_rows == 256
        for piece in merged(paths, batch_rows):
            pieces.append(piece.num_rows)
            yield piece

    def written_spy(tables, bounds, path):
        return written((groups.append(t.num_rows) or t for t in tables), bounds, path)

    monkeypatch.setattr(partitioned, "_merged_stations", merged_spy)
    monkeypatch.setattr(partitioned, "write_station_row_groups", written_spy)
    clean_to_folder(export, "karamay", tmp_path / "mem", as_of=AS_OF)
    s = clean_partitioned(
        export, "karamay", tmp_path / "part", as_of=AS_OF, rows_per_partition=700, scheduler="synchronous"
    )
    assert _same_bytes(tmp_path / "mem", tmp_path / "part") == []
    assert pq.ParquetFile(tmp_path / "mem" / "stations.parquet").num_row_groups == len(groups) > 3
    assert sum(groups) == sum(pieces) == s["stations"] and set(groups[:-1]) == {256}
    assert len(pieces) > s["partitions"] and max(pieces) <= 256 * s["partitions"]


def test_a_table_with_a_point_not_finite_is_gathered_and_written_as_in_memory(export, tmp_path, monkeypatch):
    """A station table whose points are not all finite is written by geopandas in memory: the partitioned clean
    then gathers it whole (no row groups written from lon/lat), with the same bytes."""
    from analysis.clean import partitioned

    monkeypatch.setattr(partitioned, "_station_bounds", lambda paths: None)
    monkeypatch.setattr(partitioned, "_merged_stations", lambda *a: pytest.fail("merged from lon/lat"))
    clean_to_folder(export, "karamay", tmp_path / "mem", as_of=AS_OF)
    clean_partitioned(
        export, "karamay", tmp_path / "part", as_of=AS_OF, rows_per_partition=700, scheduler="synchronous"
    )
    assert _same_bytes(tmp_path / "mem", tmp_path / "part") == []


def test_station_bounds_say_when_a_point_is_not_finite(tmp_path):
    from analysis.clean.partitioned import _station_bounds

    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pd.DataFrame({"lon": [84.5, 85.0], "lat": [45.0, 45.5]}).to_parquet(a)
    pd.DataFrame({"lon": [83.9], "lat": [46.1]}).to_parquet(b)
    assert _station_bounds([a, b]) == (83.9, 85.0, 45.0, 46.1)
    pd.DataFrame({"lon": [84.0, np.nan], "lat": [45.0, 45.1]}).to_parquet(b)
    assert _station_bounds([a, b]) is None


def test_partition_outputs_are_written_in_small_row_groups(export, tmp_path, monkeypatch):
    """The merges read every partition's stations and quarantine at once, and a Parquet reader holds the row
    group it reads: the partitions write theirs in row groups of PART_ROW_GROUP rows."""
    import pyarrow.parquet as pq

    from analysis.clean import partitioned

    monkeypatch.setattr(partitioned, "PART_ROW_GROUP", 100)
    out = tmp_path / "part"
    clean_partitioned(
        export, "karamay", out, as_of=AS_OF, rows_per_partition=700, scheduler="synchronous", keep_partitions=True
    )
    files = [pq.ParquetFile(p) for p in sorted((out / "_partitions" / "out").glob("*.parquet"))]
    assert len(files) >= 8 and all(f.metadata.num_rows for f in files)
    sizes = [f.metadata.row_group(i).num_rows for f in files for i in range(f.num_row_groups)]
    assert max(sizes) == 100 and sum(f.num_row_groups > 1 for f in files) >= 8


def test_a_line_repeated_word_for_word_is_one_cell(export, tmp_path):
    """A cell's line repeated (an export written twice over, a copy pasted in) merges into its first line as
    an exact duplicate, saying which; its station is the one the export without the repeats gives: the same
    position, first-seen date and count of cells, the repeated lines among its sources."""
    lines = export.read_text(encoding="utf-8").splitlines()
    records = [x for x in lines[1:] if x.startswith("NR,") and "not-a-number" not in x]
    repeated = _messy(export, tmp_path, "repeated.csv", lambda ls: ls + records[:5] + records[:1])
    clean_to_folder(export, "karamay", tmp_path / "once", as_of=AS_OF)
    clean_to_folder(repeated, "karamay", tmp_path / "twice", as_of=AS_OF)
    once = pd.read_parquet(tmp_path / "once" / "stations.parquet")
    twice = pd.read_parquet(tmp_path / "twice" / "stations.parquet")
    same = ["station_id", "lon", "lat", "district", "on_air_date", "opencellid_cells", "n_sources"]
    pd.testing.assert_frame_equal(once[same], twice[same])
    q = pd.read_csv(tmp_path / "twice" / "quarantine.csv", dtype=str)
    dup = q[q["reason"] == "exact_duplicate"]
    assert len(dup) == 6 and (dup["fate"] == "merged").all()
    first_row = lines.index(records[0])  # (its source_row: records numbered from 1 below the header)
    assert dup["detail"].str.endswith(f"the same line as {repeated}:{first_row}").sum() == 2
    summary = json.loads((tmp_path / "twice" / "clean_summary.json").read_text(encoding="utf-8"))
    assert summary["merged_by_reason"]["exact_duplicate"] == 6
    # (the stations of the repeated lines list them among their sources, after their own)
    changed = twice["sources"] != once["sources"].str.replace(str(export), str(repeated), regex=False)
    assert changed.sum() == 3 and twice.loc[changed, "sources"].str.contains("repeated.csv").all()
