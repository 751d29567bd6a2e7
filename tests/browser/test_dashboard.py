"""The instructor view: ``helpdesk-kit dashboard`` serves lesson 08's widget with Voila.

The dashboard watches the Redis in ``REDIS_URL`` - here a private redis-server the test
starts, standing in for a class's shared Redis. The test writes keys into it, as learners'
lessons would, and the count on the page must follow.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, missing

from helpdesk_kit.backends import RedisServer

from .conftest import start_dashboard

DASHBOARD = ROOT / "notebooks" / "instructor_dashboard.ipynb"
CLASS_KEYS = 25


def _shown(page: Any, label: str) -> Any:
    """The number box above ``label`` on the dashboard (e.g. 'keys (DBSIZE)')."""
    caption = page.locator("div", has_text=re.compile(rf"^{re.escape(label)}$")).last
    return caption.locator("xpath=preceding-sibling::div[1]")


def test_dashboard_shows_the_class_redis_live(page: Any, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import expect

    assert DASHBOARD.exists(), f"{DASHBOARD} is missing (renamed?)"
    if shutil.which("redis-server") is None:
        missing("redis", "install redis-server (apt-get install redis-server)")
    redis_server = RedisServer().start()
    request.addfinalizer(redis_server.stop)
    server = start_dashboard(tmp_path / "home", env={"REDIS_URL": redis_server.url})
    request.addfinalizer(server.stop)
    try:
        page.goto(server.url + "/")
        expect(page.get_by_text("Redis monitor")).to_be_visible()
        # it refreshes by itself: #2 or any later one (a slow page may open after #2)
        expect(page.get_by_text(re.compile(r"Redis monitor .* refresh #([2-9]|\d{2,})"))
               ).to_be_visible()
        expect(page.get_by_text("Verdict", exact=False).first).to_be_visible()  # tuning table
        keys = _shown(page, "keys (DBSIZE)")
        expect(keys).to_have_text("0")

        client = redis_server.client()
        client.mset({f"class:ticket:{i}": "{}" for i in range(CLASS_KEYS)})
        client.close()
        expect(keys).to_have_text(str(CLASS_KEYS))  # the next refresh sees the class's keys
    except Exception:
        server.keep_log("dashboard")
        raise
