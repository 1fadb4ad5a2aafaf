"""Score vpos results against corpus ground truth (``python -m vpos eval --truth DIR --pred DIR``).

Truth: ``<id>.truth.json`` files (format in :mod:`vpos.corpus.truth`), found recursively.
Predictions: vpos result documents ``<id>.json`` or ``<id>.vpos.json`` (found recursively in the
prediction folder), matched to the truth by id.

Metrics (REFERENCE.md, "Metrics we report"):

* **OP/ED boundaries** -- the competition metric ``mean(max(0, |pred - truth| - 1 s))`` for OP start,
  OP end, ED start and ED end, over episodes where both truth and prediction have the segment;
  ``missed`` (truth has it, prediction says none) and ``false`` (prediction has one, truth none)
  are counted separately.  The prediction's segment is ``opening``/``ending``, else the
  ``segments`` entry with that label, else the longest run of ``op_prob``/``ed_prob`` >= 0.5.
* **Per-second OP/ED F1** -- second i is positive when [i, i+1) overlaps the segment >= 0.5 s;
  prediction from ``per_second.op_prob >= 0.5`` when present, else from the interval. Micro-F1
  over all seconds of all episodes.
* **Shots** -- cut F1, cuts = ``start_frame`` of every shot but the first, +-2 frames, one-to-one.
* **Scenes** -- boundary F1 (a predicted boundary frame matches a truth boundary when the truth
  shots that contain them are at most one apart, one-to-one) and mIoU (mean over truth scenes of
  the best IoU with a predicted scene and vice versa, the two averaged).
* **Characters** -- per-second presence accuracy and F1, absolute screen-time error (s).  Names are
  matched by name; when the prediction's names share nothing with the truth (e.g. ``char_1``), an
  optimal one-to-one assignment by per-second agreement is used (reported).
* **Tags** -- Hit@1, Hit@2 (any of the top-k video tags is a truth tag) and GAP@20; per-second
  speech/music/silence F1 when the prediction has them.

A field absent from a prediction is reported as ``missing`` with how many episodes lacked it; it is
never scored as zero.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

TOL_COMPETITION = 1.0
SHOT_TOL = 2

# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def competition_error(pred: float, truth: float, tol: float = TOL_COMPETITION) -> float:
    return max(0.0, abs(float(pred) - float(truth)) - tol)


def prf(tp: int, fp: int, fn: int) -> Dict[str, float]:
    p = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def interval_per_second(start: float, end: float, n: int, min_overlap: float = 0.5,
                        duration: Optional[float] = None) -> np.ndarray:
    out = np.zeros(n, bool)
    if start is None or end is None or end <= start:
        return out
    for i in range(max(0, int(math.floor(start))), min(n, int(math.ceil(end)))):
        ov = min(end, i + 1) - max(start, i)
        length = 1.0 if duration is None else min(1.0, duration - i)
        if ov >= min(min_overlap, 0.5 * length) - 1e-9:
            out[i] = True
    return out


def intervals_per_second(ivs, n: int, duration: Optional[float] = None) -> np.ndarray:
    cover = np.zeros(n, float)
    for iv in ivs or []:
        a, b = float(iv[0]), float(iv[1])
        for i in range(max(0, int(math.floor(a))), min(n, int(math.ceil(b)))):
            cover[i] += max(0.0, min(b, i + 1) - max(a, i))
    need = np.full(n, 0.5)
    if duration is not None and n:
        need[-1] = min(0.5, 0.5 * (duration - (n - 1)))
    return cover >= need - 1e-9


def match_one_to_one(truth: Sequence[float], pred: Sequence[float], tol: float) -> int:
    """Number of truth/pred points matched one-to-one within ``tol`` (maximum matching on a line)."""
    t = sorted(truth)
    p = sorted(pred)
    i = j = tp = 0
    while i < len(t) and j < len(p):
        if abs(t[i] - p[j]) <= tol:
            tp += 1
            i += 1
            j += 1
        elif p[j] < t[i]:
            j += 1
        else:
            i += 1
    return tp


def longest_run(mask: np.ndarray) -> Optional[Tuple[int, int]]:
    best = None
    m = np.concatenate([[0], mask.astype(np.int8), [0]])
    d = np.diff(m)
    for s, e in zip(np.where(d == 1)[0], np.where(d == -1)[0]):
        if best is None or e - s > best[1] - best[0]:
            best = (int(s), int(e))
    return best


# --------------------------------------------------------------------------------------------
# per-episode extraction
# --------------------------------------------------------------------------------------------

MISSING = object()


def pred_segment(pred: dict, which: str):
    """(start, end) | None (prediction says there is none) | MISSING (prediction does not say)."""
    label = "opening" if which == "opening" else "ending"
    if which in pred:
        v = pred[which]
        if v is None:
            return None
        if v.get("start") is not None and v.get("end") is not None:
            return float(v["start"]), float(v["end"])
    segs = pred.get("segments")
    if isinstance(segs, list):
        found = [s for s in segs if s.get("label") == label and s.get("start") is not None]
        if found:
            best = max(found, key=lambda s: (s.get("confidence") or 0, s["end"] - s["start"]))
            return float(best["start"]), float(best["end"])
        if segs:
            return None
    ps = pred.get("per_second") or {}
    key = "op_prob" if which == "opening" else "ed_prob"
    if ps.get(key) is not None:
        run = longest_run(np.asarray(ps[key], float) >= 0.5)
        t = ps.get("t")
        if run is None:
            return None
        s, e = run
        if t and len(t) == len(ps[key]):
            return float(math.floor(float(t[s]) + 1e-6)), float(math.floor(float(t[e - 1]) + 1e-6)) + 1.0
        return float(s), float(e)
    return MISSING


def truth_nsec(truth: dict) -> int:
    return int(math.ceil(float(truth["duration"]) - 1e-9))


def score_boundaries(truth: dict, pred: dict) -> dict:
    out = {}
    for which, short in (("opening", "op"), ("ending", "ed")):
        t = truth.get(which)
        p = pred_segment(pred, which)
        r = {"truth": None if t is None else [t["start"], t["end"]]}
        if p is MISSING:
            r["status"] = "missing"
        else:
            r["pred"] = None if p is None else list(p)
            if t is not None and p is not None:
                r["status"] = "scored"
                r["start_error"] = competition_error(p[0], t["start"])
                r["end_error"] = competition_error(p[1], t["end"])
                r["start_abs"] = abs(p[0] - t["start"])
                r["end_abs"] = abs(p[1] - t["end"])
            elif t is not None:
                r["status"] = "missed"
            elif p is not None:
                r["status"] = "false"
            else:
                r["status"] = "true_negative"
        out[short] = r
    return out


def score_per_second_segments(truth: dict, pred: dict) -> dict:
    n = truth_nsec(truth)
    dur = float(truth["duration"])
    out = {}
    for which, short, key in (("opening", "op", "op_prob"), ("ending", "ed", "ed_prob")):
        t = truth.get(which)
        tm = interval_per_second(t["start"], t["end"], n, duration=dur) if t else np.zeros(n, bool)
        ps = pred.get("per_second") or {}
        if ps.get(key) is not None:
            pv = np.asarray(ps[key], float)
            tt = ps.get("t")
            pm = np.zeros(n, bool)
            if tt and len(tt) == len(pv):
                for ti, v in zip(tt, pv):
                    i = int(math.floor(float(ti) + 1e-6))
                    if 0 <= i < n:
                        pm[i] = v >= 0.5
            else:
                m = min(n, len(pv))
                pm[:m] = pv[:m] >= 0.5
            src = key
        else:
            p = pred_segment(pred, which)
            if p is MISSING:
                out[short] = {"status": "missing"}
                continue
            pm = interval_per_second(p[0], p[1], n, duration=dur) if p else np.zeros(n, bool)
            src = which
        tp = int((tm & pm).sum())
        fp = int((~tm & pm).sum())
        fn = int((tm & ~pm).sum())
        out[short] = {"status": "scored", "source": src, "tp": tp, "fp": fp, "fn": fn}
    return out


def truth_cuts(truth: dict) -> List[int]:
    if truth.get("cuts") is not None:
        return [int(c) for c in truth["cuts"]]
    return [int(s["start_frame"]) for s in truth["shots"][1:]]


def _frame_of(item: dict, key: str, fps: float) -> Optional[int]:
    """``<key>_frame``, else ``<key>_time`` x fps (rounded)."""
    v = item.get(f"{key}_frame")
    if v is not None:
        return int(v)
    t = item.get(f"{key}_time")
    return None if t is None else int(round(float(t) * fps))


def pred_cuts(pred: dict, fps: float = 25.0):
    shots = pred.get("shots")
    if shots is None:
        return MISSING
    starts = sorted(f for f in (_frame_of(s, "start", fps) for s in shots) if f is not None)
    return starts[1:] if starts and starts[0] == 0 else [s for s in starts if s > 0]


def score_shots(truth: dict, pred: dict, tol: int = SHOT_TOL) -> dict:
    pc = pred_cuts(pred, float(truth["fps"]))
    if pc is MISSING:
        return {"status": "missing"}
    tc = truth_cuts(truth)
    tp = match_one_to_one(tc, pc, tol)
    return {"status": "scored", "tp": tp, "fp": len(pc) - tp, "fn": len(tc) - tp}


def _truth_shot_index(truth: dict):
    starts = np.asarray([s["start_frame"] for s in truth["shots"]], np.int64)

    def idx(frame: int) -> int:
        return int(np.searchsorted(starts, frame, side="right") - 1)

    return idx


def _scene_intervals(scenes: list, inclusive_end: bool, frame_count: int, fps: float = 25.0) -> List[Tuple[int, int]]:
    out = []
    for s in scenes:
        a = _frame_of(s, "start", fps)
        if s.get("end_frame") is not None:
            b = int(s["end_frame"]) + (1 if inclusive_end else 0)
        else:
            b = _frame_of(s, "end", fps)
        if a is None or b is None:
            continue
        out.append((a, min(b, frame_count)))
    return sorted(out)


def _iou(a: Tuple[int, int], b: Tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def _best_ious(xs, ys) -> List[float]:
    out = []
    for x in xs:
        best = 0.0
        for y in ys:
            if y[1] <= x[0]:
                continue
            if y[0] >= x[1]:
                break
            best = max(best, _iou(x, y))
        out.append(best)
    return out


def score_scenes(truth: dict, pred: dict) -> dict:
    scenes = pred.get("scenes")
    if scenes is None:
        return {"status": "missing"}
    fc = int(truth["frame_count"])
    ts = _scene_intervals(truth["scenes"], False, fc)
    ps = _scene_intervals(scenes, True, fc, float(truth["fps"]))
    tb = [a for a, _ in ts[1:]]
    pb = sorted(set(a for a, _ in ps if a > 0))
    idx = _truth_shot_index(truth)
    # one-to-one matching in "truth shot index" space with tolerance 1
    tp = match_one_to_one([idx(b) for b in tb], [idx(b) for b in pb], 1)
    miou_t = float(np.mean(_best_ious(ts, ps))) if ts else 0.0
    miou_p = float(np.mean(_best_ious(ps, ts))) if ps else 0.0
    return {"status": "scored", "tp": tp, "fp": len(pb) - tp, "fn": len(tb) - tp,
            "miou": 0.5 * (miou_t + miou_p), "miou_truth_to_pred": miou_t, "miou_pred_to_truth": miou_p,
            "n_truth": len(ts), "n_pred": len(ps)}


def _pred_char_masks(pred_chars: dict, n: int, dur: float) -> Optional[Dict[str, np.ndarray]]:
    out: Dict[str, np.ndarray] = {}
    ps = pred_chars.get("per_second")
    ivs = pred_chars.get("intervals")
    if ivs:  # the decision (snapped to shot cuts) rather than the per-sample probabilities
        for k, v in ivs.items():
            out[k] = intervals_per_second(v, n, dur)
    elif ps:
        for k, v in ps.items():
            m = np.zeros(n, bool)
            v = np.asarray(v, float)[:n]
            m[: len(v)] = v >= 0.5
            out[k] = m
    elif pred_chars.get("names") is not None or pred_chars.get("screen_time") is not None:
        return {}
    else:
        return None
    return out


def _screen_time(ivs) -> float:
    return float(sum(max(0.0, float(b) - float(a)) for a, b, *_ in ivs))


def score_characters(truth: dict, pred: dict) -> dict:
    pc = pred.get("characters")
    if not isinstance(pc, dict):
        return {"status": "missing"}
    n = truth_nsec(truth)
    dur = float(truth["duration"])
    tchars = truth.get("characters", {})
    tmasks = {k: intervals_per_second(v, n, dur) for k, v in tchars.items()}
    pmasks = _pred_char_masks(pc, n, dur)
    pst = dict(pc.get("screen_time") or {})
    if pmasks is None:
        return {"status": "missing"}
    presence = bool(pmasks)  # False: only screen times were given
    for k in pst:
        pmasks.setdefault(k, None)
    names_p = [k for k in pmasks]
    mapping: Dict[str, Optional[str]] = {}
    common = set(tmasks) & set(names_p)
    assignment = "by_name"
    if common or not names_p:
        for k in tmasks:
            mapping[k] = k if k in names_p else None
    else:
        assignment = "optimal"
        tn = list(tmasks)
        cost = np.zeros((len(tn), len(names_p)))
        for i, a in enumerate(tn):
            for j, b in enumerate(names_p):
                pm = pmasks[b]
                if pm is None:
                    continue
                cost[i, j] = -float((tmasks[a] & pm).sum())
        try:
            from scipy.optimize import linear_sum_assignment

            ri, ci = linear_sum_assignment(cost)
        except Exception:  # pragma: no cover - scipy missing
            ri, ci = np.arange(min(cost.shape)), np.arange(min(cost.shape))
        for k in tn:
            mapping[k] = None
        for i, j in zip(ri, ci):
            mapping[tn[i]] = names_p[j]
    # A result found from references (`references`: name -> images) was asked for those names only:
    # a character of the truth with no references is not scored as missed (nobody could name it)
    # but as the wrong-name target has it: its seconds under a name that is not on screen then.
    refd = pc.get("references")
    unreferenced = {}
    if assignment == "by_name" and isinstance(refd, dict) and refd:
        elsewhere = np.zeros(n, bool)  # a name reported while that character is not on screen
        for b in names_p:
            if pmasks.get(b) is not None:
                elsewhere |= pmasks[b] & ~tmasks.get(b, np.zeros(n, bool))
        for k in [k for k in tmasks if k not in refd]:
            on = tmasks.pop(k)
            unreferenced[k] = {"seconds": int(on.sum()), "wrong_name_seconds": int((on & elsewhere).sum())}
    correct = total = tp = fp = fn = 0
    st_err, st_pct = [], []
    per = {}
    for k, tm in tmasks.items():
        pk = mapping.get(k)
        pm = pmasks.get(pk) if pk is not None else None
        if pm is None:
            pm = np.zeros(n, bool)
        correct += int((pm == tm).sum())
        total += n
        tp += int((pm & tm).sum())
        fp += int((pm & ~tm).sum())
        fn += int((~pm & tm).sum())
        t_st = _screen_time(tchars[k])
        if pk is not None and pk in pst:
            p_st = float(pst[pk])
        elif pk is not None and isinstance(pc.get("intervals"), dict) and pk in pc["intervals"]:
            p_st = _screen_time(pc["intervals"][pk])
        else:
            p_st = float(pm.sum())
        st_err.append(abs(p_st - t_st))
        if t_st > 0:
            st_pct.append(100.0 * abs(p_st - t_st) / t_st)
        per[k] = {"pred_name": pk, "accuracy": float((pm == tm).mean()) if n else 1.0,
                  "screen_time_truth": t_st, "screen_time_pred": p_st}
    if not presence:
        correct = total = tp = fp = fn = 0
    return {"status": "scored", "presence": presence, "assignment": assignment, "correct": correct, "total": total,
            "tp": tp, "fp": fp, "fn": fn, "screen_time_abs_errors": st_err, "screen_time_pct_errors": st_pct,
            "per_character": per, "unreferenced": unreferenced}


def _norm_tag(s: str) -> str:
    s = str(s).strip().lower()
    return s.split(":", 1)[1] if ":" in s else s


def score_tags(truth: dict, pred: dict) -> dict:
    tg = pred.get("tags")
    if not isinstance(tg, dict):
        return {"status": "missing"}
    out: Dict[str, object] = {"status": "scored"}
    ttags = set(_norm_tag(t) for t in truth.get("tags", []))
    vid = tg.get("video")
    if vid is not None and ttags:
        ranked = sorted(vid, key=lambda x: -float(x.get("score", 0)))
        labels = [_norm_tag(x["label"]) for x in ranked]
        out["hit1"] = int(any(l in ttags for l in labels[:1]))
        out["hit2"] = int(any(l in ttags for l in labels[:2]))
        out["gap_items"] = [(float(x.get("score", 0)), int(_norm_tag(x["label"]) in ttags)) for x in ranked[:20]]
        out["n_truth_tags"] = min(20, len(ttags))
    else:
        out["video_status"] = "missing"
    tps = truth.get("per_second", {})
    pps = tg.get("per_second") or {}
    n = truth_nsec(truth)
    ps_scores = {}
    for k in ("speech", "music", "silence"):
        if k in pps and k in tps:
            tm = np.asarray(tps[k][:n], bool)
            pv = np.asarray(pps[k], float)[:n]
            pm = np.zeros(len(tm), bool)
            pm[: len(pv)] = pv >= 0.5
            ps_scores[k] = {"tp": int((tm & pm).sum()), "fp": int((~tm & pm).sum()), "fn": int((tm & ~pm).sum())}
    out["per_second"] = ps_scores
    return out


def score_motion(truth: dict, pred: dict) -> dict:
    """Camera motion and transitions per second against the truth's `motion` block: camera = the
    argmax label of each whole second (seconds without a truth label are skipped), transitions =
    probability >= the model's threshold.  Counts per label (tp, fp, fn)."""
    mo, tm = pred.get("motion"), truth.get("motion")
    if not mo or not tm:
        return {"status": "missing"}
    ps = mo.get("per_second") or {}
    t = (pred.get("per_second") or {}).get("t") or []
    cams = mo.get("camera_labels") or []
    trs = mo.get("transition_labels") or []
    first = {}
    for i, x in enumerate(t):  # the prediction at the start of each whole second
        first.setdefault(int(np.floor(float(x) + 1e-6)), i)
    out = {"status": "scored", "camera": {}, "transitions": {}}
    for lab in cams:
        out["camera"][lab] = [0, 0, 0]
    for k, lab_true in enumerate(tm.get("camera", [])):
        if lab_true is None or k not in first or not cams:
            continue
        i = first[k]
        lab_pred = max(cams, key=lambda c: ps[c][i] if ps[c][i] is not None else -1)
        if lab_pred == lab_true:
            out["camera"][lab_true][0] += 1
        else:
            out["camera"][lab_pred][1] += 1
            if lab_true in out["camera"]:
                out["camera"][lab_true][2] += 1
    th = dict(zip(trs, (mo.get("thresholds") or [])[len(cams):]))
    for lab in trs:
        truth_ps = (tm.get("transitions") or {}).get(lab)
        if truth_ps is None:
            continue
        c = [0, 0, 0]
        for k, y in enumerate(truth_ps):
            if k not in first:
                continue
            p = (ps[lab][first[k]] or 0.0) >= (th.get(lab) or 0.5)
            c[0] += int(p and y)
            c[1] += int(p and not y)
            c[2] += int(not p and y)
        out["transitions"][lab] = c
    return out


