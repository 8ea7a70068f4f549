"""Maps: one self-contained folium/Leaflet HTML page a reviewer can read alone (districts coloured by
covered share, clustered stations, footprints, key sites, gaps, candidates, a month slider of the
buildout), readable with no network: Leaflet and its plugins are inlined from `analysis/assets`.

Every string that comes from data reaches the page as JSON (with `<`, `>`, `&` escaped) and is put
into popups and tooltips through an HTML-escaping function, so a station named `<script>` is text.
Element ids are numbered in tree order instead of folium's random ones, so the same inputs give the
same bytes. Coordinates are WGS-84; on the Amap (GCJ-02) basemap the page shifts every layer onto it.
"""

from __future__ import annotations

import base64
import html
import importlib.resources
import json
import math
import re
from pathlib import Path

import folium
import folium.plugins
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template
from shapely.ops import polylabel

from analysis.config import OPERATOR_NAMES_ZH
from analysis.figures import count_text, number_text

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
#: folium's CDN references -> the vendored file that replaces each (same API)
_ASSET_FILES = {
    "leaflet.js": ASSETS_DIR / "leaflet" / "leaflet.js",
    "leaflet.css": ASSETS_DIR / "leaflet" / "leaflet.css",
    "leaflet.markercluster.js": ASSETS_DIR / "leaflet.markercluster" / "leaflet.markercluster.js",
    "MarkerCluster.css": ASSETS_DIR / "leaflet.markercluster" / "MarkerCluster.css",
    "MarkerCluster.Default.css": ASSETS_DIR / "leaflet.markercluster" / "MarkerCluster.Default.css",
    "Control.FullScreen.min.js": ASSETS_DIR / "leaflet.fullscreen" / "Control.FullScreen.js",
    "Control.FullScreen.css": ASSETS_DIR / "leaflet.fullscreen" / "Control.FullScreen.css",
}
_LEAFLET_JS = ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
_LEAFLET_CSS = ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")
_MC_JS = "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js"
_MC_CSS = "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css"
_MC_DEFAULT_CSS = "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css"

BASEMAPS = {
    "osm": {
        "name": "OpenStreetMap",
        "frame": "wgs84",
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "&copy; OpenStreetMap contributors",
        "subdomains": "abc",
        "max_zoom": 19,
    },
    "amap": {
        "name": "高德 Amap (GCJ-02)",
        "frame": "gcj02",
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attribution": "&copy; 高德地图 AutoNavi",
        "subdomains": "1234",
        "max_zoom": 18,
    },
    "none": {"name": "无底图 No basemap", "frame": "wgs84"},
}
#: Every colour the map draws with, by what it marks. The legend's swatches and the page's script read
#: these constants only (the script as `D.style`, see map_style), so a colour changed here changes the
#: markers and the legend together.
OPERATOR_COLOURS = {"CMCC": "#1f78b4", "CTCC": "#e31a1c", "CUCC": "#ff7f00", "CBN": "#6a3d9a", "unknown": "#777777"}
#: bins of the district choropleth (% of the built-up area covered outdoors) and their colours
SHARE_BINS = (0, 50, 70, 85, 95, 100.0001)
SHARE_COLOURS = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")
#: a district without a built-up area has no share to colour it by
NO_SHARE_COLOUR = "#bbbbbb"
#: how the districts are filled over the basemap; the legend's swatches are drawn the same way
DISTRICT_FILL_OPACITY = 0.4
#: gaps: a near-black that no share colour (nor the purple of candidates) is near: read over any district
GAP_FILL, GAP_FILL_OPACITY, GAP_LINE = "#1a1a1a", 0.65, "#000000"
#: a key site's diamond by its outdoor verdict (`coverage.site_verdicts`)
SITE_COLOURS = {"covered": "#1a9850", "uncovered": "#d73027", "uncertain": "#fdae61"}
#: lines, edges and marks that carry no data value
MARK_COLOURS = {
    "district_line": "#333333",
    "urban_line": "#555555",
    "station_edge": "#ffffff",
    "site_edge": "#ffffff",
    "target_edge": "#000000",  # a 4A+ target's diamond: a thick black edge
    "candidate": "#7b3294",
    "candidate_fill": "#ffffff",
    "new_in_month": "#000000",  # the buildout layer: stations opened in the month shown
    "cluster": "#263238",  # a cluster of stations: dark, unlike every share, site and operator colour
    "cluster_text": "#ffffff",
}
#: hexagons of stations (national maps), lightest to darkest (breaks: hex_shade_breaks)
HEX_COLOURS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")


