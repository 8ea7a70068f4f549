"""The forecast's figures: the fan chart of the city and the districts' small multiples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.figures import figure_lang
from analysis.forecast.names import model_name
from analysis.forecast.series import _month_end, _summarize, count_decimals, published_mask
from analysis.verdict import format_count, percent, unit_words

# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

_LABELS = {
    "en": {
        "history": "on air (month end)",
        "published": "published",
        "interpolated": "interpolated between published counts",
        "mean": "forecast (mean)",
        "i80": "80% interval",
        "i95": "95% interval",
        "ylabel": "5G stations on air (cumulative)",
        "ylabel_unit": "5G stations on air (cumulative, {unit})",
        "xlabel": "month end",
        "as_of": "as of {d}",
        "title": "{name}: 5G stations on air, forecast to {end}",
        "target": "target {n}{u} by {d}: P = {p}",
        "reached": "target {n}{u} by {d}: reached",
        "missed": "target {n}{u} by {d}: missed",
        "too_early": "target {n}{u} by {d}: too early to judge",
        "source": "Source: {src}. Model: {name} ({model}; chosen by rolling-origin backtest, MASE at 3/6/12 months). "
        "Shaded: 80% and 95% of {n:,} simulated paths.",
        "district_title": "{name} by district: on air and forecast (reconciled to the city)",
    },
    "zh": {
        "history": "已开通（月末）",
        "published": "公布数",
        "interpolated": "公布数之间的插值",
        "mean": "预测（均值）",
        "i80": "80% 区间",
        "i95": "95% 区间",
        "ylabel": "已开通 5G 基站数（累计，座）",
        "ylabel_unit": "已开通 5G 基站数（累计，{unit}）",
        "xlabel": "月末",
        "as_of": "截至 {d}",
        "title": "{name}：5G 基站开通数及预测（至 {end}）",
        "target": "目标 {n} {u}（{d}）：达成概率 {p}",
        "reached": "目标 {n} {u}（{d}）：已达成",
        "missed": "目标 {n} {u}（{d}）：未达成",
        "too_early": "目标 {n} {u}（{d}）：为时尚早",
        "source": "数据来源：{src}。模型：{name}（{model}；滚动起点回测选定，3/6/12 个月 MASE）。"
        "阴影：{n:,} 条模拟路径的 80% 与 95% 区间。",
        "district_title": "{name}分区：已开通与预测（与全市预测协调一致）",
    },
}


def _plot_history(ax, h: pd.Series, observed, L: dict) -> None:
    """The months so far: a line through every month end, dots only where a count was published (a month
    interpolated between two published counts is drawn as the line alone, not as a count someone gave)."""
    pub = published_mask(h, observed)
    if pub.all():
        ax.plot(h.index, h.to_numpy(), color="black", lw=2, marker="o", ms=3, label=L["history"])
        return
    ax.plot(h.index, h.to_numpy(), color="black", lw=1.2, ls="-", label=L["interpolated"])
    ax.plot(h.index[pub], h.to_numpy()[pub], ls="none", color="black", marker="o", ms=4, label=L["published"])


def plot_fan(fc, lang: str = "en", ax=None, title: str | None = None):
    """Fan chart: monthly history, forecast mean, 80% and 95% bands, targets with their probability,
    the report date; title, axis units and source in the figure itself. Returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib import dates as mdates

    lang = figure_lang(lang)
    L = _LABELS[lang]
    u_zh, u_en = unit_words(fc.unit)
    unit = u_zh if lang == "zh" else (f" {u_en}" if u_en else "")
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
    _plot_history(ax, h, getattr(fc, "observed", None), L)
    if fc.as_of is not None:
        ax.axvline(fc.as_of, color="grey", lw=1, ls=":")
        ax.annotate(
            L["as_of"].format(d=fc.as_of.date()),
            # at the foot of its line, under the rising counts: at the top it ran under the legend
            (fc.as_of, 0.02),
            xycoords=("data", "axes fraction"),
            ha="right",
            va="bottom",
            fontsize=8,
            color="grey",
            rotation=90,
        )
    for _, r in fc.targets.iterrows():
        ax.plot([r["target_date"]], [r["target"]], marker="*", ms=14, color="#d62728", zorder=5)
        ax.axhline(r["target"], color="#d62728", lw=0.6, ls=":", alpha=0.6)
        # a target already reached or past its date is a fact, never a probability
        status = r.get("status")
        key = status if status in ("reached", "missed", "too_early") else None
        key = key or ("target" if pd.notna(r["prob_reach"]) else None)
        n = format_count(float(r["target"]), count_decimals([r["target"]]))
        when = pd.Timestamp(r["target_date"]).date()
        label = L[key].format(n=n, u=unit, d=when, p=percent(float(r["prob_reach"]))) if key else n
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
    ax.set_ylabel(L["ylabel"] if fc.unit in ("", "stations") else L["ylabel_unit"].format(unit=fc.unit))
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
        L["source"].format(src=src, name=model_name(fc.model, lang), model=fc.model, n=fc.paths.shape[0]),
        fontsize=7.5,
        color="#444",
        ha="left",
        va="top",
        wrap=True,
    )
    return fig


def plot_districts(cf, lang: str = "en", labels: dict[str, str] | None = None):
    """Small multiples: each district's history, reconciled forecast with 80% band and its share of
    each target; `labels` maps a district's name to its panel title (English pages: English and Chinese)."""
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
        ax.set_title((labels or {}).get(d, d), fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(cf.districts) :]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.suptitle(L["district_title"].format(name=(cf.city.name_zh or cf.city.name) if lang == "zh" else cf.city.name))
    fig.supylabel(L["ylabel"], fontsize=9)
    fig.tight_layout()
    return fig
