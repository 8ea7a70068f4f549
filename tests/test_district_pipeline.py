"""District forecasts take their own sites in the pipeline (analysis.forecast.city._pipeline_factors): the
city's expected additions go first to each district's pipeline as it is expected to reach air, the rest by
the districts' own forecasts (one factor for all scaled a slow district's history and ignored its 25 sites
in the pipeline: Urho forecast 32, 80 % 25-40, where 54 came)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import load_city
from analysis.schemas import STAGES

AS_OF = pd.Timestamp("2021-06-30")


def _station(sid, district, on_air, stage_days=10, reached="on_air"):
    row = {"station_id": sid, "district": district, "operator": "CMCC", "blocker": None, "name": sid, "site_code": sid}
    t = pd.Timestamp(on_air) - pd.Timedelta(days=stage_days * (len(STAGES) - 1))
    for stage in STAGES:
        row[f"{stage}_date"] = t if STAGES.index(stage) <= STAGES.index(reached) else pd.NaT
        t = t + pd.Timedelta(days=stage_days)
    row["status"] = reached
    return row


def test_a_slow_district_with_a_full_pipeline_is_forecast_to_take_it(tiny_city):
    from analysis.forecast import forecast_stations

    rows = [_station(f"W{i}", "西区", pd.Timestamp("2019-12-20") + pd.DateOffset(months=i // 5)) for i in range(95)]
    rows += [_station(f"E{i}", "东区", "2020-03-15") for i in range(3)]
    # 20 sites of the east in construction since a week: on air within weeks at the observed durations
    rows += [_station(f"P{i}", "东区", AS_OF + pd.Timedelta(days=3), reached="construction") for i in range(20)]
    st = pd.DataFrame(rows)
    st["is_on_air"] = st["on_air_date"].notna()
    cf = forecast_stations(st, AS_OF, city=load_city(tiny_city / "city.toml"), n_paths=400)
    east, west = cf.districts["东区"], cf.districts["西区"]
    at = 5  # six months ahead
    assert east.reconciled_mean[at] >= 3 + 0.8 * 20  # its pipeline, not its three stations' flat history
    total = east.reconciled_mean[: at + 1] + west.reconciled_mean[: at + 1]
    assert np.allclose(total, cf.city.paths[:, : at + 1].mean(axis=0))  # the districts add up to the city
    assert west.reconciled_mean[at] >= west.count_as_of  # the west keeps its own growth
