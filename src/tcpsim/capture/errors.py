"""The capture explainer's errors: each a one-line message, each a `TcpSimError`."""

from ..core.errors import TcpSimError


class CaptureError(TcpSimError):
    """Something about a capture the explainer cannot do (base class)."""


class CaptureFileError(CaptureError):
    """A file that is not a readable pcap or pcapng capture."""


class NoConnection(CaptureError):
    """A capture without the TCP connection asked for (none at all, or no such number)."""
