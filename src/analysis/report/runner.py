"""The monthly report: check the parameters, clean the inputs once per content hash (a cache), run the
notebooks with papermill into a temporary folder, render them to HTML without code, write index.html
with the headline numbers, then swap the folder into `reports/<city>/<as_of>/` in one rename.

What the notebooks display comes from `analysis.report.pages`; this module only runs and publishes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from analysis import __version__
from analysis.config import (
    resolve_city,
    NOTEBOOKS_DIR,
    PROCESSED_DIR,
    RAW_DIR,
    City,
    load_city,
    parse_date,
)
from analysis.errors import AnalysisError, UsageError
from analysis.files import project_relative, sha256_of

#: The notebooks of a report, in the order they run, with their page titles.
NOTEBOOKS = (
    ("01_clean.ipynb", "数据清洗", "Cleaning"),
    ("02_forecast.ipynb", "进度预测", "Forecast"),
    ("03_coverage.ipynb", "覆盖评估", "Coverage"),
    ("04_taskforce.ipynb", "专班跟踪", "Task force"),
    ("05_summary.ipynb", "月度简报", "Summary"),
)
SUMMARY_NOTEBOOK = "05_summary.ipynb"
CACHE_VERSION = 1


class NotebookFailed(AnalysisError):
    """A notebook raised while the report ran: names the notebook, the cell and where the executed copy is."""


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

def parse_months(spec: str) -> list[str]:
    """'2021-01:2021-12' (or one month '2021-03') to the list of months 'YYYY-MM', in order."""
    first, _, last = str(spec).partition(":")
    last = last or first
    try:
        a, b = pd.Period(first.strip(), freq="M"), pd.Period(last.strip(), freq="M")
        if not re.fullmatch(r"\d{4}-\d{2}", first.strip()) or not re.fullmatch(r"\d{4}-\d{2}", last.strip()):
            raise ValueError
    except ValueError:
        raise UsageError(f"--months: {spec!r} is not YYYY-MM:YYYY-MM") from None
    if b < a:
        raise UsageError(f"--months: {spec!r} ends before it starts")
    return [str(p) for p in pd.period_range(a, b, freq="M")]


def check_basemap(basemap: str | None) -> str:
    from analysis.maps import BASEMAPS

    basemap = (basemap or "osm").lower()
    if basemap not in BASEMAPS:
        raise UsageError(f"--basemap: {basemap!r} is not one of {', '.join(BASEMAPS)}")
    return basemap


def data_range(city: City, extract) -> tuple[dt.date, dt.date]:
    """The dates a report can be made for: from the buildout start to the records' extract date."""
    return city.buildout_start, pd.Timestamp(extract).date()


def check_as_of(as_of, city: City, extract) -> pd.Timestamp:
    """The report date as a Timestamp: `as_of`, or the extract date when None; a one-line
    UsageError when it is not a date or lies outside the data."""
    first, last = data_range(city, extract)
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return pd.Timestamp(last)
    day = parse_date(as_of)
    if not first <= day <= last:
        raise UsageError(f"--as-of {day} is outside the data of {city.key} ({first} to {last}, the records' extract date)")
    return pd.Timestamp(day)


def month_as_of(month: str, city: City, extract) -> pd.Timestamp:
    """A backfilled month's report date: its last day, or the extract date in the extract's month."""
    end = pd.Period(month, freq="M").end_time.normalize()
    last = pd.Timestamp(extract).normalize()
    if end > last and pd.Period(month, freq="M") == last.to_period("M"):
        end = last
    return check_as_of(end.date(), city, extract)


# --------------------------------------------------------------------------------------------
# Inputs and the cache of cleaned data
# --------------------------------------------------------------------------------------------

def input_files(city: City, stations=None) -> list[dict]:
    """Every file the report reads, with its sha256 and size: the station files, city.toml and the
    reference layers (districts, built-up areas, key sites)."""
    from analysis.clean.sources import list_input_files

    paths = list(list_input_files([Path(stations) if stations else city.stations_dir]))
    paths += [city.folder / "city.toml"] + [city.path(k) for k in ("districts", "urban_areas", "sites") if k in city.files]
    return [{"path": str(p), "sha256": sha256_of(p), "bytes": p.stat().st_size} for p in paths]


