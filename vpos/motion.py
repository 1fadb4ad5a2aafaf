"""Camera motion and transitions per second: a small TSM network we train on the corpus.

Input: for every second of video, 9 grey 96x54 frames at 8 per second (the decode pass delivers
them; `vpos/media.py` MOTION_SIZE) -> 8 time steps, each the frame and its difference to the next
(global motion between frames is what the classes are made of), plus two coordinate planes so
the network can tell motion towards the edges (zoom in) from motion towards the centre (zoom out).
Per step: a 3-layer 2D CNN with the temporal shift module (`vpos/tsm.py`, bi-directional, 1/8 of
the channels from the past and 1/8 from the future) before each layer after the stem; a 3x4
spatial pool; the 8 steps averaged; two heads:
- camera (softmax, one per second): static, pan, tilt, zoom_in, zoom_out, shake, scroll;
- transitions (sigmoid, several per second): cut, dissolve, fade, wipe.
`shift=False` is the plain 2D ablation (same network, no channel crosses time before the average).

With `motion_features` > 0 (the shipped model), each step also gets the explicit global motion of
its frame pair (`vpos/global_motion.py`: translation, signed zoom, rotation, fit residual, frame
change; whole frame and border ring), through a small per-step MLP; the CNN's and the MLP's step
vectors are concatenated and pass one more per-step layer, with the temporal shift before it
(shake is translation that flips sign from step to step: the shift lets one layer compare
neighbouring steps).  Why: the CNN alone never learned the sign of a zoom (held out, zoom in was
mostly called zoom out); one fitted log-scale per step carries it directly, and the fit holds on
any video, not only on what the corpus builder draws.

Labels come from the corpus builder's exact camera path (`vpos/corpus/truth.py`); training and the
held-out figures: `bench/motion_eval.py`.  Weights: `weights/motion` (PyTorchModelHubMixin, like
`vpos/oped_model.py`), or a Hub id `owner/name@revision`, or $VPOS_MOTION_WEIGHTS.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from huggingface_hub import PyTorchModelHubMixin

from .corpus.truth import CAMERA_LABELS, TRANSITION_LABELS
from .tsm import shift as temporal_shift

MOTION_RATE = 8.0  # grey frames per second of video
STEPS = 8  # time steps per one-second window (TSM segments)
MOTION_ENV = "VPOS_MOTION_WEIGHTS"
DEFAULT_MOTION_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "motion"
VOCABULARY = list(CAMERA_LABELS) + list(TRANSITION_LABELS)


class MotionNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="vpos",
    tags=["video", "camera-motion", "shot-transitions", "temporal-shift-module"],
    license="mit",
):
    def __init__(self, width: int = 16, shift: bool = True, steps: int = STEPS, fold_div: int = 8,
                 camera_labels: list | tuple = tuple(CAMERA_LABELS), transition_labels: list | tuple = tuple(TRANSITION_LABELS),
                 transition_thresholds: list | tuple | None = None, motion_features: int = 0):
        super().__init__()
        self.shift, self.steps, self.fold_div = bool(shift), int(steps), int(fold_div)
        self.camera_labels, self.transition_labels = list(camera_labels), list(transition_labels)
        self.transition_thresholds = list(transition_thresholds or [0.5] * len(self.transition_labels))
        w = width
        self.stem = nn.Sequential(nn.Conv2d(4, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        chans = [(w, 2 * w, 2), (2 * w, 4 * w, 2)]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()) for a, b, s in chans)
        self.pool = nn.AdaptiveAvgPool2d((3, 4))
        self.fc = nn.Sequential(nn.Linear(4 * w * 12, 128), nn.ReLU(), nn.Dropout(0.2))
        self.motion_features = int(motion_features)
        if self.motion_features:
            # 64 motion channels first: the shift moves channels 0-23 (from the future) and 24-47
            # (from the past) of the 192, so the fused layer sees the global motion of the step
            # before, this one and the one after.
            self.motion_mlp = nn.Sequential(nn.Linear(self.motion_features, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
            self.fuse = nn.Sequential(nn.Linear(64 + 128, 128), nn.ReLU(), nn.Dropout(0.1))
        self.camera_head = nn.Linear(128, len(self.camera_labels))
        self.transition_head = nn.Linear(128, len(self.transition_labels))

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, 4, H, W) [, g (B, T, motion_features) from `global_motion.window_motion`]
        -> camera logits (B, C), transition logits (B, K)."""
        b, t = x.shape[:2]
        y = self.stem(x.flatten(0, 1))
        for layer in self.layers:
            if self.shift:
                y = temporal_shift(y, t, self.fold_div, "bidirectional")
            y = layer(y)
        y = self.fc(self.pool(y).flatten(1))
        if self.motion_features:
            if g is None:
                raise ValueError("this motion model reads the global motion of every step: pass g")
            y = torch.cat([self.motion_mlp(compress_motion(g).flatten(0, 1)), y], 1)
            if self.shift:
                y = temporal_shift(y.view(b * t, -1, 1, 1), t, self.fold_div, "bidirectional").view(b * t, -1)
            y = self.fuse(y)
        y = y.view(b, t, -1).mean(1)
        return self.camera_head(y), self.transition_head(y)


