"""Web routes of the frame checks: evidence frames, reference reset, live results WebSocket.

`/evidence` lists the newest evidence frame of every camera and problem; `/evidence/{camera}/latest`
answers with the newest JPEG (optionally `?problem=blur`), which alert descriptions link to; keys are
validated by the store, so a path can never leave it. Frames and live results show what cameras film
(faces, number plates): they are registered as pictures, which the gate (auth.py) serves only to
authenticated callers whenever authentication is configured.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

from aiohttp import web

from exporter.sources.frames.evidence import Evidence, EvidenceError
from exporter.web.app import LINKS_KEY
from exporter.web.auth import PICTURES_KEY, authorized
from exporter.web.layout import esc, render
from exporter.web.results_hub import ResultsHub
from exporter.web.status import FLEET_KEY, nav, words_for


class FrameCommands(Protocol):
    """What the frame source offers the web layer (exporter/sources/frames/source.py)."""

    def cameras(self) -> list[str]: ...
    async def latest_evidence(self, camera: str) -> list[Evidence]: ...
    async def open_evidence(self, key: str) -> bytes | None: ...
    def reset_reference(self, camera: str) -> bool: ...


FRAMES_KEY = web.AppKey("frames", FrameCommands)


EVIDENCE_REFRESH = 60


async def evidence_index(request: web.Request) -> web.Response:
    """Every camera's newest frame of each problem, newest first, with its thumbnail, the camera's
    name and the capture time in the configured time zone."""
    words, set_cookie = words_for(request)
    source = request.app[FRAMES_KEY]
    known = request.app[FLEET_KEY].cameras()
    kept = []
    for camera in source.cameras():
        kept += [(camera, ev) for ev in await source.latest_evidence(camera)]
    kept.sort(key=lambda item: -item[1].time)
    rows = []
    for camera, ev in kept:
        link = f"/evidence/file/{quote(ev.key, safe='/')}"
        described = known.get(camera)
        name = described.label() if described is not None else camera
        where = described.address if described is not None else ""
        who = f"{esc(name)}" + (f"<br><small>{esc(camera)}</small>" if name != camera else "")
        if where:
            who += f"<br><small>{esc(where)}</small>"
        caption = f"{name}: {words.term(ev.problem)}"
        rows.append(
            f'<tr><td><a href="{esc(link)}"><img class="thumb" src="{esc(link)}" loading="lazy" '
            f'alt="{esc(caption)}"></a></td><td>{who}</td>'
            f'<td><span class="badge bad">{esc(words.term(ev.problem))}</span></td>'
            f"<td>{esc(words.time(ev.time))}</td></tr>"
        )
    empty = f'<tr><td colspan="4">{esc(words.t("no_evidence_kept"))}</td></tr>'
    heads = "".join(
        f"<th>{esc(words.t(k))}</th>"
        for k in ("col_frame", "col_camera", "col_problem", "col_started")
    )
    body = f"""<h2>{esc(words.t("evidence_title"))}</h2>
<p>{esc(words.t("evidence_intro"))} <a href="./">{esc(words.t("back"))}</a></p>
<table class="evidence"><tr>{heads}</tr>
{"".join(rows) or empty}
</table>"""
    return render(
        request,
        words,
        title=f"Vigil: {words.t('evidence_title')}",
        body=body,
        nav=nav(request, words),
        refresh=EVIDENCE_REFRESH,
        set_cookie=set_cookie,
        footer=esc(words.t("times_in", tz=words.tz.key)),
    )


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
    app[LINKS_KEY].append(("evidence", "evidence_link"))
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
