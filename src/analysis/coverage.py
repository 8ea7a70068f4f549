"""Coverage: each station's footprint from a link budget (3GPP TR 38.901 UMa/RMa), the covered area
on a metric grid (or exactly, as vector union), coverage per district and per key site, the gaps,
and the candidate new sites that close the most of them.

The coverage definition, stated the way regulators state theirs: a location is covered outdoors when
the predicted SS-RSRP is at least `rsrp_threshold_dbm` with probability `cell_edge_probability` at
the cell edge (log-normal shadow fading of the model's sigma), at `loading` cell load (an interference
margin); covered indoors when the same holds after the TR 38.901 O2I building-penetration loss.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from analysis import geo
from analysis.config import City, resolve_city
from analysis.errors import BadInputError, ConfigError
from analysis.schemas import on_air_at
from analysis.sites import read_sites

# --- the link budget ----------------------------------------------------------------------------
#: Where each number of the link budget comes from (shown in the docs and the report).
LINK_BUDGET_SOURCES = {
    "path_loss": "3GPP TR 38.901 v17.0.0, Table 7.4.1-1 (UMa and RMa, NLOS = max(LOS, NLOS'), "
    "shadow-fading sigma 6 dB UMa NLOS, 8 dB RMa NLOS); default heights of Table 7.2-1 "
    "(UMa h_BS 25 m, RMa h_BS 35 m, h_UT 1.5 m, RMa W 20 m, h 5 m)",
    "o2i": "3GPP TR 38.901 Section 7.4.3 and Table 7.4.3-2: low-loss model PL_tw = 5 - 10 log10(0.3*10^(-L_glass/10)"
    " + 0.7*10^(-L_concrete/10)), L_glass = 2 + 0.2 f, L_concrete = 5 + 4 f, PL_in = 0.5 d_2D-in "
    "(mean of min of two U(0, 25 m) for UMa, U(0, 10 m) for RMa), sigma_P 4.4 dB; high-loss: IRR glass 23 + 0.3 f, "
    "0.7/0.3 weights, sigma_P 6.5 dB",
    "coverage_definition": "FCC Broadband Data Collection mobile maps (5G-NR 7/1 Mbps: 90 % cell-edge probability, "
    "50 % cell loading, outdoor stationary; help.bdc.fcc.gov 'Formatting Mobile Broadband "
    "Availability Coverage Maps'); Ofcom's coverage-obligation method (signal level on a 50 m "
    "grid, 2019 consultation on the 700 MHz and 3.6-3.8 GHz award)",
    "rsrp_threshold": "-105 dBm SS-RSRP: the outdoor 'covered' level common in Chinese operators' 5G acceptance tests "
    "(with SS-SINR >= -3 dB); an engineering assumption here, set in city.toml [coverage]",
    "eirp": "EIRP per resource element of the SS/PBCH block = total power - 10 log10(subcarriers) + SSB beam gain, "
    "for the equipment class typical of each band in China (mid-band 64T64R 200 W AAU over 100 MHz at 30 kHz "
    "SCS; 4T4R 240-320 W RRU for n1/n3/n28 at 15 kHz SCS); assumptions, set in city.toml [coverage]",
    "margins": "UE antenna gain 0 dBi, body loss 3 dB, interference margin 3 dB for 50 % loading, shadow-fading "
    "margin z(p) * sigma with z(0.9) = 1.28; clutter loss for dense urban 6 dB (planning-tool practice)",
}


@dataclass(frozen=True)
class BandLink:
    """Downlink SSB link parameters of one NR band."""

    freq_ghz: float
    eirp_re_dbm: float  # EIRP per resource element of the SSB (what SS-RSRP measures)
    note: str = ""


@dataclass(frozen=True)
class AreaModel:
    """Path-loss model and heights for one area type around a station."""

    model: str  # "UMa" or "RMa" (TR 38.901, NLOS)
    h_bs_m: float
    clutter_loss_db: float = 0.0
    building_height_m: float = 5.0  # RMa only
    street_width_m: float = 20.0  # RMa only


DEFAULT_BANDS = {
    "n1": BandLink(2.14, 40.0, "4T4R 240 W, 20 MHz at 15 kHz (1272 RE), 17 dBi"),
    "n3": BandLink(1.84, 40.0, "4T4R 240 W, 20 MHz at 15 kHz (1272 RE), 17 dBi"),
    "n28": BandLink(0.773, 37.0, "4T4R 320 W, 30 MHz at 15 kHz (1920 RE), 15 dBi"),
    "n41": BandLink(2.60, 39.0, "64T64R 200 W, 100 MHz at 30 kHz (3276 RE), SSB beam 21 dBi"),
    "n77": BandLink(3.70, 39.0, "64T64R 200 W, 100 MHz at 30 kHz (3276 RE), SSB beam 21 dBi"),
    "n78": BandLink(3.50, 39.0, "64T64R 200 W, 100 MHz at 30 kHz (3276 RE), SSB beam 21 dBi"),
    "n79": BandLink(4.90, 39.0, "64T64R 200 W, 100 MHz at 30 kHz (3276 RE), SSB beam 21 dBi"),
    "unknown": BandLink(3.50, 39.0, "band not reported: taken as n78, the commonest mid band"),
}
AREA_TYPES = ("dense_urban", "urban", "suburban", "rural")
DEFAULT_AREAS = {
    "dense_urban": AreaModel("UMa", 25.0, clutter_loss_db=6.0),
    "urban": AreaModel("UMa", 25.0),
    "suburban": AreaModel("RMa", 25.0, building_height_m=10.0),
    "rural": AreaModel("RMa", 35.0),
}
_SIGMA_SF_DB = {"UMa": 6.0, "RMa": 8.0}  # NLOS shadow fading, TR 38.901 Table 7.4.1-1
_D2D_IN_MAX_M = {"UMa": 25.0, "RMa": 10.0}  # TR 38.901 Section 7.4.3.1
_MAX_RANGE_M = 5000.0  # upper end of the validity range of both models
LAYERS = ("outdoor", "indoor")


@dataclass(frozen=True)
class CoverageSettings:
    """The link budget, the coverage definition and the planning knobs; `from_city` reads
    overrides from the `[coverage]` table of city.toml (keys = field names; `bands.<band>` and
    `areas.<type>` sub-tables override single fields)."""

    rsrp_threshold_dbm: float = -105.0
    cell_edge_probability: float = 0.90
    loading: float = 0.50
    interference_margin_db: float = 3.0  # at `loading`
    body_loss_db: float = 3.0
    ue_antenna_gain_dbi: float = 0.0
    ue_height_m: float = 1.5
    o2i_model: str = "low"  # TR 38.901 O2I building penetration: "low" or "high" loss
    cell_m: float = 50.0  # grid cell (Ofcom's 50 m)
    dense_urban_min_stations_1km: int = 15  # stations within 1 km for an urban station to count as dense urban
    suburban_buffer_m: float = 2000.0  # within this of a built-up area: suburban, beyond: rural
    full_coverage_pct: float = 95.0  # urban covered share at which a district counts as fully covered
    site_radius_m: float = 200.0  # a key site is a disc of this radius when merged into gap areas
    min_gap_km2: float = 0.01
    candidate_band: str = "n78"
    candidate_spacing_m: float = 250.0
    n_candidates: int = 10
    target_site_weight_km2: float = 1.0  # worth of closing a 4A+ scenic spot, in km2 of urban gap
    key_site_weight_km2: float = 0.25
    bands: dict = field(default_factory=lambda: dict(DEFAULT_BANDS))
    areas: dict = field(default_factory=lambda: dict(DEFAULT_AREAS))

    @classmethod
    def from_city(cls, city: City) -> CoverageSettings:
        table = dict(city.raw.get("coverage", {}))
        where = city.folder / "city.toml"
        base = cls()
        bands = dict(base.bands)
        for band, over in table.pop("bands", {}).items():
            bands[band] = _override(bands.get(band, DEFAULT_BANDS["unknown"]), over, f"[coverage.bands.{band}]", where)
        areas = dict(base.areas)
        for kind, over in table.pop("areas", {}).items():
            if kind not in AREA_TYPES:
                raise ConfigError(f"[coverage.areas] {kind!r} is not one of {', '.join(AREA_TYPES)}", where)
            areas[kind] = _override(areas[kind], over, f"[coverage.areas.{kind}]", where)
        settings = _override(base, table, "[coverage]", where)
        return dataclasses.replace(settings, bands=bands, areas=areas)


def _override(obj, values: dict, where: str, path: Path):
    names = {f.name for f in dataclasses.fields(obj)} - {"bands", "areas"}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {', '.join(unknown)}", path)
    try:
        return dataclasses.replace(obj, **{k: type(getattr(obj, k))(v) for k, v in values.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}", path) from None


def path_loss_db(d2d_m, freq_ghz: float, area: AreaModel, h_ut_m: float = 1.5) -> np.ndarray:
    """Median NLOS path loss (dB) at 2-D distance `d2d_m` from TR 38.901 Table 7.4.1-1, plus the
    area's clutter loss. NLOS = max(LOS, NLOS'), as the table defines it."""
    d2d = np.maximum(np.asarray(d2d_m, dtype=float), 10.0)
    h_bs, fc = area.h_bs_m, freq_ghz
    d3d = np.hypot(d2d, h_bs - h_ut_m)
    c = 3.0e8
    if area.model == "UMa":
        d_bp = 4.0 * (h_bs - 1.0) * (h_ut_m - 1.0) * fc * 1e9 / c  # h_E = 1 m for h_UT <= 13 m
        los1 = 28.0 + 22.0 * np.log10(d3d) + 20.0 * math.log10(fc)
        los2 = 28.0 + 40.0 * np.log10(d3d) + 20.0 * math.log10(fc) - 9.0 * math.log10(d_bp**2 + (h_bs - h_ut_m) ** 2)
        los = np.where(d2d <= d_bp, los1, los2)
        nlos = 13.54 + 39.08 * np.log10(d3d) + 20.0 * math.log10(fc) - 0.6 * (h_ut_m - 1.5)
    elif area.model == "RMa":
        h, w = area.building_height_m, area.street_width_m
        d_bp = 2.0 * math.pi * h_bs * h_ut_m * fc * 1e9 / c

        def pl1(d):
            return (
                20.0 * np.log10(40.0 * math.pi * d * fc / 3.0)
                + min(0.03 * h**1.72, 10.0) * np.log10(d)
                - min(0.044 * h**1.72, 14.77)
                + 0.002 * math.log10(h) * d
            )

        d3d_bp = math.hypot(d_bp, h_bs - h_ut_m)
        los = np.where(d2d <= d_bp, pl1(d3d), pl1(d3d_bp) + 40.0 * np.log10(d3d / d3d_bp))
        nlos = (
            161.04
            - 7.1 * math.log10(w)
            + 7.5 * math.log10(h)
            - (24.37 - 3.7 * (h / h_bs) ** 2) * math.log10(h_bs)
            + (43.42 - 3.1 * math.log10(h_bs)) * (np.log10(d3d) - 3.0)
            + 20.0 * math.log10(fc)
            - (3.2 * math.log10(11.75 * h_ut_m) ** 2 - 4.97)
        )
    else:
        raise ValueError(f"unknown path-loss model {area.model!r} (UMa or RMa)")
    return np.maximum(los, nlos) + area.clutter_loss_db


def o2i_loss_db(freq_ghz: float, model: str = "UMa", o2i: str = "low") -> tuple[float, float]:
    """Mean TR 38.901 outdoor-to-indoor loss (dB) and its sigma_P: wall + indoor distance."""
    f = freq_ghz
    l_concrete = 5.0 + 4.0 * f
    if o2i == "low":
        l_glass = 2.0 + 0.2 * f
        tw = 5.0 - 10.0 * math.log10(0.3 * 10 ** (-l_glass / 10) + 0.7 * 10 ** (-l_concrete / 10))
        sigma = 4.4
    elif o2i == "high":
        l_irr = 23.0 + 0.3 * f
        tw = 5.0 - 10.0 * math.log10(0.7 * 10 ** (-l_irr / 10) + 0.3 * 10 ** (-l_concrete / 10))
        sigma = 6.5
    else:
        raise ValueError(f"o2i model must be 'low' or 'high', got {o2i!r}")
    d_in = _D2D_IN_MAX_M[model] / 3.0  # mean of the minimum of two U(0, max)
    return tw + 0.5 * d_in, sigma


def _edge_z(probability: float) -> float:
    """Standard normal quantile of the cell-edge probability (the stdlib's: scipy.stats costs 0.6 s
    to import, a tenth of the coverage command)."""
    if not 0.0 < probability < 1.0:
        raise ConfigError(f"[coverage] cell_edge_probability must lie strictly between 0 and 1, got {probability!r}")
    return statistics.NormalDist().inv_cdf(probability)


def max_path_loss_db(
    band: str, area_type: str, layer: str = "outdoor", settings: CoverageSettings | None = None
) -> float:
    """Maximum allowed path loss (dB) for the coverage definition: what the median path loss may
    reach at the cell edge."""
    s = settings or CoverageSettings()
    link = s.bands.get(band, s.bands["unknown"])
    area = s.areas[area_type]
    sigma = _SIGMA_SF_DB[area.model]
    penetration = 0.0
    if layer == "indoor":
        penetration, sigma_p = o2i_loss_db(link.freq_ghz, area.model, s.o2i_model)
        sigma = math.hypot(sigma, sigma_p)
    elif layer != "outdoor":
        raise ValueError(f"layer must be 'outdoor' or 'indoor', got {layer!r}")
    fade_margin = _edge_z(s.cell_edge_probability) * sigma
    return (
        link.eirp_re_dbm
        + s.ue_antenna_gain_dbi
        - s.body_loss_db
        - s.interference_margin_db
        - fade_margin
        - penetration
        - s.rsrp_threshold_dbm
    )


_D_TABLE = np.geomspace(10.0, _MAX_RANGE_M, 4000)


def footprint_radius_m(
    band: str, area_type: str, layer: str = "outdoor", settings: CoverageSettings | None = None
) -> float:
    """Distance at which the median path loss reaches the maximum allowed (capped at 5 km, the
    models' validity range), rounded to the metre."""
    s = settings or CoverageSettings()
    mapl = max_path_loss_db(band, area_type, layer, s)
    link = s.bands.get(band, s.bands["unknown"])
    pl = path_loss_db(_D_TABLE, link.freq_ghz, s.areas[area_type], s.ue_height_m)
    if mapl <= pl[0]:
        return 0.0
    if mapl >= pl[-1]:
        return _MAX_RANGE_M
    return float(round(np.interp(mapl, pl, _D_TABLE)))


def link_budget_table(settings: CoverageSettings | None = None) -> pd.DataFrame:
    """The link budget as one documented table: per band, area type and layer, the inputs, the
    margins, the maximum path loss and the footprint radius it gives."""
    s = settings or CoverageSettings()
    z = _edge_z(s.cell_edge_probability)
    rows = []
    for band, link in s.bands.items():
        for kind in AREA_TYPES:
            area = s.areas[kind]
            for layer in LAYERS:
                pen, sigma_p = o2i_loss_db(link.freq_ghz, area.model, s.o2i_model) if layer == "indoor" else (0.0, 0.0)
                sigma = math.hypot(_SIGMA_SF_DB[area.model], sigma_p)
                rows.append(
                    {
                        "band": band,
                        "freq_ghz": link.freq_ghz,
                        "area_type": kind,
                        "layer": layer,
                        "model": f"{area.model} NLOS",
                        "h_bs_m": area.h_bs_m,
                        "h_ut_m": s.ue_height_m,
                        "eirp_re_dbm": link.eirp_re_dbm,
                        "rsrp_threshold_dbm": s.rsrp_threshold_dbm,
                        "ue_gain_dbi": s.ue_antenna_gain_dbi,
                        "body_loss_db": s.body_loss_db,
                        "interference_margin_db": s.interference_margin_db,
                        "clutter_loss_db": area.clutter_loss_db,
                        "penetration_loss_db": round(pen, 1),
                        "sigma_db": round(sigma, 2),
                        "cell_edge_probability": s.cell_edge_probability,
                        "fade_margin_db": round(z * sigma, 1),
                        "max_path_loss_db": round(max_path_loss_db(band, kind, layer, s), 1),
                        "radius_m": footprint_radius_m(band, kind, layer, s),
                        "eirp_note": link.note,
                    }
                )
    return pd.DataFrame(rows)


# --- stations and their footprints ----------------------------------------------------------------
#: What coverage needs of a station table (a cleaned one has more).
STATION_COLUMNS = ("station_id", "lon", "lat", "band", "on_air_date")
#: What coverage uses of a station table when it is there: per-station radius and area type, and the
#: names the key-site table and the map show.
OPTIONAL_STATION_COLUMNS = ("name", "operator", "district", "radius_m", "area_type", "off_air_date")
#: The largest footprint radius taken (a 700 MHz macro cell reaches ~10-20 km): a larger one is a unit slip, and its
#: disc on the 50 m grid would not fit in memory.
MAX_RADIUS_M = 50_000.0


def _check_stations(df: pd.DataFrame, path=None) -> None:
    missing = [c for c in STATION_COLUMNS if c not in df.columns]
    if missing:
        raise BadInputError(f"stations lack column(s) {', '.join(missing)}", path)


def check_radius_column(stations: pd.DataFrame, path: str | Path | None = None) -> None:
    """A station table's own `radius_m`, where given, must be metres > 0 and at most MAX_RADIUS_M: a
    text that is not a number (coerced, it would silently fall back to the link budget), zero, a negative,
    an infinite or a too large radius is a BadInputError naming the file (`path`) and the first such row
    (1 = the first station). A missing value is allowed: that station's radius comes from the link budget."""
    if "radius_m" not in stations.columns:
        return
    given = stations["radius_m"]
    numbers = pd.to_numeric(given, errors="coerce").to_numpy(dtype=float)
    is_blank = given.isna().to_numpy(copy=True)
    if not pd.api.types.is_numeric_dtype(given):  # (only a text can be blank: numbers not made text to look)
        is_blank |= given.astype("str").str.strip().eq("").to_numpy(dtype=bool, na_value=True)
    # (NaN > 0 is False: a text that is not a number fails the range check too)
    bad = np.flatnonzero(~is_blank & ~((numbers > 0) & (numbers <= MAX_RADIUS_M)))
    if len(bad):
        first = int(bad[0])
        station = stations["station_id"].iloc[first] if "station_id" in stations.columns else None
        more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
        value = f"{numbers[first]:g}" if np.isfinite(numbers[first]) else repr(str(given.iloc[first]))
        raise BadInputError(
            f"radius_m {value}{f' of station {station}' if station is not None else ''} is not a "
            f"radius in metres > 0 and at most {MAX_RADIUS_M:g} (a cell's reach){more}",
            path,
            first + 1,
        )


def stations_on_air(stations: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """The stations on air at `as_of` (`schemas.on_air_at`: on_air_date <= as_of and not taken off air by
    then; when None, every dated station not taken off air)."""
    _check_stations(stations)
    keep = on_air_at(stations, None if as_of is None else pd.Timestamp(as_of))
    return stations[keep.to_numpy()].reset_index(drop=True)


def _project(lon, lat, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x, y = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _to_wgs84(x, y, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    tr = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = tr.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


# --- neighbours ------------------------------------------------------------------------------------
def _tree(x, y) -> cKDTree:
    """A kd-tree of metric points, unbalanced and not compacted: built in less than half the time (4.25 x 10^6
    points: 1.0 s against 2.4 s), the queries answer the same."""
    return cKDTree(np.column_stack([x, y]), balanced_tree=False, compact_nodes=False)


class _StationTree:
    """The kd-tree of every station (x, y), built when first asked for and shared by the neighbour questions of
    one assessment: the dense-urban count of the stations and of the candidate sites, and the key sites' nearest
    station when every station is on air (4.25 x 10^6 stations: one tree, where three were built, ~1 s each)."""

    def __init__(self, x, y):
        self.x, self.y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self._tree = None

    def get(self) -> cKDTree:
        if self._tree is None:
            self._tree = _tree(self.x, self.y)
        return self._tree


def _at_least_within(px, py, sx, sy, k: int, radius_m: float, shared: _StationTree | None = None) -> np.ndarray:
    """Per point: whether at least `k` of the stations (sx, sy) lie within `radius_m` ((dx^2 + dy^2) <= r^2, the
    point itself counted when it is a station). The k-th nearest station of each point from a kd-tree of the
    stations that can be within r of any point (a city's built-up areas are a small part of its extent): a search
    of k neighbours per point, where counting every station within r (`query_ball_point(return_length=True)`)
    costs the stations per km2 each (4.25 x 10^6 stations: 0.15 s against 0.04 s; clustered towns: thousands).
    `shared`: the tree of (sx, sy) when the caller has one (else one of the stations near the points is built)."""
    px, py = np.asarray(px, dtype=float), np.asarray(py, dtype=float)
    sx, sy = np.asarray(sx, dtype=float), np.asarray(sy, dtype=float)
    out = np.zeros(px.size, dtype=bool)
    r = float(radius_m)
    if px.size == 0:
        return out
    x0, y0, x1, y1 = px.min() - r, py.min() - r, px.max() + r, py.max() + r
    box = (sx >= x0) & (sx <= x1) & (sy >= y0) & (sy <= y1)
    if int(box.sum()) < k:
        return out
    if shared is not None:
        tree = shared.get()
    else:
        sx, sy = sx[box], sy[box]
        tree = _tree(sx, sy)
    rest = np.arange(px.size)
    # points crowding a town settled a cell at a time: the k-th nearest station of a cell's centre lies within
    # d_k +- h of every point of the cell (h: the cell's half diagonal), so d_k <= r - h settles all of them dense
    # and d_k > r + h none (a margin of a millimetre for the rounding of the distances); the others are asked one
    # by one. 2 x 10^5 stations in four towns: 180,000 searches of 15 neighbours (0.25 CPU s) become ~10^4.
    cell = r / _DENSE_CELLS_PER_RADIUS
    ci = np.floor((px - x0) / cell).astype(np.int64)
    cj = np.floor((py - y0) / cell).astype(np.int64)
    ncj = int(cj.max()) + 1
    cells, inv = np.unique(ci * ncj + cj, return_inverse=True)
    if _DENSE_POINTS_PER_CELL * cells.size < px.size:
        centres = np.column_stack([x0 + (cells // ncj + 0.5) * cell, y0 + (cells % ncj + 0.5) * cell])
        h, eps = cell * math.sqrt(0.5), 1e-3
        dk, _ = tree.query(centres, k=[k], distance_upper_bound=r + h + 2 * eps)
        dk = dk[:, 0][inv.reshape(-1)]
        out[dk <= r - h - eps] = True
        rest = np.flatnonzero((dk > r - h - eps) & (dk <= r + h + eps))
        if rest.size == 0:
            return out
    qx, qy = px[rest], py[rest]
    # (the bound a little past r, so that a station at exactly r is among the k found; whether the k-th lies within
    # r is then decided by dx^2 + dy^2 <= r^2, as the tree's ball query decides a candidate's reach: the distance
    # it returns is a square root, which may round a square just past r^2 down to r)
    _, kth = tree.query(np.column_stack([qx, qy]), k=[k], distance_upper_bound=r * (1 + 1e-9))
    kth = kth[:, 0]
    found = kth < sx.size  # (else fewer than k within the bound: the tree's "missing" index)
    j = np.where(found, kth, 0)
    out[rest] = found & ((sx[j] - qx) ** 2 + (sy[j] - qy) ** 2 <= r * r)
    return out


#: Cells per radius in which crowded points are settled together by `_at_least_within` (1 km: cells of 125 m), and
#: the points per occupied cell on average from which that pays.
_DENSE_CELLS_PER_RADIUS = 8
_DENSE_POINTS_PER_CELL = 4


def classify_area_type(
    x, y, urban_utm: list, all_x, all_y, settings: CoverageSettings | None = None, shared: _StationTree | None = None
) -> np.ndarray:
    """Area type around each point (UTM metres): in a built-up area and with at least
    `dense_urban_min_stations_1km` stations within 1 km -> dense_urban; in a built-up area -> urban;
    within `suburban_buffer_m` of one -> suburban; else rural. `shared`: the kd-tree of (all_x, all_y), if built."""
    return np.asarray(AREA_TYPES, dtype=object)[_area_type_codes(x, y, urban_utm, all_x, all_y, settings, shared)]


def _area_type_codes(
    x, y, urban_utm: list, all_x, all_y, settings: CoverageSettings | None = None, shared: _StationTree | None = None
) -> np.ndarray:
    """`classify_area_type` as positions in AREA_TYPES (a table of 10^5 station's texts costs more than the
    classification)."""
    s = settings or CoverageSettings()
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = np.full(x.size, AREA_TYPES.index("rural"), dtype=np.int64)
    if not urban_utm or x.size == 0:
        return out
    urban = shapely.union_all(urban_utm)
    near = shapely.buffer(urban, s.suburban_buffer_m)
    shapely.prepare(urban)
    shapely.prepare(near)
    inside = shapely.contains_xy(urban, x, y)
    outside = np.flatnonzero(~inside)  # (a built-up point is within reach of the built-up area: no second test)
    out[outside[shapely.contains_xy(near, x[outside], y[outside])]] = AREA_TYPES.index("suburban")
    out[inside] = AREA_TYPES.index("urban")
    if len(all_x) and inside.any():  # stations within 1 km counted for built-up points only
        k = int(s.dense_urban_min_stations_1km)
        if k <= 0:
            out[inside] = AREA_TYPES.index("dense_urban")
        else:
            all_x, all_y = np.asarray(all_x, dtype=float), np.asarray(all_y, dtype=float)
            dense = _at_least_within(x[inside], y[inside], all_x, all_y, k, 1000.0, shared)
            out[np.flatnonzero(inside)[dense]] = AREA_TYPES.index("dense_urban")
    return out


def _texts(labels: tuple[str, ...], codes: np.ndarray):
    """`labels[codes]` as the text column pandas makes of Python strings, built in Arrow from the codes (2 x 10^5
    Python strings cost 0.015 s to convert); an object array where pandas keeps texts as objects."""
    picked = np.asarray(labels, dtype=object)
    like = pd.Series(picked).array
    if not len(codes) or not hasattr(like, "_pa_array"):
        return picked[codes]
    import pyarrow as pa

    kind = like._pa_array.type
    words = pa.array(list(labels), kind)
    return pd.array(pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), words).cast(kind), dtype=like.dtype)


def station_footprints(
    stations: pd.DataFrame,
    crs: pyproj.CRS,
    urban_utm: list | None = None,
    settings: CoverageSettings | None = None,
    radius_m: float | None = None,
    trees: list | None = None,
) -> pd.DataFrame:
    """The stations with x_m, y_m (in `crs`), area_type, radius_m (outdoor) and radius_indoor_m. `trees`: a list
    to which the stations' kd-tree (`_StationTree`, built when first needed) is added, for the caller to share.

    Precedence: a run-wide `radius_m`, then a station's own `radius_m` column, then the link budget.
    A fixed outdoor radius keeps the model's indoor/outdoor ratio for the indoor layer. An
    `area_type` column, where set, wins over the classification.
    """
    s = settings or CoverageSettings()
    df = stations.reset_index(drop=True).copy()
    x, y = _project(df["lon"], df["lat"], crs)
    df["x_m"], df["y_m"] = x, y
    shared = None
    if trees is not None:
        shared = _StationTree(x, y)
        trees.append(shared)
    kind_codes = _area_type_codes(x, y, urban_utm or [], x, y, s, shared)
    if "area_type" in df.columns:
        given = df["area_type"].astype("string")
        ok = given.isin(AREA_TYPES).fillna(False).to_numpy()
        kind_codes[ok] = pd.Index(AREA_TYPES).get_indexer(given[ok].to_numpy(dtype=object))
    df["area_type"] = _texts(AREA_TYPES, kind_codes)
    bands = df["band"].astype(str).where(df["band"].astype(str).isin(s.bands), "unknown")
    # the link budget per distinct (band, area type), then looked up by position: per-station
    # Python calls cost minutes at national scale
    band_codes, band_names = pd.factorize(bands)
    lut = {
        key: np.array(
            [
                [
                    footprint_radius_m(b, k, key, s) if key in LAYERS else max_path_loss_db(b, k, "outdoor", s)
                    for k in AREA_TYPES
                ]
                for b in band_names
            ],
            dtype=float,
        ).reshape(len(band_names), len(AREA_TYPES))
        for key in (*LAYERS, "mapl")
    }
    out = lut["outdoor"][band_codes, kind_codes]
    ind = lut["indoor"][band_codes, kind_codes]
    ratio = np.divide(ind, out, out=np.zeros_like(ind), where=out > 0)
    fixed = np.full(len(df), np.nan)
    if "radius_m" in stations.columns:
        check_radius_column(df)
        fixed = pd.to_numeric(df["radius_m"], errors="coerce").to_numpy(dtype=float)
    if radius_m is not None:
        if not 0 < radius_m <= MAX_RADIUS_M:
            raise BadInputError(
                f"radius_m must be > 0 and at most {MAX_RADIUS_M:g} m (a cell's reach), got {radius_m!r}"
            )
        fixed = np.full(len(df), float(radius_m))
    has_fixed = np.isfinite(fixed)
    # (numpy's fixed-width texts cost 0.04 s more to convert at 2 x 10^5 stations; an empty table keeps the text
    # column those made)
    source = _texts(("link_budget", "fixed"), has_fixed.astype(np.intp))
    df["radius_source"] = source if len(df) else np.where(has_fixed, "fixed", "link_budget")
    df["radius_m"] = np.where(has_fixed, fixed, out)
    df["radius_indoor_m"] = np.where(has_fixed, fixed * ratio, ind).round(1)
    df["max_path_loss_db"] = lut["mapl"][band_codes, kind_codes]
    return df


# --- the grid -------------------------------------------------------------------------------------
@dataclass
class CoverageGrid:
    """A boolean mask of covered cells: cell (i, j) has its centre at
    (x0 + (j + 0.5) * cell_m, y0 + (i + 0.5) * cell_m) in `crs`."""

    x0: float
    y0: float
    cell_m: float
    mask: np.ndarray
    crs: pyproj.CRS | None = None

    @property
    def area_km2(self) -> float:
        return float(np.count_nonzero(self.mask)) * self.cell_m**2 / 1e6

    def covered_centres(self) -> tuple[np.ndarray, np.ndarray]:
        i, j = np.nonzero(self.mask)
        return self.x0 + (j + 0.5) * self.cell_m, self.y0 + (i + 0.5) * self.cell_m

    def window(self, polygon) -> tuple[int, int, np.ndarray] | None:
        """The cells whose centres lie in `polygon` (same CRS), as (i0, j0, boolean window) over the
        polygon's bounds; None when it misses the grid."""
        if polygon is None or polygon.is_empty:
            return None
        minx, miny, maxx, maxy = polygon.bounds
        j0 = max(int((minx - self.x0) // self.cell_m), 0)
        i0 = max(int((miny - self.y0) // self.cell_m), 0)
        j1 = min(int((maxx - self.x0) // self.cell_m) + 1, self.mask.shape[1])
        i1 = min(int((maxy - self.y0) // self.cell_m) + 1, self.mask.shape[0])
        if i1 <= i0 or j1 <= j0:
            return None
        return (
            i0,
            j0,
            _cells_in_polygon(
                polygon,
                self.x0 + (j0 + 0.5) * self.cell_m,
                self.y0 + (i0 + 0.5) * self.cell_m,
                self.cell_m,
                (i1 - i0, j1 - j0),
            ),
        )

    def area_in_km2(self, polygon, win=None) -> float:
        """Covered area inside a polygon (same CRS): its exact area times the share of its cells (those
        whose centres it holds) that are covered. Numerator and denominator are one measure, so a polygon
        covered whole reads 100 % (covered cells counted against the exact area read a 0.516 km2 town
        inside one disc 94.45 %). A polygon holding no cell centre (a sliver under one cell) is covered
        as the cell of its representative point is. `win`: the polygon's window of a grid with the same
        frame, when the caller has it already."""
        win = self.window(polygon) if win is None else win
        if win is None:
            return 0.0
        i0, j0, inside = win
        n_cells = np.count_nonzero(inside)
        if n_cells == 0:
            i, j, ok = _cells_of(self, *shapely.get_coordinates(polygon.representative_point()).T)
            return polygon.area / 1e6 if ok[0] and self.mask[i[0], j[0]] else 0.0
        covered = self.mask[i0 : i0 + inside.shape[0], j0 : j0 + inside.shape[1]]
        return float(np.count_nonzero(covered & inside)) / n_cells * polygon.area / 1e6

    def has_frame_of(self, other) -> bool:
        """Whether `other` is a grid of the same cells (origin, cell size, shape)."""
        return isinstance(other, CoverageGrid) and (self.x0, self.y0, self.cell_m, self.mask.shape) == (
            other.x0,
            other.y0,
            other.cell_m,
            other.mask.shape,
        )


_BLOCK = 16  # cells per side of the blocks tested whole against a polygon before single cells
_COARSE = 8  # blocks per side of the coarse blocks tested first (a district of 10^7 cells: 700 boxes)


def _block_status(
    polygon, bi: np.ndarray, bj: np.ndarray, size: int, xc0: float, yc0: float, cell_m: float, shape: tuple[int, int]
) -> np.ndarray:
    """Per block of `size` cells at rows bi, columns bj: 2 = every centre strictly inside `polygon`,
    0 = none can be, 1 = the block meets its boundary."""
    h, w = shape
    eps = 0.01 * cell_m  # a block of one row or column is still a polygon
    boxes = shapely.box(
        xc0 + bj * cell_m - eps,
        yc0 + bi * cell_m - eps,
        xc0 + (np.minimum(bj + size, w) - 1) * cell_m + eps,
        yc0 + (np.minimum(bi + size, h) - 1) * cell_m + eps,
    )
    return np.where(
        shapely.contains_properly(polygon, boxes), 2, np.where(shapely.intersects(polygon, boxes), 1, 0)
    ).astype(np.int8)


def _cells_in_polygon(polygon, xc0: float, yc0: float, cell_m: float, shape: tuple[int, int]) -> np.ndarray:
    """Which cells of a window (first centre at xc0, yc0) have their centre in `polygon`. Blocks of
    _BLOCK x _BLOCK cells wholly inside or wholly outside are settled at once (and before them
    coarse blocks of _COARSE x _COARSE blocks); only the cells of blocks on the boundary are tested
    one by one (a district of 10^6 cells: 4,000 blocks and the cells along its outline instead of
    10^6 point tests). A block inside (outside) a coarse block that is inside (outside) would be
    found so itself: the result is that of the blocks alone."""
    h, w = shape
    shapely.prepare(polygon)
    big = _BLOCK * _COARSE
    ci, cj = np.meshgrid(np.arange(0, h, big), np.arange(0, w, big), indexing="ij")
    coarse = _block_status(polygon, ci, cj, big, xc0, yc0, cell_m, shape)
    bi, bj = np.meshgrid(np.arange(0, h, _BLOCK), np.arange(0, w, _BLOCK), indexing="ij")
    status = np.repeat(np.repeat(coarse, _COARSE, axis=0), _COARSE, axis=1)[: bi.shape[0], : bi.shape[1]]
    edge = status == 1
    status[edge] = _block_status(polygon, bi[edge], bj[edge], _BLOCK, xc0, yc0, cell_m, shape)
    inside = np.repeat(np.repeat(status == 2, _BLOCK, axis=0), _BLOCK, axis=1)[:h, :w]
    # the cells of the boundary blocks, from the blocks (not a scan of every cell of the window)
    ei, ej = np.nonzero(status == 1)
    if ei.size:
        oi, oj = np.divmod(np.arange(_BLOCK * _BLOCK), _BLOCK)
        ii, jj = (ei[:, None] * _BLOCK + oi).ravel(), (ej[:, None] * _BLOCK + oj).ravel()
        ok = (ii < h) & (jj < w)
        ii, jj = ii[ok], jj[ok]
        inside[ii, jj] = shapely.contains_xy(polygon, xc0 + jj * cell_m, yc0 + ii * cell_m)
    return inside


_SUB = 4  # sub-cell positions per axis: a stencil is made for each, so discs keep their true area


def _stencils(r_cells: np.ndarray, fx: np.ndarray, fy: np.ndarray):
    """Group stations by (disc area, sub-cell position) and yield (member index, dx, dy) per group."""
    total = _stencil_total(r_cells)
    sx = np.minimum((fx * _SUB).astype(np.int64), _SUB - 1)
    sy = np.minimum((fy * _SUB).astype(np.int64), _SUB - 1)
    key = (total * _SUB + sx) * _SUB + sy
    if key.size == 0:  # no station on air yet: nothing to stamp (the run-start marker below needs one)
        return
    # (any order within a group: a disc is stamped the same whatever the order; the unstable sort is 4x faster)
    order = np.argsort(key)
    ks = key[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    ends = np.r_[starts[1:], ks.size]
    for a, b in zip(starts, ends):
        k = int(ks[a])
        t = k // (_SUB * _SUB)
        if t <= 0:
            continue
        yield (order[a:b], *_stencil(t, (k // _SUB) % _SUB, k % _SUB))


#: Significant bits kept of a disc's area in 1/_SUB^2 cells (its stencils' total over the sub-cell positions): the
#: area to 0.05 %, and at most 1,024 stencil sizes an octave of area whatever radii a station table gives.
_AREA_BITS = 11


def _stencil_total(r_cells: np.ndarray) -> np.ndarray:
    """The cells of a disc of r cells summed over its _SUB^2 sub-cell positions, round(_SUB^2 pi r^2), to
    _AREA_BITS significant bits (exact up to 6.4 cells of radius). The radius was rounded to 1/20 of a cell: a
    100 m disc on 21 m cells 4.75 cells for 4.76 (-0.5 % of its area), 117 m on 50 m cells 2.35 for 2.34
    (+0.85 %); an area's rounding is a 1/(2 _SUB^2) of a cell at most."""
    t = np.round(_SUB * _SUB * math.pi * np.asarray(r_cells, dtype=float) ** 2).astype(np.int64)
    shift = np.maximum(np.floor(np.log2(np.maximum(t, 1))).astype(np.int64) + 1 - _AREA_BITS, 0)
    q = np.left_shift(np.int64(1), shift)
    return (t + q // 2) // q * q


@functools.lru_cache(maxsize=256)
def _stencil_sizes(total: int) -> np.ndarray:
    """Cells of the disc of `total` / _SUB^2 cells (`_stencil_total`) at each sub-cell position (index
    sx * _SUB + sy): floor(total / _SUB^2) or one more, so that their mean over the positions is the circle's
    area to 1/(2 _SUB^2) of a cell. One count for every position, round(pi r^2), put the 2-cell disc of a 100 m
    radius on 50 m cells at 13 cells for 12.57 (+3.4 %), and the covered area of a city at that radius 1.1 % above
    the exact union; the mean over positions is the disc's area, as the stations fall on every position. The extra
    cell goes to the positions whose next nearest cell lies nearest (a threshold on the distance, as the circle's
    edge is), ties to the first position."""
    base, extra = divmod(int(total), _SUB * _SUB)
    sizes = np.full(_SUB * _SUB, base, dtype=np.int64)
    if extra > 0:
        nxt = np.array([_nearest_cells(total, sx, sy)[2][base] for sx in range(_SUB) for sy in range(_SUB)])
        sizes[np.argsort(nxt, kind="stable")[:extra]] += 1
    return sizes


@functools.lru_cache(maxsize=4096)
def _nearest_cells(total: int, sx: int, sy: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell offsets around a station at sub-cell position (sx, sy) of its cell, nearest first (distance of the
    cell centres (dx + 0.5, dy + 0.5) from the sub-cell's centre; stable among equals, so the same whatever the
    window), with their squared distances: enough of them for a disc of `total` / _SUB^2 cells and one more."""
    px, py = (sx + 0.5) / _SUB, (sy + 0.5) / _SUB
    n = int(math.ceil(math.sqrt(total / (_SUB * _SUB) / math.pi))) + 2
    dy, dx = np.mgrid[-n : n + 1, -n : n + 1]
    d2 = ((dx + 0.5 - px) ** 2 + (dy + 0.5 - py) ** 2).ravel()
    take = np.argsort(d2, kind="stable")[: total // (_SUB * _SUB) + 1]
    out = dx.ravel()[take].astype(np.int64), dy.ravel()[take].astype(np.int64), d2[take]
    for a in out:  # (shared by every caller of the cache)
        a.flags.writeable = False
    return out


def _stencil(total: int, sx: int, sy: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell offsets of one disc of `total` / _SUB^2 cells (`_stencil_total`) around a station at sub-cell position
    (sx, sy) inside its cell: the cells nearest it, as many as `_stencil_sizes` gives that position (a disc with
    the circle's area, where the plain centre-in-circle test is off by a few % at radii of 5-10 cells). Cached
    (`_nearest_cells`), as national coverage stamps the same few stencils into many bands."""
    dx, dy, _ = _nearest_cells(total, sx, sy)
    size = int(_stencil_sizes(total)[sx * _SUB + sy])
    return dx[:size], dy[:size]


def _stamp(
    mask: np.ndarray, cx: np.ndarray, cy: np.ndarray, r_cells: np.ndarray, fx: np.ndarray, fy: np.ndarray
) -> None:
    """Set the cells of every disc; the caller guarantees the discs lie inside `mask`. Many wide discs set the
    blocks of _STAMP_BLOCK x _STAMP_BLOCK cells they hold whole as one cell of a coarse mask (`_stamp_blocks`)."""
    width = mask.shape[1]
    flat = mask.reshape(-1)
    coarse = None
    groups = list(_stencils(r_cells, fx, fy))
    # blocks pay where discs overlap many deep (stations crowding towns), not where they spread over the grid
    crowded = sum(members.size * dx.size for members, dx, _ in groups) > _CROWDED_STAMPS * mask.size
    for members, dx, dy in groups:
        if crowded and dx.size >= 100 and members.size >= 256:
            if coarse is None:
                coarse = np.zeros((-(-mask.shape[0] // _STAMP_BLOCK), -(-width // _STAMP_BLOCK)), dtype=bool)
            _stamp_blocks(flat, width, coarse, cx[members], cy[members], dx, dy)
        else:
            _stamp_cells(flat, cy[members] * width + cx[members], dy * width + dx)
    if coarse is not None:  # each coarse cell set: its block of cells
        bi, bj = np.nonzero(coarse)
        i, j = np.divmod(np.arange(_STAMP_BLOCK * _STAMP_BLOCK), _STAMP_BLOCK)
        _stamp_cells(flat, (bi * width + bj) * _STAMP_BLOCK, i * width + j)


_STAMP_BLOCK = 4  # cells per side of the blocks a wide disc sets whole: a disc of 8 cells holds ~5 (80 of its 201)
_CROWDED_STAMPS = 2  # disc cells per grid cell from which blocks are set (2 x 10^5 stations at 400 m in towns: 10,
# spread over Karamay's extent: 3.6, where blocks stamp the grid in 0.124 s against 0.150; at 250 m, 1.4: the same)


def _stamp_cells(flat: np.ndarray, base: np.ndarray, offsets: np.ndarray) -> None:
    """Set flat[base + offset] for every base and offset."""
    # chunks of ~10^6 indices (8 MB): bigger ones are mapped afresh by the allocator each time
    step = max(1, 1_000_000 // max(offsets.size, 1))
    for s in range(0, base.size, step):
        flat[(base[s : s + step, None] + offsets[None, :]).ravel()] = True


def _stamp_blocks(flat, width: int, coarse: np.ndarray, cx, cy, dx: np.ndarray, dy: np.ndarray) -> None:
    """Set one stencil (dx, dy) around many stations: per position of the station's cell inside its block, the
    blocks the stencil holds whole in `coarse`, the rest of its cells in `flat`."""
    b = _STAMP_BLOCK
    at = (cy % b) * b + (cx % b)
    order = np.argsort(at)
    bounds = np.searchsorted(at[order], np.arange(b * b + 1))
    cflat = coarse.reshape(-1)
    for k in range(b * b):
        m = order[bounds[k] : bounds[k + 1]]
        if m.size == 0:
            continue
        ay, ax = divmod(k, b)
        bx, by = np.floor_divide(ax + dx, b), np.floor_divide(ay + dy, b)
        key = (by - by.min()) * (bx.max() - bx.min() + 1) + (bx - bx.min())
        whole = np.bincount(key)[key] == b * b  # the stencil's cells in blocks it fills
        blocks = np.unique(key[whole], return_index=True)[1]
        qx, qy = cx[m] // b, cy[m] // b
        block_at = np.flatnonzero(whole)[blocks]
        _stamp_cells(cflat, qy * coarse.shape[1] + qx, by[block_at] * coarse.shape[1] + bx[block_at])
        _stamp_cells(flat, cy[m] * width + cx[m], dy[~whole] * width + dx[~whole])


#: Cells of one coverage grid at most (a byte each; the stage holds a few such masks and their labels): a
#: country's extent at 50 m is 10^10 cells and was killed for memory, now a typed error naming the setting.
MAX_GRID_CELLS = 500_000_000


def rasterize_coverage(
    x, y, radius_m, cell_m: float = 50.0, bounds=None, crs=None, like: CoverageGrid | None = None
) -> CoverageGrid:
    """Discs of `radius_m` around metric points, on a grid of `cell_m` cells aligned to multiples
    of `cell_m`; `bounds` (minx, miny, maxx, maxy) extends the grid (e.g. to the city). `like`: use
    that grid's frame when it holds this one (the same cells either way, and windows can be shared)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    r = np.broadcast_to(np.asarray(radius_m, dtype=float), x.shape)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(r) & (r > 0)
    if not ok.all():  # (no copies of 10^5 stations when every one has its disc)
        x, y, r = x[ok], y[ok], r[ok]
    rmax = float(r.max()) if r.size else 0.0
    ext = [np.inf, np.inf, -np.inf, -np.inf]
    if x.size:
        ext = [x.min() - rmax, y.min() - rmax, x.max() + rmax, y.max() + rmax]
    if bounds is not None:
        ext = [min(ext[0], bounds[0]), min(ext[1], bounds[1]), max(ext[2], bounds[2]), max(ext[3], bounds[3])]
    if not np.isfinite(ext).all():
        return CoverageGrid(0.0, 0.0, cell_m, np.zeros((0, 0), dtype=bool), crs)
    pad = 2 * cell_m
    x0 = math.floor((ext[0] - pad) / cell_m) * cell_m
    y0 = math.floor((ext[1] - pad) / cell_m) * cell_m
    nx = int(math.ceil((ext[2] + pad - x0) / cell_m))
    ny = int(math.ceil((ext[3] + pad - y0) / cell_m))
    if (
        like is not None
        and like.cell_m == cell_m
        and like.x0 <= x0
        and like.y0 <= y0
        and like.x0 + like.mask.shape[1] * cell_m >= x0 + nx * cell_m
        and like.y0 + like.mask.shape[0] * cell_m >= y0 + ny * cell_m
    ):
        x0, y0, (ny, nx) = like.x0, like.y0, like.mask.shape
    if ny * nx > MAX_GRID_CELLS:
        raise ConfigError(
            f"coverage grid of {nx:,} x {ny:,} cells of {cell_m:g} m is more than {MAX_GRID_CELLS:,} cells: "
            f"set a larger [coverage] cell_m in city.toml (about {cell_m * math.sqrt(ny * nx / MAX_GRID_CELLS):.0f} m)"
        )
    mask = np.zeros((ny, nx), dtype=bool)
    u, v = (x - x0) / cell_m, (y - y0) / cell_m
    cx, cy = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    _stamp(mask, cx, cy, r / cell_m, u - cx, v - cy)
    return CoverageGrid(x0, y0, cell_m, mask, crs)


def covered_area_km2(lon, lat, radius_m, cell_m: float = 50.0, max_band_cells: int = 50_000_000) -> float:
    """Covered area (km2) of discs around WGS-84 points at any scale (a country): the points are
    split by UTM zone and each zone is rasterised in horizontal bands of at most `max_band_cells`
    cells (the discs that reach into a band are stamped into it, only its own rows are counted).
    Discs that straddle a zone border are counted in each zone (negligible at national scale)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    r = np.broadcast_to(np.asarray(radius_m, dtype=float), lon.shape)
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(r) & (r > 0)
    lon, lat, r = lon[ok], lat[ok], r[ok]
    zone = np.minimum(((((lon + 180.0) % 360.0) // 6.0).astype(np.int64) + 1), 60) * np.where(lat >= 0, 1, -1)
    total_cells = 0
    for z in np.unique(zone):
        sel = zone == z
        crs = pyproj.CRS.from_epsg((32600 if z > 0 else 32700) + abs(int(z)))
        x, y = _project(lon[sel], lat[sel], crs)
        rz = r[sel]
        pad = int(math.ceil(rz.max() / cell_m)) + 2
        gx = np.floor(x / cell_m).astype(np.int64)
        gy = np.floor(y / cell_m).astype(np.int64)
        fx, fy = x / cell_m - gx, y / cell_m - gy
        xmin, xmax = gx.min() - pad, gx.max() + pad + 1
        width = int(xmax - xmin)
        rows = max(1, max_band_cells // width - 4 * pad)
        ymin, ymax = gy.min() - pad, gy.max() + pad + 1  # rows any disc can reach
        order = np.argsort(gy, kind="stable")
        gys = gy[order]
        for b0 in range(int(ymin), int(ymax), rows):
            b1 = min(b0 + rows, int(ymax))
            lo, hi = np.searchsorted(gys, [b0 - pad, b1 + pad])
            idx = order[lo:hi]
            if idx.size == 0:
                continue
            # stations up to `pad` rows outside the band reach into it, and their discs `pad` rows further;
            # only the columns this band's discs reach (a zone is far wider than its stations in most rows)
            bx0 = int(gx[idx].min()) - pad
            bwidth = int(gx[idx].max()) + pad + 1 - bx0
            mask = np.zeros((b1 - b0 + 4 * pad, bwidth), dtype=bool)
            _stamp(mask, gx[idx] - bx0, gy[idx] - (b0 - 2 * pad), rz[idx] / cell_m, fx[idx], fy[idx])
            total_cells += int(np.count_nonzero(mask[2 * pad : 2 * pad + (b1 - b0)]))
    return total_cells * cell_m**2 / 1e6


def coverage_union(x, y, radius_m, quad_segs: int = 32):
    """Exact vector coverage: the union of buffered points (a polygon of 4 * quad_segs sides per
    disc, within 0.1 % of the circle's area at 32)."""
    x = np.asarray(x, dtype=float)
    r = np.broadcast_to(np.asarray(radius_m, dtype=float), x.shape)
    ok = np.isfinite(r) & (r > 0)
    if not ok.any():
        return shapely.Polygon()
    discs = shapely.buffer(shapely.points(x[ok], np.asarray(y, dtype=float)[ok]), r[ok], quad_segs=quad_segs)
    return shapely.union_all(discs)


class _VectorCover:
    def __init__(self, geom):
        self.geom = geom

    @property
    def area_km2(self) -> float:
        return self.geom.area / 1e6

    def area_in_km2(self, polygon) -> float:
        return shapely.intersection(self.geom, polygon).area / 1e6


# --- gaps and candidates on the grid --------------------------------------------------------------
# The covered area is a grid; the gaps are read off the same grid (connected components of the
# uncovered built-up cells plus the discs of uncovered key sites) instead of a vector union of
# every footprint, which is what made the command slower than the naive way at national scale.
#: Most gaps drawn as polygons (the top ranked); the others keep their row with no geometry.
MAX_GAP_POLYGONS = 500
_NEIGHBOURS = np.ones((3, 3), dtype=bool)  # 8-connected: cells meeting at a corner belong to one gap


def rasterize_polygons(geoms, grid: CoverageGrid) -> np.ndarray:
    """Cells of `grid` whose centres lie in any of `geoms` (same CRS): one window per polygon part,
    so scattered built-up areas never test the whole city's cells."""
    mask = np.zeros(grid.mask.shape, dtype=bool)
    for part in shapely.get_parts(np.asarray(list(geoms), dtype=object)):
        win = grid.window(part) if part is not None and part.area > 0 else None
        if win is not None:
            i0, j0, inside = win
            mask[i0 : i0 + inside.shape[0], j0 : j0 + inside.shape[1]] |= inside
    return mask


def _cells_of(grid: CoverageGrid, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column and in-grid flag of metric points."""
    j = np.floor((np.asarray(x, dtype=float) - grid.x0) / grid.cell_m).astype(np.int64)
    i = np.floor((np.asarray(y, dtype=float) - grid.y0) / grid.cell_m).astype(np.int64)
    ok = (i >= 0) & (i < grid.mask.shape[0]) & (j >= 0) & (j < grid.mask.shape[1])
    return np.where(ok, i, 0), np.where(ok, j, 0), ok


def _gap_mask(urban_mask: np.ndarray, grid: CoverageGrid, open_sites: pd.DataFrame, settings) -> np.ndarray:
    """Uncovered built-up cells plus a disc of `site_radius_m` around each uncovered key site, made in `urban_mask`
    itself (the caller's to give up: two fresh masks of the grid were ~0.02 s of the kernel's time at 10^7 cells)."""
    gap = np.greater(urban_mask, grid.mask, out=urban_mask)  # (built-up and not covered)
    if len(open_sites):
        u = (open_sites["x_m"].to_numpy(dtype=float) - grid.x0) / grid.cell_m
        v = (open_sites["y_m"].to_numpy(dtype=float) - grid.y0) / grid.cell_m
        cx, cy = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        r = np.full(cx.size, settings.site_radius_m / grid.cell_m)
        n = int(math.ceil(r.max())) + 2
        inside = (cx >= n) & (cy >= n) & (cx < gap.shape[1] - n) & (cy < gap.shape[0] - n)
        if not inside.all():
            raise BadInputError(f"{int((~inside).sum())} key site(s) lie outside the coverage grid")
        _stamp(gap, cx, cy, r, u - cx, v - cy)
    return gap


def _component_polygons(
    labels: np.ndarray, ids: np.ndarray, grid: CoverageGrid, cells: np.ndarray | None = None
) -> dict[int, object]:
    """Outline of each component in `ids`: its cells as row runs (boxes), merged per component.
    `cells`: the flat indices of every labelled cell, when known (then only their rows are read)."""
    wanted = np.zeros(int(labels.max(initial=0)) + 1, dtype=bool)
    wanted[np.asarray(ids, dtype=np.int64)] = True
    wanted[0] = False
    # a gap's rows are a few of the grid's: look up only those
    rows = np.unique(cells // labels.shape[1]) if cells is not None else np.flatnonzero(labels.any(axis=1))
    rows = rows[wanted[labels[rows]].any(axis=1)]
    if rows.size == 0:
        return {}
    sub = np.where(wanted[labels[rows]], labels[rows], 0)
    padded = np.pad(sub, ((0, 0), (1, 1)))
    ri, rj = np.nonzero(padded[:, 1:] != padded[:, :-1])  # run boundaries, column rj of `sub`
    same_row = ri[1:] == ri[:-1]
    start_i, start_j, end_j = ri[:-1][same_row], rj[:-1][same_row], rj[1:][same_row]
    value = sub[start_i, start_j]
    keep = value > 0
    start_i, start_j, end_j, value = start_i[keep], start_j[keep], end_j[keep], value[keep]
    c = grid.cell_m
    y = grid.y0 + rows[start_i] * c
    boxes = shapely.box(grid.x0 + start_j * c, y, grid.x0 + end_j * c, y + c)
    order = np.argsort(value, kind="stable")
    value, boxes = value[order], boxes[order]
    starts = np.flatnonzero(np.r_[True, value[1:] != value[:-1]])
    ends = np.r_[starts[1:], value.size]
    # the union of a component's run boxes; simplify(0) drops the run corners along straight edges
    return {int(value[a]): shapely.simplify(shapely.coverage_union_all(boxes[a:b]), 0.0) for a, b in zip(starts, ends)}


def _nearest_district(districts_utm, x, y) -> np.ndarray:
    """Name of the district each metric point lies in, or the nearest one."""
    if len(districts_utm) == 0 or len(x) == 0:
        return np.full(len(x), "", dtype=object)
    tree = shapely.STRtree(districts_utm.geometry.values)
    pts = shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    pairs = tree.query_nearest(pts, all_matches=False)
    names = np.full(len(x), "", dtype=object)
    names[pairs[0]] = districts_utm["name_zh"].to_numpy(dtype=object)[pairs[1]]
    return names


def _label_gaps(gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8-connected components of `gap` numbered as `ndimage.label` numbers them (raster order of
    their first cell), and the flat indices of the gap cells in ascending order. The gaps are a few
    thousand cells of a grid of 10^7: the connected components of a graph of the gap cells and their
    neighbours (scipy.sparse.csgraph) cost a tenth of `ndimage.label` of the grid or of the gaps' bounding
    box (0.004 s against 0.04 s at 2 x 10^5 stations), and scipy.ndimage is not imported."""
    h, w = gap.shape
    labels = np.zeros(gap.shape, dtype=np.int32)
    rows = np.flatnonzero(gap.any(axis=1))
    i, j = np.nonzero(gap[rows])
    cells = rows[i] * w + j  # ascending, as the rows are
    if cells.size == 0:
        return labels, cells.astype(np.int64)
    ci, cj = rows[i], j
    src, dst = [], []
    for di, dj in ((0, 1), (1, -1), (1, 0), (1, 1)):  # the neighbours after a cell: each pair once
        ni, nj = ci + di, cj + dj
        target = ni * w + nj
        at = np.minimum(np.searchsorted(cells, target), cells.size - 1)
        hit = (nj >= 0) & (nj < w) & (ni < h) & (cells[at] == target)
        src.append(np.flatnonzero(hit))
        dst.append(at[hit])
    src, dst = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(cells.size, cells.size))
    n, component = connected_components(graph, directed=False)
    _, first = np.unique(component, return_index=True)  # each component's first cell in raster order
    number = np.empty(n, dtype=np.int32)
    number[np.argsort(first, kind="stable")] = np.arange(1, n + 1, dtype=np.int32)
    labels.ravel()[cells] = number[component]
    return labels, cells.astype(np.int64)


def _grid_gaps(urban_mask, grid: CoverageGrid, districts_utm, sites, settings, crs):
    """Ranked gaps read off the grid: (GeoDataFrame in EPSG:4326, (gap cells' centres x, y, and the position of
    each cell's gap in the ranking)). `urban_mask` is made the gap mask (`_gap_mask`)."""
    open_sites = _open_sites(sites).reset_index(drop=True)
    labels, cells = _label_gaps(_gap_mask(urban_mask, grid, open_sites, settings))
    district_of = _split_gaps_by_district(labels, cells, districts_utm, grid)
    lab = labels.ravel()[cells]
    n_cells = np.bincount(lab, minlength=int(lab.max(initial=0)) + 1)
    si, sj, _ = _cells_of(grid, open_sites["x_m"], open_sites["y_m"])
    site_lab = labels[si, sj]
    cell_km2 = grid.cell_m**2 / 1e6
    keep = n_cells * cell_km2 >= settings.min_gap_km2
    keep[site_lab] = True
    keep[0] = False
    ids = np.flatnonzero(keep)
    rows = _gap_rows(ids, n_cells, lab, site_lab, open_sites, district_of, grid, settings)
    cols = ["district", "area_km2", "n_key_sites", "n_target_sites", "sites", "score"]
    df = pd.DataFrame(rows, columns=["label", *cols])
    df = df.sort_values(["score", "area_km2", "district", "sites"], ascending=[False, False, True, True])
    df = df.reset_index(drop=True)
    drawn = _component_polygons(labels, df["label"].to_numpy()[:MAX_GAP_POLYGONS], grid, cells)
    geometry = [drawn.get(int(v)) for v in df["label"]]
    gdf = gpd.GeoDataFrame(df.drop(columns="label"), geometry=geometry, crs=crs)
    gdf.insert(0, "rank", np.arange(1, len(gdf) + 1))
    gdf.insert(0, "gap_id", [f"G{i:03d}" for i in range(1, len(gdf) + 1)])
    in_gap = keep[lab]
    gi, gj = np.divmod(cells[in_gap], labels.shape[1])
    rank_of = np.full(len(keep), -1, dtype=np.int64)
    rank_of[df["label"].to_numpy(dtype=np.int64)] = np.arange(len(df))
    x, y = grid.x0 + (gj + 0.5) * grid.cell_m, grid.y0 + (gi + 0.5) * grid.cell_m
    return gdf.to_crs(4326), (x, y, rank_of[lab[in_gap]])


def _split_gaps_by_district(labels: np.ndarray, cells: np.ndarray, districts_utm, grid: CoverageGrid) -> np.ndarray:
    """Each gap (a component of `labels`) cut at the district boundaries, in place: a component's cells in
    each district one gap, numbered in raster order of their first cell as before. Returns the district
    name of each label (index: label). A gap across two districts was one gap credited to the district
    of its middle: 51 km2 of a suburb's uncovered town in a city district of 34 km2. A cell centre in no
    district (a built-up area drawn past the city's edge) is no gap of the city (label 0): gaps and candidate
    sites were listed in the sea or across the border."""
    if cells.size == 0:
        return np.full(1, "", dtype=object)
    gi, gj = np.divmod(cells, labels.shape[1])
    x, y = grid.x0 + (gj + 0.5) * grid.cell_m, grid.y0 + (gi + 0.5) * grid.cell_m
    names = districts_utm["name_zh"].to_numpy(dtype=object)
    where = np.full(cells.size, -1, dtype=np.int64)
    if len(names):
        tree = shapely.STRtree(districts_utm.geometry.values)
        pts = shapely.points(x, y)
        pi, di = tree.query(pts, predicate="intersects")
        order = np.lexsort((di, pi))  # (a point on a shared border: the first district in the frame's order)
        pi, di = pi[order], di[order]
        first = np.r_[True, pi[1:] != pi[:-1]] if pi.size else np.zeros(0, dtype=bool)
        where[pi[first]] = di[first]
    # a cell in no district (a built-up area drawn past the city's edge) is no gap of the city: label 0
    inside = where >= 0 if len(names) else np.ones(cells.size, dtype=bool)
    lab = labels.ravel()[cells].astype(np.int64)
    codes = np.full(cells.size, -1, dtype=np.int64)
    # one label per (component, district), numbered in order of first cell (cells ascending: raster order)
    codes[inside], _ = pd.factorize(lab[inside] * (len(names) + 1) + (where[inside] + 1))
    labels.ravel()[cells] = codes + 1
    district = np.full(codes.max(initial=-1) + 2, "", dtype=object)
    district[codes[inside] + 1] = names[where[inside]] if len(names) else ""
    return district


def _gap_rows(ids, n_cells, lab, site_lab, open_sites, district_of, grid, settings) -> list[dict]:
    """One row per kept gap: area from its cell count, the open key sites in it, the score and its
    district (`district_of`, by label)."""
    if ids.size == 0:
        return []
    district = district_of[ids]
    names = open_sites["name_zh"].astype(str).to_numpy()
    target = open_sites["is_target"].to_numpy(dtype=bool)
    rows = []
    for k, label in enumerate(ids):
        hit = site_lab == label
        n_target = int(target[hit].sum())
        area = float(n_cells[label]) * grid.cell_m**2 / 1e6
        rows.append(
            {
                "label": int(label),
                "district": district[k],
                "area_km2": round(area, 4),
                "n_key_sites": int(hit.sum()),
                "n_target_sites": n_target,
                "sites": "; ".join(sorted(names[hit])),
                "score": round(
                    area
                    + settings.target_site_weight_km2 * n_target
                    + settings.key_site_weight_km2 * (int(hit.sum()) - n_target),
                    4,
                ),
            }
        )
    return rows


# --- the assessment -------------------------------------------------------------------------------
@dataclass
class CoverageResult:
    """Everything `assess_coverage` found; the tables are what the CLI writes."""

    as_of: pd.Timestamp | None
    crs: pyproj.CRS
    settings: CoverageSettings
    mode: str
    by_district: pd.DataFrame
    sites: pd.DataFrame
    gaps: gpd.GeoDataFrame
    candidates: pd.DataFrame
    stations: pd.DataFrame  # every station given, with footprint columns and is_on_air_at_as_of
    districts: gpd.GeoDataFrame
    urban_areas: gpd.GeoDataFrame
    city_name: str = ""
    notes: list[str] = field(default_factory=list)  # what a reader must know about the inputs, one line each


def _target_flags(sites: pd.DataFrame, as_of) -> tuple[np.ndarray, list[str]]:
    """A 4A/5A scenic spot is a target once its rating is confirmed and dated on or before as_of."""
    flags, notes = [], []
    for _, s in sites.iterrows():
        rating = str(s.get("rating", "") or "")
        status = str(s.get("rating_status", "confirmed") or "confirmed")
        date = s.get("rating_date")
        if str(s.get("category", "")) != "scenic" or rating not in ("4A", "5A"):
            flags.append(False)
            notes.append("")
        elif status != "confirmed":
            flags.append(False)
            notes.append(f"rating {rating} {status}")
        elif as_of is not None and pd.notna(date) and pd.Timestamp(date) > as_of:
            flags.append(False)
            notes.append(f"rated {rating} on {pd.Timestamp(date).date()}, after the as-of date")
        else:
            flags.append(True)
            notes.append(
                f"rated {rating}" + (f" on {pd.Timestamp(date).date()}" if pd.notna(date) else ", date unknown")
            )
    return np.array(flags, dtype=bool), notes


def _open_sites(sites: pd.DataFrame) -> pd.DataFrame:
    """Uncovered key sites inside the city: the ones a gap is drawn around and a candidate may serve (a
    site outside every district is listed, not served: a candidate there would lie outside the city)."""
    inside = sites["is_in_city"] if "is_in_city" in sites else True
    return sites[~sites["is_covered"] & inside]


def _nearest_and_cover(x, y, sx, sy, r_out, r_in, tree: cKDTree | None = None):
    """Per point: the nearest station (the first in order among equally near ones), its distance,
    and whether any station's outdoor / indoor disc holds it. Exact, by a kd-tree: only stations within
    the largest radius can cover a point, and the nearest is among those within its distance. `tree`: the kd-tree
    of (sx, sy), when the caller has it."""
    tree = _tree(sx, sy) if tree is None else tree
    pts = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    dn, _ = tree.query(pts, k=1)
    rmax = float(max(np.nanmax(r_out), np.nanmax(r_in), 0.0))
    near = tree.query_ball_point(pts, np.maximum(dn, rmax) + 1e-6, return_sorted=True)
    j, dn = np.zeros(len(x), dtype=np.int64), np.zeros(len(x))
    covered, covered_in = np.zeros(len(x), dtype=bool), np.zeros(len(x), dtype=bool)
    for k, idx in enumerate(near):
        idx = np.asarray(idx, dtype=np.int64)  # ascending
        d = np.hypot(x[k] - sx[idx], y[k] - sy[idx])
        j[k] = idx[int(np.argmin(d))]  # argmin: the first of equals, as idx is sorted
        dn[k] = d.min()
        covered[k] = bool((r_out[idx] - d >= 0).any())
        covered_in[k] = bool((r_in[idx] - d >= 0).any())
    return j, dn, covered, covered_in


def _site_districts(sites: pd.DataFrame, districts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each key site's district from its point in the polygons, as stations get theirs (the text of
    sites.csv may be wrong, or its lon/lat), whether it lies in the city at all, and a note where the text
    and the point disagree: a site placed in another district was counted for its text's district while
    its gap and candidate went to the polygon's; one 20 km outside the city drew a candidate there."""
    given = sites["district"].fillna("").astype(str).to_numpy(dtype=object) if "district" in sites else None
    n = len(sites)
    if districts is None or not len(districts) or not n:
        return (given if given is not None else np.full(n, "", dtype=object)), np.ones(n, bool), np.full(n, "", object)
    found = geo.assign_district(sites["lon"].to_numpy(float), sites["lat"].to_numpy(float), districts)
    in_city = np.array([d is not None for d in found], dtype=bool)
    district = np.array([d if d is not None else "" for d in found], dtype=object)
    notes = np.full(n, "", dtype=object)
    for k in range(n):
        said = given[k] if given is not None else ""
        if not in_city[k]:
            notes[k] = f"outside every district of the city (sites.csv says {said or 'no district'}): not counted"
        elif said and said != district[k]:
            notes[k] = f"sites.csv says {said}; the point lies in {district[k]}"
    return district, in_city, notes


def _site_table(
    sites: gpd.GeoDataFrame, on_air: pd.DataFrame, crs, settings: CoverageSettings, as_of, districts=None, shared=None
) -> pd.DataFrame:
    """One row per key site: its district (from the polygons), target flag, coverage, nearest station. `shared`:
    the kd-tree (`_StationTree`) of the stations of `on_air`, in their order, when the caller has it."""
    cols = ["site_id", "name_zh", "name_en", "category", "rating", "rating_date", "district", "lon", "lat"]
    df = pd.DataFrame({c: sites[c] if c in sites.columns else "" for c in cols})
    df["district_given"] = df["district"].fillna("").astype(str)
    df["district"], df["is_in_city"], df["district_note"] = _site_districts(df, districts)
    df["is_target"], df["target_note"] = _target_flags(sites, as_of)
    # a site outside the city is no target of its districts (listed, with why, in district_note)
    outside = ~df["is_in_city"].to_numpy(bool)
    outside_target = outside & df["is_target"].to_numpy(bool)
    if outside_target.any():  # (an empty key-site list has a float note column: "+= text" raised)
        df.loc[outside_target, "target_note"] += " (outside the city: not counted)"
    df.loc[outside, "is_target"] = False
    x, y = _project(df["lon"], df["lat"], crs)
    n = len(df)
    out = {k: np.full(n, np.nan) for k in ("distance_m", "nearest_radius_m", "margin_m", "margin_db")}
    out["is_covered"] = out["is_covered_indoor"] = np.zeros(n, dtype=bool)
    nearest = {
        k: np.full(n, "", dtype=object)
        for k in ("nearest_station_id", "nearest_name", "nearest_operator", "nearest_band")
    }
    if len(on_air) and n:
        j, dn, covered, covered_in = _nearest_and_cover(
            x,
            y,
            on_air["x_m"].to_numpy(),
            on_air["y_m"].to_numpy(),
            on_air["radius_m"].to_numpy(),
            on_air["radius_indoor_m"].to_numpy(),
            shared.get() if shared is not None else None,
        )
        # (the columns read here only: a row selection of every column of 10^5 stations cost more than the sites)
        used = ("radius_m", "band", "area_type", "radius_source", "max_path_loss_db", "station_id", "name", "operator")
        near = on_air[[c for c in used if c in on_air.columns]].iloc[j]
        out["distance_m"] = dn
        out["nearest_radius_m"] = near["radius_m"].to_numpy()
        out["margin_m"] = near["radius_m"].to_numpy() - dn
        bands = near["band"].astype(str).where(near["band"].astype(str).isin(settings.bands), "unknown")
        pl = np.array(
            [
                path_loss_db(dd, settings.bands[b].freq_ghz, settings.areas[k], settings.ue_height_m).item()
                for dd, b, k in zip(dn, bands, near["area_type"])
            ]
        )
        out["margin_db"] = np.where(
            near["radius_source"].to_numpy() == "link_budget", near["max_path_loss_db"].to_numpy() - pl, np.nan
        )
        out["is_covered"], out["is_covered_indoor"] = covered, covered_in
        nearest["nearest_station_id"] = near["station_id"].astype(str).to_numpy()
        nearest["nearest_name"] = near["name"].astype(str).to_numpy() if "name" in near else ""
        nearest["nearest_operator"] = near["operator"].astype(str).to_numpy() if "operator" in near else ""
        nearest["nearest_band"] = near["band"].astype(str).to_numpy()
    df["is_covered"] = out["is_covered"]
    df["is_covered_indoor"] = out["is_covered_indoor"]
    for k, v in nearest.items():
        df[k] = v
    for k in ("distance_m", "nearest_radius_m", "margin_m", "margin_db"):
        df[k] = np.round(out[k], 1)
    precision = sites["coord_precision_m"] if "coord_precision_m" in sites.columns else np.nan
    df["coord_precision_m"] = pd.to_numeric(pd.Series(precision, index=df.index), errors="coerce")
    df["verdict"] = site_verdicts(df["is_covered"], df["margin_m"], df["coord_precision_m"])
    df["x_m"], df["y_m"] = x, y
    return df


def site_verdicts(is_covered: pd.Series, margin_m: pd.Series, precision_m: pd.Series) -> pd.Series:
    """'covered', 'uncovered', or 'uncertain' when the site is nearer the coverage edge than its position is
    known (|margin| < the coordinates' precision): a site placed to 5 km is neither declared uncovered by
    259 m nor covered by 9 m. Every count of covered key sites (district table, map, pages) reads this."""
    verdict = pd.Series(np.where(is_covered.to_numpy(bool), "covered", "uncovered"), index=is_covered.index)
    uncertain = precision_m.notna() & margin_m.notna() & (margin_m.abs() < precision_m)
    return verdict.where(~uncertain, "uncertain")


def _covered_km2(cover_out, cover_in, polygon) -> tuple[float, float]:
    """Outdoor and indoor covered area inside `polygon`; the polygon's cells found once when the two
    grids share their frame (the district table's main cost at 10^5 stations)."""
    if isinstance(cover_out, CoverageGrid) and cover_out.has_frame_of(cover_in):
        win = cover_out.window(polygon)
        if win is None:
            return 0.0, 0.0
        return cover_out.area_in_km2(polygon, win), cover_in.area_in_km2(polygon, win)
    return cover_out.area_in_km2(polygon), cover_in.area_in_km2(polygon)


def _urban_in_districts(districts_utm, urban_utm_gdf) -> list:
    """Each district's built-up area: the built-up polygons clipped to the district, whatever district a
    polygon is labelled with (a town spanning three districts was credited whole to its label: 109 km2
    of built-up area in a 34 km2 district, none in the other two)."""
    urban = np.asarray(urban_utm_gdf.geometry.values, dtype=object)
    if not len(urban):
        return [shapely.Polygon()] * len(districts_utm)
    tree = shapely.STRtree(urban)
    out = []
    for geom in districts_utm.geometry:
        hits = tree.query(geom, predicate="intersects")
        out.append(shapely.intersection(shapely.union_all(urban[hits]), geom) if len(hits) else shapely.Polygon())
    return out


def _district_table(districts_utm, urban_utm_gdf, cover_out, cover_in, on_air, sites, city_names, settings):
    """Per district and for the whole city: stations, covered area, built-up area and its coverage, key and
    target sites. Fully covered: the built-up area at least `full_coverage_pct` covered (a district with
    no built-up area mapped inside it: its whole area) and every target site covered."""
    rows = []
    urban_of = _urban_in_districts(districts_utm, urban_utm_gdf)
    n_on_air = on_air["district_calc"].value_counts()  # (once: a comparison of every station's text per district)
    # the key sites' counts grouped once (a filter of every site per district: districts x sites)
    verdict, target = sites["verdict"].astype(object), sites["is_target"].to_numpy(bool)
    counts = pd.DataFrame(
        {
            "district": sites["district"].astype(object),
            "n_key_sites": 1,
            "n_key_sites_covered": (verdict == "covered").to_numpy(int),
            "n_key_sites_uncertain": (verdict == "uncertain").to_numpy(int),
            "n_target_sites": target.astype(int),
            "n_target_sites_covered": (target & (verdict == "covered").to_numpy(bool)).astype(int),
        }
    )
    site_counts = counts.groupby("district", sort=False).sum().to_dict("index")
    none = dict.fromkeys(counts.columns.drop("district"), 0)
    for name, geom, urban_geom in zip(districts_utm["name_zh"], districts_utm.geometry, urban_of):
        sc = site_counts.get(name, none)
        covered = _covered_km2(cover_out, cover_in, geom)
        urban_covered = _covered_km2(cover_out, cover_in, urban_geom) if not urban_geom.is_empty else (0.0, 0.0)
        rows.append(
            {
                "district": name,
                "name_en": city_names.get(name, ""),
                "n_stations_on_air": int(n_on_air.get(name, 0)),
                "area_km2": geom.area / 1e6,
                "covered_km2": covered[0],
                "covered_indoor_km2": covered[1],
                "urban_area_km2": urban_geom.area / 1e6,
                "urban_covered_km2": urban_covered[0],
                "urban_covered_indoor_km2": urban_covered[1],
                # (covered where the site's position is known well enough to say: `site_verdicts`)
                **{k: int(v) for k, v in sc.items()},
            }
        )
    df = pd.DataFrame(rows)
    total = df.drop(columns=["district", "name_en"]).sum(numeric_only=True)
    total["n_stations_on_air"] = len(on_air)
    df = pd.concat(
        [df, pd.DataFrame([{"district": "全市", "name_en": "whole city", **total.to_dict()}])], ignore_index=True
    )
    for base in ("covered", "covered_indoor"):
        # (cells of 50 m along a sliver's edge may cover a little more than its area: at most 100 %)
        df[f"{base}_pct"] = (100 * df[f"{base}_km2"] / df["area_km2"].where(df["area_km2"] > 0)).clip(upper=100)
        urban_pct = 100 * df[f"urban_{base}_km2"] / df["urban_area_km2"].where(df["urban_area_km2"] > 0)
        df[f"urban_{base}_pct"] = urban_pct.clip(upper=100)
    # a district with no built-up area mapped is judged on its whole area (with no station it was 'fully
    # covered: yes' for having nothing to judge; judged on nothing, one covered whole was 'not yet covered')
    judged = df["urban_covered_pct"].where(df["urban_area_km2"] > 0, df["covered_pct"])
    urban_ok = judged.fillna(0.0) >= settings.full_coverage_pct
    df["is_fully_covered"] = urban_ok & (df["n_target_sites_covered"] == df["n_target_sites"])
    order = [
        "district",
        "name_en",
        "n_stations_on_air",
        "area_km2",
        "covered_km2",
        "covered_pct",
        "covered_indoor_km2",
        "covered_indoor_pct",
        "urban_area_km2",
        "urban_covered_km2",
        "urban_covered_pct",
        "urban_covered_indoor_km2",
        "urban_covered_indoor_pct",
        "n_key_sites",
        "n_key_sites_covered",
        "n_key_sites_uncertain",
        "n_target_sites",
        "n_target_sites_covered",
        "is_fully_covered",
    ]
    df = df[order]
    for c in df.columns:
        if c.endswith("_km2"):
            df[c] = df[c].astype(float).round(3)
        elif c.endswith("_pct"):
            df[c] = df[c].astype(float).round(2)
        elif c.startswith("n_"):
            df[c] = df[c].astype(int)
    return df


def _gaps(urban_utm_gdf, districts_utm, on_air, sites, settings, crs) -> gpd.GeoDataFrame:
    """Uncovered parts of built-up areas and uncovered key sites, merged and ranked."""
    pieces = []
    if len(urban_utm_gdf):
        urban = shapely.union_all(urban_utm_gdf.geometry.values)
        minx, miny, maxx, maxy = urban.bounds
        if len(on_air):
            r = on_air["radius_m"].to_numpy()
            near = (
                (on_air["x_m"] + r >= minx)
                & (on_air["x_m"] - r <= maxx)
                & (on_air["y_m"] + r >= miny)
                & (on_air["y_m"] - r <= maxy)
            ).to_numpy()
            cover = coverage_union(on_air["x_m"].to_numpy()[near], on_air["y_m"].to_numpy()[near], r[near])
            urban = shapely.difference(urban, cover)
        pieces.append(urban)
    open_sites = _open_sites(sites)
    if len(open_sites):
        pieces.append(
            shapely.union_all(
                shapely.buffer(
                    shapely.points(open_sites["x_m"], open_sites["y_m"]), settings.site_radius_m, quad_segs=16
                )
            )
        )
    if not pieces:
        pieces.append(shapely.Polygon())
    merged = shapely.union_all(pieces)
    parts = [
        (g, district)
        for g, district in _cut_by_district(merged, districts_utm)
        if g.area / 1e6 >= settings.min_gap_km2
        or any(g.intersects(shapely.points(open_sites["x_m"], open_sites["y_m"])))
    ]
    rows = []
    site_pts = shapely.points(open_sites["x_m"].to_numpy(), open_sites["y_m"].to_numpy()) if len(open_sites) else []
    for g, district in parts:
        inside = shapely.contains(g, site_pts) if len(open_sites) else np.zeros(0, dtype=bool)
        hit = open_sites[inside]
        n_target = int(hit["is_target"].sum())
        area = g.area / 1e6
        rows.append(
            {
                "district": district,
                "area_km2": round(area, 4),
                "n_key_sites": len(hit),
                "n_target_sites": n_target,
                "sites": "; ".join(sorted(hit["name_zh"].astype(str))),
                "score": round(
                    area
                    + settings.target_site_weight_km2 * n_target
                    + settings.key_site_weight_km2 * (len(hit) - n_target),
                    4,
                ),
                "geometry": g,
            }
        )
    cols = ["district", "area_km2", "n_key_sites", "n_target_sites", "sites", "score"]
    gdf = (
        gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
        if rows
        else gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    )
    gdf = gdf.sort_values(["score", "area_km2", "district", "sites"], ascending=[False, False, True, True])
    gdf = gdf.reset_index(drop=True)
    gdf.insert(0, "rank", np.arange(1, len(gdf) + 1))
    gdf.insert(0, "gap_id", [f"G{i:03d}" for i in range(1, len(gdf) + 1)])
    return gdf.to_crs(4326)


def _cut_by_district(merged, districts_utm) -> list[tuple]:
    """The polygons of `merged`, each with its district; one across district boundaries cut there into a
    part per district (as the grid's gaps are, `_split_gaps_by_district`); a part in no district is left out."""
    parts = shapely.get_parts(merged)
    if not len(districts_utm):
        return [(g, "") for g in parts]
    names = districts_utm["name_zh"].to_numpy(dtype=object)
    geoms = np.asarray(districts_utm.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    out = []
    for g in parts:
        hits = np.sort(tree.query(g, predicate="intersects"))
        if len(hits) == 1 and shapely.covered_by(g, geoms[hits[0]]):
            out.append((g, names[hits[0]]))
            continue
        for k in hits:
            out += [(p, names[k]) for p in shapely.get_parts(shapely.intersection(g, geoms[k])) if p.area > 0]
        # (a part in no district, a built-up area drawn past the city's edge, is no gap of the city)
    return out


def _demand_in_polygons(gaps_utm: gpd.GeoDataFrame, cell_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of the cells (aligned to multiples of `cell_m`) inside the gap polygons (vector mode), and the
    position of each one's gap in the ranking."""
    dx, dy, dg = [np.zeros(0)], [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
    for rank, g in enumerate(gaps_utm.geometry):
        if g is None or g.is_empty:
            continue
        minx, miny, maxx, maxy = g.bounds
        xs = np.arange(math.floor(minx / cell_m), math.ceil(maxx / cell_m)) * cell_m + cell_m / 2
        ys = np.arange(math.floor(miny / cell_m), math.ceil(maxy / cell_m)) * cell_m + cell_m / 2
        gx, gy = np.meshgrid(xs, ys)
        gx, gy = gx.ravel(), gy.ravel()
        shapely.prepare(g)
        ins = shapely.contains_xy(g, gx, gy)
        dx.append(gx[ins])
        dy.append(gy[ins])
        dg.append(np.full(int(ins.sum()), rank, dtype=np.int64))
    return np.concatenate(dx), np.concatenate(dy), np.concatenate(dg)


def _reach_matrix(cx, cy, cr, px, py) -> tuple[np.ndarray, np.ndarray]:
    """Which demand points lie within each candidate's radius: (indptr, indices) of a sparse candidates x demand
    matrix of ones (compressed rows, each row's columns ascending)."""
    reach = _tree(px, py).query_ball_point(np.column_stack([cx, cy]), cr, return_sorted=True)
    lengths = np.fromiter(map(len, reach), dtype=np.int64, count=len(reach))
    indptr = np.r_[0, np.cumsum(lengths)]
    return indptr, np.fromiter(itertools.chain.from_iterable(reach), dtype=np.int64, count=int(indptr[-1]))


#: Gains closer than this (km2) are a tie: sums of the same cells' areas in another order differ in the last bits.
_GAIN_TIE_KM2 = 1e-9


def _break_tie(tied, cand_gap, point_gap, open_w, picked_in_gap) -> int:
    """Of the candidates `tied` on their gain, the one the reader is served by: in the gap with the fewest
    candidates so far (spread over the gaps, not ten in the first one), then in the gap with the most still-open
    area (the gap table's order: the largest first; a candidate in no gap last), then the first in the grid's order."""
    gap = cand_gap[tied]
    open_by_gap = np.bincount(
        np.where(point_gap >= 0, point_gap, len(picked_in_gap) - 1), weights=open_w, minlength=len(picked_in_gap)
    )
    still_open = np.where(gap >= 0, open_by_gap[gap], -1.0)
    order = np.lexsort((tied, -still_open, picked_in_gap[gap]))
    return int(tied[order[0]])


def _gap_centres(dx, dy, gap_of, on_lattice) -> np.ndarray:
    """For each gap that holds no point of the candidate lattice (`on_lattice`), the position of its demand point
    nearest the mean of its points (the first of equals): a gap smaller than the lattice's spacing, or one that
    falls between its points, still gets a candidate at its own centre. A nearly covered city's few small gaps had
    none, and with no key site open there was no candidate at all (an `argmax` of nothing: a traceback)."""
    group = gap_of + 1  # (-1, demand in no ranked gap, as a group of its own)
    n = int(group.max(initial=-1)) + 1
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    served = np.bincount(group[on_lattice], minlength=n) > 0
    size = np.bincount(group, minlength=n)
    lacking = (size > 0) & ~served
    if not lacking.any():
        return np.zeros(0, dtype=np.int64)
    mx = np.bincount(group, weights=dx, minlength=n) / np.maximum(size, 1)
    my = np.bincount(group, weights=dy, minlength=n) / np.maximum(size, 1)
    at = np.flatnonzero(lacking[group])
    d2 = (dx[at] - mx[group[at]]) ** 2 + (dy[at] - my[group[at]]) ** 2
    order = np.lexsort((at, d2, group[at]))  # per gap, nearest first, then the first point
    first = np.r_[True, group[at][order][1:] != group[at][order][:-1]]
    return at[order][first]


def _candidates(
    demand_xy, demand_cell_m: float, sites, urban_utm, all_xy, districts_utm, settings, crs, radius_m=None, shared=None
) -> pd.DataFrame:
    """Greedy maximum coverage: candidate points every `candidate_spacing_m` among the gap cells
    (`demand_xy`: x, y of cells of `demand_cell_m` and the position of each cell's gap in the ranking) and at each
    uncovered key site; each round takes the candidate that covers the most still-open gap (km2, plus the worth of
    the key sites it reaches). Candidates that gain the same (a national city's every candidate covering a full
    disc of gap) go by `_break_tie`: the gap with the fewest candidates so far, then the most still-open area,
    then the first; they used to be the first of equals in the grid's order, ten in one county on no row of the gap
    table. A candidate's footprint is `radius_m` when the run fixes one, else the link budget's for its area.
    `shared`: the kd-tree (`_StationTree`) of `all_xy`, when the caller has it."""
    cols = [
        "rank",
        "candidate_id",
        "lon",
        "lat",
        "district",
        "area_type",
        "band",
        "radius_m",
        "gain_km2",
        "gain_target_sites",
        "gain_key_sites",
        "gain_score",
        "cumulative_gain_km2",
        "sites",
    ]
    dx, dy = (np.asarray(a, dtype=float) for a in demand_xy[:2])
    gap_of = np.asarray(demand_xy[2], dtype=np.int64) if len(demand_xy) > 2 else np.full(dx.size, -1, np.int64)
    if dx.size == 0:
        return pd.DataFrame(columns=cols)
    open_sites = _open_sites(sites)
    site_w = np.where(open_sites["is_target"], settings.target_site_weight_km2, settings.key_site_weight_km2)
    px = np.concatenate([dx, open_sites["x_m"].to_numpy()])
    py = np.concatenate([dy, open_sites["y_m"].to_numpy()])
    open_w = np.concatenate([np.full(dx.size, demand_cell_m**2 / 1e6), site_w])
    is_site = np.r_[np.zeros(dx.size, dtype=bool), np.ones(len(open_sites), dtype=bool)]
    step = max(1, int(round(settings.candidate_spacing_m / demand_cell_m)))
    keep = (np.floor(dx / demand_cell_m) % step == 0) & (np.floor(dy / demand_cell_m) % step == 0)
    keep[_gap_centres(dx, dy, gap_of, keep)] = True
    cx = np.concatenate([dx[keep], open_sites["x_m"].to_numpy()])
    cy = np.concatenate([dy[keep], open_sites["y_m"].to_numpy()])
    # each candidate's gap (a key site's: none, -1) and each demand point's, a key site's none
    cand_gap = np.r_[gap_of[keep], np.full(len(open_sites), -1, dtype=np.int64)]
    point_gap = np.r_[gap_of, np.full(len(open_sites), -1, dtype=np.int64)]
    n_gaps = int(max(gap_of.max(initial=-1), -1)) + 1
    picked_in_gap = np.zeros(n_gaps + 1, dtype=np.int64)  # (the last slot: no gap)
    kind = classify_area_type(cx, cy, urban_utm, all_xy[0], all_xy[1], settings, shared)
    if radius_m is not None:
        # the run's radius assumption holds for the sites it proposes too (the link budget drew 512-852 m
        # footprints in a --radius-m 1000 run, so a candidate's gain was not the run's measure)
        cr = np.full(cx.size, float(radius_m))
    else:
        radius_of = {k: footprint_radius_m(settings.candidate_band, k, "outdoor", settings) for k in AREA_TYPES}
        cr = np.array([radius_of[k] for k in kind], dtype=float)
    indptr, indices = _reach_matrix(cx, cy, cr, px, py)
    row_of = np.repeat(np.arange(cx.size), np.diff(indptr))
    names = np.r_[np.full(dx.size, "", dtype=object), open_sites["name_zh"].astype(str).to_numpy()]
    targets = np.r_[np.zeros(dx.size, dtype=bool), open_sites["is_target"].to_numpy(dtype=bool)]
    picks = []
    for _ in range(settings.n_candidates):
        # (the sums of a sparse matrix product, in the same order: each row's columns ascending)
        gains = np.bincount(row_of, weights=open_w[indices], minlength=cx.size)
        best = int(np.argmax(gains))  # first of equals: deterministic
        if gains[best] <= 0:
            break
        tied = np.flatnonzero(gains >= gains[best] - _GAIN_TIE_KM2)
        if tied.size > 1:
            best = _break_tie(tied, cand_gap, point_gap, open_w, picked_in_gap)
        picked_in_gap[cand_gap[best]] += 1
        idx = indices[indptr[best] : indptr[best + 1]]
        idx = idx[open_w[idx] > 0]
        picks.append((best, float(gains[best]), float(open_w[idx][~is_site[idx]].sum()), idx[is_site[idx]]))
        open_w[idx] = 0.0
    if not picks:
        return pd.DataFrame(columns=cols)
    best = np.array([p[0] for p in picks])
    lon, lat = _to_wgs84(cx[best], cy[best], crs)
    district = _nearest_district(districts_utm, cx[best], cy[best])
    cumulative_km2 = np.cumsum([p[2] for p in picks])
    rows = [
        {
            "rank": k + 1,
            "candidate_id": f"C{k + 1:02d}",
            "lon": round(float(lon[k]), 6),
            "lat": round(float(lat[k]), 6),
            "district": district[k],
            "area_type": kind[b],
            "band": settings.candidate_band,
            "radius_m": cr[b],
            "gain_km2": round(p[2], 4),
            "gain_target_sites": int(targets[p[3]].sum()),
            "gain_key_sites": int(p[3].size),
            "gain_score": round(p[1], 4),
            "cumulative_gain_km2": round(float(cumulative_km2[k]), 4),
            "sites": "; ".join(sorted(names[p[3]])),
        }
        for k, (b, p) in enumerate(zip(best, picks))
    ]
    return pd.DataFrame(rows, columns=cols)


#: Cell of the demand points inside vector gaps (the grid's own cells in grid mode).
_VECTOR_DEMAND_CELL_M = 50.0


def _grid_bounds(districts_utm, urban_utm, sites: pd.DataFrame, settings) -> tuple[float, float, float, float]:
    """The grid's extent: the districts, the built-up areas and the disc of every key site in the city (one
    placed far outside by a typo would stretch the grid over the distance: it is listed, not served)."""
    boxes = [districts_utm.total_bounds, urban_utm.total_bounds]
    if "is_in_city" in sites:
        sites = sites[sites["is_in_city"].to_numpy(bool)]
    if len(sites):
        pad = settings.site_radius_m + 4 * settings.cell_m
        boxes.append(
            [sites["x_m"].min() - pad, sites["y_m"].min() - pad, sites["x_m"].max() + pad, sites["y_m"].max() + pad]
        )
    b = np.array([bb for bb in boxes if np.isfinite(bb).all()], dtype=float).reshape(-1, 4)
    return (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()) if len(b) else None


def _cover_and_gaps(mode, on_air, districts_utm, urban_utm, site_tab, settings, crs):
    """Covered area (outdoor, indoor), ranked gaps and the gap cells' centres: all from one grid in
    grid mode; from exact unions (and cells inside the gap polygons) in vector mode."""
    if mode == "grid":
        bounds = _grid_bounds(districts_utm, urban_utm, site_tab, settings)
        cover_out = rasterize_coverage(on_air["x_m"], on_air["y_m"], on_air["radius_m"], settings.cell_m, bounds, crs)
        cover_in = rasterize_coverage(
            on_air["x_m"], on_air["y_m"], on_air["radius_indoor_m"], settings.cell_m, bounds, crs, like=cover_out
        )
        urban_mask = rasterize_polygons(urban_utm.geometry.values, cover_out)
        gaps, demand = _grid_gaps(urban_mask, cover_out, districts_utm, site_tab, settings, crs)
        return cover_out, cover_in, gaps, demand
    cover_out = _VectorCover(coverage_union(on_air["x_m"], on_air["y_m"], on_air["radius_m"]))
    cover_in = _VectorCover(coverage_union(on_air["x_m"], on_air["y_m"], on_air["radius_indoor_m"]))
    gaps = _gaps(urban_utm, districts_utm, on_air, site_tab, settings, crs)
    return cover_out, cover_in, gaps, _demand_in_polygons(gaps.to_crs(crs), _VECTOR_DEMAND_CELL_M)


#: Smallest footprint radius, in grid cells, whose covered area the grid gives to ~0.1 % (a union of discs of 1.5-8
#: cells within 0.07 % of a Monte-Carlo union; of 0.5-0.8 cells off by 0.5-1 %).
_MIN_RADIUS_CELLS = 1.5


def _small_radius_notes(on_air: pd.DataFrame, settings, mode: str) -> list[str]:
    """A note when footprints (outdoor or indoor) are smaller than the grid measures well: the covered area of discs
    of under 1.5 cells is off by up to ~1 % (the user can set a finer [coverage] cell_m)."""
    if mode != "grid" or not len(on_air):
        return []
    radii = np.r_[on_air["radius_m"].to_numpy(dtype=float), on_air["radius_indoor_m"].to_numpy(dtype=float)]
    radii = radii[np.isfinite(radii) & (radii > 0)]
    limit = _MIN_RADIUS_CELLS * settings.cell_m
    small = radii < limit
    if not small.any():
        return []
    finer = max(1.0, math.floor(radii.min() / _MIN_RADIUS_CELLS))
    return [
        f"{int(small.sum()):,} footprint radii (outdoor and indoor) under {limit:g} m, {_MIN_RADIUS_CELLS:g} cells of "
        f"the {settings.cell_m:g} m grid (the smallest {radii.min():g} m): their covered area may be off by up to "
        f"~1 %; a [coverage] cell_m of {finer:g} m in city.toml measures them"
    ]


def assess_coverage(
    stations: pd.DataFrame,
    city: City | str,
    as_of=None,
    radius_m: float | None = None,
    mode: str = "grid",
    settings: CoverageSettings | None = None,
    districts: gpd.GeoDataFrame | None = None,
    urban_areas: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
) -> CoverageResult:
    """Coverage of a city's districts, built-up areas and key sites by the stations on air at
    `as_of` (all with an on-air date when None): per-district table, per-site table, ranked gaps
    and greedy candidate sites. `mode` "grid" (cells of settings.cell_m) or "vector" (exact union).
    The city's layers are read with `analysis.geo` unless given (EPSG:4326 GeoDataFrames)."""
    city = resolve_city(city)
    settings = settings or CoverageSettings.from_city(city)
    if mode not in ("grid", "vector"):
        raise BadInputError(f"mode must be 'grid' or 'vector', got {mode!r}")
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else None
    districts = geo.read_districts(city) if districts is None else districts.to_crs(4326)
    urban_areas = geo.read_urban_areas(city) if urban_areas is None else urban_areas.to_crs(4326)
    sites = read_sites(city) if sites is None else sites
    _check_stations(stations)
    check_radius_column(stations)  # (before rows without coordinates are dropped: its row is the caller's)
    stations = stations.reset_index(drop=True)
    finite = np.isfinite(pd.to_numeric(stations["lon"], errors="coerce")) & np.isfinite(
        pd.to_numeric(stations["lat"], errors="coerce")
    )
    finite = finite.to_numpy()
    # (every station placed, as cleaned ones are: no copy of the whole table's texts)
    stations = stations.reset_index(drop=True) if finite.all() else stations[finite].reset_index(drop=True)
    ref = (
        pd.concat(
            [
                stations[["lon", "lat"]],
                pd.DataFrame({"lon": districts.geometry.centroid.x, "lat": districts.geometry.centroid.y}),
            ]
        )
        if len(stations) == 0
        else stations
    )
    crs = geo.utm_crs_for(ref["lon"], ref["lat"])
    districts_utm = districts.to_crs(crs)
    urban_utm = urban_areas.to_crs(crs)
    trees = []  # (the stations' kd-tree, shared by the neighbour questions)
    fp = station_footprints(stations, crs, list(urban_utm.geometry.values), settings, radius_m, trees=trees)
    fp["district_calc"] = geo.assign_district(fp["lon"], fp["lat"], districts) if len(fp) else []
    fp["is_on_air_at_as_of"] = on_air_at(fp, as_of_ts)
    is_on_air = fp["is_on_air_at_as_of"].to_numpy()
    # (every station on air, as in a run of every dated station: no copy of the whole table's texts)
    on_air = fp.reset_index(drop=True) if is_on_air.all() else fp[is_on_air].reset_index(drop=True)

    # (the key sites' nearest station from the tree of every station when every station is on air)
    site_tab = _site_table(sites, on_air, crs, settings, as_of_ts, districts, trees[0] if is_on_air.all() else None)
    cover_out, cover_in, gaps, demand = _cover_and_gaps(mode, on_air, districts_utm, urban_utm, site_tab, settings, crs)
    names_en = dict(zip(districts["name_zh"], districts["name_en"]))
    by_district = _district_table(districts_utm, urban_utm, cover_out, cover_in, on_air, site_tab, names_en, settings)
    by_district.insert(2, "as_of", as_of_ts.date().isoformat() if as_of_ts is not None else "")
    by_district.insert(3, "mode", mode)
    candidates = _candidates(
        demand,
        settings.cell_m if mode == "grid" else _VECTOR_DEMAND_CELL_M,
        site_tab,
        list(urban_utm.geometry.values),
        (fp["x_m"].to_numpy(), fp["y_m"].to_numpy()),
        districts_utm,
        settings,
        crs,
        radius_m,
        trees[0],
    )
    sites_out = site_tab.drop(columns=["x_m", "y_m"]).sort_values("site_id", kind="stable").reset_index(drop=True)
    notes = [
        f"key site {i} ({name}): {note}"
        for i, name, note in sites_out[["site_id", "name_zh", "district_note"]].to_numpy()
        if note
    ]
    notes += _small_radius_notes(on_air, settings, mode)
    sites_out["rating_date"] = pd.to_datetime(sites_out["rating_date"]).dt.strftime("%Y-%m-%d").fillna("")
    return CoverageResult(
        as_of=as_of_ts,
        crs=crs,
        settings=settings,
        mode=mode,
        by_district=by_district,
        sites=sites_out,
        gaps=gaps,
        candidates=candidates,
        stations=fp,
        districts=districts,
        urban_areas=urban_areas,
        city_name=city.name_zh,
        notes=notes,
    )


# --- writing --------------------------------------------------------------------------------------
def _round_geometry(geom, ndigits: int = 6):
    return shapely.transform(geom, lambda xy: np.round(xy, ndigits))


def write_gaps_geojson(gaps: gpd.GeoDataFrame, path: Path) -> Path:
    """GeoJSON with coordinates rounded to 1e-6 degree and keys in a fixed order (byte-stable)."""
    features = []
    for _, row in gaps.iterrows():
        props = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items() if k != "geometry"}
        # gaps ranked below MAX_GAP_POLYGONS have no outline: a null geometry, as GeoJSON allows
        geometry = None if row.geometry is None else shapely.geometry.mapping(_round_geometry(row.geometry))
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def write_coverage(
    result: CoverageResult, out: str | Path, with_map: bool = True, basemap: str | None = None
) -> list[Path]:
    """Write coverage_by_district.csv, site_coverage.csv, gaps.geojson, candidates.csv and (with
    `with_map`) coverage_map.html into `out`."""
    from analysis.files import write_csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "coverage_by_district.csv", out / "site_coverage.csv", out / "gaps.geojson", out / "candidates.csv"]
    # (no BOM: these tables were always plain UTF-8, and their readers may not expect one)
    write_csv(result.by_district, paths[0], bom=False)
    write_csv(result.sites, paths[1], bom=False)
    write_gaps_geojson(result.gaps, paths[2])
    write_csv(result.candidates, paths[3], bom=False)
    if with_map:
        from analysis.maps import coverage_map, save_map

        paths.append(save_map(coverage_map(result, basemap=basemap), out / "coverage_map.html"))
    return paths


def read_coverage_stations(path: str | Path) -> pd.DataFrame:
    """The columns of a cleaned stations.parquet that coverage uses, without point geometry (and
    without importing cleaning, which the command does not need)."""
    from analysis.files import read_station_columns

    stations = read_station_columns(path, STATION_COLUMNS, OPTIONAL_STATION_COLUMNS)
    check_radius_column(stations, path)
    return stations


def coverage_to_folder(
    stations: str | Path | pd.DataFrame,
    city: City | str,
    out: str | Path,
    as_of=None,
    radius_m: float | None = None,
    mode: str = "grid",
    with_map: bool = True,
    basemap: str | None = None,
    stamp: dict | None = None,
) -> tuple[CoverageResult, list[Path]]:
    """The coverage stage, as the command line, the notebooks and the report run it: assess the
    cleaned `stations` (a path or a frame) of `city` on `as_of` (None: every dated station) and write
    the tables, gaps.geojson and (with `with_map`) coverage_map.html into `out`, each file atomically
    and a stage.json (with `stamp`) last. Returns the result (the tables in memory, for callers that
    want them as well as the files) and the files written. One progress step each for the stations,
    the assessment and the files: a national run takes about a minute."""
    from analysis.catalog import publish_stage, stamp_date
    from analysis.progress import task

    if not isinstance(stations, pd.DataFrame):
        stations = read_coverage_stations(stations)
    city = resolve_city(city)
    with task("coverage", 3) as progress:
        progress.advance(note=f"{len(stations):,} stations read")
        result = assess_coverage(stations, city, as_of=as_of, radius_m=radius_m, mode=mode)
        progress.advance(note=f"assessed: {len(result.gaps):,} gaps, {len(result.candidates)} candidates")
        basemap = basemap or city.basemap.get("default")
        written = publish_stage(
            "coverage",
            out,
            lambda tmp: write_coverage(result, tmp, with_map=with_map, basemap=basemap),
            {
                **(stamp or {}),
                "as_of": stamp_date(as_of),
                "mode": mode,
                "basemap": basemap if with_map else None,
                "full_coverage_pct": result.settings.full_coverage_pct,
                "notes": result.notes,
            },
        )
        progress.advance(note=f"written to {out}")
    return result, written
