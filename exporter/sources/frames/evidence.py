"""Evidence: the JPEG that showed a frame problem (black, blur, occluded, displaced, frozen).

Two stores behind one protocol:

* `LocalEvidenceStore` keeps `<directory>/<camera>/<UTC yyyymmddThhmmssZ>-<problem>.jpg`, written
  atomically (temporary file, fsync, rename) in a worker thread. An in-memory index of the newest
  evidence per camera and problem answers `latest()` without touching the disk; it is rebuilt from
  the directory when the store starts (`start()`, or lazily on first use).
* `S3EvidenceStore` keeps `<prefix><camera>/<timestamp>-<problem>.jpg` objects in any
  S3-compatible store (MinIO in production); boto3 runs in worker threads. Retention is enforced
  by `prune()` listing and deleting old objects, not by bucket lifecycle rules.

A key (`Evidence.key`) is store-relative: `<camera segment>/<timestamp>-<problem>.jpg`. Camera ids
are made path-safe by a reversible escape: characters outside `[A-Za-z0-9_.-]` (and a leading
`.`) become `%XX` UTF-8 escapes, so `/`, `..`, NUL and friends can never form a path, and two
different camera ids never share a folder. Two pieces of evidence for the same camera and problem
within one second share a key: the later one replaces the earlier.

`open(key)` accepts only keys of exactly that shape and, for the local store, only files that
resolve inside the directory; anything else is answered like a missing file (None).

Failures talking to the storage raise `EvidenceError(reason)`, reason one of REASONS; messages
never contain the S3 secret key. Invalid arguments to `put()` (empty camera, odd problem name,
a time that is not a plausible epoch) raise ValueError.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import errno
import logging
import math
import os
import re
import secrets
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

log = logging.getLogger("vigil.evidence")

REASONS = ("unreachable", "not_found", "denied", "error")

TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SEGMENT = 200  # escaped camera id length: keeps every path component under NAME_MAX
_MAX_TIME = 253_402_300_800.0  # 10000-01-01: timestamps keep their 8-digit year
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_PROBLEM = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEY = re.compile(
    r"(?P<segment>[A-Za-z0-9_%-][A-Za-z0-9_.%-]{0,199})/"
    r"(?P<stamp>[0-9]{8}T[0-9]{6}Z)-(?P<problem>[A-Za-z0-9_-]{1,64})\.jpg"
)
_NAME = re.compile(r"(?P<stamp>[0-9]{8}T[0-9]{6}Z)-(?P<problem>[A-Za-z0-9_-]{1,64})\.jpg")
_TMP_SUFFIX = ".tmp"


class EvidenceError(Exception):
    """Storing or reading evidence failed for `reason` (one of REASONS); the message has no secrets."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason if reason in REASONS else "error"

    def __repr__(self) -> str:
        return f"EvidenceError({self.reason!r}, {str(self)!r})"


@dataclass(frozen=True)
class Evidence:
    camera: str
    problem: str
    time: float  # the time given to put(); from a listing or a restart: the key's whole second
    key: str  # store-relative: <camera segment>/<timestamp>-<problem>.jpg
    size: int


class EvidenceStore(Protocol):
    async def start(self) -> None:
        """Optional eager start: rebuild indexes / check the bucket. Every method starts lazily."""
        ...

    async def put(self, camera: str, problem: str, time: float, jpeg: bytes) -> Evidence: ...

    async def latest(self, camera: str) -> list[Evidence]:
        """The newest evidence per problem for `camera`, sorted by problem."""
        ...

    async def open(self, key: str) -> bytes | None:
        """The JPEG stored under `key`; None if gone or if `key` is not a valid evidence key."""
        ...

    async def prune(self, now: float) -> int:
        """Delete evidence older than the retention; returns how many were deleted."""
        ...

    async def close(self) -> None: ...


# --- names ------------------------------------------------------------------------------------


def camera_segment(camera: str) -> str:
    """The path-safe, reversible folder name for a camera id."""
    if not isinstance(camera, str) or not camera:
        raise ValueError("camera id must be a non-empty string")
    parts: list[str] = []
    for position, char in enumerate(camera):
        if char in _SAFE and not (position == 0 and char == "."):
            parts.append(char)
        else:
            parts.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    segment = "".join(parts)
    if len(segment) > MAX_SEGMENT:
        raise ValueError(f"camera id too long for an evidence path ({len(segment)} escaped chars)")
    return segment


