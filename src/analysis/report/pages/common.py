"""What every page shows and the steps share: the context's counts, "what changed since last month",
the provenance box; the helpers the notebooks call through `pages` (open_report, n, pct, ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import CITY_TOTAL
from analysis.figures import rank_districts
from analysis.files import flags_of
from analysis.report.context import Context, cache_sentence
from analysis.report.display import (
    record,
    show_markdown,
    show_step,
    show_table,
)
from analysis.report.inputs import provenance_of
from analysis.report.text import (
    day,
    district_label,
    extract_rule_text,
    n,
    pct,
    say,
    whole_word,
)
from analysis.schemas import on_air_at
from analysis.taskforce import (
    STAGE_EN,
    STAGE_ZH,
)

#: Operators by their English names (the codes are the data's).
OPERATOR_NAMES_EN = {
    "CMCC": "China Mobile",
    "CTCC": "China Telecom",
    "CUCC": "China Unicom",
    "CBN": "China Broadnet",
    "unknown": "unknown",
}


def show_frame(ctx: Context, name: str, df: pd.DataFrame, caption: str = "", source: str = "") -> pd.DataFrame:
    """A people's table on the page, its data written beside the page as `<name>.csv` and linked."""
    return show_table(df, caption, source, csv=ctx.csv_path(name), lang=ctx.lang)


def show_first_rows(
    ctx: Context,
    name: str,
    full: pd.DataFrame,
    top: int,
    caption: str = "",
    source: str = "",
    page: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A ranked table (`full`, already in people's words) of which the page shows the first `top` rows (`page`,
    when they are made apart: a column only some later row fills is left off the page), with a line saying how
    many more there are; its CSV beside the page holds every row (the gaps' CSV held the 10 rows shown while the
    sentence counted 36, and a country's 2,540)."""
    if len(full) <= top:
        return show_frame(ctx, name, full, caption, source)
    page = full.head(top) if page is None else page
    more = say(ctx.lang, "rows.rest_in_csv", k=len(page), rest=len(full) - len(page))
    return show_table(page, caption, source, csv=ctx.csv_path(name), lang=ctx.lang, full=full, more=more)


#: A page's table with a row per district shows at most this many districts (the CSV beside it holds all);
#: the forecast's small multiples draw as many (forecast.plots.MAX_DISTRICT_PANELS).
MAX_DISTRICT_ROWS = 12


def choose_district_rows(score, limit: int = MAX_DISTRICT_ROWS, then=None) -> np.ndarray | None:
    """The positions of the district rows a page shows: None when all fit in `limit` (every row, in the
    city's order); else the `limit` of the largest `score` (missing last), ties by the largest `then` (when
    given), then in the city's order (`figures.rank_districts`, the charts' rule too)."""
    if len(score) <= limit:
        return None
    return rank_districts(score, then)[:limit]


def show_district_frame(
    ctx: Context,
    name: str,
    df: pd.DataFrame,
    score,
    rule: str,
    caption: str = "",
    source: str = "",
    tail: int = 1,
    then=None,
) -> pd.DataFrame:
    """A table of a row per district and `tail` rows after them (the city's total) as `show_frame`; a city of
    more than MAX_DISTRICT_ROWS districts shows the rows of the largest `score` (ties by `then`; the rule said by
    the text `rule`, or "most on air" when no score is above 0 and `then` decided) and the tail, with a line
    saying how many more are in the CSV, which holds every row."""
    head = len(df) - tail
    keep = choose_district_rows(score, then=then)
    if keep is not None and then is not None and not (np.asarray(score, dtype=float) > 0).any():
        rule = "rows.rule.on_air"
    if keep is None:
        return show_frame(ctx, name, df, caption, source)
    page = pd.concat([df.iloc[keep], df.iloc[head:]])
    more = say(ctx.lang, "rows.more", k=len(keep), n=head, rule=say(ctx.lang, rule), rest=head - len(keep))
    return show_table(page, caption, source, csv=ctx.csv_path(name), lang=ctx.lang, full=df, more=more)


def uncovered_km2(by_district: pd.DataFrame) -> pd.Series:
    """Built-up area not covered (outdoor) per row of a coverage by-district table, km²."""
    return by_district["urban_area_km2"] * (1 - by_district["urban_covered_pct"].fillna(0) / 100)


def list_districts(ctx: Context, labels: list[str], limit: int = MAX_DISTRICT_ROWS) -> str:
    """District labels joined for a sentence: the first `limit`, then how many more (a national city's
    sentence named thousands)."""
    shown = say(ctx.lang, "list_sep").join(labels[:limit])
    return shown + (say(ctx.lang, "names.more", n=len(labels) - limit) if len(labels) > limit else "")


def copy_beside_page(ctx: Context, path) -> None:
    """A file the page's words link to (quarantine.csv, sites.csv), copied beside the page so the link resolves
    (a cell a sender wrote that a spreadsheet would run as a formula defused: reviewers open these in Excel)."""
    from analysis.files import copy_defused_csv

    if ctx.out is not None and path is not None and Path(path).is_file():
        ctx.out.mkdir(parents=True, exist_ok=True)
        copy_defused_csv(path, ctx.out / Path(path).name)


def count_on_air_by_district(ctx: Context, date) -> pd.Series:
    """Stations on air on `date` in each of the city's districts (city order, 0 where none), in one grouped
    pass over the stations (a count per district would pass over all of them once per district)."""
    st = ctx.station_columns("on_air_date", "off_air_date", "district")
    counts = st.loc[on_air_at(st, date), "district"].value_counts()
    return counts.reindex(list(ctx.city.district_names), fill_value=0).astype(int)


def count_on_air(ctx: Context, date, district: str | None = None) -> int:
    """Stations on air on `date` (the one on-air rule), in the city or one district."""
    st = ctx.station_columns("on_air_date", "off_air_date", "district")
    on = on_air_at(st, date)
    if district is not None:
        on &= st["district"] == district
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
            "before": [*count_on_air_by_district(ctx, prev).tolist(), count_on_air(ctx, prev)],
            "now": [*count_on_air_by_district(ctx, now).tolist(), count_on_air(ctx, now)],
        }
    )
    added["added"] = added["now"] - added["before"]
    now_sites = ctx.taskforce().sites
    s_now = now_sites[["station_id", "stage"]]
    s_prev = ctx.taskforce(prev).sites[["station_id", "stage"]]
    both = s_now.merge(s_prev, on="station_id", how="left", suffixes=("", "_prev"))
    both["stage_prev"] = both["stage_prev"].fillna("new")
    # a site without stage dates "new" this month is only new to the count: when it entered is not known
    dated = (
        flags_of(now_sites["has_stage_dates"]).to_numpy()
        if "has_stage_dates" in now_sites.columns
        else np.ones(len(both), dtype=bool)
    )
    moved = both[(both["stage"] != both["stage_prev"]) & (dated | (both["stage_prev"] != "new").to_numpy())]
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


