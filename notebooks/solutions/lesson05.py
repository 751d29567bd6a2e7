"""Lesson 05, the coding exercise: one read through an exact LRU kept in a sorted set."""


def answer(client, index, key, capacity, now):
    added = client.zadd(index, {key: now})       # 1: a new member (a miss), 0: a hit
    if added and client.zcard(index) > capacity:
        client.zpopmin(index)                    # the lowest score: read longest ago
    return added == 0
