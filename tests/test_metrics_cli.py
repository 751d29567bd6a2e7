"""``helpdesk-kit metrics`` and ``helpdesk-kit serve``: table, JSON, --watch, a busy port."""

from __future__ import annotations

import json
import socket

import pytest

from helpdesk_kit import cli
from helpdesk_kit.cli import metrics as cli_metrics


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, key_prefix: str) -> None:
    monkeypatch.setenv("HELPDESK_KEY_PREFIX", key_prefix)
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_metrics_prints_the_snapshot_and_the_tuning_table(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    assert cli.main(["metrics", "--backend", "fake"]) == 0
    out, err = capsys.readouterr()
    assert "redis.keys" in out and "Cache Hit Rate" in out and "Key Evictions" in out
    assert "set REDIS_URL" in err  # a private backend cannot see another process's data


def test_metrics_json_is_the_seeds_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["metrics", "--backend", "fake", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"keys", "queue_length", "memory"} <= set(data["redis"])
    assert [row["metric"] for row in data["tuning"]][:2] == ["Cache Hit Rate", "Memory Used"]


def test_watch_refreshes_until_ctrl_c(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_metrics, "_sleep", sleep)
    assert cli.main(["metrics", "--backend", "fake", "--json", "--watch", "0.5"]) == 0
    assert naps == [0.5, 0.5]
    assert len(capsys.readouterr().out.strip().splitlines()) == 2  # one JSON line per refresh


def test_watch_needs_a_positive_interval(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["metrics", "--watch", "0"])
    assert "positive number of seconds" in capsys.readouterr().err


def test_serve_on_a_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["serve", "--backend", "fake", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