def map_style() -> dict:
    """The colours the page's script draws with (`D.style`): the constants above, in one document."""
    return {
        "bins": list(SHARE_BINS),
        "share": list(SHARE_COLOURS),
        "noShare": NO_SHARE_COLOUR,
        "districtOpacity": DISTRICT_FILL_OPACITY,
        "gap": {"color": GAP_LINE, "weight": 1.5, "fillColor": GAP_FILL, "fillOpacity": GAP_FILL_OPACITY},
        "op": dict(OPERATOR_COLOURS),
        "site": dict(SITE_COLOURS),
        "hex": list(HEX_COLOURS),
        **MARK_COLOURS,
    }


def _read_template(name: str) -> str:
    """A file of analysis/templates (package data), as text."""
    return importlib.resources.files("analysis").joinpath("templates", name).read_text(encoding="utf-8")


def _json_for_script(obj) -> str:
    """JSON safe inside <script>: no `<`, `>` or `&` survives, so no `</script>` can close it."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _r(v, nd=5):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), nd)


def _km2(v) -> str:
    """An area in a popup as the pages write it (thousands separators, one decimal; '–' for missing)."""
    return number_text(v, 1)


def _share(v) -> str:
    """A share (percent) in a popup, one decimal; '' for missing, as before."""
    return _text(_r(v, 1))


def _metres(v) -> str:
    """A distance in metres in a popup, to the decimetre the stage rounds it to, with thousands separators
    ('1,234.5'); '' for missing, as before."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else number_text(v, 1)


def _text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)


