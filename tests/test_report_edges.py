"""The report's rough edges at any scale (a city, a province, a country): a task-force table of a header and no
row, map popups' numbers without thousands separators, "the city" said of a province or a country, and a page
table "the rest in the attached CSV" whose CSV held only the rows shown."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.config import load_city

TOML = """[city]
name_zh = "某地"
name_en = "Somewhere"
{kind}
buildout_start = 2020-01-01
[[targets]]
date = 2021-12-31
on_air = 446
[[districts]]
name_zh = "甲区"
"""


def _city(tmp_path, kind: str):
    folder = tmp_path / "c"
    folder.mkdir(exist_ok=True)
    (folder / "city.toml").write_text(TOML.format(kind=f'kind = "{kind}"' if kind else ""), encoding="utf-8")
    return load_city(folder)


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
def test_with_no_site_in_the_pipeline_the_blockers_are_one_sentence_not_an_empty_table(tmp_path, shown, lang, words):
    from analysis.report.pages.taskforce import show_blockers

    sites = pd.DataFrame({"stage": ["on_air"] * 3, "blocker": [None] * 3, "is_blocker_not_known": [False] * 3})
    tf = SimpleNamespace(sites=sites, extract=pd.Timestamp("2024-12-30"), undated_not_counted=0, figures={})
    ctx = SimpleNamespace(
        taskforce=lambda: tf,
        lang=lang,
        as_of=pd.Timestamp("2024-12-30"),
        city=_city(tmp_path, "country"),
        source="src",
        csv_path=lambda name: tmp_path / f"{name}.csv",
    )
    table = show_blockers(ctx)
    page = "\n".join(shown.parts)
    assert words in page
    assert "<table" not in page and not (tmp_path / "blockers.csv").exists() and table.empty
    assert shown.records["blockers"] == {}
