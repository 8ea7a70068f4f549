"""The ledger: rows in == kept + merged + quarantined is checked by a typed error (also under
`python -O`), and quarantine.csv leads with the schema's columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.clean.ledger import check_ledger
from analysis.errors import AnalysisError, LedgerError
from analysis.schemas import QUARANTINE_COLUMNS


def _summary(**kw):
    return {"rows_in": 10, "rows_kept": 4, "rows_merged": 3, "rows_quarantined": 3, "stations": 4, **kw}


def test_a_balanced_ledger_passes():
    check_ledger(_summary())


@pytest.mark.parametrize(
    "change, words",
    [
        ({"rows_in": 11}, "rows in 11 != kept + merged + quarantined 10"),
        ({"stations": 5}, "4 rows kept but 5 stations"),
    ],
)
def test_a_lost_row_or_a_station_without_its_row_raises_a_typed_error(change, words):
    with pytest.raises(LedgerError, match=re.escape(words)) as info:
        check_ledger(_summary(**change))
    assert isinstance(info.value, AnalysisError)


def test_no_invariant_of_the_cleaner_is_an_assert():
    """`python -O` strips asserts: the cleaner's checks must be raised errors."""
    import ast

    import analysis.clean as package

    folder = Path(package.__file__).parent
    # (partitioned.py is another stage owner's: its own check is theirs to convert)
    owned = [p for p in sorted(folder.glob("*.py")) if p.name != "partitioned.py"]
    asserts = [
        f"{p.name}:{node.lineno}"
        for p in owned
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert asserts == []


def test_quarantine_csv_leads_with_the_schema_columns(tmp_path):
    from analysis.clean.stations import clean_to_folder

    (tmp_path / "s.csv").write_text(
        "基站名称,运营商,经度,纬度,开通时间\n站一,移动,84.88,45.58,2020-06-01\n"
        "站一,移动,84.88,45.58,2020-06-01\n,移动,84.9,45.6,\n",
        encoding="utf-8",
    )
    clean_to_folder([tmp_path / "s.csv"], "karamay", tmp_path / "out", as_of="2021-03-22")
    header = (tmp_path / "out" / "quarantine.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert tuple(header[: len(QUARANTINE_COLUMNS)]) == QUARANTINE_COLUMNS
    assert "read_note" not in header and "read_problem" not in header


def test_table_csv_written_as_pandas_writes_it(tmp_path):
    """`write_table_csv` (pyarrow) writes the bytes `files.write_csv` (pandas) writes: quotes only where
    the csv writer puts them, floats as numpy prints them (-0.0, 1e+16, 123.0), ISO dates, blanks for
    missing values; a table of another kind goes to pandas."""
    import numpy as np
    import pandas as pd

    from analysis.clean.ledger import write_table_csv
    from analysis.files import write_csv

    texts = ["x,y", 'q"', "", None, "a\nb", "c\rd", " s", "站"]
    frame = pd.DataFrame(
        {
            "station_id": pd.array(texts, dtype="str"),
            "as_objects": pd.Series(texts, dtype=object),
            "in_reports": [True, False] * 4,
            "cells": np.arange(8, dtype="int64") - 3,
            "distance_m": [1e16, 0.1, 123.0, np.nan, 1e-5, 12345.6, -0.0, 0.0],
            "on_air_date": pd.to_datetime(
                ["2020-01-01", None, "2021-03-04", "2020-01-01", None, "1999-12-31", None, None]
            ),
        }
    )
    cases = {"mixed": frame, "empty": frame.iloc[:0], "numbers": frame[["cells", "distance_m"]]}
    cases["other"] = frame.assign(cells=frame["cells"].astype("Int64"))  # (a nullable column: pandas writes it)
    # a quarantine's columns: all missing (None or NaN), Python integers with a gap, other objects (pandas)
    cases["objects"] = frame.assign(
        lacking=pd.Series([None] * 4 + [np.nan] * 4, dtype=object),
        source_row=pd.Series([38, None, -5, 2**40, 7, np.nan, 0, 1], dtype=object),
    )
    cases["mixed objects"] = cases["objects"].assign(lacking=pd.Series([None, 1.5, "a", 2, None, None, None, None]))
    cases["huge integers"] = cases["objects"].assign(source_row=pd.Series([2**70] * 8, dtype=object))
    # texts without a character to quote (seen from the column's bytes, no cell looked at), and rows taken
    # from the end of columns whose first cells need quotes (the bytes looked at are the rows' own)
    plain = pd.array(["CMCC-S1", "站", "", None, "x y", "z", "CBN-@1.5", "T1"], dtype="str")
    cases["plain"] = frame.assign(station_id=plain, as_objects=pd.Series(list(plain), dtype=object))
    cases["tail without quotes"] = frame.iloc[6:]
    cases["tail with a line break"] = frame.iloc[4:]
    for name, table in cases.items():
        write_table_csv(table, tmp_path / f"{name}.csv")
        write_csv(table, tmp_path / f"{name}_pandas.csv")
        assert (tmp_path / f"{name}.csv").read_bytes() == (tmp_path / f"{name}_pandas.csv").read_bytes(), name
