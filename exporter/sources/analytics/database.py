"""Read-only queries against a platform's scenario table (asyncpg), and what their failures mean.

Every statement runs in a read-only transaction with the platform's statement timeout. Aggregates are
computed by PostgreSQL; the only rows shipped are (id, status, rewritten since the previous poll) of
the scenarios that must be followed across polls, the predictions hash of the few the tracking asks
for, and a bounded list of stuck ids. A scenario's predictions travel as a 64-bit hash computed by the
server, never whole.
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
EVERY_ROW = 2**31 - 1  # an age() window that takes every row as rewritten
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


class Params:
    """The values of a statement's parameters, numbered as they are named."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def stuck_since(names: list[str], after: dict[str, float], params: Params) -> str:
    """SQL for the time before which a row in one of `names` is stuck (NULL in other statuses)."""
    if not names:
        return "NULL::timestamptz"
    whens = " ".join(
        f"WHEN {params(s)} THEN now() - {params(after[s])}::float8 * interval '1 s'" for s in names
    )
    return f"CASE status {whens} END"


@dataclass(frozen=True)
class Schema:
    statuses: tuple[str, ...]  # the enum's labels in order, or the distinct values seen
    status_is_enum: bool
    has_updated_at: bool
    predictions_jsonb: bool = True
    id_type: str = "text"  # the id column's SQL type, as format_type() spells it
    # a table's rows carry xmin (a view's do not: every row is taken as rewritten at every poll)
    has_xmin: bool = True


