"""04 task force: the funnel, blockers, the supervision list, the levers, district targets, stage durations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import OPERATOR_NAMES_ZH
from analysis.report.chrome import translate_note
from analysis.report.context import Context
from analysis.report.display import (
    record,
    show_image,
    show_markdown,
    show_step,
    show_table,
)
from analysis.report.pages.common import choose_district_rows, show_district_frame, show_first_rows, show_frame
from analysis.report.pages.forecast import expected_count
from analysis.report.text import (
    day,
    district_label,
    kind_words,
    n,
    name_label,
    pct,
    prob,
    say,
    whole_word,
)
from analysis.taskforce import (
    BLOCKER_EN,
    BLOCKER_ZH,
    PIPELINE_STAGES,
    STAGE_EN,
    STAGE_ZH,
    blocker_keys,
    describe_tracking_files,
    rank_blockers_by_record,
    stages_without_history,
    undated_counted_from,
)

#: Status words not understood named in a line at most (the clean page lists them all).
MAX_WORDS_SHOWN = 6
#: The funnel table has a column per district: at most this many fit beside the stage and the city at 1400 px
#: (12 pushed the city's column out of sight).
MAX_DISTRICT_COLUMNS = 8

# --------------------------------------------------------------------------------------------
# 04 task force
# --------------------------------------------------------------------------------------------


def _tracking_source(ctx: Context) -> str:
    """What the task-force charts were drawn from, for their captions: the files the sites in the pipeline
    came from (a city without a tower company's tracking sheet is not told it sent one)."""
    files = ctx.taskforce().tracking_files
    return describe_tracking_files(files, ctx.lang) or say(ctx.lang, "source.taskforce")


def _stage_row(wide: pd.DataFrame, stage: str, districts: list) -> np.ndarray:
    """The funnel's sites of one stage in each district (0 where the stage or a count is missing)."""
    if stage not in wide.index:
        return np.zeros(len(districts))
    return pd.to_numeric(wide.loc[stage, districts], errors="coerce").fillna(0).to_numpy(float)


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
            whole=whole_word(ctx.city, L),
            sites=n(total["sites"]),
            previous=day(tf.previous),
            change=int(total["change"]),
            loc=n(city_rows.loc["on_air", "sites"]),
        )
        + "".join(pipeline_caveats(ctx)),
    )
    wide = f.pivot_table(index="stage", columns="district", values="sites", aggfunc="sum", sort=False)
    change = f.pivot_table(index="stage", columns="district", values="change", aggfunc="sum", sort=False)
    labels = [district_label(ctx.city, d, L) for d in wide.columns]
    rows = []
    for s in wide.index:  # (a row at a time: a lookup per cell took 7 s for 8,733 districts)
        row = {say(L, "stage"): stage.get(s, say(L, "pipeline_total") if s == "pipeline_total" else s)}
        cells = zip(labels, wide.loc[s].to_numpy(), change.loc[s].reindex(wide.columns).to_numpy())
        row.update({label: f"{n(v)} ({int(c):+,d})" for label, v, c in cells})
        rows.append(row)
    full = pd.DataFrame(rows)
    # a column per district: a city of many shows those with the most sites in the pipeline, ties (a city with
    # none) by the most on air (the CSV all)
    city_col = f["district"].iloc[-1]
    districts = [c for c in wide.columns if c != city_col]
    score, then = (_stage_row(wide, s, districts) for s in ("pipeline_total", "on_air"))
    keep = choose_district_rows(score, limit=MAX_DISTRICT_COLUMNS, then=then)
    page, more = full, ""
    if keep is not None:
        shown = [district_label(ctx.city, districts[i], L) for i in keep]
        page = full[[full.columns[0], *shown, district_label(ctx.city, city_col, L)]]
        rule = "rows.rule.pipeline" if (score > 0).any() else "rows.rule.on_air"
        more = say(L, "rows.more", k=len(keep), n=len(districts), rule=say(L, rule), rest=len(districts) - len(keep))
    table = show_table(
        page,
        say(L, "funnel.caption", previous=day(tf.previous)),
        ctx.source,
        csv=ctx.csv_path("pipeline_by_stage"),
        lang=L,
        full=full if keep is not None else None,
        more=more,
    )
    if len(_pipeline_sites(ctx)):
        show_image(
            tf.figures["funnel"], alt=say(L, "funnel.heading"), subtitle=say(L, "fig.funnel", src=_tracking_source(ctx))
        )
    else:  # (empty charts under a legend of districts chosen by name said nothing true)
        show_markdown(say(L, "charts.nothing", as_of=day(tf.as_of)))
    record("pipeline_total", int(total["sites"]))
    return table


