"""Metric families of the RT API source: inventory, baked archives and archive integrity.

The reporter reads these names and constants from here too, so exporter and reporter cannot drift.
"""

from __future__ import annotations

from exporter.catalogue import gauge

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

# the finished calendar day: how daily history reaches Prometheus (docs/metrics.md, "Daily history")
DAILY_WINDOW = "yesterday"

# inventory, one partition for the whole snapshot
CAMERA_INFO = gauge(
    "vigil_camera_info",
    "Descriptive fields of a camera from the inventory; always 1.",
    CAMERA_INFO_LABELS,
)
CAMERA_ONLINE = gauge(
    "vigil_camera_online", "1 when the platform reports the camera online.", ("camera",)
)
CAMERA_ALIVE = gauge(
    "vigil_camera_alive",
    "1 when the platform reports the camera alive (only where the API gives it).",
    ("camera",),
)
CAMERA_OFFLINE_SINCE = gauge(
    "vigil_camera_offline_since_timestamp_seconds",
    "Unix time since which an offline camera has been offline (offline cameras only).",
    ("camera",),
)
CAMERA_CARD_STATE = gauge(
    "vigil_camera_memory_card_state",
    "Memory-card state set: 1 for the camera's current state, 0 for the others.",
    ("camera", "state"),
)
CAMERA_CARD_PROBLEM = gauge(
    "vigil_camera_memory_card_problem",
    "1 when the memory-card state is a problem (not CardOK, CardNotFound, Unknown or empty).",
    ("camera",),
)
BAKED_ARCHIVES = gauge(
    "vigil_baked_archives",
    "Baked (exported) archives by status among the newest fetched from the platform.",
    ("status",),
)
BAKED_ARCHIVE_CREATED = gauge(
    "vigil_baked_archive_created_timestamp_seconds",
    "Unix time a baked archive that is not DONE was requested; one series per archive, bounded.",
    ("archive", "camera", "status"),
)
BAKED_ARCHIVES_UNLISTED = gauge(
    "vigil_baked_archives_unlisted",
    "Baked archives not DONE without a series of their own (beyond the bound, or no id or time).",
)

# how the camera list was read: one series per field Vigil reads (payloads.CAMERA_FIELDS), so a field
# the platform never sends shows on the first day instead of as a series that silently never appears
FIELDS_ABSENT = gauge(
    "vigil_rt_api_fields_absent",
    "Cameras of the latest camera list without this field (offline_since: cameras not online).",
    ("field",),
)
FIELDS_UNUSABLE = gauge(
    "vigil_rt_api_fields_unusable",
    "Cameras of the latest camera list whose field had a value Vigil cannot read (bad_payload).",
    ("field",),
)

# archive integrity, one partition per camera
_WINDOW = ("camera", "window")
ARCHIVE_COVERAGE = gauge(
    "vigil_camera_archive_coverage_ratio",
    "Share of the window covered by recorded archive (0..1).",
    _WINDOW,
)
ARCHIVE_RECORDED = gauge(
    "vigil_camera_archive_recorded_seconds",
    "Seconds of the window covered by recorded archive.",
    _WINDOW,
)
ARCHIVE_GAPS = gauge(
    "vigil_camera_archive_gaps",
    "Holes in the recording longer than the gap threshold that overlap the window.",
    _WINDOW,
)
ARCHIVE_LONGEST_GAP = gauge(
    "vigil_camera_archive_longest_gap_seconds",
    "Longest overlap of a gap with the window.",
    _WINDOW,
)
ARCHIVE_GAP_SECONDS = gauge(
    "vigil_camera_archive_gap_seconds",
    "Total length of the gaps' parts inside the window.",
    _WINDOW,
)
ARCHIVE_FRAGMENTS = gauge(
    "vigil_camera_archive_fragments",
    "Distinct archive fragments overlapping the window.",
    _WINDOW,
)
# what joins consecutive days into exact period figures: for the finished day only (window
# "yesterday"), three series per camera (docs/metrics.md, reporter/figures.py)
ARCHIVE_FRAGMENTS_STARTED = gauge(
    "vigil_camera_archive_fragments_started",
    "Distinct archive fragments that start inside the window (finished day only).",
    _WINDOW,
)
ARCHIVE_GAP_AT_START = gauge(
    "vigil_camera_archive_gap_at_start_seconds",
    "Part of the window covered by a gap already open when the window began, 0 when none "
    "(finished day only).",
    _WINDOW,
)
ARCHIVE_GAP_AT_END = gauge(
    "vigil_camera_archive_gap_at_end_seconds",
    "Part of the window covered by a gap still open when the window ended, 0 when none "
    "(finished day only).",
    _WINDOW,
)
ARCHIVE_DEPTH = gauge(
    "vigil_camera_archive_depth_seconds",
    "Now minus the oldest recorded second within the kept history; 0 without archive.",
    ("camera",),
)
ARCHIVE_LAST_END = gauge(
    "vigil_camera_archive_last_end_timestamp_seconds",
    "Unix time of the end of the newest recorded fragment (absent without archive).",
    ("camera",),
)
ARCHIVE_UPDATED = gauge(
    "vigil_camera_archive_updated_timestamp_seconds",
    "Unix time of the fetch the camera's archive figures were computed from.",
    ("camera",),
)

# (family, attribute of analysis.archive.ArchiveStats) of every per-window figure, in order
ARCHIVE_PER_WINDOW = (
    (ARCHIVE_COVERAGE, "coverage_ratio"),
    (ARCHIVE_RECORDED, "recorded_seconds"),
    (ARCHIVE_GAPS, "gaps"),
    (ARCHIVE_LONGEST_GAP, "longest_gap_seconds"),
    (ARCHIVE_GAP_SECONDS, "gap_seconds"),
    (ARCHIVE_FRAGMENTS, "fragments"),
)

# (family, attribute) of the day-joining figures, published for DAILY_WINDOW only
ARCHIVE_DAY_JOINS = (
    (ARCHIVE_FRAGMENTS_STARTED, "fragments_started"),
    (ARCHIVE_GAP_AT_START, "gap_at_start_seconds"),
    (ARCHIVE_GAP_AT_END, "gap_at_end_seconds"),
)

FAMILIES = (
    CAMERA_INFO,
    CAMERA_ONLINE,
    CAMERA_ALIVE,
    CAMERA_OFFLINE_SINCE,
    CAMERA_CARD_STATE,
    CAMERA_CARD_PROBLEM,
    BAKED_ARCHIVES,
    FIELDS_ABSENT,
    FIELDS_UNUSABLE,
    BAKED_ARCHIVE_CREATED,
    BAKED_ARCHIVES_UNLISTED,
    *(family for family, _ in ARCHIVE_PER_WINDOW),
    *(family for family, _ in ARCHIVE_DAY_JOINS),
    ARCHIVE_DEPTH,
    ARCHIVE_LAST_END,
    ARCHIVE_UPDATED,
)
