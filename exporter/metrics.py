"""Vigil's own self-metrics, and `Metrics`, the live registry built from declared families.

Each source declares its families in `exporter/sources/<name>/metrics.py`;
`exporter.sources.catalogue()` gathers them behind these, in the order the sources are registered
(docs/metrics.md is checked against it by the test suite).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from exporter import __version__
from exporter.catalogue import FamilySpec, counter, gauge, histogram
from exporter.exposition import Family, Histogram, Registry

PROBE_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

BUILD_INFO = gauge("vigil_build_info", "Vigil build information; always 1.", ("version",))
SOURCE_UP = gauge(
    "vigil_source_up",
    "1 while the source's own machinery works (its API answers, its queue is readable, its "
    "analysis pool runs, it may send ICMP, it can log in); 0 when the latest run of one of its "
    "checks failed for such a reason. A camera that does not answer is a camera problem.",
    ("source", "instance"),
)
SOURCE_LAST_SUCCESS = gauge(
    "vigil_source_last_success_timestamp_seconds",
    "Unix time of the last successful run of a source's check.",
    ("source", "instance", "check"),
)
CHECK_INTERVAL = gauge(
    "vigil_source_check_interval_seconds",
    "Configured interval between runs of a source's check.",
    ("source", "check"),
)
PROBE_DURATION = histogram(
    "vigil_probe_duration_seconds",
    "Duration of one run of a source's check.",
    ("source", "check"),
    PROBE_DURATION_BUCKETS,
)
PROBE_ERRORS = counter(
    "vigil_probe_errors_total",
    "Failed attempts of a source's check by reason, retried attempts included.",
    ("source", "check", "reason"),
)

SHARD_INFO = gauge(
    "vigil_shard_info",
    "This exporter's shard: index of count (0 of 1 when the work is not split); always 1.",
    ("index", "count"),
)

SELF_FAMILIES = (
    BUILD_INFO,
    SHARD_INFO,
    SOURCE_UP,
    SOURCE_LAST_SUCCESS,
    CHECK_INTERVAL,
    PROBE_DURATION,
    PROBE_ERRORS,
)


class Metrics:
    """The exporter's live registry: every /metrics family of the catalogue, looked up by spec."""

    def __init__(self, families: tuple[FamilySpec, ...] = SELF_FAMILIES) -> None:
        self.registry = Registry()
        # process_* (CPU, resident memory, open and max fds, start time), as every exporter has
        self._process = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self._process)
        for spec in families:
            if spec.endpoint == "metrics":
                self.registry.add(spec)
        if BUILD_INFO.name in self.registry:
            self[BUILD_INFO].set([__version__], 1)

    def __getitem__(self, key: FamilySpec | str) -> Family | Histogram:
        return self.registry[key if isinstance(key, str) else key.name]

    def family(self, spec: FamilySpec) -> Family:
        family = self[spec]
        assert isinstance(family, Family), f"{spec.name} is a histogram"
        return family

    def histogram(self, spec: FamilySpec) -> Histogram:
        family = self[spec]
        assert isinstance(family, Histogram), f"{spec.name} is not a histogram"
        return family

    def render(self) -> tuple[bytes, bytes]:
        """/metrics in two pieces: the registry's body, kept while nothing changes, and process_*.

        Two pieces because process_* change on every scrape: joining them to a 25,000-camera body
        would copy its 130 MB on every scrape and defeat the web layer's gzip cache.
        """
        return self.registry.render(), self.process_text()

    def process_text(self) -> bytes:
        return generate_latest(self._process)

    @property
    def generation(self) -> int:
        """Changes whenever a family changed (see Registry.generation)."""
        return self.registry.generation