def _geojson(geoms, props: list[dict], ndigits: int = 5) -> dict:
    feats = []
    for g, p in zip(geoms, props):
        if g is None or g.is_empty:
            continue
        g = shapely.transform(g, lambda xy: np.round(xy, ndigits))
        feats.append({"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)})
    return {"type": "FeatureCollection", "features": feats}


def hexbin_counts(lon, lat, size_m: float) -> tuple[list, list[int]]:
    """Pointy-top hexagons of circumradius `size_m` (Web Mercator metres) holding the points:
    (list of [lon, lat] rings, counts). For national maps, where points would be too many."""
    lon = np.asarray(lon, dtype=float)
    lat = np.clip(np.asarray(lat, dtype=float), -85, 85)
    R = 6378137.0
    x = np.radians(lon) * R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * R
    w = math.sqrt(3) * size_m
    h = 1.5 * size_m
    row = np.round(y / h).astype(np.int64)
    col = np.round((x - (row % 2) * w / 2) / w).astype(np.int64)
    # check the two neighbouring rows too: the nearest hexagon centre wins (the first of equals, in this order)
    best_d = np.full(x.size, np.inf)
    best_r, best_c = row.copy(), col.copy()
    for dr in (-1, 0, 1):
        rr = row + dr
        shift = (rr % 2) * w / 2
        cy = rr * h
        for dc in (-1, 0, 1):
            cc = col + dc
            d = (x - (cc * w + shift)) ** 2 + (y - cy) ** 2
            better = d < best_d
            best_d[better] = d[better]
            best_r[better], best_c[better] = rr[better], cc[better]
    # one integer key per hexagon, ordered as (row, column) pairs are: a 1-D unique, not a sort of rows
    c0 = best_c.min(initial=0)
    span = int(best_c.max(initial=0) - c0) + 1
    keys, counts = np.unique(best_r * span + (best_c - c0), return_counts=True)
    rr, cc = np.divmod(keys, span)
    cc = cc + c0
    ang = np.radians(np.arange(6) * 60 + 30)
    cx = (cc * w + (rr % 2) * w / 2)[:, None]
    cy = (rr * h)[:, None]
    hlon = np.degrees((cx + size_m * np.cos(ang)) / R)
    hlat = np.degrees(2 * np.arctan(np.exp((cy + size_m * np.sin(ang)) / R)) - np.pi / 2)
    rings = []
    for lons, lats in zip(hlon.tolist(), hlat.tolist()):
        ring = [[round(a, 5), round(b, 5)] for a, b in zip(lons, lats)]
        rings.append(ring + [ring[0]])
    return rings, counts.tolist()


def _swatch(marks: str, style: str, shape: str = "") -> str:
    """A legend swatch: `marks` names the `map_style()` entries it shows (space-separated paths such as
    `site.covered`), so a test can check each swatch against the colour the script draws with."""
    cls = f" class='{shape}'" if shape else ""
    return f"<i{cls} data-mark='{marks}' style='{style}'></i>"


def _legend_row(items) -> str:
    """Legend entries side by side, wrapping at the legend's width."""
    return "<div class='cm-row'>" + "".join(f"<span>{item}</span>" for item in items) + "</div>"


def _legend_html(
    title: str, subtitle: str, metric_label: str, hex_note: str = "", *, layers: dict | None = None
) -> str:
    """The legend, drawn from the same constants as the layers (map_style). `layers` says which optional
    rows apply: `no_share` (a district without built-up area), `clusters`, `buildout`, `hex_breaks`."""
    e, st, layers = html.escape, map_style(), layers or {}
    rows = [
        f"<div class='cm-title'>{e(title)}</div><div class='cm-sub'>{e(subtitle)}</div>",
        f"<div class='cm-h'>{e(metric_label)}</div>",
    ]
    fill = f"opacity:{st['districtOpacity']};outline:1px solid {st['district_line']}"
    # the share bins and the operators side by side, wrapped: one per line made the legend taller than a
    # report's 560 px map frame
    items = [
        _swatch(f"share.{k} district_line", f"background:{st['share'][k]};{fill}") + f"{lo:g}–{min(hi, 100):g} %"
        for k, (lo, hi) in enumerate(zip(st["bins"][:-1], st["bins"][1:]))
    ]
    if layers.get("no_share"):
        items.append(_swatch("noShare district_line", f"background:{st['noShare']};{fill}") + "无城区 no built-up area")
    items.append(_swatch("urban_line", f"border-top:2px dashed {st['urban_line']}", "line") + "城区 built-up area")
    rows.append(_legend_row(items))
    rows.append("<div class='cm-h'>运营商 Operator</div>")
    rows.append(
        _legend_row(
            _swatch(f"op.{op}", f"background:{colour}", "dot") + f"{e(op)} {e(OPERATOR_NAMES_ZH.get(op, ''))}"
            for op, colour in st["op"].items()
        )
    )
    if layers.get("clusters"):
        swatch = _swatch("cluster", f"background:{st['cluster']}", "dot")
        rows.append(f"<div>{swatch}基站聚合（座数）stations grouped (count)</div>")
    if layers.get("buildout"):
        swatch = _swatch("new_in_month", f"background:{st['new_in_month']}", "dot")
        rows.append(f"<div>{swatch}当月开通 opened in the month (buildout)</div>")
    for k, words in _hex_words(layers.get("hex_breaks")):
        swatch = _swatch(f"hex.{k}", f"background:{st['hex'][k]};opacity:0.7")
        rows.append(f"<div>{swatch}{e(words)}</div>")
    rows += _legend_site_rows(st)
    if hex_note:  # too many stations to draw one by one: how they were counted
        rows.append(f"<div class='cm-h'>{e(hex_note)}</div>")
    return "".join(rows)


def _legend_site_rows(st: dict) -> list[str]:
    """The legend's rows for key sites, gaps and candidates (colours from `map_style()`)."""
    site, gap, box = st["site"], st["gap"], "box-sizing:border-box"
    target = f"background:{site['uncovered']};border:2px solid {st['target_edge']};{box}"
    gap_style = f"background:{gap['fillColor']};opacity:{gap['fillOpacity']};outline:1px solid {gap['color']}"
    candidate = f"background:{st['candidate_fill']};border:3px solid {st['candidate']};{box}"
    return [
        "<div class='cm-h'>重点场所 Key sites</div>",
        f"<div>{_swatch('site.covered', 'background:' + site['covered'], 'dia')}已覆盖 covered</div>",
        f"<div>{_swatch('site.uncovered', 'background:' + site['uncovered'], 'dia')}未覆盖 not covered</div>",
        f"<div>{_swatch('site.uncertain', 'background:' + site['uncertain'], 'dia')}"
        "待核实 to check (nearer the edge than its position is known)</div>",
        f"<div>{_swatch('site.uncovered target_edge', target, 'dia')}黑边：4A+ 景区目标 black edge: 4A+ target</div>",
        f"<div>{_swatch('gap.fillColor gap.color', gap_style)}缺口 gap (uncovered built-up area / site)</div>",
        f"<div>{_swatch('candidate_fill candidate', candidate, 'dot')}候选站址 candidate site</div>",
    ]


def _hex_words(breaks: list[int] | None) -> list[tuple[int, str]]:
    """The legend's words for each hexagon shade the page can draw, (shade, words), lightest first: the
    script's shade k holds counts from breaks[k - 1] up to breaks[k] - 1 (`hex_shade_breaks`); a hexagon
    holds one station at least, so a shade below a first break of 1 is never drawn and not listed."""
    if not breaks:
        return []
    bounds = [1, *breaks, None]
    words = []
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        if hi is None:
            words.append((k, f"≥ {lo:,} 座 stations"))
        elif hi - 1 > lo:
            words.append((k, f"{lo:,}–{hi - 1:,} 座 stations"))
        elif hi - 1 == lo:
            words.append((k, f"{lo:,} 座 stations"))
    return words


_CSS = "\n" + _read_template("map.css")

_JS = Template(_read_template("map_layers.js.j2"))


class _CoverageLayers(MacroElement):
    """All overlays, the slider and the legend, drawn by one script from one JSON document."""

    _template = _JS

    def __init__(self, data: dict):
        super().__init__()
        self._name = "CoverageLayers"
        self.data_json = _json_for_script(data)


def _district_label(name_zh: str, name_en, share) -> tuple[str, str]:
    """A district's permanent label, two lines so it is about as wide as a small district: its Chinese
    name and covered share, then its English name (empty when it has none), so a screenshot or a print
    names it."""
    en = "" if name_en is None or pd.isna(name_en) else str(name_en)
    return name_zh + ("" if share is None else f" · {share:.0f} %"), en if en != name_zh else ""


#: A district in several parts (an exclave, islands) is named on every part the page can show a name
#: at: each part carries its label point and the radius of the largest circle inside it, and the page
#: names a part other than the largest when that circle is at least PART_LABEL_MIN_PX pixels in radius
#: at the zoom shown (a shape 10 px across one can see and point at, not a speck; at 10 px Zhangjiajie's
#: 2 km exclave went unnamed in the report's map frame), decluttered like the districts' names.
PART_LABEL_MIN_PX = 5
#: A map of more districts than this (a province's counties, a country's) shows a district's own name (on its
#: largest part) only where the largest circle inside that part is at least MAIN_LABEL_MIN_PX pixels in radius at
#: the zoom shown and the name finds a place clear of the others: a country's 8,733 counties opened as a carpet of
#: names over the whole map; zoomed in, each is named where it is drawn large enough. A city's few districts are
#: always named, however small one is drawn (Karamay's 独山子区 is a speck beside the others at the opening view).
MAIN_LABEL_ALL_DISTRICTS = 40
MAIN_LABEL_MIN_PX = 12
#: the largest parts only (by area): a district of a thousand islands carries at most this many labels
MAX_LABELLED_PARTS = 12


def _label_points(geom) -> list[list[float]]:
    """Where a district's labels go, [lon, lat, radius in degrees] per part, its largest part first: the
    point of each part farthest from its edges (a centroid can fall in a hole or an enclave, or outside
    a crescent) and that distance, with which the page decides whether a part is big enough to name."""
    if geom is None or geom.is_empty:
        return []
    parts = shapely.get_parts(geom)
    order = np.argsort(-shapely.area(parts), kind="stable")[:MAX_LABELLED_PARTS]
    points = []
    for part in parts[order]:
        minx, miny, maxx, maxy = part.bounds
        point = polylabel(part, tolerance=max(maxx - minx, maxy - miny) / 200)
        points.append([_r(point.x), _r(point.y), _r(part.boundary.distance(point))])
    return points


def _district_features(result, metric: str) -> dict:
    table = result.by_district.set_index("district")
    names_en = dict(zip(result.districts["name_zh"], result.districts.get("name_en", result.districts["name_zh"])))
    props = []
    for name, geom in zip(result.districts["name_zh"], result.districts.geometry):
        row = table.loc[name] if name in table.index else None
        share = None if row is None else _r(row.get(metric), 2)
        rows = [["区 district", name]]
        if row is not None:
            rows += [
                ["面积 area", f"{_km2(row['area_km2'])} km²"],
                ["覆盖 covered outdoor", f"{_km2(row['covered_km2'])} km² ({_share(row['covered_pct'])} %)"],
                [
                    "室内 covered indoor",
                    f"{_km2(row['covered_indoor_km2'])} km² ({_share(row['covered_indoor_pct'])} %)",
                ],
                ["城区 built-up area", f"{_km2(row['urban_area_km2'])} km²"],
                [
                    "城区覆盖 built-up covered",
                    f"{_share(row['urban_covered_pct'])} % outdoor, {_share(row['urban_covered_indoor_pct'])} % indoor",
                ],
                [
                    "4A+ 景区 targets covered",
                    f"{count_text(row['n_target_sites_covered'])} / {count_text(row['n_target_sites'])}",
                ],
                ["全覆盖 full coverage", "是 yes" if bool(row["is_fully_covered"]) else "否 no"],
                ["在网基站 stations on air", count_text(row["n_stations_on_air"])],
            ]
        label, label_en = _district_label(name, names_en.get(name, ""), share)
        points = _label_points(geom)
        props.append(
            {
                "name": name,
                "label": label,
                "label_en": label_en,
                "label_at": points[0][:2] if points else None,
                "label_r": points[0][2] if points else None,  # (degrees: see MAIN_LABEL_MIN_PX)
                # the other parts' label points and inner radii (degrees): see PART_LABEL_MIN_PX
                "parts": points[1:],
                "share": share,
                "share_label": "no built-up area" if share is None else f"{share:.1f} % of built-up area covered",
                "rows": rows,
            }
        )
    return _geojson(result.districts.geometry.values, props)


def _station_layer(result, on: np.ndarray, aggregated: bool) -> tuple[list[dict], list[str]]:
    """One record per station for the markers, footprints and the buildout slider, and the slider's
    months (both empty when the stations are drawn as hexagons)."""
    st = result.stations
    if aggregated:
        return [], []
    dates = pd.to_datetime(st["on_air_date"])
    months: list[str] = []
    month_idx = np.full(len(st), -1)
    if on.any():
        first = dates[on].min().to_period("M")
        last = (result.as_of or dates[on].max()).to_period("M")
        months = [str(p) for p in pd.period_range(first, last, freq="M")]
        months_since = (dates.dt.year * 12 + dates.dt.month - (first.year * 12 + first.month)).to_numpy()
        month_idx = np.where(on & dates.notna().to_numpy(), np.nan_to_num(months_since, nan=-1), -1).astype(int)
    cols = {c: st[c] if c in st.columns else pd.Series([""] * len(st)) for c in ("name", "operator", "district")}
    district = st["district_calc"] if "district_calc" in st else cols["district"]
    stations = []
    # only the stations on air are drawn: a report dated early in a big city's buildout would otherwise
    # carry a record for every later station (10^6 of them for 3,000 drawn)
    for i in np.flatnonzero(on):
        stations.append(
            {
                "id": _text(st["station_id"].iat[i]),
                "name": _text(cols["name"].iat[i]),
                "op": _text(cols["operator"].iat[i]) or "unknown",
                "band": _text(st["band"].iat[i]),
                "date": _text(dates.iat[i]) if pd.notna(dates.iat[i]) else "",
                "district": _text(district.iat[i]),
                "area": _text(st["area_type"].iat[i]),
                "r": _r(st["radius_m"].iat[i], 0),
                "ri": _r(st["radius_indoor_m"].iat[i], 0),
                "lon": _r(st["lon"].iat[i], 6),
                "lat": _r(st["lat"].iat[i], 6),
                "on": bool(on[i]),
                "month": int(month_idx[i]) if month_idx[i] >= 0 else None,
            }
        )
    return stations, months


#: At most about this many hexagons tile the stations' extent: the page stays near 1 MB and the map
#: readable however many stations there are (a city's hexagons are a kilometre or two across).
MAX_HEXAGONS = 5000
MIN_HEX_SIZE_M = 250.0


def hex_size_for(lon: np.ndarray, lat: np.ndarray, max_hexagons: int = MAX_HEXAGONS) -> float:
    """Circumradius (Web Mercator metres) of hexagons of which about `max_hexagons` cover the points'
    bounding box: the size follows the area drawn, not the number of stations."""
    if len(lon) == 0:
        return MIN_HEX_SIZE_M
    R = 6378137.0
    lat = np.clip(lat, -85, 85)
    x = np.radians(lon) * R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * R
    area = (x.max() - x.min()) * (y.max() - y.min())
    return max(MIN_HEX_SIZE_M, math.sqrt(area / (1.5 * math.sqrt(3) * max_hexagons)))


def hex_shade_breaks(counts: list[int]) -> list[int]:
    """The counts from which a hexagon is drawn darker (quartiles of the counts, rising): fixed breaks
    of 10, 30 and 100 stations left every hexagon of a 10^6-station city in the darkest shade."""
    if not counts:
        return [10, 30, 100]
    q = np.quantile(np.asarray(counts, float), [0.25, 0.5, 0.75])
    breaks = [max(1, int(math.ceil(q[0])))]
    for v in q[1:]:
        breaks.append(max(breaks[-1] + 1, int(math.ceil(v))))
    return breaks


def _hex_layer(result, on: np.ndarray, hex_size_m: float | None) -> tuple[dict, float]:
    """The stations on air as counted hexagons (too many to draw one by one), and their size."""
    st = result.stations
    lon, lat = st["lon"].to_numpy(dtype=float)[on], st["lat"].to_numpy(dtype=float)[on]
    size = hex_size_m or hex_size_for(lon, lat)
    rings, counts = hexbin_counts(lon, lat, size)
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"n": n}, "geometry": {"type": "Polygon", "coordinates": [r]}}
            for r, n in zip(rings, counts)
        ],
    }, size