def _n(value) -> str:
    """`text.n` of a count that may be pandas' NA (a nullable integer column)."""
    return "–" if value is None or pd.isna(value) else n(value)


def _pipeline_sites(ctx: Context) -> pd.DataFrame:
    """The sites not yet on air on the report date: selected once a report (the page's sections ask eight times,
    a pass over every site each: 10^6 of them in a country), kept with the context's other reads."""
    held = getattr(ctx, "_read", None)
    if held is not None and "pipeline sites" in held:
        return held["pipeline sites"]
    sites = ctx.taskforce().sites
    pipe = sites[sites["stage"] != "on_air"]
    if held is not None:
        held["pipeline sites"] = pipe
    return pipe


def pipeline_caveats(ctx: Context) -> list[str]:
    """What the pipeline count rests on, one sentence each, when it applies: sites without stage dates
    (counted from a month before the extract, so the change since last month may hold them), sites whose status was not
    understood (with the sheet's words; the forecast counts only the sites of a known stage, so its
    pipeline is smaller), and pipeline sites the cleaning quarantined (not counted at all)."""
    tf = ctx.taskforce()
    L = ctx.lang
    pipe = _pipeline_sites(ctx)
    out = []
    undated = len(undated_sites(ctx))  # (the stage's list, the one the supervision section shows)
    if undated:
        out.append(say(L, "funnel.undated", undated=n(undated), extract=day(tf.extract), previous=day(tf.previous)))
    unknown = int((pipe["stage"] == "unknown").sum())
    if unknown:
        words = list(((ctx.clean_summary or {}).get("notes") or {}).get("status_words_not_understood") or {})
        shown = say(L, "word_sep").join(name_label(str(w), L) for w in words[:MAX_WORDS_SHOWN]) + (
            say(L, "and_more", n=n(len(words) - MAX_WORDS_SHOWN)) if len(words) > MAX_WORDS_SHOWN else ""
        )
        key = "funnel.status_unknown_words" if words else "funnel.status_unknown"
        out.append(say(L, key, unknown=n(unknown), words=shown, known=n(len(pipe) - unknown)))
    dropped = quarantined_pipeline_sites(ctx)
    outside = dropped == "outside_city"  # (a province's file lists other cities' sites: no loss of this city's)
    if outside.any():
        out.append(say(L, "funnel.outside", sites=n(int(outside.sum())), **kind_words(getattr(ctx, "city", None), L)))
        dropped = dropped[~outside]
    if len(dropped):
        from analysis.report.pages.clean import reason_words

        by = dropped.value_counts()
        reasons = say(L, "clause_sep").join(
            say(L, "reason_count", reason=_lower_first(reason_words(r, L, city=getattr(ctx, "city", None))), sites=n(k))
            for r, k in by.items()
        )
        out.append(say(L, "funnel.quarantined", sites=n(len(dropped)), reasons=reasons))
    return out


def _lower_first(words: str) -> str:
    """A label ('Missing coordinates') inside a sentence ('missing coordinates')."""
    return words[:1].lower() + words[1:] if words[1:2].islower() else words


#: Quarantine reasons that are no loss of a pipeline site: the sheet itself cancelled it, or it is another city's.
_NOT_A_LOSS = ("cancelled", "other_city")