def evaluate_pair(truth: dict, pred: dict) -> dict:
    return {
        "motion": score_motion(truth, pred),
        "boundaries": score_boundaries(truth, pred),
        "op_ed_per_second": score_per_second_segments(truth, pred),
        "shots": score_shots(truth, pred),
        "scenes": score_scenes(truth, pred),
        "characters": score_characters(truth, pred),
        "tags": score_tags(truth, pred),
    }


# --------------------------------------------------------------------------------------------
# aggregation
# --------------------------------------------------------------------------------------------

def _mean(xs):
    return float(np.mean(xs)) if len(xs) else None


def aggregate(per_episode: Dict[str, dict]) -> dict:
    n = len(per_episode)
    summary: Dict[str, dict] = {}
    # boundaries
    for short, name in (("op", "opening"), ("ed", "ending")):
        errs_s, errs_e, missing = [], [], 0
        counts = {"scored": 0, "missed": 0, "false": 0, "true_negative": 0, "missing": 0}
        for ep in per_episode.values():
            r = ep["boundaries"][short]
            counts[r["status"]] += 1
            if r["status"] == "scored":
                errs_s.append(r["start_error"])
                errs_e.append(r["end_error"])
        s = {"episodes": n, **counts}
        if counts["missing"] == n:
            s["status"] = "missing"
        else:
            s["status"] = "scored"
            s["start_metric"] = _mean(errs_s)
            s["end_metric"] = _mean(errs_e)
        summary[f"{short}_boundaries"] = s
    # per-second OP/ED
    for short in ("op", "ed"):
        tp = fp = fn = miss = 0
        for ep in per_episode.values():
            r = ep["op_ed_per_second"][short]
            if r["status"] == "missing":
                miss += 1
                continue
            tp, fp, fn = tp + r["tp"], fp + r["fp"], fn + r["fn"]
        summary[f"{short}_per_second"] = ({"status": "missing", "missing": miss} if miss == n else
                                          {"status": "scored", "missing": miss, **prf(tp, fp, fn)})
    # shots
    tp = fp = fn = miss = 0
    for ep in per_episode.values():
        r = ep["shots"]
        if r["status"] == "missing":
            miss += 1
            continue
        tp, fp, fn = tp + r["tp"], fp + r["fp"], fn + r["fn"]
    summary["shots"] = ({"status": "missing", "missing": miss} if miss == n else
                        {"status": "scored", "missing": miss, "tolerance_frames": SHOT_TOL, **prf(tp, fp, fn)})
    # scenes
    tp = fp = fn = miss = 0
    mious = []
    for ep in per_episode.values():
        r = ep["scenes"]
        if r["status"] == "missing":
            miss += 1
            continue
        tp, fp, fn = tp + r["tp"], fp + r["fp"], fn + r["fn"]
        mious.append(r["miou"])
    summary["scenes"] = ({"status": "missing", "missing": miss} if miss == n else
                         {"status": "scored", "missing": miss, "miou": _mean(mious), **prf(tp, fp, fn)})
    # characters
    c = t = tp = fp = fn = miss = 0
    st, stp, unref = [], [], []
    for ep in per_episode.values():
        r = ep["characters"]
        if r["status"] == "missing":
            miss += 1
            continue
        unref += [(u["wrong_name_seconds"], u["seconds"]) for u in r.get("unreferenced", {}).values() if u["seconds"]]
        c, t = c + r["correct"], t + r["total"]
        tp, fp, fn = tp + r["tp"], fp + r["fp"], fn + r["fn"]
        st += r["screen_time_abs_errors"]
        stp += r.get("screen_time_pct_errors", [])
    summary["characters"] = ({"status": "missing", "missing": miss} if miss == n else
                             {"status": "scored", "missing": miss, "accuracy": c / t if t else None,
                              "screen_time_mae": _mean(st), "screen_time_pct_mean": _mean(stp),
                              # the target is per character (<= 5% of each one's screen time), so the
                              # worst pair and the share of episode x character pairs within 5% too
                              "screen_time_pct_max": max(stp) if stp else None,
                              "screen_time_within_5pct": _mean([float(x <= 5.0) for x in stp]),
                              # characters of the truth without references: the share of their
                              # seconds under a name not on screen (target <= 2% for each one)
                              **({"unreferenced_pairs": len(unref),
                                  "unreferenced_wrong_name_rate": sum(w for w, _ in unref) / sum(o for _, o in unref),
                                  "unreferenced_wrong_name_pct_max": max(100.0 * w / o for w, o in unref),
                                  "unreferenced_wrong_name_within_2pct": _mean([float(100.0 * w / o <= 2.0) for w, o in unref])}
                                 if unref else {}),
                             **(prf(tp, fp, fn) if t else {"f1": None})})
    # tags
    hit1, hit2, gap_items, npos, miss, vmiss = [], [], [], 0, 0, 0
    ps_tot: Dict[str, List[int]] = {}
    for ep in per_episode.values():
        r = ep["tags"]
        if r["status"] == "missing":
            miss += 1
            continue
        if "hit1" in r:
            hit1.append(r["hit1"])
            hit2.append(r["hit2"])
            gap_items += r["gap_items"]
            npos += r["n_truth_tags"]
        else:
            vmiss += 1
        for k, v in r.get("per_second", {}).items():
            acc = ps_tot.setdefault(k, [0, 0, 0])
            acc[0] += v["tp"]
            acc[1] += v["fp"]
            acc[2] += v["fn"]
    if miss == n:
        summary["tags"] = {"status": "missing", "missing": miss}
    else:
        s = {"status": "scored", "missing": miss, "video_missing": vmiss}
        if hit1:
            s["hit1"] = _mean(hit1)
            s["hit2"] = _mean(hit2)
            s["gap20"] = gap(gap_items, npos)
        s["per_second"] = {k: prf(*v) for k, v in ps_tot.items()}
        summary["tags"] = s
    summary["motion"] = aggregate_motion(per_episode)
    return summary


