"""The monthly series a forecast starts from: stations on air by month end (city and
districts), and published counts read from a file and interpolated to month ends."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import calendar_period_end
from analysis.errors import BadInputError
from analysis.schemas import off_air_dates, on_air_at

#: Longest gap between two published values that is still interpolated to month ends.
MAX_GAP_MONTHS = 12


# --------------------------------------------------------------------------------------------
# Series in
# --------------------------------------------------------------------------------------------


#: A published count may fall (it is net of closures), but not to under this share of itself from one
#: published date to the next: that is another unit (万 against stations) or a typo, not closures.
MAX_FALL_SHARE = 0.5


def _month_end(ts) -> pd.Timestamp:
    ts = pd.Timestamp(ts).normalize()
    return ts + pd.offsets.MonthEnd(0)


def monthly_on_air(
    stations: pd.DataFrame, as_of, by_district: bool = False, start=None, districts=None
) -> pd.Series | pd.DataFrame:
    """Stations on air at each month end up to `as_of` (a station counts once its on_air_date <= d, until
    its off_air_date <= d: `schemas.on_air_at`).

    Months run from `start` (default: the month of the first on-air date) to the last month end
    on or before `as_of`. With `by_district`, one column per district (`districts` fixes which
    and in what order, so a district with no station yet shows zeros).
    """
    as_of = pd.Timestamp(as_of).normalize()
    if "on_air_date" not in stations.columns:
        raise BadInputError("stations have no column 'on_air_date'")
    dates = pd.to_datetime(stations["on_air_date"])
    on = dates.notna() & (dates <= as_of)
    if start is None:
        if not on.any():
            raise BadInputError(f"no station is on air by {as_of.date()}")
        start = dates[on].min()
    first = _month_end(start)
    last = _month_end(as_of)
    if last > as_of:
        last = last - pd.offsets.MonthEnd(1)
    if last < first:
        raise BadInputError(f"no full month between {first.date()} and as_of {as_of.date()}")
    index = pd.date_range(first, last, freq="ME")
    off = off_air_dates(stations)
    if not by_district:
        return pd.Series(_counts_at(dates[on], off[on], index), index=index, name="on_air")
    if "district" not in stations.columns:
        raise BadInputError("stations have no column 'district'")
    names = list(districts) if districts is not None else sorted(stations.loc[on, "district"].dropna().unique())
    out = {}
    for name in names:
        mine = on & (stations["district"] == name)
        out[name] = _counts_at(dates[mine], off[mine], index)
    return pd.DataFrame(out, index=index)


def _counts_at(on_dates: pd.Series, off_dates: pd.Series, index: pd.DatetimeIndex) -> np.ndarray:
    """Stations on air at each date of `index`: on air on or before it, less those taken off air on or
    before it (`schemas.on_air_at`, counted by sorted dates rather than a scan per date)."""
    at = index.to_numpy()
    on = np.searchsorted(np.sort(on_dates.to_numpy()), at, side="right")
    gone = off_dates.dropna().to_numpy()
    return (on - np.searchsorted(np.sort(gone), at, side="right")).astype(float)


def monthly_on_air_by_district(
    stations: pd.DataFrame, index: pd.DatetimeIndex, as_of, districts
) -> tuple[pd.DataFrame, pd.Series]:
    """Stations on air at each month end of `index`, one column per name in `districts` (in that
    order; None: every district with a station on air, sorted), and the stations on air on `as_of`
    itself per district: both from one pass over the stations (a district code per station, one
    bincount), not one scan per district.

    The same numbers as `monthly_on_air(..., by_district=True)` and `count_on_air_by_district`;
    stations in no district or in a district not named are left out of both.
    """
    as_of = pd.Timestamp(as_of).normalize()
    for col in ("on_air_date", "district"):
        if col not in stations.columns:
            raise BadInputError(f"stations have no column {col!r}")
    dates = pd.to_datetime(stations["on_air_date"]).to_numpy()
    on = ~np.isnat(dates) & (dates <= as_of.to_datetime64())
    if districts is None:
        names = sorted(stations.loc[on, "district"].dropna().unique())
    else:
        names = list(dict.fromkeys(districts))  # a name given twice is one column, as in monthly_on_air
    # factorize once (hashing every row), then map the few distinct labels to their column
    codes, labels = pd.factorize(stations["district"])
    column = pd.Index(names, dtype=object).get_indexer(pd.Index(labels, dtype=object))
    code = np.where(codes >= 0, column[codes] if len(column) else -1, -1).astype(np.int64)
    on &= code >= 0
    off = off_air_dates(stations).to_numpy()[on]
    code, dates = code[on], dates[on]
    # a station counts from the first month end on or after its date; after the last one it counts
    # on `as_of` only (bucket len(index)); one taken off air (退网) counts no more from its off-air date
    bucket = np.searchsorted(index.to_numpy(), dates, side="left")
    width = len(index) + 1
    added = np.bincount(code * width + bucket, minlength=len(names) * width).reshape(len(names), width)
    gone = ~np.isnat(off) & (off <= as_of.to_datetime64())
    if gone.any():
        off_bucket = np.searchsorted(index.to_numpy(), off[gone], side="left")
        added = added - np.bincount(code[gone] * width + off_bucket, minlength=len(names) * width).reshape(
            len(names), width
        )
    monthly = np.cumsum(added[:, :-1], axis=1).astype(float)
    frame = pd.DataFrame(dict(zip(names, monthly)), index=index)
    return frame, pd.Series(dict(zip(names, added.sum(axis=1))), dtype=np.int64, name="on_air")


def count_on_air(stations: pd.DataFrame, as_of, district: str | None = None) -> int:
    """Stations on air on `as_of` itself (`schemas.on_air_at`), for the city or one district."""
    if district is None:
        return int(on_air_at(stations, pd.Timestamp(as_of).normalize()).sum())
    return int(count_on_air_by_district(stations, as_of).get(district, 0))


def count_on_air_by_district(stations: pd.DataFrame, as_of) -> pd.Series:
    """Stations on air on `as_of` per district, in one pass (not one scan per district)."""
    on = on_air_at(stations, pd.Timestamp(as_of).normalize())
    return on.groupby(stations["district"]).sum().astype(int)


#: A count published for a period, not a day, beside the year, quarter and month `config.calendar_period_end`
#: reads: a month written month first (12/2021) or by its name (Dec 2021).
_MONTH_YEAR = re.compile(r"(\d{1,2})\s*[-/.]\s*(\d{4})")  # 12/2021
_MONTH_NAME_YEAR = re.compile(r"([A-Za-z]{3,9})\.?[\s,-]*(\d{4})")  # Dec 2021
_DAY_ZH = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
#: A day written with the day and the month both under 13 (05/03/2021): 5 March or May 3rd.
_AMBIGUOUS_DAY = re.compile(r"(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*\d{4}")
_MONTH_NAMES = {
    m.lower(): i
    for i, m in enumerate(["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
    if m
}


def _published_date(text: str) -> pd.Timestamp | None:
    """The day a published count stands for: a day as written; a year (2021, 2021年底), quarter (2021Q3)
    or month (2021-12, 12/2021, Dec 2021, 2021年12月) as its last day (a count published for December 2021
    is the count at the end of it, not on December 1st, which put the month's count a month early on the
    month-end axis). None when it is no date, or a day whose day and month could be either (05/03/2021)."""
    end = calendar_period_end(text)
    if end is not None:
        return pd.Timestamp(end)
    m = _MONTH_YEAR.fullmatch(text)
    if m and 1 <= int(m.group(1)) <= 12:
        return pd.Timestamp(int(m.group(2)), int(m.group(1)), 1) + pd.offsets.MonthEnd(0)
    m = _MONTH_NAME_YEAR.fullmatch(text)
    if m and m.group(1)[:3].lower() in _MONTH_NAMES:
        return pd.Timestamp(int(m.group(2)), _MONTH_NAMES[m.group(1)[:3].lower()], 1) + pd.offsets.MonthEnd(0)
    m = _AMBIGUOUS_DAY.fullmatch(text)
    if m and int(m.group(1)) <= 12 and int(m.group(3)) <= 12 and m.group(1) != m.group(3):
        return None  # (day-first or month-first: the caller's error asks for YYYY-MM-DD)
    m = _DAY_ZH.fullmatch(text)
    if m:
        text = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    try:
        date = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    return None if pd.isna(date) else date


def _calendar_months_between(a: pd.Timestamp, b: pd.Timestamp) -> float:
    """Calendar months from a to b, a day counted as its share of its month: month end to month end is a
    whole number (a year that holds a 29 February is 12 months, not 366 / 30.44 = 12.02)."""
    return 12 * (b.year - a.year) + (b.month - a.month) + b.day / b.days_in_month - a.day / a.days_in_month


def read_series(path: str | Path) -> pd.DataFrame:
    """Read a published cumulative count, CSV `date,value`; one row per published date, sorted.

    A count that falls is kept: a published count of stations on air is net of closures (the forecast says
    so in its notes). Raises BadInputError naming the file and the line for: missing columns, a date that
    does not parse, an empty or non-numeric or negative value, a date given twice, a count that falls to
    under MAX_FALL_SHARE of itself (another unit or a typo), and a gap of more than MAX_GAP_MONTHS months
    between two values (too long to interpolate).
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BadInputError(f"cannot read as CSV: {exc}", file=path) from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    for col in ("date", "value"):
        if col not in raw.columns:
            raise BadInputError(f"missing column {col!r} (need date,value; found {','.join(raw.columns)})", file=path)
    rows = []
    for i, (d, v) in enumerate(zip(raw["date"], raw["value"]), start=2):  # line 1 is the header
        d, v = d.strip(), v.strip()
        date = _published_date(d)
        if date is None and _AMBIGUOUS_DAY.fullmatch(d):
            raise BadInputError(f"date {d!r} is day-first or month-first: write it YYYY-MM-DD", file=path, row=i)
        if date is None:
            raise BadInputError(
                f"date {d!r} does not parse (use YYYY-MM-DD; a month 2021-12, quarter 2021Q3, year 2021: its last day)",
                file=path,
                row=i,
            )
        if v == "":
            raise BadInputError(f"gap: no value for {date.date()}", file=path, row=i)
        try:
            value = float(v.replace(",", ""))
        except ValueError:
            raise BadInputError(f"value {v!r} is not a number", file=path, row=i) from None
        if not math.isfinite(value) or value < 0:
            raise BadInputError(f"value {v!r} is not a count >= 0", file=path, row=i)
        rows.append((date.normalize(), value, i))
    if len(rows) < 3:
        raise BadInputError(f"{len(rows)} values: a forecast needs at least 3", file=path)
    df = pd.DataFrame(rows, columns=["date", "value", "row"])
    dup = df["date"].duplicated(keep="first")
    if dup.any():
        r = df.loc[dup].iloc[0]
        first = df.loc[df["date"] == r["date"], "row"].iloc[0]
        raise BadInputError(f"date {r['date'].date()} given twice (first on row {first})", file=path, row=int(r["row"]))
    df = df.sort_values("date", kind="stable").reset_index(drop=True)
    for k in range(1, len(df)):
        prev, cur = df.iloc[k - 1], df.iloc[k]
        if cur["value"] < prev["value"] * MAX_FALL_SHARE:
            raise BadInputError(
                f"count falls from {prev['value']:g} on {prev['date'].date()} to {cur['value']:g} on "
                f"{cur['date'].date()}, to under {MAX_FALL_SHARE:.0%} of itself: a net count of stations on air "
                "does not lose that much (another unit, 万 against stations, or a typo?)",
                file=path,
                row=int(cur["row"]),
            )
        months = _calendar_months_between(prev["date"], cur["date"])
        if months > MAX_GAP_MONTHS:
            raise BadInputError(
                f"gap of {months:.0f} months between {prev['date'].date()} (row {prev['row']}) and "
                f"{cur['date'].date()}: longer than {MAX_GAP_MONTHS} months cannot be interpolated",
                file=path,
                row=int(cur["row"]),
            )
    return df


