"""The forecast's verdict in words (Chinese and English): on track / at risk / off track for a
target still ahead, reached / missed for one whose date has passed, what must happen to reach it,
and why a long horizon's band is as wide as it is. Pure text from numbers; no model here."""

from __future__ import annotations

import math
from typing import NamedTuple

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
    "too_early": "为时尚早",
}
STATUS_EN = {
    "reached": "reached",
    "missed": "missed",
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "too_early": "too early to judge",
}


def unit_words(unit: str = "stations") -> tuple[str, str]:
    """The words after a count, Chinese and English: 座 and nothing for stations; the unit given for a
    published series in another (万: "480 万", never "480 座" for a count of 4.8 million)."""
    if not unit or unit == "stations":
        return "座", ""
    return unit, unit


def format_count(x: float, digits: int = 0) -> str:
    """A count with thousands separators and `digits` decimals (a whole target stays whole)."""
    if float(x).is_integer() and digits == 0:
        return f"{int(x):,}"
    return f"{x:,.{digits}f}"


def percent(p: float) -> str:
    """A probability as the pages write it: whole per cent, but '>99%' and '<1%' rather than 100 % or 0 % for
    what is only nearly sure (the index said '> 99 %' where the verdict said 100 %; a share of simulated paths
    of 1.0 is not certainty either: none of the paths drawn fell short)."""
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{p:.0%}"


def classify_target(prob: float, target: int, target_date, as_of, count_known: float, calibrated: bool = True) -> str:
    """'reached' / 'missed' once the date has passed (or 'reached' as soon as the count is there);
    'too_early' for a target still ahead when the forecast is not `calibrated` (no backtest origin: its
    P is the model's own, untested, and a programme's first months say little of its pace); else
    'on_track' (P >= ON_TRACK_P), 'at_risk' (P >= OFF_TRACK_P) or 'off_track'."""
    if count_known >= target:
        return "reached"
    if pd.Timestamp(as_of) >= pd.Timestamp(target_date):
        return "missed"
    if not calibrated:
        return "too_early"
    if prob >= ON_TRACK_P:
        return "on_track"
    return "at_risk" if prob >= OFF_TRACK_P else "off_track"


def describe_verdict(
    status: str,
    target: float,
    target_date,
    prob: float,
    mean: float,
    lo80: float,
    hi80: float,
    count_known: float,
    unit: str = "stations",
    digits: int = 0,
) -> tuple[str, str]:
    """One sentence per language: the status, the expected count and its 80% band, and P (never
    a probability for a target whose date has passed); counts in `unit` with `digits` decimals."""
    d = pd.Timestamp(target_date).date()
    u_zh, u_en = unit_words(unit)
    sp = f" {u_en}" if u_en else ""
    tgt = format_count(target, digits if not float(target).is_integer() else 0)
    known, m, lo, hi = (format_count(x, digits) for x in (count_known, mean, lo80, hi80))
    if status in ("reached", "missed"):
        return (
            f"目标 {tgt} {u_zh}（{d}）{STATUS_ZH[status]}：已开通 {known} {u_zh}。",
            f"Target {tgt}{sp} by {d} {STATUS_EN[status]}: {known}{sp} on air.",
        )
    if status == "too_early":
        return (
            f"目标 {tgt} {u_zh}（{d}）{STATUS_ZH[status]}：历史太短，尚无回测可校准；按模型预计开通 {m} {u_zh}"
            f"（80% 区间 {lo}–{hi}，未经校准），达成概率约 {percent(prob)}，仅供参考。",
            f"Target {tgt}{sp} by {d}: {STATUS_EN[status]}. The history is too short for any backtest; the model "
            f"alone expects {m}{sp} on air (80% interval {lo}-{hi}, uncalibrated), P about {percent(prob)}, a rough "
            "guide only.",
        )
    return (
        f"目标 {tgt} {u_zh}（{d}）{STATUS_ZH[status]}：预计开通 {m} {u_zh}（80% 区间 "
        f"{lo}–{hi}），达成概率 {percent(prob)}（≥{ON_TRACK_P:.0%} 为正常，<{OFF_TRACK_P:.0%} 为滞后）。",
        f"Target {tgt}{sp} by {d} {STATUS_EN[status]}: {m}{sp} expected on air (80% interval "
        f"{lo}-{hi}), P = {percent(prob)} (on track from {ON_TRACK_P:.0%}, off track below "
        f"{OFF_TRACK_P:.0%}).",
    )


