"""The forecast models' names: the separator of a combination's ids ("drift+arima") and each model in readers'
words, Chinese and English, for the pages and the charts (imported by both `models` and `plots`)."""

from __future__ import annotations

#: Joins the names of combined models ("drift+arima"); `models._fit_candidate` fits such a name.
COMBINE_SEP = "+"

#: Each model in readers' words (Chinese, English): pages and charts name the model so, its id after it.
MODEL_NAMES = {
    "naive": ("朴素法", "naive"),
    "drift": ("漂移法", "drift"),
    "snaive": ("季节朴素法", "seasonal naive"),
    "season_level": ("季节节奏与当前水平", "season and current pace"),
    "arima": ("ARIMA", "ARIMA"),
    "ets_damped": ("阻尼趋势指数平滑", "damped-trend exponential smoothing"),
    "ucm": ("结构时间序列", "structural time series"),
    "season_ucm": ("季节节奏与结构时间序列", "season and structural time series"),
    "season_growth": ("季节节奏与增长", "season, pace and growth"),
    "arima_seasonal": ("季节 ARIMA", "seasonal ARIMA"),
    "ucm_seasonal": ("季节结构时间序列", "seasonal structural time series"),
}


def model_name(model: str, lang: str) -> str:
    """A model (or an equal-weight combination, 'drift+arima') in readers' words, without its id."""
    names = [MODEL_NAMES.get(p, (p, p))[0 if lang == "zh" else 1] for p in str(model).split(COMBINE_SEP) if p]
    return ("与" if lang == "zh" else " and ").join(names)
