"""`vigil-report --mail-to`: the workbook mailed through a real SMTP server (aiosmtpd).

STARTTLS with a login, TLS from the first byte, a server that refuses for now (retried), one that
refuses for good (not retried), and one that is down (retried, then given up): the subject and
body are in the report's language with the TLDR figures, the workbook is attached byte for byte,
a failed delivery keeps the workbook and says so (exit code 3, or a counted line in the
schedule's log), and the SMTP password never shows.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import signal
import ssl
import sys
from pathlib import Path

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import eventually, free_port
from tests.fixtures import reporter_history as h
from tests.test_reporter import ROOT, history, prom, report_args, run_report  # noqa: F401

SMTP_USER = "reports"
SMTP_PASSWORD = "smtp-9c1e-secret"


class Inbox:
    """An aiosmtpd handler: keeps what it accepts; `answers` refuse the first messages."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.answers = list(answers or [])
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.answers:
            return self.answers.pop(0)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        )
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return h.self_signed_cert(tmp_path_factory.mktemp("smtp-cert"))


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def smtp(handler, **kwargs) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def mail_args(port: int, *extra: str) -> list[str]:
    return ["--mail-to", "boss@example.org, ops@example.org", "--mail-from",
            "vigil@example.org", "--smtp-host", "127.0.0.1", "--smtp-port", str(port),
            *extra]  # fmt: skip


