"""Alert rules: promtool accepts them, every alert follows the conventions, unit tests pass."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = sorted((ROOT / "alerting").glob("*.rules.yml"))
RULE_TESTS = sorted((ROOT / "alerting" / "tests").glob("*.test.yml"))


def promtool(*args: str) -> None:
    result = subprocess.run(
        [require_binary("promtool"), *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_files_pass_promtool_check():
    assert RULE_FILES
    promtool("check", "rules", *map(str, RULE_FILES))


def test_rule_unit_tests_pass():
    assert RULE_TESTS
    promtool("test", "rules", *map(str, RULE_TESTS))


def test_every_alert_follows_the_conventions_and_has_a_unit_test():
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    anchors = {h.lower() for h in re.findall(r"^## (\w+)", runbook, re.M)}
    tested = {
        t["alertname"]
        for f in RULE_TESTS
        for case in yaml.safe_load(f.read_text())["tests"]
        for t in case.get("alert_rule_test", [])
    }
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                name = rule["alert"]
                assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), name
                assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
                notes = rule["annotations"]
                assert "{{" not in notes["summary"], f"{name}: summary must be static"
                assert "{{" in notes["description"], f"{name}: description must be templated"
                anchor = notes["runbook_url"].split("#", 1)[1]
                # absolute when Prometheus has the base URLs as external labels (docs/design.md)
                docs, grafana = (
                    "{{ $externalLabels.vigil_docs_url }}",
                    "{{ $externalLabels.vigil_grafana_url }}",
                )
                assert notes["runbook_url"].startswith(docs + "docs/runbook.md#"), name
                assert anchor in anchors, f"{name}: no section {anchor} in docs/runbook.md"
                assert notes["dashboard_url"].startswith(grafana + "/d/"), name
                if "evidence_url" in notes:
                    assert notes["evidence_url"].startswith(
                        '{{ or $externalLabels.vigil_exporter_url (print "http://" $labels.instance) }}'
                    ), name
                assert name in tested, f"{name} has no promtool unit test"