#: A key site's outdoor verdict as its popup says it (`coverage.site_verdicts`).
_VERDICT_WORDS = {
    "covered": "是 yes",
    "uncovered": "否 no",
    "uncertain": "待核实 to check (position not known well enough)",
}


def _site_layer(result) -> list[dict]:
    """Key sites with their popup rows: rating, verdict outdoors and indoors, nearest station, margin."""
    sites = []
    for s in result.sites.to_dict("records"):
        rows = [
            ["名称 name", s["name_zh"]],
            ["English", s["name_en"]],
            ["类别 category", s["category"]],
            ["等级 rating", (s["rating"] or "—") + (f" ({s['target_note']})" if s["target_note"] else "")],
            [
                "覆盖 covered",
                _VERDICT_WORDS[s["verdict"]]
                + " outdoor, "
                + ("是 yes" if s["is_covered_indoor"] else "否 no")
                + " indoor",
            ],
            [
                "最近基站 nearest station",
                f"{s['nearest_name']} ({s['nearest_station_id']}, {s['nearest_operator']} {s['nearest_band']})",
            ],
            ["距离 distance", f"{_metres(s['distance_m'])} m (radius {_metres(s['nearest_radius_m'])} m)"],
            ["余量 margin", f"{_metres(s['margin_m'])} m, {_text(s['margin_db'])} dB"],
        ]
        if s.get("district_note"):  # its text and its point disagree, or it lies outside the city
            # (outside every district: of a city, a province or a country alike, which the map is not told)
            where = _text(s["district"]) or "区县之外 outside every district"  # (a missing district is NaN, not "nan")
            rows.insert(3, ["区 district", f"{where} ({s['district_note']})"])
        sites.append(
            {
                "name": _text(s["name_zh"]),
                "lon": _r(s["lon"], 6),
                "lat": _r(s["lat"], 6),
                # the stage's verdict (`coverage.site_verdicts`): a site placed to 5 km is neither covered nor not
                "verdict": s["verdict"],
                "target": bool(s["is_target"]),
                "rows": rows,
            }
        )
    return sites


