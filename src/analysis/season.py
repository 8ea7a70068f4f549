"""The construction season: a monthly pace factor learned from as little as one year of monthly
additions and shrunk toward flat (or toward a season the city declares in city.toml `[forecast]`)
by empirical Bayes, and the top-down pace models built on it (the deseasonalised pace as a mean
or as a statsmodels local level), beside the "last year's same months" reference.

Fitted models here follow forecast's candidate protocol: `name`, `params`, `mean(h)` (additions)
and `simulate(h, n, rng)` (an (n, h) array of additions).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ConfigError

#: Months of additions needed before a season is learned from the data (one of each month).
SEASON_MIN_MONTHS = 12
#: A month whose factor is below this carries no information on the pace (a stop month).
STOP_FACTOR = 0.05
#: Prior weight of a declared season, in years of evidence.
DECLARED_PRIOR_YEARS = 1.0
#: Standard deviation of the year-to-year change of a programme's pace (log scale), used until two
#: years of history show their own: budgets and plans change from one year to the next, and one
#: year of history says nothing on how much. 0.2: the national series' yearly changes were +17%,
#: -20% and -32% (rms 0.24) and the bundled city's 2020-2021 about 0; not fitted to the simulator.
PACE_CHANGE_SD = 0.2
#: Weight of PACE_CHANGE_SD, in observed yearly changes, when the season models measure the change.
PACE_CHANGE_PRIOR_YEARS = 1.0
#: Prior sd of a programme's yearly growth of pace (log scale) against which the growth measured
#: between the last two 12-month windows is shrunk: a growth seen once is mostly noise and budget.
GROWTH_PRIOR_SD = 0.25
#: The forecast growth of pace is held within +-log(2) a year (a pace that doubles or halves): a
#: programme that started a few months into the history (zeros, then a full pace) otherwise gave the
#: regression a growth without bound.
MAX_GROWTH_PER_YEAR = math.log(2.0)
#: Monthly persistence of that growth in the forecast (0.95: half of it is gone in about 14
#: months, all of it adds at most ~19 months' worth): programmes speed up and slow down, and no
#: buildout grows without end, so a growth extrapolated undamped made the 5-year band unbounded.
GROWTH_DAMPING = 0.95
#: No simulated path's monthly pace (deseasonalised) exceeds this factor times the best 12-month
#: pace observed: a programme's crews, sites and budget grow, but not without bound, and the
#: year-to-year random walk of the pace otherwise left the 5-year band open upwards.
PACE_CAP_FACTOR = 1.25
#: Months of additions before the pace cap binds: a programme's first months are its ramp-up (the bundled
#: city built 4, 0, 3 and 12 stations in its first four months, then 22-32 a month), so "the fastest 12 months
#: seen" is no bound before 12 months are seen (a cap of 8.7 a month gave P = 0 % for a target it reached).
PACE_CAP_MIN_MONTHS = 12
#: Standard deviation of the yearly log change of the pace in the months ahead that are still in a programme's
#: first year (PACE_CAP_MIN_MONTHS of additions): a ramp-up, not a steady pace, whose size its first months
#: cannot show; the months after walk at the usual pace_change_sd.
#: log(2.5) ~ 0.9: China's national pace rose x1.9 from its first months (late 2019, 2.6万 a month) to 2020
#: (4.8万), Xinjiang's x3 from 2020-21 to late 2021 (561 -> 1,670 a month), each in about a year.
YOUNG_PACE_CHANGE_SD = math.log(2.5)


@dataclass
class Season:
    """Twelve pace factors (January first, mean 1) and where they come from."""

    factors: np.ndarray
    basis: str
    shrink_weight: np.ndarray  # per month: weight of the data against the prior (0 = prior only)
    factor_var: np.ndarray  # per month: posterior variance of the factor
    prior: np.ndarray | None = None  # the declared season it was shrunk toward (None: flat)
    learned: bool = False  # learned from the additions (a season model may re-learn it beside a growth)

    def of(self, index: pd.DatetimeIndex) -> np.ndarray:
        return self.factors[index.month.to_numpy() - 1]


def read_declared_season(raw: dict, path=None) -> np.ndarray | None:
    """The season a city declares in city.toml `[forecast]`: either `season_factors` (12 numbers,
    January first) or `stop_months` (month numbers with no building) with `stop_factor` (their
    pace against the other months, default 0.1). Returns factors of mean 1, or None."""
    section = (raw or {}).get("forecast", {})
    if not isinstance(section, dict):
        raise ConfigError("[forecast] must be a table", path)
    if "season_factors" in section:
        f = section["season_factors"]
        if (
            not isinstance(f, list)
            or len(f) != 12
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in f)
        ):
            raise ConfigError("[forecast] season_factors must be 12 numbers >= 0, January first", path)
        f = np.asarray(f, float)
        if f.sum() <= 0:
            raise ConfigError("[forecast] season_factors are all zero", path)
        return f * 12 / f.sum()
    if "stop_months" in section:
        months = section["stop_months"]
        if not isinstance(months, list) or not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
            raise ConfigError("[forecast] stop_months must be a list of month numbers 1-12", path)
        if len(set(months)) >= 12:
            raise ConfigError("[forecast] stop_months cannot hold every month", path)
        stop = section.get("stop_factor", 0.1)
        if not isinstance(stop, (int, float)) or isinstance(stop, bool) or not 0 <= stop < 1:
            raise ConfigError(f"[forecast] stop_factor must be a number in [0, 1), got {stop!r}", path)
        f = np.ones(12)
        f[[m - 1 for m in set(months)]] = stop
        return f * 12 / f.sum()
    return None


def _local_level(adds: np.ndarray, growth: float = 0.0) -> np.ndarray:
    """Each month's yearly pace: the mean addition over the 12-month window around it (shifted
    to stay inside the series), so a month's ratio to it measures the season, not the growth; moved
    along a monthly log `growth` from the window's middle to the month (the first and last months'
    windows lie after or before them: in a growing programme the last months' ratios to an earlier
    window passed for a season, and the forecast read the growth as those months' factors)."""
    n = len(adds)
    out = np.empty(n)
    for t in range(n):
        lo = min(max(0, t - 6), max(0, n - 12))
        middle = lo + (min(n, lo + 12) - lo - 1) / 2
        out[t] = adds[lo : lo + 12].mean() * math.exp(growth * (t - middle))
    return out


