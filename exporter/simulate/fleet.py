"""A deterministic simulated camera fleet in the shape of the RT Camera API (pure, no I/O).

Everything is a function of (seed, cameras, flap_period, start) and the `now` passed to each
method, so with a fixed `start` and fixed `now` values every answer is reproducible. Static
attributes come from `random.Random(seed)`; per-time-block decisions (archive fragments) come from
a stable hash (blake2b of the camera key and the block number), so any window of the archive can be
generated on its own and agrees with every other window.

The mix: a few per cent offline (some for days, some for minutes or hours), about 1 % flapping on
a `flap_period` cycle, about 3 % memory-card problems, about 80 % reporting `alive`, about 2 %
without any archive, about 1 % "dying card" cameras whose archive stopped a few hours before
`start` although they are online, some cameras with rare long archive gaps, and 40-60 baked
archives in all four statuses.
"""

from __future__ import annotations

import math
import random
import struct
import time
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

BLOCK = 3600  # archive generation grid (seconds)
JITTER = 600  # block boundaries move up to this much around the hour, so fragments cross the hour
OVERLAP_MAX = 30  # a block's last fragment may run this far into the next block
LONG_GAP_MIN = 3600
LONG_GAP_MAX = 6 * 3600
LONG_GAP_LOOKBACK = LONG_GAP_MAX // BLOCK + 2
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
_ONLINE, _OFFLINE, _FLAP, _DYING = "online", "offline", "flapping", "dying"


class _Cam:
    __slots__ = (
        "alive",
        "base",
        "depth",
        "flap_offset",
        "key",
        "kind",
        "long_thr",
        "old_offline_since",
        "pattern",
        "stop",
        "uid",
    )

    def __init__(self) -> None:
        self.uid = ""
        self.key = b""
        self.base: dict[str, Any] = {}
        self.kind = _ONLINE
        self.alive: bool | None = None  # None: the camera does not report `alive`
        self.old_offline_since: int | None = None  # shown while online
        self.stop = 0  # offline: offline_since; dying: when the archive stopped
        self.flap_offset = 0
        self.depth = 0  # archive depth in seconds; 0: no archive at all
        self.long_thr = 0  # per-block chance of a long gap, out of 65536
        self.pattern = (0, 0, 0, 0, 0)  # cumulative thresholds out of 65536