def _candidate_layer(result) -> list[dict]:
    """Candidate sites with their footprint radius and popup rows."""
    candidates = []
    for c in result.candidates.to_dict("records"):
        rows = [
            ["候选 candidate", f"{c['candidate_id']} (rank {count_text(c['rank'])})"],
            ["区 district", c["district"]],
            ["频段 band", c["band"]],
            ["半径 radius", f"{number_text(c['radius_m'], 0)} m ({c['area_type']})"],
            [
                "新增覆盖 gain",
                f"{number_text(c['gain_km2'], 2)} km² of gap, {count_text(c['gain_key_sites'])} key sites "
                f"({count_text(c['gain_target_sites'])} 4A+)",
            ],
            ["场所 sites", c["sites"]],
        ]
        candidates.append(
            {"id": c["candidate_id"], "lon": c["lon"], "lat": c["lat"], "r": _r(c["radius_m"], 0), "rows": rows}
        )
    return candidates


def _gap_layer(result) -> dict:
    """The gaps that have an outline (the top ranked: see coverage.MAX_GAP_POLYGONS)."""
    gaps = result.gaps
    if not len(gaps):
        return {"type": "FeatureCollection", "features": []}
    return _geojson(
        gaps.geometry.values,
        [
            {"rank": int(r), "area_km2": float(a), "area": number_text(a, 2), "sites": _text(s)}
            for r, a, s in zip(gaps["rank"], gaps["area_km2"], gaps["sites"])
        ],
    )


