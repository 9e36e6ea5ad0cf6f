"""Video-analytics platforms: scenario states, stuck scenarios, stale predictions, API liveness.

Each platform has a database check (its name; the source is down for that platform when the
database cannot be read: wrong password, server down, table or column missing, permission denied,
statement timeout) and, with `api_url`, an API check (`<name>/api`; an API that does not answer is
the platform's problem, shown by `vigil_analytics_api_up`, not the source's). A failed poll changes
nothing already published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import unquote, urlsplit

import aiohttp

from exporter.errors import HTTP_REASONS, TargetFailed
from exporter.logs import register_secret
from exporter.metrics import Metrics
from exporter.sources.analytics.config import AnalyticsConfig, PlatformConfig
from exporter.sources.analytics.database import REASONS, ScenarioTable
from exporter.sources.analytics.metrics import (
    API_LATENCY,
    API_UP,
    OLDEST_AGE,
    PLATFORM_INFO,
    PREDICTIONS_STALE,
    SCENARIOS,
    SCENARIOS_STUCK,
)
from exporter.sources.analytics.tracking import PredictionWatch, StateClock
from exporter.sources.contract import Check, Source

log = logging.getLogger("vigil.analytics")

SOURCE = "analytics"
PROCESSING_SUFFIX = "_processing"


def stuck_limits(config: PlatformConfig, statuses: tuple[str, ...]) -> dict[str, float]:
    """stuck_after of every transitional status: those ending in _processing and those listed."""
    listed = {item.status: item.after for item in config.stuck_after_status}
    limits = {s: config.stuck_after for s in statuses if s.endswith(PROCESSING_SUFFIX)}
    limits.update(listed)
    return limits


@dataclass
class Platform:
    config: PlatformConfig
    table: ScenarioTable
    predictions: PredictionWatch
    states: StateClock = field(default_factory=StateClock)
    time_in_state: str | None = None  # "updated_at" or "observed", once known
    total: int = 0
    stuck: list[tuple[str, str, float]] = field(default_factory=list)
    stale: list[tuple[str, float]] = field(default_factory=list)
    stuck_count: int = 0
    stale_count: int = 0
    polled_at: float | None = None


class AnalyticsSource(Source):
    name = SOURCE

    def __init__(
        self,
        metrics: Metrics,
        config: AnalyticsConfig,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._clock = clock
        self._scenarios = metrics.family(SCENARIOS)
        self._stuck = metrics.family(SCENARIOS_STUCK)
        self._oldest = metrics.family(OLDEST_AGE)
        self._stale = metrics.family(PREDICTIONS_STALE)
        self._info = metrics.family(PLATFORM_INFO)
        self._api_up = metrics.family(API_UP)
        self._api_latency = metrics.family(API_LATENCY)
        self.platforms: dict[str, Platform] = {}
        for p in config.platforms:
            dsn = p.dsn.reveal()
            register_secret(dsn)
            password = urlsplit(dsn).password
            if password:
                register_secret(password)
                register_secret(unquote(password))  # as the server and the driver see it
            table = ScenarioTable(
                dsn,
                p.table,
                statement_timeout=p.statement_timeout,
                connect_timeout=p.connect_timeout,
                platform=p.name,
            )
            watch = PredictionWatch(p.predictions_stale_after, p.interval)
            self.platforms[p.name] = Platform(p, table, watch)

    def checks(self) -> list[Check]:
        checks = []
        for name, platform in self.platforms.items():
            cfg = platform.config
            checks.append(Check(name, cfg.interval, partial(self.poll, name), name, REASONS))
            if cfg.api_url:
                checks.append(
                    Check(
                        f"{name}/api",
                        cfg.interval,
                        partial(self.check_api, name),
                        name,
                        HTTP_REASONS,
                    )
                )
        return checks

    async def stop(self) -> None:
        for platform in self.platforms.values():
            await platform.table.close()

    # -- the database ----------------------------------------------------------------------------
    async def poll(self, name: str) -> None:
        platform = self.platforms[name]
        cfg = platform.config
        now = self._clock()
        schema, figures = await platform.table.poll(
            active=cfg.active_status,
            limits=partial(stuck_limits, cfg),
            list_limit=cfg.list_limit,
            choose=partial(platform.predictions.observe, active=cfg.active_status, now=now),
        )
        limits = stuck_limits(cfg, schema.statuses)
        if schema.has_updated_at:
            platform.states = StateClock()  # not needed: the database knows
            oldest, stuck, stuck_ids = figures.oldest_age, figures.stuck, figures.stuck_ids
            platform.time_in_state = "updated_at"
        else:
            platform.states.update(((i, s) for i, s, _ in figures.tracked), now)
            oldest = platform.states.oldest(now)
            stuck, stuck_ids = platform.states.stuck(limits, now, cfg.list_limit)
            platform.time_in_state = "observed"
        platform.predictions.record(figures.hashes)
        stale_count, stale_ids = platform.predictions.stale(now, cfg.list_limit)
        platform.total = sum(figures.counts.values())
        platform.stuck, platform.stale = stuck_ids, stale_ids
        platform.stuck_count, platform.stale_count = sum(stuck.values()), stale_count
        platform.polled_at = now
        self._scenarios.replace([((name, s), n) for s, n in figures.counts.items()], name)
        self._stuck.replace([((name, s), n) for s, n in stuck.items()], name)
        self._oldest.replace([((name, s), age) for s, age in oldest.items()], name)
        self._stale.replace([((name,), stale_count)], name)
        self._info.replace([((name, cfg.table, platform.time_in_state), 1)], name)

    # -- the platform's API ----------------------------------------------------------------------
    async def check_api(self, name: str) -> None:
        cfg = self.platforms[name].config
        assert cfg.api_url is not None
        what = f"GET {cfg.api_path}"
        t0 = time.perf_counter()
        try:
            async with self._session.get(
                cfg.api_url + cfg.api_path,
                timeout=aiohttp.ClientTimeout(total=cfg.api_timeout),
                allow_redirects=False,
            ) as resp:
                status = resp.status
                await resp.read()
        except TimeoutError:
            self._api_failed(name, "timeout", f"{what}: no answer within {cfg.api_timeout:g}s")
        except aiohttp.ClientError as exc:
            self._api_failed(name, "connection", f"{what}: {type(exc).__name__}")
        latency = time.perf_counter() - t0
        if status != 200:
            reason = "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "bad_payload"
            self._api_failed(name, reason, f"{what}: HTTP {status}")
        self._api_up.set([name], 1, name)
        self._api_latency.set([name], latency, name)

    def _api_failed(self, name: str, reason: str, message: str) -> None:
        self._api_up.set([name], 0, name)
        self._api_latency.remove([name], name)
        raise TargetFailed(reason, f"{name} API: {message}", target=name)

    # -- commands and status ---------------------------------------------------------------------
    def problems(self, name: str) -> dict | None:
        """The stuck and stale scenarios of a platform (bounded lists, newest first)."""
        platform = self.platforms.get(name)
        if platform is None:
            return None
        return {
            "platform": name,
            "polled_at": platform.polled_at,
            "time_in_state": platform.time_in_state,
            "stuck_total": platform.stuck_count,
            "stuck": [
                {"id": i, "status": s, "seconds_in_state": round(age, 3)}
                for i, s, age in platform.stuck
            ],
            "stale_predictions_total": platform.stale_count,
            "stale_predictions": [
                {"id": i, "seconds_since_change": round(age, 3)} for i, age in platform.stale
            ],
        }

    def status_lines(self) -> list[str]:
        lines = []
        for name, p in self.platforms.items():
            if p.polled_at is None:
                lines.append(f"Analytics {name}: not polled yet.")
                continue
            how = {
                "updated_at": "time in state from the table's updated_at",
                "observed": "time in state observed across polls (the table has no updated_at)",
            }[p.time_in_state or "observed"]
            stuck = ", ".join(i for i, _, _ in p.stuck[:10])
            stale = ", ".join(i for i, _ in p.stale[:10])
            lines.append(
                f"Analytics {name}: {p.total} scenarios, {p.stuck_count} stuck"
                f"{f' ({stuck})' if stuck else ''}, {p.stale_count} with stale predictions"
                f"{f' ({stale})' if stale else ''}; {how}. "
                f"Lists: /api/v1/analytics/{name}/stuck"
            )
        return lines
