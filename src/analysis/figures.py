"""Figure helpers shared by the stages: a CJK font for matplotlib and the language a figure can
be labelled in. Low in the package (imports nothing from the stages), so forecast and taskforce
can both use it without importing each other."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

from analysis.errors import UsageError

#: Fonts that draw Chinese, in order of preference.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
#: Where Debian/Ubuntu, Fedora, Arch and macOS put CJK font files: looked at when fontconfig's
#: `fc-list` is missing.
CJK_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK*.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK*.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK*.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-*.tt[cf]",
    "/usr/share/fonts/wenquanyi/*/wqy-*.tt[cf]",
    "/Library/Fonts/*.tt[cf]",
    "/System/Library/Fonts/PingFang.ttc",
)

#: The coverage map's basemaps by name (`maps.BASEMAPS` draws them): here, low and light, so that a report's
#: notebooks check the parameter without importing folium (0.6 s a notebook, five a report).
BASEMAP_NAMES = ("osm", "amap", "none")

_CJK_WARNED = False
_REGISTERED = False


def find_cjk_font_files() -> list[Path]:
    """Files of installed fonts that draw Chinese: fontconfig's list (`fc-list :lang=zh`), else the
    usual install folders. Sorted, so the same font wins on every run."""
    files: set[Path] = set()
    if shutil.which("fc-list"):
        try:
            listed = subprocess.run(
                ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            listed = ""
        files |= {Path(line.split(":")[0].strip()) for line in listed.splitlines() if line.strip()}
    for pattern in CJK_FONT_GLOBS:
        root = Path(pattern.split("*")[0]).parent
        if root.is_dir():
            files |= set(root.glob(str(Path(pattern).relative_to(root))))
    return sorted(f for f in files if f.suffix.lower() in (".ttc", ".ttf", ".otf") and f.is_file())


def register_cjk_fonts() -> list[str]:
    """Add the installed CJK font files to matplotlib's font list when its cache lacks them (the
    font was installed after matplotlib first built the cache): in memory only, so the user's
    cache is not rewritten. Returns the CJK family names matplotlib knows afterwards."""
    global _REGISTERED
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    if not _REGISTERED and not known & set(CJK_FONTS):
        for path in find_cjk_font_files():
            try:
                font_manager.fontManager.addfont(str(path))
            except (OSError, RuntimeError, ValueError):  # an unreadable font file: try the next one
                continue
        _REGISTERED = True
        known = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in known]


def set_cjk_font(warn: bool = True) -> str | None:
    """Make matplotlib draw Chinese: put the first installed CJK font first in `font.sans-serif`,
    registering the font files first when matplotlib's cache was built before they were installed.

    Returns the font's name, or None (with one warning per session) when none is installed:
    callers then label in English rather than draw empty boxes.
    """
    global _CJK_WARNED
    import matplotlib

    found = register_cjk_fonts()
    if found:
        name = found[0]
        current = [f for f in matplotlib.rcParams["font.sans-serif"] if f != name]
        matplotlib.rcParams["font.sans-serif"] = [name] + current
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["axes.unicode_minus"] = False
        return name
    if warn and not _CJK_WARNED:
        warnings.warn(
            "no CJK font installed (e.g. apt-get install fonts-noto-cjk): figures fall back to English", stacklevel=2
        )
        _CJK_WARNED = True
    return None


def set_latin_font_with_cjk_fallback() -> str | None:
    """For English figures: DejaVu Sans first, a CJK font behind it, so a Chinese name in an English
    figure (a district, a site) is drawn instead of empty boxes. Returns the CJK font or None."""
    import matplotlib

    found = register_cjk_fonts()
    rest = [f for f in matplotlib.rcParams["font.sans-serif"] if f not in ("DejaVu Sans", *found[:1])]
    matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans", *found[:1], *rest]
    # matplotlib falls back glyph by glyph only along an explicit list of families, not within
    # the generic "sans-serif"
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *found[:1]]
    return found[0] if found else None


def figure_lang(lang: str) -> str:
    """The language a figure can be labelled in: 'zh' needs a CJK font (`set_cjk_font`), and
    falls back to 'en' (with one warning) rather than draw empty boxes. English figures get a CJK
    fallback font for names that stay Chinese."""
    if lang not in ("en", "zh"):
        raise UsageError(f"lang must be 'en' or 'zh', got {lang!r}")
    if lang == "zh" and set_cjk_font() is None:
        lang = "en"
    if lang == "en":
        set_latin_font_with_cjk_fallback()
    return lang


def count_axis(axis) -> None:
    """A chart's axis of counts written as the pages write them: thousands separators and no offset or power
    of ten over the axis (a national count read "1e6" above ticks 0.5 … 4.5 under "stations on air"); ticks
    below 1,000 are written as matplotlib writes them."""
    import re

    from matplotlib.ticker import ScalarFormatter

    class _CountFormatter(ScalarFormatter):
        def __call__(self, x, pos=None):
            text = super().__call__(x, pos)
            # thousands separators in the integer part of the tick ("1000000" -> "1,000,000"; "0.5" stays)
            return re.sub(r"\d{4,}", lambda m: f"{int(m.group()):,}", text, count=1)

    formatter = _CountFormatter(useOffset=False)
    formatter.set_scientific(False)
    axis.set_major_formatter(formatter)


def rank_districts(score, then=None):
    """The order in which the pages' tables and the charts show districts when not all fit: the largest `score`
    first (missing or not finite last), ties by the largest `then` (when given), then the city's order. Positions into
    `score` (numpy's stable lexsort: the last key first)."""
    import numpy as np

    s = np.asarray(score, dtype=float)
    s = np.where(np.isfinite(s), s, -np.inf)
    t = np.zeros(len(s)) if then is None else np.nan_to_num(np.asarray(then, dtype=float), nan=-np.inf)
    return np.lexsort((np.arange(len(s)), -t, -s))


def _missing(value) -> bool:
    """None or a number that is not finite (NaN, inf): what the pages write as '–'."""
    import math
    import numbers

    real = isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)  # (numpy's floats too)
    return value is None or (real and not math.isfinite(value))


def count_text(value) -> str:
    """A count for people, as every page and map writes one: thousands separators, '–' for missing."""
    return "–" if _missing(value) else f"{int(round(float(value))):,}"


def number_text(value, digits: int = 1) -> str:
    """A measure for people (an area, a share) to `digits` decimals with thousands separators, '–' for missing:
    the pages' '3,833.0 km²', which a map popup wrote '3833.0'."""
    return "–" if _missing(value) else f"{float(value):,.{digits}f}"
