"""Progress: a bar on a terminal, one line per step in logs, nothing under pytest or when quiet."""

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
