"""Simulated snapshot cameras for the demo: JPEG frames that are healthy, black or frozen.

`/cam/healthy.jpg` is a textured scene with a box that moves with the clock, `/cam/dark.jpg` the same
scene at night with the lights off, and `/cam/frozen.jpg` one picture that never changes (the frame
check calls it frozen once it has not changed for `frames.thresholds.frozen_seconds`).
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


def _jpeg(picture: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


class SnapshotCameras:
    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.scene = _scene()
        self.frozen = _jpeg(self.scene)

    def healthy(self) -> bytes:
        picture = self.scene.copy()
        x = int(self.clock() * 40) % (WIDTH - 160)
        cv2.rectangle(picture, (x, 500), (x + 160, 620), (20, 220, 240), -1)
        return _jpeg(picture)

    def dark(self) -> bytes:
        return _jpeg((self.scene * 0.03).astype(np.uint8))

    async def handle(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "healthy":
            body = self.healthy()
        elif kind == "dark":
            body = self.dark()
        elif kind == "frozen":
            body = self.frozen
        else:
            return web.Response(status=404)
        return web.Response(body=body, content_type="image/jpeg")


def make_snapshot_app() -> web.Application:
    cameras = SnapshotCameras()
    app = web.Application()
    app.router.add_get("/cam/{kind}.jpg", cameras.handle)
    return app
