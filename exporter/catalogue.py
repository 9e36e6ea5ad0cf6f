"""How a metric family is declared: name, type, unit, HELP and labels, as data.

Every family Vigil exposes is declared once with these helpers: the self-metrics in
`exporter/metrics.py`, each source's families in `exporter/sources/<name>/metrics.py`. The live
registry, the `/probe` answer, the backfill writer and the docs test all read the declarations, so a
name, HELP text or label set can differ nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram"]
Endpoint = Literal["metrics", "probe"]


@dataclass(frozen=True)
class FamilySpec:
    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""  # base unit in the name's suffix: seconds, bytes, ratio, pixels; "" for none
    buckets: tuple[float, ...] = ()  # histograms only
    endpoint: Endpoint = "metrics"  # "probe": only in a /probe answer, never on /metrics

    def __post_init__(self) -> None:
        if not self.name.startswith("vigil_"):
            raise ValueError(f"{self.name}: every family name starts with vigil_")
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name} must end in _total")
        if self.unit and self.unit not in self.name:
            raise ValueError(f"{self.name}: the unit {self.unit!r} belongs in the name")
        if (self.type == "histogram") != bool(self.buckets):
            raise ValueError(f"{self.name}: buckets are for histograms, and histograms need them")


def _unit(name: str) -> str:
    for unit in ("seconds", "bytes", "ratio", "pixels"):
        if name.endswith(f"_{unit}") or f"_{unit}_" in name:
            return unit
    return ""


def gauge(
    name: str, help: str, labels: tuple[str, ...] = (), *, endpoint: Endpoint = "metrics"
) -> FamilySpec:
    return FamilySpec(name, "gauge", help, tuple(labels), _unit(name), endpoint=endpoint)


def counter(name: str, help: str, labels: tuple[str, ...] = ()) -> FamilySpec:
    return FamilySpec(name, "counter", help, tuple(labels), _unit(name.removesuffix("_total")))


def histogram(
    name: str, help: str, labels: tuple[str, ...], buckets: tuple[float, ...]
) -> FamilySpec:
    return FamilySpec(name, "histogram", help, tuple(labels), _unit(name), tuple(buckets))
