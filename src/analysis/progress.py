"""Progress of long runs (a national clean, a backfill of reports, the benchmark ladder): a tqdm bar
on a terminal, one plain line per step when stderr is not a terminal (logs, cron), nothing in tests
or when asked to be quiet. Everything goes to stderr, so a command's stdout stays its result.

The mode is chosen once per call: `set_mode` (the CLI's `--quiet`), else the `FIVEG_PROGRESS`
environment variable (`bar`, `lines` or `off`), else `off` under pytest, `bar` on a terminal (but for a
dumb one, TERM=dumb) and `lines` otherwise.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator

from analysis.errors import UsageError

MODES = ("bar", "lines", "off")
ENV_VAR = "FIVEG_PROGRESS"
_chosen: dict[str, str | None] = {"mode": None}


def set_mode(mode: str | None) -> None:
    """Fix the mode for this process (None: back to the environment and the terminal)."""
    if mode is not None and mode not in MODES:
        raise UsageError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    _chosen["mode"] = mode


@contextlib.contextmanager
def forced(mode: str | None) -> Iterator[None]:
    """`set_mode(mode)` for the duration of a block, then the mode before it (None: leave it)."""
    before = _chosen["mode"]
    if mode is not None:
        set_mode(mode)
    try:
        yield
    finally:
        _chosen["mode"] = before


def current_mode() -> str:
    """The mode now in force (see the module docstring for the order of precedence)."""
    if _chosen["mode"] is not None:
        return _chosen["mode"]
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env:
        if env not in MODES:
            raise UsageError(f"{ENV_VAR} must be one of {', '.join(MODES)}, got {env!r}")
        return env
    if "PYTEST_CURRENT_TEST" in os.environ:  # tests read stderr: no bars, no lines
        return "off"
    stream = sys.stderr
    terminal = stream is not None and hasattr(stream, "isatty") and stream.isatty()
    # a dumb terminal (TERM=dumb: an editor's shell, some CI consoles) cannot redraw a bar in place
    return "bar" if terminal and os.environ.get("TERM", "").strip().lower() != "dumb" else "lines"


#: The width and height of a terminal that reports no size.
_UNSIZED_COLUMNS, _UNSIZED_ROWS = 80, 24


def _terminal_size() -> tuple[int, int]:
    """The columns and rows of the terminal stderr writes to (0 where it reports none, or is no terminal)."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # (no fileno, not a terminal, a closed stream)
        return 0, 0
    return size.columns, size.lines


class Progress:
    """One task of `total` steps (None: unknown). `advance(n, note)` after each step."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "step", mode: str | None = None):
        self.desc, self.total, self.unit = desc, total, unit
        self.mode = mode or current_mode()
        self.done = 0
        self._t0 = time.perf_counter()
        self._bar = None
        # a bar whose total is not known yet (a clean before it has listed its files) is drawn once it is,
        # or at the first step: never first with a total about to change (0/1, then 0/6)
        if self.mode == "bar" and total is not None:
            self._draw()

    def _draw(self) -> None:
        from tqdm import tqdm

        # a terminal that reports no size (a pty nobody sized: `script -c`, some CI runners) made tqdm draw a
        # bar of width 0, i.e. nothing: a fixed width there, the terminal's own elsewhere
        columns, rows = _terminal_size()
        sized = columns > 0 and rows > 0  # (tqdm's own measure, read again as the terminal is resized)
        self._bar = tqdm(
            total=self.total,
            initial=self.done,
            desc=self.desc,
            unit=self.unit,
            file=sys.stderr,
            dynamic_ncols=sized,
            ncols=None if sized else columns or _UNSIZED_COLUMNS,
            nrows=None if sized else rows or _UNSIZED_ROWS,  # (tqdm hides a bar below a screen of 0 rows)
            leave=True,
        )

    def add_total(self, n: int, draw: bool = True) -> None:
        """Raise the total by `n` steps found on the way (a clean knows its files once it has listed them).
        `draw=False`: steps counted ahead of the rest, the bar (of a task begun without a total) not drawn yet."""
        self.total = (self.total or 0) + n
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()
        elif self.mode == "bar" and draw:
            self._draw()

    def advance(self, n: int = 1, note: str = "") -> None:
        if self._bar is None and self.mode == "bar":
            self._draw()
        self.done += n
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(n)
        elif self.mode == "lines":
            # a total that was an estimate (rows from the file size) is dropped once passed
            of = f"/{self.total}" if self.total is not None and self.done <= self.total else ""
            text = (
                f"{self.desc}: {self.done}{of} {self.unit}s{' ' + note if note else ''} "
                f"({time.perf_counter() - self._t0:.1f} s)"
            )
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextlib.contextmanager
def task(desc: str, total: int | None = None, unit: str = "step", mode: str | None = None) -> Iterator[Progress]:
    """`with task("clean", 20, "partition") as p: ... p.advance(note=name)`: closed on exit."""
    p = Progress(desc, total, unit, mode)
    try:
        yield p
    finally:
        p.close()


def track(items: Iterable, desc: str, total: int | None = None, unit: str = "step", label=None) -> Iterator:
    """Iterate over `items`, advancing one step after each (the step's note is `label(item)`)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    with task(desc, total, unit) as p:
        for item in items:
            yield item
            p.advance(1, label(item) if label is not None else "")
