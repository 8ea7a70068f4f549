"""Shared fixtures: a tiny hand-made city (two square districts, one built-up area, three key sites)
and a handful of stations around 84.87 E 45.60 N, for coverage and map tests."""

from __future__ import annotations

import json

import pandas as pd
import pytest

# headless Chromium with the network off, for the browser checks (one list with the benchmarks')
from benchmarks.chromium import CHROMIUM_OFFLINE  # noqa: F401

TINY_CITY_TOML = """
[city]
name_zh = "测试市"
name_en = "Testville"
buildout_start = 2019-12-01
article_date = 2021-03-22
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
name_en = "West"
[[districts]]
name_zh = "东区"
name_en = "East"
"""


#: A minimal city.toml whose [city] table says its kind (`city_of_kind`).
KIND_CITY_TOML = """[city]
name_zh = "某地"
name_en = "Somewhere"
{kind}
buildout_start = 2020-01-01
[[targets]]
date = 2021-12-31
on_air = 446
[[districts]]
name_zh = "甲区"
"""


@pytest.fixture
def city_of_kind(tmp_path):
    """Load a minimal city whose city.toml says `kind = "<kind>"` ("" or None: no kind line, a city)."""
    from analysis.config import load_city

    def load(kind: str | None = None):
        folder = tmp_path / "kind_city"
        folder.mkdir(exist_ok=True)
        line = f'kind = "{kind}"' if kind else ""
        (folder / "city.toml").write_text(KIND_CITY_TOML.format(kind=line), encoding="utf-8")
        return load_city(folder)

    return load


def _square(lon0, lat0, lon1, lat1):
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]}


@pytest.fixture
def tiny_city(tmp_path):
    """A city folder in tmp_path: West (84.80-84.87 E) and East (84.87-84.94 E), 45.56-45.64 N,
    a built-up area in West, and sites: a 5A spot (rated 2020-12-29), a 4A spot rated 2021-09-03,
    a hospital. Returns the folder."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "city.toml").write_text(TINY_CITY_TOML, encoding="utf-8")
    districts = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name_zh": "西区", "name_en": "West"},
                "geometry": _square(84.80, 45.56, 84.87, 45.64),
            },
            {
                "type": "Feature",
                "properties": {"name_zh": "东区", "name_en": "East"},
                "geometry": _square(84.87, 45.56, 84.94, 45.64),
            },
        ],
    }
    urban = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name_zh": "西城", "name_en": "West town", "district": "西区"},
                "geometry": _square(84.82, 45.58, 84.86, 45.62),
            },
        ],
    }
    (folder / "districts.geojson").write_text(json.dumps(districts, ensure_ascii=False), encoding="utf-8")
    (folder / "urban_areas.geojson").write_text(json.dumps(urban, ensure_ascii=False), encoding="utf-8")
    sites = pd.DataFrame(
        [
            ["scenic-01", "魔鬼城", "Ghost City", "scenic", "5A", "2020-12-29", "confirmed", "东区", 84.92, 45.62],
            ["scenic-02", "大峡谷", "Canyon", "scenic", "4A", "2021-09-03", "confirmed", "东区", 84.90, 45.57],
            ["hospital-01", "医院", "Hospital", "hospital", "", "", "n/a", "西区", 84.84, 45.60],
        ],
        columns=[
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
        ],
    )
    for col, value in (
        ("coord_crs_original", "wgs84"),
        ("coord_precision_m", "10"),
        ("rating_source", "test"),
        ("coord_source", "test"),
        ("note", ""),
    ):
        sites[col] = value
    sites.to_csv(folder / "sites.csv", index=False)
    return folder


@pytest.fixture
def tiny_stations():
    """Six stations in West's built-up area (n78, n41, n28), one planned, one on air after 2021-03-22."""
    rows = [
        ("S1", "站一", "CMCC", "n41", 84.830, 45.590, "2020-05-01"),
        ("S2", "站二", "CTCC", "n78", 84.840, 45.600, "2020-08-15"),
        ("S3", "站三", "CUCC", "n78", 84.850, 45.610, "2020-12-31"),
        ("S4", "站四", "CBN", "n28", 84.845, 45.585, "2021-01-10"),
        ("S5", "站五", "CMCC", "n41", 84.835, 45.615, "2021-06-01"),
        ("S6", "站六", "CTCC", "n78", 84.855, 45.595, None),
    ]
    df = pd.DataFrame(rows, columns=["station_id", "name", "operator", "band", "lon", "lat", "on_air_date"])
    df["on_air_date"] = pd.to_datetime(df["on_air_date"])
    df["district"] = "西区"
    df["is_on_air"] = df["on_air_date"].notna()
    return df


#: The centre of `one_district_city`.
ONE_DISTRICT_LON, ONE_DISTRICT_LAT = 113.59, 37.86


@pytest.fixture
def one_district_city(tmp_path):
    """A one-district city (城区) 0.4° square around ONE_DISTRICT_LON, ONE_DISTRICT_LAT (Yangquan's centre): its
    city.toml, for the cleaning tests of senders' and trackers' files."""
    folder = tmp_path / "city"
    folder.mkdir()
    (folder / "city.toml").write_text(
        '[city]\nname_zh = "测试市"\nname_en = "Testville"\nbuildout_start = 2019-12-01\n'
        'article_date = 2021-03-22\n[files]\ndistricts = "districts.geojson"\n'
        '[[targets]]\ndate = 2021-12-31\non_air = 10\n[[districts]]\nname_zh = "城区"\nname_en = "Urban"\n',
        encoding="utf-8",
    )
    lon, lat = ONE_DISTRICT_LON, ONE_DISTRICT_LAT
    ring = [[lon - 0.2, lat - 0.2], [lon + 0.2, lat - 0.2], [lon + 0.2, lat + 0.2], [lon - 0.2, lat + 0.2]]
    feature = {
        "type": "Feature",
        "properties": {"name_zh": "城区", "name_en": "Urban"},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }
    (folder / "districts.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False), encoding="utf-8"
    )
    return folder / "city.toml"
