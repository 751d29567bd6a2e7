"""The conformance check of lesson 14's piece: a stream consumer in a consumer group.

``consume_stream(client, stream, group, consumer, handle, min_idle_ms)`` does one pass of a
worker on a stream, in this order:

1. its **own pending entries** - taken before it restarted, never acked
   (``XREADGROUP ... STREAMS stream 0``);
2. **entries a dead consumer left behind**: pending for ``min_idle_ms`` or more
   (``XAUTOCLAIM``, calling again with the cursor it answers until the cursor is ``0-0``);
3. **new entries** (``XREADGROUP ... STREAMS stream >``).

It calls ``handle(entry_id, fields)`` for each entry and ``XACK``\\ s it once ``handle``
returned (an entry whose fields are gone - deleted or trimmed while pending - is acked without
``handle``), and returns how many entries it handled. A ``handle`` that raises leaves its
entry pending: delivered again on the next pass. That is RU202's recovery unit, written once.

The check stages each situation in Redis itself - a consumer that "crashes" is one that read
and never acked; a dead consumer's entries are made idle with ``XCLAIM ... IDLE`` - so it
never sleeps, and judges only what was handled and what the group still holds.
"""

from __future__ import annotations

from typing import Any

from .steps import Pieces, Steps, Workspace

__all__ = ["GROUP", "check_consumer"]

#: The consumer group the check creates on its stream.
GROUP = "workers"
#: min_idle_ms the check passes: an entry idle this long belongs to a dead consumer.
MIN_IDLE_MS = 60_000
#: How many entries the dead consumer holds: more than one XAUTOCLAIM claims by default.
DEAD_HOLDS = 250


class _Handler:
    """Records what ``handle`` was called with; raises for the ``n`` values in ``fail_on``."""

    def __init__(self, fail_on: frozenset[int] = frozenset()) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_on = fail_on

    def __call__(self, entry_id: Any, fields: Any) -> None:
        got = dict(fields or {})
        self.calls.append((str(entry_id), got))
        if "n" in got and int(got["n"]) in self.fail_on:
            raise ValueError(f"the handler failed on n={got['n']} (the check's doing)")

    def numbers(self) -> list[int | None]:
        return [int(f["n"]) if "n" in f else None for _id, f in self.calls]


class _Stream:
    """The check's stream and group, with the helpers that stage each situation."""

    def __init__(self, ws: Workspace) -> None:
        self.client = ws.client
        self.name = f"{ws.keys.prefix}stream"
        self.client.xgroup_create(self.name, GROUP, id="0", mkstream=True)

    def add(self, numbers: range | list[int]) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for n in numbers:
            pipe.xadd(self.name, {"n": n})
        return [str(entry_id) for entry_id in pipe.execute()]

    def take(self, consumer: str, count: int) -> None:
        """``consumer`` reads ``count`` new entries and never acks them (it crashed)."""
        self.client.xreadgroup(GROUP, consumer, {self.name: ">"}, count=count)

    def pending_ids(self, consumer: str) -> set[str]:
        """The ids pending for ``consumer``."""
        rows = self.client.xpending_range(self.name, GROUP, "-", "+", 1000,
                                          consumername=consumer)
        return {str(row["message_id"]) for row in rows}

    def pending(self) -> dict[str, int]:
        """Entries pending per consumer."""
        summary = self.client.xpending(self.name, GROUP)
        return {str(c["name"]): int(c["pending"]) for c in summary["consumers"] or []}


def check_consumer(pieces: Pieces, ws: Workspace) -> list[str]:
    """New entries, a restart, a deleted entry, a dead consumer's backlog, a failing handler."""
    run = Steps(pieces)
    stream = _Stream(ws)

    def consume(handler: _Handler, consumer: str = "c1") -> Any:
        return run.call("consume_stream", ws.client, stream.name, GROUP, consumer, handler,
                        MIN_IDLE_MS)

    with run.step("new entries are handled once each, in order, and acked"):
        stream.add(range(5))
        handler = _Handler()
        done = consume(handler)
        run.expect(handler.numbers() == [0, 1, 2, 3, 4], f"handle was called for "
                   f"{handler.numbers()}: expected the five new entries, once each, in order.")
        run.expect(not stream.pending(), f"{sum(stream.pending().values())} entries are still "
                   "pending: XACK each entry once handle has returned.")
        run.expect(done == 5, f"consume_stream returned {done!r}: return how many entries "
                   "handle was called for.")
    with run.step("with nothing new, nothing is handled"):
        handler = _Handler()
        done = consume(handler)
        run.expect(not handler.calls and done == 0, f"a second pass handled {handler.numbers()}"
                   f" and returned {done!r}: everything was acked already.")
    with run.step("after a restart, its own pending entries are handled first"):
        _restart(run, stream, consume)
    with run.step("an entry deleted while pending is acked, not handled"):
        _deleted(run, ws, stream, consume)
    with run.step("a dead consumer's entries are claimed, every one of them"):
        _dead_consumer(run, ws, stream, consume)
    with run.step("a handler that fails leaves its entry pending"):
        _failing_handler(run, stream, consume)
    return run.done


