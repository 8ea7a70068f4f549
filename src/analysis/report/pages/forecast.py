"""02 forecast: the targets with their expected count and verdict, the fan chart, the districts, the backtest."""

from __future__ import annotations

import pandas as pd

from analysis.report.chrome import translate_note
from analysis.report.context import Context
from analysis.report.display import (
    record,
    show_image,
    show_markdown,
    show_step,
)
from analysis.report.pages.common import count_on_air, show_district_frame, show_frame
from analysis.report.text import (
    day,
    district_label,
    model_words,
    n,
    pct,
    prob,
    rate,
    say,
)

# --------------------------------------------------------------------------------------------
# 02 forecast
# --------------------------------------------------------------------------------------------


def _target_label(t, lang: str) -> str:
    return (t.get("label_zh") if lang == "zh" else t.get("label_en")) or ""


#: Months ahead from which a target's band is explained on the page (the long horizon).
LONG_HORIZON_MONTHS = 12


def expected_count(r) -> float:
    """The one expected count of a target row (the forecast's `expected_on_air`; its mean in a
    model.json written before that column)."""
    v = r.get("expected_on_air")
    return float(v) if v is not None and pd.notna(v) else float(r["mean"])


def in_lang(r, column: str, lang: str) -> str:
    v = r.get(f"{column}_{'zh' if lang == 'zh' else 'en'}")
    return v.strip() if isinstance(v, str) else ""


def status_words(r, lang: str) -> str:
    """A target's status in words (on track / at risk / off track, reached / missed)."""
    from analysis.verdict import STATUS_EN, STATUS_ZH

    status = r.get("status")
    return (STATUS_ZH if lang == "zh" else STATUS_EN).get(status, "–") if isinstance(status, str) else "–"


def target_verdicts(ctx: Context, targets: pd.DataFrame) -> list[str]:
    """Each target in words: reached or missed once due (a count, never a probability); else the
    forecast's verdict and what must happen, and for a long horizon why its band is as wide as it is."""
    L = ctx.lang
    lines = []
    for _, r in targets.sort_values("target_date").iterrows():
        if pd.Timestamp(r["target_date"]) <= ctx.as_of:
            got = count_on_air(ctx, r["target_date"])
            key = "target_due_reached" if got >= r["target"] else "target_due_missed"
            t = next((x for x in ctx.city.targets if pd.Timestamp(x.date) == pd.Timestamp(r["target_date"])), None)
            lines.append(
                say(
                    L,
                    key,
                    name=(t.label_zh if L == "zh" else t.label_en) if t else "",
                    target_date=day(r["target_date"]),
                    target=n(r["target"]),
                    got=n(got),
                    short=n(r["target"] - got),
                )
            )
            continue
        words = [in_lang(r, "verdict", L), in_lang(r, "must_happen", L)]
        if float(r.get("months_left") or 0) > LONG_HORIZON_MONTHS:
            words.append(in_lang(r, "spread", L))
        lines.append(" ".join(w for w in words if w))
    return [x for x in lines if x]


def record_expected(targets: pd.DataFrame, as_of) -> None:
    """The page's expected count (and, for a target still ahead, its probability and status) as tagged records."""
    for _, r in targets.iterrows():
        key = day(r["target_date"])
        record(f"expected_on_air_{key}", round(expected_count(r), 2))
        if pd.Timestamp(r["target_date"]) > as_of and pd.notna(r.get("prob_reach")):
            record(f"prob_reach_{key}", round(float(r["prob_reach"]), 4))
            if isinstance(r.get("status"), str):
                record(f"status_{key}", r["status"])


def is_uncalibrated(cf) -> bool:
    """Whether the forecast's targets are 'too early to judge' (no backtest origin: the model's own band)."""
    status = cf.targets["status"] if "status" in cf.targets else pd.Series(dtype=object)
    return bool((status == "too_early").any())


