"""Frame analysis: is a live camera picture usable? One JPEG frame plus the camera's short history.

A camera can be online and recording while it films a wall, the sky, a spider web or nothing at all.
Five problems are judged, each a plain boolean (see docs/frame-detection.md for the measured detection
and false-alarm rates):

* ``black``: a dark screen (no video, night without IR, a dead sensor).
* ``blur``: the picture lost its fine detail against its own history (defocus, a fogged or dirty lens);
  judged over the local contrast, so a smooth light in the view (the low sun, headlights) is not blur.
* ``occluded``: most of the reference picture's structure is no longer seen (lens covered, a hand, a
  leaf, a spider web smearing the lens); before there is a reference, most of the picture is without
  texture (a wall or the sky filling the view). A dark room keeps its structure.
* ``displaced``: the view jumped away from the camera's reference picture (turned, shifted, rotated)
  and has not come back; a view that moves away step by step (a PTZ camera on patrol) is not.
* ``frozen``: the picture stopped updating for a configured time: every frame equals the one before
  within the encoder's requantisation (identical bytes decode to identical pixels), with no sign of live
  sensor noise and no change in any small region (a burnt-in clock), or it repeats, pixel for pixel, a
  picture the camera showed a few frames ago (an H.264 encoder re-quantising a stopped picture). A still
  scene filmed live is not frozen: its sensor noise never repeats, its clock ticks.

The work is split in two so that the CPU-heavy part can run in a process pool:

`measure` (pure, top-level, picklable arguments and result: JPEG decode and a few OpenCV passes) turns the
JPEG and the camera's reference/previous pictures into raw figures (`Measurement`). It decodes straight
to a reduced grey image (``cv2.IMREAD_REDUCED_GRAYSCALE_{2,4,8}``: libjpeg skips most of the inverse
DCT, and the reduction averages sensor noise away); no check needs colour or full resolution.

`CameraVision` (cheap, one per camera, in the caller's process) keeps the history (reference picture,
sharpness baseline, the previous picture and the digests of the recent ones) and turns a `Measurement` into a `FrameResult` with
the `Thresholds`.

Resolutions. With ``scale=4`` a 1920x1080 frame is decoded at 480x270 (the *decoded* image):
brightness, dark share, contrast, noise and sharpness are computed there, so ``sharpness`` is the
Laplacian variance at 1/scale resolution and only comparable between frames of the same size and scale
(the blur check compares a camera with its own baseline). A second, *small* copy (the decoded image
reduced by the smallest integer factor that fits 320x180: 240x135 = 1/8 of full resolution for 1080p,
320x180 = 1/4 for 720p) serves texture, histogram, alignment and change; it is what the caller keeps as
reference and previous picture (32 to 58 kB), so little crosses the process boundary. Displacement
is reported in full-resolution pixels.

Cost (one core of this project's 2-core machine, 1080p JPEG of about 300 kB): about 4.7 ms per frame,
of which the reduced decode is about 3.2 ms; see bench/vision.py and docs/frame-detection.md.

NumPy and OpenCV only; no I/O and no imports from the rest of the project.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

PROBLEMS = ("black", "blur", "occluded", "displaced", "frozen")

_DECODE_FLAGS = {
    1: cv2.IMREAD_GRAYSCALE,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
MIN_WIDTH, MIN_HEIGHT = 160, 90  # smallest full-resolution frame analysed
SMALL_BOX = (320, 180)  # the small copy fits this box (width, height)
DARK_LEVEL = 40  # grey level below which a pixel counts as dark (dark_share)
GRID = (16, 9)  # texture blocks across, down (15x15 pixels of a 1080p small copy)
# a block of the (3x3-blurred) small copy whose grey standard deviation is below this is textureless
TEXTURE_STD = 2.5
# an aligned block whose normalised correlation with the reference is below this lost its structure
STRUCTURE_NCC = 0.5
HIST_BINS = 32
# blocks of the aligned current picture at least this bright (blurred small copy, block mean) are
# dazzled (the low sun, a headlight): what they show cannot be told, so the structure loss leaves
# them out instead of counting them lost (a covering haze or web stays below: 120-220)
DAZZLED_LEVEL = 235
# side (decoded pixels) of the box whose mean is taken away before the *local* contrast is measured:
# 124 full-resolution pixels at scale 4, so a smooth light (the low sun, headlights, an IR lamp's
# bright centre) adds almost nothing to it, while the texture it is made of is kept
LOCAL_BOX = 31
ALIGN_CONFIDENT = 0.2  # phase-correlation response from which an alignment is trusted
REGION = 5  # side (small-copy pixels) of the windows in which a local change is looked for
# frozen thresholds hold at this many full-resolution pixels per small-copy pixel (1080p, 1440p) and
# scale inversely with it: averaging more pixels shrinks both sensor noise and requantisation alike
CHANGE_FACTOR = 8.0
FINE_QUANT_STEP = 2  # luminance DC quantisation steps up to this are fine (JPEG quality >= 94)
RECENT_PICTURES = 16  # digests of the last distinct pictures a repeat is looked for in
# changed frames in a row (no small region changed, right after an unchanged frame) that do not end a
# frozen stretch when an unchanged frame follows them: re-quantised key frames of a stopped picture
REQUANTISED_RUN = 2
LAPLACIAN_NOISE_GAIN = 20.0  # the 3x3 Laplacian turns white noise of variance v into variance 20 v
# displaced needs a jump: the view moved by more than this share of `displacement_pixels` since the
# last frame whose position was measured (a knocked camera). A view that leaves its reference step by
# step (a PTZ camera panning on its patrol: 12 px a frame) is moving, not displaced
JUMP_SHARE = 0.5

_MIN_REGION = 16  # smallest alignment region side (small-copy pixels)
_REGION_RESPONSE = 0.05  # a region's phase correlation counts from this response on
_MIN_REGIONS = 3  # regions needed to fit rotation and zoom (and to check their agreement)
_FIT_TOLERANCE = 1.0  # small-copy pixels a region may be off the fitted motion
_ALIGN_ROUNDS = 4
_ALIGN_SLACK = 0.005  # response gain a rotation/zoom must bring over the translation alone
_ALIGN_SETTLED = 0.005  # rotation/zoom below this (radians / ratio: 0.3 degrees) is no motion
_IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_LEVELS = np.arange(256, dtype=np.float64)
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


class FrameError(Exception):
    """The frame cannot be analysed; ``reason`` is a short label for metrics (``bad_frame``)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, eq=False)
