"""Scenes: consecutive shots grouped by what they look and sound like, without training.

Every shot gets a descriptor from what the one decode pass already computed:

* visual: the EfficientNet-Lite0 embeddings of its first, middle and last analysis sample (the
  source system's three key frames); shots shorter than a sample interval have none;
* colour: the coarse RGB histograms of its first, middle and last full-rate 48x27 frame (every
  shot has these, however short);
* audio: the mean per-second log-mel over the shot (background music and room tone run through a
  scene and change with it).

From these a shot-distance matrix D (0 = alike) is built, and Optimal Sequential Grouping (Rotman
et al.) splits the shots into contiguous groups minimising the normalised within-group distance
plus a penalty per scene -- the penalty sets how many scenes there are, so no count is needed.
A fixed count can be asked for instead (`SceneOptions.n_scenes`), or estimated at the elbow of
the optimal cost as a function of the count (`estimate_scene_count`). A per-shot boundary probability (local contrast
of D across each cut, squashed) comes with it, so average precision can be computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import OptionsError
from .extractors.base import FeatureSet
from .result import Shot


@dataclass
class SceneOptions:
    """How shots are grouped into scenes."""

    # Where the per-shot boundary probabilities come from: "learned" (the small boundary model of
    # vpos/scene_model.py, weights/scenes; held-out AP 0.62 -> 0.72 on the small preset, 0.94 -> 1.00 on
    # yoru-monogatari-e03) or "contrast" (training-free local contrast of the distance matrix).
    boundary_prob: str = "learned"
    # How much the learned log-odds guide the grouping (OSG start_bonus = prior_weight * logit); 0: the
    # grouping stays training-free. 0.3 scored lower held out (mIoU 0.882 -> 0.863 small preset).
    prior_weight: float = 0.0
    weights: str | None = None  # learned boundary model: weights folder or Hub id (default: weights/scenes)
    n_scenes: int = 0  # > 0: exactly this many scenes (capped at the shot count); 0: see `count`
    count: str = "penalty"  # how the number is found when n_scenes is 0: "penalty" or "elbow" (of the OSG cost curve)
    # Tuned on two shows of the benchmark corpus (kaze-nikki e02/e06, mori-tabi e04; bench/scenes_eval.py --grid).
    penalty: float = 0.6  # OSG cost of one more scene (in normalised-distance units)
    visual_weight: float = 0.3
    colour_weight: float = 0.5
    audio_weight: float = 0.0  # audio continuity (mean log-mel per shot); 0.2-0.4 scored no better on the tuning shows
    border_weight: float = 0.5  # colour of the frame's border (the set more than the people in front): mIoU 0.91 -> 0.95 on mori-tabi-e04
    grid_weight: float = 0.0  # coarse layout (mean colour of a 4x3 grid)
    key_frames: int = 3  # full-rate key frames per shot for the colour, border and grid descriptors (first, ..., last)
    context: int = 2  # shots on each side the boundary probability compares
    prob_center: float = 0.18  # local contrast at which the boundary probability is 0.5
    prob_scale: float = 0.06
    keep_sequences: bool = True  # shots of a detected opening/ending form one scene
    # When no opening/ending was detected (short clips, other formats): a run of at least
    # montage_min_shots shots each shorter than montage_shot_seconds is a montage, one scene (0: off).
    montage_shot_seconds: float = 2.5
    montage_min_shots: int = 6

    def validate(self) -> None:
        if self.n_scenes < 0:
            raise OptionsError(f"n_scenes must be >= 0, got {self.n_scenes}")
        if self.boundary_prob not in ("learned", "contrast"):
            raise OptionsError(f"scene boundary_prob must be 'learned' or 'contrast', got {self.boundary_prob!r}")
        if self.prior_weight < 0:
            raise OptionsError(f"prior_weight must be >= 0, got {self.prior_weight}")
        if self.count not in ("penalty", "elbow"):
            raise OptionsError(f"scene count must be 'penalty' or 'elbow', got {self.count!r}")
        if self.penalty < 0:
            raise OptionsError(f"scene penalty must be >= 0, got {self.penalty}")
        ws = (self.visual_weight, self.colour_weight, self.audio_weight, self.border_weight, self.grid_weight)
        if min(ws) < 0 or sum(ws) <= 0:
            raise OptionsError("scene feature weights must be >= 0 and not all 0")
        if self.key_frames < 1:
            raise OptionsError("key_frames must be >= 1")
        if self.context < 1:
            raise OptionsError("scene context must be >= 1 shot")
        if self.prob_scale <= 0:
            raise OptionsError("prob_scale must be > 0")


@dataclass
class Scene:
    index: int
    shots: list[int]
    start_frame: int
    end_frame: int  # inclusive, like shots
    start_time: float
    end_time: float


@dataclass
class ShotDescriptors:
    """Per-shot features; rows follow the shot list."""

    visual: np.ndarray  # (n, 3, d) L2-normalised key-sample embeddings (NaN rows where absent)
    has_visual: np.ndarray  # (n,) bool
    colour: np.ndarray  # (n, 3, 64) key-frame histograms
    audio: np.ndarray  # (n, a) standardised mean log-mel
    has_audio: np.ndarray  # (n,) bool
    border: np.ndarray | None = None  # (n, k, 64) key-frame border histograms (colour extractor v2)
    grid: np.ndarray | None = None  # (n, k, 36) key-frame layout grids, 0..1


@dataclass
class SceneResult:
    scenes: list[Scene]
    boundary_prob: np.ndarray  # (n_shots,) probability that shot i starts a new scene (shot 0: 1)
    n_scenes_elbow: int  # the cost-elbow estimate of the count (0 when not computed)
    distance: np.ndarray = field(repr=False)  # (n_shots, n_shots)

    def to_list(self) -> list[dict]:
        return [asdict(s) for s in self.scenes]


# -- shot descriptors --------------------------------------------------------------------------


def _key_indices(idx: np.ndarray, k: int = 3) -> np.ndarray:
    """k evenly spread indices of a run, first and last included (repeats when the run is shorter):
    k = 3 gives first, middle and last."""
    if k == 1:
        return idx[[len(idx) // 2]]
    return idx[np.round(np.linspace(0, len(idx) - 1, k)).astype(int)]


def shot_descriptors(features: dict[str, FeatureSet], shots: list[Shot], sample_rate: float, key_frames: int = 3) -> ShotDescriptors:
    n = len(shots)
    starts = np.array([s.start_time for s in shots], np.float64)
    ends = np.array([s.end_time for s in shots], np.float64)

    vis = features.get("visual")
    emb = vis["embedding"].astype(np.float32) if vis is not None and "embedding" in vis else np.zeros((0, 1), np.float32)
    d = emb.shape[1]
    visual = np.full((n, 3, d), np.nan, np.float32)
    has_visual = np.zeros(n, bool)
    if len(emb):
        emb = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-8)
        t = np.arange(len(emb)) / sample_rate
        for i in range(n):
            # a sample right on a cut may show either side: keep samples clear of the cut
            inside = np.nonzero((t >= starts[i] + 0.05) & (t < ends[i] - 0.05))[0]
            if len(inside):
                visual[i] = emb[_key_indices(inside)]
                has_visual[i] = True

    col = features.get("colour")
    colour = np.zeros((n, key_frames, 64), np.float32)
    border = grid = None
    if col is not None and len(col["hist"]):
        hist = col["hist"].astype(np.float32)
        nf = len(hist)
        keys = []
        for s in shots:
            a, b = min(s.start_frame, nf - 1), min(s.end_frame, nf - 1)
            # a dissolve's frames show both shots: trim a few frames at each end when the shot is long enough
            trim = min(3, (b - a) // 4)
            keys.append(_key_indices(np.arange(a + trim, b - trim + 1), key_frames))
        keys = np.asarray(keys, np.int64).reshape(n, key_frames)
        colour = hist[keys]
        if "border_hist" in col and len(col["border_hist"]) == nf:
            border = col["border_hist"].astype(np.float32)[keys]
        if "grid" in col and len(col["grid"]) == nf:
            grid = col["grid"].astype(np.float32)[keys] / 255.0

    aud = features.get("audio")
    audio = np.zeros((n, 1), np.float32)
    has_audio = np.zeros(n, bool)
    if aud is not None and "logmel" in aud and len(aud["logmel"]):
        mel = aud["logmel"].astype(np.float32)
        # standardise each band over the episode so loud bands do not dominate the distance
        mel = (mel - mel.mean(0)) / (mel.std(0) + 1e-3)
        audio = np.zeros((n, mel.shape[1]), np.float32)
        m = len(mel)
        for i in range(n):
            a = int(np.floor(starts[i] * sample_rate))
            b = max(a + 1, int(np.ceil(ends[i] * sample_rate)))
            a, b = min(a, m - 1), min(b, m)
            if b > a:
                audio[i] = mel[a:b].mean(0)
                has_audio[i] = True
    return ShotDescriptors(visual=visual, has_visual=has_visual, colour=colour, audio=audio, has_audio=has_audio,
                           border=border, grid=grid)


# -- distances ---------------------------------------------------------------------------------


def _min_pair_distance(x: np.ndarray, dist) -> np.ndarray:
    """(n, k, d) key descriptors -> (n, n): the smallest distance over the k x k key pairs (a pan or
    a reframing keeps one end of a shot close to its neighbour's)."""
    n, k = x.shape[:2]
    out = np.full((n, n), np.inf, np.float32)
    for a in range(k):
        for b in range(k):
            out = np.minimum(out, dist(x[:, a], x[:, b]))
    return out


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - a @ b.T, 0.0, 2.0).astype(np.float32)


