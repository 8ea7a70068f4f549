"""What each stage writes and where: the catalogue of stage -> files, the folder of one report date,
and the stamp (`stage.json`) that says a stage's files are complete and what they were made from.

Layout under the processed root (default `data/processed/`):

    <city>/cache/<inputs key[:16]>/   clean: stations.parquet, quarantine.csv, source_matches.csv,
                                      clean_summary.json, cache.json (reused while the inputs' content is)
    <city>/<as_of>/<stage>/           forecast, coverage, taskforce: the files below + stage.json

A stage's files are each written atomically (written beside, then renamed in); its stamp is written
last, so a stamp names only files that are there whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analysis.config import PROCESSED_DIR, DateLike, parse_date
from analysis.errors import BadInputError
from analysis.files import write_json

#: Every file a stage writes (figures only when the stage is asked for them).
STAGE_FILES: dict[str, tuple[str, ...]] = {
    "clean": ("stations.parquet", "quarantine.csv", "source_matches.csv", "clean_summary.json"),
    "forecast": ("forecast.csv", "model.json", "levers.csv"),
    "coverage": ("coverage_by_district.csv", "site_coverage.csv", "gaps.geojson", "candidates.csv"),
    "taskforce": (
        "funnel.csv",
        "supervision_list.csv",
        "undated_sites.csv",
        "district_targets.csv",
        "stage_durations.csv",
        "expected_on_air.csv",
        "bottom_up.csv",
        "taskforce_notes.json",
        "sites.csv",
    ),
}
#: The figures (and the map) a stage writes when asked, in one figure language.
STAGE_FIGURES: dict[str, tuple[str, ...]] = {
    "clean": (),
    "forecast": ("forecast.png", "districts.png"),
    "coverage": ("coverage_map.html",),
    "taskforce": ("funnel.png", "blockers.png", "days_stuck.png"),
}
#: The stages that run once per report date, in the order a report runs them.
DATED_STAGES = ("forecast", "coverage", "taskforce")
STAMP = "stage.json"
CACHE_DIR = "cache"


def processed_root(processed: str | Path | None = None) -> Path:
    """The processed root: `processed` when given, else `data/processed/`."""
    return Path(processed) if processed else PROCESSED_DIR


def date_folder(city_key: str, as_of: DateLike, processed: str | Path | None = None) -> Path:
    """`<processed>/<city>/<as_of>/`: every dated stage's outputs for one report date."""
    return processed_root(processed) / city_key / parse_date(as_of, "as_of").isoformat()


def stage_folder(stage: str, city_key: str, as_of: DateLike, processed: str | Path | None = None) -> Path:
    """`<processed>/<city>/<as_of>/<stage>/`."""
    if stage not in DATED_STAGES:
        raise BadInputError(f"no dated stage {stage!r} (one of {', '.join(DATED_STAGES)})")
    return date_folder(city_key, as_of, processed) / stage


def cache_folder(city_key: str, key: str, processed: str | Path | None = None) -> Path:
    """`<processed>/<city>/cache/<key[:16]>/`: the cleaned stations of one content of the inputs."""
    return processed_root(processed) / city_key / CACHE_DIR / key[:16]


def read_stamp(folder: str | Path) -> dict | None:
    """A stage folder's stamp, or None when the stage has not finished there (or the stamp is unreadable,
    which the caller treats the same way: run the stage again)."""
    path = Path(folder) / STAMP
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or any(not (Path(folder) / f).is_file() for f in stamp.get("files", [])):
        return None
    return stamp


def publish_stage(stage: str, out: str | Path, write: Callable[[Path], object], stamp: dict) -> list[Path]:
    """Run `write(tmp)` into a temporary folder inside `out`, then rename each file it wrote into `out`
    and write the stamp last. A file this stage wrote there before (its stamp lists it) and does not
    write now is removed: an optional output of an earlier run (empty_districts.csv, a chart the run
    was asked not to draw) would otherwise sit beside the new ones, read as theirs. Other files of
    `out` are left alone (the command-line verbs write into folders the user names). Returns the files
    written, stamp last."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    before = _files_of_stamp(out, stage)
    (out / STAMP).unlink(missing_ok=True)  # from here until the end the folder is not a finished stage
    tmp = Path(tempfile.mkdtemp(prefix=f".{stage}-", dir=out))
    try:
        write(tmp)
        names = sorted(p.name for p in tmp.iterdir() if p.is_file() and not p.name.startswith("."))
        for name in names:
            os.chmod(tmp / name, 0o644)
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in sorted(before - set(names)):
        (out / name).unlink(missing_ok=True)
    write_json({**stamp, "stage": stage, "files": names}, out / STAMP)
    return [out / n for n in names] + [out / STAMP]


def _files_of_stamp(out: Path, stage: str) -> set[str]:
    """The plain file names the stamp in `out` says `stage` wrote there (none for another stage's stamp, an
    unreadable one, or names that are not files of `out` itself: a stamp is never a licence to delete elsewhere)."""
    try:
        stamp = json.loads((out / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(stamp, dict) or stamp.get("stage") != stage or not isinstance(stamp.get("files"), list):
        return set()
    return {f for f in stamp["files"] if isinstance(f, str) and f == Path(f).name and f not in ("", ".", "..", STAMP)}


def stamp_date(value) -> str | None:
    """A date for a stamp: ISO text, None for none."""
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()
