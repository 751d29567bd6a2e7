"""The README's Python example runs as written (on fakeredis and a fresh local database), and
its first paragraph counts the lessons there are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README shows the public API in a ```python block"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HELPDESK_DATA_DIR": str(tmp_path),
           "HELPDESK_REDIS_BACKEND": "fake"}
    for code in blocks:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "success" in done.stdout  # the example prints an action's result


def test_the_readme_counts_the_lessons_there_are() -> None:
    from helpdesk_kit.lessons.navigation import LESSONS

    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
             "seventeen", "eighteen", "nineteen", "twenty", "twenty-one", "twenty-two"]
    opening = README.read_text().split("```")[0]
    assert f"{words[len(LESSONS)]} Jupyter lessons (00 to {LESSONS[-1][0][:2]})" in opening
