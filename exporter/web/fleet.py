"""What the status page and the camera search show, read from the exporter's published state.

Every source publishes its latest results as metric families (exporter/metrics.py); this module only
reads them, so the pages show exactly what Prometheus scrapes and never reach into a source. A
family that this exporter does not have (a source not in its catalogue) reads as empty.

The search index (id, name, address, serial number, IP or host of every camera any source knows) is
rebuilt only when the inventory's, the network targets' or the frame cameras' families change; a
search is a substring match on case-folded text (Cyrillic included; "ё" matches "е"). Nothing here
holds a URL with credentials: network cameras are shown by host and port, never by frame URL.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from exporter.catalogue import FamilySpec
from exporter.exposition import Family
from exporter.metrics import Metrics
from exporter.sources.analytics.metrics import PREDICTIONS_STALE, SCENARIOS, SCENARIOS_STUCK
from exporter.sources.frames.metrics import (
    FRAME_EVIDENCE,
    FRAME_PROBLEM,
    FRAME_SUCCESS,
    FRAME_UNCHANGED,
)
from exporter.sources.network.metrics import PROBE_RTT, PROBE_SUCCESS, TARGET_INFO
from exporter.sources.p4.metrics import P4_SERVER_UP, P4_STREAM_SIZE
from exporter.sources.rt_api.metrics import (
    ARCHIVE_COVERAGE,
    ARCHIVE_DEPTH,
    CAMERA_CARD_PROBLEM,
    CAMERA_CARD_STATE,
    CAMERA_INFO,
    CAMERA_INFO_LABELS,
    CAMERA_OFFLINE_SINCE,
    CAMERA_ONLINE,
)

RT = "rt_api"  # the partition of the inventory families
WINDOWS = ("today", "yesterday", "1d", "7d", "30d", "90d")
NETWORK_CHECKS = ("icmp", "tcp")
FRAME_PROBLEMS = ("black", "blur", "occluded", "displaced", "frozen")
COVERAGE_WARN = 0.9  # the reporter's green band starts here
SEARCH_LIMIT = 20
SEARCH_MAX = 100


def fold(text: str) -> str:
    """Text as the search compares it: case-folded, "ё" as "е"."""
    return text.casefold().replace("ё", "е")


@dataclasses.dataclass
class Camera:
    """A camera as any source describes it (empty strings for what nobody says)."""

    id: str
    name: str = ""
    address: str = ""
    sn: str = ""
    ip: str = ""
    mac: str = ""
    vendor: str = ""
    model: str = ""
    datacenter: str = ""
    host: str = ""
    port: str = ""
    sources: list[str] = dataclasses.field(default_factory=list)

    def searchable(self) -> str:
        host = f"{self.host}:{self.port}" if self.port else self.host
        return fold("\n".join((self.id, self.name, self.address, self.sn, self.ip, host)))

    def label(self) -> str:
        """How pages name the camera: its name, else its id."""
        return self.name or self.id


class FleetView:
    """Read-only figures of the fleet, from `metrics`."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._index_key: tuple[int, ...] | None = None
        self._cameras: dict[str, Camera] = {}
        self._texts: list[tuple[str, str]] = []  # (camera id, searchable text)
        self._card_key: int | None = None
        self._card: dict[str, str] = {}

    # -- families --------------------------------------------------------------------------------
    def _family(self, spec: FamilySpec) -> Family | None:
        if spec.name not in self.metrics.registry:
            return None
        family = self.metrics[spec]
        return family if isinstance(family, Family) else None

    def _samples(self, spec: FamilySpec) -> list[tuple[tuple[str, ...], float]]:
        family = self._family(spec)
        return family.samples() if family is not None else []

    def _get(self, spec: FamilySpec, labels: Iterable[str], partition: str) -> float | None:
        family = self._family(spec)
        return family.get(list(labels), partition) if family is not None else None

    # -- the index -------------------------------------------------------------------------------
    def cameras(self) -> dict[str, Camera]:
        """Every camera any source knows, by id (rebuilt when the describing families change)."""
        families = [self._family(s) for s in (CAMERA_INFO, TARGET_INFO, FRAME_SUCCESS)]
        key = tuple(
            -1
            if f is None
            else (len(f.partitions()) if f.name == FRAME_SUCCESS.name else f.version)
            for f in families
        )
        if key != self._index_key:
            self._build()
            self._index_key = key
        return self._cameras

    def _build(self) -> None:
        cameras: dict[str, Camera] = {}
        fields = CAMERA_INFO_LABELS[1:]
        for labels, _ in self._samples(CAMERA_INFO):
            described = dict(zip(fields, labels[1:], strict=True))
            camera = Camera(labels[0], **{k: v for k, v in described.items() if k != "firmware"})
            camera.sources.append(RT)
            cameras[camera.id] = camera
        for (cid, host, port), _ in self._samples(TARGET_INFO):
            camera = cameras.setdefault(cid, Camera(cid))
            camera.host, camera.port = host, port
            camera.sources.append("network")
        frames = self._family(FRAME_SUCCESS)
        for cid in frames.partitions() if frames is not None else []:
            cameras.setdefault(cid, Camera(cid)).sources.append("frames")
        self._cameras = cameras
        self._texts = [(cid, c.searchable()) for cid, c in cameras.items()]

    def search(self, query: str, limit: int = SEARCH_LIMIT) -> tuple[list[Camera], int]:
        """Cameras whose id, name, address, serial number, IP or host contains `query` (any case),
        best first (the id itself, then ids and names starting with it, then by name); and how
        many matched in all."""
        needle = fold(query.strip())
        cameras = self.cameras()
        if not needle:
            return [], 0
        matched = [cid for cid, text in self._texts if needle in text]

        def rank(cid: str) -> tuple[int, str, str]:
            camera = cameras[cid]
            if fold(cid) == needle:
                first = 0
            elif fold(cid).startswith(needle) or fold(camera.name).startswith(needle):
                first = 1
            else:
                first = 2
            return first, fold(camera.label()), cid

        best = heapq.nsmallest(limit, matched, key=rank)
        return [cameras[cid] for cid in best], len(matched)

    # -- one camera's figures ----------------------------------------------------------------
    def card_state(self, camera: str) -> str | None:
        family = self._family(CAMERA_CARD_STATE)
        if family is None:
            return None
        if family.version != self._card_key:
            self._card = {labels[0]: labels[1] for labels, v in family.samples() if v == 1}
            self._card_key = family.version
        return self._card.get(camera)

    def figures(self, camera: Camera) -> dict[str, Any]:
        """The camera's current figures, as the search answer shows them (null: not known)."""
        cid = camera.id
        online = self._get(CAMERA_ONLINE, [cid], RT)
        problem = self._get(CAMERA_CARD_PROBLEM, [cid], RT)
        coverage = {}
        for window in WINDOWS:
            ratio = self._get(ARCHIVE_COVERAGE, [cid, window], cid)
            if ratio is not None:
                coverage[window] = ratio
        probes = {}
        for check in NETWORK_CHECKS:
            ok = self._get(PROBE_SUCCESS, [cid, check], cid)
            if ok is not None:
                probes[check] = {
                    "ok": ok == 1,
                    "rtt_seconds": self._get(PROBE_RTT, [cid, check], cid),
                }
        frame = None
        fetched = self._get(FRAME_SUCCESS, [cid], cid)
        if fetched is not None:
            frame = {
                "fetched": fetched == 1,
                "problems": [
                    p for p in FRAME_PROBLEMS if self._get(FRAME_PROBLEM, [cid, p], cid) == 1
                ],
                "unchanged_seconds": self._get(FRAME_UNCHANGED, [cid], cid),
            }
        evidence = None
        kept = [
            (ts, p)
            for p in FRAME_PROBLEMS
            if (ts := self._get(FRAME_EVIDENCE, [cid, p], cid)) is not None
        ]
        if kept:
            ts, p = max(kept)
            evidence = {
                "problem": p,
                "time": ts,
                "url": f"/evidence/{quote(cid, safe='')}/latest?problem={p}",
            }
        depth = self._get(ARCHIVE_DEPTH, [cid], cid)
        return {
            "id": cid,
            "name": camera.name,
            "address": camera.address,
            "sn": camera.sn,
            "ip": camera.ip,
            "host": camera.host,
            "port": int(camera.port) if camera.port.isdigit() else None,
            "datacenter": camera.datacenter,
            "vendor": camera.vendor,
            "model": camera.model,
            "sources": list(camera.sources),
            "online": None if online is None else online == 1,
            "offline_since": self._get(CAMERA_OFFLINE_SINCE, [cid], RT),
            "memory_card": self.card_state(cid),
            "memory_card_problem": None if problem is None else problem == 1,
            "coverage": coverage,
            "archive_depth_seconds": depth,
            "probes": probes,
            "frame": frame,
            "evidence": evidence,
        }

    # -- the fleet -------------------------------------------------------------------------------
    def summary(self) -> dict[str, dict[str, Any]]:
        """Counts per source for the status page's tiles."""
        online = [v for _, v in self._samples(CAMERA_ONLINE)]
        below = sum(
            1
            for (_, window), v in self._samples(ARCHIVE_COVERAGE)
            if window == "1d" and v < COVERAGE_WARN
        )
        failing = dict.fromkeys(NETWORK_CHECKS, 0)
        for (_, check), v in self._samples(PROBE_SUCCESS):
            if v == 0 and check in failing:
                failing[check] += 1
        frames = self._family(FRAME_SUCCESS)
        with_problem = {cid for (cid, _), v in self._samples(FRAME_PROBLEM) if v == 1}
        servers = self._samples(P4_SERVER_UP)
        stuck: dict[str, float] = {}
        for (platform, _), v in self._samples(SCENARIOS_STUCK):
            stuck[platform] = stuck.get(platform, 0) + v
        scenarios = sum(v for _, v in self._samples(SCENARIOS))
        platforms = {labels[0] for labels, _ in self._samples(SCENARIOS)} | set(stuck)
        return {
            "rt_api": {
                "cameras": len(self._samples(CAMERA_INFO)),
                "online": online.count(1),
                "offline": online.count(0),
                "card_problems": sum(1 for _, v in self._samples(CAMERA_CARD_PROBLEM) if v == 1),
                "below_90": below,
            },
            "network": {"cameras": len(self._samples(TARGET_INFO)), "failing": failing},
            "frames": {
                "cameras": len(frames.partitions()) if frames is not None else 0,
                "with_problem": len(with_problem),
                "not_fetched": sum(1 for _, v in self._samples(FRAME_SUCCESS) if v == 0),
            },
            "p4": {
                "servers": len(servers),
                "up": sum(1 for _, v in servers if v == 1),
                "streams": len(self._samples(P4_STREAM_SIZE)),
            },
            "analytics": {
                "platforms": len(platforms),
                "scenarios": int(scenarios),
                "stuck": int(sum(stuck.values())),
                "stale": int(sum(v for _, v in self._samples(PREDICTIONS_STALE))),
            },
        }

    def problems(self) -> list[tuple[Camera, str, dict[str, Any]]]:
        """(camera, kind, details) of every camera with a problem now, worst kinds first:
        offline, network check failing, frame not fetched or showing a problem, memory card."""
        cameras = self.cameras()

        def known(cid: str) -> Camera:
            return cameras.get(cid) or Camera(cid)

        found: list[tuple[Camera, str, dict[str, Any]]] = []
        for (cid,), v in self._samples(CAMERA_ONLINE):
            if v == 0:
                since = self._get(CAMERA_OFFLINE_SINCE, [cid], RT)
                found.append((known(cid), "offline", {"since": since}))
        for (cid, check), v in self._samples(PROBE_SUCCESS):
            if v == 0:
                found.append((known(cid), "probe", {"check": check}))
        for (cid,), v in self._samples(FRAME_SUCCESS):
            if v == 0:
                found.append((known(cid), "no_frame", {}))
        for (cid, problem), v in self._samples(FRAME_PROBLEM):
            if v == 1:
                found.append((known(cid), "frame", {"problem": problem}))
        for (cid,), v in self._samples(CAMERA_CARD_PROBLEM):
            if v == 1:
                found.append((known(cid), "card", {"state": self.card_state(cid) or ""}))
        order = {"offline": 0, "probe": 1, "no_frame": 2, "frame": 3, "card": 4}
        found.sort(key=lambda item: (order[item[1]], fold(item[0].label())))
        return found
