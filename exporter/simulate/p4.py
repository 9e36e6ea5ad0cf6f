"""A simulated Perforce server behind a P4Python-shaped object, for `vigil demo`.

`SimulatedP4` answers the calls Vigil's P4 client makes (`run_streams`, the measuring workspace's
`run_clients`/`fetch_client`/`save_client`/`run_client`, `run_sizes`, `run_login`) the way P4Python
does: lists of dicts with string values. Streams depend on the `port` the client sets, and grow with
the clock, so the demo's dashboards have something to plot. Like a real server, `p4 streams` with a
path returns every stream whatever the pattern (filtering by path is the client's job), and with
`-F "Name=<pattern>"` only the streams whose name matches.
"""

from __future__ import annotations

import fnmatch
import time
import zlib
from typing import ClassVar

STREAMS = ("main", "dev-render", "dev-physics", "rel-2026.4", "ml-training")
GROWTH_PER_DAY = 2e9  # bytes a day for the busiest stream


class SimulatedP4Error(Exception):
    pass


class SimulatedP4:
    # (port, workspace) -> its stream: workspaces live on the "server", across connections
    workspaces: ClassVar[dict[tuple[str, str], str]] = {}

    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.port = ""
        self.user = ""
        self.charset = ""
        self.ticket_file = ""
        self.password = ""
        self.input = ""
        self.prog = ""
        self.exception_level = 2
        self.client = ""
        self._connected = False

    def connect(self) -> SimulatedP4:
        self._connected = True
        return self

    def disconnect(self) -> None:
        self._connected = False

    def connected(self) -> bool:
        return self._connected

    def _streams(self) -> list[str]:
        depots = ("depot", "games")
        return [f"//{d}/{name}" for d in depots for name in STREAMS] + ["//sandbox/scratch"]

    def run_streams(self, *args: str) -> list[dict[str, str]]:
        out = []
        for path in self._streams():
            kind = "mainline" if path.endswith("/main") else "development"
            out.append({"Stream": path, "Type": kind, "Name": path.rsplit("/", 1)[1]})
        out.append({"Stream": "//depot/virtual-all", "Type": "virtual", "Name": "virtual-all"})
        if args[:1] == ("-F",):
            pattern = args[1].removeprefix("Name=")
            return [row for row in out if fnmatch.fnmatchcase(row["Name"], pattern)]
        return out

    def run_clients(self, *args: str) -> list[dict[str, str]]:
        return [{"client": args[-1]}] if (self.port, args[-1]) in self.workspaces else []

    def fetch_client(self, *args: str) -> dict[str, str]:
        return {"Client": args[-1], "Stream": args[-2], "Root": "", "Host": ""}

    def save_client(self, spec: dict[str, str]) -> list[str]:
        self.workspaces[(self.port, spec["Client"])] = spec["Stream"]
        return [f"Client {spec['Client']} saved."]

    def run_client(self, *args: str) -> list[str]:
        self.workspaces[(self.port, args[-1])] = args[-2]  # client -s -S stream name
        return [f"Client {args[-1]} switched."]

    def run_sizes(self, *args: str) -> list[dict[str, str]]:
        path = args[-1].removesuffix("/...")
        if path == f"//{self.client}":
            path = self.workspaces[(self.port, self.client)]
        if path == "//depot/virtual-all":  # a virtual stream's view: its parent's files
            path = "//depot/main"
        if path not in self._streams():
            raise SimulatedP4Error(f"Stream '{path}' isn't a known stream.")
        seed = zlib.crc32(f"{self.port}{path}".encode())
        rate = GROWTH_PER_DAY * ((seed % 100) / 100) ** 2
        size = 5e9 + seed % 50_000_000_000 + rate * (self.clock() % (90 * 86400)) / 86400
        files = int(size / 400_000)
        return [{"path": args[-1], "fileCount": str(files), "fileSize": str(int(size))}]

    def run_login(self, *args: str) -> list[dict[str, str]]:
        return [{"User": self.user, "TicketExpiration": str(3 * 86400 + int(self.clock()) % 86400)}]
