"""Where the character errors come from, on development shows (never the held-out ones).

    python bench/characters_diagnose.py --corpus /tmp/chr7/dev --shows a,b,c [--out JSON]

Same protocol as `bench/characters_eval.py` (references: up to 5 frames of another episode in
which the character is alone). Every episode x character x second is split into hit / miss /
false alarm and counted by

* shot kind (scene, op, ed, title, abstract, eyecatch, ...; from the truth's shots),
* how many characters are on screen (by the truth),
* for misses: whether the network found character cells at all in that second (detection miss)
  or found them but gave them to another name or below the threshold (identification miss); the
  latter split by the sample's character regions (4-connected cells, as the matching forms them):
  no region matches the name at the score at which a name is reported ("below the reporting
  score": small figures, poses the references do not show), one does but another name matches it
  better, one goes to the name but trails a second name by less than `ambiguity_margin` (below
  `certain_score`), or one is named at that score and the later steps (vetoes, smoothing) lose it,
* for false alarms: whether the named character's second holds another character (confusion) or
  no character at all (background / poster),
* references per name (1 reference vs more).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import characters_eval as B  # noqa: E402

from vpos.characters import CharacterOptions, _connected_cells, cell_descriptors, detect_characters  # noqa: E402
from vpos.character_model import load_head  # noqa: E402
from vpos.evaluate import intervals_per_second, truth_nsec  # noqa: E402


def second_kinds(truth: dict, nsec: int) -> list[str]:
    fps = float(truth["fps"])
    kinds = ["none"] * nsec
    for s in truth["shots"]:
        a, b = s["start_frame"] / fps, s["end_frame"] / fps
        for i in range(max(0, int(np.floor(a))), min(nsec, int(np.ceil(b)))):
            if min(b, i + 1) - max(a, i) >= 0.5:
                kinds[i] = s["kind"]
    return kinds


def sample_regions(cf, n: int, refs, options, obj_threshold: float) -> list[list[tuple[int, np.ndarray]]]:
    """Per sample, each character region (>= 2 cells): its cell count and mean similarity to every
    name's bank."""
    w = options.color_weight
    banks = [cell_descriptors(refs.banks[k], refs.hists.get(k), w) for k in refs.names]
    out = []
    for f in range(n):
        sel = np.flatnonzero(cf["cell_obj"][f] >= obj_threshold)
        regions = []
        if len(sel) and banks:
            cells = cell_descriptors(cf["cell_emb"][f][sel], cf["cell_hist"][f][sel], w)
            sims = np.stack([(cells @ b.T).max(1) for b in banks], 1)
            where = {(int(cf["cell_pos"][f, i, 0]), int(cf["cell_pos"][f, i, 1])): j for j, i in enumerate(sel)}
            regions = [(len(c), sims[np.asarray(c)].mean(0)) for c in _connected_cells(where) if len(c) >= 2]
        out.append(regions)
    return out


def miss_cause(regions: list[tuple[int, np.ndarray]], k: int, report: float, options) -> str:
    """Why a second with character cells misses name k, from its regions' similarities."""
    regions = [r for _, r in regions]
    own = [r for r in regions if int(r.argmax()) == k]
    if not own:
        if any(r[k] >= report for r in regions):
            return "another name matches its region better"
        return "below the reporting score"
    best = max(own, key=lambda r: r[k])
    if best[k] < report:
        return "below the reporting score"
    second = np.sort(best)[-2] if len(best) > 1 else -1.0
    certain = 0 < options.certain_score <= best[k]
    if best[k] - second < options.ambiguity_margin and not certain:
        return "ambiguous with a second name"
    return "named, lost by a later step"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--shows", required=True)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--regions", default=None, metavar="EPISODE:S,S",
                    help="also print each character region of these samples (cells, similarity per name), "
                         "e.g. tsuki-houkago-e02:134,136")
    args = ap.parse_args(argv)
    show_ep, show_secs = None, []
    if args.regions:
        show_ep, _, secs = args.regions.partition(":")
        try:
            show_secs = [int(x) for x in secs.split(",") if x]
        except ValueError:
            ap.error(f"--regions wants EPISODE:SECOND,SECOND, not {args.regions!r}")
    import torch

    torch.set_num_threads(1)
    options = CharacterOptions(skip_empty_references=True)
    head = load_head(args.weights)
    report = head.similarity_at(options.threshold)  # the region score at which a name is reported
    c = defaultdict(Counter)
    for show in args.shows.split(","):
        truths = sorted(Path(args.corpus, show).glob("*.truth.json"))
        for tp in truths:
            truth = json.loads(tp.read_text())
            refs, _ = B.episode_references(truths, tp, 5, args.weights, options)
            cf, cuts, n, _ = B.features_of(B.video_of(tp), None)
            dur = float(truth["duration"])
            res = detect_characters(cf["cell_obj"][:n], cf["cell_emb"][:n], refs, dur, cuts, 1.0, args.weights, options,
                                    cell_hist=cf["cell_hist"][:n], cell_pos=cf["cell_pos"][:n],
                                    shot_samples=B.shot_samples(cf))
            region_sims = sample_regions(cf, n, refs, options, head.obj_threshold)
            if tp.name[: -len(".truth.json")] == show_ep:
                for f in show_secs:
                    for cells, r in (region_sims[f] if 0 <= f < n else []):
                        print(f"{show_ep} sample {f}: region of {cells} cells",
                              {nm: round(float(x), 3) for nm, x in zip(refs.names, r)})
            nsec = truth_nsec(truth)
            kinds = second_kinds(truth, nsec)
            tm = {k: intervals_per_second(v, nsec, dur) for k, v in truth["characters"].items()}
            on_count = sum(m.astype(int) for m in tm.values()) if tm else np.zeros(nsec, int)
            has_cells = (cf["cell_obj"][:n].astype(np.float32) >= head.obj_threshold).any(1)
            for name in truth["characters"]:
                y = tm[name]
                if name in res.names:
                    p = intervals_per_second(res.intervals[name], nsec, dur)
                    nref = refs.counts[name]
                else:
                    p = np.zeros(nsec, bool)
                    nref = 0
                for i in range(nsec):
                    out = "hit" if (y[i] and p[i]) else "miss" if y[i] else "false_alarm" if p[i] else "true_negative"
                    c["all"][out] += 1
                    c[f"kind={kinds[i]}"][out] += 1
                    c[f"on_screen={int(on_count[i])}"][out] += 1
                    c[f"refs={min(nref, 2)}{'+' if nref >= 2 else ''}"][out] += 1
                    if out == "miss":
                        c["miss_cause"]["no character cells" if i >= n or not has_cells[i] else "cells, wrong name or low score"] += 1
                        if i < n and has_cells[i] and name in refs.names:
                            c["identification_miss"][miss_cause(region_sims[i], refs.names.index(name), report, options)] += 1
                    if out == "false_alarm":
                        c["false_alarm_cause"]["another character on screen" if on_count[i] else "nobody on screen"] += 1
            print(tp.name, {k: round(v, 1) for k, v in res.screen_time.items()}, truth["screen_time"], flush=True)
    summary = {k: dict(v) for k, v in sorted(c.items())}
    for k, v in summary.items():
        tot = sum(v.values())
        print(f"{k:32s} " + " ".join(f"{a}={b} ({100 * b / tot:.1f}%)" for a, b in sorted(v.items())))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
