"""Shots and scenes on corpus episodes: analyse (features cached), score with `vpos eval`'s scorers.

    python bench/scenes_eval.py --corpus /tmp/bench_corpus --cache-dir /tmp/scn/cache \
        --episodes kaze-nikki-e02,mori-tabi-e04 --out /tmp/scn/pred

writes one prediction JSON per episode to --out (the same files `python -m vpos eval --truth CORPUS
--pred OUT` scores) and prints shot cut F1 (+-2 frames, overall and inside openings/endings),
scene boundary F1 (+-1 shot), mIoU, boundary AP over the per-shot probabilities and timings.

`--truth-shots` groups the truth shots instead of the detected ones (and skips the shots extractor,
the slowest): a diagnostic of the scene grouping alone; shot F1 is then not measured (reported as 1).

`--grid` re-runs only the scene grouping over a small grid of penalties/weights on the same
features (for tuning on the tuning shows; report on the others with the chosen defaults).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.corpus.truth import load_truth, truth_files  # noqa: E402
from vpos.evaluate import match_one_to_one, prf, score_scenes, score_shots  # noqa: E402
from vpos.pipeline import AnalysisOptions, analyze  # noqa: E402
from vpos.result import Shot  # noqa: E402
from vpos.scenes import SceneOptions, segment_scenes  # noqa: E402

EXTRACTORS = ("visual", "audio", "shots", "colour")


def truth_shot_list(truth: dict) -> list[Shot]:
    """The truth shots as result `Shot`s (truth end frames are exclusive, result ones inclusive)."""
    fps = float(truth["fps"])
    return [Shot(index=i, start_frame=s["start_frame"], end_frame=s["end_frame"] - 1, start_time=round(s["start_frame"] / fps, 4),
                 end_time=round(s["end_frame"] / fps, 4)) for i, s in enumerate(truth["shots"])]


def sequence_cut_scores(truth: dict, pred: dict) -> dict:
    """Shot cut matches restricted to truth cuts inside the opening/ending (montages)."""
    spans = [(s["start_frame"], s["end_frame"]) for s in truth["scenes"] if s.get("segment") in ("opening", "ending")]
    if not spans:
        return {"tp": 0, "fp": 0, "fn": 0}
    inside = lambda f: any(a < f < b for a, b in spans)  # noqa: E731
    tc = [c for c in truth["cuts"] if inside(c)]
    pc = [s["start_frame"] for s in pred["shots"][1:] if inside(s["start_frame"])]
    tp = match_one_to_one(tc, pc, 2)
    return {"tp": tp, "fp": len(pc) - tp, "fn": len(tc) - tp}


def boundary_ap(truth: dict, pred: dict) -> tuple[list[tuple[float, int]], int]:
    """(probability, is-a-true-scene-start) per predicted shot (a shot counts as a true start when
    a truth scene starts within 2 frames of it) and the number of truth scene starts."""
    starts = [s["start_frame"] for s in truth["scenes"][1:]]
    probs = (pred.get("per_shot") or {}).get("scene_boundary_prob")
    if not probs:
        return [], len(starts)
    used = set()
    items = []
    for s, p in zip(pred["shots"][1:], probs[1:]):
        hit = next((i for i, f in enumerate(starts) if abs(f - s["start_frame"]) <= 2 and i not in used), None)
        if hit is not None:
            used.add(hit)
        items.append((float(p), int(hit is not None)))
    return items, len(starts)


def average_precision(items, n_pos):
    if n_pos <= 0 or not items:
        return None
    items = sorted(items, key=lambda x: -x[0])
    hits, ap = 0, 0.0
    for i, (_, ok) in enumerate(items, 1):
        if ok:
            hits += 1
            ap += hits / i
    return ap / n_pos


def summarize(rows: list[dict]) -> dict:
    out = {}
    for key in ("shots", "op_ed_shots", "scenes"):
        tp = sum(r[key]["tp"] for r in rows)
        fp = sum(r[key]["fp"] for r in rows)
        fn = sum(r[key]["fn"] for r in rows)
        out[key] = prf(tp, fp, fn)
    out["scenes"]["miou"] = float(np.mean([r["scenes"]["miou"] for r in rows]))
    items = [it for r in rows for it in r["ap_items"]]
    out["scenes"]["ap"] = average_precision(items, sum(r["ap_pos"] for r in rows))
    return out


def score_episode(truth, doc) -> dict:
    sc = score_scenes(truth, doc)
    items, npos = boundary_ap(truth, doc)
    return {"shots": score_shots(truth, doc), "op_ed_shots": sequence_cut_scores(truth, doc), "scenes": sc,
            "ap_items": items, "ap_pos": npos}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--episodes", required=True, help="comma-separated episode ids (e.g. kaze-nikki-e02)")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--out", default=None, help="folder for the prediction JSONs")
    ap.add_argument("--no-oped", action="store_true", help="do not keep detected openings/endings as one scene")
    ap.add_argument("--penalty", type=float, default=SceneOptions.penalty)
    ap.add_argument("--shot-threshold", type=float, default=AnalysisOptions.shot_threshold)
    ap.add_argument("--visual-weight", type=float, default=SceneOptions.visual_weight)
    ap.add_argument("--colour-weight", type=float, default=SceneOptions.colour_weight)
    ap.add_argument("--border-weight", type=float, default=SceneOptions.border_weight,
                    help="0 with --visual-weight 0.5 --boundary-prob contrast: the previous defaults")
    ap.add_argument("--boundary-prob", choices=["learned", "contrast"], default=SceneOptions.boundary_prob)
    ap.add_argument("--prior-weight", type=float, default=SceneOptions.prior_weight,
                    help="learned log-odds as an OSG start prior (0: training-free grouping)")
    ap.add_argument("--scene-weights", default=None, help="learned boundary model folder (default: weights/scenes)")
    ap.add_argument("--truth-shots", action="store_true",
                    help="group the truth shots (scene grouping alone; no shot detection, shot F1 not measured)")
    ap.add_argument("--grid", action="store_true", help="also sweep scene options on the same features")
    ap.add_argument("--json", default=None, help="write the summary here")
    args = ap.parse_args(argv)

    truths = truth_files(args.corpus)
    ids = [e.strip() for e in args.episodes.split(",") if e.strip()]
    missing = [i for i in ids if i not in truths]
    if missing:
        ap.error(f"no truth for {missing} in {args.corpus}")
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)

    rows, kept = [], []
    for vid in ids:
        truth = load_truth(truths[vid])
        video = Path(args.corpus) / truth["path"]
        extractors = tuple(e for e in EXTRACTORS if e != "shots") if args.truth_shots else EXTRACTORS
        opts = AnalysisOptions(extractors=extractors, cache_dir=args.cache_dir, oped=not args.no_oped,
                               shot_threshold=args.shot_threshold, tags=False,
                               scene_options=SceneOptions(penalty=args.penalty, visual_weight=args.visual_weight,
                                                            colour_weight=args.colour_weight, border_weight=args.border_weight,
                                                            boundary_prob=args.boundary_prob,
                                                            prior_weight=args.prior_weight, weights=args.scene_weights))
        t0 = time.perf_counter()
        res = analyze(video, opts)
        if args.truth_shots:
            res.shots = truth_shot_list(truth)
            spans = [(s.start, s.end) for s in (res.opening, res.ending) if s is not None] or None
            t1 = time.perf_counter()
            sr = segment_scenes(res.features, res.shots, res.options.get("sample_rate", 1.0), opts.scene_options, spans)
            res.timings["scenes"] = time.perf_counter() - t1
            res.scenes = sr.to_list()
            res.per_shot = {"scene_boundary_prob": [round(float(p), 4) for p in sr.boundary_prob]}
        wall = time.perf_counter() - t0
        doc = res.to_dict()
        if out:
            res.save(out / f"{vid}.json")
        r = score_episode(truth, doc)
        r.update(id=vid, duration=res.video.duration, wall=wall, scenes_s=res.timings.get("scenes", 0.0))
        rows.append(r)
        kept.append((vid, truth, res))
        s = r["scenes"]
        print(f"{vid}: shots {len(doc['shots'])} (truth {len(truth['shots'])}) scenes {s['n_pred']} (truth {s['n_truth']}) "
              f"scene F1 {prf(s['tp'], s['fp'], s['fn'])['f1']:.3f} mIoU {s['miou']:.3f} "
              f"shot F1 {prf(**{k: r['shots'][k] for k in ('tp', 'fp', 'fn')})['f1']:.3f} "
              f"scenes stage {r['scenes_s'] * 1000:.0f} ms", flush=True)

    summary = summarize(rows)
    print(json.dumps({k: {m: (round(v, 4) if isinstance(v, float) else v) for m, v in d.items()} for k, d in summary.items()}, indent=1))

    if args.grid:
        print("grid (scene options on the same features):")
        grid = []
        for pen, vw, cw, aw, ms in itertools.product((0.5, 0.6, 0.7), (0.5, 0.3), (0.3, 0.5), (0.0, 0.2, 0.4), (0, 6)):
            so = SceneOptions(penalty=pen, visual_weight=vw, colour_weight=cw, audio_weight=aw, montage_min_shots=ms)
            rws = []
            for vid, truth, res in kept:
                spans = [(s.start, s.end) for s in (res.opening, res.ending) if s is not None] or None
                sr = segment_scenes(res.features, res.shots, res.options.get("sample_rate", 1.0), so, spans)
                doc = {"shots": [dataclasses.asdict(s) for s in res.shots], "scenes": sr.to_list(),
                       "per_shot": {"scene_boundary_prob": sr.boundary_prob.tolist()}}
                rws.append(score_episode(truth, doc))
            sm = summarize(rws)["scenes"]
            grid.append((sm["f1"], sm["miou"], pen, vw, cw, aw, sm["ap"], ms))
        for g in sorted(grid, reverse=True)[:15]:
            print(f"  F1 {g[0]:.3f} mIoU {g[1]:.3f} AP {g[6] if g[6] is None else round(g[6], 3)} penalty {g[2]} visual {g[3]} colour {g[4]} audio {g[5]} montage {g[7]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"episodes": [{k: v for k, v in r.items() if k != "ap_items"} for r in rows],
                                               "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
