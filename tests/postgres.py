"""The throwaway PostgreSQL cluster of exporter/simulate/postgres.py, as the tests need it: missing
server binaries fail a test under CI and skip it elsewhere."""

from __future__ import annotations

import os

import pytest

from exporter.simulate.postgres import MISSING, find_bindir
from exporter.simulate.postgres import PostgresServer as _PostgresServer


class PostgresServer(_PostgresServer):
    def __init__(self, bindir: str | os.PathLike | None = None) -> None:
        if bindir is None:
            bindir = find_bindir()
        if bindir is None:
            message = f"{MISSING}; .ci/run installs them"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        super().__init__(bindir)
