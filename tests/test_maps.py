"""Maps: self-contained (no network), escaped, deterministic, aggregated at scale; and, in headless
Chromium with the network off, the page draws districts and stations and shifts onto GCJ-02."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CHROMIUM_OFFLINE

from analysis import geo
from analysis.config import load_city
from analysis.coverage import assess_coverage
from analysis.maps import (
    ASSETS_DIR,
    MAX_HEXAGONS,
    MIN_HEX_SIZE_M,
    coverage_map,
    hex_shade_breaks,
    hex_size_for,
    hexbin_counts,
    map_html,
    save_map,
)
from analysis.sites import read_sites

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def result(tiny_city, tiny_stations):
    city = load_city(tiny_city / "city.toml")
    st = tiny_stations.copy()
    st.loc[0, "name"] = EVIL
    st.loc[1, "operator"] = "CTCC"
    sites = read_sites(city)
    sites.loc[2, "name_zh"] = EVIL
    return assess_coverage(st, city, as_of="2021-03-22", sites=sites)


def test_assets_are_vendored_with_licences_and_checksums():
    sums = (ASSETS_DIR / "SHA256SUMS").read_text().split("\n")
    for line in filter(None, sums):
        digest, name = line.split()
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == digest, name
    for licence in ("leaflet/LICENSE", "leaflet.markercluster/MIT-LICENCE.txt", "leaflet.fullscreen/LICENSE"):
        assert (ASSETS_DIR / licence).is_file()


def test_page_is_self_contained_escaped_and_deterministic(result):
    page = map_html(coverage_map(result))
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r'<link[^>]+href="https?:', page)
    assert "L.markerClusterGroup" in page and "L.control.fullscreen" in page
    # the injected name is in the page only as escaped JSON, never as markup
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "\\u003cscript\\u003ealert" in page
    assert map_html(coverage_map(result)) == page  # deterministic ids
    assert len(page.encode()) < 3_000_000


def test_amap_basemap_is_default_when_asked(result):
    page = map_html(coverage_map(result, basemap="amap"))
    assert '"defaultBase":"amap"' in page
    with pytest.raises(ValueError):
        coverage_map(result, basemap="google")


def _scattered_stations(n: int, seed: int, on_air: str) -> pd.DataFrame:
    """`n` stations of one operator scattered over the tiny city, all on air on `on_air`."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "station_id": [f"X{i}" for i in range(n)],
            "name": "x",
            "operator": "CMCC",
            "band": "n78",
            "lon": rng.uniform(84.80, 84.94, n),
            "lat": rng.uniform(45.56, 45.64, n),
            "on_air_date": pd.Timestamp(on_air),
        }
    )


def test_many_stations_are_aggregated_to_hexagons(tiny_city):
    n = 5000
    big = _scattered_stations(n, seed=3, on_air="2020-06-01")
    res = assess_coverage(big, load_city(tiny_city / "city.toml"), as_of="2021-03-22")
    page = map_html(coverage_map(res, max_points=3000))
    assert '"aggregated":true' in page
    assert len(page.encode()) < 1_500_000
    assert "5,000 stations on air counted in" in page  # the legend says how they were drawn
    rings, counts = hexbin_counts(big["lon"], big["lat"], 1000.0)
    assert sum(counts) == n and all(len(r) == 7 for r in rings)


def test_a_map_dated_early_in_a_big_buildout_carries_only_the_stations_on_air(tiny_city):
    """A report for an early month of a large city draws its few stations on air; the thousands that
    went on air later are not written into the page (they were, one record each, never drawn)."""
    st = _scattered_stations(4000, seed=4, on_air="2021-06-01")
    st.loc[:9, "on_air_date"] = pd.Timestamp("2020-01-15")
    res = assess_coverage(st, load_city(tiny_city / "city.toml"), as_of="2020-02-29")
    page = map_html(coverage_map(res, max_points=3000))
    assert '"aggregated":false' in page and page.count('"id":"X') == 10
    assert '"months":["2020-01","2020-02"]' in page


