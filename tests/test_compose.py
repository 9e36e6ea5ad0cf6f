"""docker-compose.yml: valid, one exporter per profile, kafka_exporter in the analytics profile, the
sharded `scale` profile, every file it mounts exists and is accepted.

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
    # one machine's Prometheus runs with either exporter; the scale profile has its own store
    assert SERVICES["prometheus"]["profiles"] == ["live", "demo"]
    # the stack around the exporter runs in every profile
    for name in ("alertmanager", "grafana", "reporter"):
        assert "profiles" not in SERVICES[name], name


def rendered(*profiles: str, **env: str) -> dict:
    """The services as docker-compose resolves them for these profiles and environment."""
    args = [require_binary("docker-compose")]
    for profile in profiles:
        args += ["--profile", profile]
    result = subprocess.run(
        [*args, "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**{k: v for k, v in os.environ.items() if k != "VIGIL_QUERY_URL"}, **env},
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_the_scale_profile_shards_the_exporter_behind_agents_and_victoria_metrics(tmp_path):
    shards = {n: svc for n, svc in SERVICES.items() if n.startswith("vigil-shard-")}
    assert sorted(shards) == ["vigil-shard-0", "vigil-shard-1"]
    for index, (_, service) in enumerate(sorted(shards.items())):
        assert service["profiles"] == ["scale"]
        # the operator's one config; the shard comes from the command line
        assert service["command"] == ["run", "-c", "/etc/vigil/vigil.yml", "--shard", f"{index}/2"]
        assert ("./vigil.yml", "/etc/vigil/vigil.yml") in bind_mounts(service)
    # each shard has its own agent, scraping only that shard and writing to VictoriaMetrics
    promtool = require_binary("promtool")
    for index in range(2):
        agent = SERVICES[f"prometheus-agent-{index}"]
        assert agent["profiles"] == ["scale"] and "--enable-feature=agent" in agent["command"]
        [(source, _)] = [m for m in bind_mounts(agent) if m[1] == "/etc/prometheus/agent.yml"]
        config = yaml.safe_load((ROOT / source).read_text())
        [job] = config["scrape_configs"]
        assert job["static_configs"] == [{"targets": [f"vigil-shard-{index}:9830"]}]
        assert config["remote_write"] == [{"url": "http://victoriametrics:8428/api/v1/write"}]
        result = subprocess.run(
            [promtool, "check", "config", "--agent", str(ROOT / source)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    # pinned images, the same VictoriaMetrics release the tests run (Debian's victoria-metrics)
    for name in ("victoriametrics", "vmalert", "redis"):
        tag = SERVICES[name]["image"].rsplit(":", 1)[1]
        assert SERVICES[name]["profiles"] == ["scale"] and re.fullmatch(r"v?\d+\.\d+\.\d+.*", tag)
    # vmalert evaluates the project's rules on the global view and alerts through Alertmanager
    vmalert = SERVICES["vmalert"]["command"]
    [rule] = [a.split("=", 1)[1] for a in vmalert if a.startswith("-rule=")]
    mounted = {t: s for s, t in bind_mounts(SERVICES["vmalert"])}
    rules = sorted((ROOT / mounted[str(Path(rule).parent)]).glob(Path(rule).name))
    assert rules
    assert "-notifier.url=http://alertmanager:9093" in vmalert
    result = subprocess.run(
        [require_binary("vmalert"), "-dryRun", *[f"-rule={path}" for path in rules]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Grafana and the reporter read what VIGIL_QUERY_URL names: Prometheus unless told otherwise
    for services, url in (
        (rendered("live"), "http://prometheus:9090"),
        (
            rendered("scale", VIGIL_QUERY_URL="http://victoriametrics:8428"),
            "http://victoriametrics:8428",
        ),
    ):
        assert services["grafana"]["environment"]["VIGIL_QUERY_URL"] == url
        assert f"--prometheus={url}" in services["reporter"]["command"]
    # nothing in the profile scrapes an exporter that is not there
    active = {n for n, svc in SERVICES.items() if "scale" in svc.get("profiles", ["scale"])}
    assert active == {
        "vigil-shard-0",
        "vigil-shard-1",
        "redis",
        "prometheus-agent-0",
        "prometheus-agent-1",
        "victoriametrics",
        "vmalert",
        "alertmanager",
        "grafana",
        "reporter",
    }


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
    # Grafana expands $VIGIL_QUERY_URL, which docker-compose.yml sets (Prometheus by default)
    assert datasources["datasources"][0]["url"] == "$VIGIL_QUERY_URL"
    assert env["VIGIL_QUERY_URL"] == "${VIGIL_QUERY_URL:-http://prometheus:9090}"


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
    args = schedule.parse_args(rendered("live")["reporter"]["command"][1:])
    assert args.prometheus == "http://prometheus:9090" and args.out_dir == "/reports"
    make_options(args)  # the time zone and URL are valid
