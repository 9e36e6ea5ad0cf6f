"""Network targets: the camera model, JSON validation, URL redaction and the persisted target store.

Targets come from the config file (read-only here) and from the registration API at run time; the
API-registered ones are kept in a small JSON state file so they survive a restart. The state file
holds camera credentials in clear (a frame URL has to work after a restart), so it is written with
mode 0600 and every text meant for people (API answers, error messages, problems) goes through
`redact_url`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from exporter import safejson
from exporter.configkit import ConfigError, format_duration, parse_duration

log = logging.getLogger("vigil.targets")

ORIGINS = ("config", "api")
INTERVAL_FIELDS = ("icmp", "tcp", "frame")
FIELDS = ("id", "host", "port", "icmp", "tcp", "frame", "frame_url", "rtsp_options")
MIN_INTERVAL = 1.0
STATE_MAX_BYTES = 256 * 2**20  # about a million registrations
MAX_INTERVAL = 86_400.0
MAX_URL_LEN = 2048
FRAME_URL_SCHEMES = ("http", "https", "rtsp", "rtsps")
STATE_VERSION = 1
REDACTED = "***"

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_BAD_CHARS_RE = re.compile(r"[\s\x00-\x1f\x7f]")


class TargetError(ValueError):
    """A target body that does not validate; the message starts with the field it is about."""


class StateFileError(Exception):
    """The state file could not be read or written; the store is unchanged."""


# --- redaction --------------------------------------------------------------------------------

# Query and path parameters known to carry no secret: their values are shown. Every other value is
# replaced (`passwort`, `psw`, `sessionid`, `sid`, ... are as secret as `password`), so a secret under
# a name nobody thought of is never shown.
HARMLESS_PARAMS = frozenset(
    {
        # what a stream or snapshot is: channel, stream, size, quality, codec
        "channel", "chn", "ch", "channelid", "subtype", "stream", "streamtype", "streamid",
        "substream", "profile", "profiletoken", "res", "resolution", "width", "height", "w", "h",
        "size", "fps", "framerate", "quality", "compression", "codec", "video", "videocodec",
        "audio", "format", "type", "mode", "rotate", "mirror", "flip", "camera", "cam", "id",
        "index", "name", "snap", "snapshot", "tcp", "transport", "rtsp_transport", "unicast",
        "multicast", "transportmode", "proto", "protocol", "port", "bitrate", "gop", "encode",
        "view", "layout",
        # who, not how: user names are shown, passwords never
        "user", "usr", "username", "loginuse",
        # pre-signed URLs: everything but the signature and credential
        "x-amz-algorithm", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
    }
)  # fmt: skip
_PARAM_SEPARATORS = re.compile(r"([&;])")


def _harmless_param(name: str) -> bool:
    return unquote(name).strip().lower() in HARMLESS_PARAMS


def _redact_params(text: str) -> str:
    """`a=1&b=2;c=3` with every value not known to be harmless replaced, separators kept."""
    pieces = _PARAM_SEPARATORS.split(text)
    for i in range(0, len(pieces), 2):
        name, sep, _ = pieces[i].partition("=")
        if sep and not _harmless_param(name):
            pieces[i] = f"{name}={REDACTED}"
    return "".join(pieces)


def _redact_path(path: str) -> str:
    """Path parameters (`/stream;user=a;password=b`) redacted like a query."""
    if ";" not in path:
        return path
    head, _, params = path.partition(";")
    return f"{head};{_redact_params(params)}"


def redact_url(url: str) -> str:
    """The URL with its credentials replaced by ``***``; safe to log or show. Never raises.

    ``rtsp://user:pass@cam/x`` -> ``rtsp://***@cam/x``; the value of every query or path parameter
    (``&`` or ``;`` separated) not known to be harmless (`HARMLESS_PARAMS`: channel, stream, size, user
    name, ...) becomes ``***``. A URL without such values comes back unchanged. Anything that cannot be split reliably (not a string, unparsable, an ``@`` outside the
    user:password part, which usually means an unencoded ``/``, ``?`` or ``#`` in a password) gives
    ``***``.
    """
    try:
        if not isinstance(url, str):
            return REDACTED
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in parts.path or "@" in parts.query or "@" in parts.fragment:
            return REDACTED
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
        query = _redact_params(parts.query) if parts.query else parts.query
        path = _redact_path(parts.path)
        if netloc == parts.netloc and query == parts.query and path == parts.path:
            return url
        return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))
    except Exception:
        return REDACTED


def _has_placeholder(parts: Any) -> bool:
    """True if a URL still carries the redaction placeholder where a credential belongs."""
    userinfo = parts.netloc.rpartition("@")[0]
    if REDACTED in userinfo:
        return True
    params = _PARAM_SEPARATORS.split(parts.query)[::2] + parts.path.split(";")[1:]
    for piece in params:
        _, sep, value = piece.partition("=")
        if sep and unquote(value) == REDACTED:
            return True
    return False


# --- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraTarget:
    """One camera checked directly on the network.

    An interval of None means "use the section default", 0 turns that check off for this camera.
    `frame_url` may carry credentials: show it only through `public()` or `redact_url`.
    """

    id: str
    host: str
    port: int = 554
    icmp: float | None = None
    tcp: float | None = None
    frame: float | None = None
    frame_url: str | None = None
    rtsp_options: bool | None = None
    origin: str = "api"

    def __repr__(self) -> str:
        # the dataclass repr would print frame_url in clear into tracebacks and logs
        shown = ", ".join(
            f"{f.name}={redact_url(v) if f.name == 'frame_url' and v is not None else v!r}"
            for f in fields(self)
            for v in (getattr(self, f.name),)
        )
        return f"CameraTarget({shown})"

    def public(self) -> dict[str, Any]:
        """A JSON-ready dict for API answers: intervals as duration strings, frame_url redacted.

        Fields that are None are left out; ``origin`` says whether the API may change the target.
        """
        out: dict[str, Any] = {"id": self.id, "host": self.host}
        if self.port is not None:  # tolerated for config targets that leave it to the section
            out["port"] = self.port
        for name in INTERVAL_FIELDS:
            seconds = getattr(self, name)
            if seconds is not None:
                out[name] = format_duration(seconds)
        if self.frame_url is not None:
            out["frame_url"] = redact_url(self.frame_url)
        if self.rtsp_options is not None:
            out["rtsp_options"] = self.rtsp_options
        out["origin"] = self.origin
        return out

    def stored(self) -> dict[str, Any]:
        """The state-file form: intervals as numbers of seconds, frame_url in clear, no origin."""
        out: dict[str, Any] = {"id": self.id, "host": self.host, "port": self.port}
        for name in INTERVAL_FIELDS:
            seconds = getattr(self, name)
            if seconds is not None:
                out[name] = int(seconds) if float(seconds).is_integer() else seconds
        if self.frame_url is not None:
            out["frame_url"] = self.frame_url
        if self.rtsp_options is not None:
            out["rtsp_options"] = self.rtsp_options
        return out


# --- validation -------------------------------------------------------------------------------


def _check_id(value: Any) -> str:
    if not isinstance(value, str):
        raise TargetError(f"id: must be a string (got {_kind(value)})")
    if not _ID_RE.fullmatch(value):
        raise TargetError(
            "id: must be 1-128 characters: letters, digits, '.', '_', ':' or '-', starting with a "
            f"letter or digit (got {_short(value)})"
        )
    return value


def _check_host(value: Any) -> str:
    if not isinstance(value, str):
        raise TargetError(f"host: must be a string (got {_kind(value)})")
    if not value:
        raise TargetError("host: must not be empty")
    if _BAD_CHARS_RE.search(value):
        raise TargetError(
            f"host: must not contain spaces or control characters (got {_short(value)})"
        )
    if "://" in value or "/" in value or "@" in value:
        raise TargetError(
            f"host: must be a bare IP address or DNS name, no scheme, path or user (got {_short(value)})"
        )
    if value.startswith("[") and value.endswith("]"):
        raise TargetError(f"host: write IPv6 addresses without brackets (got {_short(value)})")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return value
    if ":" in value:
        raise TargetError(
            f"host: not an IPv6 address; a port goes in the port field (got {_short(value)})"
        )
    if not value.isascii():
        raise TargetError(f"host: use the ASCII (xn--) form of the name (got {_short(value)})")
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise TargetError(
            "host: not an IP address or a valid DNS name (labels of 1-63 letters, digits and '-', "
            f"253 characters at most) (got {_short(value)})"
        )
    if labels[-1].isdigit():
        raise TargetError(f"host: not a valid IP address (got {_short(value)})")
    return value


def _check_port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TargetError(f"port: must be an integer (got {_kind(value)})")
    if not 1 <= value <= 65535:
        raise TargetError(f"port: must be 1-65535 (got {value})")
    return value


def _check_interval(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise TargetError(f"{name}: {exc}") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            raise TargetError(f"{name}: must be at most {format_duration(MAX_INTERVAL)}") from None
    else:
        raise TargetError(
            f'{name}: must be a duration like "30s" or a number of seconds (got {_kind(value)})'
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise TargetError(f"{name}: must be a non-negative duration (got {value!r})")
    if seconds == 0:
        return 0.0
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise TargetError(
            f"{name}: must be between {format_duration(MIN_INTERVAL)} and "
            f"{format_duration(MAX_INTERVAL)}, or 0s to turn the check off (got {value!r})"
        )
    # whole milliseconds, so that public() ("1m30s") and the state file give back the same value
    return float(Decimal(round(Decimal(seconds) * 1000)) / 1000)


def _check_frame_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TargetError(f"frame_url: must be a string (got {_kind(value)})")
    shown = redact_url(value)
    if len(value) > MAX_URL_LEN:
        raise TargetError(f"frame_url: must be at most {MAX_URL_LEN} characters")
    if _BAD_CHARS_RE.search(value):
        raise TargetError(
            f"frame_url: must not contain spaces or control characters (got {shown!r})"
        )
    try:
        parts = urlsplit(value)
    except ValueError:
        raise TargetError(f"frame_url: not a valid URL (got {shown!r})") from None
    if "@" in parts.path or "@" in parts.query or "@" in parts.fragment:
        # usually a '/', '?' or '#' in a password: the URL would not mean what was meant
        raise TargetError(
            "frame_url: '@' outside the user:password part (percent-encode '/', '?', '#' and '@' "
            f"in credentials, e.g. '@' as %40) (got {shown!r})"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise TargetError(f"frame_url: not a valid URL (got {shown!r})") from None
    if parts.scheme not in FRAME_URL_SCHEMES or not parts.hostname:
        raise TargetError(
            f"frame_url: must be an http(s):// or rtsp(s):// URL with a host (got {shown!r})"
        )
    if _has_placeholder(parts):
        raise TargetError(
            f"frame_url: still has the {REDACTED} placeholder of a redacted URL; send the real "
            "credentials (or leave frame_url out)"
        )
    return value


def _check_bool(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise TargetError(f"{name}: must be true or false (got {_kind(value)})")


def target_from_json(body: Any, origin: str = "api") -> CameraTarget:
    """Validate a decoded JSON body and build the target; raise TargetError naming the field.

    Intervals (icmp, tcp, frame) are duration strings ("30s", "1m30s", "0s" = off) or numbers of
    seconds, between 1s and 1d or 0; null or absent means the section default. An ``origin`` key,
    as found in `CameraTarget.public()` answers, is accepted when it matches `origin`.
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS} (got {origin!r})")
    if not isinstance(body, dict):
        raise TargetError(f"body: must be a JSON object (got {_kind(body)})")
    for key in body:
        if key == "origin":
            if body[key] != origin:
                raise TargetError(f"origin: is read-only (got {_short(body[key])})")
        elif key not in FIELDS:
            raise TargetError(f"unknown field {_short(key)} (allowed: {', '.join(FIELDS)})")
    for key in ("id", "host"):
        if key not in body:
            raise TargetError(f"{key}: is required")
    return CameraTarget(
        id=_check_id(body["id"]),
        host=_check_host(body["host"]),
        port=_check_port(body.get("port", 554)),
        icmp=_check_interval("icmp", body.get("icmp")),
        tcp=_check_interval("tcp", body.get("tcp")),
        frame=_check_interval("frame", body.get("frame")),
        frame_url=_check_frame_url(body.get("frame_url")),
        rtsp_options=_check_bool("rtsp_options", body.get("rtsp_options")),
        origin=origin,
    )


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"the number {value!r}"
    return names.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- the store --------------------------------------------------------------------------------


