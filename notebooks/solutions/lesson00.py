"""Lesson 00, the coding exercise: one database read, one SET and one GET, under the prefix."""


def answer(lesson, ticket_id):
    ticket = lesson.store.get_ticket(ticket_id)
    key = f"{lesson.keys.prefix}title:{ticket_id}"
    lesson.client.set(key, ticket.title)
    return lesson.client.get(key)
