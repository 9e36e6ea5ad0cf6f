"""RT Camera API payloads -> typed values, read as carefully as the original client read them.

Every field Vigil publishes is read the same way: a usable value is *understood*; a missing key, a JSON
null or an empty string is *absent* (its series is left out, its label empty); anything else is
*unusable*: counted as `bad_payload` by the caller and named in a `FieldTally`, never silently turned
into a missing series. What counts as usable is wider than the JSON types the design names, because the
platform is not known to keep to them (docs/design.md, "Meeting the real RT API"):

- booleans: `true`/`false`, `0`/`1`, and the strings `"true"`, `"false"`, `"0"`, `"1"`;
- numbers: JSON numbers and numeric strings (`"1700000000"`);
- liveness: `alive` or `is_alive`; a data center or memory-card state as `{"name"|"state": ...}` or a bare
  string; the baked-archive list as a bare list, `{"baked_archives": [...]}` or `{"archives": [...]}`.

A record without a usable uid is skipped (and counted); a payload of the wrong shape raises
`CheckFailed("bad_payload")`, which the HTTP client counts like any failed attempt.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exporter.errors import CheckFailed

MAX_PAGES = 10_000
MAX_LABEL_LEN = 200
CARD_OK_STATES = {"CardOK", "CardNotFound", "Unknown", ""}

# the camera fields Vigil reads, in the order reports list them; `alive` stands for `alive`/`is_alive`
CAMERA_FIELDS = (
    "uid",
    "name",
    "sn",
    "mac",
    "ip",
    "vendor",
    "model",
    "firmware",
    "data_center",
    "address",
    "is_online",
    "alive",
    "offline_since",
    "memory_card_state",
)
ALIVE_NAMES = ("alive", "is_alive")
_TEXT_FIELDS = ("name", "sn", "mac", "ip", "vendor", "model", "firmware", "address")
_KNOWN_KEYS = frozenset(CAMERA_FIELDS) | frozenset(ALIVE_NAMES)
BAKED_SHAPES = ("baked_archives", "archives")  # the keys of the object shapes; "list" is the other
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


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


@dataclass
class FieldTally:
    """What the parser made of each camera field over a set of records (one camera list)."""

    records: int = 0
    skipped: int = 0  # records without a usable uid
    understood: Counter[str] = field(default_factory=Counter)
    absent: Counter[str] = field(default_factory=Counter)
    unusable: Counter[str] = field(default_factory=Counter)
    # field -> what the unusable values were: a JSON type, or the value itself for booleans and
    # numbers (never for text fields, which may be personal)
    unusable_kinds: dict[str, Counter[str]] = field(default_factory=dict)
    spelling: Counter[str] = field(default_factory=Counter)  # alive / is_alive as the API sent it
    unknown: Counter[str] = field(default_factory=Counter)  # keys Vigil does not read

    def ok(self, name: str) -> None:
        self.understood[name] += 1

    def missing(self, name: str) -> None:
        self.absent[name] += 1

    def bad(self, name: str, value: Any, show_value: bool) -> None:
        self.unusable[name] += 1
        kind = _kind(value)
        if show_value and isinstance(value, str):
            kind = f"{kind} {value[:24]!r}"
        elif show_value and isinstance(value, int | float) and not isinstance(value, bool):
            kind = f"{kind} {value!r}"[:40]
        self.unusable_kinds.setdefault(name, Counter())[kind] += 1

    @property
    def unusable_total(self) -> int:
        return sum(self.unusable.values())

    def describe_unusable(self) -> str:
        """`is_online: 3 (str 'yes'), name: 1 (object)`: field names and kinds, no text values."""
        parts = []
        for name in CAMERA_FIELDS:
            if self.unusable[name]:
                kinds = ", ".join(k for k, _ in self.unusable_kinds[name].most_common(3))
                parts.append(f"{name}: {self.unusable[name]} ({kinds})")
        return ", ".join(parts)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# ---------------------------------------------------------------------------- scalar readers
def read_text(value: Any) -> str | None:
    """A descriptive field as a label value (scalars only, printable, bounded); None: unusable."""
    if type(value) is str:
        text = value if value.isprintable() else _printable(value)
        return text.strip()[:MAX_LABEL_LEN]
    if isinstance(value, dict | list | bool) or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = _printable(text)
    return text.strip()[:MAX_LABEL_LEN]


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)


def read_bool(value: Any) -> bool | None:
    """true/false, 0/1 and their strings; None: unusable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _BOOL_TEXT.get(value.strip().lower())
    return None


