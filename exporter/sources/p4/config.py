"""The `p4:` section: Perforce servers whose stream sizes are measured."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from exporter.configkit import Duration, interval_range, timeout_range


def stream_path_pattern(value: str) -> str:
    """A stream path pattern as `p4 streams` takes it: //depot/name, with * and ... wildcards.
    The old monitor's bare name pattern (`*role*`) would silently match no stream: refused."""
    depot = value[2:].split("/", 1)[0] if value.startswith("//") else ""
    if not depot or "/" not in value[2:]:
        example = value.strip("/") or "*"
        raise ValueError(
            f"must be a stream path pattern //DEPOT/NAME, e.g. //depot/{example} "
            f"(got {value!r}: a name pattern without its depot matches no stream)"
        )
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class P4ServerConfig:
    """One Perforce server whose stream sizes are measured."""

    name: str
    p4port: str  # e.g. ssl:p4.example.net:1666
    p4user: str
    stream_mask: Annotated[str, stream_path_pattern]  # such as //depot/*role*
    charset: str | None = None
    ticket_file: str | None = None  # P4TICKETS file `vigil p4-login` writes and the checks use
    password_env: str | None = None  # name of the environment variable holding the password
    interval: Annotated[Duration, interval_range] = 6 * 3600.0
    timeout: Annotated[Duration, timeout_range] = 300.0
    include_virtual: bool = False
    exclude_lazy: bool = False  # p4 sizes -z: leave lazy copies out


@dataclasses.dataclass(frozen=True, kw_only=True)
class P4Config:
    servers: list[P4ServerConfig] = dataclasses.field(default_factory=list)