def estimate_season(adds: pd.Series, prior: np.ndarray | None = None, growth: float = 0.0) -> Season:
    """Monthly pace factors from the additions, shrunk toward `prior` (default flat) by evidence;
    `growth`: the pace's monthly log growth, if known, so the months at either end are measured
    against a level at their own date (`_local_level`).

    Each month's ratio to its yearly pace is averaged per calendar month; the spread of those
    means beyond their sampling noise (Poisson-like counts, overdispersed by the within-month
    spread across years when there are two years) is the between-month variance tau2; each month
    keeps the weight tau2 / (tau2 + noise) of its own mean (empirical Bayes, as in partial pooling).
    A declared prior counts as DECLARED_PRIOR_YEARS of evidence against the data.
    """
    base = np.ones(12) if prior is None else np.asarray(prior, float)
    a = np.clip(adds.to_numpy(float), 0, None)
    months = adds.index.month.to_numpy() - 1
    if len(a) < SEASON_MIN_MONTHS or a.sum() <= 0:
        basis = "declared in city.toml" if prior is not None else "flat (under a year of history)"
        return Season(base.copy(), basis, np.zeros(12), np.zeros(12), None if prior is None else base)
    level = _local_level(a, growth)
    ok = level > 0
    ratio = np.where(ok, a / np.where(ok, level, 1), np.nan)
    n_m = np.array([np.sum(ok & (months == m)) for m in range(12)], float)
    mean_m = np.array([np.nanmean(ratio[ok & (months == m)]) if n_m[m] else base[m] for m in range(12)])
    mean_level = float(level[ok].mean())
    poisson = np.maximum(mean_m, 0.2) / max(mean_level, 1e-9)
    disp = _overdispersion(ratio, months, ok, poisson)
    noise = np.where(n_m > 0, disp * poisson / np.maximum(n_m, 1), np.inf)
    dev = mean_m - base
    seen = n_m > 0
    tau2 = max(0.0, float(np.mean(dev[seen] ** 2) - np.mean(noise[seen]))) if seen.any() else 0.0
    if prior is not None:  # a declared season is a year of evidence of its own
        tau2 = tau2 * len(a) / (len(a) + 12 * DECLARED_PRIOR_YEARS)
    w = np.where(seen, tau2 / (tau2 + noise), 0.0)
    f = np.clip(base + w * dev, 0.0, None)
    f = f * 12 / f.sum() if f.sum() > 0 else np.ones(12)
    var = w * np.where(seen, noise, 0.0)  # (w is 0 where unseen; 0 x inf would be NaN, with a warning)
    src = "declared in city.toml, updated by" if prior is not None else "learned from"
    basis = (
        f"{src} {len(a)} months of additions, shrunk toward "
        f"{'the declared season' if prior is not None else 'flat'} (mean weight of the data {w.mean():.2f})"
    )
    return Season(f, basis, w, var, None if prior is None else base, True)


def _overdispersion(ratio, months, ok, poisson) -> float:
    """Within-month variance across years over the Poisson variance (>= 1); 1 with one year only."""
    num, den = 0.0, 0.0
    for m in range(12):
        r = ratio[ok & (months == m)]
        if len(r) >= 2:
            num += float(np.var(r, ddof=1))
            den += float(poisson[m])
    return max(1.0, num / den) if den > 0 else 1.0


