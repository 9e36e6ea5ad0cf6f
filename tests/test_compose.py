"""docker-compose.yml: valid, one exporter per profile, kafka_exporter in the analytics profile, the
demo's PostgreSQL, the sharded `scale` profile, every file it mounts exists and is accepted; hardened: healthchecks and the
waits on them, only Grafana and the exporters beyond loopback, no default Grafana password, the
exporters' state in volumes; the image they build from (Dockerfile, .dockerignore).

No Docker engine runs here, so the stack itself is not started; what can go wrong in the file is
checked with docker-compose's own validation and with the tools that read each mounted file.
"""

from __future__ import annotations

import fnmatch
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from tests.conftest import free_port, require_binary

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
EXPORTERS = ("vigil", "vigil-demo", "vigil-shard-0", "vigil-shard-1")
# compose refuses to start without it; every `docker-compose config` here sets it
GRAFANA_PASSWORD = {"GRAFANA_ADMIN_PASSWORD": "test-only-Gr4fana"}


def compose_env(**env: str) -> dict[str, str]:
    return {**os.environ, **GRAFANA_PASSWORD, **env}


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    out = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out.append((source, target))
    return out


def test_docker_compose_accepts_the_file():
    for profile in ([], ["--profile", "live"], ["--profile", "demo"], ["--profile", "scale"]):
        result = subprocess.run(
            [require_binary("docker-compose"), *profile, "config", "-q"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=compose_env(),
        )
        assert result.returncode == 0, (profile, result.stderr)


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
        env={
            **{k: v for k, v in os.environ.items() if k != "VIGIL_QUERY_URL"},
            **GRAFANA_PASSWORD,
            **env,
        },
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
            env={
                **{k: v for k, v in os.environ.items() if k != "KAFKA_BROKERS"},
                **GRAFANA_PASSWORD,
                **env,
            },
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


def test_the_demo_profile_gives_the_demo_a_postgresql_server_of_its_own():
    """The official image, a demo password from the environment (with a default) that the demo's
    admin URL carries too, checked with pg_isready, reachable only on the compose network."""
    postgres = SERVICES["postgres"]
    assert postgres["image"] == "postgres:16-alpine" and postgres["profiles"] == ["demo"]
    assert "ports" not in postgres and "network_mode" not in postgres
    assert set(postgres.get("networks", {"default": None})) == {"default"}
    check = postgres["healthcheck"]["test"]
    assert check[:2] == ["CMD", "pg_isready"] and "127.0.0.1" in check  # TCP, as the demo connects
    assert SERVICES["vigil-demo"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for env, password in (
        ({}, "vigil-demo"),
        ({"VIGIL_DEMO_POSTGRES_PASSWORD": "s3cret-X"}, "s3cret-X"),
    ):
        services = rendered("demo", **env)
        assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
        url = services["vigil-demo"]["environment"]["VIGIL_DEMO_ANALYTICS_SERVER"]
        # the image's superuser (POSTGRES_USER unset) on the service's name and port
        assert url == f"postgresql://postgres:{password}@postgres:5432/postgres"
        assert "POSTGRES_USER" not in services["postgres"]["environment"]
    # given through the environment, so `ps` in the container does not show the password
    assert not any("analytics-server" in arg for arg in SERVICES["vigil-demo"]["command"])


def test_the_demo_service_runs_every_source_the_demo_has(tmp_path, postgres):
    """The compose demo is `vigil demo` without its own Prometheus, open to the stack's (no login):
    run with the service's own arguments and analytics server URL (on a free loopback port, the
    URL pointed at a throwaway PostgreSQL), it serves the simulated RT API, network, frame,
    Perforce and analytics checks, and its pages and pictures without credentials."""
    from exporter.cli import build_parser

    compose_url = urlsplit(
        rendered("demo")["vigil-demo"]["environment"]["VIGIL_DEMO_ANALYTICS_SERVER"]
    )
    local_url = compose_url._replace(
        netloc=f"{compose_url.username}:{postgres.password}@127.0.0.1:{postgres.port}"
    ).geturl()
    command = SERVICES["vigil-demo"]["command"]
    args = build_parser().parse_args(command)
    assert args.command == "demo" and args.no_prometheus and args.no_login
    assert args.listen == ("0.0.0.0", 9830)  # `exporter:9830` for the stack's Prometheus
    assert SERVICES["vigil-demo"]["environment"]["TMPDIR"] == "/var/lib/vigil"
    port = free_port()
    argv = [a for a in command if not a.startswith("--listen")] + [f"--listen=127.0.0.1:{port}"]
    argv = [a if not a.startswith("--cameras") else "--cameras=50" for a in argv]
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "TMPDIR": str(tmp_path),
            "VIGIL_DEMO_ANALYTICS_SERVER": local_url,
        },
    )
    url = f"http://127.0.0.1:{port}"
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        assert not any("Login" in line for line in printed), printed
        # on the server the URL names, not on a throwaway cluster of the demo's own
        where = f"(PostgreSQL: database vigil_demo_analytics on 127.0.0.1:{postgres.port})"
        assert any(line.rstrip().endswith(where) for line in printed), printed
        wanted = [
            f'vigil_source_up{{source="{source}"'
            for source in ("rt_api", "network", "frames", "p4")
        ]
        # the simulated analytics platform, read through the demo's read-only role
        wanted += [
            'vigil_source_up{source="analytics",instance="vap-demo"} 1',
            'vigil_analytics_scenarios{platform="vap-demo",status="active"}',
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
                text = resp.read().decode()
            if all(series in text for series in wanted):
                break
            time.sleep(1)
        else:
            raise AssertionError(f"not every source ran: {[w for w in wanted if w not in text]}")
        for path in ("/", "/evidence"):
            with urllib.request.urlopen(url + path, timeout=5) as resp:
                assert resp.status == 200
        assert list(tmp_path.glob("vigil-demo-state-*"))  # the state goes where TMPDIR says
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=20)
            printed.append(rest)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert printed and not any(postgres.password in line for line in printed)


