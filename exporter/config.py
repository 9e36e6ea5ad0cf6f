"""Load and validate ``vigil.yml`` into frozen dataclasses.

The loader is declarative: it walks dataclass fields by their type annotations, so a new
config section is just a new dataclass plus a field on ``Config``. Per-field checks are
plain callables in ``Annotated[...]`` metadata (``at_least(0)``, ``one_of(...)``, ...).

YAML is parsed with ``yaml.compose`` (nodes, not dicts) so every error can name its line:

    vigil.yml:7: rt_api.inventory_interval: bad duration '10x' (use e.g. 30s, 10m, 6h)
"""

import dataclasses
import difflib
import functools
import hmac
import ipaddress
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "Config",
    "ConfigError",
    "Duration",
    "RtApiConfig",
    "Secret",
    "at_least",
    "between",
    "format_duration",
    "http_url",
    "listen_address",
    "load_config",
    "one_of",
    "parse_config",
    "parse_duration",
    "positive",
    "summarize",
    "timezone_name",
]


class ConfigError(Exception):
    """An invalid config. ``str()`` reads ``source:line: key: message``."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        line: int | None = None,
        source: str = "vigil.yml",
    ) -> None:
        self.message = message
        self.key = key
        self.line = line
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class Secret:
    """A secret string. ``repr``/``str`` are masked so logging a config can never leak it."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "code") -> None:
        self._value = value
        self.source = source  # where it came from, e.g. "env RT_API_KEY"; never the value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


# --- durations ---------------------------------------------------------------------------


class _DurationMarker:
    def __repr__(self) -> str:
        return "Duration"


_DURATION = _DurationMarker()

# A float number of seconds, written in YAML with units: 500ms, 30s, 10m, 6h, 1d, 1h30m.
Duration = Annotated[float, _DURATION]

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": Decimal("0.001")}
_DURATION_RE = re.compile(
    r"(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?"
    r"(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+(?:\.\d+)?)ms)?"
)


def parse_duration(text: str) -> float:
    """Parse ``30s``, ``10m``, ``6h``, ``1d``, ``500ms`` or combos like ``1h30m`` into seconds.

    Units must come largest first, each at most once. A bare number is rejected because
    ``timeout: 10`` is ambiguous (seconds? milliseconds?).
    """
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", stripped):
        raise ValueError(f"bad duration {text!r} (use a unit, e.g. 30s)")
    match = _DURATION_RE.fullmatch(stripped)
    if not stripped or match is None:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 10m, 6h)")
    total = sum(Decimal(v) * _UNITS[u] for u, v in match.groupdict().items() if v is not None)
    return float(total)


def format_duration(seconds: float) -> str:
    """Format seconds the way ``parse_duration`` reads them: 300 -> '5m', 90 -> '1m30s'.

    Rounds to whole milliseconds.
    """
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}")
    rest = round(Decimal(seconds) * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    if rest:
        parts.append(f"{rest}ms")
    return "".join(parts) or "0s"


# --- validators: callables in Annotated metadata, (value) -> value, raise ValueError --------


def at_least(minimum: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value < minimum:
            raise ValueError(f"must be at least {minimum} (got {value})")
        return value

    return check


def between(low: float, high: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high} (got {value})")
        return value

    return check


def positive(value: Any) -> Any:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def one_of(*choices: str) -> Callable[[str], str]:
    """Case-insensitive choice; the stored value is lower-cased."""

    def check(value: str) -> str:
        if value.lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)} (got {value!r})")
        return value.lower()

    return check


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL like https://host/path (got {value!r})")
    return value.rstrip("/")


def _split_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"must be host:port, e.g. 0.0.0.0:9830 (got {value!r})")
    if not port.isdigit() or not 0 <= int(port) <= 65535:  # 0: any free port (tests, demos)
        raise ValueError(f"port must be 0-65535 (got {value!r})")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"bad IPv6 address in {value!r}") from None
        return host[1:-1], int(port)
    if ":" in host:
        raise ValueError(f"put IPv6 addresses in brackets, e.g. [::1]:9830 (got {value!r})")
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host):
        raise ValueError(f"bad host in {value!r}")
    return host, int(port)


