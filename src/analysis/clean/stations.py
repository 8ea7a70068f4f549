"""Cleaning: raw station records in, one row per physical station out, nothing lost.

Every raw row ends kept, merged into another row (an exact or near duplicate, a cell of the same
gNB, the same station seen by another source) or quarantined with a reason, and
`clean_summary.json` shows rows_in == rows_kept + rows_merged + rows_quarantined.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from analysis import __version__, geo
from analysis.clean import parse
from analysis.config import City, OPERATORS, load_city, parse_date, resolve_city
from analysis.errors import BadInputError, UsageError
from analysis.files import (
    project_relative,
    sha256_of,
    write_atomic,
    write_csv,
    write_json,
)
from analysis.schemas import STAGE_DATE_COLUMNS, STATION_COLUMNS, STATION_DTYPES, on_air_at, stations_schema
from analysis.clean.sources import (
    FIELDS,
    OPENCELLID_COLUMNS,
    RawTable,
    list_input_files,
    read_station_file,
)

#: Two records of one operator closer than this are one station (same code, or no code).
DUPLICATE_RADIUS_M = 50.0
#: An OpenCelliD gNB site within this distance of an operator's station of the same operator is
#: that station: OpenCelliD positions are averages of where phones heard the cells.
MATCH_RADIUS_M = 500.0
#: Sources of one station further apart than this are flagged in source_matches.csv.
DISAGREE_RADIUS_M = 200.0
#: China's 5G licences were issued on 2019-06-06; an NR on-air date before 2019 is a typo.
EARLIEST_ON_AIR = pd.Timestamp("2019-01-01")
DEFAULT_GNB_ID_BITS = 24

#: Why a row was quarantined, in the order the checks run (the first that applies is recorded).
QUARANTINE_REASONS = {
    "blank_row": "the row is empty",
    "no_identity": "no site code and no name: the record cannot be told apart from others",
    "missing_coordinates": "longitude or latitude is missing",
    "unparseable_coordinates": "longitude or latitude cannot be read as a number or as degrees-minutes-seconds",
    "zero_coordinates": "longitude or latitude is 0",
    "unknown_crs": "the coordinate system named in the row is not WGS-84, GCJ-02 or BD-09",
    "outside_city": "the point lies outside every district of the city (also with latitude and longitude swapped)",
    "unparseable_on_air_date": "the on-air date cannot be read as a date",
    "future_on_air_date": "the on-air date is after the report date",
    "on_air_date_before_2019": "the on-air date is before 2019, before any 5G licence",
    "on_air_without_date": "the status says on air but no on-air date is given",
    "site_code_conflict": "the same operator reports this site code at a place more than 50 m from the kept record",
    "not_nr": "an OpenCelliD cell of another radio (GSM, UMTS, LTE, CDMA): not a 5G cell",
    "unparseable_cell_id": "the OpenCelliD cell identity (NCI) or network code is not a number",
}
#: Why a row was merged into another.
MERGE_REASONS = {
    "exact_duplicate": "the same record repeated",
    "same_site_code": "the same operator and site code within 50 m",
    "co_located": "the same operator within 50 m, without a site code",
    "cell_of_same_gnb": "another NR cell of the same gNB (OpenCelliD)",
    "same_station_other_source": "the same operator's station seen in another source (OpenCelliD) within 500 m",
}


@dataclass
class CleanResult:
    """What `clean_stations` returns: the three outputs, the source ledger and the files that failed."""

    stations: gpd.GeoDataFrame
    quarantine: pd.DataFrame
    summary: dict
    source_matches: pd.DataFrame

    @property
    def failed_files(self) -> list[str]:
        """One line per file that could not be read at all (also in the summary)."""
        return self.summary["failed_files"]


# --- helpers -----------------------------------------------------------------------------------

def parse_gnb_id_bits(spec: str | int | dict | None) -> dict[str, int]:
    """'24' or 'CMCC=24,CTCC=22' (or a dict) to {operator: bits}, with key '*' the default."""
    if spec is None:
        return {"*": DEFAULT_GNB_ID_BITS}
    if isinstance(spec, dict):
        out = {"*": DEFAULT_GNB_ID_BITS, **spec}
    elif isinstance(spec, int):
        out = {"*": spec}
    else:
        out = {"*": DEFAULT_GNB_ID_BITS}
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            key, _, value = part.rpartition("=")
            key = key.strip().upper() or "*"
            if key not in OPERATORS and key != "*":
                raise UsageError(f"--gnb-id-bits: unknown operator {key!r} (use one of {', '.join(OPERATORS[:4])})")
            try:
                out[key] = int(value)
            except ValueError:
                raise UsageError(f"--gnb-id-bits: {value!r} is not a number of bits") from None
    for key, bits in out.items():
        if not 22 <= bits <= 32:
            raise UsageError(f"--gnb-id-bits: {key}={bits} is outside 3GPP's 22–32 bits")
    return out


def _metric_xy(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Local equirectangular metres: exact enough for the 50–500 m distances compared here,
    at any scale (a national file spans many UTM zones)."""
    r = 6_371_008.8
    lat_r = np.radians(lat)
    return np.column_stack([np.radians(lon) * r * np.cos(lat_r), lat_r * r])


def _haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def _join_in_order(keys: pd.Series, values: pd.Series, sep: str = "; ") -> pd.Series:
    """Per key, its values joined in their order; one Python join per key with several values only
    (most stations have one record, and a per-group lambda costs seconds per 100,000 groups)."""
    k = pd.Series(keys.to_numpy())
    v = pd.Series(values.to_numpy(dtype=object))
    multi = k.duplicated(keep=False).to_numpy()
    single = pd.Series(v[~multi].to_numpy(), index=k[~multi].to_numpy(), dtype=object)
    if not multi.any():
        return single
    joined = v[multi].groupby(k[multi].to_numpy(), sort=False).agg(sep.join)
    return pd.concat([single, joined])


