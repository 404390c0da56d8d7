"""Operating concerns in one place: metrics, health and logs a machine reads.

Features count through :class:`Metrics` (``bot.metrics``) and never import prometheus-client;
:class:`OperatingServer` serves ``/metrics``, ``/livez`` and ``/readyz`` on METRICS_PORT.
"""

from bot.observability.health import OperatingServer
from bot.observability.metrics import Metrics, Snapshot, metrics_of

__all__ = ["Metrics", "OperatingServer", "Snapshot", "metrics_of"]