def camera_from_segment(segment: str) -> str | None:
    """The camera id for a folder name; None unless it is exactly what camera_segment makes."""
    try:
        camera = unquote(segment, encoding="utf-8", errors="strict")
        return camera if camera_segment(camera) == segment else None
    except ValueError:
        return None


def format_timestamp(time: float) -> str:
    if not isinstance(time, (int, float)) or not math.isfinite(time) or not 0 <= time < _MAX_TIME:
        raise ValueError(f"evidence time must be a plausible epoch time, got {time!r}")
    return _time.strftime(TIMESTAMP_FORMAT, _time.gmtime(math.floor(time)))


def parse_timestamp(stamp: str) -> float:
    return float(calendar.timegm(_time.strptime(stamp, TIMESTAMP_FORMAT)))


def make_key(camera: str, problem: str, time: float) -> str:
    if not isinstance(problem, str) or not _PROBLEM.fullmatch(problem):
        raise ValueError(f"problem must match [A-Za-z0-9_-]{{1,64}}, got {problem!r}")
    return f"{camera_segment(camera)}/{format_timestamp(time)}-{problem}.jpg"


@dataclass(frozen=True)
class ParsedKey:
    camera: str
    problem: str
    time: float


def parse_key(key: str) -> ParsedKey | None:
    """The parts of a valid evidence key; None for anything else (traversal, odd names, ...)."""
    if not isinstance(key, str):
        return None
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    camera = camera_from_segment(match["segment"])
    if camera is None:
        return None
    try:
        stamp = parse_timestamp(match["stamp"])
    except ValueError:
        return None
    return ParsedKey(camera=camera, problem=match["problem"], time=stamp)


def _as_bytes(jpeg: bytes | bytearray | memoryview) -> bytes:
    if isinstance(jpeg, bytes):
        return jpeg
    if isinstance(jpeg, (bytearray, memoryview)):
        return bytes(jpeg)
    raise TypeError(f"jpeg must be bytes, got {type(jpeg).__name__}")


def _newer(candidate: Evidence, current: Evidence | None) -> bool:
    return current is None or (candidate.time, candidate.key) >= (current.time, current.key)


# --- local directory --------------------------------------------------------------------------


def _oserror(exc: OSError, doing: str) -> EvidenceError:
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "denied"
    elif isinstance(exc, FileNotFoundError):
        reason = "not_found"
    else:
        reason = "error"
    return EvidenceError(reason, f"{doing}: {exc.strerror or type(exc).__name__}")


Index = dict[str, dict[str, Evidence]]


