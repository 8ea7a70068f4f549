"""Tests of the forecast at national scale: districts.png draws a fixed number of panels and says which
(analysis.forecast.plots), one note for the districts with no station (analysis.forecast.city), the
stage's empty_districts.csv, progress steps of the forecast and task-force stages, `forecast --no-charts`."""

from __future__ import annotations

import re
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import progress
from analysis.forecast import city as C
from analysis.forecast import plots as P

warnings.filterwarnings("ignore", module="statsmodels")

AS_OF = pd.Timestamp("2021-03-22")
TARGET = pd.Timestamp("2021-12-31")
HISTORY = pd.date_range("2020-01-31", periods=15, freq="ME")
AHEAD = pd.date_range("2021-04-30", periods=9, freq="ME")


def _district(now: float, end: float):
    """A district's forecast as the figure reads it: history rising to `now`, a mean rising to `end`."""
    history = pd.Series(np.linspace(0, now, len(HISTORY)), index=HISTORY)
    mean = np.linspace(now, end, len(AHEAD))
    table = pd.DataFrame({"date": AHEAD, "mean": mean, "lo80": mean * 0.9, "hi80": mean * 1.1})
    return SimpleNamespace(history=history, table=table)


def _city_forecast(districts: dict, targets: dict | None = None):
    """A CityForecast of the given districts; `targets` maps a district to its share of the TARGET."""
    city = SimpleNamespace(name="Testville", name_zh="测试市", as_of=AS_OF, table=pd.DataFrame({"date": AHEAD}))
    rows = [
        {
            "district": d,
            "target_date": TARGET,
            "district_target": share,
            "mean": float(districts[d].table["mean"].iloc[-1]),
        }
        for d, share in (targets or {}).items()
    ]
    return C.CityForecast(
        city=city, districts=districts, series=pd.DataFrame(), district_table=pd.DataFrame(rows), notes=[]
    )


def _footer(fig) -> list[str]:
    """The words under the panels (the title and the y label are figure texts too, above and beside them)."""
    return [t.get_text() for t in fig.texts if t.get_position()[1] < 0]


def _visible_panels(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]


def test_a_few_districts_are_all_drawn_in_order_with_no_footer():
    """A city whose districts fit is drawn as it always was: every district, in the city's order, no words added."""
    import matplotlib.pyplot as plt

    cf = _city_forecast({"西区": _district(10, 20), "东区": _district(40, 60), "南区": _district(5, 9)})
    panels = P.choose_district_panels(cf)
    assert panels.drawn == ["西区", "东区", "南区"] and panels.rule is None and panels.others == []
    assert P.describe_district_panels(cf, panels) == ""
    fig = P.plot_districts(cf)
    assert _visible_panels(fig) == ["西区", "东区", "南区"]
    assert _footer(fig) == []
    plt.close(fig)


def test_a_district_with_no_station_is_not_drawn_but_named():
    """One empty district of a small city: no panel, named in the footer (a pipeline site makes it not empty)."""
    import matplotlib.pyplot as plt

    cf = _city_forecast({"西区": _district(10, 20), "北区": _district(0, 0), "东区": _district(0, 3)})
    assert cf.empty_districts == ["北区"]  # (the list the note counts and empty_districts.csv holds)
    fig = P.plot_districts(cf, labels={"北区": "North (北区)"})
    assert _visible_panels(fig) == ["西区", "东区"]
    assert _footer(fig) == ["Not drawn (no station on air and none forecast): North (北区)."]
    plt.close(fig)


