"""The forecast's figures: the fan chart of the city and the districts' small multiples (at most
MAX_DISTRICT_PANELS of them, chosen by `choose_district_panels`, the rest summarised in one line)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.figures import count_axis, figure_lang, rank_districts
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
        "district_title": "{name} by district: on air and forecast (reconciled to the {whole})",
        "panels_gap": "Drawn: the {k} of {n:,} districts with stations furthest short of their share of the {d} target "
        "(then the most stations on air).",
        "panels_size": "Drawn: of the {n:,} districts with stations, the {k} with the most on air.",
        "others_target": "The other {m:,}: {now:,} on air, forecast {mean:,} by {d} against their share of {share:,}.",
        "others_end": "The other {m:,}: {now:,} on air, forecast {mean:,} by {d}.",
        "empty": "Not drawn: {e:,} districts with no station on air and none forecast.",
        "empty_named": "Not drawn (no station on air and none forecast): {names}.",
        "none_drawn": "No district has a station on air or forecast.",
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
        "district_title": "{name}分区：已开通与预测（与{whole}预测协调一致）",
        "panels_gap": "图中为 {n:,} 个有基站的区县中距 {d} 目标分解数缺口最大的 {k} 个（缺口相同者按已开通数）。",
        "panels_size": "图中为 {n:,} 个有基站的区县中已开通基站最多的 {k} 个。",
        "others_target": "其余 {m:,} 个：已开通 {now:,} 座，预测至 {d} 达 {mean:,} 座，目标分解数 {share:,} 座。",
        "others_end": "其余 {m:,} 个：已开通 {now:,} 座，预测至 {d} 达 {mean:,} 座。",
        "empty": "未绘出：{e:,} 个无已开通基站、亦无预测新增的区县。",
        "empty_named": "未绘出（无已开通基站、亦无预测新增）：{names}。",
        "none_drawn": "无区县有已开通或预测的基站。",
    },
}


#: The whole "city" in a chart's words, by city.toml's [city] kind.
_WHOLE = {
    "en": {"city": "city", "province": "province", "country": "country"},
    "zh": {"city": "全市", "province": "全省", "country": "全国"},
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
    count_axis(ax.yaxis)
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


#: Date ticks of a Chinese figure (matplotlib's month names are English): years, then months as 5月.
_ZH_TICKS = ["%Y", "%m月", "%d日", "%H:%M", "%H:%M", "%S.%f"]
_ZH_ZERO_TICKS = ["", "%Y", "%m月", "%m-%d", "%H:%M", "%H:%M"]

#: At most this many district panels in districts.png: a national run has thousands of counties, and
#: matplotlib's shared axes cost grows with the square of the panels (400 panels took 115 CPU s).
#: Twelve keep every district of a prefecture-level city (Karamay has four) and stay readable.
MAX_DISTRICT_PANELS = 12


@dataclass
class DistrictPanels:
    """Which districts `plot_districts` draws and the words that say why: `drawn` in panel order, `rule`
    (None when every district with a station is drawn), the `others` summarised in one line, the `empty`,
    and the date of the target whose shortfall chose the panels (None when it was not the rule)."""

    drawn: list[str]
    rule: str | None
    others: list[str]
    empty: list[str]
    target_date: pd.Timestamp | None


def is_empty_district(f) -> bool:
    """No station on air and none forecast (a district with sites in the pipeline is not empty). A district's
    forecast says so itself when the reconciliation knew (`empty`: asked of 8,733 counties three times a run)."""
    known = getattr(f, "empty", None)
    if known is not None:
        return known
    return float(f.history.iloc[-1]) == 0 and not (f.table["mean"].to_numpy(float) > 0).any()


def choose_district_panels(cf, limit: int = MAX_DISTRICT_PANELS) -> DistrictPanels:
    """The districts to draw, in linear time plus one sort: never an empty one (`is_empty_district`);
    all the others, in the city's order, when they fit in `limit` panels; else the `limit` the target
    depends on most: furthest short of their share of the first target still ahead (share minus forecast
    mean on its date), ties and a city without a target ahead by the most stations on air, then the order."""
    names = list(cf.districts)
    is_empty = {d: is_empty_district(cf.districts[d]) for d in names}
    empty = [d for d in names if is_empty[d]]
    full = [d for d in names if not is_empty[d]]
    if len(full) <= limit:
        return DistrictPanels(full, None, [], empty, None)
    now = np.array([float(cf.districts[d].history.iloc[-1]) for d in full])
    table, when = _next_target_rows(cf)
    gap = np.zeros(len(full))
    if when is not None:
        rows = table.drop_duplicates("district").set_index("district")
        short = (rows["district_target"] - rows["mean"]).clip(lower=0)
        gap = short.reindex(full).fillna(0.0).to_numpy(float)
    order = rank_districts(gap, now)  # gap, then stations, then the city's order
    drawn = [full[i] for i in order[:limit]]
    rule = "panels_gap" if when is not None and (gap > 0).any() else "panels_size"
    return DistrictPanels(drawn, rule, [full[i] for i in order[limit:]], empty, when if rule == "panels_gap" else None)


def _next_target_rows(cf) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """The district table's rows of the first target whose date is after the report date, and that date."""
    t = cf.district_table
    if not len(t) or "target_date" not in t:
        return pd.DataFrame(), None
    dates = pd.to_datetime(t["target_date"])
    ahead = dates[dates > cf.city.as_of] if cf.city.as_of is not None else dates
    if ahead.empty:
        return pd.DataFrame(), None
    when = ahead.min()
    return t[dates == when], when


#: Empty districts named in the footer up to this many; beyond it, counted.
MAX_NAMED_EMPTY = 5