def _opening_view(result) -> list | None:
    """The first view, [[south, west], [north, east]]: the whole city (its districts' bounds), every
    district's label on screen. Opening on the worst gap showed one red square at a 300 m scale with no
    name: a screenshot or a print said nothing of where it was. None without districts."""
    if not len(result.districts):
        return None
    minx, miny, maxx, maxy = result.districts.total_bounds
    return [[round(float(miny), 5), round(float(minx), 5)], [round(float(maxy), 5), round(float(maxx), 5)]]


def _subtitle(result, n_on: int) -> str:
    as_of = result.as_of.date().isoformat() if result.as_of is not None else "latest"
    s = result.settings
    return (
        f"截至 as of {as_of} · 在网基站 {n_on:,} 座 stations on air · "
        f"已覆盖：室外参考信号接收功率不低于 {s.rsrp_threshold_dbm:g} dBm、"
        f"边缘覆盖概率 {s.cell_edge_probability:.0%}、负载 {s.loading:.0%} · "
        f"covered = SS-RSRP ≥ {s.rsrp_threshold_dbm:g} dBm "
        f"at {s.cell_edge_probability:.0%} cell-edge probability, {s.loading:.0%} load"
    )


def _overlays(aggregated: bool) -> list[list]:
    """Layer control entries: key of the layer group in the script, label, shown at start."""
    return [
        ["districts", "区县覆盖率 Districts (covered share)", True],
        ["urban", "城区 Built-up areas", True],
        ["footprints", "覆盖范围 Footprints (outdoor)", True],
        ["indoor", "室内覆盖 Footprints (indoor)", False],
        ["stations", "基站 Stations (clustered)" if not aggregated else "基站 Stations (hexagons)", True],
        ["buildout", "建设进度 Buildout by month", False],
        ["gaps", "缺口 Gaps", True],
        ["sites", "重点场所 Key sites", True],
        ["candidates", "候选站址 Candidate sites", True],
    ]


