"""How much of a per-second label the 1/s sample can get right, from the corpus truth alone.

  python bench/tags_alignment_oracle.py --corpus /tmp/bench_corpus --episodes yoru-monogatari-e0[1-6] sora-kyousoukyoku-e0[12]

A second's sample is its first frame (vpos/media.py), a second's truth what most of its frames
show. With a perfect detector per sample, tagging second k with sample k's answer gives the
"sample k" F1; picking sample k or k + 1 by where the first cut of the second falls (the share of
the second before it: >= 0.5 -> k) gives the "aligned" F1. The gap is what aligning the picture to
the second can win; what stays is shots that start and end inside one second.
"""
import argparse
import fnmatch
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.tags import DEFAULT_VOCABULARY, labels_from_truth  # noqa: E402

SHOT_KINDS = {"footage": ["footage"], "title_card": ["title", "preview_title"], "sponsor_card": ["sponsor"]}


def f1(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(2 * (pred & truth).sum() / max(1, pred.sum() + truth.sum()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--episodes", nargs="+", default=["yoru-monogatari-e0[1-6]", "sora-kyousoukyoku-e0[12]"], help="episode id patterns")
    a = ap.parse_args()
    labels = list(DEFAULT_VOCABULARY)
    rows = {lab: ([], [], []) for lab in SHOT_KINDS}
    used = []
    for tp in sorted(Path(a.corpus).glob("*/*.truth.json")):
        t = json.loads(tp.read_text())
        if not any(fnmatch.fnmatch(t["id"], pat) for pat in a.episodes):
            continue
        used.append(t["id"])
        fps = float(t["fps"])
        n = len(t["per_second"]["speech"])
        t["per_second"].setdefault("still", [0] * n)  # not scored here
        y_all = labels_from_truth(t, n)
        nf = int(t.get("frame_count") or round(t["duration"] * fps))
        kind = np.array(["scene"] * nf, dtype=object)
        starts = np.zeros(nf + 1, bool)
        for sh in t["shots"]:
            kind[sh["start_frame"] : sh["end_frame"]] = sh["kind"]
            starts[sh["start_frame"]] = True
        own = np.ones(n)
        for k in range(n):
            fa, fb = int(k * fps), int((k + 1) * fps)
            cut = np.where(starts[fa + 1 : fb])[0]
            if len(cut):
                own[k] = (cut[0] + 1) / max(1, fb - fa)
        for lab, kinds in SHOT_KINDS.items():
            is_kind = np.isin(kind, kinds)
            sample = np.array([is_kind[min(nf - 1, int(round(k * fps)))] for k in range(n)])
            following = np.append(sample[1:], sample[-1])
            rows[lab][0].append(sample)
            rows[lab][1].append(np.where(own >= 0.5, sample, following))
            rows[lab][2].append(y_all[:, labels.index(lab)] > 0.5)
    out = {"episodes": used}
    for lab, (s, al, y) in rows.items():
        s, al, y = np.concatenate(s), np.concatenate(al), np.concatenate(y)
        out[lab] = {"positives": int(y.sum()), "sample_k_f1": round(f1(s, y), 3), "aligned_f1": round(f1(al, y), 3)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
