"""Characters on corpus episodes: who is on screen when, from <= 5 reference frames per character.

    python bench/characters_eval.py --corpus /tmp/bench_corpus --shows kaze-nikki,mori-tabi [--episodes 3]

Protocol (issue 7): for every scored episode, the references of each character are up to 5 frames
of ANOTHER episode of the same show in which, by the truth, that character is the only one on
screen (mid-shot, spread over that episode). The episode's samples go through the pipeline's
extractors (shots + characters, one decode, cached) and `vpos.characters.detect_characters`.
Nothing here was trained on the corpus (the network is trained on DiceBear + drawn identities).

Reported:
* per-second presence accuracy and F1 over all episode x character x second triples, and the
  screen-time error in % of each character's true screen time (`vpos.evaluate.score_characters`);
* wrong-name rate: each character in turn loses its references; of the seconds it is on screen,
  the share in which another name that is NOT on screen at that second is reported (in aggregate,
  and per episode x character: the worst one and the share within 2%, the issue's target). A
  character with no solo frame in the show's other episodes has no references at all: it is left
  out of accuracy, F1 and screen time (nobody could name it; `score_characters` "unreferenced")
  and counted here from the main run instead;
* the prediction documents are written to --pred so `python -m vpos eval --truth CORPUS --pred DIR`
  scores the same figures;
* with --discover: discovery without references (`vpos.characters.discover_characters`) scored by
  the evaluator's optimal one-to-one assignment of clusters to characters (accuracy, F1), and how
  many clusters it made per episode against the number of characters;
* with --timing EPISODE: the character stage's CPU time against the default extraction (visual,
  audio, text, shots) of that episode, both from one cache-less run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.characters import CharacterOptions, bank_overlap, build_references, cell_descriptors, detect_characters  # noqa: E402
from vpos.evaluate import score_characters  # noqa: E402


def solo_frames(truth: dict, name: str, k: int = 5, margin: float = 0.25) -> list[float]:
    """Times (s) where `name` is the only character on screen, spread over the episode. Solo
    stretches come from the truth's exact intervals (not whole seconds: a second that is mostly one
    character's can hold another's first frames), kept `margin` s away from where anyone enters or
    leaves and from every cut or transition; each stretch gives its middle. Stretches at least 2 s
    long first, then (when fewer than k exist) shorter ones."""
    dur = float(truth["duration"])
    step = 0.02
    grid = (np.arange(int(np.ceil(dur / step))) + 0.5) * step

    def inside(ivs):
        m = np.zeros(len(grid), bool)
        for a, b in ivs or []:
            m |= (grid >= float(a)) & (grid < float(b))
        return m

    chars = truth["characters"]
    solo = inside(chars.get(name, []))
    for c, v in chars.items():
        if c != name:
            solo &= ~inside(v)
    fps = float(truth.get("fps") or 0)
    if fps > 0:  # transitions (a cut has length 0; a dissolve or wipe mixes two shots for `length` frames)
        for tr in truth.get("transitions") or [{"frame": f, "length": 0} for f in truth.get("cuts", [])]:
            a = float(tr["frame"]) / fps
            b = (float(tr["frame"]) + float(tr.get("length", 0))) / fps
            solo &= ~((grid >= a - margin) & (grid < b + margin))
    long_runs, short_runs, i, n = [], [], 0, len(grid)
    while i < n:
        if not solo[i]:
            i += 1
            continue
        j = i
        while j < n and solo[j]:
            j += 1
        a, b = i * step + margin, j * step - margin  # away from entrances and exits too
        if b > a:
            (long_runs if b - a >= 2.0 - 2 * margin else short_runs).append(round((a + b) / 2.0, 3))
        i = j
    picked = []
    for runs in (long_runs, short_runs):
        if runs and len(picked) < k:
            idx = np.linspace(0, len(runs) - 1, min(k - len(picked), len(runs))).round().astype(int)
            picked += [runs[i] for i in sorted(set(idx))]
    return sorted(picked)


def reference_frames(truths: list, tp: Path, k: int = 5) -> tuple[dict[str, list], list[Path]]:
    """The reference frames for episode `tp`: up to k frames per character, in which it is alone
    (`solo_frames`), from the show's OTHER episodes (the next one first, then the others in turn)."""
    others = [truths[(truths.index(tp) + j) % len(truths)] for j in range(1, len(truths))]
    refs_in: dict[str, list] = {}
    for ref_tp in others:
        ref_truth = json.loads(ref_tp.read_text())
        ref_video = video_of(ref_tp)
        for name in sorted(ref_truth["characters"]):
            have = len(refs_in.get(name, []))
            if have >= k:
                continue
            imgs = grab_frames(str(ref_video), solo_frames(ref_truth, name, k - have))
            if imgs:
                refs_in.setdefault(name, []).extend(imgs)
    return refs_in, others


