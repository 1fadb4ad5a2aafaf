"""The screen-time error a PERFECT per-sample character detector would still make, from the truth.

    python bench/characters_screen_time_floor.py --eps DEV_EPS.pkl [--json OUT]

Samples are 1 per second; a character's intervals are built from its true presence at each sample
time by `vpos.characters.intervals_from_mask` (with the episode's detected cuts, as the detector's
are), under each rule for shots that hold no sample, and ("both+shot_samples", the default) with
the samples the decoder takes in shots the grid misses (pickles with `shot_t`: `characters_headcache.py shot-samples`). The mean |error| and the signed error in % of
each character's true screen time show how much of the detector's screen-time error is the
sampling, not the recognition. Episodes: a pickle of `bench/characters_headcache.py collect`.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.characters import intervals_from_mask  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eps", required=True)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    eps = pickle.load(open(args.eps, "rb"))
    errors: dict[str, list[float]] = {}
    for e in eps:
        truth = e["truth"]
        dur, n = float(truth["duration"]), len(e["x"])
        for ivs in truth["characters"].values():
            true_time = sum(b - a for a, b in ivs)
            if true_time <= 0:
                continue
            present = np.array([any(a <= k < b for a, b in ivs) for k in range(n)])
            for rule in ("none", "both", "nearest"):
                got = sum(b - a for a, b in intervals_from_mask(present, 1.0, dur, e["cuts"], rule))
                errors.setdefault(rule, []).append(100.0 * (got - true_time) / true_time)
            if "shot_t" in e:  # with the decoder's samples of the shots the grid misses (default)
                shot = [(float(t), any(a <= t < b for a, b in ivs)) for t in e["shot_t"]]
                got = sum(b - a for a, b in intervals_from_mask(present, 1.0, dur, e["cuts"], "both", shot))
                errors.setdefault("both+shot_samples", []).append(100.0 * (got - true_time) / true_time)
    out = {rule: {"mean_abs_error_pct": round(float(np.abs(v).mean()), 2), "signed_error_pct": round(float(np.mean(v)), 2),
                  "characters": len(v)} for rule, v in errors.items()}
    print(json.dumps({"eps": args.eps, **out}))
    if args.json:
        Path(args.json).write_text(json.dumps({"eps": args.eps, **out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
