"""Logging: one line per event, and a last line of defence that blanks known secrets."""

from __future__ import annotations

import json
import logging
import sys
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """Keeps every event on one line: tracebacks and multi-line messages are folded with ' | '."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, str]:
    """The fields of one event in the machine formats: ts (UTC), level, logger, msg, err."""
    fields = {
        "ts": _utc(record),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    if record.exc_info or record.exc_text:
        fields["err"] = record.exc_text or formatter.formatException(record.exc_info)
    return fields


class LogfmtFormatter(logging.Formatter):
    """`ts=... level=info logger=vigil.rt_api msg="..."`, as Prometheus and its exporters log."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record, self)
        if "err" in fields:  # a traceback folded as the text format folds it
            fields["err"] = fields["err"].replace("\n", " | ")
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


def _utc(record: logging.LogRecord) -> str:
    """RFC 3339 in UTC with milliseconds, as Prometheus logs its own time."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
        f".{int(record.msecs):03d}Z"
    )


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' "=\n\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg (and err for a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record, self), ensure_ascii=False)


LOG_FORMATS = ("text", "logfmt", "json")


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


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Log to stderr at `level` in `fmt`: text (one readable line), logfmt or json."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "logfmt":
        formatter: logging.Formatter = LogfmtFormatter()
    elif fmt == "json":
        formatter = JsonFormatter()
    else:
        formatter = OneLineFormatter(FORMAT)
    handler.setFormatter(formatter)
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
