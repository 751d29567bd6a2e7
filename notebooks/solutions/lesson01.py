"""Lesson 01, the exercise: the seed's cacheUser / getCachedUser / invalidateUserCache."""

import json


def cache_user(client, keys, user_id, user_data):
    client.set(keys.user(user_id), json.dumps(user_data), ex=300)


def get_cached_user(client, keys, user_id):
    cached = client.get(keys.user(user_id))
    if cached is None:
        return None
    return json.loads(cached)


def invalidate_user(client, keys, user_id):
    client.delete(keys.user(user_id))