def listen_address(value: str) -> str:
    _split_listen(value)
    return value


def timezone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name, e.g. Europe/Moscow or UTC)"
        ) from None
    return value


# --- the config schema -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class RtApiConfig:
    """Rostelecom B2B video-surveillance cloud API."""

    url: Annotated[str, http_url] = "https://lk-b2b.camera.rt.ru/api"
    api_key: Secret
    inventory_interval: Annotated[Duration, positive] = 60.0
    baked_archives_interval: Annotated[Duration, positive] = 300.0
    timeout: Annotated[Duration, positive] = 10.0
    max_retries: Annotated[int, at_least(0)] = 3
    page_size: Annotated[int, between(1, 1000)] = 100  # per_page of the camera list
    concurrency: Annotated[int, at_least(1)] = 4  # camera-list pages fetched in parallel
    verify_tls: bool = True
    archive_interval: Annotated[Duration, positive] = 600.0
    archive_days: Annotated[int, between(1, 400)] = 90  # history kept and analysed per camera
    archive_overlap: Annotated[Duration, at_least(0)] = (
        600.0  # re-fetched tail: the last fragment grows
    )
    archive_concurrency: Annotated[int, at_least(1)] = 8  # cameras fetched in parallel
    gap_threshold: Annotated[Duration, at_least(0)] = 60.0  # a hole longer than this is a gap


@dataclasses.dataclass(frozen=True, kw_only=True)
class CameraTargetConfig:
    """One camera checked directly on the network. Unset intervals come from the section."""

    id: str
    host: str
    port: Annotated[int, between(1, 65535)] | None = None
    icmp: Annotated[Duration, at_least(0)] | None = None  # 0s turns the check off
    tcp: Annotated[Duration, at_least(0)] | None = None
    frame: Annotated[Duration, at_least(0)] | None = None
    frame_url: Secret | None = None  # may carry a password: ${ENV} or frame_url_file
    rtsp_options: bool | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CamerasConfig:
    """Cameras checked directly: defaults first, then the targets; more arrive through the API."""

    icmp: Annotated[Duration, at_least(0)] = 30.0
    tcp: Annotated[Duration, at_least(0)] = 30.0
    frame: Annotated[Duration, at_least(0)] = 60.0
    port: Annotated[int, between(1, 65535)] = 554
    rtsp_options: bool = False
    timeout: Annotated[Duration, positive] = 2.0
    concurrency: Annotated[int, at_least(1)] = 256
    state_file: str | None = None  # cameras registered through the API survive restarts here
    targets: list[CameraTargetConfig] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameThresholdsConfig:
    """Frame-problem thresholds; unset ones keep the analysis defaults (docs/frame-detection.md)."""

    dark_brightness: Annotated[float, between(0, 1)] | None = None
    dark_share: Annotated[float, between(0, 1)] | None = None
    blur_relative: Annotated[float, between(0, 1)] | None = None
    blur_floor: Annotated[float, at_least(0)] | None = None
    occlusion_share: Annotated[float, between(0, 1)] | None = None
    structure_loss: Annotated[float, between(0, 1)] | None = None
    displacement_pixels: Annotated[float, at_least(0)] | None = None
    frozen_change: Annotated[float, at_least(0)] | None = None
    frozen_seconds: Annotated[Duration, at_least(0)] | None = None
    reference_refresh_seconds: Annotated[Duration, positive] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameOverrideConfig(FrameThresholdsConfig):
    """Thresholds of one camera (by id), on top of the section's."""

    camera: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvidenceConfig:
    """Where frames that showed a problem are kept: a local directory or an S3 bucket."""

    store: Annotated[str, one_of("local", "s3")] = "local"
    directory: str = "evidence"
    retention: Annotated[Duration, positive] = 30 * 86400.0
    bucket: str | None = None
    prefix: str = "vigil/evidence/"
    endpoint_url: Annotated[str, http_url] | None = None  # MinIO or another S3-compatible store
    region: str | None = None
    access_key: Secret | None = None
    secret_key: Secret | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisFramesConfig:
    """JPEG frames pushed into a Redis stream (entries with `meta` JSON and `jpeg` fields)."""

    url: Secret  # redis://[:password@]host:port/db, may carry a password
    stream: str = "frames"
    group: str = "vigil"
    consumer: str | None = None  # default: the host name
    min_interval: Annotated[Duration, at_least(0)] = 0.0  # per camera; newer frames win