class LocalEvidenceStore(EvidenceStore):
    """Evidence files under one directory, with an in-memory index of the newest per camera/problem."""

    def __init__(self, directory: str | os.PathLike[str], retention_seconds: float) -> None:
        if retention_seconds <= 0:
            raise ValueError("retention_seconds must be positive")
        self.directory = Path(directory)
        self.retention_seconds = float(retention_seconds)
        self._root: Path | None = None  # the resolved directory, set when the index is loaded
        self._index: Index = {}
        self._loaded = False
        self._load_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"LocalEvidenceStore({str(self.directory)!r}, retention={self.retention_seconds:g}s)"

    async def start(self) -> None:
        await self._ensure_loaded()

    async def _ensure_loaded(self) -> Path:
        if not self._loaded:
            async with self._load_lock:
                if not self._loaded:
                    try:
                        root, index, leftovers = await asyncio.to_thread(self._scan)
                    except OSError as exc:
                        raise _oserror(
                            exc, f"cannot open evidence directory {self.directory}"
                        ) from None
                    self._root, self._index, self._loaded = root, index, True
                    count = sum(len(problems) for problems in index.values())
                    log.info(
                        "evidence index loaded from %s: %d cameras, %d newest items%s",
                        root,
                        len(index),
                        count,
                        f", {leftovers} unfinished writes removed" if leftovers else "",
                    )
        assert self._root is not None
        return self._root

    def _scan(self) -> tuple[Path, Index, int]:
        """Blocking: the newest evidence per camera/problem, and removal of leftover temp files."""
        self.directory.mkdir(parents=True, exist_ok=True)
        root = self.directory.resolve(strict=True)
        index: Index = {}
        leftovers = 0
        with os.scandir(root) as folders:
            for folder in folders:
                if not folder.is_dir(follow_symlinks=False):
                    continue
                camera = camera_from_segment(folder.name)
                if camera is None:
                    continue
                with os.scandir(folder.path) as files:
                    for entry in files:
                        if entry.name.startswith(".") and entry.name.endswith(_TMP_SUFFIX):
                            # a write interrupted by a crash: never renamed, never visible
                            with contextlib.suppress(OSError):
                                os.unlink(entry.path)
                                leftovers += 1
                            continue
                        match = _NAME.fullmatch(entry.name)
                        if match is None or not entry.is_file(follow_symlinks=False):
                            continue
                        try:
                            stamp = parse_timestamp(match["stamp"])
                            size = entry.stat(follow_symlinks=False).st_size
                        except (ValueError, OSError):
                            continue
                        evidence = Evidence(
                            camera=camera,
                            problem=match["problem"],
                            time=stamp,
                            key=f"{folder.name}/{entry.name}",
                            size=size,
                        )
                        problems = index.setdefault(camera, {})
                        if _newer(evidence, problems.get(evidence.problem)):
                            problems[evidence.problem] = evidence
        return root, index, leftovers

    @staticmethod
    def _write(root: Path, key: str, data: bytes) -> None:
        """Blocking: write `data` to root/key atomically (temp file in the same folder, then rename)."""
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}{_TMP_SUFFIX}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    async def put(self, camera: str, problem: str, time: float, jpeg: bytes) -> Evidence:
        key = make_key(camera, problem, time)
        data = _as_bytes(jpeg)
        root = await self._ensure_loaded()
        try:
            await asyncio.to_thread(self._write, root, key, data)
        except OSError as exc:
            raise _oserror(exc, f"cannot write evidence {key}") from None
        evidence = Evidence(
            camera=camera, problem=problem, time=float(time), key=key, size=len(data)
        )
        problems = self._index.setdefault(camera, {})
        if _newer(evidence, problems.get(problem)):
            problems[problem] = evidence
        return evidence

    async def latest(self, camera: str) -> list[Evidence]:
        await self._ensure_loaded()
        problems = self._index.get(camera)
        return sorted(problems.values(), key=lambda item: item.problem) if problems else []

    @staticmethod
    def _read(root: Path, key: str) -> bytes | None:
        path = (root / key).resolve()
        if not path.is_relative_to(root) or path == root:
            return None  # a symlink out of the directory, or anything else odd
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return None
            raise
        with os.fdopen(fd, "rb") as file:
            return file.read()

    async def open(self, key: str) -> bytes | None:
        if parse_key(key) is None:
            return None
        root = await self._ensure_loaded()
        try:
            return await asyncio.to_thread(self._read, root, key)
        except IsADirectoryError:
            return None
        except OSError as exc:
            raise _oserror(exc, f"cannot read evidence {key}") from None

    @staticmethod
    def _delete_older(root: Path, cutoff: float) -> list[str]:
        """Blocking: delete evidence files whose timestamp is before `cutoff`; their keys."""
        deleted: list[str] = []
        with os.scandir(root) as folders:
            for folder in folders:
                if (
                    not folder.is_dir(follow_symlinks=False)
                    or camera_from_segment(folder.name) is None
                ):
                    continue
                with os.scandir(folder.path) as files:
                    for entry in files:
                        match = _NAME.fullmatch(entry.name)
                        if match is None:
                            continue
                        try:
                            if parse_timestamp(match["stamp"]) >= cutoff:
                                continue
                            os.unlink(entry.path)
                        except FileNotFoundError:
                            continue
                        except ValueError:
                            continue
                        deleted.append(f"{folder.name}/{entry.name}")
        return deleted

    async def prune(self, now: float) -> int:
        root = await self._ensure_loaded()
        cutoff = now - self.retention_seconds
        try:
            deleted = await asyncio.to_thread(self._delete_older, root, cutoff)
        except OSError as exc:
            raise _oserror(exc, f"cannot prune evidence in {root}") from None
        for key in deleted:
            parsed = parse_key(key)
            if parsed is None:
                continue
            problems = self._index.get(parsed.camera)
            if problems is None:
                continue
            current = problems.get(parsed.problem)
            # the newest one is gone, so every older one for that camera/problem is gone too
            if current is not None and current.key == key:
                del problems[parsed.problem]
                if not problems:
                    del self._index[parsed.camera]
        if deleted:
            log.info(
                "pruned %d evidence files older than %gs", len(deleted), self.retention_seconds
            )
        return len(deleted)

    async def close(self) -> None:
        """Nothing to release: every write is complete when put() returns."""