def inputs_key(files: list[dict], extract_date=None) -> str:
    """The cache key: the inputs' content and where they are (not their files' times), the package
    version and the extract-date setting."""
    doc = {"v": CACHE_VERSION, "package": __version__, "extract_date": str(extract_date or "auto"),
           "files": sorted((project_relative(f["path"]), f["sha256"]) for f in files)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def extract_rule_zh(rule: str) -> str:
    """The extract-date rule of `clean_cached`, in Chinese."""
    if rule.startswith("given"):
        return "由参数给定"
    if rule.startswith("records_received"):
        return "城市配置中的收到日期"
    return "记录中最晚的开通或阶段日期"


def clean_cached(city: str | City, stations=None, processed=None, extract_date=None) -> dict:
    """The city's cleaned stations, cleaned only when the inputs' content changed.

    The records are cleaned once, as of their extract date: `extract_date` when given, else the
    latest date found in them (an on-air or stage date), since records cannot mention what had not
    happened when they were extracted. A report for an earlier date then counts only the dates on or
    before it (cleaning at the report date instead would quarantine every station that went on air
    later, and a backfilled report would lose the sites then in the pipeline).

    Outputs go to `<processed>/<city>/cache/<key[:16]>/` (stations.parquet, quarantine.csv,
    source_matches.csv, clean_summary.json, cache.json). Returns a dict: stations, summary, key, hit,
    folder, files, extract (Timestamp), extract_rule.
    """
    from analysis.clean.stations import clean_stations, clean_to_folder, read_stations
    from analysis.taskforce import extract_date_of

    cfg = resolve_city(city)
    files = input_files(cfg, stations)
    key = inputs_key(files, extract_date)
    root = Path(processed) if processed else PROCESSED_DIR
    folder = root / cfg.key / "cache" / key[:16]
    meta_path = folder / "cache.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") == key and (folder / "stations.parquet").is_file():
            return {"stations": read_stations(folder / "stations.parquet"),
                    "summary": json.loads((folder / "clean_summary.json").read_text(encoding="utf-8")),
                    "key": key, "hit": True, "folder": folder, "files": files,
                    "extract": pd.Timestamp(meta["extract"]), "extract_rule": meta["extract_rule"]}
    inputs = [Path(stations) if stations else cfg.stations_dir]
    if extract_date is not None:
        extract = pd.Timestamp(parse_date(extract_date, "--extract-date"))
        rule = f"given: {extract.date()}"
    elif cfg.records_received is not None:
        extract = pd.Timestamp(cfg.records_received)
        rule = f"records_received in city.toml: {extract.date()}"
    else:
        first = clean_stations(inputs, cfg, as_of=dt.date.today())
        latest = extract_date_of(first.stations)
        extract = latest if latest is not None else pd.Timestamp(dt.date.today())
        rule = "the latest on-air or stage date in the records"
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=folder.parent))
    tmp.chmod(0o755)
    try:
        result = clean_to_folder(inputs, cfg, tmp, as_of=extract.date())
        meta = {"key": key, "extract": extract.date().isoformat(), "extract_rule": rule, "files": files,
                "package_version": __version__, "made": dt.datetime.now().isoformat(timespec="seconds")}
        (tmp / "cache.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if folder.exists():  # another run finished the same key meanwhile: same content
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"stations": result.stations, "summary": result.summary, "key": key, "hit": False, "folder": folder,
            "files": files, "extract": extract, "extract_rule": rule}


