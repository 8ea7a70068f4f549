"""Typed errors: what went wrong, in which file and row, said in one line.

The command line turns `BadInputError` into exit status 1 and `UsageError` into 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class AnalysisError(Exception):
    """Base class of the errors a user can cause and fix."""

    exit_status = 1

    def _render_traceback_(self) -> list[str]:
        """In a notebook, the mistake in one line (IPython shows this instead of the frames, which tell an
        analyst who gave a wrong date or city nothing; the command line prints the same line)."""
        return [f"{type(self).__name__}: {self}"]


class BadInputError(AnalysisError):
    """A file the user gave cannot be used: names the file, the row when known, and the problem."""

    def __init__(self, problem: str, file: str | Path | None = None, row: int | None = None):
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.row = row
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = ": ".join(where)
        return f"{prefix}: {self.problem}" if prefix else self.problem


class ConfigError(BadInputError):
    """The city configuration (city.toml and the files it names) is incomplete or wrong."""


class UsageError(AnalysisError):
    """The command was called wrongly: an unknown city, a date that is not a date, ..."""

    exit_status = 2


class LedgerError(AnalysisError):
    """The cleaner lost or double-counted a row (rows in != kept + merged + quarantined): a bug in
    the package, raised rather than asserted so that `python -O` still checks it."""
