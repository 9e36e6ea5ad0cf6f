"""The throwaway PostgreSQL cluster (exporter/simulate/postgres.py) never outlives what started it:
a normal stop shuts it down cleanly, and a parent killed with SIGKILL takes the server with it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent

# a parent that starts a cluster, says where it is, and waits to be killed
PARENT = """
import json, sys, time
from exporter.simulate.postgres import PostgresServer
server = PostgresServer()
server.start()
print(json.dumps({"pid": server.pid, "port": server.port, "dir": str(server.dir)}), flush=True)
time.sleep(600)
"""


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for whoever inherited it to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_a_normal_stop_shuts_the_server_down_cleanly():
    server = PostgresServer()
    try:
        server.start()
        proc, port = server.proc, server.port
        assert server.sql("SELECT 1 AS one")[0]["one"] == 1
        server.stop()
        assert proc is not None and proc.returncode == 0  # a fast shutdown, not a kill
        assert "database system is shut down" in server.log_tail()
        assert not accepting(port)
    finally:
        server.cleanup()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_parent_killed_with_sigkill_takes_its_server_with_it():
    PostgresServer()  # fails under CI, skips elsewhere, when the server binaries are missing
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    started = None
    try:
        assert parent.stdout is not None
        started = json.loads(parent.stdout.readline())
        assert not gone(started["pid"]) and accepting(started["port"])
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while not gone(started["pid"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert gone(started["pid"]), "postgres outlived the parent that was killed"
        assert not accepting(started["port"])
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if started is not None:
            if not gone(started["pid"]):  # the test failed: leave nothing running all the same
                os.killpg(started["pid"], signal.SIGKILL)
            shutil.rmtree(started["dir"], ignore_errors=True)  # a killed parent cannot clean up
