"""Frame sources: one fresh JPEG per check (HTTP snapshot, RTSP) and frames pushed through Redis Streams."""