def test_hexagons_follow_the_area_drawn_not_the_number_of_stations():
    """A city's map stays as fine at 10^6 stations as at 10^4 (the size once grew with the count: 63 km
    hexagons over a city at 10^6), and the number of hexagons, hence the page, stays bounded."""
    rng = np.random.default_rng(5)
    sizes = []
    for n in (10_000, 1_000_000):
        lon, lat = rng.uniform(84.6, 86.0, n), rng.uniform(44.1, 46.2, n)
        lon[:2], lat[:2] = [84.6, 86.0], [44.1, 46.2]  # the same extent at both counts
        size = hex_size_for(lon, lat)
        rings, counts = hexbin_counts(lon, lat, size)
        assert sum(counts) == n and len(rings) <= 1.2 * MAX_HEXAGONS
        sizes.append(size)
    assert sizes[0] == sizes[1] and 1000 < sizes[0] < 5000  # metres: a city's hexagons
    assert hex_size_for(np.array([85.0]), np.array([45.0])) == MIN_HEX_SIZE_M
    assert hex_shade_breaks([600, 650, 700, 900, 1000]) == [650, 700, 900]  # shades follow the counts
    assert hex_shade_breaks([1, 1, 1]) == [1, 2, 3] and hex_shade_breaks([]) == [10, 30, 100]


# --- the browser, network off ---------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(url: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            CHROMIUM,
            *CHROMIUM_OFFLINE,
            f"--user-data-dir={profile}",
            "--proxy-bypass-list=<-loopback>",
            "--virtual-time-budget=5000",
            *args,
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def _body_attrs(dom: str) -> dict:
    body = re.search(r"<body([^>]*)>", dom).group(1)
    return dict(re.findall(r'data-cm-([a-z]+)="([^"]*)"', body))


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it)")
def test_map_renders_offline_and_shifts_onto_gcj02(result, tmp_path):
    path = save_map(coverage_map(result), tmp_path / "map.html")
    dom = _chromium(path.as_uri(), "--dump-dom").stdout
    attrs = _body_attrs(dom)
    assert attrs.get("ready") == "1", "the map script did not run with the network off"
    n_districts, n_stations = map(int, attrs["layers"].split(","))
    assert n_districts == len(result.districts)
    assert n_stations == int(result.stations["is_on_air_at_as_of"].sum())
    assert "<script>alert" not in dom  # nothing injected into the live page either
    # the probe is the first on-air station: drawn as is on OSM, shifted by the known offset on Amap
    first = result.stations[result.stations["is_on_air_at_as_of"]].iloc[0]
    lon, lat = map(float, attrs["probe"].split(","))
    assert attrs["frame"] == "wgs84"
    assert (lon, lat) == pytest.approx((first["lon"], first["lat"]), abs=1e-6)
    attrs = _body_attrs(_chromium(path.as_uri() + "#basemap=amap", "--dump-dom").stdout)
    assert attrs["frame"] == "gcj02"
    glon, glat = geo.wgs84_to_gcj02(first["lon"], first["lat"])
    lon, lat = map(float, attrs["probe"].split(","))
    assert (lon, lat) == pytest.approx((glon, glat), abs=1e-6)
    shift_m = np.hypot((glon - first["lon"]) * 111320 * np.cos(np.radians(lat)), (glat - first["lat"]) * 110540)
    assert 100 < shift_m < 400  # GCJ-02 moves Karamay-area points by a few hundred metres


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it)")
def test_screenshot_shows_districts_and_stations(result, tmp_path):
    from PIL import Image

    path = save_map(coverage_map(result, basemap="none"), tmp_path / "map.html")
    png = tmp_path / "shot.png"
    _chromium(path.as_uri(), "--window-size=900,700", f"--screenshot={png}")
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    # district fill (choropleth colours, semi-transparent on the grey background) covers a good part
    coloured = (np.abs(r - g) > 25) | (np.abs(g - b) > 25)
    assert coloured.mean() > 0.05
    # operator colours of the station markers are present (CMCC blue)
    blue = (b > 150) & (r < 90) & (g > 90) & (g < 160)
    assert blue.sum() > 20