def _hellinger(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sa, sb = np.sqrt(np.clip(a, 0, None)), np.sqrt(np.clip(b, 0, None))
    return np.sqrt(np.clip(1.0 - sa @ sb.T, 0.0, 1.0)).astype(np.float32)


def _euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sa, sb = (a**2).sum(1), (b**2).sum(1)
    return np.sqrt(np.clip(sa[:, None] + sb[None, :] - 2 * a @ b.T, 0, None)).astype(np.float32)


def _rank_scale(d: np.ndarray) -> np.ndarray:
    """Scale a distance matrix so its off-diagonal median between neighbours-of-neighbours is
    comparable across features and episodes: divide by the 90th percentile of its off-diagonal values."""
    n = len(d)
    if n < 2:
        return d
    off = d[~np.eye(n, dtype=bool)]
    off = off[np.isfinite(off)]
    q = float(np.percentile(off, 90)) if off.size else 1.0
    return np.clip(d / (q + 1e-6), 0.0, 1.5)


FEATURES = ("visual", "colour", "border", "grid", "audio")


def feature_distances(desc: ShotDescriptors, names=FEATURES) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Per feature: its (n, n) rank-scaled shot-distance matrix (about 0..1.5) and a mask of the pairs
    where both shots have that feature (None: all pairs). Features the shots lack are left out."""
    n = len(desc.colour)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    if n == 0:
        return out
    if "colour" in names and desc.colour.any():
        out["colour"] = (_rank_scale(_min_pair_distance(desc.colour, _hellinger)), None)
    if "border" in names and desc.border is not None:
        out["border"] = (_rank_scale(_min_pair_distance(desc.border, _hellinger)), None)
    if "grid" in names and desc.grid is not None:
        out["grid"] = (_rank_scale(_min_pair_distance(desc.grid, _euclidean)), None)
    if "visual" in names and desc.has_visual.any():
        dv = _min_pair_distance(np.nan_to_num(desc.visual), _cosine_distance)
        both = desc.has_visual[:, None] & desc.has_visual[None, :]
        if (both & ~np.eye(n, dtype=bool)).any():
            out["visual"] = (np.where(both, _rank_scale(np.where(both, dv, np.nan)), 0.0).astype(np.float32), both)
    if "audio" in names and desc.has_audio.any():
        both = desc.has_audio[:, None] & desc.has_audio[None, :]
        out["audio"] = (_rank_scale(_euclidean(desc.audio, desc.audio)), both)
    return out


def shot_distances(desc: ShotDescriptors, options: SceneOptions, mats=None) -> np.ndarray:
    """(n, n) shot-distance matrix, symmetric, 0 on the diagonal, about 0..1.5: the weighted mean of
    the feature matrices over the features both shots have."""
    n = len(desc.colour)
    if n == 0:
        return np.zeros((0, 0), np.float32)
    weights = {"visual": options.visual_weight, "colour": options.colour_weight, "border": options.border_weight,
               "grid": options.grid_weight, "audio": options.audio_weight}
    if mats is None:
        mats = feature_distances(desc, [k for k, w in weights.items() if w > 0])
    total = np.zeros((n, n), np.float32)
    weight = np.zeros((n, n), np.float32)
    for name, (d, both) in mats.items():
        w = weights.get(name, 0.0)
        if w <= 0:
            continue
        if both is None:
            total += w * d
            weight += w
        else:
            total += np.where(both, w * d, 0.0)
            weight += np.where(both, w, 0.0)
    dist = total / np.maximum(weight, 1e-6)
    dist = 0.5 * (dist + dist.T)
    np.fill_diagonal(dist, 0.0)
    return dist.astype(np.float32)


# -- optimal sequential grouping ---------------------------------------------------------------


def _block_costs(dist: np.ndarray) -> np.ndarray:
    """cost[a, b] = sum of D over shots a..b-1 squared block, divided by its length (normalised
    OSG cost, so a long group is not punished quadratically). Shape (n+1, n+1); only a < b used."""
    n = len(dist)
    s = np.zeros((n + 1, n + 1), np.float64)
    s[1:, 1:] = np.cumsum(np.cumsum(dist.astype(np.float64), 0), 1)
    a = np.arange(n + 1)[:, None]
    b = np.arange(n + 1)[None, :]
    block = s[b, b] - s[a, b] - s[b, a] + s[a, a]
    length = np.maximum(b - a, 1)
    cost = block / length
    cost[b <= a] = np.inf
    return cost


def _allowed_cost(cost: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Forbid groups that would start at a shot where a boundary is not allowed (allowed[i] False:
    shot i must stay with shot i-1) by making every block [a, b) with a in the forbidden set
    infinite, except a = 0."""
    if allowed is None:
        return cost
    cost = cost.copy()
    bad = np.nonzero(~allowed)[0]
    bad = bad[bad > 0]
    cost[bad, :] = np.inf
    return cost


def osg_fixed(dist: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    """Exactly k contiguous groups minimising the summed normalised within-group distance.
    Returns the start shot of every group (0 first). Dynamic programming, O(k n^2)."""
    n = len(dist)
    if n == 0:
        return []
    k = max(1, min(k, n))
    cost = _allowed_cost(_block_costs(dist), allowed)
    best = cost[0].copy()  # best[b]: 1 group covering shots 0..b-1
    back = np.zeros((k + 1, n + 1), np.int64)
    for g in range(2, k + 1):
        cand = best[:, None] + cost  # cand[a, b]: g-1 groups up to a, then group [a, b)
        back[g] = np.argmin(cand, axis=0)
        best = cand[back[g], np.arange(n + 1)]
    starts = []
    b = n
    for g in range(k, 1, -1):
        a = int(back[g, b])
        starts.append(a)
        b = a
    starts.append(0)
    return sorted(set(starts))


def osg_penalized(dist: np.ndarray, penalty: float, allowed: np.ndarray | None = None,
                  start_bonus: np.ndarray | None = None) -> list[int]:
    """Contiguous groups minimising the summed normalised within-group distance plus `penalty` per
    group (the number of groups falls out). Returns the start shot of every group. O(n^2).
    `start_bonus[a]` (optional, per shot) is subtracted from the penalty of a group starting at
    shot a: a boundary prior (e.g. the log-odds of a learned boundary model)."""
    n = len(dist)
    if n == 0:
        return []
    cost = _allowed_cost(_block_costs(dist), allowed)
    start_cost = np.full(n, float(penalty)) if start_bonus is None else float(penalty) - np.asarray(start_bonus, np.float64)[:n]
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    back = np.zeros(n + 1, np.int64)
    for b in range(1, n + 1):
        cand = best[:b] + cost[:b, b] + start_cost[:b]
        a = int(np.argmin(cand))
        best[b], back[b] = cand[a], a
    starts = []
    b = n
    while b > 0:
        a = int(back[b])
        starts.append(a)
        b = a
    return sorted(starts)


def osg_costs(dist: np.ndarray, max_groups: int | None = None) -> np.ndarray:
    """The optimal OSG cost for every count of groups 1..max_groups (one DP pass)."""
    n = len(dist)
    if n == 0:
        return np.zeros(0)
    kmax = max(1, min(max_groups or n, n))
    cost = _block_costs(dist)
    best = cost[0].copy()
    out = [best[n]]
    for _ in range(2, kmax + 1):
        best = (best[:, None] + cost).min(axis=0)
        out.append(best[n])
    return np.asarray(out)


def estimate_scene_count(dist: np.ndarray, max_scenes: int | None = None) -> int:
    """The number of scenes at the elbow of the optimal OSG cost curve C(K): the K furthest below
    the chord from K=1 to K=max (the cost falls steeply while each extra group splits two unlike
    scenes and flattens once groups only split alike shots)."""
    c = osg_costs(dist, max_scenes)
    if len(c) <= 2:
        return len(c)
    k = np.arange(len(c))
    chord = c[0] + (c[-1] - c[0]) * k / (len(c) - 1)
    return int(np.argmax(chord - c)) + 1


# -- boundary features (for the learned boundary model, vpos/scene_model.py) --------------------

BOUNDARY_FEATURE_NAMES = tuple(
    f"{m}_{k}" for m in ("mix",) + FEATURES for k in ("adjacent", "cross_min", "cross_mean", "within", "skip")
) + ("log_len_before", "log_len_after", "transition_frames", "audio_cut", "silence_at_cut")


def _cut_matrix_features(d: np.ndarray, i: int, context: int = 2) -> list[float]:
    """For the cut before shot i: the distance across it (adjacent shots), the smallest and the mean
    distance between the `context` shots on each side, the mean distance within each side and the
    distance of the shots two apart across the cut (a shot/reverse-shot pattern links them)."""
    n = len(d)
    left = np.arange(max(0, i - context), i)
    right = np.arange(i, min(n, i + context))
    block = d[np.ix_(left, right)]
    within = [d[a, b] for side in (left, right) for a in side for b in side if a < b]
    skip = [d[a, b] for a, b in ((i - 2, i), (i - 1, i + 1)) if 0 <= a and b < n]
    return [float(d[i - 1, i]), float(block.min()), float(block.mean()),
            float(np.mean(within)) if within else float(d[i - 1, i]),
            float(min(skip)) if skip else float(d[i - 1, i])]


def boundary_features(features: dict[str, FeatureSet], shots: list[Shot], sample_rate: float,
                      desc: ShotDescriptors, mats: dict, mix: np.ndarray) -> np.ndarray:
    """(n, len(BOUNDARY_FEATURE_NAMES)) float32; row i describes the cut before shot i (row 0: zeros).
    A feature the shots lack (no visual sample in a short shot, no audio) takes the mixed distance."""
    n = len(shots)
    out = np.zeros((n, len(BOUNDARY_FEATURE_NAMES)), np.float32)
    if n < 2:
        return out
    fps_prob = features.get("shots")
    prob = fps_prob["single"] if fps_prob is not None and "single" in fps_prob else None
    aud = features.get("audio")
    mel = aud["logmel"].astype(np.float32) if aud is not None and "logmel" in aud and len(aud["logmel"]) > 1 else None
    silence = aud["silence"] if aud is not None and "silence" in aud else None
    if mel is not None:
        step = np.linalg.norm(np.diff(mel, axis=0), axis=1)
        mel_scale = float(np.percentile(step, 90)) + 1e-6
    filled = []  # per feature: its matrix, the mixed distance where a shot lacks the feature
    for name in FEATURES:
        d, both = mats.get(name, (mix, None))
        filled.append(d if both is None else np.where(both, d, mix))
    for i in range(1, n):
        row = _cut_matrix_features(mix, i)
        for d in filled:
            row += _cut_matrix_features(d, i)
        before, after = shots[i - 1], shots[i]
        row += [float(np.log(max(before.end_time - before.start_time, 0.04))),
                float(np.log(max(after.end_time - after.start_time, 0.04)))]
        # a fade or dissolve (many transition frames) tends to mark a change of scene or time
        if prob is not None and len(prob):
            c = min(after.start_frame, len(prob) - 1)
            row.append(float((prob[max(0, c - 16) : c + 16] > 0.1).sum()))
        else:
            row.append(0.0)
        t = after.start_time
        if mel is not None:
            a, b = int(np.floor(t * sample_rate)) - 1, int(np.floor(t * sample_rate)) + 1
            a, b = max(0, min(a, len(mel) - 1)), max(0, min(b, len(mel) - 1))
            row.append(float(np.linalg.norm(mel[a] - mel[b]) / mel_scale))
        else:
            row.append(0.0)
        if silence is not None and len(silence):
            k = max(0, min(int(np.floor(t * sample_rate)), len(silence) - 1))
            row.append(float(silence[max(0, k - 1) : k + 1].max()))
        else:
            row.append(0.0)
        out[i] = row
    return out


# -- boundary probability ----------------------------------------------------------------------


def boundary_contrast(dist: np.ndarray, context: int = 2) -> np.ndarray:
    """For each shot i > 0: mean distance between the `context` shots before and after the cut,
    minus the mean distance within each side (shots alike within a side and unlike across it make
    a scene boundary). Shot 0 gets +inf."""
    n = len(dist)
    out = np.full(n, np.inf, np.float32)
    for i in range(1, n):
        left = np.arange(max(0, i - context), i)
        right = np.arange(i, min(n, i + context))
        across = dist[np.ix_(left, right)].mean()
        within = []
        for side in (left, right):
            if len(side) > 1:
                m = dist[np.ix_(side, side)]
                within.append(m.sum() / (len(side) * (len(side) - 1)))
        out[i] = across - (np.mean(within) if within else 0.0)
    return out


def boundary_probabilities(dist: np.ndarray, options: SceneOptions) -> np.ndarray:
    c = boundary_contrast(dist, options.context)
    p = np.ones(len(c), np.float32)
    if len(c) > 1:
        p[1:] = 1.0 / (1.0 + np.exp(-(c[1:] - options.prob_center) / options.prob_scale))
    return p


# -- the stage ---------------------------------------------------------------------------------


def sequence_constraints(shots: list[Shot], spans: list[tuple[float, float]]) -> np.ndarray:
    """allowed[i]: may a scene start at shot i? Not inside a span (an opening or ending is one
    scene); its first shot always may."""
    allowed = np.ones(len(shots), bool)
    for a, b in spans:
        for i, s in enumerate(shots):
            mid = 0.5 * (s.start_time + s.end_time)
            if a <= mid < b and i > 0:
                prev = shots[i - 1]
                pmid = 0.5 * (prev.start_time + prev.end_time)
                if a <= pmid < b:
                    allowed[i] = False
    return allowed


def montage_runs(shots: list[Shot], max_seconds: float, min_shots: int) -> list[tuple[int, int]]:
    """(first, last) shot index of every run of at least `min_shots` consecutive shots each shorter
    than `max_seconds`: a montage (an opening's or a trailer's rapid cutting, an action burst),
    which is one scene however unlike its shots look."""
    runs = []
    if min_shots <= 0:
        return runs
    start = None
    for i, s in enumerate(list(shots) + [None]):
        short = s is not None and (s.end_time - s.start_time) < max_seconds
        if short and start is None:
            start = i
        elif not short and start is not None:
            if i - start >= min_shots:
                runs.append((start, i - 1))
            start = None
    return runs


def scenes_from_starts(shots: list[Shot], starts: list[int]) -> list[Scene]:
    bounds = list(starts) + [len(shots)]
    out = []
    for k in range(len(starts)):
        group = shots[bounds[k] : bounds[k + 1]]
        out.append(
            Scene(
                index=k,
                shots=[s.index for s in group],
                start_frame=group[0].start_frame,
                end_frame=group[-1].end_frame,
                start_time=group[0].start_time,
                end_time=group[-1].end_time,
            )
        )
    return out


def segment_scenes(
    features: dict[str, FeatureSet],
    shots: list[Shot],
    sample_rate: float,
    options: SceneOptions | None = None,
    sequences: list[tuple[float, float]] | None = None,
) -> SceneResult:
    """Group `shots` into scenes. `sequences`: (start, end) seconds of spans that are one scene
    each (a detected opening or ending)."""
    options = options or SceneOptions()
    options.validate()
    try:  # the matrices are small: one BLAS thread (several spin badly on a busy machine, ~1000x slower)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return _segment_scenes(features, shots, sample_rate, options, sequences)
    except ImportError:
        return _segment_scenes(features, shots, sample_rate, options, sequences)


def _segment_scenes(features, shots, sample_rate, options, sequences) -> SceneResult:
    if not shots:
        return SceneResult(scenes=[], boundary_prob=np.zeros(0, np.float32), n_scenes_elbow=0, distance=np.zeros((0, 0), np.float32))
    desc = shot_descriptors(features, shots, sample_rate, options.key_frames)
    mats = feature_distances(desc)
    dist = shot_distances(desc, options, mats)
    logits = None
    if options.boundary_prob == "learned" or options.prior_weight > 0:
        from .scene_model import load_boundary_model

        model = load_boundary_model(options.weights, BOUNDARY_FEATURE_NAMES)
        logits = model.logits(boundary_features(features, shots, sample_rate, desc, mats, dist))
    allowed = sequence_constraints(shots, sequences) if (sequences and options.keep_sequences) else None
    runs = [] if sequences else montage_runs(shots, options.montage_shot_seconds, options.montage_min_shots)
    if runs:
        allowed = np.ones(len(shots), bool) if allowed is None else allowed
        for a, b in runs:
            allowed[a + 1 : b + 1] = False
    elbow = 0
    if options.n_scenes > 0:
        starts = osg_fixed(dist, options.n_scenes, allowed)
    elif options.count == "elbow":
        elbow = estimate_scene_count(dist)
        starts = osg_fixed(dist, elbow, allowed)
    else:
        bonus = None if logits is None or options.prior_weight <= 0 else options.prior_weight * logits
        starts = osg_penalized(dist, options.penalty, allowed, start_bonus=bonus)
    if logits is None:
        prob = boundary_probabilities(dist, options)
    else:
        prob = (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)
        prob[0] = 1.0
    if allowed is not None:
        prob = np.where(allowed, prob, 0.0).astype(np.float32)
        prob[0] = 1.0
    return SceneResult(scenes=scenes_from_starts(shots, starts), boundary_prob=prob, n_scenes_elbow=elbow, distance=dist)