def describe_district_panels(cf, panels: DistrictPanels, lang: str = "en", labels: dict | None = None) -> str:
    """The figure's footer: which rule chose the panels, the other districts in one line, the empty ones."""
    lang = figure_lang(lang)
    L = _LABELS[lang]
    n_full = len(panels.drawn) + len(panels.others)
    lines = []
    if panels.rule is not None:
        when = panels.target_date
        lines.append(L[panels.rule].format(k=len(panels.drawn), n=n_full, d=when.date() if when is not None else ""))
        now = sum(float(cf.districts[d].history.iloc[-1]) for d in panels.others)
        table, target_when = _next_target_rows(cf)
        if target_when is not None:
            rows = table[table["district"].isin(set(panels.others))].drop_duplicates("district")
            lines.append(
                L["others_target"].format(
                    m=len(panels.others),
                    now=round(now),
                    mean=round(float(rows["mean"].sum())),
                    d=target_when.date(),
                    share=round(float(rows["district_target"].sum())),
                )
            )
        else:
            end = cf.city.table["date"].iloc[-1]
            mean = sum(float(cf.districts[d].table["mean"].iloc[-1]) for d in panels.others)
            lines.append(L["others_end"].format(m=len(panels.others), now=round(now), mean=round(mean), d=end.date()))
    if 0 < len(panels.empty) <= MAX_NAMED_EMPTY:
        sep = "、" if lang == "zh" else ", "
        lines.append(L["empty_named"].format(names=sep.join((labels or {}).get(d, d) for d in panels.empty)))
    elif panels.empty:
        lines.append(L["empty"].format(e=len(panels.empty)))
    if not panels.drawn:
        lines.append(L["none_drawn"])
    return " ".join(lines)


def plot_districts(
    cf, lang: str = "en", labels: dict[str, str] | None = None, limit: int = MAX_DISTRICT_PANELS, kind: str = "city"
):
    """Small multiples: each district's history, reconciled forecast with 80% band and its share of
    each target; `labels` maps a district's name to its panel title (English pages: English and Chinese).
    At most `limit` panels (`choose_district_panels`): the figure then says which rule chose them and
    sums up the others in one line; districts with no station on air and none forecast are not drawn. `kind`:
    what the whole is (city.toml's [city] kind: city, province, country), as the title says it."""
    import matplotlib.pyplot as plt
    from matplotlib import dates as mdates

    lang = figure_lang(lang)
    L = _LABELS[lang]
    panels = choose_district_panels(cf, limit)
    n = max(1, len(panels.drawn))
    cols = 2 if n > 1 else 1
    rows = int(math.ceil(n / cols))
    height = 3.4 * rows
    fig, axes = plt.subplots(rows, cols, figsize=(10, height), squeeze=False, sharex=True)
    table = cf.district_table
    if len(table):  # the drawn districts' rows, grouped once (a filter per panel read every row each time)
        table = table[table["district"].isin(set(panels.drawn))]
    by_district = dict(tuple(table.groupby("district", sort=False))) if len(table) else {}
    for ax, d in zip(axes.ravel(), panels.drawn):
        _plot_district_panel(ax, cf.districts[d], by_district.get(d), (labels or {}).get(d, d), L)
    for ax in axes.ravel()[len(panels.drawn) :]:
        ax.set_visible(False)
    if panels.drawn:
        axes[0, 0].legend(fontsize=8, loc="upper left")
    # the title as far from the top in inches as on two rows: at 0.98 of a taller figure it ran into the panels
    fig.suptitle(
        L["district_title"].format(
            name=(cf.city.name_zh or cf.city.name) if lang == "zh" else cf.city.name,
            whole=_WHOLE[lang].get(kind, _WHOLE[lang]["city"]),
        ),
        y=0.98 if height <= 6.8 else 1 - 0.136 / height,
    )
    # month ticks of a short span read "2020-01" side by side and ran together: month names under one year
    months = {"formats": _ZH_TICKS, "zero_formats": _ZH_ZERO_TICKS} if lang == "zh" else {}
    locator = axes[-1, 0].xaxis.get_major_locator()
    axes[-1, 0].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, **months))
    fig.supylabel(L["ylabel"], fontsize=9)
    fig.tight_layout()
    footer = describe_district_panels(cf, panels, lang, labels)
    if footer:  # (only when districts are left out: a city whose districts all fit draws as it always did)
        fig.text(0.01, -0.01, footer, fontsize=8, color="#444", ha="left", va="top", wrap=True)
    return fig


def _plot_district_panel(ax, f, sub: pd.DataFrame | None, title: str, L: dict) -> None:
    """One district's panel: history, reconciled mean and 80% band, a star for its share of each target."""
    t = f.table
    x = pd.DatetimeIndex([f.history.index[-1]]).append(pd.DatetimeIndex(t["date"]))
    last = f.history.iloc[-1]
    ax.fill_between(x, np.r_[last, t["lo80"]], np.r_[last, t["hi80"]], color="#4292c6", alpha=0.5, lw=0, label=L["i80"])
    ax.plot(x, np.r_[last, t["mean"]], color="#08306b", ls="--", label=L["mean"])
    ax.plot(f.history.index, f.history.to_numpy(), color="black", marker="o", ms=2, label=L["history"])
    for _, r in sub.iterrows() if sub is not None else []:
        if r["target_date"] <= x[-1]:
            ax.plot([r["target_date"]], [r["district_target"]], marker="*", ms=11, color="#d62728")
    ax.set_title(title, fontsize=10)
    ax.set_ylim(bottom=0)
    count_axis(ax.yaxis)
    ax.grid(alpha=0.3)
