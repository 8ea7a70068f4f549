"""Progress: a bar on a terminal, one line per step in logs, nothing under pytest or when quiet."""

import pandas as pd
import pytest

from analysis import progress
from analysis.errors import UsageError


@pytest.fixture(autouse=True)
def _reset():
    progress.set_mode(None)
    yield
    progress.set_mode(None)


def test_quiet_under_pytest_by_default(capsys, monkeypatch):
    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    assert progress.current_mode() == "off"
    assert list(progress.track([1, 2, 3], "work")) == [1, 2, 3]
    assert capsys.readouterr() == ("", "")


def test_lines_mode_writes_one_line_per_step_to_stderr(capsys, monkeypatch):
    monkeypatch.setenv(progress.ENV_VAR, "lines")
    out = list(progress.track(["a", "b"], "clean", unit="file", label=str))
    captured = capsys.readouterr()
    assert out == ["a", "b"] and captured.out == ""
    lines = captured.err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["clean: 1/2 files a", "clean: 2/2 files b"]


def test_bar_mode_draws_a_tqdm_bar_on_stderr(capsys):
    progress.set_mode("bar")
    with progress.task("ladder", 3, "run") as p:
        for _ in range(3):
            p.advance()
    captured = capsys.readouterr()
    assert captured.out == "" and "ladder" in captured.err and "3/3" in captured.err


def test_a_bar_begun_without_its_total_is_first_drawn_with_it(capsys):
    """A clean counts its writing before it knows its files: the bar is drawn once the total is known (0/6), never
    first with a total about to change (0/1, then 0/6)."""
    progress.set_mode("bar")
    with progress.task("clean") as p:
        p.add_total(1, draw=False)
        assert capsys.readouterr().err == ""
        p.add_total(5)
        for _ in range(6):
            p.advance()
    drawn = capsys.readouterr().err
    assert "0/6" in drawn and "6/6" in drawn and "/1 " not in drawn and "0/1" not in drawn


def test_a_bar_of_unknown_total_is_drawn_at_its_first_step(capsys):
    progress.set_mode("bar")
    with progress.task("split") as p:
        p.advance(note="chunk 1")
    assert "split" in capsys.readouterr().err


def test_a_dumb_terminal_gets_lines_not_a_bar(monkeypatch):
    """TERM=dumb (an editor's shell, some CI consoles) cannot redraw a line in place."""
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    monkeypatch.setattr("sys.stderr", Terminal())
    monkeypatch.setenv("TERM", "xterm-256color")
    assert progress.current_mode() == "bar"
    monkeypatch.setenv("TERM", "dumb")
    assert progress.current_mode() == "lines"


def test_unknown_modes_are_usage_errors(monkeypatch):
    with pytest.raises(UsageError, match="bar, lines, off"):
        progress.set_mode("loud")
    monkeypatch.setenv(progress.ENV_VAR, "verbose")
    with pytest.raises(UsageError, match="FIVEG_PROGRESS"):
        progress.current_mode()


def test_cli_quiet_wins_over_the_environment(monkeypatch, capsys):
    from analysis import cli

    monkeypatch.setenv(progress.ENV_VAR, "lines")
    seen = []
    monkeypatch.setattr(cli, "_cmd_clean", lambda args: seen.append(progress.current_mode()) or 0)
    assert cli.main(["--quiet", "clean", "--input", "x.csv", "--city", "nowhere", "--out", "o"]) == 0
    assert seen == ["off"]
    assert progress.current_mode() == "lines"  # the command's --quiet does not outlive it


def test_an_estimated_total_that_is_passed_is_dropped(capsys):
    progress.set_mode("lines")
    with progress.task("split", 1, "chunk") as p:
        p.advance()
        p.advance()
    lines = [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()]
    assert lines == ["split: 1/1 chunks", "split: 2 chunks"]