@dataclasses.dataclass(frozen=True, kw_only=True)
class FramesConfig:
    """Frame quality: cameras with a frame_url (section `cameras`) and frames from Redis."""

    timeout: Annotated[Duration, positive] = 10.0
    workers: Annotated[int, between(1, 64)] = 2  # analysis processes
    thresholds: FrameThresholdsConfig = dataclasses.field(default_factory=FrameThresholdsConfig)
    overrides: list[FrameOverrideConfig] = dataclasses.field(default_factory=list)
    evidence: EvidenceConfig = dataclasses.field(default_factory=EvidenceConfig)
    redis: RedisFramesConfig | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class P4ServerConfig:
    """One Perforce server whose stream sizes are measured."""

    name: str
    p4port: str  # e.g. ssl:p4.example.net:1666
    p4user: str
    stream_mask: str  # a stream path pattern such as //depot/*role*
    charset: str | None = None
    ticket_file: str | None = None  # P4TICKETS file `vigil p4-login` writes and the checks use
    password_env: str | None = None  # name of the environment variable holding the password
    interval: Annotated[Duration, positive] = 6 * 3600.0
    timeout: Annotated[Duration, positive] = 300.0
    include_virtual: bool = False
    exclude_lazy: bool = False  # p4 sizes -z: leave lazy copies out


@dataclasses.dataclass(frozen=True, kw_only=True)
class P4Config:
    servers: list[P4ServerConfig] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    listen: Annotated[str, listen_address] = "0.0.0.0:9830"
    timezone: Annotated[str, timezone_name] = "Europe/Moscow"
    log_level: Annotated[str, one_of("debug", "info", "warning", "error")] = "info"
    rt_api: RtApiConfig | None = None  # None: source disabled
    cameras: CamerasConfig | None = None  # None: no direct network checks, API read-only empty
    api_token: Secret | None = None  # bearer token for the mutating API calls; None: read-only
    frames: FramesConfig | None = None  # None: no frame-quality checks
    p4: P4Config | None = None  # None: no Perforce stream sizes

    @property
    def listen_host(self) -> str:
        """Host without IPv6 brackets, ready for a socket bind."""
        return _split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        return _split_listen(self.listen)[1]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --- the generic loader ------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _TAG + "merge"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclasses.dataclass
class _Type:
    """An annotation taken apart: ``Annotated[X | None, ...]`` -> base X, optional, metadata."""

    base: Any
    optional: bool
    duration: bool
    validators: list[Callable[[Any], Any]]


def _unwrap(tp: Any) -> _Type:
    optional, metadata = False, []
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            metadata.extend(tp.__metadata__)
            tp = tp.__origin__
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                raise TypeError(f"unsupported config type {tp!r}: only X | None unions")
            optional, tp = True, args[0]
        else:
            break
    validators = [m for m in metadata if callable(m)]
    return _Type(tp, optional, _DURATION in metadata, validators)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _is_secret(tp: Any) -> bool:
    return _unwrap(tp).base is Secret


def _type_name(t: _Type) -> str:
    if t.duration:
        return "a duration like 30s"
    if dataclasses.is_dataclass(t.base):
        return "a mapping"
    if typing.get_origin(t.base) is list:
        return "a list"
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean (true/false)"}
    return names.get(t.base, "a secret string" if t.base is Secret else repr(t.base))


def _describe(node: Node, show_value: bool) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = node.tag.removeprefix(_TAG)
    kind = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(kind, kind)
    if kind == "null" or not show_value:
        return kind
    shown = node.value if len(node.value) <= 60 else node.value[:57] + "..."
    return f"{kind} {shown!r}" if kind == "string" else f"{kind} {shown}"


