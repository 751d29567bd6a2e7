"""The Binder folder, tested without Docker, on every ``make test``.

A Binder link that dies quietly is the classic failure of teaching repositories: a pin goes
stale, an apt name changes, ``postBuild`` breaks, and nobody notices until a class opens the
link. These tests walk the path Binder walks, as far as a machine without Docker can:

1. repo2docker's build plan (``--no-build --debug``) names our apt.txt, requirements, postBuild
   and start (repo2docker itself validates none of them);
2. the apt names resolve (``apt-get install -s``; Debian here, Ubuntu on Binder);
3. ``binder/requirements.txt`` resolves (``pip install --dry-run --report``), and every
   package the kit imports is in it; a fresh venv gets the kit built from the repository
   copy, and its dependencies from this venv when it has exactly Binder's versions (else
   the fresh venv installs them all);
4. ``postBuild`` runs with a throwaway ``HOME`` and leaves the sample database there;
5. ``binder/start`` gives the kit a real Redis (``helpdesk-kit doctor`` says so);
6. lesson 00 executes in that environment, its kernel on that Redis.

About 35 s (45 s more when the versions differ and a fresh venv installs them all).
``scripts/binder-smoke`` runs only this.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, missing

pytestmark = pytest.mark.binder

BINDER = ROOT / "binder"
LESSON_00 = Path("notebooks") / "00_start_here.ipynb"

#: Settings that would point the copy at this machine's Redis or data instead of its own.
_FOREIGN_ENV = ("REDIS_URL", "TURSO_DATABASE_URL", "TURSO_AUTH_TOKEN", "XDG_DATA_HOME",
                "XDG_CONFIG_HOME", "VIRTUAL_ENV", "PYTHONPATH", "IPYTHONDIR")


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, fail the test with the command's own words."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}\n--- stdout\n"
                    f"{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}",
                    pytrace=False)
    return result


def _repository_files() -> list[str]:
    """The files Binder would get: tracked plus new-but-not-ignored (a clone, in CI)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git work tree: cannot tell which files Binder would see")
    return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


# --- fixtures: one copy, one venv, one postBuild for the whole module ----------------------
@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """A short temp path (unix socket paths must stay under ~100 characters)."""
    folder = Path(tempfile.mkdtemp(prefix="hk-binder-"))
    yield folder
    _stop_redis_servers(folder / "tmp")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def repo_copy(workspace: Path) -> Path:
    """The repository as Binder copies it: no .venv, no data, no caches of this work tree."""
    target = workspace / "repo"
    for name in _repository_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture(scope="module")
def binder_report(workspace: Path, repo_copy: Path) -> dict[str, str]:
    """What Binder's ``pip install -r binder/requirements.txt`` would install, as pip resolves
    it today from an empty environment (``--dry-run --ignore-installed --report``):
    ``{distribution name: version}``."""
    report = workspace / "binder-install.json"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
          "--report", str(report), "-r", "binder/requirements.txt"], cwd=repo_copy,
         timeout=300)
    return {_canonical(item["metadata"]["name"]): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_here() -> dict[str, str]:
    return {_canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}


#: The kit itself: always built from the repository copy, never taken from this venv (where
#: it is an editable install of the work tree, which would hide a packaging mistake).
KIT = "helpdesk-kit"


@pytest.fixture(scope="module")
def binder_env(workspace: Path, repo_copy: Path, binder_report: dict[str, str]
               ) -> dict[str, str]:
    """Binder's environment, then ``postBuild`` with a throwaway HOME.

    The kit is always installed for real, from the repository copy and not editable, into a
    fresh venv: its packaging (package data, files git does not track) is what Binder uses.
    Its dependencies: when every one Binder would install is here at the same version (the
    usual case: one pyproject, one index, minutes apart), the fresh venv borrows this venv's
    site-packages (a ``.pth``) instead of unpacking JupyterLab for 45 s; otherwise it
    installs ``binder/requirements.txt`` whole. Returns the environment a Binder session would
    have (before ``binder/start``).
    """
    installed = _installed_here()
    differ = {name: version for name, version in binder_report.items()
              if name != KIT and installed.get(name) != version}
    venv = workspace / "venv"
    if differ:
        print(f"Binder would install other versions than this venv has ({differ}): "
              "installing binder/requirements.txt into a fresh venv")
        _run([sys.executable, "-m", "venv", str(venv)], cwd=workspace)
        # --no-compile: skipping .pyc saves a third of the CPU and changes nothing we check.
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
              "-r", "binder/requirements.txt"], cwd=repo_copy, timeout=420)
        path = f"{venv / 'bin'}:{os.environ['PATH']}"
    else:
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=workspace)
        ours = Path(sysconfig.get_paths()["purelib"])
        (venv / ours.relative_to(sys.prefix) / "binder-deps.pth").write_text(f"{ours}\n")
        _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
              "--quiet", "--no-compile", "--no-deps", str(repo_copy)], cwd=workspace,
             timeout=300)
        path = f"{venv / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    home, tmp = workspace / "home", workspace / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in _FOREIGN_ENV and not k.startswith(("HELPDESK_", "JUPYTER_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PATH=path)
    _run(["binder/postBuild"], cwd=repo_copy, env=env, timeout=180)
    return env


