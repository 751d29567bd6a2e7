"""``python -m bench.peers --install``: make the peers' own venvs (see bench/peers/venvs.py)."""

from __future__ import annotations

import sys

from bench.peers.venvs import install_all

if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        raise SystemExit("usage: python -m bench.peers --install")
    raise SystemExit(install_all())