def estimate_pace_change_sd(d: np.ndarray, use: np.ndarray, disp: float, prior_years: float = 0.0) -> float:
    """How much a programme's pace changes from one year to the next (sd of the log change of
    deseasonalised monthly additions `d`, months `use`d): PACE_CHANGE_SD with under two years of
    history; else the changes between consecutive 12-month windows, less what their sampling noise
    (`disp` x Poisson) alone explains, pooled with PACE_CHANGE_SD counted as `prior_years` changes
    of its own (one steady year does not prove a pace that never changes)."""
    n = len(d)
    if n < 24:
        return PACE_CHANGE_SD
    changes, noise = [], []
    for end in range(n, 23, -12):
        a, b = d[end - 24 : end - 12], d[end - 12 : end]
        ua, ub = use[end - 24 : end - 12], use[end - 12 : end]
        if ua.sum() < 3 or ub.sum() < 3:
            continue
        ma, mb = float(np.mean(a[ua])), float(np.mean(b[ub]))
        if ma <= 0 or mb <= 0:
            continue
        changes.append(math.log(mb / ma))
        noise.append(disp * (1 / (ma * ua.sum()) + 1 / (mb * ub.sum())))
    if not changes:
        return PACE_CHANGE_SD
    excess = max(0.0, float(np.sum(np.square(changes)) - np.sum(noise)))
    return math.sqrt(max(0.0, (prior_years * PACE_CHANGE_SD**2 + excess) / (prior_years + len(changes))))


def ramp_months(n_months: int) -> int:
    """Months ahead still in the programme's first year, for a series of `n_months` months of additions (a
    ramp-up whose pace its first months cannot show)."""
    return max(0, PACE_CAP_MIN_MONTHS - n_months)


def walk_sd(change_sd: float, ramp: int, h: int) -> np.ndarray:
    """Per month ahead, the sd of the pace's yearly log change: YOUNG_PACE_CHANGE_SD while the programme is in
    its first PACE_CAP_MIN_MONTHS months of additions (`ramp` months ahead, its ramp-up), `change_sd` after."""
    sd = np.full(h, change_sd)
    sd[:ramp] = max(YOUNG_PACE_CHANGE_SD, change_sd)
    return sd


def estimate_pace_cap(d: np.ndarray, use: np.ndarray) -> float:
    """The highest monthly pace a forecast path may reach: PACE_CAP_FACTOR x the best 12-month
    mean of the deseasonalised additions seen so far; a model raises it to PACE_CAP_FACTOR x its pace
    now when that is higher (a speed-up under way). No cap (inf) under PACE_CAP_MIN_MONTHS months: a
    programme's first months are its ramp-up, not its pace."""
    n = len(d)
    if n < PACE_CAP_MIN_MONTHS:
        return math.inf
    means = [
        float(np.mean(d[e - 12 : e][use[e - 12 : e]]))
        for e in range(min(12, n), n + 1)
        if use[max(0, e - 12) : e].sum() >= 3
    ]
    best = max(means) if means else float(np.nanmax(np.where(use, d, 0.0), initial=0.0))
    return PACE_CAP_FACTOR * max(best, 0.0)


#: Huber constant of `fit_log_trend`, in robust standard deviations of the Pearson residuals.
HUBER_K = 2.0


def _fit_weighted_poisson(y, X, off, weights, beta):
    """statsmodels' Poisson GLM (IRLS) from `beta`, `weights` as var_weights: a Huber weight says a
    month is noisier than Poisson, not that it is a fraction of a month (freq_weights would also
    shrink the residual degrees of freedom). None when IRLS does not converge."""
    import statsmodels.api as sm

    with warnings.catch_warnings():
        # a series of equal counts is a "perfect prediction" to statsmodels, and its fit is right
        warnings.simplefilter("ignore")
        model = sm.GLM(y, X, family=sm.families.Poisson(), offset=off, var_weights=weights)
        res = model.fit(start_params=beta, maxiter=100)
    if not res.converged or not np.all(np.isfinite(res.params)):
        return None
    return res


#: Time constants (months) of the fading growth `fit_fading_log_trend` tries beside a growth that holds:
#: the fading family's truth is g(t) = g0 exp(-t / tau) with tau 12-48 months (benchmarks/forecast_eval.py).
FADE_TAUS = (12.0, 24.0, 48.0)
#: A fading growth is kept only when it lowers the deviance by this many dispersions (Akaike's 2 for
#: its one more parameter, tau): chosen by the deviance alone, it read noise as a fade and cost the
#: steady-growth family 0.6 points of year-end error.
FADE_AIC_PENALTY = 2.0