def test_the_reporter_service_command_is_accepted_by_vigil_report():
    from reporter.cli import build_parsers, make_options

    command = SERVICES["reporter"]["command"]
    assert command[0] == "schedule"
    _, schedule = build_parsers()
    args = schedule.parse_args(command[1:])
    args = schedule.parse_args(rendered("live")["reporter"]["command"][1:])
    assert args.prometheus == "http://prometheus:9090" and args.out_dir == "/reports"
    make_options(args)  # the time zone and URL are valid


# -- hardening ----------------------------------------------------------------------------------


def test_compose_refuses_to_start_without_a_grafana_admin_password(tmp_path):
    """No default admin password: `docker-compose config` (and so `up`) fails naming the variable."""
    empty_env_file = tmp_path / "empty.env"  # a developer's .env must not hide the refusal
    empty_env_file.write_text("")
    base = {k: v for k, v in os.environ.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    for env in (base, {**base, "GRAFANA_ADMIN_PASSWORD": ""}):
        result = subprocess.run(
            [require_binary("docker-compose"), "--env-file", str(empty_env_file), "config", "-q"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert result.returncode != 0
        assert "GRAFANA_ADMIN_PASSWORD" in result.stderr, result.stderr
    grafana = rendered("demo")["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "test-only-Gr4fana"
    assert SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?"
    )


# what needs what: each dependency must be healthy first
NEEDS = {
    "vigil-shard-0": {"redis"},  # cameras.store
    "vigil-shard-1": {"redis"},
    "prometheus-agent-0": {"victoriametrics"},  # remote write
    "prometheus-agent-1": {"victoriametrics"},
    "vmalert": {"victoriametrics", "alertmanager"},  # its datasource and notifier
    "prometheus": {"alertmanager"},
    "vigil-demo": {"postgres"},  # the simulated analytics platform's database
}


def test_every_service_has_a_healthcheck_and_waits_for_what_it_needs():
    for name, service in SERVICES.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if check.get("disable"):
            # only the reporter: it serves no HTTP, and the image's check asks the exporter port
            assert name == "reporter", name
            continue
        test = check["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), (name, test)
        if service.get("image") == "vigil:latest":
            assert test[1] == "vigil-healthcheck", (name, test)
            url = test[2] if len(test) > 2 else "http://127.0.0.1:9830/-/ready"
        elif name == "redis":
            assert "redis-cli ping" in test[1]
            url = None
        elif name == "postgres":
            assert test[1] == "pg_isready", test
            url = None
        else:  # the busybox wget of the Prometheus, Grafana, VictoriaMetrics, kafka_exporter images
            assert test[1:4] == ["wget", "-q", "-O"], (name, test)
            url = test[-1]
        if url is not None:
            assert url.startswith("http://127.0.0.1:"), (name, url)
        needs = service.get("depends_on", {})
        assert isinstance(needs, dict), f"{name}: depends_on without conditions"
        assert set(needs) == NEEDS.get(name, set()), name
        for dependency, how in needs.items():
            assert how == {"condition": "service_healthy"}, (name, dependency)
            assert not SERVICES[dependency]["healthcheck"].get("disable"), dependency
            # the dependency runs in every profile the service runs in
            profiles = SERVICES[dependency].get("profiles")
            assert profiles is None or set(service.get("profiles", [])) <= set(profiles)
    # the exporters: ready once the first inventory poll has ended
    for name in EXPORTERS:
        assert SERVICES[name]["healthcheck"]["test"] == ["CMD", "vigil-healthcheck"], name
    assert "healthcheck.py" in COMPOSE_HEADER and "VIGIL_HEALTHCHECK_URL=https://" in COMPOSE_HEADER


COMPOSE_HEADER = (ROOT / "docker-compose.yml").read_text().split("\nx-vigil-image", 1)[0]


def published(service: dict) -> list[tuple[str | None, str]]:
    """(host address or None for every interface, host port) of each published port."""
    out = []
    for port in service.get("ports", []):
        parts = str(port).split(":")
        out.append((parts[0] if len(parts) == 3 else None, parts[-2]))
    return out


def test_only_grafana_and_the_exporters_are_published_beyond_loopback():
    # writable without authentication (Prometheus's lifecycle API, silences, VictoriaMetrics' import
    # and delete): the host's loopback only
    for name in ("prometheus", "alertmanager", "victoriametrics"):
        ports = published(SERVICES[name])
        assert ports and all(host == "127.0.0.1" for host, _ in ports), (name, ports)
    assert "--web.enable-lifecycle" in SERVICES["prometheus"]["command"]
    for name, service in SERVICES.items():
        if name == "grafana" or name in EXPORTERS:
            continue
        assert all(host == "127.0.0.1" for host, _ in published(service)), name
    assert published(SERVICES["grafana"]) == [(None, "3000")]


def test_every_exporter_keeps_its_state_in_its_own_volume():
    volumes = {}
    for name in EXPORTERS:
        [volume] = [
            v.split(":")[0]
            for v in SERVICES[name]["volumes"]
            if not v.startswith(".") and v.split(":")[1] == "/var/lib/vigil"
        ]
        assert volume in COMPOSE["volumes"], volume
        volumes[name] = volume
    assert len(set(volumes.values())) == len(EXPORTERS), volumes  # never two writers of one file
    # the image creates the directory for its user, so a new named volume takes that owner
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"mkdir -p [^\n]*/var/lib/vigil", dockerfile)
    assert re.search(r"chown vigil [^\n]*/var/lib/vigil", dockerfile)
    assert "USER vigil" in dockerfile
    # the example configuration keeps every file of the exporter there
    example = yaml.safe_load((ROOT / "vigil.example.yml").read_text())
    paths = [
        example["cameras"]["state_file"],
        example["frames"]["evidence"]["directory"],
        *(server["ticket_file"] for server in example["p4"]["servers"]),
    ]
    assert all(path.startswith("/var/lib/vigil/") for path in paths), paths


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rules as far as this file uses them: the last matching pattern
    wins, and a pattern matching a parent directory matches what is inside."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            ignored = not keep
    return ignored


def test_the_image_is_healthchecked_installed_from_the_lock_and_built_from_a_small_context():
    dockerfile = (ROOT / "Dockerfile").read_text()
    [healthcheck] = [line for line in dockerfile.splitlines() if line.startswith("HEALTHCHECK")]
    assert healthcheck.endswith('CMD ["vigil-healthcheck"]')
    assert "COPY docker/healthcheck.py /usr/local/bin/vigil-healthcheck" in dockerfile
    assert "FROM python:3.11-slim" in dockerfile  # what requirements.lock is made for
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                matches = sorted(ROOT.glob(source))
                assert matches, f"COPY {source}: nothing in the repository matches"
                for match in matches:
                    files = [match] if match.is_file() else sorted(match.rglob("*.py"))
                    copied += [f.relative_to(ROOT).as_posix() for f in files]
    assert "exporter/cli.py" in copied and "alerting/vigil.rules.yml" in copied
    for path in copied:
        assert not dockerignored(path, patterns), f"{path} is COPYed but .dockerignore drops it"
    # never sent to the daemon: the operator's config, secrets, the venv, the history
    for path in ("vigil.yml", "alerting/secrets/smtp_password", ".venv/bin/python", ".git/HEAD"):
        assert dockerignored(path, patterns), path


def self_signed(directory: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vigil.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("vigil.example.org"), x509.IPAddress(ipaddress.ip_address("::1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "vigil.crt", directory / "vigil.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_the_exporters_healthcheck_with_tls_and_basic_auth_as_compose_documents(tmp_path):
    """docker/healthcheck.py against a real `vigil run` behind TLS and basic auth, configured the
    way the compose file's header says (VIGIL_HEALTHCHECK_*); the certificate does not name
    127.0.0.1, as in most deployments."""
    import asyncio
    import time

    import bcrypt

    from tests.conftest import API_KEY, free_port, simulator

    cert_file, key_file = self_signed(tmp_path)
    (tmp_path / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: {cert_file}\n  key_file: {key_file}\n"
        "basic_auth_users:\n"
        f"  health: {bcrypt.hashpw(b'h3alth-pw', bcrypt.gensalt(4)).decode()}\n"
    )
    (tmp_path / "password").write_text("h3alth-pw\n")
    port = free_port()
    check = [sys.executable, str(ROOT / "docker" / "healthcheck.py")]
    documented = {
        **os.environ,
        "VIGIL_HEALTHCHECK_URL": f"https://127.0.0.1:{port}/-/ready",
        "VIGIL_HEALTHCHECK_USER": "health",
        "VIGIL_HEALTHCHECK_PASSWORD_FILE": str(tmp_path / "password"),
    }

    async def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess:
        return await asyncio.to_thread(
            subprocess.run, check, env=env, capture_output=True, text=True, timeout=30
        )

    async with simulator(cameras=3) as sim:
        config = tmp_path / "vigil.yml"
        config.write_text(
            f"listen: 127.0.0.1:{port}\nweb_config_file: {tmp_path / 'web.yml'}\n"
            f"rt_api:\n  url: {sim.api_url}\n  api_key: ${{RT_API_KEY}}\n  inventory_interval: 1s\n"
        )
        with open(tmp_path / "vigil.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exporter", "run", "-c", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RT_API_KEY": API_KEY},
                cwd=ROOT,
            )
        try:
            deadline = time.monotonic() + 30
            while (result := await healthcheck(documented)).returncode != 0:
                assert proc.poll() is None, (tmp_path / "vigil.log").read_text()
                assert time.monotonic() < deadline, result.stderr
                await asyncio.sleep(0.3)
            # verified against the CA too (the name is not checked: it is the container's own)
            verified = await healthcheck(
                {**documented, "VIGIL_HEALTHCHECK_CA_FILE": str(cert_file)}
            )
            assert verified.returncode == 0, verified.stderr
            # what a stack that forgot the settings sees
            no_user = {k: v for k, v in documented.items() if k != "VIGIL_HEALTHCHECK_USER"}
            refused = await healthcheck(no_user)
            assert refused.returncode == 1 and "HTTP 401" in refused.stderr
            plain = await healthcheck(
                {**os.environ, "VIGIL_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/-/ready"}
            )
            assert plain.returncode == 1
            assert "h3alth-pw" not in refused.stderr + verified.stderr + plain.stderr
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 10)
