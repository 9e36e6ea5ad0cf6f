"""alerting/alertmanager.yml: valid for amtool, routes by severity, groups by data center and alert
name, inhibits the consequences of an offline camera, of an unreachable RT API, of an analytics
database Vigil cannot read and of absent analytics runners (and the low archive coverage alert under
the critical one), and its example receivers deliver with secrets read from files, on a real
Alertmanager."""

from __future__ import annotations

import base64
import contextlib
import re

import pytest
import yaml

from tests.alerting_support import (
    ALERTMANAGER_YML,
    SECRETS_DIR,
    SmtpServer,
    Webhook,
    alertmanager_version,
    amtool,
    enable_examples,
    running_alertmanager,
    shipped_config,
    with_short_timers,
    with_webhooks,
)
from tests.conftest import eventually, serve_app


def test_shipped_config_passes_amtool_check():
    result = amtool("check-config", str(ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"severity": "critical", "alertname": "CameraOffline", "datacenter": "MSK-1"}, "paging"),
        ({"severity": "critical", "alertname": "RtApiUnreachable", "source": "rt_api"}, "paging"),
        ({"severity": "critical", "alertname": "CameraOfflineOverADay", "camera": "c1"}, "paging"),
        (
            {"severity": "critical", "alertname": "AnalyticsDatabaseUnreachable", "platform": "p"},
            "paging",
        ),
        ({"severity": "warning", "alertname": "AnalyticsLagGrowing", "topic": "scenarios"}, "team"),
        ({"severity": "warning", "alertname": "CameraOffline", "datacenter": "MSK-1"}, "team"),
        ({"severity": "info", "alertname": "CameraFrameBlurred", "datacenter": "SPB-1"}, "ui-only"),
        # a rule that forgot its severity still reaches people
        ({"alertname": "SomethingNew"}, "team"),
    ],
)
def test_routes_by_severity(labels, receiver):
    args = [f"{k}={v}" for k, v in labels.items()]
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_YML}",
        f"--verify.receivers={receiver}",
        *args,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_shipped_receivers_send_nothing_until_an_example_is_enabled():
    """`make demo` runs the shipped file on machines without secrets or a mail server."""
    config = shipped_config()
    for receiver in config["receivers"]:
        assert set(receiver) == {"name"}, receiver["name"]
    assert {r["name"] for r in config["receivers"]} == {"paging", "team", "ui-only"}


def test_enabled_examples_pass_amtool_check(tmp_path):
    text = enable_examples(ALERTMANAGER_YML.read_text())
    config = yaml.safe_load(text)
    kinds = {r["name"]: sorted(k for k in r if k != "name") for r in config["receivers"]}
    assert kinds == {
        "paging": ["email_configs", "telegram_configs", "webhook_configs"],
        "team": ["email_configs", "webhook_configs"],
        "ui-only": [],
    }
    if alertmanager_version() < (0, 26):
        # 0.25 reads the Telegram token only inline (the example says so): check the rest of it
        text = re.sub(r"bot_token_file: \S+", "bot_token: '0:not-a-token'", text)
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    result = amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    secret_keys = re.findall(r"^\s*(\w*(?:password|token|credentials)\w*):", text, re.M)
    assert secret_keys, "the examples name their secret files"
    assert all(k.endswith("_file") for k in secret_keys if k != "bot_token"), secret_keys


def alert(name: str, severity: str, **labels: str) -> dict:
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} test"},
    }


async def test_groups_by_datacenter_and_alertname_and_routes_by_severity(tmp_path):
    hook = Webhook()
    async with serve_app(hook.app()) as hook_url:
        config = with_short_timers(with_webhooks(shipped_config(), hook_url))
        async with running_alertmanager(tmp_path, config) as am:
            await am.post_alerts(
                [
                    alert("CameraOffline", "warning", camera="c1", datacenter="MSK-1"),
                    alert("CameraOffline", "warning", camera="c2", datacenter="MSK-1"),
                    alert("CameraOffline", "warning", camera="c3", datacenter="SPB-1"),
                    alert("CameraOffline", "critical", camera="c4", datacenter="MSK-1"),
                    alert("VigilSourceDown", "critical", source="network", instance="v:9830"),
                    alert("CameraFrameBlurred", "info", camera="c5", datacenter="SPB-1"),
                ]
            )
            await eventually(lambda: len(hook.received) >= 5, timeout=20)

            def groups() -> dict:
                return {
                    (n.receiver, tuple(sorted(n.body["groupLabels"].items()))): sorted(
                        a["labels"].get("camera", "-") for a in n.body["alerts"]
                    )
                    for n in hook.received
                }

            assert groups() == {
                ("team", (("alertname", "CameraOffline"), ("datacenter", "MSK-1"))): ["c1", "c2"],
                ("team", (("alertname", "CameraOffline"), ("datacenter", "SPB-1"))): ["c3"],
                ("paging", (("alertname", "CameraOffline"), ("datacenter", "MSK-1"))): ["c4"],
                ("paging", (("alertname", "VigilSourceDown"),)): ["-"],
                ("ui-only", (("alertname", "CameraFrameBlurred"), ("datacenter", "SPB-1"))): ["c5"],
            }
            api_groups = await am.get("/api/v2/alerts/groups")
            assert sorted((g["receiver"]["name"], len(g["alerts"])) for g in api_groups) == [
                ("paging", 1),
                ("paging", 1),
                ("team", 1),
                ("team", 2),
                ("ui-only", 1),
            ]


