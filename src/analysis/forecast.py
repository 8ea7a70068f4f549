"""Forecast the count of stations on air: the monthly series, a model chosen by rolling-origin
backtest against naive and drift, the chance of reaching each target by its date, the pace
needed, per-district forecasts reconciled to the city's, and the fan chart.

Models work on the monthly *additions* (the first difference of the cumulative count); every
forecast is a set of simulated paths whose additions are clipped at zero and re-accumulated,
so the forecasts of the additions and of the cumulative count agree and the count never falls.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import BadInputError, UsageError
from analysis.figures import CJK_FONTS, figure_lang, set_cjk_font  # noqa: F401 (re-exported)
from analysis.season import SEASON_MIN_MONTHS, SeasonalNaive, SeasonalPace, estimate_season, read_declared_season
from analysis.verdict import classify_target, describe_requirement, describe_spread, describe_verdict

#: Horizons (months) at which the backtest scores each model.
BACKTEST_HORIZONS = (3, 6, 12)
#: A backtest horizon counts only when this many forecast origins reach it.
MIN_ORIGINS = 3
#: Shortest training window (months of history) of a backtest origin.
MIN_TRAIN = 8
#: Most origins used per backtest (the latest ones); keeps a long series fast.
MAX_ORIGINS = 12
#: Months of additions needed before seasonal candidates are tried (two winters).
SEASONAL_MIN_MONTHS = 24
#: Longest gap between two published values that is still interpolated to month ends.
MAX_GAP_MONTHS = 12
#: A model more complex than another is chosen only if its backtest score is this much lower.
SELECTION_MARGIN = 0.15
#: Simplicity order for `choose_model` (lower is simpler).
#: The season models rank with the other multi-parameter models: once the backtest has origins in
#: every month they must clearly beat drift (on AR(1) processes with a winter their autocorrelated
#: errors made their calibrated bands too wide). Before that, season_level is the default
#: (`_select_model`): on simulated buildouts the backtest's choice on a few origins did worse.
MODEL_COMPLEXITY = {
    "naive": 0,
    "drift": 1,
    "snaive": 1,
    "season_level": 2,
    "arima": 2,
    "ets_damped": 2,
    "ucm": 2,
    "season_ucm": 2,
    "arima_seasonal": 3,
    "ucm_seasonal": 3,
}
#: Scaled backtest errors are capped here when the widening of the intervals is estimated.
Z_CAP = 4.0
#: Prior weight (in independent backtest errors) of a calibrated spread when the widening is fitted.
WIDENING_PRIOR_N = 1.0
#: The intervals are widened by at most this factor.
MAX_WIDENING = 4.0
#: The backtest may narrow a season model's spread down to this factor (and widen any model's).
MIN_SEASON_SCALE = 0.6
#: Paths simulated at each backtest origin to calibrate the intervals.
CALIBRATION_PATHS = 200
DEFAULT_PATHS = 2000
DEFAULT_SEED = 20210322


# --------------------------------------------------------------------------------------------
# Series in
# --------------------------------------------------------------------------------------------


def _month_end(ts) -> pd.Timestamp:
    ts = pd.Timestamp(ts).normalize()
    return ts + pd.offsets.MonthEnd(0)


def monthly_on_air(
    stations: pd.DataFrame, as_of, by_district: bool = False, start=None, districts=None
) -> pd.Series | pd.DataFrame:
    """Stations on air at each month end up to `as_of` (a station counts once its on_air_date <= d).

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
    sorted_dates = np.sort(dates[on].to_numpy())
    if not by_district:
        counts = np.searchsorted(sorted_dates, index.to_numpy(), side="right")
        return pd.Series(counts.astype(float), index=index, name="on_air")
    if "district" not in stations.columns:
        raise BadInputError("stations have no column 'district'")
    names = list(districts) if districts is not None else sorted(stations.loc[on, "district"].dropna().unique())
    out = {}
    for name in names:
        d = np.sort(dates[on & (stations["district"] == name)].to_numpy())
        out[name] = np.searchsorted(d, index.to_numpy(), side="right").astype(float)
    return pd.DataFrame(out, index=index)


def count_on_air(stations: pd.DataFrame, as_of, district: str | None = None) -> int:
    """Stations on air on `as_of` itself (on_air_date <= as_of), for the city or one district."""
    if district is None:
        dates = pd.to_datetime(stations["on_air_date"])
        return int((dates.notna() & (dates <= pd.Timestamp(as_of).normalize())).sum())
    return int(count_on_air_by_district(stations, as_of).get(district, 0))


def count_on_air_by_district(stations: pd.DataFrame, as_of) -> pd.Series:
    """Stations on air on `as_of` per district, in one pass (not one scan per district)."""
    dates = pd.to_datetime(stations["on_air_date"])
    on = dates.notna() & (dates <= pd.Timestamp(as_of).normalize())
    return on.groupby(stations["district"]).sum().astype(int)


