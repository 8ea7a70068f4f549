"""The index pages of the reports folder, from the templates in `analysis/templates/`: a report's
index.html (headline numbers, its pages, what it was made from), the city's list of reports, and
the list of cities.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from analysis.config import City
from analysis.report.chrome import Compared, nav_html, vintage_line
from analysis.report.render import render_template
from analysis.report.text import TEXT, extract_rule_text, n, pct, prob, say

#: The notebooks of a report, in the order they run, by page key.
PAGE_KEYS = (
    ("01_clean.ipynb", "clean"),
    ("02_forecast.ipynb", "forecast"),
    ("03_coverage.ipynb", "coverage"),
    ("04_taskforce.ipynb", "taskforce"),
    ("05_summary.ipynb", "summary"),
)
#: Files beside the pages that the index links when they are there.
EXTRA_FILES = ("annex.html", "coverage_map.html", "provenance.json", "headline.json")


def _fmt_prob(v) -> str:
    return prob(float(v)) if v is not None else "–"


def headline_cards(h: dict, city: City, lang: str) -> list[tuple[str, str]]:
    """The headline numbers of a report (from its summary notebook's records) as (label, value)."""
    cards = [(say(lang, "index.card.on_air", as_of=h["as_of"]), n(h.get("on_air_as_of")))]
    for tg in city.targets:
        d = tg.date.isoformat()
        if tg.kind == "reported" and f"on_air_{d}" in h:
            cards.append(
                (
                    say(lang, "index.card.reported", d=d, on_air=tg.on_air),
                    n(h[f"on_air_{d}"]),
                )
            )
        elif tg.kind == "target" and f"on_air_{d}" in h and h.get("as_of", "") >= d:
            # the date has passed: what happened, never a probability
            got = h[f"on_air_{d}"]
            cards.append(
                (
                    say(lang, "index.card.target_due", d=d, on_air=tg.on_air),
                    say(lang, "reached")
                    if got >= tg.on_air
                    else say(lang, "missed_by", target_diff=n(tg.on_air - got)),
                )
            )
        elif tg.kind == "target" and f"prob_reach_{d}" in h:
            # a target ahead: the one expected count every page shows, then its probability
            value = _fmt_prob(h[f"prob_reach_{d}"])
            # a programme too young for a backtest: its P is the model's own, said as such (not "P 6 %" bare)
            key = "index.card.too_early" if h.get(f"status_{d}") == "too_early" else "index.card.expected_p"
            if h.get(f"expected_on_air_{d}") is not None:
                value = say(lang, key, expected=n(h[f"expected_on_air_{d}"]), p=value)
            cards.append((say(lang, "index.card.target_due", d=d, on_air=tg.on_air), value))
    if "urban_covered_pct" in h:
        cards.append((say(lang, "index.urban"), pct(h["urban_covered_pct"])))
    if "pipeline_total" in h:
        cards.append((say(lang, "index.pipeline"), f"{n(h['pipeline_total'])} / {n(h.get('supervision_list'))}"))
    return cards


def provenance_rows(prov: dict, lang: str) -> list[tuple[str, str]]:
    """What a report was made from, as (label, value) rows for the index and the annex."""
    files = say(lang, "files_2")
    return [
        (say(lang, "index.as_of"), prov["as_of"]),
        (say(lang, "index.inputs"), f"sha256 {prov['inputs_sha256'][:16]} ({prov['n_input_files']} {files})"),
        (say(lang, "index.config"), f"{prov['city_config_rel']} (sha256 {prov['city_config_sha256'][:12]})"),
        (say(lang, "index.extracted"), f"{prov['extract_date']} ({extract_rule_text(prov['extract_rule'], lang)})"),
        (say(lang, "index.cache"), say(lang, "index.cache_hit" if prov["cache_hit"] else "index.cache_miss")),
        (say(lang, "index.version"), prov["package_version"]),
        (say(lang, "index.made"), prov["made"]),
    ]


def write_report_index(
    folder: Path, city: City, as_of: str, headline: dict, prov: dict, lang: str, compared: Compared | None = None
) -> Path:
    """The report's index.html: headline numbers, links to each page and file, what it was made from, and
    the report beside it that its changes are counted since (`compared`, when one was there)."""
    pages = [
        {"title": say(lang, f"nb.{key}"), "html": f"{Path(nb).stem}.html", "notebook": nb} for nb, key in PAGE_KEYS
    ]
    title = say(lang, "index.title", name_zh=city.name_zh, as_of=as_of, name_en=city.name_en)
    intro = say(lang, "index.intro", name_zh=city.name_zh, name_en=city.name_en) + say(lang, "index.read_first")
    page = render_template(
        "index.html.j2",
        html_lang="zh-CN" if lang == "zh" else "en",
        title=title,
        intro=intro,
        L=TEXT[lang],
        cards=headline_cards(headline, city, lang),
        verdict=headline.get("verdict", ""),
        nav=nav_html(lang, [(p["html"], p["title"]) for p in pages[-1:] + pages[:-1]], "index.html"),
        vintage=vintage_line(lang, prov["as_of"], prov["extract_date"], prov.get("next")),
        pages=pages[-1:] + pages[:-1],  # the summary first
        files=[p for p in EXTRA_FILES if (folder / p).is_file()],
        provenance=provenance_rows(prov, lang),
        # (a sibling folder of this one in the city's reports folder)
        compared=None
        if compared is None or compared.folder is None
        else {"href": f"../{compared.folder.name}/index.html", "date": compared.folder.name},
    )
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _dated_reports(city_dir: Path, city: City, lang: str) -> list[tuple[str, dict]]:
    reports = []
    for folder in sorted(
        (p for p in city_dir.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.name)), reverse=True
    ):
        hp = folder / "headline.json"
        if hp.is_file() and (folder / "index.html").is_file():
            cards = headline_cards(json.loads(hp.read_text(encoding="utf-8")), city, lang)
            # the first card is "on air on <its date>": one column for all reports
            reports.append((folder.name, {say(lang, "index.on_air"): cards[0][1], **dict(cards[1:])}))
    return reports


def write_city_index(city_dir: Path, city: City, lang: str) -> Path:
    """`reports/<city>/index.html`: every dated report in the folder, newest first, with its headline
    numbers; and `reports/index.html`, the list of cities."""
    reports = _dated_reports(city_dir, city, lang)
    # reports of different dates have different cards (a target already due, or not yet): one column
    # per label any report has, each cell looked up by its label
    labels: list[str] = []
    for _, cards in reports:
        labels += [k for k in cards if k not in labels]
    failed = sorted(p.name for p in city_dir.iterdir() if p.is_dir() and p.name.endswith(".failed"))
    title = say(lang, "index.city_title", name_zh=city.name_zh, name_en=city.name_en)
    path = city_dir / "index.html"
    path.write_text(
        render_template(
            "city_index.html.j2",
            html_lang="zh-CN" if lang == "zh" else "en",
            title=title,
            L=TEXT[lang],
            reports=reports,
            labels=labels,
            failed=failed,
        ),
        encoding="utf-8",
    )
    cities = sorted(p.name for p in city_dir.parent.iterdir() if (p / "index.html").is_file() and p.is_dir())
    (city_dir.parent / "index.html").write_text(
        render_template(
            "root_index.html.j2",
            cities=cities,
            title=say(lang, "index.root_title"),
            html_lang="zh-CN" if lang == "zh" else "en",
        ),
        encoding="utf-8",
    )
    return path
