"""Schemas of the tables the package writes, enforced when they are written.

A violation here is a bug in the package, not bad input: bad input is quarantined before.
"""

from __future__ import annotations

import functools

import pandas as pd

from analysis.config import OPERATORS

#: Stages of a site's life, in order: a planned site moves right until it is on air.
STAGES = ("planned", "site_selection", "site_access", "construction", "power_hookup", "on_air")
#: Reported statuses: the stages, plus stations taken off air and records that say nothing usable.
STATUSES = STAGES + ("decommissioned", "unknown")
#: What holds a planned site back (the article's 选址、进场、建设、电源接入、高转供电价).
BLOCKERS = ("site_selection", "site_access", "construction", "power_hookup", "power_price", "other")
#: NR bands as 3GPP names them; "unknown" where the record does not say.
BANDS = ("n1", "n3", "n28", "n41", "n77", "n78", "n79", "unknown")
#: Date each stage was reached, where the records give it (column per stage).
STAGE_DATE_COLUMNS = {stage: f"{stage}_date" for stage in STAGES}


@functools.cache
def stations_schema():
    """The pandera schema of stations.parquet, built on first use: pandera takes about 0.3 s to
    import, which the commands that only read a station table (coverage, taskforce) should not pay."""
    import pandera.pandas as pa

    date_col = pa.Column("datetime64[ns]", nullable=True)
    text_col = pa.Column(str)

    schema = pa.DataFrameSchema(
        {
            "station_id": pa.Column(str, unique=True),
            "site_code": pa.Column(str, nullable=True),
            "name": text_col,
            "operator": pa.Column(str, pa.Check.isin(OPERATORS)),
            "band": pa.Column(str, pa.Check.isin(BANDS)),
            "lon": pa.Column(float, pa.Check.in_range(-180, 180)),
            "lat": pa.Column(float, pa.Check.in_range(-90, 90)),
            "district": text_col,
            "status": pa.Column(str, pa.Check.isin(STATUSES)),
            "blocker": pa.Column(str, pa.Check.isin(BLOCKERS), nullable=True),
            "is_on_air": pa.Column(bool),
            **{col: date_col for col in STAGE_DATE_COLUMNS.values()},
            "off_air_date": date_col,
            # what a task force's tracker adds (nullable: an operator's report says none of it)
            "blocker_detail": pa.Column(str, nullable=True),
            "responsible": pa.Column(str, nullable=True),
            "planned_on_air_date": date_col,
            "source_file": text_col,
            "source_sheet": pa.Column(str, nullable=True),
            "source_row": pa.Column(int, pa.Check.ge(1)),
            "sources": text_col,
            "n_sources": pa.Column(int, pa.Check.ge(1)),
            "in_operator_reports": pa.Column(bool),
            "opencellid_cells": pa.Column(int, pa.Check.ge(0)),
            "opencellid_distance_m": pa.Column(float, nullable=True),
            "notes": pa.Column(str, nullable=True),
        },
        checks=[
            # an on-air station has an on-air date; a planned site has none yet; a station with an on-air
            # date that is not on air was taken off air (its off-air date set)
            pa.Check(
                lambda df: (df["is_on_air"] == (df["on_air_date"].notna() & df["off_air_date"].isna())).all(),
                error="is_on_air must equal on_air_date being set and off_air_date not",
            ),
        ],
        strict=False,
        ordered=False,
        name="stations",
    )
    if set(STATION_COLUMNS) != set(schema.columns):  # a bug in this module
        raise RuntimeError("STATION_DTYPES and the STATIONS schema must name the same columns")
    return schema


def __getattr__(name: str):
    # `schemas.STATIONS`, as before the schema was built lazily
    if name == "STATIONS":
        return stations_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The leading columns of quarantine.csv (the row's original values follow): where the row came from,
#: what became of it (merged or quarantined), why, and the station it joined.
QUARANTINE_COLUMNS = ("source_file", "source_sheet", "source_row", "fate", "reason", "detail", "merged_into")


#: Column order and dtype of stations.parquet (the schema checks the values); every reader and
#: writer of the station table takes its columns from here.
STATION_DTYPES = {
    "station_id": "str",
    "site_code": "str",
    "name": "str",
    "operator": "str",
    "band": "str",
    "lon": "float64",
    "lat": "float64",
    "district": "str",
    "status": "str",
    "blocker": "str",
    "is_on_air": "bool",
    **{c: "datetime64[ns]" for c in STAGE_DATE_COLUMNS.values()},
    # the day a station went off air (退网, 拆除): reported, else the report's as-of date (it was off air by
    # then); NaT for every station not taken off air. A station is on air from on_air_date until it.
    "off_air_date": "datetime64[ns]",
    # a tracker's blocker in its own words where they say more than the category (租金谈不拢), None elsewhere
    "blocker_detail": "str",
    # who is to clear the blocker (协调责任单位, 责任单位: a bureau, the power company), as written
    "responsible": "str",
    # the day the site is to go on air (计划开通时间; a month or quarter as its last day), NaT where none is given
    "planned_on_air_date": "datetime64[ns]",
    "source_file": "str",
    "source_sheet": "str",
    "source_row": "int64",
    "sources": "str",
    "n_sources": "int64",
    "in_operator_reports": "bool",
    "opencellid_cells": "int64",
    "opencellid_distance_m": "float64",
    "notes": "str",
}
STATION_COLUMNS = tuple(STATION_DTYPES)
#: The columns a task force's tracker adds: a station table written before them lacks them (read as missing).
TRACKER_COLUMNS = ("blocker_detail", "responsible", "planned_on_air_date")


def on_air_at(stations: pd.DataFrame, date) -> pd.Series:
    """The one rule of "on air on a date": the station has an on-air date on or before `date` and no
    off-air date (退网) on or before it. `date` None: every dated station not taken off air. A table without
    an off_air_date column (written before it existed) has no station taken off air with its date."""
    dates, off = pd.to_datetime(stations["on_air_date"]), off_air_dates(stations)
    if date is None:
        return dates.notna() & off.isna()
    return dates.notna() & (dates <= pd.Timestamp(date)) & ~(off <= pd.Timestamp(date))


def off_air_dates(stations: pd.DataFrame) -> pd.Series:
    """Each station's off-air date (退网), NaT for every station of a table without the column."""
    if "off_air_date" not in stations.columns:
        return pd.Series(pd.NaT, index=stations.index, dtype="datetime64[ns]")
    return pd.to_datetime(stations["off_air_date"])
