"""The city's key sites (sites.csv: scenic spots, hospitals, universities, plants, centres): read, their
coordinates parsed in the forms station files use and converted to WGS-84 as cleaning converts stations, and
every mistake of the file said at once. A stage-level module: it reads values with cleaning's parsers
(`analysis.clean.parse`, `analysis.clean.sources`), which the reference-layer module `analysis.geo` must not
import."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis.config import City
from analysis.errors import BadInputError
from analysis.geo import (
    SITE_CATEGORIES,
    SITE_COLUMNS,
    SITE_COORD_CRS,
    SITE_RATING_STATUSES,
    SITE_RATINGS,
    in_china,
    to_wgs84,
)


def _read_sites_frame(path: Path) -> pd.DataFrame:
    """sites.csv as text columns: UTF-8 (with or without BOM) or, as Chinese Excel saves it, GBK/GB18030."""
    import io

    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # (cleaning's decoder, imported only for a file that is not UTF-8: the command stays light)
        from analysis.clean.sources import decode_text

        text, _ = decode_text(data, path)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise BadInputError(f"not a CSV file ({exc})", path) from None


#: ratings as Chinese sources write them (AAAAA级, 5A级) -> SITE_RATINGS
_RATING_WORDS = {"AAAAA": "5A", "AAAA": "4A", "5A级": "5A", "4A级": "4A", "AAAAA级": "5A", "AAAA级": "4A"}


def _normalise_site_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Ratings and coordinate-system labels in the forms people write them (AAAAA, 5a, GCJ-02, 高德, 百度)."""
    rating = df["rating"].str.upper()
    df["rating"] = rating.map(_RATING_WORDS).fillna(rating)
    crs = df["coord_crs_original"].str.lower()
    odd = ~crs.isin(SITE_COORD_CRS) & (crs != "")
    if odd.any():
        from analysis.clean.parse import parse_crs

        read = parse_crs(df.loc[odd, "coord_crs_original"])
        # (a label not understood stays as written: the error names what the file says, not 'unknown')
        crs[odd] = read.where(read.notna() & (read != "unknown"), df.loc[odd, "coord_crs_original"])
    df["coord_crs_original"] = crs
    return df


