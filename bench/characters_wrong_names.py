"""Which names an unreferenced character is reported as: for every episode of a headcache set and
every character in turn without references (the wrong-name protocol of `bench/characters_eval.py`),
the seconds in which another name that is not on screen is reported, with that name's raw
(calibrated, unsmoothed) probability there and how many of those seconds the hidden character is
alone on screen.

    python bench/characters_wrong_names.py --eps H2_EPS.pkl [--show sora-yakusoku] [--weights DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import characters_headcache as H  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eps", required=True, help="episodes pickle of bench/characters_headcache.py collect")
    ap.add_argument("--store", default=None)
    ap.add_argument("--show", default=None, help="only this show")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--options", default="{}", help="CharacterOptions overrides as JSON")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from vpos.characters import CharacterOptions, detect_characters
    from vpos.evaluate import intervals_per_second, truth_nsec

    eps = [e for e in H.load(args.eps, args.store or "") if args.show in (None, e["show"])]
    opts = CharacterOptions(skip_empty_references=True, **json.loads(args.options))
    rows = []
    for e, cf, refs in H.prepared(eps, args.weights, opts, {}):
        truth = e["truth"]
        nsec, dur = truth_nsec(truth), float(truth["duration"])
        tm = {c: intervals_per_second(v, nsec, dur) for c, v in truth["characters"].items()}
        none = np.zeros(nsec, bool)
        for hidden in refs.names:
            keep = [x for x in refs.names if x != hidden]
            if not keep or hidden not in tm:
                continue
            sub = refs.without(hidden)
            res = detect_characters(cf["cell_obj"], cf["cell_emb"], sub, dur, e["cuts"], 1.0, args.weights, opts,
                                    cell_hist=cf["cell_hist"], cell_pos=cf["cell_pos"])
            on = tm[hidden]
            alone = on & ~np.any([tm[c] for c in tm if c != hidden] or [none], 0)
            m = min(nsec, len(res.raw_prob))
            for i, k in enumerate(keep):
                bad = intervals_per_second(res.intervals[k], nsec, dur) & ~tm.get(k, none) & on
                if bad.any():
                    ts = np.flatnonzero(bad[:m])
                    rows.append({"episode": e["name"], "hidden": hidden, "reported_as": k, "seconds": int(bad.sum()),
                                 "hidden_on_screen": int(on.sum()), "of_them_alone": int((bad & alone).sum()),
                                 "raw_p_median": round(float(np.median(res.raw_prob[ts, i])), 3) if len(ts) else None})
                    print(json.dumps(rows[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
