"""Training the opening/ending checkpoints on cached features.

    python -m vpos train oped --corpus CORPUS_DIR --out weights/oped

Episodes come from a corpus built by `python -m vpos corpus build` (ground-truth JSON beside each
video; `split.json` names the training, validation and test shows) or from the source
competition's format (`<id>_start.mp4` / `<id>_end.mp4` with `name seconds` label lines). Features
are extracted once through the normal pipeline and cached, so retraining costs only the training.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .oped_model import CLASSES, AVTNet, EpisodeInputs, episode_inputs


@dataclass
class Example:
    id: str
    show: str
    inputs: EpisodeInputs
    targets: np.ndarray  # (T, C) 0/1
    op_end: float | None  # seconds, for the clip regression head
    duration: float
    cut_times: np.ndarray
    # (T, C) 1 where the label is known. Corpus episodes know every second; a competition clip
    # knows only the seconds around its one labelled boundary (see competition_targets).
    known: np.ndarray | None = None


def _per_second_labels(intervals, duration: float, n: int) -> np.ndarray:
    """Second i is 1 when [i, i+1) overlaps the intervals by >= 0.5 s (as the truth JSON does)."""
    out = np.zeros(n, np.float32)
    for a, b in intervals:
        for i in range(max(0, int(math.floor(a))), min(n, int(math.ceil(b)))):
            if min(b, i + 1) - max(a, i) >= 0.5:
                out[i] = 1
    return out


def targets_from_truth(truth: dict, n: int) -> np.ndarray:
    segs = truth.get("segments", [])
    cols = []
    for c in CLASSES:
        ivs = [(s["start"], s["end"]) for s in segs if s["label"] == c or (c == "preview" and s["label"] == "preview")]
        cols.append(_per_second_labels(ivs, truth["duration"], n))
    return np.stack(cols, 1)


def load_corpus_examples(corpus: Path, shows: set[str] | None, options, progress=print) -> list[Example]:
    from .pipeline import analyze

    examples = []
    truths = sorted(corpus.rglob("*.truth.json"))
    for i, tp in enumerate(truths):
        truth = json.loads(tp.read_text())
        if shows is not None and truth["show"] not in shows:
            continue
        video = (corpus / truth["path"]) if not Path(truth["path"]).is_absolute() else Path(truth["path"])
        t0 = time.perf_counter()
        r = analyze(video, options)
        progress(f"[{i + 1}/{len(truths)}] {truth['id']}: features ready in {time.perf_counter() - t0:.1f} s")
        n = len(r.per_second["t"])
        inputs = episode_inputs(r.features, r.per_second, r.video.duration)
        op = truth.get("opening")
        examples.append(
            Example(
                id=truth["id"],
                show=truth["show"],
                inputs=inputs,
                targets=targets_from_truth(truth, n),
                op_end=op["end"] if op and op["end"] <= 200 else None,
                duration=r.video.duration,
                cut_times=np.array([s.start_time for s in r.shots[1:]]) if r.shots else np.zeros(0),
            )
        )
    return examples


# How many seconds before a competition clip's OP end (after its ED start) are taken to be inside
# the opening (ending): every opening and ending is longer than this, and nothing earlier
# (later) is known, since the format gives one time per clip.
COMPETITION_INSIDE_S = 20


def competition_targets(kind: str, t: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets and known-mask (both (n, C)) of one competition clip of n seconds.

    kind "start": the first seconds of an episode, the opening ends at t -> seconds [t-20, t) are
    opening, [t, n) are not; no ending in a start clip. kind "end": the last seconds of an
    episode, the ending starts at t -> [t, t+20) are ending, [0, t) are not; no opening in an end
    clip. Cold opens and previews are unknown in this format and masked out."""
    targets = np.zeros((n, len(CLASSES)), np.float32)
    known = np.zeros((n, len(CLASSES)), np.float32)
    op, ed = CLASSES.index("opening"), CLASSES.index("ending")
    inside = _per_second_labels([(max(0.0, t - COMPETITION_INSIDE_S), t)] if kind == "start" else [(t, t + COMPETITION_INSIDE_S)], n, n)
    if kind == "start":
        targets[:, op] = inside
        known[int(max(0.0, math.floor(t - COMPETITION_INSIDE_S))):, op] = 1
        known[:, ed] = 1
    elif kind == "end":
        targets[:, ed] = inside
        known[: min(n, int(math.ceil(t + COMPETITION_INSIDE_S))), ed] = 1
        known[:, op] = 1
    else:
        raise ValueError(f"kind must be 'start' or 'end', got {kind!r}")
    return targets, known