def _base_map(result) -> folium.Map:
    """An empty folium map with the vendored Leaflet, marker clusters, the page's CSS and fullscreen."""
    # the middle of the districts' bounds: as good a centre for the view, without a union of every polygon
    minx, miny, maxx, maxy = result.districts.total_bounds
    centre = [float((miny + maxy) / 2), float((minx + maxx) / 2)]
    m = folium.Map(location=centre, zoom_start=9, tiles=None, control_scale=False, prefer_canvas=True)
    m.default_js = [_LEAFLET_JS, ("markercluster", _MC_JS)]
    m.default_css = [_LEAFLET_CSS, ("markercluster_css", _MC_CSS), ("markercluster_default_css", _MC_DEFAULT_CSS)]
    m.get_root().header.add_child(Element(f"<style>{_CSS}</style>"), name="cm_css")
    m.get_root().header.add_child(
        Element(
            "<style>.cm-pop th{text-align:left;padding-right:6px;vertical-align:top}.cm-pop{font-size:12px}</style>"
        ),
        name="cm_pop_css",
    )
    folium.plugins.Fullscreen(position="topleft").add_to(m)
    return m


def _aggregated_stations(result, on: np.ndarray, hex_size_m: float | None, aggregated: bool):
    """The stations on air as hexagons when there are too many to draw one by one: (hexagons, the legend's
    note of how they were counted, the counts from which a hexagon is darker); empty when not aggregated."""
    if not aggregated:
        return {"type": "FeatureCollection", "features": []}, "", [10, 30, 100]
    hexagons, size = _hex_layer(result, on, hex_size_m)
    breaks = hex_shade_breaks([f["properties"]["n"] for f in hexagons["features"]])
    n_on, n_hex = int(on.sum()), len(hexagons["features"])
    note = (
        f"{n_on:,} 座在网基站按 {n_hex:,} 个六边形计数（边长 {size / 1000:.1f} km）· "
        f"{n_on:,} stations on air counted in {n_hex:,} hexagons of {size / 1000:.1f} km (Web Mercator)"
    )
    return hexagons, note, breaks


def _probe(stations: list[dict], sites: list[dict]) -> list | None:
    """A point the browser test converts to check the GCJ-02 shift: the first station on air, else a site."""
    if stations:
        first_on = next((x for x in stations if x["on"]), stations[0])
        return [first_on["lon"], first_on["lat"]]
    return [sites[0]["lon"], sites[0]["lat"]] if sites else None


