"""Tests of the district forecasts in analysis.forecast.city: every district's series from one pass,
and the batched district forecasts giving the same numbers as forecasting the districts one by one."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.errors import BadInputError
from analysis.forecast import batched as B
from analysis.forecast import city as C
from analysis.forecast import models as M
from analysis.forecast import series as S

warnings.filterwarnings("ignore", module="statsmodels")

AS_OF = pd.Timestamp("2021-03-22")
NAMES = ["东区", "西区", "南区", "北区"]  # 北区 has no station, 南区 none added since its first month


def _stations() -> pd.DataFrame:
    """Two growing districts, one flat, one empty, plus rows the series must leave out or count late."""
    rng = np.random.default_rng(3)
    rows = []
    for name, per_month in (("东区", 4), ("西区", 1)):
        for m, month_end in enumerate(pd.date_range("2019-12-31", "2021-02-28", freq="ME")):
            for _ in range(rng.poisson(per_month + m // 4)):
                rows.append((name, month_end - pd.Timedelta(days=int(rng.integers(0, 27)))))
    rows += [("南区", pd.Timestamp("2019-12-02"))] * 3
    rows += [
        ("东区", pd.Timestamp("2021-03-10")),  # after the last month end, on air on as_of
        ("东区", pd.Timestamp("2021-03-23")),  # after as_of: not on air
        ("西区", pd.NaT),  # never on air
        (None, pd.Timestamp("2020-05-01")),  # in no district: the city's only
        ("外区", pd.Timestamp("2020-06-01")),  # a district the city does not name
    ]
    return pd.DataFrame(rows, columns=["district", "on_air_date"])


def _targets():
    return [M.TargetResult(pd.Timestamp("2021-12-31"), 600), M.TargetResult(pd.Timestamp("2022-06-30"), 800)]


def _city_forecast(stations, model, n_paths=300):
    series = S.monthly_on_air(stations, AS_OF, start=pd.Timestamp("2019-12-01"))
    return series, M.fit_forecast(
        series,
        horizon=12,
        targets=_targets(),
        as_of=AS_OF,
        count_as_of=S.count_on_air(stations, AS_OF),
        n_paths=n_paths,
        seed=11,
        model=model,
    )


def _reference(by_d, on_air_now, city_fc, targets, split, n_paths, seed):
    """The districts one by one, as forecast_stations did before the batched path: every district
    with n_paths full-length paths kept, one reconcile over all of them, the table read from them.
    The arima candidate is the batch's estimate (tested against statsmodels' fit in test_forecast.py)."""
    districts = {}
    batch = B.fit_ar1_batch({d: by_d[d] for d in by_d.columns})
    for i, d in enumerate(by_d.columns):
        s, count = by_d[d], int(on_air_now.get(d, 0))
        steps = city_fc.paths.shape[1]
        if s.iloc[-1] == 0 or s.diff().dropna().abs().sum() == 0:
            paths, model, params, count_as_of = np.full((n_paths, steps), float(s.iloc[-1])), "none", {}, count
        else:
            model = city_fc.model if len(s) >= M.MIN_TRAIN else "drift"
            fit = M._fit_candidate(model, s, fitted={"arima": batch[d]} if d in batch else None)
            adds = fit.simulate(steps, n_paths, np.random.default_rng(seed + 1 + i))
            paths = M._monotone_paths(adds, float(s.iloc[-1]), float(count))
            params, count_as_of = fit.params, float(count)
        districts[d] = dict(history=s, model=model, params=params, paths=paths, count_as_of=count_as_of)
    total = sum(f["paths"].mean(axis=0) for f in districts.values())
    city_mean = city_fc.paths.mean(axis=0)
    factor = np.where(total > 0, city_mean / np.where(total > 0, total, 1), 1.0)
    horizon = len(city_fc.table)
    for f in districts.values():
        f["mean"] = f["paths"].mean(axis=0) * factor
        f["paths"] = np.maximum.accumulate(f["paths"] * factor, axis=1)
        f["table"] = S._summarize(f["paths"][:, :horizon], city_fc.path_index[:horizon])
        f["table"]["mean"] = f["mean"][:horizon]
    rows = []
    for t in targets:
        k = city_fc.path_index.get_indexer([S._month_end(t.date)])[0]
        for d, f in districts.items():
            v = f["paths"][:, k]
            need = M._months_between(city_fc.as_of, t.date)
            rows.append(
                {
                    "district": d,
                    "target_date": t.date,
                    "city_target": t.on_air,
                    "share_pct": 100 * split[(t.date, d)][1],
                    "share_source": split[(t.date, d)][2],
                    "district_target": split[(t.date, d)][0],
                    "on_air_as_of": f["count_as_of"],
                    "mean": float(f["mean"][k]),
                    "lo80": float(np.quantile(v, 0.10)),
                    "hi80": float(np.quantile(v, 0.90)),
                    "prob_reach": float((v >= split[(t.date, d)][0] - 1e-9).mean()),
                    "pace_needed_per_month": max((split[(t.date, d)][0] - f["count_as_of"]) / need, 0.0),
                    "pace_last_3m": M._pace(f["history"], 3),
                    "pace_last_6m": M._pace(f["history"], 6),
                    "model": f["model"],
                }
            )
    return districts, pd.DataFrame(rows)


def test_every_district_series_from_one_pass_equals_one_scan_per_district():
    st = _stations()
    index = S.monthly_on_air(st, AS_OF).index
    for names in (NAMES, None):
        by_d, now = S.monthly_on_air_by_district(st, index, AS_OF, names)
        expected = S.monthly_on_air(st, AS_OF, by_district=True, districts=names)
        pd.testing.assert_frame_equal(by_d, expected)
        counts = S.count_on_air_by_district(st, AS_OF)
        assert {d: int(now[d]) for d in by_d.columns} == {d: int(counts.get(d, 0)) for d in by_d.columns}
    assert list(S.monthly_on_air_by_district(st, index, AS_OF, None)[0].columns) == ["东区", "南区", "外区", "西区"]
    # the station of 2021-03-10 is after the last month end: on air on as_of, in no month yet
    assert now["东区"] == by_d["东区"].iloc[-1] + 1
    # dates stored at another resolution count the same
    coarse = st.assign(on_air_date=st["on_air_date"].astype("datetime64[s]"))
    pd.testing.assert_frame_equal(
        S.monthly_on_air_by_district(coarse, index, AS_OF, NAMES)[0],
        S.monthly_on_air_by_district(st, index, AS_OF, NAMES)[0],
    )


def test_every_district_series_names_a_missing_column():
    with pytest.raises(BadInputError, match="district"):
        S.monthly_on_air_by_district(_stations().drop(columns="district"), pd.DatetimeIndex([]), AS_OF, NAMES)


@pytest.mark.parametrize("model", ["drift", "season_level", "drift+arima"])
@pytest.mark.parametrize("budget_mb", [C.MAX_KEPT_DISTRICT_PATHS_MB, 0.0])
def test_batched_districts_equal_the_districts_one_by_one(model, budget_mb, monkeypatch):
    """The same district table and district tables, to the last bit, whether the paths are kept or
    simulated twice and dropped; the flat and the empty district get one row and no model."""
    monkeypatch.setattr(C, "MAX_KEPT_DISTRICT_PATHS_MB", budget_mb)
    st = _stations()
    series, city_fc = _city_forecast(st, model)
    by_d, now = S.monthly_on_air_by_district(st, series.index, AS_OF, NAMES)
    split = C.split_targets(st, AS_OF, None, _targets(), NAMES)
    districts, table = C.forecast_districts(by_d, now, city_fc, _targets(), split, 300, 11)
    ref, ref_table = _reference(by_d, now, city_fc, _targets(), split, 300, 11)
    pd.testing.assert_frame_equal(table, ref_table, check_exact=True)
    for d in NAMES:
        pd.testing.assert_frame_equal(districts[d].table, ref[d]["table"], check_exact=True)
        assert (districts[d].model, districts[d].params) == (ref[d]["model"], ref[d]["params"])
    assert districts["东区"].model == model and table["mean"].gt(0).any()
    if "arima" in model:  # refitted in one batch, not by statsmodels one by one
        batch = B.fit_ar1_batch({d: by_d[d] for d in ("东区", "西区")})
        assert districts["东区"].params["arima.ar.L1"] == batch["东区"].ar
    for d in ("南区", "北区"):
        assert districts[d].model == "none" and districts[d].paths.shape[0] == 1
    kept = districts["东区"].paths.shape[0]
    assert kept == (300 if budget_mb > 0 else 0)
    # the reconciled districts add up to the city at every month of the table
    total = sum(f.table["mean"].to_numpy() for f in districts.values())
    assert np.allclose(total, city_fc.table["mean"].to_numpy())


@pytest.mark.parametrize(("model", "paths"), [("arima_seasonal", 40), ("ucm", 200)])
def test_districts_refitted_through_statsmodels_draw_fewer_paths_and_empty_ones_share_one_summary(
    model, paths, monkeypatch
):
    """A refit that statsmodels simulates path by path (exog: Fourier terms) draws fewer paths; one drawn
    in numpy (a time-invariant state space) draws them all."""
    monkeypatch.setattr(C, "STATSMODELS_DISTRICT_PATHS", 40)
    st = _stations()
    names = [*NAMES, "中区"]  # a second empty district
    series, city_fc = _city_forecast(st, model, n_paths=200)
    by_d, now = S.monthly_on_air_by_district(st, series.index, AS_OF, names)
    split = C.split_targets(st, AS_OF, None, _targets(), names)
    districts, table = C.forecast_districts(by_d, now, city_fc, _targets(), split, 200, 11)
    assert districts["东区"].model == model and districts["东区"].paths.shape[0] == paths
    assert table.loc[table["district"] == "东区", "prob_reach"].mul(paths).round(9).mod(1).eq(0).all()
    total = sum(f.table["mean"].to_numpy() for f in districts.values())
    assert np.allclose(total, city_fc.table["mean"].to_numpy())
    # the two empty districts at one level share one read-only summary (thousands of empty counties
    # would otherwise cost a frame each), with their own names and counts
    assert districts["北区"].table is districts["中区"].table and (districts["中区"].table["mean"] == 0.0).all()
    assert districts["北区"].name == "北区" and districts["中区"].name == "中区"
