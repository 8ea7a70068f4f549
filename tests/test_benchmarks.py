"""The benchmark entry point still runs (smallest scale, fast stages only): it is not a timing test."""

import json
import subprocess
import sys

import pytest

from analysis.config import PROJ_ROOT


@pytest.mark.slow
def test_benchmark_entry_point_runs_at_the_smallest_scale(tmp_path):
    pytest.importorskip("psutil")
    from benchmarks import stages

    # the district polygons are a synthetic tiling here: cnmaps takes ~15 s to export every county
    import benchmarks.fixtures as fixtures

    work = tmp_path
    city = work / "china"
    city.mkdir()
    tiles = fixtures.tile_polygons(5.0)
    orig = fixtures.county_polygons
    fixtures.county_polygons = lambda: (tiles, "test tiling")
    try:
        fixtures.china_city(city)
    finally:
        fixtures.county_polygons = orig
    for stage in ("clean", "assign", "coverage"):
        for variant in ("package", "baseline"):
            out = subprocess.run([sys.executable, "-m", "benchmarks.stages", stage, variant, "200", str(work)],
                                 capture_output=True, text=True, cwd=PROJ_ROOT, timeout=120)
            assert out.returncode == 0, out.stderr[-500:]
            result = json.loads(out.stdout.splitlines()[-1].removeprefix("RESULT "))
            assert result["seconds"] >= 0
    assert stages.AS_OF