def test_script_and_css_come_from_package_templates(result):
    """The map's script and CSS are template files shipped in the package (pyproject's templates/**/*),
    rendered into the page; maps.py holds no JavaScript."""
    import importlib.resources
    import inspect

    import analysis.maps as maps

    folder = importlib.resources.files("analysis").joinpath("templates")
    js = folder.joinpath("map_layers.js.j2").read_text(encoding="utf-8")
    assert "{% macro script(this, kwargs) %}" in js and "L.geoJSON" in js
    assert "L.geoJSON" not in inspect.getsource(maps)
    page = map_html(coverage_map(result))
    assert "function shiftGeo(fc)" in page and ".cm-legend{" in page and "{%" not in page


def test_gaps_without_an_outline_are_left_off_the_map(result):
    gaps = result.gaps.copy()
    gaps.loc[gaps.index[1:], "geometry"] = None
    page = map_html(coverage_map(result.__class__(**{**result.__dict__, "gaps": gaps})))
    drawn = re.search(r'"gaps":(\{"type":"FeatureCollection","features":\[.*?\]\})', page).group(1)
    assert drawn.count('"rank":') == 1


def _map_data(page: str) -> dict:
    import json

    return json.loads(re.search(r"var D = (\{.*?\});\n", page).group(1))


def test_the_map_opens_on_the_whole_city_with_every_district_named(result):
    """The first view is the districts' bounds (it opened on the worst gap: one square, no name on screen);
    each district carries a permanent label (names and share) placed inside it; gaps are filled in a
    colour no district share takes, and the legend's swatches are drawn as the map draws them."""
    from analysis.maps import DISTRICT_FILL_OPACITY, GAP_FILL, GAP_FILL_OPACITY, SHARE_COLOURS

    data = _map_data(map_html(coverage_map(result)))
    minx, miny, maxx, maxy = result.districts.total_bounds
    assert data["view"] == [[round(miny, 5), round(minx, 5)], [round(maxy, 5), round(maxx, 5)]]
    for feature, geom in zip(data["districts"]["features"], result.districts.geometry):
        p = feature["properties"]
        assert p["label"].startswith(p["name"]) and geom.contains(shapely.Point(p["label_at"]))
    assert "cm-dlabel" in map_html(coverage_map(result)) and "pane: 'cmLabels'" in map_html(coverage_map(result))
    assert GAP_FILL not in SHARE_COLOURS and data["style"]["gap"]["fillColor"] == GAP_FILL
    assert f"background:{SHARE_COLOURS[0]};opacity:{DISTRICT_FILL_OPACITY}" in data["legend"]
    assert f"background:{GAP_FILL};opacity:{GAP_FILL_OPACITY}" in data["legend"]


def test_a_district_label_lies_in_the_district_not_in_its_hole_or_enclave():
    """A district with a hole at its middle (an enclave of its neighbour) and an exclave: the label goes in
    the largest part, off the hole (the centroid falls in the enclave)."""
    from analysis.maps import _label_points

    ring = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (3, 1), (3, 3), (1, 3)]])
    district = shapely.MultiPolygon([ring, shapely.box(10, 10, 10.5, 10.5)])
    assert not district.contains(district.centroid)
    assert ring.contains(shapely.Point(_label_points(district)[0][:2]))


