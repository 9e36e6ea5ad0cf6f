"""RT Camera API source: fleet inventory, status and baked archives from the Rostelecom cloud VMS.

The API is tolerated, not trusted: unknown fields are ignored, missing ones leave their metric out and
are counted by name (`vigil_rt_api_fields_absent`), a value of a shape Vigil cannot read is counted as
`bad_payload` and by name (`vigil_rt_api_fields_unusable`), a record without a usable uid is skipped
and counted, and a poll that fails anywhere (a page after all retries, a payload of the wrong shape, a
list that never ends) changes nothing already exposed.

Lists are paged by what actually comes back, not by what the server promises: the camera list is read
while pages come back full, whatever `total_pages` says or lacks; baked archives are read by the number
of items received until an empty page, or a short one the server confirms is the last.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import numpy as np

from exporter.analysis.archive import DAY, FleetArchive, analyse
from exporter.errors import HTTP_REASONS, CheckFailed
from exporter.httpclient import JsonClient
from exporter.logs import register_secret
from exporter.memory import release_free_memory
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
    FIELDS_ABSENT,
    FIELDS_UNUSABLE,
)
from exporter.sources.rt_api.payloads import (
    CAMERA_FIELDS,
    Camera,
    CameraPage,
    FieldTally,
    baked_status,
    parse_baked_archives,
    parse_camera,
    parse_camera_page,
    parse_fragments,
    read_text,
)

log = logging.getLogger("vigil.rt_api")

SOURCE = "rt_api"
HEALTH_PATH = "/v1/health.json"
CAMERAS_PATH = "/v3/user/cameras.json"
FRAGMENTS_PATH = "/v1/user/cameras/{uid}/estore_fragments.json"
BAKED_PATH = "/v1/user/baked_archives.json"
BAKED_MAX = 5_000  # newest baked archives looked at each poll; older ones are history, not status
ANALYSIS_BATCH = 2_000
FALLBACK_PAGE_SIZE = 100  # per_page asked for when the API refuses a larger one
REFUSED = {400, 413, 422}  # a 4xx that means "not this per_page", not "not you"
PAGED_REASONS = (*HTTP_REASONS, "page_limit")


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
        self._fields_absent = metrics.family(FIELDS_ABSENT)
        self._fields_unusable = metrics.family(FIELDS_UNUSABLE)
        self._baked_created = metrics.family(BAKED_ARCHIVE_CREATED)
        self._baked_unlisted = metrics.family(BAKED_ARCHIVES_UNLISTED)
        self._archive = ArchiveFamilies(metrics)
        self._page_size = config.page_size  # lowered for good when the API refuses it
        self._field_report = ""  # the last logged description of absent and unusable fields
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
                timeout=config.health_timeout if check == "health" else config.timeout,
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
                reasons=PAGED_REASONS,
            ),
            Check(
                "baked_archives",
                cfg.baked_archives_interval,
                self.poll_baked,
                self.instance,
                reasons=PAGED_REASONS,
            ),
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
        await self._clients["health"].get_json(HEALTH_PATH, auth=False)

    # -- inventory -------------------------------------------------------------------------------
    async def fetch_cameras(self) -> dict[str, Camera]:
        """Every camera of the account (all shards'), as `vigil backfill` needs them."""
        cameras: dict[str, Camera] = {}
        tally = FieldTally()
        await self.camera_records(lambda records: add_cameras(records, cameras, tally))
        self._count_bad(tally)
        return cameras

    async def _camera_page(self, page: int, per_page: int) -> CameraPage:
        return await self._clients["inventory"].get_json(
            CAMERAS_PATH, {"page": page, "per_page": per_page}, parse=parse_camera_page
        )

    async def _first_camera_page(self) -> tuple[CameraPage, int]:
        """Page 1 and the per_page it was read with; a refused per_page falls back to 100."""
        size = self._page_size
        try:
            return await self._camera_page(1, size), size
        except CheckFailed as exc:
            if exc.status not in REFUSED or size <= FALLBACK_PAGE_SIZE:
                raise
            log.warning(
                "camera list: the API refused per_page=%d (HTTP %d); reading %d a page from now on",
                size,
                exc.status,
                FALLBACK_PAGE_SIZE,
            )
        first = await self._camera_page(1, FALLBACK_PAGE_SIZE)
        self._page_size = FALLBACK_PAGE_SIZE
        return first, FALLBACK_PAGE_SIZE

    async def camera_records(self, consume: Callable[[list[object]], None]) -> bool:
        """Hand the raw records of the camera list to `consume`, a page at a time and in order;
        whether the list named any camera at all.

        A page that comes back full means there may be more, whatever `total_pages` says or lacks;
        a short or empty page ends the list. "Full" is the per_page asked for, or the length of page
        1 when the server silently caps it lower (it says so with a total_pages over 1, or page 2
        turns out not to be empty). Pages that `total_pages` promises are fetched a few at a time
        ahead of the one being read, the rest one after another, at most `max_pages`; a full page of
        nothing but cameras already seen means the API ignores `page` and fails the poll rather than
        loop. Each page is consumed as it is read, so a shard of a 100,000-camera account holds a
        few pages of parsed JSON at a time, not the whole list (about 200 MB).
        """
        max_pages = self.config.max_pages
        named = False

        def take(page: CameraPage) -> None:
            nonlocal named
            named = named or any(_record_uid(r) for r in page.records)
            consume(page.records)

        first, size = await self._first_camera_page()
        take(first)
        seen = _uids(first.records)
        full = len(first.records)
        if full == 0 or (full < size and first.total_pages is not None and first.total_pages <= 1):
            return named
        promised = min(first.total_pages or 1, max_pages)
        ahead: deque[asyncio.Task[CameraPage]] = deque()  # requested, in page order
        last, page, requested = first, 1, 1
        try:
            while ahead or requested < promised:
                while requested < promised and len(ahead) < 2 * self.config.concurrency:
                    requested += 1
                    ahead.append(asyncio.ensure_future(self._camera_page(requested, size)))
                last, page = await ahead.popleft(), page + 1
                self._check_new(last, seen, page, full)
                take(last)
        finally:
            for task in ahead:  # a failed page stops the ones requested after it
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: asyncio would log it as never retrieved
                task.cancel()
        while len(last.records) >= full:
            if page >= max_pages:
                raise CheckFailed(
                    "page_limit",
                    f"camera list: page {page} still came back full (max_pages {max_pages}); "
                    "keeping the previous inventory",
                )
            last, page = await self._camera_page(page + 1, size), page + 1
            self._check_new(last, seen, page, full)
            take(last)
        return named

    @staticmethod
    def _check_new(page: CameraPage, seen: set[str], number: int, full: int) -> None:
        uids = _uids(page.records)
        if len(page.records) >= full and uids and uids <= seen:
            raise CheckFailed(
                "bad_payload",
                f"camera list: page {number} holds only cameras of earlier pages "
                "(the API seems to ignore `page`); keeping the previous inventory",
            )
        seen |= uids

    def _count_bad(self, tally: FieldTally) -> None:
        """Count skipped records and unusable values as bad_payload; say which fields, once."""
        bad = tally.skipped + tally.unusable_total - tally.unusable["uid"]
        if bad:
            self._recorder.get(SOURCE, "inventory").count("bad_payload", bad)
        absent = [name for name in CAMERA_FIELDS if tally.absent[name]]
        unusable = [name for name in CAMERA_FIELDS if tally.unusable[name]]
        key = f"{absent}{unusable}{bool(tally.skipped)}"
        if key == self._field_report:
            return  # said once per change, not every poll: the gauges keep the figures
        self._field_report = key
        parts = []
        if unusable:
            parts.append(f"unusable values (bad_payload): {tally.describe_unusable()}")
        if tally.skipped:
            parts.append(f"records without a usable uid skipped: {tally.skipped}")
        if absent:
            listed = ", ".join(f"{name} ({tally.absent[name]})" for name in absent)
            parts.append(f"fields absent from some cameras: {listed}")
        level = logging.WARNING if unusable or tally.skipped else logging.INFO
        log.log(level, "camera list: %s", "; ".join(parts) or "every field present and understood")

    async def poll_inventory(self) -> None:
        cameras: dict[str, Camera] = {}
        tally = FieldTally()

        def consume(records: list[object]) -> None:
            # tallied and published by the shard owning the camera, so shards add up to the fleet
            mine = filter(self._owns_record, records) if self.shard.sharded else records
            add_cameras(mine, cameras, tally, previous=self.cameras)

        try:
            named = await self.camera_records(consume)
        finally:
            self._inventory_tried.set()
        self._count_bad(tally)
        others = self.shard.sharded and named
        if not cameras and self.cameras and not others:
            # a glitch that empties the list must not wipe every camera and its 90-day archive cache
            raise CheckFailed(
                "bad_payload",
                f"the camera list came back empty after {len(self.cameras)} cameras; "
                "keeping the previous inventory",
            )
        self.publish_inventory(cameras)
        self._fields_absent.replace([((f,), tally.absent[f]) for f in CAMERA_FIELDS], SOURCE)
        self._fields_unusable.replace([((f,), tally.unusable[f]) for f in CAMERA_FIELDS], SOURCE)
        gone = [uid for uid in self.cameras if uid not in cameras]
        if gone:
            self._archive.drop(gone)
            for uid in gone:
                self.archives.pop(uid, None)
        self.cameras = cameras
        self._inventory_known = True
        release_free_memory()  # the pages' parsed JSON is gone: give its memory back
        log.debug("inventory: %d cameras, %d gone", len(cameras), len(gone))

    def _owns_record(self, record: object) -> bool:
        """A camera record belongs to the shard of its uid (shard 0 when it has none)."""
        uid = _record_uid(record)
        return self.shard.owns(uid) if uid else self.shard.index == 0

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
        """Count the newest baked archives by status, paging by the items each page brought.

        A short page ends the list only when the server confirms it (its `total` reached): a server
        that caps `limit` below what was asked would otherwise look finished after its first page,
        and an echoed `limit` may be the one asked, not the one applied. Without a total the next
        page is asked for, and an empty one ends the list, as does a page that repeats the one
        before.
        """
        client = self._clients["baked_archives"]
        limit = self.config.baked_page_size
        counts: Counter[str] = Counter()
        bad = offset = pages = 0
        seen: set[object] = set()
        previous: list[object] = []
        owned: list[object] = []  # this shard's archives, for the list of those not DONE
        while offset < BAKED_MAX:
            if pages >= self.config.max_pages:
                raise CheckFailed(
                    "page_limit",
                    f"baked archives: {pages} pages read and no end (max_pages); counts unchanged",
                )
            page = await client.get_json(
                BAKED_PATH,
                {
                    "offset": offset,
                    "limit": limit,
                    "sort_column": "updated_at",
                    "sort_order": "desc",
                },
                parse=parse_baked_archives,
            )
            pages += 1
            items = page.items[: BAKED_MAX - offset]
            if not items:
                break
            ids = {(type(i), i) for item in items if isinstance(i := _item_id(item), int | str)}
            if items == previous or (ids and ids <= seen):
                # an API that ignores `offset` (and maybe `limit`) sends the same page again: what
                # came before is all there is to count
                log.warning(
                    "baked archives: the page at offset %d repeats earlier items (the API seems "
                    "to ignore `offset`); counting the %d received before it",
                    offset,
                    offset,
                )
                break
            seen |= ids
            previous = items
            for item in items:
                if self.shard.sharded and not self._owns_baked(item):
                    continue
                owned.append(item)
                status = baked_status(item)
                if status is None:
                    bad += 1
                else:
                    counts[BAKED_ARCHIVE_STATUSES[status]] += 1
            offset += len(items)
            if page.total is not None and offset >= page.total:
                break  # the server's own count: no need to ask for the empty page
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
        path = FRAGMENTS_PATH.format(uid=quote(uid, safe=""))

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

        fetched: list[tuple[str, CameraArchive]] = []

        async def fetch(uid: str) -> None:
            try:
                entry = await self.fetch_archive(uid, now)
            except CheckFailed as exc:
                failures[exc.reason] += 1
                return
            # stored as soon as it arrives, so the camera's previous arrays are freed at once
            # instead of the whole shard's cache existing twice until the last answer; a camera
            # dropped from the inventory while we fetched stays dropped
            if uid in self.cameras:
                self.archives[uid] = entry
                fetched.append((uid, entry))

        # a few workers over the list, not a task per camera: 25,000 waiting tasks cost ~75 MB;
        # more workers than the limiter's slots, so a camera waiting out a retry holds none
        queue = iter(uids)

        async def worker() -> None:
            for uid in queue:
                await fetch(uid)

        workers = min(len(uids), 4 * self.config.archive_concurrency)
        await asyncio.gather(*(worker() for _ in range(workers)))
        order = {uid: i for i, uid in enumerate(uids)}
        fetched.sort(key=lambda item: order[item[0]])  # published in inventory order, as before
        if fetched:
            await self._publish_archive(fetched, now)
        fetched.clear()
        release_free_memory()  # the replaced arrays and texts are gone: give their memory back
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


def add_cameras(
    records: Iterable[object],
    cameras: dict[str, Camera],
    tally: FieldTally,
    previous: dict[str, Camera] | None = None,
) -> None:
    """Camera records -> cameras by uid (pages can shift while read: the first sighting wins).

    A camera equal to its `previous` reading keeps that object, so the strings of each poll's
    pages die with them: a 25,000-camera shard's steady polls no longer leave memory fragmented
    by the strings a few changed cameras kept alive in every page's memory.
    """
    for record in records:
        camera = parse_camera(record, tally)
        if camera is not None and camera.uid not in cameras:
            old = previous.get(camera.uid) if previous is not None else None
            cameras[camera.uid] = old if old == camera else camera


def _uids(records: list[object]) -> set[str]:
    return {
        uid for r in records if isinstance(r, dict) and isinstance(uid := r.get("uid"), str) and uid
    }


def _record_uid(record: object) -> str | None:
    uid = record.get("uid") if isinstance(record, dict) else None
    return read_text(uid) or None if uid is not None else None


def _item_id(item: object) -> object:
    return item.get("id") if isinstance(item, dict) else None
