"""What every rendered page carries around its notebook output: the navigation bar between the
report's pages, the data vintage, the report dates around this one (the one it compares with, the next),
the annex page (methodology, what the report was made from, the model's notes) and the translation of
the stages' notes into the page's language.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from analysis.report.render import render_template
from analysis.report.text import TEXT, day, kind_words, say
from analysis.taskforce import previous_report_date

#: The annex page beside the report's pages.
ANNEX = "annex.html"

#: Notes the stages write in English, with the key of their Chinese wording (values by name).
NOTE_PATTERNS = (
    (
        r"too little history for a (?P<h>\d+)-month backtest \((?P<n>\d+) months; needs (?P<need>\d+)\)",
        "note.short_backtest",
    ),
    (
        r"too little history to backtest a season learned from a year at origins in every month "
        r"\((?P<n>\d+) months, (?P<o>\d+) origins\).*",
        "note.season_level",
    ),
    (r"too little history to choose a model by backtest \((?P<n>\d+) months\).*", "note.drift"),
    (
        r"intervals (?:widened|scaled) x(?P<a>[\d.]+) at 1 month to x(?P<b>[\d.]+) from (?P<m>\d+) months on "
        r"\(above the mean path x(?P<ua>[\d.]+) to x(?P<ub>[\d.]+), below it x(?P<da>[\d.]+) to x(?P<db>[\d.]+)\).*",
        "note.widened_sides",
    ),
    (
        r"intervals (?:widened|scaled) x(?P<a>[\d.]+) at 1 month to x(?P<b>[\d.]+) from (?P<m>\d+) months on.*",
        "note.widened",
    ),
    (r"(?P<n>\d+) sites in the pipeline on (?P<d>[\d-]+) reach air by the observed stage durations.*", "note.pipeline"),
    (r"(?P<n>\d+) of (?P<m>\d+) month ends interpolated linearly between published dates", "note.interpolated"),
    (
        r"the records hold (?P<held>[\d,]+) stations on air on (?P<d>[\d-]+) where the city reported "
        r"(?P<rep>[\d,]+) \((?P<pct>\d+)%\): the forecast and its verdicts judge the records, not the city's count",
        "note.records_short",
    ),
    (
        r"intervals widened x(?P<a>[\d.]+) at 1 month to x(?P<b>[\d.]+) at (?P<h>\d+) months to the spread of the "
        r"published counts' own changes \(published every (?P<g>\d+) months: .*\)",
        "note.widened_published",
    ),
    (r"(?P<a>[\w+]+) against (?P<b>\w+) in the backtest: mean MASE (?P<x>[\d.]+) vs (?P<y>[\d.]+)", "note.against"),
    (
        r"no season model tried: only (?P<n>\d+) monthly additions? lies? between two published month ends "
        r"\(a season needs (?P<need>\d+);.*\)",
        "note.no_season",
    ),
    (
        r"(?P<c>[\w+]+) chosen: (?P<a>\w+) combined with equal weights with its closest rival in the backtest, "
        r"within (?P<m>\d+)% of its score \(combined (?P<x>[\d.]+), \w+ alone (?P<y>[\d.]+)\)",
        "note.combined",
    ),
    (
        r"(?P<c>[\w+]+) chosen: (?P<b>[\w+]+) scored (?P<x>[\d.]+) against (?P<y>[\d.]+), not (?P<m>\d+)% better.*",
        "note.simpler",
    ),
    (r"no target_share in city\.toml: share of stations on air on (?P<d>[\d-]+)", "note.share_on_air"),
    (
        r"city\.toml gives no target_share: split by the (?P<n>\d+) sites in the pipeline on (?P<d>[\d-]+)",
        "note.share_pipeline",
    ),
    (
        r"city\.toml gives no target_share: split by the (?P<n>\d+) sites in the pipeline on (?P<d>[\d-]+) "
        r"\(only \d+ sites: a rough split; set target_share in city\.toml\)",
        "note.share_pipeline_rough",
    ),
    (
        r"city\.toml gives no target_share and no site was in the pipeline on (?P<d>[\d-]+): "
        r"split by the sites on air since then and in the pipeline on (?P<a>[\d-]+)",
        "note.share_programme",
    ),
    (
        r"city\.toml gives no target_share and no site was in the pipeline on (?P<d>[\d-]+): "
        r"split by the sites on air since then and in the pipeline on (?P<a>[\d-]+) "
        r"\(only (?P<n>\d+) sites: a rough split; set target_share in city\.toml\)",
        "note.share_programme_rough",
    ),
    (
        r"city\.toml gives no target_share and no site was in the pipeline on (?P<d>[\d-]+): "
        r"nor any since: split equally \(set target_share in city\.toml\)",
        "note.share_equal",
    ),
    (r"city\.toml target_share", "note.share_given"),
    (
        r"city\.toml gives no target_share and (?P<u>\d+) sites in the pipeline have no stage dates \(not known to "
        r"have been in it on (?P<d>[\d-]+)\): split by the sites on air since then and in the pipeline on (?P<a>[\d-]+)"
        r"(?: \(only (?P<n>\d+) sites: a rough split; set target_share in city\.toml\))?",
        "note.share_undated",
    ),
    # the forecast's one note about the districts with no station (forecast.city.describe_empty_districts)
    (r"(?P<d>[^:]+): no station on air by (?P<on>[\d-]+); forecast as zero", "note.empty_district"),
    (
        r"(?P<n>\d+) districts have no station on air by (?P<on>[\d-]+); forecast as zero: (?P<names>.+)",
        "note.empty_districts_named",
    ),
    (
        r"(?P<n>[\d,]+) of (?P<m>[\d,]+) districts have no station on air by (?P<on>[\d-]+); forecast as zero "
        r"\(listed in empty_districts\.csv\)",
        "note.empty_districts_listed",
    ),
)


def translate_note(note: str, lang: str, city=None) -> str | None:
    """A stage's note in the page's language: the known notes in a reader's words (in English too: the stage
    writes "city.toml gives no target_share", a page says "no district shares in the city's configuration");
    an unknown note as written in English, None in Chinese (shown only in the annex's log). The whole is the
    `city`'s kind (a city, a province, a country: `text.kind_words`)."""
    if not isinstance(note, str) or not note.strip():  # a missing basis (NaN) is no note
        return None
    note = note.strip()
    for pattern, key in NOTE_PATTERNS:
        m = re.fullmatch(pattern, note, flags=re.S)
        if m:
            return say(lang, key, **kind_words(city, lang), **m.groupdict())
    return note if lang != "zh" else None


def next_report_date(as_of) -> pd.Timestamp:
    """The monthly report after this one: the same day a month later (a month end's is the next month end)."""
    as_of = pd.Timestamp(as_of).normalize()
    nxt = as_of + pd.DateOffset(months=1)
    if as_of.is_month_end:
        nxt = nxt + pd.offsets.MonthEnd(0)
    return nxt.normalize()


#: A finished report's folder beside the others: its date as its name, its index and headline written last.
REPORT_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


class Compared(NamedTuple):
    """The date a report compares with ("what changed since last month") and, when a report of that date
    sits beside it in the reports folder, that report's folder (else None)."""

    date: pd.Timestamp
    folder: Path | None


def list_reports_beside(city_dir) -> list[pd.Timestamp]:
    """The dates of the finished reports in a city's reports folder (`<out>/<city>/<YYYY-MM-DD>/` holding
    headline.json and index.html), in order; a folder still being built, failed or not a date is none."""
    city_dir = Path(city_dir) if city_dir is not None else None
    if city_dir is None or not city_dir.is_dir():
        return []
    dates = []
    for folder in city_dir.iterdir():
        if not (folder.is_dir() and REPORT_FOLDER.fullmatch(folder.name)):
            continue
        if (folder / "headline.json").is_file() and (folder / "index.html").is_file():
            try:
                dates.append(pd.Timestamp(folder.name))
            except ValueError:  # (2021-02-30: a folder named like a date that is none)
                continue
    return sorted(dates)


def find_compared_report(as_of, city_dir=None) -> Compared:
    """What a report compares with, the one rule every page, the stages run for it and the index follow: the
    nearest earlier report beside it in the reports folder `city_dir`, dated from the first day of the month
    before on (a backfill's last report as of the extract's 22nd compares with the month end before, which the
    reader has, not with the 22nd of that month, where no report was made); with none there, the same day a
    month earlier (a month end's: the month end before), `taskforce.previous_report_date`."""
    as_of = pd.Timestamp(as_of).normalize()
    since = (as_of.to_period("M") - 1).start_time
    beside = [d for d in list_reports_beside(city_dir) if since <= d < as_of]
    if beside:
        return Compared(beside[-1], Path(city_dir) / day(beside[-1]))
    return Compared(previous_report_date(as_of), None)


def find_next_report(as_of, city_dir=None, planned=()) -> pd.Timestamp:
    """The report after this one, as the head of its pages names it, by the rule `find_compared_report` follows
    backwards: the nearest later report beside it in the reports folder or still to be made by the same run
    (`planned`: a backfill's later dates; 02-28's next is the 03-22 its last report compares with), up to the
    end of the month after; else the scheduled one, `next_report_date`."""
    as_of = pd.Timestamp(as_of).normalize()
    until = (as_of.to_period("M") + 1).end_time.normalize()
    later = [d for d in [*list_reports_beside(city_dir), *map(pd.Timestamp, planned)] if as_of < d <= until]
    return min(later) if later else next_report_date(as_of)


def vintage_line(lang: str, as_of, extract, next_date=None) -> str:
    """'Data as of …, records extracted …; next report …' for the head of every page (`next_date`, default the
    scheduled one, `next_report_date`)."""
    nxt = next_date if next_date is not None else next_report_date(as_of)
    return say(lang, "chrome.vintage", as_of=day(as_of), extract=day(extract), next=day(nxt))


def nav_html(lang: str, pages: list[tuple[str, str]], current: str) -> str:
    """The navigation bar: the report's index, each page (the current one marked), the annex."""
    links = [("index.html", say(lang, "chrome.index"))] + pages + [(ANNEX, say(lang, "chrome.annex"))]
    items = "".join(
        f'<a href="{html.escape(href)}"'
        + (' aria-current="page" class="here"' if href == current else "")
        + f">{html.escape(label)}</a>"
        for href, label in links
    )
    return f'<nav class="fiveg-nav" aria-label="{html.escape(say(lang, "chrome.nav"))}">{items}</nav>'


NAV_CSS = """<style>
:root{--jp-content-font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
--jp-ui-font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif}
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif}
.fiveg-nav{display:flex;flex-wrap:wrap;gap:4px 18px;padding:8px 0;margin:0 0 8px 0;border-bottom:1px solid #ccd5df;
font-size:14px}
.fiveg-nav a{color:#1f4e8c;text-decoration:none}.fiveg-nav a.here{font-weight:700;color:#1b1f24}
.fiveg-vintage{font-size:12px;color:#555;margin:0 0 6px 0}
.jp-Notebook{max-width:1300px}
.jp-RenderedHTMLCommon table.fiveg-table{table-layout:auto;max-width:100%}
.fiveg-scroll{overflow-x:auto;max-width:100%}
</style>"""


def decorate_page(page: Path, lang: str, pages: list[tuple[str, str]], vintage: str) -> None:
    """Put the navigation bar and the data vintage at the top of a rendered page."""
    text = page.read_text(encoding="utf-8")
    head = NAV_CSS + nav_html(lang, pages, page.name) + f'<p class="fiveg-vintage">{html.escape(vintage)}</p>'
    text = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + head, text, count=1)
    page.write_text(text, encoding="utf-8")


def write_annex(
    folder: Path,
    lang: str,
    title: str,
    pages: list[tuple[str, str]],
    vintage: str,
    provenance_rows: list[tuple[str, str]],
    files: list[dict],
    notes: list[str],
    city=None,
) -> Path:
    """The annex: how the numbers are made (one place instead of notes on every page), what the report
    was made from (inputs with their checksums), and the model's notes in the page's language."""
    shown = [translate_note(x, lang, city) for x in notes]
    page = render_template(
        "annex.html.j2",
        html_lang="zh-CN" if lang == "zh" else "en",
        title=title,
        nav=nav_html(lang, pages, ANNEX),
        vintage=vintage,
        L=TEXT[lang],
        methods=[
            say(lang, f"method.{k}", **kind_words(city, lang))
            for k in ("clean", "forecast", "coverage", "sites", "taskforce")
        ],
        provenance=provenance_rows,
        files=files,
        notes=[s for s in shown if s],
        untranslated=len([s for s in shown if s is None]),
    )
    path = folder / ANNEX
    path.write_text(page, encoding="utf-8")
    return path