def episode_references(truths: list, tp: Path, k: int, weights, options):
    """`reference_frames` made into the detector's references."""
    refs_in, others = reference_frames(truths, tp, k)
    return build_references(refs_in, weights, "cpu", options), [o.name[: -len(".truth.json")] for o in others]


def grab_frames(path: str, times: list[float]) -> list[np.ndarray]:
    import av

    out = []
    with av.open(path) as c:
        st = c.streams.video[0]
        for t in times:
            c.seek(int(max(0.0, t - 1.0) * 1e6), any_frame=False, backward=True)
            got = None
            for fr in c.decode(st):
                if fr.time is not None and fr.time >= t:
                    got = fr.to_ndarray(format="rgb24")
                    break
            if got is not None:
                out.append(got)
    return out


def video_of(truth_path: Path) -> Path:
    stem = truth_path.name[: -len(".truth.json")]
    for ext in (".mp4", ".mkv", ".webm", ".avi", ".mov"):
        p = truth_path.with_name(stem + ext)
        if p.exists():
            return p
    raise FileNotFoundError(f"no video next to {truth_path}")


def features_of(video: Path, cache_dir: str | None):
    from vpos.cache import content_hash
    from vpos.media import probe
    from vpos.pipeline import AnalysisOptions, build_shots, extract_features

    opts = AnalysisOptions(extractors=("shots", "characters"), device="cpu", oped=False, cache_dir=cache_dir)
    info = probe(str(video), opts.limits)
    t = time.perf_counter()
    feats, timings, _, cache = extract_features(info, content_hash(str(video)), opts)
    wall = time.perf_counter() - t
    shots = build_shots(feats["shots"], info.fps, opts.shot_threshold)
    cuts = [s.start_time for s in shots[1:]]
    n = int(feats["characters"].meta.get("n_samples", len(feats["characters"]["cell_obj"])))
    return feats["characters"], cuts, n, {"wall": wall, "hits": cache["hits"], **timings}


def shot_samples(cf) -> dict | None:
    """The samples of the shots the 1/s grid misses, from the pipeline's characters features or a
    `characters_headcache.py` episode (its "shot" entry)."""
    if isinstance(cf, dict):
        return cf.get("shot")
    from vpos.pipeline import shot_samples_of

    return shot_samples_of(cf)


