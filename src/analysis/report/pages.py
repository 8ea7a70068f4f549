"""What the notebooks show: one call per step that prints a heading, a sentence stating the numbers,
and a table or figure, in Chinese or English; the provenance box, "what changed since last month",
and the headline numbers recorded as tagged outputs for the report index and the tests.

Every number comes from the stage outputs the context reads (`Context.forecast/coverage/taskforce`)
or the cleaned stations; no page runs a stage. Each `show_*` returns the table it showed.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from analysis.config import CITY_TOTAL, OPERATOR_NAMES_ZH
from analysis.report.chrome import translate_note
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
    name_label,
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


#: Operators by their English names (the codes are the data's).
OPERATOR_NAMES_EN = {
    "CMCC": "China Mobile",
    "CTCC": "China Telecom",
    "CUCC": "China Unicom",
    "CBN": "China Broadnet",
    "unknown": "unknown",
}


def _show(ctx: Context, name: str, df: pd.DataFrame, caption: str = "", source: str = "") -> pd.DataFrame:
    """A people's table on the page, its data written beside the page as `<name>.csv` and linked."""
    return show_table(df, caption, source, csv=ctx.csv_path(name), lang=ctx.lang)


def _copy_beside_page(ctx: Context, path) -> None:
    """A file the page's words link to (quarantine.csv, sites.csv), copied beside the page so the link resolves."""
    import shutil

    if ctx.out is not None and path is not None and Path(path).is_file():
        ctx.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, ctx.out / Path(path).name)


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


def show_changes(ctx: Context) -> pd.DataFrame:
    """The "what changed since last month" table: stations added, sites that moved stage, coverage change;
    returns the table by district."""
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
    table = _show(ctx, "changes_by_district", pd.DataFrame(rows), source=ctx.source)
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
        _show(ctx, "changes_stage_moves", mv, caption=say(L, "sites_that_moved_stage"))
    return table


def provenance(ctx: Context) -> dict:
    """What this page was made from: input hash and files, city config, package version, dates."""
    return {**provenance_of(ctx.city, ctx.as_of, ctx.cache, ctx.lang), "figure_lang": ctx.fig_lang}


def provenance_rows(ctx: Context) -> list[tuple[str, str]]:
    """What the page was made from, as (label, value) rows: report and comparison dates, city config,
    inputs' content hash, extract date and rule, cache, package version (shown in the annex)."""
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
    return rows


def show_provenance(ctx: Context, with_changes: bool = False) -> None:
    """One line pointing to the annex, where the report's provenance and methods are (one place
    instead of a box on every page); with `with_changes`, "what changed since last month" before it."""
    if with_changes:
        show_changes(ctx)
    p = provenance(ctx)
    show_markdown(say(ctx.lang, "annex.see"))
    record("inputs_sha256", p["inputs_sha256"])
    record("cache_hit", bool(p["cache_hit"]))


# --------------------------------------------------------------------------------------------
# 01 clean
# --------------------------------------------------------------------------------------------


def count_station_files(summary: dict) -> int:
    """Files that gave station records: the clean summary lists a workbook once per sheet, and also
    the files it skipped or could not read (those have no `rows`)."""
    return len({f["file"] for f in summary["files"] if "rows" in f})


