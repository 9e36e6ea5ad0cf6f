"""A deterministic simulated camera fleet in the shape of the RT Camera API (pure, no I/O).

Everything is a function of (seed, cameras, flap_period, start) and the `now` passed to each
method, so with a fixed `start` and fixed `now` values every answer is reproducible. Static
attributes come from `random.Random(seed)`, the archive's per-camera faults from a second generator
seeded from `seed`; per-time-block decisions come from a stable hash (blake2b of the camera key and
the block number), so any window of the archive can be generated on its own and agrees with every
other window.

The inventory mix: a few per cent offline (some for days, some for minutes or hours), about 1 %
flapping on a `flap_period` cycle, about 3 % memory-card problems, about 80 % reporting `alive`, and
40-60 baked archives in all four statuses.

The archive (`fragments`) is built on a fixed grid of 6-hour blocks whose boundaries are jittered by
up to 90 minutes, so fragments cross block edges and both UTC and Moscow (UTC+3) midnight. A camera
splits its archive at a boundary with a per-camera probability of 1/2, 3/4 or 1 (at the latest every
36 hours), so a fragment is usually several hours long and a normal camera has about 2-6 fragments a
day (a few hundred over 90 days). At a split the next fragment starts at the boundary or 1-3 s after it
(never a gap that counts). Faults, each on a fixed set of cameras that `truth()` names:

- `short_drops` (60 % of the cameras with an archive): holes of 10 s - 5 min inside a block, from
  about one every two days to two a day; 30 % of them last 50-70 s, around the usual 60 s threshold;
- `long_outages` (5 %): holes of 1-12 h, about one every two to four days;
- `overlaps` (6 %): at about 30 % of the splits a fragment runs 1-30 s into the next one, and about
  one block in 20 holds an extra 30-900 s fragment nested inside the main one;
- `duplicates` (4 %): at about 15 % of the splits the fragment is returned twice, exactly;
- `dying_card` (2 %): online, but the archive stopped before `start`: 2-8 hours before for half
  of them, 1-5 days before for the other half, which `archive_stalled` lists on their own;
- `no_archive` (about 2 %): no archive at all (plus any camera whose archive ended before its
  depth, e.g. offline for longer than it keeps);
- recording cameras' newest fragment ends at `floor(now)` (a hole that would hold `now` has not
  happened yet: the fragment before it runs on to `now`); offline cameras stop at
  `offline_since`, flapping ones lose their offline periods since `start`. Other cameras have no
  hole of 10 s or more. Archive depth is 90.5-120 days for most cameras, 2-30 days for some.
"""

from __future__ import annotations

import math
import random
import struct
import time
import uuid
from datetime import datetime, timedelta, timezone
from hashlib import blake2b
from typing import Any

__all__ = [
    "BAKED_STATUS_NAMES",
    "CARD_FINE_STATES",
    "CARD_PROBLEM_STATES",
    "FLAP_ARCHIVE_MIN_PERIOD",
    "SimulatedFleet",
]

BLOCK = 6 * 3600  # archive generation grid (seconds)
JITTER = 5400  # block boundaries move up to this much, so fragments cross midnight and block edges
SPLIT_EVERY = 6  # a boundary in every SPLIT_EVERY blocks always splits (bounds the look-back)
TINY_GAP_MAX = 3  # seconds between fragments at a split that is not a fault
OVERLAP_MAX = 30  # a fragment may run this far into the next one
DROP_MARGIN = 300  # short drops keep this far from block boundaries
LONG_GAP_MIN = 3600
LONG_GAP_MAX = 12 * 3600
OUTAGE_EVERY = 4  # a long outage may start only in one block of every OUTAGE_EVERY (no overlaps)
# blocks before the walk's anchor whose long outage can still reach past it
LONG_GAP_LOOKBACK = (LONG_GAP_MAX + 2 * JITTER) // BLOCK + 1
DAY = 86400

# Flapping cameras lose their archive while offline only when a period is long enough to matter
# (periods of a few seconds, used by quick tests, would shred the archive into one-second pieces).
FLAP_ARCHIVE_MIN_PERIOD = 10.0

BAKED_STATUS_NAMES = {0: "NEW", 1: "ENQUEUED", 2: "ERROR", 3: "DONE"}
CARD_FINE_STATES = frozenset({"CardOK", "CardNotFound", "Unknown", ""})
CARD_PROBLEM_STATES = ("CardError", "CardReadOnly", "CardNeedsFormat")