def test_hexagons_are_each_points_nearest_centre_in_row_column_order():
    """hexbin_counts against the plain way (every point to its nearest hexagon centre, hexagons sorted by
    row then column) on both sides of the equator and the meridian: the 1-D keys keep that order."""
    rng = np.random.default_rng(17)
    lon, lat = rng.uniform(-0.3, 0.3, 4000), rng.uniform(-0.2, 0.2, 4000)
    size = 2000.0
    rings, counts = hexbin_counts(lon, lat, size)
    R, w, h = 6378137.0, np.sqrt(3) * size, 1.5 * size
    x, y = np.radians(lon) * R, np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * R
    rows = np.arange(np.floor(y.min() / h) - 2, np.ceil(y.max() / h) + 3).astype(int)
    cols = np.arange(np.floor(x.min() / w) - 2, np.ceil(x.max() / w) + 3).astype(int)
    rr, cc = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
    cx, cy = cc * w + (rr % 2) * w / 2, rr * h
    nearest = np.argmin((x[:, None] - cx) ** 2 + (y[:, None] - cy) ** 2, axis=1)
    keys, expected = np.unique(nearest, return_counts=True)  # meshgrid order: row, then column
    assert counts == expected.tolist() and sum(counts) == 4000
    centre = np.array([np.mean(r[:-1], axis=0) for r in rings])
    clon = np.degrees(cx[keys] / R)
    assert np.allclose(centre[:, 0], clon, atol=1e-4)


# --- one set of colours -----------------------------------------------------------------------------
def _swatches(legend: str) -> list[tuple[list[str], str]]:
    """The legend's swatches: the `map_style()` entries each names (data-mark) and its CSS."""
    return [
        (m[0].split(), m[1]) for m in re.findall(r"<i[^>]*data-mark=['\"]([^'\"]+)['\"] style=['\"]([^'\"]*)", legend)
    ]


def _style_at(style: dict, path: str):
    for key in path.split("."):
        style = style[int(key)] if isinstance(style, list) else style[key]
    return style


def test_the_legend_shows_the_colours_the_layers_are_drawn_with(result, monkeypatch):
    """The legend and the script draw from one set of constants (maps.map_style, `D.style` in the page):
    each swatch shows the colours of the entries it names, every colour the layers use has its swatch,
    the script holds no colour of its own, and a colour changed in Python changes marker and legend."""
    import analysis.maps as maps

    data = _map_data(map_html(coverage_map(result)))
    swatches = _swatches(data["legend"])
    for marks, css in swatches:
        for mark in marks:
            assert _style_at(data["style"], mark) in css, (mark, css)
    shown = {mark for marks, _ in swatches for mark in marks}
    needed = {f"share.{k}" for k in range(len(maps.SHARE_COLOURS))} | {f"op.{op}" for op in maps.OPERATOR_COLOURS}
    needed |= {f"site.{v}" for v in maps.SITE_COLOURS} | {"gap.fillColor", "candidate", "target_edge", "urban_line"}
    needed |= {"cluster", "new_in_month"}  # the tiny city's stations are clustered and have months
    assert needed <= shown, needed - shown
    js = (maps.Path(maps.__file__).parent / "templates" / "map_layers.js.j2").read_text(encoding="utf-8")
    assert not re.findall(r"#[0-9a-fA-F]{3,6}\b", js), "a colour written in the script, not taken from D.style"
    read = set(re.findall(r"\bS\.([A-Za-z_]+)", js))
    assert read and read <= set(maps.map_style()), read - set(maps.map_style())
    monkeypatch.setitem(maps.SITE_COLOURS, "covered", "#123456")
    monkeypatch.setitem(maps.MARK_COLOURS, "candidate", "#654321")
    data = _map_data(map_html(coverage_map(result)))
    assert data["style"]["site"]["covered"] == "#123456" and data["style"]["candidate"] == "#654321"
    css = dict((" ".join(m), c) for m, c in _swatches(data["legend"]))
    assert "#123456" in css["site.covered"] and "#654321" in css["candidate_fill candidate"]


