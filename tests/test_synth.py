"""The synthetic Karamay sample: calibrated to the article, recovered by cleaning, reproducible."""

import numpy as np
import pandas as pd
import pytest

import synth
from analysis.clean.stations import clean_stations
from analysis.config import RAW_DIR, load_city

STATIONS_DIR = RAW_DIR / "karamay" / "stations"


@pytest.fixture(scope="module")
def truth():
    return synth.generate_truth("karamay").stations


@pytest.fixture(scope="module")
def cleaned():
    return clean_stations([STATIONS_DIR], "karamay", as_of=synth.EXTRACT_DATE.isoformat())


def test_truth_is_calibrated_to_the_article(truth):
    on_air = truth["on_air_date"].dropna()
    city = load_city("karamay")
    [reported] = [t for t in city.targets if t.kind == "reported"]
    assert (on_air <= pd.Timestamp(reported.date)).sum() == reported.on_air == 216
    assert on_air.min() >= pd.Timestamp("2019-12-01") and on_air.min() <= pd.Timestamp("2019-12-31")
    assert on_air.max() <= pd.Timestamp("2021-12-31")
    assert len(on_air) == sum(synth.MONTHLY_ON_AIR.values())
    monthly = on_air.dt.to_period("M").value_counts()
    winter = monthly[[p for p in monthly.index if p.month in (12, 1, 2)]].mean()
    summer = monthly[[p for p in monthly.index if p.month in (6, 7, 8)]].mean()
    assert winter < summer / 3  # construction stops when the ground freezes


def test_pipeline_sites_have_stages_consistent_blockers_and_ordered_dates(truth):
    pipe = truth[truth["on_air_date"].isna()]
    assert pipe["status"].value_counts().to_dict() == synth.PIPELINE_AT_EXTRACT
    for stage, allowed in synth.STAGE_BLOCKERS.items():
        got = set(pipe.loc[pipe["status"] == stage, "blocker"].dropna())
        assert got <= set(k for k in allowed if k)
    dates = truth[
        [
            "planned_date",
            "site_selection_date",
            "site_access_date",
            "construction_date",
            "power_hookup_date",
            "on_air_date",
        ]
    ]
    for a, b in zip(dates.columns[:-1], dates.columns[1:]):
        both = dates[a].notna() & dates[b].notna()
        assert (dates.loc[both, a] <= dates.loc[both, b]).all(), (a, b)
    assert (dates.max(axis=1) <= pd.Timestamp(synth.EXTRACT_DATE)).all()


def test_cleaning_the_bundled_files_recovers_the_truth(truth, cleaned):
    s = cleaned.summary
    assert s["rows_in"] == s["rows_kept"] + s["rows_merged"] + s["rows_quarantined"]
    assert not cleaned.failed_files
    st = cleaned.stations.set_index("station_id")
    t = truth.set_index("station_id")
    assert set(st.index) == set(t.index)
    j = t.merge(st, left_index=True, right_index=True, how="left", suffixes=("", "_clean"))
    error_m = np.hypot((j["lon"] - j["lon_clean"]) * 78_000, (j["lat"] - j["lat_clean"]) * 111_000)
    assert error_m.max() < 5  # DMS to 0.1", GCJ-02 round trips, re-measured duplicates merge onto the truth
    for col in [
        "operator",
        "district",
        "on_air_date",
        "planned_date",
        "construction_date",
        "power_hookup_date",
        "name",
        "blocker",
    ]:
        same = (j[col] == j[f"{col}_clean"]) | (j[col].isna() & j[f"{col}_clean"].isna())
        assert same.all(), col
    on_air = j["on_air_date"].notna()
    assert (j.loc[on_air, "band"] == j.loc[on_air, "band_clean"]).all()
    assert (j.loc[~on_air, "status"] == j.loc[~on_air, "status_clean"]).all()
    assert (st["on_air_date"] <= "2020-12-31").sum() == 216


def test_every_kind_of_mess_is_exercised(cleaned):
    s = cleaned.summary
    for reason in [
        "blank_row",
        "missing_coordinates",
        "zero_coordinates",
        "unparseable_coordinates",
        "outside_city",
        "future_on_air_date",
        "on_air_date_before_2019",
        "on_air_without_date",
        "no_identity",
        "site_code_conflict",
        "unknown_crs",
        "not_nr",
    ]:
        assert s["quarantined_by_reason"].get(reason, 0) >= 1, reason
    for reason in ["exact_duplicate", "same_site_code", "co_located", "same_station_other_source"]:
        assert s["merged_by_reason"].get(reason, 0) >= 1, reason
    assert s["notes"]["lat_lon_swapped"] >= 1 and s["notes"]["gcj02_converted_rows"] >= 1
    encodings = {f.get("encoding") for f in s["files"]}
    assert {"gbk", "utf-8", "utf-8-sig", None} <= encodings  # None: XLSX
    assert any(f.get("header_row", 1) > 1 for f in s["files"])  # title rows above a header


def test_bundled_files_are_exactly_what_the_generator_writes(tmp_path):
    written = synth.write_city_reports(tmp_path, "karamay")
    assert sorted(p.name for p in written) == sorted(p.name for p in STATIONS_DIR.iterdir())
    for path in written:
        assert path.read_bytes() == (STATIONS_DIR / path.name).read_bytes(), path.name
