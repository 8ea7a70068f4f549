"""The stage outputs a report reads: `ensure_stage` runs a stage's entry function for one date when its
files are missing or were made from other inputs (or without the figures or map now wanted), and the
`read_*` functions read those files back as the tables the pages show. Pages never run a stage.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.catalog import DATED_STAGES, STAGE_FIGURES, STAGE_FILES, read_stamp, stage_folder
from analysis.config import City
from analysis.errors import BadInputError

#: Columns read as text whatever they look like (a station code of digits stays a code).
_TEXT_COLUMNS = (
    "station_id",
    "site_id",
    "candidate_id",
    "name",
    "name_zh",
    "name_en",
    "district",
    "rating",
    "rating_date",
    "target_note",
    "sites",
    "band",
    "blocker",
    "blocker_note",
    "operator",
    "stage",
    "category",
    "share_basis",
    "share_source",
)
#: Text columns whose empty cells mean "none" ('' as the stage wrote it); others keep empty as missing.
_BLANK_IS_TEXT = ("name_zh", "name_en", "rating", "rating_date", "target_note", "sites", "category")


@dataclass
class ForecastOutputs:
    """What the forecast stage wrote for one date."""

    folder: Path
    model: str
    targets: pd.DataFrame
    district_table: pd.DataFrame
    backtest: pd.DataFrame
    notes: list[str]
    figures: dict[str, Path] = field(default_factory=dict)
    #: levers.csv: per blocker, what freeing its sites this month adds (empty when the stage wrote none)
    levers: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class CoverageOutputs:
    """What the coverage stage wrote for one date."""

    folder: Path
    mode: str
    full_coverage_pct: float
    by_district: pd.DataFrame
    sites: pd.DataFrame
    gaps: pd.DataFrame
    candidates: pd.DataFrame
    map_html: Path | None = None


@dataclass
class TaskforceOutputs:
    """What the task-force stage wrote for one date."""

    folder: Path
    as_of: pd.Timestamp
    previous: pd.Timestamp
    extract: pd.Timestamp | None
    funnel: pd.DataFrame
    supervision: pd.DataFrame
    districts: pd.DataFrame
    durations: pd.DataFrame
    sites: pd.DataFrame
    figures: dict[str, Path] = field(default_factory=dict)
    #: The files the sites in the pipeline were read from, most sites first (`taskforce.tracking_files`).
    tracking_files: list[str] = field(default_factory=list)
    #: Sites without stage dates in the records that the date is too early to count (`taskforce.TaskforceReport`).
    undated_not_counted: int = 0
    #: undated_sites.csv: the sites in the pipeline whose time in stage is unknown, in the order the pages list them
    undated: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The charts' source line as the stage was given it ("" for the files the sites came from).
    source: str = ""


# --------------------------------------------------------------------------------------------
# Running a stage when its outputs are missing
# --------------------------------------------------------------------------------------------


def stamp_is_current(stamp: dict | None, key: str, fig_lang: str | None, basemap: str | None) -> bool:
    """Whether a stage folder's stamp says its files were made from the inputs `key` (and hold the
    figures in `fig_lang`, or the map on `basemap`, when those are asked for)."""
    if stamp is None or stamp.get("inputs_sha256") != key:
        return False
    # a stamp from before the stage wrote a file it writes now (levers.csv) is stale: run it again
    if not set(STAGE_FILES.get(stamp.get("stage"), ())) <= set(stamp.get("files", ())):
        return False
    if fig_lang is not None and stamp.get("stage") != "coverage" and stamp.get("fig_lang") != fig_lang:
        return False
    return basemap is None or stamp.get("stage") != "coverage" or stamp.get("basemap") == basemap


def run_stage(
    stage: str,
    city: City,
    as_of: pd.Timestamp,
    cleaned: dict,
    folder: Path,
    fig_lang: str | None = None,
    basemap: str | None = None,
) -> list[Path]:
    """Run one dated stage's entry function on the cleaned stations and write its files into `folder`."""
    stamp = {"city": city.key, "inputs_sha256": cleaned["key"]}
    stations = cleaned["stations"]
    if stage == "forecast":
        from analysis.forecast import forecast_stage

        return forecast_stage(
            stations, city, as_of, folder, fig_lang=fig_lang, stamp=stamp, extract_date=cleaned["extract"]
        )
    if stage == "coverage":
        from analysis.coverage import coverage_to_folder

        _, written = coverage_to_folder(
            stations, city, folder, as_of, basemap=basemap, with_map=basemap is not None, stamp=stamp
        )
        return written
    if stage == "taskforce":
        from analysis.taskforce import taskforce_to_folder

        # (the charts name the files the sites in the pipeline came from: `taskforce.tracking_files`)
        _, written = taskforce_to_folder(
            stations,
            city,
            as_of,
            folder,
            extract_date=cleaned["extract"],
            fig_lang=fig_lang,
            stamp=stamp,
        )
        return written
    raise BadInputError(f"no dated stage {stage!r} (one of {', '.join(DATED_STAGES)})")


