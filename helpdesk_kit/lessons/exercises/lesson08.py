"""Lesson 08's exercise: ``INFO keyspace`` for one prefix, with SCAN - never KEYS.

The learner writes ``answer(client, prefix)``: count the keys whose names start with
``prefix`` and how many of them have a TTL, and return ``(keys, expiring)`` - the first two
numbers of the seed's ``db0:keys=50,expires=10`` line, for this prefix only. The check builds
a known set of keys beside some that do not match, and hands in a client that notices
``KEYS``: one KEYS walks the whole keyspace in a single command, and every other client
waits until it is done.
"""

from __future__ import annotations

from typing import Any

from ..checks import (
    AnswerFailed,
    CheckResult,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    sandbox,
    wrong,
)
from ..checks import check as compare
from ..lesson import Lesson

__all__ = ["QUIZ_EXPECTED", "check", "check_quiz"]

PLAIN, EXPIRING, OTHERS = 30, 12, 7


class _NoKeysClient:
    """The lesson's client, noting any call of KEYS (the command or the method)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.used_keys = False

    def keys(self, *args: Any, **kwargs: Any) -> Any:
        self.used_keys = True
        return self._client.keys(*args, **kwargs)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if args and str(args[0]).upper() == "KEYS":
            self.used_keys = True
        return self._client.execute_command(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """42 keys under the prefix (12 with a TTL), 7 that only look alike."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    others = sandbox(lesson, "exercise-other")  # shares the first part of the name
    client = lesson.client
    try:
        pipe = client.pipeline(transaction=False)
        for n in range(PLAIN):
            pipe.set(keys.session(f"s{n}"), "{}")
        for n in range(EXPIRING):
            pipe.set(keys.ticket(n + 1), "{}", ex=300)
        for n in range(OTHERS):
            pipe.set(others.ticket(n + 1), "{}", ex=300)
        pipe.execute()
        watched = _NoKeysClient(client)
        got = run_answer(answer, watched, keys.prefix)
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        sandbox(lesson)
        sandbox(lesson, "exercise-other")
    expected = (PLAIN + EXPIRING, EXPIRING)
    if watched.used_keys:
        return wrong("KEYS walks every key of the server in one command, and Redis serves "
                     "nobody else until it is done (millions of keys: seconds). Use "
                     "client.scan_iter(match=prefix + '*'), which walks a few at a time.")
    if not isinstance(got, tuple | list) or len(got) != 2:
        return wrong(f"return a pair (keys, expiring), not {got!r}.")
    total, expiring = got
    if total > expected[0]:
        return wrong(f"you counted {total} keys: some do not start with the prefix. "
                     "match=prefix + '*' (the '*' only at the end).")
    if total != expected[0]:
        return wrong(f"you counted {total} keys under the prefix; there are more. SCAN "
                     "returns them in pages: scan_iter follows the cursor to the end.")
    if expiring != expected[1]:
        return wrong(f"you counted {expiring} keys with a TTL: TTL is -1 for a key that never "
                     "expires (and -2 for one that is gone); count the others.")
    return right("SCAN + TTL per key, a page at a time: the server keeps serving everybody "
                 "else in between. INFO keyspace counts the whole database; this counts one "
                 "prefix - the kit's metrics do the same (prefix.keys, prefix.avg_ttl_s).")


#: The quiz's answer: ``db0:keys=50,expires=10,avg_ttl=280000``.
QUIZ_EXPECTED = (40, 280)


def check_quiz(answer: object) -> CheckResult:
    """The quiz: read the seed's INFO keyspace line."""
    return compare(answer, QUIZ_EXPECTED,
                   why="keys counts every key and expires only those with a TTL, so 40 never "
                       "expire; avg_ttl is in milliseconds: 280 s, a little under the seed's "
                       "EX 300.",
                   hint="keys - expires; and in which unit is avg_ttl?")
