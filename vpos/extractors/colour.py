"""Per-frame colour histograms of the 48x27 full-rate frames (no model, no extra decode).

Scene grouping compares shots by what they look like. The 1/s EfficientNet samples miss shots
shorter than a sample interval, and a location's palette is a strong, cheap cue, so every frame
gets a coarse joint RGB histogram (4 levels per channel, 64 bins, fractions of the frame). About
128 bytes a frame: 4 MB for a 24-minute episode at 24 fps.
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


class ColourExtractor(Extractor):
    name = "colour"
    version = "1"
    needs = frozenset({FRAMES})

    def config(self):
        return {"levels": LEVELS}

    def begin(self, ctx: RunContext) -> None:
        self._hists: list[np.ndarray] = []
        self._times: list[np.ndarray] = []

    def update(self, chunk: Chunk) -> None:
        if len(chunk.small_frames) == 0:
            return
        self._hists.append(colour_histograms(chunk.small_frames).astype(np.float16))
        self._times.append(chunk.frame_times)

    def finish(self) -> FeatureSet:
        hist = np.concatenate(self._hists) if self._hists else np.zeros((0, BINS), np.float16)
        times = np.concatenate(self._times) if self._times else np.zeros(0, np.float64)
        self._hists, self._times = [], []
        # per-frame arrays: not per-sample, so the pipeline must not trim them to the sample count
        return FeatureSet(arrays={"hist": hist, "frame_times": times}, meta={"frames": int(len(hist)), "per_sample": []})
