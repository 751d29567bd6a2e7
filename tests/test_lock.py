"""The lock: every install uses it, and it holds what pyproject.toml asks for.

``requirements-lock.txt`` is written by ``make lock`` (``uv pip compile --universal``): one
set of exact versions for Linux and macOS, Python 3.11 and newer. ``make setup`` (so
``make test``, ``make start`` and CI), Binder and ``make bench`` install from it, and the
benchmark's own venvs from the locks in ``bench/locks/``. These tests fail when
``pyproject.toml`` names a dependency the lock does not hold (or holds at a version outside
its range), when this venv was not installed from the lock, or when an install path stops
using it.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

LOCK = ROOT / "requirements-lock.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
KIT = canonicalize_name(PYPROJECT["project"]["name"])


def _pins(path: Path) -> dict[str, list[tuple[Version, Marker | None]]]:
    """``{name: [(version, marker or None), ...]}``: a universal lock may pin one package at
    two versions, each under its own marker (numpy for Python < 3.12 and >= 3.12)."""
    pins: dict[str, list[tuple[Version, Marker | None]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        requirement = Requirement(line)
        versions = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        assert len(versions) == 1, f"not an exact pin in {path.name}: {line}"
        pins.setdefault(canonicalize_name(requirement.name), []).append(
            (Version(versions[0]), requirement.marker))
    return pins


def _declared() -> list[Requirement]:
    """Every dependency pyproject.toml declares, extras included (not the kit itself)."""
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != KIT]


def _applies_here(marker: Marker | None) -> bool:
    return marker is None or marker.evaluate()


def test_the_lock_is_universal_and_made_by_make_lock() -> None:
    header = LOCK.read_text(encoding="utf-8").splitlines()[:3]
    assert any("uv pip compile pyproject.toml --all-extras --universal" in line
               for line in header), header


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    pins = _pins(LOCK)
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, (f"pyproject.toml names {requirement} but {LOCK.name} does not "
                              "hold it: run `make lock`")
        for version, _marker in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{LOCK.name} pins {name}=={version}, outside pyproject.toml's "
                f"{requirement}: run `make lock`")


def test_this_venv_was_installed_from_the_lock() -> None:
    """What ``make setup`` installed is exactly what the lock pins (for this platform)."""
    wrong = []
    for name, entries in _pins(LOCK).items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            continue  # an extra this venv does not have (bench), or another platform's
        wanted = [version for version, marker in entries if _applies_here(marker)]
        if wanted and installed not in wanted:
            wrong.append(f"{name}: installed {installed}, locked {wanted[0]}")
    assert not wrong, "reinstall from the lock (make setup):\n" + "\n".join(wrong)


def test_binder_installs_from_the_lock() -> None:
    lines = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    constraints = [line.split(maxsplit=1)[1] for line in lines if line.startswith("-c ")]
    # pip reads a nested file's path relative to the file that names it
    assert [(ROOT / "binder" / path).resolve() for path in constraints] == [LOCK.resolve()]


def test_setup_and_bench_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"LOCK   := {LOCK.name}" in makefile
    assert "INSTALL = $(UV) pip install --quiet --python $(PY) -c $(LOCK)" in makefile
    installs = re.findall(r"pip install [^\n]*", makefile)
    # every install is the locked one, but the bootstrap of uv itself at its locked version
    assert all("-c $(LOCK)" in line or "grep '^uv==' $(LOCK)" in line for line in installs)
    assert re.search(r"^\t\$\(INSTALL\) -e '\.\[test\]'", makefile, re.M)  # make setup
    assert re.search(r"^\t\$\(INSTALL\) -e '\.\[bench\]'", makefile, re.M)  # make bench


@pytest.mark.parametrize("spec", sorted((ROOT / "bench" / "locks").glob("*.in")),
                         ids=lambda path: path.stem)
def test_each_bench_venv_has_a_lock_holding_its_requirements(spec: Path) -> None:
    lock = spec.with_name(f"{spec.stem}-lock.txt")
    pins = _pins(lock)
    for line in spec.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in pins and all(requirement.specifier.contains(version)
                                        for version, _marker in pins[name]), (spec, line)
