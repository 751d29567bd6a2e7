"""``python -m helpdesk_kit.cli`` is the ``helpdesk-kit`` command too."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
