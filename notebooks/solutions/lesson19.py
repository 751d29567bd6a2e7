"""Lesson 19, the capstone: the design's cache and queue, in plain redis-py and the kit's store.

One solution among many: the kit's checks judge what Redis and the database hold afterwards,
never how. The checklist's parts, in order: the user cache (01), ticket reads (01), an update
that invalidates - guarded against the stale-read race (03), warming with a pipeline (04),
the seed's queue (06), the three tasks (06), the reliable queue (07), the worker (07), and
/api/metrics (08).
"""

import json
from datetime import UTC, datetime, timedelta

TTL = 300


# --- 1. the user cache: the seed's cacheUser / getCachedUser / invalidateUserCache ---------
def cache_user(client, keys, user_id, user_data):
    client.set(keys.user(user_id), json.dumps(user_data), ex=TTL)


def get_cached_user(client, keys, user_id):
    cached = client.get(keys.user(user_id))
    if cached is None:
        return None
    return json.loads(cached)


def invalidate_user(client, keys, user_id):
    client.delete(keys.user(user_id))


# --- 2. ticket reads: cache-aside, storing only if no writer invalidated meanwhile ---------
# Lesson 03's guard: SET the value only if the ticket's generation is still the one noted.
GUARDED_SET = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


def get_ticket(store, client, keys, ticket_id):
    key = keys.ticket(ticket_id)
    cached = client.get(key)
    if cached is not None:
        return json.loads(cached)
    generation = keys.generation("ticket", ticket_id)
    noted = client.get(generation) or ""          # before the database: a writer moves it
    row = store.get_ticket(ticket_id)
    if row is None:
        return None
    ticket = {"id": row.id, "title": row.title, "status": row.status,
              "priority": row.priority, "version": row.version}
    client.eval(GUARDED_SET, 2, key, generation, noted, json.dumps(ticket), TTL)
    return ticket


# --- 3. update, then invalidate at once (and move the generation) --------------------------
def update_ticket(store, client, keys, ticket_id, **changes):
    ticket = store.update_ticket(ticket_id, **changes)
    if ticket is not None:
        invalidate_tickets(client, keys, [ticket_id])
    return ticket


def invalidate_tickets(client, keys, ticket_ids):
    pipe = client.pipeline(transaction=True)
    for ticket_id in ticket_ids:
        generation = keys.generation("ticket", ticket_id)
        pipe.delete(keys.ticket(ticket_id))
        pipe.incr(generation)
        pipe.expire(generation, 3600)   # a reader that started an hour ago is long done
    pipe.execute()


# --- 4. warming, pipelined -------------------------------------------------------------------
def warm_users(client, keys, users):
    pipe = client.pipeline(transaction=False)
    for user in users:
        pipe.set(keys.user(user["id"]), json.dumps(user), ex=TTL)
    pipe.execute()


# --- 5. the seed's queue: enqueueTask / dequeueTask ------------------------------------------
def enqueue_task(client, keys, task):
    entry = {**task, "timestamp": int(datetime.now(UTC).timestamp() * 1000)}
    client.rpush(keys.tasks_pending, json.dumps(entry))


def dequeue_task(client, keys):
    raw = client.lpop(keys.tasks_pending)
    if raw is None:
        return None
    return json.loads(raw)


# --- 6. the three tasks: the seed's switch in procesarTareas ---------------------------------
def handle_task(store, client, keys, task):
    now = datetime.fromtimestamp(task["timestamp"] / 1000, UTC)   # the same on every retry
    payload = task["payload"]
    if task["type"] == "close_inactive_tickets":
        store.close_inactive_tickets(now - timedelta(days=payload["days"]), now)
        closed = store.tickets_closed_at(now)   # a retry closes nothing new: find this run's
        if closed:
            invalidate_tickets(client, keys, closed)
    elif task["type"] == "send_notifications":
        store.record_notification(payload["ticketId"], payload["usuarioId"], payload["tipo"],
                                  now, task["id"])   # one row per task id, however often it runs
        message = {"taskId": task["id"], **payload}
        client.publish(keys.notifications_channel, json.dumps(message))
    elif task["type"] == "archive_old_interactions":
        cutoff = now - timedelta(days=payload["days"])
        while store.archive_interactions_batch(cutoff, 500, now):
            pass
    else:
        raise ValueError(f"unknown task type {task['type']!r}")


# --- 7. the reliable queue: LMOVE to take, LREM to ack, recovery -----------------------------
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


# --- 8. the worker: take, work, then ack ------------------------------------------------------
def work(client, keys, worker_id, handle):
    done = 0
    while True:
        raw = reserve_task(client, keys, worker_id)
        if raw is None:
            return done
        handle(json.loads(raw))        # raises: the task stays in this worker's list
        ack_task(client, keys, worker_id, raw)
        done += 1


# --- 9. the seed's /api/metrics, from INFO's text --------------------------------------------
def api_metrics(client, keys, info):
    fields = {}
    for line in info.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name] = value
    used = int(fields["used_memory"])
    limit = int(fields["maxmemory"])
    return {
        "redis": {
            "keys": client.dbsize(),
            "queue_length": client.llen(keys.tasks_pending),
            "memory": {
                "used_bytes": used,
                "max_bytes": limit,
                "used_percent": round(100 * used / limit, 2) if limit else None,
            },
        },
    }


# What the notebook's check cell hands in: its globals(), every name defined here.
answer = globals()
