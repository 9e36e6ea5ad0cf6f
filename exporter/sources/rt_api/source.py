"""RT Camera API source: fleet inventory, status and baked archives from the Rostelecom cloud VMS.

The API is tolerated, not trusted: unknown fields are ignored, missing ones leave their metric out, a
record without a usable uid is skipped and counted as `bad_payload`, and a poll that fails anywhere (a
page after all retries, a payload of the wrong shape) changes nothing already exposed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import numpy as np

from exporter.analysis.archive import DAY, FleetArchive, analyse
from exporter.errors import HTTP_REASONS, CheckFailed
from exporter.httpclient import JsonClient
from exporter.logs import register_secret
from exporter.sources.contract import Check, Source, SourceContext
from exporter.sources.rt_api.archive import (
    ArchiveFamilies,
    CameraArchive,
    head_till,
    live_windows,
    merge_fetch,
    tail_since,
)
from exporter.sources.rt_api.baked import not_done
from exporter.sources.rt_api.config import RtApiConfig
from exporter.sources.rt_api.metrics import (
    BAKED_ARCHIVE_CREATED,
    BAKED_ARCHIVE_STATUSES,
    BAKED_ARCHIVES,
    BAKED_ARCHIVES_UNLISTED,
    CAMERA_ALIVE,
    CAMERA_CARD_PROBLEM,
    CAMERA_CARD_STATE,
    CAMERA_INFO,
    CAMERA_OFFLINE_SINCE,
    CAMERA_ONLINE,
    CARD_STATES_FINE,
)
from exporter.sources.rt_api.payloads import (
    Camera,
    parse_baked_archives,
    parse_camera,
    parse_camera_page,
    parse_fragments,
)

log = logging.getLogger("vigil.rt_api")

SOURCE = "rt_api"
BAKED_PAGE = 100
BAKED_MAX = 5_000  # newest baked archives looked at each poll; older ones are history, not status
ANALYSIS_BATCH = 2_000


class RtApiSource(Source):
    """Polls the RT API and publishes inventory and archive metrics; keeps the last good values."""

    name = SOURCE

    def __init__(self, context: SourceContext, config: RtApiConfig, tz: ZoneInfo) -> None:
        register_secret(config.api_key.reveal())
        metrics = context.metrics
        self._recorder = context.recorder
        self.config = config
        self.tz = tz
        self.instance = urlsplit(config.url).netloc.rsplit("@", 1)[-1]
        self.clock = context.clock
        self.shard = (
            context.shard
        )  # every shard reads the whole list; each publishes its own cameras
        self._info = metrics.family(CAMERA_INFO)
        self._online = metrics.family(CAMERA_ONLINE)
        self._alive = metrics.family(CAMERA_ALIVE)
        self._offline_since = metrics.family(CAMERA_OFFLINE_SINCE)
        self._card_state = metrics.family(CAMERA_CARD_STATE)
        self._card_problem = metrics.family(CAMERA_CARD_PROBLEM)
        self._baked = metrics.family(BAKED_ARCHIVES)
        self._baked_created = metrics.family(BAKED_ARCHIVE_CREATED)
        self._baked_unlisted = metrics.family(BAKED_ARCHIVES_UNLISTED)
        self._archive = ArchiveFamilies(metrics)
        backoff_base = context.options.get("backoff_base")
        session: aiohttp.ClientSession = context.session
        self.cameras: dict[str, Camera] = {}
        self.archives: dict[str, CameraArchive] = {}
        self._inventory_tried = asyncio.Event()
        self._inventory_known = False  # a camera list has been read (this shard may own none)
        # inventory, baked archives and health share one bound; per-camera archive fetches another
        api_limiter = asyncio.Semaphore(config.concurrency)
        archive_limiter = asyncio.Semaphore(config.archive_concurrency)
        self._clients: dict[str, JsonClient] = {}
        for check in ("health", "inventory", "baked_archives", "archive"):
            extra = {} if backoff_base is None else {"backoff_base": backoff_base}
            self._clients[check] = JsonClient(
                session,
                config.url,
                headers={"Authorization": f"Bearer token={config.api_key.reveal()}"},
                timeout=config.timeout,
                max_retries=config.max_retries,
                limiter=archive_limiter if check == "archive" else api_limiter,
                on_error=self._error_counter(check),
                max_body=config.max_answer_mb * 2**20,
                **extra,
            )

    def _error_counter(self, check: str) -> Callable[[str], None]:
        def count(reason: str) -> None:
            self._recorder.get(SOURCE, check).count(reason)

        return count

    def checks(self) -> list[Check]:
        cfg = self.config
        return [
            Check("health", cfg.inventory_interval, self.poll_health, self.instance),
            Check(
                "inventory",
                cfg.inventory_interval,
                self.poll_inventory,
                self.instance,
                gates_readiness=True,
            ),
            Check("baked_archives", cfg.baked_archives_interval, self.poll_baked, self.instance),
            Check(
                "archive",
                cfg.archive_interval,
                self.poll_archive,
                self.instance,
                reasons=(*HTTP_REASONS, "no_inventory"),
            ),
        ]

    def status_lines(self) -> list[str]:
        """Cameras known, online, offline and with card problems, as the latest poll left them."""
        shard = f" (shard {self.shard}: its own cameras)" if self.shard.sharded else ""
        if not self.cameras:
            return [f"RT API: no cameras known yet{shard}."]
        online = [c.online for c in self.cameras.values()]
        problems = sum(1 for c in self.cameras.values() if c.card_problem)
        return [
            f"RT API{shard}: {len(self.cameras)} cameras: {online.count(True)} online, "
            f"{online.count(False)} offline, {problems} with a memory-card problem."
        ]

    async def poll_health(self) -> None:
        await self._clients["health"].get_json("/v1/health.json", auth=False)

    # -- inventory -------------------------------------------------------------------------------
    async def fetch_cameras(self) -> dict[str, Camera]:
        client = self._clients["inventory"]
        path = "/v3/user/cameras.json"
        records, total_pages = await client.get_json(
            path, {"page": 1, "per_page": self.config.page_size}, parse=parse_camera_page
        )
        try:
            async with asyncio.TaskGroup() as group:  # one failed page cancels the others
                pages = [
                    group.create_task(
                        client.get_json(
                            path,
                            {"page": p, "per_page": self.config.page_size},
                            parse=parse_camera_page,
                        )
                    )
                    for p in range(2, total_pages + 1)
                ]
        except* CheckFailed as failed:
            raise failed.exceptions[0] from None
        for page in pages:
            records.extend(page.result()[0])
        cameras: dict[str, Camera] = {}
        skipped = 0
        for record in records:
            camera = parse_camera(record)
            if camera is None:
                skipped += 1
            else:
                # pages can shift while we read them; the first sighting wins
                cameras.setdefault(camera.uid, camera)
        if skipped:
            log.warning("camera list: skipped %d record(s) without a usable uid", skipped)
            self._recorder.get(SOURCE, "inventory").count("bad_payload", skipped)
        return cameras

    async def poll_inventory(self) -> None:
        try:
            cameras = await self.fetch_cameras()
        finally:
            self._inventory_tried.set()
        if not cameras and self.cameras:
            # a glitch that empties the list must not wipe every camera and its 90-day archive cache
            raise CheckFailed(
                "bad_payload",
                f"the camera list came back empty after {len(self.cameras)} cameras; "
                "keeping the previous inventory",
            )
        if self.shard.sharded:
            cameras = {uid: c for uid, c in cameras.items() if self.shard.owns(uid)}
        self.publish_inventory(cameras)
        gone = [uid for uid in self.cameras if uid not in cameras]
        if gone:
            self._archive.drop(gone)
            for uid in gone:
                self.archives.pop(uid, None)
        self.cameras = cameras
        self._inventory_known = True
        log.debug("inventory: %d cameras, %d gone", len(cameras), len(gone))

    def publish_inventory(self, cameras: dict[str, Camera]) -> None:
        info, online, alive, since, card, problem = [], [], [], [], [], []
        for uid, c in cameras.items():
            labels = (uid, c.name, c.sn, c.mac, c.ip, c.vendor, c.model, c.firmware)
            info.append(((*labels, c.datacenter, c.address), 1))
            if c.online is not None:
                online.append(((uid,), 1 if c.online else 0))
                if not c.online and c.offline_since is not None:
                    since.append(((uid,), c.offline_since))
            if c.alive is not None:
                alive.append(((uid,), 1 if c.alive else 0))
            if c.card_state is not None:
                current = c.card_state or "none"
                for state in CARD_STATES_FINE:
                    card.append(((uid, state), 1 if state == current else 0))
                if current not in CARD_STATES_FINE:
                    card.append(((uid, current), 1))
                problem.append(((uid,), 1 if c.card_problem else 0))
        self._info.replace(info, SOURCE)
        self._online.replace(online, SOURCE)
        self._alive.replace(alive, SOURCE)
        self._offline_since.replace(since, SOURCE)
        self._card_state.replace(card, SOURCE)
        self._card_problem.replace(problem, SOURCE)

    # -- baked archives --------------------------------------------------------------------------
    async def poll_baked(self) -> None:
        client = self._clients["baked_archives"]
        counts: Counter[str] = Counter()
        owned: list[object] = []  # this shard's archives, for the list of those not DONE
        bad = 0
        offset = 0
        while offset < BAKED_MAX:
            items = await client.get_json(
                "/v1/user/baked_archives.json",
                {
                    "offset": offset,
                    "limit": BAKED_PAGE,
                    "sort_column": "updated_at",
                    "sort_order": "desc",
                },
                parse=parse_baked_archives,
            )
            for item in items:
                if self.shard.sharded and not self._owns_baked(item):
                    continue
                owned.append(item)
                status = item.get("status") if isinstance(item, dict) else None
                name = BAKED_ARCHIVE_STATUSES.get(status) if isinstance(status, int) else None
                if name is None:
                    bad += 1
                else:
                    counts[name] += 1
            if len(items) < BAKED_PAGE:
                break
            offset += BAKED_PAGE
        if bad:
            log.warning("baked archives: skipped %d record(s) with an unknown status", bad)
            self._recorder.get(SOURCE, "baked_archives").count("bad_payload", bad)
        self._baked.replace(
            [((name,), counts[name]) for name in BAKED_ARCHIVE_STATUSES.values()], SOURCE
        )
        self._publish_not_done(owned)

    def _publish_not_done(self, items: list[object]) -> None:
        """One series per baked archive not DONE, bounded; the rest counted (rt_api/baked.py)."""
        listed, left_out = not_done(items)
        self._baked_created.replace(listed, SOURCE)
        self._baked_unlisted.replace([((), left_out)], SOURCE)

    def _owns_baked(self, item: object) -> bool:
        """A baked archive is counted by the shard of its camera (shard 0 when it names none), so
        the sum over shards is the fleet's count."""
        camera = item.get("camera_uid") if isinstance(item, dict) else None
        if isinstance(camera, str) and camera:
            return self.shard.owns(camera)
        return self.shard.index == 0

    # -- archive integrity -----------------------------------------------------------------------
    async def fetch_archive(self, uid: str, now: int) -> CameraArchive:
        """Fetch one camera's new fragments and return its updated cache entry."""
        cfg = self.config
        entry = self.archives.get(uid)
        window_start = now - cfg.archive_days * DAY
        query_since = tail_since(entry, now, cfg.archive_days, int(cfg.archive_overlap))
        query_head = head_till(entry)
        path = f"/v1/user/cameras/{quote(uid, safe='')}/estore_fragments.json"

        async def fetch(since: int, till: int) -> tuple[np.ndarray, np.ndarray]:
            frag_since, frag_till, skipped = await self._clients["archive"].get_json(
                path, {"since": since, "till": till}, parse=parse_fragments
            )
            if skipped:
                self._recorder.get(SOURCE, "archive").count("bad_payload", skipped)
            return frag_since, frag_till

        if query_head is not None and query_head >= query_since:
            # one fragment spans the whole history: the head range would cover the tail anyway
            entry, query_since, query_head = None, window_start, None
        if query_head is None or query_head <= window_start:
            tail, head, query_head = await fetch(query_since, now), None, None
        else:
            tail, head = await asyncio.gather(
                fetch(query_since, now), fetch(window_start, query_head)
            )
        since, till = merge_fetch(entry, window_start, query_since, tail, query_head, head)
        return CameraArchive(since, till, fetched_till=now, fetched_at=float(now))

    async def poll_archive(self) -> None:
        """Fetch every camera's archive tail, analyse the fleet, publish the cameras fetched."""
        if not self._inventory_tried.is_set():
            await self._inventory_tried.wait()
        if not self._inventory_known:
            raise CheckFailed("no_inventory", "no camera inventory to fetch archives for")
        if not self.cameras:
            return  # this shard owns no camera
        now = int(self.clock())
        uids = list(self.cameras)
        failures: Counter[str] = Counter()

        async def fetch(uid: str) -> CameraArchive | None:
            try:
                return await self.fetch_archive(uid, now)
            except CheckFailed as exc:
                failures[exc.reason] += 1
                return None

        entries = await asyncio.gather(*(fetch(uid) for uid in uids))
        fetched: list[tuple[str, CameraArchive]] = []
        for uid, entry in zip(uids, entries, strict=True):
            # a camera dropped from the inventory while we fetched stays dropped
            if entry is not None and uid in self.cameras:
                self.archives[uid] = entry
                fetched.append((uid, entry))
        if fetched:
            await self._publish_archive(fetched, now)
        failed = sum(failures.values())
        if failed:
            reasons = ", ".join(f"{r}: {n}" for r, n in failures.most_common())
            log.warning("archive: %d of %d cameras not fetched (%s)", failed, len(uids), reasons)
        if failed * 2 > len(uids):
            raise CheckFailed(
                failures.most_common(1)[0][0],
                f"archive fetch failed for {failed} of {len(uids)} cameras",
                counted=True,  # every camera's failed attempts were counted by the client
            )

    async def _publish_archive(self, fetched: list[tuple[str, CameraArchive]], now: int) -> None:
        """Analyse in a worker thread, a batch of cameras at a time, and publish each batch.

        Batches bound the analysis' working memory (about 14 MB per 1,000 cameras) and let scrapes
        and other checks run between them; at 2,000 cameras a batch is still fully vectorised.
        """
        windows = live_windows(now, self.tz, self.config.archive_days)
        threshold = int(self.config.gap_threshold)
        loop = asyncio.get_running_loop()
        for first in range(0, len(fetched), ANALYSIS_BATCH):
            batch = fetched[first : first + ANALYSIS_BATCH]
            fleet = FleetArchive.from_lists([(e.since, e.till) for _, e in batch])
            stats = await loop.run_in_executor(None, analyse, fleet, now, windows, threshold)
            for row, (uid, entry) in enumerate(batch):
                self._archive.publish(uid, stats, row, entry.fetched_at)
