"""The report run: parameter checks, the cache of cleaned data, atomic replace of a report folder, a
failing notebook, and the rendered HTML (no code, headline numbers, links resolve, figures embedded,
and what Chromium shows with the network off)."""

from __future__ import annotations

import json
import os
import re
import shutil
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from analysis.cli import main
from analysis.config import PROJ_ROOT, load_city
from analysis.errors import BadInputError, UsageError
from analysis.report import inputs
from analysis.report import pages as briefing
from analysis.report import runner as report

# --- parameters ------------------------------------------------------------------------------


def test_notebooks_get_absolute_paths_for_a_city_folder_given_relative(tmp_path, monkeypatch):
    """The notebooks run in notebooks/: a city, stations or processed folder named relative to where
    the command was started must reach them as absolute paths (a 10^5-station city given as
    benchmarks/out/cities/... failed in the first notebook with "unknown city")."""
    shutil.copytree(
        PROJ_ROOT / "data" / "raw" / "karamay", tmp_path / "mycity", ignore=shutil.ignore_patterns("stations")
    )
    monkeypatch.chdir(tmp_path)
    params = report._notebook_parameters(load_city("mycity"), "2021-03-22", "zh", None, "st", "proc", None, tmp_path)
    assert params["city"] == str(tmp_path / "mycity")
    assert params["stations"] == str(tmp_path / "st") and params["processed"] == str(tmp_path / "proc")
    assert load_city(params["city"]).key == "mycity"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--city", "atlantis"], "unknown city 'atlantis'"),
        (["--city", "karamay", "--as-of", "2021-02-30"], "is not a date"),
        (["--city", "karamay", "--as-of", "yesterday"], "is not a date"),
        (["--city", "karamay", "--months", "2021-13:2021-12"], "is not YYYY-MM:YYYY-MM"),
        (["--city", "karamay", "--months", "2021-05:2021-01"], "ends before it starts"),
        (["--city", "karamay", "--as-of", "2021-03-22", "--months", "2021-01:2021-02"], "not both"),
    ],
)
def test_bad_parameters_give_one_line_and_status_2(argv, words, capsys, tmp_path):
    assert main(["report", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and words in err
    assert not any(tmp_path.iterdir()), "nothing is written before the parameters are checked"


def test_as_of_outside_the_data(capsys, tmp_path):
    assert (
        main(
            [
                "report",
                "--city",
                "karamay",
                "--as-of",
                "2030-01-01",
                "--out",
                str(tmp_path / "r"),
                "--processed",
                str(tmp_path / "p"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "outside the data" in err and "2019-12-01" in err
    assert not (tmp_path / "r").exists()


def test_check_as_of_and_months():
    city = load_city("karamay")
    extract = pd.Timestamp("2022-01-10")
    assert inputs.check_as_of(None, city, extract) == extract
    assert inputs.check_as_of("2021-03-22", city, extract) == pd.Timestamp("2021-03-22")
    with pytest.raises(UsageError, match="outside the data"):
        inputs.check_as_of("2019-11-30", city, extract)
    assert inputs.parse_months("2021-01:2021-03") == ["2021-01", "2021-02", "2021-03"]
    assert inputs.month_as_of("2021-02", city, extract) == pd.Timestamp("2021-02-28")
    assert inputs.month_as_of("2022-01", city, extract) == extract  # the extract's month ends on the extract
    with pytest.raises(UsageError):
        inputs.month_as_of("2022-02", city, extract)


def test_previous_report_date():
    assert briefing.previous_report_date("2021-03-22") == pd.Timestamp("2021-02-22")
    assert briefing.previous_report_date("2021-03-31") == pd.Timestamp("2021-02-28")


def test_no_cjk_font_falls_back_to_english_figures(monkeypatch):
    import analysis.forecast as forecast

    monkeypatch.setattr(forecast, "set_cjk_font", lambda warn=True: None)
    lang, fig_lang, note = briefing.resolve_lang(load_city("karamay"), None)
    assert (lang, fig_lang) == ("zh", "en") and "中文字体" in note
    assert briefing.resolve_lang(load_city("karamay"), "en") == ("en", "en", None)
    with pytest.raises(UsageError):
        briefing.resolve_lang(load_city("karamay"), "fr")


def test_people_formats():
    assert briefing.n(12345.4) == "12,345" and briefing.n(float("nan")) == "–"
    assert briefing.pct(71.013) == "71.0 %"
    assert briefing.prob(0.004) == "< 1 %" and briefing.prob(0.0545) == "5 %" and briefing.prob(1.0) == "> 99 %"
    city = load_city("karamay")
    assert briefing.district_label(city, "乌尔禾区", "zh") == "乌尔禾区（Urho District）"
    assert briefing.district_label(city, "乌尔禾区", "en") == "Urho District (乌尔禾区)"
    html = briefing.table_html(pd.DataFrame({"名称": ["<b>x</b>"], "数": ["1,234"]}))
    assert "&lt;b&gt;" in html and '<td class="num">1,234</td>' in html


def test_one_table_of_words_per_language_with_every_key_the_code_uses():
    import string

    from analysis.report.text import KIND_WORDS, TEXT, say

    assert set(TEXT["zh"]) == set(TEXT["en"]) and all(TEXT["zh"][k] and TEXT["en"][k] for k in TEXT["zh"])
    used = set()
    for module in Path(report.__file__).parent.rglob("*.py"):
        code = module.read_text(encoding="utf-8")
        used |= set(re.findall(r'say\(\s*[^,()]+,\s*"([\w.]+)"', code)) | (
            set(re.findall(r'else "([\w.]+)",', code)) - {"zh", "en"}
        )
    assert len(used) > 150 and not used - set(TEXT["en"]), sorted(used - set(TEXT["en"]))
    # a value named in one language is given to the other too (the words of the whole, {whole} {here} {outside}
    # {reporter}, `say` fills in itself: a language says the whole in whichever of them reads right)
    whole = set(KIND_WORDS["en"])
    for key in TEXT["en"]:
        names = [{f[1] for f in string.Formatter().parse(TEXT[lang][key]) if f[1]} - whole for lang in ("zh", "en")]
        assert names[0] <= names[1] | {"name_zh", "name_en"} or names[1] <= names[0], key
    assert say("zh", "cat.scenic") == "景区" and say("en", "cat.scenic") == "scenic spot"
    assert say("en", "reported_differs", date="2020-12-31", on_air="216", c="215", diff="-1").endswith("(-1).")
    assert [nb for nb, _, _ in report.NOTEBOOKS] == sorted(p.name for p in report.NOTEBOOKS_DIR.glob("*.ipynb"))


def test_index_pages_escape_what_comes_from_the_data(tmp_path):
    from analysis.report.index import write_city_index, write_report_index

    city = load_city("karamay")
    folder = tmp_path / "r" / "karamay" / "2021-03-22"
    folder.mkdir(parents=True)
    prov = {
        "as_of": "2021-03-22",
        "inputs_sha256": "a" * 64,
        "n_input_files": 3,
        "city_config_rel": "<b>x</b>",
        "city_config_sha256": "b" * 64,
        "extract_date": "2022-01-10",
        "extract_rule": "given: 2022-01-10",
        "cache_hit": True,
        "package_version": "1",
        "made": "now",
    }
    headline = {"as_of": "2021-03-22", "on_air_as_of": 224, "on_air_2020-12-31": 216, "prob_reach_2021-12-31": 0.05}
    page = write_report_index(folder, city, "2021-03-22", headline, prov, "zh").read_text(encoding="utf-8")
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page and "由参数给定" in page
    assert '"Noto Sans CJK SC"' in page, "the style sheet is not escaped"
    (folder / "headline.json").write_text(json.dumps(headline), encoding="utf-8")
    city_page = write_city_index(folder.parent, city, "en").read_text(encoding="utf-8")
    assert 'href="2021-03-22/index.html"' in city_page and "5 %" in city_page and "224" in city_page
    assert 'href="karamay/index.html"' in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")


# --- cache -----------------------------------------------------------------------------------


@pytest.fixture
def station_copy(tmp_path):
    src = load_city("karamay").stations_dir
    dst = tmp_path / "stations"
    shutil.copytree(src, dst)
    return dst


def test_cache_is_keyed_on_content_not_file_times(station_copy, tmp_path):
    processed = tmp_path / "processed"
    first = inputs.clean_cached("karamay", stations=station_copy, processed=processed)
    assert not first["hit"] and first["extract"] == pd.Timestamp("2022-01-10")  # records_received in city.toml
    assert (first["folder"] / "stations.parquet").is_file() and (first["folder"] / "cache.json").is_file()
    for f in station_copy.iterdir():  # new file times, same content: reused
        f.touch()
    second = inputs.clean_cached("karamay", stations=station_copy, processed=processed)
    assert second["hit"] and second["key"] == first["key"]
    assert_frame = pd.testing.assert_frame_equal
    # a page that counts reads only its columns, without points, and the whole table is not read for it
    counted = second.station_columns(("on_air_date", "district"))
    assert list(counted.columns) == ["on_air_date", "district", "lon", "lat"] and "stations" not in second
    assert_frame(counted, pd.DataFrame(first["stations"][list(counted.columns)]))
    assert_frame(
        pd.DataFrame(second["stations"].drop(columns="geometry")),
        pd.DataFrame(first["stations"].drop(columns="geometry")),
    )
    csv = next(station_copy.glob("*.csv"))
    csv.write_bytes(csv.read_bytes() + b"\n")  # one byte more: cleaned again
    third = inputs.clean_cached("karamay", stations=station_copy, processed=processed)
    assert not third["hit"] and third["key"] != first["key"]
    given = inputs.clean_cached("karamay", stations=station_copy, processed=processed, extract_date="2022-01-10")
    assert (
        not given["hit"]
        and given["extract"] == pd.Timestamp("2022-01-10")
        and given["summary"]["as_of"] == "2022-01-10"
    )


def test_inputs_key_follows_content_and_place_not_file_times(tmp_path):
    files = [{"path": "/a/x.csv", "sha256": "1" * 64, "bytes": 1}]
    same = [{"path": "/a/x.csv", "sha256": "1" * 64, "bytes": 2}]
    moved = [{"path": "/b/x.csv", "sha256": "1" * 64, "bytes": 1}]  # the cleaned rows name their files
    changed = [{"path": "/a/x.csv", "sha256": "2" * 64, "bytes": 1}]
    assert inputs.inputs_key(files) == inputs.inputs_key(same)
    assert len({inputs.inputs_key(files), inputs.inputs_key(moved), inputs.inputs_key(changed)}) == 3
    assert inputs.inputs_key(files) != inputs.inputs_key(files, extract_date="2022-01-10")


def test_inputs_key_follows_the_package_code_not_only_its_version(monkeypatch):
    """The cleaned stations and stage files are reused only by the code that made them: the same inputs
    under changed code (same version number) give another key, so the report runs its stages again."""
    files = [{"path": "/a/x.csv", "sha256": "1" * 64, "bytes": 1}]
    before = inputs.inputs_key(files)
    fingerprint = inputs.code_fingerprint()
    assert len(fingerprint) == 64 and fingerprint == inputs.code_fingerprint()
    monkeypatch.setattr(inputs, "code_fingerprint", lambda: "0" * 64)
    assert inputs.inputs_key(files) != before


def test_the_code_fingerprint_follows_the_templates_too(tmp_path, monkeypatch):
    """The map's script and the pages' words are written by the stages: a changed template left a cached map."""
    package = tmp_path / "analysis"
    (package / "report").mkdir(parents=True)
    (package / "templates").mkdir()
    (package / "report" / "inputs.py").write_text("x = 1\n", encoding="utf-8")
    (package / "templates" / "map_layers.js.j2").write_text("fitBounds(fit, [290, 10])", encoding="utf-8")
    monkeypatch.setattr(inputs, "__file__", str(package / "report" / "inputs.py"))
    before = inputs.code_fingerprint.__wrapped__()
    (package / "templates" / "map_layers.js.j2").write_text("fitBounds(fit, [290, 90])", encoding="utf-8")
    assert inputs.code_fingerprint.__wrapped__() != before


# --- atomic replace and a failing notebook -----------------------------------------------------


def test_swap_in_replaces_whole_folders(tmp_path):
    dest, tmp = tmp_path / "2021-03-22", tmp_path / ".new"
    dest.mkdir()
    (dest / "old.html").write_text("old")
    tmp.mkdir()
    (tmp / "new.html").write_text("new")
    report._swap_in(tmp, dest)
    assert [p.name for p in dest.iterdir()] == ["new.html"] and not tmp.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["2021-03-22"]


def _tiny_notebooks(folder: Path, failing: str | None = None) -> Path:
    """Five quick notebooks with the real parameters cell; `failing` raises in its third cell."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, _, _ in report.NOTEBOOKS:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [
            nbformat.v4.new_code_cell("from analysis.report import pages as b"),
            nbformat.v4.new_code_cell(
                'city = "karamay"\nas_of = ""\nlang = ""\nbasemap = ""\nstations = ""\n'
                'processed = ""\nextract_date = ""\nout = ""',
                metadata={"tags": ["parameters"]},
            ),
            nbformat.v4.new_code_cell(
                'raise RuntimeError("boom in the test")'
                if name == failing
                else 'b.record("on_air_as_of", 224)\nprint("made as of", as_of)'
            ),
        ]
        nbformat.write(nb, str(folder / name))
    return folder


def test_a_folder_without_the_notebooks_is_one_line_before_any_stage_runs(tmp_path):
    ran = []
    with pytest.raises(BadInputError) as info:
        report.build_report(
            load_city("karamay"),
            pd.Timestamp("2021-03-22"),
            tmp_path / "reports",
            {"key": "x", "extract": "2022-01-10"},
            "zh",
            notebooks_dir=tmp_path / "nowhere",
            log=ran.append,
        )
    assert "notebooks are not there" in str(info.value) and "01_clean.ipynb" in str(info.value)
    assert "\n" not in str(info.value) and not ran and not (tmp_path / "reports" / "karamay" / "2021-03-22").exists()


@pytest.mark.parametrize("key", ["sites", "urban_areas"])
def test_a_reference_file_city_toml_names_but_that_is_gone_is_one_line(tiny_city, key):
    """A missing sites.csv or built-up areas file was a FileNotFoundError from hashing the inputs."""
    from analysis.report.inputs import input_files

    city = load_city(tiny_city)
    (tiny_city / "stations").mkdir(exist_ok=True)
    (tiny_city / "stations" / "a.csv").write_text("站址编码,经度,纬度\nA,84.85,45.60\n", encoding="utf-8")
    assert len(input_files(city, tiny_city / "stations")) == 5
    city.path(key).unlink()
    with pytest.raises(BadInputError) as info:
        input_files(city, tiny_city / "stations")
    said = str(info.value)
    assert str(city.path(key)) in said and f"[files] {key}" in said and "\n" not in said


def test_a_project_root_of_data_only_runs_the_notebooks_beside_the_code(tmp_path):
    import subprocess
    import sys

    (tmp_path / "data" / "raw").mkdir(parents=True)
    code = "from analysis.config import NOTEBOOKS_DIR, CODE_ROOT; print(NOTEBOOKS_DIR == CODE_ROOT / 'notebooks')"
    env = {**os.environ, "FIVEG_PROJECT_ROOT": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
    (tmp_path / "notebooks").mkdir()  # a project with notebooks of its own runs those
    own = tmp_path / "notebooks"
    code = f"import pathlib; from analysis.config import NOTEBOOKS_DIR as N; print(N == pathlib.Path({str(own)!r}))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


@pytest.mark.slow
def test_failing_notebook_keeps_the_last_good_report(tmp_path, capsys):
    out, processed = tmp_path / "reports", tmp_path / "processed"
    good = _tiny_notebooks(tmp_path / "good")
    report.run_report(
        "karamay", as_of="2021-03-22", out=out, processed=processed, notebooks_dir=good, log=lambda *a: None
    )
    dest = out / "karamay" / "2021-03-22"
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    assert {"index.html", "05_summary.html", "headline.json", "provenance.json"} <= set(before)

    bad = _tiny_notebooks(tmp_path / "bad", failing="03_coverage.ipynb")
    with pytest.raises(report.NotebookFailed) as info:
        report.run_report(
            "karamay", as_of="2021-03-22", out=out, processed=processed, notebooks_dir=bad, log=lambda *a: None
        )
    msg = str(info.value)
    assert (
        "03_coverage.ipynb" in msg
        and "cell 4 of the executed notebook" in msg
        and "RuntimeError: boom in the test" in msg
    )
    assert "last good report is unchanged" in msg
    kept = out / "karamay" / "2021-03-22.failed" / "03_coverage.ipynb"
    assert kept.is_file()
    failed_nb = nbformat.read(str(kept), as_version=4)
    assert any(o.get("output_type") == "error" for c in failed_nb.cells for o in c.get("outputs", []))
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before, "the last good report was touched"
    assert not [p for p in (out / "karamay").iterdir() if p.name.startswith(".")], "no temporary folder left"
    assert "2021-03-22.failed" in (out / "karamay" / "index.html").read_text(encoding="utf-8")

    # the command line: exit 1, one line naming the notebook and the cell
    import analysis.report.runner as mod

    real = mod.NOTEBOOKS_DIR
    try:
        mod.NOTEBOOKS_DIR = bad
        status = main(
            ["report", "--city", "karamay", "--as-of", "2021-03-22", "--out", str(out), "--processed", str(processed)]
        )
    finally:
        mod.NOTEBOOKS_DIR = real
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and err[-1].startswith("error: notebook 03_coverage.ipynb failed in cell 4")

    # a good run afterwards replaces the report and clears the failed copy
    report.run_report(
        "karamay", as_of="2021-03-22", out=out, processed=processed, notebooks_dir=good, log=lambda *a: None
    )
    assert not (out / "karamay" / "2021-03-22.failed").exists()


# --- the rendered report ---------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.images, self.scripts, self.iframes = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag in ("script", "link") and (a.get("src") or (tag == "link" and a.get("href"))):
            self.scripts.append(a.get("src") or a.get("href"))
        elif tag == "iframe":
            self.iframes.append(a)


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The real report for the article's date, built once for the module (about 30 s)."""
    root = tmp_path_factory.mktemp("report")
    folders = report.run_report(
        "karamay", as_of="2021-03-22", out=root / "reports", processed=root / "processed", log=lambda *a: None
    )
    return folders[0]


@pytest.mark.slow
def test_report_folder_contents(built):
    names = {p.name for p in built.iterdir()}
    for nb, _, _ in report.NOTEBOOKS:
        assert nb in names and nb.replace(".ipynb", ".html") in names
    assert {"index.html", "coverage_map.html", "headline.json", "provenance.json"} <= names
    prov = json.loads((built / "provenance.json").read_text(encoding="utf-8"))
    assert prov["as_of"] == "2021-03-22" and prov["extract_date"] == "2022-01-10" and len(prov["inputs_sha256"]) == 64
    assert prov["package_version"] and prov["city_config_sha256"]
    head = json.loads((built / "headline.json").read_text(encoding="utf-8"))
    assert head["cache_hit"] == prov["cache_hit"]  # (the notebooks always found the cache the run had just filled)
    assert (built.parent / "index.html").is_file() and (built.parent.parent / "index.html").is_file()
    # papermill's random cell id is replaced: the same inputs render the same page
    assert 'id="cell-id=injected-parameters"' in (built / "01_clean.html").read_text(encoding="utf-8")
    # no executed notebook names the temporary folder it was built in
    for nb, _, _ in report.NOTEBOOKS:
        text = (built / nb).read_text(encoding="utf-8")
        assert ".building-" not in text, nb
        record = json.loads(text)["metadata"]["papermill"]
        assert record["parameters"]["out"] == "." and record["output_path"] == nb
        assert record["input_path"] == f"notebooks/{nb}"


def test_every_note_of_a_published_series_forecast_reads_in_chinese():
    """The model-choice notes the forecast writes for the national series (no season evidence in
    interpolated month ends, a simpler model kept, a combination of two, the intervals' scaling)."""
    from analysis.forecast import forecast_series_file
    from analysis.report.chrome import translate_note

    fc = forecast_series_file(PROJ_ROOT / "data/raw/public/china_5g_base_stations.csv", horizon=12, n_paths=200)
    assert len(fc.notes) >= 3
    for note in fc.notes:
        assert translate_note(note, "zh"), note


def test_every_basis_of_the_district_split_reads_in_chinese(tmp_path):
    """Each basis `district_target_shares` can give (a district with no share given falls back to the
    pipeline, then to the sites added since and in the pipeline) has its Chinese words on the page."""
    from analysis.report.chrome import translate_note

    d = "2020-12-31"
    for basis in (
        "city.toml target_share",
        f"city.toml gives no target_share: split by the 64 sites in the pipeline on {d}",
        f"city.toml gives no target_share: split by the 11 sites in the pipeline on {d} "
        "(only 11 sites: a rough split; set target_share in city.toml)",
        f"city.toml gives no target_share and no site was in the pipeline on {d}: "
        "split by the sites on air since then and in the pipeline on 2021-03-22",
        f"city.toml gives no target_share and no site was in the pipeline on {d}: "
        "split by the sites on air since then and in the pipeline on 2021-03-22 "
        "(only 7 sites: a rough split; set target_share in city.toml)",
        f"city.toml gives no target_share and no site was in the pipeline on {d}: "
        "nor any since: split equally (set target_share in city.toml)",
    ):
        assert translate_note(basis, "zh"), basis


def test_the_time_a_report_was_made_is_fixed_by_source_date_epoch(monkeypatch):
    from analysis.report.inputs import made_at

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert made_at() == "2023-11-14T22:13:20Z"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert made_at()[:4] >= "2026"


@pytest.mark.parametrize("lang, declared", [("zh", "zh-CN"), ("en", "en")])
def test_a_page_declares_its_own_language(tmp_path, lang, declared):
    """A page's <html lang> is the report's language (screen readers and the browser's font choice read it);
    nbconvert's template writes lang="en" on every page."""
    # (a station named with a direction override turned the rest of its sentence backwards)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 标题\n\n站\u202e名 与 \u2067x\u2069 之后")])
    nbformat.write(nb, tmp_path / "page.ipynb")
    page = report.render_html(tmp_path / "page.ipynb", tmp_path / "page.html", lang=lang)
    html = page.read_text(encoding="utf-8")
    assert re.findall(r"<html\b[^>]*>", html) == [f'<html lang="{declared}">']
    assert "站名 与 x 之后" in html and not re.search("[\u202a-\u202e\u2066-\u2069]", html)


@pytest.mark.slow
def test_pages_have_no_code(built):
    for page in built.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert 'class="jp-InputArea' not in text and "briefing as b" not in text and "open_report(" not in text, (
            page.name
        )
        assert not re.search(r">\s*(In|Out)(&nbsp;|\s)?\[\d*\]:", text), f"{page.name} shows prompts"
        assert "recorded: " not in text, f"{page.name} shows a recorded value"


@pytest.mark.slow
def test_headline_numbers_on_the_summary_and_index(built):
    summary = (built / "05_summary.html").read_text(encoding="utf-8")
    index = (built / "index.html").read_text(encoding="utf-8")
    head = json.loads((built / "headline.json").read_text(encoding="utf-8"))
    assert head["on_air_2020-12-31"] == 216 and head["target_2021-12-31"] == 446
    for text in (summary, index):
        assert "216" in text and "446" in text and str(head["on_air_as_of"]) in text
        assert briefing.prob(head["prob_reach_2021-12-31"]) in text
    assert "2021年至少再建230座" in summary and "世界魔鬼城景区" in summary
    assert "与上月相比的变化" in summary and 'href="annex.html"' in summary
    annex = (built / "annex.html").read_text(encoding="utf-8")
    assert head["inputs_sha256"][:16] in annex and "方法说明" in annex


@pytest.mark.slow
def test_every_link_resolves_and_every_figure_is_embedded(built):
    for page in [built.parent.parent / "index.html", built.parent / "index.html", *built.glob("*.html")]:
        parsed = _parse(page)
        for href in parsed.links:
            if href.startswith(("http://", "https://", "#", "mailto:")):
                continue
            target = (page.parent / href.split("#")[0]).resolve()
            assert target.exists(), f"{page.name}: link {href} does not resolve"
        assert all(src.startswith("data:image/") for src in parsed.images), f"{page.name}: an image is not embedded"
        assert not [s for s in parsed.scripts if s.startswith(("http:", "https:", "//"))], (
            f"{page.name}: {parsed.scripts}"
        )
    coverage = _parse(built / "03_coverage.html")
    assert coverage.iframes and "srcdoc" in coverage.iframes[0] and "leaflet" in coverage.iframes[0]["srcdoc"].lower()
    assert len(_parse(built / "02_forecast.html").images) >= 2
    assert len(_parse(built / "04_taskforce.html").images) >= 3
    # the charts' captions name the file the pipeline sites came from (Karamay's tower tracker)
    assert "来源：铁塔_5G站址建设跟踪表.xlsx（清洗后）" in (built / "04_taskforce.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_rerun_reuses_the_cleaned_data(built, tmp_path):
    processed = built.parent.parent.parent / "processed"
    cleaned = inputs.clean_cached("karamay", processed=processed)
    assert cleaned["hit"]
    annex = (built / "annex.html").read_text(encoding="utf-8")
    assert "缓存" in annex and cleaned["key"][:16] in annex  # the cache's state is in the annex, not atop each page


def test_city_index_columns_follow_labels_across_report_dates(tmp_path):
    city = load_city("karamay")
    folder = tmp_path / "karamay"
    for day, h in [
        ("2020-11-30", {"as_of": "2020-11-30", "on_air_as_of": 200, "prob_reach_2021-12-31": 0.1}),
        (
            "2021-03-22",
            {"as_of": "2021-03-22", "on_air_as_of": 224, "on_air_2020-12-31": 216, "prob_reach_2021-12-31": 0.17},
        ),
    ]:
        (folder / day).mkdir(parents=True)
        (folder / day / "headline.json").write_text(json.dumps(h))
        (folder / day / "index.html").write_text("x")
    page = report.write_city_index(folder, city, "en").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td><a[^>]*>([\d-]+)</a></td>(.*?)</tr>", page)
    cells = {day: re.findall(r'<td class="num">([^<]*)</td>', rest) for day, rest in rows}
    # the November report has no "on air on 2020-12-31" yet: its probability stays under its own heading
    assert cells == {"2021-03-22": ["224", "216", "17 %"], "2020-11-30": ["200", "–", "10 %"]}


def _numbers_on_page(path: Path) -> list[str]:
    """Every number a reader sees on a page: tags, embedded images and the 'made at' time left out."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"data:[^\"')\s]+", "", text)
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"(生成时间|Made)\s*\S+\s*\S*", "", text)
    text = re.sub(r"/tmp/\S+", "", text)
    return re.findall(r"\d[\d,.]*", text)


@pytest.mark.slow
def test_a_rebuild_shows_the_same_numbers(built, tmp_path):
    again = report.run_report(
        "karamay", as_of="2021-03-22", out=tmp_path / "reports", processed=tmp_path / "processed", log=lambda *a: None
    )[0]
    assert json.loads((built / "headline.json").read_text()) == json.loads((again / "headline.json").read_text())
    for nb, _, _ in report.NOTEBOOKS:
        page = Path(nb).with_suffix(".html").name
        assert _numbers_on_page(built / page) == _numbers_on_page(again / page), page


# --- each stage runs once per date ---------------------------------------------------------------

#: The calls of each notebook's steps, as the notebooks make them (each page opens its own context,
#: as each notebook's kernel does).
PAGE_STEPS = {
    "clean": ["show_clean_counts", "show_quarantine", "show_stations_by_district"],
    "forecast": ["show_targets", "show_fan_chart", "show_district_forecast", "show_backtest"],
    "coverage": ["show_coverage_by_district", "show_key_sites", "show_gaps", "show_coverage_map", "show_link_budget"],
    "taskforce": [
        "show_funnel",
        "show_blockers",
        "show_supervision",
        "show_levers",
        "show_district_targets",
        "show_stage_durations",
    ],
    "summary": [
        "show_headline",
        "show_changes",
        "show_targets",
        "show_fan_chart",
        "show_coverage_to_do",
        "show_top_blockers",
    ],
}


def test_every_notebook_step_is_called_by_its_notebook():
    for nb, _, _ in report.NOTEBOOKS:
        source = "\n".join(c.source for c in nbformat.read(str(report.NOTEBOOKS_DIR / nb), as_version=4).cells)
        page = re.search(r'page="(\w+)"', source).group(1)
        assert re.findall(r"b\.(show_\w+)\(ctx", source) == PAGE_STEPS[page] + ["show_provenance"], nb


@pytest.mark.slow
def test_each_stage_runs_once_per_date_for_the_whole_report(tmp_path, monkeypatch, capsys):
    """The runner's stages, then every page of the five notebooks: the forecast runs once (report
    date), coverage and the task force once for the report date and once for the previous one."""
    import analysis.coverage as coverage
    import analysis.forecast.stage as forecast  # forecast_stage calls it there
    import analysis.taskforce as taskforce

    calls = []
    for module, name in (
        (forecast, "forecast_stations"),
        (coverage, "assess_coverage"),
        (taskforce, "track_taskforce"),
    ):
        real = getattr(module, name)

        def counted(stations, *args, _real=real, _name=name, **kw):
            as_of = kw.get("as_of", args[0] if _name == "forecast_stations" else args[1] if len(args) > 1 else None)
            calls.append((_name, str(pd.Timestamp(as_of).date())))
            return _real(stations, *args, **kw)

        monkeypatch.setattr(module, name, counted)
    processed, city = tmp_path / "processed", load_city("karamay")
    cleaned = inputs.clean_cached(city, processed=processed)
    as_of = pd.Timestamp("2021-03-22")
    report.run_stages(city, as_of, cleaned, "zh", "osm", processed, log=lambda *a: None)
    for page, steps in PAGE_STEPS.items():
        ctx = briefing.open_report(city, "2021-03-22", processed=processed, out=tmp_path / "out", page=page)
        for step in steps + ["show_provenance"]:
            getattr(briefing, step)(ctx)
    capsys.readouterr()
    assert sorted(calls) == [
        ("assess_coverage", "2021-02-22"),
        ("assess_coverage", "2021-03-22"),
        ("forecast_stations", "2021-03-22"),
        ("track_taskforce", "2021-02-22"),
        ("track_taskforce", "2021-03-22"),
    ]


@pytest.mark.slow
def test_a_notebook_alone_runs_the_stages_it_needs_once(tmp_path, monkeypatch, capsys):
    """In JupyterLab with nothing processed yet: the coverage page runs coverage (with its map) once,
    and not the forecast."""
    import analysis.coverage as coverage
    import analysis.forecast.stage as forecast  # forecast_stage calls it there

    calls = []
    monkeypatch.setattr(forecast, "forecast_stations", lambda *a, **k: calls.append("forecast"))
    real = coverage.assess_coverage
    monkeypatch.setattr(coverage, "assess_coverage", lambda *a, **k: calls.append("coverage") or real(*a, **k))
    ctx = briefing.open_report("karamay", "2021-03-22", processed=tmp_path / "p", page="coverage")
    for step in PAGE_STEPS["coverage"] + ["show_provenance"]:
        getattr(briefing, step)(ctx)
    capsys.readouterr()
    assert calls == ["coverage"]  # the report date (with its map); "what changed" is on the summary
    stamp = json.loads((tmp_path / "p/karamay/2021-03-22/coverage/stage.json").read_text(encoding="utf-8"))
    assert stamp["basemap"] and "coverage_map.html" in stamp["files"]


def test_recorded_values_are_strict_json():
    import numpy as np

    from analysis.report.display import json_ready

    value = {"p": np.float64("nan"), "n": np.int64(3), "xs": [1.5, float("inf"), pd.NaT], "ok": np.bool_(True)}
    assert json_ready(value) == {"p": None, "n": 3, "xs": [1.5, None, None], "ok": True}
    json.dumps(json_ready(value), allow_nan=False)


def test_notes_in_the_pages_language():
    from analysis.report.chrome import next_report_date, translate_note

    note = "too little history for a 6-month backtest (15 months; needs 17)"
    assert translate_note(note, "en") == note
    assert translate_note(note, "zh") == "历史只有 15 个月，不足以做 6 个月预测期的回测（需要 17 个月）。"
    assert translate_note("a note nobody wrote a translation for", "zh") is None
    # the band calibrated on each side of the mean path: both sides' factors reach the Chinese page
    sides = (
        "intervals scaled x1.30 at 1 month to x1.80 from 6 months on (above the mean path x1.30 to x1.80, "
        "below it x0.90 to x1.10), to match the model's errors in the backtest"
    )
    zh = translate_note(sides, "zh")
    assert "1.30–1.80" in zh and "0.90–1.10" in zh and "第 6 个月" in zh
    assert "1.30–1.80" not in translate_note("intervals scaled x1.30 at 1 month to x1.80 from 6 months on", "zh")
    assert translate_note(float("nan"), "en") is None and translate_note("", "zh") is None
    assert next_report_date("2021-03-22") == pd.Timestamp("2021-04-22")
    assert next_report_date("2021-02-28") == pd.Timestamp("2021-03-31")


def test_a_site_within_its_coordinate_precision_is_uncertain():
    from analysis.coverage import site_verdicts

    covered = pd.Series([False, True, False, True, True])
    margin = pd.Series([-9.0, 40.0, -900.0, 5.0, 9.0])
    precision = pd.Series([3000.0, 20.0, 500.0, None, 5000.0])
    # (a site placed to 5 km is not covered by 9 m either)
    verdicts = site_verdicts(covered, margin, precision).tolist()
    assert verdicts == ["uncertain", "covered", "uncovered", "covered", "uncertain"]


@pytest.mark.slow
def test_one_expected_count_and_one_district_split_on_every_page(built):
    """Issue 13: the forecast, task-force and summary pages state the same expected count for
    2021-12-31 as model.json, in their records and their words; the forecast's district table and
    the task-force page's district targets are the same split."""
    from analysis.catalog import stage_folder
    from analysis.report.display import read_records

    folder = stage_folder("forecast", "karamay", "2021-03-22", built.parent.parent.parent / "processed")
    model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    target = next(t for t in model["targets"] if t["target_date"] == "2021-12-31")
    expected = round(float(target["expected_on_air"]), 2)
    records = {nb: read_records(built / nb) for nb in ("02_forecast.ipynb", "04_taskforce.ipynb", "05_summary.ipynb")}
    for nb, rec in records.items():
        assert rec["expected_on_air_2021-12-31"] == expected, nb
        assert briefing.n(expected) in (built / nb.replace(".ipynb", ".html")).read_text(encoding="utf-8"), nb
    # the report's index card for the target ahead: the same expected count, then the probability
    cards = BeautifulSoup((built / "index.html").read_text(encoding="utf-8"), "html.parser").get_text(" ")
    assert f"预计 {briefing.n(expected)} 座" in cards and "2021-12-31 目标 446 座" in cards
    for nb in ("02_forecast.ipynb", "05_summary.ipynb"):  # the verdict in words, never a bare probability
        page = (built / nb.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        assert html_escape(target["verdict_zh"], quote=False) in page, nb
    split = records["02_forecast.ipynb"]["district_targets_2021-12-31"]
    assert split == records["04_taskforce.ipynb"]["district_targets_2021-12-31"] and sum(split.values()) == 446
    assert "levers" in records["04_taskforce.ipynb"] and (folder / "levers.csv").is_file()
    for nb in records:  # no missing value shown as 'nan' in any text the pages show
        page = (built / nb.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        assert not re.search(r">[^<]*\bnan\b[^<]*<", page, flags=re.I), nb


def _verdict_ctx(lang: str, as_of: str, on_air_dates: list[str]):
    from types import SimpleNamespace

    from analysis.config import Target

    targets = [
        Target(
            date=pd.Timestamp("2021-12-31").date(), on_air=3, kind="target", label_zh="年度", label_en="year", source=""
        )
    ]
    stations = pd.DataFrame({"on_air_date": pd.to_datetime(on_air_dates)})
    return SimpleNamespace(
        lang=lang,
        as_of=pd.Timestamp(as_of),
        city=SimpleNamespace(targets=targets),
        stations=stations,
        station_columns=lambda *columns: stations,
    )


def _target_row(**kw) -> dict:
    row = {
        "target_date": pd.Timestamp("2021-12-31"),
        "target": 3,
        "expected_on_air": 2.6,
        "mean": 2.6,
        "prob_reach": 0.4,
        "status": "at_risk",
        "months_left": 9.0,
        "verdict_en": "Target 3 at risk: 3 expected.",
        "verdict_zh": "目标 3 座存在风险：预计开通 3 座。",
        "must_happen_en": "1 more site must enter the pipeline.",
        "must_happen_zh": "还需 1 个站址进入建设流程。",
        "spread_en": "The band is wide.",
        "spread_zh": "区间较宽。",
    }
    return {**row, **kw}


def test_target_verdicts_say_reached_or_missed_once_due_and_the_spread_only_far_ahead():
    due = pd.DataFrame([_target_row(prob_reach=float("nan"), status="missed")])
    ctx = _verdict_ctx("en", "2022-01-10", ["2021-05-01", "2021-06-01", None])
    (line,) = briefing.target_verdicts(ctx, due)
    assert "missed by 1" in line and "2 on that date" in line and "%" not in line and "nan" not in line
    ahead = pd.DataFrame([_target_row()])
    ctx = _verdict_ctx("zh", "2021-03-22", ["2021-01-01"])
    assert briefing.target_verdicts(ctx, ahead) == ["目标 3 座存在风险：预计开通 3 座。 还需 1 个站址进入建设流程。"]
    far = pd.DataFrame([_target_row(months_left=57.0)])
    assert briefing.target_verdicts(ctx, far)[0].endswith("区间较宽。")
    assert briefing.expected_count(pd.Series(_target_row(expected_on_air=float("nan"), mean=2.4))) == 2.4


def test_lever_sentence_names_the_blocker_only_when_freeing_it_moves_the_forecast():
    from types import SimpleNamespace

    def levers(prob_rise, year_end_rise):
        return pd.DataFrame(
            [
                {
                    "blocker": "power_hookup",
                    "blocker_zh": "电源接入难",
                    "sites_on_list": 5,
                    "target_date": pd.Timestamp("2021-12-31"),
                    "target": 446,
                    "prob_reach": 0.3,
                    "prob_reach_if_freed": 0.3 + prob_rise,
                    "prob_rise": prob_rise,
                    "year_end": pd.Timestamp("2021-12-31"),
                    "expected_year_end": 414.0,
                    "expected_year_end_if_freed": 414.0 + year_end_rise,
                    "year_end_rise": year_end_rise,
                }
            ]
        )

    ctx = SimpleNamespace(lang="en")
    both = briefing.lever_sentence(ctx, levers(0.1, 4.0))
    assert "power hook-up" in both and "30 %" in both and "40 %" in both and "418" in both
    count_only = briefing.lever_sentence(ctx, levers(0.0, 4.0))
    assert "power hook-up" in count_only and "stays 30 %" in count_only and "418" in count_only
    flat = briefing.lever_sentence(ctx, levers(0.0, 0.2))
    assert "power hook-up" not in flat and "unchanged" in flat
    assert "电源接入难" in briefing.lever_sentence(SimpleNamespace(lang="zh"), levers(0.1, 4.0))
    # sites that report no blocker are pushed through and asked why, not "cleared of 'no blocker reported'"
    unblocked = levers(0.1, 4.0).assign(blocker="none", blocker_zh="未报阻碍")
    for lang in ("zh", "en"):
        text = briefing.lever_sentence(SimpleNamespace(lang=lang), unblocked)
        assert "未报阻碍”" not in text and "'no blocker" not in text and "5" in text
    assert "push them first" in briefing.lever_sentence(ctx, unblocked)
    unknown = levers(0.1, 4.0).assign(blocker="not_known", blocker_zh="当日未知（其后已离开该阶段）")
    assert "not known on the date" in briefing.lever_sentence(ctx, unknown)
    assert "阻碍未知" in briefing.lever_sentence(SimpleNamespace(lang="zh"), unknown)
    assert "应先督促它们" in briefing.lever_sentence(
        SimpleNamespace(lang="zh"), levers(0.0, 4.0).assign(blocker="none")
    )


def test_names_on_english_pages_carry_their_pinyin_form():
    from analysis.report.text import name_label

    romanised = "Bai Jian Tan Qu Chuang Ye Lu 13 Hao Hong Zhan"
    assert name_label("白碱滩区创业路13号宏站", "en") == f"{romanised} (白碱滩区创业路13号宏站)"
    assert name_label("白碱滩区创业路13号宏站", "zh") == "白碱滩区创业路13号宏站"
    assert name_label("Site 7", "en") == "Site 7"
    assert name_label(None, "en") == "–"


def test_the_clean_sentence_counts_files_not_sheets():
    """A workbook of two sheets is one file; a skipped or unreadable file gave no records."""
    from analysis.report.pages import count_station_files

    summary = {
        "files": [
            {"file": "a.xlsx", "sheet": "2020", "rows": 3},
            {"file": "a.xlsx", "sheet": "2021", "rows": 2},
            {"file": "b.csv", "sheet": None, "rows": 1},
            {"file": "README.txt", "skipped": "no table"},
            {"file": "c.csv", "error": "binary"},
        ]
    }
    assert count_station_files(summary) == 2


def test_the_count_last_month_s_report_published_is_read_beside_this_one(tmp_path):
    """A month revised by late records said nothing ("上月已开通 298" beside a published 292): the page now
    compares with what the previous report, in the same reports folder, said."""
    from types import SimpleNamespace

    from analysis.report.pages.common import previous_report_count

    city_dir = tmp_path / "reports" / "yangquan"
    (city_dir / "2021-08-31").mkdir(parents=True)
    ctx = SimpleNamespace(out=city_dir / ".2021-09-30.building-x", previous=pd.Timestamp("2021-08-31"))
    assert previous_report_count(ctx) is None  # no report of that date: nothing to compare
    (city_dir / "2021-08-31" / "headline.json").write_text('{"on_air_as_of": 292}', encoding="utf-8")
    assert previous_report_count(ctx) == 292
    (city_dir / "2021-08-31" / "headline.json").write_text("{not json", encoding="utf-8")
    assert previous_report_count(ctx) is None
    assert previous_report_count(SimpleNamespace(out=None, previous=ctx.previous)) is None
    from analysis.report.text import TEXT

    for lang in ("zh", "en"):
        assert {"previous", "published", "now", "diff"} <= set(re.findall(r"{(\w+)}", TEXT[lang]["changes.revised"]))


def test_a_model_is_named_in_readers_words_with_its_id_after_it():
    """The model's id alone (season_growth) stood in the Chinese prose of the forecast and summary pages."""
    from analysis.forecast.models import MODEL_COMPLEXITY
    from analysis.report.text import model_words

    for model in MODEL_COMPLEXITY:
        for lang in ("zh", "en"):
            words = model_words(model, lang)
            assert words.endswith(f"（{model}）" if lang == "zh" else f"({model})") and len(words) > len(model) + 3
    assert model_words("drift+arima", "zh") == "漂移法与ARIMA的等权组合（drift+arima）"
    assert model_words("season_growth", "en") == "the season, pace and growth model (season_growth)"


def test_a_stage_table_cut_to_its_header_is_one_line(tmp_path):
    """A coverage_by_district.csv of its header only failed the page with an IndexError."""
    from analysis.report.outputs import read_table

    (tmp_path / "t.csv").write_text("district,urban_covered_pct\n", encoding="utf-8")
    assert read_table(tmp_path / "t.csv").empty
    with pytest.raises(BadInputError, match="no rows.*run the stage again"):
        read_table(tmp_path / "t.csv", rows_required=True)
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(BadInputError, match="unreadable"):
        read_table(tmp_path / "e.csv")


def test_a_dash_for_none_takes_its_column_s_side():
    """'–' stood right-aligned alone in a column of blockers' words; among numbers it stays right."""
    from analysis.report.display import table_html

    html = table_html(pd.DataFrame({"blocker": ["物业不同意进场", "–"], "days": ["12", "–"]}))
    assert '<td class="short">–</td>' in html and '<td class="num">–</td>' in html
    assert '<td class="num">12</td>' in html


# --- the date a report compares with --------------------------------------------------------------


def _finished_report(city_dir: Path, day: str, on_air: int | None = None) -> Path:
    """A report folder as `build_report` leaves it: index.html and headline.json written last."""
    folder = city_dir / day
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<html></html>", encoding="utf-8")
    (folder / "headline.json").write_text(json.dumps({"as_of": day, "on_air_as_of": on_air}), encoding="utf-8")
    return folder


def test_a_report_compares_with_the_nearest_earlier_report_beside_it_else_a_month_earlier(tmp_path):
    """A backfill's last report as of the extract's 22nd compared with 02-22, where no report was made, and not
    with the 02-28 report beside it; with no report beside, the same day a month earlier as before."""
    from analysis.report.chrome import find_compared_report

    city_dir = tmp_path / "reports" / "karamay"
    ts = pd.Timestamp
    assert find_compared_report("2021-03-22", None) == (ts("2021-02-22"), None)
    assert find_compared_report("2021-03-22", city_dir) == (ts("2021-02-22"), None)  # (no folder yet)
    assert find_compared_report("2021-03-31", city_dir) == (ts("2021-02-28"), None)
    _finished_report(city_dir, "2020-12-31")  # older than the month before: no "last month"
    assert find_compared_report("2021-03-22", city_dir).date == ts("2021-02-22")
    _finished_report(city_dir, "2021-01-31")
    feb = _finished_report(city_dir, "2021-02-28")
    (city_dir / "2021-03-10").mkdir()  # a report still being written (no headline yet), or failed: none
    (city_dir / "2021-03-15.failed").mkdir()
    (city_dir / ".2021-03-22.building-x").mkdir()
    _finished_report(city_dir, "2021-03-22")  # the report itself, rebuilt, and a later one: not earlier
    _finished_report(city_dir, "2021-04-30")
    assert find_compared_report("2021-03-22", city_dir) == (ts("2021-02-28"), feb)
    assert find_compared_report("2021-02-28", city_dir) == (ts("2021-01-31"), city_dir / "2021-01-31")
    assert find_compared_report("2021-03-31", city_dir).date == ts("2021-03-22")


def test_the_next_report_named_on_a_page_is_the_one_that_compares_with_it(tmp_path):
    """A backfill ending on 03-22: its 02-28 report named 03-31 as the next, a report never made; the 03-22
    beside it, or still to come in the same run, is the next (and compares with 02-28); else the scheduled one."""
    from analysis.report.chrome import find_compared_report, find_next_report, vintage_line

    city_dir, ts = tmp_path / "karamay", pd.Timestamp
    assert find_next_report("2021-02-28", city_dir) == ts("2021-03-31")  # (as before: nothing beside)
    assert find_next_report("2021-03-22", None) == ts("2021-04-22")
    assert find_next_report("2021-02-28", city_dir, planned=[ts("2021-03-22")]) == ts("2021-03-22")
    assert find_next_report("2021-01-31", city_dir, planned=[ts("2021-02-28"), ts("2021-03-22")]) == ts("2021-02-28")
    _finished_report(city_dir, "2021-03-22")
    assert find_next_report("2021-02-28", city_dir) == ts("2021-03-22")
    assert find_next_report("2021-01-31", city_dir) == ts("2021-02-28")  # (03-22 is more than a month on)
    _finished_report(city_dir, "2021-02-28")
    assert find_compared_report(find_next_report("2021-02-28", city_dir), city_dir).date == ts("2021-02-28")
    assert vintage_line("zh", "2021-02-28", "2022-01-10", ts("2021-03-22")).endswith("下期报告 2021-03-22")


def test_months_n_are_the_month_ends_before_the_report_date_then_the_date(capsys, tmp_path):
    city = load_city("karamay")
    extract = pd.Timestamp("2022-01-10")
    days = inputs.list_months_ending(3, pd.Timestamp("2021-03-22"), city, extract)
    assert days == [pd.Timestamp("2021-01-31"), pd.Timestamp("2021-02-28"), pd.Timestamp("2021-03-22")]
    assert inputs.list_months_ending(1, pd.Timestamp("2021-03-22"), city, extract) == [pd.Timestamp("2021-03-22")]
    assert inputs.parse_months_count("3") == 3 and inputs.parse_months_count("2021-01:2021-03") is None
    with pytest.raises(UsageError, match="outside the data"):  # (before the buildout start)
        inputs.list_months_ending(6, pd.Timestamp("2020-03-22"), city, extract)
    assert main(["report", "--city", "karamay", "--as-of", "2021-03-22", "--months", "0", "--out", str(tmp_path)]) == 2
    assert "not a number of months" in capsys.readouterr().err and not any(tmp_path.iterdir())


def _tiny_city_with_stations(tiny_city: Path) -> Path:
    """The tiny city's records: on air 2021-01-10, 2021-02-25 (between the 22nd and the month end) and 2021-03-05."""
    (tiny_city / "stations").mkdir(exist_ok=True)
    (tiny_city / "stations" / "移动.csv").write_text(
        "站址编码,站名,运营商,经度,纬度,开通日期\n"
        "A1,站一,移动,84.830,45.590,2021-01-10\nA2,站二,移动,84.840,45.600,2021-02-25\n"
        "A3,站三,移动,84.850,45.610,2021-03-05\n",
        encoding="utf-8",
    )
    return tiny_city


def test_a_backfill_ending_mid_month_counts_its_changes_since_the_month_end_report(tiny_city, tmp_path):
    """The last report of `--months 3` as of 03-22 says what changed since the 02-28 report beside it, and its
    count on that date is what that report published; alone, it compares with 02-22 as before."""
    from analysis.report.pages.common import changes_since_last_month, previous_report_count, provenance_rows

    city = _tiny_city_with_stations(tiny_city)
    processed, city_dir = tmp_path / "p", tmp_path / "reports" / "tiny"
    extract = {"extract_date": "2021-03-22"}  # (the records received on the report date)
    alone = briefing.open_report(
        city, "2021-03-22", processed=processed, out=city_dir / "2021-03-22", show=False, **extract
    )
    assert alone.previous == pd.Timestamp("2021-02-22") and alone.previous_folder is None
    assert changes_since_last_month(alone)["added"]["before"].iloc[-1] == 1
    feb = briefing.open_report(
        city, "2021-02-28", processed=processed, out=city_dir / "2021-02-28", show=False, **extract
    )
    _finished_report(city_dir, "2021-02-28", on_air=briefing.count_on_air(feb, feb.as_of))
    ctx = briefing.open_report(
        city, "2021-03-22", processed=processed, out=city_dir / ".2021-03-22.building-x", show=False, **extract
    )
    assert ctx.previous == pd.Timestamp("2021-02-28") and ctx.previous_folder == city_dir / "2021-02-28"
    added = changes_since_last_month(ctx)["added"].iloc[-1]
    assert (added["before"], added["now"], added["added"]) == (2, 3, 1)
    assert previous_report_count(ctx) == 2  # what the 02-28 report published: no revision to say
    assert ("对比日期（报告文件夹中此前最近的一份报告）", "2021-02-28") in provenance_rows(ctx)
    tf = ctx.taskforce()  # the task force's funnel counts since the same date
    assert tf.previous == pd.Timestamp("2021-02-28") and set(tf.funnel["previous_as_of"]) == {"2021-02-28"}
    assert tf.figures["funnel"].name == "funnel_since_2021-02-28.png"  # (its marker drawn on that date)
    on_air = tf.funnel[(tf.funnel["stage"] == "on_air") & (tf.funnel["district"] == tf.funnel["district"].iloc[-1])]
    assert on_air[["sites", "sites_previous", "change"]].values.tolist() == [[3, 2, 1]]


def test_the_funnel_counted_since_another_date_is_the_two_dates_counts():
    """`count_funnel_since` gives the stage's own funnel back for the stage's own previous date (the sites without
    stage dates out of the change), and counts 0 for a stage missing on the earlier date."""
    from analysis.report.outputs import count_funnel_since

    cols = ["as_of", "previous_as_of", "district", "stage", "stage_zh", "sites", "sites_previous", "change"]
    cols += ["undated_sites", "undated_sites_previous", "note"]
    now = pd.DataFrame(
        [
            ["2021-03-22", "2021-02-22", "西区", "planned", "规划", "5", 4, 0, 2, 1, ""],
            ["2021-03-22", "2021-02-22", "西区", "construction", "建设", "3", 1, 2, 0, 0, ""],
        ],
        columns=cols,
    )
    before = pd.DataFrame(
        {"district": ["西区"], "stage": ["planned"], "sites": ["4"], "undated_sites": [1]}
    )  # (a stage's counts on 02-22: its funnel.csv)
    got = count_funnel_since(now, before, "2021-02-22")
    assert list(got.columns) == cols
    assert got[["sites", "sites_previous", "change", "undated_sites_previous"]].values.tolist() == [
        [5, 4, 0, 1],
        [3, 0, 3, 0],
    ]
    assert set(got["previous_as_of"]) == {"2021-02-22"}


# --- what the cleaning noted of each file, on the clean page ------------------------------------------


def test_a_file_s_own_notes_are_on_the_clean_page_in_its_language_and_as_written(tiny_city, tmp_path, monkeypatch):
    """A workbook whose summary sheet was skipped: the clean page says so per file with a lead-in in the page's
    language, the note itself as the cleaning wrote it (escaped), and a file without notes adds nothing."""
    from openpyxl import Workbook

    from analysis.report.pages import clean as clean_page

    stations = tiny_city / "stations"
    stations.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.title = "站址<清单>"
    sheet.append(["站址编码", "站名", "运营商", "经度", "纬度", "开通日期"])
    sheet.append(["B1", "站一", "移动", 84.83, 45.59, "2021-01-10"])
    summary = book.create_sheet("汇总")
    summary.append(["已开通", "在建"])
    summary.append([1, 0])
    book.save(stations / "移动_站址.xlsx")
    (stations / "电信.csv").write_text("站址编码,运营商,经度,纬度,开通日期\nC1,电信,84.84,45.60,2021-02-01\n")
    shown = {}
    for lang in ("zh", "en"):
        monkeypatch.setattr(clean_page, "show_step", lambda h, s, lang=lang: shown.setdefault(lang, []).append(h + s))
        monkeypatch.setattr(clean_page, "show_html", lambda t, lang=lang: shown.setdefault(lang, []).append(t))
        ctx = briefing.open_report(
            tiny_city, "2021-03-22", lang=lang, processed=tmp_path / "p", show=False, extract_date="2021-03-22"
        )
        files = clean_page.show_file_notes(ctx)
        assert [Path(f["file"]).name for f in files] == ["移动_站址.xlsx"]  # (电信.csv: nothing noted, nothing said)
    note = next(x for f in files for x in f["notes"])
    assert "'汇总' skipped" in note  # (as `clean.sources` writes it)
    zh, en = "".join(shown["zh"]), "".join(shown["en"])
    assert "各文件的读取说明" in zh and "读取的工作表：站址&lt;清单&gt;" in zh and "清洗记下 1 条说明" in zh
    assert "sheets read: Zhan Zhi" in en and "(站址&lt;清单&gt;)" in en and "电信.csv" not in zh + en
    for page in (zh, en):
        quoted = BeautifulSoup(page, "html.parser").find(attrs={"data-as-written": "clean"})
        assert quoted.get("lang") == "en" and quoted.get_text() == note  # the note as written, escaped once
    assert clean_page.gather_file_notes({"files": [{"file": "a.csv", "sheet": None, "rows": 3}]}) == []
    long = clean_page._quote_as_written(["x" * (clean_page.NOTES_SHOWN_OPEN_CHARS + 1)], "zh")
    assert long.startswith("<details><summary>展开 1 条原始记录") and "<details>" not in clean_page._quote_as_written(
        ["x"], "zh"
    )
