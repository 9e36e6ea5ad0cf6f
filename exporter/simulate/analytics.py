"""A simulated video-analytics platform for `vigil demo`: a PostgreSQL database with a `scenarios`
table whose state machine a driver keeps moving, a small stand-in for the platform's API, and
kafka_exporter-shaped metrics of its Kafka topics (no broker runs here: the figures follow the
driver's ticks, with the names kafka_exporter uses, so the demo's dashboard and rules have data).

Scenarios start (`init_startup`), are picked up (`init_startup_processing`), run (`active`, their
predictions changing every tick), and are shut down (`shutdown_processing` -> `stopped`). A few get
stuck in `init_startup_processing` and a few active ones stop producing predictions, so the demo has
something to show; stopped scenarios are deleted after a while, so the table stays small.

The database lives on a throwaway cluster of its own (exporter/simulate/postgres.py), or on an
existing server given by an admin URL (`server_url`, docker compose's `postgres` service). Either
way the platform makes its own database (DATABASE) and read-only role (READER) there, each marked
with a comment (MARK): at start it drops and makes again what carries the mark, refuses to touch a
database or role of that name without it, and at stop it drops what it made. The admin password
never appears in what it says (errors, `where`): see `redact`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg
from aiohttp import web

from exporter.simulate.postgres import PostgresServer, quote_ident, quote_literal

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
DATABASE = "vigil_demo_analytics"  # the platform's own database
READER = "vigil_demo_reader"  # the read-only role the demo's exporter logs in as
MARK = "vigil demo: the simulated analytics platform's; dropped and made again at each start"
CONNECT_TIMEOUT = 10.0
URL_SHAPE = "postgresql://user:password@host:port/database"


class PlatformError(Exception):
    """The platform could not be set up; the message never holds the admin password."""


class AdminURL:
    """An admin URL of an existing server, checked; `where` names it without credentials."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parts = urlsplit(url)
            port = parts.port  # ValueError for a port that is not a number
        except ValueError:
            raise PlatformError(f"the analytics server URL is not a URL like {URL_SHAPE}") from None
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise PlatformError(f"the analytics server URL must look like {URL_SHAPE}")
        if not parts.username:
            raise PlatformError(f"the analytics server URL names no user ({URL_SHAPE})")
        self.parts = parts
        self.password = parts.password or ""
        self.host_port = parts.netloc.rsplit("@", 1)[-1]
        self.where = f"{parts.hostname}:{port or 5432}"

    def secrets(self) -> list[str]:
        """The forms the admin password can take in text: as written, decoded, the whole URL."""
        return [s for s in (self.url, self.password, unquote(self.password)) if s]

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def dsn(self, database: str | None = None, user: str | None = None, password: str = "") -> str:
        """This URL for another database, or another role (user, password) on the same server."""
        netloc = self.parts.netloc
        if user is not None:
            netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{self.host_port}"
        path = self.parts.path if database is None else "/" + quote(database, safe="")
        return urlunsplit((self.parts.scheme, netloc, path, self.parts.query, ""))


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
    """Start with `await start()`; `dsn` is the read-only role's; `api_url` the fake API's.

    Without `server_url` the platform starts a throwaway cluster of its own (FileNotFoundError
    when PostgreSQL's server is not installed); with it, it uses that server (an admin URL: a
    role that may create databases and roles). `where` says which, without credentials.
    """

    def __init__(self, scenarios: int = 120, server_url: str | None = None) -> None:
        self.scenarios = scenarios
        self.server: PostgresServer | None = None
        if server_url is None:
            self.server = PostgresServer()  # FileNotFoundError when PostgreSQL is not installed
            self.admin = AdminURL(self.server.dsn)
            self.where = "a throwaway cluster of its own"
        else:
            self.admin = AdminURL(server_url)  # PlatformError for a malformed URL
            self.where = f"database {DATABASE} on {self.admin.where}"
        self.reader_password = secrets.token_urlsafe(12)
        self.dsn = self.admin.dsn(DATABASE, READER, self.reader_password)
        self.api_url = ""
        self.kafka_target = ""
        self._runner: web.AppRunner | None = None
        self._driver: asyncio.Task | None = None
        self._started = time.monotonic()
        self._made = False  # whether the database and role are ours to drop at stop

    async def start(self) -> None:
        if self.server is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.server.start)
        try:
            await self._prepare()
        except (
            TimeoutError,
            OSError,
            ValueError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        ) as exc:
            reason = self.admin.redact(str(exc)) or type(exc).__name__
            raise PlatformError(f"PostgreSQL at {self.admin.where}: {reason}") from None
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

    async def _prepare(self) -> None:
        """Drop what an earlier demo left (ours only), make the database and role, fill the table."""
        conn = await asyncpg.connect(self.admin.dsn(), timeout=CONNECT_TIMEOUT)
        try:
            await self._drop_ours(conn)
            await conn.execute(
                f"CREATE ROLE {quote_ident(READER)} LOGIN PASSWORD"
                f" {quote_literal(self.reader_password)};"
                f"COMMENT ON ROLE {quote_ident(READER)} IS {quote_literal(MARK)}"
            )
            self._made = True
            await conn.execute(f"CREATE DATABASE {quote_ident(DATABASE)}")  # not in a transaction
            await conn.execute(
                f"COMMENT ON DATABASE {quote_ident(DATABASE)} IS {quote_literal(MARK)};"
                f"REVOKE ALL ON DATABASE {quote_ident(DATABASE)} FROM PUBLIC;"
                f"GRANT CONNECT ON DATABASE {quote_ident(DATABASE)} TO {quote_ident(READER)}"
            )
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.admin.dsn(DATABASE), timeout=CONNECT_TIMEOUT)
        try:
            await conn.execute(SCHEMA)
            await conn.execute(
                f"REVOKE ALL ON SCHEMA public FROM PUBLIC;"
                f"GRANT USAGE ON SCHEMA public TO {quote_ident(READER)};"
                f"GRANT SELECT ON scenarios TO {quote_ident(READER)}"
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

    async def _drop_ours(self, conn: asyncpg.Connection) -> None:
        """Drop the database and role an earlier demo made; refuse (PlatformError, nothing
        dropped) when a database or role of that name exists without the demo's mark."""
        database = await conn.fetchrow(
            "SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database"
            " WHERE datname = $1",
            DATABASE,
        )
        role = await conn.fetchrow(
            "SELECT shobj_description(oid, 'pg_authid') AS mark FROM pg_roles WHERE rolname = $1",
            READER,
        )
        for kind, name, found in (("database", DATABASE, database), ("role", READER, role)):
            if found is not None and found["mark"] != MARK:
                raise PlatformError(
                    f"PostgreSQL at {self.admin.where} has a {kind} {name} that vigil demo did "
                    "not make; it is left alone (drop or rename it, or use another server)"
                )
        if database is not None:
            # WITH (FORCE): sessions a killed demo left are cut (PostgreSQL 13 and later)
            await conn.execute(f"DROP DATABASE {quote_ident(DATABASE)} WITH (FORCE)")
        if role is not None:
            await conn.execute(f"DROP ROLE {quote_ident(READER)}")

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
                    conn = await asyncpg.connect(self.admin.dsn(DATABASE), timeout=CONNECT_TIMEOUT)
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
        """Stop the driver and the API; drop the database and role (an existing server is left
        as it was found), or remove the throwaway cluster."""
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._driver
        if self._runner is not None:
            await self._runner.cleanup()
        if self.server is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.server.cleanup)
            return
        if not self._made:
            return
        try:
            conn = await asyncpg.connect(self.admin.dsn(), timeout=CONNECT_TIMEOUT)
            try:
                await self._drop_ours(conn)
            finally:
                await conn.close()
        except (TimeoutError, OSError, ValueError, asyncpg.PostgresError, PlatformError) as exc:
            # the next start drops it: nothing is lost by leaving it now
            log.warning(
                "the simulated analytics platform's database stays on %s: %s",
                self.admin.where,
                self.admin.redact(str(exc)) or type(exc).__name__,
            )
