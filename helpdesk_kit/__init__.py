"""helpdesk-kit: the seed's Redis cache and task queue in front of libSQL, made runnable.

Data flows one way: notebooks -> widgets -> app -> (cache, queue) -> (redis_backend, db).
"""

from __future__ import annotations

from .config import Settings

__all__ = ["Settings", "__version__"]
__version__ = "0.1.0"
