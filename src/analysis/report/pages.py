"""What the notebooks show: one call per step that prints a heading, a sentence stating the numbers,
and a table or figure, in Chinese or English; the provenance box, "what changed since last month",
and the headline numbers recorded as tagged outputs for the report index and the tests.

Every number comes from the stage outputs the context reads (`Context.forecast/coverage/taskforce`)
or the cleaned stations; no page runs a stage. Each `show_*` returns the table it showed.
"""

from __future__ import annotations

import html

import pandas as pd

from analysis.config import CITY_TOTAL, OPERATOR_NAMES_ZH
from analysis.files import project_relative
from analysis.report.context import Context, cache_sentence, open_report, resolve_lang
from analysis.report.display import (
    TABLE_CSS,
    read_records,
    record,
    show_html,
    show_image,
    show_markdown,
    show_step,
    show_table,
    table_html,
)
from analysis.report.inputs import provenance_of
from analysis.report.text import (
    day,
    default_lang,
    district_label,
    extract_rule_text,
    label,
    n,
    pct,
    prob,
    say,
)
from analysis.schemas import on_air_at
from analysis.taskforce import (
    BLOCKER_EN,
    BLOCKER_ZH,
    PIPELINE_STAGES,
    STAGE_EN,
    STAGE_ZH,
    previous_report_date,
)

__all__ = [
    "Context",
    "open_report",
    "resolve_lang",
    "read_records",
    "record",
    "table_html",
    "default_lang",
    "previous_report_date",
    "n",
    "pct",
    "prob",
    "day",
    "district_label",
]


def count_on_air(ctx: Context, date, district: str | None = None) -> int:
    """Stations on air on `date` (the one on-air rule), in the city or one district."""
    on = on_air_at(ctx.stations, date)
    if district is not None:
        on &= ctx.stations["district"] == district
    return int(on.sum())


# --------------------------------------------------------------------------------------------
# Changes since the previous report
# --------------------------------------------------------------------------------------------


