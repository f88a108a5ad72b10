"""Alerting: the pure state machine, maintenance, SLO burn, and the one dispatcher.

`apply` decides (state and result in, new state and events out); the dispatcher claims the
new state in the state store and delivers the events; nothing here builds a client.
"""

from healthwatch.alerting.maintenance import active_window
from healthwatch.alerting.state import apply, attempts_allowed

__all__ = ["active_window", "apply", "attempts_allowed"]
