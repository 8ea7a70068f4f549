"""Figure helpers shared by the stages: a CJK font for matplotlib and the language a figure can
be labelled in. Low in the package (imports nothing from the stages), so forecast and taskforce
can both use it without importing each other."""

from __future__ import annotations

import warnings

from analysis.errors import UsageError

#: Fonts that draw Chinese, in order of preference.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Source Han Sans CN",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC")

_CJK_WARNED = False


def set_cjk_font(warn: bool = True) -> str | None:
    """Make matplotlib draw Chinese: put the first installed CJK font first in `font.sans-serif`.

    Returns the font's name, or None (with one warning per session) when none is installed:
    callers then label in English rather than draw empty boxes.
    """
    global _CJK_WARNED
    import matplotlib
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            current = [f for f in matplotlib.rcParams["font.sans-serif"] if f != name]
            matplotlib.rcParams["font.sans-serif"] = [name] + current
            matplotlib.rcParams["font.family"] = "sans-serif"
            matplotlib.rcParams["axes.unicode_minus"] = False
            return name
    if warn and not _CJK_WARNED:
        warnings.warn("no CJK font installed (e.g. apt-get install fonts-noto-cjk): figures fall back to English",
                      stacklevel=2)
        _CJK_WARNED = True
    return None


def figure_lang(lang: str) -> str:
    """The language a figure can be labelled in: 'zh' needs a CJK font (`set_cjk_font`), and
    falls back to 'en' (with one warning) rather than draw empty boxes."""
    if lang not in ("en", "zh"):
        raise UsageError(f"lang must be 'en' or 'zh', got {lang!r}")
    if lang == "zh" and set_cjk_font() is None:
        return "en"
    return lang
