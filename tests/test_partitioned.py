"""Partitioned cleaning of OpenCelliD exports gives what the in-memory clean gives."""

import numpy as np
import pandas as pd
import pytest

import synth
from analysis.clean.partitioned import clean_partitioned, split_opencellid
from analysis.clean.stations import clean_stations
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


def test_partitions_reproduce_the_in_memory_clean(export, tmp_path):
    city = load_city("karamay")
    ref = clean_stations(export, city, as_of=AS_OF)
    s = clean_partitioned(export, city, tmp_path, as_of=AS_OF, rows_per_partition=700, scheduler="synchronous")
    assert s["partitions"] > 3
    for key in (
        "rows_in",
        "rows_kept",
        "rows_merged",
        "rows_quarantined",
        "stations",
        "quarantined_by_reason",
        "merged_by_reason",
        "stations_by_district",
        "stations_by_operator",
    ):
        assert s[key] == ref.summary[key], key
    assert s["rows_in"] == s["rows_kept"] + s["rows_merged"] + s["rows_quarantined"]
    st = pd.read_parquet(tmp_path / "stations.parquet").drop(columns="geometry")
    st = st.sort_values("station_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(st, pd.DataFrame(ref.stations.drop(columns="geometry")), check_dtype=False)
    q = pd.read_csv(tmp_path / "quarantine.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    q = q.assign(source_row=q["source_row"].astype(int)).sort_values("source_row").reset_index(drop=True)
    rq = ref.quarantine.sort_values("source_row").reset_index(drop=True)
    assert q["source_row"].tolist() == rq["source_row"].tolist()  # the rows of the whole file, not the partition's
    assert q["reason"].tolist() == rq["reason"].tolist()
    assert q["merged_into"].tolist() == rq["merged_into"].fillna("").tolist()
    assert not (tmp_path / "_partitions").exists()


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
    import json

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
    mem, part = (json.loads((tmp_path / d / "clean_summary.json").read_text(encoding="utf-8")) for d in ("mem", "part"))
    assert part["partitions"] > 3
    for key in (
        "rows_in",
        "rows_kept",
        "rows_merged",
        "rows_quarantined",
        "stations",
        "quarantined_by_reason",
        "stations_by_district",
        "stations_by_operator",
    ):
        assert part[key] == mem[key], key
    a, b = (
        pd.read_parquet(tmp_path / d / "stations.parquet")
        .drop(columns="geometry")
        .sort_values("station_id")
        .reset_index(drop=True)
        for d in ("mem", "part")
    )
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--scheduler", "threads"], "--scheduler is for --partitioned"),
        (["--partitioned", "--scheduler", "gpu"], "scheduler must be one of"),
        (["--partitioned", "--input-crs", "gcj02"], "OpenCelliD exports are WGS-84"),
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
