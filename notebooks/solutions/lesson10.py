"""Lesson 10, the coding exercise: the replicas that have acknowledged an offset (ROLE)."""


def answer(client, offset):
    replicas = client.role()[2]      # ROLE: "master", its offset, [[ip, port, acked], ...]
    return [f"{ip}:{port}" for ip, port, acked in replicas if int(acked) >= offset]