def provenance_of(city: City, as_of, cleaned: dict, lang: str = "zh") -> dict:
    """What a report was made from: inputs' content hash and files, city config and its hash, package
    version, as-of, previous and extract dates, whether the cleaned data came from the cache."""
    from analysis.report.pages import previous_report_date

    toml = city.folder / "city.toml"
    rel = project_relative(toml)
    as_of = pd.Timestamp(as_of)
    return {
        "city": city.key, "city_name": f"{city.name_zh} ({city.name_en})", "city_config": str(toml),
        "city_config_rel": rel, "city_config_sha256": sha256_of(toml),
        "inputs_sha256": cleaned["key"], "n_input_files": len(cleaned["files"]), "files": cleaned["files"],
        "cache_hit": bool(cleaned["hit"]), "processed": str(cleaned["folder"]),
        "package_version": __version__, "as_of": as_of.date().isoformat(),
        "previous": previous_report_date(as_of).date().isoformat(),
        "extract_date": pd.Timestamp(cleaned["extract"]).date().isoformat(), "extract_rule": cleaned["extract_rule"],
        "lang": lang, "made": dt.datetime.now().isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

def _exporter():
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

    from analysis.report.pages import RECORD_KEY

    class _DropForReaders(Preprocessor):
        """Leave out what a reader should not see: recorded values and warnings on stderr."""

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.get("outputs", [])
                                if RECORD_KEY not in o.get("metadata", {})
                                and not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
            return cell, resources

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(_DropForReaders(), enabled=True)
    # the analyst's bilingual title cell: the page has its own title in the report's language
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"notebook-only"}, enabled=True), enabled=True)
    return exporter


def render_html(notebook: str | Path, out: str | Path, title: str = "", lang: str = "zh") -> Path:
    """An executed notebook as one HTML page without code: figures are inline PNG, the map is inlined
    in its frame, no script or style is loaded from the network."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": title or Path(notebook).stem}})
    # the lab template loads require.js and MathJax from a CDN; the pages need neither
    body = re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>', "", body)
    body = body.replace("<html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', 1)
    out = Path(out)
    out.write_text(body, encoding="utf-8")
    return out


_INDEX_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;max-width:980px;
margin:2em auto;padding:0 1em;color:#1b1f24;line-height:1.5}
h1{font-size:24px;margin-bottom:0.2em}h2{font-size:18px;margin-top:1.6em;border-bottom:1px solid #ccd5df}
table{border-collapse:collapse;font-size:14px;margin:0.5em 0}
th{background:#eef2f7;text-align:left;padding:5px 12px;border-bottom:2px solid #9aa9bb}
td{padding:4px 12px;border-bottom:1px solid #dde3ea}td:first-child,th{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
.big{font-size:28px;font-weight:600}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:1em 0}
.card{border:1px solid #ccd5df;border-radius:6px;padding:10px 16px;min-width:180px;background:#f7f9fb}
.card .label{font-size:13px;color:#444}.muted{color:#666;font-size:12px}
"""


def _t(lang, zh, en):
    return zh if lang == "zh" else en


def _fmt_prob(v) -> str:
    from analysis.report.pages import prob

    return prob(float(v)) if v is not None else "–"


def headline_cards(h: dict, city: City, lang: str) -> list[tuple[str, str]]:
    """The headline numbers of a report (from its summary notebook's records) as (label, value)."""
    from analysis.report.pages import n, pct

    cards = [(_t(lang, f"{h['as_of']} 已开通", f"On air on {h['as_of']}"), n(h.get("on_air_as_of")))]
    for t in city.targets:
        d = t.date.isoformat()
        if t.kind == "reported" and f"on_air_{d}" in h:
            cards.append((_t(lang, f"{d} 已开通（通报 {t.on_air:,}）", f"On air on {d} (reported {t.on_air:,})"),
                          n(h[f"on_air_{d}"])))
        elif t.kind == "target" and f"prob_reach_{d}" in h:
            cards.append((_t(lang, f"{d} 前达到 {t.on_air:,} 座的概率", f"P(reach {t.on_air:,} by {d})"),
                          _fmt_prob(h[f"prob_reach_{d}"])))
    if "urban_covered_pct" in h:
        cards.append((_t(lang, "城区覆盖率（室外）", "Built-up area covered"), pct(h["urban_covered_pct"])))
    if "pipeline_total" in h:
        cards.append((_t(lang, "在途站址 / 督办", "Pipeline / supervised"),
                      f"{n(h['pipeline_total'])} / {n(h.get('supervision_list'))}"))
    return cards