def aggregate_motion(per_episode: Dict[str, dict]) -> dict:
    """Per-label counts summed over episodes -> precision/recall/F1 and the camera macro F1."""
    n = len(per_episode)
    cam_tot: Dict[str, List[int]] = {}
    tr_tot: Dict[str, List[int]] = {}
    miss = 0
    for ep in per_episode.values():
        r = ep.get("motion") or {"status": "missing"}
        if r["status"] == "missing":
            miss += 1
            continue
        for tot, key in ((cam_tot, "camera"), (tr_tot, "transitions")):
            for k, v in r[key].items():
                acc = tot.setdefault(k, [0, 0, 0])
                for j in range(3):
                    acc[j] += v[j]
    if miss == n:
        return {"status": "missing", "missing": miss}
    cam = {k: prf(*v) for k, v in cam_tot.items()}
    scored = [v["f1"] for k, v in cam.items() if cam_tot[k][0] + cam_tot[k][2] > 0]
    return {"status": "scored", "missing": miss, "camera": cam, "camera_macro_f1": _mean(scored),
            "transitions": {k: prf(*v) for k, v in tr_tot.items()}}


def gap(items: List[Tuple[float, int]], n_pos: int) -> float:
    """Global average precision over (score, correct) pairs pooled from all videos."""
    if n_pos <= 0:
        return 0.0
    items = sorted(items, key=lambda x: -x[0])
    hits = 0
    ap = 0.0
    for i, (_, ok) in enumerate(items, 1):
        if ok:
            hits += 1
            ap += hits / i
    return ap / n_pos