def _trend_regressor(t: np.ndarray, tau: float) -> np.ndarray:
    """The log pace's regressor at months `t` from the last (<= 0 in the history) for a growth fading
    with time constant `tau`: its coefficient is the monthly log growth at the last month, the growth
    k months earlier that times exp(k / tau); `t` itself when tau is inf (a growth that holds)."""
    return t if math.isinf(tau) else tau * (1.0 - np.exp(-t / tau))


def _fit_robust_log_trend(a: np.ndarray, s: np.ndarray, use: np.ndarray):
    """`fit_log_trend`, returning also the statsmodels result and the Huber weights (None as there)."""
    t = np.arange(len(a), dtype=float)[use] - (len(a) - 1)
    y, off = np.asarray(a, float)[use], np.log(np.asarray(s, float)[use])
    # with every addition in one month the Poisson MLE does not exist: the slope runs to +-inf (the
    # hand-written Newton loop this replaces stopped somewhere on the way, its step clipped, and one
    # batch of 50 followed by 11 empty months gave a pace now of 550 a month); the caller then keeps
    # the last year's mean pace and no growth
    if len(y) < 6 or np.count_nonzero(y) < 2:
        return None
    X = np.column_stack([np.ones_like(t), t])
    # a robust start (the median deseasonalised month, no growth): started from the plain fit, a
    # batch drags the line toward it and then every other month looks like the outlier
    beta = np.array([math.log(max(float(np.median(y / np.exp(off))), 0.5)), 0.0])
    res, w = None, np.ones_like(y)
    for _ in range(3):  # Huber reweighting: the scale from the median absolute residual
        mu = np.exp(np.clip(X @ beta + off, -30, 30))
        r = (y - mu) / np.sqrt(np.maximum(mu, 1e-9))
        scale = max(1.0, 1.4826 * float(np.median(np.abs(r))))
        w = np.minimum(1.0, HUBER_K * scale / np.maximum(np.abs(r), 1e-12))
        res = _fit_weighted_poisson(y, X, off, w, beta)
        if res is None:
            return None
        beta = np.asarray(res.params, float)
    fit = _scale_fit(res)
    return None if fit is None else (*fit, res, w)


def _scale_fit(res):
    """(b, cov) of a Poisson GLM result, the covariance scaled by the Pearson overdispersion (>= 1);
    None when that covariance is not usable."""
    cov = _dispersion(res) * np.asarray(res.cov_params(), float)
    if not (np.all(np.isfinite(cov)) and cov[1, 1] > 0):
        return None
    return np.asarray(res.params, float), cov


def _dispersion(res) -> float:
    """The Pearson overdispersion of a Poisson GLM result, at least 1 (never narrower than Poisson)."""
    return max(1.0, float(res.pearson_chi2) / max(float(res.df_resid), 1.0))


def fit_log_trend(a: np.ndarray, s: np.ndarray, use: np.ndarray):
    """A robust Poisson regression of monthly additions `a` on time, the season `s` as an offset,
    months `use`d only: log E[a_t] = b0 + b1 (t - last) + log s_t (statsmodels GLM). Months whose
    Pearson residual is over HUBER_K robust sds (a block of sites switched on at once) are
    down-weighted (Huber), so one batch in the last month does not pass for the pace. Returns (b, cov):
    b0 the log pace at the last month, b1 the monthly log growth, and their covariance scaled by the
    Pearson overdispersion (>= 1). None under 6 usable months, with additions in fewer than 2 of them,
    or when the regression does not converge."""
    fit = _fit_robust_log_trend(a, s, use)
    return None if fit is None else fit[:2]


def fit_fading_log_trend(a: np.ndarray, s: np.ndarray, use: np.ndarray, taus=FADE_TAUS):
    """`fit_log_trend` beside a growth that fades: log E[a_t] = b0 + b1 tau (1 - exp(-(t - last) / tau))
    + log s_t for each time constant tau in `taus` (months), with the straight trend's Huber weights (so
    the deviances compare); a fade is kept when its deviance is lower by FADE_AIC_PENALTY dispersions.
    Returns (b, cov, tau): b1 the monthly log growth at the last month, k months earlier it was
    exp(k / tau) times that (tau inf: the straight trend); None as `fit_log_trend`."""
    return _choose_fade(a, s, use, _fit_robust_log_trend(a, s, use), taus)


