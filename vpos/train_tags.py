"""Training and evaluation of the tagger (vpos/tagger.py).

Episodes are read as cached features (vpos/cache.py; nothing is re-extracted unless asked) plus
per-second targets. Two label sources:
- the corpus builder's truth documents (default vocabulary, `labels_from_truth`);
- the source system's list format `file \\t title \\t label1,label2` (video-level labels; every
  second of a video gets its video's labels as weak targets and video scores are pooled).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .tagger import PICTURE_DIM, TEXT_SUMMARIES, TagInputs, TaggerNet, chunk_tensors, predict_per_second, tag_inputs

# Features a tagger trained on a list reads (picture: the cheap picture statistics, see
# vpos/extractors/picture.py).
LIST_EXTRACTORS = ("visual", "audio", "text", "picture")


@dataclass
class Episode:
    name: str
    group: str  # show (split key)
    inputs: TagInputs
    targets: np.ndarray  # (T, L)
    title: str = ""

    def save(self, path) -> None:
        np.savez_compressed(
            path, visual=self.inputs.visual.astype(np.float16), audio=self.inputs.audio, text=self.inputs.text.astype(np.float16),
            sentence=self.inputs.sentence, targets=self.targets, meta=json.dumps({"name": self.name, "group": self.group, "title": self.title}),
            **({"descriptors": self.inputs.descriptors} if self.inputs.descriptors is not None else {}),
        )

    @staticmethod
    def load(path) -> "Episode":
        with np.load(path, allow_pickle=False) as d:
            meta = json.loads(str(d["meta"]))
            desc = d["descriptors"].astype(np.float32) if "descriptors" in d.files else None
            inp = TagInputs(d["visual"].astype(np.float32), d["audio"].astype(np.float32), d["text"].astype(np.float32),
                            d["sentence"].astype(np.float32), desc)
            return Episode(meta["name"], meta["group"], inp, d["targets"].astype(np.float32), meta.get("title", ""))


def video_features(video, cache_dir=None, extractors=LIST_EXTRACTORS, extract_missing: bool = False):
    """(features, n_samples) of one video: cached entries only unless `extract_missing`."""
    from .cache import FeatureCache, content_hash
    from .media import probe
    from .pipeline import AnalysisOptions, build_extractor, extract_features

    opts = AnalysisOptions(cache_dir=cache_dir, extractors=tuple(extractors), oped=False)
    info = probe(video, opts.limits)
    h = content_hash(video)
    if extract_missing:
        feats, _, _, _ = extract_features(info, h, opts)
    else:
        cache = FeatureCache(cache_dir)
        feats = {}
        for name in extractors:
            e = build_extractor(name, opts)
            fs = cache.get(h, dict(e.cache_key_parts(), sample_rate=opts.sample_rate))
            if fs is not None:
                feats[name] = fs
    any_fs = next(iter(feats.values()), None)
    n = int(any_fs.meta.get("n_samples", 0)) if any_fs else 0
    return feats, n


def train(
    train_eps: list[Episode],
    labels: list[str],
    *,
    epochs: int = 12,
    batch: int = 16,
    chunk: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    max_seconds: float = 600.0,
    log=print,
    **model_kwargs,
) -> TaggerNet:
    """Random `chunk`-second crops of the training episodes; every second of a crop is a target.
    An epoch is as many crops as it takes to cover the training seconds twice."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model_kwargs.setdefault("picture_dim", PICTURE_DIM)  # every descriptor this vpos computes
    model_kwargs.setdefault("text_summaries", TEXT_SUMMARIES)
    if model_kwargs.get("descriptors") and model_kwargs["picture_dim"] == PICTURE_DIM:
        model_kwargs.setdefault("align_visual", True)
    model = TaggerNet(labels=labels, **model_kwargs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    lengths = np.array([ep.inputs.steps for ep in train_eps])
    # Rare labels (eyecatch, sponsor, title cards) get a positive weight so they are not ignored.
    y_all = np.concatenate([ep.targets for ep in train_eps])
    pos = y_all.mean(0).clip(1e-4, 1)
    pos_weight = torch.from_numpy(np.clip(np.sqrt((1 - pos) / pos), 1, 20).astype(np.float32))
    steps_per_epoch = max(1, int(np.ceil(2 * lengths.sum() / (batch * chunk))))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for s in range(steps_per_epoch):
            eps_i = rng.choice(len(train_eps), batch, p=lengths / lengths.sum())
            c = int(min(chunk, lengths[eps_i].min()))
            parts, ys = [], []
            for i in eps_i:
                a = int(rng.integers(0, lengths[i] - c + 1))
                parts.append(chunk_tensors(train_eps[i].inputs, a, a + c))
                ys.append(torch.from_numpy(train_eps[i].targets[a : a + c]))
            xs = [torch.cat([p[j] for p in parts]) for j in range(len(parts[0]))]
            loss = F.binary_cross_entropy_with_logits(model(*xs), torch.stack(ys), pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
            if time.perf_counter() - t0 > max_seconds:
                break
        log(f"epoch {epoch + 1}/{epochs} loss {total / max(1, s + 1):.4f} ({time.perf_counter() - t0:.0f}s)")
        if time.perf_counter() - t0 > max_seconds:
            log("time budget reached")
            break
    model.eval()
    return model


def predict_all(model: TaggerNet, eps: list[Episode]) -> tuple[np.ndarray, np.ndarray]:
    probs = np.concatenate([predict_per_second(model, ep.inputs) for ep in eps])
    ys = np.concatenate([ep.targets for ep in eps])
    return probs, ys


def choose_thresholds(probs: np.ndarray, ys: np.ndarray, lo: float = 0.3, hi: float = 0.7) -> list[float]:
    """Per label: the threshold with the best F1 on validation seconds (0.5 when no positives),
    kept within [lo, hi]: validation episodes of the training shows are easier than a new show,
    and their best thresholds sat at the extremes (0.95 for credits_scroll at first)."""
    out = []
    for j in range(ys.shape[1]):
        if ys[:, j].sum() == 0:
            out.append(0.5)
            continue
        best, best_t = -1.0, 0.5
        for t in np.linspace(0.05, 0.95, 37):
            f = prf(probs[:, j] >= t, ys[:, j] > 0.5)[2]
            if f > best:
                best, best_t = f, float(t)
        out.append(round(min(hi, max(lo, best_t)), 3))
    return out


def prf(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & truth).sum())
    p = tp / max(1.0, float(pred.sum()))
    r = tp / max(1.0, float(truth.sum()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def per_label_report(labels, thresholds, probs, ys) -> dict:
    """Per label: precision/recall/F1 at its threshold, and the average precision of the ranking
    (threshold-free: tells a ranking failure from a badly placed threshold)."""
    from sklearn.metrics import average_precision_score

    out = {}
    for j, lab in enumerate(labels):
        truth = ys[:, j] > 0.5
        p, r, f = prf(probs[:, j] >= thresholds[j], truth)
        ap = float(average_precision_score(truth, probs[:, j])) if truth.any() else 0.0
        out[lab] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "ap": round(ap, 4), "positives": int(truth.sum())}
    scored = [v["f1"] for v in out.values() if v["positives"] > 0]
    out["_macro_f1"] = round(float(np.mean(scored)), 4) if scored else 0.0
    return out


# --------------------------------------------------------------------------------------------
# the source system's list format: file \t title \t label1,label2
# --------------------------------------------------------------------------------------------

@dataclass
class ListItem:
    file: str
    title: str
    labels: list[str] = field(default_factory=list)


def read_list(path) -> list[ListItem]:
    """Lines `file \\t title \\t label1,label2` (relative files resolve against the list's folder;
    blank lines and lines starting with # are skipped)."""
    from .errors import VposError

    root = Path(path).resolve().parent
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise VposError(f"cannot read the list {path}: {e}") from None
    for i, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise VposError(f"{path}:{i}: expected 'file<TAB>title<TAB>label1,label2', got {line!r}")
        f = Path(parts[0])
        f = f if f.is_absolute() else root / f
        labels = [x.strip() for x in parts[2].split(",") if x.strip()] if len(parts) > 2 else []
        items.append(ListItem(str(f), parts[1].strip(), labels))
    if not items:
        raise VposError(f"{path} lists no videos")
    return items


def list_episodes(items: list[ListItem], labels: list[str], cache_dir=None, use_sentence: bool = True, log=print,
                  extractors=LIST_EXTRACTORS) -> list[Episode]:
    """Features of every listed video (from the cache; extracted once when missing) with its
    video labels as the target of each of its seconds."""
    from .errors import VposError
    from .tags import sentence_embedding

    eps = []
    sents = sentence_embedding([it.title for it in items]) if use_sentence else None
    for k, it in enumerate(items):
        if not Path(it.file).exists():
            raise VposError(f"listed video not found: {it.file}")
        feats, n = video_features(it.file, cache_dir, extractors=extractors, extract_missing=True)
        y = np.zeros((n, len(labels)), np.float32)
        for lab in it.labels:
            if lab in labels:
                y[:, labels.index(lab)] = 1.0
        sent = sents[k] if sents is not None else None
        eps.append(Episode(Path(it.file).stem, "", tag_inputs(feats, n, sent), y, it.title))
        log(f"features: {it.file} ({n} s)")
    return eps


def video_scores(model: TaggerNet, ep: Episode) -> np.ndarray:
    """A video's label scores: the mean of its per-second probabilities."""
    p = predict_per_second(model, ep.inputs)
    return p.mean(0) if len(p) else np.zeros(len(model.labels), np.float32)


def video_metrics(labels: list[str], thresholds: list[float], scores: np.ndarray, truth: np.ndarray, top_k: int = 20) -> dict:
    """Hit@1, Hit@2 (the top-k predicted label is among the video's labels), GAP@20 and per-label
    precision/recall at the thresholds, over videos (rows)."""
    from .evaluate import gap

    order = np.argsort(-scores, 1)
    hit1 = float(np.mean([truth[i, order[i, 0]] > 0 for i in range(len(scores))])) if len(scores) else 0.0
    hit2 = float(np.mean([truth[i, order[i, :2]].max() > 0 for i in range(len(scores))])) if len(scores) else 0.0
    items = [(float(scores[i, j]), int(truth[i, j] > 0)) for i in range(len(scores)) for j in order[i, :top_k]]
    out = {"videos": int(len(scores)), "hit@1": round(hit1, 4), "hit@2": round(hit2, 4), f"gap@{top_k}": round(gap(items, int((truth > 0).sum())), 4), "labels": {}}
    for j, lab in enumerate(labels):
        p, r, f = prf(scores[:, j] >= thresholds[j], truth[:, j] > 0)
        out["labels"][lab] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "videos": int((truth[:, j] > 0).sum())}
    return out


def train_from_list(list_path, out, val_list=None, val_fraction: float = 0.2, epochs: int = 10, cache_dir=None,
                    pooling: str = "text_guided", window: int = 11, seed: int = 0, max_seconds: float = 600.0, log=print,
                    extractors=LIST_EXTRACTORS) -> dict:
    """One command: train a tagger on a user's list, pick thresholds on validation videos, save it."""
    items = read_list(list_path)
    labels = sorted({lab for it in items for lab in it.labels})
    if not labels:
        from .errors import VposError

        raise VposError(f"{list_path}: no labels in the third column")
    eps = list_episodes(items, labels, cache_dir, log=log, extractors=extractors)
    if val_list:
        val_eps = list_episodes(read_list(val_list), labels, cache_dir, log=log, extractors=extractors)
        train_eps = eps
    else:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(eps))
        n_val = int(round(len(eps) * val_fraction)) if len(eps) >= 3 else 0
        val_eps = [eps[i] for i in perm[:n_val]]
        train_eps = [eps[i] for i in perm[n_val:]]
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model = train(train_eps, labels, epochs=epochs, seed=seed, max_seconds=max_seconds, log=log, pooling=pooling, window=window,
                  descriptors="picture" in extractors)
    report = {}
    if val_eps:
        scores = np.stack([video_scores(model, e) for e in val_eps])
        truth = np.stack([e.targets[0] if len(e.targets) else np.zeros(len(labels)) for e in val_eps])
        model.thresholds = choose_thresholds(scores, truth)
        report = video_metrics(labels, model.thresholds, scores, truth)
    model._hub_mixin_config["thresholds"] = list(model.thresholds)
    Path(out).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    (Path(out) / "README.md").write_text(
        f"# vpos tagger trained on {Path(list_path).name}\n\nLabels: {', '.join(labels)}\n\n"
        f"Training videos: {len(train_eps)}; validation videos: {len(val_eps)}\n\n"
        f"Validation (video level): {json.dumps({k: v for k, v in report.items() if k != 'labels'})}\n\n"
        "Trained with `python -m vpos tags train`.\n")
    return report


def eval_list(list_path, tagger=None, cache_dir=None, log=print, extractors=LIST_EXTRACTORS) -> dict:
    from .tags import load_tagger

    model = load_tagger(tagger)
    items = read_list(list_path)
    eps = list_episodes(items, model.labels, cache_dir, use_sentence=model.use_sentence, log=log, extractors=extractors)
    scores = np.stack([video_scores(model, e) for e in eps])
    truth = np.zeros_like(scores)
    for i, it in enumerate(items):
        for lab in it.labels:
            if lab in model.labels:
                truth[i, model.labels.index(lab)] = 1
    return video_metrics(model.labels, model.thresholds, scores, truth)

