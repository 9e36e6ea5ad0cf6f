"""Prometheus text exposition (format 0.0.4) built for large fleets.

prometheus_client's `generate_latest` re-formats every sample on every scrape: about 1.3 s for the
200,000 samples of 10,000 cameras on our 2-core machine (docs/performance.md). Here each sample's line
is formatted once, when a probe stores the value, and kept; a scrape only joins the cached text of the
families that changed. Series are grouped in partitions (one per camera, or one per source snapshot) so a
source can replace or drop everything it owns in one step and a scrape never sees half an update.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from exporter.catalogue import FamilySpec, MetricType


def escape_label_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def format_value(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def family_header(name: str, help: str, type: str) -> str:
    """The HELP and TYPE lines of a family (also what the backfill's OpenMetrics file carries)."""
    return f"# HELP {name} {_escape_help(help)}\n# TYPE {name} {type}\n"


class Family:
    """One metric family: name, help, type, label names, and its current series."""

    def __init__(
        self, name: str, help: str, type: MetricType, labelnames: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.help = help
        self.type = type
        self.labelnames = tuple(labelnames)
        self._parts: dict[str, dict[tuple[str, ...], tuple[float, str]]] = {}
        self._part_text: dict[str, str] = {}
        self._text: bytes | None = None
        self.version = 0
        self._header = family_header(name, help, type)

    # -- writing ---------------------------------------------------------------------------------
    def _line(self, labelvalues: tuple[str, ...], value: float) -> str:
        if len(labelvalues) != len(self.labelnames):
            raise ValueError(
                f"{self.name}: expected labels {self.labelnames}, got {len(labelvalues)} values"
            )
        if labelvalues:
            pairs = ",".join(
                f'{n}="{escape_label_value(v)}"'
                for n, v in zip(self.labelnames, labelvalues, strict=True)
            )
            return f"{self.name}{{{pairs}}} {format_value(value)}\n"
        return f"{self.name} {format_value(value)}\n"

    def _changed(self, partition: str) -> None:
        self._part_text.pop(partition, None)
        self._text = None
        self.version += 1

    def set(self, labelvalues: Sequence[str], value: float, partition: str = "") -> None:
        key = tuple(labelvalues)
        part = self._parts.setdefault(partition, {})
        old = part.get(key)
        if old is not None and old[0] == value:
            return
        part[key] = (value, self._line(key, value))
        self._changed(partition)

    def inc(self, labelvalues: Sequence[str], amount: float = 1.0, partition: str = "") -> None:
        key = tuple(labelvalues)
        old = self._parts.get(partition, {}).get(key)
        self.set(key, (old[0] if old else 0.0) + amount, partition)

    def replace(self, samples: Iterable[tuple[Sequence[str], float]], partition: str = "") -> None:
        """Make `samples` the complete content of `partition` (absent series disappear).

        A series whose value did not change keeps its formatted line: re-publishing a 10,000-camera
        inventory where little changed costs dictionary lookups, not 90,000 formatted lines.
        """
        old = self._parts.get(partition, {})
        new: dict[tuple[str, ...], tuple[float, str]] = {}
        for labels, value in samples:
            key = tuple(labels)
            entry = old.get(key)
            new[key] = (
                entry
                if entry is not None and entry[0] == value
                else (value, self._line(key, value))
            )
        self._parts[partition] = new
        self._changed(partition)

    def remove(self, labelvalues: Sequence[str], partition: str = "") -> None:
        part = self._parts.get(partition)
        if part is not None and part.pop(tuple(labelvalues), None) is not None:
            self._changed(partition)

    def drop(self, partition: str) -> None:
        if self._parts.pop(partition, None) is not None:
            self._changed(partition)

    def partitions(self) -> list[str]:
        return list(self._parts)

    # -- reading ---------------------------------------------------------------------------------
    def get(self, labelvalues: Sequence[str], partition: str | None = None) -> float | None:
        """The series' value, looked up in `partition`, or in every partition when None."""
        key = tuple(labelvalues)
        parts = self._parts.values() if partition is None else [self._parts.get(partition, {})]
        for part in parts:
            entry = part.get(key)
            if entry is not None:
                return entry[0]
        return None

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        return [(k, v[0]) for part in self._parts.values() for k, v in part.items()]

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts.values())

    def render(self) -> bytes:
        if self._text is None:
            texts = []
            for name, part in self._parts.items():
                text = self._part_text.get(name)
                if text is None:
                    text = "".join([entry[1] for entry in part.values()])
                    self._part_text[name] = text
                texts.append(text)
            body = "".join(texts)
            self._text = (self._header + body).encode() if body else b""
        return self._text


DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    """A histogram family with cumulative buckets; small cardinality, rendered on demand."""

    type = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], list[float]] = {}
        self._text: bytes | None = None
        self.version = 0

    def touch(self, labelvalues: Sequence[str]) -> None:
        """Create a series with no observations yet (it is exposed with zero counts)."""
        key = tuple(labelvalues)
        if len(key) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}")
        if key not in self._series:
            self._series[key] = [0.0] * (len(self.buckets) + 2)
            self._text = None
            self.version += 1

    def observe(self, labelvalues: Sequence[str], value: float) -> None:
        key = tuple(labelvalues)
        if len(key) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}")
        counts = self._series.get(key)
        if counts is None:
            counts = self._series[key] = [0.0] * (len(self.buckets) + 2)  # buckets, sum, count
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        counts[-2] += value
        counts[-1] += 1
        self._text = None
        self.version += 1

    def count(self, labelvalues: Sequence[str]) -> float:
        counts = self._series.get(tuple(labelvalues))
        return counts[-1] if counts else 0.0

    def __len__(self) -> int:
        return len(self._series)

    def render(self) -> bytes:
        if self._text is None:
            if not self._series:
                self._text = b""
                return self._text
            out = [family_header(self.name, self.help, "histogram")]
            for key, counts in self._series.items():
                base = ",".join(
                    f'{n}="{escape_label_value(v)}"'
                    for n, v in zip(self.labelnames, key, strict=True)
                )
                sep = "," if base else ""
                for bound, c in zip(self.buckets, counts, strict=False):
                    le = format_value(bound) if bound != int(bound) else f"{bound:.1f}"
                    out.append(f'{self.name}_bucket{{{base}{sep}le="{le}"}} {format_value(c)}\n')
                total = format_value(counts[-1])
                out.append(f'{self.name}_bucket{{{base}{sep}le="+Inf"}} {total}\n')
                labels = f"{{{base}}}" if base else ""
                out.append(f"{self.name}_sum{labels} {format_value(counts[-2])}\n")
                out.append(f"{self.name}_count{labels} {total}\n")
            self._text = "".join(out).encode()
        return self._text


