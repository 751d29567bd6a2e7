"""The lessons, in order, and the previous / contents / next line of every notebook."""

from __future__ import annotations

__all__ = ["CONTENTS", "LESSONS", "lesson_index", "nav_markdown"]

#: Every lesson, in order: (notebook file stem, title). The navigation links come from here.
LESSONS: tuple[tuple[str, str], ...] = (
    ("00_start_here", "Start here"),
    ("01_cache_aside", "Cache-aside"),
    ("02_keys_ttl_serialisation", "Keys, TTL and serialisation"),
    ("03_invalidation", "Invalidation"),
    ("04_cache_warming", "Cache warming"),
    ("05_hit_rate_lab", "Hit-rate lab"),
    ("06_task_queue", "Task queue"),
    ("07_reliable_queue", "Reliable queue"),
    ("08_monitoring_tuning", "Monitoring and tuning"),
    ("09_with_vs_without_redis", "With vs without Redis"),
    ("10_replication_sentinel", "Replication and Sentinel"),
    ("11_cluster", "Redis Cluster"),
    ("12_pubsub", "Pub/Sub and keyspace notifications"),
    ("13_lua_functions", "Lua scripts and Functions"),
    ("14_streams", "Streams"),
    ("15_event_log", "The event log"),
    ("16_near_cache", "The near cache"),
    ("17_persistence", "Persistence"),
    ("18_incidents", "Incidents"),
    ("19_capstone", "Capstone"),
)
CONTENTS = "README.md"


def lesson_index(stem: str) -> int:
    for i, (name, _) in enumerate(LESSONS):
        if name == stem:
            return i
    raise ValueError(f"unknown lesson {stem!r}; known: {', '.join(n for n, _ in LESSONS)}")


def _label(i: int) -> str:
    stem, title = LESSONS[i]
    return f"{stem[:2]} {title}"


def nav_markdown(stem: str) -> str:
    """The previous / contents / next line that opens and closes every lesson (Markdown)."""
    i = lesson_index(stem)
    parts = []
    if i > 0:
        parts.append(f"[← {_label(i - 1)}]({LESSONS[i - 1][0]}.ipynb)")
    parts.append(f"[Contents]({CONTENTS})")
    if i + 1 < len(LESSONS):
        parts.append(f"[{_label(i + 1)} →]({LESSONS[i + 1][0]}.ipynb)")
    return " | ".join(parts)
