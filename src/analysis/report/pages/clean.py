"""01 clean: what came in (with what the cleaning noted of each file), what was merged or set aside and why,
stations by district."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
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
from analysis.report.pages.common import (
    OPERATOR_NAMES_EN,
    copy_beside_page,
    count_on_air,
    show_district_frame,
    show_frame,
)
from analysis.report.text import (
    day,
    district_label,
    kind_words,
    n,
    name_label,
    say,
    whole_word,
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
    show_file_notes(ctx)
    return table


#: Notes of a file longer than this (characters in all) are folded in a details block the reader opens.
NOTES_SHOWN_OPEN_CHARS = 160


def gather_file_notes(summary: dict) -> list[dict]:
    """What the cleaning noted of each input file, from the clean summary's "files" (one entry a sheet of a
    workbook): per file, in the summary's order, the sheets read, the columns not read, the empty rows under
    its tables, why it was skipped (a file that is no table), and its notes as the cleaning wrote them
    (`clean.sources` and `clean.stations` write them as English lines: sheets skipped, how undated trackers
    were ranked, positions read from a header's system ...). A file of none of these, or one that could not
    be read (the failed files are listed apart), is left out."""
    by_file: dict[str, dict] = {}
    for entry in summary.get("files") or []:
        if "error" in entry or not entry.get("file"):
            continue
        f = by_file.setdefault(
            str(entry["file"]), {"file": str(entry["file"]), "sheets": [], "unread": [], "trailing": 0, "notes": []}
        )
        if entry.get("sheet"):
            f["sheets"].append(str(entry["sheet"]))
        f["unread"] += [str(c) for c in entry.get("columns_not_read") or [] if str(c) not in f["unread"]]
        f["trailing"] += int(entry.get("trailing_empty_rows_ignored") or 0)
        f["skipped"] = entry.get("skipped")
        f["notes"] += [str(x) for x in entry.get("notes") or [] if str(x) not in f["notes"]]
    return [f for f in by_file.values() if f["unread"] or f["trailing"] or f.get("skipped") or f["notes"]]


def _list_lines(f: dict) -> list[str]:
    """A file's lines as the cleaning wrote them: why it was skipped, then its notes."""
    return ([str(f["skipped"])] if f.get("skipped") else []) + f["notes"]


def _say_file_lead_in(f: dict, lang: str) -> str:
    """A file's lead-in in the page's language (names from the data as written, romanised on English pages),
    escaped: its name, the sheets read, and what the summary's own keys say of it."""
    sep = say(lang, "word_sep")
    parts = []
    if f["sheets"]:
        parts.append(say(lang, "clean.file_notes.sheets", sheets=sep.join(name_label(x, lang) for x in f["sheets"])))
    if f.get("skipped"):
        parts.append(say(lang, "clean.file_notes.skipped"))
    if f["unread"]:
        parts.append(say(lang, "clean.file_notes.unread", columns=sep.join(name_label(c, lang) for c in f["unread"])))
    if f["trailing"]:
        parts.append(say(lang, "clean.file_notes.trailing", rows=n(f["trailing"])))
    if f["notes"] or f.get("skipped"):
        parts.append(say(lang, "clean.file_notes.noted", notes=n(len(_list_lines(f)))))
    name = f'<span class="fiveg-file">{html.escape(Path(f["file"]).name)}</span>'
    return name + html.escape(say(lang, "clean.file_notes.lead", said=say(lang, "clause_sep").join(parts)))


def _quote_as_written(lines: list[str], lang: str) -> str:
    """The notes as the cleaning wrote them (English), escaped and marked as a quotation in English; folded when
    long."""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    quoted = f'<ul class="fiveg-as-written" lang="en" data-as-written="clean">{items}</ul>'
    if sum(len(line) for line in lines) <= NOTES_SHOWN_OPEN_CHARS:
        return quoted
    summary = html.escape(say(lang, "clean.file_notes.open", notes=n(len(lines))))
    return f"<details><summary>{summary}</summary>{quoted}</details>"


def show_file_notes(ctx: Context) -> list[dict]:
    """What the cleaning noted of each input file (`gather_file_notes`), under the counts: a lead-in per file
    in the page's language, then its notes as written; nothing when no file has any. Returns the files."""
    files = gather_file_notes(ctx.clean_summary or {})
    if not files:
        return files
    L = ctx.lang
    show_step(say(L, "clean.file_notes.heading"), say(L, "clean.file_notes.sentence", files=n(len(files))))
    items = "".join(
        f"<li>{_say_file_lead_in(f, L)}{_quote_as_written(_list_lines(f), L) if _list_lines(f) else ''}</li>"
        for f in files
    )
    show_html(TABLE_CSS + f'<ul class="fiveg-file-notes">{items}</ul>')
    return files


def reason_words(code: str, lang: str, meaning: str | None = None, city=None) -> str:
    """A quarantine or merge reason in words (`meaning` given: its explanation), the whole said as the `city`'s
    kind (`text.kind_words`: 'outside the country'); a reason this table does not know yet is shown with its
    code's words rather than as snake_case."""
    from analysis.report.text import TEXT

    key = f"reason_about.{code}" if meaning is not None else f"reason.{code}"
    if key in TEXT[lang]:
        return say(lang, key, **kind_words(city, lang))
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
                say(L, "reason"): [reason_words(i[0], L, city=ctx.city) for i in items],
                say(L, "meaning"): [reason_words(i[0], L, meaning.get(i[0], ""), ctx.city) for i in items],
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
    # one grouped count of district x operator (a filter per district passed over every station once each)
    grid = pd.crosstab(on["district"], on["operator"]).reindex(index=names, columns=ops, fill_value=0)
    grid.loc[CITY_TOTAL] = [int((on["operator"] == o).sum()) for o in ops]
    totals = np.array(grid.sum(axis=1), dtype=np.int64)
    totals[-1] = len(on)  # (stations outside every district count in the city's total only)
    rows = []
    for (d, counts), total in zip(grid.iterrows(), totals):
        row = {say(L, "district"): district_label(ctx.city, d, L)}
        for o in ops:
            row[say(L, "operator_column", name_zh=OPERATOR_NAMES_ZH[o], name_en=OPERATOR_NAMES_EN[o], code=o)] = n(
                counts[o]
            )
        row[say(L, "total")] = n(total)
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
            **kind_words(ctx.city, L),
        )
        for t, c in checks
    )
    show_step(
        say(L, "clean.on_air.heading", as_of=day(ctx.as_of)),
        say(L, "clean.on_air.sentence", on=n(len(on)), whole=whole_word(ctx.city, L))
        + check_text
        + _off_air_text(ctx, st),
    )
    table = show_district_frame(
        ctx, "on_air_by_district_operator", pd.DataFrame(rows), totals[:-1], "rows.rule.on_air", source=ctx.source
    )
    record("on_air_as_of", int(len(on)))
    for t, c in checks:
        record(f"on_air_{day(t.date)}", int(c))
    return table
