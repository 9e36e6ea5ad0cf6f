"""`vigil-report`: the archive-quality workbook from Prometheus, once or on a schedule.

    vigil-report --prometheus URL [--days 30] [--tz Europe/Moscow] [--lang en|ru] [-o FILE.xlsx]
    vigil-report schedule --prometheus URL --cron "0 7 * * *" --out-dir DIR [--keep 30]

Exit codes: 0 written (and mailed, with --mail-to); 1 Prometheus unreachable, a query failed or it
holds no data (nothing is left behind); 2 bad usage or configuration; 3 written but not delivered
by mail (the workbook is kept); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exporter import __version__
from reporter.mail import Headline, MailSettings

log = logging.getLogger("vigil.report")

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNDELIVERED = 3
EXIT_INTERRUPTED = 130
NAME_FORMAT = "report_%Y-%m-%d_%H%M%S.xlsx"
NAME_PATTERN = re.compile(r"report_\d{4}-\d{2}-\d{2}_\d{6}\.xlsx")


class UsageError(Exception):
    """A bad option or configuration; the message names it."""


class Interrupted(BaseException):
    """SIGTERM, turned into an exception so that cleanup runs as for Ctrl-C."""


@dataclass(frozen=True)
class Options:
    prometheus: str
    days: int
    tz: ZoneInfo
    lang: str
    at: float | None
    user: str | None
    password: str | None = field(repr=False)
    bearer_token: str | None = field(repr=False)
    insecure: bool
    ssl_context: ssl.SSLContext | bool
    timeout: float
    concurrency: int
    row_limit: int
    progress: bool
    mail: MailSettings | None = None


# -- options -------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _days(text: str) -> int:
    value = _positive_int(text)
    if value > 400:
        raise argparse.ArgumentTypeError("at most 400 days")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    from reporter.i18n import LANGUAGES

    p = parser.add_argument_group("Prometheus and period")
    p.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus base URL")
    p.add_argument(
        "--days",
        type=_days,
        default=30,
        help="whole calendar days before today to report on (7, 30 or 90; default 30)",
    )
    p.add_argument(
        "--tz", default="Europe/Moscow", help="time zone of the calendar days (default %(default)s)"
    )
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="workbook language")
    p.add_argument(
        "--at",
        metavar="TIME",
        help="build the report as it would have been at TIME (ISO 8601, local to --tz unless "
        "it has an offset, or unix seconds); default: now",
    )
    p.add_argument(
        "--timeout", type=_seconds, default=300.0, help="seconds per query (default 300)"
    )
    p.add_argument(
        "--concurrency", type=_positive_int, default=2, help="queries in flight (default 2)"
    )
    a = parser.add_argument_group("authentication and TLS")
    a.add_argument("--user", help="basic-auth user")
    a.add_argument("--password-file", metavar="FILE", help="file holding the basic-auth password")
    a.add_argument("--bearer-token-file", metavar="FILE", help="file holding a bearer token")
    a.add_argument("--ca-file", metavar="FILE", help="CA bundle to verify Prometheus' certificate")
    a.add_argument(
        "--insecure", action="store_true", help="do not verify the TLS certificate (warned)"
    )
    m = parser.add_argument_group("mail the workbook (SMTP)")
    m.add_argument(
        "--mail-to",
        action="append",
        metavar="ADDRESS",
        help="mail the workbook to ADDRESS (repeat for more, or separate with commas)",
    )
    m.add_argument("--mail-from", metavar="ADDRESS", help="sender (default vigil-report@HOST)")
    m.add_argument("--smtp-host", metavar="HOST", help="SMTP server (required with --mail-to)")
    m.add_argument(
        "--smtp-port", type=_positive_int, help="default 587 (starttls), 465 (tls) or 25 (none)"
    )
    m.add_argument(
        "--smtp-security",
        choices=("starttls", "tls", "none"),
        default="starttls",
        help="STARTTLS on a plain connection (default), TLS from the start, or none",
    )
    m.add_argument("--smtp-user", metavar="USER", help="SMTP login")
    m.add_argument("--smtp-password-file", metavar="FILE", help="file holding the SMTP password")
    m.add_argument(
        "--smtp-ca-file", metavar="FILE", help="CA bundle to verify the SMTP server's certificate"
    )
    m.add_argument(
        "--mail-attempts",
        type=_positive_int,
        default=3,
        help="tries per delivery before it counts as failed (default 3)",
    )
    m.add_argument(
        "--mail-retry-delay",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="wait before the second try, doubled for each further one (default 60)",
    )
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
    # Excel's limit; lower only to see the Daily sheet split without a million rows
    parser.add_argument("--row-limit", type=_positive_int, default=None, help=argparse.SUPPRESS)


def build_parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    once = argparse.ArgumentParser(
        prog="vigil-report",
        description="Build the camera archive-quality workbook (.xlsx) from Prometheus. "
        "`vigil-report schedule --help` runs it on a schedule.",
    )
    _common(once)
    once.add_argument("--version", action="version", version=f"vigil-report {__version__}")
    once.add_argument(
        "-o",
        "--output",
        metavar="FILE.xlsx",
        help="where to write (default: report_YYYY-MM-DD_HHMMSS.xlsx in the current directory)",
    )
    sched = argparse.ArgumentParser(
        prog="vigil-report schedule",
        description="Build the workbook on a cron schedule into a directory, keeping the newest.",
    )
    _common(sched)
    sched.add_argument(
        "--cron",
        required=True,
        help='crontab expression in --tz, e.g. "0 7 * * *" (6 fields: seconds first)',
    )
    sched.add_argument("--out-dir", required=True, metavar="DIR")
    sched.add_argument(
        "--keep",
        type=_positive_int,
        default=30,
        help="report files to keep in DIR (default 30); other files are never touched",
    )
    sched.add_argument(
        "--misfire-grace",
        type=_positive_int,
        default=3600,
        metavar="SECONDS",
        help="a run missed by at most this long (e.g. the machine slept) still runs (default 3600)",
    )
    return once, sched


def _read_secret(path: str, what: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not value:
        raise UsageError(f"the {what} file {path} is empty")
    return value


def _parse_at(text: str, tz: ZoneInfo) -> float:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at: expected ISO 8601 or unix seconds, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def make_options(args: argparse.Namespace) -> Options:
    from exporter.logs import register_secret
    from reporter.prom import split_url, tls_context
    from reporter.workbook import EXCEL_ROWS

    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz: unknown time zone {args.tz!r}") from None
    try:
        _, url_user, url_password = split_url(args.prometheus)
    except ValueError as exc:
        raise UsageError(f"--prometheus: {exc}") from None
    if url_password:
        register_secret(url_password)
    if args.bearer_token_file and (args.user or args.password_file or url_user):
        raise UsageError("use either basic auth (--user/--password-file) or --bearer-token-file")
    if args.password_file and not (args.user or url_user):
        raise UsageError("--password-file needs --user")
    password = _read_secret(args.password_file, "password") if args.password_file else None
    token = _read_secret(args.bearer_token_file, "token") if args.bearer_token_file else None
    for secret in (password, token):
        if secret:
            register_secret(secret)
    if args.ca_file and args.insecure:
        raise UsageError("--ca-file and --insecure contradict each other")
    try:
        ssl_context = tls_context(args.ca_file, args.insecure)
    except OSError as exc:  # ssl.SSLError included: not a PEM bundle
        raise UsageError(f"--ca-file {args.ca_file}: {exc.strerror or exc}") from None
    return Options(
        mail=_mail_settings(args),
        prometheus=args.prometheus,
        days=args.days,
        tz=tz,
        lang=args.lang,
        at=_parse_at(args.at, tz) if args.at else None,
        user=args.user,
        password=password,
        bearer_token=token,
        insecure=args.insecure,
        ssl_context=ssl_context,
        timeout=args.timeout,
        concurrency=args.concurrency,
        row_limit=args.row_limit or EXCEL_ROWS,
        progress=sys.stderr.isatty(),
    )


def _mail_settings(args: argparse.Namespace) -> MailSettings | None:
    import socket

    from exporter.logs import register_secret
    from reporter.mail import DEFAULT_PORT

    smtp_given = [
        f"--{name.replace('_', '-')}"
        for name in ("smtp_host", "smtp_user", "smtp_password_file", "smtp_ca_file", "mail_from")
        if getattr(args, name)
    ]
    if not args.mail_to:
        if smtp_given:
            raise UsageError(f"{', '.join(smtp_given)} without --mail-to")
        return None
    to = tuple(a.strip() for value in args.mail_to for a in value.split(",") if a.strip())
    for address in to:
        if not re.fullmatch(r"[^@\s,<>]+@[^@\s,<>]+", address):
            raise UsageError(f"--mail-to: not a mail address: {address!r}")
    if not args.smtp_host:
        raise UsageError("--mail-to needs --smtp-host")
    if args.smtp_password_file and not args.smtp_user:
        raise UsageError("--smtp-password-file needs --smtp-user")
    if args.smtp_user and not args.smtp_password_file:
        raise UsageError("--smtp-user needs --smtp-password-file")
    if args.smtp_user and args.smtp_security == "none":
        raise UsageError("refusing to send the SMTP password unencrypted (--smtp-security none)")
    password = None
    if args.smtp_password_file:
        password = _read_secret(args.smtp_password_file, "SMTP password")
        register_secret(password)
    context = None
    if args.smtp_ca_file:
        try:
            context = ssl.create_default_context(cafile=args.smtp_ca_file)
        except OSError as exc:
            raise UsageError(f"--smtp-ca-file {args.smtp_ca_file}: {exc.strerror or exc}") from None
    return MailSettings(
        to=to,
        sender=args.mail_from or f"vigil-report@{socket.getfqdn()}",
        host=args.smtp_host,
        port=args.smtp_port or DEFAULT_PORT[args.smtp_security],
        security=args.smtp_security,
        user=args.smtp_user,
        password=password,
        ssl_context=context,
        timeout=min(args.timeout, 60.0),
        attempts=args.mail_attempts,
        retry_delay=args.mail_retry_delay,
    )


# -- one report ----------------------------------------------------------------------------------


class _Progress:
    """A tqdm bar on a terminal, otherwise a log line at every tenth of the way."""

    def __init__(self, enabled: bool, what: str, unit: str) -> None:
        self.enabled = enabled
        self.what = what
        self.unit = unit
        self.bar = None
        self.logged = -1

    def __call__(self, done: int, total: int) -> None:
        if self.enabled:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=self.what, unit=self.unit, file=sys.stderr)
            self.bar.total = total
            self.bar.update(done - self.bar.n)
            return
        tenth = done * 10 // max(total, 1)
        if tenth > self.logged:
            self.logged = tenth
            log.info("%s: %d/%d %s", self.what, done, total, self.unit)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


async def _fetch(opts: Options, days, as_of: float, stop: threading.Event | None):
    from reporter.prom import Auth, Prometheus
    from reporter.workbook import Stopped

    auth = Auth(user=opts.user, password=opts.password, bearer_token=opts.bearer_token)
    progress = _Progress(opts.progress, "querying Prometheus", "queries")
    try:
        async with Prometheus(
            opts.prometheus,
            auth=auth,
            ssl_context=opts.ssl_context,
            timeout=opts.timeout,
            concurrency=opts.concurrency,
        ) as prom:
            task = asyncio.ensure_future(_both_periods(prom, opts, days, as_of, progress))
            while not task.done():
                await asyncio.wait({task}, timeout=0.2)
                if stop is not None and stop.is_set() and not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    raise Stopped()
            data, previous = task.result()
            return data, previous, prom.requests
    finally:
        progress.close()


async def _both_periods(prom, opts: Options, days, as_of: float, progress):
    """This period's figures, then the previous period's (same number of days just before) for
    the changes; None when Prometheus holds nothing for it (say, history shorter than that)."""
    from reporter.data import EmptyReport, fetch_report
    from reporter.period import previous_days

    data = await fetch_report(prom, days, as_of, progress)
    before, before_as_of = previous_days(days, opts.tz)
    try:
        previous = await fetch_report(prom, before, before_as_of)
    except EmptyReport:
        log.info("no figures for the previous period %s .. %s", before[0].date, before[-1].date)
        previous = None
    return data, previous


def make_report(opts: Options, output: Path, stop: threading.Event | None = None) -> Headline:
    """Query Prometheus and write the workbook to `output`, atomically; returns the TLDR
    figures (for the mail).

    Raises PrometheusError, EmptyReport, UsageError, OSError or Stopped; nothing is left behind
    on any failure (Ctrl-C included).
    """
    from reporter import views
    from reporter.figures import compute
    from reporter.period import report_days
    from reporter.prom import safe_url
    from reporter.workbook import write_workbook

    started = time.monotonic()
    as_of = opts.at if opts.at is not None else time.time()
    days = report_days(as_of, opts.tz, opts.days)
    if opts.insecure:
        log.warning("TLS certificate verification is off (--insecure)")
    log.info(
        "querying %s for %s .. %s (%d days, %s)",
        safe_url(opts.prometheus),
        days[0].date,
        days[-1].date,
        len(days),
        opts.tz.key,
    )
    data, previous, requests = asyncio.run(_fetch(opts, days, as_of, stop))
    queried = time.monotonic()
    fig = compute(data)
    prev = views.compare(data, previous, compute(previous)) if previous is not None else None
    log.info(
        "%d cameras, %d camera-days with data, %d queries in %.1f s; writing %s",
        len(data.uids),
        int(fig.has_data.sum()),
        requests,
        queried - started,
        output,
    )
    tmp = output.with_name(f".{output.name}.partial-{os.getpid()}")
    progress = _Progress(opts.progress, "writing workbook", "rows")
    try:
        write_workbook(
            str(tmp),
            data,
            fig,
            lang=opts.lang,
            tz=opts.tz,
            source=safe_url(opts.prometheus),
            row_limit=opts.row_limit,
            progress=progress,
            stop=stop,
            prev=prev,
        )
        os.replace(tmp, output)
    finally:
        progress.close()
        tmp.unlink(missing_ok=True)
    log.info(
        "wrote %s: %d cameras, %d days, %.1f s in all",
        output,
        len(data.uids),
        len(days),
        time.monotonic() - started,
    )
    return views.headline(data, fig, prev, opts.lang, opts.tz.key)


def deliver(
    opts: Options, output: Path, head: Headline, stop: threading.Event | None = None
) -> None:
    """Mail the workbook (retried); raises DeliveryFailed. The workbook stays where it is."""
    from reporter.mail import compose, send

    assert opts.mail is not None
    msg = compose(opts.mail, output, head, opts.lang)
    attempts = send(opts.mail, msg, stop)
    log.info(
        "mailed %s to %s%s",
        output.name,
        ", ".join(opts.mail.to),
        f" (attempt {attempts})" if attempts > 1 else "",
    )


def default_name(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime(NAME_FORMAT)


def _check_writable(directory: Path) -> None:
    if not directory.is_dir():
        raise UsageError(f"directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to directory {directory}")


# -- schedule ------------------------------------------------------------------------------------


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` report files in `directory`; returns what was deleted.

    Only regular files named exactly like the reports this command writes are considered; their
    names sort by time (report_YYYY-MM-DD_HHMMSS.xlsx).
    """
    ours = sorted(
        p
        for p in directory.iterdir()
        if NAME_PATTERN.fullmatch(p.name) and p.is_file() and not p.is_symlink()
    )
    doomed = ours[: max(0, len(ours) - keep)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def cron_trigger(expression: str, tz: ZoneInfo):
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    try:
        if len(fields) == 5:
            trigger = CronTrigger.from_crontab(expression, timezone=tz)
        elif len(fields) == 6:
            second, minute, hour, day, month, day_of_week = fields
            trigger = CronTrigger(
                second=second,
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=day_of_week,
                timezone=tz,
            )
        else:
            raise UsageError(f"--cron {expression!r}: expected 5 fields (or 6 with seconds first)")
    except ValueError as exc:
        raise UsageError(f"--cron {expression!r}: {exc}") from None
    if trigger.get_next_fire_time(None, datetime.now(tz)) is None:  # e.g. 31 February
        raise UsageError(f"--cron {expression!r} never fires: no such date")
    return trigger


class ScheduledReports:
    """The job APScheduler runs: one report into the directory, then the old ones pruned."""

    def __init__(self, opts: Options, out_dir: Path, keep: int) -> None:
        self.opts = opts
        self.out_dir = out_dir
        self.keep = keep
        self.stop = threading.Event()
        self._running = threading.Lock()
        self.delivered = 0
        self.undelivered = 0

    def __call__(self) -> None:
        from reporter.data import EmptyReport
        from reporter.prom import PrometheusError
        from reporter.workbook import Stopped

        # APScheduler's max_instances=1 already refuses overlaps; this guards a direct call too
        if not self._running.acquire(blocking=False):
            log.warning("a report is still being written; this run is skipped")
            return
        try:
            now = time.time()
            output = self.out_dir / default_name(now, self.opts.tz)
            log.info("report started: %s", output.name)
            try:
                head = make_report(self.opts, output, self.stop)
            except (PrometheusError, EmptyReport, UsageError) as exc:
                log.error("report failed, nothing written: %s", exc)
                return
            except Stopped:
                log.info("report abandoned at shutdown, nothing written")
                return
            except OSError as exc:
                log.error("report failed, cannot write %s: %s", output, exc.strerror or exc)
                return
            deleted = prune(self.out_dir, self.keep)
            log.info(
                "report written: %s%s",
                output.name,
                f"; deleted {len(deleted)} older report(s)" if deleted else "",
            )
            if self.opts.mail is not None:
                self._deliver(output, head)
        finally:
            self._running.release()

    def _deliver(self, output: Path, head: Headline) -> None:
        from reporter.mail import DeliveryFailed

        try:
            deliver(self.opts, output, head, self.stop)
        except DeliveryFailed as exc:
            self.undelivered += 1
            log.error(
                "report not delivered: %s; the workbook is kept at %s "
                "(deliveries since start: %d sent, %d failed)",
                exc,
                output,
                self.delivered,
                self.undelivered,
            )
        else:
            self.delivered += 1


def run_schedule(args: argparse.Namespace, opts: Options) -> int:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    out_dir = Path(args.out_dir)
    _check_writable(out_dir)
    trigger = cron_trigger(args.cron, opts.tz)
    job = ScheduledReports(opts, out_dir, args.keep)
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": args.misfire_grace,
        },
        timezone=opts.tz,
    )
    scheduler.add_job(job, trigger, id="report", name="vigil-report")
    first = trigger.get_next_fire_time(None, datetime.now(opts.tz))
    log.info(
        "scheduled: %r in %s, first report at %s, keeping the newest %d in %s",
        args.cron,
        opts.tz.key,
        first.isoformat() if first else "never",
        args.keep,
        out_dir,
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, Interrupted):
        log.info("stopping: a report being written is abandoned")
        job.stop.set()
        scheduler.shutdown(wait=True)
    return 0


