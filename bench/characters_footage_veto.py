"""Would a footage veto help the characters stage? Shots whose frames the picture extractor's camera
score calls camera pictures (statistic 18, the share of a second's frames before its first cut, as
a mean over the shot) could hold no drawn character. Per episode: the character seconds of the truth
in such shots (what the veto would lose) against the false-alarm seconds of a prediction folder
there (what it would remove).

    python bench/characters_footage_veto.py --corpus /tmp/unseen_medium2 --shows shoujo-nikki,umi-nichijou \\
        --pred /tmp/vpos_characters_pred [--share 0.5]

`--pred` holds the documents `bench/characters_eval.py --pred DIR` writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import characters_eval as B  # noqa: E402

from vpos.cache import content_hash  # noqa: E402
from vpos.characters import shot_segments  # noqa: E402
from vpos.evaluate import _pred_char_masks, intervals_per_second, truth_nsec  # noqa: E402
from vpos.media import probe  # noqa: E402
from vpos.pipeline import AnalysisOptions, build_shots, extract_features  # noqa: E402

CAMERA_OWN = 18  # picture statistic: camera-picture share of the frames before the second's first cut


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--shows", required=True)
    ap.add_argument("--pred", required=True)
    ap.add_argument("--share", type=float, default=0.5, help="a shot is footage at this mean camera share")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    total = {"lost": 0, "removed": 0, "false_alarms": 0, "character_seconds": 0, "footage_seconds": 0}
    rows = []
    for show in args.shows.split(","):
        for tp in sorted(Path(args.corpus, show).glob("*.truth.json")):
            video = B.video_of(tp)
            opts = AnalysisOptions(extractors=("shots", "picture"), device="cpu", oped=False)
            info = probe(str(video), opts.limits)
            feats, _, _, _ = extract_features(info, content_hash(str(video)), opts)
            cuts = [s.start_time for s in build_shots(feats["shots"], info.fps, opts.shot_threshold)[1:]]
            truth = json.loads(tp.read_text())
            n, dur = truth_nsec(truth), float(truth["duration"])
            camera = feats["picture"]["stats"][:, CAMERA_OWN]
            m = min(n, len(camera))
            footage = np.zeros(m, bool)
            for a, b in shot_segments(m, cuts):
                footage[a:b] = camera[a:b].mean() >= args.share
            on = {k: intervals_per_second(v, n, dur)[:m] for k, v in truth["characters"].items()}
            doc = json.loads((Path(args.pred) / f"{tp.name[:-len('.truth.json')]}.json").read_text())
            pred = _pred_char_masks(doc["characters"], n, dur)
            row = {"episode": tp.name[: -len(".truth.json")], "footage_seconds": int(footage.sum()),
                   "lost": int(sum((v & footage).sum() for v in on.values())), "removed": 0, "false_alarms": 0,
                   "character_seconds": int(sum(v.sum() for v in on.values()))}
            for k, v in on.items():
                if k in pred:
                    fa = pred[k][:m] & ~v
                    row["false_alarms"] += int(fa.sum())
                    row["removed"] += int((fa & footage).sum())
            for key in total:
                total[key] += row[key]
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {"corpus": args.corpus, "shows": args.shows, "share": args.share, "total": total, "episodes": rows}
    print(json.dumps(total))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
