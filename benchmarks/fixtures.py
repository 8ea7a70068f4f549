"""The national inputs of the benchmarks: synthetic station files (synth) and a temporary
"china" city folder whose districts are all of China's counties (cnmaps) or, without cnmaps, a
documented synthetic tiling of synth.CHINA_BBOX."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import shapely.affinity

import synth
from analysis import geo

#: Douglas-Peucker tolerance for the county polygons, degrees (about 50 m, as the Karamay export).
COUNTY_SIMPLIFY_DEG = 0.0005
#: Synthetic tiling when cnmaps is missing: 0.5 degree squares over CHINA_BBOX (about 10,000 tiles,
#: the same order as China's 2,875 counties, each 40-55 km across).
TILE_DEG = 0.5
#: Built-up area drawn around each synthetic city centre (synth.national_city_centres), km: most of the
#: synthetic stations lie within this of their centre (gamma(2, 4 km) spread, median about 6.7 km).
URBAN_RADIUS_KM = 5.0
#: Coverage grid cell of the national city, m: the country at the 50 m default is 10^10 cells (coverage's
#: MAX_GRID_CELLS refuses it); 500 m cells make about 1.3 x 10^8.
NATIONAL_CELL_M = 500


def county_polygons() -> tuple[gpd.GeoDataFrame, str]:
    """All county-level (区县) polygons of China, WGS-84, with unique `name_zh` (province/city/
    district: 38 district names repeat across the country); or the synthetic tiling."""
    try:
        from cnmaps import get_adm_maps
    except ImportError:
        return tile_polygons(), f"synthetic {TILE_DEG} degree tiling of {synth.CHINA_BBOX} (cnmaps not installed)"
    raw = get_adm_maps(level="区县", engine="geopandas", wgs84=False)
    geoms = []
    for g, source in zip(raw.geometry, raw["source"]):
        if source == "高德":  # Amap publishes GCJ-02
            g = shapely.transform(g, lambda xy: np.column_stack(geo.gcj02_to_wgs84(xy[:, 0], xy[:, 1])))
        g = shapely.simplify(g, COUNTY_SIMPLIFY_DEG, preserve_topology=True)
        geoms.append(shapely.make_valid(g))
    names = raw["province"].astype(str) + "/" + raw["city"].fillna("").astype(str) + "/" + raw["district"].astype(str)
    gdf = gpd.GeoDataFrame({"name_zh": names.to_numpy()}, geometry=geoms, crs=4326)
    # make_valid may leave a line or point beside a polygon: keep the polygonal part
    gdf["geometry"] = [
        g
        if g.geom_type in ("Polygon", "MultiPolygon")
        else shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
        for g in gdf.geometry
    ]
    gdf = gdf[~gdf.geometry.is_empty].drop_duplicates("name_zh").reset_index(drop=True)
    from importlib.metadata import version

    return (
        gdf,
        f"cnmaps {version('cnmaps')} county (区县) polygons, {len(gdf)} counties, simplified {COUNTY_SIMPLIFY_DEG} deg",
    )


def tile_polygons(tile_deg: float = TILE_DEG) -> gpd.GeoDataFrame:
    """Squares of `tile_deg` over CHINA_BBOX, named by their south-west corner."""
    x0, y0, x1, y1 = synth.CHINA_BBOX
    xs = np.arange(x0, x1, tile_deg)
    ys = np.arange(y0, y1, tile_deg)
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    boxes = shapely.box(gx, gy, np.minimum(gx + tile_deg, x1), np.minimum(gy + tile_deg, y1))
    names = [f"T{a:.2f}_{b:.2f}" for a, b in zip(gx, gy)]
    return gpd.GeoDataFrame({"name_zh": names}, geometry=boxes, crs=4326)


def china_city(folder: Path) -> Path:
    """A city folder "china" (city.toml, districts.geojson, built-up areas around the synthetic city
    centres and an empty key-site list) for `analysis.config.load_city`; built once and reused."""
    folder = Path(folder)
    toml = folder / "city.toml"
    if toml.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    gdf, source = county_polygons()
    gdf.to_file(
        folder / "districts.geojson",
        driver="GeoJSON",
        engine="pyogrio",
        layer_options={"COORDINATE_PRECISION": 6, "RFC7946": "YES", "WRITE_NAME": "NO"},
    )
    write_urban_areas(folder / "urban_areas.geojson", gdf)
    (folder / "sites.csv").write_text(",".join(geo.SITE_COLUMNS) + "\n", encoding="utf-8")
    lines = [
        "# Benchmark city: all of China. Written by benchmarks/fixtures.py; not real data.",
        "[city]",
        'name_zh = "中国"',
        'name_en = "China (benchmark)"',
        'kind = "country"',
        "buildout_start = 2019-11-01",
        f'districts_source = "{source}"',
        "",
        "[files]",
        'districts = "districts.geojson"',
        'urban_areas = "urban_areas.geojson"',
        'sites = "sites.csv"',
        'stations = "stations"',
        "",
        "[[targets]]",
        "date = 2025-12-31",
        "on_air = 4500000",
        'label_en = "benchmark target"',
        "",
        "[coverage]",
        f"cell_m = {NATIONAL_CELL_M}",
        "",
    ]
    for name in gdf["name_zh"]:
        lines += ["[[districts]]", f"name_zh = {json.dumps(name, ensure_ascii=False)}", ""]
    toml.write_text("\n".join(lines), encoding="utf-8")
    return folder


def urban_polygons(districts: gpd.GeoDataFrame, radius_km: float = URBAN_RADIUS_KM) -> gpd.GeoDataFrame:
    """A built-up area per synthetic city centre: a disc of `radius_km` clipped to the district holding
    the centre (a city folder's built-up areas each name one district); centres outside every district
    are left out."""
    centres = synth.national_city_centres()
    lon, lat = centres["lon"].to_numpy(), centres["lat"].to_numpy()
    holder = geo.assign_district(lon, lat, districts)
    rows = []
    for i in np.flatnonzero(holder != None):  # noqa: E711 (element-wise on an object array)
        d_lon = radius_km / (111.32 * np.cos(np.radians(lat[i])))
        disc = shapely.affinity.scale(shapely.Point(lon[i], lat[i]).buffer(1.0, 32), d_lon, radius_km / 110.57)
        part = shapely.make_valid(disc.intersection(districts.geometry[districts["name_zh"] == holder[i]].iloc[0]))
        if part.geom_type in ("Polygon", "MultiPolygon") and not part.is_empty:
            rows.append((f"城区{i + 1:03d}", f"Synthetic town {i + 1}", holder[i], part))
    names, en, district, geoms = zip(*rows) if rows else ((), (), (), ())
    frame = {"name_zh": list(names), "name_en": list(en), "district": list(district)}
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=4326)


def write_urban_areas(path: Path, districts: gpd.GeoDataFrame) -> Path:
    """The built-up areas of `urban_polygons` as the city folder's GeoJSON (columns name_zh, name_en,
    district, as `analysis.geo.read_urban_areas` requires)."""
    urban_polygons(districts).to_file(
        path,
        driver="GeoJSON",
        engine="pyogrio",
        layer_options={"COORDINATE_PRECISION": 6, "RFC7946": "YES", "WRITE_NAME": "NO"},
    )
    return Path(path)


def station_file(folder: Path, n: int, fmt: str = "operator") -> Path:
    """The national synthetic file of `n` stations (written once, then reused)."""
    path = Path(folder) / f"national_{fmt}_{n}.csv"
    if not path.is_file():
        tmp = Path(folder) / f".tmp_{fmt}_{n}"
        [written] = synth.write_national(tmp, n, fmt=fmt)
        written.replace(path)
        tmp.rmdir()
    return path
