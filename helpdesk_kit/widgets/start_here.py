"""Lesson 00: the glossary from the seed's names to the kit's, the list of lessons, and a
ticket browser - a first widget that reads the sample database through the store.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..db import HelpdeskStore
from ..lessons import LESSONS, Table
from . import Shown

__all__ = ["GLOSSARY", "TicketBrowser", "glossary", "lessons_table", "ticket_html"]

#: Seed (TypeScript / Spanish) -> helpdesk_kit: the kit's glossary plus the Spanish words the
#: seed uses in prose, so a learner can read the seed and the code side by side.
GLOSSARY: tuple[tuple[str, str, str], ...] = (
    ("redis (Upstash client)", "the Redis client", "connect() -> a redis-py client"),
    ("Turso / queries.obtenerTicket", "the database query", "db.store.HelpdeskStore.get_ticket"),
    ("cacheUser / getCachedUser / invalidateUserCache", "cache one user",
     "Cache.cache_user / get_cached_user / invalidate_user"),
    ("obtenerTicket", "get a ticket (logs Cache HIT / MISS)", "app.get_ticket"),
    ("crearTicket / actualizarTicket", "create / update a ticket",
     "app.create_ticket / app.update_ticket"),
    ("enqueueTask / dequeueTask / procesarTareas", "enqueue / dequeue / process tasks",
     "queue.TaskQueue.enqueue / .dequeue / Worker.process_all"),
    ("warmupCache (precarga)", "cache warming", "Cache.warm_users (pipelined)"),
    ("/api/metrics", "the metrics endpoint", "metrics.snapshot()"),
    ("usuario / ticket / interacción", "user / ticket / comment",
     "models.User / Ticket / Interaction"),
    ("caché, clave, TTL", "cache, key, time to live", "keys.KeySchema, Settings.cache_ttl"),
    ("invalidación inmediata / selectiva", "immediate / selective invalidation",
     "Cache.invalidate_ticket / invalidate_pattern"),
    ("cola de tareas pendientes (tasks:pending)", "pending task queue",
     "KeySchema.tasks_pending"),
    ("Óptimo / Deficiente", "optimal / poor", "metrics.tuning.Verdict, the tuning table"),
)


def glossary() -> Table:
    return Table(("seed", "meaning", "helpdesk_kit"), GLOSSARY,
                 caption="From the seed's names to ours")


def lessons_table() -> Table:
    rows = [(stem[:2], title, f"{stem}.ipynb") for stem, title in LESSONS]
    return Table(("#", "lesson", "notebook"), rows, caption="The lessons, in order")


def ticket_html(store: HelpdeskStore, ticket_id: int) -> str:
    """One ticket and its comments as HTML (what the browser widget shows)."""
    ticket = store.get_ticket(ticket_id)
    if ticket is None:
        return f"<p>No ticket #{ticket_id} in this database.</p>"
    comments = store.list_interactions(ticket_id)
    e = html.escape
    lines = [
        f"<b>#{ticket.id} {e(ticket.title)}</b> - {e(ticket.status)}, {e(ticket.priority)}",
        f"requester user {ticket.requester_id}, owner "
        f"{ticket.owner_id if ticket.owner_id is not None else '(nobody)'}, "
        f"version {ticket.version}",
        f"created {ticket.created_at:%Y-%m-%d}, last activity {ticket.updated_at:%Y-%m-%d}",
        f"{len(comments)} comment(s)"
        + "".join(f"<br>&nbsp;&nbsp;- user {c.author_id}: {e(c.body)}" for c in comments),
    ]
    return "<br>".join(lines)


class TicketBrowser(Shown):
    """A slider over ticket ids; the HTML below shows the row the store returns."""

    def __init__(self, store: HelpdeskStore, first: int = 1) -> None:
        self.store = store
        count = store.counts()["tickets"]
        self.slider = widgets.IntSlider(value=first, min=1, max=max(1, count),
                                        description="ticket id")
        self.view = widgets.HTML()
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.show(first)
        self.widget = widgets.VBox([self.slider, self.view])

    def show(self, ticket_id: int) -> str:
        self.view.value = ticket_html(self.store, ticket_id)
        return self.view.value
