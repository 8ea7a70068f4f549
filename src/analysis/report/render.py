"""The report's HTML templates (`analysis/templates/`) and their one Jinja environment, below both the
page chrome (annex) and the index pages that fill them in."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, keep_trailing_newline=True
    )


def render_template(name: str, **values) -> str:
    """A template of `analysis/templates/` filled in; every value is escaped (the CSS is ours)."""
    css = (TEMPLATES / "index.css").read_text(encoding="utf-8")
    return _environment().get_template(name).render(css=css, **values)
