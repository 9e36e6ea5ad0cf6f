"""Frame quality of the cameras Vigil analyses: current problems with evidence, values over time,
analysis performance."""

from __future__ import annotations

from dashboards.definition.kit import ANY_IS_BAD, Board, Q, prop, sel

CAMS = 'camera=~"$camera"'


def build(b: Board) -> None:
    b.query_variable("camera", f"label_values({sel('vigil_camera_frame_success')}, camera)")
    success = sel("vigil_camera_frame_success", CAMS)
    problem = sel("vigil_camera_frame_problem", CAMS)
    b.stat("frames.analysed", Q(f"count({success}) or vector(0)", b.t("lg.cameras"), True), w=6)
    b.stat(
        "frames.not_fetched",
        Q(f"count({success} == 0) or vector(0)", b.t("lg.failing"), True),
        steps=ANY_IS_BAD,
        w=6,
    )
    b.stat(
        "frames.with_problem",
        Q(f"count(max by (camera) ({problem}) == 1) or vector(0)", b.t("lg.with_problem"), True),
        steps=ANY_IS_BAD,
        w=6,
    )
    analysis = sel("vigil_frame_analysis_seconds_bucket")
    b.stat(
        "frames.p90",
        Q(
            f"histogram_quantile(0.9, sum by (le) (rate({analysis}[$__rate_interval])))",
            "p90",
            True,
        ),
        unit="s",
        w=6,
    )
    b.bars(
        "frames.by_problem",
        Q(f"sum by (problem) ({problem})", "{{problem}}", True),
        steps=ANY_IS_BAD,
        h=9,
    )
    b.table(
        "frames.current",
        Q(
            f"({problem} == 1)\n* on (camera, problem) group_left ()\n"
            f"  ({sel('vigil_camera_frame_evidence_timestamp_seconds')} * 1000)\n"
            f"or ({problem} == 1) * NaN",
            instant=True,
            table=True,
        ),
        unit="dateTimeAsIso",
        w=16,
        h=9,
        columns={
            "camera": "col.camera",
            "problem": "col.problem",
            "Value": "col.evidence_captured",
            "instance": "col.exporter",
        },
        camera_column="camera",
        sort=("Value", True),
        overrides={
            "problem": [
                prop(
                    "links",
                    [
                        {
                            "title": b.t("link.evidence"),
                            "url": "http://${__data.fields.instance}/evidence/"
                            "${__data.fields.camera}/latest?problem=${__data.fields.problem}",
                            "targetBlank": True,
                        }
                    ],
                )
            ],
            "Value": [
                prop(
                    "mappings",
                    [
                        {
                            "type": "special",
                            "options": {
                                "match": "nan",
                                "result": {"text": b.t("val.no_evidence"), "index": 0},
                            },
                        }
                    ],
                )
            ],
        },
    )

    b.row("frames.row.values")
    for key, metric, unit, max_ in (
        ("frames.brightness", "vigil_camera_frame_brightness_ratio", "percentunit", 1),
        ("frames.sharpness", "vigil_camera_frame_sharpness", "none", None),
        ("frames.occlusion", "vigil_camera_frame_occlusion_ratio", "percentunit", 1),
        ("frames.unchanged", "vigil_camera_frame_unchanged_seconds", "s", None),
        ("frames.displacement", "vigil_camera_frame_displacement_pixels", "pixel", None),
    ):
        b.graph(key, Q(sel(metric, CAMS), "{{camera}}"), unit=unit, max_=max_, camera_link=True)
    b.graph(
        "frames.problems_over_time",
        Q(f"sum by (problem) ({problem})", "{{problem}}"),
        stacked=True,
    )

    b.row("frames.row.analysis")
    b.graph(
        "frames.analysis_time",
        *(
            Q(
                f"histogram_quantile({q}, sum by (le, source) (rate({analysis}[$__rate_interval])))",
                f"{name} {{{{source}}}}",
            )
            for q, name in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))
        ),
        unit="s",
        w=8,
    )
    b.graph(
        "frames.rate",
        Q(
            f"sum by (source) (rate({sel('vigil_frame_analysis_seconds_count')}[$__rate_interval]))",
            b.t("lg.analysed") + " {{source}}",
        ),
        Q(
            f"sum by (source) (rate({sel('vigil_frames_skipped_total')}[$__rate_interval]))",
            b.t("lg.skipped") + " {{source}}",
        ),
        unit="cps",
        w=8,
    )
    b.graph(
        "frames.failures",
        Q(
            "sum by (reason) (rate("
            + sel("vigil_probe_errors_total", 'source="frames"')
            + "[$__rate_interval]))",
            "{{reason}}",
        ),
        unit="cps",
        w=8,
    )
