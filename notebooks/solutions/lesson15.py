"""Lesson 15, the exercise: a ticket's state, rebuilt from the event log with XRANGE."""

import json

TICKET_FIELDS = ("title", "description", "status", "priority", "requester_id", "owner_id")


def answer(client, stream, ticket_id):
    state = None
    for _entry_id, fields in client.xrange(stream, "-", "+"):  # oldest first
        if "kind" not in fields or int(fields.get("ticket", 0)) != ticket_id:
            continue  # another ticket's event, or not an event at all
        kind, version = fields["kind"], int(fields["version"])
        data = json.loads(fields.get("data", "{}"))
        if kind == "created":
            if state is None:
                state = {"ticket_id": ticket_id, "version": version, "comments": 0}
                state.update({name: data.get(name) for name in TICKET_FIELDS})
            continue
        if state is None or version <= state["version"]:
            continue  # before the log began, or a repeat
        state.update({k: v for k, v in data.items() if k in TICKET_FIELDS})
        if kind == "closed":
            state["status"] = "closed"
        if kind == "commented":
            state["comments"] += 1
        state["version"] = version
    return state
