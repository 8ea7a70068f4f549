"""Every raw file of a city has a provenance row in its README, with a sha256 that still matches.

The README's Markdown tables with a `file` and a `sha256` column are read, every row of every
such table (the station files' table included) is checked, and a file of the folder outside
`stations/` that no row lists is an error.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from analysis.config import RAW_DIR

CITY_FOLDERS = [RAW_DIR / "karamay"]
#: files that are edited by hand as settings: listed, but with `-` for a checksum
NOT_CHECKSUMMED = {"city.toml"}
#: files that need no row: the README itself, and the synthetic station files, which their own section lists
UNLISTED_OK = {"README.md"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def read_provenance_rows(readme: Path) -> list[dict[str, str]]:
    """The rows of every Markdown table in `readme` whose header has `file` and `sha256`."""
    rows: list[dict[str, str]] = []
    lines = readme.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        is_header = (
            line.lstrip().startswith("|")
            and i + 1 < len(lines)
            and re.fullmatch(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*", lines[i + 1])
        )
        if not is_header:
            i += 1
            continue
        header = [c.lower() for c in _cells(line)]
        i += 2
        body = []
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            body.append(_cells(lines[i]))
            i += 1
        if "file" in header and "sha256" in header:
            for cells in body:
                assert len(cells) == len(header), (
                    f"{readme}: table row has {len(cells)} cells, header {len(header)}: {cells}"
                )
                row = dict(zip(header, cells))
                row["file"] = row["file"].strip("`").strip()
                row["sha256"] = row["sha256"].strip("`").strip()
                rows.append(row)
    return rows


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@pytest.mark.parametrize("folder", CITY_FOLDERS, ids=lambda p: p.name)
def test_every_listed_file_matches_its_checksum(folder):
    rows = read_provenance_rows(folder / "README.md")
    assert rows, f"{folder / 'README.md'} has no table with file and sha256 columns"
    problems = []
    for row in rows:
        path = folder / row["file"]
        if not path.is_file():
            problems.append(f"{row['file']}: listed but not found")
        elif row["sha256"] in {"-", "—"}:
            if row["file"] not in NOT_CHECKSUMMED:
                problems.append(f"{row['file']}: has no checksum (only {sorted(NOT_CHECKSUMMED)} may)")
        elif not SHA256.match(row["sha256"]):
            problems.append(f"{row['file']}: {row['sha256']!r} is not a sha256")
        elif _sha256(path) != row["sha256"]:
            problems.append(f"{row['file']}: sha256 is {_sha256(path)}, README says {row['sha256']}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", CITY_FOLDERS, ids=lambda p: p.name)
def test_every_file_outside_stations_is_listed(folder):
    listed = {row["file"] for row in read_provenance_rows(folder / "README.md")}
    present = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).parts[0] != "stations"
    }
    unlisted = sorted(present - listed - UNLISTED_OK)
    assert not unlisted, f"files in {folder} with no provenance row in README.md: {unlisted}"
    assert len(listed) == len(read_provenance_rows(folder / "README.md")), "a file is listed twice"


def test_parser_reads_every_table_including_later_station_rows(tmp_path):
    (tmp_path / "a.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "stations").mkdir()
    (tmp_path / "stations" / "r.csv").write_text("y\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n\n| file | what | sha256 |\n| --- | --- | --- |\n"
        f"| `a.csv` | a | {_sha256(tmp_path / 'a.csv')} |\n\n"
        "## Station records (synthetic)\n\n| file | what | sha256 |\n|---|---|---|\n"
        f"| `stations/r.csv` | r | {_sha256(tmp_path / 'stations' / 'r.csv')} |\n\n"
        "| not | provenance |\n| --- | --- |\n| 1 | 2 |\n",
        encoding="utf-8",
    )
    rows = read_provenance_rows(readme)
    assert [r["file"] for r in rows] == ["a.csv", "stations/r.csv"]
    assert all(_sha256(tmp_path / r["file"]) == r["sha256"] for r in rows)