class TargetStore:
    """Config targets (read-only) plus API targets persisted to a JSON state file.

    Every change is written to disk (atomically) before memory changes, so what the API answered
    is what a restart sees. `version` goes up on every change; the prober watches it. Methods are
    synchronous (the file is small) and safe to call from several threads.
    """

    def __init__(
        self,
        config_targets: Sequence[CameraTarget],
        state_file: str | os.PathLike[str] | None,
    ) -> None:
        self._config: dict[str, CameraTarget] = {}
        for target in config_targets:
            if target.id in self._config:
                raise ValueError(f"duplicate config target id {target.id!r}")
            if target.origin != "config":
                target = replace(target, origin="config")
            self._config[target.id] = target
        self._api: dict[str, CameraTarget] = {}
        self._path = Path(state_file) if state_file is not None else None
        self._lock = threading.RLock()
        self._version = 0
        self._loaded = state_file is None
        # called after a change made elsewhere (another replica, through a shared store)
        self.listeners: list[Callable[[], None]] = []

    @property
    def version(self) -> int:
        return self._version

    @property
    def state_file(self) -> Path | None:
        return self._path

    def all(self) -> list[CameraTarget]:
        with self._lock:
            return [*self._config.values(), *self._api.values()]

    def get(self, id: str) -> CameraTarget | None:
        with self._lock:
            return self._config.get(id) or self._api.get(id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._config) + len(self._api)

    def is_config(self, id: str) -> bool:
        return id in self._config

    # --- loading --------------------------------------------------------------------------

    def load(self) -> list[str]:
        """Read the state file; return human-readable problems (empty if none).

        A missing file means no API targets. A file that is not JSON or has the wrong shape is
        renamed aside (``<name>.corrupt-<UTC time>``) and the store starts without API targets. Bad
        entries in a good file are reported by index and skipped, and the file is copied aside (the
        original stays until the next save rewrites it). Raises StateFileError if the file exists but
        cannot be read, or a corrupt file cannot be moved aside: starting empty would then overwrite
        it on the next save.
        """
        with self._lock:
            problems: list[str] = []
            loaded: dict[str, CameraTarget] = {}
            if self._path is not None:
                loaded = self._read(problems)
            if loaded != self._api:
                self._api = loaded
                self._version += 1
            self._loaded = True
            return problems

    def _refuse_config_id(self, id: str) -> None:
        """Cameras of the config file are changed there, never through the API (TargetError)."""
        if id in self._config:
            raise TargetError(f"id: {id!r} is defined in the config file; edit it there")

    def _check_loaded(self) -> None:
        if not self._loaded:
            # saving now would write a file without the targets already in it
            raise RuntimeError("TargetStore.load() must succeed before targets can be changed")

    def _read(self, problems: list[str]) -> dict[str, CameraTarget]:
        path = self._path
        assert path is not None
        parent = path.parent
        if not parent.is_dir():
            problems.append(
                f"{path}: directory {parent} does not exist; registering targets will fail"
            )
            return {}
        # temp files of saves that were cut short (a crash, a power cut): they may hold passwords
        for stale in parent.glob(f".{_glob_escape(path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateFileError(f"{path}: cannot read the state file: {exc}") from exc

        shape_error = None
        try:
            doc = safejson.loads(data, max_bytes=STATE_MAX_BYTES)
        except safejson.JSONError as exc:
            shape_error = f"not acceptable JSON: {exc}"
        else:
            if not isinstance(doc, dict):
                shape_error = "wrong shape: expected an object with 'version' and 'cameras'"
            elif doc.get("version") != STATE_VERSION or isinstance(doc.get("version"), bool):
                shape_error = (
                    f"wrong shape: unsupported version {_short(doc.get('version'))} "
                    f"(expected {STATE_VERSION})"
                )
            elif not isinstance(doc.get("cameras"), list):
                shape_error = "wrong shape: 'cameras' must be an array"
        if shape_error is not None:
            aside = self._move_aside(path)
            problems.append(
                f"{path}: {shape_error}; moved it to {aside.name} and started without API targets"
            )
            return {}

        loaded: dict[str, CameraTarget] = {}
        first_index: dict[str, int] = {}
        dropped = False
        for index, entry in enumerate(doc["cameras"]):
            where = f"{path}: cameras[{index}]"
            try:
                target = target_from_json(entry, origin="api")
            except TargetError as exc:
                problems.append(f"{where}: skipped: {exc}")
                dropped = True
                continue
            if target.id in self._config:
                problems.append(
                    f"{where}: skipped: id {target.id!r} is defined in the config file, which wins"
                )
                dropped = True
            elif target.id in loaded:
                problems.append(
                    f"{where}: skipped: duplicate id {target.id!r} "
                    f"(first at cameras[{first_index[target.id]}])"
                )
                dropped = True
            else:
                loaded[target.id] = target
                first_index[target.id] = index
        if dropped:
            copy = self._copy_aside(path, data)
            problems.append(
                f"{path}: loaded {len(loaded)} target(s); "
                + (
                    f"copied the file to {copy.name} before the next save drops the skipped entries"
                    if copy is not None
                    else "an identical copy of the file is already kept aside"
                )
            )
        return loaded

    def _aside_name(self, path: Path, attempt: int) -> Path:
        stamp = _utc_stamp()
        suffix = f"-{attempt}" if attempt else ""
        return path.with_name(f"{path.name}.corrupt-{stamp}{suffix}")

    def _move_aside(self, path: Path) -> Path:
        """Rename the file to a new ``.corrupt-*`` name; never replaces an existing file."""
        for attempt in range(1000):
            target = self._aside_name(path, attempt)
            try:
                os.link(path, target)  # fails if target exists, unlike rename
            except FileExistsError:
                continue
            except OSError:
                # no hard links here (some network and FUSE file systems): check, then rename
                if target.exists():
                    continue
                try:
                    os.rename(path, target)
                except OSError as exc:
                    raise StateFileError(
                        f"{path}: corrupt, and cannot move it aside: {exc}"
                    ) from exc
                _fsync_dir(path.parent)
                return target
            try:
                os.unlink(path)
            except OSError as exc:
                raise StateFileError(f"{path}: corrupt, and cannot move it aside: {exc}") from exc
            _fsync_dir(path.parent)
            return target
        raise StateFileError(f"{path}: corrupt, and too many copies already aside")

    def _copy_aside(self, path: Path, data: bytes) -> Path | None:
        """Write a ``.corrupt-*`` copy (0600) unless an identical one exists; return its path."""
        for old in path.parent.glob(f"{_glob_escape(path.name)}.corrupt-*"):
            with contextlib.suppress(OSError):
                if old.stat().st_size == len(data) and old.read_bytes() == data:
                    return None
        for attempt in range(1000):
            target = self._aside_name(path, attempt)
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise StateFileError(f"{path}: cannot keep a copy of the file: {exc}") from exc
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(target)
                raise StateFileError(f"{path}: cannot keep a copy of the file: {exc}") from exc
            _fsync_dir(path.parent)
            return target
        raise StateFileError(f"{path}: too many copies already aside")

    # --- changes --------------------------------------------------------------------------

    def put(self, target: CameraTarget) -> bool:
        """Create or replace an API target; True if it was created.

        The target is validated again (so the state file always loads) and stored with origin
        "api". Raises TargetError for ids of config targets, StateFileError if saving fails (the
        store is then unchanged), RuntimeError before a successful `load()` of a state file.
        """
        checked = target_from_json(target.stored(), origin="api")
        with self._lock:
            self._check_loaded()
            self._refuse_config_id(checked.id)
            created = checked.id not in self._api
            if not created and self._api[checked.id] == checked:
                return False
            new = dict(self._api)
            new[checked.id] = checked
            self._save(new)
            self._api = new
            self._version += 1
            return created

    def delete(self, id: str) -> bool:
        """Remove an API target; False if unknown. TargetError for config targets."""
        with self._lock:
            self._check_loaded()
            self._refuse_config_id(id)
            if id not in self._api:
                return False
            new = {k: v for k, v in self._api.items() if k != id}
            self._save(new)
            self._api = new
            self._version += 1
            return True

    def _save(self, targets: dict[str, CameraTarget]) -> None:
        if self._path is None:
            return
        doc = {"version": STATE_VERSION, "cameras": [t.stored() for t in targets.values()]}
        data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        write_atomic(self._path, data)


def _utc_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` atomically (tmp file in the same dir, fsync, rename, fsync dir).

    Raises StateFileError (and leaves no temp file) if anything fails before the rename; after it
    the new content is in place, and a failing directory fsync is only logged.
    """
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StateFileError(f"{path}: cannot save the state file: {exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("cannot fsync directory %s: %s", directory, exc)


def config_targets(cameras: Any) -> list[CameraTarget]:
    """The `cameras.targets` of the config as targets, validated like API registrations."""
    targets = []
    seen: set[str] = set()
    for i, t in enumerate(cameras.targets):
        body = {
            "id": t.id,
            "host": t.host,
            "port": t.port or cameras.port,
            "icmp": t.icmp,
            "tcp": t.tcp,
            "frame": t.frame,
            "frame_url": t.frame_url.reveal() if t.frame_url else None,
            "rtsp_options": t.rtsp_options,
        }
        try:
            target = target_from_json(body, origin="config")
        except TargetError as exc:
            field, _, message = str(exc).partition(": ")
            raise ConfigError(message, key=f"cameras.targets[{i}].{field}") from None
        if target.id in seen:
            raise ConfigError(f"duplicate camera id {target.id!r}", key=f"cameras.targets[{i}].id")
        seen.add(target.id)
        targets.append(target)
    return targets