class Measurement:
    """Raw figures of one frame (see `measure`). Ratios are 0..1; pixels are full-resolution pixels.

    * ``width``, ``height``: the frame size, as the decoded size times ``scale`` (so rounded up to a
      multiple of it); ``scale``: the decode reduction.
    * ``brightness_ratio``: mean grey / 255; ``dark_share``: share of pixels below DARK_LEVEL.
    * ``sharpness``: variance of the 3x3 Laplacian of the decoded image (at 1/scale resolution);
      ``contrast``: its grey standard deviation; ``local_contrast``: the grey standard deviation
      left after taking away the mean of a LOCAL_BOX box around each pixel (the texture without the
      picture's smooth light); ``noise``: its sensor noise (grey standard deviation, a robust
      estimate). The blur check uses sharpness, local contrast and noise (`measured_detail`).
    * ``occlusion_ratio``: share of GRID blocks of the small copy without texture.
    * Against the reference (None without a reference of the same size): ``structure_loss``, share
      of the reference's textured blocks no longer seen after alignment; ``histogram_distance``,
      Bhattacharyya distance of 32-bin grey histograms (0 same .. 1 disjoint; reported, not judged:
      a 30 % brightness change moves it as far as a smear does); ``displacement_pixels``, the
      largest movement of a frame corner under the measured motion; ``response``, the
      phase-correlation peak of the final alignment (0 = cannot tell .. 1); ``shift_x``,
      ``shift_y``, the translation of the picture content (right and down positive);
      ``rotation_degrees``, its rotation (counter-clockwise on screen positive); ``zoom``, its
      scale (1 = none).
    * ``change``: against ``previous`` (the previous frame's small copy; None without one of the same
      size), the mean absolute grey difference of the small copies: at 1080p live sensor noise of
      sigma 1 gives 0.087 and more, the same picture re-encoded at the same quality up to 0.026 (0.077
      at quality 94 and more; docs/frame-detection.md); ``local_change``: the largest mean absolute difference in a REGION x REGION window (a
      burnt-in clock ticking gives 8 and more, re-encoding up to 3).
    * ``quant_step``: the JPEG's luminance DC quantisation step (quantisation table 0; None if the
      table cannot be read): 1-2 for quality 94-100, 3 for 90, 5 for 85, 27 for 30.
    * ``digest``: 16 bytes of SHA-256 over the small copy (equal digests: the same picture).
    * ``small``: the grey small copy (uint8, fits SMALL_BOX): the caller keeps it as history.
    """

    width: int
    height: int
    scale: int
    brightness_ratio: float
    dark_share: float
    sharpness: float
    contrast: float
    local_contrast: float
    noise: float
    occlusion_ratio: float
    structure_loss: float | None
    histogram_distance: float | None
    displacement_pixels: float | None
    response: float | None
    shift_x: float | None
    shift_y: float | None
    rotation_degrees: float | None
    zoom: float | None
    change: float | None
    local_change: float | None
    quant_step: int | None
    digest: bytes
    small: np.ndarray = field(repr=False)


def init_worker() -> None:
    """Process-pool initializer: one OpenCV thread per worker process (the pool is the parallelism).

    Start the pool with ``mp_context=multiprocessing.get_context("forkserver")`` (or "spawn"), not
    Linux's default "fork": a child forked from a process in which OpenCV has run parallel code
    (a large resize, warp or encode) inherits OpenCV's thread pool in a locked state and hangs on its
    first OpenCV call (seen with opencv-python-headless 5.0).
    """
    cv2.setNumThreads(1)


