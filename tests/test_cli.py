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