def wrong_name_seconds(truth: dict, cf, n: int, cuts, refs, names, options, weights,
                       per_character: dict | None = None) -> tuple[int, int]:
    """Each character without references: its on-screen seconds, and those reported as another
    name that is not on screen then (`score_characters`' "unreferenced", as `vpos eval` has it).
    `per_character` (a dict) receives {name: (wrong, on screen)}: the target is per character
    (never more than 2% of ITS seconds), not only in aggregate."""
    dur = float(truth["duration"])
    wrong = total = 0
    for hidden in names:
        if len(names) < 2 or hidden not in truth["characters"]:
            continue
        sub = refs.without(hidden)
        res = detect_characters(cf["cell_obj"][:n], cf["cell_emb"][:n], sub, dur, cuts, 1.0, weights, options,
                                cell_hist=cf["cell_hist"][:n], cell_pos=cf["cell_pos"][:n], shot_samples=shot_samples(cf))
        u = score_characters(truth, {"characters": res.to_dict()})["unreferenced"][hidden]
        wrong += u["wrong_name_seconds"]
        total += u["seconds"]
        if per_character is not None:
            per_character[hidden] = (u["wrong_name_seconds"], u["seconds"])
    return wrong, total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--shows", default="kaze-nikki", help="comma-separated show folders")
    ap.add_argument("--episodes", type=int, default=0, help="score at most this many episodes per show (0: all)")
    ap.add_argument("--refs", type=int, default=5, help="reference frames per character (<= 5)")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--pred", default="/tmp/vpos_characters_pred", help="write one prediction document per episode here")
    ap.add_argument("--shot-weight", type=float, default=CharacterOptions.shot_weight)
    ap.add_argument("--threshold", type=float, default=CharacterOptions.threshold)
    ap.add_argument("--color-weight", type=float, default=CharacterOptions.color_weight)
    ap.add_argument("--timing", default=None, metavar="EPISODE", help="also time the character stage on this video")
    ap.add_argument("--out", default=None, help="write the summary JSON here")
    ap.add_argument("--discover", action="store_true", help="also score discovery without references")
    ap.add_argument("--options", default="{}", help='more CharacterOptions as JSON, e.g. \'{"background_bank": false}\'')
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    extra = json.loads(args.options)
    options = CharacterOptions(**{"shot_weight": args.shot_weight, "threshold": args.threshold,
                                  "color_weight": args.color_weight, "skip_empty_references": True, **extra})
    pred_dir = Path(args.pred)
    pred_dir.mkdir(parents=True, exist_ok=True)
    rows, totals = [], {"correct": 0, "total": 0, "tp": 0, "fp": 0, "fn": 0, "wrong": 0, "hidden_on": 0}
    st_pct, wrong_pct, ext_time = [], [], 0.0
    disc = {"correct": 0, "total": 0, "tp": 0, "fp": 0, "fn": 0, "clusters": [], "characters": []}
    for show in args.shows.split(","):
        truths = sorted(Path(args.corpus, show).glob("*.truth.json"))
        if len(truths) < 2:
            print(f"{show}: needs >= 2 episodes (references come from another episode)", file=sys.stderr)
            continue
        scored = truths[: args.episodes] if args.episodes else truths
        for i, tp in enumerate(scored):
            truth = json.loads(tp.read_text())
            refs, refs_from = episode_references(truths, tp, args.refs, args.weights, options)
            cf, cuts, n, tinfo = features_of(video_of(tp), args.cache_dir)
            ext_time += tinfo.get("characters", 0.0)
            dur = float(truth["duration"])
            res = detect_characters(cf["cell_obj"][:n], cf["cell_emb"][:n], refs, dur, cuts, 1.0, args.weights, options,
                                    cell_hist=cf["cell_hist"][:n], cell_pos=cf["cell_pos"][:n], shot_samples=shot_samples(cf))
            doc = {"characters": res.to_dict()}
            (pred_dir / f"{tp.name[:-len('.truth.json')]}.json").write_text(json.dumps(doc))
            sc = score_characters(truth, doc)
            for k in ("correct", "total", "tp", "fp", "fn"):
                totals[k] += sc[k]
            pcts = {}
            for c, r in sc["per_character"].items():
                if r["screen_time_truth"] > 0:
                    pct = 100.0 * abs(r["screen_time_pred"] - r["screen_time_truth"]) / r["screen_time_truth"]
                    st_pct.append(pct)
                    pcts[c] = round(pct, 1)
            hidden = {}
            w, on = wrong_name_seconds(truth, cf, n, cuts, refs, refs.names, options, args.weights, hidden)
            # a character with no solo frame in the other episodes has no references here: not a
            # miss (nobody asked for it) but a character without references, as the reruns make them
            for c, u in sc.get("unreferenced", {}).items():
                hidden[c] = (u["wrong_name_seconds"], u["seconds"])
                w, on = w + u["wrong_name_seconds"], on + u["seconds"]
            hidden_pct = {c: round(100.0 * a / b, 1) for c, (a, b) in hidden.items() if b > 0}
            wrong_pct += list(hidden_pct.values())
            totals["wrong"] += w
            totals["hidden_on"] += on
            f1 = 2 * sc["tp"] / max(1, 2 * sc["tp"] + sc["fp"] + sc["fn"])
            row = {"episode": tp.name[: -len(".truth.json")], "refs_from": refs_from,
                   "references": refs.counts, "accuracy": round(sc["correct"] / max(1, sc["total"]), 4),
                   "f1": round(f1, 4), "screen_time_error_pct": pcts, "wrong_name_rate": round(w / max(1, on), 4),
                   "wrong_name_pct": hidden_pct, "unreferenced": sorted(sc.get("unreferenced", {})),
                   "max_reference_overlap": round(max([bank_overlap(cell_descriptors(refs.banks[a], refs.hists[a], options.color_weight),
                                                                    cell_descriptors(refs.banks[b], refs.hists[b], options.color_weight))
                                                       for a in refs.names for b in refs.names if a < b] or [0.0]), 3)}
            if args.discover:
                from vpos.characters import discover_characters

                dres = discover_characters(cf["cell_obj"][:n], cf["cell_emb"][:n], cf["cell_pos"][:n], dur, cuts, 1.0,
                                           args.weights, options=options, shot_samples=shot_samples(cf))
                ddoc = {"characters": {**dres.result.to_dict(), "clusters": dres.representatives}}
                ddir = pred_dir.with_name(pred_dir.name + "-discover")  # a sibling: `vpos eval` searches recursively
                ddir.mkdir(exist_ok=True)
                (ddir / f"{tp.name[:-len('.truth.json')]}.json").write_text(json.dumps(ddoc))
                dsc = score_characters(truth, ddoc)
                for k in ("correct", "total", "tp", "fp", "fn"):
                    disc[k] += dsc[k]
                disc["clusters"].append(len(dres.result.names))
                disc["characters"].append(len(truth["characters"]))
                row["discovery"] = {"clusters": len(dres.result.names), "accuracy": round(dsc["correct"] / max(1, dsc["total"]), 4),
                                    "f1": round(2 * dsc["tp"] / max(1, 2 * dsc["tp"] + dsc["fp"] + dsc["fn"]), 4)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    t = totals
    summary = {
        "episodes": len(rows), "shows": args.shows,
        "accuracy": round(t["correct"] / max(1, t["total"]), 4),
        "f1": round(2 * t["tp"] / max(1, 2 * t["tp"] + t["fp"] + t["fn"]), 4),
        "precision": round(t["tp"] / max(1, t["tp"] + t["fp"]), 4), "recall": round(t["tp"] / max(1, t["tp"] + t["fn"]), 4),
        "screen_time_error_pct_mean": round(float(np.mean(st_pct)), 2) if st_pct else None,
        "screen_time_error_pct_max": round(float(np.max(st_pct)), 2) if st_pct else None,
        "screen_time_within_5pct": round(float(np.mean(np.asarray(st_pct) <= 5.0)), 3) if st_pct else None,
        "wrong_name_rate": round(t["wrong"] / max(1, t["hidden_on"]), 4),
        # per episode x character: the share of its seconds under another's name, worst and within 2%
        "wrong_name_pct_max": round(float(np.max(wrong_pct)), 1) if wrong_pct else None,
        "wrong_name_within_2pct": round(float(np.mean(np.asarray(wrong_pct) <= 2.0)), 3) if wrong_pct else None,
        "options": {"shot_weight": args.shot_weight, "threshold": args.threshold, "color_weight": args.color_weight,
                    "refs": args.refs, **extra},
    }
    if args.discover and disc["total"]:
        summary["discovery"] = {"accuracy": round(disc["correct"] / disc["total"], 4),
                                "f1": round(2 * disc["tp"] / max(1, 2 * disc["tp"] + disc["fp"] + disc["fn"]), 4),
                                "clusters_per_episode": disc["clusters"], "characters_per_episode": disc["characters"]}
    if args.timing:
        from vpos.pipeline import AnalysisOptions, analyze

        opts = AnalysisOptions(extractors=("visual", "audio", "text", "shots", "characters"), device="cpu",
                               use_cache=False, oped=False)
        r = analyze(args.timing, opts)
        base = sum(r.timings.get(k, 0.0) for k in ("visual", "audio", "text", "shots"))
        summary["timing"] = {"episode": args.timing, "duration": r.video.duration,
                             "stages": {k: round(v, 2) for k, v in r.timings.items()},
                             "default_extractors_s": round(base, 2), "characters_s": round(r.timings.get("characters", 0.0), 2),
                             "added_pct": round(100.0 * r.timings.get("characters", 0.0) / max(1e-9, base), 1)}
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"summary": summary, "episodes": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
