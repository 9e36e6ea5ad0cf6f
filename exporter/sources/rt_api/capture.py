"""`vigil rt-capture`: one answer of each RT endpoint, made safe to share.

Calls each endpoint once with the operator's key, the way the source calls it (health, page 1 of the
camera list, one camera's fragments for the last day, the first page of baked archives) and writes the
answers as they came, except that every secret and every personal value is replaced by a placeholder
of the same type and length: letters become `x`/`X`, digits `0`, punctuation and spaces stay, so the
shape the parser sees is the platform's. What is kept as sent is a short list of fields that say
nothing about a person (vendor, model, firmware, states, statuses, data-center names, timestamps and
counts); every other string is replaced, known or not, and numbers under personal keys (an IP as a
number, coordinates) too. Camera uids get numbered placeholders of the same shape, the same one
everywhere a uid appears (the fragments path, a baked archive's `camera_uid`). The API key never
reaches the file: it travels in a header that is not recorded, and any text that contains it anyway
is replaced as a last guard.

`vigil rt-check` reads such a file with Vigil's own parser (rt_api/check.py), and `vigil simulate
--from` serves it (exporter/simulate/rt_capture.py).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

from exporter import __version__
from exporter.errors import CheckFailed
from exporter.httpclient import JsonClient
from exporter.sources.rt_api.config import RtApiConfig
from exporter.sources.rt_api.payloads import read_text
from exporter.sources.rt_api.source import (
    BAKED_PATH,
    CAMERAS_PATH,
    FALLBACK_PAGE_SIZE,
    FRAGMENTS_PATH,
    HEALTH_PATH,
    REFUSED,
)

FORMAT = "vigil-rt-capture/1"
ENDPOINTS = ("health", "cameras", "fragments", "baked_archives")
PATHS = {
    "health": HEALTH_PATH,
    "cameras": CAMERAS_PATH,
    "fragments": FRAGMENTS_PATH,
    "baked_archives": BAKED_PATH,
}
DAY = 86400

# string values kept as sent: they describe equipment and states, never a person or a place
KEEP = frozenset(
    {
        "vendor",
        "model",
        "firmware",
        "state",
        "status",
        "is_online",
        "alive",
        "is_alive",
        "offline_since",
        "since",
        "till",
        "created_at",
        "updated_at",
        "total_pages",
        "total",
        "total_count",
        "count",
        "limit",
        "offset",
        "page",
        "per_page",
        "type",
        "kind",
        "sort_column",
        "sort_order",
    }
)
KEEP_NESTED = frozenset({("data_center", "name")})  # a data center's name (MSK-1): not personal
UID_KEYS = frozenset({"uid", "camera_uid"})
# numbers replaced too: an IP, a serial or a phone can be a JSON number, coordinates place a camera
PERSONAL_NUMBERS = frozenset(
    {
        "ip",
        "sn",
        "serial",
        "serial_number",
        "mac",
        "phone",
        "lat",
        "lng",
        "lon",
        "latitude",
        "longitude",
        "address",
        "name",
        "title",
    }
)
# under these, nothing is kept: a `state` inside an `address` is a region, not a card state
PERSONAL_PARENTS = frozenset({"address", "location", "owner", "user", "contact", "geo", "person"})
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_MAC = re.compile(r"(?i)(?<![0-9a-f:])[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}(?![0-9a-f:])")


def placeholder(text: str) -> str:
    """The same length and shape, none of the content: letters -> x/X, digits -> 0."""
    return "".join(
        ("X" if ch.isupper() else "x") if ch.isalpha() else "0" if ch.isdigit() else ch
        for ch in text
    )


def _number_placeholder(value: int | float) -> int | float:
    """A number of the same type and as many digits, every digit a 1 (0 stays 0)."""
    if value == 0:
        return type(value)(0)
    return type(value)(re.sub(r"\d", "1", repr(value)))


class Redactor:
    """Replaces personal and secret values; numbers uids consistently; tallies what it replaced."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = [s for s in secrets if s]
        self._uids: dict[str, str] = {}
        self.replaced: Counter[str] = Counter()  # JSON path (lists as []) -> values replaced

    def uid(self, real: str) -> str:
        if real not in self._uids:
            shape = placeholder(real)
            number = str(len(self._uids) + 1)
            slots = [i for i, ch in enumerate(shape) if ch in "0xX"]
            out = list(shape.replace("x", "0").replace("X", "0"))
            for i, digit in zip(reversed(slots), reversed(number), strict=False):
                out[i] = digit
            self._uids[real] = "".join(out)
        return self._uids[real]

    def text(self, text: str) -> str:
        """Free text (an error message): known uids, secrets, IPs and MACs replaced."""
        for real, fake in sorted(self._uids.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(real, fake).replace(quote(real, safe=""), fake)
        text = _IPV4.sub(lambda m: placeholder(m.group()), self._scrub(text))
        return _MAC.sub(lambda m: placeholder(m.group()), text)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, placeholder(secret))
        return text

    def value(self, value: Any, path: tuple[str, ...] = ()) -> Any:
        """A JSON value with everything personal replaced (a new object; the input is untouched)."""
        if isinstance(value, dict):
            return {k: self.value(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, (*path, "[]")) for v in value]
        keys = [p for p in path if p != "[]"]
        key = keys[-1].lower() if keys else ""
        where = ".".join(path).replace(".[]", "[]")
        if isinstance(value, str):
            if key in UID_KEYS and value.strip():
                self.replaced[where] += 1
                return self.uid(value)
            inside_personal = any(k.lower() in PERSONAL_PARENTS for k in keys[:-1])
            kept = key in KEEP or tuple(k.lower() for k in keys[-2:]) in KEEP_NESTED
            if kept and not inside_personal:
                scrubbed = self._scrub(value)
                if scrubbed != value:
                    self.replaced[where] += 1
                return scrubbed
            if value:
                self.replaced[where] += 1
            return placeholder(value)
        personal = key in PERSONAL_NUMBERS or key in UID_KEYS
        if personal and isinstance(value, int | float) and not isinstance(value, bool):
            self.replaced[where] += 1
            return _number_placeholder(value)
        return value


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


