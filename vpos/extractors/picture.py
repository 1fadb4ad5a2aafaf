"""Picture statistics per analysis second (no model, no extra decode): what kind of picture it is.

Real video (live action) and drawn animation differ in statistics that hold whatever the show:
camera footage has sensor noise and texture everywhere, smooth shading and thousands of colours;
cel animation has flat fills bounded by lines and a small palette. Held or panned stills (an
illustration held on screen, a pan over a background painting) differ from animation over time:
consecutive frames are identical, or equal up to one global shift. Both are read here from the same
decode pass as everything else: the 1/s sample for the spatial part, the 48x27 full-rate frames of
that second for the temporal part.

Per sample, `stats` (T, PICTURE_DIM) float32, each roughly in [0, 1]:
  0 noise      mean |grey - median3(grey)| (grain / texture)
  1 flat       share of pixels with almost no gradient (flat fills)
  2 soft       share of pixels with a small gradient (shading, texture)
  3 gradient   mean gradient magnitude
  4 colours    log unique colours (5 bits per channel) / log pixels
  5 palette    share of pixels in the 8 most frequent colours (4 bits per channel)
  6 saturation mean HSV saturation
  7 contrast   luminance standard deviation
  8 change     median |frame - previous frame| over the second's frame pairs
  9 held       share of frame pairs that are (almost) identical
 10 residual   median |frame - previous frame shifted by the global motion|
 11 shift      median global motion in 48x27 pixels per frame (phase correlation)
 12 rigid      share of the change a global shift explains (1 - residual / change)
On every 48x27 frame of the second (the label of a second is what most of its frames show, while
the 1/s sample is its first frame only -- a 2-s shot in a fast montage is sampled once, at an edge):
 13 flat_frames  mean share of neighbouring pixel pairs of equal colour (|difference| <= 1 in every
                 channel): drawn fills stay flat when scaled down, camera pictures almost never do
 14 fine_frames  mean |grey - median3(grey)| / 16 (texture left at 48x27)
 15 own_share    share of the second's frames before its first cut: the part its sample shows
 16 next_share   share of the second's frames after its last cut: the part the next second's
                 sample shows (1 and 1 without a cut; below 1 together when a shot starts and ends
                 inside the second, unsampled)
Per 48x27 frame, camera-picture evidence, so a second a cut splits says which part is camera footage
and how much of the second it covers (the mean flat share of 13 mixes the parts):
 17 camera_frames share of the second's frames that look like camera pictures (camera_probability
                  >= 0.5: a logistic score over per-frame statistics, camera_features)
 18 camera_own    that share among the frames before the first cut (all frames without a cut)
 19 camera_next   that share among the frames after the last cut (all frames without a cut)
 20 flat_own      mean flat share (13) of the frames before the first cut
 21 flat_next     mean flat share (13) of the frames after the last cut
 22 fine_own      mean texture (14) of the frames before the first cut
 23 fine_next     mean texture (14) of the frames after the last cut
"""

from __future__ import annotations

import numpy as np

from ..media import Chunk
from .base import FRAMES, SAMPLES, Extractor, FeatureSet, RunContext

PICTURE_DIM = 24
CUT_CHANGE = 12.0  # mean |grey difference| (0-255) of a cut between two 48x27 frames, at least
CUT_RATIO = 3.0  # ... and this many times the second's median frame change (a fast pan is not a cut)
WORK_WIDTH = 256  # spatial statistics are read at this width (cheap; grain survives at 256)
# Per 48x27 frame, whether it looks like a camera picture: a logistic score over cheap statistics of
# the frame (camera_features), fitted on the frames of the footage-rich training corpora by
# `python bench/picture_camera_fit.py` (it prints these constants; validation: other shows' frames).
# Drawn fills keep equal neighbouring pixels and saturated colours when scaled down (the largest
# weights: pairs equal within 1 grey level, saturation). It knows footage as the training corpora's
# clips look at 48x27 -- mostly soft and dull; sharp, finely textured or saturated real video can
# score low (see the README's unseen-footage figures). Frames only: the tagger weighs it with the rest.
CAMERA_FEATURES = ("flat1", "flat3", "flat6", "fine", "lap_mean", "lap_median", "colours", "top8", "saturation",
                   "saturation_std", "contrast", "dark")