def _choose_fade(a: np.ndarray, s: np.ndarray, use: np.ndarray, straight, taus=FADE_TAUS):
    """`fit_fading_log_trend` given the straight trend's `_fit_robust_log_trend` on the same months."""
    if straight is None:
        return None
    beta, cov, res, w = straight
    best, best_dev = (beta, cov, math.inf), float(res.deviance) - FADE_AIC_PENALTY * _dispersion(res)
    t = np.arange(len(a), dtype=float)[use] - (len(a) - 1)
    y, off = np.asarray(a, float)[use], np.log(np.asarray(s, float)[use])
    for tau in taus:
        X = np.column_stack([np.ones_like(t), _trend_regressor(t, tau)])
        fade = _fit_weighted_poisson(y, X, off, w, beta)
        fit = None if fade is None else _scale_fit(fade)
        if fit is not None and float(fade.deviance) < best_dev:
            best, best_dev = (*fit, tau), float(fade.deviance)
    return best


def _bound_growth(g: float) -> float:
    """A monthly log growth within +-MAX_GROWTH_PER_YEAR a year."""
    return float(np.clip(g, -MAX_GROWTH_PER_YEAR / 12, MAX_GROWTH_PER_YEAR / 12))


def shrink_log_trend(beta: np.ndarray, cov: np.ndarray) -> tuple[float, float, float, float]:
    """The log pace at the last month, its variance, the monthly log growth and that growth's
    variance, of a `fit_log_trend` fit: the growth shrunk toward 0 against GROWTH_PRIOR_SD by its own
    evidence (empirical Bayes: a growth seen in a year of noisy counts is partly noise) and the pace
    moved along the shrunk growth from the month the data know best (where the fitted level has its
    least variance) to the last."""
    prior = (GROWTH_PRIOR_SD / 12) ** 2
    w = prior / (prior + cov[1, 1])
    g = w * float(beta[1])
    centre = -cov[0, 1] / cov[1, 1]  # months before the last where the fitted level is surest
    # the posterior spread under the growth's prior (the data's own spread, wider, made the 80% bands
    # of steady series too wide: P(a high target) 0.19 against a true 0.10)
    var_log_now = max(cov[0, 0] - cov[0, 1] ** 2 / cov[1, 1], 0.0) + centre**2 * w * cov[1, 1]
    return float(beta[0]) + (float(beta[1]) - g) * centre, var_log_now, g, w * cov[1, 1]


def clip_keeping_mean(adds: np.ndarray, mean=None) -> np.ndarray:
    """Simulated additions (paths in rows, months in columns) clipped at zero without raising their mean:
    each month's clipped draws are scaled by one factor so that the paths' mean count follows the
    unclipped draws' own (the model's mean path as drawn), held where that falls (a count of stations on
    air does not fall; closures ahead are not modelled). Clipping a normal addition of mean mu and sd s at
    zero adds s * phi(mu / s) - mu * Phi(-mu / s) to its mean (s / sqrt(2 pi) at mu = 0), and a count sums
    that every month: a series that had stopped after a ramp (ARIMA, UCM: additions about 0 with the
    ramp's sd) was forecast to grow by 0.4 sd a month. `mean`: the model's own mean addition each month
    (default: the draws' mean, which holds their sampling noise). Additions no draw of which fell below
    zero are returned as drawn."""
    pos = np.clip(adds, 0, None)
    if not np.any(adds < 0):
        return pos
    raw = adds.mean(axis=0) if mean is None else np.broadcast_to(np.asarray(mean, float), adds.shape[1:])
    clipped = pos.mean(axis=0)
    want = np.diff(np.maximum.accumulate(np.maximum(np.cumsum(raw), 0.0)), prepend=0.0)
    return pos * np.divide(want, clipped, out=np.zeros_like(clipped), where=clipped > 0)


class SeasonalNaive:
    """Last year's same months: each future month adds what the same month added a year earlier."""

    name = "snaive"

    def __init__(self, adds: pd.Series):
        a = adds.to_numpy(float)
        self.last_year = a[-12:] if len(a) >= 12 else np.full(12, a.mean())
        resid = a[12:] - a[:-12] if len(a) > 12 else a - a.mean()
        self.sigma = float(np.sqrt(np.mean(resid**2))) if len(resid) else 0.0
        self.params = {"sigma": self.sigma}

    def mean(self, h):
        return np.resize(self.last_year, h)

    def simulate(self, h, n, rng):
        mean = self.mean(h)
        return clip_keeping_mean(mean[None, :] + rng.normal(0.0, self.sigma, size=(n, h)), mean)


