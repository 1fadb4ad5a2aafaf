"""Camera motion and transitions per second of video (the motion model, `vpos/motion.py`).

Reads the grey 96x54 frames the decode pass delivers at 8 per second (`MOTION` need) and runs the
small TSM network on one-second windows as the frames arrive, so only the probabilities are kept
(11 numbers a second).  Cached like every extractor; the weights' identity is in the cache key.
"""

from __future__ import annotations

import numpy as np

from ..media import MOTION_SIZE, Chunk
from .base import MOTION, Extractor, FeatureSet, RunContext


class MotionExtractor(Extractor):
    name = "motion"
    version = "2"  # 2: the model may read the global motion (vpos/global_motion.py)
    needs = frozenset({MOTION})

    def __init__(self, weights: str | None = None):
        from ..motion import MOTION_RATE

        self.weights = weights
        self.motion_rate = MOTION_RATE
        self._model = None

    def config(self):
        from ..motion import weights_id

        return {"weights": weights_id(self.weights), "size": list(MOTION_SIZE), "rate": self.motion_rate}

    def load(self, device: str = "cpu") -> None:
        from ..motion import load_motion_model

        if self._model is None:
            self._model = load_motion_model(self.weights)

    def begin(self, ctx: RunContext) -> None:
        self.load(ctx.device)
        self._buf = np.zeros((0, MOTION_SIZE[1], MOTION_SIZE[0]), np.uint8)
        self._cam: list[np.ndarray] = []
        self._tr: list[np.ndarray] = []

    def _run(self, windows: np.ndarray) -> None:
        import torch

        from ..motion import predict_windows

        if len(windows) == 0:
            return
        # A small model fed a few windows at a time: extra intra-op threads only add
        # synchronisation on a shared CPU (the tagger measured the same).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            cam, tr = predict_windows(self._model, windows)
        finally:
            torch.set_num_threads(threads)
        self._cam.append(cam)
        self._tr.append(tr)

    def update(self, chunk: Chunk) -> None:
        from ..motion import STEPS, windows_from_frames

        if len(chunk.motion_frames) == 0:
            return
        self._buf = np.concatenate([self._buf, chunk.motion_frames])
        full = (len(self._buf) - 1) // STEPS  # windows whose 9 frames have all arrived
        if full > 0:
            self._run(windows_from_frames(self._buf[: full * STEPS + 1], full))
            self._buf = self._buf[full * STEPS :]

    def finish(self) -> FeatureSet:
        from ..motion import STEPS, windows_from_frames

        if len(self._buf):
            rest = int(np.ceil((len(self._buf) - 1) / STEPS)) if len(self._buf) > 1 else 1
            self._run(windows_from_frames(self._buf, rest))
        m = self._model
        cam = np.concatenate(self._cam) if self._cam else np.zeros((0, len(m.camera_labels)), np.float32)
        tr = np.concatenate(self._tr) if self._tr else np.zeros((0, len(m.transition_labels)), np.float32)
        self._buf, self._cam, self._tr = np.zeros((0,) + self._buf.shape[1:], np.uint8), [], []
        return FeatureSet(
            arrays={"camera": cam, "transitions": tr},
            # per second of video (not per analysis sample): the pipeline must not trim them
            meta={"camera_labels": list(m.camera_labels), "transition_labels": list(m.transition_labels),
                  "transition_thresholds": [float(x) for x in m.transition_thresholds], "per_sample": []},
        )
