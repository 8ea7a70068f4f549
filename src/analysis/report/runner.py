"""The monthly report: check the parameters once, clean the inputs (a content-hash cache), run each
stage once for the report date and the date it compares with (`chrome.find_compared_report`;
`outputs.ensure_stage`, files under
`data/processed/<city>/<as_of>/`), run the notebooks with papermill (they read those files), render
them to HTML without code, write the index pages, then swap the folder into `reports/<city>/<as_of>/`
in one rename.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pandas as pd

from analysis.catalog import DATED_STAGES
from analysis.config import NOTEBOOKS_DIR, RAW_DIR, City, load_city, parse_date
from analysis.errors import AnalysisError, BadInputError, UsageError
from analysis.files import drop_direction_controls
from analysis.report.chrome import (
    Compared,
    decorate_page,
    find_compared_report,
    find_next_report,
    vintage_line,
    write_annex,
)
from analysis.report.context import resolve_lang
from analysis.report.display import RECORD_KEY, json_ready, read_records
from analysis.report.index import PAGE_KEYS, provenance_rows, write_city_index, write_report_index
from analysis.report.inputs import (
    check_as_of,
    check_basemap,
    clean_cached,
    list_months_ending,
    month_as_of,
    parse_months,
    parse_months_count,
    provenance_of,
)
from analysis.report.outputs import ensure_stage
from analysis.report.text import default_lang, say

#: The notebooks of a report, in the order they run, with their page titles (zh, en).
NOTEBOOKS = tuple((nb, say("zh", f"nb.{key}"), say("en", f"nb.{key}")) for nb, key in PAGE_KEYS)
SUMMARY_NOTEBOOK = "05_summary.ipynb"
#: The stages the "changes since last month" read for the date compared with (tables only).
PREVIOUS_DATE_STAGES = ("coverage", "taskforce")


class NotebookFailed(AnalysisError):
    """A notebook raised while the report ran: names the notebook, the cell and where the executed copy is."""


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def _exporter():
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

    class _DropForReaders(Preprocessor):
        """Leave out what a reader should not see: recorded values and warnings on stderr."""

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code":
                cell.outputs = [
                    o
                    for o in cell.get("outputs", [])
                    if RECORD_KEY not in o.get("metadata", {})
                    and not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                ]
            return cell, resources

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(_DropForReaders(), enabled=True)
    # the analyst's bilingual title cell: the page has its own title in the report's language
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"notebook-only"}, enabled=True), enabled=True
    )
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
    # a sender's direction override (U+202E in a station's name) turned the rest of its sentence backwards:
    # the pages drop the invisible direction controls (the data keep them)
    body = drop_direction_controls(body)
    # (nbconvert's lab template writes <html lang="en"> whatever the page's language)
    body = re.sub(r"<html\b[^>]*>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', body, count=1)
    out = Path(out)
    out.write_text(body, encoding="utf-8")
    return out


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------


def run_stages(
    city: City,
    as_of: pd.Timestamp,
    cleaned: dict,
    lang: str | None,
    basemap: str,
    processed=None,
    log=print,
    previous: pd.Timestamp | None = None,
) -> dict[str, Path]:
    """Each dated stage once for the report date, with the figures in the pages' figure language and
    the map on `basemap`, and the stages "changes since last month" reads once for the date compared
    with, `previous` (default: `find_compared_report` with no reports beside), tables only, unless their
    outputs are there already. Returns the report date's folders."""
    fig_lang = resolve_lang(city, lang)[1]
    folders = {
        stage: ensure_stage(stage, city, as_of, cleaned, processed, fig_lang=fig_lang, basemap=basemap, log=log)
        for stage in DATED_STAGES
    }
    previous = previous if previous is not None else find_compared_report(as_of).date
    for stage in PREVIOUS_DATE_STAGES:
        ensure_stage(stage, city, previous, cleaned, processed, log=log)
    return folders


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _execute(nb_name: str, dest: Path, parameters: dict, kernel: str, notebooks_dir: Path, timeout: int) -> None:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(
            str(notebooks_dir / nb_name),
            str(dest),
            parameters=parameters,
            kernel_name=kernel,
            cwd=str(notebooks_dir),
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
            # the kernel talks to papermill over loopback TCP and says so on stderr at every start, and a
            # kernel slow to shut down on a busy machine is interrupted and logs "KeyboardInterrupt caught in
            # kernel" at ERROR after a report that succeeded; a cell's error still fails the run
            # (PapermillExecutionError) and warnings of the report's own code still reach the outputs
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"notebook {nb_name} failed in cell {exc.cell_index + 1} of the executed notebook (In [{exc.exec_count}]): "
            f"{exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}"
        ) from None