def target_table(ctx: Context) -> pd.DataFrame:
    """Each target (and each count the city reported): on air now, still to build, the pace needed
    and achieved, the forecast with its 80 % interval and the probability of reaching it."""
    cf = ctx.forecast()
    L = ctx.lang
    now = count_on_air(ctx, ctx.as_of)
    labels = {pd.Timestamp(t.date): t for t in ctx.city.targets}
    rows = []
    for t in ctx.city.targets:
        if t.kind != "reported":
            continue
        rows.append(
            {
                say(L, "target_or_count"): (t.label_zh if L == "zh" else t.label_en),
                say(L, "date"): day(t.date),
                say(L, "stations"): n(t.on_air),
                say(L, "actual_on_that_date"): n(count_on_air(ctx, t.date))
                if pd.Timestamp(t.date) <= ctx.as_of
                else "–",
                say(L, "still_to_build"): "–",
                say(L, "needed_per_month"): "–",
                say(L, "achieved_per_month_last_3"): "–",
                say(L, "forecast_mean_80_interval"): "–",
                say(L, "verdict_col"): "–",
            }
        )
    for _, r in cf.targets.iterrows():
        t = labels.get(pd.Timestamp(r["target_date"]))
        if pd.Timestamp(r["target_date"]) <= ctx.as_of:  # due already: what happened, not a forecast
            got = count_on_air(ctx, r["target_date"])
            rows.append(
                {
                    say(L, "target_or_count"): (t.label_zh if L == "zh" else t.label_en) if t else "",
                    say(L, "date"): day(r["target_date"]),
                    say(L, "stations"): n(r["target"]),
                    say(L, "actual_on_that_date"): n(got),
                    say(L, "still_to_build"): "–",
                    say(L, "needed_per_month"): "–",
                    say(L, "achieved_per_month_last_3"): "–",
                    say(L, "forecast_mean_80_interval"): "–",
                    say(L, "verdict_col"): say(L, "reached")
                    if got >= r["target"]
                    else say(L, "missed_by", target_diff=n(r["target"] - got)),
                }
            )
            continue
        rows.append(
            {
                say(L, "target_or_count"): (t.label_zh if L == "zh" else t.label_en) if t else "",
                say(L, "date"): day(r["target_date"]),
                say(L, "stations"): n(r["target"]),
                say(L, "actual_on_that_date"): say(L, "now", now=n(now)),
                say(L, "still_to_build"): n(max(int(r["target"]) - now, 0)),
                say(L, "needed_per_month"): rate(r["pace_needed_per_month"]),
                say(L, "achieved_per_month_last_3"): rate(r["pace_last_3m"]),
                say(L, "forecast_mean_80_interval"): f"{n(expected_count(r))} ({n(r['lo80'])}–{n(r['hi80'])})",
                say(L, "verdict_col"): status_words(r, L),
            }
        )
    return pd.DataFrame(rows)


def show_targets(ctx: Context) -> pd.DataFrame:
    """The target table with a sentence on the year's target."""
    cf = ctx.forecast()
    L = ctx.lang
    now = count_on_air(ctx, ctx.as_of)
    tg = cf.targets.sort_values("target_date")
    ahead = tg[tg["target_date"] > ctx.as_of]
    first = ahead.iloc[0] if len(ahead) else None
    if first is not None:
        sent = say(
            L,
            "targets.sentence",
            as_of=day(ctx.as_of),
            now=n(now),
            target_date=day(first["target_date"]),
            target=n(first["target"]),
            target_diff=n(max(first["target"] - now, 0)),
            pace_needed_per_month=rate(first["pace_needed_per_month"]),
            pace_last_3m=rate(first["pace_last_3m"]),
            model=model_words(cf.model, L),
            prob_reach=prob(first["prob_reach"]),
        )
    else:
        sent = say(L, "targets.sentence_all_due", as_of=day(ctx.as_of), now=n(now))
    show_step(say(L, "targets.heading"), sent)
    table = show_frame(
        ctx,
        "targets",
        target_table(ctx),
        source=ctx.source
        + say(
            L,
            "targets.source_uncalibrated" if is_uncalibrated(cf) else "targets.source",
            model=model_words(cf.model, L),
        ),
    )
    lines = target_verdicts(ctx, tg)
    if lines:
        show_markdown(say(L, "targets.verdicts") + "\n\n" + "\n".join(f"- {x}" for x in lines))
    record_expected(tg, ctx.as_of)
    for _, r in tg.iterrows():
        key = day(r["target_date"])
        record(f"target_{key}", int(r["target"]))
        if pd.notna(r.get("pace_needed_per_month")):
            record(f"pace_needed_{key}", round(float(r["pace_needed_per_month"]), 2))
    return table