def test_a_legend_row_for_each_optional_layer_only_when_drawn():
    """Rows for what a map may or may not draw: no share (grey), hexagon shades with their counts."""
    from analysis.maps import _legend_html

    bare = _legend_html("t", "s", "m")
    assert "noShare" not in bare and "hex.0" not in bare and "cluster" not in bare
    full = _legend_html("t", "s", "m", layers={"no_share": True, "clusters": True, "hex_breaks": [2, 5, 9]})
    assert "noShare" in full and "data-mark='cluster'" in full
    assert "data-mark='hex.0' style='background:#c6dbef;opacity:0.7'></i>1 座 stations" in full
    assert "2–4 座 stations" in full and "5–8 座 stations" in full and "≥ 9 座 stations" in full
    # a hexagon holds a station at least: no shade for fewer when the first break is 1
    ones = _legend_html("t", "s", "m", layers={"hex_breaks": [1, 2, 5]})
    assert "hex.0" not in ones and "hex.1' style='background:#6baed6;opacity:0.7'></i>1 座 stations" in ones


# --- every part of a district named, names under the markers --------------------------------------
#: West's exclave inside East (a hole of East), and a speck of West too small to name at any city zoom
EXCLAVE = shapely.box(84.915, 45.585, 84.925, 45.595)
SPECK = shapely.box(84.9300, 45.6300, 84.9303, 45.6303)


def _with_exclave(result, stations=None):
    """The result with West in three parts (its square, EXCLAVE, SPECK) and East holed around them."""
    districts = result.districts.copy()
    west, east = districts.geometry.iloc[0], districts.geometry.iloc[1]
    districts.loc[districts.index[0], "geometry"] = shapely.union_all([west, EXCLAVE, SPECK])
    districts.loc[districts.index[1], "geometry"] = east.difference(EXCLAVE).difference(SPECK)
    changes = {"districts": districts} if stations is None else {"districts": districts, "stations": stations}
    return result.__class__(**{**result.__dict__, **changes})


def test_every_part_of_a_district_carries_a_label_point_inside_it(result):
    """An exclave gets its own label point inside it, with the radius of the circle that fits in it (the
    page names the part when that circle is big enough on screen); a district of many islands carries
    the largest MAX_LABELLED_PARTS only."""
    from analysis.maps import MAX_LABELLED_PARTS, _label_points

    west = _map_data(map_html(coverage_map(_with_exclave(result))))["districts"]["features"][0]["properties"]
    assert west["name"] == "西区" and len(west["parts"]) == 2
    (lon, lat, r), (slon, slat, sr) = west["parts"]
    assert EXCLAVE.contains(shapely.Point(lon, lat)) and r == pytest.approx(0.005, abs=2e-4)
    assert SPECK.contains(shapely.Point(slon, slat)) and sr < 0.0002
    islands = shapely.MultiPolygon([shapely.box(i, 0, i + 0.5 - i / 100, 0.5) for i in range(30)])
    points = _label_points(islands)
    assert len(points) == MAX_LABELLED_PARTS and points[0][0] < 0.5  # the largest first


def _settling_probe(script: str, report_on: str = "document.body") -> str:
    """A script for a map's page (put before its </body>) that runs `script` (which sets window.cmProbe to a
    JSON-able value) once the map settles and puts the value in the data-probe attribute of `report_on`.
    Settled: from 2 s on, no zoom or cluster animation running and the value the same three times 250 ms apart
    (a busy machine ends the clusters' animation and the names' placing after it later; a value taken at a
    fixed time then caught the names half placed), else the value at 4.5 s."""
    return (
        "<script>(function () { var last = null, same = 0, start = Date.now(); function look() { "
        + script
        + "; var now = JSON.stringify(window.cmProbe), busy = document.querySelector("
        "'.leaflet-cluster-anim, .leaflet-zoom-anim'); same = now === last && !busy ? same + 1 : 0; last = now; "
        "if (same >= 2 || Date.now() - start > 4500) "
        + report_on
        + ".setAttribute('data-probe', now); else setTimeout(look, 250); } setTimeout(look, 2000); })();"
        "</script></body>"
    )


