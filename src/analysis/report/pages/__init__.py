"""What the notebooks show: one call per step that prints a heading, a sentence stating the numbers,
and a table or figure, in Chinese or English; one module per notebook (clean, forecast, coverage,
taskforce, summary) and what they share (common: provenance, changes since last month).

Every number comes from the stage outputs the context reads (`Context.forecast/coverage/taskforce`)
or the cleaned stations; no page runs a stage. Each `show_*` returns the table it showed. The notebooks
call everything through this package: `from analysis.report import pages as b`.
"""

from analysis.report.context import Context, open_report, resolve_lang
from analysis.report.display import read_records, record, table_html
from analysis.report.pages.clean import (
    count_station_files,
    reason_words,
    show_clean_counts,
    show_quarantine,
    show_stations_by_district,
)
from analysis.report.pages.common import (
    OPERATOR_NAMES_EN,
    changes_since_last_month,
    copy_beside_page,
    count_on_air,
    provenance,
    provenance_rows,
    show_changes,
    show_frame,
    show_provenance,
)
from analysis.report.pages.coverage import (
    rating_text,
    show_coverage_by_district,
    show_coverage_map,
    show_gaps,
    show_key_sites,
    show_link_budget,
    site_name,
)
from analysis.report.pages.forecast import (
    LONG_HORIZON_MONTHS,
    expected_count,
    in_lang,
    record_expected,
    show_backtest,
    show_district_forecast,
    show_fan_chart,
    show_targets,
    status_words,
    target_table,
    target_verdicts,
)
from analysis.report.pages.summary import (
    show_coverage_to_do,
    show_headline,
    show_top_blockers,
    target_sentences,
    verdict_sentence,
)
from analysis.report.pages.taskforce import (
    blocker_counts,
    blocker_sentence,
    forecast_district_expected,
    lever_sentence,
    show_blockers,
    show_district_targets,
    show_funnel,
    show_levers,
    show_stage_durations,
    show_supervision,
    supervision_table,
)
from analysis.report.text import day, default_lang, district_label, n, pct, prob
from analysis.taskforce import previous_report_date
