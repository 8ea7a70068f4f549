"""A buildout that has stopped is forecast to stay where it stopped: the naive model's paths stay at the
last count, and no model's paths grow above its own mean because their additions are clipped at zero
(probe23 F1: 12 flat months after a ramp to 199,208 were forecast to 310,301, P(250,000) = 99 %)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.forecast import city as C
from analysis.forecast import models as M
from analysis.season import clip_keeping_mean

warnings.filterwarnings("ignore", module="statsmodels")

AS_OF = pd.Timestamp("2022-12-31")


def _ramp_then_flat(top: float = 199_208.0, ramp: int = 26, flat: int = 12) -> pd.Series:
    """A logistic ramp from 2019-11 to `top`, then `flat` months without an addition."""
    x = np.linspace(-6, 6, ramp)
    values = np.round(top / (1 + np.exp(-x)))
    values[-1] = top
    idx = pd.date_range("2019-11-30", periods=ramp + flat, freq="ME")
    return pd.Series(np.r_[values, np.full(flat, top)], index=idx)


def _growing(seed: int = 1, months: int = 38, pace: float = 400.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2019-11-30", periods=months, freq="ME")
    return pd.Series(np.cumsum(rng.poisson(pace, months)).astype(float), index=idx)


def test_the_naive_model_adds_no_station():
    cum = _ramp_then_flat()
    fit = M._fit_candidate("naive", cum)
    adds = fit.simulate(36, 500, np.random.default_rng(0))
    assert np.array_equal(adds, np.zeros((500, 36)))
    assert np.array_equal(fit.mean(36), np.zeros(36))


def test_a_stopped_buildout_stays_flat_and_a_target_above_it_is_not_reached():
    cum = _ramp_then_flat()
    fc = M.fit_forecast(cum, horizon=36, targets=[("2025-12-31", 250_000)], n_paths=500)
    assert fc.model == "naive"  # the backtest's choice, as the tester found
    assert np.allclose(fc.table["mean"], 199_208.0) and np.allclose(fc.table["hi95"], 199_208.0)
    row = fc.targets.iloc[0]
    assert row["prob_reach"] == pytest.approx(0.0) and row["mean"] == pytest.approx(199_208.0)


@pytest.mark.parametrize("model", ["arima", "ucm", "ucm_seasonal", "season_ucm", "snaive"])
def test_clipped_additions_do_not_raise_a_model_above_its_own_mean(model):
    cum = _ramp_then_flat()
    fit = M._fit_candidate(model, cum)
    h = 36
    adds = fit.simulate(h, 2000, np.random.default_rng(5))
    paths = M._monotone_paths(adds, float(cum.iloc[-1]), None)
    own = float(cum.iloc[-1]) + np.cumsum(np.clip(fit.mean(h), 0, None))
    # before: arima +40,000, ucm +85,000, season_ucm +100,000 above their own means 36 months on
    assert paths[:, -1].mean() <= own[-1] + 0.01 * float(cum.iloc[-1])
    assert np.all(adds >= 0)


def test_clipping_keeps_the_mean_of_the_draws_and_leaves_draws_above_zero_alone():
    rng = np.random.default_rng(2)
    above = 50 + rng.normal(0, 5, size=(1000, 12))
    assert np.array_equal(clip_keeping_mean(above), above)
    around_zero = rng.normal(0, 10, size=(4000, 12))
    kept = clip_keeping_mean(around_zero, np.zeros(12))
    assert np.all(kept == 0)  # a mean addition of zero with no fall: nothing added
    low = rng.normal(3, 10, size=(4000, 12))
    kept = clip_keeping_mean(low, np.full(12, 3.0))
    assert np.all(kept >= 0) and np.allclose(kept.mean(axis=0), 3.0)
    assert np.clip(low, 0, None).mean() > 4.5  # (the plain clip: 3 + 10 phi(0.3) - 3 Phi(-0.3) = 5.1)


def test_a_growing_series_keeps_its_mean():
    cum = _growing()
    for model in ("drift", "arima", "ucm"):
        fit = M._fit_candidate(model, cum)
        adds = fit.simulate(24, 2000, np.random.default_rng(7))
        own = np.cumsum(fit.mean(24))
        got = np.cumsum(adds.mean(axis=0))
        assert abs(got[-1] - own[-1]) < 0.02 * own[-1], model


def _stopped_county_stations(n_counties: int = 6, seed: int = 4) -> pd.DataFrame:
    """Counties that ramp up from 2019-11 to 2021-12 and add nothing in 2022."""
    rng = np.random.default_rng(seed)
    rows = []
    months = pd.date_range("2019-11-30", "2021-12-31", freq="ME")
    weights = 1 / (1 + np.exp(-np.linspace(-6, 6, len(months))))
    weights = np.diff(np.r_[0.0, weights])
    for i in range(n_counties):
        size = int(rng.integers(20, 400))
        at = rng.choice(len(months), size=size, p=weights / weights.sum())
        for k in at:
            rows.append((f"C{i}", months[k] - pd.Timedelta(days=int(rng.integers(0, 27)))))
    df = pd.DataFrame(rows, columns=["district", "on_air_date"])
    df["station_id"] = [f"s{i}" for i in range(len(df))]
    df["is_on_air"] = True
    return df


def test_every_county_of_a_stopped_country_stays_at_its_count():
    st = _stopped_county_stations()
    cf = C.forecast_stations(st, AS_OF, horizon=36, n_paths=300, pipeline=False)
    assert cf.city.model == "naive"
    now = st.groupby("district").size()
    for d, f in cf.districts.items():
        # before: every county +55 % by 2025-12
        assert np.allclose(f.table["mean"], now[d]) and np.allclose(f.table["hi80"], now[d]), d
