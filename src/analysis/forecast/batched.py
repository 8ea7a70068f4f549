"""Candidates fitted to many series of one length at once (the districts' refits): the `arima`
candidate's AR(1) with an intercept, by its exact Gaussian likelihood maximised for every series
together in numpy, where statsmodels would run one optimiser per series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.forecast.models import _Fitted, clip_keeping_mean, draw_state_space

#: The AR coefficient is searched on (-AR_BOUND, AR_BOUND); a maximum on the edge (a unit root, where
#: statsmodels' stationarity transform lets its optimiser stop anywhere near 1) is left to statsmodels.
AR_BOUND = 0.99
#: Coarse grid of the AR coefficient, then golden-section steps inside the best cell.
AR_GRID = 199
GOLDEN_STEPS = 60
#: A series whose innovations' variance is this small is degenerate (a constant addition every month):
#: left to statsmodels, as before.
MIN_SIGMA2 = 1e-8


class ArOne(_Fitted):
    """SARIMAX(order=(1, 0, 0), trend="c") on the monthly additions, fitted by `fit_ar1_batch`: the same
    model, parameters (named as statsmodels names them), point forecasts and paths as the `arima`
    candidate's statsmodels fit, without a statsmodels results object."""

    name = "arima"

    def __init__(self, intercept: float, ar: float, sigma2: float, last: float):
        self.intercept, self.ar, self.sigma2, self.last = intercept, ar, sigma2, last
        self.params = {"intercept": intercept, "ar.L1": ar, "sigma2": sigma2}

    def mean(self, h):
        out, y = np.empty(h), self.last
        for k in range(h):
            y = self.intercept + self.ar * y
            out[k] = y
        return out

    def simulate(self, h, n, rng):
        # normal additions: clipped at zero without raising their mean above the model's
        adds = self.draw(h, n, rng)
        return clip_keeping_mean(adds, self.mean(h) if np.any(adds < 0) else None)

    def draw(self, h, n, rng):
        """The model's additions as drawn, before the clip at zero (statsmodels' draws at these parameters)."""
        # the state is the addition itself, known exactly at the last month: the next one is predicted
        # at intercept + ar * last with variance sigma2 (statsmodels' predicted state and covariance)
        sd = np.sqrt(self.sigma2)
        system = {
            "start": np.array([self.intercept + self.ar * self.last]),
            "start_f": np.array([[sd]]),
            "shock_f": np.array([[sd]]),
            "obs_sd": 0.0,
            "design": np.array([1.0]),
            "transition": np.array([[self.ar]]),
            "obs_intercept": 0.0,
            "state_intercept": np.array([self.intercept]),
        }
        return draw_state_space(system, h, n, rng)


def _profile(y: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per series (rows of y) at its AR coefficient phi: the intercept and innovations' variance that
    maximise the exact likelihood, and that log-likelihood. The first addition is drawn from the
    stationary distribution (mean c / (1 - phi), variance sigma2 / (1 - phi^2)), the others given the
    one before; for a fixed phi the intercept is a weighted least-squares mean and sigma2 the mean
    weighted square."""
    n = y.shape[1]
    phi = phi[:, None]
    first = (1 - phi[:, 0]) * y[:, 0]  # (1 - phi) y_1, with weight (1 + phi) / (1 - phi)
    weight = (1 + phi[:, 0]) / (1 - phi[:, 0])
    u = y[:, 1:] - phi * y[:, :-1]
    c = (weight * first + u.sum(axis=1)) / (weight + n - 1)
    ss = weight * (first - c) ** 2 + ((u - c[:, None]) ** 2).sum(axis=1)
    sigma2 = ss / n
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = -0.5 * (n * np.log(2 * np.pi * sigma2) + n - np.log(1 - phi[:, 0] ** 2))
    return c, sigma2, np.where(np.isfinite(ll), ll, -np.inf)


def fit_ar1_batch(series: dict[str, pd.Series]) -> dict[str, ArOne]:
    """The `arima` candidate fitted to each cumulative series (all of one length) at once: the exact
    maximum-likelihood AR(1) with intercept on its monthly additions, found on a grid of the AR
    coefficient and refined by golden-section search (for each coefficient the intercept and variance
    have closed forms). The likelihood is statsmodels' own (its `llf` at these parameters); its
    optimiser stops within its tolerance of the same maximum. Series whose maximum lies on the edge of
    stationarity or whose variance vanishes are left out (the caller fits them with statsmodels)."""
    names = list(series)
    if not names:
        return {}
    y = np.vstack([np.diff(series[k].to_numpy(float)) for k in names])
    if y.shape[1] < 3:
        return {}
    grid = np.linspace(-AR_BOUND, AR_BOUND, AR_GRID)
    ll = np.column_stack([_profile(y, np.full(len(y), g))[2] for g in grid])
    best = np.argmax(ll, axis=1)
    step = grid[1] - grid[0]
    lo, hi = grid[best] - step, grid[best] + step
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _profile(y, a)[2], _profile(y, b)[2]
    for _ in range(GOLDEN_STEPS):  # every series' bracket shrinks toward its maximum, all at once
        left = fa >= fb
        hi, lo = np.where(left, b, hi), np.where(left, lo, a)
        b_new, a_new = np.where(left, a, lo + ratio * (hi - lo)), np.where(left, hi - ratio * (hi - lo), b)
        a, b = a_new, b_new
        fa, fb = np.where(left, _profile(y, a)[2], fb), np.where(left, fa, _profile(y, b)[2])
    phi = (lo + hi) / 2
    c, sigma2, _ = _profile(y, phi)
    inside = (np.abs(phi) < AR_BOUND - step) & (sigma2 > MIN_SIGMA2) & np.isfinite(c)
    return {
        k: ArOne(float(c[i]), float(phi[i]), float(sigma2[i]), float(y[i, -1]))
        for i, k in enumerate(names)
        if inside[i]
    }
