"""Simulated snapshot cameras for the demo: JPEG frames that are healthy, black or frozen.

`/cam/healthy.jpg` is a textured scene with a box that moves with the clock, `/cam/dark.jpg` the same
scene at night with the lights off, `/cam/frozen.jpg` one picture that stopped updating (the same
JPEG bytes every time, its burnt-in clock stopped: the frame check calls it frozen once that lasted
`frames.thresholds.frozen_seconds`), and `/cam/still.jpg` the same view filmed live where nothing
moves: fresh sensor noise in every frame and a ticking clock, healthy however long it stays still.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from aiohttp import web

WIDTH, HEIGHT = 1280, 720


def _scene(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    scene = cv2.resize(noise, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    for _ in range(40):
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(scene, (x, y), (x + int(rng.integers(20, 200)), y + 80), colour, -1)
        cv2.line(scene, (x, y), (WIDTH - x, HEIGHT - y), colour, 3)
    return scene


def _clock(picture: np.ndarray, ts: float) -> np.ndarray:
    """The camera's burnt-in date and time, white with a black outline, top left."""
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
    out = picture.copy()
    for colour, thick in (((0, 0, 0), 4), ((255, 255, 255), 2)):
        cv2.putText(out, text, (32, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, colour, thick, cv2.LINE_AA)
    return out


def _jpeg(picture: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


class SnapshotCameras:
    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.scene = _scene()
        self.frozen = _jpeg(_clock(self.scene, clock()))
        self.rng = np.random.default_rng()

    def healthy(self) -> bytes:
        picture = self.scene.copy()
        x = int(self.clock() * 40) % (WIDTH - 160)
        cv2.rectangle(picture, (x, 500), (x + 160, 620), (20, 220, 240), -1)
        return _jpeg(picture)

    def dark(self) -> bytes:
        return _jpeg((self.scene * 0.03).astype(np.uint8))

    def still(self) -> bytes:
        """Nothing in the view moves, but the picture is live: sensor noise (sigma 2), clock."""
        noise = self.rng.normal(0.0, 2.0, (HEIGHT, WIDTH)).astype(np.int16)
        live = cv2.add(self.scene, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)
        return _jpeg(_clock(live, self.clock()))

    async def handle(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "healthy":
            body = self.healthy()
        elif kind == "dark":
            body = self.dark()
        elif kind == "frozen":
            body = self.frozen
        elif kind == "still":
            body = self.still()
        else:
            return web.Response(status=404)
        return web.Response(body=body, content_type="image/jpeg")


def make_snapshot_app() -> web.Application:
    cameras = SnapshotCameras()
    app = web.Application()
    app.router.add_get("/cam/{kind}.jpg", cameras.handle)
    return app
