"""Lesson 01, the coding exercise: the seed's cacheUser / getCachedUser / invalidateUserCache."""

import json


def cache_user(client, keys, user_id, user_data):
    client.set(keys.user(user_id), json.dumps(user_data), ex=300)


def get_cached_user(client, keys, user_id):
    cached = client.get(keys.user(user_id))
    return json.loads(cached) if cached else None


def invalidate_user_cache(client, keys, user_id):
    client.delete(keys.user(user_id))


answer = (cache_user, get_cached_user, invalidate_user_cache)
