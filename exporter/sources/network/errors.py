"""The one exception the network probes raise: a failed probe with a machine-readable reason."""

from __future__ import annotations

import errno

REASONS = (
    "timeout",
    "refused",
    "unreachable",
    "dns",
    "icmp_not_permitted",
    "rtsp_no_answer",
    "rtsp_bad_answer",
    "connection",
)

# the prober itself cannot work (the system refuses ICMP sockets): a source problem, not a camera's
SOURCE_REASONS = frozenset({"icmp_not_permitted"})

UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL})


class ProbeFailed(Exception):
    """A probe failed for `reason` (one of REASONS); the message names host/port only, never secrets."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __repr__(self) -> str:
        return f"ProbeFailed({self.reason!r}, {str(self)!r})"


def reason_for_oserror(exc: OSError) -> str:
    """The probe reason for a socket-level error."""
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return "refused"
    if exc.errno in UNREACHABLE_ERRNOS:
        return "unreachable"
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return "timeout"
    return "connection"
