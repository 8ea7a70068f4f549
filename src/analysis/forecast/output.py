"""The forecast's files: forecast.csv and model.json (with the fan chart when asked)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.forecast.models import Forecast
from analysis.forecast.plots import plot_fan
from analysis.forecast.series import count_decimals

# --------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------


def forecast_csv_frame(fc: Forecast, horizon: int | None = None) -> pd.DataFrame:
    t = fc.table if horizon is None else fc.table.iloc[:horizon]
    out = t.copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out


def _decimals(history: pd.Series) -> int:
    """Decimals to write: the series' own precision plus one (integers -> 1 decimal)."""
    return count_decimals(history) + 1


def write_forecast(
    fc: Forecast,
    out: str | Path,
    horizon: int | None = None,
    lang: str = "en",
    figure: bool = True,
    extra: dict | None = None,
) -> list[Path]:
    """Write forecast.csv, model.json (and forecast.png) into `out`; byte-identical for the same input."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    digits = _decimals(fc.history)
    frame = forecast_csv_frame(fc, horizon)
    csv_path = out / "forecast.csv"
    frame.to_csv(csv_path, index=False, float_format=f"%.{digits}f", lineterminator="\n")
    doc = fc.to_json_dict()
    if extra:
        doc.update(extra)
    json_path = out / "model.json"
    json_path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths = [csv_path, json_path]
    if figure:
        paths.append(save_fan_chart(fc, out, lang))
    return paths


def save_fan_chart(fc: Forecast, out: str | Path, lang: str = "en") -> Path:
    """Draw the fan chart (`plot_fan`) into `out`/forecast.png, byte-identical for the same input."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plot_fan(fc, lang=lang)
    png = Path(out) / "forecast.png"
    fig.savefig(png, dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return png
