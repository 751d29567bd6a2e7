"""Lesson 05, the coding exercise: the hit rate of an LRU cache holding `capacity` keys."""

from collections import OrderedDict


def answer(reads, capacity):
    cache = OrderedDict()
    hits = 0
    for key in reads:
        if key in cache:
            hits += 1
            cache.move_to_end(key)
        else:
            if len(cache) >= capacity:
                cache.popitem(last=False)
            cache[key] = True
    return hits / len(reads)
