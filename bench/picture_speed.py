"""Time the picture extractor of this checkout against another checkout's, on the same decoded chunks.

  python bench/picture_speed.py VIDEO --seconds 120 --other /work/main [--json OUT]

Decodes the first --seconds once (the chunks the pipeline would hand the extractor: 1/s samples at
384 px + every frame at 48x27), then runs each extractor's update/finish over the same chunks,
alternating, --repeats times, and reports the median seconds per minute of video. Only the ratio
means anything on a shared machine.
"""
import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.extractors.base import RunContext  # noqa: E402
from vpos.extractors.picture import PictureExtractor  # noqa: E402
from vpos.media import DecodePlan, decode, probe  # noqa: E402


def load_other(root: Path):
    spec = importlib.util.spec_from_file_location("vpos.extractors.picture_other", root / "vpos" / "extractors" / "picture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.PictureExtractor


def run(cls, info, chunks) -> float:
    e = cls()
    e.begin(RunContext(info, 1.0))
    t0 = time.perf_counter()
    for ch in chunks:
        e.update(ch)
    e.finish()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--other", default="/work/main")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    info = probe(a.video)
    chunks = []
    for ch in decode(info, DecodePlan(sample_width=384, small_frames=True)):
        chunks.append(ch)
        if ch.video_end >= a.seconds:
            break
    minutes = chunks[-1].video_end / 60
    other = load_other(Path(a.other))
    mine, theirs = [], []
    for _ in range(a.repeats):
        theirs.append(run(other, info, chunks))
        mine.append(run(PictureExtractor, info, chunks))
    out = {"video": str(a.video), "minutes": round(minutes, 3), "other": a.other,
           "other_version": other.version, "this_version": PictureExtractor.version,
           "other_s_per_min": round(float(np.median(theirs)) / minutes, 3), "this_s_per_min": round(float(np.median(mine)) / minutes, 3)}
    out["ratio"] = round(out["this_s_per_min"] / out["other_s_per_min"], 3)
    print(json.dumps(out, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
