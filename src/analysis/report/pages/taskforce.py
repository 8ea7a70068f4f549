"""04 task force: the funnel, blockers, the supervision list, the levers, district targets, stage durations."""

from __future__ import annotations

import pandas as pd

from analysis.config import OPERATOR_NAMES_ZH
from analysis.report.chrome import translate_note
from analysis.report.context import Context
from analysis.report.display import (
    record,
    show_image,
    show_step,
)
from analysis.report.pages.common import show_frame
from analysis.report.pages.forecast import expected_count
from analysis.report.text import (
    day,
    district_label,
    n,
    name_label,
    pct,
    prob,
    say,
)
from analysis.taskforce import (
    BLOCKER_EN,
    BLOCKER_ZH,
    STAGE_EN,
    STAGE_ZH,
    blocker_keys,
    describe_tracking_files,
)

# --------------------------------------------------------------------------------------------
# 04 task force
# --------------------------------------------------------------------------------------------


def _tracking_source(ctx: Context) -> str:
    """What the task-force charts were drawn from, for their captions: the files the sites in the pipeline
    came from (a city without a tower company's tracking sheet is not told it sent one)."""
    files = ctx.taskforce().tracking_files
    return describe_tracking_files(files, ctx.lang) or say(ctx.lang, "source.taskforce")


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
    table = show_frame(
        ctx,
        "pipeline_by_stage",
        pd.DataFrame(rows),
        caption=say(L, "funnel.caption", previous=day(tf.previous)),
        source=ctx.source,
    )
    show_image(
        tf.figures["funnel"], alt=say(L, "funnel.heading"), subtitle=say(L, "fig.funnel", src=_tracking_source(ctx))
    )
    record("pipeline_total", int(total["sites"]))
    return table


def blocker_counts(ctx: Context) -> pd.DataFrame:
    """Sites in the pipeline per reported blocker (as known on the report date)."""
    tf = ctx.taskforce()
    # every site in the pipeline, as the funnel and the blocker chart count them (a site of unknown stage too)
    s = tf.sites[tf.sites["stage"] != "on_air"]
    # a site without a blocker: not known when it has left the stage it was reported in since, else none
    return blocker_keys(s).value_counts().rename_axis("blocker").rename("sites").reset_index()


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
    if not total:  # (a city whose records hold no planned site: "在途站址 0 个：。" said nothing)
        return say(L, "blockers.no_pipeline", as_of=day(ctx.as_of))
    if unknown == total:
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
    table = show_frame(
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
    show_image(
        tf.figures["blockers"],
        alt=say(L, "blockers.heading"),
        subtitle=say(L, "fig.blockers", src=_tracking_source(ctx)),
    )
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
        table = show_frame(ctx, "supervision_list", supervision_table(ctx, top), source=ctx.source)
    show_image(
        tf.figures["days_stuck"],
        alt=say(L, "supervision.heading"),
        subtitle=say(L, "fig.days_stuck", src=_tracking_source(ctx)),
    )
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
    key = "levers.sentence" if top["prob_rise"] >= 0.01 else "levers.sentence_count"  # no '100 % to 100 %'
    # sites that report no blocker are pushed through, not "cleared of 'no blocker reported'"
    return say(
        L,
        key + ({"none": "_none", "not_known": "_not_known"}.get(top["blocker"], "")),
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
    table = show_frame(
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
    # the districts ahead of their share do not make up for those behind: said when the column does not add up
    shortfall_sum = float(d["expected_shortfall"].iloc[:-1].sum())
    caption = ""
    if round(shortfall_sum) != round(float(city["expected_shortfall"])):
        caption = say(
            L, "district_targets.shortfall_sum", districts=n(shortfall_sum), city=n(city["expected_shortfall"])
        )
    table = show_frame(
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
        caption=caption,
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
    table = show_frame(
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