# name, weight, models, firmwares, serial prefix, MAC prefix (invented, locally administered)
_VENDORS: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...], str, str], ...] = (
    (
        "Hikvision",
        34,
        ("DS-2CD2143G2-I", "DS-2CD2043G2-IU", "DS-2CD1023G0E-I"),
        ("V5.7.3 build 220112", "V5.7.12 build 221201", "V5.5.82 build 190909"),
        "DS",
        "02:1c:48",
    ),
    (
        "Dahua",
        24,
        ("IPC-HFW2431S-S-S2", "IPC-HDW2231T-AS-S2", "IPC-HFW1230S"),
        ("V2.820.0000000.31.R", "V2.800.0000016.0.R", "V2.622.0000000.32.R"),
        "7G0",
        "02:3c:ef",
    ),
    (
        "Uniview",
        12,
        ("IPC2124LB-SF40KM-G", "IPC322LB-DSF28K-G"),
        ("IPC_G6103-B0008P60D1908", "IPC_GCB6102-B5011P29D2206"),
        "210235C",
        "02:48:ea",
    ),
    (
        "RVi",
        12,
        ("RVi-1NCT2120", "RVi-1NCD2062", "RVi-2NCT2042"),
        ("V5.5.8 build 200408", "V5.6.1 build 210315"),
        "RVI",
        "02:5a:11",
    ),
    (
        "Axis",
        9,
        ("M3106-L Mk II", "P3245-V", "M2025-LE"),
        ("10.12.182", "9.80.3.8", "11.1.66"),
        "ACCC8E",
        "02:40:8c",
    ),
    (
        "Trassir",
        9,
        ("TR-D2121IR3", "TR-D8121IR2", "TR-D2S5"),
        ("2.4.1.5", "2.6.0.12"),
        "TR",
        "02:7e:21",
    ),
)

# name, weight, city
_DATA_CENTERS = (
    ("MSK-1", 30, "Москва"),
    ("MSK-2", 24, "Москва"),
    ("SPB-1", 20, "Санкт-Петербург"),
    ("EKB-1", 14, "Екатеринбург"),
    ("NSK-1", 12, "Новосибирск"),
)

_STREETS = (
    "ул. Ленина",
    "ул. Мира",
    "пр-т Победы",
    "ул. Советская",
    "ул. Гагарина",
    "ул. Садовая",
    "Набережная ул.",
    "ул. Пушкина",
    "ул. Кирова",
    "ул. Строителей",
    "Школьная ул.",
    "ул. Лесная",
    "ул. Молодёжная",
    "Октябрьская ул.",
    "ул. Чкалова",
    "пр-т Мира",
    "ул. Куйбышева",
    "ул. Московская",
    "ул. Комсомольская",
    "ул. Заводская",
    "ул. Первомайская",
    "Центральная ул.",
    "ул. Луговая",
    "ул. Дзержинского",
)
_SPOTS = (
    "вход",
    "парковка",
    "двор",
    "подъезд 1",
    "подъезд 2",
    "КПП",
    "склад",
    "холл",
    "периметр",
    "касса",
    "задний двор",
    "лифтовой холл",
    "детская площадка",
    "въезд",
)
_CARD_COMMON = (("CardOK", 72), ("", 12), ("CardNotFound", 9), ("Unknown", 4))

_MSK = timezone(timedelta(hours=3))

# Kinds of camera behaviour.
_ONLINE, _OFFLINE, _FLAP, _DYING, _STALLED = "online", "offline", "flapping", "dying", "stalled"
_STOPPED = (_OFFLINE, _DYING, _STALLED)  # no longer recording, whatever the inventory says

_U16 = 65536
_HASH = struct.Struct("<16H")
_NEAR_THRESHOLD = int(0.3 * _U16)
_TINY_FROM = int(0.6 * _U16)  # a split's kind value at or above this leaves a 1-3 s gap


