"""URL redaction for everything the frame sources log or put in error messages.

There is one implementation, `exporter.targets.redact_url`; this module only
re-exports it so the frame code has a short, obvious import: ``rtsp://user:pass@cam/x`` becomes
``rtsp://***@cam/x`` and secret-looking query values become ``***``.
"""

from exporter.targets import REDACTED, redact_url

__all__ = ["REDACTED", "redact_url"]
