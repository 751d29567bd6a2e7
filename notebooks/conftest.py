"""nbval, made to check that every figure is still drawn as an image.

nbval skips ``image/png`` by default, so a plot that regressed to the bare text
``<Figure size 700x320 with 1 Axes>`` (a Figure built without pyplot) would still pass. Here
the PNG stays compared, and ``sanitize.cfg`` replaces its bytes with one placeholder: a cell
that stored an image must produce an image again (as many as before), whatever its pixels.
"""

from __future__ import annotations

import pytest

try:
    from nbval.plugin import IPyNbFile
except ImportError:  # nbval is a test tool; without it there is nothing to adjust
    IPyNbFile = None


def pytest_collectstart(collector: pytest.Collector) -> None:
    if IPyNbFile is not None and isinstance(collector, IPyNbFile):
        collector.skip_compare = tuple(key for key in collector.skip_compare
                                       if key != "image/png")