def body_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_starttls_with_login_delivers_the_workbook_and_its_figures(prom, certificate, tmp_path):  # noqa: F811
    password = tmp_path / "smtp-password"
    password.write_text(SMTP_PASSWORD + "\n")
    inbox = Inbox()
    server = smtp(
        inbox,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    try:
        path = tmp_path / "report.xlsx"
        result = run_report(
            *report_args(prom.url, path),
            *mail_args(server.port, "--smtp-user", SMTP_USER, "--smtp-password-file",
                       str(password), "--smtp-ca-file", str(certificate[0])),
        )  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert SMTP_PASSWORD not in result.stdout + result.stderr
    assert len(inbox.messages) == 1
    assert inbox.envelopes == [("vigil@example.org", ["boss@example.org", "ops@example.org"])]
    msg = inbox.messages[0]
    assert msg["Subject"] == "Camera archive quality, 2026-10-22 – 2026-10-28"
    attachment = next(msg.iter_attachments())
    assert attachment.get_filename() == "report.xlsx"
    assert attachment.get_content() == path.read_bytes(), "the workbook, byte for byte"
    # the body repeats TLDR's figures
    tldr = {row[1]: row[2] for row in openpyxl.load_workbook(path)["TLDR"].iter_rows(
        values_only=True) if row[1] is not None}  # fmt: skip
    body = body_of(msg)
    assert f"Cameras: {tldr['Cameras']} (online {tldr['Online']}, offline {tldr['Offline']}, " \
        f"status unknown {tldr['Status unknown']})" in body  # fmt: skip
    assert f"Average coverage: {tldr['Average coverage'] * 100:.1f} %" in body
    assert f"With problems: {tldr['With problems (sheet Problems)']} (sheet Problems)" in body
    assert "Coverage ≥ 90 %: 6" in body and "No data: 1" in body
    assert "The workbook is attached: report.xlsx" in body


def test_tls_from_the_start_in_russian(prom, certificate, tmp_path):  # noqa: F811
    inbox = Inbox()
    server = smtp(inbox, ssl_context=server_context(certificate))
    try:
        path = tmp_path / "отчёт.xlsx"
        result = run_report(
            *report_args(prom.url, path, "--lang", "ru"),
            *mail_args(server.port, "--smtp-security", "tls", "--smtp-ca-file",
                       str(certificate[0])),
        )  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    msg = inbox.messages[0]
    assert msg["Subject"] == "Качество архива камер, 22.10.2026 – 28.10.2026"
    body = body_of(msg)
    assert "Камер: 13 (онлайн 10, офлайн 2, статус неизвестен 1)" in body
    assert "Среднее покрытие: " in body and "С проблемами: 7 (лист «Проблемы»)" in body
    assert next(msg.iter_attachments()).get_filename() == "отчёт.xlsx"


def test_a_temporary_refusal_is_retried(prom, tmp_path):  # noqa: F811
    inbox = Inbox(["451 4.3.0 try again later"])
    server = smtp(inbox)
    try:
        result = run_report(
            *report_args(prom.url, tmp_path / "r.xlsx"),
            *mail_args(server.port, "--smtp-security", "none", "--mail-retry-delay", "0.2"),
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert inbox.attempts == 2 and len(inbox.messages) == 1
    assert "failed (attempt 1 of 3): 451 4.3.0 try again later; trying again in 0.2 s" in (
        result.stderr
    )


def test_a_permanent_refusal_keeps_the_workbook_and_exits_3(prom, tmp_path):  # noqa: F811
    inbox = Inbox(["550 5.7.1 relaying denied"] * 3)
    server = smtp(inbox)
    try:
        path = tmp_path / "r.xlsx"
        result = run_report(
            *report_args(prom.url, path),
            *mail_args(server.port, "--smtp-security", "none", "--mail-retry-delay", "0.2"),
        )
    finally:
        server.stop()
    assert result.returncode == 3, result.stderr
    assert inbox.attempts == 1, "a 5xx answer is not retried"
    assert "refused the report: 550 5.7.1 relaying denied" in result.stderr
    assert f"the workbook is kept at {path}" in result.stderr
    assert openpyxl.load_workbook(path).sheetnames[0] == "TLDR"
    assert result.stdout.strip() == str(path)


def test_a_server_that_is_down_is_retried_then_given_up(prom, tmp_path):  # noqa: F811
    password = tmp_path / "smtp-password"
    password.write_text(SMTP_PASSWORD)
    path = tmp_path / "r.xlsx"
    port = free_port()  # nothing listens there
    result = run_report(
        *report_args(prom.url, path),
        *mail_args(port, "--smtp-user", SMTP_USER, "--smtp-password-file", str(password),
                   "--mail-attempts", "3", "--mail-retry-delay", "0.1"),
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("connection refused; trying again") == 2
    assert "trying again in 0.1 s" in result.stderr and "trying again in 0.2 s" in result.stderr
    assert f"mail to 127.0.0.1:{port} failed 3 times, last: connection refused" in result.stderr
    assert path.exists()
    assert SMTP_PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--smtp-host", "127.0.0.1"], "--smtp-host without --mail-to"),
        (["--mail-to", "boss"], "not a mail address: 'boss'"),
        (["--mail-to", "boss@example.org"], "--mail-to needs --smtp-host"),
        (
            ["--mail-to", "a@b.c", "--smtp-host", "h", "--smtp-user", "u"],
            "--smtp-user needs --smtp-password-file",
        ),
    ],
)
def test_bad_mail_options_exit_2(args, message, tmp_path):
    base = ["--prometheus", f"http://127.0.0.1:{free_port()}", "-o", str(tmp_path / "r.xlsx")]
    result = run_report(*base, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


async def test_the_schedule_counts_failed_deliveries_and_keeps_the_workbooks(prom, tmp_path):  # noqa: F811
    out = tmp_path / "reports"
    out.mkdir()
    log_path = tmp_path / "schedule.log"
    inbox = Inbox(["550 5.7.1 mailbox unavailable"] * 100)
    server = smtp(inbox)
    try:
        with open(log_path, "wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "reporter", "schedule", "--prometheus", prom.url,
                "--days", "7", "--tz", "Europe/Berlin", "--at", "2026-10-29T07:00",
                "--cron", "*/2 * * * * *", "--out-dir", str(out), "--keep", "5",
                *mail_args(server.port, "--smtp-security", "none"),
                cwd=ROOT, stdout=log, stderr=log,
            )  # fmt: skip
        try:
            await eventually(
                lambda: "deliveries since start: 0 sent, 2 failed" in log_path.read_text(),
                timeout=60,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    finally:
        server.stop()
    text = log_path.read_text()
    assert proc.returncode == 0, text
    assert "report not delivered: mail server 127.0.0.1" in text
    assert "(deliveries since start: 0 sent, 1 failed)" in text
    kept = sorted(p for p in out.iterdir() if p.suffix == ".xlsx")
    assert len(kept) >= 2 and all(f"is kept at {p}" in text for p in kept[:2])


def test_mail_delivery_is_documented():
    doc = (Path(ROOT) / "docs" / "reporter.md").read_text()
    for option in ("--mail-to", "--smtp-security", "--smtp-password-file", "--mail-attempts"):
        assert option in doc
