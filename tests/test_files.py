"""files.write_csv, the package's one CSV writer: the bytes of pandas' `to_csv` (and of the csv module
for the texts it quotes) on awkward tables, whether pyarrow or pandas formats them; with and without a BOM."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.files import write_csv


def _pandas_bytes(frame: pd.DataFrame, bom: bool = True) -> bytes:
    """The reference: pandas' own writer with the options write_csv promises."""
    buffer = io.BytesIO()
    frame.to_csv(
        buffer, index=False, encoding="utf-8-sig" if bom else "utf-8", date_format="%Y-%m-%d", lineterminator="\n"
    )
    return buffer.getvalue()


def _written_by_arrow(frame: pd.DataFrame, path, bom: bool = True) -> bytes:
    """write_csv's bytes, with pandas' writer made to fail: the table must have been formatted by pyarrow."""

    def refuse(*args, **kwargs):
        raise AssertionError("written by pandas, not by pyarrow")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_csv", refuse)
        write_csv(frame, path, bom=bom)
    return path.read_bytes()


TEXTS = ["x,y", 'q"', "", None, "a\nb", "c\rd", " s ", "站", "007", "1e5", "2021-03-22", "\r\n", '""']


def _mixed_frame() -> pd.DataFrame:
    n = len(TEXTS)
    return pd.DataFrame(
        {
            "station_id": pd.array(TEXTS, dtype="str"),
            "as_objects": pd.Series(TEXTS[::-1], dtype=object),
            "python_text": pd.array(TEXTS, dtype=pd.StringDtype("python")),
            "in_reports": [True, False] * (n // 2) + [True],
            "cells": np.arange(n, dtype="int64") - 3,
            "distance_m": [1e16, 0.1, 123.0, np.nan, 1e-5, 12345.6, -0.0, 0.0, np.inf, -np.inf, 2.5, 1 / 3, 7.0],
            "share": np.array([0.1, np.nan, 3.0, 1e20, -2.5, 0.3, 1.0, 2.0, 5.5, 6.0, 7.25, 8.0, 9.0], dtype="float32"),
            "on_air_date": pd.to_datetime(
                ["2020-01-01", None, "2021-03-04T13:45", "2020-01-01", None, "1999-12-31", None, None]
                + ["2025-06-30"] * 5,
                format="ISO8601",
            ),
            "source_row": pd.Series([38, None, -5, 2**40, 7, np.nan, 0, 1, 2, 3, 4, 5, 6], dtype=object),
            "lacking": pd.Series([None] * 6 + [np.nan] * 7, dtype=object),
        }
    )


def test_awkward_tables_are_written_by_pyarrow_with_the_bytes_of_pandas(tmp_path):
    """Quotes only where the csv writer puts them, floats as numpy prints them (-0.0, 1e+16, a float32's
    0.1), ISO dates (a time of day dropped), blanks for missing values, Python integers as str() writes
    them; rows taken from the end of columns whose first cells need quotes; no rows; without a BOM."""
    frame = _mixed_frame()
    plain = pd.array(["CMCC-S1", "站", "", None, "x y", "z", "CBN-@1.5", "T1"] + ["p"] * 5, dtype="str")
    cases = {
        "mixed": frame,
        "no rows": frame.iloc[:0],
        "numbers": frame[["cells", "distance_m"]],
        "plain texts": frame.assign(station_id=plain, as_objects=pd.Series(list(plain), dtype=object)),
        "tail without quotes": frame.iloc[6:8],
        "tail with a line break": frame.iloc[4:],
        "header to quote": frame.rename(columns={"cells": "a,b", "share": 'say "hi"'}),
        "huge integers": frame.assign(source_row=pd.Series([2**70, None] * 6 + [-(2**90)], dtype=object)),
        "duplicate names": pd.concat([frame[["station_id", "cells"]], frame[["station_id"]]], axis=1),
    }
    for name, table in cases.items():
        for bom in (True, False):
            written = _written_by_arrow(table, tmp_path / f"{name}.csv", bom=bom)
            assert written == _pandas_bytes(table, bom=bom), (name, bom)
    data = (tmp_path / "mixed.csv").read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")  # (the last written: bom=False)
    assert b'"x,y"' in data and b'"q"""' in data and b"c\rd" in data  # CR left bare, as Python 3.11's csv


def test_a_table_longer_than_a_block_is_written_whole(tmp_path, monkeypatch):
    """Blocks of rows (a quarter of a million in use; 4 here) join into the same bytes: a float's distinct
    values and the quotes of a text are per block, the lines are not."""
    from analysis import files

    monkeypatch.setattr(files, "_CSV_ROWS", 4)
    frame = _mixed_frame()
    assert _written_by_arrow(frame, tmp_path / "t.csv") == _pandas_bytes(frame)


def test_rows_without_a_cell_to_quote_are_put_in_lines_by_pyarrows_csv_writer(tmp_path, monkeypatch):
    """A block of rows no cell of which holds a quote, comma or line break is written by pyarrow's CSV writer
    (its cells as they are: pandas' bytes); a block with one is joined as before (the writer would refuse it)."""
    import pyarrow.csv as pa_csv

    written, writer = [], pa_csv.write_csv

    def write_and_count(table, *args, **kwargs):
        written.append(len(table))
        writer(table, *args, **kwargs)

    monkeypatch.setattr(pa_csv, "write_csv", write_and_count)
    frame = _mixed_frame()
    plain = frame.iloc[6:8].assign(station_id=["a", "站"], as_objects=["b", None], python_text=["", "c"])
    assert _written_by_arrow(plain, tmp_path / "plain.csv") == _pandas_bytes(plain) and written == [2]
    assert _written_by_arrow(frame, tmp_path / "mixed.csv") == _pandas_bytes(frame) and written == [2]


def test_other_tables_are_written_by_pandas_with_the_same_options(tmp_path):
    """A nullable integer, a category, mixed objects, huge integers, one column (whose empty field the
    csv module quotes), names that are not texts: pandas' own bytes."""
    frame = _mixed_frame()
    cases = {
        "nullable": frame.assign(cells=frame["cells"].astype("Int64")),
        "category": frame.assign(station_id=frame["station_id"].astype("category")),
        "mixed objects": frame.assign(lacking=pd.Series([None, 1.5, "a", 2] + [None] * 9)),
        "one column": frame[["station_id"]],
        "numbered columns": pd.DataFrame({0: ["a", None], 1: [1, 2]}),
        "half and long floats": frame.assign(
            distance_m=np.arange(13, dtype="float16") / 3, share=frame["share"].astype("longdouble")
        ),
        "times": frame.assign(cells=pd.to_timedelta(frame["cells"], unit="D")),
        "no columns": pd.DataFrame(index=range(3)),
    }
    for name, table in cases.items():
        for bom in (True, False):
            write_csv(table, tmp_path / f"{name}.csv", bom=bom)
            assert (tmp_path / f"{name}.csv").read_bytes() == _pandas_bytes(table, bom=bom), (name, bom)
    assert b'\n""\n""\n' in (tmp_path / "one column.csv").read_bytes()  # the empty text, the missing one


# --- property tests: random tables of every column kind the pyarrow path formats --------------------------------

#: Characters that make a text awkward in a CSV, with plain ones.
_ALPHABET = st.sampled_from(list(',"\n\r \t;a Z0.9-e+中é') + ["站"])
_TEXT = st.text(_ALPHABET, max_size=6)


def _column(kind: str, n: int):
    """A strategy of one column of `kind` with `n` rows."""
    texts = st.lists(st.one_of(st.none(), _TEXT), min_size=n, max_size=n)
    floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-0.0, 0.1, 1e16, 1e-5, 3.0]))
    dates = st.one_of(
        st.none(), st.datetimes(min_value=pd.Timestamp("1900-01-01"), max_value=pd.Timestamp("2200-01-01"))
    )
    builders = {
        "str": texts.map(lambda v: pd.array(v, dtype="str")),
        "python str": texts.map(lambda v: pd.array(v, dtype=pd.StringDtype("python"))),
        "object text": texts.map(lambda v: pd.Series(v, dtype=object)),
        "object int": st.lists(st.one_of(st.none(), st.integers(-(2**80), 2**80)), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype=object)
        ),
        "all missing": st.just(pd.Series([None] * n, dtype=object)),
        "bool": st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=bool)),
        "int64": st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(
            lambda v: np.array(v, dtype="int64")
        ),
        "uint8": st.lists(st.integers(0, 255), min_size=n, max_size=n).map(lambda v: np.array(v, dtype="uint8")),
        "float64": st.lists(floats, min_size=n, max_size=n).map(lambda v: np.array(v, dtype="float64")),
        "float32": st.lists(st.floats(width=32), min_size=n, max_size=n).map(lambda v: np.array(v, dtype="float32")),
        "date": st.lists(dates, min_size=n, max_size=n).map(lambda v: pd.to_datetime(pd.Series(v, dtype=object))),
    }
    return builders[kind]


