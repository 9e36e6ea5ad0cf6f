"""`vigil demo`: simulated fleet + exporter in this process, Prometheus and Alertmanager beside it.

Prometheus and Alertmanager start only when their binaries are on PATH (Debian: `prometheus`,
`prometheus-alertmanager`); they listen on loopback and keep their data in a temporary directory that
is removed on exit. Before Prometheus starts, the simulated fleet's last HISTORY_DAYS days go into its
storage the way `vigil backfill` + `promtool tsdb create-blocks-from openmetrics` put a real fleet's
there, so dashboards and `vigil-report --days 30` show a month at once. The exporter asks for a
user and password (basic auth of a web config file, printed at start), so a browser opens every page,
camera pictures included; Prometheus scrapes it with the same login.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import glob
import logging
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bcrypt
import yaml
from aiohttp import web

from exporter import extras
from exporter.backfill import run_backfill
from exporter.config import parse_config
from exporter.service import Exporter, wait_for_signal
from exporter.simulate.analytics import AdminURL, PlatformError, SimulatedPlatform
from exporter.simulate.fleet import SimulatedFleet
from exporter.simulate.p4 import SimulatedP4
from exporter.simulate.rt_api import serve_rt_api

log = logging.getLogger("vigil.demo")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def assets_root() -> Path:
    """Where prometheus.yml and alerting/ are: the copy a wheel carries as exporter/assets/
    (setup.py), or the checkout they live in (a source tree, an editable install)."""
    packaged = Path(__file__).resolve().parent / "assets"
    if (packaged / "prometheus.yml").is_file():
        return packaged
    return PROJECT_ROOT


ASSETS_ROOT = assets_root()
DEFAULT_PORTS = {"exporter": 9830, "simulator": 9831, "prometheus": 9090, "alertmanager": 9093}
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
HISTORY_DAYS = 30  # finished days written into the demo's Prometheus before it starts
# Prometheus keeps what the demo wrote: its default 15 days would drop half the history at once
PROMETHEUS_RETENTION = "400d"
DEMO_USER = "demo"  # the login of the demo's pages (basic auth); its password is made at start

FALLBACK_ALERTMANAGER_CONFIG = {
    "route": {"receiver": "demo-log", "group_by": ["alertname"]},
    "receivers": [{"name": "demo-log"}],
}


def pick_port(preferred: int, host: str = "127.0.0.1") -> int:
    """The preferred port when it is free, otherwise any free port."""
    for candidate in (preferred, 0):
        with socket.socket() as sock:
            # as the servers themselves do, so a port in TIME_WAIT after the last demo counts as free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free port on loopback")


def prometheus_config(
    exporter_port: int,
    alertmanager_port: int | None,
    kafka_target: str | None = None,
    *,
    scrape_login: tuple[str, Path] | None = None,
) -> dict:
    """The project's prometheus.yml with the demo's loopback ports and absolute rule paths; with
    `kafka_target`, a `kafka` job for the simulated platform's kafka_exporter-shaped metrics; with
    `scrape_login` (user, password file), the exporter is scraped with basic auth."""
    source = ASSETS_ROOT / "prometheus.yml"
    if source.exists():
        config = yaml.safe_load(source.read_text())
    else:
        log.warning("%s not found: Prometheus runs without the alert rules", source)
        config = {}
    config.setdefault("global", {})["scrape_interval"] = "15s"
    # the alerts' evidence links open the demo's exporter (alerting/README.md)
    labels = config["global"].setdefault("external_labels", {})
    labels["vigil_exporter_url"] = f"http://127.0.0.1:{exporter_port}"
    rule_files = []
    for pattern in config.get("rule_files") or []:
        rule_files += sorted(glob.glob(str(ASSETS_ROOT / pattern)))
    config["rule_files"] = rule_files
    if alertmanager_port:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        }
    else:
        config.pop("alerting", None)
    jobs = [j for j in config.get("scrape_configs") or [] if j.get("job_name") != "vigil"]
    vigil_job: dict = {
        "job_name": "vigil",
        "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
    }
    if scrape_login is not None:
        user, password_file = scrape_login
        vigil_job["basic_auth"] = {"username": user, "password_file": str(password_file)}
    jobs.insert(0, vigil_job)
    if kafka_target:
        jobs = [j for j in jobs if j.get("job_name") != "kafka"]
        jobs.append(
            {
                "job_name": "kafka",
                "metrics_path": "/kafka/metrics",
                "static_configs": [{"targets": [kafka_target]}],
            }
        )
    config["scrape_configs"] = jobs
    return config


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the demo dies, even by SIGKILL, so nothing is left running."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


class Sidecars:
    """Prometheus and Alertmanager child processes with their logs in a temporary directory."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-demo-"))
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.urls: dict[str, str] = {}
        self.prometheus = shutil.which("prometheus")
        # chosen now: the exporter's status page links to it, the history is written for it
        self.prometheus_port = pick_port(DEFAULT_PORTS["prometheus"]) if self.prometheus else None
        self.tsdb = self.dir / "prometheus-data"

    async def load_history(
        self, config, exporter_port: int, days: int = HISTORY_DAYS
    ) -> str | None:
        """The fleet's last `days` finished days into Prometheus' storage, as `vigil backfill`
        and promtool do it for a real fleet; a line saying what was loaded (None: nothing)."""
        promtool = shutil.which("promtool")
        if self.prometheus is None or promtool is None:
            log.info("no history in this demo: promtool not found (apt-get install prometheus)")
            return None
        started = time.monotonic()
        history = self.dir / "history.om"
        instance = f"127.0.0.1:{exporter_port}"  # the scrape target: the same series go on
        result = await run_backfill(config, days, history, job="vigil", instance=instance)
        proc = await asyncio.create_subprocess_exec(
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(history),
            str(self.tsdb),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        history.unlink(missing_ok=True)
        if proc.returncode != 0:
            tail = output.decode(errors="replace").strip().splitlines()[-3:]
            log.error("promtool could not load the demo's history: %s", " / ".join(tail))
            return None
        return (
            f"{result.days} days of history ({result.first_day} .. {result.last_day}, "
            f"{result.cameras} cameras) loaded in {time.monotonic() - started:.1f} s"
        )

    def _spawn(self, name: str, argv: list[str]) -> None:
        logfile = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(
            argv,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        logfile.close()
        self.procs.append((name, proc))

    def start(
        self,
        exporter_port: int,
        kafka_target: str | None = None,
        scrape_login: tuple[str, Path] | None = None,
    ) -> None:
        am_binary = next(filter(None, map(shutil.which, ALERTMANAGER_BINARIES)), None)
        am_port = None
        if am_binary:
            am_port = pick_port(DEFAULT_PORTS["alertmanager"])
            am_config = ASSETS_ROOT / "alerting" / "alertmanager.yml"
            if not am_config.exists():
                am_config = self.dir / "alertmanager.yml"
                am_config.write_text(yaml.safe_dump(FALLBACK_ALERTMANAGER_CONFIG))
            self._spawn(
                "alertmanager",
                [
                    am_binary,
                    f"--config.file={am_config}",
                    f"--storage.path={self.dir / 'alertmanager-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
            )
            self.urls["Alertmanager"] = f"http://127.0.0.1:{am_port}/"
        else:
            log.info("Alertmanager not found on PATH (apt-get install prometheus-alertmanager)")
        if self.prometheus and self.prometheus_port:
            prom_port = self.prometheus_port
            config_path = self.dir / "prometheus.yml"
            config_path.write_text(
                yaml.safe_dump(
                    prometheus_config(
                        exporter_port, am_port, kafka_target, scrape_login=scrape_login
                    )
                )
            )
            self._spawn(
                "prometheus",
                [
                    self.prometheus,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={self.tsdb}",
                    f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
            )
            self.urls["Prometheus"] = f"http://127.0.0.1:{prom_port}/"
        else:
            log.info("Prometheus not found on PATH (apt-get install prometheus)")

    def check(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                log.error(
                    "%s exited with code %s; its log: %s",
                    name,
                    proc.returncode,
                    self.dir / f"{name}.log",
                )

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


async def run_demo(
    cameras: int = 200,
    seed: int = 1,
    with_prometheus: bool = True,
    *,
    listen: tuple[str, int] | None = None,
    login: bool = True,
    links: dict[str, str] | None = None,
    analytics_server: str | None = None,
) -> int:
    """The demo. `listen`: the exporter's address (default loopback, 9830 or any free port);
    `login=False`: no login and no token (every page and picture open, the API read-only: for a
    container whose Prometheus scrapes without credentials); `links`: extra status-page links
    ({"grafana": url, "prometheus": url}) beside the demo's own Prometheus; `analytics_server`:
    an existing PostgreSQL server's admin URL for the simulated analytics platform (else it
    starts a throwaway cluster when PostgreSQL is installed). Returns the exit code."""
    try:
        platform = await analytics_platform(analytics_server)
    except PlatformError as exc:  # asked for by name: no demo without it
        print(f"vigil demo: the simulated analytics platform cannot start: {exc}", file=sys.stderr)
        return 1
    api_key = secrets.token_hex(16)
    sim_port = pick_port(DEFAULT_PORTS["simulator"])
    if listen is None:
        exporter_host, exporter_port = "127.0.0.1", pick_port(DEFAULT_PORTS["exporter"])
    else:
        exporter_host, exporter_port = listen
    fleet = SimulatedFleet(cameras=cameras, seed=seed)
    sim_runner = await serve_rt_api(fleet, "127.0.0.1", sim_port, api_key=api_key)
    api_token = secrets.token_hex(12)
    # an install without an optional extra (pyproject.toml) runs the demo without that source
    without = {extra: extras.missing(extra) for extra in ("frames", "p4")}
    for extra, why in without.items():
        if why is not None:
            log.info(
                "no %s in this demo: %s is not installed (%s): %s",
                "frame checks" if extra == "frames" else "Perforce servers",
                extras.EXTRAS[extra][1],
                why,
                extras.install_hint(extra),
            )
    snapshots, snap_port = None, None
    if without["frames"] is None:
        from exporter.simulate.snapshots import make_snapshot_app  # OpenCV draws the pictures

        snapshots = web.AppRunner(make_snapshot_app())
        await snapshots.setup()
        snap_port = pick_port(0)
        await web.TCPSite(snapshots, "127.0.0.1", snap_port).start()
    state_dir = Path(tempfile.mkdtemp(prefix="vigil-demo-state-"))  # evidence, registrations
    listeners, targets = await network_cameras(snap_port)
    frames = p4 = ""
    if without["frames"] is None:
        frames = f"""frames:
  workers: 1
  evidence:
    directory: {state_dir / "evidence"}
"""
    if without["p4"] is None:
        p4 = """p4:
  servers:
    - {name: p4-sim-a, p4port: "sim:p4-a:1666", p4user: vigil, stream_mask: "//depot/*", interval: 1m}
    - {name: p4-sim-b, p4port: "sim:p4-b:1666", p4user: vigil, stream_mask: "//games/*", interval: 1m}
"""
    analytics = ""
    if platform is not None:
        analytics = f"""analytics:
  platforms:
    - name: vap-demo
      dsn: "${{ANALYTICS_DSN}}"
      interval: 15s
      stuck_after: 1m
      predictions_stale_after: 1m
      api_url: "{platform.api_url}"
"""
    sidecars = Sidecars() if with_prometheus else None
    page_links = dict(links or {})
    if sidecars is not None and sidecars.prometheus_port:
        page_links["prometheus"] = f"http://127.0.0.1:{sidecars.prometheus_port}"
    access = ""
    password = None
    if login:
        password, web_config = demo_login(state_dir)
        access = f'api_token: "${{VIGIL_API_TOKEN}}"\nweb_config_file: {web_config}\n'
    if page_links:
        access += yaml.safe_dump({"links": page_links})
    config = parse_config(
        f"""
listen: "{exporter_host}:{exporter_port}"
{access}rt_api:
  url: "http://127.0.0.1:{sim_port}/api"
  api_key: "${{RT_API_KEY}}"
  inventory_interval: 30s
  baked_archives_interval: 1m
cameras:
  icmp: 15s
  tcp: 15s
  timeout: 1s
  frame: 15s
  state_file: {state_dir / "cameras.json"}
  targets:
{targets}
{frames}{p4}{analytics}""",
        source_name="demo",
        env={
            "RT_API_KEY": api_key,
            "VIGIL_API_TOKEN": api_token,
            "ANALYTICS_DSN": platform.dsn if platform else "",
        },
    )
    exporter = Exporter(config, p4_factory=SimulatedP4)
    history = None
    try:
        await exporter.start()
        if sidecars:
            print(f"Loading the last {HISTORY_DAYS} days of the simulated fleet...", flush=True)
            history = await sidecars.load_history(config, exporter_port)
            scrape_login = None
            if password is not None:
                password_file = sidecars.dir / "exporter-password"
                password_file.write_text(password)
                password_file.chmod(0o600)
                scrape_login = (DEMO_USER, password_file)
            sidecars.start(exporter_port, platform.kafka_target if platform else None, scrape_login)
        lines = [
            f"Vigil demo: {cameras} simulated cameras (seed {seed})",
            f"  Exporter       {exporter.url}/  (status page; camera search; English and Russian)",
        ]
        if password is not None:
            lines.append(
                f"  Login          user {DEMO_USER}, password {password}  (every page of the exporter)"
            )
        lines += [
            f"  Evidence       {exporter.url}/evidence",
            f"  Metrics        {exporter.url}/metrics",
            f"  Simulated API  http://127.0.0.1:{sim_port}/api  "
            f"(faults: http://127.0.0.1:{sim_port}/_sim/faults)",
        ]
        if password is not None:
            lines.append(
                f"  Camera API     {exporter.url}/api/v1/cameras  "
                f"(demo token for changes: {api_token})"
            )
        else:
            lines.append(f"  Camera API     {exporter.url}/api/v1/cameras  (read-only: no token)")
        if platform is not None:
            lines.append(
                f"  Analytics API  {platform.api_url}/openapi.json  (PostgreSQL: {platform.where})"
            )
        for name, url in (sidecars.urls if sidecars else {}).items():
            lines.append(f"  {name:<14} {url}")
        if history is not None:
            prometheus = sidecars.urls["Prometheus"].rstrip("/") if sidecars else ""
            lines += [
                f"  History        {history}",
                f"  30-day report  {report_command()} --prometheus {prometheus} --days 30 "
                "-o report.xlsx",
            ]
        lines.append("Press Ctrl-C to stop.")
        print("\n".join(lines), flush=True)
        if sidecars:
            await asyncio.sleep(2)
            sidecars.check()
        await wait_for_signal()
        log.info("stopping the demo")
    finally:
        if sidecars:
            sidecars.stop()
        with contextlib.suppress(Exception):
            await exporter.stop()
        await sim_runner.cleanup()
        if snapshots is not None:
            await snapshots.cleanup()
        if platform is not None:
            await platform.stop()
        for server in listeners:
            server.close()
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def report_command() -> str:
    """vigil-report as this install runs it: beside this Python (a venv's bin/), else from PATH."""
    beside = Path(sys.executable).parent / "vigil-report"
    return str(beside) if beside.exists() else "vigil-report"


def demo_login(state_dir: Path) -> tuple[str, Path]:
    """A fresh password for DEMO_USER and the web config file (exporter-toolkit format, bcrypt)
    that asks for it; the file is removed with the demo's state."""
    password = secrets.token_urlsafe(9)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    path = state_dir / "web-config.yml"
    path.write_text(yaml.safe_dump({"basic_auth_users": {DEMO_USER: hashed}}))
    path.chmod(0o600)
    return password, path


async def analytics_platform(server_url: str | None = None) -> SimulatedPlatform | None:
    """The simulated analytics platform: on the server `server_url` names (PlatformError when it
    cannot start there; its admin password is registered as a secret first), else on a throwaway
    cluster when PostgreSQL's server is installed; None (said) otherwise."""
    if server_url is not None:
        from exporter.logs import register_secret

        try:
            known = AdminURL(server_url).secrets()
        except PlatformError:  # malformed: SimulatedPlatform says so below, without the URL
            known = [server_url]
        for secret in known:
            register_secret(secret)
        platform = SimulatedPlatform(server_url=server_url)
        try:
            await platform.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await platform.stop()
            raise
        return platform
    try:
        platform = SimulatedPlatform()
    except FileNotFoundError as exc:
        log.info("no analytics platform in this demo: %s", exc)
        return None
    try:
        await platform.start()
    except Exception as exc:
        log.warning("the simulated analytics platform did not start (%s); going on without it", exc)
        with contextlib.suppress(Exception):
            await platform.stop()
        return None
    return platform


DEMO_NETWORK_CAMERAS = 8  # loopback ports standing in for cameras checked directly
DEMO_DEAD_CAMERAS = 2  # ports nobody listens on: cameras that fail their TCP check


DEMO_FRAMES = ("healthy", "dark", "frozen", "still")  # snapshot pictures of the first cameras


async def network_cameras(snapshot_port: int | None) -> tuple[list[asyncio.Server], str]:
    """Loopback listeners posing as cameras on the network, and their `targets:` YAML.

    With a snapshot server, the first cameras also have a snapshot URL on it: one healthy, one that
    films nothing but darkness, one whose picture stopped updating, one that films a still scene
    live (sensor noise, a ticking clock: healthy).
    """

    async def accept_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    servers = [
        await asyncio.start_server(accept_and_close, "127.0.0.1", 0)
        for _ in range(DEMO_NETWORK_CAMERAS)
    ]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    ports += [pick_port(0) for _ in range(DEMO_DEAD_CAMERAS)]
    yaml_lines = []
    for i, port in enumerate(ports):
        frame = ""
        if snapshot_port is not None and i < len(DEMO_FRAMES):
            frame = f", frame_url: 'http://127.0.0.1:{snapshot_port}/cam/{DEMO_FRAMES[i]}.jpg'"
        yaml_lines.append(
            f"    - {{id: lan-cam-{i + 1:02d}, host: 127.0.0.1, port: {port}{frame}}}\n"
        )
    return servers, "".join(yaml_lines)
