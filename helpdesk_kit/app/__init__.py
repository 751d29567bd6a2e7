"""The helpdesk itself: the seed's server actions and its three background tasks.

``actions`` holds :class:`HelpdeskApp` (``obtenerTicket``, ``crearTicket``...); ``handlers``
the three task handlers and the :data:`REGISTRY` a queue for this app is built with.
"""

from __future__ import annotations

from .actions import HelpdeskApp
from .handlers import REGISTRY, TaskContext, helpdesk_queue

__all__ = ["REGISTRY", "HelpdeskApp", "TaskContext", "helpdesk_queue"]
