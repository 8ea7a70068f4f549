"""The task force's tracker of planned sites: the stage of every site as of a report date, the funnel
by stage and district, the supervision list (督办清单) of stuck sites, observed stage durations, a
bottom-up on-air forecast from them, and each district's share of the year's target.

The stage of a site *as of* a date comes from its stage dates (the latest stage reached on or before
the date); the blocker is known only as reported on the extract date, so it is shown for an earlier
date only when the site has not left that stage since.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import City, parse_date, resolve_city
from analysis.errors import BadInputError, ConfigError, UsageError
from analysis.figures import count_axis, figure_lang, rank_districts
from analysis.files import flags_of, write_csv, write_json
from analysis.schemas import BLOCKERS, STAGE_DATE_COLUMNS, STAGES, on_air_at
from analysis.season import working_days

#: The stages of a site still in the pipeline (every stage before on air).
PIPELINE_STAGES = STAGES[:-1]
DATE_COLUMNS = [STAGE_DATE_COLUMNS[s] for s in STAGES]
#: Days in a stage after which a site goes on the supervision list. A city overrides any of them in
#: `[taskforce] stuck_days` of its city.toml. About the longest usual time of each stage: a month and
#: a half, two months to find a site, a month to hook up power.
DEFAULT_STUCK_DAYS = {"planned": 45, "site_selection": 60, "site_access": 45, "construction": 45, "power_hookup": 30}
#: Label of the whole-city rows in the district tables.
CITY_TOTAL = "全市"
#: Label of the funnel rows that add up the stages before on air.
PIPELINE_TOTAL = "pipeline_total"

STAGE_ZH = {
    "planned": "规划",
    "site_selection": "选址",
    "site_access": "进场",
    "construction": "建设",
    "power_hookup": "电源接入",
    "on_air": "已开通",
    "unknown": "状态不明",
    PIPELINE_TOTAL: "在途合计",
}
BLOCKER_ZH = {
    "site_selection": "选址难",
    "site_access": "进场难",
    "construction": "施工受阻",
    "power_hookup": "电源接入难",
    "power_price": "高转供电价",
    "other": "其他",
    "none": "未报阻碍",
    "not_known": "当日未知（其后已离开该阶段）",
}
STAGE_EN = {
    "planned": "planned",
    "site_selection": "site selection",
    "site_access": "site access",
    "construction": "construction",
    "power_hookup": "power hook-up",
    "on_air": "on air",
    "unknown": "status unknown",
    PIPELINE_TOTAL: "pipeline total",
}
BLOCKER_EN = {
    "site_selection": "site selection",
    "site_access": "site access",
    "construction": "construction",
    "power_hookup": "power hook-up",
    "power_price": "high resold-power price",
    "other": "other",
    "none": "no blocker reported",
    "not_known": "not known on this date (left the stage since)",
}
_REQUIRED = ["station_id", "operator", "district", "status", "blocker", *DATE_COLUMNS]
#: The columns of a station table the task force reads: these, and OPTIONAL_STATION_COLUMNS when present.
STATION_COLUMNS = tuple(_REQUIRED)
OPTIONAL_STATION_COLUMNS = (
    "site_code",
    "name",
    "source_file",
    "off_air_date",
    *("blocker_detail", "responsible", "planned_on_air_date"),
)
#: What a tracking sheet said of a site beside its stage, carried to the supervision list as written when the
#: station table has them (cleaning adds them for the sheets that give them): the blocker in the sheet's own
#: words (卡点问题 as written), who is to solve it (协调责任单位) and the planned on-air date (计划开通时间).
SHEET_TEXT_COLUMNS = ("blocker_detail", "responsible")
PLANNED_ON_AIR = "planned_on_air_date"
#: The flag of a site in the pipeline whose blocker on the date is not known: it has left the stage it was in on
#: the date since (the blocker is reported on the extract, for the stage the site is in then). `blocker_keys`.
BLOCKER_NOT_KNOWN = "is_blocker_not_known"


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _timestamp(value, name: str) -> pd.Timestamp:
    return pd.Timestamp(parse_date(value, name))


def _check(stations: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in stations.columns]
    if missing:
        raise BadInputError(f"not a cleaned station table: missing columns {', '.join(missing)}")
    # a shallow copy: columns are replaced below, never written into (copy on write keeps the caller's
    # frame as it was), and a deep one copied every text column of 10^6 stations on every call
    out = pd.DataFrame(stations).copy(deep=False)
    if PLANNED_ON_AIR not in out.columns:  # (a sheet's plan: a table cleaned from reports alone has none)
        out[PLANNED_ON_AIR] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    for col in (*DATE_COLUMNS, PLANNED_ON_AIR):
        if out[col].dtype == "datetime64[ns]":  # already parsed (a cleaned table, or one checked before)
            continue
        try:
            out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
        except (ValueError, TypeError):
            raise BadInputError(f"column {col} holds values that are not dates") from None
    for col in ("site_code", "name", *SHEET_TEXT_COLUMNS):
        if col not in out.columns:
            out[col] = None
    return out


def _live(st: pd.DataFrame) -> pd.DataFrame:
    """The stations not decommissioned (the table itself when none is: no copy of 10^6 rows)."""
    dead = (st["status"] == "decommissioned").to_numpy(dtype=bool, na_value=False)
    return st[~dead] if dead.any() else st


def extract_date_of(stations: pd.DataFrame) -> pd.Timestamp | None:
    """The latest date in the stage-date columns: what the records know about, at the earliest."""
    frame = pd.DataFrame(stations)[DATE_COLUMNS]
    if all(frame[c].dtype == "datetime64[ns]" for c in DATE_COLUMNS):  # column by column, no 6 N-long copy
        found = [m for m in (frame[c].max() for c in DATE_COLUMNS) if pd.notna(m)]
        latest = max(found) if found else pd.NaT
    else:
        latest = pd.to_datetime(pd.Series(frame.to_numpy().ravel())).max()
    return None if pd.isna(latest) else pd.Timestamp(latest).normalize()


def stuck_days_of(city: City | str | None = None) -> dict[str, int]:
    """Stuck thresholds per stage: DEFAULT_STUCK_DAYS, overridden by `[taskforce] stuck_days` of city.toml."""
    out = dict(DEFAULT_STUCK_DAYS)
    if city is None:
        return out
    city = resolve_city(city)
    given = city.raw.get("taskforce", {}).get("stuck_days", {})
    path = city.folder / "city.toml"
    if not isinstance(given, dict):
        raise ConfigError("[taskforce] stuck_days must be a table of stage = days", path)
    for stage, days in given.items():
        if stage not in PIPELINE_STAGES:
            raise ConfigError(
                f"[taskforce] stuck_days has unknown stage {stage!r} (known: {', '.join(PIPELINE_STAGES)})", path
            )
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ConfigError(f"[taskforce] stuck_days.{stage} must be a whole number of days >= 1, got {days!r}", path)
        out[stage] = days
    return out


def previous_report_date(as_of) -> pd.Timestamp:
    """Same day a month earlier; a month end's previous report is the previous month end."""
    as_of = pd.Timestamp(as_of).normalize()
    prev = as_of - pd.DateOffset(months=1)
    if as_of.is_month_end:
        prev = prev + pd.offsets.MonthEnd(0)
    return prev.normalize()


# --------------------------------------------------------------------------------------------
# Stage of each site as of a date
# --------------------------------------------------------------------------------------------


def derive_stages(stations: pd.DataFrame, as_of, extract_date=None) -> pd.DataFrame:
    """One row per site that existed on `as_of`, with the stage it had reached then.

    A site with stage dates is in the latest stage reached on or before `as_of` (on air once its
    on_air_date <= as_of) and did not exist yet when all its dates are later. A site with no stage
    dates is counted in its reported status (as of the extract) and flagged `has_stage_dates=False`:
    exact for a report on or after the extract, an assumption before it. Decommissioned stations are
    left out. `blocker` is the blocker reported on the extract, kept only where the site is still in
    the same stage as on `as_of`; `blocker_note` says which.
    """
    as_of = _timestamp(as_of, "as_of")
    st = _check(stations)
    extract = _timestamp(extract_date, "extract_date") if extract_date is not None else extract_date_of(st)
    return _derive_checked(st, as_of, extract)


class StagesOn:
    """`derive_stages` of one station table, computed once per date and kept: `track_taskforce` asks
    for the same few dates (report, previous report, year start, extract) from every table it builds,
    and each call costs about 0.2 s at 10^5 sites. Call it with a date; treat the tables as read-only."""

    def __init__(self, stations: pd.DataFrame, extract_date=None):
        self.stations = _check(stations)
        self.extract = (
            _timestamp(extract_date, "extract_date") if extract_date is not None else extract_date_of(self.stations)
        )
        self._by_date: dict[pd.Timestamp, pd.DataFrame] = {}
        self._counted: dict[pd.Timestamp, pd.DataFrame] = {}
        self._spells: dict[pd.Timestamp, pd.DataFrame] = {}
        self._table: _DatedTable | None = None

    def __call__(self, as_of) -> pd.DataFrame:
        as_of = _timestamp(as_of, "as_of")
        if as_of not in self._by_date:
            self._by_date[as_of] = _derive_checked(self.stations, as_of, self.extract, self._dated_table())
        return self._by_date[as_of]

    def counted(self, as_of) -> pd.DataFrame:
        """The columns of `self(as_of)` that counts by stage read (district, stage, has_stage_dates,
        status_at_extract), the same rows: for the dates only counted (the previous report, the year
        start, the extract), without the names, dates and notes of every site (3 of the 4 tables
        derived per command, 10^6 rows each at national scale). The whole table when it is at hand."""
        as_of = _timestamp(as_of, "as_of")
        if as_of in self._by_date:
            return self._by_date[as_of][list(_COUNTED)]
        if as_of not in self._counted:
            self._counted[as_of] = _derive_checked(self.stations, as_of, self.extract, self._dated_table(), True)
        return self._counted[as_of]

    def _dated_table(self) -> _DatedTable:
        if self._table is None:  # what every date shares: the stage dates, the sort order, the text
            self._table = _DatedTable.of(self.stations)
        return self._table

    def spells(self, as_of) -> pd.DataFrame:
        """`_spells` of the same stations on `as_of` (the durations and the expected months both read them)."""
        as_of = _timestamp(as_of, "as_of")
        if as_of not in self._spells:
            self._spells[as_of] = _spells(self.stations, as_of)
        return self._spells[as_of]


#: What pandas makes of a column of strings (Arrow-backed where pyarrow is installed, as it is here).
_TEXT = pd.Series(["-"]).dtype
_ARROW_TEXT = getattr(_TEXT, "storage", None) == "pyarrow"


def _as_text(values) -> pd.api.extensions.ExtensionArray:
    """A column's values as the text dtype (missing values NaN); a column already of it as it is."""
    if getattr(values, "dtype", None) == _TEXT:
        return values
    return pd.array(np.asarray(values, dtype=object), dtype=_TEXT)