def test_in_memory_clean_reports_each_file_read_then_the_stages(tmp_path, capsys, monkeypatch):
    from analysis.clean.stations import clean_stations

    (tmp_path / "a.csv").write_text(
        "站址编码,基站名称,运营商,经度,纬度,频段,开通时间,状态\n"
        "650203000001,站一,中国移动,84.87,45.60,2.6GHz,2020-05-12,已开通\n",
        encoding="utf-8",
    )
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\x00 not a table")
    monkeypatch.setenv(progress.ENV_VAR, "lines")
    r = clean_stations(tmp_path, "karamay", as_of="2021-03-22")
    lines = [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        "clean: 1/6 steps read a.csv",
        "clean: 2/6 steps read b.csv",
        "clean: 3/6 steps 1 operator rows parsed",
        "clean: 4/6 steps duplicates merged",
        "clean: 5/6 steps 1 stations built",
        f"clean: 6/6 steps {len(r.stations)} stations, {r.summary['rows_merged']} rows merged, "
        f"{r.summary['rows_quarantined']} quarantined",
    ]
    assert len(r.stations) == 1 and len(r.failed_files) == 1  # the unreadable file is reported, not fatal


def test_clean_to_a_folder_counts_the_writing_as_its_last_step(tmp_path, capsys, monkeypatch):
    from analysis.clean.stations import clean_to_folder

    (tmp_path / "a.csv").write_text(
        "站址编码,基站名称,运营商,经度,纬度,频段,开通时间,状态\n"
        "650203000001,站一,中国移动,84.87,45.60,2.6GHz,2020-05-12,已开通\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(progress.ENV_VAR, "lines")
    clean_to_folder(tmp_path / "a.csv", "karamay", tmp_path / "out", as_of="2021-03-22")
    lines = [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()]
    assert [line.split(" steps")[0] for line in lines] == [f"clean: {i}/6" for i in range(1, 7)]
    assert lines[-1] == f"clean: 6/6 steps written to {tmp_path / 'out'}"


def test_a_bar_is_drawn_on_a_terminal_that_reports_no_size():
    """A pty nobody sized (`script -c`, some CI runners) reports 0 columns and 0 rows: tqdm drew nothing there."""
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    master, terminal = pty.openpty()  # (a new pty: 0 x 0)
    code = "from analysis import progress as p\nwith p.task('x', 3) as t:\n    [t.advance() for _ in range(3)]\n"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", progress.ENV_VAR)}
    env["PYTHONPATH"] = str(Path(progress.__file__).parents[1])
    try:
        subprocess.run([sys.executable, "-c", code], stderr=terminal, stdout=subprocess.DEVNULL, env=env, timeout=60)
    finally:
        os.close(terminal)
    said = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # (the terminal's other end closed: all read)
            break
        if not chunk:
            break
        said += chunk
    os.close(master)
    assert b"3/3" in said and b"100%" in said


def test_report_backfill_reports_one_line_per_month(tmp_path, capsys, monkeypatch):
    from analysis.report import runner

    cleaned = {"key": "0" * 64, "hit": True, "extract": pd.Timestamp("2022-01-10")}
    monkeypatch.setattr(runner, "clean_cached", lambda *a, **k: cleaned)
    monkeypatch.setattr(runner, "build_report", lambda city, d, out, *a, **k: out / str(d.date()))
    monkeypatch.setattr(runner, "write_city_index", lambda *a, **k: None)
    monkeypatch.setenv(progress.ENV_VAR, "lines")
    built = runner.run_report("karamay", months="2021-01:2021-03", out=tmp_path, log=lambda *a: None)
    lines = [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()]
    assert [p.name for p in built] == ["2021-01-31", "2021-02-28", "2021-03-31"]
    assert lines == [
        "report: 1/3 reports 2021-01-31 built",
        "report: 2/3 reports 2021-02-28 built",
        "report: 3/3 reports 2021-03-31 built",
    ]