def _join_unique_sorted(keys: pd.Series, values: pd.Series, sep: str = "; ") -> pd.Series:
    """Per key, its distinct non-missing values sorted and joined; None where it has none."""
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy(dtype=object)}).dropna(subset=["v"])
    frame = frame.drop_duplicates().sort_values("v", kind="stable")
    out = _join_in_order(frame["k"], frame["v"], sep)
    return out.reindex(pd.unique(keys.to_numpy()))


def _source_label(file: pd.Series, sheet: pd.Series, row: pd.Series) -> pd.Series:
    sheet_part = ("[" + sheet.astype("string") + "]").fillna("")
    return file.astype("string") + sheet_part + ":" + row.astype("string")


def _normalize_code(values: pd.Series) -> pd.Series:
    text = parse.normalize_text(values).str.upper().str.replace(r"\s+", "_", regex=True)
    # Excel turns long numeric codes into floats: "6502030001.0" is code 6502030001
    return text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)


# --- reading -----------------------------------------------------------------------------------

def _read_all(files: list[Path], progress=None) -> tuple[list[RawTable], list[dict], list[str]]:
    tables, file_info, failed = [], [], []
    for path in files:
        try:
            file_tables = read_station_file(path)
            digest = sha256_of(path)  # once per file, not per sheet
        except BadInputError as exc:
            failed.append(exc.one_line())
            file_info.append({"file": project_relative(path), "error": exc.problem})
            continue
        finally:
            if progress is not None:
                progress.advance(note=f"read {path.name}")
        for t in file_tables:
            tables.append(t)
            file_info.append({
                "file": project_relative(path), "sheet": t.sheet, "kind": t.kind, "encoding": t.encoding,
                "header_row": t.header_row, "rows": int(len(t.frame)), "columns": t.columns,
                "trailing_empty_rows_ignored": t.trailing_blank_rows,
                "sha256": digest,
            })
    return tables, file_info, failed


def _stack(tables: list[RawTable], kind: str, columns: tuple[str, ...]) -> pd.DataFrame:
    frames = []
    for t in tables:
        if t.kind != kind:
            continue
        f = t.frame.reindex(columns=[*columns, "source_row"])
        if kind == "operator":
            # a report of one operator often names it only in its file name or title
            f["file_operator"] = parse.parse_operators(pd.Series([t.context])).iloc[0]
        f.insert(0, "source_sheet", t.sheet)
        f.insert(0, "source_file", project_relative(t.path))
        frames.append(f)
    if not frames:
        extra = ["file_operator"] if kind == "operator" else []
        return pd.DataFrame(columns=["source_file", "source_sheet", *columns, "source_row", *extra])
    out = pd.concat(frames, ignore_index=True)
    out[list(columns)] = out[list(columns)].astype(object).where(out[list(columns)].notna(), None)
    out["source_row"] = out["source_row"].astype("int64")
    return out


# --- the operator-report rows ------------------------------------------------------------------

def _append_note(notes: pd.Series, mask: pd.Series, text: str, values: pd.Series | None = None,
                 tail: str = "") -> pd.Series:
    """notes + text (+ the row's value + tail) where mask holds, building strings for those rows only."""
    mask = mask.fillna(False).astype(bool).to_numpy()
    if not mask.any():
        return notes
    notes = notes.copy()
    add = text if values is None else text + values[mask].astype(str) + tail
    notes[mask] = notes[mask] + add
    return notes


def _first_reason(checks: list[tuple[str, pd.Series]], index) -> pd.Series:
    reason = pd.Series(None, index=index, dtype=object)
    for name, mask in checks:
        reason = reason.mask(reason.isna() & mask.fillna(False).astype(bool), name)
    return reason