CAMERA_MEAN = np.array([0.29872, 0.44371, 0.55453, 4.72999, 28.27707, 13.03963, 0.28428, 0.52704, 0.36643, 0.18468, 0.55518, 0.05879], np.float32)
CAMERA_STD = np.array([0.16711, 0.19846, 0.18695, 3.03248, 13.48466, 13.44899, 0.1537, 0.20165, 0.13466, 0.05924, 0.156, 0.10716], np.float32)
CAMERA_COEF = np.array([-12.9962, -1.9721, 6.1705, 0.8172, -0.4624, -4.1876, -2.6795, 0.5708, -7.1505, 0.9535, 3.8809, 2.1598], np.float32)
CAMERA_BIAS = -13.1537


def spatial_stats(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (8,) the spatial statistics (0-7) of one picture."""
    import cv2

    h, w = rgb.shape[:2]
    if w != WORK_WIDTH:
        rgb = cv2.resize(rgb, (WORK_WIDTH, max(1, int(round(h * WORK_WIDTH / w)))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    g = grey.astype(np.float32)
    noise = float(np.abs(g - cv2.medianBlur(grey, 3).astype(np.float32)).mean())
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    mag = np.sqrt(gx * gx + gy * gy)
    q5 = (rgb >> 3).astype(np.int32)
    codes5 = (q5[..., 0] << 10) | (q5[..., 1] << 5) | q5[..., 2]
    n_pix = codes5.size
    unique = len(np.unique(codes5))
    q4 = (rgb >> 4).astype(np.int32)
    counts = np.bincount(((q4[..., 0] << 8) | (q4[..., 1] << 4) | q4[..., 2]).ravel(), minlength=4096)
    top8 = float(np.sort(counts)[-8:].sum()) / n_pix
    sat = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32).mean() / 255.0
    return np.array([
        min(1.0, noise / 4.0),
        float((mag < 0.75).mean()),
        float(((mag >= 0.75) & (mag < 6.0)).mean()),
        min(1.0, float(mag.mean()) / 16.0),
        np.log(max(unique, 1)) / np.log(n_pix),
        top8,
        sat,
        float(g.std()) / 80.0,
    ], np.float32)


def temporal_stats(frames: np.ndarray) -> np.ndarray:
    """(N, 27, 48, 3) uint8 frames of one second (the previous second's last frame first) ->
    (5,) the temporal statistics (8-12)."""
    return _temporal(frames)[0]


def _temporal(frames: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """(the temporal statistics 8-12, the frame-pair changes) of one second's frames."""
    import cv2

    if len(frames) < 2:
        return np.zeros(5, np.float32), []
    grey = frames.astype(np.float32).mean(-1)
    win = cv2.createHanningWindow(grey.shape[1:][::-1], cv2.CV_32F)
    changes, helds, residuals, shifts = [], [], [], []
    for a, b in zip(grey[:-1], grey[1:]):
        d = float(np.abs(b - a).mean())
        changes.append(d)
        helds.append(d < 0.35)
        if d < 0.35:
            residuals.append(d)
            shifts.append(0.0)
            continue
        # phaseCorrelate windows its inputs in place: give it copies, not views of `grey`. Its
        # sub-pixel estimate is coarse on 48x27, so the integer shifts around it are tried too.
        (dx, dy), _ = cv2.phaseCorrelate(a.copy(), b.copy(), win)
        r, dx, dy = _best_shift(a, b, dx, dy, d)
        residuals.append(r)
        shifts.append(float(np.hypot(dx, dy)))
    # medians: a cut is one frame pair of the second and must not read as motion
    change, residual = float(np.median(changes)), float(np.median(residuals))
    return np.array([
        min(1.0, change / 4.0),
        float(np.mean(helds)),
        min(1.0, residual / 4.0),
        min(1.0, float(np.median(shifts)) / 4.0),
        1.0 - residual / change if change > 0.35 else 1.0,
    ], np.float32), changes


def frame_flat_fine(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 27, 48, 3) uint8 frames -> per frame (flat share of neighbouring pixel pairs, texture in
    grey levels), each (N,)."""
    import cv2

    if len(frames) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    f = frames.astype(np.int16)
    flat_x = (np.abs(np.diff(f, axis=2)).max(-1) <= 1).mean((1, 2))
    flat_y = (np.abs(np.diff(f, axis=1)).max(-1) <= 1).mean((1, 2))
    fine = []
    for fr in frames:
        g = cv2.cvtColor(np.ascontiguousarray(fr), cv2.COLOR_RGB2GRAY)
        fine.append(float(np.abs(g.astype(np.int16) - cv2.medianBlur(g, 3)).mean()))
    return ((flat_x + flat_y) / 2).astype(np.float32), np.asarray(fine, np.float32)


def frame_stats(frames: np.ndarray) -> np.ndarray:
    """(N, 27, 48, 3) uint8 frames -> (2,) statistics 13-14, averaged over the frames."""
    if len(frames) == 0:
        return np.zeros(2, np.float32)
    flat, fine = frame_flat_fine(frames)
    return np.array([float(flat.mean()), min(1.0, float(fine.mean()) / 16.0)], np.float32)


def cut_pairs(changes: list[float]) -> np.ndarray:
    """Indices of the frame pairs (pair i: frames i -> i + 1) that are cuts."""
    if not changes:
        return np.zeros(0, int)
    d = np.asarray(changes, np.float32)
    return np.where((d > CUT_CHANGE) & (d > CUT_RATIO * float(np.median(d))))[0]


def cut_shares(changes: list[float]) -> np.ndarray:
    """(2,) statistics 15-16 from the frame-pair changes of one second's N frames (N - 1 pairs;
    pair i is frames i -> i + 1): the share of frames before the first cut and after the last."""
    n = len(changes) + 1
    cuts = cut_pairs(changes)
    if not len(cuts):
        return np.ones(2, np.float32)
    return np.array([(cuts[0] + 1) / n, (n - cuts[-1] - 1) / n], np.float32)


def camera_features(frames: np.ndarray) -> np.ndarray:
    """(N, 27, 48, 3) uint8 frames -> (N, len(CAMERA_FEATURES)) float32 per-frame statistics: equal
    neighbouring pixel pairs (|difference| <= 1, 3, 6 in every channel), texture, Laplacian mean and
    median, colour count (5 bits per channel) and the 8 most frequent colours' share (4 bits),
    saturation mean and spread, contrast, the share of dark pixels."""
    import cv2

    out = np.zeros((len(frames), len(CAMERA_FEATURES)), np.float32)
    for i, fr in enumerate(frames):
        fr = np.ascontiguousarray(fr)
        f = fr.astype(np.int16)
        dx = np.abs(np.diff(f, axis=1)).max(-1)
        dy = np.abs(np.diff(f, axis=0)).max(-1)
        g = cv2.cvtColor(fr, cv2.COLOR_RGB2GRAY)
        lap = np.abs(cv2.Laplacian(g.astype(np.float32), cv2.CV_32F))
        sat = cv2.cvtColor(fr, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32) / 255.0
        q5 = (fr >> 3).astype(np.int32)
        q4 = (fr >> 4).astype(np.int32)
        counts = np.bincount(((q4[..., 0] << 8) | (q4[..., 1] << 4) | q4[..., 2]).ravel(), minlength=4096)
        n = g.size
        out[i] = (
            ((dx <= 1).mean() + (dy <= 1).mean()) / 2,
            ((dx <= 3).mean() + (dy <= 3).mean()) / 2,
            ((dx <= 6).mean() + (dy <= 6).mean()) / 2,
            float(np.abs(g.astype(np.int16) - cv2.medianBlur(g, 3)).mean()),
            float(lap.mean()),
            float(np.median(lap)),
            len(np.unique((q5[..., 0] << 10) | (q5[..., 1] << 5) | q5[..., 2])) / n,
            float(np.sort(counts)[-8:].sum()) / n,
            float(sat.mean()),
            float(sat.std()),
            float(g.std()) / 80.0,
            float((g < 40).mean()),
        )
    return out


def camera_probability(features: np.ndarray) -> np.ndarray:
    """(N, len(CAMERA_FEATURES)) camera_features -> (N,) probability that each frame is a camera picture."""
    z = ((features - CAMERA_MEAN) / CAMERA_STD) @ CAMERA_COEF + CAMERA_BIAS
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def camera_stats(camera: np.ndarray, flat: np.ndarray, fine: np.ndarray, changes: list[float]) -> np.ndarray:
    """(7,) statistics 17-23 from one second's per-frame camera probabilities (camera_probability),
    flat shares and textures (frame_flat_fine) and its frame-pair changes (N frames, N - 1 pairs):
    the share of frames that look like camera pictures (probability >= 0.5) in the whole second, in
    the part before its first cut and in the part after its last; the mean flat share and texture of
    those two parts."""
    n = len(flat)
    if n == 0:
        return np.zeros(7, np.float32)
    is_camera = (np.asarray(camera) >= 0.5).astype(np.float32)
    cuts = cut_pairs(changes) if len(changes) == n - 1 else np.zeros(0, int)
    own = slice(0, cuts[0] + 1) if len(cuts) else slice(0, n)
    nxt = slice(cuts[-1] + 1, n) if len(cuts) else slice(0, n)
    tex = np.minimum(1.0, fine / 16.0)
    return np.array([
        is_camera.mean(), is_camera[own].mean(), is_camera[nxt].mean(),
        flat[own].mean(), flat[nxt].mean(), tex[own].mean(), tex[nxt].mean(),
    ], np.float32)


MARGIN = 4  # pixels of the 48x27 frame left out when frames are compared shifted (max shift tried)


def _best_shift(a: np.ndarray, b: np.ndarray, dx: float, dy: float, unshifted: float) -> tuple[float, float, float]:
    """(residual, dx, dy): the smallest mean |b - a shifted|, over the interior, among the
    phase-correlation shift and the integer shifts around it (b(x) ~ a(x - shift))."""
    import cv2

    m = MARGIN
    inner = b[m:-m, m:-m]
    best = (min(unshifted, float(np.abs(inner - a[m:-m, m:-m]).mean())), 0.0, 0.0)
    if abs(dx) <= m and abs(dy) <= m:
        moved = cv2.warpAffine(a, np.float32([[1, 0, dx], [0, 1, dy]]), a.shape[::-1], borderMode=cv2.BORDER_REPLICATE)
        best = min(best, (float(np.abs(inner - moved[m:-m, m:-m]).mean()), dx, dy))
    cx, cy = int(round(dx)), int(round(dy))
    h, w = a.shape
    for sy in range(cy - 1, cy + 2):
        for sx in range(cx - 1, cx + 2):
            if abs(sx) > m or abs(sy) > m:
                continue
            r = float(np.abs(inner - a[m - sy : h - m - sy, m - sx : w - m - sx]).mean())
            best = min(best, (r, float(sx), float(sy)))
    return best


class PictureExtractor(Extractor):
    name = "picture"
    version = "5"  # 4: camera-picture shares and per-part frame statistics (17-23); 5: the logistic camera score
    needs = frozenset({SAMPLES, FRAMES})
    # asks for what the text/visual extractors ask for, so a run with or without them sees the same
    # decoder scaling, then reads at WORK_WIDTH
    sample_width = 384

    def config(self):
        return {"work_width": WORK_WIDTH, "camera": [CAMERA_MEAN.tolist(), CAMERA_STD.tolist(), CAMERA_COEF.tolist(), CAMERA_BIAS]}

    def begin(self, ctx: RunContext) -> None:
        self._rate = float(ctx.sample_rate)
        self._spatial: dict[int, np.ndarray] = {}
        self._frames: dict[int, list] = {}
        self._last: np.ndarray | None = None  # the previous second's last frame
        self._last_second = -1
        self._temporal: dict[int, np.ndarray] = {}

    def update(self, chunk: Chunk) -> None:
        for i, s in enumerate(chunk.samples):
            self._spatial[chunk.sample_start + i] = spatial_stats(s)
        for f, t in zip(chunk.small_frames, chunk.frame_times):
            k = int(np.floor(t * self._rate + 1e-6))
            if k != self._last_second:
                self._close(k)
            self._frames.setdefault(k, []).append(f.copy())  # chunk arrays are views of decoder buffers

    def _close(self, next_second: int) -> None:
        """Seconds before `next_second` are complete: reduce their frames to statistics."""
        for k in sorted(x for x in self._frames if x < next_second):
            fr = self._frames.pop(k)
            seq = ([self._last] if self._last is not None else []) + fr
            stats, changes = _temporal(np.stack(seq))
            # cuts inside the second only: the pair (previous second's last frame, this second's
            # first) is before this second's sample, which shows the frame after it
            own = changes[1:] if self._last is not None else changes
            frames = np.stack(fr)
            flat, fine = frame_flat_fine(frames)
            whole = np.array([float(flat.mean()), min(1.0, float(fine.mean()) / 16.0)], np.float32)  # = frame_stats
            camera = camera_probability(camera_features(frames))
            self._temporal[k] = np.concatenate([stats, whole, cut_shares(own), camera_stats(camera, flat, fine, own)])
            self._last = fr[-1]
        self._last_second = next_second

    def finish(self) -> FeatureSet:
        self._close(1 << 40)
        n = max([k + 1 for k in self._spatial] + [0])
        stats = np.zeros((n, PICTURE_DIM), np.float32)
        for k, v in self._spatial.items():
            stats[k, :8] = v
        for k, v in self._temporal.items():
            if 0 <= k < n:
                stats[k, 8 : 8 + len(v)] = v
        self._spatial, self._temporal, self._frames, self._last = {}, {}, {}, None
        return FeatureSet(arrays={"stats": stats}, meta={"n_samples": int(n), "dims": PICTURE_DIM})
