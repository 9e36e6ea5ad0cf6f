"""Metric families of the analytics source: aggregates per platform; scenario ids are never labels."""

from __future__ import annotations

from exporter.catalogue import gauge

SCENARIOS = gauge(
    "vigil_analytics_scenarios",
    "Scenarios of the platform in each status (every status the database knows, 0 included).",
    ("platform", "status"),
)
SCENARIOS_STUCK = gauge(
    "vigil_analytics_scenarios_stuck",
    "Scenarios that have stayed in a transitional status longer than its stuck_after.",
    ("platform", "status"),
)
OLDEST_AGE = gauge(
    "vigil_analytics_oldest_scenario_age_seconds",
    "Time in state of the scenario that has been in the status longest (absent when none is).",
    ("platform", "status"),
)
PREDICTIONS_STALE = gauge(
    "vigil_analytics_predictions_stale",
    "Active scenarios whose predictions have not changed for predictions_stale_after.",
    ("platform",),
)
PLATFORM_INFO = gauge(
    "vigil_analytics_platform_info",
    "A watched platform and where its time in state comes from (updated_at or observed); always 1.",
    ("platform", "table", "time_in_state"),
)
API_UP = gauge(
    "vigil_analytics_api_up",
    "1 when the platform's HTTP API answered its latest check with 200, 0 otherwise.",
    ("platform",),
)
API_LATENCY = gauge(
    "vigil_analytics_api_latency_seconds",
    "Time the platform's HTTP API took to answer its latest successful check.",
    ("platform",),
)

PER_PLATFORM = (SCENARIOS, SCENARIOS_STUCK, OLDEST_AGE, PREDICTIONS_STALE, PLATFORM_INFO)
FAMILIES = (*PER_PLATFORM, API_UP, API_LATENCY)
