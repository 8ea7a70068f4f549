"""De-duplication: which usable raw rows are one station, and which OpenCelliD site is which station.

Owns the radii (metres on the ground), the distance helpers they are measured with, and the rule for
records of one station sent by different senders:

- A code is a name in its sender's namespace (`sender_of_table`): the tower company's 站址编码, an
  operator's own site code, an operator's gNB ID. Codes of two namespaces never compare equal (the
  same text in two of them proves nothing), and different codes of two namespaces do not prove two
  stations either. Within one namespace a code decides: the same operator and code within 50 m is one
  station, farther a conflict; two codes are two stations even 0 m apart (several gNBs on one mast).
- Across namespaces the place decides, as it does for rows without a code: a record of one sender and
  one of another, same operator, within DUPLICATE_RADIUS_M (50 m, the radius already trusted for code-less
  rows: a tower export and an operator's survey of one mast differ by a few metres of GPS error, while
  two masts of one operator stand hundreds of metres apart) are one station, one record of each sender
  per station (pairs of agreeing on-air dates first, then the nearest): a sender that
  lists two stations there keeps two. The operator's record heads the station (gNB ID before site code
  before 站址编码: it is what the operator and OpenCelliD call the station) and its values come first.
  Each merge is said in the quarantine detail and the station's notes; a record refused because each
  record within reach is paired with another of its sender already says so in its station's notes.
- An OpenCelliD gNB site whose gNB ID equals an operator record's gNB ID (a file whose code column is a
  gNB ID), same operator, is that station up to GNB_ID_MATCH_RADIUS_M (5 km): OpenCelliD places cells where
  phones heard them, often hundreds of metres off; farther, the equal ID is refused (a typed ID or a wrong
  position) and noted. Other sites match the same operator's nearest station within MATCH_RADIUS_M.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import Geod

from analysis.clean.ledger import PLANNED_POSITION_MARK
from analysis.clean.parse import arrow_text, operator_of_context, text_bytes
from analysis.clean.sources import FIELDS
from analysis.errors import LedgerError


# scipy's KD-tree and graph (~0.4 s to import, a third of a clean's imports) imported in the functions that use
# them, not with this module: a clean imports them in a thread while pyarrow reads its files (`import_scipy`)
def import_scipy() -> None:
    """Import the scipy modules the de-duplication uses."""
    import scipy.sparse.csgraph  # noqa: F401
    import scipy.spatial  # noqa: F401


#: Two records of one operator closer than this are one station (same code, or no code).
DUPLICATE_RADIUS_M = 50.0
#: An OpenCelliD gNB site within this distance of an operator's station of the same operator is
#: that station: OpenCelliD positions are averages of where phones heard the cells.
MATCH_RADIUS_M = 500.0
#: An OpenCelliD gNB site with the gNB ID of an operator's station is that station within this distance:
#: beyond the reach of a 5G cell even in open country, an equal ID is a typing error or a wrong position.
GNB_ID_MATCH_RADIUS_M = 5_000.0

#: The namespaces of site codes, by sender (`sender_of_table`), in the order in which the records of one
#: station head it: an operator's gNB ID (what OpenCelliD cells carry), an operator's own site code, the
#: tower company's 站址编码.
SENDER_GNB_ID, SENDER_OPERATOR, SENDER_TOWER = 0, 1, 2
_SENDER_CODE_NAMES = ("gNB ID", "site code", "tower-company 站址编码")
#: A tower company's (or the task force's, 专班, which tracks the tower company's sites) file, sheet or
#: title (中国铁塔, China Tower), a header of its own (铁塔站址编码), or its tenant column (需求运营商: the
#: operator that asked for the site).
_TOWER_CONTEXT = re.compile(r"铁塔|china[\s_-]*tower|专班|task[\s_-]*force", re.IGNORECASE)
_TOWER_OPERATOR_HEADERS = ("需求运营商", "需求方", "租户", "tenant")
#: Headers of a cell's global identity whose gNB ID a cell-level export's site code is read from.
_NR_CGI_HEADERS = ("cgi", "ncgi", "nrcgi", "小区cgi")


#: The WGS-84 ellipsoid: distances are measured on it, as a geodesic would be.
_GEOD = Geod(ellps="WGS84")
_A = 6_378_137.0  # semi-major axis, m
_E2 = 6.694379990141317e-3  # first eccentricity squared


def metric_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Earth-centred x, y, z in metres (points on the WGS-84 ellipsoid).

    The straight line between two such points is the ground distance to well under a millimetre at
    the 50–500 m compared here, in every direction and at any latitude, so a KD-tree over them finds
    neighbours by true distance anywhere in a national file (a flat projection stretches one axis).
    """
    lon_r, lat_r = np.radians(np.asarray(lon, float)), np.radians(np.asarray(lat, float))
    n = _A / np.sqrt(1 - _E2 * np.sin(lat_r) ** 2)
    return np.column_stack(
        [n * np.cos(lat_r) * np.cos(lon_r), n * np.cos(lat_r) * np.sin(lon_r), n * (1 - _E2) * np.sin(lat_r)]
    )


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance on the WGS-84 ellipsoid, metres, element-wise."""
    lon1, lat1, lon2, lat2 = (np.asarray(v, float) for v in (lon1, lat1, lon2, lat2))
    if lon1.size == 0:
        return np.zeros(0)
    _, _, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, float)


def dedupe_keys(rec: pd.DataFrame, code_key: Callable[[], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per parsed row: one integer that the rows of its position share, and one that the rows of its
    operator and site code share (-1 without a code): what `rows_that_may_merge` tells from, and with
    `record_keys` all that `dedupe_rows` needs. `code_key`: gives the second where the caller has it (found
    from every row's station id in order, in a thread of its own: `analysis.clean.stations`), called once
    the positions' is made."""
    if code_key is not None:
        position_key = _position_key(rec)
        return position_key, code_key()
    # the two at once: pandas' hashing of the positions and pyarrow's of the codes release the GIL (~1 s
    # each of a national file, on two cores)
    with ThreadPoolExecutor(1) as pool:
        code_key = pool.submit(_code_key, rec)
        position_key = _position_key(rec)
        return position_key, code_key.result()


def _code_key(rec: pd.DataFrame) -> np.ndarray:
    """One integer per row that the rows of its operator and site code share; -1 without a code."""
    code_key = np.full(len(rec), -1, dtype=np.int64)
    coded = np.flatnonzero(rec["site_code"].notna().to_numpy())
    if len(coded):
        # the code first: after it nearly every row's key is its own, and the operator is encoded only for
        # the rest (grouped on integer keys: grouping on the two text columns of a national file takes seconds)
        every = len(coded) == len(rec)  # (a national file: no copy of its codes taken first)
        columns = {c: rec[c] if every else rec[c].take(coded) for c in ("site_code", "operator")}
        code_key[coded] = _row_keys(pd.DataFrame(columns, copy=False))
    return code_key


