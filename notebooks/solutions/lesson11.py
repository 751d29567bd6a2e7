"""Lesson 11, the coding exercise: the primary that serves a key (CLUSTER KEYSLOT, SHARDS)."""


def answer(client, key):
    slot = client.execute_command("CLUSTER KEYSLOT", key)
    for shard in client.execute_command("CLUSTER SHARDS"):
        ranges = shard["slots"]                       # [start, end, start, end, ...]
        for start, end in zip(ranges[0::2], ranges[1::2], strict=True):
            if start <= slot <= end:
                for node in shard["nodes"]:
                    if node["role"] == "master":
                        return f"{node['ip']}:{node['port']}"
    return None