KEY_LABELS = ("alertname", "camera", "source", "instance", "platform", "exported_instance")


def key(a: dict) -> tuple[str, ...]:
    labels = a["labels"]
    return tuple(labels.get(k, "") for k in KEY_LABELS)


async def test_inhibitions(tmp_path):
    # sources of inhibition
    offline_c1 = alert("CameraOffline", "warning", camera="c1", source="rt_api", instance="b")
    over_a_day_c3 = alert("CameraOfflineOverADay", "critical", camera="c3", source="rt_api")
    api_down_a = alert("RtApiUnreachable", "critical", source="rt_api", instance="a")
    coverage_critical_c6 = alert(
        "CameraArchiveCoverageCritical", "critical", camera="c6", source="rt_api", instance="b"
    )
    # as the rules label them: the platform is the exporter's instance label (exported_instance),
    # copied to `platform` by the rule
    database_down_prod = alert(
        "AnalyticsDatabaseUnreachable",
        "critical",
        source="analytics",
        instance="a",
        exported_instance="vap-prod",
        platform="vap-prod",
    )
    runners_absent = alert(
        "AnalyticsRunnersAbsent",
        "critical",
        instance="kafka-exporter:9308",
        consumergroup="runners_group",
    )
    sources = [
        offline_c1,
        over_a_day_c3,
        api_down_a,
        coverage_critical_c6,
        database_down_prod,
        runners_absent,
    ]

    def target(name: str, camera: str, source: str, instance: str, want: str):
        labels = {"source": source, "instance": instance, "datacenter": "MSK-1"}
        if camera:
            labels["camera"] = camera
        return alert(name, "warning", **labels), want

    def analytics(name: str, instance: str, want: str, **labels: str):
        return alert(name, "warning", instance=instance, **labels), want

    targets = [
        # the offline camera's own frame, network and archive alerts
        target("CameraFrameBlack", "c1", "frames", "b", "suppressed"),
        target("CameraNetworkProbeFailing", "c1", "network", "b", "suppressed"),
        target("CameraArchiveGap", "c1", "rt_api", "b", "suppressed"),
        target("CameraArchiveCoverageCritical", "c3", "rt_api", "b", "suppressed"),
        # not caused by being offline, or another camera
        target("CameraMemoryCardProblem", "c1", "rt_api", "b", "active"),
        target("CameraFlapping", "c1", "rt_api", "b", "active"),
        target("CameraFrameBlack", "c2", "frames", "b", "active"),
        # the RT API of exporter a is unreachable: its RT alerts are stale, other sources are not
        target("CameraMemoryCardProblem", "c4", "rt_api", "a", "suppressed"),
        target("CameraArchiveNotGrowing", "c4", "rt_api", "a", "suppressed"),
        target("VigilSourceDown", "", "rt_api", "a", "suppressed"),
        target("CameraFrameBlack", "c4", "frames", "a", "active"),
        target("CameraNetworkProbeFailing", "c4", "network", "a", "active"),
        target("VigilSourceStale", "", "frames", "a", "active"),
        # below 50 % coverage only the critical coverage alert remains
        target("CameraArchiveCoverageLow", "c6", "rt_api", "b", "suppressed"),
        target("CameraArchiveCoverageLow", "c2", "rt_api", "b", "active"),
        # exporter b still reaches its RT API
        target("CameraMemoryCardProblem", "c5", "rt_api", "b", "active"),
        # exporter a cannot read the database of vap-prod: its figures there are old
        analytics(
            "AnalyticsScenariosStuck", "a", "suppressed", source="analytics", platform="vap-prod"
        ),
        analytics(
            "AnalyticsPredictionsStale", "a", "suppressed", source="analytics", platform="vap-prod"
        ),
        analytics(
            "VigilSourceStale", "a", "suppressed", source="analytics", exported_instance="vap-prod"
        ),
        # another platform, the same platform read by exporter b, and the API (checked separately)
        analytics(
            "AnalyticsScenariosStuck", "a", "active", source="analytics", platform="vap-test"
        ),
        analytics(
            "AnalyticsScenariosStuck", "b", "active", source="analytics", platform="vap-prod"
        ),
        analytics("AnalyticsApiDown", "a", "active", source="analytics", platform="vap-prod"),
        analytics(
            "VigilSourceStale", "a", "active", source="analytics", exported_instance="vap-test"
        ),
        # no runners in runners_group on this cluster: its lag grows as a consequence
        analytics(
            "AnalyticsLagGrowing",
            "kafka-exporter:9308",
            "suppressed",
            consumergroup="runners_group",
        ),
        analytics("AnalyticsLagGrowing", "kafka-b:9308", "active", consumergroup="runners_group"),
        analytics("AnalyticsRetryStorm", "kafka-exporter:9308", "active", topic="retry_topic"),
    ]
    want = {key(a): state for a, state in targets} | {key(a): "active" for a in sources}
    hook = Webhook()
    async with serve_app(hook.app()) as hook_url:
        config = with_short_timers(with_webhooks(shipped_config(), hook_url))
        async with running_alertmanager(tmp_path, config) as am:
            # sources first, so that no target is notified before its inhibitor is known
            await am.post_alerts(sources)
            await eventually(lambda: am_has(am, len(sources)), timeout=10)
            await am.post_alerts([a for a, _ in targets])

            async def states() -> dict:
                return {key(a): a["status"] for a in await am.alerts()}

            async def settled() -> bool:
                got = await states()
                return {k: s["state"] for k, s in got.items()} == want

            with contextlib.suppress(AssertionError):
                await eventually(settled, timeout=10)
            got = await states()
            assert {k: s["state"] for k, s in got.items()} == want
            fingerprint = {key(a): a["fingerprint"] for a in await am.alerts()}
            by_offline = got[("CameraFrameBlack", "c1", "frames", "b", "", "")]["inhibitedBy"]
            assert by_offline == [fingerprint[key(offline_c1)]]
            by_api = got[("CameraMemoryCardProblem", "c4", "rt_api", "a", "", "")]["inhibitedBy"]
            assert by_api == [fingerprint[key(api_down_a)]]
            stuck = ("AnalyticsScenariosStuck", "", "analytics", "a", "vap-prod", "")
            assert got[stuck]["inhibitedBy"] == [fingerprint[key(database_down_prod)]]
            lag = ("AnalyticsLagGrowing", "", "", "kafka-exporter:9308", "", "")
            assert got[lag]["inhibitedBy"] == [fingerprint[key(runners_absent)]]

            # what users notice: the active alerts are notified, the inhibited ones never
            def notified() -> set:
                return {key(a) for n in hook.received for a in n.body["alerts"]}

            active = {k for k, state in want.items() if state == "active"}
            await eventually(lambda: notified() >= active, timeout=20)
            assert notified() == active


