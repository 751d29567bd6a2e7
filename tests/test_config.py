"""Settings from the environment: defaults, bad values, and secrets that never show."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from helpdesk_kit.config import (
    ENVIRONMENT,
    Durability,
    Settings,
    default_data_dir,
    parse_durability,
    redact_url,
)
from helpdesk_kit.errors import ConfigError
from helpdesk_kit.vocab import QueueMode

SECRET = "s3cr3t-Pa55"


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None
    assert settings.redis_backend == "auto"
    assert settings.redis_socket_timeout == 2.0
    assert settings.database_url is None
    assert settings.auth_token is None
    assert settings.key_prefix == ""
    assert settings.cache_ttl == 300
    assert settings.data_dir == default_data_dir()
    assert settings.effective_database_url == f"file:{settings.data_dir / 'helpdesk.db'}"


def test_every_variable_is_read(tmp_path: Path) -> None:
    env = {
        "REDIS_URL": "redis://localhost:6380/1",
        "HELPDESK_REDIS_BACKEND": "FAKE",
        "REDIS_SOCKET_TIMEOUT": "0.5",
        "TURSO_DATABASE_URL": "libsql://db.example.io",
        "TURSO_AUTH_TOKEN": SECRET,
        "HELPDESK_DATA_DIR": str(tmp_path),
        "HELPDESK_KEY_PREFIX": "class42:",
        "HELPDESK_CACHE_TTL": "60",
    }
    settings = Settings.from_env(env)
    assert settings.redis_url == env["REDIS_URL"]
    assert settings.redis_backend == "fake"
    assert settings.redis_socket_timeout == 0.5
    assert settings.effective_database_url == "libsql://db.example.io"
    assert settings.auth_token == SECRET
    assert settings.data_dir == tmp_path
    assert settings.key_prefix == "class42:"
    assert settings.cache_ttl == 60
    assert set(env) <= set(ENVIRONMENT)  # every variable is documented


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({"REDIS_URL": "  ", "HELPDESK_CACHE_TTL": "",
                                  "TURSO_DATABASE_URL": ""})
    assert settings.redis_url is None and settings.database_url is None
    assert settings.cache_ttl == 300


def test_xdg_data_home_moves_the_default_folder(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Settings.from_env({}).data_dir == tmp_path / "helpdesk-kit"


@pytest.mark.parametrize(("name", "value", "words"), [
    ("HELPDESK_CACHE_TTL", "abc", "whole number"),
    ("HELPDESK_CACHE_TTL", "1.5", "whole number"),
    ("HELPDESK_CACHE_TTL", "0", "at least"),
    ("HELPDESK_CACHE_TTL", "-5", "at least"),
    ("REDIS_SOCKET_TIMEOUT", "soon", "number"),
    ("REDIS_SOCKET_TIMEOUT", "nan", "finite"),
    ("REDIS_SOCKET_TIMEOUT", "inf", "finite"),
    ("REDIS_SOCKET_TIMEOUT", "0", "at least"),
    ("HELPDESK_REDIS_BACKEND", "cloud", "one of auto, url, server, fake"),
    ("HELPDESK_KEY_PREFIX", "class*:", "glob"),
    ("HELPDESK_KEY_PREFIX", "my class:", "blanks"),
])
def test_bad_values_are_a_config_error_naming_the_variable(name: str, value: str,
                                                           words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)
    assert words in str(info.value)


def test_with_validates_too() -> None:
    settings = Settings.from_env({})
    assert settings.with_(cache_ttl=10).cache_ttl == 10
    with pytest.raises(ConfigError):
        settings.with_(cache_ttl=0)
    with pytest.raises(ConfigError):
        settings.with_(redis_backend="nope")


@pytest.mark.parametrize(("url", "expected"), [
    (f"redis://user:{SECRET}@host:6379/0", "redis://user:***@host:6379/0"),
    (f"redis://:{SECRET}@host", "redis://:***@host"),
    (f"rediss://default:{SECRET}@eu1.upstash.io:6380", "rediss://default:***@eu1.upstash.io:6380"),
    (f"redis://{SECRET}@host", "redis://***@host"),
    (f"redis://user:{SECRET}@with@at@host", "redis://user:***@host"),
    (f"libsql://db.turso.io?authToken={SECRET}", "libsql://db.turso.io?authToken=***"),
    (f"libsql://127.0.0.1:8080?tls=0&authToken={SECRET}#x",
     "libsql://127.0.0.1:8080?tls=0&authToken=***#x"),
    (f"unix:///tmp/r.sock?password={SECRET}&db=1", "unix:///tmp/r.sock?password=***&db=1"),
    ("file:/data/helpdesk.db", "file:/data/helpdesk.db"),
    ("file:///data/helpdesk.db", "file:///data/helpdesk.db"),
    ("redis://localhost:6379", "redis://localhost:6379"),
    ("", ""),
    (None, ""),
])
def test_redact_url(url: str | None, expected: str) -> None:
    assert redact_url(url) == expected
    if url and SECRET in url:
        assert SECRET not in redact_url(url)


def test_secrets_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({
        "REDIS_URL": f"rediss://default:{SECRET}@host:6380",
        "TURSO_DATABASE_URL": f"libsql://db.turso.io?authToken={SECRET}",
        "TURSO_AUTH_TOKEN": SECRET,
    })
    text = repr(settings)
    assert SECRET not in text and SECRET not in str(settings)
    assert "auth_token='***'" in text and "rediss://default:***@host:6380" in text
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s / %r", settings, settings)
    assert SECRET not in caplog.text
    assert "***" in caplog.text


def test_a_string_data_dir_becomes_a_path(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))  # type: ignore[arg-type]
    assert settings.local_database_path == tmp_path / "helpdesk.db"


@pytest.mark.parametrize(("raw", "expected"), [
    ("", None), ("0", None), ("off", None), ("all", Durability(None, 1000)),
    ("ALL,500ms", Durability(None, 500)), ("1,500ms", Durability(1, 500)),
    ("2,2s", Durability(2, 2000)), ("1, 250", Durability(1, 250)), ("3,1.5s", Durability(3, 1500)),
])
def test_helpdesk_queue_durable_is_replicas_and_a_timeout(raw: str,
                                                          expected: Durability | None) -> None:
    assert parse_durability(raw) == expected
    assert Settings.from_env({"HELPDESK_QUEUE_DURABLE": raw}).queue_durable == expected


@pytest.mark.parametrize("raw", ["yes please", "-1", "1.5", "all,soon", "1,0ms", "1,-5", "two"])
def test_a_durable_setting_that_cannot_be_read_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="HELPDESK_QUEUE_DURABLE"):
        Settings.from_env({"HELPDESK_QUEUE_DURABLE": raw})


def test_durability_reads_as_what_it_waits_for() -> None:
    assert str(Durability()) == "WAIT for every connected replica, up to 1000 ms"
    assert str(Durability(1, 500)) == "WAIT for 1 replica, up to 500 ms"
    assert str(Durability(2, 500)) == "WAIT for 2 replicas, up to 500 ms"


def test_every_variable_is_in_the_readme_table_and_the_env_example() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    example = (root / ".env.example").read_text(encoding="utf-8")
    for name in ENVIRONMENT:
        assert f"`{name}`" in readme, f"{name} is missing from the README's table"
        assert f"# {name}=" in example, f"{name} is missing from .env.example"


def test_the_pop_mode_is_read_by_its_old_name_seed_with_a_warning() -> None:
    """A learner's environment from before the rename keeps working, and says what to set."""
    assert Settings.from_env({"HELPDESK_QUEUE_MODE": "pop"}).queue_mode is QueueMode.POP
    with pytest.warns(FutureWarning, match="HELPDESK_QUEUE_MODE=pop"):
        settings = Settings.from_env({"HELPDESK_QUEUE_MODE": "Seed"})
    assert settings.queue_mode is QueueMode.POP
    assert QueueMode("seed") is QueueMode.POP  # code that names it (lessons 06, 07) too
    with pytest.raises(ConfigError, match="pop, reliable, streams"):
        Settings.from_env({"HELPDESK_QUEUE_MODE": "lpop"})
