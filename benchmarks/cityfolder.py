"""A city-sized raw input folder of N stations for the `report` command rows: what a city's bureau
would hand the package (city.toml with targets, district and built-up-area boundaries, key sites, one
export per operator and the tower company's tracking sheet of planned sites), written once per N.

The boundaries, key sites, season and supervision settings are a real city's (Karamay's bundled
folder by default); the stations are synthetic and seeded: half around the built-up areas, half spread
over the districts, every one inside a district polygon. The operator files imitate the bundled ones
(Chinese or English headers, UTF-8 with BOM or GB18030, four date forms, GCJ-02 rows named as such,
1 % repeated rows, 0.1 % unusable coordinates); the tracking sheet lists the planned sites by stage
with their blockers and stage dates, and a tenth of the year's builds again (merged by site code).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import synth
from analysis import geo
from analysis.config import RAW_DIR

#: The report's date: the stations' files were received that day, and the report is as of it.
EXTRACT = dt.date(2021, 12, 31)
#: Stations written per chunk (memory stays flat at 4.25 M).
CHUNK = 500_000
#: Operator shares of the stations, and each operator's file: name, encoding, header and date forms.
OPERATOR_SHARE = {"CMCC": 0.42, "CTCC": 0.25, "CUCC": 0.25, "CBN": 0.08}
PIPELINE_SHARE = 0.05  # planned sites still in the pipeline, against the stations on air
PIPELINE_STAGES = ("planned", "site_selection", "site_access", "construction", "power_hookup")
_FILES = {
    "CMCC": ("中国移动_5G基站开通清单.csv", "utf-8-sig"),
    "CTCC": ("电信5G站点台账.csv", "gb18030"),
    "CUCC": ("联通5G基站清单.csv", "utf-8"),
    "CBN": ("广电700M基站.csv", "utf-8-sig"),
}
_TRACKER = "铁塔_5G站址建设跟踪表.csv"
_TRACKER_DATE_COLUMNS = ("立项日期", "选址完成日期", "进场日期", "开工日期", "电源接入日期", "开通日期")
_OP_ZH = {"CMCC": "移动", "CTCC": "电信", "CUCC": "联通", "CBN": "广电"}


def city_folder(root: Path, n: int, base: str = "karamay", seed: int = 17) -> Path:
    """`root/<base>_<n>/`: the city folder of n stations on the base city's boundaries (written once;
    a folder without its `.complete` mark is written again)."""
    folder = Path(root) / f"{base}_{n}"
    if (folder / ".complete").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "stations").mkdir(parents=True)
    src = RAW_DIR / base if not Path(base).is_dir() else Path(base)
    for name in ("districts.geojson", "urban_areas.geojson", "sites.csv"):
        shutil.copyfile(src / name, folder / name)
    settings = tomllib.loads((src / "city.toml").read_text(encoding="utf-8"))
    districts = gpd.read_file(folder / "districts.geojson")
    urban = gpd.read_file(folder / "urban_areas.geojson")
    rng = np.random.default_rng(seed)
    on_air = write_station_files(folder / "stations", n, districts, urban, rng)
    n_pipe = max(20, int(n * PIPELINE_SHARE))
    write_tracker(folder / "stations" / _TRACKER, on_air, n_pipe, districts, urban, rng, settings["city"]["name_zh"])
    (folder / "city.toml").write_text(city_toml(settings, n), encoding="utf-8")
    (folder / ".complete").write_text("", encoding="utf-8")
    return folder


# --- city.toml ------------------------------------------------------------------------------------
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def _toml_table(header: str, table: dict) -> list[str]:
    return [header, *(f"{k} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)), ""]


def city_toml(settings: dict, n: int) -> str:
    """The base city's settings with its name marked as a benchmark, the files received on EXTRACT, and
    targets scaled to n stations (end of 2021: about what is on air; 2025: 1.5 times it)."""
    city = dict(settings["city"])
    city.update(
        name_zh=f"{city['name_zh']}（基准测试 {n:,} 站）",
        name_en=f"{city.get('name_en', '')} (benchmark, {n:,} stations)",
        records_received=EXTRACT,
        article_date=EXTRACT,
    )
    lines = [f"# Benchmark city of {n:,} synthetic stations, written by benchmarks/cityfolder.py. Not real data.", ""]
    lines += _toml_table("[city]", city)
    lines += _toml_table("[files]", {**settings["files"], "stations": "stations"})
    targets = [
        (dt.date(2020, 12, 31), max(1, round(0.45 * n)), "reported", "2020年底已建成开通", "On air at the end of 2020"),
        (dt.date(2021, 12, 31), max(1, round(1.02 * n)), "target", "2021年计划", "2021 plan"),
        (dt.date(2025, 12, 31), max(1, round(1.5 * n)), "target", "“十四五”计划总数", "14th Five-Year Plan total"),
    ]
    for day, count, kind, zh, en in targets:
        target = {"date": day, "on_air": count, "kind": kind, "label_zh": zh, "label_en": en}
        lines += _toml_table("[[targets]]", {**target, "source": "benchmark: scaled to the stations written"})
    for d in settings["districts"]:
        lines += _toml_table("[[districts]]", d)
    for key in ("forecast", "basemap"):
        if key in settings:
            lines += _toml_table(f"[{key}]", settings[key])
    for key, table in settings.get("taskforce", {}).items():
        lines += _toml_table(f"[taskforce.{key}]", table)
    return "\n".join(lines)


# --- where and when -------------------------------------------------------------------------------
def place_stations(n: int, districts: gpd.GeoDataFrame, urban: gpd.GeoDataFrame, rng) -> pd.DataFrame:
    """n points inside the districts: half around the built-up areas (wider as n grows), half uniform;
    with the district each falls in."""
    x0, y0, x1, y1 = districts.total_bounds
    centre = shapely.centroid(urban.geometry.values)  # degrees are fine for a town's middle
    cx, cy = shapely.get_x(centre), shapely.get_y(centre)
    km = np.sqrt(urban.to_crs(urban.estimate_utm_crs()).area.to_numpy() / 1e6)
    spread_km = km / 2 * max(1.0, (n / 1e4) ** 0.25)
    lon, lat, name = [], [], []
    need = n
    while need > 0:
        m = int(need * 1.5) + 100
        near = rng.random(m) < 0.5
        k = rng.integers(0, len(cx), m)
        lat0 = cy[k]
        gx = cx[k] + rng.normal(0, 1, m) * spread_km[k] / (111.32 * np.cos(np.radians(lat0)))
        gy = lat0 + rng.normal(0, 1, m) * spread_km[k] / 110.57
        px = np.where(near, gx, rng.uniform(x0, x1, m)).round(6)
        py = np.where(near, gy, rng.uniform(y0, y1, m)).round(6)
        d = geo.assign_district(px, py, districts)
        ok = pd.notna(d)
        lon.append(px[ok][:need])
        lat.append(py[ok][:need])
        name.append(np.asarray(d[ok][:need], dtype=object))
        need -= len(lon[-1])
    return pd.DataFrame({"lon": np.concatenate(lon), "lat": np.concatenate(lat), "district": np.concatenate(name)})


def on_air_dates(n: int, rng, start: dt.date = dt.date(2019, 12, 16), end: dt.date = EXTRACT) -> pd.Series:
    """n dates from `start` to `end`, the pace rising, the frozen months (December to February) at a
    fifth of it."""
    days = pd.date_range(start, end, freq="D")
    t = np.arange(len(days), dtype=float)
    weight = (1 + t / len(days)) * np.where(days.month.isin([12, 1, 2]), 0.2, 1.0)
    pick = rng.choice(len(days), size=n, p=weight / weight.sum())
    return pd.Series(days[np.sort(pick)])


# --- the operator files ---------------------------------------------------------------------------
def _codes(adcode: np.ndarray, day: pd.Series, ids: np.ndarray) -> np.ndarray:
    return adcode + day.dt.strftime("%y").to_numpy(dtype=object) + pd.Series(ids).astype(str).str.zfill(7).to_numpy()


def _names(district: np.ndarray, rng) -> np.ndarray:
    roads = np.array([r for layout in synth.DISTRICT_LAYOUT.values() for r in layout["roads"]], dtype=object)
    number = pd.Series(rng.integers(1, 300, len(district))).astype(str).to_numpy(dtype=object)
    kind = np.where(rng.random(len(district)) < 0.8, "号宏站", "号室分").astype(object)
    return district + roads[rng.integers(0, len(roads), len(district))] + number + kind


def _date_texts(day: pd.Series, rng) -> np.ndarray:
    style = rng.integers(0, 4, len(day))
    return np.select(
        [style == 0, style == 1, style == 2],
        [day.dt.strftime("%Y-%m-%d"), day.dt.strftime("%Y/%-m/%-d"), day.dt.strftime("%Y%m%d")],
        default=day.dt.strftime("%Y年%-m月%-d日"),
    )


def _operator_frame(op: str, c: pd.DataFrame, rng) -> pd.DataFrame:
    """One operator's rows in its own file's layout."""
    n = len(c)
    lon = c["lon"].map("{:.6f}".format).to_numpy(dtype=object)
    lat = c["lat"].map("{:.6f}".format).to_numpy(dtype=object)
    lon[rng.random(n) < 0.001] = "待定"
    dates = _date_texts(c["on_air_date"], rng)
    if op == "CUCC":  # English headers; a tenth of the rows copied from Amap (GCJ-02) and named so
        gcj = rng.random(n) < 0.1
        gx, gy = geo.wgs84_to_gcj02(c["lon"].to_numpy()[gcj], c["lat"].to_numpy()[gcj])
        lon[gcj], lat[gcj] = [f"{v:.6f}" for v in gx], [f"{v:.6f}" for v in gy]
        return pd.DataFrame(
            {
                "site_id": c["code"],
                "site_name": c["name"],
                "operator": "China Unicom",
                "district": c["district"],
                "longitude": lon,
                "latitude": lat,
                "band": "n78",
                "on_air_date": c["on_air_date"].dt.strftime("%Y-%m-%d"),
                "status": "on air",
                "crs": np.where(gcj, "高德", "WGS84"),
            }
        )
    band = {"CMCC": np.where(rng.random(n) < 0.8, "2.6GHz", "4.9GHz"), "CTCC": "3500M", "CBN": "700M"}[op]
    return pd.DataFrame(
        {
            "站址编码" if op != "CTCC" else "站号": c["code"],
            "基站名称" if op != "CTCC" else "站名": c["name"],
            "区县": c["district"],
            "经度": lon,
            "纬度": lat,
            "频段" if op != "CTCC" else "频段(MHz)": band,
            "开通时间" if op == "CMCC" else "开通日期": dates,
            "状态" if op != "CTCC" else "建设状态": rng.choice(["已开通", "开通", "在网"], n),
        }
    )


def write_station_files(folder: Path, n: int, districts, urban, rng) -> pd.DataFrame:
    """The operators' files of n stations, in chunks; returns a 10 % sample of the stations of the
    last year (the builds the tower company's sheet lists again)."""
    adcodes = dict(zip(districts["name_zh"], districts.get("adcode", pd.Series(["650000"] * len(districts)))))
    ops = np.array(list(OPERATOR_SHARE))
    days = on_air_dates(n, rng)
    sample = []
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        c = place_stations(m, districts, urban, rng)
        c["on_air_date"] = days.iloc[start : start + m].reset_index(drop=True)
        c["op"] = ops[rng.choice(len(ops), m, p=list(OPERATOR_SHARE.values()))]
        adcode = c["district"].map(adcodes).astype(str).to_numpy(dtype=object)
        c["code"] = _codes(adcode, c["on_air_date"], np.arange(start, start + m))
        c["name"] = _names(c["district"].to_numpy(dtype=object), rng)
        for op, (name, encoding) in _FILES.items():
            frame = _operator_frame(op, c[c["op"] == op].reset_index(drop=True), rng)
            frame = pd.concat([frame, frame[rng.random(len(frame)) < 0.01]]).sort_index(kind="stable")
            with open(folder / name, "a", encoding=encoding, newline="") as fh:
                frame.to_csv(fh, index=False, header=start == 0, lineterminator="\n")
        recent = c[(c["on_air_date"].dt.year == EXTRACT.year) & (rng.random(m) < 0.1)]
        sample.append(recent[["code", "name", "op", "district", "lon", "lat", "on_air_date"]])
    return pd.concat(sample, ignore_index=True)


# --- the tower company's tracking sheet -----------------------------------------------------------
def _stage_walk(reached_at: pd.Series, last: np.ndarray, rng) -> dict[str, pd.Series]:
    """Dates each stage was reached, walking back from `reached_at` (the date of stage index `last`)."""
    stages = [*PIPELINE_STAGES, "on_air"]
    out = {s: pd.Series(pd.NaT, index=reached_at.index) for s in stages}
    t = reached_at.copy()
    for i in range(len(stages) - 1, -1, -1):
        here = last >= i
        out[stages[i]] = t.where(here)
        if i:
            lo, hi = synth.STAGE_DAYS[stages[i - 1]]
            t = t - pd.to_timedelta(np.where(last > i - 1, rng.integers(lo, hi, len(t)), 0), unit="D")
    return out


def write_tracker(path: Path, on_air: pd.DataFrame, n_pipe: int, districts, urban, rng, city_zh: str = "") -> None:
    """Planned sites by the stage they have reached on EXTRACT (with their blockers; a blocked site
    has waited long), and the sampled builds of the year, every stage dated."""
    pipe = place_stations(n_pipe, districts, urban, rng)
    stage = rng.integers(0, len(PIPELINE_STAGES), n_pipe)
    blocked = rng.random(n_pipe) < 0.4
    hi = np.array([synth.STAGE_DAYS[s][1] for s in PIPELINE_STAGES])[stage]
    waited = np.where(blocked, rng.integers(hi, 3 * hi + 30), rng.integers(1, hi))
    pipe["reached"] = pd.Timestamp(EXTRACT) - pd.to_timedelta(waited, unit="D")
    pipe["last"] = stage
    pipe["op"] = rng.choice(list(OPERATOR_SHARE), n_pipe)
    pipe["code"] = "P" + pd.Series(np.arange(n_pipe)).astype(str).str.zfill(8)
    pipe["name"] = _names(pipe["district"].to_numpy(dtype=object), rng)
    blocker_of = {s: [k for k in synth.STAGE_BLOCKERS[s] if k] for s in PIPELINE_STAGES}
    pipe["blocker"] = [
        rng.choice(synth.BLOCKER_TEXT[rng.choice(blocker_of[PIPELINE_STAGES[s]])]) if b else ""
        for s, b in zip(stage, blocked)
    ]
    pipe["stage_text"] = [rng.choice(synth.STAGE_TEXT[PIPELINE_STAGES[s]]) for s in stage]
    built = on_air.rename(columns={"on_air_date": "reached"}).assign(
        last=len(PIPELINE_STAGES), blocker="", stage_text=rng.choice(synth.STAGE_TEXT["on_air"], len(on_air))
    )
    rows = pd.concat([built, pipe], ignore_index=True)
    dates = _stage_walk(rows["reached"], rows["last"].to_numpy(), rng)
    frame = pd.DataFrame(
        {
            "序号": np.arange(1, len(rows) + 1),
            "站址编码": rows["code"],
            "站址名称": rows["name"],
            "需求运营商": rows["op"].map(_OP_ZH),
            "区县": rows["district"],
            "经度": rows["lon"].map("{:.6f}".format),
            "纬度": rows["lat"].map("{:.6f}".format),
            "当前阶段": rows["stage_text"],
            "卡点问题": rows["blocker"],
            **{col: dates[s].dt.strftime("%Y/%-m/%-d").fillna("") for col, s in zip(_TRACKER_DATE_COLUMNS, dates)},
        }
    )
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        fh.write(f"{city_zh}5G基站建设推进专班 站址建设跟踪表（合成数据，基准测试）\n\n")
        frame.to_csv(fh, index=False, lineterminator="\n")
