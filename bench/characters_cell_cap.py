"""How often the characters extractor's cell cap binds: per corpus, the share of 1/s samples whose
kept cells all reach the head's objectness threshold (every slot holds a character cell, so any
further character cells of the frame were dropped). Reads the pipeline's cached characters features
(`bench/characters_eval.py`'s `features_of`; extracts them when missing).

    python bench/characters_cell_cap.py /tmp/unseen_medium5 /tmp/unseen_medium4 [--out OUT.json]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpora", nargs="+", help="corpus folders (SHOW/*.truth.json next to the videos)")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from vpos.character_model import load_head

    threshold = load_head(None).obj_threshold
    rows = []
    for corpus in args.corpora:
        samples = full = 0
        for tp in sorted(Path(corpus).glob("*/*.truth.json")):
            cf, _, n, _ = B.features_of(B.video_of(tp), args.cache_dir)
            obj = np.asarray(cf["cell_obj"][:n], np.float32)
            samples += len(obj)
            full += int((obj[:, -1] >= threshold).sum())
        rows.append({"corpus": corpus, "samples": samples, "cap": int(obj.shape[1]) if samples else None,
                     "samples_at_cap": full, "share": round(full / max(1, samples), 3)})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"command": "python bench/characters_cell_cap.py " + " ".join(args.corpora),
                                              "objectness_threshold": threshold, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
