"""The `p4:` section: Perforce servers whose stream sizes are measured.

Servers are listed under `servers`, or read from the old P4 Stream Monitor's `config/servers.yaml`
as it is (`servers_file`), or both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from exporter.configkit import (
    ConfigError,
    Duration,
    Secret,
    interval_range,
    parse_yaml,
    read_config_text,
    timeout_range,
)


def stream_mask(value: str) -> str:
    """A stream mask in one of two forms:

    * a name pattern (no leading `//`), e.g. `*role*`: the server filters the streams with
      `p4 streams -F "Name=<mask>"`, exactly as the old P4 Stream Monitor did;
    * a stream path pattern `//DEPOT/NAME` with `*` and `...` wildcards, e.g. `//depot/*`.
    """
    if not value.strip():
        raise ValueError("must not be empty: a name pattern like *role* or a path like //depot/*")
    if value.startswith("//"):
        depot = value[2:].split("/", 1)[0]
        if not depot or "/" not in value[2:]:
            raise ValueError(
                f"a stream path pattern is //DEPOT/NAME, e.g. //depot/* (got {value!r}); "
                "without the leading // the mask is a pattern on the stream's name"
            )
    elif value.startswith("/"):
        raise ValueError(
            f"starts with a single '/' (got {value!r}): write //DEPOT/NAME for a path pattern, "
            "or a name pattern like *role* without slashes"
        )
    return value


def mask_form(mask: str) -> str:
    """How a mask is read, in words (check-config prints it)."""
    if mask.startswith("//"):
        return f"stream path pattern: p4 streams {mask}"
    return f'stream name pattern, filtered by the server: p4 streams -F "Name={mask}"'


@dataclasses.dataclass(frozen=True, kw_only=True)
class P4ServerConfig:
    """One Perforce server whose stream sizes are measured."""

    name: str
    p4port: str  # e.g. ssl:p4.example.net:1666
    p4user: str
    stream_mask: Annotated[str, stream_mask]  # *role* (by name) or //depot/*role* (by path)
    charset: str | None = None
    ticket_file: str | None = None  # P4TICKETS file `vigil p4-login` writes and the checks use
    password_env: str | None = None  # name of the environment variable holding the password
    password: Secret | None = None  # or the password itself (`password_file`, `${VAR}`)
    interval: Annotated[Duration, interval_range] = 6 * 3600.0
    timeout: Annotated[Duration, timeout_range] = 300.0
    include_virtual: bool = True  # measured through their view, like any stream
    exclude_lazy: bool = False  # p4 sizes -z: leave lazy copies out
    measure_client: str | None = None  # the measuring workspace; default vigil_<host>


@dataclasses.dataclass(frozen=True, kw_only=True)
class P4Config:
    servers: list[P4ServerConfig] = dataclasses.field(default_factory=list)
    # the old P4 Stream Monitor's config/servers.yaml, read as it is (relative to vigil.yml)
    servers_file: str | None = None


# --- the old monitor's config/servers.yaml -------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class OldServer:
    """One server of the old monitor's file: its keys, unchanged (app/config_utils.py)."""

    name: str
    p4port: str
    p4user: str
    password: Secret | None = None  # tools/p4_auth.py logged in with it
    stream_mask: Annotated[str, stream_mask] = "*role*"  # the old monitor's default


@dataclasses.dataclass(frozen=True, kw_only=True)
class OldServersFile:
    servers: list[OldServer] = dataclasses.field(default_factory=list)


def read_servers_file(path: Path, env: Mapping[str, str] | None = None) -> list[P4ServerConfig]:
    """The servers of an old `servers.yaml`; a bad file is a ConfigError naming it and its line."""
    text = read_config_text(path)
    old = parse_yaml(text, OldServersFile, str(path), env)
    return [
        P4ServerConfig(
            name=s.name,
            p4port=s.p4port,
            p4user=s.p4user,
            stream_mask=s.stream_mask,
            password=s.password,
        )
        for s in old.servers
    ]


def expand(
    section: P4Config, base_dir: Path | None, env: Mapping[str, str] | None = None
) -> P4Config:
    """The section with `servers_file`'s servers appended (the path resolved next to vigil.yml)."""
    servers = list(section.servers)
    file = section.servers_file
    if file is not None:
        path = Path(file).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        servers.extend(read_servers_file(path, env))
        file = str(path)
    seen: set[str] = set()
    for i, server in enumerate(servers):
        if server.name in seen:
            raise ConfigError(
                f"two Perforce servers are named {server.name!r} (in servers and servers_file)",
                key=f"p4.servers[{i}].name" if i < len(section.servers) else "p4.servers_file",
            )
        seen.add(server.name)
    return dataclasses.replace(section, servers=servers, servers_file=file)
