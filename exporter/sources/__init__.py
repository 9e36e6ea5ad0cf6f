"""Every source Vigil knows. Adding one: a folder here with `PLUGIN`, and its name below."""

from __future__ import annotations

import functools
import importlib

from exporter.catalogue import FamilySpec
from exporter.metrics import SELF_FAMILIES
from exporter.sources.contract import SourcePlugin

SOURCE_NAMES = ("rt_api", "network", "frames", "p4", "analytics")


@functools.cache
def plugins() -> tuple[SourcePlugin, ...]:
    found = []
    for name in SOURCE_NAMES:
        plugin = importlib.import_module(f"exporter.sources.{name}").PLUGIN
        if plugin.name != name:
            raise ValueError(f"exporter/sources/{name} declares the source {plugin.name!r}")
        found.append(plugin)
    return tuple(found)


def catalogue() -> tuple[FamilySpec, ...]:
    """Every family Vigil exposes: the self-metrics, then each registered source's."""
    families = list(SELF_FAMILIES)
    for plugin in plugins():
        families.extend(plugin.families)
    names = [f.name for f in families]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"metric families declared twice: {sorted(duplicates)}")
    return tuple(families)
