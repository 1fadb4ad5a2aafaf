"""Where the footage tag fails: seconds wholly inside footage versus seconds a cut splits.

  python bench/tags_footage_errors.py --tagger weights/tags --corpus /tmp/tags4/unseen /tmp/tags5/u112 \
      --data /tmp/tags4/data_unseen /tmp/tags5/data_unseen2

A second's truth is what most of its frames show; in a fast opening montage a footage shot often
covers only part of a second. For every footage second (truth) this reports the recall among seconds
fully inside footage shots and among seconds a cut splits, and lists the false positives with the
share of the second the footage covers. --corpus and --data pair up: a rendered corpus (truth JSON)
and its bench/tags_dataset.py episode files.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.tagger import TaggerNet, predict_per_second  # noqa: E402
from vpos.train_tags import Episode  # noqa: E402


def footage_cover(truth: dict, n: int) -> np.ndarray:
    """Per second: the share of it inside footage shots."""
    fps = float(truth["fps"])
    cover = np.zeros(n)
    for sh in truth["shots"]:
        if sh["kind"] != "footage":
            continue
        a, b = sh["start_frame"] / fps, sh["end_frame"] / fps
        for k in range(int(a), min(n, int(np.ceil(b)))):
            cover[k] += max(0.0, min(b, k + 1) - max(a, k))
    return cover


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tagger", default="weights/tags")
    ap.add_argument("--corpus", nargs="+", required=True)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if len(a.corpus) != len(a.data):
        raise SystemExit("--corpus and --data pair up: give as many of each")
    torch.set_num_threads(1)
    model = TaggerNet.from_pretrained(a.tagger).eval()
    j = list(model.labels).index("footage")
    thr = model.thresholds[j]
    full, split, false_pos = [], [], []
    for corpus, data in zip(a.corpus, a.data):
        for tp in sorted(Path(corpus).glob("*/*.truth.json")):
            truth = json.loads(tp.read_text())
            path = Path(data) / f"{truth['id']}.npz"
            if not path.exists():
                continue
            ep = Episode.load(path)
            p = predict_per_second(model, ep.inputs)[:, j]
            cover = footage_cover(truth, len(p))
            for k in range(len(p)):
                hit = bool(p[k] >= thr)
                if ep.targets[k, j] > 0.5:
                    (full if cover[k] > 0.95 else split).append(hit)
                elif hit:
                    false_pos.append({"episode": truth["id"], "second": k, "cover": round(float(cover[k]), 2), "p": round(float(p[k]), 2)})
    out = {"tagger": a.tagger, "threshold": thr,
           "full_seconds": len(full), "full_recall": round(float(np.mean(full)), 3) if full else None,
           "split_seconds": len(split), "split_recall": round(float(np.mean(split)), 3) if split else None,
           "false_positives": false_pos,
           "false_positives_split_by_a_cut": sum(1 for f in false_pos if f["cover"] > 0)}
    print(json.dumps(out, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
