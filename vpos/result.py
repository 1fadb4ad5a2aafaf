"""Typed results of an analysis and their JSON document.

The JSON document (`Analysis.to_json()`) is the product's contract; README.md documents it. Later
stages add their fields to the same document; fields a run did not compute are `null`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .extractors.base import FeatureSet
from .media import VideoInfo

SCHEMA_VERSION = 1


@dataclass
class Shot:
    index: int
    start_frame: int
    end_frame: int  # inclusive
    start_time: float
    end_time: float  # time at which the shot ends (start of the next frame)

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.start_frame + 1


@dataclass
class Segment:
    label: str
    start: float
    end: float
    confidence: float
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass
class Analysis:
    video: VideoInfo
    per_second: dict[str, list]
    shots: list[Shot] | None  # None when the shot extractor did not run
    timings: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    # Reserved for later stages; None until a stage computes them.
    opening: Segment | None = None
    ending: Segment | None = None
    segments: list[Segment] | None = None
    scenes: list[dict] | None = None
    characters: dict | None = None
    tags: dict | None = None
    motion: dict | None = None  # camera motion + transitions, same shape as tags (vpos/motion.py)
    actions: list | None = None  # [{start, end, top5: [{label, score}]}] when Kinetics TSM weights are configured
    # Per-shot signals aligned with `shots` (e.g. scene_boundary_prob); None when no stage made any.
    per_shot: dict[str, list] | None = None
    # Raw per-extractor features (not serialised): later stages and tools read these.
    features: dict[str, FeatureSet] = field(default_factory=dict, repr=False)

    @property
    def cut_frames(self) -> list[int]:
        """Frame indices where a new shot starts (the first shot excluded)."""
        return [s.start_frame for s in (self.shots or [])[1:]]

    def to_dict(self) -> dict[str, Any]:
        from . import __version__

        video = self.video.to_dict()
        doc = {
            "vpos_version": __version__,
            "schema": SCHEMA_VERSION,
            "video": {
                k: video[k]
                for k in (
                    "path",
                    "duration",
                    "fps",
                    "frame_count",
                    "width",
                    "height",
                    "has_audio",
                    "rotation",
                    "variable_frame_rate",
                    "codec",
                    "container",
                )
            },
            "per_second": {k: _clean_list(v) for k, v in self.per_second.items()},
            "shots": [asdict(s) for s in self.shots] if self.shots is not None else None,
            "opening": asdict(self.opening) if self.opening else None,
            "ending": asdict(self.ending) if self.ending else None,
            "segments": [asdict(s) for s in self.segments] if self.segments is not None else None,
            "scenes": self.scenes,
            "per_shot": {k: _clean_list(v) for k, v in self.per_shot.items()} if self.per_shot is not None else None,
            "counts": {
                "shots": len(self.shots) if self.shots is not None else None,
                "scenes": len(self.scenes) if self.scenes is not None else None,
            },
            "characters": self.characters,
            "tags": self.tags,
            "motion": self.motion,
            "actions": self.actions,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warnings": list(self.warnings),
            "options": self.options,
            "cache": self.cache,
        }
        return doc

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def save(self, path) -> None:
        """Write the JSON document atomically (temp file + rename)."""
        from pathlib import Path

        atomic_write_text(Path(path), self.to_json())


def atomic_write_text(path, text: str) -> None:
    """Write text to a temp file beside `path`, then rename it over `path`: a reader (or a run
    killed half-way) never sees a half-written file."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _clean_value(x):
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else round(x, 5)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _clean_list(values) -> list:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    return [_clean_value(v) for v in values]
