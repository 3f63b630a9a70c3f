"""The sans-I/O endpoint, under its old module name.

It now lives in four modules: `tcb` (what every TCB shares, and `_fire`,
the only place state changes), `connection`, `listener` and `host`, with
loss recovery in `recovery` and the output records in `records`.
"""

from .connection import Connection
from .host import Host
from .listener import Listener
from .profile import Clock
from .tcb import QUIET, ClosedPort, Tcb
from .units import US, us

__all__ = ["QUIET", "US", "Clock", "ClosedPort", "Connection", "Host", "Listener", "Tcb", "us"]
