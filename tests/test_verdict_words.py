"""The verdict's words against the pages' (analysis.verdict): one way of writing a nearly sure
probability, the sites still to plan rounded as the expected arrivals allow, and the band's sentence
counting every site in the pipeline."""

from __future__ import annotations

import pandas as pd

from analysis.report.text import prob
from analysis.verdict import describe_requirement, percent


def test_a_nearly_sure_probability_is_written_as_the_index_writes_it():
    # the verdict said 100 % where the index said > 99 % (headline 0.999)
    for p in (0.999, 0.995, 0.004, 0.0001, 1.0, 0.0):
        assert percent(p).replace(" ", "") == prob(p).replace(" ", "")
    # a share of simulated paths of 1 or 0 is not certainty: none of the paths drawn fell short (or reached)
    assert percent(1.0) == ">99%" and percent(0.0) == "<1%" and percent(0.4) == "40%" and percent(0.99) == "99%"


def test_sites_still_to_plan_are_not_rounded_up_by_a_monte_carlo_crumb():
    # 222 on the target date, 0 on air now, 146.995 expected from the pipeline: 75 more sites, not 76
    need, _, zh, en = describe_requirement("at_risk", 222, "2021-12-31", "2021-03-22", 0, 146.995, 180.0)
    assert need == 75 and "75" in zh and "75" in en
    need, *_ = describe_requirement("at_risk", 222, "2021-12-31", "2021-03-22", 0, 146.5, 180.0)
    assert need == 76


def test_the_band_sentence_counts_the_sites_in_the_pipeline_without_stage_dates(tiny_city):
    """Sites in the pipeline whose time to air cannot be drawn (no stage dates, no completed stage) are
    still in the pipeline: the sentence said 'beyond the 0 sites in the pipeline' beside a task force of 14."""
    from analysis.config import load_city
    from analysis.forecast import forecast_stations
    from analysis.schemas import STAGES

    rows = []
    for i in range(30):  # on air one a month, then 4 sites planned with no stage dates
        rows.append(
            {
                "station_id": f"S{i}",
                "status": "on_air",
                "on_air_date": pd.Timestamp("2019-12-15") + pd.DateOffset(months=i),
            }
        )
    rows += [{"station_id": f"P{i}", "status": "construction", "on_air_date": pd.NaT} for i in range(4)]
    st = pd.DataFrame(rows).assign(operator="CMCC", district="西区", blocker=None, name="x", site_code="x")
    for stage in STAGES[:-1]:
        st[f"{stage}_date"] = pd.NaT
    st["is_on_air"] = st["on_air_date"].notna()
    cf = forecast_stations(st, "2022-05-31", city=load_city(tiny_city / "city.toml"), n_paths=200)
    assert cf.city.pipeline_sites == 4


def test_a_target_too_early_to_judge_is_said_so_on_the_index_card_not_as_a_bare_probability():
    from analysis.config import load_city
    from analysis.report.index import headline_cards

    city = load_city("karamay")
    d = next(t for t in city.targets if t.kind == "target").date.isoformat()
    head = {"as_of": "2020-04-30", "on_air_as_of": 25, f"prob_reach_{d}": 0.06, f"expected_on_air_{d}": 210.6}
    plain = dict(headline_cards(head, city, "en"))
    early = dict(headline_cards({**head, f"status_{d}": "too_early"}, city, "en"))
    assert [v for v in plain.values() if "P(reach) 6 %" in v]
    assert [v for v in early.values() if "too early to judge" in v and "6 %" in v]
    assert [
        v for v in dict(headline_cards({**head, f"status_{d}": "too_early"}, city, "zh")).values() if "为时尚早" in v
    ]


def test_the_no_season_note_reads_right_for_one_monthly_addition():
    from analysis.report.chrome import translate_note

    one = (
        "no season model tried: only 1 monthly addition lies between two published month ends "
        "(a season needs 24; the others are interpolated, without a season)"
    )
    assert translate_note(one, "en") == (
        "No season model tried: monthly additions between two published month ends: 1 (a season needs 24)."
    )
    assert translate_note(one, "zh").startswith("只有 1 个月增量")


def test_without_stage_durations_the_sites_needed_are_a_range_over_the_pipeline_s_arrivals():
    """83 'needed' was said beside 11 sites in the pipeline that no stage duration could time (they count 0)."""
    need, _, zh, en = describe_requirement("at_risk", 400, "2021-12-31", "2021-10-15", 317, 0.0, float("nan"), True, 11)
    assert (
        need == 83
        and "还需 72–83 个站址" in zh
        and "在途 11 个" in zh
        and en.startswith("72–83 more sites must enter the pipeline: 72 if all 11")
    )
    need, _, zh, _ = describe_requirement("at_risk", 400, "2021-12-31", "2021-10-15", 317, 0.0, float("nan"), True, 0)
    assert need == 83 and "还需 83 个站址" in zh  # (no pipeline: one number)


def test_a_target_at_risk_while_the_recent_pace_is_enough_says_the_forecast_expects_it_to_slow():
    """'Off track, P 38 %' beside 29.0 a month added against 25.1 needed read as a contradiction."""
    from analysis.verdict import describe_pace_against_verdict

    def describe_pace_ahead(needed, last_3m, unit="stations", digits=0):
        return describe_pace_against_verdict("off_track", needed, last_3m, unit, digits)

    zh, en = describe_pace_ahead(25.1, 29.0, "stations", 1)
    assert "29.0" in zh and "25.1" in zh and "放缓" in zh and "expects the pace to slow" in en
    assert describe_pace_ahead(25.1, 20.0) == ("", "")  # (behind the pace needed: nothing to reconcile)