def _parse_operator_rows(raw: pd.DataFrame, districts, as_of: pd.Timestamp, default_crs: str) -> pd.DataFrame:
    """Typed values, the district and the first quarantine reason (None when usable) per row."""
    rec = pd.DataFrame(index=raw.index)

    lon_text, lat_text = raw["lon"], raw["lat"]
    if raw["lonlat"].notna().any():
        split_lon, split_lat = parse.split_lonlat(pd.Series(raw["lonlat"], dtype=object))
        use = lon_text.isna() & lat_text.isna() & raw["lonlat"].notna()
        lon_text = lon_text.where(~use, split_lon.astype(object))
        lat_text = lat_text.where(~use, split_lat.astype(object))
    lon = parse.parse_coordinates(pd.Series(lon_text, dtype=object))
    lat = parse.parse_coordinates(pd.Series(lat_text, dtype=object))
    missing_xy = lon_text.isna() | lat_text.isna()
    bad_xy = ~missing_xy & (lon.isna() | lat.isna() | (lon.abs() > 180) | (lat.abs() > 180))
    zero_xy = ~missing_xy & ~bad_xy & ((lon == 0) | (lat == 0))

    crs = parse.parse_crs(pd.Series(raw["crs"], dtype=object)).fillna(default_crs)
    unknown_crs = crs == "unknown"

    usable_xy = ~(missing_xy | bad_xy | zero_xy | unknown_crs)
    x = lon.where(usable_xy, 0.0).to_numpy(float)
    y = lat.where(usable_xy, 0.0).to_numpy(float)
    is_gcj = (crs == "gcj02").to_numpy()
    is_bd = (crs == "bd09").to_numpy()

    def to_wgs84(a, b):
        a, b = a.copy(), b.copy()
        if is_bd.any():
            a[is_bd], b[is_bd] = geo.bd09_to_gcj02(a[is_bd], b[is_bd])
        conv = is_gcj | is_bd
        if conv.any():
            a[conv], b[conv] = geo.gcj02_to_wgs84(a[conv], b[conv])
        return a, b

    wlon, wlat = to_wgs84(x, y)
    district = pd.Series(geo.assign_district(wlon, wlat, districts), index=raw.index, dtype=object)
    swap_lon, swap_lat = to_wgs84(y, x)
    # only rows outside every district can be swapped ones: look the others up once, not twice
    maybe = (usable_xy & district.isna()).to_numpy()
    swapped_district = np.full(len(raw), None, dtype=object)
    if maybe.any():
        swapped_district[maybe] = geo.assign_district(swap_lon[maybe], swap_lat[maybe], districts)
    swapped_district = pd.Series(swapped_district, index=raw.index, dtype=object)
    swapped = usable_xy & district.isna() & swapped_district.notna()
    rec["lon"] = np.where(swapped, swap_lon, wlon)
    rec["lat"] = np.where(swapped, swap_lat, wlat)
    rec["district"] = district.where(~swapped, swapped_district)
    outside = usable_xy & rec["district"].isna()

    rec["site_code"] = _normalize_code(pd.Series(raw["site_code"], dtype=object)).astype(object)
    rec["site_code"] = rec["site_code"].where(rec["site_code"].notna(), None)
    name = parse.normalize_text(pd.Series(raw["name"], dtype=object))
    rec["name"] = name.astype(object).where(name.notna(), None)
    no_identity = rec["site_code"].isna() & rec["name"].isna()
    # blank: every cell empty or only spaces (looked at only where there is no identity: cheap)
    blank = pd.Series(False, index=raw.index)
    if no_identity.any():
        cells = raw.loc[no_identity, list(FIELDS)].astype("string")
        blank[no_identity] = cells.apply(lambda c: c.isna() | (c.str.strip() == "")).all(axis=1)
    rec["operator"] = parse.parse_operators(pd.Series(raw["operator"], dtype=object))
    from_file = (rec["operator"] == "unknown") & raw["operator"].isna() & (raw["file_operator"] != "unknown")
    rec.loc[from_file, "operator"] = raw.loc[from_file, "file_operator"]
    band = parse.parse_bands(pd.Series(raw["band"], dtype=object))
    rec["band"] = band.where(band != "unknown", None)  # so that another record of the station can say
    rec["reported_status"] = parse.parse_statuses(pd.Series(raw["status"], dtype=object))
    blocker = parse.parse_blockers(pd.Series(raw["blocker"], dtype=object))
    rec["blocker"] = blocker.where(blocker.notna(), None)

    notes = pd.Series("", index=raw.index, dtype=object)
    notes = _append_note(notes, swapped, "latitude and longitude swapped in the source; ")
    notes = _append_note(notes, usable_xy & pd.Series(is_gcj, index=raw.index), "GCJ-02 converted to WGS-84; ")
    notes = _append_note(notes, usable_xy & pd.Series(is_bd, index=raw.index), "BD-09 converted to WGS-84; ")

    for stage, column in STAGE_DATE_COLUMNS.items():
        text = pd.Series(raw[column], dtype=object)
        parsed = parse.parse_dates(text)
        rec[column] = parsed
        if stage != "on_air":
            unreadable = text.notna() & parsed.isna()
            notes = _append_note(notes, unreadable, f"{column} unreadable: ", text, "; ")
    on_air_text = pd.Series(raw["on_air_date"], dtype=object)
    on_air = rec["on_air_date"]
    bad_date = on_air_text.notna() & on_air.isna()
    future = on_air > as_of
    too_early = on_air < EARLIEST_ON_AIR
    no_date = (rec["reported_status"] == "on_air") & on_air.isna() & ~bad_date

    dated_but_not_on_air = on_air.notna() & ~rec["reported_status"].isin(["on_air", "unknown", "decommissioned"])
    notes = _append_note(notes, dated_but_not_on_air, "reported status ", rec["reported_status"], " but has an on-air date; ")
    rec["status"] = rec["reported_status"].mask(on_air.notna() & (rec["reported_status"] != "decommissioned"), "on_air")
    rec["notes"] = notes.str.rstrip("; ").where(notes != "", None)

    checks = [
        ("blank_row", blank),
        ("no_identity", no_identity),
        ("missing_coordinates", missing_xy),
        ("unparseable_coordinates", bad_xy),
        ("zero_coordinates", zero_xy),
        ("unknown_crs", unknown_crs & ~missing_xy),
        ("outside_city", outside),
        ("unparseable_on_air_date", bad_date),
        ("future_on_air_date", future),
        ("on_air_date_before_2019", too_early),
        ("on_air_without_date", no_date),
    ]
    rec["reason"] = _first_reason(checks, raw.index)
    # the detail text of each reason, built only for the rows quarantined for it
    details = {
        "missing_coordinates": lambda m: "lon=" + lon_text[m].astype(str) + " lat=" + lat_text[m].astype(str),
        "unparseable_coordinates": lambda m: "lon=" + lon_text[m].astype(str) + " lat=" + lat_text[m].astype(str),
        "unknown_crs": lambda m: "crs=" + raw["crs"][m].astype(str),
        "outside_city": lambda m: ("WGS-84 " + rec["lon"][m].round(5).astype(str) + ", "
                                   + rec["lat"][m].round(5).astype(str)),
        "unparseable_on_air_date": lambda m: "on_air_date=" + on_air_text[m].astype(str),
        "future_on_air_date": lambda m: ("on_air_date " + on_air[m].dt.strftime("%Y-%m-%d") + " > "
                                         + as_of.strftime("%Y-%m-%d")),
        "on_air_date_before_2019": lambda m: "on_air_date " + on_air[m].dt.strftime("%Y-%m-%d"),
    }
    detail = np.full(len(rec), None, dtype=object)
    reason = rec["reason"].to_numpy(dtype=object)
    for name_, make in details.items():
        m = reason == name_
        if m.any():
            detail[m] = make(m).to_numpy(dtype=object)
    rec["detail"] = pd.Series(detail, index=rec.index, dtype=object)
    rec["n_fields"] = raw[list(FIELDS)].notna().sum(axis=1)
    return rec