class _Loader:
    def __init__(self, source: str, env: Mapping[str, str], base_dir: Path | None) -> None:
        self.source = source
        self.env = env
        self.base_dir = base_dir
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, key: str, node: Node, message: str) -> NoReturn:
        line = node.start_mark.line + 1
        raise ConfigError(message, key=key or None, line=line, source=self.source)

    def load(self, node: Node, tp: Any, key: str) -> Any:
        t = _unwrap(tp)
        if node.tag == _TAG + "null" and isinstance(node, ScalarNode) and t.optional:
            return None
        value = self._load_base(node, t, key)
        for check in t.validators:
            try:
                value = check(value)
            except ValueError as e:
                self.fail(key, node, str(e))
        return value

    def _wrong_type(self, node: Node, t: _Type, key: str) -> NoReturn:
        scalar_expected = (
            not dataclasses.is_dataclass(t.base) and typing.get_origin(t.base) is not list
        )
        show = scalar_expected and t.base is not Secret
        self.fail(key, node, f"expected {_type_name(t)}, got {_describe(node, show)}")

    def _load_base(self, node: Node, t: _Type, key: str) -> Any:
        base = t.base
        if dataclasses.is_dataclass(base):
            if not isinstance(node, MappingNode):
                self._wrong_type(node, t, key)
            return self._load_section(node, base, key)
        if typing.get_origin(base) is list:
            if not isinstance(node, SequenceNode):
                self._wrong_type(node, t, key)
            (item_type,) = typing.get_args(base)
            return [self.load(item, item_type, f"{key}[{i}]") for i, item in enumerate(node.value)]
        if not isinstance(node, ScalarNode):
            self._wrong_type(node, t, key)
        tag = node.tag.removeprefix(_TAG)
        if base is Secret:
            if tag == "null":
                self._wrong_type(node, t, key)
            return self._expand_secret(node.value, node, key)
        if t.duration:
            if tag not in ("str", "int", "float"):
                self._wrong_type(node, t, key)
            try:
                return parse_duration(node.value)
            except ValueError as e:
                self.fail(key, node, str(e))
        accepted = {str: ("str",), int: ("int",), float: ("int", "float"), bool: ("bool",)}
        if base not in accepted:
            raise TypeError(f"unsupported config type {base!r} at {key}")
        if tag not in accepted[base]:
            self._wrong_type(node, t, key)
        return base(self.constructor.construct_object(node))

    def _entries(self, node: MappingNode, key: str) -> dict[str, tuple[Node, Node]]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key, key_node, "keys must be plain names")
            if key_node.value in seen:
                self.fail(_join(key, key_node.value), key_node, "duplicate key")
            seen.add(key_node.value)
        try:
            self.constructor.flatten_mapping(node)  # resolve `<<: *anchor` merges in place
        except yaml.MarkedYAMLError as e:
            self.fail(key, node, f"bad merge: {e.problem}")
        return {k.value: (k, v) for k, v in node.value}  # own keys override merged ones

    def _load_section(self, node: MappingNode, cls: type, key: str) -> Any:
        entries = self._entries(node, key)
        hints = _hints(cls)
        allowed: list[str] = []
        for f in dataclasses.fields(cls):
            allowed.append(f.name)
            if _is_secret(hints[f.name]):
                allowed.append(f"{f.name}_file")
        for name, (key_node, _) in entries.items():
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.fail(
                    _join(key, name),
                    key_node,
                    f"unknown key '{name}'{hint} (allowed: {', '.join(allowed)})",
                )

        values = {}
        for f in dataclasses.fields(cls):
            sub = _join(key, f.name)
            file_key = f"{f.name}_file"
            secret = _is_secret(hints[f.name])
            if secret and file_key in entries:
                if f.name in entries:
                    later = max((entries[f.name][0], entries[file_key][0]), key=_line)
                    self.fail(sub, later, f"give either '{f.name}' or '{file_key}', not both")
                values[f.name] = self._read_secret_file(entries[file_key][1], _join(key, file_key))
            elif f.name in entries:
                values[f.name] = self.load(entries[f.name][1], hints[f.name], sub)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                alt = f" (or '{file_key}')" if secret else ""
                self.fail(sub, node, f"missing required key '{f.name}'{alt}")
        return cls(**values)

    def _expand_secret(self, raw: str, node: Node, key: str) -> Secret:
        # ${VAR} is expanded only in Secret fields: elsewhere a '$' is just a character.
        if "${" in _ENV_REF.sub("", raw):
            self.fail(key, node, "malformed ${...} reference (write ${VAR_NAME})")
        names = _ENV_REF.findall(raw)
        for name in names:
            if name not in self.env:
                self.fail(key, node, f"environment variable {name} is not set")
        value = _ENV_REF.sub(lambda m: self.env[m.group(1)], raw)
        if not value:
            what = f"environment variable {names[0]}" if names else "secret"
            self.fail(key, node, f"{what} is empty")
        return Secret(value, f"env {', '.join(names)}" if names else "the config file")

    def _read_secret_file(self, node: Node, key: str) -> Secret:
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "str":
            self.fail(key, node, f"expected a file path, got {_describe(node, True)}")
        path = Path(node.value).expanduser()
        if self.base_dir is not None and not path.is_absolute():
            path = self.base_dir / path
        try:
            value = path.read_text(encoding="utf-8").rstrip()
        except OSError as e:
            self.fail(key, node, f"cannot read secret file {str(path)!r}: {e.strerror or e}")
        except UnicodeDecodeError:
            self.fail(key, node, f"secret file {str(path)!r} is not UTF-8 text")
        if not value:
            self.fail(key, node, f"secret file {str(path)!r} is empty")
        return Secret(value, f"file {path}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _line(node: Node) -> int:
    return node.start_mark.line


# --- public entry points -----------------------------------------------------------------


def parse_config(
    text: str,
    source_name: str = "vigil.yml",
    env: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Config:
    """Parse config text. Relative ``*_file`` paths resolve against ``base_dir`` (else cwd)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        # Build the message from problem/context only: str(e) quotes the source line,
        # which could hold a literal secret.
        mark = e.problem_mark or e.context_mark
        detail = "; ".join(p for p in (e.context, e.problem) if p)
        line = mark.line + 1 if mark else None
        raise ConfigError(f"YAML syntax error: {detail}", line=line, source=source_name) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"YAML error: {type(e).__name__}", source=source_name) from None
    if root is None or root.tag == _TAG + "null":  # empty file, or just "---"
        return Config()
    loader = _Loader(
        source_name,
        os.environ if env is None else env,
        Path(base_dir) if base_dir is not None else None,
    )
    if not isinstance(root, MappingNode):
        loader.fail("", root, f"expected a mapping at the top level, got {_describe(root, False)}")
    return loader.load(root, Config, "")


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Load and validate a config file; relative ``*_file`` paths resolve next to it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file: {e.strerror or e}", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("config file is not UTF-8 text", source=str(path)) from None
    return parse_config(text, str(path), env, Path(path).parent)


def summarize(config: Any) -> str:
    """Human summary for ``vigil check-config``. Secrets show only where they came from."""
    lines: list[str] = []
    _summarize(config, 0, lines)
    return "\n".join(lines)


def _summarize(obj: Any, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        t = _unwrap(hints[f.name])
        if dataclasses.is_dataclass(t.base):
            if value is None:
                lines.append(f"{pad}{f.name}: disabled")
            else:
                lines.append(f"{pad}{f.name}:")
                _summarize(value, depth + 1, lines)
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            lines.append(f"{pad}{f.name}:")
            for i, item in enumerate(value):
                lines.append(f"{pad}  [{i}]:")
                _summarize(item, depth + 2, lines)
        else:
            lines.append(f"{pad}{f.name}: {_format_value(value, t)}")


def _format_value(value: Any, t: _Type) -> str:
    if value is None:
        return "not set"
    if isinstance(value, Secret):
        return f"set (from {value.source})"
    if t.duration:
        return format_duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)
