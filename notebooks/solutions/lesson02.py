"""Lesson 02, the coding exercise: read a session and slide its expiry (GETEX ... EX)."""

import json


def answer(client, key, ttl):
    raw = client.getex(key, ex=ttl)
    return json.loads(raw) if raw is not None else None