_KINDS = ["str", "python str", "object text", "object int", "all missing", "bool", "int64", "uint8"]
_KINDS += ["float64", "float32", "date"]


@st.composite
def _tables(draw, kinds=tuple(_KINDS)):
    n = draw(st.integers(0, 12))
    names = draw(st.lists(_TEXT, min_size=2, max_size=5, unique=True))
    return pd.DataFrame({name: draw(_column(draw(st.sampled_from(kinds)), n)) for name in names})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=_tables(), bom=st.booleans())
def test_random_tables_have_the_bytes_of_pandas(tmp_path, table, bom):
    assert _written_by_arrow(table, tmp_path / "t.csv", bom=bom) == _pandas_bytes(table, bom=bom)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=_tables(kinds=("str", "object text", "all missing")))
def test_random_texts_have_the_bytes_of_the_csv_module(tmp_path, table):
    """Texts as the csv module writes them (pandas' dialect), missing values as empty fields."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(list(table.columns))
    writer.writerows([[None if pd.isna(v) else v for v in row] for row in table.itertuples(index=False)])
    assert _written_by_arrow(table, tmp_path / "t.csv") == b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


HOSTILE = ['=HYPERLINK("http://evil","click")', "=cmd|' /C calc'!A0", "@SUM(A1)", "+城区", "-2+3", "\t=1+1"]


def test_tables_beside_the_pages_defuse_what_a_spreadsheet_would_run(tmp_path):
    """A sender's formula reached the CSVs a reviewer opens in Excel; numbers, a lone dash and other texts stay."""
    from analysis.files import defuse_formula

    plain = ["-12.5", "-", "城区 =1", "-3,643", "+12.5 %", "-20 m"]  # (numbers as the pages write them stay)
    frame = pd.DataFrame({"name": [*HOSTILE, *plain], "n": range(len(HOSTILE) + len(plain))})
    write_csv(frame, tmp_path / "people.csv", defuse=True)
    read = pd.read_csv(tmp_path / "people.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert read["name"].tolist() == ["'" + h for h in HOSTILE] + plain
    assert [defuse_formula(h) for h in HOSTILE] == read["name"].tolist()[:6]
    write_csv(frame, tmp_path / "data.csv")  # (a stage's output: as the data say)
    assert pd.read_csv(tmp_path / "data.csv", encoding="utf-8-sig", dtype=str)["name"].tolist()[:6] == HOSTILE


def test_a_file_copied_beside_a_page_keeps_its_bytes_unless_a_cell_would_run(tmp_path):
    from analysis.files import copy_defused_csv

    plain = tmp_path / "plain.csv"
    plain.write_bytes('\ufeffsite_id,name,lon\nS1,"天门山, 索道",110.48\nS2,-,-1.5\n'.encode())
    copy_defused_csv(plain, tmp_path / "plain_copy.csv")
    assert (tmp_path / "plain_copy.csv").read_bytes() == plain.read_bytes()
    hostile = tmp_path / "hostile.csv"
    hostile.write_bytes('\ufeffsite_id,name\nS1,"=HYPERLINK(""http://evil"")"\nS2,@x\n'.encode())
    copy_defused_csv(hostile, tmp_path / "hostile_copy.csv")
    copied = (tmp_path / "hostile_copy.csv").read_bytes()
    assert copied.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(copied.decode("utf-8-sig"))))
    assert rows == [["site_id", "name"], ["S1", '\'=HYPERLINK("http://evil")'], ["S2", "'@x"]]


