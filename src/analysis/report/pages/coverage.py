"""03 coverage: districts and key sites covered, the gaps, the map, the link budget."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from analysis.report.context import Context
from analysis.report.display import (
    record,
    show_html,
    show_step,
)
from analysis.report.pages.common import (
    MAX_DISTRICT_ROWS,
    list_districts,
    show_district_frame,
    show_first_rows,
    show_frame,
    uncovered_km2,
)
from analysis.report.text import (
    day,
    district_label,
    kind_words,
    n,
    pct,
    say,
    whole_word,
)

# --------------------------------------------------------------------------------------------
# 03 coverage
# --------------------------------------------------------------------------------------------


def not_fully_covered(ctx: Context, by_district: pd.DataFrame) -> list[str]:
    """The labels of the districts not fully covered (rows of a coverage table, the city's total last), for a
    sentence: in the city's order, or when more than a table shows, as the table below chooses its rows: the most
    uncovered built-up area first (the sentence named T73.50_18.20, T74.00_18.20 … by name, none in the table)."""
    rows = by_district.iloc[:-1][~by_district.iloc[:-1]["is_fully_covered"].astype(bool)]
    if len(rows) > MAX_DISTRICT_ROWS:
        rows = rows.iloc[np.argsort(-uncovered_km2(rows).fillna(0).to_numpy(float), kind="stable")]
    return [district_label(ctx.city, d, ctx.lang) for d in rows["district"]]


def show_coverage_by_district(ctx: Context) -> pd.DataFrame:
    """Built-up area and district area covered, key sites and 4A+ scenic spots covered, per district."""
    cov = ctx.coverage()
    L = ctx.lang
    b = cov.by_district
    city = b.iloc[-1]
    full = b.iloc[:-1][b.iloc[:-1]["is_fully_covered"]]["district"].tolist()
    not_full = not_fully_covered(ctx, b)
    th = cov.full_coverage_pct
    show_step(
        say(L, "coverage.heading"),
        say(
            L,
            "coverage.sentence",
            as_of=day(ctx.as_of),
            whole=whole_word(ctx.city, L),
            n_stations_on_air=n(city["n_stations_on_air"]),
            urban_covered_pct=pct(city["urban_covered_pct"]),
            covered_pct=pct(city["covered_pct"]),
            th=th,
            fully=say(L, "not_fully_covered", districts=list_districts(ctx, not_full))
            if not_full
            else say(L, "every_district_fully_covered"),
        ),
    )
    table = show_district_frame(
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
                    f"{n(a)} / {n(c)}" + (say(L, "key_sites.to_check", n=n(u)) if u else "")
                    for a, c, u in zip(b["n_key_sites_covered"], b["n_key_sites"], b["n_key_sites_uncertain"])
                ],
                say(L, "4a_spots_covered"): [
                    f"{n(a)} / {n(c)}" for a, c in zip(b["n_target_sites_covered"], b["n_target_sites"])
                ],
                say(L, "fully_covered"): b["is_fully_covered"].map(lambda v: say(L, "yes") if v else say(L, "no")),
            }
        ),
        uncovered_km2(b).iloc[:-1],
        "rows.rule.uncovered",
        source=ctx.source + say(L, "coverage.source") + _grid_accuracy(ctx, cov.mode),
    )
    record("urban_covered_pct", round(float(city["urban_covered_pct"]), 2))
    record("covered_pct", round(float(city["covered_pct"]), 2))
    record("districts_fully_covered", len(full))
    record("target_sites", int(city["n_target_sites"]))
    record("target_sites_covered", int(city["n_target_sites_covered"]))
    return table


def _grid_accuracy(ctx: Context, mode: str) -> str:
    """One line on how far the grid's shares are from the exact ones (nothing in vector mode: they are exact)."""
    if mode != "grid":
        return ""
    from analysis.coverage import CoverageSettings

    return say(ctx.lang, "coverage.grid_accuracy", cell_m=CoverageSettings.from_city(ctx.city).cell_m)


def _site_location_notes(s: pd.DataFrame, lang: str, city=None) -> str:
    """Sites outside every district, and sites counted in another district than sites.csv names (the stage
    takes a site's district from its point, as it does for stations)."""
    if "district_note" not in s:
        return ""
    name = "name_zh" if lang == "zh" else "name_en"
    sep = say(lang, "list_sep")
    outside = s[~s["is_in_city"].astype(bool)] if "is_in_city" in s else s.iloc[:0]
    # (an all-empty column reads back as floats)
    noted = s["district_note"].map(lambda v: isinstance(v, str) and v != "")
    moved = s[noted.astype(bool) & ~s.index.isin(outside.index)]
    whole = kind_words(city, lang)
    text = (
        say(lang, "key_sites.outside_city", names=sep.join(outside[name].astype(str)), **whole) if len(outside) else ""
    )
    if len(moved):
        names = [f"{r[name]} ({_describe_district_change(r, lang, city)})" for _, r in moved.iterrows()]
        text += say(lang, "key_sites.district_from_point", names=sep.join(names))
    return text


def _describe_district_change(row, lang: str, city=None) -> str:
    """'A → B': the district sites.csv names and the one the site's point lies in (labelled for the page)."""
    given, found = str(row.get("district_given", "") or ""), str(row["district"])
    if city is not None:
        given, found = district_label(city, given, lang), district_label(city, found, lang)
    return f"{given} → {found}"


def site_name(row, lang: str) -> str:
    return f"{row['name_zh']}（{row['name_en']}）" if lang == "zh" else f"{row['name_en']} ({row['name_zh']})"


def rating_text(row, lang: str) -> str:
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


def verdict_words(lang: str) -> dict[str, str]:
    """A key site's outdoor verdict (`coverage.site_verdicts`) as a table cell says it."""
    return {"covered": say(lang, "yes"), "uncovered": say(lang, "no"), "uncertain": say(lang, "uncertain")}


def show_key_sites(ctx: Context) -> pd.DataFrame:
    """Every key site of the article: category, rating, covered or not, nearest station and margin."""
    cov = ctx.coverage()
    L = ctx.lang
    s = cov.sites.copy()
    order = {"scenic": 0, "hospital": 1, "university": 2, "industrial": 3, "centre": 4, "commercial": 5, "office": 6}
    s = s.sort_values(
        ["category", "site_id"], key=lambda c: c.map(order).fillna(9) if c.name == "category" else c, kind="stable"
    )
    # the stage's verdict (`coverage.site_verdicts`): the district table, the map and the summary count the same
    uncovered_targets = s[s["is_target"] & (s["verdict"] == "uncovered")]
    uncertain_targets = s[s["is_target"] & (s["verdict"] == "uncertain")]
    name = "name_zh" if L == "zh" else "name_en"
    show_step(
        say(L, "key_sites.heading"),
        say(
            L,
            "key_sites.sentence",
            n_sites=n(len(s)),
            is_covered=n((s["verdict"] == "covered").sum()),
            uncertain=n((s["verdict"] == "uncertain").sum()),
            is_target=n(s["is_target"].sum()),
            uncovered=say(L, "list_sep").join(uncovered_targets[name]) or say(L, "none"),
        )
        + (
            say(L, "key_sites.targets_uncertain", names=say(L, "list_sep").join(uncertain_targets[name]))
            if len(uncertain_targets)
            else ""
        )
        + _site_location_notes(s, L, ctx.city),
    )
    if not len(s):  # (a city.toml without key sites: the sentence says 0; a table of a header and no row said nothing)
        _record_key_sites(s, uncovered_targets)
        return pd.DataFrame()
    yes, no = say(L, "yes"), say(L, "no")
    words = verdict_words(L)
    precision = s["coord_precision_m"]
    table = show_frame(
        ctx,
        "key_sites",
        pd.DataFrame(
            {
                say(L, "site_2"): [site_name(r, L) for _, r in s.iterrows()],
                say(L, "category"): s["category"].map(lambda c: say(L, f"cat.{c}")),
                say(L, "district"): s["district"]
                .fillna("")
                .map(
                    lambda d: (
                        district_label(ctx.city, d, L) if d else say(L, "key_sites.outside", **kind_words(ctx.city, L))
                    )
                ),
                say(L, "rating"): [rating_text(r, L) for _, r in s.iterrows()],
                say(L, "covered_outdoors"): s["verdict"].map(words),
                say(L, "covered_indoors"): s["is_covered_indoor"].map(lambda v: yes if v else no),
                say(L, "nearest_station_m"): s["distance_m"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
                say(L, "margin_m"): s["margin_m"].map(lambda v: "–" if pd.isna(v) else f"{v:+,.0f}"),
                say(L, "position_known_to_m"): precision.map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
            }
        ),
        source=ctx.source + say(L, "key_sites.source"),
    )
    _record_key_sites(s, uncovered_targets)
    return table


def _record_key_sites(s: pd.DataFrame, uncovered_targets: pd.DataFrame) -> None:
    record("key_sites_covered", int((s["verdict"] == "covered").sum()))
    record("key_sites_uncertain", int((s["verdict"] == "uncertain").sum()))
    record("uncovered_target_sites", list(uncovered_targets["name_zh"]))


def _site_namer(cov, lang: str):
    """`_site_names` for every gap or candidate of a page: the key sites' names looked up once (a dict of every
    site built per row took a pass over the sites for each of a country's 2,540 gaps)."""
    sites = cov.sites
    zh = sites["name_zh"].astype(str) if "name_zh" in sites else pd.Series(dtype=str)
    english = dict(zip(zh, sites["name_en"].fillna("").astype(str))) if "name_en" in sites else {}
    uncertain = set(zh[sites["verdict"] == "uncertain"]) if "verdict" in sites else set()
    mark = say(lang, "key_sites.to_check_mark")

    def names_of(names) -> str:
        if not isinstance(names, str) or not names:
            return ""
        shown = []
        for name in (x.strip() for x in names.split(";")):
            text = name if lang == "zh" else (english.get(name) or name)
            shown.append(text + (mark if name in uncertain else ""))
        return "; ".join(shown)

    return names_of


def _site_names(cov, names, lang: str) -> str:
    """Key-site names a gap or candidate reaches ('a; b', as the coverage stage writes them) in the
    page's language: English pages show each site's English name; a site whose verdict is uncertain is
    marked 'to check' (the gap lies where its recorded position is, which is not known well enough to
    call it uncovered: the key-site table says 待核实)."""
    return _site_namer(cov, lang)(names)


def show_gaps(ctx: Context, top: int = 10) -> pd.DataFrame:
    """The largest gaps in the built-up areas and the candidate sites that close most of them: the first `top`
    of each on the page, every one in the CSV beside it."""
    table = pd.DataFrame()
    cov = ctx.coverage()
    L = ctx.lang
    g, c = cov.gaps, cov.candidates
    show_step(
        say(L, "gaps.heading"),
        say(
            L,
            "gaps.sentence",
            gaps=n(len(g)),
            top=min(top, len(g)),
            candidates=n(len(c)),
        ),
    )
    names = _site_namer(cov, L)
    if len(g):
        table = show_first_rows(
            ctx,
            "gaps",
            pd.DataFrame(
                {
                    say(L, "rank_2"): g["rank"].map(n),
                    say(L, "district"): g["district"].map(lambda d: district_label(ctx.city, d, L)),
                    say(L, "area_km"): g["area_km2"].map(lambda v: f"{v:,.2f}"),
                    say(L, "sites_2"): g["sites"].map(names),
                }
            ),
            top,
            caption=say(L, "gaps"),
        )
    if len(c):
        show_first_rows(
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
                    say(L, "sites_reached"): c["sites"].map(names),
                }
            ),
            top,
            caption=say(L, "gaps.candidates_caption"),
            source=ctx.source,
        )
    return table


