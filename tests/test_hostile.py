"""Hostile strings: script and markup in every text that reaches a page are shown as text.

A copy of the bundled city gets script in its city and district names, a key site's name, a
station's name and operator column, and a raw file's name; the whole report is built and every page
is loaded in headless Chromium with the network off. Nothing injected may run or become markup.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from conftest import CHROMIUM_OFFLINE

from analysis.config import RAW_DIR
from analysis.report import runner as report

MARK = "pwned"
# runs if it becomes markup: sets an attribute the DOM dump would show, or adds an element
SCRIPT = f"<script>document.documentElement.setAttribute('data-{MARK}','1')</script>"
IMG = f"<img src=x onerror=\"document.documentElement.setAttribute('data-{MARK}','2')\">"
PAYLOAD = SCRIPT + IMG

pytestmark = [pytest.mark.slow]


def _hostile_city(tmp_path):
    city = tmp_path / "hostile"
    shutil.copytree(RAW_DIR / "karamay", city)
    toml = (city / "city.toml").read_text(encoding="utf-8")
    # TOML multi-line literal strings take the payload's quotes as they are
    lit = "'''"
    toml = toml.replace('name_zh = "克拉玛依市"', f"name_zh = {lit}克拉玛依市{PAYLOAD}{lit}", 1)
    toml = toml.replace('name_en = "Karamay"', f"name_en = {lit}Karamay{PAYLOAD}{lit}", 1)
    toml = toml.replace('name_en = "Urho District"', f"name_en = {lit}Urho{PAYLOAD}{lit}", 1)
    (city / "city.toml").write_text(toml, encoding="utf-8")
    sites = (city / "sites.csv").read_text(encoding="utf-8").splitlines()
    header, first = sites[0].split(","), sites[1]
    name_col = header.index("name_en")
    cells = first.split(",")
    cells[name_col] = f"Ghost City{SCRIPT.replace(',', ' ')}"
    (city / "sites.csv").write_text("\n".join([sites[0], ",".join(cells), *sites[2:]]) + "\n", encoding="utf-8")
    stations = city / "stations"
    (stations / f"{IMG.replace('/', '').replace(chr(34), '')}.csv").write_text(
        "站址编码,基站名称,运营商,经度,纬度,频段,开通时间,状态\n"
        f'650203999001,"站{PAYLOAD.replace(chr(34), chr(39))}","中国移动{SCRIPT}",'
        "84.8800,45.5800,2.6GHz,2020-05-12,已开通\n",
        encoding="utf-8",
    )
    return city


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    city = _hostile_city(tmp)
    out = tmp / "reports"
    report.run_report(
        str(city), as_of="2021-03-22", out=str(out), processed=str(tmp / "processed"), log=lambda *_: None
    )
    return out


def test_no_injected_markup_in_any_page(hostile_report):
    pages = sorted(hostile_report.rglob("*.html"))
    assert len(pages) >= 7
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>document.documentElement" not in text, page.name
        assert not re.search(r"<img src=x onerror", text), page.name
    summary = (hostile_report / "hostile" / "2021-03-22" / "05_summary.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in summary or "\\u003cscript" in summary  # shown as text, not dropped


@pytest.mark.browser
@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="needs Debian's chromium (.ci/run installs it in CI)",
)
def test_nothing_injected_runs_in_the_browser_offline(hostile_report, tmp_path):
    folder = hostile_report / "hostile" / "2021-03-22"
    pages = ["index.html", "01_clean.html", "03_coverage.html", "05_summary.html"]
    for i, page in enumerate(pages):
        cmd = [
            "chromium",
            *CHROMIUM_OFFLINE,
            f"--user-data-dir={tmp_path / f'profile{i}'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (folder / page).as_uri(),
        ]
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
        assert len(dom) > 1000, page
        assert f"data-{MARK}=" not in dom, f"injected script ran in {page}"