class SeasonalPace:
    """Additions = deseasonalised pace x the month's factor + Poisson-like noise.

    The pace is the mean of the last year's deseasonalised additions (`kind="level"`, its
    uncertainty carried into every path) or a statsmodels local level fitted to them
    (`kind="ucm"`, whose simulated random walk lets the pace drift over long horizons). Each path
    also draws its own season from the factors' posterior variance.
    """

    def __init__(self, adds: pd.Series, season: Season, kind: str = "level"):
        self.name = f"season_{kind}"
        self.season = season
        self.kind = kind
        self.last = adds.index[-1]
        a = np.clip(adds.to_numpy(float), 0, None)
        s = season.of(adds.index)
        use = s > STOP_FACTOR
        d = np.where(use, a / np.where(use, s, 1), np.nan)
        recent = d[-12:][use[-12:]]
        if len(recent) == 0:
            recent = d[use] if use.any() else a
        self.pace = float(np.mean(recent))
        self.m = len(recent)
        resid = (a - np.nanmean(d[-12:]) * s)[use] if use.any() else a - a.mean()
        pois = np.maximum(np.nanmean(d[-12:]) * s[use], 1.0) if use.any() else np.ones(len(resid))
        self.disp = max(1.0, float(np.mean(resid**2 / pois))) if len(resid) else 1.0
        self.change_sd = estimate_pace_change_sd(d, use, self.disp, PACE_CHANGE_PRIOR_YEARS)
        self.pace_cap = estimate_pace_cap(d, use)
        # months ahead still in the programme's first year (the series starts with it; a district's series
        # starts with the city's, so a district that joined later is not a new programme)
        self.ramp_months = ramp_months(len(a))
        self.pace_var = self.disp * max(self.pace, 1.0) / max(self.m, 1)
        if kind == "level":
            self.pace, self.pace_var = self._pool_years(d, use)
        self.res = None
        self.slope = 0.0
        self.growth, self.growth_var, self.fade_months = 0.0, 0.0, math.inf
        if kind == "growth":
            self.pace, self.pace_var, self.growth, self.growth_var = self._fit_growth(adds, a, s, use)
        if kind == "trend":
            self.pace, self.slope = self._fit_trend(d, s, use)
            self.pace_var = self.disp * max(self.pace, 1.0) / max(self.m, 1)
        if kind == "ucm":
            self.res = self._fit_ucm(pd.Series(d).interpolate(limit_direction="both").to_numpy())
        now = float(np.asarray(self.res.forecast(1))[0]) if self.res is not None else self.pace
        # the cap bounds the paths' drift, never today's pace nor the growth the model forecasts (damped,
        # it reaches at most exp(g x GROWTH_DAMPING / (1 - GROWTH_DAMPING))): a cap at 1.25x the pace now
        # clipped a programme growing 40% a year within months, and its year-end band missed upwards
        damping = self._damping()
        limit = math.exp(max(self.growth, 0.0) * damping / (1 - damping))
        self.pace_cap = max(self.pace_cap, PACE_CAP_FACTOR * now * limit)
        self.params = {
            "pace": self.pace,
            "dispersion": self.disp,
            "pace_change_sd": self.change_sd,
            "pace_cap": self.pace_cap,
            **({"growth_per_year": self.growth * 12, "fade_months": self.fade_months} if kind == "growth" else {}),
            **{f"factor_{m + 1:02d}": float(self.season.factors[m]) for m in range(12)},
        }

    def _pool_years(self, d: np.ndarray, use: np.ndarray) -> tuple[float, float]:
        """The pace and its variance from every complete year of history, not the last one only: each
        earlier 12-month window's mean counts with the weight of its sampling noise plus the pace's
        year-to-year change over the years since (a random walk: `change_sd`). A steady programme
        pools all its years (the last year alone let a noisy year pass for the pace); a changing
        one leans on the last year."""
        means, noise = [self.pace], [self.pace_var]
        for end in range(len(d) - 12, 11, -12):
            u = use[end - 12 : end]
            if u.sum() < 3:
                break
            m = float(np.mean(d[end - 12 : end][u]))
            means.append(m)
            noise.append(self.disp * max(m, 1.0) / u.sum())
        drift_var = (self.change_sd * max(self.pace, 1.0)) ** 2
        w = np.array([1.0 / (v + i * drift_var) for i, v in enumerate(noise)])
        return float(np.sum(w * np.array(means)) / w.sum()), float(1.0 / w.sum())

    def _fit_growth(
        self, adds: pd.Series, a: np.ndarray, s: np.ndarray, use: np.ndarray
    ) -> tuple[float, float, float, float]:
        """The pace now, its variance, the monthly log growth and that growth's variance: the
        `shrink_log_trend` of `fit_fading_log_trend` on the additions `a` with the season `s` (months
        in `use`). A season learned from the additions is learned again first, its level moved along
        the straight trend's growth (shrunk and bounded, `estimate_season(growth=)`), and replaces
        `self.season` where the growth can be fitted through it. Under 6 usable months, or a series of
        zeros: no growth, the pace of the last year."""
        # the months before the first addition are before the programme, not a slow start of it
        started = np.cumsum(a) > 0
        straight = _fit_robust_log_trend(a, s, use & started)
        if straight is None:
            return self.pace, self.pace_var, 0.0, 0.0
        fit = None
        if self.season.learned:
            # the season measured against a level at each month's own date: in a growing programme the
            # last months' ratios to an earlier window passed for their season (simulated steady growth:
            # year-end error 7.88 -> 7.69 %; benchmarks/forecast_eval.json). Moved along the growth the
            # forecast would use (shrunk, bounded), not the raw slope: 14 sparse months with a slope of
            # -0.37 a month made ten months' factors 0.01
            season = estimate_season(adds, self.season.prior, growth=_bound_growth(shrink_log_trend(*straight[:2])[2]))
            s_new = season.of(adds.index)
            fit = fit_fading_log_trend(a, s_new, (s_new > STOP_FACTOR) & started)
            if fit is not None:  # the season is replaced only where the growth could be fitted through it
                self.season = season
        if fit is None:  # the straight trend through the season as it was, fitted above
            fit = _choose_fade(a, s, use & started, straight)
        if fit is None:
            return self.pace, self.pace_var, 0.0, 0.0
        self.fade_months = fit[2]
        log_now, var_log_now, g, var_g = shrink_log_trend(*fit[:2])
        now = math.exp(log_now)
        return now, now * now * var_log_now, _bound_growth(g), var_g

    def _walk_sd(self, h: int) -> np.ndarray:
        return walk_sd(self.change_sd, self.ramp_months, h)

    def _damping(self) -> float:
        """The monthly persistence of the growth ahead: GROWTH_DAMPING, or the fitted fade's if faster
        (a fade seen in the history goes on; a slower one than GROWTH_DAMPING would widen the 5-year band)."""
        return GROWTH_DAMPING if math.isinf(self.fade_months) else min(GROWTH_DAMPING, math.exp(-1 / self.fade_months))

    def _growth_multiplier(self, h: int, g) -> np.ndarray:
        """exp(g x damped months ahead): the growth fades by `_damping()` a month."""
        damped = np.cumsum(self._damping() ** np.arange(1, h + 1))
        return np.exp(np.asarray(g, float)[..., None] * damped) if np.ndim(g) else np.exp(g * damped)

    @staticmethod
    def _fit_trend(d: np.ndarray, s: np.ndarray, use: np.ndarray) -> tuple[float, float]:
        """The deseasonalised pace at the last month and its monthly change: a weighted line (months
        weighted by their factor, as a stop month says little about the pace), its slope shrunk
        toward 0 by its own evidence (weight slope^2 / (slope^2 + its variance))."""
        t = np.arange(len(d), dtype=float)[use]
        y, w = d[use], s[use]
        if len(y) < 3:
            return float(np.mean(y)) if len(y) else 0.0, 0.0
        X = np.column_stack([np.ones_like(t), t - t[-1]])
        W = np.sqrt(w)[:, None]
        beta, *_ = np.linalg.lstsq(X * W, y * W[:, 0], rcond=None)
        resid = y - X @ beta
        s2 = float(np.sum(w * resid**2) / max(len(y) - 2, 1))
        cov = s2 * np.linalg.pinv((X * W).T @ (X * W))
        b, vb = float(beta[1]), float(cov[1, 1])
        shrink = b * b / (b * b + vb) if b * b + vb > 0 else 0.0
        slope = b * shrink
        # the level at the last month under the shrunk slope: the weighted mean moved along it
        centre = float(np.average(t - t[-1], weights=w))
        level = float(np.average(y, weights=w)) - slope * centre
        return max(level, 0.0), slope

    @staticmethod
    def _fit_ucm(d: np.ndarray):
        from statsmodels.tsa.statespace.structural import UnobservedComponents

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return UnobservedComponents(d, level="llevel").fit(disp=False)

    def _factors(self, h: int) -> np.ndarray:
        idx = pd.date_range(self.last + pd.offsets.MonthEnd(1), periods=h, freq="ME")
        return self.season.of(idx), idx.month.to_numpy() - 1

    def mean(self, h):
        s, _ = self._factors(h)
        if self.res is not None:
            return np.clip(np.asarray(self.res.forecast(h), float), 0, self.pace_cap if self.pace_cap > 0 else None) * s
        level = (self.pace + self.slope * np.arange(1, h + 1)) * self._growth_multiplier(h, self.growth)
        return np.clip(level, 0, self.pace_cap if self.pace_cap > 0 else None) * s

    def simulate(self, h, n, rng):
        s, months = self._factors(h)
        # each path its own season: the factors' posterior spread, renormalised to mean 1
        sd = np.sqrt(self.season.factor_var)
        draws = np.clip(self.season.factors[None, :] + rng.normal(size=(n, 12)) * sd[None, :], 0, None)
        draws = draws * 12 / np.maximum(draws.sum(axis=1, keepdims=True), 1e-9)
        s_paths = draws[:, months]
        # (a pace drawn below zero is no pace: clipped, its mean kept at the drawn paces', `clip_keeping_mean`)
        if self.res is not None:
            level = np.clip(
                clip_keeping_mean(simulate_local_level(self.res, h, n, rng), local_level_mean(self.res)),
                0,
                self.pace_cap if self.pace_cap > 0 else None,
            )
        else:
            sd_pace = math.sqrt(self.pace_var)
            # the pace drifts as a random walk on its log: a plan can grow or shrink year to year
            walk = np.exp(np.cumsum(rng.normal(0.0, self._walk_sd(h) / math.sqrt(12), size=(n, h)), axis=1))
            grow = 1.0
            if self.kind == "growth":  # each path its own growth, from the growth's posterior
                grow = self._growth_multiplier(h, self.growth + rng.normal(0.0, math.sqrt(self.growth_var), n))
            base = self.pace + self.slope * np.arange(1, h + 1)[None, :] + rng.normal(0.0, sd_pace, size=(n, 1))
            level = np.clip(
                clip_keeping_mean(base, self.pace + self.slope * np.arange(1, h + 1)) * walk * grow,
                0,
                self.pace_cap if self.pace_cap > 0 else None,
            )
        # gamma counts: mean mu and variance disp x mu, never below zero (a normal noise clipped at zero
        # raised the mean, by 9 a month at a pace of 5 after one batch of 200 had made disp large)
        mu = np.maximum(level * s_paths, 1e-9)
        return rng.gamma(mu / self.disp, self.disp)


