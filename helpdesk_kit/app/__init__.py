"""The helpdesk itself: the design's server actions, its three background tasks, and what the
design's "next steps" add around them.

``actions`` holds :class:`HelpdeskApp` (``obtenerTicket``, ``crearTicket``...); ``handlers``
the three task handlers and the :data:`REGISTRY` a queue for this app is built with;
``listen`` the subscriber of the notifications channel (Pub/Sub); ``ratelimit`` the Lua
limiter of ticket creation; ``events`` the ticket event log on a stream, and ``readmodel``
the open-tickets-per-priority count a consumer group keeps from it.
"""

from __future__ import annotations

from .actions import HelpdeskApp
from .events import EventLog
from .handlers import REGISTRY, TaskContext, helpdesk_queue
from .listen import Listener, Notification
from .ratelimit import RateLimiter
from .readmodel import OpenByPriority

__all__ = ["REGISTRY", "EventLog", "HelpdeskApp", "Listener", "Notification", "OpenByPriority",
           "RateLimiter", "TaskContext", "helpdesk_queue"]