def quarantined_pipeline_sites(ctx: Context) -> pd.Series:
    """The quarantine reason of each site not yet on air that the cleaning quarantined (quarantine.csv
    beside the cleaned stations: a row whose status reads as a stage before on air, or is not understood),
    one per site code (or name) whatever the number of weekly sheets it came in; a cancelled site is no
    loss. Empty when the cleaning's folder holds no quarantine."""
    from pathlib import Path

    from analysis.clean.parse import parse_statuses

    folder = (getattr(ctx, "cache", None) or {}).get("folder")
    path = Path(folder) / "quarantine.csv" if folder else None
    if path is None or not path.exists():
        return pd.Series(dtype=object)
    q = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if not {"fate", "reason", "status"} <= set(q.columns):
        return pd.Series(dtype=object)
    q = q[(q["fate"] == "quarantined") & ~q["reason"].isin(_NOT_A_LOSS)]
    said = q["status"].str.strip() != ""
    status = parse_statuses(q["status"])
    q = q[said & (status.isin(PIPELINE_STAGES) | (status == "unknown")).to_numpy()]
    key = q.get("site_code", pd.Series("", index=q.index)).where(lambda v: v != "", q.get("name", ""))
    q = q.assign(_key=key.to_numpy())
    q = q[q["_key"] != ""].drop_duplicates("_key")
    return q["reason"].reset_index(drop=True)


def blocker_counts(ctx: Context) -> pd.DataFrame:
    """Sites in the pipeline per reported blocker (as known on the report date)."""
    # every site in the pipeline, as the funnel and the blocker chart count them (a site of unknown stage too)
    s = _pipeline_sites(ctx)
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
    if not total and tf.undated_not_counted:  # (the records list sites, but nothing dates them this early)
        return say(
            L, "blockers.no_pipeline_undated", as_of=day(ctx.as_of), undated=n(tf.undated_not_counted),
            extract=day(tf.extract), since=day(undated_counted_from(tf.extract)),
        )  # fmt: skip
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
    if not len(bc):  # no site in the pipeline: the sentence says so (a table of a header and no row said nothing)
        record("blockers", {})
        return pd.DataFrame()
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
    if len(_pipeline_sites(ctx)):  # (none: the funnel's section said there is nothing to chart)
        show_image(
            tf.figures["blockers"],
            alt=say(L, "blockers.heading"),
            subtitle=say(L, "fig.blockers", src=_tracking_source(ctx)),
        )
    record("blockers", {r["blocker"]: int(r["sites"]) for _, r in bc.iterrows()})
    return table


def _operator_label(operator, lang: str) -> str:
    """The operator for a page; one the records do not name is said to be unstated, not guessed."""
    if pd.isna(operator) or operator == "unknown":
        return say(lang, "operator_unstated")
    return f"{OPERATOR_NAMES_ZH.get(operator, operator)}" if lang == "zh" else str(operator)


def _planned_label(planned, days_past, lang: str) -> str:
    """The planned on-air date, with how long ago it passed when it has."""
    if planned is None or pd.isna(planned):
        return "–"
    if pd.notna(days_past) and int(days_past) > 0:
        return say(lang, "planned_passed", date=day(planned), days=n(days_past))
    return say(lang, "planned_ahead", date=day(planned))  # (said, not a bare date: a date reads as a number)


def _said(values: pd.Series, lang: str, prose: bool = False) -> pd.Series:
    """Words from a sheet as written; a name with its Pinyin on an English page, `prose` (a sentence: the
    Pinyin of a sentence helps nobody) as written; '–' where it said nothing."""

    def one(v) -> str:
        if v is None or pd.isna(v) or not str(v).strip():
            return "–"
        return str(v).strip() if prose else name_label(str(v), lang)

    return values.map(one)