def _dedupe(raw: pd.DataFrame, rec: pd.DataFrame) -> pd.DataFrame:
    """For the usable rows: which row each merges into (itself for kept rows), and why.

    Returns a frame indexed like the usable rows with `anchor` (row index it belongs to),
    `merge_reason` (None for anchors) and, for rows that contradict their anchor, a
    `conflict` quarantine detail.
    """
    alive = rec.index[rec["reason"].isna()]
    # Priority: the most complete record represents the station; ties go to file order.
    order = rec.loc[alive].assign(_pos=np.arange(len(alive))).sort_values(["n_fields", "_pos"], ascending=[False, True])
    idx = order.index
    out = pd.DataFrame({"anchor": idx, "merge_reason": None, "conflict": None}, index=idx)

    # 1. exact repeats of the whole record
    key = raw.loc[idx, list(FIELDS)].astype("string").fillna("\x00")
    first = key.groupby(list(FIELDS), sort=False, dropna=False).ngroup()
    first_idx = pd.Series(idx, index=idx).groupby(first.to_numpy()).transform("first")
    dup = first_idx != idx
    out.loc[dup, "anchor"] = first_idx[dup]
    out.loc[dup, "merge_reason"] = "exact_duplicate"
    live = idx[~dup.to_numpy()]

    # 2. the same operator and site code: one station if within 50 m, a conflict if not
    coded = live[rec.loc[live, "site_code"].notna().to_numpy()]
    if len(coded):
        grp = rec.loc[coded, ["operator", "site_code"]]
        head = pd.Series(coded, index=coded).groupby([grp["operator"], grp["site_code"]], sort=False).transform("first")
        dist = _haversine_m(rec.loc[coded, "lon"].to_numpy(), rec.loc[coded, "lat"].to_numpy(),
                            rec.loc[head, "lon"].to_numpy(), rec.loc[head, "lat"].to_numpy())
        is_dup = (head.to_numpy() != coded) & (dist <= DUPLICATE_RADIUS_M)
        is_conflict = (head.to_numpy() != coded) & (dist > DUPLICATE_RADIUS_M)
        out.loc[coded[is_dup], "anchor"] = head.to_numpy()[is_dup]
        out.loc[coded[is_dup], "merge_reason"] = "same_site_code"
        conflict_rows = coded[is_conflict]
        out.loc[conflict_rows, "anchor"] = head.to_numpy()[is_conflict]
        out.loc[conflict_rows, "conflict"] = [
            f"{d:.0f} m from the kept record of this code" for d in dist[is_conflict]
        ]
    heads = live[out.loc[live, "anchor"].to_numpy() == live]

    # 3. rows without a code: the same operator's coded record within 50 m (the nearest), else
    #    each other; coded records are never merged here, not even through a code-less one
    codeless = heads[rec.loc[heads, "site_code"].isna().to_numpy()]
    for operator in sorted(rec.loc[codeless, "operator"].unique()) if len(codeless) else []:
        members = heads[(rec.loc[heads, "operator"] == operator).to_numpy()]
        has_code = rec.loc[members, "site_code"].notna().to_numpy()
        coded, free = members[has_code], members[~has_code]
        free_xy = _metric_xy(rec.loc[free, "lon"].to_numpy(), rec.loc[free, "lat"].to_numpy())
        if len(coded):
            tree = cKDTree(_metric_xy(rec.loc[coded, "lon"].to_numpy(), rec.loc[coded, "lat"].to_numpy()))
            d, j = tree.query(free_xy, distance_upper_bound=DUPLICATE_RADIUS_M)
            near = np.isfinite(d)
            out.loc[free[near], "anchor"] = coded[j[near]]
            out.loc[free[near], "merge_reason"] = "co_located"
            free, free_xy = free[~near], free_xy[~near]
        pairs = cKDTree(free_xy).query_pairs(DUPLICATE_RADIUS_M, output_type="ndarray") if len(free) > 1 else []
        if len(pairs):
            n = len(free)
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
            _, label = connected_components(graph, directed=False)
            # `free` is in priority order: the first row of each component heads it
            first = pd.Series(np.arange(n)).groupby(label).transform("min").to_numpy()
            moved = first != np.arange(n)
            out.loc[free[moved], "anchor"] = free[first[moved]]
            out.loc[free[moved], "merge_reason"] = "co_located"
    # a repeat of a record that conflicts with its code's kept record is that conflict too
    conflicted = out.index[out["conflict"].notna()]
    of_conflict = out["anchor"].isin(conflicted) & out["conflict"].isna()
    if of_conflict.any():
        src = out.loc[of_conflict, "anchor"].to_numpy()
        out.loc[of_conflict, "conflict"] = out.loc[src, "conflict"].to_numpy()
        out.loc[of_conflict, "anchor"] = out.loc[src, "anchor"].to_numpy()
        out.loc[of_conflict, "merge_reason"] = None
    # rows merged into a row that was itself merged follow it to the end of the chain
    anchors = out["anchor"]
    for _ in range(3):
        anchors = anchors.map(anchors).fillna(anchors).astype(anchors.dtype)
    out["anchor"] = anchors
    return out


# --- OpenCelliD --------------------------------------------------------------------------------

#: Mobile network codes of MCC 460 (China), from the ITU-T E.212 list.
MNC_OPERATOR = {0: "CMCC", 2: "CMCC", 4: "CMCC", 7: "CMCC", 8: "CMCC", 1: "CUCC", 6: "CUCC", 9: "CUCC",
                3: "CTCC", 5: "CTCC", 11: "CTCC", 15: "CBN"}