def _luma_dc_step(jpeg: bytes) -> int | None:
    """The first entry (the DC step) of quantisation table 0, which every encoder uses for luminance;
    None when the markers before the scan do not hold it. Reads only the headers (microseconds)."""
    i, n = 2, len(jpeg)
    while i + 4 <= n:
        if jpeg[i] != 0xFF:
            return None
        marker = jpeg[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: no table 0 before it
            return None
        length = (jpeg[i + 2] << 8) | jpeg[i + 3]
        if marker == 0xDB:
            j, end = i + 4, min(i + 2 + length, n)
            while j + 1 < end:
                precision, table = jpeg[j] >> 4, jpeg[j] & 0x0F
                if table == 0:
                    if precision == 0:
                        return jpeg[j + 1]
                    return (jpeg[j + 1] << 8) | jpeg[j + 2] if j + 2 < end else None
                j += 1 + 64 * (2 if precision else 1)
        i += 2 + length
    return None


@lru_cache(maxsize=64)
def _hanning(width: int, height: int) -> np.ndarray:
    return cv2.createHanningWindow((width, height), cv2.CV_32F)


def _noise_sigma(grey: np.ndarray) -> float:
    """Sensor noise (grey standard deviation) of ``grey``, robustly: the median absolute response of
    the 3x3 kernel [1 -2 1] x [1 -2 1] (blind to flat areas, ramps and straight edges), which is 6
    sigma * 0.6745 for white noise (Immerkaer's estimator with a median instead of the mean)."""
    h = grey.shape[0]
    if h >= 64:  # the central half of the rows is plenty, and half the cost
        grey = grey[h // 4 : h - h // 4]
    response = cv2.filter2D(grey, cv2.CV_16S, _NOISE_KERNEL)[1:-1, 1:-1]
    # |response|, saturated at 255 (the median is far below)
    response = cv2.convertScaleAbs(response)
    hist = cv2.calcHist([response], [0], None, [256], [0, 256]).ravel()
    cdf = np.cumsum(hist)
    half = cdf[-1] / 2
    k = int(np.searchsorted(cdf, half))
    below = cdf[k - 1] if k > 0 else 0.0
    median = k + (half - below) / max(hist[k], 1.0) - 0.5  # interpolated within the bin
    return max(median, 0.0) / (6 * 0.6745)


def _small_copy(grey: np.ndarray) -> np.ndarray:
    """The decoded image reduced by the smallest integer factor that fits SMALL_BOX (an integer
    factor keeps OpenCV's fast box-average path: 0.01 ms instead of 0.2 ms for 480x270)."""
    h, w = grey.shape
    k = max(math.ceil(w / SMALL_BOX[0]), math.ceil(h / SMALL_BOX[1]), 1)
    if k == 1:
        return grey
    return cv2.resize(
        grey[: h - h % k, : w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA
    )


@lru_cache(maxsize=1024)
def _fft_size(n: int) -> int:
    """The largest even m <= n whose DFT is fast (2^a 3^b 5^c): a 240x128 phase correlation takes
    0.2 ms, a 240x134 one 0.6 ms."""
    m = n - n % 2  # odd sizes also bias phaseCorrelate by half a pixel
    while m > 2 and cv2.getOptimalDFTSize(m) != m:
        m -= 2
    return max(m, 2)


def _block_std(small: np.ndarray) -> np.ndarray:
    """Grey standard deviation of each GRID block of ``small`` (float32, GRID[1] x GRID[0])."""
    f = small.astype(np.float32)
    f -= float(f.mean())  # keeps E[x^2] - E[x]^2 well conditioned in float32
    mean = cv2.resize(f, GRID, interpolation=cv2.INTER_AREA)
    mean_sq = cv2.resize(f * f, GRID, interpolation=cv2.INTER_AREA)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def _histogram(small: np.ndarray) -> np.ndarray:
    return cv2.calcHist([small], [0], None, [HIST_BINS], [0, 256])


def _phase(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """Shift of ``cur`` against ``ref`` and the peak response, Hanning-windowed.

    The window is applied here rather than passed to cv2.phaseCorrelate: given a window, OpenCV 5.0
    multiplies it into the *input arrays in place* (views included), corrupting the callers' images.
    """
    h, w = ref.shape
    win = _hanning(w, h)
    (dx, dy), response = cv2.phaseCorrelate(ref * win, cur * win)
    return dx, dy, response


def _fit_regions(ref: np.ndarray, cur: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """A 2x3 motion [A | t] (centred coordinates) from the 2x2 regions of the overlap of ``ref`` and
    ``cur`` after the translation (dx, dy): each region is phase correlated on its own, and a
    similarity (zoom, rotation, translation) is fitted to the regions' shifts, weighted by their
    responses; the region that fits worst is dropped while it is off by more than _FIT_TOLERANCE.
    With fewer than _MIN_REGIONS usable regions the motion is the translation alone."""
    h, w = ref.shape
    ix, iy = round(dx), round(dy)
    x0, x1 = max(0, -ix), min(w, w - ix)
    y0, y1 = max(0, -iy), min(h, h - iy)
    found: list[tuple[float, float, float, float, float]] = []  # x, y, shift x, shift y, weight
    if x1 - x0 >= 4 * _MIN_REGION and y1 - y0 >= 2 * _MIN_REGION:
        xm, ym = (x0 + x1) // 2, (y0 + y1) // 2
        for ax, bx in ((x0, xm), (xm, x1)):
            for ay, by in ((y0, ym), (ym, y1)):
                bw, bh = _fft_size(bx - ax), _fft_size(by - ay)
                r = ref[ay : ay + bh, ax : ax + bw]
                c = cur[ay + iy : ay + iy + bh, ax + ix : ax + ix + bw]
                rx, ry, rr = _phase(r, c)
                if rr >= _REGION_RESPONSE:
                    px, py = ax + bw / 2 - w / 2, ay + bh / 2 - h / 2
                    found.append((px, py, ix + rx, iy + ry, rr))
    while len(found) >= _MIN_REGIONS:
        # shift_x = tx + a*x - b*y ; shift_y = ty + b*x + a*y  (zoom a, small rotation b), weighted
        rows, rhs = [], []
        for px, py, sx, sy, wt in found:
            rows += [(wt, 0.0, wt * px, -wt * py), (0.0, wt, wt * py, wt * px)]
            rhs += [wt * sx, wt * sy]
        design, target = np.array(rows), np.array(rhs)
        try:  # the normal equations of 4 unknowns: much cheaper than lstsq
            tx, ty, a, b = np.linalg.solve(design.T @ design, design.T @ target)
        except np.linalg.LinAlgError:
            return _translation(dx, dy)
        off = [
            math.hypot(tx + a * px - b * py - sx, ty + b * px + a * py - sy)
            for px, py, sx, sy, _ in found
        ]
        worst = int(np.argmax(off))
        if off[worst] <= _FIT_TOLERANCE or len(found) == _MIN_REGIONS:
            return np.array([[1.0 + a, -b, tx], [b, 1.0 + a, ty]])
        del found[worst]
    return _translation(dx, dy)


def _compose(motion: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``step`` measured on a picture already warped back by ``motion``, folded into ``motion``."""
    a_m, t_m = motion[:, :2], motion[:, 2]
    return np.hstack([a_m @ step[:, :2], (a_m @ step[:, 2] + t_m)[:, None]])


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def _align(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, float]:
    """The motion of ``cur`` against ``ref`` as a 2x3 matrix in centred coordinates (content at p in
    ``ref`` is at ``A p + t`` in ``cur``) and the phase-correlation response of the final alignment.

    A whole-frame phase correlation gives the translation; the quadrants of the overlap, phase
    correlated again, give rotation and zoom (fitted with and without the zoom, the better kept). A
    rotation/zoom is only kept when ``cur`` warped back by it gives a higher whole-frame response than
    the translation alone (a region of sky or of moving content can mislead the fit); it is then
    refined on the warped picture while the corrections shrink or the response holds (at most
    _ALIGN_ROUNDS rounds), so that rotations of several degrees, which smear a single
    phase-correlation peak, are still measured. Frames without rotation cost one whole-frame and four
    region correlations. All on a centred crop of a fast DFT size, reported for the full frame.
    """
    full_h, full_w = ref.shape
    h, w = _fft_size(full_h), _fft_size(full_w)
    oy, ox = (full_h - h) // 2, (full_w - w) // 2  # a centred crop of a fast DFT size
    ref, cur = ref[oy : oy + h, ox : ox + w], cur[oy : oy + h, ox : ox + w]
    motion, warped = _IDENTITY, cur
    dx, dy, response = _phase(ref, cur)
    last_size = math.inf
    for round_ in range(_ALIGN_ROUNDS):
        if response < _REGION_RESPONSE:  # no whole-frame peak (a large rotation?): ask the regions
            dx = dy = 0.0
        step = _fit_regions(ref, warped, dx, dy)
        size = float(np.abs(step[:, :2] - np.eye(2)).max())
        if size < _ALIGN_SETTLED:  # no rotation/zoom: the whole-frame translation stands
            break
        # the fit with its zoom, and without (a rough first fit often invents some zoom)
        best = None
        for a_step in (step[:, :2], _without_zoom(step[:, :2])):
            candidate = _compose(motion, np.hstack([a_step, step[:, 2:]]))
            candidate_warped = _warp_to_reference(cur, candidate)
            found = (*_phase(ref, candidate_warped), candidate, candidate_warped)
            if best is None or found[2] > best[2]:
                best = found
        cdx, cdy, candidate_response, candidate, candidate_warped = best
        if round_ == 0:
            if candidate_response < response + _ALIGN_SLACK:
                break  # the rotation/zoom does not fit better than the translation alone
        elif size >= last_size and candidate_response < response - _ALIGN_SLACK:
            break  # a refinement must shrink or keep the fit
        motion, warped, last_size = candidate, candidate_warped, size
        dx, dy, response = cdx, cdy, candidate_response
    final = _compose(motion, _translation(dx, dy))
    return _recentre(final, full_w, full_h, w, h), _clip01(response)


def _without_zoom(a: np.ndarray) -> np.ndarray:
    """The rotation part of a similarity's 2x2 matrix."""
    angle = math.atan2(a[1, 0], a[0, 0])
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def _recentre(motion: np.ndarray, full_w: int, full_h: int, w: int, h: int) -> np.ndarray:
    """``motion`` measured on a centred w x h crop, in the coordinates centred on the full frame."""
    d = np.array(
        [full_w / 2 - ((full_w - w) // 2 + w / 2), full_h / 2 - ((full_h - h) // 2 + h / 2)]
    )
    a_m = motion[:, :2]
    return np.hstack([a_m, (motion[:, 2] + (a_m - np.eye(2)) @ d)[:, None]])


def _clip01(x: float) -> float:
    return min(max(float(x), 0.0), 1.0)


def _warp_to_reference(cur: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """``cur`` resampled onto the reference's geometry: aligned(p) = cur(A p + t) (centred p)."""
    h, w = cur.shape
    centre = np.array([w / 2, h / 2])
    a_m, t_m = motion[:, :2], motion[:, 2]
    to_cur = np.hstack([a_m, (t_m + centre - a_m @ centre)[:, None]])
    return cv2.warpAffine(
        cur, to_cur, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )  # fmt: skip


def _structure_loss(ref: np.ndarray, cur: np.ndarray, motion: np.ndarray) -> float | None:
    """Share of the reference's textured GRID blocks (inside the view after ``motion``) whose aligned
    content no longer correlates with the reference (normalised correlation below STRUCTURE_NCC).
    Invariant to brightness and contrast; a covered, smeared or fogged part of the lens loses it.
    Dazzled blocks (block mean at least DAZZLED_LEVEL: the low sun, a headlight) are left out: what
    they show cannot be told. None when no textured block of the reference is inside the view and
    not dazzled."""
    h, w = ref.shape
    moved = (
        np.abs(motion[:, :2] - _IDENTITY[:, :2]).max() > 1e-3 or np.abs(motion[:, 2]).max() > 1.0
    )
    aligned = _warp_to_reference(cur, motion) if moved else cur
    r = ref - float(ref.mean())
    c = aligned - float(aligned.mean())
    mean_r, mean_c = (cv2.resize(x, GRID, interpolation=cv2.INTER_AREA) for x in (r, c))
    var_r, var_c, cov = (
        cv2.resize(x, GRID, interpolation=cv2.INTER_AREA) for x in (r * r, c * c, r * c)
    )
    var_r = var_r - mean_r * mean_r
    var_c = var_c - mean_c * mean_c
    cov = cov - mean_r * mean_c
    ncc = cov / np.sqrt(np.maximum(var_r, 0.0) * np.maximum(var_c, 0.0) + 1e-3)
    # block means of the aligned picture (mean_c is centred on its mean)
    dazzled = mean_c + float(aligned.mean()) >= DAZZLED_LEVEL
    inside = True
    if moved:  # blocks whose four corners stay inside the current frame under the motion
        gx = np.linspace(0, w, GRID[0] + 1) - w / 2
        gy = np.linspace(0, h, GRID[1] + 1) - h / 2
        px, py = np.meshgrid(gx, gy)
        qx = motion[0, 0] * px + motion[0, 1] * py + motion[0, 2] + w / 2
        qy = motion[1, 0] * px + motion[1, 1] * py + motion[1, 2] + h / 2
        corner_in = (qx >= -0.5) & (qx <= w + 0.5) & (qy >= -0.5) & (qy <= h + 0.5)
        inside = corner_in[:-1, :-1] & corner_in[1:, :-1] & corner_in[:-1, 1:] & corner_in[1:, 1:]
    textured = inside & (var_r >= TEXTURE_STD * TEXTURE_STD) & ~dazzled
    count = int(np.count_nonzero(textured))
    if count == 0:
        return None
    return float(np.count_nonzero(textured & (ncc < STRUCTURE_NCC))) / count


def _step_pixels(
    before: tuple[float, float, float, float],
    after: tuple[float, float, float, float],
    width: int,
    height: int,
) -> float:
    """Largest movement of a frame corner (full-resolution pixels) between two positions of the view
    against the reference, each (zoom, rotation in radians, shift x, shift y)."""
    corners = np.array([[-width, -height], [width, -height], [-width, height], [width, height]]) / 2
    moved = []
    for zoom, angle, tx, ty in (before, after):
        c, s = zoom * math.cos(angle), zoom * math.sin(angle)
        moved.append(corners @ np.array([[c, s], [-s, c]]) + (tx, ty))
    return float(np.hypot(*(moved[1] - moved[0]).T).max())


def _corner_displacement(motion: np.ndarray, w: int, h: int) -> float:
    """Largest movement of a frame corner under ``motion`` (pixels of the aligned images)."""
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [-w / 2, h / 2], [w / 2, h / 2]])
    moved = corners @ motion[:, :2].T + motion[:, 2]
    return float(np.hypot(*(moved - corners).T).max())


def measure(
    jpeg: bytes,
    reference: np.ndarray | None,
    previous: np.ndarray | None,
    *,
    scale: int = 4,
) -> Measurement:
    """Raw figures of one JPEG frame (see `Measurement`). Pure, top-level, picklable arguments and
    result: run it in a process pool (see `init_worker`).

    ``reference`` and ``previous`` are ``small`` pictures of earlier measurements of the same camera
    (from `CameraVision.state_for_pool`); one of a different size (the camera changed resolution) is
    ignored and its figures are None. ``scale`` (1, 2, 4 or 8) is the JPEG decode reduction. Raises
    `FrameError` with reason ``bad_frame`` for empty, undecodable or too small (< 160x90) frames.
    """
    if scale not in _DECODE_FLAGS:
        raise ValueError(f"scale must be one of {sorted(_DECODE_FLAGS)}, not {scale}")
    if not jpeg:
        raise FrameError("bad_frame", "empty")
    grey = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), _DECODE_FLAGS[scale])
    if grey is None or grey.ndim != 2 or grey.size == 0:
        raise FrameError("bad_frame", "not a decodable image")
    height, width = grey.shape[0] * scale, grey.shape[1] * scale
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise FrameError("bad_frame", f"{width}x{height} is smaller than {MIN_WIDTH}x{MIN_HEIGHT}")

    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    total = float(grey.size)
    mean = float(hist @ _LEVELS) / total
    brightness = mean / 255.0
    dark_share = float(hist[:DARK_LEVEL].sum()) / total
    lap = cv2.Laplacian(grey, cv2.CV_16S)
    sharpness = float(cv2.meanStdDev(lap)[1][0, 0]) ** 2
    contrast = math.sqrt(max(float(hist @ (_LEVELS * _LEVELS)) / total - mean * mean, 0.0))
    noise = _noise_sigma(grey)
    local = cv2.subtract(grey, cv2.blur(grey, (LOCAL_BOX, LOCAL_BOX)), dtype=cv2.CV_16S)
    local_contrast = float(cv2.meanStdDev(local)[1][0, 0])

    small = _small_copy(grey)
    smooth = cv2.blur(small, (3, 3))  # texture and structure above the sensor noise
    std = _block_std(smooth)
    occlusion = float(np.count_nonzero(std < TEXTURE_STD)) / std.size
    histogram_distance = structure_loss = displacement = response = None
    shift_x = shift_y = rotation = zoom = None
    if reference is not None and reference.shape == small.shape:
        histogram_distance = float(
            cv2.compareHist(_histogram(reference), _histogram(small), cv2.HISTCMP_BHATTACHARYYA)
        )
        sh, sw = small.shape
        ref_f = reference.astype(np.float32)
        ref_smooth = cv2.blur(reference, (3, 3)).astype(np.float32)
        motion, response = _align(ref_f, small.astype(np.float32))
        # without a confident alignment the structure is compared where it is
        structure_loss = _structure_loss(
            ref_smooth,
            smooth.astype(np.float32),
            motion if response >= ALIGN_CONFIDENT else _IDENTITY,
        )
        factor = width / sw  # full-resolution pixels per small-copy pixel
        displacement = _corner_displacement(motion, sw, sh) * factor
        shift_x, shift_y = float(motion[0, 2]) * factor, float(motion[1, 2]) * factor
        # image y points down: a positive angle here is clockwise on screen
        rotation = -math.degrees(math.atan2(motion[1, 0], motion[0, 0]))
        zoom = math.hypot(motion[0, 0], motion[1, 0])
    change = local_change = None
    if previous is not None and previous.shape == small.shape:
        diff = cv2.absdiff(small, previous)
        change = float(cv2.mean(diff)[0])
        local_change = float(cv2.boxFilter(diff, cv2.CV_32F, (REGION, REGION)).max())
    return Measurement(
        width=width,
        height=height,
        scale=scale,
        brightness_ratio=brightness,
        dark_share=dark_share,
        sharpness=sharpness,
        contrast=contrast,
        local_contrast=local_contrast,
        noise=noise,
        occlusion_ratio=occlusion,
        structure_loss=structure_loss,
        histogram_distance=histogram_distance,
        displacement_pixels=displacement,
        response=response,
        shift_x=shift_x,
        shift_y=shift_y,
        rotation_degrees=rotation,
        zoom=zoom,
        change=change,
        local_change=local_change,
        quant_step=_luma_dc_step(jpeg),
        digest=hashlib.sha256(small).digest()[:16],
        small=small,
    )


def measured_detail(m: Measurement) -> float:
    """What the blur check compares: the Laplacian variance left after the sensor noise's share,
    over the local grey variance (`local_contrast`) left after the noise's share. Neither brightness,
    contrast nor the noise level move it, nor a smooth light in the view (the low sun, headlights,
    an IR lamp's bright centre: they add grey variance but no local texture); blur does."""
    noise_var = m.noise * m.noise
    signal = max(m.sharpness - LAPLACIAN_NOISE_GAIN * noise_var, 0.0)
    return signal / max(m.local_contrast * m.local_contrast - noise_var, 1.0)


@dataclass(frozen=True)
class Thresholds:
    """When a measured figure is a problem. Defaults were set on the photographs of
    tests/test_frame_analysis.py (docs/frame-detection.md has the rates they give)."""

    # black: the mean grey is at most this share of white ...
    dark_brightness: float = 0.10
    # ... and at least this share of the pixels is darker than DARK_LEVEL (40/255)
    dark_share: float = 0.90
    # blur works on *detail* (`measured_detail`: the Laplacian variance minus the sensor noise's
    # share, over the grey variance), which brightness, contrast and noise level do not move: a frame
    # is blurred when its detail is below this share of the camera's baseline (the median detail of
    # its last `baseline_frames` healthy frames) ...
    blur_relative: float = 0.5
    baseline_frames: int = 30
    # ... once the baseline holds at least this many frames ...
    baseline_min_frames: int = 5
    # ... or, baseline or not, when the detail is below this floor (only very soft pictures)
    blur_floor: float = 0.01
    # occluded: at least this share of the reference's textured blocks is no longer seen (aligned
    # normalised correlation below STRUCTURE_NCC; dazzled blocks left out): a cover, a hand, a leaf,
    # a smear over part of the lens ...
    structure_loss: float = 0.4
    # ... or, without a reference to compare with, at least this share of the picture is without
    # texture (a wall, the sky, a cover)
    occlusion_share: float = 0.8
    # displaced: a frame corner moved more than this many full-resolution pixels against the
    # reference (translation, rotation and zoom together), the view got there by a jump (more than
    # JUMP_SHARE of this since the last measured frame) or was displaced already ...
    displacement_pixels: float = 40.0
    # ... and the alignment is confident (phase-correlation response); below it: "cannot tell"
    displacement_response: float = ALIGN_CONFIDENT
    # frozen: a frame is unchanged when it repeats one of the last RECENT_PICTURES distinct pictures
    # pixel for pixel, or when against the previous frame (`change`, mean absolute grey difference of
    # the small copies) it shows no live sensor noise: below this (measured at 1080p: sensor noise of
    # sigma 1 from 0.087, the same picture decoded and re-encoded at the same quality up to 0.026) ...
    frozen_noise: float = 0.05
    # ... or below this for finely quantised JPEGs (luminance DC step up to FINE_QUANT_STEP, quality
    # 94 and more: re-encoding up to 0.077, sigma 1 noise from 0.108); both at 1080p, scaled by
    # CHANGE_FACTOR over the full-resolution pixels per small-copy pixel ...
    frozen_noise_fine: float = 0.09
    # ... and no small region changed: `local_change` below this (a burnt-in clock ticking: 8 and
    # more; re-encoding: up to 3) ...
    frozen_region: float = 4.0
    # ... frozen once every frame for at least this many seconds was unchanged
    frozen_seconds: float = 120.0
    # a healthy frame replaces the reference when the reference is older than this
    reference_refresh_seconds: float = 3600.0


@dataclass(frozen=True, eq=False)
class FrameResult:
    """The judgement of one frame. ``problems`` has all five names; ``started`` lists the problems that
    were False for the previous frame and are True now (store evidence for those)."""

    brightness_ratio: float
    sharpness: float  # Laplacian variance at 1/scale (see Measurement)
    occlusion_ratio: float  # textureless share of the picture
    structure_loss: float | None  # share of the reference's structure no longer seen
    displacement_pixels: float | None  # None without a reference or without a confident alignment
    response: float | None  # alignment confidence (0..1), None without a reference
    sharpness_ratio: float | None  # detail against the baseline median (None before the baseline)
    change: float | None  # mean absolute grey difference to the previous frame (small copies)
    local_change: float | None  # the largest change in a small region (a clock)
    repeated: bool  # the picture is one of the recent distinct pictures, pixel for pixel
    unchanged_seconds: float  # how long every frame has been unchanged
    problems: dict[str, bool]
    started: list[str]


class CameraVision:
    """Per-camera history and judgement. Cheap: run it in the caller's process, `measure` in a pool:

        reference, previous = vision.state_for_pool()
        m = await loop.run_in_executor(pool, measure, jpeg, reference, previous)
        result = vision.judge(m, time.time())

    History:

    * the *reference* picture is set from the first healthy frame (no problem at all) and replaced by a
      healthy frame once it is older than ``reference_refresh_seconds``; a frame with any problem never
      touches it, so a turned camera stays ``displaced`` until `reset_reference` (an operator accepting
      the new view) or until it turns back;
    * the *sharpness baseline* is the detail of the last ``baseline_frames`` healthy frames;
    * the *previous* picture is the last frame's (any frame), and the digests of the last
      RECENT_PICTURES distinct pictures are kept; ``unchanged_seconds`` counts from the last frame
      that was not unchanged (see `Thresholds` for what unchanged means). Up to REQUANTISED_RUN
      changed frames between unchanged ones do not end the count when no small region changed in
      them (an H.264 encoder fed a stopped picture re-quantises it now and then; live sensor noise
      changes every frame, so a picture that comes back to life ends it at its third frame).

    Precedence (one cause, one problem): ``black`` explains everything else, so a black frame is not
    also blurred, occluded, displaced or frozen. ``occluded`` explains blur, displacement and a frozen
    picture (a covered lens sees nothing sharp, nothing to align and nothing moving). ``blur``,
    ``displaced`` and ``frozen`` are independent of each other.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._reference: np.ndarray | None = None
        self._reference_at = 0.0
        self._previous: np.ndarray | None = None
        self._recent: dict[bytes, None] = {}  # digests of recent distinct pictures, oldest first
        self._unchanged_since: float | None = None
        self._last_still = False  # the last frame was unchanged
        self._run = 0  # changed frames in a row that only a re-quantisation might explain
        self._details: deque[float] = deque(maxlen=self.thresholds.baseline_frames)
        self._problems = dict.fromkeys(PROBLEMS, False)
        self._geometry: tuple[int, int, int] | None = None
        # the view's last confidently measured position against the reference (zoom, rotation in
        # radians, shift x, shift y; full-resolution pixels), and whether it jumped off the reference
        self._position: tuple[float, float, float, float] | None = None
        self._jumped = False

    @property
    def reference(self) -> np.ndarray | None:
        return self._reference

    @property
    def previous(self) -> np.ndarray | None:
        return self._previous

    @property
    def problems(self) -> dict[str, bool]:
        return dict(self._problems)

    def state_for_pool(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(reference, previous) to pass to `measure` for this camera's next frame."""
        return self._reference, self._previous

    def reset_reference(self) -> None:
        """Forget the reference: the next healthy frame becomes it (after a camera was re-aimed)."""
        self._reference = None
        self._position = None
        self._jumped = False

    def _no_live_change(self, m: Measurement) -> bool:
        """The frame equals the previous one within the requantisation of re-encoding: no sign of
        live sensor noise (`change`) and no small region changed (`local_change`)."""
        if m.change is None or m.local_change is None:
            return False
        t = self.thresholds
        fine = m.quant_step is not None and m.quant_step <= FINE_QUANT_STEP
        pixels_per_small = m.width / m.small.shape[1]
        bound = (t.frozen_noise_fine if fine else t.frozen_noise) * CHANGE_FACTOR / pixels_per_small
        return m.change < bound and m.local_change < t.frozen_region

    def judge(self, m: Measurement, now: float) -> FrameResult:
        """Judge one measured frame taken at ``now`` (unix seconds) and update the history."""
        t = self.thresholds
        geometry = (m.width, m.height, m.scale)
        if geometry != self._geometry:
            # first frame, or the camera changed resolution: the history no longer compares
            self._geometry = geometry
            self._reference = self._previous = self._unchanged_since = self._position = None
            self._jumped = False
            self._recent.clear()
            self._last_still = False
            self._run = 0
            self._details.clear()
        detail = measured_detail(m)
        baseline = None
        if self._details and len(self._details) >= t.baseline_min_frames:
            baseline = statistics.median(self._details)
        sharpness_ratio = detail / baseline if baseline else None
        confident = m.response is not None and m.response >= t.displacement_response
        displacement = m.displacement_pixels if confident else None

        repeated = m.digest in self._recent
        still = repeated or self._no_live_change(m)
        if self._unchanged_since is None:
            self._unchanged_since = now
        elif still:
            self._run = 0
        elif (
            (self._last_still or 0 < self._run < REQUANTISED_RUN)
            and m.local_change is not None
            and m.local_change < t.frozen_region
        ):
            # changed, but as a re-quantisation would (no small region), right after an unchanged
            # frame: an encoder re-quantising the stopped picture, if an unchanged frame follows
            self._run += 1
        else:
            self._unchanged_since = now
            self._run = 0
        self._last_still = still
        unchanged = max(now - self._unchanged_since, 0.0)
        self._previous = m.small
        self._recent.pop(m.digest, None)
        self._recent[m.digest] = None
        if len(self._recent) > RECENT_PICTURES:
            del self._recent[next(iter(self._recent))]

        black = m.brightness_ratio <= t.dark_brightness and m.dark_share >= t.dark_share
        # with a reference, what is lost of its structure decides (a room whose lights went off is
        # textureless but still shows its structure); without one, the textureless share
        if m.structure_loss is not None:
            occluded = not black and m.structure_loss >= t.structure_loss
        else:
            occluded = not black and m.occlusion_ratio >= t.occlusion_share
        clear = not black and not occluded
        blur = clear and (
            detail < t.blur_floor
            or (sharpness_ratio is not None and sharpness_ratio < t.blur_relative)
        )
        # displaced: off the reference, and got there by a jump (a knocked camera), not step by
        # step (a PTZ camera panning on its patrol); it stays displaced until it is back
        position = None
        if displacement is not None and m.shift_x is not None and m.shift_y is not None:
            position = (
                m.zoom or 1.0,
                -math.radians(m.rotation_degrees or 0.0),
                m.shift_x,
                m.shift_y,
            )
            if displacement <= t.displacement_pixels:
                self._jumped = False
            elif not self._jumped:
                step = (
                    _step_pixels(self._position, position, m.width, m.height)
                    if self._position is not None
                    else math.inf
                )
                self._jumped = step > t.displacement_pixels * JUMP_SHARE
            self._position = position
        displaced = clear and position is not None and self._jumped
        frozen = clear and unchanged >= t.frozen_seconds
        problems = {
            "black": black,
            "blur": blur,
            "occluded": occluded,
            "displaced": displaced,
            "frozen": frozen,
        }
        started = [p for p in PROBLEMS if problems[p] and not self._problems[p]]
        self._problems = problems

        if not any(problems.values()):
            self._details.append(detail)
            if self._reference is None or now - self._reference_at >= t.reference_refresh_seconds:
                self._reference = m.small
                self._reference_at = now
                self._position = (1.0, 0.0, 0.0, 0.0)  # this frame is the new reference
                self._jumped = False
        return FrameResult(
            brightness_ratio=m.brightness_ratio,
            sharpness=m.sharpness,
            occlusion_ratio=m.occlusion_ratio,
            structure_loss=m.structure_loss,
            displacement_pixels=displacement,
            response=m.response,
            sharpness_ratio=sharpness_ratio,
            change=m.change,
            local_change=m.local_change,
            repeated=repeated,
            unchanged_seconds=unchanged,
            problems=problems,
            started=started,
        )
