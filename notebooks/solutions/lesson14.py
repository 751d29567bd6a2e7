"""Lesson 14, the exercise: a consumer in a group - its own pending, a dead one's, new ones."""


def consume_stream(client, stream, group, consumer, handle, min_idle_ms):
    handled = 0

    def run(entries):
        nonlocal handled
        for entry_id, fields in entries:
            if fields:  # empty: the entry was deleted or trimmed while it was pending
                handle(entry_id, fields)
                handled += 1
            client.xack(stream, group, entry_id)  # only after handle returned

    def read_all(start):
        while True:
            reply = client.xreadgroup(group, consumer, {stream: start}, count=100)
            entries = reply[0][1] if reply else []
            if not entries:
                return
            run(entries)

    read_all("0")  # 1. what this consumer took before it restarted, and never acked
    cursor = "0-0"
    while True:  # 2. what a dead consumer left: XAUTOCLAIM claims a page, answers a cursor
        reply = client.xautoclaim(stream, group, consumer, min_idle_ms, cursor, count=100)
        cursor = reply[0]  # (Redis 7 adds a third item: ids deleted while pending)
        run(reply[1])
        if cursor == "0-0":
            break
    read_all(">")  # 3. what nobody was given yet
    return handled
