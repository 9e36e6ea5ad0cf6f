"""The `p4:` section: Perforce servers whose stream sizes are measured."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from exporter.configkit import Duration, interval_range, timeout_range


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
    interval: Annotated[Duration, interval_range] = 6 * 3600.0
    timeout: Annotated[Duration, timeout_range] = 300.0
    include_virtual: bool = False
    exclude_lazy: bool = False  # p4 sizes -z: leave lazy copies out


@dataclasses.dataclass(frozen=True, kw_only=True)
class P4Config:
    servers: list[P4ServerConfig] = dataclasses.field(default_factory=list)
