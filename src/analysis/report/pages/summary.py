"""05 summary: the verdict first, the targets in sentences, coverage to do, the top blockers."""

from __future__ import annotations

import html

import pandas as pd

from analysis.files import flags_of
from analysis.report.context import Context
from analysis.report.display import (
    TABLE_CSS,
    record,
    show_html,
    show_markdown,
    show_step,
)
from analysis.report.pages.common import (
    changes_since_last_month,
    copy_beside_page,
    count_on_air,
    show_district_frame,
    show_frame,
    uncovered_km2,
)
from analysis.report.pages.coverage import rating_text, site_name, verdict_words
from analysis.report.pages.forecast import in_lang, record_expected
from analysis.report.pages.taskforce import blocker_sentence, supervision_table, undated_sites
from analysis.report.text import (
    day,
    district_label,
    kind_words,
    n,
    pct,
    prob,
    rate,
    say,
)

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
        elif in_lang(r, "verdict", L):  # the forecast's verdict: the same expected count as its page
            parts.append(" ".join(x for x in (in_lang(r, "verdict", L), in_lang(r, "must_happen", L)) if x))
        else:
            parts.append(
                say(
                    L,
                    "headline.target_ahead",
                    name=name,
                    target_date=day(r["target_date"]),
                    target=n(r["target"]),
                    target_diff=n(r["target"] - now),
                    pace_needed_per_month=rate(r["pace_needed_per_month"]),
                    pace_last_3m=rate(r["pace_last_3m"]),
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
        return say(L, "verdict.none_ahead", now=n(now), added=added, **kind_words(ctx.city, L))
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
            parts.append(
                say(L, "headline.reported", date=day(t.date), c=n(c), on_air=n(t.on_air), **kind_words(ctx.city, L))
            )
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
    n_undated = len(undated_sites(ctx))
    if n_undated:  # (sites of unknown time in stage are neither overdue nor not: "0 overdue" alone misled)
        parts[-1] = parts[-1].rstrip("。.") + say(L, "headline.pipeline_undated", undated=n(n_undated))
    if tf.undated_not_counted:  # (the records list them; this date is too early to count them)
        parts[-1] = parts[-1].rstrip("。.") + say(
            L, "headline.pipeline_undated_later", undated=n(tf.undated_not_counted), extract=day(tf.extract)
        )
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
    copy_beside_page(ctx, ctx.city.folder / ctx.city.files["sites"] if "sites" in ctx.city.files else None)
    cov = ctx.coverage()
    L = ctx.lang
    b = cov.by_district.iloc[:-1]
    s = cov.sites[cov.sites["category"] == "scenic"]
    in_city = flags_of(s["is_in_city"]) if "is_in_city" in s else pd.Series(True, index=s.index)
    show_step(
        say(L, "to_cover.heading"),
        say(L, "to_cover.sentence"),
    )
    yes, no = say(L, "yes"), say(L, "no")
    table = show_district_frame(
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
        uncovered_km2(b),
        "rows.rule.uncovered",
        source=ctx.source,
        tail=0,
    )
    to_cover = list(s[s["is_target"] & (s["verdict"] == "uncovered")]["name_zh"])
    if not len(s):  # (a table of a header and no row said nothing)
        show_markdown(say(L, "to_cover.no_spots"))
        record("scenic_spots_to_cover", to_cover)
        return table
    show_frame(
        ctx,
        "to_cover_scenic_spots",
        pd.DataFrame(
            {
                say(L, "scenic_spot"): [site_name(r, L) for _, r in s.iterrows()],
                # (a site whose point lies outside every district: said, not a blank district)
                say(L, "district"): [
                    district_label(ctx.city, d, L) if inside else say(L, "outside_the_city", **kind_words(ctx.city, L))
                    for d, inside in zip(s["district"], in_city)
                ],
                say(L, "rating"): [rating_text(r, L) for _, r in s.iterrows()],
                say(L, "covered_outdoors_2"): s["verdict"].map(verdict_words(L)),
                say(L, "nearest_station_m"): s["distance_m"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
            }
        ),
        caption=say(L, "scenic_spots"),
        source=say(L, "rating_sources_sites_csv"),
    )
    record("scenic_spots_to_cover", to_cover)
    return table


def show_top_blockers(ctx: Context, top: int = 5) -> pd.DataFrame:
    """The blockers that hold most sites, and the longest-stuck sites on the supervision list."""
    table = pd.DataFrame()
    tf = ctx.taskforce()
    L = ctx.lang
    overdue = (
        say(L, "top_blockers.sentence", supervision=n(len(tf.supervision)), top=min(top, len(tf.supervision)))
        if len(tf.supervision)
        else say(L, "top_blockers.none_overdue")
    )
    n_undated = len(undated_sites(ctx))
    if n_undated:
        overdue += say(L, "top_blockers.undated", undated=n(n_undated))
    show_step(say(L, "top_blockers.heading"), blocker_sentence(ctx) + " " + overdue)
    if len(tf.supervision):
        table = show_frame(ctx, "supervision_top", supervision_table(ctx, top), source=ctx.source)
    return table
