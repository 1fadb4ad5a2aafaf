"""Training and scoring the motion model (`vpos/motion.py`) on a rendered corpus.

The frames come from the same decode the pipeline runs (`vpos.media.decode` with a motion rate),
so training sees exactly what analysis sees; labels from the truth's `motion` block
(`vpos/corpus/truth.py`).  Used by `bench/motion_eval.py`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .corpus.truth import CAMERA_LABELS, TRANSITION_LABELS, truth_files
from .media import DecodePlan, decode, probe
from .global_motion import N_FEATURES, window_motion
from .motion import MOTION_RATE, MotionNet, predict_windows, window_inputs, windows_from_frames

GM_VERSION = 2  # bump when vpos/global_motion.py changes what it computes (cached per episode)


def motion_frames(path) -> np.ndarray:
    """Every grey motion frame of a video, from one decode pass that delivers nothing else."""
    info = probe(path)
    frames = [c.motion_frames for c in decode(info, DecodePlan(motion_rate=MOTION_RATE, chunk_seconds=30.0))]
    return np.concatenate(frames) if frames else np.zeros((0, 54, 96), np.uint8)


def episode_data(truth_path: Path, cache_dir: Path | None = None) -> dict:
    """Windows (S, 9, 54, 96) uint8, camera class index per second (-1: no label) and transition
    labels (S, 4) of one corpus episode."""
    truth = json.loads(Path(truth_path).read_text())
    video = Path(truth_path).parent.parent / truth["path"]
    cache = Path(cache_dir) / f"{truth['id']}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        frames = np.load(cache)["frames"]
    else:
        frames = motion_frames(video)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, frames=frames)
    cam = truth["motion"]["camera"]
    s = len(cam)
    windows = windows_from_frames(frames, s)
    gm_cache = Path(cache_dir) / f"{truth['id']}.gm{GM_VERSION}.npy" if cache_dir else None
    if gm_cache is not None and gm_cache.exists():
        motion = np.load(gm_cache)
    else:
        motion = np.concatenate([window_motion(windows[a:a + 64], MOTION_RATE) for a in range(0, len(windows), 64)]) \
            if len(windows) else np.zeros((0, windows.shape[1] - 1, N_FEATURES), np.float32)
        if gm_cache is not None:
            np.save(gm_cache, motion)
    y_cam = np.array([CAMERA_LABELS.index(c) if c is not None else -1 for c in cam], np.int64)
    y_tr = np.stack([np.asarray(truth["motion"]["transitions"][k][:s], np.float32) for k in TRANSITION_LABELS], 1)
    return {"id": truth["id"], "show": truth["show"], "windows": windows, "motion": motion, "camera": y_cam,
            "transitions": y_tr}


def corpus_data(corpus, shows: list[str], cache_dir=None, log=print) -> dict:
    """All episodes of `shows` stacked: windows, camera, transitions, episode ids per second."""
    files = truth_files(corpus)
    parts = []
    for eid, p in files.items():
        show = p.parent.name
        if show not in shows:
            continue
        t = time.time()
        parts.append(episode_data(p, cache_dir))
        if log:
            log(f"[motion] {eid}: {len(parts[-1]['camera'])} s ({time.time() - t:.1f} s)")
    if not parts:
        raise ValueError(f"no episodes of {shows} under {corpus}")
    return {
        "windows": np.concatenate([p["windows"] for p in parts]),
        "motion": np.concatenate([p["motion"] for p in parts]),
        "camera": np.concatenate([p["camera"] for p in parts]),
        "transitions": np.concatenate([p["transitions"] for p in parts]),
        "episode": np.concatenate([[p["id"]] * len(p["camera"]) for p in parts]),
    }


REVERSED = {CAMERA_LABELS.index("zoom_in"): CAMERA_LABELS.index("zoom_out"),
            CAMERA_LABELS.index("zoom_out"): CAMERA_LABELS.index("zoom_in")}


# Which global-motion features (vpos/global_motion.py FEATURE_NAMES) change sign under a mirror
# or when the window plays backwards: a left/right mirror flips horizontal motion and rotation,
# an up/down mirror vertical motion and rotation; backwards, every motion is undone (its inverse:
# for the small steps between frames 1/8 s apart, minus the motion) and the steps come in reverse.
_H_FLIP = np.array([-1, 1, 1, -1, 1, 1, -1, 1, 1, -1], np.float32)
_V_FLIP = np.array([1, -1, 1, -1, 1, 1, 1, -1, 1, -1], np.float32)
_REVERSE = np.array([-1, -1, -1, -1, 1, 1, -1, -1, -1, -1], np.float32)


def augment(w: np.ndarray, cam: np.ndarray, rng: np.random.Generator, g: np.ndarray | None = None):
    """Mirror left/right and up/down (the classes do not care about direction) and play backwards
    (a zoom in becomes a zoom out); contrast and brightness jitter.  `g` (B, T, N_FEATURES), the
    windows' global motion, is transformed to match; returns (w, cam) or (w, cam, g)."""
    w = w.copy()
    cam = cam.copy()
    g = g.copy() if g is not None else None
    for i in range(len(w)):
        if rng.random() < 0.5:
            w[i] = w[i, :, :, ::-1]
            if g is not None:
                g[i] *= _H_FLIP
        if rng.random() < 0.3:
            w[i] = w[i, :, ::-1, :]
            if g is not None:
                g[i] *= _V_FLIP
        if rng.random() < 0.5:
            w[i] = w[i, ::-1]
            cam[i] = REVERSED.get(int(cam[i]), int(cam[i]))
            if g is not None:
                g[i] = g[i, ::-1] * _REVERSE
    gain = rng.uniform(0.6, 1.3, size=(len(w), 1, 1, 1))
    bias = rng.uniform(-30, 30, size=(len(w), 1, 1, 1))
    w = np.clip(w.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
    return (w, cam) if g is None else (w, cam, g)


def train_model(data: dict, shift: bool = True, epochs: int = 12, seed: int = 0, width: int = 16, lr: float = 2e-3,
                batch: int = 32, static_share: float = 0.35, motion_features: bool = True, log=print) -> MotionNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MotionNet(width=width, shift=shift, motion_features=N_FEATURES if motion_features else 0)
    cam, tr, win = data["camera"], data["transitions"], data["windows"]
    counts = np.bincount(cam[cam >= 0], minlength=len(CAMERA_LABELS)).astype(np.float64)
    cw = torch.tensor(np.where(counts > 0, np.sqrt(counts.max() / np.maximum(counts, 1)), 0.0), dtype=torch.float32)
    pos = tr.mean(0)
    pw = torch.tensor(np.clip(np.sqrt((1 - pos) / np.maximum(pos, 1e-3)), 1, 10), dtype=torch.float32)
    # An epoch: every second with a camera move or a transition, the rare camera classes again (up
    # to 4x), and a third of the plain static / unlabelled seconds (they are most of an episode).
    rep = np.ones(len(cam))
    lab = cam >= 0
    rep[lab] = np.clip(np.round(np.sqrt(counts.max() / np.maximum(counts[cam[lab]], 1))), 1, 4)
    base = np.repeat(np.arange(len(cam)), rep.astype(int))
    plain = ((cam[base] == CAMERA_LABELS.index("static")) | (cam[base] < 0)) & (tr[base].sum(1) == 0)
    per_epoch = int((~plain).sum() + np.ceil(plain.sum() * static_share))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * int(np.ceil(per_epoch / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    for ep in range(epochs):
        model.train()
        keep = ~plain | (rng.random(len(base)) < static_share)
        order = rng.permutation(base[keep])[:per_epoch]
        tot, t0 = 0.0, time.time()
        for a in range(0, len(order), batch):
            idx = order[a:a + batch]
            if model.motion_features:
                w, c, g = augment(win[idx], cam[idx], rng, data["motion"][idx])
                lc, lt = model(window_inputs(w), torch.from_numpy(np.ascontiguousarray(g)))
            else:
                w, c = augment(win[idx], cam[idx], rng)
                lc, lt = model(window_inputs(w))
            y = torch.from_numpy(c)
            m = y >= 0
            loss = F.binary_cross_entropy_with_logits(lt, torch.from_numpy(tr[idx]), pos_weight=pw)
            if m.any():
                loss = loss + F.cross_entropy(lc[m], y[m], weight=cw)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched.last_epoch + 1 < steps:
                sched.step()
            tot += loss.item() * len(idx)
        if log:
            log(f"[motion] {'tsm' if shift else 'no-shift'} epoch {ep + 1}/{epochs}: loss {tot / len(order):.4f} ({time.time() - t0:.0f} s)")
    model.eval()
    return model


def prf(pred: np.ndarray, true: np.ndarray) -> dict:
    tp = int((pred & true).sum())
    fp, fn = int((pred & ~true).sum()), int((~pred & true).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(true.sum())}


def tune_thresholds(model: MotionNet, data: dict) -> list[float]:
    """Per-transition threshold with the best F1 on `data` (validation shows)."""
    _, tr = predict_windows(model, data["windows"])
    out = []
    for k in range(tr.shape[1]):
        truth = data["transitions"][:, k] > 0.5
        best = max(((prf(tr[:, k] >= th, truth)["f1"], th) for th in np.arange(0.1, 0.91, 0.05)), key=lambda x: (x[0], -abs(x[1] - 0.5)))
        out.append(round(float(best[1]), 2))
    return out


def score(model: MotionNet, data: dict) -> dict:
    """Per-class precision/recall/F1 per second: camera (argmax, seconds with a label) and
    transitions (at the model's thresholds)."""
    cam_p, tr_p = predict_windows(model, data["windows"])
    y = data["camera"]
    m = y >= 0
    pred = cam_p.argmax(1)
    camera = {lab: prf(pred[m] == j, y[m] == j) for j, lab in enumerate(CAMERA_LABELS)}
    present = [lab for lab in CAMERA_LABELS if camera[lab]["support"] > 0]
    th = np.asarray(model.transition_thresholds, np.float32)
    trans = {lab: prf(tr_p[:, k] >= th[k], data["transitions"][:, k] > 0.5) for k, lab in enumerate(TRANSITION_LABELS)}
    conf = np.zeros((len(CAMERA_LABELS),) * 2, int)
    for a, b in zip(y[m], pred[m]):
        conf[a, b] += 1
    return {
        "camera": camera,
        "camera_macro_f1": round(float(np.mean([camera[lab]["f1"] for lab in present])), 4),
        "camera_macro_f1_over": present,
        "camera_accuracy": round(float((pred[m] == y[m]).mean()), 4) if m.any() else 0.0,
        "camera_confusion": {"labels": list(CAMERA_LABELS), "rows_truth_cols_pred": conf.tolist()},
        "transitions": trans,
        "transition_macro_f1": round(float(np.mean([trans[lab]["f1"] for lab in TRANSITION_LABELS if trans[lab]["support"]])), 4),
        "seconds": int(len(y)),
        "seconds_labelled": int(m.sum()),
    }