def read_series(path: str | Path) -> pd.DataFrame:
    """Read a published cumulative count, CSV `date,value`; one row per published date, sorted.

    Raises BadInputError naming the file and the line for: missing columns, a date that does not
    parse, an empty or non-numeric or negative value, a date given twice, a count that falls
    (a cumulative count cannot; fix the source or publish the net series), and a gap of more
    than MAX_GAP_MONTHS months between two values (too long to interpolate).
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
        try:
            date = pd.Timestamp(d)
            if pd.isna(date):
                raise ValueError
        except (ValueError, TypeError):
            raise BadInputError(f"date {d!r} does not parse (use YYYY-MM-DD)", file=path, row=i) from None
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
        if cur["value"] < prev["value"]:
            raise BadInputError(
                f"cumulative count falls from {prev['value']:g} on {prev['date'].date()} to {cur['value']:g} on "
                f"{cur['date'].date()}: a cumulative count cannot fall "
                "(fix the source, or give the count net of closures)",
                file=path,
                row=int(cur["row"]),
            )
        months = (cur["date"] - prev["date"]).days / 30.4375
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


# --------------------------------------------------------------------------------------------
# Candidate models (on monthly additions)
# --------------------------------------------------------------------------------------------


def _fourier(index: pd.DatetimeIndex, harmonics: int = 2) -> np.ndarray:
    month = index.month.to_numpy() - 1
    cols = []
    for k in range(1, harmonics + 1):
        cols += [np.sin(2 * np.pi * k * month / 12), np.cos(2 * np.pi * k * month / 12)]
    return np.column_stack(cols)


def _future_index(last: pd.Timestamp, h: int) -> pd.DatetimeIndex:
    return pd.date_range(last + pd.offsets.MonthEnd(1), periods=h, freq="ME")


class _Fitted:
    """A fitted candidate: point forecasts and simulated paths of the monthly additions."""

    name = ""
    params: dict = {}

    def mean(self, h: int) -> np.ndarray:  # additions
        raise NotImplementedError

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:  # (n, h) additions
        raise NotImplementedError


class _Naive(_Fitted):
    """Random walk on the cumulative count: no more stations (the baseline of MASE's scale)."""

    name = "naive"

    def __init__(self, adds: pd.Series):
        self.sigma = float(np.sqrt(np.mean(adds.to_numpy() ** 2)))
        self.params = {"sigma": self.sigma}

    def mean(self, h):
        return np.zeros(h)

    def simulate(self, h, n, rng):
        return rng.normal(0.0, self.sigma, size=(n, h))


class _Drift(_Fitted):
    """Random walk with drift on the count: additions are the mean past addition plus noise;
    the paths also carry the uncertainty of that mean (as in the textbook drift interval)."""

    name = "drift"

    def __init__(self, adds: pd.Series):
        a = adds.to_numpy(float)
        self.mu = float(a.mean())
        self.sigma = float(a.std(ddof=1)) if len(a) > 1 else 0.0
        self.m = len(a)
        self.params = {"drift": self.mu, "sigma": self.sigma}

    def mean(self, h):
        return np.full(h, self.mu)

    def simulate(self, h, n, rng):
        mu = self.mu + rng.normal(0.0, self.sigma / math.sqrt(self.m), size=(n, 1))
        return mu + rng.normal(0.0, self.sigma, size=(n, h))


class _Statsmodels(_Fitted):
    """A statsmodels results object on the additions (or, for ETS, on the cumulative count)."""

    def __init__(self, name, res, last, on_cumulative=False, exog_fn=None, last_level=0.0):
        self.name = name
        self.res = res
        self.last = last
        self.on_cumulative = on_cumulative
        self.exog_fn = exog_fn
        self.last_level = last_level
        self.params = {
            str(k): float(v) for k, v in pd.Series(res.params, index=getattr(res.model, "param_names", None)).items()
        }

    def _exog(self, h):
        return None if self.exog_fn is None else self.exog_fn(_future_index(self.last, h))

    def mean(self, h):
        if self.on_cumulative:
            level = np.asarray(self.res.forecast(h), float)
            return np.diff(np.concatenate([[self.last_level], level]))
        kw = {"exog": self._exog(h)} if self.exog_fn is not None else {}
        return np.asarray(self.res.forecast(h, **kw), float)

    def simulate(self, h, n, rng):
        if self.on_cumulative:
            sim = np.asarray(self.res.simulate(h, anchor="end", repetitions=n, rng=rng), float)
            sim = sim.reshape(h, n).T
            return np.diff(np.concatenate([np.full((n, 1), self.last_level), sim], axis=1), axis=1)
        kw = {"exog": self._exog(h)} if self.exog_fn is not None else {}
        sim = np.asarray(self.res.simulate(h, anchor="end", repetitions=n, rng=rng, **kw), float)
        return sim.reshape(h, n).T


def _fit_candidate(name: str, cum: pd.Series, start=None, season_prior=None) -> _Fitted:
    """Fit one candidate to a cumulative series; `start`: parameters to start the optimiser of a
    state-space model from (the same model's fit one month earlier, in the backtest: faster);
    `season_prior`: the city's declared monthly pace factors (the season models shrink toward it)."""
    adds = cum.diff().dropna()
    last = cum.index[-1]
    if name == "snaive":
        return SeasonalNaive(adds)
    if name in ("season_level", "season_ucm", "season_trend"):
        return SeasonalPace(adds, estimate_season(adds, season_prior), kind=name.split("_")[1])
    if name == "naive":
        return _Naive(adds)
    if name == "drift":
        return _Drift(adds)
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.statespace.sarimax import SARIMAX
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    y = adds.to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "ets_damped":
            model = ETSModel(cum.to_numpy(float), error="add", trend="add", damped_trend=True)
            res = model.fit(disp=False)  # a warm start finds worse optima here, and this fit is fast
            return _Statsmodels(name, res, last, on_cumulative=True, last_level=float(cum.iloc[-1]))
        if name == "arima":
            res = SARIMAX(y, order=(1, 0, 0), trend="c").fit(disp=False, start_params=start)
            return _Statsmodels(name, res, last)
        if name == "ucm":
            res = UnobservedComponents(y, level="llevel").fit(disp=False, start_params=start)
            return _Statsmodels(name, res, last)
        if name == "arima_seasonal":
            x = _fourier(adds.index)
            res = SARIMAX(y, exog=x, order=(1, 0, 0), trend="c").fit(disp=False, start_params=start)
            return _Statsmodels(name, res, last, exog_fn=_fourier)
        if name == "ucm_seasonal":
            res = UnobservedComponents(y, level="llevel", freq_seasonal=[{"period": 12, "harmonics": 2}]).fit(
                disp=False, start_params=start
            )
            return _Statsmodels(name, res, last)
    raise UsageError(f"unknown model {name!r}")


def _start_params(fit: _Fitted):
    res = getattr(fit, "res", None)
    if res is None:
        return None
    p = np.asarray(res.params, float)
    return p if np.all(np.isfinite(p)) else None


#: Candidates tried on every series. Dropped from the defaults (still available with `model=`):
#: ets_damped, a damped trend on the cumulative count that cannot express a season (it carried a
#: winter lull through the building season in Karamay) and the slowest fit by far (7 s of 24 s of
#: a 36-month backtest); arima_seasonal (Fourier terms), which scored as ucm_seasonal at 5x its cost.
BASE_MODELS = ("naive", "drift", "arima", "ucm")
#: The construction-season pace models (analysis.season): a season learned from one year.
SEASON_PACE_MODELS = ("season_level", "season_ucm")
SEASONAL_MODELS = ("ucm_seasonal",)
#: Scored in the backtest as references, never chosen ("last year's same months").
REFERENCE_MODELS = ("snaive",)


def candidate_models(n_months: int, declared_season: bool = False) -> tuple[str, ...]:
    """The candidates tried for a series of `n_months` monthly additions: the season-pace models
    (and the seasonal-naive reference) from one year of additions on, or at once when the city
    declares its season; the Fourier/UCM seasonal models from two years on."""
    season = n_months >= SEASON_MIN_MONTHS or declared_season
    return (
        BASE_MODELS
        + ((*SEASON_PACE_MODELS, *REFERENCE_MODELS) if season else ())
        + (SEASONAL_MODELS if n_months >= SEASONAL_MIN_MONTHS else ())
    )


def backtest_min_train(n: int, models) -> int:
    """Shortest training window of the backtest origins: a year of additions (13 month ends) when
    a season model is among the candidates and the series holds enough origins at 3 months, so
    the season is tested as it would be used (learned, not flat); MIN_TRAIN otherwise."""
    seasonal = any(m in SEASON_PACE_MODELS + REFERENCE_MODELS for m in models)
    year = SEASON_MIN_MONTHS + 1
    if seasonal and n - year - min(BACKTEST_HORIZONS) >= MIN_ORIGINS:
        return year
    return MIN_TRAIN


# --------------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------------


def backtest(
    cum: pd.Series, models=None, horizons=BACKTEST_HORIZONS, min_train: int = MIN_TRAIN, max_origins: int = MAX_ORIGINS
) -> tuple[pd.DataFrame, list[str]]:
    """Rolling-origin backtest of each model on the cumulative series, MASE at each horizon.

    MASE at origin t is |error at t+h| over the mean monthly addition of the training months
    (the in-sample MAE of the naive forecast of the cumulative count). A horizon is scored only
    when at least MIN_ORIGINS origins reach it. Returns the table (one row per model, sorted by
    `score` = mean MASE over the scored horizons) and notes.
    """
    table, notes, _ = _run_backtest(cum, models, horizons, min_train, max_origins)
    return table, notes


def _backtest_origins(n: int, usable, min_train: int, max_origins: int) -> list[int]:
    """Per horizon, the latest `max_origins` origins that reach it; each origin is fitted once."""
    return sorted({t0 for h in usable for t0 in list(range(min_train, n - h + 1))[-max_origins:]})


def _run_backtest(cum, models, horizons, min_train, max_origins, season_prior=None):
    """The backtest, and the model fitted at each origin (kept to calibrate the chosen one's intervals)."""
    n = len(cum)
    models = tuple(models) if models is not None else candidate_models(n - 1)
    notes = []
    usable = [h for h in horizons if n - min_train - h >= MIN_ORIGINS]
    for h in horizons:
        if h not in usable:
            notes.append(
                f"too little history for a {h}-month backtest ({n} months; needs {min_train + h + MIN_ORIGINS})"
            )
    cols = ["model"] + [f"mase_h{h}" for h in horizons] + ["score", "n_origins", "failed_fits"]
    fits: dict[str, dict[int, _Fitted]] = {m: {} for m in models}
    if not usable:
        return pd.DataFrame(columns=cols), notes, fits
    hmax = max(usable)
    origins = _backtest_origins(n, usable, min_train, max_origins)
    values = cum.to_numpy(float)
    errors = {m: {h: [] for h in usable} for m in models}
    failed = {m: 0 for m in models}
    start = {m: None for m in models}
    for t0 in origins:  # training = values[:t0]; last training point index t0-1
        train = cum.iloc[:t0]
        scale = float(np.mean(np.abs(np.diff(train.to_numpy(float)))))
        if scale <= 0:
            continue
        steps = min(hmax, n - t0)
        for m in models:
            try:
                fit = _fit_candidate(m, train, start=start[m], season_prior=season_prior)
                adds = np.clip(fit.mean(steps), 0, None)
                path = values[t0 - 1] + np.cumsum(adds)
                if not np.all(np.isfinite(path)):
                    raise ValueError("non-finite forecast")
            except Exception:  # a fit that fails at one origin counts against the model
                failed[m] += 1
                continue
            fits[m][t0] = fit
            start[m] = _start_params(fit)
            for h in usable:
                if h <= steps:
                    errors[m][h].append(abs(path[h - 1] - values[t0 - 1 + h]) / scale)
    rows = []
    for m in models:
        row = {"model": m}
        scores = []
        for h in horizons:
            e = errors[m].get(h, [])
            row[f"mase_h{h}"] = float(np.mean(e)) if len(e) >= MIN_ORIGINS else np.nan
            if h in usable and len(e) >= MIN_ORIGINS:
                scores.append(row[f"mase_h{h}"])
        full = all(len(errors[m][h]) >= MIN_ORIGINS for h in usable)
        row["score"] = float(np.mean(scores)) if scores and full else np.nan
        row["n_origins"] = len(origins)
        row["failed_fits"] = failed[m]
        rows.append(row)
    table = pd.DataFrame(rows, columns=cols).sort_values(["score", "model"], na_position="last", kind="stable")
    return table.reset_index(drop=True), notes, fits


def choose_model(table: pd.DataFrame, margin: float = SELECTION_MARGIN) -> str | None:
    """The simplest model that no other clearly beats in the backtest.

    X clearly beats Y when X's score is below (1 - margin) times Y's and X is no worse at any
    scored horizon. Choosing the lowest score among many candidates rewards luck in a short
    backtest (a damped trend that happened to fit the last year, say), and the lucky model's
    intervals are then too narrow. Among equally simple models the lower score wins. Returns
    None when no model has a score.
    """
    scored = table.dropna(subset=["score"])
    scored = scored[~scored["model"].isin(REFERENCE_MODELS)]
    if scored.empty:
        return None
    hcols = [c for c in scored.columns if c.startswith("mase_h") and scored[c].notna().all()]
    rank = scored["model"].map(lambda m: MODEL_COMPLEXITY.get(m, max(MODEL_COMPLEXITY.values()) + 1))
    rows = scored.assign(rank=rank).sort_values(["rank", "score", "model"], kind="stable")

    def beats(x, y) -> bool:
        return x["score"] <= (1 - margin) * y["score"] and all(x[c] <= y[c] for c in hcols)

    for _, cand in rows.iterrows():
        if not any(beats(other, cand) for _, other in rows.iterrows() if other["model"] != cand["model"]):
            return str(cand["model"])
    return str(rows.sort_values("score", kind="stable").iloc[0]["model"])  # not reached: the best is unbeaten


def _scaled_errors(cum: pd.Series, fits: dict, horizon: int, n_sim: int, seed: int) -> dict[int, list[float]]:
    """Errors of a model's forecasts at its backtest origins, over the spread of its own simulated
    paths: for each horizon h, (actual - mean of paths) / sd of paths at each origin reaching h."""
    n = len(cum)
    values = cum.to_numpy(float)
    z: dict[int, list[float]] = {h: [] for h in range(1, horizon + 1)}
    for i, (t0, fit) in enumerate(sorted(fits.items())):
        steps = min(horizon, n - t0)
        if steps < 1:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                adds = fit.simulate(steps, n_sim, np.random.default_rng(seed + i))
            if not np.all(np.isfinite(adds)):
                continue
        except Exception:
            continue
        paths = _monotone_paths(adds, values[t0 - 1], None)
        mean, sd = paths.mean(axis=0), paths.std(axis=0)
        actual = values[t0 : t0 + steps]
        for h in range(1, steps + 1):
            if sd[h - 1] > 1e-9:
                z[h].append(float((actual[h - 1] - mean[h - 1]) / sd[h - 1]))
            elif abs(actual[h - 1] - mean[h - 1]) > 1e-9:
                z[h].append(Z_CAP)  # the model was sure and wrong
    return z


def fit_widening(z: dict[int, list[float]]) -> np.ndarray | None:
    """The mean squared scaled error at each horizon 1..the longest backtest horizon, shrunk toward 1.

    With well-calibrated paths E[z^2] = 1 at every horizon. A model that leaves out the
    uncertainty of its parameters (statsmodels simulates with the estimates as if known) is too
    narrow by a factor that grows with the horizon. Origins a month apart share h - 1 of their h
    months, so a horizon's errors hold about len / h independent ones: each horizon's mean square
    is shrunk toward 1 with WIDENING_PRIOR_N errors' weight against that evidence (a raw one from
    one or two independent errors, clipped at the lower bound afterwards, widened calibrated bands
    by chance). Horizons are estimated separately, not along a line: a model blind to a season is
    off mid-year and right again a year on. Horizons without MIN_ORIGINS errors are interpolated;
    neighbours are averaged (3 months) against the noise. z is capped at Z_CAP so one wild origin
    cannot blow the fit up. None with too few errors.
    """
    hs, s2 = [], []
    for h, v in sorted(z.items()):
        if len(v) >= MIN_ORIGINS:
            n_eff = max(1.0, len(v) / h)
            raw = float(np.mean(np.minimum(np.square(v), Z_CAP**2)))
            hs.append(h)
            s2.append((n_eff * raw + WIDENING_PRIOR_N) / (n_eff + WIDENING_PRIOR_N))
    if len(hs) < 2 or sum(len(z[h]) for h in hs) < 4 * MIN_ORIGINS:
        return None
    grid = np.arange(1, max(hs) + 1, dtype=float)
    per_h = np.interp(grid, np.array(hs, float), np.array(s2))
    padded = np.r_[per_h[0], per_h, per_h[-1]]
    return (padded[:-2] + padded[1:-1] + padded[2:]) / 3


def widening_factors(fitted: np.ndarray | None, steps: int, lower: float = 1.0) -> np.ndarray:
    """The factor (>= `lower`, <= MAX_WIDENING) by which the paths' spread is scaled at steps 1..steps.

    Beyond the longest horizon of the backtest the factor is held, not extrapolated: a year of
    backtest errors says nothing about year 5.
    """
    if fitted is None:
        return np.ones(steps)
    s2 = np.asarray(fitted, float)
    h = np.minimum(np.arange(steps), len(s2) - 1)
    return np.clip(np.sqrt(np.maximum(s2[h], 0.0)), lower, MAX_WIDENING)


def interval_scale(
    cum: pd.Series,
    model: str,
    horizon: int = 12,
    min_train: int = MIN_TRAIN,
    max_origins: int = MAX_ORIGINS,
    n_sim: int = 200,
    seed: int = DEFAULT_SEED,
) -> float:
    """How much wider the model's simulated spread must be, `horizon` months ahead, to match its
    own backtest errors (1 for a well-calibrated model; at least 1, at most MAX_WIDENING)."""
    _, _, fits = _run_backtest(cum, (model,), BACKTEST_HORIZONS, min_train, max_origins)
    z = _scaled_errors(cum, fits[model], max(BACKTEST_HORIZONS), n_sim, seed)
    return float(widening_factors(fit_widening(z), horizon)[-1])


# --------------------------------------------------------------------------------------------
# Forecast
# --------------------------------------------------------------------------------------------


@dataclass
class TargetResult:
    date: pd.Timestamp
    on_air: int
    label: str = ""


@dataclass
class Forecast:
    """A forecast of one cumulative series: table, backtest, targets, and the paths behind them."""

    history: pd.Series
    model: str
    params: dict
    table: pd.DataFrame  # date, mean, lo80, hi80, lo95, hi95 (month ends after history)
    backtest: pd.DataFrame
    notes: list[str]
    paths: np.ndarray  # (n_paths, n_steps) cumulative count at each future month end
    path_index: pd.DatetimeIndex
    targets: pd.DataFrame = field(default_factory=pd.DataFrame)
    as_of: pd.Timestamp | None = None
    count_as_of: float | None = None
    observed: pd.Series | None = None
    name: str = ""
    unit: str = "stations"
    source: str = ""
    name_zh: str = ""
    source_zh: str = ""  # the source line in Chinese, for figures in Chinese
    fit: object = None  # the fitted top-down model
    plan_to_air_days: float = math.nan  # median days from planning to air (the pipeline's)
    top_down_paths: np.ndarray | None = None  # before the pipeline component, when there is one
    pipeline_paths: np.ndarray | None = None  # pipeline sites on air by each month end, per path

    def plot(self, lang: str = "en", ax=None, title: str | None = None):
        """The fan chart (see `plot_fan`)."""
        return plot_fan(self, lang=lang, ax=ax, title=title)

    def to_json_dict(self) -> dict:
        return {
            "name": self.name,
            "model": self.model,
            "params": {k: _round(v) for k, v in sorted(self.params.items())},
            "backtest": json_records(self.backtest),
            "notes": list(self.notes),
            "history": {
                "first": str(self.history.index[0].date()),
                "last": str(self.history.index[-1].date()),
                "n_months": int(len(self.history)),
                "n_months_interpolated": int((~self.observed).sum()) if self.observed is not None else 0,
            },
            "as_of": str(self.as_of.date()) if self.as_of is not None else None,
            "count_as_of": _round(self.count_as_of),
            "targets": json_records(self.targets),
            "n_paths": int(self.paths.shape[0]),
        }


def _round(x, digits: int = 6):
    if x is None:
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    if not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return round(x, max(0, digits - 1 - int(math.floor(math.log10(abs(x))))))


def json_records(df: pd.DataFrame) -> list[dict]:
    """Rows of a table as JSON-ready dicts: ISO dates, floats rounded to 6 significant digits."""
    out = []
    for rec in df.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, (pd.Timestamp, dt.date)):
                clean[k] = str(pd.Timestamp(v).date()) if not pd.isna(v) else None
            elif isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, bool):
                clean[k] = _round(v)
            elif v is None or (isinstance(v, float) and math.isnan(v)):
                clean[k] = None
            else:
                clean[k] = v if not isinstance(v, np.bool_) else bool(v)
        out.append(clean)
    return out


