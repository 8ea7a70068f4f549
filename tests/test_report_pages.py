"""The report as a reviewer reads it, built the way a user builds it: a relative `--out` with a space
in it, from the project root (zh) and from another folder (en). Every local link resolves, no stray
folder in notebooks/, executed notebooks without stderr or machine paths, no developer text, no
untranslated words, and in headless Chromium at 1400 px: no tofu and no table cut off."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from conftest import CHROMIUM_OFFLINE

from analysis.clean.ledger import MERGE_REASONS, QUARANTINE_REASONS
from analysis.config import NOTEBOOKS_DIR, PROJ_ROOT, load_city
from analysis.report import runner as report
from analysis.report.chrome import ANNEX

pytestmark = pytest.mark.slow
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def _build(cwd: Path, out: str, lang: str, processed: Path) -> Path:
    here = Path.cwd()
    os.chdir(cwd)
    try:
        return report.run_report(
            "karamay", as_of="2021-03-22", out=out, lang=lang, processed=processed, log=lambda *a: None
        )[0]
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One report per language (about 30 s each), with the notebooks folder and the figures' warnings watched."""
    root = tmp_path_factory.mktemp("pages")
    before = sorted(p.name for p in NOTEBOOKS_DIR.iterdir())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zh = _build(PROJ_ROOT, os.path.relpath(root / "zh reports", PROJ_ROOT), "zh", root / "processed")
        en = _build(root, "en reports", "en", root / "processed")
    return {
        "zh": zh.resolve(),
        "en": en.resolve(),
        "notebooks_before": before,
        "glyph_warnings": [str(w.message) for w in caught if "Glyph" in str(w.message)],
    }


def _pages(folder: Path) -> list[Path]:
    return [folder.parent.parent / "index.html", folder.parent / "index.html", *sorted(folder.glob("*.html"))]


def _visible_text(page: Path) -> str:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    for tag in soup(["script", "style", "iframe"]):
        tag.decompose()
    # (a record quoted as the cleaning wrote it, marked so: English with the data's own words in it)
    for tag in soup.find_all(attrs={"data-as-written": True}):
        tag.decompose()
    return soup.get_text(" ")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_local_link_resolves_with_a_relative_out(reports, lang):
    folder = reports[lang]
    assert " reports" in str(folder)
    for page in _pages(folder):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        refs = [a.get("href") for a in soup.find_all("a")] + [i.get("src") for i in soup.find_all("img")]
        for ref in filter(None, refs):
            if ref.startswith(("http://", "https://", "#", "mailto:", "data:")):
                continue
            assert (page.parent / ref.split("#")[0]).exists(), f"{page.name}: {ref} does not resolve"
        if page.parent == folder and page.name not in ("index.html", "coverage_map.html"):
            assert soup.find("nav", class_="fiveg-nav") and soup.find("a", href=ANNEX), f"{page.name}: no navigation"
        assert "No description has been provided" not in page.read_text(encoding="utf-8"), page.name
    coverage = BeautifulSoup((folder / "03_coverage.html").read_text(encoding="utf-8"), "html.parser")
    assert coverage.find("a", href="coverage_map.html") and (folder / "coverage_map.html").is_file()
    csvs = [
        a["href"]
        for a in BeautifulSoup((folder / "05_summary.html").read_text(encoding="utf-8"), "html.parser").find_all(
            "a", href=re.compile(r"\.csv$")
        )
    ]
    assert len(csvs) >= 4 and all(len(pd.read_csv(folder / c)) for c in csvs)
    assert sorted(p.name for p in NOTEBOOKS_DIR.iterdir()) == reports["notebooks_before"], "stray folder in notebooks/"


def test_the_map_opens_on_the_whole_city_with_the_districts_named(reports):
    import geopandas as gpd

    page = (reports["zh"] / "coverage_map.html").read_text(encoding="utf-8")
    south, west, north, east = map(
        float, re.search(r'"view":\[\[([\d.]+),([\d.]+)\],\[([\d.]+),([\d.]+)\]\]', page).groups()
    )
    # the whole city (its districts' bounds), every district named on the map, not a close-up of one gap
    minx, miny, maxx, maxy = gpd.read_file(PROJ_ROOT / "data" / "raw" / "karamay" / "districts.geojson").total_bounds
    assert (south, west, north, east) == pytest.approx((miny, minx, maxy, maxx), abs=1e-5)
    assert page.count('"label_at":') == 4 and "cm-dlabel" in page
    assert "imperial: false" in page and "collapsed: true" in page and "已覆盖：" in page


