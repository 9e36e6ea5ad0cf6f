"""The GStreamer RTSP test server (tests/fixtures/rtsp_server.py) from the tests: start, stop, control.

The server runs under the system Python (python3-gi and the GstRtspServer typelib); a test that needs
it fails under CI=true when those parts are missing and is skipped otherwise.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SCRIPT = Path(__file__).parent / "fixtures" / "rtsp_server.py"
RTSP_APT = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-ugly gstreamer1.0-rtsp"
)


def _missing(message: str):
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


_PROBE = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [
    n for n in ("videotestsrc", "appsrc", "videoconvert", "x264enc", "rtph264pay")
    if Gst.ElementFactory.find(n) is None
]
print(" ".join(missing))
"""


def check_rtsp_parts() -> None:
    if not os.path.exists(SYSTEM_PYTHON):
        _missing(f"{SYSTEM_PYTHON} is missing (apt-get install {RTSP_APT})")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        _missing(
            f"GstRtspServer is not usable from {SYSTEM_PYTHON} ({last}); apt-get install {RTSP_APT}"
        )
    if probe.stdout.strip():
        _missing(f"GStreamer elements missing: {probe.stdout.strip()}; apt-get install {RTSP_APT}")


class RtspServer:
    def __init__(self, port: int, proc: subprocess.Popen) -> None:
        self.port = port
        self.proc = proc


def start_rtsp(*args: str) -> RtspServer:
    port = free_port()
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(RTSP_SCRIPT), str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    output = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.strip() == "ready":
                return RtspServer(port, proc)
            if not line:
                break
            output.append(line)
    proc.kill()
    proc.wait()
    proc.stdout.close()
    raise AssertionError(f"RTSP test server did not start: {''.join(output)[-2000:]}")


def stop_rtsp(server: RtspServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    if server.proc.stdout is not None:
        server.proc.stdout.close()


def stop_source(server: RtspServer) -> None:
    """A server started with ``--frames``: its source stops (the encoder gets the last frame again)."""
    _signal(server, signal.SIGUSR1, "frozen")


def resume_source(server: RtspServer) -> None:
    _signal(server, signal.SIGUSR2, "live")


def _signal(server: RtspServer, signum: int, answer: str) -> None:
    server.proc.send_signal(signum)
    ready, _, _ = select.select([server.proc.stdout], [], [], 10)
    line = server.proc.stdout.readline().strip() if ready else ""
    assert line == answer, f"the RTSP test server answered {line!r}, not {answer!r}"