def _site_coordinates(df: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """lon/lat in decimal degrees from the forms station files use (decimal, DMS, 110.48E, full-width digits),
    a pair written the wrong way round put back, and GCJ-02 / BD-09 points converted to
    WGS-84 as cleaning converts stations; `coord_note` says what was done to a row. Also the rows whose
    lon or lat is not a coordinate, each with its mistake."""
    values = {c: pd.to_numeric(df[c], errors="coerce") for c in ("lon", "lat")}
    for col in ("lon", "lat"):
        odd = values[col].isna() & (df[col] != "")
        if odd.any():
            from analysis.clean.parse import parse_coordinates

            values[col] = values[col].where(~odd, parse_coordinates(df.loc[odd, col]))
    lon, lat = (values[c].to_numpy(dtype=float, copy=True) for c in ("lon", "lat"))
    notes = np.full(len(df), "", dtype=object)
    # a pair written the wrong way round: no latitude at all, or a point outside China whose swap is in it
    # (China's box as GCJ-02 draws it: the cities this package serves)
    with np.errstate(invalid="ignore"):
        swapped = ((np.abs(lat) > 90) & (np.abs(lon) <= 90)) | (~in_china(lon, lat) & in_china(lat, lon))
    lon[swapped], lat[swapped] = lat[swapped].copy(), lon[swapped].copy()
    notes[swapped] = "lon and lat were swapped in the file"
    problems = []
    for col, v, lo, hi in (("lon", lon, -180.0, 180.0), ("lat", lat, -90.0, 90.0)):
        bad = ~np.isfinite(v) | (v < lo) | (v > hi)
        for row in np.flatnonzero(bad):
            problems.append((int(row), f"{col} {df[col].iloc[row]!r} is not a coordinate in [{lo:g}, {hi:g}]"))
            v[row] = np.nan  # (said; not converted)
    crs = df["coord_crs_original"].to_numpy(dtype=object)
    is_bd, is_gcj = crs == "bd09", crs == "gcj02"
    conv = is_bd | is_gcj
    if conv.any():
        wlon, wlat = to_wgs84(lon, lat, is_gcj, is_bd)
        # (to 1 cm: the written table shows the point, not the inverse's last digits)
        lon[conv], lat[conv] = np.round(wlon[conv], 7), np.round(wlat[conv], 7)
        for k in np.flatnonzero(conv):
            said = "converted from " + ("BD-09" if is_bd[k] else "GCJ-02")
            notes[k] = f"{notes[k]}; {said}" if notes[k] else said
    df["lon"], df["lat"], df["coord_note"] = lon, lat, notes
    return df, problems


def read_sites(city: City) -> gpd.GeoDataFrame:
    """The city's key sites (scenic spots, hospital, universities, plants, centre, commerce) as
    WGS-84 points with the columns of sites.csv; `rating_date` becomes a date (NaT when empty).
    `coord_crs_original` says the system of each row's lon/lat (wgs84, gcj02 as Amap/Tencent show,
    bd09 as Baidu shows): gcj02 and bd09 points are converted to WGS-84 here, once, and `coord_note`
    says so. A `district` left empty is found from the point (as it is for every site). Every mistake of
    the file is said in one BadInputError (four mistakes took four runs), rows numbered from 1 after the
    header line."""
    path = city.sites_path
    if not path.is_file():
        raise BadInputError("file not found", path)
    df = _read_sites_frame(path)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in SITE_COLUMNS if c not in df.columns]
    if missing:
        raise BadInputError(f"missing column(s) {', '.join(missing)}", path)
    df = df.apply(lambda s: s.str.strip())
    problems: list[tuple[int, str]] = []
    for row in np.flatnonzero(df["site_id"].duplicated().to_numpy()):
        problems.append((int(row), f"site_id {df['site_id'].iloc[row]!r} is not unique"))
    df = _normalise_site_labels(df)
    allowed = {
        "category": SITE_CATEGORIES,
        "rating": SITE_RATINGS,
        "rating_status": SITE_RATING_STATUSES,
        "coord_crs_original": SITE_COORD_CRS,
        "district": (*city.district_names, ""),
    }
    for col, values in allowed.items():
        for row in np.flatnonzero(~df[col].isin(values).to_numpy()):
            shown = ", ".join(repr(v) for v in values if v)
            problems.append((int(row), f"{col} {df[col].iloc[row]!r} is not one of {shown}"))
    df, bad_xy = _site_coordinates(df)
    problems += bad_xy
    precision = pd.to_numeric(df["coord_precision_m"], errors="coerce")
    for row in np.flatnonzero(precision.isna().to_numpy()):
        problems.append((int(row), f"coord_precision_m {df['coord_precision_m'].iloc[row]!r} is not a number"))
    df["coord_precision_m"] = precision
    dates = pd.to_datetime(df["rating_date"].replace("", None), format="%Y-%m-%d", errors="coerce")
    for row in np.flatnonzero((dates.isna() & (df["rating_date"] != "")).to_numpy()):
        problems.append((int(row), f"rating_date {df['rating_date'].iloc[row]!r} is not YYYY-MM-DD"))
    if problems:
        raise _site_problems(problems, path)
    df["rating_date"] = dates
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)


#: Mistakes of sites.csv said in one error, at most (the count of the others after them).
_MAX_SITE_PROBLEMS = 8


def _site_problems(problems: list[tuple[int, str]], path: Path) -> BadInputError:
    """One error for every mistake found in sites.csv (rows from 1 after the header), in row order."""
    problems = sorted(problems, key=lambda p: p[0])
    if len(problems) == 1:
        row, said = problems[0]
        return BadInputError(said, path, row=row + 1)
    shown = "; ".join(f"row {row + 1}: {said}" for row, said in problems[:_MAX_SITE_PROBLEMS])
    more = f"; and {len(problems) - _MAX_SITE_PROBLEMS} more" if len(problems) > _MAX_SITE_PROBLEMS else ""
    return BadInputError(f"{len(problems)} mistakes: {shown}{more}", path)
