"""Real-browser fixtures: JupyterLab and Voila servers, Debian's Chromium through Playwright.

nbval proves a lesson *runs*; it never looks at a widget. These tests open the lesson the way
a learner does - JupyterLab in a browser - run every cell, then move a slider or press a
button and read what the widget shows. How (measured on this machine, see RECIPES.md):

* the browser is Debian's ``/usr/bin/chromium`` (``playwright install`` is never run);
* each server runs on a free port with its own ``JUPYTER_*`` folders, on a *copy* of
  ``notebooks/`` - JupyterLab autosaves, and the lessons in the work tree must not change;
* cells run through ``app.commands.execute('notebook:run-all-cells')`` (clicking the Run menu
  right after start was flaky).

A failing test leaves a screenshot and the server's log in ``test-artifacts/``. Without
Chromium or Playwright the tests skip locally and fail in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, free_port, missing

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"]
#: Playwright's default wait for any selector or expectation, in milliseconds.
TIMEOUT_MS = 30_000
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


def _artifact_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)


# --- servers -------------------------------------------------------------------------------
@dataclass
class Server:
    """A JupyterLab or Voila process on ``url``, serving ``root``; its output goes to ``log``."""

    url: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def keep_log(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(self.log, ARTIFACTS / f"{name}.server.log")


def server_env(home: Path) -> dict[str, str]:
    """An environment whose Jupyter state and lesson data all live under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                     ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
                     ("HELPDESK_DATA_DIR", "helpdesk-data")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    # No "news" pop-up covering the notebook.
    notification = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return env


def start_server(args: list[str], *, root: Path, home: Path, port: int, ready_path: str,
                 timeout: float = 60, env: dict[str, str] | None = None) -> Server:
    """Start ``args`` (a server listening on ``port``) and wait until ``ready_path`` answers.

    ``env`` adds variables (``REDIS_URL``...) to the isolated environment of :func:`server_env`.
    """
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=root, env={**server_env(home), **(env or {})},
                                   stdout=out,
                                   stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", root, log, process)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(server.url + ready_path, timeout=2):  # noqa: S310
                return server
        except urllib.error.HTTPError:  # any HTTP answer (even 404) means it is listening
            return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"{args[:4]} did not start:\n{log.read_text()[-3000:]}",
                            pytrace=False)
            time.sleep(0.2)


@pytest.fixture(scope="session")
def notebook_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``notebooks/`` (servers and autosave touch only the copy)."""
    root = tmp_path_factory.mktemp("notebooks")
    source = ROOT / "notebooks"
    if source.is_dir():
        shutil.copytree(source, root, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="session")
def jupyter_lab(notebook_root: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Server]:
    """JupyterLab (no token, loopback only) serving the copy of the notebooks."""
    port = free_port()
    server = start_server(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1",
         "--port", str(port), "--allow-root", "--IdentityProvider.token=",
         "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
         f"--ServerApp.root_dir={notebook_root}"],
        root=notebook_root, home=tmp_path_factory.mktemp("jupyter-home"), port=port,
        ready_path="/api/status")
    yield server
    server.stop()


def start_dashboard(home: Path, notebook: Path | None = None,
                    env: dict[str, str] | None = None) -> Server:
    """``helpdesk-kit dashboard`` (the documented command) on a free port.

    Without ``notebook`` it runs in the repository folder and finds the instructor's notebook
    by itself, as an instructor's call would; Voila only reads it.
    """
    port = free_port()
    args = [str(Path(sys.executable).parent / "helpdesk-kit"), "dashboard", "--port", str(port)]
    if notebook is not None:
        args += ["--notebook", str(notebook)]
    # Voila runs the notebook on each page load, so readiness asks for a path it only routes.
    return start_server(args, root=ROOT if notebook is None else notebook.parent, home=home,
                        port=port, ready_path="/voila/ready-probe", env=env)


# --- the browser ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if chromium is None:
        missing("chromium", "apt-get install chromium (make test-deps does it on Debian)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright", "pip install -e '.[test]'")
    from playwright.sync_api import expect

    # expect() has its own 5 s default, apart from the context's: a loaded CI machine (two
    # test workers, a kernel starting) needs the same patience for both.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; on failure its screenshot goes to ``test-artifacts/``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    result = context.new_page()
    yield result
    if _failed(request):
        ARTIFACTS.mkdir(exist_ok=True)
        result.screenshot(path=str(ARTIFACTS / f"{_artifact_name(request)}.png"),
                          full_page=True)
        for name in ("jupyter_lab", "voila_dashboard"):
            if name in request.fixturenames:
                request.getfixturevalue(name).keep_log(_artifact_name(request))
    context.close()


# --- driving JupyterLab --------------------------------------------------------------------
_RUN_ALL = """async () => {
    const app = window.jupyterapp;
    await app.restored;
    const panel = app.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    await app.commands.execute('notebook:run-all-cells');
    const errors = [];
    for (const cell of panel.content.model.cells) {
        if (cell.type !== 'code') continue;
        const source = cell.sharedModel.getSource();
        const tags = cell.getMetadata('tags') || [];
        if (tags.includes('raises-exception')) continue;  // an error shown on purpose
        for (const output of cell.outputs.toJSON()) {
            if (output.output_type === 'error') {
                errors.push(source.slice(0, 60) + ' -> ' + output.ename + ': ' + output.evalue);
            }
        }
    }
    return errors;
}"""


def run_all_cells(page: Any, server: Server, notebook: str) -> None:
    """Open ``notebook`` in JupyterLab, run every cell, and fail on any unexpected error."""
    assert (server.root / notebook).exists(), f"notebooks/{notebook} is missing (renamed?)"
    page.goto(f"{server.url}/lab/tree/{notebook}?reset")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=TIMEOUT_MS)
    errors = page.evaluate(_RUN_ALL)
    assert not errors, f"cells raised in the browser: {errors}"