def test_figures_draw_no_tofu(reports):
    assert reports["glyph_warnings"] == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_executed_notebooks_carry_no_stderr_and_no_temporary_paths(reports, lang):
    folder = reports[lang]
    for nb_path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(str(nb_path), as_version=4)
        for cell in nb.cells:
            for o in cell.get("outputs", []):
                assert o.get("name") != "stderr", f"{nb_path.name}: {o.get('text', '')[:200]}"
                # a step shows its table once and returns it: the cell assigns it, nothing is echoed
                assert o.get("output_type") != "execute_result", f"{nb_path.name}: {cell.source}"
            if "injected-parameters" in cell.metadata.get("tags", []):
                assert 'out = "."' in cell.source and ".building-" not in cell.source, cell.source
                assert str(PROJ_ROOT) not in cell.source and str(folder) not in cell.source, cell.source
    prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    assert str(PROJ_ROOT) not in json.dumps(prov, ensure_ascii=False)
    assert (
        all(not f["path"].startswith("/") for f in prov["files"])
        and prov["city_config"] == "data/raw/karamay/city.toml"
    )

    def no_constant(name):
        raise AssertionError(f"headline.json holds {name}")

    head = json.loads((folder / "headline.json").read_text(encoding="utf-8"), parse_constant=no_constant)
    assert "nan" not in [v for v in head.values() if isinstance(v, str)]
    assert head["verdict"]


