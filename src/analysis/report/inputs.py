"""A report's inputs, checked once at the boundary: the parameters (dates, months, basemap), the
files it reads with their content hashes, the cleaned stations (cleaned again only when the inputs'
content changed, `clean_cached`) and what a report was made from (`provenance_of`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from analysis import __version__
from analysis.catalog import cache_folder
from analysis.clean.sources import list_input_files
from analysis.clean.stations import clean_stations, clean_to_folder, read_stations
from analysis.config import City, parse_date, resolve_city
from analysis.errors import BadInputError, UsageError
from analysis.files import project_relative, sha256_of
from analysis.taskforce import extract_date_of, previous_report_date

CACHE_VERSION = 1


def made_at() -> str:
    """When a report or cache was made, as ISO seconds: `SOURCE_DATE_EPOCH` (the reproducible-builds
    convention, UTC) when set, so that a rebuild of the same inputs is byte for byte the same; else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.datetime.now().isoformat(timespec="seconds")


def parse_months(spec: str) -> list[str]:
    """'2021-01:2021-12' (or one month '2021-03') to the list of months 'YYYY-MM', in order."""
    first, _, last = str(spec).partition(":")
    last = last or first
    try:
        a, b = pd.Period(first.strip(), freq="M"), pd.Period(last.strip(), freq="M")
        if not re.fullmatch(r"\d{4}-\d{2}", first.strip()) or not re.fullmatch(r"\d{4}-\d{2}", last.strip()):
            raise ValueError
    except ValueError:
        raise UsageError(f"--months: {spec!r} is not YYYY-MM:YYYY-MM") from None
    if b < a:
        raise UsageError(f"--months: {spec!r} ends before it starts")
    return [str(p) for p in pd.period_range(a, b, freq="M")]


def parse_months_count(spec) -> int | None:
    """`--months N`, a number of monthly reports (>= 1), or None when `spec` is a range of months or not given."""
    text = str(spec).strip() if spec is not None else ""
    if not text.isdigit():
        return None
    if int(text) < 1:
        raise UsageError(f"--months: {spec!r} is not a number of months >= 1")
    return int(text)


def list_months_ending(count: int, last: pd.Timestamp, city: City, extract) -> list[pd.Timestamp]:
    """The report dates of `--months N` ending on `last` (a checked report date, mid-month or not): the month
    ends of the N - 1 months before its month, each checked against the data (`check_as_of`), then `last`."""
    month = pd.Timestamp(last).to_period("M")
    before = [check_as_of((month - k).end_time.date(), city, extract) for k in range(count - 1, 0, -1)]
    return [*before, pd.Timestamp(last)]


def check_basemap(basemap: str | None) -> str:
    """The basemap named (default osm), or a one-line UsageError (`figures.BASEMAP_NAMES`, the names the map
    draws: checked without importing the map's folium, which no page needs)."""
    from analysis.figures import BASEMAP_NAMES

    basemap = (basemap or "osm").lower()
    if basemap not in BASEMAP_NAMES:
        # (both names: the command's flag and the notebook's parameter)
        raise UsageError(f"--basemap (basemap): {basemap!r} is not one of {', '.join(BASEMAP_NAMES)}")
    return basemap


def data_range(city: City, extract) -> tuple[dt.date, dt.date]:
    """The dates a report can be made for: from the buildout start to the records' extract date."""
    return city.buildout_start, pd.Timestamp(extract).date()


def check_as_of(as_of, city: City, extract) -> pd.Timestamp:
    """The report date as a Timestamp: `as_of`, or the extract date when None; a one-line
    UsageError when it is not a date or lies outside the data."""
    first, last = data_range(city, extract)
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return pd.Timestamp(last)
    day = parse_date(as_of)
    if not first <= day <= last:
        raise UsageError(
            f"the report date {day} (--as-of) is outside the data of {city.key} "
            f"({first} to {last}, the records' extract date)"
        )
    return pd.Timestamp(day)


