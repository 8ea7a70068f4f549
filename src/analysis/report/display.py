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

#: Mimetype and output-metadata key of a recorded value (invisible in the HTML report).
RECORD_MIME = "application/vnd.fiveg-monitor.record+json"
RECORD_KEY = "fiveg_record"


def record(name: str, value) -> None:
    """Record a headline number in the notebook's outputs (read back by `read_records`): the
    report index and the tests use them; the HTML renderer leaves them out."""
    from IPython.display import display

    if isinstance(value, (np.integer,)):
        value = int(value)
    elif isinstance(value, (np.floating,)):
        value = float(value)
    display(
        {RECORD_MIME: {"name": name, "value": value}, "text/plain": f"recorded: {name} = {value!r}"},
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
    """HTML made by this package (data in it already escaped)."""
    from IPython.display import HTML, display

    display(HTML(text))


def table_html(df: pd.DataFrame, caption: str = "", source: str = "") -> str:
    """A people's table: already formatted strings, escaped, numbers right-aligned, with a caption
    and a source line."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for v in r:
            text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            numeric = bool(text) and re.fullmatch(r"[\d,.\s%+\-−–<>()/→]+", text) is not None
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
.fiveg-table th{background:#eef2f7;padding:4px 10px;border-bottom:2px solid #9aa9bb;white-space:nowrap}
.fiveg-table td{padding:3px 10px;border-bottom:1px solid #dde3ea}
.fiveg-table td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.fiveg-table caption{caption-side:top;text-align:left;font-weight:600;padding:2px 0 4px 0}
.fiveg-source{font-size:11px;color:#555;margin:0 0 1em 0}
.fiveg-box{border:1px solid #9aa9bb;background:#f7f9fb;padding:8px 14px;margin:1em 0;font-size:13px}
.fiveg-box h4{margin:0.2em 0 0.4em 0}
.fiveg-note{border-left:4px solid #e0a800;background:#fff8e1;padding:6px 12px;margin:0.6em 0;font-size:13px}
.fiveg-headline{font-size:15px;line-height:1.6}
</style>"""


def show_table(df: pd.DataFrame, caption: str = "", source: str = "") -> pd.DataFrame:
    """Show a people's table; return it, for the analyst who wants to filter or plot it."""
    show_html(TABLE_CSS + table_html(df, caption, source))
    return df


def show_figure(fig) -> None:
    """A matplotlib figure, shown once and closed."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def show_step(heading: str, sentence: str) -> None:
    """A step's heading and the sentence that states its numbers."""
    show_markdown(f"### {heading}\n\n{sentence}")


def show_image(path: Path) -> None:
    """A chart a stage saved (PNG), shown as it was written."""
    from IPython.display import Image, display

    display(Image(filename=str(path)))
