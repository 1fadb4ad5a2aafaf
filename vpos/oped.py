"""Openings and endings: per-second probabilities -> segments with boundaries, confidence and the
evidence that fired; checkpoint fusion; loading the fused set from weights/ or the Hub.

Fusion follows the source system: every checkpoint predicts its boundary times, and per boundary
KMeans(k=2) over the checkpoints' times keeps the mean of the larger cluster (an outlier filter);
per-second probabilities are averaged.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelLoadError
from .models.registry import WEIGHTS_DIR
from .result import Segment

DEFAULT_OPED_WEIGHTS = WEIGHTS_DIR / "oped"
HUB_ENV = "VPOS_OPED_WEIGHTS"  # a local folder or "hub-repo-id[@revision]"

# Length limits (seconds) a decoded segment must respect. Real OPs/EDs are 85-95 s in 80% of
# shows; short versions (30-60 s) and long specials exist.
LIMITS = {"opening": (20.0, 200.0), "ending": (20.0, 200.0), "cold_open": (5.0, 420.0), "preview": (5.0, 120.0)}


@dataclass
class OPEDResult:
    op_prob: np.ndarray
    ed_prob: np.ndarray
    opening: Segment | None
    ending: Segment | None
    segments: list[Segment]
    per_checkpoint: list[dict] = field(default_factory=list)
    extra_probs: dict[str, np.ndarray] = field(default_factory=dict)


def best_segment(p: np.ndarray, min_len: float, max_len: float, threshold: float = 0.5):
    """The interval [a, b) of seconds maximising sum(p - threshold) with a length in
    [min_len, max_len]; None when no interval has a positive sum or its mean is below threshold."""
    n = len(p)
    if n == 0:
        return None
    gain = np.concatenate([[0.0], np.cumsum(p - threshold)])
    lo, hi = int(np.ceil(min_len)), int(np.floor(max_len))
    best, arg = 0.0, None
    for length in range(max(lo, 1), min(hi, n) + 1):
        s = gain[length:] - gain[:-length]
        i = int(np.argmax(s))
        if s[i] > best:
            best, arg = float(s[i]), (i, i + length)
    if arg is None:
        return None
    a, b = arg
    # Trim weak edges so boundaries sit where the probability crosses the threshold.
    while b - a > lo and p[a] < threshold:
        a += 1
    while b - a > lo and p[b - 1] < threshold:
        b -= 1
    if p[a:b].mean() < threshold:
        return None
    return a, b


def refine_boundary(t: float, p: np.ndarray, rising: bool, cut_times: np.ndarray | None, tol: float = 1.0) -> float:
    """Sub-second boundary: where p crosses 0.5 between second centres, then snapped to a shot cut
    within `tol` seconds (openings and endings start and end on cuts)."""
    k = int(round(t))
    if 0 < k < len(p):
        before, after = p[k - 1], p[k]
        if rising and before < 0.5 <= after or (not rising and before >= 0.5 > after):
            # Second k covers [k, k+1), so its centre is k + 0.5: the crossing lies between the
            # centres of seconds k - 1 and k, i.e. in [k - 0.5, k + 0.5].
            frac = (0.5 - before) / (after - before) if after != before else 0.5
            t = k - 0.5 + float(frac)
    if cut_times is not None and len(cut_times):
        j = int(np.argmin(np.abs(cut_times - t)))
        if abs(cut_times[j] - t) <= tol:
            t = float(cut_times[j])
    return max(0.0, t)


# Around a boundary the model is unsure where its probability is neither ~0 nor ~1; inside that
# zone the song's own start or end is where the sound changes most (a song starts on a beat, the
# dialogue and background music before it sound different). Chosen on the training shows.
UNSURE_P = 0.2
SOUND_WINDOW_S = 4
SOUND_GAIN = 1.5


def _sound_change(logmel: np.ndarray, t: int, w: int = SOUND_WINDOW_S) -> float:
    a, b = logmel[max(0, t - w) : t], logmel[t : t + w]
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return float(np.linalg.norm(a.mean(0) - b.mean(0)))


def sound_change_boundary(t: float, p: np.ndarray, logmel: np.ndarray, rising: bool) -> float:
    """Move a boundary to the strongest change of the log-mel spectrum inside the model's unsure
    zone around it (a start: back to where P drops below UNSURE_P, 2 s on; an end: 2 s back, on to
    where P drops below it), when that change clearly stands out; otherwise leave it."""
    n = min(len(p), len(logmel))
    k = int(round(t))
    if n < 3 or not 0 < k < n:
        return t
    if rising:
        lo = k
        while lo > 1 and p[lo - 1] >= UNSURE_P:
            lo -= 1
        hi = min(n - 1, k + 2)
    else:
        hi = k
        while hi < n - 1 and p[hi] >= UNSURE_P:
            hi += 1
        lo = max(1, k - 2)
    if hi <= lo:
        return t
    scores = np.array([_sound_change(logmel, i) for i in range(lo, hi + 1)])
    best = int(np.argmax(scores))
    here = _sound_change(logmel, k)
    if scores[best] > SOUND_GAIN * max(here, 1e-6) and scores[best] > 2 * float(np.median(scores)):
        return float(lo + best)
    return t


def _snap(t: float, cut_times: np.ndarray, tol: float = 1.0) -> float:
    j = int(np.argmin(np.abs(cut_times - t)))
    return float(cut_times[j]) if abs(cut_times[j] - t) <= tol else t


def kmeans_fuse(values: list[float]) -> float:
    """KMeans(k=2) over the checkpoints' times; the mean of the larger cluster."""
    v = np.asarray(values, np.float64)
    if len(v) <= 2 or np.ptp(v) < 1e-6:
        return float(np.median(v))
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=2, n_init=4, random_state=0).fit_predict(v.reshape(-1, 1))
    big = np.argmax(np.bincount(labels, minlength=2))
    return float(v[labels == big].mean())


