"""The naive coverage command a user writes with geopandas, the baseline of the `coverage` command
rows: `python -m benchmarks.naive_coverage STATIONS.parquet DISTRICTS.geojson RADIUS_M`.

Buffer every station in the UTM zone of the districts, union the discs, intersect with each district
and print the covered km2 per district and their total: the covered area only, with no gaps, key sites or candidates
(the package's command does all of those, so the comparison favours the baseline).
"""

from __future__ import annotations

import sys

import geopandas as gpd
import pandas as pd


def main(argv: list[str]) -> int:
    stations, districts, radius_m = argv[0], argv[1], float(argv[2])
    df = pd.read_parquet(stations, columns=["lon", "lat"])
    d = gpd.read_file(districts)
    crs = d.estimate_utm_crs()
    pts = gpd.GeoSeries(gpd.points_from_xy(df["lon"], df["lat"]), crs=4326).to_crs(crs)
    cover = pts.buffer(radius_m).union_all()
    total = 0.0
    for name, geom in zip(d["name_zh"], d.to_crs(crs).geometry):
        km2 = geom.intersection(cover).area / 1e6
        total += km2
        print(f"{name},{km2:.3f}")
    print(f"total,{total:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