def is_competition_folder(folder: Path) -> bool:
    return (folder / "start_labels.txt").exists() or (folder / "end_labels.txt").exists()


def load_competition_examples(folder: Path, options, progress=print) -> list[Example]:
    """Examples from the source competition's format: `<id>_start.<ext>` / `<id>_end.<ext>` clips
    and `start_labels.txt` (`<id>_start <OP end s>`) / `end_labels.txt` (`<id>_end <ED start s>`)."""
    from .errors import OptionsError
    from .evaluate import read_labels
    from .pipeline import analyze
    from .season import VIDEO_SUFFIXES

    folder = Path(folder)
    items = []
    for kind in ("start", "end"):
        path = folder / f"{kind}_labels.txt"
        if path.exists():
            items += [(name, kind, t) for name, t in read_labels(path).items()]
    videos = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES}
    missing = [name for name, _, _ in items if name not in videos]
    if missing:
        raise OptionsError(f"{len(missing)} labelled clip(s) have no video in {folder}: {', '.join(missing[:5])}")
    examples = []
    for i, (name, kind, t) in enumerate(items):
        t0 = time.perf_counter()
        r = analyze(videos[name], options)
        progress(f"[{i + 1}/{len(items)}] {name}: features ready in {time.perf_counter() - t0:.1f} s")
        n = len(r.per_second["t"])
        targets, known = competition_targets(kind, t, n)
        episode = name.rsplit("_", 1)[0]
        examples.append(Example(
            id=name, show=episode, inputs=episode_inputs(r.features, r.per_second, r.video.duration), targets=targets,
            op_end=t if kind == "start" else None, duration=r.video.duration,
            cut_times=np.array([s.start_time for s in r.shots[1:]]) if r.shots else np.zeros(0), known=known))
    return examples


def _batch(examples: list[Example], length: int, rng: np.random.Generator, clip_len: int):
    """Random windows of `length` seconds (whole episodes when shorter, zero-padded); a share of
    windows are the first `clip_len` seconds so the clip regression head learns the OP end."""
    mf, em, ma, de, tg, kn, reg_t, reg_on = [], [], [], [], [], [], [], []
    # The windows of one batch share a length: a clip batch (the first clip_len seconds, where the
    # regression head learns the OP end) or a batch of random windows.
    longest = max(ex.inputs.steps for ex in examples)
    clip_batch = bool(clip_len) and longest >= clip_len and rng.random() < 0.3
    # Windows never longer than the longest example: short clips are not padded to `length`.
    L = clip_len if clip_batch else min(length, longest)
    for ex in examples:
        T = ex.inputs.steps
        use_clip = clip_batch and ex.op_end is not None and T >= clip_len
        if use_clip:
            a = 0
        else:
            a = int(rng.integers(0, max(1, T - L + 1)))
        b = min(T, a + L)
        w = ex.inputs.window(a, b)
        pad = L - (b - a)
        mf.append(np.pad(w.mfcc, ((0, 0), (0, pad * 100))))
        em.append(np.pad(w.embedding, ((0, pad), (0, 0))))
        ma.append(np.pad(w.mask, ((0, pad), (0, 0), (0, 0))))
        de.append(np.pad(w.desc, ((0, pad), (0, 0))))
        tg.append(np.pad(ex.targets[a:b], ((0, pad), (0, 0))))
        # Padding is never known; unlabelled seconds of competition clips neither.
        known = ex.known[a:b] if ex.known is not None else np.ones_like(ex.targets[a:b])
        kn.append(np.pad(known, ((0, pad), (0, 0))))
        reg_t.append(ex.op_end if use_clip else 0.0)
        reg_on.append(1.0 if use_clip else 0.0)
    return [torch.from_numpy(np.stack(x)) for x in (mf, em, ma, de, tg, kn)], torch.tensor(reg_t), torch.tensor(reg_on)


