"""Web routes of the frame checks: evidence frames, reference reset, live results WebSocket.

`/evidence` lists the newest evidence frame of every camera and problem; `/evidence/{camera}/latest`
answers with the newest JPEG (optionally `?problem=blur`), which alert descriptions link to; keys are
validated by the store, so a path can never leave it. Frames and live results show what cameras film
(faces, number plates): they are registered as pictures, which the gate (auth.py) serves only to
authenticated callers whenever authentication is configured.
"""

from __future__ import annotations

import html
import time
from typing import Protocol

from aiohttp import web

from exporter.sources.frames.evidence import Evidence, EvidenceError
from exporter.web.app import LINKS_KEY
from exporter.web.auth import PICTURES_KEY, authorized
from exporter.web.results_hub import ResultsHub


class FrameCommands(Protocol):
    """What the frame source offers the web layer (exporter/sources/frames/source.py)."""

    def cameras(self) -> list[str]: ...
    async def latest_evidence(self, camera: str) -> list[Evidence]: ...
    async def open_evidence(self, key: str) -> bytes | None: ...
    def reset_reference(self, camera: str) -> bool: ...


FRAMES_KEY = web.AppKey("frames", FrameCommands)


async def evidence_index(request: web.Request) -> web.Response:
    source = request.app[FRAMES_KEY]
    rows = []
    for camera in source.cameras():
        for ev in sorted(await source.latest_evidence(camera), key=lambda e: -e.time):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev.time))
            link = f"/evidence/file/{html.escape(ev.key)}"
            rows.append(
                f"<tr><td>{html.escape(camera)}</td><td>{html.escape(ev.problem)}</td>"
                f'<td>{when}</td><td><a href="{link}">frame</a></td></tr>'
            )
    body = "\n".join(rows) or '<tr><td colspan="4">No evidence kept yet.</td></tr>'
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil: frame evidence</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}</style>
</head><body><h1>Frame evidence</h1><p><a href="/">Back to the status page</a></p>
<table><tr><th>camera</th><th>problem</th><th>started</th><th></th></tr>
{body}
</table></body></html>
"""
    return web.Response(text=page, content_type="text/html")


async def evidence_latest(request: web.Request) -> web.Response:
    camera = request.match_info["camera"]
    problem = request.query.get("problem")
    latest = await request.app[FRAMES_KEY].latest_evidence(camera)
    found = [e for e in latest if problem in (None, e.problem)]
    if not found:
        return web.Response(status=404, text="no evidence kept for this camera\n")
    newest = max(found, key=lambda e: e.time)
    raise web.HTTPFound(f"/evidence/file/{newest.key}")


async def evidence_file(request: web.Request) -> web.Response:
    try:
        jpeg = await request.app[FRAMES_KEY].open_evidence(request.match_info["key"])
    except EvidenceError as exc:
        return web.Response(status=503, text=f"evidence store unavailable ({exc.reason})\n")
    if jpeg is None:
        return web.Response(status=404, text="no such evidence\n")
    return web.Response(body=jpeg, content_type="image/jpeg")


async def reset_reference(request: web.Request) -> web.Response:
    refused = authorized(request)
    if refused is not None:
        return refused
    if not request.app[FRAMES_KEY].reset_reference(request.match_info["id"]):
        return web.json_response({"error": "no frame analysed for this camera yet"}, status=404)
    return web.Response(status=204)


def add_routes(app: web.Application, frames: FrameCommands, hub: ResultsHub) -> None:
    app[FRAMES_KEY] = frames
    app[LINKS_KEY].append(("evidence", "Frame evidence (newest frame of every problem)"))
    pictures = [
        app.router.add_get("/evidence", evidence_index),
        app.router.add_get("/evidence/file/{key:.+}", evidence_file),
        app.router.add_get("/evidence/{camera}/latest", evidence_latest),
        app.router.add_get("/ws/results", hub.handler),
    ]
    app[PICTURES_KEY].update(route.resource for route in pictures)
    app.router.add_post("/api/v1/cameras/{id}/reference/reset", reset_reference)

    async def close_hub(app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(close_hub)
