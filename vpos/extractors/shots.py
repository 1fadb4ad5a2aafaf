"""Shot transitions with TransNetV2 over every frame, gated by a cheap change test.

TransNetV2 looks at 100-frame windows and predicts the middle 50 frames. Running it on every
window is the slowest step of an analysis on a CPU (about 1-3x real time). Most windows of an
episode are held frames or slow motion, where no transition can hide, so each 50-frame window first
passes a cheap test on the 48x27 frames it already has: the share of pixels that changed strongly
from the previous frame and from 8 frames back (the second catches fades and dissolves, whose
frame-to-frame change is small). Windows where nothing changed are not run and get probability 0.
`gate=False` runs the model everywhere (bench/ compares both).
"""

from __future__ import annotations

import numpy as np
import torch

from ..media import Chunk
from .base import FRAMES, Extractor, FeatureSet, RunContext

WINDOW = 100
STEP = 50
CONTEXT = 25
PIXEL_DELTA = 16  # per-pixel change (0..255, max over RGB) that counts as "changed"
LONG_LAG = 8


def change_fractions(frames: np.ndarray, prev: np.ndarray | None, lag: int) -> np.ndarray:
    """Share of pixels of each frame that differ by more than PIXEL_DELTA from the frame `lag`
    earlier. `prev` holds the frames before `frames` (at least `lag` of them, or None)."""
    if prev is not None and len(prev):
        allf = np.concatenate([prev[-lag:], frames])
        off = min(lag, len(prev))
    else:
        allf = frames
        off = 0
    out = np.zeros(len(frames), np.float32)
    a = allf.astype(np.int16)
    for i in range(len(frames)):
        j = i + off
        k = j - lag
        if k < 0:
            k = 0
        if j == k:
            continue
        d = np.abs(a[j] - a[k]).max(axis=2)
        out[i] = (d > PIXEL_DELTA).mean()
    return out