# --------------------------------------------------------------------------------------------
# folders, table, CLI
# --------------------------------------------------------------------------------------------

def find_predictions(pred_dir) -> Dict[str, Path]:
    out: Dict[str, Path] = {}
    root = Path(pred_dir)
    for p in sorted(root.rglob("*.json")):
        name = p.name
        if name.endswith(".truth.json"):
            continue
        if name.endswith(".vpos.json"):
            out[name[: -len(".vpos.json")]] = p
        elif name not in ("corpus.json", "split.json", "eval.json"):
            out.setdefault(name[: -len(".json")], p)
    return out


def evaluate_dir(truth_dir, pred_dir, ids: Optional[Sequence[str]] = None, split: Optional[str] = None) -> dict:
    from vpos.corpus.truth import load_truth, truth_files

    truths = truth_files(truth_dir)
    if split:
        sp = json.loads((Path(truth_dir) / "split.json").read_text())
        shows = set(sp[split])
        truths = {k: v for k, v in truths.items() if load_truth(v).get("show") in shows}
    if ids:
        truths = {k: v for k, v in truths.items() if k in set(ids)}
    preds = find_predictions(pred_dir)
    per_ep = {}
    no_pred = []
    for vid, tp in truths.items():
        if vid not in preds:
            no_pred.append(vid)
            continue
        with open(preds[vid]) as f:
            pred = json.load(f)
        per_ep[vid] = evaluate_pair(load_truth(tp), pred)
    report = {"truth_dir": str(truth_dir), "pred_dir": str(pred_dir), "split": split,
              "episodes_truth": len(truths), "episodes_scored": len(per_ep),
              "episodes_without_prediction": no_pred,
              "summary": aggregate(per_ep) if per_ep else {}, "per_episode": per_ep}
    return report