def supervision_table(ctx: Context, top: int = 15, sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """The first `top` rows of the supervision list (or of `sites`, the same columns: the sites whose time in
    stage is unknown) for a page; with the blocker as the sheet wrote it, who is responsible and the planned
    on-air date when any listed site carries them."""
    tf = ctx.taskforce()
    L = ctx.lang
    s = (tf.supervision if sites is None else sites).head(top)
    stage = STAGE_ZH if L == "zh" else STAGE_EN
    names = BLOCKER_ZH if L == "zh" else BLOCKER_EN
    unknown = say(L, "unknown_days")
    table = {
        say(L, "rank"): s["rank"].map(n),
        say(L, "site"): s["name"].fillna(s["station_id"]).map(lambda v: name_label(v, L)),
        say(L, "district"): s["district"].map(lambda d: district_label(ctx.city, d, L)),
        say(L, "operator"): s["operator"].map(lambda o: _operator_label(o, L)),
        say(L, "stage"): s["stage"].map(lambda v: stage.get(v, v)),
        say(L, "days_in_stage"): s["days_in_stage"].map(lambda v: unknown if pd.isna(v) else _n(v)),
        say(L, "days_over_threshold"): s["days_over"].map(_n),
        say(L, "blocker"): s["blocker"].map(lambda b: "–" if pd.isna(b) else names.get(b, b)),
    }
    if sites is not None:  # (no threshold applies to a site of unknown time in stage)
        del table[say(L, "days_over_threshold")]
    for col, key in (("blocker_detail", "blocker_as_written"), ("responsible", "responsible")):
        if col in s.columns and s[col].notna().any() and s[col].astype(str).str.strip().ne("").any():
            table[say(L, key)] = _said(s[col], L, prose=col == "blocker_detail")
    if "planned_on_air_date" in s.columns and s["planned_on_air_date"].notna().any():
        planned = pd.to_datetime(s["planned_on_air_date"])
        past = s.get("days_past_planned_on_air", pd.Series(pd.NA, index=s.index))
        table[say(L, "planned_on_air")] = [_planned_label(a, b, L) for a, b in zip(planned, past)]
    return pd.DataFrame(table)


def undated_sites(ctx: Context) -> pd.DataFrame:
    """The sites in the pipeline whose time in stage is unknown (no stage dates), past their planned on-air
    date first: the stage's undated_sites.csv (`taskforce.list_undated_sites`), read once a report."""
    return ctx.taskforce().undated


def supervision_sentence(ctx: Context, top: int, n_undated: int) -> str:
    """How many sites are overdue (shown up to `top`), and apart from them how many nobody can say are."""
    tf = ctx.taskforce()
    L = ctx.lang
    text = say(L, "supervision.sentence", supervision=n(len(tf.supervision)), top=min(top, len(tf.supervision)))
    if not len(tf.supervision):
        text = say(L, "supervision.none")
    if n_undated:
        text += say(L, "supervision.undated", undated=n(n_undated), top=n(min(top, n_undated)))
    return text


def show_supervision(ctx: Context, top: int = 15) -> pd.DataFrame:
    """The supervision list (督办清单): sites stuck longer than their stage's threshold; after it the sites
    whose time in stage is unknown, counted apart (nothing shows them overdue, nor within the threshold)."""
    table = pd.DataFrame()
    tf = ctx.taskforce()
    L = ctx.lang
    undated = undated_sites(ctx)
    show_step(say(L, "supervision.heading"), supervision_sentence(ctx, top, len(undated)))
    # the first `top` of each list on the page, every site in the CSV beside it
    if len(tf.supervision):
        every = supervision_table(ctx, len(tf.supervision))
        page = supervision_table(ctx, top) if len(tf.supervision) > top else None
        table = show_first_rows(ctx, "supervision_list", every, top, source=ctx.source, page=page)
    if len(undated):
        show_first_rows(
            ctx,
            "supervision_unknown_time",
            supervision_table(ctx, len(undated), undated),
            top,
            caption=say(L, "supervision.undated_caption"),
            source=ctx.source,
            page=supervision_table(ctx, top, undated) if len(undated) > top else None,
        )
    if len(_pipeline_sites(ctx)):
        show_image(
            tf.figures["days_stuck"],
            alt=say(L, "supervision.heading"),
            subtitle=say(L, "fig.days_stuck", src=_tracking_source(ctx)),
        )
    record("supervision_list", int(len(tf.supervision)))
    record("supervision_unknown_time", int(len(undated)))
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


def levers_not_estimable(ctx: Context, levers: pd.DataFrame) -> list[str] | None:
    """The pipeline stages without a measured duration when what freeing a blocker gains cannot be estimated,
    else None. It cannot when no stage of the pipeline has a completed, dated spell (sheets with a status and
    a planned date but no stage dates: every site 'no forecast', every gain 0, which read as "freeing changes
    nothing"), or when the levers show no gain while some stage has none (the sites that would pass through
    it have no date either way)."""
    tf = ctx.taskforce()
    if not len(_pipeline_sites(ctx)):
        return None
    missing = stages_without_history(tf.durations)
    if len(missing) == len(PIPELINE_STAGES):
        return missing
    flat = not len(levers) or not (
        (levers["prob_rise"].fillna(0) >= 0.01).any() or (levers["year_end_rise"].fillna(0) >= 0.5).any()
    )
    return missing if missing and flat and len(levers) else None


def show_levers_by_record(ctx: Context, missing: list[str]) -> pd.DataFrame:
    """When the levers cannot be estimated: say so and why, and rank the blockers by what the sheets say
    (sites past their planned on-air date, how long past, the furthest stage reached, sites held)."""
    tf = ctx.taskforce()
    L = ctx.lang
    stage = STAGE_ZH if L == "zh" else STAGE_EN
    names = BLOCKER_ZH if L == "zh" else BLOCKER_EN
    ranked = rank_blockers_by_record(tf.sites, tf.as_of)
    # a plan among the sites the table ranks (those in the pipeline): plans of sites on air since made it say
    # "ranked by the planned date" above columns of 0 and – when no site in the pipeline had one
    pipe = _pipeline_sites(ctx)
    has_planned = "planned_on_air_date" in pipe.columns and bool(pipe["planned_on_air_date"].notna().any())
    show_step(
        say(L, "levers.heading"),
        say(
            L,
            "levers.not_estimable",
            stages=say(L, "word_sep").join(stage.get(x, x) for x in missing),
        )
        + say(L, "levers.by_record" if has_planned else "levers.by_record_no_plan"),
    )
    columns = {
        say(L, "blocker"): ranked["blocker"].map(lambda b: names.get(b, b)),
        say(L, "sites_held"): ranked["sites"].map(n),
    }
    if has_planned:
        columns[say(L, "past_planned_sites")] = ranked["sites_past_planned_on_air"].map(n)
        columns[say(L, "past_planned_days")] = ranked["max_days_past_planned_on_air"].map(_n)
    columns[say(L, "furthest_stage")] = ranked["furthest_stage"].map(lambda v: "–" if pd.isna(v) else stage.get(v, v))
    columns[say(L, "stage_unknown_sites")] = ranked["sites_stage_unknown"].map(n)
    table = show_frame(ctx, "levers", pd.DataFrame(columns), source=ctx.source)
    record("levers_not_estimable", missing)
    return table


def show_levers(ctx: Context) -> pd.DataFrame:
    """Beside the supervision list: for each blocker on it, how much the chance of the next target and
    the expected year-end count rise if its sites are freed this month (the forecast's levers.csv)."""
    L = ctx.lang
    lv = ctx.forecast().levers
    missing = levers_not_estimable(ctx, lv)
    if missing is not None:
        return show_levers_by_record(ctx, missing)
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
            whole=whole_word(ctx.city, L),
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
            L,
            "district_targets.shortfall_sum",
            districts=n(shortfall_sum),
            city=n(city["expected_shortfall"]),
            whole=whole_word(ctx.city, L),
        )
    table = show_district_frame(
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
        d["expected_shortfall"].iloc[:-1].to_numpy(float),
        "rows.rule.gap",
        then=d["baseline_on_air"].iloc[:-1].to_numpy(float),
        caption=caption,
        source=ctx.source + say(L, "split", basis=translate_note(d["share_basis"].iloc[0], L, ctx.city) or ""),
    )
    return table


def show_stage_durations(ctx: Context) -> pd.DataFrame:
    """How long each stage has taken (observed), the basis of the supervision thresholds."""
    tf = ctx.taskforce()
    L = ctx.lang
    du = tf.durations
    stage = dict(STAGE_ZH if L == "zh" else STAGE_EN, planned_to_on_air=say(L, "planned_to_on_air"))
    sentence = say(L, "durations.sentence")
    n_undated = len(undated_sites(ctx))
    if n_undated:  # ("0 still in the stage" beside a funnel of 3/2/3/3 undated sites)
        sentence += say(L, "durations.undated", undated=n(n_undated))
    show_step(say(L, "durations.heading"), sentence)
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
