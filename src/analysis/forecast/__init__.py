"""Forecast the count of stations on air: the monthly series (`series`), candidate models chosen by
rolling-origin backtest and calibrated on it (`models`), the planned-site pipeline as a component and
the levers (`pipeline`), the city's forecast with one district split and reconciled districts
(`city`), the files (`output`) and figures (`plots`), and the stage entry (`stage`).

Everything public is re-exported here, so `from analysis.forecast import forecast_stations` keeps
working; private helpers are importable from their submodule.
"""

from analysis.figures import CJK_FONTS, figure_lang, set_cjk_font
from analysis.forecast.city import CityForecast, forecast_stations, split_targets
from analysis.forecast.models import *  # noqa: F403
from analysis.forecast.output import forecast_csv_frame, write_forecast
from analysis.forecast.pipeline import *  # noqa: F403
from analysis.forecast.plots import plot_districts, plot_fan
from analysis.forecast.series import count_on_air, count_on_air_by_district, monthly_on_air, read_series, to_month_ends
from analysis.forecast.stage import forecast_stage
