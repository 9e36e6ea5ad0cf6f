"""Every metric family Vigil exposes: name, help, type and labels, in one place (docs/metrics.md)."""

from __future__ import annotations

from exporter import __version__
from exporter.exposition import Registry

ERROR_REASONS = ("timeout", "http_5xx", "http_4xx", "rate_limited", "bad_payload", "connection")
FRAME_PROBLEMS = ("black", "blur", "occluded", "displaced", "frozen")
ANALYSIS_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CAMERA_INFO_LABELS = (
    "camera",
    "name",
    "sn",
    "mac",
    "ip",
    "vendor",
    "model",
    "firmware",
    "datacenter",
    "address",
)

# Memory-card states always present in the state set, so a camera's card can be graphed over time
# without series appearing and vanishing. Anything else the API reports is added as its own state.
CARD_STATES_FINE = ("CardOK", "CardNotFound", "Unknown", "none")

BAKED_ARCHIVE_STATUSES = {0: "NEW", 1: "ENQUEUED", 2: "ERROR", 3: "DONE"}

PROBE_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The exporter's registry with its families as attributes."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        # self
        self.build_info = r.gauge(
            "vigil_build_info", "Vigil build information; always 1.", ["version"]
        )
        self.build_info.set([__version__], 1)
        self.source_up = r.gauge(
            "vigil_source_up",
            "1 when the latest run of every check of the source succeeded, 0 otherwise.",
            ["source", "instance"],
        )
        self.source_last_success = r.gauge(
            "vigil_source_last_success_timestamp_seconds",
            "Unix time of the last successful run of a source's check.",
            ["source", "instance", "check"],
        )
        self.check_interval = r.gauge(
            "vigil_source_check_interval_seconds",
            "Configured interval between runs of a source's check.",
            ["source", "check"],
        )
        self.probe_duration = r.histogram(
            "vigil_probe_duration_seconds",
            "Duration of one run of a source's check.",
            ["source", "check"],
            buckets=PROBE_DURATION_BUCKETS,
        )
        self.probe_errors = r.counter(
            "vigil_probe_errors_total",
            "Failed attempts of a source's check by reason, retried attempts included.",
            ["source", "check", "reason"],
        )
        # inventory (RT API)
        self.camera_info = r.gauge(
            "vigil_camera_info",
            "Descriptive fields of a camera from the inventory; always 1.",
            CAMERA_INFO_LABELS,
        )
        self.camera_online = r.gauge(
            "vigil_camera_online", "1 when the platform reports the camera online.", ["camera"]
        )
        self.camera_alive = r.gauge(
            "vigil_camera_alive",
            "1 when the platform reports the camera alive (only where the API gives it).",
            ["camera"],
        )
        self.camera_offline_since = r.gauge(
            "vigil_camera_offline_since_timestamp_seconds",
            "Unix time since which an offline camera has been offline (offline cameras only).",
            ["camera"],
        )
        self.camera_card_state = r.gauge(
            "vigil_camera_memory_card_state",
            "Memory-card state set: 1 for the camera's current state, 0 for the others.",
            ["camera", "state"],
        )
        self.camera_card_problem = r.gauge(
            "vigil_camera_memory_card_problem",
            "1 when the memory-card state is a problem (not CardOK, CardNotFound, Unknown or empty).",
            ["camera"],
        )
        self.baked_archives = r.gauge(
            "vigil_baked_archives",
            "Baked (exported) archives by status among the newest fetched from the platform.",
            ["status"],
        )

        # archive integrity (RT API fragments), one partition per camera
        window = ["camera", "window"]
        self.archive_coverage = r.gauge(
            "vigil_camera_archive_coverage_ratio",
            "Share of the window covered by recorded archive (0..1).",
            window,
        )
        self.archive_recorded = r.gauge(
            "vigil_camera_archive_recorded_seconds",
            "Seconds of the window covered by recorded archive.",
            window,
        )
        self.archive_gaps = r.gauge(
            "vigil_camera_archive_gaps",
            "Holes in the recording longer than the gap threshold that overlap the window.",
            window,
        )
        self.archive_longest_gap = r.gauge(
            "vigil_camera_archive_longest_gap_seconds",
            "Longest overlap of a gap with the window.",
            window,
        )
        self.archive_gap_seconds = r.gauge(
            "vigil_camera_archive_gap_seconds",
            "Total length of the gaps' parts inside the window.",
            window,
        )
        self.archive_fragments = r.gauge(
            "vigil_camera_archive_fragments",
            "Distinct archive fragments overlapping the window.",
            window,
        )
        self.archive_depth = r.gauge(
            "vigil_camera_archive_depth_seconds",
            "Now minus the oldest recorded second within the kept history; 0 without archive.",
            ["camera"],
        )
        self.archive_last_end = r.gauge(
            "vigil_camera_archive_last_end_timestamp_seconds",
            "Unix time of the end of the newest recorded fragment (absent without archive).",
            ["camera"],
        )
        self.archive_updated = r.gauge(
            "vigil_camera_archive_updated_timestamp_seconds",
            "Unix time of the fetch the camera's archive figures were computed from.",
            ["camera"],
        )

        # direct network probes, one partition per camera
        self.target_info = r.gauge(
            "vigil_camera_target_info",
            "A camera probed directly on the network: its address and port; always 1.",
            ["camera", "host", "port"],
        )
        self.probe_success = r.gauge(
            "vigil_camera_probe_success",
            "1 when the camera's latest network check succeeded, 0 when it failed.",
            ["camera", "check"],
        )
        self.probe_rtt = r.gauge(
            "vigil_camera_probe_rtt_seconds",
            "Round-trip (icmp) or connect (tcp) time of the latest successful check.",
            ["camera", "check"],
        )
        self.probe_rtt_fleet = r.histogram(
            "vigil_probe_rtt_seconds",
            "Round-trip (icmp) or connect (tcp) times of successful checks across all cameras.",
            ["check"],
            buckets=RTT_BUCKETS,
        )

        # frame quality, one partition per camera
        frame = ["camera"]
        self.frame_success = r.gauge(
            "vigil_camera_frame_success",
            "1 when the camera's latest frame was fetched and decoded, 0 when it failed.",
            frame,
        )
        self.frame_brightness = r.gauge(
            "vigil_camera_frame_brightness_ratio",
            "Mean brightness of the latest frame, 0 (black) to 1 (white).",
            frame,
        )
        self.frame_sharpness = r.gauge(
            "vigil_camera_frame_sharpness",
            "Variance of the Laplacian of the latest frame at 1/4 resolution (higher is sharper).",
            frame,
        )
        self.frame_occlusion = r.gauge(
            "vigil_camera_frame_occlusion_ratio",
            "Share of the latest frame without texture (0..1).",
            frame,
        )
        self.frame_displacement = r.gauge(
            "vigil_camera_frame_displacement_pixels",
            "Shift of the latest frame against the camera's reference, in full-resolution pixels.",
            frame,
        )
        self.frame_unchanged = r.gauge(
            "vigil_camera_frame_unchanged_seconds",
            "How long the picture has not changed beyond noise.",
            frame,
        )
        self.frame_problem = r.gauge(
            "vigil_camera_frame_problem",
            "1 while the latest frame shows the problem, 0 otherwise.",
            ["camera", "problem"],
        )
        self.frame_evidence = r.gauge(
            "vigil_camera_frame_evidence_timestamp_seconds",
            "Capture time of the newest evidence frame kept for a problem (see /evidence/CAMERA).",
            ["camera", "problem"],
        )
        self.frame_analysis = r.histogram(
            "vigil_frame_analysis_seconds",
            "Time to decode and analyse one frame.",
            ["source"],
            buckets=ANALYSIS_BUCKETS,
        )
        self.frames_skipped = r.counter(
            "vigil_frames_skipped_total",
            "Frames not analysed because a newer frame of the same camera was waiting.",
            ["source"],
        )
        # Perforce
        self.p4_server_up = r.gauge(
            "vigil_p4_server_up",
            "1 when the latest refresh of the Perforce server succeeded.",
            ["server"],
        )
        self.p4_ticket_expiry = r.gauge(
            "vigil_p4_ticket_expiry_seconds",
            "Seconds until the login ticket for the server expires (0: expired or missing).",
            ["server"],
        )
        self.p4_refresh_duration = r.gauge(
            "vigil_p4_refresh_duration_seconds",
            "Duration of the latest complete refresh of the server (scheduled or manual).",
            ["server"],
        )
        self.p4_stream_size = r.gauge(
            "vigil_p4_stream_size_bytes",
            "Size of the stream's files on the server (p4 sizes -s).",
            ["server", "stream"],
        )
        self.p4_stream_files = r.gauge(
            "vigil_p4_stream_files", "Number of files in the stream.", ["server", "stream"]
        )
        self.p4_stream_updated = r.gauge(
            "vigil_p4_stream_last_update_timestamp_seconds",
            "Unix time the stream's size was last measured.",
            ["server", "stream"],
        )
        self.state_file_problems = r.counter(
            "vigil_camera_state_file_problems_total",
            "Problems found in the registered-camera state file at start-up (kept aside, logged).",
        )
        self.state_file_problems.set([], 0)

    def init_check(
        self, source: str, check: str, interval: float, reasons: tuple[str, ...] = ERROR_REASONS
    ) -> None:
        """Create a check's series up front so rate() and absent() work before the first error."""
        self.check_interval.set([source, check], interval)
        for reason in reasons:
            if self.probe_errors.get([source, check, reason]) is None:
                self.probe_errors.set([source, check, reason], 0)

    def render(self) -> bytes:
        return self.registry.render()
