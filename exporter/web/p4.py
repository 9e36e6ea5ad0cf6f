"""Manual Perforce refreshes: start a job (202), see the locks and the jobs. Same token as the rest."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from exporter.sources.p4.locks import Busy, Job
from exporter.web.auth import authorized


class PerforceCommands(Protocol):
    """What the Perforce source offers the web layer (exporter/sources/p4/source.py)."""

    def start_refresh(self, server: str | None = None, stream: str | None = None) -> Job: ...
    def held_locks(self) -> list[Job]: ...
    def job(self, job_id: str) -> Job | None: ...


P4_KEY = web.AppKey("p4", PerforceCommands)


async def refresh(request: web.Request) -> web.Response:
    refused = authorized(request)
    if refused is not None:
        return refused
    server = request.match_info.get("server")
    stream = request.match_info.get("stream")
    if stream is not None:
        stream = "//" + stream.lstrip("/")  # /refresh/p4-main/depot/main -> //depot/main
    try:
        job = request.app[P4_KEY].start_refresh(server, stream)
    except KeyError:
        return web.json_response({"error": f"no Perforce server named {server!r}"}, status=404)
    except Busy as busy:
        return web.json_response({"error": str(busy), "held_by": busy.holder.public()}, status=409)
    return web.json_response(job.public(), status=202)


async def locks(request: web.Request) -> web.Response:
    return web.json_response({"locks": [job.public() for job in request.app[P4_KEY].held_locks()]})


async def job(request: web.Request) -> web.Response:
    found = request.app[P4_KEY].job(request.match_info["id"])
    if found is None:
        return web.json_response({"error": "no such job"}, status=404)
    return web.json_response(found.public())


def add_routes(app: web.Application, p4: PerforceCommands) -> None:
    app[P4_KEY] = p4
    app.router.add_post("/api/v1/p4/refresh", refresh)
    app.router.add_post("/api/v1/p4/refresh/{server}", refresh)
    app.router.add_post("/api/v1/p4/refresh/{server}/{stream:.+}", refresh)
    app.router.add_get("/api/v1/p4/locks", locks)
    app.router.add_get("/api/v1/jobs/{id}", job)