def _fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.1f}" if pct else f"{v:.3f}"


def format_table(report: dict) -> str:
    s = report.get("summary", {})
    lines = [f"vpos eval: {report.get('episodes_scored', 0)} of {report.get('episodes_truth', 0)} episodes "
             f"have a prediction" + (f" (split {report['split']})" if report.get("split") else "")]
    rows: List[Tuple[str, str, str]] = []

    def miss(key, name):
        v = s.get(key, {})
        if v.get("status") == "missing" or not v:
            rows.append((name, "missing", "field absent from every prediction"))
            return True
        return False

    for short, nm in (("op", "OP"), ("ed", "ED")):
        k = f"{short}_boundaries"
        if not miss(k, f"{nm} boundaries"):
            v = s[k]
            rows.append((f"{nm} start (competition s)", _fmt(v.get("start_metric")), f"n={v['scored']}"))
            rows.append((f"{nm} end (competition s)", _fmt(v.get("end_metric")), f"n={v['scored']}"))
            rows.append((f"{nm} missed / false", f"{v['missed']} / {v['false']}",
                         f"missing={v['missing']} true_neg={v['true_negative']}"))
        k = f"{short}_per_second"
        if not miss(k, f"{nm} per-second F1"):
            v = s[k]
            rows.append((f"{nm} per-second F1", _fmt(v["f1"], True), f"P {_fmt(v['precision'], True)} R {_fmt(v['recall'], True)}"))
    if not miss("shots", "Shot cut F1"):
        v = s["shots"]
        rows.append(("Shot cut F1 (+-2 fr)", _fmt(v["f1"], True),
                     f"P {_fmt(v['precision'], True)} R {_fmt(v['recall'], True)} tp={v['tp']} fp={v['fp']} fn={v['fn']}"))
    if not miss("scenes", "Scenes"):
        v = s["scenes"]
        rows.append(("Scene boundary F1 (+-1 shot)", _fmt(v["f1"], True), f"P {_fmt(v['precision'], True)} R {_fmt(v['recall'], True)}"))
        rows.append(("Scene mIoU", _fmt(v["miou"], True), ""))
    if not miss("characters", "Characters"):
        v = s["characters"]
        rows.append(("Character presence acc", _fmt(v["accuracy"], True), f"F1 {_fmt(v.get('f1'), True)}"))
        rows.append(("Screen-time abs error (s)", _fmt(v["screen_time_mae"]), ""))
        if v.get("screen_time_pct_mean") is not None:
            rows.append(("Screen-time error (% of truth)", _fmt(v["screen_time_pct_mean"]),
                         f"mean over episode x character; max {_fmt(v.get('screen_time_pct_max'))}, "
                         f"{_fmt(v.get('screen_time_within_5pct'), True)}% of pairs within 5%"))
        if v.get("unreferenced_pairs"):
            rows.append(("Without references: wrong name", _fmt(v["unreferenced_wrong_name_rate"], True),
                         f"% of their seconds; {v['unreferenced_pairs']} episode x character pairs, worst "
                         f"{_fmt(v['unreferenced_wrong_name_pct_max'])}%, "
                         f"{_fmt(v['unreferenced_wrong_name_within_2pct'], True)}% within 2%"))
    if not miss("tags", "Tags"):
        v = s["tags"]
        if "hit1" in v:
            rows.append(("Tag Hit@1 / Hit@2", f"{_fmt(v['hit1'], True)} / {_fmt(v['hit2'], True)}", ""))
            rows.append(("Tag GAP@20", _fmt(v["gap20"], True), ""))
        else:
            rows.append(("Tag video-level", "missing", ""))
        for k, ps in v.get("per_second", {}).items():
            rows.append((f"Per-second {k} F1", _fmt(ps["f1"], True), ""))
    if (s.get("motion") or {}).get("status") == "scored":
        v = s["motion"]
        rows.append(("Camera motion macro F1", _fmt(v["camera_macro_f1"], True), "per second, over the classes present"))
        for k, ps in v["transitions"].items():
            rows.append((f"Transition {k} F1", _fmt(ps["f1"], True), f"P {_fmt(ps['precision'], True)} R {_fmt(ps['recall'], True)}"))
    # partial results: say how many episodes lacked each scored field
    for key, name in (("op_per_second", "OP per-second F1"), ("ed_per_second", "ED per-second F1"),
                      ("shots", "Shot cut F1 (+-2 fr)"), ("scenes", "Scene boundary F1 (+-1 shot)"),
                      ("characters", "Character presence acc"), ("tags", "Tag")):
        v = s.get(key) or {}
        if v.get("status") == "scored" and v.get("missing"):
            rows = [(a, b, (c + f" [missing in {v['missing']} ep]").strip()) if a.startswith(name) else (a, b, c)
                    for a, b, c in rows]
    w0 = max(len(r[0]) for r in rows) if rows else 10
    w1 = max(len(r[1]) for r in rows) if rows else 10
    lines.append(f"{'metric'.ljust(w0)}  {'value'.rjust(w1)}  note")
    lines.append("-" * (w0 + w1 + 30))
    for a, b, c in rows:
        lines.append(f"{a.ljust(w0)}  {b.rjust(w1)}  {c}")
    if report.get("episodes_without_prediction"):
        lines.append(f"no prediction for {len(report['episodes_without_prediction'])} episode(s): "
                     + ", ".join(report["episodes_without_prediction"][:8]))
    return "\n".join(lines)


