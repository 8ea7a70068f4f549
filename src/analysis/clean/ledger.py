"""The ledger of every raw row: kept, merged (into which station, why) or quarantined (why),
the quarantine table and summary written from it, the source ledger of each station, and the
check that rows in == kept + merged + quarantined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis import __version__
from analysis.clean import parse
from analysis.errors import LedgerError
from analysis.files import defuse_texts
from analysis.files import write_csv as write_table_csv  # noqa: F401  (the name stations.py imports)
from analysis.schemas import QUARANTINE_COLUMNS

#: Sources of one station further apart than this are flagged in source_matches.csv.
DISAGREE_RADIUS_M = 200.0

#: Why a row was quarantined, in the order the checks run (the first that applies is recorded).
QUARANTINE_REASONS = {
    "unreadable_line": "the line cannot be split into the header's columns (a quote left open, too many fields)",
    "blank_row": "the row is empty",
    "no_identity": "no site code and no name: the record cannot be told apart from others",
    "missing_coordinates": "longitude or latitude is missing",
    "unparseable_coordinates": "longitude or latitude cannot be read as a number or as degrees-minutes-seconds",
    "zero_coordinates": "longitude or latitude is 0",
    "unknown_crs": "the coordinate system named in the row is not WGS-84, GCJ-02 or BD-09",
    "outside_city": "the point lies outside every district of the city (also with latitude and longitude swapped)",
    "unparseable_on_air_date": "the on-air date cannot be read as a date",
    "future_on_air_date": "the on-air date is after the date the records were cleaned as of (their extract)",
    "on_air_date_before_2019": "the on-air date is before 2019, before any 5G licence",
    "on_air_without_date": "the status says on air but no on-air date is given",
    "site_code_conflict": "the same operator reports this site code at a place more than 50 m from the kept record",
    "not_nr": "an OpenCelliD cell of another radio (GSM, UMTS, LTE, CDMA): not a 5G cell",
    "unparseable_cell_id": "the OpenCelliD cell identity (NCI) or network code is not a number",
}
#: Reasons added after the first summaries were written: their meanings are listed in a summary where a row
#: has one (so that the summary of inputs without such rows stays as it was).
LATER_QUARANTINE_REASONS = {
    "cancelled": "the status says the planned site was cancelled (已取消): no station, no site of the pipeline",
    "not_a_record": "a line under the table that is no record (合计 totals, 备注 notes, 制表人 who made it)",
    "other_city": "a row of another city (a province-wide file's 地市 column) without coordinates",
    "invalid_cell_id": (
        "the OpenCelliD NR cell's identity is a number but no NR Cell Identity: not a whole number below 2^36 "
        "(36 bits, 3GPP TS 38.413; a gNB ID is its leading 22 to 32 bits), or its MCC or MNC not a whole number "
        "of up to three digits"
    ),
    "other_country_network": (
        "an OpenCelliD cell of another country's network: its MCC is not China's (460, or 461 held in reserve): "
        "no Chinese operator's station, not counted in the city (an MNC of 460 not in the E.212 list is kept, "
        "operator unknown)"
    ),
}
#: Why a row was merged into another.
MERGE_REASONS = {
    "exact_duplicate": "the same record repeated",
    "same_site_code": "the same operator and site code within 50 m",
    "co_located": "the same operator within 50 m, without a site code",
    "cell_of_same_gnb": "another NR cell of the same gNB (OpenCelliD)",
    "cells_of_one_station": "another cell of the same station: the rows differ only in the cell (name, id, sector)",
    "same_station_other_source": (
        "the same operator's station seen in another source (OpenCelliD): its gNB ID within 5 km, else within 500 m"
    ),
    "same_station_other_sender": (
        "the same operator's station in another sender's report within 50 m (codes of different senders, "
        "a tower company's 站址编码, an operator's site code or gNB ID, never compare equal)"
    ),
}


#: What a merge across senders from a tracker's planned position means (farther than the 50 m of its reason's
#: meaning): its detail begins so instead, the distance found after it.
PLANNED_POSITION_JOIN = (
    "the same operator's station in another sender's report, one record at its planned position (规划经度/规划纬度) "
    "up to 300 m off, both on air the same day and no other station or record there to pair with"
)
#: How `dedupe`'s detail of such a merge ends (the record at its planned position named): written there with this
#: constant, found here by it.
PLANNED_POSITION_MARK = " at its planned position)"


def fate_operator_rows(
    rec: pd.DataFrame, dd: pd.DataFrame, conflict_anchor: pd.Series, head_ids: pd.Series
) -> pd.DataFrame:
    """Per operator-report row: fate (kept, merged, quarantined), reason, detail, merged_into."""
    op_fate = pd.DataFrame(index=rec.index)
    op_fate["reason"] = rec["reason"]
    op_fate["detail"] = rec["detail"]
    op_fate["merged_into"] = None
    # each head row's station id found by its row position (a hash table of a national file's heads, to
    # look up a few thousand anchors, cost ~0.1 KB a row)
    station_of_row = np.full(len(rec) + 1, -1, dtype=np.int64)  # (the last: a label not found)
    station_of_row[rec.index.get_indexer(head_ids.index)] = np.arange(len(head_ids))
    # (the ids stay Arrow strings: only those of the anchors looked up become Python strings, not a
    # national file's every id, ~0.6 s and ~0.25 GB)
    ids = pa.chunked_array(pa.array(head_ids.astype("str").array))

    def id_of(anchors: pd.Series) -> np.ndarray:  # (NaN for a label that heads no station, as a reindex)
        at = station_of_row[rec.index.get_indexer(anchors)]
        out = np.full(len(at), np.nan, dtype=object)
        found = np.flatnonzero(at >= 0)
        taken = ids.take(pa.array(at[found])).to_numpy(zero_copy_only=False)
        out[found] = np.where(pd.isna(taken), np.nan, taken)
        return out

    merged_rows = dd.index[dd["merge_reason"].notna()]
    op_fate.loc[merged_rows, "reason"] = dd.loc[merged_rows, "merge_reason"]
    op_fate.loc[merged_rows, "merged_into"] = id_of(dd.loc[merged_rows, "anchor"])
    op_fate.loc[merged_rows, "detail"] = dd.loc[merged_rows, "merge_reason"].map(MERGE_REASONS)
    # what a merge across senders found (the codes, the distance, the dates) after the reason's meaning
    said = rec.loc[merged_rows, "detail"].dropna()
    if len(said):
        meaning = op_fate.loc[said.index, "detail"].astype(object)
        meaning = meaning.where(~said.str.endswith(PLANNED_POSITION_MARK), PLANNED_POSITION_JOIN)
        op_fate.loc[said.index, "detail"] = meaning + ": " + said
    op_fate.loc[conflict_anchor.index, "detail"] = (
        op_fate.loc[conflict_anchor.index, "detail"] + " " + id_of(conflict_anchor)
    )
    op_fate["fate"] = parse.texts_by_code(("kept", "quarantined"), op_fate["reason"].notna().to_numpy(), op_fate.index)
    op_fate.loc[merged_rows, "fate"] = "merged"
    return op_fate


def cell_site_positions(cell_rec: pd.DataFrame, sites: pd.DataFrame) -> np.ndarray:
    """Per OpenCelliD row, the position among `sites` (any selection of the sites `_opencellid_sites` made, in
    any order, each with its "site_number") of the row's site (`cell_rec["site"]`), -1 where its site is not
    among them or it has none: numbers looked up in an array, not the gNB keys' texts in a hash table."""
    site = cell_rec["site"].to_numpy()
    numbers = sites["site_number"].to_numpy()
    where = np.full(max(int(site.max(initial=-1)), int(numbers.max(initial=-1))) + 2, -1, dtype=np.intp)
    where[numbers] = np.arange(len(numbers))
    return where[site]  # (a site of -1 reads the last place, never a site's)


