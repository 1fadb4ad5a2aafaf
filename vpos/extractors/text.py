"""On-screen text per analysis sample (titles, credits, captions, signs) with easyocr's CRAFT.

For every sample: the text boxes (normalised 0..1 frame coordinates), their number, the fraction
of the frame they cover, and the 27x36 (rows x cols) binary mask the source system's AVTNet used:
the frame letterboxed into a 4:3 canvas and every cell a box touches set to 1.

Speed: CRAFT is a VGG16; on a CPU it runs on the frame scaled to `detect_width` (384 px by
default; at 720p, credit text 28 px and taller is found reliably, 20-24 px text partly —
`detect_width=480` finds more of it at about 1.7x the cost), batched, under
bf16 autocast where the CPU supports it. A sample whose grey 64-px thumbnail is nearly identical
to the last sample that went through detection reuses that sample's boxes (held frames, static
title cards and credits pages are common in animation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..media import Chunk
from .base import SAMPLES, Extractor, FeatureSet, RunContext

MODEL_NAME = "easyocr.craft_mlt_25k"
MASK_ROWS, MASK_COLS = 27, 36  # 4:3
THUMB_W = 64


def rasterize(boxes: np.ndarray, frame_w: int, frame_h: int, rows: int = MASK_ROWS, cols: int = MASK_COLS) -> np.ndarray:
    """(K,4) normalised [x0,y0,x1,y1] boxes of a frame_w x frame_h frame -> (rows, cols) uint8
    mask of the frame letterboxed into a rows x cols canvas; a cell is 1 when a box overlaps it."""
    mask = np.zeros((rows, cols), np.uint8)
    if len(boxes) == 0:
        return mask
    scale = min(cols / max(1, frame_w), rows / max(1, frame_h))
    fw, fh = frame_w * scale, frame_h * scale
    ox, oy = (cols - fw) / 2.0, (rows - fh) / 2.0
    eps = 1e-6
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        c0 = int(np.floor(ox + x0 * fw + eps))
        c1 = int(np.ceil(ox + x1 * fw - eps))
        r0 = int(np.floor(oy + y0 * fh + eps))
        r1 = int(np.ceil(oy + y1 * fh - eps))
        c0, r0 = max(0, c0), max(0, r0)
        c1, r1 = min(cols, max(c1, c0 + 1)), min(rows, max(r1, r0 + 1))
        mask[r0:r1, c0:c1] = 1
    return mask


def box_area(boxes: np.ndarray, grid: int = 256) -> float:
    """Fraction of the frame covered by the union of normalised boxes (rasterised on a grid)."""
    if len(boxes) == 0:
        return 0.0
    occ = np.zeros((grid, grid), bool)
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        c0, c1 = int(np.floor(x0 * grid)), int(np.ceil(x1 * grid))
        r0, r1 = int(np.floor(y0 * grid)), int(np.ceil(y1 * grid))
        occ[r0:r1, c0:c1] = True
    return float(occ.mean())


def _thumb(sample: np.ndarray) -> np.ndarray:
    import cv2

    h, w = sample.shape[:2]
    th = max(1, int(round(THUMB_W * h / max(1, w))))
    grey = cv2.cvtColor(np.ascontiguousarray(sample), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (THUMB_W, th), interpolation=cv2.INTER_AREA).astype(np.float32)


class TextExtractor(Extractor):
    name = "text"
    version = "1"
    needs = frozenset({SAMPLES})
    sample_width = 384

    def __init__(
        self,
        detect_width: int = 384,
        text_threshold: float = 0.7,
        low_text: float = 0.4,
        link_threshold: float = 0.4,
        min_size: float = 0.008,
        skip_mean_diff: float = 1.5,
        skip_max_diff: float = 12.0,
        recognize: bool = False,
        precision: str = "auto",
    ):
        from ..errors import OptionsError

        if not 64 <= int(detect_width) <= 4096:
            raise OptionsError(f"text detect_width must be between 64 and 4096, got {detect_width}")
        if precision not in ("auto", "fp32", "bf16", "fp16"):
            raise OptionsError(f"text precision must be auto, fp32, bf16 or fp16, got {precision!r}")
        self.detect_width = int(detect_width)
        self.sample_width = self.detect_width
        self.text_threshold = float(text_threshold)
        self.low_text = float(low_text)
        self.link_threshold = float(link_threshold)
        self.min_size = float(min_size)
        self.skip_mean_diff = float(skip_mean_diff)
        self.skip_max_diff = float(skip_max_diff)
        self.recognize = bool(recognize)
        self.precision = precision
        self._ctx: RunContext | None = None

    def config(self) -> dict[str, Any]:
        return {
            "model": MODEL_NAME,
            "detect_width": self.detect_width,
            "text_threshold": self.text_threshold,
            "low_text": self.low_text,
            "link_threshold": self.link_threshold,
            "min_size": self.min_size,
            "skip_mean_diff": self.skip_mean_diff,
            "skip_max_diff": self.skip_max_diff,
            "recognize": self.recognize,
            "precision": self.precision,
        }

    def _params(self):
        from ..models.text_detector import DetectParams

        return DetectParams(self.text_threshold, self.low_text, self.link_threshold, self.min_size)

    def load(self, device: str = "cpu") -> None:
        from ..models.text_detector import craft_net, get_reader

        craft_net(device)
        if self.recognize:
            get_reader(device, recognizer=True)

    # -- per video -------------------------------------------------------------------------
    def begin(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._masks: list[np.ndarray] = []
        self._areas: list[float] = []
        self._counts: list[int] = []
        self._boxes: list[np.ndarray] = []
        self._strings: dict[int, list[str]] = {}
        self._ref_thumb: np.ndarray | None = None
        self._ref_boxes = np.zeros((0, 4), np.float32)
        self._ref_strings: list[str] = []
        self._n = 0
        self._detected = 0

    @property
    def _device(self) -> str:
        return self._ctx.device if self._ctx else "cpu"

    @property
    def _batch(self) -> int:
        bs = max(1, int(self._ctx.batch_size if self._ctx else 16))
        return max(bs, 32) if self._device.startswith("cuda") else min(bs, 4)

    def update(self, chunk: Chunk) -> None:
        if self._ctx is None:
            raise RuntimeError("TextExtractor.update called before begin")
        samples = chunk.samples
        if samples is None or len(samples) == 0:
            return
        from .visual import as_rgb

        samples = as_rgb(samples)
        m, h, w, _ = samples.shape

        # Which samples need detection: compare each with the last one chosen for detection.
        todo: list[int] = []
        reuse_of: list[int] = []  # -1: own detection; -2: previous chunk's reference; else index in todo
        last_todo = -2 if self._ref_thumb is not None else None
        ref = self._ref_thumb
        for i in range(m):
            th = _thumb(samples[i])
            if ref is not None and ref.shape == th.shape:
                d = np.abs(th - ref)
                if float(d.mean()) < self.skip_mean_diff and float(d.max()) < self.skip_max_diff:
                    reuse_of.append(last_todo)
                    continue
            todo.append(i)
            last_todo = len(todo) - 1
            reuse_of.append(-1)
            ref = th
        self._ref_thumb = ref

        results = self._detect([samples[i] for i in todo])
        strings: list[list[str]] = []
        if self.recognize:
            from ..models.text_detector import recognize

            strings = [recognize(samples[i], b, self._device) for i, b in zip(todo, results)]
        self._detected += len(todo)

        k_todo = 0
        for i in range(m):
            r = reuse_of[i]
            if r == -1:
                boxes = results[k_todo]
                strs = strings[k_todo] if self.recognize else []
                k_todo += 1
            elif r == -2:
                boxes, strs = self._ref_boxes, self._ref_strings
            else:
                boxes = results[r]
                strs = strings[r] if self.recognize else []
            idx = self._n + i
            self._masks.append(rasterize(boxes, w, h))
            self._areas.append(box_area(boxes))
            self._counts.append(len(boxes))
            if len(boxes):
                self._boxes.append(np.concatenate([np.full((len(boxes), 1), idx, np.float32), boxes], axis=1))
            if self.recognize and strs:
                self._strings[idx] = list(strs)
        if todo:
            self._ref_boxes = results[-1]
            self._ref_strings = strings[-1] if self.recognize else []
        self._n += m

    def _detect(self, images: list[np.ndarray]) -> list[np.ndarray]:
        import cv2

        from ..models.text_detector import detect_batch, detection_size

        if not images:
            return []
        h, w = images[0].shape[:2]
        dw, dh = detection_size(w, h, self.detect_width)
        interp = cv2.INTER_AREA if dw <= w else cv2.INTER_LINEAR
        scaled = np.stack([cv2.resize(np.ascontiguousarray(im), (dw, dh), interpolation=interp) for im in images])
        out: list[np.ndarray] = []
        bs = self._batch
        for s in range(0, len(scaled), bs):
            out.extend(detect_batch(scaled[s : s + bs], self._device, self._params(), self.precision))
        return out

    def finish(self) -> FeatureSet:
        if self._ctx is None:
            raise RuntimeError("TextExtractor.finish called before begin")
        from ..models.text_detector import resolve_precision

        n = self._n
        fs = FeatureSet(
            arrays={
                "mask": np.stack(self._masks).astype(np.uint8) if n else np.zeros((0, MASK_ROWS, MASK_COLS), np.uint8),
                "area": np.asarray(self._areas, np.float32).reshape(n),
                "count": np.asarray(self._counts, np.int16).reshape(n),
                "boxes": np.concatenate(self._boxes).astype(np.float32) if self._boxes else np.zeros((0, 5), np.float32),
            },
            meta={
                "model": MODEL_NAME,
                "detect_width": self.detect_width,
                "detected_samples": int(self._detected),
                "mask_shape": [MASK_ROWS, MASK_COLS],
                "precision": resolve_precision(self._device, self.precision),
            },
        )
        if self.recognize:
            fs.meta["strings"] = {int(k): v for k, v in self._strings.items()}
        self._ctx = None
        return fs