def _text_of_codes(labels, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """labels[codes] as the text dtype; in Arrow when it backs the text (8 x faster than a column of
    Python strings at 10^6 rows)."""
    if _ARROW_TEXT:
        import pyarrow as pa

        return pd.array(pa.array(list(labels), pa.large_string()).take(codes), dtype=_TEXT)
    return pd.array(np.array(labels, dtype=object)[codes], dtype=_TEXT)


def _text_where(cond: np.ndarray, a, b=None) -> pd.api.extensions.ExtensionArray:
    """Text arrays a where cond, else b (NaN when b is None), as `np.where` on their strings would."""
    if _ARROW_TEXT:
        import pyarrow as pa
        import pyarrow.compute as pc

        other = pa.nulls(len(cond), pa.large_string()) if b is None else pa.array(b)
        return pd.array(pc.if_else(pa.array(cond, pa.bool_()), pa.array(a), other), dtype=_TEXT)
    other = np.full(len(cond), None, dtype=object) if b is None else np.asarray(b, dtype=object)
    return pd.array(np.where(cond, np.asarray(a, dtype=object), other), dtype=_TEXT)


#: The text columns of a station that every date's stages carry along.
_SITE_TEXT = ("station_id", "site_code", "name", "operator", "district", *SHEET_TEXT_COLUMNS)


@dataclass
class _DatedTable:
    """What the derivation of every date reads from a checked station table, worked out once and in
    station_id order (one stable sort of the whole table: any subset of it is then in the order its
    own stable sort gives): the stage dates as one (sites x stages) array, the text columns, the
    status and the blocker as text. A date that keeps every site uses these arrays as they are."""

    dates: np.ndarray
    has_dates: np.ndarray
    live: np.ndarray
    text: dict
    status: pd.api.extensions.ExtensionArray
    blocker: pd.api.extensions.ExtensionArray | None
    #: each station's off-air date (退网; NaT none), None for a table without the column
    off: np.ndarray | None = None
    #: each station's planned on-air date as its sheet gave it (计划开通时间; NaT none)
    planned_on_air: np.ndarray | None = None

    def live_on(self, as_of: pd.Timestamp) -> np.ndarray:
        """The stations that exist on `as_of`: a station taken off air until its off-air date (it was on air
        before: the funnel left it out of every date); one decommissioned without a date, never."""
        if self.off is None:
            return self.live
        return np.where(np.isnat(self.off), self.live, self.off > np.datetime64(as_of, "ns"))

    @classmethod
    def of(cls, st: pd.DataFrame) -> _DatedTable:
        order = st["station_id"].reset_index(drop=True).sort_values(kind="stable", na_position="last").index
        order = None if order.equals(pd.RangeIndex(len(st))) else order.to_numpy()  # often sorted already

        def pick(values):
            return values if order is None else values.take(order)

        dates = st[DATE_COLUMNS].to_numpy(dtype="datetime64[ns]")
        dates = dates if order is None else dates[order]
        return cls(
            dates=dates,
            has_dates=~np.isnat(dates).all(axis=1),
            live=pick((st["status"] != "decommissioned").to_numpy(dtype=bool)),
            text={c: pick(st[c].array) for c in _SITE_TEXT},
            status=pick(_as_text(st["status"].array)),
            # typed as the whole column is: a date on which none of the sites kept has a blocker gives the same
            blocker=pick(_as_text(st["blocker"].array)) if st["blocker"].notna().any() else None,
            off=pick(pd.to_datetime(st["off_air_date"]).to_numpy(dtype="datetime64[ns]"))
            if "off_air_date" in st.columns
            else None,
            planned_on_air=pick(st[PLANNED_ON_AIR].to_numpy(dtype="datetime64[ns]")),
        )


#: The columns of a date's stages that counts by stage read (`StagesOn.counted`).
_COUNTED = ("district", "stage", "has_stage_dates", "status_at_extract")


def _derive_checked(
    st: pd.DataFrame,
    as_of: pd.Timestamp,
    extract: pd.Timestamp | None,
    table: _DatedTable | None = None,
    counted_only: bool = False,
) -> pd.DataFrame:
    """`derive_stages` of a table already through `_check`, with the dates already parsed; `table`:
    its `_DatedTable`, if at hand; `counted_only`: only the columns of _COUNTED."""
    t = table or _DatedTable.of(st)
    reached = ~np.isnat(t.dates) & (t.dates <= np.datetime64(as_of, "ns"))
    # a site without stage dates is known to exist from the records it came in on (the extract) only: counted
    # on a date before it, it was "in the pipeline all year" and its first month showed no change
    kept = t.live_on(as_of) & (reached.any(axis=1) | (~t.has_dates & _undated_known_on(as_of, extract)))
    keep = None if kept.all() else np.flatnonzero(kept)  # in station_id order: no sort per date

    def pick(values):
        # the text columns keep their dtype and stay in Arrow (turning 10^6 strings into Python
        # objects and back, column by column, was most of this function's time)
        return values if keep is None else values[keep] if isinstance(values, np.ndarray) else values.take(keep)

    has_dates, reached, status = pick(t.has_dates), pick(reached), pick(t.status)
    n = len(has_dates)
    last = len(STAGES) - 1 - np.argmax(reached[:, ::-1], axis=1)
    stage = _text_where(has_dates, _text_of_codes(STAGES, last), status)
    if counted_only:
        counted = {"district": pick(t.text["district"]), "stage": stage, "has_stage_dates": has_dates}
        return pd.DataFrame({**counted, "status_at_extract": status})
    dates = pick(t.dates)
    stage_date = pd.Series(np.where(has_dates, dates[np.arange(n), last], np.datetime64("NaT", "ns")))
    stage_s = pd.Series(stage)
    on_air = (stage_s == "on_air").to_numpy(dtype=bool)
    same = (stage_s == pd.Series(status)).to_numpy(dtype=bool) & ~on_air
    if t.blocker is None:  # no blocker anywhere: the column holds None, as a where() on the empty column gives
        blocker = np.full(n, None, dtype=object)
    else:
        blocker = pick(t.blocker)
        blocker = _text_where(same & pd.notna(blocker), blocker)
    ext = extract.date().isoformat() if extract is not None else "the extract"
    notes = [
        "",
        f"current blocker, as reported on {ext}",
        f"no blocker reported on {ext}",
        f"site left this stage after {as_of.date()}: its blocker on that date is not known",
        f"no stage dates: counted in its status reported on {ext}, from a month before that date on"
        + ("" if extract is not None else " (the records give no date: assumed unchanged)")
        + "; days in stage unknown",
    ]
    # a site in the pipeline in another stage than it reported on the extract has left the date's stage since:
    # what held it then is not known (a fact the charts, pages and levers read from this column, not the note)
    left = ~same & ~on_air & has_dates
    which = np.where(same, np.where(pd.notna(blocker), 1, 2), 3)
    which = np.where(on_air, 0, which)
    which[~has_dates] = 4
    # one frame built at once, in its columns' order (a column added at a time copied the frame each time)
    return pd.DataFrame(
        {
            **{c: pick(t.text[c]) for c in _SITE_TEXT},
            "stage": stage,
            "stage_date": stage_date,
            "days_in_stage": (as_of - stage_date).dt.days.astype("Int64"),
            "has_stage_dates": has_dates,
            "blocker": blocker,
            BLOCKER_NOT_KNOWN: left,
            "blocker_note": _text_of_codes(notes, which),
            "status_at_extract": status,
            **{col: dates[:, i] for i, col in enumerate(DATE_COLUMNS)},
            PLANNED_ON_AIR: pick(t.planned_on_air),
        }
    )


#: How long before the extract a site without stage dates counts in its reported stage. The records say how things
#: stood on the day they were received, and the monthly report they feed is dated up to a month before it (records
#: received on 10-15 make the report of 09-30: counting none of their undated sites there said "no site in the
#: pipeline" of a tracker listing 14); on earlier dates (the month before, the year start) nothing shows they existed.
UNDATED_LOOKBACK = pd.DateOffset(months=1)


def undated_counted_from(extract: pd.Timestamp) -> pd.Timestamp:
    """The first date a site without stage dates in records received on `extract` counts on."""
    return pd.Timestamp(extract) - UNDATED_LOOKBACK


def _undated_known_on(as_of: pd.Timestamp, extract: pd.Timestamp | None) -> bool:
    """Whether a site without stage dates counts on `as_of`: from a month before the extract it came in on
    (`UNDATED_LOOKBACK`); always when the records give no date at all (nothing else can be said of them)."""
    return extract is None or as_of >= undated_counted_from(extract)


def _in_pipeline(sites: pd.DataFrame) -> pd.Series:
    return sites["stage"] != "on_air"


def blocker_keys(sites: pd.DataFrame) -> pd.Series:
    """Each site's blocker as the charts, the pages and the levers count it: the reported one, 'not_known'
    when the stage flagged it BLOCKER_NOT_KNOWN (the site has left the stage it was in on the date since, so its
    blocker then is not known), else 'none' (no blocker reported). One rule for all three: the lever table called
    the unknown ones 'none'. `sites`: the stages of a date (`derive_stages`, the supervision list, or the sites.csv
    the stage wrote, the flag as text); a table without the flag was written by an older stage: a typed error,
    never a guess from the note's words (the report reruns a stage whose code changed, so it never reads one)."""
    if BLOCKER_NOT_KNOWN not in sites.columns:
        raise BadInputError(
            f"the sites' stages have no column {BLOCKER_NOT_KNOWN} (written by an older version): run the "
            "taskforce stage again"
        )
    left = flags_of(sites[BLOCKER_NOT_KNOWN]).to_numpy(bool)
    return sites["blocker"].where(sites["blocker"].notna(), np.where(left, "not_known", "none"))


# --------------------------------------------------------------------------------------------
# Funnel
# --------------------------------------------------------------------------------------------


def _district_order(sites: pd.DataFrame, districts=None) -> list[str]:
    known = list(districts or [])
    return known + sorted(set(sites["district"].dropna().unique().tolist()) - set(known))


def _count(sites: pd.DataFrame, districts: list[str]) -> pd.DataFrame:
    stages = list(STAGES) + (["unknown"] if (sites["stage"] == "unknown").any() else [])
    by = sites.groupby(["district", "stage"]).size().unstack(fill_value=0)
    by = by.reindex(index=districts, columns=stages, fill_value=0)
    by.loc[CITY_TOTAL] = by.sum()
    return by


def build_funnel(
    stations: pd.DataFrame, as_of, extract_date=None, districts=None, previous=None, stages_on: StagesOn | None = None
) -> pd.DataFrame:
    """Sites per stage and district on `as_of` and on the previous report date (a month earlier;
    the previous month end for a month end), with the change. Stage `on_air` is cumulative (every
    station on air by then, so a site that goes on air leaves the pipeline and joins it);
    `pipeline_total` adds up the stages before on air. `undated_sites` (`undated_sites_previous`) counts sites
    with no stage dates, counted in their reported status; the change counts only the sites with stage dates.
    `stages_on`: a `StagesOn` of the same stations, if at hand."""
    as_of = _timestamp(as_of, "as_of")
    previous = _timestamp(previous, "previous") if previous is not None else previous_report_date(as_of)
    stages_on = stages_on or StagesOn(stations, extract_date)
    now, before = stages_on(as_of), stages_on.counted(previous)
    order = _district_order(pd.concat([now[["district"]], before[["district"]]]), districts)
    c_now, c_before = _count(now, order), _count(before, order)
    cols = c_now.columns.union(c_before.columns, sort=False)
    c_now, c_before = c_now.reindex(columns=cols, fill_value=0), c_before.reindex(columns=cols, fill_value=0)
    # one table per quantity, then stacked: a lookup per district and stage costs minutes at 10^4 districts
    undated, undated_before = (
        _count(t[~t["has_stage_dates"]], order).reindex(columns=cols, fill_value=0) for t in (now, before)
    )
    pipe = [c for c in cols if c != "on_air"]
    tables = []
    for t in (c_now, c_before, undated, undated_before):
        t = t.assign(**{PIPELINE_TOTAL: t[pipe].sum(axis=1)})
        tables.append(t.to_numpy(dtype=np.int64).ravel())
    n, p, u, up = tables
    stages = [*cols, PIPELINE_TOTAL]
    stage = np.tile(np.array(stages, dtype=object), len(c_now.index))
    note = np.where(stage == "on_air", "cumulative: on air on or before the date", "").astype(object)
    said = "without stage dates, counted in their reported status from a month before the extract on"
    note[u > 0] = [f"{k} {said}" for k in u[u > 0]]
    return pd.DataFrame(
        {
            "as_of": as_of,
            "previous_as_of": previous,
            "district": np.repeat(np.array(c_now.index, dtype=object), len(stages)),
            "stage": stage,
            "stage_zh": [STAGE_ZH.get(s, s) for s in stage],
            "sites": n,
            "sites_previous": p,
            "change": count_dated_change(n, u, p, up),
            "undated_sites": u,
            "undated_sites_previous": up,
            "note": note,
        }
    )


def count_dated_change(sites, undated, sites_previous, undated_previous):
    """A funnel cell's change between two dates, among the sites with stage dates: when a site without them
    entered its stage is not known, so its first month counted "+1" and every month a later extract came in
    counted it new again. The one rule for the stage's funnel and a report's funnel counted since another date."""
    return (sites - undated) - (sites_previous - undated_previous)


# --------------------------------------------------------------------------------------------
# Supervision list
# --------------------------------------------------------------------------------------------


def list_stuck_sites(
    stations: pd.DataFrame,
    as_of,
    stuck_days: dict | None = None,
    extract_date=None,
    stages_on: StagesOn | None = None,
) -> pd.DataFrame:
    """The supervision list (督办清单): every site in the pipeline on `as_of` longer in its stage than
    the stage's threshold, longest first. A site whose time in stage is unknown (no stage dates) is not
    on it: nothing shows it overdue (`list_undated_sites` lists those apart). Beside each site what its
    sheet said when the stations carry it: the blocker as written, who is responsible, the planned on-air
    date and the days since it passed. `stages_on`: a `StagesOn` of the same stations, if at hand."""
    thresholds = {**DEFAULT_STUCK_DAYS, **(stuck_days or {})}
    as_of = _timestamp(as_of, "as_of")
    sites = (stages_on or StagesOn(stations, extract_date))(as_of)
    sites = sites[_in_pipeline(sites)].copy()
    sites["threshold_days"] = sites["stage"].map(thresholds).astype("Int64")
    over = (sites["days_in_stage"] > sites["threshold_days"]).fillna(False).astype(bool)
    out = sites[over & sites["has_stage_dates"]].copy()
    out["days_over"] = (out["days_in_stage"] - out["threshold_days"]).astype("Int64")
    out["reason"] = "in stage longer than the threshold"
    out = out.sort_values(["days_in_stage", "station_id"], ascending=[False, True], kind="stable")
    return _supervision_columns(out, as_of)


def list_undated_sites(
    stations: pd.DataFrame, as_of, extract_date=None, stages_on: StagesOn | None = None
) -> pd.DataFrame:
    """The sites in the pipeline on `as_of` without stage dates: time in stage unknown, so neither on the
    supervision list nor cleared of it. The same columns as `list_stuck_sites`, those past their planned
    on-air date first (longest past first), then by how far the site has come (a later stage first)."""
    as_of = _timestamp(as_of, "as_of")
    return order_undated_sites((stages_on or StagesOn(stations, extract_date))(as_of), as_of)


def order_undated_sites(sites: pd.DataFrame, as_of) -> pd.DataFrame:
    """`list_undated_sites` from the stages of a date already derived (`derive_stages`, or the sites.csv
    the stage wrote: dates as text are read, optional columns may be missing)."""
    as_of = _timestamp(as_of, "as_of")
    sites = sites.copy()
    for col in (*SHEET_TEXT_COLUMNS, "site_code", "name", "stage_date", "days_in_stage", "blocker_note"):
        if col not in sites.columns:
            sites[col] = None
    for col in (PLANNED_ON_AIR, "stage_date"):
        sites[col] = _dates_or_nat(sites, col)
    undated = ~flags_of(sites["has_stage_dates"])
    out = sites[_in_pipeline(sites) & undated].copy()
    out["has_stage_dates"] = False
    out[BLOCKER_NOT_KNOWN] = False  # (its stage is the one it reported: its blocker, if any, is the one reported)
    out["threshold_days"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["days_over"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["reason"] = "no stage dates: time in stage unknown"
    past = (as_of - out[PLANNED_ON_AIR]).dt.days
    out["_past"] = past.where(past > 0).fillna(-1)
    out["_stage"] = out["stage"].map({s: i for i, s in enumerate(PIPELINE_STAGES)}).fillna(-1)
    out = out.sort_values(["_past", "_stage", "station_id"], ascending=[False, False, True], kind="stable")
    return _supervision_columns(out, as_of)


def _dates_or_nat(frame: pd.DataFrame, col: str) -> pd.Series:
    """A date column of `frame` (text as read back from a CSV is parsed), all NaT when it has none."""
    if col not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[col]).astype("datetime64[ns]")


#: The columns of the supervision list and of the list of sites whose time in stage is unknown.
SUPERVISION_COLUMNS = [
    "rank",
    "as_of",
    "station_id",
    "site_code",
    "name",
    "district",
    "operator",
    "stage",
    "stage_zh",
    "stage_date",
    "days_in_stage",
    "threshold_days",
    "days_over",
    "blocker",
    "blocker_zh",
    BLOCKER_NOT_KNOWN,
    "blocker_note",
    "blocker_detail",
    "responsible",
    PLANNED_ON_AIR,
    "days_past_planned_on_air",
    "has_stage_dates",
    "reason",
]


def _supervision_columns(out: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The sorted sites `out` as SUPERVISION_COLUMNS: ranked, with the stage and blocker in Chinese and the
    days since the planned on-air date (negative: still ahead; NA: the sheet gave none)."""
    out = out.copy()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.insert(1, "as_of", as_of)
    out["stage_zh"] = out["stage"].map(lambda s: STAGE_ZH.get(s, s))
    out["blocker_zh"] = out["blocker"].map(lambda b: BLOCKER_ZH.get(b, b) if isinstance(b, str) else None)
    out["days_past_planned_on_air"] = (as_of - out[PLANNED_ON_AIR]).dt.days.astype("Int64")
    return out[SUPERVISION_COLUMNS].reset_index(drop=True)


#: The columns of `rank_blockers_by_record`.
BLOCKER_RANK_COLUMNS = [
    "blocker",
    "blocker_zh",
    "sites",
    "sites_past_planned_on_air",
    "max_days_past_planned_on_air",
    "furthest_stage",
    "furthest_stage_zh",
    "sites_stage_unknown",
]


def rank_blockers_by_record(sites: pd.DataFrame, as_of) -> pd.DataFrame:
    """The blockers of the sites in the pipeline on `as_of` (`derive_stages`, or the sites.csv the stage
    wrote) ranked by what the records say when the stage durations are not known, so that what freeing a
    blocker gains cannot be estimated: most sites past their planned on-air date first, then the longest
    past it, then the furthest stage a site of it has reached (nearest to air), then the most sites. One
    row per blocker as `blocker_keys` counts them (BLOCKER_RANK_COLUMNS)."""
    as_of = _timestamp(as_of, "as_of")
    pipe = sites[_in_pipeline(sites)].copy()
    if not len(pipe):
        return pd.DataFrame(columns=BLOCKER_RANK_COLUMNS)
    planned = _dates_or_nat(pipe, PLANNED_ON_AIR)
    past = (as_of - planned).dt.days
    pipe["_past"] = past.where(past > 0)
    pipe["_stage"] = pipe["stage"].map({s: i for i, s in enumerate(PIPELINE_STAGES)})
    pipe["_key"] = blocker_keys(pipe).to_numpy()
    rows = []
    for key, g in pipe.groupby("_key", sort=True):
        furthest = g["_stage"].max()
        stage = PIPELINE_STAGES[int(furthest)] if pd.notna(furthest) else None
        rows.append(
            {
                "blocker": key,
                "blocker_zh": BLOCKER_ZH.get(key, key),
                "sites": len(g),
                "sites_past_planned_on_air": int(g["_past"].notna().sum()),
                "max_days_past_planned_on_air": g["_past"].max(),
                "furthest_stage": stage,
                "furthest_stage_zh": STAGE_ZH.get(stage) if stage else None,
                "sites_stage_unknown": int(g["_stage"].isna().sum()),
                "_rank_stage": -1 if pd.isna(furthest) else int(furthest),
            }
        )
    out = pd.DataFrame(rows)
    out["max_days_past_planned_on_air"] = out["max_days_past_planned_on_air"].astype("Int64")
    out = out.sort_values(
        ["sites_past_planned_on_air", "max_days_past_planned_on_air", "_rank_stage", "sites", "blocker"],
        ascending=[False, False, False, False, True],
        na_position="last",
        kind="stable",
    )
    return out[BLOCKER_RANK_COLUMNS].reset_index(drop=True)


def stages_without_history(durations: pd.DataFrame) -> list[str]:
    """The pipeline stages no site has been seen to complete by the date (`measure_stage_durations`): what
    a site still has to pass through there has no measured duration, so no date and no gain from freeing."""
    d = durations[durations["stage"].isin(PIPELINE_STAGES)]
    return [str(s) for s, k in zip(d["stage"], d["n_completed"]) if not k]


# --------------------------------------------------------------------------------------------
# Stage durations and the bottom-up forecast
# --------------------------------------------------------------------------------------------


def _km_median(durations: np.ndarray, observed: np.ndarray) -> float:
    """Kaplan-Meier median of right-censored durations: sites still in the stage count as 'at least'."""
    if len(durations) == 0 or not observed.any():
        return math.nan
    surv = 1.0
    for t in np.unique(durations[observed]):
        at_risk = (durations >= t).sum()
        surv *= 1 - ((durations == t) & observed).sum() / at_risk
        if surv <= 0.5:
            return float(t)
    return math.nan


def _spells(stations: pd.DataFrame, as_of: pd.Timestamp, season=None) -> pd.DataFrame:
    """Every stage spell started by `as_of` and followed by a dated next stage: its length in days,
    completed (the next stage reached by `as_of`) or still running (censored at `as_of`); in
    working days of the construction season (`season.working_days`) when `season` factors are given."""
    st = _check(stations)
    st = _live(st)
    rows = []
    for stage, nxt in zip(STAGES[:-1], STAGES[1:]):
        start, end = st[STAGE_DATE_COLUMNS[stage]], st[STAGE_DATE_COLUMNS[nxt]]
        begun = start.notna() & (start <= as_of)
        done = begun & end.notna() & (end <= as_of)
        # still running: the site had not reached the next stage (or any later one) by as_of
        later = st[[STAGE_DATE_COLUMNS[s] for s in STAGES[STAGES.index(nxt) :]]]
        running = begun & ~done & ~(later.notna() & (later <= as_of)).any(axis=1)
        rows.append(
            pd.DataFrame({"stage": stage, "days": working_days(start[done], end[done], season), "completed": True})
        )
        rows.append(
            pd.DataFrame({"stage": stage, "days": working_days(start[running], as_of, season), "completed": False})
        )
    return pd.concat(rows, ignore_index=True)


def measure_stage_durations(stations: pd.DataFrame, as_of, stages_on: StagesOn | None = None) -> pd.DataFrame:
    """Days spent in each stage before the next, from the spells completed by `as_of` (both stage
    dates given and on or before it): count, median, quartiles, range; and the Kaplan-Meier median
    that also counts the sites still in the stage (longer waits than the completed ones show).
    A last row `planned_to_on_air` gives the whole lead time of the sites on air by then.
    `stages_on`: a `StagesOn` of the same stations, if at hand."""
    as_of = _timestamp(as_of, "as_of")
    spells = stages_on.spells(as_of) if stages_on is not None else _spells(stations, as_of)
    rows = []
    for stage, nxt in zip(STAGES[:-1], STAGES[1:]):
        s = spells[spells["stage"] == stage]
        done = s.loc[s["completed"], "days"].to_numpy(dtype=float)
        rows.append(
            _duration_row(
                stage,
                nxt,
                done,
                s["days"].to_numpy(dtype=float),
                s["completed"].to_numpy(),
                int((~s["completed"]).sum()),
            )
        )
    st = stages_on.stations if stages_on is not None else _check(stations)
    lead_ok = st["planned_date"].notna() & st["on_air_date"].notna() & (st["on_air_date"] <= as_of)
    lead = (st.loc[lead_ok, "on_air_date"] - st.loc[lead_ok, "planned_date"]).dt.days.to_numpy(dtype=float)
    rows.append(_duration_row("planned_to_on_air", "on_air", lead, lead, np.ones(len(lead), bool), 0))
    out = pd.DataFrame(rows)
    out.insert(0, "as_of", as_of)
    return out


def _duration_row(stage, nxt, done, all_days, observed, n_running) -> dict:
    q = (lambda p: round(float(np.percentile(done, p)), 1)) if len(done) else (lambda p: math.nan)
    km = _km_median(all_days, observed)
    return {
        "stage": stage,
        "stage_zh": STAGE_ZH.get(stage, "规划至开通"),
        "next_stage": nxt,
        "n_completed": len(done),
        "n_in_stage": n_running,
        "median_days": q(50),
        "p25_days": q(25),
        "p75_days": q(75),
        "min_days": float(done.min()) if len(done) else math.nan,
        "max_days": float(done.max()) if len(done) else math.nan,
        "km_median_days": round(km, 1) if not math.isnan(km) else math.nan,
    }


def forecast_on_air_months(
    stations: pd.DataFrame, as_of, extract_date=None, stages_on: StagesOn | None = None
) -> pd.DataFrame:
    """Expected on-air date and month of every site in the pipeline on `as_of`, bottom up from the
    stage durations observed by then: the rest of the current stage (the median of the completed
    spells longer than the time already spent, or a whole median again when the site has waited
    longer than any completed spell, i.e. from when its blocker clears) plus the median of each
    later stage. A site with no stage dates gets a whole current stage from `as_of`. No date when a
    stage has no completed spell yet. `stages_on`: a `StagesOn` of the same stations, if at hand."""
    as_of = _timestamp(as_of, "as_of")
    stages_on = stages_on or StagesOn(stations, extract_date)
    sites = stages_on(as_of)
    sites = sites[_in_pipeline(sites)].copy()
    spells = stages_on.spells(as_of)
    done = {
        s: np.sort(spells.loc[(spells["stage"] == s) & spells["completed"], "days"].to_numpy(dtype=float))
        for s in PIPELINE_STAGES
    }
    median = {s: float(np.median(d)) if len(d) else math.nan for s, d in done.items()}
    remaining, basis = [], []
    for stage, spent in zip(sites["stage"], sites["days_in_stage"]):
        if stage not in PIPELINE_STAGES:
            remaining.append(math.nan)
            basis.append("status unknown: no forecast")
            continue
        later = sum(median[s] for s in PIPELINE_STAGES[PIPELINE_STAGES.index(stage) + 1 :])
        d = done[stage]
        # d is sorted: the longer spells are d[k:], their median its middle (a scan of every completed
        # spell per site made this quadratic: minutes at 10^6 stations)
        k = d.searchsorted(spent, side="right") if not pd.isna(spent) else len(d)
        if pd.isna(spent):
            rest, why = median[stage], "no stage dates: a whole median stage from the report date"
        elif k < len(d):
            m = len(d) - k
            middle = (d[k + (m - 1) // 2] + d[k + m // 2]) / 2  # as np.median: the mean of the middle two
            rest, why = float(middle) - float(spent), "median of longer completed spells"
        else:
            rest, why = (
                median[stage],
                (
                    "overdue: waited longer than every completed spell; a whole median stage from the report date"
                    if len(d)
                    else ""
                ),
            )
        total = rest + later
        if math.isnan(total):
            missing = [s for s in PIPELINE_STAGES[PIPELINE_STAGES.index(stage) :] if math.isnan(median[s])]
            why = f"no completed spell yet of {', '.join(missing)}: no forecast"
        remaining.append(total)
        basis.append(why)
    sites["remaining_days"] = np.round(np.array(remaining, dtype=float), 1)
    sites["expected_on_air_date"] = as_of + pd.to_timedelta(np.ceil(sites["remaining_days"]), unit="D")
    sites["expected_on_air_month"] = sites["expected_on_air_date"].dt.strftime("%Y-%m")
    sites["forecast_basis"] = basis
    sites.insert(0, "as_of", as_of)
    cols = [
        "as_of",
        "station_id",
        "site_code",
        "name",
        "district",
        "operator",
        "stage",
        "stage_date",
        "days_in_stage",
        "has_stage_dates",
        "blocker",
        "remaining_days",
        "expected_on_air_date",
        "expected_on_air_month",
        "forecast_basis",
    ]
    return (
        sites[cols]
        .sort_values(["expected_on_air_date", "station_id"], na_position="last", kind="stable")
        .reset_index(drop=True)
    )


def forecast_bottom_up(
    stations: pd.DataFrame, as_of, horizon: int = 12, extract_date=None, expected: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Stations on air expected at each month end from the report month on, counting only the
    sites already in the pipeline on `as_of` (sites planned later are not in it: a lower bound
    beside the statistical forecast). `expected` is `forecast_on_air_months`' table if at hand."""
    as_of = _timestamp(as_of, "as_of")
    if not isinstance(horizon, int) or horizon < 1:
        raise UsageError(f"horizon must be a whole number of months >= 1, got {horizon!r}")
    st = _check(stations)
    if expected is None:
        expected = forecast_on_air_months(st, as_of, extract_date)
    on_air = int(on_air_at(st, as_of).sum())
    ends = pd.date_range(as_of + pd.offsets.MonthEnd(0), periods=horizon + 1, freq="ME")
    dates = expected["expected_on_air_date"]
    rows, prev = [], on_air
    for end in ends:
        n = on_air + int((dates <= end).sum())
        rows.append(
            {
                "as_of": as_of,
                "month_end": end,
                "on_air_expected": n,
                "added_expected": n - prev,
                "pipeline_left": int(len(expected) - (dates <= end).sum()),
                "no_forecast": int(dates.isna().sum()),
            }
        )
        prev = n
    return pd.DataFrame(rows)


def _km_support(durations: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier distribution of a stage's duration: the completed durations and their
    probability masses; the mass left beyond the longest completed one (sites still waiting
    longer than any finished) is returned as a last point at infinity."""
    times = np.unique(durations[observed])
    if len(times) == 0:
        return np.array([np.inf]), np.array([1.0])
    # the counts at every time at once (one pass over the spells per time took 1 s at 10^5 spells)
    at_risk = len(durations) - np.sort(durations).searchsorted(times, side="left")
    ended = np.bincount(times.searchsorted(durations[observed]), minlength=len(times))
    surv, masses = 1.0, []
    for n_ended, n_at_risk in zip(ended, at_risk):
        drop = surv * n_ended / n_at_risk
        masses.append(drop)
        surv -= drop
    return np.r_[times, np.inf], np.r_[masses, max(surv, 0.0)]


def _choice_cdf(p: np.ndarray) -> np.ndarray:
    """The cumulative distribution `Generator.choice(a, p=p)` searches: the same float operations, so
    a uniform drawn here picks exactly what `choice` would pick from it."""
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return cdf


#: Uniforms are mapped through a table of 2**14 equal bins (a power of two: u * bins and the bin edges
#: are exact in floating point); a bin holding no step of the distribution gives its answer without a
#: search, the few others are searched. Worth it from this many uniforms on (3-4 x a plain search of a
#: group of a few sites at 2,000 paths), the table built once per distribution (`_StageDraw`).
_TABLE_BINS = 1 << 14
_TABLE_MIN_UNIFORMS = 4096


def _lookup_table(cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bin of [0, 1): the steps of `cdf` at or below its start, and those below its end."""
    edges = np.arange(_TABLE_BINS + 1) / _TABLE_BINS
    return cdf.searchsorted(edges[:-1], side="right"), cdf.searchsorted(edges[1:], side="left")


def _inverse_cdf(cdf: np.ndarray, u: np.ndarray, table: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """`cdf.searchsorted(u, side="right")`, the index `Generator.choice` picks for each uniform: the
    same numbers, by table lookup (`table`: `_lookup_table(cdf)` if at hand) where a bin of [0, 1)
    holds no step of `cdf`."""
    if u.size < _TABLE_MIN_UNIFORMS:
        return cdf.searchsorted(u, side="right")
    low, high = table if table is not None else _lookup_table(cdf)
    b = (u * _TABLE_BINS).astype(np.intp)
    idx = low[b]
    search = idx != high[b]  # a step inside the bin: search these
    idx[search] = cdf.searchsorted(u[search], side="right")
    return idx


@dataclass(frozen=True)
class _StageDraw:
    """How the days left in one stage are drawn from its Kaplan-Meier distribution: a whole stage, or
    the rest of one a site has spent some days in (`given`: the distribution beyond them, the same for
    every number of days between two completed durations). `blocks` uniforms per path: 0 (no completed
    spell, inf days), 1 (a fresh whole stage only) or 2 (a fresh one and a draw from the distribution)."""

    times: np.ndarray
    fresh_cdf: np.ndarray | None
    draw_cdf: np.ndarray | None
    given: bool
    _tables: dict = field(default_factory=dict, compare=False, repr=False)

    def table(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """The lookup table of the "fresh" or the "draw" distribution, built on first use."""
        if which not in self._tables:
            self._tables[which] = _lookup_table(self.fresh_cdf if which == "fresh" else self.draw_cdf)
        return self._tables[which]

    def pick(self, which: str, u: np.ndarray) -> np.ndarray:
        """`_inverse_cdf` of the "fresh" or the "draw" distribution (its table kept for the next call)."""
        cdf = self.fresh_cdf if which == "fresh" else self.draw_cdf
        return _inverse_cdf(cdf, u, self.table(which) if u.size >= _TABLE_MIN_UNIFORMS else None)

    @classmethod
    def of(cls, support, first: int | None = None) -> _StageDraw:
        """`first`: the index of the first duration longer than the days spent (None: a whole stage)."""
        times, mass = support
        if not np.isfinite(times[0]):
            return cls(times, None, None, first is not None)
        finite = np.isfinite(times)
        p = mass if first is None else np.where(np.arange(len(times)) >= first, mass, 0.0)
        draw = _choice_cdf(p / p.sum()) if p.sum() > 0 else None
        return cls(times, _choice_cdf(mass[finite] / mass[finite].sum()), draw, first is not None)

    @property
    def blocks(self) -> int:
        return 0 if self.fresh_cdf is None else 1 if self.draw_cdf is None else 2

    def days(self, fresh_u: np.ndarray, draw_u: np.ndarray | None, spent: np.ndarray) -> np.ndarray:
        """Days left (sites x paths) from the uniforms `choice` would have drawn, given each site's days
        `spent` (a column; ignored for a whole stage). A wait beyond every completed spell (the censored
        tail) lasts as long again as it has already lasted (a whole stage: the longest completed one),
        then a whole stage: the median residual of a wait with no known end is about the time waited."""
        if self.fresh_cdf is None:
            return np.full(fresh_u.shape, np.inf)
        finite = self.times[np.isfinite(self.times)]
        waited = spent[:, None] if self.given else float(finite.max())
        if self.draw_cdf is None:
            return waited + finite[self.pick("fresh", fresh_u)]
        days = self.times[self.pick("draw", draw_u)] - (spent[:, None] if self.given else 0.0)
        return self.wait_out_censored(days, waited, lambda tail: fresh_u[tail])

    def wait_out_censored(self, days: np.ndarray, waited, uniforms) -> np.ndarray:
        """Where `days` is inf (the censored tail: no known end), `waited` (days, or a column of them)
        and then a fresh whole stage, read from `uniforms(tail)` (the uniforms of those entries only,
        asked for only when there are any): the median residual of a wait with no known end is about
        the time waited."""
        tail = ~np.isfinite(days)
        if tail.any():
            finite = self.times[np.isfinite(self.times)]
            days[tail] = np.broadcast_to(waited, days.shape)[tail] + finite[self.pick("fresh", uniforms(tail))]
        return days


#: Pipeline sites simulated per block of uniforms (at 2,000 paths the block's uniforms take at most
#: about 100 MB).
_SITES_PER_BLOCK = 1024


def _site_draws(stages: np.ndarray, spent: np.ndarray, is_freed: np.ndarray, support: dict) -> list[list]:
    """Per site, what it draws in order: the rest of its current stage ("freed": a uniform day of the
    month; else a `_StageDraw` given its days spent, NaN: a whole stage) and every later stage whole."""
    whole = {s: _StageDraw.of(support[s]) for s in PIPELINE_STAGES}
    given: dict[tuple, _StageDraw] = {}
    plans = []
    for stage, days, freed in zip(stages, spent, is_freed):
        if freed:
            first = "freed"
        elif np.isnan(days):
            first = whole[stage]
        else:
            key = (stage, int(support[stage][0].searchsorted(days, side="right")))  # durations > days from here
            if key not in given:
                given[key] = _StageDraw.of(support[stage], key[1])
            first = given[key]
        later = [whole[s] for s in PIPELINE_STAGES[PIPELINE_STAGES.index(stage) + 1 :]]
        plans.append([first, *later])
    return plans


def _simulate_sites(plans: list[list], spent: np.ndarray, rng, n_paths: int, month_left: int) -> np.ndarray:
    """(len(plans), n_paths) days to air, drawing the uniforms in the order a site-by-site loop of
    `Generator.choice` and `Generator.uniform` calls draws them (same stream, same numbers), but
    turning them into days a group of sites with one distribution at a time."""
    blocks = [sum(1 if d == "freed" else d.blocks for d in plan) for plan in plans]
    u = rng.random((sum(blocks), n_paths))
    pos = np.concatenate([[0], np.cumsum(blocks)[:-1]]).astype(int)
    out = np.zeros((len(plans), n_paths))
    for k in range(max(len(p) for p in plans)):  # k-th draw of every site, so each site's sum keeps its order
        groups: dict[int, tuple] = {}  # sites drawing from one distribution (one object) at step k
        for j, plan in enumerate(plans):
            if k < len(plan):
                groups.setdefault(id(plan[k]), (plan[k], []))[1].append(j)
        for draw, sites in groups.values():
            sites = np.asarray(sites)
            rows = pos[sites]
            if draw == "freed":
                part, used = month_left * u[rows], 1
            elif draw.blocks == 0:  # no spell of the stage completed yet: no basis for a date, no uniform drawn
                part, used = np.full((len(sites), n_paths), np.inf), 0
            else:
                used = draw.blocks
                part = draw.days(u[rows], u[rows + 1] if used == 2 else None, spent[sites])
            out[sites] = part if k == 0 else out[sites] + part
            pos[sites] += used
    return out


@dataclass(frozen=True)
class PipelineDurations:
    """What the days to air of the pipeline sites on `as_of` are drawn from, worked out once: the sites
    (as `derive_stages`, in station_id order), each one's stage (an index into PIPELINE_STAGES) and
    days spent in it (NaN: unknown), each stage's Kaplan-Meier durations (`_km_support`), and the
    days left in the month (a freed site finishes its stage within them)."""

    as_of: pd.Timestamp
    sites: pd.DataFrame
    stage_index: np.ndarray
    spent_days: np.ndarray
    support: dict
    month_left: int


def measure_pipeline_durations(
    stations: pd.DataFrame, as_of, extract_date=None, season=None, stages_on: StagesOn | None = None
) -> PipelineDurations:
    """The pipeline sites on `as_of` and the stage durations observed by then (sites still waiting
    counted as censored), in working days of the construction season when `season` (12 monthly
    factors) is given. `stages_on`: a `StagesOn` of the same stations, if at hand."""
    as_of = _timestamp(as_of, "as_of")
    stages_on = stages_on or StagesOn(stations, extract_date)
    sites = stages_on(as_of)
    sites = sites[_in_pipeline(sites) & sites["stage"].isin(PIPELINE_STAGES)].reset_index(drop=True)
    spells = stages_on.spells(as_of) if season is None else _spells(stages_on.stations, as_of, season)
    spent_days = working_days(sites["stage_date"], as_of, season) if len(sites) else np.zeros(0)
    spent_days = np.where(sites["days_in_stage"].isna().to_numpy(), np.nan, np.asarray(spent_days, float))
    support = {}
    for s in PIPELINE_STAGES:
        sp = spells[spells["stage"] == s]
        support[s] = _km_support(sp["days"].to_numpy(float), sp["completed"].to_numpy(bool))
    stage_index = pd.Categorical(sites["stage"], categories=list(PIPELINE_STAGES)).codes.astype(np.intp)
    month_left = max(1, ((as_of + pd.offsets.MonthEnd(0)) - as_of).days)
    return PipelineDurations(as_of, sites, stage_index, spent_days, support, month_left)


def sample_days_to_air(
    stations: pd.DataFrame, as_of, n_paths: int, rng: np.random.Generator, extract_date=None, freed=(), season=None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Simulated days from `as_of` until each site in the pipeline goes on air: the rest of its
    current stage and every later stage drawn from the stages' Kaplan-Meier durations observed by
    `as_of` (sites still waiting count as censored). Sites in `freed` (station ids: their blocker
    cleared this month) finish their current stage within the month. Returns the pipeline sites
    (as `derive_stages`) and an (n_paths, n_sites) array of days; inf where a stage has no completed
    spell yet (no basis for a date). With `season` (12 monthly factors) every duration is in working
    days of the construction season (`season.working_days`), and so are the days returned.

    The draws are those of a site-by-site loop (`rng.choice` per stage and site) made with the same
    random stream, computed a group of sites with the same distribution at a time: at 5,000 sites the
    loop took 12 s a call. `sample_days_to_air_by_block` gives the same days a block of sites at a
    time (memory bounded at any number of sites); `sample_days_both_ways` draws a few sites freed and
    as they are."""
    sites, blocks = sample_days_to_air_by_block(stations, as_of, n_paths, rng, extract_date, freed, season)
    days = np.zeros((n_paths, len(sites)))
    for rows, block in blocks:
        days[:, rows] = block.T
    return sites, days


def sample_days_to_air_by_block(
    stations: pd.DataFrame, as_of, n_paths: int, rng: np.random.Generator, extract_date=None, freed=(), season=None
) -> tuple[pd.DataFrame, Iterator[tuple[slice, np.ndarray]]]:
    """`sample_days_to_air`'s pipeline sites and its days (the same numbers from the same `rng`), as an
    iterator of (positions of the sites, days (sites x n_paths)) over blocks of `_SITES_PER_BLOCK`
    sites, to be consumed in order: at 4.25 M stations the whole array would take 3.4 GB."""
    pdur = measure_pipeline_durations(stations, as_of, extract_date, season)
    sites, spent_days = pdur.sites, pdur.spent_days
    is_freed = sites["station_id"].isin(set(freed)).to_numpy()
    plans = _site_draws(sites["stage"].to_numpy(), spent_days, is_freed, pdur.support)

    def blocks() -> Iterator[tuple[slice, np.ndarray]]:
        for lo in range(0, len(plans), _SITES_PER_BLOCK):
            rows = slice(lo, min(lo + _SITES_PER_BLOCK, len(plans)))
            yield rows, _simulate_sites(plans[rows], spent_days[rows], rng, n_paths, pdur.month_left)

    return sites, blocks()


def _add_censored_waits(draw: _StageDraw, days: np.ndarray, waited, rng: np.random.Generator) -> np.ndarray:
    """`_StageDraw.wait_out_censored` with the fresh stages' uniforms drawn from `rng`, for the
    censored entries only."""
    return draw.wait_out_censored(days, waited, lambda tail: rng.random(int(tail.sum())))


def _whole_stage_days(support, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Days of a whole stage (sites x paths): the uniforms `u` read through its Kaplan-Meier
    distribution; a censored draw waits as long as the longest completed spell, then a fresh stage."""
    draw = _StageDraw.of(support)
    if draw.fresh_cdf is None:
        return np.full(u.shape, np.inf)
    days = draw.times[draw.pick("draw", u)]
    return _add_censored_waits(draw, days, float(draw.times[np.isfinite(draw.times)].max()), rng)


def _rest_of_stage_days(support, spent: np.ndarray, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Days left (sites x paths) in a stage the sites have spent `spent` days in (NaN: unknown, a whole
    stage): a duration drawn from those longer than `spent` (the uniforms `u` read through the
    Kaplan-Meier distribution beyond each site's own days, all sites at once), less `spent`; a wait
    beyond every completed spell lasts as long again, then a whole stage (as `_StageDraw.days`)."""
    draw = _StageDraw.of(support)
    if draw.fresh_cdf is None:
        return np.full(u.shape, np.inf)
    out = np.empty(u.shape)
    unknown = np.isnan(spent)
    if unknown.any():
        out[unknown] = _whole_stage_days(support, u[unknown], rng)
    known = ~unknown
    spent = spent[known][:, None]
    times, cdf = draw.times, np.cumsum(support[1])
    first = times.searchsorted(spent[:, 0], side="right")  # the durations longer than the days spent
    below = np.where(first > 0, cdf[np.maximum(first - 1, 0)], 0.0)[:, None]
    beyond = cdf[-1] - below
    idx = np.minimum(cdf.searchsorted(below + u[known] * beyond, side="right"), len(times) - 1)
    # no mass beyond the days spent (every completed spell shorter): censored as well
    days = np.where(beyond > 0, times[idx], np.inf) - spent
    out[known] = _add_censored_waits(draw, days, spent, rng)
    return out


def sample_days_both_ways(
    durations: PipelineDurations, rows: np.ndarray, n_paths: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Days to air of the pipeline sites `rows` (positions in `durations.sites`), as they are and if
    their blocker clears this month (the current stage done within the month), each (len(rows),
    n_paths). Common random numbers: a site's two cases read the same uniforms (its later stages are
    the same draws, the current stage's rest and the day it is freed the same quantile), so their
    difference is what freeing changes, not sampling noise. Vectorised a stage at a time."""
    rows = np.asarray(rows, dtype=np.intp)
    stage = durations.stage_index[rows]
    support = [durations.support[s] for s in PIPELINE_STAGES]
    u = rng.random((len(rows), n_paths))
    as_is = np.empty((len(rows), n_paths))
    for k in np.unique(stage):
        mine = stage == k
        as_is[mine] = _rest_of_stage_days(support[k], durations.spent_days[rows[mine]], u[mine], rng)
    freed = durations.month_left * u
    later = np.zeros((len(rows), n_paths))
    for k in range(1, len(PIPELINE_STAGES)):
        after = stage < k  # sites that still have stage k ahead of them
        if after.any():
            later[after] += _whole_stage_days(support[k], rng.random((int(after.sum()), n_paths)), rng)
    return as_is + later, freed + later


# --------------------------------------------------------------------------------------------
# District shares of the target
# --------------------------------------------------------------------------------------------


def _apportion(total: int, shares: pd.Series) -> pd.Series:
    """Whole numbers in proportion to `shares` that add up to `total` (largest remainder)."""
    if total <= 0 or shares.sum() <= 0:
        return pd.Series(0, index=shares.index, dtype=int)
    raw = shares / shares.sum() * total
    base = np.floor(raw).astype(int)
    left = int(total - base.sum())
    # plain lists: a Series lookup per key in the sort cost 0.5 s at 8,600 districts
    frac = [round(r - b, 9) for r, b in zip(raw.tolist(), base.tolist())]
    share, names = shares.tolist(), [str(k) for k in shares.index]
    order = sorted(range(len(frac)), key=lambda i: (-frac[i], -share[i], names[i]))
    values = base.to_numpy(copy=True)
    values[order[:left]] += 1
    return pd.Series(values, index=base.index, name=base.name)


#: Fewer sites than this in the pipeline the split is read from: the split is said to be rough (11 sites gave
#: two districts a share of 0, so their targets to 2025 were their counts of the year before).
ROUGH_SPLIT_SITES = 30


def _rough_split(n: int) -> str:
    """What a split basis adds when it is read from fewer than ROUGH_SPLIT_SITES sites ("" otherwise)."""
    return f" (only {n} sites: a rough split; set target_share in city.toml)" if n < ROUGH_SPLIT_SITES else ""


def district_target_shares(
    stations: pd.DataFrame, as_of, city: City | str, extract_date=None, order=None, stages_on: StagesOn | None = None
) -> tuple[pd.Series, str]:
    """Each district's share of what is still to add for a target, and the basis of the split: the
    districts' `target_share` in city.toml when every district has one; otherwise the split of the
    sites in the pipeline at the end of the previous year (the planned sites as the year began, so
    the split stays fixed all year), or, when there were none, of the sites gone on air since then
    and in the pipeline on `as_of`. `stages_on`: a `StagesOn` of the same stations, if at hand."""
    as_of = _timestamp(as_of, "as_of")
    city = resolve_city(city)
    st = stages_on.stations if stages_on is not None else _check(stations)
    every, st = st, _live(st)  # (on-air counts read every station: one taken off air was on air before)
    stages_on = stages_on or StagesOn(st, extract_date)
    baseline = pd.Timestamp(as_of.year - 1, 12, 31)
    sites = stages_on(as_of)
    order = list(order) if order is not None else _district_order(sites, city.district_names)
    given = {d.name_zh: d.target_share for d in city.districts}
    if given and all(v is not None for v in given.values()):
        share = pd.Series({d: float(given.get(d) or 0.0) for d in order})
        if abs(share.sum() - 1) > 0.01:
            raise ConfigError(
                f"[[districts]] target_share must add up to 1, they add up to {share.sum():.3f}",
                city.folder / "city.toml",
            )
        return share, "city.toml target_share"
    at_start = stages_on.counted(baseline)
    start_pipe = at_start[_in_pipeline(at_start)].groupby("district").size().reindex(order, fill_value=0)
    pipe_now = sites[_in_pipeline(sites)]
    undated = pipe_now[~pipe_now["has_stage_dates"]].groupby("district").size().reindex(order, fill_value=0)
    # a district whose sites carry no dates cannot be shown in the pipeline on the baseline date: split by
    # the dated ones alone, it got a task of 0 (盂县, which added 31 that year)
    undated_left_out = bool(((undated > 0) & (start_pipe == 0)).any())
    if start_pipe.sum() and not undated_left_out:
        n = int(start_pipe.sum())
        return (
            start_pipe / n,
            f"city.toml gives no target_share: split by the {n} sites in the pipeline on {baseline.date()}"
            + _rough_split(n),
        )
    on = on_air_at(every, as_of) & (every["on_air_date"] > baseline)
    programme = _size_by_district(every, on, order) + pipe_now.groupby("district").size().reindex(order, fill_value=0)
    n = int(programme.sum())
    head = f"city.toml gives no target_share and no site was in the pipeline on {baseline.date()}: "
    if undated.sum():
        head = (
            f"city.toml gives no target_share and {int(undated.sum())} sites in the pipeline have no stage dates "
            f"(not known to have been in it on {baseline.date()}): "
        )
    if not n:
        return pd.Series(
            1 / len(order), index=order
        ), head + "nor any since: split equally (set target_share in city.toml)"
    return programme / n, head + f"split by the sites on air since then and in the pipeline on {as_of.date()}" + (
        _rough_split(n)
    )


def district_targets(stations: pd.DataFrame, as_of, city: City | str, extract_date=None) -> pd.DataFrame:
    """The one district split of every target dated on or after `as_of`, used by the forecast's
    district table and by district_targets.csv: a district's target is its count on air at the end
    of the previous year plus its share (`district_target_shares`) of what the city still had to
    add from then, in whole stations adding up to the city's."""
    as_of = _timestamp(as_of, "as_of")
    city = resolve_city(city)
    every = _check(stations)
    st = _live(every)
    stages_on = StagesOn(st, extract_date)
    order = _district_order(stages_on(as_of), city.district_names)
    share, basis = district_target_shares(st, as_of, city, extract_date, order, stages_on=stages_on)
    baseline = pd.Timestamp(as_of.year - 1, 12, 31)
    base_n = _on_air_by_district(every, baseline, order)
    rows = []
    for goal in city.goals():
        if pd.Timestamp(goal.date) < as_of:
            continue
        add = _apportion(max(0, goal.on_air - int(base_n.sum())), share)
        for d in order:
            rows.append(
                {
                    "target_date": pd.Timestamp(goal.date),
                    "city_target": goal.on_air,
                    "district": d,
                    "baseline_date": baseline,
                    "baseline_on_air": int(base_n[d]),
                    "share": round(float(share[d]), 4),
                    "share_basis": basis,
                    "target_add": int(add[d]),
                    "district_target": int(base_n[d] + add[d]),
                }
            )
    cols = [
        "target_date",
        "city_target",
        "district",
        "baseline_date",
        "baseline_on_air",
        "share",
        "share_basis",
        "target_add",
        "district_target",
    ]
    return pd.DataFrame(rows, columns=cols)


def split_district_targets(
    stations: pd.DataFrame,
    as_of,
    city: City | str,
    extract_date=None,
    expected: pd.DataFrame | None = None,
    stages_on: StagesOn | None = None,
) -> pd.DataFrame:
    """Each district's share of the year's target, what it has achieved and what its pipeline is
    expected to add by the target date.

    The target is the city's first goal dated on or after `as_of` (446 by 2021-12-31 in Karamay);
    what is to add is counted from the stations on air at the end of the previous year. The shares
    are the districts' `target_share` in city.toml when every district has one; otherwise the split
    of the sites in the pipeline on the baseline date (the planned sites as the year began, so the
    split stays fixed all year), or, when there were none, of the sites gone on air since then and
    in the pipeline on `as_of`. District targets are whole stations adding up to the city's.
    `stages_on`: a `StagesOn` of the same stations, if at hand.
    """
    as_of = _timestamp(as_of, "as_of")
    city = resolve_city(city)
    st = stages_on.stations if stages_on is not None else _check(stations)
    every, st = st, _live(st)  # (on-air counts read every station: one taken off air was on air before)
    stages_on = stages_on or StagesOn(st, extract_date)
    if expected is None:
        expected = forecast_on_air_months(st, as_of, extract_date, stages_on=stages_on)
    goal = next((t for t in city.goals() if pd.Timestamp(t.date) >= as_of), None)
    baseline = pd.Timestamp(as_of.year - 1, 12, 31)
    sites = stages_on(as_of)
    order = _district_order(sites, city.district_names)
    base_n = _on_air_by_district(every, baseline, order)
    # net of stations taken off air since the year start: what is left to add is the target less the count now
    achieved = _on_air_by_district(every, as_of, order) - base_n
    pipeline = sites[_in_pipeline(sites)].groupby("district").size().reindex(order, fill_value=0)
    notes = []
    share, basis = district_target_shares(st, as_of, city, extract_date, order, stages_on=stages_on)
    if goal is None:
        target_add = pd.Series(np.nan, index=order)
        to_add = math.nan
        notes.append(f"no target dated on or after {as_of.date()} in city.toml")
        target_date = pd.NaT
        city_target = math.nan
    else:
        target_date = pd.Timestamp(goal.date)
        city_target = goal.on_air
        to_add = max(0, goal.on_air - int(base_n.sum()))
        target_add = _apportion(to_add, share)  # the same rule as district_targets: one split everywhere
        reported = next((t for t in city.targets if t.kind == "reported" and pd.Timestamp(t.date) == baseline), None)
        if reported is not None and reported.on_air != int(base_n.sum()):
            notes.append(
                f"the records give {int(base_n.sum())} on air on {baseline.date()}, the city reported "
                f"{reported.on_air}; the target to add is counted from the records"
            )
    exp_by = pd.Series(0, index=order)
    if goal is not None:
        ok = expected["expected_on_air_date"] <= target_date
        exp_by = expected[ok].groupby("district").size().reindex(order, fill_value=0)
    # dicts, not Series: a Series lookup per district and column cost about 1 s at 8,600 districts
    achieved, pipeline, exp_by, base_n, share, target_add = (
        s.to_dict() for s in (achieved, pipeline, exp_by, base_n, share, target_add)
    )
    for counts in (achieved, pipeline, exp_by, base_n):
        counts[CITY_TOTAL] = sum(counts.values())
    rows = []
    for d in [*order, CITY_TOTAL]:
        t_add = to_add if d == CITY_TOTAL else target_add[d]
        a, p, e = int(achieved[d]), int(pipeline[d]), int(exp_by[d])
        has_t = t_add == t_add  # not NaN
        rows.append(
            {
                "as_of": as_of,
                "district": d,
                "target_share": 1.0 if d == CITY_TOTAL else round(float(share[d]), 4),
                "share_basis": basis,
                "baseline_date": baseline,
                "baseline_on_air": int(base_n[d]),
                "target_date": target_date,
                "target_on_air": (city_target if d == CITY_TOTAL else (int(base_n[d] + t_add) if has_t else math.nan)),
                "target_add": int(t_add) if has_t else math.nan,
                "achieved_add": a,
                "achieved_pct": round(100 * a / t_add, 1) if has_t and t_add else math.nan,
                "in_pipeline": p,
                "expected_add_from_pipeline": e,
                "expected_add": a + e,
                "expected_pct": round(100 * (a + e) / t_add, 1) if has_t and t_add else math.nan,
                "expected_shortfall": int(max(0, t_add - a - e)) if has_t else math.nan,
                "sites_still_to_plan": int(max(0, t_add - a - p)) if has_t else math.nan,
                "note": "; ".join(notes) if d == CITY_TOTAL else "",
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Everything at once, files out
# --------------------------------------------------------------------------------------------


@dataclass
class TaskforceReport:
    """The task force's tables for one report date, and what they assume."""

    as_of: pd.Timestamp
    previous: pd.Timestamp
    extract: pd.Timestamp | None
    city: City
    stuck_days: dict
    sites: pd.DataFrame
    funnel: pd.DataFrame
    supervision: pd.DataFrame
    #: The sites in the pipeline whose time in stage is unknown, listed apart from the supervision list
    #: (`list_undated_sites`: the same columns, past their planned on-air date first).
    undated: pd.DataFrame
    durations: pd.DataFrame
    expected: pd.DataFrame
    bottom_up: pd.DataFrame
    districts: pd.DataFrame
    source: str = ""
    notes: list[str] = field(default_factory=list)
    #: The files the sites in the pipeline on `as_of` were read from, most sites first (`tracking_files`).
    tracking: list[str] = field(default_factory=list)
    #: Sites in the pipeline on the extract without stage dates that `as_of` is too early to count (more than
    #: `UNDATED_LOOKBACK` before the extract): the records list them, nothing dates them.
    undated_not_counted: int = 0


def track_taskforce(
    stations: pd.DataFrame,
    city: City | str,
    as_of,
    extract_date=None,
    stuck_days: dict | None = None,
    horizon: int = 12,
    source: str = "",
) -> TaskforceReport:
    """All the task force's tables for `as_of`: stages, funnel, supervision list, stage durations,
    expected on-air months, bottom-up forecast, district targets (see each function)."""
    as_of = _timestamp(as_of, "as_of")
    city = resolve_city(city)
    # every table reads the stages of the same few dates: derived once each
    stages_on = StagesOn(stations, extract_date)
    st, extract = stages_on.stations, stages_on.extract
    thresholds = {**stuck_days_of(city), **(stuck_days or {})}
    sites = stages_on(as_of)
    expected = forecast_on_air_months(st, as_of, extract, stages_on=stages_on)
    notes = [
        f"stages on {as_of.date()} are derived from the stage dates; blockers are those reported on "
        f"{extract.date() if extract is not None else 'the extract'} and shown only for sites still in the same stage"
    ]
    n_undated = int((~sites["has_stage_dates"]).sum())
    if n_undated:
        notes.append(
            f"{n_undated} sites have no stage dates: counted in their reported status from a month before "
            f"{extract.date() if extract is not None else 'the extract'} on, not on an earlier date, and not in the "
            "change since the previous report; their time in stage is unknown, so they are listed apart from the "
            "supervision list"
        )
    undated_later = _undated_not_counted(stages_on, as_of)
    if undated_later:
        notes.append(
            f"{undated_later} sites in the pipeline on {extract.date()} have no stage dates: not counted on "
            f"{as_of.date()}, more than a month before the records that list them"
        )
    if extract is not None and as_of > extract:
        notes.append(f"the records end on {extract.date()}: later stage changes are not in them")
    n_decom = int((st["status"] == "decommissioned").sum())
    if n_decom:
        notes.append(f"{n_decom} stations taken off air are counted until their off-air date, left out after it")
    mismatch = _status_mismatch(stages_on)
    if mismatch:
        notes.append(f"{mismatch} sites report a status other than the stage their dates give on the extract date")
    if (as_of - pd.Timestamp(city.buildout_start)).days < 0:
        notes.append(f"{as_of.date()} is before the buildout start {city.buildout_start}")
    return TaskforceReport(
        as_of=as_of,
        previous=previous_report_date(as_of),
        extract=extract,
        city=city,
        stuck_days=thresholds,
        sites=sites,
        funnel=build_funnel(st, as_of, extract, city.district_names, stages_on=stages_on),
        supervision=list_stuck_sites(st, as_of, thresholds, extract, stages_on=stages_on),
        undated=order_undated_sites(sites, as_of),
        durations=measure_stage_durations(st, as_of, stages_on=stages_on),
        expected=expected,
        bottom_up=forecast_bottom_up(st, as_of, horizon, extract, expected),
        districts=split_district_targets(st, as_of, city, extract, expected, stages_on=stages_on),
        source=source,
        notes=notes,
        tracking=tracking_files(st, sites),
        undated_not_counted=undated_later,
    )


def _undated_not_counted(stages_on: StagesOn, as_of: pd.Timestamp) -> int:
    """The sites in the pipeline on the extract without stage dates that `as_of` is too early to count."""
    extract = stages_on.extract
    if extract is None or as_of >= undated_counted_from(extract):
        return 0
    at_extract = stages_on.counted(extract)
    return int((~at_extract["has_stage_dates"] & (at_extract["stage"] != "on_air")).sum())


def _on_air_by_district(stations: pd.DataFrame, date: pd.Timestamp, order: list[str]) -> pd.Series:
    """Stations on air on `date` (`schemas.on_air_at`: one taken off air counts until its off-air date) per
    district of `order`, 0 where none."""
    return _size_by_district(stations, on_air_at(stations, date), order)


def _size_by_district(stations: pd.DataFrame, rows: pd.Series, order: list[str]) -> pd.Series:
    """The `rows` of `stations` per district of `order`, 0 where none: `stations[rows].groupby("district").size()`
    reindexed, counted on the district column alone (taking every column's rows of 10^6 stations to count one
    cost a national forecast about a second)."""
    district = stations["district"][rows]
    return district.value_counts(sort=False).rename_axis("district").rename(None).reindex(order, fill_value=0)


def tracking_files(stations: pd.DataFrame, sites: pd.DataFrame) -> list[str]:
    """The names of the files the sites in the pipeline (`sites`, derived from `stations`) were read
    from, most sites first (then by name): what the charts and captions name as their source, not a
    tower company's tracking sheet a city may never have sent. Empty without a `source_file` column."""
    if "source_file" not in stations.columns or not len(sites):
        return []
    in_pipeline = sites.loc[_in_pipeline(sites), "station_id"]
    by_path = stations.loc[stations["station_id"].isin(in_pipeline), "source_file"].value_counts()
    by_path = by_path[by_path > 0]  # (a category counts its unused files as 0)
    counts = by_path.groupby([Path(str(f)).name for f in by_path.index]).sum()  # (a name per path, not per site)
    return sorted(counts.index, key=lambda name: (-counts[name], name))


def describe_tracking_files(files: list[str], lang: str) -> str:
    """`tracking_files` as a caption names them: up to three, then how many more; "" when none."""
    if not files:
        return ""
    shown, more = files[:3], len(files) - 3
    if lang == "zh":
        return "、".join(shown) + (f" 等 {len(files)} 个文件" if more > 0 else "") + "（清洗后）"
    return ", ".join(shown) + (f" and {more} more file{'s' if more > 1 else ''}" if more > 0 else "") + " (cleaned)"


def _status_mismatch(stages_on: StagesOn) -> int:
    if stages_on.extract is None:
        return 0
    s = stages_on.counted(stages_on.extract)
    s = s[s["has_stage_dates"]]
    return int((s["stage"] != s["status_at_extract"]).sum())


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(4)
    return out


def write_taskforce(report: TaskforceReport, out: str | Path, lang: str = "zh", charts: bool = True) -> list[Path]:
    """Write funnel.csv, supervision_list.csv, undated_sites.csv (the sites listed apart from it: a header
    alone when none), district_targets.csv, stage_durations.csv, expected_on_air.csv, bottom_up.csv,
    taskforce_notes.json and (with `charts`) three PNG charts."""
    out = Path(out)
    tables = {
        "funnel.csv": report.funnel,
        "supervision_list.csv": report.supervision,
        "undated_sites.csv": report.undated,
        "district_targets.csv": report.districts,
        "stage_durations.csv": report.durations,
        "expected_on_air.csv": report.expected,
        "bottom_up.csv": report.bottom_up,
    }
    paths = []
    for name, frame in tables.items():
        write_csv(_rounded(frame), out / name)
        paths.append(out / name)
    write_json(
        {
            "as_of": report.as_of.date().isoformat(),
            "previous": report.previous.date().isoformat(),
            "extract": report.extract.date().isoformat() if report.extract is not None else None,
            "city": report.city.key,
            "stuck_days": report.stuck_days,
            "source": report.source,
            "tracking_files": report.tracking,
            "undated_not_counted": report.undated_not_counted,
            "notes": report.notes,
        },
        out / "taskforce_notes.json",
    )
    paths.append(out / "taskforce_notes.json")
    if charts:
        import matplotlib.pyplot as plt

        for name, plot in (
            ("funnel.png", plot_funnel),
            ("blockers.png", plot_blockers),
            ("days_stuck.png", plot_days_stuck),
        ):
            fig = plot(report, lang=lang)
            _write_png(fig, out / name)
            plt.close(fig)
            paths.append(out / name)
    return paths


def _write_png(fig, path: Path) -> None:
    # clean's atomic writer is private to it; a half-written chart is harmless, tables are not
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=130, bbox_inches="tight", metadata={"Software": None})


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------

_T = {
    "en": {
        "funnel": "{city}: planned sites by stage and district, {d}",
        "sites": "sites",
        "prev": "all districts on {d}",
        "stage": "stage",
        "blockers": "{city}: what holds the pipeline back, by district, {d}",
        "stuck": "{city}: days in the current stage, sites in the pipeline, {d}",
        "days": "days in current stage (to {d})",
        "threshold": "supervision threshold",
        "listed": "on the supervision list",
        "not_listed": "within the threshold",
        "source": "Source: {src}. Stages on {d} from the stage dates; blockers as reported on {e}, "
        "shown only for sites still in that stage.",
        "undated": "{n:,} sites without stage dates not shown (days unknown)",
        "nothing": "No site in the pipeline on {d}: nothing to chart.",
    },
    "zh": {
        "funnel": "{city}：在途站址按阶段和区县分布（{d}）",
        "sites": "站址数（个）",
        "prev": "{total} {d}",
        "stage": "阶段",
        "blockers": "{city}：在途站址阻碍因素（按区县，{d}）",
        "stuck": "{city}：在途站址当前阶段停留天数（{d}）",
        "days": "当前阶段停留天数（截至 {d}）",
        "threshold": "督办阈值",
        "listed": "列入督办清单",
        "not_listed": "未超阈值",
        "source": "数据来源：{src}。{d} 的阶段按各阶段日期推算；阻碍因素为 {e} 上报，仅对仍处该阶段的站址显示。",
        "undated": "{n:,} 个站址无阶段日期，停留天数未知，未画出",
        "nothing": "{d} 无在途站址，没有可画的图。",
    },
}
#: The whole "city" in a Chinese chart, by city.toml's [city] kind.
_WHOLE_ZH = {"city": "全市", "province": "全省", "country": "全国"}
_WHOLE_EN = {"city": "Whole city", "province": "Whole province", "country": "Whole country"}
_DISTRICT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
#: Districts drawn one by one in the district charts; past it, those with the fewest sites in the
#: pipeline share one "other" bar (a bar each for thousands of districts is unreadable and takes minutes).
MAX_CHART_DISTRICTS = len(_DISTRICT_COLORS)
_OTHER = {"zh": "其他 {n:,} 个区县", "en": "{n:,} other districts"}


def _chart_districts(report: TaskforceReport) -> tuple[list[str], list[str]]:
    """The districts drawn one by one and the rest, drawn together as one bar (empty up to MAX_CHART_DISTRICTS
    districts: every district drawn, in table order). Past it, by the rule of the page's funnel table above the
    charts: the most sites in the pipeline, ties by the most on air, then the city's order; only districts with a
    site in the pipeline are drawn one by one (the first districts by name, none with a site, were drawn under a
    legend naming them), and the rest (every other district) only when one of them holds a site."""
    f = report.funnel
    districts = [d for d in f["district"].drop_duplicates() if d != CITY_TOTAL]
    if len(districts) <= MAX_CHART_DISTRICTS:
        return districts, []
    by_stage = f[f["district"] != CITY_TOTAL].pivot_table(
        index="district", columns="stage", values="sites", aggfunc="sum", sort=False
    )

    def count(stage: str) -> np.ndarray:
        col = by_stage[stage] if stage in by_stage.columns else pd.Series(dtype=float)
        return pd.to_numeric(col.reindex(districts), errors="coerce").fillna(0).to_numpy(float)

    pipeline, on_air = count(PIPELINE_TOTAL), count("on_air")
    order = rank_districts(pipeline, on_air)
    top = {districts[i] for i in order[: MAX_CHART_DISTRICTS - 1] if pipeline[i] > 0}
    rest = [d for d in districts if d not in top]
    shown = [districts[i] for i in order if districts[i] in top]
    return shown, rest if any(pipeline[i] > 0 for i, d in enumerate(districts) if d not in top) else []


def has_pipeline(report: TaskforceReport) -> bool:
    """Whether any site is in the pipeline on the report date (else the charts have nothing to draw)."""
    return bool(_in_pipeline(report.sites).any())


def _nothing_to_chart(report: TaskforceReport, lang: str):
    """A chart's figure when no site is in the pipeline: the sentence, no axes (empty axes read 0.0-1.2 under a
    legend of districts)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9, 1.2))
    fig.text(0.01, 0.5, _T[lang]["nothing"].format(d=report.as_of.date()), fontsize=11, ha="left", va="center")
    return fig


def _district_label(report: TaskforceReport, name: str, lang: str) -> str:
    if lang == "zh":
        return name
    en = {d.name_zh: d.name_en for d in report.city.districts}
    if name == CITY_TOTAL:  # the whole, as city.toml's [city] kind says (a country's total is not "City")
        return _WHOLE_EN.get(getattr(report.city, "kind", "city"), "Whole city")
    return en.get(name) or name


def _stage_label(stage: str, lang: str) -> str:
    return STAGE_ZH.get(stage, stage) if lang == "zh" else STAGE_EN.get(stage, stage.replace("_", " "))


def _footer(fig, report: TaskforceReport, lang: str, extra: str = "") -> None:
    L = _T[lang]
    src = (
        report.source
        or describe_tracking_files(report.tracking, lang)
        or ("清洗后的站址记录" if lang == "zh" else "cleaned station records")
    )
    ext = report.extract.date() if report.extract is not None else "?"
    text = L["source"].format(src=src, d=report.as_of.date(), e=ext) + (f" {extra}" if extra else "")
    fig.text(0.01, -0.01, text, fontsize=7.5, color="#444", ha="left", va="top", wrap=True)


def plot_funnel(report: TaskforceReport, lang: str = "zh"):
    """Stacked bars: sites in each stage before on air, by district, with the whole city's count
    a month earlier as a marker. Returns the Figure."""
    import matplotlib.pyplot as plt

    lang = figure_lang(lang)
    L = _T[lang]
    if not has_pipeline(report):
        return _nothing_to_chart(report, lang)
    f = report.funnel
    stages = [s for s in f["stage"].drop_duplicates() if s not in ("on_air", PIPELINE_TOTAL)]
    fig, ax = plt.subplots(figsize=(9, 5))
    x = np.arange(len(stages))
    bottom = np.zeros(len(stages))
    shown, rest = _chart_districts(report)
    by = f[f["district"] != CITY_TOTAL].pivot(index="district", columns="stage", values="sites")[stages]
    bars = [(_district_label(report, d, lang), by.loc[d]) for d in shown]
    if rest:
        bars.append((_OTHER[lang].format(n=len(rest)), by.loc[rest].sum()))
    for i, (label, counts) in enumerate(bars):
        n = counts.to_numpy(dtype=float)
        color = "#bdbdbd" if rest and i == len(bars) - 1 else _DISTRICT_COLORS[i % len(_DISTRICT_COLORS)]
        ax.bar(x, n, bottom=bottom, color=color, label=label)
        bottom += n
    city = f[f["district"] == CITY_TOTAL].set_index("stage").reindex(stages)
    ax.plot(
        x,
        city["sites_previous"].to_numpy(),
        ls="none",
        marker="_",
        ms=28,
        mew=2.5,
        color="black",
        label=L["prev"].format(
            d=report.previous.date(), total=_WHOLE_ZH.get(getattr(report.city, "kind", "city"), "全市")
        ),
    )
    # each count written above its bar and above last month's marker (written over the marker it was unreadable)
    for xi, n, c, before in zip(x, city["sites"], city["change"], city["sites_previous"].fillna(0)):
        ax.annotate(
            f"{int(n):,} ({int(c):+,d})",
            (xi, max(n, before)),
            xytext=(0, 5),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    ax.set_xticks(x, [_stage_label(s, lang) for s in stages])
    ax.set_ylabel(L["sites"])
    count_axis(ax.yaxis)
    ax.set_xlabel(L["stage"])
    ax.set_ylim(0, max(1.0, float(max(bottom.max(), city["sites_previous"].max()))) * 1.2)
    ax.grid(axis="y", alpha=0.3)
    # beside the plot, not over the tallest bars; the marker drawn short in it (at full length it ran into its label)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=0.5, handlelength=2.0)
    ax.set_title(
        L["funnel"].format(city=report.city.name_zh if lang == "zh" else report.city.name_en, d=report.as_of.date())
    )
    _footer(fig, report, lang)
    return fig


def plot_blockers(report: TaskforceReport, lang: str = "zh"):
    """Stacked horizontal bars: the sites of each district in the pipeline by blocker (as reported on
    the extract; 'not known' for sites that have left the stage since the report date)."""
    import matplotlib.pyplot as plt

    lang = figure_lang(lang)
    L = _T[lang]
    if not has_pipeline(report):
        return _nothing_to_chart(report, lang)
    s = report.sites[_in_pipeline(report.sites)].copy()
    s["key"] = blocker_keys(s)
    shown, rest = _chart_districts(report)
    cats = [b for b in (*BLOCKERS, "none", "not_known") if (s["key"] == b).any()] or ["none"]
    table = (
        s.groupby(["district", "key"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=shown + rest, columns=cats, fill_value=0)
    )
    labels = [_district_label(report, d, lang) for d in shown]
    if rest:
        table = pd.concat([table.loc[shown], table.loc[rest].sum().to_frame().T])
        labels.append(_OTHER[lang].format(n=len(rest)))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    colors = plt.get_cmap("tab10")
    left = np.zeros(len(labels))
    y = np.arange(len(labels))
    for i, b in enumerate(cats):
        n = table[b].to_numpy(dtype=float)
        color = "#cccccc" if b in ("none", "not_known") else colors(i)
        ax.barh(
            y,
            n,
            left=left,
            color=color,
            hatch="//" if b == "not_known" else None,
            label=BLOCKER_ZH[b] if lang == "zh" else BLOCKER_EN.get(b, b.replace("_", " ")),
        )
        left += n
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(L["sites"])
    count_axis(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(
        L["blockers"].format(city=report.city.name_zh if lang == "zh" else report.city.name_en, d=report.as_of.date())
    )
    _footer(fig, report, lang)
    return fig


def plot_days_stuck(report: TaskforceReport, lang: str = "zh"):
    """Each site in the pipeline as a dot at its days in the current stage, one row per stage,
    with the stage's supervision threshold; sites over it are red."""
    import matplotlib.pyplot as plt

    lang = figure_lang(lang)
    L = _T[lang]
    if not has_pipeline(report):
        return _nothing_to_chart(report, lang)
    s = report.sites[_in_pipeline(report.sites)]
    dated = s[s["days_in_stage"].notna()]
    stages = [p for p in PIPELINE_STAGES]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every run
    for i, stage in enumerate(stages):
        days = dated.loc[dated["stage"] == stage, "days_in_stage"].to_numpy(dtype=float)
        limit = report.stuck_days.get(stage)
        over = days > limit if limit is not None else np.zeros(len(days), bool)
        yy = i + rng.uniform(-0.25, 0.25, len(days))
        ax.scatter(days[~over], yy[~over], s=22, color="#4292c6", label=L["not_listed"] if i == 0 else None)
        ax.scatter(days[over], yy[over], s=26, color="#d62728", label=L["listed"] if i == 0 else None)
        if limit is not None:
            ax.plot([limit, limit], [i - 0.4, i + 0.4], color="black", lw=1.5, label=L["threshold"] if i == 0 else None)
    ax.set_yticks(range(len(stages)), [_stage_label(p, lang) for p in stages])
    ax.invert_yaxis()
    ax.set_xlabel(L["days"].format(d=report.as_of.date()))
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(
        L["stuck"].format(city=report.city.name_zh if lang == "zh" else report.city.name_en, d=report.as_of.date())
    )
    n_undated = len(report.undated)  # (the list the pages show apart: one count of them everywhere)
    _footer(fig, report, lang, L["undated"].format(n=n_undated) if n_undated else "")
    return fig


# --------------------------------------------------------------------------------------------
# Stage entry
# --------------------------------------------------------------------------------------------

#: The columns of each site's stage written to sites.csv: what the pages count by (stage, blocker and whether it is
#: known on the date, stage dates or none), with the name, the stage's dating and what the sheet said for a reader
#: of the file (the pages list the sites whose time in stage is unknown from undated_sites.csv).
SITE_COLUMNS = (
    "station_id",
    "district",
    "operator",
    "stage",
    "blocker",
    BLOCKER_NOT_KNOWN,
    "blocker_note",
    *("site_code", "name", "has_stage_dates", "stage_date", "days_in_stage"),
    *(*SHEET_TEXT_COLUMNS, PLANNED_ON_AIR),
)


def taskforce_to_folder(
    stations: pd.DataFrame,
    city: City,
    as_of: pd.Timestamp,
    out: str | Path,
    extract_date=None,
    fig_lang: str | None = "zh",
    horizon: int = 12,
    source: str = "",
    stamp: dict | None = None,
) -> tuple[TaskforceReport, list[Path]]:
    """The task-force stage, as the command line, the notebooks and the report run it: track the
    cleaned `stations` of a resolved `city` on a parsed `as_of` and write the tables (undated_sites.csv among
    them: the pages list those sites from it), sites.csv (each site's stage and blocker, whether that blocker is
    known on the date) and, with `fig_lang`, the three charts into `out`, each file atomically
    and a stage.json (with `stamp`) last. Returns the tables (for callers that want them in memory as
    well as on disk, such as the command line's summary) and the files written. One progress step each for
    the stations read, the tracking and the files."""
    from analysis.catalog import publish_stage, stamp_date
    from analysis.progress import task

    with task("taskforce", 3) as progress:
        progress.advance(note=f"{len(stations):,} stations read")
        report = track_taskforce(stations, city, as_of, extract_date=extract_date, horizon=horizon, source=source)
        progress.advance(note=f"{len(report.sites):,} sites tracked, {len(report.supervision):,} stuck")

        def write(tmp: Path) -> None:
            write_taskforce(report, tmp, lang=fig_lang or "zh", charts=fig_lang is not None)
            write_csv(report.sites[[c for c in SITE_COLUMNS if c in report.sites]], tmp / "sites.csv")

        extract = stamp_date(report.extract)
        stamp = {**(stamp or {}), "as_of": stamp_date(as_of), "fig_lang": fig_lang, "extract": extract}
        written = publish_stage("taskforce", out, write, stamp)
        progress.advance(note=f"tables{' and charts' if fig_lang is not None else ''} written to {out}")
    return report, written
