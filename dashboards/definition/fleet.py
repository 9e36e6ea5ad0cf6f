"""Fleet overview: the whole camera fleet at a glance (compose's home dashboard)."""

from __future__ import annotations

from dashboards.definition.kit import (
    ANY_IS_BAD,
    ANY_IS_WARNING,
    ONLINE_SHARE,
    Board,
    Colors,
    Q,
    prop,
    sel,
)

WINDOWS = ("1d", "7d", "30d", "90d", "today", "yesterday")
RULE = {"target-job-rule": "lint.rule", "target-instance-rule": "lint.rule"}
LABELS = "* on (camera) group_left (name, address, datacenter) " + sel("vigil_camera_info")


def quality_colors(b: Board) -> Colors:
    """The quality bands of vigil:cameras:count_by_archive_quality, coloured and translated."""
    return {
        band: (color, b.t(f"band.{band}"))
        for band, color in (
            ("good", "green"),
            ("degraded", "yellow"),
            ("poor", "red"),
            ("none", "dark-red"),
        )
    }


def build(b: Board) -> None:
    b.custom_variable("window", [(w, w) for w in WINDOWS], multi=False)
    online = sel("vigil_camera_online")
    b.row("fleet.row.cameras")
    b.stat("fleet.cameras", Q(f"count({sel('vigil_camera_info')})", b.t("lg.cameras"), True))
    b.stat("fleet.online", Q(f"sum({online})", b.t("lg.online"), True))
    b.stat(
        "fleet.offline",
        Q(f"count({online} == 0) or vector(0)", b.t("lg.offline"), True),
        steps=ANY_IS_BAD,
    )
    b.stat(
        "fleet.online_share",
        Q(f"avg({online})", b.t("lg.online"), True),
        unit="percentunit",
        steps=ONLINE_SHARE,
        decimals=1,
    )
    b.stat(
        "fleet.offline_day",
        Q(
            f"count(time() - {sel('vigil_camera_offline_since_timestamp_seconds')} > 86400)"
            " or vector(0)",
            b.t("lg.offline_day"),
            True,
        ),
        steps=ANY_IS_WARNING,
    )
    b.stat(
        "fleet.card_problems",
        Q(f"sum({sel('vigil_camera_memory_card_problem')})", b.t("lg.problems"), True),
        steps=ANY_IS_BAD,
    )
    b.pie(
        "fleet.online_pie",
        Q(f"sum({online})", b.t("lg.online"), True),
        Q(f"count({online} == 0) or vector(0)", b.t("lg.offline"), True),
        colors={b.t("lg.online"): "green", b.t("lg.offline"): "red"},
        w=6,
    )
    for key, label in (("fleet.by_vendor", "vendor"), ("fleet.by_datacenter", "datacenter")):
        b.bars(
            key,
            Q(
                f"sort(avg by ({label}) ({online} * on (camera) group_left ({label}) "
                f"{sel('vigil_camera_info')}))",
                f"{{{{{label}}}}}",
                True,
            ),
            unit="percentunit",
            steps=ONLINE_SHARE,
            decimals=1,
            minmax=(0, 1),
            w=6,
        )
    b.bars(
        "fleet.card_states",
        Q(
            f"sort_desc(count by (state) ({sel('vigil_camera_memory_card_state')} == 1))",
            "{{state}}",
            True,
        ),
        palette=True,
        w=6,
    )
    b.graph(
        "fleet.online_over_time",
        Q(f"avg({online})", b.t("lg.fleet")),
        Q("vigil:camera_online:ratio_by_datacenter", "{{datacenter}}", lint=RULE),
        unit="percentunit",
        steps=ONLINE_SHARE,
        max_=1,
        max_points=300,
    )
    b.graph(
        "fleet.offline_over_time",
        Q(f"count({online} == 0) or vector(0)", b.t("lg.offline")),
        Q(f"sum({sel('vigil_camera_memory_card_problem')})", b.t("lg.card_problems")),
        max_points=300,
    )

    b.row("fleet.row.problems")
    b.table(
        "fleet.longest_offline",
        Q(
            f"topk(20, time() - {sel('vigil_camera_offline_since_timestamp_seconds')})\n{LABELS}",
            instant=True,
            table=True,
        ),
        unit="dtdurations",
        steps=[("orange", None), ("red", 86400)],
        w=14,
        columns={
            "name": "col.name",
            "address": "col.address",
            "datacenter": "col.datacenter",
            "camera": "col.uid",
            "Value": "col.offline_for",
        },
        camera_column="name",
        sort=("Value", True),
        overrides={"Value": [prop("custom.cellOptions", {"type": "color-text"})]},
    )
    b.table(
        "fleet.card_problem_list",
        Q(
            f"(\n  ({sel('vigil_camera_memory_card_state')} == 1)\n"
            f"  and on (camera) ({sel('vigil_camera_memory_card_problem')} == 1)\n)\n{LABELS}",
            instant=True,
            table=True,
        ),
        w=10,
        columns={
            "name": "col.name",
            "address": "col.address",
            "datacenter": "col.datacenter",
            "state": "col.card_state",
            "camera": "col.uid",
        },
        hidden=("Value",),
        camera_column="name",
        sort=("state", False),
    )

    b.row("fleet.row.archives")
    bands = quality_colors(b)
    b.pie(
        "fleet.quality",
        Q(
            'vigil:cameras:count_by_archive_quality{window="$window"}',
            "{{quality}}",
            True,
            lint=RULE,
        ),
        colors=bands,
    )
    b.graph(
        "fleet.quality_over_time",
        Q(
            'vigil:cameras:count_by_archive_quality{window="$window"}',
            "{{quality}}",
            lint=RULE,
        ),
        stacked=True,
        colors=bands,
        w=8,
    )
    b.bars(
        "fleet.baked",
        Q(f"sort_desc({sel('vigil_baked_archives')})", "{{status}}", True),
        palette=True,
        colors={"ERROR": "red", "DONE": "green", "NEW": "blue", "ENQUEUED": "yellow"},
    )

    b.row("fleet.row.network")
    b.stat(
        "fleet.network_failing",
        Q(
            f"count(min by (camera) ({sel('vigil_camera_probe_success')}) == 0) or vector(0)",
            b.t("lg.failing"),
            True,
        ),
        steps=ANY_IS_BAD,
        w=6,
        h=8,
    )
    rtt = sel("vigil_probe_rtt_seconds_bucket")
    b.graph(
        "fleet.rtt",
        *(
            Q(
                f"histogram_quantile({q}, sum by (le, check) (rate({rtt}[$__rate_interval])))",
                f"{name} {{{{check}}}}",
            )
            for q, name in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))
        ),
        unit="s",
        w=18,
    )
