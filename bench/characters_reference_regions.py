"""The character region each reference image gives its name, over every show of some corpora: how
large and how strongly detected they are, and which ones `vpos.characters.reference_notes` flags.

    python bench/characters_reference_regions.py /tmp/bench_corpus:kaze-nikki,mori-tabi /tmp/unseen_medium3:mori-bouken

Each show's references are the bench's (`characters_eval.reference_frames`: up to 5 frames per
character in which it is alone, from the show's episodes after the first). A region that reaches
over much of the frame with weak objectness holds background the detector took for the character
(a lecture hall's seats and windows); the notes threshold was read off this distribution.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import characters_eval as B  # noqa: E402

from vpos.characters import build_references, is_weak_region  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+", help="CORPUS:SHOW,SHOW,...")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--out", default=None, help="write the distribution and the flagged references as JSON here")
    args = ap.parse_args(argv)
    rows = []
    for spec in args.sets:
        corpus, _, shows = spec.partition(":")
        for show in shows.split(","):
            truths = sorted(Path(corpus, show).glob("*.truth.json"))
            if len(truths) < 2:
                print(f"{corpus}/{show}: needs >= 2 episodes", file=sys.stderr)
                continue
            refs_in, _ = B.reference_frames(truths, truths[0], 5)
            refs = build_references(refs_in, args.weights, "cpu")
            for name, regions in refs.regions.items():
                for r in regions:
                    rows.append({"set": corpus, "show": show, "name": name, "share": round(r.share, 3),
                                 "objectness": round(r.objectness, 3), "flagged": is_weak_region(r)})
    obj = np.array([r["objectness"] for r in rows])
    q = [0.01, 0.05, 0.1, 0.5]
    summary = {"references": len(rows), "objectness_quantiles": dict(zip(map(str, q), np.round(np.quantile(obj, q), 3).tolist())),
               "flagged": [r for r in rows if r["flagged"]], "weakest": sorted(rows, key=lambda r: r["objectness"])[:15]}
    print(json.dumps({k: v for k, v in summary.items() if k != "weakest"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
