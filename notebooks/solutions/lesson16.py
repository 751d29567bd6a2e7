"""Lesson 16, the exercise: hear Redis name the keys that change, and drop the local copies."""

import redis


def listen_for_changes(client, prefix):
    listener = client.pubsub()
    listener.execute_command("CLIENT ID")  # before SUBSCRIBE: then only Pub/Sub commands pass
    listener_id = listener.parse_response()
    listener.subscribe("__redis__:invalidate")
    client.client_tracking_on(clientid=listener_id, bcast=True, prefix=[prefix])
    return listener


def apply_invalidations(listener, local):
    try:
        while (message := listener.get_message(timeout=0.01)) is not None:
            if message["type"] != "message":
                continue  # the confirmation of SUBSCRIBE
            if message["data"] is None:  # FLUSHDB / FLUSHALL: every key
                local.clear()
            else:
                for key in message["data"]:
                    local.pop(key, None)
    except redis.ConnectionError:  # what was sent meanwhile is lost, and nobody knows what
        local.clear()
        return False
    return True
