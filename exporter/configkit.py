"""The config toolkit: secrets, durations, validators and the YAML loader behind ``vigil.yml``.

The loader is declarative: it walks dataclass fields by their type annotations, so a config
section is just a dataclass (each source keeps its own in ``exporter/sources/<name>/config.py``;
``exporter/config.py`` assembles ``Config`` from them). Per-field checks are
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
    "ConfigError",
    "Duration",
    "Secret",
    "at_least",
    "between",
    "compose_yaml",
    "duration_between",
    "format_duration",
    "http_url",
    "interval_range",
    "listen_address",
    "one_of",
    "parse_duration",
    "parse_yaml",
    "positive",
    "split_listen",
    "summarize",
    "timeout_range",
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
# Every duration: 0, or from the finest step kept (1 ms) to ten years; keys narrow it further.
SHORTEST_DURATION = 0.001
LONGEST_DURATION = 3650 * 86400.0
LARGEST_INT = 10**15  # no count, size or port in a config comes near; keys narrow it further

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


def duration_between(low: float, high: float, *, off: bool = False) -> Callable[[Any], Any]:
    """A duration from `low` to `high` (and 0 = off when `off`), said in durations."""
    span = f"between {format_duration(low)} and {format_duration(high)}"
    if off:
        span += ", or 0s (off)"

    def check(value: Any) -> Any:
        if not (low <= value <= high or (off and value == 0)):
            raise ValueError(f"must be {span} (got {format_duration(value)})")
        return value

    return check


# what every interval and timeout key uses unless it says otherwise
interval_range = duration_between(1.0, 30 * 86400.0)  # a check runs at most once a second
timeout_range = duration_between(0.01, 86400.0)


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
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        ok = False
    if not ok:
        # the value is not quoted: a URL may carry a password (https://user:secret@host)
        raise ValueError("must be an http(s) URL like https://host/path")
    return value.rstrip("/")


def split_listen(value: str) -> tuple[str, int]:
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
    split_listen(value)
    return value


def timezone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name, e.g. Europe/Moscow or UTC)"
        ) from None
    return value


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
        self.lines: dict[str, int] = {}  # key -> the line its value starts on

    def fail(self, key: str, node: Node, message: str) -> NoReturn:
        line = node.start_mark.line + 1
        raise ConfigError(message, key=key or None, line=line, source=self.source)

    def load(self, node: Node, tp: Any, key: str) -> Any:
        self.lines[key] = node.start_mark.line + 1
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
                seconds = parse_duration(node.value)
            except ValueError as e:
                self.fail(key, node, str(e))
            if seconds > LONGEST_DURATION:
                self.fail(key, node, f"{node.value!r} is longer than ten years (3650d)")
            if 0 < seconds < SHORTEST_DURATION:
                self.fail(key, node, f"{node.value!r} is shorter than 1ms, the finest step")
            return seconds
        accepted = {str: ("str",), int: ("int",), float: ("int", "float"), bool: ("bool",)}
        if base not in accepted:
            raise TypeError(f"unsupported config type {base!r} at {key}")
        if tag not in accepted[base]:
            self._wrong_type(node, t, key)
        try:
            value = base(self.constructor.construct_object(node))
        except ValueError:  # an integer of thousands of digits
            self.fail(key, node, "a number far too long")
        if base is int and abs(value) > LARGEST_INT:
            self.fail(key, node, f"out of range (at most {LARGEST_INT:,})")
        return value

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


def compose_yaml(text: str, source: str) -> Node | None:
    """The YAML node tree of `text`; any YAML problem is a ConfigError naming `source` (and the
    line), built from the problem's description only: the parser's own message quotes the source
    line, which could hold a literal secret."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        detail = "; ".join(p for p in (e.context, e.problem) if p)
        line = mark.line + 1 if mark else None
        raise ConfigError(f"YAML syntax error: {detail}", line=line, source=source) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"YAML error: {type(e).__name__}", source=source) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", source=source) from None


def parse_yaml(
    text: str,
    root: type,
    source_name: str = "vigil.yml",
    env: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    check: Callable[[Any], None] | None = None,
) -> Any:
    """Parse config text into `root`. Relative ``*_file`` paths resolve against ``base_dir``.
    `check` validates across keys afterwards and may return the config completed; a ConfigError
    it raises for a key is given this file's name and the key's line (one that names its own
    line, from a file the config points to, passes unchanged)."""
    node = compose_yaml(text, source_name)
    if node is None or node.tag == _TAG + "null":  # empty file, or just "---"
        return root()
    loader = _Loader(
        source_name,
        os.environ if env is None else env,
        Path(base_dir) if base_dir is not None else None,
    )
    if not isinstance(node, MappingNode):
        loader.fail("", node, f"expected a mapping at the top level, got {_describe(node, False)}")
    config = loader.load(node, root, "")
    if check is not None:
        try:
            checked = check(config)
        except ConfigError as e:
            if e.line is not None:  # located already, e.g. in a file the config names
                raise

            key, line = e.key or "", None
            while key and line is None:  # the key's own line, or its nearest parent's
                line = loader.lines.get(key)
                parent = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key)
                key = parent if parent != key else ""
            raise ConfigError(e.message, key=e.key, line=line, source=source_name) from None
        if checked is not None:  # the check may return the config completed (files read in)
            config = checked
    return config


def read_config_text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file: {e.strerror or e}", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("config file is not UTF-8 text", source=str(path)) from None


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
