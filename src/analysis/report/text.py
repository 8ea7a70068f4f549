"""The report's words: numbers and dates for people, district names in both languages, and every
fixed label in one table per language (`TEXT["zh"]`, `TEXT["en"]`). Sentences that carry numbers
are written where they are used, as a pair through `say(lang, zh, en)`, the one switch of language.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import CITY_TOTAL, City

LANGS = ("zh", "en")

#: Fixed labels, one table per language; the keys are the same in both (a test checks it).
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "page.clean": "数据清洗：原始记录到站址",
        "page.forecast": "进度预测：能否按期完成目标",
        "page.coverage": "覆盖评估：区县、城区与重点场所",
        "page.taskforce": "专班跟踪：在途站址与阻碍",
        "page.summary": "月度简报",
        "nb.clean": "数据清洗",
        "nb.forecast": "进度预测",
        "nb.coverage": "覆盖评估",
        "nb.taskforce": "专班跟踪",
        "nb.summary": "月度简报",
        "cat.scenic": "景区",
        "cat.hospital": "医院",
        "cat.university": "高校",
        "cat.industrial": "工业",
        "cat.centre": "市中心",
        "cat.commercial": "商业区",
        "cat.office": "办公区",
        "area.dense_urban": "密集城区",
        "area.urban": "城区",
        "area.suburban": "郊区",
        "area.rural": "农村",
        "rule.given": "由参数给定",
        "rule.records_received": "城市配置中的收到日期",
        "rule.latest": "记录中最晚的开通或阶段日期",
        "city_total": "全市（City）",
        "yes": "是",
        "no": "否",
        "district": "区县",
        "index.all_reports": "← 全部月报",
        "index.pages": "各页",
        "index.page": "页面",
        "index.notebook": "已执行的笔记本",
        "index.made_from": "本报告的数据来源",
        "index.as_of": "报告日期（截至）",
        "index.inputs": "输入文件内容哈希",
        "index.config": "城市配置",
        "index.extracted": "数据提取日期",
        "index.cache": "缓存",
        "index.cache_hit": "沿用已清洗数据（输入未变）",
        "index.cache_miss": "本次重新清洗",
        "index.version": "软件版本",
        "index.made": "生成时间",
        "index.read_first": "先读“月度简报”；其余各页为明细。",
        "index.report_date": "报告日期",
        "index.one_row": "每期月报一行，最新在上；点日期打开该期。",
        "index.failed": "失败的运行（保留已执行的笔记本）",
        "index.on_air": "已开通",
        "index.urban": "城区覆盖率（室外）",
        "index.pipeline": "在途站址 / 督办",
    },
    "en": {
        "page.clean": "Cleaning: from raw records to stations",
        "page.forecast": "Forecast: will the targets be met",
        "page.coverage": "Coverage: districts, built-up areas and key sites",
        "page.taskforce": "Task force: the pipeline and its blockers",
        "page.summary": "Monthly briefing",
        "nb.clean": "Cleaning",
        "nb.forecast": "Forecast",
        "nb.coverage": "Coverage",
        "nb.taskforce": "Task force",
        "nb.summary": "Summary",
        "cat.scenic": "scenic spot",
        "cat.hospital": "hospital",
        "cat.university": "university",
        "cat.industrial": "industrial",
        "cat.centre": "city centre",
        "cat.commercial": "commercial",
        "cat.office": "office",
        "area.dense_urban": "dense urban",
        "area.urban": "urban",
        "area.suburban": "suburban",
        "area.rural": "rural",
        "rule.given": "given",
        "rule.records_received": "records_received in city.toml",
        "rule.latest": "the latest on-air or stage date in the records",
        "city_total": "Whole city (全市)",
        "yes": "yes",
        "no": "no",
        "district": "District",
        "index.all_reports": "← all reports",
        "index.pages": "Pages",
        "index.page": "Page",
        "index.notebook": "Executed notebook",
        "index.made_from": "What this report was made from",
        "index.as_of": "Report date (as of)",
        "index.inputs": "Inputs' content hash",
        "index.config": "City config",
        "index.extracted": "Records extracted",
        "index.cache": "Cache",
        "index.cache_hit": "cleaned data reused (inputs unchanged)",
        "index.cache_miss": "cleaned in this run",
        "index.version": "Package version",
        "index.made": "Made",
        "index.read_first": "Read the summary first; the other pages hold the detail.",
        "index.report_date": "Report date",
        "index.one_row": "One row per report, newest first; open one by its date.",
        "index.failed": "Failed runs (executed notebooks kept)",
        "index.on_air": "On air",
        "index.urban": "Built-up area covered",
        "index.pipeline": "Pipeline / supervised",
    },
}


def say(lang: str, zh: str, en: str) -> str:
    """The sentence in the page's language (the one place the language is switched)."""
    return zh if lang == "zh" else en


def label(lang: str, key: str) -> str:
    """A fixed label from the language's table; an unknown key is returned as it is."""
    return TEXT["zh" if lang == "zh" else "en"].get(key, key)


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value))


def n(value) -> str:
    """A count for people: thousands separators, '–' for missing."""
    return "–" if _missing(value) else f"{int(round(float(value))):,}"


def pct(value, digits: int = 1) -> str:
    """A percentage (value already in percent) for people."""
    return "–" if _missing(value) else f"{float(value):,.{digits}f} %"


def prob(value) -> str:
    """A probability (0–1) as a percentage; below 1 % and above 99 % say so rather than round to 0 or 100."""
    if _missing(value):
        return "–"
    if 0 < value < 0.01:
        return "< 1 %"
    if 0.99 < value < 1:
        return "> 99 %"
    return f"{value:.0%}".replace("%", " %")


def day(value) -> str:
    """A date as YYYY-MM-DD, '–' for missing."""
    return "–" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def district_label(city: City, name: str, lang: str) -> str:
    """'克拉玛依区（Karamay District）' in Chinese, 'Karamay District (克拉玛依区)' in English."""
    en = {d.name_zh: d.name_en for d in city.districts}
    if name in (CITY_TOTAL, "city", "whole city"):
        return label(lang, "city_total")
    if not en.get(name):
        return name
    return f"{name}（{en[name]}）" if lang == "zh" else f"{en[name]} ({name})"


def default_lang(city: City) -> str:
    """Chinese for a city whose name is written in Chinese characters, else English."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in city.name_zh) else "en"


def extract_rule_text(rule: str, lang: str) -> str:
    """The rule that set the records' extract date (see `inputs.clean_cached`), in the page's language."""
    if lang != "zh":
        return rule
    for key in ("given", "records_received"):
        if rule.startswith(key):
            return label(lang, f"rule.{key}")
    return label(lang, "rule.latest")
