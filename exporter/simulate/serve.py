"""`vigil simulate`: the simulated RT Camera API as a standalone server."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from exporter.service import wait_for_signal
from exporter.simulate.fleet import SimulatedFleet
from exporter.simulate.rt_api import (
    FAULTS_KEY,
    SLOW_FRAGMENTS,
    VARIATIONS,
    Dialect,
    serve_rt_api,
)

log = logging.getLogger("vigil.simulate")


async def run_simulator(
    host: str,
    port: int,
    *,
    cameras: int = 200,
    seed: int = 1,
    flap_period: float = 120.0,
    api_key: str | None = None,
    variations: tuple[str, ...] = (),
    capture: dict[str, Any] | None = None,
) -> None:
    """Serve the simulated fleet (in the dialect `variations` name), or a capture's answers."""
    base = f"http://{host}:{port}"
    no_key = "" if api_key else "; no API key required"
    if capture is not None:
        from exporter.simulate.rt_capture import make_capture_app

        runner = web.AppRunner(make_capture_app(capture, api_key))
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info(
            "RT API answering from a capture (taken by vigil rt-capture) at %s/api%s", base, no_key
        )
    else:
        dialect = Dialect()
        for name in variations:
            if name in VARIATIONS:
                dialect.update(**VARIATIONS[name])
        fleet = SimulatedFleet(cameras=cameras, seed=seed, flap_period=flap_period)
        runner = await serve_rt_api(fleet, host, port, api_key=api_key, dialect=dialect)
        if "slow_fragments" in variations:
            spec = dict(SLOW_FRAGMENTS)
            runner.app[FAULTS_KEY].set(spec.pop("fault"), **spec)
        log.info(
            "simulated RT API with %d cameras (seed %d) at %s/api; faults at %s/_sim/faults, "
            "dialect at %s/_sim/dialect, truth at %s/_sim/truth%s%s",
            cameras,
            seed,
            base,
            base,
            base,
            base,
            f"; variations: {', '.join(variations)}" if variations else "",
            no_key,
        )
    try:
        await wait_for_signal()
    finally:
        await runner.cleanup()
