"""End to end with the real binaries: simulated RT API -> exporter -> Prometheus with the project's
rules -> Alertmanager with the project's routes and inhibitions -> a webhook owned by the test.

Only what has to be quick is changed, programmatically from the shipped files: every `for:` of the
rules is 2s, the routes' group_wait and group_interval are 1s, and the receivers post to the test.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from tests.alerting_support import (
    Webhook,
    alert_rule,
    running_alertmanager,
    shipped_config,
    with_short_timers,
    with_webhooks,
    write_rule_copies,
)
from tests.conftest import (
    eventually,
    require_binary,
    running_exporter,
    running_prometheus,
    serve_app,
    simulator,
)

RECEIVER_BY_SEVERITY = {"critical": "paging", "warning": "team", "info": "ui-only"}


def switchable_offline(monkeypatch, fleet) -> dict[str, int]:
    """Cameras put in the returned dict (uid -> offline since) are offline in the RT API's answers.

    The simulator has no per-camera switch; its camera list is wrapped instead, so the exporter
    still reads them over HTTP exactly as it reads the RT platform.
    """
    offline: dict[str, int] = {}
    original = fleet.page

    def page(now: float, page: int, per_page: int) -> dict[str, Any]:
        body = original(now, page, per_page)
        for record in body["cameras"]:
            since = offline.get(record["uid"])
            if since is not None:
                record["is_online"] = False
                record["offline_since"] = since
                if "alive" in record:
                    record["alive"] = False
        return body

    monkeypatch.setattr(fleet, "page", page)
    return offline


async def test_offline_camera_is_alerted_inhibited_while_the_api_is_down_and_resolved(
    tmp_path, monkeypatch
):
    require_binary("prometheus")
    rule = alert_rule("CameraOffline")
    hook = Webhook()
    async with simulator(cameras=20) as sim, serve_app(hook.app()) as hook_url:
        victim = next(r for r in sim.fleet.cameras(time.time()) if r.get("is_online") is True)
        uid = victim["uid"]
        offline = switchable_offline(monkeypatch, sim.fleet)
        am_config = with_short_timers(with_webhooks(shipped_config(), hook_url))
        async with (
            running_exporter(sim.api_url) as exporter,
            running_alertmanager(tmp_path, am_config) as am,
        ):
            prom_config = {
                "global": {
                    "scrape_interval": "1s",
                    "evaluation_interval": "1s",
                    # the base URLs that make the annotations' links absolute
                    "external_labels": {
                        "vigil_docs_url": "https://docs.example/vigil/",
                        "vigil_grafana_url": "https://grafana.example",
                    },
                },
                "rule_files": [str(p) for p in write_rule_copies(tmp_path / "rules")],
                "alerting": {
                    "alertmanagers": [
                        {"static_configs": [{"targets": [am.url.removeprefix("http://")]}]}
                    ]
                },
                "scrape_configs": [
                    {
                        "job_name": "vigil",
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
                    }
                ],
            }
            async with running_prometheus(tmp_path, prom_config, tmp_path / "tsdb") as query:
                online = f'vigil_camera_online{{camera="{uid}"}} == 1'
                await eventually(lambda: query(online), timeout=30)

                # 1. the camera goes offline: the alert arrives with its labels and annotations
                offline[uid] = int(time.time())

                def notified(status: str) -> list[tuple[Any, dict]]:
                    return [
                        (n, a)
                        for n, a in hook.alerts(alertname="CameraOffline", camera=uid)
                        if a["status"] == status
                    ]

                (notification, firing), *_ = await eventually(lambda: notified("firing"), 30)
                datacenter = victim["data_center"]["name"]
                severity = rule["labels"]["severity"]
                labels = firing["labels"]
                assert {k: labels.get(k) for k in ("name", "address", "datacenter")} == {
                    "name": victim["name"],
                    "address": victim["address"],
                    "datacenter": datacenter,
                }
                assert labels["severity"] == severity
                assert labels["source"] == "rt_api"
                notes = firing["annotations"]
                assert notes["summary"] == rule["annotations"]["summary"]
                assert notes["runbook_url"] == (
                    "https://docs.example/vigil/docs/runbook.md#cameraoffline"
                )
                for text in (victim["name"], uid, victim["address"], datacenter):
                    assert text in notes["description"], (text, notes["description"])
                assert notes["dashboard_url"] == (
                    f"https://grafana.example/d/vigil-camera/camera?var-camera={uid}"
                )
                assert notification.receiver == RECEIVER_BY_SEVERITY[severity]
                assert notification.body["groupLabels"] == {
                    "alertname": "CameraOffline",
                    "datacenter": datacenter,
                }

                # 2. the RT API stops answering: RtApiUnreachable inhibits the camera's alert
                sim.faults.set("http_5xx", status=500)

                async def camera_status() -> dict | None:
                    for a in await am.alerts():
                        got = a["labels"]
                        if got["alertname"] == "CameraOffline" and got.get("camera") == uid:
                            return a["status"]
                    return None

                async def inhibited_by_api() -> bool:
                    api = [
                        a["fingerprint"]
                        for a in await am.alerts()
                        if a["labels"]["alertname"] == "RtApiUnreachable"
                    ]
                    status = await camera_status()
                    return bool(api) and status is not None and status["inhibitedBy"] == api

                with contextlib.suppress(AssertionError):
                    await eventually(inhibited_by_api, timeout=30)
                assert await inhibited_by_api(), (await camera_status(), await am.alerts())

                sim.faults.clear()

                async def active_again() -> bool:
                    status = await camera_status()
                    return status is not None and status["state"] == "active"

                await eventually(active_again, timeout=30)

                # 3. the camera comes back: the resolve notification arrives
                del offline[uid]
                (_, resolved), *_ = await eventually(lambda: notified("resolved"), 30)
                assert resolved["labels"] == labels
                assert resolved["endsAt"] > resolved["startsAt"]