def test_a_national_figure_draws_the_districts_furthest_short_of_their_share_and_sums_up_the_rest():
    """Thousands of counties: at most MAX_DISTRICT_PANELS panels, the ones furthest short of their share of
    the next target (ties: most stations), the others in one line with their totals, the empty ones counted."""
    import matplotlib.pyplot as plt

    districts, shares = {}, {}
    for i in range(40):  # forecast 2*i+10 against a share of 3*i+10: gap i
        districts[f"D{i:02d}"] = _district(i + 5, 2 * i + 10)
        shares[f"D{i:02d}"] = 3 * i + 10
    for i in range(3):  # no gap at all: chosen after every gap, the largest first
        districts[f"Z{i}"] = _district(100 + i, 200)
        shares[f"Z{i}"] = 150
    for i in range(500):
        districts[f"E{i:03d}"] = _district(0, 0)
        shares[f"E{i:03d}"] = 0
    cf = _city_forecast(districts, shares)
    panels = P.choose_district_panels(cf, limit=6)
    assert panels.drawn == ["D39", "D38", "D37", "D36", "D35", "D34"] and panels.rule == "panels_gap"
    assert len(panels.others) == 37 and len(panels.empty) == 500 and not set(panels.drawn) & set(panels.empty)
    others_now = sum(float(districts[d].history.iloc[-1]) for d in panels.others)
    others_mean = sum(float(districts[d].table["mean"].iloc[-1]) for d in panels.others)
    others_share = sum(shares[d] for d in panels.others)
    footer = P.describe_district_panels(cf, panels)
    assert footer == (
        "Drawn: the 6 of 43 districts with stations furthest short of their share of the 2021-12-31 target "
        f"(then the most stations on air). The other 37: {round(others_now):,} on air, forecast "
        f"{round(others_mean):,} by 2021-12-31 against their share of {round(others_share):,}. "
        "Not drawn: 500 districts with no station on air and none forecast."
    )
    fig = P.plot_districts(cf)
    assert len(_visible_panels(fig)) == P.MAX_DISTRICT_PANELS and len(fig.axes) == P.MAX_DISTRICT_PANELS
    assert _footer(fig) == [P.describe_district_panels(cf, P.choose_district_panels(cf))]
    plt.close(fig)


def test_without_a_target_ahead_the_largest_districts_are_drawn():
    """No target after the report date: the districts with the most stations on air, said so, in Chinese too."""
    cf = _city_forecast({f"D{i}": _district(i + 1, i + 2) for i in range(8)})
    panels = P.choose_district_panels(cf, limit=3)
    assert panels.drawn == ["D7", "D6", "D5"] and panels.rule == "panels_size"
    assert P.describe_district_panels(cf, panels).startswith(
        "Drawn: of the 8 districts with stations, the 3 with the most on air."
    )
    assert P.describe_district_panels(cf, panels, lang="zh").startswith(
        "图中为 8 个有基站的区县中已开通基站最多的 3 个"
    )


@pytest.mark.parametrize(
    ("empty", "expected"),
    [
        ([], []),
        (["北区"], ["北区: no station on air by 2021-03-22; forecast as zero"]),
        (["北区", "南区"], ["2 districts have no station on air by 2021-03-22; forecast as zero: 北区, 南区"]),
        (
            [f"T{i}" for i in range(8427)],
            [
                "8,427 of 8,733 districts have no station on air by 2021-03-22; forecast as zero (listed in "
                "empty_districts.csv)"
            ],
        ),
    ],
)
def test_the_districts_with_no_station_make_one_note(empty, expected):
    assert C.describe_empty_districts(empty, 8733, AS_OF) == expected


def _many_district_city(tmp_path, names):
    folder = tmp_path / "many"
    folder.mkdir()
    text = (
        '[city]\nname_zh = "测试市"\nname_en = "Testville"\nbuildout_start = 2019-12-01\n'
        '[files]\ndistricts = "districts.geojson"\n[[targets]]\ndate = 2021-12-31\non_air = 200\n'
    )
    text += "".join(f'[[districts]]\nname_zh = "{n}"\n' for n in names)
    (folder / "city.toml").write_text(text, encoding="utf-8")
    return folder / "city.toml"


