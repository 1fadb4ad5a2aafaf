"""What camera motion (and tags) add to the extraction time, measured side by side.

    python bench/motion_speed.py                      # the 5-minute 720p bench clip (bench/extraction.py renders it)
    python bench/motion_speed.py --video episode.mkv --repeat 2

Each analysis runs in its own subprocess with the feature cache off, default options, once with
motion and once with --no-motion (alternating, `--repeat` pairs), on the same machine in the same
run: the machine is shared, so only these ratios mean anything.  Reported: the motion extractor's
own time (its model + collecting its frames), the extra wall time of the extraction with motion on,
the tags stage, and their sum as a share of the extraction time without motion.
Writes bench/results/motion_speed.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

CHILD = r"""
import json, sys, time
from vpos.pipeline import AnalysisOptions, analyze
r = analyze(sys.argv[1], AnalysisOptions(use_cache=False, motion=sys.argv[2] == "on"))
print("RESULT " + json.dumps({"timings": r.timings, "duration": r.video.duration, "motion": r.motion is not None,
                              "warnings": r.warnings}))
"""


def run(video: str, motion: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, video, "on" if motion else "off"], capture_output=True, text=True,
                         cwd=str(HERE.parent), check=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=None, help="default: bench/.cache/bench-5min-1280x720-25fps.mp4 (rendered when missing)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / "motion_speed.json"))
    args = ap.parse_args()
    video = args.video
    if video is None:
        from bench.extraction import render_bench_clip  # noqa: E402

        video = str(render_bench_clip(HERE / ".cache" / "bench-5min-1280x720-25fps.mp4", 5.0))
    pairs = []
    for _ in range(args.repeat):
        off, on = run(video, False), run(video, True)
        assert on["motion"], on["warnings"]
        t_on, t_off = on["timings"], off["timings"]
        base = t_off["extract_total"]
        row = {
            "extract_total_without_motion": round(base, 2),
            "extract_total_with_motion": round(t_on["extract_total"], 2),
            "motion_extractor": round(t_on.get("motion", 0.0), 2),
            "motion_block": round(t_on.get("motion_block", 0.0), 4),
            "tags": round(t_on.get("tags", 0.0), 3),
            "extra_wall_share": round((t_on["extract_total"] - base) / base, 4),
            "motion_plus_tags_share": round((t_on.get("motion", 0.0) + t_on.get("motion_block", 0.0) + t_on.get("tags", 0.0)) / base, 4),
        }
        pairs.append(row)
        print(json.dumps(row), flush=True)
    res = {"command": "python bench/motion_speed.py " + " ".join(sys.argv[1:]), "video": video, "duration": on["duration"],
           "runs": pairs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
