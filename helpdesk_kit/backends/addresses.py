"""A list of Redis addresses in one variable: ``REDIS_SENTINELS`` and ``REDIS_CLUSTER_URL``.

Both take a comma-separated list, so one dead node never stops a new process: the client
tries the next. Each entry is ``host:port``, or a URL ``redis://[user:password@]host:port``
/ ``rediss://...?ssl_ca_certs=CA`` (TLS). The password, user and TLS options of the first
entry that has them apply to every address (one secret and one CA for the whole set, as the
kit's labs set them up), so the rest may be plain ``host:port``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.connection import SSLConnection, parse_url

from ..config import redact_url
from ..errors import ConfigError

__all__ = ["AddressList", "parse_addresses", "shown"]

#: What a URL entry may carry besides its address; applied to every connection of the set.
_SHARED = ("username", "password", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile",
           "ssl_cert_reqs", "ssl_check_hostname")


@dataclass(frozen=True)
class AddressList:
    """The addresses of one variable, and the options every connection to them shares."""

    addresses: tuple[tuple[str, int], ...]
    options: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def tls(self) -> bool:
        return bool(self.options.get("ssl"))

    def where(self) -> str:
        """``127.0.0.1:7000, 127.0.0.1:7001`` - no secret in it."""
        return ", ".join(f"{host}:{port}" for host, port in self.addresses)


def _address(entry: str, variable: str) -> tuple[str, int]:
    host, colon, port = entry.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ConfigError(f"{variable} entries are host:port or redis:// URLs; got "
                          f"{redact_url(entry)!r}")
    return host.strip("[]"), int(port)


def parse_addresses(entries: Sequence[str], variable: str, default_port: int,
                    what: str) -> AddressList:
    """Read a variable's entries (see the module docstring); ConfigError if one is unusable.

    ``what`` names the servers in an error (``Sentinels``, ``cluster nodes``).
    """
    addresses: list[tuple[str, int]] = []
    options: dict[str, Any] = {}
    for entry in entries:
        if "://" not in entry:
            addresses.append(_address(entry, variable))
            continue
        try:
            parsed = parse_url(entry)
        except ValueError as exc:
            raise ConfigError(f"{variable} entry {redact_url(entry)!r}: {exc}") from None
        if "host" not in parsed:
            raise ConfigError(f"{variable} entry {redact_url(entry)!r} has no host:port "
                              f"({what} are reached over TCP)")
        addresses.append((parsed["host"], int(parsed.get("port", default_port))))
        if parsed.get("connection_class") is SSLConnection:
            options.setdefault("ssl", True)
        for name in _SHARED:
            if name in parsed:
                options.setdefault(name, parsed[name])
    return AddressList(tuple(addresses), options)


def shown(entries: str) -> str:
    """A comma-separated list as it may be printed: each URL entry redacted."""
    return ",".join(redact_url(entry.strip()) for entry in entries.split(","))
