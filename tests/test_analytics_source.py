"""The analytics source against a real PostgreSQL: counts, stuck scenarios (with and without
updated_at), stale predictions, faults, a password that never leaks, and a 100,000-row table."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest

from exporter.config import parse_config
from exporter.simulate.analytics import STATUSES  # the platform's own state machine
from tests.conftest import eventually, scrape, started_exporter, value


async def make_table(postgres, *, enum: bool = True, updated_at: bool = True) -> str:
    """A fresh schema with a scenarios table; its qualified name."""
    schema = f"t_{secrets.token_hex(4)}"
    await postgres.asql(f"CREATE SCHEMA {schema}")
    if enum:
        labels = ", ".join(f"'{s}'" for s in STATUSES)
        await postgres.asql(f"CREATE TYPE {schema}.scenario_status AS ENUM ({labels})")
        status_type = f"{schema}.scenario_status"
    else:
        status_type = "text"
    extra = ", updated_at timestamptz NOT NULL DEFAULT now()" if updated_at else ""
    await postgres.asql(
        f"""CREATE TABLE {schema}.scenarios (
              id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
              status {status_type} NOT NULL,
              predictions jsonb NOT NULL DEFAULT '{{}}'{extra})"""
    )
    return f"{schema}.scenarios"


async def insert(postgres, table: str, status: str, n: int, *, age: float = 0.0, preds=None):
    """n scenarios in `status`, updated `age` seconds ago (when the table has updated_at)."""
    columns = await postgres.asql(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0", table
    )
    has_updated = any(r["attname"] == "updated_at" for r in columns)
    when = f", now() - make_interval(secs => {age})" if has_updated else ""
    cols = ", updated_at" if has_updated else ""
    rows = await postgres.asql(
        f"""INSERT INTO {table} (status, predictions{cols})
            SELECT $1, jsonb_build_object('n', g, 'p', $2::text){when}
            FROM generate_series(1, {n}) g RETURNING id::text""",
        status,
        preds or "p0",
    )
    return [r[0] for r in rows]


def config_yaml(table: str, dsn_env: str = "ANALYTICS_DSN", **extra: str) -> str:
    settings = {
        "name": "vap",
        "dsn": f"${{{dsn_env}}}",
        "table": table,
        "interval": "1s",
        "statement_timeout": "2s",
        "connect_timeout": "2s",
        "stuck_after": "1m",
        "predictions_stale_after": "2s",
    }
    settings.update(extra)
    lines = "\n".join(f"      {k}: {v}" for k, v in settings.items())
    return f'listen: "127.0.0.1:0"\nanalytics:\n  platforms:\n    - {lines.lstrip()}\n'


def exporter_for(text: str, dsn: str):
    return started_exporter(parse_config(text, env={"ANALYTICS_DSN": dsn}))


async def polled(http, exporter, predicate=lambda m: True, timeout: float = 20):
    async def ready():
        m = await scrape(http, exporter.url)
        ok = value(m, "vigil_source_up", source="analytics", instance="vap") == 1
        return m if ok and predicate(m) else None

    return await eventually(ready, timeout=timeout)


def counts(m) -> dict[str, float]:
    return {
        lab["status"]: v
        for lab, v in m.get("vigil_analytics_scenarios", [])
        if lab["platform"] == "vap"
    }


async def test_counts_and_stuck_scenarios_from_an_enum_table_with_updated_at(http, postgres):
    table = await make_table(postgres)
    await insert(postgres, table, "init_startup", 3)
    await insert(postgres, table, "init_startup_processing", 4, age=5)
    stuck = await insert(postgres, table, "init_startup_processing", 2, age=600)
    await insert(postgres, table, "shutdown_processing", 1, age=7200)
    await insert(postgres, table, "active", 5, age=3600)
    text = config_yaml(table, stuck_after="5m")
    async with exporter_for(text, postgres.dsn) as exporter:
        m = await polled(http, exporter)
        assert counts(m) == {
            "init_startup": 3,
            "init_startup_processing": 6,
            "active": 5,
            "shutdown_processing": 1,
            "stopped": 0,  # every enum label, empty ones included
            "error": 0,
        }
        stuck_by = {
            lab["status"]: v for lab, v in m["vigil_analytics_scenarios_stuck"]
        }  # only transitional statuses
        assert stuck_by == {"init_startup_processing": 2, "shutdown_processing": 1}
        age = value(m, "vigil_analytics_oldest_scenario_age_seconds", status="active")
        assert 3590 < age < 3700
        assert value(m, "vigil_analytics_oldest_scenario_age_seconds", status="error") is None
        assert value(m, "vigil_analytics_platform_info", time_in_state="updated_at") == 1
        async with http.get(f"{exporter.url}/api/v1/analytics/vap/stuck") as resp:
            listed = await resp.json()
        assert listed["stuck_total"] == 3
        ids = [item["id"] for item in listed["stuck"]]
        assert set(ids[:2]) == set(stuck)  # newest first: the 10-minute ones before the 2-hour one
        assert listed["stuck"][2]["status"] == "shutdown_processing"
        async with http.get(f"{exporter.url}/api/v1/analytics/nope/stuck") as resp:
            assert resp.status == 404
        async with http.get(f"{exporter.url}/") as resp:
            page = await resp.text()
        assert "3 stuck" in page and stuck[0] in page and "updated_at" in page


async def test_without_updated_at_time_in_state_is_observed_across_polls(http, postgres):
    table = await make_table(postgres, enum=False, updated_at=False)
    waiting = await insert(postgres, table, "init_startup_processing", 3)
    await insert(postgres, table, "active", 2)
    text = config_yaml(table, stuck_after="2s")
    async with exporter_for(text, postgres.dsn) as exporter:
        m = await polled(http, exporter)
        assert counts(m) == {"init_startup_processing": 3, "active": 2}
        assert value(m, "vigil_analytics_scenarios_stuck", status="init_startup_processing") == 0
        assert value(m, "vigil_analytics_platform_info", time_in_state="observed") == 1
        # one moves on before its time is up; the others stay and become stuck
        await postgres.asql(f"UPDATE {table} SET status = 'active' WHERE id = $1", waiting[0])

        def two_stuck(m):
            v = value(m, "vigil_analytics_scenarios_stuck", status="init_startup_processing")
            return v == 2

        m = await polled(http, exporter, two_stuck, timeout=15)
        assert counts(m)["active"] == 3
        age = value(
            m, "vigil_analytics_oldest_scenario_age_seconds", status="init_startup_processing"
        )
        assert age > 2
        listed = exporter.source("analytics").problems("vap")
        assert {item["id"] for item in listed["stuck"]} == set(waiting[1:])
        # a status that empties stays, at 0
        await postgres.asql(f"UPDATE {table} SET status = 'stopped'")
        m = await polled(http, exporter, lambda m: counts(m).get("stopped") == 5)
        assert counts(m) == {"init_startup_processing": 0, "active": 0, "stopped": 5}


@pytest.mark.parametrize("through", ["table", "view"])
async def test_active_scenarios_whose_predictions_stop_changing_are_stale(http, postgres, through):
    table = await make_table(postgres)
    frozen = await insert(postgres, table, "active", 2)
    live = await insert(postgres, table, "active", 3)
    watched = table
    if through == "view":  # what a DBA may grant instead: no xmin, every row hashed every poll
        watched = table + "_view"
        await postgres.asql(f"CREATE VIEW {watched} AS SELECT id, status, predictions FROM {table}")
    text = config_yaml(watched, predictions_stale_after="2s")
    async with exporter_for(text, postgres.dsn) as exporter:
        await polled(http, exporter)
        stop = asyncio.Event()

        async def keep_predicting():
            n = 0
            while not stop.is_set():
                n += 1
                await postgres.asql(
                    f"UPDATE {table} SET predictions = jsonb_build_object('frame', {n}) "
                    "WHERE id = ANY($1::uuid[])",
                    live,
                )
                await asyncio.sleep(0.3)

        writer = asyncio.create_task(keep_predicting())
        try:
            m = await polled(
                http, exporter, lambda m: value(m, "vigil_analytics_predictions_stale") == 2, 15
            )
            listed = exporter.source("analytics").problems("vap")
            assert {item["id"] for item in listed["stale_predictions"]} == set(frozen)
            await asyncio.sleep(1.5)
            m = await scrape(http, exporter.url)
            assert value(m, "vigil_analytics_predictions_stale") == 2  # the live ones never are
        finally:
            stop.set()
            await writer


async def test_deferred_hashing_still_finds_frozen_and_rewritten_but_unchanged_predictions(
    http, postgres
):
    """stale_after 6 s at a 1 s interval: a live scenario is hashed one poll in four, and a runner
    that keeps rewriting the same predictions is stale like one that stopped writing."""
    table = await make_table(postgres)
    frozen = await insert(postgres, table, "active", 2)
    same = await insert(postgres, table, "active", 2)
    live = await insert(postgres, table, "active", 3)
    text = config_yaml(table, predictions_stale_after="6s")
    async with exporter_for(text, postgres.dsn) as exporter:
        assert exporter.source("analytics").platforms["vap"].predictions.cycle == 4
        await polled(http, exporter)
        stop = asyncio.Event()

        async def keep_writing():
            n = 0
            while not stop.is_set():
                n += 1
                await postgres.asql(
                    f"UPDATE {table} SET predictions = jsonb_build_object('frame', {n}) "
                    "WHERE id = ANY($1::uuid[])",
                    live,
                )
                await postgres.asql(
                    f"UPDATE {table} SET predictions = predictions WHERE id = ANY($1::uuid[])",
                    same,
                )
                await asyncio.sleep(0.3)

        writer = asyncio.create_task(keep_writing())
        try:
            await polled(
                http, exporter, lambda m: value(m, "vigil_analytics_predictions_stale") == 4, 20
            )
            listed = exporter.source("analytics").problems("vap")
            assert {item["id"] for item in listed["stale_predictions"]} == set(frozen + same)
            await asyncio.sleep(2.5)
            m = await scrape(http, exporter.url)
            assert value(m, "vigil_analytics_predictions_stale") == 4  # the live ones never are
        finally:
            stop.set()
            await writer


FAULTS = [
    # (what to break, expected reason)
    ("password", "auth"),
    ("table", "no_table"),
    ("column", "no_column"),
    ("permission", "permission"),
    ("statement_timeout", "statement_timeout"),
]


@pytest.mark.parametrize(("fault", "reason"), FAULTS)
async def test_a_database_fault_takes_the_platform_down_with_the_reason_and_keeps_the_figures(
    http, postgres, caplog, fault, reason
):
    caplog.set_level(logging.DEBUG)
    table = await make_table(postgres)
    await insert(postgres, table, "active", 4)
    role = f"vigil_{secrets.token_hex(3)}"
    password = f"pw-{secrets.token_hex(8)}"
    await postgres.acreate_role(role, password)
    schema = table.split(".")[0]
    await postgres.asql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    await postgres.asql(f"GRANT SELECT ON {table} TO {role}")
    dsn = postgres.dsn_for(role, password)
    async with exporter_for(config_yaml(table, statement_timeout="300ms"), dsn) as exporter:
        await polled(http, exporter)
        if fault == "password":
            await postgres.asql(f"ALTER ROLE {role} PASSWORD 'changed-{secrets.token_hex(4)}'")
            # the open session survives a password change; the next connection does not
            await postgres.asql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
            )
        elif fault == "table":
            await postgres.asql(f"ALTER TABLE {table} RENAME TO gone")
        elif fault == "column":
            await postgres.asql(f"ALTER TABLE {table} RENAME COLUMN predictions TO preds")
        elif fault == "permission":
            await postgres.asql(f"REVOKE SELECT ON {table} FROM {role}")
        elif fault == "statement_timeout":
            # every read of the table now takes longer than the platform's statement timeout
            await postgres.asql(f"ALTER TABLE {table} RENAME TO real_scenarios")
            await postgres.asql(
                f"CREATE VIEW {table} AS SELECT s.* FROM {schema}.real_scenarios s, "
                "LATERAL (SELECT pg_sleep(0.2) WHERE s.id IS NOT NULL) z"
            )
            await postgres.asql(f"GRANT SELECT ON {table} TO {role}")

        async def down():
            # a poll under way while the fault is made may fail on its half-made state first
            m = await scrape(http, exporter.url)
            up = value(m, "vigil_source_up", source="analytics", instance="vap")
            errors = value(
                m, "vigil_probe_errors_total", source="analytics", check="vap", reason=reason
            )
            return m if up == 0 and errors else None

        m = await eventually(down, timeout=20)
        assert value(m, "vigil_analytics_scenarios", status="active") == 4  # last good figures kept
        async with http.get(f"{exporter.url}/") as resp:
            page = await resp.text()
        assert f"failing: {reason}" in page
        everything = page + str(m) + caplog.text
        assert password not in everything


async def test_a_server_that_goes_down_and_a_port_that_never_answers(http, postgres, caplog):
    caplog.set_level(logging.DEBUG)
    table = await make_table(postgres)
    await insert(postgres, table, "active", 1)
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    port = silent.sockets[0].getsockname()[1]
    text = config_yaml(table).replace(
        "analytics:\n  platforms:\n",
        "analytics:\n  platforms:\n    - name: silent\n      dsn: ${SILENT_DSN}\n"
        "      interval: 1s\n      connect_timeout: 500ms\n",
    )
    env = {
        "ANALYTICS_DSN": postgres.dsn,
        "SILENT_DSN": f"postgresql://u:hush-pw@127.0.0.1:{port}/x",
    }
    try:
        async with started_exporter(parse_config(text, env=env)) as exporter:
            await polled(http, exporter)

            async def reasons(instance: str, check: str, reason: str):
                m = await scrape(http, exporter.url)
                up = value(m, "vigil_source_up", source="analytics", instance=instance)
                n = value(
                    m, "vigil_probe_errors_total", source="analytics", check=check, reason=reason
                )
                return m if up == 0 and n and n >= 1 else None

            await eventually(lambda: reasons("silent", "silent", "timeout"), timeout=15)
            postgres.stop()
            try:
                m = await eventually(lambda: reasons("vap", "vap", "connection"), timeout=15)
                assert value(m, "vigil_analytics_scenarios", status="active") == 1
            finally:
                postgres.start()
            await polled(http, exporter, timeout=20)  # back by itself
            async with http.get(f"{exporter.url}/") as resp:
                page = await resp.text()
            assert "hush-pw" not in page + caplog.text
            assert postgres.password not in page + caplog.text
    finally:
        silent.close()


async def test_a_table_of_100000_scenarios_is_counted_exactly(http, postgres):
    table = await make_table(postgres)
    wanted = {"active": 60_000, "init_startup_processing": 2_000, "stopped": 37_000, "error": 1_000}
    for status, n in wanted.items():
        await insert(postgres, table, status, n, age=3600 if status.endswith("processing") else 0)
    async with exporter_for(config_yaml(table, stuck_after="30m"), postgres.dsn) as exporter:
        m = await polled(http, exporter, timeout=60)
        got = {s: v for s, v in counts(m).items() if v}
        assert got == wanted
        assert value(m, "vigil_analytics_scenarios_stuck", status="init_startup_processing") == 2000
        listed = exporter.source("analytics").problems("vap")
        assert listed["stuck_total"] == 2000 and len(listed["stuck"]) == 100  # bounded
