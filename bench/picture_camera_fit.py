"""Fit the picture extractor's per-frame camera score (vpos/extractors/picture.py camera_probability).

  python bench/picture_camera_fit.py --train /tmp/tags5/c110 /tmp/tags5/c111 /tmp/tags5/c113v /tmp/tags5/c114v \
      /tmp/tags5/c115v --val /tmp/tags5/c116v

Every 48x27 frame of the rendered corpora (the decoder's full-rate frames, as the extractor sees them)
is labelled from the truth's shots (`kind == "footage"`) and described by `camera_features`; a
class-balanced logistic regression on standardised features is fitted on --train and checked on
--val (other shows; footage clips shared). Prints the frame-level figures and the constants to put
in picture.py (CAMERA_MEAN, CAMERA_STD, CAMERA_COEF, CAMERA_BIAS). Corpora used by the tagger's
held-out test or unseen-footage sets must not be given here.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.extractors.picture import CAMERA_FEATURES, camera_features  # noqa: E402
from vpos.media import DecodePlan, DecodeReport, decode, probe  # noqa: E402
from vpos.pipeline import AnalysisOptions  # noqa: E402


def corpus_frames(corpus: str, step: int):
    """(features, is_footage) of every `step`-th 48x27 frame of each episode of a rendered corpus."""
    xs, ys = [], []
    for tp in sorted(Path(corpus).glob("*/*.truth.json")):
        truth = json.loads(tp.read_text())
        info = probe(Path(corpus) / truth["path"], AnalysisOptions().limits)
        footage = np.zeros(int(truth["frame_count"]) + 2, bool)
        for sh in truth["shots"]:
            footage[sh["start_frame"] : sh["end_frame"]] = sh["kind"] == "footage"
        fps = float(truth["fps"])
        for chunk in decode(info, DecodePlan(small_frames=True), DecodeReport()):
            idx = np.round(np.asarray(chunk.frame_times) * fps).astype(int)
            keep = np.where((idx % step == 0) & (idx < len(footage)))[0]
            if len(keep):
                xs.append(camera_features(chunk.small_frames[keep]))
                ys.append(footage[idx[keep]])
        print(f"{truth['id']}: {sum(len(y) for y in ys)} frames so far", file=sys.stderr, flush=True)
    return np.concatenate(xs), np.concatenate(ys)


def main():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, roc_auc_score

    ap = argparse.ArgumentParser()
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--val", nargs="+", required=True)
    ap.add_argument("--step", type=int, default=2, help="use every step-th frame")
    ap.add_argument("--json", default=None, help="write the constants and figures here too")
    a = ap.parse_args()
    parts = [corpus_frames(c, a.step) for c in a.train]
    xt, yt = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    parts = [corpus_frames(c, a.step) for c in a.val]
    xv, yv = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    mean, std = xt.mean(0), xt.std(0) + 1e-6
    clf = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit((xt - mean) / std, yt)
    out = {"train_frames": int(len(yt)), "train_footage": int(yt.sum()), "val_frames": int(len(yv)), "val_footage": int(yv.sum())}
    for name, x, y in (("train", xt, yt), ("val", xv, yv)):
        p = clf.predict_proba((x - mean) / std)[:, 1]
        hit = p >= 0.5
        out[name] = {"auc": round(float(roc_auc_score(y, p)), 4), "ap": round(float(average_precision_score(y, p)), 4),
                     "precision": round(float((hit & y).sum() / max(1, hit.sum())), 4), "recall": round(float((hit & y).sum() / max(1, y.sum())), 4)}
    out["constants"] = {"CAMERA_MEAN": [round(float(v), 5) for v in mean], "CAMERA_STD": [round(float(v), 5) for v in std],
                        "CAMERA_COEF": [round(float(v), 4) for v in clf.coef_[0]], "CAMERA_BIAS": round(float(clf.intercept_[0]), 4),
                        "features": list(CAMERA_FEATURES)}
    print(json.dumps(out, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