def test_chinese_pages_hold_no_developer_text_or_english_prose(reports):
    codes = set(QUARANTINE_REASONS) | set(MERGE_REASONS)
    for page in _pages(reports["zh"]):
        text = _visible_text(page)
        for bad in (
            "analysis.coverage",
            "grid 模式",
            "unknown (",
            "文章",
            "说明（英文）",
            "No CJK",
            "too little history",
            "target_share",
            "](",
            "上期报告",
            "取自缓存",
            "Source:",
        ):
            assert bad not in text, f"{page.name}: {bad!r}"
        assert not codes & set(re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", text)), page.name
        names_out = text
        while True:  # English forms of names are in full-width brackets: 克拉玛依区（Karamay District）
            shorter = re.sub(r"（[^（）]*）", " ", names_out)
            if shorter == names_out:
                break
            names_out = shorter
        prose = re.findall(r"[A-Za-z]+(?:[ ,;:'’-]+[A-Za-z]+){3,}", names_out)
        assert not prose, f"{page.name}: English prose {prose[:3]}"
    clean = _visible_text(reports["zh"] / "01_clean.html")
    assert "位于市域外" in clean and "同一站址编码" in clean
    # each workbook with a skipped sheet, said in Chinese, its note quoted as written (folded)
    assert "各文件的读取说明" in clean and "铁塔_5G站址建设跟踪表.xlsx ：读取的工作表：站址跟踪" in clean
    summary = _visible_text(reports["zh"] / "05_summary.html")
    assert summary.index("结论") < summary.index("与上月相比的变化") < summary.index("目标、进度与达成概率")
    assert "下期报告 2021-04-22" in summary


def test_english_pages_hold_chinese_only_in_names_with_their_english_form(reports):
    city = load_city("karamay")
    sites = pd.read_csv(city.sites_path)
    names = set(sites["name_zh"]) | {d.name_zh for d in city.districts} | {city.name_zh}
    stations = pd.read_parquet(next((reports["en"].parent.parent.parent / "processed").rglob("stations.parquet")))
    station_names = set(stations["name"].dropna().astype(str))
    # the sheets and columns of the input files the clean page names (romanised, the original in brackets)
    summary = json.loads(
        next((reports["en"].parent.parent.parent / "processed").rglob("clean_summary.json")).read_text()
    )
    file_names = {str(x) for f in summary["files"] for x in [f.get("sheet") or "", *(f.get("columns_not_read") or [])]}
    allowed = {run for name in names | station_names | file_names for run in CJK.findall(name)}
    for page in _pages(reports["en"]):
        # file names (the annex's inputs, the charts' sources) are names
        text = re.sub(r"\S*/\S*|[^\s,、]+\.(?:xlsx|xls|csv|txt)\b", " ", _visible_text(page))
        stray = {run for run in CJK.findall(text) if run not in allowed}
        assert not stray, f"{page.name}: {sorted(stray)[:10]}"
    key_sites = _visible_text(reports["en"] / "03_coverage.html")
    assert "World Devil City (Urho Ghost City) Scenic Area (世界魔鬼城景区)" in key_sites


# --- in the browser ---------------------------------------------------------------------------

CHECK_SCRIPT = """<script>
(function () {
  var out = {fonts: {}, over: [], doc: [document.documentElement.scrollWidth, window.innerWidth],
             text: document.body.innerText};
  // the text of each element, by the font family list it is drawn with
  document.querySelectorAll('body *').forEach(function (e) {
    var own = Array.prototype.filter.call(e.childNodes, function (n) { return n.nodeType === 3; })
      .map(function (n) { return n.textContent; }).join('').trim();
    if (!own || e.closest('script,style,pre#fiveg-check')) return;
    var f = getComputedStyle(e).fontFamily; out.fonts[f] = (out.fonts[f] || '') + own;
  });
  var boxes = 'table, .fiveg-scroll, .jp-OutputArea-output, .jp-RenderedHTMLCommon';
  document.querySelectorAll(boxes).forEach(function (e) {
    if (e.scrollWidth > e.clientWidth + 1) {
      out.over.push(e.tagName + '.' + e.className + ' ' + e.scrollWidth + '>' + e.clientWidth);
    }
  });
  var pre = document.createElement('pre'); pre.id = 'fiveg-check'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""

CHROMIUM = [
    *CHROMIUM_OFFLINE,
    "--window-size=1400,3000",
    "--hide-scrollbars",
]


def _font_files(families: list[str]) -> list[tuple[str, int]]:
    """The font files fontconfig (as Chromium on Linux) resolves for a CSS family list, in order."""
    found = []
    for family in families:
        out = subprocess.run(
            ["fc-match", "-f", "%{family}|%{file}|%{index}", family], capture_output=True, text=True, check=False
        ).stdout
        if out.count("|") == 2:
            got, file, index = out.split("|")
            if family.lower() in [g.strip().lower() for g in got.split(",")]:
                found.append((file, int(index or 0)))
    return found


def _uncovered(text: str, fonts: list[tuple[str, int]]) -> set[str]:
    """Characters of `text` that none of the page's fonts (by their cmap) can draw: tofu, or a glyph left to
    Chromium's last-resort fallback, in another style than the page's."""
    from fontTools.ttLib import TTFont

    cmaps = [set(TTFont(f, fontNumber=i, lazy=True).getBestCmap()) for f, i in fonts]
    return {c for c in text if not c.isspace() and not any(ord(c) in cmap for cmap in cmaps)}


@pytest.mark.browser
@pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("fc-match") is None,
    reason="needs Debian's chromium and fontconfig (.ci/run installs them)",
)
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", ["index.html", "05_summary.html", "03_coverage.html", "../index.html"])
def test_chromium_at_1400_px_no_tofu_no_table_cut_off(reports, lang, page, tmp_path):
    # (../index.html: the city's list of reports, a column per goal: 1,588 px wide in English with three)
    source = (reports[lang] / page).resolve()
    folder, page = source.parent, source.name
    probe = folder / f".probe-{page}"
    probe.write_text(source.read_text(encoding="utf-8").replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    try:
        dom = subprocess.run(
            ["chromium", *CHROMIUM, f"--user-data-dir={tmp_path / 'p'}", "--dump-dom", probe.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        shot = tmp_path / "shot.png"
        subprocess.run(
            [
                "chromium",
                *CHROMIUM,
                f"--user-data-dir={tmp_path / 'p2'}",
                f"--screenshot={shot}",
                (folder / page).as_uri(),
            ],
            capture_output=True,
            timeout=120,
        )
    finally:
        probe.unlink()
    check = json.loads(BeautifulSoup(dom, "html.parser").find("pre", id="fiveg-check").get_text())
    assert check["doc"][0] <= check["doc"][1], f"the page is wider than the window: {check['doc']}"
    assert check["over"] == [], check["over"]
    if folder == reports[lang] or lang == "zh":  # (the English list of reports names no place in Chinese)
        assert "克拉玛依" in check["text"]  # Chinese names are on the English pages too
    for family, text in check["fonts"].items():
        families = [f.strip().strip("'\"") for f in family.split(",")]
        fonts = _font_files(families)
        assert fonts, f"none of {families} is installed"
        # the known string: the district names, in every font list the page uses
        assert _uncovered(text + "克拉玛依区独山子白碱滩乌尔禾", fonts) == set(), family
    from PIL import Image

    img = Image.open(shot).convert("L")
    assert img.size == (1400, 3000) and sum(1 for c in img.resize((64, 100)).histogram() if c) > 8


@pytest.mark.skipif(shutil.which("fc-match") is None, reason="needs fontconfig")
def test_the_tofu_check_fails_on_a_character_the_font_lacks():
    latin = _font_files(["DejaVu Sans"])
    assert latin and _uncovered("Karamay 克拉玛依", latin) == set("克拉玛依")


def test_blocker_counts_tell_no_blocker_from_not_known():
    """A pipeline site that reported no blocker is 'none'; only a site that has left the stage it was
    reported in since is 'not known' (every site without a blocker was called not known before)."""
    from types import SimpleNamespace

    from analysis.report.pages.taskforce import blocker_counts

    sites = pd.DataFrame(
        {
            "stage": ["planned", "construction", "site_access", "construction", "on_air", "unknown"],
            "blocker": [None, "power", None, None, None, None],
            "blocker_note": [
                None,
                None,
                "site left this stage after 2021-03-22: its blocker on that date is not known",
                None,
                None,
                None,
            ],
            "is_blocker_not_known": [False, False, True, False, False, False],
        }
    )
    ctx = SimpleNamespace(taskforce=lambda: SimpleNamespace(sites=sites))
    counts = blocker_counts(ctx).set_index("blocker")["sites"].to_dict()
    # every site in the pipeline, as the funnel counts it: one of a status not understood too (it was left out:
    # "12 in the pipeline" beside the funnel's 14)
    assert counts == {"none": 3, "power": 1, "not_known": 1}


def test_the_blocker_sentence_of_a_city_with_no_pipeline_says_so():
    """Records with no planned site (an operator's list of stations on air): one sentence saying there is no
    pipeline (it was "在途站址 0 个：。", a colon before nothing)."""
    from types import SimpleNamespace

    from analysis.report.pages.taskforce import blocker_sentence

    sites = pd.DataFrame({"stage": ["on_air"], "blocker": [None], "is_blocker_not_known": [False]})
    tf = SimpleNamespace(sites=sites, extract=pd.Timestamp("2021-10-15"), undated_not_counted=0)
    for lang, words in (("zh", "无在途站址"), ("en", "No site in the pipeline")):
        ctx = SimpleNamespace(taskforce=lambda: tf, lang=lang, as_of=pd.Timestamp("2021-10-31"))
        said = blocker_sentence(ctx)
        assert words in said and "：。" not in said and "2021-10-31" in said


def test_a_gap_names_a_key_site_to_check_as_to_check():
    """A gap at a site whose position is not known well enough is not a 'site left uncovered': its name
    carries 'to check', as the key-site table says 待核实 (the gap list named them plainly)."""
    from types import SimpleNamespace

    from analysis.report.pages.coverage import _site_names

    sites = pd.DataFrame({"name_zh": ["甲", "乙"], "name_en": ["Jia", "Yi"], "verdict": ["uncertain", "uncovered"]})
    cov = SimpleNamespace(sites=sites)
    assert _site_names(cov, "甲; 乙", "zh") == "甲（待核实）; 乙"
    assert _site_names(cov, "甲; 乙", "en") == "Jia (to check); Yi"
    assert _site_names(SimpleNamespace(sites=sites.drop(columns="verdict")), "甲", "en") == "Jia"


def test_the_key_site_sentence_lists_sites_outside_the_city_and_sites_counted_elsewhere():
    """A site outside every district is named with what to check, one whose point lies in another district
    than sites.csv says is named with both (the stage counts it where its point is)."""
    from analysis.report.pages.coverage import _site_location_notes

    sites = pd.DataFrame(
        {
            "name_zh": ["甲", "乙", "丙"],
            "name_en": ["Jia", "Yi", "Bing"],
            "district": ["东区", None, "西区"],
            "district_given": ["西区", "东区", "西区"],
            "is_in_city": [True, False, True],
            "district_note": ["sites.csv says 西区; the point lies in 东区", "outside every district", None],
        }
    )
    zh, en = _site_location_notes(sites, "zh"), _site_location_notes(sites, "en")
    assert "之外" in zh and "：乙。" in zh and "甲 (西区 → 东区)" in zh and "丙" not in zh
    assert "Outside every district" in en and ": Yi." in en and "Jia (西区 → 东区)" in en
    assert _site_location_notes(sites.drop(columns=["district_note"]), "en") == ""
    # every note empty: the column reads back from the CSV as floats (NaN), and no sentence is said
    clean = sites.assign(district_note=np.nan, is_in_city=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _site_location_notes(clean, "zh") == ""
