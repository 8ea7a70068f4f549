"""Every path and every city setting, read once: the project folders and `data/raw/<city>/city.toml`.

A new city is a new folder under `data/raw/` with a `city.toml`; nothing in the code names Karamay.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import functools
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

from analysis.errors import ConfigError, UsageError

#: The checkout the code runs from (its notebooks/ beside src/).
CODE_ROOT = Path(__file__).resolve().parents[2]
PROJ_ROOT = Path(os.environ.get("FIVEG_PROJECT_ROOT", CODE_ROOT))
DATA_DIR = PROJ_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = PROJ_ROOT / "reports"
#: The report's notebooks: the project's own when it has them, else those shipped beside the code (a project
#: root of data only, FIVEG_PROJECT_ROOT, runs the package's notebooks on its data).
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks" if (PROJ_ROOT / "notebooks").is_dir() else CODE_ROOT / "notebooks"

if TYPE_CHECKING:
    import pandas as pd

#: A date as callers give it: a date, a datetime or Timestamp, or text YYYY-MM-DD (parsed once, at the boundary).
DateLike = Union[str, dt.date, dt.datetime, "pd.Timestamp"]
#: The key of the whole-city row in every per-district table.
CITY_TOTAL = "全市"
#: Environment variable naming the city used when none is given (else the only city under data/raw/).
CITY_ENV = "FIVEG_CITY"

OPERATORS = ("CMCC", "CTCC", "CUCC", "CBN", "unknown")
OPERATOR_NAMES_ZH = {"CMCC": "中国移动", "CTCC": "中国电信", "CUCC": "中国联通", "CBN": "中国广电", "unknown": "未知"}


@dataclass(frozen=True)
class Target:
    """A published count of on-air stations to reach (or reached) by a date."""

    date: dt.date
    on_air: int
    label_zh: str
    label_en: str
    source: str
    kind: str = "target"  # "target" to reach, or "reported" (a count the city published)


@dataclass(frozen=True)
class District:
    name_zh: str
    name_en: str
    area_km2: float | None = None
    population_2020: int | None = None
    population_source: str = ""
    target_share: float | None = None  # share of each year's target, when the city gives one


@dataclass(frozen=True)
class City:
    key: str
    name_zh: str
    name_en: str
    folder: Path
    buildout_start: dt.date
    article_date: dt.date
    targets: tuple[Target, ...]
    districts: tuple[District, ...]
    population_2020: int | None = None
    records_received: dt.date | None = None  # when the station files in `stations/` were received
    center_lat: float | None = None
    center_lon: float | None = None
    basemap: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    kind: str = "city"  # what the "city" is: a city, a province or a country (the total row's label: 全市/全省/全国)

    def path(self, name: str) -> Path:
        """Path of one of the city's input files, by its key in `[files]` of city.toml."""
        try:
            return self.folder / self.files[name]
        except KeyError:
            raise ConfigError(f"[files] has no entry {name!r}", self.folder / "city.toml") from None

    @property
    def districts_path(self) -> Path:
        return self.path("districts")

    @property
    def urban_areas_path(self) -> Path:
        return self.path("urban_areas")

    @property
    def sites_path(self) -> Path:
        return self.path("sites")

    @property
    def stations_dir(self) -> Path:
        return self.path("stations")

    @property
    def district_names(self) -> tuple[str, ...]:
        return tuple(d.name_zh for d in self.districts)

    def goals(self) -> tuple[Target, ...]:
        """The targets still to reach, in date order (not the counts already reported)."""
        return tuple(t for t in self.targets if t.kind == "target")


def parse_date(value, name: str = "--as-of") -> dt.date:
    """A date a user gave (a report date, an extract date): a date, datetime or Timestamp, or text that
    is exactly YYYY-MM-DD; anything else is a one-line UsageError naming the parameter."""
    if isinstance(value, dt.datetime):  # also pandas.Timestamp
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


