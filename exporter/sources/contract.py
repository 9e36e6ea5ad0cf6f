"""The one shape every source has (docs/design.md, "How to add a source").

A source is a folder under `exporter/sources/` whose `__init__.py` exposes `PLUGIN`, a `SourcePlugin`:
its name, its config section (a dataclass), its metric families and a `build` function. The service
builds every source whose section is configured and hands it a `SourceContext`; the source declares its
`checks()`. A check with `run` is run by the scheduler on its interval; a check without `run` is driven
by the source itself (a timer heap of per-camera probes, a stream consumer) and reports each outcome
through the `CheckRecorder` the context gives it. Either way duration, success, last success, error
counts by reason and `vigil_source_up` are recorded in one place, the same way for every source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from exporter.catalogue import FamilySpec
from exporter.recorder import Check, CheckRecorder, Recorder
from exporter.sharding import Shard

if TYPE_CHECKING:
    import aiohttp

    from exporter.metrics import Metrics
    from exporter.targets import TargetStore

__all__ = ["Check", "Source", "SourceContext", "SourcePlugin"]


class Source(ABC):
    """A running source. Commands for the web layer are its other public methods."""

    name: str

    @abstractmethod
    def checks(self) -> Sequence[Check]:
        """The checks this source runs; called once, before `start()`."""

    async def start(self) -> None:  # noqa: B027 - a source without own tasks has nothing to start
        """Start what the source drives itself; checks with `run` are started by the scheduler."""

    async def stop(self) -> None:  # noqa: B027
        """Stop everything `start()` started and release connections; bounded in time."""

    def status_lines(self) -> list[str]:
        """Plain-text lines for the status page's summary (no HTML, no secrets)."""
        return []


@dataclass
class SourceContext:
    """What the service gives every source: nothing here belongs to another source."""

    metrics: Metrics
    recorder: Recorder
    session: aiohttp.ClientSession
    clock: Callable[[], float]
    tz: ZoneInfo
    targets: TargetStore | None  # cameras of the `cameras` section and the registration API
    publish_result: Callable[[dict], None]  # live results (the web layer's /ws/results)
    options: Mapping[str, Any] = field(default_factory=dict)  # test hooks, e.g. p4_factory
    # which per-camera (per-server, per-platform) work is this exporter's: `shard.owns(key)`
    shard: Shard = field(default_factory=Shard)

    def check_recorder(self, source: str, check: Check) -> CheckRecorder:
        """The recorder of a check the source drives itself."""
        return self.recorder.add(source, check)


@dataclass(frozen=True)
class SourcePlugin:
    """How the service finds, configures and builds a source."""

    name: str  # the `source` label
    section: str  # its key in vigil.yml
    config_type: type  # the section's dataclass (exporter/configkit.py builds it from YAML)
    families: tuple[FamilySpec, ...]
    build: Callable[[SourceContext, Any], Source]  # (context, the whole Config)
    validate: Callable[[Any], None] = lambda config: None  # cross-key checks; raise ConfigError
    doc: str = ""  # one line for `vigil check-config`
    # (section, directory of vigil.yml, environment) -> the section with the files it names read
    # in (e.g. p4.servers_file); run once when the config is parsed
    expand: Callable[[Any, Path | None, Mapping[str, str] | None], Any] | None = None
    # (whole Config) -> lines `vigil check-config` prints under the source (how keys were read)
    describe: Callable[[Any], list[str]] = lambda config: []
