"""RT Camera API payloads -> typed values. Tolerant: unknown fields are ignored, missing ones left out.

A record without a usable uid is skipped (the caller counts it as `bad_payload`); a payload of the wrong
shape raises `CheckFailed("bad_payload")`, which the HTTP client counts like any failed attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from exporter.errors import CheckFailed

MAX_PAGES = 10_000
MAX_LABEL_LEN = 200
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


def _second(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value < 1e11:  # also rejects NaN and inf
        return None
    return int(value)


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
