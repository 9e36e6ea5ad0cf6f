"""Prometheus text exposition (format 0.0.4) built for large fleets.

prometheus_client's `generate_latest` re-formats every sample on every scrape: about 1.3 s for the
200,000 samples of 10,000 cameras on our 2-core machine (docs/performance.md). Here series are grouped
in partitions (one per camera, or one per source snapshot) so a source can replace or drop everything it
owns in one step and a scrape never sees half an update; a partition's text is formatted and encoded
once, when the source stores it, and kept as the only copy of its series; a scrape joins those texts
into one body, which is kept until something changes.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence

from exporter.catalogue import FamilySpec, MetricType

Key = tuple[str, ...]


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
    """One metric family: name, help, type, label names, and its current series.

    A partition holds either the encoded text of its lines (after `replace`, the bulk path: an RT
    camera's archive series, an inventory family) or, once a caller sets, increments or removes single
    series in it, a dict of its series whose text is formatted again at the next render. Keeping bulk
    partitions as text only (no per-series key tuple, float and line string) is what brings a
    25,000-camera shard's exposition from 635 to about 100 bytes per series (docs/performance.md).
    """

    def __init__(
        self, name: str, help: str, type: MetricType, labelnames: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.help = help
        self.type = type
        self.labelnames = tuple(labelnames)
        self._parts: dict[str, bytes | dict[Key, float]] = {}
        self._dict_text: dict[str, bytes] = {}  # formatted text of dict partitions, until changed
        self._dicts: set[str] = set()  # partitions held as dicts
        self._text_size = 0  # bytes of text in the text partitions
        self.version = 0
        self._header = family_header(name, help, type).encode()
        if self.labelnames:
            self._template = (
                name + "{{" + ",".join(f'{n}="{{}}"' for n in self.labelnames) + "}} {}\n"
            )
            self._prefix_template = self._template.rsplit(" ", 1)[0] + " "
        else:
            self._template = name + " {}\n"
            self._prefix_template = name + " "
        # a label value as escape_label_value writes it (the loop unrolled: 2x quicker than an
        # alternation per character)
        value = r'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"'
        pairs = ",".join(re.escape(n) + "=" + value for n in self.labelnames)
        labels = r"\{" + pairs + r"\}" if self.labelnames else ""
        self._line_pattern = re.compile("^" + re.escape(name) + labels + r" (\S+)\n", re.M)

    # -- writing ---------------------------------------------------------------------------------
    def _check(self, key: Key) -> None:
        if len(key) != len(self.labelnames):
            raise ValueError(
                f"{self.name}: expected labels {self.labelnames}, got {len(key)} values"
            )

    def _text(self, series: Iterable[tuple[Sequence[str], float]]) -> bytes:
        template = self._template.format
        width = len(self.labelnames)
        lines = []
        for labels, value in series:
            if len(labels) != width:
                self._check(tuple(labels))
            lines.append(template(*map(escape_label_value, labels), format_value(value)))
        return "".join(lines).encode()

    def _series(self, partition: str) -> dict[Key, float]:
        """The partition as a dict of series (parsed from its text when it only has text)."""
        part = self._parts.get(partition)
        if part is None:
            part = self._parts[partition] = {}
            self._dicts.add(partition)
        elif isinstance(part, bytes):
            self._text_size -= len(part)
            part = self._parts[partition] = dict(self._parse(part))
            self._dicts.add(partition)
        return part

    def _changed(self, partition: str) -> None:
        self._dict_text.pop(partition, None)
        self.version += 1

    def set(self, labelvalues: Sequence[str], value: float, partition: str = "") -> None:
        key = tuple(labelvalues)
        self._check(key)
        part = self._series(partition)
        old = part.get(key)
        if old is not None and (old == value or (old != old and value != value)):
            return
        part[key] = value
        self._changed(partition)

    def inc(self, labelvalues: Sequence[str], amount: float = 1.0, partition: str = "") -> None:
        key = tuple(labelvalues)
        self.set(key, self._series(partition).get(key, 0.0) + amount, partition)

    def replace(self, samples: Iterable[tuple[Sequence[str], float]], partition: str = "") -> None:
        """Make `samples` the complete content of `partition` (absent series disappear).

        The partition's text is formatted here, once per update, so a scrape only joins texts.
        """
        text = self._text(samples)
        old = self._parts.get(partition)
        if isinstance(old, bytes):
            if old == text:
                return
            self._text_size -= len(old)
        elif old is not None:
            self._dicts.discard(partition)
        self._parts[partition] = text
        self._text_size += len(text)
        self._changed(partition)

    def remove(self, labelvalues: Sequence[str], partition: str = "") -> None:
        if partition not in self._parts:
            return
        if self._series(partition).pop(tuple(labelvalues), None) is not None:
            self._changed(partition)

    def drop(self, partition: str) -> None:
        old = self._parts.pop(partition, None)
        if old is not None:
            if isinstance(old, bytes):
                self._text_size -= len(old)
            self._dicts.discard(partition)
            self._changed(partition)

    def partitions(self) -> list[str]:
        return list(self._parts)

    # -- reading ---------------------------------------------------------------------------------
    def _parse(self, text: bytes) -> list[tuple[Key, float]]:
        """Read back the series of partition texts (the inverse of `_text`) in one regex pass:
        150,000 archive series in about 0.2 s, so a status page can afford it."""
        decoded = text.decode()
        found = self._line_pattern.findall(decoded)
        width = len(self.labelnames)
        if not width:
            return [((), float(v)) for v in found]
        if "\\" in decoded:  # some label value was escaped
            found = [tuple(_unescape(v) if "\\" in v else v for v in g) for g in found]
        return [(g[:width], float(g[width])) for g in found]  # float() reads NaN, +Inf, -Inf

    def get(self, labelvalues: Sequence[str], partition: str | None = None) -> float | None:
        """The series' value, looked up in `partition`, or in every partition when None."""
        key = tuple(labelvalues)
        names = self._parts if partition is None else [partition]
        for name in names:
            part = self._parts.get(name)
            if isinstance(part, bytes):
                value = self._find(part, key)
                if value is not None:
                    return value
            elif part is not None and key in part:
                return part[key]
        return None

    def _find(self, text: bytes, key: Key) -> float | None:
        if len(key) != len(self.labelnames):
            return None
        prefix = self._prefix_template.format(*map(escape_label_value, key)).encode()
        at = text.find(prefix)
        while at > 0 and text[at - 1] != 0x0A:  # only a match at the start of a line counts
            at = text.find(prefix, at + 1)
        if at < 0:
            return None
        end = text.find(b"\n", at)
        return _parse_value(text[at + len(prefix) : end].decode())

    def samples(self, partition: str | None = None) -> list[tuple[Key, float]]:
        """Every series (of one partition, or of all) with its value."""
        names = list(self._parts) if partition is None else [partition]
        out: list[tuple[Key, float]] = []
        texts: list[bytes] = []  # consecutive text partitions, parsed in one go
        for name in names:
            part = self._parts.get(name)
            if isinstance(part, bytes):
                texts.append(part)
            elif part is not None:
                out.extend(self._parse(b"".join(texts)))
                texts = []
                out.extend(part.items())
        out.extend(self._parse(b"".join(texts)))
        return out

    def __len__(self) -> int:
        return sum(p.count(b"\n") if isinstance(p, bytes) else len(p) for p in self._parts.values())

    def chunks(self) -> list[bytes]:
        """The family's text in pieces (header first), nothing when it has no series."""
        if not self._dicts:  # the bulk case, without a Python loop over 25,000 partitions
            return [self._header, *self._parts.values()] if self._text_size else []  # type: ignore[list-item]
        out = [self._header]
        for name, part in self._parts.items():
            if isinstance(part, dict):
                text = self._dict_text.get(name)
                if text is None:
                    text = self._dict_text[name] = self._text(part.items())
                part = text
            if part:
                out.append(part)
        return out if len(out) > 1 else []

    def render(self) -> bytes:
        return b"".join(self.chunks())


def _parse_value(text: str) -> float:
    return float(text)  # float() reads NaN, +Inf and -Inf as format_value writes them


def _unescape(value: str) -> str:
    """The inverse of escape_label_value."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value, flags=re.S)


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

    def chunks(self) -> list[bytes]:
        text = self.render()
        return [text] if text else []

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
        self._body_generation = -1
        self._versions: tuple[int, ...] = ()
        self._generation = 0

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

    @property
    def generation(self) -> int:
        """A number that changes when any family changed since it was last read: what a cache of
        something made from the body (its gzip) is keyed by. Reading it costs no render."""
        versions = tuple(f.version for f in self._families.values())
        if versions != self._versions:
            self._versions = versions
            self._generation += 1
            self._body = None
        return self._generation

    def render(self) -> bytes:
        generation = self.generation
        if self._body is None or self._body_generation != generation:
            self._body = None  # the old body goes before the new one is joined: one at a time
            families = self._families.values()
            self._body = b"".join(itertools.chain.from_iterable(f.chunks() for f in families))
            self._body_generation = generation
        return self._body

    def release(self) -> None:
        """Forget the joined body (the next render joins it again): for a caller that keeps what
        it made of the body instead, as the web layer keeps its gzip. A 25,000-camera shard's body
        is 130 MB; kept, it would sit beside the partitions being republished by the next cycle."""
        self._body = None