def describe_pace_against_verdict(
    status: str, needed: float, last_3m: float, unit: str = "stations", digits: int = 0
) -> tuple[str, str]:
    """A second sentence where the last three months' pace disagrees with the verdict: a target on track while
    that pace is below the pace it needs (the model expects the pace to rise: "on track" at P = 81 % with 424 a
    month added against 622 needed read as all well), or at risk or off track while it is at or above it (the
    model expects the pace to fall: "off track, P 38 %" beside 29.0 a month added against 25.1 needed read as a
    contradiction). ("", "") where they agree."""
    if not (np.isfinite(needed) and np.isfinite(last_3m)) or needed <= 0:
        return "", ""
    behind = last_3m < needed
    if not ((status == "on_track" and behind) or (status in ("at_risk", "off_track") and not behind)):
        return "", ""
    u_zh, u_en = unit_words(unit)
    sp = f" {u_en}" if u_en else ""
    last, need = format_count(last_3m, digits), format_count(needed, digits)
    if behind:
        return (
            f" 但近 3 个月每月新增 {last} {u_zh}，低于所需的每月 {need} {u_zh}：须按预测加快节奏。",
            f" But the last 3 months added {last}{sp} a month, below the {need}{sp} a month needed: "
            "the pace must rise as forecast.",
        )
    return (
        f" 近 3 个月每月新增 {last} {u_zh}，不低于所需的每月 {need} {u_zh}；预测认为此后节奏放缓（季节、建设计划），"
        "保持近期节奏即可达标。",
        f" The last 3 months added {last}{sp} a month, at or above the {need}{sp} a month needed; the forecast "
        "expects the pace to slow (the season, the programme): keeping the recent pace would reach it.",
    )


def describe_requirement(
    status: str,
    target: float,
    target_date,
    as_of,
    count_known: float,
    pipeline_expected: float,
    median_days: float,
    has_pipeline: bool = True,
    pipeline_sites: int = 0,
) -> tuple[int | None, object, str, str]:
    """What must happen: the sites that must still enter the pipeline (the target less the count on
    air and the pipeline's expected arrivals by the date) and the month by which they must, given
    the median days from planning to air. Returns (sites, month end or None, zh, en). Nothing for a
    published series (`has_pipeline` False): it counts what was built and has no sites to plan. With no
    completed planning-to-air time, the sites in the pipeline (`pipeline_sites`) have no modelled arrival: the
    need is then said as a range, from all of them arriving in time to none of them."""
    if status in ("reached", "missed") or not has_pipeline:
        return None, None, "", ""
    # (less a twentieth of a site: the pipeline's expected arrivals are a Monte-Carlo mean, and 222 less 146.995
    # is 75 sites to add, not 76)
    need = int(max(0, math.ceil(target - count_known - pipeline_expected - 0.05)))
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
        # (83 were said "needed" beside 11 sites in the pipeline, four of them planned on air before the date)
        fewest = int(max(0, math.ceil(target - count_known - max(pipeline_sites, pipeline_expected) - 0.05)))
        if fewest < need:
            return (
                need,
                None,
                f"还需 {fewest:,}–{need:,} 个站址进入建设流程："
                f"在途 {pipeline_sites:,} 个站址若全部按期开通需 {fewest:,} 个，"
                f"若均未开通需 {need:,} 个（尚无阶段时长可推算其开通时间）。",
                (
                    f"{fewest:,}–{need:,} more sites must enter the pipeline: {fewest:,} if all "
                    f"{pipeline_sites:,} sites in it "
                    f"reach air by then, {need:,} if none does (no stage durations yet to time them)."
                ),
            )
        return (
            need,
            None,
            f"还需 {need:,} 个站址进入建设流程（尚无完整的规划至开通时长可参考）。",
            (f"{need:,} more sites must enter the pipeline (no completed planning-to-air time yet to say by when)."),
        )
    by = (pd.Timestamp(target_date) - pd.Timedelta(days=float(median_days))) + pd.offsets.MonthEnd(0)
    late = by < pd.Timestamp(as_of)
    zh = f"还需 {need:,} 个站址在 {by:%Y-%m} 前进入建设流程（规划至开通中位数 {median_days:.0f} 天）" + (
        "；该时间已过，须明显快于中位数推进。" if late else "。"
    )
    en = (
        f"{need:,} more sites must enter the pipeline by {by:%Y-%m}, given the {median_days:.0f}-day median "
        "from planning to air" + ("; that month has passed, so they must go faster than the median." if late else ".")
    )
    return need, by, zh, en


class SpreadContext(NamedTuple):
    """What `describe_spread` says beside the band: the pace's yearly log change sd (None: not modelled),
    the most the model's pace may reach a month (inf or None: no cap), whether the band was calibrated on
    backtest origins, the months ahead still in the programme's first year (its ramp-up) and the unit."""

    pace_change_sd: float | None = None
    pace_cap: float | None = None
    calibrated: bool = True
    ramp_months: int = 0
    unit_zh: str = "座"
    unit_en: str = ""
    has_pipeline: bool = True


