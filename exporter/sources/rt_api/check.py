"""`vigil rt-check`: Vigil's own parser over a capture, field by field.

Every answer of a `vigil rt-capture` file goes through the functions the source uses
(rt_api/payloads.py), and the report says for each field Vigil reads how many records it understood,
how many lacked it (tolerated: the series is left out, the label empty) and how many carried a value it
could not read (each one a `bad_payload` in a running exporter). Fields the platform sends that Vigil
does not read are listed too, so a new field is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.errors import CheckFailed
from exporter.sources.rt_api.metrics import BAKED_ARCHIVE_STATUSES
from exporter.sources.rt_api.payloads import (
    ALIVE_NAMES,
    CAMERA_FIELDS,
    FieldTally,
    baked_status,
    parse_baked_archives,
    parse_camera,
    parse_camera_page,
    parse_fragments,
)

NAMES = {
    "health": "health.json",
    "cameras": "cameras.json",
    "fragments": "estore_fragments.json",
    "baked_archives": "baked_archives.json",
}
WIDTH = 22


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what was not understood

    def add(self, label: str, text: str, indent: int = 0) -> None:
        pad = " " * indent
        self.lines.append(f"{pad}{label:<{WIDTH - indent}} {text}".rstrip())

    def problem(self, label: str, text: str, indent: int = 0) -> None:
        self.add(label, f"NOT UNDERSTOOD: {text}", indent)
        self.problems.append(f"{label.strip()}: {text}")

    @property
    def ok(self) -> bool:
        return not self.problems


def check_capture(document: dict[str, Any]) -> Report:
    """The report on a loaded capture (rt_api/capture.load)."""
    report = Report()
    answers = document["answers"]
    for name, label in NAMES.items():
        answer = answers.get(name)
        if not isinstance(answer, dict):
            report.add(label, "not in the capture")
            continue
        if "body" not in answer:
            why = answer.get("skipped") or (
                f"the API answered {answer.get('error', 'nothing')}"
                + (f" (HTTP {answer['status']})" if answer.get("status") else "")
            )
            report.add(label, f"not captured: {why}")
            continue
        CHECKS[name](report, label, answer["body"], answer.get("params") or {})
    if report.ok:
        report.lines.append("Every field Vigil publishes was understood.")
    else:
        report.lines.append(
            f"{len(report.problems)} thing(s) Vigil could not read; a running exporter counts "
            "each as bad_payload (vigil_probe_errors_total, vigil_rt_api_fields_unusable)."
        )
    return report


def _health(report: Report, label: str, body: Any, params: dict) -> None:
    # any JSON answer is a healthy API to Vigil: it only checks that the call succeeds
    report.add(label, f"understood (a JSON {type(body).__name__}; only its arrival matters)")


def _cameras(report: Report, label: str, body: Any, params: dict) -> None:
    try:
        page = parse_camera_page(body)
    except CheckFailed as exc:
        report.problem(label, str(exc))
        return
    per_page = params.get("per_page")
    total = (
        f"total_pages {page.total_pages}"
        if page.total_pages is not None
        else "no total_pages (Vigil reads on while pages come back full)"
    )
    report.add(
        label, f"understood: {len(page.records)} camera records (per_page {per_page}), {total}"
    )
    tally = FieldTally()
    for record in page.records:
        parse_camera(record, tally)
    for name in CAMERA_FIELDS:
        _field_line(report, name, tally)
    if tally.skipped:
        report.problem("records", f"{tally.skipped} without a usable uid (skipped)", 2)
    if tally.unknown:
        listed = ", ".join(f"{k} ({n})" for k, n in sorted(tally.unknown.items()))
        report.add("not read by Vigil", listed, 2)


def _field_line(report: Report, name: str, tally: FieldTally) -> None:
    understood, absent, bad = tally.understood[name], tally.absent[name], tally.unusable[name]
    label = "alive / is_alive" if name == "alive" else name
    parts = []
    if understood:
        spelled = ""
        if name == "alive":
            spelled = " (as " + ", ".join(f'"{k}"' for k in ALIVE_NAMES if tally.spelling[k]) + ")"
        parts.append(f"understood in {understood}{spelled}")
    if absent:
        why = " (cameras not reported online)" if name == "offline_since" else ""
        parts.append(f"absent in {absent}{why}")
    if not parts and not bad:
        parts.append("not applicable (no camera needs it)")
    text = ", ".join(parts)
    if bad:
        kinds = ", ".join(k for k, _ in tally.unusable_kinds[name].most_common(3))
        more = f"; {text}" if text else ""
        report.problem(label, f"{bad} value(s) of a kind Vigil cannot read ({kinds}){more}", 2)
    else:
        report.add(label, text, 2)


def _fragments(report: Report, label: str, body: Any, params: dict) -> None:
    try:
        since, _till, skipped = parse_fragments(body)
    except CheckFailed as exc:
        report.problem(label, str(exc))
        return
    report.add(label, f"understood: {len(since)} fragments (since/till)")
    if skipped:
        report.problem("fragments", f"{skipped} without a usable since/till (skipped)", 2)


def _baked(report: Report, label: str, body: Any, params: dict) -> None:
    try:
        page = parse_baked_archives(body)
    except CheckFailed as exc:
        report.problem(label, str(exc))
        return
    shape = "a bare list" if page.shape == "list" else f'{{"{page.shape}": [...]}}'
    limit = params.get("limit")
    report.add(label, f"understood: {len(page.items)} baked archives (limit {limit}) as {shape}")
    statuses = [baked_status(item) for item in page.items]
    bad = statuses.count(None)
    known = len(statuses) - bad
    if known or not bad:
        by_name = ", ".join(
            f"{n} {statuses.count(code)}" for code, n in BAKED_ARCHIVE_STATUSES.items()
        )
        report.add("status", f"understood in {known} ({by_name})", 2)
    if bad:
        report.problem("status", f"{bad} record(s) without a status 0-3 (skipped)", 2)
    if page.total is not None or page.limit is not None:
        report.add("page size", f"the server says total {page.total}, limit {page.limit}", 2)


CHECKS = {
    "health": _health,
    "cameras": _cameras,
    "fragments": _fragments,
    "baked_archives": _baked,
}


def header(document: dict[str, Any], path: str) -> str:
    import datetime as dt

    when = document.get("captured_at")
    stamp = (
        dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        if isinstance(when, int | float)
        else "at an unknown time"
    )
    return (
        f"{path}: captured {stamp} by vigil {document.get('vigil_version', '?')} "
        f"from {document.get('api', '?')}"
    )
