"""The one small interface every extractor implements.

An extractor declares what it needs from the decode pass (`needs`, `sample_width`), receives
every `Chunk` of that single pass in order (`update`), and returns its features at the end
(`finish`). Its `name`, `version` and `config()` form its part of the feature-cache key, so a
change of weights, settings or code version never serves stale features.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..media import Chunk, VideoInfo

FRAMES = "frames"  # every frame at 48x27
SAMPLES = "samples"  # frames at the analysis rate
AUDIO = "audio"  # 16 kHz mono
MOTION = "motion"  # grey MOTION_SIZE frames at the extractor's `motion_rate`


@dataclass
class FeatureSet:
    """What one extractor computed for one video: named arrays plus JSON-able metadata.

    Arrays indexed by analysis sample have the sample axis first and line up with
    `per_second.t` of the result.
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def __contains__(self, key: str) -> bool:
        return key in self.arrays

    def meta_json(self) -> str:
        return json.dumps(self.meta, sort_keys=True)


@dataclass
class RunContext:
    """What an extractor knows about the run it is part of."""

    info: VideoInfo
    sample_rate: float
    device: str = "cpu"
    batch_size: int = 16


class Extractor(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    # Width of the analysis samples this extractor wants (0 when it needs none); the decoder
    # delivers the largest width asked for and each extractor scales down from there.
    sample_width: ClassVar[int] = 0
    # Grey frames per second this extractor wants at MOTION_SIZE (with MOTION in `needs`).
    motion_rate: ClassVar[float] = 0.0
    # Whether this extractor also wants one sample from each shot the sample grid misses
    # (`Chunk.shot_samples`; see `DecodePlan.shot_samples`).
    shot_samples: ClassVar[bool] = False

    def config(self) -> dict[str, Any]:
        """Settings that change the output; part of the cache key."""
        return {}

    def cache_key_parts(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "config": self.config()}

    @abstractmethod
    def begin(self, ctx: RunContext) -> None:
        """Called once before the first chunk of a video."""

    @abstractmethod
    def update(self, chunk: Chunk) -> None:
        """Called for every chunk of the decode pass, in order."""

    @abstractmethod
    def finish(self) -> FeatureSet:
        """Called after the last chunk; returns the features and releases per-video state."""

    def load(self, device: str = "cpu") -> None:
        """Load models (lazily, once per process). Extractors without models need nothing."""


def resize_samples(samples: np.ndarray, width: int) -> np.ndarray:
    """Scale (M, H, W, 3) uint8 samples to `width` wide, aspect kept (area interpolation)."""
    import cv2

    m, h, w, _ = samples.shape
    if m == 0 or w == width:
        return samples
    height = max(1, int(round(h * width / w)))
    return np.stack([cv2.resize(s, (width, height), interpolation=cv2.INTER_AREA) for s in samples])


def letterbox(samples: np.ndarray, height: int, width: int) -> np.ndarray:
    """Fit (M, H, W, 3) samples inside height x width with black bars, as the source system's
    66x88 video input does."""
    import cv2

    m, h, w, _ = samples.shape
    out = np.zeros((m, height, width, 3), np.uint8)
    if m == 0:
        return out
    scale = min(width / w, height / h)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    for i, s in enumerate(samples):
        out[i, y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(s, (nw, nh), interpolation=cv2.INTER_AREA)
    return out