def segments_from_probs(probs: dict[str, np.ndarray], duration: float, cut_times=None, threshold=0.5) -> dict[str, tuple[float, float] | None]:
    out = {}
    for label, p in probs.items():
        lo, hi = LIMITS.get(label, (5.0, 600.0))
        seg = best_segment(p, lo, hi, threshold)
        if seg is None:
            out[label] = None
            continue
        a, b = seg
        start = refine_boundary(float(a), p, True, cut_times)
        end = min(duration, refine_boundary(float(b), p, False, cut_times))
        out[label] = (start, end) if end > start else None
    return out


def evidence(label: str, start: float, end: float, per_second: dict, repetition: np.ndarray | None = None) -> dict[str, float]:
    """What the segment looks and sounds like compared with the rest of the episode."""
    t = np.asarray(per_second.get("t", []), np.float64)
    if len(t) == 0:
        return {}
    inside = (t >= start) & (t < end)
    ev: dict[str, float] = {}

    def mean(key, mask):
        v = per_second.get(key)
        if v is None or not mask.any():
            return None
        return float(np.nanmean(np.asarray(v, np.float64)[mask]))

    speech = mean("speech_cue", inside)
    silence = mean("silence", inside)
    if speech is not None:
        ev["music"] = round(max(0.0, 1.0 - speech - (silence or 0.0)), 3)
    text = mean("text_area", inside)
    if text is not None:
        ev["credit_text"] = round(min(1.0, text * 20), 3)
    cuts_in = mean("shot_change", inside)
    cuts_out = mean("shot_change", ~inside)
    if cuts_in is not None and cuts_out is not None:
        ev["cuts"] = round(cuts_in / (cuts_out + 1e-3), 3)
    dur = t[-1] + 1 if len(t) else 1
    ev["position"] = round(start / dur if label == "opening" else end / dur, 3)
    if repetition is not None and inside.any():
        ev["repetition"] = round(float(repetition[inside[: len(repetition)]].mean()), 3)
    return ev


# -- checkpoints -----------------------------------------------------------------------------


def _resolve_source(source: str | os.PathLike | None) -> Path:
    from .hub import weights_folder

    return weights_folder(source, HUB_ENV, DEFAULT_OPED_WEIGHTS, "opening/ending weights",
                          "train them with `python -m vpos train oped` (or pass --oped-weights)",
                          f" or pass --oped-weights {DEFAULT_OPED_WEIGHTS}")


_LOADED: dict[tuple[str, str], list] = {}