def _opencellid_sites(cells: pd.DataFrame, districts, as_of: pd.Timestamp, gnb_bits: dict[str, int]) -> pd.DataFrame:
    """Per cell row: reason (quarantine) or its gNB site; per site: position, operator, first seen."""
    rec = pd.DataFrame(index=cells.index)
    radio = parse.normalize_text(pd.Series(cells["radio"], dtype=object)).str.upper()
    mcc = pd.to_numeric(cells["mcc"], errors="coerce")
    net = pd.to_numeric(cells["net"], errors="coerce")
    nci = pd.to_numeric(cells["cell"], errors="coerce")
    lon = pd.to_numeric(cells["lon"], errors="coerce")
    lat = pd.to_numeric(cells["lat"], errors="coerce")
    created_num = pd.to_numeric(cells["created"], errors="coerce")
    created = pd.to_datetime(created_num, unit="s", errors="coerce").dt.normalize()
    created = created.fillna(parse.parse_dates(pd.Series(cells["created"], dtype=object)))
    operator = pd.Series(np.where(mcc == 460, net.map(MNC_OPERATOR), None), index=cells.index).fillna("unknown")

    not_nr = radio != "NR"
    bad_id = ~not_nr & (nci.isna() | net.isna() | mcc.isna() | (nci < 0))
    missing_xy = cells["lon"].isna() | cells["lat"].isna()
    bad_xy = ~missing_xy & (lon.isna() | lat.isna())
    zero_xy = ~missing_xy & ~bad_xy & ((lon == 0) | (lat == 0))
    rec["reason"] = _first_reason([
        ("not_nr", not_nr), ("unparseable_cell_id", bad_id), ("missing_coordinates", missing_xy),
        ("unparseable_coordinates", bad_xy), ("zero_coordinates", zero_xy),
    ], cells.index)
    rec["detail"] = None
    rec.loc[rec["reason"] == "not_nr", "detail"] = "radio=" + radio.astype(str)
    ok = rec["reason"].isna()
    bits = operator.map(lambda op: gnb_bits.get(op, gnb_bits["*"])).astype("int64")
    gnb = pd.Series(np.right_shift(nci.fillna(0).astype("int64").to_numpy(), (36 - bits).to_numpy()),
                    index=cells.index).where(ok)
    rec["operator"] = operator
    rec["gnb_key"] = (mcc.astype("Int64").astype(str) + "-" + net.astype("Int64").astype(str) + "-"
                      + gnb.astype("Int64").astype(str)).where(ok)
    rec["lon"], rec["lat"], rec["created"] = lon, lat, created

    live = rec[ok]
    sites = live.groupby("gnb_key", sort=True).agg(
        operator=("operator", "first"), lon=("lon", "median"), lat=("lat", "median"),
        on_air_date=("created", "min"), cells=("lon", "size"),
    )
    # the site's first raw row (a per-group lambda here costs seconds per 100,000 sites)
    sites.insert(4, "anchor", live.index.to_series().groupby(live["gnb_key"], sort=True).min())
    sites["district"] = geo.assign_district(sites["lon"].to_numpy(), sites["lat"].to_numpy(), districts)
    sites["reason"] = _first_reason([
        ("outside_city", sites["district"].isna()),
        ("future_on_air_date", sites["on_air_date"] > as_of),
        ("on_air_date_before_2019", sites["on_air_date"] < EARLIEST_ON_AIR),
    ], sites.index)
    rec["site_reason"] = rec["gnb_key"].map(sites["reason"])
    return rec, sites


# --- putting it together -----------------------------------------------------------------------

def _to_timestamp(as_of) -> pd.Timestamp:
    """The report date (today when not given) as a Timestamp; a one-line UsageError when not a date."""
    return pd.Timestamp(dt.date.today() if as_of is None else parse_date(as_of))


def clean_stations(
    inputs: list[str | Path] | str | Path,
    city: str | City | None = None,
    as_of: str | dt.date | None = None,
    input_crs: str | None = None,
    gnb_id_bits: str | int | dict | None = None,
) -> CleanResult:
    """Clean raw station files (or folders of them) for one city.

    Returns the stations (GeoDataFrame, WGS-84), the quarantine (every raw row not kept, with
    its reason; merged rows with the station they joined), the summary dict and the source
    ledger. Files that cannot be read at all are listed in `failed_files` (one line each) and
    the others are still cleaned.
    """
    city = resolve_city(city)
    as_of_ts = _to_timestamp(as_of)
    default_crs = _default_crs(input_crs)
    gnb_bits = parse_gnb_id_bits(gnb_id_bits)
    districts = geo.read_districts(city)

    inputs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    missing = [Path(p) for p in inputs if not Path(p).exists()]
    files = list_input_files([p for p in inputs if Path(p).exists()])
    from analysis.progress import task

    with task("clean", len(files) + 1) as progress:  # a step per file read, then one for the stages
        tables, file_info, failed = _read_all(files, progress)
        failed = [f"{p}: no such file or folder" for p in missing] + failed
        file_info = [{"file": str(p), "error": "no such file or folder"} for p in missing] + file_info
        result = _clean_tables(tables, file_info, failed, city, districts, as_of_ts, default_crs, gnb_bits)
        progress.advance(note=f"{len(result.stations):,} stations, {len(result.quarantine):,} rows quarantined")
    return result


def clean_tables(
    tables: list[RawTable],
    city: str | City | None = None,
    as_of: str | dt.date | None = None,
    input_crs: str | None = None,
    gnb_id_bits: str | int | dict | None = None,
    file_info: list[dict] | None = None,
) -> CleanResult:
    """`clean_stations` on tables already read (`sources.read_station_file`, or a partition of a
    file that keeps each row's `source_row` in the whole file, as `analysis.clean.partitioned` makes)."""
    city = resolve_city(city)
    info = file_info if file_info is not None else [
        {"file": project_relative(t.path), "sheet": t.sheet, "kind": t.kind, "rows": int(len(t.frame))} for t in tables]
    return _clean_tables(tables, info, [], city, geo.read_districts(city), _to_timestamp(as_of),
                         _default_crs(input_crs), parse_gnb_id_bits(gnb_id_bits))


def _default_crs(input_crs: str | None) -> str:
    default_crs = (input_crs or "wgs84").lower().replace("-", "")
    if default_crs not in ("wgs84", "gcj02", "bd09"):
        raise UsageError(f"--input-crs: {input_crs!r} is not wgs84, gcj02 or bd09")
    return default_crs