@dataclass
class Aggregates:
    counts: dict[str, int]
    oldest_age: dict[str, float]  # from updated_at; empty without it
    stuck: dict[str, int]  # from updated_at; empty without it
    stuck_ids: list[tuple[str, str, float]]  # (id, status, seconds in state), newest first
    # (id, status, row rewritten since the previous poll: only ever true for active scenarios)
    tracked: list[tuple[str, str, bool]]
    hashes: dict[str, int]  # id -> predictions hash, for the ids `choose` asked for


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
        choose: Callable[[list[tuple[str, str, bool]], bool], list[str]],
    ) -> tuple[Schema, Aggregates]:
        """Schema and figures of one poll. `limits` gives the stuck_after of each transitional
        status among the statuses found; `choose` takes the followed rows (and whether their
        rewritten flags are real: a view has no xmin) and names the scenarios whose predictions
        must be hashed. Without updated_at every scenario is followed (Vigil
        measures time in state itself), with it only the active ones (for their predictions).
        One repeatable-read snapshot: the hashes are of the rows `choose` saw."""
        try:
            pool = await self._connection_pool()
            async with (
                asyncio.timeout(self._connect_timeout + 4 * self._statement_timeout),
                pool.acquire(timeout=self._connect_timeout) as conn,
                conn.transaction(readonly=True, isolation="repeatable_read"),
            ):
                schema = await self._schema(conn)
                figures = await self._aggregates(
                    conn, schema, active, limits(schema.statuses), list_limit, choose
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
            """SELECT a.attname, t.typtype, t.oid, t.typname,
                      format_type(a.atttypid, a.atttypmod) AS sqltype
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
               WHERE a.attrelid = $1::regclass AND NOT a.attisdropped""",
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
        return Schema(
            statuses,
            is_enum,
            "updated_at" in columns,
            jsonb,
            columns["id"]["sqltype"],
            "xmin" in columns,
        )

    async def _aggregates(
        self,
        conn: Any,
        schema: Schema,
        active: str,
        transitional: dict[str, float],
        list_limit: int,
        choose: Callable[[list[tuple[str, str, bool]], bool], list[str]],
    ) -> Aggregates:
        t = self._quoted
        counts = {s: 0 for s in schema.statuses}
        oldest: dict[str, float] = {}
        stuck: dict[str, int] = {}
        stuck_ids: list[tuple[str, str, float]] = []
        snapshot = await conn.fetchrow(
            """SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
                      pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax"""
        )
        # rows written since the previous poll's oldest running transaction are at most this old
        # (age() counts transactions); older rows are unchanged since the previous poll
        # (age() is at most 2**31 - 1, which it also gives a frozen row)
        window = EVERY_ROW
        if self._previous_xmin is not None:
            window = snapshot["xmax"] - self._previous_xmin + 1
            if not 0 < window < EVERY_ROW:
                window = EVERY_ROW  # wrapped or reset: take every row as rewritten once
        # statuses are compared in the column's own type (an enum is never printed per row), so
        # only statuses the column holds may be named
        known = set(schema.statuses)
        names = [s for s in transitional if s in known]
        params = Params()
        is_active = f"status = {params(active)}" if active in known else "FALSE"
        rewritten = f"age(xmin) <= {params(window)}::int8" if schema.has_xmin else "TRUE"
        # One scan gives the figures per status and the followed scenarios (every one without
        # updated_at, the active ones with it) as arrays of (id, rewritten since the previous
        # poll): arrays ship and unpack a third quicker than as many rows.
        follow, figures = "TRUE", ""
        if schema.has_updated_at:
            follow = is_active
            figures = f""", EXTRACT(EPOCH FROM now() - min(updated_at))::float8 AS age,
                           count(*) FILTER (WHERE updated_at < {stuck_since(names, transitional, params)})
                           AS stuck"""
        rows = await conn.fetch(
            f"""SELECT status::text AS s, count(*) AS n{figures},
                       array_agg(id::text) FILTER (WHERE {follow}) AS ids,
                       array_agg({is_active} AND {rewritten}) FILTER (WHERE {follow}) AS rewritten
                FROM {t} WHERE status IS NOT NULL GROUP BY status""",
            *params.values,
        )
        tracked: list[tuple[str, str, bool]] = []
        if schema.has_updated_at:
            stuck = dict.fromkeys(names, 0)
        for r in rows:
            status = r["s"]
            counts[status] = r["n"]
            if r["ids"]:
                tracked += zip(r["ids"], [status] * len(r["ids"]), r["rewritten"], strict=True)
            if schema.has_updated_at:
                if r["age"] is not None:
                    oldest[status] = max(0.0, r["age"])
                if status in stuck:
                    stuck[status] = r["stuck"]
        if any(stuck.values()):
            params = Params()
            rows = await conn.fetch(
                f"""SELECT id::text AS id, status::text AS s,
                           EXTRACT(EPOCH FROM now() - updated_at)::float8 AS age
                    FROM {t} WHERE updated_at < {stuck_since(names, transitional, params)}
                    ORDER BY updated_at DESC LIMIT {params(list_limit)}""",
                *params.values,
            )
            stuck_ids = [(r["id"], r["s"], r["age"]) for r in rows]
        due = choose(tracked, schema.has_xmin)
        hashes = await self._hashes(conn, schema, active, due, len(tracked)) if due else {}
        self._previous_xmin = snapshot["xmin"]
        return Aggregates(counts, oldest, stuck, stuck_ids, tracked, hashes)

    async def _hashes(
        self, conn: Any, schema: Schema, active: str, ids: list[str], followed: int
    ) -> dict[str, int]:
        """The predictions hash of the given scenarios, computed by PostgreSQL."""
        # jsonb hashes from its binary form; json or text has to be printed first (2x slower)
        if schema.predictions_jsonb:
            hashed = "jsonb_hash_extended(predictions, 0)"
        else:
            hashed = "hashtextextended(predictions::text, 0)"
        if 4 * len(ids) > followed:  # most of them (a first poll): one scan of every active row
            wanted = set(ids)
            rows = await conn.fetch(
                f"SELECT id::text, {hashed} FROM {self._quoted} WHERE status::text = $1", active
            )
            return {r[0]: r[1] for r in rows if r[0] in wanted}
        rows = await conn.fetch(
            f"""SELECT id::text, {hashed} FROM {self._quoted}
                WHERE id = ANY($1::text[]::{schema.id_type}[]) AND status::text = $2""",
            ids,
            active,
        )
        return {r[0]: r[1] for r in rows}