async def capture(
    config: RtApiConfig,
    session: aiohttp.ClientSession,
    clock: Callable[[], float] = time.time,
) -> tuple[dict[str, Any], list[str]]:
    """Call each endpoint once; the redacted capture and the endpoints that failed (by name)."""
    key = config.api_key.reveal()
    redactor = Redactor([key])

    def client(timeout: float) -> JsonClient:
        return JsonClient(
            session,
            config.url,
            headers={"Authorization": f"Bearer token={key}"},
            timeout=timeout,
            max_retries=config.max_retries,
            max_body=config.max_answer_mb * 2**20,
        )

    api = client(config.timeout)
    answers: dict[str, dict[str, Any]] = {}
    raw_bodies: dict[str, Any] = {}
    failed: list[str] = []

    async def call(
        name: str, path: str, params: dict[str, Any], *, auth: bool = True, uid: str = ""
    ) -> bool:
        shown_path = path.replace(quote(uid, safe=""), redactor.uid(uid)) if uid else path
        entry: dict[str, Any] = {"path": shown_path, "params": params}
        try:
            body = await (api if auth else client(config.health_timeout)).get_json(
                path, params, auth=auth
            )
        except CheckFailed as exc:
            entry.update(error=exc.reason, status=exc.status, message=redactor.text(str(exc)))
            answers[name] = entry
            failed.append(name)
            return False
        raw_bodies[name] = body
        entry.update(status=200, body=body)
        answers[name] = entry
        return True

    now = int(clock())
    await call("health", PATHS["health"], {}, auth=False)
    size = config.page_size
    got = await call("cameras", PATHS["cameras"], {"page": 1, "per_page": size})
    refused = answers["cameras"].get("status") in REFUSED
    if not got and refused and size > FALLBACK_PAGE_SIZE:  # as the source falls back
        failed.remove("cameras")
        await call("cameras", PATHS["cameras"], {"page": 1, "per_page": FALLBACK_PAGE_SIZE})
    uid = _first_uid(raw_bodies.get("cameras"))
    if uid is None:
        answers["fragments"] = {"skipped": "no camera with a usable uid in the camera page"}
        failed.append("fragments")
    else:
        path = FRAGMENTS_PATH.format(uid=quote(uid, safe=""))
        await call("fragments", path, {"since": now - DAY, "till": now}, uid=uid)
    params = {
        "offset": 0,
        "limit": config.baked_page_size,
        "sort_column": "updated_at",
        "sort_order": "desc",
    }
    await call("baked_archives", PATHS["baked_archives"], params)

    # uids first, so a camera's placeholder is the same in every answer and in free text
    for name in ENDPOINTS:
        if "body" in answers.get(name, {}):
            answers[name]["body"] = redactor.value(answers[name]["body"], (name,))
    document = {
        "format": FORMAT,
        "captured_at": now,
        "vigil_version": __version__,
        "api": redactor.text(_public_url(config.url)),
        "note": (
            "Personal and secret values are replaced by placeholders of the same type and "
            "length (letters x/X, digits 0); camera uids by numbered placeholders."
        ),
        "answers": {name: answers[name] for name in ENDPOINTS if name in answers},
        "replaced": dict(sorted(redactor.replaced.items())),
    }
    return document, failed


def _first_uid(body: Any) -> str | None:
    records = body.get("cameras") if isinstance(body, dict) else None
    for record in records if isinstance(records, list) else []:
        uid = record.get("uid") if isinstance(record, dict) else None
        text = read_text(uid) if uid is not None else None
        if text:
            return text
    return None


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def load(text: str) -> dict[str, Any]:
    """A capture document from its JSON text; ValueError says what is wrong with it."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("format", "")).startswith(
        "vigil-rt-capture/"
    ):
        raise ValueError(f"not a capture written by `vigil rt-capture` (no format {FORMAT!r})")
    if not isinstance(document.get("answers"), dict):
        raise ValueError("the capture has no 'answers' object")
    return document