def write_report_index(folder: Path, city: City, as_of: str, headline: dict, prov: dict, lang: str) -> Path:
    """The report's index.html: headline numbers, links to each page and file, what it was made from."""
    cards = "".join(f'<div class="card"><div class="label">{html.escape(k)}</div><div class="big">{html.escape(v)}</div></div>'
                    for k, v in headline_cards(headline, city, lang))
    pages = []
    for nb, zh, en in NOTEBOOKS:
        stem = Path(nb).stem
        pages.append(f'<tr><td><a href="{stem}.html">{html.escape(_t(lang, zh, en))}</a></td>'
                     f'<td><a href="{stem}.html">{stem}.html</a></td><td><a href="{nb}">{nb}</a></td></tr>')
    extra = [p for p in ("coverage_map.html", "provenance.json", "headline.json") if (folder / p).is_file()]
    files = "".join(f'<li><a href="{p}">{p}</a></li>' for p in extra)
    prov_rows = [
        (_t(lang, "报告日期（截至）", "Report date (as of)"), prov["as_of"]),
        (_t(lang, "输入文件内容哈希", "Inputs' content hash"), f"sha256 {prov['inputs_sha256'][:16]} ({prov['n_input_files']} files)"),
        (_t(lang, "城市配置", "City config"), f"{prov['city_config_rel']} (sha256 {prov['city_config_sha256'][:12]})"),
        (_t(lang, "数据提取日期", "Records extracted"), f"{prov['extract_date']} (" + (
            _t(lang, extract_rule_zh(prov["extract_rule"]), prov["extract_rule"])) + ")"),
        (_t(lang, "缓存", "Cache"), _t(lang, "沿用已清洗数据（输入未变）", "cleaned data reused (inputs unchanged)")
         if prov["cache_hit"] else _t(lang, "本次重新清洗", "cleaned in this run")),
        (_t(lang, "软件版本", "Package version"), prov["package_version"]),
        (_t(lang, "生成时间", "Made"), prov["made"]),
    ]
    prov_html = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in prov_rows)
    title = _t(lang, f"{city.name_zh} 5G 建设月报 · 截至 {as_of}", f"{city.name_en} 5G buildout report · as of {as_of}")
    page = f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_INDEX_CSS}</style></head><body>
<p class="muted"><a href="../index.html">{_t(lang, "← 全部月报", "← all reports")}</a></p>
<h1>{html.escape(title)}</h1>
<p>{html.escape(_t(lang, f"{city.name_zh}（{city.name_en}）5G 基站建设监测。先读“月度简报”；其余各页为明细。",
                    f"5G base-station buildout monitor of {city.name_en} ({city.name_zh}). Read the summary first; the other pages hold the detail."))}</p>
