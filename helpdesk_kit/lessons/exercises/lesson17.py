"""Lesson 17's exercise: switch a running Redis to the AOF without losing a task.

The learner writes ``answer(client)``: turn on the append-only file, with ``appendfsync
always``, on the live server ``client`` talks to, and return only once the switch protects the
data - what redis.io's persistence page calls switching to AOF "on the live database". The
check runs it for real, on a private redis-server started from a config file (the way a
production server is), holding the helpdesk's queue with no persistence at all:

1. after ``answer`` returns, more tasks are pushed (each one acknowledged);
2. the server gets SIGKILL, and is started again *from its config file*;
3. every task must be back, and the server must come back with the AOF on, ``always``.

Two mistakes lose everything, and the check names each: a ``CONFIG SET`` that nobody wrote to
the config file is forgotten by the restart; and turning the AOF on starts a *rewrite* in the
background - killed before it has finished, the new AOF is not yet the server's, and the
restart finds nothing. The check slows that rewrite down (``rdb-key-save-delay``, a testing
knob: a pause per key written) so it lasts a fraction of a second, as a large data set's
rewrite lasts by itself.
"""

from __future__ import annotations

import shutil
from typing import Any

from ...backends.launch_persistent import PersistentServers, persistence_config
from ...queue import Task
from ...vocab import Persistence
from ..checks import (
    AnswerFailed,
    CheckResult,
    Quiz,
    is_unanswered,
    not_answered,
    right,
    run_answer,
    wrong,
)
from ..lesson import Lesson

__all__ = ["check", "check_quiz"]

#: Tasks queued before the switch, tasks pushed after it, and cache keys beside them.
BEFORE = 2000
AFTER = 50
CACHED = 300
#: Microseconds the server pauses per key while it writes a snapshot or an AOF base: with
#: CACHED keys, the rewrite that turning the AOF on starts lasts about 0.3 s.
KEY_SAVE_DELAY_US = 1000
NO_SERVER = ("this exercise is checked on a private redis-server of its own (it is killed and "
             "restarted), and no redis-server program is installed here")


def _fill(client: Any, prefix: str) -> None:
    """The helpdesk with no persistence: BEFORE tasks in the queue, CACHED cached rows."""
    pipe = client.pipeline(transaction=False)
    for n in range(BEFORE):
        pipe.rpush(f"{prefix}tasks:pending", Task("send_notifications", {"n": n}).to_json())
    for n in range(CACHED):
        pipe.set(f"{prefix}ticket:{n}", "{}", ex=3600)
    pipe.execute()


def check(lesson: Lesson, answer: Any) -> CheckResult:
    """Switch a private server to the AOF with ``answer``, push, SIGKILL, restart, count."""
    if is_unanswered(answer):
        return not_answered()
    if shutil.which("redis-server") is None:
        return CheckResult(None, NO_SERVER)
    prefix = lesson.keys.prefix
    with PersistentServers() as servers:
        node = servers.add("exercise", persistence_config(Persistence.NONE))
        client = node.client(timeout=10.0)
        _fill(client, prefix)
        client.config_set("rdb-key-save-delay", KEY_SAVE_DELAY_US)
        try:
            run_answer(answer, client)
        except AnswerFailed as exc:
            return wrong(str(exc))
        for n in range(AFTER):
            client.rpush(f"{prefix}tasks:pending", Task("send_notifications", {"m": n}).to_json())
        client.close()
        servers.crash(node)
        servers.restart(node)
        client = node.client(timeout=10.0)
        try:
            config = {name: str(client.config_get(name).get(name))
                      for name in ("appendonly", "appendfsync")}
            queued = client.llen(f"{prefix}tasks:pending")
        finally:
            client.close()
    return _judge(config, queued)


def _judge(config: dict[str, str], queued: int) -> CheckResult:
    expected = BEFORE + AFTER
    if config["appendonly"] != "yes":
        return wrong(f"after the crash the server started again with appendonly "
                     f"{config['appendonly']} and {queued} of {expected} tasks. A restart reads "
                     "the config file, and your change lived only in the running server's "
                     "memory: write it to the file too, once the AOF is in place.")
    if queued < BEFORE:
        return wrong(f"the server came back with the AOF on, but with {queued} of {expected} "
                     "tasks: it was killed while the AOF it was building was not finished, so "
                     "the restart found no complete AOF. Return only once INFO persistence "
                     "says the rewrite is over and went well.")
    if queued < expected and config["appendfsync"] != "always":
        # The AOF was complete (the queue before the switch came back), and pushes made
        # after it were lost: they waited in Redis's own buffer, as appendfsync allows.
        return wrong(f"the AOF was complete, but {expected - queued} of the {AFTER} tasks pushed "
                     f"after your switch were lost: the server ran appendfsync "
                     f"{config['appendfsync']}, which may keep acknowledged writes in Redis's "
                     "own buffer for a moment. The exercise asks for always (fsync before each "
                     "reply). Set it before you write the config file.")
    if queued < expected:
        return wrong(f"the server came back with the AOF on and appendfsync always, but with "
                     f"{queued} of {expected} tasks. Was the rewrite over, and did it go well, "
                     "before your function returned?")
    if config["appendfsync"] != "always":
        return wrong(f"every task survived, but the restarted server runs appendfsync "
                     f"{config['appendfsync']}: the exercise asks for always (fsync before "
                     "each reply). Set it before you write the config file.")
    return right(f"all {expected} tasks came back after a SIGKILL, and the restarted server runs "
                 "the AOF with appendfsync always. Turning the AOF on rewrote the data set in "
                 "a child process (the same fork as BGSAVE); until that base file was done, the "
                 "new AOF was not usable. Then CONFIG REWRITE made the change outlive the "
                 "process: CONFIG SET alone is forgotten by the next start.")


#: The quiz: ``save 60 1000``, 1,500 tasks in the 40 s after a snapshot, then ``kill -9``: how
#: many of the 1,500 are queued after the restart?
check_quiz = Quiz(
    0,
    why="a save point fires only when *both* hold: at least 60 s since the last snapshot *and* "
        "at least 1000 changes. After 40 s there were 1,500 changes but not 60 s, so no new "
        "snapshot was written, and the kill took every one of the 1,500 tasks. The restart "
        "loads the 12:00:00 snapshot: the queue as it was then.",
    hint="read `save 60 1000` as a condition: what must be true for Redis to write a snapshot, "
         "and was it true at 12:00:40?",
    giveaways=("0 of the 1,500", "none of the 1,500", "0 of 1,500"))