def _clean_tables(tables: list[RawTable], file_info: list[dict], failed: list[str], city: City, districts,
                  as_of_ts: pd.Timestamp, default_crs: str, gnb_bits: dict[str, int]) -> CleanResult:
    """The body of `clean_stations` once the files are read: also what each partition of
    `analysis.clean.partitioned.clean_partitioned` runs, on tables that keep their source file and row."""
    raw = _stack(tables, "operator", FIELDS)
    cells = _stack(tables, "opencellid", OPENCELLID_COLUMNS)

    # --- operator reports
    rec = _parse_operator_rows(raw, districts, as_of_ts, default_crs)
    dd = _dedupe(raw, rec)
    conflict = dd["conflict"].notna()
    conflict_anchor = dd.loc[conflict, "anchor"]
    rec.loc[dd.index[conflict], "reason"] = "site_code_conflict"
    rec.loc[dd.index[conflict], "detail"] = dd.loc[conflict, "conflict"]
    dd = dd[~conflict]
    rec["anchor"] = dd["anchor"]
    rec["merge_reason"] = dd["merge_reason"]
    heads = dd.index[dd["anchor"].to_numpy() == dd.index.to_numpy()]

    # --- OpenCelliD
    cell_rec, sites = _opencellid_sites(cells, districts, as_of_ts, gnb_bits)
    good_sites = sites[sites["reason"].isna()]
    site_station = pd.Series(None, index=good_sites.index, dtype=object)  # gnb_key -> operator head row
    site_dist = pd.Series(np.nan, index=good_sites.index)
    for operator in sorted(good_sites["operator"].unique()):
        s = good_sites[good_sites["operator"] == operator]
        h = heads[(rec.loc[heads, "operator"] == operator).to_numpy()]
        if not len(h):
            continue
        tree = cKDTree(_metric_xy(rec.loc[h, "lon"].to_numpy(), rec.loc[h, "lat"].to_numpy()))
        d, j = tree.query(_metric_xy(s["lon"].to_numpy(), s["lat"].to_numpy()), distance_upper_bound=MATCH_RADIUS_M)
        found = np.isfinite(d)
        site_station.loc[s.index[found]] = h[j[found]]
        exact = _haversine_m(s["lon"].to_numpy()[found], s["lat"].to_numpy()[found],
                             rec.loc[h[j[found]], "lon"].to_numpy(), rec.loc[h[j[found]], "lat"].to_numpy())
        site_dist.loc[s.index[found]] = exact

    # --- station ids of the kept rows
    r = rec.loc[heads, ["operator", "site_code", "lon", "lat"]]
    code_id = r["operator"] + "-" + r["site_code"].astype("string")
    no_code = code_id.isna().to_numpy()
    # a position id only where there is no code (a Python format call per row)
    pos_id = (r["operator"][no_code] + "-@" + r["lon"][no_code].map("{:.5f}".format) + ","
              + r["lat"][no_code].map("{:.5f}".format))
    head_ids = code_id.fillna(pos_id).astype(object)
    del r
    network_only = good_sites[site_station.isna()]
    site_ids = (network_only["operator"] + "-G" + network_only.index.to_series()).astype(object)

    # --- fates of every raw row
    op_fate = pd.DataFrame(index=rec.index)
    op_fate["reason"] = rec["reason"]
    op_fate["detail"] = rec["detail"]
    op_fate["merged_into"] = None
    merged_rows = dd.index[dd["merge_reason"].notna()]
    op_fate.loc[merged_rows, "reason"] = dd.loc[merged_rows, "merge_reason"]
    op_fate.loc[merged_rows, "merged_into"] = head_ids.reindex(dd.loc[merged_rows, "anchor"]).to_numpy()
    op_fate.loc[merged_rows, "detail"] = dd.loc[merged_rows, "merge_reason"].map(MERGE_REASONS)
    op_fate.loc[conflict_anchor.index, "detail"] = (
        op_fate.loc[conflict_anchor.index, "detail"] + " " + head_ids.reindex(conflict_anchor).to_numpy())
    op_fate["fate"] = np.where(op_fate["reason"].isna(), "kept", "quarantined")
    op_fate.loc[merged_rows, "fate"] = "merged"

    cell_fate = pd.DataFrame(index=cell_rec.index)
    cell_fate["reason"] = cell_rec["reason"].fillna(cell_rec["site_reason"])
    cell_fate["detail"] = cell_rec["detail"]
    cell_fate["merged_into"] = None
    cell_fate["fate"] = np.where(cell_fate["reason"].isna(), "kept", "quarantined")
    in_good = cell_rec["gnb_key"].isin(good_sites.index) & cell_rec["reason"].isna()
    key = cell_rec["gnb_key"]
    site_anchor = key.map(good_sites["anchor"])
    matched_head = key.map(site_station)
    target_id = matched_head.map(head_ids).astype(object).fillna(key.map(site_ids).astype(object))
    is_anchor = in_good & (site_anchor == cell_rec.index.to_series())
    to_station = in_good & matched_head.notna()
    other_cell = in_good & ~is_anchor & matched_head.isna()
    cell_fate.loc[to_station, ["fate", "reason"]] = ["merged", "same_station_other_source"]
    cell_fate.loc[other_cell, ["fate", "reason"]] = ["merged", "cell_of_same_gnb"]
    cell_fate.loc[in_good & ~is_anchor | to_station, "merged_into"] = target_id
    cell_fate.loc[to_station, "detail"] = ("gNB " + key + ", " + key.map(site_dist).round(0).astype(str) + " m from the operator's record")
    cell_fate.loc[other_cell, "detail"] = "gNB " + key
    outside_cells = cell_rec["site_reason"].notna() & cell_rec["reason"].isna()
    cell_fate.loc[outside_cells, "detail"] = "gNB " + key + " (site-level check)"

    # --- build the stations
    value_cols = ["site_code", "name", "band", "blocker", *STAGE_DATE_COLUMNS.values()]
    # only the columns the stations are built from: a copy of all of rec costs ~0.7 KB per row
    members = rec.loc[dd.index, [*value_cols, "reported_status", "notes"]].assign(_head=dd["anchor"])
    members["_label"] = _source_label(raw.loc[members.index, "source_file"], raw.loc[members.index, "source_sheet"],
                                      raw.loc[members.index, "source_row"])
    members["_file"] = raw.loc[members.index, "source_file"]
    # (members are already in dd's priority order: the head comes first in its group)
    combined = members.groupby("_head", sort=False)[value_cols].first()
    # the first status other than "unknown" in priority order (vectorised: no per-group Python)
    said = members.loc[members["reported_status"] != "unknown", ["_head", "reported_status"]]
    reported = said.groupby("_head", sort=False)["reported_status"].first().reindex(heads).fillna("unknown")
    note_text = _join_unique_sorted(members["_head"], members["notes"]).reindex(heads)

    st = pd.DataFrame(index=heads)
    st["station_id"] = head_ids
    st = st.join(combined)
    st["band"] = st["band"].fillna("unknown")
    st["operator"] = rec.loc[heads, "operator"]
    st["lon"] = rec.loc[heads, "lon"]
    st["lat"] = rec.loc[heads, "lat"]
    st["district"] = rec.loc[heads, "district"]
    st["status"] = np.where(st["on_air_date"].notna(), "on_air", reported.reindex(heads))
    # a record that says on air without a date was quarantined; the rest of the group may still say so
    st.loc[(st["status"] == "on_air") & st["on_air_date"].isna(), "status"] = "unknown"
    st["notes"] = note_text.reindex(heads)
    # Taken off air (退网, 拆除) by any of its records: not on air, whatever date it once went on air;
    # that date is kept in the notes (when it went off air is not reported, so no count includes it).
    off_air = (members["reported_status"] == "decommissioned").groupby(members["_head"]).any().reindex(heads, fill_value=False)
    if off_air.any():
        was = st.loc[off_air, "on_air_date"].dt.strftime("%Y-%m-%d")
        st.loc[off_air, "notes"] = (("reported decommissioned; on air from " + was).fillna("reported decommissioned")
                                    + ("; " + st.loc[off_air, "notes"]).fillna(""))
        st.loc[off_air, "status"] = "decommissioned"
        st.loc[off_air, "on_air_date"] = pd.NaT
    st["source_file"] = raw.loc[heads, "source_file"]
    st["source_sheet"] = raw.loc[heads, "source_sheet"]
    st["source_row"] = raw.loc[heads, "source_row"].astype("int64")

    # OpenCelliD sources of matched stations
    cell_labels = _source_label(cells["source_file"], cells["source_sheet"], cells["source_row"])
    src_cells = pd.DataFrame({"head": matched_head[to_station], "label": cell_labels[to_station],
                              "file": cells["source_file"][to_station]})
    src = pd.concat([pd.DataFrame({"head": members["_head"], "label": members["_label"], "file": members["_file"]}),
                     src_cells])
    st["sources"] = _join_in_order(src["head"], src["label"]).reindex(heads)
    st["n_sources"] = src.drop_duplicates(["head", "file"]).groupby("head", sort=False).size().reindex(heads)
    st["in_operator_reports"] = True
    st["opencellid_cells"] = src_cells.groupby("head").size().reindex(heads).fillna(0).astype("int64")
    matched = site_station.notna()
    st["opencellid_distance_m"] = site_dist[matched].groupby(site_station[matched].to_numpy()).max().reindex(heads)

    # stations only OpenCelliD shows
    if len(network_only):
        cells_of = cell_rec[cell_rec["gnb_key"].isin(network_only.index) & cell_rec["reason"].isna()]
        lab = _source_label(cells.loc[cells_of.index, "source_file"], cells.loc[cells_of.index, "source_sheet"],
                            cells.loc[cells_of.index, "source_row"])
        lists = lab.groupby(cells_of["gnb_key"]).agg(list)
        anchor_rows = network_only["anchor"]
        net = pd.DataFrame({
            "station_id": site_ids,
            "site_code": None,
            "name": "gNB " + network_only.index.to_series() + " (OpenCelliD)",
            "operator": network_only["operator"],
            "band": "unknown",
            "blocker": None,
            **{c: pd.NaT for c in STAGE_DATE_COLUMNS.values()},
            "lon": network_only["lon"],
            "lat": network_only["lat"],
            "district": network_only["district"],
            "status": "on_air",
            "notes": "seen only in OpenCelliD: position is the median of its cells",
            "source_file": cells.loc[anchor_rows, "source_file"].to_numpy(),
            "source_sheet": cells.loc[anchor_rows, "source_sheet"].to_numpy(),
            "source_row": cells.loc[anchor_rows, "source_row"].to_numpy().astype("int64"),
            "sources": lists.reindex(network_only.index).map(lambda xs: "; ".join(xs)),
            "n_sources": 1,
            "in_operator_reports": False,
            "opencellid_cells": network_only["cells"].astype("int64"),
            "opencellid_distance_m": np.nan,
        })
        net["on_air_date"] = network_only["on_air_date"]
        st = pd.concat([st, net.set_index(pd.Index([f"cell:{k}" for k in network_only.index]))])
    del members, src, src_cells, combined, said, note_text  # free them before the stations are copied

    # --- quarantine table with the original values
    # only the rows that leave a trace in the quarantine: joining every raw row copies the whole file
    op_out = raw[(op_fate["fate"] != "kept").to_numpy()].join(op_fate)
    cell_out = cells[(cell_fate["fate"] != "kept").to_numpy()].join(cell_fate)
    quarantine = pd.concat([op_out[op_out["fate"] != "kept"], cell_out[cell_out["fate"] != "kept"]], ignore_index=True)
    lead = ["source_file", "source_sheet", "source_row", "fate", "reason", "detail", "merged_into"]
    rest = [c for c in quarantine.columns if c not in lead]
    quarantine = quarantine[lead + rest].sort_values(["source_file", "source_sheet", "source_row"], na_position="first",
                                                     kind="stable").reset_index(drop=True)
    row_notes = rec["notes"].fillna("")
    n_gcj02, n_bd09 = int(row_notes.str.contains("GCJ-02").sum()), int(row_notes.str.contains("BD-09").sum())
    # the raw text and parsed rows are done with: free them before the stations are typed and copied
    del op_out, cell_out, raw, cells, rec, cell_rec, row_notes, dd

    stations = _finish_stations(st, as_of_ts)
    del st

    # --- ledger of sources
    ledger = _source_ledger(stations)

    fates = pd.concat([op_fate["fate"], cell_fate["fate"]], ignore_index=True)
    reasons = pd.concat([op_fate["reason"], cell_fate["reason"]], ignore_index=True)
    summary = {
        "city": city.key,
        "as_of": as_of_ts.strftime("%Y-%m-%d"),
        "package_version": __version__,
        "rows_in": int(len(fates)),
        "rows_kept": int((fates == "kept").sum()),
        "rows_merged": int((fates == "merged").sum()),
        "rows_quarantined": int((fates == "quarantined").sum()),
        "stations": int(len(stations)),
        "stations_on_air": int(stations["is_on_air"].sum()),
        "stations_by_operator": {k: int(v) for k, v in stations["operator"].value_counts().sort_index().items()},
        "stations_by_district": {k: int(v) for k, v in stations["district"].value_counts().sort_index().items()},
        "stations_by_status": {k: int(v) for k, v in stations["status"].value_counts().sort_index().items()},
        "quarantined_by_reason": {k: int(v) for k, v in reasons[fates == "quarantined"].value_counts().sort_index().items()},
        "merged_by_reason": {k: int(v) for k, v in reasons[fates == "merged"].value_counts().sort_index().items()},
        "notes": {
            "lat_lon_swapped": int(stations["notes"].fillna("").str.contains("swapped").sum()),
            "gcj02_converted_rows": n_gcj02,
            "bd09_converted_rows": n_bd09,
        },
        "parameters": {
            "input_crs": default_crs, "gnb_id_bits": gnb_bits, "duplicate_radius_m": DUPLICATE_RADIUS_M,
            "match_radius_m": MATCH_RADIUS_M, "disagree_radius_m": DISAGREE_RADIUS_M,
        },
        "files": file_info,
        "failed_files": failed,
        "reason_meanings": {**QUARANTINE_REASONS, **MERGE_REASONS},
    }
    assert summary["rows_in"] == summary["rows_kept"] + summary["rows_merged"] + summary["rows_quarantined"]
    assert summary["rows_kept"] == len(stations), "every station comes from exactly one kept raw row"
    return CleanResult(stations, quarantine, summary, ledger)


