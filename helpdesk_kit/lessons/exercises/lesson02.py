"""Lesson 02's exercise: read a session and slide its expiry, in one command.

The learner writes ``answer(client, key, ttl)``: return the session stored at ``key`` (JSON)
as a dict, or None if there is none, and push its expiry back to ``ttl`` seconds - a user who
is active stays logged in. The check stores a session that is about to run out (60 s left),
asks for 1,800 s, and reads the TTL afterwards: a plain ``GET`` leaves the 60 s, and fails.
"""

from __future__ import annotations

import json
from typing import Any

from ..checks import (
    AnswerFailed,
    CheckResult,
    Quiz,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    sandbox,
    wrong,
)
from ..lesson import Lesson

__all__ = ["QUIZ_READS_AT", "check", "check_quiz"]

SESSION = {"user_id": 42, "role": "agent"}
SLIDE_TO = 1800


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Run ``answer(client, key, 1800)`` on a session with 60 s left, and on no session."""
    if is_unanswered(answer):
        return not_answered()
    keys = sandbox(lesson)
    client = lesson.client
    key = keys.session("exercise")
    try:
        client.set(key, json.dumps(SESSION), ex=60)
        read = run_answer(answer, client, key, SLIDE_TO)
        if isinstance(read, str | bytes):
            return wrong("you returned the JSON text: decode it (json.loads) and return the dict.")
        if read != SESSION:
            return wrong(f"you returned {read!r}, not the session stored at the key.")
        ttl = int(client.ttl(key))
        if ttl <= 60:
            return wrong(f"the session still expires in {ttl} s: reading it did not slide its "
                         "expiry. A GET never touches a TTL; set the new one as you read.")
        if not SLIDE_TO - 5 <= ttl <= SLIDE_TO:
            return wrong(f"the session now expires in {ttl} s: slide it to the ttl you were "
                         f"given ({SLIDE_TO} s here), no more, no less.")
        missing = keys.session("nobody")
        if run_answer(answer, client, missing, SLIDE_TO) is not None:
            return wrong("for a key that does not exist, return None (nobody is logged in).")
        if client.exists(missing):
            return wrong("reading a missing session created one: a read must never log "
                         "somebody in. Only slide a session that exists.")
    except AnswerFailed as exc:
        return wrong(str(exc))
    finally:
        sandbox(lesson)
    return right("GETEX key EX 1800 reads the session and pushes its expiry back in one round "
                 "trip (GET then EXPIRE takes two, and can race with the key expiring between "
                 "them). The kit's Cache.get_cached_session does exactly this.")


#: The quiz: a key cached at second 0 with the seed's EX 300, read (a HIT) at these seconds.
QUIZ_READS_AT = (100, 250)

check_quiz = Quiz(
    300,
    why="a GET does not touch the TTL: the key set at second 0 with EX 300 expires at second "
        "300 however often it is read. Only a command that sets an expiry moves it (GETEX "
        "... EX, EXPIRE, or a new SET ... EX).",
    hint="does reading a key change its TTL? Compare the TTLs before and after a GET in the "
         "cells above.",
    giveaways=("second 300", "at 300"))
