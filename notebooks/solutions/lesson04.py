"""Lesson 04, the exercise: warm the user cache with one pipeline (not one round trip per user)."""

import json


def warm_users(client, keys, users):
    pipe = client.pipeline(transaction=False)
    for user in users:
        pipe.set(keys.user(user["id"]), json.dumps(user), ex=300)
    pipe.execute()
