"""Per-frame colour histograms of the 48x27 full-rate frames (no model, no extra decode).

Scene grouping compares shots by what they look like. The 1/s EfficientNet samples miss shots
shorter than a sample interval, and a location's palette is a strong, cheap cue, so every frame
gets a coarse joint RGB histogram (4 levels per channel, 64 bins, fractions of the frame). About
128 bytes a frame: 4 MB for a 24-minute episode at 24 fps.

Version 2 adds, per frame, the same histogram over the frame's border only (the top third and the
left/right sixths: where the set shows and the people mostly do not, so two shots of one place with
different people in front still match) and the mean colour of a 4x3 grid of cells (the layout of
the picture; 36 bytes). Together about 300 bytes a frame.
"""

from __future__ import annotations

import numpy as np

from ..media import Chunk
from .base import FRAMES, Extractor, FeatureSet, RunContext

LEVELS = 4  # per channel; 4**3 = 64 bins
BINS = LEVELS**3


def colour_histograms(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 64) float32 joint RGB histograms summing to 1 per frame."""
    n = len(frames)
    if n == 0:
        return np.zeros((0, BINS), np.float32)
    q = (frames >> 6).astype(np.int32)  # 0..3 per channel
    idx = (q[..., 0] * LEVELS + q[..., 1]) * LEVELS + q[..., 2]
    idx = idx.reshape(n, -1) + (np.arange(n, dtype=np.int32) * BINS)[:, None]
    counts = np.bincount(idx.ravel(), minlength=n * BINS).reshape(n, BINS)
    return (counts / idx.shape[1]).astype(np.float32)


GRID = (3, 4)  # rows, columns of the layout grid


def border_mask(h: int, w: int) -> np.ndarray:
    """(h, w) bool: the top third plus the left and right sixths of the frame."""
    m = np.zeros((h, w), bool)
    m[: max(1, h // 3)] = True
    side = max(1, w // 6)
    m[:, :side] = True
    m[:, w - side :] = True
    return m


def border_histograms(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 64) float32 histograms of the border region (see `border_mask`)."""
    if len(frames) == 0:
        return np.zeros((0, BINS), np.float32)
    m = border_mask(frames.shape[1], frames.shape[2])
    return colour_histograms(frames[:, m][:, :, None, :])


def layout_grid(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, rows*cols*3) uint8 mean colour per grid cell."""
    n, h, w = frames.shape[:3]
    rows, cols = GRID
    out = np.zeros((n, rows, cols, 3), np.float32)
    ys = np.linspace(0, h, rows + 1).astype(int)
    xs = np.linspace(0, w, cols + 1).astype(int)
    for r in range(rows):
        for c in range(cols):
            out[:, r, c] = frames[:, ys[r] : ys[r + 1], xs[c] : xs[c + 1]].reshape(n, -1, 3).mean(1)
    return np.round(out).astype(np.uint8).reshape(n, -1)


class ColourExtractor(Extractor):
    name = "colour"
    version = "2"
    needs = frozenset({FRAMES})

    def config(self):
        return {"levels": LEVELS, "border": "top3-side6", "grid": list(GRID)}

    def begin(self, ctx: RunContext) -> None:
        self._hists: list[np.ndarray] = []
        self._border: list[np.ndarray] = []
        self._grid: list[np.ndarray] = []
        self._times: list[np.ndarray] = []

    def update(self, chunk: Chunk) -> None:
        if len(chunk.small_frames) == 0:
            return
        self._hists.append(colour_histograms(chunk.small_frames).astype(np.float16))
        self._border.append(border_histograms(chunk.small_frames).astype(np.float16))
        self._grid.append(layout_grid(chunk.small_frames))
        self._times.append(chunk.frame_times)

    def finish(self) -> FeatureSet:
        hist = np.concatenate(self._hists) if self._hists else np.zeros((0, BINS), np.float16)
        border = np.concatenate(self._border) if self._border else np.zeros((0, BINS), np.float16)
        grid = np.concatenate(self._grid) if self._grid else np.zeros((0, GRID[0] * GRID[1] * 3), np.uint8)
        times = np.concatenate(self._times) if self._times else np.zeros(0, np.float64)
        self._hists, self._border, self._grid, self._times = [], [], [], []
        # per-frame arrays: not per-sample, so the pipeline must not trim them to the sample count
        return FeatureSet(arrays={"hist": hist, "border_hist": border, "grid": grid, "frame_times": times}, meta={"frames": int(len(hist)), "per_sample": []})
