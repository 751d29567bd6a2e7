"""notebooks/GLOSSARY.md: one line per word, each with the lesson that teaches it and the
redis.io page that documents it - and every lesson named there exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpdesk_kit.lessons import LESSONS

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
GLOSSARY = NOTEBOOKS / "GLOSSARY.md"
ENTRY = re.compile(r"^- \*\*(?P<term>[^*]+)\*\* - (?P<meaning>.+)$")
LESSON_LINK = re.compile(r"\[(?P<label>\d\d [^\]]+)\]\((?P<file>(?P<stem>\d\d_\w+)\.ipynb)\)")
REDIS_LINK = re.compile(r"\[redis\.io: [^\]]+\]\((?P<url>https://redis\.io/docs/latest/[^)\s]+/)\)")


def entries() -> list[re.Match[str]]:
    lines = GLOSSARY.read_text().splitlines()
    return [found for line in lines if (found := ENTRY.match(line))]


def test_every_entry_links_a_lesson_that_exists_and_a_redis_io_page() -> None:
    titles = dict(LESSONS)
    found = entries()
    assert len(found) >= 30
    for entry in found:
        lessons = list(LESSON_LINK.finditer(entry["meaning"]))
        assert lessons, f"{entry['term']}: no lesson link"
        for link in lessons:
            assert (NOTEBOOKS / link["file"]).exists(), f"{entry['term']}: {link['file']}"
            assert link["stem"] in titles, f"{entry['term']}: {link['stem']} is not a lesson"
            assert link["label"] == f"{link['stem'][:2]} {titles[link['stem']]}", link["label"]
        assert REDIS_LINK.search(entry["meaning"]), f"{entry['term']}: no redis.io link"


def test_entries_are_unique_and_in_order() -> None:
    terms = [entry["term"] for entry in entries()]
    assert len(terms) == len(set(terms))
    assert terms == sorted(terms, key=str.lower)


def test_every_line_of_the_list_is_an_entry() -> None:
    """A list line the pattern does not read would escape the checks above."""
    bullets = [line for line in GLOSSARY.read_text().splitlines() if line.startswith("- ")]
    assert len(bullets) == len(entries())


def test_the_glossary_is_linked_from_the_contents_and_every_lessons_summary() -> None:
    assert "(GLOSSARY.md)" in (NOTEBOOKS / "README.md").read_text()
    for stem, _title in LESSONS:
        cells = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())["cells"]
        summaries = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
                     and "".join(c["source"]).startswith("## Summary")]
        assert summaries, f"{stem} has no '## Summary' cell"
        assert "[glossary](GLOSSARY.md)" in summaries[-1], stem
