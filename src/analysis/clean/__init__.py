"""Cleaning: raw operator, tower-company and OpenCelliD files in, one row per physical station out.

`sources` reads files (format, encoding, header), `parse` turns their texts into values,
`stations` builds and writes the stations, `dedupe` decides which records are one station (radii in
metres on the ground), `ledger` accounts for every raw row (kept, merged, quarantined), and
`partitioned` cleans an OpenCelliD export too large for memory in gNB partitions on Dask.
"""

from analysis.clean.stations import (
    MNC_OPERATOR,
    CleanResult,
    clean_stations,
    clean_tables,
    clean_to_folder,
    parse_gnb_id_bits,
    read_stations,
    write_stations,
)

__all__ = [
    "MNC_OPERATOR",
    "CleanResult",
    "clean_stations",
    "clean_tables",
    "clean_to_folder",
    "parse_gnb_id_bits",
    "read_stations",
    "write_stations",
]
