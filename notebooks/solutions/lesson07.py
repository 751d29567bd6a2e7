"""Lesson 07, the exercise: redis.io's reliable queue - LMOVE to take, LREM to ack, and the
recovery of what a dead worker left in its processing list."""


def reserve_task(client, keys, worker_id):
    return client.lmove(keys.tasks_pending, keys.tasks_processing(worker_id), "LEFT", "RIGHT")


def ack_task(client, keys, worker_id, raw):
    client.lrem(keys.tasks_processing(worker_id), 1, raw)


def recover_tasks(client, keys, worker_id):
    moved = 0
    held = keys.tasks_processing(worker_id)
    while client.lmove(held, keys.tasks_pending, "RIGHT", "LEFT") is not None:
        moved += 1
    return moved
