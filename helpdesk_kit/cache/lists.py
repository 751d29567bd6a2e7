"""Cached ticket lists: the design's "Listar 100 tickets", one key per filter and page.

**Staleness without deleting.** Every page carries the *list generation* (``gen:tickets``)
it was built at; any ticket change bumps that counter (one ``INCR``). A read fetches the page
and the counter in one ``MGET``, and a page built at an older generation is a miss - so no
list key needs to be found or deleted when a ticket changes; old pages expire by their TTL.

**The same lock and guard as single rows.** On a miss the page is loaded through
:func:`helpdesk_kit.cache.loading.load_once`: one reader queries the database under the
page's lock while the others wait for its result (a list query is the slowest read the app
makes, so a stampede on it hurts most), and the page is stored only if ``gen:tickets`` did not
move while it was loading. On Redis Cluster the page and the counter share the hash tag
``{tickets}``, so the ``MGET`` and the guarded set stay in one slot.

This module says what a page is - its keys, when it is current, how it is written; the read
itself is :meth:`helpdesk_kit.cache.Cache.get_ticket_list`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..keys import KeySchema
from ..models import Ticket
from ..vocab import Entity
from .codec import PAGE, TicketPage, encode_tickets
from .loading import Load, Slot
from .lookup import Lookup, Reader

__all__ = ["LIST", "is_current", "page_load", "page_slot"]

#: The entity of cached ticket list pages (their stats row, their generation key).
LIST = Entity.TICKETS


def page_slot(keys: KeySchema, status: str | None, priority: str | None,
              owner_id: int | None, limit: int, offset: int) -> Slot:
    """The keys of one page: the page, the list's counter, and the page's own lock."""
    page = keys.ticket_list_page(status, priority, owner_id, limit, offset)
    return Slot(key=keys.ticket_list(status, priority, owner_id, limit, offset),
                generation=keys.generation(LIST),
                entity_generation=keys.entity_generation(LIST),
                lock=keys.lock(LIST, page))


def is_current(found: Lookup[TicketPage]) -> bool:
    """A page counts as found only if it was built at the list generation read with it."""
    page = found.value
    return found.found and page is not None and page.generation == found.generation


def page_load(reader: Reader, slot: Slot, run: Callable[[], list[Ticket] | None],
              ttl: Callable[[list[Ticket] | None], int],
              failed: Callable[[Exception], None]) -> Load[list[Ticket]]:
    """How a page is loaded: read back only if built at the generation noted with it, and
    written with the generation noted before the load (see the module)."""

    def decode(raw: bytes, noted: str | None) -> tuple[bool, list[Ticket] | None]:
        decoded = reader.decode(PAGE, slot.key, raw)
        found, page = decoded
        if not found or page is None or page.generation != noted:
            return False, None
        return True, page.tickets

    def encode(tickets: list[Ticket] | None, noted: str | None) -> str:
        return encode_tickets(tickets or [], noted)

    return Load(run=run, decode=decode, encode=encode, ttl=ttl, failed=failed)
