"""Lesson 17, the coding exercise: switch a running Redis to the AOF without losing a task."""

import time


def answer(client):
    client.config_set("appendonly", "yes")       # starts a rewrite: the AOF's base file
    client.config_set("appendfsync", "always")
    while True:                                  # until the new AOF is complete
        persistence = client.info("persistence")
        if not persistence["aof_rewrite_in_progress"] and \
                not persistence["aof_rewrite_scheduled"]:
            break
        time.sleep(0.01)
    if persistence["aof_last_bgrewrite_status"] != "ok":
        raise RuntimeError("the AOF rewrite failed: see the server's log")
    client.config_rewrite()                      # and into redis.conf, for the next start