def _monotone_paths(adds: np.ndarray, last: float, floor: float | None) -> np.ndarray:
    cum = last + np.cumsum(np.clip(adds, 0, None), axis=1)
    if floor is not None:
        cum = np.maximum(cum, floor)
    return cum


def _month_steps(a: pd.Timestamp, b: pd.Timestamp) -> int:
    """Whole month ends from month end `a` to month end `b`."""
    return (b.year - a.year) * 12 + b.month - a.month


def _months_between(a: pd.Timestamp, b: pd.Timestamp) -> float:
    return (pd.Timestamp(b) - pd.Timestamp(a)).days / 30.4375


def _select_model(history, models, model, max_origins, season_prior):
    """The model to forecast with, the backtest table, its fits per origin, and notes."""
    declared = season_prior is not None
    n_adds = len(history) - 1
    if model is not None:
        models = sorted({model, "naive", "drift"})
    elif models is None:
        models = candidate_models(n_adds, declared)
    min_train = backtest_min_train(len(history), models)
    seasonal = any(m in SEASON_PACE_MODELS for m in models)
    if model is None and seasonal and min_train < SEASON_MIN_MONTHS + 1:
        # the backtest cannot overrule the season yet (below): score only the quick candidates
        models = tuple(m for m in models if m in ("naive", "drift", "season_level", *REFERENCE_MODELS))
    table, notes, fits = _run_backtest(history, models, BACKTEST_HORIZONS, min_train, max_origins, season_prior)
    if model is not None:
        return model, table, fits, notes + [f"model {model!r} forced by the caller"]
    chosen = choose_model(table)
    n_origins = int(table["n_origins"].max()) if len(table) else 0
    if seasonal and (min_train < SEASON_MIN_MONTHS + 1 or n_origins < 12):
        # a season learned from a year is not tested in every season yet: backtests on a few origins
        # chose worse than season_level alone on the simulated buildouts (benchmarks/forecast_eval.py)
        notes.append(
            f"too little history to backtest a season learned from a year at origins in every month "
            f"({len(history)} months, {n_origins} origins): season_level chosen (the pace of the last "
            "year, by a construction season shrunk toward flat by its evidence)"
        )
        return "season_level", table, fits, notes
    if chosen is None:
        notes.append(
            f"too little history to choose a model by backtest ({len(history)} months): "
            "fell back to drift (the mean monthly addition so far)"
        )
        return "drift", table, fits, notes
    scores = table.set_index("model")["score"]
    best = str(table[~table["model"].isin(REFERENCE_MODELS)].iloc[0]["model"])
    if best != chosen:
        notes.append(
            f"{chosen} chosen: {best} scored {scores[best]:.3f} against {scores[chosen]:.3f}, not "
            f"{SELECTION_MARGIN:.0%} better and better at every horizon (a simpler model wins "
            "unless clearly beaten)"
        )
    for ref in ("drift", "snaive"):
        if chosen != ref and pd.notna(scores.get(ref, np.nan)):
            notes.append(f"{chosen} against {ref} in the backtest: mean MASE {scores[chosen]:.3f} vs {scores[ref]:.3f}")
    return chosen, table, fits, notes


