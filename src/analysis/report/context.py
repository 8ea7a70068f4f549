"""The context every page opens: the report's parameters checked once (`open_report`), the cleaned
stations, and the stage outputs for the report date and the date it compares with
(`chrome.find_compared_report`), read from `data/processed/<city>/<as_of>/` (the stage runs first only
when its outputs are missing, so a notebook also runs alone in JupyterLab).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.config import City, resolve_city
from analysis.errors import UsageError
from analysis.report.chrome import find_compared_report
from analysis.report.display import TABLE_CSS, show_html, show_markdown
from analysis.report.inputs import CleanedInputs, check_as_of, check_basemap, clean_cached
from analysis.report.outputs import (
    CoverageOutputs,
    ForecastOutputs,
    TaskforceOutputs,
    ensure_stage,
    read_coverage,
    read_forecast,
    read_taskforce,
    recount_taskforce_since,
)
from analysis.report.text import LANGS, day, default_lang, say


def resolve_lang(city: City, lang: str | None) -> tuple[str, str, str | None]:
    """(text language, figure language, note). Figures fall back to English when no CJK font is
    installed, and the note says so (once, in the provenance box and at the top of the page)."""
    from analysis.forecast import set_cjk_font

    lang = lang or default_lang(city)
    if lang not in LANGS:
        raise UsageError(f"lang must be 'zh' or 'en', got {lang!r}")
    if lang == "en":
        return lang, lang, None
    if set_cjk_font(warn=False) is None:
        return (
            lang,
            "en",
            "未找到中文字体（如 fonts-noto-cjk），图中文字改用英文。",
        )
    return lang, lang, None


@dataclass
class Context:
    """One report's settings, the cleaned stations, and the stage outputs it has read."""

    city: City
    as_of: pd.Timestamp
    lang: str
    fig_lang: str
    extract: pd.Timestamp
    clean_summary: dict
    cache: CleanedInputs  # stations (read when first asked for), key, hit, folder, files, extract_rule
    out: Path | None = None
    basemap: str = "osm"
    previous: pd.Timestamp | None = None
    #: the report of the `previous` date beside this one in the reports folder, None when none was made
    previous_folder: Path | None = None
    font_note: str | None = None
    processed: Path | None = None
    _read: dict = field(default_factory=dict, repr=False)

    def csv_path(self, name: str) -> Path | None:
        """Where a table's data go beside the page (`<out>/<name>.csv`), None when the page has no folder."""
        return self.out / f"{name}.csv" if self.out is not None else None

    @property
    def stations(self) -> pd.DataFrame:
        """Every cleaned station with its point (read from the cache when first asked for)."""
        return self.cache["stations"]

    def station_columns(self, *columns: str) -> pd.DataFrame:
        """Only these columns of the cleaned stations, without points: what a page that counts stations
        reads (a fraction of the whole table's time and memory at 10^6 stations); read once per set."""
        if ("stations", columns) not in self._read:
            self._read[("stations", columns)] = self.cache.station_columns(columns)
        return self._read[("stations", columns)]

    @property
    def source(self) -> str:
        return say(self.lang, "source.records", extract=day(self.extract))

    def _outputs(self, stage: str, as_of, reader):
        """A stage's outputs for a date, read once; on the report date with the figures (and map) the
        pages show, on another date the tables only."""
        when = pd.Timestamp(as_of if as_of is not None else self.as_of)
        if (stage, when) not in self._read:
            now = when == self.as_of
            folder = ensure_stage(
                stage,
                self.city,
                when,
                self.cache,
                self.processed,
                fig_lang=self.fig_lang if now else None,
                basemap=self.basemap if now else None,
            )
            self._read[(stage, when)] = reader(folder)
        return self._read[(stage, when)]

    def forecast(self) -> ForecastOutputs:
        """The forecast stage's outputs for the report date."""
        return self._outputs("forecast", None, read_forecast)

    def coverage(self, as_of=None) -> CoverageOutputs:
        """The coverage stage's outputs for `as_of` (default the report date)."""
        return self._outputs("coverage", as_of, read_coverage)

    def taskforce(self, as_of=None) -> TaskforceOutputs:
        """The task-force stage's outputs for `as_of` (default the report date); on the report date with the
        funnel's change counted since `previous`, the date every page compares with (the stage counts it
        since a month earlier, which is no report when a report beside this one is nearer)."""
        tf = self._outputs("taskforce", as_of, read_taskforce)
        if tf.as_of != self.as_of or self.previous is None or tf.previous == self.previous:
            return tf
        if ("taskforce since", self.previous) not in self._read:
            before = self._outputs("taskforce", self.previous, read_taskforce)
            self._read[("taskforce since", self.previous)] = recount_taskforce_since(
                tf, before, self.city, self.fig_lang, self.out
            )
        return self._read[("taskforce since", self.previous)]


def _blank_to_none(*values):
    # papermill passes empty strings for "not given"
    return tuple(None if isinstance(v, str) and not v.strip() else v for v in values)


def open_report(
    city: str | City | None = None,
    as_of=None,
    lang: str | None = None,
    stations=None,
    processed=None,
    out=None,
    extract_date=None,
    basemap: str | None = None,
    page: str = "",
    show: bool = True,
) -> Context:
    """Check the parameters, read the cleaned stations (cleaning them only when the inputs'
    content changed, see `inputs.clean_cached`) and return the report's Context.
    `as_of` None means the last date in the data. With `show`, print the page's one-line status."""
    as_of, lang, stations, processed, out, extract_date, basemap = _blank_to_none(
        as_of, lang, stations, processed, out, extract_date, basemap
    )
    cfg = resolve_city(city)
    text_lang, fig_lang, note = resolve_lang(cfg, lang)
    cleaned = clean_cached(cfg, stations=stations, processed=processed, extract_date=extract_date)
    as_of_ts = check_as_of(as_of, cfg, cleaned["extract"])
    # (the page's folder is the report's, in the city's reports folder beside the others)
    compared = find_compared_report(as_of_ts, Path(out).resolve().parent if out else None)
    ctx = Context(
        city=cfg,
        as_of=as_of_ts,
        lang=text_lang,
        fig_lang=fig_lang,
        extract=cleaned["extract"],
        clean_summary=cleaned["summary"],
        cache=cleaned,
        out=Path(out) if out else None,
        basemap=check_basemap(basemap or cfg.basemap.get("default")),
        previous=compared.date,
        previous_folder=compared.folder,
        font_note=note,
        processed=Path(processed) if processed else None,
    )
    if show:
        title = say(text_lang, f"page.{page}") if page else ""
        name = cfg.name_zh if text_lang == "zh" else cfg.name_en
        lines = [
            say(text_lang, "page.title", name=name, title=title) if title else "",
            say(text_lang, "page.subtitle", name_zh=cfg.name_zh, name_en=cfg.name_en, as_of_ts=day(as_of_ts)),
        ]
        show_markdown("\n\n".join(x for x in lines if x))
        if note:
            show_html(TABLE_CSS + f'<div class="fiveg-note">{html.escape(note)}</div>')
    return ctx


def cache_sentence(ctx: Context) -> str:
    """Whether the cleaned data came from the cache, with the inputs' content hash."""
    c = ctx.cache
    if c["hit"]:
        return say(ctx.lang, "cache.reused", key=c["key"][:12])
    return say(ctx.lang, "cache.cleaned_now", key=c["key"][:12])