def ensure_stage(
    stage: str,
    city: City,
    as_of: pd.Timestamp,
    cleaned: dict,
    processed=None,
    fig_lang: str | None = None,
    basemap: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """The folder of a stage's outputs for `as_of`, running the stage first unless its stamp says the
    files there were made from these inputs (and hold the figures in `fig_lang` / the map on
    `basemap` when asked for). Returns the folder."""
    folder = stage_folder(stage, city.key, as_of, processed)
    if not stamp_is_current(read_stamp(folder), cleaned["key"], fig_lang, basemap):
        run_stage(stage, city, as_of, cleaned, folder, fig_lang=fig_lang, basemap=basemap)
        if log is not None:
            log(f"  {stage} {as_of.date()}: written to {folder}")
    return folder


# --------------------------------------------------------------------------------------------
# Reading what a stage wrote
# --------------------------------------------------------------------------------------------


def read_table(path: Path, rows_required: bool = False) -> pd.DataFrame:
    """A stage's CSV as written: text columns as text ('' for empty), numbers and flags as such.
    `rows_required`: a table the stage always writes rows in (one per district and the city), so one cut
    to its header is a broken stage output, said in one line (the page failed with an IndexError)."""
    if not path.is_file():
        raise BadInputError("stage output missing (run the stage again)", path)
    try:
        head = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype={c: str for c in _TEXT_COLUMNS if c in head})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadInputError(f"stage output unreadable ({type(exc).__name__}; run the stage again)", path) from None
    if rows_required and frame.empty:
        raise BadInputError("stage output has no rows (run the stage again)", path)
    for c in _BLANK_IS_TEXT:
        if c in frame:
            frame[c] = frame[c].fillna("")
    return frame


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BadInputError("stage output missing or not JSON (run the stage again)", path) from None


def _dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        if c in frame:
            frame[c] = pd.to_datetime(frame[c].replace("", None))
    return frame


def _figures(folder: Path, stage: str) -> dict[str, Path]:
    return {Path(f).stem: folder / f for f in STAGE_FIGURES[stage] if (folder / f).is_file()}


def read_forecast(folder: Path) -> ForecastOutputs:
    """The forecast's targets, district table, backtest and notes (model.json) and its figures."""
    doc = _read_json(folder / "model.json")
    targets = _dates(pd.DataFrame(doc.get("targets", [])), "target_date")
    districts = _dates(pd.DataFrame(doc.get("districts", [])), "target_date")
    return ForecastOutputs(
        folder=folder,
        model=str(doc.get("model", "")),
        targets=targets,
        district_table=districts,
        backtest=pd.DataFrame(doc.get("backtest", [])),
        notes=list(doc.get("notes", [])),
        figures=_figures(folder, "forecast"),
        levers=_dates(read_table(folder / "levers.csv"), "as_of", "target_date", "year_end"),
    )


def read_coverage(folder: Path) -> CoverageOutputs:
    """The coverage tables, the gaps' attributes (gaps.geojson without geometry) and the map's file."""
    stamp = read_stamp(folder) or {}
    doc = _read_json(folder / "gaps.geojson")
    gaps = pd.DataFrame(
        [f.get("properties", {}) for f in doc.get("features", [])], columns=["rank", "district", "area_km2", "sites"]
    )
    gaps["sites"] = gaps["sites"].fillna("")
    by_district = read_table(folder / "coverage_by_district.csv", rows_required=True)
    mapped = folder / "coverage_map.html"
    return CoverageOutputs(
        folder=folder,
        mode=str(stamp.get("mode") or by_district["mode"].iloc[0]),
        full_coverage_pct=float(stamp.get("full_coverage_pct", 95.0)),
        by_district=by_district,
        sites=read_table(folder / "site_coverage.csv"),
        gaps=gaps,
        candidates=read_table(folder / "candidates.csv"),
        map_html=mapped if mapped.is_file() else None,
    )


