"""Districts too small for a model fit (a country of one big county and thousands of 1-5 station ones,
probe23 F2): the backtest's fallback, drift, without a fit and with fewer paths; the big county as before."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.forecast import city as C
from analysis.forecast import models as M
from analysis.forecast import series as S

warnings.filterwarnings("ignore", module="statsmodels")

AS_OF = pd.Timestamp("2022-12-31")


def _big_and_tiny(n_tiny: int = 30, seed: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2019-11-30", "2022-12-31", freq="ME")
    rows = []
    for k, month_end in enumerate(months):
        for _ in range(rng.poisson(20 + k)):
            rows.append(("BIG", month_end - pd.Timedelta(days=int(rng.integers(0, 27)))))
    for i in range(n_tiny):
        for k in rng.choice(len(months), size=int(rng.integers(1, 6))):
            rows.append((f"T{i:02d}", months[k] - pd.Timedelta(days=int(rng.integers(0, 27)))))
    return pd.DataFrame(rows, columns=["district", "on_air_date"])


def test_a_series_with_few_months_of_additions_is_too_small_to_fit():
    idx = pd.date_range("2019-11-30", periods=38, freq="ME")
    tiny = pd.Series(np.r_[np.zeros(20), np.full(18, 3.0)], idx)
    tiny.iloc[30:] = 5.0
    assert C.too_few_additions(tiny)  # 2 months with an addition
    steady = pd.Series(np.arange(38, dtype=float), idx)
    assert not C.too_few_additions(steady)


def test_tiny_districts_get_drift_without_a_fit_and_the_big_one_keeps_its_forecast(monkeypatch):
    st = _big_and_tiny()
    series = S.monthly_on_air(st, AS_OF)
    by_d, now = S.monthly_on_air_by_district(st, series.index, AS_OF, None)
    city_fc = M.fit_forecast(series, horizon=12, as_of=AS_OF, count_as_of=len(st), n_paths=400, model="ucm")
    fitted = []
    real_fit = C._fit_candidate

    def counting_fit(name, cum, *a, **kw):
        fitted.append((name, cum.name))
        return real_fit(name, cum, *a, **kw)

    monkeypatch.setattr(C, "_fit_candidate", counting_fit)
    districts, table = C.forecast_districts(by_d, now, city_fc, [], {}, 400, 5)
    tiny = [d for d in by_d.columns if d != "BIG"]
    assert districts["BIG"].model == "ucm"
    assert all(districts[d].model in ("drift", "none") for d in tiny)
    assert all(name == "drift" for name, d in fitted if d != "BIG")  # no ucm fit of a tiny district
    # the big county's own (unreconciled) paths are what they were: same model, same seed, same paths
    p = C._DistrictFit(by_d["BIG"], int(now["BIG"]), 5 + 1 + list(by_d.columns).index("BIG"))
    months = len(city_fc.table)
    own = C._fit_district(p, "ucm", city_fc.paths.shape[1], months, 400)
    fit = real_fit("ucm", by_d["BIG"])
    adds = fit.simulate(city_fc.paths.shape[1], 400, np.random.default_rng(p.seed))
    assert np.array_equal(own, M._monotone_paths(adds[:, :months], float(by_d["BIG"].iloc[-1]), float(now["BIG"])))
    # a tiny district's paths: fewer, over the months read only, and its reconciled mean is what the table says
    d = next(d for d in tiny if districts[d].model == "drift")
    q = C._DistrictFit(by_d[d], int(now[d]), 0)
    paths = C._fit_district(q, "ucm", city_fc.paths.shape[1], months, 2000)
    assert paths.shape == (C.STATSMODELS_DISTRICT_PATHS, months) and q.steps == months
    assert np.all(np.diff(paths, axis=1) >= 0) and np.all(paths >= now[d])