class _Cam:
    __slots__ = (
        "alive",
        "base",
        "depth",
        "drop_thr",
        "dup_thr",
        "flap_offset",
        "hasher",
        "key",
        "kind",
        "nest_thr",
        "old_offline_since",
        "outage_thr",
        "overlap_thr",
        "phase",
        "split_thr",
        "stop",
        "uid",
    )

    def __init__(self) -> None:
        self.uid = ""
        self.key = b""
        self.hasher: Any = None  # blake2b primed with the key; copied for every block
        self.base: dict[str, Any] = {}
        self.kind = _ONLINE
        self.alive: bool | None = None  # None: the camera does not report `alive`
        self.old_offline_since: int | None = None  # shown while online
        self.stop = 0  # offline: offline_since; dying, stalled: when the archive stopped
        self.flap_offset = 0
        self.depth = 0  # archive depth in seconds; 0: no archive at all
        # Archive shape; chances are out of 65536 (a threshold of 65536 means always).
        self.phase = 0  # shifts the forced splits and the long-outage blocks
        self.split_thr = _U16  # a boundary splits the archive
        self.drop_thr = 0  # a block holds a short drop
        self.outage_thr = 0  # an eligible block starts a long outage
        self.overlap_thr = 0  # a split overlaps the next fragment
        self.nest_thr = 0  # a block holds an extra fragment nested in the main one
        self.dup_thr = 0  # a split returns the fragment twice


def _uuid(raw: int) -> str:
    """A camera uid as the platform writes them elsewhere: a (version 4) UUID, derived from the 64
    random bits a camera draws, so the rest of the fleet (and its archive) stays what it was."""
    digest = blake2b(raw.to_bytes(8, "big"), digest_size=16, person=b"vigil-uid").digest()
    return str(uuid.UUID(bytes=digest, version=4))


def _subtract(frags: list[tuple[int, int]], gs: int, ge: int) -> list[tuple[int, int]]:
    out = []
    for a, b in frags:
        if b <= gs or a >= ge:
            out.append((a, b))
            continue
        if a < gs:
            out.append((a, gs))
        if ge < b:
            out.append((ge, b))
    return out


