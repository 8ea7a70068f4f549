"""Tests of analysis.geo: GCJ-02, UTM choice, reading and checking the city's layers, point in
district, and the cnmaps export (only where cnmaps is installed)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from analysis import geo
from analysis.config import load_city
from analysis.errors import BadInputError, ConfigError, UsageError
from analysis.sites import read_sites

HAS_CNMAPS = importlib.util.find_spec("cnmaps") is not None
GEOD = pyproj.Geod(ellps="WGS84")
KARAMAY_NAMES = ["独山子区", "克拉玛依区", "白碱滩区", "乌尔禾区"]


# --- tiny inline cities -----------------------------------------------------------------------
CITY_TOML = """
[city]
name_zh = "测试市"
name_en = "Testcity"
buildout_start = 2020-01-01

[files]
districts = "districts.geojson"
urban_areas = "urban_areas.geojson"
sites = "sites.csv"
stations = "stations"

[[targets]]
date = 2021-12-31
on_air = 10

[[districts]]
name_zh = "西区"
name_en = "West District"

[[districts]]
name_zh = "东区"
name_en = "East District"
"""


def _feature(props: dict, geometry) -> dict:
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geometry)}


def _write_geojson(path: Path, features: list[dict]) -> None:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), encoding="utf-8"
    )


# West covers lon 84-85, East 85-86, both lat 45-46: they share the meridian 85.
WEST = shapely.box(84.0, 45.0, 85.0, 46.0)
EAST = shapely.box(85.0, 45.0, 86.0, 46.0)


@pytest.fixture
def tiny_city(tmp_path):
    (tmp_path / "city.toml").write_text(CITY_TOML, encoding="utf-8")
    _write_geojson(
        tmp_path / "districts.geojson",
        [
            _feature({"name_zh": "西区", "name_en": "West"}, WEST),
            _feature({"name_zh": "东区"}, EAST),
        ],
    )
    _write_geojson(
        tmp_path / "urban_areas.geojson",
        [
            _feature(
                {"name_zh": "西城", "name_en": "West town", "district": "西区"}, shapely.box(84.4, 45.4, 84.6, 45.6)
            ),
        ],
    )
    (tmp_path / "sites.csv").write_text(
        ",".join(geo.SITE_COLUMNS) + "\n"
        "s1,景区,Spot,scenic,4A,2021-09-03,confirmed,西区,84.5,45.5,wgs84,1000,notice,estimate,\n"
        "s2,医院,Hospital,hospital,,,n/a,东区,85.5,45.5,wgs84,100,,survey,a note\n",
        encoding="utf-8",
    )
    return tmp_path


def _city(folder):
    return load_city(folder)


# --- GCJ-02 -----------------------------------------------------------------------------------
def test_gcj02_moves_a_karamay_point_by_about_200_m_and_back_exactly():
    lon, lat = 84.889, 45.580  # city government
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    assert isinstance(glon, float)
    shift_m = GEOD.inv(lon, lat, glon, glat)[2]
    assert 195 < shift_m < 220  # the well-known ~200 m offset in Karamay (208 m here)
    assert glon > lon and glat > lat  # GCJ-02 shifts north-east in Xinjiang
    back = geo.gcj02_to_wgs84(glon, glat)
    assert abs(back[0] - lon) < 1e-7 and abs(back[1] - lat) < 1e-7


def test_gcj02_inverse_is_exact_over_china_not_one_step():
    rng = np.random.default_rng(7)
    lon = rng.uniform(74, 134, 5000)
    lat = rng.uniform(19, 53, 5000)
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    blon, blat = geo.gcj02_to_wgs84(glon, glat)
    assert np.abs(blon - lon).max() < 1e-7 and np.abs(blat - lat).max() < 1e-7
    # the one-step inverse (subtract the offset computed at the GCJ-02 point) is measurably off
    naive_lon, naive_lat = geo.wgs84_to_gcj02(glon, glat)
    naive_err = np.hypot((2 * glon - naive_lon) - lon, (2 * glat - naive_lat) - lat).max()
    assert naive_err > 1e-6  # > 0.1 m: the approximation the exact inverse replaces


def test_gcj02_passes_points_outside_china_and_nan_through():
    lon = np.array([2.35, -74.0, 84.889, np.nan])
    lat = np.array([48.85, 40.7, 45.58, 45.0])
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    assert glon[0] == 2.35 and glat[1] == 40.7
    assert glon[2] != 84.889
    assert np.isnan(glon[3])
    wlon, wlat = geo.gcj02_to_wgs84(lon, lat)
    assert wlon[0] == 2.35 and wlat[0] == 48.85 and np.isnan(wlon[3])
    assert lon[2] == 84.889  # inputs are not modified in place


# --- UTM --------------------------------------------------------------------------------------
def test_utm_zone_comes_from_the_data():
    assert geo.utm_crs_for([84.7, 84.9, 85.7], [44.3, 45.6, 46.1]).to_epsg() == 32645
    assert geo.utm_crs_for(116.4, 39.9).to_epsg() == 32650
    assert geo.utm_crs_for([151.2], [-33.9]).to_epsg() == 32756
    assert geo.utm_crs_for([np.nan, 84.9], [np.nan, 45.6]).to_epsg() == 32645
    with pytest.raises(BadInputError):
        geo.utm_crs_for([np.nan], [np.nan])


# --- reading and checking ---------------------------------------------------------------------
def test_read_districts_keeps_file_order_and_fills_english_names(tiny_city):
    d = geo.read_districts(_city(tiny_city))
    assert list(d["name_zh"]) == ["西区", "东区"]
    assert list(d["name_en"]) == ["West", "East District"]  # the file's, else city.toml's
    assert d.crs.to_epsg() == 4326


def test_read_districts_transforms_a_projected_file(tiny_city):
    gdf = gpd.GeoDataFrame({"name_zh": ["西区", "东区"]}, geometry=[WEST, EAST], crs=4326).to_crs(32645)
    path = tiny_city / "districts.gpkg"
    gdf.to_file(path)
    toml = (tiny_city / "city.toml").read_text(encoding="utf-8").replace("districts.geojson", "districts.gpkg")
    (tiny_city / "city.toml").write_text(toml, encoding="utf-8")
    d = geo.read_districts(_city(tiny_city))
    assert d.crs.to_epsg() == 4326
    assert np.allclose(d.total_bounds, [84, 45, 86, 46], atol=1e-6)


def test_districts_of_points_are_refused_naming_file_and_row(tiny_city):
    _write_geojson(
        tiny_city / "districts.geojson",
        [
            _feature({"name_zh": "西区"}, WEST),
            _feature({"name_zh": "东区"}, shapely.Point(85.5, 45.5)),
        ],
    )
    with pytest.raises(BadInputError) as err:
        geo.read_districts(_city(tiny_city))
    msg = str(err.value)
    assert "districts.geojson" in msg and "row 2" in msg and "Point" in msg
    assert "\n" not in msg


def test_missing_districts_file_is_a_bad_input(tiny_city):
    (tiny_city / "districts.geojson").unlink()
    with pytest.raises(BadInputError, match="districts.geojson: file not found"):
        geo.read_districts(_city(tiny_city))


def test_missing_name_column_is_a_bad_input(tiny_city):
    _write_geojson(
        tiny_city / "districts.geojson", [_feature({"name": "西区"}, WEST), _feature({"name": "东区"}, EAST)]
    )
    with pytest.raises(BadInputError, match="missing column.*name_zh"):
        geo.read_districts(_city(tiny_city))


def test_district_names_must_match_city_toml(tiny_city):
    _write_geojson(
        tiny_city / "districts.geojson", [_feature({"name_zh": "西区"}, WEST), _feature({"name_zh": "北区"}, EAST)]
    )
    with pytest.raises(ConfigError, match="北区.*东区"):
        geo.read_districts(_city(tiny_city))


def test_invalid_polygon_is_refused(tiny_city):
    bowtie = shapely.Polygon([(84, 45), (85, 46), (85, 45), (84, 46)])
    _write_geojson(
        tiny_city / "districts.geojson", [_feature({"name_zh": "西区"}, bowtie), _feature({"name_zh": "东区"}, EAST)]
    )
    with pytest.raises(BadInputError, match="row 1: polygon is not valid"):
        geo.read_districts(_city(tiny_city))


def test_untransformable_crs_is_refused(tiny_city):
    local = pyproj.CRS.from_wkt(
        'ENGCRS["site grid",EDATUM["local"],CS[Cartesian,2],'
        'AXIS["x",east,LENGTHUNIT["metre",1]],AXIS["y",north,LENGTHUNIT["metre",1]]]'
    )
    gdf = gpd.GeoDataFrame(
        {"name_zh": ["西区", "东区"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=local
    )
    gdf.to_file(tiny_city / "districts.gpkg")
    toml = (tiny_city / "city.toml").read_text(encoding="utf-8").replace("districts.geojson", "districts.gpkg")
    (tiny_city / "city.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(BadInputError, match="districts.gpkg: its CRS .* cannot be transformed to WGS-84"):
        geo.read_districts(_city(tiny_city))


def test_read_urban_areas_checks_district(tiny_city):
    u = geo.read_urban_areas(_city(tiny_city))
    assert list(u.columns[:3]) == ["name_zh", "name_en", "district"]
    _write_geojson(
        tiny_city / "urban_areas.geojson",
        [_feature({"name_zh": "x", "district": "南区"}, shapely.box(84.4, 45.4, 84.6, 45.6))],
    )
    with pytest.raises(BadInputError, match="row 1: district '南区'"):
        geo.read_urban_areas(_city(tiny_city))


def test_read_sites_parses_types(tiny_city):
    s = read_sites(_city(tiny_city))
    assert s.crs.to_epsg() == 4326 and list(s.geometry.geom_type.unique()) == ["Point"]
    assert s.loc[0, "rating_date"].isoformat()[:10] == "2021-09-03" and s["rating_date"].isna().iloc[1]
    assert s["coord_precision_m"].tolist() == [1000, 100]
    assert s.loc[1, "rating"] == ""


@pytest.mark.parametrize(
    "row, problem",
    [
        ("s3,x,X,museum,,,n/a,西区,84.5,45.5,wgs84,10,,,", "row 3: category 'museum'"),
        ("s3,x,X,scenic,,,n/a,西区,184.5,45.5,wgs84,10,,,", "row 3: lon '184.5'"),
        ("s3,x,X,scenic,4A,2021-13-01,confirmed,西区,84.5,45.5,wgs84,10,,,", "row 3: rating_date"),
        ("s1,x,X,scenic,,,n/a,西区,84.5,45.5,wgs84,10,,,", "site_id 's1' is not unique"),
    ],
)
def test_bad_site_rows_are_refused_with_row(tiny_city, row, problem):
    with (tiny_city / "sites.csv").open("a", encoding="utf-8") as f:
        f.write(row + "\n")
    with pytest.raises(BadInputError, match=problem.replace("(", r"\(")):
        read_sites(_city(tiny_city))


def test_every_mistake_of_sites_csv_is_said_at_once_and_an_empty_district_is_found_from_the_point(tiny_city):
    """Four mistakes took four runs of the report (each after the forecast had run)."""
    with (tiny_city / "sites.csv").open("a", encoding="utf-8") as f:
        f.write("s1,x,X,scenic,,,n/a,西区,84.5,45.5,wgs84,10,,,\n")  # row 3: id again
        f.write("s4,y,Y,scenic,4A级,,confirmed,,84.5,,wgs84,10,,,\n")  # row 4: no lat (4A级 and no district: fine)
        f.write("s5,z,Z,museum,,,n/a,西区,84.5,45.5,wgs84,ten,,,\n")  # row 5: category, precision
    with pytest.raises(BadInputError) as info:
        read_sites(_city(tiny_city))
    said = str(info.value)
    assert "4 mistakes" in said and "\n" not in said
    for part in ("row 3: site_id 's1'", "row 4: lat ''", "row 5: category 'museum'", "row 5: coord_precision_m 'ten'"):
        assert part in said, said
    lines = (tiny_city / "sites.csv").read_text(encoding="utf-8").splitlines()
    (tiny_city / "sites.csv").write_text("\n".join(lines[:-3] + [lines[-2].replace(",84.5,,", ",84.5,45.5,")]) + "\n")
    s = read_sites(_city(tiny_city)).set_index("site_id")
    assert s.loc["s4", "district"] == "" and s.loc["s4", "rating"] == "4A"


# --- assign_district --------------------------------------------------------------------------
def test_assign_district_inside_outside_border_and_nan(tiny_city):
    d = geo.read_districts(_city(tiny_city))
    lon = [84.5, 85.5, 85.0, 87.0, np.nan, 84.0]
    lat = [45.5, 45.5, 45.5, 45.5, 45.5, 45.0]
    got = geo.assign_district(lon, lat, d)
    assert got.dtype == object
    assert list(got) == ["西区", "东区", "西区", None, None, "西区"]
    # the shared border goes to the first district in the frame's order, whichever that is
    assert geo.assign_district([85.0], [45.5], d.iloc[::-1])[0] == "东区"
    # the same districts by their positions in the frame, its length for none
    west, east = (list(d["name_zh"]).index(n) for n in ("西区", "东区"))
    assert geo.district_positions(lon, lat, d).tolist() == [west, east, west, len(d), len(d), west]


def test_assign_district_agrees_with_sjoin_on_the_real_districts():
    d = geo.read_districts(load_city("karamay"))
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = d.total_bounds
    lon, lat = rng.uniform(minx, maxx, 20_000), rng.uniform(miny, maxy, 20_000)
    got = geo.assign_district(lon, lat, d)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    j = gpd.sjoin(pts, d[["name_zh", "geometry"]], how="left", predicate="intersects")
    j = j[~j.index.duplicated(keep="first")]
    assert list(np.where(got == None, "", got)) == list(j["name_zh"].fillna(""))  # noqa: E711
    assert geo.assign_district([], [], d).size == 0


# --- the committed Karamay files ----------------------------------------------------------------
def test_committed_districts_are_the_four_valid_polygons():
    d = geo.read_districts(load_city("karamay"))
    assert sorted(d["name_zh"]) == sorted(KARAMAY_NAMES)
    assert d.geometry.is_valid.all()
    assert shapely.coverage_is_valid(d.geometry.to_numpy())  # no overlaps between neighbours
    areas = d.to_crs(geo.utm_crs_for(84.9, 45.5)).area / 1e6
    # Official total 7,734 km2; the Amap polygons measure 7,141 (README: mostly 克拉玛依区's line).
    # 10 % allows that source difference but catches a missing or doubled district.
    assert abs(areas.sum() - 7734) / 7734 < 0.10
    by_name = dict(zip(d["name_zh"], areas))
    assert 380 < by_name["独山子区"] < 470  # sources give 400 or 448 km2
    # 独山子区 is an exclave: well away from the other three
    dsz = d.loc[d["name_zh"] == "独山子区"].to_crs(32645).geometry.iloc[0]
    rest = d.loc[d["name_zh"] != "独山子区"].to_crs(32645).geometry.union_all()
    assert dsz.distance(rest) > 20_000


def test_committed_urban_areas_lie_in_their_districts():
    city = load_city("karamay")
    d = geo.read_districts(city).set_index("name_zh")
    u = geo.read_urban_areas(city)
    assert set(u["district"]) == set(KARAMAY_NAMES)
    assert u["note"].str.contains("approximate").all()
    for _, row in u.iterrows():
        assert d.geometry[row["district"]].contains(row.geometry), row["name_zh"]
    km2 = u.to_crs(32645).area / 1e6
    assert (km2 > 1).all() and (km2 < 150).all()


def test_committed_sites_lie_in_the_district_they_name():
    city = load_city("karamay")
    s = read_sites(city)
    d = geo.read_districts(city)
    assert list(geo.assign_district(s["lon"], s["lat"], d)) == list(s["district"])
    scenic = s[s["category"] == "scenic"].set_index("name_zh")
    assert scenic.loc["世界魔鬼城景区", "rating"] == "5A"
    assert str(scenic.loc["世界魔鬼城景区", "rating_date"].date()) == "2020-12-29"
    assert str(scenic.loc["独山子大峡谷景区", "rating_date"].date()) == "2021-09-03"
    # a rating date is given exactly when the rating is confirmed
    rated = s[s["rating"] != ""]
    assert (rated["rating_date"].notna() == (rated["rating_status"] == "confirmed")).all()
    assert (s.loc[s["rating"] == "", "rating_status"] == "n/a").all()
    assert {"hospital", "university", "industrial", "centre", "commercial"} <= set(s["category"])


# --- export_boundaries ------------------------------------------------------------------------
def test_export_without_cnmaps_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "cnmaps", None)  # makes `import cnmaps` fail
    with pytest.raises(UsageError, match=r"pip install '\.\[boundaries\]'"):
        geo.export_boundaries("克拉玛依市", tmp_path / "x.geojson")


@pytest.mark.skipif(not HAS_CNMAPS, reason="cnmaps (extra 'boundaries') is not installed")
def test_export_boundaries_from_cnmaps(tmp_path):
    out = tmp_path / "sub" / "karamay.geojson"
    gdf = geo.export_boundaries("克拉玛依市", out, tolerance_m=200)
    assert out.is_file() and out.stat().st_size < 300_000
    back = gpd.read_file(out)
    assert back.crs.to_epsg() == 4326
    assert list(back["adcode"]) == sorted(back["adcode"]) == ["650202", "650203", "650204", "650205"]
    assert list(back["name_zh"]) == KARAMAY_NAMES == list(gdf["name_zh"])
    assert back.loc[back["name_zh"] == "克拉玛依区", "name_en"].iloc[0] == "Karamay District"  # from city.toml
    assert back.geometry.is_valid.all() and shapely.coverage_is_valid(back.geometry.to_numpy())
    # the committed file was made by the same function: same districts, nearly the same shapes
    committed = gpd.read_file(Path(load_city("karamay").districts_path)).set_index("name_zh")
    for _, row in back.iterrows():
        a, b = row.geometry, committed.geometry[row["name_zh"]]
        assert a.symmetric_difference(b).area / b.area < 0.01


@pytest.mark.skipif(not HAS_CNMAPS, reason="cnmaps (extra 'boundaries') is not installed")
def test_export_unknown_city_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cnmaps has no districts"):
        geo.export_boundaries("不存在市", tmp_path / "x.geojson")


def _first_holder_one_by_one(lon, lat, polygons) -> list:
    """The first polygon (in order) that holds each point, tested point by point: the reference."""
    out = []
    for x, y in zip(lon, lat):
        point = shapely.Point(x, y)
        out.append(next((k for k, p in enumerate(polygons) if np.isfinite(x) and p.intersects(point)), None))
    return out


def test_assign_district_by_cell_agrees_point_by_point_with_overlaps_holes_and_a_tiling():
    rng = np.random.default_rng(17)
    ring = shapely.Polygon(
        [(84.0, 45.0), (84.6, 45.0), (84.6, 45.6), (84.0, 45.6)],
        [[(84.2, 45.2), (84.4, 45.2), (84.4, 45.4), (84.2, 45.4)]],
    )
    star = shapely.Point(84.3, 45.3).buffer(0.17, 5)  # overlaps the ring and fills its hole
    tiles = [
        shapely.box(84.6 + 0.1 * i, 45.0 + 0.1 * j, 84.7 + 0.1 * i, 45.1 + 0.1 * j) for i in range(4) for j in range(6)
    ]
    polygons = [ring, star, *tiles, shapely.box(84.55, 45.25, 84.75, 45.35)]  # the last overlaps ring and tiles
    d = gpd.GeoDataFrame({"name_zh": [f"d{k}" for k in range(len(polygons))]}, geometry=polygons, crs=4326)
    lon, lat = rng.uniform(83.95, 85.05, 6000), rng.uniform(44.95, 45.65, 6000)
    # points on the tiles' and cells' edges (0.05 degrees) and on the ring's, exactly as they are written
    edge_lon = np.round(rng.uniform(84.0, 85.0, 1500) * 20) / 20
    lon = np.r_[lon, edge_lon, rng.uniform(84.0, 85.0, 1500), 84.2, 84.6, 85.0, np.nan]
    lat = np.r_[
        lat, rng.uniform(45.0, 45.6, 1500), np.round(rng.uniform(45.0, 45.6, 1500) * 10) / 10, 45.3, 45.3, 45.6, 45.1
    ]
    want = [None if k is None else f"d{k}" for k in _first_holder_one_by_one(lon, lat, polygons)]
    assert list(geo.assign_district(lon, lat, d)) == want
    # and in the reverse order of the districts, where the overlaps go the other way
    r = d.iloc[::-1]
    want = [
        None if k is None else f"d{len(polygons) - 1 - k}" for k in _first_holder_one_by_one(lon, lat, polygons[::-1])
    ]
    assert list(geo.assign_district(lon, lat, r)) == want


def test_assign_district_a_district_that_fills_cells_gives_them_without_a_test_per_point(monkeypatch):
    d = gpd.GeoDataFrame(
        {"name_zh": ["a", "b"]}, geometry=[shapely.box(80, 40, 81, 41), shapely.box(81, 40, 82, 41)], crs=4326
    )
    # (the second point's cell touches a at 81 E: a neighbour that only touches a cell holds none of its inside)
    lon, lat = np.array([80.51, 81.02, 81.53, 81.0]), np.array([40.51, 40.52, 40.53, 40.5])
    tested = []
    by_point = geo._first_holder_by_point
    monkeypatch.setattr(geo, "_first_holder_by_point", lambda p, t, x, y: tested.append(len(x)) or by_point(p, t, x, y))
    assert list(geo.assign_district(lon, lat, d)) == ["a", "b", "b", "a"]
    assert tested == [1]  # only the point on the shared border


def test_assign_district_a_border_whose_cell_number_rounds_up_keeps_its_points():
    """51.4 / 0.05 is 1028.0000000000001 in doubles (so are 0.85 and every 0.25 from 51.4 to 63.9): a
    point there was put in the cell east of the border, whose box misses a district ending at 51.4 — it
    went to the neighbour, or to none. Each point goes to the first district that holds it, as one by one."""
    for edge in (51.4, 0.85, 63.9):
        west, east = shapely.box(edge - 0.4, 30.0, edge, 31.0), shapely.box(edge, 30.0, edge + 0.6, 31.0)
        d = gpd.GeoDataFrame({"name_zh": ["west", "east"]}, geometry=[west, east], crs=4326)
        assert list(geo.assign_district([edge, edge + 0.01], [30.5, 30.5], d)) == ["west", "east"]
        assert list(geo.assign_district([edge], [30.5], d.iloc[:1])) == ["west"]
        # the same on a latitude: the top edge of a district
        top = gpd.GeoDataFrame({"name_zh": ["south"]}, geometry=[shapely.box(30.0, edge - 0.4, 31.0, edge)], crs=4326)
        assert list(geo.assign_district([30.5], [edge], top)) == ["south"]


def test_read_sites_converts_gcj02_and_bd09_points_to_wgs84(tiny_city):
    """A point picked on Amap (gcj02) or Baidu (bd09) is converted once, as cleaning converts stations (it
    was used as WGS-84: 571 m off in Zhangjiajie, uncovered at 300 m); coord_note says so."""
    path = tiny_city / "sites.csv"
    glon, glat = geo.wgs84_to_gcj02(84.85, 45.60)
    blon, blat = geo.gcj02_to_bd09(glon, glat)
    with path.open("a", encoding="utf-8") as f:
        f.write(f"g1,高德点,G,scenic,4A,2010-01-01,confirmed,西区,{glon:.8f},{glat:.8f},GCJ-02,20,,,\n")
        f.write(f"b1,百度点,B,scenic,4A,2010-01-01,confirmed,西区,{blon:.8f},{blat:.8f},bd09,20,,,\n")
    s = read_sites(_city(tiny_city)).set_index("site_id")
    # (GCJ-02's inverse is exact; BD-09's published pair of formulas agree to a few decimetres)
    for sid, tolerance_m in (("g1", 0.01), ("b1", 0.5)):
        assert GEOD.inv(84.85, 45.60, s.loc[sid, "lon"], s.loc[sid, "lat"])[2] < tolerance_m
    assert s.loc["g1", "coord_note"] == "converted from GCJ-02" and s.loc["b1", "coord_note"] == "converted from BD-09"
    assert s.loc["g1", "coord_crs_original"] == "gcj02" and s.loc["s2", "coord_note"] == ""


def test_read_sites_reads_the_coordinate_forms_and_encodings_station_files_use(tiny_city):
    """DMS, a hemisphere letter, full-width digits, a swapped pair, AAAAA and a GBK file (Chinese Excel's
    default): read as stations are (each was a one-line error)."""
    path = tiny_city / "sites.csv"
    text = path.read_text(encoding="utf-8") + (
        'd1,度分秒,D,scenic,AAAAA,2010-01-01,confirmed,西区,"84°51\'00""E","45°36\'00""N",wgs84,20,,,\n'
        "h1,半球,H,scenic,4A,2010-01-01,confirmed,西区,84.85E,45.60N,wgs84,20,,,\n"
        "f1,全角,F,scenic,4A,2010-01-01,confirmed,西区,８４．８５,４５．６０,wgs84,20,,,\n"
        "w1,对调,S,scenic,4A,2010-01-01,confirmed,西区,45.60,84.85,wgs84,20,,,\n"
    )
    path.write_bytes(text.encode("gbk"))
    s = read_sites(_city(tiny_city)).set_index("site_id")
    for sid in ("d1", "h1", "f1", "w1"):
        assert (s.loc[sid, "lon"], s.loc[sid, "lat"]) == pytest.approx((84.85, 45.60), abs=1e-9), sid
    assert s.loc["d1", "rating"] == "5A" and s.loc["d1", "name_zh"] == "度分秒"
    assert s.loc["w1", "coord_note"] == "lon and lat were swapped in the file"


def test_a_coordinate_system_label_not_understood_is_named_as_written(tiny_city):
    with (tiny_city / "sites.csv").open("a", encoding="utf-8") as f:
        f.write("s3,x,X,scenic,,,n/a,西区,84.5,45.5,天地图,10,,,\n")
    with pytest.raises(BadInputError, match="coord_crs_original '天地图' is not one of"):
        read_sites(_city(tiny_city))
