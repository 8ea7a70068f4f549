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
        say(L, "changes.heading", previous=day(ctx.previous), as_of=day(ctx.as_of)),
        say(L, "changes.sentence", added=n(a["added"].iloc[-1]), sites=n(ch["moves"]["sites"].sum())),
    )
    cov = ch["coverage"].set_index("district")
    rows = []
    for _, r in a.iterrows():
        c = cov.loc[r["district"]] if r["district"] in cov.index else None
        rows.append(
            {
                say(L, "district"): district_label(ctx.city, r["district"], L),
                say(L, "on_air_last_month"): n(r["before"]),
                say(L, "on_air_now"): n(r["now"]),
                say(L, "added"): f"{int(r['added']):+,}",
                say(L, "built_up_area_covered_last_month"): "–"
                if c is None
                else f"{pct(c['urban_before'])} → {pct(c['urban_now'])}",
                say(L, "key_sites_covered_last_month_now"): "–"
                if c is None
                else f"{n(c['sites_before'])} → {n(c['sites_now'])} / {n(c['n_sites'])}",
            }
        )
    show_table(pd.DataFrame(rows), source=ctx.source)
    if len(ch["moves"]):
        stage = STAGE_ZH if L == "zh" else STAGE_EN
        new = say(L, "changes.new")
        mv = pd.DataFrame(
            {
                say(L, "stage_last_month"): ch["moves"]["stage_prev"].map(lambda s: stage.get(s, new)),
                say(L, "stage_now"): ch["moves"]["stage"].map(lambda s: stage.get(s, s)),
                say(L, "sites"): ch["moves"]["sites"].map(n),
            }
        )
        show_table(mv, caption=say(L, "sites_that_moved_stage"))


def provenance(ctx: Context) -> dict:
    """What this page was made from: input hash and files, city config, package version, dates."""
    return {**provenance_of(ctx.city, ctx.as_of, ctx.cache, ctx.lang), "figure_lang": ctx.fig_lang}


def show_provenance(ctx: Context, with_changes: bool = True) -> None:
    """The provenance box (inputs' content hash, city config, package version, as-of and extract
    dates, how the data were cleaned, whether the cache was reused), then "what changed since last month"."""
    p = provenance(ctx)
    L = ctx.lang
    rows = [
        (say(L, "report_date_as_of"), p["as_of"]),
        (say(L, "previous_report_date"), p["previous"]),
        (
            say(L, "city_config"),
            f"{p['city_name']}: {p['city_config_rel']} (sha256 {p['city_config_sha256'][:12]})",
        ),
        (
            say(L, "inputs_content_hash"),
            f"sha256 {p['inputs_sha256'][:16]} ({p['n_input_files']} " + say(L, "files"),
        ),
        (say(L, "records_extracted"), p["extract_date"]),
        (
            say(L, "how_the_data_were_cleaned"),
            say(
                L,
                "provenance.how_cleaned",
                extract_date=p["extract_date"],
                rule=extract_rule_text(p["extract_rule"], L),
                as_of=p["as_of"],
            ),
        ),
        (say(L, "cache"), cache_sentence(ctx).replace("`", "")),
        (say(L, "package_version"), f"fiveg-buildout-monitor {p['package_version']}"),
    ]
    if ctx.font_note:
        rows.append((say(L, "fonts"), ctx.font_note))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    files = "".join(
        f"<li><code>{html.escape(project_relative(f['path']))}</code> sha256 {f['sha256'][:12]}, "
        f"{f['bytes']:,} bytes</li>"
        for f in p["files"]
    )
    show_html(
        TABLE_CSS + f'<div class="fiveg-box"><h4>{say(L, "provenance.heading")}</h4>'
        f'<table class="fiveg-table">{body}</table>'
        f"<details><summary>{say(L, 'input_files')}</summary><ul>{files}</ul></details></div>"
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
        say(L, "clean.rows.heading"),
        say(
            L,
            "clean.rows.sentence",
            files=len(s["files"]),
            rows_in=n(s["rows_in"]),
            rows_kept=n(s["rows_kept"]),
            stations=n(s["stations"]),
            rows_merged=n(s["rows_merged"]),
            rows_quarantined=n(s["rows_quarantined"]),
        ),
    )
    if s.get("failed_files"):
        show_html(
            TABLE_CSS
            + '<div class="fiveg-note">'
            + html.escape(say(L, "clean.failed_files", failed_files=len(s["failed_files"])))
            + "<ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in s["failed_files"])
            + "</ul></div>"
        )
    rows = [
        (say(L, "raw_rows"), s["rows_in"]),
        (say(L, "kept_stations"), s["rows_kept"]),
        (say(L, "merged_duplicates"), s["rows_merged"]),
        (say(L, "quarantined"), s["rows_quarantined"]),
    ]
    show_table(
        pd.DataFrame({say(L, "rows"): [r[0] for r in rows], say(L, "count"): [n(r[1]) for r in rows]}),
        source=ctx.source,
    )
    record("rows_in", s["rows_in"])
    record("stations", s["stations"])