# --- competition-format labels -----------------------------------------------------------------

def read_labels(path) -> Dict[str, float]:
    out = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = float(parts[1])
    return out


def score_competition_labels(truth_file, pred_file) -> dict:
    """Competition metric between two ``name seconds`` label files (same names)."""
    t, p = read_labels(truth_file), read_labels(pred_file)
    errs = [competition_error(p[k], v) for k, v in t.items() if k in p]
    return {"metric": _mean(errs), "scored": len(errs), "missing": [k for k in t if k not in p]}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--truth", required=True, help="corpus folder (with <id>.truth.json) or a truth label file")
    ap.add_argument("--pred", required=True, help="folder of vpos results (<id>.json / <id>.vpos.json) or a label file")
    ap.add_argument("--json", dest="json_out", default=None, help="write the full report here (default PRED/eval.json)")
    ap.add_argument("--split", default=None, help="only the shows of this split in TRUTH/split.json (train/val/test)")
    ap.add_argument("--ids", nargs="*", default=None, help="only these episode ids")


def run_from_args(args) -> int:
    if Path(args.truth).is_file() and Path(args.pred).is_file():
        rep = score_competition_labels(args.truth, args.pred)
        print(f"competition metric: {_fmt(rep['metric'])} s over {rep['scored']} clips; missing {len(rep['missing'])}")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(rep, indent=1))
        return 0
    report = evaluate_dir(args.truth, args.pred, ids=args.ids, split=args.split)
    print(format_table(report))
    out = Path(args.json_out) if args.json_out else Path(args.pred) / "eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"report written to {out}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="vpos eval", description=__doc__.split("\n")[0])
    add_arguments(ap)
    return run_from_args(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