def test_the_kit_binder_runs_is_the_one_built_from_the_repository(
        binder_env: dict[str, str], workspace: Path) -> None:
    """Not this venv's editable install: the copy pip built from the repository's files."""
    found = _run(["python", "-c", "import helpdesk_kit, sys; print(helpdesk_kit.__file__)"],
                 cwd=workspace, env=binder_env)
    assert found.stdout.strip().startswith(str(workspace / "venv")), found.stdout


def _third_party_imports() -> set[str]:
    """Top-level names of every non-standard module the kit imports (not its own)."""
    names: set[str] = set()
    for path in (ROOT / "helpdesk_kit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names
            if n not in sys.stdlib_module_names and n != "helpdesk_kit"}


def test_binder_installs_every_package_the_kit_imports(binder_report: dict[str, str]) -> None:
    """What the test venv has and Binder would not (a dependency only in the test extra) is
    the one thing sharing the venv could hide: every import must come from Binder's list."""
    owners = importlib.metadata.packages_distributions()
    missing_from_binder = {name: owners.get(name, ["?"]) for name in _third_party_imports()
                           if not any(_canonical(d) in binder_report
                                      for d in owners.get(name, []))}
    assert not missing_from_binder, f"Binder would not install: {missing_from_binder}"
    assert {"jupyterlab", "redis", "libsql-client", "ipywidgets", "fakeredis",
            "voila"} <= set(binder_report)


