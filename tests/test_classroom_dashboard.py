"""``helpdesk-kit dashboard`` in a classroom: loopback by default, a token on the network, and
no tracebacks for visitors - checked on the command line it builds and on a real Voila."""

from __future__ import annotations

import json
import stat
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpdesk_kit.cli import main
from helpdesk_kit.db.sqld import free_port

SECRET_DETAIL = "internal-detail-7f3a"
#: ``--ip`` for a classroom's network; the tests only ever build the command line with it.
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """What ``dashboard`` would exec (Voila's command line) instead of running it."""
    calls: list[list[str]] = []
    monkeypatch.setattr("os.execv", lambda path, argv: calls.append(list(argv)))
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return calls


def test_on_loopback_no_token_and_no_tracebacks(execs: list[list[str]],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--port", "8999"]) == 0
    (command,) = execs
    assert "--Voila.ip=127.0.0.1" in command and "--show_tracebacks=False" in command
    assert "--strip_sources=True" in command
    assert not any(arg.startswith("--Voila.config_file_paths") for arg in command)
    assert "token" not in capsys.readouterr().out


def test_on_the_network_every_visitor_needs_the_token(execs: list[list[str]], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["dashboard", "--ip", EVERY_INTERFACE, "--port", "8999"]) == 0
    config = tmp_path / "data" / "dashboard" / "voila.json"
    token = json.loads(config.read_text())["Voila"]["token"]
    assert len(token) >= 32 and stat.S_IMODE(config.stat().st_mode) == 0o600
    assert f"--Voila.config_file_paths={config.parent}" in execs[0]
    assert not any(token in arg for arg in execs[0])  # never on a command line (ps shows it)
    out = capsys.readouterr().out
    assert "?token=<token>" in out and token not in out and str(config) in out
    assert main(["dashboard", "--ip", EVERY_INTERFACE, "--port", "8999", "--show-token"]) == 0
    assert f"?token={token}" in capsys.readouterr().out  # asked for; the same token again


def test_tracebacks_are_for_loopback_only(execs: list[list[str]],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--ip", EVERY_INTERFACE, "--show-tracebacks"]) == 2
    assert "only on 127.0.0.1" in capsys.readouterr().err and not execs
    assert main(["dashboard", "--show-tracebacks"]) == 0
    assert "--show_tracebacks=True" in execs[0]


@pytest.mark.parametrize(("ip", "loopback"), [("127.0.0.1", True), ("::1", True),
                                              ("localhost", True), (EVERY_INTERFACE, False),
                                              ("192.168.1.10", False), ("class.lan", False)])
def test_only_this_machines_addresses_go_without_a_token(execs: list[list[str]], ip: str,
                                                        loopback: bool) -> None:
    assert main(["dashboard", "--ip", ip]) == 0
    has_token = any(arg.startswith("--Voila.config_file_paths=") for arg in execs[0])
    assert has_token is not loopback


# --- a real Voila with the token configuration ----------------------------------------------
@pytest.fixture
def voila_with_token(execs: list[list[str]], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Voila started with the very command line and voila.json ``dashboard --ip 0.0.0.0``
    makes - but listening on loopback only (a test never opens a port to the network)."""
    pytest.importorskip("voila")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"raise RuntimeError('{SECRET_DETAIL}')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    port = free_port()
    assert main(["dashboard", "--ip", EVERY_INTERFACE, "--port", str(port),
                 "--notebook", str(tmp_path / "probe.ipynb")]) == 0
    command = [arg.replace("--Voila.ip=0.0.0.0", "--Voila.ip=127.0.0.1") for arg in execs[0]]
    config = tmp_path / "data" / "dashboard" / "voila.json"
    token = json.loads(config.read_text())["Voila"]["token"]
    log = (tmp_path / "voila.log").open("wb")
    process = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "voila.log").read_text()[-2000:]
            try:
                urllib.request.urlopen(f"{url}/voila/ready-probe", timeout=2)  # noqa: S310
                break  # the login page, after a redirect: it answers
            except urllib.error.HTTPError:
                break  # 403/404 is an answer too
            except OSError:
                time.sleep(0.1)
        yield url, token
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_voila_asks_for_the_token_and_hides_tracebacks(voila_with_token: tuple[str, str]
                                                       ) -> None:
    url, token = voila_with_token
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{url}/", timeout=30)
    assert refused.value.code in (302, 401, 403)  # to the login page, not the dashboard
    with urllib.request.urlopen(f"{url}/?token={token}", timeout=60) as page:  # noqa: S310
        text = page.read().decode()
    assert page.status == 200 and "Traceback" not in text and SECRET_DETAIL not in text