#: A map file larger than this is framed from coverage_map.html beside the page instead of embedded whole (a
#: country's 8,733 districts made a 7.5 MB map and, escaped into the page, an 11 MB coverage page).
MAX_EMBEDDED_MAP_BYTES = 2_000_000


def show_coverage_map(ctx: Context, height_px: int = 560) -> None:
    """The interactive coverage map, embedded whole in the page (no network needed except for
    basemap tiles) and, when the report has an output folder, also saved there as coverage_map.html
    (and, when larger than MAX_EMBEDDED_MAP_BYTES, framed from there rather than embedded)."""
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
    framed = ctx.out is not None and len(page.encode("utf-8")) > MAX_EMBEDDED_MAP_BYTES
    source = 'src="coverage_map.html"' if framed else f'srcdoc="{html.escape(page, quote=True)}"'
    show_html(
        f'<iframe title="{html.escape(say(L, "map.heading"), quote=True)}" {source} '
        f'style="width:100%;box-sizing:border-box;height:{height_px}px;border:1px solid #bbb"></iframe>'
    )


def show_link_budget(ctx: Context) -> pd.DataFrame:
    """Footprint radius of one station by band and area type (outdoor / indoor), from the link budget."""
    from analysis.coverage import CoverageSettings, link_budget_table

    L = ctx.lang
    lb = link_budget_table(CoverageSettings.from_city(ctx.city))
    used = set(ctx.station_columns("band")["band"].dropna().astype(str))
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
        say(L, "footprint.sentence", **kind_words(ctx.city, L)),
    )
    table = show_frame(
        ctx,
        "footprint_radius",
        pd.DataFrame(rows),
        source=say(L, "footprint.source"),
    )
    return table