def show_quarantine(ctx: Context) -> None:
    """Why rows were quarantined or merged, with the meaning of each reason."""
    s = ctx.clean_summary
    L = ctx.lang
    items = [(k, v, say(L, "quarantined_2")) for k, v in s["quarantined_by_reason"].items()]
    items += [(k, v, say(L, "merged")) for k, v in s["merged_by_reason"].items()]
    items.sort(key=lambda x: -x[1])
    show_step(
        say(L, "clean.reasons.heading"),
        say(L, "clean.reasons.sentence"),
    )
    meaning = s.get("reason_meanings", {})
    show_table(
        pd.DataFrame(
            {
                say(L, "fate"): [i[2] for i in items],
                say(L, "reason"): [i[0] for i in items],
                say(L, "meaning"): [meaning.get(i[0], "") for i in items],
                say(L, "rows_2"): [n(i[1]) for i in items],
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
        row = {say(L, "district"): district_label(ctx.city, d, L)}
        for o in ops:
            row[say(L, "operator_column", name_zh=OPERATOR_NAMES_ZH[o], code=o)] = n((sub["operator"] == o).sum())
        row[say(L, "total")] = n(len(sub))
        rows.append(row)
    reported = [t for t in ctx.city.targets if t.kind == "reported" and pd.Timestamp(t.date) <= ctx.as_of]
    checks = [(t, count_on_air(ctx, t.date)) for t in reported]
    check_text = "".join(
        say(
            L,
            "reported_same" if c == t.on_air else "reported_differs",
            date=day(t.date),
            on_air=n(t.on_air),
            c=n(c),
            diff=f"{c - t.on_air:+d}",
        )
        for t, c in checks
    )
    show_step(
        say(L, "clean.on_air.heading", as_of=day(ctx.as_of)),
        say(L, "clean.on_air.sentence", on=n(len(on))) + check_text,
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
                say(L, "probability_of_reaching_it"): "–",
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
                    say(L, "probability_of_reaching_it"): say(L, "reached")
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
                say(L, "needed_per_month"): f"{r['pace_needed_per_month']:.1f}",
                say(L, "achieved_per_month_last_3"): f"{r['pace_last_3m']:.1f}",
                say(L, "forecast_mean_80_interval"): f"{n(r['mean'])} ({n(r['lo80'])}–{n(r['hi80'])})",
                say(L, "probability_of_reaching_it"): prob(r["prob_reach"]),
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
            pace_needed_per_month=first["pace_needed_per_month"],
            pace_last_3m=first["pace_last_3m"],
            model=cf.model,
            prob_reach=prob(first["prob_reach"]),
        )
    else:
        sent = say(L, "targets.sentence_all_due", as_of=day(ctx.as_of), now=n(now))
    show_step(say(L, "targets.heading"), sent)
    table = show_table(
        target_table(ctx),
        source=ctx.source + say(L, "targets.source", model=cf.model),
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
        say(L, "fan.heading"),
        say(L, "fan.sentence"),
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
        say(L, "district_forecast.heading", first_date=day(first_date)),
        say(L, "district_forecast.sentence", as_of=day(ctx.as_of), basis=basis),
    )
    table = show_table(
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
        say(L, "backtest.heading"),
        say(L, "backtest.sentence", model=cf.model),
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
        say(L, "coverage.heading"),
        say(
            L,
            "coverage.sentence",
            as_of=day(ctx.as_of),
            n_stations_on_air=n(city["n_stations_on_air"]),
            urban_covered_pct=pct(city["urban_covered_pct"]),
            covered_pct=pct(city["covered_pct"]),
            th=th,
            fully=say(L, "not_fully_covered", districts=say(L, "list_sep").join(not_full))
            if not_full
            else say(L, "every_district_fully_covered"),
        ),
    )
    table = show_table(
        pd.DataFrame(
            {
                say(L, "district"): b["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "stations_on_air"): b["n_stations_on_air"].map(n),
                say(L, "built_up_area_km"): b["urban_area_km2"].map(lambda v: f"{v:,.1f}"),
                say(L, "built_up_area_covered_outdoor"): b["urban_covered_pct"].map(pct),
                say(L, "built_up_area_covered_indoor"): b["urban_covered_indoor_pct"].map(pct),
                say(L, "whole_area_covered"): b["covered_pct"].map(lambda v: pct(v, 2)),
                say(L, "key_sites_covered"): [
                    f"{n(a)} / {n(c)}" for a, c in zip(b["n_key_sites_covered"], b["n_key_sites"])
                ],
                say(L, "4a_spots_covered"): [
                    f"{n(a)} / {n(c)}" for a, c in zip(b["n_target_sites_covered"], b["n_target_sites"])
                ],
                say(L, "fully_covered"): b["is_fully_covered"].map(lambda v: say(L, "yes") if v else say(L, "no")),
            }
        ),
        source=ctx.source + say(L, "coverage.source", mode=cov.mode),
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
            lang, "rating.target", rating=row["rating"], rating_date=row["rating_date"] or say(lang, "date_unknown")
        )
    if "after the as-of date" in note:
        return say(lang, "rating.after_report_date", rating=row["rating"], rating_date=row["rating_date"])
    if "proposed" in note:
        return say(lang, "rating.proposed", rating=row["rating"])
    if "unconfirmed" in note:
        return say(lang, "rating.unconfirmed", rating=row["rating"])
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
        say(L, "key_sites.heading"),
        say(
            L,
            "key_sites.sentence",
            n_sites=n(len(s)),
            is_covered=n(s["is_covered"].sum()),
            is_target=n(s["is_target"].sum()),
            uncovered=say(L, "list_sep").join(uncovered_targets["name_zh" if L == "zh" else "name_en"])
            or say(L, "none"),
        ),
    )
    yes, no = say(L, "yes"), say(L, "no")
    table = show_table(
        pd.DataFrame(
            {
                say(L, "site_2"): [_site_name(r, L) for _, r in s.iterrows()],
                say(L, "category"): s["category"].map(lambda c: say(L, f"cat.{c}")),
                say(L, "district"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "rating"): [_rating_text(r, L) for _, r in s.iterrows()],
                say(L, "covered_outdoors"): s["is_covered"].map(lambda v: yes if v else no),
                say(L, "covered_indoors"): s["is_covered_indoor"].map(lambda v: yes if v else no),
                say(L, "nearest_station_m"): s["distance_m"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
                say(L, "margin_m"): s["margin_m"].map(lambda v: "–" if pd.isna(v) else f"{v:+,.0f}"),
            }
        ),
        source=ctx.source + say(L, "key_sites.source"),
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
        say(L, "gaps.heading"),
        say(
            L,
            "gaps.sentence",
            gaps=n(len(cov.gaps)),
            top=min(top, len(g)),
            candidates=n(len(cov.candidates)),
        ),
    )
    if len(g):
        table = show_table(
            pd.DataFrame(
                {
                    say(L, "rank_2"): g["rank"].map(n),
                    say(L, "district"): g["district"].map(lambda d: district_label(ctx.city, d, L)),
                    say(L, "area_km"): g["area_km2"].map(lambda v: f"{v:,.2f}"),
                    say(L, "sites_2"): g["sites"].fillna(""),
                }
            ),
            caption=say(L, "gaps"),
        )
    if len(c):
        show_table(
            pd.DataFrame(
                {
                    say(L, "candidate"): c["candidate_id"],
                    say(L, "district"): c["district"].map(lambda d: district_label(ctx.city, d, L)),
                    say(L, "lon"): c["lon"].map(lambda v: f"{v:.4f}"),
                    say(L, "lat"): c["lat"].map(lambda v: f"{v:.4f}"),
                    say(L, "band"): c["band"],
                    say(L, "gap_closed_km"): c["gain_km2"].map(lambda v: f"{v:,.2f}"),
                    say(L, "sites_reached"): c["sites"].fillna(""),
                }
            ),
            caption=say(L, "gaps.candidates_caption"),
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
        link = say(L, "map.full_screen")
    show_step(
        say(L, "map.heading"),
        say(L, "map.sentence") + " " + link,
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
        row = {say(L, "band"): f"{band} ({g['freq_ghz'].iloc[0]:g} GHz)"}
        for a in areas:
            o = g[(g["area_type"] == a) & (g["layer"] == "outdoor")]["radius_m"]
            i = g[(g["area_type"] == a) & (g["layer"] == "indoor")]["radius_m"]
            row[say(L, f"area.{a}")] = f"{o.iloc[0]:,.0f} / {i.iloc[0]:,.0f}" if len(o) and len(i) else "–"
        rows.append(row)
    show_step(
        say(L, "footprint.heading"),
        say(L, "footprint.sentence"),
    )
    table = show_table(
        pd.DataFrame(rows),
        source=say(L, "footprint.source"),
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
        say(L, "funnel.heading"),
        say(
            L,
            "funnel.sentence",
            as_of=day(tf.as_of),
            sites=n(total["sites"]),
            previous=day(tf.previous),
            change=int(total["change"]),
            loc=n(city_rows.loc["on_air", "sites"]),
        ),
    )
    wide = f.pivot_table(index="stage", columns="district", values="sites", aggfunc="sum", sort=False)
    change = f.pivot_table(index="stage", columns="district", values="change", aggfunc="sum", sort=False)
    rows = []
    for s in wide.index:
        row = {say(L, "stage"): stage.get(s, say(L, "pipeline_total") if s == "pipeline_total" else s)}
        for d in wide.columns:
            row[district_label(ctx.city, d, L)] = f"{n(wide.loc[s, d])} ({int(change.loc[s, d]):+d})"
        rows.append(row)
    table = show_table(
        pd.DataFrame(rows),
        caption=say(L, "funnel.caption", previous=day(tf.previous)),
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
    listed = say(L, "clause_sep").join(
        say(L, "blocker_count", blocker=names.get(k, k), sites=n(v)) for k, v in real.items()
    )
    why = say(L, "blockers.why_unknown", extract=day(tf.extract))
    if total and unknown == total:
        return say(L, "blockers.all_unknown", total=n(total), as_of=day(ctx.as_of), why=why)
    parts = []
    if len(real):
        parts.append(say(L, "blockers.reported", real=n(real.sum()), listed=listed))
    if none:
        parts.append(say(L, "blockers.none", none=n(none)))
    if unknown:
        parts.append(say(L, "blockers.unknown", unknown=n(unknown), as_of=day(ctx.as_of), why=why))
    text = say(L, "pipeline_clauses", total=n(total), clauses=say(L, "clause_sep").join(parts))
    if not unknown:
        text += say(L, "blockers.as_reported", extract=day(tf.extract))
    return text


def show_blockers(ctx: Context) -> pd.DataFrame:
    """What holds the pipeline back, by district (chart), and the sites per blocker (table)."""
    tf = ctx.taskforce()
    L = ctx.lang
    bc = blocker_counts(ctx)
    names = BLOCKER_ZH if L == "zh" else BLOCKER_EN
    show_step(say(L, "blockers.heading"), blocker_sentence(ctx))
    table = show_table(
        pd.DataFrame(
            {
                say(L, "blocker"): bc["blocker"].map(lambda b: names.get(b, b)),
                say(L, "sites"): bc["sites"].map(n),
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
            say(L, "rank"): s["rank"].map(n),
            say(L, "site"): s["name"].fillna(s["station_id"]),
            say(L, "district"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
            say(L, "operator"): s["operator"].map(lambda o: f"{OPERATOR_NAMES_ZH.get(o, o)}" if L == "zh" else o),
            say(L, "stage"): s["stage"].map(lambda v: stage.get(v, v)),
            say(L, "days_in_stage"): s["days_in_stage"].map(n),
            say(L, "days_over_threshold"): s["days_over"].map(n),
            say(L, "blocker"): s["blocker"].map(lambda b: "–" if pd.isna(b) else names.get(b, b)),
        }
    )


def show_supervision(ctx: Context, top: int = 15) -> pd.DataFrame:
    """The supervision list (督办清单): sites stuck longer than their stage's threshold."""
    table = pd.DataFrame()
    tf = ctx.taskforce()
    L = ctx.lang
    show_step(
        say(L, "supervision.heading"),
        say(L, "supervision.sentence", supervision=n(len(tf.supervision)), top=min(top, len(tf.supervision))),
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
        say(L, "district_targets.heading"),
        say(
            L,
            "district_targets.sentence",
            target_date=day(city["target_date"]),
            target_add=n(city["target_add"]),
            achieved_add=n(city["achieved_add"]),
            expected_add_from_pipeline=n(city["expected_add_from_pipeline"]),
            expected_shortfall=n(city["expected_shortfall"]),
        ),
    )
    table = show_table(
        pd.DataFrame(
            {
                say(L, "district"): d["district"].map(lambda x: district_label(ctx.city, x, L)),
                say(L, "share_2"): d["target_share"].map(lambda v: pct(100 * v)),
                say(L, "to_add_this_year"): d["target_add"].map(n),
                say(L, "added_2"): d["achieved_add"].map(n),
                say(L, "done"): d["achieved_pct"].map(pct),
                say(L, "in_the_pipeline"): d["in_pipeline"].map(n),
                say(L, "expected_to_add"): d["expected_add"].map(n),
                say(L, "shortfall"): d["expected_shortfall"].map(n),
            }
        ),
        source=ctx.source + say(L, "split", basis=d["share_basis"].iloc[0]),
    )
    return table


def show_stage_durations(ctx: Context) -> pd.DataFrame:
    """How long each stage has taken (observed), the basis of the supervision thresholds."""
    tf = ctx.taskforce()
    L = ctx.lang
    du = tf.durations
    stage = dict(STAGE_ZH if L == "zh" else STAGE_EN, planned_to_on_air=say(L, "planned_to_on_air"))
    show_step(
        say(L, "durations.heading"),
        say(L, "durations.sentence"),
    )
    table = show_table(
        pd.DataFrame(
            {
                say(L, "stage"): du["stage"].map(lambda v: stage.get(v, v)),
                say(L, "completed"): du["n_completed"].map(n),
                say(L, "still_in_it"): du["n_in_stage"].map(n),
                say(L, "median_days"): du["median_days"].map(lambda v: "–" if pd.isna(v) else f"{v:.0f}"),
                say(L, "quartiles_days"): [
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
                    "target_due_reached" if got >= r["target"] else "target_due_missed",
                    name=name,
                    target_date=day(r["target_date"]),
                    target=n(r["target"]),
                    got=n(got),
                    short=n(r["target"] - got),
                )
            )
        elif now >= r["target"]:
            parts.append(
                say(L, "headline.target_reached", name=name, target_date=day(r["target_date"]), target=n(r["target"]))
            )
        else:
            parts.append(
                say(
                    L,
                    "headline.target_ahead",
                    name=name,
                    target_date=day(r["target_date"]),
                    target=n(r["target"]),
                    target_diff=n(r["target"] - now),
                    pace_needed_per_month=r["pace_needed_per_month"],
                    pace_last_3m=r["pace_last_3m"],
                    prob_reach=prob(r["prob_reach"]),
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
            parts.append(say(L, "headline.reported", date=day(t.date), c=n(c), on_air=n(t.on_air)))
    parts.append(say(L, "headline.on_air", as_of=day(ctx.as_of), now=n(now), added=n(ch["added"]["added"].iloc[-1])))
    parts += target_sentences(ctx, tg, now)
    not_full = [
        district_label(ctx.city, d, L) for d in cov.by_district.iloc[:-1].query("not is_fully_covered")["district"]
    ]
    parts.append(say(L, "headline.coverage", urban_covered_pct=pct(city["urban_covered_pct"]), not_full=len(not_full)))
    total = tf.funnel[
        (tf.funnel["district"] == tf.funnel["district"].iloc[-1]) & (tf.funnel["stage"] == "pipeline_total")
    ]
    parts.append(say(L, "headline.pipeline", pipeline=n(total["sites"].iloc[0]), supervision=n(len(tf.supervision))))
    show_markdown(say(L, "headline.heading"))
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
        say(L, "to_cover.heading"),
        say(L, "to_cover.sentence"),
    )
    yes, no = say(L, "yes"), say(L, "no")
    table = show_table(
        pd.DataFrame(
            {
                say(L, "district"): b["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "built_up_area_covered"): b["urban_covered_pct"].map(pct),
                say(L, "4a_spots_covered"): [
                    f"{n(a)} / {n(c)}" for a, c in zip(b["n_target_sites_covered"], b["n_target_sites"])
                ],
                say(L, "fully_covered"): b["is_fully_covered"].map(lambda v: yes if v else no),
            }
        ),
        source=ctx.source,
    )
    show_table(
        pd.DataFrame(
            {
                say(L, "scenic_spot"): [_site_name(r, L) for _, r in s.iterrows()],
                say(L, "district"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "rating"): [_rating_text(r, L) for _, r in s.iterrows()],
                say(L, "covered_outdoors_2"): s["is_covered"].map(lambda v: yes if v else no),
                say(L, "nearest_station_m"): s["distance_m"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
            }
        ),
        caption=say(L, "scenic_spots"),
        source=say(L, "rating_sources_sites_csv"),
    )
    record("scenic_spots_to_cover", list(s[s["is_target"] & ~s["is_covered"]]["name_zh"]))
    return table


def show_top_blockers(ctx: Context, top: int = 5) -> pd.DataFrame:
    """The blockers that hold most sites, and the longest-stuck sites on the supervision list."""
    table = pd.DataFrame()
    tf = ctx.taskforce()
    L = ctx.lang
    show_step(
        say(L, "top_blockers.heading"),
        blocker_sentence(ctx)
        + " "
        + say(L, "top_blockers.sentence", supervision=n(len(tf.supervision)), top=min(top, len(tf.supervision))),
    )
    if len(tf.supervision):
        table = show_table(supervision_table(ctx, top), source=ctx.source)
    return table