def show_clean_counts(ctx: Context) -> pd.DataFrame:
    """Rows in, kept, merged and quarantined, and the stations they make; returns the table."""
    s = ctx.clean_summary
    L = ctx.lang
    show_step(
        say(L, "clean.rows.heading"),
        say(
            L,
            "clean.rows.sentence",
            files=count_station_files(s),
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
    table = _show(
        ctx,
        "clean_rows",
        pd.DataFrame({say(L, "rows"): [r[0] for r in rows], say(L, "count"): [n(r[1]) for r in rows]}),
        source=ctx.source,
    )
    record("rows_in", s["rows_in"])
    record("stations", s["stations"])
    return table


def reason_words(code: str, lang: str, meaning: str | None = None) -> str:
    """A quarantine or merge reason in words (`meaning` given: its explanation); a reason this table
    does not know yet is shown with its code's words rather than as snake_case."""
    from analysis.report.text import TEXT

    key = f"reason_about.{code}" if meaning is not None else f"reason.{code}"
    if key in TEXT[lang]:
        return say(lang, key)
    if meaning is not None:
        return meaning if lang == "en" else ""
    return code.replace("_", " ")


def show_quarantine(ctx: Context) -> pd.DataFrame:
    """Why rows were quarantined or merged, with the meaning of each reason."""
    _copy_beside_page(ctx, Path(ctx.cache["folder"]) / "quarantine.csv")
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
    return show_table(
        pd.DataFrame(
            {
                say(L, "fate"): [i[2] for i in items],
                say(L, "reason"): [reason_words(i[0], L) for i in items],
                say(L, "meaning"): [reason_words(i[0], L, meaning.get(i[0], "")) for i in items],
                say(L, "rows_2"): [n(i[1]) for i in items],
            }
        ),
        source=ctx.source,
        csv=ctx.csv_path("clean_reasons"),
        lang=L,
    )


def show_stations_by_district(ctx: Context) -> pd.DataFrame:
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
            row[say(L, "operator_column", name_zh=OPERATOR_NAMES_ZH[o], name_en=OPERATOR_NAMES_EN[o], code=o)] = n(
                (sub["operator"] == o).sum()
            )
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
    table = _show(ctx, "on_air_by_district_operator", pd.DataFrame(rows), source=ctx.source)
    record("on_air_as_of", int(len(on)))
    for t, c in checks:
        record(f"on_air_{day(t.date)}", int(c))
    return table


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


def _in_lang(r, column: str, lang: str) -> str:
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
        words = [_in_lang(r, "verdict", L), _in_lang(r, "must_happen", L)]
        if float(r.get("months_left") or 0) > LONG_HORIZON_MONTHS:
            words.append(_in_lang(r, "spread", L))
        lines.append(" ".join(w for w in words if w))
    return [x for x in lines if x]


def record_expected(targets: pd.DataFrame, as_of) -> None:
    """The page's expected count (and, for a target still ahead, its probability) as tagged records."""
    for _, r in targets.iterrows():
        key = day(r["target_date"])
        record(f"expected_on_air_{key}", round(expected_count(r), 2))
        if pd.Timestamp(r["target_date"]) > as_of and pd.notna(r.get("prob_reach")):
            record(f"prob_reach_{key}", round(float(r["prob_reach"]), 4))


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
                say(L, "needed_per_month"): f"{r['pace_needed_per_month']:.1f}",
                say(L, "achieved_per_month_last_3"): f"{r['pace_last_3m']:.1f}",
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
            pace_needed_per_month=first["pace_needed_per_month"],
            pace_last_3m=first["pace_last_3m"],
            model=cf.model,
            prob_reach=prob(first["prob_reach"]),
        )
    else:
        sent = say(L, "targets.sentence_all_due", as_of=day(ctx.as_of), now=n(now))
    show_step(say(L, "targets.heading"), sent)
    table = _show(
        ctx,
        "targets",
        target_table(ctx),
        source=ctx.source + say(L, "targets.source", model=cf.model),
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
        say(L, "district_forecast.sentence", as_of=day(ctx.as_of), basis=translate_note(basis, L) or ""),
    )
    table = _show(
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
    # the model's notes are in the annex, in the page's language (one place for methods)
    table = _show(ctx, "backtest", out, source=say(L, "backtest.source"))
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
    table = _show(
        ctx,
        "coverage_by_district",
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
        source=ctx.source + say(L, "coverage.source"),
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


def coord_precision_m(ctx: Context) -> pd.Series:
    """How well each key site's position is known (sites.csv `coord_precision_m`, by site_id); empty
    when the city's site list does not say."""
    path = ctx.city.folder / ctx.city.files["sites"] if "sites" in ctx.city.files else None
    if path is None or not Path(path).is_file():
        return pd.Series(dtype=float)
    sites = pd.read_csv(path, dtype={"site_id": str}, encoding="utf-8-sig")
    if "site_id" not in sites:
        return pd.Series(dtype=float)
    if "coord_precision_m" not in sites:
        return pd.Series(dtype=float)
    return pd.to_numeric(sites.set_index("site_id")["coord_precision_m"], errors="coerce")


def site_verdicts(sites: pd.DataFrame, precision_m: pd.Series) -> pd.Series:
    """'covered', 'uncovered', or 'uncertain' when the site is nearer the coverage edge than its
    position is known (|margin| < coordinate precision): a site placed to 5 km is not declared
    uncovered by 9 m."""
    precision = sites["site_id"].astype(str).map(precision_m).astype(float)
    uncertain = precision.notna() & sites["margin_m"].notna() & (sites["margin_m"].abs() < precision)
    verdict = sites["is_covered"].map(lambda v: "covered" if v else "uncovered")
    return verdict.where(~uncertain, "uncertain")


def show_key_sites(ctx: Context) -> pd.DataFrame:
    """Every key site of the article: category, rating, covered or not, nearest station and margin."""
    cov = ctx.coverage()
    L = ctx.lang
    s = cov.sites.copy()
    order = {"scenic": 0, "hospital": 1, "university": 2, "industrial": 3, "centre": 4, "commercial": 5, "office": 6}
    s = s.sort_values(
        ["category", "site_id"], key=lambda c: c.map(order).fillna(9) if c.name == "category" else c, kind="stable"
    )
    s["verdict"] = site_verdicts(s, coord_precision_m(ctx)).to_numpy()
    uncovered_targets = s[s["is_target"] & ~s["is_covered"]]
    show_step(
        say(L, "key_sites.heading"),
        say(
            L,
            "key_sites.sentence",
            n_sites=n(len(s)),
            is_covered=n((s["verdict"] == "covered").sum()),
            uncertain=n((s["verdict"] == "uncertain").sum()),
            is_target=n(s["is_target"].sum()),
            uncovered=say(L, "list_sep").join(uncovered_targets["name_zh" if L == "zh" else "name_en"])
            or say(L, "none"),
        ),
    )
    yes, no = say(L, "yes"), say(L, "no")
    words = {"covered": yes, "uncovered": no, "uncertain": say(L, "uncertain")}
    precision = s["site_id"].astype(str).map(coord_precision_m(ctx))
    table = _show(
        ctx,
        "key_sites",
        pd.DataFrame(
            {
                say(L, "site_2"): [_site_name(r, L) for _, r in s.iterrows()],
                say(L, "category"): s["category"].map(lambda c: say(L, f"cat.{c}")),
                say(L, "district"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "rating"): [_rating_text(r, L) for _, r in s.iterrows()],
                say(L, "covered_outdoors"): s["verdict"].map(words),
                say(L, "covered_indoors"): s["is_covered_indoor"].map(lambda v: yes if v else no),
                say(L, "nearest_station_m"): s["distance_m"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
                say(L, "margin_m"): s["margin_m"].map(lambda v: "–" if pd.isna(v) else f"{v:+,.0f}"),
                say(L, "position_known_to_m"): precision.map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
            }
        ),
        source=ctx.source + say(L, "key_sites.source"),
    )
    record("key_sites_covered", int(s["is_covered"].sum()))
    record("key_sites_uncertain", int((s["verdict"] == "uncertain").sum()))
    record("uncovered_target_sites", list(uncovered_targets["name_zh"]))
    return table


def _site_names(cov, names, lang: str) -> str:
    """Key-site names a gap or candidate reaches ('a; b', as the coverage stage writes them) in the
    page's language: English pages show each site's English name."""
    if not isinstance(names, str) or not names:
        return ""
    if lang == "zh":
        return names
    if "name_en" not in cov.sites or "name_zh" not in cov.sites:
        return names
    english = dict(zip(cov.sites["name_zh"].astype(str), cov.sites["name_en"].fillna("").astype(str)))
    return "; ".join(english.get(x.strip()) or x.strip() for x in names.split(";"))


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
        table = _show(
            ctx,
            "gaps",
            pd.DataFrame(
                {
                    say(L, "rank_2"): g["rank"].map(n),
                    say(L, "district"): g["district"].map(lambda d: district_label(ctx.city, d, L)),
                    say(L, "area_km"): g["area_km2"].map(lambda v: f"{v:,.2f}"),
                    say(L, "sites_2"): g["sites"].map(lambda v: _site_names(cov, v, L)),
                }
            ),
            caption=say(L, "gaps"),
        )
    if len(c):
        _show(
            ctx,
            "candidate_sites",
            pd.DataFrame(
                {
                    say(L, "candidate"): c["candidate_id"],
                    say(L, "district"): c["district"].map(lambda d: district_label(ctx.city, d, L)),
                    say(L, "lon"): c["lon"].map(lambda v: f"{v:.4f}"),
                    say(L, "lat"): c["lat"].map(lambda v: f"{v:.4f}"),
                    say(L, "band"): c["band"],
                    say(L, "gap_closed_km"): c["gain_km2"].map(lambda v: f"{v:,.2f}"),
                    say(L, "sites_reached"): c["sites"].map(lambda v: _site_names(cov, v, L)),
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
        say(L, "map.sentence") + " " + say(L, "map.definition") + " " + link,
    )
    show_html(
        f'<iframe title="{html.escape(say(L, "map.heading"), quote=True)}" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;box-sizing:border-box;height:{height_px}px;border:1px solid #bbb"></iframe>'
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
        freq = g["freq_ghz"].iloc[0]
        label = say(L, "band.unknown", freq=freq) if band == "unknown" else f"{band} ({freq:g} GHz)"
        row = {say(L, "band"): label}
        for a in areas:
            o = g[(g["area_type"] == a) & (g["layer"] == "outdoor")]["radius_m"]
            i = g[(g["area_type"] == a) & (g["layer"] == "indoor")]["radius_m"]
            row[say(L, f"area.{a}")] = f"{o.iloc[0]:,.0f} / {i.iloc[0]:,.0f}" if len(o) and len(i) else "–"
        rows.append(row)
    show_step(
        say(L, "footprint.heading"),
        say(L, "footprint.sentence"),
    )
    table = _show(
        ctx,
        "footprint_radius",
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
    table = _show(
        ctx,
        "pipeline_by_stage",
        pd.DataFrame(rows),
        caption=say(L, "funnel.caption", previous=day(tf.previous)),
        source=ctx.source,
    )
    show_image(tf.figures["funnel"], alt=say(L, "funnel.heading"), subtitle=say(L, "fig.funnel"))
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
    table = _show(
        ctx,
        "blockers",
        pd.DataFrame(
            {
                say(L, "blocker"): bc["blocker"].map(lambda b: names.get(b, b)),
                say(L, "sites"): bc["sites"].map(n),
            }
        ),
        source=ctx.source,
    )
    show_image(tf.figures["blockers"], alt=say(L, "blockers.heading"), subtitle=say(L, "fig.blockers"))
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
            say(L, "site"): s["name"].fillna(s["station_id"]).map(lambda v: name_label(v, L)),
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
        table = _show(ctx, "supervision_list", supervision_table(ctx, top), source=ctx.source)
    show_image(tf.figures["days_stuck"], alt=say(L, "supervision.heading"), subtitle=say(L, "fig.days_stuck"))
    record("supervision_list", int(len(tf.supervision)))
    return table


def forecast_district_expected(ctx: Context, districts: pd.DataFrame) -> pd.Series:
    """Each row of district_targets.csv (districts, then the city) with the forecast's expected count
    on air on its target date: the district's reconciled mean, the city's `expected_on_air`; NaN
    where the forecast has no such target (the task force's own count is then not shown either)."""
    cf = ctx.forecast()
    when = pd.Timestamp(districts["target_date"].iloc[-1]) if len(districts) else pd.NaT
    city_row = cf.targets[cf.targets["target_date"] == when] if len(cf.targets) else cf.targets
    dt_ = cf.district_table
    by_d = dt_[dt_["target_date"] == when].set_index("district")["mean"] if len(dt_) else pd.Series(dtype=float)
    city_v = expected_count(city_row.iloc[0]) if len(city_row) else float("nan")
    return pd.Series(
        [city_v if i == len(districts) - 1 else by_d.get(x, float("nan")) for i, x in enumerate(districts["district"])],
        index=districts.index,
        dtype=float,
    )


def lever_sentence(ctx: Context, levers: pd.DataFrame) -> str:
    """Which blocker to clear first: the top lever when freeing it changes the chance or the year-end
    count by at least one station's worth, else that no blocker on the list moves the forecast."""
    L = ctx.lang
    top = levers.iloc[0]
    values = dict(target=n(top["target"]), target_date=day(top["target_date"]), year_end=day(top["year_end"]))
    if not (top["prob_rise"] >= 0.01 or top["year_end_rise"] >= 0.5):  # NaN (no target ahead) is no rise
        return say(L, "levers.sentence_flat", **values)
    blocker = top["blocker_zh"] if L == "zh" else BLOCKER_EN.get(top["blocker"], top["blocker"])
    return say(
        L,
        "levers.sentence" if top["prob_rise"] >= 0.01 else "levers.sentence_count",  # no '100 % to 100 %'
        blocker=blocker,
        sites=n(top["sites_on_list"]),
        p=prob(top["prob_reach"]),
        p_freed=prob(top["prob_reach_if_freed"]),
        expected=n(top["expected_year_end"]),
        expected_freed=n(top["expected_year_end_if_freed"]),
        **values,
    )


def show_levers(ctx: Context) -> pd.DataFrame:
    """Beside the supervision list: for each blocker on it, how much the chance of the next target and
    the expected year-end count rise if its sites are freed this month (the forecast's levers.csv)."""
    L = ctx.lang
    lv = ctx.forecast().levers
    if not len(lv):
        show_step(say(L, "levers.heading"), say(L, "levers.none"))
        return pd.DataFrame()
    show_step(say(L, "levers.heading"), lever_sentence(ctx, lv))
    names = BLOCKER_ZH if L == "zh" else BLOCKER_EN
    table = _show(
        ctx,
        "levers",
        pd.DataFrame(
            {
                say(L, "blocker"): lv["blocker"].map(lambda b: names.get(b, b)),
                say(L, "sites_held"): lv["sites_on_list"].map(n),
                say(L, "p_now"): lv["prob_reach"].map(prob),
                say(L, "p_if_freed"): lv["prob_reach_if_freed"].map(prob),
                say(L, "expected_year_end"): lv["expected_year_end"].map(n),
                say(L, "expected_year_end_if_freed"): lv["expected_year_end_if_freed"].map(n),
            }
        ),
        source=ctx.source,
    )
    record("levers", {str(r["blocker"]): round(float(r["year_end_rise"]), 2) for _, r in lv.iterrows()})
    return table


def show_district_targets(ctx: Context) -> pd.DataFrame:
    """Each district's share of the year's target: achieved, the forecast's expected count by the
    target date (the same as the forecast and summary pages state), shortfall."""
    tf = ctx.taskforce()
    L = ctx.lang
    d = tf.districts.copy()
    if not len(d):
        return pd.DataFrame()
    d["expected"] = forecast_district_expected(ctx, d)
    d["expected_add"] = d["expected"] - d["baseline_on_air"]
    d["expected_shortfall"] = (d["target_on_air"] - d["expected"]).clip(lower=0)
    city = d.iloc[-1]
    show_step(
        say(L, "district_targets.heading"),
        say(
            L,
            "district_targets.sentence",
            target_date=day(city["target_date"]),
            target_add=n(city["target_add"]),
            achieved_add=n(city["achieved_add"]),
            in_pipeline=n(city["in_pipeline"]),
            baseline_date=day(city["baseline_date"]),
            expected=n(city["expected"]),
            expected_add=n(city["expected_add"]),
            expected_shortfall=n(city["expected_shortfall"]),
        ),
    )
    if pd.notna(city["target_date"]) and pd.notna(city["expected"]):
        record(f"expected_on_air_{day(city['target_date'])}", round(float(city["expected"]), 2))
        record(
            f"district_targets_{day(city['target_date'])}",
            {x: int(v) for x, v in zip(d["district"].iloc[:-1], d["target_on_air"].iloc[:-1]) if pd.notna(v)},
        )
    table = _show(
        ctx,
        "district_targets",
        pd.DataFrame(
            {
                say(L, "district"): d["district"].map(lambda x: district_label(ctx.city, x, L)),
                say(L, "share_2"): d["target_share"].map(lambda v: pct(100 * v)),
                say(L, "to_add_this_year"): d["target_add"].map(n),
                say(L, "added_2"): d["achieved_add"].map(n),
                say(L, "done"): d["achieved_pct"].map(pct),
                say(L, "in_the_pipeline"): d["in_pipeline"].map(n),
                say(L, "expected_by_target"): d["expected"].map(n),
                say(L, "expected_to_add"): d["expected_add"].map(n),
                say(L, "shortfall"): d["expected_shortfall"].map(n),
            }
        ),
        source=ctx.source + say(L, "split", basis=translate_note(d["share_basis"].iloc[0], L) or ""),
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
    table = _show(
        ctx,
        "stage_durations",
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
        elif _in_lang(r, "verdict", L):  # the forecast's verdict: the same expected count as its page
            parts.append(" ".join(x for x in (_in_lang(r, "verdict", L), _in_lang(r, "must_happen", L)) if x))
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


def verdict_sentence(ctx: Context, targets: pd.DataFrame, now: int, changes: dict) -> str:
    """The page's first line: the next target's status in words (on track / at risk / off track, by
    `analysis.verdict`), its probability, and the stations added since the previous month."""
    from analysis.verdict import STATUS_EN, STATUS_ZH, classify_target

    L = ctx.lang
    added = n(changes["added"]["added"].iloc[-1])
    ahead = targets[targets["target_date"] > ctx.as_of]
    if not len(ahead):
        return say(L, "verdict.none_ahead", now=n(now), added=added)
    r = ahead.iloc[0]
    status = r.get("status")  # the forecast's own status, the one its page states
    if not isinstance(status, str) or status not in STATUS_EN:
        status = classify_target(float(r["prob_reach"]), int(r["target"]), r["target_date"], ctx.as_of, now)
    return say(
        L,
        "verdict.sentence",
        target=n(r["target"]),
        target_date=day(r["target_date"]),
        status=(STATUS_ZH if L == "zh" else STATUS_EN)[status],
        prob_reach=prob(r["prob_reach"]) if status not in ("reached", "missed") else "–",
        now=n(now),
        added=added,
    )


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
    verdict = verdict_sentence(ctx, tg, now, ch)
    record("verdict", verdict)
    show_html(
        TABLE_CSS
        + f'<p class="fiveg-verdict">{html.escape(verdict)}</p>'
        + '<p class="fiveg-headline">'
        + html.escape(" ".join(parts))
        + "</p>"
    )
    record("as_of", day(ctx.as_of))
    record("on_air_as_of", now)
    record("added_last_month", int(ch["added"]["added"].iloc[-1]))
    for t in ctx.city.targets:
        if t.kind == "reported" and pd.Timestamp(t.date) <= ctx.as_of:
            record(f"on_air_{day(t.date)}", count_on_air(ctx, t.date))
            record(f"reported_{day(t.date)}", t.on_air)
    record_expected(tg, ctx.as_of)
    for _, r in tg.iterrows():
        record(f"target_{day(r['target_date'])}", int(r["target"]))
        if pd.Timestamp(r["target_date"]) <= ctx.as_of:  # due: the index says reached or missed, not a probability
            record(f"on_air_{day(r['target_date'])}", count_on_air(ctx, r["target_date"]))
        record(f"still_to_build_{day(r['target_date'])}", max(int(r["target"]) - now, 0))
    record("urban_covered_pct", round(float(city["urban_covered_pct"]), 2))
    record(
        "districts_not_fully_covered", [d for d in cov.by_district.iloc[:-1].query("not is_fully_covered")["district"]]
    )
    record("pipeline_total", int(total["sites"].iloc[0]))
    record("supervision_list", int(len(tf.supervision)))


def show_coverage_to_do(ctx: Context) -> pd.DataFrame:
    """The districts and the 4A+ scenic spots still to cover (and spots not yet rated)."""
    _copy_beside_page(ctx, ctx.city.folder / ctx.city.files["sites"] if "sites" in ctx.city.files else None)
    cov = ctx.coverage()
    L = ctx.lang
    b = cov.by_district.iloc[:-1]
    s = cov.sites[cov.sites["category"] == "scenic"]
    show_step(
        say(L, "to_cover.heading"),
        say(L, "to_cover.sentence"),
    )
    yes, no = say(L, "yes"), say(L, "no")
    table = _show(
        ctx,
        "to_cover_districts",
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
    _show(
        ctx,
        "to_cover_scenic_spots",
        pd.DataFrame(
            {
                say(L, "scenic_spot"): [_site_name(r, L) for _, r in s.iterrows()],
                say(L, "district"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
                say(L, "rating"): [_rating_text(r, L) for _, r in s.iterrows()],
                say(L, "covered_outdoors_2"): site_verdicts(s, coord_precision_m(ctx)).map(
                    {"covered": yes, "uncovered": no, "uncertain": say(L, "uncertain")}
                ),
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
        table = _show(ctx, "supervision_top", supervision_table(ctx, top), source=ctx.source)
    return table
