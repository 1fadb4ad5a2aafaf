"""The motion block end to end: `vpos.analyze` on the held-out corpus episodes, scored by the evaluator.

    python bench/motion_pipeline_eval.py --corpus /tmp/motion_corpus --corpus /tmp/motion_corpus2

For every test-split episode of each corpus: analyse with the shipped weights (weights/motion),
extractors colour,motion (motion needs nothing else), feature cache off;
write DIR/<corpus>/<id>.json; then `python -m vpos eval --truth CORPUS --pred DIR/<corpus> --split
test` scores it (camera per second, transitions).  Counts are summed over the corpora.
Writes bench/results/motion_pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from vpos.corpus.truth import truth_files  # noqa: E402
from vpos.evaluate import aggregate_motion, evaluate_dir  # noqa: E402
from vpos.pipeline import AnalysisOptions, analyze  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", action="append", required=True)
    ap.add_argument("--pred", default="/tmp/vpos_motion_pred")
    ap.add_argument("--out", default=str(HERE / "results" / "motion_pipeline.json"))
    ap.add_argument("--rescore", action="store_true", help="score the result files already in --pred (no analysis)")
    args = ap.parse_args()
    per_episode, seconds, wall = {}, 0.0, 0.0
    motion_time, extract_time = 0.0, 0.0
    for c in args.corpus:
        split = json.loads((Path(c) / "split.json").read_text())
        out_dir = Path(args.pred) / Path(c).name
        out_dir.mkdir(parents=True, exist_ok=True)
        for eid, tp in truth_files(c).items():
            if tp.parent.name not in split["test"]:
                continue
            truth = json.loads(tp.read_text())
            if not args.rescore:
                t = time.time()
                r = analyze(Path(c) / truth["path"], AnalysisOptions(extractors=("colour", "motion"), oped=False, tags=False,
                                                                    scenes=False, use_cache=False))
                wall += time.time() - t
                (out_dir / f"{eid}.json").write_text(r.to_json())
            doc = json.loads((out_dir / f"{eid}.json").read_text())
            seconds += doc["video"]["duration"]
            motion_time += doc["timings"].get("motion", 0.0)
            extract_time += doc["timings"].get("extract_total", 0.0)
        rep = evaluate_dir(c, out_dir, split="test")
        per_episode.update({f"{Path(c).name}/{k}": v for k, v in rep["per_episode"].items()})
    summary = aggregate_motion(per_episode)
    res = {"command": "python bench/motion_pipeline_eval.py " + " ".join(sys.argv[1:]), "episodes": len(per_episode),
           "video_seconds": round(seconds, 1), "analysis_wall_seconds": round(wall, 1) if not args.rescore else None,
           # the motion extractor's own time (model + collecting frames; one torch thread) and the
           # whole extraction's (decode + colour + motion) summed over the episodes
           "motion_extractor_seconds": round(motion_time, 2), "extract_total_seconds": round(extract_time, 2),
           "motion_seconds_per_video_second": round(motion_time / max(seconds, 1e-9), 4), "motion": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(f"{len(per_episode)} held-out episodes: camera macro F1 {summary['camera_macro_f1']:.3f}")
    for k, v in summary["camera"].items():
        print(f"  {k:9s} P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f} (tp {v['tp']}, fp {v['fp']}, fn {v['fn']})")
    for k, v in summary["transitions"].items():
        print(f"  {k:9s} P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f} (tp {v['tp']}, fp {v['fp']}, fn {v['fn']})")


if __name__ == "__main__":
    main()
