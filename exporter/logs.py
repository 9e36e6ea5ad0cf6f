"""Logging: one line per event, and a last line of defence that blanks known secrets."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """Keeps every event on one line: tracebacks and multi-line messages are folded with ' | '."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


class RedactSecrets(logging.Filter):
    """Replaces any registered secret value in a record's final message with ***."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            redacted = message
            exc_text = record.exc_text or ""
            for secret in self.secrets:
                redacted = redacted.replace(secret, "***")
                exc_text = exc_text.replace(secret, "***")
            if redacted != message:
                record.msg, record.args = redacted, None
            if record.exc_text:
                record.exc_text = exc_text
        return True


_redactor = RedactSecrets()


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(FORMAT))
    handler.addFilter(_redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log repeats every scrape; keep it for debugging only
    logging.getLogger("aiohttp.access").setLevel(
        logging.DEBUG if level.lower() == "debug" else logging.WARNING
    )


def register_secret(value: str) -> None:
    if value and len(value) >= 4:
        _redactor.secrets.add(value)
