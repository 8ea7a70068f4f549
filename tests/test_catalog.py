"""The catalogue of stage outputs: where a date's files go, a stage's files published each whole with
the stamp last, files of the folder the stage does not write left alone, and a stamp that names a
missing file not trusted."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis import catalog
from analysis.errors import BadInputError
from analysis.report.outputs import read_table, stamp_is_current


def test_folders_follow_city_and_date(tmp_path):
    assert (
        catalog.stage_folder("coverage", "karamay", "2021-03-22", tmp_path) == tmp_path / "karamay/2021-03-22/coverage"
    )
    assert catalog.cache_folder("karamay", "ab" * 32, tmp_path) == tmp_path / "karamay/cache" / ("ab" * 8)
    with pytest.raises(BadInputError):
        catalog.stage_folder("clean", "karamay", "2021-03-22", tmp_path)  # clean is keyed on content, not date
    assert set(catalog.DATED_STAGES) <= set(catalog.STAGE_FILES) and set(catalog.STAGE_FILES) == set(
        catalog.STAGE_FIGURES
    )


def test_publish_writes_each_file_and_the_stamp_last(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("the user's")

    def write(tmp):
        (tmp / "a.csv").write_text("x\n1\n")
        (tmp / "b.json").write_text("{}")

    paths = catalog.publish_stage("forecast", out, write, {"inputs_sha256": "k"})
    assert [p.name for p in paths] == ["a.csv", "b.json", "stage.json"]
    assert (out / "mine.txt").read_text() == "the user's"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary folder left"
    stamp = catalog.read_stamp(out)
    assert stamp == {"inputs_sha256": "k", "stage": "forecast", "files": ["a.csv", "b.json"]}
    (out / "b.json").unlink()
    assert catalog.read_stamp(out) is None, "a stamp naming a missing file is not a finished stage"


def test_a_file_the_stage_no_longer_writes_is_removed_and_the_users_files_stay(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.csv").write_text("the user's")

    def write_both(tmp):
        (tmp / "a.csv").write_text("x\n")
        (tmp / "empty_districts.csv").write_text("district\nT1\n")

    catalog.publish_stage("forecast", out, write_both, {"inputs_sha256": "k"})
    catalog.publish_stage("forecast", out, lambda tmp: (tmp / "a.csv").write_text("y\n"), {"inputs_sha256": "k2"})
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "mine.csv", "stage.json"]
    # another stage's stamp, or one naming a path outside the folder, removes nothing
    (out / "stage.json").write_text('{"stage": "forecast", "files": ["../mine.csv", "mine.csv"]}')
    catalog.publish_stage("coverage", out, lambda tmp: (tmp / "b.csv").write_text("z\n"), {"inputs_sha256": "k"})
    assert (out / "mine.csv").is_file() and (out / "a.csv").is_file()
    (out / "stage.json").write_text('{"stage": "forecast", "files": ["../outside.txt"]}')
    (tmp_path / "outside.txt").write_text("keep")
    catalog.publish_stage("forecast", out, lambda tmp: (tmp / "a.csv").write_text("y\n"), {"inputs_sha256": "k3"})
    assert (tmp_path / "outside.txt").read_text() == "keep"


def test_a_failing_stage_leaves_no_stamp(tmp_path):
    out = tmp_path / "out"
    catalog.publish_stage("coverage", out, lambda tmp: (tmp / "a.csv").write_text("x\n"), {"inputs_sha256": "k"})

    def boom(tmp):
        (tmp / "a.csv").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        catalog.publish_stage("coverage", out, boom, {"inputs_sha256": "k"})
    assert catalog.read_stamp(out) is None and (out / "a.csv").read_text() == "x\n"
    (out / "stage.json").write_text("not json")
    assert catalog.read_stamp(out) is None


def test_outputs_are_reused_only_for_the_same_inputs_figures_and_map():
    files = {s: list(catalog.STAGE_FILES[s]) for s in catalog.DATED_STAGES}
    stamp = {"stage": "forecast", "inputs_sha256": "k", "fig_lang": "zh", "files": files["forecast"]}
    assert stamp_is_current(stamp, "k", None, None) and stamp_is_current(stamp, "k", "zh", None)
    assert not stamp_is_current(stamp, "other", None, None) and not stamp_is_current(stamp, "k", "en", None)
    # written before the stage wrote levers.csv: stale, run again
    assert not stamp_is_current({**stamp, "files": ["forecast.csv", "model.json"]}, "k", None, None)
    cov = {"stage": "coverage", "inputs_sha256": "k", "basemap": None, "files": files["coverage"]}
    assert stamp_is_current(cov, "k", "en", None) and not stamp_is_current(cov, "k", "en", "osm")
    assert not stamp_is_current(None, "k", None, None)


def test_tables_read_back_as_written(tmp_path):
    frame = pd.DataFrame(
        {
            "station_id": ["0650", "0651"],
            "rating": ["5A", ""],
            "blocker": ["power_price", None],
            "is_target": [True, False],
            "distance_m": [12.5, float("nan")],
        }
    )
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    back = read_table(path)
    assert list(back["station_id"]) == ["0650", "0651"]  # codes of digits stay codes
    assert list(back["rating"]) == ["5A", ""] and back["blocker"].isna().tolist() == [False, True]
    assert back["is_target"].dtype == bool
    with pytest.raises(BadInputError, match="stage output missing"):
        read_table(tmp_path / "missing.csv")
    json.dumps(catalog.STAGE_FILES)  # a plain mapping