def coverage_map(
    result,
    basemap: str | None = None,
    max_points: int = 3000,
    hex_size_m: float | None = None,
    metric: str = "urban_covered_pct",
    title: str | None = None,
) -> folium.Map:
    """The coverage map of an `analysis.coverage.CoverageResult`: districts coloured by `metric`
    (default: share of the built-up area covered outdoors), stations (clustered; hexagons beyond
    `max_points`), outdoor and indoor footprints, key sites, gaps, candidates, a month slider of the
    buildout, layer control, legend, scale and fullscreen. `basemap`: osm (default), amap or none;
    all three are offered in the layer control."""
    basemap = (basemap or "osm").lower()
    if basemap not in BASEMAPS:
        raise ValueError(f"basemap must be one of {', '.join(BASEMAPS)}, got {basemap!r}")
    on = result.stations["is_on_air_at_as_of"].to_numpy(dtype=bool)
    aggregated = int(on.sum()) > max_points
    stations, months = _station_layer(result, on, aggregated)
    hexagons, hex_note, breaks = _aggregated_stations(result, on, hex_size_m, aggregated)
    sites = _site_layer(result)
    ua = result.urban_areas
    metric_label = {
        "urban_covered_pct": "城区覆盖率 Built-up area covered outdoors",
        "covered_pct": "面积覆盖率 District area covered outdoors",
    }.get(metric, metric)
    districts = _district_features(result, metric)
    data = {
        "districts": districts,
        "urban": _geojson(ua.geometry.values, [{"name": _text(n)} for n in ua["name_zh"]]),
        "gaps": _gap_layer(result),
        "stations": stations,
        "hex": hexagons,
        "aggregated": aggregated,
        "hexBreaks": breaks,
        "sites": sites,
        "candidates": _candidate_layer(result),
        "months": months,
        "style": map_style(),
        "legend": _legend_html(
            title or f"{result.city_name} 5G 覆盖 coverage",
            _subtitle(result, int(on.sum())),
            metric_label + " (%)",
            hex_note,
            layers={
                "no_share": any(f["properties"]["share"] is None for f in districts["features"]),
                "clusters": not aggregated,
                "buildout": bool(months),
                "hex_breaks": breaks if aggregated else None,
            },
        ),
        "bases": [{"key": k, **{kk: vv for kk, vv in v.items()}} for k, v in BASEMAPS.items()],
        "defaultBase": basemap,
        "sliderId": "cm-month",
        "probe": _probe(stations, sites),
        "overlays": _overlays(aggregated),
        "view": _opening_view(result),
        "partLabelMinPx": PART_LABEL_MIN_PX,
        "mainLabelMinPx": MAIN_LABEL_MIN_PX if len(result.districts) > MAIN_LABEL_ALL_DISTRICTS else 0,
    }
    m = _base_map(result)
    _CoverageLayers(data).add_to(m)
    return m


# --- rendering ------------------------------------------------------------------------------------
def _stable_ids(root) -> None:
    """Replace folium's random element ids by their position in the tree (deterministic HTML)."""
    counter = 0
    stack = [root]
    seen = set()
    while stack:
        el = stack.pop(0)
        if id(el) in seen:
            continue
        seen.add(id(el))
        el._id = f"{counter:08x}"
        counter += 1
        stack.extend(getattr(el, "_children", {}).values())


def _css_with_data_uris(css: str, folder: Path) -> str:
    def repl(match):
        ref = match.group(1).strip("'\"")
        path = folder / ref
        if ref.startswith(("data:", "#")) or not path.is_file():
            return match.group(0)
        mime = {"png": "image/png", "svg": "image/svg+xml"}.get(path.suffix.lstrip("."), "application/octet-stream")
        return f"url(data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()})"

    return re.sub(r"url\(([^)]+)\)", repl, css)


def _inline_assets(page: str) -> str:
    """Swap every CDN <script src> / <link href> for the vendored file's content; drop the
    folium defaults this map does not use. Raise if an external script or stylesheet remains."""

    def script(match):
        url = match.group(1)
        name = url.rsplit("/", 1)[-1]
        if name not in _ASSET_FILES:
            return match.group(0)
        js = _ASSET_FILES[name].read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>/* {name} (vendored, see analysis/assets) */\n{js}\n</script>"

    def link(match):
        url = match.group(1)
        name = url.rsplit("/", 1)[-1]
        if name not in _ASSET_FILES:
            return match.group(0)
        path = _ASSET_FILES[name]
        return f"<style>/* {name} */\n{_css_with_data_uris(path.read_text(encoding='utf-8'), path.parent)}\n</style>"

    page = re.sub(r'<script src="([^"]+)"></script>', script, page)
    page = re.sub(r'<link rel="stylesheet" href="([^"]+)"\s*/>', link, page)
    left = re.findall(r'<script src="(https?:[^"]+)"|<link rel="stylesheet" href="(https?:[^"]+)"', page)
    if left:
        raise RuntimeError(f"map would load assets from the network: {left}")
    return page


def map_html(m: folium.Map) -> str:
    """The map as one self-contained, deterministic HTML string."""
    _stable_ids(m.get_root())
    from analysis.files import drop_direction_controls

    return drop_direction_controls(_inline_assets(m.get_root().render()))


def save_map(m: folium.Map, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(map_html(m), encoding="utf-8")
    return path
