"""The ways the simulated RT API can answer, by name, as `vigil simulate --variation` takes them.

Kept apart from the server (no aiohttp here) so the command line can list them without loading it.
Each variation is a change of the simulator's dialect (exporter/simulate/rt_api.py, `Dialect`).
"""

from __future__ import annotations

from typing import Any

# the variations the platform may send, by name (`vigil simulate --variation`); "slow_fragments" is
# a fault, not a dialect: fragment answers that take 12 s, between the 10 s a single timeout for
# every call used to allow and the 30 s authenticated calls have now
VARIATIONS: dict[str, dict[str, Any]] = {
    "baked_list": {"baked_shape": "list"},
    "baked_archives_key": {"baked_shape": "archives"},
    "limit_50": {"baked_limit_cap": 50},
    "no_total_pages": {"total_pages": False},
    "per_page_100": {"per_page_max": 100},
    "per_page_cap_10": {"per_page_cap": 10, "total_pages": False},
    "is_alive": {"alive_field": "is_alive"},
    "int_booleans": {"booleans": "int"},
    "string_booleans": {"booleans": "string"},
    "numeric_strings": {"numbers": "string"},
}
SLOW_FRAGMENTS = {"fault": "slow", "delay": 12.0, "path": "/estore_fragments.json"}
VARIATION_NAMES = (*VARIATIONS, "slow_fragments")
