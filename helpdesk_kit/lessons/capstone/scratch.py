"""Two identical scratch databases for the task check: one for the learner, one for the kit.

``handle_task`` closes tickets and archives comments for real. The check must not do that to
the lesson's own database (the learner reads it in the cells around), and it must compare the
learner's result with the kit's on the very same rows. So it works on two copies of a small
deterministic sample: built once per kernel, then copied file by file before each run.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from ...config import Settings
from ...db import HelpdeskStore, open_store, private_folder
from ...db.sample import load_sample
from ..lesson import SAMPLE_SEED, Lesson

__all__ = ["twin_stores"]

#: The scratch sample: enough tickets and comments that every task has work to do.
USERS = 30
TICKETS = 300
_SUFFIXES = ("", "-wal", "-shm")

#: The sample built in this kernel, by folder: its database file.
_built: dict[Path, Path] = {}


def _settings(lesson: Lesson, name: str) -> Settings:
    folder = private_folder(lesson.settings.data_dir / "capstone" / name)
    return lesson.settings.with_(data_dir=folder, database_url=None, auth_token=None)


def _pristine(lesson: Lesson) -> Path:
    """The sample's database file, built the first time this kernel asks."""
    settings = _settings(lesson, "pristine")
    path = settings.local_database_path
    if _built.get(path.parent) != path or not path.exists():
        for suffix in _SUFFIXES:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        store = open_store(settings)
        load_sample(store, USERS, TICKETS, SAMPLE_SEED, progress=False)
        store.db.close()
        _built[path.parent] = path
    return path


def _copy(pristine: Path, lesson: Lesson, name: str) -> HelpdeskStore:
    settings = _settings(lesson, name)
    target = settings.local_database_path
    for suffix in _SUFFIXES:
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{pristine}{suffix}").exists():
            shutil.copyfile(f"{pristine}{suffix}", f"{target}{suffix}")
    return open_store(settings)


@contextlib.contextmanager
def twin_stores(lesson: Lesson) -> Iterator[tuple[HelpdeskStore, HelpdeskStore]]:
    """(the learner's, the kit's): two fresh copies of the same sample, closed afterwards."""
    pristine = _pristine(lesson)
    yours = _copy(pristine, lesson, "yours")
    try:
        kits = _copy(pristine, lesson, "kits")
        try:
            yield yours, kits
        finally:
            kits.db.close()
    finally:
        yours.db.close()
