"""nbval, made to check that every figure is still drawn as an image, on the kit's own pieces.

nbval skips ``image/png`` by default, so a plot that regressed to the bare text
``<Figure size 700x320 with 1 Axes>`` (a Figure built without pyplot) would still pass. Here
the PNG stays compared, and ``sanitize.cfg`` replaces its bytes with one placeholder: a cell
that stored an image must produce an image again (as many as before), whatever its pixels.

The lessons' kernels get a ``my_helpdesk.py`` of their own (``HELPDESK_WORKBOOK``, an empty
temporary file's path): a workbook someone left in ``notebooks/`` by solving an exercise there
must not change what the stored lessons print ("the app runs the kit's reference").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["HELPDESK_WORKBOOK"] = str(Path(tempfile.mkdtemp(prefix="helpdesk-workbook-"))
                                     / "my_helpdesk.py")

try:
    from nbval.plugin import IPyNbFile
except ImportError:  # nbval is a test tool; without it there is nothing to adjust
    IPyNbFile = None


def pytest_collectstart(collector: pytest.Collector) -> None:
    if IPyNbFile is not None and isinstance(collector, IPyNbFile):
        collector.skip_compare = tuple(key for key in collector.skip_compare
                                       if key != "image/png")
