"""Schemas of the tables the package writes, enforced when they are written.

A violation here is a bug in the package, not bad input: bad input is quarantined before.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

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

_date = pa.Column("datetime64[ns]", nullable=True)
_text = pa.Column(str)

STATIONS = pa.DataFrameSchema(
    {
        "station_id": pa.Column(str, unique=True),
        "site_code": pa.Column(str, nullable=True),
        "name": _text,
        "operator": pa.Column(str, pa.Check.isin(OPERATORS)),
        "band": pa.Column(str, pa.Check.isin(BANDS)),
        "lon": pa.Column(float, pa.Check.in_range(-180, 180)),
        "lat": pa.Column(float, pa.Check.in_range(-90, 90)),
        "district": _text,
        "status": pa.Column(str, pa.Check.isin(STATUSES)),
        "blocker": pa.Column(str, pa.Check.isin(BLOCKERS), nullable=True),
        "is_on_air": pa.Column(bool),
        **{col: _date for col in STAGE_DATE_COLUMNS.values()},
        "source_file": _text,
        "source_sheet": pa.Column(str, nullable=True),
        "source_row": pa.Column(int, pa.Check.ge(1)),
        "sources": _text,
        "n_sources": pa.Column(int, pa.Check.ge(1)),
        "in_operator_reports": pa.Column(bool),
        "opencellid_cells": pa.Column(int, pa.Check.ge(0)),
        "opencellid_distance_m": pa.Column(float, nullable=True),
        "notes": pa.Column(str, nullable=True),
    },
    checks=[
        # an on-air station has an on-air date; a planned site has none yet
        pa.Check(lambda df: (df["is_on_air"] == df["on_air_date"].notna()).all(),
                 error="is_on_air must equal on_air_date being set"),
    ],
    strict=False,
    ordered=False,
    name="stations",
)

#: The leading columns of quarantine.csv (the row's original values follow): where the row came from,
#: what became of it (merged or quarantined), why, and the station it joined.
QUARANTINE_COLUMNS = ("source_file", "source_sheet", "source_row", "fate", "reason", "detail", "merged_into")


#: Column order and dtype of stations.parquet (the schema checks the values); every reader and
#: writer of the station table takes its columns from here.
STATION_DTYPES = {
    "station_id": "str", "site_code": "str", "name": "str", "operator": "str", "band": "str",
    "lon": "float64", "lat": "float64", "district": "str", "status": "str", "blocker": "str", "is_on_air": "bool",
    **{c: "datetime64[ns]" for c in STAGE_DATE_COLUMNS.values()},
    "source_file": "str", "source_sheet": "str", "source_row": "int64", "sources": "str", "n_sources": "int64",
    "in_operator_reports": "bool", "opencellid_cells": "int64", "opencellid_distance_m": "float64", "notes": "str",
}
STATION_COLUMNS = tuple(STATION_DTYPES)
if set(STATION_COLUMNS) != set(STATIONS.columns):  # a bug in this module, caught at import
    raise RuntimeError("STATION_DTYPES and the STATIONS schema must name the same columns")


def on_air_at(stations: pd.DataFrame, date) -> pd.Series:
    """The one rule of "on air on a date": the station has an on-air date and it is on or before
    `date` (a station taken off air has no on-air date). `date` None: every dated station."""
    dates = pd.to_datetime(stations["on_air_date"])
    if date is None:
        return dates.notna()
    return dates.notna() & (dates <= pd.Timestamp(date))
