"""Tests of analysis.forecast: series in, model choice, calibration on simulated processes,
targets, districts, files out, figures."""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import forecast as F
from analysis.cli import main
from analysis.errors import BadInputError, UsageError

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "data" / "raw" / "public"

warnings.filterwarnings("ignore", module="statsmodels")


def _stations(rows):
    df = pd.DataFrame(rows, columns=["station_id", "district", "on_air_date"])
    df["on_air_date"] = pd.to_datetime(df["on_air_date"])
    df["is_on_air"] = df["on_air_date"].notna()
    return df


def _cum(adds, start="2019-12-31", first=0.0):
    idx = pd.date_range(start, periods=len(adds) + 1, freq="ME")
    return pd.Series(np.r_[first, first + np.cumsum(adds)], index=idx)


def _csv(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- monthly series from stations


def test_monthly_on_air_counts_only_stations_on_air_by_as_of():
    st = _stations(
        [
            ("a", "克拉玛依区", "2019-12-20"),
            ("b", "独山子区", "2020-01-31"),
            ("c", "克拉玛依区", "2020-02-10"),
            ("d", "克拉玛依区", "2020-03-25"),  # after as_of
            ("e", "白碱滩区", None),  # planned
        ]
    )
    s = F.monthly_on_air(st, "2020-03-22")
    assert list(s.index.strftime("%Y-%m-%d")) == ["2019-12-31", "2020-01-31", "2020-02-29"]
    assert s.tolist() == [1, 2, 3]
    d = F.monthly_on_air(st, "2020-03-22", by_district=True, districts=["克拉玛依区", "独山子区", "白碱滩区"])
    assert d.loc["2020-02-29"].tolist() == [2, 1, 0]
    assert F.count_on_air(st, "2020-03-22") == 3
    assert F.count_on_air(st, "2020-03-31") == 4


# ---------------------------------------------------------------- series files: the failure paths


@pytest.mark.parametrize(
    "text, problem, row",
    [
        ("day,value\n2020-01-31,1\n", "missing column 'date'", None),
        ("date,value\n2020-01-31,1\n2020-02-30,2\n2020-03-31,3\n", "does not parse", 3),
        ("date,value\n2020-01-31,1\n05/03/2020,2\n2020-03-31,3\n", "day-first or month-first", 3),
        ("date,value\n2020-01-31,1\n2020-02-29,2\n2020-02-29,3\n2020-03-31,4\n", "given twice", 4),
        ("date,value\n2020-01-31,5\n2020-02-29,7\n2020-03-31,3\n", "falls from 7 on 2020-02-29 to 3", 4),
        ("date,value\n2020-01-31,5\n2020-02-29,\n2020-03-31,6\n", "gap: no value", 3),
        ("date,value\n2019-01-31,5\n2020-03-31,7\n2020-04-30,8\n", "gap of 14 months", 3),
        ("date,value\n2020-01-31,5\n2020-02-29,abc\n2020-03-31,6\n", "not a number", 3),
    ],
)
def test_read_series_rejects_bad_files_naming_the_row(tmp_path, text, problem, row):
    p = _csv(tmp_path, text)
    with pytest.raises(BadInputError) as err:
        F.read_series(p)
    assert problem in err.value.problem
    assert err.value.row == row
    assert str(p) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "dates, want",
    [
        (["2020-12", "2021-06", "2021-12"], ["2020-12-31", "2021-06-30", "2021-12-31"]),  # a month: its end
        (["2020年12月", "2021/6", "2021.12"], ["2020-12-31", "2021-06-30", "2021-12-31"]),
        (["2021Q1", "2021-Q2", "2021 Q3"], ["2021-03-31", "2021-06-30", "2021-09-30"]),  # a quarter: its end
        (["2019", "2020年", "2021"], ["2019-12-31", "2020-12-31", "2021-12-31"]),  # a year: its end
        (["2020年12月31日", "2021年6月30日", "2021-12-31"], ["2020-12-31", "2021-06-30", "2021-12-31"]),
        (["Dec 2020", "6/2021", "2021年底"], ["2020-12-31", "2021-06-30", "2021-12-31"]),
        (["2019年末", "17/03/2020", "December 2020"], ["2019-12-31", "2020-03-17", "2020-12-31"]),
    ],
)
def test_a_count_published_for_a_period_stands_at_its_end(tmp_path, dates, want):
    """A count published for December is the count at the end of December: read as December 1st, it sat a
    month early on the month-end axis (448 published for 2021-12 was forecast as 467 for 2021-12-31)."""
    p = _csv(tmp_path, "date,value\n" + "".join(f"{d},{10 * (i + 1)}\n" for i, d in enumerate(dates)))
    assert [d.strftime("%Y-%m-%d") for d in F.read_series(p)["date"]] == want


def test_yearly_counts_across_a_leap_year_are_not_a_gap(tmp_path):
    """Year ends around 29 February 2020 or 2024 are 12 months apart (366 days / 30.44 was 12.02 > 12: refused)."""
    text = "date,value\n2019-12-31,13\n2020-12-31,71.8\n2021-12-31,142.5\n2023-12-31,337.7\n2024-12-31,425.1\n"
    with pytest.raises(BadInputError, match="gap of 24 months"):
        F.read_series(_csv(tmp_path, text))
    text = text.replace("2023-12-31,337.7\n", "2022-12-31,231.2\n2023-12-31,337.7\n")
    assert len(F.read_series(_csv(tmp_path, text))) == 6


