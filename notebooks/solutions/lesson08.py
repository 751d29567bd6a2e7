"""Lesson 08, the coding exercise: count a prefix's keys and TTLs with SCAN (never KEYS)."""


def answer(client, prefix):
    total = expiring = 0
    for key in client.scan_iter(match=prefix + "*", count=100):
        total += 1
        if client.ttl(key) >= 0:
            expiring += 1
    return total, expiring
