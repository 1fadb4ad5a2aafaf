"""How well the decoder's shot samples cover the shots the 1/s grid misses, against corpus truth.

    python bench/characters_shot_samples.py --corpus /tmp/chr7/dev [--json OUT]

For every episode of a corpus: the truth's shots that hold no grid sample (shots shorter than a
second that fall between two samples), how many of them got a shot sample from the decoder
(`DecodePlan.shot_samples`, `vpos.media._ShotSampler`), and how many shot samples were redundant
(taken in a shot that holds a grid sample, or one the decoder's cut test split wrongly).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.media import DecodePlan, decode, probe  # noqa: E402


def episode_video(truth_path: Path) -> Path:
    stem = truth_path.name[: -len(".truth.json")]
    found = [p for p in truth_path.parent.glob(stem + ".*") if not p.name.endswith(".json")]
    if not found:
        raise SystemExit(f"no video next to {truth_path}")
    return found[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True, help="a corpus folder: SHOW/EPISODE.truth.json next to its video")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    total = {"episodes": 0, "grid_samples": 0, "gridless_shots": 0, "covered": 0, "shot_samples": 0, "redundant": 0}
    for tp in sorted(Path(args.corpus).glob("*/*.truth.json")):
        truth = json.loads(tp.read_text())
        times, n = [], 0
        for ch in decode(probe(str(episode_video(tp))), DecodePlan(sample_rate=1.0, sample_width=64, shot_samples=True)):
            times += [float(t) for t in ch.shot_sample_times]
            n += len(ch.sample_times)
        fps = float(truth["fps"])
        half = 0.5 / fps  # a grid sample is the frame nearest its time
        shots = [(s["start_frame"] / fps, s["end_frame"] / fps) for s in truth["shots"]]
        gridless = [(a, b) for a, b in shots if not any(a - half <= k < b - half for k in range(n))]
        covered = sum(any(a <= t < b for t in times) for a, b in gridless)
        redundant = sum(not any(a <= t < b for a, b in gridless) for t in times)
        row = {"grid_samples": n, "gridless_shots": len(gridless), "covered": covered, "shot_samples": len(times),
               "redundant": redundant}
        print(tp.name[: -len(".truth.json")], json.dumps(row), flush=True)
        total["episodes"] += 1
        for k, v in row.items():
            total[k] += v
    total["extra_sample_share"] = round(total["shot_samples"] / max(1, total["grid_samples"]), 4)
    print(json.dumps({"corpus": args.corpus, **total}))
    if args.json:
        Path(args.json).write_text(json.dumps({"corpus": args.corpus, **total}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