def _block_values(key: bytes, h: int) -> tuple[int, ...]:
    digest = blake2b(key + h.to_bytes(8, "little", signed=True), digest_size=16).digest()
    return struct.unpack("<8H", digest)


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
    ) -> None:
        if cameras < 0:
            raise ValueError("cameras must be >= 0")
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
        n_dying = self._quota(0.01)
        for i in online_rest:
            if len(dying) >= n_dying:
                break
            if i not in no_archive:
                dying.add(i)

        uids: set[str] = set()
        for i in range(n):
            cam = _Cam()
            uid = f"{rng.getrandbits(64):016x}"
            while uid in uids:
                uid = f"{rng.getrandbits(64):016x}"
            uids.add(uid)
            cam.uid = uid
            cam.key = bytes.fromhex(uid) + self.seed.to_bytes(8, "little", signed=True)
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
            long_gaps = rng.random() < 0.08
            patchiness = rng.choices((0.3, 1.0, 3.0), (50, 40, 10))[0]
            dying_hours = rng.uniform(2, 8)
            cam.flap_offset = rng.randrange(2)

            kind = kinds[i]
            if i in dying:
                kind = _DYING
                cam.stop = int(start - dying_hours * 3600)
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
            cam.depth = 0 if i in no_archive else int(depth_days * DAY)
            cam.long_thr = 437 if long_gaps else 0  # about one long gap in 6 days
            split = 0.12 * min(patchiness, 1.5)
            short = 0.06 * patchiness
            two = 0.015 * patchiness
            dup, over = 0.02, 0.02
            acc = 0.0
            thresholds = []
            for p in (split, short, two, dup, over):
                acc += p
                thresholds.append(int(acc * 65536))
            cam.pattern = tuple(thresholds)
            cam.base = base
            self._cams.append(cam)
            self._by_uid[uid] = cam

    def _build_baked(self) -> list[dict[str, Any]]:
        n = self.size
        if n == 0:
            return []
        rng = random.Random(f"vigil-baked-{self.seed}")
        count = min(60, 40 + n // 500)
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
        if cam.kind in (_OFFLINE, _DYING):
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
        """Archive fragments of `uid` overlapping [since, till] at `now`, sorted by since.

        Raises KeyError for an unknown uid. Fragments come from a fixed one-hour grid, so the answer
        for a window never depends on how a longer range was split into windows.
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
        frags = self._generate(cam, math.floor(lo), math.ceil(hi), end, recording)
        if cam.kind == _FLAP and self.flap_period >= FLAP_ARCHIVE_MIN_PERIOD:
            frags = self._cut_flaps(cam, frags, now)
        out = []
        for a, b in frags:
            if a < begin:
                a = begin
            if b > end:
                b = end
            if a < b and a < till and b > since:
                out.append((a, b))
        out.sort()
        return [{"since": a, "till": b} for a, b in out]

    def _generate(
        self, cam: _Cam, lo: int, hi: int, end: int, recording: bool
    ) -> list[tuple[int, int]]:
        key = cam.key
        long_thr = cam.long_thr
        t_split, t_short, t_two, t_dup, t_over = cam.pattern
        h_first = lo // BLOCK - 1
        h_last = hi // BLOCK + 1
        h = h_first - (LONG_GAP_LOOKBACK if long_thr else 0)
        vals = _block_values(key, h)
        gaps: list[tuple[int, int]] = []
        out: list[tuple[int, int]] = []
        while h <= h_last:
            nvals = _block_values(key, h + 1)
            s = h * BLOCK + vals[0] % (2 * JITTER + 1) - JITTER
            e = (h + 1) * BLOCK + nvals[0] % (2 * JITTER + 1) - JITTER
            if s >= end:
                break
            length = e - s
            v1 = vals[1]
            if long_thr and vals[5] < long_thr:
                gs = s + vals[6] % length
                gaps.append(
                    (gs, gs + LONG_GAP_MIN + vals[7] * (LONG_GAP_MAX - LONG_GAP_MIN) // 65535)
                )
            if h < h_first:
                h += 1
                vals = nvals
                continue
            v2, v3, v4 = vals[2], vals[3], vals[4]
            if v1 >= t_over:
                frags = [(s, e)]
            elif v1 < t_split:
                pieces = 2 + v2 % 3
                cuts = sorted(
                    {
                        s + 60 + x * (length - 120) // 65536
                        for x in (v3, v4, (v2 * 40503) & 0xFFFF)[: pieces - 1]
                    }
                )
                points = [s, *cuts, e]
                frags = [(points[k], points[k + 1]) for k in range(len(points) - 1)]
            elif v1 < t_short:
                glen = 10 + v2 % 591
                g0 = s + 60 + v3 % (length - glen - 120)
                frags = [(s, g0), (g0 + glen, e)]
            elif v1 < t_two:
                half = length // 2
                g1 = 10 + v2 % 300
                g2 = 10 + (v2 >> 8) % 300
                a1 = s + 30 + v3 % (half - g1 - 60)
                a2 = s + half + 30 + v4 % (half - g2 - 60)
                frags = [(s, a1), (a1 + g1, a2), (a2 + g2, e)]
            elif v1 < t_dup:
                a = s + v3 % (length // 2)
                frags = [(s, e), (a, min(e, a + 60 + v4 % (length // 2)))]
            else:
                frags = [(s, e + 1 + v2 % OVERLAP_MAX)]
            if gaps:
                gaps = [g for g in gaps if g[1] > s]
                for gs, ge in gaps:
                    if gs < e + OVERLAP_MAX:
                        frags = _subtract(frags, gs, ge)
            if s < end <= e:
                # the block holding the end of the recording
                frags = [(a, min(b, end)) for a, b in frags if a < end]
                if recording:
                    if not frags:
                        frags = [(s, end)]
                    else:
                        last = max(frags, key=lambda f: f[1])
                        if last[1] < end:
                            last = (last[0], end)
                        # the growing fragment is also the newest one
                        frags = [f for f in frags if f[0] < last[0] and f[1] < end]
                        frags.append(last)
            out.extend(frags)
            h += 1
            vals = nvals
        return out

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
        """What an exporter should find at `now`: counts, breakdowns and notable uids."""
        total = online = 0
        by_vendor: dict[str, dict[str, int]] = {}
        by_dc: dict[str, dict[str, int]] = {}
        memory_card: dict[str, int] = {}
        card_problems = alive_reported = 0
        flapping, offline_uids, no_archive, dying = [], [], [], []
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
            if cam.kind == _DYING:
                dying.append(cam.uid)
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
        }
