"""The report's words: every label and sentence in one table per language (`templates/text.zh.toml`,
`text.en.toml`, read into `TEXT`), filled in by `say(lang, key, **values)`, the one switch of
language; numbers and dates for people; district names in both languages.
"""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import CITY_TOTAL, City
from analysis.figures import count_text
from analysis.verdict import percent

LANGS = ("zh", "en")
TEXT_FILES = Path(__file__).resolve().parents[1] / "templates"


def _read_table(lang: str) -> dict[str, str]:
    with open(TEXT_FILES / f"text.{lang}.toml", "rb") as fh:
        return tomllib.load(fh)


#: Every label and sentence, one table per language (templates/text.zh.toml, text.en.toml).
TEXT: dict[str, dict[str, str]] = {lang: _read_table(lang) for lang in LANGS}


class _PeoplesFormatter(string.Formatter):
    """`str.format` but for a whole number given bare (no format spec): written with thousands separators, as
    every count in the report's running text is ('尚未全覆盖的区县 8,730 个', not 8730), whoever filled it in."""

    def format_field(self, value, format_spec: str) -> str:
        if not format_spec and isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return f"{int(value):,}"
        return super().format_field(value, format_spec)


_FORMATTER = _PeoplesFormatter()


def say(lang: str, key: str, /, **values) -> str:
    """The words of `key` in the page's language, with `values` filled in (a bare whole number with thousands
    separators); an unknown key is a bug in this package and raises KeyError. A word of the whole (`KIND_WORDS`:
    {whole}, {here}, {outside}, {reporter}) not given is a city's (`kind_words` gives the city's kind's)."""
    lang = "zh" if lang == "zh" else "en"
    words = TEXT[lang][key]
    if "{" in words:
        for word, by_kind in KIND_WORDS[lang].items():
            if word not in values and "{" + word + "}" in words:  # (a caller that does not know the city)
                values = {**values, word: by_kind["city"]}
    return _FORMATTER.format(words, **values) if values else words


#: The words for the whole "city" in a sentence, by city.toml's [city] kind (city | province | country): {whole}
#: (全市新开通, "in the city"), {here} (本市, "the city"), {outside} (市域外, "outside the city") and {reporter}, who
#: reports a count or gives the districts' shares (城市通报, "the city reported").
KIND_WORDS = {
    "zh": {
        "whole": {"city": "全市", "province": "全省", "country": "全国"},
        "here": {"city": "本市", "province": "本省", "country": "本国"},
        "outside": {"city": "市域外", "province": "省域外", "country": "境外"},
        "reporter": {"city": "城市", "province": "全省", "country": "全国"},
    },
    "en": {
        "whole": {"city": "city", "province": "province", "country": "country"},
        "here": {"city": "the city", "province": "the province", "country": "the country"},
        "outside": {"city": "outside the city", "province": "outside the province", "country": "outside the country"},
        "reporter": {"city": "city", "province": "province", "country": "country"},
    },
}
#: The whole "city" in a sentence ({whole}: 全市新开通, "in the city"), by city.toml's [city] kind.
WHOLE = {lang: words["whole"] for lang, words in KIND_WORDS.items()}


def kind_words(city: City | None, lang: str) -> dict[str, str]:
    """The words of the whole (`KIND_WORDS`) for a page about `city` (None: a city's), to fill in with `say`."""
    kind = getattr(city, "kind", "city") if city is not None else "city"
    words = KIND_WORDS["zh" if lang == "zh" else "en"]
    return {word: by_kind.get(kind, by_kind["city"]) for word, by_kind in words.items()}


def whole_word(city: City, lang: str) -> str:
    """The whole in the page's sentences: the city, or the province or country city.toml's [city] kind says."""
    return kind_words(city, lang)["whole"]


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value))


def n(value) -> str:
    """A count for people: thousands separators, '–' for missing (`figures.count_text`, as the map writes one)."""
    return count_text(value)


