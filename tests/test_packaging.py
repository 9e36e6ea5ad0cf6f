"""What `pip install` gives: the optional extras, the lock the image installs, the wheel's rule files.

- An RT-only install (no OpenCV, boto3, P4Python, redis-py) runs `vigil check-config`, `vigil run`,
  `vigil demo` and `vigil-report`; a configuration needing a missing extra exits 2 naming the
  `pip install` that fixes it. The missing libraries are simulated in a subprocess of this venv by a
  `sitecustomize` whose import hook makes importing them fail as if they were not installed.
- requirements.lock pins, with hashes, everything `vigil[all]` and the build backend need.
- The wheel carries prometheus.yml and the alert rules, and a non-editable install of it gives
  `vigil demo` a Prometheus configuration with every rule file.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import API_KEY, free_port, require_binary, simulator

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
RUNTIME_EXTRAS = ("frames", "p4", "s3", "redis")

# the top-level modules each extra's packages provide (boto3 brings botocore and s3transfer;
# P4Python's P4 module loads the P4API extension)
EXTRA_MODULES = {
    "frames": ("cv2",),
    "p4": ("P4", "P4API"),
    "s3": ("boto3", "botocore", "s3transfer"),
    "redis": ("redis",),
}

SITECUSTOMIZE = '''
import os, sys

MISSING = set(os.environ["VIGIL_TEST_MISSING"].split(","))


class NotInstalled:
    """Importing a module of MISSING fails as it does when its package is not installed."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
