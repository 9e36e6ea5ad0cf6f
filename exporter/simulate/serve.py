"""`vigil simulate`: the simulated RT Camera API as a standalone server."""

from __future__ import annotations

import logging

from exporter.service import wait_for_signal
from exporter.simulate.fleet import SimulatedFleet
from exporter.simulate.rt_api import serve_rt_api

log = logging.getLogger("vigil.simulate")


async def run_simulator(
    host: str,
    port: int,
    *,
    cameras: int = 200,
    seed: int = 1,
    flap_period: float = 120.0,
    api_key: str | None = None,
) -> None:
    fleet = SimulatedFleet(cameras=cameras, seed=seed, flap_period=flap_period)
    runner = await serve_rt_api(fleet, host, port, api_key=api_key)
    base = f"http://{host}:{port}"
    log.info(
        "simulated RT API with %d cameras (seed %d) at %s/api; faults at %s/_sim/faults, "
        "truth at %s/_sim/truth%s",
        cameras,
        seed,
        base,
        base,
        base,
        "" if api_key else "; no API key required",
    )
    try:
        await wait_for_signal()
    finally:
        await runner.cleanup()