def load_checkpoints(source: str | os.PathLike | None = None, device: str = "cpu"):
    """The fused checkpoint set: a folder holding one `save_pretrained` folder per checkpoint
    (listed in fusion.json), or a Hub repo id with the same layout."""
    from .oped_model import AVTNet

    root = _resolve_source(source)
    key = (str(root), device)
    if key in _LOADED:
        return _LOADED[key]
    manifest = root / "fusion.json"
    if manifest.exists():
        names = json.loads(manifest.read_text())["checkpoints"]
    elif (root / "config.json").exists():
        names = ["."]
    else:
        raise ModelLoadError(f"{root} holds no opening/ending checkpoints (no fusion.json or config.json)")
    models = []
    for name in names:
        try:
            # from_pretrained prints a line per local load; keep the CLI's output clean.
            with contextlib.redirect_stdout(io.StringIO()):
                m = AVTNet.from_pretrained(str(root / name), strict=True, map_location="cpu")
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"checkpoint {root / name} does not load: {e}") from None
        models.append(m.to(device).eval())
    _LOADED[key] = models
    return models


def weights_available(source=None) -> bool:
    src = source or os.environ.get(HUB_ENV) or str(DEFAULT_OPED_WEIGHTS)
    p = Path(src).expanduser()
    return (p / "fusion.json").exists() or (p / "config.json").exists() or (not p.exists() and str(src).count("/") == 1)


def detect(features: dict, per_second: dict, duration: float, cut_times=None, models=None, device="cpu",
           repetition: np.ndarray | None = None, sample_rate: float = 1.0) -> OPEDResult:
    """Run the fused checkpoints over one episode and decode openings and endings."""
    from .oped_model import episode_inputs, predict_per_second

    models = models if models is not None else load_checkpoints(device=device)
    inputs = episode_inputs(features, per_second, duration, sample_rate)
    probs, per_ckpt = [], []
    for m in models:
        p = predict_per_second(m, inputs, device)
        probs.append(p)
        classes = m.classes
        segs = segments_from_probs({c: p[:, i] for i, c in enumerate(classes) if c in ("opening", "ending")}, duration, cut_times)
        per_ckpt.append(segs)
    classes = models[0].classes
    mean = np.mean(probs, 0)
    fused: dict[str, tuple[float, float] | None] = {}
    for label in ("opening", "ending"):
        found = [c[label] for c in per_ckpt if c.get(label)]
        if len(found) * 2 <= len(per_ckpt):  # most checkpoints see none
            fused[label] = None
            continue
        fused[label] = (kmeans_fuse([f[0] for f in found]), kmeans_fuse([f[1] for f in found]))
    logmel = features["audio"]["logmel"].astype(np.float32) if "audio" in features and "logmel" in features["audio"] else None
    result_segments: dict[str, Segment | None] = {}
    for label in ("opening", "ending"):
        span = fused[label]
        if span is None:
            result_segments[label] = None
            continue
        p = mean[:, classes.index(label)]
        if logmel is not None and sample_rate == 1.0:
            start = sound_change_boundary(span[0], p, logmel, rising=True)
            end = sound_change_boundary(span[1], p, logmel, rising=False)
            if cut_times is not None and len(cut_times):
                start, end = (_snap(x, cut_times) if x != y else y for x, y in ((start, span[0]), (end, span[1])))
            if end > start:
                span = (start, min(duration, end))
        a, b = int(np.floor(span[0])), int(np.ceil(span[1]))
        conf = float(np.clip(p[a:b].mean(), 0, 1)) if b > a else 0.0
        agree = len([c for c in per_ckpt if c.get(label)]) / len(per_ckpt)
        result_segments[label] = Segment(label=label, start=round(span[0], 3), end=round(span[1], 3),
                                         confidence=round(conf * agree, 4),
                                         evidence=evidence(label, span[0], span[1], per_second, repetition))
    extra = {c: mean[:, i] for i, c in enumerate(classes) if c not in ("opening", "ending")}
    segs = [s for s in (result_segments["opening"], result_segments["ending"]) if s]
    for label, (a_b) in segments_from_probs(extra, duration, cut_times).items():
        if a_b:
            p = extra[label]
            segs.append(Segment(label=label, start=round(a_b[0], 3), end=round(a_b[1], 3),
                                confidence=round(float(p[int(a_b[0]):int(np.ceil(a_b[1]))].mean()), 4)))
    segs.sort(key=lambda s: s.start)
    return OPEDResult(
        op_prob=mean[:, classes.index("opening")],
        ed_prob=mean[:, classes.index("ending")],
        opening=result_segments["opening"],
        ending=result_segments["ending"],
        segments=segs,
        per_checkpoint=[{k: (list(v) if v else None) for k, v in c.items()} for c in per_ckpt],
        extra_probs=extra,
    )