def month_as_of(month: str, city: City, extract) -> pd.Timestamp:
    """A backfilled month's report date: its last day, or the extract date in the extract's month."""
    end = pd.Period(month, freq="M").end_time.normalize()
    last = pd.Timestamp(extract).normalize()
    if end > last and pd.Period(month, freq="M") == last.to_period("M"):
        end = last
    return check_as_of(end.date(), city, extract)


def input_files(city: City, stations=None) -> list[dict]:
    """Every file the report reads, with its sha256 and size: the station files, city.toml and the
    reference layers (districts, built-up areas, key sites)."""
    paths = list(list_input_files([Path(stations) if stations else city.stations_dir]))
    paths += [city.folder / "city.toml"] + [
        city.path(k) for k in ("districts", "urban_areas", "sites") if k in city.files
    ]
    missing = [p for p in paths if not p.is_file()]
    if missing:  # (before any stage runs: a traceback from hashing it was all the report said)
        key = next((k for k in city.files if city.path(k) == missing[0]), None)
        named = f" (named in [files] {key} of city.toml)" if key else ""
        raise BadInputError(f"no such file{named}", missing[0])
    return [{"path": str(p), "sha256": sha256_of(p), "bytes": p.stat().st_size} for p in paths]


@functools.cache
def code_fingerprint() -> str:
    """sha256 of the package's own source files (their paths and bytes): a report made after the code
    changed must not reuse cleaned stations or stage files made by the code before, version bump or not
    (the forecast model changed on 28 Nov with the version still 0.1.0, and a cached 435 stood where the
    new code said 436). About a megabyte of source: milliseconds, once a process."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    # the templates too: the map's script and the pages' words are part of what a stage writes (a changed map
    # template left a cached map drawn by the old one)
    kinds = ("*.py", "*.j2", "*.css", "*.toml", "*.js")
    for path in sorted({p for kind in kinds for p in root.rglob(kind) if "__pycache__" not in p.parts}):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def inputs_key(files: list[dict], extract_date=None) -> str:
    """The cache key: the inputs' content and where they are (not their files' times), the package
    version and its code (`code_fingerprint`) and the extract-date setting."""
    doc = {
        "v": CACHE_VERSION,
        "package": __version__,
        "code": code_fingerprint(),
        "extract_date": str(extract_date or "auto"),
        "files": sorted((project_relative(f["path"]), f["sha256"]) for f in files),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class CleanedInputs(dict):
    """`clean_cached`'s result: a dict whose "stations" (every cleaned station, with its point) are read
    from the cache folder's stations.parquet the first time they are asked for, and kept. A page that
    only counts stations asks `station_columns` instead, and a run that reads nothing from them (the
    forecast and task-force pages, whose stages are on disk) never reads them: at 10^6 stations the
    whole table takes about 4 CPU s and 1.5 GB a notebook."""

    def __missing__(self, key):
        if key != "stations":
            raise KeyError(key)
        self["stations"] = read_stations(Path(self["folder"]) / "stations.parquet")
        return self["stations"]

    def station_columns(self, columns: tuple[str, ...]) -> pd.DataFrame:
        """Only these columns of the cleaned stations (and lon/lat), without points: from the table in
        memory when it was read already, else from the Parquet file's columns alone."""
        wanted = tuple(dict.fromkeys((*columns, "lon", "lat")))
        # off_air_date when the table has it (one cleaned before the column existed has no station off air)
        required = tuple(c for c in wanted if c != "off_air_date")
        if "stations" in self:
            return pd.DataFrame(self["stations"][[c for c in wanted if c in self["stations"].columns]])
        return read_stations(Path(self["folder"]) / "stations.parquet", required, wanted, geometry=False)