def _stations(n_west=80, n_east=40):
    """A cleaned station table (every column of the schema): stations on air in 甲区 and 乙区 only."""
    from analysis.schemas import STATION_DTYPES

    n = n_west + n_east
    frame = pd.DataFrame(index=range(n))
    for column, dtype in STATION_DTYPES.items():
        default = {"str": None, "bool": True, "int64": 0, "float64": 0.0}.get(dtype, pd.NaT)
        frame[column] = pd.Series([default] * n, dtype=dtype if dtype != "str" else object)
    frame["station_id"] = frame["site_code"] = [f"S{i}" for i in range(n)]
    frame["operator"], frame["status"], frame["lon"], frame["lat"] = "CMCC", "on_air", 84.9, 45.6
    frame["district"] = ["甲区"] * n_west + ["乙区"] * n_east
    frame["on_air_date"] = pd.date_range("2020-01-01", "2021-03-01", periods=n)
    return frame


def test_the_stage_lists_the_empty_districts_in_a_file_and_steps_its_progress(tmp_path, capsys):
    """Seven empty districts of nine: one note, their list in empty_districts.csv; one progress line per
    phase when progress is on, none under pytest's default."""
    from analysis.config import resolve_city
    from analysis.forecast import forecast_stage

    names = ["甲区", "乙区", "丙区", "丁区", "戊区", "己区", "庚区", "辛区", "壬区"]
    city = resolve_city(_many_district_city(tmp_path, names))
    with progress.forced("lines"):
        written = forecast_stage(_stations(), city, AS_OF, tmp_path / "out", fig_lang=None, n_paths=100)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" steps ")[0] for line in lines] == [f"forecast: {k}/6" for k in range(1, 7)]
    assert "120 stations read" in lines[0] and "9 districts forecast" in lines[2] and "no charts" in lines[4]
    listed = pd.read_csv(tmp_path / "out" / "empty_districts.csv", encoding="utf-8-sig")
    assert listed["district"].tolist() == names[2:]
    assert tmp_path / "out" / "empty_districts.csv" in written and not (tmp_path / "out" / "districts.png").exists()
    import json

    notes = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))["notes"]
    assert [n for n in notes if "no station" in n] == [
        "7 of 9 districts have no station on air by 2021-03-22; forecast as zero (listed in empty_districts.csv)"
    ]
    forecast_stage(_stations(), city, AS_OF, tmp_path / "quiet", fig_lang=None, n_paths=100)
    assert capsys.readouterr().err == ""


def test_a_few_empty_districts_are_named_and_no_file_is_written(tmp_path):
    from analysis.config import resolve_city
    from analysis.forecast import forecast_stage

    city = resolve_city(_many_district_city(tmp_path, ["甲区", "乙区", "丙区"]))
    written = forecast_stage(_stations(), city, AS_OF, tmp_path / "out", fig_lang=None, n_paths=100)
    assert not any(p.name == "empty_districts.csv" for p in written)
    import json

    notes = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))["notes"]
    assert "丙区: no station on air by 2021-03-22; forecast as zero" in notes