def local_level_mean(res) -> float | None:
    """The mean of `simulate_local_level`'s draws: the predicted level after the sample (None for another
    model, which statsmodels simulates)."""
    if list(res.model.param_names) != ["sigma2.irregular", "sigma2.level"]:
        return None
    return float(res.predicted_state[0, -1])


def simulate_local_level(res, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` paths (rows) of the `h` months after the sample of a fitted statsmodels local-level model
    (`UnobservedComponents(level="llevel")`), drawn as its `simulate(h, anchor="end", repetitions=n)`
    draws them: the level starts from the predicted state after the last month and its variance, walks
    with the level variance, and each month adds the irregular noise. In numpy, all paths at once:
    statsmodels runs its simulation smoother once per path (a county forecast at 10^6 stations spent 76 of
    its 124 s there, 1.1 M smoother runs); tested against it, moment by moment. Another model is
    simulated by statsmodels."""
    names = list(res.model.param_names)
    if names != ["sigma2.irregular", "sigma2.level"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim = np.asarray(res.simulate(h, anchor="end", repetitions=n, rng=rng), float)
        return sim.reshape(h, n).T
    var_irregular, var_level = (max(float(v), 0.0) for v in np.asarray(res.params, float))
    start, start_var = float(res.predicted_state[0, -1]), max(float(res.predicted_state_cov[0, 0, -1]), 0.0)
    steps = np.sqrt(var_level) * rng.standard_normal((n, h))
    steps[:, 0] = np.sqrt(start_var) * rng.standard_normal(n)  # the first month: where the level starts
    return start + np.cumsum(steps, axis=1) + np.sqrt(var_irregular) * rng.standard_normal((n, h))


def working_days(start: pd.Series, end, factors=None) -> np.ndarray:
    """Days from `start` to `end` (a Series or one date) on the construction season's clock: a
    calendar day of month m counts factors[m - 1] days (mean 1 over a year); calendar days
    without factors. A stage that spans a winter stop then takes about as many working days as
    the same stage in summer, so durations observed in one season carry over to another. NaN where
    either date is missing (NaT)."""
    start = pd.to_datetime(pd.Series(start)).reset_index(drop=True)
    end_s = (
        pd.to_datetime(pd.Series(end)).reset_index(drop=True)
        if isinstance(end, (pd.Series, np.ndarray, list))
        else pd.Series(pd.Timestamp(end), index=start.index)
    )
    calendar = (end_s - start).dt.days.to_numpy(float)
    # (a site whose stage has no date, NaT, spent an unknown time in it: NaN, as calendar days give)
    known = np.flatnonzero(start.notna().to_numpy() & end_s.notna().to_numpy())
    if factors is None or known.size == 0:
        return calendar
    start, end_s = start.iloc[known], end_s.iloc[known]
    lo = min(start.min(), end_s.min())
    hi = max(start.max(), end_s.max())
    days = pd.date_range(lo, hi, freq="D")
    work = np.r_[0.0, np.cumsum(np.asarray(factors, float)[days.month.to_numpy() - 1])]
    i0 = (start - lo).dt.days.to_numpy()
    i1 = (end_s - lo).dt.days.to_numpy()
    out = np.full(len(calendar), np.nan)
    out[known] = work[i1] - work[i0]
    return out