def clean_cached(city: str | City, stations=None, processed=None, extract_date=None) -> CleanedInputs:
    """The city's cleaned stations, cleaned only when the inputs' content changed.

    The records are cleaned once, as of their extract date: `extract_date` when given, else the
    latest date found in them (an on-air or stage date), since records cannot mention what had not
    happened when they were extracted. A report for an earlier date then counts only the dates on or
    before it (cleaning at the report date instead would quarantine every station that went on air
    later, and a backfilled report would lose the sites then in the pipeline).

    Outputs go to `<processed>/<city>/cache/<key[:16]>/` (stations.parquet, quarantine.csv,
    source_matches.csv, clean_summary.json, cache.json). Returns a dict (`CleanedInputs`): stations
    (read from the cache when first asked for), summary, key, hit, folder, files, extract (Timestamp),
    extract_rule.
    """
    cfg = resolve_city(city)
    files = input_files(cfg, stations)
    key = inputs_key(files, extract_date)
    folder = cache_folder(cfg.key, key, processed)
    meta_path = folder / "cache.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") == key and (folder / "stations.parquet").is_file():
            return CleanedInputs(
                summary=json.loads((folder / "clean_summary.json").read_text(encoding="utf-8")),
                key=key,
                hit=True,
                folder=folder,
                files=files,
                extract=pd.Timestamp(meta["extract"]),
                extract_rule=meta["extract_rule"],
            )
    inputs = [Path(stations) if stations else cfg.stations_dir]
    if extract_date is not None:
        extract = pd.Timestamp(parse_date(extract_date, "--extract-date"))
        rule = f"given: {extract.date()}"
    elif cfg.records_received is not None:
        extract = pd.Timestamp(cfg.records_received)
        rule = f"records_received in city.toml: {extract.date()}"
    else:
        first = clean_stations(inputs, cfg, as_of=dt.date.today())
        latest = extract_date_of(first.stations)
        extract = latest if latest is not None else pd.Timestamp(dt.date.today())
        rule = "the latest on-air or stage date in the records"
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=folder.parent))
    tmp.chmod(0o755)
    try:
        result = clean_to_folder(inputs, cfg, tmp, as_of=extract.date())
        meta = {
            "key": key,
            "extract": extract.date().isoformat(),
            "extract_rule": rule,
            "files": files,
            "package_version": __version__,
            "made": made_at(),
        }
        (tmp / "cache.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if folder.exists():  # another run finished the same key meanwhile: same content
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return CleanedInputs(
        stations=result.stations,
        summary=result.summary,
        key=key,
        hit=False,
        folder=folder,
        files=files,
        extract=extract,
        extract_rule=rule,
    )


def provenance_of(city: City, as_of, cleaned: dict, lang: str = "zh", previous=None) -> dict:
    """What a report was made from: inputs' content hash and files, city config and its hash, package
    version, as-of, compared (`previous`, default a month earlier) and extract dates, whether the cleaned
    data came from the cache."""
    toml = city.folder / "city.toml"
    rel = project_relative(toml)
    as_of = pd.Timestamp(as_of)
    return {
        "city": city.key,
        "city_name": f"{city.name_zh} ({city.name_en})",
        "city_config": rel,
        "city_config_rel": rel,
        "city_config_sha256": sha256_of(toml),
        "inputs_sha256": cleaned["key"],
        "n_input_files": len(cleaned["files"]),
        # names relative to the project: the provenance of a report is read on other machines
        "files": [{**f, "path": project_relative(f["path"])} for f in cleaned["files"]],
        "cache_hit": bool(cleaned["hit"]),
        "processed": project_relative(cleaned["folder"]),
        "package_version": __version__,
        "as_of": as_of.date().isoformat(),
        "previous": pd.Timestamp(previous if previous is not None else previous_report_date(as_of)).date().isoformat(),
        "extract_date": pd.Timestamp(cleaned["extract"]).date().isoformat(),
        "extract_rule": cleaned["extract_rule"],
        "lang": lang,
        "made": made_at(),
    }
