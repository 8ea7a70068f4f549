"""The ledger: rows in == kept + merged + quarantined is checked by a typed error (also under
`python -O`), and quarantine.csv leads with the schema's columns."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.clean.ledger import cell_site_positions, check_ledger
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
    owned = sorted(folder.glob("*.py"))
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


def test_cell_site_positions_find_each_cells_site_among_any_selection_of_sites():
    """A cell row's site among a selection of the sites (in another order, some left out), by the sites'
    numbers: -1 where its site is left out or it has none."""
    cell_rec = pd.DataFrame({"site": [0, 2, -1, 1, 2, 3]})
    chosen = pd.DataFrame({"site_number": [2, 0]}, index=["460-0-9", "460-0-1"])
    assert cell_site_positions(cell_rec, chosen).tolist() == [1, 0, -1, -1, 0, -1]
    assert cell_site_positions(cell_rec, chosen.iloc[:0]).tolist() == [-1] * 6
