"""The forecast's verdict in words (Chinese and English): on track / at risk / off track for a
target still ahead, reached / missed for one whose date has passed, what must happen to reach it,
and why a long horizon's band is as wide as it is. Pure text from numbers; no model here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.season import PACE_CAP_FACTOR

#: P(target) at or above this: on track.
ON_TRACK_P = 0.8
#: P(target) below this: off track (between the two: at risk).
OFF_TRACK_P = 0.4
STATUS_ZH = {
    "reached": "已达成",
    "missed": "未达成",
    "on_track": "进度正常",
    "at_risk": "存在风险",
    "off_track": "明显滞后",
}
STATUS_EN = {
    "reached": "reached",
    "missed": "missed",
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
}


def classify_target(prob: float, target: int, target_date, as_of, count_known: float) -> str:
    """'reached' / 'missed' once the date has passed (or 'reached' as soon as the count is there);
    else 'on_track' (P >= ON_TRACK_P), 'at_risk' (P >= OFF_TRACK_P) or 'off_track'."""
    if count_known >= target:
        return "reached"
    if pd.Timestamp(as_of) >= pd.Timestamp(target_date):
        return "missed"
    if prob >= ON_TRACK_P:
        return "on_track"
    return "at_risk" if prob >= OFF_TRACK_P else "off_track"


def describe_verdict(
    status: str, target: int, target_date, prob: float, mean: float, lo80: float, hi80: float, count_known: float
) -> tuple[str, str]:
    """One sentence per language: the status, the expected count and its 80% band, and P (never
    a probability for a target whose date has passed)."""
    d = pd.Timestamp(target_date).date()
    if status in ("reached", "missed"):
        return (
            f"目标 {target:,} 座（{d}）{STATUS_ZH[status]}：已开通 {count_known:,.0f} 座。",
            f"Target {target:,} by {d} {STATUS_EN[status]}: {count_known:,.0f} on air.",
        )
    return (
        f"目标 {target:,} 座（{d}）{STATUS_ZH[status]}：预计开通 {mean:,.0f} 座（80% 区间 "
        f"{lo80:,.0f}–{hi80:,.0f}），达成概率 {prob:.0%}（≥{ON_TRACK_P:.0%} 为正常，<{OFF_TRACK_P:.0%} 为滞后）。",
        f"Target {target:,} by {d} {STATUS_EN[status]}: {mean:,.0f} expected on air (80% interval "
        f"{lo80:,.0f}-{hi80:,.0f}), P = {prob:.0%} (on track from {ON_TRACK_P:.0%}, off track below "
        f"{OFF_TRACK_P:.0%}).",
    )


def describe_pace_caution(needed: float, last_3m: float) -> tuple[str, str]:
    """A second sentence for a target called on track while the last three months' pace is below the pace
    it needs: the model expects the pace to rise (a season, a growing programme), the months so far do not
    show it ("on track" at P = 81 % with 424 a month added against 622 needed read as all well)."""
    if not (np.isfinite(needed) and np.isfinite(last_3m)) or last_3m >= needed or needed <= 0:
        return "", ""
    return (
        f" 但近 3 个月每月新增 {last_3m:,.0f} 座，低于所需的每月 {needed:,.0f} 座：须按预测加快节奏。",
        f" But the last 3 months added {last_3m:,.0f} a month, below the {needed:,.0f} a month needed: "
        "the pace must rise as forecast.",
    )


def describe_requirement(
    status: str, target: int, target_date, as_of, count_known: float, pipeline_expected: float, median_days: float
) -> tuple[int | None, object, str, str]:
    """What must happen: the sites that must still enter the pipeline (the target less the count on
    air and the pipeline's expected arrivals by the date) and the month by which they must, given
    the median days from planning to air. Returns (sites, month end or None, zh, en)."""
    if status in ("reached", "missed"):
        return None, None, "", ""
    need = int(max(0, math.ceil(target - count_known - pipeline_expected)))
    d = pd.Timestamp(target_date).date()
    if need == 0:
        return (
            0,
            None,
            f"在途站址按观测到的各阶段时长即可达到 {target:,} 座（{d}），关键是按期推进。",
            (
                f"The sites already in the pipeline reach {target:,} by {d} at the observed stage durations: "
                "keep them moving."
            ),
        )
    if not math.isfinite(median_days):
        return (
            need,
            None,
            f"还需 {need} 个站址进入建设流程（尚无完整的规划至开通时长可参考）。",
            (f"{need} more sites must enter the pipeline (no completed planning-to-air time yet to say by when)."),
        )
    by = (pd.Timestamp(target_date) - pd.Timedelta(days=float(median_days))) + pd.offsets.MonthEnd(0)
    late = by < pd.Timestamp(as_of)
    zh = f"还需 {need} 个站址在 {by:%Y-%m} 前进入建设流程（规划至开通中位数 {median_days:.0f} 天）" + (
        "；该时间已过，须明显快于中位数推进。" if late else "。"
    )
    en = (
        f"{need} more sites must enter the pipeline by {by:%Y-%m}, given the {median_days:.0f}-day median "
        "from planning to air" + ("; that month has passed, so they must go faster than the median." if late else ".")
    )
    return need, by, zh, en


def describe_spread(
    target_date,
    as_of,
    lo80: float,
    hi80: float,
    pace_lo: float,
    pace_hi: float,
    pipeline_sites: int,
    pace_change_sd: float | None = None,
    pace_cap: float | None = None,
) -> tuple[str, str]:
    """Why the band is as wide as it is at a target's date: the months ahead times the range of
    monthly paces the backtests leave open, above what the pipeline holds; with `pace_change_sd`
    (sd of the pace's yearly log change) and `pace_cap` (the most a path may build a month), also
    how much the pace may drift a year and what bounds it."""
    months = max(0.0, (pd.Timestamp(target_date) - pd.Timestamp(as_of)).days / 30.4375)
    zh = (
        f"{months:.0f} 个月后的区间 {lo80:,.0f}–{hi80:,.0f}：在途 {pipeline_sites} 个站址之外，其余取决于"
        f"今后的建设节奏（回测校准后每月约 {pace_lo:,.1f}–{pace_hi:,.1f} 座），月数越多，区间越宽。"
    )
    en = (
        f"The band {lo80:,.0f}-{hi80:,.0f}, {months:.0f} months ahead: beyond the {pipeline_sites} sites in the "
        f"pipeline, the rest depends on the pace still to come (about {pace_lo:,.1f}-{pace_hi:,.1f} a month "
        "after calibration on the backtests), and the more months, the wider the band."
    )
    if pace_change_sd is not None and months > 12 and math.isfinite(pace_change_sd):
        pct = 100 * (math.exp(pace_change_sd) - 1)
        zh += f"建设节奏每年可能变化约 ±{pct:.0f}%"
        en += f" The pace may change by about ±{pct:.0f}% a year"
        if pace_cap is not None and math.isfinite(pace_cap) and pace_cap > 0:
            zh += f"，但任何情形下每月不超过 {pace_cap:,.1f} 座（已见最快 12 个月节奏的 {PACE_CAP_FACTOR:g} 倍）。"
            en += (
                f", but no path builds more than {pace_cap:,.1f} a month "
                f"({PACE_CAP_FACTOR:g}x the fastest 12 months seen)."
            )
        else:
            zh += "。"
            en += "."
    return zh, en
