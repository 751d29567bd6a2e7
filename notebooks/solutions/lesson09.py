"""Lesson 09, the coding exercise: the break-even hit rate of a cache-aside read."""


def answer(db_ms, cache_ms):
    # h*c + (1 - h)*(c + d + c) = d  ->  h = 2c / (d + c); 1.0 when it never pays
    return min(1.0, 2 * cache_ms / (db_ms + cache_ms))