def show_fan_chart(ctx: Context) -> None:
    """The fan chart: history, forecast with 80 % and 95 % bands, targets with their probability."""
    cf = ctx.forecast()
    L = ctx.lang
    show_step(
        say(L, "fan.heading"),
        say(L, "fan.sentence"),
    )
    show_image(cf.figures["forecast"], alt=say(L, "fan.heading"), subtitle=say(L, "fig.forecast"))


def show_district_forecast(ctx: Context) -> pd.DataFrame:
    """Each district's share of the targets, its forecast and probability; small multiples."""
    cf = ctx.forecast()
    L = ctx.lang
    dt_ = cf.district_table
    if not len(dt_):
        return pd.DataFrame()
    # the first target still ahead: a due one is reached or missed, not forecast (see the targets table)
    ahead = dt_[pd.to_datetime(dt_["target_date"]) > ctx.as_of]["target_date"]
    first_date = ahead.min() if len(ahead) else dt_["target_date"].max()
    sub = dt_[dt_["target_date"] == first_date]
    basis = str(sub["share_source"].iloc[0])
    show_step(
        say(L, "district_forecast.heading", first_date=day(first_date)),
        say(L, "district_forecast.sentence", as_of=day(ctx.as_of), basis=translate_note(basis, L, ctx.city) or ""),
    )
    table = show_district_frame(
        ctx,
        "district_forecast",
        pd.DataFrame(
            {
                say(L, "district"): sub["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "share"): sub["share_pct"].map(pct),
                say(L, "district_target"): sub["district_target"].map(n),
                say(L, "on_air"): sub["on_air_as_of"].map(n),
                say(L, "forecast_mean_80_interval"): [
                    f"{n(a)} ({n(b)}–{n(c)})" for a, b, c in zip(sub["mean"], sub["lo80"], sub["hi80"])
                ],
                say(L, "probability"): sub["prob_reach"].map(prob),
            }
        ),
        (sub["district_target"] - sub["mean"]).clip(lower=0).to_numpy(float),
        "rows.rule.gap",
        tail=0,
        then=sub["on_air_as_of"].to_numpy(float),
        caption=say(L, "district_forecast.uncalibrated") if is_uncalibrated(cf) else "",
        source=ctx.source,
    )
    show_image(cf.figures["districts"], alt=say(L, "fig.districts"), subtitle=say(L, "fig.districts"))
    record(f"district_targets_{day(first_date)}", {d: int(v) for d, v in zip(sub["district"], sub["district_target"])})
    return table


def show_backtest(ctx: Context) -> pd.DataFrame:
    """How each candidate model scored in the rolling-origin backtest (lower is better)."""
    cf = ctx.forecast()
    L = ctx.lang
    bt = cf.backtest
    show_step(
        say(L, "backtest.heading"),
        say(L, "backtest.sentence", model=model_words(cf.model, L)),
    )
    cols = {
        "model": say(L, "model"),
        "mase_h3": "MASE 3m",
        "mase_h6": "MASE 6m",
        "mase_h12": "MASE 12m",
        "n_origins": say(L, "origins"),
    }
    out = pd.DataFrame(
        {
            heading: bt[c].map(lambda v: "–" if pd.isna(v) else (f"{v:.2f}" if isinstance(v, float) else str(v)))
            for c, heading in cols.items()
            if c in bt
        }
    )
    # the model's notes are in the annex, in the page's language (one place for methods)
    table = show_frame(ctx, "backtest", out, source=say(L, "backtest.source"))
    return table
