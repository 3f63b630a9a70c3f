"""Simulated time: integer microseconds inside, seconds at the edges.

Every time the simulator keeps is an `int` of microseconds, so that sums and
comparisons are exact and a run is the same on every machine.  Scenarios,
profiles and the JSON trace speak seconds.  These helpers are the only place
the two meet; nothing else writes ``1_000_000`` or ``1e6``.
"""

from __future__ import annotations

from typing import overload

#: Microseconds per second.
US = 1_000_000


def us(seconds: float) -> int:
    """Seconds (as a scenario or profile gives them) to integer microseconds."""
    return round(seconds * US)


@overload
def secs(t_us: int) -> float: ...
@overload
def secs(t_us: None) -> None: ...
def secs(t_us: int | None) -> float | None:
    """Integer microseconds to seconds (None stays None)."""
    return None if t_us is None else t_us / US


def fmt_t(t_us: int | None) -> str:
    """A time for tables: seconds with up to six decimals and no trailing zeros ("2.05")."""
    if t_us is None:
        return "-"
    s = f"{t_us / US:.6f}".rstrip("0")
    return s + "0" if s.endswith(".") else s
