"""Session fixtures for the Sentinel and Cluster suites: ONE of each per test session.

A 6-node cluster and a primary + 2 replicas + 3 Sentinels take ~2 s each to start, so every
test shares them and works under its own key prefix, cleaned with SCAN afterwards (never
FLUSHALL). Both require a password (a fresh one per run), so every test also proves that the
password reaches every connection - and any output that contains it has caught a leak. The
failover tests start labs of their own: killing a shared primary would change the others'.

``conftest.py`` imports the two session fixtures, so pytest makes one of each per session.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import missing

from helpdesk_kit.backends import Backend, ClusterLab, SentinelLab, connect, delete_matching
from helpdesk_kit.backends.connection import close_backend
from helpdesk_kit.config import Settings

#: A fresh secret per run: a test that finds it in any output has caught a leak.
PASSWORD = "Pw-" + secrets.token_urlsafe(12)
_HINT = "install redis-server (it brings redis-cli): apt-get install redis-server"


def need_binaries() -> None:
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            missing("redis", f"{tool} is not on PATH: {_HINT}")


@pytest.fixture(scope="session")
def cluster_lab() -> Iterator[ClusterLab]:
    """3 primaries + 3 replicas, with a password; a long node timeout (no failover by accident
    on a busy machine)."""
    need_binaries()
    with ClusterLab(password=PASSWORD, node_timeout_ms=5000) as lab:
        yield lab  # type: ignore[misc]  # Launcher.__enter__ returns the lab itself


@pytest.fixture(scope="session")
def sentinel_lab() -> Iterator[SentinelLab]:
    """A primary, 2 replicas and 3 Sentinels (quorum 2), with a password."""
    need_binaries()
    with SentinelLab(password=PASSWORD) as lab:
        yield lab  # type: ignore[misc]  # Launcher.__enter__ returns the lab itself


def lab_settings(env: dict[str, str], data_dir: Path, prefix: str) -> Settings:
    """Settings as a learner's shell would give them: the lab's variables, nothing else."""
    return Settings.from_env({**env, "HELPDESK_DATA_DIR": str(data_dir),
                              "HELPDESK_KEY_PREFIX": prefix})


def open_backend(settings: Settings) -> Iterator[Backend]:
    backend = connect(settings)
    try:
        yield backend
    finally:
        delete_matching(backend.client, f"{settings.key_prefix}*")
        close_backend(backend)