def test_forecast_no_charts_writes_no_figure(tmp_path, capsys):
    """`forecast --no-charts`, from a series and from stations: the tables only."""
    from analysis.cli import main

    series = tmp_path / "series.csv"
    pd.DataFrame(
        {"date": pd.date_range("2020-01-31", periods=15, freq="ME").strftime("%Y-%m-%d"), "value": np.arange(15) * 10}
    ).to_csv(series, index=False)
    assert (
        main(["forecast", "--series", str(series), "--out", str(tmp_path / "s"), "--no-charts", "--paths", "100"]) == 0
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["forecast.csv", "model.json"]
    stations = tmp_path / "stations.parquet"
    _stations().to_parquet(stations)
    city = _many_district_city(tmp_path, ["甲区", "乙区"])
    args = ["forecast", "--stations", str(stations), "--city", str(city), "--as-of", "2021-03-22", "--paths", "100"]
    rc = main([*args, "--out", str(tmp_path / "st"), "--no-charts"])
    assert rc == 0, capsys.readouterr().err
    assert not list((tmp_path / "st").glob("*.png")) and (tmp_path / "st" / "model.json").is_file()


def test_the_forecast_command_reads_only_the_columns_it_uses(tmp_path, capsys):
    """`forecast --stations` reads the task force's columns of the station table, not its names' sources or
    points (10^6 strings each at national scale): a table with those columns alone gives the same files."""
    from analysis.cli import main
    from analysis.taskforce import OPTIONAL_STATION_COLUMNS, STATION_COLUMNS

    st = _stations()
    st["sources"], st["lon"], st["lat"] = "a.csv:1", 113.5, 37.8
    city = _many_district_city(tmp_path, ["甲区", "乙区"])
    full, lean = tmp_path / "full.parquet", tmp_path / "lean.parquet"
    st.to_parquet(full)
    st[[c for c in (*STATION_COLUMNS, *OPTIONAL_STATION_COLUMNS) if c in st.columns]].to_parquet(lean)
    for path in (full, lean):
        args = ["forecast", "--stations", str(path), "--city", str(city), "--as-of", "2021-03-22", "--paths", "100"]
        assert main([*args, "--out", str(tmp_path / path.stem), "--no-charts"]) == 0, capsys.readouterr().err
    for name in ("forecast.csv", "levers.csv"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "lean" / name).read_bytes()


def test_the_taskforce_stage_steps_its_progress(tmp_path, capsys):
    """taskforce_to_folder: a line for the stations read, the tracking and the files, when progress is on."""
    from analysis.config import resolve_city
    from analysis.taskforce import taskforce_to_folder

    st = _stations()
    city = resolve_city(_many_district_city(tmp_path, ["甲区", "乙区"]))
    with progress.forced("lines"):
        taskforce_to_folder(st, city, AS_OF, tmp_path / "tf", fig_lang=None)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" steps ")[0] for line in lines] == [f"taskforce: {k}/3" for k in range(1, 4)]
    assert "120 stations read" in lines[0] and "sites tracked" in lines[1] and "tables written" in lines[2]


@pytest.mark.parametrize("empty", [["北区"], ["北区", "南区"], [f"T{i}" for i in range(8427)]])
def test_the_note_on_empty_districts_reads_in_chinese_on_a_chinese_page(empty):
    """Each form of the note has its Chinese words (an unknown note is left out of a Chinese page)."""
    from analysis.report.chrome import translate_note

    (note,) = C.describe_empty_districts(empty, 8733, AS_OF)
    zh = translate_note(note, "zh")
    assert zh is not None and "无已开通基站，预测为零" in zh and "2021-03-22" in zh
    assert translate_note(note, "en").startswith(note.split(" (")[0])
    if len(empty) > C.MAX_NAMED_EMPTY_DISTRICTS:
        assert "8,427" in zh and "8,733" in zh and "empty_districts.csv" in zh
    else:
        assert all(d in zh for d in empty)


