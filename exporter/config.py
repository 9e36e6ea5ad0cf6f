"""``vigil.yml`` as one frozen ``Config``: the exporter's own keys plus one section per source.

Each source declares its section's dataclass in its own folder (``SourcePlugin.config_type``); the
``Config`` class is assembled from them here, so adding a source adds its section without edits to
this file. The loading machinery (secrets, durations, validators, line numbers in errors) lives in
``exporter/configkit.py`` and is re-exported here for callers that only want "the config".
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from exporter.configkit import (
    ConfigError,
    Duration,
    Secret,
    _Loader,
    at_least,
    between,
    format_duration,
    http_url,
    listen_address,
    one_of,
    parse_duration,
    parse_yaml,
    positive,
    read_config_text,
    split_listen,
    summarize,
    timezone_name,
)
from exporter.logs import LOG_FORMATS
from exporter.sources import plugins

__all__ = [
    "Config",
    "ConfigError",
    "Duration",
    "LinksConfig",
    "Secret",
    "ShardConfig",
    "_Loader",
    "at_least",
    "between",
    "format_duration",
    "http_url",
    "load_config",
    "one_of",
    "parse_config",
    "parse_duration",
    "positive",
    "summarize",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardConfig:
    """This exporter's share of the work when several replicas split it (docs/design.md)."""

    index: Annotated[int, at_least(0)] = 0
    count: Annotated[int, at_least(1)] = 1


def _no_credentials(value: str) -> str:
    """A URL shown on a page: no user or password in it (it would be shown to every visitor)."""
    if "@" in value.split("://", 1)[-1].split("/", 1)[0]:
        raise ValueError("must not carry a user or password: it is shown on the status page")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinksConfig:
    """Where the status page links to: the Prometheus and Grafana its users open."""

    prometheus: Annotated[str, http_url, _no_credentials] | None = None
    grafana: Annotated[str, http_url, _no_credentials] | None = None

    def urls(self) -> dict[str, str]:
        return {k: v for k, v in (("prometheus", self.prometheus), ("grafana", self.grafana)) if v}


class _ConfigBase:
    listen: str
    timezone: str

    @property
    def listen_host(self) -> str:
        """Host without IPv6 brackets, ready for a socket bind."""
        return split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        return split_listen(self.listen)[1]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _make_config() -> type:
    own: list[tuple[str, Any, Any]] = [
        ("listen", Annotated[str, listen_address], dataclasses.field(default="0.0.0.0:9830")),
        ("timezone", Annotated[str, timezone_name], dataclasses.field(default="Europe/Moscow")),
        (
            "log_level",
            Annotated[str, one_of("debug", "info", "warning", "error")],
            dataclasses.field(default="info"),
        ),
        # text: one readable line; logfmt or json for a log pipeline (--log.format)
        ("log_format", Annotated[str, one_of(*LOG_FORMATS)], dataclasses.field(default="text")),
    ]
    # one optional section per source; None (absent) means the source is off
    sections = [
        (p.section, p.config_type | None, dataclasses.field(default=None)) for p in plugins()
    ]
    # bearer token for the calls that change something; None: the API is read-only
    token = [("api_token", Secret | None, dataclasses.field(default=None))]
    # None: one shard, all the work here
    token.append(("shard", ShardConfig | None, dataclasses.field(default=None)))
    # the exporter-toolkit's web config (TLS, basic auth); None: plain HTTP, no web auth
    token.append(("web_config_file", str | None, dataclasses.field(default=None)))
    # the status page's links to Prometheus and Grafana; None: no such links
    token.append(("links", LinksConfig | None, dataclasses.field(default=None)))
    return dataclasses.make_dataclass(
        "Config", own + sections + token, bases=(_ConfigBase,), frozen=True, kw_only=True
    )


Config: Any = _make_config()
Config.__module__ = __name__
Config.__doc__ = "The whole vigil.yml: the exporter's own keys and one section per source."


def parse_config(
    text: str,
    source_name: str = "vigil.yml",
    env: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """Parse config text. Relative ``*_file`` paths resolve against ``base_dir`` (else cwd).
    Checks across keys (the sources' own, shards) run too, their errors with this file's lines."""
    base = Path(base_dir) if base_dir is not None else None

    def finish(config: Any) -> Any:
        config = expand_files(config, base, env)
        check_across_keys(config)
        return config

    return parse_yaml(text, Config, source_name, env, base_dir, check=finish)


def expand_files(config: Any, base_dir: Path | None, env: Mapping[str, str] | None) -> Any:
    """The config with the files its sections name read in (relative to vigil.yml's folder)."""
    for plugin in plugins():
        section = getattr(config, plugin.section)
        if section is not None and plugin.expand is not None:
            config = dataclasses.replace(
                config, **{plugin.section: plugin.expand(section, base_dir, env)}
            )
    return config


def check_across_keys(config: Any) -> None:
    """What the loader cannot check key by key; raises ConfigError naming the key."""
    if config.shard is not None and config.shard.index >= config.shard.count:
        raise ConfigError(
            f"index {config.shard.index} is not below count {config.shard.count}", key="shard.index"
        )
    for plugin in plugins():
        if getattr(config, plugin.section) is not None:
            plugin.validate(config)


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Any:
    """Load and validate a config file; relative ``*_file`` paths resolve next to it."""
    return parse_config(read_config_text(path), str(path), env, Path(path).parent)
