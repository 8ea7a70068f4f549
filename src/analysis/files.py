"""How every stage writes and names files: atomic writes (a reader never sees half a file), CSV and
JSON for people, content hashes, and names relative to the project so a fresh clone elsewhere
writes the same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from analysis.config import PROJ_ROOT


def project_relative(path: str | Path) -> str:
    """A file's name as stored in outputs: relative to the project when inside it, else absolute."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(PROJ_ROOT.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: str | Path, write) -> None:
    """Call `write(tmp_path)` on a temporary file in the same folder, then rename it to `path`:
    an interrupted run leaves the previous file whole and no temporary file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; outputs are for a file share
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV for people: UTF-8 with BOM (Excel shows Chinese right), ISO dates, LF line ends."""
    write_atomic(
        path,
        lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d", lineterminator="\n"),
    )


def read_parquet_columns(
    path: str | Path,
    required: tuple[str, ...],
    columns: tuple[str, ...] | None = (),
    what: str = "Parquet table",
    hint: str = "",
) -> pd.DataFrame:
    """The `required` columns of a Parquet table and those of `columns` it has, and nothing else (a
    stage reads what it uses, without the reader of its producer: the station reader in `clean`
    imports all of cleaning); `columns=None`: every column. A missing file or column, or a file that
    is not Parquet, is a one-line BadInputError naming the file and saying what it should have been
    (`what`; `hint`: how a missing one is made)."""
    import pyarrow.parquet as pq

    from analysis.errors import BadInputError

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no such file ({hint or f'expected a {what}'})", path)
    try:  # the file's columns first: a missing one is named, and only the wanted ones are read
        present = set(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises many types for a file that is not Parquet
        raise BadInputError(f"not a Parquet {what} ({_first_line(exc)})", path) from None
    missing = [c for c in required if c not in present]
    if missing:
        raise BadInputError(f"not a {what}: missing columns {', '.join(missing)}", path)
    wanted = None if columns is None else [c for c in dict.fromkeys([*required, *columns]) if c in present]
    try:
        return pd.read_parquet(path, columns=wanted)
    except Exception as exc:
        raise BadInputError(f"unreadable Parquet {what} ({_first_line(exc)})", path) from None


def read_station_columns(
    path: str | Path, required: tuple[str, ...], columns: tuple[str, ...] | None = ()
) -> pd.DataFrame:
    """`read_parquet_columns` of a cleaned station table (stations.parquet): the errors call it a
    station table and say how one is made."""
    return read_parquet_columns(path, required, columns, "station table", "run `python -m analysis clean` first")


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


def write_json(data: dict, path: str | Path) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
