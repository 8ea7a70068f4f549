"""The install is pinned: pyproject, requirements.lock and environment.yml name the same packages."""

import re
import tomllib

import yaml

from analysis.config import PROJ_ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (PROJ_ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not pinned with =="
        pins[_norm(name)] = version
    return pins


def _pyproject() -> tuple[list[str], list[str]]:
    project = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]
    strip = lambda spec: _norm(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0])  # noqa: E731
    return [strip(d) for d in project["dependencies"]], [strip(d) for d in project["optional-dependencies"]["test"]]


def test_every_dependency_is_pinned_in_the_lock():
    lock = _lock()
    deps, test = _pyproject()
    assert [d for d in deps + test if d not in lock] == []


def test_environment_yml_names_the_same_packages_at_the_same_versions():
    env = yaml.safe_load((PROJ_ROOT / "environment.yml").read_text())
    conda = {}
    for item in env["dependencies"]:
        if isinstance(item, str) and item not in ("pip",):
            name, _, version = item.partition("=")
            conda[_norm(name)] = version
    conda.pop("python")
    deps, test = _pyproject()
    assert set(conda) == set(deps + test)
    lock = _lock()
    assert {n: v for n, v in conda.items() if lock[n] != v} == {}
