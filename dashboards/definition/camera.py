"""Camera detail: one camera's identity, status, archive with 90 days of history, network checks,
frame quality and evidence."""

from __future__ import annotations

from dashboards.definition.kit import BASE, COVERAGE, Board, Q, prop, sel

CAM = 'camera="$camera"'
WINDOWS = ("today", "yesterday", "1d", "7d", "30d", "90d")
YESTERDAY = 'window="yesterday"'
DAILY = "[1d] offset -172799s"  # day D's final figure: docs/metrics.md, "Daily history"


def build(b: Board) -> None:
    picker = (
        "query_result(\n"
        f"  group by (camera, name) ({sel('vigil_camera_info')})\n"
        f"  or on (camera) group by (camera) ({sel('vigil_camera_target_info')})\n"
        f"  or on (camera) group by (camera) ({sel('vigil_camera_frame_success')})\n)"
    )
    b.query_variable(
        "camera", picker, multi=False, regex='/camera="(?<value>[^"]+)"(?:,name="(?<text>[^"]*)")?/'
    )
    yes_no = {"1": (b.t("val.yes"), "green"), "0": (b.t("val.no"), "red")}

    b.row("camera.row.identity")
    b.table(
        "camera.identity",
        Q(sel("vigil_camera_info", CAM), instant=True, table=True),
        w=18,
        h=4,
        columns={
            "name": "col.name",
            "camera": "col.uid",
            "sn": "col.sn",
            "mac": "col.mac",
            "ip": "col.ip",
            "vendor": "col.vendor",
            "model": "col.model",
            "firmware": "col.firmware",
            "datacenter": "col.datacenter",
            "address": "col.address",
        },
        hidden=("Value",),
    )
    b.table(
        "camera.target",
        Q(sel("vigil_camera_target_info", CAM), instant=True, table=True),
        w=6,
        h=4,
        columns={"host": "col.host", "port": "col.port"},
        hidden=("Value", "camera"),
    )
    b.stat(
        "camera.platform_status",
        Q(sel("vigil_camera_online", CAM), b.t("lg.online"), True),
        mappings={"1": (b.t("val.online"), "green"), "0": (b.t("val.offline"), "red")},
    )
    b.stat(
        "camera.alive",
        Q(sel("vigil_camera_alive", CAM), b.t("lg.alive"), True),
        mappings={"1": (b.t("val.alive"), "green"), "0": (b.t("val.not_alive"), "red")},
    )
    b.stat(
        "camera.offline_for",
        Q(
            f"time() - {sel('vigil_camera_offline_since_timestamp_seconds', CAM)}",
            b.t("lg.offline_for"),
            True,
        ),
        unit="dtdurations",
        steps=[("orange", None), ("red", 86400)],
        no_value=b.t("val.not_offline"),
    )
    b.stat(
        "camera.card",
        Q(
            f"{sel('vigil_camera_memory_card_problem', CAM)}\n"
            f"* on (camera) group_left (state) ({sel('vigil_camera_memory_card_state', CAM)} == 1)",
            "{{state}}",
            True,
        ),
        mappings={"0": (b.t("val.ok"), "green"), "1": (b.t("val.problem"), "red")},
        text_mode="name",
    )
    b.stat(
        "camera.depth",
        Q(sel("vigil_camera_archive_depth_seconds", CAM), b.t("lg.depth"), True),
        unit="dtdurations",
        steps=[("orange", None), ("green", 86400)],
    )
    b.stat(
        "camera.newest",
        Q(
            f"time() - {sel('vigil_camera_archive_last_end_timestamp_seconds', CAM)}",
            b.t("lg.since_newest"),
            True,
        ),
        unit="dtdurations",
        steps=[("green", None), ("red", 1800)],
    )

    b.row("camera.row.status")
    online = b.timeline(
        "camera.online_alive",
        Q(sel("vigil_camera_online", CAM), b.t("lg.online")),
        Q(sel("vigil_camera_alive", CAM), b.t("lg.alive")),
        mappings=yes_no,
    )
    online.override_by_name(
        b.t("lg.online"),
        [
            prop(
                "mappings",
                [
                    {
                        "type": "value",
                        "options": {
                            "1": {"text": b.t("val.online"), "color": "green", "index": 0},
                            "0": {"text": b.t("val.offline"), "color": "red", "index": 1},
                        },
                    }
                ],
            )
        ],
    )
    b.timeline(
        "camera.recording",
        Q(
            f"time() - {sel('vigil_camera_archive_last_end_timestamp_seconds', CAM)} < bool 1800",
            b.t("lg.recording"),
        ),
        mappings={"1": (b.t("val.recording"), "green"), "0": (b.t("val.not_recording"), "red")},
        h=4,
    )
    b.timeline(
        "camera.network",
        Q(sel("vigil_camera_probe_success", CAM), "{{check}}"),
        mappings={"1": (b.t("val.ok"), "green"), "0": (b.t("val.failing"), "red")},
        w=12,
        h=6,
    )
    b.graph(
        "camera.rtt",
        Q(sel("vigil_camera_probe_rtt_seconds", CAM), "{{check}}"),
        unit="s",
        h=6,
    )

    b.row("camera.row.archive")
    b.bars(
        "camera.coverage",
        *(
            Q(
                sel("vigil_camera_archive_coverage_ratio", CAM, f'window="{w}"'),
                b.t(f"window.{w}"),
                True,
            )
            for w in WINDOWS
        ),
        unit="percentunit",
        steps=COVERAGE,
        decimals=2,
        minmax=(0, 1),
        w=10,
    )
    figures = (
        "vigil_camera_archive_recorded_seconds",
        "vigil_camera_archive_gaps",
        "vigil_camera_archive_longest_gap_seconds",
        "vigil_camera_archive_gap_seconds",
        "vigil_camera_archive_fragments",
    )
    durations = [prop("unit", "dtdurations")]
    b.table(
        "camera.by_window",
        *(Q(f"max by (window) ({sel(m, CAM)})", instant=True, table=True) for m in figures),
        w=14,
        h=8,
        merge=True,
        columns={
            "window": "col.window",
            "Value #A": "col.recorded",
            "Value #B": "col.gaps",
            "Value #C": "col.longest_gap",
            "Value #D": "col.gap_time",
            "Value #E": "col.fragments",
        },
        overrides={"Value #A": durations, "Value #C": durations, "Value #D": durations},
    )
    b.history(
        "camera.daily_coverage",
        Q(
            f"last_over_time({sel('vigil_camera_archive_coverage_ratio', CAM, YESTERDAY)}{DAILY})",
            b.t("lg.coverage"),
        ),
        unit="percentunit",
        steps=COVERAGE,
    )
    b.graph(
        "camera.daily_time",
        Q(
            f"last_over_time({sel('vigil_camera_archive_recorded_seconds', CAM, YESTERDAY)}{DAILY})",
            b.t("lg.recorded"),
        ),
        Q(
            f"last_over_time({sel('vigil_camera_archive_gap_seconds', CAM, YESTERDAY)}{DAILY})",
            b.t("lg.gap_time"),
        ),
        unit="s",
        w=24,
        h=7,
        bars=True,
        daily=True,
        colors={b.t("lg.recorded"): "green", b.t("lg.gap_time"): "red"},
    )

    b.row("camera.row.frames")
    b.timeline(
        "camera.frame_problems",
        Q(sel("vigil_camera_frame_problem", CAM), "{{problem}}"),
        Q(f"1 - {sel('vigil_camera_frame_success', CAM)}", b.t("lg.fetch_failed")),
        mappings={"0": (b.t("val.no"), "green"), "1": (b.t("val.yes"), "red")},
        w=12,
        h=7,
    )
    b.table(
        "camera.evidence",
        Q(
            f"{sel('vigil_camera_frame_evidence_timestamp_seconds', CAM)} * 1000",
            instant=True,
            table=True,
        ),
        unit="dateTimeAsIso",
        w=12,
        h=7,
        columns={"problem": "col.problem", "Value": "col.captured", "instance": "col.exporter"},
        hidden=("camera",),
        sort=("Value", True),
        overrides={
            "problem": [
                prop(
                    "links",
                    [
                        {
                            "title": b.t("link.evidence"),
                            "url": "http://${__data.fields.instance}/evidence/${camera}/latest"
                            "?problem=${__data.fields.problem}",
                            "targetBlank": True,
                        }
                    ],
                )
            ]
        },
    )
    b.graph(
        "camera.brightness",
        Q(sel("vigil_camera_frame_brightness_ratio", CAM), b.t("lg.brightness")),
        Q(sel("vigil_camera_frame_occlusion_ratio", CAM), b.t("lg.occlusion")),
        unit="percentunit",
        max_=1,
        w=8,
        h=7,
    )
    b.graph(
        "camera.sharpness",
        Q(sel("vigil_camera_frame_sharpness", CAM), b.t("lg.sharpness")),
        w=8,
        h=7,
    )
    unchanged = b.graph(
        "camera.unchanged",
        Q(sel("vigil_camera_frame_unchanged_seconds", CAM), b.t("lg.unchanged")),
        Q(sel("vigil_camera_frame_displacement_pixels", CAM), b.t("lg.displacement")),
        unit="s",
        steps=BASE,
        w=8,
        h=7,
    )
    unchanged.override_by_name(
        b.t("lg.displacement"), [prop("unit", "pixel"), prop("custom.axisPlacement", "right")]
    )
