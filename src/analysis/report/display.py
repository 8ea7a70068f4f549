"""How a page shows things in a notebook: markdown and HTML of our own words (names from the data
escaped), people's tables with a caption and a source line, figures and saved charts, and headline
numbers recorded as tagged outputs (read back by the runner for the index and by the tests).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.files import write_csv

#: Mimetype and output-metadata key of a recorded value (invisible in the HTML report).
RECORD_MIME = "application/vnd.fiveg-monitor.record+json"
RECORD_KEY = "fiveg_record"


def json_ready(value):
    """A recorded value as strict JSON can hold it: numpy scalars as Python numbers, a missing
    number (NaN, NaT, inf) as None (null), inside lists and dicts too."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if value is pd.NaT:
        return None
    return value


def record(name: str, value) -> None:
    """Record a headline number in the notebook's outputs (read back by `read_records`): the
    report index and the tests use them; the HTML renderer leaves them out. A missing number is
    recorded as null (strict JSON has no NaN)."""
    from IPython.display import display

    value = json_ready(value)
    # shown as nothing (an HTML comment): a text/plain fallback put "recorded: name = [...]" lines under the
    # headline of every executed notebook an analyst opened in JupyterLab or exported with nbconvert
    display(
        {RECORD_MIME: {"name": name, "value": value}, "text/html": f"<!-- recorded: {html.escape(name)} -->"},
        raw=True,
        metadata={RECORD_KEY: name},
    )


def read_records(nb) -> dict:
    """The values recorded by `record` in an executed notebook (a path or a nbformat node)."""
    import nbformat

    if not hasattr(nb, "cells"):
        nb = nbformat.read(str(nb), as_version=4)
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if RECORD_KEY in o.get("metadata", {}) and RECORD_MIME in o.get("data", {}):
                item = o["data"][RECORD_MIME]
                if isinstance(item, str):
                    item = json.loads(item)
                out[item["name"]] = item["value"]
    return out


def show_markdown(text: str) -> None:
    """Markdown of our own words with names from the data in it: markup characters are escaped, so
    a station or district named `<script>…` shows as text (the texts here use no raw HTML)."""
    from IPython.display import Markdown, display

    display(Markdown(html.escape(text, quote=False)))


def show_html(text: str) -> None:
    """HTML made by this package (data in it already escaped). Shown as a raw text/html output:
    IPython's HTML object warns about an embedded <iframe> (the map's frame is meant)."""
    from IPython.display import display

    display({"text/html": text}, raw=True)


#: A cell the tables right-align: digits and the marks around numbers (1,335 (961–1,653), 71.0 %, +4, 0 → 2 / 13).
_NUMBER = re.compile(r"[\d,.\s%+\-−–<>()/→]+")
#: What a cell says when it has no value.
_PLACEHOLDERS = ("", "–", "-", "—")