#: A period as plans and bulletins write it: a year (2025, 2025年, 2025年底), a month (2025-12, 2025/12, 2025.12,
#: 2025年12月), a quarter (2025Q4, 2025-Q4), or the end of a Five-Year Plan (十四五末: the 14th plan runs 2021-2025).
_PLAN_YEAR = re.compile(r"(\d{4})\s*(?:年(?:底|末|末累计)?)?")
_PLAN_MONTH = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:月(?:底|末)?)?")
_PLAN_QUARTER = re.compile(r"(\d{4})\s*[-/ ]?\s*[Qq]([1-4])")
_FIVE_YEAR_PLAN = re.compile(
    r"[“\"]?(十[一二三四五六七八九]?|[一二三四五六七八九])五[”\"]?\s*(?:期末|末|时期末|规划末)"
)
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
#: The forms `parse_period_end` reads, for error messages.
PERIOD_FORMS = "YYYY-MM-DD, a month 2025-12, a quarter 2025Q4, a year 2025 or 2025年, or 十四五末"


def _plan_number(text: str) -> int:
    """十四 -> 14, 九 -> 9: the number of a Five-Year Plan in Chinese numerals."""
    if text.startswith("十"):
        return 10 + _ZH_DIGITS.get(text[1:], 0)
    return _ZH_DIGITS[text]


def calendar_period_end(text: str) -> dt.date | None:
    """The last day of a year (2025, 2025年底), a month (2025-12, 2025年12月) or a quarter (2025Q4) written as
    `text`, None when it is none of these: how a target's period and a published count's period are read."""
    if m := _PLAN_YEAR.fullmatch(text):
        return dt.date(int(m.group(1)), 12, 31)
    if (m := _PLAN_MONTH.fullmatch(text)) and 1 <= int(m.group(2)) <= 12:
        year, month = int(m.group(1)), int(m.group(2))
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    if m := _PLAN_QUARTER.fullmatch(text):
        year, month = int(m.group(1)), 3 * int(m.group(2))
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    return None


def parse_period_end(text: str) -> dt.date | None:
    """The day a target given for a period is due: a day as written (YYYY-MM-DD); a year, quarter or month
    as its last day (as a published series' periods are read); the end of a Five-Year Plan (十四五末 =
    2025-12-31, 十五五末 = 2030-12-31: the Nth plan ends in 1955 + 5N). None when it is none of these."""
    text = str(text).strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    if (end := calendar_period_end(text)) is not None:
        return end
    if m := _FIVE_YEAR_PLAN.fullmatch(text):
        return dt.date(1955 + 5 * _plan_number(m.group(1)), 12, 31)
    return None


def parse_target_arg(text: str) -> tuple[dt.date, float]:
    """`--target WHEN=COUNT`: WHEN a day or a period (`parse_period_end`), COUNT a number >= 0 (decimals
    allowed: a series in 万 has them). A one-line UsageError saying which half is wrong."""
    when, sep, count = str(text).partition("=")
    if not sep:
        raise UsageError(f"--target {text!r}: no '=' (write WHEN=COUNT, e.g. 2025-12-31=480 or 十四五末=480)")
    date = parse_period_end(when)
    if date is None:
        raise UsageError(f"--target {text!r}: {when.strip()!r} is not a date or period ({PERIOD_FORMS})")
    try:
        value = float(count.strip().replace(",", ""))
    except ValueError:
        raise UsageError(f"--target {text!r}: {count.strip()!r} is not a count (a number, decimals allowed)") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--target {text!r}: the count must be a number >= 0")
    return date, value


def available_cities(raw_dir: Path = RAW_DIR) -> list[str]:
    return sorted(p.parent.name for p in raw_dir.glob("*/city.toml"))


def default_city(raw_dir: Path = RAW_DIR) -> str:
    """The city used when none is named: $FIVEG_CITY, else the only city folder under data/raw/.
    No city is named in the code: with several cities and no setting the caller must choose."""
    if os.environ.get(CITY_ENV):
        return os.environ[CITY_ENV]
    cities = available_cities(raw_dir)
    if len(cities) == 1:
        return cities[0]
    known = ", ".join(cities) or "none"
    raise UsageError(f"name a city (--city, or set {CITY_ENV}); the data folder holds: {known}")


def resolve_city(city: City | str | Path | None = None) -> City:
    """A `City` from a key, folder or city.toml path (or the default city), loaded once at the
    boundary; a `City` is returned as it is."""
    if isinstance(city, City):
        return city
    return load_city(default_city() if city in (None, "") else city)