def compress_motion(g: torch.Tensor) -> torch.Tensor:
    """Global-motion features -> network scale: speeds (frame heights per second, the truth's move
    threshold is 0.04) on a signed log scale that keeps the sign and resolves both a slow drift
    and a fast pan; the fit residual as it is (0..4); the frame change on a log scale."""
    from .global_motion import FEATURE_NAMES

    out = g.clone()
    for j, name in enumerate(FEATURE_NAMES):
        if name == "change":
            out[..., j] = torch.log1p(g[..., j])
        elif name != "residual":
            out[..., j] = torch.sign(g[..., j]) * torch.log1p(g[..., j].abs() / 0.02)
    return out


def window_inputs(frames: np.ndarray) -> torch.Tensor:
    """(B, STEPS + 1, H, W) uint8 grey frames -> (B, STEPS, 4, H, W) float: each step's frame and its
    difference to the next, scaled by the window's own contrast (so exposure does not matter), and
    the x/y coordinate planes."""
    f = torch.from_numpy(np.ascontiguousarray(frames)).float()
    mean = f.mean((1, 2, 3), keepdim=True)
    std = f.std((1, 2, 3), keepdim=True).clamp_min(4.0)
    f = (f - mean) / std
    diff = (f[:, 1:] - f[:, :-1]) * 2.0
    b, t1, h, w = f.shape
    ys = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, t1 - 1, h, w)
    xs = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, t1 - 1, h, w)
    return torch.stack([f[:, :-1], diff, xs, ys], 2)


def windows_from_frames(frames: np.ndarray, n_seconds: int | None = None) -> np.ndarray:
    """Grey frames at MOTION_RATE (N, H, W) -> (S, STEPS + 1, H, W): second k = frames
    k*8 .. k*8+8 (the 9th is the first of the next second; the end repeats the last frame)."""
    n = len(frames)
    step = int(MOTION_RATE)
    s = n_seconds if n_seconds is not None else int(np.ceil(n / step))
    if n == 0 or s == 0:
        return np.zeros((s, STEPS + 1) + (frames.shape[1:] if n else (54, 96)), np.uint8)
    idx = np.minimum(np.arange(s)[:, None] * step + np.arange(STEPS + 1)[None], n - 1)
    return frames[idx]


