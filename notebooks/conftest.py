"""nbval, made to check that every figure is still drawn as an image, on the kit's own pieces.

nbval skips ``image/png`` by default, so a plot that regressed to the bare text
``<Figure size 700x320 with 1 Axes>`` (a Figure built without pyplot) would still pass. Here
the PNG stays compared, and ``sanitize.cfg`` replaces its bytes with one placeholder: a cell
that stored an image must produce an image again (as many as before), whatever its pixels.

The lessons' kernels get a ``my_helpdesk.py`` of their own (``HELPDESK_WORKBOOK``, an empty
temporary file's path): a workbook someone left in ``notebooks/`` by solving an exercise there
must not change what the stored lessons print ("the app runs the kit's reference").

A kernel that dies before it answers is started again, up to three times. jupyter_client picks
free TCP ports, closes them and hands them to the kernel; on a machine busy starting other
servers on free ports (this suite's redis-servers, the other notebook pass) one of them can be
taken in between, and the kernel exits with "Address already in use" (jupyter_client#154).
A fresh start picks fresh ports. A kernel that fails three times still fails the notebook.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

os.environ["HELPDESK_WORKBOOK"] = str(Path(tempfile.mkdtemp(prefix="helpdesk-workbook-"))
                                     / "my_helpdesk.py")

try:
    import nbval.kernel
    from nbval.plugin import IPyNbFile
except ImportError:  # nbval is a test tool; without it there is nothing to adjust
    IPyNbFile = None

#: How many times a kernel is started before its notebook fails.
KERNEL_STARTS = 3

if IPyNbFile is not None:
    _start_once = nbval.kernel.start_new_kernel

    def _start_with_fresh_ports(*args: Any, **kwargs: Any) -> Any:
        """nbval's ``start_new_kernel``, tried again on a kernel that died while starting."""
        for _ in range(KERNEL_STARTS - 1):
            try:
                return _start_once(*args, **kwargs)
            except RuntimeError:  # "Kernel died before replying to kernel_info"
                continue
        return _start_once(*args, **kwargs)  # the last try: its error fails the notebook

    nbval.kernel.start_new_kernel = _start_with_fresh_ports


def pytest_collectstart(collector: pytest.Collector) -> None:
    if IPyNbFile is not None and isinstance(collector, IPyNbFile):
        collector.skip_compare = tuple(key for key in collector.skip_compare
                                       if key != "image/png")