def _restart(run: Steps, stream: _Stream, consume: Any) -> None:
    stream.add([5, 6, 7])
    stream.take("c1", 2)  # c1 took 5 and 6, then crashed; 7 is new
    handler = _Handler()
    consume(handler)
    got = handler.numbers()
    run.expect(got != [7], "only the new entry was handled: c1 had taken 5 and 6 before it "
               "restarted, and they are still pending for it. Read them first, with ID 0 "
               "instead of '>'.")
    run.expect(got == [5, 6, 7], f"handle was called for {got}: expected c1's two pending "
               "entries first, then the new one.")
    run.expect(not stream.pending(), "c1's entries are still pending after the pass: XACK "
               "them once handled.")


def _deleted(run: Steps, ws: Workspace, stream: _Stream, consume: Any) -> None:
    ids = stream.add([8, 9, 10])
    stream.take("c1", 3)
    ws.client.xdel(stream.name, ids[1])  # trimmed or XDELed while c1 held it
    handler = _Handler()
    consume(handler)
    got = handler.numbers()
    run.expect(None not in got, "handle got an entry with no fields: it was deleted while it "
               "was pending (XREADGROUP answers its id with nothing). XACK it without "
               "handling it.")
    run.expect(got == [8, 10], f"handle was called for {got}: expected 8 and 10.")
    run.expect(not stream.pending(), "the deleted entry is still pending: XACK it too, or it "
               "comes back on every restart.")


def _dead_consumer(run: Steps, ws: Workspace, stream: _Stream, consume: Any) -> None:
    numbers = list(range(100, 100 + DEAD_HOLDS))
    ids = stream.add(numbers)
    stream.take("dead", DEAD_HOLDS)
    # as if 'dead' had been silent for two minutes (no sleeping: IDLE sets the idle time)
    ws.client.execute_command("XCLAIM", stream.name, GROUP, "dead", 0, *ids, "IDLE", 120_000,
                              "JUSTID")
    gone = {ids[10], ids[200]}
    ws.client.xdel(stream.name, *gone)  # deleted while the dead consumer held them
    stream.add([999])
    stream.take("alive", 1)  # a live consumer's entry: idle for a moment only
    handler = _Handler()
    consume(handler)
    got = handler.numbers()
    expected = [n for n, entry_id in zip(numbers, ids, strict=True) if entry_id not in gone]
    left = stream.pending().get("dead", 0)
    run.expect(999 not in got, "the live consumer's entry was taken from it: claim only "
               f"entries idle for min_idle_ms or more (here {MIN_IDLE_MS} ms).")
    run.expect(bool(got), f"none of the {DEAD_HOLDS} entries the dead consumer held was "
               "handled: XAUTOCLAIM them (min-idle-time min_idle_ms, from cursor 0-0).")
    run.expect(left == 0, f"{left} entries are still pending for the dead consumer: one "
               "XAUTOCLAIM claims at most COUNT entries (100 by default) and answers a "
               "cursor. Call it again with that cursor until it answers 0-0.")
    run.expect(None not in got, "handle got an entry with no fields (deleted while pending).")
    numbers = [n for n in got if n is not None]
    run.expect(sorted(numbers) == expected and len(set(numbers)) == len(numbers), "the dead "
               f"consumer's entries were not each handled once: {len(got)} calls for "
               f"{len(expected)} entries.")
    run.expect(stream.pending() == {"alive": 1}, f"still pending: {stream.pending()}: XACK "
               "each claimed entry once handled.")


def _failing_handler(run: Steps, stream: _Stream, consume: Any) -> None:
    failing = stream.add([400, 401])[0]
    function = run.pieces["consume_stream"]
    try:
        function(stream.client, stream.name, GROUP, "c1", _Handler(fail_on=frozenset({400})),
                 MIN_IDLE_MS)
    except ValueError as exc:  # the handler's own failure may reach the caller: allowed
        run.expect("the check's doing" in str(exc), f"consume_stream raised ValueError: {exc}")
    except Exception as exc:  # the learner's code: its error becomes the reason
        run.expect(False, f"consume_stream raised {type(exc).__name__}: {exc}")
    run.expect(failing in stream.pending_ids("c1"), "the entry whose handler failed was "
               "acked anyway: XACK only after handle returned, so a failure leaves the entry "
               "pending and the next pass runs it again.")
    handler = _Handler()
    consume(handler)
    run.expect(400 in handler.numbers(), "on the next pass the failed entry was not handled "
               "again: it is pending for this consumer - read it with ID 0.")
    left = stream.pending().get("c1", 0)
    run.expect(left == 0, f"{left} entries still pending for c1 after the next pass.")
