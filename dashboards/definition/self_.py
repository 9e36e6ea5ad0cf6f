"""Vigil itself: sources and checks, their durations and errors, how Prometheus scrapes it."""

from __future__ import annotations

from dashboards.definition.kit import UP, Board, Q, sel


def build(b: Board) -> None:
    up = {"1": (b.t("val.up"), "green"), "0": (b.t("val.down"), "red")}
    b.stat(
        "self.version",
        Q(sel("vigil_build_info"), "{{version}}", True),
        text_mode="name",
        colored=False,
    )
    b.stat("self.scraped", Q(sel("up"), "{{instance}}", True), steps=UP, mappings=up)
    b.stat(
        "self.sources",
        Q(sel("vigil_source_up"), "{{source}} {{exported_instance}}", True),
        steps=UP,
        mappings=up,
        w=16,
    )
    age = f"time() - {sel('vigil_source_last_success_timestamp_seconds')}"
    b.bars(
        "self.age_intervals",
        Q(
            f"({age})\n/ on (job, instance, source, check) group_left ()\n  "
            + sel("vigil_source_check_interval_seconds"),
            "{{source}} / {{check}}",
            True,
        ),
        steps=[("green", None), ("yellow", 1.5), ("red", 3)],
        decimals=1,
        minmax=(0, 3),
        w=12,
        h=9,
    )
    b.graph("self.age", Q(age, "{{source}} / {{check}}"), unit="s", h=9)
    bucket = sel("vigil_probe_duration_seconds_bucket")
    b.graph(
        "self.durations",
        *(
            Q(
                f"histogram_quantile({q}, sum by (le, source, check) "
                f"(rate({bucket}[$__rate_interval])))",
                f"{name} {{{{source}}}} / {{{{check}}}}",
            )
            for q, name in ((0.5, "p50"), (0.99, "p99"))
        ),
        unit="s",
    )
    b.graph(
        "self.runs",
        Q(
            "sum by (source, check) (rate("
            + sel("vigil_probe_duration_seconds_count")
            + "[$__rate_interval]))",
            "{{source}} / {{check}}",
        ),
        unit="ops",
    )
    b.graph(
        "self.errors",
        Q(
            "sum by (source, check, reason) (rate("
            + sel("vigil_probe_errors_total")
            + "[$__rate_interval])) > 0",
            "{{source}} / {{check}}: {{reason}}",
        ),
        unit="cps",
        w=24,
        legend_table=True,
    )
    b.row("self.row.scrapes")
    for key, metric, unit in (
        ("self.scrape_duration", "scrape_duration_seconds", "s"),
        ("self.samples", "scrape_samples_scraped", "none"),
        ("self.new_series", "scrape_series_added", "none"),
    ):
        b.graph(key, Q(sel(metric), "{{instance}}"), unit=unit, w=8, h=7)
