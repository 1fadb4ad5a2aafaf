"""Ground truth of a corpus episode, and its JSON format.

Every rendered episode ``DIR/<show>/<id>.<ext>`` has ``DIR/<show>/<id>.truth.json``::

    {
      "format": "vpos-corpus-truth/1",
      "id": "kumo-s1e03", "show": "kumo", "episode": 3, "path": "kumo/kumo-s1e03.mp4",
      "duration": 312.645,            # seconds = frame_count / fps (exact, rounded to 1e-6)
      "fps": 23.976023976, "fps_fraction": "24000/1001", "frame_count": 7496,
      "width": 854, "height": 480, "codec": "h264", "audio_codec": "aac", "container": "mp4",
      "sample_rate": 48000,
      "segments": [                   # in order, tiling [0, frame_count)
        {"label": "cold_open"|"opening"|"sponsor"|"part_a"|"eyecatch"|"part_b"|"ending"
                  |"preview"|"c_part",
         "start": s, "end": s, "start_frame": i, "end_frame": j}      # end_frame exclusive
      ],
      "opening": {"start": s, "end": s, "start_frame": i, "end_frame": j, "song": "...",
                  "variant": "op1"} | null,
      "ending":  {... same ...} | null,
      "cuts": [frame, ...],           # first frame of every shot except the first (montage too)
      "transitions": [{"frame": f, "type": "cut"|"fade"|"dissolve"|"wipe", "length": frames}],
                                      # for a dissolve/fade, "frame" is the cut frame used in
                                      # "cuts" (the middle of a dissolve, the first frame of the
                                      # new shot after a fade), "length" its length in frames
      "shots": [{"start_frame": i, "end_frame": j, "segment": label, "kind": "...",
                 "camera": "static"|"pan"|...|null}],  # j exclusive; camera: the label most of
                                      # the shot's frames carry (see "motion" below)
      "scenes": [{"start_frame": i, "end_frame": j, "location": "classroom", "segment": label,
                  "shots": [shot indices]}],   # j exclusive; OP, ED, sponsor, eyecatch and preview
                                               # are one scene each (location = the segment label)
      "characters": {"Name": [[start_s, end_s], ...]},   # on-screen intervals (seconds)
      "screen_time": {"Name": seconds},
      "per_second": {"speech": [0/1, ...], "music": [...], "silence": [...],
                     "on_screen_text": [...], "opening": [...], "ending": [...]},
                                      # second i is 1 when [i, i+1) holds >= 0.5 s of it
      "tags": ["classroom", "speech", "music", "Aoi", ...],   # video-level truth tags
      "credits": [{"text": "...", "start": s, "end": s, "start_frame": i, "end_frame": j,
                   "box": [x, y, w, h],      # where it is drawn at start_frame (pixels)
                   "velocity": [vx, vy],     # pixels per frame (scrolling credits), else [0, 0]
                   "segment": "opening"|"ending"|..., "lang": "ja"|"romaji"|"en"}],
      "speech": [[start_s, end_s, "Name"], ...],
      "music": [[start_s, end_s, "op-song"|"ed-song"|"bgm"|"jingle"], ...],
      "motion": {                     # camera motion and transitions, exact (see below)
        "camera": ["static"|"pan"|"tilt"|"zoom_in"|"zoom_out"|"shake"|"scroll"|null, ...],
                                      # one per second [i, i+1)
        "transitions": {"cut": [0/1, ...], "dissolve": [...], "fade": [...], "wipe": [...]},
        "thresholds": {"move": 0.04, "still": 0.015}},
      "notes": ["episode without OP" | "short OP" | "new OP from this episode" | "OP used as ED"],
      "format_class": "small"|"short"|"mid"|"full", "show_title": [ja, romaji],
      "material_files": [names of fetched files used], "render_seconds": s
    }

Tags: the episode's scene locations, the characters on screen, and "speech" / "music" /
"silence" when present.  Scenes of 1-4 shots at one location make up the cold open, A/B parts and
C part; the OP, ED, sponsor card, eyecatch and preview are one scene each.

Camera motion (``motion.camera``, ``shots[i].camera``) comes from the exact path of the camera
window over the background.  Per frame: the window centre's motion in frame pixels gives the pan
(horizontal) and tilt (vertical) speeds, the change of window size the zoom speed (the apparent
motion at the frame's left/right edge, ``|d ln size| * W / 2``); speeds are in frame heights per
second.  A frame is ``shake`` when its shot shakes (per-frame random jitter); else ``zoom_in`` /
``zoom_out`` when the zoom is the fastest component and >= ``MOVE_SPEED``; else ``scroll`` while a
credit roll moves on screen; else ``pan`` / ``tilt`` when the faster of the two is >=
``MOVE_SPEED``; else ``static`` when every component is < ``STILL_SPEED``; else null (a drift
between the two thresholds: too slow to call a move, too fast to call still).  Footage shots
(real video) are null: their camera is unknown.  A second takes the label of >= 60% of its
frames, else null.  Null seconds are left out of training and scoring.
Transitions per second: ``cut`` when a hard cut's first new frame lies in the second;
``dissolve`` / ``fade`` / ``wipe`` when the second holds >= 1/3 of that transition's frames (a
fade from or to black at a shot's start or end is a ``fade`` too).

Times are always ``frame / fps`` with ``fps`` an exact :class:`fractions.Fraction`.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import numpy as np

FORMAT = "vpos-corpus-truth/1"
SEGMENT_LABELS = ["cold_open", "opening", "sponsor", "part_a", "eyecatch", "part_b", "ending",
                  "preview", "c_part"]


def ftime(frame: int, fps: Fraction) -> float:
    """Seconds of a frame index, rounded to microseconds."""
    return round(float(Fraction(frame) / fps), 6)


def parse_fps(value) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str) and "/" in value:
        a, b = value.split("/")
        return Fraction(int(a), int(b))
    return Fraction(value).limit_denominator(1001)


def per_second(intervals: Iterable[Sequence[float]], duration: float, min_overlap: float = 0.5) -> List[int]:
    """Second i is 1 when the union of ``intervals`` covers >= ``min_overlap`` s of [i, i+1)."""
    n = int(np.ceil(duration - 1e-9)) if duration > 0 else 0
    cover = np.zeros(n, np.float64)
    ivs = sorted((max(0.0, float(a)), min(float(duration), float(b))) for a, b, *_ in intervals)
    merged: List[List[float]] = []
    for a, b in ivs:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    for a, b in merged:
        i0, i1 = int(np.floor(a)), int(np.ceil(b))
        for i in range(i0, min(i1, n)):
            cover[i] += max(0.0, min(b, i + 1) - max(a, i))
    # the last partial second counts when it holds >= half of its own length
    out = []
    for i in range(n):
        length = min(1.0, duration - i)
        need = min(min_overlap, 0.5 * length)
        out.append(int(cover[i] >= need - 1e-9))
    return out


def mask_per_second(mask: np.ndarray, rate: float, duration: float) -> List[int]:
    """Per-second labels from a boolean mask sampled at ``rate`` Hz."""
    n = int(np.ceil(duration - 1e-9))
    out = []
    for i in range(n):
        a, b = int(round(i * rate)), int(round(min(duration, i + 1) * rate))
        seg = mask[a:b]
        out.append(int(seg.size > 0 and seg.mean() >= 0.5 - 1e-9))
    return out


def intervals_from_mask(mask: np.ndarray, rate: float) -> List[List[float]]:
    m = np.concatenate([[0], np.asarray(mask, np.int8), [0]])
    d = np.diff(m)
    starts, ends = np.where(d == 1)[0], np.where(d == -1)[0]
    return [[round(s / rate, 6), round(e / rate, 6)] for s, e in zip(starts, ends)]


CAMERA_LABELS = ["static", "pan", "tilt", "zoom_in", "zoom_out", "shake", "scroll"]
TRANSITION_LABELS = ["cut", "dissolve", "fade", "wipe"]
MOVE_SPEED = 0.04  # frame heights per second: a move (about 1 px per frame at 480p, 24 fps)
STILL_SPEED = 0.015  # below this in every component the camera is still


def camera_label(pan: float, tilt: float, zoom: float, shake: bool, scroll: bool):
    """One frame's camera label from its speeds (frame heights per second; ``zoom`` signed,
    > 0 zooming in); None between the still and move thresholds (see the module docstring)."""
    if shake:
        return "shake"
    z = abs(zoom)
    if z >= MOVE_SPEED and z >= max(pan, tilt):
        return "zoom_in" if zoom > 0 else "zoom_out"
    if scroll:
        return "scroll"
    if max(pan, tilt) >= MOVE_SPEED:
        return "pan" if pan >= tilt else "tilt"
    if max(pan, tilt, z) < STILL_SPEED:
        return "static"
    return None


def majority_label(labels: Sequence, min_share: float = 0.6):
    """The label >= ``min_share`` of ``labels`` carry (None counts as a label), else None."""
    if len(labels) == 0:
        return None
    vals, counts = np.unique(np.array([str(x) for x in labels], dtype=object), return_counts=True)
    j = int(np.argmax(counts))
    top = vals[j]
    if top == "None" or counts[j] < min_share * len(labels):
        return None
    return top


def camera_per_second(frame_labels: Sequence, fps: Fraction, duration: float) -> list:
    """Per-second camera labels from per-frame ones (a second: the frames whose time is in it)."""
    n = int(np.ceil(duration - 1e-9))
    out = []
    for i in range(n):
        a = int(np.ceil(Fraction(i) * fps - Fraction(1, 10**9)))
        b = int(np.ceil(Fraction(i + 1) * fps - Fraction(1, 10**9)))
        out.append(majority_label(frame_labels[a:min(b, len(frame_labels))]))
    return out


def transitions_per_second(spans: Iterable[tuple], fps: Fraction, duration: float) -> Dict[str, List[int]]:
    """``spans``: (type, first_frame, end_frame) of every transition (a cut: ("cut", f, f + 1))."""
    n = int(np.ceil(duration - 1e-9))
    out = {lab: [0] * n for lab in TRANSITION_LABELS}
    for kind, a, b in spans:
        if kind not in out:
            continue
        length = max(1, b - a)
        for i in range(n):
            s0 = int(np.ceil(Fraction(i) * fps - Fraction(1, 10**9)))
            s1 = int(np.ceil(Fraction(i + 1) * fps - Fraction(1, 10**9)))
            inside = max(0, min(b, s1) - max(a, s0))
            if (kind == "cut" and s0 <= a < s1) or (kind != "cut" and inside * 3 >= length and inside > 0):
                out[kind][i] = 1
    return out


def load_truth(path) -> dict:
    with open(path) as f:
        doc = json.load(f)
    return doc


def save_truth(doc: dict, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)


def truth_files(truth_dir) -> Dict[str, Path]:
    """``id -> path`` of every ``*.truth.json`` under a corpus folder."""
    out = {}
    for p in sorted(Path(truth_dir).rglob("*.truth.json")):
        out[p.name[: -len(".truth.json")]] = p
    return out


def truth_to_result(truth: dict, with_per_second: bool = True) -> dict:
    """A vpos result document that says exactly what the truth says (used to test the evaluator)."""
    fps = parse_fps(truth.get("fps_fraction") or truth["fps"])
    dur = float(truth["duration"])
    nsec = int(np.ceil(dur - 1e-9))
    shots = []
    for i, s in enumerate(truth["shots"]):
        shots.append({"index": i, "start_frame": s["start_frame"], "end_frame": s["end_frame"] - 1,
                      "start_time": ftime(s["start_frame"], fps), "end_time": ftime(s["end_frame"], fps)})
    scenes = []
    for i, s in enumerate(truth["scenes"]):
        scenes.append({"index": i, "shots": s.get("shots", []), "start_frame": s["start_frame"],
                       "end_frame": s["end_frame"] - 1, "start_time": ftime(s["start_frame"], fps),
                       "end_time": ftime(s["end_frame"], fps), "label": s.get("location")})

    def seg(x):
        return None if x is None else {"start": x["start"], "end": x["end"], "confidence": 1.0}

    res = {
        "video": {"path": truth.get("path"), "duration": dur, "fps": truth["fps"],
                  "frame_count": truth["frame_count"], "width": truth.get("width"),
                  "height": truth.get("height"), "has_audio": True},
        "shots": shots,
        "opening": seg(truth.get("opening")),
        "ending": seg(truth.get("ending")),
        "segments": [{"label": s["label"], "start": s["start"], "end": s["end"], "confidence": 1.0}
                     for s in truth["segments"]],
        "scenes": scenes,
        "characters": {
            "names": sorted(truth.get("characters", {})),
            "intervals": {k: [list(v) for v in iv] for k, iv in truth.get("characters", {}).items()},
            "screen_time": dict(truth.get("screen_time", {})),
        },
        "tags": {"vocabulary": sorted(set(truth.get("tags", []))),
                 "video": [{"label": t, "score": 1.0 - 0.001 * i} for i, t in enumerate(truth.get("tags", []))]},
    }
    if with_per_second:
        ps = truth.get("per_second", {})
        res["per_second"] = {"t": list(range(nsec)),
                             "op_prob": [float(x) for x in ps.get("opening", [0] * nsec)],
                             "ed_prob": [float(x) for x in ps.get("ending", [0] * nsec)]}
        res["characters"]["per_second"] = {
            k: [float(x) for x in per_second(iv, dur)] for k, iv in truth.get("characters", {}).items()}
        res["tags"]["per_second"] = {k: [float(x) for x in ps[k]] for k in ("speech", "music", "silence")
                                     if k in ps}
    return res


def still_frames(shots, speech, fps, n_frames: int) -> np.ndarray:
    """(n_frames,) bool: the frame is one drawing held, or moved as a whole (panned/zoomed).

    `shots` are the plan's Shot objects (vpos/corpus/shows.py), `speech` the truth's [start, end,
    speaker] lines. A frame is NOT still when it shows real footage, an animated overlay effect
    (speed lines, bokeh, flash), a sprite drifting over the background, a speaking character's
    mouth flaps (outside opening/ending/eyecatch, as the renderer animates them), or sprites over a
    moving camera (the layers move apart: parallax, not one picture)."""
    fps = float(fps)
    still = np.zeros(max(0, int(n_frames)), bool)
    talk: dict = {}
    for a, b, *who in speech:
        if who:
            talk.setdefault(who[0], []).append((int(a * fps), int(np.ceil(b * fps))))
    for sh in shots:
        a, b = int(sh.start), min(int(sh.start + sh.n), len(still))
        if b <= a or sh.bg[0] == "footage" or sh.effect or any(sp.dx for sp in sh.sprites):
            continue
        camera_moves = tuple(sh.pan[:2]) != tuple(sh.pan[2:]) or sh.zoom[0] != sh.zoom[1]
        if sh.sprites and camera_moves:
            continue
        m = np.ones(b - a, bool)
        if sh.segment not in ("opening", "ending", "eyecatch"):
            for sp in sh.sprites:
                for ta, tb in talk.get(sp.char, ()):
                    lo, hi = max(ta, a), min(tb, b)
                    if hi > lo:
                        m[lo - a : hi - a] = False
        still[a:b] = m
    return still