def read_taskforce(folder: Path) -> TaskforceOutputs:
    """The task force's tables, each site's stage (sites.csv), the sites of unknown time in stage
    (undated_sites.csv), its dates and its charts."""
    notes = _read_json(folder / "taskforce_notes.json")
    extract = notes.get("extract")
    return TaskforceOutputs(
        folder=folder,
        as_of=pd.Timestamp(notes["as_of"]),
        previous=pd.Timestamp(notes["previous"]),
        extract=pd.Timestamp(extract) if extract else None,
        funnel=read_table(folder / "funnel.csv", rows_required=True),
        supervision=read_table(folder / "supervision_list.csv"),
        districts=_dates(read_table(folder / "district_targets.csv"), "target_date"),
        durations=read_table(folder / "stage_durations.csv"),
        sites=read_table(folder / "sites.csv"),
        figures=_figures(folder, "taskforce"),
        tracking_files=list(notes.get("tracking_files") or []),
        undated_not_counted=int(notes.get("undated_not_counted") or 0),
        undated=read_table(folder / "undated_sites.csv"),
        source=str(notes.get("source") or ""),
    )


# --------------------------------------------------------------------------------------------
# The change since the date a report compares with
# --------------------------------------------------------------------------------------------

#: The funnel's columns that hold the count on the date compared with.
_FUNNEL_BEFORE = ("sites_previous", "undated_sites_previous")


def count_funnel_since(now: pd.DataFrame, before: pd.DataFrame, previous) -> pd.DataFrame:
    """The report date's funnel (`taskforce.build_funnel`, as funnel.csv holds it) with its counts on `previous`
    and the change taken from `before`, the funnel the stage wrote for that date: the counts of one stage
    table on two dates, so the change is the one the stage gives for its own previous date (among the sites
    with stage dates: a site without them entering is no change). A stage or district missing on one date
    counts 0 there."""
    from analysis.taskforce import count_dated_change

    keys = ["district", "stage"]
    then = before[[*keys, "sites", "undated_sites"]].rename(
        columns={"sites": "sites_previous", "undated_sites": "undated_sites_previous"}
    )
    out = now.drop(columns=list(_FUNNEL_BEFORE)).merge(then, on=keys, how="left", sort=False)
    # (counts: `read_table` reads a column named "sites" as text, the key sites' names in other tables)
    for c in ("sites", "undated_sites", *_FUNNEL_BEFORE):
        out[c] = pd.to_numeric(out[c]).fillna(0).astype("int64")
    out["change"] = count_dated_change(
        out["sites"], out["undated_sites"], out["sites_previous"], out["undated_sites_previous"]
    )
    out["previous_as_of"] = pd.Timestamp(previous).date().isoformat()
    return out[list(now.columns)]


def recount_taskforce_since(
    now: TaskforceOutputs, before: TaskforceOutputs, city: City, fig_lang: str | None, out: Path | None
) -> TaskforceOutputs:
    """The report date's task-force outputs counted since `before`'s date instead of the stage's own previous
    date: the funnel (`count_funnel_since`) and its chart drawn again (`taskforce.plot_funnel`, into `out`
    beside the pages, or a temporary folder without one), so the chart's marker, the table and the sentence
    name the date the other pages compare with."""
    funnel = count_funnel_since(now.funnel, before.funnel, before.as_of)
    figures = dict(now.figures)
    if "funnel" in figures and fig_lang is not None:
        figures["funnel"] = _draw_funnel(now, funnel, before.as_of, city, fig_lang, out)
    return dataclasses.replace(now, previous=before.as_of, funnel=funnel, figures=figures)


def _draw_funnel(
    now: TaskforceOutputs, funnel: pd.DataFrame, previous: pd.Timestamp, city: City, lang: str, out: Path | None
) -> Path:
    import matplotlib.pyplot as plt

    from analysis.taskforce import TaskforceReport, plot_funnel

    empty = pd.DataFrame()
    # the chart reads the funnel, the dates, the city and the source line; the stage's other tables stay on disk
    report = TaskforceReport(
        as_of=now.as_of,
        previous=previous,
        extract=now.extract,
        city=city,
        stuck_days={},
        sites=now.sites,
        funnel=funnel,
        supervision=now.supervision,
        undated=now.undated,
        durations=now.durations,
        expected=empty,
        bottom_up=empty,
        districts=now.districts,
        source=now.source,
        tracking=now.tracking_files,
    )
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="fiveg-funnel-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"funnel_since_{previous.date().isoformat()}.png"
    fig = plot_funnel(report, lang=lang)
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        # (as the stage writes its charts: no software stamp, so a rerun writes the same bytes)
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight", metadata={"Software": None})
        os.replace(tmp, path)
    finally:
        plt.close(fig)
    return path