<div class="cards">{cards}</div>
<h2>{_t(lang, "各页", "Pages")}</h2>
<table><thead><tr><th>{_t(lang, "页面", "Page")}</th><th>HTML</th><th>{_t(lang, "已执行的笔记本", "Executed notebook")}</th></tr></thead>
<tbody>{''.join(reversed(pages[-1:])) + ''.join(pages[:-1])}</tbody></table>
<ul>{files}</ul>
<h2>{_t(lang, "本报告的数据来源", "What this report was made from")}</h2>
<table>{prov_html}</table>
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_city_index(city_dir: Path, city: City, lang: str) -> Path:
    """`reports/<city>/index.html`: every dated report in the folder, newest first, with its headline numbers."""
    reports = []
    for folder in sorted((p for p in city_dir.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.name)),
                         reverse=True):
        hp = folder / "headline.json"
        if hp.is_file() and (folder / "index.html").is_file():
            cards = headline_cards(json.loads(hp.read_text(encoding="utf-8")), city, lang)
            # the first card is "on air on <its date>": one column for all reports
            reports.append((folder.name, {_t(lang, "已开通", "On air"): cards[0][1], **dict(cards[1:])}))
    # reports of different dates have different cards (a target already due, or not yet): one column
    # per label any report has, each cell looked up by its label
    labels: list[str] = []
    for _, cards in reports:
        labels += [k for k in cards if k not in labels]
    rows = ["<tr>" + f'<td><a href="{name}/index.html">{name}</a></td>'
            + "".join(f'<td class="num">{html.escape(cards.get(k, "–"))}</td>' for k in labels) + "</tr>"
            for name, cards in reports]
    head = ("<tr><th>" + _t(lang, "报告日期", "Report date") + "</th>"
            + "".join(f"<th>{html.escape(x)}</th>" for x in labels) + "</tr>") if reports else ""
    failed = sorted(p.name for p in city_dir.iterdir() if p.is_dir() and p.name.endswith(".failed"))
    failed_html = ("<h2>" + _t(lang, "失败的运行（保留已执行的笔记本）", "Failed runs (executed notebooks kept)") + "</h2><ul>"
                   + "".join(f'<li><a href="{f}/">{f}</a></li>' for f in failed) + "</ul>") if failed else ""
    title = _t(lang, f"{city.name_zh} 5G 建设月报", f"{city.name_en} 5G buildout reports")
    page = f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_INDEX_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(_t(lang, "每期月报一行，最新在上；点日期打开该期。", "One row per report, newest first; open one by its date."))}</p>
