"""Synthetic station records: the bundled Karamay sample and national-scale benchmark files.

No per-station list of Karamay is public, so `write_city_reports` imitates what the tower company
and the four operators send, mess included, from a seeded truth (`generate_truth`) calibrated to
the source article: the first stations on air in December 2019, exactly 216 on air by 2020-12-31,
a winter slowdown, records through 2021 and a pipeline of planned sites with stages and blockers.
Tests clean these files and compare with the truth. Everything here is invented; nothing is real.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import geo
from analysis.clean.sources import OPENCELLID_COLUMNS
from analysis.config import City, load_city

DEFAULT_SEED = 20210322
#: The day the synthetic files were "received": all records describe the network as of then.
EXTRACT_DATE = dt.date(2022, 1, 10)

#: Stations first on air per month. 6 + 210 = 216 by 2020-12-31 (the article); the ground
#: freezes from November to March in northern Xinjiang, so little is built then (2020-02 is
#: also the first COVID-19 lockdown). 2021 adds 232, just above the plan's 230.
MONTHLY_ON_AIR = {
    "2019-12": 6,
    "2020-01": 4,
    "2020-02": 0,
    "2020-03": 3,
    "2020-04": 12,
    "2020-05": 22,
    "2020-06": 28,
    "2020-07": 30,
    "2020-08": 32,
    "2020-09": 30,
    "2020-10": 26,
    "2020-11": 15,
    "2020-12": 8,
    "2021-01": 3,
    "2021-02": 1,
    "2021-03": 6,
    "2021-04": 18,
    "2021-05": 28,
    "2021-06": 32,
    "2021-07": 34,
    "2021-08": 33,
    "2021-09": 30,
    "2021-10": 26,
    "2021-11": 14,
    "2021-12": 7,
}
#: Planned sites still in the pipeline on EXTRACT_DATE, by the stage they have reached.
PIPELINE_AT_EXTRACT = {"planned": 12, "site_selection": 15, "site_access": 14, "construction": 16, "power_hookup": 13}
#: What holds back a site waiting in each stage (the article's 选址、进场、建设、电源接入、高转供电价),
#: with weights; None is a site that is simply in progress.
STAGE_BLOCKERS = {
    "planned": {None: 0.75, "site_selection": 0.15, "other": 0.10},
    "site_selection": {"site_selection": 0.75, "other": 0.10, None: 0.15},
    "site_access": {"site_access": 0.80, "other": 0.05, None: 0.15},
    "construction": {"construction": 0.55, "site_access": 0.15, None: 0.30},
    "power_hookup": {"power_hookup": 0.50, "power_price": 0.35, None: 0.15},
}
#: Days a site normally spends in a stage before reaching the next one, (low, high).
STAGE_DAYS = {
    "planned": (15, 45),
    "site_selection": (20, 70),
    "site_access": (10, 60),
    "construction": (15, 45),
    "power_hookup": (7, 40),
}
#: Construction that starts in the frozen months (November to February) waits for the thaw.
WINTER_MONTHS = (11, 12, 1, 2)
WINTER_EXTRA_DAYS = (30, 75)
BLOCKER_TEXT = {
    "site_selection": ["选址难", "选址", "站址未落实"],
    "site_access": ["进场难", "物业阻挠进场", "业主不同意进场"],
    "construction": ["施工受阻", "建设"],
    "power_hookup": ["电源接入", "外电引入困难", "待引电"],
    "power_price": ["高转供电价", "转供电电价高"],
    "other": ["审批", "资金未到位"],
}
STAGE_TEXT = {
    "planned": ["规划", "立项"],
    "site_selection": ["选址", "选址中"],
    "site_access": ["进场", "待进场"],
    "construction": ["在建", "建设中"],
    "power_hookup": ["电源接入", "待引电"],
    "on_air": ["已开通", "开通"],
}

#: Where the stations are: district, centre (WGS-84), spread in km; early years stay in the towns.
DISTRICT_LAYOUT = {
    "克拉玛依区": {
        "adcode": "650203",
        "centre": (84.889, 45.585),
        "sd_km": (2.2, 4.0),
        "share": (0.64, 0.55),
        "roads": [
            "准噶尔路",
            "友谊路",
            "昆仑路",
            "迎宾大道",
            "世纪大道",
            "南新路",
            "长征路",
            "天山路",
            "塔河路",
            "油建路",
            "胜利路",
            "新村路",
            "阿依库勒路",
            "跃进路",
            "银河路",
        ],
    },
    "独山子区": {
        "adcode": "650202",
        "centre": (84.886, 44.328),
        "sd_km": (1.2, 2.2),
        "share": (0.15, 0.17),
        "roads": ["北京路", "大庆路", "天山路", "乌鲁木齐路", "独山子大道", "金山路", "中心路"],
    },
    "白碱滩区": {
        "adcode": "650204",
        "centre": (85.131, 45.690),
        "sd_km": (1.1, 2.0),
        "share": (0.13, 0.14),
        "roads": ["中兴路", "门户路", "平北路", "光明路", "建设路", "创业路"],
    },
    "乌尔禾区": {
        "adcode": "650205",
        "centre": (85.693, 46.090),
        "sd_km": (0.9, 3.5),
        "share": (0.08, 0.14),
        "roads": ["柳树街", "文化路", "魔鬼城路", "乌尔禾路", "白杨路"],
    },
}
OPERATOR_SHARE_2020 = {"CMCC": 0.44, "CTCC": 0.28, "CUCC": 0.28}
OPERATOR_SHARE_2021 = {"CMCC": 0.40, "CTCC": 0.23, "CUCC": 0.23, "CBN": 0.14}
BAND_OF = {"CMCC": ("n41", "n79"), "CTCC": ("n78",), "CUCC": ("n78",), "CBN": ("n28",)}
MNC_OF = {"CMCC": 0, "CUCC": 1, "CTCC": 11, "CBN": 15}
MIN_SPACING_M = 150.0


@dataclass
class Truth:
    """The stations behind the synthetic files, one row each, as cleaning should recover them."""

    stations: pd.DataFrame
    seed: int


def _km_to_deg(dx_km: np.ndarray, dy_km: np.ndarray, lat: float) -> tuple[np.ndarray, np.ndarray]:
    return dx_km / (111.32 * np.cos(np.radians(lat))), dy_km / 110.57


def _month_days(month: str, n: int, rng: np.random.Generator) -> list[dt.date]:
    start = pd.Period(month, "M")
    days = rng.integers(1, start.days_in_month + 1, size=n)
    if month == "2019-12":  # "2019年底就启动": the first stations in the last days of 2019
        days = rng.integers(16, 32, size=n)
    return sorted(dt.date(start.year, start.month, int(d)) for d in days)


def _place(district: str, year_ix: int, districts, taken: list[tuple[float, float]], rng) -> tuple[float, float]:
    layout = DISTRICT_LAYOUT[district]
    cx, cy = layout["centre"]
    for _ in range(500):
        dx, dy = rng.normal(0, layout["sd_km"][year_ix], size=2)
        lon_off, lat_off = _km_to_deg(np.array([dx]), np.array([dy]), cy)
        lon, lat = round(cx + float(lon_off[0]), 6), round(cy + float(lat_off[0]), 6)
        if geo.assign_district([lon], [lat], districts)[0] != district:
            continue
        if taken:
            arr = np.asarray(taken)
            dx_m = (arr[:, 0] - lon) * 111_320 * np.cos(np.radians(lat))
            dy_m = (arr[:, 1] - lat) * 110_570
            if np.min(np.hypot(dx_m, dy_m)) < MIN_SPACING_M:
                continue
        return lon, lat
    raise RuntimeError(f"cannot place a station in {district}")  # the layout is wrong, a bug


def _stage_dates(
    on_air: dt.date | None, reached: str, blocked: bool, rng, extract: dt.date
) -> dict[str, dt.date | None]:
    """Dates each stage was reached, walking back from the on-air date, or from the day a site
    still in the pipeline entered its current stage (long ago when it is blocked)."""
    stages = ["planned", "site_selection", "site_access", "construction", "power_hookup", "on_air"]
    last = stages.index(reached)
    out: dict[str, dt.date | None] = {s: None for s in stages}
    if on_air is not None:
        t = on_air
    else:
        lo, hi = STAGE_DAYS[reached]
        waited = rng.integers(hi, 3 * hi + 30) if blocked else rng.integers(1, hi)
        t = extract - dt.timedelta(days=int(waited))
    out[stages[last]] = t
    for s in reversed(stages[:last]):
        t = t - dt.timedelta(days=int(rng.integers(*STAGE_DAYS[s])))
        if s == "construction" and t.month in WINTER_MONTHS:
            t = t - dt.timedelta(days=int(rng.integers(*WINTER_EXTRA_DAYS)))
        out[s] = t
    return out


def generate_truth(city: City | str = "karamay", seed: int = DEFAULT_SEED) -> Truth:
    """The synthetic stations: on-air ones (per MONTHLY_ON_AIR) and the planned pipeline."""
    city = city if isinstance(city, City) else load_city(city)
    districts = geo.read_districts(city)
    rng = np.random.default_rng(seed)
    taken: dict[str, list[tuple[float, float]]] = {op: [] for op in MNC_OF}
    names_used: set[str] = set()
    seq = {d: 0 for d in DISTRICT_LAYOUT}
    rows = []

    def new_station(district: str, operator: str, year_ix: int, lonlat=None, code=None):
        seq[district] += 1
        layout = DISTRICT_LAYOUT[district]
        lon, lat = lonlat or _place(district, year_ix, districts, taken[operator], rng)
        taken[operator].append((lon, lat))
        code = code or f"{layout['adcode']}{20 + year_ix:02d}{seq[district]:06d}"
        while True:
            road = rng.choice(layout["roads"])
            kind = rng.choice(["宏站", "宏站", "宏站", "室分", "微站"])
            name = f"{district}{road}{int(rng.integers(1, 60)):02d}号{kind}"
            if name not in names_used:
                names_used.add(name)
                break
        band = BAND_OF[operator][0]
        if operator == "CMCC" and kind == "室分" and rng.random() < 0.6:
            band = "n79"
        return {
            "site_code": code,
            "name": name,
            "operator": operator,
            "district": district,
            "lon": lon,
            "lat": lat,
            "band": band,
        }

    district_names = list(DISTRICT_LAYOUT)
    for month, n in MONTHLY_ON_AIR.items():
        year_ix = 0 if month < "2021" else 1
        shares = OPERATOR_SHARE_2020 if year_ix == 0 or month < "2021-06" else OPERATOR_SHARE_2021
        ops = list(shares)
        for day in _month_days(month, n, rng):
            district = district_names[rng.choice(4, p=[DISTRICT_LAYOUT[d]["share"][year_ix] for d in district_names])]
            operator = ops[rng.choice(len(ops), p=np.array(list(shares.values())) / sum(shares.values()))]
            station = new_station(district, operator, year_ix)
            station.update(on_air_date=day, status="on_air", blocker=None)
            station.update(
                {
                    f"{k}_date": v
                    for k, v in _stage_dates(day, "on_air", False, rng, EXTRACT_DATE).items()
                    if k != "on_air"
                }
                if year_ix == 1
                else {}
            )
            rows.append(station)
    # Telecom and Unicom share towers (共建共享): some of Unicom's 2021 stations stand on
    # Telecom's sites, same tower code and place, and count as two stations.
    ctcc = [r for r in rows if r["operator"] == "CTCC" and r["on_air_date"].year == 2021]
    cucc = [r for r in rows if r["operator"] == "CUCC" and r["on_air_date"].year == 2021]
    for a, b in zip(ctcc[:12], cucc[:12]):
        taken["CUCC"].remove((b["lon"], b["lat"]))
        b["site_code"], b["lon"], b["lat"], b["district"] = a["site_code"], a["lon"], a["lat"], a["district"]
        b["name"] = a["name"] + "-联通共享"
        taken["CUCC"].append((b["lon"], b["lat"]))
    for stage, n in PIPELINE_AT_EXTRACT.items():
        blockers = list(STAGE_BLOCKERS[stage])
        weights = list(STAGE_BLOCKERS[stage].values())
        for _ in range(n):
            district = district_names[rng.choice(4, p=[DISTRICT_LAYOUT[d]["share"][1] for d in district_names])]
            operator = ["CMCC", "CTCC", "CUCC", "CBN"][rng.choice(4, p=[0.4, 0.23, 0.23, 0.14])]
            station = new_station(district, operator, 1)
            blocker = blockers[rng.choice(len(blockers), p=weights)]
            station.update(on_air_date=None, status=stage, blocker=blocker)
            station.update(
                {
                    f"{k}_date": v
                    for k, v in _stage_dates(None, stage, blocker is not None, rng, EXTRACT_DATE).items()
                    if k != "on_air"
                }
            )
            rows.append(station)
    truth = pd.DataFrame(rows)
    for col in [
        "on_air_date",
        "planned_date",
        "site_selection_date",
        "site_access_date",
        "construction_date",
        "power_hookup_date",
    ]:
        truth[col] = pd.to_datetime(truth[col])
    truth["station_id"] = truth["operator"] + "-" + truth["site_code"]
    return Truth(truth, seed)


# --- rendering the truth the way each sender writes it ------------------------------------------


def _dms(value: float, hemi: str) -> str:
    d = int(value)
    m_full = (value - d) * 60
    m = int(m_full)
    s = (m_full - m) * 60
    return f"{d}°{m:02d}'{s:04.1f}\"{hemi}" if hemi else f"{d}°{m}'{s:.1f}\""


def _fullwidth(text: str) -> str:
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"} | {ord("."): "．", ord(","): "，"})


def _date_text(day: dt.date, style: int) -> str:
    return [
        f"{day:%Y-%m-%d}",
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day:%Y%m%d}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day:%Y-%m-%d} 00:00:00",
    ][style]


def _excel_serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


_FIXED_ZIP_TIME = (2022, 1, 10, 9, 0, 0)


def _save_workbook(wb, path: Path) -> None:
    """Save an openpyxl workbook with fixed timestamps, so the same seed gives the same bytes."""
    stamp = dt.datetime(*_FIXED_ZIP_TIME)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "analysis.synth"
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "now" whatever it is told
                data = re.sub(
                    rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>",
                    b'<dcterms:modified xsi:type="dcterms:W3CDTF">2022-01-10T09:00:00Z</dcterms:modified>',
                    data,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)


def _write_csv(path: Path, header: list[str], rows: list[list], encoding: str, title: list[str] | None = None) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for line in title or []:
        w.writerow([line])
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _jitter(lon: float, lat: float, metres: float, rng) -> tuple[float, float]:
    angle = rng.uniform(0, 2 * np.pi)
    r = rng.uniform(0, metres)
    dlon, dlat = _km_to_deg(np.array([r * np.cos(angle) / 1000]), np.array([r * np.sin(angle) / 1000]), lat)
    return round(lon + float(dlon[0]), 6), round(lat + float(dlat[0]), 6)


STATUS_TEXT_ON_AIR = ["已开通", "开通", "在网"]


def write_city_reports(out: str | Path, city: City | str = "karamay", seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the synthetic operator and tower-company files into `out` (see the module docstring).

    Returns the paths written, in a fixed order. The same seed writes the same bytes.
    """
    from openpyxl import Workbook

    city = city if isinstance(city, City) else load_city(city)
    truth = generate_truth(city, seed).stations
    rng = np.random.default_rng(seed + 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    on_air = truth[truth["on_air_date"].notna()]
    pipeline = truth[truth["on_air_date"].isna()]
    junk_seq = iter(range(900001, 999999))

    def junk_code(district="克拉玛依区"):
        return f"{DISTRICT_LAYOUT[district]['adcode']}99{next(junk_seq):06d}"

    # 1. China Mobile: XLSX, title rows, one sheet per year, a notes sheet, Excel date cells in
    #    2021 and typed dates in 2020, some DMS coordinates, junk rows.
    cmcc = on_air[on_air["operator"] == "CMCC"]
    wb = Workbook()
    wb.remove(wb.active)
    notes = wb.create_sheet("说明")
    notes.append(["本表为中国移动克拉玛依分公司5G基站开通清单（合成数据，非真实）"])
    notes.append(["坐标系：WGS-84；频段：2.6GHz / 4.9GHz"])
    header = ["序号", "站址编码", "基站名称", "所属区县", "经度", "纬度", "频段", "开通时间", "状态", "备注"]
    for year in (2020, 2021):
        ws = wb.create_sheet(f"{year}年开通")
        ws.append([f"中国移动克拉玛依分公司{year}年5G基站开通清单"])
        ws.append([f"统计截止：{EXTRACT_DATE.year}年{EXTRACT_DATE.month}月{EXTRACT_DATE.day}日"])
        ws.append([])
        ws.append(header)
        part = cmcc[cmcc["on_air_date"].dt.year.isin([2019, 2020] if year == 2020 else [2021])]
        for i, r in enumerate(part.itertuples(), start=1):
            lon, lat = (f"{r.lon:.6f}", f"{r.lat:.6f}")
            if rng.random() < 0.08:
                lon, lat = _dms(r.lon, ""), _dms(r.lat, "")
            band = {"n41": rng.choice(["2.6GHz", "2.6G", "2600M"]), "n79": rng.choice(["4.9GHz", "4.9G"])}[r.band]
            day = r.on_air_date.date()
            date_cell = (
                dt.datetime.combine(day, dt.time()) if year == 2021 else _date_text(day, int(rng.integers(0, 3)))
            )
            code = int(r.site_code) if rng.random() < 0.5 else r.site_code
            ws.append([i, code, r.name, r.district, lon, lat, band, date_cell, rng.choice(STATUS_TEXT_ON_AIR), None])
            if year == 2021:
                ws.cell(ws.max_row, 8).number_format = "yyyy-mm-dd"
            if i == 40:  # a blank line someone left between blocks
                ws.append([])
        if year == 2020:
            ws.append(
                [
                    len(part) + 1,
                    junk_code(),
                    "克拉玛依区待定站点A",
                    "克拉玛依区",
                    "待定",
                    "待定",
                    "2.6GHz",
                    "2020/6/1",
                    "已开通",
                    "坐标待核实",
                ]
            )
            ws.append(
                [
                    len(part) + 2,
                    junk_code(),
                    "克拉玛依区测试站",
                    "克拉玛依区",
                    "0",
                    "0",
                    "2.6GHz",
                    "2020/7/1",
                    "已开通",
                    None,
                ]
            )
            ws.append(
                [
                    len(part) + 3,
                    junk_code(),
                    "克拉玛依区油建路临时站",
                    "克拉玛依区",
                    None,
                    None,
                    "2.6GHz",
                    "2020/8/3",
                    "已开通",
                    "缺坐标",
                ]
            )
            ws.append(
                [
                    len(part) + 4,
                    junk_code(),
                    "克拉玛依区昆仑路录入错误站",
                    "克拉玛依区",
                    "84.8801",
                    "45.5902",
                    "2.6GHz",
                    "2010/8/3",
                    "已开通",
                    "日期录入错误",
                ]
            )
        else:
            ws.append(
                [
                    len(part) + 1,
                    junk_code(),
                    "克拉玛依区世纪大道规划站",
                    "克拉玛依区",
                    "84.9012",
                    "45.6011",
                    "2.6GHz",
                    "2031-05-12",
                    "已开通",
                    "日期录入错误",
                ]
            )
            ws.append(
                [
                    len(part) + 2,
                    junk_code(),
                    "白碱滩区中兴路未定日期站",
                    "白碱滩区",
                    "85.1302",
                    "45.6931",
                    "2.6GHz",
                    None,
                    "已开通",
                    "开通日期待补",
                ]
            )
    path = out / "中国移动_5G基站开通清单_2021年12月.xlsx"
    _save_workbook(wb, path)
    paths.append(path)

    # 2. China Mobile's monthly increment for March 2021: the same stations again, positions
    #    re-measured (within 15 m), compact dates: near duplicates, merged by site code.
    march = cmcc[(cmcc["on_air_date"] >= "2021-03-01") & (cmcc["on_air_date"] <= "2021-04-30")]
    rows = []
    for r in march.itertuples():
        lon, lat = _jitter(r.lon, r.lat, 15, rng)
        rows.append(
            [
                r.site_code,
                r.name,
                r.district,
                f"{lon:.6f}",
                f"{lat:.6f}",
                "2.6GHz" if r.band == "n41" else "4.9GHz",
                _date_text(r.on_air_date.date(), 3),
                "开通",
            ]
        )
    path = out / "移动_2021年3-4月新增站点.csv"
    _write_csv(path, ["站址编码", "站名", "区县", "经度", "纬度", "频段", "开通日期", "状态"], rows, "utf-8")
    paths.append(path)

    # 3. China Telecom: GBK CSV; exact repeats, swapped lat/lon, full-width digits, rows from
    #    neighbouring cities, a row without identity, a site code reused far away.
    ctcc = on_air[on_air["operator"] == "CTCC"]
    rows = []
    for i, r in enumerate(ctcc.itertuples()):
        lon, lat = f"{r.lon:.6f}", f"{r.lat:.6f}"
        if i % 29 == 5:
            lon, lat = lat, lon
        elif i % 17 == 3:
            lon, lat = _fullwidth(lon), _fullwidth(lat)
        row = [
            r.site_code,
            r.name,
            r.district,
            lon,
            lat,
            rng.choice(["3.5GHz", "3500M", "3.5G"]),
            _date_text(r.on_air_date.date(), int(rng.integers(0, 5))),
            rng.choice(STATUS_TEXT_ON_AIR),
        ]
        rows.append(row)
        if i % 41 == 7:
            rows.append(list(row))  # pasted twice
    rows.insert(
        20, [junk_code("独山子区"), "奎屯市北京路宏站", "奎屯市", "84.9031", "44.4262", "3.5GHz", "2020/9/1", "已开通"]
    )
    rows.insert(
        50, [junk_code(), "乌鲁木齐市友好路宏站", "乌鲁木齐市", "87.5931", "43.8162", "3.5GHz", "2020/10/8", "已开通"]
    )
    rows.insert(
        70, [junk_code(), "石河子市北四路宏站", "石河子市", "86.0411", "44.3052", "3.5GHz", "2021/5/9", "已开通"]
    )
    rows.append([None, None, "克拉玛依区", "84.8712", "45.6012", "3.5GHz", "2021/6/1", "已开通"])
    first = ctcc[ctcc["district"] == "克拉玛依区"].iloc[10]
    rows.append(
        [
            first["site_code"],
            first["name"] + "(重复)",
            first["district"],
            f"{first['lon'] + 0.06:.6f}",
            f"{first['lat']:.6f}",
            None,
            _date_text(first["on_air_date"].date(), 0),
            "已开通",
        ]
    )
    path = out / "电信5G站点台账.csv"
    _write_csv(path, ["站号", "站名", "区县", "经度", "纬度", "频段(MHz)", "开通日期", "建设状态"], rows, "gbk")
    paths.append(path)

    # 4. China Unicom: UTF-8 with BOM, English headers, a coordinate-system column: rows copied
    #    from Amap are GCJ-02; some rows lack the code but repeat a station.
    cucc = on_air[on_air["operator"] == "CUCC"]
    rows = []
    for i, r in enumerate(cucc.itertuples()):
        crs = "WGS84"
        lon, lat = r.lon, r.lat
        if i % 3 == 1:
            crs = rng.choice(["GCJ-02", "gcj02", "高德"])
            lon, lat = geo.wgs84_to_gcj02(lon, lat)
        rows.append(
            [
                r.site_code,
                r.name,
                "China Unicom",
                r.district,
                f"{lon:.6f}",
                f"{lat:.6f}",
                "n78",
                _date_text(r.on_air_date.date(), 0),
                "on air",
                crs,
            ]
        )
        if i % 37 == 11:
            jl, jt = _jitter(r.lon, r.lat, 20, rng)
            rows.append(
                [
                    None,
                    r.name,
                    "联通",
                    r.district,
                    f"{jl:.6f}",
                    f"{jt:.6f}",
                    "n78",
                    _date_text(r.on_air_date.date(), 0),
                    "on air",
                    "WGS84",
                ]
            )
    rows.append(
        [
            junk_code(),
            "克拉玛依区北京54坐标站",
            "China Unicom",
            "克拉玛依区",
            "84.8813",
            "45.5921",
            "n78",
            "2021-07-01",
            "on air",
            "Beijing54",
        ]
    )
    path = out / "联通5G基站清单.csv"
    _write_csv(
        path,
        [
            "site_id",
            "site_name",
            "operator",
            "district",
            "longitude",
            "latitude",
            "band",
            "on_air_date",
            "status",
            "crs",
        ],
        rows,
        "utf-8-sig",
    )
    paths.append(path)

    # 5. China Broadnet (700 MHz, from mid-2021): XLSX, header on the first row, a combined
    #    经纬度 column, dates as bare Excel serial numbers, full-width digits.
    cbn = on_air[on_air["operator"] == "CBN"]
    wb = Workbook()
    ws = wb.active
    ws.title = "广电5G"
    ws.append(["站址编码", "站名", "运营商", "经纬度", "频段", "开通日期", "状态"])
    for i, r in enumerate(cbn.itertuples()):
        lonlat = f"{r.lon:.6f},{r.lat:.6f}"
        if i % 5 == 2:
            lonlat = _fullwidth(lonlat)
        ws.append([r.site_code, r.name, "中国广电", lonlat, "700M", _excel_serial(r.on_air_date.date()), "已开通"])
    path = out / "广电700M基站.xlsx"
    _save_workbook(wb, path)
    paths.append(path)

    # 6. The tower company's tracking sheet of 2021 builds and planned sites: stages, blockers
    #    and the date each stage was reached; a pivot sheet without records.
    tracked = pd.concat([on_air[on_air["on_air_date"].dt.year == 2021], pipeline]).sort_values(
        ["planned_date", "site_code"]
    )
    wb = Workbook()
    ws = wb.active
    ws.title = "站址跟踪"
    ws.append(["克拉玛依市5G基站建设推进专班 站址建设跟踪表（合成数据）"])
    ws.append([])
    ws.append(
        [
            "序号",
            "站址编码",
            "站址名称",
            "需求运营商",
            "区县",
            "经度",
            "纬度",
            "当前阶段",
            "卡点问题",
            "立项日期",
            "选址完成日期",
            "进场日期",
            "开工日期",
            "电源接入日期",
            "开通日期",
            "备注",
        ]
    )
    op_names = {"CMCC": "移动", "CTCC": "电信", "CUCC": "联通", "CBN": "广电"}
    for i, r in enumerate(tracked.itertuples(), start=1):
        stage = "on_air" if pd.notna(r.on_air_date) else r.status
        blocker = rng.choice(BLOCKER_TEXT[r.blocker]) if isinstance(r.blocker, str) else None

        def cell(value):
            return None if pd.isna(value) else value.to_pydatetime()

        ws.append(
            [
                i,
                r.site_code,
                r.name,
                op_names[r.operator],
                r.district,
                round(r.lon, 6),
                round(r.lat, 6),
                rng.choice(STAGE_TEXT[stage]),
                blocker,
                cell(r.planned_date),
                cell(r.site_selection_date),
                cell(r.site_access_date),
                cell(r.construction_date),
                cell(r.power_hookup_date),
                cell(r.on_air_date),
                None,
            ]
        )
        for col in range(10, 16):
            ws.cell(ws.max_row, col).number_format = "yyyy/m/d"
    pivot = wb.create_sheet("汇总")
    pivot.append(["区县", "已开通", "在建", "规划"])
    for d in DISTRICT_LAYOUT:
        sub = tracked[tracked["district"] == d]
        pivot.append(
            [
                d,
                int(sub["on_air_date"].notna().sum()),
                int((sub["status"] == "construction").sum()),
                int((sub["status"] == "planned").sum()),
            ]
        )
    path = out / "铁塔_5G站址建设跟踪表.xlsx"
    _save_workbook(wb, path)
    paths.append(path)

    # 7. An OpenCelliD export of the area: NR cells of about half the on-air stations (first
    #    heard some weeks after going on air, positions off by up to 150 m), LTE cells, and NR
    #    cells of a neighbouring city.
    lines = []
    ocid_rng = np.random.default_rng(seed + 2)
    extract_ts = pd.Timestamp(EXTRACT_DATE)
    for r in on_air.sort_values("site_code").itertuples():
        if ocid_rng.random() > 0.55:
            continue
        first_heard = r.on_air_date + pd.Timedelta(days=int(ocid_rng.integers(3, 60)))
        if first_heard > extract_ts:
            continue
        gnb = int(ocid_rng.integers(100_000, 1_000_000))
        lon, lat = _jitter(r.lon, r.lat, 150, ocid_rng)
        for c in range(int(ocid_rng.integers(1, 4))):
            clon, clat = _jitter(lon, lat, 30, ocid_rng)
            created = int(
                (
                    first_heard + pd.Timedelta(days=int(ocid_rng.integers(0, 20)) * c) - pd.Timestamp("1970-01-01")
                ).total_seconds()
            )
            created = min(created, int((extract_ts - pd.Timestamp("1970-01-01")).total_seconds()))
            lines.append(
                [
                    "NR",
                    460,
                    MNC_OF[r.operator],
                    int(ocid_rng.integers(30000, 40000)),
                    (gnb << 12) | (c + 1),
                    "",
                    f"{clon:.6f}",
                    f"{clat:.6f}",
                    int(ocid_rng.integers(200, 1500)),
                    int(ocid_rng.integers(1, 80)),
                    1,
                    created,
                    created + 86400 * int(ocid_rng.integers(1, 200)),
                    0,
                ]
            )
    for _ in range(120):
        d = list(DISTRICT_LAYOUT)[int(ocid_rng.integers(0, 4))]
        cx, cy = DISTRICT_LAYOUT[d]["centre"]
        lon, lat = _jitter(cx, cy, 3000, ocid_rng)
        lines.append(
            [
                "LTE",
                460,
                int(ocid_rng.choice([0, 1, 11])),
                int(ocid_rng.integers(30000, 40000)),
                int(ocid_rng.integers(1, 2**28)),
                "",
                f"{lon:.6f}",
                f"{lat:.6f}",
                1000,
                20,
                1,
                1_500_000_000,
                1_600_000_000,
                0,
            ]
        )
    for k in range(4):
        lon, lat = _jitter(86.04, 44.30, 2000, ocid_rng)  # Shihezi, another city
        lines.append(
            [
                "NR",
                460,
                0,
                35000,
                ((700_000 + k) << 12) | 1,
                "",
                f"{lon:.6f}",
                f"{lat:.6f}",
                500,
                5,
                1,
                1_610_000_000,
                1_620_000_000,
                0,
            ]
        )
    lines.sort(key=lambda x: (x[0], x[2], x[4]))
    path = out / "opencellid_460_克拉玛依周边.csv"
    _write_csv(path, list(OPENCELLID_COLUMNS), lines, "utf-8")
    paths.append(path)
    return paths


# --- national scale ----------------------------------------------------------------------------

#: China's mainland bounding box for the synthetic national files (lon, lat).
CHINA_BBOX = (73.5, 18.2, 134.8, 53.6)
#: About as many cities as China's prefecture-level divisions (333), weighted towards the east.
N_CITIES = 340
NATIONAL_CHUNK_ROWS = 500_000
_OP_ZH = np.array(["中国移动", "中国电信", "中国联通", "中国广电"])
_OP_SHARE = np.array([0.55, 0.21, 0.20, 0.04])  # China's 5G stations by operator, roughly, end of 2024
_BAND_TEXT = {0: ("2.6GHz", "4.9GHz"), 1: ("3.5GHz",), 2: ("3.5GHz",), 3: ("700M",)}


def national_city_centres(seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Synthetic city centres across China with a weight each (share of the country's stations)."""
    rng = np.random.default_rng(seed)
    east = rng.random(N_CITIES) < 0.85
    lon = np.where(east, rng.uniform(102, 122, N_CITIES), rng.uniform(76, 102, N_CITIES))
    lat = np.where(east, rng.uniform(22, 42, N_CITIES), rng.uniform(30, 46, N_CITIES))
    weight = rng.lognormal(0, 0.9, N_CITIES)
    return pd.DataFrame({"lon": lon.round(4), "lat": lat.round(4), "weight": weight / weight.sum()})


def _national_chunk(rng, centres: pd.DataFrame, start: int, n: int) -> pd.DataFrame:
    city = rng.choice(len(centres), size=n, p=centres["weight"].to_numpy())
    spread_km = rng.gamma(2.0, 4.0, size=n)  # most stations near the centre, a tail out of town
    angle = rng.uniform(0, 2 * np.pi, size=n)
    lat0 = centres["lat"].to_numpy()[city]
    lat = np.clip(lat0 + spread_km * np.sin(angle) / 110.57, CHINA_BBOX[1], CHINA_BBOX[3])
    lon = np.clip(
        centres["lon"].to_numpy()[city] + spread_km * np.cos(angle) / (111.32 * np.cos(np.radians(lat0))),
        CHINA_BBOX[0],
        CHINA_BBOX[2],
    )
    op = rng.choice(4, size=n, p=_OP_SHARE)
    days = rng.integers(0, (dt.date(2024, 12, 31) - dt.date(2019, 11, 1)).days, size=n)
    on_air = pd.Timestamp("2019-11-01") + pd.to_timedelta(days, unit="D")
    ids = np.arange(start, start + n)
    return pd.DataFrame({"id": ids, "city": city, "op": op, "lon": lon.round(6), "lat": lat.round(6), "on_air": on_air})


def write_national(
    out: str | Path,
    n_stations: int,
    seed: int = DEFAULT_SEED,
    fmt: str = "operator",
    chunk_rows: int = NATIONAL_CHUNK_ROWS,
) -> list[Path]:
    """Country-scale station files for benchmarks: `n_stations` stations around synthetic cities.

    `fmt="operator"` writes one operator-style CSV (Chinese headers, mixed date forms, about 1 %
    repeated rows and 0.1 % unusable coordinates); `fmt="opencellid"` writes an OpenCelliD export
    with 1–3 NR cells per station plus 10 % LTE cells. Written in chunks: memory stays flat.
    """
    if n_stations < 1:
        raise ValueError("n_stations must be at least 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = national_city_centres(seed)
    path = out / (f"national_{fmt}_{n_stations}.csv")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for start in range(0, n_stations, chunk_rows):
            n = min(chunk_rows, n_stations - start)
            c = _national_chunk(rng, centres, start, n)
            if fmt == "operator":
                frame = _operator_rows(c, rng)
            elif fmt == "opencellid":
                frame = _opencellid_rows(c, rng)
            else:
                raise ValueError(f"unknown national format {fmt!r}")
            frame.to_csv(fh, index=False, header=start == 0, lineterminator="\n")
    return [path]


def _operator_rows(c: pd.DataFrame, rng) -> pd.DataFrame:
    n = len(c)
    date_style = rng.integers(0, 4, size=n)
    d = c["on_air"]
    dates = np.select(
        [date_style == 0, date_style == 1, date_style == 2],
        [d.dt.strftime("%Y-%m-%d"), d.dt.strftime("%Y/%-m/%-d"), d.dt.strftime("%Y%m%d")],
        default=d.dt.strftime("%Y年%-m月%-d日"),
    )
    band = np.where(
        c["op"] == 0, np.where(rng.random(n) < 0.8, "2.6GHz", "4.9GHz"), np.where(c["op"] == 3, "700M", "3.5GHz")
    )
    lon = c["lon"].map("{:.6f}".format).to_numpy(dtype=object)
    lat = c["lat"].map("{:.6f}".format).to_numpy(dtype=object)
    bad = rng.random(n) < 0.001
    lon[bad] = "待定"
    frame = pd.DataFrame(
        {
            "站址编码": "S" + c["id"].astype(str).str.zfill(9),
            "基站名称": "城市" + c["city"].astype(str) + "-站" + c["id"].astype(str),
            "运营商": _OP_ZH[c["op"].to_numpy()],
            "经度": lon,
            "纬度": lat,
            "频段": band,
            "开通时间": dates,
            "状态": "已开通",
        }
    )
    repeat = frame[rng.random(n) < 0.01]
    return pd.concat([frame, repeat]).sort_index(kind="stable")


def _opencellid_rows(c: pd.DataFrame, rng) -> pd.DataFrame:
    n_cells = rng.integers(1, 4, size=len(c))
    rows = c.loc[c.index.repeat(n_cells)].reset_index(drop=True)
    local = rows.groupby("id").cumcount().to_numpy() + 1
    jitter = rng.normal(0, 0.0008, size=(len(rows), 2))
    created = (
        rows["on_air"] + pd.to_timedelta(rng.integers(3, 90, size=len(rows)), unit="D") - pd.Timestamp("1970-01-01")
    )
    mnc = np.array([0, 11, 1, 15])[rows["op"].to_numpy()]
    nr = pd.DataFrame(
        {
            "radio": "NR",
            "mcc": 460,
            "net": mnc,
            "area": 30000 + rows["city"].to_numpy(),
            "cell": (rows["id"].to_numpy().astype(np.int64) << 12) | local,
            "unit": "",
            "lon": (rows["lon"] + jitter[:, 0]).round(6),
            "lat": (rows["lat"] + jitter[:, 1]).round(6),
            "range": rng.integers(200, 2000, size=len(rows)),
            "samples": rng.integers(1, 100, size=len(rows)),
            "changeable": 1,
            "created": created.dt.total_seconds().astype(np.int64),
            "updated": created.dt.total_seconds().astype(np.int64) + 86400,
            "averageSignal": 0,
        }
    )
    lte = nr.sample(frac=0.1, random_state=int(rng.integers(0, 2**31)))
    lte = lte.assign(radio="LTE", cell=lte["cell"] & 0xFFFFFFF)
    return pd.concat([nr, lte], ignore_index=True)
