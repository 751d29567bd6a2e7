"""notebooks/sanitize.cfg blanks what changes from run to run - measured timings, the clock's
"now", addresses, machine paths - and nothing else: a TTL or a sample timestamp that a lesson
prints is a fact, and nbval must compare it.

The rules are read by nbval's own parser and applied as nbval applies them (``re.sub`` of
each ``regex:`` with its ``replace:``, in file order).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SANITIZE = Path(__file__).resolve().parent.parent / "notebooks" / "sanitize.cfg"


def rules() -> list[tuple[str, str]]:
    """The (regex, replace) pairs, read by nbval's own parser."""
    from nbval.plugin import get_sanitize_patterns

    found: list[tuple[str, str]] = get_sanitize_patterns(SANITIZE.read_text())
    assert len(found) == SANITIZE.read_text().count("\nregex: "), "a rule nbval cannot read"
    return found


def sanitize(text: str) -> str:
    for regex, replace in rules():
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize("fact", [
    "before the request: TTL 60 s",              # lesson 02: a session about to run out...
    "after the request : TTL 1800 s",            # ...and slid by GETEX: 60 here is a bug
    "3. Guardar en caché: SET lesson01:ticket:7 <282 bytes of JSON> EX 300",
    "MISS then HIT - TTL between 1 and 300 s",
    "SAMPLE_NOW = 2026-06-01T12:00:00+00:00",    # the sample's fixed moment
    '"created_at":"2026-01-15T12:24:00+00:00"',  # a cached ticket's own timestamp
    "hit rate 90.9% (last third 93.2%)",
])
def test_facts_are_left_for_nbval_to_compare(fact: str) -> None:
    assert sanitize(fact) == fact


def test_a_session_that_stopped_sliding_would_fail_lesson_02() -> None:
    assert sanitize("after the request : TTL 60 s") != sanitize("after the request : TTL 1800 s")


@pytest.mark.parametrize(("measured", "blanked"), [
    ("read 1: 3084.2 µs", "read 1: TIME"),
    ("load the sample  0.50 s (13,758 rows/s)", "load the sample  TIME (13,758 rows/s)"),
    ("task send_notifications abc attempt=1 done in 4.8 ms {}", "task send_notifications abc "
     "attempt=1 done in TIME {}"),
    ("a hit is 10.2x faster than a miss", "a hit is RATIOx faster than a miss"),
    ("<Table object at 0x7f2606098710>", "<Table object at 0xADDRESS>"),
    ("taken_at 2026-12-01T08:43:34.952086+00:00", "taken_at DATETIME"),
    ("unix:///tmp/helpdesk-redis-vnu6bueq/redis.sock", "unix://TMPPATH"),
    ("unix://$TMPDIR/helpdesk-redis-vnu6bueq/redis.sock", "unix://TMPPATH"),
    ("file:/root/.local/share/helpdesk-kit/helpdesk.db", "file:HOMEPATH"),
    ("file:/home/ana/.local/share/helpdesk-kit/helpdesk.db", "file:HOMEPATH"),
])
def test_what_changes_run_to_run_is_blanked(measured: str, blanked: str) -> None:
    assert sanitize(measured) == blanked
