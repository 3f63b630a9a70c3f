"""Explain a real capture: pcap or pcapng in, each connection's trace, states, verdict and model out.

    from tcpsim.capture import explain, summarise, sample
    result = explain(sample("lost-fin"))          # a dict: JSON-able, SVGs as text
    result["connection"]["conn_state"]             # "SF" (Zeek's word)

The layer sits beside the book: it imports `tcpsim.core` (the trace, the
simulator, the table) and `tcpsim.render` (the ladder and the state
diagram), and dpkt (only when a capture is read).  It works on bytes in
memory as well as on files, so a web page can run it under Pyodide.
"""

from __future__ import annotations

from importlib import resources

from .errors import CaptureError, CaptureFileError, NoConnection
from .explain import explain, explain_bytes, summarise, table, trace_of

#: the shipped sample captures (recorded on Linux 6.18; tests/data/captures/README.md says how)
SAMPLES = ("plain", "lost-synack", "lost-fin", "rst", "refused", "simultaneous-close", "time-wait-reuse")


def sample(name: str) -> bytes:
    """The bytes of a shipped sample capture (one of `SAMPLES`)."""
    if name not in SAMPLES:
        raise NoConnection(f"no sample {name!r}; samples: {', '.join(SAMPLES)}")
    return resources.files(__name__).joinpath("samples", f"{name}.pcap").read_bytes()


__all__ = ["SAMPLES", "CaptureError", "CaptureFileError", "NoConnection", "explain", "explain_bytes", "sample",
           "summarise", "table", "trace_of"]