def changes_since_last_month(ctx: Context) -> dict:
    """Stations added, sites that moved stage and the coverage change between the previous report
    date and the report date, from the two dates' stage outputs (each stage run once for the previous
    date when its outputs are missing): {"added": by district, "moves": DataFrame, "coverage": DataFrame}."""
    prev, now = ctx.previous, ctx.as_of
    names = list(ctx.city.district_names)
    added = pd.DataFrame(
        {
            "district": names + [CITY_TOTAL],
            "before": [count_on_air(ctx, prev, d) for d in names] + [count_on_air(ctx, prev)],
            "now": [count_on_air(ctx, now, d) for d in names] + [count_on_air(ctx, now)],
        }
    )
    added["added"] = added["now"] - added["before"]
    s_now = ctx.taskforce().sites[["station_id", "stage"]]
    s_prev = ctx.taskforce(prev).sites[["station_id", "stage"]]
    both = s_now.merge(s_prev, on="station_id", how="left", suffixes=("", "_prev"))
    both["stage_prev"] = both["stage_prev"].fillna("new")
    moved = both[both["stage"] != both["stage_prev"]]
    moves = (
        moved.groupby(["stage_prev", "stage"])
        .size()
        .rename("sites")
        .reset_index()
        .sort_values("sites", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    c_now, c_prev = ctx.coverage().by_district, ctx.coverage(prev).by_district
    cov = pd.DataFrame(
        {
            "district": c_now["district"],
            "urban_before": c_prev["urban_covered_pct"].to_numpy(),
            "urban_now": c_now["urban_covered_pct"].to_numpy(),
            "sites_before": c_prev["n_key_sites_covered"].to_numpy(),
            "sites_now": c_now["n_key_sites_covered"].to_numpy(),
            "n_sites": c_now["n_key_sites"].to_numpy(),
        }
    )
    return {"added": added, "moves": moves, "coverage": cov}


# --------------------------------------------------------------------------------------------
# Provenance and changes: on every page
# --------------------------------------------------------------------------------------------


def show_changes(ctx: Context) -> None:
    """The "what changed since last month" table: stations added, sites that moved stage, coverage change."""
    ch = changes_since_last_month(ctx)
    L = ctx.lang
    a = ch["added"]
    show_step(
        say(
            L,
            f"与上月相比的变化（{day(ctx.previous)} → {day(ctx.as_of)}）",
            f"What changed since last month ({day(ctx.previous)} → {day(ctx.as_of)})",
        ),
        say(
            L,
            f"这一个月全市新开通 {n(a['added'].iloc[-1])} 座基站，{n(ch['moves']['sites'].sum())} 个站址阶段有变化。",
            f"In this month {n(a['added'].iloc[-1])} stations went on air in the city and "
            f"{n(ch['moves']['sites'].sum())} sites changed stage.",
        ),
    )
    cov = ch["coverage"].set_index("district")
    rows = []
    for _, r in a.iterrows():
        c = cov.loc[r["district"]] if r["district"] in cov.index else None
        rows.append(
            {
                say(L, "区县", "District"): district_label(ctx.city, r["district"], L),
                say(L, "上月已开通（座）", "On air last month"): n(r["before"]),
                say(L, "本月已开通（座）", "On air now"): n(r["now"]),
                say(L, "新增（座）", "Added"): f"{int(r['added']):+,}",
                say(L, "城区覆盖率（上月 → 本月）", "Built-up area covered (last month → now)"): "–"
                if c is None
                else f"{pct(c['urban_before'])} → {pct(c['urban_now'])}",
                say(L, "重点场所已覆盖（上月 → 本月）", "Key sites covered (last month → now)"): "–"
                if c is None
                else f"{n(c['sites_before'])} → {n(c['sites_now'])} / {n(c['n_sites'])}",
            }
        )
    show_table(pd.DataFrame(rows), source=ctx.source)
    if len(ch["moves"]):
        stage = STAGE_ZH if L == "zh" else STAGE_EN
        new = say(L, "（新列入）", "(new)")
        mv = pd.DataFrame(
            {
                say(L, "上月阶段", "Stage last month"): ch["moves"]["stage_prev"].map(lambda s: stage.get(s, new)),
                say(L, "本月阶段", "Stage now"): ch["moves"]["stage"].map(lambda s: stage.get(s, s)),
                say(L, "站址数（个）", "Sites"): ch["moves"]["sites"].map(n),
            }
        )
        show_table(mv, caption=say(L, "阶段变化的站址", "Sites that moved stage"))


def provenance(ctx: Context) -> dict:
    """What this page was made from: input hash and files, city config, package version, dates."""
    return {**provenance_of(ctx.city, ctx.as_of, ctx.cache, ctx.lang), "figure_lang": ctx.fig_lang}


def show_provenance(ctx: Context, with_changes: bool = True) -> None:
    """The provenance box (inputs' content hash, city config, package version, as-of and extract
    dates, how the data were cleaned, whether the cache was reused), then "what changed since last month"."""
    p = provenance(ctx)
    L = ctx.lang
    rows = [
        (say(L, "报告日期（截至）", "Report date (as of)"), p["as_of"]),
        (say(L, "上期报告日期", "Previous report date"), p["previous"]),
        (
            say(L, "城市配置", "City config"),
            f"{p['city_name']}: {p['city_config_rel']} (sha256 {p['city_config_sha256'][:12]})",
        ),
        (
            say(L, "输入文件内容哈希", "Inputs' content hash"),
            f"sha256 {p['inputs_sha256'][:16]} ({p['n_input_files']} " + say(L, "个文件）", "files)"),
        ),
        (say(L, "数据提取日期", "Records extracted"), p["extract_date"]),
        (
            say(L, "清洗口径", "How the data were cleaned"),
            say(
                L,
                f"站址记录按提取日期 {p['extract_date']} 清洗一次（{extract_rule_text(p['extract_rule'], 'zh')}）；"
                f"本报告只计 {p['as_of']} 及以前的开通日期和阶段日期，较晚的日期视为当时尚未发生。",
                f"the records were cleaned once, as of their extract date {p['extract_date']} ({p['extract_rule']}); "
                f"this report counts only on-air and stage dates on or before {p['as_of']}: later dates had not "
                "happened yet on that day.",
            ),
        ),
        (say(L, "缓存", "Cache"), cache_sentence(ctx).replace("`", "")),
        (say(L, "软件版本", "Package version"), f"fiveg-buildout-monitor {p['package_version']}"),
    ]
    if ctx.font_note:
        rows.append((say(L, "字体", "Fonts"), ctx.font_note))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    files = "".join(
        f"<li><code>{html.escape(project_relative(f['path']))}</code> sha256 {f['sha256'][:12]}, "
        f"{f['bytes']:,} bytes</li>"
        for f in p["files"]
    )
    show_html(
        TABLE_CSS + f'<div class="fiveg-box"><h4>{say(L, "本页数据来源", "What this page was made from")}</h4>'
        f'<table class="fiveg-table">{body}</table>'
        f"<details><summary>{say(L, '输入文件清单', 'Input files')}</summary><ul>{files}</ul></details></div>"
    )
    record("inputs_sha256", p["inputs_sha256"])
    record("cache_hit", bool(p["cache_hit"]))
    if with_changes:
        show_changes(ctx)


# --------------------------------------------------------------------------------------------
# 01 clean
# --------------------------------------------------------------------------------------------


def show_clean_counts(ctx: Context) -> None:
    """Rows in, kept, merged and quarantined, and the stations they make."""
    s = ctx.clean_summary
    L = ctx.lang
    show_step(
        say(L, "原始记录的去向", "What became of every raw row"),
        say(
            L,
            f"{len(s['files'])} 个文件共 {n(s['rows_in'])} 行：保留 {n(s['rows_kept'])} 行（即 {n(s['stations'])} 座站址），"
            f"合并为重复 {n(s['rows_merged'])} 行，隔离 {n(s['rows_quarantined'])} 行（附原因）。读入的行没有一行丢失。",
            f"{n(s['rows_in'])} rows in {len(s['files'])} files: {n(s['rows_kept'])} kept (that is, "
            f"{n(s['stations'])} stations), {n(s['rows_merged'])} merged as duplicates, {n(s['rows_quarantined'])} "
            "quarantined with a reason. No row read is lost.",
        ),
    )
    if s.get("failed_files"):
        show_html(
            TABLE_CSS
            + '<div class="fiveg-note">'
            + html.escape(
                say(
                    L,
                    f"有 {len(s['failed_files'])} 个文件无法读取，其中的记录未计入本报告：",
                    f"{len(s['failed_files'])} file(s) could not be read; their records are not in this report:",
                )
            )
            + "<ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in s["failed_files"])
            + "</ul></div>"
        )
    rows = [
        (say(L, "原始行", "Raw rows"), s["rows_in"]),
        (say(L, "保留（站址）", "Kept (stations)"), s["rows_kept"]),
        (say(L, "合并（重复）", "Merged (duplicates)"), s["rows_merged"]),
        (say(L, "隔离", "Quarantined"), s["rows_quarantined"]),
    ]
    show_table(
        pd.DataFrame({say(L, "行", "Rows"): [r[0] for r in rows], say(L, "数量", "Count"): [n(r[1]) for r in rows]}),
        source=ctx.source,
    )
    record("rows_in", s["rows_in"])
    record("stations", s["stations"])


def show_quarantine(ctx: Context) -> None:
    """Why rows were quarantined or merged, with the meaning of each reason."""
    s = ctx.clean_summary
    L = ctx.lang
    items = [(k, v, say(L, "隔离", "quarantined")) for k, v in s["quarantined_by_reason"].items()]
    items += [(k, v, say(L, "合并", "merged")) for k, v in s["merged_by_reason"].items()]
    items.sort(key=lambda x: -x[1])
    show_step(
        say(L, "隔离与合并的原因", "Why rows were quarantined or merged"),
        say(
            L,
            "每一类原因的行数；原因说明取自清洗规则。逐行明细见 quarantine.csv。",
            "Rows per reason; the meanings are the cleaning rules'. Row by row: quarantine.csv.",
        ),
    )
    meaning = s.get("reason_meanings", {})
    show_table(
        pd.DataFrame(
            {
                say(L, "去向", "Fate"): [i[2] for i in items],
                say(L, "原因", "Reason"): [i[0] for i in items],
                say(L, "说明（英文）", "Meaning"): [meaning.get(i[0], "") for i in items],
                say(L, "行数", "Rows"): [n(i[1]) for i in items],
            }
        ),
        source=ctx.source,
    )


def show_stations_by_district(ctx: Context) -> None:
    """Stations on air on the report date and at the end of each published count, by district and
    operator, checked against the counts the city published."""
    L = ctx.lang
    st = ctx.stations
    on = st[on_air_at(st, ctx.as_of)]
    ops = [o for o in ("CMCC", "CTCC", "CUCC", "CBN", "unknown") if (on["operator"] == o).any()]
    names = list(ctx.city.district_names)
    rows = []
    for d in names + [CITY_TOTAL]:
        sub = on if d == CITY_TOTAL else on[on["district"] == d]
        row = {say(L, "区县", "District"): district_label(ctx.city, d, L)}
        for o in ops:
            row[say(L, f"{OPERATOR_NAMES_ZH[o]}（{o}）", f"{o} ({OPERATOR_NAMES_ZH[o]})")] = n(
                (sub["operator"] == o).sum()
            )
        row[say(L, "合计（座）", "Total")] = n(len(sub))
        rows.append(row)
    reported = [t for t in ctx.city.targets if t.kind == "reported" and pd.Timestamp(t.date) <= ctx.as_of]
    checks = [(t, count_on_air(ctx, t.date)) for t in reported]
    check_text = "".join(
        say(
            L,
            f"城市通报 {day(t.date)} 已开通 {n(t.on_air)} 座，清洗后的数据为 {n(c)} 座"
            f"{'，一致' if c == t.on_air else f'，相差 {c - t.on_air:+d}'}。",
            f" The city reported {n(t.on_air)} on air on {day(t.date)}; the cleaned data give {n(c)}"
            f"{' — the same.' if c == t.on_air else f' ({c - t.on_air:+d}).'}",
        )
        for t, c in checks
    )
    show_step(
        say(
            L,
            f"截至 {day(ctx.as_of)} 已开通的基站（按区县和运营商）",
            f"Stations on air on {day(ctx.as_of)}, by district and operator",
        ),
        say(L, f"全市已开通 {n(len(on))} 座。", f"{n(len(on))} stations on air in the city.") + check_text,
    )
    show_table(pd.DataFrame(rows), source=ctx.source)
    record("on_air_as_of", int(len(on)))
    for t, c in checks:
        record(f"on_air_{day(t.date)}", int(c))


# --------------------------------------------------------------------------------------------
# 02 forecast
# --------------------------------------------------------------------------------------------


def _target_label(t, lang: str) -> str:
    return (t.get("label_zh") if lang == "zh" else t.get("label_en")) or ""


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
                say(L, "目标或通报", "Target or count"): (t.label_zh if L == "zh" else t.label_en),
                say(L, "日期", "Date"): day(t.date),
                say(L, "基站数（座）", "Stations"): n(t.on_air),
                say(L, "当日实际（座）", "Actual on that date"): n(count_on_air(ctx, t.date))
                if pd.Timestamp(t.date) <= ctx.as_of
                else "–",
                say(L, "尚需（座）", "Still to build"): "–",
                say(L, "每月需（座）", "Needed per month"): "–",
                say(L, "近3个月每月（座）", "Achieved per month, last 3"): "–",
                say(L, "预测均值（80% 区间）", "Forecast mean (80 % interval)"): "–",
                say(L, "达成概率", "Probability of reaching it"): "–",
            }
        )
    for _, r in cf.targets.iterrows():
        t = labels.get(pd.Timestamp(r["target_date"]))
        if pd.Timestamp(r["target_date"]) <= ctx.as_of:  # due already: what happened, not a forecast
            got = count_on_air(ctx, r["target_date"])
            rows.append(
                {
                    say(L, "目标或通报", "Target or count"): (t.label_zh if L == "zh" else t.label_en) if t else "",
                    say(L, "日期", "Date"): day(r["target_date"]),
                    say(L, "基站数（座）", "Stations"): n(r["target"]),
                    say(L, "当日实际（座）", "Actual on that date"): n(got),
                    say(L, "尚需（座）", "Still to build"): "–",
                    say(L, "每月需（座）", "Needed per month"): "–",
                    say(L, "近3个月每月（座）", "Achieved per month, last 3"): "–",
                    say(L, "预测均值（80% 区间）", "Forecast mean (80 % interval)"): "–",
                    say(L, "达成概率", "Probability of reaching it"): say(L, "已达成", "reached")
                    if got >= r["target"]
                    else say(L, f"未达成（差 {n(r['target'] - got)}）", f"missed by {n(r['target'] - got)}"),
                }
            )
            continue
        rows.append(
            {
                say(L, "目标或通报", "Target or count"): (t.label_zh if L == "zh" else t.label_en) if t else "",
                say(L, "日期", "Date"): day(r["target_date"]),
                say(L, "基站数（座）", "Stations"): n(r["target"]),
                say(L, "当日实际（座）", "Actual on that date"): say(L, f"现 {n(now)}", f"now {n(now)}"),
                say(L, "尚需（座）", "Still to build"): n(max(int(r["target"]) - now, 0)),
                say(L, "每月需（座）", "Needed per month"): f"{r['pace_needed_per_month']:.1f}",
                say(L, "近3个月每月（座）", "Achieved per month, last 3"): f"{r['pace_last_3m']:.1f}",
                say(
                    L, "预测均值（80% 区间）", "Forecast mean (80 % interval)"
                ): f"{n(r['mean'])} ({n(r['lo80'])}–{n(r['hi80'])})",
                say(L, "达成概率", "Probability of reaching it"): prob(r["prob_reach"]),
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
            f"截至 {day(ctx.as_of)} 已开通 {n(now)} 座。到 {day(first['target_date'])} 要达到 {n(first['target'])} 座，"
            f"还需 {n(max(first['target'] - now, 0))} 座，即每月约 {first['pace_needed_per_month']:.1f} 座；"
            f"近 3 个月实际每月 {first['pace_last_3m']:.1f} 座。模型（{cf.model}）估计按期达成的概率为 "
            f"{prob(first['prob_reach'])}。",
            f"{n(now)} stations on air on {day(ctx.as_of)}. Reaching {n(first['target'])} by "
            f"{day(first['target_date'])} needs {n(max(first['target'] - now, 0))} more, about "
            f"{first['pace_needed_per_month']:.1f} a month; the last 3 months added "
            f"{first['pace_last_3m']:.1f} a month. The model ({cf.model}) gives a probability of "
            f"{prob(first['prob_reach'])} of reaching it on time.",
        )
    else:
        sent = say(
            L,
            f"截至 {day(ctx.as_of)} 已开通 {n(now)} 座；城市配置中的目标均已到期。",
            f"{n(now)} stations on air on {day(ctx.as_of)}; every target in the city config is due already.",
        )
    show_step(say(L, "目标、进度与达成概率", "Targets, progress and the probability of reaching them"), sent)
    table = show_table(
        target_table(ctx),
        source=ctx.source
        + say(
            L,
            f"；预测模型 {cf.model}，由滚动起点回测选定。",
            f"; forecast model {cf.model}, chosen by rolling-origin backtest.",
        ),
    )
    for _, r in tg.iterrows():
        key = day(r["target_date"])
        record(f"target_{key}", int(r["target"]))
        record(f"prob_reach_{key}", round(float(r["prob_reach"]), 4))
        record(f"pace_needed_{key}", round(float(r["pace_needed_per_month"]), 2))
    return table


def show_fan_chart(ctx: Context) -> None:
    """The fan chart: history, forecast with 80 % and 95 % bands, targets with their probability."""
    cf = ctx.forecast()
    L = ctx.lang
    show_step(
        say(L, "已开通基站数与预测", "Stations on air and the forecast"),
        say(
            L,
            "黑线为每月末已开通数；虚线为预测均值，深浅阴影为 80% 和 95% 区间；红星为目标及其达成概率。",
            "Black: stations on air at each month end; dashed: forecast mean, shaded: 80 % and 95 % intervals; "
            "red stars: the targets and the probability of reaching each.",
        ),
    )
    show_image(cf.figures["forecast"])


def show_district_forecast(ctx: Context) -> pd.DataFrame:
    """Each district's share of the targets, its forecast and probability; small multiples."""
    cf = ctx.forecast()
    L = ctx.lang
    dt_ = cf.district_table
    if not len(dt_):
        return pd.DataFrame()
    first_date = dt_["target_date"].min()
    sub = dt_[dt_["target_date"] == first_date]
    basis = str(sub["share_source"].iloc[0])
    show_step(
        say(
            L, f"各区县到 {day(first_date)} 的分解目标与预测", f"Each district's share of the {day(first_date)} target"
        ),
        say(
            L,
            f"城市未给出各区县分解比例时，按 {day(ctx.as_of)} 各区县已开通数的占比分解（{basis}）。",
            f"Where the city gives no district shares, the target is split by each district's share of the "
            f"stations on air on {day(ctx.as_of)} ({basis}).",
        ),
    )
    table = show_table(
        pd.DataFrame(
            {
                say(L, "区县", "District"): sub["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "占比", "Share"): sub["share_pct"].map(pct),
                say(L, "分解目标（座）", "District target"): sub["district_target"].map(n),
                say(L, "已开通（座）", "On air"): sub["on_air_as_of"].map(n),
                say(L, "预测均值（80% 区间）", "Forecast mean (80 % interval)"): [
                    f"{n(a)} ({n(b)}–{n(c)})" for a, b, c in zip(sub["mean"], sub["lo80"], sub["hi80"])
                ],
                say(L, "达成概率", "Probability"): sub["prob_reach"].map(prob),
            }
        ),
        source=ctx.source,
    )
    show_image(cf.figures["districts"])
    return table


def show_backtest(ctx: Context) -> pd.DataFrame:
    """How each candidate model scored in the rolling-origin backtest (lower is better)."""
    cf = ctx.forecast()
    L = ctx.lang
    bt = cf.backtest
    show_step(
        say(L, "模型回测", "How the model was chosen"),
        say(
            L,
            f"各模型在历史数据上滚动预测的误差（MASE，越小越好，1 即与“逐月不变”的朴素预测相当）。选用 {cf.model}。",
            f"Each model's error forecasting the past from rolling origins (MASE: lower is better; 1 is as good as "
            f"the naive no-change forecast). {cf.model} was chosen.",
        ),
    )
    cols = {
        "model": say(L, "模型", "Model"),
        "mase_h3": "MASE 3m",
        "mase_h6": "MASE 6m",
        "mase_h12": "MASE 12m",
        "n_origins": say(L, "回测起点数", "Origins"),
    }
    out = pd.DataFrame(
        {
            heading: bt[c].map(lambda v: "–" if pd.isna(v) else (f"{v:.2f}" if isinstance(v, float) else str(v)))
            for c, heading in cols.items()
            if c in bt
        }
    )
    table = show_table(out, source=" ".join(cf.notes))
    return table


# --------------------------------------------------------------------------------------------
# 03 coverage
# --------------------------------------------------------------------------------------------


def show_coverage_by_district(ctx: Context) -> pd.DataFrame:
    """Built-up area and district area covered, key sites and 4A+ scenic spots covered, per district."""
    cov = ctx.coverage()
    L = ctx.lang
    b = cov.by_district
    city = b.iloc[-1]
    full = b.iloc[:-1][b.iloc[:-1]["is_fully_covered"]]["district"].tolist()
    not_full = [district_label(ctx.city, d, L) for d in b.iloc[:-1][~b.iloc[:-1]["is_fully_covered"]]["district"]]
    th = cov.full_coverage_pct
    show_step(
        say(L, "各区县覆盖情况", "Coverage by district"),
        say(
            L,
            f"截至 {day(ctx.as_of)}，{n(city['n_stations_on_air'])} 座在网基站覆盖全市城区面积的 {pct(city['urban_covered_pct'])}"
            f"（室外），全市面积的 {pct(city['covered_pct'])}。“全覆盖”指城区室外覆盖率不低于 {th:g}% 且已评定的 4A 级以上景区均覆盖："
            f"{'尚未全覆盖的区县：' + '、'.join(not_full) if not_full else '四个区县均已全覆盖'}。",
            f"On {day(ctx.as_of)}, {n(city['n_stations_on_air'])} stations on air cover "
            f"{pct(city['urban_covered_pct'])} of the city's built-up area (outdoors) and {pct(city['covered_pct'])} "
            f"of its whole area. 'Fully covered' means at least {th:g} % of the built-up area and every rated 4A+ "
            f"scenic spot covered: "
            f"{('not yet fully covered: ' + ', '.join(not_full)) if not_full else 'every district is'}.",
        ),
    )
    table = show_table(
        pd.DataFrame(
            {
                say(L, "区县", "District"): b["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "在网基站（座）", "Stations on air"): b["n_stations_on_air"].map(n),
                say(L, "城区面积（km²）", "Built-up area (km²)"): b["urban_area_km2"].map(lambda v: f"{v:,.1f}"),
                say(L, "城区覆盖率（室外）", "Built-up area covered (outdoor)"): b["urban_covered_pct"].map(pct),
                say(L, "城区覆盖率（室内）", "Built-up area covered (indoor)"): b["urban_covered_indoor_pct"].map(pct),
                say(L, "全域覆盖率", "Whole area covered"): b["covered_pct"].map(lambda v: pct(v, 2)),
                say(L, "重点场所覆盖", "Key sites covered"): [
                    f"{n(a)} / {n(c)}" for a, c in zip(b["n_key_sites_covered"], b["n_key_sites"])
                ],
                say(L, "4A+ 景区覆盖", "4A+ spots covered"): [
                    f"{n(a)} / {n(c)}" for a, c in zip(b["n_target_sites_covered"], b["n_target_sites"])
                ],
                say(L, "全覆盖", "Fully covered"): b["is_fully_covered"].map(
                    lambda v: say(L, "是", "yes") if v else say(L, "否", "no")
                ),
            }
        ),
        source=ctx.source
        + say(
            L,
            f"；覆盖按 3GPP TR 38.901 链路预算估算，{cov.mode} 模式。面积取自区划多边形。",
            f"; coverage from a 3GPP TR 38.901 link budget, {cov.mode} mode. Areas from the district polygons.",
        ),
    )
    record("urban_covered_pct", round(float(city["urban_covered_pct"]), 2))
    record("covered_pct", round(float(city["covered_pct"]), 2))
    record("districts_fully_covered", len(full))
    record("target_sites", int(city["n_target_sites"]))
    record("target_sites_covered", int(city["n_target_sites_covered"]))
    return table


def _site_name(row, lang: str) -> str:
    return f"{row['name_zh']}（{row['name_en']}）" if lang == "zh" else f"{row['name_en']} ({row['name_zh']})"


def _rating_text(row, lang: str) -> str:
    if not row.get("rating"):
        return "–"
    note = str(row.get("target_note", "") or "")
    if row["is_target"]:
        return say(
            lang,
            f"{row['rating']}（{row['rating_date'] or '日期未知'} 评定，为覆盖目标）",
            f"{row['rating']} (rated {row['rating_date'] or 'date unknown'}, a target)",
        )
    if "after the as-of date" in note:
        return say(
            lang,
            f"{row['rating']}（{row['rating_date']} 评定，晚于报告日，尚非目标）",
            f"{row['rating']} (rated {row['rating_date']}, after the report date: not yet a target)",
        )
    if "proposed" in note:
        return say(lang, f"{row['rating']}（拟评定，尚非目标）", f"{row['rating']} (proposed: not a target)")
    if "unconfirmed" in note:
        return say(lang, f"{row['rating']}（未经证实，尚非目标）", f"{row['rating']} (unconfirmed: not a target)")
    return row["rating"]


def show_key_sites(ctx: Context) -> pd.DataFrame:
    """Every key site of the article: category, rating, covered or not, nearest station and margin."""
    cov = ctx.coverage()
    L = ctx.lang
    s = cov.sites.copy()
    order = {"scenic": 0, "hospital": 1, "university": 2, "industrial": 3, "centre": 4, "commercial": 5, "office": 6}
    s = s.sort_values(
        ["category", "site_id"], key=lambda c: c.map(order).fillna(9) if c.name == "category" else c, kind="stable"
    )
    uncovered_targets = s[s["is_target"] & ~s["is_covered"]]
    show_step(
        say(L, "重点场所覆盖", "Key sites"),
        say(
            L,
            f"文章点名的 {n(len(s))} 处重点场所中 {n(s['is_covered'].sum())} 处已有室外覆盖。"
            f"截至报告日已评定的 4A 级以上景区 {n(s['is_target'].sum())} 处，其中未覆盖："
            f"{'、'.join(uncovered_targets['name_zh']) or '无'}。",
            f"{n(s['is_covered'].sum())} of the {n(len(s))} key sites named in the article have outdoor coverage. "
            f"{n(s['is_target'].sum())} scenic spots are rated 4A+ on the report date; not covered: "
            f"{', '.join(uncovered_targets['name_en']) or 'none'}.",
        ),
    )
    yes, no = say(L, "是", "yes"), say(L, "否", "no")
    table = show_table(
        pd.DataFrame(
            {
                say(L, "场所", "Site"): [_site_name(r, L) for _, r in s.iterrows()],
                say(L, "类别", "Category"): s["category"].map(lambda c: label(L, f"cat.{c}")),
                say(L, "区县", "District"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "等级", "Rating"): [_rating_text(r, L) for _, r in s.iterrows()],
                say(L, "室外覆盖", "Covered outdoors"): s["is_covered"].map(lambda v: yes if v else no),
                say(L, "室内覆盖", "Covered indoors"): s["is_covered_indoor"].map(lambda v: yes if v else no),
                say(L, "最近基站距离（m）", "Nearest station (m)"): s["distance_m"].map(
                    lambda v: "–" if pd.isna(v) else f"{v:,.0f}"
                ),
                say(L, "余量（m）", "Margin (m)"): s["margin_m"].map(lambda v: "–" if pd.isna(v) else f"{v:+,.0f}"),
            }
        ),
        source=ctx.source
        + say(
            L,
            "；场所坐标多为估计（精度 0.1–8 km），见 sites.csv。",
            "; site positions are mostly estimates (0.1–8 km), see sites.csv.",
        ),
    )
    record("key_sites_covered", int(s["is_covered"].sum()))
    record("uncovered_target_sites", list(uncovered_targets["name_zh"]))
    return table


def show_gaps(ctx: Context, top: int = 10) -> pd.DataFrame:
    """The largest gaps in the built-up areas and the candidate sites that close most of them."""
    table = pd.DataFrame()
    cov = ctx.coverage()
    L = ctx.lang
    g = cov.gaps.head(top)
    c = cov.candidates.head(top)
    show_step(
        say(L, "覆盖缺口与候选站址", "Gaps and candidate sites"),
        say(
            L,
            f"城区内未覆盖的区域和未覆盖的重点场所共 {n(len(cov.gaps))} 处（按面积和场所排序，列出前 {min(top, len(g))} 处），"
            f"以及能补上最多缺口的 {n(len(cov.candidates))} 个候选站址。",
            f"{n(len(cov.gaps))} uncovered parts of built-up areas and uncovered key sites (ranked by area and "
            f"sites; the first {min(top, len(g))} shown), and {n(len(cov.candidates))} candidate sites that close "
            "the most gap.",
        ),
    )
    if len(g):
        table = show_table(
            pd.DataFrame(
                {
                    say(L, "排名", "Rank"): g["rank"].map(n),
                    say(L, "区县", "District"): g["district"].map(lambda d: district_label(ctx.city, d, L)),
                    say(L, "面积（km²）", "Area (km²)"): g["area_km2"].map(lambda v: f"{v:,.2f}"),
                    say(L, "涉及场所", "Sites"): g["sites"].fillna(""),
                }
            ),
            caption=say(L, "缺口", "Gaps"),
        )
    if len(c):
        show_table(
            pd.DataFrame(
                {
                    say(L, "候选", "Candidate"): c["candidate_id"],
                    say(L, "区县", "District"): c["district"].map(lambda d: district_label(ctx.city, d, L)),
                    say(L, "经度", "Lon"): c["lon"].map(lambda v: f"{v:.4f}"),
                    say(L, "纬度", "Lat"): c["lat"].map(lambda v: f"{v:.4f}"),
                    say(L, "频段", "Band"): c["band"],
                    say(L, "补上缺口（km²）", "Gap closed (km²)"): c["gain_km2"].map(lambda v: f"{v:,.2f}"),
                    say(L, "覆盖场所", "Sites reached"): c["sites"].fillna(""),
                }
            ),
            caption=say(
                L,
                "候选站址（贪心选择，逐个补最多缺口）",
                "Candidate sites (greedy: each closes the most remaining gap)",
            ),
            source=ctx.source,
        )
    return table


def show_coverage_map(ctx: Context, height_px: int = 560) -> None:
    """The interactive coverage map, embedded whole in the page (no network needed except for
    basemap tiles) and, when the report has an output folder, also saved there as coverage_map.html."""
    import shutil

    cov = ctx.coverage()
    L = ctx.lang
    page = cov.map_html.read_text(encoding="utf-8")
    link = ""
    if ctx.out is not None:
        ctx.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cov.map_html, ctx.out / "coverage_map.html")
        link = say(
            L,
            "全屏打开：[coverage_map.html](coverage_map.html)。",
            "Full screen: [coverage_map.html](coverage_map.html).",
        )
    show_step(
        say(L, "覆盖地图", "Coverage map"),
        say(
            L,
            "区县按城区覆盖率着色；可切换基站、覆盖范围、缺口、重点场所和候选站址图层。底图瓦片需联网，其余内容均内嵌。",
            "Districts coloured by the share of their built-up area covered; layers for stations, footprints, "
            "gaps, key sites and candidates. Basemap tiles need the internet; everything else is embedded.",
        )
        + " "
        + link,
    )
    show_html(
        f'<iframe title="coverage map" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{height_px}px;border:1px solid #bbb"></iframe>'
    )


def show_link_budget(ctx: Context) -> pd.DataFrame:
    """Footprint radius of one station by band and area type (outdoor / indoor), from the link budget."""
    from analysis.coverage import CoverageSettings, link_budget_table

    L = ctx.lang
    lb = link_budget_table(CoverageSettings.from_city(ctx.city))
    used = set(ctx.stations["band"].dropna().astype(str))
    lb = lb[lb["band"].isin(used)] if used & set(lb["band"]) else lb
    areas = list(dict.fromkeys(lb["area_type"]))
    rows = []
    for band, g in lb.groupby("band", sort=False):
        row = {say(L, "频段", "Band"): f"{band} ({g['freq_ghz'].iloc[0]:g} GHz)"}
        for a in areas:
            o = g[(g["area_type"] == a) & (g["layer"] == "outdoor")]["radius_m"]
            i = g[(g["area_type"] == a) & (g["layer"] == "indoor")]["radius_m"]
            row[label(L, f"area.{a}")] = f"{o.iloc[0]:,.0f} / {i.iloc[0]:,.0f}" if len(o) and len(i) else "–"
        rows.append(row)
    show_step(
        say(L, "一座基站的覆盖半径", "Footprint of one station"),
        say(
            L,
            "本市在用频段按区域类型的覆盖半径，室外 / 室内（m），由链路预算（3GPP TR 38.901）得到。",
            "Footprint radius of the bands in use, by area type, outdoor / indoor (m), from the link budget "
            "(3GPP TR 38.901).",
        ),
    )
    table = show_table(
        pd.DataFrame(rows),
        source=say(
            L,
            "参数见 analysis.coverage 与 city.toml [coverage]。",
            "Parameters: analysis.coverage and city.toml [coverage].",
        ),
    )
    return table


# --------------------------------------------------------------------------------------------
# 04 task force
# --------------------------------------------------------------------------------------------


def show_funnel(ctx: Context) -> pd.DataFrame:
    """Sites in the pipeline by stage and district, with the change since the previous report."""
    tf = ctx.taskforce()
    L = ctx.lang
    f = tf.funnel
    city_rows = f[f["district"] == f["district"].iloc[-1]].set_index("stage")
    total = city_rows.loc["pipeline_total"]
    stage = STAGE_ZH if L == "zh" else STAGE_EN
    show_step(
        say(L, "在途站址（按阶段和区县）", "Planned sites in the pipeline, by stage and district"),
        say(
            L,
            f"{day(tf.as_of)} 全市在途站址 {n(total['sites'])} 个，比 {day(tf.previous)} {int(total['change']):+d} 个；"
            f"已开通 {n(city_rows.loc['on_air', 'sites'])} 座。",
            f"{n(total['sites'])} sites in the pipeline on {day(tf.as_of)}, {int(total['change']):+d} since "
            f"{day(tf.previous)}; {n(city_rows.loc['on_air', 'sites'])} on air.",
        ),
    )
    wide = f.pivot_table(index="stage", columns="district", values="sites", aggfunc="sum", sort=False)
    change = f.pivot_table(index="stage", columns="district", values="change", aggfunc="sum", sort=False)
    rows = []
    for s in wide.index:
        row = {
            say(L, "阶段", "Stage"): stage.get(s, say(L, "在途合计", "pipeline total") if s == "pipeline_total" else s)
        }
        for d in wide.columns:
            row[district_label(ctx.city, d, L)] = f"{n(wide.loc[s, d])} ({int(change.loc[s, d]):+d})"
        rows.append(row)
    table = show_table(
        pd.DataFrame(rows),
        caption=say(
            L,
            f"站址数（括号内为与 {day(tf.previous)} 相比的变化）",
            f"Sites (in brackets: change since {day(tf.previous)})",
        ),
        source=ctx.source,
    )
    show_image(tf.figures["funnel"])
    record("pipeline_total", int(total["sites"]))
    return table


def blocker_counts(ctx: Context) -> pd.DataFrame:
    """Sites in the pipeline per reported blocker (as known on the report date)."""
    tf = ctx.taskforce()
    s = tf.sites[tf.sites["stage"].isin(PIPELINE_STAGES)]
    known = (
        s["blocker"]
        .fillna(
            s["blocker_note"]
            .where(s["blocker_note"].fillna("").str.contains("left"), None)
            .map(lambda v: None if v is None else "not_known")
        )
        .fillna("none")
    )
    return known.value_counts().rename_axis("blocker").rename("sites").reset_index()


def blocker_sentence(ctx: Context) -> str:
    """How many sites in the pipeline report which blocker, how many none, how many are unknown on the date."""
    tf = ctx.taskforce()
    L = ctx.lang
    bc = blocker_counts(ctx).set_index("blocker")["sites"]
    names = BLOCKER_ZH if L == "zh" else BLOCKER_EN
    total, unknown, none = int(bc.sum()), int(bc.get("not_known", 0)), int(bc.get("none", 0))
    real = bc.drop([k for k in ("not_known", "none") if k in bc.index])
    listed = say(
        L,
        "；".join(f"{names.get(k, k)} {n(v)} 个" for k, v in real.items()),
        "; ".join(f"{names.get(k, k)}: {n(v)}" for k, v in real.items()),
    )
    why = say(
        L,
        f"阻碍只在 {day(tf.extract)} 上报一次，这些站址其后已离开当时所处的阶段",
        f"blockers were reported once, on {day(tf.extract)}, and these sites have left the stage they were in since",
    )
    if total and unknown == total:
        return say(
            L,
            f"在途站址 {n(total)} 个，在 {day(ctx.as_of)} 的阻碍均未知：{why}。",
            f"{n(total)} sites in the pipeline; their blockers on {day(ctx.as_of)} are not known: {why}.",
        )
    parts = []
    if len(real):
        parts.append(
            say(L, f"报告了阻碍的 {n(real.sum())} 个（{listed}）", f"{n(real.sum())} report a blocker ({listed})")
        )
    if none:
        parts.append(say(L, f"未报阻碍 {n(none)} 个", f"{n(none)} report none"))
    if unknown:
        parts.append(
            say(
                L,
                f"{n(unknown)} 个在 {day(ctx.as_of)} 的阻碍未知（{why}）",
                f"for {n(unknown)} the blocker on {day(ctx.as_of)} is not known ({why})",
            )
        )
    text = say(
        L,
        f"在途站址 {n(total)} 个：" + "；".join(parts) + "。",
        f"{n(total)} sites in the pipeline: " + "; ".join(parts) + ".",
    )
    if not unknown:
        text += say(L, f"阻碍为 {day(tf.extract)} 上报。", f" Blockers as reported on {day(tf.extract)}.")
    return text


def show_blockers(ctx: Context) -> pd.DataFrame:
    """What holds the pipeline back, by district (chart), and the sites per blocker (table)."""
    tf = ctx.taskforce()
    L = ctx.lang
    bc = blocker_counts(ctx)
    names = BLOCKER_ZH if L == "zh" else BLOCKER_EN
    show_step(say(L, "阻碍因素", "Blockers"), blocker_sentence(ctx))
    table = show_table(
        pd.DataFrame(
            {
                say(L, "阻碍", "Blocker"): bc["blocker"].map(lambda b: names.get(b, b)),
                say(L, "站址数（个）", "Sites"): bc["sites"].map(n),
            }
        ),
        source=ctx.source,
    )
    show_image(tf.figures["blockers"])
    record("blockers", {r["blocker"]: int(r["sites"]) for _, r in bc.iterrows()})
    return table


def supervision_table(ctx: Context, top: int = 15) -> pd.DataFrame:
    tf = ctx.taskforce()
    L = ctx.lang
    s = tf.supervision.head(top)
    stage = STAGE_ZH if L == "zh" else STAGE_EN
    names = BLOCKER_ZH if L == "zh" else BLOCKER_EN
    return pd.DataFrame(
        {
            say(L, "序号", "Rank"): s["rank"].map(n),
            say(L, "站址", "Site"): s["name"].fillna(s["station_id"]),
            say(L, "区县", "District"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
            say(L, "运营商", "Operator"): s["operator"].map(
                lambda o: f"{OPERATOR_NAMES_ZH.get(o, o)}" if L == "zh" else o
            ),
            say(L, "阶段", "Stage"): s["stage"].map(lambda v: stage.get(v, v)),
            say(L, "停留天数", "Days in stage"): s["days_in_stage"].map(n),
            say(L, "超阈值天数", "Days over threshold"): s["days_over"].map(n),
            say(L, "阻碍", "Blocker"): s["blocker"].map(lambda b: "–" if pd.isna(b) else names.get(b, b)),
        }
    )


def show_supervision(ctx: Context, top: int = 15) -> pd.DataFrame:
    """The supervision list (督办清单): sites stuck longer than their stage's threshold."""
    table = pd.DataFrame()
    tf = ctx.taskforce()
    L = ctx.lang
    show_step(
        say(L, "督办清单", "Supervision list"),
        say(
            L,
            f"在当前阶段停留超过阈值的站址共 {n(len(tf.supervision))} 个（阈值见 city.toml），按超出天数排序，列出前 {min(top, len(tf.supervision))} 个。",
            f"{n(len(tf.supervision))} sites have been in their stage longer than its threshold (city.toml); "
            f"longest over first, the first {min(top, len(tf.supervision))} shown.",
        ),
    )
    if len(tf.supervision):
        table = show_table(supervision_table(ctx, top), source=ctx.source)
    show_image(tf.figures["days_stuck"])
    record("supervision_list", int(len(tf.supervision)))
    return table


def show_district_targets(ctx: Context) -> pd.DataFrame:
    """Each district's share of the year's target: achieved, expected from the pipeline, shortfall."""
    tf = ctx.taskforce()
    L = ctx.lang
    d = tf.districts
    if not len(d):
        return pd.DataFrame()
    city = d.iloc[-1]
    show_step(
        say(L, "各区县年度任务", "Each district's part of the year's target"),
        say(
            L,
            f"全市到 {day(city['target_date'])} 需新增 {n(city['target_add'])} 座，已完成 {n(city['achieved_add'])} 座；"
            f"在途站址预计可新增 {n(city['expected_add_from_pipeline'])} 座，仍差 {n(city['expected_shortfall'])} 座需新规划。",
            f"The city must add {n(city['target_add'])} stations by {day(city['target_date'])}: "
            f"{n(city['achieved_add'])} "
            f"added so far; the pipeline is expected to add {n(city['expected_add_from_pipeline'])}, leaving "
            f"{n(city['expected_shortfall'])} still to plan.",
        ),
    )
    table = show_table(
        pd.DataFrame(
            {
                say(L, "区县", "District"): d["district"].map(lambda x: district_label(ctx.city, x, L)),
                say(L, "分解比例", "Share"): d["target_share"].map(lambda v: pct(100 * v)),
                say(L, "年度新增任务（座）", "To add this year"): d["target_add"].map(n),
                say(L, "已新增（座）", "Added"): d["achieved_add"].map(n),
                say(L, "完成率", "Done"): d["achieved_pct"].map(pct),
                say(L, "在途（个）", "In the pipeline"): d["in_pipeline"].map(n),
                say(L, "预计新增（座）", "Expected to add"): d["expected_add"].map(n),
                say(L, "缺口（座）", "Shortfall"): d["expected_shortfall"].map(n),
            }
        ),
        source=ctx.source + say(L, f"；分解依据：{d['share_basis'].iloc[0]}", f"; split: {d['share_basis'].iloc[0]}"),
    )
    return table


def show_stage_durations(ctx: Context) -> pd.DataFrame:
    """How long each stage has taken (observed), the basis of the supervision thresholds."""
    tf = ctx.taskforce()
    L = ctx.lang
    du = tf.durations
    stage = dict(STAGE_ZH if L == "zh" else STAGE_EN, planned_to_on_air=say(L, "规划至开通", "planned to on air"))
    show_step(
        say(L, "各阶段用时", "How long each stage takes"),
        say(
            L,
            "已完成该阶段的站址所用天数（中位数与四分位），以及仍在该阶段的站址数。",
            "Days taken by sites that completed each stage (median and quartiles), and sites still in it.",
        ),
    )
    table = show_table(
        pd.DataFrame(
            {
                say(L, "阶段", "Stage"): du["stage"].map(lambda v: stage.get(v, v)),
                say(L, "已完成（个）", "Completed"): du["n_completed"].map(n),
                say(L, "仍在该阶段（个）", "Still in it"): du["n_in_stage"].map(n),
                say(L, "中位天数", "Median days"): du["median_days"].map(lambda v: "–" if pd.isna(v) else f"{v:.0f}"),
                say(L, "四分位（天）", "Quartiles (days)"): [
                    ("–" if pd.isna(a) else f"{a:.0f}–{b:.0f}") for a, b in zip(du["p25_days"], du["p75_days"])
                ],
            }
        ),
        source=ctx.source,
    )
    return table


# --------------------------------------------------------------------------------------------
# 05 summary
# --------------------------------------------------------------------------------------------


def target_sentences(ctx: Context, targets: pd.DataFrame, now: int) -> list[str]:
    """One sentence per target: reached or missed when due, else what is still to build and the
    probability of building it in time."""
    L = ctx.lang
    parts = []
    for _, r in targets.iterrows():
        t = next((x for x in ctx.city.targets if pd.Timestamp(x.date) == pd.Timestamp(r["target_date"])), None)
        name = (t.label_zh if L == "zh" else t.label_en) if t else ""
        if pd.Timestamp(r["target_date"]) <= ctx.as_of:
            got = count_on_air(ctx, r["target_date"])
            parts.append(
                say(
                    L,
                    f"{name}：{day(r['target_date'])} 前达到 {n(r['target'])} 座——当日实际 {n(got)} 座，"
                    + ("已达成。" if got >= r["target"] else f"差 {n(r['target'] - got)} 座。"),
                    f"{name}: {n(r['target'])} by {day(r['target_date'])} — {n(got)} on that date, "
                    + ("reached." if got >= r["target"] else f"missed by {n(r['target'] - got)}."),
                )
            )
        elif now >= r["target"]:
            parts.append(
                say(
                    L,
                    f"{name}：{day(r['target_date'])} 前达到 {n(r['target'])} 座——已达成。",
                    f"{name}: {n(r['target'])} by {day(r['target_date'])} — reached.",
                )
            )
        else:
            parts.append(
                say(
                    L,
                    f"{name}：{day(r['target_date'])} 前达到 {n(r['target'])} 座，还需 {n(r['target'] - now)} 座"
                    f"（每月约 {r['pace_needed_per_month']:.1f} 座，近 3 个月每月 {r['pace_last_3m']:.1f} 座），"
                    f"达成概率 {prob(r['prob_reach'])}。",
                    f"{name}: {n(r['target'])} by {day(r['target_date'])}, {n(r['target'] - now)} still to build "
                    f"(about {r['pace_needed_per_month']:.1f} a month; "
                    f"the last 3 months: {r['pace_last_3m']:.1f} a month); "
                    f"probability of reaching it: {prob(r['prob_reach'])}.",
                )
            )
    return parts


def show_headline(ctx: Context) -> None:
    """The briefing's first paragraph: progress, the year's target and its probability, coverage,
    the pipeline, in numbers the data give."""
    cf, cov, tf = ctx.forecast(), ctx.coverage(), ctx.taskforce()
    L = ctx.lang
    now = count_on_air(ctx, ctx.as_of)
    ch = changes_since_last_month(ctx)
    city = cov.by_district.iloc[-1]
    tg = cf.targets.sort_values("target_date")
    parts = []
    for t in ctx.city.targets:
        if t.kind == "reported" and pd.Timestamp(t.date) <= ctx.as_of:
            c = count_on_air(ctx, t.date)
            parts.append(
                say(
                    L,
                    f"{day(t.date)} 已开通 {n(c)} 座（城市通报 {n(t.on_air)} 座）。",
                    f"{n(c)} stations were on air on {day(t.date)} (the city reported {n(t.on_air)}).",
                )
            )
    parts.append(
        say(
            L,
            f"截至 {day(ctx.as_of)} 已开通 {n(now)} 座，近一个月新增 {n(ch['added']['added'].iloc[-1])} 座。",
            f"On {day(ctx.as_of)}, {n(now)} are on air, {n(ch['added']['added'].iloc[-1])} added in the last month.",
        )
    )
    parts += target_sentences(ctx, tg, now)
    not_full = [
        district_label(ctx.city, d, L) for d in cov.by_district.iloc[:-1].query("not is_fully_covered")["district"]
    ]
    parts.append(
        say(
            L,
            f"城区室外覆盖率 {pct(city['urban_covered_pct'])}；尚未全覆盖的区县 {len(not_full)} 个。",
            f"{pct(city['urban_covered_pct'])} of the built-up area is covered outdoors; {len(not_full)} districts "
            "are not yet fully covered.",
        )
    )
    total = tf.funnel[
        (tf.funnel["district"] == tf.funnel["district"].iloc[-1]) & (tf.funnel["stage"] == "pipeline_total")
    ]
    parts.append(
        say(
            L,
            f"在途站址 {n(total['sites'].iloc[0])} 个，其中 {n(len(tf.supervision))} 个超期列入督办。",
            f"{n(total['sites'].iloc[0])} sites are in the pipeline, {n(len(tf.supervision))} of them on the "
            "supervision list.",
        )
    )
    show_markdown(say(L, "### 要点", "### In short"))
    show_html(TABLE_CSS + '<p class="fiveg-headline">' + html.escape(" ".join(parts)) + "</p>")
    record("as_of", day(ctx.as_of))
    record("on_air_as_of", now)
    record("added_last_month", int(ch["added"]["added"].iloc[-1]))
    for t in ctx.city.targets:
        if t.kind == "reported" and pd.Timestamp(t.date) <= ctx.as_of:
            record(f"on_air_{day(t.date)}", count_on_air(ctx, t.date))
            record(f"reported_{day(t.date)}", t.on_air)
    for _, r in tg.iterrows():
        record(f"target_{day(r['target_date'])}", int(r["target"]))
        record(f"prob_reach_{day(r['target_date'])}", round(float(r["prob_reach"]), 4))
        record(f"still_to_build_{day(r['target_date'])}", max(int(r["target"]) - now, 0))
    record("urban_covered_pct", round(float(city["urban_covered_pct"]), 2))
    record(
        "districts_not_fully_covered", [d for d in cov.by_district.iloc[:-1].query("not is_fully_covered")["district"]]
    )
    record("pipeline_total", int(total["sites"].iloc[0]))
    record("supervision_list", int(len(tf.supervision)))


def show_coverage_to_do(ctx: Context) -> pd.DataFrame:
    """The districts and the 4A+ scenic spots still to cover (and spots not yet rated)."""
    cov = ctx.coverage()
    L = ctx.lang
    b = cov.by_district.iloc[:-1]
    s = cov.sites[cov.sites["category"] == "scenic"]
    show_step(
        say(L, "还要覆盖的区县和景区", "Districts and scenic spots still to cover"),
        say(
            L,
            "目标是四个区县和所有 4A 级以上景区全覆盖。景区评级以报告日为准：报告日之后才评定、拟评定或未经证实的，列出但尚不计为目标。",
            "The goal is full coverage of every district and every 4A+ scenic spot. A spot counts as a target from its "
            "rating date: spots rated later, proposed or unconfirmed are listed but not yet targets.",
        ),
    )
    yes, no = say(L, "是", "yes"), say(L, "否", "no")
    table = show_table(
        pd.DataFrame(
            {
                say(L, "区县", "District"): b["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "城区覆盖率（室外）", "Built-up area covered"): b["urban_covered_pct"].map(pct),
                say(L, "4A+ 景区覆盖", "4A+ spots covered"): [
                    f"{n(a)} / {n(c)}" for a, c in zip(b["n_target_sites_covered"], b["n_target_sites"])
                ],
                say(L, "全覆盖", "Fully covered"): b["is_fully_covered"].map(lambda v: yes if v else no),
            }
        ),
        source=ctx.source,
    )
    show_table(
        pd.DataFrame(
            {
                say(L, "景区", "Scenic spot"): [_site_name(r, L) for _, r in s.iterrows()],
                say(L, "区县", "District"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "等级", "Rating"): [_rating_text(r, L) for _, r in s.iterrows()],
                say(L, "已覆盖（室外）", "Covered outdoors"): s["is_covered"].map(lambda v: yes if v else no),
                say(L, "最近基站距离（m）", "Nearest station (m)"): s["distance_m"].map(
                    lambda v: "–" if pd.isna(v) else f"{v:,.0f}"
                ),
            }
        ),
        caption=say(L, "景区", "Scenic spots"),
        source=say(L, "评级来源见 sites.csv。", "Rating sources: sites.csv."),
    )
    record("scenic_spots_to_cover", list(s[s["is_target"] & ~s["is_covered"]]["name_zh"]))
    return table


def show_top_blockers(ctx: Context, top: int = 5) -> pd.DataFrame:
    """The blockers that hold most sites, and the longest-stuck sites on the supervision list."""
    table = pd.DataFrame()
    tf = ctx.taskforce()
    L = ctx.lang
    show_step(
        say(L, "主要阻碍与督办", "Top blockers and the supervision list"),
        blocker_sentence(ctx)
        + " "
        + say(
            L,
            f"超期列入督办的 {n(len(tf.supervision))} 个站址中停留最久的 {min(top, len(tf.supervision))} 个如下（完整清单见“专班跟踪”页）。",
            f"The {min(top, len(tf.supervision))} longest stuck of the {n(len(tf.supervision))} sites on the "
            "supervision list are below (full list on the task-force page).",
        ),
    )
    if len(tf.supervision):
        table = show_table(supervision_table(ctx, top), source=ctx.source)
    return table