def _finish_stations(st: pd.DataFrame, as_of: pd.Timestamp) -> gpd.GeoDataFrame:
    """Typed columns in a fixed order, sorted by station id, checked against the schema."""
    # (the caller hands its frame over: no copy of a national table)
    for column in STAGE_DATE_COLUMNS.values():
        st[column] = pd.to_datetime(st[column])
    st["is_on_air"] = on_air_at(st, as_of)
    st["blocker"] = st["blocker"].where(st["status"] != "on_air", None)
    st["name"] = st["name"].fillna(st["site_code"])
    st["lon"] = st["lon"].astype(float).round(7)
    st["lat"] = st["lat"].astype(float).round(7)
    st = st.reindex(columns=list(STATION_DTYPES)).astype(STATION_DTYPES)
    st = st.sort_values("station_id", kind="stable").reset_index(drop=True)
    stations_schema().validate(st, lazy=False)
    return gpd.GeoDataFrame(st, geometry=gpd.points_from_xy(st["lon"], st["lat"]), crs="EPSG:4326")


def _source_ledger(stations: pd.DataFrame) -> pd.DataFrame:
    """One row per station: which sources show it, and whether they agree on where it is."""
    from_ops = stations["in_operator_reports"]
    in_net = stations["opencellid_cells"] > 0
    flag = np.select(
        [from_ops & in_net & (stations["opencellid_distance_m"] > DISAGREE_RADIUS_M),
         from_ops & in_net, from_ops & ~in_net, ~from_ops],
        ["sources_disagree_gt_200m", "both_agree", "operator_report_only", "network_only"],
        default="operator_report_only",
    )
    ledger = stations[["station_id", "operator", "district", "status", "on_air_date", "opencellid_cells",
                       "opencellid_distance_m"]].copy()
    ledger.insert(1, "in_operator_reports", from_ops.to_numpy())
    ledger.insert(2, "in_opencellid", in_net.to_numpy())
    ledger["flag"] = flag
    ledger["opencellid_distance_m"] = ledger["opencellid_distance_m"].round(1)
    return ledger.sort_values("station_id").reset_index(drop=True)


