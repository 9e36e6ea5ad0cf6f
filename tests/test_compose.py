"""docker-compose.yml: valid, one exporter per profile, kafka_exporter in the analytics profile, every
file it mounts exists and is accepted.

No Docker engine runs here, so the stack itself is not started; what can go wrong in the file is
checked with docker-compose's own validation and with the tools that read each mounted file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    out = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out.append((source, target))
    return out


def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        [require_binary("docker-compose"), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_each_profile_runs_exactly_one_exporter_that_prometheus_scrapes():
    scraped = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text())
    targets = scraped["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["exporter:9830"]
    for profile in ("live", "demo"):
        exporters = [
            name
            for name, svc in SERVICES.items()
            if profile in svc.get("profiles", [])
            and "exporter" in svc.get("networks", {}).get("default", {}).get("aliases", [])
        ]
        assert len(exporters) == 1, (profile, exporters)
    assert "simulator" in SERVICES and SERVICES["simulator"]["profiles"] == ["demo"]
    # the stack around the exporter runs in both profiles
    for name in ("prometheus", "alertmanager", "grafana", "reporter"):
        assert "profiles" not in SERVICES[name], name


def test_kafka_exporter_runs_in_the_analytics_profile_and_prometheus_finds_it():
    """kafka_exporter for the analytics alerts: pinned, optional, scraped as job `kafka`."""
    service = SERVICES["kafka-exporter"]
    assert service["profiles"] == ["analytics"]
    image, tag = service["image"].rsplit(":", 1)
    assert image == "danielqsj/kafka-exporter" and re.fullmatch(r"v\d+\.\d+\.\d+", tag), tag
    for env, broker in ({"KAFKA_BROKERS": "broker-1:9092"}, "broker-1:9092"), ({}, "kafka:9092"):
        result = subprocess.run(
            [require_binary("docker-compose"), "--profile", "analytics", "config"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**{k: v for k, v in os.environ.items() if k != "KAFKA_BROKERS"}, **env},
        )
        assert result.returncode == 0, result.stderr
        rendered = yaml.safe_load(result.stdout)["services"]["kafka-exporter"]
        assert rendered["command"] == [f"--kafka.server={broker}"]
    scraped = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text())
    [job] = [j for j in scraped["scrape_configs"] if j["job_name"] == "kafka"]
    # found by name: a stack without the profile has no kafka target (and no KafkaExporterDown)
    [sd] = job["dns_sd_configs"]
    assert sd["names"] == ["kafka-exporter"] and sd["port"] == 9308
    assert 'up{job="kafka"}' in (ROOT / "alerting" / "analytics.rules.yml").read_text()


def test_every_mounted_file_exists():
    for name, service in SERVICES.items():
        for source, _ in bind_mounts(service):
            if source == "./vigil.yml":  # the operator's own, made from vigil.example.yml
                assert (ROOT / "vigil.example.yml").exists()
                continue
            assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_prometheus_in_compose_loads_the_project_rules(tmp_path):
    promtool = require_binary("promtool")
    config = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text())
    mounted = dict((t, s) for s, t in bind_mounts(SERVICES["prometheus"]))
    # the rule path inside the container, mapped back to the repository through the mount
    [pattern] = config["rule_files"]
    inside_dir = str(Path(pattern).parent)
    assert inside_dir in mounted, f"{pattern} is not under a mounted directory"
    rules = sorted((ROOT / mounted[inside_dir]).glob(Path(pattern).name))
    assert rules, "no rule file matches the compose Prometheus's rule_files"
    config["rule_files"] = [str(p) for p in rules]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rule files found" in result.stdout + result.stderr


def test_alertmanager_in_compose_reads_the_project_config():
    mounted = {t: s for s, t in bind_mounts(SERVICES["alertmanager"])}
    flag = next(a for a in SERVICES["alertmanager"]["command"] if a.startswith("--config.file="))
    path = Path(flag.split("=", 1)[1])
    assert (ROOT / mounted[str(path.parent)] / path.name).exists()


def test_grafana_provisions_the_project_dashboards_with_anonymous_viewers():
    grafana = SERVICES["grafana"]
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    mounted = {t: s for s, t in bind_mounts(grafana)}
    provider_file = mounted["/etc/grafana/provisioning/dashboards/vigil.yml"]
    provider = yaml.safe_load((ROOT / provider_file).read_text())["providers"][0]
    dashboards_dir = mounted[provider["options"]["path"]]
    assert list((ROOT / dashboards_dir).glob("*.json"))
    home = Path(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (ROOT / mounted[str(home.parent)] / home.name).exists()
    datasources = yaml.safe_load(
        (ROOT / mounted["/etc/grafana/provisioning/datasources/vigil.yml"]).read_text()
    )
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"


def test_the_demo_exporter_config_is_valid():
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", "-c", "docker/vigil-demo.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "VIGIL_SIM_API_KEY": SERVICES["vigil-demo"]["environment"]["VIGIL_SIM_API_KEY"],
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert SERVICES["simulator"]["environment"] == SERVICES["vigil-demo"]["environment"]
    assert "--listen" in SERVICES["simulator"]["command"]


def test_the_reporter_service_command_is_accepted_by_vigil_report():
    from reporter.cli import build_parsers, make_options

    command = SERVICES["reporter"]["command"]
    assert command[0] == "schedule"
    _, schedule = build_parsers()
    args = schedule.parse_args(command[1:])
    assert args.prometheus == "http://prometheus:9090" and args.out_dir == "/reports"
    make_options(args)  # the time zone and URL are valid