async def am_has(am, n: int) -> bool:
    return len(await am.alerts()) >= n


async def test_enabled_examples_deliver_with_secrets_read_from_files(tmp_path):
    """Uncommented examples, with the URLs and the secrets directory pointed at the test."""
    secrets = {
        "smtp_password": "smtp-pass-7Gq2",
        "paging_webhook_token": "bearer-tok-Zx81",
        "team_webhook_password": "basic-pass-Lm55",
    }
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    for name, value in secrets.items():
        (secret_dir / name).write_text(value)  # no trailing newline (alerting/secrets/README.md)
    hook = Webhook()
    smtp = SmtpServer()
    async with serve_app(hook.app()) as hook_url, smtp.serving():
        text = enable_examples(ALERTMANAGER_YML.read_text()).replace(SECRETS_DIR, f"{secret_dir}/")
        config = yaml.safe_load(text)
        config["global"]["smtp_smarthost"] = f"127.0.0.1:{smtp.port}"
        config["global"]["smtp_require_tls"] = False  # the test's server has no TLS
        for receiver in config["receivers"]:
            receiver.pop("telegram_configs", None)  # needs Alertmanager 0.26 and Telegram
            for hook_config in receiver.get("webhook_configs", []):
                hook_config["url"] = f"{hook_url}/{receiver['name']}"
        config = with_short_timers(config)
        async with running_alertmanager(tmp_path, config) as am:
            await am.post_alerts(
                [
                    alert("CameraOffline", "warning", camera="c1", datacenter="MSK-1"),
                    alert("RtApiUnreachable", "critical", source="rt_api", instance="a"),
                ]
            )
            await eventually(lambda: len(hook.received) >= 2 and len(smtp.mails) >= 2, timeout=20)
            by_receiver = {n.receiver: n for n in hook.received}
            assert by_receiver["paging"].headers["Authorization"] == (
                "Bearer " + secrets["paging_webhook_token"]
            )
            basic = base64.b64encode(f"vigil:{secrets['team_webhook_password']}".encode()).decode()
            assert by_receiver["team"].headers["Authorization"] == f"Basic {basic}"
            assert by_receiver["paging"].body["alerts"][0]["labels"]["alertname"] == (
                "RtApiUnreachable"
            )
            assert set(smtp.auth) == {("vigil-alerts@example.org", secrets["smtp_password"])}
            rcpt = {tuple(m["rcpt"]): m["data"] for m in smtp.mails}
            assert "RtApiUnreachable" in rcpt[("oncall@example.org",)]
            assert "CameraOffline" in rcpt[("video-ops@example.org",)]

            # secrets appear neither in Alertmanager's log nor in the configuration it shows
            status = await am.get("/api/v2/status")
            shown = status["config"]["original"] + am.log_path.read_text()
            for value in secrets.values():
                assert value not in shown