def _cell_text(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def table_html(df: pd.DataFrame, caption: str = "", source: str = "") -> str:
    """A people's table: already formatted strings, escaped, numbers right-aligned, with a caption
    and a source line."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    texts = [[_cell_text(v) for v in r] for r in df.itertuples(index=False)]
    # a dash for "none" takes its column's side: right among numbers, left among words (it stood right-aligned
    # alone in a column of blockers)
    numeric_column = [
        any(_NUMBER.fullmatch(t) and re.search(r"\d", t) for t in column)
        and all(_NUMBER.fullmatch(t) or t in _PLACEHOLDERS for t in column)
        for column in zip(*texts)
    ]
    rows = []
    for row in texts:
        cells = []
        for text, numeric_col in zip(row, numeric_column):
            numeric = bool(text) and _NUMBER.fullmatch(text) is not None and (numeric_col or re.search(r"\d", text))
            cls = ' class="num"' if numeric else (' class="short"' if len(text) <= 26 else "")
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    src = f'<p class="fiveg-source">{html.escape(source)}</p>' if source else ""
    return f'<table class="fiveg-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{src}'


TABLE_CSS = """<style>
.fiveg-table{border-collapse:collapse;margin:0.4em 0 0.2em 0;font-size:13px}
.jp-RenderedHTMLCommon .fiveg-table td,.fiveg-table td{text-align:left;vertical-align:top}
.jp-RenderedHTMLCommon .fiveg-table th,.fiveg-table th{text-align:left}
.jp-RenderedHTMLCommon .fiveg-table td.num,.fiveg-table td.num{text-align:right}
.fiveg-table td.short{white-space:nowrap}
.fiveg-table th{background:#eef2f7;padding:4px 10px;border-bottom:2px solid #9aa9bb;vertical-align:bottom}
.fiveg-table td{padding:3px 10px;border-bottom:1px solid #dde3ea;overflow-wrap:anywhere;unicode-bidi:isolate}
.fiveg-table td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.fiveg-table caption{caption-side:top;text-align:left;font-weight:600;padding:2px 0 4px 0}
.fiveg-source{font-size:11px;color:#555;margin:0 0 1em 0}
.fiveg-box{border:1px solid #9aa9bb;background:#f7f9fb;padding:8px 14px;margin:1em 0;font-size:13px}
.fiveg-box h4{margin:0.2em 0 0.4em 0}
.fiveg-note{border-left:4px solid #e0a800;background:#fff8e1;padding:6px 12px;margin:0.6em 0;font-size:13px}
.fiveg-file-notes{font-size:13px}.fiveg-file{font-weight:600}
.fiveg-as-written{font-size:12px;color:#444;overflow-wrap:anywhere;margin:0.2em 0 0.5em 0}
.fiveg-headline{font-size:15px;line-height:1.6}
.fiveg-scroll{overflow-x:auto;max-width:100%}
.fiveg-figure{margin:0.6em 0}.fiveg-subtitle{font-size:13px;color:#333;margin:0 0 4px 0}
.fiveg-verdict{font-size:17px;font-weight:600;border-left:5px solid #1f4e8c;padding:6px 12px;background:#f3f6fa}
</style>"""


#: The link under a table to its data, by language of the page.
CSV_LINK = {"zh": "下载本表数据（CSV）", "en": "Download this table (CSV)"}


def write_table_csv(df: pd.DataFrame, path: Path) -> Path:
    """The table as CSV beside the page (`files.write_csv`: UTF-8 with BOM, so Excel opens Chinese text,
    written whole or not at all, a text that would run as a formula defused), same bytes on a rerun."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(df, path, defuse=True)
    return path


def show_table(
    df: pd.DataFrame,
    caption: str = "",
    source: str = "",
    csv: Path | None = None,
    lang: str = "zh",
    full: pd.DataFrame | None = None,
    more: str = "",
) -> pd.DataFrame:
    """Show a people's table (with `csv`, also written there and linked under it, relative to the page);
    return it, for the analyst who wants to filter or plot it. Wide tables scroll inside the page. With
    `full`, the page shows `df` (some of its rows, `more` saying which and how many more) and the CSV all."""
    link = ""
    if csv is not None:
        path = write_table_csv(df if full is None else full, csv)
        link = f'<p class="fiveg-source"><a href="{html.escape(path.name)}" download>{CSV_LINK[lang]}</a></p>'
    note = f'<p class="fiveg-source">{html.escape(more)}</p>' if more else ""
    show_html(TABLE_CSS + '<div class="fiveg-scroll">' + table_html(df, caption, source) + "</div>" + note + link)
    return df if full is None else full


def show_figure(fig) -> None:
    """A matplotlib figure, shown once and closed."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def show_step(heading: str, sentence: str) -> None:
    """A step's heading and the sentence that states its numbers."""
    show_markdown(f"### {heading}\n\n{sentence}")


def show_image(path: Path, alt: str = "", subtitle: str = "") -> None:
    """A chart a stage saved (PNG), shown as it was written, with its alt text (what it shows, for
    a screen reader) and a subtitle defining its metric and units."""
    import base64

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    sub = f'<p class="fiveg-subtitle">{html.escape(subtitle)}</p>' if subtitle else ""
    show_html(
        TABLE_CSS + f'<figure class="fiveg-figure">{sub}<img src="data:image/png;base64,{data}" '
        f'alt="{html.escape(alt or subtitle or Path(path).stem, quote=True)}" style="max-width:100%"></figure>'
    )
