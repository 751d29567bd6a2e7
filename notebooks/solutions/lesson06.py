"""Lesson 06, the exercise: the seed's enqueueTask / dequeueTask, on the list tasks:pending."""

import json
import time


def enqueue_task(client, keys, task):
    entry = {**task, "timestamp": int(time.time() * 1000)}
    client.rpush(keys.tasks_pending, json.dumps(entry))


def dequeue_task(client, keys):
    raw = client.lpop(keys.tasks_pending)
    if raw is None:
        return None
    return json.loads(raw)
