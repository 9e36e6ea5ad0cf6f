"""Metric families of the direct network checks (one partition per camera)."""

from __future__ import annotations

from exporter.catalogue import counter, gauge, histogram

RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

TARGET_INFO = gauge(
    "vigil_camera_target_info",
    "A camera probed directly on the network: its address and port; always 1.",
    ("camera", "host", "port"),
)
PROBE_SUCCESS = gauge(
    "vigil_camera_probe_success",
    "1 when the camera's latest network check succeeded, 0 when it failed.",
    ("camera", "check"),
)
PROBE_RTT = gauge(
    "vigil_camera_probe_rtt_seconds",
    "Round-trip (icmp) or connect (tcp) time of the latest successful check.",
    ("camera", "check"),
)
PROBE_RTT_FLEET = histogram(
    "vigil_probe_rtt_seconds",
    "Round-trip (icmp) or connect (tcp) times of successful checks across all cameras.",
    ("check",),
    RTT_BUCKETS,
)
PROBE_DURATION = gauge(
    "vigil_camera_probe_duration_seconds",
    "How long the check took, failures included (only in a /probe answer).",
    ("camera", "check"),
    endpoint="probe",
)
STATE_FILE_PROBLEMS = counter(
    "vigil_camera_state_file_problems_total",
    "Problems found in the registered-camera state file at start-up (kept aside, logged).",
)

FAMILIES = (
    TARGET_INFO,
    PROBE_SUCCESS,
    PROBE_RTT,
    PROBE_RTT_FLEET,
    PROBE_DURATION,
    STATE_FILE_PROBLEMS,
)