def previous_report_count(ctx: Context) -> int | None:
    """The stations on air the report of the previous report date said, when that report sits beside this
    one (`<reports>/<city>/<previous date>/headline.json`); None when there is none or it does not say."""
    import json

    if ctx.out is None:
        return None
    # (resolved: a notebook rerun in its report's folder has out ".")
    path = Path(ctx.out).resolve().parent / day(ctx.previous) / "headline.json"
    try:
        said = json.loads(path.read_text(encoding="utf-8")).get("on_air_as_of")
    except (OSError, ValueError):
        return None
    return int(said) if isinstance(said, (int, float)) and not isinstance(said, bool) else None


def show_changes(ctx: Context) -> pd.DataFrame:
    """The "what changed since last month" table: stations added, sites that moved stage, coverage change;
    returns the table by district."""
    ch = changes_since_last_month(ctx)
    L = ctx.lang
    a = ch["added"]
    sentence = say(
        L, "changes.sentence", added=n(a["added"].iloc[-1]), sites=n(ch["moves"]["sites"].sum()),
        whole=whole_word(ctx.city, L),
    )  # fmt: skip
    published = previous_report_count(ctx)
    before = int(a["before"].iloc[-1])
    if published is not None and published != before:  # (late or corrected records since: said, not silently)
        sentence += say(
            L, "changes.revised", previous=day(ctx.previous), published=n(published), now=n(before),
            diff=f"{before - published:+,}",
        )  # fmt: skip
    # (a report beside this one made earlier in its own month is no "last month")
    same_month = ctx.previous.to_period("M") == ctx.as_of.to_period("M")
    heading = "changes.heading_same_month" if same_month else "changes.heading"
    show_step(say(L, heading, previous=day(ctx.previous), as_of=day(ctx.as_of)), sentence)
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
    table = show_district_frame(
        ctx, "changes_by_district", pd.DataFrame(rows), a["added"].iloc[:-1], "rows.rule.added", source=ctx.source
    )
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
        show_frame(ctx, "changes_stage_moves", mv, caption=say(L, "sites_that_moved_stage"))
    return table


def provenance(ctx: Context) -> dict:
    """What this page was made from: input hash and files, city config, package version, dates."""
    return {
        **provenance_of(ctx.city, ctx.as_of, ctx.cache, ctx.lang, previous=ctx.previous),
        "figure_lang": ctx.fig_lang,
    }


def provenance_rows(ctx: Context) -> list[tuple[str, str]]:
    """What the page was made from, as (label, value) rows: report and comparison dates, city config,
    inputs' content hash, extract date and rule, cache, package version (shown in the annex)."""
    p = provenance(ctx)
    L = ctx.lang
    rows = [
        (say(L, "report_date_as_of"), p["as_of"]),
        (say(L, "previous_report_date" if ctx.previous_folder is None else "previous_report_beside"), p["previous"]),
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