def _page_probe(path, script: str, window: str = "1000,800") -> dict:
    """Run `script` (which sets window.cmProbe to a JSON-able value) in the saved map once it settles
    (`_settling_probe`), in headless Chromium with the network off; returns that value."""
    import html as html_lib
    import json

    page = path.read_text(encoding="utf-8")
    probe = _settling_probe(script)
    path.write_text(page.replace("</body>", probe), encoding="utf-8")
    dom = _chromium(path.as_uri(), f"--window-size={window}", "--dump-dom").stdout
    return json.loads(html_lib.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))


_LABELS_AND_CLUSTERS = """
var m = window[Object.keys(window).filter(function (k) { return /^map_[0-9a-f]{8}$/.test(k); })[0]];
var box = m.getContainer().getBoundingClientRect();
function centre(el) { var r = el.getBoundingClientRect(); return [(r.left + r.right) / 2, (r.top + r.bottom) / 2]; }
function rect(el) { var r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
function z(pane) { return Number(getComputedStyle(m.getPane(pane)).zIndex); }
window.cmProbe = {
  panes: [z('overlayPane'), z('cmLabels'), z('cmPoints'), z('markerPane'), z('tooltipPane')],
  labels: Array.prototype.map.call(document.querySelectorAll('.cm-dlabel > div'), function (d) {
    var c = centre(d), at = m.containerPointToLatLng([c[0] - box.left, c[1] - box.top]);
    return {text: d.textContent, part: d.className === 'cm-part', shown: d.style.visibility !== 'hidden',
            lon: at.lng, lat: at.lat, rect: rect(d), of: [Number(d.getAttribute('data-lon')),
            Number(d.getAttribute('data-lat'))]};
  }),
  clusters: Array.prototype.map.call(document.querySelectorAll('.cm-cluster'), function (el) {
    var c = centre(el), top = document.elementFromPoint(c[0], c[1]);
    return {text: el.textContent, onTop: el.contains(top), rect: rect(el)};
  })
}"""


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it)")
def test_the_page_names_the_exclave_and_no_name_covers_a_cluster(result, tmp_path):
    """In the browser, at the opening view: West's exclave is named next to it, the speck is not; each main
    name lies in its own district or outside the city; twelve stations on West's label point make a
    cluster, and nothing covers its count (names lay above the markers and hid it)."""
    from analysis.maps import _label_points

    st = result.stations
    west_at = _label_points(result.districts.geometry.iloc[0])[0]
    crowd = st[st["is_on_air_at_as_of"]].iloc[[0] * 12].copy()
    crowd["station_id"] = [f"C{i}" for i in range(12)]
    crowd["lon"] = west_at[0] + np.arange(12) * 0.0002
    crowd["lat"] = west_at[1]
    res = _with_exclave(result, pd.concat([st, crowd], ignore_index=True))
    found = _page_probe(save_map(coverage_map(res, basemap="none"), tmp_path / "map.html"), _LABELS_AND_CLUSTERS)
    parts = [x for x in found["labels"] if x["part"]]
    assert len(parts) == 2 and all("西区" in x["text"] for x in parts)
    exclave, speck = sorted(parts, key=lambda x: not EXCLAVE.contains(shapely.Point(x["of"])))
    assert EXCLAVE.contains(shapely.Point(exclave["of"])) and SPECK.contains(shapely.Point(speck["of"]))
    assert exclave["shown"] and shapely.Point(exclave["lon"], exclave["lat"]).distance(EXCLAVE) < 0.006, exclave
    assert not speck["shown"]
    for label in (x for x in found["labels"] if not x["part"]):
        at = shapely.Point(label["lon"], label["lat"])
        home = [n for n, g in zip(res.districts["name_zh"], res.districts.geometry) if g.contains(at)]
        assert home in ([], [label["text"][:2]]), label
    # fills, names, station dots, clusters and key sites, candidates' tags: bottom to top
    assert found["panes"] == sorted(found["panes"]) and len(set(found["panes"])) == 5, found["panes"]
    assert found["clusters"] and all(c["onTop"] for c in found["clusters"]), found["clusters"]
    for label in found["labels"]:  # with room around it, a name moves off the cluster
        for c in found["clusters"]:
            a, b = label["rect"], c["rect"]
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (label["text"], c["text"])


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it)")
def test_in_a_low_frame_the_legend_fits_and_no_name_lies_under_a_control(result, tmp_path):
    """A report shows the map in a frame 560 px high, a reviewer's laptop less: the legend stays inside the
    frame (it scrolls; taller, its title was cut off), and no district's name is under the legend, the
    buildout slider or another control (a name moved under the slider was lost)."""
    import html as html_lib
    import json

    page = map_html(coverage_map(result, basemap="none"))
    script = """
      function rect(el) { var r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
      var shown = Array.prototype.filter.call(document.querySelectorAll('.cm-dlabel > div'), function (d) {
        return d.style.visibility !== 'hidden'; });
      window.cmProbe = {height: window.innerHeight, legend: rect(document.querySelector('.cm-legend')),
        names: shown.map(rect), controls: Array.prototype.map.call(document.querySelectorAll('.leaflet-control'), rect)}
    """
    probe = _settling_probe(script, report_on="parent.document.body")
    frame = html_lib.escape(page.replace("</body>", probe), quote=True)
    wrapper = tmp_path / "frame.html"
    wrapper.write_text(
        f'<html><body><iframe style="width:1000px;height:400px;border:0" srcdoc="{frame}"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = _chromium(wrapper.as_uri(), "--window-size=1100,800", "--dump-dom").stdout
    found = json.loads(html_lib.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert found["height"] == 400
    assert found["legend"][1] >= 0 and found["legend"][3] <= 400, found["legend"]
    assert found["names"]
    for a in found["names"]:
        for b in found["controls"]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it)")
def test_a_map_of_hundreds_of_small_districts_names_those_drawn_large_enough(result, tmp_path):
    """East cut into 30 x 30 small districts (a country's counties, drawn a few pixels wide at the opening
    view): only the names that fit their district on screen are shown, none over another (8,733 counties
    opened as a carpet of names over the map); West, drawn hundreds of pixels wide, keeps its name. A map of a
    few districts (a city's) names every one, however small one is drawn."""
    from analysis.maps import MAIN_LABEL_ALL_DISTRICTS, MAIN_LABEL_MIN_PX

    def with_tiles(n: int, size: float):
        districts = result.districts.iloc[[0]].copy()
        x0, y0, x1, y1 = result.districts.geometry.iloc[1].bounds
        dx, dy = (x1 - x0) / n, (y1 - y0) / n
        cells = [(i, j) for i in range(n) for j in range(n)]
        w, h = size * dx, size * dy
        tiles = [shapely.box(x0 + i * dx, y0 + j * dy, x0 + i * dx + w, y0 + j * dy + h) for i, j in cells]
        extra = districts.iloc[[0] * len(tiles)].copy()
        extra["name_zh"] = [f"格{k}" for k in range(len(tiles))]
        extra["name_en"] = [f"Tile {k}" for k in range(len(tiles))]
        extra = extra.set_geometry(tiles, crs=districts.crs)
        many = result.__class__(**{**result.__dict__, "districts": pd.concat([districts, extra], ignore_index=True)})
        page = save_map(coverage_map(many, basemap="none"), tmp_path / f"map{n}.html")
        return dx, _page_probe(page, _LABELS_AND_CLUSTERS)

    dx, found = with_tiles(30, 1.0)
    main = [x for x in found["labels"] if not x["part"]]
    shown = [x for x in main if x["shown"]]
    assert len(main) == 901 and any(x["text"].startswith("西区") for x in shown)
    assert len(shown) < 50, [x["text"] for x in shown][:60]  # (tiles about 17 px wide: < MAIN_LABEL_MIN_PX)
    assert MAIN_LABEL_MIN_PX > dx * 1000 / 0.14 / 2  # (what a tile's inner circle spans at ~1000 px for 0.14°)
    for i, a in enumerate(shown):
        for b in shown[i + 1 :]:
            ra, rb = a["rect"], b["rect"]
            assert not (ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]), (a["text"], b["text"])
    _, found = with_tiles(3, 0.15)  # a city of ten districts, nine of them specks a few pixels wide
    assert MAIN_LABEL_ALL_DISTRICTS >= 10 and sum(not x["part"] for x in found["labels"]) == 10
    assert all(x["shown"] for x in found["labels"] if not x["part"]), found["labels"]


