"""Lesson 03, the exercise: write the database, then invalidate that ticket's key."""


def update_ticket(store, client, keys, ticket_id, **changes):
    ticket = store.update_ticket(ticket_id, **changes)
    client.delete(keys.ticket(ticket_id))
    return ticket