def write_stations(stations: gpd.GeoDataFrame, path: Path) -> None:
    write_atomic(path, lambda tmp: stations.to_parquet(tmp, index=False, compression="zstd",
                                                        write_covering_bbox=False))


def read_stations(path: str | Path, required: tuple[str, ...] | None = None, columns: tuple[str, ...] | None = None,
                  geometry: bool = True) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a station table: a cleaned `stations.parquet`, or any Parquet file with the `required`
    columns (default: every column of the clean schema), as WGS-84 points. `columns`: read only
    those of these the file has (the required ones must be among them); `geometry=False`: a plain
    DataFrame without a point per station (0.1 s per 10^5 stations a stage using lon/lat does not
    need). Anything else is a one-line BadInputError naming the file."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise BadInputError("no such file (run `python -m analysis clean` first)", path)
    required = STATION_COLUMNS if required is None else required
    try:  # the file's columns first: a missing one is named, and only the wanted ones are read
        present = set(pq.read_schema(path).names)
        missing = [c for c in required if c not in present]
        wanted = None if columns is None else [c for c in dict.fromkeys([*required, *columns]) if c in present]
        frame = None if missing else pd.read_parquet(path, columns=wanted)
    except Exception as exc:  # pyarrow raises many types for a file that is not Parquet
        raise BadInputError(f"not a Parquet station table ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                            path) from None
    if missing:
        raise BadInputError(f"not a station table: missing columns {', '.join(missing)}", path)
    frame = frame.drop(columns="geometry", errors="ignore")
    if not {"lon", "lat"} <= set(frame.columns):
        raise BadInputError("not a station table: no lon/lat columns", path)
    if not geometry:
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


def clean_to_folder(
    inputs: list[str | Path] | str | Path,
    city: str | City,
    out: str | Path,
    as_of: str | dt.date | None = None,
    input_crs: str | None = None,
    gnb_id_bits: str | int | dict | None = None,
) -> CleanResult:
    """`clean_stations`, then write stations.parquet, quarantine.csv, source_matches.csv and
    clean_summary.json into `out` (each written whole or not at all)."""
    result = clean_stations(inputs, city, as_of=as_of, input_crs=input_crs, gnb_id_bits=gnb_id_bits)
    out = Path(out)
    write_stations(result.stations, out / "stations.parquet")
    write_csv(result.quarantine, out / "quarantine.csv")
    write_csv(result.source_matches, out / "source_matches.csv")
    write_json(result.summary, out / "clean_summary.json")
    return result
