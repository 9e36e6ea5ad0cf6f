"""The global view's real parts for tests: VictoriaMetrics (single node), Prometheus in agent mode
remote-writing into it, vmalert evaluating the project's rules on it, and `vigil run` shard processes.
Debian's `victoria-metrics` package brings victoria-metrics and vmalert; .ci/run installs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.conftest import API_KEY, exporter_yaml, free_port, require_binary

ROOT = Path(__file__).resolve().parent.parent
RULES = sorted((ROOT / "alerting").glob("*.rules.yml"))


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} not ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextmanager
def _process(argv: list[str], log: Path, ready_url: str, **popen):
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        _wait_http(ready_url, proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def victoria_metrics(workdir: Path):
    """VictoriaMetrics on loopback; yields its base URL."""
    binary = require_binary("victoria-metrics")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir / 'vm-data'}",
        "-search.latencyOffset=1s",  # new samples visible at once, not after 30 s
        "-search.disableCache",  # a test queries while data arrives
        "-retentionPeriod=400d",  # imported histories are weeks old
    ]
    with _process(argv, workdir / "vm.log", f"{url}/health"):
        yield url


@contextmanager
def prometheus_agent(workdir: Path, name: str, scrape_configs: list[dict], write_url: str):
    """Prometheus in agent mode scraping `scrape_configs` into `write_url`."""
    binary = require_binary("prometheus")
    config = {
        "global": {"scrape_interval": "2s"},
        "scrape_configs": scrape_configs,
        "remote_write": [{"url": write_url}],
    }
    path = workdir / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        binary,
        "--enable-feature=agent",
        f"--config.file={path}",
        f"--storage.agent.path={workdir / (name + '-wal')}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with _process(argv, workdir / f"{name}.log", f"http://127.0.0.1:{port}/-/ready"):
        yield


def scrape_job(target: str, job: str = "vigil", **extra) -> dict:
    return {"job_name": job, "static_configs": [{"targets": [target]}], **extra}


@contextmanager
def vmalert(workdir: Path, vm_url: str, notifier_url: str, interval: str = "2s"):
    """vmalert evaluating the project's rule files on VictoriaMetrics, writing recorded series
    back into it, as the compose `scale` profile runs it."""
    binary = require_binary("vmalert")
    port = free_port()
    argv = [
        binary,
        *[f"-rule={path}" for path in RULES],
        f"-datasource.url={vm_url}",
        f"-remoteWrite.url={vm_url}",
        f"-notifier.url={notifier_url}",
        f"-evaluationInterval={interval}",
        "-remoteWrite.flushInterval=1s",
        f"-httpListenAddr=127.0.0.1:{port}",
    ]
    with _process(argv, workdir / "vmalert.log", f"http://127.0.0.1:{port}/health"):
        yield


@contextmanager
def shard_process(workdir: Path, api_url: str, index: int, count: int, port: int):
    """`vigil run --shard INDEX/COUNT` on a fixed loopback port; yields its URL."""
    text = exporter_yaml(api_url, page_size="500", inventory_interval="2s")
    text = text.replace('listen: "127.0.0.1:0"', f'listen: "127.0.0.1:{port}"')
    text = text.replace("log_level: debug", "log_level: info")
    config = workdir / f"shard-{index}-of-{count}.yml"
    config.write_text(text)
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "exporter",
        "run",
        "-c",
        str(config),
        "--shard",
        f"{index}/{count}",
    ]
    env = {**os.environ, "RT_API_KEY": API_KEY}
    log = workdir / f"shard-{index}-of-{count}.log"
    with _process(argv, log, f"{url}/metrics", env=env, cwd=ROOT):
        yield url