def fit_forecast(
    history: pd.Series,
    horizon: int = 12,
    targets=(),
    as_of=None,
    count_as_of: float | None = None,
    models=None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    max_origins: int = MAX_ORIGINS,
    model: str | None = None,
    observed: pd.Series | None = None,
    name: str = "",
    unit: str = "stations",
    source: str = "",
    season_prior: np.ndarray | None = None,
) -> Forecast:
    """Forecast a monthly cumulative count (month-end index) `horizon` months past its end.

    The model is chosen by `backtest` (mean MASE at 3, 6 and 12 months) among `models` (default
    `candidate_models`) with `choose_model` (the simplest one unless another is clearly better),
    or forced with `model`. Its simulated spread is then widened, horizon by horizon, to match
    its own errors at the backtest origins (`fit_widening`). Too little history for any backtest
    horizon: drift, said in `notes`. `targets`: config.Target objects or (date, count[, label])
    tuples; each gets the forecast at its date with 80/95% intervals, the share of simulated
    paths that reach it, the median date of reaching it, and the monthly pace needed from
    `as_of` (or the last month end) against the pace of the last 3 and 6 months. `count_as_of`:
    the count already known on `as_of` (after the last month end); no path falls below it.
    `season_prior`: 12 monthly pace factors the city declares (`season.read_declared_season`).
    """
    history = pd.Series(history, dtype=float).sort_index()
    if not isinstance(history.index, pd.DatetimeIndex):
        raise UsageError("history needs a DatetimeIndex of month ends")
    if len(history) < 3:
        raise BadInputError(f"{len(history)} monthly values: a forecast needs at least 3")
    if np.any(np.diff(history.to_numpy()) < 0):
        raise BadInputError("the cumulative count falls; a forecast needs a count that never falls")
    if horizon < 1:
        raise UsageError(f"horizon must be >= 1 month, got {horizon}")
    notes: list[str] = []
    last_date = history.index[-1]
    targets = _normalize_targets(targets)
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else last_date
    floor = float(count_as_of) if count_as_of is not None else None

    chosen, table_bt, bt_fits, sel_notes = _select_model(history, models, model, max_origins, season_prior)
    notes += sel_notes
    # simulate far enough for every target and for the dates of reaching them
    last_target = max([t.date for t in targets], default=last_date)
    steps = max(horizon, _month_steps(last_date, _month_end(last_target)))
    steps_sim = steps + 36 if targets else steps
    try:
        fit = _fit_candidate(chosen, history, season_prior=season_prior)
        adds = fit.simulate(steps_sim, n_paths, np.random.default_rng(seed))
        if not np.all(np.isfinite(adds)):
            raise ValueError("non-finite simulated paths")
    except Exception as exc:  # the chosen model fits on the backtest windows but not on the whole series
        notes.append(f"{chosen} failed on the full series ({type(exc).__name__}); fell back to drift")
        chosen = "drift"
        fit = _fit_candidate("drift", history)
        adds = fit.simulate(steps_sim, n_paths, np.random.default_rng(seed))
    paths = _monotone_paths(adds, float(history.iloc[-1]), floor)
    if chosen != "naive" and bt_fits.get(chosen):
        # calibrate the spread to the chosen model's own errors at its backtest origins
        z = _scaled_errors(history, bt_fits[chosen], max(BACKTEST_HORIZONS), CALIBRATION_PATHS, seed)
        fitted = fit_widening(z)
        # the season models carry a prior on how much a pace changes from year to year: their backtest
        # may narrow their spread as well as widen it (the others' paths only ever miss uncertainty)
        k = widening_factors(fitted, steps_sim, MIN_SEASON_SCALE if chosen in SEASON_PACE_MODELS else 1.0)
        if np.any(k != 1.0):
            mean = paths.mean(axis=0)
            paths = np.maximum.accumulate(np.maximum(mean + k * (paths - mean), float(history.iloc[-1])), axis=1)
            if floor is not None:
                paths = np.maximum(paths, floor)
            notes.append(
                f"intervals scaled x{k[0]:.2f} at 1 month to x{k[-1]:.2f} from {len(fitted)} months on, "
                "to match the model's errors in the backtest"
            )
    index = _future_index(last_date, steps_sim)
    table = _summarize(paths[:, :horizon], index[:horizon])
    fc = Forecast(
        history=history,
        model=chosen,
        params=fit.params,
        table=table,
        backtest=table_bt,
        notes=notes,
        paths=paths,
        path_index=index,
        as_of=as_of,
        count_as_of=floor,
        observed=observed,
        name=name,
        unit=unit,
        source=source,
        fit=fit,
    )
    fc.targets = _target_table(fc, targets)
    return fc