def _require(table: dict, key: str, where: str, path: Path):
    if key not in table:
        raise ConfigError(f"{where} is missing {key!r}", path)
    return table[key]


#: The kinds of a [[targets]] entry: a goal to judge the buildout against, or a count the city reported.
TARGET_KINDS = ("target", "reported")


def _target_kind(kind, where: str, path: Path) -> str:
    """A target's kind, one of TARGET_KINDS (another, "actual" say, was read as neither and dropped)."""
    if kind not in TARGET_KINDS:
        raise ConfigError(f"{where} kind must be one of {', '.join(TARGET_KINDS)}, got {kind!r}", path)
    return kind


def _target_share(value, where: str, path: Path) -> float | None:
    """A district's share of each target: a number from 0 to 1 (0.05, not "5%"), or None when not given."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{where} target_share must be a number from 0 to 1 (0.05 for 5 %), got {value!r}", path)
    return float(value)


#: What a "city" of city.toml may be ([city] kind; "city" when it says none): the pages' total row is the whole
#: city, province or country (全市, 全省, 全国).
CITY_KINDS = ("city", "province", "country")


def _city_kind(kind, path: Path) -> str:
    if kind not in CITY_KINDS:
        raise ConfigError(f"[city] kind must be one of {', '.join(CITY_KINDS)}, got {kind!r}", path)
    return kind


#: The keys a [[targets]] entry may hold (another, a misspelt one say, was silently ignored).
TARGET_KEYS = frozenset({"date", "on_air", "per_10k_people", "kind", "label_zh", "label_en", "source"})

#: The keys each other table of city.toml may hold, besides free provenance notes named `*_source`. A key
#: misspelt was silently ignored: `records_recieved` set no extract date and every report fell back to
#: another. ([coverage] is checked against its settings by the coverage stage.)
TABLE_KEYS: dict[str, frozenset] = {
    "city.toml": frozenset({"city", "files", "targets", "districts", "forecast", "basemap", "taskforce", "coverage"}),
    "[city]": frozenset(
        {"name_zh", "name_en", "adcode", "province_zh", "buildout_start", "article_date", "records_received"}
        | {"population_2020", "area_km2", "center_latlon", "kind"}
    ),
    "[files]": frozenset({"districts", "urban_areas", "sites", "stations"}),
    "[[districts]]": frozenset({"name_zh", "name_en", "area_km2", "population_2020", "target_share"}),
    "[forecast]": frozenset({"stop_months", "stop_factor", "season_factors"}),
    "[basemap]": frozenset({"default", "zoom"}),
    "[taskforce]": frozenset({"stuck_days"}),
    "[[targets]]": TARGET_KEYS,
}


def _check_keys(table, kind: str, path: Path, where: str | None = None, notes_free: bool = True) -> None:
    """A one-line ConfigError for a key of a city.toml table (`kind`, a key of TABLE_KEYS) that no stage reads,
    with the known key it most resembles; `notes_free`: keys named `*_source` (provenance notes) are free."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where or kind} must be a table", path)
    known = TABLE_KEYS[kind]
    for key in table:
        if key in known or (notes_free and key.endswith("_source")):
            continue
        near = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(sorted(known))}"
        raise ConfigError(f"{where or kind} has unknown key {key!r} ({hint})", path)


def _check_tables(data: dict, path: Path) -> None:
    """Every table of city.toml but [coverage] against TABLE_KEYS (a target's provenance is its `source`)."""
    _check_keys(data, "city.toml", path)
    for name in ("city", "files", "forecast", "basemap", "taskforce"):
        if name in data:
            _check_keys(data[name], f"[{name}]", path)
    for i, d in enumerate(data.get("districts") or [], start=1):
        _check_keys(d, "[[districts]]", path, f"[[districts]] #{i}")
    for i, t in enumerate(data.get("targets") or [], start=1):
        _check_keys(t, "[[targets]]", path, f"[[targets]] #{i}", notes_free=False)


