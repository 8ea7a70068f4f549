"""The CJK font for figures: found after installation even when matplotlib's font cache was built
before the font was installed, and behind DejaVu Sans in English figures, so no figure draws tofu."""

from __future__ import annotations

import warnings

import pytest

from analysis import figures


@pytest.fixture
def stale_cache(monkeypatch):
    """matplotlib's font list as it is when its cache was built before fonts-noto-cjk was installed."""
    from matplotlib import font_manager

    if not figures.find_cjk_font_files():
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    latin = [f for f in font_manager.fontManager.ttflist if f.name not in figures.CJK_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", latin)
    monkeypatch.setattr(figures, "_REGISTERED", False)
    font_manager.fontManager._findfont_cached.cache_clear()
    yield
    font_manager.fontManager._findfont_cached.cache_clear()


def _draw(text: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_a_font_installed_after_the_cache_is_registered(stale_cache):
    import matplotlib

    with matplotlib.rc_context():
        assert figures.set_cjk_font(warn=False) in figures.CJK_FONTS
        assert _draw("克拉玛依区 5G 基站") == []


def test_english_figures_draw_chinese_names(stale_cache):
    import matplotlib

    with matplotlib.rc_context():
        assert figures.figure_lang("en") == "en"
        assert matplotlib.rcParams["font.family"][0] == "DejaVu Sans"
        assert _draw("Karamay District (克拉玛依区)") == []


def test_without_any_cjk_font_figures_fall_back_to_english(monkeypatch):
    from matplotlib import font_manager

    latin = [f for f in font_manager.fontManager.ttflist if f.name not in figures.CJK_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", latin)
    monkeypatch.setattr(figures, "find_cjk_font_files", lambda: [])
    monkeypatch.setattr(figures, "_REGISTERED", False)
    monkeypatch.setattr(figures, "_CJK_WARNED", False)
    import matplotlib

    with matplotlib.rc_context(), pytest.warns(UserWarning, match="no CJK font"):
        assert figures.figure_lang("zh") == "en"
    with pytest.raises(Exception, match="lang must be"):
        figures.figure_lang("fr")