<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>
{failed_html}
</body></html>
"""
    path = city_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    root_index = city_dir.parent / "index.html"
    cities = sorted(p.name for p in city_dir.parent.iterdir() if (p / "index.html").is_file() and p.is_dir())
    root_index.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>5G buildout reports</title>"
        f"<style>{_INDEX_CSS}</style></head><body><h1>5G 建设月报 · 5G buildout reports</h1><ul>"
        + "".join(f'<li><a href="{html.escape(c)}/index.html">{html.escape(c)}</a></li>' for c in cities)
        + "</ul></body></html>\n",
        encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------

def _execute(nb_name: str, dest: Path, parameters: dict, kernel: str, notebooks_dir: Path, timeout: int) -> None:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(str(notebooks_dir / nb_name), str(dest), parameters=parameters, kernel_name=kernel,
                            cwd=str(notebooks_dir), progress_bar=False, log_output=False,
                            execution_timeout=timeout)
    except PapermillExecutionError as exc:
        raise NotebookFailed(f"notebook {nb_name} failed in cell {exc.cell_index + 1} of the executed notebook (In [{exc.exec_count}]): "
                             f"{exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}") from None


def _swap_in(tmp: Path, dest: Path) -> None:
    """Replace `dest` by `tmp` with renames only: a reader sees the old report or the new one."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_report(city: City, as_of: pd.Timestamp, out: Path, cleaned: dict, lang: str, basemap: str | None = None,
                 stations=None, processed=None, extract_date=None, kernel: str = "python3",
                 notebooks_dir: Path | None = None, timeout: int = 600, log=print) -> Path:
    """Run every notebook for one report date into a temporary folder next to the report's folder,
    render the pages, write index.html, then swap it in. On a failing notebook the executed copies go
    to `<as_of>.failed/` and the last good report stays as it was."""
    from analysis.report.pages import read_records

    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    city_dir = Path(out) / city.key
    city_dir.mkdir(parents=True, exist_ok=True)
    day = as_of.date().isoformat()
    dest = city_dir / day
    tmp = Path(tempfile.mkdtemp(prefix=f".{day}.building-", dir=city_dir))
    tmp.chmod(0o755)  # mkdtemp makes it private; the report is for a file share
    # a city outside data/raw/ is passed by its folder, so the notebooks find the same city.toml
    in_raw = city.folder.resolve() == (RAW_DIR / city.key).resolve()
    params = {"city": city.key if in_raw else str(city.folder), "as_of": day, "lang": lang, "basemap": basemap or "",
              "stations": str(stations) if stations else "", "processed": str(processed) if processed else "",
              "extract_date": str(extract_date) if extract_date else "", "out": str(tmp)}
    t0 = time.perf_counter()
    try:
        for nb, _, _ in NOTEBOOKS:
            t = time.perf_counter()
            try:
                _execute(nb, tmp / nb, {**params, "out": str(tmp)}, kernel, notebooks_dir, timeout)
            except NotebookFailed as exc:
                failed = city_dir / f"{day}.failed"
                if failed.exists():
                    shutil.rmtree(failed)
                os.replace(tmp, failed)
                keep = "; the last good report is unchanged" if dest.exists() else ""
                raise NotebookFailed(f"{exc}; the executed notebook is kept in {failed / nb}{keep}") from None
            log(f"  {day} {nb}: {time.perf_counter() - t:.1f} s")
        for nb, zh, en in NOTEBOOKS:
            render_html(tmp / nb, tmp / (Path(nb).stem + ".html"), title=f"{_t(lang, zh, en)} · {day}", lang=lang)
        headline = read_records(tmp / SUMMARY_NOTEBOOK)
        headline.setdefault("as_of", day)
        prov = provenance_of(city, as_of, cleaned, lang)
        (tmp / "headline.json").write_text(json.dumps(headline, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (tmp / "provenance.json").write_text(json.dumps(prov, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        write_report_index(tmp, city, day, headline, prov, lang)
        _swap_in(tmp, dest)
        failed = city_dir / f"{day}.failed"
        if failed.exists():
            shutil.rmtree(failed)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"report {city.key} {day}: {time.perf_counter() - t0:.0f} s -> {dest}")
    return dest


def run_report(city: str, as_of=None, out="reports", months: str | None = None, lang: str | None = None,
               basemap: str | None = None, extract_date=None, stations=None, processed=None,
               kernel: str = "python3", notebooks_dir=None, timeout: int = 600, log=print) -> list[Path]:
    """The `report` command: check every parameter (unknown city, a date that is not a date, a date
    outside the data: one-line UsageError) before any notebook runs, then build one report, or one per
    month of `months` ('YYYY-MM:YYYY-MM', each as of its month end), and the index linking them."""
    from analysis.report.pages import default_lang

    cfg = load_city(city)
    if lang not in (None, "", "zh", "en"):
        raise UsageError(f"--lang: {lang!r} is not zh or en")
    lang = lang or default_lang(cfg)
    basemap = check_basemap(basemap or cfg.basemap.get("default"))
    if as_of is not None and months:
        raise UsageError("give --as-of or --months, not both")
    if as_of is not None:
        parse_date(as_of)
    month_list = parse_months(months) if months else None
    if extract_date is not None:
        parse_date(extract_date, "--extract-date")
    cleaned = clean_cached(cfg, stations=stations, processed=processed, extract_date=extract_date)
    log(f"inputs sha256 {cleaned['key'][:16]}: " + ("cleaned data reused (inputs unchanged)" if cleaned["hit"]
                                                    else f"cleaned as of {cleaned['extract'].date()}"))
    dates = [month_as_of(m, cfg, cleaned["extract"]) for m in month_list] if month_list \
        else [check_as_of(as_of, cfg, cleaned["extract"])]
    built = []
    from analysis.progress import track

    try:
        for d in track(dates, "report", unit="report", label=lambda d: f"{d.date()} built"):  # a line a month
            built.append(build_report(cfg, d, Path(out), cleaned, lang, basemap=basemap, stations=stations,
                                      processed=processed, extract_date=extract_date, kernel=kernel,
                                      notebooks_dir=notebooks_dir, timeout=timeout, log=log))
    finally:
        city_dir = Path(out) / cfg.key
        if city_dir.is_dir():
            write_city_index(city_dir, cfg, lang)
    return built
