"""Lesson 13: what a Lua script's atomicity buys and costs, the script cache, Functions.

Plain functions measure each point on real servers (and on fakeredis where it can):

- :func:`race_limiters`: a rate limiter written as GET-compare-INCR in Python against the
  kit's Lua one, hammered from threads - the Python one lets more through;
- :func:`slow_script`: a GET sent while a script of about 150 ms runs waits for all of it
  (it reads what the script wrote last);
- :func:`busy_and_kill`: a runaway script on a private server, the ``BUSY`` answer after
  ``busy-reply-threshold``, and ``SCRIPT KILL``;
- :func:`survivors`: what is left of a script (``SCRIPT LOAD``) and of a function
  (``FUNCTION LOAD``) after ``SCRIPT FLUSH``, a restart, and on a replica.

:class:`RateLimitLab` is the widget: a button that creates a ticket as one user, under the
kit's Lua limiter, and what the limiter said.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import redis

from ..app import HelpdeskApp, RateLimiter
from ..backends import RedisServer
from ..backends.binaries import no_server_reason
from ..keys import KeySchema
from ..lessons import Table, capture_logs, median_seconds
from ..lessons.assembly_messaging import window_used
from . import Shown

__all__ = ["AFTER_SCRIPT", "BUSY_LOOP", "SPIN_LUA", "BusyReport", "RateLimitLab", "SlowReport",
           "busy_and_kill", "race_limiters", "server_skip_reason", "slow_script", "survivors"]

#: Spins ARGV[1] empty loop turns (a script cannot sleep), then writes ARGV[2] to KEYS[1]:
#: whoever reads that key and gets ARGV[2] was answered after the whole script had run.
#: (It cannot watch the clock instead: since Redis 7.2 time is frozen while a script runs,
#: so ``TIME`` answers the same value on every call inside it - redis/redis#10300.)
SPIN_LUA = """
for _ = 1, tonumber(ARGV[1]) do end
redis.call('SET', KEYS[1], ARGV[2], 'PX', 60000)
return 1
"""
#: A script that never ends by itself (only SCRIPT KILL stops it: it writes nothing).
BUSY_LOOP = "while true do end"


def server_skip_reason(backend_kind: str) -> str | None:
    """Why an experiment that needs private redis-server processes cannot run here."""
    if backend_kind == "fake":
        return ("skipped: this needs real redis-server processes (fakeredis has no "
                "SCRIPT KILL, no restart and no replicas)")
    missing = no_server_reason()
    return None if missing is None else f"skipped: {missing}"


# --- atomicity: a race a script cannot lose -------------------------------------------
def race_limiters(client: redis.Redis, keys: KeySchema, *, limit: int = 10, threads: int = 8,
                  calls: int = 25) -> dict[str, int]:
    """Calls allowed, out of ``threads`` x ``calls`` at once, by two limiters of ``limit``:
    ``python`` (GET, compare, INCR: three steps other clients can interleave) and ``lua``
    (the kit's :class:`~helpdesk_kit.app.RateLimiter`: one atomic script)."""
    naive_key = f"{keys.prefix}race:python"
    client.delete(naive_key)
    lua = RateLimiter(client, KeySchema(prefix=f"{keys.prefix}race:"), limit=limit,
                      window_s=60)
    lua.reset(1)

    def python_allow() -> bool:
        used = int(client.get(naive_key) or 0)
        if used >= limit:
            return False
        time.sleep(0)  # let another thread run here, as a busy server would
        client.incr(naive_key)
        return True

    allowed = {"python": 0, "lua": 0}
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def hammer(name: str, allow: Any) -> None:
        start.wait()
        for _ in range(calls):
            if allow():
                with lock:
                    allowed[name] += 1

    for name, allow in (("python", python_allow), ("lua", lambda: lua.allow(1))):
        crew = [threading.Thread(target=hammer, args=(name, allow)) for _ in range(threads)]
        for thread in crew:
            thread.start()
        for thread in crew:
            thread.join()
        start.reset()
    client.delete(naive_key)
    lua.reset(1)
    return allowed


# --- what atomicity costs ----------------------------------------------------------------
@dataclass(frozen=True)
class SlowReport:
    script_s: float        # how long the script ran (as its caller saw it)
    ping_before_s: float   # a PING on an idle server (median)
    during_s: float        # a GET sent while the script ran, from another client
    #: What that GET answered: the value the script writes as its *last* step, so
    #: ``AFTER_SCRIPT`` here proves the GET waited for the whole script (an order, not a time).
    during_reply: str | None

    @property
    def waited_for_script(self) -> bool:
        return self.during_reply == AFTER_SCRIPT


#: What the slow script writes when it ends (see :data:`SPIN_LUA`).
AFTER_SCRIPT = "written by the script's last line"

#: Loop turns of the first, measuring run of :data:`SPIN_LUA`.
_CALIBRATION_TURNS = 200_000


def _spin(client: redis.Redis, marker: str, turns: int) -> float:
    """Run :data:`SPIN_LUA` for ``turns`` turns; the seconds its caller waited."""
    started = time.perf_counter()
    client.eval(SPIN_LUA, 1, marker, turns, AFTER_SCRIPT)
    return time.perf_counter() - started


def slow_script(client: redis.Redis, marker: str = "slow-script:marker",
                script_ms: int = 150) -> SlowReport:
    """Run a script of about ``script_ms`` in one thread; meanwhile another client GETs the
    ``marker`` key the script writes last.

    The loop's length comes from one short measuring run (machines differ). A GET that went
    out before the script started (a busy machine can delay the thread) proves nothing, so
    that round is run again, up to five times.
    """
    before = median_seconds(client.ping, repeat=11)
    runner = redis.Redis(connection_pool=client.connection_pool)
    per_turn = _spin(runner, marker, _CALIBRATION_TURNS) / _CALIBRATION_TURNS
    turns = max(_CALIBRATION_TURNS, int(script_ms / 1000 / per_turn))
    ran: list[float] = []
    reply: str | None = None
    during = 0.0
    for attempt in range(1, 6):
        client.delete(marker)
        thread = threading.Thread(target=lambda: ran.append(_spin(runner, marker, turns)))
        thread.start()
        time.sleep(min(0.02 * attempt, script_ms / 2000))  # let the script start
        started = time.perf_counter()
        raw = client.get(marker)
        during = time.perf_counter() - started
        thread.join()
        reply = raw.decode() if isinstance(raw, bytes) else raw
        if reply is not None:  # sent while the script ran (or queued behind it)
            break
    client.delete(marker)
    return SlowReport(ran[-1], before, during, reply)


@dataclass(frozen=True)
class BusyReport:
    threshold_ms: int
    busy_after_s: float  # from the script's start to the BUSY answer a PING got
    busy_reply: str      # what that PING was answered
    script_error: str    # what the script's caller got once it was killed
    ping_after: bool     # the server answers again


def busy_and_kill(threshold_ms: int = 100) -> BusyReport:
    """On a private server with ``busy-reply-threshold`` ``threshold_ms``: a script that never
    ends, a PING answered ``BUSY`` once the threshold passed, then ``SCRIPT KILL``."""
    with RedisServer("redis-server", "--busy-reply-threshold", str(threshold_ms)) as server:
        runner = server.client(socket_timeout=10)
        other = server.client(socket_timeout=10)
        outcome: dict[str, str] = {}

        def run() -> None:
            try:
                runner.eval(BUSY_LOOP, 0)
            except redis.RedisError as exc:
                outcome["error"] = f"{type(exc).__name__}: {exc}"

        thread = threading.Thread(target=run)
        started = time.perf_counter()
        thread.start()
        time.sleep(0.01)
        try:
            other.ping()
            reply = "PONG (the script had not started?)"
        except redis.ResponseError as exc:  # BusyLoadingError is a subclass of it
            reply = f"{type(exc).__name__}: {exc}"
        busy_after = time.perf_counter() - started
        other.script_kill()
        thread.join(5)
        alive = bool(other.ping())
        runner.close()
        other.close()
    return BusyReport(threshold_ms, busy_after, reply, outcome.get("error", ""), alive)


# --- the script cache vs Functions ---------------------------------------------------------
def _library(name: str) -> str:
    return (f"#!lua name={name}\nredis.register_function{{function_name='{name}_hi', "
            "callback=function() return 'hi' end, flags={'no-writes'}}\n")


def survivors() -> list[tuple[str, str, str]]:
    """(event, the script loaded with SCRIPT LOAD, the function loaded with FUNCTION LOAD):
    present or gone after SCRIPT FLUSH, after a restart (with an RDB save), on a replica."""
    from ..backends.launchers import free_port

    rows = []
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-lua-"))
    port = free_port()
    try:
        with RedisServer("redis-server", "--port", str(port), "--dir", str(folder),
                         "--repl-diskless-sync-delay", "0") as primary:
            client = primary.client()

            def load() -> str:
                client.function_load(_library("lesson13"), replace=True)
                return str(client.script_load("return 'hi'"))

            def state(on: redis.Redis, sha: str) -> tuple[str, str]:
                script = "present" if on.script_exists(sha)[0] else "gone (NOSCRIPT)"
                names = [str(lib[1]) for lib in on.function_list()]
                return script, "present" if "lesson13" in names else "gone"

            sha = load()
            client.script_flush()
            rows.append(("SCRIPT FLUSH", *state(client, sha)))
            sha = load()
            client.save()  # an RDB file holds the data set - functions included
            primary.stop()
            primary.start()
            client = primary.client()
            rows.append(("restart", *state(client, sha)))
            sha = load()
            with RedisServer("redis-server", "--replicaof", "127.0.0.1", str(port)) as replica:
                follower = replica.client()
                deadline = time.monotonic() + 10
                while (follower.info("replication").get("master_link_status") != "up"
                       and time.monotonic() < deadline):
                    time.sleep(0.02)
                rows.append(("on a replica (a failover's new primary)", *state(follower, sha)))
                follower.close()
            client.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


# --- the widget ----------------------------------------------------------------------------
class RateLimitLab(Shown):
    """Create tickets as one user under the Lua limiter, and see each verdict."""

    def __init__(self, app: HelpdeskApp, limiter: RateLimiter, requester_id: int = 3) -> None:
        self.app = app
        self.limiter = limiter
        self.requester_id = requester_id
        self.app.rate_limiter = limiter
        self.results: list[tuple[str, str]] = []
        self.button = widgets.Button(description="Create a ticket", icon="plus")
        self.status = widgets.Label(f"user {requester_id}: {limiter.limit} tickets per "
                                    f"{limiter.window_s:g} s")
        self.view = widgets.HTML()
        self.button.on_click(lambda _: self.create())
        self.widget = widgets.VBox([widgets.HBox([self.button, self.status]), self.view])

    def create(self) -> dict[str, Any]:
        with capture_logs():
            result = self.app.create_ticket(self.requester_id,
                                            f"Rate-limited ticket {len(self.results) + 1}")
        key = self.limiter.keys.rate_limit(self.limiter.action, self.requester_id)
        used = window_used(self.limiter.client, key, self.limiter.limit)
        verdict = (f"created ticket {result['ticketId']}" if result["success"]
                   else result["error"])
        self.results.append((verdict, f"{used} of {self.limiter.limit}"))
        self.view.value = Table(("result", "window used"), self.results[-8:])._repr_html_()
        return result
