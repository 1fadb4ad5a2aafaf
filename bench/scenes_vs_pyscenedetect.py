"""Shot cut F1 (+-2 frames) and speed: vpos (TransNetV2, gated) vs PySceneDetect's ContentDetector and
AdaptiveDetector (default settings), on the same corpus episodes, in one run.

    pip install --no-deps scenedetect==0.7.2 && pip install platformdirs   # see bench/requirements.txt
    python bench/scenes_vs_pyscenedetect.py --corpus /tmp/bench_corpus --episodes kaze-nikki-e02,mori-tabi-e04

Every method decodes the file itself and runs without a feature cache; times are wall-clock on this
machine. Methods:

* `vpos`: shots only (the TransNetV2 extractor, gated; `--extractors shots`), the part that compares
  with a shot detector;
* `vpos-scenes`: shots + scenes with everything the scenes need (visual, audio, shots, colour
  extractors, then the scene grouping; openings/endings and tags off), i.e. the full cost of the
  scene output;
* `content`, `adaptive`: PySceneDetect's detectors (shots only).

On a shared machine absolute real-time factors mean little, so the summary also gives every
method's time as a ratio to PySceneDetect ContentDetector's on the same episodes in the same run
(methods alternate per episode, so load changes hit them alike), and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.corpus.truth import load_truth, truth_files  # noqa: E402
from vpos.evaluate import match_one_to_one, prf  # noqa: E402


def vpos_cuts(video: Path, threads: int, scenes: bool = False) -> tuple[list[int], float, dict]:
    import torch

    from vpos.pipeline import AnalysisOptions, analyze

    torch.set_num_threads(threads)
    extractors = ("visual", "audio", "shots", "colour") if scenes else ("shots",)
    t = time.perf_counter()
    res = analyze(video, AnalysisOptions(extractors=extractors, use_cache=False, oped=False, scenes=scenes, tags=False, device="cpu"))
    wall = time.perf_counter() - t
    shots_fs = res.features.get("shots")
    ran = shots_fs["evaluated"] if shots_fs is not None and "evaluated" in shots_fs else None
    info = {"timings": {k: round(float(v), 3) for k, v in res.timings.items()},
            "windows_run_fraction": float(ran.mean()) if ran is not None and len(ran) else None,
            "scenes": len(res.scenes or [])}
    return [s.start_frame for s in res.shots[1:]], wall, info


def pyscenedetect_cuts(video: Path, detector: str) -> tuple[list[int], float]:
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video

    t = time.perf_counter()
    stream = open_video(str(video))  # OpenCV backend (the headless cv2 build reads files too)
    sm = SceneManager()
    sm.add_detector(ContentDetector() if detector == "content" else AdaptiveDetector())
    sm.detect_scenes(stream, show_progress=False)
    scenes = sm.get_scene_list()
    return [s[0].frame_num for s in scenes[1:]], time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--episodes", required=True)
    ap.add_argument("--threads", type=int, default=2, help="torch threads for vpos (default: 2)")
    ap.add_argument("--methods", default="vpos,vpos-scenes,content,adaptive")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    try:
        import scenedetect  # noqa: F401
    except ImportError:
        ap.error("scenedetect is not installed: see bench/requirements.txt (pip install --no-deps scenedetect)")
    truths = truth_files(args.corpus)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    totals = {m: {"tp": 0, "fp": 0, "fn": 0, "seconds": 0.0, "video_seconds": 0.0} for m in methods}
    rows = []
    load_before = os.getloadavg()
    for vid in [e.strip() for e in args.episodes.split(",") if e.strip()]:
        truth = load_truth(truths[vid])
        video = Path(args.corpus) / truth["path"]
        tc = [int(c) for c in truth["cuts"]]
        for m in methods:
            info = {}
            if m.startswith("vpos"):
                cuts, wall, info = vpos_cuts(video, args.threads, scenes=(m == "vpos-scenes"))
            else:
                cuts, wall = pyscenedetect_cuts(video, m)
            tp = match_one_to_one(tc, cuts, 2)
            r = {"episode": vid, "method": m, "tp": tp, "fp": len(cuts) - tp, "fn": len(tc) - tp, "seconds": wall,
                 "duration": float(truth["duration"]), "load_average": os.getloadavg()[0], **info}
            rows.append(r)
            for k in ("tp", "fp", "fn"):
                totals[m][k] += r[k]
            totals[m]["seconds"] += wall
            totals[m]["video_seconds"] += float(truth["duration"])
            extra = ""
            if info:
                tm = info["timings"]
                extra = (f"  [shots {tm.get('shots', 0):.1f} s, scenes {tm.get('scenes', 0) * 1000:.0f} ms, "
                         f"TransNetV2 windows run {100 * (info['windows_run_fraction'] or 0):.0f}%]")
            print(f"{vid:24} {m:11} F1 {prf(r['tp'], r['fp'], r['fn'])['f1']:.3f} "
                  f"({r['tp']} tp, {r['fp']} fp, {r['fn']} fn)  {wall:7.1f} s  {r['duration'] / wall:5.2f}x real time"
                  f"  load {r['load_average']:.1f}{extra}", flush=True)
    load_after = os.getloadavg()
    ref = totals.get("content", {}).get("seconds") or None
    print(f"\nload average (1 min) {load_before[0]:.1f} at start, {load_after[0]:.1f} at end; {os.cpu_count()} CPUs")
    print("method       shot F1  precision  recall  real-time factor  time / ContentDetector's")
    summary = {}
    for m, t in totals.items():
        p = prf(t["tp"], t["fp"], t["fn"])
        rtf = t["video_seconds"] / t["seconds"] if t["seconds"] else 0.0
        ratio = t["seconds"] / ref if ref else None
        summary[m] = {**p, "real_time_factor": rtf, "seconds": t["seconds"], "time_ratio_to_content": ratio}
        print(f"{m:11}  {p['f1']:.3f}    {p['precision']:.3f}      {p['recall']:.3f}   {rtf:6.2f}x          "
              + (f"{ratio:.2f}" if ratio else "-"))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary, "load_average": [load_before, load_after],
                                               "cpus": os.cpu_count()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
