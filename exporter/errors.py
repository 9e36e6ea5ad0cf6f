"""Why a check failed: the one exception every source raises, and the reasons shared by HTTP sources.

Lives apart from the scheduler so that sources, the HTTP client and the CLI can raise and catch it
without importing the machinery that runs checks.
"""

from __future__ import annotations

# reasons of any check that talks HTTP/JSON (the RT API); other sources add their own
HTTP_REASONS = ("timeout", "http_5xx", "http_4xx", "rate_limited", "bad_payload", "connection")
INTERNAL = "internal"  # a check crashed: a bug, logged with its traceback


class CheckFailed(Exception):
    """A check failed for a machine-readable `reason`; the message names hosts, never secrets.

    `counted` is True when the failure was already added to `vigil_probe_errors_total` where it
    happened (e.g. by the HTTP client, which counts every attempt); the recorder counts the rest.
    """

    def __init__(
        self, reason: str, message: str, *, counted: bool = False, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.counted = counted
        self.status = status  # the HTTP status of an answer that failed on it, if any

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {str(self)!r})"


class TargetFailed(CheckFailed):
    """The check ran, but what it checks failed (a platform's API, one camera): the source is fine.

    The scheduler records it as `target_failed`: counted, visible on the status page, and
    `vigil_source_up` stays as it is.
    """

    def __init__(self, reason: str, message: str, *, target: str) -> None:
        super().__init__(reason, message)
        self.target = target
