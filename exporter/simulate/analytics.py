"""A simulated video-analytics platform for `vigil demo`: a throwaway PostgreSQL with a `scenarios`
table whose state machine a driver keeps moving, a small stand-in for the platform's API, and
kafka_exporter-shaped metrics of its Kafka topics (no broker runs here: the figures follow the
driver's ticks, with the names kafka_exporter uses, so the demo's dashboard and rules have data).

Scenarios start (`init_startup`), are picked up (`init_startup_processing`), run (`active`, their
predictions changing every tick), and are shut down (`shutdown_processing` -> `stopped`). A few get
stuck in `init_startup_processing` and a few active ones stop producing predictions, so the demo has
something to show; stopped scenarios are deleted after a while, so the table stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time

import asyncpg
from aiohttp import web

from exporter.simulate.postgres import PostgresServer

log = logging.getLogger("vigil.simulate.analytics")

STATUSES = (
    "init_startup",
    "init_startup_processing",
    "active",
    "shutdown_processing",
    "stopped",
    "error",
)
TICK = 3.0  # seconds between moves of the state machine
READER = "vigil_reader"

SCHEMA = f"""
CREATE TYPE scenario_status AS ENUM ({", ".join(f"'{s}'" for s in STATUSES)});
CREATE TABLE scenarios (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status scenario_status NOT NULL DEFAULT 'init_startup',
    predictions jsonb NOT NULL DEFAULT '{{}}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    demo_stuck boolean NOT NULL DEFAULT false,   -- never leaves init_startup_processing
    demo_silent boolean NOT NULL DEFAULT false   -- active, but its predictions never change
);
"""

# one tick of the state machine; $1 is the tick number
MOVES = (
    """INSERT INTO scenarios (demo_stuck, demo_silent)
       SELECT random() < 0.03, random() < 0.05 FROM generate_series(1, 3)""",
    """UPDATE scenarios SET status = 'init_startup_processing', updated_at = now()
       WHERE status = 'init_startup' AND updated_at < now() - interval '5 seconds'""",
    """UPDATE scenarios SET status = 'active', updated_at = now()
       WHERE status = 'init_startup_processing' AND NOT demo_stuck
         AND updated_at < now() - interval '10 seconds'""",
    """UPDATE scenarios SET predictions = jsonb_build_object('tick', $1::int,
           'objects', floor(random() * 6)::int)
       WHERE status = 'active' AND NOT demo_silent""",
    """UPDATE scenarios SET status = 'shutdown_processing', updated_at = now()
       WHERE status = 'active' AND random() < 0.02""",
    """UPDATE scenarios SET status = CASE WHEN random() < 0.1 THEN 'error' ELSE 'stopped' END
            ::scenario_status, updated_at = now()
       WHERE status = 'shutdown_processing' AND updated_at < now() - interval '6 seconds'""",
    """DELETE FROM scenarios WHERE status IN ('stopped', 'error')
       AND updated_at < now() - interval '10 minutes'""",
)


class SimulatedPlatform:
    """Start with `await start()`; `dsn` is the read-only role's; `api_url` the fake API's."""

    def __init__(self, scenarios: int = 120) -> None:
        self.scenarios = scenarios
        self.server = PostgresServer()  # FileNotFoundError when PostgreSQL is not installed
        self.reader_password = secrets.token_urlsafe(12)
        self.dsn = self.server.dsn_for(READER, self.reader_password)
        self.api_url = ""
        self.kafka_target = ""
        self._runner: web.AppRunner | None = None
        self._driver: asyncio.Task | None = None
        self._started = time.monotonic()

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.server.start)
        conn = await asyncpg.connect(self.server.dsn)
        try:
            await conn.execute(SCHEMA)
            await conn.execute(
                f"CREATE ROLE {READER} LOGIN PASSWORD '{self.reader_password}';"
                f"GRANT SELECT ON scenarios TO {READER}"
            )
            await conn.execute(
                """INSERT INTO scenarios (status, predictions, updated_at, demo_stuck, demo_silent)
                   SELECT 'active', jsonb_build_object('tick', 0), now() - random() * interval '1 hour',
                          false, g % 20 = 0
                   FROM generate_series(1, $1) g""",
                self.scenarios,
            )
        finally:
            await conn.close()
        app = web.Application()
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/kafka/metrics", self._kafka_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.api_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self.kafka_target = f"127.0.0.1:{self._runner.addresses[0][1]}"  # path /kafka/metrics
        self._driver = asyncio.create_task(self._drive(), name="analytics-simulator")

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response({"openapi": "3.1.0", "info": {"title": "video analytics"}})

    async def _kafka_metrics(self, request: web.Request) -> web.Response:
        """What kafka_exporter would say about the platform's topics and runners right now."""
        elapsed = time.monotonic() - self._started
        lines = ["# TYPE kafka_brokers gauge", "kafka_brokers 1"]
        lines += [
            "# TYPE kafka_consumergroup_members gauge",
            'kafka_consumergroup_members{consumergroup="runners_group"} 3',
        ]
        offsets, lags = [], []
        for partition in range(3):
            produced = int(elapsed * 2) + 100 * partition
            lag = random.randint(0, 4)
            offsets.append(
                f'kafka_topic_partition_current_offset{{partition="{partition}",topic="scenarios"}}'
                f" {produced}"
            )
            lags.append(
                f'kafka_consumergroup_lag{{consumergroup="runners_group",partition="{partition}",'
                f'topic="scenarios"}} {lag}'
            )
        retries = int(elapsed * 0.05)
        offsets.append(
            f'kafka_topic_partition_current_offset{{partition="0",topic="retry_topic"}} {retries}'
        )
        lines += ["# TYPE kafka_topic_partition_current_offset gauge", *offsets]
        lines += ["# TYPE kafka_consumergroup_lag gauge", *lags]
        total = sum(int(line.rsplit(" ", 1)[1]) for line in lags)
        lines += [
            "# TYPE kafka_consumergroup_lag_sum gauge",
            f'kafka_consumergroup_lag_sum{{consumergroup="runners_group",topic="scenarios"}} {total}',
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def _drive(self) -> None:
        tick = 0
        conn = None
        while True:
            try:
                if conn is None:
                    conn = await asyncpg.connect(self.server.dsn)
                tick += 1
                for statement in MOVES:
                    if "$1" in statement:
                        await conn.execute(statement, tick)
                    else:
                        await conn.execute(statement)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("analytics simulator: %s", type(exc).__name__)
                conn = None
            await asyncio.sleep(TICK)

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._driver
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.get_running_loop().run_in_executor(None, self.server.cleanup)