@torch.inference_mode()
def predict_windows(model: MotionNet, windows: np.ndarray, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(S, 9, H, W) uint8 -> camera probabilities (S, C) and transition probabilities (S, K)."""
    from .global_motion import window_motion

    model.eval()
    cams, trans = [], []
    for a in range(0, len(windows), batch):
        w = windows[a:a + batch]
        g = torch.from_numpy(window_motion(w, MOTION_RATE)) if model.motion_features else None
        c, t = model(window_inputs(w), g)
        cams.append(torch.softmax(c, 1).numpy())
        trans.append(torch.sigmoid(t).numpy())
    if not cams:
        return np.zeros((0, len(model.camera_labels)), np.float32), np.zeros((0, len(model.transition_labels)), np.float32)
    return np.concatenate(cams).astype(np.float32), np.concatenate(trans).astype(np.float32)


def resolve_source(source=None):
    return source or os.environ.get(MOTION_ENV) or DEFAULT_MOTION_WEIGHTS


_LOADED: dict = {}


def load_motion_model(source=None) -> MotionNet:
    """A MotionNet from a local save_pretrained folder or a Hub id `owner/name[@revision]`."""
    from .hub import load_pretrained

    return load_pretrained(MotionNet, source, MOTION_ENV, DEFAULT_MOTION_WEIGHTS, "motion model", _LOADED)


def weights_id(source=None) -> str:
    """What identifies the weights in the feature-cache key: the safetensors file's size and
    mtime for a local folder, the Hub id otherwise."""
    src = resolve_source(source)
    p = Path(str(src)) / "model.safetensors"
    if p.exists():
        st = p.stat()
        return f"{p.resolve()}:{st.st_size}:{int(st.st_mtime)}"
    return str(src)


def _spans(scenes) -> list[tuple[int, float, float]]:
    out = []
    for i, s in enumerate(scenes or []):
        if isinstance(s, dict):
            a, b, idx = s.get("start_time", s.get("start")), s.get("end_time", s.get("end")), s.get("index", i)
        else:
            a, b, idx = getattr(s, "start_time", None), getattr(s, "end_time", None), getattr(s, "index", i)
        if a is not None and b is not None:
            out.append((int(idx), float(a), float(b)))
    return out


def motion_block(camera: np.ndarray, transitions: np.ndarray, t: list, camera_labels: list, transition_labels: list,
                 transition_thresholds: list, scenes=None) -> dict:
    """The result's `motion` block (same shape as `tags`) from per-second model outputs.

    `t`: the result's per_second.t; second k of the model output serves the times in [k, k+1).
    A camera label holds where it is the argmax; a transition where its probability passes its
    threshold.  Scenes and the video list a label with the share of their seconds it holds
    (>= 10%)."""
    n = len(camera)
    idx = np.clip(np.floor(np.asarray(t, np.float64)).astype(int), 0, max(0, n - 1)) if n else np.zeros(0, int)
    cam = camera[idx] if n else np.zeros((len(t), len(camera_labels)), np.float32)
    tr = transitions[idx] if n else np.zeros((len(t), len(transition_labels)), np.float32)
    labels = list(camera_labels) + list(transition_labels)
    probs = np.concatenate([cam, tr], 1) if len(t) else np.zeros((0, len(labels)), np.float32)
    on = np.zeros_like(probs, dtype=bool)
    if len(probs):
        on[np.arange(len(probs)), cam.argmax(1)] = True
        on[:, len(camera_labels):] = tr >= np.asarray(transition_thresholds, np.float32)[None]
    tt = np.asarray(t, np.float64)

    def pooled(mask: np.ndarray) -> list[dict]:
        if mask.sum() == 0:
            return []
        share = on[mask].mean(0)
        out = [{"label": lab, "score": round(float(share[j]), 4)} for j, lab in enumerate(labels) if share[j] >= 0.1]
        return sorted(out, key=lambda d: -d["score"])

    scene_rows = []
    for i, a, b in _spans(scenes):
        m = (tt >= np.floor(a)) & (tt < max(b, a + 1e-6))
        scene_rows.append({"index": i, "labels": pooled(m)})
    return {
        "vocabulary": labels,
        "camera_labels": list(camera_labels),
        "transition_labels": list(transition_labels),
        "thresholds": [None] * len(camera_labels) + [round(float(x), 4) for x in transition_thresholds],
        "per_second": {lab: [round(float(p), 4) for p in probs[:, j]] for j, lab in enumerate(labels)},
        "scenes": scene_rows,
        "video": pooled(np.ones(len(probs), bool)),
    }


def add_scene_motion(block: dict, scenes) -> dict:
    """Fill `block["scenes"]` once the scenes are known."""
    labels = block["vocabulary"]
    nc = len(block["camera_labels"])
    probs = np.array([block["per_second"][lab] for lab in labels], np.float32).T
    t = list(range(len(probs)))
    new = motion_block(probs[:, :nc], probs[:, nc:], t, block["camera_labels"], block["transition_labels"],
                       [x for x in block["thresholds"][nc:]], scenes)
    block["scenes"] = new["scenes"]
    return block