# -- entry point ---------------------------------------------------------------------------------


def _on_sigterm(signum, frame) -> None:
    raise Interrupted()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _main(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str]) -> int:
    from exporter.logs import setup_logging
    from reporter.data import EmptyReport
    from reporter.prom import PrometheusError

    once, sched = build_parsers()
    scheduled = bool(argv) and argv[0] == "schedule"
    args = (sched if scheduled else once).parse_args(argv[1:] if scheduled else argv)
    setup_logging(args.log_level)
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    output = None
    try:
        opts = make_options(args)
        if scheduled:
            return run_schedule(args, opts)
        output = Path(args.output or default_name(opts.at or time.time(), opts.tz))
        _check_writable(output.parent)
        head = make_report(opts, output)
        print(output)
        if opts.mail is not None:
            from reporter.mail import DeliveryFailed

            try:
                deliver(opts, output, head)
            except DeliveryFailed as exc:
                print(f"vigil-report: {exc}; the workbook is kept at {output}", file=sys.stderr)
                return EXIT_UNDELIVERED
        return 0
    except UsageError as exc:
        print(f"vigil-report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (PrometheusError, EmptyReport) as exc:
        print(f"vigil-report: {exc}; no report written", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(
            f"vigil-report: cannot write {output}: {exc.strerror or exc}; no report written",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except (KeyboardInterrupt, Interrupted):
        print("vigil-report: interrupted; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
