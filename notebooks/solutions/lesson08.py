"""Lesson 08, the exercise: the seed's /api/metrics, from INFO's text split by hand."""


def api_metrics(client, keys, info):
    fields = {}
    for line in info.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name] = value
    used = int(fields["used_memory"])
    limit = int(fields["maxmemory"])
    return {
        "redis": {
            "keys": client.dbsize(),
            "queue_length": client.llen(keys.tasks_pending),
            "memory": {
                "used_bytes": used,
                "max_bytes": limit,
                "used_percent": round(100 * used / limit, 2) if limit else None,
            },
        },
    }


answer = api_metrics