def rows_that_may_merge(position_key: np.ndarray, code_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True for every row `dedupe_rows` may merge into another or quarantine as a conflict: its position
    another row's too (an exact repeat has its position), its operator's site code another row's too, or
    without a site code (then its position decides). A national file's other rows (nearly all) are kept
    whatever happens: their raw text is not needed again. With it `code_key` of the rows whose code another
    row has (-1 for the rest): all `dedupe_rows` groups by code, where a row of a code of its own heads
    itself (of a national file's 4.25 M codes a few per cent grouped: ~0.1 s less of the main thread's)."""
    coded = code_key >= 0
    shared_code = np.zeros(len(code_key), dtype=bool)
    if coded.any():
        shared_code[coded] = _is_shared(code_key[coded])
    return _is_shared(position_key) | shared_code | ~coded, np.where(shared_code, code_key, -1)


def record_keys(texts: pd.DataFrame, rows: np.ndarray, position_key: np.ndarray) -> np.ndarray:
    """Per row (of `position_key`): one integer (0…) that exact repeats of its whole record share, -1 for a
    row outside `rows` (a record of its own: no other row repeats it). `texts`: the raw text of the rows at
    positions `rows`, which hold every row whose position another shares (a row of a position of its own is
    no other row's repeat, whatever its text): `dedupe_rows` then looks for repeats among these only (of a
    national file's 4.25 M rows ~0.1 M, where the first of each key of every row took ~0.08 s)."""
    inside = np.zeros(len(position_key), dtype=bool)
    inside[rows] = True
    if (_is_shared(position_key) & ~inside).any():
        raise LedgerError("exact repeats looked for without the text of every row sharing a position")
    key = np.full(len(position_key), -1, dtype=np.int64)
    key[rows] = _row_keys(texts[list(FIELDS)], position_key[rows])
    return key


def dedupe_rows(rec: pd.DataFrame, record_key: np.ndarray, code_key: np.ndarray) -> pd.DataFrame:
    """For the usable rows: which row each merges into (itself for kept rows), and why. `record_key`: per row
    of `rec`, see `record_keys`; `code_key`: see `dedupe_keys` (or that of `rows_that_may_merge`: the same merges).

    Returns a frame indexed like the usable rows with `anchor` (row index it belongs to),
    `merge_reason` (None for anchors) and, for rows that contradict their anchor, a
    `conflict` quarantine detail.
    """
    # (by position in `rec`, not by label: pandas' look-ups of a national file's labels hash every row)
    at = np.flatnonzero(rec["reason"].isna().to_numpy())
    alive = rec.index[at]
    # Priority: the most complete record represents the station (the newest where tables of several days were
    # read); ties go to file order.
    # (only the sort key: a copy of every parsed column costs ~0.4 KB per row of a national file)
    priority = -rec["n_fields"].to_numpy()[at].astype(np.int16)  # (a count of the fields: a few dozen at most)
    if "table_day" in rec:  # (tables of several days: the newest record of a site first, `clean._date_tables`)
        order = np.lexsort((np.arange(len(alive)), priority, -rec["table_day"].to_numpy()[at]))
    else:
        # a stable sort of the one key, ties in file order: numpy sorts 16-bit integers by radix (0.04-0.06 s
        # of 4.25 M rows, most of equal priority, where a lexsort with the row numbers took 0.11-0.14 s)
        order = np.argsort(priority, kind="stable")
    idx, at = alive[order], at[order]
    out = pd.DataFrame({"anchor": idx, "merge_reason": None, "conflict": None}, index=idx)
    where = _positions_in(out.index)  # (labels looked up by position, not by a hash table of every row)
    kept = _merge_exact_repeats(idx, record_key[at], out)
    live, at = idx[kept], at[kept]
    _merge_same_site_code(rec, live, code_key[at], out, where)
    own = out["anchor"].to_numpy()[where(live)] == live
    _merge_codeless(rec, live[own], at[own], out, where)
    return _follow_chains(out, where)


def _positions_in(index: pd.Index) -> Callable[[np.ndarray], np.ndarray]:
    """A function giving the positions in `index` (unique labels) of labels, as `.loc` finds them: by a
    look-up array when they are small non-negative integers (a national file's rows: pandas' first look-up
    hashes every label, ~0.5 s at 4.25 M), by pandas' indexer otherwise; a KeyError for a label not in it."""
    own = index.to_numpy()
    small = bool(len(own)) and own.dtype.kind in "iu" and own.min() >= 0 and own.max() < 4 * len(own)
    table = np.full(int(own.max()) + 1 if small else 0, -1, dtype=np.int64)
    if small:
        table[own] = np.arange(len(own))

    def where(labels) -> np.ndarray:
        labels = np.asarray(labels)
        inside = labels.dtype.kind in "iu" and (not len(labels) or (labels.min() >= 0 and labels.max() < len(table)))
        found = table[labels] if small and inside else index.get_indexer(labels)
        if (found < 0).any():
            raise KeyError(f"{labels[found < 0][:3].tolist()} not in the index")
        return found

    return where


def _set(out: pd.DataFrame, at: np.ndarray, column: str, values) -> None:
    """`out.loc[labels, column] = values` by the rows' positions `at`."""
    out.iloc[at, out.columns.get_loc(column)] = values


def _position_key(rec: pd.DataFrame) -> np.ndarray:
    """One integer (0…) per distinct parsed position (NaN equal to NaN, -0.0 to 0.0): rows of equal text
    share one, and floats are grouped several times faster than a national file's texts. The pair is
    grouped by sorting the coordinates' bits (`_pair_classes`): a hash table of a national file's
    positions (lon + i lat as one complex number) took ~1.5 CPU s of 4.25 M rows, the sort ~0.5 s."""
    bits = []
    for column in ("lon", "lat"):
        value = rec[column].to_numpy(dtype=np.float64) + 0.0  # (a copy, -0.0 made 0.0)
        value[np.isnan(value)] = np.nan  # one NaN of every NaN's bits
        bits.append(value.view(np.int64))
    return _pair_classes(*bits)


def _pair_classes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, an integer (0…, in the order of the sorted pairs; 32-bit below 2**31 rows) that rows share
    exactly when their `a` and their `b` (64-bit integers) are equal: one 64-bit mix of the two (equal pairs,
    equal mixes), its high bits and the row's number in the low ones sorted as plain integers (numpy's sort
    of values, ~0.26 CPU s of a national file's 4.25 M rows, where its argsort of the mixes took ~0.5 s: the
    row numbers give the order), then a sort by the pair itself of only the rows whose mix another row has
    (equal pairs and the rare collisions of the mixes cut short: 41 bits at 4.25 M rows)."""
    n = len(a)
    if not n:
        return np.zeros(0, dtype=np.int64)
    mix = a * np.int64(-7046029254386353131)  # (wraps around: any fixed mix keeps equal pairs equal)
    mix ^= b
    mix *= np.int64(-4658895280553007687)
    mix ^= mix >> 29
    row_bits = (n - 1).bit_length()
    mix >>= row_bits  # (what is left of the mix above the row numbers)
    packed = mix << row_bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    order = packed & np.int64((1 << row_bits) - 1)
    packed >>= row_bits
    tie = packed[1:] == packed[:-1]
    del packed
    new = np.ones(n, dtype=bool)  # where a class starts in the sorted order
    new[1:] = ~tie
    if tie.any():
        # the runs of one mix (contiguous in the sorted order) sorted by (mix, a, b) keep their places
        in_run = np.zeros(n, dtype=bool)
        in_run[1:] = tie
        in_run[:-1] |= tie
        at = np.flatnonzero(in_run)
        rows = order[at]
        order[at] = rows[np.lexsort((b[rows], a[rows], mix[rows]))]
        later = np.flatnonzero(tie) + 1  # a row whose mix its predecessor has: new when its pair differs
        new[later] = (a[order[later]] != a[order[later - 1]]) | (b[order[later]] != b[order[later - 1]])
    # (the class numbers in 32 bits where they fit: put in the rows' places at random, half the bytes were
    # a third of the time, ~0.03 s against ~0.1 s of 4.25 M rows)
    number = np.int32 if n < np.iinfo(np.int32).max else np.int64
    classes = np.cumsum(new, dtype=number)
    classes -= 1
    key = np.empty(n, dtype=number)
    key[order] = classes
    return key


def _merge_exact_repeats(idx: pd.Index, first: np.ndarray, out: pd.DataFrame) -> np.ndarray:
    """Exact repeats of the whole record merge into the first; returns True for the rows of `idx` left.
    `first`: the record key (see `record_keys`: -1 for a record of its own) of each row of `idx`."""
    keyed = np.flatnonzero(first >= 0)
    first_idx = idx.to_numpy().copy()
    first_idx[keyed] = first_idx[keyed[_first_of_key(first[keyed])]]
    dup = first_idx != idx.to_numpy()
    out.loc[dup, "anchor"] = first_idx[dup]
    out.loc[dup, "merge_reason"] = "exact_duplicate"
    return ~dup


def _first_of_key(keys: np.ndarray) -> np.ndarray:
    """Per row, the position of the first row with its key (non-negative integers; numbered 0… first
    when they spread far beyond the rows): the least position per key by `np.minimum.at`, no hash table
    or groupby of a national file's keys (~0.9 CPU s a groupby "first" of 4.25 M rows, 0.1 s this). The
    positions in 32 bits where they fit: the table of keys is up to a few times the rows, and half its
    bytes are half its cache misses and page faults (~0.11 -> 0.09 s of 4.25 M rows)."""
    keys = np.asarray(keys, dtype=np.int64)
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    if keys.min() < 0:
        raise ValueError("_first_of_key: keys must be non-negative")
    if keys.max() >= 4 * len(keys):
        keys = pd.factorize(keys)[0]
    position = np.int32 if len(keys) < np.iinfo(np.int32).max else np.int64
    first = np.full(int(keys.max()) + 1, len(keys), dtype=position)
    np.minimum.at(first, keys, np.arange(len(keys), dtype=position))
    return first[keys]


def _row_keys(frame: pd.DataFrame, start: np.ndarray | None = None) -> np.ndarray:
    """One integer per distinct row (equal texts, equal keys; empty equals empty), column by column:
    a key of every cell's text as one string per row costs ~0.8 KB per row of a national file.

    A row whose key is already unique stays unique whatever its later cells hold, so each column after
    the first is encoded only for the rows still sharing a key (in a national file, after the site code,
    a few per cent): encoding every text column of every row was most of the exact-repeat search.
    `start`: values per row that equal rows share (anything computed from the row alone, such as its
    parsed position), to begin from instead of encoding a first text column of every row."""
    if start is None:
        key, n_keys = np.zeros(len(frame), dtype=np.int64), 1  # key < n_keys
        shared = np.ones(len(frame), dtype=bool)  # rows whose key another row also has
    else:
        codes, uniques = pd.factorize(start, use_na_sentinel=False)
        key, n_keys = codes.astype(np.int64), len(uniques)
        shared = _is_shared(key)
    for column in frame.columns:
        if not shared.any():
            break
        rows = None if shared.all() else np.flatnonzero(shared)
        codes, n_codes = _codes_of(frame[column] if rows is None else frame[column].take(rows))
        if n_codes <= 1:  # the same in every row looked at (a column the file lacks): tells none apart
            continue
        if rows is None and n_keys == 1:  # every row's key the same (the first column): the codes are the keys
            combined, n_combined = codes, n_codes
        else:
            # the keys renumbered 0… first so that the product fits in 64 bits; new keys start past the
            # old ones, so a row left out (unique already) never meets a new key
            dense, _ = pd.factorize(key if rows is None else key[rows])
            combined, uniques = pd.factorize(dense.astype(np.int64) * n_codes + codes)
            n_combined = len(uniques)
        # (a row left out is unique among all rows, so sharing is looked for among the rows encoded)
        again = _is_shared(combined)
        if rows is None:
            key, shared = combined.astype(np.int64) + n_keys, again
        else:
            key[rows] = combined + n_keys
            shared[rows] = again
        n_keys += n_combined
    return key


def _is_shared(codes: np.ndarray) -> np.ndarray:
    """True where another row has the same code (non-negative integers; numbered 0… first when they
    spread far beyond the rows): counted, not hashed (a hash table of a national file's keys is ~0.2 GB)."""
    if not len(codes):
        return np.zeros(0, dtype=bool)
    if codes.max() >= 4 * len(codes):  # (keys of `_row_keys` stay below a few times the rows)
        codes = pd.factorize(codes)[0]
    # (the counts' flags looked up, not the counts: a byte a code stays in the cache, 8 bytes did not,
    # ~0.04 s against ~0.08 s of a national file's 4.25 M rows)
    return (np.bincount(codes) > 1)[codes]


def _codes_of(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values (missing values one code of their own) and how many there are;
    Arrow strings encoded by pyarrow, without a Python string per distinct value, or grouped by sorting
    when each is a few bytes of one length (`_short_text_codes`: a national file's site codes)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        array = arrow_text(values)
        if array.null_count == len(array):
            return np.zeros(len(array), dtype=np.int64), 1
        codes = _short_text_codes(array)
        if codes is not None:
            return codes, int(codes.max()) + 1
        encoded = pc.dictionary_encode(array, null_encoding="encode")
        return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(encoded.dictionary)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


#: Below this many rows, texts are encoded by pyarrow's hashing (sorting pays off for a big column only).
_SORT_TEXTS_FROM = 100_000


def _short_text_codes(array: pa.Array) -> np.ndarray | None:
    """Codes (0…) equal exactly for equal texts (missing ones sharing one), when every text present has
    the same length of at most 15 bytes: each text and its length packed into 16 bytes, the pairs of
    64-bit halves grouped by sorting (`_pair_classes`; a hash table of a national file's 4.25 M site
    codes took ~2.3 s). None otherwise (then pyarrow's hashing encodes them)."""
    n = len(array)
    if n < _SORT_TEXTS_FROM or not pa.types.is_large_string(array.type):
        return None
    offsets, data = text_bytes(array)
    lengths = np.diff(offsets)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    width = int(lengths[valid].max())
    if width > 15 or (lengths[valid] != width).any() or (lengths[~valid] != 0).any():
        return None
    packed = np.zeros((n, 16), dtype=np.uint8)
    packed[:, 15] = np.where(valid, width, 255)  # (a missing value is no text of any length)
    if width:
        # the texts present lie one after another in the data buffer (a missing value takes no byte)
        packed[valid, :width] = data[offsets[0] : offsets[0] + width * int(valid.sum())].reshape(-1, width)
    halves = packed.view(np.int64)
    return _pair_classes(np.ascontiguousarray(halves[:, 0]), np.ascontiguousarray(halves[:, 1]))


def _merge_same_site_code(
    rec: pd.DataFrame, live: pd.Index, code_key: np.ndarray, out: pd.DataFrame, where: Callable
) -> None:
    """The same operator and site code (`code_key` of each row of `live`): one station if within 50 m, a
    conflict if not."""
    has_code = code_key >= 0
    coded = live[has_code]
    if not len(coded):
        return
    head = pd.Series(coded.to_numpy()[_first_of_key(code_key[has_code])], index=coded)
    # distances only from a row to another row of its code (most rows are their code's only one)
    other = head.to_numpy() != coded
    dist = np.zeros(len(coded))
    dist[other] = distance_m(
        rec.loc[coded[other], "lon"].to_numpy(),
        rec.loc[coded[other], "lat"].to_numpy(),
        rec.loc[head[other], "lon"].to_numpy(),
        rec.loc[head[other], "lat"].to_numpy(),
    )
    is_dup = other & (dist <= DUPLICATE_RADIUS_M)
    is_conflict = other & (dist > DUPLICATE_RADIUS_M)
    dup_at, conflict_at = where(coded[is_dup]), where(coded[is_conflict])
    _set(out, dup_at, "anchor", head.to_numpy()[is_dup])
    _set(out, dup_at, "merge_reason", "same_site_code")
    _set(out, conflict_at, "anchor", head.to_numpy()[is_conflict])
    _set(out, conflict_at, "conflict", [f"{d:.0f} m from the kept record of this code" for d in dist[is_conflict]])


def _merge_codeless(
    rec: pd.DataFrame, heads: pd.Index, heads_at: np.ndarray, out: pd.DataFrame, where: Callable
) -> None:
    """Rows without a code: the same operator's coded record within 50 m (the nearest), else
    each other; coded records are never merged here, not even through a code-less one. `heads_at`:
    the heads' positions in `rec`."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    codeless = heads[rec["site_code"].isna().to_numpy()[heads_at]]
    for operator in sorted(rec.loc[codeless, "operator"].unique()) if len(codeless) else []:
        members = heads[(rec.loc[heads, "operator"] == operator).to_numpy()]
        has_code = rec.loc[members, "site_code"].notna().to_numpy()
        coded, free = members[has_code], members[~has_code]
        free_xy = metric_xyz(rec.loc[free, "lon"].to_numpy(), rec.loc[free, "lat"].to_numpy())
        if len(coded):
            tree = cKDTree(metric_xyz(rec.loc[coded, "lon"].to_numpy(), rec.loc[coded, "lat"].to_numpy()))
            d, j = tree.query(free_xy, distance_upper_bound=DUPLICATE_RADIUS_M)
            near = np.isfinite(d)
            _set(out, where(free[near]), "anchor", coded[j[near]])
            _set(out, where(free[near]), "merge_reason", "co_located")
            free, free_xy = free[~near], free_xy[~near]
        pairs = cKDTree(free_xy).query_pairs(DUPLICATE_RADIUS_M, output_type="ndarray") if len(free) > 1 else []
        if len(pairs):
            n = len(free)
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
            _, label = connected_components(graph, directed=False)
            # `free` is in priority order: the first row of each component heads it
            first = pd.Series(np.arange(n)).groupby(label).transform("min").to_numpy()
            moved = first != np.arange(n)
            _set(out, where(free[moved]), "anchor", free[first[moved]])
            _set(out, where(free[moved]), "merge_reason", "co_located")


def _follow_chains(out: pd.DataFrame, where: Callable) -> pd.DataFrame:
    """A repeat of a conflicting record is that conflict too; merged rows follow their anchor's anchor."""
    in_conflict = out["conflict"].notna().to_numpy()  # (looked at once: an object column of every row)
    of_conflict = np.zeros(len(out), dtype=bool)
    if in_conflict.any():
        of_conflict = out["anchor"].isin(out.index[in_conflict]).to_numpy() & ~in_conflict
    if of_conflict.any():
        src = out.loc[of_conflict, "anchor"].to_numpy()
        out.loc[of_conflict, "conflict"] = out["conflict"].to_numpy()[where(src)]
        out.loc[of_conflict, "anchor"] = out["anchor"].to_numpy()[where(src)]
        out.loc[of_conflict, "merge_reason"] = None
    out["anchor"] = _follow_anchors(out["anchor"], 3)
    return out


def _follow_anchors(anchors: pd.Series, steps: int) -> pd.Series:
    """Each row's anchor followed `steps` times as `anchors.map(anchors)` does (each step the anchor's anchor
    of the step before; an anchor that is no row of `anchors` stays): by position in a look-up array when
    the labels are small non-negative integers (a row's label is its raw row), instead of a hash map of a
    national file's rows per step; by label otherwise."""
    labels, values = anchors.index.to_numpy(), anchors.to_numpy()
    small = (
        len(anchors)
        and labels.dtype.kind in "iu"
        and values.dtype.kind in "iu"
        and min(labels.min(), values.min()) >= 0
        and max(labels.max(), values.max()) < 4 * len(anchors)
    )
    if not small:
        for _ in range(steps):
            anchors = anchors.map(anchors).fillna(anchors).astype(anchors.dtype)
        return anchors
    anchor_of = np.arange(int(max(labels.max(), values.max())) + 1, dtype=values.dtype)
    anchor_of[labels] = values
    # (only the labels of another anchor than themselves step: of a national file's 4.25 M rows ~40 k)
    moved = np.flatnonzero(anchor_of != np.arange(len(anchor_of)))
    for _ in range(steps):  # (each step as the map: the anchors' anchors of the step before, 2, 4, 8 links)
        anchor_of[moved] = anchor_of[anchor_of[moved]]
    return pd.Series(anchor_of[labels], index=anchors.index, name=anchors.name)


def sender_of_table(context: str, columns: dict[str, str]) -> int:
    """The namespace of a table's site codes: SENDER_TOWER for a tower company's table (its operator column
    is the tenant, 需求运营商, or its file, sheet, title or a header names the tower company or the task
    force and its file, sheet and title name no one operator), SENDER_GNB_ID for an
    operator's table whose code column is a gNB ID (gNB ID, gNodeB ID), else SENDER_OPERATOR.
    `columns`: the table's original headers -> canonical fields (`RawTable.columns`)."""
    headers = {_squeezed(header): field for header, field in columns.items()}
    tenant_column = any(
        word in header for header, field in headers.items() if field == "operator" for word in _TOWER_OPERATOR_HEADERS
    )
    if tenant_column:
        return SENDER_TOWER
    # a context of the tower company or the task force, unless it names the one operator the table is of
    # (5G专班周报_移动.csv is China Mobile's own report to the task force; its codes are the operator's)
    context = unicodedata.normalize("NFKC", context)
    if any(_TOWER_CONTEXT.search(text) for text in [context, *headers]) and operator_of_context(context) == "unknown":
        return SENDER_TOWER
    # (a cell-level export's code read from its NR CGI is the gNB ID inside it: `sources._site_codes_from_cgi`)
    for h, field in headers.items():
        if field == "site_code" and ("gnb" in h or "gnodeb" in h or h in _NR_CGI_HEADERS):
            return SENDER_GNB_ID
    return SENDER_OPERATOR


def _squeezed(header: str) -> str:
    """A header in lower case without spaces, _ or - (gNB ID, gnb_id, GNB-ID alike)."""
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", str(header)).lower())


def rows_of_later_senders(sender: np.ndarray) -> np.ndarray:
    """True for the rows `merge_across_senders` may merge into another sender's record: those of every
    namespace but the first present (all False when one namespace sent every row, as a national file)."""
    sender = np.asarray(sender)
    if not len(sender) or sender.min() == sender.max():
        return np.zeros(len(sender), dtype=bool)
    return sender > sender.min()


#: Two senders' records of one operator within reach whose on-air dates are further apart than this are two
#: stations, not one (the operator's 2020 macro and a tower company's 2021 pole-mounted small cell 40 m away):
#: one station's dates in two senders' reports differ by days or weeks (a tenancy handed over, a report lag).
OTHER_SENDER_MAX_DATE_GAP_DAYS = 183
#: A record whose position is the planned one (规划经度/规划纬度: no actual position given) is one station with
#: another sender's record of its operator up to this far when both went on air on the same day: a mast is
#: built where the site could be got, often a few hundred metres from where it was planned; the same operator
#: and the same day keep it conservative (two stations of one operator on air the same day 300 m apart, one
#: only planned there, are rare).
PLANNED_POSITION_RADIUS_M = 300.0
#: A site a tracker still lists in construction or waiting for power, this close to its operator's station on
#: air (another sender's record), is that station: one mast (GPS error is a few metres), the tracker lagging the
#: operator's report. A new site planned by an old mast stands farther off, or earlier in its stages.
SAME_MAST_RADIUS_M = 15.0
_LATE_STAGES = ("construction", "power_hookup")


def merge_across_senders(
    rec: pd.DataFrame, dd: pd.DataFrame, heads: pd.Index, sender: np.ndarray
) -> tuple[pd.DataFrame, pd.Index, pd.Series, pd.Series]:
    """One station of the kept records (`heads`, in priority order) of one operator that different senders
    (`sender`: per row of `rec`, see `sender_of_table`) give within DUPLICATE_RADIUS_M, one record of each
    sender per station (the module's rule). `dd`: `dedupe_rows`' merges without conflicts.

    Returns the merges with these added (the rows of a station of several senders ordered by sender, the
    heading sender's first), the kept records left, and per row the quarantine detail of its merge and
    a note (a merge, or a pairing refused because the other record is another record's station already).
    """
    none, sender = pd.Series(dtype=object), np.asarray(sender)
    if not len(heads) or sender.min() == sender.max():  # (one sender, as a national file: nothing to look at)
        return dd, heads, none, none
    head_sender = sender[rec.index.get_indexer(heads)]
    if head_sender.min() == head_sender.max():
        return dd, heads, none, none
    pairs, refused = _pair_across_senders(rec, heads, head_sender)
    if not len(pairs) and not len(refused):
        return dd, heads, none, none
    detail, notes = _describe_pairs(rec, heads, head_sender, pairs, refused)
    if not len(pairs):
        return dd, heads, detail, notes
    member, anchor = heads[pairs["row"]], heads[pairs["anchor"]]
    anchor_of = pd.Series(anchor.to_numpy(), index=member)
    dd = dd.copy()
    moved = dd["anchor"].isin(member).to_numpy()
    dd.loc[moved, "anchor"] = dd.loc[moved, "anchor"].map(anchor_of).to_numpy()
    dd.loc[member, "merge_reason"] = "same_station_other_sender"
    # the rows of a station now of several senders: its heading sender's first, then by sender (in priority
    # order within each): the station's values come from the first record that gives each
    at = rec.index.get_indexer(dd.index)
    row_sender = sender[at]
    anchor_sender = sender[rec.index.get_indexer(dd["anchor"])]
    late = dd["anchor"].isin(anchor).to_numpy() & (row_sender != anchor_sender)
    key = np.where(late, 1 + row_sender.astype(np.int64), 0)
    dd = dd.iloc[np.lexsort((np.arange(len(dd)), key))]
    return dd, heads[~heads.isin(member)], detail, notes


def _pair_across_senders(rec: pd.DataFrame, heads: pd.Index, head_sender: np.ndarray) -> tuple[pd.DataFrame, list]:
    """The pairs (positions in `heads`: `row` merges into `anchor`) of the module's rule, and the refused
    rows (row, nearest candidate, its distance, why: `_refused_nearest`): a record within reach of the other
    sender's that is another station by its dates, or whose every candidate is paired with another record of
    its sender."""
    from scipy.spatial import cKDTree

    at = rec.index.get_indexer(heads)
    operator = rec["operator"].to_numpy(dtype=object)[at]
    lon, lat = rec["lon"].to_numpy(dtype=float)[at], rec["lat"].to_numpy(dtype=float)[at]
    dates = rec["on_air_date"].to_numpy()[at]
    pipeline, late = _pipeline_stages(rec, at)
    planned = rec["planned_position"].to_numpy()[at] if "planned_position" in rec else np.zeros(len(at), bool)
    reach = PLANNED_POSITION_RADIUS_M if planned.any() else DUPLICATE_RADIUS_M
    xyz = metric_xyz(lon, lat)
    taken = np.zeros(len(heads), dtype=bool)  # merged into another sender's record
    rows, anchors, refused = [], [], []
    # ("unknown" is no operator: two senders' records of it are not known to be one operator's)
    for op in sorted(set(operator[head_sender > head_sender.min()]) - {"unknown"}):
        of_op = operator == op
        for kind in np.unique(head_sender[of_op])[1:]:
            pool = np.flatnonzero(of_op & (head_sender < kind) & ~taken)
            todo = np.flatnonzero(of_op & (head_sender == kind))
            if not len(pool):
                continue
            near = cKDTree(xyz[todo]).sparse_distance_matrix(cKDTree(xyz[pool]), reach, output_type="ndarray")
            i, j = todo[near["i"]], pool[near["j"]]
            dist = distance_m(lon[i], lat[i], lon[j], lat[j])
            # (farther than the duplicate radius only from a planned position, to a station on air the same day)
            same_day = ~np.isnat(dates[i]) & (dates[i] == dates[j])
            keep = (dist <= DUPLICATE_RADIUS_M) | ((planned[i] | planned[j]) & same_day & (dist <= reach))
            i, j, dist = i[keep], j[keep], dist[keep]
            # two on-air dates far apart are two stations (a new small cell by an old mast), not one; so are a
            # site still in the pipeline and a station on air (a new site planned by an old mast: merged, its
            # stages came after the on-air date and the pipeline lost it), unless the site is in its last stages
            # at the station's mast (`SAME_MAST_RADIUS_M`: the tracker lags)
            dated_apart = np.abs(dates[i] - dates[j]) > np.timedelta64(OTHER_SENDER_MAX_DATE_GAP_DAYS, "D")
            one_in_pipeline = (pipeline[i] & ~np.isnat(dates[j])) | (pipeline[j] & ~np.isnat(dates[i]))
            one_in_pipeline &= ~((late[i] | late[j]) & (dist <= SAME_MAST_RADIUS_M))
            apart = dated_apart | one_in_pipeline
            refused += _refused_nearest(set(i[apart].tolist()) - set(i[~apart].tolist()), i, j, dist, dated_apart)
            i, j, dist = i[~apart], j[~apart], dist[~apart]
            i, j, dist, unclear = _keep_one_to_one_planned_pairs(i, j, dist)
            refused += unclear
            differ = ~((dates[i] == dates[j]) | (pd.isna(dates[i]) & pd.isna(dates[j])))
            used_row, used_anchor = set(), set()
            # the best pairs first: agreeing on-air dates, then the nearest, then priority order (positions)
            for k in np.lexsort((j, i, np.round(dist, 3), differ)):
                if i[k] not in used_row and j[k] not in used_anchor:
                    used_row.add(i[k])
                    used_anchor.add(j[k])
                    rows.append(i[k])
                    anchors.append(j[k])
            taken[list(used_row)] = True
            refused += _refused_nearest(set(i.tolist()) - used_row, i, j, dist, None)
    months = rec["on_air_months"].to_numpy()[at] if "on_air_months" in rec else np.zeros(len(at), np.int8)
    unknown = _pair_unknown_operators(operator, head_sender, dates, months, xyz, taken, anchors)
    pairs = pd.DataFrame({"row": np.asarray(rows, dtype=np.int64), "anchor": np.asarray(anchors, dtype=np.int64)})
    if unknown[0]:  # (the records without their operator, and the other stations each could have been)
        more = pd.DataFrame({"row": unknown[0], "anchor": unknown[1], "rivals": unknown[2]})
        pairs = pd.concat([pairs.assign(rivals=None), more], ignore_index=True).astype(
            {"row": np.int64, "anchor": np.int64}
        )
    return pairs, refused


def _keep_one_to_one_planned_pairs(i: np.ndarray, j: np.ndarray, dist: np.ndarray) -> tuple:
    """Of candidate pairs (`i` joins `j`, `dist` m apart), those beyond DUPLICATE_RADIUS_M (a planned position's)
    only where record and station are each other's nearest: an operator opening several stations the same day
    within the planned-position radius (a record near two stations, a station near two records) has each record
    join the station nearest it that has no record nearer (refusing every such record counted twelve stations
    twice; joining each to its nearest took two records to one station). A record with a candidate within
    DUPLICATE_RADIUS_M keeps only those, and a station with a record that near takes no farther one. Returns the
    pairs kept and the refusals (`_refused_nearest`'s, why "ambiguous" and the number of candidates)."""
    far = dist > DUPLICATE_RADIUS_M
    if not far.any():
        return i, j, dist, []
    far &= ~np.isin(i, i[~far])  # (a record at a station's mast is that station's, whatever lies farther)
    far &= ~np.isin(j, j[~far])  # (and a station with a record at its mast takes no planned one)
    idx = np.flatnonzero(far)
    by_row = idx[np.lexsort((idx, dist[idx], i[idx]))]  # (each record's candidates, nearest first; ties by order)
    by_anchor = idx[np.lexsort((idx, dist[idx], j[idx]))]
    nearest_of_row = by_row[np.r_[True, i[by_row][1:] != i[by_row][:-1]]] if len(idx) else idx
    nearest_of_anchor = by_anchor[np.r_[True, j[by_anchor][1:] != j[by_anchor][:-1]]] if len(idx) else idx
    one = np.zeros(len(i), dtype=bool)
    one[np.intersect1d(nearest_of_row, nearest_of_anchor)] = True
    unclear = []
    for row in sorted(set(i[far].tolist()) - set(i[one].tolist())):
        k = np.flatnonzero((i == row) & far)
        nearest = k[np.argmin(dist[k])]
        rivals = len(np.unique(i[far & np.isin(j, j[k])]))  # (records near the same stations, this one included)
        unclear.append((row, j[nearest], dist[nearest], "ambiguous", len(k), rivals))
    keep = (~far & (dist <= DUPLICATE_RADIUS_M)) | one
    return i[keep], j[keep], dist[keep], unclear


def _refused_nearest(rows: set, i: np.ndarray, j: np.ndarray, dist: np.ndarray, dated_apart) -> list[tuple]:
    """For each of `rows` left unpaired, its nearest candidate (of the candidate pairs `i`-`j`), the distance
    and why: "dates" (on-air dates over OTHER_SENDER_MAX_DATE_GAP_DAYS apart, where `dated_apart` says so),
    "pipeline" (one on air, the other in the pipeline; the rest of `dated_apart` False), or "taken" (every
    candidate paired with another record of its sender: `dated_apart` None)."""
    out = []
    for row in sorted(rows):
        k = np.flatnonzero(i == row)
        nearest = k[np.argmin(dist[k])]
        why = "taken" if dated_apart is None else "dates" if dated_apart[nearest] else "pipeline"
        out.append((row, j[nearest], dist[nearest], why))
    return out


def _pipeline_stages(rec: pd.DataFrame, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row `at` of `rec`: a site in the pipeline (no on-air date, a status of a stage before air), and one
    in its late stages (construction or waiting for power)."""
    if "reported_status" not in rec:
        return np.zeros(len(at), dtype=bool), np.zeros(len(at), dtype=bool)
    status = pd.Series(rec["reported_status"].to_numpy(dtype=object)[at], dtype=object)
    undated = np.isnat(rec["on_air_date"].to_numpy()[at])
    pipeline = undated & status.notna().to_numpy() & ~status.isin(["on_air", "unknown", "decommissioned"]).to_numpy()
    return pipeline, pipeline & status.isin(_LATE_STAGES).to_numpy()


#: A record without its operator and a known operator's station this many days apart on air agree (a tracker's
#: day and the operator's differ by a day or two: a report lag, a day counted from the evening's switch-on).
UNNAMED_OPERATOR_DATE_SLACK_DAYS = 7


def _pair_unknown_operators(
    operator: np.ndarray,
    head_sender: np.ndarray,
    dates: np.ndarray,
    months: np.ndarray,
    xyz: np.ndarray,
    taken: np.ndarray,
    used: list,
) -> tuple[list, list, list]:
    """The pairs (positions: row, anchor, the other candidates) of a record that names no operator (a tracker
    without its 需求方) and a record of a known operator, of an earlier sender, on air: within DUPLICATE_RADIUS_M
    on the same day, or at its mast (SAME_MAST_RADIUS_M) on a day that agrees to the precision the record gives
    (`months`: 0 a day, within UNNAMED_OPERATOR_DATE_SLACK_DAYS; else the same month, quarter or half-year). One
    such station: that station (its operator the known one's). Two or more (a shared tower of operators on air
    together): the nearest (then the first in priority order), the others named in its note — the record is one
    of them, not a station more. None on air, or a site of the pipeline, leaves it a station of its own."""
    from scipy.spatial import cKDTree

    unknown = np.flatnonzero((operator == "unknown") & (head_sender > head_sender.min()) & ~np.isnat(dates))
    known = np.flatnonzero((operator != "unknown") & ~np.isnat(dates) & ~np.isin(np.arange(len(operator)), used))
    if not len(unknown) or not len(known):
        return [], [], []
    near = cKDTree(xyz[unknown]).sparse_distance_matrix(cKDTree(xyz[known]), DUPLICATE_RADIUS_M, output_type="ndarray")
    i, j, dist = unknown[near["i"]], known[near["j"]], near["v"]
    agree = (dates[i] == dates[j]) | ((dist <= SAME_MAST_RADIUS_M) & _dates_agree(dates[i], dates[j], months[i]))
    ok = agree & (head_sender[j] < head_sender[i]) & ~taken[i]
    i, j, dist = i[ok], j[ok], dist[ok]
    rows, anchors, rivals, chosen = [], [], [], set()
    # (the records nearest their station first: at a shared tower each record takes a tenant no other took)
    for k in np.lexsort((j, i, np.round(dist, 3))):
        if i[k] in rows or j[k] in chosen:
            continue
        rows.append(i[k])
        anchors.append(j[k])
        chosen.add(j[k])
        rivals.append(sorted(set(j[i == i[k]].tolist()) - {j[k]}))
    return rows, anchors, rivals


def _dates_agree(row: np.ndarray, station: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Per pair: the station's on-air date agrees with the row's to the row's precision (`months`: 0 a day, within
    UNNAMED_OPERATOR_DATE_SLACK_DAYS; 1 the same month, 3 the same quarter, 6 the same half-year, 12 the year)."""
    days = np.abs(row - station) <= np.timedelta64(UNNAMED_OPERATOR_DATE_SLACK_DAYS, "D")
    of_row, of_station = pd.DatetimeIndex(row), pd.DatetimeIndex(station)
    step = np.maximum(months, 1)
    period_row = (of_row.year.to_numpy() * 12 + of_row.month.to_numpy() - 1) // step
    period_station = (of_station.year.to_numpy() * 12 + of_station.month.to_numpy() - 1) // step
    return np.where(months > 0, period_row == period_station, days)


def _describe_pairs(
    rec: pd.DataFrame, heads: pd.Index, head_sender: np.ndarray, pairs: pd.DataFrame, refused: list
) -> tuple[pd.Series, pd.Series]:
    """The quarantine detail of each merge of `_pair_across_senders` and the note of each merge and
    refusal, by row label."""
    at = rec.index.get_indexer(heads)
    code = rec["site_code"].to_numpy(dtype=object, na_value=None)[at]
    planned = rec["planned_position"].to_numpy(dtype=bool)[at] if "planned_position" in rec else None
    lon, lat = rec["lon"].to_numpy(dtype=float)[at], rec["lat"].to_numpy(dtype=float)[at]
    dates = pd.DatetimeIndex(rec["on_air_date"].to_numpy()[at]).strftime("%Y-%m-%d").fillna("none").to_numpy()

    def said(k: int) -> str:
        name = _SENDER_CODE_NAMES[head_sender[k]]
        return f"{name} {code[k]}" if code[k] is not None else f"record without a {name}"

    def gap(a: int, b: int) -> float:
        return float(distance_m(lon[[a]], lat[[a]], lon[[b]], lat[[b]])[0])

    detail, notes = {}, {}
    operator = rec["operator"].to_numpy(dtype=object)[at]
    rivals = pairs["rivals"] if "rivals" in pairs else pd.Series(None, index=pairs.index, dtype=object)
    for row, anchor, others in zip(pairs["row"], pairs["anchor"], rivals, strict=True):
        when = "the same on-air date" if dates[row] == dates[anchor] else f"on-air {dates[row]} and {dates[anchor]}"
        text = f"{said(row)} and {said(anchor)}, {gap(row, anchor):.0f} m apart, {when}"
        if operator[row] == "unknown":  # (which operator it was given, and why)
            named = [(f"{operator[k]} {said(k)}", gap(row, k)) for k in others or []]
            text += _said_unnamed_operator(f"{operator[anchor]} {said(anchor)}", gap(row, anchor), named)
        elif gap(row, anchor) > DUPLICATE_RADIUS_M:  # (a planned position's join: which record's position it is)
            at_plan = [said(k) for k in (row, anchor) if planned is not None and planned[k]]
            text += f" (the {' and the '.join(at_plan)}{PLANNED_POSITION_MARK}"  # (how the ledger tells it)
        elif "none" in (dates[row], dates[anchor]) and dates[row] != dates[anchor]:
            text += " (one still listed in construction or waiting for power at the other's mast: a report lagging)"
        detail[heads[row]] = text
        notes[heads[row]] = f"one station of the {text}"
    for row, other, metres, reason, *counts in refused:
        if reason == "ambiguous":
            notes[heads[row]] = _said_ambiguous(said(other), metres, *counts)
            continue
        if reason == "dates":
            why = f"went on air on {dates[other]}, this on {dates[row]}"
        elif reason == "pipeline":
            on_air = dates[other] != "none"
            why = (
                f"went on air on {dates[other]}, this is still in the pipeline"
                if on_air
                else ("is still in the pipeline, this on air")
            )
        else:
            why = "is one station with another record of this sender"
        notes[heads[row]] = f"{said(other)} {metres:.0f} m away {why}: kept as a station of its own"
    return pd.Series(detail, dtype=object), pd.Series(notes, dtype=object)


def _said_unnamed_operator(station: str, metres: float, others: list[tuple[str, float]]) -> str:
    """What a merge of a record without its operator adds: whose it was taken for, and at a shared tower (`others`:
    the other stations on air then, with their distances) which was chosen and why."""
    if not others:
        return f" (its operator not given: {station}, the one station of a known operator there on air then)"
    named = ", ".join(f"{name} {m:.0f} m" for name, m in others)
    return (
        f" (its operator not given: at a shared tower, with {named} also on air then, it joined the nearest"
        f"{_tie(metres, [m for _, m in others])}, {station}; which tenant's record it is, is not known)"
    )


def _tie(chosen_m: float, others_m: list[float]) -> str:
    """' (a tie: the first in priority order)' where another candidate is as near to the metre."""
    return " (a tie: the first in priority order)" if any(round(m) == round(chosen_m) for m in others_m) else ""


def _said_ambiguous(other: str, metres: float, stations: int, records: int) -> str:
    """The note of a planned-position record not joined: which stations and records it could pair with."""
    radius = f"{PLANNED_POSITION_RADIUS_M:.0f} m"
    if stations > 1:
        return (
            f"{stations} stations of its operator on air the same day within {radius} of this planned position "
            f"(the nearest {other}, {metres:.0f} m): which it is is not known (ambiguous), kept as a station of its own"
        )
    return (
        f"{other} {metres:.0f} m away, on air the same day, is also within {radius} of {records - 1} other planned "
        f"record(s) of this sender: which is its record is not known (ambiguous), kept as a station of its own"
    )


def match_sites(
    good_sites: pd.DataFrame, rec: pd.DataFrame, heads: pd.Index, sender: np.ndarray | None = None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per OpenCelliD gNB site: the operator station row it is or None, and its distance in metres; and
    per station row a note where a site was matched by its gNB ID beyond MATCH_RADIUS_M or refused.
    A site whose gNB ID is a station's (`sender`: per row of `rec`, SENDER_GNB_ID rows' codes are gNB IDs)
    is that station within GNB_ID_MATCH_RADIUS_M; any other, the nearest of the same operator within
    MATCH_RADIUS_M."""
    from scipy.spatial import cKDTree

    site_station = pd.Series(None, index=good_sites.index, dtype=object)  # gnb_key -> operator head row
    site_dist = pd.Series(np.nan, index=good_sites.index)
    notes = pd.Series(dtype=object)
    if sender is not None and len(good_sites):
        notes = _match_sites_by_gnb_id(good_sites, rec, heads, np.asarray(sender), site_station, site_dist)
    open_sites = good_sites[site_station.isna().to_numpy()]
    for operator in sorted(open_sites["operator"].unique()):
        s = open_sites[open_sites["operator"] == operator]
        h = heads[(rec.loc[heads, "operator"] == operator).to_numpy()]
        if not len(h):
            continue
        tree = cKDTree(metric_xyz(rec.loc[h, "lon"].to_numpy(), rec.loc[h, "lat"].to_numpy()))
        d, j = tree.query(metric_xyz(s["lon"].to_numpy(), s["lat"].to_numpy()), distance_upper_bound=MATCH_RADIUS_M)
        found = np.isfinite(d)
        site_station.loc[s.index[found]] = h[j[found]]
        exact = distance_m(
            s["lon"].to_numpy()[found],
            s["lat"].to_numpy()[found],
            rec.loc[h[j[found]], "lon"].to_numpy(),
            rec.loc[h[j[found]], "lat"].to_numpy(),
        )
        site_dist.loc[s.index[found]] = exact
    return site_station, site_dist, notes


def _match_sites_by_gnb_id(
    good_sites: pd.DataFrame,
    rec: pd.DataFrame,
    heads: pd.Index,
    sender: np.ndarray,
    site_station: pd.Series,
    site_dist: pd.Series,
) -> pd.Series:
    """The sites whose gNB ID (the last part of their key, mcc-net-gNB) is a station's of the same operator,
    into `site_station` / `site_dist` when within GNB_ID_MATCH_RADIUS_M; the notes of the station rows
    matched beyond MATCH_RADIUS_M or refused."""
    of_gnb = heads[sender[rec.index.get_indexer(heads)] == SENDER_GNB_ID]
    if not len(of_gnb):
        return pd.Series(dtype=object)
    code = rec.loc[of_gnb, "site_code"].astype("string")
    numeric = code.str.fullmatch(r"\d{1,10}").fillna(False).to_numpy(dtype=bool)
    stations = pd.DataFrame(
        {
            "operator": rec.loc[of_gnb[numeric], "operator"].to_numpy(dtype=object),
            "gnb": code[numeric].astype(np.int64),
        },
        index=of_gnb[numeric],
    )
    # (two records of one ID are one station or a conflict already; the first in priority order stands)
    stations = stations[~stations.duplicated(keep="first")]
    sites = pd.DataFrame(
        {"operator": good_sites["operator"].to_numpy(), "gnb": good_sites.index.str.rsplit("-", n=1).str[1]},
        index=good_sites.index,
    )
    sites["gnb"] = pd.to_numeric(sites["gnb"], errors="coerce")
    joined = sites.reset_index(names="site").merge(stations.reset_index(names="row"), on=["operator", "gnb"])
    if not len(joined):
        return pd.Series(dtype=object)
    dist = distance_m(
        good_sites.loc[joined["site"], "lon"].to_numpy(),
        good_sites.loc[joined["site"], "lat"].to_numpy(),
        rec.loc[joined["row"], "lon"].to_numpy(),
        rec.loc[joined["row"], "lat"].to_numpy(),
    )
    near = dist <= GNB_ID_MATCH_RADIUS_M
    site_station.loc[joined["site"][near].to_numpy()] = joined["row"][near].to_numpy()
    site_dist.loc[joined["site"][near].to_numpy()] = dist[near]
    notes: dict = {}  # (a station's gNB ID in two sites, of two network codes of its operator: both said)
    for site, row, metres, ok in zip(joined["site"], joined["row"], dist, near, strict=True):
        if ok and metres > MATCH_RADIUS_M:
            said = f"OpenCelliD gNB {site} is this station by its gNB ID, {metres:.0f} m from the reported position"
        elif not ok:
            said = (
                f"OpenCelliD gNB {site} has this station's gNB ID but lies {metres:.0f} m away "
                f"(over {GNB_ID_MATCH_RADIUS_M:.0f} m): not taken as this station"
            )
        else:
            continue
        notes[row] = f"{notes[row]}; {said}" if row in notes else said
    return pd.Series(notes, dtype=object)
