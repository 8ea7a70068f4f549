"""What a reader of a national-scale report tripped on (issue 17, probe22 F6): counts in running text without
thousands separators, charts' axes in units of 1e6, empty task-force charts under a legend of districts chosen by
name, candidate sites tied on their gain all in one county, the total row called the whole city in a country,
and 4A+ spots neither covered nor uncovered counted as not covered."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.config import load_city
from analysis.errors import ConfigError

# --------------------------------------------------------------------------------------------
# 1. counts in running text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang, words", [("zh", "8,730"), ("en", "8,730")])
def test_a_bare_count_in_a_sentence_has_thousands_separators(lang, words):
    from analysis.report.text import say

    # (the summary's headline was filled with len(...) of the districts not fully covered: "区县 8730 个")
    line = say(lang, "headline.coverage", urban_covered_pct="1.0 %", not_full=8730)
    assert words in line and "8730" not in line
    assert say(lang, "headline.coverage", urban_covered_pct="1.0 %", not_full=np.int64(12345)).count("12,345") == 1


def test_a_count_with_its_own_format_or_text_or_a_flag_is_left_as_given():
    from analysis.report.text import say

    assert "+1,234" not in say("zh", "funnel.sentence", as_of="d", sites="3", previous="p", change=5, loc="1")
    assert "+5" in say("zh", "funnel.sentence", as_of="d", sites="3", previous="p", change=5, loc="1")
    assert "2,021" not in say("en", "headline.coverage", urban_covered_pct="x", not_full="2021")
    assert "True" in say("en", "headline.coverage", urban_covered_pct="x", not_full=True)


def test_the_other_districts_of_a_chart_legend_are_counted_with_separators():
    from analysis.taskforce import _OTHER

    assert _OTHER["zh"].format(n=8726) == "其他 8,726 个区县"
    assert _OTHER["en"].format(n=8726) == "8,726 other districts"


# --------------------------------------------------------------------------------------------
# the charts' count axes
# --------------------------------------------------------------------------------------------


def _tick_labels(top: float) -> tuple[list[str], str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.figures import count_axis

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, top])
    count_axis(ax.yaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    offset = ax.yaxis.get_offset_text().get_text()
    plt.close(fig)
    return labels, offset


def test_a_national_count_axis_reads_in_stations_with_separators_not_in_units_of_1e6():
    labels, offset = _tick_labels(4.6e6)
    assert offset == ""  # (matplotlib wrote "1e6" over ticks 0 … 4.5 under "stations on air")
    assert "1,000,000" in labels and "4,000,000" in labels
    labels, _ = _tick_labels(120_000)
    assert "100,000" in labels


def test_a_small_count_axis_reads_as_matplotlib_writes_it():
    import matplotlib.pyplot as plt

    labels, _ = _tick_labels(1.0)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1.0])
    fig.canvas.draw()
    assert labels == [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)


def test_the_districts_not_fully_covered_are_named_as_the_table_chooses_when_many_in_city_order_when_few():
    from analysis.report.pages.coverage import not_fully_covered

    def table(k: int, uncovered: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "district": [f"T{i:02d}" for i in range(k)] + ["全市"],
                "urban_area_km2": uncovered + [sum(uncovered)],
                "urban_covered_pct": [0.0] * (k + 1),
                "is_fully_covered": [False] * (k + 1),
            }
        )

    ctx = SimpleNamespace(city=SimpleNamespace(districts=[]), lang="zh")
    many = [float(i % 7) for i in range(30)]
    named = not_fully_covered(ctx, table(30, many))
    assert named[:3] == ["T06", "T13", "T20"] and len(named) == 30  # 6 km2 each, then ties in the city's order
    assert not_fully_covered(ctx, table(3, [1.0, 5.0, 2.0])) == ["T00", "T01", "T02"]


# --------------------------------------------------------------------------------------------
# 2. the task-force charts
# --------------------------------------------------------------------------------------------


def _funnel(pipeline: dict, on_air: dict, names: list[str]) -> pd.DataFrame:
    rows = []
    for d in [*names, "全市"]:
        p = sum(pipeline.values()) if d == "全市" else pipeline.get(d, 0)
        o = sum(on_air.values()) if d == "全市" else on_air.get(d, 0)
        rows += [
            {"district": d, "stage": "construction", "sites": p, "sites_previous": 0, "change": p},
            {"district": d, "stage": "on_air", "sites": o, "sites_previous": 0, "change": 0},
            {"district": d, "stage": "pipeline_total", "sites": p, "sites_previous": 0, "change": p},
        ]
    return pd.DataFrame(rows)


NAMES = [f"T{i:02d}" for i in range(20)]


def test_the_chart_districts_of_a_city_of_many_are_those_with_sites_in_the_pipeline_never_the_first_by_name():
    from analysis.taskforce import _chart_districts

    # no site in the pipeline: nobody to draw (the first 7 by name, none with a site, were drawn and named)
    report = SimpleNamespace(funnel=_funnel({}, {"T15": 9, "T03": 4}, NAMES))
    assert _chart_districts(report) == ([], [])
    # few: those with sites, most first, ties by the most on air (the funnel table's rule); no empty "others"
    report = SimpleNamespace(funnel=_funnel({"T12": 2, "T05": 2, "T19": 7}, {"T12": 1, "T05": 30}, NAMES))
    assert _chart_districts(report) == (["T19", "T05", "T12"], [])
    # many: the 7 with most, the rest with a site summed up
    many = {f"T{i:02d}": 20 - i for i in range(2, 12)}
    shown, rest = _chart_districts(SimpleNamespace(funnel=_funnel(many, {}, NAMES)))
    assert shown == [f"T{i:02d}" for i in range(2, 9)] and rest == [d for d in NAMES if d not in shown]


def test_a_city_of_a_few_districts_draws_every_district_as_before():
    from analysis.taskforce import _chart_districts

    report = SimpleNamespace(funnel=_funnel({}, {}, ["乙", "甲", "丙"]))
    assert _chart_districts(report) == (["乙", "甲", "丙"], [])


@pytest.mark.parametrize("plot", ["plot_funnel", "plot_blockers", "plot_days_stuck"])
def test_with_no_site_in_the_pipeline_a_chart_says_there_is_nothing_to_chart(plot):
    import matplotlib.pyplot as plt

    from analysis import taskforce

    report = SimpleNamespace(
        funnel=_funnel({}, {"T01": 3}, NAMES),
        sites=pd.DataFrame({"stage": ["on_air"] * 3, "district": ["T01"] * 3}),
        as_of=pd.Timestamp("2021-12-31"),
    )
    fig = getattr(taskforce, plot)(report, lang="en")
    assert fig.axes == []  # (no axes of 0.0-1.2 under a legend)
    assert any("nothing to chart" in t.get_text() for t in fig.texts)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# 3. candidate sites tied on their gain
# --------------------------------------------------------------------------------------------


def _two_towns(folder) -> None:
    """The tiny city's West town and a smaller East town, no key site (nothing but the towns' area to gain)."""
    path = folder / "urban_areas.geojson"
    urban = json.loads(path.read_text(encoding="utf-8"))
    east = json.loads(json.dumps(urban["features"][0]))
    east["properties"] = {"name_zh": "东城", "name_en": "East town", "district": "东区"}
    x0, y0, x1, y1 = 84.885, 45.585, 84.915, 45.605
    east["geometry"]["coordinates"] = [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]
    urban["features"].append(east)
    path.write_text(json.dumps(urban, ensure_ascii=False), encoding="utf-8")
    sites = pd.read_csv(folder / "sites.csv", dtype=str, keep_default_na=False)
    sites.iloc[:0].to_csv(folder / "sites.csv", index=False)


@pytest.mark.parametrize("mode", ["grid", "vector"])
def test_candidates_tied_on_their_gain_go_to_the_largest_gaps_in_turn_not_all_to_the_first(tiny_city, mode):
    from analysis import geo
    from analysis.coverage import assess_coverage
    from analysis.sites import read_sites

    _two_towns(tiny_city)
    city = load_city(tiny_city / "city.toml")
    stations = pd.DataFrame(
        {"station_id": ["S1"], "lon": [84.80], "lat": [45.56], "band": ["n78"], "district": ["西区"]}
        | {"on_air_date": [pd.Timestamp("2022-01-01")], "operator": ["CMCC"], "name": ["站"]}
    )
    result = assess_coverage(
        stations, city, as_of="2021-03-22", radius_m=250.0, mode=mode,
        districts=geo.read_districts(city), urban_areas=geo.read_urban_areas(city), sites=read_sites(city),
    )  # fmt: skip
    c, gaps = result.candidates, result.gaps
    assert len(c) >= 4 and c["gain_score"].nunique() == 1  # every candidate a full disc: a tie each round
    assert list(gaps["district"].iloc[:2]) == ["西区", "东区"]  # the larger town's gap first
    # in turn over the gaps, the largest first (all ten were in the first gap in the grid's order)
    assert list(c["district"].iloc[:4]) == ["西区", "东区", "西区", "东区"]


# --------------------------------------------------------------------------------------------
# 4. the total row of a province or a country
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, zh, en",
    [
        ("", "全市", "Whole city"),
        ("city", "全市", "Whole city"),
        ("province", "全省", "Whole province"),
        ("country", "全国", "Whole country"),
    ],
)
def test_the_total_row_is_the_whole_city_province_or_country_as_city_toml_says(city_of_kind, kind, zh, en):
    from analysis.report.text import district_label

    city = city_of_kind(kind)
    assert district_label(city, "全市", "zh") == zh and district_label(city, "全市", "en") == en


@pytest.mark.parametrize(
    "kind, zh, en",
    [("", "全市在途站址", "in the city"), ("country", "全国在途站址", "in the country")],
)
def test_the_sentences_about_the_whole_say_city_province_or_country_as_city_toml_says(city_of_kind, kind, zh, en):
    from analysis.report.text import say, whole_word

    city = city_of_kind(kind)
    funnel = dict(as_of="2021-12-31", sites="0", previous="2021-11-30", change=0, loc="996,960")
    assert zh in say("zh", "funnel.sentence", **funnel, whole=whole_word(city, "zh"))
    assert en in say("en", "changes.sentence", added="1", sites="2", whole=whole_word(city, "en"))
    # a caller that does not know the city: the city's words, as before
    assert "全市在途站址" in say("zh", "funnel.sentence", **funnel)


def test_a_kind_of_city_not_known_is_a_one_line_config_error(city_of_kind):
    with pytest.raises(ConfigError, match=r"\[city\] kind must be one of city, province, country, got 'nation'"):
        city_of_kind("nation")


def test_the_bundled_city_is_a_city():
    assert load_city("karamay").kind == "city"


# --------------------------------------------------------------------------------------------
# 5. the coverage command's line on the 4A+ spots
# --------------------------------------------------------------------------------------------


def _result(verdicts: list[str]) -> SimpleNamespace:
    by = pd.DataFrame(
        {
            "district": ["甲区", "全市"],
            "n_target_sites": [len(verdicts)] * 2,
            "n_target_sites_covered": [verdicts.count("covered")] * 2,
        }
    )
    sites = pd.DataFrame({"district": "甲区", "is_target": True, "verdict": verdicts})
    return SimpleNamespace(by_district=by, sites=sites)


def test_the_coverage_line_counts_spots_too_near_the_edge_to_judge_apart():
    from analysis.cli import spots_covered_words

    assert spots_covered_words(_result(["uncertain", "uncertain"])) == "0/2 4A+ spots covered, 2 uncertain"
    assert spots_covered_words(_result(["covered", "uncovered"])) == "1/2 4A+ spots covered"
