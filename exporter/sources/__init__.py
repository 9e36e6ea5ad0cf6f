"""Every source Vigil knows. Adding one: a folder here with `PLUGIN`, and its name below."""

from __future__ import annotations

import functools
import importlib

from exporter.sources.contract import SourcePlugin

SOURCE_NAMES = ("rt_api", "network", "frames", "p4")


@functools.cache
def plugins() -> tuple[SourcePlugin, ...]:
    found = []
    for name in SOURCE_NAMES:
        plugin = importlib.import_module(f"exporter.sources.{name}").PLUGIN
        if plugin.name != name:
            raise ValueError(f"exporter/sources/{name} declares the source {plugin.name!r}")
        found.append(plugin)
    return tuple(found)
