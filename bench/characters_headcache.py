"""Fast development loop for the character head: the frozen Lite0 features of every 1/s sample and
every reference frame of a set of DEV episodes are computed once, so a new head (or new matching
options) is scored in minutes instead of a full re-extraction. Same protocol and figures as
`bench/characters_eval.py` (references: up to 5 frames of the show's other episodes in which the
character is alone; accuracy/F1 over episode x character x second; screen-time error; wrong-name
rate), computed by the same `vpos.characters` functions.

    python bench/characters_headcache.py collect --eps dev_eps.pkl --shows /tmp/chr7/dev:gakuen-bouken,...
    python bench/characters_headcache.py repick --eps dev_eps.pkl --shows ...   # references again, same samples
    python bench/characters_headcache.py warm --eps dev_eps.pkl --store dev_store.pkl
    python bench/characters_headcache.py eval --eps dev_eps.pkl --store dev_store.pkl [--weights DIR] \
        [--options '{"ambiguity_margin": 0.05}' ...]
    python bench/characters_headcache.py calibrate --eps dev_eps.pkl --store dev_store.pkl --weights DIR [--write]

`calibrate` fits a head's similarity -> probability calibration on these (dev) episodes: the
logistic slope over the best similarity per sample and name, then the offset with the best dev
accuracy + F1 through the whole smoothing / threshold chain; `--write` stores it in the head's
config.json. Never point it at episodes you report as held out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import characters_eval as B  # noqa: E402

import vpos.character_model as CM  # noqa: E402

_real_backbone = CM.backbone_features
STORE: dict[str, np.ndarray] = {}


def cached_backbone(backbone, t):
    """`backbone_features` with a per-image cache keyed by the input's bytes (the registry's ImageNet
    Lite0 only: a checkpoint's own fine-tuned trunk has no classifier `_fc` and is run as it is)."""
    if not hasattr(backbone, "_fc"):
        return _real_backbone(backbone, t)
    keys = [hashlib.sha1(t[i].numpy().tobytes()).hexdigest() for i in range(len(t))]
    miss = [i for i, k in enumerate(keys) if k not in STORE]
    if miss:
        f = _real_backbone(backbone, t[miss])
        for j, i in enumerate(miss):
            STORE[keys[i]] = f[j].numpy().astype(np.float16)
    return torch.from_numpy(np.stack([STORE[k] for k in keys]).astype(np.float32))


CM.backbone_features = cached_backbone  # run_dense looks it up in the module at call time


