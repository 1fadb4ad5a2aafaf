"""Train the small learned scene-boundary model (vpos/scene_model.py) on corpus episodes' scenes.

    python bench/scenes_train.py --corpus /tmp/bench_corpus --cache-dir /tmp/scn/cache \
        --episodes kaze-nikki-e02,mori-tabi-e04 --out weights/scenes

Features come from the same cached extractors as an analysis (visual, audio, shots, colour). Every
training episode gives its cuts twice: between the truth shots and between the predicted shots
(labels: a truth scene starts within 2 frames), so the model sees the detector's extra and missed cuts
too. Cuts inside a detected opening/ending or a montage run are left out (they are never scene
starts there). Train only on tuning shows; score held-out shows with bench/scenes_eval.py
(`--prior-weight 0.3` or `--boundary-prob contrast` against the defaults).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.corpus.truth import load_truth, truth_files  # noqa: E402
from vpos.pipeline import AnalysisOptions, analyze  # noqa: E402
from vpos.result import Shot  # noqa: E402
from vpos.scenes import (  # noqa: E402
    BOUNDARY_FEATURE_NAMES,
    SceneOptions,
    boundary_features,
    feature_distances,
    montage_runs,
    sequence_constraints,
    shot_descriptors,
    shot_distances,
)

EXTRACTORS = ("visual", "audio", "shots", "colour")


def truth_shot_list(truth: dict) -> list[Shot]:
    fps = float(truth["fps"])
    return [Shot(index=i, start_frame=s["start_frame"], end_frame=s["end_frame"] - 1, start_time=s["start_frame"] / fps,
                 end_time=s["end_frame"] / fps) for i, s in enumerate(truth["shots"])]


def cut_table(features, shots, sample_rate, spans, truth, options: SceneOptions):
    """(X, y) over the cuts where a scene may start."""
    desc = shot_descriptors(features, shots, sample_rate, options.key_frames)
    mats = feature_distances(desc)
    dist = shot_distances(desc, options, mats)
    x = boundary_features(features, shots, sample_rate, desc, mats, dist)
    starts = [s["start_frame"] for s in truth["scenes"][1:]]
    y = np.array([int(i > 0 and any(abs(s.start_frame - f) <= 2 for f in starts)) for i, s in enumerate(shots)])
    allowed = sequence_constraints(shots, spans) if spans else np.ones(len(shots), bool)
    if not spans:
        for a, b in montage_runs(shots, options.montage_shot_seconds, options.montage_min_shots):
            allowed[a + 1 : b + 1] = False
    keep = allowed.copy()
    keep[0] = False
    return x[keep], y[keep]


def main(argv=None) -> int:
    from vpos.scene_model import train_boundary_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", help="corpus folder (repeatable; default /tmp/bench_corpus)")
    ap.add_argument("--episodes", required=True, help="comma-separated training episode ids (tuning shows only)")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--out", default="weights/scenes")
    ap.add_argument("--hidden", type=int, default=0, help="hidden units (0: logistic regression, the default)")
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--weight-decay", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    truths = {}
    for c in args.corpus or ["/tmp/bench_corpus"]:
        truths.update({k: (c, v) for k, v in truth_files(c).items()})
    ids = [e.strip() for e in args.episodes.split(",") if e.strip()]
    missing = [i for i in ids if i not in truths]
    if missing:
        ap.error(f"no truth for {missing}")
    options = SceneOptions()
    xs, ys = [], []
    for vid in ids:
        corpus, tf = truths[vid]
        truth = load_truth(tf)
        res = analyze(Path(corpus) / truth["path"], AnalysisOptions(extractors=EXTRACTORS, cache_dir=args.cache_dir, tags=False, scenes=False))
        spans = [(s.start, s.end) for s in (res.opening, res.ending) if s is not None] or None
        for shots in (truth_shot_list(truth), res.shots):
            x, y = cut_table(res.features, shots, res.options.get("sample_rate", 1.0), spans, truth, options)
            xs.append(x)
            ys.append(y)
        print(f"{vid}: {len(res.shots)} shots, {int(ys[-1].sum())} scene starts among {len(ys[-1])} cuts", flush=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    model = train_boundary_model(x, y, BOUNDARY_FEATURE_NAMES, hidden=args.hidden, epochs=args.epochs,
                                 weight_decay=args.weight_decay, seed=args.seed)
    p = 1.0 / (1.0 + np.exp(-model.logits(x)))
    acc = float(((p > 0.5) == (y > 0)).mean())
    out = Path(args.out)
    model.save_pretrained(str(out))
    (out / "training.json").write_text(json.dumps({"episodes": ids, "cuts": int(len(y)), "scene_starts": int(y.sum()),
                                                  "hidden": args.hidden, "epochs": args.epochs, "weight_decay": args.weight_decay,
                                                  "seed": args.seed, "train_accuracy": acc}, indent=1))
    (out / "README.md").write_text(
        "---\nlibrary_name: vpos\ntags:\n- scene-segmentation\n- anime\n---\n\n"
        "# vpos scene-boundary model\n\n"
        f"{'Logistic regression' if args.hidden == 0 else f'MLP ({args.hidden} hidden units)'} over "
        f"{len(BOUNDARY_FEATURE_NAMES)} local-context features of each shot cut (vpos.scenes.boundary_features: "
        "per-feature shot distances across and around the cut, shot lengths, transition length, sound change "
        "and silence at the cut) -> P(a new scene starts at this cut). vpos uses it for the per-shot "
        "`scene_boundary_prob`; the grouping itself is training-free OSG unless --scene-prior-weight > 0.\n\n"
        f"Trained with bench/scenes_train.py on {', '.join(ids)} (vpos synthetic corpus, truth and detected "
        f"shots): {len(y)} cuts, {int(y.sum())} scene starts, training accuracy {acc:.3f}. Held-out figures: "
        "README.md of vpos, section 'Shots and scenes'.\n")
    print(f"trained on {len(y)} cuts ({int(y.sum())} scene starts), training accuracy {acc:.3f}; saved to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
