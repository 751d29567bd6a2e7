"""``helpdesk-kit doctor`` and ``helpdesk-kit seed``: output, JSON, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk_kit.backends import RedisServer
from helpdesk_kit.cli import main
from helpdesk_kit.db import drivers

SECRET = "pw-CLI-SECRET"
_VARIABLES = ("REDIS_URL", "HELPDESK_REDIS_BACKEND", "TURSO_DATABASE_URL", "TURSO_AUTH_TOKEN",
              "HELPDESK_KEY_PREFIX", "HELPDESK_CACHE_TTL", "REDIS_SOCKET_TIMEOUT")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment whose data folder is this test's tmp_path."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("helpdesk-kit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err + out
    return err


@pytest.mark.parametrize(("choice", "words"), [
    ("fake", "fakeredis"), ("server", "private redis-server"), ("url", "Redis at unix://"),
])
def test_doctor_on_each_backend(env: pytest.MonkeyPatch, redis_server: RedisServer,
                                capsys: pytest.CaptureFixture[str], choice: str,
                                words: str) -> None:
    env.setenv("REDIS_URL", redis_server.url)
    assert main(["doctor", "--backend", choice]) == 0
    out = capsys.readouterr().out
    assert words in out and f"[backend: {choice}]" in out
    assert "Database   file:" in out and "tickets 0" in out
    assert f"[{drivers.describe(drivers.default_driver(), local=True)}]" in out  # driver named
    info = "INFO no" if choice == "fake" else "INFO yes"
    assert info in out
    assert ("note: Using fakeredis" in out) == (choice == "fake")


def test_doctor_report_closes_its_redis_client(env: pytest.MonkeyPatch) -> None:
    import fakeredis

    from helpdesk_kit import doctor
    from helpdesk_kit.backends import Backend, probe

    client = fakeredis.FakeRedis(decode_responses=True)
    closed: list[bool] = []
    env.setattr(client, "close", lambda: closed.append(True))
    env.setattr(doctor, "connect", lambda settings, prefer: Backend(
        client, "fake", "fakeredis (test)", probe(client)))
    assert doctor.report().redis_kind == "fake"
    assert closed == [True]


def test_doctor_json(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("TURSO_AUTH_TOKEN", SECRET)
    assert main(["doctor", "--backend", "fake", "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["redis_kind"] == "fake" and report["capabilities"]["info"] is False
    assert report["database_local"] is True and report["rows"]["users"] == 0
    assert report["database_kind"].startswith("a local ")
    assert "python" in report["versions"] and SECRET not in out


def test_doctor_with_a_wrong_redis_url_is_one_line(env: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("REDIS_URL", f"redis://:{SECRET}@127.0.0.1:1")
    code = main(["doctor"])
    err = _one_line_error(capsys, code)
    assert "Cannot use REDIS_URL=redis://:***@127.0.0.1:1" in err and SECRET not in err


def test_a_bad_setting_is_one_line(env: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("HELPDESK_CACHE_TTL", "soon")
    err = _one_line_error(capsys, main(["doctor", "--backend", "fake"]))
    assert "HELPDESK_CACHE_TTL" in err


def test_seed_then_if_empty_leaves_data_alone(env: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--users", "10", "--tickets", "30", "--quiet"]) == 0
    assert "Loaded 10 users, 30 tickets" in capsys.readouterr().out
    assert main(["seed", "--if-empty", "--quiet"]) == 0
    assert "already has data; left as it is" in capsys.readouterr().out
    assert main(["doctor", "--backend", "fake"]) == 0
    assert "users 10, tickets 30" in capsys.readouterr().out


def test_seed_if_empty_fills_an_empty_database(env: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--if-empty", "--users", "5", "--tickets", "7", "--quiet"]) == 0
    assert "Loaded 5 users, 7 tickets" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--users", "1"], ["--tickets", "-3"]])
def test_seed_with_impossible_sizes_is_one_line(env: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                args: list[str]) -> None:
    err = _one_line_error(capsys, main(["seed", "--quiet", *args]))
    assert "at least 2 users" in err


def test_seed_asks_before_wiping_a_remote_database(env: pytest.MonkeyPatch, sqld_url: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("TURSO_DATABASE_URL", sqld_url)
    env.setenv("TURSO_AUTH_TOKEN", SECRET)
    assert main(["seed", "--yes", "--users", "6", "--tickets", "9", "--quiet"]) == 0
    assert "Loaded 6 users, 9 tickets" in capsys.readouterr().out
    err = _one_line_error(capsys, main(["seed", "--users", "3", "--tickets", "1", "--quiet"]))
    assert "add --yes" in err and sqld_url in err and SECRET not in err
    assert main(["seed", "--if-empty", "--quiet"]) == 0  # never wipes: no --yes needed
    assert "already has data" in capsys.readouterr().out
    assert main(["doctor", "--backend", "fake"]) == 0
    assert "users 6, tickets 9" in capsys.readouterr().out  # the refused seed changed nothing


def test_seed_into_a_missing_folder_is_one_line(env: pytest.MonkeyPatch, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("TURSO_DATABASE_URL", f"file:{tmp_path / 'nope' / 'x.db'}")
    err = _one_line_error(capsys, main(["seed", "--quiet"]))
    assert "does not exist" in err


def test_real_command_runs_and_fails_cleanly(tmp_path: Path) -> None:
    """The installed entry point, in a subprocess: one success, one failure."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "HELPDESK_DATA_DIR": str(tmp_path / "data")}
    ok = subprocess.run([sys.executable, "-m", "helpdesk_kit.cli", "doctor", "--backend",
                         "fake", "--json"], capture_output=True, text=True, env=env,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["redis_kind"] == "fake"
    bad = subprocess.run([sys.executable, "-m", "helpdesk_kit.cli", "doctor"],
                         capture_output=True, text=True, timeout=60,
                         env={**env, "REDIS_URL": f"redis://:{SECRET}@127.0.0.1:1"})
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert SECRET not in bad.stderr + bad.stdout
