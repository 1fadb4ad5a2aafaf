"""Score the shipped opening/ending set on shows it never saw: single episodes, season mode, and
false positives on video that has no opening or ending.

    python bench/oped_heldout.py --corpus /tmp/bench_corpus \
        --shows yoru-monogatari,sora-kyousoukyoku --workdir /tmp/oped_heldout

For each show: every episode is analysed with the default weights (features cached in
`--cache-dir`), saved as `pred/single/<id>.json`; season mode fuses repetition across the show's
episodes into `pred/season/<id>.json`; `vpos.evaluate` scores both against the corpus truth.

False positives: besides the corpus's own episodes without an opening, every episode's story part
(from 30 s after its opening to 30 s before its ending) is cut out of its features and analysed as a
video of its own; any opening or ending reported there is a false positive. The cut is made on the
per-second features, which is what the detector sees of a video with the same content.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def slice_features(features: dict, per_second: dict, a: int, b: int):
    """Features and per-second signals of seconds [a, b) as if they were a video of their own."""
    from vpos.extractors.base import FeatureSet
    from vpos.oped_model import MFCC_PER_SECOND

    out = {}
    for name, fs in features.items():
        arrays = {}
        for k, v in fs.arrays.items():
            if name == "audio" and k == "mfcc":
                arrays[k] = v[a * MFCC_PER_SECOND : b * MFCC_PER_SECOND]
            elif v.ndim >= 1 and len(v) >= b and name in ("visual", "text", "audio"):
                arrays[k] = v[a:b]
            else:
                arrays[k] = v
        out[name] = FeatureSet(arrays=arrays, meta=dict(fs.meta))
    ps = {k: list(v[a:b]) for k, v in per_second.items() if isinstance(v, list) and len(v) >= b}
    ps["t"] = [float(i) for i in range(b - a)]
    return out, ps


def within_one_second(report: dict) -> dict:
    """Season mode's strict target: how many scored boundaries lie within 1 s of the truth
    (|error| <= 1 s), per boundary, and which do not."""
    counts = {k: [0, 0] for k in ("op_start", "op_end", "ed_start", "ed_end")}
    outside = []
    for vid, ep in sorted(report.get("per_episode", {}).items()):
        for short in ("op", "ed"):
            r = ep.get("boundaries", {}).get(short, {})
            if r.get("status") != "scored":
                continue
            for which, key in (("start", "start_abs"), ("end", "end_abs")):
                c = counts[f"{short}_{which}"]
                c[1] += 1
                if r[key] <= 1.0:
                    c[0] += 1
                else:
                    signed = r["pred"][0 if which == "start" else 1] - r["truth"][0 if which == "start" else 1]
                    outside.append(f"{vid} {short} {which} {signed:+.2f} s")
    total = [sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())]
    return {"all": f"{total[0]}/{total[1]}", **{k: f"{a}/{b}" for k, (a, b) in counts.items()}, "outside": outside}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="a corpus built by `python -m vpos corpus build`")
    ap.add_argument("--shows", required=True, help="comma-separated shows (never seen in training)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--weights", default=None, help="opening/ending weights (default: weights/oped)")
    ap.add_argument("--cache-dir", default=None, help="feature cache (default: WORKDIR/cache)")
    ap.add_argument("--extractors", default="visual,audio", help="extractors to run (the shipped set uses visual,audio)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)

    import torch

    from vpos import oped
    from vpos.corpus.truth import load_truth
    from vpos.evaluate import evaluate_dir, format_table
    from vpos.pipeline import AnalysisOptions, analyze
    from vpos.season import apply_season, match_episodes

    work = Path(args.workdir)
    (work / "pred" / "single").mkdir(parents=True, exist_ok=True)
    (work / "pred" / "season").mkdir(parents=True, exist_ok=True)
    opts = AnalysisOptions(device=args.device, cache_dir=args.cache_dir or str(work / "cache"),
                           extractors=tuple(args.extractors.split(",")), oped=True, oped_weights=args.weights)
    corpus = Path(args.corpus)
    shows = args.shows.split(",")
    ids, negatives = [], []
    models = oped.load_checkpoints(args.weights, device=opts.resolved_device())
    t_all = time.perf_counter()
    for show in shows:
        truths = sorted((corpus / show).glob("*.truth.json"))
        if not truths:
            raise SystemExit(f"no truth files for show '{show}' in {corpus}")
        results = []
        for tp in truths:
            tr = load_truth(tp)
            t = time.perf_counter()
            r = analyze(corpus / tr["path"], opts)
            r.save(work / "pred" / "single" / f"{tr['id']}.json")
            ids.append(tr["id"])
            print(f"[{time.strftime('%H:%M:%S')}] {tr['id']}: {r.video.duration:.0f} s in {time.perf_counter() - t:.1f} s; "
                  f"OP {r.opening and (r.opening.start, r.opening.end)} ED {r.ending and (r.ending.start, r.ending.end)}", flush=True)
            results.append(r)
            # The story part alone: a video with neither opening nor ending.
            n = len(r.per_second["t"])
            a = int(np.ceil(tr["opening"]["end"])) + 30 if tr.get("opening") else 30
            b = int(np.floor(tr["ending"]["start"])) - 30 if tr.get("ending") else n - 30
            if b - a >= 120:
                feats, ps = slice_features(r.features, r.per_second, a, b)
                res = oped.detect(feats, ps, float(b - a), None, models, opts.resolved_device())
                negatives.append({"id": tr["id"], "seconds": [a, b], "opening": bool(res.opening), "ending": bool(res.ending),
                                  "max_op_prob": round(float(res.op_prob.max()), 3), "max_ed_prob": round(float(res.ed_prob.max()), 3)})
        match = match_episodes([r.features for r in results], [len(r.per_second["t"]) for r in results])
        apply_season(results, match.reps, match)
        for tp, r in zip(truths, results):
            r.save(work / "pred" / "season" / f"{load_truth(tp)['id']}.json")

    report = {"corpus": str(corpus), "shows": shows, "weights": args.weights or "weights/oped",
              "extractors": args.extractors, "device": opts.resolved_device(), "cpus": os.cpu_count(),
              "seconds": round(time.perf_counter() - t_all, 1)}
    for mode in ("single", "season"):
        rep = evaluate_dir(str(corpus), str(work / "pred" / mode), ids=ids)
        report[mode] = rep["summary"]
        report[mode + "_within_1s"] = within_one_second(rep)
        print(f"\n== {mode} ({rep['episodes_scored']} episodes of {', '.join(shows)})\n{format_table(rep)}")
        w = report[mode + "_within_1s"]
        print(f"boundaries within 1 s: {w['all']} (OP start {w['op_start']}, OP end {w['op_end']}, "
              f"ED start {w['ed_start']}, ED end {w['ed_end']})" + "".join(f"\n  outside: {x}" for x in w["outside"]))
        (work / f"eval-{mode}.json").write_text(json.dumps(rep, indent=1, default=str))
    report["story_only"] = {
        "videos": len(negatives),
        "false_openings": sum(x["opening"] for x in negatives),
        "false_endings": sum(x["ending"] for x in negatives),
        "per_video": negatives,
    }
    print(f"\n== story parts alone (no opening, no ending): {len(negatives)} videos, "
          f"{report['story_only']['false_openings']} false openings, {report['story_only']['false_endings']} false endings")
    (work / "summary.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"summary: {work / 'summary.json'}")
    del torch


if __name__ == "__main__":
    main()
