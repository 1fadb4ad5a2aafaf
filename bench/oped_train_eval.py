"""Reproduce the opening/ending figures: build a corpus, extract features, train the checkpoint set,
and score single checkpoints and the fused set on shows training never saw.

    python bench/oped_train_eval.py --workdir /tmp/oped --preset medium --shows 12 --episodes 3 \
        --jobs 8 --device cuda --epochs 60 --out-weights weights/oped

Steps (each skipped when its output exists, so a run can be resumed):
1. `python -m vpos corpus build` (split by show: train / val / test),
2. features of every episode through the normal pipeline (visual, audio, text; cached), in
   `--jobs` parallel processes,
3. `vpos.train_oped.train_checkpoint` for each variant, saved with `save_pretrained`,
4. every test episode analysed with each checkpoint alone and with the fused set; `vpos.evaluate`
   scores them; a summary JSON compares them (what fusion gains over the best single checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

EXTRACTORS = ("visual", "audio", "text")


def _extract_one(args):
    video, device, cache_dir, threads, extractors = args
    import torch

    torch.set_num_threads(threads)
    from vpos.pipeline import AnalysisOptions, analyze

    t = time.perf_counter()
    r = analyze(video, AnalysisOptions(device=device, cache_dir=cache_dir, extractors=extractors, oped=False))
    return video, r.video.duration, time.perf_counter() - t


def log(msg, fh=None):
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    if fh:
        fh.write(line + "\n")
        fh.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--corpus", help="use this corpus instead of building one")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--shows", type=int, default=12)
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--variants", default="avtnet,avtnet_norm,yolt")
    ap.add_argument("--extractors", default=",".join(EXTRACTORS),
                    help="features the models use (visual,audio[,text]); without text the text branch is off")
    ap.add_argument("--window", type=int, default=360, help="training window (seconds)")
    ap.add_argument("--steps", type=int, default=8, help="minimum optimiser steps per epoch")
    ap.add_argument("--stop-after", choices=["corpus", "extract"], help="stop after this step (resume later)")
    ap.add_argument("--out-weights", default=None, help="also copy the trained set here")
    ap.add_argument("--time-budget", type=float, default=0, help="seconds; stop extracting new episodes past 60%% of it")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    fh = open(work / "log.txt", "a")
    import torch

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    summary = {"device": device, "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
               "cpus": os.cpu_count(), "args": vars(args)}

    corpus = Path(args.corpus) if args.corpus else work / "corpus"
    if not (corpus / "split.json").exists():
        t = time.perf_counter()
        cmd = [sys.executable, "-m", "vpos", "corpus", "build", "--out", str(corpus), "--preset", args.preset,
               "--seed", str(args.seed), "--shows", str(args.shows), "--episodes", str(args.episodes),
               "--jobs", str(args.jobs), "--material", "auto"]
        log("building corpus: " + " ".join(cmd[2:]), fh)
        subprocess.run(cmd, check=True, cwd=str(HERE.parent))
        summary["corpus_build_s"] = time.perf_counter() - t
        log(f"corpus built in {summary['corpus_build_s']:.0f} s", fh)
    if args.stop_after == "corpus":
        return
    split = json.loads((corpus / "split.json").read_text())
    index = corpus / "corpus.json"
    corpus_info = ({k: v for k, v in json.loads(index.read_text()).items() if k in ("preset", "seed", "material")}
                   if index.exists() else {"preset": args.preset, "seed": args.seed, "shows": args.shows, "episodes": args.episodes})
    corpus_info["episodes_used"] = len(list(corpus.rglob("*.truth.json")))
    summary["split"] = {k: v for k, v in split.items() if k != "note"}

    truths = sorted(corpus.rglob("*.truth.json"))
    videos = []
    for tp in truths:
        tr = json.loads(tp.read_text())
        videos.append((str(corpus / tr["path"]), tr))
    cache_dir = str(work / "cache")

    # 2. features, in parallel processes
    t = time.perf_counter()
    threads = max(1, (os.cpu_count() or 2) // max(1, args.jobs))
    extractors = tuple(args.extractors.split(","))
    jobs = [(v, device, cache_dir, threads, extractors) for v, _ in videos]
    total_video = 0.0
    if args.jobs > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as ex:
            for video, dur, sec in ex.map(_extract_one, jobs):
                total_video += dur
                log(f"features {Path(video).name}: {dur:.0f} s video in {sec:.1f} s", fh)
    else:
        for j in jobs:
            video, dur, sec = _extract_one(j)
            total_video += dur
            log(f"features {Path(video).name}: {dur:.0f} s video in {sec:.1f} s", fh)
    summary["extract_s"] = time.perf_counter() - t
    summary["video_s"] = total_video
    summary["extract_rtf_aggregate"] = total_video / max(summary["extract_s"], 1e-6)
    log(f"features: {total_video:.0f} s of video in {summary['extract_s']:.0f} s ({summary['extract_rtf_aggregate']:.1f}x real time, {args.jobs} processes)", fh)

    if args.stop_after == "extract":
        return

    # 3. train
    from vpos.pipeline import AnalysisOptions
    from vpos.train_oped import MODEL_CARD, card_inputs, evaluate_examples, load_corpus_examples, train_checkpoint

    opts = AnalysisOptions(device=device, cache_dir=cache_dir, extractors=extractors, oped=False)
    model_kwargs = {} if "text" in extractors else {"use_text": False}
    examples = load_corpus_examples(corpus, None, opts, progress=lambda m: None)
    test_shows, val_shows = set(split.get("test", [])), set(split.get("val", []))
    train = [e for e in examples if e.show not in test_shows | val_shows]
    val = [e for e in examples if e.show in val_shows]
    test = [e for e in examples if e.show in test_shows]
    log(f"train {len(train)} episodes ({len({e.show for e in train})} shows), val {len(val)}, test {len(test)}", fh)
    wdir = work / "weights"
    wdir.mkdir(exist_ok=True)
    names = []
    summary["checkpoints"] = {}
    for seed, variant in enumerate(args.variants.split(",")):
        name = f"{variant}-s{seed}"
        t = time.perf_counter()
        model, rep = train_checkpoint(train, val, variant, seed + args.seed, epochs=args.epochs, device=device,
                                      window=args.window, min_steps_per_epoch=args.steps, log=lambda m: log(m, fh), **model_kwargs)
        model = model.cpu()
        model.save_pretrained(wdir / name)
        best = max(rep["history"], key=lambda h: h.get("f1_mean", -1)) if rep["history"] else {}
        test_f1 = evaluate_examples(model, test, "cpu")
        (wdir / name / "README.md").write_text(MODEL_CARD.format(
            name=name, variant=variant, train_shows=", ".join(sorted({e.show for e in train})),
            val_shows=", ".join(sorted(val_shows)) or "none", f1_op=test_f1["f1_op"], f1_ed=test_f1["f1_ed"],
            inputs=card_inputs(model), f1_where=f"held-out test shows {', '.join(sorted(test_shows))}"))
        summary["checkpoints"][name] = {"train_s": time.perf_counter() - t, "val_best": best, "test_per_second": test_f1}
        names.append(name)
        log(f"{name}: trained in {time.perf_counter() - t:.0f} s; val {best}; test per-second {test_f1}", fh)
    (wdir / "fusion.json").write_text(json.dumps({"checkpoints": names, "fusion": "kmeans2-larger-cluster",
                                                  "train_shows": sorted({e.show for e in train}), "val_shows": sorted(val_shows),
                                                  "test_shows": sorted(test_shows), "corpus": corpus_info}, indent=1))

    # 4. analyse the test shows with each checkpoint and with the fused set; score with vpos.evaluate
    from vpos import oped
    from vpos.evaluate import evaluate_dir, format_table
    from vpos.pipeline import analyze

    test_videos = [v for v, tr in videos if tr["show"] in test_shows]
    summary["eval"] = {}
    for label, weights in [(n, str(wdir / n)) for n in names] + [("fused", str(wdir))]:
        pred = work / "pred" / label
        pred.mkdir(parents=True, exist_ok=True)
        models = oped.load_checkpoints(weights, device="cpu")
        for v in test_videos:
            r = analyze(v, AnalysisOptions(device=device, cache_dir=cache_dir, extractors=extractors, oped=True, oped_weights=weights))
            r.save(pred / (Path(v).stem + ".json"))
        del models
        rep = evaluate_dir(str(corpus), str(pred), split="test")
        (work / f"eval-{label}.json").write_text(json.dumps(rep, indent=1, default=str))
        summary["eval"][label] = rep.get("summary", rep) if isinstance(rep, dict) else rep
        log(f"eval {label}:\n{format_table(rep)}", fh)
    summary["total_s"] = time.perf_counter() - t_start
    (work / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    if args.out_weights:
        import shutil

        shutil.copytree(wdir, args.out_weights, dirs_exist_ok=True)
        log(f"copied weights to {args.out_weights}", fh)
    log(f"done in {summary['total_s']:.0f} s", fh)


if __name__ == "__main__":
    main()