def test_a_gbk_file_copied_beside_a_page_is_defused_in_its_own_encoding(tmp_path):
    """Chinese Excel saves sites.csv in GBK, and opens it so: a formula there was copied live."""
    from analysis.files import copy_defused_csv

    source = tmp_path / "sites.csv"
    source.write_bytes("site_id,name_zh,name_en\nS1,天门山,=HYPERLINK(1)\n".encode("gbk"))
    copy_defused_csv(source, tmp_path / "copy.csv")
    assert (tmp_path / "copy.csv").read_bytes().decode("gbk").splitlines()[1] == "S1,天门山,'=HYPERLINK(1)"


def test_direction_controls_are_dropped_from_pages_as_characters_and_as_json_escapes():
    from analysis.files import drop_direction_controls

    assert drop_direction_controls('名\u202e字 {"n": "a\\u202Eb\\u2067c"} \\u2060') == '名字 {"n": "abc"} \\u2060'


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(max_size=6), st.sampled_from(HOSTILE + ["-5", "-", "+"]))))
def test_texts_are_defused_alike_as_arrow_strings_and_python_objects(texts):
    """The quarantine's cells are found on Arrow strings by their first byte: the same cells, defused the same,
    as `defuse_formula` cell by cell; a column with none to defuse is returned as it is."""
    from analysis.files import defuse_formula, defuse_texts

    expected = [None if t is None else defuse_formula(t) for t in texts]
    for dtype in ("str", object):
        values = pd.Series(texts, dtype=dtype)
        out = defuse_texts(values)
        assert [None if pd.isna(v) else v for v in out] == expected
        assert (out is values) == (expected == texts)
        if len(texts) > 1:  # (a slice: its Arrow array begins at an offset)
            assert [None if pd.isna(v) else v for v in defuse_texts(values.iloc[1:])] == expected[1:]
