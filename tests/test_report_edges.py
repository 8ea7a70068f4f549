"""The report's rough edges at any scale (a city, a province, a country): a task-force table of a header and no
row, map popups' numbers without thousands separators, "the city" said of a province or a country, and a page
table "the rest in the attached CSV" whose CSV held only the rows shown."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest


@pytest.fixture
def shown(monkeypatch):
    """What a page shows (markdown and HTML, in order), captured instead of displayed; records kept apart."""
    from analysis.report import display
    from analysis.report.pages import coverage as coverage_page
    from analysis.report.pages import taskforce as taskforce_page

    out = SimpleNamespace(parts=[], records={})
    monkeypatch.setattr(display, "show_markdown", lambda text: out.parts.append(text))
    monkeypatch.setattr(display, "show_html", lambda text: out.parts.append(text))
    for module in (taskforce_page, coverage_page):
        monkeypatch.setattr(module, "record", lambda name, value: out.records.__setitem__(name, value), raising=False)
    return out


# --------------------------------------------------------------------------------------------
# 1. the task-force page's blockers with no site in the pipeline
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang, words", [("zh", "无在途站址"), ("en", "No site in the pipeline")])
def test_with_no_site_in_the_pipeline_the_blockers_are_one_sentence_not_an_empty_table(
    tmp_path, city_of_kind, shown, lang, words
):
    from analysis.report.pages.taskforce import show_blockers

    sites = pd.DataFrame({"stage": ["on_air"] * 3, "blocker": [None] * 3, "is_blocker_not_known": [False] * 3})
    tf = SimpleNamespace(sites=sites, extract=pd.Timestamp("2024-12-30"), undated_not_counted=0, figures={})
    ctx = SimpleNamespace(
        taskforce=lambda: tf,
        lang=lang,
        as_of=pd.Timestamp("2024-12-30"),
        city=city_of_kind("country"),
        source="src",
        csv_path=lambda name: tmp_path / f"{name}.csv",
    )
    table = show_blockers(ctx)
    page = "\n".join(shown.parts)
    assert words in page
    assert "<table" not in page and not (tmp_path / "blockers.csv").exists() and table.empty
    assert shown.records["blockers"] == {}


@pytest.mark.parametrize("lang, words", [("zh", "重点场所清单共 0 处"), ("en", "The key-site list has 0 sites")])
def test_with_no_key_site_the_key_sites_are_their_sentence_not_an_empty_table(
    tmp_path, city_of_kind, shown, lang, words
):
    """A city.toml without key sites (the national benchmark's empty sites.csv): the sentence counts 0, and no table
    of a header and no row follows it."""
    from analysis.report.pages.coverage import show_key_sites

    columns = ["site_id", "name_zh", "name_en", "category", "district", "rating", "is_target", "verdict"]
    sites = pd.DataFrame({c: pd.Series(dtype=bool if c == "is_target" else object) for c in columns})
    ctx = SimpleNamespace(
        coverage=lambda: SimpleNamespace(sites=sites),
        lang=lang,
        city=city_of_kind("country"),
        source="src",
        csv_path=lambda name: tmp_path / f"{name}.csv",
    )
    table = show_key_sites(ctx)
    page = "\n".join(shown.parts)
    assert words in page and "<table" not in page and table.empty and not (tmp_path / "key_sites.csv").exists()
    assert shown.records["key_sites_covered"] == 0 and shown.records["uncovered_target_sites"] == []


# --------------------------------------------------------------------------------------------
# 4. a page table of the first rows: its CSV holds the rest
# --------------------------------------------------------------------------------------------


def _csv_rows(path) -> int:
    return len(pd.read_csv(path, encoding="utf-8-sig", dtype=str))


def _table_rows(html: str) -> int:
    return html.count("<tr>") - 1  # (the header's row)


@pytest.mark.parametrize("lang, rest", [("zh", "其余 26 行见所附 CSV"), ("en", "the other 26 are in the CSV")])
def test_the_gaps_csv_holds_every_gap_the_page_counts_not_only_the_rows_shown(
    tmp_path, city_of_kind, shown, lang, rest
):
    from analysis.report.pages.coverage import show_gaps

    gaps = pd.DataFrame(
        {"rank": range(1, 37), "district": "甲区", "area_km2": [1234.5 - i for i in range(36)], "sites": ""}
    )
    candidates = pd.DataFrame(
        {
            "candidate_id": [f"C{i:02d}" for i in range(1, 13)],
            "district": "甲区",
            "lon": 84.9,
            "lat": 45.6,
            "band": "n78",
            "gain_km2": 0.5,
            "sites": "",
        }
    )
    sites = pd.DataFrame({"name_zh": [], "name_en": [], "verdict": []})
    cov = SimpleNamespace(gaps=gaps, candidates=candidates, sites=sites)
    ctx = SimpleNamespace(
        coverage=lambda: cov,
        lang=lang,
        city=city_of_kind(),
        source="src",
        csv_path=lambda name: tmp_path / f"{name}.csv",
    )
    table = show_gaps(ctx, top=10)
    assert _csv_rows(tmp_path / "gaps.csv") == 36 and len(table) == 36
    assert _csv_rows(tmp_path / "candidate_sites.csv") == 12
    gap_html = next(p for p in shown.parts if "<table" in p)
    assert _table_rows(gap_html) == 10 and rest in gap_html and "1,234.50" in gap_html
    assert any("其余 2 行" in p or "the other 2 are" in p for p in shown.parts)


def test_a_table_of_no_more_rows_than_shown_has_no_line_about_the_rest(tmp_path, shown):
    from analysis.report.pages.common import show_first_rows

    ctx = SimpleNamespace(lang="zh", csv_path=lambda name: tmp_path / f"{name}.csv")
    show_first_rows(ctx, "t", pd.DataFrame({"a": ["1", "2"]}), 2)
    assert _csv_rows(tmp_path / "t.csv") == 2 and "CSV。" not in "".join(shown.parts)


def _supervision(k: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": range(1, k + 1),
            "name": [f"站{i}" for i in range(k)],
            "station_id": [f"S{i}" for i in range(k)],
            "district": "甲区",
            "operator": "CMCC",
            "stage": "construction",
            "days_in_stage": 100,
            "days_over": 10,
            "blocker": None,
            # only a site past the first 15 says who is responsible: the page's rows have no such column
            "responsible": [None] * (k - 1) + ["张三"],
        }
    )


def test_the_supervision_lists_csvs_hold_every_site_the_page_counts(tmp_path, city_of_kind, shown):
    from analysis.report.pages.taskforce import show_supervision

    undated = _supervision(17).assign(days_in_stage=pd.NA, days_over=pd.NA)
    sites = pd.DataFrame({"stage": ["on_air"]})
    tf = SimpleNamespace(supervision=_supervision(20), undated=undated, sites=sites, figures={})
    ctx = SimpleNamespace(
        taskforce=lambda: tf,
        lang="zh",
        city=city_of_kind(),
        source="src",
        csv_path=lambda name: tmp_path / f"{name}.csv",
    )
    show_supervision(ctx, top=15)
    listed = pd.read_csv(tmp_path / "supervision_list.csv", encoding="utf-8-sig", dtype=str)
    assert len(listed) == 20 and listed.iloc[-1].str.contains("张三").any()
    assert _csv_rows(tmp_path / "supervision_unknown_time.csv") == 17
    tables = [p for p in shown.parts if "<table" in p]
    assert [_table_rows(t) for t in tables] == [15, 15]
    assert "其余 5 行" in tables[0] and "其余 2 行" in tables[1] and "张三" not in tables[0]


# --------------------------------------------------------------------------------------------
# 3. the whole: a city, a province or a country
# --------------------------------------------------------------------------------------------

#: Words that name the whole as a city (the bundled city's pages say them; a province's or country's must not).
CITY_WORDS = ("全市", "本市", "市域", "城市通报", "城市未给出", "the city", "Outside city", "city's threshold")
#: Keys whose city words are right whatever the kind: the city's own total row, the configuration's name
#: (城市配置: city.toml), a province-wide file's rows of another city, the place a key site is ("city centre"),
#: and the cities the grid was tested on.
CITY_WORDS_MEANT = {
    "city_total",
    "reason.other_city",
    "reason_about.other_city",
    "coverage.grid_accuracy",
}


class _Blank(dict):
    def __missing__(self, key):
        return 1


@pytest.mark.parametrize("kind", ["province", "country"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_text_says_city_of_a_province_or_a_country(city_of_kind, kind, lang):
    """Every label and sentence filled in with the words of a province's or a country's whole (`kind_words`) says
    no city word: 本市在用频段, 城市通报, 市域外, 'the city reported' were written in a country's report."""
    from analysis.report.text import _FORMATTER, TEXT, kind_words

    words = kind_words(city_of_kind(kind), lang)
    said = {key: _FORMATTER.vformat(text, (), _Blank(words)) for key, text in TEXT[lang].items()}
    # (the configuration's name, whatever the kind: city.toml, 城市配置, "the city config")
    said = {key: re.sub(r"the city config(uration)?", "city.toml", text) for key, text in said.items()}
    wrong = {k: v for k, v in said.items() if k not in CITY_WORDS_MEANT and any(w in v for w in CITY_WORDS)}
    assert wrong == {}


@pytest.mark.parametrize(
    "kind, zh, en",
    [
        ("", "城市未给出各区县分解比例", "in the city's configuration"),
        ("country", "全国未给出各区县分解比例", "in the country's configuration"),
    ],
)
def test_the_district_split_note_names_who_gave_no_shares_by_the_kind(city_of_kind, kind, zh, en):
    from analysis.report.chrome import translate_note

    city = city_of_kind(kind)
    note = "city.toml gives no target_share: split by the 64 sites in the pipeline on 2020-12-31"
    assert translate_note(note, "zh", city).startswith(zh) and en in translate_note(note, "en", city)


@pytest.mark.parametrize(
    "kind, zh, en",
    [
        ("", "位于市域外", "Outside city"),
        ("province", "位于省域外", "Outside province"),
        ("country", "位于境外", "Outside country"),
    ],
)
def test_a_quarantine_reason_says_outside_the_kinds_whole(city_of_kind, kind, zh, en):
    from analysis.report.pages.clean import reason_words

    city = city_of_kind(kind)
    assert reason_words("outside_city", "zh", city=city) == zh and reason_words("outside_city", "en", city=city) == en
    meaning = reason_words("outside_city", "zh", "", city)
    assert ("本市" in meaning) == (kind == "") and "任何区县内" in meaning


def test_the_link_budget_sentence_and_the_reported_count_say_the_kinds_whole(city_of_kind):
    from analysis.report.text import kind_words, say

    country = kind_words(city_of_kind("country"), "zh")
    assert say("zh", "footprint.sentence", **country).startswith("本国在用频段")
    assert "（全国通报 216 座）" in say("zh", "headline.reported", date="d", c="216", on_air="216", **country)
    # a caller that does not know the city, and the bundled city: the city's words, as before
    assert say("zh", "footprint.sentence").startswith("本市在用频段")
    assert "（城市通报 216 座）" in say("zh", "headline.reported", date="d", c="216", on_air="216")


# --------------------------------------------------------------------------------------------
# 5. the report command's waste: what every notebook repeats made cheap
# --------------------------------------------------------------------------------------------


def test_the_pipeline_sites_are_selected_once_a_report():
    """The task-force page's sections asked for the sites not yet on air eight times, a pass over every site
    each; the context keeps the first selection."""
    from analysis.report.pages.taskforce import _pipeline_sites

    calls = []
    sites = pd.DataFrame({"stage": ["on_air", "construction", "planned"]})

    def taskforce():
        calls.append(1)
        return SimpleNamespace(sites=sites)

    ctx = SimpleNamespace(taskforce=taskforce, _read={})
    first = _pipeline_sites(ctx)
    assert list(first["stage"]) == ["construction", "planned"]
    assert all(_pipeline_sites(ctx) is first for _ in range(7)) and len(calls) == 1
    # a context without a store of reads (a test's, an analyst's) is answered all the same
    assert list(_pipeline_sites(SimpleNamespace(taskforce=taskforce))["stage"]) == ["construction", "planned"]


def test_a_notebook_checks_its_basemap_without_importing_the_maps_folium():
    """Every notebook's open_report checked the basemap against `maps.BASEMAPS`, importing folium (0.6 s CPU a
    notebook, five a report) that no page uses; the names are one tuple low in the package, the map's own."""
    import subprocess
    import sys

    from analysis.figures import BASEMAP_NAMES
    from analysis.maps import BASEMAPS

    assert tuple(BASEMAPS) == BASEMAP_NAMES
    code = (
        "import sys; from analysis.report import pages; from analysis.report.inputs import check_basemap; "
        "assert check_basemap('AMAP') == 'amap'; print(sorted(m for m in sys.modules if m.startswith('folium')))"
    )
    import os
    from pathlib import Path

    import analysis

    env = {**os.environ, "PYTHONPATH": str(Path(analysis.__file__).resolve().parents[1])}  # (this checkout's code)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("lang, words", [("zh", "重点场所清单中没有景区"), ("en", "holds no scenic spot")])
def test_with_no_scenic_spot_the_summary_says_so_instead_of_an_empty_table(
    tmp_path, city_of_kind, shown, monkeypatch, lang, words
):
    from analysis.report.pages import summary

    monkeypatch.setattr(summary, "record", lambda name, value: shown.records.__setitem__(name, value))
    monkeypatch.setattr(summary, "show_markdown", lambda text: shown.parts.append(text))
    monkeypatch.setattr(summary, "show_district_frame", lambda *a, **k: pd.DataFrame({"d": ["x"]}))
    columns = ["site_id", "name_zh", "name_en", "category", "district", "rating", "is_target", "verdict", "distance_m"]
    sites = pd.DataFrame({c: pd.Series(dtype=bool if c == "is_target" else object) for c in columns})
    by = pd.DataFrame(
        {
            "district": ["甲区", "全市"],
            "urban_covered_pct": 50.0,
            "urban_area_km2": 10.0,
            "n_target_sites": 0,
            "n_target_sites_covered": 0,
            "is_fully_covered": False,
        }
    )
    city = city_of_kind("country")
    ctx = SimpleNamespace(
        coverage=lambda: SimpleNamespace(sites=sites, by_district=by),
        lang=lang,
        city=city,
        out=None,
        source="src",
        csv_path=lambda name: tmp_path / f"{name}.csv",
    )
    summary.show_coverage_to_do(ctx)
    page = "\n".join(shown.parts)
    assert words in page and "<table" not in page and not (tmp_path / "to_cover_scenic_spots.csv").exists()
    assert shown.records["scenic_spots_to_cover"] == []