def fate_cell_rows(
    cell_rec: pd.DataFrame,
    good_sites: pd.DataFrame,
    at: np.ndarray,
    site_station: pd.Series,
    site_dist: pd.Series,
    head_ids: pd.Series,
    network_only: pd.DataFrame,
) -> pd.DataFrame:
    """Per OpenCelliD row: its fate; a cell of a matched site merges into the operator's station,
    another cell of a network-only site into the site's first cell. `at`: each row's site among
    `good_sites` (`cell_site_positions`), -1 none; `network_only`: the good sites no operator station
    took, with their station ids."""
    cell_fate = pd.DataFrame(index=cell_rec.index)
    cell_fate["reason"] = cell_rec["reason"].fillna(cell_rec["site_reason"])
    cell_fate["detail"] = cell_rec["detail"]
    cell_fate["merged_into"] = None
    cell_fate["fate"] = parse.texts_by_code(
        ("kept", "quarantined"), cell_fate["reason"].notna().to_numpy(), cell_rec.index
    )
    key = cell_rec["gnb_key"]
    # its site's values taken by position: a map per value hashed a national export's keys four times, and
    # `isin` converted every site key to Python
    in_good = pd.Series(at >= 0, index=cell_rec.index) & cell_rec["reason"].isna()

    def of_site(values: pd.Series) -> pd.Series:  # (aligned with good_sites; NaN where a row has no site)
        return parse.values_at(values, at, cell_rec.index)

    site_anchor = of_site(good_sites["anchor"])
    matched_head = of_site(site_station)
    network_at = cell_site_positions(cell_rec, network_only)
    # (a station's id looked up only where a cell matched one: the map hashes every station's head, ~0.25 s of a
    # national operator file, where an operator-only file has no cell at all)
    found = matched_head.map(head_ids) if matched_head.notna().any() else pd.Series(np.nan, index=matched_head.index)
    target_id = found.astype(object).fillna(parse.values_at(network_only["station_id"], network_at, cell_rec.index))
    is_anchor = in_good & (site_anchor == cell_rec.index.to_series())
    to_station = in_good & matched_head.notna()
    other_cell = in_good & ~is_anchor & matched_head.isna()
    cell_fate.loc[to_station, ["fate", "reason"]] = ["merged", "same_station_other_source"]
    cell_fate.loc[other_cell, ["fate", "reason"]] = ["merged", "cell_of_same_gnb"]
    cell_fate.loc[in_good & ~is_anchor | to_station, "merged_into"] = target_id
    # (each detail made for its rows only, not for every row of a national export and then picked)
    distance = parse.values_at(site_dist, at[to_station.to_numpy()], key.index[to_station.to_numpy()])
    cell_fate.loc[to_station, "detail"] = (
        "gNB " + key[to_station] + ", " + distance.round(0).astype(str) + " m from the operator's record"
    )
    cell_fate.loc[other_cell, "detail"] = "gNB " + key[other_cell]
    # a line repeated word for word: merged where its first line went, said so
    repeat = in_good & cell_rec["repeat_of"].notna()
    if repeat.any():
        cell_fate.loc[repeat, "reason"] = "exact_duplicate"
        cell_fate.loc[repeat, "detail"] = (
            "gNB " + key[repeat] + ", the same line as " + cell_rec.loc[repeat, "repeat_of"]
        )
    outside_cells = cell_rec["site_reason"].notna() & cell_rec["reason"].isna()
    cell_fate.loc[outside_cells, "detail"] = "gNB " + key[outside_cells] + " (site-level check)"
    return cell_fate