def _target_count(t: dict, info: dict, where: str, path: Path) -> int:
    """A [[targets]] entry's count: `on_air`, or `per_10k_people` (a goal per 10,000 residents, as the
    national plan writes it: 每万人拥有5G基站数26个) times [city] population_2020 / 10,000, rounded; both counts
    given is a one-line ConfigError (an unknown key is `_check_tables`'s)."""
    if "on_air" in t and "per_10k_people" in t:
        raise ConfigError(f"{where} gives both on_air and per_10k_people: give one", path)
    if "per_10k_people" in t:
        rate, people = t["per_10k_people"], info.get("population_2020")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate < 0:
            raise ConfigError(f"{where} per_10k_people must be a number >= 0, got {rate!r}", path)
        if isinstance(people, bool) or not isinstance(people, int) or people <= 0:
            raise ConfigError(f"{where} per_10k_people needs [city] population_2020 (a whole number > 0)", path)
        return int(round(rate * people / 10_000))
    on_air = _require(t, "on_air", where, path)
    if not isinstance(on_air, int) or isinstance(on_air, bool) or on_air < 0:
        raise ConfigError(f"{where} on_air must be a whole number >= 0, got {on_air!r}", path)
    return on_air


def _as_date(value, where: str, path: Path) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    date = parse_period_end(str(value))
    if date is None:
        raise ConfigError(f"{where} is not a date or period ({PERIOD_FORMS}): {value!r}", path)
    return date


def _check_district_names(districts: tuple[District, ...], files: dict, path: Path) -> None:
    """Refuse, when the city is loaded, a district named twice (counted twice by every stage), one the
    boundaries file lacks (a phantom district with nothing in it) or a polygon no district names, so every
    command refuses it alike."""
    seen: set[str] = set()
    for i, d in enumerate(districts, start=1):
        name = str(d.name_zh).strip()
        if name in seen:
            raise ConfigError(f"[[districts]] #{i} {name!r} appears more than once", path)
        seen.add(name)
    boundaries = path.parent / files["districts"] if "districts" in files else None
    known = _read_boundary_names(boundaries) if boundaries is not None and boundaries.is_file() else None
    if known is None:  # no or unreadable boundaries: geo.read_districts says why when a stage needs them
        return
    mismatch = describe_district_mismatch(known, seen, boundaries.name)
    if mismatch:
        raise ConfigError(mismatch, path)


def describe_district_mismatch(in_file: set[str], in_config: set[str], file_name: str) -> str | None:
    """What differs between the district names of a boundaries file and of city.toml, in one line (None
    when they are the same): said alike when a city loads and when `geo.read_districts` reads polygons."""
    if in_file == in_config:
        return None
    extra, lacking = _first_few(in_file - in_config), _first_few(in_config - in_file)
    return f"districts do not match {file_name} (not in city.toml: {extra}; missing from the file: {lacking})"


def _first_few(names: set[str], few: int = 8) -> str:
    # a national city has thousands of districts: name a few, count the rest
    if not names:
        return "none"
    shown = sorted(names)[:few]
    return ", ".join(shown) + (f" and {len(names) - few} more" if len(names) > few else "")


def _read_boundary_names(path: Path) -> frozenset[str] | None:
    """The `name_zh` of every feature of a boundaries file, None when it cannot be read here."""
    stat = path.stat()
    return _read_boundary_names_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_boundary_names_cached(path: str, mtime_ns: int, size: int) -> frozenset[str] | None:
    # mtime and size in the key: a file rewritten between loads is read again
    try:
        if path.lower().endswith((".geojson", ".json")):
            # the standard library's json, not geopandas: loading a city must stay cheap for every command
            features = json.loads(Path(path).read_text(encoding="utf-8"))["features"]
            names = [f["properties"]["name_zh"] for f in features]
        else:
            import pyogrio

            names = pyogrio.read_dataframe(path, columns=["name_zh"], read_geometry=False)["name_zh"].tolist()
    except Exception:  # noqa: BLE001 - any unreadable file is geo.read_districts' to report, with its reason
        return None
    return frozenset(str(n).strip() for n in names if n is not None)