def _summarize(paths: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    q = np.quantile(paths, [0.025, 0.10, 0.90, 0.975], axis=0)
    return pd.DataFrame(
        {"date": index, "mean": paths.mean(axis=0), "lo80": q[1], "hi80": q[2], "lo95": q[0], "hi95": q[3]}
    )


def _normalize_targets(targets) -> list[TargetResult]:
    out = []
    for t in targets or ():
        if hasattr(t, "on_air"):
            out.append(TargetResult(pd.Timestamp(t.date), int(t.on_air), getattr(t, "label_en", "") or ""))
        else:
            date, count, *rest = t
            out.append(TargetResult(pd.Timestamp(date), int(count), rest[0] if rest else ""))
    return sorted(out, key=lambda t: t.date)


def _value_at(fc: Forecast, date: pd.Timestamp) -> np.ndarray:
    """Simulated counts at `date`: at its month end (a date inside a month uses that month's end)."""
    me = _month_end(date)
    if me <= fc.history.index[-1]:
        return np.full(fc.paths.shape[0], float(fc.history.loc[:me].iloc[-1]))
    k = fc.path_index.get_indexer([me])[0]
    return fc.paths[:, k]


def _pace(history: pd.Series, months: int) -> float:
    if len(history) <= months:
        return float("nan")
    return float((history.iloc[-1] - history.iloc[-1 - months]) / months)


def _target_table(fc: Forecast, targets: list[TargetResult]) -> pd.DataFrame:
    rows = []
    known = fc.count_as_of if fc.count_as_of is not None else float(fc.history.iloc[-1])
    for t in targets:
        v = _value_at(fc, t.date)
        reached = fc.paths >= t.on_air
        first = np.where(reached.any(axis=1), reached.argmax(axis=1), -1)
        if known >= t.on_air:
            med_date, p10, p90, p_ever = fc.as_of, fc.as_of, fc.as_of, 1.0
        else:
            p_ever = float((first >= 0).mean())

            # month index at which each path first reaches the target (never: past the end)
            ks = np.quantile(np.where(first >= 0, first, np.iinfo(np.int32).max), [0.5, 0.1, 0.9], method="lower")
            med_date, p10, p90 = (fc.path_index[int(k)] if k < len(fc.path_index) else pd.NaT for k in ks)
        months_left = _months_between(fc.as_of, t.date)
        need = (t.on_air - known) / months_left if months_left > 0 else float("nan")
        q = np.quantile(v, [0.025, 0.10, 0.90, 0.975])
        rows.append(
            {
                "target_date": t.date,
                "target": t.on_air,
                "label": t.label,
                "mean": float(v.mean()),
                "lo80": q[1],
                "hi80": q[2],
                "lo95": q[0],
                "hi95": q[3],
                "prob_reach": float((v >= t.on_air).mean()) if known < t.on_air and fc.as_of < t.date else math.nan,
                "date_reach_median": med_date,
                "date_reach_p10": p10,
                "date_reach_p90": p90,
                "prob_reach_in_simulation": p_ever,
                "count_as_of": known,
                "months_left": months_left,
                "pace_needed_per_month": max(need, 0.0) if math.isfinite(need) else need,
                "pace_last_3m": _pace(fc.history, 3),
                "pace_last_6m": _pace(fc.history, 6),
                **_verdict_columns(fc, t, v, q, known),
            }
        )
    return pd.DataFrame(rows)


def _verdict_columns(fc: Forecast, t: TargetResult, v: np.ndarray, q: np.ndarray, known: float) -> dict:
    """The verdict of one target in words: status, what must happen, why the band is so wide;
    `expected_on_air` is the one expected count every page shows for the target's date."""
    status = classify_target(float((v >= t.on_air).mean()), t.on_air, t.date, fc.as_of, known)
    passed = status in ("reached", "missed")
    k = fc.path_index.get_indexer([_month_end(t.date)])[0]
    pipe = float(fc.pipeline_paths[:, k].mean()) if fc.pipeline_paths is not None and k >= 0 else 0.0
    n_pipe = int(fc.pipeline_paths[:, -1].max()) if fc.pipeline_paths is not None else 0
    verdict_zh, verdict_en = describe_verdict(
        status, t.on_air, t.date, float((v >= t.on_air).mean()), float(v.mean()), q[1], q[2], known
    )
    need, by, must_zh, must_en = describe_requirement(
        status, t.on_air, t.date, fc.as_of, known, pipe, fc.plan_to_air_days
    )
    months = max(_months_between(fc.as_of, t.date), 1e-9)
    spread_zh, spread_en = (
        ("", "")
        if passed
        else describe_spread(t.date, fc.as_of, q[1], q[2], (q[1] - known) / months, (q[2] - known) / months, n_pipe)
    )
    return {
        "expected_on_air": known if passed else float(v.mean()),
        "status": status,
        "pipeline_expected": pipe,
        "sites_to_enter_pipeline": need,
        "enter_pipeline_by": by,
        "plan_to_air_median_days": fc.plan_to_air_days,
        "verdict_zh": verdict_zh,
        "verdict_en": verdict_en,
        "must_happen_zh": must_zh,
        "must_happen_en": must_en,
        "spread_zh": spread_zh,
        "spread_en": spread_en,
    }


def expected_on_air(fc: Forecast | CityForecast, date) -> float:
    """The one expected count of stations on air on `date` that every page shows: the mean of the
    forecast's paths at its month end (the count itself once the date has passed)."""
    fc = getattr(fc, "city", fc)
    known = fc.count_as_of if fc.count_as_of is not None else float(fc.history.iloc[-1])
    if fc.as_of is not None and pd.Timestamp(date) <= fc.as_of:
        return float(fc.history.loc[: _month_end(date)].iloc[-1]) if pd.Timestamp(date) < fc.as_of else known
    return float(_value_at(fc, pd.Timestamp(date)).mean())


def forecast_series_file(path: str | Path, horizon: int = 12, targets=(), **kw) -> Forecast:
    """Read a published `date,value` series (`read_series`), put it on month ends and forecast it."""
    obs = read_series(path)
    try:
        monthly, observed = to_month_ends(obs)
    except BadInputError as exc:
        raise BadInputError(exc.problem, file=path) from None
    last_obs = obs.iloc[-1]
    count_after = float(last_obs["value"]) if last_obs["date"] > monthly.index[-1] else None
    fc = fit_forecast(
        monthly,
        horizon=horizon,
        targets=targets,
        as_of=last_obs["date"],
        count_as_of=count_after,
        observed=observed,
        name=kw.pop("name", Path(path).stem),
        **kw,
    )
    n_interp = int((~observed).sum())
    if n_interp:
        fc.notes.append(f"{n_interp} of {len(monthly)} month ends interpolated linearly between published dates")
    return fc


# --------------------------------------------------------------------------------------------
# The pipeline as a component
# --------------------------------------------------------------------------------------------


def has_pipeline_columns(stations: pd.DataFrame) -> bool:
    """Whether the station table carries the stage dates and statuses the pipeline component needs."""
    from analysis.taskforce import DATE_COLUMNS

    return all(c in stations.columns for c in ("station_id", "status", "blocker", *DATE_COLUMNS))


def season_clock(as_of, path_index: pd.DatetimeIndex, factors=None) -> np.ndarray:
    """Working days from `as_of` to each month end of `path_index` on the construction season's
    clock: a calendar day of month m counts factors[m] days (mean 1 over a year), so a site due
    in a winter stop waits for spring. Flat without factors (calendar days)."""
    as_of = pd.Timestamp(as_of).normalize()
    if factors is None:
        return np.asarray((path_index - as_of).days, float)
    days = pd.date_range(as_of + pd.Timedelta(days=1), path_index[-1], freq="D")
    work = np.cumsum(np.asarray(factors, float)[days.month.to_numpy() - 1])
    k = np.asarray((path_index - as_of).days, int) - 1
    return np.where(k >= 0, work[np.clip(k, 0, len(work) - 1)], 0.0)


def sample_pipeline_days(
    stations: pd.DataFrame, as_of, n_paths: int, seed: int, extract_date=None, freed=(), season=None
) -> tuple[pd.DataFrame, np.ndarray]:
    """The pipeline sites on `as_of` and their simulated working days to air ((n_paths, n_sites),
    `taskforce.sample_days_to_air` on the construction season's clock when `season` is given)."""
    from analysis.taskforce import sample_days_to_air

    as_of = pd.Timestamp(as_of).normalize()
    return sample_days_to_air(stations, as_of, n_paths, np.random.default_rng(seed), extract_date, freed, season)


def _arrivals_of(days: np.ndarray, use: np.ndarray, clock: np.ndarray) -> np.ndarray:
    """Sites (columns where `use`) on air by each step of `clock` (working days), per path."""
    d = days[:, use]
    return np.stack([(d <= c).sum(axis=1) for c in clock], axis=1).astype(float)


def pipeline_arrivals(
    stations: pd.DataFrame,
    as_of,
    path_index: pd.DatetimeIndex,
    n_paths: int,
    seed: int,
    extract_date=None,
    freed=(),
    season=None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Sites in the pipeline on `as_of` gone on air by each month end of `path_index`, per simulated
    path ((n_paths, steps), cumulative), from the stage durations observed by then
    (`taskforce.sample_days_to_air`), counted on the construction season's clock (`season_clock`,
    `season`: 12 monthly factors), and the pipeline sites themselves."""
    sites, days = sample_pipeline_days(stations, as_of, n_paths, seed, extract_date, freed, season)
    return _arrivals_of(days, np.ones(len(sites), bool), season_clock(as_of, path_index, season)), sites


def plan_to_air_median(stations: pd.DataFrame, as_of) -> float:
    """Median days from planning to air: of the sites on air by `as_of` with both dates, else the
    sum of the stages' Kaplan-Meier medians (NaN when a stage has none)."""
    from analysis.taskforce import measure_stage_durations

    dur = measure_stage_durations(stations, as_of).set_index("stage")
    whole = dur.loc["planned_to_on_air"]
    if whole["n_completed"] >= 3 and pd.notna(whole["median_days"]):
        return float(whole["median_days"])
    stages = dur.drop(index="planned_to_on_air")["km_median_days"]
    return float(stages.sum()) if stages.notna().all() else math.nan


#: Stages from which a site all but surely reaches air: the pipeline's floor under the forecast.
COMMITTED_STAGES = ("construction", "power_hookup")


def combine_with_pipeline(top_paths: np.ndarray, base: float, committed: np.ndarray) -> np.ndarray:
    """Stations on air per path: `base` (on air on the report date) plus, at each month end, the
    larger of the top-down additions and the committed sites' arrivals (sites in construction or
    power hook-up, `COMMITTED_STAGES`). The top-down pace already contains the pipeline's sites,
    so they are not added to it (no double count); they only hold the band's lower edge up.
    Sites in earlier stages are not a floor: in backtests a share of them stalls for months."""
    top_add = np.maximum(top_paths - base, 0.0)
    return np.maximum.accumulate(base + np.maximum(top_add, committed), axis=1)


def _add_pipeline(fc: Forecast, stations, as_of, n_paths, seed, horizon, targets) -> pd.DataFrame:
    """Replace the top-down paths of `fc` by the combined ones; returns the pipeline sites."""
    base = fc.count_as_of if fc.count_as_of is not None else float(fc.history.iloc[-1])
    season = getattr(fc.fit, "season", None)
    factors = season.factors if season is not None else None
    sites, pipe_days = sample_pipeline_days(stations, as_of, n_paths, seed + 7, season=factors)
    clock = season_clock(as_of, fc.path_index, factors)
    pipe = _arrivals_of(pipe_days, np.ones(len(sites), bool), clock)
    committed = sites["stage"].isin(COMMITTED_STAGES).to_numpy()
    fc.plan_to_air_days = plan_to_air_median(stations, as_of)
    fc.top_down_paths = fc.paths
    fc.pipeline_paths = pipe
    fc.paths = combine_with_pipeline(fc.paths, base, _arrivals_of(pipe_days, committed, clock))
    fc.table = _summarize(fc.paths[:, :horizon], fc.path_index[:horizon])
    fc.targets = _target_table(fc, targets)
    fc.notes.append(
        f"{len(sites)} sites in the pipeline on {as_of.date()} reach air by the observed stage "
        "durations (Kaplan-Meier, sites still waiting counted); sites not yet planned come from the "
        "top-down pace, less the share the pipeline already accounts for"
    )
    return sites


# --------------------------------------------------------------------------------------------
# Levers: what freeing each blocker's sites this month is worth
# --------------------------------------------------------------------------------------------

LEVER_COLUMNS = [
    "as_of",
    "blocker",
    "blocker_zh",
    "sites_on_list",
    "target_date",
    "target",
    "prob_reach",
    "prob_reach_if_freed",
    "prob_rise",
    "year_end",
    "expected_year_end",
    "expected_year_end_if_freed",
    "year_end_rise",
]


def rank_levers(
    cf: CityForecast, stations: pd.DataFrame, city=None, extract_date=None, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """For each blocker on the supervision list (`taskforce.list_stuck_sites`, 'none' where no
    blocker is reported): the rise in P(next target) and in the expected count at the year's end
    if the sites it holds finish their current stage this month (then move on at the observed
    stage durations), against the forecast as it stands. Largest rise in P first.

    The gain is the freed sites' extra arrivals (freed minus as they are, both simulated on the
    season's clock), added to every path of the forecast: the top-down pace already holds the
    usual share of blocked sites, so only what freeing them changes is added."""
    from analysis.taskforce import BLOCKER_ZH, list_stuck_sites, stuck_days_of

    fc = cf.city
    if not has_pipeline_columns(stations) or fc.as_of is None:
        return pd.DataFrame(columns=LEVER_COLUMNS)
    as_of = fc.as_of
    stuck = list_stuck_sites(stations, as_of, stuck_days_of(city) if city is not None else None, extract_date)
    goal = fc.targets[fc.targets["target_date"] >= as_of].head(1) if len(fc.targets) else fc.targets
    year_end = pd.Timestamp(as_of.year, 12, 31)
    k_year = fc.path_index.get_indexer([year_end])[0]
    season = getattr(fc.fit, "season", None)
    factors = season.factors if season is not None else None
    clock = season_clock(as_of, fc.path_index, factors)
    n = fc.paths.shape[0]
    rows = []
    sites, base_days = sample_pipeline_days(stations, as_of, n, seed + 11, extract_date, (), factors)
    for blocker, group in stuck.groupby(stuck["blocker"].fillna("none"), sort=True):
        ids = set(group["station_id"])
        _, freed_days = sample_pipeline_days(stations, as_of, n, seed + 11, extract_date, ids, factors)
        mine = sites["station_id"].isin(ids).to_numpy()
        gain = _arrivals_of(freed_days, mine, clock) - _arrivals_of(base_days, mine, clock)
        after = np.maximum.accumulate(fc.paths + gain, axis=1)
        row = {
            "as_of": as_of,
            "blocker": blocker,
            "blocker_zh": BLOCKER_ZH.get(blocker, blocker),
            "sites_on_list": len(ids),
            "year_end": year_end,
            "expected_year_end": float(fc.paths[:, k_year].mean()) if k_year >= 0 else math.nan,
            "expected_year_end_if_freed": float(after[:, k_year].mean()) if k_year >= 0 else math.nan,
        }
        row["year_end_rise"] = row["expected_year_end_if_freed"] - row["expected_year_end"]
        if len(goal):
            t = goal.iloc[0]
            k = fc.path_index.get_indexer([_month_end(t["target_date"])])[0]
            row.update(
                target_date=t["target_date"],
                target=int(t["target"]),
                prob_reach=float((fc.paths[:, k] >= t["target"]).mean()),
                prob_reach_if_freed=float((after[:, k] >= t["target"]).mean()),
            )
            row["prob_rise"] = row["prob_reach_if_freed"] - row["prob_reach"]
        rows.append(row)
    out = pd.DataFrame(rows, columns=LEVER_COLUMNS)
    return out.sort_values(
        ["prob_rise", "year_end_rise", "blocker"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def write_levers(levers: pd.DataFrame, out: str | Path) -> Path:
    """Write levers.csv (one row per blocker, `rank_levers`) into `out`; byte-identical on rerun."""
    from analysis.files import write_csv

    path = Path(out) / "levers.csv"
    frame = levers.copy()
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = frame[col].round(4)
    write_csv(frame, path)
    return path


# --------------------------------------------------------------------------------------------
# City and districts
# --------------------------------------------------------------------------------------------


@dataclass
class CityForecast:
    """The city's forecast, its districts' reconciled forecasts, and the monthly series behind them."""

    city: Forecast
    districts: dict[str, Forecast]
    series: pd.DataFrame  # month ends x (city + one column per district)
    district_table: pd.DataFrame  # per district and target: share, count, forecast, probability
    notes: list[str]

    @property
    def table(self) -> pd.DataFrame:
        return self.city.table

    @property
    def backtest(self) -> pd.DataFrame:
        return self.city.backtest

    @property
    def targets(self) -> pd.DataFrame:
        return self.city.targets

    def plot(self, lang: str = "en", ax=None, title: str | None = None):
        return plot_fan(self.city, lang=lang, ax=ax, title=title)

    def plot_districts(self, lang: str = "en"):
        return plot_districts(self, lang=lang)


def forecast_stations(
    stations: pd.DataFrame,
    as_of,
    city=None,
    horizon: int | None = None,
    district: str | None = None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    model: str | None = None,
    max_origins: int = MAX_ORIGINS,
    pipeline: bool = True,
) -> CityForecast:
    """From clean stations and a report date: the city's forecast and its districts'.

    Only stations on air by `as_of` count. `city` (a key, a folder, or a config.City; default
    none) gives the targets, the district order and their target shares; `district` forecasts
    one district alone (its targets are its share of the city's). Districts use the city's
    chosen model refitted on their own series (too short to choose alone), then are reconciled
    top-down: at each month the district means are scaled by one factor so that they add up to
    the city's mean, and the district paths by the same factor. A district's share of a target
    is `target_share` from city.toml, else its share of the stations on air on `as_of`.
    """
    from analysis.config import resolve_city

    as_of = pd.Timestamp(as_of).normalize()
    cfg = None if city is None else resolve_city(city)
    targets = list(cfg.goals()) if cfg is not None else []
    names = list(cfg.district_names) if cfg is not None else None
    start = pd.Timestamp(cfg.buildout_start) if cfg is not None else None
    if start is not None:
        first = pd.to_datetime(stations["on_air_date"]).min()
        if pd.notna(first) and first < start:
            start = first
    notes: list[str] = []
    all_stations = stations
    stations = stations if district is None else stations.loc[stations["district"] == district]
    if district is not None and stations.empty:
        raise BadInputError(f"no station in district {district!r}")
    city_series = monthly_on_air(stations, as_of, start=start)
    by_d = monthly_on_air(stations, as_of, by_district=True, start=start, districts=names)
    if names is not None:
        other = set(stations["district"].dropna()) - set(names)
        if other:
            notes.append(f"stations in districts not in city.toml counted in the city only: {sorted(other)}")
    count_now = count_on_air(stations, as_of)
    last_goal = max([_month_end(t.date) for t in targets], default=city_series.index[-1])
    horizon = horizon or max(12, _month_steps(city_series.index[-1], last_goal))
    split = split_targets(
        stations if district is None else all_stations, as_of, cfg, targets, names or list(by_d.columns)
    )
    if district is not None:
        targets = [
            (
                t.date,
                split[(pd.Timestamp(t.date), district)][0],
                f"{district}: {split[(pd.Timestamp(t.date), district)][1]:.0%} of {t.on_air}",
            )
            for t in targets
        ]
        notes.append(
            f"{district}: targets are the district's split of the city's "
            f"({split[(pd.Timestamp(targets[0][0]), district)][2] if targets else 'no target'})"
        )
    name = (cfg.name_en if cfg is not None else "city") if district is None else district
    season_prior = read_declared_season(cfg.raw, cfg.folder / "city.toml") if cfg is not None else None
    city_fc = fit_forecast(
        city_series,
        horizon=horizon,
        targets=targets,
        as_of=as_of,
        count_as_of=count_now,
        n_paths=n_paths,
        seed=seed,
        model=model,
        max_origins=max_origins,
        name=name,
        source=f"clean stations on air by {as_of.date()}",
        season_prior=season_prior,
    )
    if pipeline and district is None and has_pipeline_columns(stations):
        _add_pipeline(city_fc, stations, as_of, n_paths, seed, horizon, _normalize_targets(targets))
    city_fc.name_zh = (cfg.name_zh if cfg is not None else "") if district is None else district
    city_fc.source_zh = f"截至 {as_of.date()} 已开通的站址（清洗后的运营商及铁塔公司记录）"
    districts: dict[str, Forecast] = {}
    if district is None:
        on_air_now = count_on_air_by_district(stations, as_of)
        for i, d in enumerate(by_d.columns):
            s = by_d[d]
            if s.iloc[-1] == 0:
                notes.append(f"{d}: no station on air by {as_of.date()}; forecast as zero")
            districts[d] = _district_forecast(s, city_fc, int(on_air_now.get(d, 0)), n_paths, seed + 1 + i, d)
        _reconcile(city_fc, districts)
    table = _district_table(city_fc, districts, targets, split) if districts else pd.DataFrame()
    series = pd.concat([city_series.rename("city"), by_d], axis=1)
    return CityForecast(
        city=city_fc, districts=districts, series=series, district_table=table, notes=city_fc.notes + notes
    )


def split_targets(stations: pd.DataFrame, as_of, cfg, targets, names) -> dict:
    """The district split of each target: {(target date, district): (district target, share, basis)}.

    With the task force's columns (stage dates) and a city, the one split of `taskforce.district_targets`
    (the same numbers as district_targets.csv); otherwise `target_share` from city.toml, else the
    share of stations on air on `as_of`, of the whole target.
    """
    out = {}
    if cfg is not None and has_pipeline_columns(stations):
        from analysis.taskforce import district_targets

        for r in district_targets(stations, as_of, cfg).itertuples():
            out[(pd.Timestamp(r.target_date), r.district)] = (int(r.district_target), float(r.share), r.share_basis)
    given = {d.name_zh: d.target_share for d in cfg.districts} if cfg is not None else {}
    by_district = count_on_air_by_district(stations, as_of) if len(stations) else pd.Series(dtype=int)
    counts = {n: int(by_district.get(n, 0)) for n in names}
    total = sum(counts.values())
    if given and all(given.get(n) is not None for n in names):
        tot = sum(given[n] for n in names)
        shares, basis = {n: given[n] / tot for n in names}, "city.toml target_share"
    else:
        shares = {n: (counts[n] / total if total else 1 / len(names)) for n in names}
        basis = f"no target_share in city.toml: share of stations on air on {pd.Timestamp(as_of).date()}"
    for t in _normalize_targets(targets):
        for n in names:
            out.setdefault((t.date, n), (int(round(t.on_air * shares[n])), shares[n], basis))
    return out


def _district_forecast(series, city_fc, count_now, n_paths, seed, name) -> Forecast:
    if series.iloc[-1] == 0 or series.diff().dropna().abs().sum() == 0:
        steps = city_fc.paths.shape[1]
        paths = np.full((n_paths, steps), float(series.iloc[-1]))
        return Forecast(
            history=series,
            model="none",
            params={},
            table=_summarize(paths, city_fc.path_index),
            backtest=pd.DataFrame(),
            notes=["no additions yet"],
            paths=paths,
            path_index=city_fc.path_index,
            as_of=city_fc.as_of,
            count_as_of=count_now,
            name=name,
        )
    model = city_fc.model if city_fc.model in ("naive", "drift") or len(series) >= MIN_TRAIN else "drift"
    try:
        fit = _fit_candidate(model, series)
        adds = fit.simulate(city_fc.paths.shape[1], n_paths, np.random.default_rng(seed))
        if not np.all(np.isfinite(adds)):
            raise ValueError
    except Exception:
        model = "drift"
        fit = _fit_candidate(model, series)
        adds = fit.simulate(city_fc.paths.shape[1], n_paths, np.random.default_rng(seed))
    paths = _monotone_paths(adds, float(series.iloc[-1]), float(count_now))
    return Forecast(
        history=series,
        model=model,
        params=fit.params,
        table=pd.DataFrame(),
        backtest=pd.DataFrame(),
        notes=[],
        paths=paths,
        path_index=city_fc.path_index,
        as_of=city_fc.as_of,
        count_as_of=float(count_now),
        name=name,
    )


def _reconcile(city_fc: Forecast, districts: dict[str, Forecast]) -> None:
    """Top-down by forecast proportions: district means add up to the city mean at every month."""
    total = sum(f.paths.mean(axis=0) for f in districts.values())
    city_mean = city_fc.paths.mean(axis=0)
    factor = np.where(total > 0, city_mean / np.where(total > 0, total, 1), 1.0)
    horizon = len(city_fc.table)
    for f in districts.values():
        f.reconciled_mean = f.paths.mean(axis=0) * factor
        f.paths = np.maximum.accumulate(f.paths * factor, axis=1)
        t = _summarize(f.paths[:, :horizon], city_fc.path_index[:horizon])
        t["mean"] = f.reconciled_mean[:horizon]
        f.table = t


def _district_table(city_fc, districts, targets, split) -> pd.DataFrame:
    rows = []
    for t in _normalize_targets(targets):
        me = _month_end(t.date)
        k = city_fc.path_index.get_indexer([me])[0]
        for d, f in districts.items():
            target_d, share, basis = split[(t.date, d)]
            v = f.paths[:, k] if k >= 0 else np.full(f.paths.shape[0], float(f.history.iloc[-1]))
            mean = float(f.reconciled_mean[k]) if k >= 0 else float(v.mean())
            need_months = _months_between(city_fc.as_of, t.date)
            rows.append(
                {
                    "district": d,
                    "target_date": t.date,
                    "city_target": t.on_air,
                    "share_pct": 100 * share,
                    "share_source": basis,
                    "district_target": target_d,
                    "on_air_as_of": f.count_as_of,
                    "mean": mean,
                    "lo80": float(np.quantile(v, 0.10)),
                    "hi80": float(np.quantile(v, 0.90)),
                    "prob_reach": float((v >= target_d - 1e-9).mean()),
                    "pace_needed_per_month": max((target_d - f.count_as_of) / need_months, 0.0)
                    if need_months > 0
                    else np.nan,
                    "pace_last_3m": _pace(f.history, 3),
                    "pace_last_6m": _pace(f.history, 6),
                    "model": f.model,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------


def forecast_csv_frame(fc: Forecast, horizon: int | None = None) -> pd.DataFrame:
    t = fc.table if horizon is None else fc.table.iloc[:horizon]
    out = t.copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out


def _decimals(history: pd.Series) -> int:
    """Decimals to write: the series' own precision plus one (integers -> 1 decimal)."""
    vals = history.to_numpy(float)
    for d in range(0, 4):
        if np.allclose(vals, np.round(vals, d), atol=1e-9, rtol=0):
            return d + 1
    return 4


def write_forecast(
    fc: Forecast,
    out: str | Path,
    horizon: int | None = None,
    lang: str = "en",
    figure: bool = True,
    extra: dict | None = None,
) -> list[Path]:
    """Write forecast.csv, model.json (and forecast.png) into `out`; byte-identical for the same input."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    digits = _decimals(fc.history)
    frame = forecast_csv_frame(fc, horizon)
    csv_path = out / "forecast.csv"
    frame.to_csv(csv_path, index=False, float_format=f"%.{digits}f", lineterminator="\n")
    doc = fc.to_json_dict()
    if extra:
        doc.update(extra)
    json_path = out / "model.json"
    json_path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths = [csv_path, json_path]
    if figure:
        import matplotlib

        matplotlib.use("Agg", force=False)
        fig = plot_fan(fc, lang=lang)
        png = out / "forecast.png"
        fig.savefig(png, dpi=120, bbox_inches="tight", metadata={"Software": None})
        import matplotlib.pyplot as plt

        plt.close(fig)
        paths.append(png)
    return paths


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

_LABELS = {
    "en": {
        "history": "on air (month end)",
        "mean": "forecast (mean)",
        "i80": "80% interval",
        "i95": "95% interval",
        "ylabel": "5G stations on air (cumulative)",
        "xlabel": "month end",
        "as_of": "as of {d}",
        "title": "{name}: 5G stations on air, forecast to {end}",
        "target": "target {n:,} by {d}: P = {p:.0%}",
        "reached": "target {n:,} by {d}: reached",
        "missed": "target {n:,} by {d}: missed",
        "source": "Source: {src}. Model: {model} (chosen by rolling-origin backtest, MASE at 3/6/12 months). "
        "Shaded: 80% and 95% of {n:,} simulated paths.",
        "district_title": "{name} by district: on air and forecast (reconciled to the city)",
    },
    "zh": {
        "history": "已开通（月末）",
        "mean": "预测（均值）",
        "i80": "80% 区间",
        "i95": "95% 区间",
        "ylabel": "已开通 5G 基站数（累计，座）",
        "xlabel": "月末",
        "as_of": "截至 {d}",
        "title": "{name}：5G 基站开通数及预测（至 {end}）",
        "target": "目标 {n:,} 座（{d}）：达成概率 {p:.0%}",
        "reached": "目标 {n:,} 座（{d}）：已达成",
        "missed": "目标 {n:,} 座（{d}）：未达成",
        "source": "数据来源：{src}。模型：{model}（滚动起点回测选定，3/6/12 个月 MASE）。"
        "阴影：{n:,} 条模拟路径的 80% 与 95% 区间。",
        "district_title": "{name}分区：已开通与预测（与全市预测协调一致）",
    },
}


def plot_fan(fc: Forecast, lang: str = "en", ax=None, title: str | None = None):
    """Fan chart: monthly history, forecast mean, 80% and 95% bands, targets with their probability,
    the report date; title, axis units and source in the figure itself. Returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib import dates as mdates

    lang = figure_lang(lang)
    L = _LABELS[lang]
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 5.6))
    else:
        fig = ax.figure
    h = fc.history
    last_target = fc.targets["target_date"].max() if len(fc.targets) else None
    n_show = len(fc.table)
    if last_target is not None and pd.notna(last_target):
        n_show = max(n_show, int(fc.path_index.get_indexer([_month_end(last_target)])[0]) + 1)
    idx = fc.path_index[:n_show]
    t = _summarize(fc.paths[:, :n_show], idx)
    if fc.table is not None and len(fc.table) and "mean" in fc.table:
        t.loc[: len(fc.table) - 1, "mean"] = fc.table["mean"].to_numpy()[: min(len(fc.table), n_show)]
    x = pd.DatetimeIndex([h.index[-1]]).append(idx)

    def joined(col):
        return np.concatenate([[h.iloc[-1]], t[col].to_numpy()])

    ax.fill_between(x, joined("lo95"), joined("hi95"), color="#9ecae1", alpha=0.55, lw=0, label=L["i95"])
    ax.fill_between(x, joined("lo80"), joined("hi80"), color="#4292c6", alpha=0.6, lw=0, label=L["i80"])
    ax.plot(x, joined("mean"), color="#08306b", lw=1.8, ls="--", label=L["mean"])
    ax.plot(h.index, h.to_numpy(), color="black", lw=2, marker="o", ms=3, label=L["history"])
    if fc.as_of is not None:
        ax.axvline(fc.as_of, color="grey", lw=1, ls=":")
        ax.annotate(
            L["as_of"].format(d=fc.as_of.date()),
            (fc.as_of, 0.98),
            xycoords=("data", "axes fraction"),
            ha="right",
            va="top",
            fontsize=8,
            color="grey",
            rotation=90,
        )
    for _, r in fc.targets.iterrows():
        ax.plot([r["target_date"]], [r["target"]], marker="*", ms=14, color="#d62728", zorder=5)
        ax.axhline(r["target"], color="#d62728", lw=0.6, ls=":", alpha=0.6)
        # a target already reached or past its date is a fact, never a probability
        status = r.get("status")
        key = status if status in ("reached", "missed") else ("target" if pd.notna(r["prob_reach"]) else None)
        label = (
            L[key].format(n=int(r["target"]), d=pd.Timestamp(r["target_date"]).date(), p=r["prob_reach"])
            if key
            else f"{int(r['target']):,}"
        )
        ax.annotate(
            label,
            (r["target_date"], r["target"]),
            xytext=(-8, 8),
            textcoords="offset points",
            ha="right",
            fontsize=9,
            color="#d62728",
        )
    ax.set_ylim(bottom=0)
    ax.set_ylabel(L["ylabel"] if fc.unit == "stations" else f"{L['ylabel']} [{fc.unit}]")
    ax.set_xlabel(L["xlabel"])
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    name = (fc.name_zh or fc.name) if lang == "zh" else fc.name
    ax.set_title(title or L["title"].format(name=name or "", end=idx[-1].date()))
    src = (fc.source_zh if lang == "zh" and fc.source_zh else fc.source) or fc.name
    fig.text(
        0.01,
        -0.02,
        L["source"].format(src=src, model=fc.model, n=fc.paths.shape[0]),
        fontsize=7.5,
        color="#444",
        ha="left",
        va="top",
        wrap=True,
    )
    return fig


def plot_districts(cf: CityForecast, lang: str = "en"):
    """Small multiples: each district's history, reconciled forecast with 80% band and its share of
    each target."""
    import matplotlib.pyplot as plt

    lang = figure_lang(lang)
    L = _LABELS[lang]
    n = max(1, len(cf.districts))
    cols = 2 if n > 1 else 1
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(10, 3.4 * rows), squeeze=False, sharex=True)
    for ax, (d, f) in zip(axes.ravel(), cf.districts.items()):
        t = f.table
        x = pd.DatetimeIndex([f.history.index[-1]]).append(pd.DatetimeIndex(t["date"]))
        last = f.history.iloc[-1]
        ax.fill_between(
            x, np.r_[last, t["lo80"]], np.r_[last, t["hi80"]], color="#4292c6", alpha=0.5, lw=0, label=L["i80"]
        )
        ax.plot(x, np.r_[last, t["mean"]], color="#08306b", ls="--", label=L["mean"])
        ax.plot(f.history.index, f.history.to_numpy(), color="black", marker="o", ms=2, label=L["history"])
        sub = cf.district_table[cf.district_table["district"] == d] if len(cf.district_table) else []
        for _, r in sub.iterrows() if len(sub) else []:
            if r["target_date"] <= x[-1]:
                ax.plot([r["target_date"]], [r["district_target"]], marker="*", ms=11, color="#d62728")
        ax.set_title(d, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(cf.districts) :]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.suptitle(L["district_title"].format(name=(cf.city.name_zh or cf.city.name) if lang == "zh" else cf.city.name))
    fig.supylabel(L["ylabel"], fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Stage entry
# --------------------------------------------------------------------------------------------


def forecast_stage(
    stations: pd.DataFrame,
    city,
    as_of: pd.Timestamp,
    out: str | Path,
    fig_lang: str | None = "en",
    stamp: dict | None = None,
    horizon: int | None = None,
    district: str | None = None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    extract_date=None,
) -> list[Path]:
    """The forecast stage, as the command line, the notebooks and the report run it: forecast the
    cleaned `stations` of a resolved `city` as of a parsed `as_of`, and write forecast.csv, model.json
    (targets with their expected count and verdict, backtest, notes, district table), levers.csv (what
    freeing each blocker's sites is worth, `rank_levers`, with the records' `extract_date` as the task
    force counts it) and, with `fig_lang`, forecast.png and districts.png into `out`, each file
    atomically and a stage.json (with `stamp`) last. Returns the files written."""
    from analysis.catalog import publish_stage, stamp_date

    cf = forecast_stations(stations, as_of, city=city, horizon=horizon, district=district, n_paths=n_paths, seed=seed)
    extra = {"notes": list(cf.notes)}
    # the district split is the forecast's alone (forecast_stations); the levers are ranked on its paths
    levers = rank_levers(cf, stations, city, extract_date=extract_date, seed=seed)
    if len(cf.district_table):
        extra["districts"] = json_records(cf.district_table)

    def write(tmp: Path) -> None:
        write_forecast(cf.city, tmp, horizon=horizon, lang=fig_lang or "en", figure=fig_lang is not None, extra=extra)
        write_levers(levers, tmp)
        if fig_lang is not None and cf.districts:
            import matplotlib.pyplot as plt

            fig = plot_districts(cf, lang=fig_lang)
            fig.savefig(tmp / "districts.png", dpi=120, bbox_inches="tight", metadata={"Software": None})
            plt.close(fig)

    return publish_stage(
        "forecast",
        out,
        write,
        {**(stamp or {}), "as_of": stamp_date(as_of), "fig_lang": fig_lang, "model": cf.city.model},
    )
