"""Mailing the workbook: SMTP with STARTTLS or TLS, retried, never logging a secret.

The message is in the report's language: the subject names the period, the body gives the TLDR
figures, the workbook is attached. A delivery that fails for a reason that may pass (the server
is down or unreachable, a 4xx answer, a dropped connection) is tried again after `retry_delay`,
doubling each time, `attempts` times in all; a permanent refusal (5xx: recipient, sender or
authentication refused) is not retried. Either way the workbook stays where it was written.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from reporter.i18n import MAIL, TEXT

log = logging.getLogger("vigil.report.mail")

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
SECURITY = ("starttls", "tls", "none")
DEFAULT_PORT = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class MailSettings:
    to: tuple[str, ...]
    sender: str
    host: str
    port: int
    security: str  # one of SECURITY
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = None
    timeout: float = 60.0
    attempts: int = 3
    retry_delay: float = 60.0


@dataclass(frozen=True)
class Headline:
    """The TLDR figures a mail body repeats (views.headline makes it)."""

    first: str  # dates in the report's language
    last: str
    days: int
    tz: str
    days_with_data: int
    cameras: int
    online: int
    offline: int
    unknown: int
    avg_coverage: float  # NaN: no camera with data
    coverage_change: float  # percentage points against the previous period; NaN: none
    bands: dict[str, int]
    problems: int


class DeliveryFailed(Exception):
    """The workbook was not delivered; the message says why (no secret in it)."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


def _number(value: float, lang: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", TEXT[lang]["decimal"])


def compose(settings: MailSettings, workbook: Path, head: Headline, lang: str) -> EmailMessage:
    """The message: subject and body in the report's language, the workbook attached."""
    m = MAIL[lang]
    period = f"{head.first} – {head.last}"
    lines = [
        m["intro"].format(period=period, days=head.days, tz=head.tz),
        "",
        m["cameras"].format(
            cameras=head.cameras, online=head.online, offline=head.offline, unknown=head.unknown
        ),
    ]
    if head.avg_coverage == head.avg_coverage:
        line = m["coverage"].format(value=_number(head.avg_coverage * 100, lang))
        if head.days_with_data < head.days:
            line += " " + m["days_with_data"].format(have=head.days_with_data, total=head.days)
        if head.coverage_change == head.coverage_change:
            sign = "+" if head.coverage_change > 0 else "−" if head.coverage_change < 0 else "±"
            change = sign + _number(abs(head.coverage_change), lang)
            line += " " + m["change"].format(value=change)
        lines.append(line)
    else:
        lines.append(m["no_coverage"])
    bands = TEXT[lang]
    lines.append(
        " · ".join(f"{bands[f'col_band_{b}']}: {count}" for b, count in head.bands.items())
    )
    lines.append(m["problems"].format(problems=head.problems))
    lines += ["", m["attached"].format(name=workbook.name), "", m["signature"]]
    msg = EmailMessage()
    msg["Subject"] = m["subject"].format(period=period)
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    msg.set_content("\n".join(lines))
    msg.add_attachment(
        workbook.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=workbook.name
    )
    return msg


def _permanent(exc: BaseException) -> bool:
    """A refusal that trying again will not change (5xx), as opposed to 4xx or a lost server."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPNotSupportedError)


def _reason(exc: BaseException) -> str:
    """What went wrong, in words that hold no secret (SMTP answers are the server's text)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + "; ".join(
            f"{rcpt} ({code} {_text(answer)})" for rcpt, (code, answer) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def _send_once(settings: MailSettings, msg: EmailMessage) -> None:
    context = settings.ssl_context or ssl.create_default_context()
    if settings.security == "tls":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with server:
        server.ehlo()
        if settings.security == "starttls":
            server.starttls(context=context)
            server.ehlo()
        if settings.user:
            server.login(settings.user, settings.password or "")
        server.send_message(msg)


def send(settings: MailSettings, msg: EmailMessage, stop: threading.Event | None = None) -> int:
    """Deliver `msg`; returns the attempts it took. Raises DeliveryFailed after the last failed
    attempt, at a permanent refusal, or when `stop` is set while waiting to try again."""
    where = f"{settings.host}:{settings.port}"
    delay = settings.retry_delay
    for attempt in range(1, settings.attempts + 1):
        try:
            _send_once(settings, msg)
        except (smtplib.SMTPException, OSError) as exc:
            reason = _reason(exc)
            if _permanent(exc):
                raise DeliveryFailed(
                    f"mail server {where} refused the report: {reason}", attempt
                ) from None
            if attempt == settings.attempts:
                raise DeliveryFailed(
                    f"mail to {where} failed {attempt} times, last: {reason}", attempt
                ) from None
            log.warning(
                "mail to %s failed (attempt %d of %d): %s; trying again in %g s",
                where,
                attempt,
                settings.attempts,
                reason,
                delay,
            )
            if stop is not None and stop.wait(delay):
                raise DeliveryFailed(f"mail to {where} abandoned at shutdown", attempt) from None
            if stop is None:
                threading.Event().wait(delay)
            delay *= 2
        else:
            return attempt
    raise AssertionError("unreachable")  # the loop returns or raises
