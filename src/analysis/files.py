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


def write_json(data: dict, path: str | Path) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
