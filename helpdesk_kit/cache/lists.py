"""Cached ticket lists: the seed's "Listar 100 tickets", one key per filter and page.

**Staleness without deleting.** Every page carries the *list generation* (``gen:tickets``)
it was built at; any ticket change bumps that counter (one ``INCR``). A read fetches the page
and the counter in one ``MGET``, and a page built at an older generation is a miss - so no
list key needs to be found or deleted when a ticket changes; old pages expire by their TTL.

**The same lock and guard as single rows.** On a miss the page is loaded through
:func:`helpdesk_kit.cache.guard.load_once`: one reader queries the database under the page's
lock while the others wait for its result (a list query is the slowest read the app makes,
so a stampede on it hurts most), and the page is stored only if ``gen:tickets`` did not move
while it was loading. On Redis Cluster the page and the counter share the hash tag
``{tickets}``, so the ``MGET`` and the guarded set stay in one slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from ..backends.raw import bytes_reply
from ..errors import CacheValueError
from ..models import Ticket
from ..vocab import Entity
from . import guard
from .codec import decode_tickets, encode_tickets

if TYPE_CHECKING:
    from .core import Cache

__all__ = ["LIST", "get_ticket_list"]

LIST = Entity.TICKETS  # the entity of cached ticket list pages (stats, generation key)


def get_ticket_list(cache: Cache, loader: Callable[[], list[Ticket]], *,
                    status: str | None = None, priority: str | None = None,
                    owner_id: int | None = None, limit: int = 100,
                    offset: int = 0) -> list[Ticket]:
    """A cached page of tickets for these filters; ``loader`` queries the database."""
    page = cache.keys.ticket_list_page(status, priority, owner_id, limit, offset)
    key, gen_key = cache.keys.ticket_list(status, priority, owner_id, limit, offset), \
        cache.keys.generation(LIST)
    if cache.internals.resting():
        return cache.internals.miss(LIST, cache.internals.load(LIST, loader))
    try:
        raw, generation = bytes_reply(cache.client, "MGET", key, gen_key)
    except redis.RedisError as exc:
        cache.internals.redis_failed(LIST, exc)
        return cache.internals.miss(LIST, cache.internals.load(LIST, loader))

    def decode(raw: bytes, generation: str | None) -> tuple[bool, list[Ticket] | None]:
        """(found, tickets): a page built at an older list generation is not found."""
        text = cache.internals.text(LIST, key, raw)
        if text is None:
            return False, None
        try:
            built_at, tickets = decode_tickets(text)
        except CacheValueError as exc:
            cache.internals.corrupt(LIST, key, exc)
            return False, None
        return built_at == generation, tickets

    if generation is not None:
        generation = generation.decode("utf-8", "replace")  # our own counter: digits
    if raw is not None:
        found, tickets = decode(raw, generation)
        if found:
            cache.internals.count(LIST, "hits")
            return tickets  # type: ignore[return-value]
    tickets, from_cache = guard.load_once(cache, LIST, page, key, loader, gen_key=gen_key,
                                                decode=decode, encode=encode_tickets)
    cache.internals.count(LIST, "hits" if from_cache else "misses")
    return tickets or []
