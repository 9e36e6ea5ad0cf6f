"""The shipped Prometheus and Alertmanager configurations pass their own tools' checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from exporter.demo import prometheus_config
from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent


def check(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_project_prometheus_yml_is_valid():
    check([require_binary("promtool"), "check", "config", "prometheus.yml"])


def test_demo_prometheus_config_is_valid(tmp_path):
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(prometheus_config(9830, 9093)))
    check([require_binary("promtool"), "check", "config", str(path)])
    config = yaml.safe_load(path.read_text())
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9830"]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["127.0.0.1:9093"]


def test_alertmanager_yml_is_valid():
    check([require_binary("amtool"), "check-config", "alerting/alertmanager.yml"])