def train_checkpoint(train: list[Example], val: list[Example], variant: str, seed: int, epochs: int = 40,
                     window: int = 360, batch: int = 6, lr: float = 3e-4, device: str = "cpu", log=print,
                     min_steps_per_epoch: int = 8, **model_kwargs) -> tuple[AVTNet, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = AVTNet(variant=variant, **model_kwargs).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(min_steps_per_epoch, math.ceil(len(train) / batch))
    total = epochs * steps_per_epoch
    warm = 5 * steps_per_epoch
    # Cosine schedule with 5 warm-up epochs, as the source system trains.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    tg_all = np.concatenate([e.targets for e in train])
    kn_all = np.concatenate([e.known if e.known is not None else np.ones_like(e.targets) for e in train])
    pos = (tg_all * kn_all).sum(0) / np.maximum(kn_all.sum(0), 1)
    pos_weight = torch.tensor(np.clip((1 - pos) / np.maximum(pos, 1e-3), 1, 20) ** 0.5, dtype=torch.float32, device=device)
    best, best_state, history = -1.0, None, []
    for ep in range(epochs):
        model.train()
        losses = []
        for k in range(steps_per_epoch):
            items = [train[i] for i in rng.choice(len(train), size=min(batch, len(train)), replace=False)]
            if not items:
                continue
            # One window length per batch: either all clip windows or all random windows.
            (mf, em, ma, de, tg, known), reg_t, reg_on = _batch(items, window, rng, model.clip_len)
            out = model(mf.to(device), em.to(device), ma.to(device), de.to(device))
            logits = out["logits"]
            known = known.to(device)
            bce = F.binary_cross_entropy_with_logits(logits, tg.to(device), pos_weight=pos_weight, reduction="none")
            loss = (bce * known).sum() / known.sum().clamp(min=1.0)
            if "time" in out and reg_on.sum() > 0:
                on = reg_on.to(device)
                reg = F.smooth_l1_loss(out["time"], reg_t.to(device), reduction="none")
                if "coarse" in out:
                    reg = reg + F.l1_loss(out["coarse"], reg_t.to(device), reduction="none")
                loss = loss + 0.05 * (reg * on).sum() / on.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
        metrics = evaluate_examples(model, val, device) if val else {}
        score = metrics.get("f1_mean", -float(np.mean(losses)))
        history.append({"epoch": ep, "loss": float(np.mean(losses)), **metrics})
        log(f"  {variant} seed {seed} epoch {ep + 1}/{epochs}: loss {np.mean(losses):.4f} " + " ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        if score >= best:
            best, best_state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, {"history": history, "best_val": best}


@torch.inference_mode()
def evaluate_examples(model: AVTNet, examples: list[Example], device: str = "cpu") -> dict:
    from .oped_model import predict_per_second

    tp = np.zeros(2)
    fp = np.zeros(2)
    fn = np.zeros(2)
    for ex in examples:
        p = predict_per_second(model, ex.inputs, device)[:, :2] >= 0.5
        t = ex.targets[:, :2] >= 0.5
        k = (ex.known[:, :2] > 0) if ex.known is not None else np.ones_like(t)
        tp += (p & t & k).sum(0)
        fp += (p & ~t & k).sum(0)
        fn += (~p & t & k).sum(0)
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return {"f1_op": float(f1[0]), "f1_ed": float(f1[1]), "f1_mean": float(f1.mean())}


MODEL_CARD = """---
library_name: vpos
license: mit
tags: [video, anime, opening-ending-detection, audio-visual, pytorch_model_hub_mixin]
---
# vpos opening/ending checkpoint: {name}

AVTNet-family model ({variant}) of [vpos](https://github.com/) that gives, for every second of an
episode, the probability that it belongs to the opening, the ending, a cold open or a preview, and
(on 200-s start clips) regresses where the opening ends.

- Inputs (per second, from vpos's one-pass extraction): {inputs}.
- Training data: vpos corpus episodes (procedurally rendered, exact ground truth) of the shows
  {train_shows}; validation shows {val_shows}. Never trained on the test shows.
- Per-second F1 (opening / ending), {f1_where}: {f1_op:.3f} / {f1_ed:.3f}.
- Intended use: skip-intro/credits markers, chapters. Part of a fused set of checkpoints (see
  fusion.json beside it); fused results are what vpos reports.
- Limits: trained on rendered episodes; real broadcasts differ (see the README's accuracy table for
  held-out figures). Season mode (repetition across episodes) corrects many single-episode errors.
"""


def card_inputs(model: AVTNet) -> str:
    parts = []
    if model.use_audio:
        parts.append("MFCC (20 coefficients, 100 frames/s)")
    if model.use_video:
        parts.append("EfficientNet-Lite0 ImageNet embeddings (1280)")
    if model.use_text:
        parts.append("easyocr text-box masks (27x36)")
    parts.append("audio/text descriptors and position in the episode")
    return ", ".join(parts)


def main_train(args) -> int:
    from .pipeline import AnalysisOptions

    corpus = Path(args.corpus)
    inputs = tuple(x.strip() for x in getattr(args, "inputs", "visual,audio").split(",") if x.strip())
    bad = set(inputs) - {"visual", "audio", "text"}
    if bad or not inputs:
        raise SystemExit(f"--inputs takes visual, audio and text, got {','.join(inputs) or 'nothing'}")
    # The model needs no shot cuts, so training features skip TransNetV2 (the slowest extractor).
    options = AnalysisOptions(device=args.device, cache_dir=args.cache_dir, extractors=inputs, oped=False)
    model_kwargs = {"use_text": "text" in inputs, "use_video": "visual" in inputs, "use_audio": "audio" in inputs}
    if is_competition_folder(corpus):
        # The competition format has no shows: hold out whole episodes (both clips of one id).
        all_ex = load_competition_examples(corpus, options)
        episodes = sorted({e.show for e in all_ex})
        n_val = int(round(len(episodes) * args.val_fraction)) if len(episodes) > 2 else 0
        val_eps = set(np.random.default_rng(args.seed).permutation(episodes)[:n_val].tolist())
        train = [e for e in all_ex if e.show not in val_eps]
        val = [e for e in all_ex if e.show in val_eps]
        train_desc, val_desc = f"competition clips of {len(episodes) - n_val} episodes in {corpus}", f"{n_val} held-out episodes"
    else:
        split_path = corpus / "split.json"
        split = json.loads(split_path.read_text()) if split_path.exists() else {}
        train_shows = set(split.get("train", [])) or None
        val_shows = set(split.get("val", []))
        test_shows = set(split.get("test", []))
        all_ex = load_corpus_examples(corpus, None, options)
        train = [e for e in all_ex if (train_shows is None or e.show in train_shows) and e.show not in test_shows and e.show not in val_shows]
        val = [e for e in all_ex if e.show in val_shows]
        train_desc, val_desc = ", ".join(sorted({e.show for e in train})), ", ".join(sorted(val_shows)) or "none"
    if not train:
        raise SystemExit(f"no training examples found in {corpus} (a vpos corpus with split.json, "
                         "or a competition folder with start_labels.txt / end_labels.txt and the clips)")
    print(f"training on {len(train)} examples ({train_desc}), validating on {len(val)} ({val_desc})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    names, reports = [], {}
    plan = [(v, s) for v, s in zip(args.variants.split(","), range(len(args.variants.split(","))))]
    for variant, seed in plan:
        name = f"{variant}-s{seed}"
        t0 = time.perf_counter()
        model, rep = train_checkpoint(train, val, variant, seed + args.seed, epochs=args.epochs, device=device, **model_kwargs)
        rep["seconds"] = time.perf_counter() - t0
        model = model.cpu()
        model.save_pretrained(out / name)
        last = rep["history"][-1] if rep["history"] else {}
        best_f1 = max(rep["history"], key=lambda h: h.get("f1_mean", 0)) if rep["history"] else {}
        (out / name / "README.md").write_text(MODEL_CARD.format(
            name=name, variant=variant, train_shows=train_desc, val_shows=val_desc,
            f1_op=best_f1.get("f1_op", float("nan")), f1_ed=best_f1.get("f1_ed", float("nan")),
            inputs=card_inputs(model), f1_where="validation data" if val else "no validation data (training loss only)"))
        names.append(name)
        reports[name] = {"best_val": rep["best_val"], "seconds": rep["seconds"], "last": last}
        print(f"saved {out / name} ({rep['seconds']:.0f} s)")
    (out / "fusion.json").write_text(json.dumps({"checkpoints": names, "fusion": "kmeans2-larger-cluster", "training": reports,
                                                  "train": train_desc, "val": val_desc, "inputs": list(inputs)}, indent=1))
    print(f"wrote {out / 'fusion.json'}")
    return 0