class SimulatedFleet:
    """A reproducible fleet of RT cloud cameras, their archives and baked archives."""

    def __init__(
        self,
        cameras: int = 200,
        seed: int = 0,
        flap_period: float = 120.0,
        start: float | None = None,
        baked_archives: int | None = None,
    ) -> None:
        """`baked_archives`: how many (default 40-60, growing with the fleet)."""
        if cameras < 0:
            raise ValueError("cameras must be >= 0")
        self._baked_count = baked_archives
        self.size = cameras
        self.seed = seed
        self.flap_period = float(flap_period)
        self.start = float(time.time() if start is None else start)
        self._cams: list[_Cam] = []
        self._by_uid: dict[str, _Cam] = {}
        self._build()
        self._baked = self._build_baked()

    # ------------------------------------------------------------------ construction
    def _quota(self, share: float) -> int:
        q = round(share * self.size)
        if q == 0 and self.size >= 20:
            q = 1
        return q

    def _build(self) -> None:
        n = self.size
        rng = random.Random(self.seed)
        start = self.start
        vendor_weights = [v[1] for v in _VENDORS]
        dc_weights = [d[1] for d in _DATA_CENTERS]
        card_states = [c[0] for c in _CARD_COMMON]
        card_weights = [c[1] for c in _CARD_COMMON]
        vendors = rng.choices(range(len(_VENDORS)), vendor_weights, k=n)
        dcs = rng.choices(range(len(_DATA_CENTERS)), dc_weights, k=n)
        cards = rng.choices(card_states, card_weights, k=n)

        # Behaviour by quota (exact shares, shuffled), so even small fleets show every case.
        order = list(range(n))
        rng.shuffle(order)
        n_flap, n_off_long, n_off_short = (
            self._quota(0.01),
            self._quota(0.02),
            self._quota(0.02),
        )
        kinds = [_ONLINE] * n
        offline_since: dict[int, int] = {}
        pos = 0
        for i in order[pos : pos + n_flap]:
            kinds[i] = _FLAP
        pos += n_flap
        for i in order[pos : pos + n_off_long]:
            kinds[i] = _OFFLINE
            offline_since[i] = int(start - rng.uniform(1 * DAY, 40 * DAY))
        pos += n_off_long
        for i in order[pos : pos + n_off_short]:
            kinds[i] = _OFFLINE
            offline_since[i] = int(start - rng.uniform(120, 20 * 3600))
        pos += n_off_short
        online_rest = order[pos:]

        card_order = list(range(n))
        rng.shuffle(card_order)
        for i in card_order[: self._quota(0.03)]:
            cards[i] = rng.choice(CARD_PROBLEM_STATES)

        no_archive = set()
        archive_order = list(range(n))
        rng.shuffle(archive_order)
        no_archive.update(archive_order[: self._quota(0.02)])
        dying = set()
        stalled = set()
        n_dying = n_stalled = self._quota(0.01)
        for i in online_rest:
            if i in no_archive:
                continue
            if len(dying) < n_dying:
                dying.add(i)
            elif len(stalled) < n_stalled:
                stalled.add(i)
            else:
                break
        # The archive's faults come from a generator of their own, so the inventory drawn from
        # `rng` below stays what it was before they existed.
        faults = self._archive_faults(
            random.Random(f"vigil-archive-{self.seed}"),
            [i for i in range(n) if i not in no_archive],
        )

        raws: set[int] = set()
        for i in range(n):
            cam = _Cam()
            raw = rng.getrandbits(64)
            while raw in raws:
                raw = rng.getrandbits(64)
            raws.add(raw)
            uid = _uuid(raw)
            cam.uid = uid
            cam.key = raw.to_bytes(8, "big") + self.seed.to_bytes(8, "little", signed=True)
            vname, _w, models, firmwares, sn_prefix, mac_prefix = _VENDORS[vendors[i]]
            dc_name, _w, city = _DATA_CENTERS[dcs[i]]
            street = rng.choice(_STREETS)
            house = rng.randint(1, 180)
            suffix = rng.choices(("", ", корп. 2", ", стр. 1", ", корп. 1"), (80, 8, 7, 5))[0]
            spot = rng.choice(_SPOTS)
            base: dict[str, Any] = {
                "uid": uid,
                "name": f"Cam {i + 1:04d} · {street}, {house} — {spot}",
                "sn": f"{sn_prefix}{rng.randint(2017, 2024)}{rng.getrandbits(32):08X}",
                "vendor": vname,
                "model": rng.choice(models),
                "address": f"г. {city}, {street}, д. {house}{suffix}",
                "is_online": True,
                "offline_since": None,
                "data_center": {"name": dc_name},
                "memory_card_state": {"state": cards[i]},
            }
            if rng.random() < 0.9:
                base["firmware"] = rng.choice(firmwares)
            if rng.random() < 0.95:
                tail = rng.getrandbits(24)
                base["mac"] = (
                    f"{mac_prefix}:{tail >> 16:02x}:{(tail >> 8) & 0xFF:02x}:{tail & 0xFF:02x}"
                )
            if rng.random() < 0.95:
                base["ip"] = f"10.{10 + dcs[i]}.{(i // 250) % 256}.{i % 250 + 2}"
            alive_present = rng.random() < 0.8
            alive_ok = rng.random() >= 0.03
            old_since = int(start - rng.uniform(3600, 120 * DAY)) if rng.random() < 0.6 else None
            depth_days = rng.uniform(90.5, 120) if rng.random() < 0.85 else rng.uniform(2, 30)
            rng.random()  # draws kept (once the archive's long gaps and patchiness): same stream
            rng.choices((0.3, 1.0, 3.0), (50, 40, 10))
            dying_hours = rng.uniform(2, 8)
            cam.flap_offset = rng.randrange(2)

            kind = kinds[i]
            if i in dying:
                kind = _DYING
                cam.stop = int(start - dying_hours * 3600)
            elif i in stalled:
                kind = _STALLED
                cam.stop = int(start - faults["stalled_days"][i] * DAY)
            cam.kind = kind
            if kind == _OFFLINE:
                cam.stop = offline_since[i]
                base["is_online"] = False
                base["offline_since"] = offline_since[i]
            else:
                base["offline_since"] = old_since
            cam.old_offline_since = old_since
            if alive_present:
                cam.alive = kind != _OFFLINE and alive_ok
                base["alive"] = cam.alive
            if kind == _STALLED:
                depth_days = max(depth_days, 90.5 + depth_days / 4)  # deep enough to show the stall
            cam.depth = 0 if i in no_archive else int(depth_days * DAY)
            cam.hasher = blake2b(cam.key, digest_size=32)
            (
                cam.phase,
                cam.split_thr,
                cam.drop_thr,
                cam.outage_thr,
                cam.overlap_thr,
                cam.nest_thr,
                cam.dup_thr,
            ) = faults["shape"][i]
            cam.base = base
            self._cams.append(cam)
            self._by_uid[uid] = cam

    def _archive_faults(self, arng: random.Random, with_archive: list[int]) -> dict[str, Any]:
        """Per-camera archive shape (index -> thresholds) and which cameras get which fault."""
        n = self.size
        chosen: dict[str, set[int]] = {}
        for name, share in (
            ("short_drops", 0.60),
            ("long_outages", 0.05),
            ("overlaps", 0.06),
            ("duplicates", 0.04),
        ):
            order = list(with_archive)
            arng.shuffle(order)
            chosen[name] = set(order[: min(len(order), self._quota(share))])
        shape = []
        for i in range(n):
            split = arng.choices((0.5, 0.75, 1.0), (35, 40, 25))[0]
            drop = arng.choice((0.12, 0.25, 0.5))  # per 6-hour block: 1 in 2 days .. 2 a day
            outage = arng.uniform(0.25, 0.5)  # per eligible (daily) block: 1 in 2-4 days
            shape.append(
                (
                    arng.randrange(SPLIT_EVERY * OUTAGE_EVERY),
                    int(split * _U16),
                    int(drop * _U16) if i in chosen["short_drops"] else 0,
                    int(outage * _U16) if i in chosen["long_outages"] else 0,
                    int(0.3 * _U16) if i in chosen["overlaps"] else 0,
                    int(0.05 * _U16) if i in chosen["overlaps"] else 0,
                    int(0.15 * _U16) if i in chosen["duplicates"] else 0,
                )
            )
        stalled_days = [arng.uniform(1, 5) for _ in range(n)]
        return {"shape": shape, "stalled_days": stalled_days}

    def _build_baked(self) -> list[dict[str, Any]]:
        n = self.size
        if n == 0:
            return []
        rng = random.Random(f"vigil-baked-{self.seed}")
        count = min(60, 40 + n // 500) if self._baked_count is None else self._baked_count
        if count < 4:
            raise ValueError("baked_archives must be at least 4 (one of each status)")
        statuses = [0, 1, 2, 3, *rng.choices((0, 1, 2, 3), (12, 12, 14, 62), k=count - 4)]
        rng.shuffle(statuses)
        with_archive = [c for c in self._cams if c.depth] or self._cams
        items = []
        for k, status in enumerate(statuses):
            cam = rng.choice(with_archive)
            created = int(self.start - rng.uniform(600, 30 * DAY))
            since = int(created - rng.uniform(3600, 20 * DAY)) // 60 * 60
            till = since + rng.choice((15, 30, 60, 120, 240)) * 60
            updated = created
            if status != 0:
                updated = created + int(rng.uniform(30, 2 * DAY))
                if updated >= self.start:
                    updated = created + int((self.start - created) * rng.uniform(0.05, 0.95))
            t0 = datetime.fromtimestamp(since, _MSK)
            t1 = datetime.fromtimestamp(till, _MSK)
            reason = rng.choice(("Инцидент", "Запрос полиции", "Проверка", "Жалоба жильцов", "ДТП"))
            title = f"{reason}: {cam.base['name'].split(' · ')[0]}, {t0:%d.%m.%Y %H:%M}–{t1:%H:%M}"
            items.append(
                {
                    "id": 1000 + k,
                    "camera_uid": cam.uid,
                    "status": status,
                    "title": title,
                    "since": since,
                    "till": till,
                    "created_at": created,
                    "updated_at": updated,
                }
            )
        items.sort(key=lambda a: (a["updated_at"], a["id"]), reverse=True)
        return items

    # ------------------------------------------------------------------ state at a time
    def _state(self, cam: _Cam, now: float) -> tuple[bool, int | None]:
        """(is_online, offline_since) of a camera at `now`."""
        if cam.kind == _OFFLINE:
            return False, cam.stop
        if cam.kind != _FLAP or self.flap_period <= 0:
            return True, cam.old_offline_since
        k = math.floor((now - self.start) / self.flap_period)
        if (k + cam.flap_offset) % 2:
            return False, math.floor(self.start + k * self.flap_period)
        if k >= 1:
            return True, math.floor(self.start + (k - 1) * self.flap_period)
        return True, cam.old_offline_since

    def _record(self, cam: _Cam, now: float) -> dict[str, Any]:
        rec = dict(cam.base)
        rec["data_center"] = dict(cam.base["data_center"])
        rec["memory_card_state"] = dict(cam.base["memory_card_state"])
        if cam.kind == _FLAP:
            online, since = self._state(cam, now)
            rec["is_online"] = online
            rec["offline_since"] = since
            if "alive" in rec:
                rec["alive"] = online
        return rec

    def cameras(self, now: float) -> list[dict[str, Any]]:
        """Every camera as the RT API shows it at `now` (fresh dicts, safe to mutate)."""
        return [self._record(cam, now) for cam in self._cams]

    def camera(self, uid: str, now: float | None = None) -> dict[str, Any] | None:
        """One camera at `now` (default: the current time), or None for an unknown uid."""
        cam = self._by_uid.get(uid)
        if cam is None:
            return None
        return self._record(cam, time.time() if now is None else now)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, uid: object) -> bool:
        return uid in self._by_uid

    def uids(self) -> list[str]:
        return [cam.uid for cam in self._cams]

    def page(self, now: float, page: int, per_page: int) -> dict[str, Any]:
        """One 1-based page of /v3/user/cameras.json: {"cameras": [...], "total_pages": N}."""
        if page < 1 or per_page < 1:
            raise ValueError("page and per_page must be >= 1")
        total_pages = max(1, -(-self.size // per_page))
        chunk = self._cams[(page - 1) * per_page : page * per_page]
        return {"cameras": [self._record(c, now) for c in chunk], "total_pages": total_pages}

    def baked_archives(
        self,
        offset: int = 0,
        limit: int | None = None,
        sort_column: str = "updated_at",
        sort_order: str = "desc",
    ) -> list[dict[str, Any]]:
        """Baked archives, by default newest `updated_at` first (fresh dicts)."""
        if sort_column not in ("updated_at", "created_at", "id"):
            raise ValueError(f"unsupported sort_column {sort_column!r}")
        if sort_order not in ("asc", "desc"):
            raise ValueError(f"unsupported sort_order {sort_order!r}")
        items = sorted(
            self._baked, key=lambda a: (a[sort_column], a["id"]), reverse=sort_order == "desc"
        )
        offset = max(0, offset)
        end = None if limit is None else offset + max(0, limit)
        return [dict(a) for a in items[offset:end]]

    # ------------------------------------------------------------------ archive
    def _recording_end(self, cam: _Cam, now: float) -> tuple[int, bool]:
        """(end of the archive, whether the camera is recording right now)."""
        r_now = math.floor(now)
        if cam.kind in _STOPPED:
            return min(cam.stop, r_now), False
        if cam.kind == _FLAP:
            online, since = self._state(cam, now)
            if not online and since is not None:
                return min(since, r_now), False
        return r_now, True

    def archive_bounds(self, uid: str, now: float) -> tuple[int, int] | None:
        """(first, last) second the archive can hold at `now`, or None without any archive."""
        cam = self._by_uid[uid]
        if not cam.depth:
            return None
        end, _rec = self._recording_end(cam, now)
        begin = math.floor(now) - cam.depth
        return None if end <= begin else (begin, end)

    def fragments(self, uid: str, since: float, till: float, now: float) -> list[dict[str, int]]:
        """Archive fragments of `uid` overlapping [since, till] at `now`, sorted by (since, till).

        Raises KeyError for an unknown uid. Fragments come from a fixed 6-hour grid, so the answer
        for a window never depends on how a longer range was split into windows. Overlapping and
        exactly duplicated fragments are returned as the RT API returns them.
        """
        cam = self._by_uid[uid]
        if not cam.depth:
            return []
        end, recording = self._recording_end(cam, now)
        begin = math.floor(now) - cam.depth
        lo = max(since, begin)
        hi = min(till, end)
        if end <= begin or hi < lo:
            return []
        raw, reached = self._generate(cam, math.floor(lo), math.ceil(hi), end)
        frags = [(a, b if b < end else end) for a, b in raw if a < end]
        if recording and reached and frags:
            # The newest fragment grows until `now`: a hole that would hold `now` has not happened
            # yet, so the fragment before it runs on, and nothing starts after the growing one.
            top = max(b for _a, b in frags)
            if top < end:
                frags = [(a, end if b == top else b) for a, b in frags]
            newest = max(a for a, b in frags if b == end)
            frags = [f for f in frags if f[0] <= newest]
        if cam.kind == _FLAP and self.flap_period >= FLAP_ARCHIVE_MIN_PERIOD:
            frags = self._cut_flaps(cam, frags, now)
        out = []
        for a, b in frags:
            if a < begin:
                a = begin
            if a < b and a < till and b > since:
                out.append((a, b))
        out.sort()
        return [{"since": a, "till": b} for a, b in out]

    def _generate(
        self, cam: _Cam, lo: int, hi: int, end: int
    ) -> tuple[list[tuple[int, int]], bool]:
        """Raw fragments (before the end and depth are applied) around [lo, hi].

        Walks the grid from a forced split well before `lo` (so no fragment or hole that reaches
        `lo` starts before it) until the grid passes `end`, or until no later fragment can start
        by `hi` and one that starts after `hi` ends after all that start by it (so none of those
        can be the newest one, which `fragments` may stretch to `end`). Returns every fragment
        that starts by `hi` (in no particular order, plus some later ones) and whether the walk
        passed `end`, i.e. whether every fragment starting before `end` is in the list.
        """
        copy = cam.hasher.copy
        unpack = _HASH.unpack
        split_thr, drop_thr, outage_thr = cam.split_thr, cam.drop_thr, cam.outage_thr
        overlap_thr, nest_thr, dup_thr = cam.overlap_thr, cam.nest_thr, cam.dup_thr
        phase_s, phase_o = cam.phase % SPLIT_EVERY, cam.phase % OUTAGE_EVERY
        span = 2 * JITTER + 1

        def values(h: int) -> tuple[int, ...]:
            x = copy()
            x.update(h.to_bytes(8, "little", signed=True))
            return unpack(x.digest())

        def outage(s: int, e: int, v: tuple[int, ...]) -> tuple[int, int]:
            gs = s + 60 + v[12] * (e - s - 120) // _U16
            return gs, gs + LONG_GAP_MIN + v[13] * (LONG_GAP_MAX - LONG_GAP_MIN) // (_U16 - 1)

        # Anchor: a forced split at least 16.5 h before `lo`; the longest hole is under 13 h.
        h0 = lo // BLOCK - 3
        h = h0 - (h0 + phase_s) % SPLIT_EVERY
        outages: list[tuple[int, int]] = []
        if outage_thr:
            for k in range(h - LONG_GAP_LOOKBACK, h):
                if (k + phase_o) % OUTAGE_EVERY == 0:
                    v = values(k)
                    if v[11] < outage_thr:
                        nv = values(k + 1)
                        s = k * BLOCK + v[0] % span - JITTER
                        e = (k + 1) * BLOCK + nv[0] % span - JITTER
                        outages.append(outage(s, e, v))
        v = values(h)
        s = h * BLOCK + v[0] % span - JITTER
        cur = s + 1 + v[3] % TINY_GAP_MAX if v[2] >= _TINY_FROM else s  # the open fragment
        out: list[tuple[int, int]] = []
        till_in = till_after = -1  # the latest end of fragments starting by / after `hi`
        while True:
            nv = values(h + 1)
            e = (h + 1) * BLOCK + nv[0] % span - JITTER
            closed: list[tuple[int, int]] = []
            if outage_thr and v[11] < outage_thr and (h + phase_o) % OUTAGE_EVERY == 0:
                outages.append(outage(s, e, v))
            if v[5] < drop_thr:
                # 30 % of the drops are 50-70 s, around the usual 60 s threshold
                glen = 50 + v[14] % 21 if v[6] < _NEAR_THRESHOLD else 10 + v[14] % 291
                g0 = s + DROP_MARGIN + v[7] * (e - s - glen - 2 * DROP_MARGIN) // _U16
                closed.append((cur, g0))
                cur = g0 + glen
            elif v[8] < nest_thr:
                x = s + 600 + v[9] * (e - s - 2400) // _U16
                closed.append((x, x + 30 + v[10] % 871))
            if nv[1] < split_thr or (h + 1 + phase_s) % SPLIT_EVERY == 0:
                kind = nv[2]
                if kind < overlap_thr:
                    piece = (cur, e + 1 + nv[3] % OVERLAP_MAX)
                    cur = e
                elif kind >= _TINY_FROM:
                    piece = (cur, e)
                    cur = e + 1 + nv[3] % TINY_GAP_MAX
                else:
                    piece = (cur, e)
                    cur = e
                closed.append(piece)
                if nv[4] < dup_thr:
                    closed.append(piece)
            reached = e >= end
            if reached and cur < end:
                closed.append((cur, e))
            if closed:
                if outages:
                    # later fragments start at min(cur, e) or after; older outages are done with
                    floor = min(cur, e)
                    for gs, ge in outages:
                        closed = _subtract(closed, gs, ge)
                    outages = [g for g in outages if g[1] > floor]
                out.extend(closed)
                for a, b in closed:
                    if a > hi:
                        if b > till_after:
                            till_after = b
                    elif b > till_in:
                        till_in = b
            if reached:
                return out, True
            if till_after > till_in and cur > hi and e > hi:
                return out, False
            h += 1
            s = e
            v = nv

    def _cut_flaps(
        self, cam: _Cam, frags: list[tuple[int, int]], now: float
    ) -> list[tuple[int, int]]:
        """Remove the past offline periods (since `start`) of a flapping camera."""
        period = self.flap_period
        start = self.start
        k_now = math.floor((now - start) / period)
        out: list[tuple[int, int]] = []
        for a, b in frags:
            pieces = [(a, b)]
            if b > start:
                k0 = max(0, math.floor((a - start) / period))
                k1 = min(k_now - 1, math.floor((b - start) / period))
                for k in range(k0, k1 + 1):
                    if (k + cam.flap_offset) % 2:
                        pieces = _subtract(
                            pieces,
                            math.floor(start + k * period),
                            math.floor(start + (k + 1) * period),
                        )
            out.extend(pieces)
        return out

    # ------------------------------------------------------------------ ground truth
    def truth(self, now: float) -> dict[str, Any]:
        """What an exporter should find at `now`: counts, breakdowns and notable uids.

        The archive's fault lists (`short_drops`, `long_outages`, `overlaps`, `duplicates`) name the
        cameras configured with that fault, in fleet order; `no_archive` is computed at `now`.
        """
        total = online = 0
        by_vendor: dict[str, dict[str, int]] = {}
        by_dc: dict[str, dict[str, int]] = {}
        memory_card: dict[str, int] = {}
        card_problems = alive_reported = 0
        flapping, offline_uids, no_archive, dying, stalled = [], [], [], [], []
        drops, outages, overlaps, duplicates = [], [], [], []
        for cam in self._cams:
            rec = self._record(cam, now)
            total += 1
            is_on = rec["is_online"]
            online += is_on
            for table, name in (
                (by_vendor, rec["vendor"]),
                (by_dc, rec["data_center"]["name"]),
            ):
                row = table.setdefault(name, {"total": 0, "online": 0, "offline": 0})
                row["total"] += 1
                row["online" if is_on else "offline"] += 1
            state = rec["memory_card_state"]["state"]
            memory_card[state] = memory_card.get(state, 0) + 1
            if state not in CARD_FINE_STATES:
                card_problems += 1
            if "alive" in rec:
                alive_reported += 1
            if cam.kind == _FLAP:
                flapping.append(cam.uid)
            if cam.kind in (_DYING, _STALLED):
                dying.append(cam.uid)
            if cam.kind == _STALLED:
                stalled.append(cam.uid)
            if cam.depth:
                for faults, thr in (
                    (drops, cam.drop_thr),
                    (outages, cam.outage_thr),
                    (overlaps, cam.overlap_thr),
                    (duplicates, cam.dup_thr),
                ):
                    if thr:
                        faults.append(cam.uid)
            if not is_on:
                offline_uids.append(cam.uid)
            if self.archive_bounds(cam.uid, now) is None:
                no_archive.append(cam.uid)
        baked = {name: 0 for name in BAKED_STATUS_NAMES.values()}
        for item in self._baked:
            baked[BAKED_STATUS_NAMES[item["status"]]] += 1
        return {
            "now": now,
            "total": total,
            "online": online,
            "offline": total - online,
            "by_vendor": dict(sorted(by_vendor.items())),
            "by_datacenter": dict(sorted(by_dc.items())),
            "memory_card": dict(sorted(memory_card.items())),
            "card_problems": card_problems,
            "flapping": flapping,
            "offline_uids": offline_uids,
            "alive_reported": alive_reported,
            "baked_archives": baked,
            "no_archive": no_archive,
            "dying_card": dying,
            "archive_stalled": stalled,
            "short_drops": drops,
            "long_outages": outages,
            "overlaps": overlaps,
            "duplicates": duplicates,
        }
