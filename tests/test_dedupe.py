"""De-duplication radii are true ground distances (issue 14, item 1): checked against a WGS-84
geodesic at the equator, 45° N and 53° N, north, east and diagonal, in the distance helpers and
through the whole cleaner on a small city built around each latitude."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyproj import Geod

from analysis.clean.dedupe import DUPLICATE_RADIUS_M, MATCH_RADIUS_M, distance_m, metric_xyz
from analysis.clean.stations import clean_stations

GEOD = Geod(ellps="WGS84")
LATITUDES = (0.0, 45.0, 53.0)
BEARINGS = {"north": 0.0, "east": 90.0, "diagonal": 45.0}


def _offset(lon, lat, bearing, metres):
    lon2, lat2, _ = GEOD.fwd(lon, lat, bearing, metres)
    return float(lon2), float(lat2)


@pytest.mark.parametrize("lat", LATITUDES)
@pytest.mark.parametrize("bearing", BEARINGS.values(), ids=BEARINGS.keys())
@pytest.mark.parametrize("metres", [40.0, DUPLICATE_RADIUS_M, 420.0, MATCH_RADIUS_M])
def test_metric_points_and_distances_agree_with_a_geodesic(lat, bearing, metres):
    lon = 84.87
    lon2, lat2 = _offset(lon, lat, bearing, metres)
    xyz = metric_xyz(np.array([lon, lon2]), np.array([lat, lat2]))
    assert np.linalg.norm(xyz[1] - xyz[0]) == pytest.approx(metres, abs=0.01)
    assert distance_m([lon], [lat], [lon2], [lat2])[0] == pytest.approx(metres, abs=0.001)


def _city(folder, lat):
    """A one-district city, 0.2° square, centred on 84.87 E and `lat`."""
    folder.mkdir()
    (folder / "city.toml").write_text(
        '[city]\nname_zh = "测试市"\nname_en = "Testville"\nbuildout_start = 2019-12-01\n'
        'article_date = 2021-03-22\n[files]\ndistricts = "districts.geojson"\n'
        '[[targets]]\ndate = 2021-12-31\non_air = 10\n[[districts]]\nname_zh = "中区"\nname_en = "Middle"\n',
        encoding="utf-8",
    )
    ring = [[84.77, lat - 0.1], [84.97, lat - 0.1], [84.97, lat + 0.1], [84.77, lat + 0.1], [84.77, lat - 0.1]]
    districts = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name_zh": "中区", "name_en": "Middle"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    (folder / "districts.geojson").write_text(json.dumps(districts, ensure_ascii=False), encoding="utf-8")
    return folder / "city.toml"


@pytest.mark.parametrize("lat", LATITUDES)
def test_codeless_records_merge_within_50_m_of_ground_in_every_direction(tmp_path, lat):
    city = _city(tmp_path / "city", lat)
    lines = ["基站名称,运营商,经度,纬度,开通时间"]
    for k, bearing in enumerate(BEARINGS.values()):
        # a base point per direction, 2 km apart; a record 45 m one way (one station with it) and one
        # 56 m the other way (a second station, 101 m from the first record)
        lon0, lat0 = _offset(84.87, lat + 0.01, 180.0, 2000.0 * k)  # (a latitude of 0 reads as missing)
        for name, way, metres in (
            (f"基站{k}", 0.0, 0.0),
            (f"基站{k}近", bearing, 45.0),
            (f"基站{k}远", bearing + 180.0, 56.0),
        ):
            lon1, lat1 = _offset(lon0, lat0, way, metres) if metres else (lon0, lat0)
            lines.append(f"{name},移动,{lon1:.8f},{lat1:.8f},2020-05-01")
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = clean_stations([tmp_path / "s.csv"], city, as_of="2021-03-22")
    assert result.summary["rows_merged"] == 3, result.quarantine[["source_row", "reason", "detail"]]
    assert len(result.stations) == 6
    merged = result.quarantine.set_index("source_row")
    assert set(merged.index) == {2, 5, 8}  # each 45 m record, whatever its direction


@pytest.mark.parametrize("lat", [45.0, 53.0])
def test_an_opencellid_site_matches_its_station_within_500_m_north(tmp_path, lat):
    city = _city(tmp_path / "city", lat)
    (tmp_path / "ops.csv").write_text(
        f"站址编码,基站名称,运营商,经度,纬度,开通时间\nA1,甲站,移动,84.87,{lat},2020-05-01\n", encoding="utf-8"
    )
    lon_near, lat_near = _offset(84.87, lat, 0.0, 480.0)  # the old flat projection measured this ~700 m
    nci = (4321 << 12) + 1
    (tmp_path / "ocid.csv").write_text(
        "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
        f"NR,460,0,1,{nci},0,{lon_near:.7f},{lat_near:.7f},500,3,1,1590969600,1590969600,0\n",
        encoding="utf-8",
    )
    result = clean_stations([tmp_path], city, as_of="2021-03-22")
    station = result.stations.set_index("station_id").loc["CMCC-A1"]
    assert station["opencellid_cells"] == 1
    assert station["opencellid_distance_m"] == pytest.approx(480.0, abs=0.5)
    assert len(result.stations) == 1


@pytest.mark.parametrize("dtype", [object, "str"])
def test_row_keys_equal_exactly_for_equal_rows_missing_included(dtype):
    """Exact repeats are found on integer keys: equal texts (and missing in the same cells) share a key;
    a missing cell and any text, or two texts, never do."""
    import pandas as pd

    from analysis.clean.dedupe import _row_keys

    frame = pd.DataFrame(
        {
            "code": pd.Series(["S1", "S1", "S1", None, None, "S2"], dtype=dtype),
            "name": pd.Series(["甲", "甲", None, "甲", "甲", "甲"], dtype=dtype),
            "lacking": pd.Series([None] * 6, dtype=dtype),
        }
    )
    keys = _row_keys(frame).tolist()
    assert keys[0] == keys[1] and keys[3] == keys[4]
    assert len({keys[0], keys[2], keys[3], keys[5]}) == 4


def test_row_keys_refined_on_shared_rows_match_whole_row_equality():
    """Keys built column by column on the rows still sharing one: two rows share a key exactly when
    every cell is equal, also when a row unique early meets rows told apart only by a later column."""
    import numpy as np
    import pandas as pd

    from analysis.clean.dedupe import _row_keys

    rng = np.random.default_rng(7)
    values = [["a", "b", None][i] for i in rng.integers(0, 3, size=(300, 4)).ravel()]
    frame = pd.DataFrame(np.array(values, dtype=object).reshape(300, 4), columns=list("wxyz")).astype("str")
    frame.loc[0, "w"] = "only"  # unique after the first column, with later cells like many others
    keys = _row_keys(frame)
    rows = [tuple(None if pd.isna(v) else v for v in r) for r in frame.itertuples(index=False)]
    for i in range(len(rows)):
        same_key = keys == keys[i]
        same_row = np.array([r == rows[i] for r in rows])
        assert (same_key == same_row).all(), i


def test_row_keys_from_a_coarser_start_still_tell_texts_apart():
    """Starting from the parsed position (84.1 and 84.10 are one position): rows of equal position but
    other text keep keys of their own; equal rows share one."""
    import numpy as np
    import pandas as pd

    from analysis.clean.dedupe import _row_keys

    frame = pd.DataFrame({"lon": ["84.1", "84.10", "84.1", "85"], "code": ["S1", "S1", "S1", "S1"]}, dtype="str")
    keys = _row_keys(frame, start=np.array([84.1, 84.1, 84.1, 85.0]))
    assert keys[0] == keys[2] and len({keys[0], keys[1], keys[3]}) == 3


def test_rows_that_may_merge_are_every_row_dedupe_merges_or_calls_a_conflict():
    """Only rows whose position repeats (exact repeats among them), whose operator's site code repeats, or
    that have no code can be merged or called a conflict: the raw text of the others is dropped before
    de-duplication, and exact repeats are told from the text of the rows kept."""
    import pandas as pd

    from analysis.clean.dedupe import dedupe_keys, dedupe_rows, record_keys, rows_that_may_merge
    from analysis.clean.sources import FIELDS
    from analysis.errors import LedgerError

    lon, lat = (
        [84.87, 84.87, 84.99, 84.88, 84.9, 84.9, 84.95, 84.87],
        [45.6, 45.6, 45.6, 45.61, 45.7, 45.7, 45.65, 45.6],
    )
    codes = ["S1", "S1", "S1", "S2", None, None, "S3", "S1"]
    operators = ["CMCC", "CMCC", "CMCC", "CMCC", "CTCC", "CTCC", "CMCC", "CUCC"]
    raw = pd.DataFrame({c: pd.Series([None] * 8, dtype="str") for c in FIELDS})
    raw["site_code"] = pd.Series(codes, dtype="str")
    raw["operator"] = pd.Series(operators, dtype="str")
    raw["lon"], raw["lat"] = pd.Series(map(str, lon), dtype="str"), pd.Series(map(str, lat), dtype="str")
    rec = pd.DataFrame({"lon": lon, "lat": lat, "site_code": pd.Series(codes, dtype="str"), "operator": operators})
    rec["reason"], rec["n_fields"] = None, 4
    position_key, code_key = dedupe_keys(rec)
    may, shared_code_key = rows_that_may_merge(position_key, code_key)
    # 0-1 one record twice, 2 the code of 0 elsewhere (a conflict), 4-5 no code, 7 at the position of 0
    # (with the code of 0 but another operator's); 3, 6 codes and positions of their own
    assert may.tolist() == [True, True, True, False, True, True, False, True]
    rows = np.flatnonzero(may)
    record_key = record_keys(raw.take(rows), rows, position_key)
    assert record_key[0] == record_key[1] and len(set(record_key[[0, 2, 4, 7]])) == 4
    assert (record_key >= 0).tolist() == may.tolist()  # (-1: a record of its own, not looked at again)
    with pytest.raises(LedgerError):  # (the text of a row sharing its position left out)
        record_keys(raw.take(rows[1:]), rows[1:], position_key)
    dd = dedupe_rows(rec, record_key, code_key)
    moved = dd.index[(dd["anchor"].to_numpy() != dd.index.to_numpy()) | dd["conflict"].notna().to_numpy()]
    assert set(moved) == {1, 2, 5} and set(moved) <= set(np.flatnonzero(may))
    # of the codes only those of several rows (0-2's): the same merges from them
    assert (shared_code_key >= 0).tolist() == [True, True, True, False, False, False, False, False]
    assert (shared_code_key[:3] == code_key[:3]).all()
    pd.testing.assert_frame_equal(dedupe_rows(rec, record_key, shared_code_key), dd)


def test_position_key_equal_exactly_for_equal_positions_nan_and_signed_zero_included():
    """`_position_key` (the coordinates' bits grouped by sorting) gives rows one key exactly when their two
    coordinates compare equal as floats (-0.0 equals 0.0, NaN equals NaN, whatever its bits)."""
    import pandas as pd

    from analysis.clean.dedupe import _position_key

    nan, other_nan = float("nan"), np.frombuffer(np.int64(0x7FF8000000000001).tobytes(), np.float64)[0]
    lon = [84.8, 84.8, -0.0, 0.0, nan, other_nan, 84.8, 45.6, nan, 84.8]
    lat = [45.6, 45.6, 45.6, 45.6, 45.6, 45.6, nan, 84.8, nan, 45.7]
    key = _position_key(pd.DataFrame({"lon": lon, "lat": lat}))
    groups = [0, 0, 1, 1, 2, 2, 3, 4, 5, 6]
    assert all((key[i] == key[j]) == (groups[i] == groups[j]) for i in range(10) for j in range(10))
    assert sorted(set(key.tolist())) == list(range(7))


def test_pair_classes_match_the_equality_of_pairs():
    """`_pair_classes` numbers rows equal exactly when both halves are (many ties of the first half)."""
    from analysis.clean.dedupe import _pair_classes

    rng = np.random.default_rng(5)
    a, b = rng.integers(-3, 4, 2000), rng.integers(-2, 3, 2000)
    a[::7] = rng.integers(-(2**62), 2**62, len(a[::7]))
    key = _pair_classes(a, b)
    want = pd.factorize(pd.Series(list(zip(a.tolist(), b.tolist()))))[0]
    assert (pd.factorize(key)[0] == want).all()
    assert key.min() == 0 and key.max() == want.max() and _pair_classes(a[:0], b[:0]).size == 0


def test_pair_classes_tell_apart_pairs_whose_mixes_agree_above_the_row_numbers():
    """Pairs whose 64-bit mixes differ only in the low bits the row numbers take (what `_pair_classes`
    sorts is the mix cut short) are told apart by the pairs themselves; equal pairs still share a class."""
    from analysis.clean.dedupe import _pair_classes

    n, mask = 2000, (1 << 64) - 1
    row_bits = (n - 1).bit_length()

    def pair_of_mix(a: int, mix: int) -> int:  # (the b whose mix with a is `mix`: each step undone)
        x = mix ^ (mix >> 29) ^ (mix >> 58)
        x = (x * pow(-4658895280553007687 % (1 << 64), -1, 1 << 64)) & mask
        return x ^ ((a * (-7046029254386353131 % (1 << 64))) & mask)

    rng = np.random.default_rng(11)
    high = rng.integers(0, 1 << 40, 50).tolist()
    a = rng.integers(-(2**40), 2**40, n).tolist()
    mixes = [((high[k % 50] << row_bits) | (k % 7)) for k in range(n)]  # 50 cut mixes, 7 low parts each
    b = [pair_of_mix(x % (1 << 64), m) for x, m in zip(a, mixes, strict=True)]
    a = np.array(a, dtype=np.int64)
    b = np.array([v - (1 << 64) if v >= 1 << 63 else v for v in b], dtype=np.int64)
    a[1000:], b[1000:] = a[:1000], b[:1000]  # (every pair twice)
    key = _pair_classes(a, b)
    want = pd.factorize(pd.Series(list(zip(a.tolist(), b.tolist()))))[0]
    assert (pd.factorize(key)[0] == want).all() and key.max() == want.max() == 999


def test_codes_of_short_texts_by_sorting_equal_pyarrows_encoding(monkeypatch):
    """Site codes of one length (a national file's) grouped by sorting: the same classes as pyarrow's
    dictionary encoding, missing values one class of their own (not the empty text's); texts of several
    lengths, or longer than 15 bytes, are encoded by pyarrow."""
    from analysis.clean import dedupe

    monkeypatch.setattr(dedupe, "_SORT_TEXTS_FROM", 1)
    rng = np.random.default_rng(9)
    for texts in (
        [f"S{i:04d}" for i in rng.integers(0, 300, 1000)] + [None] * 5,
        ["站A", "站B", "站A", None, "站C"],
        ["", "", None, ""],
        ["S1", "S22", "S1"],
        ["x" * 16, "x" * 16],
    ):
        values = pd.Series(texts, dtype="str")
        codes, n = dedupe._codes_of(values)
        want = pd.factorize(pd.Series(texts, dtype=object).fillna("\x00missing"))[0]
        assert (pd.factorize(codes)[0] == want).all(), texts[:5]
        assert n == len(set(want)) and codes.max() == n - 1
    sorted_ones = dedupe._short_text_codes(pa.array(["ab", None, "ab"], pa.large_string()))
    assert sorted_ones is not None and sorted_ones[0] == sorted_ones[2] != sorted_ones[1]
    assert dedupe._short_text_codes(pa.array(["S1", "S22"], pa.large_string())) is None


def test_first_of_key_and_followed_anchors_match_groupby_and_map():
    """`_first_of_key` gives each row the position of its key's first row, as a groupby "first" does;
    `_follow_anchors` follows anchors by position as the map by label did (an anchor that is no row stays)."""
    import pandas as pd

    from analysis.clean.dedupe import _first_of_key, _follow_anchors

    rng = np.random.default_rng(7)
    for keys in (rng.integers(0, 50, 400), rng.integers(0, 10**12, 300), np.zeros(0, dtype=np.int64)):
        idx = pd.Index(np.arange(len(keys)))
        expected = pd.Series(idx, index=idx).groupby(keys).transform("first").to_numpy()
        assert _first_of_key(keys).tolist() == expected.tolist()
    with pytest.raises(ValueError):
        _first_of_key(np.array([0, -1]))
    labels = rng.permutation(200)[:150]
    targets = np.r_[labels, [199, 198]]  # (a few anchors that are no row of the frame)
    for scale in (1, 10**9):  # (labels far apart: followed by label)
        anchors = pd.Series(rng.choice(targets, 150) * scale, index=labels * scale)
        expected = anchors.copy()
        for _ in range(3):
            expected = expected.map(expected).fillna(expected).astype(expected.dtype)
        assert _follow_anchors(anchors, 3).tolist() == expected.tolist()


def test_labels_found_by_position_as_loc_finds_them():
    """`_positions_in`: the positions `.loc` would use, by a look-up array for small row labels and by
    pandas otherwise; a label not in the index is a KeyError (never the last row, as -1 would be)."""
    import numpy as np
    import pandas as pd
    import pytest

    from analysis.clean.dedupe import _positions_in

    for labels in (np.array([7, 3, 0, 9, 4]), np.array([7, 3, 0, 9, 4]) * 10**12, np.array([-2, 5, 1])):
        index = pd.Index(labels)
        where = _positions_in(index)
        wanted = labels[[2, 0, 0, 1]]
        assert where(wanted).tolist() == index.get_indexer(wanted).tolist() == [2, 0, 0, 1]
        assert where(labels[:0]).tolist() == []
        with pytest.raises(KeyError):
            where(np.array([labels[0], 6]))
    with pytest.raises(KeyError):
        _positions_in(pd.Index([7, 3, 0]))(np.array([100]))  # (past the look-up array)


def _parsed_ids_frame(operators, codes, lons, lats, index) -> pd.DataFrame:
    """The columns a station id is made of, typed as parsing leaves them (Arrow strings, floats)."""
    return pd.DataFrame(
        {
            "operator": pd.Series(operators, dtype="str"),
            "site_code": pd.Series(codes, dtype="str"),
            "lon": np.asarray(lons, dtype=float),
            "lat": np.asarray(lats, dtype=float),
        }
    ).set_axis(pd.Index(index))


def _heads_in_id_order(rec: pd.DataFrame, heads: pd.Index, taken: bool) -> tuple[list, list, bool]:
    """The heads and their ids sorted: as the clean did before (`_station_ids`, then `_station_id_order`),
    or (`taken`) from every row's ids made beforehand (`_named_heads`), sorted only where it says so."""
    from analysis.clean.stations import _ID_COLUMNS, _ids_in_order, _named_heads, _station_id_order, _station_ids

    if taken:
        heads, ids, in_order = _named_heads(rec, heads, _ids_in_order(rec[list(_ID_COLUMNS)]))
    else:
        ids, in_order = _station_ids(rec, heads), False
    if not in_order:
        order = _station_id_order(ids)
        heads, ids = heads[order], ids.iloc[order]
    assert str(ids.dtype) == "str" and (ids.index == heads).all()
    return heads.tolist(), ids.tolist(), in_order


def test_heads_ids_taken_from_every_rows_sort_as_the_heads_own_sort():
    """`_named_heads`: the heads (in priority order, not their rows' order; some rows no head, some without a
    code: ids of their position) in the order of their ids, taken from every row's ids and their sort
    (`_ids_in_order`), as the heads' own ids sorted give them."""
    rec = _parsed_ids_frame(
        ["移动", "联通", "移动", "电信", "移动", "联通", "移动"],
        ["B7", "A1", None, "Z", "A10", None, "A2"],
        [87.1, 87.2, 87.300004, 87.4, 87.5, 87.6, 87.7],
        [45.1, 45.2, 45.3, 45.4, 45.5, 45.6, 45.7],
        [30, 10, 50, 20, 70, 60, 40],
    )
    heads = pd.Index([70, 50, 30, 20, 60, 10])  # (row 40 merged into another)
    before = _heads_in_id_order(rec, heads, taken=False)
    now = _heads_in_id_order(rec, heads, taken=True)
    assert now[2] and now[:2] == before[:2]
    # (by code point: 电 U+7535 < 移 U+79FB < 联 U+8054; "@" before digits and letters)
    positions = ["移动-@87.30000,45.30000", "联通-@87.60000,45.60000"]
    assert before[1] == ["电信-Z", positions[0], "移动-A10", "移动-B7", positions[1], "联通-A1"]


def test_heads_ids_sorted_as_before_where_the_rows_sort_could_differ():
    """Heads whose ids are equal (the same code in two senders' namespaces) keep the heads' order among them,
    not their rows': `_named_heads` then makes and sorts the heads' ids as before; so with a head of no id."""
    from analysis.clean.stations import _head_ids_in_order

    rec = _parsed_ids_frame(["移动"] * 4, ["C", "C", "A", "B"], [87.1, 87.2, 87.3, 87.4], [45.0] * 4, [1, 2, 3, 4])
    heads = pd.Index([4, 2, 3, 1])  # (priority order: row 2 before row 1)
    before = _heads_in_id_order(rec, heads, taken=False)
    now = _heads_in_id_order(rec, heads, taken=True)
    assert not now[2] and now[:2] == before[:2]
    assert before[0] == [3, 4, 2, 1]
    # a missing id (none made by `_station_ids`, which needs an operator) among the heads' is no order either
    ids = pa.chunked_array([pa.array(["移动-A", None, "移动-C"], pa.large_string())])
    assert _head_ids_in_order(rec.iloc[:3], pd.Index([1, 2, 3]), np.array([2, 1, 0]), ids) is None
    assert _head_ids_in_order(rec.iloc[:3], pd.Index([1, 3]), np.array([2, 1, 0]), ids) is not None


def _sorted_by_pyarrow(ids: list) -> list[int]:
    """The positions of `ids` in the clean's sort of station ids (`_station_id_order`)."""
    from analysis.clean.stations import _station_id_order

    return _station_id_order(pd.Series(ids, dtype="str")).tolist()


def test_ids_ordered_by_operator_where_each_operators_rows_are_in_order():
    """`_order_if_sorted_by_operator`: an export sorted by site code, its operators interleaved, is ordered
    without sorting its ids, as the sort orders it (equal ids of one operator in their rows' order); where an
    operator's rows are out of order, an id is missing, or an id equals another operator's (a "-" in a name),
    it gives way to the sort (None)."""
    from analysis.clean.parse import factorize_text
    from analysis.clean.stations import _order_if_sorted_by_operator

    def order(operators, ids):
        found = _order_if_sorted_by_operator(
            *factorize_text(pd.Series(operators, dtype="str")), pa.chunked_array([pa.array(ids, pa.large_string())])
        )
        return None if found is None else (found[0].tolist(), found[1].to_pylist())

    operators = ["联通", "移动", "移动", "电信", "联通", "移动", "移动"]
    ids = [f"{op}-{code}" for op, code in zip(operators, ["A1", "A0", "A2", "Z", "B", "A2", "C"])]
    got = order(operators, ids)
    assert got is not None and got[0] == _sorted_by_pyarrow(ids) == [3, 1, 2, 5, 6, 0, 4]
    assert got[1] == sorted(ids)
    # one operator's rows out of order: the sort's
    assert order(["移动", "移动"], ["移动-B", "移动-A"]) is None
    assert order(["移动", None], ["移动-B", None]) is None
    # "A-" + "B-1" and "A-B-" + "1": one id of two operators, whose rows the sort keeps in their order
    assert order(["A-B", "A"], ["A-B-1", "A-B-1"]) is None
    # the ids of a position (no site code) sort among their operator's codes as texts do
    assert order(["移动", "移动"], ["移动-@87.10000,45.10000", "移动-A1"]) is not None


@pytest.mark.parametrize("seed", range(20))
def test_ids_ordered_by_operator_agree_with_the_sort(seed):
    """Random ids of a few operators, in order within each operator or not: where `_order_if_sorted_by_operator`
    gives an order, it is the sort's."""
    from analysis.clean.parse import factorize_text
    from analysis.clean.stations import _order_if_sorted_by_operator

    rng = np.random.default_rng(seed)
    names = ["移动", "联通", "电信", "A", "A-", "CBN"]
    n = int(rng.integers(2, 60))
    operators = rng.choice(names[: int(rng.integers(1, len(names) + 1))], n).tolist()
    codes = rng.choice(["", "0", "00", "1", "-1", "A", "a", "@", "é", "9"], n).tolist()
    ids = [f"{op}-{code}" for op, code in zip(operators, codes)]
    if rng.random() < 0.7:  # each operator's rows in id order (their places among the others kept)
        for op in set(operators):
            at = [i for i, o in enumerate(operators) if o == op]
            for i, value in zip(at, sorted(ids[i] for i in at)):
                ids[i] = value
    found = _order_if_sorted_by_operator(
        *factorize_text(pd.Series(operators, dtype="str")), pa.chunked_array([pa.array(ids)])
    )
    if len(set(operators)) == 1 and len(set(ids)) == n and ids == sorted(ids):
        assert found is not None  # (one operator's distinct ids in order: no sort needed)
    if found is not None:
        assert found[0].tolist() == _sorted_by_pyarrow(ids)
        assert found[1].to_pylist() == [ids[i] for i in found[0]]


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the two keys group the rows alike (-1, no key, in the same rows)."""
    if ((a < 0) != (b < 0)).any():
        return False
    keyed = a >= 0
    return len(set(zip(a[keyed], b[keyed]))) == len(set(a[keyed])) == len(set(b[keyed]))


def test_code_key_read_from_the_ids_in_order_groups_as_the_codes_do():
    """`_code_key_of_ids`: the rows of one operator and site code share a key, read from every row's station id
    in order (`_ids_in_order`), as `dedupe._code_key` groups them: a code of two operators is two keys, a row
    without a code none (its position's id "移动-@…" beside a code "@…" is no code's), equal codes of one
    operator one key. Where an operator's name holds a "-", or a row with a code has no operator, the ids do not
    tell codes apart (`_ids_tell_codes_apart`): the codes are grouped as before."""
    from analysis.clean.dedupe import _code_key
    from analysis.clean.stations import _code_key_of_ids, _ids_in_order, _ids_tell_codes_apart

    rec = _parsed_ids_frame(
        ["移动", "联通", "移动", "移动", "联通", "移动", "移动", "电信"],
        ["A1", "A1", None, "@87.30000,45.30000", "B", "A1", "C", "A1"],
        [87.1, 87.2, 87.3, 87.4, 87.5, 87.6, 87.7, 87.8],
        [45.1, 45.2, 45.3, 45.4, 45.5, 45.6, 45.7, 45.8],
        range(10, 18),
    )
    assert _ids_tell_codes_apart(rec["operator"], rec["site_code"])
    coded = rec["site_code"].notna().to_numpy()
    key = _code_key_of_ids(coded, *_ids_in_order(rec))
    assert _same_partition(key, _code_key(rec))
    assert key[2] == -1 and key[0] == key[5] and len({key[0], key[1], key[7]}) == 3 and key[3] != key[2]
    # operators whose names hold a "-", or a coded row without one: not read from the ids
    assert not _ids_tell_codes_apart(pd.Series(["A-B", "A"], dtype="str"), pd.Series(["1", "B-1"], dtype="str"))
    assert not _ids_tell_codes_apart(pd.Series(["A", None], dtype="str"), pd.Series(["1", "1"], dtype="str"))
    assert _ids_tell_codes_apart(pd.Series(["A", None], dtype="str"), pd.Series(["1", None], dtype="str"))


@pytest.mark.parametrize("seed", range(15))
def test_code_key_read_from_the_ids_agrees_with_the_codes_grouped(seed):
    """Random operators, codes (some missing, some equal, in order or not): the key read from the ids groups
    the rows as `dedupe._code_key` does."""
    from analysis.clean.dedupe import _code_key
    from analysis.clean.stations import _code_key_of_ids, _ids_in_order

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    operators = rng.choice(["移动", "联通", "电信", "CBN"], n).tolist()
    codes = [None if rng.random() < 0.2 else str(c) for c in rng.integers(0, 12, n)]
    if rng.random() < 0.5:
        codes = sorted(codes, key=lambda c: (c is None, c or ""))
    rec = _parsed_ids_frame(operators, codes, rng.uniform(80, 90, n), rng.uniform(40, 45, n), range(n))
    key = _code_key_of_ids(rec["site_code"].notna().to_numpy(), *_ids_in_order(rec))
    assert _same_partition(key, _code_key(rec))