class ShotExtractor(Extractor):
    name = "shots"
    version = "1"
    needs = frozenset({FRAMES})

    def __init__(self, gate: bool = True, gate_short: float = 0.02, gate_long: float = 0.05, precision: str = "auto"):
        self.gate = gate
        self.precision = precision
        self.gate_short = gate_short
        self.gate_long = gate_long
        self.model = None

    def config(self):
        cfg = {"model": "transnetv2", "gate": self.gate, "precision": self.precision}
        if self.gate:
            cfg.update(gate_short=self.gate_short, gate_long=self.gate_long)
        return cfg

    def load(self, device: str = "cpu") -> None:
        from ..models import registry

        self.model = registry.load("transnetv2", device)
        self.device = device

    def begin(self, ctx: RunContext) -> None:
        if self.model is None or getattr(self, "device", None) != ctx.device:
            self.load(ctx.device)
        # One window per forward is fastest on a CPU (measured: batches of 2-4 run slower per frame).
        self.batch = 1 if ctx.device == "cpu" else max(1, ctx.batch_size)
        self._autocast = self._resolve_precision(ctx.device)
        self._frames = np.zeros((0, 27, 48, 3), np.uint8)  # frames from self._buf_start on
        self._buf_start = 0
        self._first = None
        self._total = 0
        self._next_window = 0
        self._single: list[np.ndarray] = []
        self._many: list[np.ndarray] = []
        self._ran: list[np.ndarray] = []
        self._cf1: list[np.ndarray] = []
        self._cf8: list[np.ndarray] = []
        self._cf_all1 = np.zeros(0, np.float32)  # change fractions from self._buf_start on
        self._cf_all8 = np.zeros(0, np.float32)
        self._times: list[np.ndarray] = []
        self._pending: list[tuple[int, np.ndarray]] = []

    def update(self, chunk: Chunk) -> None:
        f = chunk.small_frames
        if len(f) == 0:
            return
        if self._first is None:
            self._first = f[0]
        prev = self._frames[-LONG_LAG:] if len(self._frames) else None
        cf1 = change_fractions(f, prev, 1)
        cf8 = change_fractions(f, prev, LONG_LAG)
        self._cf1.append(cf1)
        self._cf8.append(cf8)
        self._times.append(chunk.frame_times)
        self._frames = np.concatenate([self._frames, f])
        self._cf_all1 = np.concatenate([self._cf_all1, cf1])
        self._cf_all8 = np.concatenate([self._cf_all8, cf8])
        self._total += len(f)
        self._run_ready(final=False)

    def finish(self) -> FeatureSet:
        self._run_ready(final=True)
        self._flush_batch()
        single = np.concatenate(self._single)[: self._total] if self._single else np.zeros(0, np.float32)
        many = np.concatenate(self._many)[: self._total] if self._many else np.zeros(0, np.float32)
        ran = np.concatenate(self._ran)[: self._total] if self._ran else np.zeros(0, bool)
        arrays = {
            "single": single.astype(np.float32),
            "many": many.astype(np.float32),
            "evaluated": ran.astype(np.uint8),
            "change_short": np.concatenate(self._cf1) if self._cf1 else np.zeros(0, np.float32),
            "change_long": np.concatenate(self._cf8) if self._cf8 else np.zeros(0, np.float32),
            "frame_times": np.concatenate(self._times) if self._times else np.zeros(0, np.float64),
        }
        meta = {"frames": int(self._total), "windows_run": int(ran.sum() // STEP) if len(ran) else 0}
        self._frames = np.zeros((0, 27, 48, 3), np.uint8)
        return FeatureSet(arrays=arrays, meta=meta)

    # -- windows -------------------------------------------------------------------------------

    def _run_ready(self, final: bool) -> None:
        while True:
            c = self._next_window
            if c >= self._total:
                break
            if not final and c + STEP + CONTEXT > self._total:
                break
            self._window(c)
            self._next_window += STEP
            # Frames before c + STEP - CONTEXT are never needed again (keep LONG_LAG for the gate).
            drop = min(c + STEP - CONTEXT, self._total - LONG_LAG) - self._buf_start
            if drop > 0:
                self._frames = self._frames[drop:]
                self._cf_all1 = self._cf_all1[drop:]
                self._cf_all8 = self._cf_all8[drop:]
                self._buf_start += drop

    def _active(self, c: int) -> bool:
        if not self.gate:
            return True
        lo = max(c - 3 - self._buf_start, 0)
        hi = min(c + STEP + 3, self._total) - self._buf_start
        hi8 = min(c + STEP + LONG_LAG, self._total) - self._buf_start
        short = self._cf_all1[lo:hi]
        long = self._cf_all8[max(c - self._buf_start, 0) : hi8]
        return bool((short.size and short.max() > self.gate_short) or (long.size and long.max() > self.gate_long))

    def _window(self, c: int) -> None:
        n = min(STEP, self._total - c)
        if not self._active(c):
            self._flush_batch()
            self._single.append(np.zeros(n, np.float32))
            self._many.append(np.zeros(n, np.float32))
            self._ran.append(np.zeros(n, bool))
            return
        idx = np.arange(c - CONTEXT, c - CONTEXT + WINDOW)
        idx = np.clip(idx, 0, self._total - 1) - self._buf_start
        window = self._frames[np.clip(idx, 0, len(self._frames) - 1)]
        if c - CONTEXT < 0:  # before the video: the first frame repeated, as TransNetV2 pads
            window[: CONTEXT - c] = self._first
        self._pending.append((n, window))
        if len(self._pending) >= self.batch:
            self._flush_batch()

    def _resolve_precision(self, device: str):
        """bf16 autocast where the CPU computes bf16 natively (half the time of fp32 there, same
        cuts on our test clips and benchmark), else fp32."""
        from ..models.text_detector import cpu_bf16_supported

        if self.precision == "fp32":
            return None
        if str(device).startswith("cuda"):
            return ("cuda", torch.float16) if self.precision in ("auto", "fp16") else ("cuda", torch.bfloat16)
        if self.precision in ("auto", "bf16") and cpu_bf16_supported():
            return ("cpu", torch.bfloat16)
        return None

    @torch.inference_mode()
    def _flush_batch(self) -> None:
        if not self._pending:
            return
        x = torch.from_numpy(np.stack([w for _, w in self._pending])).to(self.model.device)
        if self._autocast is not None:
            with torch.autocast(self._autocast[0], dtype=self._autocast[1]):
                single, extra = self.model(x)
        else:
            single, extra = self.model(x)
        single = torch.sigmoid(single[:, CONTEXT : CONTEXT + STEP, 0]).float().cpu().numpy()
        many = torch.sigmoid(extra["many_hot"][:, CONTEXT : CONTEXT + STEP, 0]).float().cpu().numpy()
        for i, (n, _) in enumerate(self._pending):
            self._single.append(single[i, :n])
            self._many.append(many[i, :n])
            self._ran.append(np.ones(n, bool))
        self._pending = []


def hard_cut_frames(change_short: np.ndarray, change_long: np.ndarray, spike: float = 0.15, min_change: float = 0.2,
                    min_after: float = 0.1) -> np.ndarray:
    """Frames that start a new shot by the pixel changes alone (the first frame of the new shot).

    TransNetV2 misses hard cuts between shots that share a background or palette and some cuts
    inside montages (measured on the tuning shows: 33 of 399 cuts). A hard cut is a frame whose
    change from the previous frame (`change_short`) stands out from the change of both neighbouring
    frames by `spike` (motion changes every frame; a cut changes one), is itself at least
    `min_change`, and whose picture a few frames later still differs from the picture a frame
    before it (`change_long` of frame c + LONG_LAG - 2 compares c + 6 with c - 2), so a flash that
    returns to the same shot is not one.
    """
    cs = np.asarray(change_short, np.float32)
    cl = np.asarray(change_long, np.float32)
    n = len(cs)
    if n < 3 or len(cl) != n:
        return np.zeros(0, np.int64)
    prev = np.r_[0.0, cs[:-1]]
    nxt = np.r_[cs[1:], 0.0]
    k = LONG_LAG - 2
    after = np.zeros(n, np.float32)  # frames without one LONG_LAG ahead (the clip's last few) have no evidence
    after[: max(0, n - k)] = cl[k:]
    ok = (cs - np.maximum(prev, nxt) > spike) & (cs > min_change) & (after > min_after)
    idx = np.nonzero(ok)[0]
    return idx[idx > 0]


def shots_from_predictions(prob: np.ndarray, threshold: float = 0.5, min_gap: int = 2, min_shot: int = 1,
                           confident: float = 0.8) -> list[tuple[int, int]]:
    """Shots as (start_frame, end_frame inclusive), covering every frame.

    Consecutive frames above `threshold` are one transition (a fade or dissolve spans many
    frames); its boundary is placed after the most probable frame. Transitions closer than
    `min_gap` frames merge, so a flash does not split a shot into slivers. A transition less than
    `min_shot` frames after the previous one is a flash or a flicker of the same shot unless both
    are `confident` (a real rapid montage): only the more probable of the two is kept.
    """
    n = len(prob)
    if n == 0:
        return []
    above = prob > threshold
    found: list[tuple[int, float]] = []
    i = 0
    while i < n:
        if above[i]:
            j = i
            while j + 1 < n and (above[j + 1] or (j + 2 < n and above[j + 2] and min_gap > 1)):
                j += 1
            peak = i + int(np.argmax(prob[i : j + 1]))
            cut = peak + 1
            if 0 < cut < n:
                found.append((cut, float(prob[peak])))
            i = j + 1
        else:
            i += 1
    kept: list[tuple[int, float]] = []
    for cut, p in found:
        if kept and cut - kept[-1][0] < min_shot and not (p >= confident and kept[-1][1] >= confident):
            if p > kept[-1][1]:
                kept[-1] = (cut, p)
            continue
        kept.append((cut, p))
    bounds = [0] + [c for c, _ in kept] + [n]
    return [(bounds[k], bounds[k + 1] - 1) for k in range(len(bounds) - 1) if bounds[k + 1] > bounds[k]]
