"""`vigil` command line: run, check-config, backfill, p4-login, rt-capture, rt-check, simulate, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from exporter import __version__
from exporter.logs import LOG_FORMATS

EXIT_CONFIG = 2
EXIT_PARTIAL = 3
# `vigil demo --analytics-server` from the environment (docker compose), out of sight of ps
ANALYTICS_SERVER_ENV = "VIGIL_DEMO_ANALYTICS_SERVER"


def _load_config_or_exit(path: str):
    from exporter.config import ConfigError, load_config
    from exporter.service import validate

    try:
        config = load_config(path)
        validate(config)
    except ConfigError as exc:
        print(f"vigil: invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    web_file = config.web_config_file
    if web_file is not None and not os.path.isabs(os.path.expanduser(web_file)):
        # like the *_file keys: relative to vigil.yml
        import dataclasses

        base = os.path.dirname(os.path.abspath(path))
        config = dataclasses.replace(config, web_config_file=os.path.join(base, web_file))
    return config


def _with_web_config(config, flag: str | None):
    """The config with `--web.config.file` (relative to the working directory) in force, the web
    config file checked; exit 2 naming the file, line and key when it is not usable."""
    import dataclasses

    from exporter.config import ConfigError
    from exporter.webconfig import load_web_config

    if flag is not None:
        config = dataclasses.replace(config, web_config_file=os.path.abspath(flag))
    if config.web_config_file is None:
        return config, None
    try:
        return config, load_web_config(config.web_config_file)
    except ConfigError as exc:
        print(f"vigil: invalid web configuration: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def cmd_check_config(args: argparse.Namespace) -> int:
    from exporter.config import summarize
    from exporter.sources import plugins

    config = _load_config_or_exit(args.config)
    config, web = _with_web_config(config, args.web_config_file)
    print(f"{args.config}: OK")
    print("sources:")
    for plugin in plugins():
        state = "on" if getattr(config, plugin.section) is not None else "off"
        print(f"  {plugin.name} (section {plugin.section}): {state}, {plugin.doc}")
        if getattr(config, plugin.section) is not None:
            for line in plugin.describe(config):
                print(f"    {line}")
    print(summarize(config))
    if web is None:
        print("web: no web config file: plain HTTP, no basic auth (see --web.config.file)")
    else:
        print(f"web: {config.web_config_file}: OK")
        for line in web.describe():
            print(f"  {line}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from exporter.logs import setup_logging
    from exporter.service import run_exporter

    config = _load_config_or_exit(args.config)
    config, _ = _with_web_config(config, args.web_config_file)
    if args.shard is not None:
        import dataclasses

        from exporter.config import ShardConfig
        from exporter.sharding import parse_shard

        try:
            shard = parse_shard(args.shard)
        except ValueError as exc:
            print(f"vigil: --shard: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        config = dataclasses.replace(
            config, shard=ShardConfig(index=shard.index, count=shard.count)
        )
    setup_logging(args.log_level or config.log_level, args.log_format or config.log_format)
    logging.getLogger("vigil").info("vigil %s starting", __version__)
    asyncio.run(run_exporter(config))
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from pathlib import Path

    from exporter.backfill import run_backfill
    from exporter.errors import CheckFailed
    from exporter.logs import register_secret, setup_logging

    config = _load_config_or_exit(args.config)
    setup_logging(config.log_level)
    if config.rt_api is not None:
        register_secret(config.rt_api.api_key.reveal())
    instance = args.instance or f"localhost:{config.listen_port}"
    show_progress = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show_progress and (done == total or done % 50 == 0):
            print(f"\rfetching archives: {done}/{total}", end="", file=sys.stderr, flush=True)

    try:
        result = asyncio.run(
            run_backfill(
                config,
                args.days,
                Path(args.output),
                job=args.job,
                instance=instance,
                progress=progress,
            )
        )
    except CheckFailed as exc:
        print(f"vigil backfill: {exc} ({exc.reason}); nothing written", file=sys.stderr)
        return EXIT_CONFIG if exc.reason == "config" else 1
    if show_progress:
        print(file=sys.stderr)
    print(
        f"{args.output}: {result.samples} samples, {result.cameras} cameras, {result.days} days "
        f"({result.first_day} .. {result.last_day}), labels job={args.job!r} instance={instance!r}"
    )
    if result.failed:
        print(
            f"vigil backfill: {result.failed} camera(s) could not be fetched and are missing "
            "from the file (see the log above)",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return 0


def cmd_p4_import_history(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from exporter.configkit import parse_duration
    from exporter.p4_history import HistoryError, import_history

    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"vigil p4-import-history: unknown --timezone {args.timezone!r}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        step = parse_duration(args.step)
    except ValueError as exc:
        print(f"vigil p4-import-history: --step: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        result = import_history(
            Path(args.database),
            Path(args.output),
            tz=tz,
            step=step,
            job=args.job,
            instance=args.instance,
            now=time.time(),
        )
    except HistoryError as exc:
        print(f"vigil p4-import-history: {exc}; nothing written", file=sys.stderr)
        return EXIT_CONFIG

    def day(t: float | None) -> str:
        return datetime.fromtimestamp(t, tz).date().isoformat() if t is not None else "-"

    print(
        f"{args.output}: {result.samples} samples from {result.rows} history rows of "
        f"{result.streams} streams on {result.servers} servers ({day(result.first)} .. "
        f"{day(result.last)}), labels job={args.job!r}"
        + (f" instance={args.instance!r}" if args.instance else " (no instance label)")
    )
    return 0


def cmd_p4_login(args: argparse.Namespace) -> int:
    import getpass

    from exporter.sources.p4.source import login

    config = _load_config_or_exit(args.config)
    if config.p4 is None:
        print("vigil p4-login: the configuration has no p4 section", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(login(config.p4, args.server, getpass.getpass))


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def cmd_rt_capture(args: argparse.Namespace) -> int:
    from pathlib import Path

    from exporter.logs import register_secret, setup_logging
    from exporter.service import client_session
    from exporter.sources.rt_api.capture import capture, dumps

    config = _load_config_or_exit(args.config)
    if config.rt_api is None:
        print("vigil rt-capture: the configuration has no rt_api section", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(config.log_level)
    register_secret(config.rt_api.api_key.reveal())

    async def take():
        async with client_session(config) as session:
            return await capture(config.rt_api, session)

    document, failed = asyncio.run(take())
    Path(args.output).write_text(dumps(document), encoding="utf-8")
    answered = [name for name in document["answers"] if name not in failed]
    print(
        f"{args.output}: {len(answered)} of 4 endpoints captured ({', '.join(answered) or 'none'}); "
        f"{sum(document['replaced'].values())} personal or secret values replaced by placeholders. "
        f"Check it with: vigil rt-check {args.output}"
    )
    if failed:
        for name in failed:
            answer = document["answers"].get(name, {})
            why = answer.get("message") or answer.get("skipped") or answer.get("error")
            print(f"vigil rt-capture: {name}: {why}", file=sys.stderr)
        return EXIT_PARTIAL
    return 0


def cmd_rt_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from exporter.sources.rt_api.capture import load
    from exporter.sources.rt_api.check import check_capture, header

    try:
        document = load(Path(args.capture).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"vigil rt-check: {args.capture}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    report = check_capture(document)
    print(header(document, args.capture))
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1


def cmd_simulate(args: argparse.Namespace) -> int:
    from exporter.logs import setup_logging
    from exporter.simulate.serve import run_simulator

    setup_logging(args.log_level, args.log_format)
    host, port = args.listen
    api_key = os.environ.get("VIGIL_SIM_API_KEY") or None
    document = None
    if args.capture is not None:
        from pathlib import Path

        from exporter.sources.rt_api.capture import load

        try:
            document = load(Path(args.capture).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            print(f"vigil simulate: --from {args.capture}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    try:
        asyncio.run(
            run_simulator(
                host,
                port,
                cameras=args.cameras,
                seed=args.seed,
                flap_period=args.flap_period,
                api_key=api_key,
                variations=tuple(args.variation or ()),
                capture=document,
            )
        )
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(
            f"vigil simulate: cannot listen on {host}:{port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from exporter.demo import run_demo
    from exporter.logs import setup_logging

    setup_logging(args.log_level, args.log_format)
    return asyncio.run(
        run_demo(
            cameras=args.cameras,
            seed=args.seed,
            with_prometheus=not args.no_prometheus,
            listen=args.listen,
            login=not args.no_login,
            links={
                k: v
                for k, v in (("prometheus", args.prometheus_url), ("grafana", args.grafana_url))
                if v
            },
            analytics_server=args.analytics_server or os.environ.get(ANALYTICS_SERVER_ENV) or None,
        )
    )


def _log_flags(parser: argparse.ArgumentParser, defaults: bool = False) -> None:
    """--log.level and --log.format, as Prometheus and its exporters take them."""
    parser.add_argument(
        "--log.level",
        "--log-level",
        dest="log_level",
        choices=("debug", "info", "warning", "error"),
        default="info" if defaults else None,
        help="overrides log_level of the configuration" if not defaults else "default info",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        choices=LOG_FORMATS,
        default="text" if defaults else None,
        help="text (one readable line), logfmt or json",
    )


def _web_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="TLS and basic auth in the exporter-toolkit's web-config.yml format, "
        "overriding `web_config_file:` of the configuration",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Vigil: Prometheus exporter for camera fleets and Perforce servers.",
    )
    parser.add_argument("--version", action="version", version=f"vigil {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the exporter with a configuration file")
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="path to vigil.yml")
    _web_config_flag(p)
    _log_flags(p)
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="this replica's shard, overriding `shard:` of the file (e.g. a StatefulSet ordinal)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "check-config",
        help="validate a configuration file (and its web config file) and print a summary",
    )
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="path to vigil.yml")
    _web_config_flag(p)
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser(
        "backfill",
        help="write past days of archive figures as OpenMetrics for promtool tsdb create-blocks",
    )
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="path to vigil.yml")
    p.add_argument(
        "--days", type=_positive_int, default=90, help="finished days to write (default 90)"
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="e.g. history.om")
    p.add_argument("--job", default="vigil", help="job label, as in prometheus.yml (default vigil)")
    p.add_argument(
        "--instance",
        help="instance label: the exporter's scrape target (default localhost:<listen port>)",
    )
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser(
        "p4-login",
        help="log in to the Perforce servers (password from password_env or a prompt) "
        "and store the tickets",
    )
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="path to vigil.yml")
    p.add_argument("--server", help="only this server (its name in the configuration)")
    p.set_defaults(func=cmd_p4_login)

    p = sub.add_parser(
        "p4-import-history",
        help="write the old P4 Stream Monitor's SQLite history as OpenMetrics for promtool",
    )
    p.add_argument("database", metavar="OLD.db", help="the old monitor's instance/prod.db")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="e.g. p4-history.om")
    p.add_argument(
        "--timezone",
        default="Europe/Moscow",
        help="the zone the old monitor's host kept its local times in (default Europe/Moscow)",
    )
    p.add_argument(
        "--step",
        default="5m",
        help="one sample this often between history rows (default 5m: a continuous line)",
    )
    p.add_argument("--job", default="vigil", help="job label, as in prometheus.yml (default vigil)")
    p.add_argument(
        "--instance", default=None, help="instance label: the exporter's scrape target (none)"
    )
    p.set_defaults(func=cmd_p4_import_history)

    p = sub.add_parser(
        "simulate",
        help="serve a simulated RT Camera API (API key from $VIGIL_SIM_API_KEY, if set)",
    )
    p.add_argument("--cameras", type=int, default=200, help="fleet size (default 200)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--listen", type=_host_port, default=("127.0.0.1", 9831), metavar="HOST:PORT")
    p.add_argument(
        "--flap-period",
        type=float,
        default=120.0,
        help="seconds between state changes of flapping cameras; 0 freezes them",
    )
    from exporter.simulate.rt_api import VARIATIONS

    p.add_argument(
        "--variation",
        action="append",
        choices=(*VARIATIONS, "slow_fragments"),
        metavar="NAME",
        help="answer the way the platform may (repeatable): "
        + ", ".join(VARIATIONS)
        + ", slow_fragments (fragment answers take 12 s)",
    )
    p.add_argument(
        "--from",
        dest="capture",
        metavar="FILE",
        help="answer with the answers of a `vigil rt-capture` file instead of a simulated fleet",
    )
    _log_flags(p, defaults=True)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "rt-capture",
        help="call each RT API endpoint once and write the answers, personal values replaced",
    )
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="path to vigil.yml")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="e.g. sample.json")
    p.set_defaults(func=cmd_rt_capture)

    p = sub.add_parser(
        "rt-check",
        help="read a `vigil rt-capture` file with Vigil's parser and say what it understood",
    )
    p.add_argument("capture", metavar="FILE", help="a file written by vigil rt-capture")
    p.set_defaults(func=cmd_rt_check)

    p = sub.add_parser(
        "demo",
        help="run the exporter on a simulated fleet (plus Prometheus and Alertmanager if installed)",
    )
    p.add_argument("--cameras", type=int, default=200, help="fleet size (default 200)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument(
        "--no-prometheus", action="store_true", help="do not start Prometheus and Alertmanager"
    )
    p.add_argument(
        "--listen",
        type=_host_port,
        metavar="HOST:PORT",
        help="the exporter's address (default 127.0.0.1:9830, or any free port)",
    )
    p.add_argument(
        "--no-login",
        action="store_true",
        help="no login and no API token: every page and camera picture open, the camera API "
        "read-only (for a Prometheus that scrapes without credentials, as docker compose's)",
    )
    p.add_argument("--prometheus-url", metavar="URL", help="the status page links to it")
    p.add_argument("--grafana-url", metavar="URL", help="the status page links to it")
    p.add_argument(
        "--analytics-server",
        metavar="URL",
        help="an existing PostgreSQL server for the simulated analytics platform, as an admin URL "
        "postgresql://user:password@host:port/database (a role that may create databases and "
        f"roles); the demo makes its own database and read-only role there. ${ANALYTICS_SERVER_ENV} "
        "says the same without showing the password to ps. Default: a throwaway cluster when "
        "PostgreSQL is installed",
    )
    _log_flags(p, defaults=True)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
