"""Lesson 09, the coding exercise: a cache-aside read priced in round trips."""


def answer(client, key, load, db_ms, cache_ms):
    cached = client.get(key)                  # 1 round trip to Redis
    if cached is not None:
        return cached, cache_ms               # a hit: GET only
    value = load()                            # the database
    client.set(key, value, ex=300)            # and a 2nd round trip
    return value, 2 * cache_ms + db_ms        # a miss: GET + query + SET