def test_the_popups_write_counts_and_areas_as_the_pages_do_with_thousands_separators(result):
    """A country's district popup said '面积 area 24874.8 km²' and '在网基站 99894' beside the pages' 24,874.8 and
    99,894: the map writes numbers with the pages' formatting (`figures.count_text`, `number_text`)."""
    by = result.by_district.copy()
    first = by.index[0]
    by.loc[first, ["area_km2", "urban_area_km2", "covered_km2"]] = [24874.84, 3833.04, 1234.56]
    by.loc[first, "n_stations_on_air"] = 99894
    candidates = result.candidates.copy()
    candidates.loc[candidates.index[0], ["gain_km2", "radius_m"]] = [1234.5678, 1500.0]
    gaps = result.gaps.copy()
    gaps.loc[gaps.index[0], "area_km2"] = 4321.234
    changed = result.__class__(**{**result.__dict__, "by_district": by, "candidates": candidates, "gaps": gaps})
    data = _map_data(map_html(coverage_map(changed)))
    rows = dict(data["districts"]["features"][0]["properties"]["rows"])
    assert rows["面积 area"] == "24,874.8 km²" and rows["城区 built-up area"] == "3,833.0 km²"
    assert rows["覆盖 covered outdoor"].startswith("1,234.6 km² (") and rows["在网基站 stations on air"] == "99,894"
    gain = dict(data["candidates"][0]["rows"])
    assert gain["新增覆盖 gain"].startswith("1,234.57 km² of gap") and gain["半径 radius"].startswith("1,500 m")
    assert data["gaps"]["features"][0]["properties"]["area"] == "4,321.23"


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_the_maps_script_writes_its_counts_with_thousands_separators():
    """The counts the page's script writes (a cluster's, a hexagon's, the buildout slider's, a station's radius)
    with the separators the pages use."""
    import json

    from analysis.maps import _read_template

    js = _read_template("map_layers.js.j2")
    body = re.search(r"(  function num\(v\) \{.*?\n  \})", js, re.S).group(1)
    cases = [8733, 99894, 1234567, 12, "1234.5", 359, None]
    out = subprocess.run(
        ["node", "-e", body + f"\nconsole.log(JSON.stringify({json.dumps(cases)}.map(num)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == '["8,733","99,894","1,234,567","12","1,234.5","359",""]'
    uses = ("num(n) + '</div>'", "num(s.r) + ' m / ' + num(s.ri)", "': ' + num(n) + ' on air'", "num(f.properties.n)")
    assert all(use in js for use in uses)


def test_a_key_site_outside_every_district_is_not_said_to_be_outside_the_city(result):
    """The map is not told whether the whole is a city, a province or a country: a site outside every district
    says so ('市域外 outside the city' was said of a country's sites)."""
    from analysis.maps import _site_layer

    sites = result.sites.copy()
    sites.loc[sites.index[0], ["district", "district_note"]] = [None, "outside every district"]
    rows = dict(_site_layer(result.__class__(**{**result.__dict__, "sites": sites}))[0]["rows"])
    assert rows["区 district"] == "区县之外 outside every district (outside every district)"
    assert "市域" not in str(rows) and "the city" not in str(rows)
