"""Lesson 12, the coding exercise: collect n distinct notifications from a channel."""

import json
import time


def answer(client, channel, n, timeout_s):
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    seen, notes = set(), []
    deadline = time.monotonic() + timeout_s
    try:
        while len(notes) < n and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message is None:
                continue
            try:
                note = json.loads(message["data"])
            except ValueError:
                continue  # not a notification
            if not isinstance(note, dict) or note.get("taskId") in seen:
                continue  # a repeat: a retried task publishes again
            seen.add(note.get("taskId"))
            notes.append(note)
    finally:
        pubsub.close()
    return notes