def test_cli_bad_series_is_one_line_and_exit_1(tmp_path, capsys):
    p = _csv(tmp_path, "date,value\n2020-01-31,5\n2020-02-29,7\n2020-03-31,3\n")
    assert main(["forecast", "--series", str(p), "--horizon", "3", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "row 4" in err and "falls" in err


_FIVE_MONTHS = "date,value\n2020-01-31,1200\n2020-02-29,1300\n2020-03-31,1500\n2020-04-30,1700\n2020-05-31,1900\n"


def test_cli_targets_whose_date_passed_print_their_outcome_not_a_pace(tmp_path, capsys):
    """A passed target has no pace needed (NaN in the table, null in model.json): the line says what
    happened by its date, judged on the count then, not 'pace needed nan' or a traceback."""
    p = _csv(tmp_path, _FIVE_MONTHS)
    targets = ["2020-03-31=1400", "2020-04-30=1800", "2020-12-31=2500"]
    argv = ["forecast", "--series", str(p), "--horizon", "3", "--paths", "50", "--out", str(tmp_path / "o")]
    assert main([*argv, *(x for t in targets for x in ("--target", t))]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  target")]
    assert lines[0] == "  target 1400 by 2020-03-31: reached (target date passed: 1,500 on air against 1,400)"
    # 1,900 on air by the series' end, but 1,700 on the target's date
    assert lines[1] == "  target 1800 by 2020-04-30: missed (target date passed: 1,700 on air against 1,800)"
    assert "P(reach)" in lines[2] and "pace needed" in lines[2] and "n/a (6 m)" in lines[2]
    assert not any("nan" in x or "None" in x for x in lines)


def test_a_target_before_the_series_starts_is_one_line_naming_it_and_the_first_month(tmp_path, capsys):
    p = _csv(tmp_path, _FIVE_MONTHS)
    argv = ["forecast", "--series", str(p), "--target", "2019-06-30=100", "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "target 100 by 2019-06-30" in err and "first month (2020-01)" in err
    # a target inside the first month is judged on that month's count
    fc = F.fit_forecast(F.to_month_ends(F.read_series(p))[0], horizon=2, targets=[("2020-01-15", 1000)], n_paths=20)
    assert fc.targets.loc[0, "mean"] == 1200


def test_irregular_dates_are_interpolated_to_month_ends(tmp_path):
    p = _csv(tmp_path, "date,value\n2020-03-31,10\n2020-06-30,40\n2020-07-15,50\n2020-09-30,80\n")
    obs = F.read_series(p)
    monthly, observed = F.to_month_ends(obs)
    assert monthly.index[0] == pd.Timestamp("2020-03-31") and monthly.index[-1] == pd.Timestamp("2020-09-30")
    assert monthly.loc["2020-04-30"] == pytest.approx(10 + 30 * 30 / 91)
    assert observed.sum() == 3  # 2020-07-15 is not a month end


# ---------------------------------------------------------------- short series fall back


def test_short_series_falls_back_to_drift_and_says_so():
    fc = F.fit_forecast(_cum([5, 7, 6, 8, 4]), horizon=6, targets=[("2020-12-31", 60)], n_paths=500)
    assert fc.model == "drift"
    assert any("too little history" in n and "fell back to drift" in n for n in fc.notes)
    assert set(fc.backtest.columns) >= {"model", "mase_h3", "score"}
    assert len(fc.table) == 6 and np.isfinite(fc.targets["prob_reach"]).all()


def test_two_values_are_not_a_forecast():
    with pytest.raises(BadInputError, match="at least 3"):
        F.fit_forecast(_cum([5]), horizon=3)


# ---------------------------------------------------------------- consistency


def test_paths_never_fall_and_respect_the_count_known_on_as_of():
    rng = np.random.default_rng(0)
    hist = _cum(np.clip(rng.normal(3, 4, 30), 0, None))  # often zero additions: clipping matters
    fc = F.fit_forecast(hist, horizon=12, as_of="2022-06-20", count_as_of=hist.iloc[-1] + 5, n_paths=400, max_origins=4)
    assert (np.diff(fc.paths, axis=1) >= 0).all()
    assert (fc.paths >= hist.iloc[-1] + 5).all()
    t = fc.table
    assert (np.diff(t["mean"]) >= 0).all()
    assert (
        (t["lo95"] <= t["lo80"]) & (t["lo80"] <= t["mean"]) & (t["mean"] <= t["hi80"]) & (t["hi80"] <= t["hi95"])
    ).all()
    # additions and cumulative agree: the table's mean is the mean of the same paths
    assert np.allclose(t["mean"], fc.paths[:, :12].mean(axis=0))


def test_backtest_always_lists_naive_and_drift():
    rng = np.random.default_rng(1)
    fc = F.fit_forecast(_cum(rng.normal(10, 2, 40)), horizon=3, n_paths=200, max_origins=4)
    assert {"naive", "drift"} <= set(fc.backtest["model"])
    assert fc.backtest["score"].notna().all()
    # 4 origins do not test a season in every month: the shrunk season stays, and says why
    assert fc.model == "season_growth" and any("origins in every month" in n for n in fc.notes)
    full = F.fit_forecast(_cum(rng.normal(10, 2, 40)), horizon=3, n_paths=200, models=("naive", "drift", "arima"))
    single = full.backtest[~full.backtest["model"].str.contains("+", regex=False)]
    assert full.model.split("+")[0] == F.choose_model(single)  # alone, or combined with its closest rival


# ---------------------------------------------------------------- calibration on known processes


def _additions(kind, rng, index, e0=0.0, paths=1):
    """Monthly additions (paths x months, clipped at zero: a count never falls) of a known process,
    and its AR errors. 'rw': random walk with drift on the count, additions N(12, 4^2).
    'ar1_winter': additions 12 * season + e, e AR(1) (phi 0.5, sd 3) from `e0`, with a winter
    slowdown (December to February at 30% of the pace, the other months at 115%)."""
    n = len(index)
    if kind == "rw":
        return np.clip(rng.normal(12, 4, (paths, n)), 0, None), np.zeros((paths, n))
    e = np.empty((paths, n))
    prev = np.full(paths, float(e0))
    for i in range(n):
        prev = 0.5 * prev + rng.normal(0, 3, paths)
        e[:, i] = prev
    season = np.where(index.month.isin([12, 1, 2]), 0.3, 1.15)
    return np.clip(12 * season + e, 0, None), e


#: Series per process in the calibration test (with the production backtest: MAX_ORIGINS). A
#: series' coverage (the share of its 12 held-back months inside the band) has an sd of about 0.28
#: across series (its months are correlated), so 2 x 20 series give the pooled coverage a standard
#: error of about 0.045: the 70-90% band is only about 2.2 standard errors either side of 80%, as
#: many as fit the suite's time budget. Runs of 100 series per process (outside the suite) gave 80%
#: coverage 0.81 (random walk with drift) and 0.78 (AR(1) with winters), 95% coverage 0.95 and 0.93.
CAL_SERIES = 20
#: Targets 12 months on: the drift forecast (last count + 12 x mean addition) plus these multiples
#: of sqrt(12) x the sd of the additions. They use only what the forecaster sees, so a calibrated
#: forecast's mean P(reach) equals the mean true P(reach).
CAL_OFFSETS = (-1.5, 0.0, 1.5)


@pytest.fixture(scope="module")
def calibration_runs():
    """For CAL_SERIES series of each process: fit 36 months of additions, hold back 12; the
    forecast's intervals against the held-back months, and its P(reach) against the truth (the
    process continued 4000 times from its state at the end of the fitted months)."""
    months = pd.date_range("2020-01-31", periods=48, freq="ME")
    runs = []
    for kind in ("rw", "ar1_winter"):
        for k in range(CAL_SERIES):
            rng = np.random.default_rng([2021, k, kind == "rw"])
            adds, e = _additions(kind, rng, months)
            cum = _cum(adds[0])
            fit, held = cum.iloc[:37], cum.iloc[37:]
            future, _ = _additions(kind, rng, months[36:], e0=e[0, 35], paths=4000)
            truth = fit.iloc[-1] + future.sum(axis=1)
            a = adds[0, :36]
            targets = [
                round(float(fit.iloc[-1] + 12 * a.mean() + o * np.sqrt(12) * a.std(ddof=1))) for o in CAL_OFFSETS
            ]
            fc = F.fit_forecast(fit, horizon=12, n_paths=500, seed=k, targets=[(held.index[-1], t) for t in targets])
            t = fc.table.set_index("date")
            runs.append(
                {
                    "kind": kind,
                    "model": fc.model,
                    "in80": float(((held >= t["lo80"]) & (held <= t["hi80"])).mean()),
                    "in95": float(((held >= t["lo95"]) & (held <= t["hi95"])).mean()),
                    "p_pred": fc.targets["prob_reach"].to_numpy(),
                    "p_true": np.array([(truth >= x).mean() for x in targets]),
                    "reached": held.iloc[-1] >= np.array(targets),
                }
            )
    return pd.DataFrame(runs)


@pytest.mark.slow
def test_chosen_models_80pct_intervals_cover_70_to_90pct_of_held_back_points(calibration_runs):
    """Whatever model the backtest chooses, its 80% intervals cover 70-90% of the held-back months
    (and its 95% intervals 88-99%), pooled over both processes."""
    r = calibration_runs
    cov80, cov95 = r["in80"].mean(), r["in95"].mean()
    se80 = r["in80"].std(ddof=1) / np.sqrt(len(r))
    assert se80 < 0.05, se80  # the band below is wide enough for the number of series
    assert 0.70 <= cov80 <= 0.90, (cov80, r.groupby("kind")[["in80", "in95"]].mean())
    assert 0.88 <= cov95 <= 0.99, (cov95, r.groupby("kind")[["in80", "in95"]].mean())
    # neither process alone is badly off
    assert r.groupby("kind")["in80"].mean().between(0.65, 0.95).all()


@pytest.mark.slow
def test_probability_of_reaching_a_target_matches_the_simulations_truth(calibration_runs):
    """For targets below, at and above the drift forecast 12 months on, the mean predicted
    probability of reaching them is within a few points of the mean true one; and the Brier score
    against what happened is close to that of the truth itself."""
    pred = np.vstack(calibration_runs["p_pred"])
    true = np.vstack(calibration_runs["p_true"])
    reached = np.vstack(calibration_runs["reached"]).astype(float)
    # (the low target's gap was 0.077 while a clip at zero raised the ARIMA and UCM paths above their own
    # means, 0.083 since (predicted 0.819 -> 0.813 against a true 0.896): the bands are too wide below on
    # these processes, a matter of the calibrated spread, not of the mean)
    for j, o in enumerate(CAL_OFFSETS):
        assert abs(pred[:, j].mean() - true[:, j].mean()) < 0.09, (o, pred.mean(0), true.mean(0), reached.mean(0))
    assert np.mean(np.abs(pred - true)) < 0.15
    assert np.mean((pred - reached) ** 2) < np.mean((true - reached) ** 2) + 0.04


def test_a_complex_model_is_chosen_only_when_clearly_better():
    table = pd.DataFrame(
        {
            "model": ["arima", "drift", "naive", "ucm_seasonal"],
            "mase_h3": [0.5, 0.6, 3.0, 0.4],
            "mase_h12": [1.3, 1.4, 7.0, 1.0],
            "score": [0.90, 1.00, 5.0, 0.70],
        }
    )
    assert F.choose_model(table) == "ucm_seasonal"  # 30% better than drift, at every horizon
    assert F.choose_model(table.iloc[:3]) == "drift"  # arima only 10% better
    t = table.assign(score=[0.8, 1.0, 5.0, 0.75])
    assert F.choose_model(t) == "arima"  # seasonal not 15% better than arima
    lucky = table.assign(mase_h3=[0.5, 0.6, 3.0, 0.7])  # better on average, worse at 3 months
    assert F.choose_model(lucky.iloc[[1, 2, 3]]) == "drift"
    assert F.choose_model(table.assign(score=np.nan)) is None


def test_intervals_widen_with_the_horizon_when_backtest_errors_grow():
    z = {h: list(np.random.default_rng(h).normal(0, np.sqrt(1 + 0.5 * h), 12)) for h in range(1, 13)}
    k = F.widening_factors(F.fit_widening(z), 24)
    assert k[0] >= 1 and k[11] > k[0] and k[23] >= k[11] and k.max() <= F.MAX_WIDENING
    calibrated = {h: list(np.random.default_rng(h).normal(0, 1, 12)) for h in range(1, 13)}
    assert F.widening_factors(F.fit_widening(calibrated), 12).max() < 1.3
    assert (F.widening_factors(None, 5) == 1).all()
    # a season model's spread may also be narrowed, never below MIN_SEASON_SCALE
    narrow = {h: list(np.random.default_rng(h).normal(0, 0.4, 12)) for h in range(1, 13)}
    k = F.widening_factors(F.fit_widening(narrow), 12, lower=F.MIN_SEASON_SCALE)
    assert k.max() < 1 and k.min() >= F.MIN_SEASON_SCALE


# ---------------------------------------------------------------- city, districts, targets


def _karamay_like():
    rng = np.random.default_rng(7)
    months = pd.date_range("2019-12-31", "2021-03-31", freq="ME")
    rows, k = [], 0
    names = ["克拉玛依区", "独山子区", "白碱滩区", "乌尔禾区"]
    for m in months:
        n = 4 if m.month in (12, 1, 2) else 22
        for _ in range(n):
            rows.append(
                (
                    f"s{k}",
                    names[rng.choice(4, p=[0.55, 0.2, 0.15, 0.1])],
                    m - pd.Timedelta(days=int(rng.integers(0, 27))),
                )
            )
            k += 1
    rows += [(f"p{j}", names[1], None) for j in range(10)]
    return _stations(rows)


def test_city_forecast_has_targets_pace_and_reconciled_districts():
    st = _karamay_like()
    cf = F.forecast_stations(st, "2021-03-22", city="karamay", n_paths=500)
    t = cf.targets
    assert list(t["target"]) == [446, 648]
    assert list(t["target_date"].dt.strftime("%Y-%m-%d")) == ["2021-12-31", "2025-12-31"]
    assert t["prob_reach"].between(0, 1).all() and t["pace_needed_per_month"].gt(0).all()
    assert t["count_as_of"].iloc[0] == F.count_on_air(st, "2021-03-22")
    # pace needed = what is left over the months left
    r = t.iloc[0]
    assert r["pace_needed_per_month"] == pytest.approx((446 - r["count_as_of"]) / r["months_left"])
    # districts add up to the city at every month
    total = sum(f.table["mean"].to_numpy() for f in cf.districts.values())
    assert np.allclose(total, cf.table["mean"].to_numpy())
    dt_ = cf.district_table
    assert set(dt_["district"]) == {"克拉玛依区", "独山子区", "白碱滩区", "乌尔禾区"}
    assert dt_.groupby("target_date")["share_pct"].sum().round(6).eq(100).all()
    assert dt_["share_source"].str.contains("no target_share").all()
    assert cf.series.loc["2021-02-28", "city"] == cf.series.loc["2021-02-28"].iloc[1:].sum()


# ---------------------------------------------------------------- files out, determinism


def test_cli_series_writes_the_same_bytes_twice(tmp_path, capsys):
    p = _csv(
        tmp_path,
        "date,value\n"
        + "\n".join(f"{d.date()},{v:.1f}" for d, v in _cum(np.random.default_rng(3).normal(8, 2, 30)).items())
        + "\n",
    )
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert (
            main(
                [
                    "forecast",
                    "--series",
                    str(p),
                    "--horizon",
                    "6",
                    "--out",
                    str(out),
                    "--paths",
                    "300",
                    "--target",
                    "2022-12-31=300",
                ]
            )
            == 0
        )
        outs.append(out)
    for name in ("forecast.csv", "model.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()
    df = pd.read_csv(outs[0] / "forecast.csv")
    assert list(df.columns) == ["date", "mean", "lo80", "hi80", "lo95", "hi95"]
    assert len(df) == 6 and df["date"].iloc[0] == "2022-07-31"
    assert "P(reach)" in capsys.readouterr().out


# ---------------------------------------------------------------- figures


def test_fan_chart_in_both_languages():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fc = F.fit_forecast(
        _cum(np.full(14, 10.0) + np.arange(14) % 3), horizon=12, n_paths=200, targets=[("2021-06-30", 200)], name="Test"
    )
    for lang in ("en", "zh"):
        fig = fc.plot(lang=lang)
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_ylabel()
        assert any("200" in t.get_text() for t in ax.texts)  # the target is labelled on the chart
        plt.close(fig)
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    font = F.set_cjk_font(warn=False)
    if any("CJK" in name for name in installed):  # Debian's fonts-noto-cjk, as .ci/run installs it
        assert font is not None and "CJK" in font
    else:
        assert font is None  # and the figures fall back to English labels


# ---------------------------------------------------------------- real public series


def test_public_files_match_their_checksums():
    readme = (PUBLIC / "README.md").read_text(encoding="utf-8")
    for line in readme.splitlines():
        m = re.match(r"\| (\S+\.csv) \|.*\| `([0-9a-f]{64})` \|$", line)
        if m:
            assert hashlib.sha256((PUBLIC / m.group(1)).read_bytes()).hexdigest() == m.group(2)


def test_on_the_national_series_no_season_is_learned_from_interpolated_month_ends():
    from analysis.forecast import models as M

    fc = F.forecast_series_file(PUBLIC / "china_5g_base_stations.csv", horizon=12, n_paths=300)
    bt = fc.backtest.set_index("model")
    assert not set(bt.index) & {*M.SEASON_PACE_MODELS, *M.SEASONAL_MODELS, *M.REFERENCE_MODELS}
    assert any("no season model tried" in n for n in fc.notes)
    assert bt.loc[fc.model, "score"] <= (1 + M.SELECTION_MARGIN) * bt["score"].min()  # never a clearly beaten one


def test_season_evidence_counts_additions_between_published_month_ends():
    from analysis.forecast.models import count_season_evidence

    assert count_season_evidence(None) is None
    assert count_season_evidence(pd.Series([True, False, True, True, True, False])) == 2
    adds = np.tile([2.0, 2, 2, 2, 30, 30, 30, 30, 30, 30, 2, 2], 2)
    cum = _cum(adds)
    sparse = pd.Series(np.arange(len(cum)) % 3 == 0, index=cum.index)  # a published point a quarter
    fc = F.fit_forecast(cum, horizon=6, n_paths=100, observed=sparse)
    assert not fc.model.startswith("season") and any("no season model tried" in n for n in fc.notes)
    fc = F.fit_forecast(cum, horizon=6, n_paths=100, observed=pd.Series(True, index=cum.index))
    assert fc.model.startswith("season")


def test_a_combination_averages_its_models_and_mixes_their_paths():
    from analysis.forecast import models as M

    cum = _cum(np.arange(20, dtype=float) % 5 + 10)
    combo = M._fit_candidate("drift+naive", cum)
    drift, naive = M._fit_candidate("drift", cum), M._fit_candidate("naive", cum)
    assert np.allclose(combo.mean(4), (drift.mean(4) + naive.mean(4)) / 2)
    paths = combo.simulate(4, 101, np.random.default_rng(0))
    assert paths.shape == (101, 4)
    assert abs(paths[:51].mean() - drift.mu) < 1.0 and np.array_equal(paths[51:], np.zeros((50, 4)))


def test_the_closest_rival_is_combined_only_within_the_margin():
    from analysis.forecast import models as M

    cum = _cum(np.arange(40, dtype=float) % 7 + 20)
    table, _, fits = M._run_backtest(cum, ("naive", "drift", "arima"), M.BACKTEST_HORIZONS, M.MIN_TRAIN, 12)
    scores = table.set_index("model")["score"]
    got = M.combine_rival(cum, table, fits, "drift", margin=10.0)
    name, row, combo = got
    rival = scores.drop("drift").idxmin()
    assert name == f"drift+{rival}" and set(combo) == set(fits["drift"]) and np.isfinite(row["score"])
    assert M.combine_rival(cum, table, fits, "drift", margin=-1.0) is None  # no rival is ever that close


def test_drift_paths_keep_the_mean_addition_and_never_subtract():
    from analysis.forecast import models as M

    cum = _cum(np.tile([0.0, 10.0], 10))  # noisy: a clipped normal raised the mean by ~8%
    fit = M._fit_candidate("drift", cum)
    adds = fit.simulate(12, 4000, np.random.default_rng(1))
    assert adds.min() >= 0
    assert abs(adds.mean() - fit.mu) < 0.03 * fit.mu


# ---------------------------------------------------------------- construction season, pipeline, verdict


def _seasonal_cum(factors, years=2, pace=30.0, start="2019-12-31", noise=0.0, seed=0):
    idx = pd.date_range(pd.Timestamp(start) + pd.offsets.MonthEnd(1), periods=12 * years, freq="ME")
    rng = np.random.default_rng(seed)
    adds = np.clip(pace * np.asarray(factors)[idx.month - 1] + rng.normal(0, noise, len(idx)), 0, None)
    return pd.Series(np.r_[0.0, np.cumsum(adds)], index=idx.insert(0, pd.Timestamp(start)))


WINTER = np.array([0.1, 0.05, 0.4, 1.0, 1.4, 1.5, 1.5, 1.5, 1.4, 1.2, 0.8, 0.3])
WINTER = WINTER * 12 / WINTER.sum()


def test_a_season_is_learned_from_one_year_and_noise_is_shrunk_to_flat():
    from analysis.season import estimate_season

    clear = estimate_season(_seasonal_cum(WINTER, years=1).diff().dropna())
    assert np.allclose(clear.factors, WINTER, atol=0.15), clear.factors
    rng = np.random.default_rng(1)
    flat = _cum(rng.poisson(20, 14).astype(float))
    noisy = estimate_season(flat.diff().dropna())
    assert np.abs(noisy.factors - 1).max() < np.abs(flat.diff().dropna() / 20 - 1).max()
    assert noisy.shrink_weight.mean() < 0.5
    short = estimate_season(_cum(np.full(8, 10.0)).diff().dropna())
    assert np.allclose(short.factors, 1) and "flat" in short.basis


def test_declared_season_is_read_and_bad_declarations_are_typed(tmp_path):
    from analysis.errors import ConfigError
    from analysis.season import read_declared_season

    f = read_declared_season({"forecast": {"stop_months": [12, 1, 2], "stop_factor": 0.2}})
    assert f.mean() == pytest.approx(1) and f[0] < 0.3 and f[5] > 1
    assert read_declared_season({}) is None
    for bad in (
        {"stop_months": [13]},
        {"stop_months": [1], "stop_factor": 2},
        {"season_factors": [1, 2]},
        {"stop_months": list(range(1, 13))},
    ):
        with pytest.raises(ConfigError):
            read_declared_season({"forecast": bad}, tmp_path / "city.toml")


def test_the_winter_lull_is_not_carried_into_the_building_season():
    """From the end of February, a forecast of a buildout with a winter stop runs at the summer
    pace, not at the lull's (the fault of the issue: 280 expected where 448 came)."""
    cum = _seasonal_cum(WINTER, years=2, noise=2.0).loc[:"2021-02-28"]
    fc = F.fit_forecast(cum, horizon=10, n_paths=400, targets=[("2021-12-31", 1)])
    truth = cum.iloc[-1] + 30 * WINTER[2:12].sum()
    assert fc.model.startswith("season")
    assert abs(fc.targets["mean"].iloc[0] - truth) / truth < 0.10


def test_pipeline_holds_the_lower_edge_and_is_not_counted_twice():
    rng = np.random.default_rng(0)
    top = 100 + np.cumsum(rng.poisson(5, (500, 6)), axis=1).astype(float)
    committed = np.tile(np.array([3, 6, 9, 12, 14, 15], float), (500, 1))
    out = F.combine_with_pipeline(top, 100.0, committed)
    assert (out >= 100 + committed).all() and (np.diff(out, axis=1) >= 0).all()
    # where the pace alone delivers more than the committed sites, they add nothing on top
    assert out[:, -1].mean() == pytest.approx(top[:, -1].mean(), rel=0.02)


def test_a_passed_target_says_reached_or_missed_never_a_probability():
    from analysis.verdict import classify_target

    assert classify_target(0.9, 446, "2021-12-31", "2022-01-10", 448) == "reached"
    assert classify_target(0.9, 446, "2021-12-31", "2022-01-10", 440) == "missed"
    assert classify_target(0.85, 446, "2021-12-31", "2021-06-30", 300) == "on_track"
    assert classify_target(0.5, 446, "2021-12-31", "2021-06-30", 300) == "at_risk"
    assert classify_target(0.1, 446, "2021-12-31", "2021-06-30", 300) == "off_track"
    cum = _cum(np.full(20, 10.0))
    fc = F.fit_forecast(
        cum,
        horizon=6,
        as_of=cum.index[-1],
        n_paths=200,
        targets=[(cum.index[-3], 150), (cum.index[-1] + pd.offsets.MonthEnd(3), 500)],
    )
    past, future = fc.targets.iloc[0], fc.targets.iloc[1]
    assert past["status"] == "reached" and np.isnan(past["prob_reach"]) and "reached" in past["verdict_en"]
    assert "%" not in past["verdict_en"] and "已达成" in past["verdict_zh"]
    assert future["status"] == "off_track" and "P = <1%" in future["verdict_en"]
    assert future["expected_on_air"] == pytest.approx(F.expected_on_air(fc, future["target_date"]))


def test_requirement_names_sites_and_month_from_the_median_lead_time():
    from analysis.verdict import describe_requirement

    need, by, zh, en = describe_requirement("off_track", 446, "2021-12-31", "2021-03-22", 236, 135, 220)
    assert need == 75 and by == pd.Timestamp("2021-05-31")
    assert en.startswith("75 more sites must enter the pipeline by 2021-05, given the 220-day median")
    assert "75" in zh and "2021-05" in zh


@pytest.fixture(scope="module")
def karamay_stations():
    from analysis.clean import clean_stations
    from analysis.config import load_city

    city = load_city("karamay")
    return clean_stations(sorted(Path(city.stations_dir).iterdir()), "karamay", as_of="2022-01-10").stations


def test_bundled_city_year_end_from_every_month_end_of_2021(karamay_stations):
    """Issue 13's bar: from the month ends of January to November 2021, the 80% interval for
    2021-12-31 holds the recorded count at >= 9 of 11 origins and the mean is within 10% at every one."""
    truth = F.count_on_air(karamay_stations, "2021-12-31")
    hits, errors = 0, []
    for month in range(1, 12):
        origin = pd.Timestamp(2021, month, 1) + pd.offsets.MonthEnd(0)
        cf = F.forecast_stations(karamay_stations, origin, city="karamay", n_paths=300)
        t = cf.targets[cf.targets["target_date"] == pd.Timestamp("2021-12-31")].iloc[0]
        hits += int(t["lo80"] <= truth <= t["hi80"])
        errors.append(abs(t["mean"] - truth) / truth)
    assert truth == 448
    assert hits >= 9, (hits, errors)
    assert max(errors) <= 0.10, errors


def test_one_district_split_and_levers_on_the_bundled_city(karamay_stations, tmp_path):
    from analysis import taskforce as T

    cf = F.forecast_stations(karamay_stations, "2021-09-30", city="karamay", n_paths=400)
    split = T.split_district_targets(karamay_stations, "2021-09-30", "karamay").set_index("district")
    year = cf.district_table[cf.district_table["target_date"] == pd.Timestamp("2021-12-31")].set_index("district")
    for d, row in year.iterrows():
        assert row["district_target"] == split.loc[d, "target_on_air"]
    levers = F.rank_levers(cf, karamay_stations, "karamay")
    assert list(levers.columns) == F.LEVER_COLUMNS and len(levers)
    assert (levers["prob_rise"] >= -0.02).all() and (levers["year_end_rise"] >= -1e-9).all()
    assert levers["sites_on_list"].sum() == len(
        T.list_stuck_sites(karamay_stations, "2021-09-30", T.stuck_days_of("karamay"))
    )
    path = F.write_levers(levers, tmp_path)
    assert path.read_bytes() == F.write_levers(levers, tmp_path / "again").read_bytes()


def test_simulated_seasonal_buildouts_small_version():
    """A small run of benchmarks/forecast_eval.py (the full one: 100 series, 13-30 months): on 12
    simulated buildouts with 13-18 months of history, the year-end mean is within 8% on average and
    not far off last year's same months (12 series are too few to rank the two: the full run
    does), and the 80% interval is neither a point nor everything."""
    from benchmarks.forecast_eval import evaluate_simulated

    r = evaluate_simulated(12, seed=5, n_paths=300, hist_months=(13, 18))  # short: no slow backtests
    assert r["n_series"] == 12 and set(r["models"]) == {"season_growth"}
    assert r["mean_error_pct"] < 8 and r["error_ratio"] < 1.3, r
    assert 0.5 <= r["coverage80"] <= 1.0 and r["brier"] < 0.25, r


def test_simulated_mixed_family_draws_fading_steady_and_flat_growth_and_the_path_oracle_knows_it():
    """forecast_eval's "mixed" family draws a fading, a steady or a flat growth per series in about
    equal shares; the path oracle (which knows the growth ahead) equals the pace-now oracle where the
    growth is flat and lies above it where the pace keeps growing; an unknown family is refused."""
    from benchmarks.forecast_eval import draw_growth, simulate_buildout

    rng = np.random.default_rng(3)
    draws = [draw_growth("mixed", rng) for _ in range(600)]
    flat = sum(g == 0 and np.isinf(tau) for g, tau in draws)
    steady = sum(g > 0 and np.isinf(tau) for g, tau in draws)
    assert 160 <= flat <= 240 and 160 <= steady <= 240 and 160 <= 600 - flat - steady <= 240
    same = [simulate_buildout("flat", np.random.default_rng([1, i]), 20, "mixed") for i in range(12)]
    assert any(b.path_oracle == pytest.approx(b.oracle) for b in same)
    for i in range(5):
        b = simulate_buildout("winter_stop", np.random.default_rng([2, i]), 15, "steady")
        assert b.path_oracle > b.oracle
    with pytest.raises(UsageError, match="unknown growth family"):
        draw_growth("boom", rng)


def test_seasonal_index_reference_scales_last_years_months_by_this_years_pace_to_date():
    """forecast_eval's "seasonal index learned from one year": last year's same months times this
    year's pace against last year's in the same months, exact for a pace growing 50% a year, at a
    June origin and at a January one in a winter stop; under 13 months, last year's same months."""
    from analysis.season import SeasonalNaive
    from benchmarks.forecast_eval import forecast_seasonal_index

    idx = pd.date_range("2019-07-31", periods=36, freq="ME")
    adds = pd.Series(10 * WINTER[idx.month.to_numpy() - 1] * 1.5 ** (np.arange(36) / 12), index=idx)
    for end in ("2021-06-30", "2021-01-31"):
        hist, future = adds[:end], adds[pd.Timestamp(end) + pd.Timedelta(days=1) :].iloc[:6]
        got = forecast_seasonal_index(hist, future.index)
        assert got == pytest.approx(future.to_numpy()), end
        assert got == pytest.approx(1.5 * SeasonalNaive(hist).mean(6)), end
    flat = adds.iloc[:12] / 1.5 ** (np.arange(12) / 12)
    assert forecast_seasonal_index(flat, idx[12:18]) == pytest.approx(SeasonalNaive(flat).mean(6))


def test_long_horizons_are_bounded_by_the_fastest_pace_seen_and_the_spread_is_explained():
    """Issue 13 item 6: five years ahead no path builds faster than 1.25x the best 12 months seen,
    one steady year does not shrink the pace's yearly change to nothing, and the page says why."""
    from analysis.season import PACE_CAP_FACTOR, PACE_CHANGE_SD, estimate_pace_change_sd

    cum = _seasonal_cum(WINTER, years=2, noise=1.0)
    fc = F.fit_forecast(cum, horizon=60, n_paths=400, targets=[("2026-12-31", 1500)], model="season_level")
    adds = cum.diff().dropna()
    best = max(adds.iloc[i - 12 : i].mean() for i in range(12, len(adds) + 1))
    assert fc.paths[:, 59].max() <= cum.iloc[-1] + 60 * PACE_CAP_FACTOR * best * WINTER.max() + 1e-6
    assert fc.paths[:, 59].max() - cum.iloc[-1] <= 60 * PACE_CAP_FACTOR * best * 1.1
    t = fc.targets.iloc[0]
    assert "the model's pace stays below" in t["spread_en"] and "a year" in t["spread_en"]
    assert "不超过每月" in t["spread_zh"]
    steady = np.full(36, 20.0)
    assert estimate_pace_change_sd(steady, np.ones(36, bool), 1.0) == 0.0
    pooled = estimate_pace_change_sd(steady, np.ones(36, bool), 1.0, prior_years=1.0)
    assert pooled == pytest.approx(PACE_CHANGE_SD / np.sqrt(3))


def test_season_growth_measures_the_pace_growth_between_years_and_damps_it():
    from analysis.season import Season, SeasonalPace

    idx = pd.date_range("2020-01-31", periods=24, freq="ME")
    adds = pd.Series(20 * np.exp(0.3 * np.arange(24) / 12), index=idx)
    flat = Season(np.ones(12), "flat", np.ones(12), np.zeros(12))
    m = SeasonalPace(adds, flat, kind="growth")
    assert 0.2 < m.params["growth_per_year"] <= 0.3
    ahead = m.mean(60)
    assert ahead[11] > adds.iloc[-1] and np.diff(ahead)[-12:].max() < np.diff(ahead)[:12].min()  # damped
    level = SeasonalPace(adds, flat, kind="level")
    assert np.allclose(level.mean(12), level.mean(1)[0])


def test_fit_log_trend_finds_the_growth_through_a_winter_stop_and_season_growth_shrinks_a_noisy_one():
    """The pace now and its growth are read through the season (the winter months are not a
    slowdown of the programme), and a growth seen in a short noisy series is shrunk toward none."""
    from analysis.season import GROWTH_PRIOR_SD, Season, SeasonalPace, fit_log_trend

    idx = pd.date_range("2020-01-31", periods=24, freq="ME")
    season = WINTER[idx.month.to_numpy() - 1]
    pace = 20 * np.exp(0.4 * np.arange(24) / 12)
    beta, cov = fit_log_trend(pace * season, season, season > 0.05)
    assert beta[1] * 12 == pytest.approx(0.4, abs=1e-6) and np.exp(beta[0]) == pytest.approx(pace[-1], rel=1e-6)
    assert fit_log_trend(np.zeros(24), season, season > 0.05) is None
    assert fit_log_trend(pace[:5], season[:5], np.ones(5, bool)) is None
    winter = Season(WINTER, "declared", np.ones(12), np.zeros(12))
    m = SeasonalPace(pd.Series(pace * season, index=idx), winter, kind="growth")
    assert 0.3 < m.params["growth_per_year"] <= 0.4 and m.pace == pytest.approx(pace[-1], rel=0.05)
    rng = np.random.default_rng(3)
    noisy = pd.Series(rng.poisson(np.full(13, 5.0)).astype(float), index=idx[:13])
    flat = Season(np.ones(12), "flat", np.ones(12), np.zeros(12))
    raw, cov = fit_log_trend(noisy.to_numpy(), np.ones(13), np.ones(13, bool))
    shrunk = SeasonalPace(noisy, flat, kind="growth").growth
    assert abs(shrunk) < abs(raw[1]) and shrunk * raw[1] >= 0
    assert abs(shrunk) <= abs(raw[1]) * (GROWTH_PRIOR_SD / 12) ** 2 / ((GROWTH_PRIOR_SD / 12) ** 2 + cov[1, 1]) + 1e-12


def test_season_growth_is_not_fooled_by_one_batch_or_by_a_late_start():
    """A block of 200 sites switched on in the last month after months of 5 is not the pace; a
    programme that starts six months into the history has its pace, not an unbounded growth."""
    from analysis.season import MAX_GROWTH_PER_YEAR, Season, SeasonalPace

    idx = pd.date_range("2020-01-31", periods=15, freq="ME")
    flat = Season(np.ones(12), "flat", np.ones(12), np.zeros(12))
    batch = SeasonalPace(pd.Series([5.0] * 14 + [200.0], index=idx), flat, kind="growth")
    assert batch.pace < 7 and batch.growth * 12 < 0.1
    late = SeasonalPace(pd.Series([0.0] * 6 + [20.0] * 9, index=idx), flat, kind="growth")
    assert late.pace == pytest.approx(20, rel=0.05) and abs(late.growth) * 12 <= MAX_GROWTH_PER_YEAR
    paths = batch.simulate(12, 400, np.random.default_rng(0))
    assert paths.min() >= 0 and paths.mean() == pytest.approx(batch.mean(12).mean(), rel=0.25)


def test_english_district_panels_are_titled_in_english_with_the_chinese_name():
    """The districts chart of an English page names each district as its tables do."""
    import matplotlib.pyplot as plt

    from analysis.config import load_city
    from analysis.forecast.stage import district_titles

    city = load_city("karamay")
    titles = district_titles(city, "en")
    assert titles["乌尔禾区"] == "Urho District (乌尔禾区)" and district_titles(city, "zh") == {}
    hist = pd.Series([0.0, 2, 5, 9, 12, 15, 19, 22, 26, 30], index=pd.date_range("2020-01-31", periods=10, freq="ME"))
    fc = F.fit_forecast(hist, horizon=6, n_paths=50, seed=1, model="drift")
    cf = F.CityForecast(
        city=fc, districts={"乌尔禾区": fc}, series=pd.DataFrame(), district_table=pd.DataFrame(), notes=[]
    )
    fig = F.plot_districts(cf, lang="en", labels=titles)
    assert "Urho District (乌尔禾区)" in [ax.get_title() for ax in fig.axes]
    plt.close(fig)


def test_fading_growth_is_fitted_when_the_history_shows_it_and_a_straight_one_is_kept():
    """fit_fading_log_trend: a growth of 8% a month fading with a 12-month time constant is read as
    that fade (its growth now 0.4% a month, not the straight line's average), a steady 2% a month
    keeps the straight trend; season_growth damps the growth ahead by the fade seen (here faster
    than GROWTH_DAMPING), and a season measured beside the growth is nearer the truth at the ends."""
    from analysis.season import GROWTH_DAMPING, Season, SeasonalPace, estimate_season, fit_fading_log_trend

    t = np.arange(36.0)
    fade = 20 * np.exp(0.08 * 12 * (1 - np.exp(-t / 12)))
    beta, _, tau = fit_fading_log_trend(fade, np.ones(36), np.ones(36, bool))
    assert tau == 12 and beta[1] == pytest.approx(0.08 * np.exp(-35 / 12), rel=0.01)
    beta, _, tau = fit_fading_log_trend(20 * np.exp(0.02 * t), np.ones(36), np.ones(36, bool))
    assert np.isinf(tau) and beta[1] == pytest.approx(0.02, rel=0.01)
    idx = pd.date_range("2019-01-31", periods=36, freq="ME")
    flat = Season(np.ones(12), "flat", np.ones(12), np.zeros(12))
    model = SeasonalPace(pd.Series(fade, index=idx), flat, kind="growth")
    assert model.params["fade_months"] == 12 and model._damping() < GROWTH_DAMPING
    grow = np.log(1.5) / 12
    adds = pd.Series(500 * np.exp(grow * np.arange(18)) * WINTER[idx[:18].month - 1], index=idx[:18])
    plain, beside = estimate_season(adds), estimate_season(adds, growth=grow)
    assert np.abs(beside.factors - WINTER).max() < 0.7 * np.abs(plain.factors - WINTER).max()


def test_fit_log_trend_on_empty_months_one_batch_and_a_single_year():
    """The cases the hand-written Newton loop guarded, now fitted by statsmodels' GLM: a run of empty
    months at the end is a pace that fell, not a fit that fails; with every addition in one month no
    growth can be read (the old loop's clipped steps gave a pace now of 550 a month from one batch
    of 50 and eleven empty months); twelve months alone give a pace and a growth."""
    from analysis.season import Season, SeasonalPace, fit_log_trend

    idx = pd.date_range("2020-01-31", periods=24, freq="ME")
    flat = Season(np.ones(12), "flat", np.ones(12), np.zeros(12))
    tail = np.r_[np.full(16, 10.0), np.zeros(8)]
    beta, cov = fit_log_trend(tail, np.ones(24), np.ones(24, bool))
    assert beta[1] < 0 and np.all(np.isfinite(cov))
    fell = SeasonalPace(pd.Series(tail, index=idx), flat, kind="growth")
    assert fell.pace < 10 and fell.growth < 0
    batch = np.r_[50.0, np.zeros(11)]
    assert fit_log_trend(batch, np.ones(12), np.ones(12, bool)) is None
    once = SeasonalPace(pd.Series(batch, index=idx[:12]), flat, kind="growth")
    assert once.pace == pytest.approx(50 / 12) and once.growth == 0.0
    year = np.random.default_rng(5).poisson(20, 12).astype(float)
    beta, cov = fit_log_trend(year, np.ones(12), np.ones(12, bool))
    assert np.exp(beta[0]) == pytest.approx(year.mean(), rel=0.3) and abs(beta[1]) * 12 < 1 and cov[1, 1] > 0


def test_a_band_that_misses_upward_is_widened_above_the_mean_only():
    """Backtest errors all above the forecast widen the upper half of a season model's band (its pace lags a
    growing programme), leave the lower half and the mean path as they were; errors on both sides widen both.
    A drift's band on a series interpolated between published counts is widened both ways (probe11: the
    national band, widened above only, missed the 2025 slowdown below it)."""
    from analysis.forecast import models as M

    up = {h: [1.5 + 0.1 * i for i in range(12)] for h in range(1, 13)}
    assert F.widening_factors(F.fit_widening(up, +1), 12).min() > 1.5
    assert (F.widening_factors(F.fit_widening(up, -1), 12) == 1).all()
    history = _cum(np.full(20, 10.0))
    rng = np.random.default_rng(0)
    paths = history.iloc[-1] + np.cumsum(rng.gamma(100.0, 0.1, (400, 12)), axis=1)
    table_bt = pd.DataFrame({"n_origins": [12]})
    out, note = M._calibrate_sides(paths, history, up, "season_growth", table_bt, None)
    q_in, q_out = np.quantile(paths, [0.1, 0.9], axis=0), np.quantile(out, [0.1, 0.9], axis=0)
    monthly = np.quantile(M._calibrate_sides(paths, history, up, "drift", table_bt, None)[0], 0.1, axis=0)
    assert np.all(monthly >= q_in[0] - 0.5 * (q_in[1] - q_in[0]))  # (a monthly series: below as it was)
    drift, _ = M._calibrate_sides(paths, history, up, "drift+arima", table_bt, None, interpolated=True)
    q_drift = np.quantile(drift, [0.1, 0.9], axis=0)
    assert np.all(paths.mean(0) - q_drift[0] > 1.2 * (paths.mean(0) - q_in[0]))
    assert np.all(q_drift[1] - paths.mean(0) > 1.2 * (q_in[1] - paths.mean(0)))
    assert np.all(q_out[1] - paths.mean(0) > 1.4 * (q_in[1] - paths.mean(0)))
    assert np.allclose(out.mean(0), paths.mean(0)) and "above the mean path" in note
    assert note.startswith("intervals scaled x")  # the pattern report.chrome translates
    assert np.all(q_out[0] >= q_in[0] - 0.5 * (q_in[1] - q_in[0]))
    both = {h: [(-1) ** i * 2.0 for i in range(12)] for h in range(1, 13)}
    k_up, k_down = (F.widening_factors(F.fit_widening(both, s), 12) for s in (+1, -1))
    assert np.allclose(k_up, k_down) and k_up.min() > 1.4


def test_steady_noisy_growth_is_seldom_read_as_a_fade():
    """The fade must earn its parameter (FADE_AIC_PENALTY): of 100 Poisson series growing a steady 2 % a
    month for 30 months, about 5 are read as fading (30 without the penalty, which cost the steady family
    0.6 points of year-end error)."""
    from analysis.season import fit_fading_log_trend

    rng = np.random.default_rng(5)
    t = np.arange(30.0)
    taus = [
        fit_fading_log_trend(rng.poisson(20 * np.exp(0.02 * t)).astype(float), np.ones(30), np.ones(30, bool))[2]
        for _ in range(100)
    ]
    assert sum(np.isfinite(taus)) <= 12


def test_a_learned_season_is_not_relearned_along_a_raw_slope_of_sparse_months():
    """14 sparse months (two single additions): the straight trend's raw slope is -0.37 a month; the season
    learned again along it made ten months' factors 0.01 and the year ahead 2 stations in two months. It is
    moved along the shrunk growth instead: no month of the year ahead near zero, the pace of the last year."""
    from analysis.season import SeasonalPace, estimate_season

    idx = pd.date_range("2020-01-31", periods=14, freq="ME")
    adds = pd.Series([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0], index=idx, dtype=float)
    model = SeasonalPace(adds, estimate_season(adds), kind="growth")
    ahead = model.mean(12)
    assert model.season.learned and ahead.min() > 0.25 and 3.0 < ahead.sum() < 7.0


def test_a_season_with_unseen_months_is_estimated_without_a_runtime_warning():
    """A programme that starts late in a two-year history leaves calendar months with no usable ratio: their
    factor stays at the prior with no variance, and no `0 x inf` warning reaches the report's logs (at 10^6
    stations it printed once per such district)."""
    import warnings

    from analysis.season import estimate_season

    idx = pd.date_range("2019-01-31", periods=24, freq="ME")
    for k in (18, 19):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            season = estimate_season(pd.Series(np.r_[np.zeros(k), np.full(24 - k, 5.0)], index=idx))
        assert np.isfinite(season.factor_var).all() and np.isclose(season.factors.mean(), 1.0)


def test_local_level_paths_are_drawn_as_statsmodels_simulate_draws_them():
    """season_ucm's paths come from numpy, all at once (statsmodels simulates path by path): the same
    distribution as `simulate(anchor="end", repetitions=n)` month by month — means within 4 standard
    errors, sds within 4 %, and the spread growing with the horizon as the level walks."""
    import warnings

    from statsmodels.tsa.statespace.structural import UnobservedComponents

    from analysis.season import simulate_local_level

    rng = np.random.default_rng(1)
    d = np.maximum(0, 20 + np.cumsum(rng.normal(0, 2, 30)) + rng.normal(0, 4, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = UnobservedComponents(d, level="llevel").fit(disp=False)
        theirs = np.asarray(res.simulate(12, anchor="end", repetitions=20000, rng=np.random.default_rng(2)))
    theirs = theirs.reshape(12, 20000).T
    ours = simulate_local_level(res, 12, 20000, np.random.default_rng(3))
    assert ours.shape == (20000, 12)
    se = theirs.std(axis=0) / np.sqrt(20000)
    assert np.all(np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) < 4 * np.sqrt(2) * se)
    assert np.allclose(ours.std(axis=0), theirs.std(axis=0), rtol=0.04)
    assert ours[:, -1].std() > 1.2 * ours[:, 0].std()


@pytest.mark.parametrize(
    "spec",
    [
        ("sarimax", {"order": (1, 0, 0), "trend": "c"}),  # the arima candidate: its constant is a (1, nobs) matrix
        ("sarimax", {"order": (2, 0, 1)}),
        ("sarimax", {"order": (1, 1, 1)}),
        ("ucm", {"level": "llevel", "freq_seasonal": [{"period": 12, "harmonics": 2}]}),
    ],
)
def test_state_space_paths_drawn_in_numpy_match_statsmodels_path_by_path(spec):
    """simulate_state_space draws what statsmodels' simulate(anchor='end', repetitions=n) draws, moment by
    moment: means within Monte-Carlo error, spreads and the 10 %/90 % quantiles close, month by month."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    from analysis.forecast.models import simulate_state_space

    rng = np.random.default_rng(1)
    y = np.maximum(0, 20 + np.cumsum(rng.normal(0, 2, 36)) + rng.normal(0, 4, 36))
    kind, kw = spec
    n, h = 3000, 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = (SARIMAX(y, **kw) if kind == "sarimax" else UnobservedComponents(y, **kw)).fit(disp=False)
        theirs = np.asarray(res.simulate(h, anchor="end", repetitions=n, rng=np.random.default_rng(2)))
    theirs = theirs.reshape(h, n).T
    ours = simulate_state_space(res, h, n, np.random.default_rng(3))
    assert ours.shape == (n, h)
    sd = theirs.std(axis=0)
    assert np.all(np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) < 4 * np.sqrt(2) * sd / np.sqrt(n))
    assert np.allclose(ours.std(axis=0), sd, rtol=0.08)
    for q in (0.1, 0.5, 0.9):
        assert np.all(np.abs(np.quantile(ours, q, axis=0) - np.quantile(theirs, q, axis=0)) < 0.12 * sd)


def test_state_space_paths_of_a_time_varying_model_are_left_to_statsmodels():
    """A time trend makes SARIMAX's state intercept change month by month: not drawn in numpy (None), and
    the candidate's paths still come from statsmodels (the same paths as its own simulate)."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from analysis.forecast.models import _Statsmodels, simulate_state_space

    y = np.arange(30.0) + np.random.default_rng(4).normal(0, 1, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(y, order=(1, 0, 0), trend="ct").fit(disp=False)
        fit = _Statsmodels("arima_trend", res, pd.Timestamp("2021-06-30"))
        assert simulate_state_space(res, 6, 50, np.random.default_rng(5)) is None and fit.draws_path_by_path
        ours = fit.simulate(6, 50, np.random.default_rng(5))
        theirs = np.asarray(res.simulate(6, anchor="end", repetitions=50, rng=np.random.default_rng(5)))
    assert np.array_equal(ours, theirs.reshape(6, 50).T)


def test_arima_fitted_to_many_series_at_once_is_statsmodels_fit_at_its_maximum():
    """fit_ar1_batch: for each series the likelihood statsmodels computes at the batch's parameters is at
    least its own optimum's (within rounding), the point forecasts agree to 0.1 %, and the paths are those
    simulate_state_space draws from statsmodels' filter at the same parameters. A constant addition and a
    unit root are left to statsmodels."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from analysis.forecast.batched import fit_ar1_batch
    from analysis.forecast.models import simulate_state_space

    rng = np.random.default_rng(5)
    idx = pd.date_range("2019-12-31", periods=37, freq="ME")
    adds = [
        rng.poisson(6, 36),
        np.maximum(0, np.round(np.cumsum(rng.normal(0, 1, 36)) + 5)),
        np.r_[np.zeros(18), rng.poisson(3, 18)],
        rng.poisson(1, 36) * (rng.random(36) < 0.3) * 20,
        np.full(36, 4),  # constant: no variance left
        np.cumsum(np.r_[np.arange(18), np.arange(18)[::-1]] + rng.normal(0, 0.01, 36)),  # a near unit root
    ]
    series = {f"s{i}": pd.Series(np.r_[0, np.cumsum(a)], index=idx) for i, a in enumerate(adds)}
    fits = fit_ar1_batch(series)
    assert sorted(fits) == ["s0", "s1", "s2", "s3"]
    for name, fit in fits.items():
        y = np.diff(series[name].to_numpy(float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SARIMAX(y, order=(1, 0, 0), trend="c")
            theirs = model.fit(disp=False)
            ours = model.filter(np.array([fit.intercept, fit.ar, fit.sigma2]))
        assert list(fit.params) == list(theirs.model.param_names)
        assert ours.llf >= theirs.llf - 1e-8
        assert np.allclose(fit.mean(12), theirs.forecast(12), rtol=1e-3, atol=1e-3)
        drawn = simulate_state_space(ours, 12, 500, np.random.default_rng(7))
        assert np.allclose(fit.draw(12, 500, np.random.default_rng(7)), drawn, rtol=1e-9, atol=1e-9)


def test_one_blas_thread_reaches_the_blas_statsmodels_fits_call():
    """In a fresh process (scipy not yet loaded) the limit must also hold for scipy's own OpenBLAS,
    which statsmodels' Kalman filter calls: threadpoolctl limits only libraries already loaded."""
    import os
    import subprocess
    import sys

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: every BLAS runs on one thread anyway")
    code = (
        "from threadpoolctl import threadpool_info\n"
        "from analysis.forecast.models import run_on_one_blas_thread\n"
        "def inside():\n"
        "    import statsmodels.tsa.statespace.sarimax  # noqa: F401\n"
        "    return [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "print(run_on_one_blas_thread(inside)())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    counts = eval(out.stdout.strip())  # a list of ints printed by the child
    assert len(counts) >= 2 and set(counts) == {1}, counts


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_sentences_show_a_pace_over_too_short_a_history_as_a_dash(lang):
    """A report three months into the buildout: the 3-month pace is NaN, null in model.json, None when
    read back; the target sentences say '–' instead of failing on None or printing 'nan'."""
    from analysis.report.text import rate, say

    common = dict(target_date="2021-12-31", target="446", target_diff="435", prob_reach="0 %")
    common = dict(common, pace_needed_per_month=rate(20.18), pace_last_3m=rate(None))
    words = [
        say(lang, "targets.sentence", as_of="2020-03-15", now="11", model="drift", **common),
        say(lang, "headline.target_ahead", name="2021", **dict(common, pace_last_3m=rate(float("nan")))),
    ]
    for text in words:
        assert "20.2" in text and "–" in text and "nan" not in text and "None" not in text


def test_a_yearly_series_is_no_surer_than_its_published_changes(tmp_path):
    """Year-end counts interpolated to month ends are straight lines: every model sees smooth months.
    The bands are widened to a random walk with drift through the published counts themselves (China's
    year ends 2020-2023 gave P(430 万 by 2024) = 95 % with an 80 % band from 432.8; 425.1 came)."""
    from analysis.forecast.models import published_change_sd
    from analysis.report.chrome import translate_note

    p = _csv(tmp_path, "date,value\n2020-12-31,71.8\n2021-12-31,142.5\n2022-12-31,231.2\n2023-12-31,337.7\n")
    monthly, observed = F.to_month_ends(F.read_series(p))
    sigma, span, gap = published_change_sd(monthly, observed)
    assert gap == 12
    changes, mu = np.array([70.7, 88.7, 106.5]), (337.7 - 71.8) / 36
    assert span == 36 and sigma == pytest.approx(np.sqrt(np.sum((changes - 12 * mu) ** 2 / 12) / 2), rel=1e-9)
    fc = F.forecast_series_file(p, horizon=12, targets=[("2024-12-31", 430)], n_paths=2000)
    year = fc.table.iloc[11]
    # the 80 % band a year on at least as wide as the published changes' own (1.28 sd each side)
    assert year["hi80"] - year["lo80"] >= 0.9 * 2 * 1.2816 * sigma * np.sqrt(12 + 144 / span)
    assert year["lo80"] < 425.1 and fc.targets["prob_reach"].iloc[0] < 0.9
    note = next(n for n in fc.notes if n.startswith("intervals widened"))
    assert "published every 12 months" in note and translate_note(note, "zh")
    # a series published every month is left as its model and backtest make it
    assert published_change_sd(monthly, pd.Series(True, index=monthly.index)) is None


def test_widening_a_sparse_series_keeps_its_mean_where_the_last_count_cuts_the_band(tmp_path, monkeypatch):
    """Widened symmetrically and cut at the last count (a count cannot fall), the band lifted the mean path
    (1763.7 -> 1822.5 a year on): each month is recentred, so only the spread changes."""
    import analysis.forecast.models as M

    p = _csv(
        tmp_path, "date,value\n2019-12-31,1000\n2020-12-31,1400\n2021-12-31,1420\n2022-12-31,1700\n2023-12-31,1710\n"
    )
    widened = F.forecast_series_file(p, horizon=12, n_paths=2000)
    assert any(n.startswith("intervals widened") for n in widened.notes)
    monkeypatch.setattr(M, "_widen_to_published_changes", lambda paths, *a: (paths, None))
    plain = F.forecast_series_file(p, horizon=12, n_paths=2000)
    assert np.allclose(widened.table["mean"], plain.table["mean"], rtol=2e-3)
    # a year on, where the next count is published, the band is wider: the paths the recentring cuts at the
    # last count pile up there, a band of no growth with a longer tail (the mean a year on, 1,727, is the
    # models' own: before their additions were clipped keeping their mean, UCM's clipped noise lifted it to
    # 1,762 and the hi80 above the pile with it)
    wide, plain_end = widened.paths[:, 11], plain.paths[:, 11]
    assert widened.table["hi95"].iloc[-1] > plain.table["hi95"].iloc[-1] and wide.std() > 1.5 * plain_end.std()
    assert (np.diff(widened.paths, axis=1) >= 0).all()
    assert (widened.paths >= 1710).all()


def test_a_passed_target_is_judged_by_the_count_on_its_date():
    """31,000 by 2020-08-31, with 30,909 on air that day and 50,000 by the report: missed by the count on
    its date (it was 'reached' by the count a year later, while the pages said missed)."""
    idx = pd.date_range("2019-12-31", "2021-10-31", freq="ME")
    history = pd.Series(np.linspace(20000, 50000, len(idx)).round(), index=idx)
    assert history.loc["2020-08-31"] == 30909
    fc = F.fit_forecast(history, horizon=12, targets=[("2020-08-31", 31000), ("2020-06-30", 28000)], n_paths=200)
    t = fc.targets.set_index("target")
    assert t.loc[31000, "status"] == "missed" and t.loc[31000, "expected_on_air"] == 30909
    assert "missed: 30,909 on air" in t.loc[31000, "verdict_en"]
    assert t.loc[28000, "status"] == "reached"  # (28,182 on its date)


def test_on_track_with_a_pace_below_the_one_needed_says_the_pace_must_rise(monkeypatch):
    """A backfilled report called a target on track (P = 81 %) while the last 3 months added 424 a month
    against 622 needed: the verdict now says the pace must rise as forecast; a pace above the need adds
    nothing."""
    from analysis.verdict import describe_pace_against_verdict

    def describe_pace_caution(needed, last_3m):
        return describe_pace_against_verdict("on_track", needed, last_3m)

    zh, en = describe_pace_caution(622.0, 424.0)
    assert "近 3 个月每月新增 424 座，低于所需的每月 622 座" in zh and "added 424 a month, below the 622" in en
    assert describe_pace_caution(622.0, 700.0) == ("", "") and describe_pace_caution(float("nan"), 1.0) == ("", "")
    import analysis.forecast.models as M

    idx = pd.date_range("2019-12-31", "2021-10-31", freq="ME")
    history = pd.Series(np.linspace(20000, 50000, len(idx)).round(), index=idx)
    monkeypatch.setattr(M, "classify_target", lambda *a: "on_track")  # (whatever P the paths give)
    fc = F.fit_forecast(history, horizon=12, targets=[("2022-12-31", 100000)], n_paths=200)
    assert "the pace must rise as forecast" in fc.targets["verdict_en"].iloc[0]


def test_records_well_short_of_a_count_the_city_reported_are_said():
    """An OpenCelliD extract or one operator's list holds part of the city: judged against the city's own
    published goals, it read 'off track, P 0 %' with no word that the records held half the city's count."""
    from types import SimpleNamespace

    from analysis.config import Target
    from analysis.forecast.city import _records_short_of_reported
    from analysis.report.chrome import translate_note

    stations = pd.DataFrame({"on_air_date": pd.to_datetime(["2020-06-01"] * 500 + [None] * 20)})
    reported = [Target(pd.Timestamp("2020-12-31").date(), 1000, "", "", "", kind="reported")]
    cfg = SimpleNamespace(targets=reported + [Target(pd.Timestamp("2021-12-31").date(), 2000, "", "", "")])
    (note,) = _records_short_of_reported(stations, cfg, pd.Timestamp("2021-03-22"))
    assert "the records hold 500 stations on air on 2020-12-31 where the city reported 1,000 (50%)" in note
    assert "记录仅为通报的 50%" in translate_note(note, "zh")
    cfg.targets[0] = Target(pd.Timestamp("2020-12-31").date(), 550, "", "", "", kind="reported")  # 91 %: none
    assert _records_short_of_reported(stations, cfg, pd.Timestamp("2021-03-22")) == []


def test_a_young_buildout_is_not_capped_by_its_first_months_and_its_verdict_says_too_early():
    """probe11 short city: 25 on air after 4, 0, 3 and 12 stations in its first months gave 'off track, P = 0 %'
    against a target it reached (every path capped at 1.25x the fastest months seen, 8.7 a month, with no
    backtest origin). Under a year no cap binds, the ramp-up months ahead are uncertain, and with no backtest
    origin the verdict says too early to judge and the band uncalibrated."""
    from analysis.season import PACE_CAP_FACTOR, estimate_pace_cap

    assert estimate_pace_cap(np.array([4.0, 0.0, 3.0, 12.0]), np.ones(4, bool)) == np.inf
    assert np.isfinite(estimate_pace_cap(np.full(12, 5.0), np.ones(12, bool)))
    cum = _cum([4, 0, 3, 12], first=1)
    fc = F.fit_forecast(cum, horizon=20, n_paths=1000, targets=[("2021-12-31", 446)])
    fast = np.diff(fc.paths[:, :9], axis=1).max(axis=1)
    assert np.mean(fast > PACE_CAP_FACTOR * 19 / 4 * 4) > 0.05  # (paths may build far faster than seen so far)
    t = fc.targets.iloc[0]
    assert t["prob_reach"] > 0.01
    assert t["status"] == "too_early"
    assert "uncalibrated" in t["verdict_en"] and "未经校准" in t["verdict_zh"]
    assert "uncalibrated" in t["spread_en"] and "after calibration" not in t["spread_en"]
    assert "no cap yet" in t["spread_en"] and "stays below" not in t["spread_en"]


def test_the_spread_never_says_a_pace_changes_by_0_percent_nor_a_cap_the_band_exceeds():
    """probe11: 'the pace may change by about ±0 % a year' (a drift on under two years models no change) and
    'no path more than 8,186 a month' beside a band of 5,032-8,307 a month."""
    from analysis.verdict import SpreadContext, describe_spread

    zh, en = describe_spread("2022-12-31", "2020-11-30", 100, 200, 2.0, 4.0, 0, SpreadContext(0.0, None))
    assert "±0%" not in en and "±0%" not in zh and "no year-to-year change" in en
    zh, en = describe_spread("2022-12-31", "2020-11-30", 100, 200, 2.0, 8.3, 0, SpreadContext(0.2, 8.2))
    assert "stays below" not in en and "不超过每月" not in zh and "goes past it" in en
    zh, en = describe_spread("2022-12-31", "2020-11-30", 100, 200, 2.0, 8.0, 0, SpreadContext(0.2, 8.2))
    assert "the model's pace stays below 8.2 a month" in en
    zh, en = describe_spread("2021-01-31", "2020-12-31", 100, 200, 2.0, 8.0, 0)
    assert "1 month ahead" in en and "1 months" not in en


def test_a_series_in_wan_speaks_in_its_unit_with_its_decimals_and_has_no_pipeline(tmp_path):
    """probe11 units_wan: a series in 万 read '目标 480 座', '预计开通 473 座', '31 more sites must enter the
    pipeline', the axis '（累计，座）[万]' and 391.7 rounded to 392."""
    import matplotlib

    matplotlib.use("Agg")
    text = "date,value\n" + "".join(
        f"{d:%Y-%m-%d},{v:.1f}\n"
        for d, v in zip(pd.date_range("2022-01-31", periods=26, freq="ME"), 142.5 + 6.3 * np.arange(26))
    )
    fc = F.forecast_series_file(
        _csv(tmp_path, text), horizon=12, targets=[("2023-03-15", 150.5), ("2024-06-30", 400)], unit="万", n_paths=300
    )
    passed, ahead = fc.targets.iloc[0], fc.targets.iloc[1]
    assert "150.5 万" in passed["verdict_zh"] and "座" not in passed["verdict_zh"]
    assert "座" not in ahead["verdict_zh"] + ahead["spread_zh"] and " 万" in ahead["verdict_zh"]
    assert re.search(r"预计开通 \d+\.\d 万", ahead["verdict_zh"]) and re.search(
        r"\d+\.\d 万 expected", ahead["verdict_en"]
    )
    assert ahead["must_happen_en"] == "" and "pipeline" not in ahead["spread_en"]
    fig = fc.plot(lang="zh")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "已开通 5G 基站数（累计，万）"
    labels = [t.get_text() for t in ax.texts]
    assert any(lbl.startswith("目标 400 万") for lbl in labels) and any("150.5 万" in lbl for lbl in labels)


def test_a_published_count_that_falls_is_net_of_closures_and_is_forecast_with_a_note(tmp_path):
    """probe11 rev_fall_passed/falling.csv (459.8 then 457.5 万) was refused 'give the count net of closures':
    a published count of stations on air already is. A fall to under half is still refused (a unit or a typo)."""
    text = "date,value\n2025-02-28,432.5\n2025-03-31,439.5\n2025-06-30,454.9\n2025-07-31,459.8\n"
    text += "2025-09-30,457.5\n2025-11-30,483.0\n"
    fc = F.forecast_series_file(_csv(tmp_path, text), horizon=6, n_paths=300, unit="万")
    note = next(n for n in fc.notes if "fell" in n)
    assert "net of closures" in note and "459.8 on 2025-07-31 to 457.5 on 2025-09-30" in note
    assert (np.diff(fc.paths, axis=1) >= 0).all() and fc.paths[:, 0].min() >= 483.0


def test_a_passed_target_between_published_counts_is_judged_on_its_date_and_says_interpolated(tmp_path):
    """probe11: 366.5 by 2024-05-15 was judged on the month end after it (383.4, interpolated) as if published;
    a last count on an odd day (2023-11-22) left the forecast starting a month earlier without a word."""
    text = "date,value\n2024-02-29,350.0\n2024-04-30,374.8\n2024-06-30,391.7\n2024-08-31,400.0\n2024-09-22,404.0\n"
    fc = F.forecast_series_file(
        _csv(tmp_path, text), horizon=6, n_paths=200, unit="万", targets=[("2024-05-15", 380), ("2024-04-30", 370)]
    )
    t = fc.targets.set_index("target")
    assert t.loc[380, "status"] == "missed" and t.loc[380, "expected_on_air"] == pytest.approx(379.0, abs=0.05)
    assert "interpolated between the published 374.8 on 2024-04-30 and 391.7 on 2024-06-30" in t.loc[380, "verdict_en"]
    assert "插值" in t.loc[380, "verdict_zh"] and "interpolated" not in t.loc[370, "verdict_en"]
    assert any("2024-09-22, falls inside a month" in n for n in fc.notes)


def test_the_console_line_of_a_target_too_early_to_judge_says_so():
    from analysis.cli import _describe_target_line

    row = {"status": "too_early", "target": 446, "target_date": pd.Timestamp("2021-12-31"), "months_left": 20.0}
    row.update(prob_reach=0.06, mean=210.6, lo80=85.1, hi80=370.4, pace_needed_per_month=21.0, pace_last_3m=5.0)
    assert "446 by 2021-12-31: too early to judge (no backtest yet, uncalibrated): P(reach) = 6%" in (
        _describe_target_line(pd.Series(row))
    )
