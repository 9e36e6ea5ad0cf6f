"""The session's throwaway PostgreSQL: it takes logins, survives a stop/start and checks passwords."""

from __future__ import annotations

import asyncpg
import pytest


async def test_connect_create_table_and_read_back(postgres):
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await conn.execute("CREATE TABLE fixture_probe (id int PRIMARY KEY, name text NOT NULL)")
        await conn.executemany(
            "INSERT INTO fixture_probe VALUES ($1, $2)", [(1, "north gate"), (2, "dock 4")]
        )
        rows = await conn.fetch("SELECT id, name FROM fixture_probe ORDER BY id")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [(1, "north gate"), (2, "dock 4")]
    await postgres.asql("DROP TABLE fixture_probe")


async def test_stopped_server_refuses_then_comes_back_with_its_data(postgres):
    await postgres.asql("CREATE TABLE survives_restart (v text)")
    await postgres.asql("INSERT INTO survives_restart VALUES ($1)", "kept")
    port = postgres.port
    postgres.stop()
    try:
        assert not postgres.running
        with pytest.raises(OSError):  # ConnectionRefusedError on loopback
            await asyncpg.connect(postgres.dsn, timeout=5)
    finally:
        postgres.start()
    assert postgres.port == port
    conn = await asyncpg.connect(postgres.dsn)
    try:
        assert await conn.fetchval("SELECT v FROM survives_restart") == "kept"
    finally:
        await conn.close()
    await postgres.asql("DROP TABLE survives_restart")


async def test_roles_log_in_with_their_password_only(postgres):
    await postgres.acreate_role("fixture_reader", "right-pw")
    try:
        conn = await asyncpg.connect(postgres.dsn_for("fixture_reader", "right-pw"))
        try:
            assert await conn.fetchval("SELECT current_user") == "fixture_reader"
        finally:
            await conn.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(postgres.dsn_for("fixture_reader", "wrong-pw"))
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(postgres.dsn_for("postgres", "not-" + postgres.password))
    finally:
        await postgres.asql("DROP ROLE fixture_reader")