def test_each_district_forecast_knows_whether_it_is_empty(tmp_path):
    """The reconciliation says of each district's forecast whether it is empty (`is_empty_district`, asked
    of thousands of counties several times a run), as its history and table would say; the rule reads
    that answer rather than the tables."""
    from analysis.config import resolve_city

    names = ["甲区", "乙区", "丙区", "丁区"]
    city = resolve_city(_many_district_city(tmp_path, names))
    cf = C.forecast_stations(_stations(), AS_OF, city=city, n_paths=100)
    assert {d: f.empty for d, f in cf.districts.items()} == {
        d: float(f.history.iloc[-1]) == 0 and not (f.table["mean"].to_numpy(float) > 0).any()
        for d, f in cf.districts.items()
    }
    assert cf.empty_districts == ["丙区", "丁区"]
    assert P.is_empty_district(SimpleNamespace(empty=True, history=None, table=None))
    assert not P.is_empty_district(SimpleNamespace(empty=False, history=None, table=None))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_forecast_charts_count_axes_read_in_full_numbers_with_separators(lang):
    """A national city's fan chart (millions) and its district panels (100,000s): every count tick in full
    with thousands separators, in both languages; no "1e6" offset, no "100000"."""
    import matplotlib.pyplot as plt

    from analysis.forecast import fit_forecast

    index = pd.date_range("2019-11-30", periods=26, freq="ME")
    history = pd.Series(np.linspace(20_000, 2_843_252, 26).round(), index=index, name="on_air")
    fc = fit_forecast(history, horizon=24, model="drift", n_paths=200, max_origins=2, name="China")
    fig = P.plot_fan(fc, lang=lang)
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert "1,000,000" in ticks and all(t == "0" or "," in t for t in ticks), ticks
    plt.close(fig)
    cf = _city_forecast({"甲区": _district(90_000, 160_000), "乙区": _district(1, 1.5)})
    fig = P.plot_districts(cf, lang=lang)
    fig.canvas.draw()
    big, small = (ax for ax in fig.axes if ax.get_visible() and ax.get_title())
    assert big.yaxis.get_offset_text().get_text() == ""
    ticks = [t.get_text() for t in big.get_yticklabels() if t.get_text()]
    assert "100,000" in ticks and all(t == "0" or "," in t for t in ticks), ticks
    small_ticks = [t.get_text() for t in small.get_yticklabels() if t.get_text()]
    # a small district's fractional ticks keep their few decimals, as matplotlib writes them (no float noise)
    assert small_ticks and all(re.fullmatch(r"[0-9]+(\.[0-9]{1,3})?", t) for t in small_ticks), small_ticks
    assert any("." in t for t in small_ticks) and small.yaxis.get_offset_text().get_text() == ""
    plt.close(fig)


def test_the_districts_not_in_city_toml_are_found_without_reading_each_station(tmp_path, monkeypatch):
    """The note on stations in districts city.toml does not name reads the district column's distinct
    values, not each station's (a set of 10^6 strings: 0.6 s of a national forecast)."""
    from analysis.config import resolve_city

    city = resolve_city(_many_district_city(tmp_path, ["甲区", "乙区"]))
    stations = _stations()
    stations.loc[stations.index[:3], "district"] = "外区"
    iterate = pd.Series.__iter__

    def one_by_one(self):
        if len(self) >= len(stations) - 3:
            raise AssertionError("read the stations one by one")
        return iterate(self)

    monkeypatch.setattr(pd.Series, "__iter__", one_by_one)
    cf = C.forecast_stations(stations, AS_OF, city=city, n_paths=100)
    assert "stations in districts not in city.toml counted in the city only: ['外区']" in cf.notes


def test_a_districts_raw_paths_are_let_go_once_reconciled(tmp_path, monkeypatch):
    """The raw paths kept between the two passes are read once, by the reconciliation, and let go there:
    kept to the end, a national run held its counties' paths twice (321 counties: 250 MB more)."""
    from analysis.config import resolve_city

    city = resolve_city(_many_district_city(tmp_path, ["甲区", "乙区", "丙区"]))
    seen = []
    reconcile = C._reconcile_district

    def watched(p, *args):
        held = p.paths is not None
        out = reconcile(p, *args)
        seen.append((held, p))
        return out

    monkeypatch.setattr(C, "_reconcile_district", watched)
    cf = C.forecast_stations(_stations(), AS_OF, city=city, n_paths=100)
    assert sum(held for held, _ in seen) == 2  # the two districts with stations kept theirs to pass 2
    assert all(p.paths is None for _, p in seen)
    assert all(len(cf.districts[d].paths) == 100 for d in ("甲区", "乙区"))  # their reconciled paths stay