'''


@pytest.fixture
def without(tmp_path):
    """env for a subprocess of this venv in which the modules of the given extras are missing."""
    hook = tmp_path / "without-extras"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)

    def env(*extras: str) -> dict[str, str]:
        modules = [m for extra in extras for m in EXTRA_MODULES[extra]]
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)]),
            "VIGIL_TEST_MISSING": ",".join(modules),
            "PYTHONUNBUFFERED": "1",
        }

    return env


def vigil(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


RT_ONLY = """
listen: 127.0.0.1:{port}
rt_api:
  url: {api_url}
  api_key: ${{RT_API_KEY}}
  inventory_interval: 1s
  timeout: 2s
cameras:
  tcp: 5s
  icmp: 0s
  targets:
    - {{id: lan-1, host: 127.0.0.1, port: {port}}}
analytics:
  platforms:
    - {{name: vap, dsn: "postgresql://reader:pw@127.0.0.1:1/va", interval: 1h}}
"""


def test_the_blocker_really_hides_the_extras(without):
    for extra, modules in EXTRA_MODULES.items():
        for module in modules:
            result = subprocess.run(
                [sys.executable, "-c", f"import {module}"],
                capture_output=True,
                text=True,
                env=without(extra),
                timeout=30,
            )
            assert result.returncode == 1
            assert f"No module named '{module}'" in result.stderr


@pytest.mark.parametrize(
    ("missing", "section", "message"),
    [
        ("frames", "frames: {}\n", "frames: frame analysis needs OpenCV"),
        (
            "s3",
            "frames: {evidence: {store: s3, bucket: b}}\n",
            "frames.evidence.store: an s3 evidence store needs boto3",
        ),
        (
            "redis",
            "frames: {redis: {url: 'redis://127.0.0.1:6379/0'}}\n",
            "frames.redis: frames from a Redis stream needs redis-py",
        ),
        (
            "redis",
            "cameras: {store: 'redis://127.0.0.1:6379/0'}\n",
            "cameras.store: a shared camera store needs redis-py",
        ),
        (
            "p4",
            "p4: {servers: [{name: a, p4port: 'p4:1666', p4user: u, stream_mask: '//d/*'}]}\n",
            "p4: Perforce stream sizes needs P4Python",
        ),
    ],
)
def test_a_feature_without_its_extra_is_refused_naming_the_extra(
    tmp_path, without, missing, section, message
):
    config = tmp_path / "vigil.yml"
    config.write_text(f"listen: 127.0.0.1:{free_port()}\n{section}")
    # every other extra is there: only the one this feature needs is missing
    for command in ("check-config", "run"):
        result = vigil(command, "-c", str(config), env=without(missing))
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert message in result.stderr, result.stderr
        assert f"pip install 'vigil[{missing}]'" in result.stderr
        assert "Traceback" not in result.stderr


async def test_an_rt_only_install_checks_runs_and_reports(tmp_path, without):
    env = {**without(*RUNTIME_EXTRAS), "RT_API_KEY": API_KEY}
    port = free_port()
    healthcheck = [sys.executable, str(ROOT / "docker" / "healthcheck.py")]
    ready_env = {**env, "VIGIL_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/-/ready"}
    async with simulator(cameras=5) as sim:
        config = tmp_path / "vigil.yml"
        config.write_text(RT_ONLY.format(port=port, api_url=sim.api_url))

        checked = await asyncio.to_thread(vigil, "check-config", "-c", str(config), env=env)
        assert checked.returncode == 0, checked.stderr
        for source in ("rt_api", "network", "analytics"):
            assert re.search(rf"^  {source} \(section \w+\): on", checked.stdout, re.M), source

        # the image's health check: not ready (nothing listens) -> 1
        before = await asyncio.to_thread(
            subprocess.run, healthcheck, env=ready_env, capture_output=True, text=True, timeout=30
        )
        assert before.returncode == 1 and f"127.0.0.1:{port}" in before.stderr

        log_path = tmp_path / "vigil.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exporter", "run", "-c", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        try:
            deadline = time.monotonic() + 30
            while True:
                done = await asyncio.to_thread(
                    subprocess.run, healthcheck, env=ready_env, capture_output=True, timeout=30
                )
                if done.returncode == 0:
                    break
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the RT-only exporter never became ready"
                await asyncio.sleep(0.3)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                metrics = resp.read().decode()
            assert re.search(r'^vigil_camera_info\{camera="[^"]+"', metrics, re.M)
            assert 'vigil_source_up{source="rt_api",instance=' in metrics
            # a page that is not there is not healthy either
            missing = await asyncio.to_thread(
                subprocess.run,
                [*healthcheck, f"http://127.0.0.1:{port}/nope"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert missing.returncode == 1 and "HTTP 404" in missing.stderr
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Traceback" not in log_path.read_text()

    report = subprocess.run(
        [sys.executable, "-m", "reporter", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=30,
    )
    assert report.returncode == 0 and "--prometheus" in report.stdout, report.stderr


def test_an_rt_only_install_runs_the_demo_without_frames_and_perforce(without):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "demo",
            "--cameras",
            "10",
            "--no-prometheus",
            "--no-login",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=without(*RUNTIME_EXTRAS),
        cwd=ROOT,
    )
    output = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(output)
        assert "Press Ctrl-C" in text, text
        assert "no frame checks in this demo" in text and "pip install 'vigil[frames]'" in text
        assert "no Perforce servers in this demo" in text and "pip install 'vigil[p4]'" in text
        [metrics_url] = re.findall(r"^\s+Metrics\s+(\S+)", text, re.M)
        deadline = time.monotonic() + 30
        while True:  # the first inventory poll has run
            with urllib.request.urlopen(metrics_url, timeout=5) as resp:
                metrics = resp.read().decode()
            if 'vigil_source_up{source="rt_api"' in metrics or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert re.search(r'^vigil_source_up\{source="rt_api",instance="[^"]*"\} 1$', metrics, re.M)
        assert 'source="frames"' not in metrics and 'source="p4"' not in metrics
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, text + rest
        assert "Traceback" not in text + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_extras_split_the_optional_libraries_and_all_and_test_pull_them():
    core = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    optional = {"opencv-python-headless", "p4python", "boto3", "redis"}
    assert not core & optional, "an optional library is a core dependency again"
    for extra in RUNTIME_EXTRAS:
        assert EXTRAS[extra], extra
    [everything] = EXTRAS["all"]
    assert Requirement(everything).name == "vigil"
    assert Requirement(everything).extras == set(RUNTIME_EXTRAS)
    assert "vigil[all]" in EXTRAS["test"]  # the tests exercise every source


def test_the_lock_pins_everything_the_image_installs_with_hashes():
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        if block.startswith("#") or not block.strip():
            continue
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        assert match, block.splitlines()[0]
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), f"{match.group(1)} has no hash"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    assert "vigil" not in pins
    wanted = [
        *PYPROJECT["project"]["dependencies"],
        *(r for extra in RUNTIME_EXTRAS for r in EXTRAS[extra]),
        *PYPROJECT["build-system"]["requires"],  # the image builds Vigil with the locked backend
    ]
    for line in wanted:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, pyproject.toml wants "
            f"{requirement.specifier}: run `make lock`"
        )
    # what the Dockerfile does with it
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "-r requirements.lock" in dockerfile
    assert "--no-deps --no-build-isolation '.[all]'" in dockerfile


def test_the_wheel_carries_the_rules_and_a_plain_install_runs_the_demo_with_them(tmp_path):
    # build from a copy: an in-tree build would leave build/ in the shared checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "prometheus.yml"):
        shutil.copy(ROOT / name, src / name)
    for name in ("exporter", "reporter"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "alerting").mkdir()
    for path in (ROOT / "alerting").glob("*.yml"):
        shutil.copy(path, src / "alerting" / path.name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = tmp_path.glob("vigil-*.whl")

    rules = sorted(p.name for p in (ROOT / "alerting").glob("*.rules.yml"))
    assert {"vigil.rules.yml", "p4.rules.yml", "analytics.rules.yml"} <= set(rules)
    shipped = {
        "prometheus.yml": ROOT / "prometheus.yml",
        "alerting/alertmanager.yml": ROOT / "alerting" / "alertmanager.yml",
        **{f"alerting/{name}": ROOT / "alerting" / name for name in rules},
    }
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        for inside, original in shipped.items():
            assert f"exporter/assets/{inside}" in names, inside
            assert whl.read(f"exporter/assets/{inside}") == original.read_bytes(), inside
        assert not any(n.startswith("exporter/assets/alerting/secrets") for n in names)

    # a non-editable install: the package as pip lays it out, and no checkout beside it
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), wheel],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    probe = (
        "import json, exporter, exporter.demo as d\n"
        "print(json.dumps({'package': exporter.__file__, 'assets': str(d.ASSETS_ROOT),\n"
        "    'config': d.prometheus_config(9830, 9093)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert Path(got["package"]).is_relative_to(site)
    assets = Path(got["assets"])
    assert assets == site / "exporter" / "assets"
    assert sorted(Path(p).name for p in got["config"]["rule_files"]) == rules
    assert all(Path(p).is_relative_to(assets) for p in got["config"]["rule_files"])
    assert (assets / "alerting" / "alertmanager.yml").is_file()
    # and Prometheus accepts it, rules included
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(got["config"]))
    checked = subprocess.run(
        [require_binary("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rule files found" in checked.stdout + checked.stderr


def test_a_checkout_reads_the_rules_where_they_live():
    from exporter import demo

    assert demo.ASSETS_ROOT == ROOT  # no copy in the source tree: alerting/ is the one source
    assert not (ROOT / "exporter" / "assets").exists()
    config = demo.prometheus_config(9830, None)
    assert sorted(config["rule_files"]) == sorted(
        str(p) for p in (ROOT / "alerting").glob("*.rules.yml")
    )