def rate(value) -> str:
    """Stations a month for people, to one decimal; '–' for missing (a pace over a history shorter than
    its window, read back from model.json as null)."""
    return "–" if _missing(value) else f"{float(value):,.1f}"


def pct(value, digits: int = 1) -> str:
    """A percentage (value already in percent) for people."""
    return "–" if _missing(value) else f"{float(value):,.{digits}f} %"


def prob(value) -> str:
    """A probability (0–1) as `verdict.percent` writes it (below 1 % and above 99 % said so rather than
    rounded to 0 or 100), spaced as the pages write numbers: '> 99 %', '40 %'."""
    if _missing(value):
        return "–"
    return re.sub(r"^([<>])", r"\1 ", percent(float(value))).replace("%", " %")


def model_words(model: str, lang: str) -> str:
    """A forecast model in readers' words with its id (the backtest table's row) after it: 'season_growth' as
    '季节节奏与增长模型（season_growth）'; a combination ('drift+arima') as both, said to be combined."""
    from analysis.forecast.names import COMBINE_SEP, model_name

    key = "model_words_combined" if COMBINE_SEP in str(model) else "model_words"
    return say(lang, key, names=model_name(model, lang), model=model)


def day(value) -> str:
    """A date as YYYY-MM-DD, '–' for missing."""
    return "–" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


#: The English district names of the last city labelled, by the city object's identity (a map built per label
#: cost a pass over every district per row: 3.3 s for one table of a country's 8,733 districts).
_EN_NAMES: dict = {}


def _english_names(city: City) -> dict[str, str]:
    """{name_zh: name_en} of the city's districts, built once per city object (the object is kept beside its
    map, so a new city at a reused id is not given another's names)."""
    held = _EN_NAMES.get(id(city))
    if held is None or held[0] is not city:
        _EN_NAMES.clear()
        held = _EN_NAMES[id(city)] = (city, {d.name_zh: d.name_en for d in city.districts})
    return held[1]


def total_label(city: City, lang: str) -> str:
    """The label of the total row: the whole city, or province or country when city.toml's [city] kind says so."""
    kind = getattr(city, "kind", "city")
    return say(lang, "city_total" if kind == "city" else f"city_total.{kind}")


def district_label(city: City, name: str, lang: str) -> str:
    """'克拉玛依区（Karamay District）' in Chinese, 'Karamay District (克拉玛依区)' in English."""
    en = _english_names(city)
    if name in (CITY_TOTAL, "city", "whole city"):
        return total_label(city, lang)
    if not en.get(name):
        return name
    return f"{name}（{en[name]}）" if lang == "zh" else f"{en[name]} ({name})"


def name_label(name, lang: str) -> str:
    """A proper name from the data (a station or site name) for a page: as written in Chinese; on an
    English page with its Hanyu Pinyin form first, 'Baijiantan Qu … (白碱滩区…)', so a reader who does
    not read Chinese can still say and match it. Names without Chinese characters stay as they are."""
    if name is None or (not isinstance(name, str) and pd.isna(name)):
        return "–"
    name = str(name)
    if lang == "zh" or not any("\u4e00" <= ch <= "\u9fff" for ch in name):
        return name
    from pypinyin import lazy_pinyin  # only English pages need it

    # syllables title-cased and spaced (no word segmentation: a syllable a character), other runs kept
    words = [w.capitalize() if w.isascii() and w.isalpha() else w.strip() for w in lazy_pinyin(name)]
    romanised = re.sub(r"\s+", " ", " ".join(w for w in words if w)).replace(" - ", "-")
    return f"{romanised} ({name})"


def default_lang(city: City) -> str:
    """Chinese for a city whose name is written in Chinese characters, else English."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in city.name_zh) else "en"


def extract_rule_text(rule: str, lang: str) -> str:
    """The rule that set the records' extract date (see `inputs.clean_cached`), in the page's language."""
    for key in ("given", "records_received"):
        if rule.startswith(key):
            return say(lang, f"rule.{key}")
    return say(lang, "rule.latest")