def describe_spread(
    target_date,
    as_of,
    lo80: float,
    hi80: float,
    pace_lo: float,
    pace_hi: float,
    pipeline_sites: int,
    ctx: SpreadContext | None = None,
    digits: int = 0,
) -> tuple[str, str]:
    """Why the band is as wide as it is at a target's date: the months ahead times the range of
    monthly paces the backtests leave open (or the model's own, uncalibrated, when there was no backtest
    origin), above what the pipeline holds; and (`ctx`) how much the pace may drift a year, what bounds it
    and whether that bound holds for the band (calibration may widen a band past the model's cap).
    `digits`: decimals of the counts (a series in 万 needs them)."""
    ctx = ctx or SpreadContext()
    months = max(0.0, (pd.Timestamp(target_date) - pd.Timestamp(as_of)).days / 30.4375)
    ahead = f"{months:.0f} month{'' if round(months) == 1 else 's'} ahead"
    u_zh, u_en = ctx.unit_zh, (f" {ctx.unit_en}" if ctx.unit_en else "")
    band = f"{lo80:,.{digits}f}–{hi80:,.{digits}f}"
    pace = f"{pace_lo:,.{digits + 1}f}–{pace_hi:,.{digits + 1}f}"
    how_zh = "回测校准后" if ctx.calibrated else "模型自身给出，尚无回测可校准，"
    how_en = (
        "after calibration on the backtests" if ctx.calibrated else "by the model alone, uncalibrated: no backtest yet"
    )
    pipe_zh = f"在途 {pipeline_sites} 个站址之外，其余" if ctx.has_pipeline else ""
    pipe_en = f"beyond the {pipeline_sites} sites in the pipeline, the rest" if ctx.has_pipeline else "it"
    zh = (
        f"{months:.0f} 个月后的区间 {band}：{pipe_zh}取决于"
        f"今后的建设节奏（{how_zh}每月约 {pace} {u_zh}），月数越多，区间越宽。"
    )
    en = (
        f"The band {band.replace('–', '-')}, {ahead}: {pipe_en} depends on the pace still to "
        f"come (about {pace.replace('–', '-')}{u_en} a month {how_en}), and the more months, the wider the band."
    )
    if ctx.ramp_months > 0:
        zh += f"建设开始不足一年，今后 {ctx.ramp_months} 个月的节奏仍可能成倍加快或放慢。"
        en += (
            f" The buildout is under a year old: over the next {ctx.ramp_months} months its pace may still "
            "rise or fall several-fold."
        )
    sd = ctx.pace_change_sd
    if sd is None or months <= 12 or not math.isfinite(sd):
        return zh, en
    if sd <= 0:  # (a drift on under two years of additions models none: say so, not "±0 %")
        zh += "模型沿用已测得的节奏，不设逐年变化（历史中未见超出噪声的变化，或历史太短无从测出）"
        en += (
            " The model keeps the pace it measured, with no year-to-year change (the history shows none beyond "
            "noise, or is too short to show one)"
        )
    else:
        pct = 100 * (math.exp(sd) - 1)
        zh += f"建设节奏每年可能变化约 ±{pct:.0f}%"
        en += f" The pace may change by about ±{pct:.0f}% a year"
    cap = ctx.pace_cap
    if cap is None or not math.isfinite(cap) or cap <= 0:
        if ctx.ramp_months > 0 or cap is not None:
            zh += "，尚无可作上限的整年节奏。"
            en += ", with no cap yet: no full year's pace has been seen."
        else:
            zh += "。"
            en += "."
        return zh, en
    cap_txt = f"{cap:,.{digits + 1}f}"
    if pace_hi <= cap:
        zh += f"，但模型的建设节奏不超过每月 {cap_txt} {u_zh}（已见最快 12 个月节奏的 {PACE_CAP_FACTOR:g} 倍）。"
        en += (
            f", but the model's pace stays below {cap_txt}{u_en} a month ({PACE_CAP_FACTOR:g}x the fastest 12 months "
            "seen)."
        )
    else:  # the band's pace is past the model's cap: calibration or the published counts' spread widened it
        zh += (
            f"；模型本身的节奏上限为每月 {cap_txt} {u_zh}（已见最快 12 个月节奏的 {PACE_CAP_FACTOR:g} 倍），"
            "区间按回测误差或已公布数的波动放宽后超出该上限。"
        )
        en += (
            f"; the model's own pace is held below {cap_txt}{u_en} a month ({PACE_CAP_FACTOR:g}x the fastest 12 "
            "months seen), and the band, widened to the backtest errors or the published counts' spread, "
            "goes past it."
        )
    return zh, en
