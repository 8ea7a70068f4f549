"""The naive city report, the baseline of the `report` command rows: what the report was before the
package had a verb for it, `python -m benchmarks.naive_report CITY AS_OF OUT`.

For each notebook in order: `papermill` it with the city, the date and a fresh processed folder,
then `jupyter nbconvert --to html` the executed copy, each as its own process. No parameter check,
no cache of the cleaned inputs between runs, no index page, no failed-report folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from analysis.config import NOTEBOOKS_DIR, PROJ_ROOT


def main(argv: list[str]) -> int:
    # (absolute: papermill runs in the project's folder, the notebooks in theirs; a relative OUT was a traceback)
    city, as_of, out = argv[0], argv[1], Path(argv[2]).resolve()
    if Path(city).exists():  # a city folder or city.toml given by path, not a bundled city's name
        city = str(Path(city).resolve())
    out.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))
    for nb in notebooks:
        executed = out / nb.name
        params = ["-p", "city", city, "-p", "as_of", as_of, "-p", "processed", str(out / "processed")]
        papermill = [sys.executable, "-m", "papermill", str(nb), str(executed), *params, "--cwd", str(NOTEBOOKS_DIR)]
        subprocess.run([*papermill, "-k", "python3"], check=True, capture_output=True, cwd=PROJ_ROOT)
        nbconvert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)]
        subprocess.run(nbconvert, check=True, capture_output=True, cwd=PROJ_ROOT)
    print(f"{len(notebooks)} notebooks executed and rendered -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
