"""A city of many districts: the pages count stations in one grouped pass (the same numbers as a count per
district) and show a readable number of district rows, the CSV beside the page holding them all."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.report.pages import common
from analysis.report.pages.common import (
    MAX_DISTRICT_ROWS,
    choose_district_rows,
    count_on_air,
    count_on_air_by_district,
    list_districts,
    show_district_frame,
)


def _ctx(tmp_path=None, names=("A", "B", "C", "D")):
    """A context of a few stations: on air, off air again, not yet on air, undated, outside every district."""
    st = pd.DataFrame(
        {
            "on_air_date": pd.to_datetime(
                ["2021-01-05", "2021-02-01", "2021-03-30", None, "2021-01-01", "2020-12-01", "2021-02-02"]
            ),
            "off_air_date": pd.to_datetime([None, "2021-03-01", None, None, None, None, None]),
            "district": ["A", "A", "B", "B", None, "C", "C"],
        }
    )
    city = SimpleNamespace(district_names=list(names), districts=[])
    out = tmp_path
    return SimpleNamespace(
        station_columns=lambda *cols: st[list(cols)],
        city=city,
        lang="en",
        csv_path=lambda name: out / f"{name}.csv",
    )


@pytest.mark.parametrize("date", ["2020-12-31", "2021-02-15", "2021-03-22", "2021-04-30"])
def test_the_grouped_counts_equal_a_count_per_district(date):
    ctx = _ctx()
    grouped = count_on_air_by_district(ctx, pd.Timestamp(date))
    per_district = [count_on_air(ctx, pd.Timestamp(date), d) for d in ctx.city.district_names]
    assert grouped.index.tolist() == ["A", "B", "C", "D"]
    assert grouped.tolist() == per_district
    # the station outside every district counts in the city's total only
    assert count_on_air(ctx, pd.Timestamp(date)) >= grouped.sum()


def test_the_rows_of_a_few_districts_are_all_shown_in_the_city_order():
    assert choose_district_rows([3, 1, 2]) is None
    assert choose_district_rows(np.arange(MAX_DISTRICT_ROWS)) is None


def test_the_rows_of_many_districts_are_those_of_the_largest_score_ties_in_order():
    score = np.zeros(30)
    score[[4, 17, 9]] = [5.0, 7.0, 5.0]
    score[20] = np.nan  # a missing score comes last
    keep = choose_district_rows(score, limit=5)
    assert keep.tolist() == [17, 4, 9, 0, 1]


def test_a_table_of_many_districts_shows_the_chosen_rows_and_the_total_and_writes_every_row(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(common, "show_table", lambda df, *a, **k: shown.append((df, k)) or k["full"])
    n = 40
    df = pd.DataFrame({"district": [f"D{i}" for i in range(n)] + ["total"], "added": list(range(n)) + [999]})
    ctx = _ctx(tmp_path)
    full = show_district_frame(ctx, "changes_by_district", df, df["added"].iloc[:-1], "rows.rule.added")
    page, kw = shown[0]
    assert len(full) == n + 1
    assert page["district"].tolist() == [f"D{i}" for i in range(n - 1, n - 1 - MAX_DISTRICT_ROWS, -1)] + ["total"]
    assert f"{n - MAX_DISTRICT_ROWS:,}" in kw["more"] and str(n) in kw["more"]


def test_a_table_of_a_few_districts_is_shown_whole_with_no_line_about_more(tmp_path):
    df = pd.DataFrame({"district": ["A", "B", "total"], "added": [1, 2, 3]})
    ctx = _ctx(tmp_path)
    out = show_district_frame(ctx, "changes_by_district", df, df["added"].iloc[:-1], "rows.rule.added")
    assert out.equals(df)
    assert pd.read_csv(tmp_path / "changes_by_district.csv", encoding="utf-8-sig")["district"].tolist() == [
        "A",
        "B",
        "total",
    ]


def test_a_sentence_names_a_few_districts_and_counts_the_rest():
    ctx = _ctx()
    assert list_districts(ctx, ["A", "B"]) == "A, B"
    many = [f"D{i}" for i in range(50)]
    text = list_districts(ctx, many)
    assert text == ", ".join(many[:MAX_DISTRICT_ROWS]) + " and 38 more districts"


def test_the_benchmark_city_folder_has_built_up_areas_a_city_folder_must_have():
    from benchmarks.fixtures import tile_polygons, urban_polygons

    tiles = tile_polygons(2.0)
    urban = urban_polygons(tiles)
    assert len(urban) > 100
    assert {"name_zh", "name_en", "district"} <= set(urban.columns)
    assert urban["district"].isin(set(tiles["name_zh"])).all()
    assert urban["name_zh"].is_unique
    assert urban.geometry.is_valid.all() and not urban.geometry.is_empty.any()
    assert set(urban.geom_type) <= {"Polygon", "MultiPolygon"}


def test_a_coverage_grid_too_large_for_memory_is_a_typed_error_naming_the_setting():
    from analysis.coverage import rasterize_coverage
    from analysis.errors import ConfigError

    # a country's extent at 50 m: 10^10 cells, killed for memory before; now refused before any allocation
    with pytest.raises(ConfigError, match=r"\[coverage\] cell_m"):
        rasterize_coverage([0.0], [0.0], [400.0], cell_m=50.0, bounds=(0.0, 0.0, 5e6, 5e6))
    assert rasterize_coverage([0.0], [0.0], [400.0], cell_m=50.0).mask.sum() > 0


def test_ties_of_the_score_go_to_the_district_with_more_on_air():
    score = np.zeros(20)
    then = np.arange(20.0)
    assert choose_district_rows(score, limit=3, then=then).tolist() == [19, 18, 17]


@pytest.mark.parametrize("size, framed", [(1_000, False), (3_000_000, True)])
def test_a_large_coverage_map_is_framed_from_its_file_not_embedded(tmp_path, monkeypatch, size, framed):
    from analysis.report.pages import coverage as page

    shown = []
    monkeypatch.setattr(page, "show_html", shown.append)
    monkeypatch.setattr(page, "show_step", lambda *a: None)
    map_html = tmp_path / "stage" / "coverage_map.html"
    map_html.parent.mkdir()
    map_html.write_text("<html>" + "x" * size + "</html>", encoding="utf-8")
    ctx = SimpleNamespace(coverage=lambda: SimpleNamespace(map_html=map_html), lang="zh", out=tmp_path / "out")
    page.show_coverage_map(ctx)
    assert (tmp_path / "out" / "coverage_map.html").read_bytes() == map_html.read_bytes()
    assert ('src="coverage_map.html"' in shown[0]) is framed
    assert len(shown[0]) < 10_000 if framed else "srcdoc=" in shown[0]


def test_district_labels_of_a_city_are_built_once_and_follow_a_new_city():
    from analysis.report.text import district_label

    def city(en):
        return SimpleNamespace(districts=[SimpleNamespace(name_zh="甲区", name_en=en)])

    a, b = city("Jia District"), city("Other")
    assert district_label(a, "甲区", "zh") == "甲区（Jia District）"
    assert district_label(a, "甲区", "en") == "Jia District (甲区)"
    assert district_label(b, "甲区", "en") == "Other (甲区)"
    assert district_label(a, "乙区", "en") == "乙区"
