"""The command line: every verb listed with help; expected mistakes end in one line and a status."""

import subprocess
import sys

import pytest

from analysis.cli import build_parser, main

VERBS = ["boundaries", "synth", "clean", "forecast", "coverage", "taskforce"]


def test_help_lists_the_commands():
    proc = subprocess.run([sys.executable, "-m", "analysis", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for verb in VERBS:
        assert verb in proc.stdout
    assert "Exit status" in proc.stdout


def test_every_command_has_help(capsys):
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(VERBS) <= set(sub.choices)
    for verb in sub.choices:
        with pytest.raises(SystemExit) as done:
            main([verb, "--help"])
        assert done.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_bad_usage_is_status_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "analysis", "clean", "--input", "x"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "clean",
            "--input",
            "data/raw/karamay/stations",
            "--city",
            "karamay",
            "--out",
            "/tmp/never",
            "--as-of",
            "2021-02-30",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "not a date" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["forecast", "--stations", "{bad}", "--as-of", "2021-03-22", "--out", "{out}"],
        ["coverage", "--stations", "{bad}", "--city", "karamay", "--as-of", "2021-03-22", "--out", "{out}"],
        ["taskforce", "--stations", "{bad}", "--city", "karamay", "--as-of", "2021-03-22", "--out", "{out}"],
    ],
)
def test_a_stations_file_that_is_not_one_is_one_line_and_status_1(tmp_path, capsys, argv):
    bad = tmp_path / "stations.parquet"
    bad.write_text("this is not parquet")
    status = main([a.format(bad=bad, out=tmp_path / "out") for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(err) == 1 and "stations.parquet" in err[0]


@pytest.mark.parametrize(
    "verb, extra",
    [
        ("clean", ["--input", "x", "--city", "karamay"]),
        ("forecast", ["--stations", "x"]),
        ("coverage", ["--stations", "x", "--city", "karamay"]),
        ("taskforce", ["--stations", "x", "--city", "karamay"]),
        ("report", ["--city", "karamay"]),
    ],
)
def test_every_date_flag_takes_only_a_date(tmp_path, capsys, verb, extra):
    assert main([verb, *extra, "--out", str(tmp_path), "--as-of", "2021-03-22junk"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a date" in err[0]


def test_reading_a_parquet_table_names_the_file_and_the_problem(tmp_path):
    import pandas as pd

    from analysis.errors import BadInputError
    from analysis.files import read_parquet_columns

    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]}).to_parquet(path)
    got = read_parquet_columns(path, ("a",), ("c", "z"))  # z is optional and absent; b is not asked for
    assert list(got.columns) == ["a", "c"] and got["c"].tolist() == [0.5, 1.5]
    with pytest.raises(BadInputError, match="not a station table: missing columns d") as err:
        read_parquet_columns(path, ("a", "d"), what="station table")
    assert "t.parquet" in str(err.value) and "\n" not in str(err.value)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet", encoding="utf-8")
    with pytest.raises(BadInputError, match="not a Parquet station table"):
        read_parquet_columns(bad, ("a",), what="station table")
    with pytest.raises(BadInputError, match=r"no such file \(run clean first\)"):
        read_parquet_columns(tmp_path / "none.parquet", ("a",), hint="run clean first")


#: Libraries a command must not load when it draws nothing and cleans nothing (each costs 0.2-0.6 s
#: of start-up, which at 10^5 stations is a large part of what a user waits for).
_NOT_NEEDED = ("analysis.clean", "matplotlib", "folium", "statsmodels", "pandera", "jinja2")


def _loaded_by(argv: list[str]) -> tuple[int, list[str]]:
    """Run `python -m analysis ARGV` in a fresh interpreter; its exit status and which of
    _NOT_NEEDED it loaded."""
    code = (
        "import sys; from analysis.cli import main; rc = main(sys.argv[1:]); "
        f"print(rc, *[m for m in {_NOT_NEEDED!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    rc, *loaded = out.stdout.strip().splitlines()[-1].split()
    return int(rc), loaded


def test_coverage_and_taskforce_commands_load_only_what_they_use(tmp_path, tiny_city, tiny_stations):
    import pandas as pd

    stations = tmp_path / "stations.parquet"
    tf = tiny_stations.assign(status=["on_air"] * 5 + ["construction"], blocker=[None] * 5 + ["power_price"])
    for i, col in enumerate(("planned_date", "site_selection_date", "site_access_date", "construction_date")):
        tf[col] = pd.Timestamp("2020-01-01") + pd.Timedelta(days=30 * i)
    tf["power_hookup_date"] = pd.NaT
    tf.to_parquet(stations)
    common = ["--stations", str(stations), "--city", str(tiny_city)]
    assert _loaded_by(["coverage", *common, "--no-map", "--out", str(tmp_path / "c")]) == (0, [])
    taskforce = ["taskforce", *common, "--as-of", "2021-03-22", "--no-charts", "--out", str(tmp_path / "t")]
    assert _loaded_by(taskforce) == (0, [])
    assert (tmp_path / "t" / "funnel.csv").is_file() and (tmp_path / "c" / "gaps.geojson").is_file()


def test_tables_written_for_people_are_the_bytes_of_pandas_utf8_sig(tmp_path):
    """write_csv (every stage's tables, the commands' outputs): the bytes of pandas' own "utf-8-sig"
    CSV, Chinese text, ISO dates, missing values and LF line ends included."""
    import pandas as pd

    from analysis.files import write_csv

    frame = pd.DataFrame(
        {"区县": ["克拉玛依区", None], "date": pd.to_datetime(["2021-03-22", None]), "n": [1.5, float("nan")]}
    )
    write_csv(frame, tmp_path / "a.csv")
    frame.to_csv(tmp_path / "b.csv", index=False, encoding="utf-8-sig", date_format="%Y-%m-%d", lineterminator="\n")
    data = (tmp_path / "a.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data == (tmp_path / "b.csv").read_bytes()


def test_a_target_line_read_back_from_model_json_with_every_pace_null_says_the_outcome(tmp_path, capsys):
    """Every target passed: model.json holds null for the whole pace column, which pandas reads back as
    None (the stations path of `forecast`): the line gives the outcome instead of a TypeError."""
    import json

    import pandas as pd

    from analysis.cli import _describe_target_line

    series = tmp_path / "s.csv"
    series.write_text("date,value\n2020-01-31,10\n2020-02-29,12\n2020-03-31,15\n2020-04-30,19\n", encoding="utf-8")
    argv = ["forecast", "--series", str(series), "--target", "2020-02-29=11", "--paths", "30", "--horizon", "2"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    doc = json.loads((tmp_path / "o" / "model.json").read_text(encoding="utf-8"))
    row = pd.DataFrame(doc["targets"]).assign(target_date=lambda t: pd.to_datetime(t["target_date"])).iloc[0]
    assert row["pace_needed_per_month"] is None
    assert _describe_target_line(row) == "  target 11 by 2020-02-29: reached (target date passed: 12 on air against 11)"


def test_forecast_says_when_the_report_date_lies_after_the_records(capsys):
    """A report month after the records' last month reads as months with nothing added: said on stderr,
    not silent; a report date within the records says nothing."""
    import types

    import pandas as pd

    from analysis.cli import _note_records_end_before
    from analysis.taskforce import DATE_COLUMNS

    stations = pd.DataFrame({c: pd.to_datetime(["2021-05-01", None]) for c in DATE_COLUMNS})
    city = types.SimpleNamespace(records_received=None)
    _note_records_end_before(stations, city, pd.Timestamp("2021-05-20"))
    assert capsys.readouterr().err == ""
    _note_records_end_before(stations, city, pd.Timestamp("2022-01-10"))
    err = capsys.readouterr().err
    assert "records end on 2021-05-01" in err and "no station added" in err and err.count("\n") == 1
    _note_records_end_before(
        stations, types.SimpleNamespace(records_received=pd.Timestamp("2022-01-05")), pd.Timestamp("2022-01-10")
    )
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("horizon", ["0", "-3", "x"])
def test_a_horizon_of_no_months_is_a_usage_error(horizon, tmp_path, capsys):
    """--horizon 0 wrote an empty forecast and exit 0; any horizon under a month is a usage error."""
    from analysis import cli

    argv = ["forecast", "--series", str(tmp_path / "s.csv"), "--horizon", horizon, "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    assert "not a number of months >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("radius", ["60000", "1e9", "0", "-5", "abc", "nan", "inf"])
def test_a_radius_that_is_not_a_cells_reach_is_a_usage_error(radius, tmp_path, capsys):
    """--radius-m over 50 km, zero, negative or not a number is a mistake on the command line: exit 2 and
    one line (over 50 km, zero and negative were a status-1 "bad data" error), before any file is read."""
    argv = ["coverage", "--stations", str(tmp_path / "none.parquet"), "--city", "karamay"]
    assert main([*argv, f"--radius-m={radius}", "--no-map", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--radius-m" in err[0] and f"{radius!r} is not a radius in metres" in err[0]


@pytest.mark.parametrize(
    ("radius", "row", "shown"),
    [
        ([300.0, 6e4, None, None, None, None], 2, "60000"),
        ([300.0, 0.0, None, None, None, None], 2, "0"),
        ([300.0, None, None, -5.0, None, None], 4, "-5"),
        (["300", None, "abc", " ", "250", None], 3, "'abc'"),
    ],
)
def test_a_stations_radius_that_is_not_a_cells_reach_names_the_file_and_row(
    radius, row, shown, tmp_path, tiny_city, tiny_stations, capsys
):
    """The same radius in a station file's radius_m column is bad input: exit 1, one line naming the file,
    the row (1 = the first station) and the station; a text that is not a number is no longer read as
    missing (silently the link budget). Missing values and numbers written as text are used."""
    import pandas as pd

    stations = tmp_path / "stations.parquet"
    dtype = "str" if isinstance(radius[0], str) else "float64"
    tiny_stations.assign(radius_m=pd.array(radius, dtype=dtype)).to_parquet(stations)
    argv = ["coverage", "--stations", str(stations), "--city", str(tiny_city), "--no-map", "--out", str(tmp_path / "c")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {stations}: row {row}: radius_m {shown} of station S{row} is not a radius in metres > 0 "
        "and at most 50000 (a cell's reach)"
    ]
    fine = ["300", None, "250", " ", "", None]
    tiny_stations.assign(radius_m=pd.array(fine, dtype="str")).to_parquet(stations)
    assert main(argv) == 0


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS"])
def test_a_full_or_read_only_disk_is_one_line_and_status_1(tmp_path, capsys, monkeypatch, code):
    """The machine refusing a write (a full tmpfs, a read-only mount) was a traceback from deep in a writer."""
    import errno
    import os

    from analysis.clean import stations

    def refuse(*args, **kwargs):
        raise OSError(
            getattr(errno, code), os.strerror(getattr(errno, code)), str(tmp_path / "out" / "stations.parquet")
        )

    monkeypatch.setattr(stations, "clean_to_folder", refuse)
    status = main(["clean", "--input", str(tmp_path), "--city", "karamay", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"error: {tmp_path / 'out' / 'stations.parquet'}: {os.strerror(getattr(errno, code))}"
    ]


def test_another_os_error_is_not_hidden(tmp_path, monkeypatch):
    import errno

    from analysis.clean import stations

    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(stations, "clean_to_folder", fail)
    with pytest.raises(OSError, match="Input/output"):
        main(["clean", "--input", str(tmp_path), "--city", "karamay", "--out", str(tmp_path / "out")])


def test_sigterm_is_an_interrupt_so_half_built_folders_are_cleaned_up(tmp_path, monkeypatch, capsys):
    """`timeout`, cron and systemd stop a run with SIGTERM: its clean-up must run as on Ctrl-C."""
    import os
    import signal
    import time

    from analysis.clean import stations

    cleaned_up = []

    def stopped_midway(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # (the signal arrives first)
        finally:
            cleaned_up.append(True)

    monkeypatch.setattr(stations, "clean_to_folder", stopped_midway)
    before = signal.getsignal(signal.SIGTERM)
    status = main(["clean", "--input", str(tmp_path), "--city", "karamay", "--out", str(tmp_path / "out")])
    assert status == 130 and cleaned_up == [True] and "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # (put back after the command)


def test_building_folders_of_runs_killed_outright_are_removed_by_the_next_run(tmp_path):
    import os
    import socket

    from analysis.report.runner import remove_abandoned_builds

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(done.stdout)
    host = socket.gethostname()
    builders = {"killed": f"{host} {dead}", "running": f"{host} {os.getpid()}", "elsewhere": f"other-host {dead}"}
    for name, builder in {**builders, "old": None}.items():
        folder = tmp_path / f".2021-09-30.building-{name}"
        folder.mkdir()
        if builder:
            (folder / ".builder").write_text(builder, encoding="utf-8")
    assert [p.name for p in remove_abandoned_builds(tmp_path)] == [".2021-09-30.building-killed"]
    assert sorted(p.name.split("-")[-1] for p in tmp_path.iterdir()) == ["elsewhere", "old", "running"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap, read from /proc/self/maps")
def test_clean_process_keeps_freed_memory_in_the_heap():
    """`python -m analysis clean` owns its process: glibc's heap then serves a national column's 64 MB
    block (by default a fresh mapping from the kernel, faulted in and zeroed at every use)."""
    probe = (
        "import numpy as np\n"
        "from analysis.cli import keep_freed_memory\n"
        "def in_heap(a):\n"
        "    at = a.ctypes.data\n"
        "    for line in open('/proc/self/maps'):\n"
        "        lo, hi = (int(x, 16) for x in line.split()[0].split('-'))\n"
        "        if lo <= at < hi:\n"
        "            return line.rstrip().endswith('[heap]')\n"
        "before = in_heap(np.ones(64 << 20, np.uint8))\n"
        "kept = keep_freed_memory()\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(1) as pool:  # (a worker's 8 MB block: by default in an arena of its own)\n"
        "    in_thread = pool.submit(lambda: in_heap(np.ones(8 << 20, np.uint8))).result()\n"
        "huge = np._core.multiarray._set_madvise_hugepage(True)  # (returns the setting it replaces)\n"
        "print(before, kept, in_heap(np.ones(64 << 20, np.uint8)), in_thread, huge)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    if out[1] == "False":
        pytest.skip("a C library without mallopt")
    # the heap serves a national column's block, a worker thread's too, and numpy asks for no huge pages
    assert out == ["False", "True", "True", "True", "False"]


def test_main_leaves_the_callers_allocator_alone(monkeypatch, tmp_path):
    """In-process callers (a notebook, a test) keep their allocator: only `python -m analysis` asks."""
    from analysis import cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(1) or True)
    argv = ["clean", "--input", str(tmp_path / "missing.csv"), "--city", "karamay", "--out", str(tmp_path)]
    assert cli.main(argv) == 1 and calls == []
    assert cli.main(argv, owns_process=True) == 1 and calls == [1]  # (`python -m analysis clean`)
    # a forecast of stations (a national one frees thousands of path arrays) asks too
    argv = [
        "forecast",
        "--stations",
        str(tmp_path / "missing.parquet"),
        "--as-of",
        "2021-03-22",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(argv) != 0 and calls == [1]
    assert cli.main(argv, owns_process=True) != 0 and calls == [1, 1]
