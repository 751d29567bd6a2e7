"""Lesson 00's widgets: the ticket browser and the tables."""

from __future__ import annotations

from helpdesk_kit.db import HelpdeskStore
from helpdesk_kit.lessons import LESSONS
from helpdesk_kit.widgets.start_here import (
    GLOSSARY,
    TicketBrowser,
    glossary,
    lessons_table,
    ticket_html,
)


def test_ticket_html_shows_the_row_and_its_comments(store: HelpdeskStore) -> None:
    ticket = store.get_ticket(7)
    assert ticket is not None
    text = ticket_html(store, 7)
    assert f"#7 {ticket.title}" in text
    assert f"{len(store.list_interactions(7))} comment(s)" in text


def test_ticket_html_for_a_missing_ticket(store: HelpdeskStore) -> None:
    assert "No ticket #99999" in ticket_html(store, 99999)


def test_browser_slider_drives_the_view(store: HelpdeskStore) -> None:
    browser = TicketBrowser(store, first=3)
    assert "#3 " in browser.view.value
    assert browser.slider.max == store.counts()["tickets"]
    browser.slider.value = 5  # what moving the slider does
    assert "#5 " in browser.view.value


def test_escapes_html_in_titles(store: HelpdeskStore) -> None:
    ticket = store.create_ticket(3, "<script>x</script>")
    assert "<script>" not in ticket_html(store, ticket.id)


def test_glossary_covers_the_seed_names() -> None:
    seeds = " ".join(row[0] for row in GLOSSARY)
    for name in ("obtenerTicket", "warmupCache", "enqueueTask", "procesarTareas", "/api/metrics"):
        assert name in seeds
    assert len(glossary().rows) == len(GLOSSARY)
    assert [row[0] for row in lessons_table().rows] == [stem[:2] for stem, _ in LESSONS]
