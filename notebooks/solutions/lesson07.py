"""Lesson 07, the coding exercise: one reliable step - reserve, run, and only then ack."""


def answer(queue, worker_id, handler):
    task = queue.reserve(worker_id)
    if task is None:
        return None
    try:
        handler(task)
    except Exception as exc:
        queue.fail(worker_id, task, str(exc))
    else:
        queue.ack(worker_id, task)
    return task