def load_city(city: str | Path, raw_dir: Path = RAW_DIR) -> City:
    """Read a city's settings from `data/raw/<city>/city.toml` (or from a folder or a toml path). A bare name
    is the key of a city under data/raw/ first, as the commands' help says, and a folder of the working
    directory only when no city has that key (`./china` names the folder)."""
    candidate = Path(city)
    keyed = raw_dir / str(city) / "city.toml"
    bare = isinstance(city, str) and "/" not in city and "\\" not in city and candidate.suffix != ".toml"
    if bare and keyed.is_file():
        path = keyed
    elif candidate.suffix == ".toml" and candidate.is_file():
        path = candidate
    elif (candidate / "city.toml").is_file():
        path = candidate / "city.toml"
    else:
        path = raw_dir / str(city) / "city.toml"
        if not path.is_file():
            known = ", ".join(available_cities(raw_dir)) or "none"
            raise UsageError(f"unknown city {str(city)!r} (known: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path) from None

    _check_tables(data, path)
    info = _require(data, "city", "city.toml", path)
    targets = []
    for i, t in enumerate(_require(data, "targets", "city.toml", path), start=1):
        where = f"[[targets]] #{i}"
        on_air = _target_count(t, info, where, path)
        targets.append(
            Target(
                date=_as_date(_require(t, "date", where, path), f"{where} date", path),
                on_air=on_air,
                label_zh=t.get("label_zh", ""),
                label_en=t.get("label_en", ""),
                source=t.get("source", ""),
                kind=_target_kind(t.get("kind", "target"), where, path),
            )
        )
    start = _as_date(_require(info, "buildout_start", "[city]", path), "[city] buildout_start", path)
    for i, t in enumerate(targets, start=1):
        # a goal before the buildout starts has no month of the forecast's history to be judged against (a
        # count reported then, kind "reported", is a baseline and may well predate it)
        if t.kind == "target" and t.date < start:
            raise ConfigError(f"[[targets]] #{i} date {t.date} is before [city] buildout_start {start}", path)
    if not any(t.kind == "target" for t in targets):
        raise ConfigError("[[targets]] has no entry of kind 'target'", path)
    said: dict[tuple, int] = {}
    for i, t in enumerate(targets, start=1):
        # two counts of one kind for one date: every stage would judge against whichever came first
        first = said.setdefault((t.kind, t.date), i)
        if first == i:
            continue
        if targets[first - 1].on_air == t.on_air:  # (every page listed it twice)
            raise ConfigError(f"[[targets]] #{first} and #{i} give the same {t.kind} ({t.on_air} by {t.date})", path)
        raise ConfigError(
            f"[[targets]] #{first} and #{i} give {t.date} two {t.kind} counts "
            f"({targets[first - 1].on_air} and {t.on_air})",
            path,
        )
    districts = tuple(
        District(
            name_zh=_require(d, "name_zh", f"[[districts]] #{i}", path),
            name_en=d.get("name_en", ""),
            area_km2=d.get("area_km2"),
            population_2020=d.get("population_2020"),
            population_source=d.get("population_source", ""),
            target_share=_target_share(d.get("target_share"), f"[[districts]] #{i}", path),
        )
        for i, d in enumerate(_require(data, "districts", "city.toml", path), start=1)
    )
    given = [d.name_zh for d in districts if d.target_share is not None]
    if given and len(given) < len(districts):
        # (a share for some districts only was ignored, and the split said none was given)
        missing = "、".join(d.name_zh for d in districts if d.target_share is None)
        raise ConfigError(f"[[districts]] target_share is given for {len(given)} districts, not for {missing}", path)
    _check_district_names(districts, data.get("files", {}), path)
    center = info.get("center_latlon") or [None, None]
    return City(
        key=path.parent.name,
        name_zh=_require(info, "name_zh", "[city]", path),
        name_en=info.get("name_en", ""),
        folder=path.parent,
        buildout_start=_as_date(_require(info, "buildout_start", "[city]", path), "[city] buildout_start", path),
        article_date=_as_date(info.get("article_date", info["buildout_start"]), "[city] article_date", path),
        targets=tuple(sorted(targets, key=lambda t: t.date)),
        districts=districts,
        population_2020=info.get("population_2020"),
        records_received=(
            _as_date(info["records_received"], "[city] records_received", path) if "records_received" in info else None
        ),
        center_lat=center[0],
        center_lon=center[1],
        basemap=data.get("basemap", {}),
        files=data.get("files", {}),
        raw=data,
        kind=_city_kind(info.get("kind", "city"), path),
    )