#: Fields of the raw rows shown in the quarantine only where a row in it fills them: a field newer than most
#: files (a 退网 list's date) leaves the quarantine of the files that lack it as it was.
_SHOWN_WHEN_FILLED = ("city", "off_air_date")


def build_quarantine(
    raw: pd.DataFrame, op_fate: pd.DataFrame, cells: pd.DataFrame, cell_fate: pd.DataFrame
) -> pd.DataFrame:
    """Every row not kept, with its original values after the ledger columns, in file and row order.
    `raw` may hold only those rows of the operator reports (`select_unkept_rows`)."""
    # only the rows that leave a trace in the quarantine: joining every raw row copies the whole file
    cells = cells.drop(columns=["read_note", "read_problem"], errors="ignore")
    op_out = select_unkept_rows(raw, op_fate).join(op_fate)
    cell_out = _as_shown_text(cells[(cell_fate["fate"] != "kept").to_numpy()]).join(cell_fate)
    quarantine = pd.concat([op_out[op_out["fate"] != "kept"], cell_out[cell_out["fate"] != "kept"]], ignore_index=True)
    lead = list(QUARANTINE_COLUMNS)
    empty = [c for c in _SHOWN_WHEN_FILLED if c in quarantine.columns and quarantine[c].isna().all()]
    rest = [c for c in quarantine.columns if c not in lead and c not in empty]
    return (
        quarantine[lead + rest]
        .sort_values(["source_file", "source_sheet", "source_row"], na_position="first", kind="stable")
        .reset_index(drop=True)
    )


