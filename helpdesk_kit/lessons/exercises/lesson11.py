"""Lesson 11's exercise: which part of a key does Redis Cluster hash?

The learner writes ``answer(key) -> str``: the text inside the first ``{`` and the first ``}``
after it, if that is not empty; otherwise the whole key. Checked against the cluster's own rule
(:func:`helpdesk_kit.backends.cluster.hash_slot`: the answer, hashed as it is, must give the
key's slot) on
keys chosen for their edge cases. The solution is in notebooks/solutions/lesson11.py.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Callable
from typing import Any

from ...backends.cluster import SLOTS, hash_slot
from ..checks import CheckResult

__all__ = ["KEYS", "check"]

#: (key, what a wrong answer on this key misses)
KEYS: tuple[tuple[str, str], ...] = (
    ("ticket:7", "a key without braces is hashed whole"),
    ("{ticket:7}", "the text between the braces is what is hashed"),
    ("gen:{ticket:7}", "the braces may come anywhere in the key"),
    ("{tasks}:processing:w1", "everything after the closing brace is ignored"),
    ("lesson11:{tasks}:pending", "a prefix before the tag is ignored too"),
    ("a{}b", "empty braces do not count: then the whole key is hashed"),
    ("{a}{b}", "only the first pair of braces counts"),
    ("x{y", "an opening brace without a closing one: the whole key"),
    ("x}y{z}", "a closing brace before the first opening one does not count"),
)


def _crc_slot(text: str) -> int:
    """CRC16 of exactly ``text``, no tag rule: the slot of the part Redis hashes."""
    return crc_hqx(text.encode(), 0) % SLOTS  # Redis' CRC16 (XMODEM)


def check(lesson: Any, answer: Callable[[str], str] | Any) -> CheckResult:
    if answer is Ellipsis:
        return CheckResult(None, "replace ... with your function answer(key) and run the cell "
                                 "again.")
    if not callable(answer):
        return CheckResult(False, "answer must be a function: def answer(key): ...")
    for key, why in KEYS:
        try:
            got = answer(key)
        except Exception as exc:  # a learner's bug is a hint, not a crash
            return CheckResult(False, f"answer({key!r}) raised {type(exc).__name__}: {exc}")
        if not isinstance(got, str) or _crc_slot(got) != hash_slot(key):
            shown = _crc_slot(got) if isinstance(got, str) else "?"
            return CheckResult(False, f"answer({key!r}) gave {got!r}: hashed as it is, that is "
                                      f"slot {shown}, not the key's {hash_slot(key)}. "
                                      f"Hint: {why}.")
    return CheckResult(True, "that is the rule the cluster applies: give the keys one command "
                             "needs together the same tag, and they share a slot.")
