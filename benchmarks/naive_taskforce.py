"""The naive task-force tracker a user writes with pandas, the baseline of the `taskforce` command
rows: `python -m benchmarks.naive_taskforce STATIONS.parquet AS_OF`.

Each site's stage on AS_OF is the latest stage whose date is on or before it (else its reported
status); then sites by district and stage, and the sites in a stage for more than 60 days. No
durations, expected on-air months, district targets or charts (the command does all of those, so
the comparison favours the baseline).
"""

from __future__ import annotations

import sys

import pandas as pd

STAGES = ("planned", "site_selection", "site_access", "construction", "power_hookup", "on_air")


def main(argv: list[str]) -> int:
    st = pd.read_parquet(argv[0])
    as_of = pd.Timestamp(argv[1])
    stage = st["status"].astype(object).copy()
    since = pd.Series(pd.NaT, index=st.index, dtype="datetime64[ns]")
    for name in STAGES:  # later stages overwrite earlier ones
        d = pd.to_datetime(st[f"{name}_date"])
        reached = d.notna() & (d <= as_of)
        stage[reached] = name
        since[reached] = d[reached]
    funnel = pd.crosstab(st["district"], stage)
    stuck = st[(stage != "on_air") & ((as_of - since).dt.days > 60)]
    print(f"{int(funnel.to_numpy().sum())} sites in {len(funnel)} districts, {len(stuck)} stuck")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
