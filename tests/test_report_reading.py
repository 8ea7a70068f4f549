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
