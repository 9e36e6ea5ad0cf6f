"""RT Camera API source: fleet inventory, status and baked archives from the Rostelecom cloud VMS.

The API is tolerated, not trusted: unknown fields are ignored, missing ones leave their metric out, a
record without a usable uid is skipped and counted as `bad_payload`, and a poll that fails anywhere (a
page after all retries, a payload of the wrong shape) changes nothing already exposed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from exporter.httpclient import JsonClient
from exporter.metrics import BAKED_ARCHIVE_STATUSES, CARD_STATES_FINE, Metrics
from exporter.scheduler import CheckFailed, Scheduler

log = logging.getLogger("vigil.rt_api")

SOURCE = "rt_api"
MAX_PAGES = 10_000
MAX_LABEL_LEN = 200
BAKED_PAGE = 100
BAKED_MAX = 5_000  # newest baked archives looked at each poll; older ones are history, not status
CARD_OK_STATES = {"CardOK", "CardNotFound", "Unknown", ""}


@dataclass(slots=True, frozen=True)
class Camera:
    uid: str
    name: str = ""
    sn: str = ""
    mac: str = ""
    ip: str = ""
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    datacenter: str = ""
    address: str = ""
    online: bool | None = None
    alive: bool | None = None
    offline_since: float | None = None
    card_state: str | None = None  # None: the API did not say; "" : empty state (fine)

    @property
    def card_problem(self) -> bool | None:
        return None if self.card_state is None else self.card_state not in CARD_OK_STATES


def _text(value: Any) -> str:
    """A descriptive field as a label value: scalars only, printable, bounded."""
    if value is None or isinstance(value, dict | list | bool):
        return ""
    text = str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text.strip()[:MAX_LABEL_LEN]


def _nested_text(value: Any, key: str) -> str:
    return _text(value.get(key)) if isinstance(value, dict) else _text(value)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _timestamp(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 < value < 1e11 else None


def parse_camera(record: Any) -> Camera | None:
    """One camera record of /v3/user/cameras.json, or None when it has no usable uid."""
    if not isinstance(record, dict):
        return None
    uid = _text(record.get("uid"))
    if not uid:
        return None
    card = record.get("memory_card_state")
    card_state: str | None = None
    if isinstance(card, dict) and "state" in card:
        card_state = _text(card.get("state"))
    return Camera(
        uid=uid,
        name=_text(record.get("name")),
        sn=_text(record.get("sn")),
        mac=_text(record.get("mac")),
        ip=_text(record.get("ip")),
        vendor=_text(record.get("vendor")),
        model=_text(record.get("model")),
        firmware=_text(record.get("firmware")),
        datacenter=_nested_text(record.get("data_center"), "name"),
        address=_text(record.get("address")),
        online=_bool(record.get("is_online")),
        alive=_bool(record.get("alive")),
        offline_since=_timestamp(record.get("offline_since")),
        card_state=card_state,
    )


def parse_camera_page(payload: Any) -> tuple[list[Any], int]:
    """The records and total_pages of one page; raises CheckFailed on the wrong shape."""
    if not isinstance(payload, dict):
        raise CheckFailed("bad_payload", "camera list: expected a JSON object")
    records = payload.get("cameras")
    if not isinstance(records, list):
        raise CheckFailed("bad_payload", "camera list: 'cameras' is not a list")
    total = payload.get("total_pages", 1)
    if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= MAX_PAGES:
        raise CheckFailed("bad_payload", "camera list: 'total_pages' is not a page count")
    return records, total


def parse_baked_archives(payload: Any) -> list[Any]:
    if isinstance(payload, dict):
        payload = payload.get("baked_archives")
    if not isinstance(payload, list):
        raise CheckFailed("bad_payload", "baked archives: expected a list")
    return payload


class RtApiSource:
    """Polls the RT API and publishes inventory metrics; keeps the last good inventory."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        metrics: Metrics,
        url: str,
        api_key: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        page_size: int = 100,
        concurrency: int = 4,
        clock: Callable[[], float] = time.time,
        backoff_base: float | None = None,
    ) -> None:
        self.metrics = metrics
        self.instance = urlsplit(url).netloc.rsplit("@", 1)[-1]
        self.page_size = page_size
        self.clock = clock
        self.limiter = asyncio.Semaphore(concurrency)
        self.cameras: dict[str, Camera] = {}
        self._clients: dict[str, JsonClient] = {}
        for check in ("health", "inventory", "baked_archives"):
            extra = {} if backoff_base is None else {"backoff_base": backoff_base}
            self._clients[check] = JsonClient(
                session,
                url,
                headers={"Authorization": f"Bearer token={api_key}"},
                timeout=timeout,
                max_retries=max_retries,
                limiter=self.limiter,
                on_error=self._error_counter(check),
                **extra,
            )

    def _error_counter(self, check: str) -> Callable[[str], None]:
        def count(reason: str) -> None:
            self.metrics.probe_errors.inc([SOURCE, check, reason])

        return count

    def register(
        self, scheduler: Scheduler, inventory_interval: float, baked_interval: float
    ) -> None:
        scheduler.add(
            SOURCE, "health", inventory_interval, self.poll_health, instance=self.instance
        )
        scheduler.add(
            SOURCE,
            "inventory",
            inventory_interval,
            self.poll_inventory,
            instance=self.instance,
            gates_readiness=True,
        )
        scheduler.add(
            SOURCE, "baked_archives", baked_interval, self.poll_baked, instance=self.instance
        )

    async def poll_health(self) -> None:
        await self._clients["health"].get_json("/v1/health.json", auth=False)

    # -- inventory -------------------------------------------------------------------------------
    async def fetch_cameras(self) -> dict[str, Camera]:
        client = self._clients["inventory"]
        path = "/v3/user/cameras.json"
        records, total_pages = await client.get_json(
            path, {"page": 1, "per_page": self.page_size}, parse=parse_camera_page
        )
        try:
            async with asyncio.TaskGroup() as group:  # one failed page cancels the others
                pages = [
                    group.create_task(
                        client.get_json(
                            path, {"page": p, "per_page": self.page_size}, parse=parse_camera_page
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
            self.metrics.probe_errors.inc([SOURCE, "inventory", "bad_payload"], skipped)
        return cameras

    async def poll_inventory(self) -> None:
        cameras = await self.fetch_cameras()
        self.publish_inventory(cameras)
        self.cameras = cameras
        log.debug("inventory: %d cameras", len(cameras))

    def publish_inventory(self, cameras: dict[str, Camera]) -> None:
        m = self.metrics
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
        m.camera_info.replace(info, SOURCE)
        m.camera_online.replace(online, SOURCE)
        m.camera_alive.replace(alive, SOURCE)
        m.camera_offline_since.replace(since, SOURCE)
        m.camera_card_state.replace(card, SOURCE)
        m.camera_card_problem.replace(problem, SOURCE)

    # -- baked archives --------------------------------------------------------------------------
    async def poll_baked(self) -> None:
        client = self._clients["baked_archives"]
        counts: Counter[str] = Counter()
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
            self.metrics.probe_errors.inc([SOURCE, "baked_archives", "bad_payload"], bad)
        self.metrics.baked_archives.replace(
            [((name,), counts[name]) for name in BAKED_ARCHIVE_STATUSES.values()], SOURCE
        )
