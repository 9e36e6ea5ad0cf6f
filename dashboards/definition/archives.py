"""Archives: archive integrity across the fleet, and the baked (exported) archives not DONE."""

from __future__ import annotations

from dashboards.definition.fleet import RULE, WINDOWS, quality_colors
from dashboards.definition.kit import (
    ANY_IS_BAD,
    ANY_IS_WARNING,
    BASE,
    COVERAGE,
    Board,
    Q,
    prop,
    sel,
)

DC = sel("vigil_camera_info", 'datacenter=~"$datacenter"')
LABELS = "* on (camera) group_left (name, address, datacenter) " + sel("vigil_camera_info")


def of(metric: str, *matchers: str) -> str:
    """A per-camera series of the chosen data centers."""
    return f"{sel(metric, *matchers)} and on (camera) {DC}"


def build(b: Board) -> None:
    b.custom_variable("window", [(w, w) for w in WINDOWS], multi=False)
    b.query_variable("datacenter", f"label_values({sel('vigil_camera_info')}, datacenter)")
    b.custom_variable("baked_status", [(s, s) for s in ("ERROR", "ENQUEUED", "NEW")], multi=True)
    win = 'window="$window"'
    coverage = "vigil_camera_archive_coverage_ratio"

    b.row("archives.row.fleet", " ($window)")
    b.stat(
        "archives.avg",
        Q(f"avg({of(coverage, win)})", b.t("lg.coverage"), True),
        unit="percentunit",
        steps=COVERAGE,
        decimals=2,
        w=6,
    )
    b.stat(
        "archives.none",
        Q(
            f"count({sel('vigil_camera_archive_recorded_seconds', win)} == 0"
            f" and on (camera) {DC}) or vector(0)",
            b.t("lg.no_recording"),
            True,
        ),
        steps=ANY_IS_BAD,
        w=6,
    )
    b.stat(
        "archives.gap_hour",
        Q(
            f"count({sel('vigil_camera_archive_longest_gap_seconds', win)} > 3600"
            f" and on (camera) {DC}) or vector(0)",
            b.t("lg.gap_hour"),
            True,
        ),
        steps=ANY_IS_WARNING,
        w=6,
    )
    not_growing = (
        f"(time() - {sel('vigil_camera_archive_last_end_timestamp_seconds')} > 1800)"
        f" and on (camera) ({sel('vigil_camera_online')} == 1) and on (camera) {DC}"
    )
    b.stat(
        "archives.not_growing",
        Q(f"count({not_growing}) or vector(0)", b.t("lg.not_growing"), True),
        steps=ANY_IS_BAD,
        w=6,
    )
    bands = (
        ("100 %", "== 1", "green"),
        ("99-100 %", "< 1 >= 0.99", "green"),
        ("90-99 %", "< 0.99 >= 0.9", "super-light-green"),
        ("50-90 %", "< 0.9 >= 0.5", "yellow"),
        ("0-50 %", "< 0.5 > 0", "red"),
        ("0 %", "== 0", "dark-red"),
    )
    b.bars(
        "archives.distribution",
        *(
            Q(
                f"count({sel(coverage, win)} {cond} and on (camera) {DC}) or vector(0)",
                name,
                True,
            )
            for name, cond, _ in bands
        ),
        colors={name: color for name, _, color in bands},
        w=10,
    )
    b.pie(
        "archives.quality",
        Q(
            'vigil:cameras:count_by_archive_quality{window="$window"}',
            "{{quality}}",
            True,
            lint=RULE,
        ),
        colors=quality_colors(b),
        w=7,
    )
    b.graph(
        "archives.avg_over_time",
        Q(f"avg({of(coverage, win)})", b.t("lg.average")),
        unit="percentunit",
        steps=COVERAGE,
        max_=1,
        w=7,
        max_points=200,
    )

    b.row("archives.row.cameras", " ($window)")
    columns = {
        "name": "col.name",
        "address": "col.address",
        "datacenter": "col.datacenter",
        "camera": "col.uid",
    }
    b.table(
        "archives.worst",
        Q(f"bottomk(20, {of(coverage, win)})\n{LABELS}", instant=True, table=True),
        unit="percentunit",
        w=12,
        decimals=2,
        columns={**columns, "Value": "col.coverage"},
        hidden=("window",),
        camera_column="name",
        sort=("Value", False),
        overrides={
            "Value": [
                prop("custom.cellOptions", {"type": "color-background"}),
                prop(
                    "thresholds",
                    {
                        "mode": "absolute",
                        "steps": [{"color": c, "value": v} for c, v in COVERAGE],
                    },
                ),
            ]
        },
    )
    b.table(
        "archives.longest",
        Q(
            f"topk(20, {sel('vigil_camera_archive_longest_gap_seconds', win)} > 0"
            f" and on (camera) {DC})\n{LABELS}",
            instant=True,
            table=True,
        ),
        unit="dtdurations",
        w=12,
        columns={**columns, "Value": "col.longest_gap"},
        hidden=("window",),
        camera_column="name",
        sort=("Value", True),
    )
    b.table(
        "archives.not_growing_list",
        Q(f"topk(20,\n  {not_growing}\n)\n{LABELS}", instant=True, table=True),
        unit="dtdurations",
        steps=[("orange", None), ("red", 86400)],
        w=12,
        h=8,
        columns={**columns, "Value": "col.newest_ended"},
        camera_column="name",
        sort=("Value", True),
    )
    b.table(
        "archives.shallowest",
        Q(
            f"bottomk(20, {of('vigil_camera_archive_depth_seconds')})\n{LABELS}",
            instant=True,
            table=True,
        ),
        unit="dtdurations",
        w=12,
        h=8,
        columns={**columns, "Value": "col.depth"},
        camera_column="name",
        sort=("Value", False),
    )

    b.row("archives.row.baked")
    baked = sel("vigil_baked_archives")
    b.bars(
        "archives.baked_status",
        Q(f"sort_desc(sum by (status) ({baked}))", "{{status}}", True),
        palette=True,
        colors={"ERROR": "red", "DONE": "green", "NEW": "blue", "ENQUEUED": "yellow"},
        w=6,
        h=10,
    )
    pending = sel("vigil_baked_archive_created_timestamp_seconds", 'status=~"$baked_status"')
    b.table(
        "archives.baked_list",
        Q(
            f"(time() - {pending})\n{LABELS}\nor on (archive) (time() - {pending})",
            instant=True,
            table=True,
        ),
        unit="dtdurations",
        w=14,
        h=10,
        columns={
            "name": "col.name",
            "address": "col.address",
            "status": "col.baked_status",
            "Value": "col.age",
            "archive": "col.archive",
            "camera": "col.uid",
            "datacenter": "col.datacenter",
        },
        camera_column="name",
        sort=("Value", True),
        overrides={
            "status": [
                prop(
                    "mappings",
                    [
                        {
                            "type": "value",
                            "options": {
                                "ERROR": {"color": "red", "index": 0},
                                "ENQUEUED": {"color": "yellow", "index": 1},
                                "NEW": {"color": "blue", "index": 2},
                            },
                        }
                    ],
                ),
                prop("custom.cellOptions", {"type": "color-text"}),
            ]
        },
    )
    b.stat(
        "archives.baked_unlisted",
        Q(f"sum({sel('vigil_baked_archives_unlisted')})", b.t("lg.unlisted"), True),
        steps=ANY_IS_WARNING,
        w=4,
        h=10,
    )

    b.row("archives.row.depth")
    depth = sel("vigil_camera_archive_depth_seconds")
    ranges = (
        ("depth.lt1", "< 86400"),
        ("depth.1to7", ">= 86400 < 7 * 86400"),
        ("depth.7to30", ">= 7 * 86400 < 30 * 86400"),
        ("depth.ge30", ">= 30 * 86400"),
    )
    b.bars(
        "archives.depth",
        *(
            Q(f"count({depth} {cond} and on (camera) {DC}) or vector(0)", b.t(name), True)
            for name, cond in ranges
        ),
        palette=True,
        steps=BASE,
    )
    b.graph(
        "archives.daily_quality",
        Q(
            'last_over_time(vigil:cameras:count_by_archive_quality{window="yesterday"}'
            "[1d] offset -172799s)",
            "{{quality}}",
            lint=RULE,
        ),
        w=16,
        bars=True,
        stacked=True,
        daily=True,
        colors=quality_colors(b),
    )