def samples_of(video) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pipeline's 1/s samples of a video as network inputs (M, 224, 384, 3), and its samples of
    the shots the grid misses (E, 224, 384, 3) with their times (E,), as the characters extractor
    gets them."""
    from vpos.extractors.visual import as_rgb
    from vpos.media import DecodePlan, decode, probe

    info = probe(str(video))
    grid, shot, times = [], [], []
    for ch in decode(info, DecodePlan(sample_rate=1.0, sample_width=384, shot_samples=True)):
        if len(ch.samples):
            grid.append(CM.prepare_frames(as_rgb(ch.samples)))
        if len(ch.shot_sample_times):
            shot.append(CM.prepare_frames(as_rgb(ch.shot_samples)))
            times.extend(ch.shot_sample_times)
    shot_x = np.concatenate(shot) if shot else np.zeros((0,) + grid[0].shape[1:], np.uint8)
    return np.concatenate(grid), shot_x, np.asarray(times, np.float64)


def collect(shows: list[str], out: str) -> None:
    from vpos.cache import content_hash
    from vpos.media import probe
    from vpos.pipeline import AnalysisOptions, build_shots, extract_features

    eps = []
    for spec in shows:
        corpus, show = spec.rsplit(":", 1)
        truths = sorted(Path(corpus, show).glob("*.truth.json"))
        for tp in truths:
            truth = json.loads(tp.read_text())
            refs_in, _ = B.reference_frames(truths, tp, 5)
            video = B.video_of(tp)
            opts = AnalysisOptions(extractors=("shots",), device="cpu", oped=False)
            info = probe(str(video), opts.limits)
            feats, _, _, _ = extract_features(info, content_hash(str(video)), opts)
            cuts = [s.start_time for s in build_shots(feats["shots"], info.fps, opts.shot_threshold)[1:]]
            x, shot_x, shot_t = samples_of(video)
            eps.append({"name": tp.name[: -len(".truth.json")], "show": show, "truth": truth, "cuts": cuts,
                        "x": x, "shot_x": shot_x, "shot_t": shot_t, "refs": reference_canvases(refs_in)})
            print(eps[-1]["name"], len(eps[-1]["x"]), {k: len(v) for k, v in eps[-1]["refs"].items()}, flush=True)
    pickle.dump(eps, open(out, "wb"), protocol=4)


def reference_canvases(refs_in: dict[str, list]) -> dict[str, np.ndarray]:
    from vpos.characters import reference_canvas

    return {k: np.stack([reference_canvas(a) for a in v[:5]]) for k, v in refs_in.items()}


def add_shot_samples(shows: list[str], eps_path: str) -> None:
    """Add the samples of the shots the 1/s grid misses to an episodes pickle collected before the
    characters extractor took them (its grid samples, references, cuts and truth are kept)."""
    eps = pickle.load(open(eps_path, "rb"))
    videos = {}
    for spec in shows:
        corpus, show = spec.rsplit(":", 1)
        videos.update({tp.name[: -len(".truth.json")]: B.video_of(tp) for tp in sorted(Path(corpus, show).glob("*.truth.json"))})
    for e in eps:
        x, e["shot_x"], e["shot_t"] = samples_of(videos[e["name"]])
        if len(x) != len(e["x"]):
            raise SystemExit(f"{e['name']}: {len(x)} samples now, {len(e['x'])} in the pickle")
        print(e["name"], len(e["shot_t"]), "shot samples", flush=True)
    pickle.dump(eps, open(eps_path, "wb"), protocol=4)


def repick(shows: list[str], eps_path: str) -> None:
    """Pick the references of an episodes pickle again (after a change to `solo_frames`), keeping
    its samples, cuts and truth: the episodes are found by name in the given corpus folders."""
    eps = pickle.load(open(eps_path, "rb"))
    truths = {}
    for spec in shows:
        corpus, show = spec.rsplit(":", 1)
        ts = sorted(Path(corpus, show).glob("*.truth.json"))
        truths.update({tp.name[: -len(".truth.json")]: (ts, tp) for tp in ts})
    for e in eps:
        ts, tp = truths[e["name"]]
        if json.loads(tp.read_text())["characters"] != e["truth"]["characters"]:
            raise SystemExit(f"{tp} is not the episode the pickle holds")
        refs_in, _ = B.reference_frames(ts, tp, 5)
        e["refs"] = reference_canvases(refs_in)
        print(e["name"], {k: len(v) for k, v in e["refs"].items()}, flush=True)
    pickle.dump(eps, open(eps_path, "wb"), protocol=4)


def load(eps_path: str, store_path: str) -> list[dict]:
    if store_path and Path(store_path).exists():
        STORE.update(pickle.load(open(store_path, "rb")))
    return pickle.load(open(eps_path, "rb"))


def warm(eps: list[dict], store_path: str) -> None:
    from vpos.extractors.visual import get_model
    from vpos.models.efficientnet_lite import preprocess

    bb = get_model("cpu")
    with torch.inference_mode():
        for e in eps:
            for x in [e["x"]] + [np.concatenate([c, c[:, :, ::-1]]) for c in e["refs"].values()]:
                for s in range(0, len(x), 16):
                    cached_backbone(bb, preprocess(torch.from_numpy(np.ascontiguousarray(x[s:s + 16]))))
            print(e["name"], len(STORE), flush=True)
    pickle.dump(STORE, open(store_path, "wb"), protocol=4)


CELL_SHARE: float | None = None  # --cell-share: the kept cells are shared among a frame's regions (measured, not adopted)
MAX_CELLS: int | None = None  # --max-cells: cells kept per sample (None: the extractor's MAX_CELLS)
REGION_CAP: int | None = None  # --region-cap: each region keeps up to this many of its own cells
REGION_THRESHOLD: float | None = None  # --region-threshold: objectness of the regions' cells (None: the extractor's)
REGION_FLOOR: int | None = None  # --region-floor: each region keeps at least this many of its own cells (None: the extractor's)


def episode_cells(e: dict, weights) -> dict:
    from vpos.character_model import load_head, run_dense
    from vpos.extractors.characters import MAX_CELLS as DEFAULT_MAX_CELLS
    from vpos.extractors.characters import FLOOR_OBJECTNESS
    from vpos.extractors.characters import REGION_FLOOR as DEFAULT_REGION_FLOOR
    from vpos.extractors.characters import cell_histograms, sparse_cells
    from vpos.extractors.visual import get_model

    k = MAX_CELLS or DEFAULT_MAX_CELLS
    floor = DEFAULT_REGION_FLOOR if REGION_FLOOR is None else REGION_FLOOR
    at = FLOOR_OBJECTNESS if REGION_THRESHOLD is None else REGION_THRESHOLD
    cells = dict(k=k, share=CELL_SHARE, region_cap=REGION_CAP, region_floor=floor, k_max=2 * k, region_threshold=at)
    obj, emb = run_dense(get_model("cpu"), load_head(weights), e["x"])
    o, em, p = sparse_cells(obj, emb, **cells)
    out = {"cell_obj": o, "cell_emb": em, "cell_pos": p, "cell_hist": cell_histograms(e["x"], p)}
    if len(e.get("shot_t", ())):
        obj, emb = run_dense(get_model("cpu"), load_head(weights), e["shot_x"])
        o, em, p = sparse_cells(obj, emb, **cells)
        out["shot"] = {"times": e["shot_t"], "cell_obj": o, "cell_emb": em, "cell_pos": p,
                       "cell_hist": cell_histograms(e["shot_x"], p)}
    return out


def prepared(eps, weights, opts, memo):
    from vpos.characters import build_references

    for e in eps:
        key = (e["name"], str(weights))
        if key not in memo:
            memo[key] = episode_cells(e, weights)
        rkey = ("refs", e["name"], str(weights), opts.skip_empty_references, opts.reference_region, opts.background_bank,
                opts.clean_banks, opts.reference_confident, opts.reference_core)
        if rkey not in memo:
            memo[rkey] = build_references({k: list(v) for k, v in e["refs"].items()}, weights, "cpu", opts)
        yield e, memo[key], memo[rkey]


def evaluate(eps, weights, opts, memo, verbose=False, use_shot_samples=True) -> dict:
    from vpos.characters import detect_characters
    from vpos.evaluate import score_characters

    t = {"correct": 0, "total": 0, "tp": 0, "fp": 0, "fn": 0, "wrong": 0, "on": 0}
    st = []
    for e, cf, refs in prepared(eps, weights, opts, memo):
        truth, n = e["truth"], len(e["x"])
        res = detect_characters(cf["cell_obj"], cf["cell_emb"], refs, float(truth["duration"]), e["cuts"], 1.0, weights, opts,
                                cell_hist=cf["cell_hist"], cell_pos=cf["cell_pos"],
                                shot_samples=cf.get("shot") if use_shot_samples else None)
        sc = score_characters(truth, {"characters": res.to_dict()})
        for k in ("correct", "total", "tp", "fp", "fn"):
            t[k] += sc[k]
        st += [100.0 * abs(r["screen_time_pred"] - r["screen_time_truth"]) / r["screen_time_truth"]
               for r in sc["per_character"].values() if r["screen_time_truth"] > 0]
        w, on = B.wrong_name_seconds(truth, cf, n, e["cuts"], refs, refs.names, opts, weights)
        t["wrong"] += w
        t["on"] += on
        if verbose:
            print(e["name"], round(sc["correct"] / max(1, sc["total"]), 3), sc["tp"], sc["fp"], sc["fn"], w, on, flush=True)
            for k, r in sc["per_character"].items():  # screen time per character: truth, predicted, error %
                if r["screen_time_truth"] > 0:
                    print(f"  {k:12s} {r['screen_time_truth']:7.1f} {r['screen_time_pred']:7.1f} "
                          f"{100.0 * (r['screen_time_pred'] - r['screen_time_truth']) / r['screen_time_truth']:+6.1f}%")
    return {"episodes": len(eps), "accuracy": round(t["correct"] / max(1, t["total"]), 4),
            "f1": round(2 * t["tp"] / max(1, 2 * t["tp"] + t["fp"] + t["fn"]), 4),
            "screen_time_error_pct_mean": round(float(np.mean(st)), 2) if st else None,
            "wrong_name_rate": round(t["wrong"] / max(1, t["on"]), 4), "fp": t["fp"], "fn": t["fn"]}


def calibrate(eps, weights, opts, memo) -> dict:
    from sklearn.linear_model import LogisticRegression

    from vpos.character_model import load_head
    from vpos.characters import cell_descriptors, intervals_from_mask, name_similarities, shot_segments, smooth_in_shots
    from vpos.evaluate import intervals_per_second, score_characters, truth_nsec

    head = load_head(weights)
    rows = []
    for e, cf, refs in prepared(eps, weights, opts, memo):
        w = opts.color_weight
        desc = cell_descriptors(cf["cell_emb"], cf["cell_hist"], w)
        banks = [cell_descriptors(refs.banks[k], refs.hists.get(k), w) for k in refs.names]
        S = name_similarities(cf["cell_obj"], desc, banks, head.obj_threshold, opts, cf["cell_pos"])
        truth = e["truth"]
        Y = np.stack([intervals_per_second(truth["characters"].get(k, []), truth_nsec(truth), float(truth["duration"]))
                      for k in refs.names], 1)
        m = min(len(S), len(Y))
        rows.append((e, refs.names, S, S[:m].ravel(), Y[:m].ravel()))
    X, Y = np.concatenate([r[3] for r in rows]), np.concatenate([r[4] for r in rows])
    lr = LogisticRegression(C=10.0).fit(X[:, None], Y)
    a = float(lr.coef_[0, 0])
    b0 = -float(lr.intercept_[0]) / a
    grid = []
    for b in np.round(np.arange(b0 - 0.2, b0 + 0.2, 0.01), 4):
        c = tot = tp = fp = fn = 0
        for e, names, S, _, _ in rows:
            dur = float(e["truth"]["duration"])
            P = smooth_in_shots(1 / (1 + np.exp(-a * (S - b))), shot_segments(len(S), e["cuts"]), opts.shot_weight, opts.shot_window)
            iv = {k: intervals_from_mask(P[:, i] >= opts.threshold, 1.0, dur, e["cuts"], opts.unsampled_shots) for i, k in enumerate(names)}
            r = score_characters(e["truth"], {"characters": {"names": names, "intervals": iv}})
            c, tot, tp, fp, fn = c + r["correct"], tot + r["total"], tp + r["tp"], fp + r["fp"], fn + r["fn"]
        grid.append((c / tot + 2 * tp / (2 * tp + fp + fn), float(b), c / tot, 2 * tp / (2 * tp + fp + fn)))
    best = max(grid)
    return {"calib_a": round(a, 3), "calib_b": round(best[1], 4), "logistic_b": round(b0, 4),
            "dev_accuracy": round(best[2], 4), "dev_f1": round(best[3], 4), "positives": round(float(Y.mean()), 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["collect", "repick", "shot-samples", "warm", "eval", "calibrate"])
    ap.add_argument("--eps", required=True, help="pickle of the episodes' samples, references and truth")
    ap.add_argument("--store", default=None, help="pickle of the cached backbone features")
    ap.add_argument("--shows", default="", help="collect, repick: CORPUS:SHOW,CORPUS:SHOW,...")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--options", nargs="*", default=["{}"], help="CharacterOptions overrides as JSON, one run each")
    ap.add_argument("--write", action="store_true", help="calibrate: write calib_a/calib_b into the weights' config.json")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--cell-share", type=float, default=None,
                    help="eval: when more than 48 cells of a sample reach this objectness, its regions share the 48 "
                         "kept cells in turns (vpos.extractors.characters.sparse_cells `share`; not the default)")
    ap.add_argument("--max-cells", type=int, default=None,
                    help="eval: character cells kept per sample (default: the extractor's MAX_CELLS)")
    ap.add_argument("--region-cap", type=int, default=None,
                    help="eval: each character region keeps up to this many of its own cells (with --max-cells for the sample)")
    ap.add_argument("--region-floor", type=int, default=None,
                    help="eval: each character region keeps at least this many of its own cells, up to twice "
                         "--max-cells in all (default: the extractor's REGION_FLOOR; 0: off, the matching before)")
    ap.add_argument("--region-threshold", type=float, default=None,
                    help="eval: objectness of the cells that form the regions of --region-floor / --region-cap "
                         "(default: the extractor's FLOOR_OBJECTNESS)")
    ap.add_argument("--no-shot-samples", action="store_true",
                    help="eval: leave out the samples of the shots the 1/s grid misses (the matching before they were taken)")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    global CELL_SHARE, MAX_CELLS, REGION_CAP, REGION_FLOOR, REGION_THRESHOLD
    CELL_SHARE, MAX_CELLS, REGION_CAP, REGION_FLOOR = args.cell_share, args.max_cells, args.region_cap, args.region_floor
    REGION_THRESHOLD = args.region_threshold
    if args.command == "collect":
        collect(args.shows.split(","), args.eps)
        return 0
    if args.command == "repick":
        repick(args.shows.split(","), args.eps)
        return 0
    if args.command == "shot-samples":
        add_shot_samples(args.shows.split(","), args.eps)
        return 0
    from vpos.characters import CharacterOptions

    eps = load(args.eps, args.store or "")
    if args.command == "warm":
        warm(eps, args.store)
        return 0
    memo: dict = {}
    results = []
    for spec in args.options:
        opts = CharacterOptions(skip_empty_references=True, **json.loads(spec))
        t0 = time.time()
        if args.command == "eval":
            r = evaluate(eps, args.weights, opts, memo, args.verbose, not args.no_shot_samples)
        else:
            r = calibrate(eps, args.weights, opts, memo)
            if args.write:
                cfg_path = Path(args.weights) / "config.json"
                cfg = json.loads(cfg_path.read_text())
                cfg.update(calib_a=r["calib_a"], calib_b=r["calib_b"])
                cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True))
        r = {"weights": args.weights or "weights/characters", "options": json.loads(spec), **r, "seconds": round(time.time() - t0)}
        results.append(r)
        print(json.dumps(r), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
