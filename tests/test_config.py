"""Settings from the environment: defaults, bad values, and secrets that never show."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from helpdesk_kit.config import ENVIRONMENT, Settings, default_data_dir, redact_url
from helpdesk_kit.errors import ConfigError

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