# --- S3-compatible object storage -------------------------------------------------------------


class _Secret:
    """Holds a secret; its repr and str never show it."""

    __slots__ = ("value",)

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "***" if self.value else "None"

    __str__ = __repr__


_NOT_FOUND_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "NotFound", "404"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "AccountProblem",
        "InvalidSecurity",
        "403",
        "401",
    }
)


class S3EvidenceStore(EvidenceStore):
    """Evidence objects in an S3-compatible bucket under `prefix`; boto3 runs in worker threads."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        retention_seconds: float,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        if not bucket:
            raise ValueError("bucket is required")
        if retention_seconds <= 0:
            raise ValueError("retention_seconds must be positive")
        prefix = (prefix or "").lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.retention_seconds = float(retention_seconds)
        self.endpoint_url = endpoint_url
        self.region = region
        self.access_key = access_key
        self._secret = _Secret(secret_key)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max(1, int(max_attempts))
        self._client: Any = None
        self._client_lock = asyncio.Lock()
        if secret_key:
            from exporter.logs import register_secret

            register_secret(secret_key)

    def __repr__(self) -> str:
        return (
            f"S3EvidenceStore(bucket={self.bucket!r}, prefix={self.prefix!r}, "
            f"endpoint={self._endpoint_text()!r}, retention={self.retention_seconds:g}s)"
        )

    def _endpoint_text(self) -> str:
        if not self.endpoint_url:
            return "aws"
        from exporter.sources.frames.redact import redact_url

        return redact_url(self.endpoint_url)

    def _scrub(self, text: str) -> str:
        if self.endpoint_url:
            text = text.replace(self.endpoint_url, self._endpoint_text())
        secret = self._secret.value
        if secret:
            text = text.replace(secret, "***")
        return text

    # client

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
            signature_version="s3v4",
            # S3-compatible stores (MinIO and others) vary: path-style URLs and checksums only
            # where the API requires them are what they all accept
            s3={"addressing_style": "path"} if self.endpoint_url else None,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self._secret.value,
            region_name=self.region or ("us-east-1" if self.endpoint_url else None),
        )
        return session.client("s3", endpoint_url=self.endpoint_url, config=config)

    async def _get_client(self) -> Any:
        if self._client is None:
            async with self._client_lock:
                if self._client is None:
                    try:
                        self._client = await asyncio.to_thread(self._make_client)
                    except Exception as exc:
                        raise self._error(exc, "client setup") from None
        return self._client

    def _error(self, exc: BaseException, operation: str) -> EvidenceError:
        """An EvidenceError for a boto3/botocore failure, with a message free of secrets."""
        reason, detail = "error", type(exc).__name__
        try:
            from botocore import exceptions as bce
        except ImportError:
            bce = None
        if isinstance(exc, ImportError) or bce is None:
            detail = "boto3 is not installed" if isinstance(exc, ImportError) else str(exc)
        elif isinstance(exc, bce.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _NOT_FOUND_CODES or status == 404:
                reason = "not_found"
            elif code in _DENIED_CODES or status in (401, 403):
                reason = "denied"
            detail = f"{code or status}: {error.get('Message') or ''}".rstrip(": ")
        elif isinstance(exc, (bce.ConnectionError, bce.HTTPClientError)):
            reason, detail = "unreachable", str(exc)
        elif isinstance(
            exc, (bce.NoCredentialsError, bce.PartialCredentialsError, bce.CredentialRetrievalError)
        ):
            reason, detail = "denied", str(exc)
        elif isinstance(exc, (bce.BotoCoreError, ValueError)):
            detail = str(exc)
        message = (
            f"S3 {operation} failed (bucket {self.bucket!r} at {self._endpoint_text()}): "
            f"{self._scrub(detail)}"
        )
        return EvidenceError(reason, message)

    async def _call(self, operation: str, function: Any, /, *args: Any, **kwargs: Any) -> Any:
        client = await self._get_client()
        try:
            return await asyncio.to_thread(function, client, *args, **kwargs)
        except EvidenceError:
            raise
        except Exception as exc:
            raise self._error(exc, operation) from None

    async def start(self) -> None:
        """Checks that the bucket can be reached (EvidenceError otherwise)."""
        await self._call("head bucket", lambda client: client.head_bucket(Bucket=self.bucket))

    # operations

    async def put(self, camera: str, problem: str, time: float, jpeg: bytes) -> Evidence:
        key = make_key(camera, problem, time)
        data = _as_bytes(jpeg)
        await self._call(
            "put",
            lambda client: client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType="image/jpeg",
                Metadata={"vigil-time": repr(float(time))},
            ),
        )
        return Evidence(camera=camera, problem=problem, time=float(time), key=key, size=len(data))

    def _list(self, client: Any, prefix: str) -> list[tuple[str, int]]:
        """Blocking: (store-relative key, size) of every object under `prefix`."""
        found: list[tuple[str, int]] = []
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                name = item["Key"]
                if name.startswith(self.prefix):
                    found.append((name[len(self.prefix) :], int(item.get("Size", 0))))
        return found

    async def latest(self, camera: str) -> list[Evidence]:
        folder = f"{self.prefix}{camera_segment(camera)}/"
        listed = await self._call("list", self._list, folder)
        newest: dict[str, Evidence] = {}
        for key, size in listed:
            parsed = parse_key(key)
            if parsed is None or parsed.camera != camera:
                continue
            evidence = Evidence(
                camera=camera, problem=parsed.problem, time=parsed.time, key=key, size=size
            )
            if _newer(evidence, newest.get(parsed.problem)):
                newest[parsed.problem] = evidence
        return sorted(newest.values(), key=lambda item: item.problem)

    def _get(self, client: Any, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            answer = client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        with answer["Body"] as body:
            return body.read()

    async def open(self, key: str) -> bytes | None:
        if parse_key(key) is None:
            return None
        return await self._call("get", self._get, key)

    def _delete_older(self, client: Any, cutoff: float) -> tuple[int, list[dict]]:
        """Blocking: delete objects whose key timestamp is before `cutoff`; (deleted, errors)."""
        old = [
            self.prefix + key
            for key, _size in self._list(client, self.prefix)
            if (parsed := parse_key(key)) is not None and parsed.time < cutoff
        ]
        deleted, errors = 0, []
        for start in range(0, len(old), 1000):  # DeleteObjects takes at most 1000 keys
            batch = old[start : start + 1000]
            answer = client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": name} for name in batch], "Quiet": True},
            )
            failed = answer.get("Errors", [])
            errors.extend(failed)
            deleted += len(batch) - len(failed)
        return deleted, errors

    async def prune(self, now: float) -> int:
        cutoff = now - self.retention_seconds
        deleted, errors = await self._call("prune", self._delete_older, cutoff)
        if deleted:
            log.info("pruned %d evidence objects older than %gs", deleted, self.retention_seconds)
        if errors:
            code = str(errors[0].get("Code", ""))
            reason = "denied" if code in _DENIED_CODES else "error"
            raise EvidenceError(
                reason,
                f"S3 prune could not delete {len(errors)} objects in bucket {self.bucket!r} "
                f"({code}); {deleted} deleted",
            )
        return deleted

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)


def make_evidence_store(kind: str, **kwargs: Any) -> EvidenceStore:
    """`local` (directory, retention_seconds) or `s3`/`minio` (bucket, prefix, retention_seconds, ...)."""
    name = (kind or "").strip().lower()
    if name in ("local", "file", "directory"):
        return LocalEvidenceStore(**kwargs)
    if name in ("s3", "minio"):
        return S3EvidenceStore(**kwargs)
    raise ValueError(f"unknown evidence store kind {kind!r}: expected 'local' or 's3'")
