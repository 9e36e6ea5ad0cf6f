"""Analytics pipeline: scenario states, stuck scenarios, stale predictions, runners and Kafka lag
of the video-analytics platforms Vigil watches."""

from __future__ import annotations

from dashboards.definition.kit import ANY_IS_BAD, UP, Board, Q, sel

PLATFORM = 'platform=~"$platform"'
# kafka_exporter's series come from its own scrape job, not Vigil's
KAFKA = {"target-job-rule": "lint.kafka", "target-instance-rule": "lint.kafka"}


def build(b: Board) -> None:
    b.query_variable("platform", f"label_values({sel('vigil_analytics_platform_info')}, platform)")
    up = {"0": (b.t("val.down"), "red"), "1": (b.t("val.up"), "green")}
    b.stat(
        "analytics.scenarios",
        Q(f"sum({sel('vigil_analytics_scenarios', PLATFORM)})", instant=True),
        unit="short",
    )
    b.stat(
        "analytics.stuck",
        Q(f"sum({sel('vigil_analytics_scenarios_stuck', PLATFORM)})", instant=True),
        unit="short",
        steps=ANY_IS_BAD,
    )
    b.stat(
        "analytics.stale",
        Q(f"sum({sel('vigil_analytics_predictions_stale', PLATFORM)})", instant=True),
        unit="short",
        steps=ANY_IS_BAD,
    )
    b.stat(
        "analytics.database",
        Q(
            sel("vigil_source_up", 'source="analytics"', 'exported_instance=~"$platform"'),
            "{{exported_instance}}",
            True,
        ),
        steps=UP,
        mappings=up,
    )
    b.stat(
        "analytics.api",
        Q(sel("vigil_analytics_api_up", PLATFORM), "{{platform}}", True),
        steps=UP,
        mappings=up,
    )
    b.stat(
        "analytics.runners",
        Q(
            'sum(kafka_consumergroup_members{consumergroup="runners_group"})',
            instant=True,
            lint=KAFKA,
        ),
        unit="short",
        steps=UP,
    )
    b.graph(
        "analytics.by_status",
        Q(f"sum by (status) ({sel('vigil_analytics_scenarios', PLATFORM)})", "{{status}}"),
        unit="short",
    )
    b.graph(
        "analytics.stuck_by_status",
        Q(f"sum by (status) ({sel('vigil_analytics_scenarios_stuck', PLATFORM)})", "{{status}}"),
        unit="short",
    )
    b.bars(
        "analytics.oldest",
        Q(
            f"max by (status) ({sel('vigil_analytics_oldest_scenario_age_seconds', PLATFORM)})",
            "{{status}}",
            True,
        ),
        unit="s",
        palette=True,
    )
    b.graph(
        "analytics.lag",
        Q(
            'sum by (partition) (kafka_consumergroup_lag{consumergroup="runners_group", '
            'topic="scenarios"})',
            b.t("lg.partition") + " {{partition}}",
            lint=KAFKA,
        ),
        unit="short",
        w=8,
    )
    b.graph(
        "analytics.retries",
        Q(
            'sum(rate(kafka_topic_partition_current_offset{topic="retry_topic"}[$__rate_interval]))',
            "retry_topic",
            lint=KAFKA,
        ),
        unit="ops",
        w=8,
    )
    b.graph(
        "analytics.api_latency",
        Q(sel("vigil_analytics_api_latency_seconds", PLATFORM), "{{platform}}"),
        unit="s",
        h=7,
    )
    duration = "vigil_probe_duration_seconds"
    where = ('source="analytics"', 'check=~"$platform"')
    b.graph(
        "analytics.poll",
        Q(
            f"rate({sel(duration + '_sum', *where)}[$__rate_interval])\n"
            f"/ rate({sel(duration + '_count', *where)}[$__rate_interval])",
            "{{check}}",
        ),
        unit="s",
        h=7,
    )
