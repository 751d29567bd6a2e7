"""Lesson 18, the coding exercise: redis-cli --bigkeys, written with SCAN."""

#: The O(1) size command of each type: elements, or bytes for a string.
SIZE = {"string": "strlen", "list": "llen", "set": "scard", "hash": "hlen", "zset": "zcard",
        "stream": "xlen"}


def answer(client, match):
    biggest = {}
    for key in client.scan_iter(match=match, count=1000):
        kind = client.type(key)
        size = getattr(client, SIZE[kind])(key)
        if kind not in biggest or size > biggest[kind][1]:
            biggest[kind] = (key, size)
    return biggest