def _relocate_parameters(notebook: Path, tmp: Path) -> None:
    """The executed notebook names the folder it lives in, not the temporary one it was built in: `out`
    becomes ".", the notebook's own folder (JupyterLab runs a notebook in its folder), so the analyst who
    reruns it there writes beside the report, and no machine path is left in it."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = cell.source.replace(json.dumps(str(tmp)), '"."').replace(str(tmp), ".")
            cell.id = "injected-parameters"  # papermill draws a random id; the page must not change on a rerun
    # papermill's record of the run named the same temporary folder and this machine's notebooks folder
    record = nb.metadata.get("papermill", {})
    if record.get("parameters", {}).get("out") == str(tmp):
        record["parameters"]["out"] = "."
    # (as the project lays them out: no machine's path, wherever the notebooks were run from)
    if record.get("input_path"):
        record["input_path"] = f"notebooks/{Path(record['input_path']).name}"
    if record.get("output_path"):
        record["output_path"] = notebook.name
    nbformat.write(nb, str(notebook))


def _swap_in(tmp: Path, dest: Path) -> None:
    """Replace `dest` by `tmp` with renames only: a reader sees the old report or the new one."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _notebook_parameters(
    city: City, day: str, lang: str, basemap: str | None, stations, processed, extract_date, out: Path
) -> dict:
    # a city outside data/raw/ is passed by its folder, so the notebooks find the same city.toml; paths
    # absolute, as the notebooks run in notebooks/ (a folder given relative to the caller's would miss)
    in_raw = city.folder.resolve() == (RAW_DIR / city.key).resolve()
    return {
        "city": city.key if in_raw else str(city.folder.resolve()),
        "as_of": day,
        "lang": lang,
        "basemap": basemap or "",
        "stations": str(Path(stations).resolve()) if stations else "",
        "processed": str(Path(processed).resolve()) if processed else "",
        "extract_date": str(extract_date) if extract_date else "",
        "out": str(out),
    }


def _run_notebooks(
    tmp: Path, city_dir: Path, day: str, params: dict, kernel: str, notebooks_dir: Path, timeout: int, dest: Path, log
) -> None:
    """Execute every notebook into `tmp`; a failing one moves `tmp` to `<day>.failed/` and raises."""
    for nb, _, _ in NOTEBOOKS:
        started = time.perf_counter()
        try:
            _execute(nb, tmp / nb, params, kernel, notebooks_dir, timeout)
        except NotebookFailed as exc:
            failed = city_dir / f"{day}.failed"
            if failed.exists():
                shutil.rmtree(failed)
            (tmp / _BUILDER).unlink(missing_ok=True)
            os.replace(tmp, failed)
            keep = "; the last good report is unchanged" if dest.exists() else ""
            raise NotebookFailed(f"{exc}; the executed notebook is kept in {failed / nb}{keep}") from None
        log(f"  {day} {nb}: {time.perf_counter() - started:.1f} s")


def _stage_notes(folders: dict[str, Path]) -> list[str]:
    """The notes the forecast and task-force stages wrote for the report date (for the annex)."""
    notes = []
    for stage, name in (("forecast", "model.json"), ("taskforce", "taskforce_notes.json")):
        path = folders.get(stage, Path("-")) / name
        if path.is_file():
            notes += [str(x) for x in json.loads(path.read_text(encoding="utf-8")).get("notes", [])]
    return list(dict.fromkeys(notes))


