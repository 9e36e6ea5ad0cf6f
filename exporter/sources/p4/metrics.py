"""Metric families of the Perforce source (one partition per server)."""

from __future__ import annotations

from exporter.catalogue import gauge

P4_SERVER_UP = gauge(
    "vigil_p4_server_up",
    "1 when the latest refresh of the Perforce server succeeded.",
    ("server",),
)
P4_TICKET_EXPIRY = gauge(
    "vigil_p4_ticket_expiry_seconds",
    "Seconds until the login ticket for the server expires (0: expired or missing).",
    ("server",),
)
P4_REFRESH_DURATION = gauge(
    "vigil_p4_refresh_duration_seconds",
    "Duration of the latest complete refresh of the server (scheduled or manual).",
    ("server",),
)
P4_STREAM_SIZE = gauge(
    "vigil_p4_stream_size_bytes",
    "Bytes of the files in the stream's view at head, deleted files left out (p4 sizes -s).",
    ("server", "stream"),
)
P4_STREAM_FILES = gauge(
    "vigil_p4_stream_files",
    "Files in the stream's view at head, deleted files left out.",
    ("server", "stream"),
)
P4_STREAM_UPDATED = gauge(
    "vigil_p4_stream_last_update_timestamp_seconds",
    "Unix time the stream's size was last measured successfully.",
    ("server", "stream"),
)

FAMILIES = (
    P4_SERVER_UP,
    P4_TICKET_EXPIRY,
    P4_REFRESH_DURATION,
    P4_STREAM_SIZE,
    P4_STREAM_FILES,
    P4_STREAM_UPDATED,
)