def read_number(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string; None: unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 40 and _NUMERIC.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        return None
    return number if math.isfinite(number) else None


def read_count(value: Any, high: int) -> int | None:
    """A whole number 0..high (JSON number or numeric string); None: unusable."""
    number = read_number(value)
    if number is None or number != int(number) or not 0 <= number <= high:
        return None
    return int(number)


def _timestamp(value: Any) -> float | None:
    number = read_number(value)
    return number if number is not None and 0 < number < 1e11 else None


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ---------------------------------------------------------------------------- camera records
def parse_camera(record: Any, tally: FieldTally | None = None) -> Camera | None:
    """One camera record of /v3/user/cameras.json, or None when it has no usable uid."""
    t = FieldTally() if tally is None else tally
    t.records += 1
    if not isinstance(record, dict):
        t.skipped += 1
        t.bad("uid", record, show_value=False)
        return None
    raw_uid = record.get("uid")
    uid = None if _absent(raw_uid) else read_text(raw_uid)
    if not uid:
        t.skipped += 1
        if _absent(raw_uid):
            t.missing("uid")
        else:
            t.bad("uid", raw_uid, show_value=False)
        return None
    t.ok("uid")
    for key in record:
        if key not in _KNOWN_KEYS:
            t.unknown[key] += 1

    texts = {}
    understood = t.understood
    for name in _TEXT_FIELDS:
        value = record.get(name)
        if type(value) is str and value.isprintable() and (text := value.strip()):
            understood[name] += 1  # the common case, without the general reader's checks
            texts[name] = text[:MAX_LABEL_LEN]
        else:
            texts[name] = _read_field(t, name, value, read_text, "")
    datacenter = _read_field(t, "data_center", record.get("data_center"), _nested("name"), "")
    online = _read_field(t, "is_online", record.get("is_online"), read_bool, None, True)
    alive_key = next((k for k in ALIVE_NAMES if not _absent(record.get(k))), ALIVE_NAMES[0])
    alive = _read_field(t, "alive", record.get(alive_key), read_bool, None, True)
    if alive is not None:
        t.spelling[alive_key] += 1

    since_raw = record.get("offline_since")
    offline_since = None
    if (
        _absent(since_raw) or read_number(since_raw) == 0
    ):  # 0 means "never", as the original read it
        if online is not True:  # an online camera has no offline-since to give
            t.missing("offline_since")
    else:  # online cameras keep a stale value: read anyway, so a wrong type shows on day one
        offline_since = _read_field(t, "offline_since", since_raw, _timestamp, None, True)

    # the state set keeps an empty state ("" or null: fine), so it is understood, not absent
    card = record.get("memory_card_state")
    card_state: str | None = None
    if (isinstance(card, dict) and "state" in card) or isinstance(card, str):
        state = card["state"] if isinstance(card, dict) else card
        card_state = "" if state is None else read_text(state)
        if card_state is None:
            t.bad("memory_card_state", state, show_value=False)
        else:
            t.ok("memory_card_state")
    elif card is None or isinstance(card, dict):
        t.missing("memory_card_state")
    else:
        t.bad("memory_card_state", card, show_value=False)

    return Camera(
        uid=uid,
        datacenter=datacenter,
        online=online,
        alive=alive,
        offline_since=offline_since,
        card_state=card_state,
        **texts,
    )


def _nested(key: str):
    def read(value: Any) -> str | None:
        if isinstance(value, dict):
            inner = value.get(key)
            return "" if inner is None else read_text(inner)
        return read_text(value)

    return read


def _read_field(t: FieldTally, name: str, value: Any, read, default: Any, show: bool = False):
    if _absent(value):
        t.missing(name)
        return default
    result = read(value)
    if result is None:
        t.bad(name, value, show_value=show)
        return default
    if result == "":
        t.missing(name)
        return default
    t.ok(name)
    return result


# ---------------------------------------------------------------------------- list answers
@dataclass(slots=True)
class CameraPage:
    records: list[Any]
    total_pages: int | None  # None: the answer did not say


def parse_camera_page(payload: Any) -> CameraPage:
    """The records and total_pages of one page; raises CheckFailed on the wrong shape."""
    if not isinstance(payload, dict):
        raise CheckFailed("bad_payload", "camera list: expected a JSON object")
    records = payload.get("cameras")
    if not isinstance(records, list):
        raise CheckFailed("bad_payload", "camera list: 'cameras' is not a list")
    raw = payload.get("total_pages")
    total = None if raw is None else read_count(raw, MAX_PAGES)
    if raw is not None and total is None:
        raise CheckFailed("bad_payload", "camera list: 'total_pages' is not a page count")
    return CameraPage(records, total)


@dataclass(slots=True)
class BakedPage:
    items: list[Any]
    shape: str  # "list", "baked_archives" or "archives"
    total: int | None = None  # how many the server has, when it says
    limit: int | None = None  # an echoed `limit` (shown by rt-check; maybe the asked one)


def parse_baked_archives(payload: Any) -> BakedPage:
    """One page of baked archives in any of the known shapes; raises CheckFailed otherwise."""
    if isinstance(payload, list):
        return BakedPage(payload, "list")
    if isinstance(payload, dict):
        for key in BAKED_SHAPES:
            items = payload.get(key)
            if isinstance(items, list):
                total = next(
                    (
                        n
                        for k in ("total", "total_count")  # "count" may be the page's own
                        if (n := read_count(payload.get(k), 10**9)) is not None
                    ),
                    None,
                )
                limit = read_count(payload.get("limit"), 10**6)
                return BakedPage(items, key, total, limit or None)
    raise CheckFailed(
        "bad_payload",
        "baked archives: expected a list, or an object with a 'baked_archives' or 'archives' list",
    )


def baked_status(item: Any) -> int | None:
    """The status code 0..3 of one baked archive (a number or a numeric string); None: unusable."""
    if not isinstance(item, dict):
        return None
    return read_count(item.get("status"), 3)


# ---------------------------------------------------------------------------- fragments
def _second(value: Any) -> int | None:
    number = read_number(value)
    if number is None or not 0 <= number < 1e11:
        return None
    return int(number)


def parse_fragments(payload: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """`since` and `till` arrays of one camera's fragments, and how many records were unusable."""
    if not isinstance(payload, dict) or not isinstance(payload.get("fragments"), list):
        raise CheckFailed("bad_payload", "fragments: expected an object with a 'fragments' list")
    since, till = [], []
    skipped = 0
    for record in payload["fragments"]:
        s = _second(record.get("since")) if isinstance(record, dict) else None
        t = _second(record.get("till")) if isinstance(record, dict) else None
        if s is None or t is None:
            skipped += 1
        else:
            since.append(s)
            till.append(t)
    return np.array(since, dtype=np.int64), np.array(till, dtype=np.int64), skipped
