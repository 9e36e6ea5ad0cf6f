"""The web configuration file of the Prometheus exporter-toolkit: TLS, basic auth, headers, rate limit.

`vigil run --web.config.file FILE` (or `web_config_file:` in vigil.yml) reads the same YAML as
Prometheus and its exporters (docs/web-configuration.md of prometheus/exporter-toolkit):

    tls_server_config:      cert_file/key_file (or inline cert/key), client_auth_type, client_ca_file
                            (or inline client_ca), client_allowed_sans, min_version, max_version,
                            cipher_suites, prefer_server_cipher_suites, curve_preferences
    http_server_config:     http2 (accepted; aiohttp speaks HTTP/1.1 only), headers
    basic_auth_users:       user: bcrypt hash
    rate_limit:             interval, burst

`load_web_config()` parses and checks everything a listener needs (files readable, certificate and
key a pair, hashes well formed) and raises `ConfigError` naming the file, line and key; no message
ever holds a password, an inline key or a hash. `WebSecurity` is what the running server keeps: the
current configuration (reloaded when the file, the certificate, the key or the client CA changes),
the server's `ssl.SSLContext`, the cached bcrypt checks and the rate limiter.

Where Python's ssl module differs from Go's crypto/tls (docs/design.md, "Safe at the edge"):
`RequireAnyClientCert` (any certificate, unverified) cannot be served and is refused;
`RequestClientCert` does not ask for a certificate (Go asks and ignores it: nobody gets in either way);
a verifying `client_auth_type` needs a client CA (Go would fall back to the system's public roots);
`curve_preferences` may name one curve.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import difflib
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import bcrypt
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from exporter.configkit import ConfigError, compose_yaml

log = logging.getLogger("vigil.web")

_TAG = "tag:yaml.org,2002:"

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
VERIFYING = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's names (tls.CipherSuites()) -> OpenSSL's. TLS 1.3 suites are not configurable in Go either.
CIPHER_SUITES = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")

CURVES = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}

# the exporter-toolkit's list: other headers cannot be set; None means any value
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}

_BCRYPT = re.compile(rb"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_BCRYPT_HINT = "make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"
# compared against when the user is unknown, so timing does not tell which users exist
# (the exporter-toolkit's hash of "fakepassword")
_DUMMY_HASH = b"$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

_GO_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}

RELOAD_CHECK_SECONDS = 1.0  # files are looked at (stat) at most this often
AUTH_CACHE_SIZE = 100


# --- the parsed file -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TLSServerConfig:
    cert_file: Path | None = None
    key_file: Path | None = None
    cert: str | None = dataclasses.field(default=None, repr=False)
    key: str | None = dataclasses.field(default=None, repr=False)  # a secret
    client_ca_file: Path | None = None
    client_ca: str | None = dataclasses.field(default=None, repr=False)
    client_auth_type: str = "NoClientCert"
    client_allowed_sans: tuple[str, ...] = ()
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()

    @property
    def verifies_clients(self) -> bool:
        """A certificate a client presents is verified against the client CA."""
        return self.client_auth_type in VERIFYING

    def restart_fields(self) -> tuple[Any, ...]:
        """What a running listener cannot change: a reload that differs here is refused."""
        return (
            self.client_auth_type,
            self.min_version,
            self.max_version,
            self.cipher_suites,
            self.prefer_server_cipher_suites,
            self.curve_preferences,
        )


@dataclasses.dataclass(frozen=True)
class WebConfig:
    """One web configuration file, checked. `path` is None for "no file": plain HTTP, no auth."""

    path: Path | None = None
    tls: TLSServerConfig | None = None
    http2: bool = True
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    users: Mapping[str, bytes] = dataclasses.field(default_factory=dict, repr=False)
    rate_interval: float = 0.0  # seconds between requests; 0: no rate limit
    rate_burst: int = 0
    # the line of every key, for errors found after parsing (a certificate file that cannot be used)
    lines: Mapping[str, int] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def files(self) -> list[Path]:
        """The files whose change reloads the configuration."""
        found = [] if self.path is None else [self.path]
        if self.tls is not None:
            found += [
                p
                for p in (self.tls.cert_file, self.tls.key_file, self.tls.client_ca_file)
                if p is not None
            ]
        return found

    def describe(self) -> list[str]:
        """What is on, for check-config and the start log; never a secret or a hash."""
        lines = []
        if self.tls is None:
            lines.append("TLS: off (plain HTTP)")
        else:
            t = self.tls
            where = f"cert_file {t.cert_file}" if t.cert_file else "inline cert"
            lines.append(f"TLS: on ({where}; {t.min_version} to {t.max_version})")
            if t.verifies_clients:
                ca = (
                    f"client_ca_file {t.client_ca_file}" if t.client_ca_file else "inline client_ca"
                )
                sans = f", allowed SANs: {', '.join(t.client_allowed_sans)}"
                lines.append(
                    f"client certificates: {t.client_auth_type} ({ca}"
                    f"{sans if t.client_allowed_sans else ''})"
                )
            elif t.client_auth_type == "RequestClientCert":
                lines.append(
                    "client certificates: not asked for (RequestClientCert grants nothing)"
                )
        if self.users:
            lines.append(f"basic auth: {len(self.users)} user(s): {', '.join(sorted(self.users))}")
        else:
            lines.append("basic auth: off")
        if self.headers:
            lines.append(f"response headers: {', '.join(sorted(self.headers))}")
        if self.rate_interval > 0:
            lines.append(
                f"rate limit: 1 request per {self.rate_interval:g}s, burst {self.rate_burst}"
            )
        return lines


def load_web_config(path: str | os.PathLike[str]) -> WebConfig:
    """Read and check a web configuration file, including the files it names; ConfigError if bad."""
    path = Path(path).expanduser()
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the web config file: {exc.strerror or exc}", source=source
        ) from None
    except UnicodeDecodeError:
        raise ConfigError("the web config file is not UTF-8 text", source=source) from None
    config = parse_web_config(text, source, path.parent.absolute(), path=path.absolute())
    if config.tls is not None:
        try:
            build_ssl_context(config.tls, source)  # files readable, certificate and key a pair
        except ConfigError as exc:
            raise ConfigError(
                exc.message, key=exc.key, line=config.lines.get(exc.key or ""), source=source
            ) from None
    return config


def parse_web_config(
    text: str, source: str, base_dir: Path, *, path: Path | None = None
) -> WebConfig:
    """The file's text as a WebConfig; relative paths resolve against base_dir (the file's folder)."""
    root = compose_yaml(text, source)  # never quotes a line: it may hold an inline key
    return _Reader(source, base_dir).read(root, path)


class _Reader:
    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir
        self.lines: dict[str, int] = {}

    def fail(self, key: str, node: Node | None, message: str) -> NoReturn:
        line = node.start_mark.line + 1 if node is not None else None
        raise ConfigError(message, key=key or None, line=line, source=self.source)

    # -- node helpers --
    @staticmethod
    def _null(node: Node | None) -> bool:
        return node is None or (isinstance(node, ScalarNode) and node.tag == _TAG + "null")

    def mapping(self, node: Node, key: str, allowed: tuple[str, ...] | None) -> dict:
        if not isinstance(node, MappingNode):
            self.fail(key, node, "expected a mapping")
        out: dict[str, tuple[Node, Node]] = {}
        for k, v in node.value:
            if not isinstance(k, ScalarNode) or k.tag == _TAG + "merge":
                self.fail(key, k, "keys must be plain names")
            name = k.value
            sub = f"{key}.{name}" if key else name
            if name in out:
                self.fail(sub, k, "duplicate key")
            if allowed is not None and name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.fail(sub, k, f"unknown key '{name}'{hint} (allowed: {', '.join(allowed)})")
            out[name] = (k, v)
            self.lines[sub] = k.start_mark.line + 1
        return out

    def string(self, node: Node, key: str, *, show: bool = True) -> str:
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "str":
            got = "a mapping" if isinstance(node, MappingNode) else "a list"
            if isinstance(node, ScalarNode):
                kind = node.tag.removeprefix(_TAG)
                got = f"{kind} {node.value!r}" if show else kind
            self.fail(key, node, f"expected a string, got {got}")
        return node.value

    def boolean(self, node: Node, key: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "bool":
            self.fail(key, node, "expected true or false")
        return node.value.lower() in ("true", "yes", "on", "y")

    def integer(self, node: Node, key: str) -> int:
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "int":
            self.fail(key, node, "expected a whole number")
        return int(yaml.constructor.SafeConstructor().construct_yaml_int(node))

    def strings(self, node: Node, key: str) -> tuple[str, ...]:
        if self._null(node):
            return ()
        if not isinstance(node, SequenceNode):
            self.fail(key, node, "expected a list")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(node.value))

    def file(self, node: Node, key: str) -> Path:
        value = self.string(node, key)
        if not value:
            self.fail(key, node, "is empty")
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    # -- the sections --
    def read(self, root: Node | None, path: Path | None) -> WebConfig:
        if self._null(root):
            return WebConfig(path=path)
        top = self.mapping(
            root,
            "",
            ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"),
        )
        tls = http2 = headers = users = rate = None
        if "tls_server_config" in top and not self._null(top["tls_server_config"][1]):
            tls = self.tls(top["tls_server_config"][1])
        if "http_server_config" in top and not self._null(top["http_server_config"][1]):
            http2, headers = self.http(top["http_server_config"][1])
        if "basic_auth_users" in top and not self._null(top["basic_auth_users"][1]):
            users = self.users(top["basic_auth_users"][1])
        if "rate_limit" in top and not self._null(top["rate_limit"][1]):
            rate = self.rate_limit(top["rate_limit"][1])
        interval, burst = rate or (0.0, 0)
        return WebConfig(
            path=path,
            tls=tls,
            http2=True if http2 is None else http2,
            headers=headers or {},
            users=users or {},
            rate_interval=interval,
            rate_burst=burst,
            lines=self.lines,
        )

    def tls(self, node: Node) -> TLSServerConfig | None:
        k = "tls_server_config"
        fields = self.mapping(
            node,
            k,
            (
                "cert",
                "key",
                "client_ca",
                "cert_file",
                "key_file",
                "client_auth_type",
                "client_ca_file",
                "client_allowed_sans",
                "min_version",
                "max_version",
                "cipher_suites",
                "prefer_server_cipher_suites",
                "curve_preferences",
            ),
        )
        fields = {name: kv for name, kv in fields.items() if not self._null(kv[1])}
        if not fields:
            return None
        values: dict[str, Any] = {}

        def node_of(name: str) -> Node:
            return fields[name][1]

        for name in ("cert_file", "key_file", "client_ca_file"):
            if name in fields:
                values[name] = self.file(node_of(name), f"{k}.{name}")
        for name in ("cert", "client_ca"):
            if name in fields:
                values[name] = self.string(node_of(name), f"{k}.{name}", show=False)
        if "key" in fields:
            values["key"] = self.string(node_of("key"), f"{k}.key", show=False)
        for inline, file in (
            ("cert", "cert_file"),
            ("key", "key_file"),
            ("client_ca", "client_ca_file"),
        ):
            if inline in fields and file in fields:
                later = max(fields[inline][0], fields[file][0], key=lambda n: n.start_mark.line)
                self.fail(f"{k}.{inline}", later, f"give either '{inline}' or '{file}', not both")
        if "cert" not in values and "cert_file" not in values:
            self.fail(f"{k}.cert_file", node, "missing: TLS needs cert_file (or an inline cert)")
        if "key" not in values and "key_file" not in values:
            self.fail(f"{k}.key_file", node, "missing: TLS needs key_file (or an inline key)")

        auth = "NoClientCert"
        if "client_auth_type" in fields:
            auth = self.string(node_of("client_auth_type"), f"{k}.client_auth_type")
            if auth == "RequireClientCert":  # the exporter-toolkit's old name
                auth = "RequireAnyClientCert"
            if auth == "":
                auth = "NoClientCert"
            if auth not in CLIENT_AUTH_TYPES:
                self.fail(
                    f"{k}.client_auth_type",
                    node_of("client_auth_type"),
                    f"unknown client_auth_type {auth!r} (one of: {', '.join(CLIENT_AUTH_TYPES)})",
                )
            if auth == "RequireAnyClientCert":
                self.fail(
                    f"{k}.client_auth_type",
                    node_of("client_auth_type"),
                    "RequireAnyClientCert (any certificate, never verified) cannot be served with "
                    "Python's ssl module; use RequireAndVerifyClientCert with client_ca_file",
                )
        values["client_auth_type"] = auth
        has_ca = "client_ca_file" in values or "client_ca" in values
        if has_ca and auth == "NoClientCert":
            where = "client_ca_file" if "client_ca_file" in fields else "client_ca"
            self.fail(
                f"{k}.{where}",
                fields[where][0],
                "a client CA is configured but client_auth_type is NoClientCert "
                "(use RequireAndVerifyClientCert to ask clients for certificates)",
            )
        if auth in VERIFYING and not has_ca:
            self.fail(
                f"{k}.client_ca_file",
                node_of("client_auth_type"),
                f"client_auth_type {auth} needs client_ca_file (the CA that signs client "
                "certificates); Vigil does not fall back to the system's public CAs",
            )
        if "client_allowed_sans" in fields:
            sans = self.strings(node_of("client_allowed_sans"), f"{k}.client_allowed_sans")
            if sans and auth not in VERIFYING:
                self.fail(
                    f"{k}.client_allowed_sans",
                    fields["client_allowed_sans"][0],
                    "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert "
                    "(or VerifyClientCertIfGiven)",
                )
            values["client_allowed_sans"] = sans

        for name in ("min_version", "max_version"):
            if name in fields:
                version = self.string(node_of(name), f"{k}.{name}")
                if version not in TLS_VERSIONS:
                    self.fail(
                        f"{k}.{name}",
                        node_of(name),
                        f"unknown TLS version {version!r} (one of: {', '.join(TLS_VERSIONS)})",
                    )
                values[name] = version
        low = TLS_VERSIONS[values.get("min_version", "TLS12")]
        high = TLS_VERSIONS[values.get("max_version", "TLS13")]
        if low > high:
            self.fail(f"{k}.min_version", node, "min_version is above max_version")

        if "cipher_suites" in fields:
            suites = self.strings(node_of("cipher_suites"), f"{k}.cipher_suites")
            for i, suite in enumerate(suites):
                if suite not in CIPHER_SUITES and suite not in TLS13_SUITES:
                    self.fail(
                        f"{k}.cipher_suites[{i}]",
                        node_of("cipher_suites").value[i],
                        f"unknown cipher suite {suite!r} (Go's names, e.g. "
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)",
                    )
            values["cipher_suites"] = suites
        if "prefer_server_cipher_suites" in fields:
            values["prefer_server_cipher_suites"] = self.boolean(
                node_of("prefer_server_cipher_suites"), f"{k}.prefer_server_cipher_suites"
            )
        if "curve_preferences" in fields:
            curves = self.strings(node_of("curve_preferences"), f"{k}.curve_preferences")
            for i, curve in enumerate(curves):
                if curve not in CURVES:
                    self.fail(
                        f"{k}.curve_preferences[{i}]",
                        node_of("curve_preferences").value[i],
                        f"unknown curve {curve!r} (one of: {', '.join(CURVES)})",
                    )
            if len(curves) > 1:
                self.fail(
                    f"{k}.curve_preferences",
                    node_of("curve_preferences"),
                    "Python's ssl module can pin one curve only: list one, or none for "
                    "OpenSSL's defaults (X25519, P-256, P-384, P-521)",
                )
            values["curve_preferences"] = curves
        return TLSServerConfig(**values)

    def http(self, node: Node) -> tuple[bool | None, dict[str, str]]:
        k = "http_server_config"
        fields = self.mapping(node, k, ("http2", "headers"))
        http2 = None
        if "http2" in fields and not self._null(fields["http2"][1]):
            http2 = self.boolean(fields["http2"][1], f"{k}.http2")
        headers: dict[str, str] = {}
        if "headers" in fields and not self._null(fields["headers"][1]):
            for name, (key_node, value_node) in self.mapping(
                fields["headers"][1], f"{k}.headers", None
            ).items():
                sub = f"{k}.headers.{name}"
                if name not in HEADERS:
                    self.fail(
                        sub,
                        key_node,
                        f"header {name!r} cannot be configured (one of: {', '.join(HEADERS)})",
                    )
                value = "" if self._null(value_node) else self.string(value_node, sub)
                allowed = HEADERS[name]
                if allowed is not None and value not in allowed:
                    self.fail(
                        sub, value_node, f"must be one of {', '.join(allowed)} (got {value!r})"
                    )
                if "\r" in value or "\n" in value or not value.isascii():
                    self.fail(sub, value_node, "must be one line of ASCII")
                if value:  # blank means unset
                    headers[name] = value
        return http2, headers

    def users(self, node: Node) -> dict[str, bytes]:
        k = "basic_auth_users"
        users: dict[str, bytes] = {}
        for name, (key_node, value_node) in self.mapping(node, k, None).items():
            sub = f"{k}.{name}"
            if not name or ":" in name:
                self.fail(sub, key_node, "a user name must be non-empty and without ':'")
            if not isinstance(value_node, ScalarNode) or value_node.tag != _TAG + "str":
                self.fail(sub, value_node, f"expected a bcrypt hash ({_BCRYPT_HINT})")
            hashed = value_node.value.encode("utf-8", "replace")
            match = _BCRYPT.fullmatch(hashed)
            if match is None:
                self.fail(sub, value_node, f"not a bcrypt hash ({_BCRYPT_HINT})")
            if not 4 <= int(match.group(1)) <= 31:
                self.fail(sub, value_node, "bcrypt cost must be between 4 and 31")
            users[name] = hashed
        return users

    def rate_limit(self, node: Node) -> tuple[float, int]:
        k = "rate_limit"
        fields = self.mapping(node, k, ("interval", "burst"))
        interval, burst = 0.0, 0
        if "interval" in fields and not self._null(fields["interval"][1]):
            value_node = fields["interval"][1]
            if isinstance(value_node, ScalarNode) and value_node.tag == _TAG + "int":
                if int(value_node.value) != 0:
                    self.fail(f"{k}.interval", value_node, "give a unit, e.g. 1s or 100ms")
            else:
                text = self.string(value_node, f"{k}.interval")
                try:
                    interval = parse_go_duration(text)
                except ValueError as exc:
                    self.fail(f"{k}.interval", value_node, str(exc))
        if "burst" in fields and not self._null(fields["burst"][1]):
            burst = self.integer(fields["burst"][1], f"{k}.burst")
        if interval > 0 and burst < 1:
            self.fail(
                f"{k}.burst", node, "must be at least 1 when interval is set (or no request passes)"
            )
        return interval, burst


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration: "1s", "100ms", "1m30s", "0"; seconds as a float."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if text.startswith("-"):
        raise ValueError(f"bad duration {text!r}: negative")
    body = text.removeprefix("+")
    if not _GO_DURATION.fullmatch(body):
        raise ValueError(f"bad duration {text!r} (use e.g. 1s, 100ms, 1m30s)")
    pieces = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", body)
    return sum(float(number) * _GO_UNITS[unit] for number, unit in pieces)


# --- TLS -----------------------------------------------------------------------------------


def _readable(path: Path, source: str, key: str) -> None:
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror or exc}", key=key, source=source
        ) from None


def build_ssl_context(tls: TLSServerConfig, source: str = "web config") -> ssl.SSLContext:
    """The server's SSLContext for `tls`; ConfigError naming the key when a file cannot be used."""
    k = "tls_server_config"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    ctx.set_alpn_protocols(["http/1.1"])  # aiohttp speaks HTTP/1.1 only
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    suites = [CIPHER_SUITES[s] for s in tls.cipher_suites if s in CIPHER_SUITES]
    if suites:
        try:
            ctx.set_ciphers(":".join(suites))
        except ssl.SSLError:
            raise ConfigError(
                "none of these cipher suites is available in this OpenSSL",
                key=f"{k}.cipher_suites",
                source=source,
            ) from None
    if tls.curve_preferences:
        ctx.set_ecdh_curve(CURVES[tls.curve_preferences[0]])
    _load_certificate(ctx, tls, source)
    if tls.verifies_clients:
        ctx.verify_mode = (
            ssl.CERT_REQUIRED
            if tls.client_auth_type == "RequireAndVerifyClientCert"
            else ssl.CERT_OPTIONAL
        )
        where = "client_ca_file" if tls.client_ca_file is not None else "client_ca"
        try:
            if tls.client_ca_file is not None:
                _readable(tls.client_ca_file, source, f"{k}.client_ca_file")
                ctx.load_verify_locations(cafile=str(tls.client_ca_file))
            else:
                ctx.load_verify_locations(cadata=tls.client_ca)
        except (ssl.SSLError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or "no PEM certificate found"
            raise ConfigError(
                f"cannot use the client CA ({reason})", key=f"{k}.{where}", source=source
            ) from None
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_certificate(ctx: ssl.SSLContext, tls: TLSServerConfig, source: str) -> None:
    k = "tls_server_config"
    if tls.cert_file is not None:
        _readable(tls.cert_file, source, f"{k}.cert_file")
    if tls.key_file is not None:
        _readable(tls.key_file, source, f"{k}.key_file")
    temporary: list[str] = []
    try:
        # ssl loads certificates from files only: inline PEM goes through a private temporary file
        cert_path = str(tls.cert_file) if tls.cert_file else _temporary(tls.cert or "", temporary)
        key_path = str(tls.key_file) if tls.key_file else _temporary(tls.key or "", temporary)
        ctx.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        what = "cert_file and key_file" if tls.cert_file else "cert and key"
        raise ConfigError(
            f"cannot use {what} as a certificate and its private key "
            f"({exc.reason or 'not PEM, or they do not match'})",
            key=f"{k}.{'cert_file' if tls.cert_file else 'cert'}",
            source=source,
        ) from None
    finally:
        for name in temporary:
            os.unlink(name)


def _temporary(text: str, created: list[str]) -> str:
    fd, name = tempfile.mkstemp(prefix="vigil-tls-", suffix=".pem")  # mode 0600
    created.append(name)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return name


def _normal_san(value: str) -> str:
    """IP addresses in one spelling (OpenSSL writes IPv6 in full and upper case, Go compressed)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return value


def peer_sans(peercert: Mapping[str, Any] | None) -> set[str]:
    """A client certificate's subject alternative names as Go compares them: DNS, IP, e-mail, URI."""
    return {
        _normal_san(value)
        for kind, value in (peercert or {}).get("subjectAltName", ())
        if kind in ("DNS", "IP Address", "email", "URI")
    }


# --- basic auth ----------------------------------------------------------------------------


def parse_basic(header: str) -> tuple[str, bytes] | None:
    """`Basic base64(user:password)` -> (user, password bytes); None when it is not that."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # e.g. a password over bcrypt's 72 bytes
        return False


class BasicAuthChecker:
    """bcrypt checks, one at a time off the event loop, remembered (bcrypt is slow on purpose).

    The cache key is a SHA-256 of user, hash and password: a changed hash is checked again, and no
    password is kept in memory in clear. Wrong passwords are remembered too, so a client repeating
    one costs a single bcrypt.
    """

    def __init__(self, size: int = AUTH_CACHE_SIZE) -> None:
        self._size = size
        self._cache: dict[bytes, bool] = {}
        self._lock = asyncio.Lock()
        self.computed = 0  # bcrypt computations done (tests look at it)

    async def check(self, users: Mapping[str, bytes], user: str, password: bytes) -> bool:
        hashed = users.get(user)
        known = hashed is not None
        hashed = hashed if hashed is not None else _DUMMY_HASH
        key = hashlib.sha256(
            b"\0".join((user.encode("utf-8", "surrogateescape"), hashed, password))
        ).digest()
        cached = self._cache.get(key)
        if cached is None:
            async with self._lock:
                cached = self._cache.get(key)
                if cached is None:
                    loop = asyncio.get_running_loop()
                    cached = await loop.run_in_executor(None, _checkpw, password, hashed)
                    self.computed += 1
                    if len(self._cache) >= self._size:
                        for old in list(self._cache)[: max(1, self._size // 10)]:
                            del self._cache[old]  # the oldest tenth
                    self._cache[key] = cached
        return known and cached


class RateLimiter:
    """A token bucket: `burst` requests at once, then one per `interval` (Go's rate.Limiter)."""

    def __init__(self, interval: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) / self.interval)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


# --- what the running server keeps ---------------------------------------------------------


class WebSecurity:
    """The web configuration of a running server: reloaded when its files change, the TLS context
    swapped for new connections, basic auth checked with a cache, requests rate limited.

    A reload that fails keeps the previous configuration (and says so in the log). Settings a
    listener cannot change while it runs (TLS on or off, client_auth_type, TLS versions, cipher
    suites, curves) are refused on reload with an error: restart to change them.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        api_token: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_token = api_token
        self._clock = clock
        self.config = load_web_config(path) if path is not None else WebConfig()
        self._context = (
            build_ssl_context(self.config.tls, str(self.config.path))
            if self.config.tls is not None
            else None
        )
        self._server_context = self._context
        if self._context is not None:
            self._context.sni_callback = self._on_handshake
        self._signature = self._stat()
        self._checked = clock()
        self._limiter = self._make_limiter(self.config)
        self.basic = BasicAuthChecker()
        self.reloads = 0

    # -- what is configured --
    @property
    def tls(self) -> bool:
        return self._server_context is not None

    @property
    def verifies_client_certs(self) -> bool:
        return self.config.tls is not None and self.config.tls.verifies_clients

    @property
    def authentication(self) -> bool:
        """Any way for a caller to prove who it is: basic auth users, client certificates, token."""
        return bool(self.config.users) or self.verifies_client_certs or bool(self.api_token)

    def server_ssl_context(self) -> ssl.SSLContext | None:
        """The listener's context (None: plain HTTP); new connections get the newest certificate."""
        return self._server_context

    def describe(self) -> list[str]:
        return self.config.describe()

    # -- reloading --
    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        found = []
        for path in self.config.files():
            try:
                st = path.stat()
                found.append((str(path), st.st_mtime_ns, st.st_size))
            except OSError:
                found.append((str(path), -1, -1))
        return tuple(found)

    def refresh(self) -> WebConfig:
        """The current configuration, reloaded first if a file changed (looked at once a second)."""
        if self.config.path is None:
            return self.config
        now = self._clock()
        if now - self._checked < RELOAD_CHECK_SECONDS:
            return self.config
        self._checked = now
        signature = self._stat()
        if signature != self._signature:
            self._signature = signature  # a failed attempt is retried when the files change again
            self._reload()
        return self.config

    def _reload(self) -> None:
        assert self.config.path is not None
        try:
            new = load_web_config(self.config.path)
        except ConfigError as exc:
            log.error("web config not reloaded, the previous one stays in force: %s", exc)
            return
        old_tls, new_tls = self.config.tls, new.tls
        if (old_tls is None) != (new_tls is None) or (
            old_tls is not None
            and new_tls is not None
            and old_tls.restart_fields() != new_tls.restart_fields()
        ):
            log.error(
                "web config %s: turning TLS on or off, client_auth_type, TLS versions, cipher "
                "suites and curves change only at a restart; the previous web config stays in force",
                self.config.path,
            )
            return
        if new_tls is not None:
            try:
                context = build_ssl_context(new_tls, str(new.path))
            except ConfigError as exc:
                log.error("web config not reloaded, the previous one stays in force: %s", exc)
                return
            self._context = context
        if (new.rate_interval, new.rate_burst) != (
            self.config.rate_interval,
            self.config.rate_burst,
        ):
            self._limiter = self._make_limiter(new)
        self.config = new
        self._signature = self._stat()  # files the new config names
        self.reloads += 1
        log.info("web config %s reloaded: %s", new.path, "; ".join(new.describe()))

    def _on_handshake(self, sslobj: ssl.SSLObject, server_name: str | None, ctx: Any) -> None:
        """Called by OpenSSL at every handshake (with or without SNI): hand out the newest cert."""
        try:
            self.refresh()
            if self._context is not None and self._context is not ctx:
                sslobj.context = self._context
        except Exception:  # never let a reload problem break the handshake machinery
            log.exception("web config: could not refresh the TLS certificate")
        return None

    @staticmethod
    def _make_limiter(config: WebConfig) -> RateLimiter | None:
        if config.rate_interval <= 0:
            return None
        return RateLimiter(config.rate_interval, config.rate_burst)

    # -- per request --
    def rate_limited(self) -> bool:
        return self._limiter is not None and not self._limiter.allow()

    def token_matches(self, header: str) -> bool:
        """`Authorization: Bearer <api_token>`; the header must be ASCII (the caller checks)."""
        if not self.api_token:
            return False
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode("ascii", "replace"), self.api_token.encode()
        )

    async def basic_user(self, header: str) -> str | None:
        """The basic-auth user name when the header carries a valid user and password."""
        users = self.config.users
        if not users:
            return None
        parsed = parse_basic(header)
        if parsed is None:
            return None
        user, password = parsed
        return user if await self.basic.check(users, user, password) else None

    def sans_allowed(self, peercert: Mapping[str, Any] | None) -> bool:
        tls = self.config.tls
        if tls is None or not tls.client_allowed_sans:
            return True
        allowed = {_normal_san(s) for s in tls.client_allowed_sans}
        return bool(peer_sans(peercert) & allowed)