def _publish(
    tmp: Path,
    city: City,
    as_of: pd.Timestamp,
    cleaned: dict,
    lang: str,
    notes: list[str],
    compared: Compared,
    next_date: pd.Timestamp,
) -> None:
    """The pages as HTML (with the navigation bar and data vintage), the annex, headline.json,
    provenance.json and index.html (linking the report it compares with, `compared`; naming the next,
    `next_date`) beside the executed notebooks."""
    day = as_of.date().isoformat()
    for nb, _, _ in NOTEBOOKS:
        _relocate_parameters(tmp / nb, tmp)
    nav = [(Path(nb).stem + ".html", zh if lang == "zh" else en) for nb, zh, en in NOTEBOOKS]
    nav = nav[-1:] + nav[:-1]  # the summary first, as on the index
    vintage = vintage_line(lang, as_of, cleaned["extract"], next_date)
    for nb, zh, en in NOTEBOOKS:
        page = render_html(
            tmp / nb, tmp / (Path(nb).stem + ".html"), title=f"{zh if lang == 'zh' else en} · {day}", lang=lang
        )
        decorate_page(page, lang, nav, vintage)
    headline = read_records(tmp / SUMMARY_NOTEBOOK)
    headline.setdefault("as_of", day)
    prov = {
        **provenance_of(city, as_of, cleaned, lang, previous=compared.date),
        "next": next_date.date().isoformat(),
        "notes": notes,
    }
    # whether this run cleaned or reused the cache: the notebooks, run after it, always find the cache
    # (headline.json said cache_hit true beside provenance.json's false)
    headline["cache_hit"] = prov["cache_hit"]
    write_annex(
        tmp,
        lang,
        say(lang, "annex.title", name_zh=city.name_zh, name_en=city.name_en, as_of=day),
        nav,
        vintage,
        provenance_rows(prov, lang),
        prov["files"],
        notes,
        city=city,
    )
    (tmp / "headline.json").write_text(
        json.dumps(json_ready(headline), ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    (tmp / "provenance.json").write_text(json.dumps(prov, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_report_index(tmp, city, day, headline, prov, lang, compared=compared)


def build_report(
    city: City,
    as_of: pd.Timestamp,
    out: Path,
    cleaned: dict,
    lang: str,
    basemap: str | None = None,
    stations=None,
    processed=None,
    extract_date=None,
    kernel: str = "python3",
    notebooks_dir: Path | None = None,
    timeout: int = 600,
    log=print,
    release_stations: bool = False,
    later: tuple = (),
) -> Path:
    """Run the stages once for one report date, then every notebook into a temporary folder next to the
    report's folder, render the pages, write index.html, then swap it in. On a failing notebook the
    executed copies go to `<as_of>.failed/` and the last good report stays as it was.
    `release_stations`: the last report of a run lets go of the cleaned stations once its stages ran
    (the notebooks read the stages' files; at 10^6 stations the table is 1.5 GB held while they run).
    `later`: the dates the same run builds after this one (a backfill's), for the next report's date."""
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR).resolve()
    missing = [nb for nb, _, _ in NOTEBOOKS if not (notebooks_dir / nb).is_file()]
    if missing:  # (said before the stages run, not as papermill's traceback after them)
        raise BadInputError(f"the report's notebooks are not there ({', '.join(missing)} missing)", notebooks_dir)
    # papermill runs the notebooks in notebooks/: a relative --out would be read from there
    city_dir = Path(out).resolve() / city.key
    city_dir.mkdir(parents=True, exist_ok=True)
    day = as_of.date().isoformat()
    dest = city_dir / day
    t0 = time.perf_counter()
    # (the pages find the same report beside this one: their folder is built in `city_dir`)
    compared = find_compared_report(as_of, city_dir)
    folders = run_stages(
        city,
        as_of,
        cleaned,
        lang,
        basemap or check_basemap(city.basemap.get("default")),
        processed,
        log=log,
        previous=compared.date,
    )
    if release_stations:
        cleaned.pop("stations", None)
        gc.collect()
    remove_abandoned_builds(city_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{day}.building-", dir=city_dir))
    tmp.chmod(0o755)  # mkdtemp makes it private; the report is for a file share
    (tmp / _BUILDER).write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")
    params = _notebook_parameters(city, day, lang, basemap, stations, processed, extract_date, tmp)
    try:
        _run_notebooks(tmp, city_dir, day, params, kernel, notebooks_dir, timeout, dest, log)
        next_date = find_next_report(as_of, city_dir, later)
        _publish(tmp, city, as_of, cleaned, lang, _stage_notes(folders), compared, next_date)
        (tmp / _BUILDER).unlink()  # (the run's own mark, not part of the report)
        _swap_in(tmp, dest)
        failed = city_dir / f"{day}.failed"
        if failed.exists():
            shutil.rmtree(failed)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"report {city.key} {day}: {time.perf_counter() - t0:.0f} s -> {dest}")
    return dest


#: The file in a report's building folder naming the machine and process building it.
_BUILDER = ".builder"


def remove_abandoned_builds(city_dir: Path) -> list[Path]:
    """Remove the building folders a report run killed outright (SIGKILL, a power cut) left behind: those whose
    builder, on this machine, is no longer running. A folder of a run still going, of another machine (a file
    share) or without a builder file (made before this rule) is left. Returns the folders removed."""
    removed = []
    for folder in sorted(city_dir.glob(".*.building-*")):
        try:
            host, pid = (folder / _BUILDER).read_text(encoding="utf-8").split()
            pid = int(pid)
        except (OSError, ValueError):
            continue
        if host != socket.gethostname() or _is_running(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # (another user's process: running)
        return True
    return True


def run_report(
    city: str,
    as_of=None,
    out="reports",
    months: str | None = None,
    lang: str | None = None,
    basemap: str | None = None,
    extract_date=None,
    stations=None,
    processed=None,
    kernel: str = "python3",
    notebooks_dir=None,
    timeout: int = 600,
    log=print,
) -> list[Path]:
    """The `report` command: check every parameter (unknown city, a date that is not a date, a date
    outside the data: one-line UsageError) before any notebook runs, then build one report, or one per
    month of `months` ('YYYY-MM:YYYY-MM', each as of its month end; or a number N: the N reports ending on
    `as_of`, default the extract date, the months before as of their month ends), and the index linking them."""
    cfg = load_city(city)
    if lang not in (None, "", "zh", "en"):
        raise UsageError(f"--lang: {lang!r} is not zh or en")
    lang = lang or default_lang(cfg)
    basemap = check_basemap(basemap or cfg.basemap.get("default"))
    count = parse_months_count(months)
    if as_of is not None and months and count is None:
        raise UsageError("give --as-of or --months, not both")
    as_of = parse_date(as_of) if as_of is not None else None
    month_list = parse_months(months) if months and count is None else None
    extract_date = parse_date(extract_date, "--extract-date") if extract_date is not None else None
    if "sites" in cfg.files:  # (its mistakes said before any stage runs, not after the forecast)
        from analysis.sites import read_sites

        read_sites(cfg)
    cleaned = clean_cached(cfg, stations=stations, processed=processed, extract_date=extract_date)
    log(
        f"inputs sha256 {cleaned['key'][:16]}: "
        + ("cleaned data reused (inputs unchanged)" if cleaned["hit"] else f"cleaned as of {cleaned['extract'].date()}")
    )
    if month_list:
        dates = [month_as_of(m, cfg, cleaned["extract"]) for m in month_list]
    else:
        last = check_as_of(as_of, cfg, cleaned["extract"])
        dates = list_months_ending(count, last, cfg, cleaned["extract"]) if count else [last]
    built = []
    from analysis.progress import track

    try:
        for d in track(dates, "report", unit="report", label=lambda d: f"{d.date()} built"):  # a line a month
            built.append(
                build_report(
                    cfg,
                    d,
                    Path(out),
                    cleaned,
                    lang,
                    basemap=basemap,
                    stations=stations,
                    processed=processed,
                    extract_date=extract_date,
                    kernel=kernel,
                    notebooks_dir=notebooks_dir,
                    timeout=timeout,
                    log=log,
                    release_stations=d is dates[-1],
                    later=tuple(x for x in dates if x > d),
                )
            )
    finally:
        city_dir = Path(out) / cfg.key
        if city_dir.is_dir():
            write_city_index(city_dir, cfg, lang)
    return built