def select_unkept_rows(raw: pd.DataFrame, fate: pd.DataFrame) -> pd.DataFrame:
    """The raw rows the quarantine shows (merged or quarantined), their texts as pandas "str": all that must
    outlive the rest of a national file's raw text. `raw` may hold only the rows that can leave the
    stations; one that left without its row there is a bug, raised."""
    rows = fate.index[(fate["fate"] != "kept").to_numpy()]
    missing = rows.difference(raw.index)
    if len(missing):
        raise LedgerError(f"{len(missing)} rows not kept have no raw text to show (first: row {missing[0]})")
    return _as_shown_text(raw.loc[rows].drop(columns=["read_note", "read_problem"], errors="ignore"))


def _as_shown_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns (Arrow strings, as the raw rows are held; a category's texts too) as pandas "str",
    missing where empty: the quarantine's values as the source gave them (kept as Arrow strings: a
    national OpenCelliD export's ~1.2 M merged cells made Python strings, then Arrow again for the CSV,
    cost ~3 CPU s and ~1 GB); a text a spreadsheet would run as a formula (`=cmd|' /C calc'!A0` as an
    OpenCelliD radio) with an apostrophe first (`files.defuse_formula`): reviewers open quarantine.csv in
    Excel, and the report links it."""
    # (a category of texts, as the raw rows hold their file, as its texts too)
    text = [c for c in frame.columns if isinstance(frame[c].dtype, (pd.StringDtype, pd.CategoricalDtype))]
    # (found on the Arrow strings: a pass in C, not one over every Python cell)
    return frame.assign(**{c: defuse_texts(frame[c].astype("str")) for c in text})


def _counts(values: pd.Series) -> dict[str, int]:
    return {k: int(v) for k, v in values.value_counts().sort_index().items()}


def summarize(stations: pd.DataFrame, fates: pd.Series, reasons: pd.Series, context: dict) -> dict:
    """The clean summary: the ledger's counts, the stations by operator, district and status, and
    `context` (city, as_of, notes, parameters, files, failed_files) in its place; checked before returned."""
    rows = {
        "rows_in": int(len(fates)),
        "rows_kept": int((fates == "kept").sum()),
        "rows_merged": int((fates == "merged").sum()),
        "rows_quarantined": int((fates == "quarantined").sum()),
    }
    return compose_summary(
        rows, _counts(reasons[fates == "quarantined"]), _counts(reasons[fates == "merged"]), stations, context
    )


#: The summary's counts of the stations (`station_counts`).
STATION_COUNTS = ("stations", "stations_on_air", "stations_by_operator", "stations_by_district", "stations_by_status")


def station_counts(stations: pd.DataFrame) -> dict:
    """The summary's counts of a station table: how many, how many on air, how many by operator, district
    and status (each sorted by its text)."""
    return {
        "stations": int(len(stations)),
        "stations_on_air": int(stations["is_on_air"].sum()),
        "stations_by_operator": _counts(stations["operator"]),
        "stations_by_district": _counts(stations["district"]),
        "stations_by_status": _counts(stations["status"]),
    }


def compose_summary(
    rows: dict[str, int],
    quarantined_by_reason: dict,
    merged_by_reason: dict,
    stations: pd.DataFrame | dict,
    context: dict,
) -> dict:
    """The clean summary from the rows' counts (rows_in, rows_kept, rows_merged, rows_quarantined), the counts
    by reason, the stations (the table, or its `station_counts`) and `context`: one layout for the in-memory
    clean (`summarize`) and the partitioned one (which adds its partitions' counts); checked before returned."""
    counts = stations if isinstance(stations, dict) else station_counts(stations)
    summary = {
        "city": context["city"],
        "as_of": context["as_of"],
        "package_version": __version__,
        **{k: int(rows[k]) for k in ("rows_in", "rows_kept", "rows_merged", "rows_quarantined")},
        **{k: counts[k] for k in STATION_COUNTS},
        "quarantined_by_reason": quarantined_by_reason,
        "merged_by_reason": merged_by_reason,
        "notes": context["notes"],
        "parameters": context["parameters"],
        "files": context["files"],
        "failed_files": context["failed_files"],
        "reason_meanings": {
            **QUARANTINE_REASONS,
            **MERGE_REASONS,
            # (a later reason is a quarantine's: its count says whether a row has it, without a scan of every row)
            **{r: said for r, said in LATER_QUARANTINE_REASONS.items() if r in quarantined_by_reason},
        },
    }
    check_ledger(summary)
    return summary


def check_ledger(summary: dict) -> None:
    """Nothing lost: rows in == kept + merged + quarantined, and one station per kept row.
    A failure is a bug in the cleaner, raised (not asserted: `python -O` would skip it)."""
    accounted = summary["rows_kept"] + summary["rows_merged"] + summary["rows_quarantined"]
    if summary["rows_in"] != accounted:
        raise LedgerError(f"rows in {summary['rows_in']} != kept + merged + quarantined {accounted}")
    if summary["rows_kept"] != summary["stations"]:
        raise LedgerError(
            f"{summary['rows_kept']} rows kept but {summary['stations']} stations: "
            "every station comes from exactly one kept raw row"
        )


#: The station columns the source ledger carries as they are, in its order (`build_source_ledger`).
LEDGER_CARRIED = (
    "station_id",
    "operator",
    "district",
    "status",
    "on_air_date",
    "opencellid_cells",
    "opencellid_distance_m",
)
#: Every station column `build_source_ledger` reads (a partitioned clean reads these alone back).
LEDGER_COLUMNS = [*LEDGER_CARRIED, "in_operator_reports"]


def build_source_ledger(stations: pd.DataFrame) -> pd.DataFrame:
    """One row per station: which sources show it, and whether they agree on where it is."""
    from_ops = stations["in_operator_reports"].to_numpy(dtype=bool)
    in_net = (stations["opencellid_cells"] > 0).to_numpy()
    far = (stations["opencellid_distance_m"] > DISAGREE_RADIUS_M).to_numpy()
    # a code per station, then its flag taken from the four (np.select of the texts made a fixed-width
    # string of 24 characters per station: ~0.4 GB of a national table)
    code = np.select([from_ops & in_net & far, from_ops & in_net, from_ops & ~in_net, ~from_ops], [0, 1, 2, 3], 2)
    # the station table's columns shared, not copied (copy on write keeps the table as it is)
    ledger = pd.DataFrame({c: stations[c] for c in LEDGER_CARRIED}, copy=False)
    ledger.insert(1, "in_operator_reports", from_ops)
    ledger.insert(2, "in_opencellid", in_net)
    ledger["flag"] = parse.texts_by_code(_SOURCE_FLAGS, code, ledger.index)
    ledger["opencellid_distance_m"] = ledger["opencellid_distance_m"].round(1)
    if _is_sorted_text(ledger["station_id"]):
        return ledger.reset_index(drop=True)  # (the station table is sorted by id already: no second copy)
    return ledger.sort_values("station_id").reset_index(drop=True)


#: The flags of source_matches.csv, by the code `build_source_ledger` gives each station.
_SOURCE_FLAGS = ("sources_disagree_gt_200m", "both_agree", "operator_report_only", "network_only")


def _is_sorted_text(values: pd.Series) -> bool:
    """True when no text is smaller than the one before it (compared by code point, as a sort does)."""
    array = pa.chunked_array(pa.array(values.astype("str").array))
    return len(array) < 2 or not pc.any(pc.less(array[1:], array[:-1])).as_py()