def _stop_redis_servers(tmp: Path) -> None:
    """Stop the redis-servers binder/start daemonised under ``tmp`` (by their pid files)."""
    for pidfile in tmp.glob("helpdesk-redis-*/redis.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)


# --- 1. the build plan ---------------------------------------------------------------------
def test_repo2docker_plan_uses_every_binder_file() -> None:
    r2d = Path(sys.executable).parent / "jupyter-repo2docker"
    if not r2d.exists():
        missing("repo2docker", "pip install -e '.[test]' (it brings jupyter-repo2docker)")
    result = _run([str(r2d), "--no-build", "--debug", "."], cwd=ROOT, timeout=60)
    plan = result.stdout + result.stderr
    apt_names = (BINDER / "apt.txt").read_text().split()
    python = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f"python={python}" in plan, "runtime.txt's Python version is not in the plan"
    assert f"--no-install-recommends {' '.join(apt_names)}" in plan, "apt.txt not installed"
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in plan
    # "." in requirements.txt must make repo2docker install *after* copying the repository.
    assert plan.index("COPY --chown") < plan.index("binder/requirements.txt\"")
    assert "RUN ./binder/postBuild" in plan
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in plan


# --- 2. apt --------------------------------------------------------------------------------
def test_apt_names_resolve() -> None:
    if shutil.which("apt-get") is None:
        pytest.skip("no apt-get here: apt.txt names are checked on Debian/Ubuntu only")
    names = (BINDER / "apt.txt").read_text().split()
    assert names, "binder/apt.txt lists no package"
    result = subprocess.run(["apt-get", "install", "-s", "--no-install-recommends", *names],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"apt cannot resolve {names}: {result.stderr[-2000:]}"


def test_binder_scripts_are_executable_and_start_execs() -> None:
    for name in ("postBuild", "start"):
        assert os.access(BINDER / name, os.X_OK), f"binder/{name} is not executable"
    assert "set -e" in (BINDER / "postBuild").read_text()
    lines = [s for s in (BINDER / "start").read_text().splitlines() if s.strip()]
    assert lines[-1] == 'exec "$@"', "binder/start must end by running Jupyter's command"


def test_start_keeps_a_redis_url_already_given(tmp_path: Path) -> None:
    env = dict(os.environ, REDIS_URL="redis://redis.example:6379/0", TMPDIR=str(tmp_path))
    result = _run([str(BINDER / "start"), "printenv", "REDIS_URL"], cwd=tmp_path, env=env)
    assert result.stdout.strip() == "redis://redis.example:6379/0"
    assert not list(tmp_path.glob("helpdesk-redis-*")), "started a Redis nobody asked for"


# --- 3-5. venv, postBuild, start -----------------------------------------------------------
def test_postbuild_leaves_the_sample_database(binder_env: dict[str, str]) -> None:
    database = Path(binder_env["HOME"]) / ".local/share/helpdesk-kit/helpdesk.db"
    assert database.is_file(), "postBuild did not create the sample database under $HOME"
    assert database.stat().st_size > 100_000, "the sample database looks empty"


def test_start_gives_the_kit_a_real_redis(binder_env: dict[str, str], repo_copy: Path) -> None:
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (binder/apt.txt does it on Binder)")
    began = time.monotonic()
    result = _run(["binder/start", "helpdesk-kit", "doctor", "--json"], cwd=repo_copy,
                  env=binder_env, timeout=60)
    elapsed = time.monotonic() - began
    doctor = json.loads(result.stdout)
    assert doctor["redis_kind"] == "url", doctor["redis_description"]
    assert binder_env["TMPDIR"] in doctor["redis_description"]  # our socket, not another Redis
    assert doctor["capabilities"]["info"] and doctor["capabilities"]["maxmemory_configurable"]
    assert doctor["rows"]["users"] > 0 and doctor["rows"]["tickets"] > 0  # postBuild's sample
    print(f"binder/start + doctor: {elapsed:.2f} s")


# --- 6. the first lesson -------------------------------------------------------------------
#: Runs inside the Binder venv: execute a notebook as nbval would accept it (errors only in
#: cells marked NBVAL_RAISES_EXCEPTION / raises-exception), then ask the kernel which Redis.
_EXECUTE = r"""
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "from helpdesk_kit import connect\nprint('REDIS-KIND', connect().kind)"))
NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
bad = [c.source[:80] for c in nb.cells if c.cell_type == "code"
       and any(o.output_type == "error" for o in c.get("outputs", []))
       and "NBVAL_RAISES_EXCEPTION" not in c.source
       and "raises-exception" not in c.metadata.get("tags", [])]
assert not bad, f"cells failed: {bad}"
print("".join(o.get("text", "") for o in nb.cells[-1].outputs))
"""


def test_lesson_00_runs_on_the_binder_redis(binder_env: dict[str, str], repo_copy: Path
                                            ) -> None:
    assert (repo_copy / LESSON_00).exists(), f"{LESSON_00} is missing (renamed?)"
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (binder/apt.txt does it on Binder)")
    result = _run(["binder/start", "python", "-c", _EXECUTE, str(LESSON_00)], cwd=repo_copy,
                  env=binder_env, timeout=240)
    assert "REDIS-KIND url" in result.stdout, result.stdout[-2000:]


def test_voila_serves_inside_binders_jupyter(binder_env: dict[str, str], repo_copy: Path
                                             ) -> None:
    """The instructors' Binder link (``?urlpath=voila/render/...``) needs Voila's extension."""
    result = _run(["jupyter", "server", "extension", "list"], cwd=repo_copy, env=binder_env,
                  timeout=60)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # no colours
    assert re.search(r"voila\.server_extension\s+enabled", listing), listing[-2000:]
