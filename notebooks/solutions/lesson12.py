"""Lesson 12, the exercise: the app's notification listener, in plain redis-py."""

import json


def listen_notifications(client, keys, on_notification, stop):
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.notifications_channel)
    seen = set()
    try:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.1)  # None when nothing came meanwhile
            if message is None:
                continue
            try:
                note = json.loads(message["data"])
            except ValueError:
                continue  # not JSON: anyone may publish on a channel
            if not isinstance(note, dict) or "taskId" not in note:
                continue  # JSON, but not a notification
            if note["taskId"] in seen:
                continue  # a repeat: a retried task publishes again
            seen.add(note["taskId"])
            on_notification(note)
    finally:
        pubsub.close()  # the connection closes: the server drops its subscription
