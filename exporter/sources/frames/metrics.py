"""Metric families of the frame-quality checks (one partition per camera)."""

from __future__ import annotations

from exporter.catalogue import counter, gauge, histogram

FRAME_PROBLEMS = ("black", "blur", "occluded", "displaced", "frozen")
ANALYSIS_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)

_CAMERA = ("camera",)
FRAME_SUCCESS = gauge(
    "vigil_camera_frame_success",
    "1 when the camera's latest frame was fetched and decoded, 0 when it failed.",
    _CAMERA,
)
FRAME_BRIGHTNESS = gauge(
    "vigil_camera_frame_brightness_ratio",
    "Mean brightness of the latest frame, 0 (black) to 1 (white).",
    _CAMERA,
)
FRAME_SHARPNESS = gauge(
    "vigil_camera_frame_sharpness",
    "Variance of the Laplacian of the latest frame at 1/4 resolution (higher is sharper).",
    _CAMERA,
)
FRAME_OCCLUSION = gauge(
    "vigil_camera_frame_occlusion_ratio",
    "Share of the latest frame without texture (0..1).",
    _CAMERA,
)
FRAME_DISPLACEMENT = gauge(
    "vigil_camera_frame_displacement_pixels",
    "Shift of the latest frame against the camera's reference, in full-resolution pixels.",
    _CAMERA,
)
FRAME_UNCHANGED = gauge(
    "vigil_camera_frame_unchanged_seconds",
    "How long every frame of the camera has been unchanged (the picture stopped updating).",
    _CAMERA,
)
FRAME_PROBLEM = gauge(
    "vigil_camera_frame_problem",
    "1 while the latest frame shows the problem, 0 otherwise.",
    ("camera", "problem"),
)
FRAME_EVIDENCE = gauge(
    "vigil_camera_frame_evidence_timestamp_seconds",
    "Capture time of the newest evidence frame kept for a problem (see /evidence/CAMERA).",
    ("camera", "problem"),
)
FRAME_ANALYSIS = histogram(
    "vigil_frame_analysis_seconds",
    "Time to decode and analyse one frame.",
    ("source",),
    ANALYSIS_BUCKETS,
)
FRAMES_SKIPPED = counter(
    "vigil_frames_skipped_total",
    "Frames not analysed because a newer frame of the same camera was waiting.",
    ("source",),
)

# what a camera leaves behind when it stops being checked
PER_CAMERA = (
    FRAME_SUCCESS,
    FRAME_BRIGHTNESS,
    FRAME_SHARPNESS,
    FRAME_OCCLUSION,
    FRAME_DISPLACEMENT,
    FRAME_UNCHANGED,
    FRAME_PROBLEM,
    FRAME_EVIDENCE,
)
FAMILIES = (*PER_CAMERA, FRAME_ANALYSIS, FRAMES_SKIPPED)