class Registry:
    """The ordered set of families one exporter exposes; caches the whole body between changes."""

    def __init__(self) -> None:
        self._families: dict[str, Family | Histogram] = {}
        self._body: bytes | None = None
        self._versions: tuple[int, ...] = ()

    def register(self, family: Family | Histogram) -> Family | Histogram:
        if family.name in self._families:
            raise ValueError(f"metric {family.name} registered twice")
        self._families[family.name] = family
        self._body = None
        return family

    def add(self, spec: FamilySpec) -> Family | Histogram:
        """Register the family a catalogue entry declares."""
        if spec.type == "histogram":
            return self.register(Histogram(spec.name, spec.help, spec.labels, spec.buckets))
        return self.register(Family(spec.name, spec.help, spec.type, spec.labels))

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Family:
        return self.register(Family(name, help, "gauge", labelnames))  # type: ignore[return-value]

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Family:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        return self.register(Family(name, help, "counter", labelnames))  # type: ignore[return-value]

    def histogram(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        return self.register(Histogram(name, help, labelnames, buckets))  # type: ignore[return-value]

    def families(self) -> list[Family | Histogram]:
        return list(self._families.values())

    def __getitem__(self, name: str) -> Family | Histogram:
        return self._families[name]

    def __contains__(self, name: object) -> bool:
        return name in self._families

    def render(self) -> bytes:
        families = self._families.values()
        versions = tuple(f.version for f in families)
        if self._body is None or versions != self._versions:
            self._body = b"".join([f.render() for f in families])
            self._versions = versions
        return self._body