def to_month_ends(obs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Put published values on month ends: linear in time between published dates.

    Returns the monthly series (month ends from the first to the last that lie within the
    published dates) and a boolean series saying which month ends were published as such.
    """
    dates = pd.DatetimeIndex(obs["date"])
    first = _month_end(dates[0])
    last = _month_end(dates[-1])
    if last > dates[-1]:
        last = last - pd.offsets.MonthEnd(1)
    index = pd.date_range(first, last, freq="ME")
    if len(index) < 3:
        raise BadInputError(f"the values span {len(index)} month ends: a forecast needs at least 3")
    x = dates.asi8.astype(float)
    values = np.interp(index.asi8.astype(float), x, obs["value"].to_numpy(float))
    observed = index.isin(dates)
    return pd.Series(values, index=index, name="value"), pd.Series(observed, index=index, name="observed")


def count_decimals(values) -> int:
    """The decimals a series' values are given with (0-3): 391.7 (万) has one, a count of stations none."""
    vals = np.asarray(values, float)
    for d in range(0, 3):
        if np.allclose(vals, np.round(vals, d), atol=1e-9, rtol=0):
            return d
    return 3


def _summarize(paths: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    q = np.quantile(paths, [0.025, 0.10, 0.90, 0.975], axis=0)
    return pd.DataFrame(
        {"date": index, "mean": paths.mean(axis=0), "lo80": q[1], "hi80": q[2], "lo95": q[0], "hi95": q[3]}
    )


def published_mask(history: pd.Series, observed) -> np.ndarray:
    """Which month ends of `history` hold a published count (`observed`, as `read_series` gives it), not one
    interpolated between two: all of them for a series of the package's own records (`observed` None)."""
    if observed is None:
        return np.ones(len(history), dtype=bool)
    return pd.Series(observed).reindex(history.index).fillna(False).to_numpy(bool)
