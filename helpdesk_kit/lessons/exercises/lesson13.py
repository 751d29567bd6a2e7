"""Lesson 13's exercise: the seed's helpdesk limits ticket creation per user - in Lua.

The learner writes ``answer``, a Lua script (a Python string): a **fixed window** limiter.
``KEYS[1]`` is the user's counter, ``ARGV[1]`` the limit, ``ARGV[2]`` the window in ms; it
returns 1 when this call is allowed, 0 when the window's limit is used up. The check runs it
for real: hammered from 8 threads (exactly ``limit`` may pass), its counter's TTL, a second
window after the first has ended, and a user who keeps trying while locked out (whose window
must still end).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from ..checks import CheckResult, is_unanswered, not_answered, right, sandbox, wrong
from ..checks import check as compare
from ..lesson import Lesson

__all__ = ["QUIZ_EXPECTED", "SHARED_QUIZ_EXPECTED", "check", "check_quiz",
           "check_quiz_shared"]


def _hammer(call: Any, limit: int, window_ms: int, threads: int = 8, calls: int = 25
            ) -> list[Any]:
    results: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def run() -> None:
        start.wait()
        for _ in range(calls):
            try:
                outcome = call(limit, window_ms)
            except redis.RedisError as exc:  # reported by the check, not as a thread's traceback
                outcome = exc
            with lock:
                results.append(outcome)

    crew = [threading.Thread(target=run) for _ in range(threads)]
    for thread in crew:
        thread.start()
    for thread in crew:
        thread.join()
    return results


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Run the learner's script: many threads at once, its TTL, the next window."""
    if is_unanswered(answer):
        return not_answered()
    if not isinstance(answer, str) or not answer.strip():
        return wrong("answer is the Lua script, as a Python string: answer = \"\"\" ... \"\"\"")
    keys = sandbox(lesson)
    script = lesson.client.register_script(answer)
    try:
        return _judge(lesson.client, keys.prefix, script)
    except redis.ResponseError as exc:
        return wrong(f"Redis could not run your script: {exc}")
    finally:
        sandbox(lesson)


def _judge(client: redis.Redis, prefix: str, script: Any) -> CheckResult:
    def on(key: str) -> Any:
        return lambda limit, window_ms: script(keys=[f"{prefix}{key}"],
                                               args=[limit, window_ms])

    on("probe")(3, 5000)  # a script Redis cannot run fails here, with Redis's reason
    results = _hammer(on("hammer"), 10, 5000)
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        return wrong(f"Redis could not run your script: {errors[0]}")
    odd = [r for r in results if r not in (0, 1)]
    if odd:
        return wrong(f"your script returned {odd[0]!r}: return 1 (allowed) or 0 (refused). "
                     "In Lua, `return true` reaches Python as 1 and `return false` as None.")
    allowed = results.count(1)
    if allowed == 11:
        return wrong("11 of 200 calls passed a limit of 10: one too many. INCR answers the "
                     "count *including* this call; compare that with the limit.")
    if allowed > 10:
        return wrong(f"{allowed} of 200 calls passed a limit of 10: does your script count "
                     "every call (INCR), and refuse once the count is over ARGV[1]? Remember "
                     "ARGV values arrive as strings: tonumber(ARGV[1]).")
    if allowed < 10:
        return wrong(f"only {allowed} of 200 calls passed a limit of 10: the first call of a "
                     "window must be allowed (INCR answers 1 for it).")
    ttl = client.pttl(f"{prefix}hammer")
    if ttl < 0:
        return wrong("the counter never expires, so the user is locked out for good: give it "
                     "the window as its TTL (PEXPIRE KEYS[1] ARGV[2]) when the window starts.")
    if ttl > 5000:
        return wrong(f"the counter's TTL is {ttl} ms, longer than the 5000 ms window: ARGV[2] "
                     "is in milliseconds (PEXPIRE, not EXPIRE).")
    short = on("window")
    if [short(3, 300) for _ in range(4)] != [1, 1, 1, 0]:
        return wrong("with a limit of 3, calls 1-3 of a window should pass and the 4th not.")
    time.sleep(0.35)
    if short(3, 300) != 1:
        return wrong("300 ms later a new window should have begun, but the call was refused: "
                     "is the TTL set when the window starts?")
    busy = on("busy")
    for _ in range(2):  # its window's limit, used up
        busy(2, 300)
    deadline, passed = time.monotonic() + 0.8, False
    while time.monotonic() < deadline and not passed:  # a user who keeps trying
        passed = busy(2, 300) == 1
        time.sleep(0.05)
    if not passed:
        return wrong("a user who keeps trying while refused is locked out for good: your "
                     "script pushes the TTL back on every call. Set it only when the window "
                     "starts, when INCR answered 1.")
    return right("INCR counts, PEXPIRE on the first call starts the window, and the comparison "
                 "happens in the same script: no other client's command can run in between, "
                 "so 8 threads got exactly 10. The kit's RateLimiter keeps a sliding log (a "
                 "ZSET of moments) instead: no burst of 2 x limit across a window's edge.")


#: The quiz: what EVALSHA answers for a script loaded before a restart.
QUIZ_EXPECTED = "NOSCRIPT"


def check_quiz(answer: object) -> CheckResult:
    return compare(answer, QUIZ_EXPECTED,
                   why="the script cache lives in memory and is not saved: after a restart (or "
                       "on a replica promoted by a failover) the SHA names nothing. redis-py's "
                       "register_script catches NOSCRIPT and sends the script again; a "
                       "function (FUNCTION LOAD) is saved and replicated with the data.",
                   hint="is the script cache saved with the data set? Which error did the "
                        "SCRIPT FLUSH cell show?")


#: The second quiz: whose permissions a replaced library's function runs with.
SHARED_QUIZ_EXPECTED = "yours"


def check_quiz_shared(answer: object) -> CheckResult:
    return compare(answer, SHARED_QUIZ_EXPECTED,
                   why="a function runs with the permissions of whoever calls FCALL, not of "
                       "whoever loaded it: replaced code in a library your cache calls would "
                       "act on your keys. That is why a class lets only the instructor load "
                       "libraries, and why the kit reads its library's code back before it "
                       "calls it; your own scripts go by EVALSHA, whose SHA names one body.",
                   hint="the library holds code; who runs it? Think of which user's key "
                        "patterns the redis.call() inside it is checked against.")
