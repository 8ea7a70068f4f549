"""01 clean: what came in, what was merged or set aside and why, stations by district."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from analysis.config import CITY_TOTAL, OPERATOR_NAMES_ZH
from analysis.report.context import Context
from analysis.report.display import (
    TABLE_CSS,
    record,
    show_html,
    show_step,
    show_table,
)
from analysis.report.pages.common import OPERATOR_NAMES_EN, copy_beside_page, count_on_air, show_frame
from analysis.report.text import (
    day,
    district_label,
    n,
    say,
)
from analysis.schemas import on_air_at

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
    table = show_frame(
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
    copy_beside_page(ctx, Path(ctx.cache["folder"]) / "quarantine.csv")
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


def _off_air_text(ctx: Context, st: pd.DataFrame) -> str:
    """The stations reported taken off air (退网), said where the count is: counted on air until their off-air
    date, those whose date was not reported until the extract's (the latest day they can have gone off air)."""
    if "off_air_date" not in st:
        return ""
    off = pd.to_datetime(st["off_air_date"])
    gone = off.notna() & pd.to_datetime(st["on_air_date"]).notna()
    if not gone.any():
        return ""
    undated = int((gone & (off == ctx.extract)).sum()) if ctx.extract is not None else 0
    by_now = int((gone & (off <= ctx.as_of)).sum())
    return say(
        ctx.lang, "clean.off_air", n=n(int(gone.sum())), by_now=n(by_now), undated=n(undated), extract=day(ctx.extract)
    )


def show_stations_by_district(ctx: Context) -> pd.DataFrame:
    """Stations on air on the report date and at the end of each published count, by district and
    operator, checked against the counts the city published."""
    L = ctx.lang
    st = ctx.station_columns("on_air_date", "off_air_date", "district", "operator")
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
        say(L, "clean.on_air.sentence", on=n(len(on))) + check_text + _off_air_text(ctx, st),
    )
    table = show_frame(ctx, "on_air_by_district_operator", pd.DataFrame(rows), source=ctx.source)
    record("on_air_as_of", int(len(on)))
    for t, c in checks:
        record(f"on_air_{day(t.date)}", int(c))
    return table
