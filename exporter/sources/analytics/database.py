"""Read-only queries against a platform's scenario table (asyncpg), and what their failures mean.

Every statement runs in a read-only transaction with the platform's statement timeout. Aggregates are
computed by PostgreSQL; the only rows shipped are (id, status, hash of predictions) of the scenarios
that must be followed across polls, and a bounded list of stuck ids. A scenario's predictions travel
as a 64-bit hash computed by the server, never whole.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from exporter.errors import CheckFailed

REASONS = (
    "auth",
    "connection",
    "timeout",
    "no_database",
    "no_table",
    "no_column",
    "permission",
    "statement_timeout",
    "database",
)
REQUIRED_COLUMNS = ("id", "status", "predictions")
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def quote_table(table: str) -> str:
    """`schema.table` as quoted identifiers; config validation guarantees the shape."""
    if not TABLE_NAME.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    return ".".join(f'"{part}"' for part in table.split("."))


def db_reason(exc: BaseException) -> str:
    """The reason label of a failed connection or statement."""
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return "auth"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "no_database"
    if isinstance(exc, asyncpg.UndefinedTableError):
        return "no_table"
    if isinstance(exc, asyncpg.UndefinedColumnError):
        return "no_column"
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return "permission"
    if isinstance(exc, asyncpg.QueryCanceledError):
        return "statement_timeout"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError | asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
        return "connection"
    return "database"


def describe(exc: BaseException) -> str:
    """What went wrong, without the DSN: PostgreSQL's own message, or the exception's type."""
    if isinstance(exc, asyncpg.PostgresError):
        return exc.args[0] if exc.args else type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


@dataclass(frozen=True)
class Schema:
    statuses: tuple[str, ...]  # the enum's labels in order, or the distinct values seen
    status_is_enum: bool
    has_updated_at: bool
    predictions_jsonb: bool = True


@dataclass
class Aggregates:
    counts: dict[str, int]
    oldest_age: dict[str, float]  # from updated_at; empty without it
    stuck: dict[str, int]  # from updated_at; empty without it
    stuck_ids: list[tuple[str, str, float]]  # (id, status, seconds in state), newest first
    # (id, status, predictions hash); the hash of an active scenario is None when its row has not
    # changed since the previous poll (it was not even read), and for scenarios in other statuses
    tracked: list[tuple[str, str, int | None]]


class ScenarioTable:
    """One platform's table over one pooled connection; `poll()` raises CheckFailed on any fault."""

    def __init__(
        self,
        dsn: str,
        table: str,
        *,
        statement_timeout: float,
        connect_timeout: float,
        platform: str,
    ) -> None:
        self._dsn = dsn
        self.table = table
        self._quoted = quote_table(table)
        self._statement_timeout = statement_timeout
        self._connect_timeout = connect_timeout
        self._platform = platform
        self._pool: asyncpg.Pool | None = None
        self._known_statuses: dict[str, None] = {}  # text statuses seen so far, in order
        # the oldest transaction still running at the previous poll: a row whose version was
        # written before it is unchanged since then, and its predictions need not be read again
        self._previous_xmin: int | None = None

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 5)
            except Exception:
                pool.terminate()

    async def _connection_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=0,
                max_size=1,
                timeout=self._connect_timeout,
                command_timeout=self._statement_timeout + self._connect_timeout,
                server_settings={
                    "application_name": "vigil",
                    "default_transaction_read_only": "on",
                    "statement_timeout": str(int(self._statement_timeout * 1000)),
                },
            )
        return self._pool

    async def poll(
        self,
        *,
        active: str,
        limits: Callable[[tuple[str, ...]], dict[str, float]],
        list_limit: int,
    ) -> tuple[Schema, Aggregates]:
        """Schema and figures of one poll. `limits` gives the stuck_after of each transitional
        status among the statuses found. Without updated_at every scenario is followed (Vigil
        measures time in state itself), with it only the active ones (for their predictions)."""
        try:
            pool = await self._connection_pool()
            async with (
                asyncio.timeout(self._connect_timeout + 4 * self._statement_timeout),
                pool.acquire(timeout=self._connect_timeout) as conn,
                conn.transaction(readonly=True),
            ):
                schema = await self._schema(conn)
                figures = await self._aggregates(
                    conn, schema, active, limits(schema.statuses), list_limit
                )
                return schema, figures
        except CheckFailed:
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            reason = db_reason(exc)
            if reason in ("connection", "timeout", "auth") and self._pool is not None:
                await self.close()  # start from a fresh connection next time
            raise CheckFailed(reason, f"{self._platform}: {describe(exc)}") from None

    async def _schema(self, conn: Any) -> Schema:
        rows = await conn.fetch(
            """SELECT a.attname, t.typtype, t.oid, t.typname
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
               WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped""",
            self.table,
        )
        columns = {r["attname"]: r for r in rows}
        for name in REQUIRED_COLUMNS:
            if name not in columns:
                raise CheckFailed(
                    "no_column", f"{self._platform}: table {self.table} has no column {name!r}"
                )
        status = columns["status"]
        if status["typtype"] == b"e" or status["typtype"] == "e":
            labels = await conn.fetch(
                "SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
                status["oid"],
            )
            statuses = tuple(r["enumlabel"] for r in labels)
            is_enum = True
        else:
            found = await conn.fetch(
                f"SELECT DISTINCT status::text AS s FROM {self._quoted} WHERE status IS NOT NULL"
            )
            for r in sorted(r["s"] for r in found):
                self._known_statuses.setdefault(r)
            statuses = tuple(self._known_statuses)  # a status that empties stays, at 0
            is_enum = False
        jsonb = columns["predictions"]["typname"] == "jsonb"
        return Schema(statuses, is_enum, "updated_at" in columns, jsonb)

    async def _aggregates(
        self,
        conn: Any,
        schema: Schema,
        active: str,
        transitional: dict[str, float],
        list_limit: int,
    ) -> Aggregates:
        t = self._quoted
        counts = {s: 0 for s in schema.statuses}
        oldest: dict[str, float] = {}
        stuck: dict[str, int] = {}
        stuck_ids: list[tuple[str, str, float]] = []
        if schema.has_updated_at:
            names, limits = list(transitional), [transitional[s] for s in transitional]
            # one scan: count, oldest and stuck per status
            rows = await conn.fetch(
                f"""SELECT sc.status::text AS s, count(*) AS n,
                           EXTRACT(EPOCH FROM now() - min(sc.updated_at))::float8 AS age,
                           count(*) FILTER (WHERE x.after IS NOT NULL
                               AND sc.updated_at < now() - make_interval(secs => x.after)) AS stuck
                    FROM {t} sc
                    LEFT JOIN unnest($1::text[], $2::float8[]) AS x(status, after)
                      ON x.status = sc.status::text
                    WHERE sc.status IS NOT NULL GROUP BY 1""",
                names,
                limits,
            )
            stuck = {s: 0 for s in names if s in counts}
            for r in rows:
                counts[r["s"]] = r["n"]
                if r["age"] is not None:
                    oldest[r["s"]] = max(0.0, r["age"])
                if r["s"] in stuck:
                    stuck[r["s"]] = r["stuck"]
            rows = await conn.fetch(
                f"""SELECT sc.id::text AS id, x.status AS s,
                           EXTRACT(EPOCH FROM now() - sc.updated_at)::float8 AS age
                    FROM unnest($1::text[], $2::float8[]) AS x(status, after)
                    JOIN {t} sc ON sc.status::text = x.status
                     AND sc.updated_at < now() - make_interval(secs => x.after)
                    ORDER BY sc.updated_at DESC LIMIT $3""",
                names,
                limits,
                list_limit,
            )
            stuck_ids = [(r["id"], r["s"], r["age"]) for r in rows]
        else:
            rows = await conn.fetch(
                f"SELECT status::text AS s, count(*) AS n FROM {t} WHERE status IS NOT NULL GROUP BY 1"
            )
            for r in rows:
                counts[r["s"]] = r["n"]
        # jsonb hashes from its binary form; json or text has to be printed first (2x slower)
        if schema.predictions_jsonb:
            hashed = "jsonb_hash_extended(predictions, 0)"
        else:
            hashed = "hashtextextended(predictions::text, 0)"
        snapshot = await conn.fetchrow(
            """SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
                      pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax"""
        )
        # rows written since the previous poll's oldest running transaction are at most this old
        # (age() counts transactions); older rows are unchanged and keep the hash Vigil holds
        window = None
        if self._previous_xmin is not None:
            window = snapshot["xmax"] - self._previous_xmin + 1
            if not 0 < window < 2**31 - 1:
                window = None  # wrapped or reset: read everything once
        changed = "TRUE" if window is None else "age(xmin) <= $2"
        args: list[Any] = [active] if window is None else [active, window]
        where = "status IS NOT NULL" if not schema.has_updated_at else "status::text = $1"
        query = f"""SELECT id::text AS id, status::text AS s,
                           CASE WHEN status::text = $1 AND {changed} THEN {hashed} END AS h
                    FROM {t} WHERE {where}"""
        tracked = [(r[0], r[1], r[2]) for r in await conn.fetch(query, *args)]
        self._previous_xmin = snapshot["xmin"]
        return Aggregates(counts, oldest, stuck, stuck_ids, tracked)
